"""Atomic file output: write to a temporary file beside the target, then rename."""

import contextlib
import os
import tempfile
from pathlib import Path


def _default_mode():
    # mkstemp creates files with mode 0600; give the result the mode open() would (0666 & ~umask)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path in the target's folder; on success rename it onto ``path``.

    The temporary name keeps the target's extension (writers such as OpenCV choose the
    format by it). If the body raises, the temporary file is removed and ``path`` is left
    untouched, so a failure never leaves a half-written output or destroys an existing file.
    The renamed file gets the permissions a plain ``open(path, "w")`` would give it.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, _default_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
