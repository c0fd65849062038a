# OVCamo: 14 seen classes for training, 61 unseen classes for testing.
# Needs `custom_imports = dict(imports=['mmseg_baclip'], allow_failed_imports=False)` (set by
# the runtime base config). Point `data_root` at the official layout:
#   <data_root>/{train,test}/{image,mask}/, <data_root>/jsonfile/{class_info,sample_info}.json
# or at a synthetic tree from tools/dataset_converters/make_synthetic_ovcamo.py.
dataset_type = 'OVCamoDataset'
data_root = 'data/OVCamo'
crop_size = (384, 384)

# mmseg's PackSegInputs defaults + the open-vocabulary fields of OVCamoDataset.
meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape', 'scale_factor',
             'flip', 'flip_direction', 'reduce_zero_label', 'class_name', 'vocabulary',
             'unique_id')

# OVCoser's training augmentation: resize to 384x384 (no aspect kept), horizontal flip p=0.5,
# rotation within +-90 deg p=0.5 with a replicated border, and mild colour jitter
# (albumentations RandomBrightnessContrast(0.1, 0.1) + HueSaturationValue(5, 10, 10),
# approximated by PhotoMetricDistortion: brightness +-0.1*255, contrast x[0.9, 1.1],
# saturation x[0.9, 1.1], hue +-5 in OpenCV units).
# Difference: mmseg resizes masks with nearest interpolation; OVCoser resizes the 0/255 mask
# bilinearly and then thresholds > 0 (a slightly dilated border).
train_pipeline = [
    dict(type='LoadOVCamoImage'),
    # An image whose size differs from its mask is resized to the mask, as OVCoser does in
    # training (size_mismatch='error' would stop on such files instead).
    dict(type='LoadOVCamoAnnotations', size_mismatch='resize_image'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='OVCamoRandomRotate', prob=0.5, degree=90, border_mode='replicate',
         seg_border_mode='replicate'),
    dict(type='PhotoMetricDistortion', brightness_delta=26, contrast_range=(0.9, 1.1),
         saturation_range=(0.9, 1.1), hue_delta=5),
    dict(type='PackSegInputs', meta_keys=meta_keys),
]
# Test: the image is resized to 384x384; the mask is loaded after Resize so it stays at its
# original size, where the class-aware metrics are computed.
test_pipeline = [
    # mmcv's loader, which decodes like LoadOVCamoImage (cv2, 3-channel uint8 BGR), under the
    # name that mmseg's MMSegInferencer looks for.
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    # After Resize, 'resize_image' makes the mask size the original size, so a prediction is
    # scored at the size of its ground truth even if the image has another size.
    dict(type='LoadOVCamoAnnotations', size_mismatch='resize_image'),
    dict(type='PackSegInputs', meta_keys=meta_keys),
]

train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    drop_last=True,  # as OVCoser: every step sees a full batch of 4
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        on_bad_sample='error',
        pipeline=train_pipeline))
# The val loader is the test split (61 unseen classes). Nothing may be selected on it: the
# schedule runs it once, after the last epoch, and saves no "best" checkpoint. A validation set
# for selection is carved from the training images instead (..._val-train-holdout.py).
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        test_mode=True,
        on_bad_sample='error',
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='OVCOSMetric')
test_evaluator = val_evaluator
