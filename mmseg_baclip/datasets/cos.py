"""The standard camouflaged-object (COS) test sets: CAMO, CHAMELEON, COD10K, NC4K, COD10K-OV."""
import copy
import os
import os.path as osp
import re
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

from mmengine.fileio import join_path
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from ..utils.class_name_rules import check_vocabulary
from ..utils.image_files import IMAGE_EXTENSIONS
from .class_names import OVCAMO_TEST_CLASSES, OVCAMO_TRAIN_CLASSES
from .cod10k_names import cod10k_class
from .ovcamo import OVCamoDataset
from .ovcamo_files import inspect_image_file, inspect_mask_file
from .ovcamo_io import OVCamoDataError, normalize_verify_mode, report_bad_samples

__all__ = ['COSDataset', 'COSDataError']


class COSDataError(OVCamoDataError):
    """A COS test set that cannot be used as it is (bad files, no sample, a bad vocabulary)."""


def _stems(folder: str, what: str) -> Dict[str, str]:
    """``{file stem: file name}`` of the image files in ``folder``; an error naming clashes."""
    if not osp.isdir(folder):
        raise FileNotFoundError(f'{what} folder not found: {folder}')
    stems: Dict[str, str] = {}
    clashes = []
    for name in sorted(os.listdir(folder)):
        stem, ext = osp.splitext(name)
        if not name.lower().endswith(IMAGE_EXTENSIONS) or not osp.isfile(osp.join(folder, name)):
            continue
        if stem in stems:
            clashes.append(f'{osp.join(folder, stems[stem])} and {name}')
        stems[stem] = name
    if clashes:
        raise COSDataError(f'{what} folder {folder}: two files with one name: ' +
                           '; '.join(clashes))
    return stems


@DATASETS.register_module()
class COSDataset(BaseSegDataset):
    """A camouflaged-object test set stored as two folders, images and masks paired by name.

    The layouts people download::

        TestDataset/{CAMO,CHAMELEON,COD10K,NC4K}/Imgs/<name>.jpg   .../GT/<name>.png
        COD10K-v3/Test/Image/<name>.jpg          COD10K-v3/Test/GT_Object/<name>.png

    are ``data_prefix=dict(img_path='Imgs', seg_map_path='GT')`` and
    ``dict(img_path='Test/Image', seg_map_path='Test/GT_Object')`` with
    ``image_pattern=r'^COD10K-CAM-'`` (COD10K's release also has non-camouflaged images,
    without object masks, which the COS papers leave out). ``configs/_base_/datasets/cos_*.py``
    set them.

    These sets have no class labels, but BaCLIP needs a vocabulary to prompt SAM with: every
    sample carries ``vocabulary`` (default: OVCamo's 75 class names) and ``class_name``
    (``None``, or with ``class_from_name='cod10k'`` the class in COD10K's file name, for the
    open-vocabulary COD10K test; the vocabulary is then every class found, unless one is
    given). ``unique_id`` is the file stem. Masks are read as OVCamo's (``> 0`` is the object).

    Bad files are all collected while the dataset is built: an image without a mask, a mask
    without an image, a file that cannot be read, an ambiguous mask, an image whose size is not
    its mask's (unless ``allow_size_mismatch``), and, with ``class_from_name``, a name without
    a class. With ``on_bad_sample='error'`` (default) one :class:`COSDataError` names every
    one; with ``'skip'`` they are left out with one warning.

    Args:
        data_root (str): The set's folder, e.g. ``'data/TestDataset/NC4K'``.
        data_prefix (dict, optional): ``dict(img_path=..., seg_map_path=...)``, relative to
            ``data_root``. Defaults to ``dict(img_path='Imgs', seg_map_path='GT')``.
        image_pattern (str, optional): Regular expression an image file name must match
            (``re.search``) to be a sample. Defaults to None (every image).
        vocabulary (Sequence[str] | str, optional): Class names, or a text file with one a line.
            Defaults to OVCamo's 75 names (or, with ``class_from_name``, the classes found).
        class_from_name (str, optional): ``'cod10k'`` reads each sample's class from its file
            name. Defaults to None.
        allow_size_mismatch (bool): Let an image and its mask differ in size (the test pipeline
            then resizes the image to the mask). Defaults to False.
        on_bad_sample (str): ``'error'`` or ``'skip'``. Defaults to ``'error'``.
        verify_files (bool | str): As in :class:`OVCamoDataset`. Defaults to True.
        set_name (str, optional): Shown in reports and tables. Defaults to the folder's name.
        **kwargs: Other :class:`mmseg.datasets.BaseSegDataset` arguments (``pipeline``,
            ``test_mode``, ``serialize_data``, ``metainfo``...).
    """

    METAINFO = dict(classes=('background', 'camouflaged'), palette=[[0, 0, 0], [255, 255, 255]])

    def __init__(self,
                 data_root: str,
                 data_prefix: Optional[Dict[str, str]] = None,
                 image_pattern: Optional[str] = None,
                 vocabulary: Union[Sequence[str], str, None] = None,
                 class_from_name: Optional[str] = None,
                 allow_size_mismatch: bool = False,
                 on_bad_sample: str = 'error',
                 verify_files: Union[bool, str] = True,
                 set_name: Optional[str] = None,
                 metainfo: Optional[dict] = None,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 **kwargs) -> None:
        if on_bad_sample not in ('error', 'skip'):
            raise ValueError(f"on_bad_sample must be 'error' or 'skip', got {on_bad_sample!r}")
        if class_from_name not in (None, 'cod10k'):
            raise ValueError(f"class_from_name must be None or 'cod10k', got {class_from_name!r}")
        OVCamoDataset._refuse_stock_mask_loader(pipeline, 'test')
        self.set_name = set_name or osp.basename(osp.normpath(data_root))
        self.image_pattern = re.compile(image_pattern) if image_pattern else None
        self.class_from_name = class_from_name
        self.allow_size_mismatch = allow_size_mismatch
        self.on_bad_sample = on_bad_sample
        self.verify_files = normalize_verify_mode(verify_files)
        self.bad_samples: List[str] = []
        self._given_vocabulary = self._read_vocabulary(vocabulary)
        metainfo = copy.deepcopy(metainfo) if metainfo else {}
        metainfo['vocabulary'] = self._given_vocabulary or ()
        super().__init__(
            ann_file='',
            data_root=data_root,
            data_prefix=data_prefix or dict(img_path='Imgs', seg_map_path='GT'),
            metainfo=metainfo,
            pipeline=list(pipeline),
            **kwargs)
        self._metainfo['set_name'] = self.set_name

    @staticmethod
    def _read_vocabulary(vocabulary: Union[Sequence[str], str, None]
                         ) -> Optional[Tuple[str, ...]]:
        if vocabulary is None:
            return None
        if isinstance(vocabulary, str):
            from ..apis.vocabulary import read_vocabulary_file  # apis imports the datasets
            return tuple(read_vocabulary_file(vocabulary))
        return tuple(check_vocabulary(vocabulary))

    def _default_vocabulary(self, classes: Sequence[str]) -> Tuple[str, ...]:
        if self.class_from_name:
            return tuple(sorted(set(classes)))
        return OVCAMO_TRAIN_CLASSES + OVCAMO_TEST_CLASSES

    def load_data_list(self) -> List[dict]:
        """Pair the images and masks and check them.

        Returns:
            list[dict]: One dict per sample with ``img_path``, ``seg_map_path``, ``class_name``,
            ``unique_id``, ``vocabulary``, ``label_map``, ``reduce_zero_label`` and
            ``seg_fields``, sorted by file name.

        Raises:
            COSDataError: Bad samples (with ``on_bad_sample='error'``), a class outside the
                given vocabulary, or no sample at all.
        """
        img_dir = self.data_prefix.get('img_path', '')
        mask_dir = self.data_prefix.get('seg_map_path', '')
        images, masks = _stems(img_dir, 'image'), _stems(mask_dir, 'mask')
        if self.image_pattern is not None:
            images = {s: n for s, n in images.items() if self.image_pattern.search(n)}
            masks = {s: n for s, n in masks.items() if self.image_pattern.search(n)}
        bad = [f'mask {join_path(mask_dir, masks[s])}: no image {s}.* in {img_dir}'
               for s in sorted(set(masks) - set(images))]
        samples = []
        for stem in sorted(images):
            img_path = join_path(img_dir, images[stem])
            if stem not in masks:
                bad.append(f'image {img_path}: no mask {stem}.* in {mask_dir}')
                continue
            seg_map_path = join_path(mask_dir, masks[stem])
            problems = self._check_pair(img_path, seg_map_path)
            class_name = cod10k_class(stem) if self.class_from_name else None
            if self.class_from_name and class_name is None:
                problems.append(f'image {img_path}: the name does not follow COD10K\'s scheme '
                                'COD10K-CAM-<n>-<Super>-<n>-<Class>-<n>, so it has no class')
            if problems:
                bad.extend(problems)
                continue
            samples.append((stem, img_path, seg_map_path, class_name))
        self.bad_samples = bad
        if bad:
            self._report_bad_samples(bad)
        if not samples:
            raise COSDataError(f'{self.set_name} ({self.data_root}): no image with a mask in '
                               f'{img_dir} and {mask_dir}' +
                               (f' whose name matches {self.image_pattern.pattern!r}'
                                if self.image_pattern else ''))
        vocabulary = self._given_vocabulary or self._default_vocabulary(
            [c for _, _, _, c in samples if c is not None])
        unknown = sorted({c for *_, c in samples if c is not None and c not in vocabulary})
        if unknown:
            raise COSDataError(f'{self.set_name}: the classes {unknown} of the file names are '
                               f'not in the given vocabulary ({len(vocabulary)} names); add '
                               'them or leave vocabulary unset to use every class found')
        self._metainfo['vocabulary'] = vocabulary
        return [dict(img_path=img_path, seg_map_path=seg_map_path, class_name=class_name,
                     unique_id=stem, vocabulary=vocabulary, label_map=self.label_map,
                     reduce_zero_label=self.reduce_zero_label, seg_fields=[])
                for stem, img_path, seg_map_path, class_name in samples]

    def _check_pair(self, img_path: str, seg_map_path: str) -> List[str]:
        """Problems of one image and its mask (unreadable, ambiguous, sizes differ)."""
        image = inspect_image_file(img_path, self.verify_files, self.backend_args)
        mask = inspect_mask_file(seg_map_path, self.verify_files, self.backend_args)
        problems = [f'{kind} {path}: {check.problem}'
                    for kind, path, check in (('image', img_path, image),
                                              ('mask', seg_map_path, mask)) if check.problem]
        if (not problems and not self.allow_size_mismatch and image.size and mask.size
                and image.size != mask.size):
            problems.append(f'image {img_path} is {image.size[1]}x{image.size[0]} but its mask '
                            f'{seg_map_path} is {mask.size[1]}x{mask.size[0]} '
                            '(allow_size_mismatch=True scores the prediction at the mask size)')
        return problems

    def _report_bad_samples(self, bad: List[str]) -> None:
        where = (f'COSDataset {self.set_name} ({self.data_root}): {len(bad)} bad '
                 f'file{"s" if len(bad) > 1 else ""}')
        report_bad_samples(where, bad, self.on_bad_sample, COSDataError,
                           "Fix or remove these files, or build the dataset with "
                           "on_bad_sample='skip' to leave them out.")

    @property
    def vocabulary(self) -> Tuple[str, ...]:
        """tuple[str, ...]: The class names BaCLIP chooses from on this set."""
        return tuple(self._metainfo['vocabulary'])
