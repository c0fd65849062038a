"""Tiny training configs and tool loading for the engine tests (CPU, seconds per run)."""
import importlib.util
import os
import os.path as osp
import sys
from typing import Optional, Sequence

from mmengine.config import Config

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SMALL_CONFIG = osp.join(REPO_ROOT, 'configs', 'baclip',
                        'baclip_convnext-tiny-random_1xb4-6e_ovcamo-synthetic-192.py')
SIZE = 64


def _pipelines(cfg: Config, size: int) -> None:
    for pipeline in (cfg.train_pipeline, cfg.test_pipeline):
        for step in pipeline:
            if step['type'] == 'Resize':
                step['scale'] = (size, size)


def tiny_cfg(data_root: str, work_dir: str, *, loop: str = 'iter', max_iters: int = 4,
             max_epochs: int = 2, interval: int = 2, batch_size: int = 2, size: int = SIZE,
             val: bool = False, extra_hooks: Sequence[dict] = (),
             base: str = SMALL_CONFIG, seed: int = 0) -> Config:
    """The small synthetic config, shrunk: ``size`` px inputs, one-block CCE, no workers.

    Args:
        loop (str): ``'iter'`` (IterBasedTrainLoop, ``max_iters``, checkpoints every
            ``interval`` iterations) or ``'epoch'`` (``max_epochs``, every ``interval`` epochs).
        val (bool): Validate at the end of training (and at each checkpoint).
    """
    cfg = Config.fromfile(base)
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed)
    _pipelines(cfg, size)
    cfg.model.data_preprocessor.size = (size, size)
    cfg.model.neck.num_blocks = 1
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[name]
        loader.num_workers = 0
        loader.persistent_workers = False
        loader.dataset.data_root = data_root
        loader.dataset.pipeline = (cfg.train_pipeline if name == 'train_dataloader'
                                   else cfg.test_pipeline)
    cfg.train_dataloader.batch_size = batch_size
    by_epoch = loop == 'epoch'
    if by_epoch:
        cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                             val_interval=interval)
        total = max_epochs
    else:
        cfg.train_dataloader.sampler = dict(type='InfiniteSampler', shuffle=True)
        cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                             val_interval=interval)
        total = max_iters
    cfg.param_scheduler = [dict(type='CosineAnnealingLR', T_max=total, eta_min=1e-5,
                                by_epoch=by_epoch, begin=0, end=total,
                                convert_to_iter_based=by_epoch)]
    cfg.log_processor = dict(by_epoch=by_epoch)
    # The shipped configs' logger (rank 0 alone writes the test-metrics JSON; with mmengine's
    # LoggerHook two ranks write it at once and can leave it corrupt).
    cfg.default_hooks.logger = dict(type='RankZeroLoggerHook', interval=1,
                                    log_metric_by_epoch=by_epoch)
    cfg.default_hooks.checkpoint = dict(type='AtomicCheckpointHook', by_epoch=by_epoch,
                                        interval=interval, max_keep_ckpts=-1, save_best=None)
    if not val:
        cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.custom_hooks = list(cfg.custom_hooks) + list(extra_hooks)
    return cfg


def write_frozen_weight_files(folder: str, seed: int = 0, base: str = SMALL_CONFIG) -> dict:
    """The small config's frozen weights as files in the real formats, random values.

    Returns:
        dict: ``clip``: a CLIP in open_clip's ``open_clip_pytorch_model.bin`` format;
        ``sam``: SAM's prompt encoder and mask decoder under the keys of
        ``sam_vit_b_01ec64.pth`` (``prompt_encoder.*``, ``mask_decoder.*``).
    """
    import open_clip
    import torch
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import mmseg_baclip  # noqa: F401  (registers SAMPromptHead)
    cfg = Config.fromfile(base)
    os.makedirs(folder, exist_ok=True)
    paths = dict(clip=osp.join(folder, 'open_clip_pytorch_model.bin'),
                 sam=osp.join(folder, 'sam_vit_b_01ec64.pth'))
    torch.manual_seed(seed)
    clip = open_clip.create_model(cfg.model.backbone.model_name, pretrained=None)
    torch.save(clip.state_dict(), paths['clip'])
    init_default_scope('mmseg')
    head = MODELS.build(dict(cfg.model.decode_head, checkpoint=None))
    sam = {f'{part}.{k}': v for part in ('prompt_encoder', 'mask_decoder')
           for k, v in getattr(head, part).state_dict().items()}
    torch.save(sam, paths['sam'])
    return paths


def use_frozen_weight_files(cfg: Config, files: dict) -> Config:
    """Read the CLIP towers and SAM from ``files`` (:func:`write_frozen_weight_files`)."""
    cfg.model.backbone.checkpoint = files['clip']
    cfg.model.text_encoder.checkpoint = files['clip']
    cfg.model.decode_head.checkpoint = files['sam']
    return cfg


def write_cfg(cfg: Config, path: str) -> str:
    cfg.dump(path)
    return path


def load_tool(name: str):
    """Import ``tools/<name>.py`` as a module (its ``main(argv)`` runs in this process)."""
    path = osp.join(REPO_ROOT, 'tools', f'{name}.py')
    module_name = f'_baclip_tool_{name}'
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[module_name] = module
    return sys.modules[module_name]


def state_dict_of(path: str, prefix: Optional[str] = None) -> dict:
    import torch
    state = torch.load(path, map_location='cpu', weights_only=True)['state_dict']
    return {k: v for k, v in state.items() if prefix is None or k.startswith(prefix)}


def train(cfg: Config, path: str, *args: str, name: Optional[str] = None):
    """Write ``cfg`` to ``path`` and run ``tools/train.py`` on it in this process.

    Args:
        args: More command-line arguments (``--resume``, ``--unsafe-load``...).
        name (str, optional): A unique experiment name (mmengine keys its logger, message hub
            and visualizer by it); default: the file name.

    Returns:
        Runner: The runner after training.
    """
    write_cfg(cfg, path)
    name = name or osp.splitext(osp.basename(path))[0]
    return load_tool('train').main([path, *args, '--cfg-options', f'experiment_name={name}'])


def test_tool(cfg_path: str, checkpoint: str, *args: str, name: str) -> dict:
    """Run ``tools/test.py`` in this process; returns the metrics."""
    return load_tool('test').main([cfg_path, checkpoint, *args,
                                   '--cfg-options', f'experiment_name={name}'])


test_tool.__test__ = False  # not a pytest test
