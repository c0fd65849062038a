"""The OVCamo open-vocabulary camouflaged object segmentation dataset."""
import copy
import warnings
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

from mmengine.fileio import join_path
from mmengine.utils import is_abs
from mmcv.transforms import LoadAnnotations as MMCVLoadAnnotations
from mmseg.datasets import BaseSegDataset
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import DATASETS, TRANSFORMS

from .class_names import OVCAMO_TEST_CLASSES, OVCAMO_TRAIN_CLASSES
from .ovcamo_files import check_samples, describe_sample
from .ovcamo_io import (SPLITS, OVCamoDataError, leak_problem, load_class_info, load_sample_info,
                        normalize_verify_mode, report_bad_samples, split_vocabulary,
                        unknown_class_problem)


@DATASETS.register_module()
class OVCamoDataset(BaseSegDataset):
    """OVCamo: 75 classes, 14 seen (train) and 61 unseen (test), binary camouflage masks.

    Reads the official layout (see :mod:`mmseg_baclip.datasets.ovcamo_io`)::

        <data_root>/{train,test}/{image,mask}/<unique_id><ext>
        <data_root>/jsonfile/{class_info,sample_info}.json

    A sample belongs to ``split`` when its ``base_class`` is a class of that split in
    ``class_info.json`` (there is no per-sample split field). The masks are binary
    (``classes=('background', 'camouflaged')``); the *object* class is open-vocabulary:

    - ``dataset.metainfo['vocabulary']``: the split's class names in ``class_info.json`` order
      (what the model's text side and the metric use), and ``metainfo['split']``.
    - every data info carries ``class_name``, ``unique_id`` and the same ``vocabulary`` tuple,
      so with ``PackSegInputs(meta_keys=(..., 'class_name', 'vocabulary', 'unique_id'))`` they
      reach each ``SegDataSample``'s metainfo.

    Masks are loaded and binarised (``> 0`` -> 1) by ``LoadOVCamoAnnotations``, as OVCoser
    reads them; masks whose format makes that reading ambiguous (see
    :mod:`~mmseg_baclip.datasets.ovcamo_masks` and docs/data.md, "Mask formats") are bad samples.
    A pipeline with mmseg's own ``LoadAnnotations`` is refused with an error that says so: it
    would read the object pixels (stored as 255) as mmseg's ignore index, and a model would
    silently learn and score no object.

    Bad samples (image or mask missing, unreadable or truncated; an ambiguous mask; image and
    mask EXIF orientations that do not line up; a class not in ``class_info.json``; a
    ``unique_id`` used twice, or used in both splits: a train/test leak) are all collected
    while the dataset is built. With ``on_bad_sample='error'`` (default) one
    :class:`OVCamoDataError` lists every bad file; with ``'skip'`` they are left out and one
    warning lists them. Malformed JSON files, a split with no classes and a split left with no
    samples always raise.

    Args:
        data_root (str, optional): Dataset root; relative paths below are joined to it.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        class_info_file (str): Defaults to ``'jsonfile/class_info.json'``.
        sample_info_file (str): Defaults to ``'jsonfile/sample_info.json'``.
        data_prefix (dict, optional): ``dict(img_path=..., seg_map_path=...)``. Defaults to
            ``dict(img_path=f'{split}/image', seg_map_path=f'{split}/mask')``.
        on_bad_sample (str): ``'error'`` or ``'skip'``. Defaults to ``'error'``.
        verify_files (bool | str): How deeply each file is checked at construction: ``True``
            (= ``'header'``: images' headers, structure and end markers are verified without
            decoding pixels, which catches truncated PNG and JPEG files; masks are decoded and
            their format checked), ``False`` (= ``'none'``: existence only; ambiguous masks
            then fail when loaded) or ``'decode'`` (images decoded in full too; slow).
            Defaults to True. See :mod:`~mmseg_baclip.datasets.ovcamo_files`.
        metainfo (dict, optional): Extra meta information; ``vocabulary`` and ``split`` are
            always set from ``class_info.json`` and ``split``.
        lazy_init (bool): As in mmengine. If True and ``class_info.json`` is missing, the
            vocabulary falls back to the built-in OVCamo class lists (with a warning), so a
            dataset can be built for its metainfo without the data on disk.
        **kwargs: Other :class:`mmseg.datasets.BaseSegDataset` arguments (``pipeline``,
            ``test_mode``, ``serialize_data``, ``indices``, ``backend_args``...).
    """

    METAINFO = dict(classes=('background', 'camouflaged'), palette=[[0, 0, 0], [255, 255, 255]])

    def __init__(self,
                 data_root: Optional[str] = None,
                 split: str = 'train',
                 class_info_file: str = 'jsonfile/class_info.json',
                 sample_info_file: str = 'jsonfile/sample_info.json',
                 data_prefix: Optional[Dict[str, str]] = None,
                 on_bad_sample: str = 'error',
                 verify_files: Union[bool, str] = True,
                 metainfo: Optional[dict] = None,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 lazy_init: bool = False,
                 backend_args: Optional[dict] = None,
                 **kwargs) -> None:
        if split not in SPLITS:
            raise ValueError(f'OVCamoDataset split must be one of {SPLITS}, got {split!r}')
        if on_bad_sample not in ('error', 'skip'):
            raise ValueError(f"on_bad_sample must be 'error' or 'skip', got {on_bad_sample!r}")
        self._refuse_stock_mask_loader(pipeline, split)
        self.split = split
        self.on_bad_sample = on_bad_sample
        self.verify_files = normalize_verify_mode(verify_files)
        self.class_info_file = self._join_root(data_root, class_info_file)
        self.bad_samples: List[str] = []
        if data_prefix is None:
            data_prefix = dict(img_path=f'{split}/image', seg_map_path=f'{split}/mask')

        self.all_class_names, vocabulary = self._read_vocabulary(lazy_init, backend_args)
        metainfo = copy.deepcopy(metainfo) if metainfo else {}
        metainfo['vocabulary'] = vocabulary
        super().__init__(
            ann_file=sample_info_file,
            data_root=data_root,
            data_prefix=data_prefix,
            metainfo=metainfo,
            pipeline=list(pipeline),
            lazy_init=lazy_init,
            backend_args=backend_args,
            **kwargs)
        # Set after loading: mmengine would parse a string metainfo value as a file name.
        self._metainfo['split'] = split

    @staticmethod
    def _refuse_stock_mask_loader(pipeline: Sequence[Union[dict, Callable]], split: str) -> None:
        """Raise if the pipeline loads masks with mmseg's (or mmcv's) own LoadAnnotations."""
        for index, step in enumerate(pipeline):
            kind = step.get('type') if isinstance(step, dict) else step
            if isinstance(kind, str):
                kind = TRANSFORMS.get(kind)
            if not isinstance(kind, type):
                kind = type(kind)
            if kind in (LoadAnnotations, MMCVLoadAnnotations):
                raise ValueError(
                    f'OVCamoDataset(split={split!r}): pipeline step {index} is '
                    f'{kind.__module__}.LoadAnnotations, which reads the object pixels of an '
                    'OVCamo mask (255) as the ignore index 255, so no object would be learned or '
                    "scored. Use dict(type='LoadOVCamoAnnotations') instead: it reads masks as "
                    "OVCoser does (grayscale > 0 is the object, label 1); in a test pipeline put "
                    "it after Resize with size_mismatch='resize_image', as "
                    'configs/_base_/datasets/ovcamo.py does.')

    @staticmethod
    def _join_root(data_root: Optional[str], path: str) -> str:
        return join_path(data_root, path) if data_root and not is_abs(path) else path

    def _read_vocabulary(self, lazy_init: bool, backend_args: Optional[dict]
                         ) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
        """Read ``class_info.json``: all class names and this split's vocabulary."""
        try:
            class_info = load_class_info(self.class_info_file, backend_args)
        except FileNotFoundError:
            if not lazy_init:
                raise
            warnings.warn(f'{self.class_info_file} not found; lazy_init=True, so using the '
                          'built-in OVCamo class lists as the vocabulary.')
            builtin = OVCAMO_TRAIN_CLASSES if self.split == 'train' else OVCAMO_TEST_CLASSES
            return OVCAMO_TRAIN_CLASSES + OVCAMO_TEST_CLASSES, builtin
        vocabulary = split_vocabulary(class_info, self.split)
        if not vocabulary:
            raise OVCamoDataError(
                f'{self.class_info_file} lists no class with split {self.split!r}; the split is '
                'defined by class, so there would be no samples. Check the file (each entry '
                'needs "split": "train" or "test").')
        return tuple(c['name'] for c in class_info), vocabulary

    def load_data_list(self) -> List[dict]:
        """Read ``sample_info.json`` and return the data infos of this split.

        Returns:
            list[dict]: One dict per sample with ``img_path``, ``seg_map_path``, ``class_name``,
            ``unique_id``, ``vocabulary``, ``label_map``, ``reduce_zero_label`` and
            ``seg_fields``, in ``sample_info.json`` order.

        Raises:
            OVCamoDataError: Bad samples (with ``on_bad_sample='error'``) or an empty split.
        """
        entries = load_sample_info(self.ann_file, self.backend_args)
        known = set(self.all_class_names)
        vocabulary = tuple(self._metainfo['vocabulary'])
        in_split = set(vocabulary)
        img_dir = self.data_prefix.get('img_path', '')
        mask_dir = self.data_prefix.get('seg_map_path', '')

        bad, members, other_split = [], [], {}
        for index, entry in enumerate(entries):
            if entry['base_class'] not in known:
                bad.append((index, unknown_class_problem(index, entry, self.class_info_file)))
            elif entry['base_class'] in in_split:
                members.append((index, entry))
            else:
                other_split.setdefault(entry['unique_id'], index)
        checks = check_samples([(entry, img_dir, mask_dir) for _, entry in members],
                               self.verify_files, self.backend_args)

        data_list, first_seen = [], {}
        for (index, entry), check in zip(members, checks):
            uid = entry['unique_id']
            if uid in first_seen:
                check.problems.append(f'unique_id already used by sample_info.json entry '
                                      f'#{first_seen[uid]} (entry #{index})')
            first_seen.setdefault(uid, index)
            if uid in other_split:
                check.problems.append(leak_problem(index, other_split[uid], self.split))
            if check.problems:
                bad.append((index, describe_sample(check)))
                continue
            data_list.append(
                dict(
                    img_path=check.img_path,
                    seg_map_path=check.seg_map_path,
                    class_name=entry['base_class'],
                    unique_id=uid,
                    vocabulary=vocabulary,
                    label_map=self.label_map,
                    reduce_zero_label=self.reduce_zero_label,
                    seg_fields=[]))

        bad = [line for _, line in sorted(bad, key=lambda item: item[0])]
        self.bad_samples = bad
        if bad:
            self._report_bad_samples(bad)
        if not data_list:
            raise OVCamoDataError(
                f'OVCamoDataset(split={self.split!r}) is empty: {self.ann_file} has no usable '
                f'sample whose base_class is one of the {len(vocabulary)} {self.split} classes '
                f'of {self.class_info_file} (e.g. {list(vocabulary[:3])}). Check data_root and '
                'the json files.')
        return data_list

    def _report_bad_samples(self, bad: List[str]) -> None:
        where = (f'OVCamoDataset(split={self.split!r}, data_root={self.data_root!r}): '
                 f'{len(bad)} bad sample{"s" if len(bad) > 1 else ""}')
        report_bad_samples(
            where, bad, self.on_bad_sample, OVCamoDataError,
            'Fix or remove these files / sample_info.json entries '
            '(tools/dataset_converters/check_ovcamo.py reports on the whole tree), or build the '
            "dataset with on_bad_sample='skip' to leave them out.")

    @property
    def vocabulary(self) -> Tuple[str, ...]:
        """tuple[str, ...]: The split's class names, in ``class_info.json`` order."""
        return tuple(self._metainfo['vocabulary'])
