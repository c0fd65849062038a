"""Boundary-weighted BCE + soft Dice for binary masks, computed in float32."""
from typing import Optional

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class WeightedBCEDiceLoss(nn.Module):
    """``L = w_bce * wBCE + w_dice * Dice`` on single-channel mask logits.

    wBCE uses OVCoser's structure weights ``w = 1 + boundary_weight * |avgpool_k(m) - m|``
    (k = 31), which emphasise pixels near the object boundary; Dice is the soft Dice
    ``1 - (2*sum(p*g) + s) / (sum(p) + sum(g) + s)`` on sigmoid probabilities. Both are
    computed per image and averaged, in float32 even under autocast [inferred: the paper says
    "weighted BCE + Dice" only].

    Args:
        bce_weight (float): Default: 1.
        dice_weight (float): Default: 1.
        boundary_kernel (int): Pooling window of the weights (odd). Default: 31.
        boundary_weight (float): Default: 5.
        smooth (float): Dice smoothing. Default: 1.
        ignore_index (int): Label ignored in the target (padding). Default: 255.
        loss_name (str): Key of the loss in the log. Default: ``'loss_seg'``.
    """

    def __init__(self, bce_weight: float = 1.0, dice_weight: float = 1.0,
                 boundary_kernel: int = 31, boundary_weight: float = 5.0, smooth: float = 1.0,
                 ignore_index: int = 255, loss_name: str = 'loss_seg'):
        super().__init__()
        if boundary_kernel % 2 != 1:
            raise ValueError(f'boundary_kernel must be odd, got {boundary_kernel}')
        self.bce_weight = bce_weight
        self.dice_weight = dice_weight
        self.boundary_kernel = boundary_kernel
        self.boundary_weight = boundary_weight
        self.smooth = smooth
        self.ignore_index = ignore_index
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, logits: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                **kwargs) -> Tensor:
        """Args:
            logits (Tensor): B x 1 x H x W mask logits.
            target (Tensor): B x 1 x H x W (or B x H x W) labels in {0, 1, ignore_index}.

        Returns:
            Tensor: Scalar loss, float32.
        """
        if target.dim() == 3:
            target = target.unsqueeze(1)
        if logits.shape[-2:] != target.shape[-2:] or logits.shape[1] != 1:
            raise ValueError(f'logits {tuple(logits.shape)} and target {tuple(target.shape)} must '
                             'both be B x 1 x H x W')
        with torch.autocast(device_type=logits.device.type, enabled=False):
            logits = logits.float()
            valid = (target != self.ignore_index).float()
            gt = (target == 1).float()
            pad = self.boundary_kernel // 2
            w = 1 + self.boundary_weight * torch.abs(
                F.avg_pool2d(gt, self.boundary_kernel, stride=1, padding=pad) - gt)
            w = w * valid
            bce = F.binary_cross_entropy_with_logits(logits, gt, reduction='none')
            wbce = (w * bce).sum(dim=(2, 3)) / w.sum(dim=(2, 3)).clamp_min(1e-6)
            prob = torch.sigmoid(logits) * valid
            inter = (prob * gt).sum(dim=(2, 3))
            dice = 1 - (2 * inter + self.smooth) / (
                prob.sum(dim=(2, 3)) + (gt * valid).sum(dim=(2, 3)) + self.smooth)
            return (self.bce_weight * wbce + self.dice_weight * dice).mean()
