import pytest
import torch
from mmseg.registry import MODELS
from segment_anything.modeling import MaskDecoder, PromptEncoder, TwoWayTransformer


def sam_state_dict(dim=256):
    """prompt_encoder.* / mask_decoder.* as in sam_vit_*.pth, built the way build_sam does."""
    torch.manual_seed(0)
    pe = PromptEncoder(embed_dim=dim, image_embedding_size=(64, 64), input_image_size=(1024, 1024),
                       mask_in_chans=16)
    md = MaskDecoder(num_multimask_outputs=3, transformer=TwoWayTransformer(
        depth=2, embedding_dim=dim, mlp_dim=2048, num_heads=8), transformer_dim=dim,
        iou_head_depth=3, iou_head_hidden_dim=256)
    state = {'image_encoder.patch_embed.proj.weight': torch.zeros(1)}  # ignored part
    state.update({f'prompt_encoder.{k}': v for k, v in pe.state_dict().items()})
    state.update({f'mask_decoder.{k}': v for k, v in md.state_dict().items()})
    return state


def head(**kw):
    cfg = dict(type='SAMPromptHead')
    cfg.update(kw)
    return MODELS.build(cfg)


def test_sam_checkpoint_loads_every_key(tmp_path):
    state = sam_state_dict()
    path = tmp_path / 'sam_vit_b_01ec64.pth'
    torch.save(state, path)
    h = head(checkpoint=str(path))
    h.init_weights()
    for name in ('prompt_encoder', 'mask_decoder'):
        own = getattr(h, name).state_dict()
        keys = [k for k in state if k.startswith(name + '.')]
        assert len(keys) == len(own)
        for k in keys:
            assert torch.equal(own[k[len(name) + 1:]], state[k]), k


def test_bad_sam_checkpoints(tmp_path):
    with pytest.raises(FileNotFoundError, match='sam_vit_b_01ec64.pth'):
        head(checkpoint=str(tmp_path / 'missing.pth')).init_weights()
    torch.save(sam_state_dict(), tmp_path / 'sam.pth')
    with pytest.raises(RuntimeError, match='shape mismatches'):
        head(transformer_dim=64, checkpoint=str(tmp_path / 'sam.pth')).init_weights()
    torch.save({'visual.x': torch.zeros(1)}, tmp_path / 'clip.pth')
    with pytest.raises(RuntimeError, match='prompt_encoder'):
        head(checkpoint=str(tmp_path / 'clip.pth')).init_weights()


def test_batch_of_images_each_with_its_prompts_and_gradients():
    h = head(in_channels=32, text_channels=48, transformer_dim=64, transformer_mlp_dim=128,
             transformer_heads=4, prompt_heads=4)
    h.train()
    visual = torch.randn(3, 32, 6, 5)
    text = torch.randn(3, 7, 48)
    out = h(visual, text)
    assert out.shape == (3, 1, 24, 20)
    # each image is decoded with its own embedding: changing image 0 leaves image 1 unchanged
    visual2 = visual.clone()
    visual2[0] += 1
    out2 = h(visual2, text)
    assert torch.allclose(out[1:], out2[1:], atol=1e-5) and not torch.allclose(out[0], out2[0])
    out.sum().backward()
    assert all(p.grad is None for p in h.prompt_encoder.parameters())
    assert not any(p.requires_grad for p in h.prompt_encoder.parameters())
    assert not h.prompt_encoder.training
    assert all(p.grad is not None for p in h.text_prompt.parameters())
    assert any(p.grad is not None for p in h.mask_decoder.parameters())


def test_switches():
    h = head(transformer_dim=64, transformer_mlp_dim=128, transformer_heads=4, in_channels=64,
             text_channels=64, prompt_heads=4, prompt_self_attention=False,
             freeze_mask_decoder=True)
    assert not hasattr(h.text_prompt, 'attn')
    h.train()
    assert not h.mask_decoder.training
    assert not any(p.requires_grad for p in h.mask_decoder.parameters())


def test_loss_is_float32_and_finite():
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    h = head(transformer_dim=64, transformer_mlp_dim=128, transformer_heads=4, in_channels=64,
             text_channels=64, prompt_heads=4)
    logits = torch.randn(2, 1, 16, 16, dtype=torch.bfloat16)
    samples = []
    for _ in range(2):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=torch.randint(0, 2, (1, 64, 64)))
        samples.append(s)
    losses = h.loss_by_feat(logits, samples)
    assert losses['loss_seg'].dtype == torch.float32 and torch.isfinite(losses['loss_seg'])


def test_masks_of_different_sizes_name_the_files():
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    h = head(transformer_dim=64, transformer_mlp_dim=128, transformer_heads=4, in_channels=64,
             text_channels=64, prompt_heads=4)
    samples = []
    for i, size in enumerate((32, 40)):
        s = SegDataSample(metainfo=dict(seg_map_path=f'mask_{i}.png'))
        s.gt_sem_seg = PixelData(data=torch.zeros(1, size, size, dtype=torch.long))
        samples.append(s)
    with pytest.raises(ValueError, match='mask_1.png'):
        h.loss_by_feat(torch.zeros(2, 1, 8, 8), samples)


def decoder_inputs(h):
    """Record the image embedding each call of ``h.mask_decoder`` receives (1 x D x h x w)."""
    seen = []
    h.mask_decoder.register_forward_pre_hook(
        lambda m, args, kwargs: seen.append(kwargs['image_embeddings']), with_kwargs=True)
    return seen


def test_visual_features_are_normalised_before_the_decoder():
    from segment_anything.modeling.common import LayerNorm2d
    h = head(in_channels=64, text_channels=64, transformer_dim=64, transformer_mlp_dim=128,
             transformer_heads=4, prompt_heads=4)
    assert isinstance(h.visual_norm, LayerNorm2d)
    seen = decoder_inputs(h)
    visual = torch.rand(2, 64, 6, 6) * 10 + 3  # non-negative, large, as after CCE
    h(visual, torch.randn(2, 3, 64)).sum().backward()
    embedding = torch.cat(seen)  # B x D x h x w
    assert torch.allclose(embedding.mean(1), torch.zeros(2, 6, 6), atol=1e-4)
    assert torch.allclose(embedding.var(1, unbiased=False), torch.ones(2, 6, 6), atol=1e-3)
    assert h.visual_norm.weight.grad is not None and h.visual_norm.weight.requires_grad


def test_without_norm_visual_the_decoder_gets_the_features_unchanged():
    h = head(in_channels=64, text_channels=64, transformer_dim=64, transformer_mlp_dim=128,
             transformer_heads=4, prompt_heads=4, norm_visual=False)
    assert not any(k.startswith('visual_norm.') for k in h.state_dict())  # keys without norm
    seen = decoder_inputs(h)
    visual = torch.rand(2, 64, 6, 6) * 10 + 3
    h(visual, torch.randn(2, 3, 64))
    assert torch.equal(torch.cat(seen), visual)
    normed = head(in_channels=64, text_channels=64, transformer_dim=64, transformer_mlp_dim=128,
                  transformer_heads=4, prompt_heads=4)
    assert {k for k in normed.state_dict() if not k.startswith('visual_norm.')} == set(
        h.state_dict())
