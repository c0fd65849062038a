"""The frozen image tower of an open_clip ConvNeXt CLIP as an mmseg backbone."""
from typing import Optional, Sequence, Tuple

import torch
from mmseg.registry import MODELS
from torch import Tensor

from .clip_image_tower import OpenCLIPImageTower, bilinear_adjoint_weights  # noqa: F401


@MODELS.register_module()
class OpenCLIPConvNeXt(OpenCLIPImageTower):
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
        super().__init__(model_name, checkpoint, frozen=frozen, init_cfg=init_cfg)
        if not str(self.vision_cfg.get('timm_model_name', '')).startswith('convnext'):
            raise ValueError(f'OpenCLIPConvNeXt needs a ConvNeXt CLIP, but {model_name!r} has '
                             f'vision tower {self.vision_cfg.get("timm_model_name") or "ViT"}.')
        self.out_indices = tuple(out_indices)
        stage_channels = [info['num_chs'] for info in self.visual.trunk.feature_info][-4:]
        self.stage_channels = tuple(stage_channels)
        self.out_channels = tuple(stage_channels[i] for i in self.out_indices)
        self._freeze_if_needed()

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
