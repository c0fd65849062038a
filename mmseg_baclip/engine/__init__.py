from .checkpoint_loading import UnsafeCheckpointError, checkpoint_loading, load_checkpoint_file
from .hooks import (CheckpointMismatchError, NonFiniteLossError, NonFiniteLossHook, RNGStateHook,
                    StrictCheckpointHook, WeightsOnlyCheckpointHook)
from .optim_constructor import TrainableOnlyOptimWrapperConstructor
from .runtime import REQUIRED_HOOKS, add_required_hooks, setup_cpu_distributed

__all__ = [
    'CheckpointMismatchError', 'NonFiniteLossError', 'NonFiniteLossHook', 'REQUIRED_HOOKS',
    'RNGStateHook', 'StrictCheckpointHook', 'TrainableOnlyOptimWrapperConstructor',
    'UnsafeCheckpointError', 'WeightsOnlyCheckpointHook', 'add_required_hooks',
    'checkpoint_loading', 'load_checkpoint_file', 'setup_cpu_distributed'
]
