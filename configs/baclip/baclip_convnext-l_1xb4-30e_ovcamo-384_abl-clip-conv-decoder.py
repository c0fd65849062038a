# Ablation row "CLIP + conv decoder": no MREM, no CCE; a plain convolutional mask decoder on
# the stride-16 CLIP level (768 channels, 24x24 at 384). The class still comes from CLIP
# zero-shot masked pooling.
_base_ = ['../baclip_convnext-l_ovcamo.py']
model = dict(
    align_neck=None,
    neck=None,
    feature_index=2,
    decode_head=dict(_delete_=True, type='ConvMaskHead', in_channels=768, channels=64,
                     loss_decode=dict(type='WeightedBCEDiceLoss')))
