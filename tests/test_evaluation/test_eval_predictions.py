"""Folder evaluation (tools/analysis/eval_predictions.py and its package code)."""
import importlib.util
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from mmseg_baclip.evaluation import (OFFICIAL_KEYS, MissingPredictionsError, PredictionNameError,
                                     evaluate_predictions, load_test_samples)
from mmseg_baclip.evaluation.folder_eval import parallel_map

ATOL = 1e-10
TOOL = osp.join(osp.dirname(__file__), '..', '..', 'tools', 'analysis', 'eval_predictions.py')


def _load_tool():
    spec = importlib.util.spec_from_file_location('eval_predictions_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_load_test_samples_keeps_test_split(tiny_ovcamo):
    samples = load_test_samples(tiny_ovcamo['root'])
    assert len(samples) == 8 and 'train_000.png' not in samples
    sample = samples['sample_004.png']
    assert sample.gt_class == 'moth'
    assert sample.mask_path == osp.join(tiny_ovcamo['mask_dir'], 'sample_004.png')
    overridden = load_test_samples(
        class_info=osp.join(tiny_ovcamo['root'], 'jsonfile', 'class_info.json'),
        sample_info=osp.join(tiny_ovcamo['root'], 'jsonfile', 'sample_info.json'),
        mask_dir='/elsewhere')
    assert overridden['sample_004.png'].mask_path == '/elsewhere/sample_004.png'
    with pytest.raises(FileNotFoundError, match='class_info.json'):
        load_test_samples('/nonexistent/root')


def _square(value):
    return value * value


@pytest.mark.parametrize('num', [0, 1, 7, 300])
def test_parallel_map_keeps_the_order(num):
    """Results come back in the order of the items, whatever the chunking (300 items: chunks
    of 8)."""
    items = list(range(num))
    expected = [x * x for x in items]
    assert parallel_map(_square, items, workers=2) == expected
    assert parallel_map(_square, items, workers=1) == expected


@pytest.mark.parametrize('workers', [1, 2])
def test_folder_matches_reference(ovcos_ref, tiny_ovcamo, workers):
    output = evaluate_predictions(tiny_ovcamo['pred_dir'], tiny_ovcamo['root'], workers=workers)
    expected = ovcos_ref.reference_results(tiny_ovcamo['items'])
    for key in OFFICIAL_KEYS:
        np.testing.assert_allclose(output['full_precision'][key], expected[key], rtol=0,
                                   atol=ATOL, err_msg=key)
        assert output['results'][key] == round(expected[key], 3)
    assert output['num_images'] == 8 and output['missing'] == []
    assert output['full_precision']['acc'] == pytest.approx(6 / 8)


def test_gt_binarised_above_zero_like_the_loader(ovcos_ref, tiny_ovcamo):
    # a GT stored with value 1 (not 255) is foreground for OVC's loader (> 0)
    mask_path = osp.join(tiny_ovcamo['mask_dir'], 'sample_000.png')
    gt = cv2.imread(mask_path, cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(mask_path, (gt > 0).astype(np.uint8))
    output = evaluate_predictions(tiny_ovcamo['pred_dir'], tiny_ovcamo['root'], workers=1)
    expected = ovcos_ref.reference_results(tiny_ovcamo['items'])
    np.testing.assert_allclose(output['full_precision']['sm'], expected['sm'], rtol=0, atol=ATOL)


def test_unknown_and_bad_names_are_errors(tiny_ovcamo):
    pred_dir = tiny_ovcamo['pred_dir']
    pred = np.zeros((40, 56), np.uint8)
    cv2.imwrite(osp.join(pred_dir, '[cat]not_a_sample.png'), pred)
    with pytest.raises(PredictionNameError, match=r'\[cat\]not_a_sample.png'):
        evaluate_predictions(pred_dir, tiny_ovcamo['root'], workers=1)


def test_unparsable_and_duplicate_names(tiny_ovcamo, tmp_path):
    pred = np.zeros((48, 40), np.uint8)
    bad_dir = tmp_path / 'bad'
    bad_dir.mkdir()
    cv2.imwrite(str(bad_dir / 'sample_000.png'), pred)
    with pytest.raises(PredictionNameError, match='does not follow'):
        evaluate_predictions(str(bad_dir), tiny_ovcamo['root'], workers=1)
    cv2.imwrite(osp.join(tiny_ovcamo['pred_dir'], '[frog]sample_000.png'), pred)
    with pytest.raises(PredictionNameError, match='second prediction'):
        evaluate_predictions(tiny_ovcamo['pred_dir'], tiny_ovcamo['root'], workers=1)


def test_missing_predictions(ovcos_ref, tiny_ovcamo):
    pred_dir = tiny_ovcamo['pred_dir']
    first = sorted(p for p in os.listdir(pred_dir))[0]
    os.remove(osp.join(pred_dir, first))
    with pytest.raises(MissingPredictionsError, match='1 of 8 test samples'):
        evaluate_predictions(pred_dir, tiny_ovcamo['root'], workers=1)
    output = evaluate_predictions(pred_dir, tiny_ovcamo['root'], workers=1, allow_missing=True)
    assert output['missing'] == [tiny_ovcamo['names'][0]] and output['num_images'] == 7
    expected = ovcos_ref.reference_results(tiny_ovcamo['items'][1:])
    np.testing.assert_allclose(output['full_precision']['avgiou'], expected['avgiou'], rtol=0,
                               atol=ATOL)


def test_non_images_ignored_and_size_mismatch(tiny_ovcamo):
    pred_dir = tiny_ovcamo['pred_dir']
    with open(osp.join(pred_dir, 'ovcos_per_class.json'), 'w') as f:
        f.write('{}')
    assert evaluate_predictions(pred_dir, tiny_ovcamo['root'], workers=1)['num_images'] == 8
    name = [n for n in os.listdir(pred_dir) if n.endswith('sample_000.png')][0]
    cv2.imwrite(osp.join(pred_dir, name), np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match='differs from the GT size'):
        evaluate_predictions(pred_dir, tiny_ovcamo['root'], workers=1)


def test_tool_writes_official_json(ovcos_ref, tiny_ovcamo, tmp_path, capsys):
    tool = _load_tool()
    out = tmp_path / 'out' / 'results.json'
    tool.main(['--pred', tiny_ovcamo['pred_dir'], '--data-root', tiny_ovcamo['root'], '--out',
               str(out), '--workers', '1', '--per-class', '--class-agnostic'])
    report = json.loads(out.read_text())
    assert set(OFFICIAL_KEYS) <= set(report)
    expected = ovcos_ref.reference_results(tiny_ovcamo['items'])
    for key in OFFICIAL_KEYS:
        assert report[key] == round(expected[key], 3)
        assert report['full_precision'][key] == pytest.approx(expected[key], abs=ATOL)
    assert report['full_precision']['cIoU'] == report['full_precision']['avgiou']
    assert report['num_images'] == 8 and report['missing'] == []
    assert [row['class'] for row in report['per_class']] == ['cat', 'frog', 'moth']
    assert report['agnostic']['sm'] > report['sm']
    printed = capsys.readouterr().out
    assert 'cIoU' in printed and 'moth' in printed

    cv2.imwrite(osp.join(tiny_ovcamo['pred_dir'], '[cat]unknown.png'), np.zeros((4, 4), np.uint8))
    with pytest.raises(SystemExit, match=r'unknown.png'):
        tool.main(['--pred', tiny_ovcamo['pred_dir'], '--data-root', tiny_ovcamo['root']])


def test_tool_checks_out_before_reading_data(tiny_ovcamo, tmp_path, capsys):
    """A bad ``--out`` (``/``, a folder) is an error naming it, before anything is scored."""
    tool = _load_tool()
    a_file = tmp_path / 'a_file'
    a_file.write_text('x')
    folder = tmp_path / 'results'
    folder.mkdir()
    for out in ('/', str(folder), f'{folder}{os.sep}', str(a_file / 'results.json')):
        with pytest.raises(SystemExit) as error:
            tool.main(['--pred', tiny_ovcamo['pred_dir'], '--data-root', tiny_ovcamo['root'],
                       '--out', out, '--workers', '1'])
        message = error.value.code
        assert isinstance(message, str) and message.startswith('error: --out'), message
        assert out.rstrip(os.sep) in message and '\n' not in message
        assert capsys.readouterr().out == ''  # nothing was scored
    assert os.listdir(folder) == []


def test_symlink_out_of_the_prediction_folder_is_refused(tiny_ovcamo, tmp_path):
    pred_dir = tiny_ovcamo['pred_dir']
    expected = evaluate_predictions(pred_dir, tiny_ovcamo['root'], workers=1)['full_precision']
    name = sorted(os.listdir(pred_dir))[0]
    outside = tmp_path / 'outside'
    outside.mkdir()
    target = outside / 'secret.png'
    os.replace(osp.join(pred_dir, name), target)
    os.symlink(str(target), osp.join(pred_dir, name))
    with pytest.raises(ValueError, match='outside the prediction folder') as error:
        evaluate_predictions(pred_dir, tiny_ovcamo['root'], workers=1)
    assert osp.join(pred_dir, name) in str(error.value) and str(target) in str(error.value)
    with pytest.raises(SystemExit, match='secret.png'):  # the tool: an error, no traceback
        _load_tool().main(['--pred', pred_dir, '--data-root', tiny_ovcamo['root'],
                           '--workers', '1'])
    # relative links that climb out are refused too; links that stay inside are read
    os.remove(osp.join(pred_dir, name))
    os.symlink(osp.join('..', 'outside', 'secret.png'), osp.join(pred_dir, name))
    with pytest.raises(ValueError, match='outside the prediction folder'):
        evaluate_predictions(pred_dir, tiny_ovcamo['root'], workers=1)
    os.remove(osp.join(pred_dir, name))
    os.mkdir(osp.join(pred_dir, 'store'))
    os.replace(target, osp.join(pred_dir, 'store', 'kept.png'))
    os.symlink(osp.join('store', 'kept.png'), osp.join(pred_dir, name))
    linked_folder = str(tmp_path / 'linked_preds')  # the folder itself may be a link
    os.symlink(pred_dir, linked_folder)
    for folder in (pred_dir, linked_folder):
        output = evaluate_predictions(folder, tiny_ovcamo['root'], workers=1)
        assert output['num_images'] == 8
        assert output['full_precision'] == pytest.approx(expected, abs=ATOL)
