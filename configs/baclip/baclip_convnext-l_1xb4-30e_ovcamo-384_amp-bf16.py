# The paper config trained with bfloat16 autocast (AmpOptimWrapper, GPU). Losses and the CLIP
# class logits stay float32 (computed outside autocast). bf16 has float32's range, so no loss
# scaling is needed (static scale 1; steps with Inf/NaN gradients are still skipped).
_base_ = ['../baclip_convnext-l_ovcamo.py']
optim_wrapper = dict(type='AmpOptimWrapper', dtype='bfloat16', loss_scale=1.0)
