"""Middlebury colour coding of flow, CUDA drivers: the math of ``kernels.flow_color``.

Imported only when the CUDA backend is used (it imports ``numba.cuda``).
"""

import numpy as np
from numba import cuda

from .cuda_support import device_function, grid_for
from .flow_color import color_pixel, row_max_radius

_BLOCK = (32, 8, 1)
_ROW_BLOCK = (128,)


_pixel = device_function(color_pixel)
_row_max = device_function(row_max_radius)


@cuda.jit
def _max_radius_kernel(flow, row_max):
    row = cuda.grid(1)
    h = flow.shape[1]
    if row < flow.shape[0] * h:
        n = row // h
        row_max[row] = _row_max(flow, n, row - n * h)


@cuda.jit
def _color_kernel(flow, max_radius, wheel, out):
    x, y, n = cuda.grid(3)
    if x < flow.shape[2] and y < flow.shape[1] and n < flow.shape[0]:
        _pixel(np.float64(flow[n, y, x, 0]), np.float64(flow[n, y, x, 1]), max_radius[n], wheel, out, n, y, x)


def max_radius_cuda(flow, row_max):
    """CUDA driver; same arguments as ``kernels.flow_color.max_radius_cpu``, device arrays."""
    rows = flow.shape[0] * flow.shape[1]
    _max_radius_kernel[grid_for(_ROW_BLOCK, rows), _ROW_BLOCK](flow, row_max)


def flow_to_color_cuda(flow, max_radius, wheel, out):
    """CUDA driver; same arguments as ``kernels.flow_color.flow_to_color_cpu``, device arrays."""
    n_frames, h, w, _ = flow.shape
    _color_kernel[grid_for(_BLOCK, w, h, n_frames), _BLOCK](flow, max_radius, wheel, out)
