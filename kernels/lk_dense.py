"""Dense iterative Lucas-Kanade (iLK): per-pixel math and the CPU driver.

The method is Le Besnerais and Champagnat (2005), Table 2, as scikit-image's
``optical_flow_ilk`` implements it; every step reproduces scikit-image's choices (pyramid,
flow upscaling, warp, gradients, window, singular systems, median prefilter), so the results
agree to float32 rounding.

Arrays are C-contiguous: frames ``(H, W, C)`` float32, flow ``(H, W, 2)`` float32 (u, v);
the five normal-equation products are ``(5, W)`` planes per row in the CPU band scratch and
``(H, W, 5)`` on the GPU.

The CPU driver runs one parallel pass per warp (``_ilk_step``; with the prefilter, a pass
of 3x3 medians of the flow rows before it): each thread takes a band of rows and, for the
band plus the halo rows its window needs, warps frame1 by the flow
(``kernels.warp.warp_row_linear_replicate``: bilinear, edge replicated), takes
``np.gradient`` derivatives and forms the products summed over channels; then window sums
(running sums for the uniform window) and the 2x2 solve per pixel. The flow is double
buffered, so the bands need no other synchronisation. The plain ``@njit`` per-pixel
functions are shared with the CUDA driver (``lk_dense_cuda``).
"""

import math

import numpy as np

from . import interp
from .jit import internal, jit
from .parallel import band_range, num_threads, run_bands
from .warp import warp_row_linear_replicate

PYRAMID_DOWNSCALE = 2      # scikit-image's pyramid_reduce factor
PYRAMID_SIGMA = 2 * 2 / 6.0  # pyramid_reduce's default sigma for downscale 2
PYRAMID_MIN_SIZE = 16      # _get_pyramid stops when min(H, W) <= downscale * min_size
PYRAMID_MAX_LEVELS = 10    # _get_pyramid's nlevel
GAUSS_TRUNCATE = 4.0       # scipy.ndimage.gaussian_filter's default truncate
DET_EPS = 1e-14            # |det A| below this: flow 0 at that pixel (scikit-image's rule)
N_TERMS = 5                # gxx, gxy, gyy, gx*e, gy*e

_HALF = np.float32(0.5)
_ONE = np.float32(1.0)
_ZERO = np.float32(0.0)


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

@jit
def filter_x_at(image, y, x, c, weights, border):
    """Correlate row ``y`` of channel ``c`` of ``image`` (H, W, K) with ``weights`` at ``x``."""
    half = (weights.shape[0] - 1) // 2
    n = image.shape[1]
    acc = _ZERO
    for k in range(weights.shape[0]):
        acc += weights[k] * image[y, interp.border_index(x + k - half, n, border), c]
    return acc


@jit
def filter_y_at(image, y, x, c, weights, border):
    """Correlate column ``x`` of channel ``c`` of ``image`` (H, W, K) with ``weights`` at ``y``."""
    half = (weights.shape[0] - 1) // 2
    n = image.shape[0]
    acc = _ZERO
    for k in range(weights.shape[0]):
        acc += weights[k] * image[interp.border_index(y + k - half, n, border), x, c]
    return acc


@jit
def linear_source(o, scale, n):
    """Source position of output index ``o`` in ``scipy.ndimage.zoom(order=1,
    grid_mode=True)`` (pixel centres aligned), split into index and fraction."""
    return interp.split_position(np.int64(0), (o + 0.5) * scale - 0.5, n, interp.BORDER_REPLICATE)


@jit
def linear_sources(n_src, n_dst):
    """``linear_source`` of every output index of an axis resized from ``n_src`` to ``n_dst``:
    (index int64, fraction float64) tables.

    Computed once per axis on the host (also for the CUDA kernel, which then has no float64
    coordinate math: the positions are float64 as in scipy, so that the pyramid matches
    scikit-image's)."""
    scale = n_src / n_dst
    idx = np.empty(n_dst, np.int64)
    frac = np.empty(n_dst, np.float64)
    for o in range(n_dst):
        idx[o], frac[o] = linear_source(o, scale, n_src)
    return idx, frac


@jit
def nearest_sources(n_src, n_dst):
    """Source index of ``scipy.ndimage.zoom(order=0, grid_mode=False)`` (corners aligned) of
    every output index: an int64 table, computed once per axis on the host (float64 as scipy
    does: an exact integer formula differs from it at ties)."""
    idx = np.zeros(n_dst, np.int64)
    if n_dst > 1:
        ratio = (n_src - 1) / (n_dst - 1)
        for o in range(n_dst):
            idx[o] = int(math.floor(o * ratio + 0.5))
    return idx


@jit
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


@jit
def median3x3(image, y, x, c):
    """3x3 median of channel ``c`` with ``scipy.ndimage.median_filter``'s symmetric border."""
    h, w = image.shape[0], image.shape[1]
    ym, yp = max(y - 1, 0), min(y + 1, h - 1)
    xm, xp = max(x - 1, 0), min(x + 1, w - 1)
    return median9(image[ym, xm, c], image[ym, x, c], image[ym, xp, c],
                   image[y, xm, c], image[y, x, c], image[y, xp, c],
                   image[yp, xm, c], image[yp, x, c], image[yp, xp, c])


@jit
def derivative(lo_value, hi_value, lo, hi):
    """``np.gradient`` at one sample: central difference inside, one-sided at the ends."""
    if hi - lo == 2:
        return (hi_value - lo_value) * _HALF
    if hi - lo == 1:
        return hi_value - lo_value
    return _ZERO


@jit
def normal_terms(gx, gy, u, v, i0, i1w):
    """The five products of the iLK normal equations at one pixel and channel.

    ``e = gy*v + gx*u + I0 - I1(x + flow)`` so that the solve yields the new total flow.
    """
    e = gy * v + gx * u + i0 - i1w
    return gx * gx, gx * gy, gy * gy, gx * e, gy * e


@jit
def solve2x2(axx, axy, ayy, bx, by):
    """Solve ``[[axx, axy], [axy, ayy]] (u, v) = (bx, by)``; (0, 0) when |det| < 1e-14.

    float64 on purpose, also in the CUDA kernel ``_k_window_solve``: scikit-image's absolute
    1e-14 threshold on the determinant is below float32's resolution of products of sums.
    """
    det = np.float64(axx) * ayy - np.float64(axy) * axy
    if abs(det) < DET_EPS:
        return _ZERO, _ZERO
    inv = 1.0 / det
    u = (np.float64(ayy) * bx - np.float64(axy) * by) * inv
    v = (np.float64(axx) * by - np.float64(axy) * bx) * inv
    return np.float32(u), np.float32(v)


# ------------------------------------------------------------------------ CPU row helpers

@internal
def _solve_row(sums, out):
    """Solve the systems of one row: ``sums`` (5, W) window sums -> ``out`` (W, 2) flow."""
    for x in range(out.shape[0]):
        out[x, 0], out[x, 1] = solve2x2(sums[0, x], sums[1, x], sums[2, x], sums[3, x],
                                        sums[4, x])


@internal
def _median_row(flow, y, out):
    """3x3 median of both components of flow row ``y`` into ``out`` (2W, interleaved)."""
    height, width = flow.shape[0], flow.shape[1]
    above = flow[max(y - 1, 0)].reshape(2 * width)
    row = flow[y].reshape(2 * width)
    below = flow[min(y + 1, height - 1)].reshape(2 * width)
    for i in range(2, 2 * width - 2):  # interior: branch-free, vectorises
        out[i] = median9(above[i - 2], above[i], above[i + 2], row[i - 2], row[i], row[i + 2],
                         below[i - 2], below[i], below[i + 2])
    for x in (0, width - 1):
        out[2 * x] = median3x3(flow, y, x, np.int64(0))
        out[2 * x + 1] = median3x3(flow, y, x, np.int64(1))


@internal
def _pad_sources(n, half, n_ch, border, sources):
    """``sources`` (2 * half * n_ch): the index in an interleaved row of ``n`` pixels of each
    value :func:`_fill_pads` puts left (first half) and right of it, by ``border``."""
    m = half * n_ch
    for j in range(half):
        left = interp.border_index(j - half, n, border)
        right = interp.border_index(n + j, n, border)
        for c in range(n_ch):
            sources[j * n_ch + c] = left * n_ch + c
            sources[m + j * n_ch + c] = right * n_ch + c


@internal
def _fill_pads(padded, sources):
    """Fill the ends of ``padded``, an interleaved row with ``sources.shape[0] // 2`` values
    of room each side, with the values of the row between that ``sources`` (of
    :func:`_pad_sources`) names."""
    m = sources.shape[0] // 2
    n = padded.shape[0] - 2 * m
    for j in range(m):
        padded[j] = padded[m + sources[j]]
        padded[m + n + j] = padded[m + sources[m + j]]


@internal(inline="always")
def _add_tap_pairs(acc, src, w, lo, hi, k):
    """``acc[i] += w[j] * (src[lo[j] + i] + src[hi[j] + i])`` for the five pairs ``j = k ..
    k + 4`` in that order: the additions of five one-pair passes (so bit for bit their
    result) in one pass over ``acc``."""
    n = acc.shape[0]
    a0, b0 = src[lo[k]:lo[k] + n], src[hi[k]:hi[k] + n]
    a1, b1 = src[lo[k + 1]:lo[k + 1] + n], src[hi[k + 1]:hi[k + 1] + n]
    a2, b2 = src[lo[k + 2]:lo[k + 2] + n], src[hi[k + 2]:hi[k + 2] + n]
    a3, b3 = src[lo[k + 3]:lo[k + 3] + n], src[hi[k + 3]:hi[k + 3] + n]
    a4, b4 = src[lo[k + 4]:lo[k + 4] + n], src[hi[k + 4]:hi[k + 4] + n]
    w0, w1, w2, w3, w4 = w[k], w[k + 1], w[k + 2], w[k + 3], w[k + 4]
    for i in range(n):
        acc[i] = ((((acc[i] + w0 * (a0[i] + b0[i])) + w1 * (a1[i] + b1[i]))
                   + w2 * (a2[i] + b2[i])) + w3 * (a3[i] + b3[i])) + w4 * (a4[i] + b4[i])


@internal(inline="always")
def _add_tap_pair(acc, w0, a0, b0):
    """``acc[i] += w0 * (a0[i] + b0[i])``."""
    for i in range(acc.shape[0]):
        acc[i] += w0 * (a0[i] + b0[i])


@internal
def _correlate_symmetric(src, centre, lo, hi, weights, out):
    """``out[i] = weights[h] * src[centre + i] + sum_k weights[k] * (src[lo[k] + i] +
    src[hi[k] + i])`` for symmetric ``weights`` (``2h + 1`` taps; ``lo``, ``hi``: the
    ``h`` offsets of the tap pairs, outermost first), summed in that order, five pairs per
    pass over ``out`` (slices, so that LLVM vectorises; the tap-pair loops are inlined
    here: as a call per pass they were about 1.5x slower). Rows of a padded row and rows of
    an image flattened are both offsets into a 1-D ``src``."""
    half = lo.shape[0]
    n = out.shape[0]
    w_c = weights[half]
    for i in range(n):
        out[i] = w_c * src[centre + i]
    k = 0
    while k + 5 <= half:
        _add_tap_pairs(out, src, weights, lo, hi, k)
        k += 5
    for k in range(k, half):
        _add_tap_pair(out, weights[k], src[lo[k]:lo[k] + n], src[hi[k]:hi[k] + n])


@internal
def _row_taps(half, n_ch, lo, hi):
    """Tap-pair offsets of :func:`_correlate_symmetric` in a row padded by ``half`` pixels
    of ``n_ch`` interleaved channels."""
    for k in range(half):
        lo[k] = k * n_ch
        hi[k] = (2 * half - k) * n_ch


@internal
def _box_row(col, half, scale, out):
    """``out[t, x] = scale * sum(col[t, x - half:x + half + 1])`` for the five planes of
    ``col`` (5, W), reflect-101 ends, by running sums (five chains in parallel)."""
    n = col.shape[1]
    c0, c1, c2, c3, c4 = col[0], col[1], col[2], col[3], col[4]
    o0, o1, o2, o3, o4 = out[0], out[1], out[2], out[3], out[4]
    s0 = s1 = s2 = s3 = s4 = 0.0
    for i in range(-half - 1, half):  # the window of x = -1
        j = interp.border_index(i, n, interp.BORDER_REFLECT101)
        s0 += c0[j]
        s1 += c1[j]
        s2 += c2[j]
        s3 += c3[j]
        s4 += c4[j]
    for x in range(n):
        j_in = x + half
        j_out = x - half - 1
        if j_out < 0 or j_in >= n:
            j_in = interp.border_index(j_in, n, interp.BORDER_REFLECT101)
            j_out = interp.border_index(j_out, n, interp.BORDER_REFLECT101)
        s0 += c0[j_in] - c0[j_out]
        s1 += c1[j_in] - c1[j_out]
        s2 += c2[j_in] - c2[j_out]
        s3 += c3[j_in] - c3[j_out]
        s4 += c4[j_in] - c4[j_out]
        o0[x] = s0 * scale
        o1[x] = s1 * scale
        o2[x] = s2 * scale
        o3[x] = s3 * scale
        o4[x] = s4 * scale


@internal
def _terms_px(ref_row, row, above, below, r_lo, r_hi, fl_row, n_ch, x, out):
    """Products at pixel ``x`` of a row, summed over channels, into ``out[:, x]``."""
    width = out.shape[1]
    xlo, xhi = max(x - 1, 0), min(x + 1, width - 1)
    u, v = fl_row[2 * x], fl_row[2 * x + 1]
    s0 = s1 = s2 = s3 = s4 = _ZERO
    for c in range(n_ch):
        i = x * n_ch + c
        gx = derivative(row[xlo * n_ch + c], row[xhi * n_ch + c], xlo, xhi)
        gy = derivative(above[i], below[i], r_lo, r_hi)
        t0, t1, t2, t3, t4 = normal_terms(gx, gy, u, v, ref_row[i], row[i])
        s0 += t0
        s1 += t1
        s2 += t2
        s3 += t3
        s4 += t4
    out[0, x] = s0
    out[1, x] = s1
    out[2, x] = s2
    out[3, x] = s3
    out[4, x] = s4


@internal
def _terms_row(ref_row, wb, r, r_lo, r_hi, fl_row, out):
    """Products of one row into the planes ``out`` (5, W), from warped rows ``wb[r]``,
    ``wb[r_lo]``, ``wb[r_hi]`` (W * C each; ``r_lo``/``r_hi``: the rows above and below as
    ``np.gradient`` takes them) and the (filtered) flow row (2W)."""
    width = out.shape[1]
    n_ch = ref_row.shape[0] // width
    row, above, below = wb[r], wb[r_lo], wb[r_hi]
    if n_ch == 1 and width > 2:  # gray: a branch-free interior loop that LLVM vectorises
        scale_y = derivative(_ZERO, _ONE, r_lo, r_hi)
        for x in range(1, width - 1):
            gx = (row[x + 1] - row[x - 1]) * _HALF
            gy = (below[x] - above[x]) * scale_y
            out[0, x], out[1, x], out[2, x], out[3, x], out[4, x] = normal_terms(
                gx, gy, fl_row[2 * x], fl_row[2 * x + 1], ref_row[x], row[x])
        one = np.int64(1)  # not literals: Numba would compile _terms_px once per literal value
        _terms_px(ref_row, row, above, below, r_lo, r_hi, fl_row, one, np.int64(0), out)
        _terms_px(ref_row, row, above, below, r_lo, r_hi, fl_row, one, width - 1, out)
    else:
        for x in range(width):
            _terms_px(ref_row, row, above, below, r_lo, r_hi, fl_row, n_ch, x, out)


# ---------------------------------------------------------------------------- CPU kernels

def _blur(src, weights, border, dst):
    """Separable correlation of every channel of ``src`` (H, W, C): y pass, then x pass."""
    run_bands(_blur_band, src, weights, border, dst)


@jit
def _blur_band(src, weights, border, dst, band, n_bands):
    """Work items ``band`` of ``n_bands`` of :func:`_blur` (``parallel.run_bands``)."""
    height, width, n_ch = src.shape
    half = (weights.shape[0] - 1) // 2
    start, stop = band_range(height, band, n_bands)
    lo, hi = np.empty(half, np.int64), np.empty(half, np.int64)
    _row_taps(half, n_ch, lo, hi)
    pad = np.empty(2 * half * n_ch, np.int64)
    _pad_sources(width, half, n_ch, border, pad)
    padded = np.empty((width + 2 * half) * n_ch, np.float32)
    col = padded[half * n_ch:(half + width) * n_ch]  # the y pass's sums, padded in place
    for y in range(start, stop):
        for i in range(width * n_ch):
            col[i] = 0.0
        for k in range(weights.shape[0]):
            src_row = src[interp.border_index(y + k - half, height, border)].reshape(width * n_ch)
            wk = weights[k]
            for i in range(width * n_ch):
                col[i] += wk * src_row[i]
        _fill_pads(padded, pad)
        _correlate_symmetric(padded, half * n_ch, lo, hi, weights, dst[y].reshape(width * n_ch))


def _downsample(src, gain, dst):
    """``dst[..., c] = gain[c] * resize(src[..., c])`` (bilinear at ``linear_sources``)."""
    run_bands(_downsample_band, src, gain, dst)


@jit
def _downsample_band(src, gain, dst, band, n_bands):
    """Work items ``band`` of ``n_bands`` of :func:`_downsample` (``parallel.run_bands``)."""
    yis, fys = linear_sources(src.shape[0], dst.shape[0])
    xis, fxs = linear_sources(src.shape[1], dst.shape[1])
    start, stop = band_range(dst.shape[0], band, n_bands)
    for y in range(start, stop):
        for c in range(dst.shape[2]):
            plane = src[:, :, c]  # one view per row and channel (views cost refcounting)
            for x in range(dst.shape[1]):
                dst[y, x, c] = gain[c] * interp.linear_at(plane, yis[y], xis[x], fys[y], fxs[x],
                                                          interp.BORDER_REPLICATE, 0.0)


def _upscale_flow(src, dst):
    run_bands(_upscale_flow_band, src, dst)


@jit
def _upscale_flow_band(src, dst, band, n_bands):
    """Work items ``band`` of ``n_bands`` of :func:`_upscale_flow` (``parallel.run_bands``)."""
    h, w = src.shape[0], src.shape[1]
    height, width = dst.shape[0], dst.shape[1]
    scale_x = np.float32(width / w)
    scale_y = np.float32(height / h)
    sy_of = nearest_sources(h, height)
    sx_of = nearest_sources(w, width)
    start, stop = band_range(height, band, n_bands)
    for y in range(start, stop):
        sy = sy_of[y]
        for x in range(width):
            sx = sx_of[x]
            dst[y, x, 0] = src[sy, sx, 0] * scale_x
            dst[y, x, 1] = src[sy, sx, 1] * scale_y


def _ilk_step(ref, mov, flow, prefilter, weights, box, n_bands, fl, wb, tb, flow_out):
    """One warp: ``flow`` (H, W, 2) -> ``flow_out``, in ``n_bands`` bands of rows.

    ``fl``, ``wb``, ``tb`` are per-band scratch: filtered flow rows (2W), warped rows
    (W * C) and product rows (5, W), each with room for the band plus its halo. The
    prefilter and the two windows are separate band drivers, so that a first call compiles
    only what it runs (about 1 s less for the defaults).
    """
    half = (weights.shape[0] - 1) // 2
    if prefilter:
        run_bands(_median_band, flow, half, n_bands, fl)
    run_bands(_ilk_box_band if box else _ilk_gauss_band, ref, mov, flow, prefilter, weights,
              n_bands, fl, wb, tb, flow_out)


@internal
def _band_rows(height, band, n_bands, half):
    """Rows of band ``band``: ``(y0, y1)`` its own, from ``t0`` the product rows its window
    reads, ``(w0, w1)`` the warped rows their gradients read."""
    y0, y1 = band_range(height, band, n_bands)
    t0, t1 = max(y0 - half, 0), min(y1 + half, height)
    return y0, y1, t0, t1, max(t0 - 1, 0), min(t1 + 1, height)


@jit
def _median_band(flow, half, n_bands, fl, part, n_parts):
    """The 3x3 median prefilter of the flow rows bands ``part`` of ``n_parts`` read, into
    ``fl[band]`` (``parallel.run_bands``)."""
    first, stop = band_range(n_bands, part, n_parts)
    for band in range(first, stop):
        _, _, _, _, w0, w1 = _band_rows(flow.shape[0], band, n_bands, half)
        for y in range(w0, w1):
            _median_row(flow, y, fl[band, y - w0])


@internal
def _band_products(ref, mov, flow, prefilter, band, n_bands, half, fl, wb, tb):
    """Warped rows (``wb[band]``) and normal-equation products (``tb[band]``, from row
    ``t0``) of band ``band``; the flow rows are ``fl[band]`` (prefiltered) or ``flow``'s."""
    height, width, n_ch = ref.shape
    image = mov.reshape((1, height, width, n_ch))
    src = mov.reshape(mov.size)
    _, _, t0, t1, w0, w1 = _band_rows(height, band, n_bands, half)
    b_wb = wb[band]
    xs = np.empty(width, np.int32)
    ys = np.empty(width, np.int32)
    fxs = np.empty(width, np.float32)
    fys = np.empty(width, np.float32)
    for y in range(w0, w1):
        fl_row = fl[band, y - w0] if prefilter else flow[y].reshape(2 * width)
        warp_row_linear_replicate(image, src, fl_row, y, xs, ys, fxs, fys, b_wb[y - w0])
    for y in range(t0, t1):
        fl_row = fl[band, y - w0] if prefilter else flow[y].reshape(2 * width)
        _terms_row(ref[y].reshape(width * n_ch), b_wb, y - w0, max(y - 1, 0) - w0,
                   min(y + 1, height - 1) - w0, fl_row, tb[band, y - t0])


@jit
def _ilk_box_band(ref, mov, flow, prefilter, weights, n_bands, fl, wb, tb, flow_out, part,
                  n_parts):
    """Bands ``part`` of ``n_parts`` of :func:`_ilk_step`'s ``n_bands``, uniform window
    (``parallel.run_bands``): running sums in float64 (no drift), O(1) per pixel."""
    height, width = ref.shape[0], ref.shape[1]
    n_taps = weights.shape[0]
    half = (n_taps - 1) // 2
    box_scale = 1.0 / (n_taps * n_taps)
    n_row = width * N_TERMS
    first, stop = band_range(n_bands, part, n_parts)
    for band in range(first, stop):
        y0, y1, t0, _, _, _ = _band_rows(height, band, n_bands, half)
        _band_products(ref, mov, flow, prefilter, band, n_bands, half, fl, wb, tb)
        products = tb[band].reshape((tb.shape[1], n_row))
        col = np.zeros((N_TERMS, width), np.float64)  # y-window sums of the current row
        flat = col.reshape(n_row)
        row = np.empty((N_TERMS, width), np.float64)  # window sums of the current row
        for y in range(y0, y1):
            if y == y0:
                for k in range(-half, half + 1):
                    p_k = products[interp.border_index(y + k, height,
                                                       interp.BORDER_REFLECT101) - t0]
                    for i in range(n_row):
                        flat[i] += p_k[i]
            else:  # one row in, one out
                p_in = products[interp.border_index(y + half, height,
                                                    interp.BORDER_REFLECT101) - t0]
                p_out = products[interp.border_index(y - half - 1, height,
                                                     interp.BORDER_REFLECT101) - t0]
                for i in range(n_row):
                    flat[i] += np.float64(p_in[i]) - p_out[i]
            _box_row(col, half, box_scale, row)
            _solve_row(row, flow_out[y])


@internal
def _window_two_rows(products, r, half, weights, out0, out1):
    """The y pass of rows ``r`` and ``r + 1`` of ``products`` (rows, n) at once, for rows
    whose windows lie inside it (no border): ``out0``, ``out1`` (n) get the sums
    :func:`_correlate_symmetric` would give them, the same additions in the same order,
    but each product row read once for both (the y pass reads ``2 half + 1`` rows per
    output row, from L2: two rows together halve that traffic)."""
    n = out0.shape[0]
    w_c = weights[half]
    c0, c1 = products[r], products[r + 1]
    for i in range(n):
        out0[i] = w_c * c0[i]
        out1[i] = w_c * c1[i]
    # pair k of row r: (r - half + k, r + half - k); of row r + 1: (r + 1 - half + k,
    # r + 1 + half - k). With l_j = row r - half + k + j and h_j = row r + 1 + half - k - j,
    # pair k + j is (l_j, h_{j+1}) for row r and (l_{j+1}, h_j) for row r + 1.
    k = 0
    while k + 5 <= half:
        lo, hi = r - half + k, r + 1 + half - k
        l0, l1, l2 = products[lo], products[lo + 1], products[lo + 2]
        l3, l4, l5 = products[lo + 3], products[lo + 4], products[lo + 5]
        h0, h1, h2 = products[hi], products[hi - 1], products[hi - 2]
        h3, h4, h5 = products[hi - 3], products[hi - 4], products[hi - 5]
        w0, w1, w2 = weights[k], weights[k + 1], weights[k + 2]
        w3, w4 = weights[k + 3], weights[k + 4]
        for i in range(n):
            x0, x1, x2, x3, x4, x5 = l0[i], l1[i], l2[i], l3[i], l4[i], l5[i]
            z0, z1, z2, z3, z4, z5 = h0[i], h1[i], h2[i], h3[i], h4[i], h5[i]
            out0[i] = ((((out0[i] + w0 * (x0 + z1)) + w1 * (x1 + z2)) + w2 * (x2 + z3))
                       + w3 * (x3 + z4)) + w4 * (x4 + z5)
            out1[i] = ((((out1[i] + w0 * (x1 + z0)) + w1 * (x2 + z1)) + w2 * (x3 + z2))
                       + w3 * (x4 + z3)) + w4 * (x5 + z4)
        k += 5
    for k in range(k, half):
        lo, hi = r - half + k, r + 1 + half - k
        l0, l1, h0, h1 = products[lo], products[lo + 1], products[hi], products[hi - 1]
        w0 = weights[k]
        for i in range(n):
            out0[i] += w0 * (l0[i] + h1[i])
            out1[i] += w0 * (l1[i] + h0[i])


@internal
def _window_row(products, y, t0, height, weights, y_lo, y_hi, col):
    """The y pass of row ``y`` (``products`` flattened, its first row image row ``t0``),
    reflect-101 at the image's ``height``, into ``col`` (n); ``y_lo``, ``y_hi``: scratch
    (half)."""
    half = y_lo.shape[0]
    n = col.shape[0]
    for k in range(half):
        y_lo[k] = (interp.border_index(y + k - half, height, interp.BORDER_REFLECT101) - t0) * n
        y_hi[k] = (interp.border_index(y + half - k, height, interp.BORDER_REFLECT101) - t0) * n
    _correlate_symmetric(products, (y - t0) * n, y_lo, y_hi, weights, col)


@internal
def _x_pass_solve(col, weights, x_lo, x_hi, pad, keep, row, out):
    """The x pass of the five planes in ``col`` (5W + 2 half: the planes one after the
    other, ``half`` values of room at each end) into ``row`` (5, W) and the solve into
    ``out`` (W, 2) (:func:`_row_taps`, :func:`_pad_sources` give ``x_lo``, ``x_hi``,
    ``pad``). Each plane is padded in place in turn: its pads overlap the end of the plane
    before (already filtered) and the start of the plane after, which ``keep`` (half) saves
    and puts back; so the y pass writes one row of five planes, and nothing is copied."""
    half = x_lo.shape[0]
    width = row.shape[1]
    for t in range(N_TERMS):
        plane = col[t * width:(t + 1) * width + 2 * half]
        right = plane[half + width:]
        last = t + 1 == N_TERMS
        for j in range(0 if last else half):  # loops, not slice assignments: less to compile
            keep[j] = right[j]
        _fill_pads(plane, pad)
        _correlate_symmetric(plane, half, x_lo, x_hi, weights, row[t])
        for j in range(0 if last else half):
            right[j] = keep[j]
    _solve_row(row, out)


@jit
def _ilk_gauss_band(ref, mov, flow, prefilter, weights, n_bands, fl, wb, tb, flow_out, part,
                    n_parts):
    """Bands ``part`` of ``n_parts`` of :func:`_ilk_step`'s ``n_bands``, Gaussian window
    (``parallel.run_bands``): symmetric taps in float32, vectorised: the y pass over the
    five product planes of a row at once (two rows at once away from the top and bottom
    edges), then the x pass per plane."""
    height, width = ref.shape[0], ref.shape[1]
    half = (weights.shape[0] - 1) // 2
    n_row = width * N_TERMS
    one = np.int64(1)  # not a literal: one compiled _pad_sources, _row_taps
    first, stop = band_range(n_bands, part, n_parts)
    for band in range(first, stop):
        y0, y1, t0, _, _, _ = _band_rows(height, band, n_bands, half)
        _band_products(ref, mov, flow, prefilter, band, n_bands, half, fl, wb, tb)
        products = tb[band].reshape((tb.shape[1], n_row))
        col0 = np.empty(n_row + 2 * half, np.float32)  # y pass sums, room for the pads
        col1 = np.empty(n_row + 2 * half, np.float32)
        mid0, mid1 = col0[half:half + n_row], col1[half:half + n_row]
        keep = np.empty(half, np.float32)
        row = np.empty((N_TERMS, width), np.float32)
        x_lo, x_hi = np.empty(half, np.int64), np.empty(half, np.int64)
        _row_taps(half, one, x_lo, x_hi)
        pad = np.empty(2 * half, np.int64)
        _pad_sources(width, half, one, interp.BORDER_REFLECT101, pad)
        y_lo, y_hi = np.empty(half, np.int64), np.empty(half, np.int64)
        y = y0
        while y < y1:
            if y + 1 < y1 and y - half >= 0 and y + 1 + half < height:
                _window_two_rows(products, y - t0, half, weights, mid0, mid1)
                _x_pass_solve(col0, weights, x_lo, x_hi, pad, keep, row, flow_out[y])
                _x_pass_solve(col1, weights, x_lo, x_hi, pad, keep, row, flow_out[y + 1])
                y += 2
            else:
                _window_row(products.reshape(products.size), y, t0, height, weights, y_lo, y_hi,
                            mid0)
                _x_pass_solve(col0, weights, x_lo, x_hi, pad, keep, row, flow_out[y])
                y += 1


# ------------------------------------------------------------------------------ CPU driver

def _reduce(image, shape, weights, gain):
    """One pyramid step: Gaussian (sigma 2/3, symmetric border; y then x), bilinear resize.

    ``gain[c]`` multiplies channel ``c`` (1 for images, the size ratio for flow components).
    """
    smooth = np.empty_like(image)
    _blur(image, weights, interp.BORDER_REFLECT, smooth)
    out = np.empty(tuple(shape) + (image.shape[2],), np.float32)
    _downsample(smooth, gain, out)
    return out


def _pyramid(image, shapes, weights):
    levels = [image]
    ones = np.ones(image.shape[2], np.float32)
    for shape in shapes[1:]:
        levels.append(_reduce(levels[-1], shape, weights, ones))
    return levels


def _reduce_flow(flow, shapes, weights):
    """Bring a full-resolution flow to the coarsest level, rescaling the vectors each step."""
    for shape in shapes[1:]:
        h, w = flow.shape[:2]
        flow = _reduce(flow, shape, weights, np.array([shape[1] / w, shape[0] / h], np.float32))
    return flow


def ilk_pair(frame0, frame1, init_flow, radius, num_warp, gaussian, prefilter, levels, out):
    """Coarse-to-fine iLK for one pair, written into ``out`` (H, W, 2) float32.

    Parameters
    ----------
    frame0, frame1 : ndarray, (H, W, C) float32, C-contiguous
    init_flow : ndarray (H, W, 2) float32 or None
        Initial flow at full resolution.
    radius, num_warp : int
    gaussian, prefilter : bool
    levels : int
        Number of pyramid levels (>= 1).
    out : ndarray, (H, W, 2) float32, C-contiguous
    """
    height, width, n_ch = frame0.shape
    shapes = pyramid_shapes(height, width, levels)
    pyr_w = pyramid_weights()
    win_w = window_weights(radius, gaussian)
    half = (win_w.shape[0] - 1) // 2
    pyr0 = _pyramid(frame0, shapes, pyr_w)
    pyr1 = _pyramid(frame1, shapes, pyr_w)
    if init_flow is None:
        flow = np.zeros(shapes[-1] + (2,), np.float32)
    else:  # a copy: the warps write into the flow buffers (init_flow may be the caller's)
        flow = _reduce_flow(init_flow, shapes, pyr_w) if levels > 1 else init_flow.copy()
    for level in range(levels - 1, -1, -1):
        h, w = shapes[level]
        if flow.shape[:2] != (h, w):
            finer = np.empty((h, w, 2), np.float32)
            _upscale_flow(flow, finer)
            flow = finer
        # bands of at least twice their halo (2 half + 2 rows whose products a band
        # recomputes); the Gaussian window's per-row cost is mostly the window itself, not
        # the products, so its bands may be as short as one halo (at 640x480, 2 threads:
        # two bands at 120 rows as well)
        min_rows = (2 if gaussian else 4) * (half + 1)
        n_bands = max(1, min(num_threads(), h // min_rows))
        rows = (h + n_bands - 1) // n_bands + 2 * half + 2
        fl = np.empty((n_bands, rows, 2 * w), np.float32)
        wb = np.empty((n_bands, rows, w * n_ch), np.float32)
        tb = np.empty((n_bands, rows, N_TERMS, w), np.float32)
        other = np.empty_like(flow)
        for _ in range(num_warp):
            _ilk_step(pyr0[level], pyr1[level], flow, prefilter, win_w, not gaussian, n_bands,
                      fl, wb, tb, other)
            flow, other = other, flow
    out[...] = flow


def ilk(frames0, frames1, init_flows, radius, num_warp, gaussian, prefilter, levels):
    """Batch driver: ``(N, H, W, C)`` float32 frames -> ``(N, H, W, 2)`` float32 flow."""
    n, height, width, _ = frames0.shape
    out = np.empty((n, height, width, 2), np.float32)
    for i in range(n):
        init = None if init_flows is None else init_flows[i]
        ilk_pair(frames0[i], frames1[i], init, radius, num_warp, gaussian, prefilter, levels,
                 out[i])
    return out
