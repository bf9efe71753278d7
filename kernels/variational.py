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
  current ``dW`` (:func:`smoothness_weight_px`, :func:`data_px`, :func:`smoothness_px`), which gives a 2x2-per-pixel
  linear system coupled through the smoothness edges, and ``sor_iterations`` red-black SOR
  sweeps (:func:`sor_px`, red pixels ``(x + y) % 2 == 0`` first) improve ``dW``. Each step
  minimises a quadratic that majorises the energy, so no iteration raises it (up to float32
  rounding).

All arithmetic is float32, in OpenCV's order where that is cheap. The one known difference:
the warp samples at the exact float position, ``cv2.remap`` at the position rounded to 1/32
pixel (docs/accuracy.md).

Arrays are C-contiguous float32: frames ``(C, H, W)`` on the 0..255 scale OpenCV's constants
assume, flow and increment ``(H, W, 2)``, derivatives ``(C, 8, H, W)`` (Ix, Iy, Iz, Ixx, Ixy, Iyy,
Ixz, Iyz), system ``(5, H, W)`` (A11, A12, A22, b1, b2), smoothness weights ``(H, W)``.
"""

import numpy as np
from numba import njit

from . import interp
from .parallel import band_range, run_bands

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
    xl, xr = max(x - 1, 0), min(x + 1, frame0.shape[2] - 1)
    return ((_HALF * frame0[c, y, xr] + _HALF * warped[c, y, xr])
            - (_HALF * frame0[c, y, xl] + _HALF * warped[c, y, xl]))


@njit(cache=True)
def _mean_dy(frame0, warped, y, x, c):
    """Central difference in y of ``(frame0 + warped) / 2`` at (y, x), edge replicated."""
    yu, yd = max(y - 1, 0), min(y + 1, frame0.shape[1] - 1)
    return ((_HALF * frame0[c, yd, x] + _HALF * warped[c, yd, x])
            - (_HALF * frame0[c, yu, x] + _HALF * warped[c, yu, x]))


@njit(cache=True)
def warp_px(frame1, flow, y, x, c):
    """Channel ``c`` of frame1 at (x + u, y + v): bilinear, edge replicated (``kernels.interp``)."""
    xi, fx = interp.split_position(x, flow[y, x, 0], frame1.shape[2], interp.BORDER_REPLICATE)
    yi, fy = interp.split_position(y, flow[y, x, 1], frame1.shape[1], interp.BORDER_REPLICATE)
    return interp.linear_at(frame1[c], yi, xi, fy, fx, interp.BORDER_REPLICATE, 0.0)


@njit(cache=True)
def derivatives_px(frame0, warped, y, x, c):
    """``(Ix, Iy, Iz, Ixx, Ixy, Iyy, Ixz, Iyz)`` of channel ``c`` at (y, x) (module docstring)."""
    h, w = frame0.shape[1], frame0.shape[2]
    xl, xr = max(x - 1, 0), min(x + 1, w - 1)
    yu, yd = max(y - 1, 0), min(y + 1, h - 1)
    ix = _mean_dx(frame0, warped, y, x, c)
    iy = _mean_dy(frame0, warped, y, x, c)
    iz = warped[c, y, x] - frame0[c, y, x]
    ixx = _mean_dx(frame0, warped, y, xr, c) - _mean_dx(frame0, warped, y, xl, c)
    ixy = _mean_dx(frame0, warped, yd, x, c) - _mean_dx(frame0, warped, yu, x, c)
    iyy = _mean_dy(frame0, warped, yd, x, c) - _mean_dy(frame0, warped, yu, x, c)
    ixz = (warped[c, y, xr] - frame0[c, y, xr]) - (warped[c, y, xl] - frame0[c, y, xl])
    iyz = (warped[c, yd, x] - frame0[c, yd, x]) - (warped[c, yu, x] - frame0[c, yu, x])
    return ix, iy, iz, ixx, ixy, iyy, ixz, iyz


@njit(cache=True)
def data_px(d, dflow, y, x, c, delta2, gamma2):
    """Channel ``c``'s share of ``(A11, A12, A22, b1, b2)`` at the current increment: the
    brightness and gradient constancy terms, each weighted by its penaliser's derivative."""
    du, dv = dflow[y, x, 0], dflow[y, x, 1]
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
def smoothness_px(flow, weights, y, x):
    """The smoothness edges' share of ``(A11 = A22, b1, b2)`` at (y, x), plus ``zeta**2`` on the
    diagonal: edges to the right and below carry this pixel's weight, edges to the left and
    above the neighbour's; the right-hand sides hold the differences of the input flow ``W``.
    Branch-free (neighbours read at clamped indices, missing edges weighted 0), so that CPU
    loops over x vectorise."""
    h, w = flow.shape[0], flow.shape[1]
    xl, xr = max(x - 1, 0), min(x + 1, w - 1)
    yu, yd = max(y - 1, 0), min(y + 1, h - 1)
    u, v = flow[y, x, 0], flow[y, x, 1]
    wp = weights[y, x]
    wr = wp if x + 1 < w else _ZERO
    wl = weights[y, xl]
    wl = wl if x > 0 else _ZERO
    wd = wp if y + 1 < h else _ZERO
    wu = weights[yu, x]
    wu = wu if y > 0 else _ZERO
    b1 = wr * (flow[y, xr, 0] - u) - wl * (u - flow[y, xl, 0])
    b2 = wr * (flow[y, xr, 1] - v) - wl * (v - flow[y, xl, 1])
    b1 += wd * (flow[yd, x, 0] - u) - wu * (u - flow[yu, x, 0])
    b2 += wd * (flow[yd, x, 1] - v) - wu * (v - flow[yu, x, 1])
    return _ZETA2 + wr + wl + wd + wu, b1, b2


@njit(cache=True)
def sor_px(system, weights, dflow, y, x, omega):
    """One SOR update of the increment at (y, x): u first, then v with the new u.
    Branch-free like :func:`system_px`."""
    h, w = dflow.shape[0], dflow.shape[1]
    xl, xr = max(x - 1, 0), min(x + 1, w - 1)
    yu, yd = max(y - 1, 0), min(y + 1, h - 1)
    wp = weights[y, x]
    wl = weights[y, xl]
    wl = wl if x > 0 else _ZERO
    wr = wp if x + 1 < w else _ZERO
    wu = weights[yu, x]
    wu = wu if y > 0 else _ZERO
    wd = wp if y + 1 < h else _ZERO
    su = wl * dflow[y, xl, 0] + wr * dflow[y, xr, 0] + wu * dflow[yu, x, 0] + wd * dflow[yd, x, 0]
    sv = wl * dflow[y, xl, 1] + wr * dflow[y, xr, 1] + wu * dflow[yu, x, 1] + wd * dflow[yd, x, 1]
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
def _warp_band(frame1, flow, warped, band, n_bands):
    h, w = flow.shape[0], flow.shape[1]
    y0, y1 = band_range(h, band, n_bands)
    for c in range(frame1.shape[0]):
        for y in range(y0, y1):
            for x in range(w):
                warped[c, y, x] = warp_px(frame1, flow, y, x, c)


@njit(nogil=True, cache=True)
def _derivatives_band(frame0, warped, deriv, band, n_bands):
    channels, h, w = frame0.shape
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
    """The linear systems of band ``band``'s rows: data terms channel by channel, then the
    smoothness terms (loops over x, which vectorise)."""
    y0, y1 = band_range(flow.shape[0], band, n_bands)
    for y in range(y0, y1):
        for c in range(deriv.shape[0]):
            for x in range(flow.shape[1]):
                t = data_px(deriv, dflow, y, x, c, delta2, gamma2)
                for k in range(5):
                    system[k, y, x] = t[k] if c == 0 else system[k, y, x] + t[k]
        for x in range(flow.shape[1]):
            diag, b1, b2 = smoothness_px(flow, weights, y, x)
            system[0, y, x] += diag
            system[2, y, x] += diag
            system[3, y, x] += b1
            system[4, y, x] += b2


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
    channels, h, w = frame0.shape
    warped = np.empty_like(frame1)
    run_bands(_warp_band, frame1, flow, warped)
    deriv = np.empty((channels, N_DERIVATIVES, h, w), np.float32)
    run_bands(_derivatives_band, frame0, warped, deriv)
    return deriv


def refine_cpu(frame0, frame1, flow, alpha, delta, gamma, iterations, sor_iterations, omega,
               out=None):
    """Refined flow ``W + dW``, into ``out`` (``(H, W, 2)`` float32) when given, else into a
    new array; returns it.

    Parameters
    ----------
    frame0, frame1 : ndarray (C, H, W) float32, C-contiguous, 0..255 scale
    flow : ndarray (H, W, 2) float32, C-contiguous (not modified)
    alpha, delta, gamma : float
        Smoothness, brightness- and gradient-constancy weights (OpenCV's meaning).
    iterations, sor_iterations : int
        Fixed-point iterations and SOR sweeps (red and black) per fixed-point iteration.
    omega : float
        SOR relaxation factor.
    """
    channels, h, w = frame0.shape
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
    return np.add(flow, dflow, out=out)
