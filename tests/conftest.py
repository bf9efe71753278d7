"""Test setup: CUDA kernels run in Numba's simulator unless NUMBA_ENABLE_CUDASIM=0 is set.

To run the CUDA tests on a real GPU: ``NUMBA_ENABLE_CUDASIM=0 pytest``.

In the simulator, device arrays get Numba's device-array semantics for host code
(tests/device_semantics.py), so host code on the GPU path that only NumPy arrays allow
(``[None]``, NumPy functions on device arrays, ...) fails here as it would on a GPU, and a
block's threads run one after another unless the kernel synchronises (tests/sequential_blocks.py).
"""

import importlib.util
import os

import pytest

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")  # must precede any numba import

_patches = pytest.MonkeyPatch()


def pytest_configure(config):
    # before collection, so that modules binding numba.cuda functions at import see the patches
    if os.environ["NUMBA_ENABLE_CUDASIM"] == "1" and importlib.util.find_spec("numba_cuda"):
        import device_semantics
        import sequential_blocks

        device_semantics.install(_patches)
        sequential_blocks.install(_patches)  # a block's threads in order: the CUDA tests' time


def pytest_unconfigure(config):
    _patches.undo()
