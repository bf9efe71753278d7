"""Semi-Lagrangian trajectories, CUDA driver: one thread per pixel runs ``advect.trace_pixel``.

Imported only when the CUDA backend is used (it imports ``numba.cuda``).
"""

from numba import cuda

from .advect import trace_pixel
from .cuda_support import device_function, grid_for

_BLOCK = (32, 8, 1)

_trace = device_function(trace_pixel)


@cuda.jit
def _trace_kernel(flow, n_iter, disp, mask):
    x, y, nf = cuda.grid(3)
    n_flow, h, w, _ = flow.shape
    if x < w and y < h and nf < n_flow:
        _trace(flow, nf, y, x, n_iter, disp, mask)


def trace_cuda(flow, n_iter, disp, mask):
    """CUDA driver; same arguments as ``kernels.advect.trace_cpu``, as C-contiguous device
    arrays."""
    n_flow, h, w, _ = flow.shape
    _trace_kernel[grid_for(_BLOCK, w, h, n_flow), _BLOCK](flow, n_iter, disp, mask)
