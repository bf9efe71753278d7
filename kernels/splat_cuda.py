"""Forward warping (splatting), CUDA driver: one thread per source pixel adding its taps with
atomics, the per-pixel math of ``kernels.splat``.

Imported only when the CUDA backend is used (it imports ``numba.cuda``). Three launches
(four for softmax metrics spanning several levels): clear the accumulators, [the largest
softmax level per target by ``atomic.max``], the sums by ``atomic.add``, then one thread per
target pixel finishes it. Accumulation order varies from
run to run, so results may differ from the CPU's in the last bits.
"""

import math

from numba import cuda

from . import splat
from .cuda_support import device_function, grid_for

_BLOCK = (32, 8, 1)

_footprint = device_function(splat.footprint)
_tap_weight = device_function(splat.tap_weight)
_softmax_factor = device_function(splat.softmax_factor)
_finish_value = device_function(splat.finish_value)
_DROPPED = splat.DROPPED


@cuda.jit
def _clear_kernel(acc, level):
    x, y, n = cuda.grid(3)
    n_out, h, w, k = acc.shape
    if x < w and y < h and n < n_out:
        for c in range(k):
            acc[n, y, x, c] = 0.0
        if level.shape[0] > 0:
            level[n, y, x] = -math.inf


@cuda.jit
def _splat_kernel(image, flow, levels, scales, one, levels_only, acc, level):
    x, y, n = cuda.grid(3)
    n_out, h, w, k = acc.shape
    if x < w and y < h and n < n_out:
        nf = n if flow.shape[0] > 1 else 0
        xi, yi, fx, fy = _footprint(x, y, flow[nf, y, x, 0], flow[nf, y, x, 1], one)
        if yi == _DROPPED:
            return
        channels = image.shape[3]
        nm = n if scales.shape[0] > 1 else 0
        softmax = scales.shape[0] > 0
        leveled = levels.shape[0] > 0
        q = levels[nm, y, x] if leveled else 0.0
        e = scales[nm, y, x] if softmax else one
        ni = n if image.shape[0] > 1 else 0
        for t in range(4):
            ty = yi + (t >> 1)
            tx = xi + (t & 1)
            b = _tap_weight(fx, fy, t & 1, t >> 1, one)
            if ty < 0 or ty >= h or tx < 0 or tx >= w or b == 0:
                continue
            if levels_only:
                cuda.atomic.max(level, (n, ty, tx), q)
                continue
            a = b * _softmax_factor(e, q, level[n, ty, tx]) if leveled else b * e
            for c in range(channels):
                cuda.atomic.add(acc, (n, ty, tx, c), a * image[ni, y, x, c])
            cuda.atomic.add(acc, (n, ty, tx, channels), a)
            if k > channels + 1:  # the weight map (softmax with return_weight)
                cuda.atomic.add(acc, (n, ty, tx, channels + 1), b)


@cuda.jit
def _finish_kernel(acc, divide, int_max, out):
    x, y, n = cuda.grid(3)
    n_out, h, w, channels = out.shape
    if x < w and y < h and n < n_out:
        norm = acc[n, y, x, channels]
        for c in range(channels):
            out[n, y, x, c] = _finish_value(acc[n, y, x, c], norm, divide, int_max)


def splat_cuda(image, flow, levels, scales, mode, acc, level, out, int_max):
    """CUDA driver; the arguments of ``kernels.splat.splat_cpu`` as C-contiguous device arrays
    (``acc`` need not be zeros: cleared here)."""
    n_out, h, w, _ = acc.shape
    grid = grid_for(_BLOCK, w, h, n_out)
    one = flow.dtype.type(1)
    _clear_kernel[grid, _BLOCK](acc, level)
    if levels.shape[0] > 0:
        _splat_kernel[grid, _BLOCK](image, flow, levels, scales, one, True, acc, level)
    _splat_kernel[grid, _BLOCK](image, flow, levels, scales, one, False, acc, level)
    _finish_kernel[grid, _BLOCK](acc, mode != splat.MODE_SUM, int_max, out)
