"""Shared pieces of the evaluation tests.

``ReferenceMetricer`` is an independent, sequential re-statement of the official protocol (OVC
``utils/recorder/ovcos_metricer.py``): every image goes through ``py_sod_metrics``' Smeasure,
WeightedFmeasure, MAE, Fmeasure and Emeasure one after the other, plus OVC's own IoU class (its own
``np.histogram`` pair), and a wrong class appends OVC's constants. The package code must match it.
"""
import json
import os.path as osp
import warnings
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import py_sod_metrics as psm
from py_sod_metrics.utils import get_adaptive_threshold, prepare_data

OFFICIAL = ('sm', 'wfm', 'mae', 'adpfm', 'avgfm', 'maxfm', 'adpem', 'avgem', 'maxem', 'adpiou',
            'avgiou', 'maxiou')


class OVCIoU:
    """IoU as OVC's metricer defines it: adaptive |bin & gt| / |bin | gt| (0 if the union is
    empty) and the curve TP / (TP + FN + FP) over 256 thresholds (0 where that is 0/0)."""

    def __init__(self):
        self.adaptive_ious = []
        self.changeable_ious = []

    def step(self, pred, gt):
        pred, gt = prepare_data(pred, gt)
        binary = pred >= get_adaptive_threshold(pred, max_value=1)
        union = np.count_nonzero(binary | gt)
        self.adaptive_ious.append(0 if union == 0 else np.count_nonzero(binary & gt) / union)
        quantised = (pred * 255).astype(np.uint8)
        bins = np.linspace(0, 256, 257)
        fg_hist, _ = np.histogram(quantised[gt], bins=bins)
        bg_hist, _ = np.histogram(quantised[~gt], bins=bins)
        tps = np.cumsum(np.flip(fg_hist))
        fps = np.cumsum(np.flip(bg_hist))
        unions = tps + fps + (np.count_nonzero(gt) - tps)
        self.changeable_ious.append(np.where(unions == 0, 0, tps / np.maximum(unions, 1)))

    def get_results(self):
        return dict(iou=dict(adp=np.mean(np.array(self.adaptive_ious, np.float64)),
                             curve=np.mean(np.array(self.changeable_ious, np.float64), axis=0)))


class ReferenceMetricer:
    """Sequential official metricer (one py_sod_metrics object per measure)."""

    def __init__(self):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # Fmeasure's deprecation notice
            self.fm = psm.Fmeasure()
        self.sm, self.wfm, self.mae = psm.Smeasure(), psm.WeightedFmeasure(), psm.MAE()
        self.em, self.iou = psm.Emeasure(), OVCIoU()

    def step(self, pre, gt, pre_cls, gt_cls):
        assert pre.shape == gt.shape and pre.dtype == gt.dtype == np.uint8
        if pre_cls == gt_cls:
            for metric in (self.sm, self.wfm, self.mae, self.fm, self.em, self.iou):
                metric.step(pre, gt)
            return
        zeros = np.zeros(256)
        self.sm.sms.append(0)
        self.wfm.weighted_fms.append(0)
        self.mae.maes.append(1)
        self.fm.adaptive_fms.append(0)
        self.fm.changeable_fms.append(zeros)
        self.fm.precisions.append(zeros)
        self.fm.recalls.append(zeros)
        self.em.adaptive_ems.append(0)
        self.em.changeable_ems.append(zeros)
        self.iou.adaptive_ious.append(0)
        self.iou.changeable_ious.append(zeros)

    def get_results(self):
        out = dict(sm=self.sm.get_results()['sm'], wfm=self.wfm.get_results()['wfm'],
                   mae=self.mae.get_results()['mae'])
        for key, info in (('fm', self.fm.get_results()['fm']), ('em', self.em.get_results()['em']),
                          ('iou', self.iou.get_results()['iou'])):
            out.update({'adp' + key: info['adp'], 'avg' + key: info['curve'].mean(),
                        'max' + key: info['curve'].max()})
        return {key: float(out[key]) for key in OFFICIAL}


def reference_results(items):
    """Official results of (pred uint8, gt uint8, pred_class, gt_class) tuples."""
    metricer = ReferenceMetricer()
    for pred, gt, pred_class, gt_class in items:
        metricer.step(pred, gt, pred_class, gt_class)
    return metricer.get_results()


def reference_uint8(prob, size_hw):
    """Official prediction preprocessing written out: minmax, cv2 bilinear resize, * 255 uint8."""
    if prob.max() != prob.min():
        prob = (prob - prob.min()) / (prob.max() - prob.min())
    prob = cv2.resize(prob, (size_hw[1], size_hw[0]), interpolation=cv2.INTER_LINEAR)
    return (prob * 255).astype(np.uint8)


def random_blob_mask(rng, size_hw, radius_range=(3, 20)):
    """uint8 {0, 255} mask with a random ellipse."""
    height, width = size_hw
    mask = np.zeros(size_hw, np.uint8)
    center = (int(rng.integers(0, width)), int(rng.integers(0, height)))
    axes = (int(rng.integers(*radius_range)), int(rng.integers(*radius_range)))
    cv2.ellipse(mask, center, axes, float(rng.integers(0, 180)), 0, 360, 255, -1)
    return mask


def noisy_prediction(rng, gt, noise=40.0):
    """uint8 prediction: blurred GT plus noise."""
    blurred = cv2.GaussianBlur(gt.astype(np.float64), (0, 0), 2.0)
    return np.clip(blurred + rng.normal(0, noise, gt.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope='session')
def ovcos_ref():
    """The reference helpers (fixtures keep them importable under any pytest import mode)."""
    return SimpleNamespace(ReferenceMetricer=ReferenceMetricer, OVCIoU=OVCIoU, OFFICIAL=OFFICIAL,
                           reference_results=reference_results, reference_uint8=reference_uint8,
                           random_blob_mask=random_blob_mask, noisy_prediction=noisy_prediction)


@pytest.fixture
def tiny_ovcamo(tmp_path):
    """A tiny data set in the default OVCamo layout, with predictions of its test split.

    Test classes: cat, moth, frog (3, 3 and 2 samples; one empty GT, one all-foreground GT, two
    sizes); a train class with one sample that must be ignored. Predictions: ``[cls]<name>`` at
    the GT size, two with a wrong class, one constant.

    Returns:
        dict: ``root``, ``pred_dir``, ``items`` (pred, gt, pred_class, gt_class per prediction, in
        file-name order) and ``names`` (mask file names in that order).
    """
    rng = np.random.default_rng(7)
    root = tmp_path / 'ovcamo'
    (root / 'jsonfile').mkdir(parents=True)
    (root / 'test' / 'mask').mkdir(parents=True)
    (root / 'train' / 'mask').mkdir(parents=True)
    pred_dir = tmp_path / 'preds'
    pred_dir.mkdir()
    classes = [dict(name='lizard', split='train'), dict(name='cat', split='test'),
               dict(name='moth', split='test'), dict(name='frog', split='test')]
    (root / 'jsonfile' / 'class_info.json').write_text(json.dumps(classes))
    specs = [('cat', 'blob'), ('cat', 'blob'), ('cat', 'empty'), ('moth', 'blob'),
             ('moth', 'full'), ('moth', 'blob'), ('frog', 'blob'), ('frog', 'blob')]
    wrong = {1: 'moth', 5: 'frog'}
    samples, items = [], {}
    for index, (cls, kind) in enumerate(specs):
        uid = f'sample_{index:03d}'
        size = (40, 56) if index % 2 else (48, 40)
        gt = {'blob': random_blob_mask(rng, size), 'empty': np.zeros(size, np.uint8),
              'full': np.full(size, 255, np.uint8)}[kind]
        cv2.imwrite(str(root / 'test' / 'mask' / f'{uid}.png'), gt)
        samples.append(dict(unique_id=uid, base_class=cls, image=f'{uid}.jpg', mask=f'{uid}.png'))
        pred = np.full(size, 90, np.uint8) if index == 3 else noisy_prediction(rng, gt)
        pred_class = wrong.get(index, cls)
        cv2.imwrite(str(pred_dir / f'[{pred_class}]{uid}.png'), pred)
        items[f'[{pred_class}]{uid}.png'] = (pred, gt, pred_class, cls, f'{uid}.png')
    samples.append(dict(unique_id='train_000', base_class='lizard', image='a.jpg', mask='a.png'))
    (root / 'jsonfile' / 'sample_info.json').write_text(json.dumps(samples))
    ordered = [items[name] for name in sorted(items)]
    return dict(root=str(root), pred_dir=str(pred_dir),
                items=[item[:4] for item in ordered], names=[item[4] for item in ordered],
                mask_dir=osp.join(str(root), 'test', 'mask'))
