"""tools/publish_model.py on hostile inputs: one-line ``error: ...`` messages, no traceback.

The checkpoint is the tiny assets' mmengine-format BaCLIP checkpoint (``{'state_dict',
'meta'}``); the broken ones are made from it the way they happen: a copy cut short, an archive
whose member names were rewritten to leave it (zip-slip), a state dict of another model.
"""
import os
import os.path as osp
import zipfile

import pytest
import torch

from test_apis.apis_test_utils import load_tool


@pytest.fixture(scope='module')
def publish():
    return load_tool('tools/publish_model.py')


@pytest.fixture(scope='module')
def checkpoint(tiny_assets):
    return tiny_assets.checkpoint


def refused(publish, argv) -> str:
    """The tool's error message (a string exit code: printed alone, no traceback)."""
    with pytest.raises(SystemExit) as error:
        publish.main(argv)
    message = error.value.code
    assert isinstance(message, str) and message.startswith('error: '), message
    assert '\n' not in message and 'Traceback' not in message
    return message


def test_out_file_is_checked_before_the_checkpoint_is_read(publish, checkpoint, tmp_path):
    folder = tmp_path / 'some_folder'
    folder.mkdir()
    a_file = tmp_path / 'a_file'
    a_file.write_text('x')
    cases = [
        f'{folder}{os.sep}',  # today: some_folder/-<hash>.pth
        str(folder),  # an existing folder
        str(folder / '.pth'),  # an empty file name before .pth
        str(a_file / 'model.pth'),  # the parent is a file
        str(a_file / 'deeper' / 'model.pth'),
    ]
    for out in cases:
        message = refused(publish, [checkpoint, out])
        assert out.rstrip(os.sep) in message, message
        # the same error for a checkpoint that does not exist: the output is checked first
        assert refused(publish, [str(tmp_path / 'gone.pth'), out]) == message
    assert os.listdir(folder) == [] and sorted(os.listdir(tmp_path)) == ['a_file', 'some_folder']


@pytest.mark.parametrize('keep', [0.5, 0.999])
def test_truncated_checkpoint(publish, checkpoint, tmp_path, keep):
    with open(checkpoint, 'rb') as f:
        data = f.read()
    cut = tmp_path / 'cut.pth'
    cut.write_bytes(data[:int(len(data) * keep)])
    message = refused(publish, [str(cut), str(tmp_path / 'out' / 'model.pth')])
    assert str(cut) in message and 'truncated' in message
    assert not (tmp_path / 'out').exists()


def test_zip_slip_checkpoint(publish, checkpoint, tmp_path):
    """A torch zip whose member names climb out of the archive (``../``): refused unread."""
    crafted = tmp_path / 'slip.pth'
    with zipfile.ZipFile(checkpoint) as source, zipfile.ZipFile(crafted, 'w') as target:
        for info in source.infolist():
            target.writestr('../../' + info.filename, source.read(info))
    message = refused(publish, [str(crafted), str(tmp_path / 'out' / 'model.pth')])
    assert str(crafted) in message and "'../../" in message and 'zip-slip' in message
    # one member alone is enough
    crafted = tmp_path / 'slip_one.pth'
    with zipfile.ZipFile(checkpoint) as source, zipfile.ZipFile(crafted, 'w') as target:
        for info in source.infolist():
            name = info.filename
            if name.endswith('/data.pkl'):
                name = name.replace('/data.pkl', '/../data.pkl')
            target.writestr(name, source.read(info))
    message = refused(publish, [str(crafted), str(tmp_path / 'out' / 'model.pth')])
    assert str(crafted) in message and '/../data.pkl' in message
    assert not (tmp_path / 'out').exists()


def foreign_checkpoints(tmp_path, checkpoint):
    """Checkpoints in the mmengine format whose state dicts are not BaCLIP's."""
    baclip = torch.load(checkpoint, map_location='cpu', weights_only=True)['state_dict']
    resnet = {'conv1.weight': torch.randn(4, 3, 7, 7), 'bn1.running_mean': torch.zeros(4),
              'fc.weight': torch.randn(2, 4), 'fc.bias': torch.zeros(2)}
    mixed = dict(baclip, **{'auxiliary_head.conv_seg.weight': torch.randn(2, 4, 1, 1)})
    files = {}
    for name, state in (('resnet', resnet), ('mixed', mixed),
                        ('ddp_resnet', {f'module.{k}': v for k, v in resnet.items()})):
        files[name] = str(tmp_path / f'{name}.pth')
        torch.save({'state_dict': state, 'meta': {}}, files[name])
    return files, resnet


def test_foreign_state_dict_is_refused(publish, checkpoint, tiny_assets, tmp_path):
    files, _ = foreign_checkpoints(tmp_path, checkpoint)
    out = str(tmp_path / 'out' / 'model.pth')
    for name in ('resnet', 'ddp_resnet'):
        message = refused(publish, [files[name], out])
        assert files[name] in message and 'BaCLIP' in message and '--allow-foreign' in message
        assert ("'module.fc.weight'" if name == 'ddp_resnet' else "'fc.weight'") in message
    message = refused(publish, [files['mixed'], out])
    assert "'auxiliary_head.conv_seg.weight'" in message and '1 of its' in message
    # with --config: the model's own modules
    message = refused(publish, [files['resnet'], out, '--config', tiny_assets.config])
    assert files['resnet'] in message and "'conv1.weight'" in message
    # empty, or without a tensor: refused even with --allow-foreign
    for name, state in (('empty', {}), ('no_tensor', {'decode_head.scale': 1.0})):
        path = str(tmp_path / f'{name}.pth')
        torch.save({'state_dict': state, 'meta': {}}, path)
        for extra in ([], ['--allow-foreign']):
            message = refused(publish, [path, out] + extra)
            assert path in message and 'nothing to publish' in message
    assert not (tmp_path / 'out').exists()


def test_foreign_state_dict_with_allow_foreign(publish, checkpoint, tmp_path, capsys):
    files, resnet = foreign_checkpoints(tmp_path, checkpoint)
    path = publish.main([files['resnet'], str(tmp_path / 'out' / 'resnet.pth'),
                         '--allow-foreign'])
    published = torch.load(path, map_location='cpu', weights_only=True)
    assert set(published['state_dict']) == set(resnet)
    for key, value in resnet.items():
        assert torch.equal(published['state_dict'][key], value), key
    err = capsys.readouterr().err
    assert 'warning:' in err and files['resnet'] in err and 'does not look like a BaCLIP' in err
    # a BaCLIP checkpoint is published without the flag, and without that warning
    path = publish.main([checkpoint, str(tmp_path / 'out' / 'baclip.pth')])
    assert osp.isfile(path) and 'does not look like' not in capsys.readouterr().err
