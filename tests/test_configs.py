"""Every config in configs/ loads (from another working directory) and its model builds; the
model and data come from bases under configs/_base_/ (mmseg's layout)."""
import ast
import copy
import glob
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.utils import import_modules_from_strings
from mmseg.registry import MODELS

from baclip_test_utils import REPO_ROOT, TINY_CLIP

TINY_VIT = 'vit_tiny_baclip'

CONFIGS_DIR = osp.join(REPO_ROOT, 'configs')
BASE_DIR = osp.join(CONFIGS_DIR, '_base_')
CONFIGS = sorted(
    p for p in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p)
MODEL_BASES = sorted(glob.glob(osp.join(BASE_DIR, 'models', '*.py')))
# configs/reuse/ show BaCLIP components inside stock mmseg models, whole, as an example to copy
# (README, "Reusing the components"); the other concrete configs take their model and data from
# the bases and state only what differs.
LAYERED = [p for p in CONFIGS if not osp.relpath(p, CONFIGS_DIR).startswith('reuse' + os.sep)]
# What a base states, never a concrete config: a new size or dataset is a new dataset base (as
# mmseg's _base_/datasets/ade20k_640x640.py), a new model a new model base.
BASE_ONLY = ('data_preprocessor', 'crop_size', 'data_root', 'meta_keys', 'train_pipeline',
             'test_pipeline')


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


def own_assignments(path):
    """The top-level names a config file assigns itself, with their value nodes."""
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), path)
    return {target.id: node.value for node in tree.body if isinstance(node, ast.Assign)
            for target in node.targets if isinstance(target, ast.Name)}


def base_files(path):
    """Every file a config inherits from (its `_base_`, a path or a list, recursively)."""
    value = own_assignments(path).get('_base_')
    names = [] if value is None else ast.literal_eval(value)
    files = []
    for name in [names] if isinstance(names, str) else names:
        base = osp.normpath(osp.join(osp.dirname(path), name))
        files += [base] + base_files(base)
    return files


@pytest.mark.parametrize('path', LAYERED, ids=lambda p: osp.relpath(p, REPO_ROOT))
def test_model_and_data_come_from_the_bases(path):
    rel = osp.relpath(path, REPO_ROOT)
    bases = base_files(path)
    for kind in ('models', 'datasets'):
        assert any(osp.dirname(b) == osp.join(BASE_DIR, kind) for b in bases), \
            f'{rel} inherits no configs/_base_/{kind}/ file'
    own = own_assignments(path)
    for name in BASE_ONLY:
        assert name not in own, f'{rel} defines {name}: state it in a base under configs/_base_/'
    model = own.get('model')
    if model is not None:  # only overrides of the base's model: dict(...) without a type
        assert isinstance(model, ast.Call) and getattr(model.func, 'id', None) == 'dict', rel
        assert 'type' not in {kw.arg for kw in model.keywords}, \
            f'{rel} defines a model type: put the model in configs/_base_/models/'


def test_synthetic_pipelines_are_the_ovcamo_ones_at_their_size():
    """The synthetic dataset bases restate ./ovcamo.py's pipelines at another size (a base's
    values are fixed when it is read): they must stay the same transforms."""
    ovcamo = Config.fromfile(osp.join(BASE_DIR, 'datasets', 'ovcamo.py'))
    synthetic = sorted(glob.glob(osp.join(BASE_DIR, 'datasets', 'ovcamo_synthetic*.py')))
    assert len(synthetic) >= 2
    for path in synthetic:
        cfg = Config.fromfile(path)
        assert cfg.crop_size != ovcamo.crop_size and cfg.data_root != ovcamo.data_root
        for key, loader in (('train_pipeline', 'train_dataloader'),
                            ('test_pipeline', 'test_dataloader')):
            expected = copy.deepcopy(ovcamo[key])
            for transform in expected:
                if transform['type'] == 'Resize':
                    transform['scale'] = cfg.crop_size
            assert cfg[key] == expected, f'{path}: {key} differs from ovcamo.py\'s'
            assert cfg[loader].dataset.pipeline == cfg[key]
            assert cfg[loader].dataset.data_root == cfg.data_root


@pytest.mark.parametrize('path', MODEL_BASES, ids=lambda p: osp.relpath(p, REPO_ROOT))
def test_model_base_builds_alone(path):
    cfg = Config.fromfile(path)
    assert set(cfg) >= {'model', 'data_preprocessor'}
    shrink(cfg.model)
    MODELS.build(cfg.model)
