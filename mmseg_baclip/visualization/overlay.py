"""One picture of an OVCOS prediction: tinted region, contour, class label and score.

Shared by :class:`~mmseg_baclip.apis.OVCOSInferencer` (``tools/infer.py``) and
:class:`~mmseg_baclip.visualization.OVCOSVisualizationHook`, so that both draw the same thing.
"""
import os
import os.path as osp
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

#: RGB colours.
PRED_COLOR = (255, 64, 32)
GT_COLOR = (255, 230, 0)
CORRECT_COLOR = (40, 170, 60)
WRONG_COLOR = (210, 40, 40)
NEUTRAL_COLOR = (30, 30, 30)


def _as_mask(mask: np.ndarray, size_hw: Tuple[int, int], what: str) -> np.ndarray:
    """A (H, W) bool mask at ``size_hw`` (nearest resize if the sizes differ)."""
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[0] == 1:
        mask = mask[0]
    if mask.ndim != 2:
        raise ValueError(f'{what} must have shape (H, W), got {mask.shape}')
    if mask.dtype != bool:
        mask = mask > (0.5 if np.issubdtype(mask.dtype, np.floating) else 0)
    if mask.shape != tuple(size_hw):
        mask = cv2.resize(mask.astype(np.uint8), (size_hw[1], size_hw[0]),
                          interpolation=cv2.INTER_NEAREST).astype(bool)
    return mask


def _draw_contour(canvas: np.ndarray, mask: np.ndarray, color: Sequence[int],
                  thickness: int) -> None:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(canvas, contours, -1, tuple(int(c) for c in color), thickness,
                     lineType=cv2.LINE_AA)


def _draw_label_lines(canvas: np.ndarray, lines: Sequence[Tuple[str, Sequence[int]]]) -> None:
    """Write text lines (each on its own coloured box) at the top-left corner, in place."""
    h, w = canvas.shape[:2]
    scale = float(np.clip(min(h, w) / 400.0, 0.35, 1.2))
    thickness = max(1, int(round(scale * 2)))
    pad = max(2, int(round(4 * scale)))
    y = pad
    for text, color in lines:
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        x1, y1 = pad + tw + 2 * pad, y + th + base + 2 * pad
        cv2.rectangle(canvas, (pad, y), (min(x1, w - 1), min(y1, h - 1)),
                      tuple(int(c) for c in color), thickness=-1)
        cv2.putText(canvas, text, (2 * pad, y + pad + th), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (255, 255, 255), thickness, lineType=cv2.LINE_AA)
        y = y1 + pad


def draw_ovcos_overlay(image: np.ndarray,
                       mask: np.ndarray,
                       label: str,
                       score: Optional[float] = None,
                       gt_mask: Optional[np.ndarray] = None,
                       gt_label: Optional[str] = None,
                       color: Sequence[int] = PRED_COLOR,
                       gt_color: Sequence[int] = GT_COLOR,
                       alpha: float = 0.45) -> np.ndarray:
    """Draw a prediction over its image.

    The predicted region is tinted with ``color`` and outlined; the label box says
    ``"<label> <score>"``. With ``gt_label`` a second line says ``"GT: <gt_label>"`` and the
    prediction box is green when the classes agree and red otherwise; with ``gt_mask`` the GT
    outline is drawn too (``gt_color``, thinner).

    Args:
        image (np.ndarray): RGB image, uint8 of shape (H, W, 3).
        mask (np.ndarray): Predicted mask, (H, W) or (1, H, W): bool, a probability in [0, 1]
            (thresholded at 0.5) or integer labels (> 0 = object). Another size is resized
            (nearest) to the image.
        label (str): Predicted class name.
        score (float, optional): Its probability, shown with two decimals.
        gt_mask (np.ndarray, optional): Ground-truth mask, same conventions as ``mask``.
        gt_label (str, optional): Ground-truth class name.
        color (Sequence[int]): RGB tint and contour colour of the prediction.
        gt_color (Sequence[int]): RGB contour colour of the GT.
        alpha (float): Tint opacity in [0, 1].

    Returns:
        np.ndarray: The overlay, RGB uint8 of shape (H, W, 3); ``image`` is not modified.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f'image must be RGB uint8 of shape (H, W, 3), got {image.dtype} '
                         f'{image.shape}')
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f'alpha must be in [0, 1], got {alpha}')
    h, w = image.shape[:2]
    pred = _as_mask(mask, (h, w), 'mask')
    canvas = image.copy()
    if pred.any():
        tint = np.asarray(color, dtype=np.float32)
        canvas[pred] = (canvas[pred].astype(np.float32) * (1 - alpha) +
                        tint * alpha).round().astype(np.uint8)
    thickness = max(1, int(round(min(h, w) / 160)))
    if gt_mask is not None:
        _draw_contour(canvas, _as_mask(gt_mask, (h, w), 'gt_mask'), gt_color,
                      max(1, thickness - 1))
    _draw_contour(canvas, pred, color, thickness)

    text = label if score is None else f'{label} {score:.2f}'
    if gt_label is None:
        lines = [(text, NEUTRAL_COLOR)]
    else:
        box = CORRECT_COLOR if gt_label == label else WRONG_COLOR
        lines = [(f'pred: {text}', box), (f'GT: {gt_label}', NEUTRAL_COLOR)]
    _draw_label_lines(canvas, lines)
    return canvas


def save_rgb(path: str, image: np.ndarray) -> None:
    """Write an RGB uint8 image (PNG/JPEG by extension), creating the folder.

    Args:
        path (str): Output file.
        image (np.ndarray): RGB uint8 of shape (H, W, 3), or (H, W) grayscale.

    Raises:
        OSError: The file could not be written.
    """
    folder = osp.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    data = image[..., ::-1] if image.ndim == 3 else image
    if not cv2.imwrite(path, np.ascontiguousarray(data)):
        raise OSError(f'could not write the image {path} (check the folder and the extension)')
