"""Checking the image and mask files of OVCamo samples (shared by the dataset and the checker).

How deeply a file is read is the ``verify`` mode (:func:`~.ovcamo_io.normalize_verify_mode`):

- ``'none'``: the file exists.
- ``'header'`` (the default): images are opened with PIL and their structure verified without
  decoding pixels (PNG chunk CRCs up to ``IEND``; for JPEG, the end-of-image marker after the
  last scan, so a truncated JPEG is caught). Masks are decoded in full and checked for
  ambiguous formats (:func:`~.ovcamo_masks.read_mask`; masks are small and lossless).
- ``'decode'``: images are decoded in full too, by PIL (catches any truncation) and by OpenCV
  (the loader's decoder).

Sizes are given with the EXIF orientation applied, since both loaders apply it. An image and a
mask whose EXIF orientations differ are reported unless their sizes show how they line up.
"""
import io
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

import cv2
import mmengine.fileio as fileio
import numpy as np
from PIL import Image

from .ovcamo_io import normalize_verify_mode, sample_paths
from .ovcamo_masks import exif_orientation, read_mask

_SWAPPING = (5, 6, 7, 8)  # EXIF orientations that exchange height and width
_JPEG_SOS, _JPEG_EOI = b'\xff\xda', b'\xff\xd9'


class FileCheck(NamedTuple):
    """What reading one file found.

    Attributes:
        problem (str | None): Why the file cannot be used, or None.
        size (tuple[int, int] | None): ``(height, width)`` with the EXIF orientation applied;
            None when not read.
        orientation (int): EXIF orientation (1 when none or not read).
    """
    problem: Optional[str]
    size: Optional[Tuple[int, int]] = None
    orientation: int = 1


def _oriented(width: int, height: int, orientation: int) -> Tuple[int, int]:
    return (width, height) if orientation in _SWAPPING else (height, width)


def jpeg_is_truncated(data: bytes) -> bool:
    """True when a JPEG has no end-of-image marker after its last start-of-scan marker.

    Entropy-coded data never holds ``FF DA`` or ``FF D9`` (0xFF bytes are stuffed), and an EXIF
    thumbnail ends before the main image's scans, so a complete file always passes.
    """
    sos = data.rfind(_JPEG_SOS)
    return sos < 0 or data.rfind(_JPEG_EOI) < sos


def _read_bytes(path: str, backend_args: Optional[dict]) -> bytes:
    return fileio.get(path, backend_args=backend_args)


def _existence_only(path: str, mode: str, backend_args: Optional[dict]) -> Optional[FileCheck]:
    """The result when no decoding is needed: a missing file, or ``mode == 'none'``; else None."""
    if not fileio.exists(path, backend_args=backend_args):
        return FileCheck('file not found')
    return FileCheck(None) if mode == 'none' else None


def inspect_image_file(path: str, verify: Union[bool, str] = True,
                       backend_args: Optional[dict] = None) -> FileCheck:
    """Check that an image exists and can be read; get its (oriented) size.

    Args:
        path (str): The file.
        verify (bool | str): See the module docstring.
        backend_args (dict, optional): mmengine file backend arguments.

    Returns:
        FileCheck: ``problem`` is ``'file not found'``, ``'cannot be read (...)'`` or None.
    """
    mode = normalize_verify_mode(verify)
    unchecked = _existence_only(path, mode, backend_args)
    if unchecked is not None:
        return unchecked
    try:
        data = _read_bytes(path, backend_args)
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            img_format = img.format
            img.verify()  # structure and chunk CRCs, without decoding pixels
        with Image.open(io.BytesIO(data)) as img:  # verify() leaves the image unusable
            orientation = exif_orientation(img)
        if img_format in ('JPEG', 'MPO') and jpeg_is_truncated(data):
            return FileCheck('cannot be read (truncated JPEG: no end-of-image marker after the '
                             'image data)')
        size = _oriented(width, height, orientation)
        if mode == 'decode':
            with Image.open(io.BytesIO(data)) as img:
                img.load()  # raises on any truncation
            arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            if arr is None:
                return FileCheck('cannot be read (OpenCV could not decode it: corrupt or '
                                 'truncated)')
            size = tuple(arr.shape[:2])
        return FileCheck(None, size, orientation)
    except Exception as e:  # noqa: BLE001 - any decoder error means "unreadable"; we report it
        return FileCheck(f'cannot be read ({type(e).__name__}: {e})')


def inspect_mask_file(path: str, verify: Union[bool, str] = True,
                      backend_args: Optional[dict] = None) -> FileCheck:
    """Check that a mask exists, decodes, and is not ambiguous; get its (oriented) size.

    Args:
        path (str): The file.
        verify (bool | str): ``'none'`` only checks existence; otherwise the mask is decoded
            and checked by :func:`~.ovcamo_masks.read_mask`.
        backend_args (dict, optional): mmengine file backend arguments.

    Returns:
        FileCheck: ``problem`` is ``'file not found'``, ``'cannot be read (...)'``,
        ``'ambiguous: ...'`` or None.
    """
    unchecked = _existence_only(path, normalize_verify_mode(verify), backend_args)
    if unchecked is not None:
        return unchecked
    try:
        reading = read_mask(_read_bytes(path, backend_args))
    except Exception as e:  # noqa: BLE001 - any decoder error means "unreadable"; we report it
        return FileCheck(f'cannot be read ({e})')
    problem = f'ambiguous: {reading.problem}' if reading.problem else None
    return FileCheck(problem, tuple(reading.mask.shape), reading.orientation)


def orientation_problem(image: FileCheck, mask: FileCheck) -> Optional[str]:
    """Why an image and its mask may not line up once their EXIF orientations are applied.

    Args:
        image (FileCheck): The image's check.
        mask (FileCheck): The mask's check.

    Returns:
        str | None: The problem, or None when the orientations agree or the sizes show that
        the mask was drawn on the image as displayed.
    """
    a, b = image.orientation, mask.orientation
    if a == b or image.size is None or mask.size is None:
        return None
    swapped = (a in _SWAPPING) != (b in _SWAPPING)
    if swapped and image.size[0] != image.size[1]:
        if image.size == mask.size:
            return None  # the mask fits the image as displayed (its orientation applied)
        if image.size[::-1] != mask.size:
            return None  # a plain size mismatch, reported as such
        return (f'the mask ({mask.size[0]}x{mask.size[1]}, EXIF orientation {b}) fits the '
                f"image's stored pixels, not the image as displayed (EXIF orientation {a}, "
                f'{image.size[0]}x{image.size[1]}); rotate the mask or strip the image\'s '
                'orientation tag')
    return (f'the image has EXIF orientation {a} and the mask {b}: both are decoded with their '
            'orientation applied, so they may not line up; give them the same orientation '
            'tag (or none)')


@dataclass
class SampleCheck:
    """The result of checking one ``sample_info.json`` entry's files.

    Attributes:
        unique_id (str): The sample's ``unique_id``.
        class_name (str): Its ``base_class``.
        img_path (str): Path of its image.
        seg_map_path (str): Path of its mask.
        problems (list[str]): ``'<image|mask> <path>: <problem>'`` lines; empty when fine.
        img_size (tuple[int, int] | None): Image (height, width), when read.
        mask_size (tuple[int, int] | None): Mask (height, width), when read.
    """
    unique_id: str
    class_name: str
    img_path: str
    seg_map_path: str
    problems: List[str] = field(default_factory=list)
    img_size: Optional[Tuple[int, int]] = None
    mask_size: Optional[Tuple[int, int]] = None

    @property
    def size_mismatch(self) -> bool:
        """True when both sizes are known and differ."""
        return (self.img_size is not None and self.mask_size is not None
                and self.img_size != self.mask_size)


def check_sample(entry: dict, img_dir: str, mask_dir: str, verify: Union[bool, str] = True,
                 backend_args: Optional[dict] = None) -> SampleCheck:
    """Check the image and mask files of one sample.

    Args:
        entry (dict): A validated ``sample_info.json`` entry.
        img_dir (str): Image folder of the entry's split.
        mask_dir (str): Mask folder of the entry's split.
        verify (bool | str): See the module docstring.
        backend_args (dict, optional): mmengine file backend arguments.

    Returns:
        SampleCheck: Paths, problems and sizes.
    """
    img_path, mask_path = sample_paths(entry, img_dir, mask_dir)
    result = SampleCheck(entry['unique_id'], entry['base_class'], img_path, mask_path)
    image = inspect_image_file(img_path, verify, backend_args)
    mask = inspect_mask_file(mask_path, verify, backend_args)
    for kind, path, check in (('image', img_path, image), ('mask', mask_path, mask)):
        if check.problem:
            result.problems.append(f'{kind} {path}: {check.problem}')
    result.img_size, result.mask_size = image.size, mask.size
    orientation = orientation_problem(image, mask)
    if orientation:
        result.problems.append(f'image {img_path} and mask {mask_path}: {orientation}')
    return result


def check_samples(jobs: Sequence[Tuple[dict, str, str]], verify: Union[bool, str] = True,
                  backend_args: Optional[dict] = None,
                  workers: Optional[int] = None) -> List[SampleCheck]:
    """:func:`check_sample` for many samples, in threads (decoders release the GIL).

    Args:
        jobs (Sequence[tuple]): ``(entry, img_dir, mask_dir)`` per sample.
        verify (bool | str): See the module docstring.
        backend_args (dict, optional): mmengine file backend arguments.
        workers (int, optional): Threads; default ``min(8, cpu count)``. 1 runs in this thread.

    Returns:
        list[SampleCheck]: One per job, in the same order.
    """
    mode = normalize_verify_mode(verify)
    workers = workers or min(8, os.cpu_count() or 1)

    def run(job):
        return check_sample(*job, mode, backend_args)

    if mode == 'none' or workers <= 1 or len(jobs) < 2:
        return [run(job) for job in jobs]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(run, jobs))


def describe_sample(check: SampleCheck) -> str:
    """One report line for a bad sample: ``'<unique_id>' (<class>): <problems>``."""
    return f'{check.unique_id!r} ({check.class_name}): ' + '; '.join(check.problems)
