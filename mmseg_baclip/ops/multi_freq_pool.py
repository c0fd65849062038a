"""``multi_freq_pool``: the DCT multi-frequency pooling of MFCA as a custom op.

Registered ops (namespace ``mmseg_baclip``):

* ``multi_freq_pool(Tensor x, Tensor filters) -> (Tensor out, Tensor stats)``
* ``multi_freq_pool_backward(Tensor grad_out, Tensor x, Tensor filters, Tensor stats) -> Tensor``

Both have fake implementations (``torch.compile``) and the forward has an autograd formula
(gradients for ``x`` through the backward op; for ``filters``, when asked, in plain PyTorch).
Each op runs the Triton kernel where :func:`~._backend.kernels_supported` says it can and an
explicit PyTorch formula otherwise, so it works on every device.
"""
from typing import Tuple

import torch
from torch import Tensor

from ._backend import (CUDA_KERNEL_DTYPES, kernels_supported, load_kernels, requested_backend,
                       resolve_backend)
from .reference import _check_mfp_args, multi_freq_pool_reference


def _acc(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def _use_kernels(x: Tensor) -> bool:
    if x.numel() == 0 or requested_backend() == 'torch' or not kernels_supported(x.device):
        return False
    return x.device.type != 'cuda' or x.dtype in CUDA_KERNEL_DTYPES


def _filters_flat(filters: Tensor, acc: torch.dtype) -> Tensor:
    return filters.to(acc).reshape(filters.shape[0], -1)  # K×HW


def _forward_torch(x: Tensor, filters: Tensor) -> Tuple[Tensor, Tensor]:
    """Explicit PyTorch forward, same outputs as the kernel (see :func:`multi_freq_pool_op`)."""
    B, C, h, w = x.shape
    K = filters.shape[0]
    acc = _acc(x.dtype)
    xf = x.to(acc).reshape(B, C, h * w)  # B×C×HW
    f = _filters_flat(filters, acc)
    stats = xf.new_zeros(B, 4, K, C)
    for k in range(K):
        y = xf * f[k]  # B×C×HW
        mx = y.amax(dim=2) if y.numel() else xf.new_zeros(B, C)
        mn = y.amin(dim=2) if y.numel() else xf.new_zeros(B, C)
        stats[:, 0, k] = mx
        stats[:, 1, k] = mn
        stats[:, 2, k] = (y == mx[..., None]).sum(2).to(acc)
        stats[:, 3, k] = (y == mn[..., None]).sum(2).to(acc)
    mean = torch.matmul(xf, f.mean(0)) / (h * w)  # B×C
    out = torch.stack([mean, stats[:, 0].mean(1), stats[:, 1].mean(1)], dim=1)  # B×3×C
    return out.to(x.dtype), stats


def _grad_coefficients(grad_out: Tensor, xf: Tensor, f: Tensor, stats: Tensor, k: int) -> Tensor:
    """d out_max/min / d y_k for filter k, B×C×HW: ties share the gradient equally."""
    K = f.shape[0]
    g_max = grad_out[:, 1] / (K * stats[:, 2, k])  # B×C
    g_min = grad_out[:, 2] / (K * stats[:, 3, k])
    y = xf * f[k]
    return ((y == stats[:, 0, k, :, None]) * g_max[..., None] +
            (y == stats[:, 1, k, :, None]) * g_min[..., None])


def _backward_torch(grad_out: Tensor, x: Tensor, filters: Tensor, stats: Tensor) -> Tensor:
    """Explicit PyTorch gradient w.r.t. ``x`` (B×C×h×w, contiguous)."""
    B, C, h, w = x.shape
    acc = _acc(x.dtype)
    xf = x.to(acc).reshape(B, C, h * w)
    f = _filters_flat(filters, acc)
    g = grad_out.to(acc)
    gx = (g[:, 0] / (h * w))[..., None] * f.mean(0)  # B×C×HW
    for k in range(f.shape[0]):
        gx = gx + _grad_coefficients(g, xf, f, stats, k) * f[k]
    return gx.reshape(B, C, h, w).to(x.dtype)


def _grad_filters_torch(grad_out: Tensor, x: Tensor, filters: Tensor, stats: Tensor) -> Tensor:
    """Gradient w.r.t. ``filters`` (K×h×w); rarely needed (the DCT filters are fixed)."""
    B, C, h, w = x.shape
    K = filters.shape[0]
    acc = _acc(x.dtype)
    xf = x.to(acc).reshape(B, C, h * w)
    f = _filters_flat(filters, acc)
    g = grad_out.to(acc)
    base = torch.einsum('bc,bcs->s', g[:, 0], xf) / (h * w * K)  # HW
    gf = torch.stack([
        base + torch.einsum('bcs,bcs->s', _grad_coefficients(g, xf, f, stats, k), xf)
        for k in range(K)
    ]) if K else f.new_zeros(0, h * w)
    return gf.reshape(K, h, w).to(filters.dtype)


@torch.library.custom_op('mmseg_baclip::multi_freq_pool', mutates_args=())
def multi_freq_pool_op(x: Tensor, filters: Tensor) -> Tuple[Tensor, Tensor]:
    """Custom op: multi-frequency pooling and the statistics its backward needs.

    Args:
        x (Tensor): B×C×h×w, any strides.
        filters (Tensor): K×h×w, same dtype and device as ``x``.

    Returns:
        tuple[Tensor, Tensor]: ``out`` B×3×C (mean, max, min averaged over the K filters;
        dtype of x) and ``stats`` B×4×K×C (float32, float64 for float64 x): per-filter spatial
        max and min of x ⊙ D_k and how many positions attain each.
    """
    if _use_kernels(x):
        return load_kernels().mfp_forward(x, filters)
    return _forward_torch(x, filters)


@multi_freq_pool_op.register_fake
def _(x: Tensor, filters: Tensor) -> Tuple[Tensor, Tensor]:
    B, C = x.shape[:2]
    return x.new_empty(B, 3, C), x.new_empty(B, 4, filters.shape[0], C, dtype=_acc(x.dtype))


@torch.library.custom_op('mmseg_baclip::multi_freq_pool_backward', mutates_args=())
def multi_freq_pool_backward_op(grad_out: Tensor, x: Tensor, filters: Tensor,
                                stats: Tensor) -> Tensor:
    """Custom op: gradient of ``multi_freq_pool`` w.r.t. ``x``.

    Args:
        grad_out (Tensor): B×3×C.
        x (Tensor): B×C×h×w.
        filters (Tensor): K×h×w.
        stats (Tensor): B×4×K×C, from the forward op.

    Returns:
        Tensor: B×C×h×w, contiguous.
    """
    if _use_kernels(x):
        return load_kernels().mfp_backward(grad_out, x, filters, stats)
    return _backward_torch(grad_out, x, filters, stats)


@multi_freq_pool_backward_op.register_fake
def _(grad_out: Tensor, x: Tensor, filters: Tensor, stats: Tensor) -> Tensor:
    return x.new_empty(x.shape)


def _setup_context(ctx, inputs, output) -> None:
    x, filters = inputs
    _, stats = output
    ctx.mark_non_differentiable(stats)
    ctx.save_for_backward(x, filters, stats)


def _backward(ctx, grad_out: Tensor, _grad_stats: Tensor):
    x, filters, stats = ctx.saved_tensors
    grad_x = grad_filters = None
    if ctx.needs_input_grad[0]:
        grad_x = torch.ops.mmseg_baclip.multi_freq_pool_backward(grad_out, x, filters, stats)
    if ctx.needs_input_grad[1]:
        grad_filters = _grad_filters_torch(grad_out, x, filters, stats)
    return grad_x, grad_filters


multi_freq_pool_op.register_autograd(_backward, setup_context=_setup_context)


class _MultiFreqPoolKernels(torch.autograd.Function):
    """Eager fast path: the same kernels under a plain ``autograd.Function``.

    At MFCA sizes the kernels take microseconds, so the registered op's extra Python dispatch
    layers would dominate; eager calls come here and ``torch.compile`` traces the op.
    """

    @staticmethod
    def forward(ctx, x: Tensor, filters: Tensor) -> Tensor:
        out, stats = load_kernels().mfp_forward(x, filters)
        ctx.save_for_backward(x, filters, stats)
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x, filters, stats = ctx.saved_tensors
        grad_x = grad_filters = None
        if ctx.needs_input_grad[0]:
            grad_x = load_kernels().mfp_backward(grad_out, x, filters, stats)
        if ctx.needs_input_grad[1]:
            grad_filters = _grad_filters_torch(grad_out, x, filters, stats)
        return grad_x, grad_filters


def multi_freq_pool(x: Tensor, filters: Tensor) -> Tensor:
    """Mean, max and min over space of ``x ⊙ D_k``, each averaged over the K filters.

    ``out[b, 0, c] = (1/K) Σ_k mean_xy(x[b, c] ⊙ D_k)``, index 1 the same with max, index 2
    with min (MFCA's pooling). Differentiable w.r.t. ``x`` (and ``filters``). The backend is
    chosen per call (see :mod:`mmseg_baclip.ops._backend`): Triton kernel on CUDA, the
    PyTorch reference elsewhere, or as forced by ``BACLIP_OPS_BACKEND``. Ties in max/min
    share the gradient equally, like ``torch.amax``.

    Args:
        x (Tensor): Features pooled to the DCT tile, shape B×C×h×w (any strides).
        filters (Tensor): DCT filters, shape K×h×w, same dtype and device as ``x``.

    Returns:
        Tensor: B×3×C, dtype of ``x`` (kernels accumulate in float32).
    """
    _check_mfp_args(x, filters)
    if resolve_backend('multi_freq_pool', x.device, x.dtype) == 'torch':
        return multi_freq_pool_reference(x, filters)
    if not torch.compiler.is_compiling() and _use_kernels(x):
        return _MultiFreqPoolKernels.apply(x, filters)
    return torch.ops.mmseg_baclip.multi_freq_pool(x, filters)[0]
