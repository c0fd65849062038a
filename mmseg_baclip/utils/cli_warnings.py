"""Warnings as one line each, for the command-line tools.

Python shows a warning on two lines: ``path/to/module.py:120: UserWarning: <message>`` and then
the source line that raised it. A user of a tool needs the message; the source line is noise
that doubles the output. Within :func:`one_line_warnings` each warning is one line,
``warning: <message>``, on stderr. The warning filters are untouched (a repeated warning is
still shown once), and both they and the way warnings are shown are restored at the end.
"""
import sys
import warnings
from contextlib import contextmanager
from typing import IO, Iterator, Optional

__all__ = ['one_line_warnings', 'format_one_line']


def format_one_line(message: Warning, category: type) -> str:
    """``warning: <message>`` (``warning (DeprecationWarning): ...`` for other categories)."""
    kind = '' if category is UserWarning else f' ({category.__name__})'
    return f'warning{kind}: {message}\n'


@contextmanager
def one_line_warnings(stream: Optional[IO[str]] = None) -> Iterator[None]:
    """Show the warnings raised in the block as one line each.

    Args:
        stream (IO, optional): Where to write. Defaults to ``sys.stderr`` at the time of the
            warning.
    """
    def show(message, category, filename, lineno, file=None, line=None):
        out = stream or file or sys.stderr
        try:
            out.write(format_one_line(message, category))
        except OSError:  # a closed stream: a warning must not stop the tool
            pass

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield
