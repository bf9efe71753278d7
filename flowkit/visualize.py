"""Flow visualisation with the Middlebury colour wheel."""

import numpy as np

from ._backend import (CUDA, as_array, device_array, host_array, is_device_array, select_device, to_host,
                       to_output)
from ._validate import check_flow, check_float

__all__ = ["flow_to_color"]

# hues per segment of the Middlebury wheel: red-yellow, yellow-green, green-cyan,
# cyan-blue, blue-magenta, magenta-red
_SEGMENTS = (15, 6, 4, 11, 13, 6)


def _color_wheel():
    """(55, 3) float64 RGB in [0, 1], built with the integer arithmetic of colorcode.cpp."""
    ry, yg, gc, cb, bm, mr = _SEGMENTS
    rows = []
    rows += [(255, 255 * i // ry, 0) for i in range(ry)]
    rows += [(255 - 255 * i // yg, 255, 0) for i in range(yg)]
    rows += [(0, 255, 255 * i // gc) for i in range(gc)]
    rows += [(0, 255 - 255 * i // cb, 255) for i in range(cb)]
    rows += [(255 * i // bm, 0, 255) for i in range(bm)]
    rows += [(255, 0, 255 - 255 * i // mr) for i in range(mr)]
    return np.array(rows, np.float64) / 255.0


_WHEEL = _color_wheel()


def flow_to_color(flow, *, max_flow=None, device=None):
    """Colour-code flow with the Middlebury colour wheel.

    Hue gives the direction, saturation the magnitude: zero flow is white and flow of
    radius ``max_flow`` is the fully saturated wheel colour. Flow longer than ``max_flow``
    is drawn with the wheel colour darkened to 75 %. Unknown flow (NaN, infinite, or
    ``|u|`` or ``|v| >= 1e9``) is black. With flowkit's convention (``frame0[y, x] ~
    frame1[y + v, x + u]``, y pointing down), motion to the right (+u) is red, down (+v)
    yellow, left (-u) cyan-blue and up (-v) blue-violet.

    Parameters
    ----------
    flow : array_like, (H, W, 2) or (N, H, W, 2) float
        u then v in pixels; NumPy, or CuPy / ``__cuda_array_interface__`` arrays.
    max_flow : float, optional
        Radius, in pixels, drawn at full saturation. Default: the largest radius among the
        known pixels of each frame (1 if all are zero), as in Middlebury's ``color_flow``.
        Give a fixed value to compare several fields or the frames of a video.
    device : {None, "cpu", "cuda"}
        Where to compute; None follows ``flow`` (NumPy -> CPU, GPU array -> CUDA).

    Returns
    -------
    ndarray, (H, W, 3) or (N, H, W, 3) uint8
        RGB image(s); the array type of ``flow`` (NumPy in, NumPy out; CuPy in, CuPy out).

    Raises
    ------
    ValueError, TypeError
        ``flow`` is not a float ``(..., H, W, 2)`` array, ``max_flow`` is not > 0, or
        ``device`` is not None, "cpu" or "cuda".
    ImportError, RuntimeError
        ``device="cuda"`` without numba-cuda or a GPU (the message says what to install).

    Notes
    -----
    For each pixel with radius ``r = |f| / max_flow`` and angle
    ``a = atan2(-v, -u) / pi``, the wheel position ``(a + 1) / 2 * 54`` is interpolated
    linearly between the 55 wheel colours; each channel ``c`` then becomes
    ``1 - r * (1 - c)`` for ``r <= 1`` and ``0.75 * c`` otherwise, and is stored as
    ``floor(255 * c)`` (Middlebury ``computeColor``). Each pixel is computed in float64 by
    a Numba kernel: parallel on the CPU (``flowkit.set_num_threads`` applies) or one CUDA
    thread per pixel; both run the same per-pixel function.

    References
    ----------
    S. Baker et al., "A Database and Evaluation Methodology for Optical Flow", IJCV 92(1),
    2011; ``colorcode.cpp`` of the Middlebury flow-code.

    Examples
    --------
    >>> flow = np.zeros((2, 2, 2), np.float32)
    >>> flow[0, 0] = (1, 0)  # +u: red
    >>> flow_to_color(flow)[0, 0]
    array([255,   0,   0], dtype=uint8)
    """
    flow = as_array(flow, "flow")
    check_flow("flow", flow)
    if max_flow is not None:
        max_flow = check_float("max_flow", max_flow, low=0, low_open=True)
    backend = select_device(device, flow=flow)
    compute = np.dtype(np.float64 if flow.dtype == np.float64 else np.float32)
    batch_shape = (-1,) + tuple(flow.shape[-3:])
    if backend == CUDA:
        from numba import cuda

        from .kernels.flow_color_cuda import flow_to_color_cuda as color, max_radius_cuda as max_radius

        batch = device_array(flow, compute, batch_shape)
        row_max = cuda.device_array(batch.shape[0] * batch.shape[1], np.float64)
        out = cuda.device_array(batch.shape[:-1] + (3,), np.uint8)
        wheel = cuda.to_device(_WHEEL)
    else:
        from .kernels.flow_color import flow_to_color_cpu as color, max_radius_cpu as max_radius

        batch = host_array(flow, compute, batch_shape)
        row_max = np.empty(batch.shape[0] * batch.shape[1])
        out = np.empty(batch.shape[:-1] + (3,), np.uint8)
        wheel = _WHEEL
    if max_flow is None:
        max_radius(batch, row_max)  # per row on the device, per frame here: N * H numbers
        radius = to_host(row_max).reshape(batch.shape[:2]).max(axis=1)
        radius[radius == 0] = 1.0  # all zero or unknown: any scale gives white or black
    else:
        radius = np.full(batch.shape[0], max_flow)
    if backend == CUDA:
        radius = cuda.to_device(radius)
    color(batch, radius, wheel, out)
    return to_output(out, is_device_array(flow)).reshape(tuple(flow.shape[:-1]) + (3,))
