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
# Checkpoints load with torch.load(weights_only=True) (torch >= 2.6 default); keep this hook when
# you set your own custom_hooks.
custom_hooks = [dict(type='WeightsOnlyCheckpointHook')]
