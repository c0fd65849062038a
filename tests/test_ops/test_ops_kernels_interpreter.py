"""The Triton kernels, run on CPU tensors by Triton's interpreter, against the reference.

Runs only when TRITON_INTERPRET=1 was set before the process started (Triton fixes the mode
when the kernels are defined). ``test_ops_interpreter_subprocess.py`` runs this module in such a
subprocess, so a plain ``pytest tests/test_ops`` covers it.
"""
import os
import sys

import pytest
import torch
from _ops_cases import assert_close_all, attn_inputs, grads_of, mfp_inputs, text_mask

from mmseg_baclip.ops import (bidirectional_attention, bidirectional_attention_reference,
                              multi_freq_pool, multi_freq_pool_reference, resolve_backend,
                              triton_available)

pytestmark = pytest.mark.skipif(
    os.environ.get('TRITON_INTERPRET') != '1' or not triton_available(),
    reason='needs Triton and TRITON_INTERPRET=1 set at process start (run by '
    'test_ops_interpreter_subprocess.py)')

OPS = torch.ops.mmseg_baclip
DTYPES = [torch.float32, torch.float64]


@pytest.fixture(autouse=True)
def triton_backend(backend):
    backend('triton')


def test_kernels_are_used():
    assert resolve_backend('multi_freq_pool', torch.device('cpu'), torch.float32) == 'triton'
    x, f = mfp_inputs(1, 2, 3, 3, 2)
    multi_freq_pool(x, f)
    assert sys.modules['mmseg_baclip.ops._triton_kernels'].INTERPRETED


MFP_CASES = {
    'small': dict(shape=(2, 5, 6, 7, 3)),
    'tile14_k16_two_cblocks': dict(shape=(2, 20, 14, 14, 16)),
    'two_hw_chunks': dict(shape=(1, 3, 17, 17, 2)),
    'noncontiguous': dict(shape=(2, 5, 6, 7, 3), noncontiguous=True),
    'ties': dict(shape=(2, 3, 6, 6, 3), ties=True),
    'one_pixel_one_filter': dict(shape=(2, 3, 1, 1, 1)),
}


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('case', list(MFP_CASES))
def test_mfp_kernel_matches_reference(dtype, case):
    spec = dict(MFP_CASES[case])
    x, f = mfp_inputs(*spec.pop('shape'), dtype=dtype, **spec)
    x.requires_grad_(True)
    f.requires_grad_(True)
    out = multi_freq_pool(x, f)
    ref = multi_freq_pool_reference(x, f)
    torch.testing.assert_close(out, ref)
    assert_close_all(grads_of(out, [x, f]), grads_of(ref, [x, f]))


ATTN_CASES = {
    'N1_d8': dict(shape=(2, 2, 7, 1, 8)),
    'L_two_blocks': dict(shape=(1, 2, 70, 5, 16)),
    'N_two_blocks': dict(shape=(3, 1, 5, 67, 8)),
    'noncontiguous': dict(shape=(3, 2, 9, 5, 4), noncontiguous=True),
    'd32': dict(shape=(2, 1, 6, 4, 32)),
}


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('masked', [False, True])
@pytest.mark.parametrize('case', list(ATTN_CASES))
def test_attention_kernel_matches_reference(dtype, masked, case):
    spec = dict(ATTN_CASES[case])
    shape = spec.pop('shape')
    qkv = [t.requires_grad_(True) for t in attn_inputs(*shape, dtype=dtype, **spec)]
    mask = text_mask(shape[0], shape[3]) if masked else None
    out = bidirectional_attention(*qkv, mask)
    ref = bidirectional_attention_reference(*qkv, mask)
    assert_close_all(out, ref)
    assert_close_all(grads_of(out, qkv), grads_of(ref, qkv))


def test_attention_kernel_is_stable_for_large_logits():
    qkv = attn_inputs(1, 1, 5, 3, 4)
    qkv[0] = qkv[0] * 1e4
    qkv[3] = qkv[3] * 1e4
    assert_close_all(bidirectional_attention(*qkv), bidirectional_attention_reference(*qkv))


def test_gradcheck_kernels():
    x, f = mfp_inputs(1, 2, 3, 4, 2)
    assert torch.autograd.gradcheck(lambda a, b: OPS.multi_freq_pool(a, b)[0],
                                    (x.requires_grad_(True), f.requires_grad_(True)))
    qkv = [t.requires_grad_(True) for t in attn_inputs(2, 1, 3, 2, 4)]
    mask = torch.tensor([[True, False], [True, True]])
    assert torch.autograd.gradcheck(lambda *t: OPS.bidirectional_attention(*t, mask)[:2], qkv,
                                    fast_mode=True)


def test_opcheck_kernels():
    x, f = mfp_inputs(2, 3, 4, 5, 2)
    torch.library.opcheck(OPS.multi_freq_pool.default, (x.requires_grad_(True), f))
    qkv = [t.requires_grad_(True) for t in attn_inputs(2, 2, 5, 3, 4)]
    torch.library.opcheck(OPS.bidirectional_attention.default, (*qkv, text_mask(2, 3)))


def test_empty_batch_with_triton_backend():
    x, f = mfp_inputs(0, 3, 4, 4, 2)
    assert multi_freq_pool(x, f).shape == (0, 3, 3)
    out_v, out_t = bidirectional_attention(*attn_inputs(0, 2, 5, 3, 4))
    assert out_v.shape == (0, 2, 5, 4) and out_t.shape == (0, 2, 3, 4)


@pytest.mark.parametrize('module', ['MFMSA', 'MREM'])
def test_modules_give_the_same_outputs_with_either_backend(module, backend):
    """MFMSA (multi_freq_pool) and MREM (bidirectional_attention) through both backends."""
    import mmseg_baclip  # noqa: F401  (registers the modules)
    from mmseg.registry import MODELS
    torch.manual_seed(0)
    if module == 'MFMSA':
        net = MODELS.build(dict(type='MFMSA', in_channels=64, groups=32, dct_tile=7))
        inputs = (torch.randn(2, 64, 12, 12, dtype=torch.float64, requires_grad=True), )
    else:
        net = MODELS.build(dict(type='MREM', in_channels=(8, 16), in_index=(0, 1), out_level=1,
                                text_channels=12, embed_dims=32, num_heads=4))
        inputs = ([torch.randn(2, 8, 10, 10, dtype=torch.float64),
                   torch.randn(2, 16, 5, 5, dtype=torch.float64, requires_grad=True)],
                  torch.randn(7, 12, dtype=torch.float64))
    net = net.double().train()
    results = {}
    for name in ('torch', 'triton'):
        backend(name)
        net.zero_grad()
        out = net(*inputs)
        outs = out if isinstance(out, tuple) else (out, )
        sum(o.sum() for o in outs).backward()
        grads = [p.grad.clone() for p in net.parameters() if p.grad is not None]
        results[name] = [o.detach() for o in outs] + grads
    assert len(results['torch']) == len(results['triton'])
    for a, b in zip(results['torch'], results['triton']):
        assert torch.allclose(a, b, atol=1e-8), (a - b).abs().max()
