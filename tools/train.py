"""Train a BaCLIP (or any mmseg) model with mmengine's Runner.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp [DTYPE]]
                                 [--unsafe-load] [--cfg-options k=v ...]
                                 [--launcher {none,pytorch,slurm,mpi}]

Checkpoints (``--resume``, ``load_from``) are loaded with ``torch.load(weights_only=True)``
whatever the torch version, and must fit the model (see mmseg_baclip.engine);
``--unsafe-load`` allows old pickled checkpoints from a trusted source.

Checkpoints are written atomically (``AtomicCheckpointHook``: a full disk never leaves a partial
file nor deletes the last complete one). ``--resume`` without a path continues from the newest
*complete* checkpoint of the work dir, warning about every newer broken file it skips (empty or
truncated); a work dir without any checkpoint is a loud warning (training starts from scratch),
and one whose checkpoints are all broken is an error. ``--resume PATH`` checks that PATH is
complete.

One training per work dir: the run holds ``<work_dir>/.train.lock`` (``WorkDirLock``, rank 0 only)
until it ends, and a second training started in the same work dir is refused with the pid, host,
start time and command of the run that holds it. The operating system drops the lock when a run
dies; the next run takes over the stale lock file with a warning naming the dead run.

Multi-GPU / multi-node: ``bash tools/dist_train.sh CONFIG GPUS`` (torchrun, ``--launcher
pytorch``).
"""
import argparse
import logging
import os
import os.path as osp
import sys
import warnings

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmseg_baclip  # noqa: E402,F401  (registers the plugin, mmcv-lite fallback)
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.logging import print_log  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from mmseg_baclip.engine import (BrokenCheckpointError, WorkDirLock,  # noqa: E402
                                 WorkDirLockedError, add_required_hooks, check_checkpoint_file,
                                 checkpoint_loading, find_resume_checkpoint,
                                 setup_cpu_distributed)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from the given checkpoint, or from the latest checkpoint '
                        'in the work dir when no path is given')
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
    if args.resume == 'auto':
        cfg.load_from = choose_resume_checkpoint(cfg.work_dir)
        cfg.resume = cfg.load_from is not None
    elif args.resume is not None:
        if '://' not in args.resume:
            try:
                check_checkpoint_file(args.resume)
            except (FileNotFoundError, BrokenCheckpointError) as error:
                raise SystemExit(f'error: --resume {args.resume}: {error}') from None
        cfg.resume = True
        cfg.load_from = args.resume
    return add_required_hooks(cfg)


#: Warnings of the resume choice, repeated in the run's log once the Runner exists.
_RESUME_WARNINGS = []


def _loud(message: str) -> None:
    warnings.warn(message, stacklevel=2)
    _RESUME_WARNINGS.append(message)


def choose_resume_checkpoint(work_dir: str):
    """The checkpoint ``--resume`` (no path) continues from: the newest complete one.

    Args:
        work_dir (str): The run's work dir.

    Returns:
        str | None: The checkpoint, or None (with a loud warning) when the work dir has none.

    Raises:
        SystemExit: Checkpoints exist but none is complete.
    """
    choice = find_resume_checkpoint(work_dir)
    broken = '\n'.join(f'  - {path}: {problem}' for path, problem in choice.skipped)
    if choice.path is None and choice.skipped:
        raise SystemExit(f'error: --resume: no complete checkpoint in {work_dir}:\n{broken}\n'
                         'Delete these files to train from scratch, or give --resume PATH.')
    if choice.path is None:
        _loud(f'--resume: no checkpoint in {work_dir} (no last_checkpoint record, no '
              'epoch_*.pth / iter_*.pth): TRAINING STARTS FROM SCRATCH. Check --work-dir if '
              'you meant to continue a run.')
    elif choice.skipped:
        _loud(f'--resume: skipped {len(choice.skipped)} broken checkpoint(s) newer than the '
              f'newest complete one:\n{broken}\nResuming from {choice.path}.')
    return choice.path


def main(argv=None) -> Runner:
    args = parse_args(argv)
    _RESUME_WARNINGS.clear()
    cfg = build_cfg(args)
    try:  # one training per work dir (rank 0 locks), held until training ends
        lock = WorkDirLock(cfg.work_dir).acquire()
    except WorkDirLockedError as error:
        raise SystemExit(f'error: {error}') from None
    with lock:
        setup_cpu_distributed(cfg)  # torchrun on CPU-only machines (gloo)
        runner = Runner.from_cfg(cfg)
        for message in _RESUME_WARNINGS + ([lock.takeover] if lock.takeover else []):
            print_log(message, logger=runner.logger, level=logging.WARNING)
        with checkpoint_loading(unsafe=args.unsafe_load):
            runner.train()
    return runner


if __name__ == '__main__':
    main()
