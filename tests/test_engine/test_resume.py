"""Part 1: a run interrupted after k iterations and resumed with --resume ends with exactly the
weights (and optimizer and scheduler states) of an uninterrupted run."""
import os.path as osp

import pytest
import torch
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from engine_test_utils import tiny_cfg, train


class Interrupted(RuntimeError):
    """Stands for a killed job."""


@HOOKS.register_module(force=True)
class _InterruptHook(Hook):
    """Raise after ``after`` iterations (or epochs), once the checkpoint of that step exists."""

    priority = 'LOWEST'  # after CheckpointHook

    def __init__(self, after: int, by_epoch: bool = False):
        self.after, self.by_epoch = after, by_epoch

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if not self.by_epoch and runner.iter + 1 == self.after:
            raise Interrupted(f'killed after iteration {self.after}')

    def after_train_epoch(self, runner):
        if self.by_epoch and runner.epoch + 1 == self.after:
            raise Interrupted(f'killed after epoch {self.after}')


def load(path):
    return torch.load(path, map_location='cpu', weights_only=True)


def assert_same_tensors(a, b, where=''):
    """Recursively: identical structure, bit-identical tensors, equal other values."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert set(a) == set(b), f'{where}: {set(a) ^ set(b)}'
        for k in a:
            assert_same_tensors(a[k], b[k], f'{where}.{k}')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_tensors(x, y, f'{where}[{i}]')
    else:
        assert a == b, f'{where}: {a!r} != {b!r}'


def run_interrupted_and_resumed(data_root, tmp_path, loop, total, k, **kw):
    """The final checkpoints of an uninterrupted run and of a run killed after k and resumed."""
    by_epoch = loop == 'epoch'
    size = dict(max_epochs=total) if by_epoch else dict(max_iters=total)
    full_dir, cut_dir = str(tmp_path / 'full'), str(tmp_path / 'cut')
    train(tiny_cfg(data_root, full_dir, loop=loop, interval=k, **size, **kw),
          str(tmp_path / 'full.py'), name=f'full_{loop}')
    cut = tiny_cfg(data_root, cut_dir, loop=loop, interval=k, **size, **kw,
                   extra_hooks=[dict(type='_InterruptHook', after=k, by_epoch=by_epoch)])
    with pytest.raises(Interrupted):
        train(cut, str(tmp_path / 'cut.py'), name=f'cut_{loop}')
    unit = 'epoch' if by_epoch else 'iter'
    assert osp.isfile(osp.join(cut_dir, f'{unit}_{k}.pth'))
    assert not osp.exists(osp.join(cut_dir, f'{unit}_{total}.pth'))
    resumed = tiny_cfg(data_root, cut_dir, loop=loop, interval=k, **size, **kw)
    runner = train(resumed, str(tmp_path / 'resumed.py'), '--resume', name=f'resumed_{loop}')
    assert runner.iter == (total * 8 // 2 if by_epoch else total)  # 8 images, batch 2
    return (load(osp.join(full_dir, f'{unit}_{total}.pth')),
            load(osp.join(cut_dir, f'{unit}_{total}.pth')),
            load(osp.join(cut_dir, f'{unit}_{k}.pth')))


@pytest.mark.parametrize('loop,total,k,extra', [
    ('iter', 6, 3, dict()),
    ('epoch', 3, 1, dict(val=True)),  # 8 images, batch 2: 4 iterations per epoch
])
def test_resume_gives_the_uninterrupted_weights(data_root, tmp_path, loop, total, k, extra):
    full, resumed, at_k = run_interrupted_and_resumed(data_root, tmp_path, loop, total, k,
                                                      **extra)
    # The resumed run really trained on: its weights moved after the checkpoint it started from.
    trainable = [key for key in full['state_dict'] if key.startswith(('align_neck', 'neck'))]
    assert trainable
    assert any(not torch.equal(at_k['state_dict'][key], resumed['state_dict'][key])
               for key in trainable)
    assert_same_tensors(full['state_dict'], resumed['state_dict'], 'state_dict')
    assert_same_tensors(full['optimizer'], resumed['optimizer'], 'optimizer')
    assert_same_tensors(full['param_schedulers'], resumed['param_schedulers'],
                        'param_schedulers')
    assert full['meta']['iter'] == resumed['meta']['iter']
    assert full['meta']['epoch'] == resumed['meta']['epoch']


def test_without_the_rng_state_the_epoch_resume_differs(data_root, tmp_path):
    """Control: the equality above depends on RNGStateHook (the augmentations of the main
    process draw from numpy's global RNG), so the test can fail."""
    kw = dict(loop='epoch', max_epochs=2, interval=1)
    full_dir, cut_dir = str(tmp_path / 'full'), str(tmp_path / 'cut')

    def without_rng_hook(cfg):
        cfg.custom_hooks = [h for h in cfg.custom_hooks if h['type'] != 'RNGStateHook']
        return cfg

    train(without_rng_hook(tiny_cfg(data_root, full_dir, **kw)), str(tmp_path / 'a.py'),
          name='ctl_full')
    cut = without_rng_hook(tiny_cfg(data_root, cut_dir, **kw,
                                    extra_hooks=[dict(type='_InterruptHook', after=1,
                                                      by_epoch=True)]))
    with pytest.raises(Interrupted):
        train(cut, str(tmp_path / 'b.py'), name='ctl_cut')
    train(without_rng_hook(tiny_cfg(data_root, cut_dir, **kw)), str(tmp_path / 'c.py'),
          '--resume', name='ctl_resumed')
    a = load(osp.join(full_dir, 'epoch_2.pth'))['state_dict']
    b = load(osp.join(cut_dir, 'epoch_2.pth'))['state_dict']
    assert any(not torch.equal(a[key], b[key]) for key in a)


def test_checkpoint_holds_the_rng_state(data_root, tmp_path):
    train(tiny_cfg(data_root, str(tmp_path / 'w'), max_iters=1, interval=1),
          str(tmp_path / 'c.py'), name='rng_key')
    ckpt = load(str(tmp_path / 'w' / 'iter_1.pth'))
    assert set(ckpt['rng_state']) >= {'python', 'numpy', 'torch'}
