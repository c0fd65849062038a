"""Peak memory and time per training iteration of a BaCLIP config (a benchmark, not a test).

    python .dev_scripts/benchmark_memory.py [CONFIG] [--device cpu|cuda]
        [--dtypes float32 bfloat16 [float16]] [--batch-size 4] [--size 384]
        [--iters 3] [--warmup 1] [--out memory.json] [--cfg-options ...]

Defaults: the paper config (configs/baclip_convnext-l_ovcamo.py), batch 4, 384x384, the 14
training classes as vocabulary, its optimizer (AdamW on the trainable parameters). Weights are
random (the config's checkpoint paths are ignored), which does not change memory or speed.

One full training step per iteration: data preprocessing, forward (frozen CLIP towers without
gradients, MREM, CCE, SAM head), float32 losses, backward, optimizer step. Each dtype runs in
its own process so that peaks do not mix:

- ``cpu``: peak resident memory of the process (``ru_maxrss``), and the resident memory after
  the model is built (weights + framework);
- ``cuda``: ``torch.cuda.max_memory_allocated`` / ``max_memory_reserved`` during training, the
  memory the weights take, and the device memory in use after training (with the CUDA
  context), compared with 24 GiB (the paper's card).

float32 uses ``OptimWrapper``; bfloat16 / float16 use the ``AmpOptimWrapper`` of the
``*_amp-bf16`` / ``*_amp-fp16`` configs on CUDA, and plain ``torch.autocast('cpu',
torch.bfloat16)`` on CPU (mmengine's AmpOptimWrapper refuses CPUs).
"""
import argparse
import contextlib
import json
import os
import os.path as osp
import platform
import resource
import subprocess
import sys
import tempfile
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

GIB = 1024**3
PAPER_CONFIG = osp.join(REPO, 'configs', 'baclip_convnext-l_ovcamo.py')


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config', nargs='?', default=PAPER_CONFIG)
    p.add_argument('--device', default=None, help='cpu or cuda (default: cuda if available)')
    p.add_argument('--dtypes', nargs='+', default=['float32', 'bfloat16'],
                   choices=['float32', 'bfloat16', 'float16'])
    p.add_argument('--batch-size', type=int, default=4)
    p.add_argument('--size', type=int, default=384)
    p.add_argument('--iters', type=int, default=3, help='timed iterations')
    p.add_argument('--warmup', type=int, default=1, help='untimed iterations first')
    p.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    p.add_argument('--out', help='write the figures as JSON here')
    p.add_argument('--cfg-options', nargs='+', default=[],
                   help='key=value overrides, as in tools/train.py')
    p.add_argument('--single', help=argparse.SUPPRESS)  # internal: one dtype, this process
    p.add_argument('--single-out', help=argparse.SUPPRESS)
    return p.parse_args()


def rss_gib() -> float:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) * 1024 / GIB
    return float('nan')


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB  # KiB on Linux


def build(args, device, dtype_name):
    """The model (train mode, on ``device``) and its optim wrapper for ``dtype_name``."""
    import torch
    from mmengine.config import Config, DictAction
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope

    import mmseg_baclip  # noqa: F401
    from mmseg_baclip.utils.init_report import init_weights_without_report
    from mmseg.registry import MODELS

    init_default_scope('mmseg')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:  # parsed as tools/train.py does
        parser = argparse.ArgumentParser()
        parser.add_argument('--cfg-options', nargs='+', action=DictAction)
        cfg.merge_from_dict(parser.parse_args(['--cfg-options', *args.cfg_options]).cfg_options)
    for part in ('backbone', 'text_encoder', 'decode_head'):
        if cfg.model.get(part) is not None and 'checkpoint' in cfg.model[part]:
            cfg.model[part].checkpoint = None  # random weights
    cfg.model.data_preprocessor.size = (args.size, args.size)
    model = MODELS.build(cfg.model)
    init_weights_without_report(model)
    model.to(device).train()
    wrapper_cfg = dict(cfg.optim_wrapper)
    wrapper_cfg['type'] = 'OptimWrapper'
    for key in ('dtype', 'loss_scale'):
        wrapper_cfg.pop(key, None)
    if dtype_name != 'float32' and device == 'cuda':
        wrapper_cfg.update(type='AmpOptimWrapper', dtype=dtype_name,
                           loss_scale='dynamic' if dtype_name == 'float16' else 1.0)
    optim_wrapper = build_optim_wrapper(model, wrapper_cfg)
    return model, optim_wrapper, type(optim_wrapper).__name__


def make_batch(batch_size, size, seed=0):
    import torch
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    from mmseg_baclip.datasets.class_names import OVCAMO_TRAIN_CLASSES

    g = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for i in range(batch_size):
        inputs.append(torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=g))
        mask = torch.zeros(1, size, size, dtype=torch.long)
        mask[:, size // 4:size // 2 + i, size // 5:3 * size // 4] = 1
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=mask)
        sample.set_metainfo(dict(img_shape=(size, size), ori_shape=(size, size),
                                 pad_shape=(size, size), vocabulary=OVCAMO_TRAIN_CLASSES,
                                 class_name=OVCAMO_TRAIN_CLASSES[i % 14]))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def run_single(args, dtype_name) -> dict:
    """One dtype in this process."""
    import torch
    device = args.device
    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = device == 'cuda'
    t0 = time.perf_counter()
    model, optim_wrapper, wrapper_name = build(args, device, dtype_name)
    build_s = time.perf_counter() - t0
    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if not cuda and dtype_name != 'float32':
        wrapper_name += '+autocast'
    result = dict(dtype=dtype_name, device=device, optim_wrapper=wrapper_name,
                  batch_size=args.batch_size, size=args.size, params_m=params / 1e6,
                  trainable_params_m=trainable / 1e6, build_s=round(build_s, 2))
    if cuda:
        torch.cuda.synchronize()
        result['weights_gib'] = torch.cuda.memory_allocated() / GIB
        torch.cuda.reset_peak_memory_stats()
    else:
        result['rss_after_build_gib'] = rss_gib()
    autocast = (torch.autocast('cpu', dtype=getattr(torch, dtype_name))
                if not cuda and dtype_name != 'float32' else contextlib.nullcontext())
    data = make_batch(args.batch_size, args.size)
    times, losses = [], []
    for step in range(args.warmup + args.iters):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        with autocast:
            log_vars = model.train_step(data, optim_wrapper)
        if cuda:
            torch.cuda.synchronize()
        if step >= args.warmup:
            times.append(time.perf_counter() - start)
        losses.append(float(log_vars['loss']))
    result.update(iter_s_median=sorted(times)[len(times) // 2] if times else None,
                  iter_s=[round(t, 3) for t in times], losses=losses,
                  finite=all(v == v and abs(v) != float('inf') for v in losses))
    if cuda:
        free, total = torch.cuda.mem_get_info()
        result.update(max_allocated_gib=torch.cuda.max_memory_allocated() / GIB,
                      max_reserved_gib=torch.cuda.max_memory_reserved() / GIB,
                      device_used_after_gib=(total - free) / GIB,
                      device_total_gib=total / GIB,
                      fits_24gib=bool((total - free) / GIB < 24.0
                                      and torch.cuda.max_memory_reserved() / GIB < 23.0))
    else:
        result['peak_rss_gib'] = peak_rss_gib()
    return result


def environment(device) -> dict:
    import torch
    env = dict(date=time.strftime('%Y-%m-%d %H:%M:%S %Z'), python=platform.python_version(),
               torch=torch.__version__, machine=platform.machine(), cpu_count=os.cpu_count(),
               torch_threads=torch.get_num_threads(), load_avg=os.getloadavg())
    if device == 'cuda':
        env['gpu'] = torch.cuda.get_device_name()
    else:
        with contextlib.suppress(OSError):
            with open('/proc/cpuinfo') as f:
                env['cpu'] = next((line.split(':', 1)[1].strip() for line in f
                                   if line.startswith('model name')), '')
    return env


def main():
    args = parse_args()
    if args.device is None:
        import torch
        args.device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if args.single:
        result = run_single(args, args.single)
        with open(args.single_out, 'w') as f:
            json.dump(result, f)
        return
    report = dict(config=osp.relpath(args.config, REPO), environment=environment(args.device),
                  results=[])
    for dtype_name in args.dtypes:
        if dtype_name == 'float16' and args.device == 'cpu':
            print('skipping float16 on CPU (CPU autocast is bfloat16)')
            continue
        with tempfile.NamedTemporaryFile(suffix='.json', delete=False) as tmp:
            out = tmp.name
        cmd = [sys.executable, osp.abspath(__file__), args.config, '--device', args.device,
               '--batch-size', str(args.batch_size), '--size', str(args.size), '--iters',
               str(args.iters), '--warmup', str(args.warmup), '--single', dtype_name,
               '--single-out', out]
        if args.threads:
            cmd += ['--threads', str(args.threads)]
        if args.cfg_options:
            cmd += ['--cfg-options', *args.cfg_options]
        print(f'[benchmark_memory] {dtype_name} on {args.device} ...', flush=True)
        proc = subprocess.run(cmd)
        if proc.returncode != 0:
            report['results'].append(dict(dtype=dtype_name, error=f'exit {proc.returncode}'))
            continue
        with open(out) as f:
            result = json.load(f)
        os.remove(out)
        report['results'].append(result)
        print(json.dumps(result, indent=1), flush=True)
    print(format_table(report))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=1)
        print(f'written {args.out}')
    if any('error' in r or not r.get('finite', False) for r in report['results']):
        sys.exit(1)


def format_table(report) -> str:
    env = report['environment']
    where = env.get('gpu') or env.get('cpu', 'cpu')
    lines = [f"{report['config']} | {where} | torch {env['torch']} | {env['date']}",
             'dtype     wrapper                 s/iter   peak memory']
    for r in report['results']:
        if 'error' in r:
            lines.append(f"{r['dtype']:9s} {r['error']}")
            continue
        if r['device'] == 'cuda':
            mem = (f"max allocated {r['max_allocated_gib']:.2f} GiB, reserved "
                   f"{r['max_reserved_gib']:.2f} GiB, device used {r['device_used_after_gib']:.2f}"
                   f" GiB (weights {r['weights_gib']:.2f}); fits 24 GiB: {r['fits_24gib']}")
        else:
            mem = (f"peak RSS {r['peak_rss_gib']:.2f} GiB (after build "
                   f"{r['rss_after_build_gib']:.2f})")
        lines.append(f"{r['dtype']:9s} {r['optim_wrapper']:23s} {r['iter_s_median']:7.2f}  {mem}")
    return '\n'.join(lines)


if __name__ == '__main__':
    main()
