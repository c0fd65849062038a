"""``init_weights()`` outside a Runner, without mmengine's per-parameter report.

mmengine's ``BaseModule.init_weights`` ends, on the top-level module, with a report of how every
parameter was initialised (``<name> - torch.Size([...]): The value is the same before and after
calling `init_weights` of BaCLIP``). Inside a Runner it goes into the run's log file; outside
one (an inferencer built without a checkpoint, a benchmark) it is logged at INFO level to the
console: some 1,900 lines for the small model. Warnings are what a user of those paths needs.
"""
import contextlib
import logging
from typing import Iterator

from mmengine.logging import MMLogger
from torch import nn

__all__ = ['init_weights_without_report', 'quiet_mmengine_logger']


@contextlib.contextmanager
def quiet_mmengine_logger(level: int = logging.WARNING) -> Iterator[None]:
    """Inside the block, mmengine's current logger drops records below ``level``.

    For library calls whose INFO lines are meant for a run's log (a metric's tables, the text
    encoder's timing line), made where their caller prints its own summary. The logger's level
    is restored afterwards.

    Args:
        level (int): The lowest level kept. Defaults to ``logging.WARNING``.
    """
    logger = MMLogger.get_current_instance()
    previous = logger.level
    logger.setLevel(max(previous, level))
    try:
        yield
    finally:
        logger.setLevel(previous)


def init_weights_without_report(model: nn.Module) -> None:
    """Run ``model.init_weights()`` with mmengine's current logger at WARNING level or above.

    The per-parameter INFO report (and any other INFO or DEBUG record logged through mmengine's
    current logger while the weights are initialised) is dropped; warnings and errors, and
    Python ``warnings``, still go through. The logger's level is restored afterwards.

    Args:
        model (nn.Module): A model with ``init_weights()`` (an mmengine ``BaseModule``).
    """
    with quiet_mmengine_logger():
        model.init_weights()
