"""The frozen image tower of an open_clip ConvNeXt CLIP as an mmseg backbone."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from open_clip.model import _build_vision_tower
from torch import Tensor

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


@MODELS.register_module()
class OpenCLIPConvNeXt(BaseModule):
    """Frozen image tower of an open_clip ConvNeXt CLIP, giving strides 4/8/16/32.

    The tower is built from open_clip's model config (no weights are fetched) and loaded in
    :meth:`init_weights` from a local open_clip checkpoint (the ``visual.*`` keys). It is frozen:
    no parameter requires grad, it stays in eval mode under ``model.train()`` (the paper config's
    drop-path would otherwise be active), and the optimizer constructor skips it.

    Args:
        model_name (str): open_clip ConvNeXt model name. Default: ``'convnext_large_d_320'``
            (ConvNeXt-L, stages 192/384/768/1536, embedding 768).
        checkpoint (str, optional): Local path of the open_clip checkpoint, e.g.
            ``open_clip_pytorch_model.bin`` of the ``laion2b_s29b_b131k_ft_soup`` tag. None keeps
            random weights (tests, the synthetic demo) with a warning.
        out_indices (Sequence[int]): Which stages to return. Default: (0, 1, 2, 3).
        frozen (bool): Freeze the tower. Default: True.
        init_cfg (dict, optional): Unused; weights come from ``checkpoint``.
    """

    def __init__(self,
                 model_name: str = 'convnext_large_d_320',
                 checkpoint: Optional[str] = None,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen: bool = True,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        cfg = get_clip_config(model_name)
        vision_cfg = cfg['vision_cfg']
        if not str(vision_cfg.get('timm_model_name', '')).startswith('convnext'):
            raise ValueError(f'OpenCLIPConvNeXt needs a ConvNeXt CLIP, but {model_name!r} has '
                             f'vision tower {vision_cfg.get("timm_model_name") or "ViT"}.')
        self.model_name = model_name
        self.checkpoint = checkpoint
        self.out_indices = tuple(out_indices)
        self.frozen = frozen
        self.visual = _build_vision_tower(cfg['embed_dim'], vision_cfg,
                                          quick_gelu=cfg.get('quick_gelu', False))
        stage_channels = [info['num_chs'] for info in self.visual.trunk.feature_info][-4:]
        self.stage_channels = tuple(stage_channels)
        self.out_channels = tuple(stage_channels[i] for i in self.out_indices)
        self.embed_dim = cfg['embed_dim']
        if frozen:
            freeze(self)

    def init_weights(self) -> None:
        """Load the ``visual.*`` weights of the local open_clip checkpoint."""
        if self.checkpoint is None:
            warn_random_weights(f'OpenCLIPConvNeXt({self.model_name})')
            return
        full = load_clip_state_dict(self.checkpoint, self.model_name)
        visual = {k[len('visual.'):]: v for k, v in full.items() if k.startswith('visual.')}
        if not visual:
            raise RuntimeError(f'{self.checkpoint!r} has no "visual.*" keys: not an open_clip '
                               f'CLIP checkpoint.')
        load_weights_strict(self.visual, visual, f'{self.checkpoint} (visual.*)')

    def train(self, mode: bool = True):
        """Keep the frozen tower in eval mode whatever ``mode`` is."""
        return super().train(mode and not self.frozen)

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Multi-level features.

        Args:
            x (Tensor): B x 3 x H x W, normalised with the CLIP mean/std.

        Returns:
            tuple[Tensor]: For each out index i, B x C_i x H/s_i x W/s_i with strides
            4/8/16/32 (e.g. 192x96x96 ... 1536x12x12 for ConvNeXt-L at 384).
        """
        trunk = self.visual.trunk
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            x = trunk.stem(x)
            outs = []
            for i, stage in enumerate(trunk.stages):
                x = stage(x)
                if i in self.out_indices:
                    outs.append(x)
            if len(trunk.stages) - 1 in self.out_indices:
                outs[-1] = trunk.norm_pre(outs[-1])  # Identity for ConvNeXt; kept for parity
        return tuple(outs)

    def embed_pooled(self, pooled: Tensor) -> Tensor:
        """Map pooled last-stage features into the CLIP embedding space.

        Args:
            pooled (Tensor): B x C_last (a spatial average of the stride-32 map).

        Returns:
            Tensor: B x embed_dim, not normalised.
        """
        x = self.visual.trunk.forward_head(pooled[:, :, None, None])  # norm + flatten: B x C
        return self.visual.head(x)

    def masked_embedding(self, last_feature: Tensor, mask: Tensor) -> Tensor:
        """CLIP embedding of the region a soft mask selects (OVCoser's masked pooling).

        Equivalent to bilinearly upsampling ``last_feature`` to the mask size and averaging it
        with the mask as weights, without materialising the upsampled map.

        Args:
            last_feature (Tensor): B x C_last x h x w stride-32 features.
            mask (Tensor): B x 1 x H x W weights in [0, 1].

        Returns:
            Tensor: B x embed_dim, not normalised.
        """
        mask = mask.to(last_feature.dtype)
        weights = bilinear_adjoint_weights(mask, last_feature.shape[-2:])  # B x h x w
        total = mask.flatten(1).sum(1).clamp_min(1e-6)  # B
        pooled = torch.einsum('bchw,bhw->bc', last_feature, weights) / total[:, None]
        return self.embed_pooled(pooled)

    def encode_image(self, x: Tensor) -> Tensor:
        """The CLIP image embedding (equals open_clip's ``encode_image``).

        Args:
            x (Tensor): B x 3 x H x W.

        Returns:
            Tensor: B x embed_dim, not normalised.
        """
        return self.visual(x)
