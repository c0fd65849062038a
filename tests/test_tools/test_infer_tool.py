"""tools/infer.py on synthetic images with a checkpoint of the small config."""
import json
import os
import os.path as osp
import re
import shutil

import subprocess
import sys

import cv2
import numpy as np
import pytest

from test_apis.apis_test_utils import REPO_ROOT, load_tool


@pytest.fixture(scope='module')
def infer_tool():
    return load_tool('tools/infer.py')


def _args(tiny_assets, out, *extra, images=None):
    images = images or [osp.join(tiny_assets.data_root, 'test', 'image')]
    return [*images, '--config', tiny_assets.config, '--checkpoint', tiny_assets.checkpoint,
            '--out', str(out), '--device', 'cpu', *extra]


def test_writes_masks_overlays_and_json(infer_tool, tiny_assets, tmp_path):
    out = tmp_path / 'out'
    infer_tool.main(_args(tiny_assets, out, '--vocab', 'owl, snow leopard,moth,frog,bat,bee',
                          '--batch-size', '2'))
    with open(out / 'results.json', encoding='utf-8') as f:
        results = json.load(f)
    vocabulary = ['owl', 'snow leopard', 'moth', 'frog', 'bat', 'bee']
    assert results['vocabulary'] == vocabulary and results['failed'] == []
    assert [r['path'] for r in results['images']] == tiny_assets.test_images
    for record in results['images']:
        h, w = cv2.imread(record['path']).shape[:2]
        assert record['size'] == [h, w]
        assert record['class'] in vocabulary
        assert [t['class'] for t in record['top5']][0] == record['class']
        assert len(record['top5']) == 5 and record['top5'][0]['score'] == record['score']
        assert all(t['class'] in vocabulary for t in record['top5'])
        mask = cv2.imread(str(out / record['mask']), cv2.IMREAD_UNCHANGED)
        overlay = cv2.imread(str(out / record['overlay']))
        assert mask.shape == (h, w) and set(np.unique(mask)) <= {0, 255}
        assert overlay.shape == (h, w, 3)
    assert len(os.listdir(out / 'masks')) == len(os.listdir(out / 'overlays')) == 6


def test_vocab_file_and_single_image(infer_tool, tiny_assets, tmp_path):
    names = tmp_path / 'names.txt'
    names.write_text('cuttlefish\n\nseahorse\n', encoding='utf-8')
    out = tmp_path / 'out'
    summary = infer_tool.main(_args(tiny_assets, out, '--vocab-file', str(names),
                                    images=[tiny_assets.test_images[0]]))
    assert summary['vocabulary'] == ['cuttlefish', 'seahorse']
    assert len(summary['images']) == 1
    assert summary['images'][0]['class'] in ('cuttlefish', 'seahorse')


def test_unreadable_image_is_reported_once_and_the_rest_run(infer_tool, tiny_assets, tmp_path,
                                                            capsys):
    """A user's bad photo: one line naming it and what is wrong, no advice about OVCamo trees."""
    folder = tmp_path / 'images'
    folder.mkdir()
    for path in tiny_assets.test_images[:3]:
        shutil.copy(path, folder)
    (folder / 'corrupt.jpg').write_bytes(b'\xff\xd8 truncated')
    (folder / 'empty.png').write_bytes(b'')
    out = tmp_path / 'out'
    with pytest.raises(SystemExit, match='2 of 5 image'):
        infer_tool.main(_args(tiny_assets, out, '--vocab', 'owl,moth', images=[str(folder)]))
    captured = capsys.readouterr()
    printed = captured.out + captured.err
    assert printed.count('corrupt.jpg') == 1 and printed.count('empty.png') == 1, printed
    assert re.search(r'could not read .*corrupt\.jpg: cannot be decoded as an image', captured.err)
    assert re.search(r'could not read .*empty\.png: the file is empty \(0 bytes\)', captured.err)
    assert 'check_ovcamo' not in printed and 'sample_info' not in printed
    with open(out / 'results.json', encoding='utf-8') as f:
        results = json.load(f)
    assert len(results['images']) == 3
    assert [f['path'] for f in results['failed']] == [str(folder / 'corrupt.jpg'),
                                                      str(folder / 'empty.png')]
    assert len(os.listdir(out / 'masks')) == 3


def test_help_needs_no_heavy_import():
    """``--help`` answers before torch, mmseg or mmseg_baclip are imported."""
    code = ('import runpy, sys\n'
            'sys.argv = ["tools/infer.py", "--help"]\n'
            'try:\n'
            '    runpy.run_path("tools/infer.py", run_name="__main__")\n'
            'except SystemExit:\n'
            '    pass\n'
            'print(sorted(m for m in ("torch", "mmseg", "mmseg_baclip") if m in sys.modules))')
    proc = subprocess.run([sys.executable, '-c', code], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert '--seed' in proc.stdout and proc.stdout.rstrip().endswith('[]'), proc.stdout


def test_without_a_checkpoint_the_output_is_short(tiny_assets, tmp_path):
    """``--checkpoint none`` as a user runs it: no per-parameter init report, each warning on
    one line, at most 40 lines in all."""
    proc = subprocess.run(
        [sys.executable, 'tools/infer.py', tiny_assets.test_images[0], '--config',
         tiny_assets.config, '--checkpoint', 'none', '--vocab', 'owl,moth', '--out',
         str(tmp_path / 'out'), '--device', 'cpu'],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    printed = proc.stdout + proc.stderr
    assert proc.returncode == 0, printed[-3000:]
    lines = printed.splitlines()
    assert len(lines) <= 40, f'{len(lines)} lines:\n' + '\n'.join(lines[:60])
    assert 'init_weights' not in printed
    random = [line for line in lines if 'weights stay RANDOM' in line]
    assert random and all(line.startswith('warning: ') for line in random), printed
    assert 'warnings.warn(' not in printed  # no source lines under the warnings


def test_the_same_seed_gives_the_same_random_model(infer_tool, tiny_assets, tmp_path):
    """``--checkpoint none``: the untrained layers come from ``--seed``, so the same command
    gives the same class, scores and mask; another seed gives another model."""
    def run(name, *extra):
        out = tmp_path / name
        args = _args(tiny_assets, out, '--vocab', 'owl,moth,frog', *extra,
                     images=tiny_assets.test_images[:2])
        args[args.index('--checkpoint') + 1] = 'none'
        summary = infer_tool.main(args)
        masks = [(out / r['mask']).read_bytes() for r in summary['images']]
        return [(r['class'], r['top5']) for r in summary['images']], masks

    first = run('first')
    assert run('again') == first
    assert run('seed_1', '--seed', '1')[0] != first[0]


@pytest.mark.parametrize('extra, match', [
    (['--vocab', ' , ,'], 'empty'),
    (['--vocab', 'owl,Owl'], "'Owl' repeats name #0 'owl'"),
    (['--vocab', 'owl,a/../../ESCAPED'], 'path separator'),
    (['--vocab', 'owl,red\x1b[31m'], r"'red\\x1b\[31m' holds control"),
    (['--vocab-file', '/nonexistent/names.txt'], 'names.txt'),
    (['--vocab', 'owl', '--templates', 'nope'], 'nope'),
])
def test_bad_vocabulary_is_a_clear_error(infer_tool, tiny_assets, tmp_path, extra, match):
    with pytest.raises(SystemExit, match=match):
        infer_tool.main(_args(tiny_assets, tmp_path / 'out', *extra,
                              images=[tiny_assets.test_images[0]]))


def test_missing_checkpoint_names_the_file(infer_tool, tiny_assets, tmp_path):
    args = _args(tiny_assets, tmp_path / 'out', '--vocab', 'owl',
                 images=[tiny_assets.test_images[0]])
    args[args.index('--checkpoint') + 1] = str(tmp_path / 'gone.pth')
    with pytest.raises(SystemExit, match='gone.pth'):
        infer_tool.main(args)


def test_nan_weights_stop_the_tool_before_results_json(infer_tool, tiny_assets, tmp_path):
    """NaN weights stop the tool, naming the tensor, before a bare NaN (invalid JSON) reaches
    results.json."""
    import torch
    checkpoint = torch.load(tiny_assets.checkpoint, map_location='cpu', weights_only=True)
    key = next(k for k in checkpoint['state_dict'] if k.startswith('neck'))
    checkpoint['state_dict'][key] = torch.full_like(checkpoint['state_dict'][key], float('nan'))
    nan_path = str(tmp_path / 'nan.pth')
    torch.save(checkpoint, nan_path)
    out = tmp_path / 'out'
    args = _args(tiny_assets, out, '--vocab', 'owl,moth')
    args[args.index('--checkpoint') + 1] = nan_path
    with pytest.raises(SystemExit) as err:
        infer_tool.main(args)
    assert str(err.value).startswith('error: ') and key in str(err.value)
    assert not (out / 'results.json').exists()


def test_non_finite_results_are_named_not_written(infer_tool):
    summary = {'images': [{'score': 0.5, 'top5': [{'score': float('nan')}]}]}
    assert infer_tool.non_finite_entries(summary) == ['results.images[0].top5[0].score = nan']


@pytest.mark.parametrize('make_out', ['file', 'below_a_file', 'results_json_is_a_folder'])
def test_an_unwritable_out_is_refused_before_any_work(tiny_assets, tmp_path, make_out):
    """Run as a user would: exit status 1, the output named, no traceback, nothing built."""
    import subprocess
    import sys
    existing = tmp_path / 'existing.txt'
    existing.write_text('keep me')
    out = {'file': existing, 'below_a_file': existing / 'out'}.get(make_out, tmp_path / 'out')
    if make_out == 'results_json_is_a_folder':
        (out / 'results.json').mkdir(parents=True)
    proc = subprocess.run(
        [sys.executable, 'tools/infer.py', tiny_assets.test_images[0], '--config',
         tiny_assets.config, '--checkpoint', 'none', '--out', str(out)],
        cwd=osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
        capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    assert 'Traceback' not in proc.stderr and 'error: --out' in proc.stderr, proc.stderr
    assert str(out if make_out != 'below_a_file' else existing) in proc.stderr
    assert existing.read_text() == 'keep me'


def test_an_image_above_the_pixel_limit_is_refused_naming_it(infer_tool, tiny_assets,
                                                             tmp_path, capsys):
    from baclip_test_utils import write_large_png
    huge = write_large_png(tmp_path / 'huge.png', 20000, 20000)  # 389 KB on disk, 400 MP
    with pytest.raises(SystemExit, match='1 of 2 image'):
        infer_tool.main(_args(tiny_assets, tmp_path / 'out', '--vocab', 'owl,moth',
                              images=[huge, tiny_assets.test_images[0]]))
    assert re.search(r'huge\.png: the image is .*400,000,000 pixels, more than the limit of '
                     r'120,000,000.*BACLIP_MAX_IMAGE_PIXELS', capsys.readouterr().err)
