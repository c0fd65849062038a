"""The synthetic open-vocabulary world: class looks, determinism, the pretrained CLIP file
through the real loading path, and its zero-shot accuracy on held-out pictures."""
import filecmp
import os
import os.path as osp
from dataclasses import replace

import numpy as np
import open_clip
import pytest
import torch
from mmseg.registry import MODELS

from baclip_test_utils import tiny_baclip_cfg
from mmseg_baclip.datasets import OVCAMO_TEST_CLASSES, OVCAMO_TRAIN_CLASSES
from mmseg_baclip.synthetic_world import (CLIP_FILE, WorldSettings, build_synthetic_world,
                                          class_appearance, heldout_zero_shot,
                                          render_object_crop, render_sample)

# Small enough for CI; still all 75 classes.
SMALL = WorldSettings(num_train=4, num_test=3, image_size=64, pretrain_per_class=2, crop_size=64,
                      pretrain_windows=(48, 64), heldout_per_class=1, pretrain_steps=2)


def all_files(root):
    return sorted(osp.relpath(osp.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


# ------------------------------------------------------------------------------ class looks
def test_every_ovcamo_class_has_its_own_colour():
    names = OVCAMO_TRAIN_CLASSES + OVCAMO_TEST_CLASSES
    looks = [class_appearance(n) for n in names]
    cells = {(round(a.hue, 3), a.saturation) for a in looks}
    assert len(cells) == len(names) == 75
    assert class_appearance('owl') == class_appearance('owl')  # derived from the name only
    assert class_appearance('my own class').name == 'my own class'  # any vocabulary works


def test_objects_wear_their_class_colour_and_stay_camouflaged():
    """The object's mean hue is its class's; the background is near it (colour-shifted)."""
    import cv2
    for name in OVCAMO_TEST_CLASSES[:10]:
        look = class_appearance(name)
        image, mask = render_sample(np.random.default_rng(0), (96, 96), look)
        hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV).astype(np.float32)
        fg, bg = mask > 0, mask == 0
        assert 0.01 < fg.mean() < 0.6

        def mean_hue(sel):  # circular mean on OpenCV's 0-180 hue circle
            angle = hsv[..., 0][sel] * np.pi / 90
            return (np.degrees(np.arctan2(np.sin(angle).mean(), np.cos(angle).mean())) / 2) % 180
        def hue_gap(a, b):
            return min(abs(a - b), 180 - abs(a - b))
        assert hue_gap(mean_hue(fg), look.hue) < 4, name
        assert hue_gap(mean_hue(bg), look.hue) < 25, name  # shifted, but near its habitat
        assert np.abs(image[fg].mean(0) - image[bg].mean(0)).max() < 60  # camouflaged


def test_object_crop_is_mostly_object():
    crop = render_object_crop(np.random.default_rng(1), 'owl', crop=32, scene=96)
    assert crop.shape == (32, 32, 3) and crop.dtype == np.uint8


def test_pretraining_windows_vary_in_size_and_place_and_are_cut_from_the_pictures():
    from mmseg_baclip.synthetic_world.clip_pretraining import _random_window
    pictures = torch.arange(4 * 3 * 8 * 8, dtype=torch.float32).view(4, 3, 8, 8)
    generator = torch.Generator().manual_seed(0)
    sides, places = set(), set()
    for _ in range(20):
        windows = _random_window(pictures, (4, 6), generator)
        side = windows.shape[-1]
        sides.add(side)
        assert windows.shape == (4, 3, side, side)
        for picture, window in zip(pictures, windows):
            top, left = divmod(int(window[0, 0, 0] - picture[0, 0, 0]), 8)
            places.add((top, left))
            assert torch.equal(window, picture[:, top:top + side, left:left + side])
    assert sides == {4, 6} and len(places) > 4
    assert _random_window(pictures, (), generator) is pictures  # no windows: whole pictures
    with pytest.raises(ValueError, match='window side 9'):
        _random_window(pictures, (9, ), generator)


# ------------------------------------------------------------------------------ the world
@pytest.fixture(scope='module')
def small_world(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('world'))
    return root, build_synthetic_world(root, SMALL, progress=False)


def test_world_is_deterministic_for_a_seed(small_world, tmp_path):
    root, manifest = small_world
    again = build_synthetic_world(str(tmp_path / 'again'), SMALL, progress=False)
    other = build_synthetic_world(str(tmp_path / 'other'), replace(SMALL, seed=1),
                                  progress=False)
    files = all_files(osp.join(root, 'ovcamo'))
    assert files == all_files(osp.join(tmp_path, 'again', 'ovcamo'))
    _, mismatch, errors = filecmp.cmpfiles(osp.join(root, 'ovcamo'),
                                           osp.join(tmp_path, 'again', 'ovcamo'), files,
                                           shallow=False)
    assert not mismatch and not errors
    a = torch.load(osp.join(root, CLIP_FILE), weights_only=True)
    b = torch.load(osp.join(tmp_path, 'again', CLIP_FILE), weights_only=True)
    c = torch.load(osp.join(tmp_path, 'other', CLIP_FILE), weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)  # another seed: another CLIP
    assert again['clip_sha256'] == manifest['clip_sha256'] != other['clip_sha256']


def test_world_is_cached(small_world, capsys):
    root, manifest = small_world
    stamp = os.path.getmtime(osp.join(root, CLIP_FILE))
    assert build_synthetic_world(root, SMALL) == manifest
    assert 'cached' in capsys.readouterr().out
    assert os.path.getmtime(osp.join(root, CLIP_FILE)) == stamp


def test_world_tree_has_the_ovcamo_layout_and_split(small_world):
    from mmseg_baclip.datasets import OVCamoDataset
    root, manifest = small_world
    train = OVCamoDataset(data_root=manifest['data_root'], split='train', pipeline=[])
    test = OVCamoDataset(data_root=manifest['data_root'], split='test', pipeline=[])
    assert len(train) == 4 and len(test) == 3
    assert train.metainfo['vocabulary'] == tuple(OVCAMO_TRAIN_CLASSES)
    assert test.metainfo['vocabulary'] == tuple(OVCAMO_TEST_CLASSES)


def test_clip_file_loads_through_the_real_path_with_no_missing_or_unexpected_keys(small_world):
    root, _ = small_world
    path = osp.join(root, CLIP_FILE)
    state = torch.load(path, weights_only=True)
    # open_clip's own loader: every key of the model, nothing else
    clip = open_clip.create_model('convnext_atto_baclip_tiny', pretrained=None)
    result = clip.load_state_dict(state, strict=False)
    assert result.missing_keys == [] and result.unexpected_keys == []
    # BaCLIP's path: the config's checkpoint argument, loaded in init_weights (strict)
    model = MODELS.build(tiny_baclip_cfg(
        backbone=dict(type='OpenCLIPConvNeXt', model_name='convnext_atto_baclip_tiny',
                      checkpoint=path),
        text_encoder=dict(type='OpenCLIPTextEncoder', model_name='convnext_atto_baclip_tiny',
                          checkpoint=path)))
    model.init_weights()
    visual = model.backbone.visual.state_dict()
    assert visual.keys() == {k[len('visual.'):] for k in state if k.startswith('visual.')}
    assert all(torch.equal(v, state['visual.' + k]) for k, v in visual.items())
    assert torch.equal(model.text_encoder.logit_scale, state['logit_scale'])


@pytest.mark.parametrize('pretrained', [True, False])
def test_pretrained_clip_recognises_held_out_pictures(tmp_path, pretrained):
    """Above chance after a short pretraining; the untrained control stays near chance, so the
    check can fail."""
    settings = replace(SMALL, pretrain_per_class=6, heldout_per_class=2,
                       pretrain_windows=(56, 64),  # varying windows, as the demo's
                       pretrain_steps=60 if pretrained else 0)
    manifest = build_synthetic_world(str(tmp_path), settings, progress=False)
    accuracy = heldout_zero_shot(manifest['clip_checkpoint'], settings)
    assert accuracy == {k: manifest[k] for k in accuracy}
    if pretrained:
        assert accuracy['zero_shot_top1_test61'] > 5 * accuracy['chance_test61']
    else:
        assert accuracy['zero_shot_top1_test61'] < 5 * accuracy['chance_test61']
