import pytest
import torch
from mmseg.registry import MODELS

from mmseg_baclip.models.necks.dct import dct_filters


def test_dct_filters_are_orthonormal_and_scaled():
    filters = dct_filters((14, 14), 'top', 16).double()
    assert filters.shape == (16, 14, 14)
    gram = filters.flatten(1) @ filters.flatten(1).t()
    assert torch.allclose(gram, torch.eye(16, dtype=torch.float64), atol=1e-6)
    # the DC filter is constant; frequency (0, 1) on a 14 tile is index (0, 2)
    assert torch.allclose(filters[0], torch.full((14, 14), 1 / 14, dtype=torch.float64))
    assert filters[1][0, 0] > 0 and filters[1][0, -1] > 0  # cos(2*pi...) ends positive
    with pytest.raises(KeyError):
        dct_filters((14, 14), 'middle', 16)


def test_mfmsa_scales_and_shapes():
    block = MODELS.build(dict(type='MFMSA', in_channels=256))
    x = torch.randn(2, 256, 24, 24)
    sizes = []
    hooks = [s.mfca.register_forward_hook(lambda m, i, o: sizes.append(tuple(o.shape[1:])))
             for s in block.scales]
    y = block(x)
    assert y.shape == x.shape
    assert sizes == [(256, 24, 24), (128, 12, 12), (64, 6, 6)]  # 24/12/6 as in the paper
    [h.remove() for h in hooks]
    assert block.scales[0].mfca.filters.shape == (16, 14, 14)
    assert 'scales.0.mfca.filters' not in block.state_dict()  # fixed, not saved


def test_mfmsa_alpha_beta_are_learnable_and_get_gradients():
    block = MODELS.build(dict(type='MFMSA', in_channels=64, groups=32, dct_tile=7))
    block(torch.randn(2, 64, 12, 12)).sum().backward()
    for scale in block.scales:
        assert scale.alpha.grad is not None and scale.beta.grad is not None


def test_cce_cascade():
    cce = MODELS.build(dict(type='CCE', in_channels=64, num_blocks=4, dct_tile=7))
    assert len(cce.blocks) == 4
    x = torch.randn(1, 64, 12, 12)
    assert cce(x).shape == x.shape
    feats = (torch.randn(1, 8, 24, 24), x)
    out = cce(feats)  # tuple input: only the last level is enhanced
    assert out[0] is feats[0] and out[1].shape == x.shape
    with pytest.raises(ValueError):
        MODELS.build(dict(type='CCE', num_blocks=0))


def mrem(**kw):
    cfg = dict(type='MREM', in_channels=(8, 16, 32), in_index=(1, 2, 3), text_channels=12,
               embed_dims=32, num_heads=4)
    cfg.update(kw)
    return MODELS.build(cfg)


def feats():
    return [torch.randn(2, c, s, s) for c, s in [(4, 32), (8, 16), (16, 8), (32, 4)]]


def test_mrem_shapes_and_both_directions():
    neck = mrem()
    vis, text = neck(feats(), torch.randn(5, 12))
    assert vis.shape == (2, 32, 8, 8) and text.shape == (2, 5, 32)
    (vis.sum() + text.sum()).backward()
    assert all(p.grad is not None for p in neck.parameters())


@pytest.mark.parametrize('t2v, v2t', [(True, False), (False, True), (False, False)])
def test_mrem_direction_switches(t2v, v2t):
    torch.manual_seed(0)
    neck = mrem(text_to_vision=t2v, vision_to_text=v2t).eval()
    f, t = feats(), torch.randn(5, 12)
    vis, text = neck(f, t)
    # A stream that is not updated equals its input projection.
    levels = [torch.nn.functional.interpolate(f[i], size=(8, 8), mode='bilinear')
              if f[i].shape[-1] != 8 else f[i] for i in (1, 2, 3)]
    levels = [norm(lvl) for norm, lvl in zip(neck.level_norms, levels)]
    projected_vis = neck.vision_proj(torch.cat(levels, 1))
    projected_text = neck.text_norm(neck.text_proj(t)).expand(2, -1, -1)
    assert torch.allclose(vis, projected_vis, atol=1e-6) != t2v
    assert torch.allclose(text, projected_text, atol=1e-6) != v2t
    # changing the text changes the vision output only if text flows into vision
    vis2, _ = neck(f, torch.randn(5, 12))
    assert (not torch.allclose(vis, vis2)) == t2v


def test_mrem_bidirectional_uses_the_custom_op(monkeypatch):
    import mmseg_baclip.models.necks.mrem as mrem_module
    calls = []
    original = mrem_module.bidirectional_attention
    monkeypatch.setattr(mrem_module, 'bidirectional_attention',
                        lambda *a, **k: calls.append(1) or original(*a, **k))
    mrem()(feats(), torch.randn(3, 12))
    assert calls == [1]


def test_mrem_without_attention_has_only_the_projections():
    neck = mrem(text_to_vision=False, vision_to_text=False)
    assert len(neck.layers) == 0
    vis, text = neck(feats(), torch.randn(5, 12))
    (vis.sum() + text.sum()).backward()
    assert all(p.grad is not None for p in neck.parameters())  # nothing unused (DDP-safe)
    with pytest.raises(ValueError, match='text_channels'):
        neck(feats(), torch.randn(5, 7))


def per_pixel_stats(x):
    """Mean and (biased) std over the channels at every pixel of a B x C x h x w tensor."""
    return x.mean(1), x.var(1, unbiased=False).sqrt()


def test_mrem_normalises_each_level_before_the_fusion_conv():
    from segment_anything.modeling.common import LayerNorm2d
    neck = mrem()
    assert [type(n) for n in neck.level_norms] == [LayerNorm2d] * 3
    assert [n.weight.numel() for n in neck.level_norms] == [8, 16, 32]
    # CLIP stages differ in scale by orders of magnitude
    torch.manual_seed(0)
    f = [x * scale + shift for x, scale, shift in zip(feats(), (1, 0.1, 1, 1e3), (0, 5, 0, -50))]
    seen = []
    neck.vision_proj.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    neck(f, torch.randn(5, 12))
    for level in seen[0].split([8, 16, 32], dim=1):  # B x C_i x 8 x 8 each
        mean, std = per_pixel_stats(level)
        assert mean.abs().max() < 1e-3 and (std - 1).abs().max() < 1e-2  # eps 1e-6
    (neck(f, torch.randn(5, 12))[0].sum()).backward()
    assert all(n.weight.grad is not None for n in neck.level_norms)  # trainable, DDP-safe


def test_mrem_without_level_norms_is_the_raw_concatenation():
    torch.manual_seed(0)
    neck = mrem(norm_levels=False, text_to_vision=False, vision_to_text=False)
    assert neck.level_norms is None
    assert not any('level_norms' in k for k in neck.state_dict())  # keys without norms
    f = feats()
    vis, _ = neck(f, torch.randn(5, 12))
    levels = [torch.nn.functional.interpolate(f[i], size=(8, 8), mode='bilinear')
              if f[i].shape[-1] != 8 else f[i] for i in (1, 2, 3)]
    assert torch.allclose(vis, neck.vision_proj(torch.cat(levels, 1)), atol=1e-6)
    # the switch only adds the norms: same keys otherwise
    normed = mrem(text_to_vision=False, vision_to_text=False)
    assert {k for k in normed.state_dict() if not k.startswith('level_norms.')} == set(
        neck.state_dict())


def mean_cosine_between_tokens(tokens):
    """Mean cosine similarity between different tokens of B x N x C (averaged over B)."""
    unit = torch.nn.functional.normalize(tokens, dim=-1)
    n = unit.shape[1]
    return float(((unit @ unit.transpose(1, 2)).sum((1, 2)) - n).mean() / (n * (n - 1)))


def test_mrem_normalises_the_projected_text_tokens():
    torch.manual_seed(0)
    neck = mrem()
    seen = []
    neck.layers[0].register_forward_pre_hook(lambda m, args: seen.append(args[1]))
    clip_text = torch.nn.functional.normalize(torch.randn(5, 12), dim=-1)  # unit, as CLIP's
    neck(feats(), clip_text)
    text = seen[0]  # B x N x C entering the block
    assert text.mean(-1).abs().max() < 1e-5 and (text.std(-1, unbiased=False) - 1).abs().max() < 1e-3
    # off: the projection alone, no text_norm keys, same keys otherwise
    raw = mrem(norm_text=False, text_to_vision=False, vision_to_text=False)
    assert raw.text_norm is None and not any('text_norm' in k for k in raw.state_dict())
    _, out = raw(feats(), clip_text)
    assert torch.allclose(out[0], raw.text_proj(clip_text), atol=1e-6)
    normed = mrem(text_to_vision=False, vision_to_text=False)
    assert {k for k in normed.state_dict() if not k.startswith('text_norm.')} == set(
        raw.state_dict())


def test_mrem_text_tokens_enter_the_block_at_one_scale_whatever_the_embeddings_norm():
    """The refined class tokens do not depend on the scale of the CLIP embeddings (unit vectors
    for CLIP): the residual updates of the block meet text tokens of a fixed scale. Without the
    norm they do."""
    torch.manual_seed(0)
    clip_text = torch.nn.functional.normalize(torch.randn(8, 12), dim=-1)
    f = feats()
    for norm_text in (True, False):
        torch.manual_seed(1)
        neck = mrem(norm_text=norm_text)
        neck.text_proj.bias.data.zero_()  # a pure scaling of the input scales the projection
        with torch.no_grad():
            _, small = neck(f, clip_text)
            _, large = neck(f, clip_text * 50)
        assert torch.allclose(small, large, atol=1e-2) == norm_text
