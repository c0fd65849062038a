"""Class-specific appearances of the synthetic open-vocabulary world.

Real CLIP learned every OVCamo class name from web images. The synthetic world mirrors that: each
class name has its own look (a colour, a pattern family, a pattern scale and shape statistics),
so a CLIP pretrained on pictures of all 75 classes can name an object of a class BaCLIP never
trained on.

The look is derived from the name alone. The 75 OVCamo names get 75 distinct colours: a
(hue, tone) cell of a 25 x 3 grid, assigned by the rank of a hash of the name, so two classes
never share a cell. A name outside OVCamo (a user's own vocabulary) gets a cell from its hash,
which may collide with another name's. Pattern family, scale and shape come from the hash too.

Example:
    >>> look = class_appearance('owl')
    >>> look.hue, look.pattern_kind
"""
import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict

import numpy as np

from ..datasets.class_names import OVCAMO_TEST_CLASSES, OVCAMO_TRAIN_CLASSES

PATTERN_KINDS = ('stripes', 'streaks', 'blobs')
NUM_HUES = 25
# (saturation, dark value, light value) of the three tones: muted, deep, vivid.
TONES = ((70.0, 60.0, 150.0), (150.0, 40.0, 120.0), (200.0, 110.0, 230.0))
PERIOD_SCALES = (0.03, 0.045, 0.065)  # pattern period as a fraction of the image's short side


@dataclass(frozen=True)
class ClassAppearance:
    """How objects of one class look.

    Attributes:
        name (str): The class name.
        hue (float): OpenCV hue (0-180) of the class colour.
        saturation (float): HSV saturation (0-255).
        value_dark (float): HSV value of the pattern's dark colour.
        value_light (float): HSV value of the pattern's light colour.
        pattern_kind (str): One of :data:`PATTERN_KINDS`.
        period_scale (float): Pattern period as a fraction of the image's short side.
        aspect (float): Typical minor/major axis ratio of the object's outline, in (0, 1].
        lobes (float): Typical irregularity of the outline (0 = ellipse).
    """
    name: str
    hue: float
    saturation: float
    value_dark: float
    value_light: float
    pattern_kind: str
    period_scale: float
    aspect: float
    lobes: float


def _name_hash(name: str, salt: str = '') -> int:
    return zlib.crc32((salt + name).encode('utf-8'))


@lru_cache(maxsize=1)
def _ovcamo_cells() -> Dict[str, int]:
    """The (hue, tone) cell index 0..74 of each OVCamo class: the rank of its name's hash."""
    names = sorted(OVCAMO_TRAIN_CLASSES + OVCAMO_TEST_CLASSES,
                   key=lambda n: (_name_hash(n, 'cell'), n))
    return {name: index for index, name in enumerate(names)}


def class_appearance(name: str) -> ClassAppearance:
    """The deterministic appearance of a class name.

    Args:
        name (str): Any class name.

    Returns:
        ClassAppearance: The same for the same name, on every machine.
    """
    cells = _ovcamo_cells()
    cell = cells.get(name, _name_hash(name, 'cell') % (NUM_HUES * len(TONES)))
    hue_index, tone_index = cell % NUM_HUES, cell // NUM_HUES
    saturation, value_dark, value_light = TONES[tone_index]
    rng = np.random.default_rng(_name_hash(name, 'shape'))
    return ClassAppearance(
        name=name,
        hue=(hue_index + 0.5) * 180.0 / NUM_HUES,
        saturation=saturation,
        value_dark=value_dark,
        value_light=value_light,
        pattern_kind=PATTERN_KINDS[_name_hash(name, 'kind') % len(PATTERN_KINDS)],
        period_scale=PERIOD_SCALES[_name_hash(name, 'period') % len(PERIOD_SCALES)],
        aspect=float(rng.uniform(0.45, 1.0)),
        lobes=float(rng.uniform(0.1, 0.35)))
