# The README demo: the small BaCLIP on the synthetic open-vocabulary world made by
# tools/dataset_converters/make_synthetic_ov_world.py (data/synthetic_ov_world). Same as the
# random-CLIP small config, but its frozen tiny CLIP is the one pretrained there on pictures of
# all 75 classes, loaded from its open_clip checkpoint file exactly like the real ConvNeXt-L file.
# BaCLIP trains on the 14 training classes and is tested on the 61 unseen ones. This world shows
# the open-vocabulary mechanism working; it says nothing about accuracy on real OVCamo.
_base_ = ['./baclip_convnext-tiny-random_1xb4-6e_ovcamo-synthetic-192.py']

world_root = 'data/synthetic_ov_world'
data_root = world_root + '/ovcamo'
clip_checkpoint = world_root + '/clip/open_clip_pytorch_model.bin'
model = dict(
    backbone=dict(checkpoint=clip_checkpoint),
    text_encoder=dict(checkpoint=clip_checkpoint))
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
# 8 epochs instead of 6. The demo tests with tools/test.py after training; validating on the
# same split during training would only repeat it.
max_epochs = 8
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs, val_begin=1000)
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=1e-5, by_epoch=True, begin=0,
         end=max_epochs, convert_to_iter_based=True)
]
default_hooks = dict(checkpoint=dict(interval=max_epochs))
