"""Variational flow refinement: per-pixel math (shared with the CUDA driver) and the CPU driver.

The method is OpenCV's ``VariationalRefinement`` (modules/video/src/variational_refinement.cpp),
the energy of Brox, Bruhn, Papenberg and Weickert (ECCV 2004) linearised once around the input
flow ``W``; the unknown is the increment ``dW``:

* frame1 is warped by ``W`` (bilinear, edge replicated); ``Iz = warped - frame0``; ``Ix``, ``Iy``
  are central differences ``I[x+1] - I[x-1]`` (not halved, edge replicated: OpenCV's ``Sobel``
  with ``ksize=1``) of the mean ``(frame0 + warped) / 2``; ``Ixz``, ``Iyz`` those of ``Iz``;
  ``Ixx``, ``Ixy`` those of ``Ix`` and ``Iyy`` that of ``Iy``.
* Energy per pixel, with ``Psi(s) = sqrt(s + eps**2)``, ``eps = 0.001``, ``zeta = 0.1``, and the
  mean over channels of the two data terms (``delta``, ``gamma``; one channel: OpenCV's)::

      delta * Psi(r**2 / (Ix**2 + Iy**2 + zeta**2))                  r  = Iz + Ix du + Iy dv
    + gamma * Psi(rx**2 / (Ixx**2 + Ixy**2 + zeta**2)               rx = Ixz + Ixx du + Ixy dv
                  + ry**2 / (Iyy**2 + Ixy**2 + zeta**2))             ry = Iyz + Ixy du + Iyy dv
    + zeta**2 * (du**2 + dv**2)
    + alpha * Psi(|forward differences of W + dW|**2)              (edge replicated: 0 at the
                                                                   last column and row)

* ``iterations`` fixed-point (lagged-weight) iterations: the robust weights are frozen at the
  current ``dW`` (:func:`smoothness_weight_px`, :func:`system_px`), which gives a 2x2-per-pixel
  linear system coupled through the smoothness edges, and ``sor_iterations`` red-black SOR
  sweeps (:func:`sor_px`, red pixels ``(x + y) % 2 == 0`` first) improve ``dW``. Each step
  minimises a quadratic that majorises the energy, so no iteration raises it (up to float32
  rounding).

All arithmetic is float32, in OpenCV's order where that is cheap. The one known difference:
the warp samples at the exact float position, ``cv2.remap`` at the position rounded to 1/32
pixel (docs/accuracy.md).

Arrays are C-contiguous float32: frames ``(H, W, C)`` on the 0..255 scale OpenCV's constants
assume, flow and increment ``(H, W, 2)``, derivatives ``(C, 8, H, W)`` (Ix, Iy, Iz, Ixx, Ixy, Iyy,
Ixz, Iyz), system ``(5, H, W)`` (A11, A12, A22, b1, b2), smoothness weights ``(H, W)``.
"""

import numba
import numpy as np
from numba import njit

from .parallel import band_range, run_bands
from .warp import warp_row_linear_replicate

ZETA = 0.1                  # OpenCV's zeta: normalisation of the data terms and Tikhonov weight
EPSILON = 0.001             # OpenCV's epsilon in the robust penaliser sqrt(s + epsilon**2)
N_DERIVATIVES = 8
_ZETA2 = np.float32(ZETA) * np.float32(ZETA)
_EPS2 = np.float32(EPSILON) * np.float32(EPSILON)
_HALF = np.float32(0.5)
_ZERO = np.float32(0.0)


# ------------------------------------------------------------------ per-pixel math (CPU and CUDA)

@njit(cache=True)
def _mean_dx(frame0, warped, y, x, c):
    """Central difference in x of ``(frame0 + warped) / 2`` at (y, x), edge replicated."""
    xl, xr = max(x - 1, 0), min(x + 1, frame0.shape[1] - 1)
    return ((_HALF * frame0[y, xr, c] + _HALF * warped[y, xr, c])
            - (_HALF * frame0[y, xl, c] + _HALF * warped[y, xl, c]))


@njit(cache=True)
def _mean_dy(frame0, warped, y, x, c):
    """Central difference in y of ``(frame0 + warped) / 2`` at (y, x), edge replicated."""
    yu, yd = max(y - 1, 0), min(y + 1, frame0.shape[0] - 1)
    return ((_HALF * frame0[yd, x, c] + _HALF * warped[yd, x, c])
            - (_HALF * frame0[yu, x, c] + _HALF * warped[yu, x, c]))


@njit(cache=True)
def derivatives_px(frame0, warped, y, x, c):
    """``(Ix, Iy, Iz, Ixx, Ixy, Iyy, Ixz, Iyz)`` of channel ``c`` at (y, x) (module docstring)."""
    h, w = frame0.shape[0], frame0.shape[1]
    xl, xr = max(x - 1, 0), min(x + 1, w - 1)
    yu, yd = max(y - 1, 0), min(y + 1, h - 1)
    ix = _mean_dx(frame0, warped, y, x, c)
    iy = _mean_dy(frame0, warped, y, x, c)
    iz = warped[y, x, c] - frame0[y, x, c]
    ixx = _mean_dx(frame0, warped, y, xr, c) - _mean_dx(frame0, warped, y, xl, c)
    ixy = _mean_dx(frame0, warped, yd, x, c) - _mean_dx(frame0, warped, yu, x, c)
    iyy = _mean_dy(frame0, warped, yd, x, c) - _mean_dy(frame0, warped, yu, x, c)
    ixz = (warped[y, xr, c] - frame0[y, xr, c]) - (warped[y, xl, c] - frame0[y, xl, c])
    iyz = (warped[yd, x, c] - frame0[yd, x, c]) - (warped[yu, x, c] - frame0[yu, x, c])
    return ix, iy, iz, ixx, ixy, iyy, ixz, iyz


@njit(cache=True)
def _data_terms(d, c, y, x, du, dv, delta2, gamma2):
    """Channel ``c``'s share of ``(A11, A12, A22, b1, b2)`` at the increment (du, dv): the
    brightness and gradient constancy terms, each weighted by its penaliser's derivative."""
    ix, iy, iz = d[c, 0, y, x], d[c, 1, y, x], d[c, 2, y, x]
    norm = ix * ix + iy * iy + _ZETA2
    r = iz + ix * du + iy * dv
    wgt = (delta2 / np.sqrt(r * r / norm + _EPS2)) / norm
    a11 = wgt * (ix * ix)
    a12 = wgt * (ix * iy)
    a22 = wgt * (iy * iy)
    b1 = -wgt * (iz * ix)
    b2 = -wgt * (iz * iy)
    ixx, ixy, iyy, ixz, iyz = d[c, 3, y, x], d[c, 4, y, x], d[c, 5, y, x], d[c, 6, y, x], d[c, 7, y, x]
    nx = ixx * ixx + ixy * ixy + _ZETA2
    ny = iyy * iyy + ixy * ixy + _ZETA2
    rx = ixz + ixx * du + ixy * dv
    ry = iyz + ixy * du + iyy * dv
    wgt = gamma2 / np.sqrt(rx * rx / nx + ry * ry / ny + _EPS2)
    a11 += wgt * (ixx * ixx / nx + ixy * ixy / ny)
    a12 += wgt * (ixx * ixy / nx + ixy * iyy / ny)
    a22 += wgt * (ixy * ixy / nx + iyy * iyy / ny)
    b1 -= wgt * (ixx * ixz / nx + ixy * iyz / ny)
    b2 -= wgt * (ixy * ixz / nx + iyy * iyz / ny)
    return a11, a12, a22, b1, b2


@njit(cache=True)
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
    return alpha2 / np.sqrt(ux * ux + vx * vx + uy * uy + vy * vy + _EPS2)


@njit(cache=True)
def system_px(d, flow, dflow, weights, y, x, delta2, gamma2, system):
    """The linear system of pixel (y, x) into ``system[:, y, x]``: data terms summed over
    channels at the current increment, ``zeta**2`` on the diagonal, and the smoothness edges
    (to the right and below with this pixel's weight, to the left and above with the
    neighbour's), whose right-hand sides hold the differences of the input flow ``W``."""
    h, w = flow.shape[0], flow.shape[1]
    du, dv = dflow[y, x, 0], dflow[y, x, 1]
    a11 = a12 = a22 = b1 = b2 = _ZERO
    for c in range(d.shape[0]):
        t11, t12, t22, t1, t2 = _data_terms(d, c, y, x, du, dv, delta2, gamma2)
        a11 += t11
        a12 += t12
        a22 += t22
        b1 += t1
        b2 += t2
    u, v = flow[y, x, 0], flow[y, x, 1]
    wp = weights[y, x]
    diag = _ZETA2
    if x + 1 < w:
        diag += wp
        b1 += wp * (flow[y, x + 1, 0] - u)
        b2 += wp * (flow[y, x + 1, 1] - v)
    if x > 0:
        wn = weights[y, x - 1]
        diag += wn
        b1 -= wn * (u - flow[y, x - 1, 0])
        b2 -= wn * (v - flow[y, x - 1, 1])
    if y + 1 < h:
        diag += wp
        b1 += wp * (flow[y + 1, x, 0] - u)
        b2 += wp * (flow[y + 1, x, 1] - v)
    if y > 0:
        wn = weights[y - 1, x]
        diag += wn
        b1 -= wn * (u - flow[y - 1, x, 0])
        b2 -= wn * (v - flow[y - 1, x, 1])
    system[0, y, x] = a11 + diag
    system[1, y, x] = a12
    system[2, y, x] = a22 + diag
    system[3, y, x] = b1
    system[4, y, x] = b2


@njit(cache=True)
def sor_px(system, weights, dflow, y, x, omega):
    """One SOR update of the increment at (y, x): u first, then v with the new u."""
    h, w = dflow.shape[0], dflow.shape[1]
    wp = weights[y, x]
    su = sv = _ZERO
    if x > 0:
        su = weights[y, x - 1] * dflow[y, x - 1, 0]
        sv = weights[y, x - 1] * dflow[y, x - 1, 1]
    if x + 1 < w:
        su += wp * dflow[y, x + 1, 0]
        sv += wp * dflow[y, x + 1, 1]
    if y > 0:
        su += weights[y - 1, x] * dflow[y - 1, x, 0]
        sv += weights[y - 1, x] * dflow[y - 1, x, 1]
    if y + 1 < h:
        su += wp * dflow[y + 1, x, 0]
        sv += wp * dflow[y + 1, x, 1]
    a12 = system[1, y, x]
    du = dflow[y, x, 0]
    dv = dflow[y, x, 1]
    du += omega * ((su + system[3, y, x] - dv * a12) / system[0, y, x] - du)
    dv += omega * ((sv + system[4, y, x] - du * a12) / system[2, y, x] - dv)
    dflow[y, x, 0] = du
    dflow[y, x, 1] = dv


def half_weights(alpha, delta, gamma, channels):
    """``alpha / 2``, ``delta / 2`` and ``gamma / 2`` as float32 (the kernels' factors), the
    two data weights divided by the channel count (the mean over channels)."""
    return (np.float32(alpha / 2.0), np.float32(delta / (2.0 * channels)),
            np.float32(gamma / (2.0 * channels)))


# ------------------------------------------------------------------------------- CPU driver

@njit(nogil=True, cache=True)
def _warp_band(frame1, flow, warped, index, frac, band, n_bands):
    """Rows of band ``band``: frame1 at (x + u, y + v), bilinear, edge replicated."""
    h, w, channels = frame1.shape
    image = frame1.reshape((1, h, w, channels))
    src = frame1.reshape(frame1.size)
    no_mask = np.zeros(0, np.bool_)
    y0, y1 = band_range(h, band, n_bands)
    for y in range(y0, y1):
        warp_row_linear_replicate(image, src, flow[y].reshape(2 * w), y, index[band, 0],
                                  index[band, 1], frac[band, 0], frac[band, 1],
                                  warped[y].reshape(w * channels), no_mask)


@njit(nogil=True, cache=True)
def _derivatives_band(frame0, warped, deriv, band, n_bands):
    h, w, channels = frame0.shape
    y0, y1 = band_range(h, band, n_bands)
    for c in range(channels):
        for y in range(y0, y1):
            for x in range(w):
                t = derivatives_px(frame0, warped, y, x, c)
                for k in range(N_DERIVATIVES):
                    deriv[c, k, y, x] = t[k]


@njit(nogil=True, cache=True)
def _weights_band(flow, dflow, alpha2, weights, band, n_bands):
    y0, y1 = band_range(flow.shape[0], band, n_bands)
    for y in range(y0, y1):
        for x in range(flow.shape[1]):
            weights[y, x] = smoothness_weight_px(flow, dflow, y, x, alpha2)


@njit(nogil=True, cache=True)
def _system_band(deriv, flow, dflow, weights, delta2, gamma2, system, band, n_bands):
    y0, y1 = band_range(flow.shape[0], band, n_bands)
    for y in range(y0, y1):
        for x in range(flow.shape[1]):
            system_px(deriv, flow, dflow, weights, y, x, delta2, gamma2, system)


@njit(nogil=True, cache=True)
def _sor_band(system, weights, dflow, omega, colour, band, n_bands):
    """The pixels of one colour (``(x + y) % 2 == colour``) in the rows of band ``band``: they
    read only pixels of the other colour, so the bands need no synchronisation."""
    y0, y1 = band_range(dflow.shape[0], band, n_bands)
    for y in range(y0, y1):
        for x in range((y + colour) % 2, dflow.shape[1], 2):
            sor_px(system, weights, dflow, y, x, omega)


def derivatives_cpu(frame0, frame1, flow):
    """Image derivatives ``(C, 8, H, W)`` float32 of the pair linearised around ``flow``."""
    h, w, channels = frame0.shape
    n_bands = numba.get_num_threads()
    warped = np.empty_like(frame1)
    index = np.empty((n_bands, 2, w), np.int32)
    frac = np.empty((n_bands, 2, w), np.float32)
    run_bands(_warp_band, frame1, flow, warped, index, frac, threads=n_bands)
    deriv = np.empty((channels, N_DERIVATIVES, h, w), np.float32)
    run_bands(_derivatives_band, frame0, warped, deriv)
    return deriv


def refine_cpu(frame0, frame1, flow, alpha, delta, gamma, iterations, sor_iterations, omega):
    """Refined flow ``W + dW`` (a new ``(H, W, 2)`` float32 array).

    Parameters
    ----------
    frame0, frame1 : ndarray (H, W, C) float32, C-contiguous, 0..255 scale
    flow : ndarray (H, W, 2) float32, C-contiguous (not modified)
    alpha, delta, gamma : float
        Smoothness, brightness- and gradient-constancy weights (OpenCV's meaning).
    iterations, sor_iterations : int
        Fixed-point iterations and SOR sweeps (red and black) per fixed-point iteration.
    omega : float
        SOR relaxation factor.
    """
    h, w, channels = frame0.shape
    deriv = derivatives_cpu(frame0, frame1, flow)
    alpha2, delta2, gamma2 = half_weights(alpha, delta, gamma, channels)
    omega = np.float32(omega)
    dflow = np.zeros((h, w, 2), np.float32)
    weights = np.empty((h, w), np.float32)
    system = np.empty((5, h, w), np.float32)
    for _ in range(iterations):
        run_bands(_weights_band, flow, dflow, alpha2, weights)
        run_bands(_system_band, deriv, flow, dflow, weights, delta2, gamma2, system)
        for _ in range(sor_iterations):
            run_bands(_sor_band, system, weights, dflow, omega, 0)
            run_bands(_sor_band, system, weights, dflow, omega, 1)
    return flow + dflow
