"""Fixtures of the dataset tests: a tiny synthetic OVCamo tree (made once) and fresh copies."""
import shutil

import pytest

from mmseg_baclip.synthetic_world import make_synthetic_ovcamo

NUM_TRAIN, NUM_TEST = 6, 4


@pytest.fixture(scope='session')
def synthetic_root(tmp_path_factory) -> str:
    """A read-only tiny tree: 6 train and 4 test samples around 40x48 px, some other sizes."""
    root = tmp_path_factory.mktemp('ovcamo_synthetic')
    make_synthetic_ovcamo(str(root), num_train=NUM_TRAIN, num_test=NUM_TEST, size=(40, 48),
                          seed=0, size_jitter_prob=0.5)
    return str(root)


@pytest.fixture
def ovcamo_root(synthetic_root, tmp_path) -> str:
    """A fresh copy of the tiny tree that a test may break."""
    dst = tmp_path / 'ovcamo'
    shutil.copytree(synthetic_root, dst)
    return str(dst)
