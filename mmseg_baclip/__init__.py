"""mmseg_baclip: BaCLIP open-vocabulary camouflaged object segmentation for MMSegmentation 1.x.

Importing the package registers every component in mmseg's registries (``MODELS``,
``DATASETS``, ``TRANSFORMS``, ``METRICS``). Configs load it with
``custom_imports = dict(imports=['mmseg_baclip'], allow_failed_imports=False)``.
"""
from .utils.version_check import check_versions

check_versions()

from .utils.compat import install_mmcv_ops_fallback  # noqa: E402

install_mmcv_ops_fallback()

from . import apis, datasets, engine, evaluation, models, visualization  # noqa: E402,F401
from .version import __version__  # noqa: E402

__all__ = ['__version__']
