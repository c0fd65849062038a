from .openclip_convnext import OpenCLIPConvNeXt

__all__ = ['OpenCLIPConvNeXt']
