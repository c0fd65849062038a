"""Contrastive pretraining of a tiny open_clip CLIP on region-caption pairs of the world.

The stand-in for web-scale CLIP pretraining: pictures of all 75 OVCamo classes, drawn from their
own seed stream (:mod:`~mmseg_baclip.synthetic_world.pictures`, never the images of the
OVCamo-layout tree). Each step takes one picture of every class (75 pairs, so a batch has no two
captions of one class), cuts a window around its object, and pairs the object's region with a
caption from a web-style template set (open_clip's 80 ImageNet templates: "a bad photo of a
{}.", ...); it minimises CLIP's symmetric InfoNCE loss. The test-time prompts (CamoPrompts) are
never seen, as with real CLIP.

The image side of a pair is the CLIP embedding of the object's region: the stride-32 map
averaged over the object mask (:func:`~mmseg_baclip.models.backbones.masked_average`), then the
tower's head, which is exactly how BaCLIP names an object (its masked pooling). These are
region-caption pairs, as region-level CLIP variants are trained on, rather than whole-picture
pairs: with whole pictures the tiny CLIP named 38% of the unseen test objects from their
ground-truth masks; with regions, 63% for a quarter of the steps (``docs/synthetic_world_settings.md``).

The result is written as a plain open_clip state dict (``open_clip_pytorch_model.bin``, like
the files on the Hugging Face hub), loaded by ``OpenCLIPConvNeXt`` / ``OpenCLIPTextEncoder``
through their ``checkpoint`` argument like the real ConvNeXt-L file.
"""
import copy
import math
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import open_clip
import torch
import torch.nn.functional as F
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES
from torch import Tensor

from ..models.backbones.clip_image_tower import masked_average
from ..models.utils.open_clip_utils import get_clip_config
from ..utils.progress import track_progress
from .dihedral import apply_dihedral, random_dihedral_index
from .training_steps import optimiser_step, warmup_cosine

PRETRAIN_TEMPLATES = tuple(t('{}') for t in OPENAI_IMAGENET_TEMPLATES)


def to_clip_input(images: np.ndarray) -> Tensor:
    """(K, H, W, 3) uint8 RGB -> K x 3 x H x W float, normalised with CLIP's mean/std."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(OPENAI_DATASET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def mask_centres(masks: np.ndarray) -> np.ndarray:
    """(K, S, S) bool masks -> (K, 2) int (row, column) centroids of their objects."""
    rows = np.arange(masks.shape[1])[None, :, None]
    cols = np.arange(masks.shape[2])[None, None, :]
    area = masks.sum((1, 2)).clip(min=1)
    return np.stack([(masks * rows).sum((1, 2)) // area, (masks * cols).sum((1, 2)) // area],
                    axis=1).astype(np.int64)


def object_windows(images: Tensor, masks: Tensor, centres: np.ndarray, side: int,
                   generator: torch.Generator) -> Tuple[Tensor, Tensor]:
    """Square windows of one side around each object, moved by up to a quarter side.

    Args:
        images (Tensor): B x 3 x S x S.
        masks (Tensor): B x 1 x S x S.
        centres (np.ndarray): (B, 2) object centroids (row, column).
        side (int): Window side (at most S).
        generator (torch.Generator): Random source for the offsets.

    Returns:
        tuple[Tensor, Tensor]: B x 3 x side x side windows and their B x 1 x side x side masks.
    """
    size = images.shape[-1]
    if side > size:
        raise ValueError(f'window side {side} is larger than the pictures ({size})')
    shifts = torch.randint(-(side // 4), side // 4 + 1, (len(images), 2),
                           generator=generator).numpy()
    corners = np.clip(centres - side // 2 + shifts, 0, size - side)
    crop = [(slice(None), slice(top, top + side), slice(left, left + side))
            for top, left in corners.tolist()]
    return (torch.stack([img[c] for img, c in zip(images, crop)]),
            torch.stack([m[c] for m, c in zip(masks, crop)]))


def region_embedding(model: torch.nn.Module, images: Tensor, masks: Tensor) -> Tensor:
    """CLIP embedding of each picture's masked region, as BaCLIP computes it for a mask.

    Args:
        model (nn.Module): An open_clip CLIP with a timm ConvNeXt trunk.
        images (Tensor): B x 3 x H x W, CLIP-normalised.
        masks (Tensor): B x 1 x H x W in [0, 1].

    Returns:
        Tensor: B x embed_dim, not normalised.
    """
    trunk = model.visual.trunk
    pooled = masked_average(trunk.forward_features(images), masks)  # B x C_last
    return model.visual.head(trunk.forward_head(pooled[:, :, None, None]))


def create_random_clip(model_name: str) -> torch.nn.Module:
    """A randomly initialised open_clip model, built from its config by open_clip's own class.

    ``open_clip.create_model(name, pretrained=None)`` builds the same weights from the same
    seed, but logs "No pretrained weights loaded ... initialized randomly" through the root
    logger (which also installs a root handler, ``logging.basicConfig``); training from scratch
    is the point here, so the model is built directly and nothing is logged.

    Args:
        model_name (str): An open_clip model name (the bundled configs are registered).

    Returns:
        nn.Module: ``open_clip.CLIP`` (``CustomTextCLIP`` for a config with a custom or
        Hugging Face text tower), in train mode, on the CPU, in float32.
    """
    cfg = copy.deepcopy(get_clip_config(model_name))
    custom_text = cfg.pop('custom_text', False) or 'hf_model_name' in cfg.get('text_cfg', {})
    return (open_clip.CustomTextCLIP if custom_text else open_clip.CLIP)(**cfg)


def pretrain_clip(model_name: str, class_names: Sequence[str], images: np.ndarray,
                  masks: np.ndarray, labels: np.ndarray, steps: int = 250, lr: float = 4e-3,
                  seed: int = 0, window_sizes: Sequence[int] = (64, 96),
                  progress: bool = False) -> Tuple[torch.nn.Module, Dict]:
    """Train an open_clip model from scratch on (object region, caption) pairs.

    Args:
        model_name (str): open_clip model name (e.g. the bundled
            ``'convnext_atto_baclip_tiny'``).
        class_names (Sequence[str]): Names of labels 0..N-1.
        images (np.ndarray): (K, S, S, 3) uint8 RGB pictures, every class present.
        masks (np.ndarray): (K, S, S) bool object masks.
        labels (np.ndarray): (K,) labels.
        steps (int): Optimiser steps; each sees one picture of every class (0: the random
            initial weights, a control). Default: 250.
        lr (float): AdamW peak learning rate (warm-up 10%, cosine to 0). Default: 4e-3.
        seed (int): Seeds the weights, the sampling and the captions.
        window_sizes (Sequence[int]): Each step cuts, around every object, a window of one of
            these sides (drawn per step), so that the features do not depend on one map size.
            Default: (64, 96).
        progress (bool): Show the progress (a bar on a terminal, a few lines in a log).

    Returns:
        tuple: The trained model (eval mode) and a log ``{'loss_first', 'loss_last'}``.
    """
    torch.manual_seed(seed)
    model = create_random_clip(model_name)
    tokenizer = open_clip.get_tokenizer(model_name)
    generator = torch.Generator().manual_seed(seed)
    inputs = to_clip_input(images)
    mask_inputs = torch.from_numpy(masks).float()[:, None]
    centres = mask_centres(masks)
    by_class = [np.flatnonzero(labels == c) for c in range(len(class_names))]
    if any(len(idx) == 0 for idx in by_class):
        raise ValueError('pretrain_clip needs at least one picture of every class.')
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    scheduler = warmup_cosine(optimizer, steps)
    model.train()
    log = dict(loss_first=None, loss_last=None)
    targets = torch.arange(len(class_names))
    for _ in track_progress(range(steps), 'CLIP pretraining', enabled=progress):
        picks = [int(idx[torch.randint(len(idx), (1, ), generator=generator)])
                 for idx in by_class]  # one picture per class
        side = int(window_sizes[int(torch.randint(len(window_sizes), (1, ),
                                                  generator=generator))])
        windows, window_masks = object_windows(inputs[picks], mask_inputs[picks],
                                               centres[picks], side, generator)
        codes = random_dihedral_index(len(picks), generator)
        windows, window_masks = apply_dihedral(windows, codes), apply_dihedral(window_masks, codes)
        template_ids = torch.randint(len(PRETRAIN_TEMPLATES), (len(class_names), ),
                                     generator=generator).tolist()
        captions = [PRETRAIN_TEMPLATES[t].format(n) for t, n in zip(template_ids, class_names)]
        image_emb = F.normalize(region_embedding(model, windows, window_masks), dim=-1)  # N x D
        text_emb = F.normalize(model.encode_text(tokenizer(captions)), dim=-1)  # N x D
        logits = model.logit_scale.exp() * image_emb @ text_emb.t()  # N x N
        loss = (F.cross_entropy(logits, targets) + F.cross_entropy(logits.t(), targets)) / 2
        optimiser_step(loss, optimizer, scheduler, log)
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
    return model.eval(), log


@torch.no_grad()
def zero_shot_accuracy(image_embeddings: Tensor, class_embeddings: Tensor, labels: Tensor,
                       subset: Optional[Sequence[int]] = None) -> float:
    """Top-1 accuracy of nearest-text classification.

    Args:
        image_embeddings (Tensor): K x D image embeddings.
        class_embeddings (Tensor): N x D normalised class embeddings.
        labels (Tensor): K labels in 0..N-1.
        subset (Sequence[int], optional): Classify among these classes only (and score only the
            pictures of these classes), e.g. the 61 test classes.

    Returns:
        float: The accuracy in [0, 1].
    """
    scores = F.normalize(image_embeddings.float(), dim=-1) @ class_embeddings.float().t()
    if subset is not None:
        subset = torch.as_tensor(list(subset))
        keep = torch.isin(labels, subset)
        remap = torch.full((class_embeddings.shape[0], ), -1, dtype=torch.long)
        remap[subset] = torch.arange(len(subset))
        scores, labels = scores[keep][:, subset], remap[labels[keep]]
    return float((scores.argmax(dim=1) == labels).float().mean())
