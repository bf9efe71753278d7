"""The jit decorator for private CPU helpers, chosen for compile time.

Numba compiles every ``@njit`` function it reaches as a complete entry point: the function
plus a CPython wrapper (so that Python can call it) and a C wrapper (so that it can be a
first-class function value), each through LLVM optimisation and machine-code generation.
Row and pixel helpers that only jitted CPU code calls need neither wrapper; without them
each compiles about 0.035 s faster (20 small functions: 1.8 s -> 1.1 s of CPU time), which
adds up over the 30-40 helpers a driver reaches on its first call.

Calling an ``internal`` function from Python crashes the interpreter (there is no wrapper
to call), so it is only for private helpers that no Python code, test or CUDA kernel calls
(the CUDA kernels compile the ``@njit`` functions they call with the same options).
"""

from numba import njit


def internal(fn=None, **options):
    """``@internal`` or ``@internal(fastmath=...)``: ``njit(cache=True, **options)`` without
    the two wrappers."""
    if fn is None:
        return lambda fn: internal(fn, **options)
    return njit(fn, cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True, **options)
