"""Reading ``[<class>]<mask file name>`` prediction files and their GT masks, or saying why not.

* Names: OVC's ``evaluate.py`` splits a name at its first ``]`` (``^\\[(.*?)\\](.*?)$``), so a
  class name that holds ``]`` (which ``OVCOSMetric(output_dir=...)`` writes as it is) would be
  cut short. :func:`parse_prediction_name` takes the official split when its mask name is a test
  sample, and otherwise the one later ``]`` whose remainder is a test sample's mask name.
* Predictions are read as the official tool reads them, 8-bit grayscale (``cv2.IMREAD_GRAYSCALE``).
  Files that this reading would silently empty are refused with the file named: 16-bit images
  (the 8-bit reading keeps only the top 8 bits) and images with a non-opaque alpha channel (the
  reading drops alpha, so a map drawn in alpha scores as empty).
* GT masks are read like the dataset reads them (:func:`~mmseg_baclip.datasets.ovcamo_masks.
  read_mask`: grayscale ``> 0``), and ambiguous masks are refused the same way.
"""
import os.path as osp
from typing import Collection, Optional, Tuple

import cv2
import numpy as np

from ..datasets.ovcamo_masks import read_mask
from ..utils.class_name_rules import check_class_name
from ..utils.output_paths import path_inside

#: Longest file name, in bytes, on common file systems (ext4, APFS, NTFS in UTF-16 units).
MAX_FILE_NAME_BYTES = 255


class PredictionNameError(ValueError):
    """A prediction file whose name does not parse, is unknown, or duplicates another."""


class PredictionFileError(ValueError):
    """A prediction or GT file that cannot be read, or whose reading would be silently wrong."""


def prediction_path(output_dir: str, pred_class: str, mask_name: str) -> str:
    """Where ``OVCOSMetric`` writes a prediction: ``<output_dir>/[<pred_class>]<mask_name>``.

    The class name is checked against the class-name rule (no path separator, printable, at
    most 128 bytes) and the mask name must be a bare file name, so the path never leaves
    ``output_dir`` (also checked with symlinks resolved).

    Args:
        output_dir (str): The prediction folder.
        pred_class (str): The predicted class name.
        mask_name (str): The GT mask's file name.

    Returns:
        str: The file path.

    Raises:
        ValueError: The class or mask name would not give one file inside ``output_dir``.
    """
    check_class_name(pred_class, f'prediction of {mask_name!r}: the predicted class')
    file_name = f'[{pred_class}]{mask_name}'
    if not mask_name or osp.basename(mask_name) != mask_name or mask_name in ('.', '..') or (
            '\\' in mask_name):
        raise ValueError(f'prediction of {mask_name!r}: the mask name is not a bare file name')
    if len(file_name.encode('utf-8')) > MAX_FILE_NAME_BYTES:
        raise ValueError(f'prediction of {mask_name!r}: the file name {file_name!r} is longer '
                         f'than {MAX_FILE_NAME_BYTES} bytes')
    path = osp.join(output_dir, file_name)
    if not path_inside(output_dir, path):
        raise ValueError(f'prediction of {mask_name!r}: {path} resolves outside {output_dir} '
                         '(a symbolic link?)')
    return path


def parse_prediction_name(file_name: str, known: Collection[str]) -> Optional[Tuple[str, str]]:
    """Split ``[<class>]<mask file name>`` into (class, mask file name).

    Args:
        file_name (str): The prediction's file name.
        known (Collection[str]): The test samples' mask file names.

    Returns:
        tuple[str, str] | None: ``(pred_class, mask_name)``: the official split (at the first
        ``]``) when its mask name is known, else the only later split whose mask name is known,
        else the official split. None when the name does not start with ``[`` and hold a ``]``.

    Raises:
        PredictionNameError: Two or more splits give known mask names (ambiguous).
    """
    if not file_name.startswith('['):
        return None
    cuts = [i for i, char in enumerate(file_name) if char == ']']
    if not cuts:
        return None
    splits = [(file_name[1:i], file_name[i + 1:]) for i in cuts]
    if splits[0][1] in known:
        return splits[0]
    matches = [split for split in splits[1:] if split[1] in known]
    if len(matches) > 1:
        raise PredictionNameError(
            f'{file_name}: ambiguous name, several test samples fit: '
            + ', '.join(f'class {c!r} + mask {n!r}' for c, n in matches))
    return matches[0] if matches else splits[0]


def read_prediction(path: str) -> np.ndarray:
    """Read a prediction as the official tool does: 8-bit grayscale.

    Args:
        path (str): The image file.

    Returns:
        np.ndarray: ``(H, W)`` uint8.

    Raises:
        PredictionFileError: The file cannot be decoded, is 16-bit, or has a non-opaque alpha
            channel.
    """
    raw = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    gray = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if raw is None or gray is None:
        raise PredictionFileError(f'{path}: the prediction cannot be read (corrupt, truncated or '
                                  'not an image); write it again')
    if raw.dtype != np.uint8:
        raise PredictionFileError(
            f'{path}: the prediction is {raw.dtype} ({raw.dtype.itemsize * 8}-bit); the official '
            'evaluate.py reads 8 bits only (values above 255 truncated, below 256 lost), so it '
            'would score as (nearly) empty. Save it as 8-bit grayscale, 0-255.')
    if raw.ndim == 3 and raw.shape[2] in (2, 4) and raw[..., -1].min() < 255:
        raise PredictionFileError(
            f'{path}: the prediction has an alpha channel that is not opaque; the official '
            'evaluate.py drops alpha, so a map drawn in alpha scores as empty. Save it as 8-bit '
            'grayscale, 0-255.')
    return gray


def read_gt_mask(path: str) -> np.ndarray:
    """Read a GT mask as the dataset does (grayscale ``> 0``), as uint8 {0, 255}.

    Args:
        path (str): The mask file.

    Returns:
        np.ndarray: ``(H, W)`` uint8 in {0, 255}.

    Raises:
        PredictionFileError: The file is missing, cannot be decoded, or is ambiguous (docs/data.md,
            "Mask formats").
    """
    try:
        with open(path, 'rb') as f:
            reading = read_mask(f.read())
    except FileNotFoundError:
        raise PredictionFileError(f'{path}: the GT mask does not exist') from None
    except ValueError as error:
        raise PredictionFileError(f'{path}: the GT mask cannot be read ({error})') from None
    if reading.problem:
        raise PredictionFileError(f'{path}: the GT mask is ambiguous: {reading.problem}')
    return reading.mask * np.uint8(255)
