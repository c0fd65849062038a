"""Work-arounds for known gaps in the pinned OpenMMLab stack, applied only when needed.

1. ``mmcv-lite`` ships no compiled ops, yet ``mmseg.models`` imports
   ``from mmcv.ops import point_sample`` at import time. When (and only when) the real
   ``mmcv.ops`` cannot be imported, :func:`install_mmcv_ops_fallback` registers a stand-in
   ``mmcv.ops`` module that answers only the names mmseg imports unguarded
   (:data:`MMSEG_UNGUARDED_OPS`): mmcv's own pure-PyTorch ``point_sample``, and a placeholder
   that raises a clear error when called for each compiled one. Every other name fails like it
   does with mmcv-lite alone, with a message that says so: ``from mmcv.ops import nms`` (and
   ``import mmcv.ops.nms``) raises ``ModuleNotFoundError`` (an ``ImportError``, as the real
   mmcv-lite raises; mmseg's own guards catch exactly ``ModuleNotFoundError``), and
   ``mmcv.ops.nms`` raises ``AttributeError`` (so ``hasattr`` and ``getattr(..., default)``
   work). So other packages' ``try: from mmcv.ops import X / except ImportError:`` fallbacks
   keep working. Users with a full mmcv keep theirs.

Nothing here edits site-packages.
"""
import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

_FALLBACK_FLAG = '_mmseg_baclip_fallback'

#: The names mmseg 1.2.x imports from ``mmcv.ops`` at module level outside any try/except, so
#: ``import mmseg.models`` and ``import mmseg.utils`` (which mmseg_baclip imports) fail without
#: them. The stand-in ``mmcv.ops`` answers these names and no other. Value: what it gives.
#:
#: * ``point_sample``: ``mmseg/models/decode_heads/san_head.py``,
#:   ``mmseg/models/utils/point_sample.py``, ``mmseg/utils/mask_classification.py``; mmcv's own
#:   pure-PyTorch implementation (``mmcv/ops/point_sample.py`` imports nothing compiled).
#: * ``sigmoid_focal_loss``: ``mmseg/models/losses/focal_loss.py``; a
#:   :class:`MissingCompiledOp` (mmseg's ``FocalLoss`` calls it only for CUDA tensors;
#:   mmseg_baclip does not use it).
#:
#: mmseg's other ``mmcv.ops`` imports are guarded: ``CrissCrossAttention`` (``cc_head.py``),
#: ``PSAMask`` (``psa_head.py``) and ``point_sample`` (``point_head.py``) by
#: ``except ModuleNotFoundError``, ``DeformConv2d`` / ``ModulatedDeformConv2d``
#: (``engine/optimizers/force_default_constructor.py``, inside a function) by
#: ``mmcv_full_available()``; likewise mmcv's own (``mmcv/cnn/bricks/transformer.py``:
#: ``mmcv.ops.multi_scale_deform_attn``, ``mmcv/utils/env.py``: ``get_compiler_version``).
MMSEG_UNGUARDED_OPS = {
    'point_sample': 'pure-PyTorch',
    'sigmoid_focal_loss': 'placeholder',
}

#: What to install for the compiled ops (the range mmseg 1.2.x accepts).
FULL_MMCV_HINT = ('install the full mmcv instead (it replaces the same mmcv/ folder): '
                  '`pip uninstall mmcv-lite` then `pip install "mmcv>=2.0.0rc4,<2.2.0"` '
                  '(a build with its compiled ops, MMCV_WITH_OPS=1, e.g. `mim install '
                  '"mmcv>=2.0.0rc4,<2.2.0"`)')


class MissingCompiledOp:
    """Placeholder for an mmcv op, listed in :data:`MMSEG_UNGUARDED_OPS`, that needs mmcv's
    compiled extension: importing it works (mmseg needs that), calling it raises.

    Args:
        name (str): The op name, e.g. ``'sigmoid_focal_loss'``.
    """

    def __init__(self, name: str):
        self.name = name

    def __call__(self, *args, **kwargs):
        raise RuntimeError(
            f'mmcv.ops.{self.name} needs the compiled mmcv extension, but only mmcv-lite is '
            f'installed. mmseg_baclip does not use it; if your own config does, '
            f'{FULL_MMCV_HINT}.')


def missing_op_message(name: str) -> str:
    """The message for an ``mmcv.ops`` name the stand-in does not provide.

    Args:
        name (str): The name after ``mmcv.ops.``, e.g. ``'nms'``.
    """
    return (f'mmcv.ops.{name} is not available: only mmcv-lite is installed, which has no '
            'compiled ops (mmseg_baclip\'s stand-in mmcv.ops provides only '
            f'{", ".join(sorted(MMSEG_UNGUARDED_OPS))}, for mmseg\'s imports). If you need '
            f'mmcv.ops.{name}, {FULL_MMCV_HINT}.')


class _FallbackOps(types.ModuleType):
    """The stand-in ``mmcv.ops`` module: unknown attributes raise a clear ``AttributeError``."""

    def __getattr__(self, name):
        if name.startswith('__'):
            raise AttributeError(name)
        raise AttributeError(missing_op_message(name), name=name, obj=self)


class _FallbackOpsFinder(importlib.abc.MetaPathFinder):
    """Makes ``import mmcv.ops.X`` and ``from mmcv.ops import X`` fail with the clear message.

    For ``from mmcv.ops import X``, Python first tries the submodule ``mmcv.ops.X`` and silently
    skips it if the ``ModuleNotFoundError`` names exactly that submodule, then fails with a bare
    "cannot import name" ``ImportError``. This finder, active only while the stand-in is
    ``sys.modules['mmcv.ops']``, raises instead a ``ModuleNotFoundError`` naming ``mmcv._ext``
    (the module mmcv-lite lacks, as the real mmcv-lite reports), which propagates.
    """

    def find_spec(self, fullname, path=None, target=None):
        if fullname.startswith('mmcv.ops.') and mmcv_ops_fallback_active():
            raise ModuleNotFoundError(missing_op_message(fullname[len('mmcv.ops.'):]),
                                      name='mmcv._ext')
        return None


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
    """Install the ``mmcv.ops`` stand-in if the real one cannot be imported.

    The stand-in answers the names in :data:`MMSEG_UNGUARDED_OPS` only; see the module
    docstring for how other names fail.

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

    ops = _FallbackOps('mmcv.ops', 'mmcv.ops stand-in installed by mmseg_baclip (mmcv-lite): '
                       f'only {", ".join(sorted(MMSEG_UNGUARDED_OPS))}.')
    for name in MMSEG_UNGUARDED_OPS:
        setattr(ops, name, MissingCompiledOp(name))
    ops.point_sample = point_sample_module.point_sample  # the one that is pure PyTorch
    ops.__path__ = []
    setattr(ops, _FALLBACK_FLAG, True)
    if not any(isinstance(finder, _FallbackOpsFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _FallbackOpsFinder())
    sys.modules['mmcv.ops'] = ops
    # mmcv.cnn warns at import that the deformable-attention op is missing: expected here.
    warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention``')
    sys.modules['mmcv.ops.point_sample'] = point_sample_module
    mmcv.ops = ops
    return True


def mmcv_ops_fallback_active() -> bool:
    """Whether the ``mmcv.ops`` stand-in is in use."""
    return bool(getattr(sys.modules.get('mmcv.ops'), _FALLBACK_FLAG, False))
