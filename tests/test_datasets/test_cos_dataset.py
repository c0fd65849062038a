"""COSDataset on synthetic trees in the exact layouts of the COS test sets, and COD10K names."""
import os

import cv2
import numpy as np
import pytest

from mmseg_baclip.datasets import (OVCAMO_TEST_CLASSES, OVCAMO_TRAIN_CLASSES, COSDataError,
                                   COSDataset, cod10k_class, overlap_with, readable_class_name)


def write_pair(img_dir, mask_dir, stem, size=(40, 48), mask_size=None, seed=0):
    """A random image ``<stem>.jpg`` and a mask ``<stem>.png`` with a square object."""
    rng = np.random.default_rng(seed)
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(mask_dir, exist_ok=True)
    h, w = size
    cv2.imwrite(os.path.join(img_dir, stem + '.jpg'), rng.integers(0, 256, (h, w, 3), np.uint8))
    mh, mw = mask_size or size
    mask = np.zeros((mh, mw), np.uint8)
    mask[mh // 4:mh // 2, mw // 4:mw // 2] = 255
    cv2.imwrite(os.path.join(mask_dir, stem + '.png'), mask)


def test_testdataset_layout(tmp_path):
    root = tmp_path / 'TestDataset' / 'NC4K'
    for i in range(3):
        write_pair(str(root / 'Imgs'), str(root / 'GT'), f'{i:04d}', seed=i)
    dataset = COSDataset(data_root=str(root))
    assert len(dataset) == 3 and dataset.metainfo['set_name'] == 'NC4K'
    assert dataset.vocabulary == OVCAMO_TRAIN_CLASSES + OVCAMO_TEST_CLASSES
    info = dataset.get_data_info(0)
    assert info['img_path'].endswith('Imgs/0000.jpg') and info['seg_map_path'].endswith(
        'GT/0000.png')
    assert info['class_name'] is None and info['unique_id'] == '0000'
    assert COSDataset(data_root=str(root), vocabulary=['owl', 'moth']).vocabulary == (
        'owl', 'moth')


def test_cod10k_release_layout_and_classes(tmp_path):
    root = tmp_path / 'COD10K-v3'
    img, gt = str(root / 'Test' / 'Image'), str(root / 'Test' / 'GT_Object')
    names = ['COD10K-CAM-1-Aquatic-3-Crab-32', 'COD10K-CAM-3-Flying-61-StickInsect-3923',
             'COD10K-CAM-1-Aquatic-13-SeaHorse-7', 'COD10K-CAM-3-Flying-53-Owl-12']
    for i, stem in enumerate(names):
        write_pair(img, gt, stem, seed=i)
    # non-camouflaged images of the release have no object mask and are not test samples
    cv2.imwrite(os.path.join(img, 'COD10K-NonCAM-1-Aquatic-1-BatFish-5.jpg'),
                np.zeros((8, 8, 3), np.uint8))
    dataset = COSDataset(data_root=str(root),
                         data_prefix=dict(img_path='Test/Image', seg_map_path='Test/GT_Object'),
                         image_pattern=r'^COD10K-CAM-', class_from_name='cod10k')
    assert len(dataset) == 4
    classes = {dataset.get_data_info(i)['class_name'] for i in range(4)}
    assert classes == {'crab', 'stick insect', 'seahorse', 'owl'}
    assert dataset.vocabulary == tuple(sorted(classes))
    assert overlap_with(dataset.vocabulary) == ('owl', 'seahorse')
    with pytest.raises(COSDataError, match=r"\['stick insect'\]"):
        COSDataset(data_root=str(root), image_pattern=r'^COD10K-CAM-', class_from_name='cod10k',
                   data_prefix=dict(img_path='Test/Image', seg_map_path='Test/GT_Object'),
                   vocabulary=['crab', 'seahorse', 'owl'])


def test_every_bad_file_in_one_report(tmp_path):
    root = tmp_path / 'CAMO'
    img, gt = str(root / 'Imgs'), str(root / 'GT')
    write_pair(img, gt, 'good')
    write_pair(img, gt, 'sizes', mask_size=(20, 24))
    write_pair(img, gt, 'no_mask')
    os.remove(os.path.join(gt, 'no_mask.png'))
    write_pair(img, gt, 'no_image')
    os.remove(os.path.join(img, 'no_image.jpg'))
    write_pair(img, gt, 'broken')
    with open(os.path.join(img, 'broken.jpg'), 'wb') as f:
        f.write(b'\xff\xd8 not a jpeg')
    with pytest.raises(COSDataError) as error:
        COSDataset(data_root=str(root))
    problems = error.value.problems
    assert len(problems) == 4
    for name in ('GT/no_image.png', 'Imgs/no_mask.jpg', 'Imgs/broken.jpg', 'Imgs/sizes.jpg'):
        assert sum(name in p for p in problems) == 1, (name, problems)
    with pytest.warns(UserWarning, match='4 bad files'):
        dataset = COSDataset(data_root=str(root), on_bad_sample='skip')
    assert len(dataset) == 1
    assert len(COSDataset(data_root=str(root), on_bad_sample='skip',
                          allow_size_mismatch=True)) == 2


def test_refusals(tmp_path):
    root = tmp_path / 'CHAMELEON'
    write_pair(str(root / 'Imgs'), str(root / 'GT'), 'a')
    with pytest.raises(ValueError, match='LoadOVCamoAnnotations'):
        COSDataset(data_root=str(root), pipeline=[dict(type='LoadAnnotations')])
    with pytest.raises(FileNotFoundError, match='mask folder'):
        COSDataset(data_root=str(root), data_prefix=dict(img_path='Imgs', seg_map_path='gt'))
    with pytest.raises(COSDataError, match='no image with a mask'):
        COSDataset(data_root=str(root), image_pattern='^COD10K')
    with pytest.raises(COSDataError, match="no class"):
        COSDataset(data_root=str(root), class_from_name='cod10k')
    with pytest.raises(ValueError):
        COSDataset(data_root=str(root), vocabulary=['owl', 'Owl'])


def test_cod10k_names():
    assert cod10k_class('COD10K-CAM-2-Terrestrial-40-PolarBear-5') == 'polar bear'
    assert cod10k_class('COD10K-CAM-1-Aquatic-9-ScorpionFish-2') == 'scorpionfish'
    assert cod10k_class('COD10K-CAM-1-Aquatic-5-Flounder-7') == 'flounder'  # not 'flatfish'
    assert cod10k_class('COD10K-NonCAM-1-Aquatic-3-Crab-2') is None
    assert cod10k_class('camourflage_00012') is None
    assert readable_class_name('GhostPipefish') == 'ghost pipefish'
