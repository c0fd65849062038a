from .checkpoint_files import (BrokenCheckpointError, check_checkpoint_file,
                               checkpoint_file_problem, find_resume_checkpoint)
from .checkpoint_loading import UnsafeCheckpointError, checkpoint_loading, load_checkpoint_file
from .finite_weights import NonFiniteWeightsError, check_finite_weights, non_finite_tensors
from .frozen_weights import (FROZEN_WEIGHTS_KEY, FrozenWeightsMismatchError,
                             frozen_weights_record, restore_frozen_weights, strip_frozen_weights)
from .hooks import (AtomicCheckpointHook, CheckpointMismatchError, CheckpointSaveError,
                    FrozenWeightsCheckpointHook, NonFiniteLossError, NonFiniteLossHook,
                    RNGStateHook, StrictCheckpointHook, WeightsOnlyCheckpointHook)
from .optim_constructor import TrainableOnlyOptimWrapperConstructor
from .runtime import REQUIRED_HOOKS, add_required_hooks, setup_cpu_distributed
from .work_dir_lock import WorkDirLock, WorkDirLockedError

__all__ = [
    'AtomicCheckpointHook', 'BrokenCheckpointError', 'CheckpointSaveError',
    'FROZEN_WEIGHTS_KEY', 'FrozenWeightsCheckpointHook', 'FrozenWeightsMismatchError',
    'frozen_weights_record', 'restore_frozen_weights', 'strip_frozen_weights',
    'NonFiniteWeightsError', 'check_checkpoint_file', 'check_finite_weights',
    'checkpoint_file_problem', 'find_resume_checkpoint', 'non_finite_tensors',
    'CheckpointMismatchError', 'NonFiniteLossError', 'NonFiniteLossHook', 'REQUIRED_HOOKS',
    'RNGStateHook', 'StrictCheckpointHook', 'TrainableOnlyOptimWrapperConstructor',
    'UnsafeCheckpointError', 'WeightsOnlyCheckpointHook', 'add_required_hooks',
    'checkpoint_loading', 'load_checkpoint_file', 'setup_cpu_distributed', 'WorkDirLock',
    'WorkDirLockedError'
]
