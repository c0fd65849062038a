"""Helpers for the OVCamo dataset tests: tiny trees in the official layout, and ways to break
them."""
import json
import os
import os.path as osp
from typing import List

import cv2
import numpy as np


def read_json(root: str, name: str) -> list:
    with open(osp.join(root, 'jsonfile', name), encoding='utf-8') as f:
        return json.load(f)


def write_json(root: str, name: str, data) -> None:
    with open(osp.join(root, 'jsonfile', name), 'w', encoding='utf-8') as f:
        json.dump(data, f)


def split_entries(root: str, split: str) -> List[dict]:
    """The sample_info entries of a split (decided by class, as the dataset does)."""
    classes = {c['name'] for c in read_json(root, 'class_info.json') if c['split'] == split}
    return [s for s in read_json(root, 'sample_info.json') if s['base_class'] in classes]


def image_path(root: str, split: str, entry: dict) -> str:
    return osp.join(root, split, 'image', entry['unique_id'] + osp.splitext(entry['image'])[1])


def mask_path(root: str, split: str, entry: dict) -> str:
    return osp.join(root, split, 'mask', entry['unique_id'] + osp.splitext(entry['mask'])[1])


def write_png(path: str, array: np.ndarray) -> None:
    ok, buf = cv2.imencode('.png', array)
    assert ok
    with open(path, 'wb') as f:
        f.write(buf.tobytes())


def corrupt(path: str) -> None:
    """Overwrite a file with bytes that no image decoder accepts."""
    with open(path, 'wb') as f:
        f.write(b'this is not an image' * 4)


def add_sample(root: str, split: str, uid: str, class_name: str, size=(24, 32)) -> dict:
    """Write an image + mask pair and append its sample_info entry."""
    h, w = size
    img = np.full((h, w, 3), 90, np.uint8)
    mask = np.zeros((h, w), np.uint8)
    mask[h // 4:h // 2, w // 4:w // 2] = 255
    cv2.imwrite(osp.join(root, split, 'image', uid + '.jpg'), img)
    write_png(osp.join(root, split, 'mask', uid + '.png'), mask)
    entry = dict(unique_id=uid, base_class=class_name, image=uid + '.jpg', mask=uid + '.png')
    write_json(root, 'sample_info.json', read_json(root, 'sample_info.json') + [entry])
    return entry


def replace_file(root: str, split: str, entry: dict, kind: str, ext: str) -> str:
    """Point an entry's ``image`` or ``mask`` at ``<unique_id><ext>`` (removing the old file);
    returns the new path, for the caller to write."""
    old = (image_path if kind == 'image' else mask_path)(root, split, entry)
    if osp.exists(old):
        os.remove(old)
    entries = read_json(root, 'sample_info.json')
    for e in entries:
        if e['unique_id'] == entry['unique_id'] and e['base_class'] == entry['base_class']:
            e[kind] = entry['unique_id'] + ext
    write_json(root, 'sample_info.json', entries)
    return osp.join(root, split, kind, entry['unique_id'] + ext)


def save_with_orientation(path: str, array: np.ndarray, orientation: int, **kwargs) -> None:
    """Save an RGB or gray array with PIL, with an EXIF orientation tag (JPEG or PNG)."""
    from PIL import Image
    img = Image.fromarray(array)
    exif = img.getexif()
    exif[0x0112] = orientation
    img.save(path, exif=exif.tobytes(), **kwargs)
