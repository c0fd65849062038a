"""A synthetic OVCamo-like dataset, written in exactly the official layout.

Each image is a camouflage-like scene of one class: one or two objects wearing the class's look
(:mod:`~mmseg_baclip.synthetic_world.appearance`: colour, pattern family and scale, outline
statistics) in a background of nearly the same colours. The object differs from the background by
real but modest cues that do not depend on the class (see :func:`render_sample`): a random pattern
family, period and orientation, a lower pattern contrast, and a colour shift whose range is a
parameter (``colour_shift``). Objects have soft irregular outlines (a random smooth polar
contour, blurred when blended), varied sizes and positions, and some images have another size
than the rest. The mask is the hard outline.

Everything is deterministic for a seed (the same bytes on the same OpenCV build), uses numpy and
OpenCV only, and takes about 25 ms per 384x384 image on one core.

Example:
    >>> from mmseg_baclip.synthetic_world import make_synthetic_ovcamo
    >>> summary = make_synthetic_ovcamo('data/ovcamo_synthetic', num_train=200, num_test=60)
"""
import json
import os
import os.path as osp
import zlib
from typing import Dict, List, Sequence, Tuple, Union

import cv2
import numpy as np

from ..datasets.class_names import OVCAMO_TEST_CLASSES, OVCAMO_TRAIN_CLASSES
from .appearance import PATTERN_KINDS, ClassAppearance, class_appearance
_SPLIT_CODES = {'train': 1, 'test': 2}


def _smooth_noise(rng: np.random.Generator, shape: Tuple[int, int], cell: float) -> np.ndarray:
    """Zero-mean, unit-variance smooth noise: random values on a grid of ``cell`` px, upsampled.

    Args:
        rng (np.random.Generator): Random source.
        shape (tuple[int, int]): Output (H, W).
        cell (float): Grid spacing in pixels (the feature size).

    Returns:
        np.ndarray: ``(H, W)`` float32.
    """
    h, w = shape
    gh, gw = max(2, int(np.ceil(h / cell)) + 2), max(2, int(np.ceil(w / cell)) + 2)
    grid = rng.standard_normal((gh, gw)).astype(np.float32)
    big = cv2.resize(grid, (int(gw * cell), int(gh * cell)), interpolation=cv2.INTER_CUBIC)
    oy, ox = int(cell), int(cell)
    out = big[oy:oy + h, ox:ox + w]
    if out.shape != (h, w):  # tiny images: fall back to a direct resize
        out = cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
    return (out - out.mean()) / (out.std() + 1e-6)


def _pattern(rng: np.random.Generator, shape: Tuple[int, int], kind: str, angle: float,
             period: float) -> np.ndarray:
    """One procedural pattern in [0, 1].

    Args:
        rng (np.random.Generator): Random source.
        shape (tuple[int, int]): Output (H, W).
        kind (str): ``'stripes'`` (wavy sinusoidal bands), ``'streaks'`` (noise stretched along
            ``angle``) or ``'blobs'`` (thresholded smooth noise, elongated along ``angle``).
        angle (float): Orientation in radians.
        period (float): Feature size in pixels.

    Returns:
        np.ndarray: ``(H, W)`` float32 in [0, 1].
    """
    h, w = shape
    if kind == 'stripes':
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        coord = xx * np.cos(angle) + yy * np.sin(angle)
        warp = _smooth_noise(rng, shape, period * 3.0) * 1.2
        phase = rng.uniform(0, 2 * np.pi)
        return 0.5 + 0.5 * np.sin(2 * np.pi * coord / period + warp + phase)
    # streaks / blobs: anisotropic noise drawn on a square canvas, rotated, cropped.
    side = int(np.ceil(np.hypot(h, w))) + 2
    stretch = 4.0 if kind == 'streaks' else 1.8
    gh = max(2, int(np.ceil(side / (period * 0.5))))
    gw = max(2, int(np.ceil(side / (period * 0.5 * stretch))))
    grid = rng.standard_normal((gh, gw)).astype(np.float32)
    canvas = cv2.resize(grid, (side, side), interpolation=cv2.INTER_CUBIC)
    rot = cv2.getRotationMatrix2D((side / 2, side / 2), float(np.degrees(angle)), 1.0)
    rot[:, 2] -= ((side - w) / 2, (side - h) / 2)
    noise = cv2.warpAffine(canvas, rot, (w, h), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT)
    noise = (noise - noise.mean()) / (noise.std() + 1e-6)
    sharp = 1.5 if kind == 'streaks' else 3.0
    return 1.0 / (1.0 + np.exp(-sharp * noise))


def _colours(hue: float, saturation: float, value_dark: float,
             value_light: float) -> np.ndarray:
    """Two colours (dark, light) of one hue as a ``(2, 3)`` float32 BGR array in [0, 255]."""
    hsv = np.array([[[hue % 180.0, saturation, value_dark],
                     [hue % 180.0, saturation * 0.85, value_light]]], np.float32)
    hsv[..., 1:] = np.clip(hsv[..., 1:], 0, 255)
    bgr = cv2.cvtColor(np.round(hsv).astype(np.uint8), cv2.COLOR_HSV2BGR)
    return bgr[0].astype(np.float32)


def _class_colours(rng: np.random.Generator, look: ClassAppearance) -> np.ndarray:
    """The class's colours with a small per-image jitter."""
    return _colours(look.hue + rng.uniform(-1.0, 1.0),
                    look.saturation * rng.uniform(0.9, 1.1),
                    look.value_dark * rng.uniform(0.9, 1.1),
                    look.value_light * rng.uniform(0.93, 1.05))


def _texture(rng: np.random.Generator, shape: Tuple[int, int], kind: str, angle: float,
             period: float, colours: np.ndarray) -> np.ndarray:
    """A coloured texture: the two colours mixed by a pattern. Returns ``(H, W, 3)`` float32."""
    p = _pattern(rng, shape, kind, angle, period)[..., None]
    return colours[0] * (1.0 - p) + colours[1] * p


def _object_mask(rng: np.random.Generator, shape: Tuple[int, int], radius: float,
                 centre: Tuple[float, float], aspect: float = 0.7,
                 lobes: float = 0.28) -> np.ndarray:
    """A filled random smooth polar contour.

    Args:
        rng (np.random.Generator): Random source.
        shape (tuple[int, int]): (H, W).
        radius (float): Mean radius in pixels.
        centre (tuple[float, float]): (x, y) in pixels.
        aspect (float): Typical minor/major axis ratio (jittered by +-0.1).
        lobes (float): Amplitude of the outline's irregularity.

    Returns:
        np.ndarray: ``(H, W)`` uint8 in {0, 1}.
    """
    phi = np.linspace(0, 2 * np.pi, 180, endpoint=False)
    r = np.ones_like(phi)
    for k in range(2, 7):
        r += rng.uniform(0, lobes / k ** 0.7) * np.cos(k * phi + rng.uniform(0, 2 * np.pi))
    r = np.clip(r, 0.35, None) * radius
    aspect = float(np.clip(aspect + rng.uniform(-0.1, 0.1), 0.3, 1.0))
    tilt = rng.uniform(0, np.pi)
    x, y = r * np.cos(phi), r * np.sin(phi) * aspect
    xs = centre[0] + x * np.cos(tilt) - y * np.sin(tilt)
    ys = centre[1] + x * np.sin(tilt) + y * np.cos(tilt)
    pts = np.round(np.stack([xs, ys], axis=1) * 16).astype(np.int32)  # 4 fractional bits
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [pts], 1, lineType=cv2.LINE_8, shift=4)
    return mask


def render_sample(rng: np.random.Generator, shape: Tuple[int, int],
                  look: Union[ClassAppearance, str],
                  colour_shift: Tuple[float, float] = (12.0, 24.0)
                  ) -> Tuple[np.ndarray, np.ndarray]:
    """Render one camouflage scene of a class.

    The object wears its class's look (colour, pattern family and scale, outline statistics,
    see :mod:`~mmseg_baclip.synthetic_world.appearance`). What it hides in is close to it, as
    animals match their habitat: the background has the class's colours shifted by
    ``colour_shift`` grey levels (most-changed channel, random direction), a random pattern
    family at 1.6-2.4 times (or a 1.6-2.4th of) the object's pattern period, turned 45-90
    degrees from the object's pattern, whose contrast is lowered to 50-80%. So the object's own
    pixels show its class best, and none of the cues that separate it from the background
    depends on the class.

    Args:
        rng (np.random.Generator): Random source (fully determines the result).
        shape (tuple[int, int]): Image (H, W).
        look (ClassAppearance | str): The class's appearance, or its name.
        colour_shift (tuple[float, float]): Range of the background's colour shift against
            the object's class colours. Larger is easier to segment.

    Returns:
        tuple: ``(image, mask)``: ``(H, W, 3)`` uint8 BGR and ``(H, W)`` uint8 in {0, 255}.
    """
    if isinstance(look, str):
        look = class_appearance(look)
    h, w = shape
    short = min(h, w)
    bg_colours = _class_colours(rng, look)
    shift = rng.uniform(-1, 1, size=3).astype(np.float32)
    bg_colours = bg_colours + shift * rng.uniform(*colour_shift) / (np.abs(shift).max() + 1e-6)
    bg_kind = PATTERN_KINDS[rng.integers(len(PATTERN_KINDS))]
    bg_angle = rng.uniform(0, np.pi)
    period = max(3.0, look.period_scale * short * rng.uniform(0.85, 1.15))
    ratio = rng.uniform(1.6, 2.4)
    bg_period = period * ratio if rng.random() < 0.5 else max(3.0, period / ratio)
    image = _texture(rng, shape, bg_kind, bg_angle, bg_period, bg_colours)

    mask = np.zeros(shape, np.uint8)
    for _ in range(2 if rng.random() < 0.15 else 1):
        radius = rng.uniform(0.12, 0.3) * short
        centre = (rng.uniform(0.6 * radius, w - 0.6 * radius),
                  rng.uniform(0.6 * radius, h - 0.6 * radius))
        mask = np.maximum(mask, _object_mask(rng, shape, radius, centre, look.aspect,
                                             look.lobes))
    if not mask.any():  # degenerate contour on a tiny image: a centred disc
        cv2.circle(mask, (w // 2, h // 2), max(1, short // 5), 1, -1)

    angle = bg_angle + rng.choice([-1, 1]) * rng.uniform(np.pi / 4, np.pi / 2)
    colours = _class_colours(rng, look)
    mid = colours.mean(axis=0, keepdims=True)
    colours = mid + (colours - mid) * rng.uniform(0.5, 0.8)  # lower pattern contrast
    obj = _texture(rng, shape, look.pattern_kind, angle, period, colours)

    sigma = max(0.6, 0.006 * short * rng.uniform(0.6, 1.6))
    alpha = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), sigma)[..., None]
    image = image * (1.0 - alpha) + obj * alpha
    light = _smooth_noise(rng, shape, short * 0.5)[..., None] * rng.uniform(4, 14)
    grain = rng.standard_normal((h, w, 1)).astype(np.float32) * rng.uniform(2, 6)
    image = np.clip(image + light + grain, 0, 255).astype(np.uint8)
    return image, mask * 255


def _slug(name: str) -> str:
    return name.replace(' ', '_').replace('-', '_')


def _assign_classes(rng: np.random.Generator, classes: Sequence[str], num: int) -> List[str]:
    """Spread ``num`` samples over the classes round-robin, in a seeded order."""
    order = [classes[i] for i in rng.permutation(len(classes))]
    return [order[i % len(order)] for i in range(num)]


def make_synthetic_ovcamo(out_dir: str,
                          num_train: int = 200,
                          num_test: int = 60,
                          size: Tuple[int, int] = (384, 384),
                          seed: int = 0,
                          size_jitter: float = 0.25,
                          size_jitter_prob: float = 0.3,
                          colour_shift: Tuple[float, float] = (12.0, 24.0),
                          jpeg_quality: int = 92) -> Dict:
    """Write a synthetic dataset in the official OVCamo layout.

    Files written under ``out_dir``: ``train/image/<uid>.jpg``, ``train/mask/<uid>.png``,
    ``test/image/<uid>.jpg``, ``test/mask/<uid>.png``, ``jsonfile/class_info.json`` (all 75
    classes: the 14 train and 61 test names of :mod:`~mmseg_baclip.datasets.class_names`) and
    ``jsonfile/sample_info.json``. Train samples use train classes and test samples test
    classes, spread round-robin (every class gets a sample when there are enough samples).

    Args:
        out_dir (str): Output root; created if needed. Existing files with the same names are
            overwritten.
        num_train (int): Number of train samples. Defaults to 200.
        num_test (int): Number of test samples. Defaults to 60.
        size (tuple[int, int]): Base image (H, W). Defaults to (384, 384).
        seed (int): Random seed; the same seed gives the same files. Defaults to 0.
        size_jitter (float): Images picked for jitter get H and W scaled independently by a
            factor in ``[1 - size_jitter, 1 + size_jitter]``. Defaults to 0.25.
        size_jitter_prob (float): Fraction of images whose size is jittered. 0 gives every
            image the base size. Defaults to 0.3.
        colour_shift (tuple[float, float]): The background's colour shift against the object
            in grey levels (see :func:`render_sample`); larger is easier. Defaults to (12, 24).
        jpeg_quality (int): JPEG quality of the images. Defaults to 92.

    Returns:
        dict: ``out_dir``, ``num_train``, ``num_test``, ``size``, ``seed`` and
        ``samples_per_class`` (``{'train': {name: n}, 'test': {name: n}}``).
    """
    if num_train < 0 or num_test < 0:
        raise ValueError(f'num_train and num_test must be >= 0, got {num_train}, {num_test}')
    if len(size) != 2 or min(size) < 16:
        raise ValueError(f'size must be (H, W) with both >= 16, got {size}')
    class_info = ([dict(name=n, split='train') for n in OVCAMO_TRAIN_CLASSES] +
                  [dict(name=n, split='test') for n in OVCAMO_TEST_CLASSES])
    os.makedirs(osp.join(out_dir, 'jsonfile'), exist_ok=True)
    samples, per_class = [], {}
    for split, classes, num in (('train', OVCAMO_TRAIN_CLASSES, num_train),
                                ('test', OVCAMO_TEST_CLASSES, num_test)):
        for sub in ('image', 'mask'):
            os.makedirs(osp.join(out_dir, split, sub), exist_ok=True)
        split_rng = np.random.default_rng([seed, _SPLIT_CODES[split]])
        names = _assign_classes(split_rng, classes, num)
        per_class[split] = {}
        for index, name in enumerate(names):
            rng = np.random.default_rng([seed, _SPLIT_CODES[split], index + 1])
            h, w = size
            if rng.random() < size_jitter_prob:
                h = int(round(h * rng.uniform(1 - size_jitter, 1 + size_jitter)))
                w = int(round(w * rng.uniform(1 - size_jitter, 1 + size_jitter)))
            image, mask = render_sample(rng, (h, w), class_appearance(name),
                                        colour_shift)
            uid = f'SYN_{split}_{_slug(name)}_{index:05d}'
            _write(osp.join(out_dir, split, 'image', uid + '.jpg'),
                   cv2.imencode('.jpg', image, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])[1])
            _write(osp.join(out_dir, split, 'mask', uid + '.png'), cv2.imencode('.png', mask)[1])
            samples.append(dict(unique_id=uid, base_class=name, image=uid + '.jpg',
                                mask=uid + '.png'))
            per_class[split][name] = per_class[split].get(name, 0) + 1
    for fname, content in (('class_info.json', class_info), ('sample_info.json', samples)):
        with open(osp.join(out_dir, 'jsonfile', fname), 'w', encoding='utf-8') as f:
            json.dump(content, f, indent=1)
    return dict(out_dir=out_dir, num_train=num_train, num_test=num_test, size=tuple(size),
                seed=seed, samples_per_class=per_class)


def _write(path: str, data: np.ndarray) -> None:
    with open(path, 'wb') as f:
        f.write(data.tobytes())
