"""Benchmark: eval_predictions against the official sequential evaluator (not a test).

For each size it writes a synthetic test split in the default OVCamo layout and a folder of
``[class]<name>.png`` predictions (about a quarter with a wrong class, a few empty GTs), then times

* **official**: what OVC's ``evaluate.py`` does: for each prediction file, in one process, read the
  prediction and the GT (``cv2.imread`` grayscale, GT ``> 0``), then step ``py_sod_metrics``'
  ``Smeasure``, ``WeightedFmeasure``, ``MAE``, ``Fmeasure``, ``Emeasure`` and OVC's own IoU class
  one after the other (a wrong class appends OVC's constants instead);
* **ours**: ``mmseg_baclip.evaluation.evaluate_predictions`` (what ``eval_predictions.py`` runs),
  with 1 worker and with ``--workers`` workers (default: number of CPUs);

checks that the twelve official results are identical and prints ms per image::

    python .dev_scripts/benchmark_eval.py --num-images 120 --repeats 2 --out bench.json

Times include reading the files. Each variant runs ``--repeats`` times, interleaved, and the
fastest run counts, since the machine may be shared; the 1-minute load average is printed.
"""
import argparse
import json
import os
import os.path as osp
import re
import sys
import tempfile
import time
import warnings
from typing import Dict, List, Tuple

import cv2
import numpy as np
import py_sod_metrics as psm
from py_sod_metrics.utils import get_adaptive_threshold, prepare_data

from mmseg_baclip.evaluation import OFFICIAL_KEYS, evaluate_predictions

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from benchmark_cos_eval import synthetic_pair  # noqa: E402

CLASSES = ['moth', 'frog', 'gecko', 'crab', 'owl', 'seahorse', 'spider', 'flounder']


class OVCIoU:
    """OVC's IoU class: adaptive |bin & gt| / |bin | gt| and TP / (TP + FP + FN) per threshold."""

    def __init__(self) -> None:
        self.adaptive_ious: List[float] = []
        self.changeable_ious: List[np.ndarray] = []

    def step(self, pred: np.ndarray, gt: np.ndarray) -> None:
        pred, gt = prepare_data(pred, gt)
        binary = pred >= get_adaptive_threshold(pred, max_value=1)
        union = np.count_nonzero(binary | gt)
        self.adaptive_ious.append(0 if union == 0 else np.count_nonzero(binary & gt) / union)
        quantised = (pred * 255).astype(np.uint8)
        bins = np.linspace(0, 256, 257)
        fg_hist, _ = np.histogram(quantised[gt], bins=bins)
        bg_hist, _ = np.histogram(quantised[~gt], bins=bins)
        tps, fps = np.cumsum(np.flip(fg_hist)), np.cumsum(np.flip(bg_hist))
        unions = fps + np.count_nonzero(gt)
        self.changeable_ious.append(np.where(unions == 0, 0, tps / np.maximum(unions, 1)))


def official_evaluate(pred_dir: str, root: str) -> Dict[str, float]:
    """The official evaluator: sequential py_sod_metrics, image by image."""
    with open(osp.join(root, 'jsonfile', 'class_info.json')) as f:
        test_classes = {c['name'] for c in json.load(f) if c['split'] == 'test'}
    with open(osp.join(root, 'jsonfile', 'sample_info.json')) as f:
        samples = {s['unique_id'] + osp.splitext(s['mask'])[1]: s for s in json.load(f)
                   if s['base_class'] in test_classes}
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        fm = psm.Fmeasure()
    sm, wfm, mae, em, iou = psm.Smeasure(), psm.WeightedFmeasure(), psm.MAE(), psm.Emeasure(), \
        OVCIoU()
    for file_name in sorted(os.listdir(pred_dir)):
        pred_class, name = re.match(r'^\[(.*?)\](.*?)$', file_name).groups()
        sample = samples[name]
        pred = cv2.imread(osp.join(pred_dir, file_name), cv2.IMREAD_GRAYSCALE)
        gt = cv2.imread(osp.join(root, 'test', 'mask', name), cv2.IMREAD_GRAYSCALE)
        gt = (gt > 0).astype(np.uint8) * 255
        if pred_class == sample['base_class']:
            for metric in (sm, wfm, mae, fm, em, iou):
                metric.step(pred, gt)
        else:
            sm.sms.append(0)
            wfm.weighted_fms.append(0)
            mae.maes.append(1)
            fm.adaptive_fms.append(0)
            fm.changeable_fms.append(np.zeros(256))
            fm.precisions.append(np.zeros(256))
            fm.recalls.append(np.zeros(256))
            em.adaptive_ems.append(0)
            em.changeable_ems.append(np.zeros(256))
            iou.adaptive_ious.append(0)
            iou.changeable_ious.append(np.zeros(256))
    results = dict(sm=sm.get_results()['sm'], wfm=wfm.get_results()['wfm'],
                   mae=mae.get_results()['mae'])
    curves = dict(fm=fm.get_results()['fm'], em=em.get_results()['em'],
                  iou=dict(adp=np.mean(np.array(iou.adaptive_ious, np.float64)),
                           curve=np.mean(np.array(iou.changeable_ious, np.float64), axis=0)))
    for key, info in curves.items():
        results.update({'adp' + key: info['adp'], 'avg' + key: info['curve'].mean(),
                        'max' + key: info['curve'].max()})
    return {key: float(results[key]) for key in OFFICIAL_KEYS}


def make_dataset(root: str, pred_dir: str, num_images: int, size_hw: Tuple[int, int],
                 seed: int = 0) -> None:
    """Synthetic test split (default layout) and predictions at the GT size."""
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'jsonfile'), exist_ok=True)
    os.makedirs(osp.join(root, 'test', 'mask'), exist_ok=True)
    os.makedirs(pred_dir, exist_ok=True)
    classes = [dict(name=c, split='test') for c in CLASSES] + [dict(name='lizard', split='train')]
    samples = []
    for index in range(num_images):
        uid, gt_class = f'img_{index:04d}', CLASSES[index % len(CLASSES)]
        pred, gt = synthetic_pair(rng, size_hw, empty=index % 40 == 39)  # a few empty GTs
        pred_class = gt_class if rng.random() < 0.75 else CLASSES[(index + 1) % len(CLASSES)]
        cv2.imwrite(osp.join(root, 'test', 'mask', f'{uid}.png'), gt)
        cv2.imwrite(osp.join(pred_dir, f'[{pred_class}]{uid}.png'), pred)
        samples.append(dict(unique_id=uid, base_class=gt_class, image=f'{uid}.jpg',
                            mask=f'{uid}.png'))
    with open(osp.join(root, 'jsonfile', 'class_info.json'), 'w') as f:
        json.dump(classes, f)
    with open(osp.join(root, 'jsonfile', 'sample_info.json'), 'w') as f:
        json.dump(samples, f)


def _timed(func, *args, **kwargs):
    """Result and wall time of one call."""
    start = time.perf_counter()
    result = func(*args, **kwargs)
    return result, time.perf_counter() - start


def run(num_images: int, sizes: List[Tuple[int, int]], workers: int, repeats: int,
        work_dir: str) -> List[dict]:
    rows = []
    for height, width in sizes:
        root = osp.join(work_dir, f'data_{height}x{width}')
        pred_dir = osp.join(work_dir, f'preds_{height}x{width}')
        make_dataset(root, pred_dir, num_images, (height, width))
        times = dict(official=float('inf'), ours_1w=float('inf'), ours=float('inf'))
        load = []
        for _ in range(repeats):  # interleaved, so that a burst of load hits every variant
            load.append(os.getloadavg()[0])
            official, t = _timed(official_evaluate, pred_dir, root)
            times['official'] = min(times['official'], t)
            ours_1, t = _timed(evaluate_predictions, pred_dir, root, workers=1)
            times['ours_1w'] = min(times['ours_1w'], t)
            ours_n, t = _timed(evaluate_predictions, pred_dir, root, workers=workers)
            times['ours'] = min(times['ours'], t)
        diffs = [abs(out['full_precision'][k] - official[k]) for out in (ours_1, ours_n)
                 for k in OFFICIAL_KEYS]
        rows.append(dict(
            size=f'{height}x{width}', images=num_images, workers=workers, repeats=repeats,
            load_avg_1min=load, official_ms=1000 * times['official'] / num_images,
            ours_1w_ms=1000 * times['ours_1w'] / num_images,
            ours_ms=1000 * times['ours'] / num_images,
            speedup_1w=times['official'] / times['ours_1w'],
            speedup=times['official'] / times['ours'], max_abs_diff=max(diffs),
            identical=all(d == 0 for d in diffs), official=official,
            ours=ours_n['full_precision']))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-images', type=int, default=120)
    parser.add_argument('--sizes', nargs='+', default=['384x384', '768x1024'],
                        help='HxW sizes to benchmark')
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1)
    parser.add_argument('--repeats', type=int, default=2,
                        help='interleaved runs of each variant; the fastest counts')
    parser.add_argument('--work-dir', help='keep the synthetic data here (default: a temp dir)')
    parser.add_argument('--out', help='also write the rows to this JSON file')
    args = parser.parse_args()
    sizes = [tuple(int(v) for v in s.lower().split('x')) for s in args.sizes]

    with tempfile.TemporaryDirectory() as tmp_dir:
        rows = run(args.num_images, sizes, args.workers, args.repeats, args.work_dir or tmp_dir)
    print(f'CPUs: {os.cpu_count()}; best of {args.repeats} interleaved runs; 1-min load '
          f'average before each: {[[round(v, 1) for v in r["load_avg_1min"]] for r in rows]}')
    header = (f'{"size":>10} {"images":>6} {"official ms/img":>16} {"ours 1w ms/img":>15} '
              f'{"ours ms/img":>12} {"workers":>7} {"speedup":>8} {"identical":>9} '
              f'{"max|diff|":>9}')
    print(header)
    for row in rows:
        print(f'{row["size"]:>10} {row["images"]:>6} {row["official_ms"]:>16.1f} '
              f'{row["ours_1w_ms"]:>15.1f} {row["ours_ms"]:>12.1f} {row["workers"]:>7} '
              f'{row["speedup"]:>7.2f}x {str(row["identical"]):>9} {row["max_abs_diff"]:>9.1e}')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(rows, f, indent=2)
        print(f'written to {args.out}')


if __name__ == '__main__':
    main()
