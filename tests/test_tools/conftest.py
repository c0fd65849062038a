"""Fixtures of the tool tests: the tiny assets and one real ``tools/test.py`` run on them."""
import os
import os.path as osp
import subprocess
import sys
from types import SimpleNamespace

import pytest

from test_apis.apis_test_utils import REPO_ROOT, get_tiny_assets


@pytest.fixture(scope='session')
def tiny_assets(tmp_path_factory):
    return get_tiny_assets(tmp_path_factory)


@pytest.fixture(scope='session')
def test_run(tiny_assets, tmp_path_factory):
    """``tools/test.py`` on the tiny test split with ``--out`` and OVCOS pictures (3 images)."""
    work = tmp_path_factory.mktemp('test_run')
    out, pictures = str(work / 'predictions'), str(work / 'pictures')
    command = [
        sys.executable, osp.join(REPO_ROOT, 'tools', 'test.py'), tiny_assets.config,
        tiny_assets.checkpoint, '--work-dir', str(work / 'work'), '--out', out, '--show-dir',
        pictures, '--cfg-options', 'default_hooks.visualization.type=OVCOSVisualizationHook',
        'default_hooks.visualization.max_images=3'
    ]
    env = dict(os.environ, OMP_NUM_THREADS='2')
    proc = subprocess.run(command, cwd=str(work), env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return SimpleNamespace(out=out, pictures=pictures, work=str(work))
