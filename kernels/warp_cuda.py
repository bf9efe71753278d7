"""Backward warping, CUDA driver: one thread per output pixel, the math of ``kernels.warp``.

Imported only when the CUDA backend is used (it imports ``numba.cuda``).
"""

from numba import cuda

from .cuda_support import device_function, grid_for
from .warp import warp_pixel

_BLOCK = (32, 8, 1)


_pixel = device_function(warp_pixel)


@cuda.jit
def _warp_kernel(image, flow, out, mask, n_out, interpolation, border, border_value, int_max):
    x, y, n = cuda.grid(3)
    _, h, w, channels = image.shape
    if x < w and y < h and n < n_out:
        ni = n if image.shape[0] > 1 else 0
        nf = n if flow.shape[0] > 1 else 0
        inside = _pixel(image, ni, y, x, flow[nf, y, x, 0], flow[nf, y, x, 1], out,
                        ((n * h + y) * w + x) * channels, interpolation, border, border_value,
                        int_max)
        if nf == n:
            mask[nf, y, x] = inside


def warp_cuda(image, flow, out, mask, interpolation, border, border_value, int_max):
    """CUDA driver; same arguments as ``kernels.warp.warp_cpu`` (without ``work``), as
    C-contiguous device arrays."""
    n_out, h, w, _ = out.shape
    _warp_kernel[grid_for(_BLOCK, w, h, n_out), _BLOCK](image, flow, out.reshape(out.size), mask, n_out,
                                                    interpolation, border, border_value, int_max)
