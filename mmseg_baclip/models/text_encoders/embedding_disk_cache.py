"""Class-name embeddings kept on disk, so a new process need not run the CLIP text tower again.

Encoding the 61 OVCamo test names with the 6 CamoPrompts templates through the paper's CLIP
text tower takes about 45 s on a 2-core CPU. The embeddings depend only on what
:class:`EmbeddingEntry` holds, so they are stored once per entry and read back by later
processes: ``tools/infer.py``, ``tools/test.py``, the web demo, validation during training.

Where: ``$BACLIP_CACHE_DIR/text_embeddings``; without that variable
``$XDG_CACHE_HOME/mmseg_baclip/text_embeddings``, and without that
``~/.cache/mmseg_baclip/text_embeddings``. ``BACLIP_TEXT_CACHE=0`` turns the cache off.

Each entry is one file, ``<key>.pt`` (``key``: the sha256 of the entry's fields and
:data:`FORMAT_VERSION`), written with ``torch.save`` to a temporary file and renamed into place,
read with ``torch.load(weights_only=True)``. It holds the embeddings (N x D, float32) and the
fields of its entry (CLIP file sha256, model name, templates, class names), so
``tools/misc/text_embedding_cache.py --list`` can show what it is. A file that cannot be read,
or whose contents do not fit its entry (other fields, shape, NaN/Inf), is a miss with a
warning and is overwritten; a folder that cannot be written is a warning (once), never an
error: the embeddings are then encoded in each run, as without the cache.

The owner of the weights decides whether an entry applies: only
:class:`~mmseg_baclip.models.text_encoders.OpenCLIPTextEncoder` whose text tower holds exactly
the weights of its CLIP file uses it (see its ``forward``).
"""
import hashlib
import json
import os
import os.path as osp
import re
import tempfile
import warnings
from typing import List, NamedTuple, Optional, Tuple

import torch
from torch import Tensor

__all__ = ['CACHE_DIR_ENV', 'FORMAT_VERSION', 'SWITCH_ENV', 'EmbeddingEntry', 'cache_dir',
           'cache_enabled', 'clear_cache', 'entry_path', 'list_entries', 'load_embeddings',
           'save_embeddings']

#: Version of what an entry holds and of the recipe that computes it (the templates' mean of
#: L2-normalised prompt embeddings, L2-normalised). Changing either changes this number, so
#: old entries are no longer found.
FORMAT_VERSION = 1
#: Environment variable: the folder of mmseg_baclip's caches (entries go to its
#: ``text_embeddings`` subfolder).
CACHE_DIR_ENV = 'BACLIP_CACHE_DIR'
#: Environment variable: ``0`` / ``false`` / ``no`` / ``off`` turn the cache off.
SWITCH_ENV = 'BACLIP_TEXT_CACHE'
SUBFOLDER = 'text_embeddings'

_ON = ('', '1', 'true', 'yes', 'on')
_OFF = ('0', 'false', 'no', 'off')
_ENTRY_FILE = re.compile(r'^[0-9a-f]{64}\.pt$')
_TEMP_FILE = re.compile(r'^\.[0-9a-f]{64}\..*\.tmp$')
_warned = set()


class EmbeddingEntry(NamedTuple):
    """Everything that determines a vocabulary's class embeddings.

    Attributes:
        clip_sha256 (str): sha256 of the open_clip checkpoint file the text tower was read from.
        model_name (str): open_clip model name (architecture and tokenizer).
        templates (tuple[str]): The prompt templates, exactly and in order.
        class_names (tuple[str]): The N class names, exactly and in order.
        weight_dtype (str): dtype of the text tower's weights, e.g. ``'torch.float32'``.
        open_clip_version (str): ``open_clip.__version__`` (its tokenizer and text tower code).
    """

    clip_sha256: str
    model_name: str
    templates: Tuple[str, ...]
    class_names: Tuple[str, ...]
    weight_dtype: str
    open_clip_version: str

    def fields(self) -> dict:
        """The entry as a dict of strings and lists of strings (as stored in the file)."""
        return dict(format=FORMAT_VERSION, clip_sha256=self.clip_sha256,
                    model_name=self.model_name, templates=list(self.templates),
                    class_names=list(self.class_names), weight_dtype=self.weight_dtype,
                    open_clip_version=self.open_clip_version)

    @property
    def key(self) -> str:
        """str: 64 hex digits, the sha256 of :meth:`fields` (the file's name)."""
        text = json.dumps(self.fields(), sort_keys=True, ensure_ascii=True)
        return hashlib.sha256(text.encode('ascii')).hexdigest()


def cache_enabled() -> bool:
    """Whether the disk cache is on (``BACLIP_TEXT_CACHE`` unset, ``1``, or ``0`` to turn off).

    Raises:
        ValueError: The variable holds something else.
    """
    value = os.environ.get(SWITCH_ENV, '').strip().lower()
    if value in _ON:
        return True
    if value in _OFF:
        return False
    raise ValueError(f'{SWITCH_ENV}={os.environ[SWITCH_ENV]!r}: use 1 (cache class-name '
                     'embeddings on disk, the default) or 0 (do not).')


def cache_dir() -> str:
    """The folder of the entries.

    Returns:
        str: ``$BACLIP_CACHE_DIR/text_embeddings``, else
        ``$XDG_CACHE_HOME/mmseg_baclip/text_embeddings``, else
        ``~/.cache/mmseg_baclip/text_embeddings``.
    """
    root = os.environ.get(CACHE_DIR_ENV)
    if not root:
        xdg = os.environ.get('XDG_CACHE_HOME') or osp.join('~', '.cache')
        root = osp.join(xdg, 'mmseg_baclip')
    return osp.abspath(osp.join(osp.expanduser(root), SUBFOLDER))


def entry_path(entry: EmbeddingEntry, folder: Optional[str] = None) -> str:
    """The file of ``entry`` in ``folder`` (default: :func:`cache_dir`)."""
    return osp.join(folder or cache_dir(), f'{entry.key}.pt')


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, stacklevel=3)


def _check(data, entry: EmbeddingEntry, embed_dim: int) -> Tensor:
    """The embeddings of a loaded file, or ``ValueError`` saying why they do not fit."""
    if not isinstance(data, dict):
        raise ValueError(f'holds a {type(data).__name__}, not a dict')
    stored = {k: data.get(k) for k in entry.fields()}
    if stored != entry.fields():
        wrong = sorted(k for k, v in entry.fields().items() if stored[k] != v)
        raise ValueError(f'its {", ".join(wrong)} differ from the entry it is named after')
    emb = data.get('embeddings')
    if not isinstance(emb, Tensor):
        raise ValueError('has no "embeddings" tensor')
    expected = (len(entry.class_names), embed_dim)
    if tuple(emb.shape) != expected or emb.dtype != torch.float32:
        raise ValueError(f'embeddings are {tuple(emb.shape)} {emb.dtype}, expected '
                         f'{expected} torch.float32')
    if not bool(torch.isfinite(emb).all()):
        raise ValueError('embeddings hold NaN or Inf')
    return emb


def load_embeddings(entry: EmbeddingEntry, embed_dim: int,
                    folder: Optional[str] = None) -> Optional[Tensor]:
    """The stored embeddings of ``entry``, or None (no file, or one that is unusable).

    An unusable file (unreadable, not this entry, wrong shape, NaN/Inf) gives a warning, once
    per file, and None: the caller encodes again and :func:`save_embeddings` overwrites it.

    Args:
        entry (EmbeddingEntry): What the embeddings are of.
        embed_dim (int): D, the text tower's output width.
        folder (str, optional): Default: :func:`cache_dir`.

    Returns:
        Tensor | None: N x D float32 on the CPU (N: ``len(entry.class_names)``).
    """
    path = entry_path(entry, folder)
    if not osp.isfile(path):
        return None
    try:
        data = torch.load(path, map_location='cpu', weights_only=True)
        return _check(data, entry, embed_dim)
    except Exception as error:  # noqa: BLE001  a cache file must never stop a run
        _warn_once(f'read:{path}', f'Text-embedding cache file {path} is unusable ({error}); '
                   'encoding the class names again and overwriting it.')
        return None


def save_embeddings(entry: EmbeddingEntry, embeddings: Tensor,
                    folder: Optional[str] = None) -> Optional[str]:
    """Store the embeddings of ``entry`` (atomically: a temporary file renamed into place).

    A folder that cannot be created or written gives a warning, once per folder, and None.

    Args:
        entry (EmbeddingEntry): What the embeddings are of.
        embeddings (Tensor): N x D, stored as float32 on the CPU.
        folder (str, optional): Default: :func:`cache_dir`.

    Returns:
        str | None: The file written, or None when it could not be.
    """
    folder = folder or cache_dir()
    path = entry_path(entry, folder)
    payload = dict(entry.fields(), embeddings=embeddings.detach().float().cpu().contiguous())
    temp = None
    try:
        os.makedirs(folder, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=folder, prefix=f'.{entry.key}.', suffix='.tmp')
        with os.fdopen(fd, 'wb') as f:
            torch.save(payload, f)
        os.replace(temp, path)
        return path
    except (OSError, RuntimeError) as error:  # RuntimeError: torch's writer on a full disk
        if temp is not None and osp.exists(temp):
            try:
                os.remove(temp)
            except OSError:
                pass
        _warn_once(f'write:{folder}', f'Cannot write the text-embedding cache in {folder} '
                   f'({error}); class names are encoded again in each run. Set '
                   f'{CACHE_DIR_ENV} to a writable folder, or {SWITCH_ENV}=0 to turn the cache '
                   'off.')
        return None


def _own_files(folder: str) -> List[str]:
    """The entry files and left-over temporary files in ``folder`` (nothing else), sorted."""
    if not osp.isdir(folder):
        return []
    return sorted(osp.join(folder, name) for name in os.listdir(folder)
                  if _ENTRY_FILE.match(name) or _TEMP_FILE.match(name))


def list_entries(folder: Optional[str] = None) -> List[dict]:
    """The entries in the cache.

    Args:
        folder (str, optional): Default: :func:`cache_dir`.

    Returns:
        list[dict]: Per entry file, sorted by name: ``path``, ``bytes`` and either the stored
        fields (``model_name``, ``class_names``, ``templates``, ``clip_sha256``, ...) with
        ``shape``, or ``error`` for a file that cannot be read.
    """
    entries = []
    for path in _own_files(folder or cache_dir()):
        if not path.endswith('.pt'):
            continue
        info = dict(path=path, bytes=osp.getsize(path))
        try:
            data = torch.load(path, map_location='cpu', weights_only=True)
            info.update({k: v for k, v in data.items() if k != 'embeddings'})
            info['shape'] = tuple(data['embeddings'].shape)
        except Exception as error:  # noqa: BLE001  listed as unreadable, not fatal
            info['error'] = str(error).splitlines()[0] if str(error) else type(error).__name__
        entries.append(info)
    return entries


def clear_cache(folder: Optional[str] = None) -> Tuple[int, int]:
    """Delete every entry (and left-over temporary file); other files in the folder stay.

    Args:
        folder (str, optional): Default: :func:`cache_dir`.

    Returns:
        tuple[int, int]: Entry files removed and the bytes they held (temporary files included
        in the bytes, not in the count).
    """
    count = size = 0
    for path in _own_files(folder or cache_dir()):
        size += osp.getsize(path)
        os.remove(path)
        count += path.endswith('.pt')
    return count, size
