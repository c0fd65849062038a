"""The synthetic open-vocabulary world: class looks, determinism, the pretrained CLIP and SAM
files through the real loading paths, and what each learned on held-out pictures."""
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
from mmseg_baclip.synthetic_world import (CLIP_FILE, SAM_FILE, TinySAMConfig, WorldSettings,
                                          box_prompted_iou, build_synthetic_world,
                                          class_appearance, heldout_zero_shot, pretrain_sam,
                                          render_pictures, render_sample)

# Small enough for CI; still all 75 classes.
SMALL = WorldSettings(num_train=4, num_test=3, image_size=64, pretrain_per_class=2,
                      heldout_per_class=1, clip_windows=(48, 64), clip_steps=2, sam_steps=2,
                      sam_batch_size=4)


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


def test_pictures_come_with_their_object_masks_and_labels():
    images, masks, labels = render_pictures(['owl', 'moth'], 3, seed=0, stream=3, size=64)
    assert images.shape == (6, 64, 64, 3) and images.dtype == np.uint8
    assert masks.shape == (6, 64, 64) and masks.dtype == bool and masks.any((1, 2)).all()
    assert labels.tolist() == [0, 0, 0, 1, 1, 1]
    again = render_pictures(['owl', 'moth'], 3, seed=0, stream=3, size=64)
    other = render_pictures(['owl', 'moth'], 3, seed=0, stream=4, size=64)
    assert np.array_equal(images, again[0]) and not np.array_equal(images, other[0])


def test_clip_windows_are_cut_around_the_objects_with_their_masks():
    from mmseg_baclip.synthetic_world.clip_pretraining import mask_centres, object_windows
    _, masks, _ = render_pictures(['owl'] * 6, 1, seed=0, stream=3, size=96)
    x = torch.arange(6 * 96 * 96, dtype=torch.float32).view(6, 1, 96, 96).expand(6, 3, 96, 96)
    m = torch.from_numpy(masks).float()[:, None]
    centres = mask_centres(masks)
    windows, window_masks = object_windows(x, m, centres, 48, torch.Generator().manual_seed(0))
    assert windows.shape == (6, 3, 48, 48) and window_masks.shape == (6, 1, 48, 48)
    for i in range(6):
        top, left = divmod(int(windows[i, 0, 0, 0]) - i * 96 * 96, 96)
        assert torch.equal(windows[i], x[i, :, top:top + 48, left:left + 48])
        assert torch.equal(window_masks[i], m[i, :, top:top + 48, left:left + 48])
        row, col = centres[i]
        assert top <= row < top + 48 and left <= col < left + 48  # the object is in it
    with pytest.raises(ValueError, match='window side 128'):
        object_windows(x, m, centres, 128, torch.Generator())


def test_dihedral_turns_pictures_and_masks_alike():
    from mmseg_baclip.synthetic_world.dihedral import apply_dihedral
    x = torch.arange(2 * 16, dtype=torch.float32).view(2, 1, 4, 4)
    codes = torch.tensor([1, 6])
    out = apply_dihedral(x, codes)
    assert torch.equal(out[0], torch.rot90(x[0], 1, (1, 2)))
    assert torch.equal(out[1], torch.rot90(x[1], 2, (1, 2)).flip(-1))


def test_clip_is_pretrained_on_the_embedding_baclip_names_objects_with():
    """The pretraining's region embedding is exactly BaCLIP's masked-pooling embedding."""
    from mmseg_baclip.models.backbones import OpenCLIPConvNeXt
    from mmseg_baclip.synthetic_world import region_embedding
    from mmseg_baclip.synthetic_world.clip_pretraining import create_random_clip
    clip = create_random_clip('convnext_atto_baclip_tiny').eval()
    tower = OpenCLIPConvNeXt('convnext_atto_baclip_tiny')
    tower.visual.load_state_dict(clip.visual.state_dict())
    x = torch.randn(2, 3, 96, 96)
    mask = (torch.rand(2, 1, 96, 96) > 0.5).float()
    with torch.no_grad():
        expected = tower.masked_embedding(tower(x)[-1], mask)
        assert torch.allclose(region_embedding(clip, x, mask), expected, atol=1e-5)


def test_random_clip_is_open_clips_model_and_logs_nothing():
    """The CLIP the pretraining starts from: the weights ``open_clip.create_model`` gives for
    the same seed, built without its "No pretrained weights loaded" log (or a root handler)."""
    import subprocess
    import sys
    code = ('import logging, torch\n'
            'from mmseg_baclip.synthetic_world.clip_pretraining import create_random_clip\n'
            'torch.manual_seed(0)\n'
            'create_random_clip("convnext_atto_baclip_tiny")\n'
            'print("root handlers:", logging.getLogger().handlers)')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=300, cwd=osp.dirname(osp.dirname(osp.dirname(
                              osp.abspath(__file__)))))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == 'root handlers: []'
    assert 'pretrained' not in proc.stderr, proc.stderr
    from mmseg_baclip.synthetic_world.clip_pretraining import create_random_clip
    torch.manual_seed(0)
    ours = create_random_clip('convnext_atto_baclip_tiny')
    ours_rng = torch.get_rng_state()
    torch.manual_seed(0)
    theirs = open_clip.create_model('convnext_atto_baclip_tiny', pretrained=None)
    assert type(ours) is type(theirs) and ours.training
    assert torch.equal(ours_rng, torch.get_rng_state())
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    assert all(torch.equal(v, theirs.state_dict()[k]) for k, v in ours.state_dict().items())


@pytest.mark.parametrize('steps', [60, 0])
def test_sam_pretraining_learns_to_segment_from_a_box(steps):
    """The training loop (prompts, losses, mask-token choice) fits a few pictures: their
    box-prompted IoU after 60 steps is far above the untrained control's, so the check can fail.
    (Generalisation to held-out pictures is the world's own measure, ``box_iou`` in world.json.)
    """
    config = TinySAMConfig(image_size=96, patch_size=8)
    images, masks, _ = render_pictures(['owl', 'moth', 'frog', 'crab'], 2, seed=0, stream=3,
                                       size=96)
    sam, log = pretrain_sam(images, masks, steps=steps, batch_size=8, lr=3e-3, config=config)
    iou = box_prompted_iou(sam, images, masks)
    if steps:
        assert log['loss_last'] < 0.7 * log['loss_first'] and iou > 0.25
    else:
        assert iou < 0.15


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
    assert again['sam_sha256'] == manifest['sam_sha256'] != other['sam_sha256']


def test_world_is_cached(small_world, capsys):
    root, manifest = small_world
    stamp = os.path.getmtime(osp.join(root, CLIP_FILE))
    assert build_synthetic_world(root, SMALL) == manifest
    out = capsys.readouterr().out
    assert 'reusing the world' in out and 'same settings' in out
    assert '[world] tiny SAM' in out and '[world] tiny CLIP' in out
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
    settings = replace(SMALL, pretrain_per_class=6, heldout_per_class=2, picture_size=64,
                       clip_windows=(64, ), clip_lr=2e-3, clip_steps=80 if pretrained else 0)
    manifest = build_synthetic_world(str(tmp_path), settings, progress=False)
    accuracy = heldout_zero_shot(manifest['clip_checkpoint'], settings)
    assert accuracy == {k: manifest[k] for k in accuracy}
    if pretrained:
        assert accuracy['zero_shot_top1_test61'] > 5 * accuracy['chance_test61']
    else:
        assert accuracy['zero_shot_top1_test61'] < 5 * accuracy['chance_test61']


def test_sam_file_has_metas_layout_and_loads_into_the_demo_configs_head(small_world):
    from mmengine.config import Config
    from mmseg_baclip.synthetic_world import build_tiny_sam
    root, manifest = small_world
    state = torch.load(osp.join(root, SAM_FILE), weights_only=True)
    assert {k.split('.')[0] for k in state} == {'image_encoder', 'prompt_encoder',
                                               'mask_decoder'}
    assert state.keys() == build_tiny_sam().state_dict().keys()
    cfg = Config.fromfile(
        'configs/baclip/baclip_convnext-tiny-synclip_1xb4-8e_ovcamo-synthetic-ov-192.py')
    assert cfg.model.decode_head.checkpoint.endswith(SAM_FILE)  # the demo loads the world's SAM
    head = MODELS.build(dict(cfg.model.decode_head, checkpoint=manifest['sam_checkpoint']))
    head.init_weights()
    for name in ('prompt_encoder', 'mask_decoder'):
        for key, value in getattr(head, name).state_dict().items():
            assert torch.equal(value, state[f'{name}.{key}']), key
