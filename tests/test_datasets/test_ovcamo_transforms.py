"""OVCamo transforms: image formats, mask binarisation, size mismatches and rotation."""
import os.path as osp

import cv2
import numpy as np
import pytest
from mmseg.registry import TRANSFORMS
from PIL import Image

from mmseg_baclip.datasets import LoadOVCamoAnnotations, LoadOVCamoImage, OVCamoRandomRotate
from ovcamo_test_utils import corrupt, write_png

H, W = 20, 28


def gradient(h=H, w=W) -> np.ndarray:
    """A (h, w, 3) uint8 BGR image whose three channels differ."""
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx * 9 % 256, yy * 12 % 256, (xx + yy) * 5 % 256], -1).astype(np.uint8)


def load_image(path, **kwargs):
    return TRANSFORMS.build(dict(type='LoadOVCamoImage', **kwargs))(dict(img_path=str(path)))


def load_mask(path, ori_shape=None, **kwargs):
    results = dict(seg_map_path=str(path), seg_fields=[])
    if ori_shape is not None:
        results.update(img_path='img.jpg', ori_shape=ori_shape, img_shape=ori_shape)
    return TRANSFORMS.build(dict(type='LoadOVCamoAnnotations', **kwargs))(results)


def test_transforms_are_registered():
    for name, cls in (('LoadOVCamoImage', LoadOVCamoImage),
                      ('LoadOVCamoAnnotations', LoadOVCamoAnnotations),
                      ('OVCamoRandomRotate', OVCamoRandomRotate)):
        assert isinstance(TRANSFORMS.build(dict(type=name)), cls)


# ---------------------------------------------------------------- images


def test_colour_jpeg_loads_as_bgr_uint8(tmp_path):
    img = gradient()
    cv2.imwrite(str(tmp_path / 'a.png'), img)
    out = load_image(tmp_path / 'a.png')
    assert out['img'].dtype == np.uint8 and out['img'].shape == (H, W, 3)
    np.testing.assert_array_equal(out['img'], img)
    assert out['ori_shape'] == out['img_shape'] == (H, W)


@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
def test_grayscale_image_becomes_three_equal_channels(tmp_path, backend):
    gray = gradient()[..., 0]
    write_png(str(tmp_path / 'g.png'), gray)
    out = load_image(tmp_path / 'g.png', imdecode_backend=backend)['img']
    assert out.shape == (H, W, 3) and out.dtype == np.uint8
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], gray)


@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
def test_rgba_image_drops_alpha(tmp_path, backend):
    bgr = gradient()
    bgra = np.concatenate([bgr, np.full((H, W, 1), 7, np.uint8)], -1)
    write_png(str(tmp_path / 'a.png'), bgra)
    out = load_image(tmp_path / 'a.png', imdecode_backend=backend)['img']
    assert out.shape == (H, W, 3)
    np.testing.assert_array_equal(out, bgr)


@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
def test_palette_image_expands_to_its_colours(tmp_path, backend):
    index = (np.arange(H * W).reshape(H, W) % 3).astype(np.uint8)
    pal = Image.fromarray(index, mode='P')
    pal.putpalette([10, 20, 30, 200, 100, 0, 0, 255, 60] + [0] * (253 * 3))
    pal.save(tmp_path / 'p.png')
    out = load_image(tmp_path / 'p.png', imdecode_backend=backend)['img']
    rgb = np.array([[10, 20, 30], [200, 100, 0], [0, 255, 60]], np.uint8)
    np.testing.assert_array_equal(out, rgb[index][..., ::-1])


@pytest.mark.parametrize('channels', [1, 3])
def test_sixteen_bit_image_is_scaled_to_eight_bits(tmp_path, channels):
    value = np.uint16(51400)  # 200.0 * 257
    img16 = np.full((H, W) if channels == 1 else (H, W, 3), value, np.uint16)
    if channels == 3:
        img16[..., 2] = 257 * 20
    cv2.imwrite(str(tmp_path / 'i16.png'), img16)
    out = load_image(tmp_path / 'i16.png')['img']
    assert out.dtype == np.uint8 and out.shape == (H, W, 3)
    assert out[0, 0, 0] == 200 and out[0, 0, 2] == (20 if channels == 3 else 200)


def test_to_float32(tmp_path):
    cv2.imwrite(str(tmp_path / 'a.png'), gradient())
    assert load_image(tmp_path / 'a.png', to_float32=True)['img'].dtype == np.float32


def test_missing_and_corrupt_images_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'Image not found: .*nope\.jpg.*sample_info'):
        load_image(tmp_path / 'nope.jpg')
    corrupt(str(tmp_path / 'bad.jpg'))
    with pytest.raises(ValueError, match=r'Cannot decode image .*bad\.jpg.*check_ovcamo\.py'):
        load_image(tmp_path / 'bad.jpg')
    assert load_image(tmp_path / 'bad.jpg', ignore_empty=True) is None


def test_an_image_above_the_pixel_limit_is_refused_before_decoding(tmp_path, monkeypatch):
    from baclip_test_utils import write_large_png
    from mmseg_baclip.utils.image_limits import ImageTooLargeError
    huge = write_large_png(tmp_path / 'huge.png', 20000, 20000)  # 389 KB, 400 MP
    for ignore_empty in (False, True):  # not a missing file: never skipped silently
        with pytest.raises(ImageTooLargeError, match=r'huge\.png: the image is (20000 x 20000 = )?'
                           r'400,000,000 pixels, more than the limit of 120,000,000'):
            load_image(huge, ignore_empty=ignore_empty)
    cv2.imwrite(str(tmp_path / 'small.png'), gradient())
    monkeypatch.setenv('BACLIP_MAX_IMAGE_PIXELS', str(H * W - 1))  # the user's own limit
    with pytest.raises(ImageTooLargeError, match='BACLIP_MAX_IMAGE_PIXELS'):
        load_image(tmp_path / 'small.png')
    monkeypatch.setenv('BACLIP_MAX_IMAGE_PIXELS', str(H * W))
    assert load_image(tmp_path / 'small.png')['img'].shape == (H, W, 3)
    monkeypatch.setenv('BACLIP_MAX_IMAGE_PIXELS', 'lots')
    with pytest.raises(ValueError, match="BACLIP_MAX_IMAGE_PIXELS='lots'"):
        load_image(tmp_path / 'small.png')


def test_an_animated_image_gives_its_first_frame_with_a_warning(tmp_path):
    frames = [Image.new('RGB', (W, H), colour) for colour in ('red', 'green', 'blue')]
    frames[0].save(tmp_path / 'moving.gif', save_all=True, append_images=frames[1:],
                   duration=100, loop=0)
    with pytest.warns(UserWarning, match=r'moving\.gif holds 3 frames .* only the first'):
        img = load_image(tmp_path / 'moving.gif', imdecode_backend='pillow')['img']
    assert img.shape == (H, W, 3) and tuple(img[0, 0]) == (0, 0, 255)  # red, BGR


# ---------------------------------------------------------------- masks


def test_mask_is_binarised_with_greater_than_zero(tmp_path):
    mask = np.zeros((H, W), np.uint8)
    mask[0, :4] = [1, 127, 128, 255]
    write_png(str(tmp_path / 'm.png'), mask)
    out = load_mask(tmp_path / 'm.png', ori_shape=(H, W))
    gt = out['gt_seg_map']
    assert gt.dtype == np.uint8 and gt.shape == (H, W)
    np.testing.assert_array_equal(gt, (mask > 0).astype(np.uint8))
    assert out['seg_fields'] == ['gt_seg_map']


def test_palette_mask(tmp_path):
    index = np.zeros((H, W), np.uint8)
    index[4:9, 5:12] = 1
    pal = Image.fromarray(index, mode='P')
    pal.putpalette([0, 0, 0, 255, 255, 255] + [0] * (254 * 3))
    pal.save(tmp_path / 'p.png')
    gt = load_mask(tmp_path / 'p.png')['gt_seg_map']
    np.testing.assert_array_equal(gt, index)


def test_masks_are_decoded_by_opencv_only():
    """16-bit, palette and alpha masks mean what OVCoser's OpenCV reading gives (docs/data.md, "Mask
    formats"), so another decoding backend is refused instead of reading them differently."""
    with pytest.raises(ValueError, match="imdecode_backend must be 'cv2'"):
        LoadOVCamoAnnotations(imdecode_backend='pillow')


def test_rgb_and_rgba_masks_ignore_alpha(tmp_path):
    fg = np.zeros((H, W), bool)
    fg[3:10, 2:8] = True
    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[fg] = (0, 0, 255)  # red object
    write_png(str(tmp_path / 'rgb.png'), rgb)
    rgba = np.concatenate([rgb, np.full((H, W, 1), 255, np.uint8)], -1)  # opaque everywhere
    write_png(str(tmp_path / 'rgba.png'), rgba)
    for name in ('rgb.png', 'rgba.png'):
        np.testing.assert_array_equal(load_mask(tmp_path / name)['gt_seg_map'], fg)


def test_missing_and_corrupt_masks_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'Mask not found: .*nope\.png'):
        load_mask(tmp_path / 'nope.png')
    corrupt(str(tmp_path / 'bad.png'))
    with pytest.raises(ValueError, match=r'Cannot decode mask .*bad\.png'):
        load_mask(tmp_path / 'bad.png')


def test_size_mismatch_is_an_error_naming_both_files_and_sizes(tmp_path):
    write_png(str(tmp_path / 'm.png'), np.zeros((H, W), np.uint8))
    with pytest.raises(ValueError) as err:
        load_mask(tmp_path / 'm.png', ori_shape=(H + 2, W))
    msg = str(err.value)
    assert osp.join(str(tmp_path), 'm.png') in msg and 'img.jpg' in msg
    assert f'{H}x{W}' in msg and f'{H + 2}x{W}' in msg and "size_mismatch='resize_image'" in msg


def test_resize_image_option_before_resize_resizes_the_image(tmp_path):
    write_png(str(tmp_path / 'm.png'), np.zeros((H, W), np.uint8))
    img = np.zeros((H * 2, W + 4, 3), np.uint8)
    results = dict(img=img, img_path='i.jpg', img_shape=img.shape[:2], ori_shape=img.shape[:2],
                   seg_map_path=str(tmp_path / 'm.png'), seg_fields=[])
    out = LoadOVCamoAnnotations(size_mismatch='resize_image')(results)
    assert out['img'].shape == (H, W, 3)
    assert out['img_shape'] == out['ori_shape'] == (H, W) == out['gt_seg_map'].shape


def test_resize_image_option_after_resize_updates_ori_shape_only(tmp_path):
    write_png(str(tmp_path / 'm.png'), np.zeros((H, W), np.uint8))
    img = np.zeros((H * 2, W + 4, 3), np.uint8)
    results = dict(img=img, img_path='i.jpg', img_shape=img.shape[:2], ori_shape=img.shape[:2])
    results = TRANSFORMS.build(dict(type='Resize', scale=(32, 32), keep_ratio=False))(results)
    results.update(seg_map_path=str(tmp_path / 'm.png'), seg_fields=[])
    out = LoadOVCamoAnnotations(size_mismatch='resize_image')(results)
    assert out['img'].shape == (32, 32, 3) and out['img_shape'] == (32, 32)
    assert out['ori_shape'] == (H, W) == out['gt_seg_map'].shape
    assert out['scale_factor'] == pytest.approx((32 / W, 32 / H))


def test_invalid_size_mismatch_mode():
    with pytest.raises(ValueError, match='size_mismatch'):
        LoadOVCamoAnnotations(size_mismatch='crop')


# ---------------------------------------------------------------- rotation


def test_rotation_replicates_the_border():
    img = np.full((H, W, 3), 100, np.uint8)
    seg = np.ones((H, W), np.uint8)
    rot = OVCamoRandomRotate(prob=1.0, degree=(45, 45))
    out = rot(dict(img=img.copy(), gt_seg_map=seg.copy(), seg_fields=['gt_seg_map']))
    assert (out['img'] == 100).all()  # a constant border would leave 0-valued corners
    assert (out['gt_seg_map'] == 1).all()
    const = OVCamoRandomRotate(prob=1.0, degree=(45, 45), border_mode='constant',
                               seg_border_mode='constant')
    out = const(dict(img=img.copy(), gt_seg_map=seg.copy(), seg_fields=['gt_seg_map']))
    assert out['img'][0, 0].tolist() == [0, 0, 0] and out['gt_seg_map'][0, 0] == 255


def test_rotation_moves_image_and_mask_together():
    img = np.zeros((32, 32, 3), np.uint8)
    seg = np.zeros((32, 32), np.uint8)
    img[4:10, 14:18] = 255
    seg[4:10, 14:18] = 1
    out = OVCamoRandomRotate(prob=1.0, degree=(90, 90))(
        dict(img=img, gt_seg_map=seg, seg_fields=['gt_seg_map']))
    np.testing.assert_array_equal(out['img'][..., 0] > 127, out['gt_seg_map'] == 1)
    assert out['gt_seg_map'].sum() > 0 and not (out['gt_seg_map'] == seg).all()


def test_rotation_with_prob_zero_is_identity():
    img = np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8)
    out = OVCamoRandomRotate(prob=0.0)(dict(img=img.copy(), seg_fields=[]))
    np.testing.assert_array_equal(out['img'], img)
