"""The first step of the inference pipeline: an image path or an array to a results dict."""
import os.path as osp
from typing import Sequence, Union

import numpy as np

from ..datasets.transforms.load_ovcamo_image import LoadOVCamoImage, to_bgr_uint8

InputType = Union[str, np.ndarray]
InputsType = Union[InputType, Sequence[InputType]]


def unreadable_file_reason(path: str) -> str:
    """What is wrong with a file that exists but was not decoded as an image.

    Args:
        path (str): The file.

    Returns:
        str: ``'a folder, not an image file'``, ``'the file is empty (0 bytes)'`` or
        ``'cannot be decoded as an image (N bytes): ...'``.
    """
    if osp.isdir(path):
        return 'a folder, not an image file'
    size = osp.getsize(path) if osp.isfile(path) else None
    if size == 0:
        return 'the file is empty (0 bytes)'
    return (f'cannot be decoded as an image{f" ({size:,} bytes)" if size else ""}: the file is '
            'damaged or truncated, or not a picture (JPEG, PNG, BMP, TIFF and WebP are read)')


class _UserImageLoader(LoadOVCamoImage):
    """:class:`LoadOVCamoImage` for a user's own files: an error names the file and says what is
    wrong with it, with none of the dataset's advice (``sample_info.json``, ``check_ovcamo``)."""

    def missing_file_error(self, filename: str) -> Exception:
        return FileNotFoundError(f'{filename}: no such file')

    def undecodable_file_error(self, filename: str, error: Exception) -> Exception:
        return ValueError(f'{filename}: {unreadable_file_reason(filename)}')


class OVCOSInferenceLoader:
    """First step of the inference pipeline: an image path or an array to a results dict.

    Paths are read as :class:`~mmseg_baclip.datasets.LoadOVCamoImage` reads them (gray, RGBA,
    palette and 16-bit files all give 3-channel uint8 BGR); a missing or undecodable file raises
    an error that starts with its path and says what is wrong with it
    (``photo.jpg: the file is empty (0 bytes)``). Arrays are taken as BGR, OpenCV's order, like
    mmseg's inferencer, and converted the same way.

    Args:
        **loader_kwargs: ``LoadOVCamoImage`` arguments (``imdecode_backend``,
            ``backend_args``) from the config's test pipeline.
    """

    def __init__(self, **loader_kwargs) -> None:
        loader_kwargs.pop('ignore_empty', None)
        self.from_file = _UserImageLoader(**loader_kwargs)

    def __call__(self, single_input: InputType) -> dict:
        """Load one input.

        Args:
            single_input (str | np.ndarray): A path, or an image array (H, W), (H, W, 1),
                (H, W, 3) BGR or (H, W, 4) BGRA, uint8, uint16 or float in [0, 1].

        Returns:
            dict: ``img`` (H, W, 3) uint8 BGR, ``img_path``, ``img_shape`` and ``ori_shape``.
        """
        if isinstance(single_input, str):
            return self.from_file(dict(img_path=single_input))
        if isinstance(single_input, np.ndarray):
            if single_input.ndim not in (2, 3) or single_input.size == 0 or (
                    single_input.ndim == 3 and single_input.shape[2] not in (1, 2, 3, 4)):
                raise ValueError(f'an input array must be an image of shape (H, W) or '
                                 f'(H, W, C) with C in 1-4, got {single_input.shape}')
            img = to_bgr_uint8(single_input)
            return dict(img=img, img_path=None, img_shape=img.shape[:2],
                        ori_shape=img.shape[:2])
        raise TypeError(f'inputs must be image paths or numpy arrays, got '
                        f'{type(single_input).__name__}')
