"""The compiled Triton kernels on a CUDA GPU against the reference (skipped without a GPU).

Run on a GPU machine with ``pytest tests/test_ops -m cuda`` (.dev_scripts/gpu_ops_check.sh).
"""
import os

import pytest
import torch
from _ops_cases import assert_close_all, attn_inputs, grads_of, mfp_inputs, text_mask

from mmseg_baclip.ops import (bidirectional_attention, bidirectional_attention_reference,
                              bidirectional_attention_sdpa, multi_freq_pool,
                              multi_freq_pool_reference, resolve_backend, triton_available)
from mmseg_baclip.ops._backend import AUTO_CUDA_BACKEND

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(
        not torch.cuda.is_available() or not triton_available()
        or os.environ.get('TRITON_INTERPRET') == '1',
        reason='needs a CUDA GPU, Triton, and TRITON_INTERPRET unset'),
]
OPS = torch.ops.mmseg_baclip
# tolerances of the half-precision kernels against the float32 reference on the same values
HALF_TOL = {torch.float16: dict(atol=2e-3, rtol=2e-3), torch.bfloat16: dict(atol=2e-2, rtol=2e-2)}
# attention gradients go through p and ds rounded to half precision for the tensor-core products
HALF_GRAD_TOL = {torch.float16: dict(atol=1e-2, rtol=1e-2),
                 torch.bfloat16: dict(atol=6e-2, rtol=6e-2)}
DTYPE_IDS = {torch.float32: 'fp32', torch.float16: 'fp16', torch.bfloat16: 'bf16'}


@pytest.fixture(autouse=True)
def triton_backend(backend):
    backend('triton')


def test_auto_picks_the_table_entry(backend):
    backend('auto')
    for op, choice in AUTO_CUDA_BACKEND.items():
        assert resolve_backend(op, torch.device('cuda'), torch.float32) == choice


@pytest.mark.parametrize('dtype', [torch.float32, torch.float16, torch.bfloat16],
                         ids=DTYPE_IDS.get)
@pytest.mark.parametrize('case', [dict(shape=(4, 256, 14, 14, 16)),
                                  dict(shape=(4, 64, 14, 14, 16), ties=True),
                                  dict(shape=(2, 37, 24, 24, 5), noncontiguous=True),
                                  dict(shape=(3, 20, 7, 9, 16))])
def test_mfp_cuda_matches_reference(dtype, case):
    spec = dict(case)
    x64, f64 = mfp_inputs(*spec.pop('shape'), dtype=torch.float32, device='cuda', **spec)
    x = x64.to(dtype).requires_grad_(True)
    f = f64.to(dtype)
    xr = x.detach().float().requires_grad_(True)  # reference on the same (rounded) values
    out = multi_freq_pool(x, f)
    ref = multi_freq_pool_reference(xr, f.float())
    tol = HALF_TOL.get(dtype, {})
    torch.testing.assert_close(out.float(), ref, **tol)
    (gx, ), (gr, ) = grads_of(out, [x]), grads_of(ref, [xr])
    torch.testing.assert_close(gx.float(), gr, **tol)


ATTN_CASES = [(torch.float32, dict(shape=(4, 8, 576, 14, 32))),
              (torch.float32, dict(shape=(4, 8, 576, 61, 32), noncontiguous=True)),
              (torch.float32, dict(shape=(3, 2, 7, 1, 8))),
              (torch.float32, dict(shape=(2, 3, 100, 130, 64))),
              (torch.float16, dict(shape=(4, 8, 576, 61, 32))),
              (torch.bfloat16, dict(shape=(4, 8, 576, 61, 32), noncontiguous=True))]


@pytest.mark.parametrize('masked', [False, True])
@pytest.mark.parametrize('dtype,case', ATTN_CASES,
                         ids=[f'{DTYPE_IDS[d]}-{c["shape"]}' for d, c in ATTN_CASES])
def test_attention_cuda_matches_reference(dtype, masked, case):
    spec = dict(case)
    shape = spec.pop('shape')
    base = attn_inputs(*shape, dtype=torch.float32, device='cuda', **spec)
    qkv = [t.to(dtype).requires_grad_(True) for t in base]
    ref_in = [t.detach().float().requires_grad_(True) for t in qkv]
    mask = text_mask(shape[0], shape[3], device='cuda') if masked else None
    out = bidirectional_attention(*qkv, mask)
    ref = bidirectional_attention_reference(*ref_in, mask)
    tol = HALF_TOL.get(dtype, dict(atol=1e-5, rtol=1e-4))
    assert_close_all([o.float() for o in out], ref, **tol)
    grad_tol = HALF_GRAD_TOL.get(dtype, tol)
    assert_close_all([g.float() for g in grads_of(out, qkv)], grads_of(ref, ref_in), **grad_tol)


def test_sdpa_path_cuda_matches_reference():
    qkv = [t.requires_grad_(True) for t in attn_inputs(4, 8, 576, 61, 32, dtype=torch.float32,
                                                       device='cuda')]
    mask = text_mask(4, 61, device='cuda')
    out = bidirectional_attention_sdpa(*qkv, mask)
    ref = bidirectional_attention_reference(*qkv, mask)
    assert_close_all(out, ref, atol=1e-5, rtol=1e-4)
    assert_close_all(grads_of(out, qkv), grads_of(ref, qkv), atol=1e-5, rtol=1e-4)


def test_opcheck_cuda():
    x, f = mfp_inputs(2, 3, 4, 5, 2, dtype=torch.float32, device='cuda')
    torch.library.opcheck(OPS.multi_freq_pool.default, (x.requires_grad_(True), f))
    qkv = [t.requires_grad_(True) for t in attn_inputs(2, 2, 5, 3, 8, dtype=torch.float32,
                                                       device='cuda')]
    torch.library.opcheck(OPS.bidirectional_attention.default, (*qkv, text_mask(2, 3, 'cuda')))
    torch.library.opcheck(OPS.bidirectional_attention.default, (*qkv, None))


def test_empty_batch_cuda():
    x, f = mfp_inputs(0, 3, 4, 4, 2, dtype=torch.float32, device='cuda')
    assert multi_freq_pool(x, f).shape == (0, 3, 3)
    out_v, out_t = bidirectional_attention(*attn_inputs(0, 2, 5, 3, 8, dtype=torch.float32,
                                                        device='cuda'))
    assert out_v.shape == (0, 2, 5, 8) and out_t.shape == (0, 2, 3, 8)
