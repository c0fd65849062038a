"""Benchmark: the COS metric stage, sequential py_sod_metrics against ours (not a test).

Both sides score the same predictions and GTs, synthetic and already decoded in memory (no file
is read or written; ``benchmark_eval.py`` times the whole folder evaluation with its reading):

* **sequential**: the COS papers' class-agnostic evaluation: one ``Smeasure``,
  ``WeightedFmeasure``, ``MAE``, ``Emeasure`` and ``Fmeasure`` of ``py_sod_metrics``, each
  stepped on every image, one after the other;
* **ours**: ``compute_image_measures`` per image (which also gives the IoU of the class-aware
  tables), then ``aggregate_measures`` (what ``COSMetric``, ``OVCOSMetric`` and
  ``eval_predictions.py`` run), in this process (1 worker) and in ``--workers``
  forked processes (``folder_eval.parallel_map``, pool start included; the maps reach the
  workers through the fork, only the per-image records come back).

Timing (``--timing-images`` pairs, ``--repeats`` interleaved runs, the fastest counts, since the
machine may be shared) prints wall and CPU ms per image (CPU: this process and its workers, which
other jobs on a shared machine disturb less), the speed-ups and the largest absolute difference
of every reported number (S, wF, MAE, mean / max / adaptive E and F). Then, unless
``--num-images 0``, each side runs once more in its own process on a streamed
``--num-images``-image run: image i is made when it is scored (a copy of one of 16 synthetic
pairs), only its record (6 scalars and three 256-value curves) is kept, never the maps. That
prints the main process's peak RSS (the kernel's ``VmHWM``; ``getrusage`` would report the
launching process's peak, which Linux carries across ``exec``) and its RSS after the imports,
each worker's peak RSS and private memory (sampled), the wall time of the run and of the whole
process (start and imports included), and that the two sides' results agree::

    python .dev_scripts/benchmark_cos_eval.py --size 450x600 --timing-images 120 --num-images 4121

The default size, 450x600 (H x W), is at the large end of NC4K's images (about 400-500 x
300-600 px). About 5 minutes on 2 cores, most of it the sequential side's streamed run;
``--num-images 1000`` shortens that, ``--num-images 0`` skips it.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import threading
import time
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import py_sod_metrics as psm

#: The reported numbers (keys of ``aggregate_measures``): S, wF, MAE, E and F.
COS_NUMBERS = ('sm', 'wfm', 'mae', 'adpem', 'avgem', 'maxem', 'adpfm', 'avgfm', 'maxfm')
POOL_SIZE = 16

_PAIRS: List[Tuple[np.ndarray, np.ndarray]] = []  # (pred, gt) of the run, read by the workers


def synthetic_pair(rng: np.random.Generator, size_hw: Tuple[int, int],
                   empty: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """One synthetic (prediction, GT): 1-3 filled ellipses, and their blurred, noisy copy.

    Args:
        rng (np.random.Generator): Random source (advanced by the call).
        size_hw (tuple[int, int]): (H, W).
        empty (bool): An empty GT (the prediction is then noise only).

    Returns:
        tuple[np.ndarray, np.ndarray]: Prediction and GT, uint8 of shape (H, W); GT in {0, 255}.
    """
    height, width = size_hw
    gt = np.zeros(size_hw, np.uint8)
    if not empty:
        for _ in range(int(rng.integers(1, 4))):
            center = (int(rng.integers(width // 5, 4 * width // 5)),
                      int(rng.integers(height // 5, 4 * height // 5)))
            axes = (int(rng.integers(width // 20, width // 4)),
                    int(rng.integers(height // 20, height // 4)))
            cv2.ellipse(gt, center, axes, float(rng.integers(0, 180)), 0, 360, 255, -1)
    blurred = cv2.GaussianBlur(gt.astype(np.float32), (0, 0), max(2.0, width / 100))
    noise = cv2.GaussianBlur(rng.normal(0, 60, size_hw).astype(np.float32), (0, 0), 3)
    pred = np.clip(blurred * rng.uniform(0.5, 1.0) + noise + 40, 0, 255).astype(np.uint8)
    return pred, gt


def make_pairs(num: int, size_hw: Tuple[int, int], seed: int = 0
               ) -> List[Tuple[np.ndarray, np.ndarray]]:
    """``num`` synthetic (pred, GT) uint8 pairs of shape (H, W); one GT in 40 is empty."""
    rng = np.random.default_rng(seed)
    return [synthetic_pair(rng, size_hw, empty=index % 40 == 39) for index in range(num)]


class SequentialEvaluator:
    """The COS papers' evaluation: each py_sod_metrics measure stepped on every image."""

    def __init__(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # Fmeasure's deprecation notice
            self.fm = psm.Fmeasure()
        self.measures = (psm.Smeasure(), psm.WeightedFmeasure(), psm.MAE(), psm.Emeasure(),
                         self.fm)

    def step(self, pred: np.ndarray, gt: np.ndarray) -> None:
        for measure in self.measures:
            measure.step(pred, gt)

    def results(self) -> Dict[str, float]:
        sm, wfm, mae, em, fm = (m.get_results() for m in self.measures)
        out = dict(sm=sm['sm'], wfm=wfm['wfm'], mae=mae['mae'])
        for key, info in (('em', em['em']), ('fm', fm['fm'])):
            out.update({'adp' + key: info['adp'], 'avg' + key: info['curve'].mean(),
                        'max' + key: info['curve'].max()})
        return {key: float(out[key]) for key in COS_NUMBERS}


def sequential(pairs: Sequence[Tuple[np.ndarray, np.ndarray]]) -> Dict[str, float]:
    evaluator = SequentialEvaluator()
    for pred, gt in pairs:
        evaluator.step(pred, gt)
    return evaluator.results()


def _measure(index: int) -> dict:
    from mmseg_baclip.evaluation import compute_image_measures
    pred, gt = _PAIRS[index]
    return compute_image_measures(pred, gt)


def _measure_streamed(index: int) -> dict:
    from mmseg_baclip.evaluation import compute_image_measures
    pred, gt = (array.copy() for array in _PAIRS[index % len(_PAIRS)])  # a fresh map, as read
    return compute_image_measures(pred, gt)


def ours(num: int, workers: int, streamed: bool = False) -> Dict[str, float]:
    """Our metric stage on ``_PAIRS`` (or, streamed, on ``num`` copies cycling through them)."""
    from mmseg_baclip.evaluation import aggregate_measures
    from mmseg_baclip.evaluation.folder_eval import parallel_map
    records = parallel_map(_measure_streamed if streamed else _measure, range(num), workers)
    results = aggregate_measures(records)
    return {key: results[key] for key in COS_NUMBERS}


def max_differences(a: Dict[str, float], b: Dict[str, float]) -> Dict[str, float]:
    return {key: abs(a[key] - b[key]) for key in COS_NUMBERS}


def _cpu_s() -> float:
    """CPU seconds used by this process and its finished children (the pool's workers)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def time_sides(num: int, size_hw: Tuple[int, int], workers: int, repeats: int) -> dict:
    """Interleaved runs of the three variants on the same in-memory pairs; fastest counts.

    Wall time is what a user waits; CPU time (process and workers) is the work done, which
    other jobs on a shared machine disturb less.
    """
    global _PAIRS
    import mmseg_baclip.evaluation  # noqa: F401  (imported before the clock starts)
    _PAIRS = make_pairs(num, size_hw)
    names = ('sequential', 'ours_1w', 'ours_nw')
    wall = {name: float('inf') for name in names}
    cpu = {name: float('inf') for name in names}
    results, load = {}, []
    for _ in range(repeats):
        load.append(os.getloadavg()[0])
        for name, run in (('sequential', lambda: sequential(_PAIRS)),
                          ('ours_1w', lambda: ours(num, 1)),
                          ('ours_nw', lambda: ours(num, workers))):
            start, start_cpu = time.perf_counter(), _cpu_s()
            results[name] = run()
            wall[name] = min(wall[name], time.perf_counter() - start)
            cpu[name] = min(cpu[name], _cpu_s() - start_cpu)
    return dict(images=num, size=f'{size_hw[0]}x{size_hw[1]}', workers=workers, repeats=repeats,
                load_avg_1min=load, ms_per_image={k: 1000 * v / num for k, v in wall.items()},
                cpu_ms_per_image={k: 1000 * v / num for k, v in cpu.items()},
                speedup_1w=wall['sequential'] / wall['ours_1w'],
                speedup_nw=wall['sequential'] / wall['ours_nw'],
                cpu_ratio_1w=cpu['sequential'] / cpu['ours_1w'],
                cpu_ratio_nw=cpu['sequential'] / cpu['ours_nw'],
                max_abs_diff={name: max_differences(results['sequential'], results[name])
                              for name in ('ours_1w', 'ours_nw')},
                results=results)


def _status_mb(field: str, pid: str = 'self') -> float:
    """A memory line of /proc/<pid>/status (VmRSS: now, VmHWM: peak) in MiB; 0 if gone."""
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _private_mb(pid: int) -> float:
    """Memory only this process maps (Private_Clean + Private_Dirty of /proc/<pid>/smaps_rollup)
    in MiB: what a forked worker adds to its parent. 0 if the process is gone. Reading it walks
    the page tables (about 30 ms for a process that imported torch), so it is sampled rarely."""
    total = 0.0
    try:
        with open(f'/proc/{pid}/smaps_rollup') as f:
            for line in f:
                if line.startswith(('Private_Clean:', 'Private_Dirty:')):
                    total += int(line.split()[1]) / 1024
    except OSError:
        pass
    return total


def _children(parent: int) -> List[int]:
    """Processes whose parent is ``parent`` (the pool's workers)."""
    pids = []
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open(f'/proc/{entry}/stat') as f:
                    fields = f.read().rsplit(')', 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:  # fields: state, ppid, ...
                pids.append(int(entry))
    return pids


class MemorySampler(threading.Thread):
    """Peak memory of this process's children (the pool's workers), sampled.

    Every ``interval`` s it reads each worker's peak RSS (``VmHWM``, cheap), and every
    ``private_interval`` s its private memory (pages no other process maps; the rest of a
    forked worker's RSS is shared with the main process).
    """

    def __init__(self, interval: float = 0.1, private_interval: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.interval, self.private_interval = interval, private_interval
        self.peak = dict(worker_rss=0.0, worker_private=0.0)
        self._done = threading.Event()

    def run(self) -> None:
        me, children, scanned, private_read = os.getpid(), [], 0.0, 0.0
        while not self._done.is_set():
            now = time.monotonic()
            if now - scanned > 1.0:  # the workers start once, with the pool
                children, scanned = _children(me), now
            for pid in children:
                self.peak['worker_rss'] = max(self.peak['worker_rss'],
                                              _status_mb('VmHWM', str(pid)))
            if children and now - private_read > self.private_interval:
                private_read = now
                self.peak['worker_private'] = max(
                    [self.peak['worker_private']] + [_private_mb(pid) for pid in children])
            self._done.wait(self.interval)

    def stop(self) -> Dict[str, float]:
        self._done.set()
        self.join()
        return self.peak


def memory_side(side: str, num: int, size_hw: Tuple[int, int], workers: int) -> dict:
    """One side of the streamed run, in this (fresh) process."""
    global _PAIRS
    if side == 'ours':
        import mmseg_baclip.evaluation  # noqa: F401  (what eval_predictions.py imports)
    rss_after_import = _status_mb('VmRSS')
    _PAIRS = make_pairs(POOL_SIZE, size_hw)
    sampler = MemorySampler()
    sampler.start()
    start = time.perf_counter()
    if side == 'sequential':
        evaluator = SequentialEvaluator()
        for index in range(num):
            pred, gt = (array.copy() for array in _PAIRS[index % POOL_SIZE])
            evaluator.step(pred, gt)
        results = evaluator.results()
    else:
        results = ours(num, workers, streamed=True)
    seconds = time.perf_counter() - start
    peak = sampler.stop()
    return dict(side=side, images=num, workers=workers if side == 'ours' else 1,
                rss_after_import_mb=rss_after_import, peak_rss_mb=_status_mb('VmHWM'),
                worker_peak_rss_mb=peak['worker_rss'],
                worker_peak_private_mb=peak['worker_private'], run_s=seconds, results=results)


def run_memory(num: int, size_hw: Tuple[int, int], workers: int) -> List[dict]:
    rows = []
    for side in ('sequential', 'ours'):
        command = [sys.executable, osp.abspath(__file__), '--memory-side', side, '--num-images',
                   str(num), '--size', f'{size_hw[0]}x{size_hw[1]}', '--workers', str(workers)]
        start = time.perf_counter()
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        row['process_s'] = time.perf_counter() - start
        rows.append(row)
    return rows


def _size(text: str) -> Tuple[int, int]:
    height, width = (int(v) for v in text.lower().split('x'))
    return height, width


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', type=_size, default=(450, 600), help='H x W of every image')
    parser.add_argument('--timing-images', type=int, default=120)
    parser.add_argument('--num-images', type=int, default=4121,
                        help='images of the streamed peak-memory run (0: skip it)')
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1)
    parser.add_argument('--repeats', type=int, default=3,
                        help='interleaved timing runs of each variant; the fastest counts')
    parser.add_argument('--out', help='also write the figures to this JSON file')
    parser.add_argument('--memory-side', choices=('sequential', 'ours'), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_side:  # the child process of run_memory
        print(json.dumps(memory_side(args.memory_side, args.num_images, args.size,
                                     args.workers)))
        return

    report = dict(cpus=os.cpu_count())
    if args.timing_images > 0:
        timing = time_sides(args.timing_images, args.size, args.workers, args.repeats)
        report['timing'] = timing
        ms, cpu = timing['ms_per_image'], timing['cpu_ms_per_image']
        print(f'metric stage, {timing["images"]} images of {timing["size"]} in memory, best of '
              f'{timing["repeats"]} interleaved runs; 1-min load average before each: '
              f'{[round(v, 2) for v in timing["load_avg_1min"]]} ({report["cpus"]} CPUs)')
        print(f'  {"":<26} {"wall ms/image":>13} {"speed-up":>8} {"CPU ms/image":>12} '
              f'{"CPU ratio":>9}')
        for name, label, ratio_key in (
                ('sequential', 'sequential py_sod_metrics', None),
                ('ours_1w', 'ours, 1 worker', '1w'),
                ('ours_nw', f'ours, {timing["workers"]} workers', 'nw')):
            speedup = f'{timing["speedup_" + ratio_key]:.2f}x' if ratio_key else ''
            ratio = f'{timing["cpu_ratio_" + ratio_key]:.2f}x' if ratio_key else ''
            print(f'  {label:<26} {ms[name]:>13.1f} {speedup:>8} {cpu[name]:>12.1f} {ratio:>9}')
        diffs = timing['max_abs_diff']
        print(f'  largest |ours - sequential| over S, wF, MAE and mean/max/adaptive E and F: '
              f'{max(diffs["ours_1w"].values()):.1e} (1 worker), '
              f'{max(diffs["ours_nw"].values()):.1e} ({timing["workers"]} workers)')
    if args.num_images > 0:
        rows = run_memory(args.num_images, args.size, args.workers)
        report['memory'] = rows
        print(f'streamed run, {args.num_images} images of {args.size[0]}x{args.size[1]}, '
              'each side in its own process (records kept, maps not):')
        for row in rows:
            print(f'  {row["side"]:<10} {row["workers"]} worker(s): main process peak RSS '
                  f'{row["peak_rss_mb"]:.0f} MiB ({row["rss_after_import_mb"]:.0f} MiB after the '
                  f'imports, +{row["peak_rss_mb"] - row["rss_after_import_mb"]:.0f} MiB in the '
                  f'run); run {row["run_s"]:.1f} s, whole process {row["process_s"]:.1f} s')
            if row['worker_peak_rss_mb']:
                print(f'  {"":<10} each worker: peak RSS {row["worker_peak_rss_mb"]:.0f} MiB, of '
                      f'which about {row["worker_peak_private_mb"]:.0f} MiB its own (sampled each '
                      f'second; the rest is shared with the main process)')
        diffs = max_differences(rows[0]['results'], rows[1]['results'])
        print(f'  max |ours - sequential| over the streamed run: {max(diffs.values()):.1e}')
        report['memory_max_abs_diff'] = diffs
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=2)
        print(f'written to {args.out}')


if __name__ == '__main__':
    main()
