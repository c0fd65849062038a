"""Per-image OVCamo class-aware measures, computed once per image.

This reproduces the official OVCOS protocol (OVC ``utils/recorder/ovcos_metricer.py`` on top of
``py_sod_metrics``; see ``baclip_spec.md`` section 1.8) image by image:

* ``prepare_data``: ``gt > 128``; ``pred / 255`` then min-max normalised.
* Sm, wFm (0 for an empty GT), MAE, and for Fm (beta^2 = 0.3), Em and IoU an adaptive value plus a
  256-value curve over the uint8 thresholds 255, 254, ..., 0.
* A wrong class (``pred_class != gt_class``, exact string comparison) gives ``sm = 0``,
  ``wfm = 0``, ``mae = 1`` and 0 for the adaptive value and every curve value of Fm, Em and IoU.

The official evaluator runs ``Smeasure``, ``WeightedFmeasure``, ``MAE``, ``Fmeasure``,
``Emeasure`` and an IoU class one after the other, and each of them normalises the inputs again,
binarises at the adaptive threshold again and builds its own pair of histograms. Here the inputs are
prepared once, the adaptive binarisation is counted once, and one pair of histograms (built with
``np.bincount``, which gives the same integer counts as ``np.histogram`` on uint8 values) feeds the
Fm, IoU and Em curves. The values are the same floating-point numbers as the sequential
computation: Sm and MAE call ``py_sod_metrics`` directly, wFm goes through
:class:`LocalWeightedFmeasure`, a ``WeightedFmeasure`` subclass that evaluates its maps only where
they are read (about half of py_sod_metrics' time is spent in it), Fm and IoU go through
``py_sod_metrics``' ``FmeasureHandler`` / ``IOUHandler`` on the shared confusion counts, and Em goes
through :class:`CountEmeasure`, an ``Emeasure`` subclass that evaluates the E-measure from the
shared counts.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from py_sod_metrics import MAE, Emeasure, FmeasureHandler, IOUHandler, Smeasure, WeightedFmeasure
from py_sod_metrics.utils import EPS, TYPE, get_adaptive_threshold, prepare_data
from scipy.ndimage import convolve, distance_transform_edt

NUM_THRESHOLDS = 256
#: Per-image scalar measures.
SCALAR_KEYS = ('sm', 'wfm', 'mae', 'adpfm', 'adpem', 'adpiou')
#: Per-image curves, each of shape (256,), thresholds 255, 254, ..., 0 (py_sod_metrics' order).
CURVE_KEYS = ('fm', 'em', 'iou')
#: Keys of the official OVC metricer, in the order the tables print them.
OFFICIAL_KEYS = ('sm', 'wfm', 'mae', 'adpfm', 'avgfm', 'maxfm', 'adpem', 'avgem', 'maxem',
                 'adpiou', 'avgiou', 'maxiou')
#: Paper column name -> official key (the paper's cFb, cEm and cIoU are the "avg" variants).
PAPER_KEYS = {
    'cSm': 'sm',
    'cFwb': 'wfm',
    'cMAE': 'mae',
    'cFb': 'avgfm',
    'cEm': 'avgem',
    'cIoU': 'avgiou',
}

#: Per-image result: ``SCALAR_KEYS`` -> float, ``CURVE_KEYS`` -> float64 array of shape (256,).
ImageMeasures = Dict[str, Union[float, np.ndarray]]


class CountEmeasure(Emeasure):
    """``py_sod_metrics.Emeasure`` evaluated from confusion counts instead of pixels.

    ``Emeasure`` builds its own histograms (``cal_em_with_cumsumhistogram``) and its own adaptive
    binarisation (``cal_em_with_threshold``). The E-measure of a binary map only depends on four
    counts, so this subclass takes the counts that were already computed for Fm and IoU and applies
    the same enhanced-alignment sum with the same operations in the same order (the parent's
    ``generate_parts_numel_combinations`` gives the parts and the demeaned values), which gives the
    same floating-point values. Tests check it against ``Emeasure.step``.

    Args:
        gt_fg_numel (int): Number of foreground pixels in the binarised GT.
        gt_size (int): Number of pixels of the GT (H * W).
    """

    def __init__(self, gt_fg_numel: int, gt_size: int) -> None:
        super().__init__()
        self.gt_fg_numel = gt_fg_numel
        self.gt_size = gt_size

    def em_from_counts(self, fg_fg_numel: Union[int, np.ndarray],
                       fg_bg_numel: Union[int, np.ndarray]) -> Union[float, np.ndarray]:
        """E-measure of the binary map(s) with the given counts.

        Args:
            fg_fg_numel (int | np.ndarray): Predicted foreground inside the GT foreground (TP):
                a Python int for one binary map, or an int64 array of shape (K,) for K thresholds.
            fg_bg_numel (int | np.ndarray): Predicted foreground inside the GT background (FP),
                same type and shape as ``fg_fg_numel``.

        Returns:
            float | np.ndarray: The E-measure, a scalar or a float64 array of shape (K,).
        """
        fg___numel = fg_fg_numel + fg_bg_numel
        bg___numel = self.gt_size - fg___numel
        if self.gt_fg_numel == 0:
            enhanced_matrix_sum = bg___numel
        elif self.gt_fg_numel == self.gt_size:
            enhanced_matrix_sum = fg___numel
        else:
            parts_numel, combinations = self.generate_parts_numel_combinations(
                fg_fg_numel=fg_fg_numel,
                fg_bg_numel=fg_bg_numel,
                pred_fg_numel=fg___numel,
                pred_bg_numel=bg___numel,
            )
            results_parts = []
            for part_numel, (pred_value, gt_value) in zip(parts_numel, combinations):
                align_matrix_value = (2 * (pred_value * gt_value) /
                                      (pred_value**2 + gt_value**2 + EPS))
                enhanced_matrix_value = (align_matrix_value + 1)**2 / 4
                results_parts.append(enhanced_matrix_value * part_numel)
            if isinstance(fg_fg_numel, np.ndarray):
                # (4, K) summed over the parts, as Emeasure.cal_em_with_cumsumhistogram does
                enhanced_matrix_sum = np.stack(results_parts).astype(TYPE, copy=False).sum(axis=0)
            else:
                enhanced_matrix_sum = sum(results_parts)
        return enhanced_matrix_sum / (self.gt_size - 1 + EPS)


class LocalWeightedFmeasure(WeightedFmeasure):
    """``py_sod_metrics.WeightedFmeasure`` evaluated only where its terms are read.

    ``WeightedFmeasure.cal_wfm`` builds whole-image maps: the distance transform of the
    background to the GT foreground (distances and nearest-foreground indices), the error
    ``E = |pred - gt|``, the error ``Et`` copied from the nearest foreground pixel, its 7x7
    Gaussian filtering ``EA``, the importance ``B`` and the weighted error ``Ew``, and then only
    reads ``Ew`` at the foreground (``min(EA, E)``) and at the background (``E * B``). This
    subclass computes the same numbers from less:

    * at the foreground, ``EA`` depends on ``Et`` within 3 pixels, so ``Et`` and the filter are
      computed on the foreground's bounding box grown by 3 pixels (clipped to the image, where
      scipy's ``convolve`` pads with 0 in both cases);
    * at the background, ``E = pred`` and ``B`` needs the distances there only: the feature
      transform comes from scipy's ``distance_transform_edt`` (the call ``cal_wfm`` makes) and
      the distances are ``sqrt`` of the exact integer squared offsets (scipy takes the same
      ``sqrt`` of the same integers, held in float64).

    Every kept value goes through the same floating-point operations, and the sums run over the
    same pixels in the same (row-major) order, so the result is the same float as the parent's
    ``cal_wfm``; tests compare the two bit for bit.

    Args:
        beta (float): Weight of precision against recall. Defaults to 1, as the official
            evaluator.
    """

    def __init__(self, beta: float = 1) -> None:
        super().__init__(beta=beta)
        self.kernel = self.matlab_style_gauss2D((7, 7), sigma=5)  # (7, 7) float64

    def cal_wfm(self, pred: np.ndarray, gt: np.ndarray) -> float:
        """Weighted F-measure of one prepared pair with a non-empty foreground.

        Args:
            pred (np.ndarray): Prediction, float64 of shape (H, W) in [0, 1] (``prepare_data``).
            gt (np.ndarray): Ground truth, bool of shape (H, W) with at least one True pixel.

        Returns:
            float: The value ``WeightedFmeasure.cal_wfm(pred, gt)`` returns.
        """
        height, width = gt.shape
        background = ~gt
        # Nearest foreground pixel of every pixel: two int32 (H, W) maps of row / column.
        # scipy's feature transform walks down columns; with rows of a multiple of 1 KiB a column
        # falls into few cache sets (768x1024 takes twice as long), so such rows get 16 unused
        # entries at their end. The values do not depend on the layout.
        pad = 16 if width % 256 == 0 else 0
        nearest = np.empty((2, height, width + pad), np.int32)[:, :, :width]  # (2, H, W) view
        distance_transform_edt(background, return_distances=False, return_indices=True,
                               indices=nearest)
        near_rows, near_cols = nearest

        # Background: Ew = E * B with E = |pred - 0| = pred and B = 2 - exp(log(0.5) / 5 * Dst).
        bg_index = np.flatnonzero(background)  # (N_bg,) row-major, the order of Ew[gt == 0]
        offset_type = np.int32 if max(height, width) < 2**15 else np.int64  # no overflow below
        d_rows = near_rows - np.arange(height, dtype=offset_type)[:, None]  # (H, W)
        d_cols = near_cols - np.arange(width, dtype=offset_type)[None, :]  # (H, W)
        squared = (d_rows * d_rows + d_cols * d_cols).ravel().take(bg_index)  # (N_bg,) exact
        distance = np.sqrt(squared.astype(TYPE))  # (N_bg,) what bwdist returns there
        importance = 2 - np.exp(np.log(0.5) / 5 * distance)  # (N_bg,)
        weighted_bg = pred.ravel().take(bg_index) * importance  # (N_bg,)

        # Foreground: Ew = min(EA, E), with EA the filtered Et on the grown bounding box.
        radius = self.kernel.shape[0] // 2
        fg_rows = np.flatnonzero(gt.any(axis=1))
        fg_cols = np.flatnonzero(gt.any(axis=0))
        top, left = max(fg_rows[0] - radius, 0), max(fg_cols[0] - radius, 0)
        bottom = min(fg_rows[-1] + radius + 1, height)
        right = min(fg_cols[-1] + radius + 1, width)
        box = (slice(top, bottom), slice(left, right))
        error = np.abs(pred[box] - gt[box])  # (h, w) E on the box
        # Et: E of the nearest foreground pixel (itself for the foreground); all in the box.
        spread = error[near_rows[box] - top, near_cols[box] - left]  # (h, w)
        filtered = convolve(spread, weights=self.kernel, mode='constant', cval=0)  # (h, w)
        inside = gt[box]
        error_fg, filtered_fg = error[inside], filtered[inside]  # (N_fg,) row-major
        weighted_fg = np.where(filtered_fg < error_fg, filtered_fg, error_fg)  # (N_fg,)

        tp_weighted = np.sum(gt) - np.sum(weighted_fg)
        fp_weighted = np.sum(weighted_bg)
        recall = 1 - np.mean(weighted_fg)
        precision = tp_weighted / (tp_weighted + fp_weighted + EPS)
        return (1 + self.beta) * recall * precision / (recall + self.beta * precision + EPS)


_SMEASURE = Smeasure(alpha=0.5)
_WFMEASURE = LocalWeightedFmeasure(beta=1)
_MAE = MAE()
_FMEASURE = FmeasureHandler(with_dynamic=False, with_adaptive=False, beta=0.3)
_IOU = IOUHandler(with_dynamic=False, with_adaptive=False)


def _check_pair(pred: np.ndarray, gt: np.ndarray) -> None:
    if pred.ndim != 2 or pred.shape != gt.shape:
        raise ValueError(f'pred and gt must be 2-D arrays of the same shape (H, W), got pred '
                         f'{pred.shape} and gt {gt.shape}; resize the prediction to the GT size '
                         f'first (see probability_to_uint8)')
    if pred.dtype != np.uint8 or gt.dtype != np.uint8:
        raise TypeError(f'pred and gt must be uint8 grayscale maps (0-255) as the official '
                        f'protocol reads them, got pred {pred.dtype} and gt {gt.dtype}')


def compute_image_measures(pred: np.ndarray, gt: np.ndarray) -> ImageMeasures:
    """All class-agnostic measures of one image, computed once.

    Args:
        pred (np.ndarray): Prediction, uint8 of shape (H, W), 0-255.
        gt (np.ndarray): Ground truth, uint8 of shape (H, W) (0/255; binarised with ``> 128``).

    Returns:
        ImageMeasures: ``sm, wfm, mae, adpfm, adpem, adpiou`` as floats and the curves
        ``fm, em, iou`` as float64 arrays of shape (256,) (thresholds 255 ... 0), each equal to what
        the corresponding ``py_sod_metrics`` class appends in ``step``.
    """
    _check_pair(pred, gt)
    pred_f, gt_b = prepare_data(pred, gt)  # float64 (H, W) in [0, 1], bool (H, W)
    gt_size = gt_b.shape[0] * gt_b.shape[1]
    num_fg = np.count_nonzero(gt_b)
    num_bg = gt_size - num_fg

    sm = _SMEASURE.cal_sm(pred_f, gt_b)
    wfm = _WFMEASURE.cal_wfm(pred_f, gt_b) if num_fg > 0 else 0  # empty GT -> 0, as in step()
    mae = _MAE.cal_mae(pred_f, gt_b)

    # Adaptive binarisation, counted once for Fm, Em and IoU.
    binary = pred_f >= get_adaptive_threshold(pred_f, max_value=1)
    tp = np.count_nonzero(binary[gt_b]) if num_fg else 0
    fp = np.count_nonzero(binary) - tp
    adaptive = dict(tp=tp, fp=fp, tn=num_bg - fp, fn=num_fg - tp)

    # One pair of histograms for all curves: counts of pred * 255 (uint8) per value, split by GT.
    quantised = (pred_f * 255).astype(np.uint8)
    all_hist = np.bincount(quantised.ravel(), minlength=NUM_THRESHOLDS)
    fg_hist = np.bincount(quantised[gt_b], minlength=NUM_THRESHOLDS)
    bg_hist = all_hist - fg_hist
    tps = np.cumsum(np.flip(fg_hist))  # (256,) pixels >= 255, >= 254, ..., >= 0 inside the GT
    fps = np.cumsum(np.flip(bg_hist))  # (256,) the same outside the GT
    dynamic = dict(tp=tps, fp=fps, tn=num_bg - fps, fn=num_fg - tps)

    emeasure = CountEmeasure(gt_fg_numel=num_fg, gt_size=gt_size)
    return {
        'sm': float(sm),
        'wfm': float(wfm),
        'mae': float(mae),
        'adpfm': float(_FMEASURE(**adaptive)),
        'adpem': float(emeasure.em_from_counts(tp, fp)),
        'adpiou': float(_IOU(**adaptive)),
        'fm': np.asarray(_FMEASURE(**dynamic), dtype=TYPE),
        'em': np.asarray(emeasure.em_from_counts(tps, fps), dtype=TYPE),
        'iou': np.asarray(_IOU(**dynamic), dtype=TYPE),
    }


def wrong_class_measures() -> ImageMeasures:
    """The values OVC records for an image whose predicted class is wrong.

    Returns:
        ImageMeasures: ``sm = wfm = 0``, ``mae = 1``, adaptive values 0 and all-zero curves.
    """
    measures: ImageMeasures = {key: 0.0 for key in SCALAR_KEYS}
    measures['mae'] = 1.0
    for key in CURVE_KEYS:
        measures[key] = np.zeros(NUM_THRESHOLDS, dtype=TYPE)
    return measures


def image_measures(pred: np.ndarray, gt: np.ndarray, pred_class: str, gt_class: str,
                   agnostic: Optional[ImageMeasures] = None) -> ImageMeasures:
    """Class-aware measures of one image (OVC ``OVCOSMetricer.step``).

    This is the one place of the class-aware rule: a wrong class zeroes the measures.

    Args:
        pred (np.ndarray): Prediction, uint8 of shape (H, W).
        gt (np.ndarray): Ground truth, uint8 of shape (H, W).
        pred_class (str): Predicted class name.
        gt_class (str): Ground-truth class name.
        agnostic (ImageMeasures, optional): :func:`compute_image_measures` of this pair when
            already computed; returned as it is (not copied) for a right class instead of
            computing it again. Defaults to None.

    Returns:
        ImageMeasures: :func:`compute_image_measures` (or ``agnostic``) if the class is right
        (exact string comparison), otherwise :func:`wrong_class_measures` (nothing is computed).
    """
    if pred_class != gt_class:
        _check_pair(pred, gt)
        return wrong_class_measures()
    return agnostic if agnostic is not None else compute_image_measures(pred, gt)


def aggregate_measures(measures: Sequence[ImageMeasures]) -> Dict[str, float]:
    """Data-set results from per-image measures, as OVC's ``_get_raw_results`` computes them.

    ``sm``, ``wfm``, ``mae`` and ``adp*`` are means over images; ``avg*`` / ``max*`` are the mean /
    max over the 256 thresholds of the per-threshold mean over images. The arithmetic is the one of
    the ``get_results`` methods of ``py_sod_metrics`` (float64 ``np.mean`` over the stacked values).

    Args:
        measures (Sequence[ImageMeasures]): Per-image results, at least one.

    Returns:
        dict[str, float]: The ``OFFICIAL_KEYS``, unrounded.
    """
    if len(measures) == 0:
        raise ValueError('aggregate_measures needs the measures of at least one image')
    results = {}
    for key in ('sm', 'wfm', 'mae'):
        results[key] = float(np.mean(np.array([m[key] for m in measures], dtype=TYPE)))
    for key in CURVE_KEYS:
        adaptive = np.mean(np.array([m['adp' + key] for m in measures], dtype=TYPE))
        curve = np.mean(np.array([m[key] for m in measures], dtype=TYPE), axis=0)  # (256,)
        results['adp' + key] = float(adaptive)
        results['avg' + key] = float(curve.mean())
        results['max' + key] = float(curve.max())
    return {key: results[key] for key in OFFICIAL_KEYS}


def paper_metrics(results: Dict[str, float]) -> Dict[str, float]:
    """Rename official results to the paper's column names.

    Args:
        results (dict[str, float]): Output of :func:`aggregate_measures`.

    Returns:
        dict[str, float]: ``cSm, cFwb, cMAE, cFb, cEm, cIoU``.
    """
    return {paper: results[key] for paper, key in PAPER_KEYS.items()}


def minmax_normalize(array: np.ndarray) -> np.ndarray:
    """Per-image min-max normalisation (OVC ``ops.minmax``); a constant map is left unchanged.

    Args:
        array (np.ndarray): Map of any shape, floating point.

    Returns:
        np.ndarray: Same shape and dtype, in [0, 1] unless the map is constant.
    """
    max_value, min_value = array.max(), array.min()
    if max_value != min_value:
        array = (array - min_value) / (max_value - min_value)
    return array


def probability_to_uint8(prob: np.ndarray, size_hw: Tuple[int, int]) -> np.ndarray:
    """Turn a probability map into the uint8 prediction the official tool saves and scores.

    Per-image min-max normalisation, ``cv2.resize`` to the GT size with ``INTER_LINEAR``, then
    ``(prob * 255).astype(np.uint8)`` (OVC ``main.py`` ``test()``).

    Args:
        prob (np.ndarray): Probability map (sigmoid of the logits), float32/float64 of shape (h, w).
        size_hw (tuple[int, int]): GT size (H, W).

    Returns:
        np.ndarray: uint8 prediction of shape (H, W).
    """
    if prob.ndim != 2:
        raise ValueError(f'prob must have shape (h, w), got {prob.shape}')
    prob = minmax_normalize(prob)
    height, width = int(size_hw[0]), int(size_hw[1])
    if prob.shape != (height, width):
        prob = cv2.resize(prob, dsize=(width, height), interpolation=cv2.INTER_LINEAR)
    return (prob * 255).astype(np.uint8)


def binarize_gt(mask: np.ndarray) -> np.ndarray:
    """Binarise a GT mask the way OVC's loader does (``> 0``) and store it as uint8 {0, 255}.

    Args:
        mask (np.ndarray): Mask of shape (H, W), any integer or bool dtype.

    Returns:
        np.ndarray: uint8 of shape (H, W) with values {0, 255}.
    """
    return (mask > 0).astype(np.uint8) * np.uint8(255)

