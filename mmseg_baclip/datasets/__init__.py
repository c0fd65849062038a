"""OVCamo and the COS test sets, their transforms and the layout checker.

The synthetic OVCamo-layout tree writer (``make_synthetic_ovcamo``) lives in
:mod:`mmseg_baclip.synthetic_world`.
"""
from .class_names import OVCAMO_TEST_CLASSES, OVCAMO_TRAIN_CLASSES
from .cod10k_names import cod10k_class, overlap_with, readable_class_name
from .cos import COSDataError, COSDataset
from .ovcamo import OVCamoDataset
from .ovcamo_check import OVCamoCheckReport, check_ovcamo
from .ovcamo_io import OVCamoDataError
from .transforms import LoadOVCamoAnnotations, LoadOVCamoImage, OVCamoRandomRotate

__all__ = [
    'OVCAMO_TEST_CLASSES', 'OVCAMO_TRAIN_CLASSES', 'OVCamoDataset', 'OVCamoDataError',
    'OVCamoCheckReport', 'check_ovcamo', 'LoadOVCamoAnnotations', 'LoadOVCamoImage',
    'OVCamoRandomRotate', 'COSDataset', 'COSDataError', 'cod10k_class', 'overlap_with',
    'readable_class_name'
]
