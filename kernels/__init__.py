"""flowkit's compute kernels (installed as ``flowkit.kernels``).

Per-pixel math lives in plain ``numba.njit`` functions that both the CPU drivers
(``njit(nogil=True)`` functions over bands of rows, run on threads by
``parallel.run_bands``) and the CUDA drivers (``numba.cuda.jit``, in the ``*_cuda`` modules,
imported only when the CUDA backend is used) call. Kernels never
validate input and never import the public ``flowkit`` layer.
"""
