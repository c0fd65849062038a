"""Copy an OVCamo-layout test split into the layouts of the COS test sets.

    python tools/dataset_converters/ovcamo_to_cos_layout.py data/synthetic_ov_world/ovcamo \\
        --out data/synthetic_cos [--sets CAMO CHAMELEON COD10K NC4K] [--split test]

Writes ``<out>/TestDataset/<SET>/{Imgs,GT}/<unique_id>.{jpg,png}`` for each set named (the same
images in each), and COD10K's release layout ``<out>/COD10K-v3/Test/{Image,GT_Object}`` with
COD10K's names, ``COD10K-CAM-1-Synthetic-<class id>-<Class>-<n>``, where ``<Class>`` is the
OVCamo class in CamelCase (``stick insect`` -> ``StickInsect``), so that
``tools/analysis/eval_cos.py --data-root <out>/TestDataset --cod10k-root <out>/COD10K-v3`` runs
on them. Made to try the COS evaluation on the synthetic world (docs/cos_evaluation.md); it
says nothing about the real sets.
"""
import argparse
import json
import os
import os.path as osp
import shutil
from typing import List, Optional

COS_SETS = ('CAMO', 'CHAMELEON', 'COD10K', 'NC4K')


def camel_case(name: str) -> str:
    """``'stick insect'`` -> ``'StickInsect'``, ``'non-succulent plant'`` -> ``'NonSucculentPlant'``
    (COD10K's way of writing a class in a file name)."""
    return ''.join(word[:1].upper() + word[1:] for word in name.replace('-', ' ').split())


def convert(root: str, out: str, sets: List[str], split: str = 'test') -> dict:
    """Copy the split; returns ``{'images': n, 'sets': [...], 'cod10k': folder}``."""
    with open(osp.join(root, 'jsonfile', 'class_info.json'), encoding='utf-8') as f:
        classes = [c['name'] for c in json.load(f) if c.get('split') == split]
    if not classes:
        raise ValueError(f'{root}: no class with split {split!r} in class_info.json')
    with open(osp.join(root, 'jsonfile', 'sample_info.json'), encoding='utf-8') as f:
        samples = [s for s in json.load(f) if s['base_class'] in classes]
    pairs = [(osp.join(root, split, 'image', s['unique_id'] + osp.splitext(s['image'])[1]),
              osp.join(root, split, 'mask', s['unique_id'] + osp.splitext(s['mask'])[1]), s)
             for s in samples]
    missing = [p for pair in pairs for p in pair[:2] if not osp.isfile(p)]
    if missing:
        raise FileNotFoundError(f'{len(missing)} file(s) of the split are missing, e.g. '
                                f'{missing[:3]}')
    for name in sets:
        for sub in ('Imgs', 'GT'):
            os.makedirs(osp.join(out, 'TestDataset', name, sub), exist_ok=True)
        for image, mask, sample in pairs:
            shutil.copyfile(image, osp.join(out, 'TestDataset', name, 'Imgs',
                                            sample['unique_id'] + osp.splitext(image)[1]))
            shutil.copyfile(mask, osp.join(out, 'TestDataset', name, 'GT',
                                           sample['unique_id'] + '.png'))
    cod10k = osp.join(out, 'COD10K-v3', 'Test')
    for sub in ('Image', 'GT_Object'):
        os.makedirs(osp.join(cod10k, sub), exist_ok=True)
    for number, (image, mask, sample) in enumerate(pairs, start=1):
        class_id = classes.index(sample['base_class']) + 1
        stem = f'COD10K-CAM-1-Synthetic-{class_id}-{camel_case(sample["base_class"])}-{number}'
        shutil.copyfile(image, osp.join(cod10k, 'Image', stem + osp.splitext(image)[1]))
        shutil.copyfile(mask, osp.join(cod10k, 'GT_Object', stem + '.png'))
    return dict(images=len(pairs), sets=list(sets), cod10k=osp.dirname(cod10k))


def main(argv: Optional[List[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('root', help='OVCamo-layout data root')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--sets', nargs='+', default=list(COS_SETS), choices=COS_SETS)
    parser.add_argument('--split', default='test', choices=('train', 'test'))
    args = parser.parse_args(argv)
    try:
        result = convert(args.root, args.out, args.sets, args.split)
    except (FileNotFoundError, ValueError, KeyError) as error:
        raise SystemExit(f'error: {error}') from None
    print(f'{result["images"]} images -> {args.out}/TestDataset/{{{",".join(args.sets)}}} and '
          f'{result["cod10k"]} (COD10K names)')
    return result


if __name__ == '__main__':
    main()
