"""Inputs of the inference API: broken or NaN checkpoints are refused naming the file or the
tensors; a vocabulary file with a byte-order mark is read, one in another encoding is refused
naming the file."""
import pytest
import torch

from mmseg_baclip.apis import OVCOSInferencer, load_vocabulary
from mmseg_baclip.engine import BrokenCheckpointError, NonFiniteWeightsError


def _checkpoint_with_nan(tiny_assets, path):
    checkpoint = torch.load(tiny_assets.checkpoint, map_location='cpu', weights_only=True)
    key = next(k for k, v in checkpoint['state_dict'].items()
               if k.startswith('neck') and v.is_floating_point())
    checkpoint['state_dict'][key][...] = float('nan')
    torch.save(checkpoint, str(path))
    return key


def test_nan_weights_are_refused_naming_the_tensor(tiny_assets, tmp_path):
    key = _checkpoint_with_nan(tiny_assets, tmp_path / 'nan.pth')
    with pytest.raises(NonFiniteWeightsError, match='NaN') as err:
        OVCOSInferencer(tiny_assets.config, weights=str(tmp_path / 'nan.pth'), device='cpu')
    assert key in str(err.value) and str(tmp_path / 'nan.pth') in str(err.value)


@pytest.mark.parametrize('keep', [0.0, 0.5])
def test_zero_byte_or_truncated_checkpoint_names_the_file(tiny_assets, tmp_path, keep):
    with open(tiny_assets.checkpoint, 'rb') as f:
        data = f.read()
    path = tmp_path / 'broken.pth'
    path.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(BrokenCheckpointError, match='empty|truncated') as err:
        OVCOSInferencer(tiny_assets.config, weights=str(path), device='cpu')
    assert str(path) in str(err.value)


def test_vocabulary_file_with_a_byte_order_mark(tmp_path):
    path = tmp_path / 'names.txt'
    path.write_bytes('owl\nsnow leopard\n'.encode('utf-8-sig'))  # as Notepad saves UTF-8
    assert load_vocabulary(str(path)) == ('owl', 'snow leopard')


def test_vocabulary_file_in_another_encoding_names_the_file(tmp_path):
    path = tmp_path / 'names.txt'
    path.write_bytes('owl\nc\u00e9cidomyie\n'.encode('latin-1'))
    with pytest.raises(ValueError, match='not UTF-8') as err:
        load_vocabulary(str(path))
    assert str(path) in str(err.value)
