"""Fixtures of the engine tests: one tiny synthetic OVCamo tree per session, one CPU thread."""
import pytest
import torch

from mmseg_baclip.synthetic_world import make_synthetic_ovcamo


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    """The tiny models are fastest (and timing-stable on a shared machine) with one thread:
    OpenMP workers spin-waiting for busy cores make them 10-100x slower.

    Module-scoped, so that it is in force before the module-scoped fixtures too: a reference
    computed by a module fixture with two threads and compared with a test's one-thread result
    differs in the last float bits (another reduction order), as CI saw on an AVX-512 machine.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope='session')
def data_root(tmp_path_factory) -> str:
    """8 train and 5 test samples of 96x96 px (some other sizes); read-only for the tests."""
    root = tmp_path_factory.mktemp('ovcamo_tiny')
    make_synthetic_ovcamo(str(root), num_train=8, num_test=5, size=(96, 96), seed=0)
    return str(root)
