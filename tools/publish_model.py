"""Turn a training checkpoint into a small file that is safe to share (as mmseg's publish_model).

    python tools/publish_model.py IN_FILE OUT_FILE [--config CONFIG] [--cfg-options k=v ...]
                                  [--unsafe-load] [--allow-foreign]

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

Hostile or mistaken inputs are one-line ``error: ...`` messages naming the path, never a
traceback: OUT_FILE is checked before IN_FILE is read (a name ending in a separator, an
existing folder, an empty file name, a folder below a file or not writable); IN_FILE may not be
truncated, a torch zip whose member names leave the archive (``../``, absolute paths) or
otherwise unreadable. A state dict that is empty, holds no tensor, or does not look like a
BaCLIP model (keys under none of BaCLIP's top-level modules ``backbone``, ``text_encoder``,
``align_neck``, ``neck``, ``decode_head``; with ``--config``, the modules of the model it
builds) is refused, naming a few of its keys; ``--allow-foreign`` publishes such a state dict
(not an empty one) with a warning instead.
"""
import argparse
import os
import os.path as osp
import pickle
import re
import sys
import zipfile
from collections import OrderedDict
from collections.abc import Mapping
from typing import Iterable, List, Optional, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmseg_baclip  # noqa: E402,F401  (registers the plugin, mmcv-lite fallback)
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmseg.registry import MODELS  # noqa: E402

from mmseg_baclip.engine import load_checkpoint_file  # noqa: E402
from mmseg_baclip.models.utils.frozen_weights import (FROZEN_WEIGHTS_KEY,  # noqa: E402
                                                      frozen_sources, frozen_weights_record,
                                                      strip_frozen_weights)
from mmseg_baclip.utils.file_fingerprint import file_sha256  # noqa: E402
from mmseg_baclip.utils.output_paths import OutputPathError, check_output_file  # noqa: E402

#: The top-level modules of the BaCLIP segmentor (``mmseg_baclip/models/segmentors/baclip.py``):
#: every key of its state dict lies under one of them.
BACLIP_MODULES = ('backbone', 'text_encoder', 'align_neck', 'neck', 'decode_head',
                  'data_preprocessor')

#: What reading a checkpoint raises: the project's BrokenCheckpointError (a RuntimeError),
#: UnsafeCheckpointError (an UnpicklingError) and FileNotFoundError, and what torch.load raises
#: itself on a damaged or crafted file (its zip reader's RuntimeError, zipfile's BadZipFile...).
CHECKPOINT_READ_ERRORS = (OSError, RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile,
                          EOFError, ValueError, KeyError, TypeError, AttributeError,
                          ImportError)


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
    parser.add_argument('--allow-foreign', action='store_true',
                        help='publish a state dict that does not look like a BaCLIP model (keys '
                        'under other modules) with a warning instead of refusing it')
    return parser.parse_args(argv)


def check_out_file(out_file: str) -> str:
    """Check OUT_FILE before anything is read: ``SystemExit('error: ...')`` naming it when the
    published file (``<stem>-<hash>.pth``, written through ``<stem>.pth.tmp``) cannot be
    written there."""
    stem = out_file[:-len('.pth')] if out_file.endswith('.pth') else out_file
    try:
        check_output_file(out_file, 'OUT_FILE')
        if osp.basename(stem) in ('', '.', '..'):
            raise OutputPathError(f'OUT_FILE {out_file!r} has an empty file name (before '
                                  '".pth"): the published file would be named '
                                  f'{osp.join(osp.dirname(stem), "")}-<hash>.pth; add a name')
        check_output_file(f'{stem}.pth.tmp', 'OUT_FILE (its temporary file)')
    except OutputPathError as error:
        raise SystemExit(f'error: {error}') from None
    return out_file


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def escaping_zip_member(path: str) -> Optional[str]:
    """The first member name of a zip checkpoint that would leave the archive's folder when
    extracted (``../``, an absolute path, a drive letter), or None.

    torch's reader does not extract members, but no file torch.save writes has such a name: it
    is a crafted archive (zip-slip), refused before torch reads it.
    """
    if not zipfile.is_zipfile(path):
        return None
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            parts = name.replace('\\', '/').split('/')
            if name.startswith(('/', '\\')) or '..' in parts or re.match(r'^[A-Za-z]:', name):
                return name
    return None


def read_checkpoint(in_file: str, unsafe: bool = False):
    """``load_checkpoint_file`` with every failure a one-line ``SystemExit('error: ...')`` naming
    ``in_file`` (truncated, corrupt, crafted, refused by the safe unpickler, missing)."""
    try:
        if osp.isfile(in_file):
            member = escaping_zip_member(in_file)
            if member is not None:
                raise SystemExit(f'error: {in_file} is not a checkpoint written by torch.save: '
                                 f'the zip member {member!r} lies outside the archive (a '
                                 'crafted "zip-slip" file); nothing of it was read')
        return load_checkpoint_file(in_file, map_location='cpu', unsafe=unsafe)
    except CHECKPOINT_READ_ERRORS as error:
        message = _first_line(error)  # the project's errors name the file already
        if in_file not in message:
            message = (f'cannot read the checkpoint {in_file}: {type(error).__name__}: '
                       f'{message}')
        raise SystemExit(f'error: {message}') from None


def _shown_keys(keys: Iterable, count: int = 5) -> str:
    keys = list(keys)
    shown = ', '.join(repr(k) for k in keys[:count])
    return shown + (f', ... ({len(keys)} in all)' if len(keys) > count else '')


def check_baclip_state(state: Mapping, in_file: str, modules: Iterable[str] = BACLIP_MODULES,
                       allow_foreign: bool = False) -> None:
    """Refuse (``SystemExit``) a state dict that is empty, holds no tensor, or has keys under
    none of ``modules`` / keys outside them (a warning instead with ``allow_foreign``)."""
    if not isinstance(state, Mapping):
        raise SystemExit(f'error: {in_file}: its state dict is a {type(state).__name__}, not a '
                         'dict of tensors')
    if not state:
        raise SystemExit(f'error: {in_file}: its state dict is empty: there is nothing to publish')
    if not any(isinstance(v, torch.Tensor) for v in state.values()):
        raise SystemExit(f'error: {in_file}: its state dict holds no tensor ({len(state)} '
                         f'entries: {_shown_keys(state)}): there is nothing to publish')
    modules = tuple(sorted(set(modules)))
    keys = list(state)
    outside = [k for k in keys if not (  # 'module.': saved from a DistributedDataParallel
        isinstance(k, str) and re.sub(r'^module\.', '', k).split('.', 1)[0] in modules)]
    if not outside:
        return
    names = ', '.join(f'{m}.' for m in modules)
    if len(outside) == len(keys):
        problem = (f'none of its {len(keys)} keys lies under a BaCLIP module ({names}); its '
                   f'keys: {_shown_keys(keys)}')
    else:
        problem = (f'{len(outside)} of its {len(keys)} keys lie under no BaCLIP module '
                   f'({names}): {_shown_keys(outside)}')
    if not allow_foreign:
        raise SystemExit(f'error: {in_file} does not look like a BaCLIP model: {problem}. Pass '
                         '--allow-foreign to publish it anyway')
    print(f'warning: {in_file} does not look like a BaCLIP model: {problem}; published anyway '
          '(--allow-foreign)', file=sys.stderr)


def build_model(cfg: Config):
    """The model of ``cfg`` (frozen weights not read yet)."""
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    return MODELS.build(cfg.model)


def slim_state_dict(state_dict: dict, cfg: Config, model=None,
                    in_file: str = 'the checkpoint') -> Tuple[OrderedDict, dict]:
    """The state dict without the frozen weights that equal the config's files.

    The model of ``cfg`` reads its frozen weights from the files, then loads ``state_dict``
    (strict); modules whose frozen weights in the checkpoint differ from their file keep them.

    Args:
        model (nn.Module, optional): The model of ``cfg`` if already built.
        in_file (str): The checkpoint's name, for the error of a state dict that does not fit.

    Returns:
        tuple[OrderedDict, dict]: The state dict to publish and the frozen-weights record
        (empty: nothing left out).
    """
    if model is None:
        model = build_model(cfg)
    for source in frozen_sources(model):
        if source.module.frozen_weight_file() is not None:
            source.module.load_frozen_weights()
    metadata = getattr(state_dict, '_metadata', None)
    state_dict = OrderedDict((re.sub(r'^module\.', '', k), v) for k, v in state_dict.items())
    if metadata is not None:
        state_dict._metadata = metadata
    try:  # as strict=True (checked below); what a slim checkpoint lacks is read from the files
        incompatible = model.load_state_dict(state_dict, strict=False)
    except RuntimeError as error:  # shapes that differ, frozen weights of another file
        raise SystemExit(f'error: {in_file} does not fit the model of --config: '
                         f'{" ".join(str(error).split())[:500]}') from None
    if incompatible.missing_keys or incompatible.unexpected_keys:
        raise SystemExit(
            f'error: {in_file} does not fit the model of --config: '
            f'{len(incompatible.missing_keys)} keys missing '
            f'({_shown_keys(incompatible.missing_keys)}), '
            f'{len(incompatible.unexpected_keys)} unexpected '
            f'({_shown_keys(incompatible.unexpected_keys)})')
    for source in frozen_sources(model):
        path = source.module.frozen_weight_file()
        if path is not None and source.module.frozen_weights_loaded_from is None:
            print(f'warning: the frozen weights of {source.name} in the checkpoint differ from '
                  f'{path}: they are kept in the published file', file=sys.stderr)
    state = model.state_dict()  # the checkpoint's values, in the model's order and metadata
    return state, strip_frozen_weights(model, state)


def publish(in_file: str, out_file: str, cfg: Optional[Config] = None,
            unsafe: bool = False, allow_foreign: bool = False) -> str:
    """Write the published file; returns its path (``<out_file stem>-<sha256[:8]>.pth``).

    Every refusal (see the module docstring) is a ``SystemExit('error: ...')``.
    """
    check_out_file(out_file)  # before anything is read
    checkpoint = read_checkpoint(in_file, unsafe=unsafe)
    if not isinstance(checkpoint, dict):
        raise SystemExit(f'error: {in_file} is not a checkpoint (a {type(checkpoint).__name__})')
    state = checkpoint.get('state_dict', checkpoint)
    meta = checkpoint.get('meta') or {}
    if not isinstance(meta, Mapping):
        raise SystemExit(f'error: {in_file}: its "meta" is a {type(meta).__name__}, not a dict')
    meta = dict(meta)
    model = build_model(cfg) if cfg is not None else None
    modules = BACLIP_MODULES if model is None else {
        key.split('.', 1)[0] for key in model.state_dict()} | {
            name for name, _ in model.named_children()}
    check_baclip_state(state, in_file, modules, allow_foreign)
    record = frozen_weights_record(checkpoint) or {}
    if cfg is not None:
        state, record = slim_state_dict(state, cfg, model, in_file)
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
    check_out_file(args.out_file)  # before the config or the checkpoint is read
    cfg = None
    if args.config is not None:
        cfg = Config.fromfile(args.config)
        if args.cfg_options is not None:
            cfg.merge_from_dict(args.cfg_options)
    final = publish(args.in_file, args.out_file, cfg, unsafe=args.unsafe_load,
                    allow_foreign=args.allow_foreign)
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
