from .hooks import WeightsOnlyCheckpointHook
from .optim_constructor import TrainableOnlyOptimWrapperConstructor

__all__ = ['TrainableOnlyOptimWrapperConstructor', 'WeightsOnlyCheckpointHook']
