"""CUDA drivers of the flow smoothing filters (imported only when the CUDA backend is used).

Each thread computes one pixel (both flow components) with the per-pixel functions of
``smooth``, so the CUDA results follow the same math as the CPU drivers. Arrays are Numba
device arrays: flow ``(N, H, W, 2)``, guide ``(N, H, W, C)``.
"""

from numba import cuda

from . import smooth
from .cuda_support import device_function, grid_for

_BLOCK = (16, 8, 1)


_gaussian_h = device_function(smooth.gaussian_pixel_h)
_gaussian_v = device_function(smooth.gaussian_pixel_v)
_median_window = device_function(smooth.median_window)
_bilateral_pixel = device_function(smooth.bilateral_pixel)


def _grid(shape):
    """Launch configuration for one thread per pixel of an (N, H, W, ...) array."""
    return grid_for(_BLOCK, shape[2], shape[1], shape[0]), _BLOCK


@cuda.jit
def _gaussian_h_kernel(src, weights, out):
    x, y, n = cuda.grid(3)
    if x < src.shape[2] and y < src.shape[1] and n < src.shape[0]:
        out[n, y, x, 0] = _gaussian_h(src, weights, n, y, x, 0)
        out[n, y, x, 1] = _gaussian_h(src, weights, n, y, x, 1)


@cuda.jit
def _gaussian_v_kernel(src, weights, out):
    x, y, n = cuda.grid(3)
    if x < src.shape[2] and y < src.shape[1] and n < src.shape[0]:
        out[n, y, x, 0] = _gaussian_v(src, weights, n, y, x, 0)
        out[n, y, x, 1] = _gaussian_v(src, weights, n, y, x, 1)


@cuda.jit
def _median_kernel(src, r, out):
    x, y, n = cuda.grid(3)
    if x < src.shape[2] and y < src.shape[1] and n < src.shape[0]:
        out[n, y, x, 0] = _median_window(src, n, y, x, 0, r)
        out[n, y, x, 1] = _median_window(src, n, y, x, 1, r)


@cuda.jit
def _bilateral_kernel(flow, guide, spatial, guide_scale, out):
    x, y, n = cuda.grid(3)
    if x < flow.shape[2] and y < flow.shape[1] and n < flow.shape[0]:
        u, v = _bilateral_pixel(flow, guide, spatial, guide_scale, n, y, x)
        out[n, y, x, 0] = u
        out[n, y, x, 1] = v


def gaussian_cuda(src, weights):
    """Separable Gaussian (horizontal then vertical pass) of device flow ``src``; returns a device array."""
    grid, block = _grid(src.shape)
    weights = cuda.to_device(weights)
    tmp = cuda.device_array_like(src)
    out = cuda.device_array_like(src)
    _gaussian_h_kernel[grid, block](src, weights, tmp)
    _gaussian_v_kernel[grid, block](tmp, weights, out)
    return out


def median_cuda(src, size):
    """Component-wise ``size`` x ``size`` median of device flow ``src``; returns a device array."""
    grid, block = _grid(src.shape)
    out = cuda.device_array_like(src)
    _median_kernel[grid, block](src, size // 2, out)
    return out


def bilateral_cuda(flow, guide, spatial, guide_scale):
    """Joint bilateral filter of device ``flow`` guided by device ``guide``; returns a device array."""
    grid, block = _grid(flow.shape)
    out = cuda.device_array_like(flow)
    _bilateral_kernel[grid, block](flow, guide, cuda.to_device(spatial), guide_scale, out)
    return out
