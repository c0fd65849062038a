from .compat import install_mmcv_ops_fallback, mmcv_ops_fallback_active
from .version_check import check_versions

__all__ = ['install_mmcv_ops_fallback', 'mmcv_ops_fallback_active', 'check_versions']
