"""Build the synthetic open-vocabulary world the demo runs on (cached under data/).

Usage:
    python tools/dataset_converters/make_synthetic_ov_world.py [--out data/synthetic_ov_world]
        [--seed 0] [--num-train 200] [--num-test 122] [--clip-steps 250] [--sam-steps 250]
        [--force]

Writes an OVCamo-layout tree whose 75 classes each have their own look, a tiny open_clip CLIP
(a real open_clip checkpoint file) and a tiny SAM (a file in the layout of Meta's
sam_vit_*.pth), both pretrained here on pictures of all 75 classes from a separate seed
stream; prints each phase's time, the CLIP's zero-shot accuracy and SAM's box-prompted IoU on
held-out pictures. A world built earlier with the same settings is reused. See
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
    parser.add_argument('--pretrain-per-class', type=int, default=defaults.pretrain_per_class,
                        help='pretraining pictures per class (shared by the CLIP and the SAM)')
    parser.add_argument('--clip-windows', type=int, nargs='+',
                        default=list(defaults.clip_windows),
                        help='window sides cut around the objects at each CLIP step')
    parser.add_argument('--clip-steps', type=int, default=defaults.clip_steps)
    parser.add_argument('--clip-lr', type=float, default=defaults.clip_lr)
    parser.add_argument('--sam-steps', type=int, default=defaults.sam_steps)
    parser.add_argument('--sam-lr', type=float, default=defaults.sam_lr)
    parser.add_argument('--force', action='store_true', help='rebuild even if cached')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    settings = WorldSettings(seed=args.seed, num_train=args.num_train, num_test=args.num_test,
                             colour_shift_min=args.colour_shift[0],
                             colour_shift_max=args.colour_shift[1],
                             pretrain_per_class=args.pretrain_per_class,
                             clip_windows=tuple(args.clip_windows), clip_steps=args.clip_steps,
                             clip_lr=args.clip_lr, sam_steps=args.sam_steps, sam_lr=args.sam_lr)
    manifest = build_synthetic_world(args.out, settings, force=args.force)
    print(f'[world] data_root={manifest["data_root"]} '
          f'clip_checkpoint={manifest["clip_checkpoint"]} '
          f'sam_checkpoint={manifest["sam_checkpoint"]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
