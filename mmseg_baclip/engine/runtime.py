"""Settings that mmseg_baclip's tools enforce on every config they run."""
from mmengine.config import Config

# Hooks without which checkpoints would not load safely or would load silently wrong (and
# FrozenWeightsCheckpointHook: checkpoints without the frozen weights read from files).
REQUIRED_HOOKS = ('WeightsOnlyCheckpointHook', 'StrictCheckpointHook',
                  'FrozenWeightsCheckpointHook')


# mmengine's checkpoint hook, and the subclass that replaces it (failed saves lose nothing).
PLAIN_CHECKPOINT_HOOK, ATOMIC_CHECKPOINT_HOOK = 'CheckpointHook', 'AtomicCheckpointHook'


def add_required_hooks(cfg: Config) -> Config:
    """Append the :data:`REQUIRED_HOOKS` missing from ``cfg.custom_hooks`` and make the
    checkpoint hook an ``AtomicCheckpointHook`` (in place).

    A config that lists one of the required hooks (e.g. ``StrictCheckpointHook`` with
    ``ignore_keys``) keeps its own settings. ``default_hooks.checkpoint`` of type
    ``CheckpointHook`` becomes ``AtomicCheckpointHook`` with the same arguments; a config without
    one gets ``AtomicCheckpointHook(interval=1)``, mmengine's default. A checkpoint hook of
    another type, or ``None`` (no checkpoints), is left alone.

    Args:
        cfg (Config): The config given to the Runner.

    Returns:
        Config: ``cfg``.
    """
    hooks = list(cfg.get('custom_hooks', None) or [])
    present = {h.get('type') if isinstance(h, dict) else type(h).__name__ for h in hooks}
    for name in REQUIRED_HOOKS:
        if name not in present:
            hooks.append(dict(type=name))
    cfg.custom_hooks = hooks
    default_hooks = cfg.get('default_hooks', None)
    if default_hooks is None:
        cfg.default_hooks = dict(checkpoint=dict(type=ATOMIC_CHECKPOINT_HOOK, interval=1))
    elif 'checkpoint' not in default_hooks:
        default_hooks['checkpoint'] = dict(type=ATOMIC_CHECKPOINT_HOOK, interval=1)
    elif (isinstance(default_hooks['checkpoint'], dict)
          and default_hooks['checkpoint'].get('type') in (PLAIN_CHECKPOINT_HOOK,
                                                          f'mmengine.{PLAIN_CHECKPOINT_HOOK}')):
        default_hooks['checkpoint']['type'] = ATOMIC_CHECKPOINT_HOOK
    return cfg


def setup_cpu_distributed(cfg: Config) -> Config:
    """Let ``--launcher pytorch`` (torchrun) run on machines without CUDA (in place).

    mmengine's ``init_dist`` always calls ``torch.cuda.set_device`` and wraps the model in DDP
    with ``device_ids=[LOCAL_RANK]``; both fail without a GPU. Without CUDA this function
    switches the backend to gloo (NCCL needs GPUs), initialises the process group itself (from
    torchrun's environment: ``MASTER_ADDR``, ``RANK``...) so that mmengine skips its own
    initialisation, and sets ``model_wrapper_cfg`` to a CPU DDP (``device_ids=None``) unless
    the config has one. With CUDA, or with ``launcher='none'``, nothing changes.

    Args:
        cfg (Config): The config given to the Runner, with ``cfg.launcher`` set.

    Returns:
        Config: ``cfg``.
    """
    import torch
    import torch.distributed as dist
    from mmengine.logging import print_log

    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available():
        return cfg
    if cfg.launcher != 'pytorch':
        raise RuntimeError(f'--launcher {cfg.launcher} without CUDA is not supported by '
                           'mmengine; use torchrun with --launcher pytorch (gloo backend).')
    env_cfg = cfg.setdefault('env_cfg', {})
    dist_cfg = env_cfg.setdefault('dist_cfg', {})
    if dist_cfg.get('backend', 'nccl') != 'gloo':
        print_log(f'No CUDA: distributed backend {dist_cfg.get("backend", "nccl")!r} -> '
                  "'gloo'.", logger='current')
        dist_cfg['backend'] = 'gloo'
    if not dist.is_initialized():
        kwargs = {k: v for k, v in dist_cfg.items() if k not in ('backend', 'init_backend')}
        dist.init_process_group(backend='gloo', **kwargs)
    if cfg.get('model_wrapper_cfg') is None:
        cfg.model_wrapper_cfg = dict(
            type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    return cfg
