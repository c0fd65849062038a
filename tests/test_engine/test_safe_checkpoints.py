"""BaCLIPRunner: checkpoints load with weights_only=True on every scheme; code in a crafted
checkpoint never runs; a checkpoint of another architecture is refused naming the keys."""
import os
import os.path as osp
import pickle

import pytest
import torch
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint
from mmseg.registry import MODELS

from baclip_test_utils import tiny_baclip_cfg
from engine_test_utils import test_tool, tiny_cfg, train, write_cfg
from mmseg_baclip.engine import (CheckpointMismatchError, UnsafeCheckpointError, check_loaded,
                                 compare_state_dicts, load_checkpoint_file)
from mmseg_baclip.models.utils import load_clip_state_dict


class RunsCode:
    """Unpickling this runs ``touch <marker>`` (what a malicious checkpoint would do)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


@pytest.fixture
def evil(tmp_path):
    """A checkpoint whose unpickling creates ``marker``; returns (path, marker)."""
    marker = tmp_path / 'code_ran'
    path = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {'w': torch.zeros(1)}, 'meta': RunsCode(marker)}, path)
    assert not marker.exists()
    return path, marker


@pytest.fixture(scope='module')
def trained(data_root, tmp_path_factory):
    """A real 2-iteration training run: (config path, work dir)."""
    work = tmp_path_factory.mktemp('trained')
    cfg_path = str(work / 'cfg.py')
    train(tiny_cfg(data_root, str(work), max_iters=2, interval=2), cfg_path, name='safe_trained')
    return cfg_path, str(work)


# ------------------------------------------------------------------------------ what we write
def test_every_checkpoint_we_write_loads_weights_only(trained):
    _, work = trained
    ckpt = torch.load(osp.join(work, 'iter_2.pth'), map_location='cpu', weights_only=True)
    assert {'meta', 'state_dict', 'message_hub', 'optimizer', 'param_schedulers',
            'rng_state'} <= set(ckpt)
    assert ckpt['optimizer']['state']  # AdamW moments really saved
    assert ckpt['param_schedulers'][0]['last_step'] >= 1


def test_without_the_conversion_mmengine_checkpoints_need_unsafe_loading(data_root, tmp_path):
    """Control, and plain mmengine checkpoints: mmengine's own checkpoint is refused by the safe
    loader, and --unsafe-load (trusted files only) loads it."""
    cfg = tiny_cfg(data_root, str(tmp_path / 'w'), max_iters=1, interval=1)
    cfg.pop('runner_type')  # plain mmengine's Runner
    cfg.custom_hooks = []
    cfg.default_hooks.checkpoint.type = 'CheckpointHook'
    cfg.experiment_name = 'plain_mmengine'
    Runner.from_cfg(cfg).train()
    old = str(tmp_path / 'w' / 'iter_1.pth')
    with pytest.raises(pickle.UnpicklingError):
        torch.load(old, map_location='cpu', weights_only=True)
    cfg_path = write_cfg(tiny_cfg(data_root, str(tmp_path / 't')), str(tmp_path / 't.py'))
    with pytest.raises(UnsafeCheckpointError, match='--unsafe-load'):
        test_tool(cfg_path, old, name='old_safe')
    with pytest.warns(UserWarning, match='UNSAFE CHECKPOINT LOADING'):
        metrics = test_tool(cfg_path, old, '--unsafe-load', name='old_unsafe')
    assert 'cIoU' in metrics


def test_test_tool_and_resume_load_our_checkpoint_safely(trained, data_root, tmp_path):
    cfg_path, work = trained
    metrics = test_tool(cfg_path, osp.join(work, 'iter_2.pth'), '--work-dir',
                        str(tmp_path / 't'), name='safe_test')
    assert 'cIoU' in metrics
    runner = train(tiny_cfg(data_root, str(tmp_path / 'r'), max_iters=3, interval=3),
                   str(tmp_path / 'r.py'), '--resume', osp.join(work, 'iter_2.pth'),
                   name='safe_resume')
    assert runner.iter == 3


# ------------------------------------------------------------------------------ crafted files
def test_crafted_checkpoint_is_refused_by_test_tool_and_code_does_not_run(evil, trained):
    path, marker = evil
    cfg_path, _ = trained
    with pytest.raises(UnsafeCheckpointError) as err:
        test_tool(cfg_path, path, name='evil_test')
    msg = str(err.value)
    assert 'system' in msg and path in msg and '--unsafe-load' in msg
    assert not marker.exists()


@pytest.mark.parametrize('how', ['resume', 'load_from'])
def test_crafted_checkpoint_is_refused_by_train_tool(evil, data_root, tmp_path, how):
    path, marker = evil
    cfg = tiny_cfg(data_root, str(tmp_path / 'w'), max_iters=1, interval=1)
    args = ['--resume', path] if how == 'resume' else ['--cfg-options', f'load_from={path}']
    with pytest.raises(UnsafeCheckpointError):
        if how == 'resume':
            train(cfg, str(tmp_path / 'c.py'), *args, name=f'evil_{how}')
        else:
            cfg.load_from = path
            train(cfg, str(tmp_path / 'c.py'), name=f'evil_{how}')
    assert not marker.exists()
    assert not osp.exists(tmp_path / 'w' / 'iter_1.pth')  # nothing trained


@pytest.fixture
def evil_in_hub_cache(evil, tmp_path, monkeypatch):
    """The crafted checkpoint as torch.hub would have cached ``EVIL_URL`` (no network needed):
    returns (url, cached path, marker)."""
    path, marker = evil
    hub = tmp_path / 'hub'
    monkeypatch.setattr(torch.hub, '_hub_dir', str(hub))  # what torch.hub.set_dir does
    (hub / 'checkpoints').mkdir(parents=True)
    cached = hub / 'checkpoints' / 'evil.pth'
    cached.write_bytes(open(path, 'rb').read())
    return 'https://example.invalid/models/evil.pth', str(cached), marker


def test_crafted_checkpoint_url_is_refused_by_test_tool(evil_in_hub_cache, trained):
    """torch.hub's loader passes weights_only=False explicitly: a URL must not reach it."""
    url, cached, marker = evil_in_hub_cache
    cfg_path, _ = trained
    with pytest.raises(UnsafeCheckpointError) as err:
        test_tool(cfg_path, url, name='evil_url_test')
    assert url in str(err.value) and cached in str(err.value)
    assert not marker.exists()


def test_crafted_checkpoint_url_is_refused_through_load_from(evil_in_hub_cache, data_root,
                                                             tmp_path):
    url, _, marker = evil_in_hub_cache
    cfg = tiny_cfg(data_root, str(tmp_path / 'w'), max_iters=1, interval=1)
    cfg.load_from = url
    with pytest.raises(UnsafeCheckpointError):
        train(cfg, str(tmp_path / 'c.py'), name='evil_url_load_from')
    assert not marker.exists()
    assert not osp.exists(tmp_path / 'w' / 'iter_1.pth')


def test_crafted_checkpoint_url_is_refused_by_load_checkpoint_file(evil_in_hub_cache):
    url, _, marker = evil_in_hub_cache
    with pytest.raises(UnsafeCheckpointError):
        load_checkpoint_file(url)
    assert not marker.exists()


def test_checkpoint_url_in_hub_cache_loads(trained, tmp_path, monkeypatch):
    """Control: a good checkpoint cached for a URL tests like its local file."""
    cfg_path, work = trained
    hub = tmp_path / 'hub'
    monkeypatch.setattr(torch.hub, '_hub_dir', str(hub))
    (hub / 'checkpoints').mkdir(parents=True)
    (hub / 'checkpoints' / 'good.pth').write_bytes(
        open(osp.join(work, 'iter_2.pth'), 'rb').read())
    from_url = test_tool(cfg_path, 'https://example.invalid/good.pth', '--work-dir',
                         str(tmp_path / 'url'), name='good_url_test')
    local = test_tool(cfg_path, osp.join(work, 'iter_2.pth'), '--work-dir',
                      str(tmp_path / 'local'), name='good_local_test')
    assert from_url == local


def test_uncached_url_is_not_downloaded_and_names_the_address(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, '_hub_dir', str(tmp_path / 'hub'))

    def no_download(*args, **kwargs):
        raise AssertionError('a download was attempted')

    monkeypatch.setattr(torch.hub, 'download_url_to_file', no_download)
    url = 'https://nonexistent.invalid/x/model.pth'
    with pytest.raises(FileNotFoundError, match='nonexistent.invalid.*does not download'):
        load_checkpoint_file(url)


def test_control_unsafe_load_does_run_the_code(evil, trained):
    """Shows the two tests above can fail: with --unsafe-load the file's code runs."""
    path, marker = evil
    cfg_path, _ = trained
    with pytest.warns(UserWarning, match='UNSAFE'):
        with pytest.raises(Exception):  # code ran, then the file is no model checkpoint
            test_tool(cfg_path, path, '--unsafe-load', name='evil_unsafe')
    assert marker.exists()


def test_safe_even_where_torch_would_default_to_unsafe(evil, trained, monkeypatch):
    """Independent of the torch version: with torch's default forced to unsafe (as in torch <
    2.6), the Runner still refuses the file, and it touches no global of torch or mmengine."""
    path, marker = evil
    cfg_path, _ = trained
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    schemes, load = dict(CheckpointLoader._schemes), torch.load
    with pytest.raises(UnsafeCheckpointError):
        test_tool(cfg_path, path, name='evil_forced_default')
    assert not marker.exists()
    assert CheckpointLoader._schemes == schemes and torch.load is load
    with pytest.warns(UserWarning):
        _load_checkpoint(path, map_location='cpu')  # control: mmengine's own loader runs it
    assert marker.exists()


def test_other_schemes_are_read_by_the_runner_or_refused(evil, trained, monkeypatch):
    """A scheme registered in mmengine whose loader would unpickle the file itself is refused
    unread; mmengine's storage and model-zoo schemes are read without their loaders."""
    path, marker = evil
    cfg_path, _ = trained
    ran = []

    def load_from_fake(filename, map_location):  # a loader calling torch.load like mmengine's
        ran.append(filename)
        return torch.load(filename[len('fake://'):], map_location=map_location,
                          weights_only=False)

    monkeypatch.setattr(CheckpointLoader, '_schemes', dict(CheckpointLoader._schemes))
    CheckpointLoader.register_scheme('fake://', load_from_fake, force=True)
    with pytest.raises(ValueError, match='fake:// cannot be read safely'):
        test_tool(cfg_path, 'fake://' + path, name='evil_fake_scheme')
    assert ran == [] and not marker.exists()
    with pytest.raises(KeyError, match='no model named'):
        load_checkpoint_file('torchvision://no_such_model')


def test_load_checkpoint_file(tmp_path, evil):
    good = str(tmp_path / 'good.pth')
    torch.save({'state_dict': {'w': torch.ones(2)}}, good)
    assert torch.equal(load_checkpoint_file(good)['state_dict']['w'], torch.ones(2))
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_checkpoint_file(str(tmp_path / 'nope.pth'))
    with pytest.raises(UnsafeCheckpointError):
        load_checkpoint_file(evil[0])
    assert not evil[1].exists()


def test_third_party_weights_load_weights_only(evil):
    """open_clip and SAM files are read with weights_only=True: a crafted one is refused."""
    path, marker = evil
    with pytest.raises(pickle.UnpicklingError):
        load_clip_state_dict(path, 'convnext_atto_baclip_tiny')
    head_cfg = dict(tiny_baclip_cfg()['decode_head'], checkpoint=path)
    head = MODELS.build(head_cfg)
    with pytest.raises(pickle.UnpicklingError):
        head.init_weights()
    assert not marker.exists()


# ------------------------------------------------------------------------------ wrong model
@pytest.mark.parametrize('change,expected', [
    (dict(neck=dict(num_blocks=2)), ['keys missing from the checkpoint', 'neck.']),
    (dict(align_neck=dict(embed_dims=32)), ['shape mismatches', 'align_neck.']),
])
def test_wrong_architecture_names_the_first_mismatched_keys(trained, data_root, tmp_path,
                                                           change, expected):
    _, work = trained
    cfg = tiny_cfg(data_root, str(tmp_path / 'w'))
    cfg.merge_from_dict(dict(model=change))
    if 'align_neck' in change:  # keep the model consistent with the new width
        cfg.merge_from_dict(dict(model=dict(neck=dict(in_channels=32), decode_head=dict(
            in_channels=32, text_channels=32, transformer_dim=32, transformer_mlp_dim=64))))
    cfg_path = write_cfg(cfg, str(tmp_path / 'c.py'))
    with pytest.raises(CheckpointMismatchError) as err:
        test_tool(cfg_path, osp.join(work, 'iter_2.pth'), name=f'wrong_{len(change)}')
    msg = str(err.value)
    for text in expected:
        assert text in msg
    assert 'first: [' in msg


def test_wrong_architecture_on_resume(trained, data_root, tmp_path):
    _, work = trained
    cfg = tiny_cfg(data_root, str(tmp_path / 'w'), max_iters=3)
    cfg.model.neck.num_blocks = 2
    with pytest.raises(CheckpointMismatchError, match='neck'):
        train(cfg, str(tmp_path / 'c.py'), '--resume', osp.join(work, 'iter_2.pth'),
              name='wrong_resume')


def test_check_loaded_options():
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
    state = {f'module.{k}': v for k, v in model.state_dict().items()}  # DDP prefix is fine
    check_loaded(model, {'state_dict': state}, 'ok.pth')
    bad = dict(state)
    bad['module.1.weight'] = torch.zeros(1, 4)
    bad['module.extra'] = torch.zeros(1)
    del bad['module.0.bias']
    problems = compare_state_dicts(model.state_dict(),
                                   {k[7:]: v for k, v in bad.items()})
    assert problems == dict(missing=['0.bias'], unexpected=['extra'],
                            shape=['1.weight: checkpoint (1, 4) vs model (1, 3)'])
    with pytest.raises(CheckpointMismatchError, match=r'bad\.pth.*(0\.bias.*extra|1\.weight)'):
        check_loaded(model, {'state_dict': bad}, 'bad.pth')
    messages = []
    check_loaded(model, {'state_dict': bad}, 'bad.pth', strict=False, warn=messages.append)
    assert len(messages) == 1 and '0.bias' in messages[0]
    check_loaded(model, {'state_dict': bad}, 'bad.pth',
                 ignore_keys=[r'^0\.bias$', r'^extra$', r'^1\.'])
    with pytest.raises(CheckpointMismatchError, match='not a model checkpoint'):
        check_loaded(model, 3, 'three.pth')


def test_checkpoint_cfg_options_reach_the_runner(trained, data_root, tmp_path):
    """checkpoint_cfg.strict=False / ignore_keys load a checkpoint of a related model."""
    _, work = trained
    cfg = tiny_cfg(data_root, str(tmp_path / 'w'))
    cfg.model.neck.num_blocks = 2
    cfg.checkpoint_cfg = dict(ignore_keys=[r'^neck\.'])
    metrics = test_tool(write_cfg(cfg, str(tmp_path / 'c.py')), osp.join(work, 'iter_2.pth'),
                        name='ignore_neck')
    assert 'cIoU' in metrics
    cfg.checkpoint_cfg = dict(strictly=True)
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['strictly'\]"):
        test_tool(write_cfg(cfg, str(tmp_path / 'd.py')), osp.join(work, 'iter_2.pth'),
                  name='bad_option')


@pytest.mark.parametrize('content', [b'', b'PK\x03\x04truncated'])
def test_empty_or_truncated_checkpoint_is_named_by_test_tool(trained, tmp_path, content):
    from mmseg_baclip.engine import BrokenCheckpointError
    cfg_path, _ = trained
    broken = tmp_path / 'epoch_2.pth'
    broken.write_bytes(content)
    with pytest.raises(BrokenCheckpointError, match='epoch_2.pth'):
        test_tool(cfg_path, str(broken), name=f'broken_{len(content)}')


def test_mmengine_own_loaders_read_addresses_weights_only(evil, tmp_path, monkeypatch):
    """Code that is not this project's (mmengine's plain Runner, a stock backbone's
    ``Pretrained`` init) reads an https:// checkpoint through the registered safe loader: from
    torch.hub's cache with weights_only=True (a crafted file is refused and nothing in it runs),
    and a file missing from the cache is an error naming where to put it, never a download."""
    path, marker = evil
    hub = tmp_path / 'hub'
    monkeypatch.setattr(torch.hub, '_hub_dir', str(hub))
    (hub / 'checkpoints').mkdir(parents=True)
    torch.save({'state_dict': {'w': torch.ones(2)}}, str(hub / 'checkpoints' / 'good.pth'))
    (hub / 'checkpoints' / 'evil.pth').write_bytes(open(path, 'rb').read())

    def no_download(*args, **kwargs):
        raise AssertionError('a download was attempted')

    monkeypatch.setattr(torch.hub, 'download_url_to_file', no_download)
    good = _load_checkpoint('https://example.invalid/models/good.pth', map_location='cpu')
    assert torch.equal(good['state_dict']['w'], torch.ones(2))
    with pytest.raises(UnsafeCheckpointError):
        _load_checkpoint('https://example.invalid/models/evil.pth', map_location='cpu')
    assert not marker.exists()
    with pytest.raises(FileNotFoundError, match='missing.pth.*does not download'):
        _load_checkpoint('https://example.invalid/models/missing.pth', map_location='cpu')
