"""Shared fixtures: mmseg's default scope, tiny BaCLIP building blocks, the text cache off."""
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


@pytest.fixture(scope='session', autouse=True)
def private_text_cache(tmp_path_factory):
    """The disk cache of class-name embeddings is off in the suite (also in the tools it runs
    in subprocesses), and points at a folder of this session, never the user's ``~/.cache``:
    an entry one test writes would otherwise give another test embeddings computed with another
    thread count (other last bits). Tests of the cache turn it on with ``monkeypatch``."""
    from mmseg_baclip.models.text_encoders.embedding_disk_cache import (CACHE_DIR_ENV,
                                                                        SWITCH_ENV)
    folder = str(tmp_path_factory.mktemp('baclip_cache'))
    previous = {name: os.environ.get(name) for name in (CACHE_DIR_ENV, SWITCH_ENV)}
    os.environ.update({CACHE_DIR_ENV: folder, SWITCH_ENV: '0'})
    yield folder
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
