# The paper config with checkpoint selection on a validation set carved from the TRAINING
# images (14 seen classes), never on the OVCamo test split. A seeded 10% of the training
# samples (mmpretrain's KFoldDataset, fold 0 of 10, seed 0) is held out: training uses the
# other 90%, validation every 5 epochs scores the held-out 10% with the seen-class vocabulary,
# and best_cIoU_epoch_*.pth is kept. The test loader is still the test split (61 unseen
# classes); test the best checkpoint with tools/test.py. Needs mmpretrain (requirements/lock.txt,
# or `pip install -e .[reuse]`).
_base_ = ['../baclip_convnext-l_ovcamo.py']
custom_imports = dict(imports=['mmseg_baclip', 'mmpretrain.datasets'],
                      allow_failed_imports=False)

# The same fold, number of folds and seed in both loaders: the two parts are complementary.
holdout = dict(type='mmpretrain.KFoldDataset', fold=0, num_splits=10, seed=0)
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        **holdout,
        test_mode=False,  # the other 9 folds
        dataset=dict(
            type={{_base_.dataset_type}},
            data_root={{_base_.data_root}},
            split='train',
            on_bad_sample='error',
            pipeline={{_base_.train_pipeline}})))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        **holdout,
        test_mode=True,  # the held-out fold
        dataset=dict(
            type={{_base_.dataset_type}},
            data_root={{_base_.data_root}},
            split='train',
            test_mode=True,
            on_bad_sample='error',
            pipeline={{_base_.test_pipeline}})))
# test_dataloader is inherited unchanged: the OVCamo test split.

train_cfg = dict(val_interval=5)
default_hooks = dict(checkpoint=dict(save_best='cIoU', rule='greater'))
