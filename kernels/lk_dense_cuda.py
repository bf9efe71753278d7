"""Dense iterative Lucas-Kanade (iLK): CUDA kernels and driver.

Same math as the CPU driver in ``lk_dense`` (the per-pixel functions are shared, the warp is
``kernels.warp.warp_pixel``); per warp: ``_k_warp`` (median prefilter + bilinear warp),
``_k_terms`` (gradients and the five normal-equation products summed over channels),
``_k_filter_x`` (x pass of the window) and ``_k_window_solve`` (y pass of the window + 2x2
solve). Arrays are interleaved as on the CPU: frames (H, W, C), flow (H, W, 2), products
(H, W, 5). Imported only when the CUDA backend is used.
"""

import numpy as np
from numba import cuda

from . import interp
from .cuda_support import device_function, grid_for
from .jit import locked_saves
from .lk_dense import (N_TERMS, derivative, filter_x_at, filter_y_at, linear_sources, median3x3,
                       nearest_sources, normal_terms, pyramid_shapes, pyramid_weights, solve2x2,
                       window_weights)
from .warp import warp_pixel

_BLOCK = (32, 8, 1)


_derivative = device_function(derivative)
_filter_x_at = device_function(filter_x_at)
_filter_y_at = device_function(filter_y_at)
_linear_at = device_function(interp.linear_at)
_median3x3 = device_function(median3x3)
_normal_terms = device_function(normal_terms)
_solve2x2 = device_function(solve2x2)
_warp_pixel = device_function(warp_pixel)


@locked_saves
@cuda.jit(cache=True)
def _k_to_float(raw, scale, out):
    """(N, H, W, C) array of any supported dtype -> float32 times ``scale``."""
    x, y, z = cuda.grid(3)
    n_ch = raw.shape[3]
    if x < raw.shape[2] and y < raw.shape[1] and z < raw.shape[0] * n_ch:
        n, c = z // n_ch, z % n_ch
        out[n, y, x, c] = np.float32(raw[n, y, x, c]) * scale


@locked_saves
@cuda.jit(cache=True)
def _k_filter_x(src, weights, border, dst):
    x, y, c = cuda.grid(3)
    if x < src.shape[1] and y < src.shape[0] and c < src.shape[2]:
        dst[y, x, c] = _filter_x_at(src, y, x, c, weights, border)


@locked_saves
@cuda.jit(cache=True)
def _k_filter_y(src, weights, border, dst):
    x, y, c = cuda.grid(3)
    if x < src.shape[1] and y < src.shape[0] and c < src.shape[2]:
        dst[y, x, c] = _filter_y_at(src, y, x, c, weights, border)


@locked_saves
@cuda.jit(cache=True)
def _k_downsample(src, yidx, yfrac, xidx, xfrac, gain, dst):
    """Bilinear resize at the positions of the host tables of ``lk_dense.linear_sources``;
    the blend is float64 as every ``interp`` blend (see docs/conventions.md, "float64 on
    the GPU")."""
    x, y, c = cuda.grid(3)
    if x < dst.shape[1] and y < dst.shape[0] and c < dst.shape[2]:
        dst[y, x, c] = gain[c] * _linear_at(src[:, :, c], yidx[y], xidx[x], yfrac[y], xfrac[x],
                                            interp.BORDER_REPLICATE, 0.0)


@locked_saves
@cuda.jit(cache=True)
def _k_upscale_flow(src, yidx, xidx, scale_x, scale_y, dst):
    """Nearest-neighbour upscale at the host tables of ``lk_dense.nearest_sources``, vectors
    times the size ratios (float32, computed on the host)."""
    x, y = cuda.grid(2)
    if x < dst.shape[1] and y < dst.shape[0]:
        sy = yidx[y]
        sx = xidx[x]
        dst[y, x, 0] = src[sy, sx, 0] * scale_x
        dst[y, x, 1] = src[sy, sx, 1] * scale_y


@locked_saves
@cuda.jit(cache=True)
def _k_warp(mov, flow, prefilter, warped, fl):
    """Filtered flow into ``fl`` and frame1 at (x + u, y + v) into ``warped`` (flat H*W*C)."""
    x, y = cuda.grid(2)
    _, height, width, n_ch = mov.shape
    if x < width and y < height:
        if prefilter:
            u = _median3x3(flow, y, x, 0)
            v = _median3x3(flow, y, x, 1)
        else:
            u = flow[y, x, 0]
            v = flow[y, x, 1]
        fl[y, x, 0] = u
        fl[y, x, 1] = v
        _warp_pixel(mov, 0, y, x, u, v, warped, (y * width + x) * n_ch, interp.INTER_LINEAR,
                    interp.BORDER_REPLICATE, 0.0, 0.0)


@locked_saves
@cuda.jit(cache=True)
def _k_terms(ref, warped, fl, terms):
    x, y = cuda.grid(2)
    height, width = ref.shape[0], ref.shape[1]
    if x < width and y < height:
        xlo, xhi = max(x - 1, 0), min(x + 1, width - 1)
        ylo, yhi = max(y - 1, 0), min(y + 1, height - 1)
        u, v = fl[y, x, 0], fl[y, x, 1]
        s0 = s1 = s2 = s3 = s4 = np.float32(0.0)
        for c in range(ref.shape[2]):
            gx = _derivative(warped[y, xlo, c], warped[y, xhi, c], xlo, xhi)
            gy = _derivative(warped[ylo, x, c], warped[yhi, x, c], ylo, yhi)
            t0, t1, t2, t3, t4 = _normal_terms(gx, gy, u, v, ref[y, x, c], warped[y, x, c])
            s0 += t0
            s1 += t1
            s2 += t2
            s3 += t3
            s4 += t4
        terms[y, x, 0] = s0
        terms[y, x, 1] = s1
        terms[y, x, 2] = s2
        terms[y, x, 3] = s3
        terms[y, x, 4] = s4


@locked_saves
@cuda.jit(cache=True)
def _k_window_solve(hsum, weights, flow):
    x, y = cuda.grid(2)
    if x < hsum.shape[1] and y < hsum.shape[0]:
        border = interp.BORDER_REFLECT101
        u, v = _solve2x2(_filter_y_at(hsum, y, x, 0, weights, border),
                         _filter_y_at(hsum, y, x, 1, weights, border),
                         _filter_y_at(hsum, y, x, 2, weights, border),
                         _filter_y_at(hsum, y, x, 3, weights, border),
                         _filter_y_at(hsum, y, x, 4, weights, border))
        flow[y, x, 0] = u
        flow[y, x, 1] = v


def _reduce(image, shape, weights, gain):
    """One pyramid step on the device (see ``lk_dense._reduce``)."""
    height, width, n_ch = image.shape
    tmp = cuda.device_array(image.shape, np.float32)
    smooth = cuda.device_array(image.shape, np.float32)
    grid = grid_for(_BLOCK, width, height, n_ch)
    _k_filter_y[grid, _BLOCK](image, weights, interp.BORDER_REFLECT, tmp)
    _k_filter_x[grid, _BLOCK](tmp, weights, interp.BORDER_REFLECT, smooth)
    out = cuda.device_array(tuple(shape) + (n_ch,), np.float32)
    (yidx, yfrac), (xidx, xfrac) = (tuple(cuda.to_device(t) for t in linear_sources(n, m))
                                    for n, m in ((height, shape[0]), (width, shape[1])))
    _k_downsample[grid_for(_BLOCK, shape[1], shape[0], n_ch), _BLOCK](smooth, yidx, yfrac, xidx,
                                                                     xfrac, gain, out)
    return out


def _ilk_pair(frame0, frame1, init_flow, radius, num_warp, gaussian, prefilter, levels, out):
    """Coarse-to-fine iLK of one pair of device frames (H, W, C) into ``out`` (H, W, 2)."""
    height, width, n_ch = frame0.shape
    shapes = pyramid_shapes(height, width, levels)
    pyr_w = cuda.to_device(pyramid_weights())
    win_w = cuda.to_device(window_weights(radius, gaussian))
    ones = cuda.to_device(np.ones(n_ch, np.float32))
    pyr0, pyr1 = [frame0], [frame1]
    for shape in shapes[1:]:
        pyr0.append(_reduce(pyr0[-1], shape, pyr_w, ones))
        pyr1.append(_reduce(pyr1[-1], shape, pyr_w, ones))
    if init_flow is None:
        flow = cuda.to_device(np.zeros(shapes[-1] + (2,), np.float32))
    else:
        flow = init_flow
        for shape in shapes[1:]:
            h, w = flow.shape[:2]
            gain = cuda.to_device(np.array([shape[1] / w, shape[0] / h], np.float32))
            flow = _reduce(flow, shape, pyr_w, gain)
    for level in range(levels - 1, -1, -1):
        ref, mov = pyr0[level], pyr1[level]
        h, w = shapes[level]
        grid2 = grid_for(_BLOCK, w, h)
        target = out if level == 0 else cuda.device_array((h, w, 2), np.float32)
        if tuple(flow.shape[:2]) != (h, w):
            fh, fw = flow.shape[:2]
            _k_upscale_flow[grid2, _BLOCK](flow, cuda.to_device(nearest_sources(fh, h)),
                                           cuda.to_device(nearest_sources(fw, w)),
                                           np.float32(w / fw), np.float32(h / fh), target)
        else:
            target.copy_to_device(flow)
        flow = target
        warped = cuda.device_array(h * w * n_ch, np.float32)
        fl = cuda.device_array((h, w, 2), np.float32)
        terms = cuda.device_array((h, w, N_TERMS), np.float32)
        hsum = cuda.device_array((h, w, N_TERMS), np.float32)
        mov4 = mov.reshape((1, h, w, n_ch))
        for _ in range(num_warp):
            _k_warp[grid2, _BLOCK](mov4, flow, prefilter, warped, fl)
            _k_terms[grid2, _BLOCK](ref, warped.reshape((h, w, n_ch)), fl, terms)
            _k_filter_x[grid_for(_BLOCK, w, h, N_TERMS), _BLOCK](terms, win_w, interp.BORDER_REFLECT101,
                                                      hsum)
            _k_window_solve[grid2, _BLOCK](hsum, win_w, flow)


def ilk(frames0, frames1, init_flows, scale0, scale1, radius, num_warp, gaussian, prefilter,
        levels):
    """Batch driver on the device.

    Parameters
    ----------
    frames0, frames1 : device arrays, (N, H, W, C), any supported image dtype
    init_flows : device array (N, H, W, 2), any float dtype, or None
    scale0, scale1 : float
        Factor that brings each frame array to [0, 1] (1/255 for uint8, ...).

    Returns
    -------
    device array, (N, H, W, 2) float32
    """
    n, height, width, n_ch = frames0.shape
    as_float = []
    for array, scale in ((frames0, scale0), (frames1, scale1), (init_flows, 1.0)):
        if array is None:
            as_float.append(None)
            continue
        f = cuda.device_array(array.shape, np.float32)
        _k_to_float[grid_for(_BLOCK, width, height, n * array.shape[3]), _BLOCK](array, np.float32(scale), f)
        as_float.append(f)
    f0, f1, init = as_float
    out = cuda.device_array((n, height, width, 2), np.float32)
    for i in range(n):
        _ilk_pair(f0[i], f1[i], None if init is None else init[i], radius, num_warp, gaussian,
                  prefilter, levels, out[i])
    return out
