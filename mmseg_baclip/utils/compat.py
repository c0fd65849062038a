"""Work-arounds for known gaps in the pinned OpenMMLab stack, applied only when needed.

1. ``mmcv-lite`` ships no compiled ops, yet ``mmseg.models`` imports
   ``from mmcv.ops import point_sample`` at import time. When (and only when) the real
   ``mmcv.ops`` cannot be imported, :func:`install_mmcv_ops_fallback` registers a stand-in
   ``mmcv.ops`` module that exposes mmcv's own pure-PyTorch ``point_sample`` and raises a clear
   error for every other (compiled) op when it is called. Users with a full mmcv keep theirs.

Nothing here edits site-packages.
"""
import importlib
import importlib.util
import sys
import types
import warnings

_FALLBACK_FLAG = '_mmseg_baclip_fallback'


class MissingCompiledOp:
    """Placeholder for an mmcv op that needs mmcv's compiled extension.

    Args:
        name (str): The op name, e.g. ``'RoIAlign'``.
    """

    def __init__(self, name: str):
        self.name = name

    def __call__(self, *args, **kwargs):
        raise RuntimeError(
            f'mmcv.ops.{self.name} needs the compiled mmcv extension, but only mmcv-lite is '
            'installed. mmseg_baclip does not use it; if your own config does, install the full '
            'mmcv (e.g. `pip install "mmcv>=2.0.0rc4,<2.2.0"` built with MMCV_WITH_OPS=1).')


def _real_mmcv_ops_importable() -> bool:
    if 'mmcv.ops' in sys.modules:
        return True
    if importlib.util.find_spec('mmcv') is None:
        return False
    try:
        importlib.import_module('mmcv.ops')
        return True
    except (ImportError, OSError):
        # A failed package import leaves no half-initialised module behind in 3.11, but be safe.
        sys.modules.pop('mmcv.ops', None)
        return False


def install_mmcv_ops_fallback() -> bool:
    """Install the pure-PyTorch ``mmcv.ops`` stand-in if the real one cannot be imported.

    Returns:
        bool: True if the stand-in was installed (or already was), False if the real
        ``mmcv.ops`` is in use.
    """
    existing = sys.modules.get('mmcv.ops')
    if existing is not None:
        return bool(getattr(existing, _FALLBACK_FLAG, False))
    if _real_mmcv_ops_importable():
        return False
    import mmcv
    # mmcv/ops/point_sample.py imports nothing compiled: load that file on its own.
    spec = importlib.util.find_spec('mmcv')
    path = spec.submodule_search_locations[0] + '/ops/point_sample.py'
    ps_spec = importlib.util.spec_from_file_location('mmcv.ops.point_sample', path)
    point_sample_module = importlib.util.module_from_spec(ps_spec)
    ps_spec.loader.exec_module(point_sample_module)

    class _FallbackOps(types.ModuleType):

        def __getattr__(self, name):
            if name.startswith('__'):
                raise AttributeError(name)
            return MissingCompiledOp(name)

    ops = _FallbackOps('mmcv.ops', 'mmcv.ops stand-in installed by mmseg_baclip (mmcv-lite).')
    ops.point_sample = point_sample_module.point_sample
    ops.__path__ = []
    setattr(ops, _FALLBACK_FLAG, True)
    sys.modules['mmcv.ops'] = ops
    # mmcv.cnn warns at import that the deformable-attention op is missing: expected here.
    warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention``')
    sys.modules['mmcv.ops.point_sample'] = point_sample_module
    mmcv.ops = ops
    return True


def mmcv_ops_fallback_active() -> bool:
    """Whether the pure-PyTorch ``mmcv.ops`` stand-in is in use."""
    return bool(getattr(sys.modules.get('mmcv.ops'), _FALLBACK_FLAG, False))
