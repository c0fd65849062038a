"""Class-agnostic measures of the camouflaged-object (COS) papers, for CAMO, CHAMELEON, COD10K
and NC4K: S-measure, weighted F-measure, MAE, and E- and F-measure in their mean, max and
adaptive forms."""
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence

import cv2
from mmengine.logging import MMLogger, print_log
from mmseg.registry import METRICS
from prettytable import PrettyTable

from ..utils.output_paths import check_output_file
from .ovcos_measures import aggregate_measures, compute_image_measures
from .ovcos_metric import OVCOSMetric

__all__ = ['COSMetric', 'COS_KEYS', 'cos_results']

#: The COS papers' columns -> the key of :func:`~.ovcos_measures.aggregate_measures`.
COS_KEYS = {
    'Sm': 'sm',
    'wFm': 'wfm',
    'MAE': 'mae',
    'meanEm': 'avgem',
    'maxEm': 'maxem',
    'adpEm': 'adpem',
    'meanFm': 'avgfm',
    'maxFm': 'maxfm',
    'adpFm': 'adpfm',
}


def cos_results(records: Sequence[Dict[str, Any]]) -> Dict[str, float]:
    """The COS columns of some per-image records (``record['measures']``), and ``num_images``.

    Args:
        records (Sequence[dict]): Per-image records, each with ``measures`` from
            :func:`~.ovcos_measures.compute_image_measures`; at least one.

    Returns:
        dict[str, float]: :data:`COS_KEYS` (full precision) and ``num_images``.
    """
    official = aggregate_measures([r['measures'] for r in records])
    results = {name: official[key] for name, key in COS_KEYS.items()}
    results['num_images'] = len(records)
    return results


@METRICS.register_module()
class COSMetric(OVCOSMetric):
    """Class-agnostic COS measures, as the COS papers report them (py_sod_metrics' definitions).

    Per image, in :meth:`process`: the probability map is brought to the mask's size and to
    uint8 exactly as :class:`OVCOSMetric` does (so a saved prediction scores the same), then
    :func:`~.ovcos_measures.compute_image_measures` gives S-measure (alpha 0.5), weighted
    F-measure, MAE and the adaptive values and 256-threshold curves of the E- and F-measure
    (beta^2 0.3). Only these numbers are kept (about 6 KB per image), never the maps, so a
    4,121-image set is evaluated in bounded memory. The predicted class is not scored (these
    sets have no class labels); BaCLIP still needs a vocabulary to predict with, which the
    dataset gives.

    Returned keys: ``Sm, wFm, MAE, meanEm, maxEm, adpEm, meanFm, maxFm, adpFm`` and
    ``num_images``.

    Args:
        output_dir (str, optional): Write each prediction as ``<mask file name>`` (uint8 map at
            the mask size), the form COS evaluation tools read. Defaults to None.
        collect_device (str): ``'cpu'`` or ``'gpu'``, for gathering results across ranks.
        prefix (str, optional): Prefix of the metric names.
        collect_dir (str, optional): Folder used to gather results when ``collect_device='cpu'``.
        keep_results (bool): Accepted for mmseg's ``tools/test.py --out``.
    """

    def __init__(self,
                 output_dir: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None,
                 keep_results: bool = False) -> None:
        super().__init__(output_dir=output_dir, collect_device=collect_device, prefix=prefix,
                         collect_dir=collect_dir, keep_results=keep_results)

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Compute the per-image measures of a batch and keep only those.

        Args:
            data_batch (Any): The batch from the dataloader (unused).
            data_samples (Sequence[dict]): Model outputs, one ``SegDataSample.to_dict()`` each,
                with ``gt_sem_seg`` (1, H, W) and ``input_seg_logits`` or ``seg_logits``.
        """
        for data_sample in data_samples:
            name = self._sample_name(data_sample, len(self.results))
            pred, gt = self._prediction_and_gt(data_sample, name)
            self.results.append(dict(name=name, pred_class=data_sample.get('pred_class'),
                                     measures=compute_image_measures(pred, gt)))
            if self.output_dir is not None:
                out_path = osp.join(self.output_dir, osp.splitext(name)[0] + '.png')
                check_output_file(out_path, 'COSMetric output_dir')
                if not cv2.imwrite(out_path, pred):
                    raise OSError(f'could not write the prediction {out_path}')

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Average the per-image results of all ranks and log one table.

        Args:
            results (list[dict]): Per-image records gathered from every rank.

        Returns:
            dict[str, float]: See the class docstring.
        """
        if not results:
            raise ValueError('COSMetric: no image was evaluated')
        metrics = cos_results(results)
        table = PrettyTable(['#img'] + list(COS_KEYS))
        table.add_row([metrics['num_images']] + [f'{metrics[k]:.3f}' for k in COS_KEYS])
        print_log('COS class-agnostic measures:\n' + table.get_string(),
                  logger=MMLogger.get_current_instance())
        return metrics
