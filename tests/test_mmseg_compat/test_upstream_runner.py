"""mmseg's own tools build the Runner a config names: BaCLIPRunner's protections hold there too.

* A crafted checkpoint given to mmseg's installed ``tools/test.py`` as an ``https://`` address
  (the file in torch.hub's cache, where a download would have put it) is refused and nothing in
  its pickle runs; mmengine's own loader would unpickle it with ``weights_only=False``.
* A stock mmseg config that reuses a BaCLIP component (the CCE neck after mmpretrain's ConvNeXt)
  writes, with mmseg's ``train.py``, checkpoints that load with ``torch.load(weights_only=True)``
  and that mmseg's ``test.py`` loads, once it says ``runner_type = 'BaCLIPRunner'``; without that
  line they need unsafe loading (the control).
"""
import os
import os.path as osp
import pickle
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from baclip_test_utils import REPO_ROOT
from mmseg_baclip.synthetic_world import make_synthetic_ovcamo
from test_engine.engine_test_utils import SMALL_CONFIG
from test_mmseg_compat.compat_test_utils import UPSTREAM_TOOLS, run_upstream_tool

REUSE = osp.join(REPO_ROOT, 'configs', 'reuse',
                 'fcn_mmpretrain-convnext-atto-cce_1xb4-200iter_ovcamo-synthetic-128.py')


class RunsCode:
    """Unpickling this runs ``touch <marker>`` (what a malicious checkpoint would do)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def test_mmseg_test_tool_refuses_a_crafted_https_checkpoint(upstream_trained, tmp_path):
    """The whole check, as a user would run it: the shipped small config, mmseg's tool."""
    marker = tmp_path / 'code_ran'
    torch_home = tmp_path / 'torch_home'
    (torch_home / 'hub' / 'checkpoints').mkdir(parents=True)
    torch.save({'state_dict': {'w': torch.zeros(1)}, 'meta': RunsCode(marker)},
               str(torch_home / 'hub' / 'checkpoints' / 'evil.pth'))
    tool = osp.join(UPSTREAM_TOOLS, 'test.py')
    if not osp.isfile(tool):
        pytest.skip(f'mmseg was installed without its tools ({tool})')
    proc = subprocess.run(
        [sys.executable, tool, SMALL_CONFIG, 'https://example.invalid/evil.pth', '--work-dir',
         str(tmp_path / 'work'), '--cfg-options',
         f'test_dataloader.dataset.data_root={upstream_trained.data_root}'],
        cwd=str(tmp_path), env=dict(os.environ, TORCH_HOME=str(torch_home), OMP_NUM_THREADS='1'),
        capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    assert 'UnsafeCheckpointError' in proc.stderr and 'evil.pth' in proc.stderr, proc.stderr[-2000:]
    assert not marker.exists()


def _stock_config(data_root: str, work_dir: str, with_runner: bool) -> Config:
    """The reuse example as a user's stock config: mmseg's runtime settings, none of ours."""
    cfg = Config.fromfile(REUSE)
    cfg.pop('runner_type')
    cfg.pop('checkpoint_cfg')
    cfg.custom_hooks = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=2)
    cfg.default_hooks.logger.interval = 1
    if with_runner:
        cfg.runner_type = 'BaCLIPRunner'  # the one line a stock config needs
    cfg.work_dir = work_dir
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data_root
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False
    cfg.train_cfg.max_iters = 2
    cfg.train_cfg.val_interval = 2
    cfg.param_scheduler[0].end = 2
    return cfg


@pytest.mark.parametrize('with_runner', [True, False])
def test_stock_config_with_runner_type_writes_weights_only_checkpoints(tmp_path, with_runner):
    data = str(tmp_path / 'data')
    make_synthetic_ovcamo(data, num_train=4, num_test=2, size=(64, 64), seed=1)
    work = str(tmp_path / 'work')
    config = str(tmp_path / 'stock.py')
    _stock_config(data, work, with_runner).dump(config)
    run_upstream_tool('train', config, cwd=str(tmp_path))
    checkpoint = osp.join(work, 'iter_2.pth')
    if not with_runner:  # control: mmengine stores objects the safe unpickler refuses
        with pytest.raises(pickle.UnpicklingError):
            torch.load(checkpoint, map_location='cpu', weights_only=True)
        return
    loaded = torch.load(checkpoint, map_location='cpu', weights_only=True)
    assert any(k.startswith('neck.') for k in loaded['state_dict'])
    proc = run_upstream_tool('test', config, checkpoint, '--work-dir', str(tmp_path / 'test'),
                             cwd=str(tmp_path))
    assert 'mIoU' in proc.stdout + proc.stderr
