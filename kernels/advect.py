"""Semi-Lagrangian trajectories through a stationary flow: per-pixel math and the CPU driver.

``trace_pixel`` traces one pixel's backward trajectory for every step and writes the
displacements ``D_k``; the CPU driver (``trace_cpu``, bands of rows on threads) and the CUDA
kernel (``advect_cuda``) share its math (``field_at``, ``advance``). The image is sampled
afterwards by ``kernels.warp``. See ``flowkit.extrapolate`` for the public API and the exact
scheme.

Arrays arrive C-contiguous: ``flow (Nf, H, W, 2)`` float64 with unknown vectors already NaN
(both components; float32 taps, converted as they are read, ran the trace 15 % slower),
``disp (Nf, S, H, W, 2)`` float32 and ``mask (Nf, S, H, W)`` bool, written (``S`` steps).
"""

import numpy as np

from .jit import jit
from .parallel import band_range, run_bands


@jit(inline="always")
def field_at(flow, nf, px, py):
    """Bilinear sample ``(u, v)`` of ``flow[nf]`` at the real position ``(px, py)``.

    The position is clamped to the image first (the field's border is replicated, as
    ``scipy.ndimage.map_coordinates(mode="nearest", order=1)``). Unknown vectors must arrive
    as NaN (both components): a NaN tap of nonzero weight gives NaN, one of weight 0 is left
    out. A NaN position is read as 0: the callers keep NaN trajectories NaN (testing for NaN
    here made the trace 1.7x slower). Branch-free.
    """
    _, h, w, _ = flow.shape
    px = px if px > 0.0 else 0.0
    px = px if px < w - 1.0 else w - 1.0
    py = py if py > 0.0 else 0.0
    py = py if py < h - 1.0 else h - 1.0
    x0 = np.uint64(px)  # px >= 0: truncation is floor; unsigned: no negative-index code
    y0 = np.uint64(py)
    fx = px - x0
    fy = py - y0
    x1 = x0 + np.uint64(fx != 0.0)  # the tap of weight 0 is the same pixel (no NaN * 0)
    y1 = y0 + np.uint64(fy != 0.0)
    a00 = flow[nf, y0, x0, 0]
    a01 = flow[nf, y0, x1, 0]
    a10 = flow[nf, y1, x0, 0]
    a11 = flow[nf, y1, x1, 0]
    top = a00 + fx * (a01 - a00)
    u = top + fy * ((a10 + fx * (a11 - a10)) - top)
    a00 = flow[nf, y0, x0, 1]
    a01 = flow[nf, y0, x1, 1]
    a10 = flow[nf, y1, x0, 1]
    a11 = flow[nf, y1, x1, 1]
    top = a00 + fx * (a01 - a00)
    v = top + fy * ((a10 + fx * (a11 - a10)) - top)
    return u, v


@jit(inline="always")
def advance(flow, nf, x, y, dx, dy, px, py, n_iter, scale):
    """The displacement after one sub-step of pixel ``(x, y)``, from displacement
    ``(dx, dy)`` and predictor ``(px, py)`` (see ``trace_pixel``).

    Inlined where it is called (Numba IR), as ``field_at``: as a call, the CPU driver ran
    1.5x slower; inlined, its body takes the caller's flags (see ``_trace_cpu_band``).
    """
    if n_iter > 0:  # midpoint rule
        mx, my = field_at(flow, nf, x + dx - 0.5 * px, y + dy - 0.5 * py)
        px = scale * mx + 0.0 * px  # a NaN predictor (so a NaN midpoint) gives NaN
        py = scale * my + 0.0 * py
    return dx - px, dy - py  # a NaN displacement stays NaN whatever the field reads


@jit
def inside(flow, x, y, dx, dy):
    """Whether ``(x + dx, y + dy)`` lies in ``[0, W - 1] x [0, H - 1]`` (False for NaN)."""
    _, h, w, _ = flow.shape
    qx = x + dx
    qy = y + dy
    return (qx >= 0.0) & (qx <= w - 1.0) & (qy >= 0.0) & (qy <= h - 1.0)


@jit
def trace_pixel(flow, nf, y, x, n_iter, disp, mask):
    """Trace the backward trajectory of pixel ``(x, y)`` of ``flow[nf]`` for every step
    (the CUDA kernel's work; the CPU driver does the same a row at a time).

    Writes ``disp[nf, k, y, x] = D_{k+1}`` and ``mask[nf, k, y, x]`` (every sub-step end so
    far inside ``[0, W - 1] x [0, H - 1]``, and known) for ``k < S``. With ``s = 1 / n_iter``
    (1 when ``n_iter <= 1``) each step is ``max(n_iter, 1)`` sub-steps; each takes the
    predictor ``P = s * V(x + D)``, then

    * ``n_iter >= 1`` (midpoint rule): ``D -= s * V(x + D - P / 2)``;
    * ``n_iter == 0`` (Euler): ``D -= P``.

    Positions are accumulated in float64. Once a sample reads an unknown vector, ``D`` is
    NaN for the rest of the trajectory.
    """
    _, steps, _, _, _ = disp.shape
    scale = 1.0 / n_iter if n_iter > 1 else 1.0
    dx = 0.0
    dy = 0.0
    ok = True
    for k in range(steps):
        for _ in range(max(n_iter, 1)):
            px, py = field_at(flow, nf, x + dx, y + dy)
            dx, dy = advance(flow, nf, x, y, dx, dy, scale * px, scale * py, n_iter, scale)
            ok &= inside(flow, x, y, dx, dy)
        disp[nf, k, y, x, 0] = dx
        disp[nf, k, y, x, 1] = dy
        mask[nf, k, y, x] = ok


def trace_cpu(flow, n_iter, disp, mask):
    """CPU driver: every pixel of every flow, in bands of rows on threads."""
    run_bands(_trace_cpu_band, flow, n_iter, disp, mask)


@jit(nogil=True, fastmath={"contract"})
def _trace_cpu_band(flow, n_iter, disp, mask, band, n_bands):
    """Rows ``band`` of ``n_bands``: ``trace_pixel`` for a whole row at once, each half of a
    sub-step (the predictor, then the new displacement) over the row before the next.
    One pixel's samples form a chain of dependent loads; the pixels of a row are independent,
    so short loops over them let the CPU overlap the chains (2.9x faster than pixel by pixel
    at 1280x720, 12 steps, n_iter=3, one thread).

    ``fastmath={"contract"}`` lets LLVM fuse multiply-adds (one rounding instead of two):
    the trace runs 15 % faster. Only here: the CUDA kernel compiles the inlined functions
    with their own options, and numba-cuda reads any ``fastmath`` as full fast math (no
    NaNs), which would break the NaN trajectories.
    """
    n_flow, h, w, _ = flow.shape
    _, steps, _, _, _ = disp.shape
    scale = 1.0 / n_iter if n_iter > 1 else 1.0
    dxs = np.empty(w)
    dys = np.empty(w)
    pxs = np.empty(w)  # the predictor P = s * V(x + D)
    pys = np.empty(w)
    oks = np.empty(w, np.bool_)
    start, stop = band_range(n_flow * h, band, n_bands)
    for row in range(start, stop):
        nf = row // h
        y = row - nf * h
        for x in range(w):
            dxs[x] = 0.0
            dys[x] = 0.0
            oks[x] = True
            px, py = field_at(flow, nf, np.float64(x), np.float64(y))
            pxs[x] = scale * px
            pys[x] = scale * py
        for k in range(steps):
            for _ in range(max(n_iter, 1)):
                for x in range(w):
                    dxs[x], dys[x] = advance(flow, nf, x, y, dxs[x], dys[x], pxs[x], pys[x],
                                             n_iter, scale)
                for x in range(w):  # the next predictor (one unused at the end of a row)
                    dx = dxs[x]
                    dy = dys[x]
                    px, py = field_at(flow, nf, x + dx, y + dy)
                    pxs[x] = scale * px
                    pys[x] = scale * py
                    oks[x] &= inside(flow, x, y, dx, dy)
            for x in range(w):
                disp[nf, k, y, x, 0] = dxs[x]
                disp[nf, k, y, x, 1] = dys[x]
                mask[nf, k, y, x] = oks[x]
