"""Filling holes in images (``flowkit.fill_holes``), e.g. those ``splat`` leaves."""

import numpy as np

from . import _validate
from ._backend import as_array, is_device_array, to_host, to_output
from ._warp import image_layout

METHODS = ("pyramid", "telea", "ns")
_INPAINT_RADIUS = 3  # pixels around a hole that cv2.inpaint considers
# cv2.inpaint sums weighted float32 values and extrapolates gradients: known values beyond this
# overflow to inf and NaN (seen at 1e38 next to values near 1)
_INPAINT_LIMIT = 2.0 ** 64
# dtype -> channel counts cv2.inpaint accepts (OpenCV 4 and 5)
_INPAINT_CHANNELS = {np.dtype(np.uint8): (1, 3), np.dtype(np.uint16): (1,),
                     np.dtype(np.float32): (1,)}


def fill_holes(image, mask, *, method="pyramid"):
    """Fill the pixels of ``image`` where ``mask`` is True from their surroundings.

    Parameters
    ----------
    image : array, (H, W), (H, W, C), (N, H, W) or (N, H, W, C)
        uint8, uint16, float16, float32 or float64 (``"pyramid"``; see below for the others).
        The values under the mask are ignored (they may be NaN, as ``splat`` leaves them).
        Every value outside the mask must be finite.
    mask : array of bool, (H, W) or (N, H, W)
        True where a pixel is to be filled. ``(H, W)`` applies to every image of a batch. A
        3-D image is read by the mask's shape, as ``warp`` reads it by the flow's: with an
        ``(N, H, W)`` mask an ``(N, H, W)`` image is a gray batch. Every image needs at
        least one known (False) pixel. A mask with the shape of an ``(H, W, C)`` image (C <= 4),
        such as ``np.isnan(splatted)``, is a ``ValueError``: give ``mask.any(axis=-1)``.
    method : {"pyramid", "telea", "ns"}
        * ``"pyramid"``: push-pull (Gortler et al. 1996): known values are averaged up an
          image pyramid, weighted by how much of each coarse pixel is known, and the
          estimates are pushed back down into the holes; smooth, any size of hole, any dtype
          and channel count, linear time.
        * ``"telea"``, ``"ns"``: ``cv2.inpaint`` with ``INPAINT_TELEA`` (A. Telea, "An image
          inpainting technique based on the fast marching method", 2004) or ``INPAINT_NS``
          (Bertalmio et al., Navier-Stokes, 2001), radius 3 px, with the values under the mask
          set to 0 (OpenCV reads some of them). Only what OpenCV
          accepts: uint8 with 1 or 3 channels, uint16 or float32 with 1 channel.

    Returns
    -------
    filled : array
        The image's shape and dtype; NumPy for NumPy input, CuPy for GPU input (the work is
        done on the CPU). Pixels outside the mask are the input's, bit for bit. Filled
        integer pixels are rounded (ties to even).

    Raises
    ------
    TypeError
        A mask that is not bool; an image dtype the method does not take.
    ValueError
        Unknown method; a mask whose shape does not match the image; an image with no
        known pixel (all True in its mask); NaN or inf outside the mask; a channel count
        ``cv2.inpaint`` does not take; with ``"telea"`` / ``"ns"``, values beyond +-2**64
        outside the mask (OpenCV's float32 sums overflow there).

    Notes
    -----
    ``"pyramid"`` computes in float32 (float64 for float64 images), filled values are convex
    combinations of known ones, so they stay in the known range (a hole in a linear ramp is
    filled close to the ramp, not exactly). Batches run one image per thread.

    Examples
    --------
    >>> import numpy as np, flowkit
    >>> image = np.tile(np.arange(8, dtype=np.float32), (8, 1))
    >>> mask = np.zeros((8, 8), bool)
    >>> mask[3:5, 3:5] = True
    >>> filled = flowkit.fill_holes(image, mask)
    >>> bool(np.all(filled[~mask] == image[~mask])), bool(np.abs(filled - image).max() < 0.5)
    (True, True)
    """
    image = as_array(image, "image", frames=True)
    mask = as_array(mask, "mask")
    _validate.check_image("image", image)
    _validate.check_choice("method", method, METHODS)
    _validate.check_array("mask", mask)
    if np.dtype(mask.dtype) != np.bool_:
        raise TypeError(f"mask: expected dtype bool, got {np.dtype(mask.dtype).name}")
    if (mask.ndim == 3 and tuple(mask.shape) == tuple(image.shape)
            and _validate.frames_layout(image) == (False, True)):
        # an (H, W, C) mask of an (H, W, C) image (np.isnan(splatted), say) would read the
        # image as a gray batch of H images of W x C and fill across the colour channels
        raise ValueError(f"mask: expected shape {tuple(image.shape[:2])}, one mask for all channels of "
                         f"the (H, W, C) image {tuple(image.shape)}, got {tuple(mask.shape)} "
                         "(use mask.any(axis=-1))")
    layout = image_layout(image, mask.shape) if mask.ndim in (2, 3) else None
    if layout is None or layout[2] != tuple(image.shape):
        raise ValueError(f"mask: expected shape (H, W) or (N, H, W) matching image of shape "
                         f"{tuple(image.shape)}, got {tuple(mask.shape)}")
    batched, has_channels, _ = layout
    gpu_input = is_device_array(image)
    img = _validate.to_nhwc(np.asarray(to_host(image)), batched, has_channels)
    holes = np.asarray(to_host(mask)).reshape((-1,) + img.shape[1:3])
    dtype = img.dtype
    if method != "pyramid":
        _check_inpaint(dtype, img.shape[3], method)
    full = holes.all(axis=(1, 2))
    if full.any():
        raise ValueError("mask: expected at least one False (known) pixel in every image, "
                         f"got all True (image {int(np.argmax(full))})")
    if dtype.kind == "f":
        finite = np.isfinite(img[..., 0])  # channel by channel: NumPy's all(axis=-1) over a
        for c in range(1, img.shape[3]):   # short last axis is ~10x slower
            finite &= np.isfinite(img[..., c])
        if (~finite & ~holes).any():
            raise ValueError("image: expected finite values outside the mask, got NaN or "
                             "infinity")
    if dtype.kind == "f" and method != "pyramid":  # the pyramid has no such limit
        peak = float(np.abs(np.where(holes[..., None], 0, img)).max(initial=0))
        if peak > _INPAINT_LIMIT:
            raise ValueError(f"image: expected values within +-{_INPAINT_LIMIT:.3g} outside the "
                             f"mask with method={method!r} (cv2.inpaint overflows float32 beyond), "
                             f"got {peak:.3g}; method='pyramid' takes any finite values")
    if method == "pyramid":
        compute = np.float64 if dtype == np.float64 else np.float32
        filled = _push_pull(np.ascontiguousarray(img, compute), holes)
        if dtype.kind == "u":
            filled = np.rint(filled)
    else:
        filled = _inpaint(img, holes, method)
    out = img.copy()
    shared = np.broadcast_to(holes, img.shape[:3])
    out[shared] = filled[shared].astype(dtype)
    return to_output(out.reshape(image.shape), gpu_input)


def _check_inpaint(dtype, channels, method):
    if dtype not in _INPAINT_CHANNELS:
        raise TypeError(f"image: expected dtype uint8, uint16 or float32 with method={method!r} "
                        f"(cv2.inpaint; method='pyramid' takes any), got {dtype.name}")
    allowed = _INPAINT_CHANNELS[dtype]
    if channels not in allowed:
        raise ValueError(f"image: expected {' or '.join(map(str, allowed))} channel(s) for "
                         f"{dtype.name} with method={method!r} (cv2.inpaint), got {channels}")


def _inpaint(img, holes, method):
    import cv2

    flag = cv2.INPAINT_TELEA if method == "telea" else cv2.INPAINT_NS
    out = np.empty_like(img)
    for n in range(img.shape[0]):
        hole = holes[n if holes.shape[0] > 1 else 0]
        frame = img[n]
        # cv2 reads some masked values (NaN or 1e38 there would spread): the documented
        # "values under the mask are ignored" holds only with them set to 0
        frame = np.where(hole[..., None], np.zeros((), img.dtype), frame)
        # a single row or column gives NaN or garbage in cv2.inpaint (OpenCV 5.0, seen in
        # about 1 call in 300 at random): such images are inpainted with a replicated row /
        # column on each side, which the result drops
        pad = ((int(frame.shape[0] == 1),) * 2, (int(frame.shape[1] == 1),) * 2)
        frame = np.pad(frame, pad + ((0, 0),), mode="edge")
        mask = np.pad(hole, pad, mode="edge").astype(np.uint8)
        result = cv2.inpaint(frame[..., 0] if img.shape[3] == 1 else frame, mask,
                             _INPAINT_RADIUS, flag)
        result = result[pad[0][0]:result.shape[0] - pad[0][1], pad[1][0]:result.shape[1] - pad[1][1]]
        out[n] = result.reshape(img.shape[1:])
    return out


def _push_pull(image, holes):
    """The ``"pyramid"`` fill of a C-contiguous float32 or float64 ``(N, H, W, C)`` host array
    where ``holes`` ``(N or 1, H, W)`` is True: every pixel written, the known ones unchanged."""
    from .kernels.fill import fill_cpu

    filled = np.empty_like(image)
    fill_cpu(image, np.ascontiguousarray(~holes), filled)
    return filled


def fill_float32(image, holes):
    """``fill_holes(image, holes)`` for an ``(H, W, C)`` float32 image (NumPy or device) whose
    pixels outside ``holes`` are finite, without its checks and copies: for internal callers
    that know their input (``predict``'s advected motion field)."""
    gpu_input = is_device_array(image)
    host = np.ascontiguousarray(to_host(image), np.float32)[None]
    return to_output(_push_pull(host, np.asarray(to_host(holes))[None])[0], gpu_input)
