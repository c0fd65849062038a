"""Checkpoints that load with ``torch.load(weights_only=True)``.

mmengine stores its message hub as ``HistoryBuffer`` objects holding numpy arrays, which the
safe ``weights_only`` unpickler (torch's default since 2.6) refuses; allow-listing them would
drag in numpy internals and ``builtins.getattr``. Instead, this hook converts them (and any numpy
array or scalar) to tensors, plain Python values and tagged dicts just before a checkpoint is
written, and converts them back right after one is loaded, before mmengine reads them.
"""
from collections import OrderedDict
from typing import Any

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer
from mmseg.registry import HOOKS

_BUFFER_TAG = '__mmseg_baclip_history_buffer__'
_ARRAY_TAG = '__mmseg_baclip_ndarray__'


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


@HOOKS.register_module()
class WeightsOnlyCheckpointHook(Hook):
    """Make every checkpoint the Runner writes loadable with ``weights_only=True``."""

    priority = 'VERY_LOW'  # convert after every other hook has added its part

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        for key in list(checkpoint):
            if key != 'state_dict':
                checkpoint[key] = to_weights_only(checkpoint[key])

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        for key in list(checkpoint):
            if key != 'state_dict':
                checkpoint[key] = from_weights_only(checkpoint[key])
