"""mmengine's LoggerHook, with the test metrics JSON written by one process only."""
from typing import Dict, Optional

from mmengine.dist import is_main_process
from mmengine.hooks import LoggerHook
from mmseg.registry import HOOKS


@HOOKS.register_module()
class RankZeroLoggerHook(LoggerHook):
    """``LoggerHook`` whose ``after_test_epoch`` runs on the main process only.

    mmengine's hook dumps the test metrics to ``<log_dir>/<timestamp>.json`` from every rank;
    in distributed testing all ranks write the same file at once, which can leave it corrupt.
    The metrics are identical on every rank (mmengine broadcasts them), so rank 0 writes them.
    """

    def after_test_epoch(self, runner, metrics: Optional[Dict[str, float]] = None) -> None:
        if is_main_process():
            super().after_test_epoch(runner, metrics)
