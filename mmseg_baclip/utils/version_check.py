"""Import-time checks of the packages mmseg_baclip is tested with."""
from importlib import metadata

from packaging.version import Version

# package distribution name -> (minimum inclusive, maximum exclusive or None, import name)
SUPPORTED = {
    'torch': ('2.6.0', None),  # 2.4/2.5 cannot save the uint32 RNG state in checkpoints
    'mmengine': ('0.10.0', '1.0.0'),
    'mmcv-lite|mmcv': ('2.0.0rc4', '2.2.0'),
    'mmsegmentation': ('1.2.0', '2.0.0'),
    'open_clip_torch': ('2.24.0', '4.0.0'),
    'segment-anything|segment_anything': ('1.0', None),
    'pysodmetrics': ('1.6.0', None),
}

_INSTALL_HINT = ('Install the tested stack with `pip install -r requirements/lock.txt` from the '
                 'mmseg_baclip repository (see docs/install.md).')


def _installed_version(names: str):
    for name in names.split('|'):
        try:
            return name, metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return names.split('|')[0], None


def check_versions() -> None:
    """Raise an ImportError naming every missing or unsupported package."""
    problems = []
    for names, (low, high) in SUPPORTED.items():
        name, found = _installed_version(names)
        if found is None:
            wanted = f'>={low}' + (f',<{high}' if high else '')
            if names == 'mmcv-lite|mmcv':
                problems.append(f'neither mmcv nor mmcv-lite is installed (need {wanted}): '
                                'keep a full mmcv of that range if you have one, or install '
                                f'mmcv-lite: pip install "mmcv-lite{wanted}" (or pip install -e '
                                '".[mmcv-lite]" in the repository)')
            else:
                problems.append(f'{name} is not installed (need {wanted})')
            continue
        version = Version(found)
        if version < Version(low) or (high is not None and version >= Version(high)):
            problems.append(f'{name}=={found} is installed, but mmseg_baclip needs >={low}' +
                            (f',<{high}' if high else ''))
    if problems:
        raise ImportError('mmseg_baclip cannot run with this environment:\n  - ' +
                          '\n  - '.join(problems) + '\n' + _INSTALL_HINT)
