# BaCLIP (CVPR 2026) on OVCamo: frozen CLIP ConvNeXt-L, MREM, CCE (3 MFMSA), SAM text prompts.
# 384x384, AdamW lr 3e-5, batch 4 on 1 GPU, 30 epochs, cosine annealing.
# Weight files (nothing is downloaded): see the model base and README.md, "Data and weights".
_base_ = [
    '_base_/models/baclip_convnext-l.py',
    '_base_/datasets/ovcamo.py',
    '_base_/default_runtime.py',
    '_base_/schedules/schedule_30e_adamw_cosine.py',
]
