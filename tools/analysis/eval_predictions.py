"""Score a folder of ``[class]<mask file name>`` predictions with the official OVCOS protocol.

Works like OVC's official ``evaluate.py``, with parallel workers::

    python tools/analysis/eval_predictions.py --pred work_dirs/preds --data-root data/OVCamo \
        --out results.json

Predictions must be grayscale images at the GT size named ``[<pred class>]<unique_id><mask ext>``
(what ``OVCOSMetric(output_dir=...)`` and the official tool write). Non-image files in the folder
are ignored. A name that is not a test sample is an error. Test samples without a prediction are an
error too, because a mean over a subset is not comparable; ``--allow-missing`` averages the
predicted images only, which is what the official script does without saying so. A prediction
that cannot be read, or that the official 8-bit grayscale reading would silently empty (16-bit,
or drawn in an alpha channel), a JSON file that is not UTF-8 JSON, and a test ``unique_id``
listed twice are errors that name the file. A class name holding ``]`` (as ``tools/test.py
--out`` writes it) is read back by taking the ``]`` after which a test sample's mask name
follows. A prediction that is a symbolic link pointing outside the ``--pred`` folder (resolved
with ``realpath``) is an error naming the link and its target; links inside the folder are read.
``--out`` is checked right after the arguments are parsed, before any data is read: a path
ending in a separator, an existing folder, a path below a file or in a folder that may not be
written is an error naming it.

The JSON file has the official keys ``sm, wfm, mae, adpfm, avgfm, maxfm, adpem, avgem, maxem,
adpiou, avgiou, maxiou`` rounded to 3 decimals like OVC, and under ``full_precision`` the
unrounded values with the paper names (cSm, cFwb, cMAE, cFb, cEm, cIoU) and the classification
accuracy ``acc``; also ``num_images``, ``missing``, ``hard_classes``, ``hard`` and ``per_class``.
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import List, Optional

from mmseg_baclip.evaluation.folder_eval import MissingPredictionsError, evaluate_predictions
from mmseg_baclip.evaluation.ovcos_summary import (hard_subset_text, overall_tables,
                                                   per_class_table)
from mmseg_baclip.utils.output_paths import OutputPathError, check_output_file


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Evaluate [class]name.png predictions with the class-aware OVCOS metrics')
    parser.add_argument('--pred', required=True, help='folder of [<class>]<mask name> images')
    parser.add_argument('--data-root', help='data root in the default OVCamo layout')
    parser.add_argument('--out', help='write the results to this JSON file')
    parser.add_argument('--workers', type=int, default=None,
                        help='worker processes (default: number of CPUs; 1 = no subprocess)')
    parser.add_argument('--class-info', help='class_info.json (default ROOT/jsonfile/...)')
    parser.add_argument('--sample-info', help='sample_info.json (default ROOT/jsonfile/...)')
    parser.add_argument('--mask-dir', help='test mask folder (default ROOT/test/mask)')
    parser.add_argument('--allow-missing', action='store_true',
                        help='average only the predicted images if some test samples have no '
                        'prediction (official evaluate.py behaviour) instead of failing')
    parser.add_argument('--hard-classes', nargs='+', default=None,
                        help='classes of the hard subset (default: lowest quarter by cIoU)')
    parser.add_argument('--class-agnostic', action='store_true',
                        help='also report the metrics with the class ignored')
    parser.add_argument('--per-class', action='store_true', help='print the per-class table')
    args = parser.parse_args(argv)
    if args.data_root is None and None in (args.class_info, args.sample_info, args.mask_dir):
        parser.error('give --data-root, or all of --class-info, --sample-info and --mask-dir')
    return args


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    if args.out:
        try:  # before any data is read: a path that cannot be written would lose the run
            check_output_file(args.out, '--out')
        except OutputPathError as error:
            sys.exit(f'error: {error}')
    try:
        output = evaluate_predictions(
            args.pred,
            args.data_root,
            class_info=args.class_info,
            sample_info=args.sample_info,
            mask_dir=args.mask_dir,
            workers=args.workers,
            allow_missing=args.allow_missing,
            hard_classes=args.hard_classes,
            class_agnostic=args.class_agnostic)
    except (MissingPredictionsError, OSError, ValueError, KeyError) as error:
        # names, unreadable or 16-bit/alpha predictions, bad JSON, duplicate samples: each
        # message names the file
        sys.exit(f'error: {error}')
    summary = output['summary']
    if output['missing']:
        print(f'WARNING: {len(output["missing"])} of {output["num_test_samples"]} test samples '
              'have no prediction; the means are over the predicted images only.')
    print(f'{output["num_images"]} images, {args.pred}')
    print(overall_tables(summary))
    if args.per_class:
        print(per_class_table(summary))
    print(hard_subset_text(summary))
    print(json.dumps(output['results']))

    if args.out:
        report = dict(output['results'])
        report.update(
            full_precision=output['full_precision'],
            num_images=output['num_images'],
            num_test_samples=output['num_test_samples'],
            missing=output['missing'],
            hard_classes=summary['hard_classes'],
            hard=summary['hard'],
            agnostic=summary['agnostic'],
            per_class=summary['per_class'])
        out_dir = osp.dirname(osp.abspath(args.out))
        os.makedirs(out_dir, exist_ok=True)
        with open(args.out, 'w', encoding='utf-8') as f:
            json.dump(report, f, indent=2)
        print(f'results written to {args.out}')
    return output


if __name__ == '__main__':
    main()
