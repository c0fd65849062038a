"""OVCamoDataset: registration, the split-by-class rule, metainfo, and every bad input."""
import os
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest
from mmseg.registry import DATASETS

from mmseg_baclip.datasets import (OVCAMO_TEST_CLASSES, OVCAMO_TRAIN_CLASSES, OVCamoDataError,
                                   OVCamoDataset)
from ovcamo_test_utils import (add_sample, corrupt, image_path, mask_path, read_json,
                               split_entries, write_json)


def build(root, **kwargs):
    return DATASETS.build(dict(type='OVCamoDataset', data_root=root, **kwargs))


@pytest.mark.parametrize('split', ['train', 'test'])
def test_builds_through_registry_with_split_vocabulary(synthetic_root, split):
    ds = build(synthetic_root, split=split)
    assert isinstance(ds, OVCamoDataset)
    expected = OVCAMO_TRAIN_CLASSES if split == 'train' else OVCAMO_TEST_CLASSES
    meta = ds.metainfo
    assert meta['classes'] == ('background', 'camouflaged')
    assert meta['vocabulary'] == expected and ds.vocabulary == expected
    assert meta['split'] == split
    entries = split_entries(synthetic_root, split)
    assert len(ds) == len(entries) > 0
    for i, entry in enumerate(entries):
        info = ds.get_data_info(i)
        assert info['class_name'] == entry['base_class'] and info['class_name'] in expected
        assert info['unique_id'] == entry['unique_id']
        assert info['vocabulary'] == expected
        assert info['img_path'] == image_path(synthetic_root, split, entry)
        assert info['seg_map_path'] == mask_path(synthetic_root, split, entry)
        assert info['reduce_zero_label'] is False and info['seg_fields'] == []
        assert 'label_map' in info


def test_vocabulary_follows_class_info_order(ovcamo_root):
    class_info = read_json(ovcamo_root, 'class_info.json')
    write_json(ovcamo_root, 'class_info.json', class_info[::-1])
    ds = build(ovcamo_root, split='train')
    assert ds.metainfo['vocabulary'] == OVCAMO_TRAIN_CLASSES[::-1]


def test_only_extensions_of_image_and_mask_fields_are_used(ovcamo_root):
    samples = read_json(ovcamo_root, 'sample_info.json')
    entry = split_entries(ovcamo_root, 'train')[0]
    old_img = image_path(ovcamo_root, 'train', entry)
    img = cv2.imread(old_img)
    os.remove(old_img)
    cv2.imwrite(old_img[:-4] + '.png', img)
    for s in samples:
        if s['unique_id'] == entry['unique_id']:
            s['image'] = 'original_name_from_COD10K.png'
            s['mask'] = 'whatever.png'
    write_json(ovcamo_root, 'sample_info.json', samples)
    ds = build(ovcamo_root, split='train')
    assert ds.get_data_info(0)['img_path'] == old_img[:-4] + '.png'


def test_every_path_is_overridable(ovcamo_root, tmp_path):
    other = tmp_path / 'elsewhere'
    shutil.move(osp.join(ovcamo_root, 'jsonfile'), other)
    shutil.move(osp.join(ovcamo_root, 'test'), osp.join(ovcamo_root, 'TestSet'))
    ds = build(
        ovcamo_root, split='test', class_info_file=str(other / 'class_info.json'),
        sample_info_file=str(other / 'sample_info.json'),
        data_prefix=dict(img_path='TestSet/image', seg_map_path='TestSet/mask'))
    assert len(ds) == 4
    assert ds.get_data_info(0)['img_path'].startswith(osp.join(ovcamo_root, 'TestSet', 'image'))


def test_lazy_init_falls_back_to_builtin_vocabulary(tmp_path):
    with pytest.warns(UserWarning, match='built-in OVCamo class lists'):
        ds = build(str(tmp_path), split='test', lazy_init=True)
    assert ds.metainfo['vocabulary'] == OVCAMO_TEST_CLASSES


def test_invalid_arguments_raise(synthetic_root):
    with pytest.raises(ValueError, match='split'):
        build(synthetic_root, split='val')
    with pytest.raises(ValueError, match='on_bad_sample'):
        build(synthetic_root, on_bad_sample='ignore')
    with pytest.raises(ValueError, match='verify_files'):
        build(synthetic_root, verify_files='deep')


# ---------------------------------------------------------------- bad json files


@pytest.mark.parametrize('name,arg', [('class_info.json', 'class_info_file'),
                                      ('sample_info.json', 'sample_info_file')])
def test_missing_json_names_the_file_and_the_fix(ovcamo_root, name, arg):
    os.remove(osp.join(ovcamo_root, 'jsonfile', name))
    with pytest.raises(FileNotFoundError) as err:
        build(ovcamo_root)
    assert osp.join(ovcamo_root, 'jsonfile', name) in str(err.value)
    assert arg in str(err.value)


@pytest.mark.parametrize('name,content,match', [
    ('sample_info.json', '{"not": "a list"}', 'JSON list'),
    ('sample_info.json', '[{"unique_id": "a", "base_class": "owl", "image": "a.jpg"}]',
     r"entry #0 .*missing key\(s\) \['mask'\]"),
    ('sample_info.json', '[{"unique_id": "a", "base_class": "owl", "image": "a", "mask": "a.png"}]',
     "'image' has no file extension"),
    ('class_info.json', '[{"name": "owl", "split": "val"}]', 'split must be one of'),
    ('class_info.json', '[{"name": "owl", "split": "train"}, {"name": "owl", "split": "test"}]',
     'already listed'),
    ('class_info.json', '[{"name": "owl"', 'not valid JSON'),
])
def test_malformed_json_is_reported(ovcamo_root, name, content, match):
    with open(osp.join(ovcamo_root, 'jsonfile', name), 'w') as f:
        f.write(content)
    with pytest.raises(OVCamoDataError, match=match) as err:
        build(ovcamo_root)
    assert name in str(err.value)


# ---------------------------------------------------------------- bad samples


def test_missing_image_is_reported(ovcamo_root):
    path = image_path(ovcamo_root, 'train', split_entries(ovcamo_root, 'train')[1])
    os.remove(path)
    with pytest.raises(OVCamoDataError, match='file not found') as err:
        build(ovcamo_root, split='train')
    assert path in str(err.value) and "on_bad_sample='skip'" in str(err.value)
    build(ovcamo_root, split='test')  # the other split is unaffected


def test_missing_mask_is_reported(ovcamo_root):
    path = mask_path(ovcamo_root, 'test', split_entries(ovcamo_root, 'test')[0])
    os.remove(path)
    with pytest.raises(OVCamoDataError) as err:
        build(ovcamo_root, split='test')
    assert f'mask {path}: file not found' in str(err.value)


@pytest.mark.parametrize('kind', ['image', 'mask'])
def test_unreadable_file_is_reported(ovcamo_root, kind):
    entry = split_entries(ovcamo_root, 'train')[0]
    path = (image_path if kind == 'image' else mask_path)(ovcamo_root, 'train', entry)
    corrupt(path)
    with pytest.raises(OVCamoDataError, match='cannot be read') as err:
        build(ovcamo_root, split='train')
    assert path in str(err.value) and entry['unique_id'] in str(err.value)
    # verify_files=False only checks existence: the corrupt file is not noticed at init.
    assert len(build(ovcamo_root, split='train', verify_files=False)) == 6


def test_truncated_jpeg_needs_decode_verification(ovcamo_root):
    entry = split_entries(ovcamo_root, 'train')[0]
    path = image_path(ovcamo_root, 'train', entry)
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    with pytest.raises(OVCamoDataError, match='cannot be read') as err:
        build(ovcamo_root, split='train', verify_files='decode')
    assert path in str(err.value)


def truncate(path):
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) * 3 // 4])


def test_default_check_catches_a_truncated_jpeg_and_skip_leaves_it_out(ovcamo_root):
    """A truncated JPEG passes a header check and would stop training at its first batch; the
    default check looks for the end-of-image marker, and 'skip' leaves the sample out."""
    entry = split_entries(ovcamo_root, 'train')[0]
    path = image_path(ovcamo_root, 'train', entry)
    truncate(path)
    with pytest.raises(OVCamoDataError, match='truncated JPEG') as err:
        build(ovcamo_root, split='train')
    assert path in str(err.value)
    pipeline = [dict(type='LoadOVCamoImage'), dict(type='LoadOVCamoAnnotations')]
    with pytest.warns(UserWarning, match='truncated JPEG'):
        ds = build(ovcamo_root, split='train', on_bad_sample='skip', pipeline=pipeline)
    assert len(ds) == 5
    for i in range(len(ds)):  # every kept sample loads
        assert ds[i]['img_path'] != path


def test_truncated_png_is_caught_by_the_default_check(ovcamo_root):
    entry = split_entries(ovcamo_root, 'train')[1]
    path = mask_path(ovcamo_root, 'train', entry)
    truncate(path)
    with pytest.raises(OVCamoDataError, match='cannot be read') as err:
        build(ovcamo_root, split='train')
    assert path in str(err.value)


def test_unique_id_in_both_splits_is_a_train_test_leak(ovcamo_root):
    """A test sample with the unique_id of a train sample is a train/test leak in both splits."""
    train = split_entries(ovcamo_root, 'train')[0]
    test_class = split_entries(ovcamo_root, 'test')[0]['base_class']
    add_sample(ovcamo_root, 'test', train['unique_id'], test_class)
    for split in ('train', 'test'):
        with pytest.raises(OVCamoDataError, match='train/test leak') as err:
            build(ovcamo_root, split=split)
        assert train['unique_id'] in str(err.value)


def test_unknown_class_is_reported(ovcamo_root):
    add_sample(ovcamo_root, 'train', 'ghost_001', 'unicorn')
    with pytest.raises(OVCamoDataError) as err:
        build(ovcamo_root, split='train')
    msg = str(err.value)
    assert "'unicorn'" in msg and 'ghost_001' in msg and 'class_info.json' in msg


def test_duplicate_unique_id_is_reported(ovcamo_root):
    entry = split_entries(ovcamo_root, 'train')[0]
    write_json(ovcamo_root, 'sample_info.json',
               read_json(ovcamo_root, 'sample_info.json') + [dict(entry)])
    with pytest.raises(OVCamoDataError, match='unique_id already used'):
        build(ovcamo_root, split='train')


def test_empty_split_is_an_error(ovcamo_root):
    train_classes = set(OVCAMO_TRAIN_CLASSES)
    write_json(ovcamo_root, 'sample_info.json',
               [s for s in read_json(ovcamo_root, 'sample_info.json')
                if s['base_class'] in train_classes])
    with pytest.raises(OVCamoDataError, match=r"split='test'\) is empty"):
        build(ovcamo_root, split='test')


def test_split_without_classes_is_an_error(ovcamo_root):
    write_json(ovcamo_root, 'class_info.json',
               [c for c in read_json(ovcamo_root, 'class_info.json') if c['split'] == 'train'])
    with pytest.raises(OVCamoDataError, match="no class with split 'test'"):
        build(ovcamo_root, split='test')


def make_bad_tree(root):
    """A corrupt image, a missing mask and an unknown class in the train split."""
    entries = split_entries(root, 'train')
    bad_image = image_path(root, 'train', entries[0])
    missing_mask = mask_path(root, 'train', entries[2])
    corrupt(bad_image)
    os.remove(missing_mask)
    add_sample(root, 'train', 'ghost_001', 'unicorn')
    return bad_image, missing_mask


def test_bad_data_fails_fast_with_one_report_naming_every_bad_file(ovcamo_root):
    bad_image, missing_mask = make_bad_tree(ovcamo_root)
    with pytest.raises(OVCamoDataError) as err:
        build(ovcamo_root, split='train')
    msg = str(err.value)
    assert '3 bad samples' in msg
    assert bad_image in msg and missing_mask in msg and "'unicorn'" in msg
    assert len(err.value.problems) == 3


def test_skip_mode_leaves_bad_samples_out_with_one_warning(ovcamo_root):
    bad_image, missing_mask = make_bad_tree(ovcamo_root)
    with pytest.warns(UserWarning) as record:
        ds = build(ovcamo_root, split='train', on_bad_sample='skip')
    messages = [str(w.message) for w in record if 'bad sample' in str(w.message)]
    assert len(messages) == 1
    assert bad_image in messages[0] and missing_mask in messages[0] and 'unicorn' in messages[0]
    assert len(ds) == 6 - 2 and len(ds.bad_samples) == 3
    kept = {ds.get_data_info(i)['img_path'] for i in range(len(ds))}
    assert bad_image not in kept
    assert all(osp.exists(p) for p in kept)


def test_skip_mode_still_fails_when_nothing_is_left(ovcamo_root):
    for entry in split_entries(ovcamo_root, 'test'):
        os.remove(image_path(ovcamo_root, 'test', entry))
    with pytest.warns(UserWarning):
        with pytest.raises(OVCamoDataError, match='is empty'):
            build(ovcamo_root, split='test', on_bad_sample='skip')


def test_sixteen_bit_and_palette_files_pass_verification(ovcamo_root):
    entry = split_entries(ovcamo_root, 'train')[0]
    img_p, mask_p = image_path(ovcamo_root, 'train', entry), mask_path(ovcamo_root, 'train', entry)
    h, w = cv2.imread(img_p).shape[:2]
    os.remove(img_p)
    cv2.imwrite(img_p[:-4] + '.png', np.full((h, w), 40000, np.uint16))
    cv2.imwrite(mask_p, np.full((h, w), 300, np.uint16))
    samples = read_json(ovcamo_root, 'sample_info.json')
    for s in samples:
        if s['unique_id'] == entry['unique_id']:
            s['image'] = 'x.png'
    write_json(ovcamo_root, 'sample_info.json', samples)
    assert len(build(ovcamo_root, split='train', verify_files='decode')) == 6
