"""Write a synthetic OVCamo-like dataset in the official layout.

Usage:
    python tools/dataset_converters/make_synthetic_ovcamo.py --out data/ovcamo_synthetic \
        [--num-train 200 --num-test 61 --size 384 384 --seed 0]

The tree it writes (``train/{image,mask}``, ``test/{image,mask}``,
``jsonfile/{class_info,sample_info}.json``) is read by ``OVCamoDataset`` exactly like the real
data: point ``data_root`` at it. See :mod:`mmseg_baclip.synthetic_world.ovcamo_tree` for what the scenes
look like.
"""
import argparse
import sys
import time
from typing import List, Optional

from mmseg_baclip.synthetic_world import make_synthetic_ovcamo


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', required=True, help='output root (created if needed)')
    parser.add_argument('--num-train', type=int, default=200, help='train samples (200)')
    parser.add_argument('--num-test', type=int, default=61, help="test samples (61: one per OVCamo test class)")
    parser.add_argument('--size', type=int, nargs=2, default=(384, 384), metavar=('H', 'W'),
                        help='base image size (384 384)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (0)')
    parser.add_argument('--size-jitter-prob', type=float, default=0.3,
                        help='fraction of images with another size than --size (0.3)')
    parser.add_argument('--colour-shift', type=float, nargs=2, default=(12.0, 24.0),
                        metavar=('LO', 'HI'),
                        help='background colour shift against the object in grey levels; larger is '
                        'easier (12 24)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    summary = make_synthetic_ovcamo(
        args.out, num_train=args.num_train, num_test=args.num_test, size=tuple(args.size),
        seed=args.seed, size_jitter_prob=args.size_jitter_prob,
        colour_shift=tuple(args.colour_shift))
    seconds = time.perf_counter() - start
    per_class = summary['samples_per_class']
    print(f'Wrote {summary["num_train"]} train samples ({len(per_class["train"])} classes) and '
          f'{summary["num_test"]} test samples ({len(per_class["test"])} classes) to '
          f'{summary["out_dir"]} in {seconds:.1f} s (seed {summary["seed"]}).')
    return 0


if __name__ == '__main__':
    sys.exit(main())
