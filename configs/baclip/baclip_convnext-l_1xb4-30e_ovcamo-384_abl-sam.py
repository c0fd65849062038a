# Ablation row "+ SAM (prompt encoder + mask decoder)": no MREM attention, no CCE.
_base_ = ['../baclip_convnext-l_ovcamo.py']
model = dict(align_neck=dict(text_to_vision=False, vision_to_text=False), neck=None)
