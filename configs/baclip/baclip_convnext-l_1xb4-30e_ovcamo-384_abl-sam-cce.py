# Ablation row "+ CCE": SAM head and 3 MFMSA blocks, no MREM attention.
_base_ = ['../baclip_convnext-l_ovcamo.py']
model = dict(align_neck=dict(text_to_vision=False, vision_to_text=False))
