"""Image loading for OVCamo: always a 3-channel uint8 BGR image, or an error naming the file."""
import os.path as osp
from typing import Optional

import cv2
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmseg.registry import TRANSFORMS

from ...utils.image_limits import check_image_header


def to_bgr_uint8(img: np.ndarray) -> np.ndarray:
    """Convert a decoded image to 3-channel uint8 BGR.

    Args:
        img (np.ndarray): ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` BGR or ``(H, W, 4)`` BGRA, of
            dtype uint8, uint16 (scaled by 255/65535) or float in [0, 1].

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 BGR. Alpha is dropped, as ``cv2.imread(IMREAD_COLOR)``
        (which OVCoser uses) does.
    """
    if img.dtype == np.uint16:
        img = np.round(img.astype(np.float32) * (255.0 / 65535.0)).astype(np.uint8)
    elif img.dtype != np.uint8:
        scale = 255.0 if np.issubdtype(img.dtype, np.floating) else 1.0
        img = np.clip(np.round(img.astype(np.float32) * scale), 0, 255).astype(np.uint8)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    if img.shape[2] == 2:  # gray + alpha
        return cv2.cvtColor(np.ascontiguousarray(img[..., 0]), cv2.COLOR_GRAY2BGR)
    return img


@TRANSFORMS.register_module()
class LoadOVCamoImage(LoadImageFromFile):
    """Load an image as 3-channel uint8 BGR, whatever its stored format.

    mmcv's :class:`~mmcv.transforms.LoadImageFromFile` with ``color_type='color'``, plus:

    - grayscale, gray+alpha, RGBA, palette and 16-bit files all give ``(H, W, 3)`` uint8 BGR
      (alpha dropped; 16-bit scaled to 8 bits), whichever decoding backend is used;
    - a missing or undecodable file raises an error naming the file and what to do (mmcv raises
      a bare ``AssertionError``), unless ``ignore_empty=True`` (then the sample is skipped and
      the dataset fetches another one in training);
    - an image whose header declares more pixels than the project's limit (120 MP; raise it with
      ``BACLIP_MAX_IMAGE_PIXELS``, see :mod:`mmseg_baclip.utils.image_limits`) is refused before
      it is decoded, naming the file, even with ``ignore_empty=True``; a file with several
      frames (animated GIF/WebP) gives its first frame, with a warning.

    Required keys: ``img_path``. Added keys: ``img``, ``img_shape``, ``ori_shape``.

    Args:
        to_float32 (bool): Return float32 instead of uint8. Defaults to False.
        imdecode_backend (str): ``'cv2'`` (default, as OVCoser) or ``'pillow'``.
        ignore_empty (bool): Return None instead of raising for a missing or unreadable file.
            Defaults to False.
        backend_args (dict, optional): mmengine file backend arguments.
    """

    def __init__(self,
                 to_float32: bool = False,
                 imdecode_backend: str = 'cv2',
                 ignore_empty: bool = False,
                 *,
                 backend_args: Optional[dict] = None) -> None:
        super().__init__(
            to_float32=False,
            color_type='color',
            imdecode_backend=imdecode_backend,
            ignore_empty=ignore_empty,
            backend_args=backend_args)
        self.to_float32_output = to_float32

    def transform(self, results: dict) -> Optional[dict]:
        """Load ``results['img_path']``.

        Args:
            results (dict): Must hold ``img_path``.

        Returns:
            dict | None: ``results`` with ``img`` ``(H, W, 3)`` and its shapes, or None when the
            file cannot be read and ``ignore_empty`` is True.

        Raises:
            FileNotFoundError: The file does not exist.
            ImageTooLargeError: The header declares more pixels than the limit.
            ValueError: The file exists but cannot be decoded.
        """
        filename = results['img_path']
        self._check_header(filename)
        try:
            loaded = super().transform(results)
        except FileNotFoundError as e:
            if self.ignore_empty:
                return None
            raise self.missing_file_error(filename) from e
        except Exception as e:  # noqa: BLE001 - decoder errors vary by backend; we re-raise
            if self.ignore_empty:
                return None
            raise self.undecodable_file_error(filename, e) from e
        if loaded is None:
            return None
        img = to_bgr_uint8(loaded['img'])
        if self.to_float32_output:
            img = img.astype(np.float32)
        loaded['img'] = img
        return loaded

    def missing_file_error(self, filename: str) -> Exception:
        """The error for an image file that does not exist: a dataset sample's, so it says
        which settings and files to check."""
        return FileNotFoundError(f'Image not found: {filename}. Check data_root / data_prefix, or '
                                 'remove the sample from sample_info.json.')

    def undecodable_file_error(self, filename: str, error: Exception) -> Exception:
        """The error for an image file that exists but cannot be decoded: a dataset sample's,
        so it says how to find and replace the damaged files of the tree."""
        return ValueError(
            f'Cannot decode image {filename} ({type(error).__name__}: {error}). The file is '
            'corrupt or truncated: re-download it or remove the sample (run '
            'tools/dataset_converters/check_ovcamo.py to find all such files).')

    def _check_header(self, filename: str) -> None:
        """The pixel limit and the frame warning, from the header (no pixel decoded). A file
        that cannot be reached is left to the loader, which reports it."""
        try:
            if self.backend_args is None and osp.isfile(filename):
                source = filename  # PIL reads only the header of a local file
            else:
                source = fileio.get(filename, backend_args=self.backend_args)
        except Exception:  # noqa: BLE001 - missing or unreachable: the loader says so below
            return
        check_image_header(source, filename)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(to_float32={self.to_float32_output}, '
                f"imdecode_backend='{self.imdecode_backend}', ignore_empty={self.ignore_empty}, "
                f'backend_args={self.backend_args})')
