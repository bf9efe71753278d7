"""kernels.jit: every kernel's cache entries carry a hash of the whole kernels package, so that
an entry compiled before a change to a helper in another file (which its machine code holds)
is not loaded after it; and they are saved under a lock, so that processes saving entries of
one kernel at once keep every entry with its own data."""

import importlib
import os
import subprocess
import sys

import numba
import pytest

from flowkit.kernels import jit, parallel, warp


def test_kernels_carry_the_package_stamp():
    for kernel in (warp._warp_cpu_shared, parallel.band_range):
        assert kernel._cache._cache_file._source_stamp[1] == jit.PACKAGE_STAMP


def test_the_package_stamp_follows_every_file(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "b.py").write_text("y = 2\n")
    before = jit.package_stamp(tmp_path)
    assert jit.package_stamp(tmp_path) == before
    (tmp_path / "b.py").write_text("y = 3\n")
    assert jit.package_stamp(tmp_path) != before
    (tmp_path / "b.py").write_text("y = 2\n")
    (tmp_path / "c.py").write_text("")
    assert jit.package_stamp(tmp_path) != before


def test_an_entry_of_another_package_stamp_is_not_loaded(tmp_path, monkeypatch):
    # a kernel in a module of its own, cached in tmp_path: loaded from the cache by a new
    # dispatcher under the same stamp, compiled again under another (its own file unchanged)
    (tmp_path / "stamped_kernel.py").write_text(
        "from flowkit.kernels.jit import jit\n\n@jit\ndef plus_one(x):\n    return x + 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "cache"))

    def fresh_kernel():
        sys.modules.pop("stamped_kernel", None)
        kernel = importlib.import_module("stamped_kernel").plus_one
        assert kernel(1) == 2
        return sum(kernel.stats.cache_hits.values()), sum(kernel.stats.cache_misses.values())

    assert fresh_kernel() == (0, 1)  # compiled and saved
    assert fresh_kernel() == (1, 0)  # loaded
    monkeypatch.setattr(jit, "PACKAGE_STAMP", "another kernels package")
    assert fresh_kernel() == (0, 1)  # compiled again
    sys.modules.pop("stamped_kernel", None)


def test_kernels_save_their_entries_under_the_lock():
    for kernel in (warp._warp_cpu_shared, parallel.band_range):
        save = kernel._cache._cache_file.save
        assert save.func is jit._locked_save and save.args == (kernel._cache._cache_file,)


# Processes saving entries of one index at once (a kernel's signatures compiled by several
# workers): each key must end up in the index with its own data. Numba's own save lost
# 109-215 of 450 keys and pointed 33-79 at another key's data (docstring of kernels.jit).
SAVER = """
import sys, time
exec(sys.argv[4])  # WINDOWS: as on Windows
from numba.core.caching import IndexDataCacheFile
from flowkit.kernels import jit
folder, who, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
cache_file = IndexDataCacheFile(folder, "kernel-1.py311", ("stamp", 1))
while time.time() < start:  # all at once
    pass
for i in range(60):
    jit._locked_save(cache_file, (who, i), ("payload", who, i))
"""


# Windows simulated: no fcntl, and an msvcrt whose locking(fd, mode, nbytes) takes POSIX
# record locks of the same bytes (from the file position, as msvcrt's do); checks the code
# path Windows takes, not Windows itself
WINDOWS = """
import fcntl, os, types
def locking(fd, mode, nbytes):
    fcntl.lockf(fd, fcntl.LOCK_EX if mode == 1 else fcntl.LOCK_UN, nbytes, 0, os.SEEK_CUR)
sys.modules["fcntl"] = None  # import fcntl: ImportError
sys.modules["msvcrt"] = types.SimpleNamespace(locking=locking, LK_UNLCK=0, LK_LOCK=1)
"""


@pytest.mark.parametrize("setup", ["", WINDOWS], ids=["posix", "windows-simulated"])
def test_concurrent_saves_keep_every_entry_with_its_own_data(tmp_path, setup):
    from numba.core.caching import IndexDataCacheFile

    start = __import__("time").time() + 1.5  # after the three interpreters have started
    savers = [subprocess.Popen([sys.executable, "-c", SAVER, str(tmp_path), who, str(start),
                                setup],
                               stderr=subprocess.PIPE, text=True, env=dict(os.environ))
              for who in "abc"]
    for saver in savers:
        _, err = saver.communicate(timeout=120)
        assert saver.returncode == 0, err
    cache_file = IndexDataCacheFile(str(tmp_path), "kernel-1.py311", ("stamp", 1))
    index = cache_file._load_index()
    assert sorted(index) == sorted((who, i) for who in "abc" for i in range(60))
    assert len(set(index.values())) == 180
    for key in index:
        assert cache_file.load(key) == ("payload",) + key


def test_cached_cuda_kernels_save_under_the_lock_too():
    # the *_cuda modules' cache=True kernels, off the simulator (decorating needs no GPU): the
    # GPU suite's parallel workers compile them into one cache at once
    code = ("import numba.cuda.dispatcher as d, flowkit.kernels as k, importlib, pathlib\n"
            "from flowkit.kernels import jit\n"
            "found = []\n"
            "for path in sorted(pathlib.Path(k.__file__).parent.glob('*_cuda.py')):\n"
            "    module = importlib.import_module('flowkit.kernels.' + path.stem)\n"
            "    for name, value in vars(module).items():\n"
            "        if isinstance(value, d.CUDADispatcher) and value._cache.__class__.__name__ != 'NullCache':\n"
            "            save = value._cache._cache_file.save\n"
            "            found.append((name, getattr(save, 'func', None) is jit._locked_save))\n"
            "print(len(found), all(ok for _, ok in found), [n for n, ok in found if not ok])\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, NUMBA_ENABLE_CUDASIM="0"))
    assert done.returncode == 0, done.stderr[-2000:]
    count, every, missing = done.stdout.split(" ", 2)
    assert int(count) >= 23 and every == "True", missing


def test_a_lock_that_cannot_be_taken_saves_unlocked(tmp_path, monkeypatch):
    # a file system without flock (or a lock file that cannot be made) must not fail the
    # compile that saves: the entry is saved as Numba saves it
    from numba.core.caching import IndexDataCacheFile

    def no_flock(*args):
        raise OSError(37, "No locks available")

    monkeypatch.setattr(jit.fcntl, "flock", no_flock)
    cache_file = IndexDataCacheFile(str(tmp_path), "kernel-1.py311", ("stamp", 1))
    jit._locked_save(cache_file, ("a", 1), "payload a")
    assert cache_file.load(("a", 1)) == "payload a"


def test_kernels_save_under_the_lock_on_windows_too():
    # without fcntl (Windows) the kernels' entries were saved by Numba's own save, unlocked
    code = WINDOWS + ("from flowkit.kernels import jit, warp\n"
                      "save = warp._warp_cpu_shared._cache._cache_file.save\n"
                      "print(jit.fcntl, save.func is jit._locked_save)\n")
    done = subprocess.run([sys.executable, "-c", "import sys\n" + code], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["None", "True"]


def test_a_file_another_process_has_open_on_windows_is_no_warning(tmp_path, monkeypatch):
    # Windows refuses to replace a file another process has open (EACCES): Numba's own save
    # skips the entry silently there (numba#2028), the locked save too, no warning
    import errno
    import warnings

    from numba.core.caching import IndexDataCacheFile

    def busy(*args):
        raise PermissionError(errno.EACCES, "Permission denied")

    cache_file = IndexDataCacheFile(str(tmp_path), "kernel-1.py311", ("stamp", 1))
    monkeypatch.setattr(jit, "_WINDOWS", True)
    monkeypatch.setattr(jit, "_unsaved", [])
    monkeypatch.setattr(cache_file, "_save_index", busy)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jit._locked_save(cache_file, ("a", 1), "payload a")
    assert jit._unsaved == []


def test_a_cache_that_takes_no_entry_is_a_warning_not_the_callers_error(tmp_path, monkeypatch):
    # NUMBA_CACHE_DIR on a full disk: every command failed with "[Errno 28] No space left on
    # device" (no file named) on its first compile, although its own output had room
    import re
    import warnings

    import pytest
    from numba.core.caching import IndexDataCacheFile

    monkeypatch.setattr(jit, "_unsaved", [], raising=False)
    cache_file = IndexDataCacheFile(str(tmp_path), "kernel-1.py311", ("stamp", 1))

    def full(name, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache_file, "_save_data", full)
    with pytest.warns(RuntimeWarning, match=rf"^Numba's cache {re.escape(str(tmp_path))} takes no new compiled "
                                            r"kernel \(No space left on device\): "):
        jit._locked_save(cache_file, ("a", 1), "payload a")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per process
        jit._locked_save(cache_file, ("b", 1), "payload b")
    monkeypatch.undo()
    assert cache_file._load_index() == {}
