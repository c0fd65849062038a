# The standard camouflaged-object (COS) test sets, and an open-vocabulary COD10K test.
# Needs `custom_imports = dict(imports=['mmseg_baclip'], allow_failed_imports=False)` (set by
# the runtime base config). `tools/analysis/eval_cos.py` evaluates a checkpoint on all of them;
# `cos_camo.py`, `cos_chameleon.py`, `cos_cod10k.py`, `cos_nc4k.py` and `cos_cod10k_ov.py` make
# one of them the test set of a config, for mmseg's tools/test.py.
#
# Layouts (the common packaging of the four sets, and COD10K's own release):
#   data/TestDataset/{CAMO,CHAMELEON,COD10K,NC4K}/Imgs/<name>.jpg   .../GT/<name>.png
#   data/COD10K-v3/Test/Image/COD10K-CAM-*.jpg   data/COD10K-v3/Test/GT_Object/COD10K-CAM-*.png
cos_data_root = 'data/TestDataset'
cod10k_release_root = 'data/COD10K-v3'
cos_crop_size = (384, 384)
cos_meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape',
                 'scale_factor', 'flip', 'flip_direction', 'reduce_zero_label', 'class_name',
                 'vocabulary', 'unique_id')
# As OVCamo's test pipeline: the image resized to the model's input size, the mask loaded after
# Resize so that predictions are scored at the mask's size.
cos_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=cos_crop_size, keep_ratio=False),
    dict(type='LoadOVCamoAnnotations', size_mismatch='resize_image'),
    dict(type='PackSegInputs', meta_keys=cos_meta_keys),
]
# BaCLIP needs class names to prompt SAM with even where the masks have none: OVCamo's 75 by
# default (None); a list of names or a text file (one name a line) otherwise.
cos_vocabulary = None
OVCAMO_TRAIN_CLASSES = ['mantis', 'owl', 'grasshopper', 'katydid', 'snake', 'spider', 'lizard',
                        'snow leopard', 'human', 'seahorse', 'pipefish', 'flatfish', 'frog',
                        'succulent plant']

cos_test_sets = dict(
    CAMO=dict(
        dataset=dict(type='COSDataset', data_root=cos_data_root + '/CAMO', set_name='CAMO',
                     data_prefix=dict(img_path='Imgs', seg_map_path='GT'),
                     vocabulary=cos_vocabulary, test_mode=True, pipeline=cos_test_pipeline),
        evaluator=dict(type='COSMetric')),
    CHAMELEON=dict(
        dataset=dict(type='COSDataset', data_root=cos_data_root + '/CHAMELEON',
                     set_name='CHAMELEON', data_prefix=dict(img_path='Imgs', seg_map_path='GT'),
                     vocabulary=cos_vocabulary, test_mode=True, pipeline=cos_test_pipeline),
        evaluator=dict(type='COSMetric')),
    COD10K=dict(
        dataset=dict(type='COSDataset', data_root=cos_data_root + '/COD10K', set_name='COD10K',
                     data_prefix=dict(img_path='Imgs', seg_map_path='GT'),
                     vocabulary=cos_vocabulary, test_mode=True, pipeline=cos_test_pipeline),
        evaluator=dict(type='COSMetric')),
    NC4K=dict(
        dataset=dict(type='COSDataset', data_root=cos_data_root + '/NC4K', set_name='NC4K',
                     data_prefix=dict(img_path='Imgs', seg_map_path='GT'),
                     vocabulary=cos_vocabulary, test_mode=True, pipeline=cos_test_pipeline),
        evaluator=dict(type='COSMetric')),
    # Open-vocabulary COD10K: the class in each file name is the label, the classes found are
    # the vocabulary; class-aware (OVCamo's measures) and class-agnostic, and apart the images
    # of classes that are not OVCamo training classes (unseen/...).
    COD10K_OV=dict(
        dataset=dict(type='COSDataset', data_root=cod10k_release_root, set_name='COD10K-OV',
                     data_prefix=dict(img_path='Test/Image', seg_map_path='Test/GT_Object'),
                     image_pattern=r'^COD10K-CAM-', class_from_name='cod10k', test_mode=True,
                     pipeline=cos_test_pipeline),
        evaluator=dict(type='OVCOSMetric', class_agnostic=True,
                       seen_classes=OVCAMO_TRAIN_CLASSES)),
)
