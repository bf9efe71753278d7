"""CUDA drivers of sparse Lucas-Kanade tracking and the corner response.

Imported only when the CUDA backend is used. Pyramids use the padded flat layout of
``lk_sparse`` and are built one thread per pixel with its flat helpers. Tracking runs one thread
block per point: the block's threads split the window's pixels, the window sums are reduced in
shared memory, and every thread then runs the same per-point control flow (OpenCV's rules, as in
``lk_sparse.track_one``) on the reduced sums, so branches stay uniform across the block.
"""

import math

import numpy as np
from numba import cuda

from . import lk_sparse as lk
from .cuda_support import device_function, grid_for

TPB = 32  # threads per block: one warp per point
_BLOCK2 = (16, 8)


_bilinear_at = device_function(lk.bilinear_at)
_scharr_at = device_function(lk.scharr_at)
_pyr_down_at = device_function(lk.pyr_down_at)
_sobel_tensor_pixel = device_function(lk.sobel_tensor_pixel)
_derivative_tensor_pixel = device_function(lk.derivative_tensor_pixel)
_box_response_pixel = device_function(lk.box_response_pixel)
_window_base = device_function(lk.window_base)


def _grid2(height, width):
    return grid_for(_BLOCK2, width, height), _BLOCK2


# --------------------------------------------------------------------------------------------
# pyramid


@cuda.jit
def _level0_kernel(frame, buf, off, h, w, pw, C, pad_x, pad_y):
    xp, yp = cuda.grid(2)
    if xp < pw and yp < h + 2 * pad_y:
        y, x = lk.pad_source(yp, xp, h, w, pad_x, pad_y)
        for c in range(C):
            buf[off + (yp * pw + xp) * C + c] = frame[y, x, c]


@cuda.jit
def _pyr_down_kernel(buf, soff, spw, doff, dh, dw, dpw, C, pad_x, pad_y, integer):
    x, y = cuda.grid(2)
    if x < dw and y < dh:
        for c in range(C):
            i = soff + ((2 * y + pad_y) * spw + 2 * x + pad_x) * C + c
            buf[doff + ((y + pad_y) * dpw + x + pad_x) * C + c] = lk.pyr_round(
                _pyr_down_at(buf, i, spw * C, C), integer)


@cuda.jit
def _pad_kernel(buf, off, h, w, pw, C, pad_x, pad_y):
    xp, yp = cuda.grid(2)
    if xp < pw and yp < h + 2 * pad_y:
        if pad_y <= yp < pad_y + h and pad_x <= xp < pad_x + w:
            return
        y, x = lk.pad_source(yp, xp, h, w, pad_x, pad_y)
        for c in range(C):
            buf[off + (yp * pw + xp) * C + c] = buf[off + ((y + pad_y) * pw + x + pad_x) * C + c]


@cuda.jit
def _scharr_kernel(buf, gx, gy, off, h, w, pw, C, pad_x, pad_y):
    xp, yp = cuda.grid(2)
    if xp < pw and yp < h + 2 * pad_y:
        inside = pad_y <= yp < pad_y + h and pad_x <= xp < pad_x + w
        for c in range(C):
            i = off + (yp * pw + xp) * C + c
            if inside:
                dx, dy = _scharr_at(buf, i, pw * C, C)
                gx[i] = dx
                gy[i] = dy
            else:
                gx[i] = 0.0
                gy[i] = 0.0


def build_pyramid(frame, shapes, pad_x, pad_y, with_derivatives, integer):
    """Device pyramid of a device (H, W, C) frame: ``(buf, gx, gy, geo)`` as in ``lk_sparse``."""
    C = frame.shape[2]
    geo, total = lk.pyramid_geometry(shapes, C, pad_x, pad_y)
    buf = cuda.device_array(total, np.float32)
    off, h, w, pw = (int(v) for v in geo[0])
    grid, block = _grid2(h + 2 * pad_y, pw)
    _level0_kernel[grid, block](frame, buf, off, h, w, pw, C, pad_x, pad_y)
    for lv in range(1, len(shapes)):
        soff, _, _, spw = (int(v) for v in geo[lv - 1])
        off, h, w, pw = (int(v) for v in geo[lv])
        grid, block = _grid2(h, w)
        _pyr_down_kernel[grid, block](buf, soff, spw, off, h, w, pw, C, pad_x, pad_y, integer)
        grid, block = _grid2(h + 2 * pad_y, pw)
        _pad_kernel[grid, block](buf, off, h, w, pw, C, pad_x, pad_y)
    gx = gy = None
    if with_derivatives:
        gx = cuda.device_array(total, np.float32)
        gy = cuda.device_array(total, np.float32)
        for lv in range(len(shapes)):
            off, h, w, pw = (int(v) for v in geo[lv])
            grid, block = _grid2(h + 2 * pad_y, pw)
            _scharr_kernel[grid, block](buf, gx, gy, off, h, w, pw, C, pad_x, pad_y)
    return buf, gx, gy, geo


# --------------------------------------------------------------------------------------------
# tracking


@cuda.jit(device=True)
def _block_sum3(red, t, v0, v1, v2):
    """Sum three per-thread values over the block; every thread gets the totals."""
    red[0, t] = v0
    red[1, t] = v1
    red[2, t] = v2
    cuda.syncthreads()
    s = TPB // 2
    while s > 0:
        if t < s:
            red[0, t] += red[0, t + s]
            red[1, t] += red[1, t + s]
            red[2, t] += red[2, t + s]
        cuda.syncthreads()
        s //= 2
    r0 = red[0, 0]
    r1 = red[1, 0]
    r2 = red[2, 0]
    cuda.syncthreads()
    return r0, r1, r2


@cuda.jit(device=True)
def _window_sums(mode, img0, gx0, gy0, img1, base0, base1, stride, C, a0, b0, a1, b1, win_w, win_h, t):
    """One thread's share of a window sum.

    mode 0: Hessian (gx^2, gx gy, gy^2) of frame0's window at base0 + (a0, b0);
    mode 1: mismatch (sum d gx, sum d gy) with d = J - I, J frame1's window at base1 + (a1, b1);
    mode 2: sum |d|.
    """
    p00, p01, p10, p11 = lk.bilinear_weights(a0, b0)
    q00, q01, q10, q11 = lk.bilinear_weights(a1, b1)
    n = win_w * C
    s0 = np.float32(0.0)
    s1 = np.float32(0.0)
    s2 = np.float32(0.0)
    for k in range(t, win_h * n, TPB):
        row = k // n
        col = k - row * n
        i0 = base0 + row * stride + col
        ix = _bilinear_at(gx0, i0, stride, C, p00, p01, p10, p11)
        iy = _bilinear_at(gy0, i0, stride, C, p00, p01, p10, p11)
        if mode == 0:
            s0 += ix * ix
            s1 += ix * iy
            s2 += iy * iy
        else:
            d = (_bilinear_at(img1, base1 + row * stride + col, stride, C, q00, q01, q10, q11)
                 - _bilinear_at(img0, i0, stride, C, p00, p01, p10, p11))
            if mode == 1:
                s0 += d * ix
                s1 += d * iy
            else:
                s2 += abs(d)
    return s0, s1, s2


# float32 position math, as OpenCV's Point2f (the CPU tracker, track_one, keeps float64 positions;
# the two agree to float32 rounding). Deliberate float64: lk.hessian_check (the Hessian's
# eigenvalue and determinant tests and 1 / det), so that statuses at the min_eig_threshold are
# the CPU's; once per point and level. docs/conventions.md, "float64 on the GPU".
@cuda.jit
def _track_kernel(img0, gx0, gy0, img1, geo, C, pts, init, use_init, win_w, win_h, max_iter, eps2,
                  min_eig_threshold, eig_scale, min_eigenvals, out, status, err):
    k = cuda.blockIdx.x
    t = cuda.threadIdx.x
    red = cuda.shared.array((3, TPB), np.float32)
    if k >= pts.shape[0]:
        return
    f32 = np.float32
    zero = f32(0.0)
    half = f32(0.5)
    two = f32(2.0)
    osc = f32(0.01)
    pad_x = win_w
    pad_y = win_h
    fwin_w = f32(win_w)  # float32 bounds: an int compared with a float32 promotes to float64
    fwin_h = f32(win_h)
    max_level = geo.shape[0] - 1
    half_x = f32(win_w - 1) * half
    half_y = f32(win_h - 1) * half
    area = win_w * win_h
    px = pts[k, 0]
    py = pts[k, 1]
    ok = True
    nx = zero
    ny = zero
    eig0 = zero  # level 0's minimum eigenvalue (min_eigenvals: err, as lk.track_one)
    for level in range(max_level, -1, -1):
        h = f32(geo[level, 1])
        w = f32(geo[level, 2])
        stride = geo[level, 3] * C
        scale = f32(1.0) / f32(1 << level)
        if level == max_level:
            nx = (init[k, 0] if use_init else px) * scale
            ny = (init[k, 1] if use_init else py) * scale
        else:
            nx *= two
            ny *= two
        cx0 = px * scale - half_x
        cy0 = py * scale - half_y
        fx0 = lk.floor_f32(cx0)
        fy0 = lk.floor_f32(cy0)
        if not lk.window_inside(fx0, fy0, fwin_w, fwin_h, w, h):
            if level == 0:
                ok = False
            continue
        base0 = _window_base(geo[level], C, int(fx0), int(fy0), pad_x, pad_y)
        a0 = cx0 - fx0
        b0 = cy0 - fy0
        s0, s1, s2 = _window_sums(0, img0, gx0, gy0, img1, base0, base0, stride, C, a0, b0, a0, b0,
                                  win_w, win_h, t)
        a11, a12, a22 = _block_sum3(red, t, s0, s1, s2)
        good, inv_det64, eig = lk.hessian_check(a11, a12, a22, area, eig_scale, min_eig_threshold)
        if level == 0:
            eig0 = f32(eig)
        if not good:
            if level == 0:
                ok = False
            continue
        inv_det = f32(inv_det64)
        cx = nx - half_x
        cy = ny - half_y
        pdx = zero
        pdy = zero
        for j in range(max_iter):
            fx = lk.floor_f32(cx)
            fy = lk.floor_f32(cy)
            if not lk.window_inside(fx, fy, fwin_w, fwin_h, w, h):
                if level == 0:
                    ok = False
                break
            base1 = _window_base(geo[level], C, int(fx), int(fy), pad_x, pad_y)
            s0, s1, s2 = _window_sums(1, img0, gx0, gy0, img1, base0, base1, stride, C, a0, b0,
                                      cx - fx, cy - fy, win_w, win_h, t)
            b1, b2, _ = _block_sum3(red, t, s0, s1, s2)
            dx, dy = lk.lk_delta(a11, a12, a22, inv_det, b1, b2)
            cx += dx
            cy += dy
            nx = cx + half_x
            ny = cy + half_y
            if dx * dx + dy * dy <= eps2:
                break
            if j > 0 and lk.oscillates(dx, dy, pdx, pdy, osc):
                nx -= half * dx
                ny -= half * dy
                break
            pdx = dx
            pdy = dy
    e = zero
    if ok:
        cx0 = px - half_x
        cy0 = py - half_y
        fx0 = lk.floor_f32(cx0)
        fy0 = lk.floor_f32(cy0)
        cx = nx - half_x
        cy = ny - half_y
        fx = lk.floor_f32(cx)
        fy = lk.floor_f32(cy)
        if lk.window_inside(fx, fy, fwin_w, fwin_h, f32(geo[0, 2]), f32(geo[0, 1])):
            if not min_eigenvals:  # (uniform over the block: _block_sum3 syncs its threads)
                base0 = _window_base(geo[0], C, int(fx0), int(fy0), pad_x, pad_y)
                base1 = _window_base(geo[0], C, int(fx), int(fy), pad_x, pad_y)
                s0, s1, s2 = _window_sums(2, img0, gx0, gy0, img1, base0, base1, geo[0, 3] * C, C,
                                          cx0 - fx0, cy0 - fy0, cx - fx, cy - fy, win_w, win_h, t)
                _, _, total = _block_sum3(red, t, s0, s1, s2)
                e = total / f32(area * C)
        else:
            ok = False
    if min_eigenvals:
        e = eig0
    if t == 0:
        out[k, 0] = nx
        out[k, 1] = ny
        status[k] = ok
        err[k] = e


@cuda.jit
def _round_trip_kernel(pts, back, back_status, status):
    k = cuda.grid(1)
    if k < pts.shape[0]:
        dx = back[k, 0] - pts[k, 0]
        dy = back[k, 1] - pts[k, 1]
        status[k] = status[k] and back_status[k] and math.sqrt(dx * dx + dy * dy) <= 1.0


def track(frame0, frame1, pts, init, *, win_w, win_h, max_level, max_iter, eps2, min_eig_threshold,
          eig_scale, min_eigenvals, backward_check):
    """Track device points ``pts`` (K, 2) float32 between device (H, W, C) frames.

    Returns device arrays ``(points1, status, err)``; parameters as ``lk_sparse.track_points``
    (``min_eigenvals``: err holds the forward tracking's level-0 minimum eigenvalues).
    """
    h, w = frame0.shape[:2]
    integer = np.dtype(frame0.dtype).kind in "ui"
    shapes = lk.pyramid_shapes(h, w, win_w, win_h, max_level)
    buf0, gx0, gy0, geo = build_pyramid(frame0, shapes, win_w, win_h, True, integer)
    buf1, gx1, gy1, _ = build_pyramid(frame1, shapes, win_w, win_h, backward_check, integer)
    d_geo = cuda.to_device(geo)
    C = frame0.shape[2]
    k = pts.shape[0]

    def run(a, ga_x, ga_y, b, start, guess, min_eigenvals=False):
        out = cuda.device_array((k, 2), np.float32)
        status = cuda.device_array(k, np.bool_)
        err = cuda.device_array(k, np.float32)
        _track_kernel[k, TPB](a, ga_x, ga_y, b, d_geo, C, start, start if guess is None else guess,
                              guess is not None, win_w, win_h, max_iter, np.float32(eps2),
                              float(min_eig_threshold), float(eig_scale), bool(min_eigenvals), out,
                              status, err)
        return out, status, err

    out, status, err = run(buf0, gx0, gy0, buf1, pts, init, min_eigenvals)
    if backward_check:
        back, back_status, _ = run(buf1, gx1, gy1, buf0, out, None)
        _round_trip_kernel[grid_for((128,), k), 128](pts, back, back_status, status)
    return out, status, err


# --------------------------------------------------------------------------------------------
# corners


@cuda.jit
def _tensor_kernel(img, scale, txx, txy, tyy):
    x, y = cuda.grid(2)
    if x < img.shape[1] and y < img.shape[0]:
        sxx, sxy, syy = _sobel_tensor_pixel(img, y, x, scale)
        txx[y, x] = sxx
        txy[y, x] = sxy
        tyy[y, x] = syy


@cuda.jit
def _derivative_tensor_kernel(img, kd, ks, txx, txy, tyy):
    x, y = cuda.grid(2)
    if x < img.shape[1] and y < img.shape[0]:
        sxx, sxy, syy = _derivative_tensor_pixel(img, y, x, kd, ks)
        txx[y, x] = sxx
        txy[y, x] = sxy
        tyy[y, x] = syy


@cuda.jit
def _response_kernel(txx, txy, tyy, block_size, harris, k, eig):
    x, y = cuda.grid(2)
    if x < eig.shape[1] and y < eig.shape[0]:
        eig[y, x] = _box_response_pixel(txx, txy, tyy, y, x, block_size, harris, k)


@cuda.jit
def _to_float_kernel(src, dst):
    x, y = cuda.grid(2)
    if x < src.shape[1] and y < src.shape[0]:
        for c in range(src.shape[2]):
            dst[y, x, c] = src[y, x, c]


def corner_response(frame, scale, block_size, harris, k, gradient_size=3):
    """Corner response (``lk_sparse.corner_response``) of a device (H, W, C) frame; a device
    (H, W) float32 array."""
    h, w = frame.shape[:2]
    grid, block = _grid2(h, w)
    img = cuda.device_array(frame.shape, np.float32)
    _to_float_kernel[grid, block](frame, img)
    txx = cuda.device_array((h, w), np.float32)
    txy = cuda.device_array((h, w), np.float32)
    tyy = cuda.device_array((h, w), np.float32)
    if gradient_size == 3:
        _tensor_kernel[grid, block](img, np.float32(scale), txx, txy, tyy)
    else:
        kd, ks = (cuda.to_device(a) for a in lk.derivative_kernels(gradient_size, scale))
        _derivative_tensor_kernel[grid, block](img, kd, ks, txx, txy, tyy)
    eig = cuda.device_array((h, w), np.float32)
    _response_kernel[grid, block](txx, txy, tyy, int(block_size), bool(harris), np.float32(k), eig)
    return eig
