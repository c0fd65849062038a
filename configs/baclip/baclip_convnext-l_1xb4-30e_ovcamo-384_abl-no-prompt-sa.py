# Ablation row "w/o SA": no self-attention over the text tokens before the SAM prompt projection.
_base_ = ['../baclip_convnext-l_ovcamo.py']
model = dict(decode_head=dict(prompt_self_attention=False))
