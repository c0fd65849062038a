# Reuse example: BaCLIP's CCE neck (cascaded MFMSA) inside a stock mmseg EncoderDecoder, after
# mmpretrain's ConvNeXt, with a stock FCNHead; trained on OVCamoDataset as plain binary
# segmentation (class-agnostic: a closed-set model predicts no class name) and scored with
# mmseg's IoUMetric. Needs mmpretrain (in requirements/lock.txt).
_base_ = ['../_base_/default_runtime.py', '../_base_/datasets/ovcamo.py']
custom_imports = dict(imports=['mmseg_baclip', 'mmpretrain.models'], allow_failed_imports=False)

data_root = 'data/ovcamo_synthetic'
crop_size = (128, 128)
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True, pad_val=0, seg_pad_val=255, size=crop_size),
    backbone=dict(type='mmpretrain.ConvNeXt', arch='atto', out_indices=(0, 1, 2, 3),
                  drop_path_rate=0.0, gap_before_final_norm=False),
    neck=dict(type='CCE', in_channels=320, num_blocks=1, groups=32, dct_tile=7,
              min_resolution=2),
    decode_head=dict(
        type='FCNHead', in_channels=320, in_index=3, channels=64, num_convs=1,
        concat_input=False, num_classes=2, norm_cfg=norm_cfg, align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

train_pipeline = [
    dict(type='LoadOVCamoImage'),
    dict(type='LoadOVCamoAnnotations'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    # mmcv's loader, which decodes like LoadOVCamoImage (cv2, 3-channel uint8 BGR), under the
    # name that mmseg's MMSegInferencer looks for.
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='LoadOVCamoAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU'])]
test_evaluator = val_evaluator

optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3,
                                                         weight_decay=1e-4))
param_scheduler = [dict(type='PolyLR', eta_min=1e-5, power=0.9, begin=0, end=200,
                        by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=200, val_interval=200)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
log_processor = dict(by_epoch=False)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False, interval=200),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
