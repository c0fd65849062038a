"""Slim checkpoints: leave out the frozen weights that are read from files, restore them on load.

Of the paper config's 1.4 GB checkpoint, about 40 MB is what training changes: the frozen CLIP
towers and SAM's prompt encoder are bit for bit what their files hold. Modules that read frozen
weights from a file declare them
(:class:`~mmseg_baclip.models.utils.frozen_file_weights.FrozenFileWeightsMixin`), and:

- :func:`strip_frozen_weights` removes them from a checkpoint's state dict and returns the
  record written to ``checkpoint['meta']['frozen_weights']`` (and, for loaders that only see
  the state dict, to its ``_metadata``)::

      {'backbone': {'file': 'checkpoints/clip/.../open_clip_pytorch_model.bin',
                    'sha256': '<64 hex digits>', 'size': 1410000000, 'keys': 344}, ...}

  Only weights known to equal the file are left out: the module read them from the file (and
  the file has not changed since), and parameters among them have ``requires_grad=False``.
  Everything else, trained layers and their buffers (BN statistics) included, is kept.
- :func:`restore_frozen_weights` puts them back into a loaded state dict, reading the files
  when the model has not (``tools/test.py`` and the inferencer build the model without
  ``init_weights``). A file whose sha256 is not the recorded one is an error naming both
  files: frozen weights other than those a model was trained with give wrong results.

Who calls them: :class:`~mmseg_baclip.engine.BaCLIPRunner` strips them when it saves and
restores them when it loads (``load_from``, ``--resume``, testing, and through the same code the
inferencer); ``BaCLIP`` restores them in ``load_state_dict`` itself, so loaders that know nothing
of this project (mmengine's ``load_checkpoint``, mmseg's ``init_model``) load slim checkpoints
too. Full checkpoints (``slim=False``, every weight) load as they are. This module belongs to
the models (it is about their frozen weight files); the engine uses it, not the other way round.
"""
import logging
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, NamedTuple, Optional

from mmengine.logging import print_log
from torch import nn

from ...utils.file_fingerprint import FileStamp, file_sha256

__all__ = ['FROZEN_WEIGHTS_KEY', 'FrozenSource', 'FrozenWeightsMismatchError',
           'frozen_sources', 'frozen_weights_record', 'restore_frozen_weights',
           'strip_frozen_weights']

#: Key of the record in ``checkpoint['meta']`` and in the root entry of ``state_dict._metadata``.
FROZEN_WEIGHTS_KEY = 'frozen_weights'

_warned = set()


class FrozenWeightsMismatchError(RuntimeError):
    """A slim checkpoint cannot get its frozen weights: another file, or none, in the config."""


class FrozenSource(NamedTuple):
    """A module whose frozen weights come from a file.

    Attributes:
        name (str): Its name in the model, e.g. ``'backbone'``.
        module (nn.Module): The module (it implements ``FrozenFileWeightsMixin``).
        keys (list[str]): Its frozen state-dict keys, relative to the model.
    """

    name: str
    module: nn.Module
    keys: List[str]


def frozen_sources(model: nn.Module) -> List[FrozenSource]:
    """The modules of ``model`` that declare frozen weights read from a file.

    Args:
        model (nn.Module): The model (not a DDP wrapper).

    Returns:
        list[FrozenSource]: In module order; those without a file (random weights) included.
    """
    sources = []
    for name, module in model.named_modules():
        if callable(getattr(module, 'frozen_state_keys', None)) and callable(
                getattr(module, 'frozen_weight_file', None)):
            prefix = f'{name}.' if name else ''
            sources.append(FrozenSource(name, module,
                                        [prefix + k for k in module.frozen_state_keys()]))
    return sources


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        print_log(message, logger='current', level=logging.WARNING)


def strip_frozen_weights(model: nn.Module, state_dict: dict) -> Dict[str, dict]:
    """Remove from ``state_dict`` (in place) the frozen weights that can be read from files.

    Args:
        model (nn.Module): The model the state dict is of (not a DDP wrapper).
        state_dict (dict): Its state dict (keys without a ``module.`` prefix).

    Returns:
        dict: The record, ``{module name: {'file', 'sha256', 'size', 'keys'}}`` (``keys``: how
        many entries were removed); empty when nothing was removed. It is also written to
        ``state_dict._metadata['']['frozen_weights']`` when the state dict has metadata.
    """
    requires_grad = {k: p.requires_grad
                     for k, p in model.named_parameters(remove_duplicate=False)}
    record = {}
    for source in frozen_sources(model):
        path = source.module.frozen_weight_file()
        if path is None:
            continue  # random or trained weights: they stay in the checkpoint
        loaded = getattr(source.module, 'frozen_weights_loaded_from', None)
        current = FileStamp.of(path) if osp.isfile(path) else None
        if loaded is None or loaded != current:
            why = ('they were not read from it (they came from a loaded checkpoint whose values '
                   'differ, or init_weights did not run)' if loaded is None else
                   'the file changed since they were read' if current else 'it is gone')
            _warn_once(f'{source.name}:{path}',
                       f'The frozen weights of {source.name} are kept in the checkpoints: '
                       f'{why} ({path}). Checkpoints are full-size.')
            continue
        keys = [k for k in source.keys if k in state_dict and not requires_grad.get(k, False)]
        if not keys:
            continue
        for key in keys:
            del state_dict[key]
        record[source.name] = dict(file=str(path), sha256=file_sha256(loaded.path),
                                   size=int(loaded.size), keys=len(keys))
    if record:
        metadata = getattr(state_dict, '_metadata', None)
        if metadata is None and isinstance(state_dict, OrderedDict):
            metadata = state_dict._metadata = OrderedDict()
        if metadata is not None:
            metadata[''] = dict(metadata.get('', {}), **{FROZEN_WEIGHTS_KEY: record})
    return record


def frozen_weights_record(checkpoint) -> Optional[Dict[str, dict]]:
    """The frozen-weights record of a loaded checkpoint (a full one has none).

    Args:
        checkpoint: A checkpoint dict (``meta`` / ``state_dict``) or a bare state dict.

    Returns:
        dict | None: From ``meta['frozen_weights']``, else from the state dict's metadata.
    """
    if not isinstance(checkpoint, dict):
        return None
    meta = checkpoint.get('meta')
    if isinstance(meta, dict) and meta.get(FROZEN_WEIGHTS_KEY):
        return meta[FROZEN_WEIGHTS_KEY]
    state = checkpoint.get('state_dict', checkpoint)
    metadata = getattr(state, '_metadata', None) or {}
    return (metadata.get('') or {}).get(FROZEN_WEIGHTS_KEY) or None


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _check_file(name: str, path: Optional[str], entry: dict, checkpoint_name: str) -> None:
    """Raise unless ``path`` is the file (same sha256) the checkpoint was trained with."""
    trained = f'{entry.get("file")} (sha256 {entry.get("sha256")})'
    setting = f'model.{name}.checkpoint'
    if path is None:
        raise FrozenWeightsMismatchError(
            f'{_cap(checkpoint_name)} does not hold the frozen weights of {name} '
            f'({entry.get("keys")} tensors): they are read from the file it was trained with, '
            f'{trained}, but the config gives {name} no file ({setting} is None: random '
            f'weights). Set {setting} to that file.')
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{_cap(checkpoint_name)} does not hold the frozen weights of {name}: they are read '
            f'from {path!r} ({setting}), which does not exist. The checkpoint was trained '
            f'with {trained}: put that file there or set {setting} to it.')
    actual = file_sha256(path)
    if actual != entry.get('sha256'):
        raise FrozenWeightsMismatchError(
            f'{_cap(checkpoint_name)} was trained with the frozen {name} weights of {trained}, '
            f'but {path} ({setting}) has sha256 {actual}: a different file. Frozen weights other '
            'than those it was trained with give wrong results. Use the file it was trained '
            'with (`sha256sum FILE` prints its sha256).')


def restore_frozen_weights(model: nn.Module, state_dict: dict,
                           record: Optional[Dict[str, dict]],
                           checkpoint_name: str = 'the checkpoint',
                           prefix: str = '') -> List[str]:
    """Put the frozen weights a slim checkpoint leaves out back into its state dict (in place).

    Each recorded module's configured file must have the recorded sha256. Modules whose weights
    in memory are not that file's read it (``load_frozen_weights``); then the missing keys are
    filled with the module's tensors, so strict key checks and ``load_state_dict`` see a
    complete state dict. Keys the state dict holds are left alone (a full checkpoint loads as
    before).

    Args:
        model (nn.Module): The model to load into (not a DDP wrapper).
        state_dict (dict): The checkpoint's state dict.
        record (dict, optional): :func:`frozen_weights_record`; None or empty: nothing to do.
        checkpoint_name (str): How error messages name the checkpoint (its path).
        prefix (str): Prefix of the model's keys in ``state_dict``. Default: ''.

    Returns:
        list[str]: The keys filled in.

    Raises:
        FrozenWeightsMismatchError: The config gives a recorded module no file, or a file of
            another sha256 (both files are named). A recorded module that the model lacks is
            skipped: strict key checks report the keys that do not fit.
        FileNotFoundError: The configured file does not exist.
    """
    if not record:
        return []
    sources = {source.name: source for source in frozen_sources(model)}
    filled = []
    for name, entry in record.items():
        source = sources.get(name)
        if source is None:
            continue  # another architecture: the key checks name what does not fit
        missing = [k for k in source.keys if prefix + k not in state_dict]
        if not missing:
            continue
        path = source.module.frozen_weight_file()
        _check_file(name, path, entry, checkpoint_name)
        if getattr(source.module, 'frozen_weights_loaded_from', None) != FileStamp.of(path):
            print_log(f'Reading the frozen weights of {name} from {path} ({checkpoint_name} '
                      'does not hold them).', logger='current')
            source.module.load_frozen_weights()
        own = source.module.state_dict()
        cut = len(name) + 1 if name else 0
        for key in missing:
            state_dict[prefix + key] = own[key[cut:]]
        filled += missing
    return filled
