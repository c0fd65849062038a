"""Runs test_ops_kernels_interpreter.py in a subprocess with TRITON_INTERPRET=1.

Triton decides between compiling and interpreting when the kernels are defined, from the
environment, so the interpreter run needs its own process.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mmseg_baclip.ops import triton_available

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


@pytest.mark.skipif(os.environ.get('TRITON_INTERPRET') == '1',
                    reason='TRITON_INTERPRET=1 already: the kernel tests run in this process')
@pytest.mark.skipif(not triton_available(), reason='Triton not installed')
def test_kernels_under_triton_interpreter(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != 'BACLIP_OPS_BACKEND'}
    env['TRITON_INTERPRET'] = '1'
    env['PYTHONPATH'] = str(REPO) + (os.pathsep + env['PYTHONPATH']
                                     if env.get('PYTHONPATH') else '')
    cmd = [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-rs',
           str(HERE / 'test_ops_kernels_interpreter.py')]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=1200)
    report = proc.stdout[-8000:] + proc.stderr[-4000:]
    assert proc.returncode == 0, report
    assert ' passed' in proc.stdout and 'skipped' not in proc.stdout.splitlines()[-1], report
