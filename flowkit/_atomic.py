"""Atomic file output: write to a temporary file beside the target, then rename."""

import contextlib
import os
import secrets
import stat
from pathlib import Path


def _create_temporary(path):
    """Create an empty, hidden file beside ``path`` with the same extension; return its path.

    Created like ``open(path, "w")`` would create a new file (mode ``0666 & ~umask``), not
    with ``mkstemp``'s 0600, so the renamed result gets the usual permissions.
    """
    for _ in range(100):
        tmp = path.with_name(f".{path.stem}.{secrets.token_hex(4)}.tmp{path.suffix}")
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"{path}: could not create a temporary file beside it")


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path in the target's folder; on success rename it onto ``path``.

    The temporary name keeps the target's extension (writers such as OpenCV choose the
    format by it). If the body raises, the temporary file is removed and ``path`` is left
    untouched, so a failure never leaves a half-written output or destroys an existing file.
    Permissions are those a plain ``open(path, "w")`` gives: an existing file keeps its
    mode, a new one gets ``0666 & ~umask``.
    """
    path = Path(path)
    tmp = _create_temporary(path)
    try:
        yield tmp
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
