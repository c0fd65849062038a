"""The image file extensions the package reads from a folder: one list for every place.

Used by the inferencer and the web demo (the images taken from a folder) and by the folder
evaluation (the prediction files taken from a folder); other files there are ignored.
"""
import os.path as osp

__all__ = ['IMAGE_EXTENSIONS', 'is_image_file']

#: File extensions taken from a folder (lower case, compared case-insensitively).
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def is_image_file(name: str) -> bool:
    """Whether a file name has one of :data:`IMAGE_EXTENSIONS` (case-insensitive).

    Args:
        name (str): A file name or path; only its extension is looked at.

    Returns:
        bool: True for ``photo.JPG``, ``a/b.webp``; False for ``notes.txt``, ``png``.
    """
    return osp.splitext(name)[1].lower() in IMAGE_EXTENSIONS
