"""Stop training at the first NaN or Inf loss, naming the iteration."""
import math
from numbers import Number
from typing import Dict, Optional

import torch
from mmengine.hooks import Hook
from mmseg.registry import HOOKS


class NonFiniteLossError(FloatingPointError):
    """A training loss became NaN or Inf."""


def _as_float(value) -> Optional[float]:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value.detach().float().item())
    if isinstance(value, Number):
        return float(value)
    return None


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Raise :class:`NonFiniteLossError` when a loss of the training step is NaN or Inf.

    Checks every logged loss (``loss`` and each ``loss_*`` term) after each training iteration.
    It runs before the checkpoint and logger hooks of the same iteration, so no checkpoint holds
    the weights of the failed step: fix the cause (learning rate, float16 overflow, the
    data) and ``--resume`` from the last checkpoint. In distributed training each rank checks
    its own losses; the first rank that fails stops the job (torchrun ends the others).

    Args:
        interval (int): Check every ``interval`` iterations. Default: 1 (every one; the check
            reads values the logger reads anyway).
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, interval: int = 1):
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.interval = interval

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[Dict] = None) -> None:
        if not outputs or not self.every_n_train_iters(runner, self.interval):
            return
        values = {k: _as_float(v) for k, v in outputs.items() if 'loss' in k}
        bad = {k: v for k, v in values.items() if v is not None and not math.isfinite(v)}
        if not bad:
            return
        where = f'iteration {runner.iter + 1}'
        if getattr(runner.train_loop, 'max_iters', None):
            where += f' of {runner.train_loop.max_iters}'
        if not runner.train_loop.__class__.__name__.startswith('IterBased'):
            where += f' (epoch {runner.epoch + 1}, batch {batch_idx + 1})'
        shown = ', '.join(f'{k}={v}' for k, v in values.items() if v is not None)
        raise NonFiniteLossError(
            f'Non-finite loss at training {where}: {shown}. Training stopped instead of going on '
            'with broken weights; no checkpoint was written for this iteration. Usual causes: a '
            'too high learning rate, float16 overflow (prefer the bf16 configs), or bad input '
            'data. Fix the cause and resume from the last checkpoint with --resume.')
