"""OVCOSInferencer on synthetic images with a checkpoint of the small config."""
import argparse
import os
import os.path as osp
import shutil
import warnings

import cv2
import numpy as np
import pytest
import torch

from mmseg_baclip.apis import OVCOSInferencer, config_vocabulary, load_vocabulary
from mmseg_baclip.datasets import OVCAMO_TEST_CLASSES
from mmseg_baclip.engine import CheckpointMismatchError, UnsafeCheckpointError

VOCAB = ['owl', 'snow leopard', 'moth']


def _check_result(result, vocabulary, image_path=None, shape=None):
    if image_path is not None:
        shape = cv2.imread(image_path).shape[:2]
    prob, mask = result['prob'], result['mask']
    assert prob.shape == tuple(shape) and mask.shape == tuple(shape)
    assert prob.dtype == np.float32 and mask.dtype == bool
    assert 0.0 <= prob.min() and prob.max() <= 1.0
    assert np.array_equal(mask, prob > 0.5)
    assert result['size'] == list(shape)
    assert result['class'] in vocabulary
    assert list(result['scores']) == list(vocabulary)
    assert sum(result['scores'].values()) == pytest.approx(1.0, abs=1e-5)
    assert result['class'] == max(result['scores'], key=result['scores'].get)
    assert result['score'] == pytest.approx(result['scores'][result['class']])
    top = result['top5']
    assert len(top) == min(5, len(vocabulary)) and top[0][0] == result['class']
    assert [s for _, s in top] == sorted((s for _, s in top), reverse=True)


def test_paths_batched_like_one_by_one(inferencer, tiny_assets):
    images = tiny_assets.test_images[:3]
    one = inferencer(images, vocabulary=VOCAB, batch_size=1)
    two = inferencer(images, vocabulary=VOCAB, batch_size=2)
    assert [r['path'] for r in one] == images
    for a, b, path in zip(one, two, images):
        _check_result(a, VOCAB, path)
        assert a['class'] == b['class']
        np.testing.assert_allclose(a['prob'], b['prob'], atol=1e-5)
        for name in VOCAB:
            assert a['scores'][name] == pytest.approx(b['scores'][name], abs=1e-5)


def test_folder_arrays_and_written_files(inferencer, tiny_assets, tmp_path):
    folder = osp.join(tiny_assets.data_root, 'test', 'image')
    results = inferencer(folder, vocabulary=VOCAB, batch_size=4, out_dir=str(tmp_path))
    assert [r['path'] for r in results] == tiny_assets.test_images
    for result in results:
        _check_result(result, VOCAB, result['path'])
        mask = cv2.imread(result['mask_path'], cv2.IMREAD_UNCHANGED)
        assert mask.shape == result['mask'].shape and set(np.unique(mask)) <= {0, 255}
        assert np.array_equal(mask > 0, result['mask'])
        overlay = cv2.imread(result['overlay_path'])
        assert overlay.shape == result['mask'].shape + (3, )
    assert sorted(os.listdir(tmp_path)) == ['masks', 'overlays']

    bgr = cv2.imread(tiny_assets.test_images[0])
    from_array = inferencer(bgr, vocabulary=VOCAB)
    assert len(from_array) == 1 and from_array[0]['path'] is None
    assert from_array[0]['name'] == 'array_00000'
    np.testing.assert_allclose(from_array[0]['prob'], results[0]['prob'], atol=1e-5)
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    bgra = cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)
    for result in inferencer([gray, bgra], vocabulary=VOCAB, return_maps=False,
                             return_vis=True):
        assert result['size'] == list(bgr.shape[:2]) and 'prob' not in result
        assert result['overlay'].shape == bgr.shape and result['overlay'].dtype == np.uint8
    with pytest.raises(ValueError, match='shape'):
        inferencer(np.zeros((4, 4, 7), np.uint8), vocabulary=VOCAB)


def test_vocabulary_file_and_errors(inferencer, tiny_assets, tmp_path):
    vocab_file = tmp_path / 'names.txt'
    vocab_file.write_text('owl\n\n  snow leopard  \nmoth\n\n', encoding='utf-8')
    assert load_vocabulary(str(vocab_file)) == tuple(VOCAB)
    result = inferencer(tiny_assets.test_images[0], vocabulary=str(vocab_file))[0]
    assert list(result['scores']) == VOCAB

    empty = tmp_path / 'empty.txt'
    empty.write_text('\n  \n', encoding='utf-8')
    with pytest.raises(ValueError, match='empty'):
        inferencer(tiny_assets.test_images[0], vocabulary=str(empty))
    with pytest.raises(FileNotFoundError, match='missing.txt'):
        inferencer(tiny_assets.test_images[0], vocabulary=str(tmp_path / 'missing.txt'))
    with pytest.raises(ValueError, match='empty'):
        inferencer(tiny_assets.test_images[0], vocabulary=[])
    with pytest.raises(ValueError, match="'OWL' repeats name #0 'owl'"):
        inferencer(tiny_assets.test_images[0], vocabulary=['owl', 'OWL'])


def test_default_vocabulary_is_the_test_split(inferencer, tiny_assets):
    from mmseg_baclip.datasets import OVCamoDataset
    dataset = OVCamoDataset(data_root=tiny_assets.data_root, split='test', lazy_init=True)
    assert inferencer.default_vocabulary == dataset.vocabulary
    result = inferencer(tiny_assets.test_images[0])[0]
    assert list(result['scores']) == list(dataset.vocabulary)


def test_config_vocabulary_fallbacks(tiny_assets, tmp_path):
    cfg = tiny_assets.cfg.copy()
    cfg.test_dataloader.dataset.data_root = str(tmp_path / 'no_data_here')
    with pytest.warns(UserWarning, match='built-in OVCamo'):
        vocabulary, _ = config_vocabulary(cfg)
    assert vocabulary == OVCAMO_TEST_CLASSES and len(vocabulary) == 61

    cfg.test_dataloader.dataset = dict(type='ADE20KDataset', data_root='x')
    with pytest.warns(UserWarning, match='61 built-in'):
        assert config_vocabulary(cfg)[0] == OVCAMO_TEST_CLASSES
    cfg.model.vocabulary = ['cat', 'dog']
    assert config_vocabulary(cfg)[0] == ('cat', 'dog')


def test_embeddings_once_per_vocabulary_and_templates(inferencer, tiny_assets, monkeypatch):
    encoder = inferencer.model.text_encoder
    calls = []
    original = encoder.encode_uncached

    def counting(vocabulary, templates=None):
        calls.append((tuple(vocabulary), templates))
        return original(vocabulary, templates)

    monkeypatch.setattr(encoder, 'encode_uncached', counting)
    vocabulary = ['zebra', 'cuttlefish']
    images = tiny_assets.test_images[:3]
    inferencer(images, vocabulary=vocabulary, batch_size=1)
    inferencer(images[:1], vocabulary=vocabulary)
    assert len(calls) == 1
    configured = encoder.templates
    plain = inferencer(images[:1], vocabulary=vocabulary, templates='plain')[0]
    assert len(calls) == 2 and calls[1][1] == ('{}', )
    # the call's vocabulary and templates do not stick to the model
    assert encoder.templates == configured and inferencer.model.vocabulary is None
    with pytest.raises(KeyError, match='Unknown template set'):
        inferencer(images[:1], vocabulary=vocabulary, templates='nope')
    assert set(plain['scores']) == set(vocabulary)


def test_unreadable_images(inferencer, tiny_assets, tmp_path):
    folder = tmp_path / 'images'
    folder.mkdir()
    for path in tiny_assets.test_images[:2]:
        shutil.copy(path, folder)
    (folder / 'broken.png').write_bytes(b'not an image')
    (folder / 'notes.txt').write_text('ignored')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        results = inferencer(str(folder), vocabulary=VOCAB, batch_size=2)
    assert len(results) == 2
    assert [f['path'] for f in inferencer.failed] == [str(folder / 'broken.png')]
    error = inferencer.failed[0]['error']
    assert error.startswith(f'{folder / "broken.png"}: cannot be decoded as an image'), error
    # one warning for the call, naming the file and what is wrong; no advice about OVCamo trees
    assert [str(w.message).count('broken.png') for w in caught] == [1]
    assert error in str(caught[0].message)
    assert 'check_ovcamo' not in error and 'sample_info' not in error
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        inferencer(str(folder), vocabulary=VOCAB, on_error='skip')
    assert caught == [] and [f['path'] for f in inferencer.failed] == [str(folder / 'broken.png')]
    with pytest.raises(ValueError, match='broken.png'):
        inferencer(str(folder), vocabulary=VOCAB, on_error='raise')
    with pytest.raises(ValueError, match='broken.png'):
        inferencer(str(folder / 'broken.png'), vocabulary=VOCAB)
    with pytest.raises(FileNotFoundError, match='nowhere.jpg'):
        inferencer(str(folder / 'nowhere.jpg'), vocabulary=VOCAB)
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match='no image file'):
        inferencer(str(empty), vocabulary=VOCAB)


def test_bad_model_files(tiny_assets, tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        OVCOSInferencer(tiny_assets.config, weights=str(tmp_path / 'missing.pth'))
    with pytest.raises(FileNotFoundError, match='nope.py'):
        OVCOSInferencer(str(tmp_path / 'nope.py'))
    state = torch.load(tiny_assets.checkpoint, weights_only=True)
    state['state_dict'].pop(next(iter(state['state_dict'])))
    partial = str(tmp_path / 'partial.pth')
    torch.save(state, partial)
    with pytest.raises(CheckpointMismatchError, match='partial.pth.*1 keys missing'):
        OVCOSInferencer(tiny_assets.config, weights=partial, device='cpu')
    state['meta']['args'] = argparse.Namespace(lr=1)  # needs the unsafe unpickler
    unsafe = str(tmp_path / 'unsafe.pth')
    torch.save(state, unsafe)
    with pytest.raises(UnsafeCheckpointError, match='unsafe.pth'):
        OVCOSInferencer(tiny_assets.config, weights=unsafe, device='cpu')


def test_no_checkpoint_builds_with_init_weights(tiny_assets):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # the tiny CLIP / SAM say their weights stay random
        inferencer = OVCOSInferencer(tiny_assets.config, weights=None, device='cpu',
                                     show_progress=False)
    result = inferencer(tiny_assets.test_images[0], vocabulary=VOCAB)[0]
    _check_result(result, VOCAB, tiny_assets.test_images[0])
