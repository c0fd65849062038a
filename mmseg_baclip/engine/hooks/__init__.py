from .atomic_checkpoint_hook import AtomicCheckpointHook, CheckpointSaveError
from .frozen_weights_checkpoint_hook import FrozenWeightsCheckpointHook
from .non_finite_loss_hook import NonFiniteLossError, NonFiniteLossHook
from .rank_zero_logger_hook import RankZeroLoggerHook
from .rng_state_hook import RNGStateHook, get_rng_state, set_rng_state
from .strict_checkpoint_hook import (CheckpointMismatchError, StrictCheckpointHook,
                                     compare_state_dicts)
from .weights_only_checkpoint_hook import (WeightsOnlyCheckpointHook, from_weights_only,
                                           to_weights_only)

__all__ = [
    'AtomicCheckpointHook', 'CheckpointSaveError', 'CheckpointMismatchError',
    'FrozenWeightsCheckpointHook',
    'NonFiniteLossError', 'NonFiniteLossHook', 'RNGStateHook', 'RankZeroLoggerHook',
    'StrictCheckpointHook', 'WeightsOnlyCheckpointHook', 'compare_state_dicts',
    'from_weights_only', 'get_rng_state', 'set_rng_state', 'to_weights_only'
]
