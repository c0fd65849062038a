"""tools/analysis/make_gallery.py on the output of a real tools/test.py run."""
import json
import os
import os.path as osp
import shutil

import cv2
import pytest

from test_apis.apis_test_utils import load_tool


@pytest.fixture(scope='module')
def gallery_tool():
    return load_tool('tools/analysis/make_gallery.py')


def test_random_predictions_are_failures(gallery_tool, test_run, tiny_assets, tmp_path):
    """The tiny random model names the 6 test images wrongly or misses them: all failures."""
    out = str(tmp_path / 'gallery.png')
    result = gallery_tool.main(['--pred', test_run.out, '--data-root', tiny_assets.data_root,
                                '--out', out, '--correct', '2', '--failures', '2',
                                '--tile', '64', '--per-row', '2'])
    assert result['num_images'] == 6
    assert result['correct'] + result['wrong_class'] + result['low_iou'] == 6
    shown_failures = [reason for _, reason in result['shown'] if reason is not None]
    assert len(result['shown']) == min(2, result['correct']) + min(2, 6 - result['correct'])
    assert all(r.startswith('named ') or r.startswith('mask IoU ') for r in shown_failures)
    image = cv2.imread(out)
    rows = (len(result['shown']) + 1) // 2
    assert image.shape[0] == rows * (gallery_tool.CAPTION_HEIGHT + 64 + gallery_tool.GAP) + \
        gallery_tool.CAPTION_HEIGHT


def test_ground_truth_as_predictions_are_all_correct(gallery_tool, tiny_assets, tmp_path):
    """GT masks renamed with the true class: IoU 1 and the right class, no failure."""
    root = tiny_assets.data_root
    with open(osp.join(root, 'jsonfile', 'sample_info.json')) as f:
        samples = json.load(f)
    with open(osp.join(root, 'jsonfile', 'class_info.json')) as f:
        test_classes = {c['name'] for c in json.load(f) if c['split'] == 'test'}
    pred = tmp_path / 'pred'
    pred.mkdir()
    for s in samples:
        if s['base_class'] in test_classes:
            mask = cv2.imread(osp.join(root, 'test', 'mask', s['mask']), cv2.IMREAD_GRAYSCALE)
            cv2.imwrite(str(pred / f'[{s["base_class"]}]{s["unique_id"]}.png'),
                        (mask > 0).astype('uint8') * 255)
    result = gallery_tool.main(['--pred', str(pred), '--data-root', root,
                                '--out', str(tmp_path / 'g.jpg'), '--failures', '1'])
    assert result['correct'] == result['num_images'] == 6
    assert result['wrong_class'] == result['low_iou'] == 0
    assert [reason for _, reason in result['shown']] == [None] * 6  # no failure to draw


def test_bad_arguments_and_inputs(gallery_tool, test_run, tiny_assets, tmp_path):
    base = ['--data-root', tiny_assets.data_root]
    with pytest.raises(SystemExit, match='no prediction'):
        empty = tmp_path / 'empty'
        empty.mkdir()
        gallery_tool.main(['--pred', str(empty), '--out', str(tmp_path / 'a.png')] + base)
    with pytest.raises(SystemExit, match='.jpg, .jpeg or .png'):
        gallery_tool.main(['--pred', test_run.out, '--out', str(tmp_path / 'a.gif')] + base)
    with pytest.raises(SystemExit):  # argparse: nothing to draw
        gallery_tool.main(['--pred', test_run.out, '--out', str(tmp_path / 'a.png'),
                           '--correct', '0', '--failures', '0'] + base)
    broken = tmp_path / 'broken'
    shutil.copytree(test_run.out, broken)
    name = sorted(os.listdir(broken))[0]
    (broken / name).write_bytes(b'not a png')
    with pytest.raises(SystemExit, match='cannot be read'):
        gallery_tool.main(['--pred', str(broken), '--out', str(tmp_path / 'b.png')] + base)
