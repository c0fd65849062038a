# Ablation row "ViT-L/14 backbone" (the paper: cIoU .458 < ConvNeXt-L .488): the frozen CLIP
# ViT-L/14 (OpenAI weights, QuickGELU) instead of ConvNeXt-L. Four blocks (6/12/18/24) of the
# stride-14 ViT are resized to strides 4/8/16/32; the position embedding is interpolated to 384.
_base_ = ['../baclip_convnext-l_ovcamo.py']

vit_checkpoint = 'checkpoints/clip/ViT-L-14.openai/open_clip_pytorch_model.bin'
vit_model_name = 'ViT-L-14-quickgelu'
model = dict(
    backbone=dict(_delete_=True, type='OpenCLIPViT', model_name=vit_model_name,
                  checkpoint=vit_checkpoint, image_size=384, layer_indices=(5, 11, 17, 23)),
    text_encoder=dict(model_name=vit_model_name, checkpoint=vit_checkpoint),
    align_neck=dict(in_channels=(1024, 1024, 1024), text_channels=768))
