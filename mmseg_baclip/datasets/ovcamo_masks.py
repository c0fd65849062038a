"""How an OVCamo mask file is read, and which files are too ambiguous to read.

A mask means what OVCoser reads from it (OVC ``utils/io/image.py``
``read_gray_array(thr=0)``): the file decoded by OpenCV as 8-bit grayscale
(``cv2.IMREAD_GRAYSCALE``), then ``> 0`` is the object. That decoding applies the EXIF
orientation (as the image decoder does, so image and mask stay aligned), converts colour and
palette files to luma (``0.299 R + 0.587 G + 0.114 B``), drops alpha and keeps the top 8 bits of
16-bit files.

For some files that reading is silently not what the file means. Those are reported (a problem
string, listed by the dataset's one bad-sample report, ``check_ovcamo.py`` and the loader's
error) instead of being guessed:

============================  ==================================================================
file                          read as / reported when
============================  ==================================================================
8-bit gray, 1-bit, 0/1, 0/255 ``> 0``
colour (RGB)                  luma ``> 0``
palette (``P``)               the colours' luma ``> 0``; reported when that differs from the
                              index reading (index 0 = background), e.g. index 0 is white
alpha (RGBA, LA, ``tRNS``)    the colours, alpha ignored; reported when alpha is not opaque
                              everywhere and ``alpha > 0`` differs from the colours ``> 0``
                              (an object drawn in the alpha channel only)
16-bit                        top 8 bits ``> 0``; reported when pixels with values 1-255 exist
                              (OVCoser's 8-bit reading makes them background)
JPEG (lossy)                  reported when any pixel has a faint value 1-127 (compression
                              noise, counted as object by ``> 0``)
soft (several grey levels)    reported when no pixel is 0 (a noise floor makes the whole image
                              object), or when more than :data:`SOFT_MASK_MAX_FAINT_FRACTION` of
                              the pixels have faint values 1-127
============================  ==================================================================

A thin anti-aliased edge (faint pixels along the outline only) stays below the soft-mask limit
and is read with ``> 0``, as OVCoser reads it.
"""
import io
from typing import NamedTuple, Optional

import cv2
import numpy as np
from PIL import Image, ImageOps

#: Faint pixels (8-bit values 1-127) above this fraction of the image make a soft mask ambiguous.
SOFT_MASK_MAX_FAINT_FRACTION = 0.02
#: The EXIF tag that holds the orientation (1 = stored as displayed).
EXIF_ORIENTATION = 0x0112
_LOSSY_FORMATS = ('JPEG', 'MPO')
_ALPHA_MODES = ('RGBA', 'LA', 'PA', 'RGBa', 'La')
_HELP = 'see docs/data.md, "Mask formats"'


class MaskReading(NamedTuple):
    """A decoded mask.

    Attributes:
        mask (np.ndarray): ``(H, W)`` uint8 in {0, 1}, OVCoser's reading (orientation applied).
        problem (str | None): Why the reading is ambiguous, or None when it is not.
        orientation (int): The file's EXIF orientation (1 when it has none).
    """
    mask: np.ndarray
    problem: Optional[str]
    orientation: int


def exif_orientation(img: Image.Image) -> int:
    """The EXIF orientation of an open PIL image: 1-8, 1 when absent or invalid."""
    try:
        value = int(img.getexif().get(EXIF_ORIENTATION, 1))
    except Exception:  # noqa: BLE001 - a malformed EXIF block means "no orientation"
        return 1
    return value if 1 <= value <= 8 else 1


def _count(condition: np.ndarray) -> int:
    return int(np.count_nonzero(condition))


def _palette_problem(img: Image.Image, gray: np.ndarray) -> Optional[str]:
    index = np.asarray(ImageOps.exif_transpose(img))
    index = index[..., 0] if index.ndim == 3 else index  # PA: (H, W, 2) index + alpha
    differ = _count((index > 0) != (gray > 0))
    if not differ:
        return None
    palette = img.getpalette() or [0, 0, 0]
    return (f'palette mask whose index 0 is the colour {tuple(palette[:3])}: reading the colours '
            f'(OVCoser: luma > 0) and reading the indices (index 0 = background) disagree on '
            f'{differ} of {gray.size} pixels (inverted?); save it as 8-bit grayscale with '
            f'0 = background ({_HELP})')


def _alpha_problem(img: Image.Image, gray: np.ndarray) -> Optional[str]:
    alpha = np.asarray(ImageOps.exif_transpose(img).convert('RGBA'))[..., 3]
    if alpha.min() == 255:
        return None
    differ = _count((alpha > 0) != (gray > 0))
    if not differ:
        return None
    return (f'mask with an alpha channel that disagrees with its colours on {differ} of '
            f'{gray.size} pixels: OVCoser ignores alpha, so an object drawn in the alpha channel '
            f'reads as empty or as the whole image; save it as 8-bit grayscale ({_HELP})')


def _deep_problem(buf: np.ndarray, gray: np.ndarray) -> Optional[str]:
    raw = cv2.imdecode(buf, cv2.IMREAD_ANYDEPTH)  # (H, W), 16-bit kept, orientation applied
    if raw is None or raw.dtype == np.uint8:
        return None
    lost = _count((raw > 0) & (gray == 0))
    if not lost:
        return None
    return (f'{raw.dtype.itemsize * 8}-bit mask with {lost} pixels of values 1-255: OVCoser '
            f'reads it as 8 bits (value >> 8), which makes them background; save it as 8-bit '
            f'grayscale ({_HELP})')


def _levels_problem(gray: np.ndarray, lossy: bool) -> Optional[str]:
    hist = np.bincount(gray.ravel(), minlength=256)  # (256,)
    faint = int(hist[1:128].sum())
    if lossy and faint:
        return (f'lossy JPEG mask: {faint} pixels have faint values 1-127 (compression noise) '
                f"that OVCoser's > 0 reading counts as object; threshold it and save it as PNG "
                f'({_HELP})')
    if np.count_nonzero(hist[1:]) < 2:
        return None  # 0 and one other value (0/1, 0/255), or a single value: a clean mask
    if hist[0] == 0:
        darkest = int(np.flatnonzero(hist)[0])
        return (f'soft mask with no pixel at 0 (darkest value {darkest}): OVCoser\'s > 0 reading '
                f'makes the whole image object; threshold it and save it with 0 = background '
                f'({_HELP})')
    if faint > SOFT_MASK_MAX_FAINT_FRACTION * gray.size:
        return (f'soft mask: {100.0 * faint / gray.size:.1f}% of the pixels have faint values '
                f"1-127 that OVCoser's > 0 reading counts as object (more than "
                f'{100 * SOFT_MASK_MAX_FAINT_FRACTION:g}%, not an anti-aliased edge); threshold it '
                f'and save it as a 0/255 PNG ({_HELP})')
    return None


def read_mask(content: bytes) -> MaskReading:
    """Decode a mask file as OVCoser does and say whether that reading is ambiguous.

    Args:
        content (bytes): The file's bytes.

    Returns:
        MaskReading: The ``(H, W)`` {0, 1} mask, the problem (None if the reading is
        unambiguous) and the EXIF orientation.

    Raises:
        ValueError: The bytes cannot be decoded (corrupt or truncated file).
    """
    buf = np.frombuffer(content, np.uint8)
    gray = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE) if buf.size else None  # (H, W) uint8
    if gray is None:
        raise ValueError('OpenCV could not decode it: corrupt or truncated')
    try:
        img = Image.open(io.BytesIO(content))
    except Exception:  # noqa: BLE001 - a format PIL does not know: only the pixel checks
        return MaskReading((gray > 0).astype(np.uint8), _levels_problem(gray, False), 1)
    with img:
        try:
            problem = _format_problem(img, buf, gray)
        except (OSError, SyntaxError, ValueError) as e:  # PIL's errors for broken files
            raise ValueError(f'PIL could not read it ({type(e).__name__}: {e})') from e
        orientation = exif_orientation(img)
    return MaskReading((gray > 0).astype(np.uint8), problem, orientation)


def _format_problem(img: Image.Image, buf: np.ndarray, gray: np.ndarray) -> Optional[str]:
    """The first rule of the module docstring that the open file ``img`` breaks, or None."""
    problem = None
    if img.mode in ('P', 'PA'):
        problem = _palette_problem(img, gray)
    if problem is None and (img.mode in _ALPHA_MODES or 'transparency' in img.info):
        problem = _alpha_problem(img, gray)
    if problem is None and img.mode.startswith('I'):
        problem = _deep_problem(buf, gray)
    if problem is None:
        problem = _levels_problem(gray, img.format in _LOSSY_FORMATS)
    return problem
