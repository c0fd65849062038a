"""Per-image evaluation records on disk, so that a second evaluation computes only what changed.

A record (see :mod:`.ovcos_summary`) holds a few scalars and three 256-value curves per image,
under ``measures`` and, for class-aware records evaluated class-agnostically too, ``agnostic``.
:func:`save_records` writes the records of one evaluation, each with a *stamp* saying which
files it was computed from, to one ``.npz`` file of plain arrays; :func:`load_records` reads
them back with ``allow_pickle=False`` (nothing in the file is executed). A file that cannot be
read is ignored with a warning: the images are then evaluated again.
"""
import os
import os.path as osp
import warnings
from typing import Dict, Optional, Tuple

import numpy as np

from .ovcos_measures import CURVE_KEYS, SCALAR_KEYS

__all__ = ['load_records', 'save_records']

FORMAT_VERSION = 1
_TEXT_FIELDS = ('name', 'pred_class', 'gt_class', 'gt_mask_class')


def _text(value: Optional[str]) -> str:
    return '' if value is None else str(value)


def save_records(path: str, records: Dict[str, Tuple[str, dict]]) -> None:
    """Write records with their stamps (atomically: a temporary file renamed into place).

    Args:
        path (str): The ``.npz`` file.
        records (dict[str, tuple[str, dict]]): ``{image name: (stamp, record)}``.
    """
    names = list(records)
    arrays = {'format': np.array(FORMAT_VERSION),
              'stamp': np.array([records[n][0] for n in names], dtype=str)}
    rows = [records[n][1] for n in names]
    for field in _TEXT_FIELDS:
        arrays[field] = np.array([_text(r.get(field)) for r in rows], dtype=str)
    for group in ('measures', 'agnostic'):
        present = np.array([r.get(group) is not None for r in rows], dtype=bool)
        arrays[f'{group}/present'] = present
        for key in SCALAR_KEYS:
            arrays[f'{group}/{key}'] = np.array(
                [r[group][key] if r.get(group) is not None else np.nan for r in rows],
                dtype=np.float64)
        for key in CURVE_KEYS:
            arrays[f'{group}/{key}'] = np.array(
                [r[group][key] if r.get(group) is not None else np.full(256, np.nan)
                 for r in rows], dtype=np.float64).reshape(len(rows), 256)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    temp = path + '.tmp.npz'
    np.savez(temp, **arrays)
    os.replace(temp, path)


def load_records(path: str) -> Dict[str, Tuple[str, dict]]:
    """Read what :func:`save_records` wrote; ``{}`` when the file is missing or unreadable.

    Args:
        path (str): The ``.npz`` file.

    Returns:
        dict[str, tuple[str, dict]]: ``{image name: (stamp, record)}``.
    """
    if not osp.isfile(path):
        return {}
    try:
        with np.load(path, allow_pickle=False) as data:
            if int(data['format']) != FORMAT_VERSION:
                return {}
            arrays = {key: data[key] for key in data.files}
    except Exception as error:  # noqa: BLE001 - any unreadable file is only a cache miss
        warnings.warn(f'{path}: the saved per-image results cannot be read ({error}); the '
                      'images are evaluated again')
        return {}
    records = {}
    for i, stamp in enumerate(arrays['stamp']):
        record = {field: (str(arrays[field][i]) or None) for field in _TEXT_FIELDS}
        for group in ('measures', 'agnostic'):
            if not arrays[f'{group}/present'][i]:
                record[group] = None
                continue
            values = {key: float(arrays[f'{group}/{key}'][i]) for key in SCALAR_KEYS}
            values.update({key: arrays[f'{group}/{key}'][i].copy() for key in CURVE_KEYS})
            record[group] = values
        records[record['name']] = (str(stamp), record)
    return records
