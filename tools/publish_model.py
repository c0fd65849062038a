"""Turn a training checkpoint into a small file that is safe to share (as mmseg's publish_model).

    python tools/publish_model.py IN_FILE OUT_FILE [--config CONFIG] [--cfg-options k=v ...]
                                  [--unsafe-load]

The published file holds the model weights and ``meta`` only: no optimizer state, message hub,
schedulers or RNG states. It loads with ``torch.load(weights_only=True)`` (checked after
writing) and is named ``<OUT_FILE without .pth>-<first 8 hex digits of its sha256>.pth``, as
mmseg's ``tools/misc/publish_model.py`` names its files.

The frozen CLIP and SAM prompt-encoder weights are not in it: whoever loads it reads them from
their own copies of the CLIP and SAM files, which must be the files it was trained with
(``meta['frozen_weights']`` records their sha256; another file is an error naming both).
Checkpoints written by training already leave them out. An older checkpoint that holds every
weight needs ``--config`` (the config it was trained with, whose CLIP and SAM files are read):
frozen weights equal to those files are left out, any that differ are kept.
"""
import argparse
import os
import os.path as osp
import re
import sys
from collections import OrderedDict
from typing import List, Optional, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmseg_baclip  # noqa: E402,F401  (registers the plugin, mmcv-lite fallback)
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmseg.registry import MODELS  # noqa: E402

from mmseg_baclip.engine import (FROZEN_WEIGHTS_KEY, frozen_weights_record,  # noqa: E402
                                 load_checkpoint_file, strip_frozen_weights)
from mmseg_baclip.engine.frozen_weights import frozen_sources  # noqa: E402
from mmseg_baclip.utils.file_fingerprint import file_sha256  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Publish a trained model as a small, '
                                     'weights-only file')
    parser.add_argument('in_file', help='a checkpoint written by tools/train.py')
    parser.add_argument('out_file', help='output name; the sha256 prefix is appended')
    parser.add_argument('--config', help='the config the checkpoint was trained with: needed '
                        'only for a checkpoint that still holds the frozen CLIP/SAM weights')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of --config (e.g. the CLIP/SAM file paths)')
    parser.add_argument('--unsafe-load', action='store_true',
                        help='read IN_FILE with torch.load(weights_only=False): ONLY for old '
                        'checkpoints from a trusted source (the output is weights-only anyway)')
    return parser.parse_args(argv)


def slim_state_dict(state_dict: dict, cfg: Config) -> Tuple[OrderedDict, dict]:
    """The state dict without the frozen weights that equal the config's files.

    The model of ``cfg`` reads its frozen weights from the files, then loads ``state_dict``
    (strict); modules whose frozen weights in the checkpoint differ from their file keep them.

    Returns:
        tuple[OrderedDict, dict]: The state dict to publish and the frozen-weights record
        (empty: nothing left out).
    """
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model = MODELS.build(cfg.model)
    for source in frozen_sources(model):
        if source.module.frozen_weight_file() is not None:
            source.module.load_frozen_weights()
    metadata = getattr(state_dict, '_metadata', None)
    state_dict = OrderedDict((re.sub(r'^module\.', '', k), v) for k, v in state_dict.items())
    if metadata is not None:
        state_dict._metadata = metadata
    model.load_state_dict(state_dict, strict=True)  # what a slim checkpoint lacks: the files
    for source in frozen_sources(model):
        path = source.module.frozen_weight_file()
        if path is not None and source.module.frozen_weights_loaded_from is None:
            print(f'warning: the frozen weights of {source.name} in the checkpoint differ from '
                  f'{path}: they are kept in the published file', file=sys.stderr)
    state = model.state_dict()  # the checkpoint's values, in the model's order and metadata
    return state, strip_frozen_weights(model, state)


def publish(in_file: str, out_file: str, cfg: Optional[Config] = None,
            unsafe: bool = False) -> str:
    """Write the published file; returns its path (``<out_file stem>-<sha256[:8]>.pth``)."""
    checkpoint = load_checkpoint_file(in_file, map_location='cpu', unsafe=unsafe)
    if not isinstance(checkpoint, dict):
        raise SystemExit(f'error: {in_file} is not a checkpoint (a {type(checkpoint).__name__})')
    state = checkpoint.get('state_dict', checkpoint)
    meta = dict(checkpoint.get('meta') or {})
    record = frozen_weights_record(checkpoint) or {}
    if cfg is not None:
        state, record = slim_state_dict(state, cfg)
    elif not record:
        print(f'warning: {in_file} holds every weight, frozen ones included (no '
              f'"{FROZEN_WEIGHTS_KEY}" record): pass --config with the config it was trained '
              'with to leave out the frozen CLIP/SAM weights', file=sys.stderr)
    meta.pop(FROZEN_WEIGHTS_KEY, None)
    if record:
        meta[FROZEN_WEIGHTS_KEY] = record
    stem = out_file[:-len('.pth')] if out_file.endswith('.pth') else out_file
    os.makedirs(osp.dirname(osp.abspath(stem)), exist_ok=True)
    tmp = f'{stem}.pth.tmp'
    torch.save({'meta': meta, 'state_dict': state}, tmp)
    final = f'{stem}-{file_sha256(tmp)[:8]}.pth'
    os.replace(tmp, final)
    torch.load(final, map_location='cpu', weights_only=True)  # the promise made above
    return final


def main(argv: Optional[List[str]] = None) -> str:
    args = parse_args(argv)
    cfg = None
    if args.config is not None:
        cfg = Config.fromfile(args.config)
        if args.cfg_options is not None:
            cfg.merge_from_dict(args.cfg_options)
    final = publish(args.in_file, args.out_file, cfg, unsafe=args.unsafe_load)
    checkpoint = torch.load(final, map_location='cpu', weights_only=True)
    tensors = [v for v in checkpoint['state_dict'].values() if isinstance(v, torch.Tensor)]
    numel = sum(t.numel() for t in tensors)
    print(f'published {final}: {osp.getsize(final) / 2**20:.1f} MiB, {len(tensors)} tensors '
          f'({numel / 1e6:.2f} M values), sha256 {file_sha256(final)}')
    for name, entry in (checkpoint['meta'].get(FROZEN_WEIGHTS_KEY) or {}).items():
        print(f'  {name}: {entry["keys"]} frozen tensors left out, read from {entry["file"]} '
              f'(sha256 {entry["sha256"]}) when loaded')
    return final


if __name__ == '__main__':
    main()
