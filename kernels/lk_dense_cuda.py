"""Dense iterative Lucas-Kanade (iLK): CUDA kernels and driver.

Same math as the CPU driver in ``lk_dense`` (the per-pixel functions are shared); per warp:
``_k_warp`` (median prefilter + bilinear warp), ``_k_terms`` (gradients and the five
normal-equation products summed over channels), ``_k_filter_rows`` (x pass of the window)
and ``_k_window_solve`` (y pass of the window + 2x2 solve). Imported only when the CUDA
backend is used.
"""

import numpy as np
from numba import config, cuda

from . import interp
from .lk_dense import (N_TERMS, derivative, downsample_at, filter_col_at, filter_row_at, flow_at,
                       nearest_source, normal_terms, pyramid_shapes, pyramid_weights, solve2x2,
                       warp_at, window_weights)

_BLOCK = (16, 16, 1)

if config.ENABLE_CUDASIM:
    def _view(array):
        """Simulator: the NumPy array behind a fake device array, so @njit functions accept it."""
        array = getattr(array, "_item", array)
        return getattr(array, "_ary", array)
else:
    @cuda.jit(device=True)
    def _view(array):
        return array


def _grid(width, height, planes=1):
    return ((width + _BLOCK[0] - 1) // _BLOCK[0], (height + _BLOCK[1] - 1) // _BLOCK[1], planes)


@cuda.jit(cache=True)
def _k_to_planes(raw, scale, out):
    """(N, H, W, C) frames of any supported dtype -> float32 planes (N, C, H, W) times scale."""
    raw, out = _view(raw), _view(out)
    x, y, z = cuda.grid(3)
    n_ch = raw.shape[3]
    if x < raw.shape[2] and y < raw.shape[1] and z < raw.shape[0] * n_ch:
        n, c = z // n_ch, z % n_ch
        out[n, c, y, x] = np.float32(raw[n, y, x, c]) * scale


@cuda.jit(cache=True)
def _k_flow_planes(flow, out):
    """(H, W, 2) flow of any float dtype -> float32 planes (2, H, W)."""
    flow, out = _view(flow), _view(out)
    x, y, c = cuda.grid(3)
    if x < flow.shape[1] and y < flow.shape[0] and c < 2:
        out[c, y, x] = np.float32(flow[y, x, c])


@cuda.jit(cache=True)
def _k_interleave(planes, out):
    """(2, H, W) planes -> (H, W, 2)."""
    planes, out = _view(planes), _view(out)
    x, y, c = cuda.grid(3)
    if x < out.shape[1] and y < out.shape[0] and c < 2:
        out[y, x, c] = planes[c, y, x]


@cuda.jit(cache=True)
def _k_filter_rows(src, weights, border, dst):
    src, weights, dst = _view(src), _view(weights), _view(dst)
    x, y, p = cuda.grid(3)
    if x < src.shape[2] and y < src.shape[1] and p < src.shape[0]:
        dst[p, y, x] = filter_row_at(src[p], y, x, weights, border)


@cuda.jit(cache=True)
def _k_filter_cols(src, weights, border, dst):
    src, weights, dst = _view(src), _view(weights), _view(dst)
    x, y, p = cuda.grid(3)
    if x < src.shape[2] and y < src.shape[1] and p < src.shape[0]:
        dst[p, y, x] = filter_col_at(src[p], y, x, weights, border)


@cuda.jit(cache=True)
def _k_downsample(src, gain, dst):
    src, gain, dst = _view(src), _view(gain), _view(dst)
    x, y, p = cuda.grid(3)
    if x < dst.shape[2] and y < dst.shape[1] and p < dst.shape[0]:
        scale_y = src.shape[1] / dst.shape[1]
        scale_x = src.shape[2] / dst.shape[2]
        dst[p, y, x] = gain[p] * downsample_at(src[p], y, x, scale_y, scale_x)


@cuda.jit(cache=True)
def _k_upscale_flow(src, dst):
    src, dst = _view(src), _view(dst)
    x, y = cuda.grid(2)
    h, w = src.shape[1], src.shape[2]
    height, width = dst.shape[1], dst.shape[2]
    if x < width and y < height:
        sy = nearest_source(y, h, height)
        sx = nearest_source(x, w, width)
        dst[0, y, x] = src[0, sy, sx] * np.float32(width / w)
        dst[1, y, x] = src[1, sy, sx] * np.float32(height / h)


@cuda.jit(cache=True)
def _k_warp(mov, flow, prefilter, warped, uv):
    mov, flow, warped, uv = _view(mov), _view(flow), _view(warped), _view(uv)
    x, y = cuda.grid(2)
    if x < mov.shape[2] and y < mov.shape[1]:
        u, v = flow_at(flow, y, x, prefilter)
        uv[0, y, x] = u
        uv[1, y, x] = v
        for c in range(mov.shape[0]):
            warped[c, y, x] = warp_at(mov[c], y, x, u, v)


@cuda.jit(cache=True)
def _k_terms(ref, warped, uv, terms):
    ref, warped, uv, terms = _view(ref), _view(warped), _view(uv), _view(terms)
    x, y = cuda.grid(2)
    height, width = ref.shape[1], ref.shape[2]
    if x < width and y < height:
        xlo, xhi = max(x - 1, 0), min(x + 1, width - 1)
        ylo, yhi = max(y - 1, 0), min(y + 1, height - 1)
        u, v = uv[0, y, x], uv[1, y, x]
        s0 = s1 = s2 = s3 = s4 = np.float32(0.0)
        for c in range(ref.shape[0]):
            gx = derivative(warped[c, y, xlo], warped[c, y, xhi], xlo, xhi)
            gy = derivative(warped[c, ylo, x], warped[c, yhi, x], ylo, yhi)
            t0, t1, t2, t3, t4 = normal_terms(gx, gy, u, v, ref[c, y, x], warped[c, y, x])
            s0 += t0
            s1 += t1
            s2 += t2
            s3 += t3
            s4 += t4
        terms[0, y, x] = s0
        terms[1, y, x] = s1
        terms[2, y, x] = s2
        terms[3, y, x] = s3
        terms[4, y, x] = s4


@cuda.jit(cache=True)
def _k_window_solve(hsum, weights, flow):
    hsum, weights, flow = _view(hsum), _view(weights), _view(flow)
    x, y = cuda.grid(2)
    if x < hsum.shape[2] and y < hsum.shape[1]:
        border = interp.BORDER_REFLECT101
        u, v = solve2x2(filter_col_at(hsum[0], y, x, weights, border),
                        filter_col_at(hsum[1], y, x, weights, border),
                        filter_col_at(hsum[2], y, x, weights, border),
                        filter_col_at(hsum[3], y, x, weights, border),
                        filter_col_at(hsum[4], y, x, weights, border))
        flow[0, y, x] = u
        flow[1, y, x] = v


def _reduce(planes, shape, weights, gain):
    """One pyramid step on the device (see ``lk_dense._reduce``)."""
    n_planes, height, width = planes.shape
    tmp = cuda.device_array(planes.shape, np.float32)
    smooth = cuda.device_array(planes.shape, np.float32)
    grid = _grid(width, height, n_planes)
    _k_filter_cols[grid, _BLOCK](planes, weights, interp.BORDER_REFLECT, tmp)
    _k_filter_rows[grid, _BLOCK](tmp, weights, interp.BORDER_REFLECT, smooth)
    out = cuda.device_array((n_planes,) + tuple(shape), np.float32)
    _k_downsample[_grid(shape[1], shape[0], n_planes), _BLOCK](smooth, gain, out)
    return out


def _ilk_pair(frame0, frame1, init_flow, radius, num_warp, gaussian, prefilter, levels, out):
    """Coarse-to-fine iLK of one pair of device planes (C, H, W); writes ``out`` (H, W, 2)."""
    n_ch, height, width = frame0.shape
    shapes = pyramid_shapes(height, width, levels)
    pyr_w = cuda.to_device(pyramid_weights())
    win_w = cuda.to_device(window_weights(radius, gaussian))
    ones = cuda.to_device(np.ones(n_ch, np.float32))
    pyr0, pyr1 = [frame0], [frame1]
    for shape in shapes[1:]:
        pyr0.append(_reduce(pyr0[-1], shape, pyr_w, ones))
        pyr1.append(_reduce(pyr1[-1], shape, pyr_w, ones))
    if init_flow is None:
        flow = cuda.to_device(np.zeros((2,) + shapes[-1], np.float32))
    else:
        flow = cuda.device_array((2, height, width), np.float32)
        _k_flow_planes[_grid(width, height, 2), _BLOCK](init_flow, flow)
        for shape in shapes[1:]:
            h, w = flow.shape[1:]
            gain = cuda.to_device(np.array([shape[1] / w, shape[0] / h], np.float32))
            flow = _reduce(flow, shape, pyr_w, gain)
    for level in range(levels - 1, -1, -1):
        ref, mov = pyr0[level], pyr1[level]
        h, w = ref.shape[1:]
        grid2 = _grid(w, h)
        if tuple(flow.shape[1:]) != (h, w):
            finer = cuda.device_array((2, h, w), np.float32)
            _k_upscale_flow[grid2, _BLOCK](flow, finer)
            flow = finer
        warped = cuda.device_array(ref.shape, np.float32)
        uv = cuda.device_array((2, h, w), np.float32)
        terms = cuda.device_array((N_TERMS, h, w), np.float32)
        hsum = cuda.device_array((N_TERMS, h, w), np.float32)
        for _ in range(num_warp):
            _k_warp[grid2, _BLOCK](mov, flow, prefilter, warped, uv)
            _k_terms[grid2, _BLOCK](ref, warped, uv, terms)
            _k_filter_rows[_grid(w, h, N_TERMS), _BLOCK](terms, win_w, interp.BORDER_REFLECT101,
                                                          hsum)
            _k_window_solve[grid2, _BLOCK](hsum, win_w, flow)
    _k_interleave[_grid(width, height, 2), _BLOCK](flow, out)


def ilk(frames0, frames1, init_flows, scale0, scale1, radius, num_warp, gaussian, prefilter,
        levels):
    """Batch driver on the device.

    Parameters
    ----------
    frames0, frames1 : device arrays, (N, H, W, C), any supported image dtype
    init_flows : device array (N, H, W, 2) or None
    scale0, scale1 : float
        Factor that brings each frame array to [0, 1] (1/255 for uint8, ...).

    Returns
    -------
    device array, (N, H, W, 2) float32
    """
    n, height, width, n_ch = frames0.shape
    planes = []
    for frames, scale in ((frames0, scale0), (frames1, scale1)):
        p = cuda.device_array((n, n_ch, height, width), np.float32)
        _k_to_planes[_grid(width, height, n * n_ch), _BLOCK](frames, np.float32(scale), p)
        planes.append(p)
    out = cuda.device_array((n, height, width, 2), np.float32)
    for i in range(n):
        init = None if init_flows is None else init_flows[i]
        _ilk_pair(planes[0][i], planes[1][i], init, radius, num_warp, gaussian, prefilter, levels,
                  out[i])
    return out
