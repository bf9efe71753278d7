"""Scalar math that Numba's CPU and CUDA targets spell differently.

numba-cuda has no NumPy ufuncs on scalars: ``np.floor(x)``, ``np.rint(x)`` or ``np.sqrt(x)``
in a function a kernel calls fails when the kernel is compiled for a GPU (the CUDA simulator,
which runs the kernel as Python, does not notice; ``tests/test_cuda_compile.py`` does).
``floor``, ``rint`` and ``sqrt`` below are the NumPy ufuncs on the CPU, where LLVM vectorises
them in loops (``math.floor`` is a libm call returning an integer, ``math.sqrt`` computes a
float32 in float64), and libdevice's functions on a GPU. All keep the argument's float type;
``rint`` rounds ties to even.
"""

import numpy as np
from numba import types
from numba.extending import overload


def _per_target(ufunc, libdevice_name):
    """A function that is ``ufunc`` on the CPU and libdevice's ``libdevice_name`` (its float32
    variant, name + "f", for float32) in CUDA kernels."""

    def function(x):
        return ufunc(x)

    @overload(function, target="cpu")
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
sqrt = _per_target(np.sqrt, "sqrt")
