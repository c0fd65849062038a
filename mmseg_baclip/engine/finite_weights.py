"""Refuse weights that hold NaN or Inf, naming the tensors.

A run that diverged can write a checkpoint whose weights are NaN; tested as it is, every
prediction is NaN, which the metrics read as empty masks: all-zero numbers and exit status 0.
"""
from typing import Any, List, Mapping, Optional

import torch

_SHOW = 5  # how many tensors the error names


class NonFiniteWeightsError(ValueError):
    """A checkpoint holds NaN or Inf weights."""


def non_finite_tensors(state: Mapping[str, Any]) -> List[str]:
    """The floating-point tensors of a state dict that hold NaN or Inf.

    Args:
        state (Mapping[str, Any]): A state dict (non-tensor values are ignored).

    Returns:
        list[str]: ``'<key> (<n> NaN, <m> Inf of <numel>)'`` per bad tensor, in state-dict order.
    """
    bad = []
    for key, value in state.items():
        if not (isinstance(value, torch.Tensor) and value.is_floating_point()):
            continue
        finite = torch.isfinite(value)
        if bool(finite.all()):
            continue
        nan = int(torch.isnan(value).sum())
        bad.append(f'{key} ({nan} NaN, {int((~finite).sum()) - nan} Inf of {value.numel()})')
    return bad


def check_finite_weights(state: Mapping[str, Any], source: Optional[str] = None) -> None:
    """Raise :class:`NonFiniteWeightsError` when a state dict holds NaN or Inf.

    Args:
        state (Mapping[str, Any]): A state dict.
        source (str, optional): The checkpoint file, for the message.
    """
    bad = non_finite_tensors(state)
    if not bad:
        return
    more = f' (and {len(bad) - _SHOW} more)' if len(bad) > _SHOW else ''
    where = f' {source}' if source else ''
    raise NonFiniteWeightsError(
        f'The checkpoint{where} has non-finite weights (NaN/Inf) in {len(bad)} tensor'
        f'{"s" if len(bad) > 1 else ""}: {", ".join(bad[:_SHOW])}{more}. The run that wrote it '
        'diverged; use an earlier checkpoint (its metrics would all read 0).')
