"""The mmcv.ops stand-in (mmcv-lite) answers only the names mmseg imports unguarded."""
import subprocess
import sys
import textwrap

import pytest
import torch

from baclip_test_utils import REPO_ROOT
from mmseg_baclip.utils import compat

needs_stand_in = pytest.mark.skipif(
    not compat.mmcv_ops_fallback_active(),
    reason='a compiled mmcv is installed: the stand-in is (correctly) not used '
           '(test_stand_in_on_a_simulated_mmcv_lite covers it)')


@needs_stand_in
def test_unlisted_op_raises_import_error_with_what_to_install():
    with pytest.raises(ImportError, match=r'mmcv\.ops\.nms is not available: only mmcv-lite.*'
                                          r'pip install "mmcv>=2\.0\.0rc4,<2\.2\.0"') as info:
        from mmcv.ops import nms  # noqa: F401
    # mmcv-lite alone raises ModuleNotFoundError (mmcv._ext): mmseg's own guards catch exactly it
    assert isinstance(info.value, ModuleNotFoundError) and info.value.name == 'mmcv._ext'
    with pytest.raises(ModuleNotFoundError, match=r'mmcv\.ops\.nms is not available'):
        import mmcv.ops.nms  # noqa: F401
    with pytest.raises(ImportError, match=r'mmcv\.ops\.RoIAlign is not available'):
        from mmcv.ops import RoIAlign  # noqa: F401


@needs_stand_in
def test_unlisted_op_is_a_missing_attribute():
    import mmcv.ops
    with pytest.raises(AttributeError, match=r'mmcv\.ops\.nms is not available.*mmcv-lite'):
        mmcv.ops.nms
    assert not hasattr(mmcv.ops, 'nms')
    assert getattr(mmcv.ops, 'nms', None) is None


@needs_stand_in
def test_listed_ops_still_import():
    from mmcv.ops import point_sample, sigmoid_focal_loss
    assert set(compat.MMSEG_UNGUARDED_OPS) == {'point_sample', 'sigmoid_focal_loss'}
    assert point_sample(torch.rand(1, 2, 4, 4), torch.rand(1, 3, 2)).shape == (1, 2, 3)
    with pytest.raises(RuntimeError, match='sigmoid_focal_loss needs the compiled mmcv'):
        sigmoid_focal_loss(torch.rand(2, 3), torch.tensor([0, 1]))
    from mmcv.ops.point_sample import point_sample as same
    assert same is point_sample


@needs_stand_in
def test_try_except_import_error_fallbacks_work():
    try:
        from mmcv.ops import nms
    except ImportError:
        nms = None
    assert nms is None
    # mmseg's and mmcv's own guards (``except ModuleNotFoundError``) take their fallback too
    from mmcv.utils import collect_env
    from mmseg.models.decode_heads import cc_head, psa_head
    assert cc_head.CrissCrossAttention is None and psa_head.PSAMask is None
    assert collect_env()['MMCV Compiler'] == 'n/a'


def test_stand_in_on_a_simulated_mmcv_lite():
    """Runs anywhere: ``mmcv._ext`` hidden, as with mmcv-lite (or mmcv-lite itself)."""
    code = textwrap.dedent("""
        import sys
        sys.modules['mmcv._ext'] = None  # no compiled extension, whichever mmcv is installed
        import mmseg_baclip
        import mmseg.models
        from mmseg_baclip.utils.compat import mmcv_ops_fallback_active
        assert mmcv_ops_fallback_active()
        from mmcv.ops import point_sample, sigmoid_focal_loss
        try:
            from mmcv.ops import nms
        except ImportError as err:
            print('ImportError:', err)
        else:
            raise AssertionError('nms imported')
        """)
    out = subprocess.run([sys.executable, '-c', code], cwd=REPO_ROOT, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert 'ImportError: mmcv.ops.nms is not available: only mmcv-lite' in out.stdout
