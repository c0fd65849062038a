"""A plain convolutional mask decoder: the ablation baseline "CLIP + conv decoder"."""
from mmcv.cnn import ConvModule
from mmseg.registry import MODELS
from torch import Tensor, nn

from .mask_head_base import BinaryMaskHead


@MODELS.register_module()
class ConvMaskHead(BinaryMaskHead):
    """Two upsampling conv stages and a 1x1 classifier; ignores the text.

    Args:
        in_channels (int): C of the visual features. Default: 256.
        channels (int): Hidden width. Default: 64.
        norm_cfg (dict): Default: BN.
        loss_decode (dict | list[dict]): Loss configs.

    Works only as BaCLIP's ``decode_head`` (see :class:`BinaryMaskHead`).
    """

    def __init__(self, in_channels: int = 256, channels: int = 64,
                 norm_cfg: dict = dict(type='BN'),
                 loss_decode=dict(type='WeightedBCEDiceLoss'), init_cfg=None, **kwargs):
        super().__init__(loss_decode=loss_decode, init_cfg=init_cfg, **kwargs)
        self.decoder = nn.Sequential(
            ConvModule(in_channels, channels, 3, padding=1, norm_cfg=norm_cfg),
            nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False),
            ConvModule(channels, channels, 3, padding=1, norm_cfg=norm_cfg),
            nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False),
            ConvModule(channels, channels, 3, padding=1, norm_cfg=norm_cfg),
            nn.Conv2d(channels, 1, 1))

    def forward(self, visual: Tensor, text: Tensor = None) -> Tensor:
        """Args: visual (Tensor): B x C x h x w. Returns: Tensor: B x 1 x 4h x 4w logits."""
        return self.decoder(visual)
