import open_clip
import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from mmseg_baclip.models.backbones.openclip_convnext import bilinear_adjoint_weights
from mmseg_baclip.models.utils import load_clip_state_dict
from baclip_test_utils import TINY_CLIP


@pytest.fixture(scope='module')
def clip_file(tmp_path_factory):
    """A tiny CLIP with random weights saved in open_clip's checkpoint format."""
    torch.manual_seed(0)
    clip = open_clip.create_model(TINY_CLIP, pretrained=None).eval()
    path = tmp_path_factory.mktemp('clip') / 'open_clip_pytorch_model.bin'
    torch.save(clip.state_dict(), path)
    return clip, str(path)


def build(checkpoint=None, **kwargs):
    backbone = MODELS.build(dict(type='OpenCLIPConvNeXt', model_name=TINY_CLIP,
                                 checkpoint=checkpoint, **kwargs))
    backbone.init_weights()
    return backbone


def test_weights_arrive_and_pooled_embedding_matches_open_clip(clip_file):
    clip, path = clip_file
    backbone = build(path)
    for key, value in clip.visual.state_dict().items():
        assert torch.equal(backbone.visual.state_dict()[key], value), key
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        expected = clip.encode_image(x)
        assert torch.allclose(backbone.encode_image(x), expected, atol=1e-5)
        # The same embedding through the multi-level path + the pooled head.
        last = backbone(x)[-1]
        pooled = backbone.embed_pooled(last.mean(dim=(2, 3)))
        assert torch.allclose(pooled, expected, atol=1e-5)


def test_multi_level_strides_and_channels():
    backbone = build()
    feats = backbone(torch.randn(1, 3, 128, 128))
    assert [f.shape[1] for f in feats] == [40, 80, 160, 320] == list(backbone.out_channels)
    assert [f.shape[-1] for f in feats] == [32, 16, 8, 4]
    backbone = build(out_indices=(2, 3))
    assert [f.shape[-1] for f in backbone(torch.randn(1, 3, 128, 128))] == [8, 4]


def test_frozen_and_eval_under_train():
    backbone = build()
    backbone.train()
    assert not any(p.requires_grad for p in backbone.parameters())
    assert not any(m.training for m in backbone.visual.modules())
    x = torch.randn(1, 3, 64, 64, requires_grad=True)
    assert not backbone(x)[-1].requires_grad


def test_bilinear_adjoint_is_exact():
    torch.manual_seed(1)
    feat = torch.randn(2, 5, 3, 4, dtype=torch.float64)
    mask = torch.rand(2, 1, 17, 23, dtype=torch.float64)
    up = F.interpolate(feat, size=(17, 23), mode='bilinear', align_corners=False)
    direct = (up * mask).sum(dim=(2, 3))
    weights = bilinear_adjoint_weights(mask, (3, 4))
    assert torch.allclose(torch.einsum('bchw,bhw->bc', feat, weights), direct)


def test_masked_embedding_equals_upsample_then_pool():
    backbone = build()
    last = torch.randn(2, 320, 4, 4)
    mask = torch.rand(2, 1, 64, 64)
    up = F.interpolate(last, size=(64, 64), mode='bilinear', align_corners=False)
    pooled = (up * mask).sum(dim=(2, 3)) / mask.sum(dim=(2, 3))
    with torch.no_grad():
        assert torch.allclose(backbone.masked_embedding(last, mask),
                              backbone.embed_pooled(pooled), atol=1e-5)


def test_missing_checkpoint_names_the_file(tmp_path):
    missing = str(tmp_path / 'nope.bin')
    with pytest.raises(FileNotFoundError, match='nope.bin'):
        build(missing)
    # the message of the paper's model names the file to download (no ConvNeXt-L built here)
    with pytest.raises(FileNotFoundError, match='laion2b_s29b_b131k_ft_soup'):
        load_clip_state_dict(missing, 'convnext_large_d_320')


def test_wrong_architecture_checkpoint_names_keys(tmp_path, clip_file):
    clip, _ = clip_file
    state = clip.state_dict()
    state['visual.trunk.stem.0.weight'] = torch.zeros(8, 3, 4, 4)
    path = tmp_path / 'wrong.bin'
    torch.save(state, path)
    with pytest.raises(RuntimeError, match='trunk.stem.0.weight'):
        build(str(path))
    torch.save({'mask_decoder.x': torch.zeros(1)}, tmp_path / 'sam.pth')
    with pytest.raises(RuntimeError, match='visual'):
        build(str(tmp_path / 'sam.pth'))


def test_unknown_or_non_convnext_model_is_rejected():
    with pytest.raises(KeyError, match='no_such_model'):
        MODELS.build(dict(type='OpenCLIPConvNeXt', model_name='no_such_model'))
    with pytest.raises(ValueError, match='ConvNeXt'):
        MODELS.build(dict(type='OpenCLIPConvNeXt', model_name='ViT-B-32'))
