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
    # the figures in projects.md and README.md: 9.96 M = MREM 2.47 + CCE 3.65 + SAM head 3.84
    assert total / 1e6 == pytest.approx(9.96, abs=0.005), total
    assert trainable(m.align_neck) / 1e6 == pytest.approx(2.47, abs=0.005)
    assert 3.4e6 < trainable(m.neck) < 3.9e6  # 3 MFMSA at C=256, about 1.2 M each
    assert trainable(m.decode_head) / 1e6 == pytest.approx(3.84, abs=0.005)
    # the LayerNorm2d's: one per CLIP level in MREM (384 + 768 + 1536 channels), one on E_v*
    assert trainable(m.align_neck.level_norms) == 2 * (384 + 768 + 1536)
    assert trainable(m.decode_head.visual_norm) == 2 * 256


def per_pixel_stats(x):
    """Mean and (biased) std over the channels at each pixel of a B x C x h x w tensor."""
    return x.mean(1), x.var(1, unbiased=False).sqrt()


def test_embedding_entering_sam_is_normalised(paper_model):
    """At initialisation SAM's decoder sees, per pixel, channels of mean 0 and std 1, as the
    LayerNorm2d-ed embeddings of SAM's image encoder it was trained on."""
    m = paper_model.eval()
    fused, embeddings = [], []
    hooks = [
        m.align_neck.vision_proj.register_forward_pre_hook(
            lambda mod, args: fused.append(args[0])),
        m.decode_head.mask_decoder.register_forward_pre_hook(
            lambda mod, args, kwargs: embeddings.append(kwargs['image_embeddings']),
            with_kwargs=True),
    ]
    m.set_vocabulary(('owl', 'moth', 'crab'))
    torch.manual_seed(0)
    try:
        with torch.no_grad():
            m.predict(torch.randn(2, 3, 384, 384))
    finally:
        m.set_vocabulary(None)
        for h in hooks:
            h.remove()
    embedding = torch.cat(embeddings)  # B x 256 x 24 x 24, one decoder call per image
    assert embedding.shape == (2, 256, 24, 24)
    mean, std = per_pixel_stats(embedding)
    assert mean.abs().max() < 1e-4, mean.abs().max()
    assert (std - 1).abs().max() < 1e-3, std
    # each CLIP level (stages 2-4 of ConvNeXt-L) enters MREM's Conv1 normalised as well
    for level in fused[0].split([384, 768, 1536], dim=1):  # B x C_i x 24 x 24
        mean, std = per_pixel_stats(level)
        assert mean.abs().max() < 1e-3 and (std - 1).abs().max() < 1e-2


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
