# Ablation row "MREM w/o text direction": vision refines text only (text queries vision).
_base_ = ['../baclip_convnext-l_ovcamo.py']
model = dict(align_neck=dict(text_to_vision=False, vision_to_text=True))
