"""Pictures of every class with their object masks, for the two pretrainings and their checks.

Each picture is a whole scene (:func:`~mmseg_baclip.synthetic_world.ovcamo_tree.render_sample`)
at the pixel scale BaCLIP's 192x192 inputs have, drawn from its own seed stream: the
OVCamo-layout tree uses streams 1 (train) and 2 (test), the pretraining pictures stream 3 and
the held-out pictures stream 4, so no pretraining ever sees an image of the tree.
"""
from typing import Sequence, Tuple

import cv2
import numpy as np

from ..utils.progress import track_progress
from .ovcamo_tree import render_sample

PRETRAIN_STREAM, HELDOUT_STREAM = 3, 4


def render_pictures(class_names: Sequence[str], per_class: int, seed: int, stream: int,
                    size: int = 192, colour_shift: Tuple[float, float] = (30.0, 50.0),
                    progress: bool = False) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render ``per_class`` scenes of every class.

    Args:
        class_names (Sequence[str]): The classes; label i is ``class_names[i]``.
        per_class (int): Pictures per class.
        seed (int): World seed.
        stream (int): Seed stream (:data:`PRETRAIN_STREAM` or :data:`HELDOUT_STREAM`).
        size (int): Picture side. Default: 192.
        colour_shift (tuple[float, float]): The background's colour shift
            (see :func:`~mmseg_baclip.synthetic_world.ovcamo_tree.render_sample`).
        progress (bool): Show the progress (a bar on a terminal, a few lines in a log).

    Returns:
        tuple: ``images`` (K, size, size, 3) uint8 RGB, ``masks`` (K, size, size) bool and
        ``labels`` (K,) int64, class-major (K = classes x per_class).
    """
    images, masks, labels = [], [], []
    for label, name in track_progress(list(enumerate(class_names)), 'Pictures',
                                      enabled=progress):
        for i in range(per_class):
            rng = np.random.default_rng([seed, stream, label, i])
            bgr, mask = render_sample(rng, (size, size), name, colour_shift)
            images.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            masks.append(mask > 0)
            labels.append(label)
    return np.stack(images), np.stack(masks), np.asarray(labels, np.int64)
