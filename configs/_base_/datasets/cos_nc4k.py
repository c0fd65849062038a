# NC4K as the test set of a config (see cos_testsets.py for the layout and the data root).
_base_ = './cos_testsets.py'
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset={{_base_.cos_test_sets.NC4K.dataset}})
test_evaluator = {{_base_.cos_test_sets.NC4K.evaluator}}
