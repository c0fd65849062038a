"""Shared loss logic of BaCLIP's binary mask heads."""
from typing import Dict, List

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch import Tensor


class BinaryMaskHead(BaseModule):
    """Base class: ``forward(visual, text) -> B x 1 x h x w`` logits, and a float32 loss.

    Args:
        loss_decode (dict | list[dict]): Loss configs; each gets (logits, target).
        init_cfg (dict, optional): Init config.
    """

    threshold = 0.5  # on sigmoid probabilities; mmseg's convention for 1-channel heads

    def __init__(self, loss_decode=dict(type='WeightedBCEDiceLoss'), init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        cfgs = loss_decode if isinstance(loss_decode, (list, tuple)) else [loss_decode]
        self.losses = torch.nn.ModuleList(MODELS.build(cfg) for cfg in cfgs)

    def loss_by_feat(self, mask_logits: Tensor, data_samples: List[SegDataSample]
                     ) -> Dict[str, Tensor]:
        """Losses at the label resolution.

        Args:
            mask_logits (Tensor): B x 1 x h x w.
            data_samples (list[SegDataSample]): With ``gt_sem_seg`` 1 x H x W in {0, 1, 255}.

        Returns:
            dict[str, Tensor]: One float32 loss per configured loss.
        """
        shapes = {tuple(s.gt_sem_seg.data.shape) for s in data_samples}
        if len(shapes) > 1:
            raise ValueError('Ground-truth masks of one batch differ in size: ' + ', '.join(
                f'{s.metainfo.get("seg_map_path", "?")}: {tuple(s.gt_sem_seg.data.shape)}'
                for s in data_samples) + '; resize them in the pipeline (e.g. Resize).')
        target = torch.stack([s.gt_sem_seg.data for s in data_samples])  # B x 1 x H x W
        logits = F.interpolate(mask_logits.float(), size=target.shape[-2:], mode='bilinear',
                               align_corners=False)
        losses = {}
        for loss in self.losses:
            name = loss.loss_name
            value = loss(logits, target)
            losses[name] = losses[name] + value if name in losses else value
        return losses
