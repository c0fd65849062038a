# The README demo: the small BaCLIP on the synthetic open-vocabulary world made by
# tools/dataset_converters/make_synthetic_ov_world.py (data/synthetic_ov_world). Same as the
# random-CLIP small config (./baclip_convnext-tiny-random_1xb4-6e_ovcamo-synthetic-192.py), but
# with the world's two pretrained foundation models, loaded from their files exactly like the
# paper's: the frozen tiny CLIP (an open_clip checkpoint, like the ConvNeXt-L file) and the tiny
# SAM's prompt encoder and mask decoder (Meta's sam_vit_*.pth layout, like sam_vit_b_01ec64.pth);
# and 8 epochs instead of 6. BaCLIP trains on the 14 training classes and is tested on the 61
# unseen ones. This world shows the open-vocabulary mechanism working; it says nothing about
# accuracy on real OVCamo.
_base_ = [
    '../_base_/models/baclip_convnext-tiny.py',
    '../_base_/datasets/ovcamo_synthetic_ov.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_30e_adamw_cosine.py',
]

world_root = 'data/synthetic_ov_world'  # as in the dataset base
clip_checkpoint = world_root + '/clip/open_clip_pytorch_model.bin'  # the world's CLIP
sam_checkpoint = world_root + '/sam/sam_vit_tiny_synthetic.pth'  # the world's SAM
model = dict(
    backbone=dict(checkpoint=clip_checkpoint),
    text_encoder=dict(checkpoint=clip_checkpoint),
    decode_head=dict(checkpoint=sam_checkpoint))

# The small config's schedule with 8 epochs. The demo tests with tools/test.py after training;
# validating on the same split during training would only repeat it (val_begin).
max_epochs = 8
optim_wrapper = dict(optimizer=dict(lr=1e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=1e-5, by_epoch=True, begin=0,
         end=max_epochs, convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs, val_begin=1000)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1, save_best=None))
randomness = dict(seed=0)
