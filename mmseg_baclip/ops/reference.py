"""Pure-PyTorch references of the custom ops.

These functions are the ground truth the Triton kernels are tested against. They use only
differentiable PyTorch operations, so autograd, double backward and ``torch.compile`` work on
them directly, on every device and dtype.
"""
import math
from typing import Optional, Tuple

import torch
from torch import Tensor


def multi_freq_pool_reference(x: Tensor, filters: Tensor) -> Tensor:
    """Multi-frequency spatial pooling of MFCA, reference implementation.

    For each of the K filters ``D_k`` the product ``x ⊙ D_k`` is pooled over space with mean,
    max and min; each statistic is then averaged over the K filters.

    The mean branch is linear, so it is computed as one contraction with the mean filter. The
    max/min branches loop over K, so the largest temporary has the size of ``x`` (never
    B×K×C×h×w). Ties in max/min share the gradient equally (``torch.amax`` semantics).

    Args:
        x (Tensor): Features, shape B×C×h×w.
        filters (Tensor): DCT filters, shape K×h×w, same dtype/device as ``x``.

    Returns:
        Tensor: Pooled statistics, shape B×3×C; index 0 = mean, 1 = max, 2 = min.
    """
    _check_mfp_args(x, filters)
    B, C, h, w = x.shape
    K = filters.shape[0]
    if B * C == 0:
        return x.new_zeros(B, 3, C)
    # mean_k mean_xy(x ⊙ D_k) = mean_xy(x ⊙ mean_k D_k): B×C×h×w, h×w -> B×C
    mean = torch.einsum('bchw,hw->bc', x, filters.mean(0)) / (h * w)
    mx = x.new_zeros(B, C)
    mn = x.new_zeros(B, C)
    for k in range(K):
        y = (x * filters[k]).flatten(2)  # B×C×(h·w)
        mx = mx + y.amax(dim=2)
        mn = mn + y.amin(dim=2)
    return torch.stack([mean, mx / K, mn / K], dim=1)  # B×3×C


def bidirectional_attention_reference(
        q_v: Tensor, k_v: Tensor, v_v: Tensor, q_t: Tensor, k_t: Tensor, v_t: Tensor,
        text_mask: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    """Two-way cross-attention of MREM, reference implementation.

    ``out_v = softmax(q_v k_tᵀ/√d) v_t`` (vision queries attend to text) and
    ``out_t = softmax(q_t k_vᵀ/√d) v_v`` (text queries attend to vision).

    Masking (``text_mask[b, n] = False`` marks a padded text token):
      * as a key, a padded token gets zero attention weight from every vision query; a vision
        query whose text tokens are all padded gets an output row of zeros;
      * as a query, a padded token's output row ``out_t[b, :, n]`` is zeros (and receives no
        gradient).

    Args:
        q_v, k_v, v_v (Tensor): Vision queries/keys/values, shape B×heads×L×d.
        q_t, k_t, v_t (Tensor): Text queries/keys/values, shape B×heads×N×d.
        text_mask (Tensor, optional): Bool, shape B×N, True = keep. None keeps all tokens.

    Returns:
        tuple[Tensor, Tensor]: ``out_v`` of shape B×heads×L×d and ``out_t`` of shape
        B×heads×N×d.
    """
    _check_attn_args(q_v, k_v, v_v, q_t, k_t, v_t, text_mask)
    scale = 1.0 / math.sqrt(q_v.shape[-1]) if q_v.shape[-1] > 0 else 1.0
    s_v = torch.matmul(q_v, k_t.transpose(-1, -2)) * scale  # B×h×L×N
    s_t = torch.matmul(q_t, k_v.transpose(-1, -2)) * scale  # B×h×N×L
    if text_mask is None:
        out_v = torch.matmul(torch.softmax(s_v, dim=-1), v_t)
        out_t = torch.matmul(torch.softmax(s_t, dim=-1), v_v)
        return out_v, out_t
    keep = text_mask[:, None, None, :]  # B×1×1×N, broadcast over heads and vision queries
    s_v = s_v.masked_fill(~keep, float('-inf'))
    # A row with every key masked would be NaN: give it weight 0 everywhere instead.
    p_v = torch.softmax(s_v, dim=-1).masked_fill(~keep, 0.0)
    out_v = torch.matmul(p_v, v_t)  # B×h×L×d
    out_t = torch.matmul(torch.softmax(s_t, dim=-1), v_v)  # B×h×N×d
    out_t = out_t * text_mask[:, None, :, None].to(out_t.dtype)  # zero padded query rows
    return out_v, out_t


def _check_mfp_args(x: Tensor, filters: Tensor) -> None:
    if x.dim() != 4:
        raise ValueError(f'multi_freq_pool: x must be B×C×h×w, got shape {tuple(x.shape)}')
    if filters.dim() != 3 or tuple(filters.shape[1:]) != tuple(x.shape[2:]):
        raise ValueError(
            f'multi_freq_pool: filters must be K×h×w with h×w = {tuple(x.shape[2:])} '
            f'(pool x to the DCT tile first), got shape {tuple(filters.shape)}')
    if filters.shape[0] == 0 or x.shape[2] * x.shape[3] == 0:
        raise ValueError(f'multi_freq_pool: need at least one filter and a non-empty tile, got '
                         f'x {tuple(x.shape)} and filters {tuple(filters.shape)}')
    if filters.dtype != x.dtype or filters.device != x.device:
        raise ValueError(
            f'multi_freq_pool: filters ({filters.dtype}, {filters.device}) must match x '
            f'({x.dtype}, {x.device}); cast the buffer with .to(x)')


def _check_attn_args(q_v: Tensor, k_v: Tensor, v_v: Tensor, q_t: Tensor, k_t: Tensor,
                     v_t: Tensor, text_mask: Optional[Tensor]) -> None:
    names = ('q_v', 'k_v', 'v_v', 'q_t', 'k_t', 'v_t')
    ts = (q_v, k_v, v_v, q_t, k_t, v_t)
    for n, t in zip(names, ts):
        if t.dim() != 4:
            raise ValueError(
                f'bidirectional_attention: {n} must be B×heads×tokens×d, got {tuple(t.shape)}')
        if t.dtype != q_v.dtype or t.device != q_v.device:
            raise ValueError(f'bidirectional_attention: {n} is {t.dtype} on {t.device}, '
                             f'q_v is {q_v.dtype} on {q_v.device}; all six must match')
    B, H, L, d = q_v.shape
    N = q_t.shape[2]
    for n, t, tokens in zip(names, ts, (L, L, L, N, N, N)):
        if tuple(t.shape) != (B, H, tokens, d):
            raise ValueError(f'bidirectional_attention: {n} has shape {tuple(t.shape)}, '
                             f'expected {(B, H, tokens, d)} (from q_v {tuple(q_v.shape)} '
                             f'and q_t {tuple(q_t.shape)})')
    if text_mask is not None:
        if text_mask.dtype != torch.bool or tuple(text_mask.shape) != (B, N):
            raise ValueError(f'bidirectional_attention: text_mask must be a bool tensor of '
                             f'shape {(B, N)}, got {text_mask.dtype} {tuple(text_mask.shape)}')
        if text_mask.device != q_v.device:
            raise ValueError(f'bidirectional_attention: text_mask is on {text_mask.device}, '
                             f'the inputs on {q_v.device}')
