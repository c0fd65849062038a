"""Class-aware PR and F-measure curves of several runs or prediction folders, on one figure each.

    python tools/analysis/plot_curves.py work_dirs/test/preds=BaCLIP ovcoser_preds=OVCoser \\
        --data-root data/OVCamo --out-dir work_dirs/curves

Each SOURCE is a folder of ``[class]<mask name>.png`` predictions at the GT size (the ``--out``
folder of ``tools/test.py``, or another method's released predictions), optionally followed by
``=LABEL``. Every folder is scored by the same code against ``--data-root``'s test split:
predictions and GT are read and normalised as the official protocol does (GT ``> 0``, then
``py_sod_metrics``' min-max normalisation), and per image the precision, recall and F-measure
(beta^2 = 0.3) at the 256 thresholds 255 ... 0 come from ``py_sod_metrics.FmeasureV2``. As in the
official class-aware metrics, an image whose predicted class is wrong counts as 0 at every
threshold (``--class-agnostic`` ignores the class). The curves are the means over images; the
mean of the F-measure curve is cFb (``avgfm``) and its maximum ``maxfm``.

Writes ``DIR/pr_curves.png``, ``DIR/fmeasure_curves.png`` and ``DIR/curves.json``.
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmseg_baclip.evaluation.folder_eval import (MissingPredictionsError, parallel_map,  # noqa: E402,E501
                                                 PredictionNameError, PredictionTask,
                                                 load_test_samples, match_predictions)
from mmseg_baclip.evaluation.ovcos_measures import binarize_gt  # noqa: E402

NUM_THRESHOLDS = 256
CURVES = ('precision', 'recall', 'fmeasure')


def image_curves(task: PredictionTask, class_agnostic: bool = False) -> np.ndarray:
    """Precision, recall and F-measure of one prediction at the 256 thresholds.

    Args:
        task (PredictionTask): Prediction and GT paths and classes.
        class_agnostic (bool): Ignore the predicted class.

    Returns:
        np.ndarray: float64 of shape (3, 256): precision, recall, F-measure at thresholds
        255, 254, ..., 0 (all 0 for a wrong class).
    """
    import py_sod_metrics as psm
    if not class_agnostic and task.pred_class != task.gt_class:
        return np.zeros((3, NUM_THRESHOLDS))
    pred = cv2.imread(task.pred_path, cv2.IMREAD_GRAYSCALE)
    gt = cv2.imread(task.mask_path, cv2.IMREAD_GRAYSCALE)
    if pred is None or gt is None:
        raise OSError(f'could not read {task.pred_path if pred is None else task.mask_path}')
    if pred.shape != gt.shape:
        raise ValueError(f'{task.pred_path}: prediction size {pred.shape} differs from the GT '
                         f'size {gt.shape} ({task.mask_path})')
    handlers = {
        'precision': psm.PrecisionHandler(with_adaptive=False, with_dynamic=True),
        'recall': psm.RecallHandler(with_adaptive=False, with_dynamic=True),
        'fmeasure': psm.FmeasureHandler(with_adaptive=False, with_dynamic=True, beta=0.3),
    }
    metric = psm.FmeasureV2(metric_handlers=handlers)
    metric.step(pred, binarize_gt(gt))
    return np.stack([np.asarray(handlers[k].dynamic_results[-1], dtype=np.float64)
                     for k in CURVES])


def _image_curves_agnostic(task: PredictionTask) -> np.ndarray:
    return image_curves(task, class_agnostic=True)


def source_curves(pred_dir: str, data_root: str, class_agnostic: bool = False,
                  allow_missing: bool = False, workers: Optional[int] = None
                  ) -> Dict[str, object]:
    """Mean curves of one prediction folder.

    Args:
        pred_dir (str): Folder of ``[class]<mask name>`` predictions.
        data_root (str): Data root of the test split.
        class_agnostic (bool): Ignore the predicted classes.
        allow_missing (bool): Average the predicted images only when some test samples have
            no prediction (otherwise an error).
        workers (int, optional): Processes (default: the number of CPUs).

    Returns:
        dict: ``precision``, ``recall``, ``fmeasure`` (lists of 256 floats, thresholds 255 ... 0),
        ``avgfm``, ``maxfm``, ``num_images`` and ``missing``.
    """
    tasks, missing = match_predictions(pred_dir, load_test_samples(data_root))
    if not tasks:
        raise MissingPredictionsError(f'{pred_dir}: no prediction image found')
    if missing and not allow_missing:
        raise MissingPredictionsError(f'{pred_dir}: {len(missing)} test samples have no '
                                      f'prediction (e.g. {missing[0]}); pass --allow-missing '
                                      'to average the predicted images only')
    func = _image_curves_agnostic if class_agnostic else image_curves
    per_image = parallel_map(func, tasks, workers)
    mean = np.mean(np.stack(per_image), axis=0)  # 3 x 256
    curves = {name: mean[i].tolist() for i, name in enumerate(CURVES)}
    curves.update(avgfm=float(mean[2].mean()), maxfm=float(mean[2].max()),
                  num_images=len(tasks), missing=missing)
    return curves


def parse_source(text: str) -> Tuple[str, str]:
    """``DIR=LABEL`` (or ``DIR``, labelled by its folder name) to (dir, label)."""
    if '=' in text and not osp.isdir(text):
        folder, label = text.rsplit('=', 1)
    else:
        folder, label = text, ''
    folder = folder.rstrip('/')
    return folder, label or osp.basename(folder) or folder


def plot(results: Dict[str, dict], out_dir: str, title: str = '') -> List[str]:
    """Draw the PR and F-measure figures.

    Args:
        results (dict): label -> output of :func:`source_curves`.
        out_dir (str): Output folder.
        title (str): Figure title suffix.

    Returns:
        list[str]: The two PNG paths.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    thresholds = np.arange(NUM_THRESHOLDS - 1, -1, -1)  # 255 ... 0, py_sod_metrics' order
    paths = []
    fig, ax = plt.subplots(figsize=(5, 4.5), dpi=120)
    for label, curves in results.items():
        ax.plot(curves['recall'], curves['precision'],
                label=f'{label} (maxF {curves["maxfm"]:.3f})')
    ax.set(xlabel='recall', ylabel='precision', xlim=(0, 1), ylim=(0, 1),
           title=f'Class-aware PR curves{title}')
    ax.grid(alpha=0.3)
    ax.legend(loc='lower left', fontsize=8)
    paths.append(osp.join(out_dir, 'pr_curves.png'))
    fig.tight_layout()
    fig.savefig(paths[-1])
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 4.5), dpi=120)
    for label, curves in results.items():
        ax.plot(thresholds, curves['fmeasure'],
                label=f'{label} (avgF {curves["avgfm"]:.3f}, maxF {curves["maxfm"]:.3f})')
    ax.set(xlabel='threshold', ylabel='F-measure (β² = 0.3)', xlim=(0, 255), ylim=(0, 1),
           title=f'Class-aware F-measure curves{title}')
    ax.grid(alpha=0.3)
    ax.legend(loc='lower center', fontsize=8)
    paths.append(osp.join(out_dir, 'fmeasure_curves.png'))
    fig.tight_layout()
    fig.savefig(paths[-1])
    plt.close(fig)
    return paths


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='PR and F-measure curves of OVCOS predictions')
    parser.add_argument('sources', nargs='+', help='prediction folders, each as DIR or '
                        'DIR=LABEL')
    parser.add_argument('--data-root', required=True, help='data root of the test split')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument('--class-agnostic', action='store_true',
                        help='ignore the predicted classes')
    parser.add_argument('--allow-missing', action='store_true',
                        help='average the predicted images only if some have no prediction')
    parser.add_argument('--workers', type=int, default=None, help='processes per folder')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> Dict[str, dict]:
    """Compute, plot and save; returns label -> curves."""
    args = parse_args(argv)
    sources: Sequence[Tuple[str, str]] = [parse_source(s) for s in args.sources]
    labels = [label for _, label in sources]
    if len(set(labels)) != len(labels):
        raise SystemExit(f'error: two sources have the same label ({labels}); name them with '
                         'DIR=LABEL')
    results = {}
    try:
        for folder, label in sources:
            results[label] = source_curves(folder, args.data_root, args.class_agnostic,
                                           args.allow_missing, args.workers)
            print(f'{label}: {results[label]["num_images"]} images, avgF '
                  f'{results[label]["avgfm"]:.3f}, maxF {results[label]["maxfm"]:.3f}')
    except (FileNotFoundError, MissingPredictionsError, PredictionNameError, ValueError,
            OSError) as error:
        raise SystemExit(f'error: {error}') from None
    os.makedirs(args.out_dir, exist_ok=True)
    title = ' (class-agnostic)' if args.class_agnostic else ''
    paths = plot(results, args.out_dir, title)
    with open(osp.join(args.out_dir, 'curves.json'), 'w', encoding='utf-8') as f:
        json.dump({'thresholds': list(range(NUM_THRESHOLDS - 1, -1, -1)),
                   'class_agnostic': args.class_agnostic,
                   'sources': [{'dir': d, 'label': lab} for d, lab in sources],
                   'curves': results}, f)
    print('written: ' + ', '.join(paths + [osp.join(args.out_dir, 'curves.json')]))
    return results


if __name__ == '__main__':
    main()
