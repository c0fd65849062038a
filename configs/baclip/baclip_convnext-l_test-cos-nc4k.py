# The paper's model tested on NC4K (a checkpoint trained on OVCamo; see
# configs/_base_/datasets/cos_testsets.py for the layout and the data root):
#   python tools/test.py configs/baclip/baclip_convnext-l_test-cos-nc4k.py CHECKPOINT
# tools/analysis/eval_cos.py evaluates one checkpoint on all the COS sets in one go.
_base_ = [
    '../_base_/models/baclip_convnext-l.py',
    '../_base_/datasets/cos_nc4k.py',
    '../_base_/default_runtime.py',
]
test_cfg = dict(type='TestLoop')
