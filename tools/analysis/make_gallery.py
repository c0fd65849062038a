"""A picture of test results: image, ground truth and prediction side by side, failures labelled.

    python tools/analysis/make_gallery.py --pred work_dirs/demo/predictions \\
        --data-root data/synthetic_ov_world/ovcamo --out docs/images/gallery_synthetic.jpg

Reads a folder of ``[class]<mask name>.png`` predictions (what ``tools/test.py --out`` and the
demo write) and the test split of an OVCamo-layout data set. Each example is three tiles: the
image; the ground truth (yellow outline and tint, the true class); the prediction (red tint and
outline at probability 0.5, the predicted class in a green box when it is right, red when it is
wrong). Above each example a caption says ``correct`` or ``FAILURE`` and why: a wrong class (the
class-aware metrics score the image 0) or a mask IoU below ``--min-iou``.

Which examples: ``--correct K --failures F`` draws K examples at random among the correctly
named and mask-correct images and F among the failures (seeded, ``--seed``), so the picture
shows both; the printed summary and the caption line at the bottom give how many of each the
test split has, so the draw is not mistaken for the rate. ``--correct 0 --failures 0`` is not
allowed; a side with fewer examples than asked gives what it has.
"""
import argparse
import os.path as osp
import random
import sys
from typing import List, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmseg_baclip.evaluation.folder_eval import (PredictionTask,  # noqa: E402
                                                 load_test_samples, match_predictions)
from mmseg_baclip.evaluation.prediction_files import read_gt_mask, read_prediction  # noqa: E402
from mmseg_baclip.visualization.overlay import (GT_COLOR, draw_ovcos_overlay,  # noqa: E402
                                                save_rgb)
from mmseg_baclip.utils.output_paths import check_output_file  # noqa: E402

CAPTION_HEIGHT = 22
GAP = 8  # between examples
TILE_GAP = 2  # between the three tiles of one example
CORRECT_TEXT = (40, 140, 50)
FAILURE_TEXT = (200, 30, 30)


class GalleryItem(NamedTuple):
    """One scored example: its task, image path, mask IoU and whether it is a failure."""
    task: PredictionTask
    image_path: str
    iou: float
    failure: Optional[str]  # None, or why it is one


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Gallery of test predictions, failures labelled')
    parser.add_argument('--pred', required=True, help='folder of [class]<mask name>.png files')
    parser.add_argument('--data-root', required=True, help='OVCamo-layout data root')
    parser.add_argument('--out', required=True, help='output image (.jpg or .png)')
    parser.add_argument('--correct', type=int, default=6, help='correct examples to draw')
    parser.add_argument('--failures', type=int, default=3, help='failures to draw')
    parser.add_argument('--min-iou', type=float, default=0.5,
                        help='a correctly named example with a lower mask IoU is a failure')
    parser.add_argument('--tile', type=int, default=192, help='tile side in pixels')
    parser.add_argument('--per-row', type=int, default=3, help='examples per row')
    parser.add_argument('--seed', type=int, default=0, help='seed of the draw')
    args = parser.parse_args(argv)
    if args.correct < 0 or args.failures < 0 or args.correct + args.failures == 0:
        parser.error('--correct and --failures must be >= 0 and not both 0')
    if args.tile < 64 or args.per_row < 1:
        parser.error('--tile must be >= 64 and --per-row >= 1')
    return args


def mask_iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """IoU of two boolean masks of one shape (1.0 when both are empty)."""
    union = np.logical_or(pred, gt).sum()
    return 1.0 if union == 0 else float(np.logical_and(pred, gt).sum() / union)


def read_rgb(path: str) -> np.ndarray:
    """An image file as RGB uint8 (H, W, 3); an error naming the file if it cannot be read."""
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f'{path}: the test image cannot be read')
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def score_items(tasks: Sequence[PredictionTask], image_paths: dict,
                min_iou: float) -> List[GalleryItem]:
    """Mask IoU at probability 0.5 and the failure reason of every prediction."""
    items = []
    for task in tasks:
        pred, gt = read_prediction(task.pred_path) >= 128, read_gt_mask(task.mask_path) > 0
        if pred.shape != gt.shape:
            raise ValueError(f'{task.pred_path}: prediction {pred.shape[1]}x{pred.shape[0]} but '
                             f'the GT mask {task.mask_path} is {gt.shape[1]}x{gt.shape[0]}')
        iou = mask_iou(pred, gt)
        if task.pred_class != task.gt_class:
            failure = f'named {task.pred_class} (is {task.gt_class}), IoU {iou:.2f}'
        elif iou < min_iou:
            failure = f'mask IoU {iou:.2f} ({task.gt_class}, named right)'
        else:
            failure = None
        items.append(GalleryItem(task, image_paths[task.name], iou, failure))
    return items


def draw_items(items: Sequence[GalleryItem], correct: int, failures: int,
               seed: int) -> List[GalleryItem]:
    """``correct`` random correct items, then ``failures`` random failures (seeded)."""
    rng = random.Random(seed)
    good = [i for i in items if i.failure is None]
    bad = [i for i in items if i.failure is not None]
    return (rng.sample(good, min(correct, len(good))) +
            rng.sample(bad, min(failures, len(bad))))


def put_text(canvas: np.ndarray, text: str, xy: Tuple[int, int], color: Sequence[int],
             scale: float = 0.45) -> None:
    """Write one line of text (anti-aliased) with its baseline at ``xy``."""
    cv2.putText(canvas, text, xy, cv2.FONT_HERSHEY_SIMPLEX, scale, tuple(int(c) for c in color),
                1, lineType=cv2.LINE_AA)


def render_item(item: GalleryItem, tile: int) -> np.ndarray:
    """Caption over three tiles (image, GT, prediction).

    Returns:
        np.ndarray: RGB uint8 of shape (CAPTION_HEIGHT + tile, 3 * tile + 2 * TILE_GAP, 3).
    """
    image = read_rgb(item.image_path)
    pred = read_prediction(item.task.pred_path) >= 128
    gt = read_gt_mask(item.task.mask_path) > 0
    if image.shape[:2] != gt.shape:
        image = cv2.resize(image, (gt.shape[1], gt.shape[0]), interpolation=cv2.INTER_LINEAR)
    tiles = [
        image,
        draw_ovcos_overlay(image, gt, item.task.gt_class, color=GT_COLOR),
        draw_ovcos_overlay(image, pred, item.task.pred_class, gt_label=item.task.gt_class,
                           gt_mask=gt),
    ]
    tiles = [cv2.resize(t, (tile, tile), interpolation=cv2.INTER_AREA) for t in tiles]
    panel = np.full((CAPTION_HEIGHT + tile, 3 * tile + 2 * TILE_GAP, 3), 255, np.uint8)
    for index, tile_image in enumerate(tiles):
        x = index * (tile + TILE_GAP)
        panel[CAPTION_HEIGHT:, x:x + tile] = tile_image
    if item.failure is None:
        caption, color = f'correct: {item.task.gt_class}, IoU {item.iou:.2f}', CORRECT_TEXT
    else:
        caption, color = f'FAILURE: {item.failure}', FAILURE_TEXT
    put_text(panel, caption, (4, CAPTION_HEIGHT - 7), color)
    return panel


def compose(panels: Sequence[np.ndarray], per_row: int, footer: str) -> np.ndarray:
    """Panels in rows of ``per_row`` with gaps, and a footer line: RGB uint8."""
    h, w = panels[0].shape[:2]
    rows = (len(panels) + per_row - 1) // per_row
    cols = min(per_row, len(panels))
    canvas = np.full((rows * (h + GAP) + CAPTION_HEIGHT, cols * (w + GAP) - GAP, 3), 255,
                     np.uint8)
    for index, panel in enumerate(panels):
        y, x = (index // per_row) * (h + GAP), (index % per_row) * (w + GAP)
        canvas[y:y + h, x:x + w] = panel
    put_text(canvas, footer, (4, canvas.shape[0] - 7), (60, 60, 60))
    return canvas


def main(argv: Optional[List[str]] = None) -> dict:
    """Run the tool; returns the counts and the drawn examples."""
    args = parse_args(argv)
    try:
        check_output_file(args.out, '--out')
        if not args.out.lower().endswith(('.jpg', '.jpeg', '.png')):
            raise ValueError(f'--out must end in .jpg, .jpeg or .png, got {args.out}')
        samples = load_test_samples(args.data_root)
        tasks, _ = match_predictions(args.pred, samples)
        if not tasks:
            raise FileNotFoundError(f'no prediction in {args.pred}')
        missing_images = [s.name for s in samples.values()
                          if s.image_path is None and s.name in {t.name for t in tasks}]
        if missing_images:
            raise KeyError(f'sample_info.json gives no image for {missing_images[:3]}')
        items = score_items(tasks, {n: s.image_path for n, s in samples.items()}, args.min_iou)
        chosen = draw_items(items, args.correct, args.failures, args.seed)
        panels = [render_item(item, args.tile) for item in chosen]
    except (FileNotFoundError, ValueError, KeyError) as error:
        raise SystemExit(f'error: {error}') from None
    wrong_class = sum(i.task.pred_class != i.task.gt_class for i in items)
    low_iou = sum(i.failure is not None for i in items) - wrong_class
    good = len(items) - wrong_class - low_iou
    footer = (f'{len(items)} test images: {good} correct, {wrong_class} wrong class, '
              f'{low_iou} mask IoU < {args.min_iou:g}; shown: {min(args.correct, good)} correct '
              f'and {len(chosen) - min(args.correct, good)} failures drawn at random '
              f'(seed {args.seed})')
    save_rgb(args.out, compose(panels, args.per_row, footer))
    print(footer)
    print(f'gallery -> {args.out}')
    return dict(num_images=len(items), correct=good, wrong_class=wrong_class, low_iou=low_iou,
                shown=[(i.task.name, i.failure) for i in chosen])


if __name__ == '__main__':
    main()
