"""Part 5, end to end through tools/train.py and tools/test.py: bad files fail fast in one
report (or are skipped with one warning), and grayscale, RGBA, palette and 16-bit images train."""
import json
import os
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest
import torch
from mmengine.hooks import Hook
from mmseg.registry import HOOKS
from PIL import Image

from engine_test_utils import test_tool, tiny_cfg, train, write_cfg
from mmseg_baclip.datasets import OVCamoDataError


@pytest.fixture
def root(data_root, tmp_path):
    dst = str(tmp_path / 'data')
    shutil.copytree(data_root, dst)
    return dst


def samples(root):
    with open(osp.join(root, 'jsonfile', 'sample_info.json')) as f:
        return json.load(f)


def write_samples(root, entries):
    with open(osp.join(root, 'jsonfile', 'sample_info.json'), 'w') as f:
        json.dump(entries, f)


def split_of(entry):
    return 'train' if entry['unique_id'].startswith('SYN_train') else 'test'


def break_tree(root, split):
    """A corrupt image, a missing mask and an unknown class in ``split``; the bad paths."""
    entries = [e for e in samples(root) if split_of(e) == split]
    bad_image = osp.join(root, split, 'image', entries[0]['image'])
    missing_mask = osp.join(root, split, 'mask', entries[1]['mask'])
    with open(bad_image, 'wb') as f:
        f.write(b'not an image at all' * 8)
    os.remove(missing_mask)
    ghost = dict(unique_id=f'SYN_{split}_ghost', base_class='unicorn', image='g.jpg',
                 mask='g.png')
    write_samples(root, samples(root) + [ghost])
    return bad_image, missing_mask


def test_training_fails_fast_with_one_report_naming_every_bad_file(root, tmp_path):
    bad_image, missing_mask = break_tree(root, 'train')
    with pytest.raises(OVCamoDataError) as err:
        train(tiny_cfg(root, str(tmp_path / 'w')), str(tmp_path / 'c.py'), name='bad_train')
    msg = str(err.value)
    assert '3 bad samples' in msg
    assert bad_image in msg and missing_mask in msg and 'unicorn' in msg
    assert not osp.exists(tmp_path / 'w' / 'iter_2.pth')


def test_testing_fails_fast_too(root, tmp_path):
    bad_image, missing_mask = break_tree(root, 'test')
    cfg_path = write_cfg(tiny_cfg(root, str(tmp_path / 'w')), str(tmp_path / 'c.py'))
    with pytest.raises(OVCamoDataError) as err:
        test_tool(cfg_path, 'none', name='bad_test')
    assert bad_image in str(err.value) and missing_mask in str(err.value)


def test_skip_option_trains_on_the_good_samples_with_one_warning(root, tmp_path):
    bad_image, missing_mask = break_tree(root, 'train')
    cfg = tiny_cfg(root, str(tmp_path / 'w'), max_iters=2, interval=2)
    with pytest.warns(UserWarning) as record:
        runner = train(cfg, str(tmp_path / 'c.py'),
                       '--cfg-options', 'train_dataloader.dataset.on_bad_sample=skip',
                       name='bad_skip')
    reports = [str(w.message) for w in record if 'bad sample' in str(w.message)]
    assert len(reports) == 1
    assert bad_image in reports[0] and missing_mask in reports[0] and 'unicorn' in reports[0]
    assert len(runner.train_dataloader.dataset) == 8 - 2
    assert osp.isfile(tmp_path / 'w' / 'iter_2.pth')


@HOOKS.register_module(force=True)
class _InputsProbeHook(Hook):
    seen = {}

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        for img, sample in zip(data_batch['inputs'], data_batch['data_samples']):
            type(self).seen[osp.basename(sample.img_path)] = (tuple(img.shape), img.dtype)


def test_grayscale_rgba_palette_and_16bit_images_train_and_test(root, tmp_path):
    entries = samples(root)
    train_entries = [e for e in entries if split_of(e) == 'train']
    kinds = ['gray.jpg', 'rgba.png', 'palette.png', 'sixteen.png']
    for entry, kind in zip(train_entries, kinds):
        old = osp.join(root, 'train', 'image', entry['image'])
        bgr = cv2.imread(old)
        os.remove(old)
        new_name = entry['unique_id'] + osp.splitext(kind)[1]  # the dataset reads <id><ext>
        new = osp.join(root, 'train', 'image', new_name)
        rgb = Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        if kind == 'gray.jpg':
            cv2.imwrite(new, cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
        elif kind == 'rgba.png':
            rgb.convert('RGBA').save(new)
        elif kind == 'palette.png':
            rgb.convert('P', palette=Image.ADAPTIVE, colors=64).save(new)
        else:
            cv2.imwrite(new, bgr.astype(np.uint16) * 257)
        entry['image'] = new_name
    # test split: a 16-bit grayscale image
    test_entry = next(e for e in entries if split_of(e) == 'test')
    old = osp.join(root, 'test', 'image', test_entry['image'])
    gray16 = cv2.cvtColor(cv2.imread(old), cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257
    os.remove(old)
    test_entry['image'] = test_entry['unique_id'] + '.png'
    cv2.imwrite(osp.join(root, 'test', 'image', test_entry['image']), gray16)
    write_samples(root, entries)
    modes = [Image.open(osp.join(root, 'train', 'image', e['image'])).mode
             for e in train_entries[:4]]
    assert modes[:3] == ['L', 'RGBA', 'P']  # what we wrote
    sixteen = osp.join(root, 'train', 'image', train_entries[3]['image'])
    assert cv2.imread(sixteen, cv2.IMREAD_UNCHANGED).dtype == np.uint16

    _InputsProbeHook.seen = {}
    cfg = tiny_cfg(root, str(tmp_path / 'w'), max_iters=4, interval=4,
                   extra_hooks=[dict(type='_InputsProbeHook')])
    cfg.train_dataloader.dataset.verify_files = 'decode'
    train(cfg, str(tmp_path / 'c.py'), name='odd_formats')
    seen = _InputsProbeHook.seen
    assert len(seen) == 8  # one pass over the 8 training images
    for name in [e['image'] for e in train_entries[:4]]:
        assert seen[name] == ((3, 64, 64), torch.uint8), name
    state = torch.load(str(tmp_path / 'w' / 'iter_4.pth'), weights_only=True)['state_dict']
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
    metrics = test_tool(str(tmp_path / 'c.py'), str(tmp_path / 'w' / 'iter_4.pth'),
                        name='odd_formats_test')
    assert np.isfinite(metrics['agnostic/sm'])
