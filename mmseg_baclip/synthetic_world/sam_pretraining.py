"""A tiny SAM pretrained here: promptable, class-agnostic segmentation of the world's pictures.

The stand-in for SAM's SA-1B pretraining. A segment_anything ``Sam`` is built at the small
BaCLIP config's decoder dimensions (a 64-d prompt encoder and two-way mask decoder, 4 heads, MLP
256) with a small ViT image encoder (192x192 input, 16 px patches: a 12x12 map of 64 channels,
the map BaCLIP's CCE gives the decoder at 192x192). It learns to segment the object a prompt
points at, never its class: each step takes a batch of pictures of all 75 classes and prompts
each with its object's box (jittered) or with one to three points on the object, as SAM is
trained. Box prompts train the first mask token (the one BaCLIP decodes, ``multimask_output``
False); point prompts, which may be ambiguous, train the three multimask tokens with the
smallest loss kept, as SAM does. The IoU head learns the IoU of each output mask.

The result is written as Meta's ``sam_vit_*.pth`` files are: one state dict with
``image_encoder.*``, ``prompt_encoder.*`` and ``mask_decoder.*`` keys, which
``SAMPromptHead(checkpoint=...)`` loads exactly like ``sam_vit_b_01ec64.pth``.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from segment_anything.modeling import (ImageEncoderViT, MaskDecoder, PromptEncoder, Sam,
                                       TwoWayTransformer)
from torch import Tensor

from ..utils.progress import track_progress
from .dihedral import apply_dihedral, random_dihedral_index
from .training_steps import optimiser_step, warmup_cosine


@dataclass(frozen=True)
class TinySAMConfig:
    """Dimensions of the tiny SAM. The prompt encoder and mask decoder match
    ``configs/_base_/models/baclip_convnext-tiny.py``'s ``decode_head``.

    Attributes:
        image_size (int): Input side (BaCLIP's small configs run at 192).
        patch_size (int): ViT patch side; ``image_size / patch_size`` is the embedding side.
        encoder_dim (int): ViT width.
        encoder_depth (int): ViT blocks.
        encoder_heads (int): ViT heads.
        prompt_dim (int): Prompt and decoder width (``transformer_dim``).
        decoder_mlp_dim (int): Two-way transformer MLP width.
        decoder_heads (int): Two-way transformer heads.
    """
    image_size: int = 192
    patch_size: int = 16
    encoder_dim: int = 96
    encoder_depth: int = 4
    encoder_heads: int = 4
    prompt_dim: int = 64
    decoder_mlp_dim: int = 256
    decoder_heads: int = 4


def build_tiny_sam(config: TinySAMConfig = TinySAMConfig()) -> Sam:
    """A randomly initialised segment_anything ``Sam`` of the tiny dimensions."""
    side = config.image_size // config.patch_size
    return Sam(
        image_encoder=ImageEncoderViT(
            img_size=config.image_size, patch_size=config.patch_size,
            embed_dim=config.encoder_dim, depth=config.encoder_depth,
            num_heads=config.encoder_heads, out_chans=config.prompt_dim, use_rel_pos=True,
            window_size=0),
        prompt_encoder=PromptEncoder(
            embed_dim=config.prompt_dim, image_embedding_size=(side, side),
            input_image_size=(config.image_size, config.image_size), mask_in_chans=16),
        mask_decoder=MaskDecoder(
            transformer_dim=config.prompt_dim,
            transformer=TwoWayTransformer(depth=2, embedding_dim=config.prompt_dim,
                                          mlp_dim=config.decoder_mlp_dim,
                                          num_heads=config.decoder_heads),
            num_multimask_outputs=3, iou_head_depth=3, iou_head_hidden_dim=256))


def box_of(mask: Tensor) -> Tensor:
    """(x0, y0, x1, y1) of a H x W boolean mask's pixels, in pixel coordinates."""
    ys, xs = torch.nonzero(mask, as_tuple=True)
    return torch.stack([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]).float()


def jittered_box(mask: Tensor, generator: torch.Generator, jitter: float = 0.1) -> Tensor:
    """The mask's box, each side moved by up to ``jitter`` of the box's size (SAM's noise).

    Returns:
        Tensor: 1 x 4 (x0, y0, x1, y1), clipped to the image.
    """
    box = box_of(mask)
    size = (box[2:] - box[:2]).repeat(2)
    noise = (torch.rand(4, generator=generator) * 2 - 1) * jitter * size
    h, w = mask.shape
    return (box + noise).clamp(min=0).minimum(torch.tensor([w, h, w, h]).float())[None]


def random_points(mask: Tensor, generator: torch.Generator, count: int) -> Tensor:
    """``count`` pixels drawn uniformly from the mask. Returns 1 x count x 2 (x, y) pixel
    indices (SAM's prompt encoder moves them to the pixel centres itself)."""
    ys, xs = torch.nonzero(mask, as_tuple=True)
    picks = torch.randint(len(xs), (count, ), generator=generator)
    return torch.stack([xs[picks], ys[picks]], dim=1).float()[None]


def mask_losses(logits: Tensor, target: Tensor) -> Tensor:
    """Per-mask BCE + Dice (SAM uses focal + Dice; BCE suits these few steps better).

    Args:
        logits (Tensor): M x h x w.
        target (Tensor): h x w in [0, 1].

    Returns:
        Tensor: M losses.
    """
    target = target.expand_as(logits)
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction='none').mean((1, 2))
    prob = logits.sigmoid()
    dice = 1 - (2 * (prob * target).sum((1, 2)) + 1) / (prob.sum((1, 2)) + target.sum((1, 2)) + 1)
    return bce + dice


def mask_iou(logits: Tensor, target: Tensor) -> Tensor:
    """IoU of thresholded logits (M x h x w) with a h x w target. Returns M values."""
    pred, target = logits > 0, target.expand_as(logits) > 0.5
    inter = (pred & target).sum((1, 2)).float()
    union = (pred | target).sum((1, 2)).float().clamp_min(1)
    return inter / union


def decode(sam: Sam, embedding: Tensor, points: Optional[Tuple[Tensor, Tensor]],
           box: Optional[Tensor], multimask: bool) -> Tuple[Tensor, Tensor]:
    """One image's masks for one prompt. Returns low-res logits M x 4h x 4w and M IoU scores."""
    sparse, dense = sam.prompt_encoder(points=points, boxes=box, masks=None)
    masks, iou = sam.mask_decoder(image_embeddings=embedding,
                                  image_pe=sam.prompt_encoder.get_dense_pe(),
                                  sparse_prompt_embeddings=sparse,
                                  dense_prompt_embeddings=dense, multimask_output=multimask)
    return masks[0], iou[0]


def to_sam_input(images: np.ndarray) -> Tensor:
    """(K, H, W, 3) uint8 RGB -> K x 3 x H x W float in 0-255 (``Sam.preprocess`` normalises)."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float()


def pretrain_sam(images: np.ndarray, masks: np.ndarray, steps: int = 300, batch_size: int = 16,
                 lr: float = 1e-3, box_prob: float = 0.5, seed: int = 0,
                 config: TinySAMConfig = TinySAMConfig(),
                 progress: bool = False) -> Tuple[Sam, Dict]:
    """Train a tiny SAM from scratch on promptable segmentation.

    Args:
        images (np.ndarray): (K, S, S, 3) uint8 RGB pictures, ``S = config.image_size``.
        masks (np.ndarray): (K, S, S) bool object masks.
        steps (int): Optimiser steps. Default: 300.
        batch_size (int): Pictures per step. Default: 16.
        lr (float): AdamW peak learning rate (warm-up 10%, cosine to 0). Default: 1e-3.
        box_prob (float): Share of prompts that are boxes (the rest: 1-3 points).
        seed (int): Seeds the weights, the sampling and the prompts.
        config (TinySAMConfig): Dimensions.
        progress (bool): Show the progress (a bar on a terminal, a few lines in a log).

    Returns:
        tuple: The trained ``Sam`` (eval mode) and a log ``{'loss_first', 'loss_last'}``.
    """
    if images.shape[1:3] != (config.image_size, config.image_size):
        raise ValueError(f'pretrain_sam needs {config.image_size}x{config.image_size} pictures, '
                         f'got {images.shape[1:3]}')
    torch.manual_seed(seed)
    sam = build_tiny_sam(config)
    generator = torch.Generator().manual_seed(seed)
    inputs, targets = to_sam_input(images), torch.from_numpy(masks).float()[:, None]
    optimizer = torch.optim.AdamW([p for p in sam.parameters() if p.requires_grad], lr=lr,
                                  weight_decay=0.05)
    scheduler = warmup_cosine(optimizer, steps)
    sam.train()
    log = dict(loss_first=None, loss_last=None)
    low_res = 4 * (config.image_size // config.patch_size)
    for _ in track_progress(range(steps), 'SAM pretraining', enabled=progress):
        picks = torch.randint(len(inputs), (batch_size, ), generator=generator)
        codes = random_dihedral_index(batch_size, generator)
        batch = apply_dihedral(inputs[picks], codes)
        batch_masks = apply_dihedral(targets[picks], codes)  # B x 1 x S x S
        embeddings = sam.image_encoder(sam.preprocess(batch))  # B x D x h x w
        small = F.interpolate(batch_masks, size=(low_res, low_res), mode='area')[:, 0]
        losses = []
        for b in range(batch_size):
            mask = batch_masks[b, 0] > 0.5
            if torch.rand(1, generator=generator).item() < box_prob:
                logits, iou = decode(sam, embeddings[b:b + 1], None,
                                     jittered_box(mask, generator), multimask=False)
            else:
                count = int(torch.randint(1, 4, (1, ), generator=generator))
                coords = random_points(mask, generator, count)
                logits, iou = decode(sam, embeddings[b:b + 1],
                                     (coords, torch.ones(1, count, dtype=torch.int)), None,
                                     multimask=True)
            per_mask = mask_losses(logits, small[b])
            iou_loss = F.mse_loss(iou, mask_iou(logits.detach(), small[b]), reduction='none')
            best = int(per_mask.argmin())
            losses.append(per_mask[best] + iou_loss.mean())
        loss = torch.stack(losses).mean()
        optimiser_step(loss, optimizer, scheduler, log)
    return sam.eval(), log


@torch.no_grad()
def box_prompted_iou(sam: Sam, images: np.ndarray, masks: np.ndarray,
                     batch_size: int = 32) -> float:
    """Mean IoU of the first mask token, prompted with each object's exact box, at full size.

    Args:
        sam (Sam): The model.
        images (np.ndarray): (K, S, S, 3) uint8 RGB.
        masks (np.ndarray): (K, S, S) bool.

    Returns:
        float: Mean IoU over the K pictures.
    """
    sam.eval()
    inputs, targets = to_sam_input(images), torch.from_numpy(masks)
    ious: List[float] = []
    for start in range(0, len(inputs), batch_size):
        embeddings = sam.image_encoder(sam.preprocess(inputs[start:start + batch_size]))
        for b in range(embeddings.shape[0]):
            target = targets[start + b]
            logits, _ = decode(sam, embeddings[b:b + 1], None, box_of(target)[None],
                               multimask=False)
            full = F.interpolate(logits[None], size=target.shape, mode='bilinear',
                                 align_corners=False)[0]
            ious.append(float(mask_iou(full, target.float())[0]))
    return float(np.mean(ious))
