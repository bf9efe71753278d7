"""Dense iterative Lucas-Kanade (iLK): per-pixel math and the CPU driver.

The method is Le Besnerais and Champagnat (2005), Table 2, as scikit-image's
``optical_flow_ilk`` implements it; every step below reproduces scikit-image's choices
(pyramid, flow upscaling, warp, gradients, window, singular systems, median prefilter) so
that the results agree to float32 rounding.

Per warp the CPU driver runs two parallel passes:

1. ``_terms_window_rows``: for a chunk of rows, (median-prefilter the flow,) warp frame1 by
   the flow (bilinear, replicate border), take ``np.gradient``-style derivatives of the
   warped image, form the five normal-equation products (summed over channels) and filter
   them along x with the window weights;
2. ``_window_solve_rows``: filter the five planes along y and solve the 2x2 system per pixel.

Images are float32 planes ``(C, H, W)``; flow is float32 planes ``(2, H, W)`` (u, v).
The plain ``@njit`` functions are shared with the CUDA driver (``lk_dense_cuda``).
"""

import math

import numpy as np
from numba import njit, prange

from . import interp

PYRAMID_DOWNSCALE = 2      # scikit-image's pyramid_reduce factor
PYRAMID_SIGMA = 2 * 2 / 6.0  # pyramid_reduce's default sigma for downscale 2
PYRAMID_MIN_SIZE = 16      # _get_pyramid stops when min(H, W) <= downscale * min_size
PYRAMID_MAX_LEVELS = 10    # _get_pyramid's nlevel
GAUSS_TRUNCATE = 4.0       # scipy.ndimage.gaussian_filter's default truncate
DET_EPS = 1e-14            # |det A| below this: flow 0 at that pixel (scikit-image's rule)
N_TERMS = 5                # gxx, gxy, gyy, gx*e, gy*e

_HALF = np.float32(0.5)
_ZERO = np.float32(0.0)
_ROWS_PER_CHUNK = 16


# ----------------------------------------------------------------------------- host helpers

def gaussian_weights(sigma):
    """Normalised 1-D Gaussian taps as ``scipy.ndimage.gaussian_filter1d`` builds them."""
    half = int(GAUSS_TRUNCATE * sigma + 0.5)
    x = np.arange(-half, half + 1, dtype=np.float64)
    w = np.exp(-0.5 / (sigma * sigma) * x * x)
    return (w / w.sum()).astype(np.float32)


def window_weights(radius, gaussian):
    """Taps of the integration window: uniform ``2r+1`` or Gaussian with sigma ``(2r+1)/4``."""
    size = 2 * radius + 1
    if gaussian:
        return gaussian_weights(size / 4.0)
    return np.full(size, 1.0 / size, np.float32)


def pyramid_weights():
    """Taps of the pyramid's anti-alias Gaussian (sigma 2/3, 7 taps)."""
    return gaussian_weights(PYRAMID_SIGMA)


def reduced_shape(shape):
    """Shape of the next coarser pyramid level: ``ceil(n / 2)`` per axis."""
    return tuple(int(math.ceil(n / PYRAMID_DOWNSCALE)) for n in shape)


def auto_levels(height, width):
    """scikit-image's automatic number of pyramid levels for a ``height`` x ``width`` image."""
    shape, count = (height, width), 1
    while count < PYRAMID_MAX_LEVELS and min(shape) > PYRAMID_DOWNSCALE * PYRAMID_MIN_SIZE:
        shape = reduced_shape(shape)
        count += 1
    return count


def max_levels(height, width):
    """Largest useful level count: the coarsest level's smaller side reaches one pixel."""
    shape, count = (height, width), 1
    while min(shape) > 1:
        shape = reduced_shape(shape)
        count += 1
    return count


def pyramid_shapes(height, width, levels):
    """Level shapes, finest first."""
    shapes = [(height, width)]
    for _ in range(levels - 1):
        shapes.append(reduced_shape(shapes[-1]))
    return shapes


# ----------------------------------------------------------------------- per-pixel math

@njit(cache=True)
def filter_row_at(plane, y, x, weights, border):
    """Correlate row ``y`` of ``plane`` with ``weights`` centred at ``x``."""
    half = (weights.shape[0] - 1) // 2
    n = plane.shape[1]
    acc = _ZERO
    for k in range(weights.shape[0]):
        acc += weights[k] * plane[y, interp.border_index(x + k - half, n, border)]
    return acc


@njit(cache=True)
def filter_col_at(plane, y, x, weights, border):
    """Correlate column ``x`` of ``plane`` with ``weights`` centred at ``y``."""
    half = (weights.shape[0] - 1) // 2
    n = plane.shape[0]
    acc = _ZERO
    for k in range(weights.shape[0]):
        acc += weights[k] * plane[interp.border_index(y + k - half, n, border), x]
    return acc


@njit(cache=True)
def downsample_at(plane, oy, ox, scale_y, scale_x):
    """``scipy.ndimage.zoom(order=1, grid_mode=True)`` sample: pixel centres aligned."""
    x = (ox + 0.5) * scale_x - 0.5
    y = (oy + 0.5) * scale_y - 0.5
    return interp.sample_linear(plane, x, y, interp.BORDER_REPLICATE, 0.0)


@njit(cache=True)
def nearest_source(o, n_src, n_dst):
    """Source index of ``scipy.ndimage.zoom(order=0, grid_mode=False)``: corners aligned."""
    if n_dst <= 1:
        return 0
    return int(math.floor(o * ((n_src - 1) / (n_dst - 1)) + 0.5))


@njit(cache=True)
def median9(a0, a1, a2, a3, a4, a5, a6, a7, a8):
    """Median of nine values by a 19-exchange sorting network."""
    a1, a2 = min(a1, a2), max(a1, a2)
    a4, a5 = min(a4, a5), max(a4, a5)
    a7, a8 = min(a7, a8), max(a7, a8)
    a0, a1 = min(a0, a1), max(a0, a1)
    a3, a4 = min(a3, a4), max(a3, a4)
    a6, a7 = min(a6, a7), max(a6, a7)
    a1, a2 = min(a1, a2), max(a1, a2)
    a4, a5 = min(a4, a5), max(a4, a5)
    a7, a8 = min(a7, a8), max(a7, a8)
    a3 = max(a0, a3)
    a5 = min(a5, a8)
    a4, a7 = min(a4, a7), max(a4, a7)
    a6 = max(a3, a6)
    a4 = max(a1, a4)
    a2 = min(a2, a5)
    a4 = min(a4, a7)
    a4, a2 = min(a4, a2), max(a4, a2)
    a4 = max(a6, a4)
    return min(a4, a2)


@njit(cache=True)
def median3x3(plane, y, x):
    """3x3 median with the symmetric border of ``scipy.ndimage.median_filter``."""
    h, w = plane.shape
    ym, yp = max(y - 1, 0), min(y + 1, h - 1)
    xm, xp = max(x - 1, 0), min(x + 1, w - 1)
    return median9(plane[ym, xm], plane[ym, x], plane[ym, xp],
                   plane[y, xm], plane[y, x], plane[y, xp],
                   plane[yp, xm], plane[yp, x], plane[yp, xp])


@njit(cache=True)
def flow_at(flow, y, x, prefilter):
    """Flow (u, v) at a pixel, 3x3-median filtered when ``prefilter``."""
    if prefilter:
        return median3x3(flow[0], y, x), median3x3(flow[1], y, x)
    return flow[0, y, x], flow[1, y, x]


@njit(cache=True)
def warp_at(plane, y, x, u, v):
    """``plane`` at ``(x + u, y + v)``: bilinear, edge pixels replicated (skimage mode='edge')."""
    return interp.sample_linear(plane, np.float32(x) + u, np.float32(y) + v,
                                interp.BORDER_REPLICATE, _ZERO)


@njit(cache=True)
def derivative(lo_value, hi_value, lo, hi):
    """``np.gradient`` at one sample: central difference inside, one-sided at the ends."""
    if hi - lo == 2:
        return (hi_value - lo_value) * _HALF
    if hi - lo == 1:
        return hi_value - lo_value
    return _ZERO


@njit(cache=True)
def normal_terms(gx, gy, u, v, i0, i1w):
    """The five products of the iLK normal equations at one pixel and channel.

    ``e = gy*v + gx*u + I0 - I1(x + flow)`` so that the solve yields the new total flow.
    """
    e = gy * v + gx * u + i0 - i1w
    return gx * gx, gx * gy, gy * gy, gx * e, gy * e


@njit(cache=True)
def solve2x2(axx, axy, ayy, bx, by):
    """Solve ``[[axx, axy], [axy, ayy]] (u, v) = (bx, by)``; (0, 0) when |det| < 1e-14."""
    det = np.float64(axx) * ayy - np.float64(axy) * axy
    if abs(det) < DET_EPS:
        return _ZERO, _ZERO
    u = (np.float64(ayy) * bx - np.float64(axy) * by) / det
    v = (np.float64(axx) * by - np.float64(axy) * bx) / det
    return np.float32(u), np.float32(v)


# ---------------------------------------------------------------------------- CPU kernels

@njit(cache=True, parallel=True)
def _filter_rows(src, weights, border, dst):
    for i in prange(src.shape[0] * src.shape[1]):
        p, y = i // src.shape[1], i % src.shape[1]
        for x in range(src.shape[2]):
            dst[p, y, x] = filter_row_at(src[p], y, x, weights, border)


@njit(cache=True, parallel=True)
def _filter_cols(src, weights, border, dst):
    for i in prange(src.shape[0] * src.shape[1]):
        p, y = i // src.shape[1], i % src.shape[1]
        for x in range(src.shape[2]):
            dst[p, y, x] = filter_col_at(src[p], y, x, weights, border)


@njit(cache=True, parallel=True)
def _downsample(src, gain, dst):
    scale_y = src.shape[1] / dst.shape[1]
    scale_x = src.shape[2] / dst.shape[2]
    for i in prange(dst.shape[0] * dst.shape[1]):
        p, y = i // dst.shape[1], i % dst.shape[1]
        for x in range(dst.shape[2]):
            dst[p, y, x] = gain[p] * downsample_at(src[p], y, x, scale_y, scale_x)


@njit(cache=True, parallel=True)
def _upscale_flow(src, dst):
    h, w = src.shape[1], src.shape[2]
    height, width = dst.shape[1], dst.shape[2]
    scale_x = np.float32(width / w)
    scale_y = np.float32(height / h)
    for y in prange(height):
        sy = nearest_source(y, h, height)
        for x in range(width):
            sx = nearest_source(x, w, width)
            dst[0, y, x] = src[0, sy, sx] * scale_x
            dst[1, y, x] = src[1, sy, sx] * scale_y


@njit(cache=True, parallel=True)
def _terms_window_rows(ref, mov, flow, weights, prefilter, hsum):
    """Warp, gradients, normal-equation products and the x pass of the window, by row chunks."""
    n_ch, height, width = ref.shape
    half = (weights.shape[0] - 1) // 2
    n_chunks = (height + _ROWS_PER_CHUNK - 1) // _ROWS_PER_CHUNK
    for chunk in prange(n_chunks):
        y0 = chunk * _ROWS_PER_CHUNK
        y1 = min(y0 + _ROWS_PER_CHUNK, height)
        r0, r1 = max(y0 - 1, 0), min(y1 + 1, height)  # warped rows needed, with the y halo
        warped = np.empty((n_ch, r1 - r0, width), np.float32)
        uv = np.empty((2, y1 - y0, width), np.float32)
        for y in range(r0, r1):
            for x in range(width):
                u, v = flow_at(flow, y, x, prefilter)
                if y0 <= y < y1:
                    uv[0, y - y0, x] = u
                    uv[1, y - y0, x] = v
                for c in range(n_ch):
                    warped[c, y - r0, x] = warp_at(mov[c], y, x, u, v)
        padded = np.empty((N_TERMS, width + 2 * half), np.float32)
        for y in range(y0, y1):
            ylo, yhi = max(y - 1, 0), min(y + 1, height - 1)
            padded[:, half:half + width] = 0.0
            for c in range(n_ch):
                row, above, below = warped[c, y - r0], warped[c, ylo - r0], warped[c, yhi - r0]
                for x in range(width):
                    xlo, xhi = max(x - 1, 0), min(x + 1, width - 1)
                    gx = derivative(row[xlo], row[xhi], xlo, xhi)
                    gy = derivative(above[x], below[x], ylo, yhi)
                    t0, t1, t2, t3, t4 = normal_terms(gx, gy, uv[0, y - y0, x], uv[1, y - y0, x],
                                                      ref[c, y, x], row[x])
                    padded[0, half + x] += t0
                    padded[1, half + x] += t1
                    padded[2, half + x] += t2
                    padded[3, half + x] += t3
                    padded[4, half + x] += t4
            for j in range(1, half + 1):  # mirror (reflect-101) border for the window
                left = half + interp.border_index(-j, width, interp.BORDER_REFLECT101)
                right = half + interp.border_index(width - 1 + j, width, interp.BORDER_REFLECT101)
                for t in range(N_TERMS):
                    padded[t, half - j] = padded[t, left]
                    padded[t, half + width - 1 + j] = padded[t, right]
            for t in range(N_TERMS):
                out = hsum[t, y]
                out[:] = 0.0
                src = padded[t]
                for k in range(weights.shape[0]):
                    wk = weights[k]
                    for x in range(width):
                        out[x] += wk * src[x + k]


@njit(cache=True, parallel=True)
def _window_solve_rows(hsum, weights, flow):
    """The y pass of the window over the five planes, then the 2x2 solve per pixel."""
    height, width = hsum.shape[1], hsum.shape[2]
    half = (weights.shape[0] - 1) // 2
    n_chunks = (height + _ROWS_PER_CHUNK - 1) // _ROWS_PER_CHUNK
    for chunk in prange(n_chunks):
        y0 = chunk * _ROWS_PER_CHUNK
        y1 = min(y0 + _ROWS_PER_CHUNK, height)
        acc = np.empty((N_TERMS, width), np.float32)
        for y in range(y0, y1):
            acc[:] = 0.0
            for k in range(weights.shape[0]):
                yy = interp.border_index(y + k - half, height, interp.BORDER_REFLECT101)
                wk = weights[k]
                for t in range(N_TERMS):
                    dst = acc[t]
                    src = hsum[t, yy]
                    for x in range(width):
                        dst[x] += wk * src[x]
            for x in range(width):
                u, v = solve2x2(acc[0, x], acc[1, x], acc[2, x], acc[3, x], acc[4, x])
                flow[0, y, x] = u
                flow[1, y, x] = v


# ------------------------------------------------------------------------------ CPU driver

def _reduce(planes, shape, weights, gain):
    """One pyramid step: Gaussian (sigma 2/3, symmetric border; y then x), bilinear resize.

    ``gain[p]`` multiplies plane ``p`` (1 for images, the size ratio for flow components).
    """
    tmp = np.empty_like(planes)
    smooth = np.empty_like(planes)
    _filter_cols(planes, weights, interp.BORDER_REFLECT, tmp)
    _filter_rows(tmp, weights, interp.BORDER_REFLECT, smooth)
    out = np.empty((planes.shape[0],) + tuple(shape), np.float32)
    _downsample(smooth, gain, out)
    return out


def _pyramid(planes, shapes, weights):
    levels = [planes]
    ones = np.ones(planes.shape[0], np.float32)
    for shape in shapes[1:]:
        levels.append(_reduce(levels[-1], shape, weights, ones))
    return levels


def _reduce_flow(flow, shapes, weights):
    """Bring a full-resolution flow to the coarsest level, rescaling the vectors each step."""
    for shape in shapes[1:]:
        h, w = flow.shape[1:]
        flow = _reduce(flow, shape, weights, np.array([shape[1] / w, shape[0] / h], np.float32))
    return flow


def ilk_pair(frame0, frame1, init_flow, radius, num_warp, gaussian, prefilter, levels):
    """Coarse-to-fine iLK for one pair of float32 planes ``(C, H, W)``.

    Parameters
    ----------
    frame0, frame1 : ndarray, (C, H, W) float32, C-contiguous
    init_flow : ndarray (2, H, W) float32 or None
        Initial flow at full resolution (u, v planes).
    radius, num_warp : int
    gaussian, prefilter : bool
    levels : int
        Number of pyramid levels (>= 1).

    Returns
    -------
    ndarray, (2, H, W) float32
        u and v planes.
    """
    shapes = pyramid_shapes(frame0.shape[1], frame0.shape[2], levels)
    pyr_w = pyramid_weights()
    win_w = window_weights(radius, gaussian)
    pyr0 = _pyramid(frame0, shapes, pyr_w)
    pyr1 = _pyramid(frame1, shapes, pyr_w)
    if init_flow is None:
        flow = np.zeros((2,) + shapes[-1], np.float32)
    else:
        flow = np.ascontiguousarray(_reduce_flow(init_flow, shapes, pyr_w), np.float32)
    for level in range(levels - 1, -1, -1):
        ref, mov = pyr0[level], pyr1[level]
        if flow.shape[1:] != ref.shape[1:]:
            finer = np.empty((2,) + ref.shape[1:], np.float32)
            _upscale_flow(flow, finer)
            flow = finer
        hsum = np.empty((N_TERMS,) + ref.shape[1:], np.float32)
        for _ in range(num_warp):
            _terms_window_rows(ref, mov, flow, win_w, prefilter, hsum)
            _window_solve_rows(hsum, win_w, flow)
    return flow


def ilk(frames0, frames1, init_flows, radius, num_warp, gaussian, prefilter, levels):
    """Batch driver: ``(N, C, H, W)`` float32 frames -> ``(N, H, W, 2)`` float32 flow."""
    n, _, height, width = frames0.shape
    out = np.empty((n, height, width, 2), np.float32)
    for i in range(n):
        init = None if init_flows is None else init_flows[i]
        flow = ilk_pair(frames0[i], frames1[i], init, radius, num_warp, gaussian, prefilter, levels)
        out[i] = flow.transpose(1, 2, 0)
    return out
