"""Is a checkpoint file complete, and which checkpoint should ``--resume`` continue from?

A checkpoint written by ``torch.save`` is a zip archive whose central directory is written
last, so a save cut short (disk full, killed job) leaves a file that is empty or whose archive
does not open; each member also carries a CRC. :func:`checkpoint_file_problem` checks exactly
that, without unpickling anything (so it is safe on any file and costs one read of the file).

:func:`find_resume_checkpoint` is what ``tools/train.py --resume`` (no path) uses instead of
mmengine's ``last_checkpoint`` file alone: the newest *complete* checkpoint of the work
directory, and the newer broken files it skipped.
"""
import os
import os.path as osp
import pickle
import re
import zipfile
from typing import List, NamedTuple, Optional, Tuple

import torch

#: Checkpoint names written by mmengine's CheckpointHook (``filename_tmpl`` defaults).
CHECKPOINT_NAME = re.compile(r'^(epoch|iter)_(\d+)\.pth$')


class BrokenCheckpointError(RuntimeError):
    """A checkpoint file that is empty, truncated or corrupt."""


def checkpoint_file_problem(path: str) -> Optional[str]:
    """Why a checkpoint file cannot be loaded, or None when it is complete.

    Args:
        path (str): A local file.

    Returns:
        str | None: ``'file not found'``, ``'empty (0 bytes)...'``, ``'truncated or corrupt
        (...)'``, or None. A legacy (non-zip) file is only checked for being readable by the
        safe unpickler; one that needs unsafe loading counts as complete (the loader decides).
    """
    if not osp.isfile(path):
        return 'file not found'
    size = osp.getsize(path)
    if size == 0:
        return 'empty (0 bytes): its save was interrupted, e.g. by a full disk'
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                bad = archive.testzip()  # reads every member and checks its CRC
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
            return f'truncated or corrupt ({type(error).__name__}: {error}; {size} bytes)'
        return None if bad is None else f'corrupt (bad CRC in the archive member {bad!r})'
    with open(path, 'rb') as f:
        head = f.read(4)
    if head.startswith(b'PK'):  # a zip archive whose end (central directory) is missing
        return f'truncated ({size} bytes: the end of the zip archive is missing)'
    try:  # a legacy torch.save file (torch < 1.6 or _use_new_zipfile_serialization=False)
        torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as error:
        if 'truncated' in str(error):
            return f'truncated ({error}; {size} bytes)'
        return None  # refused by the safe unpickler, not broken: the loader reports it
    except Exception as error:  # noqa: BLE001 - EOFError, RuntimeError...: the file is broken
        return f'truncated or corrupt ({type(error).__name__}: {error}; {size} bytes)'
    return None


def check_checkpoint_file(path: str) -> None:
    """Raise :class:`BrokenCheckpointError` naming ``path`` when it is not a complete file.

    Args:
        path (str): A local checkpoint file.
    """
    problem = checkpoint_file_problem(path)
    if problem == 'file not found':
        raise FileNotFoundError(f'Checkpoint file not found: {path}')
    if problem:
        raise BrokenCheckpointError(
            f'The checkpoint {path} is {problem}. Use another checkpoint (tools/train.py '
            '--resume without a path picks the newest complete one of the work dir).')


class ResumeChoice(NamedTuple):
    """What :func:`find_resume_checkpoint` found.

    Attributes:
        path (str | None): The newest complete checkpoint, or None.
        skipped (list[tuple[str, str]]): ``(path, problem)`` of the broken checkpoints newer
            than ``path`` (all of them when ``path`` is None), newest first.
    """
    path: Optional[str]
    skipped: List[Tuple[str, str]]


def _step(path: str) -> Tuple[int, float]:
    match = CHECKPOINT_NAME.match(osp.basename(path))
    return (int(match.group(2)) if match else -1, osp.getmtime(path))


def find_resume_checkpoint(work_dir: str) -> ResumeChoice:
    """The newest complete checkpoint of a work dir, and the newer broken ones.

    Candidates are the file named by mmengine's ``<work_dir>/last_checkpoint`` and every
    ``epoch_<n>.pth`` / ``iter_<n>.pth`` in the work dir and in that file's folder (the
    checkpoint hook's ``out_dir``); the newest is the highest ``n`` (then the latest
    modification time).

    Args:
        work_dir (str): The run's work dir.

    Returns:
        ResumeChoice: The checkpoint to resume from (None when there is none) and the broken
        files skipped.
    """
    folders, named = {work_dir}, None
    record = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(record):
        with open(record, encoding='utf-8', errors='replace') as f:
            named = f.read().strip() or None
        if named and osp.isdir(osp.dirname(named)):
            folders.add(osp.dirname(named))
    candidates = {osp.join(folder, name) for folder in folders if osp.isdir(folder)
                  for name in os.listdir(folder) if CHECKPOINT_NAME.match(name)}
    ordered = sorted((p for p in candidates if osp.isfile(p)), key=_step, reverse=True)
    if named and named not in candidates:
        ordered.insert(0, named)  # a name outside the usual pattern: trust the record first
    skipped = []
    for path in ordered:
        problem = checkpoint_file_problem(path)
        if problem is None:
            return ResumeChoice(path, skipped)
        skipped.append((path, problem))
    return ResumeChoice(None, skipped)
