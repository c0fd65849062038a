"""Tiny assets shared by the API and tool tests: synthetic data, a small config, a checkpoint.

Built once per test session (cached here, so ``tests/test_apis`` and ``tests/test_tools`` share
them): the small demo config (tiny random CLIP, MREM, CCE, SAM head) at 64 x 64 pointed at a
synthetic OVCamo tree of 8 train / 6 test images of 96 x 96, and an mmengine-format checkpoint
``{'state_dict', 'meta'}`` of that model after ``init_weights()``.
"""
import os
import os.path as osp
from types import SimpleNamespace
from typing import Optional

import torch
from mmengine.config import Config
from mmseg.registry import MODELS

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SMALL_CONFIG = osp.join(REPO_ROOT, 'configs', 'baclip',
                        'baclip_convnext-tiny-random_1xb4-6e_ovcamo-synthetic-192.py')
CROP = (64, 64)

_ASSETS: Optional[SimpleNamespace] = None


def small_config(data_root: str, crop=CROP) -> Config:
    """The small demo config at ``crop`` on ``data_root``, one worker, batch 2."""
    cfg = Config.fromfile(SMALL_CONFIG)
    cfg.model.data_preprocessor.size = crop
    for pipeline in (cfg.train_dataloader.dataset.pipeline,
                     cfg.test_dataloader.dataset.pipeline, cfg.val_dataloader.dataset.pipeline):
        for transform in pipeline:
            if transform['type'] == 'Resize':
                transform['scale'] = crop
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data_root
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False
    cfg.train_dataloader.batch_size = 2
    return cfg


def get_tiny_assets(tmp_path_factory) -> SimpleNamespace:
    """Build (once) and return ``data_root``, ``config`` (file), ``checkpoint`` and ``cfg``."""
    global _ASSETS
    if _ASSETS is not None:
        return _ASSETS
    from mmseg_baclip.synthetic_world import make_synthetic_ovcamo
    base = tmp_path_factory.mktemp('ovcos_apis')
    data_root = str(base / 'ovcamo')
    make_synthetic_ovcamo(data_root, num_train=8, num_test=6, size=(96, 96), seed=0)
    cfg = small_config(data_root)
    config = str(base / 'baclip_small_64.py')
    cfg.dump(config)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    checkpoint = str(base / 'baclip_small_64.pth')
    torch.save({'state_dict': model.state_dict(),
                'meta': {'dataset_meta': {'classes': ('background', 'camouflaged')}}},
               checkpoint)
    test_images = sorted(osp.join(data_root, 'test', 'image', f)
                         for f in os.listdir(osp.join(data_root, 'test', 'image')))
    _ASSETS = SimpleNamespace(root=str(base), data_root=data_root, config=config,
                              checkpoint=checkpoint, cfg=cfg, test_images=test_images)
    return _ASSETS


def load_tool(relative_path: str):
    """Import a script under ``tools/`` as a module (its ``main(argv)`` is then callable)."""
    import importlib.util
    path = osp.join(REPO_ROOT, relative_path)
    name = 'tool_' + osp.splitext(relative_path)[0].replace('/', '_').replace('.', '_')
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
