"""Part 4: bf16/fp16 configs, float32 losses and CLIP logits under autocast, a few bf16 CPU
training steps stay finite, and a NaN/Inf loss stops training naming the iteration."""
import glob
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.optim.optimizer import amp_optimizer_wrapper
from mmseg.registry import HOOKS, MODELS
from mmseg.structures import SegDataSample
from mmengine.structures import PixelData

from baclip_test_utils import tiny_baclip_cfg
from engine_test_utils import REPO_ROOT, SMALL_CONFIG, tiny_cfg, train
from mmseg_baclip.engine import NonFiniteLossError, NonFiniteLossHook
from mmseg_baclip.models.losses import WeightedBCEDiceLoss

AMP_CONFIGS = sorted(glob.glob(osp.join(REPO_ROOT, 'configs', 'baclip', '*amp*.py')))


@pytest.mark.parametrize('path', AMP_CONFIGS, ids=osp.basename)
def test_amp_configs(path):
    cfg = Config.fromfile(path)
    wrapper = cfg.optim_wrapper
    assert wrapper.type == 'AmpOptimWrapper'
    assert wrapper.constructor == 'TrainableOnlyOptimWrapperConstructor'
    if 'bf16' in path:
        assert wrapper.dtype == 'bfloat16' and wrapper.loss_scale == 1.0
    else:
        assert 'fp16' in path and wrapper.dtype == 'float16' and wrapper.loss_scale == 'dynamic'
    assert 'NonFiniteLossHook' in [h['type'] for h in cfg.custom_hooks]


def test_there_are_bf16_and_fp16_variants_of_both_configs():
    names = {osp.basename(p) for p in AMP_CONFIGS}
    for base in ('baclip_convnext-l_1xb4-30e_ovcamo-384',
                 'baclip_convnext-tiny-random_1xb4-6e_ovcamo-synthetic-192'):
        assert {f'{base}_amp-bf16.py', f'{base}_amp-fp16.py'} <= names


def batch(size=64, n=2, vocab=('owl', 'moth', 'crab')):
    samples = []
    for i in range(n):
        s = SegDataSample()
        mask = torch.zeros(1, size, size, dtype=torch.long)
        mask[:, size // 4:size // 2 + 8 * i, size // 4:] = 1
        s.gt_sem_seg = PixelData(data=mask)
        s.set_metainfo(dict(vocabulary=vocab, img_shape=(size, size), ori_shape=(size, size),
                            pad_shape=(size, size)))
        samples.append(s)
    return torch.randn(n, 3, size, size), samples


def test_losses_and_clip_logits_are_float32_under_bf16_autocast():
    torch.manual_seed(0)
    model = MODELS.build(tiny_baclip_cfg())
    model.init_weights()
    inputs, samples = batch()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        feats, text, mask_logits = model.decode(inputs, ('owl', 'moth', 'crab'))
        assert mask_logits.dtype == torch.bfloat16  # autocast really is active
        losses = model.loss(inputs, samples)
        class_logits = model.classify(feats[-1], mask_logits.sigmoid(), text)
        model.eval()
        pred = model.predict(inputs, samples)
    assert losses and all(v.dtype == torch.float32 and torch.isfinite(v) for v in losses.values())
    assert class_logits.dtype == torch.float32 and torch.isfinite(class_logits).all()
    assert pred[0].pred_class_scores.dtype == torch.float32
    # float32 loss from bf16 logits equals the loss of the float32-cast logits
    target = torch.stack([s.gt_sem_seg.data for s in samples])
    low = torch.randn(2, 1, 64, 64).bfloat16()
    loss_fn = WeightedBCEDiceLoss()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        under = loss_fn(low, target)
    assert under.dtype == torch.float32
    assert torch.allclose(under, loss_fn(low.float(), target), rtol=0, atol=1e-6)


@HOOKS.register_module(force=True)
class _DtypeProbeHook(Hook):
    """Records the dtype of the mask logits and the losses of each training step."""

    mask_dtypes, losses = [], []

    def before_train(self, runner):
        type(self).mask_dtypes, type(self).losses = [], []
        model = getattr(runner.model, 'module', runner.model)
        model.decode_head.register_forward_hook(
            lambda m, i, out: type(self).mask_dtypes.append(out.dtype))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        type(self).losses.append({k: (v.dtype, float(v)) for k, v in outputs.items()})


def test_bf16_autocast_training_steps_stay_finite(data_root, tmp_path, monkeypatch):
    """The bf16 config's AmpOptimWrapper, on CPU: mmengine allows it on accelerators only, so
    its device check is patched; autocast then runs on the CPU in bfloat16."""
    monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available', lambda: True)
    bf16 = Config.fromfile(SMALL_CONFIG.replace('-192.py', '-192_amp-bf16.py'))
    cfg = tiny_cfg(data_root, str(tmp_path / 'w'), max_iters=4, interval=4,
                   extra_hooks=[dict(type='_DtypeProbeHook')])
    cfg.optim_wrapper = bf16.optim_wrapper
    runner = train(cfg, str(tmp_path / 'c.py'), name='bf16_cpu')
    assert type(runner.optim_wrapper).__name__ == 'AmpOptimWrapper'
    assert runner.optim_wrapper.cast_dtype == torch.bfloat16
    assert _DtypeProbeHook.mask_dtypes == [torch.bfloat16] * 4
    assert len(_DtypeProbeHook.losses) == 4
    for step in _DtypeProbeHook.losses:
        for dtype, value in step.values():
            assert dtype == torch.float32 and math.isfinite(value)
    state = torch.load(str(tmp_path / 'w' / 'iter_4.pth'), weights_only=True)['state_dict']
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


# ------------------------------------------------------------------------------ NaN / Inf
def poison_loss(monkeypatch, at_call: int, value: float):
    """Make the loss ``value`` at its ``at_call``-th evaluation."""
    original = WeightedBCEDiceLoss.forward
    calls = [0]

    def forward(self, *args, **kwargs):
        calls[0] += 1
        out = original(self, *args, **kwargs)
        return out * value if calls[0] == at_call else out  # NaN/Inf gradients too

    monkeypatch.setattr(WeightedBCEDiceLoss, 'forward', forward)


@pytest.mark.parametrize('value,shown', [(float('nan'), 'nan'), (float('inf'), 'inf')])
def test_non_finite_loss_stops_training_naming_the_iteration(data_root, tmp_path, monkeypatch,
                                                            value, shown):
    poison_loss(monkeypatch, at_call=3, value=value)
    cfg = tiny_cfg(data_root, str(tmp_path / 'w'), max_iters=5, interval=1)
    with pytest.raises(NonFiniteLossError) as err:
        train(cfg, str(tmp_path / 'c.py'), name=f'nan_{shown}')
    msg = str(err.value)
    assert 'iteration 3 of 5' in msg and f'loss={shown}' in msg and f'loss_seg={shown}' in msg
    assert osp.isfile(tmp_path / 'w' / 'iter_2.pth')
    assert not osp.exists(tmp_path / 'w' / 'iter_3.pth')  # no checkpoint of the broken step


def test_non_finite_loss_in_an_epoch_loop_names_epoch_and_batch(data_root, tmp_path,
                                                                monkeypatch):
    poison_loss(monkeypatch, at_call=6, value=float('nan'))  # 4 iterations per epoch
    cfg = tiny_cfg(data_root, str(tmp_path / 'w'), loop='epoch', max_epochs=2, interval=1)
    with pytest.raises(NonFiniteLossError, match=r'iteration 6 of 8 \(epoch 2, batch 2\)'):
        train(cfg, str(tmp_path / 'c.py'), name='nan_epoch')


def test_control_without_the_hook_training_goes_on(data_root, tmp_path, monkeypatch):
    poison_loss(monkeypatch, at_call=2, value=float('nan'))
    cfg = tiny_cfg(data_root, str(tmp_path / 'w'), max_iters=3, interval=3)
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h['type'] != 'NonFiniteLossHook']
    train(cfg, str(tmp_path / 'c.py'), name='nan_no_hook')
    state = torch.load(str(tmp_path / 'w' / 'iter_3.pth'), weights_only=True)['state_dict']
    assert any(not torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


def test_hook_arguments():
    with pytest.raises(ValueError):
        NonFiniteLossHook(interval=0)
