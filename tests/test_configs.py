"""Every config in configs/ loads (from another working directory) and its model builds."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.utils import import_modules_from_strings
from mmseg.registry import MODELS

from baclip_test_utils import REPO_ROOT, TINY_CLIP

TINY_VIT = 'vit_tiny_baclip'

CONFIGS = sorted(
    p for p in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p)


def shrink(model_cfg):
    """Small overrides: a tiny CLIP instead of ConvNeXt-L / ViT-L, no weight files."""
    vit = model_cfg.get('backbone', {}).get('type') == 'OpenCLIPViT'
    tiny = TINY_VIT if vit else TINY_CLIP
    for part in ('backbone', 'text_encoder'):
        if model_cfg.get(part, {}).get('type', '').startswith('OpenCLIP'):
            model_cfg[part]['model_name'] = tiny
    if vit:
        model_cfg.backbone.layer_indices = (0, 1, 2, 3)
    if model_cfg.get('align_neck') and model_cfg.get('backbone', {}).get('model_name') == tiny:
        model_cfg.align_neck.in_channels = (64, 64, 64) if vit else (80, 160, 320)
        model_cfg.align_neck.text_channels = 64
    if model_cfg.get('type') == 'BaCLIP' and model_cfg.get('align_neck') is None:
        # the decoder sits on a CLIP level directly: the tiny CLIP's stage 2 has 160 channels
        model_cfg.decode_head.in_channels = 64 if vit else 160
    for part in ('backbone', 'text_encoder', 'decode_head'):
        if isinstance(model_cfg.get(part), dict) and 'checkpoint' in model_cfg[part]:
            model_cfg[part].checkpoint = None


def test_there_are_configs():
    names = {osp.basename(p) for p in CONFIGS}
    assert 'baclip_convnext-l_ovcamo.py' in names and len(CONFIGS) >= 13


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, REPO_ROOT))
def test_config_loads_and_builds(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # configs must not depend on the working directory
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmseg'
    import_modules_from_strings(**cfg.custom_imports)
    shrink(cfg.model)
    model = MODELS.build(cfg.model)
    model.init_weights()
    size = cfg.model.data_preprocessor.get('size') or (64, 64)
    if cfg.model.type == 'BaCLIP':
        model.set_vocabulary(['owl', 'moth'])
        model.eval()
        with torch.no_grad():
            out = model.predict(torch.randn(1, 3, *size))
        assert out[0].pred_class in ('owl', 'moth')
    for key in ('train_dataloader', 'test_dataloader', 'test_evaluator', 'optim_wrapper'):
        assert key in cfg, f'{key} missing in {path}'
