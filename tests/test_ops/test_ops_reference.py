"""The PyTorch references and the custom ops' PyTorch path (CPU; no Triton needed)."""
import math

import pytest
import torch
from _ops_cases import assert_close_all, attn_inputs, grads_of, mfp_inputs, text_mask

from mmseg_baclip.ops import (bidirectional_attention, bidirectional_attention_reference,
                              bidirectional_attention_sdpa, multi_freq_pool,
                              multi_freq_pool_reference)

OPS = torch.ops.mmseg_baclip


def naive_mfp(x, filters):
    y = x[:, None] * filters[None, :, None]  # B×K×C×h×w
    stats = torch.stack([y.mean((3, 4)), y.amax((3, 4)), y.amin((3, 4))], dim=1)  # B×3×K×C
    return stats.mean(2)


def naive_attention(q_v, k_v, v_v, q_t, k_t, v_t, mask):
    """Per batch element, drop padded text tokens and run plain softmax attention."""
    B, H, L, d = q_v.shape
    out_v, out_t = torch.zeros_like(q_v), torch.zeros_like(q_t)
    for b in range(B):
        keep = mask[b] if mask is not None else torch.ones(q_t.shape[2], dtype=torch.bool)
        if keep.any():
            att = torch.softmax(q_v[b] @ k_t[b][:, keep].transpose(-1, -2) / math.sqrt(d), -1)
            out_v[b] = att @ v_t[b][:, keep]
            att = torch.softmax(q_t[b][:, keep] @ k_v[b].transpose(-1, -2) / math.sqrt(d), -1)
            out_t[b][:, keep] = att @ v_v[b]
    return out_v, out_t


# ------------------------------------------------------------------ references

@pytest.mark.parametrize('shape', [(2, 3, 5, 7, 4), (1, 2, 14, 14, 16), (2, 1, 1, 1, 1)])
def test_mfp_reference_matches_naive(shape):
    x, f = mfp_inputs(*shape)
    torch.testing.assert_close(multi_freq_pool_reference(x, f), naive_mfp(x, f))


def test_mfp_reference_grad_with_ties_matches_naive():
    x, f = mfp_inputs(2, 3, 6, 6, 3, ties=True)
    x.requires_grad_(True)
    assert_close_all(grads_of(multi_freq_pool_reference(x, f), [x]),
                     grads_of(naive_mfp(x, f), [x]))


@pytest.mark.parametrize('masked', [False, True])
@pytest.mark.parametrize('shape', [(2, 2, 7, 1, 8), (3, 2, 9, 5, 4)])
def test_attention_reference_matches_naive(shape, masked):
    qkv = attn_inputs(*shape)
    mask = text_mask(shape[0], shape[3]) if masked else None
    assert_close_all(bidirectional_attention_reference(*qkv, mask), naive_attention(*qkv, mask))


def test_attention_mask_semantics():
    qkv = attn_inputs(3, 2, 6, 5, 8)
    mask = text_mask(3, 5)
    out_v, out_t = bidirectional_attention_reference(*qkv, mask)
    # padded text tokens do not change the vision outputs
    changed = [t.clone() for t in qkv]
    for t in changed[3:]:
        t[~mask[:, None, :, None].expand_as(t)] = 100.0
    out_v2, out_t2 = bidirectional_attention_reference(*changed, mask)
    torch.testing.assert_close(out_v2, out_v)
    # padded text rows are zero; a batch element with no text token gives zero vision rows
    assert (out_t.permute(0, 2, 1, 3)[~mask] == 0).all()
    assert (out_v[1] == 0).all() and (out_t[1] == 0).all()
    assert torch.isfinite(out_v).all() and torch.isfinite(out_t).all()


def test_attention_reference_is_stable_for_large_logits():
    qkv = attn_inputs(1, 1, 5, 3, 4)
    qkv[0] = qkv[0] * 1e4
    qkv[3] = qkv[3] * 1e4
    out_v, out_t = bidirectional_attention_reference(*qkv)
    assert torch.isfinite(out_v).all() and torch.isfinite(out_t).all()


# ------------------------------------------------------- custom ops, PyTorch path

@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('kwargs', [dict(), dict(noncontiguous=True), dict(ties=True)])
def test_mfp_op_torch_path_matches_reference(backend, dtype, kwargs):
    backend('torch')
    x, f = mfp_inputs(2, 5, 6, 7, 3, dtype=dtype, **kwargs)
    x.requires_grad_(True)
    f.requires_grad_(True)
    out = OPS.multi_freq_pool(x, f)[0]
    ref = multi_freq_pool_reference(x, f)
    torch.testing.assert_close(out, ref)
    assert_close_all(grads_of(out, [x, f]), grads_of(ref, [x, f]))


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('masked', [False, True])
@pytest.mark.parametrize('shape,noncontig', [((2, 2, 7, 1, 8), False), ((3, 2, 9, 5, 4), True)])
def test_attention_op_torch_path_matches_reference(backend, dtype, masked, shape, noncontig):
    backend('torch')
    qkv = [t.requires_grad_(True) for t in attn_inputs(*shape, dtype=dtype,
                                                       noncontiguous=noncontig)]
    mask = text_mask(shape[0], shape[3]) if masked else None
    out = OPS.bidirectional_attention(*qkv, mask)[:2]
    ref = bidirectional_attention_reference(*qkv, mask)
    assert_close_all(out, ref)
    assert_close_all(grads_of(out, qkv), grads_of(ref, qkv))


def test_gradcheck_reference_and_torch_path(backend):
    backend('torch')
    x, f = mfp_inputs(1, 2, 3, 4, 2)
    x.requires_grad_(True)
    f.requires_grad_(True)
    assert torch.autograd.gradcheck(multi_freq_pool_reference, (x, f))
    assert torch.autograd.gradcheck(lambda a, b: OPS.multi_freq_pool(a, b)[0], (x, f))
    qkv = [t.requires_grad_(True) for t in attn_inputs(2, 1, 3, 2, 4)]
    mask = torch.tensor([[True, False], [True, True]])
    assert torch.autograd.gradcheck(
        lambda *t: bidirectional_attention_reference(*t, mask), qkv)
    assert torch.autograd.gradcheck(
        lambda *t: OPS.bidirectional_attention(*t, mask)[:2], qkv)


def test_opcheck_torch_path(backend):
    backend('torch')
    x, f = mfp_inputs(2, 3, 4, 5, 2)
    torch.library.opcheck(OPS.multi_freq_pool.default, (x.requires_grad_(True), f))
    qkv = [t.requires_grad_(True) for t in attn_inputs(2, 2, 5, 3, 4)]
    torch.library.opcheck(OPS.bidirectional_attention.default, (*qkv, text_mask(2, 3)))
    torch.library.opcheck(OPS.bidirectional_attention.default, (*qkv, None))


def test_empty_batch(backend):
    backend('torch')
    x, f = mfp_inputs(0, 3, 4, 4, 2)
    assert multi_freq_pool(x, f).shape == (0, 3, 3)
    assert OPS.multi_freq_pool(x, f)[0].shape == (0, 3, 3)
    qkv = attn_inputs(0, 2, 5, 3, 4)
    for out in (bidirectional_attention(*qkv), OPS.bidirectional_attention(*qkv, None)[:2]):
        assert out[0].shape == (0, 2, 5, 4) and out[1].shape == (0, 2, 3, 4)


def test_sdpa_path_matches_reference():
    for masked in (False, True):
        qkv = [t.requires_grad_(True) for t in attn_inputs(3, 2, 9, 5, 8)]
        mask = text_mask(3, 5) if masked else None
        out = bidirectional_attention_sdpa(*qkv, mask)
        ref = bidirectional_attention_reference(*qkv, mask)
        assert_close_all(out, ref)
        assert_close_all(grads_of(out, qkv), grads_of(ref, qkv))


def test_torch_compile_traces_public_functions(backend):
    backend('auto')
    x, f = mfp_inputs(2, 3, 4, 5, 2, dtype=torch.float32)
    qkv = attn_inputs(2, 2, 5, 3, 4, dtype=torch.float32)

    def fn(x, f, *qkv):
        a, b = bidirectional_attention(*qkv)
        return multi_freq_pool(x, f).sum() + a.sum() + b.sum()

    compiled = torch.compile(fn, backend='aot_eager', fullgraph=True)
    torch.testing.assert_close(compiled(x, f, *qkv), fn(x, f, *qkv))
    ops_fn = torch.compile(lambda x, f, *t: (OPS.multi_freq_pool(x, f)[0],
                                             *OPS.bidirectional_attention(*t, None)[:2]),
                           backend='aot_eager', fullgraph=True)
    assert_close_all(ops_fn(x, f, *qkv), (multi_freq_pool_reference(x, f),
                                          *bidirectional_attention_reference(*qkv)))


def test_invalid_arguments():
    x, f = mfp_inputs(1, 2, 4, 4, 2)
    with pytest.raises(ValueError, match='filters must be K×h×w'):
        multi_freq_pool(x, f[:, :3])
    with pytest.raises(ValueError, match='must match x'):
        multi_freq_pool(x, f.float())
    with pytest.raises(ValueError, match='x must be B×C×h×w'):
        multi_freq_pool(x[0], f)
    qkv = attn_inputs(2, 2, 5, 3, 4)
    with pytest.raises(ValueError, match='k_t has shape'):
        bidirectional_attention(*qkv[:4], qkv[4][:, :, :2], qkv[5])
    with pytest.raises(ValueError, match='text_mask must be a bool'):
        bidirectional_attention(*qkv, torch.ones(2, 3))
