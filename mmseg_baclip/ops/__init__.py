"""Custom ops of BaCLIP: one API, a pure-PyTorch reference and Triton kernels behind it.

* :func:`multi_freq_pool` — MFCA's DCT multi-frequency mean/max/min pooling (MFMSA neck).
* :func:`bidirectional_attention` — MREM's two-way cross-attention.

Both are registered as PyTorch custom ops (``torch.ops.mmseg_baclip.*``) with fake kernels
and autograd formulas. The implementation is picked per call: Triton kernels for CUDA tensors
when Triton is installed, the reference otherwise; ``BACLIP_OPS_BACKEND=auto|triton|torch``
forces a path (see :mod:`mmseg_baclip.ops._backend`). Importing this package never imports
Triton.
"""
from ._backend import BACKEND_ENV, resolve_backend, triton_available
from .bidirectional_attention import bidirectional_attention, bidirectional_attention_sdpa
from .multi_freq_pool import multi_freq_pool
from .reference import bidirectional_attention_reference, multi_freq_pool_reference

__all__ = [
    'multi_freq_pool', 'bidirectional_attention', 'multi_freq_pool_reference',
    'bidirectional_attention_reference', 'bidirectional_attention_sdpa', 'resolve_backend',
    'triton_available', 'BACKEND_ENV'
]
