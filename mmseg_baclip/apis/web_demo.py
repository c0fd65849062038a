"""The logic of the web demo (``tools/web_demo.py``), kept free of any web library.

The page only calls :meth:`WebDemo.segment`; everything that decides what the page shows lives
here, so it is tested without a browser: the vocabulary typed in the page, the checks and the
resizing of an uploaded image, the result as text / bar-chart rows / a mask PNG, and the lock
that answers a second request, sent while one is running, with a message instead of queueing it.
Bad input never raises out of :meth:`WebDemo.segment`: it comes back as
:attr:`DemoResult.message` with ``ok=False``.
"""
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
from PIL import Image

from ..visualization.overlay import save_rgb
from .ovcos_inferencer import IMAGE_EXTENSIONS

#: Longest image side the demo segments; larger images are resized (the page says so).
DEFAULT_MAX_SIDE = 2048
#: Images with more pixels than this are refused before they are decoded (120 MP).
DEFAULT_MAX_PIXELS = 120_000_000
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


def parse_vocabulary_text(text: Optional[str],
                          max_classes: int = DEFAULT_MAX_CLASSES) -> Tuple[str, ...]:
    """Class names typed in the page: comma separated (new lines count as commas).

    Spaces around and inside names are collapsed (``" snow   leopard "`` -> ``"snow
    leopard"``). Names that differ only in letter case are duplicates: CLIP's tokenizer lowers
    the case, so they would get the same embedding.

    Args:
        text (str, optional): The text box's content.
        max_classes (int): The most names accepted.

    Returns:
        tuple[str, ...]: The names, in the order typed.

    Raises:
        DemoInputError: No name, a name twice, or more than ``max_classes`` names.
    """
    names = [' '.join(item.split()) for item in re.split(r'[,\n]', text or '')]
    names = [name for name in names if name]
    if not names:
        raise DemoInputError('The vocabulary is empty: type at least one class name, e.g. '
                             '"owl, moth, frog".')
    seen, duplicates = {}, []
    for name in names:
        key = name.casefold()
        if key in seen and seen[key] not in duplicates:
            duplicates.append(seen[key])
        seen.setdefault(key, name)
    if duplicates:
        raise DemoInputError('The vocabulary names a class twice (letter case is ignored): ' +
                             ', '.join(f'"{d}"' for d in duplicates) +
                             '. Remove the repeats.')
    if len(names) > max_classes:
        raise DemoInputError(f'The vocabulary has {len(names)} names; this demo takes at most '
                             f'{max_classes}.')
    return tuple(names)


def format_vocabulary(names: Sequence[str]) -> str:
    """The text-box form of a vocabulary: ``"owl, moth, frog"``."""
    return ', '.join(names)


def image_header_size(path: str) -> Optional[Tuple[int, int]]:
    """``(width, height)`` from the file header, without decoding the pixels.

    Returns None when PIL does not recognise the format (the decoder may still read it).

    Raises:
        DemoInputError: The header declares more pixels than PIL's decompression-bomb limit.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return image.size
    except Image.DecompressionBombError as error:
        raise DemoInputError(f'The image is too large to open ({error}). Downscale it '
                             'first.') from None
    except (OSError, ValueError, SyntaxError):  # not an image PIL knows, or a broken header
        return None


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
        max_pixels (int): Images with more pixels are refused. Defaults to 120 MP.
        max_classes (int): The most class names a request may give. Defaults to 300.
    """

    def __init__(self,
                 inferencer,
                 out_dir: Optional[str] = None,
                 max_side: int = DEFAULT_MAX_SIDE,
                 max_pixels: int = DEFAULT_MAX_PIXELS,
                 max_classes: int = DEFAULT_MAX_CLASSES) -> None:
        if max_side < 32:
            raise ValueError(f'max_side must be >= 32, got {max_side}')
        self.inferencer = inferencer
        self.out_dir = out_dir or tempfile.mkdtemp(prefix='baclip_web_demo_')
        self.max_side = max_side
        self.max_pixels = max_pixels
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
        size = image_header_size(path)
        if size is not None and size[0] * size[1] > self.max_pixels:
            raise DemoInputError(f'"{name}" has {size[0]} x {size[1]} pixels, more than this '
                                 f'demo opens ({self.max_pixels / 1e6:.0f} MP). Downscale it '
                                 'first.')
        try:
            image = self.inferencer.loader(path)['img']  # H x W x 3 BGR uint8
        except (OSError, ValueError) as error:
            cause = error.__cause__ or error
            raise DemoInputError(f'Could not read "{name}" as an image: it is not a picture '
                                 'or it is damaged. Use a JPEG, PNG, BMP, TIFF or WebP file. '
                                 f'({type(cause).__name__}: {cause})') from None
        if image.shape[0] * image.shape[1] > self.max_pixels:  # a format PIL could not size
            raise DemoInputError(f'"{name}" has {image.shape[1]} x {image.shape[0]} pixels, '
                                 f'more than this demo opens ({self.max_pixels / 1e6:.0f} MP).')
        return resize_to_max_side(image, self.max_side)

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
                vocabulary = parse_vocabulary_text(vocabulary_text, self.max_classes)
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
