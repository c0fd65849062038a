import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import build_optim_wrapper
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from baclip_test_utils import tiny_baclip_cfg

VOCAB = ('owl', 'frog', 'snake')


def samples(n=2, size=64, vocab=VOCAB, ori=(50, 70)):
    out = []
    for _ in range(n):
        s = SegDataSample()
        s.set_metainfo(dict(vocabulary=vocab, ori_shape=ori, img_shape=(size, size),
                            pad_shape=(size, size), class_name=vocab[0]))
        s.gt_sem_seg = PixelData(data=(torch.rand(1, size, size) > 0.5).long())
        out.append(s)
    return out


@pytest.fixture
def model():
    torch.manual_seed(0)
    m = MODELS.build(tiny_baclip_cfg())
    m.init_weights()
    return m


def test_gradients_reach_exactly_the_trainable_parameters(model):
    model.train()
    losses = model.loss(torch.randn(2, 3, 64, 64), samples())
    sum(losses.values()).backward()
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None, f'{name} is trainable but got no gradient'
        else:
            assert p.grad is None, f'{name} is frozen but got a gradient'
    frozen = {n.split('.')[0] for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen == {'backbone', 'text_encoder', 'decode_head'}
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert not any(p.requires_grad for p in model.text_encoder.parameters())
    assert not any(p.requires_grad for p in model.decode_head.prompt_encoder.parameters())


def test_frozen_modules_stay_in_eval_mode(model):
    model.train()
    assert model.training and model.neck.training and model.align_neck.training
    for module in (model.backbone, model.text_encoder, model.decode_head.prompt_encoder):
        assert not any(m.training for m in module.modules())


@pytest.mark.parametrize("paramwise", [None, dict(norm_decay_mult=0.0)])
def test_optimizer_holds_only_trainable_parameters(model, paramwise):
    wrapper = build_optim_wrapper(model, dict(
        type='OptimWrapper', constructor='TrainableOnlyOptimWrapperConstructor',
        optimizer=dict(type="AdamW", lr=1e-4, weight_decay=0.01), **({"paramwise_cfg": paramwise} if paramwise else {})))
    in_optimizer = {id(p) for g in wrapper.optimizer.param_groups for p in g['params']}
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert in_optimizer == trainable and trainable


def test_predict_fields_and_classification(model):
    model.eval()
    inputs = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        out = model.predict(inputs, samples())
    s = out[0]
    assert s.seg_logits.shape == (50, 70) and s.input_seg_logits.shape == (64, 64)
    assert set(s.pred_sem_seg.data.unique().tolist()) <= {0, 1}
    assert s.pred_class in VOCAB and s.vocabulary == VOCAB
    assert s.pred_class_scores.shape == (3, ) and float(s.pred_class_scores.sum()) == \
        pytest.approx(1.0)
    # the class is CLIP's zero-shot choice for the masked stride-32 features
    with torch.no_grad():
        feats = model.backbone(inputs)
        prob = s.input_seg_logits.data[None].sigmoid()
        region = F.normalize(model.backbone.masked_embedding(feats[-1][:1], prob), dim=-1)
        scores = (region @ model.text_encoder(VOCAB).t()).squeeze(0)
    assert VOCAB[int(scores.argmax())] == s.pred_class


def test_vocabulary_sources(model):
    model.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert model.predict(x, samples(1, vocab=('cat', 'dog')))[0].vocabulary == ('cat', 'dog')
        model.set_vocabulary(['moth'])  # an explicit vocabulary wins
        assert model.predict(x, samples(1))[0].pred_class == 'moth'
        model.set_vocabulary(None)
        with pytest.raises(ValueError, match='no vocabulary'):
            model.predict(x, [SegDataSample(metainfo=dict(ori_shape=(64, 64)))])
        with pytest.raises(ValueError, match='different vocabularies'):
            model.predict(torch.randn(2, 3, 64, 64), samples(1) + samples(1, vocab=('x', )))
        with pytest.raises(ValueError, match='empty'):
            model.set_vocabulary([])


def test_tensor_mode_and_data_preprocessor(model):
    model.eval()
    data = dict(inputs=[torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8)],
                data_samples=samples(1))
    with torch.no_grad():
        out = model.test_step(data)
        logits = model(model.data_preprocessor(data)['inputs'], samples(1), mode='tensor')
    assert logits.shape == (1, 1, 64, 64) and out[0].pred_class in VOCAB


def test_baseline_without_align_neck_uses_backbone_level():
    cfg = tiny_baclip_cfg(align_neck=None, neck=None, feature_index=2,
                          decode_head=dict(type='ConvMaskHead', in_channels=160, channels=16))
    m = MODELS.build(cfg)
    m.init_weights()
    losses = m.loss(torch.randn(2, 3, 64, 64), samples())
    assert torch.isfinite(losses['loss_seg'])


def test_backbone_must_return_the_last_stage():
    cfg = tiny_baclip_cfg()
    cfg['backbone'] = dict(cfg['backbone'], out_indices=(0, 1, 2))
    with pytest.raises(ValueError, match='last backbone stage'):
        MODELS.build(cfg)


def test_vertical_and_diagonal_flips_are_undone(model):
    model.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        plain = model.predict(x, samples(1, ori=(64, 64)))[0].seg_logits.data
        for direction, dims in (('vertical', (1, )), ('diagonal', (1, 2))):
            s = samples(1, ori=(64, 64))
            s[0].set_metainfo(dict(flip=True, flip_direction=direction))
            flipped = model.predict(x, s)[0].seg_logits.data
            assert torch.allclose(flipped, plain.flip(dims=dims))


def test_predict_classifies_the_ground_truth_mask_too(model):
    """gt_mask_class is the zero-shot class of the ground-truth region (the ceiling)."""
    data = samples(n=2, ori=(64, 64))
    inputs = torch.randn(2, 3, 64, 64)
    out = model.predict(inputs, data)
    with torch.no_grad():
        feats = model.extract_feat(inputs)
        gt = torch.stack([s.gt_sem_seg.data.float() for s in data])  # B x 1 x 64 x 64
        expected = model.classify(feats[-1], gt, model.text_encoder(list(VOCAB))).argmax(1)
    assert [s.gt_mask_class for s in out] == [VOCAB[i] for i in expected.tolist()]
    plain = model.predict(inputs, [SegDataSample(metainfo=s.metainfo) for s in samples(2)])
    assert all('gt_mask_class' not in s for s in plain)  # no ground truth: not computed


def test_ground_truth_is_placed_like_the_input():
    s = SegDataSample()
    gt = torch.zeros(1, 4, 6, dtype=torch.long)
    gt[0, 0, 0] = 1  # top-left pixel of the original image
    s.gt_sem_seg = PixelData(data=gt)
    s.set_metainfo(dict(padding_size=[0, 2, 0, 4], flip=True, flip_direction='horizontal'))
    from mmseg_baclip.models.segmentors.baclip import BaCLIP
    placed = BaCLIP.ground_truth_at_input_size([s], (8, 8))  # resized to 4x6, then padded
    assert placed.shape == (1, 1, 8, 8)
    assert placed[0, 0, 4:].abs().sum() == 0 and placed[0, 0, :, 6:].abs().sum() == 0
    assert placed[0, 0, 0, 5] > 0 and placed[0, 0, 0, 0] == 0  # flipped: top-right
