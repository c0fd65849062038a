# The small synthetic config with float16 autocast and dynamic loss scaling (AmpOptimWrapper,
# GPU); see ./baclip_convnext-l_1xb4-30e_ovcamo-384_amp-fp16.py.
_base_ = ['./baclip_convnext-tiny-random_1xb4-6e_ovcamo-synthetic-192.py']
optim_wrapper = dict(type='AmpOptimWrapper', dtype='float16', loss_scale='dynamic')
