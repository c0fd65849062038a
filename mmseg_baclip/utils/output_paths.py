"""Checks of output paths, made before a tool loads a model or reads any data.

A tool that finds out at the end that it cannot write its output loses the whole run. These
checks say so at the start, naming the option and the path: a folder that is a file, a file
that is a folder, a parent that is a file, a place the user may not write.
"""
import os
import os.path as osp


class OutputPathError(ValueError):
    """An output path the tool could not write to."""


def _nearest_existing(path: str) -> str:
    """The path itself or its closest ancestor that exists."""
    path = osp.abspath(path)
    while not osp.exists(path):
        parent = osp.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def _check_creatable_below(existing: str, target: str, what: str) -> None:
    if not osp.isdir(existing):
        raise OutputPathError(f'{what} {target}: {existing} is a file, not a folder, so '
                              f'{target} cannot be created')
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputPathError(f'{what} {target}: no permission to write in {existing}')


def check_output_dir(path: str, what: str = 'output folder') -> str:
    """Check that ``path`` is, or can be made, a folder this process can write in.

    Args:
        path (str): The folder.
        what (str): The option's name for the message (``'--out'``).

    Returns:
        str: ``path``.

    Raises:
        OutputPathError: ``path`` is a file, lies below a file, or is not writable.
    """
    if not path:
        raise OutputPathError(f'{what}: the path is empty')
    if osp.exists(path) and not osp.isdir(path):
        raise OutputPathError(f'{what} {path} is an existing file, not a folder: choose '
                              'another path')
    _check_creatable_below(_nearest_existing(path), path, what)
    return path


def check_output_file(path: str, what: str = 'output file') -> str:
    """Check that ``path`` can be written as a file (created, or replaced if it is a file).

    Args:
        path (str): The file.
        what (str): The option's name for the message (``'--out'``).

    Returns:
        str: ``path``.

    Raises:
        OutputPathError: ``path`` is empty, ends with a separator, is a folder, lies below a
            file, or its folder is not writable.
    """
    if not path or path.endswith((os.sep, '/')) or osp.basename(path) in ('', '.', '..'):
        raise OutputPathError(f'{what} {path!r} names a folder, not a file: add a file name')
    if osp.isdir(path):
        raise OutputPathError(f'{what} {path} is an existing folder, not a file: add a file '
                              'name')
    if osp.exists(path) and not os.access(path, os.W_OK):
        raise OutputPathError(f'{what} {path}: no permission to overwrite this file')
    parent = osp.dirname(osp.abspath(path))
    _check_creatable_below(_nearest_existing(parent), path, what)
    return path


def path_inside(folder: str, path: str) -> bool:
    """Whether ``path`` (symlinks resolved) lies inside ``folder`` (symlinks resolved)."""
    root = osp.realpath(folder)
    return osp.commonpath([root, osp.realpath(path)]) == root
