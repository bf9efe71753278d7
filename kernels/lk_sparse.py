"""Sparse pyramidal Lucas-Kanade tracking and the Shi-Tomasi corner response.

Layout shared by the CPU drivers here and the CUDA drivers in ``lk_sparse_cuda``:
an image pyramid is one flat float32 buffer; level ``l`` starts at ``offs[l]`` and holds
``hs[l] x ws[l]`` pixels of ``C`` interleaved channels, so pixel ``(y, x)`` channel ``c`` is
``buf[offs[l] + (y * ws[l] + x) * C + c]``. The Scharr derivatives of a pyramid live in two
buffers of the same layout (``gx``, ``gy``), in intensity units per pixel.

The per-pixel math is written once: scalar ``njit`` helpers, and "flat" array helpers that
call only scalar helpers (so ``lk_sparse_cuda`` can compile their ``py_func`` as CUDA device
functions, which also works in Numba's simulator). The CPU drivers add fast paths for windows
that lie inside the image, written as plain contiguous loops that LLVM vectorises.

Semantics follow OpenCV's ``calcOpticalFlowPyrLK`` (lkpyramid.cpp): 5-tap [1 4 6 4 1]/16
pyramid, reflect-101 image borders and zero derivatives outside the image, Scharr derivatives
of frame0, a fixed per-point Hessian (inverse compositional), bilinear sampling with exact float
weights, OpenCV's stopping rules and oscillation guard.
"""

import math

import numpy as np
from numba import njit, prange

from .interp import BORDER_REFLECT101, border_index

# Reassociation lets LLVM vectorise the window sums; no 'nnan'/'ninf', so NaN tests stay valid.
FAST = {"reassoc", "contract", "nsz", "arcp"}
FLT_EPSILON = 1.1920928955078125e-07
R101 = BORDER_REFLECT101


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


def pyramid_offsets(shapes, channels):
    """``(offs, hs, ws, total)`` int64 arrays for the flat layout described in the module doc."""
    hs = np.array([s[0] for s in shapes], np.int64)
    ws = np.array([s[1] for s in shapes], np.int64)
    sizes = hs * ws * channels
    offs = np.zeros(len(shapes), np.int64)
    offs[1:] = np.cumsum(sizes)[:-1]
    return offs, hs, ws, int(sizes.sum())


# --------------------------------------------------------------------------------------------
# scalar math (shared by CPU and CUDA)


@njit(cache=True)
def blur5(v0, v1, v2, v3, v4):
    """The [1 4 6 4 1] / 16 binomial tap of ``pyrDown``."""
    return (v0 + v4 + 4 * (v1 + v3) + 6 * v2) * 0.0625


@njit(cache=True)
def pyr_round(v, integer):
    """Integer frames keep integer pyramid levels, rounded half up like ``cv2.pyrDown``."""
    return math.floor(v + 0.5) if integer else v


@njit(cache=True)
def scharr_xy(a00, a01, a02, a10, a12, a20, a21, a22):
    """Scharr derivatives from a 3x3 neighbourhood ``a[row][col]``, in intensity per pixel.

    OpenCV's raw Scharr kernel (3, 10, 3) x (-1, 0, 1) gives 32 x the gradient; the result
    here is that divided by 32.
    """
    gx = (3 * (a02 - a00) + 10 * (a12 - a10) + 3 * (a22 - a20)) * 0.03125
    gy = (3 * (a20 - a00) + 10 * (a21 - a01) + 3 * (a22 - a02)) * 0.03125
    return gx, gy


@njit(cache=True)
def bilinear_weights(a, b):
    """float32 weights of the taps (0, 0), (0, 1), (1, 0), (1, 1) for fractions a (x), b (y)."""
    a = np.float32(a)
    b = np.float32(b)
    one = np.float32(1.0)
    return (one - a) * (one - b), a * (one - b), (one - a) * b, a * b


@njit(cache=True)
def lerp4(w00, w01, w10, w11, p00, p01, p10, p11):
    return w00 * p00 + w01 * p01 + w10 * p10 + w11 * p11


@njit(cache=True)
def window_inside(fx, fy, win_w, win_h, width, height):
    """OpenCV's test on a window's floored top-left corner (fx, fy); False for NaN or inf.

    The window may hang over the border by up to its own size (the image is read with
    reflect-101 borders, the derivatives as zero there).
    """
    return fx >= -win_w and fx < width and fy >= -win_h and fy < height


@njit(cache=True)
def window_interior(x0, y0, win_w, win_h, width, height):
    """True when every bilinear tap of the window is a pixel of the image."""
    return x0 >= 0 and y0 >= 0 and x0 + win_w < width and y0 + win_h < height


@njit(cache=True)
def hessian_check(a11, a12, a22, area, eig_scale, min_eig_threshold):
    """``(ok, 1 / det)`` of the window's Hessian [[a11, a12], [a12, a22]] (sums of g g^T).

    ``eig_scale`` converts to OpenCV's units (``(255 / range)**2 / 1024``): OpenCV's Hessian is
    built from raw Scharr values (32 x the gradient) and scaled by 2**-20, and its minimum
    eigenvalue is divided by the window area. Like OpenCV the point is rejected when that
    eigenvalue is below the threshold or the (scaled) determinant is below FLT_EPSILON.
    """
    a11 = np.float64(a11)
    a12 = np.float64(a12)
    a22 = np.float64(a22)
    det = a11 * a22 - a12 * a12
    min_eig = (a22 + a11 - math.sqrt((a11 - a22) * (a11 - a22) + 4.0 * a12 * a12)) / (2.0 * area)
    ok = min_eig * eig_scale >= min_eig_threshold and det * eig_scale * eig_scale >= FLT_EPSILON
    return ok, (1.0 / det if ok else 0.0)


@njit(cache=True)
def lk_delta(a11, a12, a22, inv_det, b1, b2):
    """Gauss-Newton step for the mismatch vector b = sum (J - I) g."""
    return (a12 * b2 - a22 * b1) * inv_det, (a12 * b1 - a11 * b2) * inv_det


@njit(cache=True)
def oscillates(dx, dy, pdx, pdy):
    """OpenCV's guard: this step nearly undoes the previous one."""
    return abs(dx + pdx) < 0.01 and abs(dy + pdy) < 0.01


@njit(cache=True)
def corner_min_eig(sxx, sxy, syy):
    """Smaller eigenvalue of [[sxx, sxy], [sxy, syy]] (as ``cv2.cornerMinEigenVal``)."""
    a = 0.5 * sxx
    c = 0.5 * syy
    return (a + c) - math.sqrt((a - c) * (a - c) + sxy * sxy)


# --------------------------------------------------------------------------------------------
# flat array helpers (call only scalar helpers; CUDA compiles their py_func)


@njit(cache=True)
def image_bilinear(buf, off, h, w, C, x0, y0, col, c, w00, w01, w10, w11):
    """Bilinear sample of channel c at window column ``col`` of a window whose top-left tap
    is (x0, y0) (integer) with reflect-101 borders."""
    xa = border_index(x0 + col, w, R101)
    xb = border_index(x0 + col + 1, w, R101)
    ya = border_index(y0, h, R101) * w
    yb = border_index(y0 + 1, h, R101) * w
    return lerp4(w00, w01, w10, w11, buf[off + (ya + xa) * C + c], buf[off + (ya + xb) * C + c],
                 buf[off + (yb + xa) * C + c], buf[off + (yb + xb) * C + c])


@njit(cache=True)
def deriv_bilinear(gx, gy, off, h, w, C, x0, y0, col, c, w00, w01, w10, w11):
    """Bilinear sample of both derivatives, taken as zero outside the image."""
    sx = np.float32(0.0)
    sy = np.float32(0.0)
    for k in range(4):
        yy = y0 + k // 2
        xx = x0 + col + k % 2
        if 0 <= yy < h and 0 <= xx < w:
            wk = w00 if k == 0 else w01 if k == 1 else w10 if k == 2 else w11
            i = off + (yy * w + xx) * C + c
            sx += wk * gx[i]
            sy += wk * gy[i]
    return sx, sy


@njit(cache=True)
def pyr_down_pixel(buf, soff, sh, sw, C, y, x, c):
    """One pixel of ``pyrDown`` (5x5 binomial, reflect-101 borders): vertical pass, then horizontal."""
    v0 = v1 = v2 = v3 = v4 = np.float32(0.0)
    for j in range(5):
        xx = border_index(2 * x + j - 2, sw, R101)
        t = blur5(buf[soff + (border_index(2 * y - 2, sh, R101) * sw + xx) * C + c],
                  buf[soff + (border_index(2 * y - 1, sh, R101) * sw + xx) * C + c],
                  buf[soff + (border_index(2 * y, sh, R101) * sw + xx) * C + c],
                  buf[soff + (border_index(2 * y + 1, sh, R101) * sw + xx) * C + c],
                  buf[soff + (border_index(2 * y + 2, sh, R101) * sw + xx) * C + c])
        if j == 0:
            v0 = t
        elif j == 1:
            v1 = t
        elif j == 2:
            v2 = t
        elif j == 3:
            v3 = t
        else:
            v4 = t
    return blur5(v0, v1, v2, v3, v4)


@njit(cache=True)
def scharr_pixel(buf, off, h, w, C, y, x, c):
    """Scharr derivatives at one pixel with reflect-101 borders (as OpenCV's calcSharrDeriv)."""
    ym = border_index(y - 1, h, R101) * w
    yp = border_index(y + 1, h, R101) * w
    y1 = y * w
    xm = border_index(x - 1, w, R101)
    xp = border_index(x + 1, w, R101)
    b = off + c
    return scharr_xy(buf[b + (ym + xm) * C], buf[b + (ym + x) * C], buf[b + (ym + xp) * C],
                     buf[b + (y1 + xm) * C], buf[b + (y1 + xp) * C],
                     buf[b + (yp + xm) * C], buf[b + (yp + x) * C], buf[b + (yp + xp) * C])


@njit(cache=True)
def sobel_tensor_pixel(img, y, x, scale):
    """Structure tensor (dx^2, dx dy, dy^2) of 3x3 Sobel derivatives at (y, x) of an (H, W, C)
    image, summed over channels, reflect-101 borders; derivatives multiplied by ``scale``."""
    h, w, C = img.shape
    ym = border_index(y - 1, h, R101)
    yp = border_index(y + 1, h, R101)
    xm = border_index(x - 1, w, R101)
    xp = border_index(x + 1, w, R101)
    sxx = np.float32(0.0)
    sxy = np.float32(0.0)
    syy = np.float32(0.0)
    for c in range(C):
        dx = ((img[ym, xp, c] - img[ym, xm, c]) + 2 * (img[y, xp, c] - img[y, xm, c])
              + (img[yp, xp, c] - img[yp, xm, c])) * scale
        dy = ((img[yp, xm, c] - img[ym, xm, c]) + 2 * (img[yp, x, c] - img[ym, x, c])
              + (img[yp, xp, c] - img[ym, xp, c])) * scale
        sxx += dx * dx
        sxy += dx * dy
        syy += dy * dy
    return sxx, sxy, syy


@njit(cache=True)
def box_min_eig_pixel(txx, txy, tyy, y, x):
    """3x3 box sum (reflect-101) of the tensor planes at (y, x), then its smaller eigenvalue."""
    h, w = txx.shape
    sxx = np.float32(0.0)
    sxy = np.float32(0.0)
    syy = np.float32(0.0)
    for dy in range(-1, 2):
        yy = border_index(y + dy, h, R101)
        for dx in range(-1, 2):
            xx = border_index(x + dx, w, R101)
            sxx += txx[yy, xx]
            sxy += txy[yy, xx]
            syy += tyy[yy, xx]
    return corner_min_eig(sxx, sxy, syy)


# --------------------------------------------------------------------------------------------
# CPU drivers: pyramid and derivatives


@njit(cache=True, parallel=True, fastmath=FAST)
def pyr_down_level(buf, soff, sh, sw, doff, dh, dw, C, integer):
    """Fill level (doff, dh, dw) of ``buf`` from level (soff, sh, sw): separable 5-tap blur
    (rounded when ``integer``)."""
    row = sw * C
    for y in prange(dh):
        tmp = np.empty(row, np.float32)
        r0 = soff + border_index(2 * y - 2, sh, R101) * row
        r1 = soff + border_index(2 * y - 1, sh, R101) * row
        r2 = soff + border_index(2 * y, sh, R101) * row
        r3 = soff + border_index(2 * y + 1, sh, R101) * row
        r4 = soff + border_index(2 * y + 2, sh, R101) * row
        for i in range(row):
            tmp[i] = blur5(buf[r0 + i], buf[r1 + i], buf[r2 + i], buf[r3 + i], buf[r4 + i])
        d = doff + y * dw * C
        for x in range(dw):
            sx = 2 * x
            if sx >= 2 and sx + 2 < sw:
                j = sx * C
                for c in range(C):
                    buf[d + x * C + c] = pyr_round(blur5(tmp[j + c - 2 * C], tmp[j + c - C], tmp[j + c],
                                                         tmp[j + c + C], tmp[j + c + 2 * C]), integer)
            else:
                x0 = border_index(sx - 2, sw, R101) * C
                x1 = border_index(sx - 1, sw, R101) * C
                x2 = border_index(sx, sw, R101) * C
                x3 = border_index(sx + 1, sw, R101) * C
                x4 = border_index(sx + 2, sw, R101) * C
                for c in range(C):
                    buf[d + x * C + c] = pyr_round(blur5(tmp[x0 + c], tmp[x1 + c], tmp[x2 + c],
                                                         tmp[x3 + c], tmp[x4 + c]), integer)


@njit(cache=True, parallel=True, fastmath=FAST)
def scharr_level(buf, gx, gy, off, h, w, C):
    """Scharr derivatives of one pyramid level into gx, gy (same layout)."""
    row = w * C
    for y in prange(h):
        r0 = off + border_index(y - 1, h, R101) * row
        r1 = off + y * row
        r2 = off + border_index(y + 1, h, R101) * row
        for i in range(C, row - C):
            dx, dy = scharr_xy(buf[r0 + i - C], buf[r0 + i], buf[r0 + i + C],
                               buf[r1 + i - C], buf[r1 + i + C],
                               buf[r2 + i - C], buf[r2 + i], buf[r2 + i + C])
            gx[r1 + i] = dx
            gy[r1 + i] = dy
        for x in (0, w - 1):
            for c in range(C):
                dx, dy = scharr_pixel(buf, off, h, w, C, y, x, c)
                gx[r1 + x * C + c] = dx
                gy[r1 + x * C + c] = dy


def build_pyramid(frame, shapes, with_derivatives):
    """CPU pyramid of an (H, W, C) frame: ``(buf, gx, gy, offs, hs, ws)`` (gx, gy None unless asked).

    Levels of integer frames are rounded to integers, as ``cv2.pyrDown`` does.
    """
    C = frame.shape[2]
    integer = frame.dtype.kind in "ui"
    offs, hs, ws, total = pyramid_offsets(shapes, C)
    buf = np.empty(total, np.float32)
    buf[: hs[0] * ws[0] * C] = frame.reshape(-1)
    for lv in range(1, len(shapes)):
        pyr_down_level(buf, offs[lv - 1], hs[lv - 1], ws[lv - 1], offs[lv], hs[lv], ws[lv], C, integer)
    gx = gy = None
    if with_derivatives:
        gx = np.empty(total, np.float32)
        gy = np.empty(total, np.float32)
        for lv in range(len(shapes)):
            scharr_level(buf, gx, gy, offs[lv], hs[lv], ws[lv], C)
    return buf, gx, gy, offs, hs, ws


# --------------------------------------------------------------------------------------------
# CPU driver: tracking


@njit(cache=True, fastmath=FAST)
def _patch(img0, gx0, gy0, off, h, w, C, x0, y0, a, b, win_w, win_h, p_i, p_x, p_y):
    """Sample frame0's window and derivatives into p_i, p_x, p_y; return the Hessian sums."""
    w00, w01, w10, w11 = bilinear_weights(a, b)
    n = win_w * C
    a11 = np.float32(0.0)
    a12 = np.float32(0.0)
    a22 = np.float32(0.0)
    if window_interior(x0, y0, win_w, win_h, w, h):
        stride = w * C
        for y in range(win_h):
            s = off + (y0 + y) * stride + x0 * C
            p = y * n
            for x in range(n):
                i = s + x
                p_i[p + x] = lerp4(w00, w01, w10, w11, img0[i], img0[i + C], img0[i + stride],
                                   img0[i + stride + C])
                ix = lerp4(w00, w01, w10, w11, gx0[i], gx0[i + C], gx0[i + stride], gx0[i + stride + C])
                iy = lerp4(w00, w01, w10, w11, gy0[i], gy0[i + C], gy0[i + stride], gy0[i + stride + C])
                p_x[p + x] = ix
                p_y[p + x] = iy
                a11 += ix * ix
                a12 += ix * iy
                a22 += iy * iy
    else:
        for y in range(win_h):
            for col in range(win_w):
                for c in range(C):
                    k = y * n + col * C + c
                    p_i[k] = image_bilinear(img0, off, h, w, C, x0, y0 + y, col, c, w00, w01, w10, w11)
                    ix, iy = deriv_bilinear(gx0, gy0, off, h, w, C, x0, y0 + y, col, c, w00, w01, w10, w11)
                    p_x[k] = ix
                    p_y[k] = iy
                    a11 += ix * ix
                    a12 += ix * iy
                    a22 += iy * iy
    return a11, a12, a22


@njit(cache=True, fastmath=FAST)
def _mismatch(img1, off, h, w, C, x0, y0, a, b, win_w, win_h, p_i, p_x, p_y, want_err):
    """``(b1, b2, sum |J - I|)`` with J frame1's window at top-left tap (x0, y0) + (a, b)."""
    w00, w01, w10, w11 = bilinear_weights(a, b)
    n = win_w * C
    b1 = np.float32(0.0)
    b2 = np.float32(0.0)
    e = np.float32(0.0)
    if window_interior(x0, y0, win_w, win_h, w, h):
        stride = w * C
        for y in range(win_h):
            s = off + (y0 + y) * stride + x0 * C
            p = y * n
            if want_err:
                for x in range(n):
                    i = s + x
                    d = lerp4(w00, w01, w10, w11, img1[i], img1[i + C], img1[i + stride],
                              img1[i + stride + C]) - p_i[p + x]
                    e += abs(d)
            else:
                for x in range(n):
                    i = s + x
                    d = lerp4(w00, w01, w10, w11, img1[i], img1[i + C], img1[i + stride],
                              img1[i + stride + C]) - p_i[p + x]
                    b1 += d * p_x[p + x]
                    b2 += d * p_y[p + x]
    else:
        for y in range(win_h):
            for col in range(win_w):
                for c in range(C):
                    k = y * n + col * C + c
                    d = image_bilinear(img1, off, h, w, C, x0, y0 + y, col, c, w00, w01, w10, w11) - p_i[k]
                    b1 += d * p_x[k]
                    b2 += d * p_y[k]
                    e += abs(d)
    return b1, b2, e


@njit(cache=True)
def track_one(img0, gx0, gy0, img1, offs, hs, ws, C, px, py, qx, qy, use_init, win_w, win_h,
              max_iter, eps2, min_eig_threshold, eig_scale, p_i, p_x, p_y):
    """Track one point (px, py) from frame0 to frame1 through every level; ``(x, y, ok, err)``.

    (qx, qy) is the initial guess at level 0 when ``use_init``. Mirrors OpenCV's
    LKTrackerInvoker, run level by level for this point alone.
    """
    max_level = len(offs) - 1
    half_x = (win_w - 1) * 0.5
    half_y = (win_h - 1) * 0.5
    area = win_w * win_h
    ok = True
    nx = 0.0
    ny = 0.0
    for level in range(max_level, -1, -1):
        scale = 1.0 / (1 << level)
        off = offs[level]
        h = hs[level]
        w = ws[level]
        if level == max_level:
            nx = (qx if use_init else px) * scale
            ny = (qy if use_init else py) * scale
        else:
            nx *= 2.0
            ny *= 2.0
        cx = px * scale - half_x
        cy = py * scale - half_y
        fx = math.floor(cx)
        fy = math.floor(cy)
        if not window_inside(fx, fy, win_w, win_h, w, h):
            if level == 0:
                ok = False
            continue
        a11, a12, a22 = _patch(img0, gx0, gy0, off, h, w, C, int(fx), int(fy), cx - fx, cy - fy,
                               win_w, win_h, p_i, p_x, p_y)
        good, inv_det = hessian_check(a11, a12, a22, area, eig_scale, min_eig_threshold)
        if not good:
            if level == 0:
                ok = False
            continue
        cx = nx - half_x
        cy = ny - half_y
        pdx = 0.0
        pdy = 0.0
        for j in range(max_iter):
            fx = math.floor(cx)
            fy = math.floor(cy)
            if not window_inside(fx, fy, win_w, win_h, w, h):
                if level == 0:
                    ok = False
                break
            b1, b2, _ = _mismatch(img1, off, h, w, C, int(fx), int(fy), cx - fx, cy - fy,
                                  win_w, win_h, p_i, p_x, p_y, False)
            dx, dy = lk_delta(a11, a12, a22, inv_det, b1, b2)
            cx += dx
            cy += dy
            nx = cx + half_x
            ny = cy + half_y
            if dx * dx + dy * dy <= eps2:
                break
            if j > 0 and oscillates(dx, dy, pdx, pdy):
                nx -= 0.5 * dx
                ny -= 0.5 * dy
                break
            pdx = dx
            pdy = dy
    err = 0.0
    if ok:
        cx = nx - half_x
        cy = ny - half_y
        fx = math.floor(cx)
        fy = math.floor(cy)
        if window_inside(fx, fy, win_w, win_h, ws[0], hs[0]):
            _, _, e = _mismatch(img1, offs[0], hs[0], ws[0], C, int(fx), int(fy), cx - fx, cy - fy,
                                win_w, win_h, p_i, p_x, p_y, True)
            err = e / (area * C)
        else:
            ok = False
    return nx, ny, ok, err


@njit(cache=True, parallel=True)
def track_points(img0, gx0, gy0, img1, offs, hs, ws, C, pts, init, use_init, win_w, win_h,
                 max_iter, eps2, min_eig_threshold, eig_scale, out_pts, status, err):
    """Track every point of ``pts`` (K, 2) in parallel; writes out_pts, status, err."""
    K = pts.shape[0]
    n = win_w * win_h * C
    chunks = min(K, 64)
    for ch in prange(chunks):
        p_i = np.empty(n, np.float32)
        p_x = np.empty(n, np.float32)
        p_y = np.empty(n, np.float32)
        for k in range(ch * K // chunks, (ch + 1) * K // chunks):
            x, y, ok, e = track_one(img0, gx0, gy0, img1, offs, hs, ws, C, pts[k, 0], pts[k, 1],
                                    init[k, 0], init[k, 1], use_init, win_w, win_h, max_iter,
                                    eps2, min_eig_threshold, eig_scale, p_i, p_x, p_y)
            out_pts[k, 0] = x
            out_pts[k, 1] = y
            status[k] = ok
            err[k] = e


# --------------------------------------------------------------------------------------------
# corners (Shi-Tomasi)


@njit(cache=True, parallel=True)
def corner_response(img, scale):
    """Min-eigenvalue map of the 3x3-box-summed Sobel structure tensor of (H, W, C) ``img``."""
    h, w, _ = img.shape
    txx = np.empty((h, w), np.float32)
    txy = np.empty((h, w), np.float32)
    tyy = np.empty((h, w), np.float32)
    for y in prange(h):
        for x in range(w):
            txx[y, x], txy[y, x], tyy[y, x] = sobel_tensor_pixel(img, y, x, scale)
    eig = np.empty((h, w), np.float32)
    for y in prange(h):
        for x in range(w):
            eig[y, x] = box_min_eig_pixel(txx, txy, tyy, y, x)
    return eig


@njit(cache=True)
def select_corners(eig, quality, min_distance, max_corners):
    """OpenCV's goodFeaturesToTrack selection on a response map; (K, 2) float32 (x, y).

    Keep interior pixels above ``quality * max`` that equal their 3x3 maximum, sort by response
    (ties: later raster position first, as OpenCV), then accept greedily those at least
    ``min_distance`` from every accepted corner (OpenCV's grid of round(min_distance) cells).
    """
    h, w = eig.shape
    top = eig.max()
    thr = top * quality
    cand = np.empty(h * w, np.int64)
    m = 0
    for y in range(1, h - 1):
        for x in range(1, w - 1):
            v = eig[y, x]
            if v > thr and v > 0:
                local = True
                for dy in range(-1, 2):
                    for dx in range(-1, 2):
                        if eig[y + dy, x + dx] > v:
                            local = False
                if local:
                    cand[m] = y * w + x
                    m += 1
    cand = cand[:m][::-1].copy()  # descending raster order, kept for ties by the stable sort
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
