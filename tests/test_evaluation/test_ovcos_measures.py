"""Per-image OVCOS measures against sequential py_sod_metrics (official protocol)."""
import warnings

import cv2
import numpy as np
import py_sod_metrics as psm
import pytest

from py_sod_metrics.utils import prepare_data

from mmseg_baclip.evaluation import (CURVE_KEYS, OFFICIAL_KEYS, SCALAR_KEYS, aggregate_measures,
                                     compute_image_measures, image_measures, image_record,
                                     probability_to_uint8, wrong_class_measures)
from mmseg_baclip.evaluation.ovcos_measures import LocalWeightedFmeasure

ATOL = 1e-10  # the design gives the same floating-point values; the requirement is 1e-6


def _per_image_reference(pred, gt, iou_class):
    """Each py_sod_metrics class stepped on its own, as the official metricer does."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        fm = psm.Fmeasure()
    sm, wfm, mae, em, iou = psm.Smeasure(), psm.WeightedFmeasure(), psm.MAE(), psm.Emeasure(), \
        iou_class()
    for metric in (sm, wfm, mae, fm, em, iou):
        metric.step(pred, gt)
    return dict(sm=sm.sms[0], wfm=wfm.weighted_fms[0], mae=mae.maes[0], adpfm=fm.adaptive_fms[0],
                fm=fm.changeable_fms[0], adpem=em.adaptive_ems[0], em=em.changeable_ems[0],
                adpiou=iou.adaptive_ious[0], iou=iou.changeable_ious[0])


def _cases(ref):
    rng = np.random.default_rng(0)
    size = (36, 52)
    blob = ref.random_blob_mask(rng, size)
    empty, full = np.zeros(size, np.uint8), np.full(size, 255, np.uint8)
    one_pixel = empty.copy()
    one_pixel[5, 7] = 255
    cases = {
        'blob': (ref.noisy_prediction(rng, blob), blob),
        'blob_low_noise': (ref.noisy_prediction(rng, blob, 5.0), blob),
        'binary_pred': ((rng.random(size) > 0.7).astype(np.uint8) * 255, blob),
        'empty_gt': (ref.noisy_prediction(rng, blob), empty),
        'empty_gt_empty_pred': (empty.copy(), empty),
        'empty_gt_constant_pred': (np.full(size, 77, np.uint8), empty),
        'full_gt': (ref.noisy_prediction(rng, blob), full),
        'full_gt_full_pred': (full.copy(), full),
        'constant_pred': (np.full(size, 128, np.uint8), blob),
        'zero_pred': (empty.copy(), blob),
        'one_pixel_gt': (ref.noisy_prediction(rng, one_pixel), one_pixel),
        'gt_not_binary': (ref.noisy_prediction(rng, blob), (blob // 255) * 200),  # > 128 rule
    }
    return cases


def test_tiny_image_nan_sm_like_upstream(ovcos_ref):
    # Smeasure of a 1x2 image averages empty quadrants: NaN upstream, and NaN here too.
    pred, gt = np.array([[3, 250]], np.uint8), np.array([[0, 255]], np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        expected = _per_image_reference(pred, gt, ovcos_ref.OVCIoU)
        got = compute_image_measures(pred, gt)
    assert np.isnan(expected['sm']) and np.isnan(got['sm'])
    for key in ('wfm', 'mae', 'adpfm', 'adpem', 'adpiou', 'fm', 'em', 'iou'):
        np.testing.assert_allclose(got[key], expected[key], rtol=0, atol=ATOL, err_msg=key)


@pytest.mark.parametrize('case', [
    'blob', 'blob_low_noise', 'binary_pred', 'empty_gt', 'empty_gt_empty_pred',
    'empty_gt_constant_pred', 'full_gt', 'full_gt_full_pred', 'constant_pred', 'zero_pred',
    'one_pixel_gt', 'gt_not_binary'
])
def test_image_measures_match_sequential_py_sod_metrics(ovcos_ref, case):
    pred, gt = _cases(ovcos_ref)[case]
    expected = _per_image_reference(pred, gt, ovcos_ref.OVCIoU)
    got = compute_image_measures(pred, gt)
    assert set(got) == set(SCALAR_KEYS) | set(CURVE_KEYS)
    for key in SCALAR_KEYS:
        assert isinstance(got[key], float)
        np.testing.assert_allclose(got[key], expected[key], rtol=0, atol=ATOL, err_msg=key)
    for key in CURVE_KEYS:
        assert got[key].shape == (256, ) and got[key].dtype == np.float64
        np.testing.assert_allclose(got[key], expected[key], rtol=0, atol=ATOL, err_msg=key)


def _realistic_pair(rng, size_hw):
    """A COS-like pair: a few ellipses, the prediction a blurred and noisy copy (uint8)."""
    height, width = size_hw
    gt = np.zeros(size_hw, np.uint8)
    for _ in range(3):
        center = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        axes = (int(rng.integers(2, width // 3)), int(rng.integers(2, height // 3)))
        cv2.ellipse(gt, center, axes, float(rng.integers(0, 180)), 0, 360, 255, -1)
    noise = cv2.GaussianBlur(rng.normal(0, 60, size_hw), (0, 0), 3)
    pred = cv2.GaussianBlur(gt.astype(np.float64), (0, 0), 4) * 0.8 + noise + 40
    return np.clip(pred, 0, 255).astype(np.uint8), gt


@pytest.mark.parametrize('case', [
    'blob', 'blob_low_noise', 'binary_pred', 'empty_gt', 'empty_gt_empty_pred',
    'empty_gt_constant_pred', 'full_gt', 'full_gt_full_pred', 'constant_pred', 'zero_pred',
    'one_pixel_gt', 'gt_not_binary', 'realistic'
])
def test_image_measures_bit_identical_to_py_sod_metrics(ovcos_ref, case):
    """Not only close: the same floats as the sequential py_sod_metrics steps."""
    if case == 'realistic':
        pred, gt = _realistic_pair(np.random.default_rng(3), (150, 200))
    else:
        pred, gt = _cases(ovcos_ref)[case]
    expected = _per_image_reference(pred, gt, ovcos_ref.OVCIoU)
    got = compute_image_measures(pred, gt)
    for key in SCALAR_KEYS + CURVE_KEYS:
        np.testing.assert_array_equal(got[key], np.asarray(expected[key], np.float64),
                                      err_msg=key)


def _wfm_masks(rng):
    """GT masks that stress LocalWeightedFmeasure: ties in the distance transform (grids,
    diagonals), objects on the borders, one pixel, one row or column, full, speckle."""
    masks = []
    for height, width in [(1, 1), (1, 9), (9, 1), (2, 2), (7, 7), (13, 31), (40, 23), (64, 64)]:
        yy, xx = np.mgrid[:height, :width]
        masks += [
            (rng.random((height, width)) > 0.8),  # speckle
            (yy % 4 == 0) & (xx % 5 == 0),  # grid: many equidistant features
            (yy + xx) % 6 == 0,  # diagonals
            (yy < max(1, height // 3)) | (xx >= width - 2),  # on two borders
            np.ones((height, width), bool),  # full
        ]
        one = np.zeros((height, width), bool)
        one[rng.integers(0, height), rng.integers(0, width)] = True
        masks.append(one)
    return [mask.astype(np.uint8) * 255 for mask in masks if mask.any()]


def test_local_weighted_fmeasure_bit_identical_to_weighted_fmeasure():
    rng = np.random.default_rng(5)
    reference, local = psm.WeightedFmeasure(), LocalWeightedFmeasure()
    pairs = []
    for gt in _wfm_masks(rng):
        pairs += [(rng.integers(0, 256, gt.shape, dtype=np.uint8), gt), (gt.copy(), gt),
                  (255 - gt, gt), (np.full(gt.shape, 90, np.uint8), gt)]
    pairs += [_realistic_pair(rng, size) for size in [(96, 128), (211, 157), (300, 451)]]
    wide = np.zeros((1, 2**15 + 5), np.uint8)  # wider than 2**15: int64 offsets
    wide[0, [3, 2**15]] = 255
    pairs.append((rng.integers(0, 256, wide.shape, dtype=np.uint8), wide))
    for pred, gt in pairs:
        pred_f, gt_b = prepare_data(pred, gt)
        expected = reference.cal_wfm(pred_f, gt_b)
        got = local.cal_wfm(pred_f, gt_b)
        assert type(got) is type(expected)
        assert got == expected or (np.isnan(got) and np.isnan(expected)), (gt.shape, got,
                                                                           expected)
    # step() is the parent's: empty GT -> 0, otherwise cal_wfm on the prepared pair
    for pred, gt in pairs[:12] + [(pairs[0][0], np.zeros_like(pairs[0][1]))]:
        reference.step(pred, gt)
        local.step(pred, gt)
    assert local.weighted_fms == reference.weighted_fms


def test_edge_case_values():
    size = (20, 30)
    empty, full = np.zeros(size, np.uint8), np.full(size, 255, np.uint8)
    # empty GT and empty prediction: wFm 0 (OVC override), IoU 0 everywhere (0/0 -> 0)
    got = compute_image_measures(empty, empty)
    assert got['wfm'] == 0 and got['adpiou'] == 0 and not got['iou'].any()
    assert got['sm'] == 1 and got['mae'] == 0
    # full GT and full prediction: perfect IoU at the adaptive threshold
    got = compute_image_measures(full, full)
    assert got['adpiou'] == 1 and got['iou'][-1] == 1
    assert got['mae'] == 0


def test_wrong_class_zeroes_everything():
    rng = np.random.default_rng(1)
    gt = np.zeros((16, 16), np.uint8)
    gt[4:10, 4:12] = 255
    pred = rng.integers(0, 256, gt.shape, dtype=np.uint8)
    wrong = image_measures(pred, gt, 'moth', 'Moth')  # exact string comparison
    assert wrong['sm'] == 0 and wrong['wfm'] == 0 and wrong['mae'] == 1
    for key in CURVE_KEYS:
        assert wrong['adp' + key] == 0 and wrong[key].shape == (256, ) and not wrong[key].any()
    right = image_measures(pred, gt, 'moth', 'moth')
    assert right['sm'] > 0 and right['mae'] < 1
    assert wrong_class_measures()['mae'] == 1.0


def _assert_same_measures(got, expected):
    assert list(got) == list(expected)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


def test_image_record_is_the_class_aware_rule():
    """One record builder for OVCOSMetric and folder evaluation: a right class keeps the
    image's measures, a wrong class gets the wrong-class ones."""
    rng = np.random.default_rng(2)
    gt = np.zeros((16, 16), np.uint8)
    gt[3:11, 5:13] = 255
    pred = rng.integers(0, 256, gt.shape, dtype=np.uint8)
    keys = ['name', 'gt_class', 'pred_class', 'measures', 'agnostic', 'gt_mask_class']
    full = compute_image_measures(pred, gt)

    right = image_record('a.png', pred, gt, 'moth', 'moth')
    assert list(right) == keys and right['agnostic'] is None and right['gt_mask_class'] is None
    _assert_same_measures(right['measures'], full)

    wrong = image_record('a.png', pred, gt, 'moth', 'Moth', gt_mask_class='Moth')
    assert (wrong['name'], wrong['gt_class'], wrong['pred_class'], wrong['gt_mask_class']) == \
        ('a.png', 'Moth', 'moth', 'Moth')
    _assert_same_measures(wrong['measures'], wrong_class_measures())

    right = image_record('a.png', pred, gt, 'moth', 'moth', class_agnostic=True)
    assert right['measures'] is right['agnostic']  # computed once, reused
    _assert_same_measures(right['agnostic'], full)
    wrong = image_record('a.png', pred, gt, 'moth', 'Moth', class_agnostic=True)
    _assert_same_measures(wrong['measures'], wrong_class_measures())
    _assert_same_measures(wrong['agnostic'], full)


def test_aggregate_matches_reference_metricer(ovcos_ref):
    cases = _cases(ovcos_ref)
    items = []
    for index, (pred, gt) in enumerate(cases.values()):
        pred_class = 'cat' if index % 3 else 'dog'  # every third image has a wrong class
        items.append((pred, gt, pred_class, 'cat'))
    expected = ovcos_ref.reference_results(items)
    got = aggregate_measures([image_measures(*item) for item in items])
    assert list(got) == list(OFFICIAL_KEYS)
    for key in OFFICIAL_KEYS:
        np.testing.assert_allclose(got[key], expected[key], rtol=0, atol=ATOL, err_msg=key)
    # the wrong classes matter: without the zeroing the numbers differ
    agnostic = aggregate_measures([compute_image_measures(p, g) for p, g, _, _ in items])
    assert agnostic['mae'] < got['mae'] - 0.1 and agnostic['avgiou'] > got['avgiou']


@pytest.mark.parametrize('prob_hw,gt_hw', [((24, 24), (40, 56)), ((64, 48), (30, 20)),
                                           ((30, 20), (30, 20))])
def test_probability_to_uint8_matches_official_preprocessing(ovcos_ref, prob_hw, gt_hw):
    rng = np.random.default_rng(2)
    prob = (1 / (1 + np.exp(-rng.normal(0, 3, prob_hw)))).astype(np.float32)
    got = probability_to_uint8(prob, gt_hw)
    assert got.shape == gt_hw and got.dtype == np.uint8
    np.testing.assert_array_equal(got, ovcos_ref.reference_uint8(prob, gt_hw))
    constant = probability_to_uint8(np.full(prob_hw, 0.25, np.float32), gt_hw)
    assert (constant == 63).all()  # not normalised: (0.25 * 255).astype(uint8)


def test_invalid_inputs_raise():
    gt = np.zeros((8, 8), np.uint8)
    with pytest.raises(ValueError, match='same shape'):
        compute_image_measures(np.zeros((8, 9), np.uint8), gt)
    with pytest.raises(ValueError, match='same shape'):
        image_measures(np.zeros((8, 9), np.uint8), gt, 'a', 'b')
    with pytest.raises(TypeError, match='uint8'):
        compute_image_measures(np.zeros((8, 8), np.float32), gt)
    with pytest.raises(ValueError, match='at least one'):
        aggregate_measures([])
