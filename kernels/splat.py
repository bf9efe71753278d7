"""Forward warping (splatting): per-pixel math (shared with the CUDA driver) and the CPU driver.

Each source pixel ``(x, y)`` of ``image[n]`` is carried to ``(x + u, y + v)`` and its value is
spread over the four target pixels around that point with bilinear weights; see
``flowkit.splat`` for the public API. Arrays arrive C-contiguous, in the compute dtype
(float32, or float64 for float64 images): ``image (Ni, H, W, C)``, ``flow (Nf, H, W, 2)``,
with ``Ni``, ``Nf`` either 1 (shared by the batch) or N. The accumulator ``acc (N, H, W, K)``
holds per target pixel the C weighted sums, the normaliser (the accumulated weight; for
softmax the sum of the softmax weights) and, for softmax with the weight map asked for
(``K = C + 2``), the accumulated bilinear weight: ``acc[..., C]`` divides, ``acc[..., -1]`` is
the weight map (interleaved, one cache line per tap: 20-35 % faster than separate planes).
Softmax without the weight map uses ``K = C + 1``: one add fewer per tap.

Softmax (``softmax_terms``): with ``d = metric - max(metric)`` per image, each source has a
level ``q = ceil(d / LEVEL_STEP) <= 0`` and a scale ``e = exp(d - LEVEL_STEP * q)`` in
(e**-16, 1], computed by NumPy (or CuPy) before the kernels run (vectorised exp: 15x faster
than calling exp per source). When a metric spans less than ``LEVEL_STEP`` every level is 0
and the weight is ``e`` itself. Otherwise pass 1 takes the largest level ``top`` reaching
each target (``level (N, H, W)``) and pass 2 weights by ``softmax_factor``, i.e.
``exp(d - LEVEL_STEP * top)``. No factor overflows, and the front source of every target
keeps a factor > e**-16, so no covered target loses its weight to underflow, whatever the
metric's range.

CPU driver (deterministic: the result does not depend on the thread count). Each band of
``parallel.run_bands`` owns a range of target rows, and only writes there. It scans, in
raster order, the source rows whose footprints can reach its rows (``bounds``: the lowest and
highest top row ``floor(y + v)`` of each source row, from a first pass) and adds the taps that
fall in its rows. So every target pixel sums its contributions in raster order of the
sources, whatever the banding.
"""

import math

import numpy as np

from .jit import jit
from .parallel import band_range, num_threads, run_bands
from .scalar import floor
from .warp import UNKNOWN_FLOW, saturate_round

MODE_SUM = 0
MODE_AVERAGE = 1
MODE_SOFTMAX = 2
MODES = {"sum": MODE_SUM, "average": MODE_AVERAGE, "softmax": MODE_SOFTMAX}

LEVEL_STEP = 16.0  # metric units per softmax level (e**-16 ~ 1.1e-7: no float32 underflow)
_LEVEL_DROP = np.append(np.exp(-LEVEL_STEP * np.arange(8.0)), 0.0)  # a global array: a constant
DROPPED = -2  # footprint() row of a source that reaches no target pixel
_NO_ROW = 1 << 30  # bounds of a source row with no source that lands


# ---------------------------------------------------------------- per-pixel math (CPU and CUDA)

@jit
def footprint(x, y, u, v, one):
    """Top-left target ``(xi, yi)`` and fractions ``(fx, fy)`` of source ``(x, y)`` moved by
    ``(u, v)``: the taps are ``(xi + i, yi + j)``, i, j in {0, 1}, with weights
    ``tap_weight(fx, fy, i, j, one)``. ``yi == DROPPED`` for unknown flow (NaN, inf,
    ``|component| >= 1e9``). The fractions are exact, in the flow's dtype (``one`` is 1 in it).
    """
    known = abs(u) < UNKNOWN_FLOW and abs(v) < UNKNOWN_FLOW
    zero = one - one
    u = u if known else zero
    v = v if known else zero
    fu = floor(u)
    fv = floor(v)
    return x + int(fu), (y + int(fv)) if known else DROPPED, u - fu, v - fv


@jit
def tap_weight(fx, fy, i, j, one):
    """Bilinear weight of tap ``(i, j)`` (0: left / top, 1: right / bottom)."""
    return (fx if i else one - fx) * (fy if j else one - fy)


def softmax_terms(metric, xp):
    """``(q, e)`` for a metric ``(Nm, H, W)``, with the array module ``xp`` (NumPy or CuPy),
    in the metric's dtype: levels ``q`` (None when each image's metric spans less than
    ``LEVEL_STEP``: all levels 0) and scales ``e``. Exact in float32 as well: ``d / 16`` and
    ``16 q`` are, and ``d - 16 q`` is by Sterbenz's lemma (or 0 where ``d / 16`` is a whole
    number already)."""
    d = metric - metric.max(axis=(1, 2), keepdims=True)
    if float(d.min()) > -LEVEL_STEP:
        return None, xp.exp(d, out=d)
    q = xp.ceil(d / LEVEL_STEP)
    d -= LEVEL_STEP * q
    return q, xp.exp(d, out=d)


@jit
def softmax_factor(e, q, top):
    """Softmax weight of a source of scale ``e`` and level ``q`` at a target whose largest
    level is ``top`` (>= q): ``e * exp(-LEVEL_STEP * (top - q))`` from a table, 0 from 8 levels
    down (a metric more than 112 below the front's: a share under e**-112, below float64
    rounding). Branch-free: mixed levels made the branches unpredictable (2.5x slower)."""
    return e * _LEVEL_DROP[int(min(top - q, 8.0))]


@jit(error_model="numpy")
def finish_value(total, norm, divide, int_max):
    """Output value from a target's weighted sum ``total`` and normaliser ``norm``: divided
    when ``divide``; holes (``norm == 0``) NaN, or 0 for integer outputs (``int_max > 0``),
    which are rounded (ties to even) and saturated."""
    value = total / norm if divide else total
    if norm == 0:
        value = math.nan
    if int_max > 0:
        return saturate_round(0.0 if norm == 0 else value, int_max)
    return value


# ---------------------------------------------------------------- CPU driver

def splat_cpu(image, flow, levels, scales, mode, acc, level, out, int_max):
    """Splat ``image`` by ``flow`` into ``out`` (N, H, W, C).

    Parameters
    ----------
    image : ndarray (Ni, H, W, C), float32 or float64
    flow : ndarray (Nf, H, W, 2), the image's dtype
    levels : ndarray (Nm, H, W), the image's dtype
        Softmax levels ``q`` of the sources (``softmax_terms``); (0, H, W) when all are 0.
    scales : ndarray (Nm, H, W), the image's dtype
        Softmax scales ``e`` of the sources; (0, H, W) unless softmax.
    mode : int
        ``MODE_SUM``, ``MODE_AVERAGE`` or ``MODE_SOFTMAX``.
    acc : ndarray (N, H, W, K), the image's dtype, cleared by each band (its rows: in parallel,
        and warm in the cache for the sums; at 2 threads 0.2-0.4 ms faster at 1280x720 than
        a NumPy ``zeros``), then summed into: K = C + 1, or C + 2 for
        softmax with the weight map (see the module's docstring), then ``acc[..., -1]`` is
        the weight map (in the other modes the normaliser is)
    level : ndarray (N, H, W), the image's dtype, written: the largest level reaching each target;
        (0, H, W) when ``levels`` is
    out : ndarray (N, H, W, C), uint8, uint16, float32 or float64, written
    int_max : float
        Largest value of an integer output dtype, 0 for float outputs.
    """
    n_flow, h = flow.shape[:2]
    bounds = np.empty((n_flow, h, 2), np.int64)
    if num_threads() > 1:
        run_bands(_bounds_band, flow, bounds)
    else:  # one band scans every row anyway: spare the pass (0.5 ms at 1280x720)
        bounds[..., 0] = -1
        bounds[..., 1] = h - 1
    run_bands(_splat_band, image, flow, levels, scales, bounds, acc, level)
    run_bands(_finish_band, acc.reshape(acc.size), out.shape[3], mode != MODE_SUM, int_max,
              out.reshape(out.size))


@jit
def _bounds_band(flow, bounds, band, n_bands):
    """``bounds[nf, y]``: the lowest and highest top row ``y + floor(v)`` in [-1, H) over the
    known vectors of flow row y (``_NO_ROW``, ``-_NO_ROW`` when none lands there).
    Branch-free int32, so that LLVM vectorises it (7x faster than with ``footprint``)."""
    n_flow, h, w, _ = flow.shape
    far = np.int32(_NO_ROW)
    limit = flow.dtype.type(UNKNOWN_FLOW)  # in the flow's dtype: a float64 compare stops LLVM
    zero = flow.dtype.type(0)
    start, stop = band_range(n_flow * h, band, n_bands)
    for row in range(start, stop):
        nf = row // h
        y = row - nf * h
        lo = far
        hi = -far
        uv = flow[nf, y].reshape(2 * w)
        for x in range(w):
            u = uv[2 * x]
            v = uv[2 * x + 1]
            known = (abs(u) < limit) & (abs(v) < limit)
            top = np.int32(y) + np.int32(np.floor(v if known else zero))
            lands = known & (top >= -1) & (top < h)
            lo = min(lo, top if lands else far)
            hi = max(hi, top if lands else -far)
        bounds[nf, y, 0] = lo
        bounds[nf, y, 1] = hi


@jit
def _splat_band(image, flow, levels, scales, bounds, acc, level, band, n_bands):
    """Target rows ``band`` of ``n_bands`` over all N * H rows (``parallel.run_bands``)."""
    n_out, h, w, k = acc.shape
    flat = acc.reshape(acc.size)
    tops = level.reshape(level.size)
    start, stop = band_range(n_out * h, band, n_bands)
    zero = acc.dtype.type(0)
    for i in range(np.uint64(start * w * k), np.uint64(stop * w * k)):
        flat[i] = zero
    row = start
    while row < stop:  # the band's rows, one image at a time
        n = row // h
        r0 = row - n * h
        r1 = min(h, r0 + stop - row)
        if levels.shape[0]:
            for i in range((n * h + r0) * w, (n * h + r1) * w):
                tops[i] = -math.inf
            _scan_levels(flow, levels, bounds, n, r0, r1, tops)
        _scan(image, flow, levels, scales, bounds, n, r0, r1, k, flat, tops)
        row += r1 - r0


@jit
def _scan(image, flow, levels, scales, bounds, n, r0, r1, k, acc, level):
    """One pass over the sources that reach target rows [r0, r1) of image n, in raster order:
    the sums into the flat ``acc`` of ``k`` values per target (softmax with levels: weighted
    by the largest level ``level`` reaching each target, from ``_scan_levels``).

    Sources of a gray, 2-channel or RGB image whose four taps all lie in those rows with non-zero
    weights (nearly all) take a path written out per channel count with unsigned indices
    (a loop over a run-time channel count doubled the time, Numba's negative-index checks
    added 40 %), with their positions and fractions from ``_split_row``, a vectorised pass
    over the flow row (about 10 % faster than splitting each source inline); the others check
    each tap. Both add the same products in the same order. Gray images without levels
    (``gray``: sum, average, softmax within one level) take the first branch of that path,
    before the others' flags (1280x720 float32, one thread: about 0.6 ms of 5.5 faster)."""
    channels = image.shape[3]
    n_flow, h, w, _ = flow.shape
    nf = n if n_flow > 1 else 0
    ni = n if image.shape[0] > 1 else 0
    nm = n if scales.shape[0] > 1 else 0
    softmax = scales.shape[0] > 0
    leveled = levels.shape[0] > 0
    fast = channels <= 3  # gray, 2 (flows: interpolate's projections), RGB
    weighted = k > channels + 1  # the bilinear weight map too (softmax with return_weight)
    gray = k == 2 and not leveled
    one = flow.dtype.type(1)
    cast = acc.dtype.type
    d = np.uint64(w * k)  # the next target row
    kk = np.uint64(k)
    pw = np.uint64(w)
    p1 = np.uint64(1)
    q = 0.0
    e = one
    limit = flow.dtype.type(UNKNOWN_FLOW)
    pos = np.empty(w if fast else 0, np.int64)  # the row's split (_split_row)
    fxs = np.empty(w if fast else 0, flow.dtype)
    fys = np.empty(w if fast else 0, flow.dtype)
    for y in range(h):
        if bounds[nf, y, 1] < r0 - 1 or bounds[nf, y, 0] >= r1:
            continue
        uv = flow[nf, y].reshape(2 * w)
        if fast:
            _split_row(uv, y, r0, r1, n * h, limit, pos, fxs, fys)
        for x in range(w):
            if fast and pos[x] >= 0:
                fx = fxs[x]
                fy = fys[x]
                gx = one - fx  # tap_weight's products, the same bits
                gy = one - fy
                w00 = gx * gy
                w01 = fx * gy
                w10 = gx * fy
                w11 = fx * fy
                if w00 != 0 and w01 != 0 and w10 != 0 and w11 != 0:
                    if gray:  # k == 2 without levels, the commonest case: first
                        if softmax:
                            e = scales[nm, y, x]
                            w00, w01, w10, w11 = w00 * e, w01 * e, w10 * e, w11 * e
                        s = np.uint64(pos[x]) * kk
                        v0 = image[ni, y, x, 0]
                        _add2(acc, s, w00, v0, w01)
                        _add2(acc, s + d, w10, v0, w11)
                        continue
                    p = np.uint64(pos[x])
                    if leveled:
                        q = levels[nm, y, x]
                    a00, a01, a10, a11 = w00, w01, w10, w11
                    if softmax:
                        e = scales[nm, y, x]
                    if leveled:
                        a00 = cast(w00 * softmax_factor(e, q, level[p]))
                        a01 = cast(w01 * softmax_factor(e, q, level[p + p1]))
                        a10 = cast(w10 * softmax_factor(e, q, level[p + pw]))
                        a11 = cast(w11 * softmax_factor(e, q, level[p + pw + p1]))
                    elif softmax:
                        a00, a01, a10, a11 = w00 * e, w01 * e, w10 * e, w11 * e
                    s = p * kk
                    v0 = image[ni, y, x, 0]
                    v1 = image[ni, y, x, 1] if channels >= 2 else v0
                    v2 = image[ni, y, x, 2] if channels == 3 else v0
                    if k == 2:  # gray, no weight map
                        _add2(acc, s, a00, v0, a01)
                        _add2(acc, s + d, a10, v0, a11)
                        continue
                    _add_tap(acc, s, a00, w00, v0, v1, v2, channels, weighted)
                    _add_tap(acc, s + kk, a01, w01, v0, v1, v2, channels, weighted)
                    _add_tap(acc, s + d, a10, w10, v0, v1, v2, channels, weighted)
                    _add_tap(acc, s + d + kk, a11, w11, v0, v1, v2, channels, weighted)
                    continue
            u = uv[2 * x]  # footprint(), compared in the flow's dtype (1e9 is exact in float32)
            v = uv[2 * x + 1]
            if not ((abs(u) < limit) & (abs(v) < limit)):
                continue
            fu = np.floor(u)
            fv = np.floor(v)
            xi = x + int(fu)
            yi = y + int(fv)
            fx = u - fu
            fy = v - fv
            if yi + 1 < r0 or yi >= r1:
                continue
            if leveled:
                q = levels[nm, y, x]
            if softmax:
                e = scales[nm, y, x]
            v0 = image[ni, y, x, 0]
            v1 = image[ni, y, x, 1] if channels == 3 else v0
            v2 = image[ni, y, x, 2] if channels == 3 else v0
            for t in range(4):
                i = t & 1
                j = t >> 1
                a = tap_weight(fx, fy, i, j, one)
                ty = yi + j
                tx = xi + i
                if a == 0 or ty < r0 or ty >= r1 or tx < 0 or tx >= w:
                    continue
                p = (n * h + ty) * w + tx
                b = a
                if leveled:
                    a = cast(a * softmax_factor(e, q, level[p]))
                elif softmax:
                    a = a * e
                p *= k
                if channels == 1:
                    acc[p] += a * v0
                elif channels == 3:
                    acc[p] += a * v0
                    acc[p + 1] += a * v1
                    acc[p + 2] += a * v2
                else:
                    for c in range(channels):
                        acc[p + c] += a * image[ni, y, x, c]
                acc[p + channels] += a
                if weighted:
                    acc[p + channels + 1] += b


@jit
def _scan_levels(flow, levels, bounds, n, r0, r1, level):
    """Softmax's first pass over the sources that reach target rows [r0, r1) of image n: the
    largest level ``q`` of the sources whose taps of non-zero weight reach each target, into
    the flat ``level`` (a maximum: the order of the sources does not matter). The same taps
    as ``_scan``'s (``footprint``, ``tap_weight``)."""
    n_flow, h, w, _ = flow.shape
    nf = n if n_flow > 1 else 0
    nm = n if levels.shape[0] > 1 else 0
    one = flow.dtype.type(1)
    for y in range(h):
        if bounds[nf, y, 1] < r0 - 1 or bounds[nf, y, 0] >= r1:
            continue
        uv = flow[nf, y].reshape(2 * w)
        for x in range(w):
            xi, yi, fx, fy = footprint(x, y, uv[2 * x], uv[2 * x + 1], one)
            if yi == DROPPED or yi + 1 < r0 or yi >= r1:
                continue
            q = levels[nm, y, x]
            for t in range(4):
                i = t & 1
                j = t >> 1
                ty = yi + j
                tx = xi + i
                if tap_weight(fx, fy, i, j, one) == 0 or ty < r0 or ty >= r1 or tx < 0 or tx >= w:
                    continue
                p = (n * h + ty) * w + tx
                level[p] = max(level[p], q)


@jit
def _split_row(uv, y, r0, r1, base, limit, pos, fxs, fys):
    """``footprint()`` of the sources of one flow row ``uv`` (2 W,) at row ``y``, in a loop
    that LLVM vectorises: ``pos[x]`` the flat index ``(base + yi) * W + xi`` of the top-left
    tap when the source is known and its four taps lie in the frame and in target rows
    [r0, r1), else -1; ``fxs``, ``fys`` the fractions (the same bits as ``_scan``'s per-source
    split). ``xi``, ``yi`` in int32 (exact: ``|u|, |v| < 1e9`` and W, H < 1e9) keep the loop
    vectorised; ``(base + yi) * W + xi`` in int64."""
    w = np.int32(pos.size)
    zero = uv.dtype.type(0)
    y = np.int32(y)
    r0 = np.int32(r0)
    r1 = np.int32(r1)
    for x in range(pos.size):
        u = uv[2 * x]
        v = uv[2 * x + 1]
        known = (abs(u) < limit) & (abs(v) < limit)
        fu = np.floor(u if known else zero)
        fv = np.floor(v if known else zero)
        xi = np.int32(x) + np.int32(fu)
        yi = y + np.int32(fv)
        inside = known & (yi >= r0) & (yi < r1 - 1) & (xi >= 0) & (xi < w - 1)
        pos[x] = (base + yi) * np.int64(w) + xi if inside else -1
        fxs[x] = u - fu
        fys[x] = v - fv


@jit
def _add2(acc, s, wa, v, wb):
    """Two gray taps side by side at ``s`` without a weight map: (sum, normaliser) pairs."""
    acc[s] += wa * v
    acc[s + np.uint64(1)] += wa
    acc[s + np.uint64(2)] += wb * v
    acc[s + np.uint64(3)] += wb


@jit
def _add_tap(acc, s, a, b, v0, v1, v2, channels, weighted):
    """One tap of a source of 1, 2 or 3 channels at ``s``: the weighted values and ``a``, then
    (with the weight map) the bilinear weight ``b``."""
    one = np.uint64(1)
    acc[s] += a * v0
    if channels >= 2:
        acc[s + one] += a * v1
    if channels == 3:
        acc[s + np.uint64(2)] += a * v2
    acc[s + np.uint64(channels)] += a
    if weighted:
        acc[s + np.uint64(channels + 1)] += b


@jit
def _finish_band(acc, channels, divide, int_max, out, band, n_bands):
    """Target pixels ``band`` of ``n_bands`` of ``finish_value`` (``parallel.run_bands``);
    gray, 2 channels and RGB written out (3x faster than the loop over a run-time channel
    count)."""
    n_pixels = out.size // channels
    k = acc.size // n_pixels
    start, stop = band_range(n_pixels, band, n_bands)
    if channels == 1 and k == 2 and int_max == 0:  # gray float: vectorised (see below)
        _finish_float_gray(acc, divide, out, start, stop)
    elif channels == 1 and k == 2:  # a constant stride: LLVM vectorises it (2x faster)
        for p in range(start, stop):
            out[p] = finish_value(acc[2 * p], acc[2 * p + 1], divide, int_max)
    elif channels == 1:
        for p in range(start, stop):
            out[p] = finish_value(acc[k * p], acc[k * p + 1], divide, int_max)
    elif channels == 3 and k == 4 and int_max > 0:  # integer RGB: vectorised (see below)
        _finish_int_rgb(acc, divide, int_max, out, start, stop)
    elif channels == 2:  # flows
        for p in range(start, stop):
            norm = acc[k * p + 2]
            out[2 * p] = finish_value(acc[k * p], norm, divide, int_max)
            out[2 * p + 1] = finish_value(acc[k * p + 1], norm, divide, int_max)
    elif channels == 3:
        for p in range(start, stop):
            norm = acc[k * p + 3]
            out[3 * p] = finish_value(acc[k * p], norm, divide, int_max)
            out[3 * p + 1] = finish_value(acc[k * p + 1], norm, divide, int_max)
            out[3 * p + 2] = finish_value(acc[k * p + 2], norm, divide, int_max)
    else:
        for p in range(start, stop):
            norm = acc[k * p + channels]
            for c in range(channels):
                out[channels * p + c] = finish_value(acc[k * p + c], norm, divide, int_max)


@jit(error_model="numpy")
def _finish_float_gray(acc, divide, out, start, stop):
    """``_finish_band``'s pixels [start, stop) of a float gray output from (sum, normaliser)
    pairs: ``finish_value`` in the accumulator's dtype with unsigned indices, which LLVM
    vectorises (1280x720 float32, one thread: 0.47 ms against 1.13 ms through
    ``finish_value``, whose float64 NaN and signed indices keep the loop scalar). The same
    bits: the quotient is rounded once to the accumulator's dtype either way."""
    nan = acc.dtype.type(math.nan)
    two = np.uint64(2)
    for p in range(np.uint64(start), np.uint64(stop)):
        total = acc[two * p]
        norm = acc[two * p + np.uint64(1)]
        value = total / norm if divide else total
        out[p] = nan if norm == 0 else value


@jit(error_model="numpy")
def _finish_int_rgb(acc, divide, int_max, out, start, stop):
    """``_finish_band``'s pixels [start, stop) of an integer RGB output from a four-value
    accumulator (sum, average, softmax without the weight map): ``finish_value`` written
    out with constant strides and unsigned indices, clamped and rounded in the accumulator's
    dtype, so that LLVM vectorises it (1280x720 uint8, one thread: 0.3 ms against 2.65 ms for
    the general loop, whose stride is the run-time ``k``; with signed indices, which Numba
    wraps when negative, it stays scalar: 1.7 ms). The same bits as ``finish_value``: the
    bounds 0 and ``int_max`` are whole numbers below 2**24, rounding a float32 value to a
    whole number gives the same result in float32 as in float64, and dividing by 1 when
    not ``divide`` is exact (an integer image gives no NaN sums)."""
    zero = acc.dtype.type(0)
    top = acc.dtype.type(int_max)
    one = acc.dtype.type(1)
    for p in range(np.uint64(start), np.uint64(stop)):
        i = p * np.uint64(4)
        o = p * np.uint64(3)
        norm = acc[i + np.uint64(3)]
        d = norm if divide else one
        hole = norm == 0
        r = np.rint(min(max(acc[i] / d, zero), top))
        g = np.rint(min(max(acc[i + np.uint64(1)] / d, zero), top))
        b = np.rint(min(max(acc[i + np.uint64(2)] / d, zero), top))
        out[o] = zero if hole else r
        out[o + np.uint64(1)] = zero if hole else g
        out[o + np.uint64(2)] = zero if hole else b
