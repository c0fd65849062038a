"""Train a BaCLIP (or any mmseg) model, as mmseg's ``tools/train.py`` does.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp [DTYPE]]
                                 [--unsafe-load] [--cfg-options k=v ...]
                                 [--launcher {none,pytorch,slurm,mpi}]

The Runner is the one the config names (``runner_type``; the shipped configs name
``BaCLIPRunner``, which owns checkpoint loading and saving, see ``mmseg_baclip/engine/runner.py``),
exactly as mmseg's own ``tools/train.py`` builds it. What this script adds to mmseg's:

* ``--resume PATH`` continues from a given checkpoint (mmseg's takes no path); ``--resume``
  alone continues from the newest *complete* checkpoint of the work dir (the Runner skips newer
  broken files, loudly); an empty or truncated checkpoint, or a work dir with nothing but
  broken ones, ends the tool with one line naming the files;
* ``--amp bfloat16`` chooses the autocast dtype (mmseg's ``--amp`` is float16 only);
* ``--unsafe-load`` loads old pickled checkpoints from a trusted source (``weights_only=False``,
  for this run only: it is not written into the work dir's copy of the config);
* ``--launcher pytorch`` (torchrun) also works on machines without CUDA (gloo backend);
* a work dir held by another training ends the tool with one line naming that training, before
  anything is written there (the Runner takes the same lock when it trains, for mmseg's
  ``tools/train.py`` and scripts, but only once it has written its logs).

Multi-GPU / multi-node: ``bash tools/dist_train.sh CONFIG GPUS`` (torchrun, ``--launcher
pytorch``).
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmseg_baclip  # noqa: E402,F401  (registers the plugin, mmcv-lite fallback)
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from mmseg_baclip.engine import (BrokenCheckpointError, WorkDirLock,  # noqa: E402
                                 WorkDirLockedError, allow_unsafe_loading, build_runner,
                                 setup_cpu_distributed)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from the given checkpoint, or from the newest complete '
                        'checkpoint in the work dir when no path is given')
    parser.add_argument('--amp', nargs='?', const='float16', default=None,
                        choices=['float16', 'bfloat16'],
                        help='automatic mixed precision (AmpOptimWrapper, GPU only) with this '
                        'autocast dtype (default float16); the *_amp-bf16 / *_amp-fp16 configs '
                        'do the same')
    parser.add_argument('--unsafe-load', action='store_true',
                        help='load checkpoints with torch.load(weights_only=False): ONLY for old '
                        'checkpoints from a trusted source (a crafted file can run code)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, e.g. model.neck.num_blocks=2')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def build_cfg(args) -> Config:
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        optim_type = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_type == 'AmpOptimWrapper':
            print('AMP training is already enabled in the config.')
        else:
            if optim_type != 'OptimWrapper':
                raise ValueError(f'--amp needs optim_wrapper.type OptimWrapper, got {optim_type}')
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.dtype = args.amp
            cfg.optim_wrapper.loss_scale = 'dynamic' if args.amp == 'float16' else 1.0
    if args.resume is not None:
        cfg.resume = True
        cfg.load_from = None if args.resume == 'auto' else args.resume
    return cfg


def main(argv=None) -> Runner:
    args = parse_args(argv)
    cfg = build_cfg(args)
    setup_cpu_distributed(cfg)  # torchrun on CPU-only machines (gloo)
    try:  # before the Runner writes its logs and config copy into the work dir
        lock = WorkDirLock(cfg.work_dir).acquire()
    except WorkDirLockedError as error:
        raise SystemExit(f'error: {error}') from None
    with lock:
        runner = build_runner(cfg)
        if args.unsafe_load:
            allow_unsafe_loading(runner)
        if lock.takeover:
            runner.logger.warning(lock.takeover)
        try:
            runner.train()
        except BrokenCheckpointError as error:  # --resume: a broken file, or only broken ones
            raise SystemExit(f'error: --resume: {error}') from None
    return runner


if __name__ == '__main__':
    main()
