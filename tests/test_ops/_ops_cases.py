"""Shared input builders for the ops tests (tiny shapes; imported by the test modules)."""
from typing import List, Optional, Tuple

import torch
from torch import Tensor


def mfp_inputs(B: int, C: int, h: int, w: int, K: int, dtype=torch.float64, device='cpu',
               noncontiguous: bool = False, ties: bool = False,
               seed: int = 0) -> Tuple[Tensor, Tensor]:
    """x (B×C×h×w) and filters (K×h×w). ``ties`` makes x piecewise constant (an upsampled map,
    as after adaptive pooling of a small map) and filter 0 constant, so max/min are tied."""
    g = torch.Generator().manual_seed(seed)
    if ties:
        x = torch.randn(B, C, (h + 1) // 2, (w + 1) // 2, generator=g, dtype=dtype)
        x = x.repeat_interleave(2, 2).repeat_interleave(2, 3)[:, :, :h, :w]
    elif noncontiguous:
        x = torch.randn(B, w, C, h, generator=g, dtype=dtype).permute(0, 2, 3, 1)
    else:
        x = torch.randn(B, C, h, w, generator=g, dtype=dtype)
    f = torch.randn(K, h, w, generator=g, dtype=dtype)
    if ties:
        f[0] = 0.5
    return x.to(device), f.to(device)


def attn_inputs(B: int, H: int, L: int, N: int, d: int, dtype=torch.float64, device='cpu',
                noncontiguous: bool = False, seed: int = 0) -> List[Tensor]:
    """[q_v, k_v, v_v] (B×H×L×d) and [q_t, k_t, v_t] (B×H×N×d). ``noncontiguous`` builds them
    as transposed views of B×tokens×H×d tensors, as a multi-head split does."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for tokens in (L, L, L, N, N, N):
        if noncontiguous:
            t = torch.randn(B, tokens, H, d, generator=g, dtype=dtype).transpose(1, 2)
        else:
            t = torch.randn(B, H, tokens, d, generator=g, dtype=dtype)
        out.append(t.to(device))
    return out


def text_mask(B: int, N: int, device='cpu', all_padded_row: bool = True) -> Optional[Tensor]:
    """A B×N keep-mask with some padded tokens; row 1 fully padded if ``all_padded_row``."""
    m = torch.ones(B, N, dtype=torch.bool)
    m[0, N // 2:] = False
    if N > 1:
        m[0, 0] = True
    if B > 1 and all_padded_row:
        m[1] = False
    if B > 2:
        m[2, ::2] = False
    return m.to(device)


def grads_of(outputs, inputs, seed: int = 1):
    """Gradients of sum(out ⊙ random) w.r.t. inputs (random upstream gradients, fixed seed)."""
    g = torch.Generator().manual_seed(seed)
    if isinstance(outputs, Tensor):
        outputs = (outputs, )
    # drawn in float32 whatever the output dtype, so every dtype gets the same upstream values
    ups = [torch.randn(o.shape, generator=g).to(device=o.device, dtype=o.dtype) for o in outputs]
    return torch.autograd.grad(outputs, inputs, ups, allow_unused=True)


def assert_close_all(actual, expected, **tol):
    for i, (a, e) in enumerate(zip(actual, expected)):
        if a is None and e is None:
            continue
        torch.testing.assert_close(a, e, msg=lambda m, i=i: f'tensor {i}: {m}', **tol)
