"""Backend selection for the custom ops: Triton kernels, an SDPA path, or the PyTorch reference.

Rules (``BACLIP_OPS_BACKEND`` is read at every call, so it can be changed at run time):

* ``torch``: always the pure-PyTorch reference (``reference.py``).
* ``triton``: always the Triton kernels. CUDA tensors need Triton installed (>= 3.0); CPU
  tensors need ``TRITON_INTERPRET=1`` in the environment *before* the kernels are first built
  (first Triton call of the process). Anything else raises a ``RuntimeError`` saying what to do.
* ``auto`` (default): on CUDA with a usable Triton and float16/bfloat16/float32 inputs, the
  per-op choice in :data:`AUTO_CUDA_BACKEND` (set from ``.dev_scripts/benchmark_ops.py``);
  everywhere else the reference.

Triton is found with an explicit capability check (:func:`triton_available`), never by
catching a failed import around the fast path; the kernel module is imported lazily, so the
package imports and trains without Triton.
"""
import importlib.util
import os
from functools import lru_cache
from importlib import metadata
from typing import Optional

import torch

BACKEND_ENV = 'BACLIP_OPS_BACKEND'
BACKENDS = ('auto', 'triton', 'torch')
MIN_TRITON = (3, 0)

# What 'auto' runs on CUDA, per op: one line per op, chosen from the GPU benchmark
# (.dev_scripts/benchmark_ops.py). 'triton' = our kernels, 'torch' = the reference,
# 'sdpa' = (attention only) two F.scaled_dot_product_attention calls.
# H200, torch 2.11, triton 3.6, paper shapes, fwd+bwd: multi_freq_pool triton 11-19x faster
# than the reference; attention without padding: sdpa 0.79-0.87 ms, triton 1.00-1.15 ms,
# reference 1.6-1.7 ms (all host/launch-bound; triton is faster only with a text mask).
AUTO_CUDA_BACKEND = {
    'multi_freq_pool': 'triton',
    'bidirectional_attention': 'sdpa',
}
# What 'auto' runs on CUDA when the choice above is 'triton' but Triton is missing.
AUTO_CUDA_FALLBACK = {
    'multi_freq_pool': 'torch',
    'bidirectional_attention': 'sdpa',
}

# dtypes the kernels are compiled for on CUDA ('auto' uses the reference for the others).
CUDA_KERNEL_DTYPES = (torch.float16, torch.bfloat16, torch.float32)


@lru_cache(maxsize=None)
def triton_available() -> bool:
    """Whether a Triton >= 3.0 is installed (checked without importing it)."""
    if importlib.util.find_spec('triton') is None:
        return False
    try:
        version = metadata.version('triton')
    except metadata.PackageNotFoundError:  # e.g. pytorch-triton wheels
        version = None
        for dist in ('pytorch-triton', 'pytorch-triton-rocm', 'triton-nightly'):
            try:
                version = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
        if version is None:
            return False
    parts = []
    for p in version.split('+')[0].split('.')[:2]:
        digits = ''.join(ch for ch in p if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts) >= MIN_TRITON


def interpret_requested() -> bool:
    """Whether ``TRITON_INTERPRET=1`` is set in the environment now."""
    return os.environ.get('TRITON_INTERPRET', '0') == '1'


def kernels_interpreted() -> Optional[bool]:
    """How the kernels were built: True = interpreter, False = compiled, None = not built yet."""
    import sys
    mod = sys.modules.get('mmseg_baclip.ops._triton_kernels')
    return None if mod is None else mod.INTERPRETED


def requested_backend() -> str:
    """The value of ``BACLIP_OPS_BACKEND`` (default ``auto``), validated."""
    value = os.environ.get(BACKEND_ENV, 'auto').strip().lower() or 'auto'
    if value not in BACKENDS:
        raise ValueError(f'{BACKEND_ENV}={value!r} is not one of {BACKENDS}; '
                         f'unset it or choose one of them')
    return value


def kernels_supported(device: torch.device) -> bool:
    """Whether the Triton kernels can run on tensors of ``device`` in this process."""
    if not triton_available():
        return False
    interp = kernels_interpreted()
    if interp is None:
        interp = interpret_requested()
    if device.type == 'cuda':
        return not interp and torch.cuda.is_available()
    if device.type == 'cpu':
        return interp and interpret_requested()
    return False


def _triton_error(op: str, device: torch.device, dtype: torch.dtype) -> Optional[str]:
    """Why the kernels cannot run here, or None if they can."""
    if not triton_available():
        return (f'{BACKEND_ENV}=triton but Triton >= {MIN_TRITON[0]}.{MIN_TRITON[1]} is not '
                f'installed; `pip install triton`, or set {BACKEND_ENV}=auto or torch')
    built = kernels_interpreted()
    if device.type == 'cpu':
        if not interpret_requested():
            return (f'{BACKEND_ENV}=triton with CPU tensors ({op}) needs Triton\'s interpreter: '
                    f'set TRITON_INTERPRET=1 in the environment before the first Triton call, '
                    f'move the inputs to CUDA, or set {BACKEND_ENV}=auto or torch')
        if built is False:
            return (f'{BACKEND_ENV}=triton with CPU tensors ({op}): TRITON_INTERPRET=1 was set '
                    f'after the kernels were compiled for the GPU in this process; set it '
                    f'before the first Triton call (e.g. when launching Python)')
        return None
    if device.type == 'cuda':
        if built is True or (built is None and interpret_requested()):
            return (f'{BACKEND_ENV}=triton with CUDA tensors ({op}): the kernels run in '
                    f'Triton\'s interpreter (TRITON_INTERPRET=1); unset it to compile them')
        if not torch.cuda.is_available():
            return f'{BACKEND_ENV}=triton ({op}): CUDA is not available'
        if dtype not in CUDA_KERNEL_DTYPES:
            return (f'{BACKEND_ENV}=triton ({op}): the CUDA kernels support '
                    f'{[str(d) for d in CUDA_KERNEL_DTYPES]}, got {dtype}; use {BACKEND_ENV}=torch')
        return None
    return f'{BACKEND_ENV}=triton ({op}): no Triton kernels for device type {device.type!r}'


def resolve_backend(op: str, device: torch.device, dtype: torch.dtype) -> str:
    """Pick the implementation of ``op`` for inputs on ``device`` with ``dtype``.

    Args:
        op (str): ``'multi_freq_pool'`` or ``'bidirectional_attention'``.
        device (torch.device): Device of the inputs.
        dtype (torch.dtype): dtype of the inputs.

    Returns:
        str: ``'triton'``, ``'torch'`` or (attention, auto on CUDA only) ``'sdpa'``.

    Raises:
        RuntimeError: ``BACLIP_OPS_BACKEND=triton`` where the kernels cannot run.
    """
    requested = requested_backend()
    if requested == 'torch':
        return 'torch'
    if requested == 'triton':
        err = _triton_error(op, device, dtype)
        if err is not None:
            raise RuntimeError(err)
        return 'triton'
    if device.type == 'cuda' and dtype in CUDA_KERNEL_DTYPES:
        choice = AUTO_CUDA_BACKEND[op]
        if choice == 'triton' and not kernels_supported(device):
            return AUTO_CUDA_FALLBACK[op]
        return choice
    return 'torch'


def load_kernels():
    """Import (and on first call build) the Triton kernel module."""
    from . import _triton_kernels
    return _triton_kernels
