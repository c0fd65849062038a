"""One training per work dir: a lock file that names its holder and dies with it.

Two trainings started in the same work dir would both run to the end and overwrite each
other's checkpoints and logs. ``tools/train.py`` therefore holds a :class:`WorkDirLock` for the
whole run:

* the lock is an exclusive, non-blocking ``fcntl.flock`` on ``<work_dir>/.train.lock``. The
  operating system releases it when the process ends, however it ends (``kill -9``, OOM killer,
  power loss of the process), so a crashed run never leaves a *live* lock behind;
* once locked, the file holds a JSON record of the holder (pid, host, user, start time, command
  line), so a refused run can say who holds the work dir (:class:`WorkDirLockedError`);
* a normal exit (or an exception) releases the lock and removes the file. A file whose lock is
  free therefore belongs to a run that died: the next run takes it over and warns, naming the
  dead run (:attr:`WorkDirLock.takeover`).

Only rank 0 of a distributed run locks (``RANK``, else ``SLURM_PROCID``, else
``OMPI_COMM_WORLD_RANK``; default 0). Where ``fcntl`` is missing (Windows), or the file system
does not support ``flock``, the run goes on without a lock, with a warning.

Example:
    >>> with WorkDirLock(cfg.work_dir) as lock:
    ...     if lock.takeover:
    ...         logger.warning(lock.takeover)
    ...     runner.train()
"""
import datetime
import errno
import getpass
import json
import os
import os.path as osp
import socket
import sys
import time
import warnings
import weakref
from typing import Optional

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

#: Name of the lock file inside the work dir.
LOCK_FILE_NAME = '.train.lock'

#: Environment variables that give the process's global rank (torchrun, slurm, Open MPI).
RANK_VARIABLES = ('RANK', 'SLURM_PROCID', 'OMPI_COMM_WORLD_RANK')

# Locks held by this process. A forked child (e.g. a dataloader worker) closes its copies of
# their descriptors, so that a child outliving a crashed parent does not keep the work dir locked
# (a flock belongs to the open file, which fork shares).
_HELD = weakref.WeakSet()


def _close_in_forked_child() -> None:
    for lock in list(_HELD):
        lock._forget()


if hasattr(os, 'register_at_fork'):
    os.register_at_fork(after_in_child=_close_in_forked_child)


class WorkDirLockedError(RuntimeError):
    """The work dir is locked by another live training run."""


def process_rank() -> int:
    """The global rank of this process, from the launcher's environment (0 when not set).

    Returns:
        int: The first of :data:`RANK_VARIABLES` that is set, as an int, else 0.
    """
    for name in RANK_VARIABLES:
        value = os.environ.get(name, '').strip()
        if value:
            try:
                return int(value)
            except ValueError:
                raise ValueError(f'environment variable {name}={value!r} is not a rank') from None
    return 0


def describe_holder(record: Optional[dict]) -> str:
    """A one-line description of a lock record, for messages.

    Args:
        record (dict | None): The JSON record of a lock file, or None when it was unreadable.

    Returns:
        str: e.g. ``"pid 4242 on host gpu-3 (user ana), started 2024-05-01T10:00:00+02:00,
        command: tools/train.py cfg.py"``.
    """
    if not record:
        return 'unknown holder (the lock file has no readable record)'
    command = record.get('command')
    if isinstance(command, (list, tuple)):
        command = ' '.join(str(part) for part in command)
    return (f"pid {record.get('pid', '?')} on host {record.get('host', '?')} "
            f"(user {record.get('user', '?')}), started {record.get('start', '?')}, "
            f"command: {command or '?'}")


def _holder_record() -> dict:
    try:
        user = getpass.getuser()
    except Exception:  # no user name in the environment nor in the password database
        user = str(os.getuid()) if hasattr(os, 'getuid') else '?'
    return dict(pid=os.getpid(), host=socket.gethostname(), user=user,
                start=datetime.datetime.now().astimezone().isoformat(timespec='seconds'),
                command=list(sys.argv))


def _read_record(fd: int) -> Optional[dict]:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    try:
        record = json.loads(b''.join(chunks).decode('utf-8'))
    except (UnicodeDecodeError, ValueError):
        return None
    return record if isinstance(record, dict) else None


class WorkDirLock:
    """Exclusive lock of a work dir for one training run (a context manager).

    Args:
        work_dir (str): The run's work dir; created when missing.
        rank (int, optional): This process's global rank; default: :func:`process_rank`. Only
            rank 0 locks; the other ranks' lock does nothing.

    Attributes:
        path (str): The lock file, ``<work_dir>/.train.lock``.
        locked (bool): Whether this object holds the lock now.
        takeover (str | None): After :meth:`acquire`, the warning about a stale lock of a dead
            run that was taken over (also given to :func:`warnings.warn`), else None.
        record (dict | None): The record this run wrote into the lock file.

    Raises:
        WorkDirLockedError: From :meth:`acquire` (``with``), when another live process holds
            the lock.
    """

    def __init__(self, work_dir: str, rank: Optional[int] = None):
        self.work_dir = str(work_dir)
        self.path = osp.join(self.work_dir, LOCK_FILE_NAME)
        self.rank = process_rank() if rank is None else int(rank)
        self.locked = False
        self.takeover: Optional[str] = None
        self.record: Optional[dict] = None
        self._fd: Optional[int] = None

    @staticmethod
    def held_here(work_dir: str) -> bool:
        """Whether this process already holds the lock of ``work_dir`` (a tool took it before
        building the Runner, whose ``train`` then need not take it again)."""
        target = osp.realpath(str(work_dir))
        return any(lock.locked and osp.realpath(lock.work_dir) == target for lock in _HELD)

    def __enter__(self) -> 'WorkDirLock':
        return self.acquire()

    def __exit__(self, *exc_info) -> None:
        self.release()

    def acquire(self) -> 'WorkDirLock':
        """Take the lock (rank 0 only), taking over a stale one with a warning.

        Returns:
            WorkDirLock: self.

        Raises:
            WorkDirLockedError: Another live process holds the lock.
        """
        if self.locked or self.rank != 0:
            return self
        if fcntl is None:
            warnings.warn(f'No fcntl on this platform: the work dir {self.work_dir} is NOT '
                          'locked; make sure no other training uses it.', stacklevel=2)
            return self
        os.makedirs(self.work_dir, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    holder = self._wait_for_record(fd)
                    os.close(fd)
                    raise WorkDirLockedError(self._locked_message(holder)) from None
                os.close(fd)
                warnings.warn(f'Cannot lock {self.path} ({error}): the work dir is NOT locked; '
                              'make sure no other training uses it.', stacklevel=2)
                return self
            # The holder before us may have removed the file between our open and our flock:
            # then we locked a deleted file, and must lock the one now at the path instead.
            try:
                same = osp.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self._fd = fd
        previous = _read_record(fd)
        if previous is not None or os.fstat(fd).st_size > 0:
            self.takeover = (
                f'Took over the stale lock {self.path} of a training that ended without '
                f'releasing it: {describe_holder(previous)}. That process is gone (crashed or '
                'killed); checkpoints it was writing may be incomplete (--resume skips broken '
                'ones).')
        self.record = _holder_record()
        data = json.dumps(self.record, indent=1).encode('utf-8') + b'\n'
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        os.fsync(fd)
        self.locked = True
        _HELD.add(self)
        if self.takeover:
            warnings.warn(self.takeover, stacklevel=2)
        return self

    def release(self) -> None:
        """Remove the lock file and release the lock (no-op when not held)."""
        if not self.locked:
            return
        fd, self._fd, self.locked = self._fd, None, False
        _HELD.discard(self)
        try:
            # Remove the file only if it is still ours (not replaced by hand meanwhile).
            if osp.samestat(os.fstat(fd), os.stat(self.path)):
                os.unlink(self.path)
        except OSError:
            pass
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _forget(self) -> None:
        """In a forked child: close the inherited descriptor, leaving the parent's lock alone."""
        fd, self._fd, self.locked = self._fd, None, False
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    @staticmethod
    def _wait_for_record(fd: int, timeout: float = 1.0) -> Optional[dict]:
        # The holder writes its record right after taking the lock: give it a moment.
        deadline = time.monotonic() + timeout
        while True:
            record = _read_record(fd)
            if record is not None or time.monotonic() >= deadline:
                return record
            time.sleep(0.05)

    def _locked_message(self, holder: Optional[dict]) -> str:
        return (f'the work dir {self.work_dir} is in use by another training run: the lock file '
                f'{self.path} is held by {describe_holder(holder)}. Two runs in one work dir '
                'overwrite each other\'s checkpoints. Wait until that run ends, stop it, or '
                'choose another --work-dir.')

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.work_dir!r}, locked={self.locked})'
