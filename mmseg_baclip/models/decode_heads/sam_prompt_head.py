"""SAM's prompt encoder and mask decoder, prompted by refined class-text tokens."""
import os.path as osp
from typing import List, Optional, Tuple

import torch
from mmseg.registry import MODELS
from segment_anything.modeling import MaskDecoder, PromptEncoder, TwoWayTransformer
from segment_anything.modeling.common import LayerNorm2d
from torch import Tensor, nn

from ..utils.frozen_file_weights import FrozenFileWeightsMixin
from ..utils.open_clip_utils import freeze, load_weights_strict, warn_random_weights
from .mask_head_base import BinaryMaskHead


class AdaptiveTextPrompt(nn.Module):
    """``Proj(SelfAttention(E_t))``: text tokens to SAM sparse-prompt tokens.

    Args:
        in_channels (int): C of the text tokens.
        prompt_dims (int): SAM's prompt width (256).
        num_heads (int): Self-attention heads.
        self_attention (bool): False gives the paper's "w/o SA" ablation.
    """

    def __init__(self, in_channels: int, prompt_dims: int, num_heads: int = 8,
                 self_attention: bool = True):
        super().__init__()
        self.self_attention = self_attention
        if self_attention:
            self.norm = nn.LayerNorm(in_channels)
            self.attn = nn.MultiheadAttention(in_channels, num_heads, batch_first=True)
        self.proj = nn.Sequential(nn.Linear(in_channels, prompt_dims), nn.LayerNorm(prompt_dims))

    def forward(self, text: Tensor) -> Tensor:
        """Args: text (Tensor): B x N x C. Returns: Tensor: B x N x prompt_dims."""
        if self.self_attention:
            x = self.norm(text)
            text = text + self.attn(x, x, x, need_weights=False)[0]
        return self.proj(text)


@MODELS.register_module()
class SAMPromptHead(FrozenFileWeightsMixin, BinaryMaskHead):
    """SAM mask decoder driven by adaptive text prompts (BaCLIP's head).

    ``E_t* = PromptEncoder(Proj(SelfAttention(E_t)))``; ``mask = MaskDecoder(E_v*, PE, E_t*)``.
    SAM's prompt encoder has no text input, so [inferred]: the frozen prompt encoder is called
    with no prompts (its empty sparse tensor and its "no mask" dense embedding, expanded to the
    batch), the projected text tokens are appended as sparse tokens, each plus the encoder's
    frozen positive-point type embedding (``add_point_embedding``), and the dense positional
    encoding is computed at the feature size by the encoder's own Fourier layer. SAM's decoder
    pairs one image with its own prompt set, so images are decoded one by one (upstream
    segment-anything batches prompts, not images).

    SAM's decoder was trained on image embeddings that leave its image encoder's neck through a
    LayerNorm2d; E_v* (a sum of residual branches) has no such normalisation, so by default it
    goes through a trainable ``LayerNorm2d`` first (``norm_visual``).

    Args:
        in_channels (int): C of E_v*. Default: 256.
        text_channels (int): C of E_t. Default: 256.
        transformer_dim (int): SAM width (256 for the released decoders). Default: 256.
        transformer_depth (int): Default: 2.
        transformer_mlp_dim (int): Default: 2048.
        transformer_heads (int): Default: 8.
        prompt_self_attention (bool): Self-attention over the text tokens. Default: True.
        prompt_heads (int): Its heads. Default: 8.
        add_point_embedding (bool): Add the positive-point embedding to text tokens.
            Default: True.
        freeze_mask_decoder (bool): Freeze SAM's mask decoder too. Default: False (trained,
            except its parts that a single-mask output does not use).
        norm_visual (bool): ``LayerNorm2d`` on E_v* (after ``visual_proj``) before the mask
            decoder, so that it sees, per pixel, channels of zero mean and unit variance at
            initialisation, as from SAM's image encoder. False: E_v* unnormalised and no
            ``visual_norm.*`` keys (checkpoints of a head trained without it). Default: True.
        checkpoint (str, optional): A local SAM checkpoint (``sam_vit_b_01ec64.pth`` or the
            ViT-L/H files) with ``prompt_encoder.*`` and ``mask_decoder.*`` keys.
        loss_decode (dict | list[dict]): Loss configs.

    Works only as BaCLIP's ``decode_head``: built inside a stock mmseg segmentor, or with mmseg
    ``BaseDecodeHead`` arguments such as ``num_classes``, it raises ``TypeError`` at build time
    (see :class:`BinaryMaskHead`).
    """

    baclip_only_reason = ("it needs BaCLIP's text input, the class-name embeddings (refined by "
                          "MREM) that prompt SAM's mask decoder (forward(visual, text)), and it "
                          'is not an mmseg BaseDecodeHead: one binary mask per image, no '
                          'num_classes, BaCLIP takes the class names from its vocabulary')

    def __init__(self,
                 in_channels: int = 256,
                 text_channels: int = 256,
                 transformer_dim: int = 256,
                 transformer_depth: int = 2,
                 transformer_mlp_dim: int = 2048,
                 transformer_heads: int = 8,
                 prompt_self_attention: bool = True,
                 prompt_heads: int = 8,
                 add_point_embedding: bool = True,
                 freeze_mask_decoder: bool = False,
                 norm_visual: bool = True,
                 checkpoint: Optional[str] = None,
                 loss_decode=dict(type='WeightedBCEDiceLoss'),
                 init_cfg: Optional[dict] = None,
                 **kwargs):
        super().__init__(loss_decode=loss_decode, init_cfg=init_cfg, **kwargs)
        self.checkpoint = checkpoint
        self.add_point_embedding = add_point_embedding
        self.freeze_mask_decoder = freeze_mask_decoder
        self.visual_proj = (nn.Identity() if in_channels == transformer_dim else
                            nn.Conv2d(in_channels, transformer_dim, 1))
        self.norm_visual = norm_visual
        self.visual_norm = LayerNorm2d(transformer_dim) if norm_visual else nn.Identity()
        self.text_prompt = AdaptiveTextPrompt(text_channels, transformer_dim, prompt_heads,
                                              prompt_self_attention)
        # Sizes only set defaults; the PE is recomputed at the real feature size.
        self.prompt_encoder = PromptEncoder(
            embed_dim=transformer_dim, image_embedding_size=(24, 24),
            input_image_size=(384, 384), mask_in_chans=16)
        self.mask_decoder = MaskDecoder(
            transformer_dim=transformer_dim,
            transformer=TwoWayTransformer(depth=transformer_depth, embedding_dim=transformer_dim,
                                          mlp_dim=transformer_mlp_dim,
                                          num_heads=transformer_heads),
            num_multimask_outputs=3, iou_head_depth=3, iou_head_hidden_dim=256)
        freeze(self.prompt_encoder)
        if freeze_mask_decoder:
            freeze(self.mask_decoder)
        else:
            # One mask is decoded (``multimask_output=False``): the IoU head and the hypernetwork
            # MLPs of mask tokens 1-3 take no part, so they are frozen rather than left as
            # trainable parameters without gradients (which DDP rejects).
            for unused in (self.mask_decoder.iou_prediction_head,
                           *self.mask_decoder.output_hypernetworks_mlps[1:]):
                unused.requires_grad_(False)

    def init_weights(self) -> None:
        """Initialise the new layers, then load SAM's prompt encoder and mask decoder."""
        super().init_weights()
        if self.checkpoint is None:
            warn_random_weights('SAMPromptHead (SAM prompt encoder / mask decoder)')
            return
        self.load_frozen_weights()

    def load_frozen_weights(self) -> None:
        """Load SAM's prompt encoder and mask decoder from the SAM file (the new layers are left
        as they are; the trained part of the decoder comes from the checkpoint loaded next)."""
        if not osp.isfile(self.checkpoint):
            raise FileNotFoundError(
                f'SAM checkpoint file not found: {self.checkpoint!r}. Download sam_vit_b_01ec64.pth '
                '(or the ViT-L/H file) from the segment-anything release and put it at this path, '
                'or set the path in your config (nothing is downloaded at run time).')
        state = torch.load(self.checkpoint, map_location='cpu', weights_only=True)
        if isinstance(state, dict) and 'state_dict' in state:
            state = state['state_dict']
        for name in ('prompt_encoder', 'mask_decoder'):
            part = {k[len(name) + 1:]: v for k, v in state.items() if k.startswith(name + '.')}
            if not part:
                raise RuntimeError(f'{self.checkpoint!r} has no "{name}.*" keys: not a SAM '
                                   'checkpoint.')
            load_weights_strict(getattr(self, name), part, f'{self.checkpoint} ({name}.*)')
        self.mark_frozen_weights_loaded(self.checkpoint)

    def frozen_weight_file(self) -> Optional[str]:
        """The SAM file (None: random SAM weights)."""
        return self.checkpoint

    def frozen_state_keys(self) -> List[str]:
        """The prompt encoder, and the frozen part of the mask decoder: all of it with
        ``freeze_mask_decoder``, else the IoU head and the hypernetwork MLPs of mask tokens
        1-3 (unused with one output mask)."""
        keys = [f'prompt_encoder.{k}' for k in self.prompt_encoder.state_dict()]
        params = dict(self.mask_decoder.named_parameters())
        for key in self.mask_decoder.state_dict():
            frozen = (not params[key].requires_grad) if key in params else self.freeze_mask_decoder
            if frozen:
                keys.append(f'mask_decoder.{key}')
        return keys

    def train(self, mode: bool = True):
        """Keep frozen SAM parts in eval mode."""
        super().train(mode)
        self.prompt_encoder.eval()
        if self.freeze_mask_decoder:
            self.mask_decoder.eval()
        return self

    def prompts(self, text: Tensor, size: Tuple[int, int]) -> Tuple[Tensor, Tensor, Tensor]:
        """Sparse and dense prompts and the image PE for a batch.

        Args:
            text (Tensor): B x N x C refined text tokens.
            size (tuple[int, int]): (h, w) of the image embedding.

        Returns:
            tuple[Tensor, Tensor, Tensor]: sparse B x N x D, dense 1 x D x h x w (shared by
            every image), image PE 1 x D x h x w.
        """
        B = text.shape[0]
        sparse_empty, _ = self.prompt_encoder(points=None, boxes=None, masks=None)  # 1 x 0 x D
        tokens = self.text_prompt(text)  # B x N x D
        if self.add_point_embedding:
            tokens = tokens + self.prompt_encoder.point_embeddings[1].weight  # positive point
        sparse = torch.cat([sparse_empty.to(tokens.dtype).expand(B, -1, -1), tokens], dim=1)
        dense = self.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(
            1, -1, *size)  # 1 x D x h x w
        image_pe = self.prompt_encoder.pe_layer(size).unsqueeze(0)  # 1 x D x h x w
        return sparse, dense.to(tokens.dtype), image_pe.to(tokens.dtype)

    def forward(self, visual: Tensor, text: Tensor) -> Tensor:
        """Decode one mask per image.

        Args:
            visual (Tensor): B x C x h x w (E_v*).
            text (Tensor): B x N x C_t (E_t).

        Returns:
            Tensor: B x 1 x 4h x 4w mask logits.
        """
        visual = self.visual_norm(self.visual_proj(visual))  # B x D x h x w
        sparse, dense, image_pe = self.prompts(text, visual.shape[-2:])
        masks = []
        for b in range(visual.shape[0]):  # SAM's decoder batches prompts, not images
            mask, _ = self.mask_decoder(
                image_embeddings=visual[b:b + 1], image_pe=image_pe,
                sparse_prompt_embeddings=sparse[b:b + 1], dense_prompt_embeddings=dense,
                multimask_output=False)  # 1 x 1 x 4h x 4w
            masks.append(mask)
        return torch.cat(masks, dim=0)
