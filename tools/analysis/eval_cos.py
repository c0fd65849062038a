"""Evaluate one checkpoint on the camouflaged-object test sets and print one table.

    python tools/analysis/eval_cos.py CONFIG CHECKPOINT \\
        [--sets CAMO CHAMELEON COD10K NC4K COD10K-OV] [--data-root data/TestDataset] \\
        [--cod10k-root data/COD10K-v3] [--vocab "owl,moth" | --vocab-file names.txt] \\
        [--out-dir work_dirs/cos_eval] [--device cuda]

CONFIG is any BaCLIP config (its model and its test pipeline, hence its input size, are used);
CHECKPOINT a checkpoint trained with it, or ``none``. The sets and their layouts come from
``configs/_base_/datasets/cos_testsets.py`` (``--sets-config`` for another file):
``<data-root>/{CAMO,CHAMELEON,COD10K,NC4K}/{Imgs,GT}`` and COD10K's release
``<cod10k-root>/Test/{Image,GT_Object}`` for the open-vocabulary COD10K test (COD10K-OV).

The four COS sets are scored class-agnostically with the COS papers' measures (S-measure,
weighted F, MAE, mean / max / adaptive E and F); BaCLIP still needs class names to prompt SAM
with: OVCamo's 75 by default, or ``--vocab`` / ``--vocab-file``. COD10K-OV takes each image's
class from its file name and the classes found as the vocabulary, and is scored with OVCamo's
class-aware measures too, over all its images and over those of the classes that are not
OVCamo training classes (``unseen``).

Writes ``<out-dir>/cos_results.json`` and ``.csv`` (every number, full precision). Per-image
measures are kept in ``<out-dir>/per_image/<set>-<key>.npz``, keyed by the checkpoint file's
sha256, the model, the pipeline and the vocabulary; a second run with the same key reads the
images evaluated before and runs the model only on new or changed ones (another checkpoint or
vocabulary is another key: everything is computed again). ``--no-cache`` ignores them.
"""
import argparse
import csv
import hashlib
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Optional

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SET_NAMES = ('CAMO', 'CHAMELEON', 'COD10K', 'NC4K', 'COD10K-OV')
COS_COLUMNS = ('Sm', 'wFm', 'MAE', 'meanEm', 'maxEm', 'adpEm', 'meanFm', 'maxFm', 'adpFm')
OV_COLUMNS = ('cSm', 'cFwb', 'cMAE', 'cFb', 'cEm', 'cIoU', 'acc')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Evaluate a checkpoint on CAMO, CHAMELEON, COD10K, NC4K and COD10K-OV')
    parser.add_argument('config', help='BaCLIP config file')
    parser.add_argument('checkpoint', help='checkpoint file, or "none"')
    parser.add_argument('--sets', nargs='+', default=list(SET_NAMES), metavar='SET',
                        help=f'sets to evaluate (default: all of {", ".join(SET_NAMES)})')
    parser.add_argument('--data-root', default='data/TestDataset',
                        help='folder holding CAMO/, CHAMELEON/, COD10K/ and NC4K/')
    parser.add_argument('--cod10k-root', default='data/COD10K-v3',
                        help="COD10K's release (Test/Image, Test/GT_Object), for COD10K-OV")
    vocab = parser.add_mutually_exclusive_group()
    vocab.add_argument('--vocab', help='comma-separated class names for the four COS sets')
    vocab.add_argument('--vocab-file', help='text file with one class name a line')
    parser.add_argument('--sets-config',
                        default=osp.join(REPO_ROOT, 'configs', '_base_', 'datasets',
                                         'cos_testsets.py'),
                        help='config defining cos_test_sets')
    parser.add_argument('--out-dir', default='work_dirs/cos_eval', help='output folder')
    parser.add_argument('--device', default=None, help='e.g. cpu, cuda (default: auto)')
    parser.add_argument('--workers', type=int, default=2, help='data loading workers')
    parser.add_argument('--no-cache', action='store_true',
                        help='compute every image again (the cache is still written)')
    args = parser.parse_args(argv)
    known = {s.upper().replace('_', '-'): s for s in SET_NAMES}
    unknown = [s for s in args.sets if s.upper().replace('_', '-') not in known]
    if unknown:
        parser.error(f'unknown set(s) {unknown}; choose from {", ".join(SET_NAMES)}')
    args.sets = list(dict.fromkeys(known[s.upper().replace('_', '-')] for s in args.sets))
    if args.workers < 0:
        parser.error('--workers must be >= 0')
    return args


def set_key(name: str) -> str:
    """The ``cos_test_sets`` key of a set name (``COD10K-OV`` -> ``COD10K_OV``)."""
    return name.replace('-', '_')


def cache_key(checkpoint_sha: str, model_cfg, pipeline, vocabulary, evaluator) -> str:
    """16 hex digits naming what a per-image record depends on."""
    text = json.dumps([checkpoint_sha, str(model_cfg), str(pipeline), list(vocabulary),
                       str(evaluator)], sort_keys=True)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]


def file_stamp(*paths: str) -> str:
    """Size and modification time of files, as one string (a changed file changes it)."""
    return ';'.join(f'{os.stat(p).st_size}:{os.stat(p).st_mtime_ns}' for p in paths)


def run(args: argparse.Namespace) -> Dict[str, dict]:
    """Evaluate every requested set; returns ``{set: metrics}``."""
    import numpy as np
    from mmengine.config import Config
    from mmseg.registry import DATASETS, METRICS

    import mmseg_baclip  # noqa: F401
    from mmseg_baclip.apis import OVCOSInferencer, parse_vocabulary_list, read_vocabulary_file
    from mmseg_baclip.utils.file_fingerprint import file_sha256
    from mmseg_baclip.utils.output_paths import check_output_dir

    check_output_dir(args.out_dir, '--out-dir')
    vocabulary = None
    if args.vocab is not None:
        vocabulary = list(parse_vocabulary_list(args.vocab))
    elif args.vocab_file is not None:
        vocabulary = list(read_vocabulary_file(args.vocab_file))
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    sets_cfg = Config.fromfile(args.sets_config)
    inferencer = OVCOSInferencer(args.config, weights=checkpoint, device=args.device,
                                 show_progress=False)
    model, model_cfg = inferencer.model, inferencer.cfg
    pipeline = model_cfg.test_dataloader.dataset.pipeline
    checkpoint_sha = file_sha256(checkpoint) if checkpoint else 'none'
    os.makedirs(osp.join(args.out_dir, 'per_image'), exist_ok=True)

    results = {}
    for name in args.sets:
        entry = sets_cfg.cos_test_sets[set_key(name)]
        dataset_cfg = dict(entry.dataset, pipeline=pipeline)
        if name == 'COD10K-OV':
            dataset_cfg['data_root'] = args.cod10k_root
        else:
            dataset_cfg['data_root'] = osp.join(args.data_root, name)
            if vocabulary is not None:
                dataset_cfg['vocabulary'] = vocabulary
        dataset = DATASETS.build(dataset_cfg)
        key = cache_key(checkpoint_sha, model_cfg.model, pipeline, dataset.vocabulary,
                        entry.evaluator)
        cache_file = osp.join(args.out_dir, 'per_image', f'{name}-{key}.npz')
        metrics = evaluate_set(name, model, dataset, METRICS.build(entry.evaluator), cache_file,
                               args.workers, use_cache=not args.no_cache)
        metrics['vocabulary_size'] = len(dataset.vocabulary)
        if name == 'COD10K-OV':
            from mmseg_baclip.datasets import overlap_with
            metrics['seen_classes'] = list(overlap_with(dataset.vocabulary))
        results[name] = {k: (float(v) if isinstance(v, (float, np.floating)) else v)
                         for k, v in metrics.items()}
    return results


def evaluate_set(name: str, model, dataset, metric, cache_file: str, workers: int,
                 use_cache: bool = True) -> dict:
    """Run the model on the images of a set not in the cache, and score them all.

    Args:
        name (str): The set's name (progress and messages).
        model: The segmentor, in eval mode.
        dataset: The set (a ``COSDataset``).
        metric: A ``COSMetric`` or ``OVCOSMetric``.
        cache_file (str): The per-image records of this set and key (read, then written).
        workers (int): Data loading workers.
        use_cache (bool): Read the records of images evaluated before. Defaults to True.

    Returns:
        dict: The metric's results and ``num_images``.
    """
    import torch
    from mmengine.dataset import pseudo_collate
    from torch.utils.data import DataLoader, Subset

    from mmseg_baclip.evaluation.record_cache import load_records, save_records
    from mmseg_baclip.utils.init_report import quiet_mmengine_logger
    from mmseg_baclip.utils.progress import track_progress

    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    names = [osp.basename(info['seg_map_path']) for info in infos]
    stamps = [file_stamp(info['img_path'], info['seg_map_path']) for info in infos]
    cached = load_records(cache_file) if use_cache else {}
    by_name = {n: cached[n][1] for n, stamp in zip(names, stamps)
               if n in cached and cached[n][0] == stamp}
    todo = [i for i, n in enumerate(names) if n not in by_name]
    print(f'[cos] {name}: {len(dataset)} images, {len(dataset.vocabulary)} class names' +
          (f'; {len(by_name)} evaluated before, read from {cache_file}' if by_name else ''),
          flush=True)
    loader = DataLoader(Subset(dataset, todo), batch_size=1, num_workers=workers,
                        collate_fn=pseudo_collate)
    with torch.no_grad():
        for batch in track_progress(loader, name, total=len(todo)):
            outputs = model.test_step(batch)
            metric.process(batch, [o.to_dict() for o in outputs])
    by_name.update({r['name']: r for r in metric.results})
    save_records(cache_file, {n: (stamp, by_name[n]) for n, stamp in zip(names, stamps)})
    records = [by_name[n] for n in names]
    with quiet_mmengine_logger():  # its tables are for tools/test.py; ours is printed
        metrics = metric.compute_metrics(records)
    metrics['num_images'] = len(records)
    return metrics


def table(results: Dict[str, dict]) -> str:
    """The results as text: the COS measures per set, then COD10K-OV's class-aware rows."""
    from prettytable import PrettyTable

    from mmseg_baclip.evaluation import COS_KEYS

    main = PrettyTable(['set', '#img'] + list(COS_COLUMNS))
    for name, metrics in results.items():
        if name == 'COD10K-OV':  # OVCOSMetric: the class-agnostic results under official keys
            name, row = name + ' (class-agnostic)', [metrics.get('agnostic/' + COS_KEYS[c])
                                                     for c in COS_COLUMNS]
        else:
            row = [metrics.get(c) for c in COS_COLUMNS]
        main.add_row([name, metrics['num_images']] +
                     [f'{v:.3f}' if v is not None else '-' for v in row])
    text = main.get_string()
    if 'COD10K-OV' in results:
        ov = results['COD10K-OV']
        aware = PrettyTable(['COD10K-OV, class-aware', '#img'] + list(OV_COLUMNS))
        for scope, prefix, count in (('all classes', '', ov['num_images']),
                                     ('not OVCamo training classes', 'unseen/',
                                      ov.get('unseen/num_images')),
                                     ('OVCamo training classes', 'seen/',
                                      ov.get('seen/num_images'))):
            if count:
                aware.add_row([scope, count] + [f'{ov[prefix + k]:.3f}' for k in OV_COLUMNS])
        text += ('\n' + aware.get_string() + f'\nCOD10K-OV: {ov["vocabulary_size"]} classes, of '
                 f'which {len(ov["seen_classes"])} are OVCamo training classes: '
                 f'{", ".join(ov["seen_classes"]) or "none"}')
    return text


def write_outputs(results: Dict[str, dict], out_dir: str) -> List[str]:
    """``cos_results.json`` (everything) and ``cos_results.csv`` (one row per set and scope)."""
    json_path, csv_path = (osp.join(out_dir, 'cos_results.json'),
                           osp.join(out_dir, 'cos_results.csv'))
    with open(json_path, 'w', encoding='utf-8') as f:
        json.dump(results, f, indent=2)
    keys = sorted({k for m in results.values() for k, v in m.items()
                   if isinstance(v, (int, float))})
    with open(csv_path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.writer(f)
        writer.writerow(['set'] + keys)
        for name, metrics in results.items():
            writer.writerow([name] + [metrics.get(k, '') for k in keys])
    return [json_path, csv_path]


def main(argv: Optional[List[str]] = None) -> Dict[str, dict]:
    args = parse_args(argv)
    sys.path.insert(0, REPO_ROOT)
    try:
        results = run(args)
    except (FileNotFoundError, ValueError, KeyError) as error:
        raise SystemExit(f'error: {error}') from None
    print(table(results))
    paths = write_outputs(results, args.out_dir)
    print(f'[cos] results: {" and ".join(paths)}')
    return results


if __name__ == '__main__':
    main()
