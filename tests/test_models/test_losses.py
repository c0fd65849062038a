import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS


def test_weighted_bce_dice_matches_formula():
    loss = MODELS.build(dict(type='WeightedBCEDiceLoss'))
    torch.manual_seed(0)
    logits = torch.randn(2, 1, 40, 40, dtype=torch.float64)
    gt = (torch.rand(2, 1, 40, 40) > 0.6).double()
    w = 1 + 5 * (F.avg_pool2d(gt, 31, stride=1, padding=15) - gt).abs()
    bce = F.binary_cross_entropy_with_logits(logits, gt, reduction='none')
    wbce = (w * bce).sum((2, 3)) / w.sum((2, 3))
    p = logits.sigmoid()
    dice = 1 - (2 * (p * gt).sum((2, 3)) + 1) / (p.sum((2, 3)) + gt.sum((2, 3)) + 1)
    expected = (wbce + dice).mean()
    assert torch.allclose(loss(logits, gt.long()), expected.float(), atol=1e-6)


def test_perfect_prediction_has_low_loss_and_ignore_index():
    loss = MODELS.build(dict(type='WeightedBCEDiceLoss'))
    gt = torch.zeros(1, 1, 32, 32, dtype=torch.long)
    gt[..., 8:24, 8:24] = 1
    good = (gt.float() * 2 - 1) * 20
    assert loss(good, gt) < 0.01 < loss(-good, gt)
    ignored = gt.clone()
    ignored[..., :4, :] = 255
    bad_top = good.clone()
    bad_top[..., :4, :] = 50  # wrong only where ignored
    assert torch.allclose(loss(bad_top, ignored), loss(good, ignored), atol=1e-6)


def test_shape_errors():
    loss = MODELS.build(dict(type='WeightedBCEDiceLoss'))
    with pytest.raises(ValueError, match='B x 1 x H x W'):
        loss(torch.zeros(1, 2, 8, 8), torch.zeros(1, 1, 8, 8))
