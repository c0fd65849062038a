"""The synthetic open-vocabulary world: an OVCamo-layout tree plus a CLIP that knows its classes.

What it is: every one of the 75 OVCamo class names has its own look
(:mod:`~mmseg_baclip.synthetic_world.appearance`); a tiny CLIP is pretrained here,
contrastively, on pictures of all 75 classes from a separate seed stream, like web-scale CLIP
pretraining; BaCLIP then trains on the 14 training classes of the OVCamo-layout tree and is
tested on the 61 unseen ones with that CLIP frozen. What it is not: a measure of accuracy on real
OVCamo. It shows that the open-vocabulary mechanism (frozen CLIP, class from masked pooling,
class-aware metric) works end to end, nothing more.

Layout under ``root`` (cached; rebuilt only when missing or built with other settings)::

    root/ovcamo/                            the OVCamo-layout tree (train: 14 classes, test: 61)
    root/clip/open_clip_pytorch_model.bin   the pretrained tiny CLIP (open_clip state dict)
    root/world.json                         settings, zero-shot accuracies, file digest, timings
"""
import json
import os
import os.path as osp
import time
from dataclasses import asdict, dataclass
from typing import Dict, Optional, Tuple

import torch

from ..datasets.class_names import OVCAMO_TEST_CLASSES, OVCAMO_TRAIN_CLASSES
from .ovcamo_tree import make_synthetic_ovcamo
from ..utils.file_fingerprint import file_sha256
from .clip_pretraining import (_HELDOUT_STREAM, _PRETRAIN_STREAM, pretrain_clip, render_crops,
                               to_clip_input, zero_shot_accuracy)

CLIP_FILE = osp.join('clip', 'open_clip_pytorch_model.bin')
MANIFEST = 'world.json'
CLASS_NAMES = tuple(OVCAMO_TRAIN_CLASSES) + tuple(OVCAMO_TEST_CLASSES)


@dataclass(frozen=True)
class WorldSettings:
    """Everything that determines the world's files (the cache key).

    Attributes:
        seed (int): World seed.
        num_train (int): Training images of the OVCamo-layout tree (14 classes).
        num_test (int): Test images (61 classes, round-robin).
        image_size (int): Base side of those images.
        colour_shift_min, colour_shift_max (float): Range of the background's colour shift
            against the object's class colours, in grey levels (most-changed channel), in the
            tree and in the pretraining pictures alike
            (:func:`~mmseg_baclip.synthetic_world.ovcamo_tree.render_sample`).
        clip_model (str): open_clip model name of the tiny CLIP.
        pretrain_per_class (int): Pretraining pictures per class (75 classes).
        crop_size (int): Side of those pictures, cut without resizing from 192x192 scenes (the
            pixel scale BaCLIP's 192x192 inputs have).
        pretrain_windows (tuple[int, ...]): Window sides cut from those pictures at each
            pretraining step (see :func:`pretrain_clip`); empty: whole pictures. Pictures of
            one size (96 px, a 3x3 stride-32 map) gave a CLIP whose zero-shot recognition on
            192x192 inputs was erratic (0.46 with ground-truth masks at a colour shift of
            12-24, 0.03 at 30-50); windows of 96 or 128 px made it hold
            (``docs/synthetic_world_settings.md``).
        heldout_per_class (int): Held-out pictures per class for the zero-shot check.
        pretrain_steps (int): Contrastive steps (75 pairs each).
        pretrain_lr (float): Peak learning rate.
    """
    seed: int = 0
    num_train: int = 200
    num_test: int = 122
    image_size: int = 384
    colour_shift_min: float = 30.0
    colour_shift_max: float = 50.0
    clip_model: str = 'convnext_atto_baclip_tiny'
    pretrain_per_class: int = 30
    crop_size: int = 128
    pretrain_windows: Tuple[int, ...] = (96, 128)
    heldout_per_class: int = 8
    pretrain_steps: int = 400
    pretrain_lr: float = 2e-3


def _colour_shift(settings: WorldSettings) -> Tuple[float, float]:
    return settings.colour_shift_min, settings.colour_shift_max


def _as_json(settings: WorldSettings) -> Dict:
    """The settings as the manifest stores them (tuples become lists)."""
    return json.loads(json.dumps(asdict(settings)))


def load_world_manifest(root: str) -> Optional[Dict]:
    """The manifest of a complete world under ``root``, or None (missing or incomplete)."""
    path = osp.join(root, MANIFEST)
    if not osp.isfile(path) or not osp.isfile(osp.join(root, CLIP_FILE)):
        return None
    with open(path, encoding='utf-8') as f:
        return json.load(f)


@torch.no_grad()
def heldout_zero_shot(clip_file: str, settings: WorldSettings) -> Dict[str, float]:
    """Zero-shot top-1 of the CLIP file on held-out pictures, through the real loading path.

    The file is loaded by ``OpenCLIPConvNeXt`` and ``OpenCLIPTextEncoder`` exactly as a
    BaCLIP config loads it; class embeddings are CamoPrompts ensembles as in BaCLIP.

    Returns:
        dict: ``zero_shot_top1_75`` (75-way, all classes), ``zero_shot_top1_test61`` (61-way,
        test classes) and their ``chance`` levels.
    """
    from ..models.backbones import OpenCLIPConvNeXt
    from ..models.text_encoders import OpenCLIPTextEncoder
    images, labels = render_crops(CLASS_NAMES, settings.heldout_per_class, settings.seed,
                                  _HELDOUT_STREAM, crop=settings.crop_size,
                                  colour_shift=_colour_shift(settings))
    tower = OpenCLIPConvNeXt(settings.clip_model, checkpoint=clip_file)
    tower.init_weights()
    text = OpenCLIPTextEncoder(settings.clip_model, checkpoint=clip_file)
    text.init_weights()
    image_emb = tower.encode_image(to_clip_input(images))
    class_emb = text(list(CLASS_NAMES))
    labels = torch.as_tensor(labels)
    test_ids = range(len(OVCAMO_TRAIN_CLASSES), len(CLASS_NAMES))
    return dict(zero_shot_top1_75=zero_shot_accuracy(image_emb, class_emb, labels),
                zero_shot_top1_test61=zero_shot_accuracy(image_emb, class_emb, labels, test_ids),
                chance_75=1 / len(CLASS_NAMES), chance_test61=1 / len(test_ids))


def build_synthetic_world(root: str, settings: WorldSettings = WorldSettings(),
                          force: bool = False, progress: bool = True) -> Dict:
    """Build (or find in the cache) the synthetic open-vocabulary world under ``root``.

    Deterministic for ``settings`` on one machine and thread count (the images are
    byte-identical; the CLIP weights are identical for the same torch build).

    Args:
        root (str): Output folder, e.g. ``data/synthetic_ov_world``.
        settings (WorldSettings): What to build.
        force (bool): Rebuild even if a world with the same settings is there.
        progress (bool): Progress bars and messages.

    Returns:
        dict: The manifest: ``settings``, ``data_root``, ``clip_checkpoint``, ``clip_sha256``,
        the held-out zero-shot accuracies, ``pretrain_loss`` and ``seconds``.
    """
    manifest = load_world_manifest(root)
    if not force and manifest is not None and manifest.get('settings') == _as_json(settings):
        if progress:
            print(f'[world] using the cached synthetic world in {root}')
        return manifest
    say = print if progress else (lambda *a, **k: None)
    start = time.perf_counter()
    data_root = osp.join(root, 'ovcamo')
    say(f'[world] 1/3 OVCamo-layout tree: {settings.num_train} train images (14 classes), '
        f'{settings.num_test} test images (61 classes) -> {data_root}')
    make_synthetic_ovcamo(data_root, num_train=settings.num_train, num_test=settings.num_test,
                          size=(settings.image_size, settings.image_size), seed=settings.seed,
                          colour_shift=_colour_shift(settings))
    say(f'[world] 2/3 rendering {settings.pretrain_per_class} pretraining pictures of each of '
        f'the 75 classes (their own seed stream, not the tree above)')
    images, labels = render_crops(CLASS_NAMES, settings.pretrain_per_class, settings.seed,
                                  _PRETRAIN_STREAM, crop=settings.crop_size,
                                  colour_shift=_colour_shift(settings), progress=progress)
    say(f'[world] 3/3 contrastive pretraining of the tiny CLIP ({settings.clip_model}), '
        f'{settings.pretrain_steps} steps of 75 image-caption pairs')
    model, log = pretrain_clip(settings.clip_model, CLASS_NAMES, images, labels,
                               steps=settings.pretrain_steps, lr=settings.pretrain_lr,
                               seed=settings.seed, window_sizes=settings.pretrain_windows,
                               progress=progress)
    clip_file = osp.join(root, CLIP_FILE)
    os.makedirs(osp.dirname(clip_file), exist_ok=True)
    torch.save(model.state_dict(), clip_file + '.tmp')
    os.replace(clip_file + '.tmp', clip_file)
    accuracy = heldout_zero_shot(clip_file, settings)
    manifest = dict(settings=_as_json(settings), data_root=data_root, clip_checkpoint=clip_file,
                    clip_sha256=file_sha256(clip_file), pretrain_loss=log, **accuracy,
                    seconds=round(time.perf_counter() - start, 1))
    with open(osp.join(root, MANIFEST), 'w', encoding='utf-8') as f:
        json.dump(manifest, f, indent=1)
    say(f'[world] tiny CLIP zero-shot top-1 on held-out pictures: '
        f'{accuracy["zero_shot_top1_test61"]:.3f} over the 61 test classes (chance '
        f'{accuracy["chance_test61"]:.3f}), {accuracy["zero_shot_top1_75"]:.3f} over all 75; '
        f'built in {manifest["seconds"]:.0f} s')
    return manifest
