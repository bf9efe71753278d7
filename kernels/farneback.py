"""Farneback dense optical flow: per-pixel math, CPU drivers and the level plan.

Facts from G. Farneback, "Two-frame motion estimation based on polynomial expansion"
(SCIA 2003) and OpenCV's ``modules/video/src/optflowgf.cpp`` (own code):

* every pyramid level is made from the full-resolution frame: Gaussian pre-blur with
  ``sigma = (1/scale - 1) / 2`` (kernel size ``max(round(5 sigma) | 1, 3)``; the fixed
  ``[1/4, 1/2, 1/4]`` kernel at full resolution), reflect-101 borders, then a bilinear
  (half-pixel centred, edge-clamped) resize;
* polynomial expansion of each level by separable Gaussian-weighted moments over a
  ``(2 poly_n + 1)`` window, replicated borders, giving five coefficients per pixel
  ``(b_y, b_x, a_yy, a_xx, a_xy)``;
* per pixel the update terms ``A = (A0 + A1(x + d)) / 2`` and
  ``db = (b0 - b1(x + d)) / 2 + A d``, damped by OpenCV's certainty weights on the outer
  five rows and columns; the five normal-equation planes ``A^T A`` and ``A^T db`` are
  blurred over ``winsize`` (box or Gaussian, replicated borders) and a 2x2 system is
  solved per pixel, ``iterations`` times per level.

Intensities are in [0, 1] here (the public layer scales integer frames by their dtype
maximum), so the determinant regulariser is OpenCV's ``1e-3`` expressed on that scale:
``1e-3 / 255**4`` (see ``EPS``).

CPU layout (``farneback_cpu``): one dynamically scheduled launch builds every pyramid level
of both frames and expands it (``expand_all_cpu``: blocks of rows, each with the few extra
pyramid rows its expansion window needs). Then each iteration is one fused pass from the
two expansions and the current flow to the new flow (``iterate_cpu``): each row block keeps
a ring of ``2m + 2`` rows of normal equations and a running float64 column sum, and solves
each row as soon as its window is complete; the first iteration of a level upsamples the
coarser flow on the fly. Flow is double-buffered, so the update order is "all normal
equations from the previous flow, blur all, solve all", the same on CPU and GPU. The CPU
loops sum the same terms in the same order as the per-pixel functions that the CUDA driver
calls, but row by row, with slices indexed by the bare loop variable so that they
vectorise.
"""

import functools
import math

import numba
import numpy as np

from .jit import internal, jit
from .interp import BORDER_REFLECT101, border_index
from .parallel import band_range, run_bands

# OpenCV's absolute 1e-3 on the determinant, for intensities in [0, 255]; on the [0, 1]
# scale used here the determinant is 255**4 times smaller, and so is the regulariser.
EPS = 1e-3 / 255.0 ** 4
_BLOCK = 256  # columns per block of the expansion's horizontal pass
# the box window's running column sums restart at rows that are multiples of this, where row
# strips start too: flows then do not depend on the thread count (the strips')
STRIP_ANCHOR = 16
MIN_LEVEL_SIZE = 32  # OpenCV drops pyramid levels whose width or height would be below this
BORDER = 5
BORDER_WEIGHTS = np.array([0.14, 0.14, 0.4472, 0.4472, 0.4472], np.float32)


# ----------------------------------------------------------------------------- host tables

def plan_levels(height, width, levels, pyr_scale, min_size=MIN_LEVEL_SIZE):
    """The pyramid OpenCV would use, coarsest level last.

    Returns a list of ``(scale, level_height, level_width)`` for levels ``0..k`` where ``k``
    is ``levels`` cut down so that no level is smaller than ``min_size`` on either side.
    """
    k = 0
    scale = 1.0
    while k < levels:
        scale *= pyr_scale
        if width * scale < min_size or height * scale < min_size:
            break
        k += 1
    plan = []
    for level in range(k + 1):
        s = 1.0
        for _ in range(level):
            s *= pyr_scale
        plan.append((s, int(np.rint(height * s)), int(np.rint(width * s))))
    return plan


def pyramid_kernel(scale):
    """Float32 Gaussian pre-blur kernel of a level (OpenCV's ``getGaussianKernel``)."""
    sigma = (1.0 / scale - 1.0) * 0.5
    size = max(int(np.rint(sigma * 5)) | 1, 3)
    if sigma <= 0:  # full resolution: OpenCV's fixed 3-tap kernel for sigma <= 0
        return np.array([0.25, 0.5, 0.25], np.float32)
    x = np.arange(size) - (size - 1) * 0.5
    k = np.exp(-0.5 / sigma ** 2 * x * x)
    return (k / k.sum()).astype(np.float32)


@functools.lru_cache(maxsize=64)
def resize_table(src_n, dst_n):
    """Bilinear resize taps along one axis: first index (int32) and weight of the second.

    OpenCV's INTER_LINEAR rule: source coordinate ``(d + 0.5) * src_n / dst_n - 0.5``
    (rounded to float32), clamped to ``[0, src_n - 1]``; the second tap is index + 1.
    Cached: callers must not modify the arrays.
    """
    f = ((np.arange(dst_n) + 0.5) * (src_n / dst_n) - 0.5).astype(np.float32)
    idx = np.floor(f).astype(np.int32)
    frac = (f - idx.astype(np.float32)).astype(np.float32)
    low = idx < 0
    high = idx >= src_n - 1
    idx[low] = 0
    idx[high] = src_n - 1
    frac[low | high] = 0
    return idx, frac


def area_table(src_n, dst_n):
    """INTER_AREA (box-overlap) weights along one axis for ``dst_n <= src_n``.

    Returns ``(idx, wts)`` of shape ``(dst_n, K)``; unused entries have weight 0.
    """
    scale = src_n / dst_n
    rows = []
    for d in range(dst_n):
        f1 = d * scale
        f2 = f1 + scale
        s1 = int(math.ceil(f1))
        s2 = int(math.floor(f2))
        cell = min(scale, src_n - f1)
        taps = []
        if s1 - f1 > 1e-3:
            taps.append((s1 - 1, (s1 - f1) / cell))
        for s in range(s1, s2):
            taps.append((s, 1.0 / cell))
        if f2 - s2 > 1e-3 and s2 < src_n:
            taps.append((s2, min(min(f2 - s2, 1.0), cell) / cell))
        rows.append(taps)
    k = max(len(t) for t in rows)
    idx = np.zeros((dst_n, k), np.int32)
    wts = np.zeros((dst_n, k), np.float32)
    for d, taps in enumerate(rows):
        for j, (s, wgt) in enumerate(taps):
            idx[d, j] = min(max(s, 0), src_n - 1)
            wts[d, j] = wgt
    return idx, wts


def poly_constants(poly_n, poly_sigma):
    """Gaussian moments ``g, xg, xxg`` (float32, length ``poly_n + 1``, offsets 0..n) and
    the inverse-Gram entries ``(ig11, ig03, ig33, ig55)`` (float32) of the expansion."""
    n = poly_n
    sigma = poly_sigma if poly_sigma >= np.finfo(np.float32).eps else n * 0.3
    x = np.arange(-n, n + 1, dtype=np.float64)
    g = np.exp(-x * x / (2 * sigma * sigma)).astype(np.float32).astype(np.float64)
    g = (g / g.sum()).astype(np.float32)
    xg = (x * g).astype(np.float32)
    xxg = (x * x * g).astype(np.float32)
    gd = g.astype(np.float64)
    gy, gx = np.meshgrid(gd, gd, indexing="ij")
    yy, xx = np.meshgrid(x, x, indexing="ij")
    gram = np.zeros((6, 6))
    gram[0, 0] = np.sum(gy * gx)
    gram[1, 1] = np.sum(gy * gx * xx ** 2)
    gram[3, 3] = np.sum(gy * gx * xx ** 4)
    gram[5, 5] = np.sum(gy * gx * xx ** 2 * yy ** 2)
    gram[2, 2] = gram[0, 3] = gram[0, 4] = gram[3, 0] = gram[4, 0] = gram[1, 1]
    gram[4, 4] = gram[3, 3]
    gram[3, 4] = gram[4, 3] = gram[5, 5]
    inv = np.linalg.inv(gram)
    # float32 like the moments (OpenCV keeps them in double: a relative 1e-7 difference)
    ig = np.array([inv[1, 1], inv[0, 3], inv[3, 3], inv[5, 5]], np.float32)
    return g[n:].copy(), xg[n:].copy(), xxg[n:].copy(), ig


def window_kernel(winsize, gaussian):
    """Blur weights for offsets 0..m (m = winsize // 2), float64.

    Box: every weight ``1 / winsize`` per axis (OpenCV divides the (2m+1)-wide sum by
    ``winsize**2``). Gaussian: sigma ``0.3 m``, normalised over ``-m..m`` as OpenCV.
    """
    m = winsize // 2
    if not gaussian:
        return np.full(m + 1, 1.0 / winsize)
    sigma = m * 0.3
    k = np.ones(m + 1)
    for i in range(1, m + 1):
        k[i] = np.float32(np.exp(-i * i / (2 * sigma * sigma)))
    s = k[0] + 2 * k[1:].sum()
    return (k / s).astype(np.float32).astype(np.float64)


# ------------------------------------------------------------------------- per-pixel math

@jit
def reflect101(i, n):
    """Index ``i`` folded into ``[0, n)`` by reflect-101 (fast path inside)."""
    if 0 <= i < n:
        return i
    return border_index(i, n, BORDER_REFLECT101)


@jit
def pyr_vertical(img, y, x, kern, norm):
    """Vertical pre-blur of the plane ``img`` (H, W) at (y, x), scaled by ``norm``."""
    h = img.shape[0]
    r = kern.shape[0] // 2
    acc = np.float32(0.0)
    for k in range(kern.shape[0]):
        acc += kern[k] * np.float32(img[reflect101(y + k - r, h), x])
    return acc * norm


@jit
def pyr_horizontal(row, x, kern):
    """Horizontal pre-blur of the 1-D ``row`` at column ``x`` (reflect-101)."""
    w = row.shape[0]
    r = kern.shape[0] // 2
    acc = np.float32(0.0)
    if x >= r and x + r < w:
        for k in range(kern.shape[0]):
            acc += kern[k] * row[x + k - r]
    else:
        for k in range(kern.shape[0]):
            acc += kern[k] * row[reflect101(x + k - r, w)]
    return acc


@jit
def pyr_output(vrows, dy, dx, kern, xidx, xfrac, yfrac):
    """One pixel of a pyramid level from its two vertically blurred source rows.

    ``vrows[dy, j]`` is source row ``j`` (0: upper, 1: lower) of output row ``dy``; the
    horizontal blur is evaluated only at the two source columns the resize reads.
    """
    ax = xfrac[dx]
    ay = yfrac[dy]
    c0 = xidx[dx]
    c1 = min(c0 + 1, vrows.shape[2] - 1)
    top = pyr_horizontal(vrows[dy, 0], c0, kern)
    if ax != 0:
        top = top * (np.float32(1.0) - ax) + pyr_horizontal(vrows[dy, 0], c1, kern) * ax
    if ay == 0:
        return top
    bot = pyr_horizontal(vrows[dy, 1], c0, kern)
    if ax != 0:
        bot = bot * (np.float32(1.0) - ax) + pyr_horizontal(vrows[dy, 1], c1, kern) * ax
    return top * (np.float32(1.0) - ay) + bot * ay


@jit
def poly_vertical(img, y, x, g, xg, xxg):
    """Vertical moments (0th, 1st, 2nd) of ``img`` (h, w) at (y, x), replicated rows."""
    h = img.shape[0]
    n = g.shape[0] - 1
    t0 = img[y, x] * g[0]
    t1 = np.float32(0.0)
    t2 = np.float32(0.0)
    for k in range(1, n + 1):
        a = img[max(y - k, 0), x]
        b = img[min(y + k, h - 1), x]
        p = a + b
        t0 += g[k] * p
        t1 += xg[k] * (b - a)
        t2 += xxg[k] * p
    return t0, t1, t2


@jit
def poly_coefficients(b1, b2, b3, b4, b5, b6, ig):
    """Expansion coefficients ``(b_y, b_x, a_yy, a_xx, a_xy)`` from the six moments."""
    return b3 * ig[0], b2 * ig[0], b1 * ig[1] + b5 * ig[2], b1 * ig[1] + b4 * ig[2], b6 * ig[3]


@jit
def poly_horizontal(vrow, x, g, xg, xxg, ig):
    """Expansion coefficients at column ``x`` of a padded row of vertical moments
    ``vrow`` (3, L); columns ``x - n .. x + n`` must exist. The CPU driver sums the same
    terms in the same order, row-wise."""
    n = g.shape[0] - 1
    b1 = vrow[0, x] * g[0]
    b2 = np.float32(0.0)
    b3 = vrow[1, x] * g[0]
    b4 = np.float32(0.0)
    b5 = vrow[2, x] * g[0]
    b6 = np.float32(0.0)
    for k in range(1, n + 1):
        lo = x - k
        hi = x + k
        tg = vrow[0, hi] + vrow[0, lo]
        b1 += tg * g[k]
        b4 += tg * xxg[k]
        b2 += (vrow[0, hi] - vrow[0, lo]) * xg[k]
        b3 += (vrow[1, hi] + vrow[1, lo]) * g[k]
        b6 += (vrow[1, hi] - vrow[1, lo]) * xg[k]
        b5 += (vrow[2, hi] + vrow[2, lo]) * g[k]
    return poly_coefficients(b1, b2, b3, b4, b5, b6, ig)


@jit
def poly_horizontal_at(vpad, y, x, g, xg, xxg, ig):
    """``poly_horizontal`` on row ``y`` of padded vertical moments ``vpad`` (h, 3, w + 2n)."""
    return poly_horizontal(vpad[y], x + g.shape[0] - 1, g, xg, xxg, ig)


@jit
def axis_weight(i, n):
    """OpenCV's certainty weight along one axis: < 1 on the outer five indices."""
    s = np.float32(1.0)
    if i < BORDER:
        s *= BORDER_WEIGHTS[i]
    if i >= n - BORDER:
        s *= BORDER_WEIGHTS[n - i - 1]
    return s


@jit
def border_weight(y, x, h, w):
    """OpenCV's certainty weight at (y, x): < 1 on the outer five rows and columns."""
    return axis_weight(x, w) * axis_weight(y, h)


@jit
def fast_floor(v):
    """``floor`` of a finite float as an int (Numba's ``math.floor`` is a libm call)."""
    i = int(v)
    return i - 1 if v < i else i


@jit
def normal_equations(R0, R1, nc, h, w, y, x, dx, dy, s):
    """The five normal-equation entries ``(G_yy, G_xy, G_xx, h_y, h_x)`` at (y, x).

    ``R0, R1`` are the (C, h, w, 5) expansions of the two frames, flattened to 1-D (one
    offset per pixel instead of four-index arithmetic per load); ``(dx, dy)`` is the
    current flow at (y, x) and ``s`` the certainty weight ``border_weight(y, x, h, w)``.
    The per-channel terms are averaged over the ``nc`` channels (a gray frame repeated in
    C channels gives the gray result).
    """
    fx = np.float32(x) + dx
    fy = np.float32(y) + dy
    x1 = fast_floor(fx)
    y1 = fast_floor(fy)
    ax = fx - np.float32(x1)
    ay = fy - np.float32(y1)
    # OpenCV also treats the exact last row/column (x1 == w - 1, ax == 0) as outside, so
    # identical frames get a non-zero flow there; here they count as inside
    inside = (0 <= x1 and (x1 < w - 1 or (x1 == w - 1 and ax == 0))
              and 0 <= y1 and (y1 < h - 1 or (y1 == h - 1 and ay == 0)))
    one = np.float32(1.0)
    half = np.float32(0.5)
    a00 = (one - ax) * (one - ay)
    a01 = ax * (one - ay)
    a10 = (one - ax) * ay
    a11 = ax * ay
    plane = h * w * 5
    o0 = (y * w + x) * 5
    o1 = (y1 * w + x1) * 5 if inside else 0
    ox = 5 if x1 < w - 1 else 0
    oy = 5 * w if y1 < h - 1 else 0
    g11 = np.float32(0.0)
    g12 = np.float32(0.0)
    g22 = np.float32(0.0)
    h1 = np.float32(0.0)
    h2 = np.float32(0.0)
    for c in range(nc):
        p0 = c * plane + o0
        p1 = c * plane + o1
        if inside:
            s0 = (a00 * R1[p1] + a01 * R1[p1 + ox]
                  + a10 * R1[p1 + oy] + a11 * R1[p1 + ox + oy])
            s1 = (a00 * R1[p1 + 1] + a01 * R1[p1 + ox + 1]
                  + a10 * R1[p1 + oy + 1] + a11 * R1[p1 + ox + oy + 1])
            s2 = (a00 * R1[p1 + 2] + a01 * R1[p1 + ox + 2]
                  + a10 * R1[p1 + oy + 2] + a11 * R1[p1 + ox + oy + 2])
            s3 = (a00 * R1[p1 + 3] + a01 * R1[p1 + ox + 3]
                  + a10 * R1[p1 + oy + 3] + a11 * R1[p1 + ox + oy + 3])
            s4 = (a00 * R1[p1 + 4] + a01 * R1[p1 + ox + 4]
                  + a10 * R1[p1 + oy + 4] + a11 * R1[p1 + ox + oy + 4])
            r4 = (R0[p0 + 2] + s2) * half
            r5 = (R0[p0 + 3] + s3) * half
            r6 = (R0[p0 + 4] + s4) * np.float32(0.25)
        else:
            s0 = np.float32(0.0)
            s1 = np.float32(0.0)
            r4 = R0[p0 + 2]
            r5 = R0[p0 + 3]
            r6 = R0[p0 + 4] * half
        r2 = (R0[p0] - s0) * half
        r3 = (R0[p0 + 1] - s1) * half
        r2 += r4 * dy + r6 * dx
        r3 += r6 * dy + r5 * dx
        r2 *= s
        r3 *= s
        r4 *= s
        r5 *= s
        r6 *= s
        g11 += r4 * r4 + r6 * r6
        g12 += (r4 + r5) * r6
        g22 += r5 * r5 + r6 * r6
        h1 += r4 * r2 + r6 * r3
        h2 += r6 * r2 + r5 * r3
    if nc > 1:
        inv = np.float32(1.0 / nc)
        g11 *= inv
        g12 *= inv
        g22 *= inv
        h1 *= inv
        h2 *= inv
    return g11, g12, g22, h1, h2


@jit
def solve(g11, g12, g22, h1, h2, eps):
    """Solve the blurred 2x2 system ``G (v, u) = h``; returns ``(u, v)``."""
    idet = 1.0 / (g11 * g22 - g12 * g12 + eps)
    return (g11 * h2 - g12 * h1) * idet, (g22 * h1 - g12 * h2) * idet


@jit
def min_eigenvalue(g11, g12, g22):
    """Smaller eigenvalue of the symmetric 2x2 matrix G (clipped at 0)."""
    half = 0.5 * (g11 - g22)
    lam = 0.5 * (g11 + g22) - math.sqrt(half * half + g12 * g12)
    return max(lam, 0.0)


@jit
def resize_flow_pixel(src, dy, dx, yidx, yfrac, xidx, xfrac, factor, k):
    """Component ``k`` of the bilinearly resized flow at (dy, dx), times ``factor``."""
    h, w = src.shape[0], src.shape[1]
    y0 = yidx[dy]
    x0 = xidx[dx]
    y1 = min(y0 + 1, h - 1)
    x1 = min(x0 + 1, w - 1)
    return _blend(src[y0, x0, k], src[y0, x1, k], src[y1, x0, k], src[y1, x1, k], xfrac[dx],
                  yfrac[dy], factor)


@jit(inline="always")
def _blend(top0, top1, bottom0, bottom1, ax, ay, factor):
    """Bilinear blend of four taps with the weights ``ax`` and ``ay`` of the second ones,
    times ``factor`` (float32, OpenCV's order)."""
    one = np.float32(1.0)
    top = top0 * (one - ax) + top1 * ax
    bot = bottom0 * (one - ax) + bottom1 * ax
    return (top * (one - ay) + bot * ay) * factor


@jit
def area_flow_pixel(src, dy, dx, yidx, ywts, xidx, xwts, factor, k):
    """Component ``k`` of the INTER_AREA-resized flow at (dy, dx), times ``factor``."""
    acc = np.float32(0.0)
    for i in range(yidx.shape[1]):
        wy = ywts[dy, i]
        if wy == 0:
            continue
        row = np.float32(0.0)
        for j in range(xidx.shape[1]):
            row += xwts[dx, j] * np.float32(src[yidx[dy, i], xidx[dx, j], k])
        acc += wy * row
    return acc * factor


# ----------------------------------------------------------------------------- CPU drivers

@jit
def gauss_row_pixel(vs, x, wk):
    """Horizontal Gaussian window at ``x`` over a row ``vs`` (5 w,) of interleaved planes,
    replicated edges."""
    w = vs.shape[0] // 5
    m = wk.shape[0] - 1
    b0 = wk[0] * vs[5 * x]
    b1 = wk[0] * vs[5 * x + 1]
    b2 = wk[0] * vs[5 * x + 2]
    b3 = wk[0] * vs[5 * x + 3]
    b4 = wk[0] * vs[5 * x + 4]
    for i in range(1, m + 1):
        lo = 5 * max(x - i, 0)
        hi = 5 * min(x + i, w - 1)
        b0 += wk[i] * (vs[lo] + vs[hi])
        b1 += wk[i] * (vs[lo + 1] + vs[hi + 1])
        b2 += wk[i] * (vs[lo + 2] + vs[hi + 2])
        b3 += wk[i] * (vs[lo + 3] + vs[hi + 3])
        b4 += wk[i] * (vs[lo + 4] + vs[hi + 4])
    return b0, b1, b2, b3, b4


@jit
def window_column_pixel(M, y, i, wk, box):
    """Vertical window sum (float64) of entry ``i`` (= 5 x + plane) of ``M`` (h, 5 w).

    Box: plain sum over ``2m + 1`` rows; Gaussian: weighted by ``wk``; replicated rows.
    The CPU driver computes the box case as a running sum (same value up to rounding).
    """
    h = M.shape[0]
    m = wk.shape[0] - 1
    if box:
        acc = 0.0
        for k in range(-m, m + 1):
            acc += np.float64(M[min(max(y + k, 0), h - 1), i])
        return acc
    acc = wk[0] * M[y, i]
    for k in range(1, m + 1):
        acc += wk[k] * (np.float64(M[max(y - k, 0), i]) + np.float64(M[min(y + k, h - 1), i]))
    return acc


@jit
def window_row_solve(vs2d, y, x, wk, box, eps):
    """Horizontal window of the column sums ``vs2d`` (h, 5 w) at (y, x), then the solve;
    returns ``(u, v, smaller eigenvalue of the blurred G)``."""
    if not box:
        e = gauss_row_pixel(vs2d[y], x, wk)
        u, v = solve(e[0], e[1], e[2], e[3], e[4], eps)
        return u, v, min_eigenvalue(e[0], e[1], e[2])
    w = vs2d.shape[1] // 5
    m = wk.shape[0] - 1
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    a4 = 0.0
    for k in range(-m, m + 1):
        b = 5 * min(max(x + k, 0), w - 1)
        a0 += vs2d[y, b]
        a1 += vs2d[y, b + 1]
        a2 += vs2d[y, b + 2]
        a3 += vs2d[y, b + 3]
        a4 += vs2d[y, b + 4]
    sc = wk[0] * wk[0]
    u, v = solve(a0 * sc, a1 * sc, a2 * sc, a3 * sc, a4 * sc, eps)
    return u, v, min_eigenvalue(a0 * sc, a1 * sc, a2 * sc)


# ----------------------------------------------------------------------------- CPU drivers
# The CPU drivers sum the same terms in the same order as the per-pixel functions above,
# but row by row (loops over x innermost) so that the compiler can vectorise them.

@internal
def _pyramid_row(img, norm, kern, yidx, yfrac, xidx, xfrac, dy, vb, hb, orow):
    """Row ``dy`` of a pyramid level into ``orow`` (w,) from the plane ``img`` (H, W).

    The (at most two) source rows the resize reads are blurred vertically, then
    horizontally, then interpolated. Scratch ``vb``, ``hb``: (2, W) float32.
    """
    hfull, wfull = img.shape
    r = kern.shape[0] // 2
    inner = wfull - 2 * r
    nrows = 1 if yfrac[dy] == 0 else 2
    for j in range(nrows):
        y = min(yidx[dy] + j, hfull - 1)
        row = vb[j]
        for x in range(wfull):
            row[x] = 0.0
        for k in range(kern.shape[0]):
            src = img[reflect101(y + k - r, hfull)]
            kk = kern[k]
            for x in range(wfull):
                row[x] += kk * np.float32(src[x])
        for x in range(wfull):
            row[x] *= norm
        # a full-resolution level is the blur itself: write it straight to the output
        direct = orow.shape[0] == wfull and nrows == 1
        hrow = orow if direct else hb[j]
        if inner > 0:
            mid = hrow[r:r + inner]
            for x in range(inner):
                mid[x] = 0.0
            for k in range(kern.shape[0]):
                seg = row[k:k + inner]
                kk = kern[k]
                for x in range(inner):
                    mid[x] += kk * seg[x]
        for x in range(wfull):
            if x < r or x >= r + inner:
                hrow[x] = pyr_horizontal(row, x, kern)
    if orow.shape[0] == wfull and nrows == 1:
        return
    top = hb[0]
    bot = hb[1]
    ay = yfrac[dy]
    one = np.float32(1.0)
    for dx in range(orow.shape[0]):
        c0 = xidx[dx]
        c1 = min(c0 + 1, wfull - 1)
        ax = xfrac[dx]
        t = top[c0]
        if ax != 0:
            t = t * (one - ax) + top[c1] * ax
        if ay != 0:
            b = bot[c0]
            if ax != 0:
                b = b * (one - ax) + bot[c1] * ax
            t = t * (one - ay) + b * ay
        orow[dx] = t


@internal
def _poly_row(img, y, ybase, hl, g, xg, xxg, ig, vb, bb, orow):
    """Expansion of row ``y`` of a level (height ``hl``) into ``orow`` (w, 5).

    ``img`` holds level rows ``ybase ..`` (all rows ``y - n .. y + n`` that exist).
    Scratch: ``vb`` (3, w + 2n), ``bb`` (6, >= min(w, _BLOCK)). Inner loops index slices
    with the bare loop variable: Numba then omits the negative-index fix-up and LLVM
    vectorises them.
    """
    w = img.shape[1]
    n = g.shape[0] - 1
    g0 = g[0]
    t0 = vb[0]
    t1 = vb[1]
    t2 = vb[2]
    c0 = t0[n:n + w]
    c1 = t1[n:n + w]
    c2 = t2[n:n + w]
    b1 = bb[0]
    b2 = bb[1]
    b3 = bb[2]
    b4 = bb[3]
    b5 = bb[4]
    b6 = bb[5]
    centre = img[y - ybase]
    for x in range(w):
        c0[x] = centre[x] * g0
        c1[x] = 0.0
        c2[x] = 0.0
    for k in range(1, n + 1):
        a = img[max(y - k, 0) - ybase]
        b = img[min(y + k, hl - 1) - ybase]
        gk = g[k]
        xgk = xg[k]
        xxgk = xxg[k]
        for x in range(w):
            p = a[x] + b[x]
            c0[x] += gk * p
            c1[x] += xgk * (b[x] - a[x])
            c2[x] += xxgk * p
    for k in range(n):  # replicated columns
        t0[k] = t0[n]
        t1[k] = t1[n]
        t2[k] = t2[n]
        t0[w + n + k] = t0[w + n - 1]
        t1[w + n + k] = t1[w + n - 1]
        t2[w + n + k] = t2[w + n - 1]
    for xb in range(0, w, _BLOCK):  # blocks of columns keep the twelve rows in L1
        bw = min(_BLOCK, w - xb)
        for x in range(bw):
            b1[x] = c0[xb + x] * g0
            b2[x] = 0.0
            b3[x] = c1[xb + x] * g0
            b4[x] = 0.0
            b5[x] = c2[xb + x] * g0
            b6[x] = 0.0
        for k in range(1, n + 1):
            gk = g[k]
            xgk = xg[k]
            xxgk = xxg[k]
            lo = xb + n - k
            hi = xb + n + k
            l0 = t0[lo:lo + bw]
            h0 = t0[hi:hi + bw]
            l1 = t1[lo:lo + bw]
            h1 = t1[hi:hi + bw]
            l2 = t2[lo:lo + bw]
            h2 = t2[hi:hi + bw]
            for x in range(bw):
                tg = h0[x] + l0[x]
                b1[x] += tg * gk
                b4[x] += tg * xxgk
                b2[x] += (h0[x] - l0[x]) * xgk
                b3[x] += (h1[x] + l1[x]) * gk
                b6[x] += (h1[x] - l1[x]) * xgk
                b5[x] += (h2[x] + l2[x]) * gk
        ob = orow[xb:xb + bw]
        for x in range(bw):
            r = poly_coefficients(b1[x], b2[x], b3[x], b4[x], b5[x], b6[x], ig)
            ob[x, 0] = r[0]
            ob[x, 1] = r[1]
            ob[x, 2] = r[2]
            ob[x, 3] = r[3]
            ob[x, 4] = r[4]


def pyramid_level_cpu(img, norm, kern, yidx, yfrac, xidx, xfrac, out):
    """Level image ``out`` (h, w) from the full-resolution plane ``img`` (H, W).

    Single-stage driver for tests and reference; ``farneback_cpu`` uses ``expand_all_cpu``.
    """
    run_bands(_pyramid_level_cpu_band, img, norm, kern, yidx, yfrac, xidx, xfrac, out)


@jit
def _pyramid_level_cpu_band(img, norm, kern, yidx, yfrac, xidx, xfrac, out, band, n_bands):
    """Work items ``band`` of ``n_bands`` of :func:`pyramid_level_cpu` (``parallel.run_bands``)."""
    h = out.shape[0]
    start, stop = band_range(h, band, n_bands)
    for dy in range(start, stop):
        vb = np.empty((2, img.shape[1]), np.float32)
        hb = np.empty((2, img.shape[1]), np.float32)
        _pyramid_row(img, norm, kern, yidx, yfrac, xidx, xfrac, dy, vb, hb, out[dy])


def poly_exp_cpu(img, g, xg, xxg, ig, out):
    """Polynomial expansion ``out`` (h, w, 5) of ``img`` (h, w).

    Single-stage driver for tests and reference; ``farneback_cpu`` uses ``expand_all_cpu``.
    """
    run_bands(_poly_exp_cpu_band, img, g, xg, xxg, ig, out)


@jit
def _poly_exp_cpu_band(img, g, xg, xxg, ig, out, band, n_bands):
    """Work items ``band`` of ``n_bands`` of :func:`poly_exp_cpu` (``parallel.run_bands``)."""
    h, w = img.shape
    n = g.shape[0] - 1
    start, stop = band_range(h, band, n_bands)
    for y in range(start, stop):
        vb = np.empty((3, w + 2 * n), np.float32)
        bb = np.empty((6, w), np.float32)
        _poly_row(img, y, 0, h, g, xg, xxg, ig, vb, bb, out[y])


def expand_all_cpu(planes, norm, items, lvl, kerns, ytab, yfr, xtab, xfr, g, xg, xxg, ig,
                   R0, R1):
    """Pyramid levels and polynomial expansions of both frames, all levels, one launch.

    ``planes`` (2, C, H, W): the frames. ``items`` (K, 5) int64 rows
    ``(level, frame, channel, y0, y1)``: each computes its pyramid rows
    ``y0 - n .. y1 + n`` and expands rows ``y0 .. y1``. ``lvl`` (L, 6) int64 per level:
    ``(h, w, table offset y, table offset x, kernel offset, R offset)``; ``kerns`` holds
    each level's blur kernel at its offset (length ``kern_len = lvl[..., 6]``), the
    resize tables are concatenated in ``ytab, yfr`` / ``xtab, xfr``. ``R0``, ``R1``: flat
    outputs, level ``l`` at offset ``lvl[l, 5]`` laid out (C, h, w, 5).
    """
    run_bands(_expand_all_cpu_band, planes, norm, items, lvl, kerns, ytab, yfr, xtab, xfr, g, xg,
              xxg, ig, R0, R1)


@jit
def _expand_all_cpu_band(planes, norm, items, lvl, kerns, ytab, yfr, xtab, xfr, g, xg, xxg, ig,
                         R0, R1, band, n_bands):
    """Work items ``band`` of ``n_bands`` of :func:`expand_all_cpu` (``parallel.run_bands``)."""
    n = g.shape[0] - 1
    nc = planes.shape[1]
    wfull = planes.shape[3]
    start, stop = band_range(items.shape[0], band, n_bands)
    for it in range(start, stop):
        li = items[it, 0]
        f = items[it, 1]
        c = items[it, 2]
        y0 = items[it, 3]
        y1 = items[it, 4]
        h = lvl[li, 0]
        w = lvl[li, 1]
        kern = kerns[lvl[li, 4]:lvl[li, 4] + lvl[li, 6]]
        yidx = ytab[lvl[li, 2]:lvl[li, 2] + h]
        yfrac = yfr[lvl[li, 2]:lvl[li, 2] + h]
        xidx = xtab[lvl[li, 3]:lvl[li, 3] + w]
        xfrac = xfr[lvl[li, 3]:lvl[li, 3] + w]
        ya = max(y0 - n, 0)
        yb = min(y1 + n, h)
        img = np.empty((yb - ya, w), np.float32)
        vb = np.empty((2, wfull), np.float32)
        hb = np.empty((2, wfull), np.float32)
        plane = planes[f, c]
        for dy in range(ya, yb):
            _pyramid_row(plane, norm, kern, yidx, yfrac, xidx, xfrac, dy, vb, hb, img[dy - ya])
        size = nc * h * w * 5
        base = lvl[li, 5]
        dst = R0[base:base + size] if f == 0 else R1[base:base + size]
        out = dst.reshape((nc, h, w, 5))[c]
        v3 = np.empty((3, w + 2 * n), np.float32)
        b6 = np.empty((6, w), np.float32)
        for y in range(y0, y1):
            _poly_row(img, y, ya, h, g, xg, xxg, ig, v3, b6, out[y])


@internal
def _matrix_row(R0, R1, nc, h, w, frow, y, dst, bwx, sb):
    """Normal equations of row ``y`` (flow row ``frow`` (w, 2)) into ``dst`` (5 w,).

    Same arithmetic as ``normal_equations``, split in two passes per channel so that the
    second vectorises: (1) bilinear samples of R1 at the displaced positions into ``sb``
    (5, w) (outside the image: 0, 0 and R0's own quadratic terms, which makes
    ``(R0 + s) / 2`` equal R0 exactly); (2) the update terms and their products.
    """
    wy = axis_weight(y, h)
    r0all = R0.reshape((nc, h, w, 5))
    r1all = R1.reshape((nc, h, w, 5))
    mrow = dst.reshape((w, 5))
    half = np.float32(0.5)
    quarter = np.float32(0.25)
    one = np.float32(1.0)
    s0 = sb[0]
    s1 = sb[1]
    s2 = sb[2]
    s3 = sb[3]
    s4 = sb[4]
    for c in range(nc):
        r0 = r0all[c, y]
        r1 = r1all[c]
        for x in range(w):
            fx = np.float32(x) + frow[x, 0]
            fy = np.float32(y) + frow[x, 1]
            x1 = fast_floor(fx)
            y1 = fast_floor(fy)
            ax = fx - np.float32(x1)
            ay = fy - np.float32(y1)
            if (0 <= x1 and (x1 < w - 1 or (x1 == w - 1 and ax == 0))
                    and 0 <= y1 and (y1 < h - 1 or (y1 == h - 1 and ay == 0))):
                x2 = min(x1 + 1, w - 1)
                y2 = min(y1 + 1, h - 1)
                a00 = (one - ax) * (one - ay)
                a01 = ax * (one - ay)
                a10 = (one - ax) * ay
                a11 = ax * ay
                p = r1[y1, x1]
                q = r1[y1, x2]
                u = r1[y2, x1]
                v = r1[y2, x2]
                s0[x] = a00 * p[0] + a01 * q[0] + a10 * u[0] + a11 * v[0]
                s1[x] = a00 * p[1] + a01 * q[1] + a10 * u[1] + a11 * v[1]
                s2[x] = a00 * p[2] + a01 * q[2] + a10 * u[2] + a11 * v[2]
                s3[x] = a00 * p[3] + a01 * q[3] + a10 * u[3] + a11 * v[3]
                s4[x] = a00 * p[4] + a01 * q[4] + a10 * u[4] + a11 * v[4]
            else:
                s0[x] = 0.0
                s1[x] = 0.0
                s2[x] = r0[x, 2]
                s3[x] = r0[x, 3]
                s4[x] = r0[x, 4]
        for x in range(w):
            dx = frow[x, 0]
            dy = frow[x, 1]
            sc = bwx[x] * wy
            r4 = (r0[x, 2] + s2[x]) * half
            r5 = (r0[x, 3] + s3[x]) * half
            r6 = (r0[x, 4] + s4[x]) * quarter
            r2 = (r0[x, 0] - s0[x]) * half
            r3 = (r0[x, 1] - s1[x]) * half
            r2 += r4 * dy + r6 * dx
            r3 += r6 * dy + r5 * dx
            r2 *= sc
            r3 *= sc
            r4 *= sc
            r5 *= sc
            r6 *= sc
            if c == 0:
                mrow[x, 0] = r4 * r4 + r6 * r6
                mrow[x, 1] = (r4 + r5) * r6
                mrow[x, 2] = r5 * r5 + r6 * r6
                mrow[x, 3] = r4 * r2 + r6 * r3
                mrow[x, 4] = r6 * r2 + r5 * r3
            else:
                mrow[x, 0] += r4 * r4 + r6 * r6
                mrow[x, 1] += (r4 + r5) * r6
                mrow[x, 2] += r5 * r5 + r6 * r6
                mrow[x, 3] += r4 * r2 + r6 * r3
                mrow[x, 4] += r6 * r2 + r5 * r3
    if nc > 1:
        inv = np.float32(1.0 / nc)
        for i in range(dst.shape[0]):
            dst[i] *= inv


@internal
def _slot(r, nring):
    return (r % nring + nring) % nring


@internal
def _flow_row(flow, coarse, uyidx, uyfrac, uxidx, uxfrac, factor, y, buf):
    """Row ``y`` of the current flow: ``flow[y]``, or, when ``coarse`` has rows, that row
    of the coarser level's flow upsampled on the fly (``resize_flow_pixel``) into ``buf``."""
    if coarse.shape[0] == 0:
        return flow[y]
    for x in range(buf.shape[0]):
        for k in range(2):
            buf[x, k] = resize_flow_pixel(coarse, y, x, uyidx, uyfrac, uxidx, uxfrac, factor, k)
    return buf


def iterate_cpu(R0, R1, nc, h, w, flow_in, coarse, uyidx, uyfrac, uxidx, uxfrac, factor,
                flow_out, conf, wk, box, eps, strips, bwx, ring, vsum):
    """One Farneback iteration: normal equations from the current flow, blur, solve into
    ``flow_out``.

    ``R0, R1``: flattened (C, h, w, 5) expansions. The current flow is ``flow_in``
    (h, w, 2), or, when ``coarse`` has rows, the coarser level's flow upsampled with the
    tables ``uyidx, uyfrac, uxidx, uxfrac`` and multiplied by ``factor`` (the first
    iteration of a level: no separate resize pass). ``wk`` (m + 1,) float64 window
    weights; ``box`` selects running box sums (``_iterate_box_band``), else the Gaussian
    window (``_iterate_gauss_band``): one driver per window, so that a call compiles only
    its own. ``conf`` (h, w) receives the smaller eigenvalue of the blurred G when it has
    rows (else shape (0, 0)). ``bwx`` (w,) float32: ``axis_weight`` of each column.
    Scratch: ``ring`` (S, 2m + 2, 5 w) float32 rows of normal equations, ``vsum`` (S, 5 w)
    float64.
    """
    run_bands(_iterate_box_band if box else _iterate_gauss_band, R0, R1, nc, h, w, flow_in,
              coarse, uyidx, uyfrac, uxidx, uxfrac, factor, flow_out, conf, wk, eps, strips,
              bwx, ring, vsum)


@internal(inline="always")
def _row_scratch(w):
    """Scratch rows of a band: normal equations (5, w) and the flow row (w, 2), float32."""
    return np.empty((5, w), np.float32), np.empty((w, 2), np.float32)


@internal(inline="always")
def _ring_row(R0, R1, nc, h, w, flow_in, coarse, uyidx, uyfrac, uxidx, uxfrac, factor, r, rg,
              bwx, sb, fbuf):
    """Normal equations of row ``r`` (clamped to the image) into its slot of the ring ``rg``;
    returns that slot."""
    yc = min(max(r, 0), h - 1)
    frow = _flow_row(flow_in, coarse, uyidx, uyfrac, uxidx, uxfrac, factor, yc, fbuf)
    dst = rg[_slot(r, rg.shape[0])]
    _matrix_row(R0, R1, nc, h, w, frow, yc, dst, bwx, sb)
    return dst


@jit
def _iterate_box_band(R0, R1, nc, h, w, flow_in, coarse, uyidx, uyfrac, uxidx, uxfrac, factor,
                      flow_out, conf, wk, eps, strips, bwx, ring, vsum, band, n_bands):
    """Work items ``band`` of ``n_bands`` of :func:`iterate_cpu` with the box window
    (``parallel.run_bands``): a running float64 column sum over the ring."""
    m = wk.shape[0] - 1
    sb, fbuf = _row_scratch(w)
    start, stop = band_range(strips.shape[0] - 1, band, n_bands)
    for s in range(start, stop):
        y0 = strips[s]
        rg = ring[s]
        nring = rg.shape[0]  # 2m + 2
        vs = vsum[s]
        for i in range(vs.shape[0]):
            vs[i] = 0.0
        for r in range(y0 - m, y0 + m + 1):  # the strip's first window, summed
            src = _ring_row(R0, R1, nc, h, w, flow_in, coarse, uyidx, uyfrac, uxidx, uxfrac,
                            factor, r, rg, bwx, sb, fbuf)
            for i in range(vs.shape[0]):
                vs[i] += src[i]
        for y in range(y0, strips[s + 1]):
            if y > y0:
                add = _ring_row(R0, R1, nc, h, w, flow_in, coarse, uyidx, uyfrac, uxidx,
                                uxfrac, factor, y + m, rg, bwx, sb, fbuf)
                if y % STRIP_ANCHOR == 0:
                    # summed afresh, in the order a strip starting here sums: the rounding of
                    # the running sum then does not depend on where strips start (the thread
                    # count)
                    for i in range(vs.shape[0]):
                        vs[i] = 0.0
                    for r in range(y - m, y + m + 1):
                        src = rg[_slot(r, nring)]
                        for i in range(vs.shape[0]):
                            vs[i] += src[i]
                else:
                    old = rg[_slot(y - m - 1, nring)]
                    for i in range(vs.shape[0]):
                        vs[i] += np.float64(add[i]) - np.float64(old[i])
            _solve_box_row(vs, m, wk[0] * wk[0], eps, flow_out[y], conf, y)


@jit
def _iterate_gauss_band(R0, R1, nc, h, w, flow_in, coarse, uyidx, uyfrac, uxidx, uxfrac, factor,
                        flow_out, conf, wk, eps, strips, bwx, ring, vsum, band, n_bands):
    """Work items ``band`` of ``n_bands`` of :func:`iterate_cpu` with the Gaussian window
    (``parallel.run_bands``): each row's column sum weighted afresh from the ring."""
    m = wk.shape[0] - 1
    nring = ring.shape[1]  # 2m + 2
    want_conf = conf.shape[0] > 0
    sb, fbuf = _row_scratch(w)
    start, stop = band_range(strips.shape[0] - 1, band, n_bands)
    for s in range(start, stop):
        y0 = strips[s]
        for y in range(y0 - 2 * m, strips[s + 1]):
            # row y + m's normal equations: those of the strip's first window, then one a row
            _ring_row(R0, R1, nc, h, w, flow_in, coarse, uyidx, uyfrac, uxidx, uxfrac, factor,
                      y + m, ring[s], bwx, sb, fbuf)
            if y < y0:
                continue
            vs = vsum[s]
            centre = ring[s, _slot(y, nring)]
            for i in range(vs.shape[0]):
                vs[i] = wk[0] * centre[i]
            for k in range(1, m + 1):
                up = ring[s, _slot(y - k, nring)]
                dn = ring[s, _slot(y + k, nring)]
                for i in range(vs.shape[0]):
                    vs[i] += wk[k] * (np.float64(up[i]) + np.float64(dn[i]))
            frow = flow_out[y]
            for x in range(frow.shape[0]):
                e0, e1, e2, e3, e4 = gauss_row_pixel(vs, x, wk)
                frow[x, 0], frow[x, 1] = solve(e0, e1, e2, e3, e4, eps)
                if want_conf:
                    conf[y, x] = min_eigenvalue(e0, e1, e2)


@internal
def _solve_box_row(vs, m, sc, eps, frow, conf, y):
    """Row ``y`` of the flow (and of ``conf`` when it has rows) from the column sums ``vs``
    (5 w,) by a running horizontal box sum of half-width ``m``, scaled by ``sc``."""
    w = vs.shape[0] // 5
    want_conf = conf.shape[0] > 0
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    a4 = 0.0
    for k in range(-m, m + 1):
        b = 5 * min(max(k, 0), w - 1)
        a0 += vs[b]
        a1 += vs[b + 1]
        a2 += vs[b + 2]
        a3 += vs[b + 3]
        a4 += vs[b + 4]
    for x in range(w):
        if x > 0:
            ba = 5 * min(x + m, w - 1)
            br = 5 * max(x - m - 1, 0)
            a0 += vs[ba] - vs[br]
            a1 += vs[ba + 1] - vs[br + 1]
            a2 += vs[ba + 2] - vs[br + 2]
            a3 += vs[ba + 3] - vs[br + 3]
            a4 += vs[ba + 4] - vs[br + 4]
        e0 = a0 * sc
        e1 = a1 * sc
        e2 = a2 * sc
        frow[x, 0], frow[x, 1] = solve(e0, e1, e2, a3 * sc, a4 * sc, eps)
        if want_conf:
            conf[y, x] = min_eigenvalue(e0, e1, e2)


def resize_flow_cpu(src, yidx, yfrac, xidx, xfrac, factor, out):
    """Bilinear resize of a flow (OpenCV INTER_LINEAR) times ``factor`` into ``out``.

    Single-stage driver for tests; ``iterate_cpu`` upsamples inside the first iteration.
    """
    run_bands(_resize_flow_cpu_band, src, yidx, yfrac, xidx, xfrac, factor, out)


@jit
def _resize_flow_cpu_band(src, yidx, yfrac, xidx, xfrac, factor, out, band, n_bands):
    """Work items ``band`` of ``n_bands`` of :func:`resize_flow_cpu` (``parallel.run_bands``)."""
    # resize_flow_pixel with the row's taps looked up once per row: 2.5x faster
    h, w = src.shape[0], src.shape[1]
    start, stop = band_range(out.shape[0], band, n_bands)
    for dy in range(start, stop):
        y0 = yidx[dy]
        ay = yfrac[dy]
        top, bottom, row = src[y0], src[min(y0 + 1, h - 1)], out[dy]
        for dx in range(out.shape[1]):
            x0 = xidx[dx]
            x1 = min(x0 + 1, w - 1)
            for k in range(2):
                row[dx, k] = _blend(top[x0, k], top[x1, k], bottom[x0, k], bottom[x1, k],
                                    xfrac[dx], ay, factor)


def area_flow_cpu(src, yidx, ywts, xidx, xwts, factor, out):
    """INTER_AREA resize of a flow times ``factor`` into ``out``."""
    run_bands(_area_flow_cpu_band, src, yidx, ywts, xidx, xwts, factor, out)


@jit
def _area_flow_cpu_band(src, yidx, ywts, xidx, xwts, factor, out, band, n_bands):
    """Work items ``band`` of ``n_bands`` of :func:`area_flow_cpu` (``parallel.run_bands``)."""
    h, w = out.shape[0], out.shape[1]
    start, stop = band_range(h, band, n_bands)
    for dy in range(start, stop):
        for dx in range(w):
            for k in range(2):
                out[dy, dx, k] = area_flow_pixel(src, dy, dx, yidx, ywts, xidx, xwts, factor, k)


# ------------------------------------------------------------------------------ host driver

@functools.lru_cache(maxsize=64)
def column_weights(w):
    """``axis_weight`` of every column, float32 (w,) (cached: do not modify)."""
    out = np.ones(w, np.float32)
    i = np.arange(w)
    lo = i < BORDER
    hi = i >= w - BORDER
    out[lo] *= BORDER_WEIGHTS[i[lo]]
    out[hi] *= BORDER_WEIGHTS[w - 1 - i[hi]]
    return out


def strips_for(height, parts):
    """Row boundaries (int64) splitting ``height`` rows into about ``parts`` strips, each
    starting at a multiple of ``STRIP_ANCHOR`` (fewer strips where the frame is short)."""
    parts = max(1, min(parts, -(-height // STRIP_ANCHOR)))
    starts = (np.linspace(0, height, parts + 1)[:-1] / STRIP_ANCHOR).round() * STRIP_ANCHOR
    return np.append(np.unique(starts.astype(np.int64)), np.int64(height))


class Workspace:
    """Buffers kept between calls (keyed by name; reallocated only when shape/dtype change)."""

    def __init__(self, empty=np.empty):
        self._buffers = {}
        self._empty = empty
        self.tables = {}

    def get(self, name, shape, dtype=np.float32):
        shape = tuple(int(s) for s in shape)
        buf = self._buffers.get(name)
        if buf is None or tuple(buf.shape) != shape or buf.dtype != np.dtype(dtype):
            buf = self._empty(shape, dtype)
            self._buffers[name] = buf
        return buf

    def swap(self, name0, name1):
        """Exchange two named buffers (the expansion of frame1 becomes that of frame0)."""
        b = self._buffers
        b[name0], b[name1] = b.get(name1), b.get(name0)

    def table(self, key, make):
        """A host-side table cached under ``key`` (built by ``make()`` on first use)."""
        value = self.tables.get(key)
        if value is None:
            if len(self.tables) > 64:  # many frame sizes: start over rather than grow
                self.tables.clear()
            value = make()
            self.tables[key] = value
        return value


class Params:
    """Algorithm options and the constants derived from them (host side)."""

    def __init__(self, pyr_scale, levels, winsize, iterations, poly_n, poly_sigma, gaussian):
        self.pyr_scale = pyr_scale
        self.levels = levels
        self.winsize = winsize
        self.iterations = iterations
        self.poly_n = poly_n
        self.poly_sigma = poly_sigma
        self.gaussian = gaussian
        self.g, self.xg, self.xxg, self.ig = poly_constants(poly_n, poly_sigma)
        self.wk = window_kernel(winsize, gaussian)
        self.m = winsize // 2


def level_tables(ws, plan, height, width):
    """Per-level resize tables (cached in the workspace)."""
    def make():
        out = []
        for i, (scale, h, w) in enumerate(plan):
            kern = pyramid_kernel(scale)
            yi, yf = resize_table(height, h)
            xi, xf = resize_table(width, w)
            if i + 1 < len(plan):
                _, hc, wc = plan[i + 1]
                uyi, uyf = resize_table(hc, h)
                uxi, uxf = resize_table(wc, w)
            else:
                uyi = uyf = uxi = uxf = None
            out.append(dict(kern=kern, yidx=yi, yfrac=yf, xidx=xi, xfrac=xf,
                            uyidx=uyi, uyfrac=uyf, uxidx=uxi, uxfrac=uxf))
        return out
    return ws.table(("levels", tuple(plan), height, width), make)


def packed_tables(ws, plan, height, width, nc):
    """Level tables of ``expand_all_cpu`` (cached): ``(lvl, kerns, ytab, yfr, xtab, xfr,
    r_size)``, ``r_size`` being the length of one frame's flat expansion buffer."""
    def make():
        tabs = level_tables(ws, plan, height, width)
        lvl = np.zeros((len(plan), 7), np.int64)
        yo = xo = ko = ro = 0
        for i, ((_, h, w), t) in enumerate(zip(plan, tabs)):
            lvl[i] = (h, w, yo, xo, ko, ro, t["kern"].shape[0])
            yo += h
            xo += w
            ko += t["kern"].shape[0]
            ro += nc * h * w * 5
        cat = np.concatenate
        return (lvl, cat([t["kern"] for t in tabs]), cat([t["yidx"] for t in tabs]),
                cat([t["yfrac"] for t in tabs]), cat([t["xidx"] for t in tabs]),
                cat([t["xfrac"] for t in tabs]), ro)
    return ws.table(("packed", tuple(plan), height, width, nc), make)


def expansion_items(plan, nc, frames, threads):
    """Work items ``(level, frame, channel, y0, y1)`` of ``expand_all_cpu``, largest first;
    about four row blocks per thread at full resolution (dynamic scheduling)."""
    rows = max(16, -(-plan[0][1] // (4 * threads)))
    items = []
    for li, (_, h, _) in enumerate(plan):
        for y0 in range(0, h, rows):
            for f in frames:
                for c in range(nc):
                    items.append((li, f, c, y0, min(y0 + rows, h)))
    return np.array(items, np.int64)


def normalise_confidence(conf):
    """Divide each (h, w) map of ``conf`` (N, h, w) by its maximum, in place (0 stays 0)."""
    for c in conf:
        top = float(c.max())
        if top > 0:
            c *= np.float32(1.0 / top)
        else:
            c[...] = 0


def farneback_cpu(frame0, frame1, params, plan, norm, init_flow, out, conf, ws, threads,
                  reuse_first=False):
    """Flow of one pair on the CPU.

    Parameters
    ----------
    frame0, frame1 : ndarray (H, W, C)
        uint8, uint16 or float32 frames, C-contiguous.
    params : Params
    plan : list of (scale, h, w)
        From ``plan_levels``; level 0 is (1.0, H, W).
    norm : float
        Factor taking the frames to [0, 1] (1/255, 1/65535 or 1).
    init_flow : ndarray (H, W, 2) float32 or None
        Initial estimate (OpenCV's OPTFLOW_USE_INITIAL_FLOW).
    out : ndarray (H, W, 2) float32
        Receives the flow.
    conf : ndarray (H, W) float32 or None
        Receives the raw smaller eigenvalue of the blurred G (not normalised).
    ws : Workspace
    threads : int
        Number of CPU threads (sets the strip count).
    reuse_first : bool
        ``frame0`` is the ``frame1`` of the previous call with this workspace: its
        expansions are taken from there instead of being recomputed.
    """
    height, width, nc = frame0.shape
    tabs = level_tables(ws, plan, height, width)
    lvl, kerns, ytab, yfr, xtab, xfr, r_size = packed_tables(ws, plan, height, width, nc)
    p = params
    nring = 2 * p.m + 2
    if reuse_first:
        ws.swap("R0", "R1")
    R0 = ws.get("R0", (r_size,))
    R1 = ws.get("R1", (r_size,))
    planes = ws.get("planes", (2, nc, height, width), frame0.dtype)
    frames = (1,) if reuse_first else (0, 1)
    for f in frames:
        planes[f] = np.moveaxis((frame0, frame1)[f], 2, 0)
    items = ws.table(("items", tuple(plan), nc, frames, threads),
                     lambda: expansion_items(plan, nc, frames, threads))
    with numba.parallel_chunksize(1):  # dynamic scheduling of the work items
        expand_all_cpu(planes, np.float32(norm), items, lvl, kerns, ytab, yfr, xtab, xfr,
                       p.g, p.xg, p.xxg, p.ig, R0, R1)
    prev = None
    empty_conf = ws.get("noconf", (0, 0))
    no_coarse = ws.get("nocoarse", (0, 0, 2))
    no_table = (np.zeros(0, np.int32), np.zeros(0, np.float32)) * 2
    for li in range(len(plan) - 1, -1, -1):
        scale, h, w = plan[li]
        t = tabs[li]
        size = nc * h * w * 5
        r0 = R0[lvl[li, 5]:lvl[li, 5] + size]
        r1 = R1[lvl[li, 5]:lvl[li, 5] + size]
        strips = strips_for(h, 2 * threads if threads > 1 else 1)
        nst = strips.shape[0] - 1
        # initial flow of this level; iterations alternate between two buffers, and the
        # start buffer is chosen so that the last iteration writes the level's result
        final = out if li == 0 else ws.get("flow%d" % li, (h, w, 2))
        other = ws.get("flowtmp%d" % li, (h, w, 2))
        start = final if p.iterations % 2 == 0 else other
        ring = ws.get("ring%d" % li, (nst, nring, 5 * w))
        vsum = ws.get("vsum%d" % li, (nst, 5 * w), np.float64)
        bwx = column_weights(w)
        with numba.parallel_chunksize(1):
            coarse, up = no_coarse, no_table
            if prev is not None:  # upsampled inside the first iteration
                coarse = prev
                up = (t["uyidx"], t["uyfrac"], t["uxidx"], t["uxfrac"])
            elif init_flow is not None:
                ay = ws.table(("area", height, h), lambda: area_table(height, h))
                ax = ws.table(("area", width, w), lambda: area_table(width, w))
                area_flow_cpu(init_flow, ay[0], ay[1], ax[0], ax[1], np.float32(scale), start)
            else:
                start[...] = 0
            factor = np.float32(1.0 / p.pyr_scale)
            src, dst = start, (other if start is final else final)
            for it in range(p.iterations):
                last = it == p.iterations - 1
                cbuf = conf if (li == 0 and last and conf is not None) else empty_conf
                iterate_cpu(r0, r1, nc, h, w, src, coarse, up[0], up[1], up[2], up[3], factor,
                            dst, cbuf, p.wk, not p.gaussian, EPS, strips, bwx, ring, vsum)
                coarse, up = no_coarse, no_table
                src, dst = dst, src
        prev = final
    return out
