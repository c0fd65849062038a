"""Build the synthetic open-vocabulary world the demo runs on (cached under data/).

Usage:
    python tools/dataset_converters/make_synthetic_ov_world.py [--out data/synthetic_ov_world]
        [--seed 0] [--num-train 200] [--num-test 122] [--pretrain-steps 150] [--force]

Writes an OVCamo-layout tree whose 75 classes each have their own look, and a tiny open_clip
CLIP pretrained here on pictures of all 75 classes (a separate seed stream), as a real open_clip
checkpoint file; prints the CLIP's zero-shot accuracy on held-out pictures. See
:mod:`mmseg_baclip.synthetic_world.world` for what this world is and is not.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmseg_baclip.synthetic_world import WorldSettings, build_synthetic_world  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    defaults = WorldSettings()
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default='data/synthetic_ov_world', help='output folder')
    parser.add_argument('--seed', type=int, default=defaults.seed)
    parser.add_argument('--num-train', type=int, default=defaults.num_train,
                        help='training images (14 classes)')
    parser.add_argument('--num-test', type=int, default=defaults.num_test,
                        help='test images (61 classes, round-robin)')
    parser.add_argument('--colour-shift', type=float, nargs=2, metavar=('MIN', 'MAX'),
                        default=(defaults.colour_shift_min, defaults.colour_shift_max),
                        help="range of the background's colour shift against the object, in "
                        'grey levels (larger: easier to segment)')
    parser.add_argument('--pretrain-per-class', type=int, default=defaults.pretrain_per_class)
    parser.add_argument('--crop-size', type=int, default=defaults.crop_size,
                        help='side of the pretraining pictures')
    parser.add_argument('--pretrain-windows', type=int, nargs='*',
                        default=list(defaults.pretrain_windows),
                        help='window sides cut from the pictures at each pretraining step')
    parser.add_argument('--pretrain-steps', type=int, default=defaults.pretrain_steps)
    parser.add_argument('--force', action='store_true', help='rebuild even if cached')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    settings = WorldSettings(seed=args.seed, num_train=args.num_train, num_test=args.num_test,
                             colour_shift_min=args.colour_shift[0],
                             colour_shift_max=args.colour_shift[1],
                             pretrain_per_class=args.pretrain_per_class,
                             crop_size=args.crop_size,
                             pretrain_windows=tuple(args.pretrain_windows),
                             pretrain_steps=args.pretrain_steps)
    manifest = build_synthetic_world(args.out, settings, force=args.force)
    print(f'[world] data_root={manifest["data_root"]} '
          f'clip_checkpoint={manifest["clip_checkpoint"]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
