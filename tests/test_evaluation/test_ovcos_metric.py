"""OVCOSMetric built through the registry, fed with data samples as the model produces them."""
import json
import os
import pickle

import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData

from mmseg.registry import METRICS
from mmseg.structures import SegDataSample
from mmseg_baclip.evaluation import OFFICIAL_KEYS, PAPER_KEYS, evaluate_predictions

ATOL = 1e-10
GT_CLASSES = ['cat', 'cat', 'cat', 'moth', 'moth', 'moth', 'frog', 'frog', 'eel', 'eel']


def _make_samples(ovcos_ref, use_input_logits=True, seed=0, as_dict=True):
    """Data samples (``SegDataSample.to_dict()``) and the reference (pred, gt, cls, gt_cls).

    Includes wrong classes, an empty GT, an all-foreground GT, a constant prediction and logits
    at the 32x32 network size for GTs of other sizes.
    """
    rng = np.random.default_rng(seed)
    samples, items = [], []
    for index, gt_class in enumerate(GT_CLASSES):
        size = (40, 56) if index % 2 else (48, 36)
        gt = ovcos_ref.random_blob_mask(rng, size, (4, 18))
        if index == 2:
            gt[:] = 0
        if index == 4:
            gt[:] = 255
        pred_class = {1: 'moth', 5: 'cat', 9: 'frog'}.get(index, gt_class)
        logit_hw = (32, 32) if use_input_logits else size
        target = cv2.resize(gt, (logit_hw[1], logit_hw[0])).astype(np.float32) / 255
        logits = (target - 0.5) * 6 + rng.normal(0, 1.5, logit_hw).astype(np.float32)
        if index == 7:
            logits[:] = 0.3  # constant prediction
        logits = torch.from_numpy(logits)[None]  # (1, h, w)

        data_sample = SegDataSample()
        data_sample.gt_sem_seg = PixelData(data=torch.from_numpy(gt > 0).long()[None])
        data_sample.seg_logits = PixelData(
            data=torch.from_numpy(np.full(size, -1.0, np.float32))[None] if use_input_logits else
            logits)
        if use_input_logits:
            data_sample.input_seg_logits = PixelData(data=logits)
        data_sample.set_metainfo(
            dict(img_path=f'/data/test/image/s{index}.jpg',
                 seg_map_path=f'/data/test/mask/s{index}.png', ori_shape=size,
                 class_name=gt_class, pred_class=pred_class))
        samples.append(data_sample.to_dict() if as_dict else data_sample)

        prob = torch.sigmoid(logits[0]).numpy()
        items.append((ovcos_ref.reference_uint8(prob, size), gt, pred_class, gt_class))
    return samples, items


def _assert_official(got, expected, prefix=''):
    for key in OFFICIAL_KEYS:
        np.testing.assert_allclose(got[prefix + key], expected[key], rtol=0, atol=ATOL,
                                   err_msg=prefix + key)
    for paper, key in PAPER_KEYS.items():
        assert got[prefix + paper] == got[prefix + key]


def _run(metric, samples, batch_size=3):
    for start in range(0, len(samples), batch_size):
        metric.process({}, samples[start:start + batch_size])
    return metric.evaluate(len(samples))


@pytest.mark.parametrize('use_input_logits', [True, False])
def test_metric_matches_reference(ovcos_ref, use_input_logits):
    samples, items = _make_samples(ovcos_ref, use_input_logits)
    metric = METRICS.build(dict(type='OVCOSMetric'))
    results = _run(metric, samples)
    _assert_official(results, ovcos_ref.reference_results(items))
    assert results['acc'] == pytest.approx(7 / 10)
    assert all(isinstance(v, float) for v in results.values())
    assert metric.results == []  # evaluate() clears the per-image results


def test_accuracy_with_ground_truth_masks(ovcos_ref):
    samples, _ = _make_samples(ovcos_ref)
    metric = METRICS.build(dict(type='OVCOSMetric'))
    assert 'acc_gt_mask' not in _run(metric, samples)  # the model gave no gt_mask_class
    for i, s in enumerate(samples):
        s['gt_mask_class'] = s['class_name'] if i % 5 else 'wrong'
    assert _run(metric, samples)['acc_gt_mask'] == pytest.approx(8 / 10)


def test_through_mmengine_evaluator(ovcos_ref):
    """The Runner's path: Evaluator converts SegDataSample objects and calls the metric."""
    from mmengine.evaluator import Evaluator
    samples, items = _make_samples(ovcos_ref, seed=5, as_dict=False)
    evaluator = Evaluator(dict(type='OVCOSMetric', prefix='ovcos'))
    evaluator.process(data_samples=samples[:6])
    evaluator.process(data_samples=samples[6:])
    results = evaluator.evaluate(len(samples))
    expected = ovcos_ref.reference_results(items)
    for key in OFFICIAL_KEYS:
        assert results['ovcos/' + key] == pytest.approx(expected[key], abs=ATOL)


def test_hard_subset_and_class_agnostic(ovcos_ref):
    samples, items = _make_samples(ovcos_ref, seed=1)
    metric = METRICS.build(dict(type='OVCOSMetric', hard_classes=['moth', 'eel', 'whale'],
                                class_agnostic=True))
    results = _run(metric, samples)
    _assert_official(results, ovcos_ref.reference_results(items))
    hard_items = [item for item in items if item[3] in ('moth', 'eel')]
    _assert_official(results, ovcos_ref.reference_results(hard_items), prefix='hard/')
    assert results['hard/acc'] == pytest.approx(3 / 5)
    agnostic_items = [(p, g, c, c) for p, g, _, c in items]
    _assert_official(results, ovcos_ref.reference_results(agnostic_items), prefix='agnostic/')
    assert results['agnostic/avgiou'] > results['avgiou']


def test_default_hard_subset_is_lowest_quarter_by_ciou(ovcos_ref):
    samples, items = _make_samples(ovcos_ref, seed=2)
    results = _run(METRICS.build(dict(type='OVCOSMetric')), samples)
    per_class = {name: ovcos_ref.reference_results([i for i in items if i[3] == name])['avgiou']
                 for name in set(GT_CLASSES)}
    hardest = min(per_class, key=per_class.get)  # 4 classes -> 1 hard class
    hard_items = [item for item in items if item[3] == hardest]
    _assert_official(results, ovcos_ref.reference_results(hard_items), prefix='hard/')
    assert 'agnostic/sm' not in results


def test_output_files_and_folder_roundtrip(ovcos_ref, tmp_path):
    samples, items = _make_samples(ovcos_ref, seed=3)
    # lay the GT out as a data set so that eval_predictions can score the written folder
    root = tmp_path / 'data'
    (root / 'jsonfile').mkdir(parents=True)
    (root / 'test' / 'mask').mkdir(parents=True)
    classes = sorted(set(GT_CLASSES))
    (root / 'jsonfile' / 'class_info.json').write_text(
        json.dumps([dict(name=c, split='test') for c in classes]))
    (root / 'jsonfile' / 'sample_info.json').write_text(json.dumps([
        dict(unique_id=f's{i}', base_class=c, image=f's{i}.jpg', mask=f's{i}.png')
        for i, c in enumerate(GT_CLASSES)
    ]))
    for index, (_, gt, _, _) in enumerate(items):
        cv2.imwrite(str(root / 'test' / 'mask' / f's{index}.png'), gt)

    out_dir = tmp_path / 'preds'
    metric = METRICS.build(dict(type='OVCOSMetric', output_dir=str(out_dir)))
    results = _run(metric, samples)
    expected_names = {f'[{pred_class}]s{i}.png' for i, (_, _, pred_class, _) in enumerate(items)}
    assert set(os.listdir(out_dir)) == expected_names  # only predictions: official evaluate.py
    for index, (pred, gt, pred_class, _) in enumerate(items):
        written = cv2.imread(str(out_dir / f'[{pred_class}]s{index}.png'), cv2.IMREAD_UNCHANGED)
        assert written.shape == gt.shape
        np.testing.assert_array_equal(written, pred)
    per_class = json.loads((tmp_path / 'preds_per_class.json').read_text())
    assert [row['class'] for row in per_class['per_class']] == classes
    assert per_class['per_class'][0]['num_images'] == 3
    csv_lines = (tmp_path / 'preds_per_class.csv').read_text().splitlines()
    assert csv_lines[0].startswith('class,num_images,acc,cSm') and len(csv_lines) == 5

    folder = evaluate_predictions(str(out_dir), str(root), workers=1)
    for key in OFFICIAL_KEYS:
        np.testing.assert_allclose(folder['full_precision'][key], results[key], rtol=0, atol=ATOL)


def test_distributed_like_gathering(ovcos_ref):
    """Two ranks' pickled results, gathered, give the single-process numbers."""
    samples, items = _make_samples(ovcos_ref, seed=4)
    single = METRICS.build(dict(type='OVCOSMetric', class_agnostic=True))
    for sample in samples:
        single.process({}, [sample])
    expected = single.compute_metrics(single.results)
    ranks = [METRICS.build(dict(type='OVCOSMetric', class_agnostic=True)) for _ in range(2)]
    for index, sample in enumerate(samples):
        ranks[index % 2].process({}, [sample])
    gathered = [r for rank in ranks for r in pickle.loads(pickle.dumps(rank.results))]
    for record in gathered:  # small results only: scalars, three 256-curves, names
        for measures in (record['measures'], record['agnostic']):
            arrays = {k: v.shape for k, v in measures.items() if isinstance(v, np.ndarray)}
            assert arrays == {'fm': (256, ), 'em': (256, ), 'iou': (256, )}
    got = ranks[0].compute_metrics(gathered)
    assert set(got) == set(expected)
    for key in expected:
        assert got[key] == pytest.approx(expected[key], abs=1e-12), key


def test_invalid_samples_raise(ovcos_ref):
    samples, _ = _make_samples(ovcos_ref)
    metric = METRICS.build(dict(type='OVCOSMetric'))
    no_class = dict(samples[0])
    no_class.pop('pred_class')
    with pytest.raises(KeyError, match='pred_class'):
        metric.process({}, [no_class])
    two_channels = dict(samples[0])
    two_channels['input_seg_logits'] = dict(data=torch.zeros(2, 8, 8))
    with pytest.raises(ValueError, match=r'\(1, h, w\)'):
        metric.process({}, [two_channels])
    with pytest.raises(TypeError, match='list of class names'):
        METRICS.build(dict(type='OVCOSMetric', hard_classes='moth'))


@pytest.mark.parametrize('value', [float('nan'), float('inf')])
def test_non_finite_logits_are_refused_naming_the_image(ovcos_ref, value):
    samples, _ = _make_samples(ovcos_ref)
    metric = METRICS.build(dict(type='OVCOSMetric'))
    broken = dict(samples[3])
    broken['input_seg_logits'] = dict(data=torch.full((1, 32, 32), value))
    with pytest.raises(ValueError, match=r's3\.png hold 1024 non-finite value'):
        metric.process({}, [broken])
    assert metric.results == []


@pytest.mark.parametrize('pred_class', ['a/../../ESCAPED', 'x' * 300, 'red\x1b[31m'])
def test_a_class_name_never_becomes_a_path_outside_the_output_folder(ovcos_ref, tmp_path,
                                                                     pred_class):
    samples, _ = _make_samples(ovcos_ref)
    out_dir = tmp_path / 'work' / 'preds'
    (out_dir / '[a').mkdir(parents=True)  # what made '[a/../../ESCAPED...' resolve outside
    metric = METRICS.build(dict(type='OVCOSMetric', output_dir=str(out_dir)))
    hostile = dict(samples[0], pred_class=pred_class)
    with pytest.raises(ValueError, match=r"prediction of 's0\.png': the predicted class"):
        metric.process({}, [hostile])
    written = [p for p in tmp_path.rglob('*') if p.is_file()]
    assert written == []


def test_an_output_folder_that_is_a_file_is_refused_when_the_metric_is_built(tmp_path):
    existing = tmp_path / 'preds'
    existing.write_text('not a folder')
    with pytest.raises(ValueError, match=r'output_dir .*preds is an existing file'):
        METRICS.build(dict(type='OVCOSMetric', output_dir=str(existing)))
