"""Two ``tools/infer.py`` runs of the paper config with the 61 OVCamo test names: the first
encodes them with the CLIP text tower, the second reads them from the disk cache (a measurement).

    python .dev_scripts/benchmark_text_cache.py [--work-dir DIR] [--keep] [--device cpu]

Nothing is downloaded: the CLIP and SAM files are written from randomly initialised models in
their real formats (``checkpoint_sizes.write_weight_files``: open_clip's
``open_clip_pytorch_model.bin`` of ``convnext_large_d_320``, 1.4 GB, and segment-anything's
``sam_vit_b_01ec64.pth``), with the real files' tensors, sizes and hashing cost. A small config
inheriting ``configs/baclip_convnext-l_ovcamo.py`` points at them, and
``tools/infer.py IMAGE --config CFG --checkpoint none --vocab-file NAMES --out OUT`` runs twice
in new processes with an empty ``BACLIP_CACHE_DIR``. Printed: each run's wall time and the text
encoder's line (``Encoded 61 class names x 6 templates in S s`` in the first,
``61 class-name embeddings read from the cache ... in S s`` in the second: the CLIP file's
sha256, read once a process, and the read). About 4 minutes and 1.8 GB of disk under
``--work-dir`` on 2 CPU cores (deleted at the end unless ``--keep``; a kept folder's weight
files are reused).
"""
import argparse
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(HERE)
sys.path.insert(0, REPO)
sys.path.insert(0, HERE)

PAPER_CONFIG = osp.join(REPO, 'configs', 'baclip_convnext-l_ovcamo.py')
TEXT_LINE = re.compile(r'(Encoded \d+ class names x \d+ templates in [\d.]+ s.*|'
                       r'\d+ class-name embeddings read from the cache .*)$')


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--work-dir', help='where the files go (default: a temporary folder)')
    p.add_argument('--keep', action='store_true', help='keep the files')
    p.add_argument('--device', default='cpu', help='tools/infer.py --device (default: cpu)')
    return p.parse_args()


def write_inputs(work: str) -> dict:
    """Weight files, the config, the 61 names and one 384 x 384 picture under ``work``."""
    import numpy as np
    from mmengine.config import Config
    from PIL import Image

    from checkpoint_sizes import write_weight_files
    from mmseg_baclip.datasets.class_names import OVCAMO_TEST_CLASSES

    files = dict(clip=osp.join(work, 'open_clip_pytorch_model.bin'),
                 sam=osp.join(work, 'sam_vit_b_01ec64.pth'))
    if not all(osp.isfile(p) for p in files.values()):
        files = write_weight_files(Config.fromfile(PAPER_CONFIG), work)
    config = osp.join(work, 'baclip_paper_random_weights.py')
    with open(config, 'w') as f:
        f.write(f'_base_ = [{PAPER_CONFIG!r}]\n'
                f'clip = {files["clip"]!r}\n'
                f'model = dict(backbone=dict(checkpoint=clip), '
                f'text_encoder=dict(checkpoint=clip),\n'
                f'             decode_head=dict(checkpoint={files["sam"]!r}))\n')
    names = osp.join(work, 'ovcamo_test_names.txt')
    with open(names, 'w') as f:
        f.write('\n'.join(OVCAMO_TEST_CLASSES) + '\n')
    image = osp.join(work, 'picture.png')
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (384, 384, 3), dtype=np.uint8)).save(image)
    return dict(files, config=config, names=names, image=image,
                num_names=len(OVCAMO_TEST_CLASSES))


def infer(inputs: dict, out: str, cache: str, device: str):
    """One ``tools/infer.py`` process: (wall seconds, the text encoder's line, exit status)."""
    command = [sys.executable, osp.join(REPO, 'tools', 'infer.py'), inputs['image'],
               '--config', inputs['config'], '--checkpoint', 'none',
               '--vocab-file', inputs['names'], '--out', out, '--device', device]
    env = dict(os.environ, BACLIP_CACHE_DIR=cache)
    env.pop('BACLIP_TEXT_CACHE', None)
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    output = proc.stdout + proc.stderr
    lines = [m.group(1) for m in map(TEXT_LINE.search, output.splitlines()) if m]
    if proc.returncode != 0:
        print(output[-3000:])
    return seconds, lines, proc.returncode


def main():
    args = parse_args()
    work = args.work_dir or tempfile.mkdtemp(prefix='baclip_text_cache_')
    os.makedirs(work, exist_ok=True)
    try:
        start = time.perf_counter()
        inputs = write_inputs(work)
        print(f'inputs ready in {time.perf_counter() - start:.0f} s: {work}')
        cache = osp.join(work, 'cache')
        shutil.rmtree(cache, ignore_errors=True)
        runs = []
        for index in (1, 2):
            seconds, lines, status = infer(inputs, osp.join(work, f'out{index}'), cache,
                                           args.device)
            runs.append((seconds, lines, status))
            print(f'run {index}: {seconds:.1f} s, exit status {status}')
            for line in lines:
                print(f'    {line}')
        import torch
        print(f'\ntools/infer.py, paper config (convnext_large_d_320, random weights), '
              f'{inputs["num_names"]} names, 1 image, --device {args.device}, '
              f'{torch.get_num_threads()} CPU threads, torch {torch.__version__}\n')
        print('| run | wall time | text embeddings |')
        print('|---|---|---|')
        for index, (seconds, lines, _) in enumerate(runs, 1):
            shown = [re.sub(r'\S*/([0-9a-f]{12})[0-9a-f]{52}\.pt', r'<cache>/\1...pt', line)
                     for line in lines]
            print(f'| {index} | {seconds:.1f} s | {"; ".join(shown) or "-"} |')
        print(f'\nsecond run faster by {runs[0][0] - runs[1][0]:.1f} s')
        if any(status != 0 for _, _, status in runs):
            sys.exit(1)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
