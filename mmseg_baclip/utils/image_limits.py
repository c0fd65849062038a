"""One pixel limit for every image the project decodes, checked from the file header.

A small file can declare a huge image (a 389 KB PNG of 20000 x 20000 pixels decodes to 1.2 GB,
and the pipeline's float copies to several more). The dataset loader, the inferencer
(``tools/infer.py``, ``mmseg_baclip.apis``) and the web demo read the size from the header
first, without decoding the pixels, and refuse an image above the limit with a message naming
the file. The limit is :data:`DEFAULT_MAX_IMAGE_PIXELS`; raise it for a run by setting the
environment variable ``BACLIP_MAX_IMAGE_PIXELS`` (e.g. ``BACLIP_MAX_IMAGE_PIXELS=400000000``).

The same reading tells when a file holds several frames (animated GIF, WebP, APNG, multi-page
TIFF): only the first is segmented, and :func:`check_image_header` warns.
"""
import io
import os
import re
import warnings
from typing import Optional, Tuple, Union

from PIL import Image

#: Images with more pixels than this are refused before they are decoded (120 megapixels).
DEFAULT_MAX_IMAGE_PIXELS = 120_000_000
#: The environment variable that overrides :data:`DEFAULT_MAX_IMAGE_PIXELS`.
MAX_PIXELS_ENV = 'BACLIP_MAX_IMAGE_PIXELS'


class ImageTooLargeError(ValueError):
    """An image whose header declares more pixels than the limit."""


def max_image_pixels() -> int:
    """The pixel limit in force: ``$BACLIP_MAX_IMAGE_PIXELS`` or the default.

    Raises:
        ValueError: The environment variable is not a positive integer.
    """
    text = os.environ.get(MAX_PIXELS_ENV, '').strip()
    if not text:
        return DEFAULT_MAX_IMAGE_PIXELS
    try:
        value = int(text.replace('_', ''))
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(f'{MAX_PIXELS_ENV}={text!r} must be a positive whole number of pixels')
    return value


def _header(source: Union[str, bytes]) -> Tuple[Optional[int], Optional[str], int]:
    """``(pixels, "W x H", frames)`` from the header. ``(None, None, 1)`` for a format PIL does
    not know or a header it cannot parse (the decoder then has its say). Above PIL's own
    decompression-bomb limit PIL gives the number of pixels only, not the sides."""
    fp = io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else source
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', Image.DecompressionBombWarning)
            with Image.open(fp) as image:
                frames = getattr(image, 'n_frames', 2) if getattr(image, 'is_animated',
                                                                  False) else 1
                width, height = image.size
                return width * height, f'{width} x {height}', frames
    except Image.DecompressionBombError as error:
        found = re.search(r'\((\d+) pixels\)', str(error))
        return (int(found.group(1)) if found else None), None, 1
    except (OSError, ValueError, SyntaxError, EOFError):
        return None, None, 1


def check_image_header(source: Union[str, bytes], where: str,
                       limit: Optional[int] = None) -> Optional[int]:
    """Refuse an image above the pixel limit before decoding it; warn about extra frames.

    Args:
        source (str | bytes): A local file path or the file's bytes.
        where (str): The file's name for messages.
        limit (int, optional): Pixel limit; default :func:`max_image_pixels`.

    Returns:
        int | None: The number of pixels the header declares, or None when the header cannot
        be read without decoding.

    Raises:
        ImageTooLargeError: The header declares more than ``limit`` pixels.
    """
    limit = max_image_pixels() if limit is None else limit
    pixels, sides, frames = _header(source)
    if pixels is not None and pixels > limit:
        raise ImageTooLargeError(
            f'{where}: the image is {sides + " = " if sides else ""}{pixels:,} pixels, more than '
            f'the limit of {limit:,}; downscale it, or raise the limit with {MAX_PIXELS_ENV}=N')
    if frames > 1:
        warnings.warn(f'{where} holds {frames} frames (an animation or a multi-page file); '
                      'only the first frame is segmented')
    return pixels
