"""A stock mmseg segmentor config on OVCamoDataset: mmseg's ``LoadAnnotations`` (which would
read the object pixels, 255, as "ignore" and learn nothing) is refused with an error naming
``LoadOVCamoAnnotations``; with that loader the same config learns the object."""
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmseg.evaluation import IoUMetric

from mmseg_baclip.synthetic_world import make_synthetic_ovcamo

SIZE = (64, 64)


def _stock_config(data_root: str, work_dir: str, mask_loader: str, iters: int) -> Config:
    """SegFormer (a tiny MiT) + IoUMetric, with stock pipelines around ``mask_loader``."""
    train_pipeline = [dict(type='LoadImageFromFile'), dict(type=mask_loader),
                      dict(type='Resize', scale=SIZE, keep_ratio=False),
                      dict(type='PackSegInputs')]
    test_pipeline = [dict(type='LoadImageFromFile'),
                     dict(type='Resize', scale=SIZE, keep_ratio=False), dict(type=mask_loader),
                     dict(type='PackSegInputs')]

    def dataset(pipeline, test_mode):  # scored on the training images: did it learn them?
        return dict(type='OVCamoDataset', data_root=data_root, split='train',
                    test_mode=test_mode, pipeline=pipeline)

    return Config(dict(
        default_scope='mmseg',
        custom_imports=dict(imports=['mmseg_baclip'], allow_failed_imports=False),
        work_dir=work_dir,
        model=dict(
            type='EncoderDecoder',
            data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                                   std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0,
                                   seg_pad_val=255, size=SIZE),
            backbone=dict(type='MixVisionTransformer', in_channels=3, embed_dims=16,
                          num_stages=4, num_layers=[1, 1, 1, 1], num_heads=[1, 2, 4, 8],
                          patch_sizes=[7, 3, 3, 3], sr_ratios=[8, 4, 2, 1],
                          out_indices=(0, 1, 2, 3), mlp_ratio=2),
            decode_head=dict(type='SegformerHead', in_channels=[16, 32, 64, 128],
                             in_index=[0, 1, 2, 3], channels=32, num_classes=2,
                             norm_cfg=dict(type='BN', requires_grad=True), align_corners=False,
                             loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                                              loss_weight=1.0, class_weight=[1.0, 4.0])),
            train_cfg=dict(), test_cfg=dict(mode='whole')),
        train_dataloader=dict(batch_size=4, num_workers=0,
                              sampler=dict(type='InfiniteSampler', shuffle=True),
                              dataset=dataset(train_pipeline, False)),
        val_dataloader=dict(batch_size=1, num_workers=0,
                            sampler=dict(type='DefaultSampler', shuffle=False),
                            dataset=dataset(test_pipeline, True)),
        val_evaluator=dict(type='IoUMetric', iou_metrics=['mIoU']),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=iters),
        val_cfg=dict(type='ValLoop'),
        optim_wrapper=dict(type='OptimWrapper',
                           optimizer=dict(type='AdamW', lr=1e-2, weight_decay=0.0)),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=10),
                           checkpoint=dict(type='CheckpointHook', interval=iters)),
        log_processor=dict(by_epoch=False),
        randomness=dict(seed=0),
        experiment_name=f'stock_{mask_loader}'))


@pytest.fixture(scope='module')
def data_root(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp('stock_ovcamo')
    make_synthetic_ovcamo(str(root), num_train=8, num_test=4, size=SIZE, seed=1)
    return str(root)


def test_stock_load_annotations_refused(data_root, tmp_path):
    cfg = _stock_config(data_root, str(tmp_path / 'work'), 'LoadAnnotations', iters=2)
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match=r"LoadAnnotations.*ignore.*'LoadOVCamoAnnotations'"):
        runner.train()


def test_stock_segmentor_learns_with_the_ovcamo_loader(data_root, tmp_path):
    cfg = _stock_config(data_root, str(tmp_path / 'work'), 'LoadOVCamoAnnotations', iters=20)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.val_evaluator.dataset_meta['classes'] == ('background', 'camouflaged')
    # IoU of the object (label 1) over the training images, with mmseg's own counting
    runner.model.eval()
    totals = torch.zeros(2, 2)  # (intersection, union) x class
    for batch in runner.val_dataloader:
        for sample in runner.model.val_step(batch):
            gt = sample.gt_sem_seg.data[0]
            assert set(gt.unique().tolist()) == {0, 1}  # the object is a label, not "ignore"
            inter, union, _, _ = IoUMetric.intersect_and_union(
                sample.pred_sem_seg.data[0], gt, num_classes=2, ignore_index=255)
            totals += torch.stack([inter, union])
    object_iou = float(totals[0, 1] / totals[1, 1])
    assert object_iou > 0.05, f'object IoU {object_iou:.3f}'
