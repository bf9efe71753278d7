"""Test setup: CUDA kernels run in Numba's simulator unless NUMBA_ENABLE_CUDASIM=0 is set.

To run the CUDA tests on a real GPU: ``NUMBA_ENABLE_CUDASIM=0 pytest``.

In the simulator, device arrays get Numba's device-array semantics for host code
(tests/device_semantics.py), so host code on the GPU path that only NumPy arrays allow
(``[None]``, NumPy functions on device arrays, ...) fails here as it would on a GPU.
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

        device_semantics.install(_patches)


def pytest_unconfigure(config):
    _patches.undo()
