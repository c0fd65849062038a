# BaCLIP (CVPR 2026): frozen CLIP ConvNeXt-L, MREM, CCE (3 MFMSA), SAM text-prompted head; the
# paper's model at 384x384 inputs. Needs mmseg_baclip (custom_imports of the runtime base).

# ---- Local weight files (nothing is downloaded). See README.md, "Data and weights". -------
clip_checkpoint = 'checkpoints/clip/convnext_large_d_320.laion2b_s29b_b131k_ft_soup/open_clip_pytorch_model.bin'  # noqa: E501
sam_checkpoint = 'checkpoints/sam/sam_vit_b_01ec64.pth'
clip_model_name = 'convnext_large_d_320'

data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[122.7709383, 116.7460125, 104.09373615],  # OpenAI CLIP mean/std (x255), RGB
    std=[68.5005327, 66.6321579, 70.32316305],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(384, 384))
model = dict(
    type='BaCLIP',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='OpenCLIPConvNeXt', model_name=clip_model_name, checkpoint=clip_checkpoint,
        out_indices=(0, 1, 2, 3)),
    text_encoder=dict(
        type='OpenCLIPTextEncoder', model_name=clip_model_name, checkpoint=clip_checkpoint,
        templates='camoprompts'),
    align_neck=dict(
        type='MREM', in_channels=(384, 768, 1536), in_index=(1, 2, 3), out_level=1,
        text_channels=768, embed_dims=256, num_heads=8, num_layers=1,
        text_to_vision=True, vision_to_text=True,
        norm_levels=True,  # a LayerNorm2d per CLIP level before Conv1 (as OVCoser)
        norm_text=True),  # a LayerNorm on the projected class tokens (the vision stream's scale)
    neck=dict(type='CCE', in_channels=256, num_blocks=3, scale_branches=3,
              num_frequencies=16, min_resolution=4),
    decode_head=dict(
        type='SAMPromptHead', in_channels=256, text_channels=256, transformer_dim=256,
        prompt_self_attention=True, freeze_mask_decoder=False,
        norm_visual=True,  # a LayerNorm2d on E_v* before SAM's decoder (as SAM's encoder neck)
        checkpoint=sam_checkpoint,
        loss_decode=dict(type='WeightedBCEDiceLoss')))
