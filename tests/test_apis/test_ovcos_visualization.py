"""The overlay drawing and OVCOSVisualizationHook (built through mmseg's HOOKS registry)."""
import os
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import HOOKS
from mmseg.structures import SegDataSample

from mmseg_baclip.visualization import draw_ovcos_overlay
from mmseg_baclip.visualization.overlay import CORRECT_COLOR, WRONG_COLOR


def _image(h=120, w=160):
    rng = np.random.default_rng(0)
    return rng.integers(60, 200, size=(h, w, 3), dtype=np.uint8)


def test_overlay_tints_outlines_and_labels():
    image = _image()
    mask = np.zeros(image.shape[:2], bool)
    mask[60:100, 90:140] = True
    original = image.copy()
    out = draw_ovcos_overlay(image, mask, 'owl', 0.87)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.array_equal(image, original)  # input untouched
    assert not np.array_equal(out[70:90, 100:130], image[70:90, 100:130])  # tinted inside
    assert np.array_equal(out[110:, :60], image[110:, :60])  # untouched far outside
    assert not np.array_equal(out[:12, :40], image[:12, :40])  # label box top-left
    # probability maps and (1, H, W) / other-size masks are accepted
    prob = mask.astype(np.float32) * 0.9
    assert np.array_equal(draw_ovcos_overlay(image, prob, 'owl', 0.87), out)
    small = cv2.resize(mask.astype(np.uint8), (80, 60), interpolation=cv2.INTER_NEAREST)
    assert draw_ovcos_overlay(image, small[None], 'owl').shape == image.shape
    empty = draw_ovcos_overlay(image, np.zeros_like(mask), 'owl')
    assert np.array_equal(empty[60:, 60:], image[60:, 60:])


def test_overlay_class_agreement_colours():
    image = np.full((200, 200, 3), 128, np.uint8)
    mask = np.zeros((200, 200), bool)
    right = draw_ovcos_overlay(image, mask, 'owl', 0.5, gt_label='owl')
    wrong = draw_ovcos_overlay(image, mask, 'owl', 0.5, gt_label='moth')
    corner = (4, 4)  # inside the first label box, before the text
    assert tuple(right[corner]) == CORRECT_COLOR
    assert tuple(wrong[corner]) == WRONG_COLOR
    gt = np.zeros((200, 200), bool)
    gt[100:150, 100:150] = True
    with_gt = draw_ovcos_overlay(image, mask, 'owl', gt_mask=gt, gt_label='owl')
    assert not np.array_equal(with_gt[95:155, 95:155], image[95:155, 95:155])  # GT outline


@pytest.mark.parametrize('kwargs, match', [
    (dict(image=np.zeros((8, 8), np.uint8)), 'RGB uint8'),
    (dict(image=np.zeros((8, 8, 3), np.float32)), 'RGB uint8'),
    (dict(mask=np.zeros((2, 8, 8), bool)), 'shape'),
    (dict(alpha=1.5), 'alpha'),
])
def test_overlay_rejects_bad_arguments(kwargs, match):
    args = dict(image=np.zeros((8, 8, 3), np.uint8), mask=np.zeros((8, 8), bool), label='owl')
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        draw_ovcos_overlay(**args)


def _samples(tiny_assets, count):
    samples = []
    for i, path in enumerate(tiny_assets.test_images[:count]):
        h, w = cv2.imread(path).shape[:2]
        pred = torch.zeros(1, h, w, dtype=torch.long)
        pred[:, h // 4:h // 2, w // 4:w // 2] = 1
        sample = SegDataSample(metainfo=dict(img_path=path, pred_class='owl', pred_class_index=0,
                                             class_name='owl' if i == 0 else 'moth'))
        sample.pred_sem_seg = PixelData(data=pred)
        sample.gt_sem_seg = PixelData(data=pred.flip(-1))
        sample.pred_class_scores = torch.tensor([0.7, 0.3])
        samples.append(sample)
    return samples


@pytest.fixture
def visualizer(tmp_path):
    """The visualizer a Runner creates before its hooks (mmseg's hook looks it up)."""
    from mmseg.visualization import SegLocalVisualizer
    return SegLocalVisualizer.get_instance(f'ovcos_hook_test_{tmp_path.name}',
                                           save_dir=str(tmp_path),
                                           vis_backends=[dict(type='LocalVisBackend')])


def test_hook_writes_at_most_max_images(tiny_assets, tmp_path, visualizer):
    hook = HOOKS.build(dict(type='OVCOSVisualizationHook', draw=True, max_images=2,
                            out_dir='pictures'))
    runner = SimpleNamespace(work_dir=str(tmp_path), iter=0)
    hook.before_test_epoch(runner)
    hook.after_test_iter(runner, 0, {}, _samples(tiny_assets, 3))
    hook.after_test_iter(runner, 1, {}, _samples(tiny_assets, 3))
    written = sorted(os.listdir(tmp_path / 'pictures' / 'test'))
    assert len(written) == 2
    picture = cv2.imread(str(tmp_path / 'pictures' / 'test' / written[0]))
    assert picture.shape == cv2.imread(tiny_assets.test_images[0]).shape
    hook.before_val_epoch(runner)  # a new count per val epoch
    hook.after_val_iter(runner, 0, {}, _samples(tiny_assets, 1))
    assert len(os.listdir(tmp_path / 'pictures' / 'val')) == 1
    hook.after_train_iter(runner, 0, {}, None)  # nothing drawn in training


class _TestRunner:
    """A runner in a test run: reading ``iter`` would build the train loop and dataset."""

    def __init__(self, work_dir: str) -> None:
        self.work_dir = work_dir

    @property
    def iter(self) -> int:
        raise AssertionError('runner.iter read in testing: it builds the train dataset')


def test_hook_goes_through_the_visualizer(tiny_assets, tmp_path, visualizer):
    hook = HOOKS.build(dict(type='OVCOSVisualizationHook', draw=True, max_images=1))
    hook.before_test_epoch(_TestRunner(str(tmp_path)))
    hook.after_test_iter(_TestRunner(str(tmp_path)), 0, {}, _samples(tiny_assets, 2))
    files = os.listdir(tmp_path / 'vis_data' / 'vis_image')
    assert len(files) == 1 and files[0].startswith('test_') and files[0].endswith('_0.png')
    hook.before_val_epoch(SimpleNamespace(iter=3))
    hook.after_val_iter(SimpleNamespace(work_dir=str(tmp_path), iter=3), 0, {},
                        _samples(tiny_assets, 1))
    files = [f for f in os.listdir(tmp_path / 'vis_data' / 'vis_image') if f.startswith('val_')]
    assert len(files) == 1 and files[0].endswith('_3.png')  # the training iteration
    with pytest.raises(ValueError, match='max_images'):
        HOOKS.build(dict(type='OVCOSVisualizationHook', draw=True, max_images=-1))
