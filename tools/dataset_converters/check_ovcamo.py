"""Check an OVCamo tree (real or synthetic) and print a report.

Usage:
    python tools/dataset_converters/check_ovcamo.py data/OVCamo [--decode] \
        [--class-info jsonfile/class_info.json --sample-info jsonfile/sample_info.json]

Reports samples per class and split, missing, unreadable or truncated images and masks, masks
whose format makes OVCoser's reading ambiguous (docs/data.md, "Mask formats"), image/mask EXIF
orientations that do not line up, image/mask size mismatches, duplicate ``unique_id`` values
(also across train and test: a leak) and classes used in ``sample_info.json`` but absent from
``class_info.json``. Exits with 1 when a problem is found, 0 otherwise. It applies the same
checks as ``OVCamoDataset``. By default images are verified without decoding their pixels (PNG
structure, JPEG end marker) and masks are decoded; ``--decode`` decodes the images too.
"""
import argparse
import sys
from typing import List, Optional

from mmseg_baclip.datasets.ovcamo_check import check_ovcamo


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('data_root', help='dataset root (holds train/, test/, jsonfile/)')
    parser.add_argument('--class-info', default='jsonfile/class_info.json',
                        help='class_info.json, relative to data_root unless absolute')
    parser.add_argument('--sample-info', default='jsonfile/sample_info.json',
                        help='sample_info.json, relative to data_root unless absolute')
    depth = parser.add_mutually_exclusive_group()
    depth.add_argument('--decode', action='store_true',
                       help='decode every image fully too (slow; the default already catches '
                       'truncated PNG and JPEG files and decodes every mask)')
    depth.add_argument('--exists-only', action='store_true',
                       help='only check that files exist (fast; no size check)')
    parser.add_argument('--allow-size-mismatch', action='store_true',
                        help='report image/mask size mismatches without failing (OVCoser '
                        'resizes the image to the mask in training)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    verify = 'decode' if args.decode else ('none' if args.exists_only else 'header')
    report = check_ovcamo(
        args.data_root, class_info_file=args.class_info, sample_info_file=args.sample_info,
        verify=verify, allow_size_mismatch=args.allow_size_mismatch)
    print(report.format())
    return 0 if report.ok else 1


if __name__ == '__main__':
    sys.exit(main())
