"""Checkpoints without the frozen CLIP / SAM weights (BaCLIPRunner, checkpoint_cfg.slim).

One run writes full checkpoints (``slim=False``); another, interrupted and resumed, writes slim
ones. Both read the frozen weights from files in the real formats.
"""
import hashlib
import importlib.util
import os
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from engine_test_utils import (REPO_ROOT, load_tool, test_tool, tiny_cfg, train,
                               use_frozen_weight_files, write_frozen_weight_files)
from mmseg_baclip.engine import CheckpointMismatchError
from mmseg_baclip.models.utils.frozen_weights import (FrozenWeightsMismatchError,
                                                      strip_frozen_weights)
from test_resume import Interrupted, assert_same_tensors

FROZEN_PREFIXES = ('backbone.', 'text_encoder.', 'decode_head.prompt_encoder.')


def load(path):
    return torch.load(path, map_location='cpu', weights_only=True)


def sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def with_slim(cfg, slim):
    cfg.checkpoint_cfg = dict(cfg.checkpoint_cfg, slim=slim)
    return cfg


@pytest.fixture(scope='module')
def runs(data_root, tmp_path_factory):
    """4 iterations with full checkpoints (``slim=False``), and 2 + 2 resumed with slim ones."""
    tmp = tmp_path_factory.mktemp('slim')
    files = write_frozen_weight_files(str(tmp / 'weights'))

    def cfg(work, slim, **kw):
        return with_slim(use_frozen_weight_files(
            tiny_cfg(data_root, str(tmp / work), max_iters=4, interval=2, **kw), files), slim)

    before = train(cfg('full', slim=False), str(tmp / 'full.py'), name='slim_full')
    with pytest.raises(Interrupted):
        train(cfg('slim', slim=True, extra_hooks=[dict(type='_InterruptHook', after=2)]),
              str(tmp / 'cut.py'), name='slim_cut')
    resumed = cfg('slim', slim=True)
    train(resumed, str(tmp / 'slim.py'), '--resume', name='slim_resumed')
    model = before.model
    return SimpleNamespace(
        tmp=tmp, files=files, cfg=str(tmp / 'slim.py'), model=model,
        full=str(tmp / 'full' / 'iter_4.pth'), slim=str(tmp / 'slim' / 'iter_4.pth'),
        slim_2=str(tmp / 'slim' / 'iter_2.pth'))


def test_no_frozen_weight_is_stored(runs):
    frozen = {n for n, p in runs.model.named_parameters() if not p.requires_grad}
    full, slim = load(runs.full), load(runs.slim)
    for path in (runs.slim, runs.slim_2):
        state = load(path)['state_dict']
        assert not [k for k in state if k.startswith(FROZEN_PREFIXES)]
        assert not set(state) & frozen  # no requires_grad=False parameter, SAM's unused MLPs
    # Exactly the frozen weights are left out: every trained weight and buffer is there.
    trainable = {n for n, p in runs.model.named_parameters() if p.requires_grad}
    assert trainable <= set(slim['state_dict'])
    left_out = set(full['state_dict']) - set(slim['state_dict'])
    assert left_out >= frozen and not set(slim['state_dict']) - set(full['state_dict'])
    record = slim['meta']['frozen_weights']
    assert set(record) == {'backbone', 'text_encoder', 'decode_head'}
    assert record['backbone']['sha256'] == sha256(runs.files['clip'])
    assert record['decode_head']['sha256'] == sha256(runs.files['sam'])
    assert record['decode_head']['size'] == osp.getsize(runs.files['sam'])
    assert sum(entry['keys'] for entry in record.values()) == len(left_out)
    assert 'frozen_weights' not in full['meta']
    # The left-out values are the files' (what the full checkpoint holds).
    clip = torch.load(runs.files['clip'], weights_only=True)
    for key, value in clip.items():
        if key.startswith('visual.'):
            assert torch.equal(full['state_dict'][f'backbone.{key}'], value), key
    assert osp.getsize(runs.slim) < osp.getsize(runs.full)


def test_resume_from_slim_checkpoints_is_bit_exact_and_as_before(runs):
    """Interrupted + resumed with slim checkpoints == uninterrupted with full ones."""
    full, slim = load(runs.full), load(runs.slim)
    assert_same_tensors({k: full['state_dict'][k] for k in slim['state_dict']},
                        dict(slim['state_dict']), 'state_dict')
    assert_same_tensors(full['optimizer'], slim['optimizer'], 'optimizer')
    assert_same_tensors(full['param_schedulers'], slim['param_schedulers'], 'param_schedulers')


@pytest.fixture(scope='module')
def full_metrics(runs):
    """tools/test.py on the full checkpoint (``slim=False``)."""
    return test_tool(runs.cfg, runs.full, '--work-dir', str(runs.tmp / 'test_full'),
                     name='slim_test_full')


def test_test_tool_gives_the_same_metrics(runs, full_metrics):
    after = test_tool(runs.cfg, runs.slim, '--work-dir', str(runs.tmp / 'test_slim'),
                      name='slim_test_slim')
    assert full_metrics and after == full_metrics


def test_inference_and_mmseg_init_model_give_the_same_results(runs, data_root):
    from mmseg.apis import init_model

    from mmseg_baclip.apis import OVCOSInferencer
    folder = osp.join(data_root, 'test', 'image')
    images = [osp.join(folder, name) for name in sorted(os.listdir(folder))[:2]]
    vocab = ['shrimp', 'crab', 'octopus']
    outputs = []
    for weights in (runs.full, runs.slim):
        inferencer = OVCOSInferencer(runs.cfg, weights=weights, device='cpu',
                                     show_progress=False)
        outputs.append(inferencer(images, vocabulary=vocab))
    for a, b in zip(*outputs):
        assert a['class'] == b['class'] and a['scores'] == b['scores']
        assert (a['prob'] == b['prob']).all()
    # mmseg's init_model (mmengine's load_checkpoint, no hooks): BaCLIP reads the files itself.
    full = init_model(runs.cfg, runs.full, device='cpu').state_dict()
    slim = init_model(runs.cfg, runs.slim, device='cpu').state_dict()
    assert_same_tensors(dict(full), dict(slim), 'init_model')


def test_publish_gives_a_small_weights_only_file(runs, full_metrics, capsys):
    publish = load_tool('publish_model')
    out = str(runs.tmp / 'published' / 'baclip_tiny.pth')
    path = publish.main([runs.slim, out])
    assert osp.basename(path) == f'baclip_tiny-{sha256(path)[:8]}.pth'
    published, slim = load(path), load(runs.slim)
    assert set(published) == {'meta', 'state_dict'}  # no optimizer, message hub, RNG states
    assert_same_tensors(dict(slim['state_dict']), dict(published['state_dict']))
    assert published['meta']['frozen_weights'] == slim['meta']['frozen_weights']
    assert 'frozen tensors left out' in capsys.readouterr().out
    # An old full checkpoint: --config reads the files and leaves out what equals them.
    from_full = load(publish.main([runs.full, out.replace('tiny', 'full'), '--config',
                                   runs.cfg]))
    assert set(from_full['state_dict']) == set(slim['state_dict'])
    assert from_full['meta']['frozen_weights'] == slim['meta']['frozen_weights']
    metrics = test_tool(runs.cfg, path, '--work-dir', str(runs.tmp / 'test_pub'),
                        name='slim_test_published')
    assert metrics == full_metrics


def test_other_frozen_files_are_errors_naming_them(runs):
    other = write_frozen_weight_files(str(runs.tmp / 'other'), seed=1)
    clip = f'model.backbone.checkpoint={other["clip"]}'
    with pytest.raises(FrozenWeightsMismatchError, match='a different file') as error:
        test_tool(runs.cfg, runs.slim, '--cfg-options', clip, name='slim_other_clip')
    assert runs.files['clip'] in str(error.value) and other['clip'] in str(error.value)
    assert sha256(other['clip']) in str(error.value)
    with pytest.raises(FrozenWeightsMismatchError, match='no file'):
        test_tool(runs.cfg, runs.slim, '--cfg-options', 'model.decode_head.checkpoint=None',
                  name='slim_no_sam')
    with pytest.raises(FileNotFoundError, match='gone.bin'):
        test_tool(runs.cfg, runs.slim, '--cfg-options',
                  f'model.text_encoder.checkpoint={runs.tmp}/gone.bin', name='slim_gone')
    from mmseg_baclip.apis import OVCOSInferencer
    cfg = use_frozen_weight_files(Config.fromfile(runs.cfg), other)
    with pytest.raises(FrozenWeightsMismatchError, match='a different file'):
        OVCOSInferencer(cfg, weights=runs.slim, device='cpu')
    # A full checkpoint holds its frozen weights: another file there changes nothing.
    test_tool(runs.cfg, runs.full, '--cfg-options', clip, name='slim_full_other_clip')


def test_strict_check_still_names_real_mismatches(runs):
    checkpoint = load(runs.slim)
    key = next(k for k in checkpoint['state_dict'] if k.startswith('neck.'))
    del checkpoint['state_dict'][key]
    broken = str(runs.tmp / 'broken.pth')
    torch.save(checkpoint, broken)
    with pytest.raises(CheckpointMismatchError, match='1 keys missing') as error:
        test_tool(runs.cfg, broken, name='slim_broken')
    assert key in str(error.value) and 'backbone.' not in str(error.value)


def test_frozen_weights_from_another_checkpoint_are_kept(runs):
    """A model whose frozen weights were loaded with other values than its file's keeps them
    in the checkpoints it writes (they could not be read back from the file)."""
    init_default_scope('mmseg')
    model = MODELS.build(Config.fromfile(runs.cfg).model)
    model.init_weights()
    state = model.state_dict()
    assert set(strip_frozen_weights(model, model.state_dict())) == {
        'backbone', 'text_encoder', 'decode_head'}
    key = 'backbone.visual.trunk.stem.0.weight'
    state[key] = state[key] + 1  # a new tensor (state_dict() shares the model's storage)
    model.load_state_dict(state)
    assert model.backbone.frozen_weights_loaded_from is None
    assert model.text_encoder.frozen_weights_loaded_from is not None  # same values: still known
    kept = model.state_dict()
    assert set(strip_frozen_weights(model, kept)) == {'text_encoder', 'decode_head'}
    assert key in kept


@pytest.mark.skipif(not all(importlib.util.find_spec(m)
                            for m in ('onnx', 'onnxruntime', 'onnxscript')),
                    reason='onnx, onnxruntime and onnxscript are needed')
def test_onnx_export_of_a_slim_checkpoint(runs, tmp_path):
    spec = importlib.util.spec_from_file_location(
        '_baclip_export_onnx', osp.join(REPO_ROOT, 'tools', 'deployment', 'export_onnx.py'))
    export = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(export)
    diffs = export.main([runs.cfg, runs.slim, '--vocab', 'shrimp,crab', '--out',
                         str(tmp_path / 'slim.onnx'), '--num-checks', '1'])
    assert max(diffs.values()) < 1e-4
