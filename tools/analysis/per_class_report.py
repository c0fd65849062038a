"""Per-class OVCOS table (CSV + markdown) and the paper's hard-subset analysis against a baseline.

    python tools/analysis/per_class_report.py SOURCE [--data-root ROOT] --out-dir DIR \\
        [--baseline SOURCE [--baseline-data-root ROOT]] [--hard-fraction 0.25 |
         --hard-classes NAME ...] [--name BaCLIP] [--baseline-name OVCoser]

A SOURCE is one of:

* the ``--out`` folder of ``tools/test.py`` (the ``<folder>_per_class.json`` written beside
  it is read);
* a folder of ``[class]<mask name>.png`` predictions, scored with the official protocol against
  ``--data-root`` (e.g. OVCoser's released predictions);
* a ``<folder>_per_class.json`` / ``<folder>_per_class.csv`` file, or any CSV with a ``class``
  column, ``num_images`` and the paper metrics ``cSm, cFwb, cMAE, cFb, cEm, cIoU``.

Hard subset (paper, "hard categories"): the lowest ``--hard-fraction`` (25%: 15 of 61) of the
classes ranked by the *baseline's* per-class cIoU (ties by name), or by this model's own cIoU
without a baseline, or the classes given with ``--hard-classes``. Subset metrics are the
image-weighted means of the per-class values, which equal the means over the subset's images
for every paper metric (they are all image means or means over thresholds of image means).

Writes ``DIR/per_class.csv``, ``DIR/per_class_report.md`` and ``DIR/hard_subset.json``.
"""
import argparse
import csv
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmseg_baclip.evaluation.folder_eval import evaluate_predictions  # noqa: E402
from mmseg_baclip.evaluation.ovcos_measures import PAPER_KEYS  # noqa: E402
from mmseg_baclip.evaluation.ovcos_summary import per_class_paths  # noqa: E402

METRICS = tuple(PAPER_KEYS) + ('acc', )
LOWER_IS_BETTER = ('cMAE', )

Rows = Dict[str, Dict[str, float]]


def _rows_from_list(rows: Sequence[dict], where: str) -> Rows:
    """``class -> {num_images, metrics}`` from per-class dicts, checking the columns."""
    out: Rows = {}
    for i, row in enumerate(rows):
        missing = [k for k in ('class', 'num_images') + tuple(PAPER_KEYS) if k not in row]
        if missing:
            raise KeyError(f'{where}: per-class row {i} has no {missing} (columns: '
                           f'{sorted(row)})')
        values = {'num_images': int(float(row['num_images']))}
        for key in METRICS:
            if key in row and row[key] not in ('', None):
                values[key] = float(row[key])
        out[str(row['class'])] = values
    if not out:
        raise ValueError(f'{where}: no per-class row')
    return out


def load_per_class(source: str, data_root: Optional[str] = None,
                   workers: Optional[int] = None) -> Tuple[Rows, str]:
    """Per-class metrics of a run, a prediction folder or a per-class file.

    Args:
        source (str): See the module docstring.
        data_root (str, optional): Data root to score a prediction folder against (used when
            given, even if the folder has a ``<folder>_per_class.json`` beside it).
        workers (int, optional): Worker processes for scoring.

    Returns:
        tuple[Rows, str]: ``class -> {num_images, cSm, ..., cIoU[, acc]}`` and a description.
    """
    if osp.isdir(source):
        if data_root is not None:
            summary = evaluate_predictions(source, data_root, workers=workers)['summary']
            return _rows_from_list(summary['per_class'], source), (
                f'{source} scored against {data_root}')
        json_file = per_class_paths(source)[0]
        if not osp.isfile(json_file):
            raise FileNotFoundError(f'{source} has no per-class file beside it ({json_file}): '
                                    'give --data-root to score its predictions, or point at a '
                                    'test run\'s --out folder')
        source = json_file
    if not osp.isfile(source):
        raise FileNotFoundError(f'not found: {source}')
    if source.lower().endswith('.json'):
        with open(source, encoding='utf-8') as f:
            data = json.load(f)
        rows = data.get('per_class') if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise ValueError(f'{source}: expected a "per_class" list')
        return _rows_from_list(rows, source), source
    with open(source, encoding='utf-8', newline='') as f:
        return _rows_from_list(list(csv.DictReader(f)), source), source


def subset_metrics(rows: Rows, classes: Sequence[str]) -> Dict[str, float]:
    """Image-weighted means of the per-class metrics over ``classes``.

    Args:
        rows (Rows): Per-class metrics.
        classes (Sequence[str]): Classes of the subset (all must be in ``rows``).

    Returns:
        dict[str, float]: ``num_images`` and each metric present in every class.
    """
    total = sum(rows[c]['num_images'] for c in classes)
    if total == 0:
        raise ValueError('the subset has no image')
    out = {'num_images': total}
    for key in METRICS:
        if all(key in rows[c] for c in classes):
            out[key] = sum(rows[c][key] * rows[c]['num_images'] for c in classes) / total
    return out


def hard_classes_by(rows: Rows, fraction: float, classes: Optional[Sequence[str]] = None
                    ) -> List[str]:
    """The lowest ``fraction`` of ``classes`` by cIoU in ``rows`` (at least one), hardest first.

    Args:
        rows (Rows): Per-class metrics used for the ranking.
        fraction (float): In (0, 1]; 0.25 gives 15 of 61 classes.
        classes (Sequence[str], optional): Candidates; default all classes of ``rows``.

    Returns:
        list[str]: Class names.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f'the hard fraction must be in (0, 1], got {fraction}')
    classes = list(rows) if classes is None else list(classes)
    ranked = sorted(classes, key=lambda c: (rows[c]['cIoU'], c))
    return ranked[:max(1, int(len(ranked) * fraction))]


def _fmt(value: Optional[float], digits: int = 3) -> str:
    return '' if value is None else f'{value:.{digits}f}'


def _gain(key: str, model: float, baseline: float) -> float:
    """Improvement over the baseline (positive = better; cMAE is lower-is-better)."""
    return baseline - model if key in LOWER_IS_BETTER else model - baseline


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '|'.join('---' for _ in header) + '|']
    lines += ['| ' + ' | '.join(row) + ' |' for row in rows]
    return '\n'.join(lines)


def build_report(rows: Rows, hard: List[str], name: str, source: str,
                 baseline: Optional[Rows] = None, baseline_name: str = 'baseline',
                 baseline_source: str = '', ranking: str = '') -> Tuple[str, dict]:
    """The markdown report and the hard-subset summary.

    Args:
        rows (Rows): This model's per-class metrics.
        hard (list[str]): Hard classes.
        name (str): This model's name in the tables.
        source (str): Where ``rows`` came from.
        baseline (Rows, optional): The baseline's per-class metrics.
        baseline_name (str): Its name.
        baseline_source (str): Where it came from.
        ranking (str): How ``hard`` was chosen.

    Returns:
        tuple[str, dict]: Markdown text and the JSON-ready summary.
    """
    keys = list(PAPER_KEYS)
    common = sorted(set(rows) & set(baseline)) if baseline else sorted(rows)
    summary = {'model': name, 'source': source, 'hard_classes': hard, 'ranking': ranking,
               'all': {name: subset_metrics(rows, sorted(rows))},
               'hard': {name: subset_metrics(rows, hard)}}
    md = [f'# Per-class OVCOS results: {name}', '', f'Source: `{source}`', '']
    if baseline:
        summary.update(baseline=baseline_name, baseline_source=baseline_source,
                       common_classes=len(common))
        summary['all'][baseline_name] = subset_metrics(baseline, common)
        summary['all'][name + ' (common classes)'] = subset_metrics(rows, common)
        summary['hard'][baseline_name] = subset_metrics(baseline, hard)
        md += [f'Baseline: {baseline_name} (`{baseline_source}`), {len(common)} classes in '
               'common.', '']
        table = []
        for subset, classes in (('all', common), ('hard', hard)):
            mine, theirs = subset_metrics(rows, classes), subset_metrics(baseline, classes)
            for key in keys:
                table.append([f'{subset} ({len(classes)} classes)', key, _fmt(theirs[key]),
                              _fmt(mine[key]), f'{_gain(key, mine[key], theirs[key]):+.3f}'])
        md += ['## Hard subset vs baseline', '',
               f'Hard classes ({len(hard)}, {ranking}): ' + ', '.join(hard), '',
               _markdown_table(['subset', 'metric', baseline_name, name, 'gain (+ = better)'],
                               table), '']
    else:
        md += ['## Overall and hard subset', '',
               f'Hard classes ({len(hard)}, {ranking}): ' + ', '.join(hard), '']
        table = []
        for subset, classes in (('all', sorted(rows)), ('hard', hard)):
            values = subset_metrics(rows, classes)
            table.append([subset, str(values['num_images'])] +
                         [_fmt(values.get(k)) for k in keys + ['acc']])
        md += [_markdown_table(['subset', '#img'] + keys + ['acc'], table), '']

    header = ['class', '#img'] + keys + ['acc']
    if baseline:
        header += [f'{baseline_name} cIoU', 'ΔcIoU']
    table = []
    for cls in sorted(rows, key=lambda c: (rows[c]['cIoU'], c)):
        row = rows[cls]
        line = [cls + (' *' if cls in hard else ''), str(row['num_images'])]
        line += [_fmt(row.get(k)) for k in keys + ['acc']]
        if baseline:
            base = baseline.get(cls, {}).get('cIoU')
            line += [_fmt(base), '' if base is None else f'{row["cIoU"] - base:+.3f}']
        table.append(line)
    md += ['## Per class (hardest first by cIoU; * = hard subset)', '',
           _markdown_table(header, table), '']
    return '\n'.join(md), summary


def write_csv(path: str, rows: Rows, hard: Sequence[str],
              baseline: Optional[Rows] = None) -> None:
    """``class, num_images, metrics, hard[, baseline_cIoU, delta_cIoU]``, one row a class."""
    fields = ['class', 'num_images'] + list(METRICS) + ['hard']
    if baseline:
        fields += ['baseline_cIoU', 'delta_cIoU']
    with open(path, 'w', encoding='utf-8', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for cls in sorted(rows):
            record = {'class': cls, 'hard': int(cls in hard), **rows[cls]}
            if baseline and cls in baseline:
                record['baseline_cIoU'] = baseline[cls]['cIoU']
                record['delta_cIoU'] = rows[cls]['cIoU'] - baseline[cls]['cIoU']
            writer.writerow(record)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Per-class OVCOS report and hard-subset '
                                     'analysis')
    parser.add_argument('source', help='test run --out folder, prediction folder, or per-class '
                        'JSON/CSV file')
    parser.add_argument('--data-root', help='score a prediction folder against this data root')
    parser.add_argument('--baseline', help='the baseline, as a SOURCE (e.g. OVCoser\'s '
                        'predictions with --baseline-data-root, or its per-class CSV)')
    parser.add_argument('--baseline-data-root',
                        help='data root for a baseline prediction folder (default --data-root)')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument('--name', default='BaCLIP', help='model name in the tables')
    parser.add_argument('--baseline-name', default='baseline', help='baseline name')
    hard = parser.add_mutually_exclusive_group()
    hard.add_argument('--hard-fraction', type=float, default=0.25,
                      help='fraction of classes in the hard subset (default 0.25)')
    hard.add_argument('--hard-classes', nargs='+', help='explicit hard classes')
    parser.add_argument('--workers', type=int, default=None, help='scoring processes')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> dict:
    """Write the report; returns the hard-subset summary."""
    args = parse_args(argv)
    try:
        rows, source = load_per_class(args.source, args.data_root, args.workers)
        baseline, baseline_source = None, ''
        if args.baseline:
            baseline, baseline_source = load_per_class(
                args.baseline, args.baseline_data_root or args.data_root, args.workers)
            if not set(rows) & set(baseline):
                raise ValueError(f'{args.source} and {args.baseline} have no class in common')
        if args.hard_classes:
            unknown = [c for c in args.hard_classes if c not in rows]
            if unknown:
                raise ValueError(f'hard classes not in {args.source}: {unknown}')
            hard, ranking = list(args.hard_classes), 'given'
        elif baseline:
            common = sorted(set(rows) & set(baseline))
            hard = hard_classes_by(baseline, args.hard_fraction, common)
            ranking = f'lowest {args.hard_fraction:.0%} by {args.baseline_name} cIoU'
        else:
            hard = hard_classes_by(rows, args.hard_fraction)
            ranking = f'lowest {args.hard_fraction:.0%} by {args.name} cIoU'
    except (FileNotFoundError, ValueError, KeyError) as error:
        raise SystemExit(f'error: {error}') from None

    markdown, summary = build_report(rows, hard, args.name, source, baseline,
                                     args.baseline_name, baseline_source, ranking)
    os.makedirs(args.out_dir, exist_ok=True)
    write_csv(osp.join(args.out_dir, 'per_class.csv'), rows, hard, baseline)
    with open(osp.join(args.out_dir, 'per_class_report.md'), 'w', encoding='utf-8') as f:
        f.write(markdown)
    with open(osp.join(args.out_dir, 'hard_subset.json'), 'w', encoding='utf-8') as f:
        json.dump(summary, f, indent=2)
    print(markdown.split('## Per class')[0].rstrip())
    print(f'\nwritten: {args.out_dir}/per_class.csv, per_class_report.md, hard_subset.json')
    return summary


if __name__ == '__main__':
    main()
