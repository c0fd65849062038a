import io
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


# ------------------------------------------------------------------------------ progress
class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_in_a_log_is_a_few_plain_lines():
    from mmseg_baclip.utils.progress import track_progress
    log = io.StringIO()
    assert list(track_progress(range(1000), 'Inference', stream=log)) == list(range(1000))
    text = log.getvalue()
    assert '\r' not in text and '\033' not in text
    lines = text.splitlines()
    assert [line.split(' (')[0] for line in lines] == [
        'Inference: 250/1000', 'Inference: 500/1000', 'Inference: 750/1000',
        'Inference: 1000/1000']
    assert lines[-1].startswith('Inference: 1000/1000 (100%), ')


def test_progress_on_a_terminal_is_a_live_bar():
    from mmseg_baclip.utils.progress import ProgressReport, track_progress
    terminal = _Terminal()
    for _ in track_progress(range(50), 'Pictures', stream=terminal):
        pass
    text = terminal.getvalue()
    assert text.startswith('\rPictures [') and text.endswith('\n') and text.count('\n') == 1
    assert f'[{"#" * 30}] 50/50 (100%)' in text.split('\r')[-1]
    report = ProgressReport(4, 'Steps', stream=terminal, refresh=0)
    report.update(2)
    assert terminal.getvalue().split('\r')[-1].startswith(f'Steps [{"#" * 15}{"." * 15}] 2/4')


def test_progress_disabled_or_empty_writes_nothing():
    from mmseg_baclip.utils.progress import track_progress
    for stream in (io.StringIO(), _Terminal()):
        assert list(track_progress('abc', 'Off', stream=stream, enabled=False)) == ['a', 'b', 'c']
        assert list(track_progress([], 'Empty', stream=stream)) == []
        assert stream.getvalue() == ''
    with pytest.raises(TypeError, match=r"track_progress\('Generator'\) needs total="):
        next(track_progress((i for i in range(3)), 'Generator', stream=io.StringIO()))


# ------------------------------------------------------------------------------ command lines
def test_one_line_warnings_drop_the_source_line():
    import warnings

    from mmseg_baclip.utils.cli_warnings import one_line_warnings
    shown_before = warnings.showwarning
    err = io.StringIO()
    with one_line_warnings(err):
        warnings.warn('no checkpoint given')
        warnings.warn('old option', DeprecationWarning)
    assert warnings.showwarning is shown_before
    assert err.getvalue().splitlines() == ['warning: no checkpoint given',
                                           'warning (DeprecationWarning): old option']


def test_init_weights_without_mmengines_per_parameter_report():
    """The INFO report of every parameter is dropped; warnings still go through."""
    import logging

    from mmengine.logging import MMLogger, print_log
    from mmengine.model import BaseModule

    from mmseg_baclip.utils.init_report import init_weights_without_report

    class Warns(BaseModule):
        def __init__(self):
            super().__init__(init_cfg=dict(type='Constant', layer='Linear', val=1.0))
            self.fc = torch.nn.Linear(2, 2)

        def init_weights(self):
            super().init_weights()
            print_log('a real warning', logger='current', level=logging.WARNING)

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_instance('test_init_report', log_level='INFO')  # now the current one
    logger.addHandler(handler)
    level = logger.level
    try:
        model = Warns()
        init_weights_without_report(model)
        messages = [r.getMessage() for r in records]
        assert messages == ['a real warning'], messages
        assert logger.level == level
        assert torch.equal(model.fc.weight, torch.ones(2, 2))  # the init itself ran
        Warns().init_weights()  # mmengine's own call reports each parameter: the check can fail
        assert any('fc.weight' in r.getMessage() for r in records[1:])
    finally:
        logger.removeHandler(handler)
