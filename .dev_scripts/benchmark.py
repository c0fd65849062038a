"""Per-component latency, peak memory, parameters and FLOPs of a BaCLIP config (a benchmark,
not a test).

    python .dev_scripts/benchmark.py configs/baclip_convnext-l_ovcamo.py \
        [--device cpu|cuda] [--batch-size 1] [--size 384] [--repeat 5] [--vocab-size 61] \
        [--out bench.json] [--cfg-options ...]

Weights are random (the checkpoint paths of the config are ignored), which does not change
speed. Components: the frozen CLIP image tower; text encoding of the vocabulary, uncached and
cached; MREM; CCE; the SAM head; CLIP zero-shot classification; and the whole ``predict``.
"""
import argparse
import json
import os.path as osp
import resource
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

import mmseg_baclip  # noqa: E402,F401
from mmseg_baclip.datasets.class_names import OVCAMO_TEST_CLASSES  # noqa: E402
from mmseg_baclip.utils.init_report import init_weights_without_report  # noqa: E402
from mmseg.registry import MODELS  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--batch-size', type=int, default=1)
    p.add_argument('--size', type=int, default=384)
    p.add_argument('--repeat', type=int, default=5)
    p.add_argument('--vocab-size', type=int, default=61)
    p.add_argument('--dtype', choices=['float32', 'bfloat16', 'float16'], default='float32',
                   help='autocast dtype for the forward passes')
    p.add_argument('--out', help='write the figures as JSON here')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    return p.parse_args()


def strip_checkpoints(cfg):
    """Random weights: drop every local checkpoint path from the model config."""
    for part in ('backbone', 'text_encoder', 'decode_head'):
        if cfg.model.get(part) is not None and 'checkpoint' in cfg.model[part]:
            cfg.model[part].checkpoint = None


def sync(device):
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def timed(fn, device, repeat):
    """Median wall time (ms) of ``fn()`` after one warm-up call, and its last result."""
    out = fn()
    times = []
    for _ in range(repeat):
        sync(device)
        start = time.perf_counter()
        out = fn()
        sync(device)
        times.append((time.perf_counter() - start) * 1e3)
    return sorted(times)[len(times) // 2], out


def flops(fn):
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return counter.get_total_flops()


def count(module):
    if module is None:
        return dict(trainable=0, frozen=0)
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return dict(trainable=trainable, frozen=sum(p.numel() for p in module.parameters()) - trainable)


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    strip_checkpoints(cfg)
    init_default_scope('mmseg')
    import warnings
    warnings.filterwarnings('ignore', message='.*RANDOM.*')
    model = MODELS.build(cfg.model)
    init_weights_without_report(model)
    model.to(args.device).eval()
    device = args.device
    vocab = list(OVCAMO_TEST_CLASSES[:args.vocab_size])
    x = torch.randn(args.batch_size, 3, args.size, args.size, device=device)
    dtype = getattr(torch, args.dtype)
    autocast = dict(device_type=device.split(':')[0], dtype=dtype, enabled=args.dtype != 'float32')
    if device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()

    rows = {}
    with torch.no_grad(), torch.autocast(**autocast):
        rows['clip_image_tower'], feats = timed(lambda: model.backbone(x), device, args.repeat)
        rows['text_uncached'], emb = timed(lambda: model.text_encoder.encode_uncached(vocab),
                                           device, args.repeat)
        rows['text_cached'], emb = timed(lambda: model.text_encoder(vocab), device, args.repeat)
        if model.align_neck is not None:
            rows['mrem'], (vis, text) = timed(lambda: model.align_neck(feats, emb), device,
                                              args.repeat)
        else:
            vis = feats[model.feature_index]
            text = emb.unsqueeze(0).expand(x.shape[0], -1, -1)
        if model.with_neck:
            rows['cce'], vis = timed(lambda: model.neck(vis), device, args.repeat)
        rows['sam_head'], mask = timed(lambda: model.decode_head(vis, text), device, args.repeat)
        prob = torch.nn.functional.interpolate(mask.float(), size=x.shape[-2:],
                                               mode='bilinear').sigmoid()
        rows['classification'], _ = timed(lambda: model.classify(feats[-1], prob, emb), device,
                                          args.repeat)
        model.set_vocabulary(vocab)
        rows['predict_total'], _ = timed(lambda: model.predict(x), device, args.repeat)
        flop_rows = {
            'clip_image_tower': flops(lambda: model.backbone(x)),
            'text_uncached': flops(lambda: model.text_encoder.encode_uncached(vocab)),
            'mrem': flops(lambda: model.align_neck(feats, emb)) if model.align_neck else 0,
            'cce': flops(lambda: model.neck(vis)) if model.with_neck else 0,
            'sam_head': flops(lambda: model.decode_head(vis, text)),
            'classification': flops(lambda: model.classify(feats[-1], prob, emb)),
        }
    added = ['text_cached', 'mrem', 'cce', 'sam_head', 'classification']
    added_ms = sum(rows.get(k, 0.0) for k in added)
    added_flops = sum(flop_rows.get(k, 0) for k in added if k != 'text_cached')
    params = {name: count(getattr(model, name, None)) for name in
              ('backbone', 'text_encoder', 'align_neck', 'neck', 'decode_head')}
    if device.startswith('cuda'):
        peak = torch.cuda.max_memory_allocated() / 2**20
        peak_what = 'torch.cuda.max_memory_allocated'
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        peak_what = 'process max RSS'
    result = dict(
        config=args.config, device=device,
        device_name=torch.cuda.get_device_name() if device.startswith('cuda') else 'cpu',
        threads=torch.get_num_threads(), batch_size=args.batch_size, size=args.size,
        vocab_size=len(vocab), dtype=args.dtype, latency_ms=rows, gflops={
            k: v / 1e9 for k, v in flop_rows.items()}, params=params,
        added_ms=added_ms, added_over_tower=added_ms / rows['clip_image_tower'],
        added_gflops_over_tower=added_flops / max(flop_rows['clip_image_tower'], 1),
        peak_memory_mib=peak, peak_memory_kind=peak_what)

    print(f'BaCLIP benchmark: {args.config}\n  device {result["device_name"]} ({device}), '
          f'{result["threads"]} threads, batch {args.batch_size}, {args.size}x{args.size}, '
          f'vocabulary {len(vocab)}, {args.dtype}')
    print(f'  {"component":<20}{"ms":>10}{"GFLOPs":>10}')
    for k, v in rows.items():
        g = flop_rows.get(k)
        print(f'  {k:<20}{v:>10.2f}{(g / 1e9 if g is not None else float("nan")):>10.3f}')
    print(f'  added to the tower (cached text, MREM, CCE, SAM head, classification): '
          f'{added_ms:.2f} ms = {100 * result["added_over_tower"]:.1f}% of the tower; '
          f'{100 * result["added_gflops_over_tower"]:.1f}% of its FLOPs')
    print(f'  {"module":<14}{"trainable":>14}{"frozen":>14}')
    for k, v in params.items():
        print(f'  {k:<14}{v["trainable"]:>14,}{v["frozen"]:>14,}')
    total_t = sum(v['trainable'] for v in params.values())
    total_f = sum(v['frozen'] for v in params.values())
    print(f'  {"total":<14}{total_t:>14,}{total_f:>14,}')
    print(f'  peak memory: {peak:.0f} MiB ({peak_what})')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)
        print(f'  written: {args.out}')


if __name__ == '__main__':
    main()
