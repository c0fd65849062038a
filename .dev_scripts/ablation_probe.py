"""Look inside the ablation's trained models: what SAM's decoder receives and where it looks.

    python .dev_scripts/ablation_probe.py [--runs work_dirs/ablation_synthetic]
        [--rows full t2v-only ...] [--out work_dirs/ablation_synthetic/probe.md]

For each finished run of ``.dev_scripts/ablation_synthetic.py`` (its ``config.py`` and final
checkpoint), runs the 61-class test split once with forward hooks and reports, averaged over
the test images and then over seeds (mean ± std):

* ``prompt/image``: the mean L2 norm of the text prompt tokens that enter SAM's decoder
  (``AdaptiveTextPrompt`` output plus the positive-point embedding) over the mean per-pixel norm
  of the image embedding it receives (after ``visual_norm``), i.e. how loud the prompts are;
* ``text varies``: how much MREM's refined class tokens E_t change from image to image (std
  over images / mean norm, averaged over classes); 0 when vision -> text is off, since the
  tokens then do not depend on the image;
* ``class spread``: 1 - the mean cosine similarity between the prompt tokens of different
  classes in one image (0: all classes prompt alike);
* ``mask attn lift`` / ``prompt attn lift``: the share of the final token-to-image attention
  (SAM's ``final_attn_token_to_image``, mean over heads) of the output mask token / of the
  prompt tokens that falls on the object, divided by the object's share of the map (1: no
  better than uniform);
* ``MFMSA update``: for each CCE block, ``|block(x) - x| / |x|``, how much it changes E_v;
* per-image IoU (threshold 0.5) and whether the class was right, for a per-class comparison;
* ``iou_train_vocab``: the IoU when the same image is decoded with the 14 training classes as
  the vocabulary (the prompts seen in training) instead of the 61 unseen ones.

A benchmark-style script (prints figures); nothing here is a test.
"""
import argparse
import json
import os.path as osp
import sys
from collections import defaultdict
from typing import Dict, List

import numpy as np
import torch
import torch.nn.functional as F

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--runs', default='work_dirs/ablation_synthetic')
    p.add_argument('--rows', nargs='+', default=None, help='default: every finished row')
    p.add_argument('--out', default=None, help='markdown report (default: RUNS/probe.md)')
    return p.parse_args(argv)


def attention_share(module_inputs, module) -> torch.Tensor:
    """Softmax attention of every token over the image positions (mean over heads).

    Returns:
        Tensor: B x N_tokens x (h*w).
    """
    q, k = module_inputs
    q = module._separate_heads(module.q_proj(q), module.num_heads)
    k = module._separate_heads(module.k_proj(k), module.num_heads)
    attn = torch.softmax(q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5, dim=-1)
    return attn.mean(1)


@torch.no_grad()
def probe_run(work: str) -> Dict:
    import mmseg_baclip  # noqa: F401  (first: registers the modules, mmcv's op fallback)
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmseg.apis import init_model
    from mmseg.registry import DATASETS
    from mmseg_baclip.datasets import OVCAMO_TRAIN_CLASSES
    cfg = Config.fromfile(osp.join(work, 'config.py'))
    ckpt = osp.join(work, f'epoch_{cfg.train_cfg.max_epochs}.pth')
    model = init_model(cfg, ckpt, device='cpu').eval()
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    head = model.decode_head
    captured: Dict[str, object] = {}
    hooks = []
    sam_head = hasattr(head, 'mask_decoder')
    if sam_head:
        hooks.append(head.text_prompt.register_forward_hook(
            lambda m, i, o: captured.__setitem__('prompt', o)))
        hooks.append(head.visual_norm.register_forward_hook(
            lambda m, i, o: captured.__setitem__('image', o)))
        final = head.mask_decoder.transformer.final_attn_token_to_image
        hooks.append(final.register_forward_hook(  # called as attn(q=..., k=..., v=...)
            lambda m, args, kwargs, o: captured.setdefault('attn_inputs', []).append(
                (kwargs['q'], kwargs['k'])), with_kwargs=True))
    if model.align_neck is not None:
        hooks.append(model.align_neck.register_forward_hook(
            lambda m, i, o: captured.__setitem__('text', o[1])))
    block_updates: List[List[float]] = []
    if getattr(model, 'with_neck', False) and hasattr(model.neck, 'blocks'):
        for index, block in enumerate(model.neck.blocks):
            block_updates.append([])
            hooks.append(block.register_forward_hook(
                lambda m, i, o, index=index: block_updates[index].append(
                    float((o - i[0]).flatten(1).norm(dim=1).div(
                        i[0].flatten(1).norm(dim=1)).mean()))))
    records = defaultdict(list)
    texts = []
    for index in range(len(dataset)):
        captured.clear()
        data = model.data_preprocessor(pseudo_collate([dataset[index]]), False)
        inputs, samples = data['inputs'], data['data_samples']
        vocabulary = model.resolve_vocabulary([s.metainfo for s in samples])
        feats, class_emb, mask_logits = model.decode(inputs, vocabulary)
        logits = F.interpolate(mask_logits, size=inputs.shape[-2:], mode='bilinear',
                               align_corners=False)
        gt = model.ground_truth_at_input_size(samples, inputs.shape[-2:])  # 1 x 1 x H x W
        pred = logits.sigmoid() > 0.5
        inter = (pred & (gt > 0.5)).sum().item()
        union = (pred | (gt > 0.5)).sum().item()
        class_index = model.classify(feats[-1], logits.sigmoid(), class_emb).argmax(1).item()
        name = samples[0].metainfo['class_name']
        records['iou'].append(inter / max(union, 1))
        records['class'].append(name)
        records['correct'].append(float(vocabulary[class_index] == name))
        if sam_head:
            prompt = captured['prompt'] + head.prompt_encoder.point_embeddings[1].weight
            image = captured['image']
            records['prompt_over_image'].append(
                float(prompt.norm(dim=-1).mean() / image.norm(dim=1).mean()))
            unit = F.normalize(prompt[0], dim=-1)
            n = unit.shape[0]
            cos = (unit @ unit.t()).sum().sub(n).div(max(n * (n - 1), 1))
            records['class_spread'].append(float(1 - cos))
            final = head.mask_decoder.transformer.final_attn_token_to_image
            attn = attention_share(captured["attn_inputs"][0], final)[0]  # N_tok x hw
            h, w = image.shape[-2:]
            object_map = F.interpolate(gt, size=(h, w), mode='area').flatten()  # hw
            share = float(object_map.mean().clamp_min(1e-6))
            on_object = attn @ object_map  # N_tok
            tokens_before_prompts = 1 + head.mask_decoder.num_mask_tokens
            records['mask_attn_lift'].append(float(on_object[1]) / share)
            records['prompt_attn_lift'].append(
                float(on_object[tokens_before_prompts:].mean()) / share)
        if 'text' in captured:
            texts.append(captured['text'][0])  # N x C
        # the same image decoded with the 14 training classes as the vocabulary (the prompts
        # the model was trained with): does the unseen 61-class vocabulary change the masks?
        _, _, train_logits = model.decode(inputs, OVCAMO_TRAIN_CLASSES)
        train_pred = F.interpolate(train_logits, size=inputs.shape[-2:], mode='bilinear',
                                   align_corners=False).sigmoid() > 0.5
        records['iou_train_vocab'].append(
            (train_pred & (gt > 0.5)).sum().item() / max((train_pred | (gt > 0.5)).sum().item(), 1))
    for hook in hooks:
        hook.remove()
    summary = {k: float(np.mean(v)) for k, v in records.items()
               if k not in ('class', ) and len(v)}
    if texts:
        stack = torch.stack(texts)  # images x N x C
        summary['text_varies'] = float((stack.std(0).norm(dim=-1) /
                                        stack.mean(0).norm(dim=-1)).mean())
    summary['mfmsa_update'] = [float(np.mean(u)) for u in block_updates]
    per_class = defaultdict(list)
    for name, iou, ok in zip(records['class'], records['iou'], records['correct']):
        per_class[name].append((iou, ok))
    summary['per_class'] = {k: [float(np.mean([a for a, _ in v])), float(np.mean([b for _, b in v]))]
                            for k, v in per_class.items()}
    return summary


def fmt(values: List[float]) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return '—'
    spread = np.std(values, ddof=1) if len(values) > 1 else 0.0
    return f'{np.mean(values):.3f} ± {spread:.3f}'


def main(argv=None) -> int:
    args = parse_args(argv)
    import glob
    runs = sorted(glob.glob(osp.join(args.runs, '*', 'seed*', 'metrics.json')))
    by_row = defaultdict(list)
    for done in runs:
        work = osp.dirname(done)
        row = osp.basename(osp.dirname(work))
        if args.rows and row not in args.rows:
            continue
        cache = osp.join(work, 'probe.json')
        if osp.isfile(cache):
            with open(cache, encoding='utf-8') as f:
                result = json.load(f)
        else:
            result = probe_run(work)
            with open(cache, 'w', encoding='utf-8') as f:
                json.dump(result, f)
        print(f'[probe] {row} {osp.basename(work)}: ' + ', '.join(
            f'{k} {v:.3f}' for k, v in result.items() if isinstance(v, float)), flush=True)
        by_row[row].append(result)
    keys = ['iou', 'iou_train_vocab', 'correct', 'prompt_over_image', 'text_varies', 'class_spread',
            'mask_attn_lift', 'prompt_attn_lift']
    lines = ['| row | ' + ' | '.join(keys) + ' | MFMSA update per block |',
             '|---|' + '---|' * (len(keys) + 1)]
    for row, results in by_row.items():
        cells = [fmt([r.get(k) for r in results]) for k in keys]
        blocks = [np.mean([r['mfmsa_update'][i] for r in results])
                  for i in range(len(results[0]['mfmsa_update']))]
        cells.append(' / '.join(f'{b:.2f}' for b in blocks) or '—')
        lines.append(f'| {row} | ' + ' | '.join(cells) + ' |')
    text = '\n'.join(lines)
    print(text)
    out = args.out or osp.join(args.runs, 'probe.md')
    with open(out, 'w', encoding='utf-8') as f:
        f.write(text + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
