"""What the two pretrainings share: the learning-rate schedule and one optimiser step."""
import math
from typing import Dict, Optional

import torch
from torch import Tensor


def warmup_cosine(optimizer: torch.optim.Optimizer,
                  steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over the first 10% of ``steps``, then cosine to 0 (stepped per step)."""
    warmup = max(1, steps // 10)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * s / max(steps, 1))))


def optimiser_step(loss: Tensor, optimizer: torch.optim.Optimizer,
                   scheduler: torch.optim.lr_scheduler.LambdaLR,
                   log: Dict[str, Optional[float]]) -> None:
    """Backward, step, schedule, and record the loss in ``log`` (``loss_first``, ``loss_last``)."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    scheduler.step()
    if log['loss_first'] is None:
        log['loss_first'] = loss.item()
    log['loss_last'] = loss.item()
