"""Triton kernels of the custom ops (imported lazily: only when a Triton path is taken).

``triton.jit`` decides at decoration time whether a kernel is compiled for the GPU or run by
Triton's interpreter on CPU tensors (``TRITON_INTERPRET=1``), so the mode is fixed when this
module is first imported; :data:`INTERPRETED` records it and ``_backend`` refuses to mix modes.

Kernels compute in float32 (float64 for float64 inputs, interpreter only) and accept arbitrary
strides, so non-contiguous inputs are read in place.
"""
from typing import Optional, Tuple

import torch
import triton
import triton.language as tl
from torch import Tensor

from ._backend import interpret_requested

INTERPRETED: bool = interpret_requested()

# --------------------------------------------------------------------------------------------
# multi_freq_pool
# --------------------------------------------------------------------------------------------


@triton.jit
def _mfp_fwd_kernel(x_ptr, f_ptr, out_ptr, stats_ptr, C, HW, W, K, num_cblocks,
                    sxb, sxc, sxh, sxw, BLOCK_C: tl.constexpr, BLOCK_HW: tl.constexpr,
                    BLOCK_K: tl.constexpr, ACC: tl.constexpr):
    """One program = one batch element × BLOCK_C channels; x is read once, in HW chunks.

    out[b, 0/1/2, c] = mean_k mean/max/min_xy (x ⊙ D_k); stats[b, 0/1, k, c] = max/min_xy of
    x ⊙ D_k, stats[b, 2/3, k, c] = how many positions attain them (for the backward).
    """
    pid = tl.program_id(0)
    b = pid // num_cblocks
    cb = pid % num_cblocks
    offs_c = cb * BLOCK_C + tl.arange(0, BLOCK_C)
    cmask = offs_c < C
    offs_k = tl.arange(0, BLOCK_K)
    x_base = x_ptr + b.to(tl.int64) * sxb
    total = tl.zeros([BLOCK_C], dtype=ACC)
    mx = tl.full([BLOCK_C, BLOCK_K], float('-inf'), dtype=ACC)
    mn = tl.full([BLOCK_C, BLOCK_K], float('inf'), dtype=ACC)
    nmx = tl.zeros([BLOCK_C, BLOCK_K], dtype=ACC)
    nmn = tl.zeros([BLOCK_C, BLOCK_K], dtype=ACC)
    for hw0 in range(0, HW, BLOCK_HW):
        offs_hw = hw0 + tl.arange(0, BLOCK_HW)
        hwmask = offs_hw < HW
        sp = (offs_hw // W) * sxh + (offs_hw % W) * sxw
        x = tl.load(x_base + offs_c[:, None] * sxc + sp[None, :],
                    mask=cmask[:, None] & hwmask[None, :], other=0.0).to(ACC)
        fsum = tl.zeros([BLOCK_HW], dtype=ACC)  # Σ_k D_k on this chunk
        for k in range(0, K):
            d = tl.load(f_ptr + k * HW + offs_hw, mask=hwmask, other=0.0).to(ACC)
            fsum += d
            y = x * d[None, :]
            y_hi = tl.where(hwmask[None, :], y, float('-inf'))
            y_lo = tl.where(hwmask[None, :], y, float('inf'))
            bmx = tl.max(y_hi, axis=1)[:, None]  # BLOCK_C×1
            bmn = tl.min(y_lo, axis=1)[:, None]
            cmx = tl.sum((y_hi == bmx).to(ACC), axis=1)[:, None]
            cmn = tl.sum((y_lo == bmn).to(ACC), axis=1)[:, None]
            sel = offs_k[None, :] == k  # 1×BLOCK_K: column k of the accumulators
            nmx = tl.where(sel & (bmx > mx), cmx, tl.where(sel & (bmx == mx), nmx + cmx, nmx))
            nmn = tl.where(sel & (bmn < mn), cmn, tl.where(sel & (bmn == mn), nmn + cmn, nmn))
            mx = tl.where(sel, tl.maximum(mx, bmx), mx)
            mn = tl.where(sel, tl.minimum(mn, bmn), mn)
        total += tl.sum(x * fsum[None, :], axis=1)
    kvalid = offs_k[None, :] < K
    out_base = out_ptr + b.to(tl.int64) * 3 * C
    odt = out_ptr.dtype.element_ty
    tl.store(out_base + offs_c, (total / (HW * K)).to(odt), mask=cmask)
    tl.store(out_base + C + offs_c, (tl.sum(tl.where(kvalid, mx, 0.0), axis=1) / K).to(odt),
             mask=cmask)
    tl.store(out_base + 2 * C + offs_c,
             (tl.sum(tl.where(kvalid, mn, 0.0), axis=1) / K).to(odt), mask=cmask)
    st_base = stats_ptr + b.to(tl.int64) * 4 * K * C
    st_off = offs_k[None, :] * C + offs_c[:, None]  # BLOCK_C×BLOCK_K
    st_mask = cmask[:, None] & kvalid
    tl.store(st_base + st_off, mx, mask=st_mask)
    tl.store(st_base + K * C + st_off, mn, mask=st_mask)
    tl.store(st_base + 2 * K * C + st_off, nmx, mask=st_mask)
    tl.store(st_base + 3 * K * C + st_off, nmn, mask=st_mask)


@triton.jit
def _mfp_bwd_kernel(g_ptr, x_ptr, f_ptr, stats_ptr, gx_ptr, C, HW, W, K, num_cblocks,
                    sxb, sxc, sxh, sxw, BLOCK_C: tl.constexpr, BLOCK_HW: tl.constexpr,
                    ACC: tl.constexpr):
    """grad_x = (1/K)Σ_k D_k·(g_mean/HW + g_max·[y_k = max_k]/n_max,k + same for min).

    Ties share the gradient equally (``torch.amax`` semantics); y_k = x ⊙ D_k is recomputed
    exactly as in the forward, so the equality tests see the same values.
    """
    pid = tl.program_id(0)
    b = pid // num_cblocks
    cb = pid % num_cblocks
    offs_c = cb * BLOCK_C + tl.arange(0, BLOCK_C)
    cmask = offs_c < C
    b64 = b.to(tl.int64)
    g_base = g_ptr + b64 * 3 * C
    g_mean = tl.load(g_base + offs_c, mask=cmask, other=0.0).to(ACC) / (HW * K)
    g_max = tl.load(g_base + C + offs_c, mask=cmask, other=0.0).to(ACC) / K
    g_min = tl.load(g_base + 2 * C + offs_c, mask=cmask, other=0.0).to(ACC) / K
    x_base = x_ptr + b64 * sxb
    st_base = stats_ptr + b64 * 4 * K * C
    gx_base = gx_ptr + b64 * C * HW
    for hw0 in range(0, HW, BLOCK_HW):
        offs_hw = hw0 + tl.arange(0, BLOCK_HW)
        hwmask = offs_hw < HW
        m2 = cmask[:, None] & hwmask[None, :]
        sp = (offs_hw // W) * sxh + (offs_hw % W) * sxw
        x = tl.load(x_base + offs_c[:, None] * sxc + sp[None, :], mask=m2, other=0.0).to(ACC)
        gx = tl.zeros([BLOCK_C, BLOCK_HW], dtype=ACC)
        for k in range(0, K):
            d = tl.load(f_ptr + k * HW + offs_hw, mask=hwmask, other=0.0).to(ACC)
            y = x * d[None, :]
            kmx = tl.load(st_base + k * C + offs_c, mask=cmask, other=0.0)
            kmn = tl.load(st_base + (K + k) * C + offs_c, mask=cmask, other=0.0)
            nmx = tl.load(st_base + (2 * K + k) * C + offs_c, mask=cmask, other=1.0)
            nmn = tl.load(st_base + (3 * K + k) * C + offs_c, mask=cmask, other=1.0)
            coef = (g_mean[:, None] + tl.where(y == kmx[:, None], (g_max / nmx)[:, None], 0.0) +
                    tl.where(y == kmn[:, None], (g_min / nmn)[:, None], 0.0))
            gx += coef * d[None, :]
        tl.store(gx_base + offs_c[:, None] * HW + offs_hw[None, :],
                 gx.to(gx_ptr.dtype.element_ty), mask=m2)


def _acc_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def _tl_dtype(dtype: torch.dtype):
    return tl.float64 if dtype == torch.float64 else tl.float32


def _mfp_blocks(C: int, HW: int) -> Tuple[int, int]:
    block_hw = min(triton.next_power_of_2(HW), 256)
    block_c = max(1, min(triton.next_power_of_2(C), 4096 // block_hw, 16))
    return block_c, block_hw


def mfp_forward(x: Tensor, filters: Tensor) -> Tuple[Tensor, Tensor]:
    """Kernel forward of ``multi_freq_pool``.

    Args:
        x (Tensor): B×C×h×w, any strides.
        filters (Tensor): K×h×w.

    Returns:
        tuple[Tensor, Tensor]: ``out`` B×3×C (dtype of x) and ``stats`` B×4×K×C (float32, or
        float64 for float64 x): per-filter max, min and their tie counts.
    """
    B, C, h, w = x.shape
    K = filters.shape[0]
    acc = _acc_dtype(x.dtype)
    f = filters.contiguous()  # K×h×w, read as K×HW
    out = torch.empty(B, 3, C, dtype=x.dtype, device=x.device)
    stats = torch.empty(B, 4, K, C, dtype=acc, device=x.device)
    block_c, block_hw = _mfp_blocks(C, h * w)
    ncb = triton.cdiv(C, block_c)
    _mfp_fwd_kernel[(B * ncb, )](
        x, f, out, stats, C, h * w, w, K, ncb, *x.stride(), BLOCK_C=block_c,
        BLOCK_HW=block_hw, BLOCK_K=max(triton.next_power_of_2(K), 1), ACC=_tl_dtype(x.dtype))
    return out, stats


def mfp_backward(grad_out: Tensor, x: Tensor, filters: Tensor, stats: Tensor) -> Tensor:
    """Kernel backward of ``multi_freq_pool`` w.r.t. ``x``.

    Args:
        grad_out (Tensor): B×3×C.
        x (Tensor): B×C×h×w, any strides.
        filters (Tensor): K×h×w.
        stats (Tensor): B×4×K×C from :func:`mfp_forward`.

    Returns:
        Tensor: grad of x, B×C×h×w, contiguous.
    """
    B, C, h, w = x.shape
    K = filters.shape[0]
    f = filters.contiguous()
    gx = torch.empty(B, C, h, w, dtype=x.dtype, device=x.device)
    block_c, block_hw = _mfp_blocks(C, h * w)
    ncb = triton.cdiv(C, block_c)
    _mfp_bwd_kernel[(B * ncb, )](
        grad_out.contiguous(), x, f, stats.contiguous(), gx, C, h * w, w, K, ncb,
        *x.stride(), BLOCK_C=block_c, BLOCK_HW=block_hw, ACC=_tl_dtype(x.dtype))
    return gx


# --------------------------------------------------------------------------------------------
# bidirectional_attention
# --------------------------------------------------------------------------------------------


@triton.jit
def _inv_sqrt_d(ROWS: tl.constexpr, HEAD_DIM: tl.constexpr, ACC: tl.constexpr):
    """1/√d as a ROWS×1 block in the accumulator dtype (exact in float64)."""
    return 1.0 / tl.sqrt(tl.full([ROWS, 1], HEAD_DIM, ACC))


@triton.jit
def _attn_fwd_rows(q_ptr, k_ptr, v_ptr, o_ptr, lse_ptr, kmask_ptr, qmask_ptr, sq_m, sq_d, sk_n,
                   sk_d, sv_n, sv_d, M, NK, start_m, HAS_KMASK: tl.constexpr,
                   HAS_QMASK: tl.constexpr, HEAD_DIM: tl.constexpr, BLOCK_M: tl.constexpr,
                   BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr, ACC: tl.constexpr,
                   PREC: tl.constexpr):
    """Attention of BLOCK_M query rows over all NK keys (online softmax over key blocks).

    Rows without any valid key, and masked query rows, get output 0 and lse = +inf.
    """
    offs_m = start_m + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    mrow = offs_m < M
    dmask = offs_d < HEAD_DIM
    q = tl.load(q_ptr + offs_m[:, None] * sq_m + offs_d[None, :] * sq_d,
                mask=mrow[:, None] & dmask[None, :], other=0.0)
    scale = _inv_sqrt_d(BLOCK_M, HEAD_DIM, ACC)
    m_i = tl.full([BLOCK_M], float('-inf'), dtype=ACC)
    l_i = tl.zeros([BLOCK_M], dtype=ACC)
    acc = tl.zeros([BLOCK_M, BLOCK_D], dtype=ACC)
    for start_n in range(0, NK, BLOCK_N):
        offs_n = start_n + tl.arange(0, BLOCK_N)
        kvalid = offs_n < NK
        if HAS_KMASK:
            kvalid = kvalid & (tl.load(kmask_ptr + offs_n, mask=offs_n < NK, other=0) != 0)
        kt = tl.load(k_ptr + offs_n[None, :] * sk_n + offs_d[:, None] * sk_d,
                     mask=(offs_n[None, :] < NK) & dmask[:, None], other=0.0)  # BLOCK_D×BLOCK_N
        s = tl.dot(q, kt, input_precision=PREC, out_dtype=ACC) * scale  # BLOCK_M×BLOCK_N
        s = tl.where(kvalid[None, :], s, float('-inf'))
        m_new = tl.maximum(m_i, tl.max(s, axis=1))
        m_safe = tl.where(m_new == float('-inf'), 0.0, m_new)
        alpha = tl.exp(m_i - m_safe)
        p = tl.exp(s - m_safe[:, None])
        l_i = l_i * alpha + tl.sum(p, axis=1)
        v = tl.load(v_ptr + offs_n[:, None] * sv_n + offs_d[None, :] * sv_d,
                    mask=(offs_n[:, None] < NK) & dmask[None, :], other=0.0)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision=PREC,
                                            out_dtype=ACC)
        m_i = m_new
    has_key = l_i > 0
    l_safe = tl.where(has_key, l_i, 1.0)
    out = acc / l_safe[:, None]
    lse = tl.where(has_key, m_i + tl.log(l_safe), float('inf'))
    if HAS_QMASK:
        qvalid = tl.load(qmask_ptr + offs_m, mask=mrow, other=0) != 0
        out = tl.where(qvalid[:, None], out, 0.0)
        lse = tl.where(qvalid, lse, float('inf'))
    tl.store(o_ptr + offs_m[:, None] * HEAD_DIM + offs_d[None, :], out.to(o_ptr.dtype.element_ty),
             mask=mrow[:, None] & dmask[None, :])
    tl.store(lse_ptr + offs_m, lse, mask=mrow)


@triton.jit
def _attn_fwd_kernel(qv, kv, vv, qt, kt, vt, ov, ot, lsev, lset, mask_ptr, sqv_b, sqv_h, sqv_m,
                     sqv_d, skv_b, skv_h, skv_m, skv_d, svv_b, svv_h, svv_m, svv_d, sqt_b,
                     sqt_h, sqt_m, sqt_d, skt_b, skt_h, skt_m, skt_d, svt_b, svt_h, svt_m,
                     svt_d, H, L, N, n_vblocks, HAS_MASK: tl.constexpr, HEAD_DIM: tl.constexpr,
                     BLOCK_D: tl.constexpr, BM_V: tl.constexpr, BN_V: tl.constexpr,
                     BM_T: tl.constexpr, BN_T: tl.constexpr, ACC: tl.constexpr,
                     PREC: tl.constexpr):
    """Both directions in one launch: programs [0, n_vblocks) do vision queries -> text keys,
    the rest text queries -> vision keys; axis 1 is batch×head."""
    pid = tl.program_id(0)
    bh = tl.program_id(1)
    b = (bh // H).to(tl.int64)
    h = (bh % H).to(tl.int64)
    bh64 = bh.to(tl.int64)
    if pid < n_vblocks:
        _attn_fwd_rows(qv + b * sqv_b + h * sqv_h, kt + b * skt_b + h * skt_h,
                       vt + b * svt_b + h * svt_h, ov + bh64 * L * HEAD_DIM, lsev + bh64 * L,
                       mask_ptr + b * N, mask_ptr, sqv_m, sqv_d, skt_m, skt_d, svt_m, svt_d, L,
                       N, pid * BM_V, HAS_MASK, False, HEAD_DIM, BM_V, BN_V, BLOCK_D, ACC, PREC)
    else:
        _attn_fwd_rows(qt + b * sqt_b + h * sqt_h, kv + b * skv_b + h * skv_h,
                       vv + b * svv_b + h * svv_h, ot + bh64 * N * HEAD_DIM, lset + bh64 * N,
                       mask_ptr, mask_ptr + b * N, sqt_m, sqt_d, skv_m, skv_d, svv_m, svv_d, N,
                       L, (pid - n_vblocks) * BM_T, False, HAS_MASK, HEAD_DIM, BM_T, BN_T,
                       BLOCK_D, ACC, PREC)


@triton.jit
def _attn_bwd_dq(q_ptr, k_ptr, v_ptr, o_ptr, do_ptr, lse_ptr, dq_ptr, kmask_ptr, qmask_ptr, sq_m,
                 sq_d, sk_n, sk_d, sv_n, sv_d, M, NK, start_m, HAS_KMASK: tl.constexpr,
                 HAS_QMASK: tl.constexpr, HEAD_DIM: tl.constexpr, BLOCK_M: tl.constexpr,
                 BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr, ACC: tl.constexpr,
                 PREC: tl.constexpr):
    """dq of BLOCK_M query rows: dq = scale·Σ_n p·(dp − D)·k, D = rowsum(do ⊙ o)."""
    offs_m = start_m + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    mrow = offs_m < M
    dmask = offs_d < HEAD_DIM
    m2 = mrow[:, None] & dmask[None, :]
    q = tl.load(q_ptr + offs_m[:, None] * sq_m + offs_d[None, :] * sq_d, mask=m2, other=0.0)
    rows = offs_m[:, None] * HEAD_DIM + offs_d[None, :]
    do = tl.load(do_ptr + rows, mask=m2, other=0.0)
    o = tl.load(o_ptr + rows, mask=m2, other=0.0)
    if HAS_QMASK:
        qvalid = tl.load(qmask_ptr + offs_m, mask=mrow, other=0) != 0
        do = tl.where(qvalid[:, None], do, 0.0)
    delta = tl.sum(do.to(ACC) * o.to(ACC), axis=1)
    lse = tl.load(lse_ptr + offs_m, mask=mrow, other=float('inf'))
    scale = _inv_sqrt_d(BLOCK_M, HEAD_DIM, ACC)
    dq = tl.zeros([BLOCK_M, BLOCK_D], dtype=ACC)
    for start_n in range(0, NK, BLOCK_N):
        offs_n = start_n + tl.arange(0, BLOCK_N)
        kvalid = offs_n < NK
        if HAS_KMASK:
            kvalid = kvalid & (tl.load(kmask_ptr + offs_n, mask=offs_n < NK, other=0) != 0)
        nm2 = (offs_n[None, :] < NK) & dmask[:, None]
        kt = tl.load(k_ptr + offs_n[None, :] * sk_n + offs_d[:, None] * sk_d, mask=nm2,
                     other=0.0)  # BLOCK_D×BLOCK_N
        vt = tl.load(v_ptr + offs_n[None, :] * sv_n + offs_d[:, None] * sv_d, mask=nm2,
                     other=0.0)
        s = tl.dot(q, kt, input_precision=PREC, out_dtype=ACC) * scale
        p = tl.where(kvalid[None, :], tl.exp(s - lse[:, None]), 0.0)
        dp = tl.dot(do, vt, input_precision=PREC, out_dtype=ACC)
        ds = p * (dp - delta[:, None])
        dq += tl.dot(ds.to(kt.dtype), tl.trans(kt), input_precision=PREC, out_dtype=ACC)
    dq = dq * scale
    tl.store(dq_ptr + rows, dq.to(dq_ptr.dtype.element_ty), mask=m2)


@triton.jit
def _attn_bwd_dkdv(q_ptr, k_ptr, v_ptr, o_ptr, do_ptr, lse_ptr, dk_ptr, dv_ptr, kmask_ptr,
                   qmask_ptr, sq_m, sq_d, sk_n, sk_d, sv_n, sv_d, M, NK, start_n,
                   HAS_KMASK: tl.constexpr, HAS_QMASK: tl.constexpr, HEAD_DIM: tl.constexpr,
                   BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
                   ACC: tl.constexpr, PREC: tl.constexpr):
    """dk, dv of BLOCK_N keys over all M queries: dv = Σ_m pᵀ·do, dk = scale·Σ_m dsᵀ·q."""
    offs_n = start_n + tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    nrow = offs_n < NK
    dmask = offs_d < HEAD_DIM
    n2 = nrow[:, None] & dmask[None, :]
    kvalid = nrow
    if HAS_KMASK:
        kvalid = kvalid & (tl.load(kmask_ptr + offs_n, mask=nrow, other=0) != 0)
    k = tl.load(k_ptr + offs_n[:, None] * sk_n + offs_d[None, :] * sk_d, mask=n2, other=0.0)
    v = tl.load(v_ptr + offs_n[:, None] * sv_n + offs_d[None, :] * sv_d, mask=n2, other=0.0)
    scale = _inv_sqrt_d(BLOCK_N, HEAD_DIM, ACC)
    dk = tl.zeros([BLOCK_N, BLOCK_D], dtype=ACC)
    dv = tl.zeros([BLOCK_N, BLOCK_D], dtype=ACC)
    for start_m in range(0, M, BLOCK_M):
        offs_m = start_m + tl.arange(0, BLOCK_M)
        mrow = offs_m < M
        m2 = mrow[:, None] & dmask[None, :]
        q = tl.load(q_ptr + offs_m[:, None] * sq_m + offs_d[None, :] * sq_d, mask=m2, other=0.0)
        rows = offs_m[:, None] * HEAD_DIM + offs_d[None, :]
        do = tl.load(do_ptr + rows, mask=m2, other=0.0)
        o = tl.load(o_ptr + rows, mask=m2, other=0.0)
        if HAS_QMASK:
            qvalid = tl.load(qmask_ptr + offs_m, mask=mrow, other=0) != 0
            do = tl.where(qvalid[:, None], do, 0.0)
        delta = tl.sum(do.to(ACC) * o.to(ACC), axis=1)
        lse = tl.load(lse_ptr + offs_m, mask=mrow, other=float('inf'))
        st = tl.dot(k, tl.trans(q), input_precision=PREC, out_dtype=ACC) * scale  # BN×BM
        pt = tl.where(kvalid[:, None], tl.exp(st - lse[None, :]), 0.0)
        dv += tl.dot(pt.to(do.dtype), do, input_precision=PREC, out_dtype=ACC)
        dpt = tl.dot(v, tl.trans(do), input_precision=PREC, out_dtype=ACC)
        dst = pt * (dpt - delta[None, :])
        dk += tl.dot(dst.to(q.dtype), q, input_precision=PREC, out_dtype=ACC)
    dk = dk * scale
    out_rows = offs_n[:, None] * HEAD_DIM + offs_d[None, :]
    tl.store(dk_ptr + out_rows, dk.to(dk_ptr.dtype.element_ty), mask=n2)
    tl.store(dv_ptr + out_rows, dv.to(dv_ptr.dtype.element_ty), mask=n2)


@triton.jit
def _attn_bwd_kernel(qv, kv, vv, qt, kt, vt, ov, ot, dov, dot_, lsev, lset, mask_ptr, dqv, dkv,
                     dvv, dqt, dkt, dvt, sqv_b, sqv_h, sqv_m, sqv_d, skv_b, skv_h, skv_m, skv_d,
                     svv_b, svv_h, svv_m, svv_d, sqt_b, sqt_h, sqt_m, sqt_d, skt_b, skt_h, skt_m,
                     skt_d, svt_b, svt_h, svt_m, svt_d, H, L, N, e0, e1, e2,
                     HAS_MASK: tl.constexpr, HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr,
                     BM_V: tl.constexpr, BN_V: tl.constexpr, BM_T: tl.constexpr,
                     BN_T: tl.constexpr, ACC: tl.constexpr, PREC: tl.constexpr):
    """All four backward work types in one launch (axis 1 is batch×head; axis 0 ranges):
    [0, e0) dq_v; [e0, e1) dk_t, dv_t; [e1, e2) dq_t; [e2, end) dk_v, dv_v."""
    pid = tl.program_id(0)
    bh = tl.program_id(1)
    b = (bh // H).to(tl.int64)
    h = (bh % H).to(tl.int64)
    bh64 = bh.to(tl.int64)
    # vision-query direction: queries q_v (L rows), keys/values k_t, v_t (N rows)
    q1 = qv + b * sqv_b + h * sqv_h
    k1 = kt + b * skt_b + h * skt_h
    v1 = vt + b * svt_b + h * svt_h
    # text-query direction: queries q_t (N rows), keys/values k_v, v_v (L rows)
    q2 = qt + b * sqt_b + h * sqt_h
    k2 = kv + b * skv_b + h * skv_h
    v2 = vv + b * svv_b + h * svv_h
    offv = bh64 * L * HEAD_DIM
    offt = bh64 * N * HEAD_DIM
    if pid < e0:
        _attn_bwd_dq(q1, k1, v1, ov + offv, dov + offv, lsev + bh64 * L, dqv + offv,
                     mask_ptr + b * N, mask_ptr, sqv_m, sqv_d, skt_m, skt_d, svt_m, svt_d, L, N,
                     pid * BM_V, HAS_MASK, False, HEAD_DIM, BM_V, BN_V, BLOCK_D, ACC, PREC)
    elif pid < e1:
        _attn_bwd_dkdv(q1, k1, v1, ov + offv, dov + offv, lsev + bh64 * L, dkt + offt,
                       dvt + offt, mask_ptr + b * N, mask_ptr, sqv_m, sqv_d, skt_m, skt_d,
                       svt_m, svt_d, L, N, (pid - e0) * BN_V, HAS_MASK, False, HEAD_DIM, BM_V,
                       BN_V, BLOCK_D, ACC, PREC)
    elif pid < e2:
        _attn_bwd_dq(q2, k2, v2, ot + offt, dot_ + offt, lset + bh64 * N, dqt + offt, mask_ptr,
                     mask_ptr + b * N, sqt_m, sqt_d, skv_m, skv_d, svv_m, svv_d, N, L,
                     (pid - e1) * BM_T, False, HAS_MASK, HEAD_DIM, BM_T, BN_T, BLOCK_D, ACC,
                     PREC)
    else:
        _attn_bwd_dkdv(q2, k2, v2, ot + offt, dot_ + offt, lset + bh64 * N, dkv + offv,
                       dvv + offv, mask_ptr, mask_ptr + b * N, sqt_m, sqt_d, skv_m, skv_d,
                       svv_m, svv_d, N, L, (pid - e2) * BN_T, False, HAS_MASK, HEAD_DIM, BM_T,
                       BN_T, BLOCK_D, ACC, PREC)


def _attn_blocks(L: int, N: int, d: int) -> dict:
    cap = 64 if d <= 64 else 32

    def blk(n: int) -> int:
        return max(16, min(cap, triton.next_power_of_2(max(n, 1))))

    return dict(BLOCK_D=max(16, triton.next_power_of_2(d)), BM_V=blk(L), BN_V=blk(N),
                BM_T=blk(N), BN_T=blk(L))


def _prec(dtype: torch.dtype) -> str:
    # fp32 inputs use exact fp32 products (like torch.matmul with TF32 off), not TF32
    return 'ieee' if dtype in (torch.float32, torch.float64) else 'tf32'


def attn_forward(q_v: Tensor, k_v: Tensor, v_v: Tensor, q_t: Tensor, k_t: Tensor, v_t: Tensor,
                 text_mask: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Kernel forward of ``bidirectional_attention`` (shapes as in ``reference.py``).

    Returns:
        tuple: ``out_v`` B×h×L×d, ``out_t`` B×h×N×d (contiguous, dtype of the inputs) and the
        row log-sum-exps ``lse_v`` B×h×L, ``lse_t`` B×h×N (float32; float64 for float64
        inputs; +inf for rows without keys and for masked text rows).
    """
    B, H, L, d = q_v.shape
    N = q_t.shape[2]
    acc = _acc_dtype(q_v.dtype)
    out_v = torch.empty(B, H, L, d, dtype=q_v.dtype, device=q_v.device)
    out_t = torch.empty(B, H, N, d, dtype=q_v.dtype, device=q_v.device)
    lse_v = torch.empty(B, H, L, dtype=acc, device=q_v.device)
    lse_t = torch.empty(B, H, N, dtype=acc, device=q_v.device)
    blocks = _attn_blocks(L, N, d)
    has_mask = text_mask is not None
    mask = text_mask.to(torch.int8).contiguous() if has_mask else q_v
    n_v = triton.cdiv(L, blocks['BM_V'])
    n_t = triton.cdiv(N, blocks['BM_T'])
    _attn_fwd_kernel[(n_v + n_t, B * H)](
        q_v, k_v, v_v, q_t, k_t, v_t, out_v, out_t, lse_v, lse_t, mask, *q_v.stride(),
        *k_v.stride(), *v_v.stride(), *q_t.stride(), *k_t.stride(), *v_t.stride(), H, L, N, n_v,
        HAS_MASK=has_mask, HEAD_DIM=d, ACC=_tl_dtype(q_v.dtype), PREC=_prec(q_v.dtype),
        **blocks)
    return out_v, out_t, lse_v, lse_t


def attn_backward(grad_v: Tensor, grad_t: Tensor, q_v: Tensor, k_v: Tensor, v_v: Tensor,
                  q_t: Tensor, k_t: Tensor, v_t: Tensor, out_v: Tensor, out_t: Tensor,
                  lse_v: Tensor, lse_t: Tensor, text_mask: Optional[Tensor]) -> Tuple[Tensor, ...]:
    """Kernel backward of ``bidirectional_attention``.

    Returns:
        tuple: grads of ``q_v, k_v, v_v`` (B×h×L×d) and ``q_t, k_t, v_t`` (B×h×N×d).
    """
    B, H, L, d = q_v.shape
    N = q_t.shape[2]
    grads = [torch.empty(B, H, n, d, dtype=q_v.dtype, device=q_v.device)
             for n in (L, L, L, N, N, N)]
    blocks = _attn_blocks(L, N, d)
    has_mask = text_mask is not None
    mask = text_mask.to(torch.int8).contiguous() if has_mask else q_v
    e0 = triton.cdiv(L, blocks['BM_V'])
    e1 = e0 + triton.cdiv(N, blocks['BN_V'])
    e2 = e1 + triton.cdiv(N, blocks['BM_T'])
    total = e2 + triton.cdiv(L, blocks['BN_T'])
    _attn_bwd_kernel[(total, B * H)](
        q_v, k_v, v_v, q_t, k_t, v_t, out_v.contiguous(), out_t.contiguous(),
        grad_v.contiguous(), grad_t.contiguous(), lse_v.contiguous(), lse_t.contiguous(), mask,
        *grads, *q_v.stride(), *k_v.stride(), *v_v.stride(), *q_t.stride(), *k_t.stride(),
        *v_t.stride(), H, L, N, e0, e1, e2, HAS_MASK=has_mask, HEAD_DIM=d,
        ACC=_tl_dtype(q_v.dtype), PREC=_prec(q_v.dtype), **blocks)
    return tuple(grads)
