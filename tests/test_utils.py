import subprocess
import sys

import pytest
import torch

from mmseg_baclip.utils import collect_env, compat, version_check


def test_collect_env_reports_versions_and_fast_paths():
    env = collect_env.collect_env()
    for key in ('torch', 'mmsegmentation', 'open_clip_torch', 'mmcv.ops', 'Triton kernels usable',
                'ops: multi_freq_pool on cpu'):
        assert key in env
    out = subprocess.run([sys.executable, '-m', 'mmseg_baclip.utils.collect_env'],
                         capture_output=True, text=True, check=True).stdout
    assert 'mmseg_baclip: ' in out and 'ops: bidirectional_attention on cpu' in out


def test_mmcv_ops_stand_in_only_when_needed():
    import mmcv.ops
    if not compat.mmcv_ops_fallback_active():
        pytest.skip('a compiled mmcv is installed: the stand-in is (correctly) not used')
    # mmcv's own pure-PyTorch point_sample works ...
    out = mmcv.ops.point_sample(torch.rand(1, 2, 4, 4), torch.rand(1, 3, 2))
    assert out.shape == (1, 2, 3)
    # ... the compiled op mmseg imports unguarded fails only when called, with a clear message
    with pytest.raises(RuntimeError, match='sigmoid_focal_loss.*mmcv-lite'):
        mmcv.ops.sigmoid_focal_loss(torch.rand(2, 3), torch.tensor([0, 1]))
    # ... and any other op is missing, as with mmcv-lite alone (tests/test_mmcv_ops_fallback.py)
    with pytest.raises(AttributeError, match='RoIAlign.*mmcv-lite'):
        mmcv.ops.RoIAlign(7)
    import mmseg.models  # noqa: F401  (needs mmcv.ops at import)
    assert compat.install_mmcv_ops_fallback() is True  # idempotent


def test_version_check_names_the_package(monkeypatch):
    monkeypatch.setitem(version_check.SUPPORTED, 'mmsegmentation', ('9.0.0', None))
    with pytest.raises(ImportError, match=r'(?s)mmsegmentation==.*needs >=9.0.0.*requirements/lock.txt'):
        version_check.check_versions()
    monkeypatch.setitem(version_check.SUPPORTED, 'no-such-package-xyz', ('1.0', None))
    monkeypatch.delitem(version_check.SUPPORTED, 'mmsegmentation')
    with pytest.raises(ImportError, match='no-such-package-xyz is not installed'):
        version_check.check_versions()


def test_without_any_mmcv_the_check_says_both_are_fine(monkeypatch):
    real = version_check.metadata.version

    def version(name):
        if name in ('mmcv', 'mmcv-lite'):
            raise version_check.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(version_check.metadata, 'version', version)
    with pytest.raises(ImportError, match=r'neither mmcv nor mmcv-lite.*\[mmcv-lite\]'):
        version_check.check_versions()


def test_setup_requires_no_mmcv_so_a_full_mmcv_is_never_replaced(monkeypatch):
    """mmcv and mmcv-lite install the same mmcv/ folder: setup.py must require neither, and
    offer mmcv-lite as an extra for new environments."""
    import os.path as osp
    import runpy

    import setuptools
    root = osp.dirname(osp.dirname(osp.abspath(__file__)))
    seen = {}
    monkeypatch.setattr(setuptools, 'setup', lambda **kwargs: seen.update(kwargs))
    monkeypatch.chdir(root)
    runpy.run_path(osp.join(root, 'setup.py'), run_name='__main__')
    assert not [r for r in seen['install_requires'] if r.startswith('mmcv')]
    assert seen['extras_require']['mmcv-lite'] == ['mmcv-lite>=2.0.0rc4,<2.2.0']
    assert version_check.SUPPORTED['mmcv-lite|mmcv'] == ('2.0.0rc4', '2.2.0')
