"""The jit decorators of flowkit's CPU kernels, chosen for compile time.

Numba compiles every ``@njit`` function it reaches as a complete entry point: the function
plus a CPython wrapper (so that Python can call it) and a C wrapper (so that it can be a
first-class function value), each through LLVM optimisation and machine-code generation.

``jit`` is ``njit(cache=True, nogil=True)`` without the C wrapper, which nothing in flowkit
uses (no function is passed as a first-class function value): every kernel and helper uses
it. Every one releases the GIL (the band drivers must, to run on threads; for the others it
only changes their CPython wrapper): Numba compiles the implementations of the functions a
kernel calls (``np.empty``, ``min``, ``max``, ``int``) once per set of its callers' flags, and
one ``nogil`` setting for all spares the duplicates (``predict``'s first call: 36 -> 28 such
compilations).

``internal`` also drops the CPython wrapper, for row and pixel helpers that only jitted CPU
code calls; without both wrappers each compiles about 0.035 s faster (20 small functions:
1.8 s -> 1.1 s of CPU time), which adds up over the 30-40 helpers a driver reaches on its
first call. Calling an ``internal`` function from Python crashes the interpreter (there is
no wrapper to call), so it is only for private helpers that no Python code, test or CUDA
kernel calls (in Numba's CUDA simulator the kernels call the ``@jit`` functions they share
from Python, ``cuda_support.device_function``).

Importing this module also installs ``kernels.linking``: a kernel compiled only because
another kernel calls it is kept as LLVM IR for its caller, without machine code or a cache
entry of its own (about a quarter of a first call's compile time); and ``kernels.inlining``:
a helper inlined in Numba IR (``inline="always"``) has its scope copied once per call site
instead of once per block (about a tenth of the first call of the kernels that inline).

Cache freshness: Numba checks a cache entry against the source file of its own function
only (a hash of its content), while a kernel's machine code holds every helper it calls,
from other files too (``kernels.parallel``'s counters inside every shared driver, ``interp``
inside every sampler). An entry compiled before a change to such a file, which a ``git
pull`` or an upgrade leaves in the cache folder, would run the old helper. So every ``jit``
kernel's entries also carry a hash of all of ``kernels/*.py`` (:func:`package_stamp`):
after any change to the kernels each kernel compiles again on first use.

Concurrent saves: Numba saves a cache entry by reading the function's index file, picking a
data file name not yet in it, writing the index and then the data, with no lock. Processes
compiling different signatures of one kernel at once (``flowkit batch``'s workers, the test
suite's parallel workers, ``flowkit warmup``) can then drop each other's entries or, worse,
map a signature to a data file another process then fills with another signature's machine
code, which a later process loads and runs for the wrong argument types (three processes
saving 150 entries each into one index: 235-341 of the 450 kept, 33-79 of them pointing at
another entry's data). Every ``jit`` kernel's entries, and those of the CUDA kernels compiled
with ``cache=True`` (:func:`locked_saves`; numba-cuda's cache file is built the same way), are
therefore saved by :func:`_locked_save`: the whole read-modify-write under an exclusive lock
(``flock``; on Windows ``msvcrt.locking``), the data written before the index that names it.
"""

import contextlib
import errno
import functools
import hashlib
import itertools
import os
import warnings
from pathlib import Path

from numba import njit

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
try:
    import msvcrt
except ImportError:  # POSIX
    msvcrt = None
_WINDOWS = os.name == "nt"

from . import inlining, linking

inlining.install()
linking.install()


def package_stamp(folder=Path(__file__).parent):
    """SHA-256 (hex) of the names and contents of the ``*.py`` files in ``folder``."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


PACKAGE_STAMP = package_stamp()


def _lock(handle, exclusive):
    """Take (``exclusive``) or release this process's lock of the open file ``handle``:
    ``flock``, or on Windows ``msvcrt.locking`` of its first byte (``LK_LOCK`` retries for
    about 10 s, then raises OSError)."""
    if fcntl is not None:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_UN)
    else:
        handle.seek(0)  # locking() takes the bytes from the file position
        msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK if exclusive else msvcrt.LK_UNLCK, 1)


@contextlib.contextmanager
def _exclusive(path):
    """An exclusive lock (:func:`_lock`) on the file ``path`` (made if missing) while in the
    block; none where the file cannot be opened or locked (a file system without ``flock``):
    the save then goes unlocked, as Numba's own, rather than failing the call that compiled."""
    try:
        handle = open(path, "a+b")
    except OSError:
        handle = None
    locked = False
    if handle is not None:
        try:
            _lock(handle, True)
            locked = True
        except OSError:
            pass
    try:
        yield
    finally:
        if locked:
            _lock(handle, False)
        if handle is not None:
            handle.close()


_unsaved = []  # the first cache folder that took no entry (warned once per process)


def _locked_save(cache_file, key, data):
    """Numba's ``IndexDataCacheFile.save(key, data)`` made safe between processes (see the
    module's docstring): under an exclusive lock on ``<index>.lock``, the index is read, a
    new key gets the first data file name the index does not use, the data file is written
    (atomically, as Numba writes it), then the index. A process reading the index unlocked
    meanwhile finds either the old index or the new one with its data already in place.

    A save that fails (a full disk, a quota: Numba writes each file beside it and renames it,
    so nothing half-written is left) is a warning, once per process, not the error of the
    call that compiled: the kernel runs, and compiles again in the next process."""
    try:
        _save(cache_file, key, data)
    except OSError as exc:
        if _WINDOWS and exc.errno == errno.EACCES:
            # another process has the file open (a load): not saved this time, silently, as
            # Numba's own save does there (numba#2028); a later process saves it
            return
        if not _unsaved:
            _unsaved.append(cache_file._cache_path)
            warnings.warn(f"Numba's cache {cache_file._cache_path} takes no new compiled kernel "
                          f"({exc.strerror or exc}): kernels compile again in every process "
                          "until it does (NUMBA_CACHE_DIR chooses the folder)", RuntimeWarning,
                          stacklevel=2)


def _save(cache_file, key, data):
    with _exclusive(str(cache_file._index_path) + ".lock"):
        overloads = cache_file._load_index()
        data_name = overloads.get(key)
        if data_name is None:
            used = set(overloads.values())
            data_name = next(name for name in map(cache_file._data_name, itertools.count(1))
                             if name not in used)
        cache_file._save_data(data_name, data)
        if overloads.get(key) != data_name:
            overloads[key] = data_name
            cache_file._save_index(overloads)


_SAVE_PARTS = ("_index_path", "_load_index", "_save_index", "_save_data", "_data_name", "save")


def locked_saves(dispatcher):
    """``dispatcher`` (Numba's, CPU or CUDA, with ``cache=True``) with its cache entries saved
    by :func:`_locked_save`; unchanged where it has no such cache (the CUDA simulator's
    kernels) or Numba's cache file lacks the parts. The ``*_cuda`` modules' cached kernels
    are decorated with it above ``cuda.jit(cache=True)``."""
    cache_file = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)
    if (cache_file is not None and (fcntl is not None or msvcrt is not None)
            and all(hasattr(cache_file, part) for part in _SAVE_PARTS)):
        cache_file.save = functools.partial(_locked_save, cache_file)
    return dispatcher


def _stamped(dispatcher):
    """``dispatcher`` with :data:`PACKAGE_STAMP` added to its cache entries' source stamp
    (Numba's ``IndexDataCacheFile._source_stamp``; left alone where that is missing) and
    :func:`locked_saves`."""
    cache_file = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)
    if cache_file is not None and hasattr(cache_file, "_source_stamp"):
        cache_file._source_stamp = (cache_file._source_stamp, PACKAGE_STAMP)
    return locked_saves(dispatcher)


def jit(fn=None, **options):
    """``@jit`` or ``@jit(fastmath=..., ...)``: ``njit(cache=True, nogil=True, **options)``
    without the C wrapper."""
    if fn is None:
        return lambda fn: jit(fn, **options)
    return _stamped(njit(fn, cache=True, nogil=True, no_cfunc_wrapper=True, **options))


def internal(fn=None, **options):
    """``@internal`` or ``@internal(fastmath=...)``: ``jit`` without the CPython wrapper."""
    if fn is None:
        return lambda fn: internal(fn, **options)
    return jit(fn, no_cpython_wrapper=True, **options)
