"""Plumbing shared by the CUDA drivers (the ``*_cuda`` modules, which alone import this one).

It imports only ``numba.config``, so it never imports ``numba.cuda`` itself.
"""

from numba import config


def device_function(fn):
    """``fn`` (an ``@njit`` function) as CUDA kernels call it.

    On a GPU, ``cuda.jit`` compiles the ``@njit`` function itself as a device function, so
    ``fn`` is returned unchanged. Numba's CUDA simulator runs kernels as Python and hands them
    wrapped arrays (``FakeWithinKernelCUDAArray``) that compiled ``@njit`` code cannot unbox;
    there the returned wrapper unwraps them to the NumPy arrays they hold and runs the compiled
    code, which is faster than ``fn.py_func`` and closer to what runs on a GPU.
    """
    if not config.ENABLE_CUDASIM:
        return fn

    def call(*args):
        return fn(*(a.__dict__["_item"]._ary if type(a).__name__ == "FakeWithinKernelCUDAArray"
                    else a for a in args))
    return call


def grid_for(block, *extent):
    """Blocks per grid dimension so that thread blocks of shape ``block`` cover ``extent``
    threads (x first); dimensions beyond ``len(block)`` have one thread per block."""
    return tuple((e + b - 1) // b
                 for e, b in zip(extent, tuple(block) + (1,) * (len(extent) - len(block))))
