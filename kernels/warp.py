"""Backward warping: per-pixel math (shared with the CUDA driver) and the CPU driver.

``out[n, y, x, c] = image[n, y + v, x + u, c]`` sampled with ``kernels.interp``; see
``flowkit.warp`` for the public API. Arrays arrive C-contiguous and laid out as
``image (Ni, H, W, C)``, ``flow (Nf, H, W, 2)``, ``out (N, H, W, C)`` and ``mask (Nf, H, W)``
with ``Ni`` and ``Nf`` either 1 (shared by the whole batch) or N.

The CPU driver works a row at a time in three passes:

1. split every sample position into index and fraction and flag the pixels whose taps are
   all inside the image (branch-free, so LLVM vectorises it; this pass was 80 % of the
   time when written per pixel); the mask, when asked for, in a pass of its own;
2. interpolate: flagged pixels read their taps directly, weights computed once per pixel
   for all channels (one-channel bilinear: branch-free over the whole row, uint8 planes 8
   pixels at a time from AVX2 gathers, see ``_linear_gray``); the rest (borders, unknown
   flow) take ``warp_pixel``, the same function the CUDA kernel runs for every pixel. Float
   outputs are written in place;
3. integer outputs: round and saturate the float row into the output (vectorised).
"""

import numpy as np
from llvmlite import binding, ir
from numba import types
from numba.core import cgutils, config
from numba.extending import intrinsic, overload

from . import interp
from .atomic import atomic_add, unowned
from .scalar import rint
from .jit import internal, jit
from .parallel import (SHARED_COUNTERS, band_range, bands_for, claim_chunk, finish_chunk,
                       num_threads, run_bands, run_shared)

UNKNOWN_FLOW = 1e9  # |component| >= this (or NaN) marks an unknown flow vector
_ROWS_PER_TASK = 8
_SERIAL_VALUES = 1 << 15  # warp_linear_cpu's outputs below this size run on one thread
_OFFSET_LIMIT = 2**31  # one-channel bilinear rows take int32 tap offsets below this plane size
# AVX2 gathers in the gray bilinear path, when Numba compiles for this very CPU
_AVX2 = (not config.CPU_NAME and not config.CPU_FEATURES
         and "avx2" in binding.get_host_cpu_features().flatten())


@jit
def saturate_round(value, int_max):
    """Clamp to [0, int_max] and round to nearest, ties to even (as ``cv2.saturate_cast``); a
    whole number, as a float."""
    return rint(min(max(value, 0.0), int_max))  # branch-free: vectorises in loops


@jit
def warp_pixel(image, ni, y, x, u, v, dst, k, interpolation, border, border_value, int_max):
    """Sample every channel of ``image[ni]`` at (x + u, y + v) into ``dst[k:k + C]``.

    Border-aware and general (any position, any border): the CUDA kernel runs it for every
    pixel, the CPU driver for pixels near the borders and unknown flow. Unknown flow (NaN,
    inf or a component >= 1e9 in size) gives ``border_value``. Integer destinations
    (``int_max > 0``) get rounded, saturated values. Tap indices and weights are worked out
    once per pixel, then reused for every channel (no per-channel plane views: on the CPU
    each view costs atomic reference counting). Returns whether the sample position lies
    inside the image (the mask).
    """
    _, h, w, channels = image.shape
    if not (abs(u) < UNKNOWN_FLOW and abs(v) < UNKNOWN_FLOW):
        for c in range(channels):
            _put(dst, k + c, border_value, int_max)
        return False
    xi, fx = interp.split_position(x, u, w, border)
    yi, fy = interp.split_position(y, v, h, border)
    inside = interp.inside(xi, fx, w) and interp.inside(yi, fy, h)
    if interpolation == interp.INTER_NEAREST:
        xi = interp.nearest_index(xi, fx)
        yi = interp.nearest_index(yi, fy)
        fx = 0.0
        fy = 0.0
        first = 0
        taps = 1
    elif interpolation == interp.INTER_LINEAR:
        first = 0
        taps = 2
    else:
        first = -1
        taps = 4
    wx0, wx1, wx2, wx3 = _weights(fx, interpolation)
    wy0, wy1, wy2, wy3 = _weights(fy, interpolation)
    # Mapped indices (-1: constant border); a tap of weight 0 is not read (a NaN
    # border_value times 0 would be NaN).
    cx0 = _mapped(xi + first, w, border, wx0)
    cx1 = _mapped(xi + first + 1, w, border, wx1) if taps > 1 else -2
    cx2 = _mapped(xi + first + 2, w, border, wx2) if taps > 2 else -2
    cx3 = _mapped(xi + first + 3, w, border, wx3) if taps > 3 else -2
    for c in range(channels):
        acc = 0.0
        for j in range(taps):
            wy = wy0 if j == 0 else wy1 if j == 1 else wy2 if j == 2 else wy3
            ry = _mapped(yi + first + j, h, border, wy)
            if ry == -2:
                continue
            row = (_read(image, ni, ry, cx0, c, wx0, border_value)
                   + _read(image, ni, ry, cx1, c, wx1, border_value)
                   + _read(image, ni, ry, cx2, c, wx2, border_value)
                   + _read(image, ni, ry, cx3, c, wx3, border_value))
            acc += wy * row
        _put(dst, k + c, acc, int_max)
    return inside


@jit
def _weights(f, interpolation):
    """Tap weights for a fraction ``f``: 1 tap (nearest), 2 (linear) or 4 (cubic)."""
    if interpolation == interp.INTER_CUBIC:
        return interp.cubic_weights(f)
    if interpolation == interp.INTER_LINEAR:
        return 1.0 - f, f + 0.0, 0.0, 0.0
    return 1.0, 0.0, 0.0, 0.0


@jit
def _mapped(i, n, border, weight):
    """Border-mapped index; -1 for the constant border, -2 for a tap of weight 0."""
    if weight == 0:
        return -2
    return interp.border_index(i, n, border)


@jit
def _read(image, ni, ry, rx, c, weight, border_value):
    """weight * image[ni, ry, rx, c] for mapped indices (-1: border_value, -2: nothing)."""
    if ry == -2 or rx == -2:
        return 0.0
    if ry < 0 or rx < 0:
        return weight * border_value
    return weight * image[ni, ry, rx, c]


@jit
def _put(dst, k, value, int_max):
    dst[k] = saturate_round(value, int_max) if int_max > 0 else value


@internal
def _position(flow_row, x, y):
    """Sample position of pixel ``(x, y)`` split as in ``interp.split_position``:
    ``(known, xi, yi, fx, fy)``; unknown flow (NaN, inf, ``|component| >= 1e9``) is split as
    zero flow. Branch-free, int32 and (for float32 flows) float32: loops over it vectorise
    (``np.floor``, not ``math.floor``, a libm call returning int64). ``u - floor(u)`` is exact
    except for tiny negative ``u``, where it may round to 1.0 (a shift below 6e-8 px)."""
    zero = np.float32(0)
    u = flow_row[2 * x]
    v = flow_row[2 * x + 1]
    known = (abs(u) < UNKNOWN_FLOW) & (abs(v) < UNKNOWN_FLOW)
    u = u if known else zero
    v = v if known else zero
    fu = np.floor(u)
    fv = np.floor(v)
    # int32 sums (Numba adds int32s in int64: 64-bit vector lanes, half as many per step)
    return (known, np.int32(np.int32(x) + np.int32(fu)), np.int32(np.int32(y) + np.int32(fv)),
            u - fu, v - fv)


@internal
def _split_row(flow_row, y, h, w, interpolation, border, row_step, xs, ys, fxs, fys):
    """Pass 1 for one row: integer parts ``xs``, ``ys`` and fractions ``fxs``, ``fys`` of
    the sample positions (``_position``). ``ys[x] = -1`` (and ``xs[x] = 0``) marks pixels for
    the general path: unknown flow, or a tap outside the image (linear and nearest with the
    replicate border never need it: clamping the position to [0, n - 2] with the fraction set
    to 0 or 1 reads the same edge pixels). Returns whether any pixel is so marked (a bool: an
    int64 count, as Numba types a sum of int32s, held the vectorised loop to narrower lanes and
    cost the split about 0.2 ms of its 0.55 ms at 1280x720).

    ``xs[x]`` is ``ys[x] * row_step + xi``: the column for ``row_step = 0``, the tap's offset
    in a one-channel plane for ``row_step = w`` (int32: planes under 2**31 pixels), which
    saves the bilinear blend (``_linear_gray``) a load, a multiply and a clamp per pixel.

    Branch-free (no mask here: a conditional store in the loop cost 50 % more), so that LLVM
    vectorises it.
    """
    zero = np.float32(0)
    one = np.float32(1)
    cubic = interpolation == interp.INTER_CUBIC
    lo = np.int32(1 if cubic else 0)  # taps at offsets -lo .. hi
    hi = np.int32(h - 2 if cubic else h - 1)  # last row (then column) with every tap inside
    hi_x = np.int32(w - 2 if cubic else w - 1)
    clamp = border == interp.BORDER_REPLICATE and not cubic and w >= 2 and h >= 2
    w2 = np.int32(w - 2)
    h2 = np.int32(h - 2)
    step = np.int32(row_step)
    slow = False
    for x in range(w):
        known, xi, yi, fx, fy = _position(flow_row, x, y)
        if clamp:
            low = xi < 0
            high = xi > w2
            fx = zero if low else one if high else fx
            xi = np.int32(0) if low else w2 if high else xi
            low = yi < 0
            high = yi > h2
            fy = zero if low else one if high else fy
            yi = np.int32(0) if low else h2 if high else yi
        fast = known & (xi >= lo) & (xi < hi_x) & (yi >= lo) & (yi < hi)
        fxs[x] = fx
        fys[x] = fy
        xs[x] = yi * step + xi if fast else np.int32(0)
        ys[x] = yi if fast else np.int32(-1)
        slow = slow | (not fast)
    return slow


@internal
def _mask_row(flow_row, y, h, w, mask_row):
    """The mask of one row: whether the sample position is known and lies inside the image,
    ``0 <= x + u <= W - 1`` and ``0 <= y + v <= H - 1`` (``interp.inside``)."""
    zero = np.float32(0)
    w1 = np.int32(w - 1)
    h1 = np.int32(h - 1)
    for x in range(w):
        known, xi, yi, fx, fy = _position(flow_row, x, y)
        mask_row[x] = (known & (xi >= 0) & ((xi < w1) | ((xi == w1) & (fx == zero)))
                       & (yi >= 0) & ((yi < h1) | ((yi == h1) & (fy == zero))))


@internal
def _list_slow(ys, w):
    """Move the columns of the pixels marked for the general path (``ys[x] < 0``) to the
    front of ``ys`` (``ys[:x]`` is used up by then); returns their number."""
    n_slow = 0
    for x in range(w):
        if ys[x] < 0:
            ys[n_slow] = x
            n_slow += 1
    return n_slow


@internal
def _linear_gray(src, plane, h, w, xs, ys, fxs, fys, dst, slow):
    """Pass 2, bilinear, one channel; returns the number of pixels ``_split_row`` left to the
    general path (``slow``: whether there are any), listed in ``ys[:n]`` (``_list_slow``).

    Every pixel is blended branch-free from the taps at offset ``xs`` in the plane (split
    with ``row_step = w``; 0 for the general path's pixels, whose value here is written over
    later; a fast pixel means the plane is at least 2 x 2, so offset 0 reads inside it);
    uint8 planes with AVX2 8 pixels at a time by ``_gather_span`` (LLVM does not vectorise
    the gather loop itself: it cannot prove ``dst`` and ``src`` apart).
    """
    if h < 2 or w < 2:  # every pixel is slow, and offset 0 would read past the plane
        return _list_slow(ys, w)
    one = np.uint64(1)
    udy = np.uint64(w)
    for x in range(_gather_span(src, plane, xs, fxs, fys, dst, w), w):
        p = np.uint64(plane + xs[x])
        fx = fxs[x]
        fy = fys[x]
        gx = np.float32(1) - fx
        gy = np.float32(1) - fy
        dst[x] = (gy * (gx * src[p] + fx * src[p + one])
                  + fy * (gx * src[p + udy] + fx * src[p + udy + one]))
    return _list_slow(ys, w) if slow else 0


def _gather_span(src, plane, xs, fxs, fys, dst, w):
    """Blend ``dst[:n]`` of a uint8 plane with AVX2 gathers, n a multiple of 8 (0 where
    unsupported). Not for float32 planes: their 4 gathers per 8 pixels took 1.2-1.5x the time
    of the scalar loop on the development VM's AMD EPYC (Zen 4), where a uint8 row (one gather
    per tap pair) takes about 0.6x the scalar loop's time."""


@overload(_gather_span, jit_options={"cache": True})
def _gather_span_impl(src, plane, xs, fxs, fys, dst, w):
    f32 = types.float32
    if not (_AVX2 and src.dtype == types.uint8 and fxs.dtype == f32 and dst.dtype == f32):
        return lambda src, plane, xs, fxs, fys, dst, w: 0

    def impl(src, plane, xs, fxs, fys, dst, w):
        n = w - w % 8
        for x in range(0, n, 8):
            _gather8(src, plane, xs, fxs, fys, dst, x, w)
        return n
    return impl


@intrinsic
def _gather8(typingctx, src, plane, xs, fxs, fys, dst, x, w):
    """``dst[x:x + 8]``, bilinear from the uint8 taps at ``src[plane + off]`` (+1, +w, +w+1),
    ``off = xs`` (offsets in the plane; ``xs``, ``fxs``, ``fys`` at ``[x:x + 8]``), in 2
    gathers: one dword gather reads a tap pair (bytes 0-1 at the offset, 2-3 at
    offset + w - 2, both inside the plane for interior pixels)."""
    sig = types.void(src, types.intp, xs, fxs, fys, dst, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        s, plane, xa, fx, fy, d, x, w = args
        ptr = [context.make_array(t)(context, builder, v).data
               if isinstance(t, types.Array) else None for t, v in zip(signature.args, args)]
        f32, i8, i32 = ir.FloatType(), ir.IntType(8), ir.IntType(32)
        vf, vi = ir.VectorType(f32, 8), ir.VectorType(i32, 8)

        def load(k, ty):
            return builder.load(builder.bitcast(builder.gep(ptr[k], [x]), ty.as_pointer()),
                                align=4)

        def splat(value):
            vec = ir.Constant(vi, None)
            for lane in range(8):
                vec = builder.insert_element(vec, value, ir.Constant(i32, lane))
            return vec

        base = builder.bitcast(builder.gep(ptr[0], [plane]), i8.as_pointer())
        dy = splat(builder.trunc(w, i32))
        off = load(2, vi)
        ones = ir.Constant(vi, [-1] * 8)
        fnty = ir.FunctionType(vi, [vi, base.type, vi, vi, i8])
        gather = cgutils.get_or_insert_function(builder.module, fnty,
                                                "llvm.x86.avx2.gather.d.d.256")
        top = builder.call(gather, [ones, base, off, ones, ir.Constant(i8, 1)])
        off = builder.sub(builder.add(off, dy), ir.Constant(vi, [2] * 8))
        bottom = builder.call(gather, [ones, base, off, ones, ir.Constant(i8, 1)])
        taps = [builder.uitofp(builder.and_(builder.lshr(v, ir.Constant(vi, [b] * 8)),
                                           ir.Constant(vi, [255] * 8)), vf)
                for v, b in ((top, 0), (top, 8), (bottom, 16), (bottom, 24))]
        a, b, c, e = taps
        fxv, fyv = load(3, vf), load(4, vf)
        unit = ir.Constant(vf, [1.0] * 8)
        gxv, gyv = builder.fsub(unit, fxv), builder.fsub(unit, fyv)
        mul, add = builder.fmul, builder.fadd  # the scalar paths' formula, bit for bit
        top = add(mul(gxv, a), mul(fxv, b))
        bottom = add(mul(gxv, c), mul(fxv, e))
        out = add(mul(gyv, top), mul(fyv, bottom))
        builder.store(out, builder.bitcast(builder.gep(ptr[5], [x]), vf.as_pointer()), align=4)
        return context.get_dummy_value()
    return sig, codegen


@internal
def _linear_rgb(src, plane, w, xs, ys, fxs, fys, dst):
    """Pass 2, bilinear, three channels (weights once per pixel); as ``_linear_gray``."""
    c1 = np.uint64(1)
    c2 = np.uint64(2)
    dx = np.uint64(3)
    dy = np.uint64(3 * w)
    n_slow = 0
    for x in range(w):
        yi = ys[x]
        if yi < 0:
            ys[n_slow] = x
            n_slow += 1
            continue
        fx = fxs[x]
        fy = fys[x]
        p = np.uint64(plane + (np.int64(yi) * w + xs[x]) * 3)
        gx = np.float32(1) - fx
        gy = np.float32(1) - fy
        w00 = gx * gy
        w01 = fx * gy
        w10 = gx * fy
        w11 = fx * fy
        q = p + dy
        k = np.uint64(3 * x)
        dst[k] = w00 * src[p] + w01 * src[p + dx] + w10 * src[q] + w11 * src[q + dx]
        dst[k + c1] = (w00 * src[p + c1] + w01 * src[p + dx + c1] + w10 * src[q + c1]
                       + w11 * src[q + dx + c1])
        dst[k + c2] = (w00 * src[p + c2] + w01 * src[p + dx + c2] + w10 * src[q + c2]
                       + w11 * src[q + dx + c2])
    return n_slow


@internal
def _linear_any(src, plane, w, channels, xs, ys, fxs, fys, dst):
    """Bilinear samples of a row for any channel count: the pixels flagged by ``_split_row``
    (``ys >= 0``, every tap inside) read their taps, weights once per pixel for all channels;
    the others are listed in ``ys[:n_slow]`` for ``warp_pixel`` (``_list_slow``). Returns
    ``n_slow``."""
    dx = np.uint64(channels)
    dy = np.uint64(w * channels)
    for x in range(w):
        yi = ys[x]
        if yi < 0:  # the general path's (listed below)
            continue
        fx = fxs[x]
        fy = fys[x]
        p = np.uint64(plane + (np.int64(yi) * w + xs[x]) * channels)  # unsigned: no wraparound code
        gx = np.float32(1) - fx  # float32 weights for float32 flows, float64 for float64
        gy = np.float32(1) - fy
        k = x * channels
        for c in range(channels):
            q = p + np.uint64(c)
            dst[k + c] = (gy * (gx * src[q] + fx * src[q + dx])
                          + fy * (gx * src[q + dy] + fx * src[q + dy + dx]))
    return _list_slow(ys, w)


@internal
def _nearest_any(src, plane, w, channels, xs, ys, fxs, fys, dst):
    """Nearest-neighbour samples of a row (ties to even, as ``cv2.remap``), flagged pixels
    only, as :func:`_linear_any`. Returns ``n_slow``."""
    for x in range(w):
        yi = ys[x]
        if yi < 0:  # the general path's (listed below)
            continue
        xi = interp.nearest_index(xs[x], fxs[x])
        yi = interp.nearest_index(yi, fys[x])
        p = np.uint64(plane + (np.int64(yi) * w + xi) * channels)  # unsigned: no wraparound code
        k = x * channels
        for c in range(channels):
            dst[k + c] = src[p + np.uint64(c)]
    return _list_slow(ys, w)


@internal
def _cubic_any(src, plane, w, channels, xs, ys, fxs, fys, dst):
    """Bicubic (Keys, a = -0.75, ``interp.cubic_weights``) samples of a row, flagged pixels
    only (all 16 taps inside), weights once per pixel for all channels, as
    :func:`_linear_any`. Returns ``n_slow``."""
    dx = np.uint64(channels)
    dy = np.uint64(w * channels)
    for x in range(w):
        yi = ys[x]
        if yi < 0:  # the general path's (listed below)
            continue
        p = np.uint64(plane + (np.int64(yi) * w + xs[x]) * channels)  # unsigned: no wraparound code
        wx0, wx1, wx2, wx3 = interp.cubic_weights(fxs[x])
        wy0, wy1, wy2, wy3 = interp.cubic_weights(fys[x])
        k = x * channels
        for c in range(channels):
            q = p + np.uint64(c) - dy - dx  # the top-left tap; rows written out (no loop)
            row0 = wx0 * src[q] + wx1 * src[q + dx] + wx2 * src[q + 2 * dx] + wx3 * src[q + 3 * dx]
            q += dy
            row1 = wx0 * src[q] + wx1 * src[q + dx] + wx2 * src[q + 2 * dx] + wx3 * src[q + 3 * dx]
            q += dy
            row2 = wx0 * src[q] + wx1 * src[q + dx] + wx2 * src[q + 2 * dx] + wx3 * src[q + 3 * dx]
            q += dy
            row3 = wx0 * src[q] + wx1 * src[q + dx] + wx2 * src[q + 2 * dx] + wx3 * src[q + 3 * dx]
            dst[k + c] = wy0 * row0 + wy1 * row1 + wy2 * row2 + wy3 * row3
    return _list_slow(ys, w)


@internal
def _warp_row(image, src, flow_row, ni, y, interpolation, border, border_value,
              xs, ys, fxs, fys, dst, mask_row):
    """Passes 1 and 2 for one output row, into ``dst`` (W * C values)."""
    _, h, w, channels = image.shape
    gray = interpolation == interp.INTER_LINEAR and channels == 1 and h * w < _OFFSET_LIMIT
    slow = _split_row(flow_row, y, h, w, interpolation, border, w if gray else 0,
                      xs, ys, fxs, fys)
    if mask_row.size:
        _mask_row(flow_row, y, h, w, mask_row)
    plane = ni * h * w * channels
    if gray:
        n_slow = _linear_gray(src, plane, h, w, xs, ys, fxs, fys, dst, slow)
    elif interpolation == interp.INTER_LINEAR and channels == 3:
        n_slow = _linear_rgb(src, plane, w, xs, ys, fxs, fys, dst)
    elif interpolation == interp.INTER_LINEAR:
        n_slow = _linear_any(src, plane, w, channels, xs, ys, fxs, fys, dst)
    elif interpolation == interp.INTER_CUBIC:
        n_slow = _cubic_any(src, plane, w, channels, xs, ys, fxs, fys, dst)
    else:
        n_slow = _nearest_any(src, plane, w, channels, xs, ys, fxs, fys, dst)
    for i in range(n_slow):
        x = ys[i]
        inside = warp_pixel(image, ni, y, x, flow_row[2 * x], flow_row[2 * x + 1], dst,
                            x * channels, interpolation, border, border_value, 0.0)
        if mask_row.size:
            mask_row[x] = inside


@internal
def warp_row_linear_replicate(image, src, flow_row, y, xs, ys, fxs, fys, dst):
    """``_warp_row`` for bilinear sampling with replicated borders of ``image[0]``, the one mode
    dense Lucas-Kanade, ``predict``'s speed spread, ``interpolate``'s ``"project"`` blend and
    :func:`warp_linear_cpu` warp with, compiled without the nearest and cubic loops (a first
    call compiles about 4 s less). The same functions give the same values as ``_warp_row``:
    gray and RGB rows take the vectorised interiors, other channel counts (and gray planes of
    2**31 pixels or more) :func:`_linear_any`, the rest (unknown flow, taps outside the image)
    ``warp_pixel``. No mask is written.
    """
    _, h, w, channels = image.shape
    gray = channels == 1 and h * w < _OFFSET_LIMIT
    slow = _split_row(flow_row, y, h, w, interp.INTER_LINEAR, interp.BORDER_REPLICATE,
                      w if gray else 0, xs, ys, fxs, fys)
    if gray:
        n_slow = _linear_gray(src, 0, h, w, xs, ys, fxs, fys, dst, slow)
    elif channels == 3:
        n_slow = _linear_rgb(src, 0, w, xs, ys, fxs, fys, dst)
    else:  # 2 channels (flows), 4, ...
        n_slow = _linear_any(src, 0, w, channels, xs, ys, fxs, fys, dst)
    for i in range(n_slow):
        x = ys[i]
        warp_pixel(image, 0, y, x, flow_row[2 * x], flow_row[2 * x + 1], dst, x * channels,
                   interp.INTER_LINEAR, interp.BORDER_REPLICATE, 0.0, 0.0)


@internal
def warp_row_cubic_replicate(image, src, flow_row, y, xs, ys, fxs, fys, dst):
    """:func:`warp_row_linear_replicate` for bicubic sampling (``flowkit.warp``'s
    ``interpolation="cubic"``, replicated border): the values of ``_warp_row`` in that mode,
    for ``interpolate``'s ``"project"`` blend. No mask is written."""
    _, h, w, channels = image.shape
    _split_row(flow_row, y, h, w, interp.INTER_CUBIC, interp.BORDER_REPLICATE, 0,
               xs, ys, fxs, fys)
    n_slow = _cubic_any(src, 0, w, channels, xs, ys, fxs, fys, dst)
    for i in range(n_slow):
        x = ys[i]
        warp_pixel(image, 0, y, x, flow_row[2 * x], flow_row[2 * x + 1], dst, x * channels,
                   interp.INTER_CUBIC, interp.BORDER_REPLICATE, 0.0, 0.0)


def warp_linear_cpu(image, flow, out):
    """CPU driver of :func:`warp_row_linear_replicate`: ``out[0] = warp(image[0], flow[0])``
    with ``flowkit.warp``'s defaults (bilinear, replicated border) for float32 ``image``
    ``(1, H, W, C)``, ``flow`` ``(1, H, W, 2)`` and ``out`` ``(1, H, W, C)``: the values of
    :func:`warp_cpu` (the same row functions), without compiling its nearest, cubic, border,
    integer, batch and mask paths (about 2 s of a first call): for internal callers that only
    warp float32 by those defaults (``interpolate``'s occlusion test and brightness error),
    so that ``retime`` does not compile the general driver at all. Bands of rows claimed by
    the threads, each row written by one band: the result does not depend on the thread count.
    """
    _, h, w, _ = out.shape
    threads = bands_for(out.size, _SERIAL_VALUES)
    n_bands = threads if threads == 1 else 4 * threads
    index = np.empty((n_bands, 2, w), np.int32)   # xs, ys per band
    frac = np.empty((n_bands, 2, w), np.float32)  # fxs, fys per band
    run_bands(_warp_linear_band, image, flow, out, index, frac, threads=n_bands, claim=True)


@jit
def _warp_linear_band(image, flow, out, index, frac, band, n_bands):
    """Rows ``band`` of ``n_bands`` of :func:`warp_linear_cpu`, with scratch rows ``[band]``."""
    _, h, w, channels = image.shape
    src = image.reshape(image.size)
    xs, ys, fxs, fys = index[band, 0], index[band, 1], frac[band, 0], frac[band, 1]
    start, stop = band_range(h, band, n_bands)
    for y in range(start, stop):
        warp_row_linear_replicate(image, src, flow[0, y].reshape(2 * w), y, xs, ys, fxs, fys,
                                  out[0, y].reshape(w * channels))


def _blend_target(out_row, scratch):
    """The row pass 2 blends into: the output row itself for float outputs, the float32
    scratch row for integer outputs (rounded into the output by pass 3)."""


@overload(_blend_target, jit_options={"cache": True})
def _blend_target_impl(out_row, scratch):
    # chosen while typing, so each driver specialisation compiles one _warp_row, not two
    if isinstance(out_row.dtype, types.Integer):
        return lambda out_row, scratch: scratch
    return lambda out_row, scratch: out_row


def warp_cpu(image, flow, out, mask, interpolation, border, border_value, int_max):
    """CPU driver: ``_warp_cpu_shared`` on every thread, the threads claiming row tasks of
    ``_ROWS_PER_TASK`` rows from a shared counter (``parallel.run_shared``): a thread that
    starts late, its core busy with another process, leaves its tasks to the others (static
    bands made the caller wait for it: 2 threads took as long as 1 on a loaded machine).

    The threads' scratch rows are allocated here, in the calling thread: a pool thread that
    allocated its own per task ran its band up to 1.9x slower than the caller's on the 2-core
    development VM, depending on the process's history (gone with ``MALLOC_ARENA_MAX=1``, so
    the worker's malloc arena is the suspect); without allocations in the band both run alike.

    Parameters
    ----------
    image : ndarray (Ni, H, W, C), uint8, uint16, float32 or float64
    flow : ndarray (Nf, H, W, 2), float32 (float64 for float64 images)
    out : ndarray (N, H, W, C), the image dtype, written
    mask : ndarray (Nf, H, W), bool, written; (0, H, W) when no mask is wanted
    interpolation, border : int
        Codes from ``kernels.interp``.
    border_value : float
    int_max : float
        Largest value of an integer output dtype, 0 for float outputs (integer rows are
        blended into a float32 row, then rounded and saturated in a vectorised pass).
    """
    threads = num_threads()
    n_out, h, w, channels = out.shape
    index = np.empty((threads, 2, w), np.int32)          # xs, ys per thread
    frac = np.empty((threads, 2, w), flow.dtype)          # fxs, fys per thread
    vals = np.empty((threads, w * channels if int_max > 0 else 0), np.float32)
    slots = np.zeros(1, np.int64)  # the next thread's scratch row
    run_shared(_warp_cpu_shared, image, flow, out, mask, interpolation, border, border_value,
               int_max, index, frac, vals, _NO_MASK, slots,
               chunks=(n_out * h + _ROWS_PER_TASK - 1) // _ROWS_PER_TASK, threads=threads)


_NO_MASK = np.zeros(0, np.bool_)  # C-contiguous like mask rows (one array type)


@jit
def _warp_cpu_shared(image, flow, out, mask, interpolation, border, border_value, int_max,
                     index, frac, vals_all, no_mask, slots, state):
    """The row tasks of :func:`warp_cpu` this thread claims (``parallel.claim_chunk``), with
    scratch rows of its own (``slots``: the next free one)."""
    # row views and helper arguments of unowned arrays update no reference count, which the
    # threads would contend for (kernels/atomic.py)
    image, flow, out, mask = unowned(image), unowned(flow), unowned(out), unowned(mask)
    index, frac, vals_all = unowned(index), unowned(frac), unowned(vals_all)
    no_mask = unowned(no_mask)
    n_out, h, w, channels = out.shape
    n_image = image.shape[0]
    n_flow = flow.shape[0]
    src = image.reshape(image.size)
    rows = n_out * h
    zero = np.float32(0)  # integer outputs: the row is blended in float32, then rounded
    top = np.float32(int_max)
    slot = atomic_add(slots, 0, 1)
    xs = index[slot, 0]
    ys = index[slot, 1]
    fxs = frac[slot, 0]
    fys = frac[slot, 1]
    vals = vals_all[slot]
    n_tasks = state.shape[0] - SHARED_COUNTERS
    while True:
        task = claim_chunk(state, n_tasks)
        if task < 0:  # every task is done (run_shared may return now): write nothing more
            return
        for row in range(task * _ROWS_PER_TASK, min(rows, (task + 1) * _ROWS_PER_TASK)):
            n = row // h
            y = row - n * h
            ni = n if n_image > 1 else 0
            nf = n if n_flow > 1 else 0
            flow_row = flow[nf, y].reshape(2 * w)
            mask_row = mask[nf, y] if nf == n and mask.shape[0] > 0 else no_mask
            out_row = out[n, y].reshape(w * channels)
            _warp_row(image, src, flow_row, ni, y, interpolation, border, border_value,
                      xs, ys, fxs, fys, _blend_target(out_row, vals), mask_row)
            if int_max > 0:
                for k in range(w * channels):  # pass 3, vectorised (np.rint: ties to even)
                    out_row[k] = np.rint(min(max(vals[k], zero), top))
        finish_chunk(state, task)
