"""mmseg's own inference APIs (``init_model``, ``inference_model``, ``MMSegInferencer``) on a
checkpoint trained by mmseg's own ``tools/train.py``: they give a mask and a class."""
from collections import OrderedDict

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from mmseg.apis import MMSegInferencer, inference_model, init_model
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from baclip_test_utils import tiny_baclip_cfg
from mmseg_baclip.models.segmentors.baclip import VOCABULARY_METADATA_KEY


def _check_prediction(sample: SegDataSample, image_path: str, vocabulary) -> None:
    """A mask at the image size and a class of ``vocabulary``."""
    height, width = cv2.imread(image_path).shape[:2]
    assert isinstance(sample, SegDataSample)
    mask = sample.pred_sem_seg.data
    assert mask.shape == (1, height, width)
    assert set(mask.unique().tolist()) <= {0, 1}
    assert sample.seg_logits.data.shape == (1, height, width)
    assert sample.pred_class in vocabulary
    assert tuple(sample.vocabulary) == tuple(vocabulary)
    assert sample.pred_class_scores.shape == (len(vocabulary), )


def _without_vocabulary_metadata(path: str, out: str, drop_dataset_meta: bool) -> str:
    """Copy a checkpoint without the training vocabulary kept in the state dict's metadata
    (as written before it existed) and, optionally, without ``meta['dataset_meta']``."""
    checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    state = checkpoint['state_dict']
    metadata = OrderedDict((k, {n: v for n, v in m.items() if n != VOCABULARY_METADATA_KEY})
                           for k, m in state._metadata.items())
    state = OrderedDict(state)
    state._metadata = metadata
    checkpoint['state_dict'] = state
    if drop_dataset_meta:
        checkpoint['meta'].pop('dataset_meta')
    torch.save(checkpoint, out)
    return out


def test_checkpoint_keeps_the_training_vocabulary(upstream_trained):
    checkpoint = torch.load(upstream_trained.checkpoint, map_location='cpu', weights_only=True)
    assert checkpoint['state_dict']._metadata[''][VOCABULARY_METADATA_KEY] == \
        upstream_trained.train_vocabulary
    assert len(upstream_trained.train_vocabulary) == 14  # the OVCamo training classes


def test_init_model_and_inference_model(upstream_trained):
    model = init_model(upstream_trained.config, upstream_trained.checkpoint, device='cpu')
    assert model.train_vocabulary == upstream_trained.train_vocabulary
    image = upstream_trained.test_images[0]
    _check_prediction(inference_model(model, image), image, upstream_trained.train_vocabulary)
    batch = inference_model(model, upstream_trained.test_images[:2])
    for sample, path in zip(batch, upstream_trained.test_images[:2]):
        _check_prediction(sample, path, upstream_trained.train_vocabulary)

    model.set_vocabulary(['owl', 'stick insect', 'moth'])  # given: it wins
    _check_prediction(inference_model(model, image), image, ('owl', 'stick insect', 'moth'))
    model.set_vocabulary(None)
    # an array (BGR) last: mmseg's inference_model then rewrites the config's first transform
    array = cv2.imread(upstream_trained.test_images[1])
    _check_prediction(inference_model(model, array), upstream_trained.test_images[1],
                      upstream_trained.train_vocabulary)


def test_init_model_takes_the_vocabulary_from_dataset_meta(upstream_trained, tmp_path):
    """A checkpoint without the vocabulary metadata: ``meta['dataset_meta']`` is used."""
    path = _without_vocabulary_metadata(upstream_trained.checkpoint,
                                        str(tmp_path / 'no_metadata.pth'), False)
    model = init_model(upstream_trained.config, path, device='cpu')
    assert model.dataset_meta['vocabulary'] == upstream_trained.train_vocabulary
    image = upstream_trained.test_images[0]
    _check_prediction(inference_model(model, image), image, upstream_trained.train_vocabulary)

    # neither: a clear error (built by hand: init_model's fallback for checkpoints without
    # dataset_meta guesses a closed-set dataset from decode_head.num_classes)
    path = _without_vocabulary_metadata(upstream_trained.checkpoint, str(tmp_path / 'bare.pth'),
                                        True)
    cfg = Config.fromfile(upstream_trained.config)
    model = MODELS.build(cfg.model)
    load_checkpoint(model, path, map_location='cpu')
    model.cfg = cfg
    model.eval()
    with pytest.raises(ValueError, match='no vocabulary.*set_vocabulary'):
        inference_model(model, image)


def test_mmseg_inferencer(upstream_trained, tmp_path):
    inferencer = MMSegInferencer(upstream_trained.config, upstream_trained.checkpoint,
                                 device='cpu')
    # mmseg's inferencer keeps only classes and palette of the checkpoint's dataset_meta: the
    # vocabulary comes from the state dict's metadata
    assert 'vocabulary' not in inferencer.model.dataset_meta
    images = upstream_trained.test_images[:2]
    samples = inferencer(images, return_datasamples=True)
    for sample, path in zip(samples, images):
        _check_prediction(sample, path, upstream_trained.train_vocabulary)
    result = inferencer(images[0], out_dir=str(tmp_path / 'out'))
    height, width = cv2.imread(images[0]).shape[:2]
    assert result['predictions'].shape == (height, width)
    assert set(np.unique(result['predictions']).tolist()) <= {0, 1}
    assert len(list((tmp_path / 'out' / 'pred').iterdir())) == 1

    inferencer.model.set_vocabulary(['crab', 'shrimp'])
    _check_prediction(inferencer(images[0], return_datasamples=True), images[0],
                      ('crab', 'shrimp'))


def test_pretrained_none_accepted_anything_else_refused():
    model = MODELS.build(tiny_baclip_cfg(pretrained=None))  # what mmseg's init_model passes
    assert model.train_vocabulary is None and model.dataset_meta is None
    with pytest.raises(ValueError, match='backbone.checkpoint'):
        MODELS.build(tiny_baclip_cfg(pretrained='clip.pth'))


def test_vocabulary_metadata_roundtrip():
    """The training vocabulary travels with ``state_dict()`` / ``load_state_dict`` (torch's own
    state dicts too, not only mmengine's), and leaves the weight keys alone."""
    model = MODELS.build(tiny_baclip_cfg())
    keys = set(model.state_dict())
    model.train_vocabulary = ('owl', 'moth')
    state = model.state_dict()
    assert set(state) == keys and state._metadata[''][VOCABULARY_METADATA_KEY] == ('owl', 'moth')
    fresh = MODELS.build(tiny_baclip_cfg())
    fresh.load_state_dict(state, strict=True)
    assert fresh.train_vocabulary == ('owl', 'moth')
    fresh.dataset_meta = dict(classes=('background', 'camouflaged'))  # no vocabulary: kept
    assert fresh.train_vocabulary == ('owl', 'moth')
    fresh.dataset_meta = dict(vocabulary=['cat'])
    assert fresh.train_vocabulary == ('cat', )
