"""No shipped config selects a checkpoint on the test split; the train hold-out is sound."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.utils import import_modules_from_strings

from baclip_test_utils import REPO_ROOT

CONFIGS = sorted(
    p for p in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p)
PAPER = osp.join(REPO_ROOT, 'configs', 'baclip_convnext-l_ovcamo.py')
HOLDOUT = osp.join(REPO_ROOT, 'configs', 'baclip',
                   'baclip_convnext-l_1xb4-30e_ovcamo-384_val-train-holdout.py')


def innermost(dataset_cfg):
    """The OVCamoDataset config inside any dataset wrappers, and the wrappers (outer first)."""
    wrappers = []
    while 'dataset' in dataset_cfg:
        wrappers.append(dataset_cfg)
        dataset_cfg = dataset_cfg['dataset']
    return dataset_cfg, wrappers


def val_split(cfg):
    loader = cfg.get('val_dataloader')
    if not loader:
        return None, []
    dataset, wrappers = innermost(loader['dataset'])
    return dataset.get('split', 'train'), wrappers  # OVCamoDataset's default split is 'train'


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, REPO_ROOT))
def test_no_checkpoint_is_selected_on_the_test_split(path):
    cfg = Config.fromfile(path)
    split, wrappers = val_split(cfg)
    save_best = cfg.default_hooks.get('checkpoint', {}).get('save_best')
    if save_best:
        assert split == 'train', f'{path}: save_best={save_best!r} on the {split!r} split'
        # a part carved out of the training images, not the images it trains on
        assert [w['type'] for w in wrappers] == ['mmpretrain.KFoldDataset'], path
        assert wrappers[0]['test_mode'] and wrappers[0]['seed'] is not None, path
        train, train_wrappers = innermost(cfg.train_dataloader['dataset'])
        assert train['split'] == 'train' and len(train_wrappers) == 1, path
        assert not train_wrappers[0]['test_mode'], path
        for key in ('fold', 'num_splits', 'seed'):
            assert train_wrappers[0][key] == wrappers[0][key], (path, key)
    if split == 'test':
        # evaluated at most once, after the last epoch / iteration: nothing to choose from
        loop = cfg.train_cfg
        last = loop.get('max_epochs', loop.get('max_iters'))
        assert loop.get('val_interval', 1) >= last, (
            f'{path}: the test split is evaluated every {loop.get("val_interval", 1)} of '
            f'{last} epochs/iterations during training')


def test_paper_config_reports_the_final_epoch_and_trains_on_full_batches():
    cfg = Config.fromfile(PAPER)
    assert cfg.default_hooks.checkpoint.save_best is None
    assert cfg.default_hooks.checkpoint.save_last
    assert cfg.train_cfg.val_interval == cfg.train_cfg.max_epochs == 30
    assert cfg.val_dataloader.dataset.split == cfg.test_dataloader.dataset.split == 'test'
    assert cfg.train_dataloader.drop_last is True  # as OVCoser


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, REPO_ROOT))
def test_training_batches_drop_the_last_partial_batch(path):
    assert Config.fromfile(path).train_dataloader.get('drop_last') is True, path


def test_holdout_is_a_seeded_complementary_part_of_the_training_images(tmp_path):
    from mmseg.registry import DATASETS

    from mmseg_baclip.datasets import OVCAMO_TEST_CLASSES, OVCAMO_TRAIN_CLASSES
    from mmseg_baclip.synthetic_world import make_synthetic_ovcamo
    root = str(tmp_path / 'data')
    make_synthetic_ovcamo(root, num_train=40, num_test=6, size=(24, 24), seed=3)
    cfg = Config.fromfile(HOLDOUT)
    import_modules_from_strings(**cfg.custom_imports)

    def build(loader):
        dataset = cfg[loader].dataset.copy()
        innermost(dataset)[0]['data_root'] = root
        built = DATASETS.build(dataset)
        return [built.get_data_info(i) for i in range(len(built))], built.metainfo

    train, _ = build('train_dataloader')
    val, val_meta = build('val_dataloader')
    train_ids = [d['unique_id'] for d in train]
    val_ids = [d['unique_id'] for d in val]
    assert len(val_ids) == 4 and len(train_ids) == 36  # a tenth held out
    assert not set(train_ids) & set(val_ids)  # complementary
    all_train = DATASETS.build(dict(type='OVCamoDataset', data_root=root, split='train'))
    assert set(train_ids) | set(val_ids) == {
        all_train.get_data_info(i)['unique_id'] for i in range(len(all_train))}
    # training classes only, with the seen-class vocabulary
    assert {d['class_name'] for d in val} <= set(OVCAMO_TRAIN_CLASSES)
    assert not set(val_meta['vocabulary']) & set(OVCAMO_TEST_CLASSES)
    assert val_ids == [d['unique_id'] for d in build('val_dataloader')[0]]  # seeded
    assert val_ids != [all_train.get_data_info(i)['unique_id'] for i in range(4)]  # shuffled
    assert cfg.test_dataloader.dataset.split == 'test'
    assert cfg.default_hooks.checkpoint.save_best == 'cIoU'


def test_holdout_config_trains_and_keeps_the_best_checkpoint_by_holdout_cIoU(tmp_path):
    """End to end with a tiny model: validation runs on the held-out training images only."""
    from mmengine.runner import Runner

    from baclip_test_utils import tiny_baclip_cfg
    from mmseg_baclip.synthetic_world import make_synthetic_ovcamo
    root = str(tmp_path / 'data')
    make_synthetic_ovcamo(root, num_train=20, num_test=3, size=(48, 48), seed=0)
    cfg = Config.fromfile(HOLDOUT)
    cfg.model = Config(dict(model=tiny_baclip_cfg())).model
    cfg.model.neck.num_blocks = 1
    cfg.work_dir = str(tmp_path / 'work')
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[name]
        loader.num_workers, loader.persistent_workers = 0, False
        dataset = innermost(loader.dataset)[0]
        dataset.data_root = root
        for step in dataset.pipeline:
            if step['type'] == 'Resize':
                step['scale'] = (64, 64)
    cfg.train_dataloader.batch_size = 3  # 18 training images: 6 full batches
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2, val_interval=1)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint.interval = 2
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    runner = Runner.from_cfg(cfg)
    assert len(runner.val_dataloader.dataset) == 2 and len(runner.train_dataloader) == 6
    runner.train()
    best = glob.glob(osp.join(cfg.work_dir, 'best_cIoU_epoch_*.pth'))
    assert len(best) == 1 and osp.exists(osp.join(cfg.work_dir, 'epoch_2.pth'))
