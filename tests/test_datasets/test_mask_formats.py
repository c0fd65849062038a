"""Mask formats (docs/data.md, "Mask formats"): OVCoser's reading (grayscale, > 0, EXIF orientation
applied), and the ambiguous files that the loader, the dataset's report and check_ovcamo name."""
import cv2
import numpy as np
import pytest
from mmseg.registry import DATASETS, TRANSFORMS
from PIL import Image

from mmseg_baclip.datasets import OVCamoDataError, check_ovcamo
from mmseg_baclip.datasets.ovcamo_masks import read_mask
from ovcamo_test_utils import (image_path, replace_file, save_with_orientation, split_entries,
                               write_png)

H, W = 24, 32


def object_mask(h=H, w=W) -> np.ndarray:
    """(h, w) bool: a rectangle, the object."""
    fg = np.zeros((h, w), bool)
    fg[h // 4:h // 2 + 2, w // 4:w // 2 + 3] = True
    return fg


def palette_white_background(path, fg):
    """Index 0 (background) is white and index 1 (object) is black: read by colour, inverted."""
    img = Image.fromarray(fg.astype(np.uint8), mode='P')
    img.putpalette([255, 255, 255, 0, 0, 0] + [0] * (254 * 3))
    img.save(path)


def soft_noise_floor(path, fg):
    """A soft 0..255 map: object 255, background at a noise floor of 2."""
    write_png(path, np.where(fg, 255, 2).astype(np.uint8))


def alpha_only(colour):
    def write(path, fg):
        """Colour constant, the object drawn in the alpha channel only."""
        rgba = np.zeros(fg.shape + (4, ), np.uint8)
        rgba[..., :3] = colour
        rgba[..., 3] = np.where(fg, 255, 0)
        write_png(path, rgba)
    return write


def jpeg_saved(path, fg):
    """A 0/255 mask saved as JPEG: compression noise around the object."""
    smooth = np.zeros(fg.shape, np.uint8)
    cv2.circle(smooth, (fg.shape[1] // 2, fg.shape[0] // 2), min(fg.shape) // 3, 255, -1)
    cv2.imwrite(path, smooth, [cv2.IMWRITE_JPEG_QUALITY, 90])


def sixteen_bit_labels(path, fg):
    """16-bit labels 0/1: OVCoser's 8-bit reading (value >> 8) makes the object background."""
    cv2.imwrite(path, fg.astype(np.uint16))


AMBIGUOUS = {
    'palette-index0-white': ('.png', palette_white_background, 'palette mask'),
    'soft-noise-floor-2': ('.png', soft_noise_floor, 'no pixel at 0'),
    'rgba-alpha-only-black': ('.png', alpha_only(0), 'alpha channel'),
    'rgba-alpha-only-white': ('.png', alpha_only(255), 'alpha channel'),
    'jpeg-mask': ('.jpg', jpeg_saved, 'lossy JPEG mask'),
    'sixteen-bit-0-1': ('.png', sixteen_bit_labels, '16-bit mask'),
}


def load_mask(path, **results):
    results.update(seg_map_path=str(path), seg_fields=[])
    return TRANSFORMS.build(dict(type='LoadOVCamoAnnotations'))(results)


@pytest.mark.parametrize('case', sorted(AMBIGUOUS))
def test_loader_refuses_an_ambiguous_mask_naming_the_file_and_why(tmp_path, case):
    ext, write, reason = AMBIGUOUS[case]
    path = str(tmp_path / f'mask{ext}')
    write(path, object_mask())
    with pytest.raises(ValueError, match='is ambiguous') as err:
        load_mask(path)
    assert path in str(err.value) and reason in str(err.value)
    assert 'Mask formats' in str(err.value)


@pytest.mark.parametrize('case', sorted(AMBIGUOUS))
def test_dataset_and_checker_report_an_ambiguous_mask(ovcamo_root, case):
    ext, write, reason = AMBIGUOUS[case]
    entry = split_entries(ovcamo_root, 'train')[0]
    h, w = cv2.imread(image_path(ovcamo_root, 'train', entry)).shape[:2]
    path = replace_file(ovcamo_root, 'train', entry, 'mask', ext)
    write(path, object_mask(h, w))
    with pytest.raises(OVCamoDataError) as err:
        DATASETS.build(dict(type='OVCamoDataset', data_root=ovcamo_root, split='train'))
    assert '1 bad sample' in str(err.value)
    assert f'mask {path}: ambiguous: ' in str(err.value) and reason in str(err.value)
    report = check_ovcamo(ovcamo_root)
    assert not report.ok
    assert any(path in line and reason in line for line in report.bad_files['train'])
    assert 'OK: no problems found.' not in report.format()


# ------------------------------------------------------------- deliberate readings


def test_colour_mask_is_read_by_its_luma_like_ovcoser(tmp_path):
    """A colour mask counts luma > 0 (cv2.IMREAD_GRAYSCALE, OVCoser's reader), not
    'any channel > 0': a pixel of blue 1 has luma 0 and is background."""
    fg = object_mask()
    bgr = np.zeros((H, W, 3), np.uint8)
    bgr[fg] = (0, 0, 255)  # red object
    bgr[0, :5] = (1, 0, 0)  # blue 1: luma round(0.114) = 0
    path = str(tmp_path / 'colour.png')
    write_png(path, bgr)
    gt = load_mask(path)['gt_seg_map']
    ovcoser = (cv2.imread(path, cv2.IMREAD_GRAYSCALE) > 0).astype(np.uint8)
    np.testing.assert_array_equal(gt, ovcoser)
    assert gt[0, :5].sum() == 0 and gt[fg].all()


@pytest.mark.parametrize('name,array', [
    ('binary-0-255', object_mask().astype(np.uint8) * 255),
    ('labels-0-1', object_mask().astype(np.uint8)),
    ('sixteen-bit-0-65535', object_mask().astype(np.uint16) * 65535),
])
def test_clean_masks_are_read_with_greater_than_zero(tmp_path, name, array):
    path = str(tmp_path / f'{name}.png')
    cv2.imwrite(path, array)
    reading = read_mask(open(path, 'rb').read())
    assert reading.problem is None
    np.testing.assert_array_equal(reading.mask, object_mask())


def test_anti_aliased_edge_is_not_a_soft_mask(tmp_path):
    mask = np.zeros((96, 128), np.uint8)
    cv2.circle(mask, (64, 48), 30, 255, -1, lineType=cv2.LINE_AA)
    assert ((mask > 0) & (mask < 128)).any()  # faint pixels on the outline
    path = str(tmp_path / 'aa.png')
    write_png(path, mask)
    np.testing.assert_array_equal(load_mask(path)['gt_seg_map'], mask > 0)


def test_rgba_mask_with_a_consistent_alpha_is_read_by_its_colours(tmp_path):
    fg = object_mask()
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[fg] = 255  # white opaque object on a transparent black background
    path = str(tmp_path / 'rgba.png')
    write_png(path, rgba)
    np.testing.assert_array_equal(load_mask(path)['gt_seg_map'], fg)


# ------------------------------------------------------------- EXIF orientation


def test_exif_rotated_jpeg_pair_gives_image_and_mask_in_the_same_orientation(tmp_path):
    """Both files carry EXIF orientation 6 (rotate 90 degrees clockwise to display);
    the image loader applies it, and so must the mask loader."""
    h, w = 40, 64  # stored pixels; displayed as 64 x 40
    raw_mask = np.zeros((h, w), np.uint8)
    raw_mask[8:24, 16:40] = 255  # 8-px aligned: JPEG keeps exactly 0 and 255
    raw_image = np.zeros((h, w, 3), np.uint8)
    raw_image[raw_mask > 0] = (200, 180, 40)
    img_path, mask_path = str(tmp_path / 'pair.jpg'), str(tmp_path / 'pair_mask.jpg')
    save_with_orientation(img_path, raw_image, 6, quality=100)
    save_with_orientation(mask_path, raw_mask, 6, quality=100)

    results = TRANSFORMS.build(dict(type='LoadOVCamoImage'))(dict(img_path=img_path))
    results.update(seg_map_path=mask_path, seg_fields=[])
    out = TRANSFORMS.build(dict(type='LoadOVCamoAnnotations', size_mismatch='error'))(results)
    displayed = np.rot90(raw_mask, k=-1) > 0  # orientation 6: 90 degrees clockwise
    assert out['img'].shape[:2] == out['gt_seg_map'].shape == (w, h)
    np.testing.assert_array_equal(out['gt_seg_map'], displayed)
    np.testing.assert_array_equal(out['img'].max(axis=2) > 100, displayed)  # aligned


def test_image_rotated_by_exif_but_mask_drawn_on_the_stored_pixels_is_reported(ovcamo_root):
    entry = split_entries(ovcamo_root, 'train')[0]
    raw = cv2.imread(image_path(ovcamo_root, 'train', entry))
    h, w = raw.shape[:2]
    if h == w:
        raw = raw[:, :w - 4]
        h, w = raw.shape[:2]
    img_path = replace_file(ovcamo_root, 'train', entry, 'image', '.jpg')
    save_with_orientation(img_path, raw[..., ::-1].copy(), 6)
    mask_path = replace_file(ovcamo_root, 'train', entry, 'mask', '.png')
    write_png(mask_path, object_mask(h, w).astype(np.uint8) * 255)  # stored size, no EXIF
    with pytest.raises(OVCamoDataError) as err:
        DATASETS.build(dict(type='OVCamoDataset', data_root=ovcamo_root, split='train'))
    assert mask_path in str(err.value) and 'EXIF orientation 6' in str(err.value)
    assert 'stored pixels' in str(err.value)
    assert any('EXIF orientation 6' in line
               for line in check_ovcamo(ovcamo_root, allow_size_mismatch=True).bad_files['train'])
