"""Class names from COD10K file names, for an open-vocabulary COD10K test.

COD10K names each camouflaged image after its super-class and class::

    COD10K-CAM-<super id>-<Super>-<class id>-<Class>-<image id>.jpg
    COD10K-CAM-1-Aquatic-3-Crab-32.jpg          -> 'crab'
    COD10K-CAM-3-Flying-61-StickInsect-3923.jpg -> 'stick insect'

The class is written in CamelCase; its readable name splits the words and lowers them. Where
the name equals an OVCamo class once spaces and case are ignored (``SeaHorse`` and OVCamo's
``seahorse``, ``ScorpionFish`` and ``scorpionfish``), OVCamo's spelling is used, so that the
overlap with OVCamo's classes is found by name. Synonyms are not merged: COD10K's ``Flounder``
stays ``flounder``, not OVCamo's ``flatfish``.
"""
import re
from typing import Iterable, Optional, Sequence, Tuple

from .class_names import OVCAMO_TEST_CLASSES, OVCAMO_TRAIN_CLASSES

__all__ = ['COD10K_NAME', 'cod10k_class', 'readable_class_name', 'overlap_with']

#: ``COD10K-CAM-<super id>-<Super>-<class id>-<Class>-<image id>`` (extension excluded).
COD10K_NAME = re.compile(
    r'^COD10K-CAM-(?P<super_id>\d+)-(?P<super>[A-Za-z]+)-(?P<class_id>\d+)-'
    r'(?P<cls>[A-Za-z][A-Za-z0-9]*)-(?P<image_id>\d+)$')
_WORD = re.compile(r'[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+')


def _squeezed(name: str) -> str:
    return re.sub(r'[\s\-_]', '', name).lower()


def readable_class_name(camel: str,
                        known: Sequence[str] = OVCAMO_TRAIN_CLASSES + OVCAMO_TEST_CLASSES
                        ) -> str:
    """A readable class name for a COD10K CamelCase class.

    Args:
        camel (str): The class as COD10K writes it, e.g. ``'StickInsect'``.
        known (Sequence[str]): Names whose spelling wins when equal ignoring spaces, hyphens
            and case. Defaults to OVCamo's 75 class names.

    Returns:
        str: E.g. ``'stick insect'``, ``'seahorse'`` (OVCamo's spelling of ``SeaHorse``).
    """
    squeezed = _squeezed(camel)
    for name in known:
        if _squeezed(name) == squeezed:
            return name
    words = _WORD.findall(camel)
    return ' '.join(w.lower() for w in words) if words else camel.lower()


def cod10k_class(stem: str) -> Optional[str]:
    """The readable class of a COD10K camouflaged image, from its file name without extension.

    Args:
        stem (str): E.g. ``'COD10K-CAM-1-Aquatic-3-Crab-32'``.

    Returns:
        str | None: E.g. ``'crab'``; None when the name does not follow COD10K's scheme (a
        ``NonCAM`` image, another data set's file).
    """
    match = COD10K_NAME.match(stem)
    return readable_class_name(match.group('cls')) if match else None


def overlap_with(names: Iterable[str],
                 reference: Sequence[str] = OVCAMO_TRAIN_CLASSES) -> Tuple[str, ...]:
    """The names that are also reference classes (ignoring spaces, hyphens and case).

    Args:
        names (Iterable[str]): Class names, e.g. COD10K's readable ones.
        reference (Sequence[str]): Defaults to OVCamo's 14 training classes.

    Returns:
        tuple[str, ...]: The overlapping names, sorted.
    """
    squeezed = {_squeezed(r) for r in reference}
    return tuple(sorted({n for n in names if _squeezed(n) in squeezed}))
