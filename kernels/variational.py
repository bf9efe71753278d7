"""Variational flow refinement: per-pixel math (shared with the CUDA driver) and the CPU driver.

The method is OpenCV's ``VariationalRefinement`` (modules/video/src/variational_refinement.cpp),
the energy of Brox, Bruhn, Papenberg and Weickert (ECCV 2004) linearised once around the input
flow ``W``; the unknown is the increment ``dW``:

* frame1 is warped by ``W`` (bilinear, edge replicated); ``Iz = warped - frame0``; ``Ix``, ``Iy``
  are central differences ``I[x+1] - I[x-1]`` (not halved, edge replicated: OpenCV's ``Sobel``
  with ``ksize=1``) of the mean ``(frame0 + warped) / 2``; ``Ixz``, ``Iyz`` those of ``Iz``;
  ``Ixx``, ``Ixy`` those of ``Ix`` and ``Iyy`` that of ``Iy``.
* Energy per pixel, with ``Psi(s) = sqrt(s + eps**2)``, ``eps = 0.001``, ``zeta = 0.1``::

      delta * Psi(r**2 / (Ix**2 + Iy**2 + zeta**2))                  r  = Iz + Ix du + Iy dv
    + gamma * Psi(rx**2 / (Ixx**2 + Ixy**2 + zeta**2)               rx = Ixz + Ixx du + Ixy dv
                  + ry**2 / (Iyy**2 + Ixy**2 + zeta**2))             ry = Iyz + Ixy du + Iyy dv
    + zeta**2 * (du**2 + dv**2)
    + alpha * Psi(|forward differences of W + dW|**2)              (edge replicated: 0 at the
                                                                   last column and row)

* ``iterations`` fixed-point (lagged-weight) iterations: the robust weights are frozen at the
  current ``dW`` (:func:`smoothness_weight_px`, :func:`data_system_px`,
  :func:`smoothness_system_px`), which gives a 2x2-per-pixel
  linear system coupled through the smoothness edges, and ``sor_iterations`` red-black SOR
  sweeps (:func:`sor_px`, red pixels ``(x + y) % 2 == 0`` first) improve ``dW``. Each step
  minimises a quadratic that majorises the energy, so no iteration raises it (up to float32
  rounding).

Arithmetic is float32 in OpenCV's order, except the warp: it samples at the exact position,
blending in float64 (``kernels.interp``), where ``cv2.remap`` rounds the position to 1/32 pixel
(docs/accuracy.md).

Arrays are C-contiguous float32: gray frames ``(H, W)`` on the 0..255 scale OpenCV's constants
assume, flow and increment ``(H, W, 2)``, derivatives ``(8, H, W)`` (Ix, Iy, Iz, Ixx, Ixy, Iyy,
Ixz, Iyz), system ``(5, H, W)`` (1 / A11, A12, 1 / A22, b1, b2: the diagonal stored as its
reciprocal, which the SOR sweeps multiply by), smoothness weights ``(H, W)``.
The SOR sweeps (25 per refinement) multiply by the stored reciprocal instead of dividing
twice per pixel and sweep, and the data terms (:func:`data_system_px`) multiply by the
reciprocals of their three normalisations (3 divisions per pixel and build instead of 14):
the increments differ from dividing by float32 rounding (docs/benchmarks.md, "DIS speed
work", second and third rounds). The per-pixel helpers the CPU driver calls per pixel are
``inline="always"``: a call passes its arrays with reference counting.
"""

import numpy as np

from . import interp
from .jit import jit
from .scalar import sqrt
from .parallel import band_range, bands_for, run_bands

SERIAL_PIXELS = 1 << 17    # smaller images refine on one thread in one call (see refine_cpu)
ZETA = 0.1                  # OpenCV's zeta: normalisation of the data terms and Tikhonov weight
EPSILON = 0.001             # OpenCV's epsilon in the robust penaliser sqrt(s + epsilon**2)
N_DERIVATIVES = 8
_ZETA2 = np.float32(ZETA) * np.float32(ZETA)
_EPS2 = np.float32(EPSILON) * np.float32(EPSILON)
_HALF = np.float32(0.5)
_ZERO = np.float32(0.0)
_ONE = np.float32(1.0)


# ------------------------------------------------------------------ per-pixel math (CPU and CUDA)

@jit(error_model="numpy")
def warp_px(frame1, flow, y, x):
    """frame1 at (x + u, y + v): bilinear, edge replicated (``kernels.interp``)."""
    xi, fx = interp.split_position(x, flow[y, x, 0], frame1.shape[1], interp.BORDER_REPLICATE)
    yi, fy = interp.split_position(y, flow[y, x, 1], frame1.shape[0], interp.BORDER_REPLICATE)
    return interp.linear_at(frame1, yi, xi, fy, fx, interp.BORDER_REPLICATE, 0.0)


@jit(error_model="numpy")
def _mean_dx(frame0, warped, y, x):
    """Central difference in x of ``(frame0 + warped) / 2`` at (y, x), edge replicated."""
    xl, xr = max(x - 1, 0), min(x + 1, frame0.shape[1] - 1)
    return ((_HALF * frame0[y, xr] + _HALF * warped[y, xr])
            - (_HALF * frame0[y, xl] + _HALF * warped[y, xl]))


@jit(error_model="numpy")
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
def smoothness_weight_px(flow, dflow, y, x, alpha2):
    """``alpha / 2 / Psi(|grad(W + dW)|**2)`` at (y, x): forward differences, 0 at the last
    column and row."""
    h, w = flow.shape[0], flow.shape[1]
    xr, yd = min(x + 1, w - 1), min(y + 1, h - 1)
    u = flow[y, x, 0] + dflow[y, x, 0]
    v = flow[y, x, 1] + dflow[y, x, 1]
    ux = (flow[y, xr, 0] + dflow[y, xr, 0]) - u
    vx = (flow[y, xr, 1] + dflow[y, xr, 1]) - v
    uy = (flow[yd, x, 0] + dflow[yd, x, 0]) - u
    vy = (flow[yd, x, 1] + dflow[yd, x, 1]) - v
    return alpha2 / sqrt(ux * ux + vx * vx + uy * uy + vy * vy + _EPS2)


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
def data_system_px(d, dflow, y, x, delta2, gamma2, system):
    """The data terms of pixel (y, x)'s linear system into ``system[:, y, x]``: brightness and
    gradient constancy at the current increment, each weighted by its penaliser's
    derivative, and ``zeta**2`` on the diagonal."""
    du, dv = dflow[y, x, 0], dflow[y, x, 1]
    ix, iy, iz = d[0, y, x], d[1, y, x], d[2, y, x]
    inorm = _ONE / (ix * ix + iy * iy + _ZETA2)
    r = iz + ix * du + iy * dv
    wgt = (delta2 / sqrt(r * r * inorm + _EPS2)) * inorm
    a11 = wgt * (ix * ix) + _ZETA2
    a12 = wgt * (ix * iy)
    a22 = wgt * (iy * iy) + _ZETA2
    b1 = -wgt * (iz * ix)
    b2 = -wgt * (iz * iy)
    ixx, ixy, iyy, ixz, iyz = d[3, y, x], d[4, y, x], d[5, y, x], d[6, y, x], d[7, y, x]
    inx = _ONE / (ixx * ixx + ixy * ixy + _ZETA2)
    iny = _ONE / (iyy * iyy + ixy * ixy + _ZETA2)
    rx = ixz + ixx * du + ixy * dv
    ry = iyz + ixy * du + iyy * dv
    wgt = gamma2 / sqrt(rx * rx * inx + ry * ry * iny + _EPS2)
    gx = wgt * inx
    gy = wgt * iny
    system[0, y, x] = a11 + (gx * (ixx * ixx) + gy * (ixy * ixy))
    system[1, y, x] = a12 + (gx * (ixx * ixy) + gy * (ixy * iyy))
    system[2, y, x] = a22 + (gx * (ixy * ixy) + gy * (iyy * iyy))
    system[3, y, x] = b1 - (gx * (ixx * ixz) + gy * (ixy * iyz))
    system[4, y, x] = b2 - (gx * (ixy * ixz) + gy * (iyy * iyz))


@jit(error_model="numpy", inline="always")
def smoothness_system_px(flow, weights, y, x, system):
    """Adds the smoothness edges of (y, x) to its linear system: their weights on the
    diagonal, the differences of the input flow ``W`` times the weights to the right-hand
    sides; then stores the diagonal as its reciprocal (:func:`sor_px` multiplies by it)."""
    h, w = flow.shape[0], flow.shape[1]
    wl, wr, wu, wd = _neighbour_weights(weights, y, x)
    xl, xr = max(x - 1, 0), min(x + 1, w - 1)
    yu, yd = max(y - 1, 0), min(y + 1, h - 1)
    u, v = flow[y, x, 0], flow[y, x, 1]
    diag = wr + wl + wd + wu
    system[0, y, x] = _ONE / (system[0, y, x] + diag)
    system[2, y, x] = _ONE / (system[2, y, x] + diag)
    system[3, y, x] += (wr * (flow[y, xr, 0] - u) - wl * (u - flow[y, xl, 0])
                        + wd * (flow[yd, x, 0] - u) - wu * (u - flow[yu, x, 0]))
    system[4, y, x] += (wr * (flow[y, xr, 1] - v) - wl * (v - flow[y, xl, 1])
                        + wd * (flow[yd, x, 1] - v) - wu * (v - flow[yu, x, 1]))


@jit(error_model="numpy")
def sor_px(system, weights, dflow, y, x, omega):
    """One SOR update of the increment at (y, x): u first, then v with the new u."""
    h, w = dflow.shape[0], dflow.shape[1]
    wl, wr, wu, wd = _neighbour_weights(weights, y, x)
    _sor_update(system, dflow, y, x, max(x - 1, 0), min(x + 1, w - 1), max(y - 1, 0),
                min(y + 1, h - 1), wl, wr, wu, wd, omega)


@jit(error_model="numpy", inline="always")
def _sor_update(system, dflow, y, x, xl, xr, yu, yd, wl, wr, wu, wd, omega):
    """:func:`sor_px` given the neighbours' indices and the edges' weights (the CPU driver's
    interior pixels pass them without clamping)."""
    su = wl * dflow[y, xl, 0] + wr * dflow[y, xr, 0] + wu * dflow[yu, x, 0] + wd * dflow[yd, x, 0]
    sv = wl * dflow[y, xl, 1] + wr * dflow[y, xr, 1] + wu * dflow[yu, x, 1] + wd * dflow[yd, x, 1]
    a12 = system[1, y, x]
    du = dflow[y, x, 0]
    dv = dflow[y, x, 1]
    du += omega * ((su + system[3, y, x] - dv * a12) * system[0, y, x] - du)
    dv += omega * ((sv + system[4, y, x] - du * a12) * system[2, y, x] - dv)
    dflow[y, x, 0] = du
    dflow[y, x, 1] = dv


def half_weights(alpha, delta, gamma):
    """``alpha / 2``, ``delta / 2`` and ``gamma / 2`` as float32, the kernels' factors."""
    return np.float32(alpha / 2.0), np.float32(delta / 2.0), np.float32(gamma / 2.0)


# ------------------------------------------------------------------------------- CPU driver

@jit(nogil=True, error_model="numpy")
def _derivatives_band(frame0, frame1, flow, warped, deriv, stage, band, n_bands):
    """Stage 0: the warped rows of band ``band``; stage 1: their derivatives (which read the
    warped rows around them, hence two passes)."""
    h, w = frame0.shape
    y0, y1 = band_range(h, band, n_bands)
    for y in range(y0, y1):
        for x in range(w):
            if stage == 0:
                warped[y, x] = warp_px(frame1, flow, y, x)
            else:
                t = derivatives_px(frame0, warped, y, x)
                for k in range(N_DERIVATIVES):
                    deriv[k, y, x] = t[k]


@jit(nogil=True, error_model="numpy")
def _iteration_band(deriv, flow, dflow, weights, alpha2, delta2, gamma2, system, omega, stage,
                    iterations, sor_iterations, band, n_bands):
    """One pass over the rows of band ``band``: the smoothness weights (stage 0), the linear
    systems (stage 1), or an SOR sweep over the red (stage 2) or black (stage 3) pixels. An
    SOR pixel reads only pixels of the other colour, so the bands need no synchronisation.

    ``stage`` -1 (one band only): every pass of ``iterations`` fixed-point iterations of
    ``sor_iterations`` SOR sweeps, in :func:`refine_cpu`'s order, in one call.
    """
    h, w = flow.shape[0], flow.shape[1]
    y0, y1 = band_range(h, band, n_bands)
    per_iteration = 2 + 2 * sor_iterations
    for p in range(1 if stage >= 0 else iterations * per_iteration):
        s = stage
        if stage < 0:
            s = p % per_iteration
            s = s if s < 2 else 2 + s % 2
        for y in range(y0, y1):
            if s == 0:
                for x in range(w):
                    weights[y, x] = smoothness_weight_px(flow, dflow, y, x, alpha2)
            elif s == 1:
                for x in range(w):
                    data_system_px(deriv, dflow, y, x, delta2, gamma2, system)
                for x in range(w):
                    smoothness_system_px(flow, weights, y, x, system)
            elif 0 < y < h - 1:
                # interior pixels without clamped neighbours: the same arithmetic, fewer
                # instructions (borders through sor_px)
                x = (y + s) % 2
                if x == 0:
                    sor_px(system, weights, dflow, y, x, omega)  # x, not a literal 0
                    x = 2
                wu_row = weights[y - 1]
                w_row = weights[y]
                while x < w - 1:
                    wp = w_row[x]
                    _sor_update(system, dflow, y, x, x - 1, x + 1, y - 1, y + 1, w_row[x - 1],
                                wp, wu_row[x], wp, omega)
                    x += 2
                if x == w - 1:
                    sor_px(system, weights, dflow, y, x, omega)
            else:
                for x in range((y + s) % 2, w, 2):
                    sor_px(system, weights, dflow, y, x, omega)


def derivatives_cpu(frame0, frame1, flow):
    """Image derivatives ``(8, H, W)`` float32 of the pair linearised around ``flow``."""
    warped = np.empty_like(frame1)
    deriv = np.empty((N_DERIVATIVES,) + frame0.shape, np.float32)
    threads = bands_for(frame0.size, SERIAL_PIXELS)
    for stage in (0, 1):
        run_bands(_derivatives_band, frame0, frame1, flow, warped, deriv, stage, threads=threads)
    return deriv


def refine_cpu(frame0, frame1, flow, alpha, delta, gamma, iterations, sor_iterations, omega,
               out=None):
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
    """
    deriv = derivatives_cpu(frame0, frame1, flow)
    args = half_weights(alpha, delta, gamma)
    dflow = np.zeros(flow.shape, np.float32)
    weights = np.empty(frame0.shape, np.float32)
    system = np.empty((5,) + frame0.shape, np.float32)
    state = (deriv, flow, dflow, weights) + args + (system, np.float32(omega))
    if bands_for(frame0.size, SERIAL_PIXELS) == 1:
        # every pass in one call: a pass over a small image costs less than waking the
        # workers for it, and there are 2 + 2 * sor_iterations passes per iteration
        _iteration_band(*state, -1, iterations, sor_iterations, 0, 1)
    else:
        for _ in range(iterations):
            for stage in (0, 1) + (2, 3) * sor_iterations:
                run_bands(_iteration_band, *state, stage, 0, 0)
    return np.add(flow, dflow, out=out)
