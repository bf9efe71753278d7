"""Progress of the long jobs (retime, translate, batch, the command line's bars): a tqdm bar on
stderr, or the caller's own callable.

``progress`` is None (a bar when stderr is a terminal), a bool (a bar or none) or a callable
``progress(done, total)``, called in the thread that runs the job after each step (a frame
written, a task finished) with the steps done so far (1, 2, ... never decreasing) and the
total expected (an int, or None where it is not known in advance); the last call has
``done == total``. An exception raised by the callable ends the job as any error does: it
propagates unchanged and the output is not written (outputs are atomic), which is how a
host application cancels a job (PyTorch's ``hub`` and Hugging Face take a bool or a tqdm
class, moviepy a logger whose ``bars_callback`` gets the counts, Dask a ``posttask``
callback: this is the smallest of them, and needs no class).
"""

import sys

import numpy as np

from ._validate import describe


def check_progress(progress, name="progress"):
    """``progress`` as given (None, a bool as ``bool``, or a callable); a TypeError naming
    ``name`` for anything else (``progress="no"`` showed a bar)."""
    if progress is None or callable(progress):
        return progress
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"{name}: expected None, a bool or a callable (done, total), got "
                        f"{describe(progress)}")
    return bool(progress)


class _Callback:
    """The part of tqdm's interface flowkit's loops use (``update``, ``total``, ``refresh``,
    ``close``, a context manager) over a callable ``progress(done, total)``."""

    def __init__(self, call, total):
        self._call, self.total, self.n = call, total, 0

    def update(self, n=1):
        self.n += n
        self._call(self.n, self.total)

    def refresh(self):
        self._call(self.n, self.total)

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False


def shows_bar(progress):
    """Whether ``progress`` means a tqdm bar on stderr: true, or None with stderr a terminal;
    never for a callable."""
    return not callable(progress) and (sys.stderr.isatty() if progress is None else bool(progress))


def progress_bar(progress, **options):
    """A tqdm bar on stderr (``options``: tqdm's ``total``, ``unit``, ``desc``, ...), disabled
    where ``progress`` is False or None with stderr not a terminal; for a callable
    ``progress``, an object with the same ``update``, ``total``, ``refresh`` and ``close``
    that calls it (module docstring)."""
    if callable(progress):
        return _Callback(progress, options.get("total"))
    from tqdm import tqdm

    return tqdm(file=sys.stderr, disable=not shows_bar(progress), **options)


def finish(bar, done):
    """End ``bar`` at ``done`` steps: a total estimated in advance (rounded up from a declared
    duration, or a frame count a container states) is set to the steps done and shown, so a
    bar ends at 100 % and a callable's last call has ``done == total``."""
    if bar.total != done:
        bar.total = done
        bar.refresh()
