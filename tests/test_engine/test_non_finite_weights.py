"""tools/test.py (through BaCLIPRunner's checks) refuses a checkpoint with NaN weights, naming
the tensors, rather than testing it with exit status 0 and all-zero metrics."""
import pytest
import torch
from mmseg.registry import MODELS

from engine_test_utils import test_tool, tiny_cfg, write_cfg
from mmseg_baclip.engine import NonFiniteWeightsError, non_finite_tensors


def test_non_finite_tensors_names_and_counts():
    state = {'a': torch.zeros(4), 'b': torch.tensor([1.0, float('nan'), float('inf')]),
             'step': torch.tensor(3), 'note': 'text'}
    assert non_finite_tensors(state) == ['b (1 NaN, 1 Inf of 3)']


def test_test_tool_refuses_nan_weights_naming_the_tensor(data_root, tmp_path):
    cfg = tiny_cfg(data_root, str(tmp_path / 'w'))
    model = MODELS.build(cfg.model)
    state = model.state_dict()
    key = next(k for k, v in state.items() if k.startswith('neck') and v.is_floating_point())
    state[key] = torch.full_like(state[key], float('nan'))
    checkpoint = str(tmp_path / 'diverged.pth')
    torch.save({'state_dict': state, 'meta': {}}, checkpoint)
    cfg_path = write_cfg(cfg, str(tmp_path / 'c.py'))
    with pytest.raises(NonFiniteWeightsError, match='non-finite weights') as err:
        test_tool(cfg_path, checkpoint, name='nan_weights')
    assert key in str(err.value) and checkpoint in str(err.value)
