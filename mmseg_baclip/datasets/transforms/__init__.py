"""OVCamo data transforms, registered in ``mmseg.registry.TRANSFORMS``."""
from .load_ovcamo_annotations import LoadOVCamoAnnotations
from .load_ovcamo_image import LoadOVCamoImage, to_bgr_uint8
from .ovcamo_random_rotate import OVCamoRandomRotate

__all__ = [
    'LoadOVCamoAnnotations', 'LoadOVCamoImage', 'OVCamoRandomRotate', 'to_bgr_uint8'
]
