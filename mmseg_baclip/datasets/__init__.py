"""OVCamo dataset, its transforms, the synthetic generator and the layout checker."""
from .class_names import OVCAMO_TEST_CLASSES, OVCAMO_TRAIN_CLASSES
from .ovcamo import OVCamoDataset
from .ovcamo_check import OVCamoCheckReport, check_ovcamo
from .ovcamo_io import OVCamoDataError
from .synthetic import make_synthetic_ovcamo
from .transforms import LoadOVCamoAnnotations, LoadOVCamoImage, OVCamoRandomRotate

__all__ = [
    'OVCAMO_TEST_CLASSES', 'OVCAMO_TRAIN_CLASSES', 'OVCamoDataset', 'OVCamoDataError',
    'OVCamoCheckReport', 'check_ovcamo', 'make_synthetic_ovcamo', 'LoadOVCamoAnnotations',
    'LoadOVCamoImage', 'OVCamoRandomRotate'
]
