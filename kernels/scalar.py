"""Scalar math that Numba's CPU and CUDA targets spell differently.

numba-cuda has no NumPy ufuncs on scalars: ``np.floor(x)``, ``np.rint(x)`` or ``np.sqrt(x)``
in a function a kernel calls fails when the kernel is compiled for a GPU (the CUDA simulator,
which runs the kernel as Python, does not notice; ``tests/test_cuda_compile.py`` does).
``floor`` and ``rint`` below are the NumPy ufuncs on the CPU (``math.floor`` is a libm call
returning an integer), ``sqrt`` is ``math.sqrt`` there (float32 in, float32 out, correctly
rounded like ``np.sqrt``: the same bits), and libdevice's functions on a GPU. All keep the
argument's float type; ``rint`` rounds ties to even. The CPU versions are inlined into the
caller's Numba IR: as a call (``np.sqrt`` on a scalar, or any overload compiled as its own
function) they reached LLVM's loop vectoriser before being inlined, which then left the
variational refinement's linear-system loop scalar ("call instruction cannot be
vectorized"); inlined, ``math.sqrt`` is LLVM's ``sqrt`` intrinsic, which vectorises.
"""

import math

import numpy as np
from numba import types
from numba.extending import overload


def _per_target(ufunc, libdevice_name):
    """A function that is ``ufunc`` (a NumPy ufunc or a ``math`` function) on the CPU and
    libdevice's ``libdevice_name`` (its float32 variant, name + "f", for float32) in CUDA
    kernels."""

    def function(x):
        return ufunc(x)

    @overload(function, target="cpu", inline="always")  # in the caller's IR: see above
    def _cpu(x):
        return lambda x: ufunc(x)

    @overload(function, target="cuda")
    def _cuda(x):
        from numba.cuda import libdevice

        single = getattr(libdevice, libdevice_name + "f")
        double = getattr(libdevice, libdevice_name)
        if x == types.float32:
            return lambda x: single(x)
        return lambda x: double(x)

    function.__name__ = function.__qualname__ = libdevice_name
    return function


floor = _per_target(np.floor, "floor")  # largest whole number <= x
rint = _per_target(np.rint, "rint")  # nearest whole number, ties to even
sqrt = _per_target(math.sqrt, "sqrt")
