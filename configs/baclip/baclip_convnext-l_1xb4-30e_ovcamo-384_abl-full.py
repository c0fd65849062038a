# Ablation row "+ CCE + MREM (full model)": the paper configuration itself.
_base_ = ['../baclip_convnext-l_ovcamo.py']
