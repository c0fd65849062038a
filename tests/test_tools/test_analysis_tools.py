"""per_class_report.py and plot_curves.py on the output of a real tools/test.py run."""
import json
import os
import os.path as osp
import re
import shutil

import cv2
import pytest

from mmseg_baclip.evaluation import evaluate_predictions
from mmseg_baclip.evaluation.ovcos_measures import PAPER_KEYS
from test_apis.apis_test_utils import load_tool


@pytest.fixture(scope='module')
def report_tool():
    return load_tool('tools/analysis/per_class_report.py')


@pytest.fixture(scope='module')
def curves_tool():
    return load_tool('tools/analysis/plot_curves.py')


@pytest.fixture(scope='module')
def oracle_predictions(test_run, tiny_assets, tmp_path_factory):
    """The run's masks renamed with the true class: a second 'method' with non-zero scores."""
    with open(osp.join(tiny_assets.data_root, 'jsonfile', 'sample_info.json')) as f:
        gt_class = {s['unique_id']: s['base_class'] for s in json.load(f)}
    folder = tmp_path_factory.mktemp('oracle')
    for name in os.listdir(test_run.out):
        match = re.match(r'^\[(.*?)\](.*)$', name)
        if match:
            mask_name = match.group(2)
            shutil.copy(osp.join(test_run.out, name),
                        folder / f'[{gt_class[osp.splitext(mask_name)[0]]}]{mask_name}')
    return str(folder)


def test_test_run_wrote_predictions_and_pictures(test_run):
    names = os.listdir(test_run.out)
    assert len(names) == 6 and all(n.startswith('[') and n.endswith('.png') for n in names)
    for suffix in ('_per_class.json', '_per_class.csv'):  # beside the folder, not in it
        assert osp.isfile(test_run.out + suffix)
    pictures = [osp.join(root, f) for root, _, files in os.walk(test_run.pictures)
                for f in files if f.endswith('.png')]
    assert len(pictures) == 3  # max_images of OVCOSVisualizationHook
    assert all(cv2.imread(p) is not None for p in pictures)


def test_report_from_a_test_run(report_tool, test_run, tmp_path):
    summary = report_tool.main([test_run.out, '--out-dir', str(tmp_path), '--name', 'small'])
    for name in ('per_class.csv', 'per_class_report.md', 'hard_subset.json'):
        assert (tmp_path / name).stat().st_size > 0
    with open(test_run.out + '_per_class.json') as f:
        run = json.load(f)
    # image-weighted means of the per-class values are the run's overall values
    for key in PAPER_KEYS:
        assert summary['all']['small'][key] == pytest.approx(run['overall'][key], abs=1e-9)
    assert summary['all']['small']['num_images'] == 6
    assert len(summary['hard_classes']) == 1  # 25% of the 6 test classes, at least one
    markdown = (tmp_path / 'per_class_report.md').read_text(encoding='utf-8')
    assert '| class | #img |' in markdown and summary['hard_classes'][0] + ' *' in markdown
    with open(tmp_path / 'per_class.csv', encoding='utf-8') as f:
        assert len(f.read().strip().splitlines()) == 1 + len(run['per_class'])


def test_hard_subset_against_a_baseline(report_tool, test_run, oracle_predictions,
                                        tiny_assets, tmp_path):
    summary = report_tool.main([
        oracle_predictions, '--data-root', tiny_assets.data_root, '--baseline', test_run.out,
        '--baseline-name', 'random', '--name', 'oracle', '--out-dir', str(tmp_path),
        '--hard-fraction', '0.5', '--workers', '1'
    ])
    with open(test_run.out + '_per_class.json') as f:
        baseline_rows = {r['class']: r for r in json.load(f)['per_class']}
    expected = sorted(baseline_rows, key=lambda c: (baseline_rows[c]['cIoU'], c))[:3]
    assert summary['hard_classes'] == expected
    scored = evaluate_predictions(oracle_predictions, tiny_assets.data_root, workers=1)
    assert summary['all']['oracle']['cIoU'] == pytest.approx(
        scored['full_precision']['cIoU'], abs=1e-9)
    assert summary['all']['oracle']['acc'] == 1.0
    markdown = (tmp_path / 'per_class_report.md').read_text(encoding='utf-8')
    assert 'Hard subset vs baseline' in markdown and 'random cIoU' in markdown
    with pytest.raises(SystemExit, match='data-root'):
        report_tool.main([oracle_predictions, '--out-dir', str(tmp_path / 'x')])


def test_curves_of_two_runs(curves_tool, test_run, oracle_predictions, tiny_assets, tmp_path):
    results = curves_tool.main([
        f'{test_run.out}=small config', f'{oracle_predictions}=oracle class', '--data-root',
        tiny_assets.data_root, '--out-dir', str(tmp_path), '--workers', '1'
    ])
    for name in ('pr_curves.png', 'fmeasure_curves.png'):
        picture = cv2.imread(str(tmp_path / name))
        assert picture is not None and picture.shape[0] > 100
    with open(tmp_path / 'curves.json') as f:
        saved = json.load(f)
    assert set(saved['curves']) == {'small config', 'oracle class'}
    for label, folder in (('small config', test_run.out), ('oracle class', oracle_predictions)):
        curves = results[label]
        assert all(len(curves[k]) == 256 for k in ('precision', 'recall', 'fmeasure'))
        official = evaluate_predictions(folder, tiny_assets.data_root, workers=1)
        # the same numbers as the class-aware metric (cFb = avgfm, maxfm)
        assert curves['avgfm'] == pytest.approx(official['full_precision']['avgfm'], abs=1e-9)
        assert curves['maxfm'] == pytest.approx(official['full_precision']['maxfm'], abs=1e-9)
    assert results['oracle class']['maxfm'] > 0
    with pytest.raises(SystemExit, match='same label'):
        curves_tool.main([test_run.out, test_run.out, '--data-root', tiny_assets.data_root,
                          '--out-dir', str(tmp_path)])
