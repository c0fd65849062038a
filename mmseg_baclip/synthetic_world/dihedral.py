"""Random flips and quarter turns (the dihedral group of the square), shared by the two
pretrainings so that a picture and its mask are turned alike."""
import torch
from torch import Tensor


def random_dihedral_index(count: int, generator: torch.Generator) -> Tensor:
    """``count`` random elements of the group, as codes 0..7 (turns = code % 4, flip = code >= 4)."""
    return torch.randint(0, 8, (count, ), generator=generator)


def apply_dihedral(x: Tensor, codes: Tensor) -> Tensor:
    """Turn and flip each item of a B x C x S x S batch by its code (B codes)."""
    out = []
    for item, code in zip(x, codes.tolist()):
        item = torch.rot90(item, k=code % 4, dims=(1, 2))
        out.append(item.flip(-1) if code >= 4 else item)
    return torch.stack(out)
