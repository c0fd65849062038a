"""CCE, the Camo Clue Extractor: cascaded MFMSA blocks."""
from typing import Optional

from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor, nn

from .mfmsa import MFMSA


@MODELS.register_module()
class CCE(BaseModule):
    """``E_v* = MFMSA_n(... MFMSA_1(E_v))``, each block with its own residual.

    Args:
        in_channels (int): C of the visual features. Default: 256.
        num_blocks (int): Number of cascaded MFMSA blocks (the paper: 3 is best). Default: 3.
        **mfmsa_kwargs: Passed to every :class:`MFMSA` (``scale_branches``, ``min_resolution``,
            ``average_scales``, ...).
    """

    def __init__(self, in_channels: int = 256, num_blocks: int = 3,
                 init_cfg: Optional[dict] = None, **mfmsa_kwargs):
        super().__init__(init_cfg=init_cfg)
        if num_blocks < 1:
            raise ValueError(f'num_blocks must be >= 1, got {num_blocks}')
        self.in_channels = in_channels
        self.blocks = nn.Sequential(*[MFMSA(in_channels, **mfmsa_kwargs)
                                      for _ in range(num_blocks)])

    def forward(self, x):
        """Enhance the visual features.

        Args:
            x (Tensor | tuple[Tensor]): B x C x h x w, or a tuple/list whose last element is it
                (so CCE can follow a multi-level backbone in a stock mmseg model; only that
                element is replaced).

        Returns:
            Tensor | tuple[Tensor]: Same structure as the input.
        """
        if isinstance(x, Tensor):
            return self.blocks(x)
        x = list(x)
        x[-1] = self.blocks(x[-1])
        return tuple(x)
