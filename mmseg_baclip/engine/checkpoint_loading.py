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

Every path ends in the same loader, :func:`load_checkpoint_file`:

* a local file is loaded directly;
* an ``http://`` / ``https://`` address is resolved to its file in torch.hub's cache
  (``<torch.hub.get_dir()>/checkpoints/<file name>``, where ``torch.hub`` and mmengine put
  downloads), and that file is loaded like a local one; nothing is downloaded, a missing file
  is an error saying where to put it.
  mmengine's own http loader is *not* used: it calls torch.hub, which passes
  ``weights_only=False`` explicitly;
* any other mmengine scheme (``s3://``, ``open-mmlab://``...) runs its loader with every
  ``torch.load`` call forced to the chosen ``weights_only``, whatever the loader passes.
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
from urllib.parse import urlparse

import torch
from mmengine.logging import print_log
from mmengine.runner.checkpoint import CheckpointLoader

from .checkpoint_files import check_checkpoint_file

__all__ = ['UnsafeCheckpointError', 'checkpoint_loading', 'load_checkpoint_file',
           'resolve_checkpoint_url', 'UNSAFE_LOAD_WARNING']

URL_PREFIXES = ('http://', 'https://')

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


def resolve_checkpoint_url(url: str, model_dir: Optional[str] = None) -> str:
    """The local file of a checkpoint URL in torch.hub's cache. Nothing is downloaded.

    The cache layout is torch.hub's (``<model_dir>/<last part of the URL path>``), so a file
    that ``torch.hub.load_state_dict_from_url`` or mmengine cached before is found again. A URL
    whose file is not there is an error saying where to put it: weights are never fetched at
    run time.

    Args:
        url (str): An ``http://`` or ``https://`` address.
        model_dir (str, optional): Cache folder. Default: ``<torch.hub.get_dir()>/checkpoints``.

    Returns:
        str: Path of the cached file (nothing is unpickled here).

    Raises:
        ValueError: ``url`` has no file name.
        FileNotFoundError: The file is not in the cache.
    """
    if model_dir is None:
        model_dir = osp.join(torch.hub.get_dir(), 'checkpoints')
    file_name = osp.basename(urlparse(url).path)
    if not file_name:
        raise ValueError(f'Checkpoint URL {url!r} does not end in a file name.')
    cached = osp.join(model_dir, file_name)
    if not osp.isfile(cached):
        raise FileNotFoundError(
            f'Checkpoint URL {url!r}: no local copy at {cached!r}, and mmseg_baclip does not '
            'download weights at run time. Download the file by hand and give its local path '
            f'(or put it at {cached!r}).')
    return cached


def load_checkpoint_file(filename: str, map_location: Any = None, *, unsafe: bool = False,
                         loader: Optional[Callable] = None) -> Any:
    """``torch.load`` a checkpoint with an explicit ``weights_only``.

    Args:
        filename (str): Local path, an ``http(s)://`` URL (resolved through torch.hub's cache
            by :func:`resolve_checkpoint_url`), or whatever ``loader`` accepts.
        map_location: As in :func:`torch.load`.
        unsafe (bool): Load with ``weights_only=False`` (runs pickled code). Default: False.
        loader (Callable, optional): An mmengine scheme loader ``loader(filename,
            map_location)`` that calls ``torch.load`` itself (s3, open-mmlab...); each of its
            ``torch.load`` calls is forced to the same ``weights_only``. Default: a local file
            or URL.

    Returns:
        The loaded object (a checkpoint dict or a bare state dict).

    Raises:
        UnsafeCheckpointError: The file needs more than the safe unpickler allows.
        FileNotFoundError: A local file that does not exist.
        BrokenCheckpointError: An empty or truncated file (e.g. an interrupted save).
    """
    shown = filename
    try:
        if loader is not None:
            return _call_with_weights_only_forced(loader, filename, map_location, not unsafe)
        if filename.startswith(URL_PREFIXES):
            path = resolve_checkpoint_url(filename)
            shown = f'{filename} (cached as {path})'
        else:
            path = osp.expanduser(filename)
            if not osp.isfile(path):
                raise FileNotFoundError(f'Checkpoint file not found: {filename!r}')
        check_checkpoint_file(path)  # empty / truncated: an error naming the file
        return torch.load(path, map_location=map_location, weights_only=not unsafe)
    except pickle.UnpicklingError as error:
        if unsafe or isinstance(error, UnsafeCheckpointError):
            raise
        raise UnsafeCheckpointError(_refusal_message(shown, error)) from None


def _call_with_weights_only_forced(loader: Callable, filename: str, map_location: Any,
                                   weights_only: bool) -> Any:
    """Run ``loader`` with every ``torch.load`` call made with ``weights_only`` (overriding
    what the loader passes, e.g. torch.hub's explicit ``weights_only=False``)."""
    original = torch.load

    @functools.wraps(original)
    def load(*args, **kwargs):
        kwargs['weights_only'] = weights_only
        return original(*args, **kwargs)

    with _lock:
        torch.load = load
        try:
            return loader(filename, map_location)
        finally:
            torch.load = original


def _wrap(prefix: str, loader: Callable, unsafe: bool) -> Callable:
    if prefix == '' or prefix in URL_PREFIXES:  # local files and URLs: our explicit loader
        def load_from_local(filename, map_location):
            return load_checkpoint_file(filename, map_location, unsafe=unsafe)
        load_from_local.__name__ = 'load_from_local' if prefix == '' else 'load_from_http'
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
    for prefix in ('', ) + URL_PREFIXES:
        if prefix not in CheckpointLoader._schemes:
            CheckpointLoader._schemes[prefix] = _wrap(prefix, None, unsafe)
    try:
        yield
    finally:
        CheckpointLoader._schemes = original
