"""Variational flow refinement: per-pixel math (shared with the CUDA driver) and the CPU driver.

The method is OpenCV's ``VariationalRefinement`` (modules/video/src/variational_refinement.cpp),
the energy of Brox, Bruhn, Papenberg and Weickert (ECCV 2004) linearised once around the input
flow ``W``; the unknown is the increment ``dW``:

* frame1 is warped by ``W`` (bilinear, edge replicated); ``Iz = warped - frame0``; ``Ix``, ``Iy``
  are central differences ``I[x+1] - I[x-1]`` (not halved, edge replicated: OpenCV's ``Sobel``
  with ``ksize=1``) of the mean ``(frame0 + warped) / 2``; ``Ixz``, ``Iyz`` those of ``Iz``;
  ``Ixx``, ``Ixy`` those of ``Ix`` and ``Iyy`` that of ``Iy``.
* Energy per pixel, with ``Psi(s) = sqrt(s + eps**2)``, ``zeta = 0.1`` and ``eps`` the
  drivers' ``epsilon`` (default ``EPSILON = 0.001``, OpenCV's ``VariationalRefinement``'s;
  the helpers take ``eps2 = float32(eps) * float32(eps)``, :func:`epsilon_squared`, at run
  time)::

      delta * Psi(r**2 / (Ix**2 + Iy**2 + zeta**2))                  r  = Iz + Ix du + Iy dv
    + gamma * Psi(rx**2 / (Ixx**2 + Ixy**2 + zeta**2)               rx = Ixz + Ixx du + Ixy dv
                  + ry**2 / (Iyy**2 + Ixy**2 + zeta**2))             ry = Iyz + Ixy du + Iyy dv
    + zeta**2 * (du**2 + dv**2)
    + alpha * Psi(|forward differences of W + dW|**2)              (edge replicated: 0 at the
                                                                   last column and row)

* ``iterations`` fixed-point (lagged-weight) iterations: the robust weights are frozen at the
  current ``dW`` (:func:`smoothness_weight`, :func:`data_terms`, :func:`smoothness_rhs`),
  which gives a 2x2-per-pixel linear system coupled through the smoothness edges, and
  ``sor_iterations`` red-black SOR sweeps (:func:`sor_step`, red pixels ``(x + y) % 2 == 0``
  first) improve ``dW``. Each step minimises a quadratic that majorises the energy, so no
  iteration raises it (up to float32 rounding).

Arithmetic is float32 in OpenCV's order, except the warp: it samples at the exact position,
blending in float64 (``kernels.interp``), where ``cv2.remap`` rounds the position to 1/32 pixel
(docs/accuracy.md).

Arrays are C-contiguous float32: gray frames ``(H, W)`` on the 0..255 scale OpenCV's constants
assume, flow and increment ``(H, W, 2)``, derivatives ``(8, H, W)`` (Ix, Iy, Iz, Ixx, Ixy, Iyy,
Ixz, Iyz), system ``(5, H, W)`` (1 / A11, A12, 1 / A22, b1, b2: the diagonal stored as its
reciprocal, which the SOR sweeps multiply by), smoothness weights ``(H, W)``: the per-pixel
helpers' layout, which the CUDA kernels use. The CPU driver keeps every array of the
iterations in OpenCV's red-black layout instead (:func:`split_planes`; facts from OpenCV's
``RedBlackBuffer``, not its code): each plane ``(2, H + 2, (W + 1) // 2 + 2)``, the red pixels
of each row contiguous in colour 0 and the black ones in colour 1, with a border of zeros, so
that a sweep over one colour reads unit-stride rows and LLVM vectorises every pass (16
lanes); the scalar helpers (:func:`smoothness_weight`, :func:`data_terms`,
:func:`smoothness_rhs`, :func:`sor_step`) are the arithmetic both layouts share, so the two
give the same flow to the bit (tested).
The SOR sweeps (25 per refinement) multiply by the stored reciprocal instead of dividing
twice per pixel and sweep, and the data terms (:func:`data_terms`) multiply by the
reciprocals of their three normalisations (3 divisions per pixel and build instead of 14):
the increments differ from dividing by float32 rounding (docs/benchmarks.md, "DIS speed
work", second and third rounds). The helpers the iteration driver calls per pixel are
``inline="always"`` and take scalars: a call with arrays passes them with reference
counting, and stops LLVM's loop vectoriser.
"""

import numpy as np

from . import interp
from .jit import internal, jit
from .scalar import sqrt
from . import parallel
from .atomic import unowned
from .parallel import bands_for

# smaller images run the refinement's passes on one thread; larger ones share their row
# chunks between the threads (parallel.run_shared; docs/benchmarks.md, "DIS speed work,
# fifth round")
SERIAL_PIXELS = 1 << 15
CHUNK_ROWS = 8     # rows per chunk of a pass, at least
MAX_CHUNKS = 64    # chunks per pass, at most (larger images get taller chunks)
ZETA = 0.1                  # OpenCV's zeta: normalisation of the data terms and Tikhonov weight
EPSILON = 0.001             # default epsilon of the robust penaliser sqrt(s + epsilon**2)
                            # (OpenCV's VariationalRefinement's; its DIS sets 0.01 since 4.10)
N_DERIVATIVES = 8
_ZETA2 = np.float32(ZETA) * np.float32(ZETA)
_HALF = np.float32(0.5)
_ZERO = np.float32(0.0)
_ONE = np.float32(1.0)
_FAR = np.float32(interp.FAR)          # displacements clamped to +-FAR before int()
_NEAR_FAR = np.float32(-interp.FAR)


# ------------------------------------------------------------------ per-pixel math (CPU and CUDA)

@jit(error_model="numpy")
def warp_px(frame1, flow, y, x):
    """frame1 at (x + u, y + v): bilinear, edge replicated (``kernels.interp``)."""
    xi, fx = interp.split_position(x, flow[y, x, 0], frame1.shape[1], interp.BORDER_REPLICATE)
    yi, fy = interp.split_position(y, flow[y, x, 1], frame1.shape[0], interp.BORDER_REPLICATE)
    return interp.linear_at(frame1, yi, xi, fy, fx, interp.BORDER_REPLICATE, 0.0)


@internal(error_model="numpy")
def _mean_dx(frame0, warped, y, x):
    """Central difference in x of ``(frame0 + warped) / 2`` at (y, x), edge replicated."""
    xl, xr = max(x - 1, 0), min(x + 1, frame0.shape[1] - 1)
    return ((_HALF * frame0[y, xr] + _HALF * warped[y, xr])
            - (_HALF * frame0[y, xl] + _HALF * warped[y, xl]))


@internal(error_model="numpy")
def _mean_dy(frame0, warped, y, x):
    """Central difference in y of ``(frame0 + warped) / 2`` at (y, x), edge replicated."""
    yu, yd = max(y - 1, 0), min(y + 1, frame0.shape[0] - 1)
    return ((_HALF * frame0[yd, x] + _HALF * warped[yd, x])
            - (_HALF * frame0[yu, x] + _HALF * warped[yu, x]))


@jit(error_model="numpy", inline="always")
def derivatives_px(frame0, warped, y, x):
    """``(Ix, Iy, Iz, Ixx, Ixy, Iyy, Ixz, Iyz)`` at (y, x) (module docstring)."""
    h, w = frame0.shape
    xl, xr = max(x - 1, 0), min(x + 1, w - 1)
    yu, yd = max(y - 1, 0), min(y + 1, h - 1)
    ix = _mean_dx(frame0, warped, y, x)
    iy = _mean_dy(frame0, warped, y, x)
    iz = warped[y, x] - frame0[y, x]
    ixx = _mean_dx(frame0, warped, y, xr) - _mean_dx(frame0, warped, y, xl)
    ixy = _mean_dx(frame0, warped, yd, x) - _mean_dx(frame0, warped, yu, x)
    iyy = _mean_dy(frame0, warped, yd, x) - _mean_dy(frame0, warped, yu, x)
    ixz = (warped[y, xr] - frame0[y, xr]) - (warped[y, xl] - frame0[y, xl])
    iyz = (warped[yd, x] - frame0[yd, x]) - (warped[yu, x] - frame0[yu, x])
    return ix, iy, iz, ixx, ixy, iyy, ixz, iyz


@jit(error_model="numpy", inline="always")
def smoothness_weight(ux, vx, uy, vy, alpha2, eps2):
    """``alpha / 2 / Psi(ux**2 + vx**2 + uy**2 + vy**2)``: the weight of a pixel's right and
    lower smoothness edges from the forward differences of ``W + dW`` (``eps2`` the
    penaliser's ``epsilon**2``)."""
    return alpha2 / sqrt(ux * ux + vx * vx + uy * uy + vy * vy + eps2)


@jit(error_model="numpy", inline="always")
def smoothness_weight_px(flow, dflow, y, x, alpha2, eps2):
    """:func:`smoothness_weight` at (y, x): forward differences, 0 at the last column and
    row."""
    h, w = flow.shape[0], flow.shape[1]
    xr, yd = min(x + 1, w - 1), min(y + 1, h - 1)
    u = flow[y, x, 0] + dflow[y, x, 0]
    v = flow[y, x, 1] + dflow[y, x, 1]
    ux = (flow[y, xr, 0] + dflow[y, xr, 0]) - u
    vx = (flow[y, xr, 1] + dflow[y, xr, 1]) - v
    uy = (flow[yd, x, 0] + dflow[yd, x, 0]) - u
    vy = (flow[yd, x, 1] + dflow[yd, x, 1]) - v
    return smoothness_weight(ux, vx, uy, vy, alpha2, eps2)


@jit(error_model="numpy", inline="always")
def _neighbour_weights(weights, y, x):
    """Smoothness weights of the four edges of (y, x), 0 where the image ends: left and above
    carry the neighbour's weight, right and below this pixel's. Neighbours are read at
    clamped indices and the missing edges selected away, so the callers are branch-free."""
    h, w = weights.shape
    wp = weights[y, x]
    wl = weights[y, max(x - 1, 0)]
    wu = weights[max(y - 1, 0), x]
    return (wl if x > 0 else _ZERO, wp if x + 1 < w else _ZERO,
            wu if y > 0 else _ZERO, wp if y + 1 < h else _ZERO)


@jit(error_model="numpy", inline="always")
def data_terms(ix, iy, iz, ixx, ixy, iyy, ixz, iyz, du, dv, delta2, gamma2, eps2):
    """The data terms of a pixel's linear system ``(A11, A12, A22, b1, b2)``: brightness and
    gradient constancy at the increment ``(du, dv)``, each weighted by its penaliser's
    derivative (``eps2`` its ``epsilon**2``), and ``zeta**2`` on the diagonal."""
    inorm = _ONE / (ix * ix + iy * iy + _ZETA2)
    r = iz + ix * du + iy * dv
    wgt = (delta2 / sqrt(r * r * inorm + eps2)) * inorm
    a11 = wgt * (ix * ix) + _ZETA2
    a12 = wgt * (ix * iy)
    a22 = wgt * (iy * iy) + _ZETA2
    b1 = -wgt * (iz * ix)
    b2 = -wgt * (iz * iy)
    inx = _ONE / (ixx * ixx + ixy * ixy + _ZETA2)
    iny = _ONE / (iyy * iyy + ixy * ixy + _ZETA2)
    rx = ixz + ixx * du + ixy * dv
    ry = iyz + ixy * du + iyy * dv
    wgt = gamma2 / sqrt(rx * rx * inx + ry * ry * iny + eps2)
    gx = wgt * inx
    gy = wgt * iny
    return (a11 + (gx * (ixx * ixx) + gy * (ixy * ixy)),
            a12 + (gx * (ixx * ixy) + gy * (ixy * iyy)),
            a22 + (gx * (ixy * ixy) + gy * (iyy * iyy)),
            b1 - (gx * (ixx * ixz) + gy * (ixy * iyz)),
            b2 - (gx * (ixy * ixz) + gy * (iyy * iyz)))


@jit(error_model="numpy", inline="always")
def data_system_px(d, dflow, y, x, delta2, gamma2, eps2, system):
    """:func:`data_terms` of pixel (y, x) into ``system[:, y, x]``."""
    t = data_terms(d[0, y, x], d[1, y, x], d[2, y, x], d[3, y, x], d[4, y, x], d[5, y, x],
                   d[6, y, x], d[7, y, x], dflow[y, x, 0], dflow[y, x, 1], delta2, gamma2, eps2)
    for k in range(5):
        system[k, y, x] = t[k]


@jit(error_model="numpy", inline="always")
def smoothness_rhs(f, fl, fr, fu, fd, wl, wr, wu, wd):
    """A pixel's smoothness term of its right-hand side: the differences of the input flow
    component ``f`` to its left, right, upper and lower neighbours, times the edges'
    weights."""
    return wr * (fr - f) - wl * (f - fl) + wd * (fd - f) - wu * (f - fu)


@jit(error_model="numpy", inline="always")
def smoothness_system_px(flow, weights, y, x, system):
    """Adds the smoothness edges of (y, x) to its linear system: their weights on the
    diagonal, :func:`smoothness_rhs` to the right-hand sides; then stores the diagonal as its
    reciprocal (:func:`sor_px` multiplies by it)."""
    h, w = flow.shape[0], flow.shape[1]
    wl, wr, wu, wd = _neighbour_weights(weights, y, x)
    xl, xr = max(x - 1, 0), min(x + 1, w - 1)
    yu, yd = max(y - 1, 0), min(y + 1, h - 1)
    diag = wr + wl + wd + wu
    system[0, y, x] = _ONE / (system[0, y, x] + diag)
    system[2, y, x] = _ONE / (system[2, y, x] + diag)
    for k in range(2):
        system[3 + k, y, x] += smoothness_rhs(flow[y, x, k], flow[y, xl, k], flow[y, xr, k],
                                              flow[yu, x, k], flow[yd, x, k], wl, wr, wu, wd)


@jit(error_model="numpy", inline="always")
def sor_step(wl, wr, wu, wd, ul, ur, uu, ud, vl, vr, vu, vd, a11i, a12, a22i, b1, b2, du, dv,
             omega):
    """One SOR update of a pixel's increment ``(du, dv)``, u first, then v with the new u,
    from its four neighbours' increments and edge weights and its system (the diagonal as
    reciprocals); returns the new ``(du, dv)``."""
    su = wl * ul + wr * ur + wu * uu + wd * ud
    sv = wl * vl + wr * vr + wu * vu + wd * vd
    du += omega * ((su + b1 - dv * a12) * a11i - du)
    dv += omega * ((sv + b2 - du * a12) * a22i - dv)
    return du, dv


@jit(error_model="numpy")
def sor_px(system, weights, dflow, y, x, omega):
    """:func:`sor_step` at (y, x) of the ``(H, W)`` layout (the CUDA kernels')."""
    h, w = dflow.shape[0], dflow.shape[1]
    wl, wr, wu, wd = _neighbour_weights(weights, y, x)
    xl, xr = max(x - 1, 0), min(x + 1, w - 1)
    yu, yd = max(y - 1, 0), min(y + 1, h - 1)
    dflow[y, x, 0], dflow[y, x, 1] = sor_step(
        wl, wr, wu, wd, dflow[y, xl, 0], dflow[y, xr, 0], dflow[yu, x, 0], dflow[yd, x, 0],
        dflow[y, xl, 1], dflow[y, xr, 1], dflow[yu, x, 1], dflow[yd, x, 1], system[0, y, x],
        system[1, y, x], system[2, y, x], system[3, y, x], system[4, y, x], dflow[y, x, 0],
        dflow[y, x, 1], omega)


def half_weights(alpha, delta, gamma):
    """``alpha / 2``, ``delta / 2`` and ``gamma / 2`` as float32, the kernels' factors."""
    return np.float32(alpha / 2.0), np.float32(delta / 2.0), np.float32(gamma / 2.0)


def epsilon_squared(epsilon):
    """``epsilon**2`` in float32 (the square of the float32 ``epsilon``, as OpenCV computes
    it), the kernels' ``eps2``: always a float32 scalar, so the kernels have one
    specialisation whatever type the caller's ``epsilon`` has."""
    return np.float32(epsilon) * np.float32(epsilon)


# ------------------------------------------------------------------------------- CPU driver

@jit(error_model="numpy", inline="always")
def _derivative_rows(frame0, frame1, flow, warped, deriv, stage, y0, y1):
    """Stage 0: rows ``y0:y1`` of frame1 warped by ``flow``; stage 1: their derivatives
    (which read the warped rows around them, hence two passes), into ``deriv`` in the
    red-black layout (:func:`split_planes`)."""
    h, w = frame0.shape
    for y in range(y0, y1):
        if stage == 0:
            # warp_px's value where all four taps lie inside frame1, in a loop without
            # branches (the taps read at clamped indices), NaN elsewhere; then warp_px there
            if h > 1 and w > 1:
                for x in range(w):
                    xc, yc, fx, fy, inside = _inner_position(flow, y, x, h, w)
                    gx, gy = 1.0 - fx, 1.0 - fy
                    top = gx * frame1[yc, xc] + fx * frame1[yc, xc + 1]
                    bottom = gx * frame1[yc + 1, xc] + fx * frame1[yc + 1, xc + 1]
                    warped[y, x] = gy * top + fy * bottom if inside else np.nan
            for x in range(w):
                if h < 2 or w < 2 or not warped[y, x] == warped[y, x]:
                    warped[y, x] = warp_px(frame1, flow, y, x)
        else:
            for x in range(w):
                t = derivatives_px(frame0, warped, y, x)
                for k in range(N_DERIVATIVES):
                    deriv[k, (x + y) % 2, y + 1, x // 2 + 1] = t[k]


@internal(error_model="numpy", inline="always")
def _inner_position(flow, y, x, h, w):
    """``interp.split_position`` of (x + u, y + v) for the bilinear taps of ``warp_px``,
    branch-free: the top-left tap's index clamped to ``[0, w - 2] x [0, h - 2]`` (h, w >= 2),
    the fractions (float64), and whether the four taps lie inside unclamped."""
    u, v = flow[y, x, 0], flow[y, x, 1]
    # int() of a clamped copy: the far positions are outside anyway
    tu = int(min(max(u, _NEAR_FAR), _FAR))
    tv = int(min(max(v, _NEAR_FAR), _FAR))
    tu -= tu > u
    tv -= tv > v
    xi, yi = x + tu, y + tv
    inside = (xi >= 0) & (xi < w - 1) & (yi >= 0) & (yi < h - 1)
    return (max(min(xi, w - 2), 0), max(min(yi, h - 2), 0), u - float(tu), v - float(tv),
            inside)


def split_planes(planes):
    """Planes ``(K, H, W)`` in the red-black layout ``(K, 2, H + 2, (W + 1) // 2 + 2)``:
    pixel (y, x) at ``[:, (x + y) % 2, y + 1, x // 2 + 1]``, zeros around (module docstring).
    """
    k, h, w = planes.shape
    out = np.zeros((k, 2, h + 2, (w + 1) // 2 + 2), np.float32)
    for colour, parity, x0 in _RED_BLACK_ROWS:
        part = planes[:, parity::2, x0::2]
        out[:, colour, 1 + parity:h + 1:2, 1:1 + part.shape[2]] = part
    return out


def merge_planes(split, width):
    """The inverse of :func:`split_planes`: planes ``(K, H, width)``."""
    k, h = split.shape[0], split.shape[2] - 2
    out = np.empty((k, h, width), np.float32)
    for colour, parity, x0 in _RED_BLACK_ROWS:
        part = out[:, parity::2, x0::2]
        part[...] = split[:, colour, 1 + parity:h + 1:2, 1:1 + part.shape[2]]
    return out


# (colour, row parity, first column) of the four families of pixels
_RED_BLACK_ROWS = ((0, 0, 0), (0, 1, 1), (1, 0, 1), (1, 1, 0))


@jit(error_model="numpy")
def _refine_shared(frame0, frame1, flow, warped, d, planes, dflow, weights, alpha2, delta2,
                   gamma2, eps2, system, omega, iterations, sor_iterations, chunk_rows, state):
    """Every pass of the refinement in chunks of ``chunk_rows`` rows, which the threads
    running this kernel share (``parallel.run_shared``; ``state`` its counters): frame1
    warped by ``flow`` into ``warped``, the derivatives into ``d``
    (:func:`_derivative_rows`), then ``iterations`` fixed-point iterations, each the
    smoothness weights (stage 0), the linear systems (stage 1) and ``sor_iterations`` SOR
    sweeps over the red (stage 2) and black (stage 3) pixels. A pass over a row reads the
    earlier passes' results in that row and the rows above and below only, and an SOR pixel
    reads only pixels of the other colour, so every chunking gives the one-thread result to
    the bit.

    ``frame0``, ``frame1``, ``warped`` ``(H, W)`` and ``flow`` ``(H, W, 2)``; the other
    arrays in the red-black layout (:func:`split_planes`): ``d`` the derivatives (8
    planes), ``planes`` and ``dflow`` the flow and its increment (u, v), ``weights`` (the
    weights of the right and lower edges: 0 at the last column and row, and in the
    padding), ``system`` (5 planes, the module docstring's). In a row of one colour the
    other colour's left and right neighbours are at ``j + p - 1`` and ``j + p``, ``p`` the
    row's parity ``(colour + y) % 2``, the upper and lower ones at ``j``: every pass over a
    colour's row is a unit-stride loop that LLVM vectorises.
    """
    # row views of unowned arrays update no shared reference count (kernels/atomic.py)
    frame0, frame1, flow, warped = unowned(frame0), unowned(frame1), unowned(flow), unowned(warped)
    d, planes, dflow = unowned(d), unowned(planes), unowned(dflow)
    weights, system = unowned(weights), unowned(system)
    h, width = frame0.shape
    per_iteration = 2 + 2 * sor_iterations
    chunks = state.shape[0] - parallel.SHARED_COUNTERS
    n_total = (2 + iterations * per_iteration) * chunks
    while True:
        q = parallel.claim_chunk(state, n_total)
        if q < 0:  # every item is done (run_shared may return now): write nothing more
            return
        k = q // chunks
        y0 = (q % chunks) * chunk_rows
        y1 = min(y0 + chunk_rows, h)
        if k < 2:
            _derivative_rows(frame0, frame1, flow, warped, d, k, y0, y1)
            parallel.finish_chunk(state, q)
            continue
        s = (k - 2) % per_iteration
        s = s if s < 2 else 2 + s % 2
        c0, c1 = (0, 2) if s < 2 else (s - 2, s - 1)
        for y in range(y0, y1):
            r = y + 1
            for c in range(c0, c1):
                o = 1 - c
                p = (c + y) % 2
                n = (width - p + 1) // 2
                wx, wy = weights[0, c, r], weights[1, c, r]
                owx, owy = weights[0, o, r], weights[1, o, r - 1]  # left/right, above
                if s == 0:
                    # the lower neighbour of the last row is the pixel itself (difference 0)
                    rd, cd, keep = (r + 1, o, _ONE) if y + 1 < h else (r, c, _ZERO)
                    fu, fv = planes[0, c, r], planes[1, c, r]
                    du, dv = dflow[0, c, r], dflow[1, c, r]
                    fur, fvr = planes[0, o, r], planes[1, o, r]
                    dur, dvr = dflow[0, o, r], dflow[1, o, r]
                    fud, fvd = planes[0, cd, rd], planes[1, cd, rd]
                    dud, dvd = dflow[0, cd, rd], dflow[1, cd, rd]
                    for j in range(1, n + 1):
                        u = fu[j] + du[j]
                        v = fv[j] + dv[j]
                        uy = (fud[j] + dud[j]) - u
                        vy = (fvd[j] + dvd[j]) - v
                        wgt = smoothness_weight((fur[j + p] + dur[j + p]) - u,
                                                (fvr[j + p] + dvr[j + p]) - v, uy, vy, alpha2,
                                                eps2)
                        wx[j] = wgt
                        wy[j] = wgt * keep
                    if 2 * n - 2 + p == width - 1:  # the last column: no right neighbour
                        uy = (fud[n] + dud[n]) - (fu[n] + du[n])
                        vy = (fvd[n] + dvd[n]) - (fv[n] + dv[n])
                        wx[n] = _ZERO
                        wy[n] = smoothness_weight(_ZERO, _ZERO, uy, vy, alpha2, eps2) * keep
                elif s == 1:
                    a11, a12, a22 = system[0, c, r], system[1, c, r], system[2, c, r]
                    b1, b2 = system[3, c, r], system[4, c, r]
                    du, dv = dflow[0, c, r], dflow[1, c, r]
                    fu, fv = planes[0, c, r], planes[1, c, r]
                    ofu, ofv = planes[0, o, r], planes[1, o, r]
                    fuu, fvu = planes[0, o, r - 1], planes[1, o, r - 1]
                    fud, fvd = planes[0, o, r + 1], planes[1, o, r + 1]
                    d0, d1, d2, d3 = d[0, c, r], d[1, c, r], d[2, c, r], d[3, c, r]
                    d4, d5, d6, d7 = d[4, c, r], d[5, c, r], d[6, c, r], d[7, c, r]
                    for j in range(1, n + 1):
                        a11[j], a12[j], a22[j], b1[j], b2[j] = data_terms(
                            d0[j], d1[j], d2[j], d3[j], d4[j], d5[j], d6[j], d7[j], du[j], dv[j],
                            delta2, gamma2, eps2)
                    for j in range(1, n + 1):
                        wl, wr, wu, wd = owx[j + p - 1], wx[j], owy[j], wy[j]
                        diag = wr + wl + wd + wu
                        a11[j] = _ONE / (a11[j] + diag)
                        a22[j] = _ONE / (a22[j] + diag)
                        b1[j] += smoothness_rhs(fu[j], ofu[j + p - 1], ofu[j + p], fuu[j], fud[j],
                                                wl, wr, wu, wd)
                        b2[j] += smoothness_rhs(fv[j], ofv[j + p - 1], ofv[j + p], fvu[j], fvd[j],
                                                wl, wr, wu, wd)
                else:
                    a11, a12, a22 = system[0, c, r], system[1, c, r], system[2, c, r]
                    b1, b2 = system[3, c, r], system[4, c, r]
                    du, dv = dflow[0, c, r], dflow[1, c, r]
                    odu, odv = dflow[0, o, r], dflow[1, o, r]
                    duu, dvu = dflow[0, o, r - 1], dflow[1, o, r - 1]
                    dud, dvd = dflow[0, o, r + 1], dflow[1, o, r + 1]
                    for j in range(1, n + 1):
                        du[j], dv[j] = sor_step(
                            owx[j + p - 1], wx[j], owy[j], wy[j], odu[j + p - 1], odu[j + p],
                            duu[j], dud[j], odv[j + p - 1], odv[j + p], dvu[j], dvd[j], a11[j],
                            a12[j], a22[j], b1[j], b2[j], du[j], dv[j], omega)
        parallel.finish_chunk(state, q)


def derivatives_cpu(frame0, frame1, flow):
    """Image derivatives ``(8, H, W)`` float32 of the pair linearised around ``flow``."""
    return merge_planes(_refine_split(frame0, frame1, flow, 0.0, 0.0, 0.0, 0, 0, 1.0,
                                      EPSILON)[0], frame0.shape[1])


def _refine_split(frame0, frame1, flow, alpha, delta, gamma, iterations, sor_iterations,
                  omega, epsilon):
    """The derivatives and the increment ``dW`` of the refinement in the red-black layout
    (:func:`split_planes`), by :func:`_refine_shared`: on the threads when the image has
    ``SERIAL_PIXELS`` pixels or more, else on the calling thread."""
    h, w = frame0.shape
    planes = split_planes(np.moveaxis(flow, -1, 0))
    deriv = np.zeros((N_DERIVATIVES,) + planes.shape[1:], np.float32)
    dflow = np.zeros_like(planes)
    weights = np.zeros_like(planes)
    system = np.empty((5,) + planes.shape[1:], np.float32)
    chunk_rows = max(CHUNK_ROWS, -(-h // MAX_CHUNKS))
    parallel.run_shared(_refine_shared, frame0, frame1, flow, np.empty_like(frame1), deriv,
                        planes, dflow, weights, *half_weights(alpha, delta, gamma),
                        epsilon_squared(epsilon), system,
                        np.float32(omega), iterations, sor_iterations, chunk_rows,
                        chunks=-(-h // chunk_rows),
                        threads=bands_for(frame0.size, SERIAL_PIXELS))
    return deriv, dflow


def refine_cpu(frame0, frame1, flow, alpha, delta, gamma, iterations, sor_iterations, omega,
               epsilon=EPSILON, out=None):
    """Refined flow ``W + dW``, into ``out`` (``(H, W, 2)`` float32) when given, else into a
    new array; returns it.

    Parameters
    ----------
    frame0, frame1 : ndarray (H, W) float32, C-contiguous, 0..255 scale
    flow : ndarray (H, W, 2) float32, C-contiguous (not modified)
    alpha, delta, gamma : float
        Smoothness, brightness- and gradient-constancy weights (OpenCV's meaning).
    iterations, sor_iterations : int
        Fixed-point iterations and SOR sweeps (red and black) per fixed-point iteration.
    omega : float
        SOR relaxation factor.
    epsilon : float, default EPSILON
        The robust penaliser's epsilon, ``Psi(s) = sqrt(s + epsilon**2)`` (OpenCV's meaning,
        on the 0..255 scale of the frames).
    """
    dflow = _refine_split(frame0, frame1, flow, alpha, delta, gamma, iterations,
                          sor_iterations, omega, epsilon)[1]
    return np.add(flow, np.moveaxis(merge_planes(dflow, frame0.shape[1]), 0, -1), out=out)
