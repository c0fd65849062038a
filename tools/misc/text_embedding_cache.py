"""Show or clear the on-disk cache of CLIP class-name embeddings.

    python tools/misc/text_embedding_cache.py [--list]     # what is cached (the default)
    python tools/misc/text_embedding_cache.py --clear      # delete every entry

The text encoder stores the embeddings of each vocabulary it encodes (per CLIP file sha256,
model name, templates and class names), so a new ``tools/infer.py`` / ``tools/test.py`` / web
demo run with the same names skips the CLIP text tower. The folder is
``$BACLIP_CACHE_DIR/text_embeddings``, else ``$XDG_CACHE_HOME/mmseg_baclip/text_embeddings``,
else ``~/.cache/mmseg_baclip/text_embeddings``; ``--dir`` names another. ``BACLIP_TEXT_CACHE=0``
turns the cache off. Clearing is always safe: entries are encoded again when needed.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmseg_baclip.models.text_encoders.embedding_disk_cache import (  # noqa: E402
    cache_dir, clear_cache, list_entries)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Show or clear the cache of CLIP class-name embeddings')
    action = parser.add_mutually_exclusive_group()
    action.add_argument('--list', action='store_true', help='list the entries (the default)')
    action.add_argument('--clear', action='store_true', help='delete every entry')
    parser.add_argument('--dir', default=None,
                        help='the cache folder (default: the one the text encoder uses)')
    return parser.parse_args(argv)


def _size(num_bytes: int) -> str:
    if num_bytes < 1 << 20:
        return f'{num_bytes / 1024:.1f} KiB'
    return f'{num_bytes / (1 << 20):.1f} MiB'


def describe(entry: dict) -> str:
    """One line about an entry of ``list_entries``."""
    name = osp.basename(entry['path'])[:12]
    if 'error' in entry:
        return f'{name}  {_size(entry["bytes"])}  unreadable: {entry["error"]}'
    names = list(entry.get('class_names') or [])
    shown = ', '.join(names[:4]) + (', ...' if len(names) > 4 else '')
    return (f'{name}  {_size(entry["bytes"])}  {entry.get("model_name")}  '
            f'{len(names)} names x {len(entry.get("templates") or [])} templates  '
            f'CLIP sha256 {str(entry.get("clip_sha256"))[:12]}  ({shown})')


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    folder = osp.abspath(osp.expanduser(args.dir)) if args.dir else cache_dir()
    if args.clear:
        count, size = clear_cache(folder)
        print(f'Removed {count} entries ({_size(size)}) from {folder}')
        return 0
    entries = list_entries(folder)
    for entry in entries:
        print(describe(entry))
    total = sum(entry['bytes'] for entry in entries)
    print(f'{len(entries)} entries ({_size(total)}) in {folder}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
