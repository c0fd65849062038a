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


def write_large_png(path, width: int, height: int) -> str:
    """A real, decodable all-black 8-bit grayscale PNG of ``width x height`` that is tiny on
    disk (20000 x 20000: about 400 KB), written row by row without holding the image."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack('>I', len(data)) + kind + data +
                struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff))

    compressor, row, parts = zlib.compressobj(9), bytes(width + 1), []  # filter byte + pixels
    for _ in range(height):
        parts.append(compressor.compress(row))
    parts.append(compressor.flush())
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n')
        f.write(chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 0, 0, 0, 0)))
        f.write(chunk(b'IDAT', b''.join(parts)))
        f.write(chunk(b'IEND', b''))
    return str(path)
