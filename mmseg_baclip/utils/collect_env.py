"""Print the environment: versions of the stack and which optional fast paths are available.

    baclip-collect-env        (or: python -m mmseg_baclip.utils.collect_env)
"""
import os
from importlib import metadata

PACKAGES = ('torch', 'torchvision', 'numpy', 'opencv-python', 'mmengine', 'mmcv', 'mmcv-lite',
            'mmsegmentation', 'mmpretrain', 'open_clip_torch', 'timm', 'segment-anything',
            'pysodmetrics', 'triton')


def collect_env() -> dict:
    """Versions and capabilities as an ordered dict of printable values."""
    import torch
    env = {}
    from mmengine.utils.dl_utils import collect_env as mmengine_env
    base = mmengine_env()
    for key in ('sys.platform', 'Python', 'CUDA available', 'GPU 0', 'PyTorch'):
        if key in base:
            env[key] = base[key]
    for name in PACKAGES:
        try:
            env[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            env[name] = 'not installed'
    import mmseg_baclip
    from mmseg_baclip.utils.compat import mmcv_ops_fallback_active
    env['mmseg_baclip'] = mmseg_baclip.__version__
    env['mmcv.ops'] = ('pure-PyTorch stand-in (mmcv-lite)' if mmcv_ops_fallback_active() else
                       'compiled mmcv ops')
    env['BACLIP_OPS_BACKEND'] = os.environ.get('BACLIP_OPS_BACKEND', 'auto (unset)')
    from mmseg_baclip.ops import resolve_backend, triton_available
    env['Triton kernels usable'] = triton_available()
    for device in ['cpu'] + (['cuda'] if torch.cuda.is_available() else []):
        for op in ('multi_freq_pool', 'bidirectional_attention'):
            try:
                choice = resolve_backend(op, torch.device(device), torch.float32)
            except RuntimeError as err:  # e.g. BACLIP_OPS_BACKEND=triton without a GPU
                choice = f'error: {err}'
            env[f'ops: {op} on {device}'] = choice
    env['CUDA (torch build)'] = torch.version.cuda or 'none'
    env['cuDNN'] = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else 'none'
    env['torch threads'] = torch.get_num_threads()
    return env


def main() -> None:
    for key, value in collect_env().items():
        print(f'{key}: {value}')


if __name__ == '__main__':
    main()
