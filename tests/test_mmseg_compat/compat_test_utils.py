"""Helpers of the mmseg compatibility tests: mmseg's own tools, and trees without a train split."""
import json
import os
import os.path as osp
import shutil
import subprocess
import sys

import mmseg
import pytest

UPSTREAM_TOOLS = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools')


def run_upstream_tool(name: str, *args: str, cwd: str) -> subprocess.CompletedProcess:
    """Run ``mmseg/.mim/tools/<name>.py`` in a fresh process (it imports mmseg_baclip only
    through the config's ``custom_imports``); fail with its output if it fails."""
    tool = osp.join(UPSTREAM_TOOLS, f'{name}.py')
    if not osp.isfile(tool):
        pytest.skip(f'mmseg was installed without its tools ({tool})')
    return run_script(tool, *args, cwd=cwd)


def run_script(tool: str, *args: str, cwd: str) -> subprocess.CompletedProcess:
    """Run a Python script in a fresh process; fail with its output if it fails."""
    name = osp.basename(tool)
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, tool, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, f'{name} {args} failed:\n' + (proc.stdout[-3000:] +
                                                               proc.stderr[-3000:])
    return proc


def keep_only_test_split(src: str, dst: str) -> str:
    """Copy an OVCamo tree without its train split (no train/ folder, no train samples)."""
    shutil.copytree(src, dst)
    shutil.rmtree(osp.join(dst, 'train'))
    path = osp.join(dst, 'jsonfile', 'sample_info.json')
    with open(osp.join(dst, 'jsonfile', 'class_info.json'), encoding='utf-8') as f:
        test_classes = {c['name'] for c in json.load(f) if c['split'] == 'test'}
    with open(path, encoding='utf-8') as f:
        samples = [s for s in json.load(f) if s['base_class'] in test_classes]
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(samples, f)
    return dst
