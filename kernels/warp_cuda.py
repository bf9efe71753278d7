"""Backward warping, CUDA driver: one thread per output pixel, the math of ``kernels.warp``.

Imported only when the CUDA backend is used (it imports ``numba.cuda``).
"""

import math

from numba import config, cuda

from .warp import warp_pixel

_BLOCK = (32, 8, 1)


def _simulator_call(fn):
    """Numba's CUDA simulator hands kernels wrapped arrays that njit functions cannot unbox;
    unwrap them to the NumPy arrays they hold (real GPUs never take this path)."""
    def call(*args):
        return fn(*(a.__dict__["_item"]._ary if type(a).__name__ == "FakeWithinKernelCUDAArray"
                    else a for a in args))
    return call


_pixel = _simulator_call(warp_pixel) if config.ENABLE_CUDASIM else warp_pixel


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
    grid = (math.ceil(w / _BLOCK[0]), math.ceil(h / _BLOCK[1]), n_out)
    _warp_kernel[grid, _BLOCK](image, flow, out.reshape(out.size), mask, n_out, interpolation,
                               border, border_value, int_max)
