"""Semi-Lagrangian trajectories through a stationary flow: per-pixel math and the CPU driver.

``trace_pixel`` traces one pixel's backward trajectory for every step and writes the
displacements ``D_k``; the CPU driver (``trace_cpu``, bands of rows on threads) and the CUDA
kernel (``advect_cuda``) share its math (``field_at``, ``advance``). The image is sampled
afterwards by ``kernels.warp``; ``speed_mean_cpu`` samples it at several speeds along each
displacement and sums, for ``predict``'s speed spread. See ``flowkit.extrapolate`` for the
public API and the exact scheme.

Arrays arrive C-contiguous: ``flow (Nf, H, W, 2)`` float64 with unknown vectors already NaN
(both components; float32 taps, converted as they are read, ran the trace 15 % slower),
``disp (Nf, S, H, W, 2)`` float32 and ``mask (Nf, S, H, W)`` bool, written (``S`` steps).
"""

import numpy as np

from .jit import jit
from .parallel import band_range, bands_for, run_bands
from .warp import warp_row_linear_replicate

SERIAL_VALUES = 1 << 15  # speed_mean_cpu's outputs below this size are computed on one thread


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


@jit(fastmath={"contract"})
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


def speed_mean_cpu(image, disp, scales, weights, out, int_max):
    """CPU driver of ``predict``'s speed spread: ``out[k] = sum_i weights[i] *
    warp(image, scales[i] * disp[k])`` in one pass per row (bilinear, replicated border),
    summed in float32 in the order of the nodes, then rounded and saturated for integer
    outputs (``int_max > 0``) as ``np.clip(np.rint(sum), 0, int_max)``: the values of the
    warps (``kernels.warp``'s row function), products and sums NumPy gives, without their
    full-size temporaries, and on every thread.

    Parameters
    ----------
    image : ndarray (1, H, W, C), float32
    disp : ndarray (S, H, W, 2), float32, the backward displacement of each step
    scales, weights : ndarray (K,), float32, the nodes' speed factors and weights
    out : ndarray (S, H, W, C), float32 or uint8 / uint16 (``int_max`` its largest value), written
    int_max : float
    """
    threads = bands_for(out.size, SERIAL_VALUES)
    w, channels = image.shape[2], image.shape[3]
    index = np.empty((threads, 2, w), np.int32)    # the row sampler's xs, ys
    frac = np.empty((threads, 2, w), np.float32)   # its fxs, fys
    scaled = np.empty((threads, 2 * w), np.float32)
    sample = np.empty((threads, 2, w * channels), np.float32)  # one node's row, the sum
    run_bands(_speed_mean_band, image, disp, scales, weights, out, np.float32(int_max), index,
              frac, scaled, sample, threads=threads)


@jit
def _speed_mean_band(image, disp, scales, weights, out, int_max, index, frac, scaled_rows,
                     sample_rows, band, n_bands):
    """Output rows ``band`` of ``n_bands`` of :func:`speed_mean_cpu`, with its scratch rows
    ``[band]`` (allocated by the caller: see ``kernels.warp.warp_cpu``; whole rows, so that
    every view is C-contiguous and the row sampler's loops vectorise)."""
    steps, h, w, _ = disp.shape
    channels = image.shape[3]
    src = image.reshape(image.size)
    xs, ys, fxs, fys = index[band, 0], index[band, 1], frac[band, 0], frac[band, 1]
    scaled, sample, acc = scaled_rows[band], sample_rows[band, 0], sample_rows[band, 1]
    zero = np.float32(0)
    start, stop = band_range(steps * h, band, n_bands)
    for row in range(start, stop):
        k = row // h
        y = row - k * h
        flow_row = disp[k, y].reshape(2 * w)
        for node in range(scales.shape[0]):
            s = scales[node]
            for i in range(2 * w):
                scaled[i] = flow_row[i] * s
            # flowkit.warp's values by its bilinear, replicated-border row function (the one
            # dense Lucas-Kanade, interpolate and the flows' warps compile)
            warp_row_linear_replicate(image, src, scaled, y, xs, ys, fxs, fys, sample)
            weight = weights[node]
            if node == 0:
                for i in range(w * channels):
                    acc[i] = weight * sample[i]
            else:
                for i in range(w * channels):
                    acc[i] = acc[i] + weight * sample[i]
        out_row = out[k, y].reshape(w * channels)
        for i in range(w * channels):
            out_row[i] = np.rint(min(max(acc[i], zero), int_max)) if int_max > 0 else acc[i]
