"""Evaluate a folder of ``[class]<mask file name>`` predictions like OVC's ``evaluate.py``.

The reusable part of ``tools/analysis/eval_predictions.py``:

1. :func:`load_test_samples` reads the test split of a data set in the default layout
   (``ROOT/test/mask/<unique_id><mask ext>``, ``ROOT/jsonfile/{class_info,sample_info}.json``,
   the official OVCamo layout): the samples whose ``base_class`` is a class with split ``'test'``.
   Two test samples with the same mask file name (a ``unique_id`` listed twice) are an error:
   the official tool keeps the last one silently, which can score a perfect prediction as a
   wrong class.
2. :func:`match_predictions` parses prediction names with ``^\\[(.*?)\\](.*?)$`` into
   (predicted class, mask file name) and looks the mask name up among the test samples (a class
   name holding ``]`` is split at the later ``]`` that gives a test sample, see
   :func:`~.prediction_files.parse_prediction_name`). An unknown name, a name that does not parse
   and two predictions for one mask are errors. Test samples
   without a prediction are an error too (:class:`MissingPredictionsError`) unless
   ``allow_missing=True``, in which case only the predicted images are averaged, which is what the
   official ``evaluate.py`` does silently. Files that are not images (``.json``, ``.csv``, ...) are
   skipped, so the folder written by ``OVCOSMetric(output_dir=...)`` can be evaluated as it is.
   A prediction that is a symbolic link whose target (resolved with ``realpath``) lies outside
   the prediction folder is an error naming the link and its target; links that stay inside
   the folder are read as usual.
3. :func:`evaluate_predictions` reads each prediction as 8-bit grayscale and each GT as the
   dataset does (``> 0`` to {0, 255}, as OVC's loader; files that this would read silently wrong,
   such as 16-bit or alpha-only predictions, are errors naming the file, see
   :mod:`.prediction_files`) and computes the per-image measures with the code
   ``OVCOSMetric`` uses, in parallel worker processes; images are averaged in file-name order.
"""
import json
import multiprocessing
import os
import os.path as osp
import re
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import cv2

from .ovcos_measures import OFFICIAL_KEYS
from .ovcos_summary import Record, Summary, image_record, summarize
from ..utils.image_files import IMAGE_EXTENSIONS
from ..utils.output_paths import path_inside
from .prediction_files import (PredictionFileError, PredictionNameError, parse_prediction_name,
                               read_gt_mask, read_prediction)

#: OVC evaluate.py's pattern: ``[<pred class>]<mask file name>``.
PRED_NAME_PATTERN = re.compile(r'^\[(.*?)\](.*?)$')
__all__ = ['PredictionFileError', 'PredictionNameError', 'MissingPredictionsError', 'GTSample',
           'PredictionTask', 'load_test_samples', 'match_predictions', 'evaluate_task',
           'evaluate_tasks', 'evaluate_predictions', 'parallel_map', 'round_results']


class MissingPredictionsError(RuntimeError):
    """Test samples without any prediction file."""


class GTSample(NamedTuple):
    """One test sample: its mask file name, GT class, mask path and image path (if known)."""
    name: str
    gt_class: str
    mask_path: str
    image_path: Optional[str] = None


class PredictionTask(NamedTuple):
    """One (prediction, GT) pair to score."""
    pred_path: str
    mask_path: str
    pred_class: str
    gt_class: str
    name: str


def _read_json_list(path: str, what: str) -> List[dict]:
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')
    try:
        with open(path, encoding='utf-8-sig') as f:  # -sig: a byte-order mark is dropped
            data = json.load(f)
    except UnicodeDecodeError as error:
        raise ValueError(f'{path}: {what} is not UTF-8 text ({error}); save it as UTF-8') from None
    except json.JSONDecodeError as error:
        raise ValueError(f'{path}: {what} is not valid JSON ({error})') from None
    if not isinstance(data, list) or not all(isinstance(entry, dict) for entry in data):
        raise ValueError(f'{path}: {what} must be a JSON list of dicts, got '
                         f'{type(data).__name__}' + (' with other items' if isinstance(data, list)
                                                     else ''))
    return data


def load_test_samples(data_root: Optional[str] = None,
                      class_info: Optional[str] = None,
                      sample_info: Optional[str] = None,
                      mask_dir: Optional[str] = None,
                      image_dir: Optional[str] = None) -> Dict[str, GTSample]:
    """Test samples of an OVCamo-layout data set, keyed by mask file name.

    Args:
        data_root (str, optional): Data root in the default layout. Needed unless the three paths
            below are all given.
        class_info (str, optional): ``class_info.json``. Defaults to
            ``ROOT/jsonfile/class_info.json``.
        sample_info (str, optional): ``sample_info.json``. Defaults to
            ``ROOT/jsonfile/sample_info.json``.
        mask_dir (str, optional): Test mask folder. Defaults to ``ROOT/test/mask``.
        image_dir (str, optional): Test image folder, for ``GTSample.image_path``. Defaults to
            ``ROOT/test/image`` when ``data_root`` is given; otherwise image paths stay None.

    Returns:
        dict[str, GTSample]: ``<unique_id><mask ext>`` -> sample.

    Raises:
        ValueError: Two test samples have the same mask file name (the dataset and
            ``check_ovcamo.py`` report it too), or no sample is a test sample.
    """
    if data_root is None and None in (class_info, sample_info, mask_dir):
        raise ValueError('give data_root, or all of class_info, sample_info and mask_dir')
    class_info = class_info or osp.join(data_root, 'jsonfile', 'class_info.json')
    sample_info = sample_info or osp.join(data_root, 'jsonfile', 'sample_info.json')
    mask_dir = mask_dir or osp.join(data_root, 'test', 'mask')
    if image_dir is None and data_root is not None:
        image_dir = osp.join(data_root, 'test', 'image')

    classes = _read_json_list(class_info, 'class_info.json')
    test_classes = {c['name'] for c in classes if c.get('split') == 'test'}
    if not test_classes:
        raise ValueError(f'{class_info}: no class has split "test"')
    samples, first_entry = {}, {}
    for index, sample in enumerate(_read_json_list(sample_info, 'sample_info.json')):
        try:
            base_class, unique_id, mask = sample['base_class'], sample['unique_id'], sample['mask']
        except KeyError as error:
            raise KeyError(f'{sample_info}: entry {index} has no field {error}') from None
        if base_class not in test_classes:
            continue
        name = unique_id + osp.splitext(mask)[1]
        if name in samples:
            raise ValueError(
                f'{sample_info}: entries {first_entry[name]} ({samples[name].gt_class!r}) and '
                f'{index} ({base_class!r}) are both the test sample {name!r}; a prediction could '
                'only be scored against one of them. Remove the duplicate (the official '
                'evaluate.py silently keeps the last one).')
        first_entry[name] = index
        image = sample.get('image')
        image_path = osp.join(image_dir, image) if image_dir and image else None
        samples[name] = GTSample(name, base_class, osp.join(mask_dir, name), image_path)
    if not samples:
        raise ValueError(f'{sample_info}: no sample belongs to a test class of {class_info}')
    return samples


def match_predictions(pred_dir: str, samples: Dict[str, GTSample]
                      ) -> Tuple[List[PredictionTask], List[str]]:
    """Pair each prediction file with its test sample.

    Args:
        pred_dir (str): Folder of ``[<class>]<mask file name>`` images.
        samples (dict[str, GTSample]): Output of :func:`load_test_samples`.

    Returns:
        tuple[list[PredictionTask], list[str]]: The tasks sorted by file name, and the mask names
        of the test samples that have no prediction (sorted).
    """
    if not osp.isdir(pred_dir):
        raise FileNotFoundError(f'prediction folder not found: {pred_dir}')
    tasks, seen = [], {}
    for file_name in sorted(os.listdir(pred_dir)):
        path = osp.join(pred_dir, file_name)
        if not file_name.lower().endswith(IMAGE_EXTENSIONS):
            continue
        if not path_inside(pred_dir, path):  # a symbolic link out of the folder
            raise PredictionFileError(
                f'{path}: a symbolic link to {osp.realpath(path)}, outside the prediction '
                f'folder {osp.realpath(pred_dir)}; predictions are read from inside the folder '
                'only: copy the file into it')
        if not osp.isfile(path):
            continue
        parsed = parse_prediction_name(file_name, samples)
        if parsed is None:
            raise PredictionNameError(f'{path}: the name does not follow "[<class>]<mask file '
                                      f'name>"')
        pred_class, name = parsed
        if name not in samples:
            raise PredictionNameError(f'{path}: "{name}" is not the mask file name of any test '
                                      f'sample (looked up as <unique_id><mask ext> among '
                                      f'{len(samples)} test samples)')
        if name in seen:
            raise PredictionNameError(f'{path}: a second prediction for "{name}" (first: '
                                      f'{seen[name]})')
        seen[name] = path
        sample = samples[name]
        tasks.append(PredictionTask(path, sample.mask_path, pred_class, sample.gt_class, name))
    missing = sorted(set(samples) - set(seen))
    return tasks, missing


def evaluate_task(task: PredictionTask, class_agnostic: bool = False) -> Record:
    """Read one pair and compute its per-image measures (the code ``OVCOSMetric`` uses).

    Args:
        task (PredictionTask): The pair.
        class_agnostic (bool): Also keep the class-agnostic measures.

    Returns:
        Record: ``dict(name, gt_class, pred_class, measures, agnostic, gt_mask_class=None)``
        (:func:`~.ovcos_summary.image_record`).
    """
    pred = read_prediction(task.pred_path)  # (H, W) uint8
    gt = read_gt_mask(task.mask_path)  # (H, W) uint8 {0, 255}
    if pred.shape != gt.shape:
        raise PredictionFileError(f'{task.pred_path}: prediction size {pred.shape} differs from '
                                  f'the GT size {gt.shape} ({task.mask_path}); save predictions '
                                  'at the GT size')
    return image_record(task.name, pred, gt, task.pred_class, task.gt_class, class_agnostic)


def _evaluate_task_agnostic(task: PredictionTask) -> Record:
    return evaluate_task(task, class_agnostic=True)


def parallel_map(func: Callable, items: Sequence, workers: Optional[int] = None) -> list:
    """``[func(x) for x in items]`` in forked worker processes, keeping the order.

    Args:
        func (Callable): A picklable function of one item.
        items (Sequence): The items.
        workers (int, optional): Processes; defaults to the number of CPUs. 1 runs in-process.

    Returns:
        list: The results, in the order of ``items``.
    """
    workers = min(workers or os.cpu_count() or 1, len(items))
    if workers <= 1:
        return [func(item) for item in items]
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context('fork' if 'fork' in methods else None)
    chunksize = max(1, min(8, len(items) // (4 * workers)))
    # Forked workers must not inherit OpenCV's thread pool: a child that touches it can hang
    # (mmengine turns OpenCV threading off before forking data-loader workers for the same
    # reason). One process per core, no nested OpenCV threads; restored afterwards.
    previous = cv2.getNumThreads()
    cv2.setNumThreads(0)
    try:
        with context.Pool(workers) as pool:
            return list(pool.imap(func, items, chunksize=chunksize))
    finally:
        cv2.setNumThreads(previous)


def evaluate_tasks(tasks: Sequence[PredictionTask], workers: Optional[int] = None,
                   class_agnostic: bool = False) -> List[Record]:
    """Score many pairs, in parallel worker processes, keeping the input order.

    Args:
        tasks (Sequence[PredictionTask]): The pairs.
        workers (int, optional): Processes; defaults to the number of CPUs. 1 runs in-process.
        class_agnostic (bool): Also keep the class-agnostic measures.

    Returns:
        list[Record]: One record per task, in the same order.
    """
    func = _evaluate_task_agnostic if class_agnostic else evaluate_task
    return parallel_map(func, tasks, workers)


def round_results(results: Dict[str, float], digits: int = 3) -> Dict[str, float]:
    """Round like OVC's metricer (``round(value, 3)``)."""
    return {key: round(float(value), digits) for key, value in results.items()}


def evaluate_predictions(pred_dir: str,
                         data_root: Optional[str] = None,
                         *,
                         class_info: Optional[str] = None,
                         sample_info: Optional[str] = None,
                         mask_dir: Optional[str] = None,
                         workers: Optional[int] = None,
                         allow_missing: bool = False,
                         hard_classes: Optional[Sequence[str]] = None,
                         class_agnostic: bool = False) -> Dict[str, Any]:
    """Evaluate a prediction folder against the test split (OVC ``evaluate.py``).

    Args:
        pred_dir (str): Folder of ``[<class>]<mask file name>`` images at the GT size.
        data_root (str, optional): Data root in the default layout.
        class_info (str, optional): Overrides ``ROOT/jsonfile/class_info.json``.
        sample_info (str, optional): Overrides ``ROOT/jsonfile/sample_info.json``.
        mask_dir (str, optional): Overrides ``ROOT/test/mask``.
        workers (int, optional): Worker processes; defaults to the number of CPUs.
        allow_missing (bool): Average only the predicted images when some test samples have no
            prediction (the official behaviour) instead of raising
            :class:`MissingPredictionsError`.
        hard_classes (Sequence[str], optional): Hard subset (see :func:`summarize`).
        class_agnostic (bool): Also report the metrics with the class ignored.

    Returns:
        dict: ``results`` (official keys, rounded to 3 decimals like OVC), ``full_precision``
        (official and paper keys and ``acc``, unrounded), ``num_images``, ``num_test_samples``,
        ``missing`` (mask names without prediction) and ``summary`` (see :func:`summarize`).
    """
    samples = load_test_samples(data_root, class_info, sample_info, mask_dir)
    tasks, missing = match_predictions(pred_dir, samples)
    if not tasks:
        raise MissingPredictionsError(f'{pred_dir}: no prediction image found')
    if missing and not allow_missing:
        shown = ', '.join(missing[:5]) + (', ...' if len(missing) > 5 else '')
        raise MissingPredictionsError(
            f'{pred_dir}: {len(missing)} of {len(samples)} test samples have no prediction '
            f'({shown}). Scores over a subset are not comparable; pass --allow-missing to '
            'average the predicted images only, as the official evaluate.py does.')
    records = evaluate_tasks(tasks, workers=workers, class_agnostic=class_agnostic)
    summary: Summary = summarize(records, hard_classes=hard_classes, class_agnostic=class_agnostic)
    overall = summary['overall']
    return {
        'results': round_results({key: overall[key] for key in OFFICIAL_KEYS}),
        'full_precision': dict(overall),
        'num_images': len(records),
        'num_test_samples': len(samples),
        'missing': missing,
        'summary': summary,
    }
