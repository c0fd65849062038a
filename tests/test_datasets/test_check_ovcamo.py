"""tools/dataset_converters/check_ovcamo.py on good and broken trees."""
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest

from mmseg_baclip.datasets import check_ovcamo
from ovcamo_test_utils import (add_sample, corrupt, image_path, mask_path, read_json,
                               split_entries, write_png)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO_ROOT, 'tools', 'dataset_converters', 'check_ovcamo.py')


@pytest.fixture
def cli(monkeypatch):
    monkeypatch.syspath_prepend(osp.dirname(TOOL))
    sys.modules.pop('check_ovcamo', None)
    import check_ovcamo as module
    return module


def test_good_tree_passes(synthetic_root, cli, capsys):
    assert cli.main([synthetic_root]) == 0
    out = capsys.readouterr().out
    assert 'OK: no problems found.' in out
    assert '[train] 6 usable samples, 6/14 classes' in out
    assert '[test] 4 usable samples, 4/61 classes' in out
    for s in read_json(synthetic_root, 'sample_info.json'):
        assert s['base_class'] in out
    report = check_ovcamo(synthetic_root)
    assert report.ok and sum(report.counts['train'].values()) == 6


def break_tree(root):
    train, test = split_entries(root, 'train'), split_entries(root, 'test')
    missing = image_path(root, 'train', train[0])
    os.remove(missing)
    unreadable = mask_path(root, 'test', test[1])
    corrupt(unreadable)
    mismatched = mask_path(root, 'train', train[1])
    h, w = cv2.imread(mismatched, cv2.IMREAD_UNCHANGED).shape
    write_png(mismatched, np.zeros((h + 3, w), np.uint8))
    add_sample(root, 'train', 'ghost_001', 'unicorn')
    add_sample(root, 'test', 'ghost_002', 'unicorn')
    return missing, unreadable, mismatched, (h, w)


def test_broken_tree_reports_every_problem(ovcamo_root, cli, capsys):
    missing, unreadable, mismatched, (h, w) = break_tree(ovcamo_root)
    assert cli.main([ovcamo_root]) == 1
    out = capsys.readouterr().out
    assert f'image {missing}: file not found' in out
    assert f'mask {unreadable}: cannot be read' in out
    assert mismatched in out and f'{h}x{w}' in out and f'{h + 3}x{w}' in out
    assert "'unicorn': 2 sample(s)" in out
    assert 'FAILED: 4 problem(s) found.' in out
    assert '[train] 5 usable samples' in out  # 6 - missing image; the mismatch is still usable

    report = check_ovcamo(ovcamo_root, allow_size_mismatch=True)
    assert report.num_problems == 3 and len(report.size_mismatches) == 1


def test_dataset_and_checker_agree_on_bad_files(ovcamo_root):
    from mmseg.registry import DATASETS
    from mmseg_baclip.datasets import OVCamoDataError
    break_tree(ovcamo_root)
    report = check_ovcamo(ovcamo_root)
    for split in ('train', 'test'):
        with pytest.raises(OVCamoDataError) as err:
            DATASETS.build(dict(type='OVCamoDataset', data_root=ovcamo_root, split=split))
        file_problems = [p for p in err.value.problems if 'unicorn' not in p]
        assert file_problems == report.bad_files[split]


def test_train_test_leak_is_reported(ovcamo_root, cli, capsys):
    train = split_entries(ovcamo_root, 'train')[0]
    test_class = split_entries(ovcamo_root, 'test')[0]['base_class']
    add_sample(ovcamo_root, 'test', train['unique_id'], test_class)
    assert cli.main([ovcamo_root]) == 1
    out = capsys.readouterr().out
    assert 'train/test leak' in out and train['unique_id'] in out


def test_missing_json_and_custom_paths(ovcamo_root, cli, capsys):
    os.rename(osp.join(ovcamo_root, 'jsonfile'), osp.join(ovcamo_root, 'meta'))
    assert cli.main([ovcamo_root]) == 1
    assert 'class_info.json not found' in capsys.readouterr().out
    assert cli.main([ovcamo_root, '--class-info', 'meta/class_info.json', '--sample-info',
                     osp.join(ovcamo_root, 'meta', 'sample_info.json')]) == 0


def test_script_runs_as_a_command(ovcamo_root, tmp_path):
    os.remove(image_path(ovcamo_root, 'test', split_entries(ovcamo_root, 'test')[0]))
    proc = subprocess.run([sys.executable, TOOL, ovcamo_root, '--exists-only'], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert 'file not found' in proc.stdout and 'FAILED: 1 problem(s)' in proc.stdout
