# The paper config trained with float16 autocast (AmpOptimWrapper, GPU) and dynamic loss
# scaling. Losses and the CLIP class logits stay float32 (computed outside autocast). Prefer the
# bf16 variant on GPUs that support it (Ampere and newer): float16 can overflow.
_base_ = ['../baclip_convnext-l_ovcamo.py']
optim_wrapper = dict(type='AmpOptimWrapper', dtype='float16', loss_scale='dynamic')
