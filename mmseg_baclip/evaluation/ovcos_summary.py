"""Per-image OVCOS records and their summaries: overall, per class, hard subset, class-agnostic.

Shared by :class:`~mmseg_baclip.evaluation.OVCOSMetric` and ``tools/analysis/eval_predictions.py``
so that both report the same numbers in the same tables.

A per-image *record* is a plain picklable dict, built by :func:`image_record` only::

    dict(name=str,            # mask file name, e.g. 'COD10K-xxx.png'
         gt_class=str, pred_class=str,
         measures=ImageMeasures,            # class-aware (wrong class zeroed)
         agnostic=ImageMeasures | None,     # class ignored (only when requested)
         gt_mask_class=str | None)          # class of the GT mask (OVCOSMetric; else None)
"""
import csv
import json
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from prettytable import PrettyTable

from .ovcos_measures import (OFFICIAL_KEYS, PAPER_KEYS, aggregate_measures,
                             compute_image_measures, image_measures, paper_metrics)

Record = Dict[str, Any]
Summary = Dict[str, Any]

# Suffixes of the per-class files written *beside* a prediction folder (never inside it: the
# official evaluate.py reads every file of the folder as a "[class]<mask name>" prediction).
PER_CLASS_JSON = '_per_class.json'
PER_CLASS_CSV = '_per_class.csv'


def image_record(name: str,
                 pred: np.ndarray,
                 gt: np.ndarray,
                 pred_class: str,
                 gt_class: str,
                 class_agnostic: bool = False,
                 gt_mask_class: Optional[str] = None) -> Record:
    """The per-image record of one (prediction, GT) pair (``OVCOSMetric`` and folder evaluation).

    The class-aware measures come from :func:`~.ovcos_measures.image_measures` (a wrong class
    gives :func:`~.ovcos_measures.wrong_class_measures`). With ``class_agnostic`` the measures
    are computed once and, for a right class, the same dict is both ``measures`` and
    ``agnostic``.

    Args:
        name (str): Mask file name, e.g. ``'COD10K-xxx.png'``.
        pred (np.ndarray): Prediction, uint8 of shape (H, W), 0-255.
        gt (np.ndarray): Ground truth, uint8 of shape (H, W), {0, 255}.
        pred_class (str): Predicted class name.
        gt_class (str): Ground-truth class name.
        class_agnostic (bool): Also keep the measures with the class ignored. Defaults to False.
        gt_mask_class (str, optional): Class predicted from the ground-truth mask (the
            classification ceiling), when known. Defaults to None.

    Returns:
        Record: ``dict(name, gt_class, pred_class, measures, agnostic, gt_mask_class)``, see the
        module docstring; ``agnostic`` is None unless ``class_agnostic``.
    """
    agnostic = compute_image_measures(pred, gt) if class_agnostic else None
    measures = image_measures(pred, gt, pred_class, gt_class, agnostic=agnostic)
    return dict(name=name, gt_class=gt_class, pred_class=pred_class, measures=measures,
                agnostic=agnostic, gt_mask_class=gt_mask_class)


def _results(records: Sequence[Record], field: str = 'measures') -> Dict[str, float]:
    """Official + paper metrics and classification accuracy of some records."""
    results = aggregate_measures([r[field] for r in records])
    results.update(paper_metrics(results))
    results['acc'] = float(np.mean([r['pred_class'] == r['gt_class'] for r in records]))
    return results


def subset_results(records: Sequence[Record], classes: Sequence[str], inside: bool = True,
                   field: str = 'measures') -> Optional[Dict[str, float]]:
    """Official + paper metrics and accuracy of the records whose GT class is (not) in a list.

    Args:
        records (Sequence[Record]): Per-image records.
        classes (Sequence[str]): Class names.
        inside (bool): True keeps the records of these classes, False those of the others.
        field (str): ``'measures'`` (class-aware) or ``'agnostic'``.

    Returns:
        dict[str, float] | None: As :func:`summarize`'s ``overall``, plus ``num_images``; None
        when no record is kept.
    """
    names = set(classes)
    kept = [r for r in records if (r['gt_class'] in names) == inside]
    if not kept:
        return None
    results = _results(kept, field)
    results['num_images'] = len(kept)
    return results


def default_hard_classes(per_class: Sequence[Dict[str, Any]]) -> List[str]:
    """The lowest quarter of GT classes by per-class cIoU: the default hard subset.

    With 61 classes this is 15 classes (``max(1, n // 4)``). Ties are broken by class name.

    Args:
        per_class (Sequence[dict]): Per-class rows with ``class`` and ``cIoU``.

    Returns:
        list[str]: Class names, hardest first.
    """
    num_hard = max(1, len(per_class) // 4)
    ranked = sorted(per_class, key=lambda row: (row['cIoU'], row['class']))
    return [row['class'] for row in ranked[:num_hard]]


def summarize(records: Sequence[Record],
              hard_classes: Optional[Sequence[str]] = None,
              class_agnostic: bool = False) -> Summary:
    """Summarise per-image records.

    Args:
        records (Sequence[Record]): Per-image records (see the module docstring), at least one.
        hard_classes (Sequence[str], optional): Classes of the hard subset. Defaults to the lowest
            quarter of the GT classes by this evaluation's per-class cIoU
            (:func:`default_hard_classes`). Listed classes without images are reported in
            ``hard_missing`` and ignored.
        class_agnostic (bool): Also summarise the class-agnostic measures (every record must then
            carry ``agnostic``).

    Returns:
        Summary: dict with ``overall`` (official keys, paper keys and ``acc``), ``num_images``,
        ``per_class`` (list of rows: ``class``, ``num_images`` and the same metrics, sorted by
        class name), ``hard_classes`` (list), ``hard_missing`` (list), ``hard`` (results or
        None), ``hard_num_images`` and ``agnostic`` (results or None).
    """
    if len(records) == 0:
        raise ValueError('no per-image results to summarise: was anything evaluated?')
    by_class: Dict[str, List[Record]] = {}
    for record in records:
        by_class.setdefault(record['gt_class'], []).append(record)
    per_class = []
    for name in sorted(by_class):
        row = {'class': name, 'num_images': len(by_class[name])}
        row.update(_results(by_class[name]))
        per_class.append(row)

    if hard_classes is None:
        hard_classes = default_hard_classes(per_class)
    hard_classes = list(hard_classes)
    hard_missing = [name for name in hard_classes if name not in by_class]
    hard_records = [r for name in hard_classes if name in by_class for r in by_class[name]]

    agnostic = None
    if class_agnostic:
        if any(r.get('agnostic') is None for r in records):
            raise ValueError('class_agnostic=True needs the class-agnostic measures of every '
                             'image (record key "agnostic")')
        agnostic = _results(records, field='agnostic')
    return {
        'overall': _results(records),
        'num_images': len(records),
        'per_class': per_class,
        'hard_classes': hard_classes,
        'hard_missing': hard_missing,
        'hard': _results(hard_records) if hard_records else None,
        'hard_num_images': len(hard_records),
        'agnostic': agnostic,
    }


def flatten_summary(summary: Summary) -> Dict[str, float]:
    """The flat metric dict an mmengine metric returns.

    Args:
        summary (Summary): Output of :func:`summarize`.

    Returns:
        dict[str, float]: Official keys, paper keys and ``acc``; the same under ``hard/`` and
        ``agnostic/`` when those were computed. Full precision.
    """
    metrics = dict(summary['overall'])
    for scope in ('hard', 'agnostic'):
        if summary.get(scope) is not None:
            metrics.update({f'{scope}/{key}': value for key, value in summary[scope].items()})
    return metrics


def _scopes(summary: Summary) -> List[tuple]:
    scopes = [('all', summary['num_images'], summary['overall'])]
    if summary.get('hard') is not None:
        scopes.append(('hard', summary['hard_num_images'], summary['hard']))
    if summary.get('agnostic') is not None:
        scopes.append(('class-agnostic', summary['num_images'], summary['agnostic']))
    return scopes


def overall_tables(summary: Summary, digits: int = 3) -> str:
    """Two tables: the paper metrics and the adp/avg/max variants, per scope.

    Args:
        summary (Summary): Output of :func:`summarize`.
        digits (int): Decimals shown.

    Returns:
        str: The tables, ready to print or log.
    """
    main_keys = list(PAPER_KEYS) + ['acc']
    variant_keys = [key for key in OFFICIAL_KEYS if key[:3] in ('adp', 'avg', 'max')]
    main = PrettyTable(['subset', '#img'] + main_keys)
    variants = PrettyTable(['subset'] + variant_keys)
    for name, count, results in _scopes(summary):
        main.add_row([name, count] + [f'{results[k]:.{digits}f}' for k in main_keys])
        variants.add_row([name] + [f'{results[k]:.{digits}f}' for k in variant_keys])
    return main.get_string() + '\n' + variants.get_string()


def per_class_table(summary: Summary, digits: int = 3) -> str:
    """Per-class table: class, #images, acc and the paper metrics; hard classes are starred.

    Args:
        summary (Summary): Output of :func:`summarize`.
        digits (int): Decimals shown.

    Returns:
        str: The table.
    """
    hard = set(summary['hard_classes'])
    table = PrettyTable(['class', '#img', 'acc'] + list(PAPER_KEYS))
    for row in summary['per_class']:
        name = row['class'] + (' *' if row['class'] in hard else '')
        table.add_row([name, row['num_images']] +
                      [f'{row[k]:.{digits}f}' for k in ['acc'] + list(PAPER_KEYS)])
    return table.get_string()


def hard_subset_text(summary: Summary) -> str:
    """One paragraph naming the hard classes and the subset's paper metrics."""
    lines = [f'hard subset ({len(summary["hard_classes"])} classes, '
             f'{summary["hard_num_images"]} images): {", ".join(summary["hard_classes"])}']
    if summary['hard_missing']:
        lines.append('hard classes without images (ignored): ' + ', '.join(summary['hard_missing']))
    if summary['hard'] is not None:
        lines.append('  ' + '  '.join(f'{k} {summary["hard"][k]:.3f}' for k in PAPER_KEYS))
    return '\n'.join(lines)


def per_class_paths(pred_dir: str) -> Tuple[str, str]:
    """Where the per-class files of a prediction folder go: beside it, named after it.

    Args:
        pred_dir (str): The prediction folder, e.g. ``work_dirs/test/preds``.

    Returns:
        tuple[str, str]: ``work_dirs/test/preds_per_class.json`` and ``..._per_class.csv``.
    """
    base = osp.abspath(pred_dir)  # also turns 'preds/' and '.' into a named folder
    return base + PER_CLASS_JSON, base + PER_CLASS_CSV


def write_per_class(summary: Summary, pred_dir: str) -> List[str]:
    """Write the per-class JSON and CSV beside ``pred_dir`` (see :func:`per_class_paths`).

    They are not written into the folder, so that it holds only ``[class]<mask name>.png``
    files, which is what OVCamo's official ``evaluate.py`` requires.

    The JSON holds ``overall``, ``hard``, ``hard_classes``, ``agnostic`` and ``per_class``; the CSV
    holds one row per class (``class, num_images, acc``, paper metrics, official keys).

    Args:
        summary (Summary): Output of :func:`summarize`.
        pred_dir (str): The prediction folder (its parent is created if needed).

    Returns:
        list[str]: The two paths written.
    """
    json_path, csv_path = per_class_paths(pred_dir)
    os.makedirs(osp.dirname(json_path), exist_ok=True)
    with open(json_path, 'w', encoding='utf-8') as f:
        json.dump({key: summary[key] for key in ('overall', 'num_images', 'hard', 'hard_classes',
                                                  'hard_num_images', 'agnostic', 'per_class')},
                  f, indent=2)
    fields = ['class', 'num_images', 'acc'] + list(PAPER_KEYS) + list(OFFICIAL_KEYS)
    with open(csv_path, 'w', encoding='utf-8', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction='ignore')
        writer.writeheader()
        writer.writerows(summary['per_class'])
    return [json_path, csv_path]
