"""Backward warping: per-pixel math (shared with the CUDA driver) and the CPU driver.

``out[n, y, x, c] = image[n, y + v, x + u, c]`` sampled with ``kernels.interp``; see
``flowkit.warp`` for the public API. Arrays arrive already laid out as
``image (Ni, H, W, C)``, ``flow (Nf, H, W, 2)``, ``out (N, H, W, C)`` and ``mask (Nf, H, W)``
with ``Ni`` and ``Nf`` either 1 (shared by the whole batch) or N.
"""

import math

from numba import njit, prange

from . import interp

UNKNOWN_FLOW = 1e9  # |component| >= this (or NaN) marks an unknown flow vector


@njit(cache=True)
def round_half_even(value):
    """Round to the nearest integer, ties to even (as ``np.rint`` and ``cv2.saturate_cast``)."""
    r = math.floor(value + 0.5)
    if r - value == 0.5 and r % 2 != 0:
        r -= 1.0
    return r


@njit(cache=True)
def store(out, n, y, x, c, value, int_max):
    """Write ``value``; integer outputs (``int_max > 0``) are rounded and saturated."""
    if int_max > 0:
        value = min(max(round_half_even(value), 0.0), int_max)
    out[n, y, x, c] = value


@njit(cache=True)
def warp_pixel(image, flow, out, mask, n, y, x, interpolation, border, border_value, int_max):
    """Compute ``out[n, y, x, :]`` and, for ``n < mask.shape[0]``, ``mask[n, y, x]``."""
    _, h, w, channels = image.shape
    ni = n if image.shape[0] > 1 else 0
    nf = n if flow.shape[0] > 1 else 0
    u = flow[nf, y, x, 0]
    v = flow[nf, y, x, 1]
    if not (abs(u) < UNKNOWN_FLOW and abs(v) < UNKNOWN_FLOW):
        # Unknown flow (NaN, inf or Middlebury's >= 1e9 marker): border_value, masked invalid.
        for c in range(channels):
            store(out, n, y, x, c, border_value, int_max)
        if n < mask.shape[0]:
            mask[n, y, x] = False
        return
    xi, fx = interp.split_position(x, u, w, border)
    yi, fy = interp.split_position(y, v, h, border)
    if n < mask.shape[0]:
        mask[n, y, x] = interp.inside(xi, fx, w) and interp.inside(yi, fy, h)
    if interpolation == interp.INTER_LINEAR and 0 <= xi and xi + 1 < w and 0 <= yi and yi + 1 < h:
        # Interior bilinear: weights once per pixel, no border tests per tap.
        gx = 1.0 - fx
        gy = 1.0 - fy
        w00 = gx * gy
        w01 = fx * gy
        w10 = gx * fy
        w11 = fx * fy
        for c in range(channels):
            value = (w00 * image[ni, yi, xi, c] + w01 * image[ni, yi, xi + 1, c]
                     + w10 * image[ni, yi + 1, xi, c] + w11 * image[ni, yi + 1, xi + 1, c])
            store(out, n, y, x, c, value, int_max)
        return
    for c in range(channels):
        value = interp.sample_at(image[ni, :, :, c], yi, xi, fy, fx, interpolation, border,
                                 border_value)
        store(out, n, y, x, c, value, int_max)


@njit(parallel=True, cache=True)
def warp_cpu(image, flow, out, mask, interpolation, border, border_value, int_max):
    """CPU driver: rows of every output image in parallel.

    Parameters
    ----------
    image : ndarray (Ni, H, W, C), uint8, uint16, float32 or float64
    flow : ndarray (Nf, H, W, 2), float32 (float64 for float64 images)
    out : ndarray (N, H, W, C), the image dtype, written
    mask : ndarray (Nf, H, W), bool, written
    interpolation, border : int
        Codes from ``kernels.interp``.
    border_value : float
    int_max : float
        Largest value of an integer output dtype, 0 for float outputs.
    """
    n_out, h, w, _ = out.shape
    for row in prange(n_out * h):
        n = row // h
        y = row - n * h
        for x in range(w):
            warp_pixel(image, flow, out, mask, n, y, x, interpolation, border, border_value,
                       int_max)
