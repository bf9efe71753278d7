"""Test setup: CUDA kernels run in Numba's simulator unless NUMBA_ENABLE_CUDASIM=0 is set.

To run the CUDA tests on a real GPU: ``NUMBA_ENABLE_CUDASIM=0 pytest``.

In the simulator, device arrays get Numba's device-array semantics for host code
(tests/device_semantics.py), so host code on the GPU path that only NumPy arrays allow
(``[None]``, NumPy functions on device arrays, ...) fails here as it would on a GPU, and a
block's threads run one after another unless the kernel synchronises (tests/sequential_blocks.py).

The suite runs in parallel processes (pytest-xdist, ``-n auto --dist loadfile`` in
pyproject.toml: each test file in one worker, so that its module fixtures and the kernels it
compiles are shared by its tests); ``auto`` is the number of CPU cores, at most
``MAX_WORKERS`` (each worker compiles the kernels its files need and holds up to ~1.5 GB),
and none when the arguments name one test file. ``-n 0`` runs it in this process.
docs/benchmarks.md has the times.
"""

import importlib.util
import os

import pytest

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")  # must precede any numba import

_patches = pytest.MonkeyPatch()
MAX_WORKERS = 4


def pytest_xdist_auto_num_workers(config):
    """``-n auto``: ``PYTEST_XDIST_AUTO_NUM_WORKERS`` when set (as xdist's own rule); none (this
    process) when the arguments name tests of one file only, which ``--dist loadfile`` would
    give to one worker anyway (a worker's start-up made ``pytest tests/test_lk_sparse.py``
    4.3 s against 3.0 s); else the CPU cores this process may use, at most ``MAX_WORKERS``."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return int(os.environ["PYTEST_XDIST_AUTO_NUM_WORKERS"])
    files = {arg.split("::")[0] for arg in config.args}
    if len(files) == 1 and next(iter(files)).endswith(".py"):
        return 0
    return max(1, min(MAX_WORKERS, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                      else os.cpu_count() or 1))


def pytest_configure(config):
    # before collection, so that modules binding numba.cuda functions at import see the patches
    if os.environ["NUMBA_ENABLE_CUDASIM"] == "1" and importlib.util.find_spec("numba_cuda"):
        import device_semantics
        import sequential_blocks

        device_semantics.install(_patches)
        sequential_blocks.install(_patches)  # a block's threads in order: the CUDA tests' time


def pytest_unconfigure(config):
    _patches.undo()
