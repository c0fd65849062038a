"""--resume picks the newest complete checkpoint, names the broken ones it skips, and says so
loudly when there is nothing to resume."""
import os
import os.path as osp

import pytest
import torch

from engine_test_utils import tiny_cfg, train
from mmseg_baclip.engine import checkpoint_file_problem, find_resume_checkpoint


def save(path, value=0.0):
    torch.save({'state_dict': {'w': torch.full((64, ), value)}, 'meta': {}}, str(path))
    return str(path)


def truncate(path, keep=0.5):
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:int(len(data) * keep)])


def record(work_dir, path):
    (work_dir / 'last_checkpoint').write_text(str(path))


@pytest.mark.parametrize('damage', ['truncated', 'zero-byte'])
def test_newest_broken_checkpoint_is_skipped_and_named(tmp_path, damage):
    good = save(tmp_path / 'iter_2.pth')
    latest = save(tmp_path / 'iter_4.pth')
    truncate(latest, keep=0.5 if damage == 'truncated' else 0)
    record(tmp_path, latest)
    choice = find_resume_checkpoint(str(tmp_path))
    assert choice.path == good
    assert [path for path, _ in choice.skipped] == [latest]
    assert ('empty (0 bytes)' if damage == 'zero-byte' else 'truncated') in choice.skipped[0][1]


def test_record_naming_a_deleted_file_falls_back(tmp_path):
    good = save(tmp_path / 'epoch_1.pth')
    record(tmp_path, tmp_path / 'epoch_2.pth')  # what mmengine leaves after a failed save
    choice = find_resume_checkpoint(str(tmp_path))
    assert choice.path == good and choice.skipped[0][1] == 'file not found'


def test_complete_files_pass_the_check(tmp_path):
    assert checkpoint_file_problem(save(tmp_path / 'a.pth')) is None
    legacy = str(tmp_path / 'legacy.pth')
    torch.save({'w': torch.ones(3)}, legacy, _use_new_zipfile_serialization=False)
    assert checkpoint_file_problem(legacy) is None
    truncate(legacy)
    assert 'truncated' in checkpoint_file_problem(legacy)


def test_resume_in_an_empty_work_dir_warns_loudly(data_root, tmp_path):
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.warns(UserWarning, match='FROM SCRATCH') as record_:
        runner = train(tiny_cfg(data_root, str(empty), max_iters=1, interval=1),
                       str(tmp_path / 'c.py'), '--resume', name='resume_empty')
    message = next(str(w.message) for w in record_ if 'FROM SCRATCH' in str(w.message))
    assert str(empty) in message
    assert runner.iter == 1 and not runner._resume


def test_resume_with_only_broken_checkpoints_is_an_error(data_root, tmp_path):
    work = tmp_path / 'broken'
    work.mkdir()
    latest = save(work / 'iter_2.pth')
    truncate(latest, 0)
    with pytest.raises(SystemExit, match='no complete checkpoint') as err:
        train(tiny_cfg(data_root, str(work)), str(tmp_path / 'c.py'), '--resume',
              name='resume_broken')
    assert latest in str(err.value) and 'empty (0 bytes)' in str(err.value)
    assert sorted(f for f in os.listdir(work) if f.endswith('.pth')) == ['iter_2.pth']


def test_resume_from_a_zero_byte_file_names_it(data_root, tmp_path):
    empty = str(tmp_path / 'iter_9.pth')
    open(empty, 'wb').close()
    with pytest.raises(SystemExit, match='empty') as err:
        train(tiny_cfg(data_root, str(tmp_path / 'w')), str(tmp_path / 'c.py'), '--resume',
              empty, name='resume_zero_byte')
    assert empty in str(err.value) and 'Traceback' not in str(err.value)


def test_training_resumes_from_the_newest_complete_checkpoint(data_root, tmp_path):
    """A run whose last checkpoint was cut short (mmengine's plain hook, full disk) resumes from
    the one before, with a warning naming the broken file; before, the bare PytorchStreamReader
    traceback stopped it."""
    work = tmp_path / 'w'
    train(tiny_cfg(data_root, str(work), max_iters=2, interval=1), str(tmp_path / 'a.py'),
          name='fallback_first')
    latest = str(work / 'iter_2.pth')
    assert osp.realpath((work / 'last_checkpoint').read_text().strip()) == osp.realpath(latest)
    truncate(latest)
    with pytest.warns(UserWarning, match='skipped 1 broken checkpoint') as record_:
        runner = train(tiny_cfg(data_root, str(work), max_iters=3, interval=1),
                       str(tmp_path / 'b.py'), '--resume', name='fallback_resumed')
    message = next(str(w.message) for w in record_ if 'broken checkpoint' in str(w.message))
    assert latest in message and 'iter_1.pth' in message
    assert runner.iter == 3
    assert checkpoint_file_problem(latest) is None  # written again, completely
