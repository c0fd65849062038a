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
# Reliability hooks (mmseg_baclip.engine); keep them when you set your own custom_hooks:
# - WeightsOnlyCheckpointHook: every checkpoint written loads with torch.load(weights_only=True).
# - StrictCheckpointHook: load_from / --resume fail, naming the keys, on a checkpoint that does
#   not fit the model (mmengine would load it partially and only log).
# - FrozenWeightsCheckpointHook: checkpoints leave out the frozen CLIP / SAM weights read from
#   their files (40 MB instead of 1.4 GB) and record each file's sha256; loading reads them
#   from the files again (another file is an error). slim=False writes full checkpoints.
# - RNGStateHook: checkpoints hold the RNG states, so --resume continues exactly.
# - NonFiniteLossHook: a NaN/Inf loss stops training with the iteration in the message.
# tools/train.py and tools/test.py add these three when a config leaves them out, and replace
# default_hooks.checkpoint's CheckpointHook by AtomicCheckpointHook (same arguments): each
# checkpoint is written to a temporary file and renamed, and outdated ones are deleted only
# after that, so a full disk never loses the last complete checkpoint.
custom_hooks = [
    dict(type='WeightsOnlyCheckpointHook'),
    dict(type='StrictCheckpointHook'),
    dict(type='FrozenWeightsCheckpointHook'),
    dict(type='RNGStateHook'),
    dict(type='NonFiniteLossHook'),
]
