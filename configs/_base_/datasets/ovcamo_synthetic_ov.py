# The synthetic open-vocabulary world made by tools/dataset_converters/make_synthetic_ov_world.py
# (data/synthetic_ov_world): its OVCamo-layout tree (14 training classes, 61 unseen test
# classes) with the loaders of ./ovcamo_synthetic.py (192x192). The world's tiny CLIP,
# pretrained there on pictures of all 75 classes, is <world_root>/clip/open_clip_pytorch_model.bin.
_base_ = ['./ovcamo_synthetic.py']

world_root = 'data/synthetic_ov_world'
data_root = world_root + '/ovcamo'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
