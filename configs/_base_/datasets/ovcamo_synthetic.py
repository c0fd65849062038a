# The synthetic OVCamo tree made by tools/dataset_converters/make_synthetic_ovcamo.py
# (data/ovcamo_synthetic), for the small CPU configs: the OVCamo base (./ovcamo.py) at 192x192,
# with the same augmentations, one loader worker, and class-agnostic scores beside the
# class-aware ones ("agnostic/..."; a random CLIP's zero-shot class is at chance).
_base_ = ['./ovcamo.py']

data_root = 'data/ovcamo_synthetic'
crop_size = (192, 192)

# ./ovcamo.py's pipelines, resized to crop_size (see the comments there).
meta_keys = {{_base_.meta_keys}}
train_pipeline = [
    dict(type='LoadOVCamoImage'),
    dict(type='LoadOVCamoAnnotations', size_mismatch='resize_image'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='OVCamoRandomRotate', prob=0.5, degree=90, border_mode='replicate',
         seg_border_mode='replicate'),
    dict(type='PhotoMetricDistortion', brightness_delta=26, contrast_range=(0.9, 1.1),
         saturation_range=(0.9, 1.1), hue_delta=5),
    dict(type='PackSegInputs', meta_keys=meta_keys),
]
test_pipeline = [
    # mmcv's loader, which decodes like LoadOVCamoImage (cv2, 3-channel uint8 BGR), under the
    # name that mmseg's MMSegInferencer looks for.
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='LoadOVCamoAnnotations', size_mismatch='resize_image'),
    dict(type='PackSegInputs', meta_keys=meta_keys),
]
train_dataloader = dict(
    num_workers=1, persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=1, persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='OVCOSMetric', class_agnostic=True)
test_evaluator = val_evaluator
