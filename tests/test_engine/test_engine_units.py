"""Small units of mmseg_baclip.engine: registration, config helpers, RNG state, conversions."""
import random

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import HistoryBuffer
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmseg.registry import HOOKS, RUNNERS

from engine_test_utils import REPO_ROOT
from mmseg_baclip.engine import (BaCLIPRunner, from_weights_only, setup_cpu_distributed,
                                 to_weights_only)
from mmseg_baclip.engine.hooks import get_rng_state, set_rng_state


def test_runner_and_hooks_are_registered_and_named_by_the_runtime_base():
    """What the config shows is what runs: the Runner and every hook are in the base config."""
    names = ['RNGStateHook', 'NonFiniteLossHook']
    for name in names + ['AtomicCheckpointHook', 'RankZeroLoggerHook']:
        assert HOOKS.get(name) is not None, name
    assert RUNNERS.get('BaCLIPRunner') is BaCLIPRunner
    assert MMENGINE_RUNNERS.get('mmseg.BaCLIPRunner') is BaCLIPRunner  # found from mmengine too
    cfg = Config.fromfile(f'{REPO_ROOT}/configs/_base_/default_runtime.py')
    assert [h['type'] for h in cfg.custom_hooks] == names
    assert cfg.runner_type == 'BaCLIPRunner'
    assert cfg.checkpoint_cfg == dict(strict=True, ignore_keys=[], slim=True, unsafe_load=False)


def test_every_shipped_config_names_the_runner_and_the_atomic_checkpoint_hook():
    import glob
    for path in glob.glob(f'{REPO_ROOT}/configs/**/*.py', recursive=True):
        if '/_base_/' in path:
            continue
        cfg = Config.fromfile(path)
        assert cfg.runner_type == 'BaCLIPRunner', path
        assert cfg.default_hooks.checkpoint.type == 'AtomicCheckpointHook', path


def test_setup_cpu_distributed_changes_nothing_without_a_launcher():
    cfg = Config(dict(launcher='none', env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    setup_cpu_distributed(cfg)
    assert cfg.env_cfg.dist_cfg.backend == 'nccl' and 'model_wrapper_cfg' not in cfg


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
def test_setup_cpu_distributed_rejects_other_launchers():
    with pytest.raises(RuntimeError, match='--launcher pytorch'):
        setup_cpu_distributed(Config(dict(launcher='slurm')))


def test_rng_state_round_trip_through_a_weights_only_file(tmp_path):
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    state = get_rng_state()
    expected = (random.random(), np.random.rand(), torch.rand(1))
    path = str(tmp_path / 'rng.pth')
    torch.save(to_weights_only(state), path)
    random.seed(2), np.random.seed(2), torch.manual_seed(2)
    set_rng_state(from_weights_only(torch.load(path, weights_only=True)))
    assert (random.random(), np.random.rand()) == expected[:2]
    assert torch.equal(torch.rand(1), expected[2])


def test_history_buffer_and_numpy_round_trip(tmp_path):
    buf = HistoryBuffer()
    for v in (1.0, 2.5, 3.0):
        buf.update(v)
    obj = {'hub': {'loss': buf}, 'arr': np.arange(6, dtype=np.int16).reshape(2, 3),
           'scalar': np.float64(0.5), 'objs': np.array(['a', 'b'], dtype=object)}
    path = str(tmp_path / 'x.pth')
    torch.save(to_weights_only(obj), path)
    back = from_weights_only(torch.load(path, weights_only=True))
    assert isinstance(back['hub']['loss'], HistoryBuffer)
    assert back['hub']['loss'].mean() == buf.mean() and back['hub']['loss'].current() == 3.0
    assert back['arr'].dtype == np.int16 and (back['arr'] == obj['arr']).all()
    assert back['scalar'] == 0.5 and back['objs'] == ['a', 'b']
