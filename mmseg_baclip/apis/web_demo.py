"""The logic of the web demo (``tools/web_demo.py``), kept free of any web library.

The page only calls :meth:`WebDemo.segment`; everything that decides what the page shows lives
here, so it is tested without a browser: the vocabulary typed in the page, the checks and the
resizing of an uploaded image, the result as text / bar-chart rows / a mask PNG, and the lock
that answers a second request, sent while one is running, with a message instead of queueing it.
Bad input never raises out of :meth:`WebDemo.segment`: it comes back as
:attr:`DemoResult.message` with ``ok=False``.
"""
import html
import os
import os.path as osp
import re
import tempfile
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from ..utils.image_files import IMAGE_EXTENSIONS
from ..utils.image_limits import ImageTooLargeError, check_image_header, max_image_pixels
from ..visualization.overlay import save_rgb
from .vocabulary import parse_vocabulary_text

#: Longest image side the demo segments; larger images are resized (the page says so).
DEFAULT_MAX_SIDE = 2048
#: Most class names one request may give (each name is encoded by the CLIP text tower).
DEFAULT_MAX_CLASSES = 300
#: Mask files kept on disk for download; older ones are deleted.
KEEP_MASK_FILES = 20


class DemoInputError(ValueError):
    """Input the page rejects; the message is shown to the user as it is."""


@dataclass
class DemoResult:
    """What the page shows for one request.

    Attributes:
        ok (bool): The image was segmented.
        message (str): Shown above the results: the error, or notes (resizing, vocabulary).
        busy (bool): The request was refused because another one was running; the page keeps
            what it showed before.
        overlay (np.ndarray, optional): H x W x 3 RGB uint8: tinted region, contour, class and
            score drawn over the (possibly resized) image.
        label (str): ``"<class> (<score>)"``.
        top5 (list): ``[(class, probability), ...]``, best first, at most 5.
        mask_path (str, optional): The mask PNG (0/255, at the segmented image's size).
        size (tuple, optional): ``(width, height)`` of the segmented image.
    """
    ok: bool
    message: str = ''
    busy: bool = False
    overlay: Optional[np.ndarray] = None
    label: str = ''
    top5: List[Tuple[str, float]] = field(default_factory=list)
    mask_path: Optional[str] = None
    size: Optional[Tuple[int, int]] = None


def parse_demo_vocabulary(text: Optional[str],
                          max_classes: int = DEFAULT_MAX_CLASSES) -> Tuple[str, ...]:
    """Class names typed in the page, read by the project's one vocabulary parser
    (:func:`~mmseg_baclip.apis.vocabulary.parse_vocabulary_text`: comma separated, new lines
    count as commas, spaces normalised, the class-name rule, letter case ignored for repeats).

    Args:
        text (str, optional): The text box's content.
        max_classes (int): The most names accepted.

    Returns:
        tuple[str, ...]: The names, in the order typed.

    Raises:
        DemoInputError: No name, an invalid or repeated name, or more than ``max_classes``.
    """
    try:
        return parse_vocabulary_text(text, 'The vocabulary', max_classes=max_classes)
    except ValueError as error:
        raise DemoInputError(str(error)) from None


def message_markdown(message: str) -> str:
    """A message as Markdown that shows every character as typed: Markdown syntax and HTML in
    a class name or a file name are escaped, so they render as text, never as elements."""
    return html.escape(re.sub(r'([\\`*_{}\[\]()#+\-.!|~])', r'\\\1', message), quote=True)


def format_vocabulary(names: Sequence[str]) -> str:
    """The text-box form of a vocabulary: ``"owl, moth, frog"``."""
    return ', '.join(names)


def resize_to_max_side(image: np.ndarray, max_side: int) -> Tuple[np.ndarray, str]:
    """Shrink ``image`` so that its longest side is ``max_side``; say so when it did.

    Args:
        image (np.ndarray): H x W x C uint8.
        max_side (int): The longest side allowed, in pixels.

    Returns:
        tuple: The image (unchanged if small enough) and a note ('' when not resized).
    """
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return image, ''
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
    note = (f'The image ({width} x {height}) was resized to {new_w} x {new_h} (longest side '
            f'{max_side} px) for the demo; the overlay and the mask PNG have that size.')
    return resized, note


def list_test_images(cfg: Any) -> List[str]:
    """The image files of the config's test dataset, if its folder exists here.

    The folder is ``data_root / data_prefix['img_path']`` of ``cfg.test_dataloader.dataset``
    (for ``OVCamoDataset`` without a ``data_prefix``: ``<split>/image``), relative to the
    working directory like the tools' paths.

    Args:
        cfg (Config): A full config.

    Returns:
        list[str]: Sorted paths; empty when the config has no such folder.
    """
    dataset = (cfg.get('test_dataloader') or {}).get('dataset') or {}
    prefix = dataset.get('data_prefix') or {}
    img_dir = prefix.get('img_path')
    if img_dir is None and dataset.get('type') == 'OVCamoDataset':
        img_dir = f'{dataset.get("split", "train")}/image'
    if img_dir is None:
        return []
    folder = osp.join(dataset.get('data_root') or '', img_dir)
    if not osp.isdir(folder):
        return []
    return [osp.join(folder, name) for name in sorted(os.listdir(folder))
            if name.lower().endswith(IMAGE_EXTENSIONS) and osp.isfile(osp.join(folder, name))]


class WebDemo:
    """One model behind the page: checks the input, runs :class:`OVCOSInferencer`, formats.

    Args:
        inferencer (OVCOSInferencer): The model (any config).
        out_dir (str, optional): Where mask PNGs are written for download. Defaults to a new
            temporary folder.
        max_side (int): Longer images are resized to this longest side. Defaults to 2048.
        max_pixels (int, optional): Images with more pixels are refused before decoding.
            Defaults to the project's one limit (:mod:`mmseg_baclip.utils.image_limits`:
            120 MP, raised with ``BACLIP_MAX_IMAGE_PIXELS``).
        max_classes (int): The most class names a request may give. Defaults to 300.
    """

    def __init__(self,
                 inferencer,
                 out_dir: Optional[str] = None,
                 max_side: int = DEFAULT_MAX_SIDE,
                 max_pixels: Optional[int] = None,
                 max_classes: int = DEFAULT_MAX_CLASSES) -> None:
        if max_side < 32:
            raise ValueError(f'max_side must be >= 32, got {max_side}')
        self.inferencer = inferencer
        self.out_dir = out_dir or tempfile.mkdtemp(prefix='baclip_web_demo_')
        self.max_side = max_side
        self.max_pixels = max_image_pixels() if max_pixels is None else max_pixels
        self.max_classes = max_classes
        self._lock = threading.Lock()
        self._count = 0

    @property
    def default_vocabulary_text(self) -> str:
        """The config's test vocabulary as the text box shows it."""
        return format_vocabulary(self.inferencer.default_vocabulary)

    def load_image(self, path: Optional[str], name: Optional[str] = None
                   ) -> Tuple[np.ndarray, str]:
        """Read an uploaded file as the model's loader does, then check and resize it.

        Args:
            path (str, optional): The file.
            name (str, optional): The name to show (the upload's own name, not a temp path).

        Returns:
            tuple: H x W x 3 uint8 BGR and a note ('' unless resized).

        Raises:
            DemoInputError: No file, too many pixels, or a file that is not a readable image.
        """
        if not path:
            raise DemoInputError('No image: upload one (or pick a test image), then press '
                                 'Segment.')
        name = name or osp.basename(path)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter('always')
                check_image_header(path, f'"{name}"', self.max_pixels)
                image = self.inferencer.loader(path)['img']  # H x W x 3 BGR uint8
        except ImageTooLargeError as error:
            raise DemoInputError(self._hide_path(str(error), path, name)) from None
        except (OSError, ValueError) as error:
            cause = error.__cause__ or error
            raise DemoInputError(self._hide_path(
                f'Could not read "{name}" as an image: it is not a picture or it is damaged. '
                'Use a JPEG, PNG, BMP, TIFF or WebP file. '
                f'({type(cause).__name__}: {cause})', path, name)) from None
        notes = sorted({self._hide_path(str(w.message), path, name) for w in caught
                        if 'frames' in str(w.message)})
        if image.shape[0] * image.shape[1] > self.max_pixels:  # a format PIL could not size
            raise DemoInputError(f'"{name}" has {image.shape[1]} x {image.shape[0]} pixels, '
                                 f'more than the limit of {self.max_pixels:,}.')
        image, note = resize_to_max_side(image, self.max_side)
        return image, ' '.join(notes + ([note] if note else []))

    @staticmethod
    def _hide_path(text: str, path: str, name: str) -> str:
        """``text`` with the server's path of the upload (and its folder) replaced by the
        name the user knows."""
        for secret in (osp.abspath(path), path):
            text = text.replace(secret, name)
        folder = osp.dirname(osp.abspath(path))
        return text.replace(folder, '<upload>') if folder not in ('', '/') else text

    def segment(self, path: Optional[str], vocabulary_text: Optional[str],
                name: Optional[str] = None) -> DemoResult:
        """Answer one request of the page; never raises for bad input.

        Args:
            path (str, optional): The image file.
            vocabulary_text (str, optional): Class names, comma separated; empty or None uses
                nothing (an error): the page fills in the default.
            name (str, optional): The image name to show in messages and the mask file name.

        Returns:
            DemoResult: ``busy=True`` at once when another request is running.
        """
        if not self._lock.acquire(blocking=False):
            return DemoResult(ok=False, busy=True,
                              message='The model is busy with another request. Wait for it '
                              'to finish, then press Segment again.')
        try:
            try:
                vocabulary = parse_demo_vocabulary(vocabulary_text, self.max_classes)
                image, note = self.load_image(path, name)
            except DemoInputError as error:
                return DemoResult(ok=False, message=str(error))
            result = self.inferencer(image, vocabulary=vocabulary, return_vis=True)[0]
            return self._format(result, name or osp.basename(path), vocabulary, note)
        finally:
            self._lock.release()

    def _format(self, result: dict, name: str, vocabulary: Sequence[str],
                note: str) -> DemoResult:
        """Turn an inferencer result into what the page shows, writing the mask PNG."""
        self._count += 1
        stem = re.sub(r'[^\w.-]+', '_', osp.splitext(name)[0])[:80] or 'image'
        mask_path = osp.join(self.out_dir, f'{self._count:06d}', f'{stem}_mask.png')
        save_rgb(mask_path, result['mask'].astype(np.uint8) * 255)  # H x W, 0/255
        old = osp.join(self.out_dir, f'{self._count - KEEP_MASK_FILES:06d}')
        if osp.isdir(old):
            for file in os.listdir(old):
                os.remove(osp.join(old, file))
            os.rmdir(old)
        height, width = result['size']
        notes = [f'{len(vocabulary)} class names.'] + ([note] if note else [])
        return DemoResult(
            ok=True,
            message=' '.join(notes),
            overlay=result['overlay'],
            label=f'{result["class"]} ({result["score"]:.3f})',
            top5=[(cls, float(score)) for cls, score in result['top5']],
            mask_path=mask_path,
            size=(width, height))
