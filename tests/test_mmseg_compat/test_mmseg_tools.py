"""mmseg's own ``tools/test.py`` with ``--out`` and ``--show-dir`` on a tree holding only the
test split, and a predictions folder in the format OVCamo's official ``evaluate.py`` reads."""
import json
import os
import os.path as osp
import re

import cv2
import pytest

from baclip_test_utils import REPO_ROOT
from test_mmseg_compat.compat_test_utils import run_script, run_upstream_tool

# The official evaluator reads every entry of the folder as "[<class>]<mask file name>" and looks
# the mask name up among the test samples ("<unique_id><mask extension>").
OFFICIAL_NAME = re.compile(r'^\[(.*?)\](.*?)$')


def _test_masks(data_root: str) -> dict:
    """``<unique_id><mask ext>`` -> GT mask path, for the test split."""
    with open(osp.join(data_root, 'jsonfile', 'class_info.json'), encoding='utf-8') as f:
        test_classes = {c['name'] for c in json.load(f) if c['split'] == 'test'}
    with open(osp.join(data_root, 'jsonfile', 'sample_info.json'), encoding='utf-8') as f:
        samples = [s for s in json.load(f) if s['base_class'] in test_classes]
    names = [s['unique_id'] + osp.splitext(s['mask'])[1] for s in samples]
    return {n: osp.join(data_root, 'test', 'mask', n) for n in names}


@pytest.mark.parametrize('tool', ['mmseg', 'mmseg_baclip'])
def test_test_tool_out_and_show_dir_on_test_split_only(upstream_trained, tool):
    """mmseg's tools/test.py (and ours) with --out and --show-dir; no train split on disk."""
    root = upstream_trained.root
    assert not osp.exists(osp.join(upstream_trained.test_only_root, 'train'))
    out, pictures = osp.join(root, tool, 'predictions'), osp.join(root, tool, 'pictures')
    args = (upstream_trained.test_only_config, upstream_trained.checkpoint, '--work-dir',
            osp.join(root, tool, 'work'), '--out', out, '--show-dir', pictures)
    if tool == 'mmseg':
        proc = run_upstream_tool('test', *args, cwd=root)
    else:
        proc = run_script(osp.join(REPO_ROOT, 'tools', 'test.py'), *args, cwd=root)
    assert 'cIoU' in proc.stdout + proc.stderr

    masks = _test_masks(upstream_trained.test_only_root)
    names = sorted(os.listdir(out))
    assert len(names) == len(masks) == 5  # nothing but the predictions
    vocabulary = set()
    for name in names:
        match = OFFICIAL_NAME.findall(name)
        assert match and match[0][1] in masks, name
        vocabulary.add(match[0][0])
        prediction = cv2.imread(osp.join(out, name), cv2.IMREAD_UNCHANGED)
        assert prediction.ndim == 2 and prediction.dtype == 'uint8'
        assert prediction.shape == cv2.imread(masks[match[0][1]], cv2.IMREAD_GRAYSCALE).shape
    with open(osp.join(upstream_trained.test_only_root, 'jsonfile', 'class_info.json')) as f:
        assert vocabulary <= {c['name'] for c in json.load(f) if c['split'] == 'test'}
    for suffix in ('_per_class.json', '_per_class.csv'):  # beside the folder
        assert osp.isfile(out + suffix)

    drawn = [osp.join(folder, f) for folder, _, files in os.walk(pictures) for f in files
             if f.endswith('.png')]
    assert len(drawn) == 5 and all(cv2.imread(p) is not None for p in drawn)
