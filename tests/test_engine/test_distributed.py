"""Part 2: 2-process DDP training and testing with the gloo backend on CPU (torchrun)."""
import glob
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from engine_test_utils import (REPO_ROOT, test_tool, tiny_cfg, use_frozen_weight_files,
                               write_cfg, write_frozen_weight_files)

HERE = osp.dirname(osp.abspath(__file__))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def torchrun(tool: str, *args: str, timeout: int = 240) -> str:
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=os.pathsep.join(
        [HERE, REPO_ROOT, os.environ.get('PYTHONPATH', '')]))
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
           '--master_addr=127.0.0.1', f'--master_port={free_port()}',
           osp.join(REPO_ROOT, 'tools', f'{tool}.py'), *args, '--launcher', 'pytorch',
           '--cfg-options', 'env_cfg.dist_cfg.backend=gloo']
    proc = subprocess.run(cmd, env=env, cwd=str(HERE), capture_output=True, text=True,
                          timeout=timeout)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f'{" ".join(cmd)} failed:\n{log[-6000:]}'
    return log


@pytest.fixture(scope='module')
def ddp_run(data_root, tmp_path_factory):
    """Train 3 iterations on 2 processes, then test the checkpoint on 2 processes. CLIP and SAM
    are read from files, so the checkpoint is slim (their weights are read back on each rank)."""
    work = str(tmp_path_factory.mktemp('ddp'))
    cfg = tiny_cfg(data_root, work, max_iters=3, interval=3, batch_size=2,
                   extra_hooks=[dict(type='DDPProbeHook', out_dir=work)])
    use_frozen_weight_files(cfg, write_frozen_weight_files(osp.join(work, 'weights')))
    cfg.custom_imports = dict(imports=['mmseg_baclip', 'ddp_probe'], allow_failed_imports=False)
    cfg_path = write_cfg(cfg, osp.join(work, 'ddp_cfg.py'))
    train_log = torchrun('train', cfg_path)
    ckpt = osp.join(work, 'iter_3.pth')
    test_log = torchrun('test', cfg_path, ckpt, '--work-dir', osp.join(work, 'test_dist'),
                        '--out', osp.join(work, 'pred_dist'))
    probes = []
    for rank in (0, 1):
        with open(osp.join(work, f'ddp_probe_rank{rank}.json')) as f:
            probes.append(json.load(f))
    return dict(work=work, cfg=cfg_path, ckpt=ckpt, probes=probes, train_log=train_log,
                test_log=test_log)


def test_two_processes_train_with_ddp(ddp_run):
    for probe in ddp_run['probes']:
        assert probe['wrapper'] == 'MMDistributedDataParallel'
        assert probe['world_size'] == 2 and probe['backend'] == 'gloo'
    assert osp.isfile(ddp_run['ckpt'])
    checkpoint = torch.load(ddp_run['ckpt'], map_location='cpu', weights_only=True)
    assert set(checkpoint['meta']['frozen_weights']) == {'backbone', 'text_encoder',
                                                         'decode_head'}
    assert not any(k.startswith(('module.', 'backbone.', 'text_encoder.'))
                   for k in checkpoint['state_dict'])
    # Each rank saw 3 iterations of batch 2 (the global batch is 4).
    assert 'Iter(train) [3/3]' in ddp_run['train_log']
    a, b = (p['weights_sum'] for p in ddp_run['probes'])
    assert a == b  # gradients were synchronised: both ranks hold the same weights


def test_frozen_clip_takes_no_part_in_gradient_sync(ddp_run):
    for probe in ddp_run['probes']:
        synced, trainable, frozen = probe['synced'], probe['trainable'], probe['frozen']
        assert sorted(synced) == sorted(trainable)
        assert not set(synced) & set(frozen)
        assert any(n.startswith('backbone.') for n in frozen)
        assert any(n.startswith('text_encoder.') for n in frozen)
        assert not any(n.startswith(('backbone.', 'text_encoder.')) for n in synced)
        assert probe['ddp_num_parameter_tensors'] == len(trainable)
        assert probe['ddp_parameter_bytes'] == probe['trainable_bytes']
        assert probe['frozen_with_grad'] == []


def test_distributed_testing_gives_the_single_process_metrics(ddp_run, tmp_path):
    single = test_tool(ddp_run['cfg'], ddp_run['ckpt'], '--work-dir', str(tmp_path / 'single'),
                       '--out', str(tmp_path / 'pred_single'), name='single_vs_ddp')
    dumps = [p for p in glob.glob(osp.join(ddp_run['work'], 'test_dist', '*', '*.json'))
             if not osp.basename(p).startswith('scalars')]
    assert len(dumps) == 1, dumps
    with open(dumps[0]) as f:
        dist = json.load(f)
    class_aware = ['cSm', 'cFwb', 'cMAE', 'cFb', 'cEm', 'cIoU', 'acc']
    assert set(class_aware) <= set(single)
    different = {k: (v, dist.get(k)) for k, v in single.items()
                 if dist.get(k) != pytest.approx(v, abs=1e-4)}
    assert not different, different
    assert any(v > 0 for k, v in single.items() if k.startswith('agnostic/'))
    # 5 test images on 2 processes (one padded): the same prediction files
    def pngs(folder):
        return sorted(n for n in os.listdir(folder) if n.endswith('.png'))

    names = pngs(tmp_path / 'pred_single')
    assert len(names) == 5 and pngs(osp.join(ddp_run['work'], 'pred_dist')) == names
    for name in names:
        a = cv2.imread(str(tmp_path / 'pred_single' / name), cv2.IMREAD_UNCHANGED)
        b = cv2.imread(osp.join(ddp_run['work'], 'pred_dist', name), cv2.IMREAD_UNCHANGED)
        assert a is not None and b is not None and a.shape == b.shape, name
        diff = np.abs(a.astype(np.int32) - b.astype(np.int32))
        assert diff.max() <= 1, (name, diff.max(), (diff > 0).mean())  # 8-bit rounding at most
