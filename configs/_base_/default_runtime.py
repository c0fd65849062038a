# Runtime shared by every mmseg_baclip config.
default_scope = 'mmseg'
custom_imports = dict(imports=['mmseg_baclip'], allow_failed_imports=False)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
# The Runner that owns checkpoints (mmseg_baclip.engine.BaCLIPRunner): weights-only loading
# on every scheme, keys and shapes checked before anything is copied, NaN/Inf weights refused,
# slim checkpoints (the frozen CLIP / SAM weights are read from their files, whose sha256 is
# recorded), atomic writes, --resume from the newest complete checkpoint, one training per work
# dir. mmseg's own tools/train.py and tools/test.py build it from runner_type too.
runner_type = 'BaCLIPRunner'
checkpoint_cfg = dict(strict=True, ignore_keys=[], slim=True, unsafe_load=False)
# Hooks (mmseg_baclip.engine); keep them when you set your own custom_hooks:
# - RNGStateHook: checkpoints hold the RNG states, so a resumed run continues exactly.
# - NonFiniteLossHook: a NaN/Inf loss stops training with the iteration in the message.
custom_hooks = [
    dict(type='RNGStateHook'),
    dict(type='NonFiniteLossHook'),
]
