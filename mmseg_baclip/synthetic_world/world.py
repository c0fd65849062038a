"""The synthetic open-vocabulary world: an OVCamo-layout tree plus the two foundation models.

What it is: every one of the 75 OVCamo class names has its own look
(:mod:`~mmseg_baclip.synthetic_world.appearance`). Two foundation models are pretrained here on
pictures of all 75 classes from a separate seed stream (:mod:`.pictures`), as the real ones were
pretrained on web images and SA-1B: a tiny CLIP, contrastively, on region-caption pairs
(:mod:`.clip_pretraining`), and a tiny SAM on box- and point-prompted, class-agnostic
segmentation (:mod:`.sam_pretraining`). BaCLIP then trains on the 14 training classes of the
OVCamo-layout tree and is tested on the 61 unseen ones, with the CLIP frozen and SAM's prompt
encoder and mask decoder loaded from the SAM file. What it is not: a measure of accuracy on real
OVCamo. It shows that the open-vocabulary mechanism (frozen CLIP, SAM prompted by text, class
from masked pooling, class-aware metric) works end to end, nothing more.

Layout under ``root`` (cached; rebuilt only when missing or built with other settings)::

    root/ovcamo/                            the OVCamo-layout tree (train: 14 classes, test: 61)
    root/clip/open_clip_pytorch_model.bin   the tiny CLIP (an open_clip state dict)
    root/sam/sam_vit_tiny_synthetic.pth     the tiny SAM (Meta's sam_vit_*.pth layout)
    root/world.json                         settings, held-out checks, file digests, timings
"""
import json
import os
import os.path as osp
import time
from dataclasses import asdict, dataclass
from typing import Callable, Dict, Optional, Tuple

import numpy as np
import torch

from ..datasets.class_names import OVCAMO_TEST_CLASSES, OVCAMO_TRAIN_CLASSES
from ..utils.file_fingerprint import file_sha256
from ..utils.init_report import quiet_mmengine_logger
from .clip_pretraining import pretrain_clip, to_clip_input, zero_shot_accuracy
from .ovcamo_tree import make_synthetic_ovcamo
from .pictures import HELDOUT_STREAM, PRETRAIN_STREAM, render_pictures
from .sam_pretraining import TinySAMConfig, box_prompted_iou, build_tiny_sam, pretrain_sam

CLIP_FILE = osp.join('clip', 'open_clip_pytorch_model.bin')
SAM_FILE = osp.join('sam', 'sam_vit_tiny_synthetic.pth')
MANIFEST = 'world.json'
CLASS_NAMES = tuple(OVCAMO_TRAIN_CLASSES) + tuple(OVCAMO_TEST_CLASSES)


@dataclass(frozen=True)
class WorldSettings:
    """Everything that determines the world's files (the cache key).

    The defaults were fixed by the world's own measures (the CLIP's zero-shot top-1 with
    ground-truth masks, SAM's box-prompted IoU, the build time), never by BaCLIP's results:
    ``docs/synthetic_world_settings.md``.

    Attributes:
        seed (int): World seed.
        num_train (int): Training images of the OVCamo-layout tree (14 classes).
        num_test (int): Test images (61 classes, round-robin).
        image_size (int): Base side of those images.
        colour_shift_min, colour_shift_max (float): Range of the background's colour shift
            against the object's class colours, in grey levels (most-changed channel), in the
            tree and in the pretraining pictures alike
            (:func:`~mmseg_baclip.synthetic_world.ovcamo_tree.render_sample`).
        picture_size (int): Side of the pretraining pictures (BaCLIP's small input size).
        pretrain_per_class (int): Pretraining pictures per class (75 classes), shared by the
            CLIP and the SAM pretraining.
        heldout_per_class (int): Held-out pictures per class for the checks.
        clip_model (str): open_clip model name of the tiny CLIP.
        clip_windows (tuple[int, ...]): Window sides cut around the objects at each CLIP step.
        clip_steps (int): Contrastive steps (75 region-caption pairs each).
        clip_lr (float): Peak learning rate of the CLIP.
        sam_steps (int): SAM steps.
        sam_batch_size (int): Pictures per SAM step.
        sam_lr (float): Peak learning rate of the SAM.
    """
    seed: int = 0
    num_train: int = 200
    num_test: int = 122
    image_size: int = 384
    colour_shift_min: float = 30.0
    colour_shift_max: float = 50.0
    picture_size: int = 192
    pretrain_per_class: int = 30
    heldout_per_class: int = 8
    clip_model: str = 'convnext_atto_baclip_tiny'
    clip_windows: Tuple[int, ...] = (64, 96)
    clip_steps: int = 250
    clip_lr: float = 4e-3
    sam_steps: int = 250
    sam_batch_size: int = 16
    sam_lr: float = 2e-3


def _colour_shift(settings: WorldSettings) -> Tuple[float, float]:
    return settings.colour_shift_min, settings.colour_shift_max


def _as_json(settings: WorldSettings) -> Dict:
    """The settings as the manifest stores them (tuples become lists)."""
    return json.loads(json.dumps(asdict(settings)))


def load_world_manifest(root: str) -> Optional[Dict]:
    """The manifest of a complete world under ``root``, or None (missing or incomplete)."""
    path = osp.join(root, MANIFEST)
    if not osp.isfile(path) or not all(osp.isfile(osp.join(root, f))
                                       for f in (CLIP_FILE, SAM_FILE)):
        return None
    with open(path, encoding='utf-8') as f:
        return json.load(f)


Pictures = Tuple[np.ndarray, np.ndarray, np.ndarray]  # images, masks, labels


def heldout_pictures(settings: WorldSettings) -> Pictures:
    """The held-out pictures the checks use (their own seed stream)."""
    return render_pictures(CLASS_NAMES, settings.heldout_per_class, settings.seed,
                           HELDOUT_STREAM, size=settings.picture_size,
                           colour_shift=_colour_shift(settings))


@torch.no_grad()
def heldout_zero_shot(clip_file: str, settings: WorldSettings,
                      pictures: Optional[Pictures] = None) -> Dict[str, float]:
    """Zero-shot top-1 of the CLIP file on held-out pictures, through BaCLIP's loading path.

    The file is loaded by ``OpenCLIPConvNeXt`` and ``OpenCLIPTextEncoder`` exactly as a
    BaCLIP config loads it; each object is named as BaCLIP names it, from the stride-32 map
    pooled with its (here: ground-truth) mask, against CamoPrompts ensembles.

    Args:
        clip_file (str): The open_clip file.
        settings (WorldSettings): The world's settings.
        pictures (tuple, optional): :func:`heldout_pictures` (rendered when not given).

    Returns:
        dict: ``zero_shot_top1_75`` (75-way, all classes), ``zero_shot_top1_test61`` (61-way,
        test classes) and their ``chance`` levels.
    """
    from ..models.backbones import OpenCLIPConvNeXt
    from ..models.text_encoders import OpenCLIPTextEncoder
    images, masks, labels = pictures if pictures is not None else heldout_pictures(settings)
    tower = OpenCLIPConvNeXt(settings.clip_model, checkpoint=clip_file)
    tower.init_weights()
    # A file just written is measured once: no disk cache, and no timing line in the world's
    # own report.
    text = OpenCLIPTextEncoder(settings.clip_model, checkpoint=clip_file, disk_cache=False)
    text.init_weights()
    last = tower(to_clip_input(images))[-1]
    image_emb = tower.masked_embedding(last, torch.from_numpy(masks).float()[:, None])
    with quiet_mmengine_logger():
        class_emb = text(list(CLASS_NAMES))
    labels = torch.as_tensor(labels)
    test_ids = range(len(OVCAMO_TRAIN_CLASSES), len(CLASS_NAMES))
    return dict(zero_shot_top1_75=zero_shot_accuracy(image_emb, class_emb, labels),
                zero_shot_top1_test61=zero_shot_accuracy(image_emb, class_emb, labels, test_ids),
                chance_75=1 / len(CLASS_NAMES), chance_test61=1 / len(test_ids))


def heldout_box_iou(sam_file: str, settings: WorldSettings,
                    pictures: Optional[Pictures] = None) -> float:
    """Box-prompted IoU of the SAM file on held-out pictures (:func:`heldout_pictures`, rendered
    when not given), the file loaded strictly into a fresh tiny SAM, weights only."""
    sam = build_tiny_sam(TinySAMConfig(image_size=settings.picture_size))
    sam.load_state_dict(torch.load(sam_file, map_location='cpu', weights_only=True))
    images, masks, _ = pictures if pictures is not None else heldout_pictures(settings)
    return box_prompted_iou(sam, images, masks)


def _clip_line(manifest: Dict, seconds: Optional[float] = None) -> str:
    settings = manifest['settings']
    took = f' ({seconds:.0f} s)' if seconds is not None else ''
    return (f'[world] tiny CLIP ({settings["clip_model"]}, {settings["clip_steps"]} steps of 75 '
            f'region-caption pairs): zero-shot top-1 on held-out pictures '
            f'{manifest["zero_shot_top1_test61"]:.3f} over the 61 test classes (chance '
            f'{manifest["chance_test61"]:.3f}){took}')


def _sam_line(manifest: Dict, seconds: Optional[float] = None) -> str:
    took = f' ({seconds:.0f} s)' if seconds is not None else ''
    return (f'[world] tiny SAM ({manifest["settings"]["sam_steps"]} steps of box and point '
            f'prompts): box-prompted IoU on held-out pictures {manifest["box_iou"]:.3f}{took}')


def _save_atomically(state: Dict[str, torch.Tensor], path: str) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    torch.save(state, path + '.tmp')
    os.replace(path + '.tmp', path)


def build_synthetic_world(root: str, settings: WorldSettings = WorldSettings(),
                          force: bool = False, progress: bool = True) -> Dict:
    """Build (or find in the cache) the synthetic open-vocabulary world under ``root``.

    Deterministic for ``settings`` on one machine and thread count (the images are
    byte-identical; the weights are identical for the same torch build).

    Args:
        root (str): Output folder, e.g. ``data/synthetic_ov_world``.
        settings (WorldSettings): What to build.
        force (bool): Rebuild even if a world with the same settings is there.
        progress (bool): Messages (one line per phase, with its time).

    Returns:
        dict: The manifest: ``settings``, ``data_root``, ``clip_checkpoint``, ``clip_sha256``,
        ``sam_checkpoint``, ``sam_sha256``, the held-out checks (``zero_shot_top1_*``,
        ``box_iou``), the pretraining losses and ``seconds`` (total and per phase).
    """
    say: Callable = print if progress else (lambda *a, **k: None)
    manifest = load_world_manifest(root)
    if not force and manifest is not None and manifest.get('settings') == _as_json(settings):
        say(f'[world] reusing the world in {root}, built earlier with the same settings in '
            f'{manifest["seconds"]["total"]:.0f} s (--force rebuilds it)')
        say(_clip_line(manifest))
        say(_sam_line(manifest))
        return manifest
    seconds: Dict[str, float] = {}
    clock = time.perf_counter()

    def lap(phase: str) -> float:
        nonlocal clock
        now = time.perf_counter()
        seconds[phase] = round(now - clock, 1)
        clock = now
        return seconds[phase]

    data_root = osp.join(root, 'ovcamo')
    make_synthetic_ovcamo(data_root, num_train=settings.num_train, num_test=settings.num_test,
                          size=(settings.image_size, settings.image_size), seed=settings.seed,
                          colour_shift=_colour_shift(settings))
    say(f'[world] OVCamo-layout tree: {settings.num_train} train images (14 classes), '
        f'{settings.num_test} test images (61 classes) -> {data_root} ({lap("tree"):.0f} s)')
    images, masks, labels = render_pictures(
        CLASS_NAMES, settings.pretrain_per_class, settings.seed, PRETRAIN_STREAM,
        size=settings.picture_size, colour_shift=_colour_shift(settings))
    heldout = heldout_pictures(settings)
    say(f'[world] pretraining pictures: {settings.pretrain_per_class} of each of the 75 classes '
        f'and {settings.heldout_per_class} held out (their own seed streams, never the tree\'s '
        f'images) ({lap("pictures"):.0f} s)')

    clip, clip_log = pretrain_clip(settings.clip_model, CLASS_NAMES, images, masks, labels,
                                   steps=settings.clip_steps, lr=settings.clip_lr,
                                   seed=settings.seed, window_sizes=settings.clip_windows)
    clip_file = osp.join(root, CLIP_FILE)
    _save_atomically(clip.state_dict(), clip_file)
    accuracy = heldout_zero_shot(clip_file, settings, heldout)
    say(_clip_line(dict(settings=_as_json(settings), **accuracy), lap('clip')))

    sam, sam_log = pretrain_sam(images, masks, steps=settings.sam_steps,
                                batch_size=settings.sam_batch_size, lr=settings.sam_lr,
                                seed=settings.seed,
                                config=TinySAMConfig(image_size=settings.picture_size))
    sam_file = osp.join(root, SAM_FILE)
    _save_atomically(sam.state_dict(), sam_file)
    box_iou = heldout_box_iou(sam_file, settings, heldout)
    say(_sam_line(dict(settings=_as_json(settings), box_iou=box_iou), lap('sam')))

    manifest = dict(settings=_as_json(settings), data_root=data_root, clip_checkpoint=clip_file,
                    clip_sha256=file_sha256(clip_file), sam_checkpoint=sam_file,
                    sam_sha256=file_sha256(sam_file), **accuracy, box_iou=box_iou,
                    clip_loss=clip_log, sam_loss=sam_log,
                    seconds=dict(total=round(sum(seconds.values()), 1), **seconds))
    with open(osp.join(root, MANIFEST), 'w', encoding='utf-8') as f:
        json.dump(manifest, f, indent=1)
    say(f'[world] built in {manifest["seconds"]["total"]:.0f} s')
    return manifest
