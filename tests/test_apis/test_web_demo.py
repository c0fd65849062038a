"""The web demo's page logic (mmseg_baclip.apis.web_demo), without a browser or Gradio."""
import os
import os.path as osp
import threading

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from mmseg_baclip.apis.web_demo import (KEEP_MASK_FILES, DemoInputError, WebDemo,
                                        format_vocabulary, list_test_images,
                                        message_markdown, parse_demo_vocabulary,
                                        resize_to_max_side)

VOCAB = 'shrimp, crab, octopus, starfish, seahorse, frog'


class StubInferencer:
    """Stands in for OVCOSInferencer: a fixed result; optionally blocks until released."""

    default_vocabulary = ('owl', 'moth')

    def __init__(self, block: bool = False) -> None:
        self.entered, self.release = threading.Event(), threading.Event()
        self.block = block

    def loader(self, path):
        img = cv2.imread(path)
        if img is None:
            raise ValueError(f'cannot decode {path}')
        return dict(img=img)

    def __call__(self, image, vocabulary, return_vis):
        self.entered.set()
        if self.block:
            assert self.release.wait(timeout=60)
        h, w = image.shape[:2]
        mask = np.zeros((h, w), bool)
        mask[: h // 2] = True
        return [{'class': vocabulary[0], 'score': 0.9, 'top5': [[vocabulary[0], 0.9]],
                 'size': [h, w], 'mask': mask, 'overlay': image[..., ::-1].copy()}]


def write_image(path, width, height):
    image = np.zeros((height, width, 3), np.uint8)
    image[:, : width // 2] = (30, 120, 200)
    assert cv2.imwrite(str(path), image)
    return str(path)


# ---------------------------------------------------------------------------- vocabulary
def test_vocabulary_text_is_split_on_commas_and_lines():
    assert parse_demo_vocabulary(' owl,  snow   leopard ,\nmoth,, ') == (
        'owl', 'snow leopard', 'moth')
    assert format_vocabulary(('owl', 'moth')) == 'owl, moth'


@pytest.mark.parametrize('text', [None, '', '   ', ', ,\n,'])
def test_empty_vocabulary_is_refused(text):
    with pytest.raises(DemoInputError, match='vocabulary is empty'):
        parse_demo_vocabulary(text)


def test_duplicated_vocabulary_names_the_repeats():
    with pytest.raises(DemoInputError, match='repeats') as info:
        parse_demo_vocabulary('owl, moth, Owl, frog, moth')
    assert "'Owl' repeats name #0 'owl'" in str(info.value)
    assert "'moth' repeats name #1 'moth'" in str(info.value)
    assert "'frog'" not in str(info.value)


def test_too_many_names_are_refused():
    with pytest.raises(DemoInputError, match='at most 3'):
        parse_demo_vocabulary('a, b, c, d', max_classes=3)


# ---------------------------------------------------------------------------- images
def test_resize_to_max_side_keeps_the_aspect_and_says_so():
    image = np.zeros((6000, 8000, 3), np.uint8)
    resized, note = resize_to_max_side(image, 2048)
    assert resized.shape == (1536, 2048, 3)
    assert '8000 x 6000' in note and '2048 x 1536' in note
    small = np.zeros((90, 120, 3), np.uint8)
    same, note = resize_to_max_side(small, 2048)
    assert same is small and note == ''


def test_list_test_images(tmp_path):
    # its own tree: other tests may edit the shared assets' files (bad-input cases)
    from mmseg_baclip.synthetic_world import make_synthetic_ovcamo
    root = str(tmp_path / 'ovcamo')
    make_synthetic_ovcamo(root, num_train=1, num_test=3, size=(32, 32), seed=0)
    expected = sorted(osp.join(root, 'test', 'image', f)
                      for f in os.listdir(osp.join(root, 'test', 'image')))
    own = Config(dict(test_dataloader=dict(dataset=dict(
        type='OVCamoDataset', data_root=root, split='test'))))
    assert list_test_images(own) == expected and len(expected) == 3
    cfg = Config(dict(test_dataloader=dict(dataset=dict(
        type='OVCamoDataset', data_root=str(tmp_path / 'missing'), split='test'))))
    assert list_test_images(cfg) == []
    assert list_test_images(Config(dict())) == []


# ---------------------------------------------------------------------------- the model
@pytest.fixture(scope='module')
def demo(inferencer, tmp_path_factory):
    return WebDemo(inferencer, out_dir=str(tmp_path_factory.mktemp('web_demo')))


def test_segment_gives_overlay_class_top5_and_mask(demo, inferencer, tiny_assets):
    path = tiny_assets.test_images[0]
    result = demo.segment(path, VOCAB)
    assert result.ok and not result.busy, result.message
    expected = inferencer(path, vocabulary=VOCAB.split(', '))[0]
    assert result.label == f'{expected["class"]} ({expected["score"]:.3f})'
    assert [c for c, _ in result.top5] == [c for c, _ in expected['top5']]
    assert len(result.top5) == 5 and result.top5[0][0] == expected['class']
    assert result.overlay.shape == (96, 96, 3) and result.overlay.dtype == np.uint8
    assert result.size == (96, 96)
    mask = cv2.imread(result.mask_path, cv2.IMREAD_UNCHANGED)
    assert mask.shape == (96, 96) and set(np.unique(mask)) <= {0, 255}
    np.testing.assert_array_equal(mask > 0, expected['mask'])
    assert osp.basename(result.mask_path) == osp.splitext(osp.basename(path))[0] + '_mask.png'
    assert result.message == '6 class names.'


def test_default_vocabulary_text_is_the_configs(demo, inferencer):
    assert parse_demo_vocabulary(demo.default_vocabulary_text) == \
        inferencer.default_vocabulary


def test_large_image_is_resized_with_a_note(demo, tmp_path):
    path = write_image(tmp_path / 'big.jpg', 8000, 6000)
    result = demo.segment(path, VOCAB)
    assert result.ok, result.message
    assert result.size == (2048, 1536) and result.overlay.shape == (1536, 2048, 3)
    assert 'resized' in result.message and '8000 x 6000' in result.message
    assert cv2.imread(result.mask_path, cv2.IMREAD_UNCHANGED).shape == (1536, 2048)


@pytest.mark.parametrize('content', [b'', b'this is not a picture', b'\xff\xd8\xff\xe0' * 8])
def test_unreadable_file_gives_a_message(demo, tmp_path, content):
    path = tmp_path / 'holiday.jpg'
    path.write_bytes(content)
    result = demo.segment(str(path), VOCAB)
    assert not result.ok and result.overlay is None and result.mask_path is None
    assert result.message.startswith('Could not read "holiday.jpg" as an image')


def test_truncated_jpeg_gives_a_message(demo, tmp_path, tiny_assets):
    data = open(tiny_assets.test_images[0], 'rb').read()
    path = tmp_path / 'cut.jpg'
    path.write_bytes(data[:len(data) // 3])
    result = demo.segment(str(path), VOCAB)
    assert not result.ok and 'cut.jpg' in result.message


def test_bad_requests_give_messages(demo, tiny_assets):
    image = tiny_assets.test_images[0]
    for path, vocab, expected in [(None, VOCAB, 'No image'), (image, ' , ', 'empty'),
                                  (image, 'crab, Crab', 'repeats'),
                                  (image, 'crab, a/../b', 'path separator'),
                                  (image, 'crab, \x1b[31mred', "'\\x1b'")]:
        result = demo.segment(path, vocab)
        assert not result.ok and not result.busy and expected in result.message


def test_too_many_pixels_are_refused_before_decoding(inferencer, tiny_assets, tmp_path):
    demo = WebDemo(inferencer, out_dir=str(tmp_path), max_pixels=1000)
    result = demo.segment(tiny_assets.test_images[0], VOCAB, name='shot.jpg')
    assert not result.ok and '"shot.jpg": the image is 96 x 96' in result.message
    assert 'BACLIP_MAX_IMAGE_PIXELS' in result.message


def test_the_pixel_limit_is_the_projects_and_can_be_raised(inferencer, monkeypatch, tmp_path):
    monkeypatch.setenv('BACLIP_MAX_IMAGE_PIXELS', '5000')
    assert WebDemo(inferencer, out_dir=str(tmp_path)).max_pixels == 5000
    monkeypatch.setenv('BACLIP_MAX_IMAGE_PIXELS', '400_000_000')
    assert WebDemo(inferencer, out_dir=str(tmp_path)).max_pixels == 400_000_000


def test_messages_do_not_show_the_servers_upload_path(tmp_path):
    upload = tmp_path / 'gradio' / '3f9a2c' / 'holiday.jpg'
    upload.parent.mkdir(parents=True)
    upload.write_bytes(b'this is not a picture')
    result = WebDemo(StubInferencer(), out_dir=str(tmp_path / 'out')).segment(
        str(upload), VOCAB, name='holiday.jpg')
    assert not result.ok and 'holiday.jpg' in result.message
    assert str(tmp_path) not in result.message and '3f9a2c' not in result.message


def test_html_and_markdown_in_a_message_render_as_text():
    shown = message_markdown('Class "<img src=x onerror=alert(1)>" is **bad** [x](y)')
    assert '<img' not in shown and '&lt;img' in shown
    assert '**' not in shown and '\\*\\*bad\\*\\*' in shown and '\\[x\\]' in shown


def test_an_animated_image_says_only_its_first_frame_is_used(tmp_path):
    from PIL import Image
    frames = [Image.new('RGB', (40, 30), colour) for colour in ('red', 'green', 'blue')]
    path = tmp_path / 'moving.gif'
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    demo = WebDemo(StubInferencer(), out_dir=str(tmp_path / 'out'))
    demo.inferencer.loader = lambda p: dict(img=np.asarray(Image.open(p).convert('RGB')))
    result = demo.segment(str(path), 'owl', name='moving.gif')
    assert result.ok and '3 frames' in result.message and 'first frame' in result.message


# ---------------------------------------------------------------------------- busy / files
def test_second_request_while_one_runs_is_told_busy(tmp_path):
    stub = StubInferencer(block=True)
    demo = WebDemo(stub, out_dir=str(tmp_path))
    path = write_image(tmp_path / 'a.png', 40, 30)
    first = {}
    worker = threading.Thread(target=lambda: first.update(r=demo.segment(path, 'owl, moth')))
    worker.start()
    try:
        assert stub.entered.wait(timeout=60)
        second = demo.segment(path, 'owl, moth')
        assert second.busy and not second.ok and 'busy' in second.message
    finally:
        stub.release.set()
        worker.join(timeout=60)
    assert first['r'].ok and first['r'].label == 'owl (0.900)'
    assert demo.segment(path, 'owl').ok  # free again


def test_old_mask_files_are_removed(tmp_path):
    demo = WebDemo(StubInferencer(), out_dir=str(tmp_path / 'out'))
    path = write_image(tmp_path / 'a.png', 40, 30)
    paths = [demo.segment(path, 'owl').mask_path for _ in range(KEEP_MASK_FILES + 3)]
    assert all(osp.isfile(p) for p in paths[-KEEP_MASK_FILES:])
    assert not any(osp.exists(p) for p in paths[:3])
    assert len(os.listdir(tmp_path / 'out')) == KEEP_MASK_FILES


def test_max_side_is_checked():
    with pytest.raises(ValueError, match='max_side'):
        WebDemo(StubInferencer(), max_side=8)
