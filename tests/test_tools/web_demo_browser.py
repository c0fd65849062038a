"""Drive ``tools/web_demo.py`` in headless Chromium (Selenium + Debian's chromium-driver).

Used by ``test_web_demo_browser.py``; run as a script it makes the README's screenshot::

    python tests/test_tools/web_demo_browser.py CONFIG CKPT IMAGE "owl,moth,frog" OUT.png

The browser is the system one (``/usr/bin/chromium``, ``/usr/bin/chromedriver``); nothing is
downloaded. The demo server is started on a free port of 127.0.0.1 and stopped afterwards.
"""
import os
import os.path as osp
import shutil
import socket
import subprocess
import sys
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Tuple

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CHROMIUM_FLAGS = ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
                  '--disable-background-networking', '--disable-component-update',
                  '--disable-sync', '--no-first-run', '--window-size=1400,1050')
#: Seconds any single wait of the page may take (CPU inference of a tiny model is ~1 s).
PAGE_TIMEOUT = 120


def find_chromium() -> Optional[Tuple[str, str]]:
    """``(chromium, chromedriver)`` paths, or None when either is missing."""
    browser = shutil.which('chromium') or shutil.which('chromium-browser')
    driver = shutil.which('chromedriver')
    return (browser, driver) if browser and driver else None


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@contextmanager
def demo_server(config: str, checkpoint: str, extra_args: List[str] = (),
                cwd: Optional[str] = None, timeout: float = 600,
                env: Optional[Dict[str, str]] = None) -> Iterator[Tuple[str, List[str]]]:
    """Run ``tools/web_demo.py`` until the block ends (then SIGTERM); yields its URL and its
    output lines. ``env`` adds environment variables.

    Raises:
        RuntimeError: The server exited (or printed nothing) before it was ready; the message
            holds its output.
    """
    port = free_port()
    command = [sys.executable, osp.join(REPO_ROOT, 'tools', 'web_demo.py'), config,
               '--checkpoint', checkpoint, '--port', str(port), '--device', 'cpu', *extra_args]
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED='False', PYTHONUNBUFFERED='1', **(env or {}))
    proc = subprocess.Popen(command, cwd=cwd or REPO_ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: List[str] = []
    try:
        for line in proc.stdout:  # ends when the process exits
            lines.append(line.rstrip('\n'))
            if line.startswith('BaCLIP web demo on http://'):
                break
        else:
            proc.wait(timeout=timeout)
            raise RuntimeError(f'tools/web_demo.py exited with {proc.returncode} before it '
                               'served the page:\n' + '\n'.join(lines[-40:]))
        yield f'http://127.0.0.1:{port}/', lines
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()


@contextmanager
def chromium_driver(paths: Tuple[str, str]):
    """A headless Chromium WebDriver on the system browser and driver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=paths[1]), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def segment_in_page(driver, url: str, image: str, vocabulary: str, pick: bool = False,
                    timeout: float = PAGE_TIMEOUT) -> Dict[str, object]:
    """Open the page, give ``image``, type ``vocabulary``, press Segment, read the result.

    Args:
        pick (bool): Choose ``image`` (a test image of the data set) in the page's picker
            instead of uploading it.

    Returns:
        dict: ``message`` (the text above the results), ``label`` (the predicted-class box),
        ``overlay_size`` ((width, height) of the overlay picture, or None), ``bars`` (whether
        the bar chart drew something) and ``mask_file`` (the download link's text).
    """
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, timeout)
    driver.get(url)
    upload = wait.until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, '#image-file input[type=file]')))
    if pick:
        driver.find_element(By.CSS_SELECTOR, '#test-image input').click()
        wait.until(ec.element_to_be_clickable((
            By.CSS_SELECTOR, f'#test-image li[aria-label="{osp.basename(image)}"]'))).click()
    else:
        upload.send_keys(osp.abspath(image))
    stem = osp.splitext(osp.basename(image))[0]  # the page shows the extension apart
    wait.until(lambda d: stem in d.find_element(By.ID, 'image-file').text)

    box = driver.find_element(By.CSS_SELECTOR, '#vocabulary textarea')
    box.send_keys(Keys.CONTROL, 'a')
    box.send_keys(Keys.DELETE)
    box.send_keys(vocabulary)
    driver.find_element(By.ID, 'segment').click()

    def finished(d) -> bool:
        label = d.find_element(By.CSS_SELECTOR, '#predicted-class textarea')
        message = d.find_element(By.ID, 'message').text
        return bool(label.get_attribute('value')) or message.startswith(('Error', 'Busy'))

    wait.until(finished)
    read = {
        'message': driver.find_element(By.ID, 'message').text,
        'label': driver.find_element(By.CSS_SELECTOR,
                                     '#predicted-class textarea').get_attribute('value'),
    }
    if read['label']:
        wait.until(lambda d: d.execute_script(
            "const i = document.querySelector('#overlay img'); "
            'return i !== null && i.complete && i.naturalWidth > 0;'))
        read['overlay_size'] = tuple(driver.execute_script(
            "const i = document.querySelector('#overlay img'); "
            'return [i.naturalWidth, i.naturalHeight];'))
        wait.until(lambda d: d.execute_script(
            "return document.querySelector('#top5 canvas, #top5 svg') !== null;"))
        wait.until(lambda d: d.find_element(By.ID, 'mask-file').text.strip() != '')
        read['bars'] = True
        read['mask_file'] = driver.find_element(By.ID, 'mask-file').text
    else:
        read.update(overlay_size=None, bars=False, mask_file='')
    return read


def main(argv: List[str]) -> None:
    """Make a screenshot of the page after one segmentation (see the module docstring)."""
    config, checkpoint, image, vocabulary, out = argv
    paths = find_chromium()
    if paths is None:
        raise SystemExit('error: needs chromium and chromedriver (apt-get install chromium '
                         'chromium-driver)')
    with demo_server(config, checkpoint) as (url, _), chromium_driver(paths) as driver:
        read = segment_in_page(driver, url, image, vocabulary)
        for _ in range(2):  # the whole page in one picture (the layout follows the window)
            height = driver.execute_script('return document.documentElement.scrollHeight;')
            driver.set_window_size(1400, height + 160)
        os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
        driver.save_screenshot(out)
    print(read)
    print(f'screenshot: {out}')


if __name__ == '__main__':
    main(sys.argv[1:])
