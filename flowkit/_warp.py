"""Backward warping of images by a flow field (``flowkit.warp``)."""

import numbers

import numpy as np

from . import _validate
from ._backend import (CUDA, array_module, as_array, device_array, host_array, is_device_array,
                       select_device, to_output)
from .kernels import interp


def image_layout(image, lead):
    """Read an image's layout from the leading shape ``lead``, ``(H, W)`` or ``(N, H, W)``, of
    a per-pixel companion (a flow's ``shape[:-1]``, a mask's shape).

    The companion decides the 3-D image question: ``(N, H, W)`` with an ``(N, H, W)`` lead is a
    gray batch; otherwise a 3-D image whose first two axes match ``(H, W)`` is ``(H, W, C)``,
    and one whose last two axes match a single ``(H, W)`` lead is a gray batch.

    Returns
    -------
    (batched, has_channels, out_shape), or None when image and lead do not match
        ``out_shape`` is the image's shape, with a leading N when one image meets an
        ``(N, H, W)`` lead (one output per companion).
    """
    ishape = tuple(image.shape)
    lead = tuple(lead)
    hw = lead[-2:]
    lead_batched = len(lead) == 3
    layout = None
    if image.ndim == 2 and ishape == hw:
        layout = (False, False)
    elif image.ndim == 3:
        if lead_batched and ishape == lead:
            layout = (True, False)
        elif ishape[:2] == hw:
            layout = (False, True)
        elif not lead_batched and ishape[1:] == hw:
            layout = (True, False)
    elif image.ndim == 4 and ishape[1:3] == hw and (not lead_batched or ishape[0] == lead[0]):
        layout = (True, True)
    if layout is None:
        return None
    batched, has_channels = layout
    if not batched and lead_batched:
        return batched, has_channels, (lead[0],) + ishape
    return batched, has_channels, ishape


def warp_shapes(image, flow):
    """Shapes of a warp or splat call: ``(out_shape, image4, flow4, out4)``, the output's shape and
    the ``(N, H, W, C)``, ``(N, H, W, 2)`` and ``(N, H, W, C)`` shapes the kernels see (N is 1
    for an image or flow shared by the batch). ``ValueError`` when they do not match."""
    layout = image_layout(image, flow.shape[:-1])
    if layout is None:
        raise ValueError(
            f"flow: expected shape (H, W, 2) or (N, H, W, 2) matching image of shape "
            f"{tuple(image.shape)} (image (H, W), (H, W, C), (N, H, W) or (N, H, W, C) with the "
            f"same H, W and N), got {tuple(flow.shape)}"
        )
    batched, has_channels, out_shape = layout
    h, w = flow.shape[-3:-1]
    image4 = ((image.shape[0] if batched else 1), h, w, (image.shape[-1] if has_channels else 1))
    flow4 = ((flow.shape[0] if flow.ndim == 4 else 1), h, w, 2)
    out4 = (image4[0] if batched else flow4[0], h, w, image4[3])
    return out_shape, image4, flow4, out4


def _check_border_value(border_value, dtype, channels=None):
    """A float, or (with ``channels``, for ``warp``) for a sequence of one value per channel
    (``cv2.remap``'s ``borderValue``) a tuple of floats (one float when they are all equal)."""
    per_channel = " or one per channel" if channels else ""
    if channels and (isinstance(border_value, (list, tuple)) or (
            hasattr(border_value, "ndim") and border_value.ndim == 1)):
        values = list(border_value)
        if len(values) != channels:
            raise ValueError(f"border_value: expected a number or {channels} (one per channel of "
                             f"image), got {len(values)} values {tuple(values)!r}")
        values = tuple(_check_border_value(v, dtype) for v in values)
        same = all(v == values[0] or (np.isnan(v) and np.isnan(values[0])) for v in values)
        return values[0] if same else values
    border_value = _validate.scalar(border_value)
    if isinstance(border_value, (bool, np.bool_)) or not isinstance(border_value, numbers.Real):
        raise TypeError(f"border_value: expected a real number{per_channel}, got "
                        f"{border_value!r}")
    value = float(border_value)
    if dtype.kind == "u" and not np.isfinite(value):
        raise ValueError(
            f"border_value: expected a finite number for {dtype.name} images, got {value}"
        )
    return value


def warp_linear(image, flow, device=None):
    """``warp(image, flow, device=device)`` (bilinear, replicated border) of one ``(H, W[, C])``
    image by one ``(H, W, 2)`` flow, for internal callers: float32 NumPy arrays on the CPU go
    through ``kernels.warp.warp_linear_cpu`` (the same values; the general driver, with its
    nearest, cubic, border, integer and mask paths, is not compiled for them), anything else
    through :func:`warp`. No checks: the caller's arrays are known to fit."""
    xp, _ = array_module(image)
    if (xp is not np or select_device(device, image=image) == CUDA or image.dtype != np.float32
            or flow.dtype != np.float32 or flow.ndim != 3 or image.ndim not in (2, 3)):
        return warp(image, flow, device=device)
    from .kernels.warp import warp_linear_cpu

    h, w = flow.shape[:2]
    src = np.ascontiguousarray(image).reshape(1, h, w, -1)
    out = np.empty(src.shape, np.float32)
    warp_linear_cpu(src, np.ascontiguousarray(flow).reshape(1, h, w, 2), out)
    return out.reshape(image.shape)


def warp(image, flow, *, interpolation="linear", border="replicate", border_value=0,
         return_mask=False, device=None):
    """Backward-warp an image by a flow field: ``out[y, x] = image[y + v, x + u]``.

    Parameters
    ----------
    image : array, (H, W), (H, W, C), (N, H, W) or (N, H, W, C)
        uint8, uint16, float16, float32 or float64. Any number of channels. A 3-D image is
        read by the flow's shape: with a ``(N, H, W, 2)`` flow a ``(N, H, W)`` image is a
        gray batch; otherwise a 3-D image whose first two axes are the flow's ``(H, W)`` is
        one ``(H, W, C)`` image, and one whose last two are is a gray batch sharing the flow.
    flow : array, (H, W, 2) or (N, H, W, 2), float
        ``flow[..., 0] = u`` (x displacement), ``flow[..., 1] = v`` (y), in pixels
        (see docs/conventions.md). A single flow applies to every image of a batch; a single
        image with a batch of flows gives one output per flow. Unknown vectors (NaN, or a
        component with ``|u| >= 1e9``) give ``border_value`` and a False mask.
    interpolation : {"linear", "nearest", "cubic"}
        Bilinear with exact floating-point weights (no 1/32-pixel quantisation, unlike
        ``cv2.remap``), nearest (ties to even, as ``cv2.remap``) or Keys' bicubic with
        a = -0.75 (OpenCV's ``INTER_CUBIC``).
    border : {"replicate", "constant", "reflect", "reflect101", "wrap"}
        How taps outside the image are read, with OpenCV's meanings (``BORDER_REPLICATE``,
        ``BORDER_CONSTANT``, ``BORDER_REFLECT``, ``BORDER_REFLECT_101``, ``BORDER_WRAP``).
    border_value : float or sequence of floats
        Value of the ``"constant"`` border and of unknown flow vectors, in image units
        (may be NaN for float images); or one value per channel, as ``cv2.remap``'s
        ``borderValue`` (e.g. ``(255, 0, 0)``: red; each channel is then warped with its
        own value).
    return_mask : bool
        Also return where the sample point ``(x + u, y + v)`` fell inside the image,
        ``0 <= x + u <= W - 1`` and ``0 <= y + v <= H - 1``.
    device : {None, "cpu", "cuda"}
        Where to run; None follows the inputs (NumPy: CPU, CuPy: CUDA).

    Returns
    -------
    warped : array
        Same dtype as ``image``; shape of ``image`` (with a leading N when a single image is
        warped by a batch of flows). Integer results are rounded (ties to even) and
        saturated.
    mask : array of bool, flow.shape[:-1]
        Only with ``return_mask=True``.

    Raises
    ------
    ValueError
        An image that is not 2-D to 4-D, or empty; a flow that is not ``(..., 2)``, empty, or
        does not match the image (both shapes named); unknown ``interpolation`` or
        ``border``; a non-finite ``border_value`` for an integer image, or a sequence whose
        length is not the image's channel count; an unknown ``device``.
    TypeError
        An image dtype other than uint8, uint16, float16, float32, float64; a flow that is
        not float; a ``border_value`` that is not a real number; a non-bool ``return_mask``;
        an ``interpolation`` or ``border`` that is not a string; NumPy and GPU arrays mixed.

    Notes
    -----
    The sample position is split into integer index and fraction before it is formed
    (``x + floor(u)``, ``u - floor(u)``), so float32 flows lose nothing to the size of
    ``x``. A float64 flow is rounded to float32 unless the image is float64. Weights and
    blends are float32 for uint8, float16 and float32 images (float16 is computed as
    float32) and float64 for uint16 and float64 images; pixels near the border and the
    CUDA kernel blend in float64. Agreement with a float64 reference: 1e-5 of the value
    range for float32, 1e-12 for float64.

    References: R. Keys, "Cubic convolution interpolation for digital image processing",
    IEEE Trans. ASSP 29(6), 1981 (``"cubic"``); OpenCV's ``cv2.remap`` for the border
    modes and the nearest-neighbour tie rule.

    Examples
    --------
    >>> import numpy as np, flowkit
    >>> image = np.arange(12, dtype=np.float32).reshape(3, 4)
    >>> flow = np.zeros((3, 4, 2), np.float32)
    >>> flow[..., 0] = 1.0                      # sample one pixel to the right
    >>> flowkit.warp(image, flow)[0]
    array([1., 2., 3., 3.], dtype=float32)
    """
    image = as_array(image, "image", frames=True)
    flow = as_array(flow, "flow")
    _validate.check_image("image", image)
    _validate.check_flow("flow", flow)
    interpolation = _validate.check_choice("interpolation", interpolation,
                                           tuple(interp.INTERPOLATIONS))
    border = _validate.check_choice("border", border, tuple(interp.BORDERS))
    dtype = np.dtype(image.dtype)
    _validate.check_bool("return_mask", return_mask)
    out_shape, image_shape, flow_shape, out4 = warp_shapes(image, flow)
    border_value = _check_border_value(border_value, dtype, image_shape[3])
    if isinstance(border_value, tuple):  # one warp per channel, each with its value
        xp, _ = array_module(image)
        options = dict(interpolation=interpolation, border=border, device=device)
        parts = [warp(image[..., c:c + 1], flow, border_value=v, return_mask=return_mask and not c,
                      **options) for c, v in enumerate(border_value)]
        if return_mask:
            mask, parts[0] = parts[0][1], parts[0][0]
        result = xp.concatenate(parts, axis=-1)
        return (result, mask) if return_mask else result
    backend = select_device(device, image=image, flow=flow)

    compute = np.dtype(np.float32) if dtype == np.float16 else dtype
    flow_dtype = np.float64 if dtype == np.float64 else np.float32
    h, w = flow_shape[1:3]
    args = (interp.INTERPOLATIONS[interpolation], interp.BORDERS[border], border_value,
            _validate.intensity_range(dtype) if dtype.kind == "u" else 0.0)  # 0: float output, no rounding
    if backend == CUDA:
        from numba import cuda

        from .kernels.warp_cuda import warp_cuda

        src = device_array(image, compute, image_shape)
        vec = device_array(flow, flow_dtype, flow_shape)
        out = cuda.device_array(out4, compute)
        mask = cuda.device_array(flow_shape[:3], np.bool_)
        warp_cuda(src, vec, out, mask, *args)
    else:
        from .kernels.warp import warp_cpu

        src = host_array(image, compute, image_shape)
        vec = host_array(flow, flow_dtype, flow_shape)
        out = np.empty(out4, compute)
        mask = np.empty(flow_shape[:3] if return_mask else (0, h, w), np.bool_)
        warp_cpu(src, vec, out, mask, *args)
    gpu_input = is_device_array(image)
    result = to_output(out, gpu_input)
    if compute != dtype:
        result = result.astype(dtype)
    result = result.reshape(out_shape)
    if not return_mask:
        return result
    return result, to_output(mask, gpu_input).reshape(flow.shape[:-1])
