"""Backend selection (BACLIP_OPS_BACKEND) and importing without Triton."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from _ops_cases import attn_inputs, mfp_inputs

from mmseg_baclip.ops import _backend, bidirectional_attention, multi_freq_pool, resolve_backend

CPU, CUDA = torch.device('cpu'), torch.device('cuda')
OPS_NAMES = ('multi_freq_pool', 'bidirectional_attention')
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_interpreter(monkeypatch):
    monkeypatch.delenv('TRITON_INTERPRET', raising=False)
    monkeypatch.setattr(_backend, 'kernels_interpreted', lambda: None)


@pytest.mark.parametrize('op', OPS_NAMES)
def test_default_on_cpu_is_reference(backend, no_interpreter, op):
    backend('auto')
    assert resolve_backend(op, CPU, torch.float32) == 'torch'
    backend('torch')
    assert resolve_backend(op, CPU, torch.float32) == 'torch'


def test_unknown_backend_is_an_error(backend):
    backend('cuda')
    with pytest.raises(ValueError, match="BACLIP_OPS_BACKEND='cuda' is not one of"):
        resolve_backend('multi_freq_pool', CPU, torch.float32)


def test_triton_on_cpu_without_interpreter_is_a_clear_error(backend, no_interpreter):
    backend('triton')
    if not _backend.triton_available():
        pytest.skip('Triton not installed (covered by the next test)')
    x, f = mfp_inputs(1, 2, 4, 4, 2)
    with pytest.raises(RuntimeError, match='set TRITON_INTERPRET=1'):
        multi_freq_pool(x, f)
    with pytest.raises(RuntimeError, match='set TRITON_INTERPRET=1'):
        bidirectional_attention(*attn_inputs(1, 1, 3, 2, 4))


def test_triton_without_triton_installed_is_a_clear_error(backend, monkeypatch):
    monkeypatch.setattr(_backend, 'triton_available', lambda: False)
    backend('triton')
    for op in OPS_NAMES:
        for device in (CPU, CUDA):
            with pytest.raises(RuntimeError, match='pip install triton'):
                resolve_backend(op, device, torch.float32)
    backend('auto')
    assert resolve_backend('multi_freq_pool', CUDA, torch.float32) == 'torch'
    assert resolve_backend('bidirectional_attention', CUDA, torch.float32) == 'sdpa'


def test_auto_on_cuda_follows_the_per_op_table(backend, monkeypatch):
    monkeypatch.setattr(_backend, 'kernels_supported', lambda device: True)
    backend('auto')
    for op in OPS_NAMES:
        assert resolve_backend(op, CUDA, torch.float16) == _backend.AUTO_CUDA_BACKEND[op]
        assert resolve_backend(op, CUDA, torch.float64) == 'torch'
        assert resolve_backend(op, CPU, torch.float32) == 'torch'
    monkeypatch.setitem(_backend.AUTO_CUDA_BACKEND, 'bidirectional_attention', 'sdpa')
    assert resolve_backend('bidirectional_attention', CUDA, torch.float32) == 'sdpa'


def test_triton_on_cuda_in_interpreter_mode_is_a_clear_error(backend, monkeypatch):
    monkeypatch.setattr(_backend, 'triton_available', lambda: True)
    monkeypatch.setattr(_backend, 'kernels_interpreted', lambda: True)
    backend('triton')
    with pytest.raises(RuntimeError, match='interpreter'):
        resolve_backend('multi_freq_pool', CUDA, torch.float32)


def test_package_imports_and_runs_without_triton(tmp_path):
    script = textwrap.dedent("""
        import os, sys
        sys.modules['triton'] = None  # as if Triton were not installed
        import torch
        import mmseg_baclip.ops as ops
        assert 'mmseg_baclip.ops._triton_kernels' not in sys.modules
        assert not ops.triton_available()
        x = torch.randn(2, 3, 4, 4, requires_grad=True)
        ops.multi_freq_pool(x, torch.randn(2, 4, 4)).sum().backward()
        qkv = [torch.randn(1, 2, n, 4, requires_grad=True) for n in (5, 5, 5, 3, 3, 3)]
        sum(o.sum() for o in ops.bidirectional_attention(*qkv)).backward()
        assert x.grad is not None and qkv[0].grad is not None
        os.environ['BACLIP_OPS_BACKEND'] = 'triton'
        try:
            ops.multi_freq_pool(x, torch.randn(2, 4, 4))
        except RuntimeError as e:
            assert 'pip install triton' in str(e), e
        else:
            raise AssertionError('no error for BACLIP_OPS_BACKEND=triton without Triton')
        print('OK')
    """)
    env = {k: v for k, v in __import__('os').environ.items()
           if k not in ('BACLIP_OPS_BACKEND', 'TRITON_INTERPRET')}
    env['PYTHONPATH'] = str(REPO) + (':' + env['PYTHONPATH'] if env.get('PYTHONPATH') else '')
    proc = subprocess.run([sys.executable, '-c', script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and 'OK' in proc.stdout, proc.stdout + proc.stderr[-4000:]
