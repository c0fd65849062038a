"""Shared loss logic of BaCLIP's binary mask heads."""
from typing import Dict, List

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch import Tensor

from ..utils.baclip_only import check_baclip_only


class BinaryMaskHead(BaseModule):
    """Base class: ``forward(visual, text) -> B x 1 x h x w`` logits, and a float32 loss.

    These heads work only as BaCLIP's ``decode_head``; they are not mmseg ``BaseDecodeHead`` s.
    Built inside a stock mmseg segmentor (e.g. an ``EncoderDecoder``), or with mmseg
    ``BaseDecodeHead`` arguments (``num_classes``, ``channels``...: a stock decode-head config),
    they raise ``TypeError`` at build time with :attr:`baclip_only_reason` in the message
    (:func:`~mmseg_baclip.models.utils.baclip_only.check_baclip_only`). Subclasses pass their
    unknown keyword arguments on (``**kwargs``) for that check.

    Args:
        loss_decode (dict | list[dict]): Loss configs; each gets (logits, target).
        init_cfg (dict, optional): Init config.
        **kwargs: Not accepted (checked as described above).
    """

    threshold = 0.5  # on sigmoid probabilities; mmseg's convention for 1-channel heads

    #: Why the head works only inside BaCLIP (part of the build-time error message).
    baclip_only_reason = ('it is a BaCLIP mask head (forward(visual, text) -> one binary mask per '
                          'image, losses through BaCLIP), not an mmseg BaseDecodeHead: no '
                          'num_classes, BaCLIP takes the class names from its vocabulary')

    def __init__(self, loss_decode=dict(type='WeightedBCEDiceLoss'), init_cfg=None, **kwargs):
        check_baclip_only(self, 'decode_head', self.baclip_only_reason, kwargs)
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
