from .wbce_dice_loss import WeightedBCEDiceLoss

__all__ = ['WeightedBCEDiceLoss']
