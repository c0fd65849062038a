"""Two trainings in one work dir. The second one is refused while the first is alive (the
refusal names it), and a lock left by a dead run is taken over with a warning."""
import glob
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import textwrap

import pytest
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from engine_test_utils import REPO_ROOT, SMALL_CONFIG, tiny_cfg, train
from mmseg_baclip.engine import WorkDirLock, WorkDirLockedError
from mmseg_baclip.engine import work_dir_lock
from mmseg_baclip.engine.work_dir_lock import LOCK_FILE_NAME

pytestmark = pytest.mark.skipif(os.name != 'posix', reason='the lock needs fcntl')

# A process that takes the lock on argv[1], says so, and sleeps (until killed, or for 60 s);
# with argv[3] == 'fork', it first forks a child that sleeps too (like a dataloader worker) and
# prints its pid. It loads the module file alone (standard library only): starts in
# milliseconds, not seconds.
HOLDER = textwrap.dedent("""
    import importlib.util, os, sys, time
    spec = importlib.util.spec_from_file_location('work_dir_lock', sys.argv[2])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with module.WorkDirLock(sys.argv[1], rank=0):
        ready, running = os.pipe()
        child = os.fork() if sys.argv[3:] == ['fork'] else None
        if child == 0:  # the fork handlers have run when fork() returns here
            os.write(running, b'1')
            time.sleep(60)
            os._exit(0)
        if child:
            os.read(ready, 1)  # the child runs: report only then, or the test races it
        print('locked', child or '', flush=True)
        time.sleep(60)
""")


def child_env() -> dict:
    """This environment, without the rank variables (a child is rank 0)."""
    return {k: v for k, v in os.environ.items() if k not in work_dir_lock.RANK_VARIABLES}


@pytest.fixture
def holder(tmp_path):
    """Start a process holding the lock of ``tmp_path / 'work'``; yields (process, work_dir)."""
    work_dir = str(tmp_path / 'work')
    process = subprocess.Popen([sys.executable, '-c', HOLDER, work_dir, work_dir_lock.__file__],
                               env=child_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.strip() == 'locked', process.stderr.read()
        yield process, work_dir
    finally:
        process.kill()
        process.wait(timeout=30)
        process.stdout.close()
        process.stderr.close()


@pytest.fixture(autouse=True)
def rank_zero(monkeypatch):
    for name in work_dir_lock.RANK_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_lock_held_by_a_live_process_is_refused(holder):
    process, work_dir = holder
    with pytest.raises(WorkDirLockedError) as error:
        with WorkDirLock(work_dir):
            pytest.fail('a second lock on the same work dir was granted')
    message = str(error.value)
    assert f'pid {process.pid} ' in message
    assert osp.join(work_dir, LOCK_FILE_NAME) in message and '--work-dir' in message
    # The refused run leaves the holder's lock file and record alone.
    with open(osp.join(work_dir, LOCK_FILE_NAME)) as f:
        assert json.load(f)['pid'] == process.pid


def test_stale_lock_of_a_killed_process_is_taken_over(holder):
    process, work_dir = holder
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    path = osp.join(work_dir, LOCK_FILE_NAME)
    assert osp.isfile(path), 'kill -9 leaves the lock file (no cleanup ran)'
    with pytest.warns(UserWarning, match=f'stale lock.*pid {process.pid} ') as record:
        with WorkDirLock(work_dir) as lock:
            assert lock.locked and f'pid {process.pid} ' in lock.takeover
            with open(path) as f:
                assert json.load(f)['pid'] == os.getpid()
    assert str(record[0].message) == lock.takeover
    assert not osp.exists(path)


def test_forked_child_of_a_killed_holder_does_not_keep_the_lock(tmp_path):
    work_dir = str(tmp_path / 'work')
    process = subprocess.Popen(
        [sys.executable, '-c', HOLDER, work_dir, work_dir_lock.__file__, 'fork'],
        env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    child = None
    try:
        line = process.stdout.readline().split()
        assert line[0] == 'locked', process.stderr.read()
        child = int(line[1])
        process.kill()  # the holder dies; its forked child lives on
        process.wait(timeout=30)
        os.kill(child, 0)  # still alive
        with pytest.warns(UserWarning, match=f'pid {process.pid} '):
            with WorkDirLock(work_dir) as lock:
                assert lock.locked
    finally:
        process.kill()
        process.wait(timeout=30)
        process.stdout.close()
        process.stderr.close()
        if child is not None:
            os.kill(child, signal.SIGKILL)


def test_record_names_the_holder(tmp_path):
    with WorkDirLock(str(tmp_path / 'new' / 'work')) as lock:  # creates the work dir
        with open(lock.path) as f:
            record = json.load(f)
    assert record['pid'] == os.getpid() and record['command'] == sys.argv
    assert {'host', 'user', 'start'} <= set(record) and lock.takeover is None


def test_lock_file_is_removed_after_a_normal_exit_and_an_exception(tmp_path):
    path = str(tmp_path / LOCK_FILE_NAME)
    with WorkDirLock(str(tmp_path)) as lock:
        assert osp.isfile(path)
    assert not osp.exists(path) and not lock.locked
    with pytest.raises(ValueError, match='boom'):
        with WorkDirLock(str(tmp_path)) as lock:
            assert osp.isfile(path)
            raise ValueError('boom')
    assert not osp.exists(path) and not lock.locked
    with WorkDirLock(str(tmp_path)) as lock:  # and the work dir can be locked again, silently
        assert lock.locked and lock.takeover is None


def test_second_lock_in_the_same_process_is_refused(tmp_path):
    with WorkDirLock(str(tmp_path)):
        with pytest.raises(WorkDirLockedError, match=f'pid {os.getpid()} '):
            WorkDirLock(str(tmp_path)).acquire()


@pytest.mark.parametrize('variable', ['RANK', 'SLURM_PROCID'])
def test_non_zero_rank_does_not_lock(holder, monkeypatch, variable):
    _, work_dir = holder
    monkeypatch.setenv(variable, '1')
    with WorkDirLock(work_dir) as lock:  # the work dir is locked by the holder: no error
        assert lock.rank == 1 and not lock.locked
    assert osp.isfile(osp.join(work_dir, LOCK_FILE_NAME))  # the holder's file stays


def test_train_tool_refuses_a_locked_work_dir(holder):
    process, work_dir = holder
    # The cheapest config: the tool refuses before it builds the Runner (no data is read).
    result = subprocess.run(
        [sys.executable, osp.join(REPO_ROOT, 'tools', 'train.py'), SMALL_CONFIG, '--work-dir',
         work_dir], env=child_env(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert f'pid {process.pid} ' in result.stderr and 'error: ' in result.stderr
    assert 'Traceback' not in result.stderr
    assert os.listdir(work_dir) == [LOCK_FILE_NAME]  # the Runner was never built


@HOOKS.register_module(force=True)
class TryWorkDirLockHook(Hook):
    """Tries to lock the work dir during training: the refusal proves the run holds the lock."""
    refusals = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        try:
            WorkDirLock(runner.work_dir).acquire().release()
        except WorkDirLockedError as error:
            self.refusals.append(str(error))


def test_train_tool_holds_the_lock_and_logs_a_stale_takeover(data_root, tmp_path):
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    dead = dict(pid=2**22 + 1, host='gone-host', user='ana', start='2000-01-01T00:00:00+00:00',
                command=['tools/train.py', 'old.py'])  # above Linux's default pid_max: no process
    (work_dir / LOCK_FILE_NAME).write_text(json.dumps(dead))
    TryWorkDirLockHook.refusals.clear()
    cfg = tiny_cfg(data_root, str(work_dir), max_iters=1, interval=1,
                   extra_hooks=[dict(type='TryWorkDirLockHook')])
    with pytest.warns(UserWarning, match=f'stale lock.*pid {dead["pid"]} on host gone-host'):
        train(cfg, str(tmp_path / 'stale.py'), name='stale_lock')
    logs = glob.glob(str(work_dir / '*' / '*.log'))
    assert len(logs) == 1
    with open(logs[0]) as f:
        log = f.read()
    assert 'WARNING' in log and 'stale lock' in log and 'started 2000-01-01T00:00:00' in log
    # Held during training (by this process), removed after it.
    assert len(TryWorkDirLockHook.refusals) == 1
    assert f'pid {os.getpid()} ' in TryWorkDirLockHook.refusals[0]
    assert not (work_dir / LOCK_FILE_NAME).exists()
    assert (work_dir / 'iter_1.pth').is_file()
