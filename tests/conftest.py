"""Shared fixtures: mmseg's default scope and tiny BaCLIP building blocks."""
import os
import os.path as osp
import sys
import warnings

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

import mmseg_baclip  # noqa: E402,F401
from mmengine.registry import init_default_scope  # noqa: E402

init_default_scope('mmseg')
os.environ.setdefault('OMP_NUM_THREADS', '2')

from baclip_test_utils import TINY_CLIP, tiny_baclip_cfg  # noqa: E402,F401


@pytest.fixture
def tiny_cfg():
    return tiny_baclip_cfg()
