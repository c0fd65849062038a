"""Progress of a long loop: a live bar on a terminal, a few plain lines in a log.

A live bar redraws one line with carriage returns; written to a log file or a CI log it becomes
one line of hundreds of kilobytes. :func:`track_progress` draws the bar only when the stream is a
terminal; otherwise it writes a plain line at 25, 50, 75 and 100 % (and at least every
``interval`` seconds in between), so a log holds a handful of readable lines.

Example::

    >>> for step in track_progress(range(steps), 'CLIP pretraining'):
    ...     train_one_step()
"""
import sys
import time
from typing import IO, Iterable, Iterator, Optional, TypeVar

__all__ = ['ProgressReport', 'track_progress']

T = TypeVar('T')

#: Fractions of the work at which a log (not a terminal) gets a line.
LOG_MILESTONES = (0.25, 0.5, 0.75, 1.0)


def _seconds(value: float) -> str:
    """``3 s``, ``2 min 05 s``, ``1 h 02 min``."""
    value = int(round(value))
    if value < 60:
        return f'{value} s'
    if value < 3600:
        return f'{value // 60} min {value % 60:02d} s'
    return f'{value // 3600} h {value % 3600 // 60:02d} min'


class ProgressReport:
    """Report the progress of ``total`` steps to ``stream``.

    On a terminal (``stream.isatty()``) one line is redrawn in place, at most every
    ``refresh`` seconds and once at the end. Elsewhere (a file, a pipe, a CI log) no carriage
    return is written: one plain line when 25, 50, 75 and 100 % of the steps are done, and one
    whenever ``interval`` seconds passed since the last line.

    Args:
        total (int): Number of steps (0 writes nothing).
        description (str): What is running, e.g. ``'Inference'``.
        stream (IO, optional): Where to write. Defaults to ``sys.stderr`` at construction.
        refresh (float): Seconds between two redraws of the terminal bar. Defaults to 0.1.
        interval (float): Longest silence in a log, in seconds. Defaults to 60.
        width (int): Characters of the terminal bar. Defaults to 30.
    """

    def __init__(self,
                 total: int,
                 description: str,
                 stream: Optional[IO[str]] = None,
                 refresh: float = 0.1,
                 interval: float = 60.0,
                 width: int = 30) -> None:
        if total < 0:
            raise ValueError(f'total must be >= 0, got {total}')
        self.total = total
        self.description = description
        self.stream = sys.stderr if stream is None else stream
        self.live = bool(getattr(self.stream, 'isatty', lambda: False)())
        self.refresh = refresh
        self.interval = interval
        self.width = width
        self.done = 0
        self._start = self._last_write = time.monotonic()
        self._next_milestone = 0
        self._closed = False
        if self.live and total:
            self._draw()

    def update(self, steps: int = 1) -> None:
        """Count ``steps`` more steps as done and write if it is time to."""
        self.done = min(self.total, self.done + steps)
        now = time.monotonic()
        if self.live:
            if now - self._last_write >= self.refresh or self.done == self.total:
                self._draw()
            return
        reached = False
        while (self._next_milestone < len(LOG_MILESTONES)
               and self.done >= LOG_MILESTONES[self._next_milestone] * self.total):
            self._next_milestone += 1
            reached = True
        if self.total and (reached or now - self._last_write >= self.interval):
            self._line()

    def close(self) -> None:
        """End the terminal bar's line (the log lines end themselves)."""
        if not self._closed and self.live and self.total:
            self._draw()
            self.stream.write('\n')
            self.stream.flush()
        self._closed = True

    def __enter__(self) -> 'ProgressReport':
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _timing(self) -> str:
        elapsed = time.monotonic() - self._start
        if 0 < self.done < self.total:
            left = elapsed * (self.total - self.done) / self.done
            return f'{_seconds(elapsed)}, about {_seconds(left)} left'
        return _seconds(elapsed)

    def _draw(self) -> None:
        """Redraw the terminal line: ``Inference [#######.....] 7/12 (58%) 3 s, ...``."""
        filled = self.width * self.done // max(self.total, 1)
        bar = '#' * filled + '.' * (self.width - filled)
        self.stream.write(f'\r{self.description} [{bar}] {self.done}/{self.total} '
                          f'({100 * self.done // max(self.total, 1)}%) {self._timing()}\033[K')
        self.stream.flush()
        self._last_write = time.monotonic()

    def _line(self) -> None:
        """One plain log line: ``Inference: 6/12 (50%), 3 s, about 3 s left``."""
        self.stream.write(f'{self.description}: {self.done}/{self.total} '
                          f'({100 * self.done // self.total}%), {self._timing()}\n')
        self.stream.flush()
        self._last_write = time.monotonic()


def track_progress(items: Iterable[T],
                   description: str,
                   total: Optional[int] = None,
                   stream: Optional[IO[str]] = None,
                   enabled: bool = True) -> Iterator[T]:
    """Yield ``items`` while reporting the progress with :class:`ProgressReport`.

    Args:
        items (Iterable): What to loop over.
        description (str): What is running, e.g. ``'Inference'``.
        total (int, optional): Number of items; default ``len(items)``.
        stream (IO, optional): Where to write. Defaults to ``sys.stderr``.
        enabled (bool): False yields the items and writes nothing. Defaults to True.

    Yields:
        The items, in order.
    """
    if not enabled:
        yield from items
        return
    if total is None:
        try:
            total = len(items)  # type: ignore[arg-type]
        except TypeError:
            raise TypeError(f'track_progress({description!r}) needs total= for an iterable '
                            f'without len(), got {type(items).__name__}') from None
    with ProgressReport(total, description, stream) as report:
        for item in items:
            yield item
            report.update()
