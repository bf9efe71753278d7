"""Sparse pyramidal Lucas-Kanade tracking and the Shi-Tomasi corner response.

Layout shared by the CPU drivers here and the CUDA drivers in ``lk_sparse_cuda``: an image
pyramid is one flat float32 buffer (uint8 for uint8 frames on the CPU, see
``build_pyramids``). Level ``l`` is described by ``geo[l] = (off, h, w, pw)``: it starts at
``off`` and holds ``(h + 2 * pad_y) x pw`` pixels of ``C`` interleaved channels,
``pw = w + 2 * pad_x``, with ``pad_x, pad_y = win_w, win_h``: the image with a border as wide
as the tracking window, so that every window OpenCV accepts can be read without bounds checks
(OpenCV pads its pyramids the same way). Pixel ``(y, x)`` channel ``c`` is
``buf[off + ((y + pad_y) * pw + x + pad_x) * C + c]``. Image borders are reflect-101 copies;
the Scharr derivatives (``gx``, ``gy``, same layout, intensity units per pixel) are zero there.

The per-pixel math is written once: scalar ``njit`` helpers, and "flat" helpers that index
arrays and call only scalar helpers, so that ``lk_sparse_cuda`` can call them as CUDA device
functions (in Numba's simulator through ``cuda_support.device_function``). CPU loops index with
unsigned integers: that removes Numba's negative-index fix-ups and lets LLVM vectorise the window
sums.

Semantics follow OpenCV's ``calcOpticalFlowPyrLK`` (modules/video/src/lkpyramid.cpp), see
``track_one``.
"""

import math

import numpy as np
from numba import types
from numba.extending import overload

from .atomic import unowned
from .interp import BORDER_REFLECT101, border_index
from .jit import internal, jit
from .parallel import band_range, num_threads, run_bands

# Reassociation lets LLVM vectorise the window sums; no 'nnan'/'ninf', so NaN tests stay valid.
FAST = {"reassoc", "contract", "nsz", "arcp"}
FLT_EPSILON = 1.1920928955078125e-07
R101 = BORDER_REFLECT101
SLACK = 32  # zeros after the pyramids: _mismatch's whole-vector rows read up to 15 values past a level


# --------------------------------------------------------------------------------------------
# pyramid geometry (host side)


def pyramid_shapes(height, width, win_w, win_h, max_level):
    """Level sizes ``[(h, w), ...]`` of OpenCV's LK pyramid.

    Each level is ``((h + 1) // 2, (w + 1) // 2)`` of the one before; like
    ``cv2.buildOpticalFlowPyramid`` the pyramid stops before a level whose width is
    <= ``win_w`` or height is <= ``win_h``.
    """
    shapes = [(height, width)]
    h, w = height, width
    for _ in range(max_level):
        h, w = (h + 1) // 2, (w + 1) // 2
        if w <= win_w or h <= win_h:
            break
        shapes.append((h, w))
    return shapes


def pyramid_geometry(shapes, channels, pad_x, pad_y):
    """``(geo, total)``: int64 ``(L, 4)`` rows ``(off, h, w, pw)`` and the buffer length."""
    geo = np.zeros((len(shapes), 4), np.int64)
    total = 0
    for lv, (h, w) in enumerate(shapes):
        pw = w + 2 * pad_x
        geo[lv] = (total, h, w, pw)
        total += (h + 2 * pad_y) * pw * channels
    return geo, total


def level_view(buf, g, channels, pad_x, pad_y):
    """The padded level ``g`` of a flat buffer as an ``(h + 2 pad_y, pw, C)`` view."""
    off, h, _, pw = (int(v) for v in g)
    return buf[off:off + (h + 2 * pad_y) * pw * channels].reshape(h + 2 * pad_y, pw, channels)


# --------------------------------------------------------------------------------------------
# scalar math (shared by CPU and CUDA)


@jit
def blur5(v0, v1, v2, v3, v4):
    """The [1 4 6 4 1] / 16 binomial tap of ``pyrDown``."""
    return (v0 + v4 + np.float32(4.0) * (v1 + v3) + np.float32(6.0) * v2) * np.float32(0.0625)


@jit
def pyr_round(v, integer):
    """Integer frames keep integer pyramid levels, rounded half up like ``cv2.pyrDown``."""
    if integer:
        return np.float32(math.floor(v + np.float32(0.5)))
    return v


@jit
def scharr_xy(a00, a01, a02, a10, a12, a20, a21, a22):
    """Scharr derivatives from a 3x3 neighbourhood ``a[row][col]``, in intensity per pixel.

    OpenCV's raw Scharr kernel (3, 10, 3) x (-1, 0, 1) gives 32 x the gradient; the result
    here is that divided by 32.
    """
    three = np.float32(3.0)
    ten = np.float32(10.0)
    gx = (three * (a02 - a00 + a22 - a20) + ten * (a12 - a10)) * np.float32(0.03125)
    gy = (three * (a20 - a00 + a22 - a02) + ten * (a21 - a01)) * np.float32(0.03125)
    return gx, gy


@jit
def bilinear_weights(a, b):
    """float32 weights of the taps (0, 0), (0, 1), (1, 0), (1, 1) for fractions a (x), b (y)."""
    a = np.float32(a)
    b = np.float32(b)
    one = np.float32(1.0)
    return (one - a) * (one - b), a * (one - b), (one - a) * b, a * b


@jit
def lerp4(w00, w01, w10, w11, p00, p01, p10, p11):
    return w00 * p00 + w01 * p01 + w10 * p10 + w11 * p11


@jit
def floor_f(v):
    """floor(v) as a float, passing NaN, inf and huge values through (int conversion is unsafe)."""
    if abs(v) < 1e15:
        return float(math.floor(v))
    return v


@jit
def floor_f32(v):
    """float32 twin of :func:`floor_f` for the CUDA tracker (no float64 on the way)."""
    if abs(v) < np.float32(1e15):
        return np.float32(math.floor(v))
    return v


@jit
def window_inside(fx, fy, win_w, win_h, width, height):
    """OpenCV's test on a window's floored top-left corner (fx, fy); False for NaN or inf.

    The window may hang over the border by up to its own size (the image is read with
    reflect-101 borders there, the derivatives as zero).
    """
    return fx >= -win_w and fx < width and fy >= -win_h and fy < height


@jit
def hessian_check(a11, a12, a22, area, eig_scale, min_eig_threshold):
    """``(ok, 1 / det, min_eig)`` of the window's Hessian [[a11, a12], [a12, a22]] (sums of
    g g^T).

    ``eig_scale`` converts to OpenCV's units (``(255 / range)**2 / 1024``): OpenCV's Hessian is
    built from raw Scharr values (32 x the gradient) and scaled by 2**-20, and its minimum
    eigenvalue is divided by the window area. ``min_eig`` is that eigenvalue in those units
    (float64), the value ``OPTFLOW_LK_GET_MIN_EIGENVALS`` reports. Like OpenCV the point is
    rejected when it is below the threshold or the (scaled) determinant is below FLT_EPSILON.
    """
    a11 = np.float64(a11)
    a12 = np.float64(a12)
    a22 = np.float64(a22)
    det = a11 * a22 - a12 * a12
    min_eig = (a22 + a11 - math.sqrt((a11 - a22) * (a11 - a22) + 4.0 * a12 * a12)) / (2.0 * area)
    min_eig *= eig_scale
    ok = min_eig >= min_eig_threshold and det * eig_scale * eig_scale >= FLT_EPSILON
    return ok, (1.0 / det if ok else 0.0), min_eig


@jit
def lk_delta(a11, a12, a22, inv_det, b1, b2):
    """Gauss-Newton step for the mismatch vector b = sum (J - I) g."""
    return (a12 * b2 - a22 * b1) * inv_det, (a12 * b1 - a11 * b2) * inv_det


@jit
def oscillates(dx, dy, pdx, pdy, limit):
    """OpenCV's guard: this step nearly undoes the previous one (``limit`` 0.01 px, as a float64
    on the CPU like OpenCV's double literal, a float32 in the float32 CUDA tracker)."""
    return abs(dx + pdx) < limit and abs(dy + pdy) < limit


@jit
def corner_min_eig(sxx, sxy, syy):
    """Smaller eigenvalue of [[sxx, sxy], [sxy, syy]] / 2 (as ``cv2.cornerMinEigenVal``)."""
    a = np.float32(0.5) * sxx
    c = np.float32(0.5) * syy
    return (a + c) - math.sqrt((a - c) * (a - c) + sxy * sxy)


# --------------------------------------------------------------------------------------------
# flat helpers (index arrays, call only scalar helpers; also CUDA device functions)


@jit
def bilinear_at(buf, i, stride, C, w00, w01, w10, w11):
    """Bilinear tap of a padded buffer (float32 or uint8 levels, read as float32): ``i`` is the
    top-left tap, ``stride`` a row."""
    return lerp4(w00, w01, w10, w11, np.float32(buf[i]), np.float32(buf[i + C]),
                 np.float32(buf[i + stride]), np.float32(buf[i + stride + C]))


@jit
def scharr_at(buf, i, stride, C):
    """Scharr derivatives at flat index ``i`` of a padded buffer (float32 or uint8 levels)."""
    return scharr_xy(np.float32(buf[i - stride - C]), np.float32(buf[i - stride]),
                     np.float32(buf[i - stride + C]), np.float32(buf[i - C]), np.float32(buf[i + C]),
                     np.float32(buf[i + stride - C]), np.float32(buf[i + stride]),
                     np.float32(buf[i + stride + C]))


@jit
def pyr_down_at(buf, i, stride, C):
    """``pyrDown`` 5x5 tap centred on flat index ``i`` of a padded level: vertical, then horizontal."""
    v0 = blur5(buf[i - 2 * stride - 2 * C], buf[i - stride - 2 * C], buf[i - 2 * C],
               buf[i + stride - 2 * C], buf[i + 2 * stride - 2 * C])
    v1 = blur5(buf[i - 2 * stride - C], buf[i - stride - C], buf[i - C],
               buf[i + stride - C], buf[i + 2 * stride - C])
    v2 = blur5(buf[i - 2 * stride], buf[i - stride], buf[i], buf[i + stride], buf[i + 2 * stride])
    v3 = blur5(buf[i - 2 * stride + C], buf[i - stride + C], buf[i + C],
               buf[i + stride + C], buf[i + 2 * stride + C])
    v4 = blur5(buf[i - 2 * stride + 2 * C], buf[i - stride + 2 * C], buf[i + 2 * C],
               buf[i + stride + 2 * C], buf[i + 2 * stride + 2 * C])
    return blur5(v0, v1, v2, v3, v4)


@jit
def pad_source(yp, xp, h, w, pad_x, pad_y):
    """Interior pixel ``(y, x)`` whose reflect-101 copy sits at padded position (yp, xp)."""
    return border_index(yp - pad_y, h, R101), border_index(xp - pad_x, w, R101)


@jit
def sobel_tensor_pixel(img, y, x, scale):
    """Structure tensor (dx^2, dx dy, dy^2) of 3x3 Sobel derivatives at (y, x) of an (H, W, C)
    image, summed over channels, reflect-101 borders; derivatives multiplied by ``scale``."""
    h = img.shape[0]
    w = img.shape[1]
    ym = border_index(y - 1, h, R101)
    yp = border_index(y + 1, h, R101)
    xm = border_index(x - 1, w, R101)
    xp = border_index(x + 1, w, R101)
    sxx = np.float32(0.0)
    sxy = np.float32(0.0)
    syy = np.float32(0.0)
    two = np.float32(2.0)  # an int 2 would promote the float32 sums to float64
    for c in range(img.shape[2]):
        dx = ((img[ym, xp, c] - img[ym, xm, c]) + two * (img[y, xp, c] - img[y, xm, c])
              + (img[yp, xp, c] - img[yp, xm, c])) * scale
        dy = ((img[yp, xm, c] - img[ym, xm, c]) + two * (img[yp, x, c] - img[ym, x, c])
              + (img[yp, xp, c] - img[ym, xp, c])) * scale
        sxx += dx * dx
        sxy += dx * dy
        syy += dy * dy
    return sxx, sxy, syy


def derivative_kernels(gradient_size, scale):
    """OpenCV's 1-D kernels of the first derivative of aperture ``gradient_size``
    (``getDerivKernels``): ``(derivative, smoothing)`` float32, to be correlated (the
    derivative along its axis, the smoothing across it), ``scale`` folded into the smoothing
    as ``Sobel`` folds it. Sobel: the binomial smoothing of ``gradient_size`` taps and the
    difference of ``gradient_size - 1`` binomial taps (1: ``[-1, 0, 1]`` and no smoothing);
    -1: Scharr's ``[-1, 0, 1]`` and ``[3, 10, 3]``."""
    if gradient_size == -1:
        derivative, smoothing = [-1.0, 0.0, 1.0], [3.0, 10.0, 3.0]
    elif gradient_size == 1:
        derivative, smoothing = [-1.0, 0.0, 1.0], [1.0]
    else:
        n = gradient_size - 1
        smoothing = [float(math.comb(n, i)) for i in range(n + 1)]
        derivative = [float(math.comb(n - 1, i - 1) if i > 0 else 0)
                      - float(math.comb(n - 1, i) if i < n else 0) for i in range(n + 1)]
    return (np.array(derivative, np.float32),
            (np.array(smoothing, np.float64) * scale).astype(np.float32))


@jit
def derivative_tensor_pixel(img, y, x, kd, ks):
    """:func:`sobel_tensor_pixel` with the derivatives of other apertures: ``dx`` correlates
    ``kd`` along the row then ``ks`` down the column, ``dy`` ``ks`` along the row then ``kd``
    down the column (``derivative_kernels``; OpenCV's ``Sobel`` filters rows first)."""
    h = img.shape[0]
    w = img.shape[1]
    rd = kd.shape[0] // 2
    rs = ks.shape[0] // 2
    sxx = np.float32(0.0)
    sxy = np.float32(0.0)
    syy = np.float32(0.0)
    for c in range(img.shape[2]):
        dx = np.float32(0.0)
        for i in range(ks.shape[0]):
            yy = border_index(y + i - rs, h, R101)
            row = np.float32(0.0)
            for j in range(kd.shape[0]):
                row += kd[j] * img[yy, border_index(x + j - rd, w, R101), c]
            dx += ks[i] * row
        dy = np.float32(0.0)
        for i in range(kd.shape[0]):
            yy = border_index(y + i - rd, h, R101)
            row = np.float32(0.0)
            for j in range(ks.shape[0]):
                row += ks[j] * img[yy, border_index(x + j - rs, w, R101), c]
            dy += kd[i] * row
        sxx += dx * dx
        sxy += dx * dy
        syy += dy * dy
    return sxx, sxy, syy


@jit
def corner_measure(sxx, sxy, syy, harris, k):
    """The corner response of a box-summed structure tensor: the Harris measure
    ``det - k trace^2`` (``cv2.cornerHarris``) where ``harris``, else the smaller eigenvalue of
    the sums / 2 (``cv2.cornerMinEigenVal``)."""
    if harris:
        return sxx * syy - sxy * sxy - k * (sxx + syy) * (sxx + syy)
    return corner_min_eig(sxx, sxy, syy)


@jit
def box_response_pixel(txx, txy, tyy, y, x, block_size, harris, k):
    """``block_size`` x ``block_size`` box sum (reflect-101; OpenCV's anchor: ``block_size // 2``
    rows above and columns left of (y, x)) of the tensor planes, then :func:`corner_measure`."""
    h = txx.shape[0]
    w = txx.shape[1]
    lo = -(block_size // 2)
    sxx = np.float32(0.0)
    sxy = np.float32(0.0)
    syy = np.float32(0.0)
    for dy in range(lo, lo + block_size):
        yy = border_index(y + dy, h, R101)
        for dx in range(lo, lo + block_size):
            xx = border_index(x + dx, w, R101)
            sxx += txx[yy, xx]
            sxy += txy[yy, xx]
            syy += tyy[yy, xx]
    return corner_measure(sxx, sxy, syy, harris, k)


# --------------------------------------------------------------------------------------------
# CPU drivers: pyramid and derivatives


def build_pyramids(frame0, frame1, shapes, pad_x, pad_y, derivatives, stretch=None, extrema=None):
    """CPU pyramids of two (H, W, C) frames in one buffer: ``(buf, gx, gy, geo, total)``.

    Frame0's pyramid is ``buf[:total]`` and frame1's ``buf[total:2 * total]``, both with layout
    ``geo``, followed by ``SLACK`` zeros;
    ``gx``, ``gy`` hold the derivatives of the first ``derivatives`` (0, 1 or 2) pyramids, one
    after the other (0: empty arrays, the tracker computes them per window). ``stretch``: None,
    the frames as they are, the levels of integer frames rounded to integers as ``cv2.pyrDown``
    does; or float32 ``(offset, factor)``, level 0 is ``(frame - offset) * factor``
    (``_intensity.prepare_frames``' deferred stretch) and no level is rounded. The levels are
    float32, except for uint8 frames without ``stretch``: then they are uint8, as OpenCV's (the
    same values: rounded levels of uint8 frames stay in 0..255), a quarter of the bytes to
    write and read. ``extrema``: optional float64 (2, 2) array that receives each frame's
    ``(min, max)``, read during the level-0 copy (no separate pass over the frames).

    One parallel call builds both pyramids, each frame's whole pyramid on one thread (the
    level-0 copy, then each level from the one before): per-level calls over bands of rows
    cost a thread-pool round trip per level and left the small levels on one thread. So at
    most two threads build pyramids, whatever the thread count (the tracking uses them all).
    The frames are claimed (``run_bands(claim=True)``): if the worker has not started when
    the calling thread has built its pyramid, the caller builds the other one too.
    """
    C = frame0.shape[2]
    integer = stretch is None and frame0.dtype.kind in "ui"
    offset, factor = (np.float32(0.0), np.float32(1.0)) if stretch is None else stretch
    geo, total = pyramid_geometry(shapes, C, pad_x, pad_y)
    buf = np.empty(2 * total + SLACK, np.uint8 if integer and frame0.dtype == np.uint8 else np.float32)
    buf[2 * total:] = 0
    # each frame's scratch rows: uint32 for _pyr_down_u8 (gray uint8 levels), else two float32
    # rows for _pyr_down_rows (the type picks the function, see _pyr_down_level)
    if C == 1 and buf.dtype == np.uint8:
        scratch = np.empty((2, geo[0, 3] // 2 + 3), np.uint32)
    else:
        scratch = np.empty((2, 2, geo[0, 3] * C), np.float32)
    run_bands(_pyramids_band, np.ascontiguousarray(frame0).reshape(-1),
              np.ascontiguousarray(frame1).reshape(-1), buf, geo, total, C, pad_x, pad_y,
              np.float32(offset), np.float32(factor), integer,
              _NO_EXTREMA if extrema is None else extrema, scratch,
              threads=min(2, num_threads()), claim=True)
    slack = SLACK if derivatives else 0  # (none: empty arrays tell the tracker to work per window)
    gx = np.empty(derivatives * total + slack, np.float32)
    gy = np.empty(derivatives * total + slack, np.float32)
    gx[derivatives * total:] = 0
    gy[derivatives * total:] = 0
    if derivatives:
        geo1 = geo.copy()
        geo1[:, 0] += total
        scharr_levels(buf, gx, gy, np.concatenate([geo, geo1][:derivatives]), C, pad_x, pad_y)
    return buf, gx, gy, geo, total


_NO_EXTREMA = np.empty((0, 2))


@jit
def _pyramids_band(f0, f1, buf, geo, shift, C, pad_x, pad_y, offset, factor, integer, extrema,
                   scratch, band, n_bands):
    """Work items ``band`` of ``n_bands`` of :func:`build_pyramids` (``parallel.run_bands``):
    the two frames, ``shift`` apart in ``buf``, with their scratch rows ``scratch[frame]``;
    each level gets its borders before the next is read from it."""
    # slices of unowned arrays (each row of each level) update no reference count, which the
    # two threads would fight over (kernels/atomic.py)
    f0, f1, buf, geo, scratch = unowned(f0), unowned(f1), unowned(buf), unowned(geo), unowned(scratch)
    start, stop = band_range(2, band, n_bands)
    for f in range(start, stop):
        lo, hi = _fill_level0(f0 if f == 0 else f1, buf, geo[0], f * shift, C, pad_x, pad_y,
                              offset, factor, extrema.shape[0] > 0)
        if extrema.shape[0]:
            extrema[f, 0] = lo
            extrema[f, 1] = hi
        _pad_level(buf, geo[0], f * shift, C, pad_x, pad_y)
        for lv in range(1, geo.shape[0]):
            _pyr_down_level(buf, geo[lv - 1], geo[lv], f * shift, C, pad_x, pad_y, integer, scratch[f])
            _pad_level(buf, geo[lv], f * shift, C, pad_x, pad_y)


def _pyr_down_level(buf, sg, dg, extra, C, pad_x, pad_y, integer, scratch):
    """The interior of level ``dg`` from padded level ``sg``: ``_pyr_down_u8`` where ``scratch``
    is its uint32 row (gray uint8 levels), else ``_pyr_down_rows`` with ``scratch``'s two
    float32 rows."""


@overload(_pyr_down_level, jit_options={"cache": True, "fastmath": FAST})
def _pyr_down_level_impl(buf, sg, dg, extra, C, pad_x, pad_y, integer, scratch):
    # chosen while typing, so each specialisation compiles one of the two (a run-time branch
    # compiled both: 0.6 s more for a uint8 user); the plain functions are compiled here only
    # (as jitted helpers behind a wrapper they compiled twice as long)
    return _pyr_down_u8 if scratch.dtype == types.uint32 else _pyr_down_rows


@internal
def _fill_level0(src, buf, g, extra, C, pad_x, pad_y, offset, factor, ranged):
    """Copy a flat (H * W * C) frame, any dtype, into the interior of level 0 (geometry ``g``)
    of the padded pyramid at ``extra`` in ``buf``, as ``(v - offset) * factor`` in float32
    (float32 ``offset``, ``factor``; 0 and 1 copy the values as they are). Returns the frame's
    ``(min, max)`` when ``ranged`` (read from each row as it is copied), else the first value
    twice."""
    off, h, w, pw = g[0] + extra, g[1], g[2], g[3]
    stretch = offset != 0 or factor != 1
    n = np.uint64(w * C)
    lo = src[0]
    hi = src[0]
    for y in range(h):
        s = np.uint64(y * w * C)
        r = np.uint64(off + ((y + pad_y) * pw + pad_x) * C)
        if stretch:
            for i in range(n):
                buf[r + i] = (np.float32(src[s + i]) - offset) * factor
        else:  # a plain copy (uint8 into uint8 levels: no round trip through float32)
            for i in range(n):
                buf[r + i] = src[s + i]
        if ranged:
            lo, hi = _row_range(src, s, n, lo, hi)
    return lo, hi


def _row_range(src, s, n, lo, hi):
    """``(lo, hi)`` widened to the values ``src[s:s + n]`` of an integer frame (only uint8
    frames ask for their range; a float frame's are returned unchanged)."""


@overload(_row_range, jit_options={"cache": True})
def _row_range_impl(src, s, n, lo, hi):
    # chosen while typing: min/max of float frames would compile NaN handling (0.3-0.5 s)
    # that no caller needs
    if not isinstance(src.dtype, types.Integer):
        return lambda src, s, n, lo, hi: (lo, hi)

    def impl(src, s, n, lo, hi):
        for i in range(n):
            lo = min(lo, src[s + i])
            hi = max(hi, src[s + i])
        return lo, hi
    return impl


@internal
def _pad_level(buf, g, extra, C, pad_x, pad_y):
    """The reflect-101 borders of the level with geometry ``g`` of the pyramid at ``extra``,
    whose interior is written: the left and right borders of each interior row, then the top
    and bottom border rows as copies of whole padded rows. Unsigned indices: with signed ones
    Numba's negative-index fix-ups kept LLVM from vectorising the row copies (level 0 of a
    720p gray frame: 68 us, now 8). A level wider than its border (every level but a level 0
    smaller than the window) reflects once: border column ``-k`` is column ``k``, column
    ``w - 1 + k`` is ``w - 1 - k``."""
    off, h, w, pw = g[0] + extra, g[1], g[2], g[3]
    row_len = np.uint64(pw * C)
    uc = np.uint64(C)
    upx = np.uint64(pad_x)
    if w > pad_x:
        for y in range(h):
            r = np.uint64(off + (y + pad_y) * pw * C + pad_x * C)  # interior column 0
            e = r + np.uint64((w - 1) * C)  # the last interior column
            for k in range(np.uint64(1), upx + np.uint64(1)):
                for c in range(uc):
                    buf[r - k * uc + c] = buf[r + k * uc + c]
                    buf[e + k * uc + c] = buf[e - k * uc + c]
    else:
        for y in range(h):
            r = off + (y + pad_y) * pw * C
            for xp in range(pad_x):
                left = (border_index(xp - pad_x, w, R101) + pad_x) * C
                right = (border_index(xp + w, w, R101) + pad_x) * C
                for c in range(C):
                    buf[r + xp * C + c] = buf[r + left + c]
                    buf[r + (pad_x + w + xp) * C + c] = buf[r + right + c]
    for yp in range(pad_y):
        top = np.uint64(off + yp * pw * C)
        top_src = np.uint64(off + (border_index(yp - pad_y, h, R101) + pad_y) * pw * C)
        bottom = np.uint64(off + (pad_y + h + yp) * pw * C)
        bottom_src = np.uint64(off + (border_index(h + yp, h, R101) + pad_y) * pw * C)
        for i in range(row_len):
            buf[top + i] = buf[top_src + i]
            buf[bottom + i] = buf[bottom_src + i]


def _pyr_down_rows(buf, sg, dg, extra, C, pad_x, pad_y, integer, scratch):
    """Fill the interior of level ``dg`` of the pyramid at ``extra`` in ``buf`` from its padded
    level ``sg``: 5-tap blur and decimation (rounded when ``integer``); same arithmetic order as
    ``pyr_down_at``. Per output row: a vertical pass over the padded source row (five
    contiguous row slices, so it vectorises) into the scratch ``vert``, the horizontal taps at
    every column into ``hor`` (unit stride again: faster than taps at every second column,
    which LLVM gathers), then every second column of that. (The geometry is loaded before the
    row loop: loaded inside, LLVM vectorises less.) ``scratch``: two float32 rows, ``vert`` and
    ``hor``. Compiled through ``_pyr_down_level`` (with ``FAST``).
    """
    vert = scratch[0]
    hor = scratch[1]
    soff, spw = sg[0], sg[3]
    doff, dh, dw, dpw = dg[0], dg[1], dg[2], dg[3]
    srow = np.uint64(spw * C)
    uc = np.uint64(C)
    lo = np.uint64(pad_x * C)
    udw = np.uint64(dw)
    drow = np.uint64(dpw * C)
    for y in range(dh):
        r = np.uint64(soff + extra + (2 * y + pad_y - 2) * spw * C)
        s0 = buf[r:r + srow]  # slices: LLVM sees five unit-stride rows
        s1 = buf[r + srow:r + 2 * srow]
        s2 = buf[r + 2 * srow:r + 3 * srow]
        s3 = buf[r + 3 * srow:r + 4 * srow]
        s4 = buf[r + 4 * srow:r + 5 * srow]
        row = np.uint64(doff + extra) + np.uint64(y + pad_y) * drow
        out = buf[row + lo:row + lo + udw * uc]
        for i in range(srow):
            vert[i] = blur5(np.float32(s0[i]), np.float32(s1[i]), np.float32(s2[i]),
                            np.float32(s3[i]), np.float32(s4[i]))
        n = 2 * udw * uc
        v0 = vert[lo - 2 * uc:lo - 2 * uc + n]  # horizontal taps at every column: unit stride
        v1 = vert[lo - uc:lo - uc + n]
        v2 = vert[lo:lo + n]
        v3 = vert[lo + uc:lo + uc + n]
        v4 = vert[lo + 2 * uc:lo + 2 * uc + n]
        for i in range(n):
            hor[i] = blur5(v0[i], v1[i], v2[i], v3[i], v4[i])
        if C == 1:  # then every second column (the common case spelt out)
            for x in range(udw):
                out[x] = pyr_round(hor[2 * x], integer)
        else:
            for x in range(udw):
                for c in range(uc):
                    out[x * uc + c] = pyr_round(hor[2 * x * uc + c], integer)


def _pyr_down_u8(buf, sg, dg, extra, C, pad_x, pad_y, integer, scratch):
    """``_pyr_down_rows`` for gray uint8 levels in integer arithmetic, as ``cv2.pyrDown``:
    the vertical sums (at most 16 * 255) of source columns ``2x - 2 .. 2x + 2`` go into the
    uint32 row ``scratch`` (``pairs``) seen as uint16, so that word ``x`` holds the sums of columns
    ``2x - 2`` (low half) and ``2x - 1`` (high half) and the horizontal taps of output ``x``
    come from words ``x``, ``x + 1``, ``x + 2``: unit-stride loads, no decimation pass. The
    result ``(sum + 128) >> 8`` is what the float32 path's ``floor(sum / 256 + 0.5)`` gives
    (every value there is exact), so the levels are the same, in about a third of the time.
    (Plain int indices and untyped literals: this spelling compiles in 0.5 s against 0.8 s
    with uint64 indices and uint16 casts, and runs as fast.) Compiled through
    ``_pyr_down_level``; ``C`` (1) and ``integer`` (True) are unused.
    """
    pairs = scratch
    spw = sg[3]
    dw = dg[2]
    m = 2 * dw + 4  # source columns read per row
    sums = pairs.view(np.uint16)
    for y in range(dg[1]):
        r = sg[0] + extra + (2 * y + pad_y - 2) * spw + pad_x - 2
        s0 = buf[r:r + m]
        s1 = buf[r + spw:r + spw + m]
        s2 = buf[r + 2 * spw:r + 2 * spw + m]
        s3 = buf[r + 3 * spw:r + 3 * spw + m]
        s4 = buf[r + 4 * spw:r + 4 * spw + m]
        for i in range(m):
            sums[i] = s0[i] + s4[i] + 4 * (s1[i] + s3[i]) + 6 * s2[i]
        row = dg[0] + extra + (y + pad_y) * dg[3] + pad_x
        out = buf[row:row + dw]
        w0 = pairs[0:dw]
        w1 = pairs[1:dw + 1]
        w2 = pairs[2:dw + 2]
        for x in range(dw):
            out[x] = ((w0[x] & 0xFFFF) + (w2[x] & 0xFFFF) + 4 * ((w0[x] >> 16) + (w1[x] >> 16))
                      + 6 * (w1[x] & 0xFFFF) + 128) >> 8


def scharr_levels(buf, gx, gy, geos, C, pad_x, pad_y):
    """Scharr derivatives of the padded levels ``geos`` of ``buf`` into gx, gy (same layout),
    zero in the borders; one parallel loop over the rows of all the levels, in twice as many
    bands as threads that the threads claim (``run_bands(claim=True)``): a worker that starts
    late leaves its bands to the others, where static bands made the caller wait for it."""
    threads = num_threads()
    run_bands(_scharr_levels_band, buf, gx, gy, geos, C, pad_x, pad_y, threads=2 * threads if threads > 1 else 1,
              claim=True)


@jit(fastmath=FAST)
def _scharr_levels_band(buf, gx, gy, geos, C, pad_x, pad_y, band, n_bands):
    """Work items ``band`` of ``n_bands`` of :func:`scharr_levels` (``parallel.run_bands``)."""
    buf, gx, gy, geos = unowned(buf), unowned(gx), unowned(gy), unowned(geos)  # (kernels/atomic.py)
    total_rows = 0
    for k in range(geos.shape[0]):
        total_rows += geos[k, 1] + 2 * pad_y
    zero = np.float32(0.0)
    start, stop = band_range(total_rows, band, n_bands)
    for job in range(start, stop):
        k = 0
        start = 0
        while job >= start + geos[k, 1] + 2 * pad_y:
            start += geos[k, 1] + 2 * pad_y
            k += 1
        yp = job - start
        off, h, w, pw = geos[k, 0], geos[k, 1], geos[k, 2], geos[k, 3]
        stride = np.uint64(pw * C)
        uc = np.uint64(C)
        row = np.uint64(off + yp * pw * C)
        if yp < pad_y or yp >= pad_y + h:
            for i in range(stride):
                gx[row + i] = zero
                gy[row + i] = zero
            continue
        left = np.uint64(pad_x * C)
        right = np.uint64((pad_x + w) * C)
        for i in range(left):
            gx[row + i] = zero
            gy[row + i] = zero
            gx[row + right + i] = zero
            gy[row + right + i] = zero
        for i in range(left, right):
            dx, dy = scharr_at(buf, row + i, stride, uc)
            gx[row + i] = dx
            gy[row + i] = dy


def window_derivatives(points, win_w, win_h, levels, pixels):
    """Whether the tracker should compute frame0's derivatives per window (True) rather than
    over whole levels (``scharr_levels``): when the windows' taps, ``points`` windows of
    ``(win_w + 1) x (win_h + 1)`` at each of ``levels`` levels, are fewer than half the
    pyramid's ``pixels`` (a window's tap costs about twice a whole-level pixel, and windows
    overlap; measured on 720p traffic frames, 2 threads: per window 0.7 ms faster at 100
    points, 0.6 ms at 300, 4 ms slower at 1000)."""
    return 2 * points * (win_w + 1) * (win_h + 1) * levels < pixels


# --------------------------------------------------------------------------------------------
# CPU driver: tracking


@jit
def window_row(win_w, C):
    """Values per row of the tracker's window scratch: ``win_w * C`` rounded up to whole
    16-lane float32 vectors (AVX-512; two 8-lane ones on AVX2)."""
    return (win_w * C + 15) // 16 * 16


@jit
def window_base(g, C, x0, y0, pad_x, pad_y):
    """Flat index of the window's top-left tap (x0, y0) (unpadded coordinates) in level ``g``."""
    return g[0] + ((y0 + pad_y) * g[3] + x0 + pad_x) * C


@internal(fastmath=FAST)
def _window_scharr(img0, g, C, x0, y0, pad_x, pad_y, win_w, win_h, q_x, q_y):
    """Scharr derivatives of the ``(win_h + 1) x (win_w + 1)`` taps of frame0's window with
    top-left tap (x0, y0) at level ``g``, as ``scharr_levels`` has them (zero outside the
    image), into q_x, q_y (rows of ``window_row(win_w + 1, C)``, zero beyond the taps). Rows
    in the image are computed over the whole row (whole SIMD vectors; the values past the
    row's end are read from the next padded row or the buffer's ``SLACK``), then the taps
    outside the image are set to zero."""
    stride = g[3] * C
    base = window_base(g, C, x0, y0, pad_x, pad_y)
    nq = window_row(win_w + 1, C)
    lo = min(max(0, -x0), win_w + 1) * C  # the taps inside the image: [lo, hi) of each row
    hi = max(min(win_w + 1, g[2] - x0) * C, lo)
    zero = np.float32(0.0)
    ustride = np.uint64(stride)
    uc = np.uint64(C)
    for r in range(win_h + 1):
        q = np.uint64(r * nq)
        if 0 <= y0 + r < g[1]:
            row = np.uint64(base + r * stride)
            for x in range(np.uint64(nq)):
                dx, dy = scharr_at(img0, row + x, ustride, uc)  # the types scharr_levels uses
                q_x[q + x] = dx
                q_y[q + x] = dy
            lo_r, hi_r = lo, hi
        else:
            lo_r, hi_r = nq, nq
        for x in range(lo_r):
            q_x[q + x] = zero
            q_y[q + x] = zero
        for x in range(hi_r, nq):
            q_x[q + x] = zero
            q_y[q + x] = zero


@internal(fastmath=FAST)
def _patch(img0, gx0, gy0, base, stride, gbase, gstride, C, a, b, win_w, win_h, p_i, p_x, p_y):
    """Sample frame0's window (top-left tap ``base``, row ``stride``) and its derivatives
    (``gx0``, ``gy0`` from ``gbase``, rows of ``gstride``) into p_i, p_x, p_y (rows of
    ``window_row(win_w, C)`` values, zero beyond the window); return the Hessian sums. Whole
    rows are sampled (whole SIMD vectors, as in ``_mismatch``), the values beyond the window
    replaced by zero in the same loop (a select; a separate loop for them was scalar), and
    the sums taken over the flat scratch."""
    w00, w01, w10, w11 = bilinear_weights(a, b)
    n = np.uint64(win_w * C)
    nv = np.uint64(p_i.size // win_h)
    zero = np.float32(0.0)
    us = np.uint64(stride)
    ugs = np.uint64(gstride)
    uc = np.uint64(C)
    for y in range(win_h):
        s = np.uint64(base + y * stride)
        gs = np.uint64(gbase + y * gstride)
        p = np.uint64(y) * nv
        for x in range(nv):
            inside = x < n
            p_i[p + x] = bilinear_at(img0, s + x, us, uc, w00, w01, w10, w11) if inside else zero
            p_x[p + x] = bilinear_at(gx0, gs + x, ugs, uc, w00, w01, w10, w11) if inside else zero
            p_y[p + x] = bilinear_at(gy0, gs + x, ugs, uc, w00, w01, w10, w11) if inside else zero
    a11 = zero
    a12 = zero
    a22 = zero
    for i in range(np.uint64(win_h) * nv):
        a11 += p_x[i] * p_x[i]
        a12 += p_x[i] * p_y[i]
        a22 += p_y[i] * p_y[i]
    return a11, a12, a22


@internal(fastmath=FAST)
def _mismatch(img1, base, stride, C, a, b, win_w, win_h, p_i, p_x, p_y, p_d):
    """``(b1, b2) = sum (J - I) (gx, gy)`` with J frame1's window at top-left tap ``base`` + (a, b).

    Each row runs over all ``window_row`` values: whole SIMD vectors, where a 21-tap row would
    be one vector and five scalar taps; the taps beyond the window read the level's next
    values (or the buffer's ``SLACK``) and count zero, as their gradients are zero. The
    differences go to the scratch ``p_d`` (p_i's layout) and the products are summed over
    the flat scratch: summed row by row, each row's vector partial sums were reduced to a
    scalar, a chain of dependent adds per row that took about 40 % of the time."""
    w00, w01, w10, w11 = bilinear_weights(a, b)
    nv = np.uint64(p_i.size // win_h)
    us = np.uint64(stride)
    uc = np.uint64(C)
    for y in range(win_h):
        s = np.uint64(base + y * stride)
        p = np.uint64(y) * nv
        for x in range(nv):
            p_d[p + x] = bilinear_at(img1, s + x, us, uc, w00, w01, w10, w11) - p_i[p + x]
    b1 = np.float32(0.0)
    b2 = np.float32(0.0)
    for i in range(np.uint64(win_h) * nv):
        b1 += p_d[i] * p_x[i]
        b2 += p_d[i] * p_y[i]
    return b1, b2


@internal(fastmath=FAST)
def _abs_diff(img1, base, stride, C, a, b, win_w, win_h, p_i, p_d):
    """``sum |J - I|`` over the window: whole rows as in ``_mismatch``, the values beyond the
    window replaced by zero, into the scratch ``p_d``, then one flat sum."""
    w00, w01, w10, w11 = bilinear_weights(a, b)
    n = np.uint64(win_w * C)
    nv = np.uint64(p_i.size // win_h)
    zero = np.float32(0.0)
    us = np.uint64(stride)
    uc = np.uint64(C)
    for y in range(win_h):
        s = np.uint64(base + y * stride)
        p = np.uint64(y) * nv
        for x in range(nv):
            d = abs(bilinear_at(img1, s + x, us, uc, w00, w01, w10, w11) - p_i[p + x])
            p_d[p + x] = d if x < n else zero
    e = zero
    for i in range(np.uint64(win_h) * nv):
        e += p_d[i]
    return e


@jit
def track_one(img0, gx0, gy0, img1, geo, C, px, py, qx, qy, use_init, win_w, win_h,
              max_iter, eps2, min_eig_threshold, eig_scale, min_eigenvals, p_i, p_x, p_y, p_d,
              q_x, q_y):
    """Track one point (px, py) from frame0 to frame1 through every level; ``(x, y, ok, err)``.

    (qx, qy) is the initial guess at level 0 when ``use_init``. Empty ``gx0``, ``gy0``: frame0's
    derivatives are computed per window (``_window_scharr``, into the scratch q_x, q_y); p_d is
    the scratch of ``_mismatch`` and ``_abs_diff``. Mirrors OpenCV's
    LKTrackerInvoker run level by level for this point alone: the guess is the point (or the
    scaled initial guess) at the coarsest level and twice the previous level's result below;
    a level is skipped (the point lost if it is level 0) when frame0's window is outside the
    image or its Hessian fails ``hessian_check``; iterations stop at ``max_iter``, when a step
    is <= eps, when the window leaves the image (lost at level 0), or when a step undoes the
    previous one (then half of it is taken back). ``err`` is the mean absolute difference of
    the windows at level 0 (0 where the point is lost), or where ``min_eigenvals``
    (``OPTFLOW_LK_GET_MIN_EIGENVALS``) the minimum eigenvalue of level 0's Hessian in
    ``hessian_check``'s units, whatever the status (0 where frame0's window is outside the
    image at level 0); the status is the same either way.
    """
    pad_x = win_w
    pad_y = win_h
    max_level = geo.shape[0] - 1
    half_x = (win_w - 1) * 0.5
    half_y = (win_h - 1) * 0.5
    area = win_w * win_h
    ok = True
    nx = 0.0
    ny = 0.0
    eig0 = 0.0
    for level in range(max_level, -1, -1):
        g = geo[level]
        h = g[1]
        w = g[2]
        stride = g[3] * C
        scale = 1.0 / (1 << level)
        if level == max_level:
            nx = (qx if use_init else px) * scale
            ny = (qy if use_init else py) * scale
        else:
            nx *= 2.0
            ny *= 2.0
        cx = px * scale - half_x
        cy = py * scale - half_y
        fx = floor_f(cx)
        fy = floor_f(cy)
        if not window_inside(fx, fy, win_w, win_h, w, h):
            if level == 0:
                ok = False
            continue
        base = window_base(g, C, int(fx), int(fy), pad_x, pad_y)
        grad_x, grad_y, gbase, gstride = gx0, gy0, base, stride
        if not gx0.size:  # derivatives per window
            _window_scharr(img0, g, C, int(fx), int(fy), pad_x, pad_y, win_w, win_h, q_x, q_y)
            grad_x, grad_y, gbase, gstride = q_x, q_y, base - base, window_row(win_w + 1, C)
        a11, a12, a22 = _patch(img0, grad_x, grad_y, base, stride, gbase, gstride, C, cx - fx, cy - fy,
                               win_w, win_h, p_i, p_x, p_y)
        good, inv_det, eig = hessian_check(a11, a12, a22, area, eig_scale, min_eig_threshold)
        if level == 0:
            eig0 = eig
        if not good:
            if level == 0:
                ok = False
            continue
        cx = nx - half_x
        cy = ny - half_y
        pdx = 0.0
        pdy = 0.0
        for j in range(max_iter):
            fx = floor_f(cx)
            fy = floor_f(cy)
            if not window_inside(fx, fy, win_w, win_h, w, h):
                if level == 0:
                    ok = False
                break
            base = window_base(g, C, int(fx), int(fy), pad_x, pad_y)
            b1, b2 = _mismatch(img1, base, stride, C, cx - fx, cy - fy, win_w, win_h, p_i, p_x, p_y, p_d)
            dx, dy = lk_delta(a11, a12, a22, inv_det, b1, b2)
            cx += dx
            cy += dy
            nx = cx + half_x
            ny = cy + half_y
            if dx * dx + dy * dy <= eps2:
                break
            if j > 0 and oscillates(dx, dy, pdx, pdy, 0.01):
                nx -= 0.5 * dx
                ny -= 0.5 * dy
                break
            pdx = dx
            pdy = dy
    err = 0.0
    if ok:
        g = geo[0]
        cx = nx - half_x
        cy = ny - half_y
        fx = floor_f(cx)
        fy = floor_f(cy)
        if window_inside(fx, fy, win_w, win_h, g[2], g[1]):
            # (this shape, the test first: the default path ran 4-6 % slower with an
            # 'if not inside ... elif' chain, measured in one process against the one before)
            if not min_eigenvals:
                base = window_base(g, C, int(fx), int(fy), pad_x, pad_y)
                err = _abs_diff(img1, base, g[3] * C, C, cx - fx, cy - fy, win_w, win_h, p_i,
                                p_d) / (area * C)
        else:
            ok = False
    if min_eigenvals:
        err = eig0
    return nx, ny, ok, err


def track_points(img0, gx0, gy0, img1, geo, C, pts, init, use_init, win_w, win_h,
                 max_iter, eps2, min_eig_threshold, eig_scale, min_eigenvals, out_pts, status, err):
    """Track every point of ``pts`` (K, 2) in parallel; writes out_pts, status, err (``err`` as
    ``track_one``'s, the minimum eigenvalues where the bool ``min_eigenvals``). The bands
    are claimed (``run_bands(claim=True)``), so a late worker does not hold up the call. Each
    band gets its window scratch (``track_one``'s p_i, p_x, p_y, p_d, q_x, q_y) as a row of one
    array allocated here: the band kernel takes unowned views of it, which must not outlive
    their owner. The points are tracked in the order of ``point_order`` (each point's result
    is the same in any order)."""
    threads = num_threads()
    n = window_row(win_w, C) * win_h
    nq = 0 if gx0.size else window_row(win_w + 1, C) * (win_h + 1) + SLACK
    scratch = np.empty((threads, 6, max(n, nq)), np.float32)
    run_bands(_track_points_band, img0, gx0, gy0, img1, geo, C, pts, init, use_init, win_w, win_h, max_iter,
              eps2, min_eig_threshold, eig_scale, min_eigenvals, out_pts, status, err, scratch, n,
              nq, point_order(pts), threads=threads, claim=True)


_SORTED_FROM = 256  # points from which they are tracked by rows (point_order)


def point_order(pts):
    """int64 order in which to track the (K, 2) points: by their row (the integer part of y,
    clipped to int16; a stable radix sort) from ``_SORTED_FROM`` points on, so that windows
    that follow each other read neighbouring image rows and the whole-level derivatives from
    cache; as given below that (nothing to gain). Traffic corners, 1280x720, one thread:
    tracking 6 % faster at 1000 points, 14 % at 10000, for an argsort of 12 and 85 us."""
    k = pts.shape[0]
    if k < _SORTED_FROM:
        return np.arange(k, dtype=np.int64)
    rows = np.clip(np.nan_to_num(pts[:, 1]), -1, 32767).astype(np.int16)
    return np.argsort(rows, kind="stable").astype(np.int64, copy=False)


@jit
def _track_points_band(img0, gx0, gy0, img1, geo, C, pts, init, use_init, win_w, win_h,
                 max_iter, eps2, min_eig_threshold, eig_scale, min_eigenvals, out_pts, status, err,
                 scratch, n, nq, order, band, n_bands):
    """Work items ``band`` of ``n_bands`` of :func:`track_points` (``parallel.run_bands``), with
    the scratch rows ``scratch[band]``: ``n`` values for p_i, p_x, p_y, p_d, ``nq`` for q_x, q_y;
    point ``order[i]`` is the i-th to track."""
    # unowned views (kernels/atomic.py): passing an array to track_one and its helpers, and
    # each level's row of geo, would otherwise update the array's reference count (a call
    # and a locked instruction) per point, level and iteration, and two threads would fight
    # over the counts of the shared arrays
    img0, gx0, gy0, img1, geo = unowned(img0), unowned(gx0), unowned(gy0), unowned(img1), unowned(geo)
    s = unowned(scratch)
    p_i, p_x, p_y = s[band, 0, :n], s[band, 1, :n], s[band, 2, :n]
    p_d, q_x, q_y = s[band, 5, :n], s[band, 3, :nq], s[band, 4, :nq]
    K = pts.shape[0]
    chunks = min(K, 64)
    start, stop = band_range(chunks, band, n_bands)
    for ch in range(start, stop):
        for i in range(ch * K // chunks, (ch + 1) * K // chunks):
            k = order[i]
            x, y, ok, e = track_one(img0, gx0, gy0, img1, geo, C, pts[k, 0], pts[k, 1],
                                    init[k, 0], init[k, 1], use_init, win_w, win_h, max_iter,
                                    eps2, min_eig_threshold, eig_scale, min_eigenvals, p_i, p_x,
                                    p_y, p_d, q_x, q_y)
            out_pts[k, 0] = x
            out_pts[k, 1] = y
            status[k] = ok
            err[k] = e


# --------------------------------------------------------------------------------------------
# corners (Shi-Tomasi)


def corner_response(img, scale, block_size, harris, k, gradient_size=3):
    """Corner response map (:func:`corner_measure`) of the ``block_size``-box-summed Sobel
    structure tensor of a C-contiguous (H, W, C) float32 ``img``, as ``sobel_tensor_pixel`` (or
    ``derivative_tensor_pixel`` for another ``gradient_size``, OpenCV's aperture: -1 or odd)
    then ``box_response_pixel`` at every pixel; derivatives multiplied by ``scale``. Passes
    over bands of rows (``parallel.run_bands``): the tensor, then for the default (the 3x3
    box's smaller eigenvalue) the box sums written out as flat loops that vectorise, else the
    box sums along rows, then along columns."""
    h, w, _ = img.shape
    txx = np.empty((h, w), np.float32)
    txy = np.empty((h, w), np.float32)
    tyy = np.empty((h, w), np.float32)
    eig = np.empty((h, w), np.float32)
    if gradient_size == 3:
        run_bands(_sobel_tensor_band, img, scale, txx, txy, tyy)
    else:
        kd, ks = derivative_kernels(gradient_size, scale)
        run_bands(_derivative_tensor_band, img, kd, ks, txx, txy, tyy)
    if block_size == 3 and not harris:
        run_bands(_min_eig_band, txx, txy, tyy, eig)
    else:
        rows = np.empty((3, h, w), np.float32)
        run_bands(_box_rows_band, txx, txy, tyy, block_size, rows)
        run_bands(_box_response_band, rows, block_size, harris, np.float32(k), eig)
    return eig


@jit(fastmath=FAST)
def _sobel_tensor_band(img, scale, txx, txy, tyy, band, n_bands):
    """Rows ``band`` of ``n_bands`` of the Sobel structure tensor (``corner_response``)."""
    h, w, C = img.shape
    src = img.reshape(-1)
    fxx = txx.reshape(-1)
    fxy = txy.reshape(-1)
    fyy = tyy.reshape(-1)
    two = np.float32(2.0)
    start, stop = band_range(h, band, n_bands)
    for y in range(start, stop):
        fast = C == 1 and 0 < y < h - 1
        if fast:
            up = np.uint64((y - 1) * w)
            mid = up + np.uint64(w)
            down = mid + np.uint64(w)
            for x in range(np.uint64(1), np.uint64(w - 1)):
                dx = ((src[up + x + 1] - src[up + x - 1]) + two * (src[mid + x + 1] - src[mid + x - 1])
                      + (src[down + x + 1] - src[down + x - 1])) * scale
                dy = ((src[down + x - 1] - src[up + x - 1]) + two * (src[down + x] - src[up + x])
                      + (src[down + x + 1] - src[up + x + 1])) * scale
                fxx[mid + x] = dx * dx
                fxy[mid + x] = dx * dy
                fyy[mid + x] = dy * dy
        for x in range(w):
            if not fast or x == 0 or x == w - 1:
                txx[y, x], txy[y, x], tyy[y, x] = sobel_tensor_pixel(img, y, x, scale)


@jit
def _derivative_tensor_band(img, kd, ks, txx, txy, tyy, band, n_bands):
    """Rows ``band`` of ``n_bands`` of the structure tensor of another aperture's derivatives
    (``corner_response``)."""
    h, w, _ = img.shape
    start, stop = band_range(h, band, n_bands)
    for y in range(start, stop):
        for x in range(w):
            txx[y, x], txy[y, x], tyy[y, x] = derivative_tensor_pixel(img, y, x, kd, ks)


@jit(fastmath=FAST)
def _min_eig_band(txx, txy, tyy, eig, band, n_bands):
    """Rows ``band`` of ``n_bands`` of the 3x3 box-summed tensor's smaller eigenvalue."""
    h, w = eig.shape
    fxx = txx.reshape(-1)
    fxy = txy.reshape(-1)
    fyy = tyy.reshape(-1)
    feig = eig.reshape(-1)
    start, stop = band_range(h, band, n_bands)
    for y in range(start, stop):
        inner = 0 < y < h - 1
        if inner:
            up = np.uint64((y - 1) * w)
            mid = up + np.uint64(w)
            down = mid + np.uint64(w)
            for x in range(np.uint64(1), np.uint64(w - 1)):
                sxx = (fxx[up + x - 1] + fxx[up + x] + fxx[up + x + 1] + fxx[mid + x - 1] + fxx[mid + x]
                       + fxx[mid + x + 1] + fxx[down + x - 1] + fxx[down + x] + fxx[down + x + 1])
                sxy = (fxy[up + x - 1] + fxy[up + x] + fxy[up + x + 1] + fxy[mid + x - 1] + fxy[mid + x]
                       + fxy[mid + x + 1] + fxy[down + x - 1] + fxy[down + x] + fxy[down + x + 1])
                syy = (fyy[up + x - 1] + fyy[up + x] + fyy[up + x + 1] + fyy[mid + x - 1] + fyy[mid + x]
                       + fyy[mid + x + 1] + fyy[down + x - 1] + fyy[down + x] + fyy[down + x + 1])
                feig[mid + x] = corner_min_eig(sxx, sxy, syy)
        for x in range(w):
            if not inner or x == 0 or x == w - 1:
                eig[y, x] = box_response_pixel(txx, txy, tyy, y, x, 3, False, np.float32(0.0))


@jit
def _box_rows_band(txx, txy, tyy, block_size, rows, band, n_bands):
    """Rows ``band`` of ``n_bands`` of the tensor planes summed along rows over ``block_size``
    columns (reflect-101, OpenCV's anchor), into ``rows`` (3, H, W)."""
    h, w = txx.shape
    lo = -(block_size // 2)
    start, stop = band_range(h, band, n_bands)
    for y in range(start, stop):
        for x in range(w):
            sxx = np.float32(0.0)
            sxy = np.float32(0.0)
            syy = np.float32(0.0)
            for d in range(lo, lo + block_size):
                xx = x + d
                if xx < 0 or xx >= w:
                    xx = border_index(xx, w, R101)
                sxx += txx[y, xx]
                sxy += txy[y, xx]
                syy += tyy[y, xx]
            rows[0, y, x] = sxx
            rows[1, y, x] = sxy
            rows[2, y, x] = syy


@jit(fastmath=FAST)
def _box_response_band(rows, block_size, harris, k, eig, band, n_bands):
    """Rows ``band`` of ``n_bands`` of the corner response of the row sums ``rows`` summed along
    columns over ``block_size`` rows (reflect-101, OpenCV's anchor)."""
    h, w = eig.shape
    lo = -(block_size // 2)
    acc = np.empty((3, w), np.float32)
    start, stop = band_range(h, band, n_bands)
    for y in range(start, stop):
        acc[:] = 0
        for d in range(lo, lo + block_size):
            yy = y + d
            if yy < 0 or yy >= h:
                yy = border_index(yy, h, R101)
            for x in range(w):
                acc[0, x] += rows[0, yy, x]
                acc[1, x] += rows[1, yy, x]
                acc[2, x] += rows[2, yy, x]
        for x in range(w):
            eig[y, x] = corner_measure(acc[0, x], acc[1, x], acc[2, x], harris, k)


def local_maxima(eig, thr):
    """Flat uint8 mask of the pixels not on the border that exceed ``thr`` and 0 and equal
    their 3x3 maximum (OpenCV's threshold, dilate and compare); bands of rows on threads."""
    peak = np.zeros(eig.size, np.uint8)
    run_bands(_local_maxima_band, eig, eig.dtype.type(thr), peak)
    return peak


@jit
def _local_maxima_band(eig, thr, peak, band, n_bands):
    """Rows ``band`` of ``n_bands`` of :func:`local_maxima`."""
    h, w = eig.shape
    start, stop = band_range(h, band, n_bands)
    for y in range(max(1, start), min(h - 1, stop)):
        for x in range(1, w - 1):
            v = eig[y, x]
            if v > thr and v > 0:
                local = True
                for dy in range(-1, 2):
                    for dx in range(-1, 2):
                        if eig[y + dy, x + dx] > v:
                            local = False
                            break
                    if not local:
                        break
                if local:
                    peak[y * w + x] = 1


def select_corners(eig, quality, min_distance, max_corners, mask=None):
    """OpenCV's goodFeaturesToTrack selection on a response map; (K, 2) float32 (x, y).

    Keep interior pixels above ``quality * max`` that equal their 3x3 maximum, sort by response
    (ties: later raster position first, as OpenCV), then accept greedily those at least
    ``min_distance`` from every accepted corner (OpenCV's grid of round(min_distance) cells).
    A boolean ``mask`` (H, W) keeps only its True pixels, and the maximum is taken over them.
    A ``min_distance`` of ``H + W`` or more (longer than any distance between two pixels) keeps
    one corner; it is passed on as ``H + W``, which does the same, so that the grid's cell
    size ``int(round(min_distance))`` fits in int64 (from 2**63 it wrapped: no spacing, or a
    crash).
    """
    min_distance = min(min_distance, float(eig.shape[0] + eig.shape[1]))
    if mask is None:
        return _select_peaks(eig, local_maxima(eig, eig.max() * quality), min_distance,
                             max_corners)
    top = eig[mask].max() if mask.any() else np.float32(0)  # OpenCV: 0, so no corner
    peak = local_maxima(eig, top * quality) & mask.reshape(-1)
    return _select_peaks(eig, peak, min_distance, max_corners)


@jit
def _select_peaks(eig, peak, min_distance, max_corners):
    """:func:`select_corners` after the local maxima: sort and space them out."""
    h, w = eig.shape
    m = 0
    for i in range(h * w):
        m += peak[i]
    cand = np.empty(m, np.int64)
    k = m
    for i in range(h * w):  # descending raster order, kept for ties by the stable sort
        if peak[i]:
            k -= 1
            cand[k] = i
    vals = np.empty(m, np.float32)
    for i in range(m):
        vals[i] = -eig[cand[i] // w, cand[i] % w]
    order = np.argsort(vals, kind="mergesort")
    limit = m if max_corners <= 0 else min(m, max_corners)
    out = np.empty((limit, 2), np.float32)
    count = 0
    if min_distance < 1:
        for i in range(limit):
            out[i, 0] = cand[order[i]] % w
            out[i, 1] = cand[order[i]] // w
        return out
    cell = int(round(min_distance))
    gw = (w + cell - 1) // cell
    gh = (h + cell - 1) // cell
    head = np.full(gw * gh, -1, np.int64)
    nxt = np.empty(limit, np.int64)
    md2 = min_distance * min_distance
    for i in range(m):
        if count == limit:
            break
        x = cand[order[i]] % w
        y = cand[order[i]] // w
        cx = x // cell
        cy = y // cell
        good = True
        for gy in range(max(0, cy - 1), min(gh - 1, cy + 1) + 1):
            for gx in range(max(0, cx - 1), min(gw - 1, cx + 1) + 1):
                j = head[gy * gw + gx]
                while j >= 0 and good:
                    ddx = x - out[j, 0]
                    ddy = y - out[j, 1]
                    if ddx * ddx + ddy * ddy < md2:
                        good = False
                    j = nxt[j]
        if good:
            out[count, 0] = x
            out[count, 1] = y
            nxt[count] = head[cy * gw + cx]
            head[cy * gw + cx] = count
            count += 1
    return out[:count].copy()
