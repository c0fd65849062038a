"""A full disk must not lose every checkpoint (max_keep_ckpts=1), and --resume continues from
the last complete one once space is free (BaCLIPRunner writes atomically, AtomicCheckpointHook
deletes old files only after a successful save).

Two ways to fill the disk: a real 100 MB tmpfs (in a private mount namespace, when the machine
allows ``unshare``), and the write itself raising ``OSError(ENOSPC)`` after half the bytes."""
import errno
import json
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook

from engine_test_utils import REPO_ROOT, tiny_cfg, train
from mmseg_baclip.engine import AtomicCheckpointHook
from mmseg_baclip.engine import checkpoint_file_problem as problem_of

HERE = osp.dirname(osp.abspath(__file__))


def two_epochs_keep_one(data_root, work_dir):
    cfg = tiny_cfg(data_root, work_dir, loop='epoch', max_epochs=2, interval=1)
    cfg.default_hooks.checkpoint.max_keep_ckpts = 1
    return cfg


def test_the_atomic_hook_keeps_the_newest_checkpoints(data_root, tmp_path):
    """max_keep_ckpts is honoured (pruned after each successful save), as mmengine would."""
    assert issubclass(AtomicCheckpointHook, CheckpointHook)
    cfg = tiny_cfg(data_root, str(tmp_path / 'w'), max_iters=6, interval=1)
    cfg.default_hooks.checkpoint.max_keep_ckpts = 2
    train(cfg, str(tmp_path / 'c.py'), name='keep_two')
    assert sorted(f for f in os.listdir(tmp_path / 'w') if f.endswith('.pth')) == [
        'iter_5.pth', 'iter_6.pth']


def test_save_failing_at_the_write_keeps_the_last_checkpoint(data_root, tmp_path, monkeypatch):
    work = tmp_path / 'w'
    real_put = LocalBackend.put

    def disk_full_at_epoch_2(self, obj, filepath):
        if 'epoch_2.pth' in str(filepath):
            real_put(self, obj[:len(obj) // 2], filepath)  # what fits, then the disk is full
            raise OSError(errno.ENOSPC, 'No space left on device', str(filepath))
        return real_put(self, obj, filepath)

    monkeypatch.setattr(LocalBackend, 'put', disk_full_at_epoch_2)
    with pytest.raises(OSError, match='No space left on device') as err:
        train(two_epochs_keep_one(data_root, str(work)), str(tmp_path / 'a.py'), name='full_a')
    monkeypatch.undo()
    assert 'epoch_1.pth' in str(err.value) and '--resume' in str(err.value)
    assert problem_of(str(work / 'epoch_1.pth')) is None  # kept, complete
    assert sorted(f for f in os.listdir(work) if '.pth' in f) == ['epoch_1.pth']  # no partial
    assert (work / 'last_checkpoint').read_text().strip().endswith('epoch_1.pth')

    runner = train(two_epochs_keep_one(data_root, str(work)), str(tmp_path / 'b.py'),
                   '--resume', name='full_b')
    assert runner.epoch == 2
    assert problem_of(str(work / 'epoch_2.pth')) is None
    assert not osp.exists(work / 'epoch_1.pth')  # max_keep_ckpts=1, once epoch_2 is complete


SCRIPT = r'''
import json, os, subprocess, sys
data_root, work, disk, report = sys.argv[1:5]
sys.path[:0] = [{here!r}, {tests!r}]
subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=100m', 'tmpfs', disk], check=True)
import torch
torch.set_num_threads(1)
from mmengine.hooks import Hook
from mmseg.registry import HOOKS
from engine_test_utils import tiny_cfg, train
from mmseg_baclip.engine import checkpoint_file_problem

FILLER = os.path.join(disk, 'filler')


@HOOKS.register_module(force=True)
class _FillDiskHook(Hook):
    """Right before epoch 2 is first written, something else fills the disk to the last byte."""

    filled = False

    def before_save_checkpoint(self, runner, checkpoint):
        if runner.epoch + 1 != 2 or _FillDiskHook.filled:
            return
        _FillDiskHook.filled = True
        with open(FILLER, 'wb') as f:
            for chunk in (1 << 20, 1 << 12, 1):
                try:
                    while True:
                        f.write(b'x' * chunk)
                        f.flush()
                except OSError:
                    pass


def cfg():
    c = tiny_cfg(data_root, work, loop='epoch', max_epochs=2, interval=1,
                 extra_hooks=[dict(type='_FillDiskHook')])
    c.default_hooks.checkpoint.max_keep_ckpts = 1
    c.default_hooks.checkpoint.out_dir = disk
    return c


out = dict()
try:
    train(cfg(), os.path.join(work, '..', 'a.py'), name='tmpfs_a')
    out['first_error'] = None
except OSError as error:
    out['first_error'] = str(error)
ckpts = os.path.join(disk, os.path.basename(work))
out['after_failure'] = {{f: checkpoint_file_problem(os.path.join(ckpts, f))
                         for f in sorted(os.listdir(ckpts))}}
out['record'] = open(os.path.join(work, 'last_checkpoint')).read().strip()
os.remove(FILLER)  # space is free again
try:
    out['resumed_epoch'] = train(cfg(), os.path.join(work, '..', 'b.py'), '--resume',
                                 name='tmpfs_b').epoch
except Exception as error:  # noqa: BLE001 - reported to the test
    out['resume_error'] = f'{{type(error).__name__}}: {{error}}'
out['final'] = {{f: checkpoint_file_problem(os.path.join(ckpts, f))
                 for f in sorted(os.listdir(ckpts))}}
with open(report, 'w') as f:
    json.dump(out, f)
'''


def _can_mount_tmpfs(tmp_path) -> bool:
    if shutil.which('unshare') is None or shutil.which('mount') is None:
        return False
    probe = tmp_path / 'probe'
    probe.mkdir()
    proc = subprocess.run(['unshare', '-rm', 'sh', '-c',
                           f'mount -t tmpfs -o size=1m tmpfs {probe}'],
                          capture_output=True, timeout=60)
    return proc.returncode == 0


def test_disk_full_on_a_small_filesystem_keeps_the_last_checkpoint(data_root, tmp_path):
    if not _can_mount_tmpfs(tmp_path):
        pytest.skip('no private mount namespace (unshare -rm) to mount a small tmpfs; the '
                    'injected-OSError test covers the same case')
    work, disk = tmp_path / 'w', tmp_path / 'disk'
    work.mkdir()
    disk.mkdir()
    script, report = tmp_path / 'fill.py', tmp_path / 'report.json'
    script.write_text(SCRIPT.format(here=HERE, tests=osp.dirname(HERE)))
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(['unshare', '-rm', sys.executable, str(script), data_root, str(work),
                           str(disk), str(report)], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and report.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    out = json.loads(report.read_text())
    assert 'No space left on device' in out['first_error'], out
    assert out['after_failure'] == {'epoch_1.pth': None}, out  # complete, nothing partial
    assert out['record'].endswith('epoch_1.pth')
    assert out.get('resumed_epoch') == 2, out
    assert out['final'] == {'epoch_2.pth': None}, out


def test_failed_best_checkpoint_keeps_the_previous_best(data_root, tmp_path, monkeypatch):
    """A failed save of a new best checkpoint keeps the previous best (mmengine's own hook
    deletes it before it writes the new one)."""
    monkeypatch.setitem(CheckpointHook.rule_map, 'greater', lambda x, y: True)  # always better
    cfg = tiny_cfg(data_root, str(tmp_path / 'w'), loop='epoch', max_epochs=2, interval=1,
                   val=True)
    cfg.default_hooks.checkpoint.update(save_best='cIoU', rule='greater')
    real_put = LocalBackend.put

    def disk_full(self, obj, filepath):
        if 'best_cIoU_epoch_2' in str(filepath):
            real_put(self, obj[:len(obj) // 2], filepath)
            raise OSError(errno.ENOSPC, 'No space left on device', str(filepath))
        return real_put(self, obj, filepath)

    monkeypatch.setattr(LocalBackend, 'put', disk_full)
    with pytest.raises(OSError, match='No space left on device'):
        train(cfg, str(tmp_path / 'c.py'), name='best_full')
    best = sorted(f for f in os.listdir(tmp_path / 'w') if f.startswith('best_'))
    assert best == ['best_cIoU_epoch_1.pth']
    assert problem_of(str(tmp_path / 'w' / best[0])) is None
