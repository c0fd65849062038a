from .atomic_checkpoint_hook import AtomicCheckpointHook
from .non_finite_loss_hook import NonFiniteLossError, NonFiniteLossHook
from .rank_zero_logger_hook import RankZeroLoggerHook
from .rng_state_hook import RNGStateHook, get_rng_state, set_rng_state

__all__ = [
    'AtomicCheckpointHook', 'NonFiniteLossError', 'NonFiniteLossHook', 'RNGStateHook',
    'RankZeroLoggerHook', 'get_rng_state', 'set_rng_state'
]
