"""The base dataset config: train/test pipelines end to end on a tiny synthetic tree."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmseg.registry import DATASETS
from mmseg.structures import SegDataSample

from mmseg_baclip.datasets import OVCAMO_TEST_CLASSES, OVCAMO_TRAIN_CLASSES
from ovcamo_test_utils import mask_path, read_json, split_entries, write_json

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO_ROOT, 'configs', '_base_', 'datasets', 'ovcamo.py')


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the config must not depend on the working directory
    return Config.fromfile(CONFIG)


def build_from(cfg, loader, root):
    dataset_cfg = cfg[loader].dataset.copy()
    dataset_cfg.data_root = root
    return DATASETS.build(dataset_cfg)


def test_config_contents(cfg):
    assert cfg.dataset_type == 'OVCamoDataset' and cfg.data_root == 'data/OVCamo'
    assert cfg.crop_size == (384, 384)
    assert cfg.train_dataloader.batch_size == 4 and cfg.train_dataloader.num_workers == 2
    assert cfg.train_dataloader.sampler == dict(type='DefaultSampler', shuffle=True)
    assert cfg.train_dataloader.dataset.split == 'train'
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        assert loader.batch_size == 1 and loader.dataset.split == 'test'
        assert loader.dataset.test_mode
    assert cfg.val_evaluator == dict(type='OVCOSMetric') == cfg.test_evaluator
    types = [t['type'] for t in cfg.test_pipeline]
    assert types.index('LoadOVCamoAnnotations') > types.index('Resize')
    for pipeline in (cfg.train_pipeline, cfg.test_pipeline):
        keys = pipeline[-1]['meta_keys']
        assert {'class_name', 'vocabulary', 'unique_id', 'img_path', 'ori_shape'} <= set(keys)


def test_train_pipeline_gives_384_inputs_and_gt(cfg, synthetic_root):
    np.random.seed(0)  # flip, rotation and colour jitter draw from numpy's global generator
    ds = build_from(cfg, 'train_dataloader', synthetic_root)
    entries = split_entries(synthetic_root, 'train')
    for i in range(len(ds)):
        out = ds[i]
        sample = out['data_samples']
        assert isinstance(sample, SegDataSample)
        assert out['inputs'].shape == (3, 384, 384) and out['inputs'].dtype == torch.uint8
        gt = sample.gt_sem_seg.data
        assert gt.shape == (1, 384, 384)
        assert set(gt.unique().tolist()) <= {0, 1} and gt.sum() > 0
        assert sample.class_name == entries[i]['base_class']
        assert sample.unique_id == entries[i]['unique_id']
        assert sample.vocabulary == OVCAMO_TRAIN_CLASSES


def test_test_pipeline_keeps_gt_at_original_size(cfg, synthetic_root):
    ds = build_from(cfg, 'test_dataloader', synthetic_root)
    entries = split_entries(synthetic_root, 'test')
    sizes = set()
    for i, entry in enumerate(entries):
        out = ds[i]
        sample = out['data_samples']
        original = cv2.imread(mask_path(synthetic_root, 'test', entry), cv2.IMREAD_UNCHANGED)
        sizes.add(original.shape)
        assert out['inputs'].shape == (3, 384, 384)
        assert tuple(sample.ori_shape) == original.shape
        assert tuple(sample.img_shape) == (384, 384)
        np.testing.assert_array_equal(sample.gt_sem_seg.data[0].numpy(), original > 0)
        assert sample.class_name == entry['base_class'] in OVCAMO_TEST_CLASSES
        assert sample.vocabulary == OVCAMO_TEST_CLASSES
        assert not hasattr(sample, 'flip') or not sample.flip
    assert len(sizes) > 1  # the synthetic tree has images of several sizes
    batch = pseudo_collate([ds[0], ds[1]])
    assert [s.class_name for s in batch['data_samples']] == [e['base_class'] for e in entries[:2]]


def make_mismatch(root):
    """Make the first train mask taller than its image; return (image (h, w), mask (h, w))."""
    entry = split_entries(root, 'train')[0]
    path = mask_path(root, 'train', entry)
    mask = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    bigger = cv2.resize(mask, (mask.shape[1], mask.shape[0] + 6),
                        interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(path, bigger)
    return mask.shape, bigger.shape


def test_size_mismatch_in_the_train_pipeline(cfg, ovcamo_root):
    (h, w), (mh, mw) = make_mismatch(ovcamo_root)
    # default (as OVCoser in training): the image is resized to its mask
    ds = build_from(cfg, 'train_dataloader', ovcamo_root)
    sample = ds[0]['data_samples']
    assert tuple(sample.ori_shape) == (mh, mw) and sample.gt_sem_seg.data.shape == (1, 384, 384)
    # size_mismatch='error' reports both files and sizes instead
    for t in cfg.train_dataloader.dataset.pipeline:
        if t['type'] == 'LoadOVCamoAnnotations':
            t['size_mismatch'] = 'error'
    ds = build_from(cfg, 'train_dataloader', ovcamo_root)
    with pytest.raises(ValueError, match=f'is {mh}x{mw} .* is {h}x{w}'):
        ds[0]


def test_size_mismatch_in_the_test_pipeline_resize_option(cfg, ovcamo_root):
    # the mismatched sample is a train sample: move the class to the test split
    (h, w), (mh, mw) = make_mismatch(ovcamo_root)
    entry = split_entries(ovcamo_root, 'train')[0]
    for sub in ('image', 'mask'):
        src = osp.join(ovcamo_root, 'train', sub)
        name = [f for f in os.listdir(src) if f.startswith(entry['unique_id'] + '.')][0]
        os.replace(osp.join(src, name), osp.join(ovcamo_root, 'test', sub, name))
    class_info = read_json(ovcamo_root, 'class_info.json')
    for c in class_info:
        if c['name'] == entry['base_class']:
            c['split'] = 'test'
    write_json(ovcamo_root, 'class_info.json', class_info)
    for t in cfg.test_dataloader.dataset.pipeline:
        if t['type'] == 'LoadOVCamoAnnotations':
            t['size_mismatch'] = 'resize_image'
    ds = build_from(cfg, 'test_dataloader', ovcamo_root)
    index = [ds.get_data_info(i)['unique_id'] for i in range(len(ds))].index(entry['unique_id'])
    out = ds[index]
    assert out['inputs'].shape == (3, 384, 384)
    assert tuple(out['data_samples'].ori_shape) == (mh, mw)
    assert out['data_samples'].gt_sem_seg.data.shape == (1, mh, mw)
