"""COSMetric against py_sod_metrics called directly, and the seen/unseen split of OVCOSMetric."""
import numpy as np
import py_sod_metrics as psm
import pytest
import torch

from mmseg_baclip.evaluation import COS_KEYS, COSMetric, OVCOSMetric, probability_to_uint8


def samples(num=5, size=(37, 53), seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(num):
        gt = np.zeros(size, np.uint8)
        if i != 2:  # one image with an empty ground truth
            y, x = rng.integers(0, size[0] // 2), rng.integers(0, size[1] // 2)
            gt[y:y + size[0] // 3, x:x + size[1] // 3] = 1
        logits = rng.normal(0, 2, (1, 24, 24)).astype(np.float32)
        out.append(dict(gt_sem_seg=dict(data=torch.from_numpy(gt[None])),
                        seg_logits=dict(data=torch.from_numpy(logits)),
                        seg_map_path=f'/data/GT/{i}.png', pred_class='owl',
                        class_name='owl' if i % 2 else 'moth'))
    return out


def test_every_cos_measure_equals_py_sod_metrics():
    data = samples()
    metric = COSMetric()
    metric.process(None, data)
    ours = metric.compute_metrics(metric.results)
    sm, wfm, mae = psm.Smeasure(), psm.WeightedFmeasure(), psm.MAE()
    fm, em = psm.Fmeasure(), psm.Emeasure()
    for sample in data:
        gt = sample['gt_sem_seg']['data'][0].numpy().astype(np.uint8) * 255
        prob = torch.sigmoid(sample['seg_logits']['data'])[0].numpy()
        pred = probability_to_uint8(prob, gt.shape)
        for measure in (sm, wfm, mae, fm, em):
            measure.step(pred=pred, gt=gt)
    fm_results, em_results = fm.get_results()['fm'], em.get_results()['em']
    reference = {
        'Sm': sm.get_results()['sm'], 'wFm': wfm.get_results()['wfm'],
        'MAE': mae.get_results()['mae'],
        'meanEm': em_results['curve'].mean(), 'maxEm': em_results['curve'].max(),
        'adpEm': em_results['adp'],
        'meanFm': fm_results['curve'].mean(), 'maxFm': fm_results['curve'].max(),
        'adpFm': fm_results['adp'],
    }
    assert set(reference) == set(COS_KEYS)
    for key, value in reference.items():
        assert ours[key] == pytest.approx(float(value), abs=1e-12), key
    assert ours['num_images'] == len(data)
    assert all(set(r) == {'name', 'pred_class', 'measures'} for r in metric.results)


def test_cos_metric_writes_predictions(tmp_path):
    metric = COSMetric(output_dir=str(tmp_path / 'pred'))
    metric.process(None, samples(2))
    assert sorted(p.name for p in (tmp_path / 'pred').iterdir()) == ['0.png', '1.png']


def test_seen_and_unseen_classes_are_reported_apart():
    data = samples(6)  # GT 'moth' for even images, 'owl' for odd; every prediction says 'owl'
    metric = OVCOSMetric(class_agnostic=True, seen_classes=['owl'])
    metric.process(None, data)
    results = metric.compute_metrics(metric.results)
    assert results['seen/num_images'] == 3 and results['unseen/num_images'] == 3
    assert results['seen/acc'] == 1.0 and results['unseen/acc'] == 0.0
    assert results['unseen/cIoU'] == 0.0 and results['unseen/agnostic/cIoU'] > 0.0
    only_owl = OVCOSMetric()
    only_owl.process(None, data[1::2])
    assert results['seen/cSm'] == pytest.approx(only_owl.compute_metrics(only_owl.results)['cSm'])
    with pytest.raises(TypeError, match='list of class names'):
        OVCOSMetric(seen_classes='owl')
