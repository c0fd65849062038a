from setuptools import find_packages, setup


#: The mmcv range mmseg 1.2.x accepts, for the 'mmcv-lite' extra (a full mmcv in this range
#: works too).
MMCV_LITE = 'mmcv-lite>=2.0.0rc4,<2.2.0'


def read_version():
    scope = {}
    with open('mmseg_baclip/version.py') as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='mmseg_baclip',
    version=read_version(),
    description='BaCLIP open-vocabulary camouflaged object segmentation as an MMSegmentation 1.x plugin',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    python_requires='>=3.9',
    packages=find_packages(include=['mmseg_baclip', 'mmseg_baclip.*']),
    package_data={'mmseg_baclip': ['models/clip_model_configs/*.json']},
    install_requires=[
        # 2.6: the lowest that works (tested). torch 2.4 and 2.5 cannot torch.save the uint32
        # RNG state in every checkpoint (KeyError: 'dtype torch.uint32 is not recognized').
        'torch>=2.6',
        'numpy>=1.24',
        'opencv-python>=4.8',
        'mmengine>=0.10.0,<1.0',
        # mmcv: not required here. The full mmcv (compiled ops) and mmcv-lite install the same
        # mmcv/ folder, so requiring one would replace the other in an existing mmseg
        # environment. Either works (checked at import); a new environment installs mmcv-lite
        # with the extra: pip install -e ".[mmcv-lite]".
        'mmsegmentation>=1.2.0,<2.0',
        'open_clip_torch>=2.24.0,<4.0',
        'timm>=0.9.12',
        'segment-anything>=1.0',
        'pysodmetrics>=1.6.0',
        'ftfy',
        'regex',
        'setuptools<81',
    ],
    extras_require={
        'mmcv-lite': [MMCV_LITE],
        'tests': ['pytest>=7'],
        'reuse': ['mmpretrain>=1.2.0', 'torchvision'],
        'web': ['gradio>=6.0,<7'],
    },
    entry_points={
        'console_scripts': ['baclip-collect-env=mmseg_baclip.utils.collect_env:main'],
    },
    license='Apache-2.0',
)
