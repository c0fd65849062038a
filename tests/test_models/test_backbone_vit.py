import open_clip
import pytest
import torch
from mmseg.registry import MODELS

TINY_VIT = 'vit_tiny_baclip'  # bundled: 4 blocks, width 64, patch 16, image 64


@pytest.fixture(scope='module')
def clip_file(tmp_path_factory):
    torch.manual_seed(0)
    clip = open_clip.create_model(TINY_VIT, pretrained=None).eval()
    path = tmp_path_factory.mktemp('vit') / 'open_clip_pytorch_model.bin'
    torch.save(clip.state_dict(), path)
    return clip, str(path)


def build(checkpoint=None, image_size=64, **kw):
    b = MODELS.build(dict(type='OpenCLIPViT', model_name=TINY_VIT, checkpoint=checkpoint,
                          image_size=image_size, layer_indices=(0, 1, 2, 3), **kw))
    b.init_weights()
    return b


def test_parity_and_levels(clip_file):
    clip, path = clip_file
    backbone = build(path)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(backbone.encode_image(x), clip.encode_image(x), atol=1e-5)
        feats = backbone(x)
    assert [tuple(f.shape) for f in feats] == [(2, 64, 16, 16), (2, 64, 8, 8), (2, 64, 4, 4),
                                               (2, 64, 2, 2)]
    assert backbone.out_channels == (64, ) * 4


def test_position_embedding_is_resized_for_another_input_size(clip_file):
    _, path = clip_file
    backbone = build(path, image_size=96)  # checkpoint grid 4x4, model grid 6x6
    assert backbone.visual.positional_embedding.shape == (37, 64)
    with torch.no_grad():
        assert [f.shape[-1] for f in backbone(torch.randn(1, 3, 96, 96))] == [24, 12, 6, 3]


def test_masked_embedding_pools_patch_tokens(clip_file):
    _, path = clip_file
    backbone = build(path)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        tokens = backbone.visual.forward_intermediates(
            x, indices=[3], intermediates_only=True)['image_intermediates'][0]  # 1x64x4x4
        expected = backbone.embed_pooled(tokens.mean(dim=(2, 3)))
        got = backbone.masked_embedding(tokens, torch.ones(1, 1, 64, 64))
    assert torch.allclose(got, expected, atol=1e-5)


def test_frozen_and_rejects_convnext():
    backbone = build()
    backbone.train()
    assert not backbone.training and not any(p.requires_grad for p in backbone.parameters())
    with pytest.raises(ValueError, match='ViT'):
        MODELS.build(dict(type='OpenCLIPViT', model_name='convnext_atto_baclip_tiny'))
