"""Farneback dense optical flow, CUDA driver: the per-pixel math of ``kernels.farneback``.

One thread per pixel for each stage: pyramid (vertical pre-blur of the two source rows,
then horizontal blur + bilinear resize), polynomial expansion (vertical moments into a
column-padded buffer, then the horizontal pass), and per iteration: normal equations from
the current flow, vertical window (float64 sums, as OpenCV's ``vsum``: on purpose), horizontal
window + 2x2 solve into the other
flow buffer. The update order is the CPU driver's; only the box sums differ in rounding
(direct sums here, running sums on the CPU).

Imported only when the CUDA backend is used (it imports ``numba.cuda``).
"""

import numpy as np
from numba import cuda

from . import farneback as fb
from .cuda_support import device_function, grid_for

_BLOCK = (32, 8)


_pyr_vertical = device_function(fb.pyr_vertical)
_pyr_output = device_function(fb.pyr_output)
_poly_vertical = device_function(fb.poly_vertical)
_poly_horizontal_at = device_function(fb.poly_horizontal_at)
_normal_equations = device_function(fb.normal_equations)
_border_weight = fb.border_weight
_window_column_pixel = device_function(fb.window_column_pixel)
_window_row_solve = device_function(fb.window_row_solve)
_resize_flow_pixel = device_function(fb.resize_flow_pixel)
_area_flow_pixel = device_function(fb.area_flow_pixel)


@cuda.jit
def _pyr_rows_kernel(img, norm, kern, yidx, yfrac, vrows):
    x, dy = cuda.grid(2)
    if dy < vrows.shape[0] and x < vrows.shape[2]:
        y0 = yidx[dy]
        vrows[dy, 0, x] = _pyr_vertical(img, y0, x, kern, norm)
        if yfrac[dy] != 0:
            vrows[dy, 1, x] = _pyr_vertical(img, min(y0 + 1, img.shape[0] - 1), x, kern, norm)


@cuda.jit
def _pyr_out_kernel(vrows, kern, xidx, xfrac, yfrac, out):
    dx, dy = cuda.grid(2)
    if dy < out.shape[0] and dx < out.shape[1]:
        out[dy, dx] = _pyr_output(vrows, dy, dx, kern, xidx, xfrac, yfrac)


@cuda.jit
def _poly_v_kernel(img, g, xg, xxg, vpad):
    xp, y = cuda.grid(2)
    n = g.shape[0] - 1
    w = img.shape[1]
    if y < vpad.shape[0] and xp < vpad.shape[2]:
        x = min(max(xp - n, 0), w - 1)
        t = _poly_vertical(img, y, x, g, xg, xxg)
        vpad[y, 0, xp] = t[0]
        vpad[y, 1, xp] = t[1]
        vpad[y, 2, xp] = t[2]


@cuda.jit
def _poly_h_kernel(vpad, g, xg, xxg, ig, out, c):
    x, y = cuda.grid(2)
    if y < out.shape[1] and x < out.shape[2]:
        r = _poly_horizontal_at(vpad, y, x, g, xg, xxg, ig)
        for j in range(5):
            out[c, y, x, j] = r[j]


@cuda.jit
def _matrices_kernel(R0, R1, nc, flow, M):
    x, y = cuda.grid(2)
    h, w = flow.shape[0], flow.shape[1]
    if y < h and x < w:
        e = _normal_equations(R0, R1, nc, h, w, y, x, flow[y, x, 0], flow[y, x, 1],
                              _border_weight(y, x, h, w))
        for j in range(5):
            M[y, 5 * x + j] = e[j]


@cuda.jit
def _column_kernel(M, wk, box, vs):
    i, y = cuda.grid(2)
    if y < M.shape[0] and i < M.shape[1]:
        vs[y, i] = _window_column_pixel(M, y, i, wk, box)


@cuda.jit
def _solve_kernel(vs, wk, box, eps, flow, conf, want_conf):
    x, y = cuda.grid(2)
    if y < flow.shape[0] and x < flow.shape[1]:
        r = _window_row_solve(vs, y, x, wk, box, eps)
        flow[y, x, 0] = r[0]
        flow[y, x, 1] = r[1]
        if want_conf:
            conf[y, x] = r[2]


@cuda.jit
def _resize_flow_kernel(src, yidx, yfrac, xidx, xfrac, factor, out):
    dx, dy = cuda.grid(2)
    if dy < out.shape[0] and dx < out.shape[1]:
        for k in range(2):
            out[dy, dx, k] = _resize_flow_pixel(src, dy, dx, yidx, yfrac, xidx, xfrac, factor, k)


@cuda.jit
def _area_flow_kernel(src, yidx, ywts, xidx, xwts, factor, out):
    dx, dy = cuda.grid(2)
    if dy < out.shape[0] and dx < out.shape[1]:
        for k in range(2):
            out[dy, dx, k] = _area_flow_pixel(src, dy, dx, yidx, ywts, xidx, xwts, factor, k)


@cuda.jit
def _max_kernel(conf, top):
    x, y, n = cuda.grid(3)
    if n < conf.shape[0] and y < conf.shape[1] and x < conf.shape[2]:
        cuda.atomic.max(top, n, conf[n, y, x])


@cuda.jit
def _scale_kernel(conf, top):
    x, y, n = cuda.grid(3)
    if n < conf.shape[0] and y < conf.shape[1] and x < conf.shape[2]:
        t = top[n]
        conf[n, y, x] = conf[n, y, x] / t if t > 0 else 0.0


@cuda.jit
def _zero_kernel(flow):
    x, y = cuda.grid(2)
    if y < flow.shape[0] and x < flow.shape[1]:
        flow[y, x, 0] = 0.0
        flow[y, x, 1] = 0.0


def workspace():
    """A ``kernels.farneback.Workspace`` whose buffers live on the GPU."""
    return fb.Workspace(empty=cuda.device_array)


def _device_tables(ws, plan, height, width):
    def make():
        out = []
        for t in fb.level_tables(ws, plan, height, width):
            out.append({k: (None if v is None else cuda.to_device(v)) for k, v in t.items()})
        return out
    return ws.table(("device-levels", tuple(plan), height, width), make)


def _expand(ws, frame, c, norm, t, p, li, h, w, R):
    """Pyramid level ``li`` of channel ``c`` of ``frame`` and its expansion into ``R[c]``."""
    width = frame.shape[1]
    vrows = ws.get("vrows%d" % li, (h, 2, width))
    img = ws.get("img%d" % li, (h, w))
    vpad = ws.get("vpad%d" % li, (h, 3, w + 2 * p.poly_n))
    _pyr_rows_kernel[grid_for(_BLOCK, width, h), _BLOCK](frame[:, :, c], norm, t["kern"], t["yidx"],
                                              t["yfrac"], vrows)
    _pyr_out_kernel[grid_for(_BLOCK, w, h), _BLOCK](vrows, t["kern"], t["xidx"], t["xfrac"], t["yfrac"], img)
    _poly_v_kernel[grid_for(_BLOCK, w + 2 * p.poly_n, h), _BLOCK](img, ws.consts["g"], ws.consts["xg"],
                                                        ws.consts["xxg"], vpad)
    _poly_h_kernel[grid_for(_BLOCK, w, h), _BLOCK](vpad, ws.consts["g"], ws.consts["xg"], ws.consts["xxg"],
                                        ws.consts["ig"], R, c)


def _pair(f0, f1, p, plan, norm, init, out, conf, ws, reuse_first):
    height, width, nc = f0.shape
    tabs = _device_tables(ws, plan, height, width)
    normf = np.float32(norm)
    prev = None
    noconf = ws.get("noconf", (0, 0))
    for li in range(len(plan) - 1, -1, -1):
        scale, h, w = plan[li]
        t = tabs[li]
        if reuse_first:
            ws.swap("R0_%d" % li, "R1_%d" % li)
        R = []
        for f, frame in enumerate((f0, f1)):
            Rf = ws.get("R%d_%d" % (f, li), (nc, h, w, 5))
            R.append(Rf)
            if f == 0 and reuse_first:
                continue
            for c in range(nc):
                _expand(ws, frame, c, normf, t, p, li, h, w, Rf)
        final = out if li == 0 else ws.get("flow%d" % li, (h, w, 2))
        other = ws.get("flowtmp%d" % li, (h, w, 2))
        start = final if p.iterations % 2 == 0 else other
        grid = grid_for(_BLOCK, w, h)
        if prev is not None:
            _resize_flow_kernel[grid, _BLOCK](prev, t["uyidx"], t["uyfrac"], t["uxidx"],
                                              t["uxfrac"], np.float32(1.0 / p.pyr_scale), start)
        elif init is not None:
            ay = ws.table(("dev-area", height, h),
                          lambda: tuple(cuda.to_device(a) for a in fb.area_table(height, h)))
            ax = ws.table(("dev-area", width, w),
                          lambda: tuple(cuda.to_device(a) for a in fb.area_table(width, w)))
            _area_flow_kernel[grid, _BLOCK](init, ay[0], ay[1], ax[0], ax[1], np.float32(scale),
                                            start)
        else:
            _zero_kernel[grid, _BLOCK](start)
        M = ws.get("M%d" % li, (h, 5 * w))
        vs = ws.get("vs%d" % li, (h, 5 * w), np.float64)
        src, dst = start, (other if start is final else final)
        box = not p.gaussian
        R0f = R[0].reshape(nc * h * w * 5)
        R1f = R[1].reshape(nc * h * w * 5)
        for it in range(p.iterations):
            last = it == p.iterations - 1
            want = li == 0 and last and conf is not None
            _matrices_kernel[grid, _BLOCK](R0f, R1f, nc, src, M)
            _column_kernel[grid_for(_BLOCK, 5 * w, h), _BLOCK](M, ws.consts["wk"], box, vs)
            _solve_kernel[grid, _BLOCK](vs, ws.consts["wk"], box, fb.EPS, dst,
                                        conf if want else noconf, want)
            src, dst = dst, src
        prev = final


def farneback_cuda(f0, f1, params, plan, norm, init, ws, want_conf, reuse_first):
    """Flow of a batch of pairs on the GPU.

    Parameters
    ----------
    f0, f1 : device arrays (N, H, W, C)
        uint8, uint16, float32 or float64 frames.
    params, plan, norm
        As ``kernels.farneback.farneback_cpu``.
    init : device array (N, H, W, 2) float32 or None
    ws : Workspace
        From ``workspace()``.
    want_conf : bool
    reuse_first : bool
        ``f0`` (N = 1) is the previous call's ``f1``: reuse its expansions.

    Returns
    -------
    flow : device array (N, H, W, 2) float32
    conf : device array (N, H, W) float32 (normalised to [0, 1]) or None
    """
    n, height, width, _ = f0.shape
    p = params
    key = (p.poly_n, p.poly_sigma, p.winsize, p.gaussian)
    if getattr(ws, "consts_key", None) != key:
        ws.consts = {k: cuda.to_device(v) for k, v in
                     (("g", p.g), ("xg", p.xg), ("xxg", p.xxg), ("ig", p.ig), ("wk", p.wk))}
        ws.consts_key = key
    flow = cuda.device_array((n, height, width, 2), np.float32)
    conf = cuda.device_array((n, height, width), np.float32) if want_conf else None
    for i in range(n):
        _pair(f0[i], f1[i], p, plan, norm, None if init is None else init[i], flow[i],
              None if conf is None else conf[i], ws, reuse_first and i == 0)
    if conf is not None:
        top = cuda.to_device(np.zeros(n, np.float32))
        grid = grid_for(_BLOCK, width, height, n)
        block = (_BLOCK[0], _BLOCK[1], 1)
        _max_kernel[grid, block](conf, top)
        _scale_kernel[grid, block](conf, top)
    return flow, conf
