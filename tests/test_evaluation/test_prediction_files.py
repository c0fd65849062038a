"""Prediction folders whose scores would be silently wrong, or whose problems would end in a
traceback: each is an error with a message naming the file."""
import importlib.util
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import METRICS
from mmseg.structures import SegDataSample

from mmseg_baclip.evaluation import evaluate_predictions
from mmseg_baclip.evaluation.prediction_files import PredictionFileError

TOOL = osp.join(osp.dirname(__file__), '..', '..', 'tools', 'analysis', 'eval_predictions.py')


def run_tool(argv):
    spec = importlib.util.spec_from_file_location('eval_predictions_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(argv)


def sample_info_path(root):
    return osp.join(root, 'jsonfile', 'sample_info.json')


def read_samples(root):
    with open(sample_info_path(root)) as f:
        return json.load(f)


def write_samples(root, samples):
    with open(sample_info_path(root), 'w') as f:
        json.dump(samples, f)


@pytest.fixture
def perfect(tiny_ovcamo, tmp_path):
    """A folder of perfect predictions (the GT, with the right class) for tiny_ovcamo."""
    pred_dir = tmp_path / 'perfect'
    pred_dir.mkdir()
    test_classes = {'cat', 'moth', 'frog'}
    for sample in read_samples(tiny_ovcamo['root']):
        if sample['base_class'] in test_classes:
            name = sample['unique_id'] + '.png'
            gt = cv2.imread(osp.join(tiny_ovcamo['mask_dir'], name), cv2.IMREAD_GRAYSCALE)
            cv2.imwrite(str(pred_dir / f'[{sample["base_class"]}]{name}'), gt)
    return str(pred_dir)


def test_perfect_predictions_score_one(tiny_ovcamo, perfect):
    output = evaluate_predictions(perfect, tiny_ovcamo['root'], workers=1)
    assert output['full_precision']['cSm'] == pytest.approx(1.0)
    assert output['full_precision']['acc'] == 1.0


def test_duplicate_test_unique_id_with_another_class_is_an_error(tiny_ovcamo, perfect):
    """If the last entry won (as in the official tool), a perfect prediction of sample_000 (cat)
    would score as a wrong class (frog), cSm 0.875: an error naming both classes instead."""
    samples = read_samples(tiny_ovcamo['root'])
    write_samples(tiny_ovcamo['root'], samples + [dict(samples[0], base_class='frog')])
    with pytest.raises(ValueError, match='sample_000.png') as err:
        evaluate_predictions(perfect, tiny_ovcamo['root'], workers=1)
    assert "'cat'" in str(err.value) and "'frog'" in str(err.value)
    assert sample_info_path(tiny_ovcamo['root']) in str(err.value)


def first_prediction(pred_dir):
    return osp.join(pred_dir, sorted(os.listdir(pred_dir))[0])


@pytest.mark.parametrize('kind', ['alpha-only', 'sixteen-bit'])
def test_predictions_the_8_bit_gray_reading_would_empty_are_errors(tiny_ovcamo, perfect, kind):
    path = first_prediction(perfect)
    pred = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if kind == 'alpha-only':  # black colours, the map in alpha: gray reading gives 0
        array = np.zeros(pred.shape + (4, ), np.uint8)
        array[..., 3] = pred
    else:  # 0..255 stored in 16 bits: the top 8 bits are 0
        array = pred.astype(np.uint16)
    cv2.imwrite(path, array)
    with pytest.raises(PredictionFileError, match='8-bit grayscale') as err:
        evaluate_predictions(perfect, tiny_ovcamo['root'], workers=1)
    assert path in str(err.value)


def test_class_name_with_a_bracket_reads_back(tmp_path):
    """tools/test.py --out (OVCOSMetric(output_dir=...)) writes '[a]b]s0.png' for the class
    'a]b'; the official pattern splits it at the first ']' and finds no sample 'b]s0.png'."""
    root = tmp_path / 'data'
    (root / 'jsonfile').mkdir(parents=True)
    (root / 'test' / 'mask').mkdir(parents=True)
    classes = ['a]b', 'owl']
    (root / 'jsonfile' / 'class_info.json').write_text(
        json.dumps([dict(name=c, split='test') for c in classes]))
    (root / 'jsonfile' / 'sample_info.json').write_text(json.dumps([
        dict(unique_id=f's{i}', base_class=c, image=f's{i}.jpg', mask=f's{i}.png')
        for i, c in enumerate(classes)]))
    metric = METRICS.build(dict(type='OVCOSMetric', output_dir=str(tmp_path / 'preds')))
    samples = []
    for index, name in enumerate(classes):
        gt = np.zeros((24, 32), np.uint8)
        gt[6:18, 8:20] = 255
        cv2.imwrite(str(root / 'test' / 'mask' / f's{index}.png'), gt)
        data_sample = SegDataSample()
        data_sample.gt_sem_seg = PixelData(data=torch.from_numpy(gt > 0).long()[None])
        data_sample.seg_logits = PixelData(
            data=torch.from_numpy((gt > 0).astype(np.float32) * 8 - 4)[None])
        data_sample.set_metainfo(dict(seg_map_path=f'/x/s{index}.png', class_name=name,
                                      pred_class=name))
        samples.append(data_sample.to_dict())
    metric.process({}, samples)
    assert osp.isfile(tmp_path / 'preds' / '[a]b]s0.png')
    output = evaluate_predictions(str(tmp_path / 'preds'), str(root), workers=1)
    assert output['full_precision']['acc'] == 1.0
    rows = {row['class']: row for row in output['summary']['per_class']}
    assert rows['a]b']['num_images'] == 1 and rows['a]b']['cSm'] == pytest.approx(1.0)


# ------------------------------------------------------------- messages, not tracebacks


def test_broken_prediction_file_is_a_message_naming_it(tiny_ovcamo, perfect):
    path = first_prediction(perfect)
    with open(path, 'wb') as f:
        f.write(b'not a png')
    with pytest.raises(SystemExit) as err:
        run_tool(['--pred', perfect, '--data-root', tiny_ovcamo['root'], '--workers', '1'])
    assert str(err.value).startswith('error: ') and path in str(err.value)


def test_non_utf8_json_is_a_message_naming_it(tiny_ovcamo, perfect):
    path = sample_info_path(tiny_ovcamo['root'])
    text = json.dumps(read_samples(tiny_ovcamo['root']))
    with open(path, 'wb') as f:
        f.write(text.encode('utf-16'))
    with pytest.raises(SystemExit) as err:
        run_tool(['--pred', perfect, '--data-root', tiny_ovcamo['root'], '--workers', '1'])
    assert str(err.value).startswith('error: ') and path in str(err.value)
    assert 'UTF-8' in str(err.value)
