"""Vocabularies for inference: from a list, a text file, a comma list or the config."""
import copy
import os.path as osp
import re
import warnings
from typing import Optional, Sequence, Tuple, Union

from mmengine.config import Config, ConfigDict
from mmseg.registry import DATASETS

from ..datasets.class_names import OVCAMO_TEST_CLASSES
from ..utils.class_name_rules import ClassNameError, check_vocabulary, normalize_class_name

VocabularyType = Union[str, Sequence[str]]


def read_vocabulary_file(path: str) -> Tuple[str, ...]:
    """Read a vocabulary file: one class name a line, blank lines ignored, spaces normalised.

    Args:
        path (str): A UTF-8 text file; a byte-order mark (as Windows editors write) is dropped.

    Returns:
        tuple[str, ...]: The names, in file order.

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: The file is not UTF-8 text or holds no name; ``ClassNameError`` (a
            ``ValueError``) names the file and the line of every invalid or repeated name.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'vocabulary file not found: {path} (one class name a line; '
                                'to give the names themselves pass a list)')
    try:
        with open(path, encoding='utf-8-sig', newline='') as f:
            lines = f.read().split('\n')  # only \n ends a line; \r and the like stay visible
    except UnicodeDecodeError as error:
        raise ValueError(f'the vocabulary file {path} is not UTF-8 text ({error}); save it as '
                         'UTF-8') from None
    lines = [line[:-1] if line.endswith('\r') else line for line in lines]  # Windows endings
    entries = [(f'line {number}', normalize_class_name(line))
               for number, line in enumerate(lines, 1) if line.strip()]
    if not entries:
        raise ClassNameError(f'the vocabulary file {path} is empty: write one class name a '
                             'line')
    return check_vocabulary([name for _, name in entries], f'the vocabulary file {path}',
                            labels=[label for label, _ in entries])


def parse_vocabulary_text(text: Optional[str], source: str = 'the vocabulary',
                          max_classes: Optional[int] = None) -> Tuple[str, ...]:
    """Split typed class names: comma separated, new lines count as commas.

    The one parser of typed vocabularies (``tools/infer.py --vocab``, the web demo's text
    box). Spaces around and inside names are normalised (``" snow   leopard "`` -> ``"snow
    leopard"``); empty items are dropped; then the class-name rule applies
    (:mod:`mmseg_baclip.utils.class_name_rules`: printable, no path separator, at most 128
    bytes, no name twice with letter case ignored).

    Args:
        text (str, optional): The names, e.g. ``"owl, snow leopard,moth"``.
        source (str): Where the text came from, for messages (``'--vocab'``).
        max_classes (int, optional): The most names accepted.

    Returns:
        tuple[str, ...]: The names, in the order given.

    Raises:
        ClassNameError: No name, an invalid or repeated name, or more than ``max_classes``.
    """
    items = [normalize_class_name(item) for item in re.split(r'[,\n]', text or '')]
    names = [item for item in items if item]
    if not names:
        raise ClassNameError(f'{source} is empty: give at least one class name, e.g. '
                             '"owl, moth, frog"')
    names = check_vocabulary(names, source)
    if max_classes is not None and len(names) > max_classes:
        raise ClassNameError(f'{source} has {len(names)} names; at most {max_classes} are '
                             'accepted')
    return names


def parse_vocabulary_list(text: str) -> Tuple[str, ...]:
    """``--vocab``: :func:`parse_vocabulary_text` with the option named in messages."""
    return parse_vocabulary_text(text, '--vocab')


def load_vocabulary(vocabulary: VocabularyType) -> Tuple[str, ...]:
    """A vocabulary from a list of names or a vocabulary file.

    Args:
        vocabulary (str | Sequence[str]): Class names, or the path of a text file with one name
            a line (blank lines ignored).

    Returns:
        tuple[str, ...]: The validated names (spaces normalised; see
        :func:`parse_vocabulary_text` for the rule).
    """
    if isinstance(vocabulary, str):
        return read_vocabulary_file(vocabulary)
    names = [normalize_class_name(name) if isinstance(name, str) else name
             for name in vocabulary]
    return check_vocabulary(names, 'the vocabulary')


def config_vocabulary(cfg: Union[Config, ConfigDict]) -> Tuple[Tuple[str, ...], str]:
    """The default inference vocabulary of a config, and where it came from.

    In this order: the model's fixed ``vocabulary``; the vocabulary of the test dataset (an
    ``OVCamoDataset`` is built with ``lazy_init=True``, so only ``class_info.json`` is read; if
    that file is missing the dataset falls back to the built-in 61 OVCamo test classes with a
    warning); the built-in 61 OVCamo test classes, with a warning.

    Args:
        cfg (Config | ConfigDict): A full config (``model`` and ``test_dataloader``).

    Returns:
        tuple: The names and a short description of their source.
    """
    fixed = cfg.get('model', {}).get('vocabulary')
    if fixed:
        return check_vocabulary(fixed, 'model.vocabulary of the config'), (
            'model.vocabulary of the config')
    dataset_cfg = cfg.get('test_dataloader', {}).get('dataset')
    if dataset_cfg is not None and dataset_cfg.get('type') == 'OVCamoDataset':
        dataset_cfg = copy.deepcopy(dataset_cfg)
        dataset_cfg.update(lazy_init=True, pipeline=[])
        dataset = DATASETS.build(dataset_cfg)
        vocabulary = dataset.metainfo.get('vocabulary')
        if vocabulary:
            return check_vocabulary(vocabulary, dataset.class_info_file), (
                f'test split of {dataset_cfg.get("data_root")} ({dataset.class_info_file})')
    warnings.warn('The config names no vocabulary (no model.vocabulary and no OVCamoDataset '
                  'test set); using the 61 built-in OVCamo test classes. Pass vocabulary=[...] '
                  'to choose the class names.')
    return OVCAMO_TEST_CLASSES, 'built-in OVCamo test classes'
