"""A local web page to segment your own images with your own class names.

    python tools/web_demo.py CONFIG --checkpoint CKPT [--port 7860] [--device cpu] \\
        [--host 127.0.0.1] [--max-side 2048] [--seed 0]

Open http://127.0.0.1:7860, upload an image (or pick a test image of the config's data set,
when its folder exists), type class names (comma separated; the config's test vocabulary is
filled in) and press Segment: the page shows the overlay with the predicted class, the top-5
scores as a bar chart, and the mask PNG to download. ``--checkpoint none`` runs the model as
built (CLIP/SAM from the local files the config names, new layers untrained and initialised
from ``--seed``, so that a restarted page gives the same results).

The page binds to 127.0.0.1, so only this machine reaches it. From another machine, forward the
port over SSH (``ssh -L 7860:127.0.0.1:7860 user@server``, then open http://127.0.0.1:7860
there), or pass ``--host 0.0.0.0``: then anyone who can reach this machine can use the model
and upload files to it, with no login.

Uploaded files and mask PNGs live in one temporary folder of the run, removed when the server
stops (Ctrl+C or SIGTERM). Messages show the upload's own name, never the server's path, and
render typed text as text (HTML in a class name is not markup).

Needs the ``web`` extra: ``pip install -r requirements/web.txt`` (Gradio).

The arguments are parsed before torch, mmseg and mmseg_baclip are imported, so ``--help`` and
argument errors answer at once. Warnings are shown one line each.
"""
import argparse
import ipaddress
import os
import os.path as osp
import signal
import sys
import tempfile
import threading
from typing import List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

#: ``mmseg_baclip.apis.web_demo.DEFAULT_MAX_SIDE``, written out so that ``--help`` needs no
#: import of the package (a test checks that the two agree).
DEFAULT_MAX_SIDE = 2048
GRADIO_MISSING = ('the web demo needs Gradio, an optional extra: pip install -r '
                  'requirements/web.txt (or pip install -e ".[web]")')
#: Uploads larger than this are refused by the page itself.
MAX_FILE_SIZE = '200mb'
#: Requests the page lets through at once; all but the running one get the "busy" message.
CONCURRENCY = 4


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Local web page: segment your own images with your own class names')
    parser.add_argument('config', help='model config file')
    parser.add_argument('--checkpoint', required=True,
                        help='checkpoint file, or "none" for the model as built')
    parser.add_argument('--port', type=int, default=7860, help='port (default: 7860)')
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to bind (default: 127.0.0.1, this machine only; '
                        '0.0.0.0 opens the page to the network, without a login)')
    parser.add_argument('--device', default=None, help='e.g. cpu, cuda, cuda:1 (default: auto)')
    parser.add_argument('--max-side', type=int, default=DEFAULT_MAX_SIDE,
                        help='larger images are resized to this longest side (default: '
                        f'{DEFAULT_MAX_SIDE})')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the random initialisation of the layers no checkpoint '
                        'fills (with --checkpoint none, all new layers), default: 0')
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f'--port must be in 1-65535, got {args.port}')
    if args.max_side < 32:
        parser.error(f'--max-side must be >= 32, got {args.max_side}')
    return args


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_app(demo, test_images: List[str], title: str = 'BaCLIP web demo'):
    """The Gradio page around ``demo``.

    Args:
        demo (WebDemo): The model and the page logic.
        test_images (list[str]): Images offered in the "test image" picker; empty hides it.
        title (str): Page title.

    Returns:
        gradio.Blocks: The page (not launched).
    """
    import gradio as gr
    import pandas as pd

    from mmseg_baclip.apis.web_demo import DemoResult, message_markdown

    def run(path: Optional[str], vocabulary: str):
        result: DemoResult = demo.segment(path, vocabulary)
        message = message_markdown(result.message)  # a typed name never renders as HTML
        if result.busy:
            return f'**Busy.** {message}', gr.skip(), gr.skip(), gr.skip(), gr.skip()
        if not result.ok:
            return f'**Error.** {message}', None, '', None, None
        scores = pd.DataFrame({'class': [c for c, _ in result.top5],
                               'probability': [p for _, p in result.top5]})
        return message, result.overlay, result.label, scores, result.mask_path

    with gr.Blocks(title=title, analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        gr.Markdown(f'## {title}\nOpen-vocabulary camouflaged object segmentation: upload an '
                    'image, type the class names to choose from, press **Segment**.')
        with gr.Row():
            with gr.Column():
                image = gr.File(label='Image', file_types=['image'], type='filepath',
                                elem_id='image-file')
                picker = gr.Dropdown(
                    choices=[(osp.basename(p), osp.abspath(p)) for p in test_images],
                    value=None, label='... or a test image of the data set',
                    visible=bool(test_images), elem_id='test-image')
                vocabulary = gr.Textbox(value=demo.default_vocabulary_text, lines=4,
                                        label='Class names (comma separated)',
                                        elem_id='vocabulary')
                button = gr.Button('Segment', variant='primary', elem_id='segment')
            with gr.Column():
                message = gr.Markdown(elem_id='message')
                overlay = gr.Image(label='Overlay', type='numpy', format='png',
                                   interactive=False, elem_id='overlay')
                label = gr.Textbox(label='Predicted class (probability)', interactive=False,
                                   elem_id='predicted-class')
                scores = gr.BarPlot(value=None, x='class', y='probability',
                                    sort='-y', y_lim=[0, 1], label='Top-5 scores',
                                    elem_id='top5')
                mask = gr.File(label='Mask PNG (0/255)', interactive=False, elem_id='mask-file')
        picker.input(lambda path: path, picker, image)
        image.upload(lambda: None, None, picker)
        button.click(run, [image, vocabulary], [message, overlay, label, scores, mask],
                     concurrency_limit=CONCURRENCY)
    return app


def stop_on_sigterm() -> None:
    """Make SIGTERM (``kill``, a service manager) end the server like Ctrl+C, so that the
    run's temporary folder (uploads, masks) is removed on the way out."""
    def handler(signum, frame):
        raise SystemExit(f'stopped by signal {signum}')
    signal.signal(signal.SIGTERM, handler)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    # Everything the page writes (Gradio's copies of uploads, the mask PNGs) goes into one
    # folder of this run, removed when the server stops: Gradio reads GRADIO_TEMP_DIR when it
    # is imported.
    with tempfile.TemporaryDirectory(prefix='baclip_web_demo_',
                                     dir=os.environ.get('GRADIO_TEMP_DIR')) as run_dir:
        before = os.environ.get('GRADIO_TEMP_DIR')
        os.environ['GRADIO_TEMP_DIR'] = osp.join(run_dir, 'uploads')
        try:
            try:
                import gradio  # noqa: F401
            except ImportError:
                raise SystemExit(f'error: {GRADIO_MISSING}') from None
            if threading.current_thread() is threading.main_thread():
                stop_on_sigterm()
            from mmseg_baclip.utils.cli_warnings import one_line_warnings
            with one_line_warnings():
                serve(args, out_dir=osp.join(run_dir, 'masks'))
        finally:
            if before is None:
                os.environ.pop('GRADIO_TEMP_DIR', None)
            else:
                os.environ['GRADIO_TEMP_DIR'] = before


def serve(args: argparse.Namespace, out_dir: str) -> None:
    """Build the model and the page, and serve it until stopped."""
    from mmengine.runner import set_random_seed

    from mmseg_baclip.apis import OVCOSInferencer
    from mmseg_baclip.apis.web_demo import WebDemo, list_test_images
    from mmseg_baclip.engine import UnsafeCheckpointError
    try:
        checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
        set_random_seed(args.seed)  # the layers the checkpoint does not fill are built from it
        inferencer = OVCOSInferencer(args.config, weights=checkpoint, device=args.device,
                                     show_progress=False)
        test_images = list_test_images(inferencer.cfg)
        demo = WebDemo(inferencer, out_dir=out_dir, max_side=args.max_side)
        app = build_app(demo, test_images, title=f'BaCLIP web demo: {osp.basename(args.config)}')
        allowed = sorted({osp.dirname(osp.abspath(p)) for p in test_images})
        app.launch(server_name=args.host, server_port=args.port, share=False,
                   prevent_thread_lock=True, show_error=True, quiet=True,
                   max_file_size=MAX_FILE_SIZE, allowed_paths=allowed, ssr_mode=False,
                   enable_monitoring=False, pwa=False, mcp_server=False)
        if is_loopback(args.host):
            print(f'Bound to {args.host}: only this machine can open the page. From '
                  f'another one: ssh -L {args.port}:127.0.0.1:{args.port} USER@THIS_HOST, '
                  f'then open http://127.0.0.1:{args.port} there.', flush=True)
        else:
            print(f'WARNING: bound to {args.host}: anyone who can reach this machine can '
                  'use the model and upload files, with no login. Prefer the default '
                  '127.0.0.1 and an SSH tunnel.', flush=True)
        print(f'BaCLIP web demo on http://{args.host}:{args.port} ({len(test_images)} test '
              'images in the picker). Ctrl+C stops it.', flush=True)
        try:
            app.block_thread()
        finally:
            app.close(verbose=False)
    except (FileNotFoundError, ValueError, KeyError, TypeError, RuntimeError, OSError,
            UnsafeCheckpointError) as error:
        raise SystemExit(f'error: {error}') from None


if __name__ == '__main__':
    os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
    main()
