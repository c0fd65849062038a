"""MFMSA: multi-frequency channel attention (MFCA) + multi-scale differential attention (MSDA).

Follows MADGNet's MFMSA block with BaCLIP's naming: for each scale i,
``lambda_i = Conv3(alpha_i * (chi_i * F_i) + beta_i * (chi_i * B_i))`` with the foreground map
``F_i = sigmoid(Conv1(chi_i))`` and ``B_i = 1 - F_i``; the scales are upsampled and summed and
added to the input (``E* = E + chi``).
"""
from typing import Optional

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor, nn

from ...ops import multi_freq_pool
from .dct import CHANNELS_TO_TILE, dct_filters


class MFCA(nn.Module):
    """Multi-frequency channel attention (MADGNet variant).

    Each of K fixed DCT filters is applied to all channels of the input pooled to the DCT tile;
    the spatial mean, max and min of ``x * D_k``, averaged over k, go through one shared
    bottleneck; their sum, passed through a sigmoid, re-weights the channels.

    Args:
        channels (int): c, the input channels.
        dct_tile (int): Side of the square DCT tile the input is pooled to.
        frequency_selection (str): ``'top'``, ``'low'`` or ``'bot'``.
        num_frequencies (int): K. Default: 16.
        reduction (int): Bottleneck reduction. Default: 16.
    """

    def __init__(self, channels: int, dct_tile: int, frequency_selection: str = 'top',
                 num_frequencies: int = 16, reduction: int = 16):
        super().__init__()
        self.dct_tile = dct_tile
        self.register_buffer('filters',
                             dct_filters((dct_tile, dct_tile), frequency_selection, num_frequencies),
                             persistent=False)  # K x t x t, fixed
        hidden = max(channels // reduction, 1)
        self.fc = nn.Sequential(
            nn.Linear(channels, hidden, bias=False), nn.ReLU(inplace=True),
            nn.Linear(hidden, channels, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        """Args: x (Tensor): B x c x H x W. Returns: Tensor: B x c x H x W."""
        tile = F.adaptive_avg_pool2d(x, self.dct_tile)  # B x c x t x t
        stats = multi_freq_pool(tile, self.filters.to(tile.dtype))  # B x 3 x c (mean, max, min)
        attention = torch.sigmoid(self.fc(stats).sum(dim=1))  # shared FC, summed: B x c
        return x * attention[:, :, None, None]


class DifferentialScale(nn.Module):
    """One scale branch of MSDA: reduce, MFCA, foreground/background attention, restore.

    Args:
        in_channels (int): C of the block.
        channels (int): c_i of this branch.
        dilation (int): Dilation of the grouped 3x3 conv (1 + i).
        dct_tile (int): DCT tile side for MFCA.
        groups (int): Groups of the 3x3 conv.
        norm_cfg (dict): Norm layer config.
        mfca_kwargs: Passed to :class:`MFCA`.
    """

    def __init__(self, in_channels: int, channels: int, dilation: int, dct_tile: int,
                 groups: int, norm_cfg: dict, **mfca_kwargs):
        super().__init__()
        self.reduce = nn.Sequential(
            ConvModule(in_channels, in_channels, 3, padding=dilation, dilation=dilation,
                       groups=groups, norm_cfg=norm_cfg),
            ConvModule(in_channels, channels, 1, norm_cfg=norm_cfg))
        self.mfca = MFCA(channels, dct_tile, **mfca_kwargs)
        self.foreground = nn.Conv2d(channels, 1, 1, bias=False)
        self.alpha = nn.Parameter(torch.ones(()))  # weight of the foreground term
        self.beta = nn.Parameter(torch.ones(()))  # weight of the background term
        self.restore = ConvModule(channels, in_channels, 3, padding=1, bias=False,
                                  norm_cfg=norm_cfg)

    def forward(self, x: Tensor) -> Tensor:
        """Args: x (Tensor): B x C x h x w. Returns: Tensor: B x C x h x w."""
        chi = self.mfca(self.reduce(x))  # B x c_i x h x w
        fg = torch.sigmoid(self.foreground(chi))  # B x 1 x h x w
        return self.restore(self.alpha * (chi * fg) + self.beta * (chi * (1 - fg)))


@MODELS.register_module()
class MFMSA(BaseModule):
    """Multi-frequency multi-scale attention block: ``Y = X + sum_i Up(lambda_i)``.

    Args:
        in_channels (int): C. Default: 256.
        scale_branches (int): S. Default: 3 (24/12/6 at a 24x24 input).
        frequency_selection (str): DCT frequency ranking. Default: ``'top'``.
        num_frequencies (int): K DCT filters. Default: 16.
        min_channel (int): Lower bound of the per-scale channels ``C / 2^i``. Default: 32.
        min_resolution (int): A scale is average-pooled by ``2^i`` only if the result is at least
            this large. Default: 4 [inferred, so 24x24 gives 24/12/6 as the paper describes;
            MADGNet used 8].
        reduction (int): MFCA bottleneck reduction. Default: 16.
        groups (int): Groups of the 3x3 convs. Default: 32.
        dct_tile (int, optional): DCT tile side; default from C as MADGNet does (256 -> 14).
        average_scales (bool): Divide the sum over scales by S (MADGNet) instead of a plain sum
            (BaCLIP's formula). Default: False.
        norm_cfg (dict): Default: BN.
    """

    def __init__(self,
                 in_channels: int = 256,
                 scale_branches: int = 3,
                 frequency_selection: str = 'top',
                 num_frequencies: int = 16,
                 min_channel: int = 32,
                 min_resolution: int = 4,
                 reduction: int = 16,
                 groups: int = 32,
                 dct_tile: Optional[int] = None,
                 average_scales: bool = False,
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if in_channels % groups:
            raise ValueError(f'in_channels ({in_channels}) must be divisible by groups ({groups})')
        dct_tile = dct_tile or CHANNELS_TO_TILE.get(in_channels, 14)
        self.scale_branches = scale_branches
        self.min_resolution = min_resolution
        self.average_scales = average_scales
        self.scales = nn.ModuleList(
            DifferentialScale(in_channels, max(in_channels // 2**i, min_channel), 1 + i, dct_tile,
                              groups, norm_cfg, frequency_selection=frequency_selection,
                              num_frequencies=num_frequencies, reduction=reduction)
            for i in range(scale_branches))

    def forward(self, x: Tensor) -> Tensor:
        """Args: x (Tensor): B x C x H x W. Returns: Tensor: B x C x H x W."""
        out = 0
        size = x.shape[-2:]
        for i, branch in enumerate(self.scales):
            factor = 2**i
            if i > 0 and min(size) // factor >= self.min_resolution:
                lam = branch(F.avg_pool2d(x, factor))  # B x C x H/2^i x W/2^i
                lam = F.interpolate(lam, size=size, mode='bilinear', align_corners=False)
            else:
                lam = branch(x)
            out = out + lam
        if self.average_scales:
            out = out / self.scale_branches
        return x + out
