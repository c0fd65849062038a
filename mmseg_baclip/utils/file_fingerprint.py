"""Identify a weight file by its content: sha256, computed once per process and file version.

Slim checkpoints (see :mod:`mmseg_baclip.models.utils.frozen_weights`) record the sha256 of each
file
their frozen weights come from (the CLIP and SAM files), and loading one checks it. The full
sha256 is used rather than a quicker partial fingerprint (size plus the first and last
megabyte): two checkpoints of one architecture have the same size and often the same first and
last tensors (a CLIP whose text tower alone was fine-tuned), and the full digest is the number
Hugging Face lists for each LFS file and ``sha256sum FILE`` prints, so a user can check a file
by hand. It costs one read of the file (about 1-3 s for the 1.4 GB CLIP file), and only once
per process: the digest is cached under the file's :class:`FileStamp` (real path, size,
modification time), so a file replaced or rewritten is hashed again.
"""
import hashlib
import os
import os.path as osp
import threading
from typing import Dict, NamedTuple

__all__ = ['FileStamp', 'file_sha256']

_CHUNK = 1 << 22  # 4 MiB
_cache: Dict['FileStamp', str] = {}
_lock = threading.Lock()


class FileStamp(NamedTuple):
    """A version of a file: its real path, size and modification time (ns)."""

    path: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: str) -> 'FileStamp':
        """The stamp of ``path`` now (``FileNotFoundError`` if it does not exist)."""
        real = osp.realpath(osp.expanduser(path))
        stat = os.stat(real)
        return cls(real, stat.st_size, stat.st_mtime_ns)


def file_sha256(path: str) -> str:
    """The hex sha256 of a file's content, cached per :class:`FileStamp`.

    Args:
        path (str): A local file.

    Returns:
        str: 64 hex digits, as ``sha256sum`` prints.
    """
    stamp = FileStamp.of(path)
    with _lock:
        if stamp in _cache:
            return _cache[stamp]
    digest = hashlib.sha256()
    with open(stamp.path, 'rb') as f:
        for block in iter(lambda: f.read(_CHUNK), b''):
            digest.update(block)
    with _lock:
        _cache[stamp] = digest.hexdigest()
    return _cache[stamp]
