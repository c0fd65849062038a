"""What goes into a checkpoint when it is written, and what is checked when one is read.

Used by :class:`~mmseg_baclip.engine.BaCLIPRunner` (every save and load of a run) and by the
inferencer (the same checks, outside a Runner):

* :func:`prepare_to_save`: leaves out the frozen weights read from files (slim checkpoints,
  :mod:`mmseg_baclip.models.utils.frozen_weights`) and converts what mmengine stores
  (``HistoryBuffer`` objects, numpy arrays and scalars) into tensors, plain values and tagged
  dicts, so every checkpoint loads with ``torch.load(weights_only=True)``. Allow-listing those
  classes instead would drag in numpy internals and ``builtins.getattr``.
* :func:`check_loaded`: converts them back, puts the frozen weights of a slim checkpoint back
  (read from the files the config names; another file is an error naming both), refuses NaN
  or Inf weights, and compares the state dict with the model's, naming the first keys that do
  not fit, *before* anything is copied into the model. mmengine would load a checkpoint of
  another architecture partially and only log the difference.
"""
import re
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from torch import nn

from ..models.utils.frozen_weights import (FROZEN_WEIGHTS_KEY, frozen_weights_record,
                                           restore_frozen_weights, strip_frozen_weights)
from .checkpoint_reading import load_checkpoint_file
from .finite_weights import check_finite_weights

_BUFFER_TAG = '__mmseg_baclip_history_buffer__'
_ARRAY_TAG = '__mmseg_baclip_ndarray__'
_SHOW = 5  # how many keys of each kind a mismatch error names


class CheckpointMismatchError(RuntimeError):
    """A checkpoint's state dict does not match the model's (wrong architecture or config)."""


# ----------------------------------------------------------------------------- weights-only
def to_weights_only(obj: Any) -> Any:
    """Replace HistoryBuffers, numpy arrays and numpy scalars by weights-only-safe values."""
    if isinstance(obj, HistoryBuffer):
        log, count = obj.data
        return {_BUFFER_TAG: True, 'log_history': to_weights_only(np.asarray(log)),
                'count_history': to_weights_only(np.asarray(count)),
                'max_length': int(obj.max_length)}
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            return [to_weights_only(x) for x in obj.tolist()]
        return {_ARRAY_TAG: True, 'data': torch.from_numpy(np.ascontiguousarray(obj)).clone()}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (dict, OrderedDict)):
        return type(obj)((k, to_weights_only(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_weights_only(v) for v in obj)
    return obj


def from_weights_only(obj: Any) -> Any:
    """Inverse of :func:`to_weights_only`."""
    if isinstance(obj, dict):
        if obj.get(_BUFFER_TAG) is True:
            return HistoryBuffer(from_weights_only(obj['log_history']),
                                 from_weights_only(obj['count_history']), obj['max_length'])
        if obj.get(_ARRAY_TAG) is True:
            return obj['data'].numpy()
        return type(obj)((k, from_weights_only(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(from_weights_only(v) for v in obj)
    return obj


# ----------------------------------------------------------------------------- key checks
def compare_state_dicts(model_state: Dict[str, torch.Tensor],
                        checkpoint_state: Dict[str, torch.Tensor],
                        ignore: Sequence[str] = ()) -> Dict[str, List[str]]:
    """Keys of ``checkpoint_state`` that do not fit ``model_state``.

    Args:
        model_state (dict): ``model.state_dict()``.
        checkpoint_state (dict): The checkpoint's state dict (prefix ``module.`` already
            stripped).
        ignore (Sequence[str]): Regular expressions of keys to leave out of the comparison.

    Returns:
        dict: ``missing`` (in the model, not in the checkpoint), ``unexpected`` (the reverse)
        and ``shape`` (``'key: checkpoint (..) vs model (..)'``), each in state-dict order.
    """
    patterns = [re.compile(p) for p in ignore]

    def kept(key):
        return not any(p.search(key) for p in patterns)

    missing = [k for k in model_state if k not in checkpoint_state and kept(k)]
    unexpected = [k for k in checkpoint_state if k not in model_state and kept(k)]
    shape = []
    for key, value in model_state.items():
        other = checkpoint_state.get(key)
        if (kept(key) and isinstance(other, torch.Tensor) and isinstance(value, torch.Tensor)
                and other.shape != value.shape):
            shape.append(f'{key}: checkpoint {tuple(other.shape)} vs model {tuple(value.shape)}')
    return dict(missing=missing, unexpected=unexpected, shape=shape)


def describe_mismatch(problems: Dict[str, List[str]]) -> str:
    """One line naming the first keys of each kind of :func:`compare_state_dicts`."""
    parts = []
    for kind, label in (('shape', 'shape mismatches'),
                        ('missing', 'keys missing from the checkpoint'),
                        ('unexpected', 'unexpected keys in the checkpoint')):
        keys = problems[kind]
        if keys:
            more = f' (and {len(keys) - _SHOW} more)' if len(keys) > _SHOW else ''
            parts.append(f'{len(keys)} {label}, first: {keys[:_SHOW]}{more}')
    return '; '.join(parts)


def model_state_dict(checkpoint: Any, name: str) -> dict:
    """The state dict of a loaded checkpoint (``checkpoint['state_dict']`` or the checkpoint
    itself), or :class:`CheckpointMismatchError` naming ``name``."""
    state = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise CheckpointMismatchError(
            f'{name} is a {type(checkpoint).__name__}, not a dict with a "state_dict" (or a bare '
            'state dict): not a model checkpoint.')
    return state


# ----------------------------------------------------------------------------- save / load
def prepare_to_save(model: nn.Module, checkpoint: dict, slim: bool = True) -> None:
    """Make a checkpoint dict ready to be written (in place).

    Args:
        model (nn.Module): The model it is of (not a DDP wrapper).
        checkpoint (dict): mmengine's checkpoint dict (``meta``, ``state_dict``,
            ``message_hub``, ``optimizer``...), after every hook has added its part.
        slim (bool): Leave out the frozen weights read from files, recording in
            ``meta['frozen_weights']`` which file each came from (sha256, size). Default: True.
    """
    if slim and isinstance(checkpoint.get('state_dict'), dict):
        record = strip_frozen_weights(model, checkpoint['state_dict'])
        if record:
            checkpoint.setdefault('meta', {})[FROZEN_WEIGHTS_KEY] = record
    for key in list(checkpoint):
        if key != 'state_dict':
            checkpoint[key] = to_weights_only(checkpoint[key])


def check_loaded(model: nn.Module, checkpoint: Any, name: str, strict: bool = True,
                 ignore_keys: Sequence[str] = (), warn=None) -> dict:
    """Check a loaded checkpoint against ``model`` before anything is copied (in place).

    Converts mmengine's stored objects back (:func:`from_weights_only`), fills in the frozen
    weights a slim checkpoint leaves out (from their files), refuses NaN/Inf weights and
    compares the keys and shapes with the model's.

    Args:
        model (nn.Module): The model to load into (not a DDP wrapper).
        checkpoint: The loaded checkpoint (a dict with ``state_dict``, or a bare state dict).
        name (str): The checkpoint's file, for messages.
        strict (bool): Raise on keys or shapes that do not fit; False calls ``warn`` instead
            (e.g. to initialise from a related model). Default: True.
        ignore_keys (Sequence[str]): Regular expressions of keys that may differ, e.g.
            ``[r'^decode_head\\.']`` to fine-tune with a new head.
        warn (callable, optional): ``warn(message)`` for a tolerated mismatch.

    Returns:
        dict: The checkpoint's state dict (keys as stored).

    Raises:
        CheckpointMismatchError: The state dict does not fit the model (``strict``).
        NonFiniteWeightsError: Weights hold NaN or Inf, whatever ``strict`` says.
        FrozenWeightsMismatchError: A slim checkpoint, and the config names other frozen
            weight files than those it was trained with (both files are named).
    """
    state = model_state_dict(checkpoint, name)
    if isinstance(checkpoint, dict) and 'state_dict' in checkpoint:
        for key in list(checkpoint):
            if key != 'state_dict':
                checkpoint[key] = from_weights_only(checkpoint[key])
    restore_frozen_weights(model, state, frozen_weights_record(checkpoint),
                           f'the checkpoint {name}')
    plain = {re.sub(r'^module\.', '', k): v for k, v in state.items()}
    check_finite_weights(plain, name)
    problems = compare_state_dicts(model.state_dict(), plain, ignore_keys)
    if any(problems.values()):
        message = (f'The checkpoint {name} does not fit the model {type(model).__name__} (wrong '
                   'architecture, or a config other than the one it was trained with): '
                   f'{describe_mismatch(problems)}.')
        if strict:
            raise CheckpointMismatchError(
                message + ' Use the config the checkpoint was trained with. To load it '
                'partially on purpose, set checkpoint_cfg=dict(ignore_keys=[<regex>, ...]) (or '
                'strict=False) in the config.')
        if warn is not None:
            warn(message + ' Loading the matching part (strict=False).')
    return state


def load_weights(model: nn.Module, filename: str, *, unsafe: bool = False,
                 map_location: Optional[Any] = 'cpu') -> dict:
    """Read a checkpoint file safely, check it and load it into ``model`` (strict).

    The inferencer's path; the Runner's is :meth:`BaCLIPRunner.load_checkpoint`, with the same
    reading and checks.

    Args:
        model (nn.Module): The built model.
        filename (str): The checkpoint (any scheme of
            :func:`~mmseg_baclip.engine.load_checkpoint_file`).
        unsafe (bool): ``weights_only=False`` (trusted old pickles only). Default: False.
        map_location: As in :func:`torch.load`. Default: ``'cpu'``.

    Returns:
        dict: The loaded checkpoint.
    """
    checkpoint = load_checkpoint_file(filename, map_location=map_location, unsafe=unsafe)
    state = check_loaded(model, checkpoint, filename)
    metadata = getattr(state, '_metadata', None)
    state = OrderedDict((re.sub(r'^module\.', '', k), v) for k, v in state.items())
    if metadata is not None:
        state._metadata = metadata  # the training vocabulary is kept there
    model.load_state_dict(state, strict=True)
    return checkpoint
