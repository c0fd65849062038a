"""Contrastive pretraining of a tiny open_clip CLIP on the synthetic world's object pictures.

The stand-in for web-scale CLIP pretraining: image-caption pairs of all 75 OVCamo classes,
drawn from their own seed stream (never the images of the OVCamo-layout tree). Each step takes
one picture of every class (75 pairs, so a batch has no two captions of one class) and a
caption from a web-style template set (open_clip's 80 ImageNet templates: "a bad photo of a
{}.", ...), and minimises CLIP's symmetric InfoNCE loss. The test-time prompts (CamoPrompts)
are never seen, as with real CLIP.

The result is written as a plain open_clip state dict (``open_clip_pytorch_model.bin``, like
the files on the Hugging Face hub), loaded by ``OpenCLIPConvNeXt`` / ``OpenCLIPTextEncoder``
through their ``checkpoint`` argument like the real ConvNeXt-L file.
"""
import math
from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np
import open_clip
import torch
import torch.nn.functional as F
from mmengine.utils import ProgressBar
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES
from torch import Tensor

from .ovcamo_tree import render_object_crop
from ..models.utils.open_clip_utils import register_bundled_clip_configs

PRETRAIN_TEMPLATES = tuple(t('{}') for t in OPENAI_IMAGENET_TEMPLATES)
_PRETRAIN_STREAM, _HELDOUT_STREAM = 3, 4  # seed streams; 1 and 2 are the OVCamo train/test trees


def render_crops(class_names: Sequence[str], per_class: int, seed: int, stream: int,
                 crop: int = 64, scene: int = 192,
                 colour_shift: Tuple[float, float] = (12.0, 24.0), progress: bool = False
                 ) -> Tuple[np.ndarray, np.ndarray]:
    """Render object pictures of every class.

    Args:
        class_names (Sequence[str]): The classes; label i is ``class_names[i]``.
        per_class (int): Pictures per class.
        seed (int): World seed.
        stream (int): Seed stream (pretraining 3, held-out 4).
        crop (int): Picture side. Default: 64.
        scene (int): Side of the scene each picture is cut from. Default: 192.
        colour_shift (tuple[float, float]): The background's colour shift in those scenes
            (see :func:`~mmseg_baclip.synthetic_world.ovcamo_tree.render_sample`).
        progress (bool): Show a progress bar.

    Returns:
        tuple: ``images`` (K, crop, crop, 3) uint8 RGB and ``labels`` (K,) int64, class-major.
    """
    images, labels = [], []
    bar = ProgressBar(len(class_names) * per_class) if progress else None
    for label, name in enumerate(class_names):
        for i in range(per_class):
            rng = np.random.default_rng([seed, stream, label, i])
            bgr = render_object_crop(rng, name, crop=crop, scene=scene,
                                     colour_shift=colour_shift)
            images.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            labels.append(label)
            if bar is not None:
                bar.update()
    if bar is not None:
        print()
    return np.stack(images), np.asarray(labels, np.int64)


def to_clip_input(images: np.ndarray) -> Tensor:
    """(K, H, W, 3) uint8 RGB -> K x 3 x H x W float, normalised with CLIP's mean/std."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(OPENAI_DATASET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def _random_dihedral(x: Tensor, generator: torch.Generator) -> Tensor:
    """Flip and rotate each picture by a random element of the dihedral group (B x 3 x S x S)."""
    out = []
    for i, code in enumerate(torch.randint(0, 8, (x.shape[0], ), generator=generator).tolist()):
        img = torch.rot90(x[i], k=code % 4, dims=(1, 2))
        out.append(img.flip(-1) if code >= 4 else img)
    return torch.stack(out)


def _random_window(x: Tensor, sizes: Optional[Sequence[int]],
                   generator: torch.Generator) -> Tensor:
    """A window of one side drawn from ``sizes``, at a random place in each picture."""
    if not sizes:
        return x
    side = int(sizes[int(torch.randint(len(sizes), (1, ), generator=generator))])
    span = x.shape[-1] - side + 1
    if span < 1:
        raise ValueError(f'window side {side} is larger than the pictures ({x.shape[-1]})')
    offsets = torch.randint(span, (x.shape[0], 2), generator=generator).tolist()
    return torch.stack([img[:, top:top + side, left:left + side]
                        for img, (top, left) in zip(x, offsets)])


def pretrain_clip(model_name: str, class_names: Sequence[str], images: np.ndarray,
                  labels: np.ndarray, steps: int = 150, lr: float = 2e-3, seed: int = 0,
                  window_sizes: Optional[Sequence[int]] = None,
                  progress: bool = False) -> Tuple[torch.nn.Module, Dict]:
    """Train an open_clip model from scratch on (picture, caption) pairs.

    Args:
        model_name (str): open_clip model name (e.g. the bundled
            ``'convnext_atto_baclip_tiny'``).
        class_names (Sequence[str]): Names of labels 0..N-1.
        images (np.ndarray): (K, S, S, 3) uint8 RGB pictures, every class present.
        labels (np.ndarray): (K,) labels.
        steps (int): Optimiser steps; each sees one picture of every class (0: the random
            initial weights, a control). Default: 150.
        lr (float): AdamW peak learning rate (warm-up 10%, cosine to 0). Default: 2e-3.
        seed (int): Seeds the weights, the sampling and the captions.
        window_sizes (Sequence[int], optional): Each step cuts a window of one of these sides
            (drawn per step) at a random place of every picture. Varying the side varies the
            size of the last feature map, so that the image features do not depend on one map
            size (trained on one size, zero-shot recognition on the larger test images was
            erratic). None: whole pictures.
        progress (bool): Show a progress bar.

    Returns:
        tuple: The trained model (eval mode) and a log ``{'loss_first', 'loss_last'}``.
    """
    register_bundled_clip_configs()
    torch.manual_seed(seed)
    model = open_clip.create_model(model_name, pretrained=None)
    tokenizer = open_clip.get_tokenizer(model_name)
    generator = torch.Generator().manual_seed(seed)
    inputs = to_clip_input(images)
    by_class = [np.flatnonzero(labels == c) for c in range(len(class_names))]
    if any(len(idx) == 0 for idx in by_class):
        raise ValueError('pretrain_clip needs at least one picture of every class.')
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    warmup = max(1, steps // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * s / max(steps, 1))))
    model.train()
    log, bar = dict(loss_first=None, loss_last=None), (ProgressBar(steps) if progress else None)
    targets = torch.arange(len(class_names))
    for step in range(steps):
        picks = [int(idx[torch.randint(len(idx), (1, ), generator=generator)])
                 for idx in by_class]  # one picture per class
        batch = _random_dihedral(_random_window(inputs[picks], window_sizes, generator),
                                 generator)
        template_ids = torch.randint(len(PRETRAIN_TEMPLATES), (len(class_names), ),
                                     generator=generator).tolist()
        captions = [PRETRAIN_TEMPLATES[t].format(n) for t, n in zip(template_ids, class_names)]
        image_emb = F.normalize(model.encode_image(batch), dim=-1)  # N x D
        text_emb = F.normalize(model.encode_text(tokenizer(captions)), dim=-1)  # N x D
        logits = model.logit_scale.exp() * image_emb @ text_emb.t()  # N x N
        loss = (F.cross_entropy(logits, targets) + F.cross_entropy(logits.t(), targets)) / 2
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        if log['loss_first'] is None:
            log['loss_first'] = loss.item()
        log['loss_last'] = loss.item()
        if bar is not None:
            bar.update()
    if bar is not None:
        print()
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
