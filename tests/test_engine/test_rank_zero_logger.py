"""Only rank 0 writes the test-metrics JSON (all ranks writing one file can corrupt it)."""
from unittest import mock

from mmseg_baclip.engine.hooks import RankZeroLoggerHook, rank_zero_logger_hook


def test_only_the_main_process_writes_test_metrics(tmp_path):
    hook = RankZeroLoggerHook()
    hook.json_log_path = 'metrics.json'
    runner = mock.MagicMock()
    runner.log_dir = str(tmp_path)
    runner.test_dataloader = [0]
    runner.log_processor.get_log_after_epoch.return_value = ({'cIoU': 0.5}, 'cIoU: 0.5')
    with mock.patch.object(rank_zero_logger_hook, 'is_main_process', return_value=False):
        hook.after_test_epoch(runner, {'cIoU': 0.5})
    assert not (tmp_path / 'metrics.json').exists()
    with mock.patch.object(rank_zero_logger_hook, 'is_main_process', return_value=True):
        hook.after_test_epoch(runner, {'cIoU': 0.5})
    assert (tmp_path / 'metrics.json').read_text().count('cIoU') == 1
