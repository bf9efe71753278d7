"""Forward warping of images by a flow field (``flowkit.splat``)."""

import numpy as np

from . import _validate
from ._backend import (CUDA, array_module, as_array, device_array, host_array, is_device_array,
                       select_device, to_output)
from ._warp import warp_shapes
from .kernels.splat import MODES, softmax_terms


def splat(image, flow, *, mode="average", metric=None, return_weight=False, device=None):
    """Forward-warp (splat) an image by a flow field: ``out[y + v, x + u] ~ image[y, x]``.

    Each source pixel ``(x, y)`` is carried to ``(x + u, y + v)`` with ``(u, v) = flow[y, x]``
    and its value is spread over the four target pixels around that point with bilinear
    weights ``(1 - fx)(1 - fy)``, ``fx (1 - fy)``, ``(1 - fx) fy``, ``fx fy`` (``fx``, ``fy``
    the fractional parts of ``x + u``, ``y + v``). This is the opposite direction of
    :func:`flowkit.warp`: ``splat(frame0, flow)`` moves frame0 onto frame1's grid for a flow
    with ``frame0[y, x] ~ frame1[y + v, x + u]`` (docs/conventions.md).

    Parameters
    ----------
    image : array, (H, W), (H, W, C), (N, H, W) or (N, H, W, C)
        uint8, uint16, float16, float32 or float64; any number of channels. Layouts as in
        :func:`flowkit.warp`: a 3-D image is read by the flow's shape, a single flow applies
        to every image of a batch, and one image with a batch of flows gives one output per
        flow.
    flow : array, (H, W, 2) or (N, H, W, 2), float
        ``flow[..., 0] = u`` (x displacement), ``flow[..., 1] = v`` (y), in pixels. Unknown
        vectors (NaN, inf, or a component with ``|u| >= 1e9``) are dropped: their source pixel
        contributes nothing, so its target may become a hole. So are sources whose four taps
        all fall outside the image (their mass leaves the frame).
    mode : {"average", "sum", "softmax"}
        How the contributions landing on a target pixel combine:

        * ``"sum"``: the sum of weight * value (mass-conserving up to what leaves the frame;
          integer outputs saturate).
        * ``"average"``: that sum divided by the accumulated weight.
        * ``"softmax"``: every contribution's weight multiplied by ``exp(metric)`` of its
          source pixel, then normalised, so that where several sources land on one pixel the
          one with the largest metric wins (Niklaus and Liu's softmax splatting; e.g.
          ``metric = -alpha * |brightness-constancy error|`` or an inverse depth).
    metric : array, (H, W) or (N, H, W), float, required for (and only for) ``"softmax"``
        One value per source pixel, in any range and finite (NaN or inf is an error; drop a
        pixel by giving it unknown flow instead). ``(H, W)`` applies to every output,
        ``(N, H, W)`` gives one per output. Rounded to float32 unless the image is float64
        (so a metric near 1e4 is resolved to about 1e-3). Stable for any range: each image's
        maximum is subtracted first, and where the metric spans more than 16 the weights are
        also formed relative to the largest metric (in steps of 16) reaching each target
        pixel, so ``exp`` never overflows and a gap of any size (1e4, 1e30) neither
        overflows nor wipes out a back layer where nothing covers it. A source more than 112
        below the largest metric reaching a target may get weight 0 there (its share would
        be below e**-112, under float64 rounding).
    return_weight : bool
        Also return the accumulated bilinear weight (``0`` marks the holes).
    device : {None, "cpu", "cuda"}
        Where to run; None follows the inputs (NumPy: CPU, CuPy: CUDA).

    Returns
    -------
    splatted : array
        The image's dtype and shape (with a leading N when one image is splatted by a batch
        of flows). Holes, target pixels that no source reaches with a non-zero weight, are
        NaN for float images and 0 for integer images, in every mode. Integer results are
        rounded (ties to even) and saturated.
    weight : array, float32, flow.shape[:-1]
        Only with ``return_weight=True``: per target pixel the sum of the bilinear weights
        that reached it (the same in every mode; not multiplied by ``exp(metric)``); a flow
        shared by a batch gives one ``(H, W)`` weight.

    Raises
    ------
    ValueError
        Unknown ``mode``; ``metric`` missing for ``"softmax"`` or given for another mode, of
        the wrong shape, or with NaN or inf values; a flow that is not ``(..., 2)`` or does not
        match the image; an image that is not 2-D to 4-D, or empty; an unknown ``device``.
    TypeError
        An image dtype other than uint8, uint16, float16, float32, float64; a flow or metric
        that is not float; a non-bool ``return_weight``; a ``mode`` that is not a string;
        NumPy and GPU arrays mixed.

    Notes
    -----
    Sums are accumulated in float32 (float64 for float64 images; float16 images are computed
    as float32): 1e-5 of a [0, 1] value range against a float64 reference, 1e-12 for float64.
    Positions are split into integer part and fraction exactly, as in :func:`flowkit.warp`.
    NaN values in a float image spread to the targets their source reaches. The CPU result
    does not depend on the thread count: each thread owns a band of target rows and adds
    every target's contributions in raster order of the sources, so 1 and 8 threads give
    identical bits. The CUDA kernel adds with atomics, in an order that varies from run to
    run (agreement with the CPU: about 1e-7 relative, tested at 1e-4).

    Reference: S. Niklaus and F. Liu, "Softmax Splatting for Video Frame Interpolation",
    CVPR 2020.

    Examples
    --------
    >>> import numpy as np, flowkit
    >>> image = np.arange(4, dtype=np.float32).reshape(1, 4)
    >>> flow = np.zeros((1, 4, 2), np.float32)
    >>> flow[..., 0] = 1.0                      # everything one pixel to the right
    >>> flowkit.splat(image, flow)
    array([[nan,  0.,  1.,  2.]], dtype=float32)
    """
    image = as_array(image, "image", frames=True)
    flow = as_array(flow, "flow")
    _validate.check_image("image", image)
    _validate.check_flow("flow", flow)
    mode = _validate.check_choice("mode", mode, tuple(MODES))
    _validate.check_bool("return_weight", return_weight)
    out_shape, image4, flow4, out4 = warp_shapes(image, flow)
    h, w = flow4[1:3]
    if metric is not None:
        metric = as_array(metric, "metric")
    metric3 = _check_metric(metric, mode, out4[0], h, w)
    backend = select_device(device, image=image, flow=flow, metric=metric)

    dtype = np.dtype(image.dtype)
    compute = np.dtype(np.float64 if dtype == np.float64 else np.float32)
    int_max = _validate.intensity_range(dtype) if dtype.kind == "u" else 0.0
    out_dtype = np.dtype(np.float32) if dtype == np.float16 else dtype
    # per target: C sums, the normaliser and (softmax with return_weight) the bilinear weight,
    # which the other modes' normaliser is (kernels/splat.py)
    acc4 = out4[:3] + (out4[3] + (2 if mode == "softmax" and return_weight else 1),)
    if backend == CUDA:
        from numba import cuda

        from .kernels.splat_cuda import splat_cuda as run

        def prepare(array, dt, shape):
            return device_array(array, dt, shape)

        empty = cuda.device_array
        zeros = empty  # cleared by the driver
    else:
        from .kernels.splat import splat_cpu as run

        def prepare(array, dt, shape):
            return host_array(array, dt, shape)

        empty = np.empty
        zeros = np.empty  # cleared by the bands
    none = (0, h, w)
    levels = scales = None
    if mode == "softmax":
        xp, met = array_module(metric)
        levels, scales = softmax_terms(met.reshape(metric3).astype(compute, copy=False), xp)
    levels = empty(none, compute) if levels is None else prepare(levels, compute, None)
    scales = empty(none, compute) if scales is None else prepare(scales, compute, None)
    acc = zeros(acc4, compute)
    out = empty(out4, out_dtype)
    run(prepare(image, compute, image4), prepare(flow, compute, flow4), levels, scales,
        MODES[mode], acc, empty(out4[:3] if levels.shape[0] else none, compute), out, int_max)
    gpu_input = is_device_array(image)
    result = to_output(out, gpu_input).reshape(out_shape)
    if result.dtype != dtype:
        result = result.astype(dtype)
    if not return_weight:
        return result
    weight = to_output(acc, gpu_input)[:flow4[0], :, :, -1].astype(np.float32)
    return result, weight.reshape(flow.shape[:-1])


def _check_metric(metric, mode, n_out, h, w):
    """Check the metric against the mode and the output's (N, H, W); return the (Nm, H, W)
    shape the kernels see."""
    if mode != "softmax":
        if metric is not None:
            raise ValueError(f"metric: expected None with mode={mode!r} (only 'softmax' uses it), "
                             f"got {_validate.describe(metric)}")
        return None
    allowed = [(h, w), (n_out, h, w)]
    if metric is None:
        raise ValueError(f"metric: expected an array of shape {' or '.join(map(str, allowed))} "
                         "with mode='softmax', got None")
    _validate.check_array("metric", metric)
    if np.dtype(metric.dtype).type not in _validate.FLOW_DTYPES:
        raise TypeError("metric: expected a float dtype (float16, float32 or float64), "
                        f"got {np.dtype(metric.dtype).name}")
    if tuple(metric.shape) not in allowed:
        raise ValueError(f"metric: expected shape {' or '.join(map(str, allowed))} "
                         f"(one value per source pixel), got {tuple(metric.shape)}")
    _validate.check_finite("metric", metric)
    return (n_out if metric.ndim == 3 else 1, h, w)


def intensity_span(frame, other):
    """The two frames' joint intensity range, max - min over both (1 for flat frames), in
    their dtype's arithmetic: the unit of :func:`brightness_error` and of ``interpolate``'s
    agreement weights."""
    span = float(max(frame.max(), other.max()) - min(frame.min(), other.min()))
    return span if span > 0 else 1.0


def channel_sum(image):
    """The sum over the last axis of an ``(H, W, C)`` array, channel by channel in NumPy's
    order without its slow reduction over a short axis (a new array); an ``(H, W)`` array is
    returned as it is."""
    if image.ndim == 2:
        return image
    total = image[..., 0].copy()
    for c in range(1, image.shape[-1]):
        total += image[..., c]
    return total


def brightness_error(frame, other, flow):
    """Brightness-constancy error of each pixel of ``frame`` against ``other`` read back along
    ``flow``: the mean over channels of ``|frame - warp(other, flow)|``, in units of the two
    frames' joint intensity range (:func:`intensity_span`), so that it does
    not change when both frames go through the same ``a * I + b`` (floats in [0, 255] or
    low-contrast uint16 alike, as the estimators' ``normalize=True``); float32 ``(H, W)``.
    Softmax splatting's importance metric is a negative multiple of it (Niklaus and Liu 2020);
    used by ``predict`` and ``interpolate``. Of RGBA frames the RGB channels alone: alpha is
    carried along, not weighed (as the estimators ignore it)."""
    from ._warp import warp_linear

    if frame.ndim == 3 and frame.shape[-1] == 4:
        frame, other = frame[..., :3], other[..., :3]
    xp, _ = array_module(frame)
    a = frame.astype(np.float32, copy=False)
    b = other.astype(np.float32, copy=False)
    error = warp_linear(b, flow)  # |a - warp| / span, in place: each full-size temporary costs
    xp.subtract(error, a, out=error)
    xp.abs(error, out=error)
    xp.divide(error, np.float32(intensity_span(a, b)), out=error)
    if error.ndim == 3:  # the channel mean
        error = channel_sum(error) / np.float32(error.shape[-1])
    return error.astype(np.float32, copy=False)
