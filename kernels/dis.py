"""Dense Inverse Search (DIS) optical flow: per-pixel math and CPU drivers.

Facts from T. Kroeger, R. Timofte, D. Dai and L. Van Gool, "Fast Optical Flow using Dense
Inverse Search" (ECCV 2016) and OpenCV's ``modules/video/src/dis_flow.cpp`` (own code):

* a pyramid of INTER_AREA reductions by 2, from ``finest_scale`` (the full frames area-resized
  to ``size // 2**finest_scale``) up to ``coarsest_scale``; frames on the 0..255 scale;
* ``frame0``'s gradients by 3x3 Sobel (reflect-101 borders);
* patches of ``patch_size`` on a grid of step ``patch_stride``, ``1 + (n - patch_size) //
  patch_stride`` per axis; each patch's flow by inverse-compositional Gauss-Newton on the
  (optionally mean-normalised) SSD, with the structure tensor summed over the patch, at most
  ``gradient_descent_iterations`` steps, stopping when the SSD stops falling; a result more
  than ``patch_size`` pixels from its start is dropped;
* with spatial propagation two sweeps (forward, then backward) over 8 fixed row stripes, each
  patch starting from the best (lowest SSD) of its own vector, the previous patch in its row
  and the previous row (never across stripes), and a temporal candidate from ``init_flow``;
  the gradient steps are split between the sweeps;
* densification: each pixel's flow is the average of the overlapping patches' vectors
  weighted by ``1 / max(|I0 - I1 warped by that vector|, 1)``.

Images are planar ``(C, H, W)`` float32 with C = 1 or 3 (pyramids are built as ``(H, W, C)``
by Farneback's INTER_AREA taps and viewed or copied to planar); colour sums the SSD, its
gradient and the structure tensor over channels (mean normalisation per channel), and the
densification weight uses the mean absolute difference over channels. Gray input follows
OpenCV's arithmetic (in float32, where OpenCV keeps uint8 pyramids and int16 gradients).

CPU drivers: ``search_cpu`` (bands of whole stripes; the Sobel gradients are computed per
patch as it is loaded, from frame0 with a one-pixel reflect-101 border) and ``densify_cpu``
(row bands, patch by patch); on the CPU the pyramids and the flow's upscaling between levels
are ``cv2.resize`` (``flowkit._dis.HostOps``), as in OpenCV's DIS. The per-patch and
per-pixel math the CUDA drivers (``kernels.dis_cuda``) share is plain ``kernels.jit.jit``
functions:
``load_patch``, ``step_at``, ``start_vector`` (candidate selection), ``descend``
(Gauss-Newton), ``densify_weight`` and ``densify_pixel``; the search's helpers are inlined
(``inline="always"``), which spares the calls and the arrays' reference counting per patch
step. For 8x8 patches (every preset) the patch load (``_load8``), the patch sums (``_sums8``)
and the densification's runs of 8 pixels (``_densify8``) are 8-lane float32 vector IR: Numba
turns off LLVM's SLP vectoriser and its loop vectoriser picks 16 or more lanes, which an
8-pixel row never fills (docs/benchmarks.md, "DIS speed work", third and fourth rounds).
Kernels never validate; ``flowkit._dis`` owns the options.
"""

import math

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .atomic import unowned
from .jit import internal, jit
from .parallel import band_range, bands_for, run_bands

EPS = 0.001  # OpenCV's floor on the structure tensor's determinant and its edge margin
INF = 1e10
N_STRIPES = 8  # OpenCV's fixed stripe count for the propagation sweeps (reproducible)
BORDER = 16  # replicated border around frame1 (OpenCV's border_size)
# below these sizes a level's pass runs on one thread: waking the workers costs more
SERIAL_PATCHES = 1024
SERIAL_PIXELS = 1 << 15


def coarsest_scale(height, width, patch_size):
    """OpenCV's coarsest pyramid level: motion up to about a quarter of the frame, and no
    level smaller than a patch."""
    a = int(math.log(max(width, height) / (4.0 * patch_size)) / math.log(2.0) + 0.5)
    b = int(math.log(min(width, height) // patch_size) / math.log(2.0))
    return min(a, b)


def grid_size(n, patch_size, patch_stride):
    """Number of patches along an axis of ``n`` pixels."""
    return 1 + (n - patch_size) // patch_stride


# ----------------------------------------------------------------------------- per pixel

# FMA contraction only. With reassociation ("reassoc", "nsz", "arcp") the flow of a process
# that compiled the kernels differed by up to 0.007 px from one that loaded them from Numba's
# cache (RubberWhale), and it bought no speed: LLVM vectorises the sums 16 lanes wide, which an
# 8-pixel patch row does not fill (1-thread search at 640x480: 44.2-45.1 ms either way)
FAST = {"contract"}


@internal
def _weights(py, px):
    """Integer corner and the four bilinear weights of the position (py, px) (>= 0)."""
    yb = math.floor(py)
    xb = math.floor(px)
    fy = np.float32(py - yb)
    fx = np.float32(px - xb)
    one = np.float32(1.0)
    return (int(yb), int(xb), (one - fy) * (one - fx), (one - fy) * fx, fy * (one - fx),
            fy * fx)


def _lanes_at(builder, array, *index):
    """Pointer to ``array[index..., :8]`` as an 8-lane float32 vector (``array``: an array
    struct from ``context.make_array``, whose last axis is contiguous)."""
    offset = ir.Constant(index[0].type, 0)
    for k, stride in zip(index, cgutils.unpack_tuple(builder, array.strides)):
        offset = builder.add(offset, builder.mul(k, stride))
    byte = builder.gep(builder.bitcast(array.data, ir.IntType(8).as_pointer()), [offset])
    return builder.bitcast(byte, ir.VectorType(ir.FloatType(), 8).as_pointer())


def _splat(builder, value):
    """``value`` (a float or an integer) in each of 8 lanes."""
    vec = ir.Constant(ir.VectorType(value.type, 8), None)
    for lane in range(8):
        vec = builder.insert_element(vec, value, ir.Constant(ir.IntType(32), lane))
    return vec


@intrinsic
def _sums8(typingctx, patch, i1, c, yi, xi, w00, w01, w10, w11):
    """Channel ``c``'s sums ``(s, s2, sx, sy)`` of :func:`_patch_step` for an 8x8 patch: d =
    the bilinear sample of ``i1[c]`` at corner (yi, xi) with the weights w.. minus
    ``patch[0, c]``; s = sum(d), s2 = sum(d * d), sx / sy = sum(d * patch[1 / 2, c]).

    The bilinear weights are the same for every pixel of a patch, so each warped row is a
    fixed combination of four contiguous 8-pixel rows of ``i1``: written here as 8-lane
    float32 vector IR (AVX on the CPU; NVPTX splits it into scalars), since Numba turns off
    LLVM's SLP vectoriser and its loop vectoriser picks 16 or more lanes, which an 8-pixel row
    never fills. Each lane sums its column over the rows, then the lanes are added pairwise
    (a different order than the scalar loop: the sums agree to float32 rounding). Both
    arrays need a contiguous last axis (C order)."""
    f32 = types.float32
    sig = types.UniTuple(f32, 4)(patch, i1, types.intp, types.intp, types.intp, f32, f32, f32,
                                 f32)

    def codegen(context, builder, signature, args):
        ir8 = _Lanes(context, builder)
        pa, im = ir8.arrays(signature, args, 2)
        c, yi, xi = args[2:5]
        w = [_splat(builder, v) for v in args[5:9]]
        acc = [ir8.splat(0.0)] * 4
        below = [ir8.row(im, c, yi, xi), ir8.row(im, c, yi, ir8.add_int(xi, 1))]
        for a in range(8):
            above = below
            y = ir8.add_int(yi, a + 1)
            below = [ir8.row(im, c, y, xi), ir8.row(im, c, y, ir8.add_int(xi, 1))]
            warped = ir8.mul(w[0], above[0])
            warped = ir8.fma(warped, w[1], above[1])
            warped = ir8.fma(warped, w[2], below[0])
            warped = ir8.fma(warped, w[3], below[1])
            d = ir8.sub(warped, ir8.row(pa, ir8.const(0), c, ir8.const(a)))
            acc[0] = ir8.add(acc[0], d)
            acc[1] = ir8.fma(acc[1], d, d)
            acc[2] = ir8.fma(acc[2], d, ir8.row(pa, ir8.const(1), c, ir8.const(a)))
            acc[3] = ir8.fma(acc[3], d, ir8.row(pa, ir8.const(2), c, ir8.const(a)))
        return ir8.sums(signature, acc)
    return sig, codegen


@intrinsic
def _load8(typingctx, i0p, patch, c, y, x):
    """:func:`load_patch` of channel ``c`` for an 8x8 patch as 8-lane float32 vector IR (see
    :func:`_sums8` for why): each row's Sobel gradients from three shifted 8-pixel rows of
    the three frame rows around it, stored with the row itself into ``patch[:, c, a, :8]``;
    returns the channel's ``(xx, xy, yy, sgx, sgy)``, each lane summing its column, then the
    lanes pairwise (float32 rounding apart from the scalar loop's order)."""
    sig = types.UniTuple(types.float32, 5)(i0p, patch, types.intp, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        ir8 = _Lanes(context, builder)
        im, pa = ir8.arrays(signature, args, 2)
        c, y, x = args[2:5]

        def rows(yy):  # i0p[c, yy, x + k : x + k + 8] for k = 0, 1, 2
            return [ir8.row(im, c, yy, ir8.add_int(x, k)) for k in range(3)]

        two = ir8.splat(2.0)
        acc = [ir8.splat(0.0)] * 5
        mid, down = rows(y), rows(ir8.add_int(y, 1))
        for a in range(8):
            up, mid, down = mid, down, rows(ir8.add_int(y, a + 2))
            ix = ir8.sub(ir8.add(ir8.add(ir8.sub(up[2], up[0]),
                                         ir8.mul(two, ir8.sub(mid[2], mid[0]))), down[2]),
                         down[0])
            iy = ir8.sub(ir8.add(ir8.add(ir8.sub(down[0], up[0]),
                                         ir8.mul(two, ir8.sub(down[1], up[1]))), down[2]),
                         up[2])
            for k, value in enumerate((mid[1], ix, iy)):
                builder.store(value, _lanes_at(builder, pa, ir8.const(k), c, ir8.const(a)),
                              align=4)
            acc = [ir8.fma(acc[0], ix, ix), ir8.fma(acc[1], ix, iy), ir8.fma(acc[2], iy, iy),
                   ir8.add(acc[3], ix), ir8.add(acc[4], iy)]
        return ir8.sums(signature, acc)
    return sig, codegen


class _Lanes:
    """The 8-lane float32 vector IR of the intrinsics above: arithmetic with FMA contraction
    allowed (``FAST``), unaligned 8-float row loads, sums of the lanes."""

    def __init__(self, context, builder):
        self.context, self.builder = context, builder
        self.intp = context.get_value_type(types.intp)

    def arrays(self, signature, args, n):
        """The first ``n`` arguments as array structs."""
        return [self.context.make_array(t)(self.context, self.builder, v)
                for t, v in zip(signature.args[:n], args[:n])]

    def const(self, k):
        return ir.Constant(self.intp, k)

    def add_int(self, i, k):
        return self.builder.add(i, self.const(k))

    def splat(self, value):
        return ir.Constant(ir.VectorType(ir.FloatType(), 8), [value] * 8)

    def row(self, array, *index):
        """``array[index..., 0:8]`` as an 8-lane vector."""
        return self.builder.load(_lanes_at(self.builder, array, *index), align=4)

    def add(self, a, b):
        return self.builder.fadd(a, b, flags=("contract",))

    def sub(self, a, b):
        return self.builder.fsub(a, b, flags=("contract",))

    def mul(self, a, b):
        return self.builder.fmul(a, b, flags=("contract",))

    def fma(self, acc, a, b):
        return self.add(acc, self.mul(a, b))

    def sums(self, signature, vectors):
        """The tuple of each vector's lanes summed pairwise: 8 -> 4 -> 2 -> 1."""
        i32 = ir.IntType(32)
        sums = []
        for v in vectors:
            for half in (4, 2, 1):
                lanes = ir.Constant(ir.VectorType(i32, 8), [(half + k) % 8 for k in range(8)])
                v = self.add(v, self.builder.shuffle_vector(v, v, lanes))
            sums.append(self.builder.extract_element(v, ir.Constant(i32, 0)))
        return self.context.make_tuple(self.builder, signature.return_type, sums)


@internal(fastmath=FAST)
def _sums(patch, i1, c, yi, xi, w00, w01, w10, w11, psz, gradient):
    """:func:`_sums8` for any patch size, a scalar loop (sx = sy = 0 without ``gradient``)."""
    s = np.float32(0.0)
    s2 = np.float32(0.0)
    sx = np.float32(0.0)
    sy = np.float32(0.0)
    r1 = i1[c, yi, xi:]
    for a in range(psz):
        r0 = r1
        r1 = i1[c, yi + a + 1, xi:]
        for b in range(psz):
            d = (w00 * r0[b] + w01 * r0[b + 1] + w10 * r1[b] + w11 * r1[b + 1]
                 - patch[0, c, a, b])
            s += d
            s2 += d * d
            if gradient:
                sx += d * patch[1, c, a, b]
                sy += d * patch[2, c, a, b]
    return s, s2, sx, sy


@internal(fastmath=FAST, inline="always")
def _patch_step(patch, i1, grad_sums, py, px, psz, mean_norm, gradient):
    """SSD and its gradient ``(ssd, du, dv)`` (OpenCV's ``processPatch[MeanNorm]``; without
    ``gradient`` only the SSD, ``computeSSD[MeanNorm]``, and du = dv = 0); ``patch`` and
    ``grad_sums`` as :func:`load_patch` filled them."""
    yi, xi, w00, w01, w10, w11 = _weights(py, px)
    n = np.float32(psz * psz)
    ssd = np.float32(0.0)
    du = np.float32(0.0)
    dv = np.float32(0.0)
    for c in range(i1.shape[0]):
        if psz == 8:  # every preset's patch size: one 8-lane vector per patch row
            s, s2, sx, sy = _sums8(patch, i1, c, yi, xi, w00, w01, w10, w11)
        else:
            s, s2, sx, sy = _sums(patch, i1, c, yi, xi, w00, w01, w10, w11, psz, gradient)
        if mean_norm:
            du += sx - s * grad_sums[c, 0] / n
            dv += sy - s * grad_sums[c, 1] / n
            ssd += s2 - s * s / n
        else:
            du += sx
            dv += sy
            ssd += s2
    return ssd, du, dv


@jit(inline="always", fastmath=FAST)
def load_patch(i0p, y, x, psz, patch, grad_sums):
    """Copy frame0's patch at (y, x) and its Sobel gradients into ``patch`` (3, >= c,
    >= psz, >= psz) and return its structure tensor ``(xx, xy, yy)`` summed over channels;
    the gradient sums of each channel go to ``grad_sums`` (c, 2). ``i0p`` is frame0 with a
    reflect-101 border of one pixel (OpenCV's ``spatialGradient`` border)."""
    xx = np.float32(0.0)
    xy = np.float32(0.0)
    yy = np.float32(0.0)
    two = np.float32(2.0)
    for c in range(i0p.shape[0]):
        if psz == 8:  # every preset's patch size: one 8-lane vector per patch row
            cxx, cxy, cyy, grad_sums[c, 0], grad_sums[c, 1] = _load8(i0p, patch, c, y, x)
            xx += cxx
            xy += cxy
            yy += cyy
            continue
        sgx = np.float32(0.0)
        sgy = np.float32(0.0)
        for a in range(psz):
            up = i0p[c, y + a, x:]
            mid = i0p[c, y + a + 1, x:]
            down = i0p[c, y + a + 2, x:]
            for b in range(psz):
                ix = up[b + 2] - up[b] + two * (mid[b + 2] - mid[b]) + down[b + 2] - down[b]
                iy = down[b] - up[b] + two * (down[b + 1] - up[b + 1]) + down[b + 2] - up[b + 2]
                patch[0, c, a, b] = mid[b + 1]
                patch[1, c, a, b] = ix
                patch[2, c, a, b] = iy
                xx += ix * ix
                xy += ix * iy
                yy += iy * iy
                sgx += ix
                sgy += iy
        grad_sums[c, 0] = sgx
        grad_sums[c, 1] = sgy
    return xx, xy, yy


@jit(fastmath=FAST, inline="always")
def step_at(patch, i1, grad_sums, y, x, u, v, psz, mean_norm, gradient):
    """:func:`_patch_step` for the patch at (y, x) moved by (u, v), its corner in the
    bordered frame1 clamped as OpenCV does."""
    lo = np.float32(BORDER - psz + 1.0)
    py = min(max(np.float32(y + BORDER) + v, lo), np.float32(i1.shape[1] - BORDER - 1.0))
    px = min(max(np.float32(x + BORDER) + u, lo), np.float32(i1.shape[2] - BORDER - 1.0))
    return _patch_step(patch, i1, grad_sums, py, px, psz, mean_norm, gradient)


@jit(fastmath=FAST, inline="always")
def start_vector(i0p, i1, sparse, init, use_init, iy, ix, stride, psz, mean_norm, row_d,
                 col_d, patch, grad_sums):
    """Load patch (iy, ix) of the grid (:func:`load_patch`) and pick its starting vector:
    the lowest SSD of its own vector in ``sparse`` (hs, ws, 2) and the candidates, in
    OpenCV's order: temporal (``init`` at the patch centre, with ``use_init``), the
    previous patch in the row ``sparse[iy, ix - col_d]`` (``col_d`` = +-1, 0: none) and the
    previous row ``sparse[iy - row_d, ix]`` (``row_d`` = +-1, 0: none). Returns ``(u, v,
    xx, xy, yy)``, the structure tensor from :func:`load_patch`."""
    y = iy * stride
    x = ix * stride
    xx, xy, yy = load_patch(i0p, y, x, psz, patch, grad_sums)
    su = sparse[iy, ix, 0]
    sv = sparse[iy, ix, 1]
    best = INF
    half = psz // 2
    for k in range(4):  # one call site of step_at: it is inlined
        if k == 0 and (use_init or col_d != 0 or row_d != 0):
            cu = su
            cv = sv
        elif k == 1 and use_init:
            cu = init[y + half, x + half, 0]
            cv = init[y + half, x + half, 1]
        elif k == 2 and col_d != 0:
            cu = sparse[iy, ix - col_d, 0]
            cv = sparse[iy, ix - col_d, 1]
        elif k == 3 and row_d != 0:
            cu = sparse[iy - row_d, ix, 0]
            cv = sparse[iy - row_d, ix, 1]
        else:
            continue
        # np.bool_ here and in descend, not literals: wherever step_at is compiled as a
        # function of its own rather than inlined, Numba compiles it once per literal value
        cost = step_at(patch, i1, grad_sums, y, x, cu, cv, psz, mean_norm, np.bool_(False))[0]
        if k == 0 or cost < best:
            best = cost
            su = cu
            sv = cv
    return su, sv, xx, xy, yy


@jit(fastmath=FAST, inline="always")
def descend(patch, i1, grad_sums, y, x, su, sv, xx, xy, yy, psz, iters, mean_norm):
    """Inverse-compositional Gauss-Newton from (su, sv) for the patch at (y, x) that
    :func:`start_vector` loaded (structure tensor xx, xy, yy): at most ``iters`` steps,
    stopping when the SSD stops falling; returns the result, or (su, sv) when it moved more
    than ``psz`` pixels."""
    det = xx * yy - xy * xy
    if abs(det) < EPS:
        det = np.float32(EPS)
    h11 = yy / det
    h12 = -xy / det
    h22 = xx / det
    u = su
    v = sv
    prev = INF
    for _ in range(iters):
        ssd, du, dv = step_at(patch, i1, grad_sums, y, x, u, v, psz, mean_norm,
                              np.bool_(True))  # not a literal: see start_vector
        u -= h11 * du + h12 * dv
        v -= h12 * du + h22 * dv
        if ssd >= prev:
            break
        prev = ssd
    if math.sqrt((u - su) ** 2 + (v - sv) ** 2) <= psz:
        return u, v
    return su, sv


@internal(fastmath=FAST)
def _search_patch(i0p, i1, sparse, init, use_init, iy, ix, stride, psz, iters,
                  mean_norm, propagate, d, first_row, first_col, patch, grad_sums):
    """Inverse search of patch (iy, ix) of the grid, in place in ``sparse`` (hs, ws, 2).

    ``d`` = +-1 is the sweep direction; ``first_row``/``first_col`` mark the sweep's first
    row of the stripe / first patch of the row (no spatial candidate from there);
    ``patch`` (3, c, psz, psz) and ``grad_sums`` (c, 2) are scratch.
    """
    # slices of unowned arrays update no reference count (kernels/atomic.py): a third of
    # the search's time at 640x480 (docs/benchmarks.md, "DIS speed work, fifth round")
    i0p, i1, sparse, init = unowned(i0p), unowned(i1), unowned(sparse), unowned(init)
    patch, grad_sums = unowned(patch), unowned(grad_sums)
    row_d = d if propagate and not first_row else 0
    col_d = d if propagate and not first_col else 0
    su, sv, xx, xy, yy = start_vector(i0p, i1, sparse, init, use_init, iy, ix, stride, psz,
                                      mean_norm, row_d, col_d, patch, grad_sums)
    u, v = descend(patch, i1, grad_sums, iy * stride, ix * stride, su, sv, xx, xy, yy, psz,
                   iters, mean_norm)
    sparse[iy, ix, 0] = u
    sparse[iy, ix, 1] = v


@jit(inline="always")
def densify_weight(i0, i1, y, x, u, v):
    """Weight ``1 / max(|I0 - I1 warped by (u, v)|, 1)`` of a patch vector at pixel (y, x)
    (mean absolute difference over channels; the sample position clamped into frame1)."""
    nc, h, w = i0.shape[0], i0.shape[1], i0.shape[2]
    one = np.float32(1.0)
    xm = min(max(np.float32(x) + u, np.float32(0.0)), np.float32(w - 1.0 - EPS))
    ym = min(max(np.float32(y) + v, np.float32(0.0)), np.float32(h - 1.0 - EPS))
    xl = int(xm)
    yl = int(ym)
    fx = xm - np.float32(xl)  # exact in float32 (an int operand would make it float64)
    fy = ym - np.float32(yl)
    err = np.float32(0.0)
    for c in range(nc):
        d = (fx * fy * i1[c, yl + 1, xl + 1] + (one - fx) * fy * i1[c, yl + 1, xl]
             + fx * (one - fy) * i1[c, yl, xl + 1]
             + (one - fx) * (one - fy) * i1[c, yl, xl] - i0[c, y, x])
        err += abs(d)
    return one / max(one, err / np.float32(nc))


@jit
def densify_pixel(i0, i1, sparse, y, x, stride, psz):
    """Dense flow at (y, x): the overlapping patches' vectors weighted by
    :func:`densify_weight`, in patch order (row, then column)."""
    hs, ws = sparse.shape[0], sparse.shape[1]
    ie = min(y // stride, hs - 1)
    i_s = min(max((y - psz) // stride + 1, 0), ie)
    je = min(x // stride, ws - 1)
    j_s = min(max((x - psz) // stride + 1, 0), je)
    su = np.float32(0.0)
    sv = np.float32(0.0)
    sw = np.float32(0.0)
    for a in range(i_s, ie + 1):
        for b in range(j_s, je + 1):
            u = sparse[a, b, 0]
            v = sparse[a, b, 1]
            wgt = densify_weight(i0, i1, y, x, u, v)
            su += wgt * u
            sv += wgt * v
            sw += wgt
    return su / sw, sv / sw


@intrinsic
def _densify8(typingctx, i0, i1, acc, y, row, x0, xl, yl, fy, u, v):
    """:func:`densify_weight` for the 8 pixels ``(y, x0 .. x0 + 7)`` of one patch vector
    (u, v) whose samples all lie inside frame1, added to the sums ``acc[0:3, row, x0:x0 + 8]``
    (weight times u, times v, weight) as 8-lane float32 vector IR (see :func:`_sums8`).
    ``xl``: the sample's integer column at (y, x0); ``yl, fy``: its row and fraction. Each
    lane's x fraction is its own ``(x + u) - (xl + lane)``: the scalar arithmetic lane by lane,
    to the bit (where x + u rounds up to the next whole number the fraction is 1 instead of
    0 at the next corner, and the four terms add up to the same sum)."""
    f32 = types.float32
    sig = types.void(i0, i1, acc, *(types.intp,) * 5, f32, f32, f32)

    def codegen(context, builder, signature, args):
        im0, im1, sums = (context.make_array(t)(context, builder, a)
                          for t, a in zip(signature.args[:3], args[:3]))
        y, row, x0, xl, yl = args[3:8]
        vf = ir.VectorType(ir.FloatType(), 8)
        intp = context.get_value_type(types.intp)
        one = context.get_constant(f32, 1.0)

        def splat(value):
            return _splat(builder, value)

        fy, u, v = args[8:]
        lanes = ir.Constant(ir.VectorType(intp, 8), list(range(8)))

        def columns(first):  # float32 first + 0 .. 7
            return builder.sitofp(builder.add(splat(first), lanes), vf)

        fx = builder.fsub(builder.fadd(columns(x0), splat(u)), columns(xl))
        ones = splat(one)
        gx, fy, gy = builder.fsub(ones, fx), splat(fy), splat(builder.fsub(one, fy))
        # densify_weight's coefficients, its products and its order of terms
        w11, w10, w01, w00 = (builder.fmul(a, b) for a, b in
                              ((fx, fy), (gx, fy), (fx, gy), (gx, gy)))
        x1, yl1 = builder.add(xl, ir.Constant(intp, 1)), builder.add(yl, ir.Constant(intp, 1))
        err_slot = cgutils.alloca_once_value(builder, ir.Constant(vf, [0.0] * 8))
        fabs = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vf, [vf]),
                                              "llvm.fabs.v8f32")
        n = builder.extract_value(im0.shape, 0)
        with cgutils.for_range(builder, n) as loop:
            c = loop.index

            def load(array, *index):
                return builder.load(_lanes_at(builder, array, c, *index), align=4)

            d = builder.fmul(w11, load(im1, yl1, x1))
            d = builder.fadd(d, builder.fmul(w10, load(im1, yl1, xl)))
            d = builder.fadd(d, builder.fmul(w01, load(im1, yl, x1)))
            d = builder.fadd(d, builder.fmul(w00, load(im1, yl, xl)))
            d = builder.fsub(d, load(im0, y, x0))
            builder.store(builder.fadd(builder.load(err_slot), builder.call(fabs, [d])),
                          err_slot)
        mean = builder.fdiv(builder.load(err_slot), splat(builder.sitofp(n, ir.FloatType())))
        wgt = builder.fdiv(ones, builder.select(builder.fcmp_ordered(">", mean, ones), mean,
                                                ones))
        for k, term in enumerate((builder.fmul(wgt, splat(u)), builder.fmul(wgt, splat(v)),
                                  wgt)):
            p = _lanes_at(builder, sums, ir.Constant(intp, k), row, x0)
            builder.store(builder.fadd(builder.load(p, align=4), term), p, align=4)
        return context.get_dummy_value()
    return sig, codegen


# ----------------------------------------------------------------------------- CPU drivers

def search_cpu(i0p, i1, sparse, init, use_init, stride, psz, iters, mean_norm,
               propagate):
    """Patch inverse search of one level into ``sparse`` (hs, ws, 2), which holds each
    patch's starting vector on entry (OpenCV's ``PatchInverseSearch``). ``i0p``: frame0
    (c, h, w) with a reflect-101 border of 1 pixel; ``i1``: frame1 with a replicated border
    of ``BORDER`` pixels.

    With ``propagate`` two sweeps over ``N_STRIPES`` row stripes (``iters // 2`` steps
    each); otherwise one sweep of ``iters`` steps. Bands are whole stripes, so the result
    does not depend on the thread count; the threads claim them one at a time (a thread
    that starts late, its core busy, leaves its stripes to the others).
    """
    parallel = bands_for(sparse.shape[0] * sparse.shape[1], SERIAL_PATCHES) > 1
    run_bands(_search_band, i0p, i1, sparse, init, use_init, stride, psz, iters,
              mean_norm, propagate, threads=N_STRIPES if parallel else 1, claim=True)


@jit
def _search_band(i0p, i1, sparse, init, use_init, stride, psz, iters, mean_norm,
                 propagate, band, n_bands):
    hs, ws = sparse.shape[0], sparse.shape[1]
    stripe = (hs + N_STRIPES - 1) // N_STRIPES
    sweeps = 2 if propagate else 1
    steps = iters // sweeps
    grad_sums = np.empty((i0p.shape[0], 2), np.float32)
    patch = np.empty((3, i0p.shape[0], psz, psz), np.float32)
    s0, s1 = band_range(np.int64(N_STRIPES), band, n_bands)  # not a literal: one band_range
    for s in range(s0, s1):
        r0 = min(s * stripe, hs)
        r1 = min((s + 1) * stripe, hs)
        for sweep in range(sweeps):
            d = 1 if sweep == 0 else -1
            for k in range(r1 - r0):
                iy = r0 + k if d == 1 else r1 - 1 - k
                for m in range(ws):
                    ix = m if d == 1 else ws - 1 - m
                    _search_patch(i0p, i1, sparse, init, use_init, iy, ix, stride, psz,
                                 steps, mean_norm, propagate, d, k == 0, m == 0, patch,
                                 grad_sums)


def densify_cpu(i0, i1, sparse, stride, psz, out):
    """Dense flow ``out`` (h, w, 2) of one level from the patch vectors (OpenCV's
    ``Densification``)."""
    run_bands(_densify_band, i0, i1, sparse, stride, psz, out,
              threads=bands_for(out.shape[0] * out.shape[1], SERIAL_PIXELS))


@jit
def _densify_band(i0, i1, sparse, stride, psz, out, band, n_bands):
    """Rows ``band`` of :func:`densify_pixel`'s flow, patch by patch: each patch vector's
    weights go to the sums of the pixels it covers (the last patch row and column also cover
    the pixels beyond the grid), in patch order as there. 8-pixel runs whose samples lie
    inside frame1 take :func:`_densify8`, the rest :func:`densify_weight`."""
    h, w = out.shape[0], out.shape[1]
    hs, ws = sparse.shape[0], sparse.shape[1]
    start, stop = band_range(h, band, n_bands)
    sums = np.zeros((3, stop - start, w), np.float32)
    xmax = np.float32(w - 1.0 - EPS)
    ymax = np.float32(h - 1.0 - EPS)
    a_end = min((stop - 1) // stride, hs - 1) + 1
    for a in range(min(max((start - psz) // stride + 1, 0), hs - 1), a_end):
        y_end = h if a == hs - 1 else a * stride + psz
        for y in range(max(a * stride, start), min(y_end, stop)):
            row = y - start
            for b in range(ws):
                u = sparse[a, b, 0]
                v = sparse[a, b, 1]
                x0 = b * stride
                x_end = w if b == ws - 1 else x0 + psz
                ym = np.float32(y) + v
                xm = np.float32(x0) + u
                if (psz == 8 and x_end == x0 + 8 and ym >= 0 and ym <= ymax and xm >= 0
                        and np.float32(x0 + 7) + u <= xmax):
                    yl = int(ym)
                    xl = int(xm)
                    _densify8(i0, i1, sums, y, row, x0, xl, yl, ym - np.float32(yl), u, v)
                    continue
                for x in range(x0, x_end):
                    wgt = densify_weight(i0, i1, y, x, u, v)
                    sums[0, row, x] += wgt * u
                    sums[1, row, x] += wgt * v
                    sums[2, row, x] += wgt
    for y in range(start, stop):
        for x in range(w):
            out[y, x, 0] = sums[0, y - start, x] / sums[2, y - start, x]
            out[y, x, 1] = sums[1, y - start, x] / sums[2, y - start, x]


def start_vectors_cpu(flow, stride, psz, sparse):
    """Each patch's starting vector: the level's flow at the patch centre."""
    half = psz // 2
    hs, ws = sparse.shape[0], sparse.shape[1]
    sparse[...] = flow[half:half + (hs - 1) * stride + 1:stride,
                       half:half + (ws - 1) * stride + 1:stride]
