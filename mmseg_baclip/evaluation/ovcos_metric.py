"""OVCOSMetric: the official class-aware OVCamo metrics as an mmengine metric."""
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log

from mmseg.registry import METRICS
from .ovcos_measures import binarize_gt, probability_to_uint8
from ..utils.output_paths import check_output_dir
from .ovcos_summary import (flatten_summary, hard_subset_text, image_record, overall_tables,
                            per_class_table, subset_results, summarize, write_per_class)
from .prediction_files import prediction_path


def _to_numpy(data: Any, what: str) -> np.ndarray:
    if isinstance(data, torch.Tensor):
        return data.detach().cpu().numpy()
    if isinstance(data, np.ndarray):
        return data
    raise TypeError(f'{what} must be a torch.Tensor or np.ndarray, got {type(data).__name__}')


@METRICS.register_module()
class OVCOSMetric(BaseMetric):
    """Class-aware OVCOS metrics of the OVCamo benchmark (official protocol, OVC's ``evaluate.py``).

    Per image, in :meth:`process` (so that each rank only sends small results): the probability
    ``sigmoid(logits)`` is min-max normalised, resized to the GT size (``cv2.INTER_LINEAR``) and
    cast with ``(prob * 255).astype(np.uint8)``, exactly as the official tool saves predictions;
    the GT becomes uint8 {0, 255}. Then Sm, wFm, MAE and the adaptive values and 256-threshold
    curves of Fm, Em and IoU are computed once (see :mod:`.ovcos_measures`); a wrong class
    (``pred_class != class_name``) zeroes them (MAE 1). :meth:`compute_metrics` averages over
    images like OVC's ``_get_raw_results``.

    Expected fields of each data sample (``SegDataSample.to_dict()``):

    * ``input_seg_logits['data']``: (1, h, w) float logits at the network input size; used when
      present. Otherwise ``seg_logits['data']``: (1, H, W) logits at the original size.
    * ``gt_sem_seg['data']``: (1, H, W), {0, 1} (binarised with ``> 0`` by the loader).
    * ``pred_class`` (str), ``class_name`` (str, GT class), ``seg_map_path`` (str).

    Returned keys (full precision): ``sm, wfm, mae, adpfm, avgfm, maxfm, adpem, avgem, maxem,
    adpiou, avgiou, maxiou``, the paper names ``cSm, cFwb, cMAE, cFb, cEm, cIoU`` (= sm, wfm, mae,
    avgfm, avgem, avgiou) and the classification accuracy ``acc``; the same under ``hard/`` for
    the hard subset and, with ``class_agnostic=True``, under ``agnostic/``. When every sample
    has ``gt_mask_class`` (BaCLIP's class from the ground-truth mask), also ``acc_gt_mask``, the
    accuracy of that ceiling.

    Args:
        hard_classes (Sequence[str], optional): Classes of the hard subset. Defaults to the lowest
            quarter of the GT classes by this evaluation's per-class cIoU. The paper's hard subset
            ranks classes by OVCoser's cIoU; pass that list to compare with it.
        class_agnostic (bool): Also report every metric with the class ignored (costs one full
            computation for wrongly classified images). Defaults to False.
        output_dir (str, optional): If set, write each prediction into this folder as
            ``[<pred_class>]<mask file name>`` (uint8 map at the GT size, as the official tool
            does) and, after evaluation, the per-class results *beside* it as
            ``<output_dir>_per_class.json`` / ``.csv``, so that the folder holds only the
            predictions (as OVCamo's official ``evaluate.py`` requires). The folder is checked
            when the metric is built; a class name that is not a valid one (see
            :mod:`mmseg_baclip.utils.class_name_rules`) is never made a path. Defaults to None.
        collect_device (str): ``'cpu'`` or ``'gpu'``, for gathering results across ranks.
        prefix (str, optional): Prefix of the metric names.
        collect_dir (str, optional): Folder used to gather results when ``collect_device='cpu'``.
        keep_results (bool): Accepted for mmseg's ``tools/test.py --out``, which sets it (as for
            ``IoUMetric``); predictions written to ``output_dir`` are always kept.
        seen_classes (Sequence[str], optional): Classes a model may have trained on (e.g.
            OVCamo's 14 when testing on another data set). The metrics of the images of the
            other classes are also returned under ``unseen/`` (and of these under ``seen/``),
            class-aware, and class-agnostic too with ``class_agnostic``. Defaults to None.
    """

    def __init__(self,
                 hard_classes: Optional[Sequence[str]] = None,
                 class_agnostic: bool = False,
                 output_dir: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None,
                 keep_results: bool = False,
                 seen_classes: Optional[Sequence[str]] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        if isinstance(seen_classes, str):
            raise TypeError(f'seen_classes must be a list of class names, got the string '
                            f'{seen_classes!r}')
        self.seen_classes = list(seen_classes) if seen_classes is not None else None
        if isinstance(hard_classes, str):
            raise TypeError(f'hard_classes must be a list of class names, got the string '
                            f'{hard_classes!r}')
        self.hard_classes = list(hard_classes) if hard_classes is not None else None
        self.class_agnostic = class_agnostic
        self.output_dir = output_dir
        self.keep_results = keep_results
        if output_dir is not None:
            check_output_dir(output_dir, 'OVCOSMetric output_dir')
            os.makedirs(output_dir, exist_ok=True)

    @staticmethod
    def _probability(data_sample: Dict[str, Any], name: str) -> np.ndarray:
        """Sigmoid probability map of shape (h, w), float32.

        Raises:
            ValueError: The logits hold NaN or Inf (naming the image ``name``): a broken model
                would otherwise be scored as if it had predicted something.
        """
        for key in ('input_seg_logits', 'seg_logits'):
            if data_sample.get(key) is not None:
                logits = data_sample[key]['data']
                break
        else:
            raise KeyError('OVCOSMetric needs "input_seg_logits" or "seg_logits" in each data '
                           f'sample; got keys {sorted(data_sample)}')
        if tuple(logits.shape[:1]) != (1, ) or logits.ndim != 3:
            raise ValueError(f'OVCOSMetric expects single-channel logits of shape (1, h, w), got '
                             f'{tuple(logits.shape)} ({key})')
        logits = (logits.detach().float().cpu() if isinstance(logits, torch.Tensor) else
                  torch.as_tensor(np.asarray(logits, dtype=np.float32)))
        finite = torch.isfinite(logits)
        if not bool(finite.all()):
            bad = int((~finite).sum())
            raise ValueError(f'OVCOSMetric: the logits of {name} hold {bad} non-finite value(s) '
                             f'(NaN or Inf) of {logits.numel()} ({key}); the model or its '
                             'checkpoint is broken, so the image cannot be scored')
        return torch.sigmoid(logits)[0].numpy()

    @staticmethod
    def _sample_name(data_sample: Dict[str, Any], index: int) -> str:
        """The mask file name of a sample (``'<index>.png'`` when it has no path)."""
        seg_map_path = data_sample.get('seg_map_path') or data_sample.get('img_path')
        return osp.basename(seg_map_path) if seg_map_path else f'{index}.png'

    def _prediction_and_gt(self, data_sample: Dict[str, Any], name: str
                           ) -> Tuple[np.ndarray, np.ndarray]:
        """The prediction as the official tool saves it and the binarised GT.

        Returns:
            tuple[np.ndarray, np.ndarray]: ``pred`` uint8 (H, W) 0-255 at the GT size, and
            ``gt`` uint8 (H, W) in {0, 255}.
        """
        gt = _to_numpy(data_sample['gt_sem_seg']['data'], 'gt_sem_seg.data')
        if gt.ndim != 3 or gt.shape[0] != 1:
            raise ValueError(f'gt_sem_seg.data must have shape (1, H, W), got {gt.shape} '
                             f'({name})')
        gt = binarize_gt(gt[0])
        probability = self._probability(data_sample, name)  # (h, w) float32
        return probability_to_uint8(probability, gt.shape), gt

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Compute the per-image measures of a batch and keep the small results.

        Args:
            data_batch (Any): The batch from the dataloader (unused).
            data_samples (Sequence[dict]): Model outputs, one ``SegDataSample.to_dict()`` each.
        """
        for data_sample in data_samples:
            name = self._sample_name(data_sample, len(self.results))
            for key in ('pred_class', 'class_name'):
                if not isinstance(data_sample.get(key), str):
                    raise KeyError(f'OVCOSMetric needs the string field "{key}" in each data '
                                   f'sample ({name}); got {data_sample.get(key)!r}. The model '
                                   'sets "pred_class"; the dataset sets "class_name" (add it to '
                                   'the meta_keys of PackSegInputs).')
            pred_class, gt_class = data_sample['pred_class'], data_sample['class_name']
            pred, gt = self._prediction_and_gt(data_sample, name)

            self.results.append(
                image_record(name, pred, gt, pred_class, gt_class, self.class_agnostic,
                             gt_mask_class=data_sample.get('gt_mask_class')))

            if self.output_dir is not None:
                out_path = prediction_path(self.output_dir, pred_class, name)
                if not cv2.imwrite(out_path, pred):
                    raise OSError(f'could not write the prediction {out_path}')

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Average the per-image results of all ranks (OVC ``_get_raw_results``) and log tables.

        Args:
            results (list[dict]): Per-image records gathered from every rank.

        Returns:
            dict[str, float]: See the class docstring.
        """
        logger = MMLogger.get_current_instance()
        summary = summarize(results, hard_classes=self.hard_classes,
                            class_agnostic=self.class_agnostic)
        print_log('OVCOS class-aware metrics (official protocol; cFb/cEm/cIoU = avg variants):\n' +
                  overall_tables(summary), logger=logger)
        print_log('per-class results (* = hard subset):\n' + per_class_table(summary),
                  logger=logger)
        print_log(hard_subset_text(summary), logger=logger)
        if self.output_dir is not None:
            paths = write_per_class(summary, self.output_dir)
            print_log(f'predictions written to {self.output_dir}, per-class results to '
                      f'{" and ".join(paths)}', logger=logger)
        metrics = flatten_summary(summary)
        if self.seen_classes is not None:
            metrics.update(self._seen_unseen_metrics(results))
        oracle = [r.get('gt_mask_class') for r in results]
        if results and all(isinstance(c, str) for c in oracle):
            metrics['acc_gt_mask'] = float(np.mean(
                [c == r['gt_class'] for c, r in zip(oracle, results)]))
            print_log(f'zero-shot classification accuracy with the predicted masks '
                      f'{metrics["acc"]:.3f}, with the ground-truth masks '
                      f'{metrics["acc_gt_mask"]:.3f}'
                      ' (the ceiling)', logger=logger)
        return metrics

    def _seen_unseen_metrics(self, results: List[dict]) -> Dict[str, float]:
        """``seen/`` and ``unseen/`` metrics (and ``.../agnostic/``), with a log line each."""
        metrics = {}
        fields = ['measures'] + (['agnostic'] if self.class_agnostic else [])
        for scope, inside in (('seen', True), ('unseen', False)):
            for field in fields:
                subset = subset_results(results, self.seen_classes, inside, field)
                if subset is None:
                    continue
                prefix = scope if field == 'measures' else f'{scope}/agnostic'
                metrics.update({f'{prefix}/{k}': v for k, v in subset.items()})
                print_log(f'{prefix} classes ({subset["num_images"]} images): ' + ', '.join(
                    f'{k} {subset[k]:.3f}' for k in ('cSm', 'cFwb', 'cMAE', 'cIoU', 'acc')),
                    logger=MMLogger.get_current_instance())
        return metrics
