# Ablation row "CLIP + conv decoder": no MREM attention (input projections only), no CCE,
# a plain convolutional mask decoder.
_base_ = ['../baclip_convnext-l_ovcamo.py']
model = dict(
    align_neck=dict(text_to_vision=False, vision_to_text=False),
    neck=None,
    decode_head=dict(_delete_=True, type='ConvMaskHead', in_channels=256, channels=64,
                     loss_decode=dict(type='WeightedBCEDiceLoss')))
