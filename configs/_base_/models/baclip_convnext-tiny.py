# Small BaCLIP for CPU runs at 192x192: the paper's architecture (./baclip_convnext-l.py: frozen
# CLIP ConvNeXt, MREM, CCE, SAM text-prompted head), but a tiny CLIP bundled with mmseg_baclip
# (ConvNeXt-atto trunk, 64-d embeddings) with RANDOM, frozen weights, 64-d necks and a 64-d SAM
# decoder without SAM weights. No weight file is read; set backbone/text_encoder `checkpoint`
# to an open_clip file of this tiny CLIP to load one (as the synthetic-OV-world config does).
_base_ = ['./baclip_convnext-l.py']

clip_model_name = 'convnext_atto_baclip_tiny'
model = dict(
    data_preprocessor=dict(size=(192, 192)),
    backbone=dict(model_name=clip_model_name, checkpoint=None),
    text_encoder=dict(model_name=clip_model_name, checkpoint=None),
    align_neck=dict(in_channels=(80, 160, 320), text_channels=64, embed_dims=64, num_heads=4),
    neck=dict(in_channels=64, num_blocks=3, dct_tile=7, min_resolution=3),
    decode_head=dict(in_channels=64, text_channels=64, transformer_dim=64,
                     transformer_mlp_dim=256, transformer_heads=4, prompt_heads=4,
                     checkpoint=None))
