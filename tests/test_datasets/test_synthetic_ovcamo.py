"""The synthetic OVCamo generator: official layout, real class names, determinism."""
import filecmp
import os
import os.path as osp
import sys

import cv2
import numpy as np
import pytest

from mmseg_baclip.datasets import OVCAMO_TEST_CLASSES, OVCAMO_TRAIN_CLASSES
from mmseg_baclip.synthetic_world import make_synthetic_ovcamo
from ovcamo_test_utils import read_json

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def all_files(root):
    return sorted(
        osp.relpath(osp.join(d, f), root) for d, _, files in os.walk(root) for f in files)


def test_layout_and_json(synthetic_root):
    class_info = read_json(synthetic_root, 'class_info.json')
    samples = read_json(synthetic_root, 'sample_info.json')
    assert [c['name'] for c in class_info if c['split'] == 'train'] == list(OVCAMO_TRAIN_CLASSES)
    assert [c['name'] for c in class_info if c['split'] == 'test'] == list(OVCAMO_TEST_CLASSES)
    assert len(class_info) == 75 and all(set(c) == {'name', 'split'} for c in class_info)
    expected = {'jsonfile/class_info.json', 'jsonfile/sample_info.json'}
    for s in samples:
        assert set(s) == {'unique_id', 'base_class', 'image', 'mask'}
        split = 'train' if s['base_class'] in OVCAMO_TRAIN_CLASSES else 'test'
        assert s['base_class'] in (OVCAMO_TRAIN_CLASSES + OVCAMO_TEST_CLASSES)
        assert split in s['unique_id']
        expected |= {f'{split}/image/{s["unique_id"]}.jpg', f'{split}/mask/{s["unique_id"]}.png'}
    assert all_files(synthetic_root) == sorted(expected)
    n_train = sum(s['base_class'] in OVCAMO_TRAIN_CLASSES for s in samples)
    assert (n_train, len(samples) - n_train) == (6, 4)
    # round-robin: as many distinct classes as samples while there are enough classes
    assert len({s['base_class'] for s in samples}) == 10


def test_images_and_masks(synthetic_root):
    sizes = set()
    for s in read_json(synthetic_root, 'sample_info.json'):
        split = 'train' if s['base_class'] in OVCAMO_TRAIN_CLASSES else 'test'
        img = cv2.imread(osp.join(synthetic_root, split, 'image', s['image']))
        mask = cv2.imread(osp.join(synthetic_root, split, 'mask', s['mask']), cv2.IMREAD_UNCHANGED)
        assert img.dtype == np.uint8 and img.ndim == 3 and mask.ndim == 2
        assert img.shape[:2] == mask.shape
        assert set(np.unique(mask).tolist()) == {0, 255}
        fg = mask > 0
        assert 0.01 < fg.mean() < 0.6
        # camouflage: the object is close to the background in mean colour
        diff = np.abs(img[fg].mean(0) - img[~fg].mean(0)).max()
        assert diff < 60
        sizes.add(img.shape[:2])
    assert (40, 48) in sizes and len(sizes) > 1


def test_same_seed_same_bytes_other_seed_other_images(tmp_path):
    kwargs = dict(num_train=3, num_test=2, size=(32, 40))
    make_synthetic_ovcamo(str(tmp_path / 'a'), seed=5, **kwargs)
    make_synthetic_ovcamo(str(tmp_path / 'b'), seed=5, **kwargs)
    make_synthetic_ovcamo(str(tmp_path / 'c'), seed=6, **kwargs)
    files = all_files(tmp_path / 'a')
    assert files == all_files(tmp_path / 'b')
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / 'a', tmp_path / 'b', files,
                                               shallow=False)
    assert not mismatch and not errors and len(match) == len(files) == 12
    images = [f for f in files if f.endswith('.jpg')]
    other = [f for f in all_files(tmp_path / 'c') if f.endswith('.jpg')]
    assert images != other or any(
        not filecmp.cmp(tmp_path / 'a' / f, tmp_path / 'c' / f, shallow=False) for f in images)


def test_no_size_jitter_gives_the_base_size(tmp_path):
    summary = make_synthetic_ovcamo(str(tmp_path), num_train=4, num_test=1, size=(24, 36),
                                    size_jitter_prob=0.0)
    assert summary['num_train'] == 4 and sum(summary['samples_per_class']['train'].values()) == 4
    for split in ('train', 'test'):
        for f in os.listdir(tmp_path / split / 'image'):
            assert cv2.imread(str(tmp_path / split / 'image' / f)).shape == (24, 36, 3)


def test_invalid_arguments(tmp_path):
    with pytest.raises(ValueError, match='size'):
        make_synthetic_ovcamo(str(tmp_path), size=(8, 8))
    with pytest.raises(ValueError, match='num_train'):
        make_synthetic_ovcamo(str(tmp_path), num_train=-1)


def test_cli(tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'tools', 'dataset_converters'))
    sys.modules.pop('make_synthetic_ovcamo', None)
    import make_synthetic_ovcamo as cli
    out = tmp_path / 'syn'
    assert cli.main(['--out', str(out), '--num-train', '2', '--num-test', '1', '--size', '24',
                     '32', '--seed', '3']) == 0
    assert 'Wrote 2 train samples' in capsys.readouterr().out
    assert len(os.listdir(out / 'train' / 'image')) == 2
    assert len(os.listdir(out / 'test' / 'mask')) == 1
