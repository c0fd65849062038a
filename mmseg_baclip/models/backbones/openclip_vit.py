"""The frozen image tower of an open_clip ViT CLIP as a multi-level mmseg backbone."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from .clip_image_tower import OpenCLIPImageTower


@MODELS.register_module()
class OpenCLIPViT(OpenCLIPImageTower):
    """Frozen open_clip ViT image tower with four feature levels (the paper's ViT-L/14 row).

    A ViT has one resolution (stride = patch size, 14 for ViT-L/14), so the outputs of four
    blocks (``layer_indices``) are taken through open_clip's ``forward_intermediates`` and
    bilinearly resized to strides 4/8/16/32, which makes the tower a drop-in replacement for
    :class:`OpenCLIPConvNeXt`. The position embedding of the checkpoint is interpolated to
    ``image_size``. Masked-pooling classification pools the last block's patch tokens and applies
    the tower's ``ln_post`` and projection [inferred: the released CLIP pools the class token,
    so region embeddings of patch tokens are an approximation, as in MaskCLIP-style methods].

    Args:
        model_name (str): open_clip ViT model name. Default: ``'ViT-L-14-quickgelu'`` (OpenAI
            CLIP ViT-L/14 weights use QuickGELU).
        checkpoint (str, optional): Local open_clip checkpoint (``visual.*`` keys are used).
        image_size (int): Input size the tower is built for. Default: 384.
        layer_indices (Sequence[int]): Blocks whose outputs form the four levels.
            Default: (5, 11, 17, 23) for 24 blocks.
        out_strides (Sequence[int]): Strides the levels are resized to. Default: (4, 8, 16, 32).
        frozen (bool): Default: True.
    """

    def __init__(self,
                 model_name: str = 'ViT-L-14-quickgelu',
                 checkpoint: Optional[str] = None,
                 image_size: int = 384,
                 layer_indices: Sequence[int] = (5, 11, 17, 23),
                 out_strides: Sequence[int] = (4, 8, 16, 32),
                 frozen: bool = True,
                 init_cfg: Optional[dict] = None):
        super().__init__(model_name, checkpoint, image_size=image_size, frozen=frozen,
                         init_cfg=init_cfg)
        if self.vision_cfg.get('timm_model_name') or not hasattr(self.visual, 'transformer'):
            raise ValueError(f'OpenCLIPViT needs an open_clip ViT CLIP, got {model_name!r}.')
        layers = self.vision_cfg['layers']
        if any(not 0 <= i < layers for i in layer_indices) or len(layer_indices) != len(
                out_strides):
            raise ValueError(f'layer_indices {layer_indices} must be {len(out_strides)} blocks '
                             f'of {layers}')
        self.layer_indices = list(layer_indices)
        self.out_strides = tuple(out_strides)
        width = self.vision_cfg['width']
        self.stage_channels = self.out_channels = (width, ) * len(out_strides)
        self._freeze_if_needed()

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Args: x (Tensor): B x 3 x H x W.

        Returns:
            tuple[Tensor]: Four B x width x H/s x W/s maps, s in ``out_strides``.
        """
        H, W = x.shape[-2:]
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            out = self.visual.forward_intermediates(
                x, indices=self.layer_indices, intermediates_only=True, output_fmt='NCHW')
            levels = out['image_intermediates']  # each B x width x H/p x W/p
            return tuple(
                F.interpolate(lvl, size=(H // s, W // s), mode='bilinear', align_corners=False)
                for lvl, s in zip(levels, self.out_strides))

    def embed_pooled(self, pooled: Tensor) -> Tensor:
        """Args: pooled (Tensor): B x width. Returns: Tensor: B x embed_dim."""
        x = self.visual.ln_post(pooled)
        return x @ self.visual.proj if self.visual.proj is not None else x
