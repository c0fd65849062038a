"""MREM, the Mutual Refinement and Enhancement Module: bidirectional vision-text attention."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from segment_anything.modeling.common import LayerNorm2d
from torch import Tensor, nn

from ...ops import bidirectional_attention
from ..utils.baclip_only import check_baclip_only


class BidirectionalBlock(nn.Module):
    """One pre-norm block where vision queries text and text queries vision at once.

    ``F_v = softmax(Q_v k_t^T / sqrt(d)) v_t`` and ``F_t = softmax(q_t K_v^T / sqrt(d)) V_v`` per
    head; heads are concatenated and projected; each stream then gets a residual MLP.

    Args:
        dims (int): C, the width of both streams.
        num_heads (int): Heads.
        text_to_vision (bool): Update the vision stream with text (vision queries text).
        vision_to_text (bool): Update the text stream with vision (text queries vision).
        mlp_ratio (float): MLP hidden width over C.
    """

    def __init__(self, dims: int, num_heads: int, text_to_vision: bool = True,
                 vision_to_text: bool = True, mlp_ratio: float = 4.0):
        super().__init__()
        if not (text_to_vision or vision_to_text):
            raise ValueError('A BidirectionalBlock needs at least one direction.')
        if dims % num_heads:
            raise ValueError(f'dims ({dims}) must be divisible by num_heads ({num_heads})')
        self.num_heads = num_heads
        self.text_to_vision = text_to_vision
        self.vision_to_text = vision_to_text
        self.norm_v = nn.LayerNorm(dims)
        self.norm_t = nn.LayerNorm(dims)
        # Each stream makes its own Q, K, V (K/V of a stream are only needed if the other
        # stream queries it, and Q only if the stream itself is updated).
        self.qkv_v = nn.Linear(dims, 3 * dims)
        self.qkv_t = nn.Linear(dims, 3 * dims)
        hidden = int(dims * mlp_ratio)
        if text_to_vision:
            self.out_v = nn.Linear(dims, dims)
            self.mlp_v = nn.Sequential(nn.LayerNorm(dims), nn.Linear(dims, hidden), nn.GELU(),
                                       nn.Linear(hidden, dims))
        if vision_to_text:
            self.out_t = nn.Linear(dims, dims)
            self.mlp_t = nn.Sequential(nn.LayerNorm(dims), nn.Linear(dims, hidden), nn.GELU(),
                                       nn.Linear(hidden, dims))

    def _heads(self, x: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """B x L x 3C -> three B x heads x L x d."""
        B, L, _ = x.shape
        q, k, v = x.view(B, L, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        return q, k, v

    def forward(self, vis: Tensor, text: Tensor) -> Tuple[Tensor, Tensor]:
        """Args:
            vis (Tensor): B x L x C vision tokens.
            text (Tensor): B x N x C text tokens.

        Returns:
            tuple[Tensor, Tensor]: Refined vision B x L x C and text B x N x C.
        """
        q_v, k_v, v_v = self._heads(self.qkv_v(self.norm_v(vis)))  # B x h x L x d
        q_t, k_t, v_t = self._heads(self.qkv_t(self.norm_t(text)))  # B x h x N x d
        if self.text_to_vision and self.vision_to_text:
            att_v, att_t = bidirectional_attention(q_v, k_v, v_v, q_t, k_t, v_t)
        elif self.text_to_vision:
            att_v, att_t = F.scaled_dot_product_attention(q_v, k_t, v_t), None
        else:
            att_v, att_t = None, F.scaled_dot_product_attention(q_t, k_v, v_v)
        if att_v is not None:
            vis = vis + self.out_v(att_v.transpose(1, 2).flatten(2))  # B x L x C
            vis = vis + self.mlp_v(vis)
        if att_t is not None:
            text = text + self.out_t(att_t.transpose(1, 2).flatten(2))  # B x N x C
            text = text + self.mlp_t(text)
        return vis, text


@MODELS.register_module()
class MREM(BaseModule):
    """Aligns CLIP vision and text features in both directions.

    Vision input: the selected backbone levels are resized to the size of ``out_level`` (by
    default stride 16: 24x24 at 384), each normalised over its channels by its own
    ``LayerNorm2d`` (``norm_levels``), concatenated and projected to C by a 1x1 conv ("Conv1").
    The CLIP stages differ in scale by orders of magnitude; OVCoser likewise puts every CLIP
    level through a LayerNorm2d before projecting it.
    Text input: the N class embeddings go through a Linear to C and, by default, a LayerNorm
    (``norm_text``). Then ``num_layers``
    :class:`BidirectionalBlock` s refine both. With both directions off, MREM is only the two
    input projections (the ablation rows without MREM).

    Choices where the paper is silent [inferred]: C = 256 (SAM's width), 8 heads, one pre-norm
    block with residuals and MLPs, vision from stages 1-3 (strides 8/16/32) fused at stride 16.

    Args:
        in_channels (Sequence[int]): Channels of the backbone levels used.
        in_index (Sequence[int]): Their indices in the backbone output tuple.
        out_level (int): Position in ``in_index`` whose spatial size is kept.
        text_channels (int): Width of the CLIP class embeddings (768 for ConvNeXt-L).
        embed_dims (int): C. Default: 256.
        num_heads (int): Default: 8.
        num_layers (int): Default: 1.
        text_to_vision (bool): Vision queries text (text refines vision). Default: True.
        vision_to_text (bool): Text queries vision (vision refines text). Default: True.
        mlp_ratio (float): Default: 4.
        norm_levels (bool): One ``LayerNorm2d`` per level (after resizing, before the
            concatenation), so every level enters Conv1 with zero mean and unit variance over
            its channels at each pixel. False: the raw concatenation and no
            ``level_norms.*`` keys (checkpoints of an MREM trained without them). Default: True.
        norm_text (bool): A ``LayerNorm`` on the projected text tokens, so that they enter the
            blocks at a scale of the vision stream's order. CLIP's class embeddings are unit
            vectors: in the small demo model trained without it, a text token entered the block
            with a norm of 0.9 and a vision token (normalised levels through Conv1) with 25,
            so the block's residual updates, on the vision scale, were most of the refined
            class tokens. With it the text tokens enter at 8 (``docs/ablation_synthetic.md``
            has what it changed). False: no ``text_norm.*`` keys (checkpoints of an MREM
            trained without it). Default: True.

    MREM works only as BaCLIP's ``align_neck``: it needs the class-name embeddings, which a
    stock mmseg segmentor does not pass to its neck. Built inside one (e.g. as the ``neck`` of
    an ``EncoderDecoder``), it raises ``TypeError`` at build time
    (:func:`~mmseg_baclip.models.utils.baclip_only.check_baclip_only`); built on its own or
    inside BaCLIP it builds as usual.
    """

    #: Why MREM works only inside BaCLIP (part of the build-time error message).
    baclip_only_reason = ("it needs BaCLIP's text input, the class-name embeddings of BaCLIP's "
                          'text_encoder (forward(feats, text)), which a stock mmseg segmentor '
                          'does not pass to its neck')

    def __init__(self,
                 in_channels: Sequence[int] = (384, 768, 1536),
                 in_index: Sequence[int] = (1, 2, 3),
                 out_level: int = 1,
                 text_channels: int = 768,
                 embed_dims: int = 256,
                 num_heads: int = 8,
                 num_layers: int = 1,
                 text_to_vision: bool = True,
                 vision_to_text: bool = True,
                 mlp_ratio: float = 4.0,
                 norm_levels: bool = True,
                 norm_text: bool = True,
                 init_cfg: Optional[dict] = None):
        check_baclip_only(self, 'align_neck', self.baclip_only_reason)
        super().__init__(init_cfg=init_cfg)
        if len(in_channels) != len(in_index):
            raise ValueError(f'in_channels {in_channels} and in_index {in_index} differ in length')
        self.in_index = tuple(in_index)
        self.out_level = out_level
        self.embed_dims = embed_dims
        self.norm_levels = norm_levels
        self.level_norms = (nn.ModuleList(LayerNorm2d(c) for c in in_channels)
                            if norm_levels else None)
        self.vision_proj = nn.Conv2d(sum(in_channels), embed_dims, 1)
        self.text_proj = nn.Linear(text_channels, embed_dims)
        self.norm_text = norm_text
        self.text_norm = nn.LayerNorm(embed_dims) if norm_text else None
        # With both directions off MREM is only the two input projections: build no block
        # (unused trainable weights would also break DDP).
        self.layers = nn.ModuleList(
            BidirectionalBlock(embed_dims, num_heads, text_to_vision, vision_to_text, mlp_ratio)
            for _ in range(num_layers if text_to_vision or vision_to_text else 0))

    def forward(self, feats: Sequence[Tensor], text: Tensor) -> Tuple[Tensor, Tensor]:
        """Args:
            feats (Sequence[Tensor]): Backbone levels, each B x C_i x H_i x W_i.
            text (Tensor): N x D or B x N x D class embeddings.

        Returns:
            tuple[Tensor, Tensor]: E_v B x C x h x w (h, w of ``out_level``) and E_t B x N x C.
        """
        levels = [feats[i] for i in self.in_index]
        size = levels[self.out_level].shape[-2:]
        levels = [lvl if lvl.shape[-2:] == size else
                  F.interpolate(lvl, size=size, mode='bilinear', align_corners=False)
                  for lvl in levels]
        if self.level_norms is not None:
            levels = [norm(lvl) for norm, lvl in zip(self.level_norms, levels)]  # B x C_i x h x w
        vis = self.vision_proj(torch.cat(levels, dim=1))  # B x C x h x w
        B, C, h, w = vis.shape
        if text.dim() == 2:
            text = text.unsqueeze(0).expand(B, -1, -1)  # B x N x D, no copy
        if text.shape[-1] != self.text_proj.in_features:
            raise ValueError(f'MREM: text embeddings of width {text.shape[-1]} (shape '
                             f'{tuple(text.shape)}), but text_channels is '
                             f'{self.text_proj.in_features}; set text_channels to the CLIP '
                             'embedding width.')
        text = self.text_proj(text.to(vis.dtype))  # B x N x C
        if self.text_norm is not None:
            text = self.text_norm(text)
        tokens = vis.flatten(2).transpose(1, 2)  # B x hw x C
        for layer in self.layers:
            tokens, text = layer(tokens, text)
        vis = tokens.transpose(1, 2).reshape(B, C, h, w)
        return vis, text
