"""``bidirectional_attention``: MREM's two-way cross-attention as a custom op.

Registered ops (namespace ``mmseg_baclip``):

* ``bidirectional_attention(q_v, k_v, v_v, q_t, k_t, v_t, Tensor? text_mask)
  -> (out_v, out_t, lse_v, lse_t)``
* ``bidirectional_attention_backward(grad_v, grad_t, q_v, k_v, v_v, q_t, k_t, v_t, out_v,
  out_t, lse_v, lse_t, Tensor? text_mask) -> (dq_v, dk_v, dv_v, dq_t, dk_t, dv_t)``

Both have fake implementations and the forward has an autograd formula. Each runs the Triton
kernel where it can and an explicit PyTorch (log-sum-exp) formula otherwise. The public
:func:`bidirectional_attention` may also take the reference or an SDPA-based path.
"""
import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ._backend import (CUDA_KERNEL_DTYPES, kernels_supported, load_kernels, requested_backend,
                       resolve_backend)
from .reference import _check_attn_args, bidirectional_attention_reference

_Outputs = Tuple[Tensor, Tensor, Tensor, Tensor]


def _acc(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def _use_kernels(q_v: Tensor, q_t: Tensor) -> bool:
    if q_v.numel() == 0 or q_t.numel() == 0:  # some of B, heads, L, N, d is 0
        return False
    if requested_backend() == 'torch' or not kernels_supported(q_v.device):
        return False
    return q_v.device.type != 'cuda' or q_v.dtype in CUDA_KERNEL_DTYPES


def _direction_forward(q: Tensor, k: Tensor, v: Tensor, kmask: Optional[Tensor],
                       qmask: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
    """softmax(q kᵀ/√d) v with its row log-sum-exp (+inf where a row has no key / is masked).

    Args:
        q (Tensor): B×h×M×d. k, v (Tensor): B×h×Nk×d.
        kmask (Tensor, optional): B×Nk bool keys to keep. qmask (Tensor, optional): B×M bool.

    Returns:
        tuple[Tensor, Tensor]: output B×h×M×d (accumulator dtype), lse B×h×M.
    """
    acc = _acc(q.dtype)
    scale = 1.0 / math.sqrt(q.shape[-1]) if q.shape[-1] else 1.0
    s = torch.matmul(q.to(acc), k.to(acc).transpose(-1, -2)) * scale  # B×h×M×Nk
    if kmask is not None:
        s = s.masked_fill(~kmask[:, None, None, :], float('-inf'))
    lse = torch.logsumexp(s, dim=-1) if s.shape[-1] else s.new_full(s.shape[:-1], float('-inf'))
    lse = lse.masked_fill(lse == float('-inf'), float('inf'))
    if qmask is not None:
        lse = lse.masked_fill(~qmask[:, None, :], float('inf'))
    p = torch.exp(s - lse[..., None])  # 0 for masked keys, key-less and masked rows
    return torch.matmul(p, v.to(acc)), lse


def _direction_backward(g: Tensor, q: Tensor, k: Tensor, v: Tensor, o: Tensor, lse: Tensor,
                        kmask: Optional[Tensor],
                        qmask: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
    """Gradients (dq, dk, dv) of one direction, recomputing p from the saved lse."""
    acc = _acc(q.dtype)
    scale = 1.0 / math.sqrt(q.shape[-1]) if q.shape[-1] else 1.0
    qa, ka, va, oa, ga = (t.to(acc) for t in (q, k, v, o, g))
    if qmask is not None:
        ga = ga * qmask[:, None, :, None].to(acc)
    s = torch.matmul(qa, ka.transpose(-1, -2)) * scale  # B×h×M×Nk
    p = torch.exp(s - lse[..., None])
    if kmask is not None:
        p = p.masked_fill(~kmask[:, None, None, :], 0.0)
    dv = torch.matmul(p.transpose(-1, -2), ga)  # B×h×Nk×d
    dp = torch.matmul(ga, va.transpose(-1, -2))  # B×h×M×Nk
    ds = p * (dp - (ga * oa).sum(-1, keepdim=True))
    dq = torch.matmul(ds, ka) * scale
    dk = torch.matmul(ds.transpose(-1, -2), qa) * scale
    return dq.to(q.dtype), dk.to(q.dtype), dv.to(q.dtype)


@torch.library.custom_op('mmseg_baclip::bidirectional_attention', mutates_args=())
def bidirectional_attention_op(q_v: Tensor, k_v: Tensor, v_v: Tensor, q_t: Tensor, k_t: Tensor,
                               v_t: Tensor, text_mask: Optional[Tensor]) -> _Outputs:
    """Custom op: both attention directions and their row log-sum-exps.

    Args:
        q_v, k_v, v_v (Tensor): B×h×L×d. q_t, k_t, v_t (Tensor): B×h×N×d.
        text_mask (Tensor, optional): B×N bool, True = keep.

    Returns:
        tuple: ``out_v`` B×h×L×d, ``out_t`` B×h×N×d (contiguous), ``lse_v`` B×h×L and
        ``lse_t`` B×h×N (float32, float64 for float64 inputs).
    """
    if _use_kernels(q_v, q_t):
        return load_kernels().attn_forward(q_v, k_v, v_v, q_t, k_t, v_t, text_mask)
    out_v, lse_v = _direction_forward(q_v, k_t, v_t, text_mask, None)
    out_t, lse_t = _direction_forward(q_t, k_v, v_v, None, text_mask)
    return out_v.to(q_v.dtype), out_t.to(q_v.dtype), lse_v, lse_t


@bidirectional_attention_op.register_fake
def _(q_v, k_v, v_v, q_t, k_t, v_t, text_mask) -> _Outputs:
    acc = _acc(q_v.dtype)
    return (q_v.new_empty(q_v.shape), q_t.new_empty(q_t.shape),
            q_v.new_empty(q_v.shape[:3], dtype=acc), q_t.new_empty(q_t.shape[:3], dtype=acc))


@torch.library.custom_op('mmseg_baclip::bidirectional_attention_backward', mutates_args=())
def bidirectional_attention_backward_op(
        grad_v: Tensor, grad_t: Tensor, q_v: Tensor, k_v: Tensor, v_v: Tensor, q_t: Tensor,
        k_t: Tensor, v_t: Tensor, out_v: Tensor, out_t: Tensor, lse_v: Tensor, lse_t: Tensor,
        text_mask: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Custom op: gradients of :func:`bidirectional_attention_op`.

    Returns:
        tuple: grads of ``q_v, k_v, v_v`` (B×h×L×d) and ``q_t, k_t, v_t`` (B×h×N×d).
    """
    if _use_kernels(q_v, q_t):
        return load_kernels().attn_backward(grad_v, grad_t, q_v, k_v, v_v, q_t, k_t, v_t, out_v,
                                            out_t, lse_v, lse_t, text_mask)
    dq_v, dk_t, dv_t = _direction_backward(grad_v, q_v, k_t, v_t, out_v, lse_v, text_mask, None)
    dq_t, dk_v, dv_v = _direction_backward(grad_t, q_t, k_v, v_v, out_t, lse_t, None, text_mask)
    return dq_v, dk_v, dv_v, dq_t, dk_t, dv_t


@bidirectional_attention_backward_op.register_fake
def _(grad_v, grad_t, q_v, k_v, v_v, q_t, k_t, v_t, out_v, out_t, lse_v, lse_t, text_mask):
    return tuple(t.new_empty(t.shape) for t in (q_v, k_v, v_v, q_t, k_t, v_t))


def _setup_context(ctx, inputs, output) -> None:
    q_v, k_v, v_v, q_t, k_t, v_t, text_mask = inputs
    out_v, out_t, lse_v, lse_t = output
    ctx.mark_non_differentiable(lse_v, lse_t)
    ctx.save_for_backward(q_v, k_v, v_v, q_t, k_t, v_t, out_v, out_t, lse_v, lse_t, text_mask)


def _backward(ctx, grad_v: Tensor, grad_t: Tensor, _g_lse_v, _g_lse_t):
    q_v, k_v, v_v, q_t, k_t, v_t, out_v, out_t, lse_v, lse_t, text_mask = ctx.saved_tensors
    if grad_v is None:
        grad_v = torch.zeros_like(out_v)
    if grad_t is None:
        grad_t = torch.zeros_like(out_t)
    grads = torch.ops.mmseg_baclip.bidirectional_attention_backward(
        grad_v, grad_t, q_v, k_v, v_v, q_t, k_t, v_t, out_v, out_t, lse_v, lse_t, text_mask)
    return (*grads, None)


bidirectional_attention_op.register_autograd(_backward, setup_context=_setup_context)


class _BidirectionalAttentionKernels(torch.autograd.Function):
    """Eager fast path: the same kernels under a plain ``autograd.Function``.

    At MREM sizes the kernels take microseconds, so the registered op's extra Python dispatch
    layers would dominate; eager calls come here and ``torch.compile`` traces the op.
    """

    @staticmethod
    def forward(ctx, q_v, k_v, v_v, q_t, k_t, v_t, text_mask):
        out_v, out_t, lse_v, lse_t = load_kernels().attn_forward(q_v, k_v, v_v, q_t, k_t, v_t,
                                                                 text_mask)
        ctx.save_for_backward(q_v, k_v, v_v, q_t, k_t, v_t, out_v, out_t, lse_v, lse_t,
                              text_mask)
        return out_v, out_t

    @staticmethod
    def backward(ctx, grad_v, grad_t):
        q_v, k_v, v_v, q_t, k_t, v_t, out_v, out_t, lse_v, lse_t, text_mask = ctx.saved_tensors
        grad_v = torch.zeros_like(out_v) if grad_v is None else grad_v
        grad_t = torch.zeros_like(out_t) if grad_t is None else grad_t
        grads = load_kernels().attn_backward(grad_v, grad_t, q_v, k_v, v_v, q_t, k_t, v_t, out_v,
                                             out_t, lse_v, lse_t, text_mask)
        return (*grads, None)


def bidirectional_attention_sdpa(
        q_v: Tensor, k_v: Tensor, v_v: Tensor, q_t: Tensor, k_t: Tensor, v_t: Tensor,
        text_mask: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    """The same computation built on ``F.scaled_dot_product_attention`` (two calls).

    Same arguments, results and masking convention as :func:`bidirectional_attention`.
    """
    if text_mask is None:
        return (F.scaled_dot_product_attention(q_v, k_t, v_t),
                F.scaled_dot_product_attention(q_t, k_v, v_v))
    has_key = text_mask.any(dim=1)  # B
    # a batch element with every text token padded attends to all of them, then is zeroed,
    # so SDPA never sees a fully masked row (NaN in forward and backward)
    keep = text_mask | ~has_key[:, None]  # B×N
    out_v = F.scaled_dot_product_attention(q_v, k_t, v_t, attn_mask=keep[:, None, None, :])
    out_v = out_v * has_key[:, None, None, None].to(out_v.dtype)
    out_t = F.scaled_dot_product_attention(q_t, k_v, v_v)
    out_t = out_t * text_mask[:, None, :, None].to(out_t.dtype)
    return out_v, out_t


def bidirectional_attention(
        q_v: Tensor, k_v: Tensor, v_v: Tensor, q_t: Tensor, k_t: Tensor, v_t: Tensor,
        text_mask: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    """Vision→text and text→vision cross-attention in one call (MREM).

    ``out_v = softmax(q_v k_tᵀ/√d) v_t`` and ``out_t = softmax(q_t k_vᵀ/√d) v_v``, numerically
    stable (log-sum-exp) for any L, N, d. Masking (``text_mask[b, n] = False`` = padded token):
    a padded token gets no attention from vision queries (a vision query with no valid token
    gets a zero row), and a padded token's own row of ``out_t`` is zero and passes no gradient.

    The backend is chosen per call (see :mod:`mmseg_baclip.ops._backend`): on CUDA the Triton
    kernel (or the SDPA path if that is the faster default), elsewhere the PyTorch reference,
    or as forced by ``BACLIP_OPS_BACKEND``.

    Args:
        q_v, k_v, v_v (Tensor): Vision queries/keys/values, B×heads×L×d (any strides).
        q_t, k_t, v_t (Tensor): Text queries/keys/values, B×heads×N×d (any strides).
        text_mask (Tensor, optional): B×N bool, True = keep. Default: keep all.

    Returns:
        tuple[Tensor, Tensor]: ``out_v`` B×heads×L×d and ``out_t`` B×heads×N×d.
    """
    _check_attn_args(q_v, k_v, v_v, q_t, k_t, v_t, text_mask)
    backend = resolve_backend('bidirectional_attention', q_v.device, q_v.dtype)
    if backend == 'torch' or (backend == 'sdpa' and (q_v.numel() == 0 or q_t.numel() == 0)):
        return bidirectional_attention_reference(q_v, k_v, v_v, q_t, k_t, v_t, text_mask)
    if backend == 'sdpa':
        return bidirectional_attention_sdpa(q_v, k_v, v_v, q_t, k_t, v_t, text_mask)
    if not torch.compiler.is_compiling() and _use_kernels(q_v, q_t):
        return _BidirectionalAttentionKernels.apply(q_v, k_v, v_v, q_t, k_t, v_t, text_mask)
    out_v, out_t, _, _ = torch.ops.mmseg_baclip.bidirectional_attention(
        q_v, k_v, v_v, q_t, k_t, v_t, text_mask)
    return out_v, out_t
