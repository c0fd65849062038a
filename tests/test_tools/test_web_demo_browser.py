"""tools/web_demo.py: its command line, and the page driven in a real headless Chromium.

The browser test is skipped only where Chromium, chromedriver, Gradio or Selenium is missing;
``BACLIP_REQUIRE_BROWSER=1`` (set by CI, which installs them) turns that skip into a failure.
"""
import os
import os.path as osp
import sys

import pytest

from test_apis.apis_test_utils import load_tool
from test_tools.web_demo_browser import (chromium_driver, demo_server, find_chromium,
                                         segment_in_page)

VOCAB = 'shrimp, crab, octopus, starfish, seahorse, frog'


def require(what: str, present: bool) -> None:
    """Skip (or fail, under BACLIP_REQUIRE_BROWSER=1) when ``what`` is missing."""
    if present:
        return
    message = (f'{what} is missing: apt-get install chromium chromium-driver; pip install -r '
               'requirements/web.txt')
    if os.environ.get('BACLIP_REQUIRE_BROWSER') == '1':
        pytest.fail(message)
    pytest.skip(message)


def has_module(name: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(name) is not None


def test_command_line_defaults_to_loopback():
    tool = load_tool('tools/web_demo.py')
    args = tool.parse_args(['cfg.py', '--checkpoint', 'none'])
    assert (args.host, args.port, args.device) == ('127.0.0.1', 7860, None)
    assert tool.is_loopback('127.0.0.1') and tool.is_loopback('localhost')
    assert tool.is_loopback('::1') and not tool.is_loopback('0.0.0.0')
    with pytest.raises(SystemExit):
        tool.parse_args(['cfg.py', '--checkpoint', 'none', '--port', '0'])


def test_command_line_defaults_are_the_demos():
    """The tool writes out the demo's default longest side (so that --help imports nothing);
    it must be the same number, and --seed defaults to 0."""
    from mmseg_baclip.apis.web_demo import DEFAULT_MAX_SIDE
    tool = load_tool('tools/web_demo.py')
    args = tool.parse_args(['cfg.py', '--checkpoint', 'none'])
    assert args.max_side == tool.DEFAULT_MAX_SIDE == DEFAULT_MAX_SIDE and args.seed == 0


def test_without_gradio_it_says_what_to_install(monkeypatch, capsys):
    tool = load_tool('tools/web_demo.py')
    monkeypatch.setitem(sys.modules, 'gradio', None)  # import gradio -> ImportError
    with pytest.raises(SystemExit, match='requirements/web.txt'):
        tool.main(['cfg.py', '--checkpoint', 'none'])


def test_missing_checkpoint_is_an_error_not_a_traceback(tiny_assets, tmp_path):
    require('gradio', has_module('gradio'))
    tool = load_tool('tools/web_demo.py')
    with pytest.raises(SystemExit, match='checkpoint file not found'):
        tool.main([tiny_assets.config, '--checkpoint', str(tmp_path / 'nope.pth')])


def test_page_in_headless_chromium(tiny_assets, tmp_path):
    """Upload an image, type a vocabulary, press Segment, check what the page shows."""
    paths = find_chromium()
    require('chromium / chromedriver', paths is not None)
    require('gradio', has_module('gradio'))
    require('selenium', has_module('selenium'))
    from selenium.webdriver.common.by import By

    from mmseg_baclip.apis import OVCOSInferencer
    inferencer = OVCOSInferencer(tiny_assets.config, weights=tiny_assets.checkpoint,
                                 device='cpu', show_progress=False)
    image, picked = tiny_assets.test_images[:2]
    expected, expected_picked = inferencer([image, picked], vocabulary=VOCAB.split(', '))
    broken = tmp_path / 'broken.jpg'
    broken.write_bytes(b'not a picture at all')

    with demo_server(tiny_assets.config, tiny_assets.checkpoint, cwd=str(tmp_path)) as (
            url, lines), chromium_driver(paths) as driver:
        assert any('only this machine can open the page' in line for line in lines)
        read = segment_in_page(driver, url, image, VOCAB)
        assert not read['message'].startswith('Error'), read
        assert read['label'] == f'{expected["class"]} ({expected["score"]:.3f})'
        assert read['overlay_size'] == (96, 96)
        assert read['bars']
        assert 'SYN_test' in read['mask_file'] and '_mask' in read['mask_file']
        screenshot = str(tmp_path / 'web_demo.png')
        assert driver.save_screenshot(screenshot) and osp.getsize(screenshot) > 10_000

        bad = segment_in_page(driver, url, str(broken), VOCAB)
        assert bad['message'].startswith('Error. Could not read "broken.jpg" as an image')
        assert bad['label'] == '' and bad['overlay_size'] is None

        # the data set's test images are offered, since the config's data_root exists here
        assert driver.find_element(By.ID, 'test-image').is_displayed()
        chosen = segment_in_page(driver, url, picked, VOCAB, pick=True)
        assert chosen['label'] == (f'{expected_picked["class"]} '
                                   f'({expected_picked["score"]:.3f})')
        assert osp.splitext(osp.basename(picked))[0] + '_mask' in chosen['mask_file']

        empty = segment_in_page(driver, url, image, ' , ')
        assert empty['message'].startswith('Error. The vocabulary is empty')

        # HTML typed as a class name is shown as text in the message box, not as an element
        html = segment_in_page(driver, url, image, '<img src=x id=injected>, <IMG src=x '
                               'id=injected>')
        assert '<IMG src=x id=injected>' in html['message'], html
        assert driver.find_elements(By.ID, 'injected') == []


def test_uploads_are_removed_when_the_server_stops(tiny_assets, tmp_path):
    """Gradio keeps its copies of uploads in one folder of the run, gone after SIGTERM."""
    require('gradio', has_module('gradio'))
    import httpx
    temp = tmp_path / 'tmp'
    temp.mkdir()
    with demo_server(tiny_assets.config, tiny_assets.checkpoint, cwd=str(tmp_path),
                     env=dict(TMPDIR=str(temp))) as (url, _):
        with open(tiny_assets.test_images[0], 'rb') as f:
            response = httpx.post(url + 'gradio_api/upload', timeout=60,
                                  files={'files': ('holiday.jpg', f, 'image/jpeg')})
        response.raise_for_status()
        [upload] = response.json()
        assert osp.isfile(upload) and osp.realpath(upload).startswith(osp.realpath(temp))
    assert not osp.exists(upload)
    assert not [p for p in temp.rglob('*') if 'web_demo' in str(p) or 'uploads' in str(p)]
