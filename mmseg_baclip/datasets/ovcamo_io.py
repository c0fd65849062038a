"""Reading and checking the files of the official OVCamo layout.

Shared by :class:`~mmseg_baclip.datasets.OVCamoDataset` (which checks its split at
construction) and ``tools/dataset_converters/check_ovcamo.py`` (which reports on a whole tree),
so both apply exactly the same rules. The files themselves are checked by
:mod:`~mmseg_baclip.datasets.ovcamo_files`.

Layout::

    <data_root>/
      train/image/<unique_id><ext(image)>     train/mask/<unique_id><ext(mask)>
      test/image/<unique_id><ext(image)>      test/mask/<unique_id><ext(mask)>
      jsonfile/class_info.json                [{"name": str, "split": "train"|"test"}, ...]
      jsonfile/sample_info.json               [{"unique_id", "base_class", "image", "mask"}, ...]

Only the extensions of a sample's ``image`` and ``mask`` fields are used. A sample's split is the
split of its ``base_class``.
"""
import json
import os.path as osp
import warnings
from typing import List, Optional, Sequence, Tuple, Type, Union

import mmengine.fileio as fileio

from ..utils.class_name_rules import class_name_problem, shown

SPLITS = ('train', 'test')
CLASS_INFO_KEYS = ('name', 'split')
SAMPLE_INFO_KEYS = ('unique_id', 'base_class', 'image', 'mask')
#: Accepted values of ``verify_files``: how deeply a file is checked.
VERIFY_MODES = ('none', 'header', 'decode')


class OVCamoDataError(ValueError):
    """Bad OVCamo annotation files or samples.

    Args:
        message (str): The full, human-readable report.
        problems (Sequence[str]): One line per problem (entry, sample or file), so that tools and
            tests can inspect them.
    """

    def __init__(self, message: str, problems: Sequence[str] = ()):
        super().__init__(message)
        self.problems = list(problems)


def normalize_verify_mode(verify: Union[bool, str]) -> str:
    """Map the ``verify_files`` argument to one of :data:`VERIFY_MODES`.

    Args:
        verify (bool | str): ``True`` = ``'header'`` (images: header, structure and end
            marker checked with PIL, no pixel decoding; masks: decoded and checked for
            ambiguous formats), ``False`` = ``'none'`` (existence only), or ``'decode'`` (every
            image decoded in full too; slow). See :mod:`~mmseg_baclip.datasets.ovcamo_files`.

    Returns:
        str: One of ``'none'``, ``'header'``, ``'decode'``.
    """
    if verify is True:
        return 'header'
    if verify is False or verify is None:
        return 'none'
    if verify not in VERIFY_MODES:
        raise ValueError(f'verify_files must be True, False or one of {VERIFY_MODES}, '
                         f'got {verify!r}')
    return verify


def _load_json_list(path: str, what: str, required_keys: Sequence[str], hint: str,
                    backend_args: Optional[dict] = None) -> List[dict]:
    """Load a JSON file that must hold a list of dicts with string values for ``required_keys``.

    Raises:
        FileNotFoundError: If the file does not exist.
        OVCamoDataError: If it is not valid JSON, not a list, or has malformed entries (all of
            them are listed).
    """
    if not fileio.exists(path, backend_args=backend_args):
        raise FileNotFoundError(f'OVCamo {what} not found: {path}. {hint}')
    try:
        data = json.loads(fileio.get_text(path, backend_args=backend_args).lstrip('\ufeff'))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise OVCamoDataError(f'OVCamo {what} {path} is not valid JSON ({e}). Re-download it '
                              'from the dataset release (dataset-v1.1).') from e
    if not isinstance(data, list):
        raise OVCamoDataError(f'OVCamo {what} {path} must hold a JSON list of objects, got a '
                              f'{type(data).__name__}.')
    problems = []
    for i, entry in enumerate(data):
        if not isinstance(entry, dict):
            problems.append(f'entry #{i}: expected an object, got {type(entry).__name__}')
            continue
        missing = [k for k in required_keys if k not in entry]
        wrong = [k for k in required_keys if k in entry and not isinstance(entry[k], str)]
        if missing:
            problems.append(f'entry #{i} {_short(entry)}: missing key(s) {missing}')
        if wrong:
            problems.append(f'entry #{i} {_short(entry)}: key(s) {wrong} must be strings')
    if problems:
        raise OVCamoDataError(
            f'OVCamo {what} {path} has {len(problems)} malformed entr'
            f'{"y" if len(problems) == 1 else "ies"} (each needs string keys '
            f'{list(required_keys)}):\n' + '\n'.join(f'  - {p}' for p in problems), problems)
    return data


def _short(entry: dict, limit: int = 80) -> str:
    text = json.dumps(entry, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit - 3] + '...'


def load_class_info(path: str, backend_args: Optional[dict] = None) -> List[dict]:
    """Read and validate ``class_info.json``.

    Args:
        path (str): Path of the file.
        backend_args (dict, optional): mmengine file backend arguments.

    Returns:
        list[dict]: The entries, each with string ``name`` and ``split`` in :data:`SPLITS`.

    Raises:
        FileNotFoundError: If the file is missing.
        OVCamoDataError: If the JSON is malformed, a split is not 'train'/'test', a name breaks
            the class-name rule (:mod:`mmseg_baclip.utils.class_name_rules`: printable, no path
            separator, at most 128 bytes) or is listed twice (letter case ignored).
    """
    data = _load_json_list(
        path, 'class_info.json', CLASS_INFO_KEYS,
        'Put the official file at <data_root>/jsonfile/class_info.json or pass '
        'class_info_file=<path> (relative paths are joined to data_root).', backend_args)
    problems, seen = [], {}
    for i, entry in enumerate(data):
        if entry['split'] not in SPLITS:
            problems.append(f'entry #{i} {_short(entry)}: split must be one of {SPLITS}')
        name_problem = class_name_problem(entry['name'])
        if name_problem is not None:
            problems.append(f'entry #{i}: the class name {shown(entry["name"])} {name_problem}')
            continue
        key = entry['name'].casefold()
        if key in seen:
            problems.append(f'entry #{i}: class {entry["name"]!r} already listed as entry '
                            f'#{seen[key]} (letter case is ignored)')
        seen.setdefault(key, i)
    if problems:
        raise OVCamoDataError(
            f'OVCamo class_info.json {path} is malformed:\n' +
            '\n'.join(f'  - {p}' for p in problems), problems)
    return data


def load_sample_info(path: str, backend_args: Optional[dict] = None) -> List[dict]:
    """Read and validate ``sample_info.json``.

    Args:
        path (str): Path of the file.
        backend_args (dict, optional): mmengine file backend arguments.

    Returns:
        list[dict]: The entries, each with string ``unique_id``, ``base_class``, ``image`` and
        ``mask``; ``image`` and ``mask`` have a file extension.

    Raises:
        FileNotFoundError: If the file is missing.
        OVCamoDataError: If the JSON or an entry is malformed (all bad entries are listed).
    """
    data = _load_json_list(
        path, 'sample_info.json', SAMPLE_INFO_KEYS,
        'Put the official file at <data_root>/jsonfile/sample_info.json or pass '
        'sample_info_file=<path> (relative paths are joined to data_root).', backend_args)
    problems = []
    for i, entry in enumerate(data):
        for key in ('image', 'mask'):
            if not osp.splitext(entry[key])[1]:
                problems.append(f'entry #{i} {_short(entry)}: {key!r} has no file extension '
                                '(only its extension is used, e.g. ".jpg" / ".png")')
        if not entry['unique_id'] or '/' in entry['unique_id']:
            problems.append(f'entry #{i} {_short(entry)}: unique_id must be a non-empty file '
                            'stem without "/"')
    if problems:
        raise OVCamoDataError(
            f'OVCamo sample_info.json {path} has {len(problems)} malformed entr'
            f'{"y" if len(problems) == 1 else "ies"}:\n' +
            '\n'.join(f'  - {p}' for p in problems), problems)
    return data


def split_vocabulary(class_info: Sequence[dict], split: str) -> Tuple[str, ...]:
    """The class names of one split, in ``class_info.json`` order.

    Args:
        class_info (Sequence[dict]): Entries from :func:`load_class_info`.
        split (str): ``'train'`` or ``'test'``.

    Returns:
        tuple[str, ...]: The names (14 for train and 61 for test in OVCamo).
    """
    return tuple(c['name'] for c in class_info if c['split'] == split)


def sample_paths(entry: dict, img_dir: str, mask_dir: str) -> Tuple[str, str]:
    """The image and mask paths of a ``sample_info.json`` entry.

    ``<img_dir>/<unique_id><ext(image)>`` and ``<mask_dir>/<unique_id><ext(mask)>``, as OVCoser
    builds them.

    Args:
        entry (dict): A validated ``sample_info.json`` entry.
        img_dir (str): Image folder of the entry's split.
        mask_dir (str): Mask folder of the entry's split.

    Returns:
        tuple[str, str]: ``(img_path, mask_path)``.
    """
    uid = entry['unique_id']
    return (osp.join(img_dir, uid + osp.splitext(entry['image'])[1]),
            osp.join(mask_dir, uid + osp.splitext(entry['mask'])[1]))


def unknown_class_problem(index: int, entry: dict, class_info_path: str) -> str:
    """The report line for a sample whose class is not in ``class_info.json``."""
    return (f'{entry["unique_id"]!r}: class {entry["base_class"]!r} (sample_info.json entry '
            f'#{index}) is not in {class_info_path}; fix its base_class or add the class there')



def leak_problem(index: int, other_index: int, split: str) -> str:
    """The report line part for a ``unique_id`` used in both splits (a train/test leak)."""
    other = 'test' if split == 'train' else 'train'
    return (f'unique_id also used by the {other} sample of sample_info.json entry '
            f'#{other_index} (entry #{index}): the same sample in train and test is a '
            'train/test leak; remove or rename one of them')


def report_bad_samples(where: str, bad: Sequence[str], on_bad_sample: str,
                       error_type: Type[OVCamoDataError], fix: str) -> None:
    """Report a data set's bad samples at once: one warning (``'skip'``) or one error.

    Args:
        where (str): The data set and the count, e.g. ``"OVCamoDataset(...): 3 bad samples"``.
        bad (Sequence[str]): One line per bad sample or file.
        on_bad_sample (str): ``'skip'`` warns; ``'error'`` raises.
        error_type (type): The error raised, an :class:`OVCamoDataError` subclass.
        fix (str): What to do about them, ending the error message.

    Raises:
        OVCamoDataError: With ``on_bad_sample='error'``; ``problems`` holds ``bad``.
    """
    lines = '\n'.join(f'  - {b}' for b in bad)
    if on_bad_sample == 'skip':
        warnings.warn(f'{where} skipped (on_bad_sample="skip"):\n{lines}')
        return
    raise error_type(f'{where}:\n{lines}\n{fix}', bad)
