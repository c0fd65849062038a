"""Test a trained model: class-aware OVCOS metrics, optional prediction files and pictures.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out DIR] [--show-dir DIR]
                                           [--unsafe-load] [--cfg-options k=v ...]
                                           [--launcher ...]

Which checkpoint to report: the final epoch's, ``<work dir>/epoch_30.pth`` for the paper config
(as OVCoser reports; no config chooses a checkpoint on the test split). Only
``configs/baclip/*_val-train-holdout.py`` keeps ``best_cIoU_epoch_N.pth``, chosen on a
held-out tenth of the training images; say which one you report.

The output folders (``--work-dir``, ``--out``, ``--show-dir``) are checked before anything
is built. ``--out DIR`` writes the predictions as ``[class]<mask name>.png`` (the official OVCamo
format)
through the OVCOSMetric; ``--show-dir DIR`` draws pictures of the predictions. The metrics are
logged and written as JSON to ``<work dir>/<timestamp>/<timestamp>.json``.

The Runner is the one the config names (``runner_type``; the shipped configs name
``BaCLIPRunner``), as mmseg's own ``tools/test.py`` builds it: the checkpoint is loaded with
``torch.load(weights_only=True)`` on every scheme and must fit the model built from CONFIG (an
error names the first mismatched keys). What this script adds to mmseg's: ``none`` as the
checkpoint, ``--out`` through the OVCOSMetric (official ``[class]<mask name>.png`` files),
``--unsafe-load`` (trusted old pickles only; for this run, not written into any config), output
folders checked before anything is built, torchrun on CPU-only machines, and one-line errors
for the Runner's checks.
Several GPUs: ``bash tools/dist_test.sh CONFIG CHECKPOINT GPUS`` (same metrics).
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmseg_baclip  # noqa: E402,F401
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.model import is_model_wrapper  # noqa: E402

from mmseg_baclip.engine import (allow_unsafe_loading, build_runner,  # noqa: E402
                                 setup_cpu_distributed)
from mmseg_baclip.utils.output_paths import OutputPathError, check_output_dir  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and evaluate) a segmentor')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file (the reported numbers: the final '
                        'epoch, e.g. epoch_30.pth), or "none" to evaluate the model as built '
                        '(CLIP/SAM from the local files named in the config, new layers '
                        'untrained)')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument('--out', help='write predictions as "[class]<mask name>.png" here')
    parser.add_argument('--show-dir', help='write pictures of the predictions here')
    parser.add_argument('--wait-time', type=float, default=0, help='interval of --show (s)')
    parser.add_argument('--show', action='store_true', help='show pictures in a window')
    parser.add_argument('--unsafe-load', action='store_true',
                        help='load the checkpoint with torch.load(weights_only=False): ONLY for '
                        'old checkpoints from a trusted source (a crafted file can run code)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def enable_visualization(cfg, args):
    hooks = cfg.default_hooks
    if 'visualization' not in hooks:
        raise RuntimeError('The config has no "visualization" hook; add SegVisualizationHook.')
    hooks.visualization.draw = True
    if args.show:
        hooks.visualization.show = True
        hooks.visualization.wait_time = args.wait_time
    if args.show_dir:
        cfg.visualizer.save_dir = args.show_dir  # mmengine writes under <save_dir>/vis_data
    return cfg


def main(argv=None) -> dict:
    """Run the test; returns the metrics (on every rank)."""
    args = parse_args(argv)
    try:  # before any work: a folder the run could not write would lose it at the end
        for option in ('work_dir', 'out', 'show_dir'):
            if getattr(args, option) is not None:
                check_output_dir(getattr(args, option), '--' + option.replace('_', '-'))
    except OutputPathError as error:
        raise SystemExit(f'error: {error}') from None
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = None if args.checkpoint.lower() == 'none' else args.checkpoint
    if args.show or args.show_dir:
        cfg = enable_visualization(cfg, args)
    if args.out is not None:
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [
            cfg.test_evaluator]
        ovcos = [e for e in evaluators if e.get('type') == 'OVCOSMetric']
        if not ovcos:
            raise ValueError(f'--out writes predictions through OVCOSMetric, but the test '
                             f'evaluator of {args.config} is {[e.get("type") for e in evaluators]}.')
        for evaluator in ovcos:
            evaluator['output_dir'] = args.out
    setup_cpu_distributed(cfg)  # torchrun on CPU-only machines (gloo)
    runner = build_runner(cfg)
    if args.unsafe_load:
        allow_unsafe_loading(runner)
    if cfg.load_from is None:
        # No trained checkpoint: load CLIP/SAM from their local files as training would.
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        model.init_weights()
    return runner.test()


if __name__ == '__main__':
    main()
