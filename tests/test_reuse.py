"""A BaCLIP component inside a stock OpenMMLab model trains (CCE after mmpretrain's ConvNeXt)."""
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from baclip_test_utils import REPO_ROOT
from mmseg_baclip.synthetic_world import make_synthetic_ovcamo

REUSE = osp.join(REPO_ROOT, 'configs', 'reuse',
                 'fcn_mmpretrain-convnext-atto-cce_1xb4-200iter_ovcamo-synthetic-128.py')


def test_cce_in_stock_encoder_decoder_trains(tmp_path):
    data = tmp_path / 'data'
    make_synthetic_ovcamo(str(data), num_train=8, num_test=4, size=(64, 64), seed=1)
    cfg = Config.fromfile(REUSE)
    cfg.work_dir = str(tmp_path / 'work')
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = str(data)
    cfg.train_cfg.max_iters = 3
    cfg.train_cfg.val_interval = 3
    cfg.param_scheduler[0].end = 3
    cfg.default_hooks.checkpoint.interval = 3
    cfg.default_hooks.logger.interval = 1
    runner = Runner.from_cfg(cfg)
    cce = runner.model.neck
    before = {k: v.clone() for k, v in cce.state_dict().items()}
    runner.train()
    assert type(runner.model.backbone).__module__.startswith('mmpretrain')
    changed = [k for k, v in cce.state_dict().items()
               if v.dtype.is_floating_point and not torch.equal(v, before[k])]
    assert changed, 'the CCE neck did not train'
    assert 0 <= runner.message_hub.get_scalar('val/mIoU').current() <= 100
    assert osp.exists(osp.join(cfg.work_dir, 'iter_3.pth'))
