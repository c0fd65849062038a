"""Safe checkpoint loading for the mmseg_baclip tools.

mmengine loads ``load_from`` / ``--resume`` checkpoints with a bare ``torch.load(filename)``, so
whether a file may run code while it is unpickled depends on the installed torch (the default
became ``weights_only=True`` in torch 2.6; torch 2.4-2.5 still unpickle anything). Inside
:func:`checkpoint_loading` every loader of mmengine's ``CheckpointLoader`` loads with an explicit
``weights_only`` instead, whatever the torch version:

    >>> with checkpoint_loading():           # safe: tensors, containers and numbers only
    ...     runner.train()                    # --resume / load_from go through it
    >>> with checkpoint_loading(unsafe=True): # old pickles from a trusted source only
    ...     runner.test()

A file that needs more than the safe unpickler allows is refused with
:class:`UnsafeCheckpointError` (nothing in it runs). Checkpoints written by mmseg_baclip's
Runner never need more: ``WeightsOnlyCheckpointHook`` converts what mmengine stores.
Third-party weights (open_clip, SAM) are loaded by the model's ``init_weights`` with
``weights_only=True`` and do not go through this module.
"""
import contextlib
import functools
import logging
import os.path as osp
import pickle
import re
import threading
import warnings
from collections import OrderedDict
from typing import Any, Callable, Iterator, Optional

import torch
from mmengine.logging import print_log
from mmengine.runner.checkpoint import CheckpointLoader

__all__ = ['UnsafeCheckpointError', 'checkpoint_loading', 'load_checkpoint_file',
           'UNSAFE_LOAD_WARNING']

UNSAFE_LOAD_WARNING = (
    'UNSAFE CHECKPOINT LOADING (--unsafe-load): checkpoints are unpickled with '
    'torch.load(weights_only=False). A crafted checkpoint file can run ANY code on this machine '
    'while it is loaded. Use this only for old checkpoints from a source you trust.')

_lock = threading.Lock()


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds objects that the safe (``weights_only=True``) unpickler refuses."""


def _refusal_message(filename: str, error: Exception) -> str:
    text = str(error)
    found = re.search(r'GLOBAL ([\w.]+)', text)  # torch's wording differs between versions
    lines = [line for line in text.splitlines()
             if line.strip() and not line.startswith('Weights only load failed')]
    what = (f'it references the Python object {found.group(1)}' if found else
            f'the safe unpickler stopped with: {lines[0] if lines else error!r}')
    return (f'Refused to load the checkpoint {filename!r}: {what}, which '
            'torch.load(weights_only=True) does not allow. Unpickling it could run code stored '
            'in the file, so nothing of it was loaded. Checkpoints written by mmseg_baclip '
            'always load safely; a file that does not may be old (written without '
            'WeightsOnlyCheckpointHook), come from another code base, or have been tampered '
            'with. If you trust its source, re-run tools/train.py or tools/test.py with '
            '--unsafe-load.')


def load_checkpoint_file(filename: str, map_location: Any = None, *, unsafe: bool = False,
                         loader: Optional[Callable] = None) -> Any:
    """``torch.load`` a checkpoint with an explicit ``weights_only``.

    Args:
        filename (str): Local path (or whatever ``loader`` accepts).
        map_location: As in :func:`torch.load`.
        unsafe (bool): Load with ``weights_only=False`` (runs pickled code). Default: False.
        loader (Callable, optional): An mmengine scheme loader ``loader(filename,
            map_location)`` that calls ``torch.load`` itself (http, ceph...); its
            ``torch.load`` calls default to the same ``weights_only``. Default: a local file.

    Returns:
        The loaded object (a checkpoint dict or a bare state dict).

    Raises:
        UnsafeCheckpointError: The file needs more than the safe unpickler allows.
        FileNotFoundError: A local file that does not exist.
    """
    try:
        if loader is None:
            path = osp.expanduser(filename)
            if not osp.isfile(path):
                raise FileNotFoundError(f'Checkpoint file not found: {filename!r}')
            return torch.load(path, map_location=map_location, weights_only=not unsafe)
        return _call_with_weights_only_default(loader, filename, map_location, not unsafe)
    except pickle.UnpicklingError as error:
        if unsafe or isinstance(error, UnsafeCheckpointError):
            raise
        raise UnsafeCheckpointError(_refusal_message(filename, error)) from None


def _call_with_weights_only_default(loader: Callable, filename: str, map_location: Any,
                                    weights_only: bool) -> Any:
    """Run ``loader`` with ``torch.load`` defaulting to ``weights_only`` (for loaders that call
    ``torch.load`` without the argument)."""
    original = torch.load

    @functools.wraps(original)
    def load(*args, **kwargs):
        kwargs.setdefault('weights_only', weights_only)
        return original(*args, **kwargs)

    with _lock:
        torch.load = load
        try:
            return loader(filename, map_location)
        finally:
            torch.load = original


def _wrap(prefix: str, loader: Callable, unsafe: bool) -> Callable:
    if prefix == '':  # local files: our own explicit loader
        def load_from_local(filename, map_location):
            return load_checkpoint_file(filename, map_location, unsafe=unsafe)
        return load_from_local

    @functools.wraps(loader)  # keeps the name: mmengine logs "Loads checkpoint by <name>"
    def wrapped(filename, map_location):
        return load_checkpoint_file(filename, map_location, unsafe=unsafe, loader=loader)
    return wrapped


@contextlib.contextmanager
def checkpoint_loading(unsafe: bool = False) -> Iterator[None]:
    """Make mmengine's checkpoint loading (``load_from``, ``resume``, ``load_checkpoint``)
    use an explicit ``weights_only`` while the context is active.

    Args:
        unsafe (bool): ``weights_only=False`` for trusted old pickles; warns loudly.
            Default: False (safe).
    """
    if unsafe:
        warnings.warn(UNSAFE_LOAD_WARNING, stacklevel=3)
        print_log(UNSAFE_LOAD_WARNING, logger='current', level=logging.WARNING)
    original = CheckpointLoader._schemes
    CheckpointLoader._schemes = OrderedDict(
        (prefix, _wrap(prefix, loader, unsafe)) for prefix, loader in original.items())
    if '' not in CheckpointLoader._schemes:
        CheckpointLoader._schemes[''] = _wrap('', None, unsafe)
    try:
        yield
    finally:
        CheckpointLoader._schemes = original
