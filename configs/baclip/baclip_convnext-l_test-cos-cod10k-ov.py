# The paper's config, tested on COD10K-OV instead of OVCamo's test split (training and validation are
# the paper's; see configs/_base_/datasets/cos_testsets.py for the layout and the data root):
#   python tools/test.py configs/baclip/baclip_convnext-l_test-cos-cod10k-ov.py CHECKPOINT
# tools/analysis/eval_cos.py evaluates one checkpoint on all the COS sets in one go.
_base_ = [
    '../baclip_convnext-l_ovcamo.py',
    '../_base_/datasets/cos_testsets.py',
]
test_dataloader = dict(
    _delete_=True,
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset={{_base_.cos_test_sets.COD10K_OV.dataset}})
test_evaluator = dict(
    _delete_=True, type='OVCOSMetric', class_agnostic=True,
    seen_classes={{_base_.OVCAMO_TRAIN_CLASSES}})
