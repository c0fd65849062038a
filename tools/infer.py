"""Segment camouflaged objects in your own images, with your own class names.

    python tools/infer.py IMAGES... --config CONFIG --checkpoint CKPT \\
        (--vocab "owl,moth,frog" | --vocab-file names.txt) --out DIR \\
        [--device cuda] [--batch-size 4] [--templates camoprompts] [--seed 0]

IMAGES are image files and/or folders (their .jpg/.jpeg/.png/.bmp/.tif/.tiff/.webp files).
Without --vocab/--vocab-file the config's test vocabulary is used. ``--checkpoint none`` runs
the model as built (CLIP/SAM from the local files the config names, new layers untrained and
initialised from ``--seed``, so that the same command gives the same result).

Writes, per image, ``DIR/masks/<name>.png`` (0/255) and ``DIR/overlays/<name>.png`` (tinted
region, contour, class and score), and ``DIR/results.json``: the vocabulary and, per image, the
predicted class, its score and the top-5 classes with their probabilities. An image that
cannot be read is reported once, on stderr, saying what is wrong with it (and listed under
``failed`` in results.json) while the others run; the exit status is then 1. A checkpoint that
is empty, truncated or holds NaN/Inf weights is refused (naming the file or the tensors), and
results.json is strict JSON: a non-finite score stops the tool naming the entry instead of
writing ``NaN``. ``--out`` is checked before the model is built (an existing file, a folder
below a file, no permission: an error naming it). Class names follow the project's rule
(printable, no ``/`` or ``\\``, at most 128 bytes, no name twice ignoring case); images above
the pixel limit (120 MP, ``BACLIP_MAX_IMAGE_PIXELS`` raises it) are refused before they are
decoded.

The arguments are parsed before torch, mmseg and mmseg_baclip are imported, so ``--help`` and
argument errors answer at once. Warnings are shown one line each.
"""
import argparse
import json
import math
import os
import os.path as osp
import sys
import warnings
from typing import Any, List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Open-vocabulary camouflaged object segmentation of your own images')
    parser.add_argument('images', nargs='+', help='image files and/or folders of images')
    parser.add_argument('--config', required=True, help='model config file')
    parser.add_argument('--checkpoint', required=True,
                        help='checkpoint file, or "none" for the model as built')
    vocab = parser.add_mutually_exclusive_group()
    vocab.add_argument('--vocab', help='comma-separated class names, e.g. "owl,moth,frog"')
    vocab.add_argument('--vocab-file', help='text file with one class name a line')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--device', default=None, help='e.g. cpu, cuda, cuda:1 (default: auto)')
    parser.add_argument('--batch-size', type=int, default=1, help='images per forward pass')
    parser.add_argument('--templates', default=None,
                        help='prompt templates: camoprompts, imagenet, vild or plain '
                        '(default: the config\'s)')
    parser.add_argument('--alpha', type=float, default=0.45, help='overlay tint opacity')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the random initialisation of the layers no checkpoint '
                        'fills (with --checkpoint none, all new layers), default: 0')
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error(f'--batch-size must be >= 1, got {args.batch_size}')
    return args


def collect_images(paths: List[str]) -> List[str]:
    """Expand folders to their image files (sorted); keep file paths as given.

    Args:
        paths (list[str]): Files and folders.

    Returns:
        list[str]: Image paths. A path that does not exist is kept, so that it is reported as
        unreadable with the others.
    """
    from mmseg_baclip.utils.image_files import IMAGE_EXTENSIONS
    images = []
    for path in paths:
        if osp.isdir(path):
            found = sorted(f for f in os.listdir(path) if f.lower().endswith(IMAGE_EXTENSIONS))
            if not found:
                warnings.warn(f'no image file in the folder {path}')
            images.extend(osp.join(path, f) for f in found)
        else:
            images.append(path)
    return images


def non_finite_entries(obj: Any, where: str = 'results') -> List[str]:
    """Where a JSON-bound value holds NaN or Inf: ``['results.images[0].score', ...]``."""
    if isinstance(obj, float):
        return [] if math.isfinite(obj) else [f'{where} = {obj}']
    if isinstance(obj, dict):
        return [e for k, v in obj.items() for e in non_finite_entries(v, f'{where}.{k}')]
    if isinstance(obj, (list, tuple)):
        return [e for i, v in enumerate(obj) for e in non_finite_entries(v, f'{where}[{i}]')]
    return []


def check_outputs(out: str) -> None:
    """Refuse, before any work, an ``--out`` the tool could not write its files into."""
    from mmseg_baclip.utils.output_paths import check_output_dir, check_output_file
    check_output_dir(out, '--out')
    for sub in ('masks', 'overlays'):
        check_output_dir(osp.join(out, sub), f'--out (its {sub}/ folder)')
    check_output_file(osp.join(out, 'results.json'), '--out (its results.json)')


def printable(text: str) -> str:
    """``text`` as it is safe to print: escaped when it holds control characters."""
    return text if text.isprintable() else ascii(text)


def main(argv: Optional[List[str]] = None) -> dict:
    """Run the tool; returns what it wrote to ``results.json``."""
    args = parse_args(argv)
    from mmseg_baclip.utils.cli_warnings import one_line_warnings
    with one_line_warnings():
        return run(args)


def run(args: argparse.Namespace) -> dict:
    """Segment the images of ``args``, write the outputs and report; see the module docstring.

    Raises:
        SystemExit: A clear error (``error: ...``), or images that could not be read (after
            the others were written).
    """
    from mmengine.runner import set_random_seed

    from mmseg_baclip.apis import (OVCOSInferencer, parse_vocabulary_list,
                                   read_vocabulary_file)
    from mmseg_baclip.engine import UnsafeCheckpointError
    from mmseg_baclip.models.text_encoders.prompt_templates import get_templates
    try:
        check_outputs(args.out)
        vocabulary = None
        if args.vocab is not None:
            vocabulary = parse_vocabulary_list(args.vocab)
        elif args.vocab_file is not None:
            vocabulary = read_vocabulary_file(args.vocab_file)
        checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
        images = collect_images(args.images)
        if not images:
            raise FileNotFoundError(f'no image found in {args.images}')
        set_random_seed(args.seed)  # the layers the checkpoint does not fill are built from it
        inferencer = OVCOSInferencer(args.config, weights=checkpoint, device=args.device)
        if vocabulary is None:
            vocabulary = inferencer.default_vocabulary
            print(f'vocabulary: the config\'s {len(vocabulary)} test classes')
        results = inferencer(images, vocabulary=vocabulary, templates=args.templates,
                             batch_size=args.batch_size, out_dir=args.out, alpha=args.alpha,
                             return_maps=False, on_error='skip')
    except (FileNotFoundError, ValueError, KeyError, TypeError, RuntimeError,
            UnsafeCheckpointError) as error:
        raise SystemExit(f'error: {error}') from None

    summary = {
        'config': args.config,
        'checkpoint': args.checkpoint,
        'vocabulary': list(vocabulary),
        'templates': list(get_templates(args.templates) if args.templates else
                          inferencer.model.text_encoder.templates),
        'images': [{
            'path': r['path'],
            'size': r['size'],
            'class': r['class'],
            'score': r['score'],
            'top5': [{'class': name, 'score': score} for name, score in r['top5']],
            'mask': osp.relpath(r['mask_path'], args.out),
            'overlay': osp.relpath(r['overlay_path'], args.out),
        } for r in results],
        'failed': inferencer.failed,
    }
    bad = non_finite_entries(summary)
    if bad:
        raise SystemExit(f'error: the model produced non-finite values ({", ".join(bad[:5])}'
                         f'{", ..." if len(bad) > 5 else ""}); results.json was not written. '
                         'Check the checkpoint and the inputs.')
    os.makedirs(args.out, exist_ok=True)
    with open(osp.join(args.out, 'results.json'), 'w', encoding='utf-8') as f:
        json.dump(summary, f, indent=2, allow_nan=False)
    for r in results:
        print(f'{printable(r["name"])}: {r["class"]} ({r["score"]:.3f})')
    print(f'{len(results)} image(s) -> {args.out} (masks/, overlays/, results.json)')
    if inferencer.failed:
        for failure in inferencer.failed:  # each error starts with the file's path
            print(f'could not read {printable(failure["error"])}', file=sys.stderr)
        raise SystemExit(f'error: {len(inferencer.failed)} of {len(images)} image(s) could not '
                         'be read (listed under "failed" in results.json)')
    return summary


if __name__ == '__main__':
    main()
