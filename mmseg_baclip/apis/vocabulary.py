"""Vocabularies for inference: from a list, a text file, a comma list or the config."""
import copy
import os.path as osp
import warnings
from typing import Sequence, Tuple, Union

from mmengine.config import Config, ConfigDict
from mmseg.registry import DATASETS

from ..datasets.class_names import OVCAMO_TEST_CLASSES
from ..models.text_encoders.openclip_text_encoder import check_vocabulary

VocabularyType = Union[str, Sequence[str]]


def read_vocabulary_file(path: str) -> Tuple[str, ...]:
    """Read a vocabulary file: one class name a line, blank lines ignored, spaces trimmed.

    Args:
        path (str): A UTF-8 text file; a byte-order mark (as Windows editors write) is dropped.

    Returns:
        tuple[str, ...]: The names, in file order.

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: The file is not UTF-8 text, holds no name, or a name twice.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'vocabulary file not found: {path} (one class name a line; '
                                'to give the names themselves pass a list)')
    try:
        with open(path, encoding='utf-8-sig') as f:
            names = [line.strip() for line in f]
    except UnicodeDecodeError as error:
        raise ValueError(f'the vocabulary file {path} is not UTF-8 text ({error}); save it as '
                         'UTF-8') from None
    names = [name for name in names if name]
    if not names:
        raise ValueError(f'the vocabulary file {path} is empty: write one class name a line')
    try:
        return check_vocabulary(names)
    except ValueError as error:
        raise ValueError(f'{path}: {error}') from None


def parse_vocabulary_list(text: str) -> Tuple[str, ...]:
    """Split a comma-separated list of class names (``"owl, snow leopard,moth"``).

    Args:
        text (str): Names separated by commas; spaces around names are trimmed, empty items
            dropped.

    Returns:
        tuple[str, ...]: The names.

    Raises:
        ValueError: No name in ``text``, or a name twice.
    """
    names = [name.strip() for name in text.split(',')]
    names = [name for name in names if name]
    if not names:
        raise ValueError(f'the vocabulary {text!r} is empty: give at least one class name')
    return check_vocabulary(names)


def load_vocabulary(vocabulary: VocabularyType) -> Tuple[str, ...]:
    """A vocabulary from a list of names or a vocabulary file.

    Args:
        vocabulary (str | Sequence[str]): Class names, or the path of a text file with one name
            a line (blank lines ignored).

    Returns:
        tuple[str, ...]: The validated names (non-empty, distinct, whitespace trimmed).
    """
    if isinstance(vocabulary, str):
        return read_vocabulary_file(vocabulary)
    names = [name.strip() if isinstance(name, str) else name for name in vocabulary]
    return check_vocabulary(names)


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
        return check_vocabulary(fixed), 'model.vocabulary of the config'
    dataset_cfg = cfg.get('test_dataloader', {}).get('dataset')
    if dataset_cfg is not None and dataset_cfg.get('type') == 'OVCamoDataset':
        dataset_cfg = copy.deepcopy(dataset_cfg)
        dataset_cfg.update(lazy_init=True, pipeline=[])
        dataset = DATASETS.build(dataset_cfg)
        vocabulary = dataset.metainfo.get('vocabulary')
        if vocabulary:
            return check_vocabulary(vocabulary), (
                f'test split of {dataset_cfg.get("data_root")} ({dataset.class_info_file})')
    warnings.warn('The config names no vocabulary (no model.vocabulary and no OVCamoDataset '
                  'test set); using the 61 built-in OVCamo test classes. Pass vocabulary=[...] '
                  'to choose the class names.')
    return OVCAMO_TEST_CLASSES, 'built-in OVCamo test classes'
