"""Tiny BaCLIP building blocks shared by the tests."""
import os.path as osp

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

TINY_CLIP = 'convnext_atto_baclip_tiny'  # bundled open_clip config: stages 40/80/160/320, D=64


def tiny_baclip_cfg(**overrides) -> dict:
    """A BaCLIP config with the tiny CLIP and narrow heads (random weights)."""
    cfg = dict(
        type='BaCLIP',
        data_preprocessor=dict(
            type='SegDataPreProcessor', mean=[122.7709383, 116.7460125, 104.09373615],
            std=[68.5005327, 66.6321579, 70.32316305], bgr_to_rgb=True, pad_val=0,
            seg_pad_val=255, size=(64, 64)),
        backbone=dict(type='OpenCLIPConvNeXt', model_name=TINY_CLIP),
        text_encoder=dict(type='OpenCLIPTextEncoder', model_name=TINY_CLIP),
        align_neck=dict(type='MREM', in_channels=(80, 160, 320), text_channels=64,
                        embed_dims=64, num_heads=4),
        neck=dict(type='CCE', in_channels=64, num_blocks=2, dct_tile=7),
        decode_head=dict(type='SAMPromptHead', in_channels=64, text_channels=64,
                         transformer_dim=64, transformer_mlp_dim=128, transformer_heads=4,
                         prompt_heads=4))
    cfg.update(overrides)
    return cfg
