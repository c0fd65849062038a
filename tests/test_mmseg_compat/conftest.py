"""Fixtures of the mmseg compatibility tests: a checkpoint trained by mmseg's own
``tools/train.py`` (the copy shipped in the installed package) on the small config, and an
OVCamo tree that holds only the test split."""
import os
import os.path as osp
from types import SimpleNamespace

import pytest
import torch

from mmseg_baclip.synthetic_world import make_synthetic_ovcamo
from test_engine.engine_test_utils import tiny_cfg, write_cfg
from test_mmseg_compat.compat_test_utils import keep_only_test_split, run_upstream_tool


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    """The tiny models are fastest with one thread on a shared machine. Module-scoped, so that
    the module fixtures run under it too (see ``tests/test_engine/conftest.py``)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope='session')
def upstream_trained(tmp_path_factory) -> SimpleNamespace:
    """The small config (64 px, one MFMSA) trained 2 iterations by mmseg's tools/train.py.

    Attributes: ``root``, ``data_root`` (8 train / 5 test images), ``test_only_root`` (the same
    tree without the train split), ``config``, ``test_only_config``, ``checkpoint``,
    ``train_vocabulary`` (the checkpoint's ``meta['dataset_meta']['vocabulary']``) and
    ``test_images``.
    """
    root = tmp_path_factory.mktemp('mmseg_compat')
    data_root = str(root / 'ovcamo')
    make_synthetic_ovcamo(data_root, num_train=8, num_test=5, size=(96, 96), seed=0)
    cfg = tiny_cfg(data_root, str(root / 'work'), max_iters=2, interval=2)
    config = write_cfg(cfg, str(root / 'baclip_tiny.py'))
    run_upstream_tool('train', config, cwd=str(root))
    checkpoint = str(root / 'work' / 'iter_2.pth')
    meta = torch.load(checkpoint, map_location='cpu', weights_only=True)['meta']

    test_only_root = keep_only_test_split(data_root, str(root / 'ovcamo_test_only'))
    for loader in ('train_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = test_only_root
    test_only_config = write_cfg(cfg, str(root / 'baclip_tiny_test_only.py'))
    image_dir = osp.join(data_root, 'test', 'image')
    return SimpleNamespace(
        root=str(root), data_root=data_root, test_only_root=test_only_root, config=config,
        test_only_config=test_only_config, checkpoint=checkpoint,
        train_vocabulary=tuple(meta['dataset_meta']['vocabulary']),
        test_images=sorted(osp.join(image_dir, f) for f in os.listdir(image_dir)))
