"""Atomic file output: write to a temporary file beside the target, then rename.

Errors name the user's path, never the hidden temporary file. After a stop request (a
signal the command line's handlers recorded with :func:`request_stop`) nothing is committed.
"""

import contextlib
import errno
import glob
import os
import secrets
import stat
from pathlib import Path


_stop = None  # the exception class a signal handler raised (request_stop), or None


def request_stop(exc_type):
    """Record that a signal asked this process to stop, with the exception its handler raises.

    The exception alone can be lost: raised while a finalizer runs (a ``__del__``, a generator
    closed by the garbage collector, a PyAV object's deallocation), Python prints "Exception
    ignored in ..." and goes on. The record stays: every later commit of :func:`atomic_path`
    raises ``exc_type`` instead of renaming, so no output is written after the signal.
    ``None`` clears the record.
    """
    global _stop
    _stop = exc_type


def stop_requested():
    """The exception class recorded by :func:`request_stop`, or None."""
    return _stop


def raise_if_stopped():
    """Raise the recorded stop exception, if any: call it right before committing an output."""
    if _stop is not None:
        raise _stop


def check_folder(path, name=None):
    """Raise if the folder that would hold ``path`` is missing, not a folder, or takes no new
    file (tried: a hidden file is created in it and removed, as the atomic writers create
    theirs; a read-only folder, ``/proc``, ``/sys``).

    Parameters
    ----------
    path : str or Path
        An output file.
    name : str, optional
        The parameter or argument that gave ``path`` (``"dst"``, ``"OUTPUT"``), put before
        the message.

    Raises
    ------
    FileNotFoundError
        ``[<name>: ]output folder does not exist: <folder> (for <path>)``, naming the missing
        folder.
    NotADirectoryError
        Something that is not a folder is in the way.
    PermissionError, OSError
        ``[<name>: ]cannot write <path>: the folder <folder> takes no new file (<reason>)``
        (PermissionError where the reason is a permission; the OS's own wording, "No such
        file or directory" for ``/proc``, named no parameter and hid that the folder exists).
    """
    path = Path(path)
    parent = path.parent
    prefix = f"{name}: " if name else ""
    if not parent.exists():
        raise FileNotFoundError(f"{prefix}output folder does not exist: {parent} (for {path})")
    if not parent.is_dir():
        raise NotADirectoryError(f"{prefix}output folder is not a folder: {path} ({parent} is a file)")
    probe = parent / f".flowkit-check.{secrets.token_hex(4)}.tmp"
    try:  # os.access says yes to root on /proc, where creating a file fails
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    except OSError as exc:
        error = PermissionError if isinstance(exc, PermissionError) else OSError
        raise error(f"{prefix}cannot write {path}: the folder {parent} takes no new file "
                    f"({exc.strerror or exc})") from exc
    os.unlink(probe)


# errors only writing gives (the file too large for ``ulimit -f``, a full disk or quota); a
# write raises them without a file name ("[Errno 27] File too large"), so they are the output's
_WRITE_ERRNOS = {errno.EFBIG, errno.ENOSPC, errno.EDQUOT}


def _user_error(exc, tmp, path):
    """The same ``OSError`` with ``path`` in place of the temporary file (or naming ``path``,
    for a write error that names no file), or None if unrelated."""
    names = {str(tmp), os.fspath(tmp)}
    unnamed = exc.filename is None and exc.errno in _WRITE_ERRNOS
    if exc.filename not in names and exc.filename2 not in names and not unnamed:
        return None
    error = OSError(exc.errno, exc.strerror or str(exc), str(path))  # picks the subclass by errno
    return error


def special_file(path):
    """What ``path`` is where it exists and is neither a regular file nor a folder (``"a
    FIFO"``, ``"a character device"``, ``"a block device"``, ``"a socket"``; a link is
    followed), else None. Renaming a temporary file onto it would replace the node itself
    (``/dev/null``, a named pipe another process reads) with a regular file."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    for test, kind in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return None


def refuse_special_input(path, expected, shown=None):
    """Raise a ValueError where the input ``path`` exists but is a FIFO, a device or a socket
    (:func:`special_file`): opening a FIFO waits for a writer for ever and ``/dev/zero`` is
    read until memory runs out, where a missing file's error would send the user looking for
    it. ``shown``: how the message starts naming it (``"path: F"``; default the path)."""
    special = special_file(path)
    if special:
        raise ValueError(f"{path if shown is None else shown} is {special}, not a regular file; "
                         f"expected {expected}")


TOKEN_PATTERN = "[0-9a-f]" * 8  # glob of the 8 hex digits of a temporary's (or a part's) token


def _temporary_name(path, token):
    """The hidden name of ``path``'s temporary file: ``.STEM.TOKEN.tmp.EXT``."""
    return f".{path.stem}.{token}.tmp{path.suffix}"


def stale_temporaries(path, *, pattern=False):
    """The temporary files of ``path`` left in its folder by writers that were killed (a
    process killed mid-write cannot remove its own). ``pattern``: the name of ``path`` is a
    glob pattern already (its temporaries' for every file it matches)."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    name = path if pattern else path.with_name(glob.escape(path.name))
    # the token exactly (secrets.token_hex(4)): "*" matched take.v2.mp4's for take.mp4
    return sorted(path.parent.glob(_temporary_name(name, TOKEN_PATTERN)))


def _create_temporary(path, name=None):
    """Create an empty, hidden file beside ``path`` with the same extension; return its path.

    Created like ``open(path, "w")`` would create a new file (mode ``0666 & ~umask``), not
    with ``mkstemp``'s 0600, so the renamed result gets the usual permissions.
    """
    for _ in range(100):
        tmp = path.with_name(_temporary_name(path, secrets.token_hex(4)))
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:
            check_folder(path, name)  # a missing folder: say so with the user's path
            error = _user_error(exc, tmp, path)
            if error is None:
                raise
            raise error from exc
        os.close(fd)
        return tmp
    raise FileExistsError(f"{path}: could not create a temporary file beside it")


@contextlib.contextmanager
def atomic_path(path, name=None):
    """Yield a temporary path in the target's folder; on success rename it onto ``path``.

    The temporary name keeps the target's extension (writers such as OpenCV choose the
    format by it). If the body raises, the temporary file is removed and ``path`` is left
    untouched, so a failure never leaves a half-written output or destroys an existing file.
    After a stop request (:func:`request_stop`) the rename does not happen: the recorded
    exception is raised and the temporary file removed. Permissions are those a plain
    ``open(path, "w")`` gives: an existing file keeps its mode, a new one gets
    ``0666 & ~umask``. An ``OSError`` about the temporary file (missing
    folder, no permission, disk full, target is a folder) is raised naming ``path`` instead.
    ``name``: the parameter that gave ``path`` (a public writer's ``"path"``), put before the
    messages of a folder given as ``path`` and of :func:`check_folder` (a missing folder, one
    that takes no new file), as ``check_folder`` puts it. An existing ``path`` that is no
    regular file (:func:`special_file`: a FIFO, a device) is a ValueError before any
    temporary file is made.
    """
    path = Path(path)
    if path.is_dir() or path.name in ("", ".", ".."):  # before a temporary file is made
        if name:
            raise IsADirectoryError(f"{name}: {path} is a folder; expected a file path")
        raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
    special = special_file(path)
    if special:  # it was replaced by a regular file (a FIFO's reader waited for ever)
        raise ValueError(f"{name + ': ' if name else ''}{path} is {special}, not a regular file; "
                         "expected a file path (the output is written beside it and renamed "
                         "onto it, which would replace it)")
    tmp = _create_temporary(path, name)
    mode = stat.S_IMODE(os.stat(tmp).st_mode)  # 0666 & ~umask, as created
    try:
        yield tmp
        raise_if_stopped()
        with contextlib.suppress(FileNotFoundError):
            mode = stat.S_IMODE(os.stat(path).st_mode)
        # set again, not kept: a writer may replace the temporary with its own file
        # (safetensors' save_file creates it anew with mode 0600)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            error = _user_error(exc, tmp, path)
            if error is not None:
                raise error from exc
        raise
