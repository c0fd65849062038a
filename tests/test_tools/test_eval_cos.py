"""tools/analysis/eval_cos.py end to end: the four COS sets and COD10K-OV in their layouts."""
import json
import os
import os.path as osp

import pytest

from test_apis.apis_test_utils import load_tool

COS_COLUMNS = ('Sm', 'wFm', 'MAE', 'meanEm', 'maxEm', 'adpEm', 'meanFm', 'maxFm', 'adpFm')


@pytest.fixture(scope='module')
def cos_tree(tiny_assets, tmp_path_factory):
    """The tiny OVCamo test split copied into TestDataset/{4 sets} and COD10K-v3/Test."""
    out = str(tmp_path_factory.mktemp('cos'))
    converter = load_tool('tools/dataset_converters/ovcamo_to_cos_layout.py')
    result = converter.main([tiny_assets.data_root, '--out', out])
    assert result['images'] == 6
    return out


def test_all_sets_end_to_end_then_only_what_changed(tiny_assets, cos_tree, tmp_path, capsys):
    tool = load_tool('tools/analysis/eval_cos.py')
    argv = [tiny_assets.config, tiny_assets.checkpoint, '--data-root',
            osp.join(cos_tree, 'TestDataset'), '--cod10k-root', osp.join(cos_tree, 'COD10K-v3'),
            '--out-dir', str(tmp_path / 'eval'), '--workers', '0', '--device', 'cpu']
    first = tool.main(argv)
    assert list(first) == ['CAMO', 'CHAMELEON', 'COD10K', 'NC4K', 'COD10K-OV']
    for name in ('CAMO', 'CHAMELEON', 'COD10K', 'NC4K'):
        assert first[name]['num_images'] == 6 and first[name]['vocabulary_size'] == 75
        assert all(0.0 <= first[name][key] <= 1.0 for key in COS_COLUMNS)
    ov = first['COD10K-OV']
    assert ov['num_images'] == 6 and ov['unseen/num_images'] == 6 and ov['seen_classes'] == []
    assert 0.0 <= ov['cIoU'] <= ov['agnostic/avgiou'] <= 1.0
    out = capsys.readouterr().out
    assert 'COD10K-OV, class-aware' in out and 'meanEm' in out
    with open(tmp_path / 'eval' / 'cos_results.json') as f:
        assert json.load(f)['NC4K']['Sm'] == pytest.approx(first['NC4K']['Sm'])
    with open(tmp_path / 'eval' / 'cos_results.csv') as f:
        assert len(f.read().strip().splitlines()) == 6

    # a second run: one mask of NC4K rewritten; only that image is evaluated again
    gt_dir = osp.join(cos_tree, 'TestDataset', 'NC4K', 'GT')
    changed = osp.join(gt_dir, sorted(os.listdir(gt_dir))[0])
    os.utime(changed, ns=(os.stat(changed).st_atime_ns, os.stat(changed).st_mtime_ns + 10**9))
    second = tool.main(argv + ['--sets', 'nc4k', 'camo'])
    out = capsys.readouterr().out
    assert '[cos] CAMO: 6 images, 75 class names; 6 evaluated before' in out
    assert '[cos] NC4K: 6 images, 75 class names; 5 evaluated before' in out
    for name in ('CAMO', 'NC4K'):
        assert second[name] == pytest.approx(first[name])


def test_bad_arguments(tiny_assets, cos_tree, tmp_path):
    tool = load_tool('tools/analysis/eval_cos.py')
    with pytest.raises(SystemExit):
        tool.parse_args([tiny_assets.config, 'none', '--sets', 'PASCAL'])
    with pytest.raises(SystemExit, match='folder not found'):
        tool.main([tiny_assets.config, tiny_assets.checkpoint, '--data-root',
                   str(tmp_path / 'nowhere'), '--sets', 'CAMO', '--out-dir',
                   str(tmp_path / 'eval'), '--workers', '0'])
