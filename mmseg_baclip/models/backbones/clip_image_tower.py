"""Shared base of the frozen open_clip image towers used as mmseg backbones."""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from open_clip.model import _build_vision_tower, resize_pos_embed
from torch import Tensor

from ..utils.frozen_file_weights import FrozenFileWeightsMixin
from ..utils.open_clip_utils import (freeze, get_clip_config, load_clip_state_dict,
                                     load_weights_strict, warn_random_weights)


def bilinear_adjoint_weights(mask: Tensor, size: Tuple[int, int]) -> Tensor:
    """Pull a full-resolution map back onto a coarse grid through bilinear upsampling.

    For a coarse map ``F`` (h x w) and a fine mask ``p`` (H x W),
    ``sum(p * upsample(F)) == sum(F * bilinear_adjoint_weights(p, (h, w)))`` exactly, where
    ``upsample`` is ``F.interpolate(mode='bilinear', align_corners=False)``. This makes mask
    pooling of a 12x12 feature map cost two small matmuls instead of upsampling C channels to
    384x384.

    Args:
        mask (Tensor): B x 1 x H x W (or B x H x W) weights.
        size (tuple[int, int]): The coarse (h, w).

    Returns:
        Tensor: B x h x w.
    """
    if mask.dim() == 4:
        mask = mask[:, 0]
    h, w = size
    H, W = mask.shape[-2:]
    eye_h = torch.eye(h, dtype=mask.dtype, device=mask.device)[None]  # 1 x h x h
    eye_w = torch.eye(w, dtype=mask.dtype, device=mask.device)[None]
    # rows_t[k, y]: weight of coarse row k in fine row y (1-D linear = separable bilinear).
    rows_t = F.interpolate(eye_h, size=H, mode='linear', align_corners=False)[0]  # h x H
    cols_t = F.interpolate(eye_w, size=W, mode='linear', align_corners=False)[0]  # w x W
    return rows_t @ mask @ cols_t.transpose(0, 1)  # B x h x w


def masked_average(feature: Tensor, mask: Tensor) -> Tensor:
    """Average of a coarse map over a fine soft mask, as if the map were bilinearly upsampled.

    Args:
        feature (Tensor): B x C x h x w.
        mask (Tensor): B x 1 x H x W weights in [0, 1].

    Returns:
        Tensor: B x C.
    """
    mask = mask.to(feature.dtype)
    weights = bilinear_adjoint_weights(mask, feature.shape[-2:])  # B x h x w
    total = mask.flatten(1).sum(1).clamp_min(1e-6)  # B
    return torch.einsum('bchw,bhw->bc', feature, weights) / total[:, None]


class OpenCLIPImageTower(FrozenFileWeightsMixin, BaseModule):
    """A frozen open_clip image tower built from its model config, weights from a local file.

    Subclasses implement ``forward`` (multi-level features) and ``embed_pooled`` (pooled
    features of the last level -> CLIP embedding). A frozen tower with a ``checkpoint`` is left
    out of the checkpoints training writes and read from that file again when one is loaded
    (:class:`~mmseg_baclip.models.utils.frozen_file_weights.FrozenFileWeightsMixin`).

    Args:
        model_name (str): open_clip model name.
        checkpoint (str, optional): Local open_clip checkpoint; its ``visual.*`` keys are loaded
            in :meth:`init_weights`. None keeps random weights (tests, demo) with a warning.
        image_size (int, optional): Override the tower's input size (ViTs: the position
            embedding of the checkpoint is interpolated to it).
        frozen (bool): No gradients, eval mode under ``model.train()``. Default: True.
    """

    def __init__(self, model_name: str, checkpoint: Optional[str] = None,
                 image_size: Optional[int] = None, frozen: bool = True,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        cfg = get_clip_config(model_name)
        vision_cfg = dict(cfg['vision_cfg'])
        if image_size is not None:
            vision_cfg['image_size'] = image_size
        self.model_name = model_name
        self.checkpoint = checkpoint
        self.frozen = frozen
        self.embed_dim = cfg['embed_dim']
        self.vision_cfg = vision_cfg
        self.visual = _build_vision_tower(cfg['embed_dim'], vision_cfg,
                                          quick_gelu=cfg.get('quick_gelu', False))

    def _freeze_if_needed(self) -> None:
        if self.frozen:
            freeze(self)

    def init_weights(self) -> None:
        """Load the ``visual.*`` weights of the local open_clip checkpoint."""
        if self.checkpoint is None:
            warn_random_weights(f'{type(self).__name__}({self.model_name})')
            return
        full = load_clip_state_dict(self.checkpoint, self.model_name)
        resize_pos_embed(full, self)  # no-op unless a ViT runs at another input size
        visual = {k[len('visual.'):]: v for k, v in full.items() if k.startswith('visual.')}
        if not visual:
            raise RuntimeError(f'{self.checkpoint!r} has no "visual.*" keys: not an open_clip '
                               f'CLIP checkpoint.')
        load_weights_strict(self.visual, visual, f'{self.checkpoint} (visual.*)')
        self.mark_frozen_weights_loaded(self.checkpoint)

    def frozen_weight_file(self) -> Optional[str]:
        """The open_clip checkpoint when the tower is frozen (a trained tower: None)."""
        return self.checkpoint if self.frozen else None

    def frozen_state_keys(self) -> List[str]:
        """Every key of the tower (``visual.*``), all read from the open_clip file."""
        return list(BaseModule.state_dict(self)) if self.frozen else []

    def load_frozen_weights(self) -> None:
        self.init_weights()

    def train(self, mode: bool = True):
        """Keep the frozen tower in eval mode whatever ``mode`` is."""
        return super().train(mode and not self.frozen)

    def embed_pooled(self, pooled: Tensor) -> Tensor:
        raise NotImplementedError

    def masked_embedding(self, last_feature: Tensor, mask: Tensor) -> Tensor:
        """CLIP embedding of the region a soft mask selects (OVCoser's masked pooling).

        Equivalent to bilinearly upsampling ``last_feature`` to the mask size and averaging it
        with the mask as weights, without materialising the upsampled map.

        Args:
            last_feature (Tensor): B x C_last x h x w, the last backbone level.
            mask (Tensor): B x 1 x H x W weights in [0, 1].

        Returns:
            Tensor: B x embed_dim, not normalised.
        """
        return self.embed_pooled(masked_average(last_feature, mask))

    def encode_image(self, x: Tensor) -> Tensor:
        """The CLIP image embedding (equals open_clip's ``encode_image``).

        Args:
            x (Tensor): B x 3 x H x W.

        Returns:
            Tensor: B x embed_dim, not normalised.
        """
        return self.visual(x)
