# Small BaCLIP for the README demo: trains in minutes on CPU on the synthetic OVCamo tree made by
# tools/dataset_converters/make_synthetic_ovcamo.py (data/ovcamo_synthetic).
# Same architecture as the paper (frozen CLIP ConvNeXt, MREM, CCE, SAM text-prompted head), but
# a tiny CLIP bundled with mmseg_baclip (ConvNeXt-atto trunk, 64-d embeddings) with RANDOM,
# frozen weights (no pretrained weights can be downloaded here), 64-d necks, a 64-d SAM decoder
# without SAM weights, 192x192 inputs, and a higher learning rate. Random CLIP means the zero-shot
# class is at chance, so class-aware scores are low by construction; the class-agnostic scores
# ("agnostic/...") show what the mask branch learned.
_base_ = ['../baclip_convnext-l_ovcamo.py']

data_root = 'data/ovcamo_synthetic'
crop_size = (192, 192)
clip_model_name = 'convnext_atto_baclip_tiny'
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(model_name=clip_model_name, checkpoint=None),
    text_encoder=dict(model_name=clip_model_name, checkpoint=None),
    align_neck=dict(in_channels=(80, 160, 320), text_channels=64, embed_dims=64, num_heads=4),
    neck=dict(in_channels=64, num_blocks=3, dct_tile=7, min_resolution=3),
    decode_head=dict(in_channels=64, text_channels=64, transformer_dim=64,
                     transformer_mlp_dim=256, transformer_heads=4, prompt_heads=4,
                     checkpoint=None))

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

max_epochs = 6
optim_wrapper = dict(optimizer=dict(lr=1e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=1e-5, by_epoch=True, begin=0,
         end=max_epochs, convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1, save_best=None))
randomness = dict(seed=0)
