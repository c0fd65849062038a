# Ablation row "MREM w/o visual direction": text refines vision only (vision queries text).
_base_ = ['../baclip_convnext-l_ovcamo.py']
model = dict(align_neck=dict(text_to_vision=True, vision_to_text=False))
