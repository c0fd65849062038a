# BaCLIP's schedule: AdamW, lr 3e-5, batch 4, 30 epochs, cosine annealing; CLIP frozen.
# Weight decay and warm-up are not given by the paper: 5e-4 and none, as OVCoser [inferred].
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='TrainableOnlyOptimWrapperConstructor',  # frozen CLIP/SAM-PE stay out
    optimizer=dict(type='AdamW', lr=3e-5, betas=(0.9, 0.999), weight_decay=5e-4))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=30, eta_min=0.0, by_epoch=True, begin=0, end=30,
         convert_to_iter_based=True)
]
# The reported model is the final epoch's (epoch_30.pth), as OVCoser reports: no checkpoint is
# chosen by a metric, and the val loader (the OVCamo test split, see the dataset base) is run
# once, after the last epoch, so it gives the same numbers as tools/test.py on epoch_30.pth.
# Selection on a held-out part of the training images instead:
# configs/baclip/baclip_convnext-l_1xb4-30e_ovcamo-384_val-train-holdout.py.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=30, val_interval=30)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    # LoggerHook that writes the test-metrics JSON from rank 0 only (safe for dist_test.sh)
    logger=dict(type='RankZeroLoggerHook', interval=50, log_metric_by_epoch=True),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='AtomicCheckpointHook', by_epoch=True, interval=5, max_keep_ckpts=2,
                    save_last=True, save_best=None),  # never select on the test split
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='OVCOSVisualizationHook', max_images=16))
randomness = dict(seed=112358)
