# The small synthetic config with bfloat16 autocast (AmpOptimWrapper, GPU); see
# ./baclip_convnext-l_1xb4-30e_ovcamo-384_amp-bf16.py.
_base_ = ['./baclip_convnext-tiny-random_1xb4-6e_ovcamo-synthetic-192.py']
optim_wrapper = dict(type='AmpOptimWrapper', dtype='bfloat16', loss_scale=1.0)
