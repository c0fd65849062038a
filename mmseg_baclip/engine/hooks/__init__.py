from .weights_only_checkpoint_hook import (WeightsOnlyCheckpointHook, from_weights_only,
                                           to_weights_only)

__all__ = ['WeightsOnlyCheckpointHook', 'from_weights_only', 'to_weights_only']
