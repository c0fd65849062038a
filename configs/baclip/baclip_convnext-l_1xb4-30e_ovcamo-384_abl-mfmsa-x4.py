# Ablation: 4 cascaded MFMSA block(s) in CCE (the paper finds 3 best).
_base_ = ['../baclip_convnext-l_ovcamo.py']
model = dict(neck=dict(num_blocks=4))
