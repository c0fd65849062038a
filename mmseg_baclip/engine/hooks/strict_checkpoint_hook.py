"""Refuse a checkpoint that does not fit the model, instead of loading part of it silently."""
import re
from typing import Dict, List, Sequence

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS

from ..finite_weights import check_finite_weights
from ..frozen_weights import frozen_weights_record, restore_frozen_weights
from .frozen_weights_checkpoint_hook import checkpoint_name

_SHOW = 5  # how many keys of each kind the error names


class CheckpointMismatchError(RuntimeError):
    """A checkpoint's state dict does not match the model's (wrong architecture or config)."""


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
    parts = []
    for kind, label in (('shape', 'shape mismatches'), ('missing', 'keys missing from the '
                                                                   'checkpoint'),
                        ('unexpected', 'unexpected keys in the checkpoint')):
        keys = problems[kind]
        if keys:
            more = f' (and {len(keys) - _SHOW} more)' if len(keys) > _SHOW else ''
            parts.append(f'{len(keys)} {label}, first: {keys[:_SHOW]}{more}')
    return '; '.join(parts)


@HOOKS.register_module()
class StrictCheckpointHook(Hook):
    """Fail with a clear error when a loaded checkpoint does not fit the model.

    mmengine loads ``load_from`` and ``--resume`` checkpoints with ``strict=False`` and only logs
    the differences, so a checkpoint of another architecture "loads" and the model runs with
    half of its weights random. This hook compares the checkpoint's state dict with the model's
    right after the file is read, before anything is copied into the model (the frozen weights
    a slim checkpoint leaves out are first read from their files, see
    :class:`FrozenWeightsCheckpointHook`, so exactly those keys may be absent), and raises
    :class:`CheckpointMismatchError` naming the first mismatched keys (shape mismatches, keys
    missing from the checkpoint, unexpected keys). A checkpoint with NaN or Inf weights is
    refused too (:class:`~mmseg_baclip.engine.finite_weights.NonFiniteWeightsError`, naming the
    tensors), whatever ``strict`` and ``ignore_keys`` say: tested, it would give all-zero
    metrics and exit status 0.

    Args:
        strict (bool): Raise on a mismatch; False only logs a warning (mmengine's behaviour,
            e.g. to initialise from a related model). Default: True.
        ignore_keys (Sequence[str]): Regular expressions of keys that may differ, e.g.
            ``[r'^decode_head\\.']`` to fine-tune with a new head. Default: none.
    """

    priority = 'VERY_LOW'

    def __init__(self, strict: bool = True, ignore_keys: Sequence[str] = ()):
        self.strict = strict
        self.ignore_keys = tuple(ignore_keys)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else None
        if not isinstance(state, dict):
            raise CheckpointMismatchError(
                f'The loaded checkpoint is a {type(checkpoint).__name__}, not a dict with a '
                '"state_dict" (or a bare state dict): not a model checkpoint.')
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        # A slim checkpoint: its frozen weights come from their files (exactly those keys).
        restore_frozen_weights(model, state, frozen_weights_record(checkpoint),
                               checkpoint_name(runner))
        state = {re.sub(r'^module\.', '', k): v for k, v in state.items()}  # as mmengine does
        cfg = getattr(runner, 'cfg', None)
        check_finite_weights(state, cfg.get('load_from') if cfg else None)
        problems = compare_state_dicts(model.state_dict(), state, self.ignore_keys)
        if not any(problems.values()):
            return
        message = (f'The checkpoint does not fit the model {type(model).__name__} (wrong '
                   'architecture, or a config other than the one it was trained with): '
                   f'{describe_mismatch(problems)}.')
        if self.strict:
            raise CheckpointMismatchError(
                message + ' Use the config the checkpoint was trained with. To load it '
                'partially on purpose, set custom_hooks=[..., dict(type="StrictCheckpointHook", '
                'ignore_keys=[<regex>, ...])] (or strict=False).')
        runner.logger.warning(message + ' Loading the matching part (strict=False).')
