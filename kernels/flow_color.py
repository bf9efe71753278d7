"""Middlebury colour coding of flow (``colorcode.cpp``): per-pixel math and the CPU drivers.

The per-pixel math runs in float64, as a transcription of the C++ ``computeColor``; flow
arrives as float32 or float64 ``(N, H, W, 2)``, C-contiguous. ``flow_color_cuda`` calls the
same functions from CUDA kernels, float64 there too on purpose (a display function, run once
per picture, that reproduces the C++ colours).
"""

import math

import numpy as np

from .jit import jit
from .parallel import band_range, run_bands

UNKNOWN_FLOW = 1e9  # Middlebury marks unknown flow by |u| or |v| >= 1e9


@jit
def is_known(u, v):
    """False for NaN, infinite and Middlebury's unknown marker."""
    return abs(u) < UNKNOWN_FLOW and abs(v) < UNKNOWN_FLOW


@jit(inline="always")
def radius_of(u, v):
    """Length of (u, v); one function for the scale and the colour, so the longest vector
    compares equal to the scale and gets full saturation."""
    return math.sqrt(u * u + v * v)


@jit(inline="always")
def color_pixel(u, v, max_radius, wheel, out, n, y, x):
    """Write the RGB colour of flow ``(u, v)`` (float64) scaled by ``max_radius`` to ``out[n, y, x]``."""
    if not is_known(u, v):
        for b in range(3):
            out[n, y, x, b] = 0
        return
    radius = radius_of(u, v) / max_radius  # <= 1 exactly when radius_of(u, v) <= max_radius
    ncols = wheel.shape[0]
    # the angle of (u, v) equals that of the scaled (u, v) / max_radius used by computeColor
    fk = (math.atan2(-v, -u) / math.pi + 1.0) / 2.0 * (ncols - 1)
    k0 = int(fk)
    k1 = k0 + 1
    if k1 == ncols:
        k1 = 0
    f = fk - k0
    for b in range(3):
        col = (1.0 - f) * wheel[k0, b] + f * wheel[k1, b]
        if radius <= 1.0:
            col = 1.0 - radius * (1.0 - col)  # saturation grows with the radius
        else:
            col *= 0.75  # beyond the scale
        out[n, y, x, b] = np.uint8(int(255.0 * col))


@jit
def row_max_radius(flow, n, y):
    """The largest radius among the known pixels of row ``y`` of frame ``n`` (0 if none)."""
    largest = 0.0
    for x in range(flow.shape[2]):
        u = np.float64(flow[n, y, x, 0])
        v = np.float64(flow[n, y, x, 1])
        if is_known(u, v):
            largest = max(largest, radius_of(u, v))
    return largest


def max_radius_cpu(flow, row_max):
    """``row_max[n * H + y]`` = ``row_max_radius(flow, n, y)``."""
    run_bands(_max_radius_cpu_band, flow, row_max)


@jit
def _max_radius_cpu_band(flow, row_max, band, n_bands):
    """Work items ``band`` of ``n_bands`` of :func:`max_radius_cpu` (``parallel.run_bands``)."""
    n_frames, h = flow.shape[:2]
    start, stop = band_range(n_frames * h, band, n_bands)
    for row in range(start, stop):
        n = row // h
        row_max[row] = row_max_radius(flow, n, row - n * h)


def flow_to_color_cpu(flow, max_radius, wheel, out):
    """Colour ``flow`` (N, H, W, 2) into ``out`` (N, H, W, 3) uint8, frame n scaled by ``max_radius[n]``."""
    run_bands(_flow_to_color_cpu_band, flow, max_radius, wheel, out)


@jit
def _flow_to_color_cpu_band(flow, max_radius, wheel, out, band, n_bands):
    """Work items ``band`` of ``n_bands`` of :func:`flow_to_color_cpu` (``parallel.run_bands``)."""
    n_frames, h, w, _ = flow.shape
    start, stop = band_range(n_frames * h, band, n_bands)
    for row in range(start, stop):
        n = row // h
        y = row - n * h
        scale = max_radius[n]
        for x in range(w):
            color_pixel(np.float64(flow[n, y, x, 0]), np.float64(flow[n, y, x, 1]), scale, wheel, out, n, y, x)
