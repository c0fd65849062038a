"""Fixed 2-D DCT filters used by multi-frequency channel attention (FcaNet / MADGNet)."""
import math
from typing import List, Tuple

import torch
from torch import Tensor

# The 'top' frequency ranking on a 7x7 grid (FcaNet's list, first 32 entries).
_TOP_U = [0, 0, 6, 0, 0, 1, 1, 4, 5, 1, 3, 0, 0, 0, 3, 2, 4, 6, 3, 5, 5, 2, 6, 5, 5, 3, 3, 4, 2, 2,
          6, 1]
_TOP_V = [0, 1, 0, 5, 2, 0, 2, 0, 0, 6, 0, 4, 6, 3, 5, 2, 6, 3, 3, 3, 5, 1, 1, 2, 4, 2, 1, 1, 3, 0,
          5, 3]
_LOW_U = [0, 0, 1, 1, 0, 2, 2, 1, 2, 0, 3, 4, 0, 1, 3, 0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 6, 1, 2,
          3, 4]
_LOW_V = [0, 1, 0, 1, 2, 0, 1, 2, 2, 3, 0, 0, 4, 3, 1, 5, 4, 3, 2, 1, 0, 6, 5, 4, 3, 2, 1, 0, 6, 5,
          4, 3]
_BOT_U = [6, 1, 3, 3, 2, 4, 1, 2, 4, 4, 5, 1, 4, 6, 2, 5, 6, 1, 6, 2, 2, 4, 3, 3, 5, 5, 6, 2, 5, 5,
          3, 6]
_BOT_V = [6, 4, 4, 6, 6, 3, 1, 4, 4, 5, 6, 5, 2, 2, 5, 1, 4, 3, 5, 0, 3, 1, 1, 2, 4, 2, 1, 1, 5, 3,
          3, 3]

FREQUENCY_LISTS = {'top': (_TOP_U, _TOP_V), 'low': (_LOW_U, _LOW_V), 'bot': (_BOT_U, _BOT_V)}

# MADGNet chooses the DCT tile from the block's input channels.
CHANNELS_TO_TILE = {32: 112, 64: 56, 128: 28, 256: 14, 512: 7}


def frequency_indices(selection: str, num_frequencies: int) -> List[Tuple[int, int]]:
    """(u, v) pairs on the 7x7 reference grid.

    Args:
        selection (str): ``'top'``, ``'low'`` or ``'bot'``.
        num_frequencies (int): How many, 1 to 32.
    """
    if selection not in FREQUENCY_LISTS:
        raise KeyError(f'frequency_selection must be one of {sorted(FREQUENCY_LISTS)}, got '
                       f'{selection!r}')
    if not 1 <= num_frequencies <= 32:
        raise ValueError(f'num_frequencies must be in [1, 32], got {num_frequencies}')
    us, vs = FREQUENCY_LISTS[selection]
    return list(zip(us[:num_frequencies], vs[:num_frequencies]))


def dct_basis_1d(freq: int, length: int) -> Tensor:
    """Orthonormal DCT-II basis vector: cos(pi*f*(x+0.5)/P)/sqrt(P), times sqrt(2) if f > 0."""
    pos = torch.arange(length, dtype=torch.float64)
    basis = torch.cos(math.pi * freq * (pos + 0.5) / length) / math.sqrt(length)
    return basis * (math.sqrt(2) if freq != 0 else 1.0)


def dct_filters(tile: Tuple[int, int], selection: str = 'top', num_frequencies: int = 16) -> Tensor:
    """Stacked 2-D DCT filters on an h x w tile.

    The indices of the 7x7 reference grid are scaled by ``h // 7`` and ``w // 7`` so that they
    name the same frequencies on a larger tile.

    Returns:
        Tensor: K x h x w, float32.
    """
    h, w = tile
    scale_h, scale_w = max(h // 7, 1), max(w // 7, 1)
    filters = []
    for u, v in frequency_indices(selection, num_frequencies):
        fu, fv = u * scale_h, v * scale_w
        if fu >= h or fv >= w:
            raise ValueError(f'DCT tile {tile} is too small for frequency ({u}, {v}); use a tile '
                             'of at least 7x7.')
        filters.append(torch.outer(dct_basis_1d(fu, h), dct_basis_1d(fv, w)))
    return torch.stack(filters).float()
