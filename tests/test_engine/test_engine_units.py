"""Small units of mmseg_baclip.engine: registration, config helpers, RNG state, conversions."""
import random

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import HistoryBuffer
from mmseg.registry import HOOKS

from engine_test_utils import REPO_ROOT
from mmseg_baclip.engine import REQUIRED_HOOKS, add_required_hooks, setup_cpu_distributed
from mmseg_baclip.engine.hooks import (from_weights_only, get_rng_state, set_rng_state,
                                       to_weights_only)


def test_hooks_are_registered_and_in_the_runtime_base():
    names = ['WeightsOnlyCheckpointHook', 'StrictCheckpointHook', 'FrozenWeightsCheckpointHook',
             'RNGStateHook', 'NonFiniteLossHook']
    for name in names:
        assert HOOKS.get(name) is not None, name
    cfg = Config.fromfile(f'{REPO_ROOT}/configs/_base_/default_runtime.py')
    assert [h['type'] for h in cfg.custom_hooks] == names


def test_add_required_hooks_keeps_user_settings():
    cfg = Config(dict(custom_hooks=[dict(type='StrictCheckpointHook', strict=False)]))
    add_required_hooks(cfg)
    types = [h['type'] for h in cfg.custom_hooks]
    assert sorted(types) == sorted(REQUIRED_HOOKS)
    assert cfg.custom_hooks[0]['strict'] is False
    empty = add_required_hooks(Config(dict()))
    assert [h['type'] for h in empty.custom_hooks] == list(REQUIRED_HOOKS)


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
