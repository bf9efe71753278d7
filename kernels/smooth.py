"""Flow smoothing kernels: separable Gaussian, median and joint (cross) bilateral filters.

CPU drivers work on row tiles (``TILE`` rows; bands of tiles run on threads by
``parallel.run_bands``) with contiguous inner loops that LLVM vectorises: the flow stays
interleaved ``(.., W * 2)`` for the Gaussian and the
median (offsets of ``2 * dx`` keep the two components apart), and is copied into padded planar
tile buffers for the bilateral filter. Borders replicate the edge pixels everywhere.

Shared per-pixel math (also called by the CUDA drivers in ``smooth_cuda``): ``exp_neg`` (the
bilateral weights), ``gaussian_pixel_*`` and ``median_window`` / ``bilateral_pixel``.
"""

import numpy as np

from .jit import internal, jit
from .parallel import band_range, run_bands

TILE = 16  # rows per parallel work item
CHUNK = 256  # row elements per pass of the 5x5 median network (keeps its buffers in L1)

# OpenCV's fixed kernels for sigma <= 0 and small odd sizes (getGaussianKernel). OpenCV 4
# has sizes 1-7; OpenCV 5 adds size 9.
_FIXED_GAUSSIAN = {
    1: (1.0,),
    3: (0.25, 0.5, 0.25),
    5: (0.0625, 0.25, 0.375, 0.25, 0.0625),
    7: (0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125),
    9: (4 / 256, 13 / 256, 30 / 256, 51 / 256, 60 / 256, 51 / 256, 30 / 256, 13 / 256, 4 / 256),
}


def default_sigma(size):
    """OpenCV's sigma for a kernel of ``size`` taps when none is given."""
    return 0.3 * ((size - 1) * 0.5 - 1) + 0.8


def gaussian_weights(size, sigma, dtype):
    """1-D Gaussian weights as ``cv2.getGaussianKernel(size, sigma or 0)``, normalised, in ``dtype``.

    ``sigma=None`` uses OpenCV's fixed table for sizes up to 9 and ``default_sigma`` beyond.
    """
    if sigma is None and size in _FIXED_GAUSSIAN:
        taps = np.array(_FIXED_GAUSSIAN[size], np.float64)
    else:
        s = default_sigma(size) if sigma is None else sigma
        x = np.arange(size, dtype=np.float64) - (size - 1) * 0.5
        with np.errstate(over="ignore", under="ignore"):  # a tiny or huge sigma: its limit
            taps = np.exp(-0.5 * (x / s) ** 2) if s > 0 else (x == 0).astype(np.float64)
    return (taps / taps.sum()).astype(dtype)


def spatial_weights(size, sigma, dtype):
    """2-D spatial weights ``exp(-(dx^2 + dy^2) / (2 sigma^2))`` of the bilateral filter, centre 1."""
    x = np.arange(size, dtype=np.float64) - size // 2
    d2 = x[:, None] ** 2 + x[None, :] ** 2
    if not sigma > 0:
        return (d2 == 0).astype(dtype)
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        w = np.exp(-0.5 * d2 / np.float64(sigma) ** 2)  # sigma**2 may be 0 or inf: limits
    w[d2 == 0] = 1.0
    return w.astype(dtype)


# ---------------------------------------------------------------------------------------------
# Gaussian


@internal
def _taps(dst, weights, rows, centre, stride, length):
    """``dst[j] = sum_d weights[r + d] * rows[centre + d * stride + j]`` (symmetric weights).

    ``rows`` is 2-D with ``stride == 0`` (vertical: tap d reads row ``clamp(centre + d)``)
    or 1-D (horizontal: tap d starts at ``centre + d * stride``). Two symmetric pairs are
    fused per pass, which cuts the loads and stores of ``dst`` that dominate small kernels.
    """
    r = weights.shape[0] // 2
    # tap offsets as int64, not integer literals: Numba compiles a callee once per literal value
    d0, d1, d2 = np.int64(0), np.int64(1), np.int64(2)
    c = _tap(rows, centre, d0, stride, length)
    w0 = weights[r]
    if r == 0:
        for j in range(length):
            dst[j] = w0 * c[j]
        return
    a, b, wa = _tap(rows, centre, -d1, stride, length), _tap(rows, centre, d1, stride, length), weights[r + 1]
    if r == 1:
        for j in range(length):
            dst[j] = w0 * c[j] + wa * (a[j] + b[j])
        return
    e, f, we = _tap(rows, centre, -d2, stride, length), _tap(rows, centre, d2, stride, length), weights[r + 2]
    for j in range(length):
        dst[j] = w0 * c[j] + wa * (a[j] + b[j]) + we * (e[j] + f[j])
    for d in range(3, r + 1, 2):
        a, b, wa = _tap(rows, centre, -d, stride, length), _tap(rows, centre, d, stride, length), weights[r + d]
        if d + 1 <= r:
            e, f = _tap(rows, centre, -d - 1, stride, length), _tap(rows, centre, d + 1, stride, length)
            we = weights[r + d + 1]
            for j in range(length):
                dst[j] += wa * (a[j] + b[j]) + we * (e[j] + f[j])
        else:
            for j in range(length):
                dst[j] += wa * (a[j] + b[j])


@internal
def _tap(rows, centre, d, stride, length):
    """View of tap ``d`` for ``_taps``."""
    if rows.ndim == 2:
        return rows[min(max(centre + d, 0), rows.shape[0] - 1), :length]
    start = centre + d * stride
    return rows[start:start + length]


def gaussian_cpu(src, weights, out):
    """Separable Gaussian with replicated borders.

    src, out : (N, H, W * 2) interleaved flow, same float dtype; weights : (size,) symmetric.
    Each row is filtered vertically into a padded buffer, then horizontally into ``out``.
    """
    run_bands(_gaussian_cpu_band, src, weights, out)


@jit
def _gaussian_cpu_band(src, weights, out, band, n_bands):
    """Work items ``band`` of ``n_bands`` of :func:`gaussian_cpu` (``parallel.run_bands``)."""
    n_img, h, length = src.shape
    r = weights.shape[0] // 2
    pad = 2 * r
    n_tiles = (h + TILE - 1) // TILE
    start, stop = band_range(n_img * n_tiles, band, n_bands)
    for item in range(start, stop):
        n = item // n_tiles
        y0 = (item % n_tiles) * TILE
        buf = np.empty(length + 2 * pad, out.dtype)
        mid = buf[pad:pad + length]
        for y in range(y0, min(y0 + TILE, h)):
            _taps(mid, weights, src[n], y, np.int64(0), length)
            for p in range(0, pad, 2):
                buf[p] = mid[0]
                buf[p + 1] = mid[1]
                buf[pad + length + p] = mid[length - 2]
                buf[pad + length + p + 1] = mid[length - 1]
            _taps(out[n, y], weights, buf, pad, np.int64(2), length)


@jit
def gaussian_pixel_h(src, weights, n, y, x, c):
    """Horizontal pass at one pixel of ``src`` (N, H, W, 2), replicated border."""
    w = src.shape[2]
    r = weights.shape[0] // 2
    acc = weights[r] * src[n, y, x, c]
    for d in range(1, r + 1):
        acc += weights[r + d] * (src[n, y, max(x - d, 0), c] + src[n, y, min(x + d, w - 1), c])
    return acc


@jit
def gaussian_pixel_v(src, weights, n, y, x, c):
    """Vertical pass at one pixel of ``src`` (N, H, W, 2), replicated border."""
    h = src.shape[1]
    r = weights.shape[0] // 2
    acc = weights[r] * src[n, y, x, c]
    for d in range(1, r + 1):
        acc += weights[r + d] * (src[n, max(y - d, 0), x, c] + src[n, min(y + d, h - 1), x, c])
    return acc


# ---------------------------------------------------------------------------------------------
# Median


@internal
def _lo(a, b):
    return a if a < b else b


@internal
def _hi(a, b):
    return b if a < b else a


@jit
def _sort3(a0, a1, a2):
    a0, a1 = _lo(a0, a1), _hi(a0, a1)
    a0, a2 = _lo(a0, a2), _hi(a0, a2)
    a1, a2 = _lo(a1, a2), _hi(a1, a2)
    return a0, a1, a2


@jit
def _sort5(a0, a1, a2, a3, a4):
    a0, a1 = _lo(a0, a1), _hi(a0, a1)
    a2, a3 = _lo(a2, a3), _hi(a2, a3)
    a0, a2 = _lo(a0, a2), _hi(a0, a2)
    a1, a3 = _lo(a1, a3), _hi(a1, a3)
    a1, a2 = _lo(a1, a2), _hi(a1, a2)
    a0, a4 = _lo(a0, a4), _hi(a0, a4)
    a2, a4 = _lo(a2, a4), _hi(a2, a4)
    a1, a2 = _lo(a1, a2), _hi(a1, a2)
    a3, a4 = _lo(a3, a4), _hi(a3, a4)
    return a0, a1, a2, a3, a4


# Median networks on windows whose columns are already sorted (x<rank><column>). Generated
# offline: start from rank-row sorting networks followed by a Batcher odd-even merge sort of all
# k*k values, greedily drop every comparator whose removal keeps the median right on all
# (k+1)**k column-sorted 0-1 inputs, then keep only the min or max outputs that are used. By
# the 0-1 principle that check is a proof (tests/test_smooth.py repeats it). The 5x5 network
# (110 min/max) is split into one function per rank row plus a merge so each loop vectorises.


@jit
def _median9_sorted_columns(x00, x01, x02, x10, x11, x12, x20, x21, x22):
    """Median of a 3x3 window given as x<rank><column>, each column sorted ascending (16 min/max)."""
    t0 = _hi(x00, x01)
    t1 = _hi(t0, x02)
    t2 = _lo(x10, x11)
    t3 = _hi(x10, x11)
    t4 = _lo(t2, x12)
    t5 = _hi(t2, x12)
    t6 = _lo(t3, t5)
    t7 = _hi(t3, t5)
    t8 = _lo(x20, x21)
    t9 = _lo(t8, x22)
    t10 = _hi(t1, t4)
    t11 = _lo(t6, t9)
    t12 = _hi(t6, t9)
    t13 = _lo(t7, t12)
    t14 = _lo(t10, t13)
    t15 = _hi(t14, t11)
    return t15


@jit
def _median25_rank0(x00, x01, x02, x03, x04):
    """Rank-0 values of five sorted columns: what the merge needs of their sorted order."""
    t0 = _lo(x00, x01)
    t1 = _hi(x00, x01)
    t2 = _lo(x02, x03)
    t3 = _hi(x02, x03)
    t4 = _hi(t0, t2)
    t5 = _lo(t1, t3)
    t6 = _hi(t1, t3)
    t7 = _hi(t5, t4)
    t8 = _hi(t7, x04)
    t9 = _lo(t6, t8)
    t10 = _hi(t6, t8)
    return t9, t10


@jit
def _median25_rank1(x10, x11, x12, x13, x14):
    """Rank-1 values of five sorted columns: what the merge needs of their sorted order."""
    t11 = _lo(x10, x11)
    t12 = _hi(x10, x11)
    t13 = _lo(x12, x13)
    t14 = _hi(x12, x13)
    t15 = _lo(t11, t13)
    t16 = _hi(t11, t13)
    t17 = _lo(t12, t14)
    t18 = _hi(t12, t14)
    t19 = _lo(t17, t16)
    t20 = _hi(t17, t16)
    t21 = _lo(t20, x14)
    t22 = _hi(t20, x14)
    t23 = _lo(t18, t22)
    t24 = _hi(t18, t22)
    return t15, t19, t21, t23, t24


@jit
def _median25_rank2(x20, x21, x22, x23, x24):
    """Rank-2 values of five sorted columns: what the merge needs of their sorted order."""
    t25 = _lo(x20, x21)
    t26 = _hi(x20, x21)
    t27 = _lo(x22, x23)
    t28 = _hi(x22, x23)
    t29 = _lo(t25, t27)
    t30 = _hi(t25, t27)
    t31 = _lo(t26, t28)
    t32 = _hi(t26, t28)
    t33 = _lo(t31, t30)
    t34 = _hi(t31, t30)
    t35 = _lo(t29, x24)
    t36 = _hi(t29, x24)
    t37 = _lo(t34, t36)
    t38 = _hi(t34, t36)
    t39 = _lo(t33, t37)
    t40 = _hi(t33, t37)
    t41 = _lo(t32, t38)
    t42 = _hi(t32, t38)
    return t35, t39, t40, t41, t42


@jit
def _median25_rank3(x30, x31, x32, x33, x34):
    """Rank-3 values of five sorted columns: what the merge needs of their sorted order."""
    t43 = _lo(x30, x31)
    t44 = _hi(x30, x31)
    t45 = _lo(x32, x33)
    t46 = _hi(x32, x33)
    t47 = _lo(t43, t45)
    t48 = _hi(t43, t45)
    t49 = _lo(t44, t46)
    t50 = _hi(t44, t46)
    t51 = _lo(t49, t48)
    t52 = _hi(t49, t48)
    t53 = _lo(t52, x34)
    t54 = _lo(t51, t53)
    t55 = _hi(t51, t53)
    return t47, t50, t54, t55


@jit
def _median25_rank4(x40, x41, x42, x43, x44):
    """Rank-4 values of five sorted columns: what the merge needs of their sorted order."""
    t56 = _lo(x40, x41)
    t57 = _hi(x40, x41)
    t58 = _lo(x42, x43)
    t59 = _hi(x42, x43)
    t60 = _lo(t56, t58)
    t61 = _hi(t56, t58)
    t62 = _lo(t57, t59)
    t63 = _lo(t60, x44)
    t64 = _hi(t60, x44)
    t65 = _lo(t61, t64)
    t66 = _lo(t62, t65)
    return t63, t66


@jit
def _median25_merge(t9, t10, t15, t19, t21, t23, t24, t35, t39, t40, t41, t42, t47, t50, t54, t55, t63, t66):
    """Median of the 5x5 window from the outputs of the five ``_median25_rank*`` networks."""
    t67 = _hi(t10, t15)
    t68 = _lo(t42, t47)
    t69 = _lo(t67, t21)
    t70 = _hi(t67, t21)
    t71 = _hi(t23, t35)
    t72 = _lo(t24, t39)
    t73 = _hi(t24, t39)
    t74 = _lo(t40, t68)
    t75 = _hi(t40, t68)
    t76 = _lo(t41, t75)
    t77 = _hi(t41, t75)
    t78 = _lo(t54, t63)
    t79 = _hi(t54, t63)
    t80 = _lo(t55, t66)
    t81 = _hi(t9, t69)
    t82 = _lo(t71, t74)
    t83 = _hi(t71, t74)
    t84 = _lo(t73, t76)
    t85 = _hi(t73, t76)
    t86 = _lo(t50, t79)
    t87 = _hi(t81, t19)
    t88 = _lo(t84, t83)
    t89 = _hi(t84, t83)
    t90 = _lo(t85, t77)
    t91 = _lo(t80, t86)
    t92 = _hi(t80, t86)
    t93 = _hi(t87, t82)
    t94 = _lo(t70, t88)
    t95 = _hi(t70, t88)
    t96 = _hi(t94, t72)
    t97 = _lo(t95, t90)
    t98 = _hi(t95, t90)
    t99 = _lo(t96, t93)
    t100 = _hi(t96, t93)
    t101 = _lo(t97, t89)
    t102 = _hi(t97, t89)
    t103 = _hi(t99, t91)
    t104 = _lo(t100, t92)
    t105 = _lo(t102, t78)
    t106 = _lo(t98, t103)
    t107 = _hi(t104, t105)
    t108 = _lo(t101, t106)
    t109 = _hi(t108, t107)
    return t109


@internal
def _sorted_columns5(src, n, y, cols):
    """Sort each column of the 5 rows around ``y`` into ``cols[rank, 4 + j]``, then pad.

    Columns are interleaved like the flow (index ``j`` = 2 * x + component); the 4 padding
    entries on each side replicate the first and last pixel.
    """
    h, length = src.shape[1], src.shape[2]
    a, b, c = src[n, max(y - 2, 0)], src[n, max(y - 1, 0)], src[n, y]
    d, e = src[n, min(y + 1, h - 1)], src[n, min(y + 2, h - 1)]
    s0, s1, s2, s3, s4 = cols[0, 4:], cols[1, 4:], cols[2, 4:], cols[3, 4:], cols[4, 4:]
    for j in range(length):
        s0[j], s1[j], s2[j], s3[j], s4[j] = _sort5(a[j], b[j], c[j], d[j], e[j])
    for i in range(5):
        for p in range(0, 4, 2):
            cols[i, p] = cols[i, 4]
            cols[i, p + 1] = cols[i, 5]
            cols[i, 4 + length + p] = cols[i, 4 + length - 2]
            cols[i, 4 + length + p + 1] = cols[i, 4 + length - 1]


@internal
def _median9_row(src, n, y, row):
    """3x3 medians of output row ``y``, columns sorted on the fly (cheaper than storing them).

    The first and last pixel (both components) take the gathering path for their borders.
    """
    h, length = src.shape[1], src.shape[2]
    a = src[n, max(y - 1, 0)]
    b = src[n, y]
    c = src[n, min(y + 1, h - 1)]
    out = row[2:]
    for j in range(length - 4):  # output j + 2
        l0, m0, h0 = _sort3(a[j], b[j], c[j])
        l1, m1, h1 = _sort3(a[j + 2], b[j + 2], c[j + 2])
        l2, m2, h2 = _sort3(a[j + 4], b[j + 4], c[j + 4])
        out[j] = _median9_sorted_columns(l0, l1, l2, m0, m1, m2, h0, h1, h2)
    buf = np.empty(9, row.dtype)
    for j in (0, 1, length - 2, length - 1):
        if 0 <= j < length:
            row[j] = _median_gather(src, n, y, j, np.int64(3), buf)


@internal
def _median25_row(cols, part, row):
    """5x5 medians of ``row`` from sorted columns ``cols[rank, :len(row) + 8]``.

    Six loops (LLVM does not vectorise the whole 110-operation network as one loop) over
    chunks short enough to keep ``part`` (18, CHUNK), the rank networks' outputs, in L1.
    """
    p0, p1, p2, p3, p4, p5, p6, p7, p8 = part[0], part[1], part[2], part[3], part[4], part[5], part[6], part[7], part[8]
    p9, p10, p11, p12, p13, p14, p15, p16, p17 = (part[9], part[10], part[11], part[12], part[13], part[14],
                                                  part[15], part[16], part[17])
    for j0 in range(0, row.shape[0], CHUNK):
        n = min(CHUNK, row.shape[0] - j0)
        s = cols[0, j0:j0 + n + 8]
        for j in range(n):
            p0[j], p1[j] = _median25_rank0(s[j], s[j + 2], s[j + 4], s[j + 6], s[j + 8])
        s = cols[1, j0:j0 + n + 8]
        for j in range(n):
            p2[j], p3[j], p4[j], p5[j], p6[j] = _median25_rank1(s[j], s[j + 2], s[j + 4], s[j + 6], s[j + 8])
        s = cols[2, j0:j0 + n + 8]
        for j in range(n):
            p7[j], p8[j], p9[j], p10[j], p11[j] = _median25_rank2(s[j], s[j + 2], s[j + 4], s[j + 6], s[j + 8])
        s = cols[3, j0:j0 + n + 8]
        for j in range(n):
            p12[j], p13[j], p14[j], p15[j] = _median25_rank3(s[j], s[j + 2], s[j + 4], s[j + 6], s[j + 8])
        s = cols[4, j0:j0 + n + 8]
        for j in range(n):
            p16[j], p17[j] = _median25_rank4(s[j], s[j + 2], s[j + 4], s[j + 6], s[j + 8])
        out = row[j0:j0 + n]
        for j in range(n):
            out[j] = _median25_merge(p0[j], p1[j], p2[j], p3[j], p4[j], p5[j], p6[j], p7[j], p8[j], p9[j],
                                     p10[j], p11[j], p12[j], p13[j], p14[j], p15[j], p16[j], p17[j])


@internal
def _select(buf, m, k):
    """k-th smallest of ``buf[:m]`` (Wirth's partition selection, in place; no NaNs)."""
    lo = 0
    hi = m - 1
    while lo < hi:
        pivot = buf[k]
        i = lo
        j = hi
        while i <= j:
            while buf[i] < pivot:
                i += 1
            while pivot < buf[j]:
                j -= 1
            if i <= j:
                buf[i], buf[j] = buf[j], buf[i]
                i += 1
                j -= 1
        if j < k:
            lo = i
        if k < i:
            hi = j
    return buf[k]


@internal
def _median_gather(src, n, y, j, size, buf):
    """Median of the window around interleaved index ``j`` of row ``y``: gather, then select."""
    h, length = src.shape[1], src.shape[2]
    w = length // 2
    r = size // 2
    x = j >> 1
    c = j & 1
    m = 0
    for dy in range(-r, r + 1):
        row = src[n, min(max(y + dy, 0), h - 1)]
        for dx in range(-r, r + 1):
            v = row[2 * min(max(x + dx, 0), w - 1) + c]
            if v != v:
                return v
            buf[m] = v
            m += 1
    return _select(buf, m, m // 2)


@internal
def _padded_rows(src, n, y, size, rows):
    """Rows ``y - r .. y + r`` of ``src[n]`` (clamped) into ``rows[:, pad:pad + length]``, edges replicated."""
    h, length = src.shape[1], src.shape[2]
    r = size // 2
    pad = 2 * r
    for i in range(size):
        s = src[n, min(max(y + i - r, 0), h - 1)]
        d = rows[i]
        for j in range(length):  # a loop: Numba's slice-to-slice copy costs ~2 s to compile
            d[pad + j] = s[j]
        for p in range(0, pad, 2):
            d[p] = s[0]
            d[p + 1] = s[1]
            d[pad + length + p] = s[length - 2]
            d[pad + length + p + 1] = s[length - 1]


@internal
def _median_rank_row(rows, size, count, row):
    """Medians of one row by rank counting, vectorised over the outputs.

    Window element q = (dy, dx) of all outputs is the shifted view ``rows[dy, 2 dx:]``.
    Ranks are made unique by breaking ties with q, so the median is the one element whose
    rank is exactly m // 2: ``rank(a) = #{b < a} + #{b == a, q_b < q_a}``. O(m^2) branch-free
    comparisons per output, cheaper than per-output selection up to about 11 x 11.
    """
    m = size * size
    half = m // 2
    n = row.shape[0]
    c = count[:n]
    for qa in range(m):
        a = rows[qa // size, 2 * (qa % size):2 * (qa % size) + n]
        c[:] = 0
        for qb in range(m):
            b = rows[qb // size, 2 * (qb % size):2 * (qb % size) + n]
            if qb < qa:
                for j in range(n):
                    c[j] += b[j] <= a[j]
            elif qb > qa:
                for j in range(n):
                    c[j] += b[j] < a[j]
        for j in range(n):
            if c[j] == half:
                row[j] = a[j]


def median_cpu(src, size, out):
    """Component-wise median over ``size`` x ``size`` windows with replicated borders.

    src, out : (N, H, W * 2) interleaved flow. Sizes 3 and 5 sort the window's columns
    (3: on the fly; 5: once per row into a buffer) and run a pruned network on the sorted
    columns; sizes up to 11 count ranks (vectorised); larger sizes gather each window and
    select. Neither the networks nor the counting propagate NaN, so rows whose window holds
    a NaN are redone with the gathering path, which returns NaN for such windows.

    Each method has its own band driver, so that a first call compiles only the one it
    runs (one driver for all sizes compiled every method: about 1.5 s more).
    """
    if size == 1:
        out[...] = src
        return
    kernel = (_median3_band if size == 3 else _median5_band if size == 5
              else _median_rank_band if size <= 11 else _median_gather_band)
    run_bands(kernel, src, size, out)


@internal
def _nan_rows(src, n, y0, y1, r):
    """Flags of the rows ``first ..`` that tile rows ``y0 .. y1`` with radius ``r`` read:
    ``(first, has_nan)``."""
    h, length = src.shape[1], src.shape[2]
    first = max(y0 - r, 0)
    has_nan = np.zeros(min(y1 + r, h) - first, np.bool_)
    for yy in range(first, first + has_nan.shape[0]):
        row = src[n, yy]
        count = 0
        for j in range(length):
            count += row[j] != row[j]
        has_nan[yy - first] = count > 0
    return first, has_nan


@internal
def _window_nan(has_nan, first, y, r, h):
    """Whether the window rows of output row ``y`` hold a NaN (``_nan_rows``' flags)."""
    return has_nan[max(y - r, 0) - first:min(y + r + 1, h) - first].any()


@internal
def _gather_row(src, n, y, size, buf, row):
    for j in range(row.shape[0]):
        row[j] = _median_gather(src, n, y, j, size, buf)


@jit
def _median3_band(src, size, out, band, n_bands):
    """Work items ``band`` of ``n_bands`` of :func:`median_cpu`, 3 x 3 windows."""
    n_img, h, length = src.shape
    n_tiles = (h + TILE - 1) // TILE
    buf = np.empty(9, out.dtype)
    start, stop = band_range(n_img * n_tiles, band, n_bands)
    for item in range(start, stop):
        n = item // n_tiles
        y0 = (item % n_tiles) * TILE
        y1 = min(y0 + TILE, h)
        first, has_nan = _nan_rows(src, n, y0, y1, 1)
        for y in range(y0, y1):
            _median9_row(src, n, y, out[n, y])
            if _window_nan(has_nan, first, y, 1, h):
                _gather_row(src, n, y, size, buf, out[n, y])


@jit
def _median5_band(src, size, out, band, n_bands):
    """Work items ``band`` of ``n_bands`` of :func:`median_cpu`, 5 x 5 windows."""
    n_img, h, length = src.shape
    n_tiles = (h + TILE - 1) // TILE
    buf = np.empty(25, out.dtype)
    rows = np.empty((5, length + 8), out.dtype)
    part = np.empty((18, CHUNK), out.dtype)
    start, stop = band_range(n_img * n_tiles, band, n_bands)
    for item in range(start, stop):
        n = item // n_tiles
        y0 = (item % n_tiles) * TILE
        y1 = min(y0 + TILE, h)
        first, has_nan = _nan_rows(src, n, y0, y1, 2)
        for y in range(y0, y1):
            _sorted_columns5(src, n, y, rows)
            _median25_row(rows, part, out[n, y])
            if _window_nan(has_nan, first, y, 2, h):
                _gather_row(src, n, y, size, buf, out[n, y])


@jit
def _median_rank_band(src, size, out, band, n_bands):
    """Work items ``band`` of ``n_bands`` of :func:`median_cpu`, windows up to 11 x 11."""
    n_img, h, length = src.shape
    r = size // 2
    n_tiles = (h + TILE - 1) // TILE
    buf = np.empty(size * size, out.dtype)
    rows = np.empty((size, length + 4 * r), out.dtype)
    counts = np.empty(length, np.int32)
    start, stop = band_range(n_img * n_tiles, band, n_bands)
    for item in range(start, stop):
        n = item // n_tiles
        y0 = (item % n_tiles) * TILE
        y1 = min(y0 + TILE, h)
        first, has_nan = _nan_rows(src, n, y0, y1, r)
        for y in range(y0, y1):
            if _window_nan(has_nan, first, y, r, h):
                _gather_row(src, n, y, size, buf, out[n, y])
            else:
                _padded_rows(src, n, y, size, rows)
                _median_rank_row(rows, size, counts, out[n, y])


@jit
def _median_gather_band(src, size, out, band, n_bands):
    """Work items ``band`` of ``n_bands`` of :func:`median_cpu`, larger windows."""
    n_img, h, length = src.shape
    buf = np.empty(size * size, out.dtype)
    start, stop = band_range(n_img * h, band, n_bands)
    for item in range(start, stop):
        n = item // h
        _gather_row(src, n, item - n * h, size, buf, out[n, item - n * h])


@jit
def median_window(src, n, y, x, c, r):
    """Exact median of component ``c`` over the (2r+1)^2 window at (y, x) of (N, H, W, 2) ``src``.

    Memory-free rank counting (for the CUDA driver): the median is the value with at most
    ``m // 2`` smaller and more than ``m // 2`` smaller-or-equal values. NaN in the window
    gives NaN; replicated borders.
    """
    h, w = src.shape[1], src.shape[2]
    half = (2 * r + 1) * (2 * r + 1) // 2
    for ay in range(y - r, y + r + 1):
        for ax in range(x - r, x + r + 1):
            a = src[n, min(max(ay, 0), h - 1), min(max(ax, 0), w - 1), c]
            if a != a:
                return a
    for ay in range(y - r, y + r + 1):
        for ax in range(x - r, x + r + 1):
            a = src[n, min(max(ay, 0), h - 1), min(max(ax, 0), w - 1), c]
            less = 0
            equal = 0
            for by in range(y - r, y + r + 1):
                for bx in range(x - r, x + r + 1):
                    b = src[n, min(max(by, 0), h - 1), min(max(bx, 0), w - 1), c]
                    less += b < a
                    equal += b == a
            if less <= half < less + equal:
                return a
    return src[n, y, x, c]


# ---------------------------------------------------------------------------------------------
# Joint bilateral

_F32 = np.float32
_ZERO, _HALF, _CUTOFF = _F32(0.0), _F32(0.5), _F32(31.0)
_EXP_INT = np.exp(-np.arange(32.0)).astype(np.float32)  # exp(-n), n = 0 .. 31
# Taylor coefficients of exp(-g), |g| <= 1/2 (truncation error 0.5**8 / 8! < 1e-7)
_C0, _C1, _C2, _C3 = _F32(1.0), _F32(-1.0), _F32(1 / 2), _F32(-1 / 6)
_C4, _C5, _C6, _C7 = _F32(1 / 24), _F32(-1 / 120), _F32(1 / 720), _F32(-1 / 5040)


@jit
def exp_neg(d):
    """``exp(-d)`` for ``d >= 0`` in ``d``'s float type, branch-free so loops vectorise.

    ``d = k + g`` with integer ``k`` <= 31 and ``|g| <= 1/2``: ``exp(-d) = exp(-k) exp(-g)``,
    a 32-entry table times a degree-7 polynomial. Relative error about 2e-7 (float32
    constants); 0 for ``d > 31`` (exp(-31) < 4e-14); NaN stays NaN (through ``g``). Only
    conversions and arithmetic, no ``floor``, so the same code compiles for CUDA.
    """
    dd = _CUTOFF if d > _CUTOFF else d
    k = min(max(np.int32(dd + _HALF), np.int32(0)), np.int32(31))  # NaN converts to anything
    g = dd - np.float32(k)
    p = ((((((_C7 * g + _C6) * g + _C5) * g + _C4) * g + _C3) * g + _C2) * g + _C1) * g + _C0
    return _ZERO if d > _CUTOFF else p * _EXP_INT[k]


def bilateral_cpu(flow, guide, spatial, guide_scale, out):
    """Joint bilateral filter of ``flow`` guided by ``guide``.

    flow, out : (N, H, W, 2); guide : (N, H, W, C), same float dtype; spatial : (size, size)
    spatial weights; guide_scale : 1 / (sqrt(2) * sigma_color) as a scalar of the flow's dtype. Weight of neighbour q for
    pixel p: ``spatial[q - p] * exp(-|guide_scale * (guide[p] - guide[q])|^2)``.
    Each tile is copied into padded planar buffers so the inner loops run over x.
    """
    run_bands(_bilateral_cpu_band, flow, guide, spatial, guide_scale, out)


@jit
def _bilateral_cpu_band(flow, guide, spatial, guide_scale, out, band, n_bands):
    """Work items ``band`` of ``n_bands`` of :func:`bilateral_cpu` (``parallel.run_bands``)."""
    n_img, h, w = flow.shape[0], flow.shape[1], flow.shape[2]
    channels = guide.shape[3]
    size = spatial.shape[0]
    r = size // 2
    wp = w + 2 * r
    n_tiles = (h + TILE - 1) // TILE
    start, stop = band_range(n_img * n_tiles, band, n_bands)
    for item in range(start, stop):
        n = item // n_tiles
        y0 = (item % n_tiles) * TILE
        rows = min(TILE, h - y0) + 2 * r
        fb = np.empty((2, rows, wp), out.dtype)
        gb = np.empty((channels, rows, wp), out.dtype)
        for ty in range(rows):
            sy = min(max(y0 - r + ty, 0), h - 1)
            for tx in range(wp):
                sx = min(max(tx - r, 0), w - 1)
                fb[0, ty, tx] = flow[n, sy, sx, 0]
                fb[1, ty, tx] = flow[n, sy, sx, 1]
                for c in range(channels):
                    gb[c, ty, tx] = guide[n, sy, sx, c] * guide_scale
        dist = np.empty(w, out.dtype)
        total = np.empty(w, out.dtype)
        sum_u = np.empty(w, out.dtype)
        sum_v = np.empty(w, out.dtype)
        for ty in range(rows - 2 * r):
            total[:] = 0
            sum_u[:] = 0
            sum_v[:] = 0
            for dy in range(size):
                for dx in range(size):
                    ws = spatial[dy, dx]
                    fu = fb[0, ty + dy, dx:dx + w]
                    fv = fb[1, ty + dy, dx:dx + w]
                    if channels == 1:  # gray guide: one fused pass
                        centre = gb[0, ty + r, r:r + w]
                        other = gb[0, ty + dy, dx:dx + w]
                        for x in range(w):
                            t = centre[x] - other[x]
                            wt = ws * exp_neg(t * t)
                            total[x] += wt
                            sum_u[x] += wt * fu[x]
                            sum_v[x] += wt * fv[x]
                    else:
                        dist[:] = 0
                        for c in range(channels):
                            centre = gb[c, ty + r, r:r + w]
                            other = gb[c, ty + dy, dx:dx + w]
                            for x in range(w):
                                t = centre[x] - other[x]
                                dist[x] += t * t
                        for x in range(w):
                            wt = ws * exp_neg(dist[x])
                            total[x] += wt
                            sum_u[x] += wt * fu[x]
                            sum_v[x] += wt * fv[x]
            o = out[n, y0 + ty]
            for x in range(w):
                o[x, 0] = sum_u[x] / total[x]
                o[x, 1] = sum_v[x] / total[x]


@jit
def bilateral_pixel(flow, guide, spatial, guide_scale, n, y, x):
    """Joint bilateral result (u, v) at one pixel; same weights as ``bilateral_cpu``."""
    h, w = flow.shape[1], flow.shape[2]
    channels = guide.shape[3]
    size = spatial.shape[0]
    r = size // 2
    zero = spatial[r, r] - spatial[r, r]  # 0 in the compute dtype
    total = zero
    sum_u = zero
    sum_v = zero
    for dy in range(size):
        sy = min(max(y + dy - r, 0), h - 1)
        for dx in range(size):
            sx = min(max(x + dx - r, 0), w - 1)
            dist = zero
            for c in range(channels):
                t = (guide[n, y, x, c] - guide[n, sy, sx, c]) * guide_scale
                dist += t * t
            wt = spatial[dy, dx] * exp_neg(dist)
            total += wt
            sum_u += wt * flow[n, sy, sx, 0]
            sum_v += wt * flow[n, sy, sx, 1]
    return sum_u / total, sum_v / total
