"""The on-disk cache of class-name embeddings: used exactly when the text tower is the file's."""
import importlib.util
import os
import os.path as osp
import shutil

import open_clip
import pytest
import torch
from mmseg.registry import MODELS

from baclip_test_utils import REPO_ROOT, TINY_CLIP, tiny_baclip_cfg
from mmseg_baclip.models.text_encoders import TEMPLATE_SETS
from mmseg_baclip.models.text_encoders import embedding_disk_cache as disk_cache
from mmseg_baclip.models.text_encoders.embedding_disk_cache import (CACHE_DIR_ENV, SWITCH_ENV,
                                                                    cache_dir, list_entries)
from mmseg_baclip.models.utils.frozen_weights import strip_frozen_weights
from mmseg_baclip.utils.file_fingerprint import file_sha256

VOCAB = ['owl', 'snow leopard', 'frog']


@pytest.fixture(scope='module')
def clip_files(tmp_path_factory):
    """Two tiny CLIPs in open_clip's ``open_clip_pytorch_model.bin`` format (other values)."""
    folder = tmp_path_factory.mktemp('clips')
    paths = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        clip = open_clip.create_model(TINY_CLIP, pretrained=None)
        path = folder / f'clip{seed}' / 'open_clip_pytorch_model.bin'
        path.parent.mkdir()
        torch.save(clip.state_dict(), path)
        paths.append(str(path))
    return paths


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """This test's cache folder (``BACLIP_CACHE_DIR``), cache on."""
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / 'cache'))
    monkeypatch.delenv(SWITCH_ENV, raising=False)
    return tmp_path / 'cache' / 'text_embeddings'


def build(checkpoint, init=True, **kwargs):
    encoder = MODELS.build(dict(type='OpenCLIPTextEncoder', model_name=TINY_CLIP,
                                checkpoint=checkpoint, **kwargs))
    if init:
        encoder.init_weights()
    return encoder


def count_encodings(monkeypatch, encoder) -> list:
    """Record each call of the text tower's encoding (it still runs)."""
    calls, original = [], encoder.encode_uncached

    def counting(vocabulary, templates=None):
        calls.append(tuple(vocabulary))
        return original(vocabulary, templates)

    monkeypatch.setattr(encoder, 'encode_uncached', counting)
    return calls


def forbid_encoding(monkeypatch, encoder) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError('the text tower ran: the embeddings were not read from disk')

    monkeypatch.setattr(encoder, 'encode_uncached', refuse)


def entry_files(folder):
    return sorted(p.name for p in folder.glob('*.pt')) if folder.is_dir() else []


def test_a_new_encoder_reads_the_embeddings_from_disk(clip_files, cache, monkeypatch,
                                                      tmp_path):
    first = build(clip_files[0])
    encoded = first(VOCAB)
    assert len(entry_files(cache)) == 1

    second = build(clip_files[0])  # a new object, as in a new process
    forbid_encoding(monkeypatch, second)
    read = second(VOCAB)
    assert torch.equal(read, encoded) and read.dtype == torch.float32
    assert second(VOCAB) is read  # then from memory

    (entry, ) = list_entries()
    assert entry['model_name'] == TINY_CLIP and entry['class_names'] == VOCAB
    assert entry['templates'] == list(TEMPLATE_SETS['camoprompts'])
    assert entry['clip_sha256'] == file_sha256(clip_files[0]) and entry['shape'] == (3, 64)

    copy = tmp_path / 'elsewhere' / 'open_clip_pytorch_model.bin'  # keyed by content, not path
    copy.parent.mkdir()
    shutil.copy(clip_files[0], copy)
    third = build(str(copy))
    forbid_encoding(monkeypatch, third)
    assert torch.equal(third(VOCAB), encoded)


def test_templates_name_order_file_and_dtype_each_have_their_own_entry(clip_files, cache,
                                                                       monkeypatch):
    encoder = build(clip_files[0])
    plain = encoder(VOCAB, templates='plain')
    reordered = encoder(VOCAB[::-1])
    other_file = build(clip_files[1])(VOCAB)
    calls = count_encodings(monkeypatch, encoder)
    default = encoder(VOCAB)
    assert calls == [tuple(VOCAB)] and len(entry_files(cache)) == 4
    assert not torch.allclose(plain, default) and not torch.allclose(other_file, default)
    assert torch.allclose(reordered, default.flip(0), atol=1e-6)

    encoder.to(torch.float64)  # other weights' dtype: other numbers, another entry
    encoder(VOCAB)
    assert len(calls) == 2 and len(entry_files(cache)) == 5


def test_random_weights_never_touch_the_disk(clip_files, cache):
    with pytest.warns(UserWarning, match='RANDOM'):
        build(None)(VOCAB)
    build(clip_files[0], init=False)(VOCAB)  # names the file, but never read it
    assert not cache.exists()


def test_weights_overwritten_by_a_state_dict_do_not_use_the_files_entry(clip_files, cache,
                                                                        monkeypatch):
    from_file = build(clip_files[0])(VOCAB)
    other = build(clip_files[1], disk_cache=False)
    encoder = build(clip_files[0])
    encoder.load_state_dict(other.state_dict())  # a full checkpoint with other text weights
    calls = count_encodings(monkeypatch, encoder)
    assert torch.equal(encoder(VOCAB), other(VOCAB)) and len(calls) == 1
    assert len(entry_files(cache)) == 1  # nothing stored under the file's key

    encoder.load_frozen_weights()  # read from the file again: the entry applies again
    forbid_encoding(monkeypatch, encoder)
    assert torch.equal(encoder(VOCAB), from_file)

    same = build(clip_files[0])
    same.load_state_dict(build(clip_files[0], disk_cache=False).state_dict())  # equal values
    forbid_encoding(monkeypatch, same)
    assert torch.equal(same(VOCAB), from_file)


def test_a_slim_checkpoint_reads_the_text_tower_from_the_file_and_uses_the_cache(
        clip_files, cache, monkeypatch):
    """How ``tools/test.py``, the inferencer and the web demo load a trained model."""
    cfg = tiny_baclip_cfg()
    cfg['backbone']['checkpoint'] = cfg['text_encoder']['checkpoint'] = clip_files[0]
    trained = MODELS.build(cfg)
    trained.init_weights()
    from_file = trained.text_encoder(VOCAB)
    state = trained.state_dict()
    assert 'text_encoder' in strip_frozen_weights(trained, state)
    assert not any(k.startswith('text_encoder.') for k in state)

    loaded = MODELS.build(cfg)  # no init_weights: the state dict's loading reads the file
    loaded.load_state_dict(state)
    forbid_encoding(monkeypatch, loaded.text_encoder)
    assert torch.equal(loaded.text_encoder(VOCAB), from_file)


def corrupt(path, how):
    if how == 'garbage':
        with open(path, 'wb') as f:
            f.write(b'not a torch file')
        return
    if how == 'truncated':
        with open(path, 'rb') as f:
            data = f.read()
        with open(path, 'wb') as f:
            f.write(data[:len(data) // 2])
        return
    data = torch.load(path, weights_only=True)
    if how == 'nan':
        data['embeddings'][1, 3] = float('nan')
    elif how == 'shape':
        data['embeddings'] = data['embeddings'][:2]
    elif how == 'other names':
        data['class_names'] = ['owl', 'moth', 'frog']
    torch.save(data, path)


@pytest.mark.parametrize('how', ['garbage', 'truncated', 'nan', 'shape', 'other names'])
def test_an_unusable_entry_is_encoded_again_with_a_warning_and_overwritten(
        clip_files, cache, monkeypatch, how):
    from_file = build(clip_files[0])(VOCAB)
    (name, ) = entry_files(cache)
    corrupt(cache / name, how)
    encoder = build(clip_files[0])
    calls = count_encodings(monkeypatch, encoder)
    with pytest.warns(UserWarning, match=f'cache file .*{name}.* is unusable'):
        assert torch.equal(encoder(VOCAB), from_file)
    assert len(calls) == 1
    again = build(clip_files[0])
    forbid_encoding(monkeypatch, again)
    assert torch.equal(again(VOCAB), from_file)  # the file was rewritten


@pytest.mark.parametrize('how', ['folder below a file', 'rename refused'])
def test_an_unwritable_cache_folder_warns_once_and_the_run_goes_on(clip_files, cache,
                                                                   monkeypatch, tmp_path, how):
    if how == 'folder below a file':
        (tmp_path / 'a_file').write_text('x')
        monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / 'a_file'))
    else:
        def refuse(src, dst):
            raise PermissionError(13, 'Permission denied', dst)
        monkeypatch.setattr(disk_cache.os, 'replace', refuse)
    encoder = build(clip_files[0])
    with pytest.warns(UserWarning, match='Cannot write the text-embedding cache') as record:
        first = encoder(VOCAB)
        encoder(['moth'])
    assert sum('Cannot write' in str(w.message) for w in record) == 1
    assert torch.equal(first, encoder.encode_uncached(VOCAB))
    assert not cache.is_dir() or not os.listdir(cache)  # no temporary file left behind


@pytest.mark.parametrize('switch', ['environment', 'argument'])
def test_the_cache_can_be_turned_off(clip_files, cache, monkeypatch, switch):
    build(clip_files[0])(VOCAB)
    if switch == 'environment':
        monkeypatch.setenv(SWITCH_ENV, '0')
        encoder = build(clip_files[0])
    else:
        encoder = build(clip_files[0], disk_cache=False)
    calls = count_encodings(monkeypatch, encoder)
    encoder(VOCAB)  # not read
    encoder(['moth'])  # not written
    assert len(calls) == 2 and len(entry_files(cache)) == 1


def test_an_unknown_switch_value_is_an_error(clip_files, cache, monkeypatch):
    monkeypatch.setenv(SWITCH_ENV, 'maybe')
    with pytest.raises(ValueError, match="BACLIP_TEXT_CACHE='maybe'"):
        build(clip_files[0])(VOCAB)


def test_default_location(monkeypatch, tmp_path):
    monkeypatch.delenv(CACHE_DIR_ENV, raising=False)
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))
    assert cache_dir() == str(tmp_path / 'xdg' / 'mmseg_baclip' / 'text_embeddings')
    monkeypatch.delenv('XDG_CACHE_HOME')
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    assert cache_dir() == str(tmp_path / 'home' / '.cache' / 'mmseg_baclip' / 'text_embeddings')


def test_the_suite_keeps_the_cache_off_and_out_of_the_users_home(tmp_path_factory):
    assert cache_dir().startswith(str(tmp_path_factory.getbasetemp()))
    assert not disk_cache.cache_enabled()


def load_tool():
    path = osp.join(REPO_ROOT, 'tools', 'misc', 'text_embedding_cache.py')
    spec = importlib.util.spec_from_file_location('tool_text_embedding_cache', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tool_lists_and_clears_the_entries(clip_files, cache, capsys):
    encoder = build(clip_files[0])
    encoder(VOCAB)
    encoder(['moth'], templates='plain')
    (cache / ('0' * 64 + '.pt')).write_bytes(b'broken')
    (cache / 'notes.txt').write_text('not an entry')
    tool = load_tool()

    tool.main(['--list'])
    printed = capsys.readouterr().out
    assert f'3 names x 6 templates  CLIP sha256 {file_sha256(clip_files[0])[:12]}' in printed
    assert '1 names x 1 templates' in printed and 'unreadable' in printed
    assert printed.splitlines()[-1].startswith('3 entries (') and str(cache) in printed

    tool.main(['--clear'])
    printed = capsys.readouterr().out
    assert printed.startswith('Removed 3 entries (') and str(cache) in printed
    assert os.listdir(cache) == ['notes.txt']
