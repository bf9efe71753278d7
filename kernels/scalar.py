"""Scalar rounding that Numba's CPU and CUDA targets spell differently.

numba-cuda has no NumPy ufuncs on scalars: ``np.floor(x)`` or ``np.rint(x)`` in a function a
kernel calls fails when the kernel is compiled for a GPU (the CUDA simulator, which runs the
kernel as Python, does not notice; ``tests/test_cuda_compile.py`` does). ``floor`` and
``rint`` below are ``np.floor`` and ``np.rint`` on the CPU, where LLVM vectorises them in
loops (``math.floor`` is a libm call returning an integer), and libdevice's ``floor`` /
``rint`` on a GPU. Both keep the argument's float type; ``rint`` rounds ties to even.
"""

import numpy as np
from numba import types
from numba.extending import overload


def floor(x):
    """Largest whole number <= ``x``, in ``x``'s float type."""
    return np.floor(x)


def rint(x):
    """Nearest whole number to ``x``, ties to even, in ``x``'s float type."""
    return np.rint(x)


@overload(floor, target="cpu")
def _floor_cpu(x):
    return lambda x: np.floor(x)


@overload(rint, target="cpu")
def _rint_cpu(x):
    return lambda x: np.rint(x)


@overload(floor, target="cuda")
def _floor_cuda(x):
    from numba.cuda import libdevice

    if x == types.float32:
        return lambda x: libdevice.floorf(x)
    return lambda x: libdevice.floor(x)


@overload(rint, target="cuda")
def _rint_cuda(x):
    from numba.cuda import libdevice

    if x == types.float32:
        return lambda x: libdevice.rintf(x)
    return lambda x: libdevice.rint(x)
