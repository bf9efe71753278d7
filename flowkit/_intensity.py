"""Frames to the kernels' float32: channels, finiteness and intensity scale (docs/conventions.md,
"Intensity").

Every estimator calls :func:`prepare_frames` once, after validating its options and before any
kernel runs. It

* reads RGBA as RGB (the alpha channel is dropped) and rejects 2-channel frames;
* rejects NaN and infinite values (``min``/``max`` of a float array are NaN or infinite
  exactly when it holds such a value, so the check costs the reductions the stretch needs);
* with ``normalize=True`` stretches each pair jointly to [0, 1],
  ``(I - min) / (max - min)`` over both frames and all channels (per pair for batches), so the
  flow is the same for ``a * I + b`` with ``a > 0`` in any dtype. A flat pair (``max == min``)
  is only shifted to 0: no 0/0, and the kernels see all-zero frames;
* with ``normalize=False`` keeps OpenCV's / scikit-image's reading: integers over their dtype
  maximum, floats as they are (taken to be in [0, 1]);
* always hands back C-contiguous, writeable float32 arrays in the input's array library
  (NumPy, or CuPy for device input), so each kernel is compiled for float32 input only.

Cost: two reductions and at most two elementwise passes per frame (``subtract`` into a new
float32 buffer, ``multiply`` in place); with ``deferred_stretch`` a kernel that copies the
frames anyway applies the stretch in that copy, and only the reductions remain here.
"""

from typing import NamedTuple

import numpy as np

from ._backend import array_module, is_device_array, to_host
from ._validate import intensity_range

# stretch factors outside this range would overflow or underflow float32 on the way: such pairs
# are stretched in float64 and cast at the end
_SAFE_SPAN = (1e-30, 1e30)
# dtypes whose stretch a kernel can do in float32 exactly as prepare_frames does (float64 is
# shifted in float64 here; float16 has no Numba CPU arithmetic)
_DEFERRABLE = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32))


class Prepared(NamedTuple):
    """What :func:`prepare_frames` returns.

    frames : tuple of arrays
        float32 (integers as they are with ``keep_integers``), C-contiguous (NumPy arrays also
        writeable), in the given layout with the alpha channel dropped.
    gain : float
        Factor the kernel still applies to reach [0, 1] units: ``1 / dtype max`` where integer
        levels were kept as they are (``normalize=False, integer_levels=True``), else 1.
    span : ndarray (n,) float64
        Input intensity units per unit of the returned frames, per pair (``n = N`` for
        batches, 1 otherwise): ``max - min`` of a stretched pair (1 for a flat one), the dtype
        maximum for integers scaled to [0, 1] without stretching, else 1.
        None with ``deferred_range`` (the kernel reads the range).
    offset, factor : numpy.float32
        The stretch still to apply, ``(frame - offset) * factor`` in float32, where it was
        deferred to the kernel (``deferred_stretch``); 0 and 1 otherwise.
    """

    frames: tuple
    gain: float
    span: np.ndarray
    offset: np.float32 = np.float32(0.0)
    factor: np.float32 = np.float32(1.0)


def check_channels(name, array, has_channels):
    """Frames have 1, 3 or 4 channels (gray, RGB, RGBA); 2 is ambiguous and rejected, as are
    more than 4 (a 4-D batch ``(N, H, W, C)``; a 3-D array with a last axis longer than 4 is a
    gray batch, ``_validate.frames_layout``)."""
    if has_channels and array.shape[-1] not in (1, 3, 4):
        raise ValueError(
            f"{name}: expected 1, 3 or 4 channels (gray, RGB or RGBA; alpha is ignored), got "
            f"{array.shape[-1]} channels in shape {tuple(array.shape)}")


def _host_values(x, n):
    """A reduction result as a host float64 array of length ``n``."""
    return np.asarray(to_host(x) if is_device_array(x) else x, np.float64).reshape(n)


def prepare_frames(frames, names, *, normalize, batched, has_channels, integer_levels=False,
                   keep_integers=False, deferred_stretch=False, deferred_range=False):
    """Frames as float32 for the kernels (see the module docstring).

    Parameters
    ----------
    frames : tuple of arrays
        One frame (``good_features``) or the two frames of a pair (or two batches); same shape
        and dtype, already validated.
    names : tuple of str
        Parameter names for error messages, one per frame.
    normalize : bool
        Stretch jointly to [0, 1] (True) or keep the dtype's reading (False).
    batched, has_channels : bool
        Layout (``_validate.frames_layout``); a batch is stretched per pair (axis 0).
    integer_levels : bool
        With ``normalize=False``, give integer frames as their integer values in float32
        (exact) and report ``gain = 1 / dtype max`` for the kernel to apply, instead of scaling
        them here. Kernels that scale internally (Farneback, corners) or work on the 0..255
        scale (sparse Lucas-Kanade) use this to keep OpenCV's arithmetic.
    keep_integers : bool
        With ``normalize=False`` and ``integer_levels``, hand integer frames over in their own
        dtype (C-contiguous, alpha dropped) instead of float32. Only for sparse Lucas-Kanade:
        OpenCV rounds the pyramid levels of integer frames, its kernel does so for integer
        input only, and it copies level 0 into its float32 pyramid at once (so only that copy
        is compiled per dtype).
    deferred_stretch : bool
        With ``normalize=True``, one NumPy frame (not a batch) of uint8, uint16 or float32 and
        a span float32 can take: hand the frames over as they are (C-contiguous, alpha dropped)
        with ``offset`` and ``factor``, for a kernel that copies them anyway to apply
        ``(frame - offset) * factor`` in float32, the same two roundings as here (sparse
        Lucas-Kanade's level-0 pyramid copy). Other input is stretched here as usual.
    deferred_range : bool
        With ``normalize=True``, uint8 NumPy frames (always finite): skip the reductions too
        and hand the frames over as they are with ``span`` None, for a kernel that reads their
        minimum and maximum itself and needs nothing else from the stretch (sparse
        Lucas-Kanade tracks uint8 frames in their own levels and scales only its threshold).

    Returns
    -------
    Prepared
    """
    for name, frame in zip(names, frames):
        check_channels(name, frame, has_channels)
    converted = [array_module(f) for f in frames]
    xp = converted[0][0]
    arrays = [a for _, a in converted]
    if has_channels and arrays[0].shape[-1] == 4:  # RGBA: alpha is ignored
        arrays = [a[..., :3] for a in arrays]
    dtype = np.dtype(arrays[0].dtype)
    n = arrays[0].shape[0] if batched else 1
    axes = tuple(range(1, arrays[0].ndim)) if batched else None
    span = np.ones(n)

    if deferred_range and normalize and xp is np and dtype == np.uint8 and not batched:
        return Prepared(tuple(np.ascontiguousarray(a) for a in arrays), 1.0, None)
    lo = hi = None
    if normalize or dtype.kind == "f":
        lo = [_host_values(xp.min(a, axis=axes), n) for a in arrays]
        hi = [_host_values(xp.max(a, axis=axes), n) for a in arrays]
        for name, a, b in zip(names, lo, hi):
            if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
                what = "NaN" if np.any(np.isnan(a)) or np.any(np.isnan(b)) else "infinite values"
                raise ValueError(f"{name}: expected finite values, got {what}")

    if not normalize:
        if dtype.kind == "u" and not integer_levels:
            gain = np.float32(1.0 / intensity_range(dtype))
            out = tuple(xp.multiply(a, gain, dtype=np.float32) for a in arrays)
            return Prepared(out, 1.0, span * intensity_range(dtype))
        gain = 1.0 / intensity_range(dtype) if dtype.kind == "u" else 1.0
        if dtype.kind == "u" and keep_integers:
            return Prepared(tuple(xp.ascontiguousarray(a) for a in arrays), gain, span)
        out = tuple(_float32(xp, a) for a in arrays)
        return Prepared(out, gain, span)

    low = np.minimum.reduce(lo)
    with np.errstate(over="ignore"):  # max - min is inf for values near -max and +max,
        # 1 / span for a subnormal span: such pairs are wide, stretched below without them
        rng = np.maximum.reduce(hi) - low
        flat = rng == 0
        span = np.where(flat, 1.0, rng)
        scale = 1.0 / span
    shape = (n,) + (1,) * (arrays[0].ndim - 1) if batched else ()
    # tiny or huge spans would under- or overflow float32 on the way: stretch in float64
    wide = bool(np.any((span < _SAFE_SPAN[0]) | (span > _SAFE_SPAN[1])))
    halve = not np.all(np.isfinite(span))  # max - min above float64's maximum
    half_span = np.where(flat, 1.0, np.maximum.reduce(hi) * 0.5 - low * 0.5) if halve else span
    # float64 input is shifted in float64 (the result is rounded once, after the shift);
    # integers, float16 and float32 are exact in float32, and so is their minimum
    work = np.float64 if dtype == np.float64 else np.float32
    off = low.reshape(shape).astype(work) if batched else work(low[0])
    with np.errstate(over="ignore"):  # float32 holds the factor of the pairs not wide only
        fac = scale.reshape(shape).astype(np.float32) if batched else np.float32(scale[0])
    if deferred_stretch and not (batched or wide) and xp is np and dtype in _DEFERRABLE:
        return Prepared(tuple(np.ascontiguousarray(a) for a in arrays), 1.0, span, off, fac)
    if batched and xp is not np:
        off, fac = xp.asarray(off), xp.asarray(fac)
    out = []
    for a in arrays:
        buf = xp.empty(a.shape, np.float32)
        if wide:  # divided by the span: the factor 1 / span overflows float64 for a
            # subnormal span (a float64 pair within 5e-309), and inf * 0 made the flow NaN;
            # halved first where the span itself overflows (values near -max and +max)
            wspan = xp.asarray(half_span.reshape(shape)) if batched else half_span[0]
            if halve:
                xp.divide(xp.subtract(a * 0.5, off * 0.5, dtype=np.float64), wspan, out=buf)
            else:
                xp.divide(xp.subtract(a, off, dtype=np.float64), wspan, out=buf)
        else:
            xp.subtract(a, off, out=buf, dtype=work)
            if not np.all(flat):
                xp.multiply(buf, fac, out=buf)
        out.append(buf)
    return Prepared(tuple(out), 1.0, span)


def _float32(xp, array):
    """C-contiguous float32 (NumPy: also writeable, as Numba compiles read-only arrays apart)."""
    if xp is np:
        return np.require(array, np.float32, requirements=("C", "W"))
    return xp.ascontiguousarray(array, dtype=np.float32)
