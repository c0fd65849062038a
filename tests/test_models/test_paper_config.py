"""The paper configuration with the real ConvNeXt-L CLIP (random weights): built once."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from baclip_test_utils import REPO_ROOT

PAPER_CONFIG = osp.join(REPO_ROOT, 'configs', 'baclip_convnext-l_ovcamo.py')


@pytest.fixture(scope='module')
def paper_model():
    cfg = Config.fromfile(PAPER_CONFIG)
    for part in ('backbone', 'text_encoder', 'decode_head'):
        cfg.model[part].checkpoint = None
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def trainable(module):
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def test_parameter_budget(paper_model):
    m = paper_model
    clip = sum(p.numel() for p in m.backbone.parameters()) + sum(
        p.numel() for p in m.text_encoder.parameters())
    assert clip / 1e6 == pytest.approx(351.77, abs=0.01)
    assert trainable(m.backbone) == trainable(m.text_encoder) == 0
    assert trainable(m.decode_head.prompt_encoder) == 0
    total = trainable(m)
    assert 5e6 < total <= 12e6, total
    assert 3.4e6 < trainable(m.neck) < 3.9e6  # 3 MFMSA at C=256, about 1.2 M each


def test_forward_at_384(paper_model):
    m = paper_model.eval()
    vocab = ('owl', 'moth', 'crab')
    m.set_vocabulary(vocab)
    with torch.no_grad():
        out = m.predict(torch.randn(1, 3, 384, 384))
    m.set_vocabulary(None)
    assert out[0].input_seg_logits.shape == (384, 384)
    assert out[0].pred_class in vocab
    assert torch.isfinite(out[0].input_seg_logits.data).all()
