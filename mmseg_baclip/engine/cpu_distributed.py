"""torchrun on CPU-only machines: what mmengine's distributed set-up needs there."""
from mmengine.config import Config


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
