"""Reading checkpoints safely, on every scheme, without touching torch or mmengine globals.

Every checkpoint this project reads (``load_from``, ``--resume``, ``tools/test.py``, the
inferencer, ``publish_model.py``) goes through :func:`load_checkpoint_file`, which calls
``torch.load`` with an explicit ``weights_only`` (True unless the user passes ``--unsafe-load``
for an old pickle from a trusted source), whatever the torch version:

* a local file is loaded directly, after a completeness check (an empty or truncated file is
  an error naming it, see :mod:`.checkpoint_files`);
* an ``http://`` / ``https://`` address is resolved to its file in torch.hub's cache
  (``<torch.hub.get_dir()>/checkpoints/<file name>``, where torch.hub and mmengine put
  downloads) and loaded like a local file; nothing is downloaded (mmengine's own http loader
  calls torch.hub with ``weights_only=False``, so it is never used);
* mmengine's model-zoo names (``open-mmlab://``, ``openmmlab://``, ``torchvision://``,
  ``modelzoo://``, ``mmcls://``) are resolved through mmengine's own name tables to their
  address, then as above;
* a storage address (``s3://``, ``petrel://``...) is read as bytes through mmengine's file
  backends and loaded from memory;
* any other scheme is refused, naming it: its loader would call ``torch.load`` itself.

Loaders that know nothing of this project (mmengine's plain Runner, which mmseg's own
``tools/test.py`` always builds; ``mmengine.runner.load_checkpoint``; ``mmseg.apis.init_model``)
are covered too where mmengine would unpickle unsafely: importing this module (the configs'
``custom_imports`` do) registers :func:`load_checkpoint_file` in mmengine's ``CheckpointLoader``,
through its public ``register_scheme``, for the address schemes whose mmengine loaders go
through torch.hub with ``weights_only=False`` (``http(s)://`` and the model-zoo names; as for
this project's own paths, a file missing from the cache is an error, never a download). Local
and storage files keep mmengine's loaders, which call ``torch.load`` with torch's default,
``weights_only=True`` since torch 2.6.

A file that needs more than the safe unpickler allows is refused with
:class:`UnsafeCheckpointError` (nothing in it runs). Checkpoints written by
:class:`~mmseg_baclip.engine.BaCLIPRunner` never need more. Third-party weights (open_clip,
SAM) are read by the models' ``init_weights`` with ``weights_only=True``.
"""
import io
import os.path as osp
import pickle
import re
from typing import Any, Optional
from urllib.parse import urlparse

import torch
from mmengine import fileio
from mmengine.runner.checkpoint import (CheckpointLoader, get_deprecated_model_names,
                                        get_external_models, get_mmcls_models,
                                        get_torchvision_models)

from .checkpoint_files import check_checkpoint_file

__all__ = ['UnsafeCheckpointError', 'load_checkpoint_file', 'resolve_checkpoint_url',
           'UNSAFE_LOAD_WARNING']

URL_PREFIXES = ('http://', 'https://')
#: mmengine's model-zoo names, resolved through its own name tables.
ZOO_PREFIXES = ('open-mmlab://', 'openmmlab://', 'torchvision://', 'modelzoo://', 'mmcls://')
#: Storage schemes read as bytes through mmengine's file backends.
STORAGE_SCHEME = re.compile(r'^(\S+:)?(s3|petrel)://')

UNSAFE_LOAD_WARNING = (
    'UNSAFE CHECKPOINT LOADING (--unsafe-load): checkpoints are unpickled with '
    'torch.load(weights_only=False). A crafted checkpoint file can run ANY code on this machine '
    'while it is loaded. Use this only for old checkpoints from a source you trust.')

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
            'always load safely; a file that does not may be old (written before BaCLIPRunner), '
            'come from another code base, or have been tampered with. If you trust its source, '
            're-run tools/train.py or tools/test.py with --unsafe-load (or set '
            'checkpoint_cfg=dict(unsafe_load=True) in the config).')


def resolve_checkpoint_url(url: str, model_dir: Optional[str] = None) -> str:
    """The local file of a checkpoint URL in torch.hub's cache. Nothing is downloaded.

    The cache layout is torch.hub's (``<model_dir>/<last part of the URL path>``), so a file
    that torch.hub or mmengine cached before is found again. A URL
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


def resolve_zoo_name(filename: str) -> str:
    """The address of an mmengine model-zoo name, from mmengine's own name tables.

    Args:
        filename (str): ``open-mmlab://NAME``, ``openmmlab://NAME``, ``torchvision://NAME``,
            ``modelzoo://NAME`` or ``mmcls://NAME``.

    Returns:
        str: An ``http(s)://`` address, or a local file under mmengine's home folder.

    Raises:
        KeyError: The name is not in mmengine's table.
    """
    scheme, name = filename.split('://', 1)
    if scheme in ('open-mmlab', 'openmmlab'):
        name = get_deprecated_model_names().get(name, name)
        table = get_external_models()
    elif scheme in ('torchvision', 'modelzoo'):
        table = get_torchvision_models()
    else:  # mmcls
        table = get_mmcls_models()
    if name not in table:
        raise KeyError(f'{filename}: mmengine knows no model named {name!r} under {scheme}://')
    address = table[name]
    if address.startswith(URL_PREFIXES):
        return address
    from mmengine.runner.checkpoint import _get_mmengine_home  # where mmengine keeps them
    return osp.join(_get_mmengine_home(), address)



def load_checkpoint_file(filename: str, map_location: Any = None, *,
                         unsafe: bool = False) -> Any:
    """``torch.load`` a checkpoint with an explicit ``weights_only``, on any scheme.

    Args:
        filename (str): A local path, an ``http(s)://`` address (torch.hub's cache), an
            mmengine model-zoo name or an ``s3://`` / ``petrel://`` address (see the module
            docstring).
        map_location: As in :func:`torch.load`.
        unsafe (bool): Load with ``weights_only=False`` (runs pickled code). Default: False.

    Returns:
        The loaded object (a checkpoint dict or a bare state dict).

    Raises:
        UnsafeCheckpointError: The file needs more than the safe unpickler allows.
        FileNotFoundError: A local or cached file that does not exist.
        BrokenCheckpointError: An empty or truncated file (e.g. an interrupted save).
        ValueError: A scheme that cannot be read safely.
    """
    shown = filename
    try:
        if filename.startswith(ZOO_PREFIXES):
            address = resolve_zoo_name(filename)
            shown = f'{filename} ({address})'
            return load_checkpoint_file(address, map_location, unsafe=unsafe)
        if STORAGE_SCHEME.match(filename):
            with io.BytesIO(fileio.get(filename)) as buffer:
                return torch.load(buffer, map_location=map_location, weights_only=not unsafe)
        if filename.startswith(URL_PREFIXES):
            path = resolve_checkpoint_url(filename)
            shown = f'{filename} (cached as {path})'
        elif '://' in filename:
            raise ValueError(
                f'Checkpoint {filename!r}: the scheme {filename.split("://")[0]}:// cannot be '
                'read safely (its loader would unpickle the file itself). Copy the file here '
                'and give its local path.')
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


def _load_address_safely(filename: str, map_location: Any = None) -> Any:
    """mmengine's scheme-loader signature around :func:`load_checkpoint_file`: for loaders that
    are not this project's (mmengine's plain Runner, ``PretrainedInit`` of a stock backbone,
    ``init_model``), an address or model-zoo name is read from torch.hub's cache with
    ``weights_only=True``, never downloaded; a missing file is an error saying where to put it."""
    return load_checkpoint_file(filename, map_location)


CheckpointLoader.register_scheme(prefixes=URL_PREFIXES + ZOO_PREFIXES,
                                 loader=_load_address_safely, force=True)
