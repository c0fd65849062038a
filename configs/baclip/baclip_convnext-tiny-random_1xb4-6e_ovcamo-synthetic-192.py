# Small BaCLIP for the README demo: trains in minutes on CPU on the synthetic OVCamo tree made by
# tools/dataset_converters/make_synthetic_ovcamo.py (data/ovcamo_synthetic).
# Same architecture as the paper (frozen CLIP ConvNeXt, MREM, CCE, SAM text-prompted head), but
# a tiny CLIP bundled with mmseg_baclip with RANDOM, frozen weights (no pretrained weights can be
# downloaded here), 64-d necks, a 64-d SAM decoder without SAM weights (the model base), 192x192
# inputs (the dataset base), and a higher learning rate, 6 epochs (below). Random CLIP means the
# zero-shot class is at chance, so class-aware scores are low by construction; the
# class-agnostic scores ("agnostic/...") show what the mask branch learned.
_base_ = [
    '../_base_/models/baclip_convnext-tiny.py',
    '../_base_/datasets/ovcamo_synthetic.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_30e_adamw_cosine.py',
]

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
