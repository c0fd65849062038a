"""Benchmark the custom ops of mmseg_baclip against their references (not a test).

Shapes are those of the paper's model (MFMSA and MREM):

* ``multi_freq_pool``: B = 4, K = 16 DCT filters, the three MFCA widths of an MFMSA block at
  C = 256 (c = 256, 128, 64), each pooled to the 14×14 DCT tile first (so the op sees
  B×c×14×14 whatever the scale's resolution).
* ``bidirectional_attention``: B = 4, 8 heads, d = 32, L = 24·24 = 576 vision tokens, N = 14
  (train vocabulary) and 61 (test vocabulary) text tokens; plus N = 61 with padded tokens.

Implementations: ``reference`` (pure PyTorch), ``triton`` (our kernels; CUDA only),
``op-torch`` (the custom op's PyTorch path; CPU only, shows the op overhead), and for
attention ``sdpa`` (two ``F.scaled_dot_product_attention`` calls); ``triton-op`` (CUDA) calls
the registered ``torch.ops.mmseg_baclip`` op directly, as ``torch.compile`` does. Modes: ``fwd`` (under
``torch.no_grad``) and ``fwd+bwd``. Time is the median over ``--iters`` runs (CUDA events on
GPU, ``perf_counter`` on CPU). Peak memory is ``torch.cuda.max_memory_allocated`` above the
inputs on GPU; on CPU it is not measured (PyTorch's CPU allocator is invisible to tracemalloc).
On GPU, ``host ms`` is the time to issue one call (close to ``ms`` = launch-bound) and
``--profile`` adds ``gpu ms``, the kernels' own time from ``torch.profiler``.

Usage::

    python .dev_scripts/benchmark_ops.py --out bench.json            # GPU if present
    python .dev_scripts/benchmark_ops.py --device cpu --iters 10 --out bench_cpu.json
"""
import argparse
import contextlib
import datetime
import json
import os
import platform
import statistics
import time
from typing import Callable, Dict, List, Optional

import torch

from mmseg_baclip.ops import (BACKEND_ENV, bidirectional_attention, multi_freq_pool,
                              triton_available)

OPS = torch.ops.mmseg_baclip


@contextlib.contextmanager
def backend_env(value: str):
    old = os.environ.get(BACKEND_ENV)
    os.environ[BACKEND_ENV] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(BACKEND_ENV, None)
        else:
            os.environ[BACKEND_ENV] = old


def sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def measure(fn: Callable[[], None], device: torch.device, warmup: int, iters: int,
            profile: bool = False) -> Dict:
    """Median time (ms) of ``fn`` and, on CUDA, its peak memory above what is allocated, the
    host time to issue it and (``profile``) the summed kernel time from torch.profiler."""
    for _ in range(warmup):
        fn()
    sync(device)
    times, cpu_times = [], []
    for _ in range(iters):
        if device.type == 'cuda':
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            t0 = time.perf_counter()
            fn()
            cpu_times.append((time.perf_counter() - t0) * 1e3)
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
    peak = None
    if device.type == 'cuda':
        sync(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        sync(device)
        peak = (torch.cuda.max_memory_allocated(device) - base) / 2**20
    result = dict(time_ms=statistics.median(times), min_ms=min(times), peak_mib=peak)
    if cpu_times:  # host time to issue the work; close to time_ms = launch-bound
        result['host_ms'] = statistics.median(cpu_times)
    if profile and device.type == 'cuda':
        from torch.profiler import ProfilerActivity
        n = 20
        with torch.profiler.profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(n):
                fn()
            sync(device)
        total = 0.0
        for e in prof.key_averages():
            total += getattr(e, 'self_device_time_total', None) or getattr(
                e, 'self_cuda_time_total', 0.0)
        result['gpu_ms'] = total / n / 1e3  # kernel time only (profiler)
    return result


def mfp_impls(device: torch.device) -> Dict[str, Callable]:
    impls = {'reference': ('torch', multi_freq_pool)}
    if device.type == 'cuda' and triton_available():
        impls['triton'] = ('triton', multi_freq_pool)
        impls['triton-op'] = ('triton', lambda x, f: OPS.multi_freq_pool(x, f)[0])
    if device.type == 'cpu':
        impls['op-torch'] = ('torch', lambda x, f: OPS.multi_freq_pool(x, f)[0])
    return impls


def attn_impls(device: torch.device) -> Dict[str, Callable]:
    from mmseg_baclip.ops import bidirectional_attention_sdpa
    impls = {'reference': ('torch', bidirectional_attention),
             'sdpa': ('torch', bidirectional_attention_sdpa)}
    if device.type == 'cuda' and triton_available():
        impls['triton'] = ('triton', bidirectional_attention)
        impls['triton-op'] = ('triton', lambda *a: OPS.bidirectional_attention(*a)[:2])
    if device.type == 'cpu':
        impls['op-torch'] = ('torch', lambda *a: OPS.bidirectional_attention(*a)[:2])
    return impls


def run_case(op: str, shape: str, impls: Dict, make_inputs: Callable, device: torch.device,
             args) -> List[Dict]:
    rows = []
    for mode in ('fwd', 'fwd+bwd'):
        for name, (env, fn) in impls.items():
            inputs, mask = make_inputs(grad=(mode == 'fwd+bwd'))
            extra = (mask, ) if op == 'bidirectional_attention' else ()

            def step():
                if mode == 'fwd':
                    with torch.no_grad():
                        fn(*inputs, *extra)
                    return
                outs = fn(*inputs, *extra)
                outs = outs if isinstance(outs, tuple) else (outs, )
                torch.autograd.backward(outs, [torch.ones_like(o) for o in outs])

            row = dict(op=op, shape=shape, impl=name, mode=mode, dtype=str(args.dtype))
            try:
                with backend_env(env):
                    row.update(measure(step, device, args.warmup, args.iters, args.profile))
            except Exception as e:  # report and keep benchmarking the other cases
                row.update(time_ms=None, min_ms=None, peak_mib=None, error=repr(e)[:300])
            rows.append(row)
    for mode in ('fwd', 'fwd+bwd'):
        ref = next((r for r in rows if r['mode'] == mode and r['impl'] == 'reference'), None)
        for r in rows:
            if r['mode'] == mode and ref and ref['time_ms'] and r['time_ms']:
                r['speedup_vs_reference'] = ref['time_ms'] / r['time_ms']
    return rows


def benchmark(args) -> Dict:
    device = torch.device(args.device)
    dtype = args.dtype
    rows: List[Dict] = []
    g = torch.Generator(device='cpu').manual_seed(0)

    def rand(*shape, grad=False):
        t = torch.randn(*shape, generator=g, dtype=torch.float32).to(device=device, dtype=dtype)
        return t.requires_grad_(grad)

    for c in (256, 128, 64):
        filters = rand(16, 14, 14)

        def make_mfp(grad, c=c, filters=filters):
            return (rand(4, c, 14, 14, grad=grad), filters), None

        rows += run_case('multi_freq_pool', f'B4 c{c} 14x14 K16', mfp_impls(device), make_mfp,
                         device, args)
    for n, masked in ((14, False), (61, False), (61, True)):

        def make_attn(grad, n=n, masked=masked):
            qkv = [rand(4, 8, t, 32, grad=grad) for t in (576, 576, 576, n, n, n)]
            mask = None
            if masked:
                mask = torch.ones(4, n, dtype=torch.bool, device=device)
                mask[:, n // 2:] = False
            return qkv, mask

        rows += run_case('bidirectional_attention',
                         f'B4 h8 d32 L576 N{n}' + (' masked' if masked else ''),
                         attn_impls(device), make_attn, device, args)
    meta = dict(
        date=datetime.datetime.now().isoformat(timespec='seconds'),
        device=(torch.cuda.get_device_name(device) if device.type == 'cuda' else
                f'CPU ({platform.processor() or platform.machine()}, '
                f'{torch.get_num_threads()} threads)'),
        torch=torch.__version__, triton=_triton_version(), dtype=str(dtype),
        warmup=args.warmup, iters=args.iters,
        memory=('torch.cuda.max_memory_allocated above the inputs' if device.type == 'cuda'
                else 'not measured on CPU'))
    return dict(meta=meta, results=rows)


def _triton_version() -> Optional[str]:
    if not triton_available():
        return None
    from importlib import metadata
    try:
        return metadata.version('triton')
    except metadata.PackageNotFoundError:
        return 'unknown'


def print_table(report: Dict) -> None:
    meta = report['meta']
    print(f"# {meta['device']} | torch {meta['torch']} | triton {meta['triton']} | "
          f"{meta['dtype']} | median of {meta['iters']} | {meta['date']}")
    head = (f"{'op':<24}{'shape':<26}{'mode':<9}{'impl':<11}{'ms':>9}{'x ref':>8}{'peak MiB':>10}"
            f"{'host ms':>9}{'gpu ms':>9}")
    print(head)
    print('-' * len(head))
    for r in report['results']:
        ms = f"{r['time_ms']:.3f}" if r.get('time_ms') is not None else 'error'
        sp = f"{r['speedup_vs_reference']:.2f}" if r.get('speedup_vs_reference') else ''
        pk = f"{r['peak_mib']:.1f}" if r.get('peak_mib') is not None else 'n/a'
        host = f"{r['host_ms']:.3f}" if r.get('host_ms') is not None else ''
        gpu = f"{r['gpu_ms']:.3f}" if r.get('gpu_ms') is not None else ''
        print(f"{r['op']:<24}{r['shape']:<26}{r['mode']:<9}{r['impl']:<11}{ms:>9}{sp:>8}{pk:>10}"
              f"{host:>9}{gpu:>9}")
        if r.get('error'):
            print(f"    {r['error']}")
    # fastest fwd+bwd implementation per op (what 'auto' should run; see ops/_backend.py)
    best: Dict[str, Dict[str, float]] = {}
    for r in report['results']:
        if r['mode'] == 'fwd+bwd' and r.get('time_ms') and r['impl'] not in ('op-torch',
                                                                              'triton-op'):
            best.setdefault(r['op'], {}).setdefault(r['impl'], 0.0)
            best[r['op']][r['impl']] += r['time_ms']
    for op, totals in best.items():
        ranked = ', '.join(f'{k} {v:.3f} ms' for k, v in sorted(totals.items(), key=lambda i: i[1]))
        print(f'fwd+bwd total over shapes, {op}: {ranked}')


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--dtype', default='float32', choices=['float32', 'float16', 'bfloat16'])
    p.add_argument('--warmup', type=int, default=None, help='default: 10 GPU, 2 CPU')
    p.add_argument('--iters', type=int, default=None, help='default: 100 GPU, 10 CPU')
    p.add_argument('--out', default=None, help='write the results as JSON to this file')
    p.add_argument('--profile', action='store_true',
                   help='CUDA: also report the kernel time per call from torch.profiler')
    args = p.parse_args()
    args.dtype = getattr(torch, args.dtype)
    gpu = args.device.startswith('cuda')
    args.warmup = args.warmup if args.warmup is not None else (10 if gpu else 2)
    args.iters = args.iters if args.iters is not None else (100 if gpu else 10)
    return args


def main():
    args = parse_args()
    report = benchmark(args)
    print_table(report)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=1)
        print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
