"""kernels.jit: every kernel's cache entries carry a hash of the whole kernels package, so that
an entry compiled before a change to a helper in another file (which its machine code holds)
is not loaded after it."""

import importlib
import sys

import numba

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
