"""Mini ablation on the synthetic open-vocabulary world (a benchmark, not a test).

    python .dev_scripts/ablation_synthetic.py [--rows full sam ...] [--seeds 0 1 2]
        [--epochs 8] [--jobs 2] [--out work_dirs/ablation_synthetic]

Runs the paper's Tab. 3 rows (CLIP + conv decoder, + SAM, + CCE, full), its MFMSA-count rows (1-5
blocks in CCE; the full model has 3) and Tab. 5 rows (text->vision only, vision->text only,
without prompt self-attention), the full model with a random instead of the world's pretrained
SAM decoder, and, on request, the feature-scale switches (``norm_levels`` of MREM,
``norm_visual`` of the SAM head), as small variants of the
demo config (``configs/baclip/baclip_convnext-tiny-synclip_1xb4-8e_ovcamo-synthetic-ov-192.py``).
Each row and seed trains with ``tools/train.py`` on the 14 training classes and tests the final
epoch with ``tools/test.py`` on the 61 unseen ones; the table gives mean +- std over seeds of the
class-aware and class-agnostic metrics and the zero-shot accuracy. It prints the table and writes
``results.json`` and ``results.md`` to ``--out``; finished runs are reused when the script is run
again.

The synthetic world shows the mechanism; these numbers say nothing about real OVCamo.
"""
import argparse
import copy
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List

import numpy as np

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

DEMO_CONFIG = 'configs/baclip/baclip_convnext-tiny-synclip_1xb4-8e_ovcamo-synthetic-ov-192.py'
WORLD = 'data/synthetic_ov_world'

# name -> (paper table, overrides merged into the demo config)
ROWS: Dict[str, tuple] = {
    'conv-decoder': ('Tab. 3: CLIP + conv decoder', dict(model=dict(
        align_neck=None, neck=None, feature_index=2,
        decode_head=dict(_delete_=True, type='ConvMaskHead', in_channels=160, channels=64,
                         loss_decode=dict(type='WeightedBCEDiceLoss'))))),
    'sam': ('Tab. 3: + SAM', dict(model=dict(
        align_neck=dict(text_to_vision=False, vision_to_text=False), neck=None))),
    'sam-cce': ('Tab. 3: + SAM + CCE', dict(model=dict(
        align_neck=dict(text_to_vision=False, vision_to_text=False)))),
    'full': ('Tab. 3: + SAM + CCE + MREM (full)', {}),
    't2v-only': ('Tab. 5: text->vision only', dict(model=dict(
        align_neck=dict(text_to_vision=True, vision_to_text=False)))),
    'v2t-only': ('Tab. 5: vision->text only', dict(model=dict(
        align_neck=dict(text_to_vision=False, vision_to_text=True)))),
    'no-prompt-sa': ('Tab. 5: w/o prompt self-attention', dict(model=dict(
        decode_head=dict(prompt_self_attention=False)))),
    'mfmsa-x1': ('MFMSA count: 1 block in CCE', dict(model=dict(neck=dict(num_blocks=1)))),
    'mfmsa-x2': ('MFMSA count: 2 blocks in CCE', dict(model=dict(neck=dict(num_blocks=2)))),
    'mfmsa-x4': ('MFMSA count: 4 blocks in CCE', dict(model=dict(neck=dict(num_blocks=4)))),
    'mfmsa-x5': ('MFMSA count: 5 blocks in CCE', dict(model=dict(neck=dict(num_blocks=5)))),
    'full-random-sam': ('full, SAM decoder not pretrained (random)', dict(model=dict(
        decode_head=dict(checkpoint=None)))),
    'full-no-feature-norms': ('full, without the LayerNorm2d on CLIP levels and E_v*',
                              dict(model=dict(align_neck=dict(norm_levels=False),
                                              decode_head=dict(norm_visual=False)))),
}
PAPER_ROWS = ['conv-decoder', 'sam', 'sam-cce', 'full', 't2v-only', 'v2t-only', 'no-prompt-sa',
              'mfmsa-x1', 'mfmsa-x2', 'mfmsa-x4', 'mfmsa-x5']
DEFAULT_ROWS = PAPER_ROWS + ['full-random-sam']
COLUMNS = [('cIoU', 'cIoU'), ('cSm', 'cSm'), ('cFwb', 'cFwb'), ('cMAE', 'cMAE'),
           ('acc', 'top-1'), ('agnostic/cIoU', 'IoU (agn.)'), ('agnostic/cSm', 'Sm (agn.)')]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--rows', nargs='+', default=DEFAULT_ROWS, choices=sorted(ROWS))
    p.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    p.add_argument('--epochs', type=int, default=8, help='training epochs per run (8 = the demo)')
    p.add_argument('--jobs', type=int, default=1,
                   help='runs at a time (each gets OMP_NUM_THREADS = cores / jobs)')
    p.add_argument('--out', default='work_dirs/ablation_synthetic')
    return p.parse_args(argv)


def write_config(row: str, seed: int, epochs: int, path: str) -> None:
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO_ROOT, DEMO_CONFIG))
    cfg.merge_from_dict(copy.deepcopy(ROWS[row][1]))
    cfg.randomness = dict(seed=seed)
    cfg.train_cfg.max_epochs = epochs
    cfg.param_scheduler[0].update(T_max=epochs, end=epochs)
    cfg.default_hooks.checkpoint.interval = epochs
    cfg.dump(path)


def latest_metrics(work_dir: str) -> dict:
    files = [f for f in glob.glob(osp.join(work_dir, '*', '*.json'))
             if osp.basename(osp.dirname(f)) + '.json' == osp.basename(f)]
    if not files:
        raise FileNotFoundError(f'no test metrics under {work_dir}')
    with open(max(files, key=osp.getmtime), encoding='utf-8') as f:
        return json.load(f)


def run_one(row: str, seed: int, epochs: int, out: str, threads: int) -> dict:
    """Train and test one (row, seed); returns the test metrics (cached on disk)."""
    work = osp.join(out, row, f'seed{seed}')
    done = osp.join(work, 'metrics.json')
    if osp.isfile(done):
        with open(done, encoding='utf-8') as f:
            return json.load(f)
    os.makedirs(work, exist_ok=True)
    cfg_path = osp.join(work, 'config.py')
    write_config(row, seed, epochs, cfg_path)
    py = sys.executable
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    start = time.perf_counter()
    for cmd, log in (([py, 'tools/train.py', cfg_path, '--work-dir', work], 'train.log'),
                     (None, 'test.log')):
        if cmd is None:
            ckpt = osp.join(work, f'epoch_{epochs}.pth')
            cmd = [py, 'tools/test.py', cfg_path, ckpt, '--work-dir', osp.join(work, 'test')]
        with open(osp.join(work, log), 'w') as f:
            if subprocess.run(cmd, cwd=REPO_ROOT, stdout=f, stderr=subprocess.STDOUT,
                              env=env).returncode:
                raise RuntimeError(f'{row} seed {seed}: {" ".join(cmd[1:3])} failed, see '
                                   f'{osp.join(work, log)}')
    metrics = latest_metrics(osp.join(work, 'test'))
    metrics['seconds'] = round(time.perf_counter() - start, 1)
    with open(done, 'w', encoding='utf-8') as f:
        json.dump(metrics, f)
    return metrics


def table(results: Dict[str, List[dict]]) -> str:
    lines = ['| row | ' + ' | '.join(name for _, name in COLUMNS) + ' |',
             '|---|' + '---|' * len(COLUMNS)]
    for row, runs in results.items():
        cells = []
        for key, _ in COLUMNS:
            values = np.array([r.get(key, np.nan) for r in runs], dtype=float)
            cells.append(f'{values.mean():.3f} ± {values.std(ddof=1) if len(values) > 1 else 0:.3f}')
        lines.append(f'| {ROWS[row][0]} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    os.chdir(REPO_ROOT)
    if not osp.isfile(osp.join(WORLD, 'world.json')):
        subprocess.run([sys.executable, 'tools/dataset_converters/make_synthetic_ov_world.py',
                        '--out', WORLD], check=True)
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    jobs = [(row, seed) for row in args.rows for seed in args.seeds]

    def run(job):
        row, seed = job
        metrics = run_one(row, seed, args.epochs, args.out, threads)
        print(f'[ablation] {row} seed {seed}: cIoU {metrics["cIoU"]:.3f} top-1 '
              f'{metrics["acc"]:.3f} agnostic IoU {metrics["agnostic/cIoU"]:.3f} '
              f'({metrics.get("seconds", 0):.0f} s)', flush=True)
        return metrics

    with ThreadPoolExecutor(args.jobs) as pool:
        finished = list(pool.map(run, jobs))
    results = {row: [] for row in args.rows}
    for (row, _), metrics in zip(jobs, finished):
        results[row].append(metrics)
    text = (f'Synthetic open-vocabulary world, 61 unseen test classes, {args.epochs} epochs, '
            f'seeds {args.seeds} (mean ± std); class-aware metrics (c*), zero-shot top-1 with the '
            'predicted masks, and class-agnostic (agn.) IoU/Sm.\n\n' + table(results))
    print(text)
    with open(osp.join(args.out, 'results.md'), 'w', encoding='utf-8') as f:
        f.write(text + '\n')
    with open(osp.join(args.out, 'results.json'), 'w', encoding='utf-8') as f:
        json.dump(results, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
