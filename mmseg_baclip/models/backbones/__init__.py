from .clip_image_tower import OpenCLIPImageTower, bilinear_adjoint_weights, masked_average
from .openclip_convnext import OpenCLIPConvNeXt
from .openclip_vit import OpenCLIPViT

__all__ = [
    'OpenCLIPConvNeXt', 'OpenCLIPImageTower', 'OpenCLIPViT', 'bilinear_adjoint_weights',
    'masked_average'
]
