"""OVCamo data transforms, registered in ``mmseg.registry.TRANSFORMS``."""
from .load_ovcamo_annotations import LoadOVCamoAnnotations, binarize_mask
from .load_ovcamo_image import LoadOVCamoImage, to_bgr_uint8
from .ovcamo_random_rotate import OVCamoRandomRotate

__all__ = [
    'LoadOVCamoAnnotations', 'LoadOVCamoImage', 'OVCamoRandomRotate', 'binarize_mask',
    'to_bgr_uint8'
]
