"""``init_weights()`` outside a Runner, without mmengine's per-parameter report.

mmengine's ``BaseModule.init_weights`` ends, on the top-level module, with a report of how every
parameter was initialised (``<name> - torch.Size([...]): The value is the same before and after
calling `init_weights` of BaCLIP``). Inside a Runner it goes into the run's log file; outside
one (an inferencer built without a checkpoint, a benchmark) it is logged at INFO level to the
console: some 1,900 lines for the small model. Warnings are what a user of those paths needs.
"""
import logging

from mmengine.logging import MMLogger
from torch import nn

__all__ = ['init_weights_without_report']


def init_weights_without_report(model: nn.Module) -> None:
    """Run ``model.init_weights()`` with mmengine's current logger at WARNING level or above.

    The per-parameter INFO report (and any other INFO or DEBUG record logged through mmengine's
    current logger while the weights are initialised) is dropped; warnings and errors, and
    Python ``warnings``, still go through. The logger's level is restored afterwards.

    Args:
        model (nn.Module): A model with ``init_weights()`` (an mmengine ``BaseModule``).
    """
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)
