"""Sizes of a training checkpoint and of a published file for a BaCLIP config (a measurement).

    python .dev_scripts/checkpoint_sizes.py [CONFIG] [--work-dir DIR] [--keep]

Defaults: the paper config (configs/baclip_convnext-l_ovcamo.py). Nothing is downloaded:
the CLIP and SAM files are written here from randomly initialised models in their real formats
(open_clip's ``open_clip_pytorch_model.bin`` of ``convnext_large_d_320``, segment-anything's
``sam_vit_b_01ec64.pth`` with its image encoder), which have the real files' tensors and sizes.
One epoch of the config's training (optimizer, schedule, hooks; two synthetic images at the
config's input size, so one iteration) then writes ``epoch_1.pth`` as a 30-epoch run writes
each of its checkpoints, and:

- ``full``: the same checkpoint with every weight, as ``BaCLIPRunner`` writes it with
  ``checkpoint_cfg = dict(slim=False)`` (its state dict is the trained model's whole state dict);
- ``slim``: ``epoch_1.pth`` as written (the frozen CLIP / SAM weights left out);
- ``published``: ``tools/publish_model.py`` on it (weights and meta only).

The table is printed in the README's format. On 2 CPU cores it takes about 3 minutes and 3.5 GB
of disk under ``--work-dir`` (deleted at the end unless ``--keep``).
"""
import argparse
import os
import os.path as osp
import shutil
import sys
import tempfile

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

PAPER_CONFIG = osp.join(REPO, 'configs', 'baclip_convnext-l_ovcamo.py')
MIB = 2**20


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config', nargs='?', default=PAPER_CONFIG)
    p.add_argument('--work-dir', help='where the files go (default: a temporary folder)')
    p.add_argument('--keep', action='store_true', help='keep the files')
    return p.parse_args()


def write_weight_files(cfg, folder: str) -> dict:
    """Random-weight CLIP and SAM files in the real formats, for the config's models."""
    import open_clip
    import torch
    from segment_anything import sam_model_registry

    paths = dict(clip=osp.join(folder, 'open_clip_pytorch_model.bin'),
                 sam=osp.join(folder, 'sam_vit_b_01ec64.pth'))
    torch.manual_seed(0)
    clip = open_clip.create_model(cfg.model.backbone.model_name, pretrained=None)
    torch.save(clip.state_dict(), paths['clip'])
    del clip
    torch.save(sam_model_registry['vit_b']().state_dict(), paths['sam'])
    return paths


def main():
    args = parse_args()
    import torch
    from mmengine.config import Config
    from mmengine.runner.checkpoint import weights_to_cpu

    import mmseg_baclip  # noqa: F401
    from mmseg_baclip.synthetic_world import make_synthetic_ovcamo
    sys.path.insert(0, osp.join(REPO, 'tools'))
    import publish_model
    import train

    work = args.work_dir or tempfile.mkdtemp(prefix='baclip_sizes_')
    os.makedirs(work, exist_ok=True)
    try:
        cfg = Config.fromfile(args.config)
        files = write_weight_files(cfg, work)
        data = osp.join(work, 'data')
        make_synthetic_ovcamo(data, num_train=2, num_test=1, size=(96, 96), seed=0)
        cfg.model.backbone.checkpoint = cfg.model.text_encoder.checkpoint = files['clip']
        cfg.model.decode_head.checkpoint = files['sam']
        for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            cfg[name].dataset.data_root = data
            cfg[name].num_workers = 0
            cfg[name].persistent_workers = False
        cfg.train_dataloader.batch_size = 2
        cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1, val_interval=100)
        cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
        cfg.default_hooks.checkpoint.interval = 1
        cfg_path = osp.join(work, 'sizes_cfg.py')
        cfg.dump(cfg_path)
        runner = train.main([cfg_path, '--work-dir', osp.join(work, 'run')])

        slim_path = osp.join(work, 'run', 'epoch_1.pth')
        checkpoint = torch.load(slim_path, map_location='cpu', weights_only=True)
        full = dict(checkpoint, state_dict=weights_to_cpu(runner.model.state_dict()))
        full['meta'] = {k: v for k, v in checkpoint['meta'].items() if k != 'frozen_weights'}
        full_path = osp.join(work, 'epoch_1_full.pth')
        torch.save(full, full_path)
        published = publish_model.main([slim_path, osp.join(work, 'baclip_convnext-l_ovcamo')])

        def optimizer_mib(ckpt):
            state = ckpt.get('optimizer', {}).get('state', {})
            return sum(t.numel() * t.element_size() for s in state.values()
                       for t in s.values() if isinstance(t, torch.Tensor)) / MIB

        rows = [('full epoch checkpoint (`slim=False`)', full_path, full),
                ('slim epoch checkpoint (`epoch_N.pth`)', slim_path, checkpoint),
                ('published (tools/publish_model.py)', published,
                 torch.load(published, map_location='cpu', weights_only=True))]
        print(f'\n{osp.basename(args.config)}: checkpoint sizes (torch {torch.__version__})\n')
        print('| file | size | tensors in state_dict | optimizer state |')
        print('|---|---|---|---|')
        for label, path, ckpt in rows:
            print(f'| {label} | {osp.getsize(path) / MIB:,.1f} MiB | {len(ckpt["state_dict"])} '
                  f'| {optimizer_mib(ckpt):.1f} MiB |')
        for name, path in files.items():
            print(f'({name} file written: {osp.getsize(path) / MIB:,.1f} MiB)')
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
