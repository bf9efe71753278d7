"""Video prediction by optical flow (``flowkit.predict``): motion from the context frames,
optional smoothing, then extrapolation of the last frame (``flowkit.extrapolate``) or the
literal re-estimation recursion."""

import collections
import contextlib
import logging
import numbers

import numpy as np

from . import _validate
from ._backend import (array_module, as_array, check_device, is_device_array, kept_copy,
                       select_device, to_output)
from ._estimators import get_estimator, list_estimators
from ._intensity import check_channels
from ._retime import DEFAULT_SCENE_THRESHOLD, last_scene_cut

SCHEMES = ("semi-lagrangian", "forward", "reestimate")
METHODS = ("flow", "gan")
AVERAGES = ("median", "mean")
AUTO = "auto"
_AUTO_FRAMES = 4  # context="auto": the newest pair, or the motion averaged over the last 3 pairs
_N_ITER = 1  # predict's default n_iter: one midpoint step per frame
# predict's defaults (docs/prediction.md, "The defaults"): DIS's flow of the newest pair, carried
# with the moving content, the mean over a speed uncertainty of 10 %; the last two are the
# semi-Lagrangian scheme's (None: 0 and False with the other schemes)
DEFAULT_FLOW = "dis"
DEFAULT_SPEED_SPREAD = 0.1
DEFAULT_ADVECT_FLOW = True
# Niklaus and Liu's brightness-constancy importance metric for softmax splatting:
# -20 * |I_last - backwarp(I_previous)| in units of the pair's intensity range, clipped to
# [-20, 20] (_splat.brightness_error)
_METRIC_SCALE = 20.0
_log = logging.getLogger(__name__)  # context="auto" logs its choice at INFO (the CLI reports it)


def video_pix_fmt(dst, codec, info):
    """The pixel format of a video of predicted frames (RGB, 16-bit for more than 8 bits) at
    ``dst`` (``codec``: None for the extension's default) from the video ``info`` describes
    (``flowkit predict``, ``flowkit.batch``'s predict job): the input's where the encoder takes
    it (4:4:4, 10-bit, ...: ``_retime._output_format``, as ``translate`` chooses it), else the
    encoder's default at the input's depth; None (the default, planar RGB) for FFV1, which
    holds the predicted RGB frames exactly (docs/api.md: an RGB FFV1 ``.mkv``)."""
    from ._retime import _output_format
    from .video import writer_codec

    codec = writer_codec(dst, codec)
    if codec == "ffv1":
        return None
    return _output_format(codec, info, info.read_depth)


def _as_frames(frames, keep=None, times=None):
    """``(frames, times)``: the clip as one array. Of an iterable that is no list, tuple or
    array (``flowkit.iter_frames``), only the last ``keep`` frames are held while it is read
    (all with ``keep=None``), and ``times``, one per frame read, is cut to them."""
    if not (hasattr(frames, "shape") or hasattr(frames, "__array__") or isinstance(
            frames, (list, tuple, str, bytes))) and hasattr(frames, "__iter__"):
        kept = collections.deque(maxlen=keep)
        count = 0
        for frame in frames:
            # the iterable may refill frame's buffer
            kept.append(kept_copy(frame, f"frames[{count}]"))
            count += 1
        frames = list(kept)
        if times is not None and hasattr(times, "__len__") and not isinstance(times, (str, bytes)):
            if len(times) != count:
                raise ValueError(f"times: expected {count} numbers (one per frame read from "
                                 f"frames), got {len(times)}")
            times = list(times)[count - len(frames):]
    if isinstance(frames, (list, tuple)):
        if not frames:
            raise ValueError("frames: expected at least two frames, got an empty sequence")
        arrays = [as_array(f, f"frames[{i}]", frames=True) for i, f in enumerate(frames)]
        for i, a in enumerate(arrays):
            _validate.check_image(f"frames[{i}]", a, ndims=(2, 3))
            if i:
                _validate.check_same_shape("frames[0]", arrays[0], f"frames[{i}]", a)
                _validate.check_same_dtype("frames[0]", arrays[0], f"frames[{i}]", a)
        xp, _ = array_module(arrays[0])
        return xp.stack(arrays), times
    _validate.check_not_scalar("frames", frames)  # None: not a "0-D array" error
    frames = as_array(frames, "frames", clips=True)
    _validate.check_image("frames", frames, ndims=(3, 4, 5))
    return frames, times


def _motion(context, estimate, average, gaps):
    """Motion per step on the last frame's grid from the context frames (oldest first),
    ``gaps[i]`` steps apart between frames ``i`` and ``i + 1``.

    The newest pair gives ``-estimate(last, previous) / gap``. Each older pair's flow is read
    at the point its trajectory reached (flows chained backwards through time, bilinear), so
    all K - 1 estimates describe the pixels of the last frame; they are then averaged.
    Returns the motion and the newest pair's flow itself (``backward``).
    """
    from ._warp import warp_linear

    xp, _ = array_module(context[-1])
    backward = estimate(context[-1], context[-2])
    estimates = [-backward if gaps[-1] == 1 else backward / -gaps[-1]]
    reached = backward
    for j in range(2, len(context)):
        older = warp_linear(estimate(context[-j], context[-j - 1]), reached)
        estimates.append(-older if gaps[-j] == 1 else older / -gaps[-j])
        reached = reached + older
    if len(estimates) == 1:
        return estimates[0].astype(np.float32), backward
    if average == "median":
        combined = _median(estimates, xp)
    else:
        combined = xp.stack(estimates).mean(axis=0)
    return combined.astype(np.float32), backward


def _median(arrays, xp):
    """The element-wise median of same-shaped float arrays, as ``xp.median`` of their stack
    along its first axis gives it (NaN wherever one of them is NaN). Of two or three arrays
    by sums, minima and maxima: 1280x720 flows, NumPy, 1 ms for two and 2.6 ms for three
    against 48 and 61 ms for the median of the stack (it partitions); the same values (a
    zero's sign may differ)."""
    if len(arrays) == 2:
        a, b = arrays
        return (a + b) / np.float32(2)  # NumPy's median of two: their mean, in their dtype
    if len(arrays) == 3:
        a, b, c = arrays
        low, high = xp.minimum(a, b), xp.maximum(a, b)
        xp.minimum(high, c, out=high)  # the median is the larger of min(a, b), min(max(a, b), c)
        return xp.maximum(low, high, out=low)
    return xp.median(xp.stack(arrays), axis=0)


def _smoothed(motion, smooth, guide):
    from ._smooth import smooth_flow

    if smooth is None:
        return motion
    options = dict(smooth)
    if options.get("method") == "bilateral" and "guide" not in options:
        options["guide"] = guide
    return smooth_flow(motion, **options)


def _metric(last, previous, backward):
    """Softmax-splatting importance of each pixel of ``last``: -20 times its mean absolute
    brightness-constancy error (in units of the pair's intensity range), clipped to
    [-20, 20]."""
    from ._splat import brightness_error

    xp, _ = array_module(last)
    error = brightness_error(last, previous, backward)
    return xp.clip(-_METRIC_SCALE * error, -_METRIC_SCALE, _METRIC_SCALE).astype(np.float32)


def _extrapolated(last, previous, motion, backward, horizon, scheme, n_iter, speed_spread,
                  advect_flow, device):
    """``last`` carried ``horizon`` steps along ``motion`` by ``extrapolate``; the forward
    scheme weighs its splatting by the newest pair's brightness-constancy error along
    ``backward`` (the flow from ``last`` to ``previous``)."""
    from ._extrapolate import extrapolate

    if scheme == "semi-lagrangian" and advect_flow:
        metric = _metric(last, previous, backward)
        return _speed_mean(last, _advected_displacements(motion, metric, horizon, device),
                           speed_spread, device)
    if scheme == "semi-lagrangian" and speed_spread:  # the trajectories; _speed_mean samples
        from ._extrapolate import trajectories

        disp = trajectories(motion, horizon, n_iter, select_device(device, flow=motion))[0]
        return _speed_mean(last, to_output(disp, is_device_array(motion))[0], speed_spread, device)
    if scheme == "semi-lagrangian":  # unknown trajectories: NaN for float frames, as _speed_mean
        hole = np.nan if np.dtype(last.dtype).kind == "f" else 0
        return extrapolate(last, motion, horizon, n_iter=n_iter, border_value=hole, device=device)
    return extrapolate(last, motion, horizon, scheme="forward",
                       metric=_metric(last, previous, backward), device=device)


# Three-point Gauss-Hermite rule for a standard normal variable: nodes and weights
_SPEED_NODES = ((-np.sqrt(3.0), 1.0 / 6.0), (0.0, 2.0 / 3.0), (np.sqrt(3.0), 1.0 / 6.0))


def _speed_mean(last, displacement, speed_spread, device):
    """The expected frame when each trajectory's speed is ``1 + speed_spread * z`` times the
    estimate, ``z`` standard normal: ``sum_i w_i warp(last, (1 + speed_spread * z_i) D_k)``
    over the Gauss-Hermite nodes, in float32, then the input's dtype (one warp by ``D_k``
    for a spread of 0). On the CPU one pass per row (``kernels.advect.speed_mean_cpu``:
    2.3x faster than the warps and NumPy's sums at 1280x720 on one thread, and on every
    thread), on the GPU :func:`_speed_mean_by_warps`: the same values. Where ``displacement``
    is NaN (an unknown trajectory) the frame is NaN for float frames (the warps' 0 there would
    pass for data: 0 K in kelvin), 0 for integer ones."""
    xp, _ = array_module(last)
    frames = _speed_mean_known(last, displacement, speed_spread, device)
    if np.dtype(last.dtype).kind == "f":
        frames[xp.isnan(displacement).any(axis=-1)] = np.nan
    return frames


def _speed_mean_known(last, displacement, speed_spread, device):
    """:func:`_speed_mean`'s frames, with the warps' 0 where ``displacement`` is unknown."""
    xp, _ = array_module(last)
    nodes = _SPEED_NODES if speed_spread else ((0.0, 1.0),)
    scales = np.array([1.0 + speed_spread * node for node, _ in nodes], np.float32)
    weights = np.array([weight for _, weight in nodes], np.float32)
    dtype = np.dtype(last.dtype)
    image = last.astype(np.float32)
    if xp is not np:
        return _speed_mean_by_warps(image, displacement, scales, weights, dtype, device)
    from .kernels.advect import speed_mean_cpu

    image4 = np.ascontiguousarray(image.reshape(image.shape[:2] + (-1,))[None])
    out = np.empty(displacement.shape[:3] + image4.shape[3:], dtype if dtype.kind == "u" else np.float32)
    speed_mean_cpu(image4, np.ascontiguousarray(displacement, np.float32), scales, weights, out,
                   float(np.iinfo(dtype).max) if dtype.kind == "u" else 0.0)
    out = out.reshape(displacement.shape[:1] + last.shape)
    return out if dtype.kind == "u" else out.astype(dtype, copy=False)  # rounded already


def _speed_mean_by_warps(image, displacement, scales, weights, dtype, device):
    """:func:`_speed_mean` by ``flowkit.warp`` calls and array sums (NumPy or CuPy): float32
    ``image``, the nodes' float32 ``scales`` and ``weights``, the output ``dtype``."""
    from ._interpolate import _to_dtype
    from ._warp import warp

    xp, _ = array_module(image)
    frames = []
    for step in displacement:
        mean = None
        for scale, weight in zip(scales, weights):  # accumulated in place, in the order of the nodes
            term = weight * warp(image, step * scale, device=device)
            mean = term if mean is None else xp.add(mean, term, out=mean)
        frames.append(_to_dtype(mean, dtype))
    return xp.stack(frames)


def _advected_displacements(motion, metric, horizon, device):
    """Backward displacements ``D_k`` ``(horizon, H, W, 2)`` when every pixel keeps its own
    velocity: the field (with its softmax metric) is splatted forward by itself once per
    step, holes filled by push-pull, so that ``a_k(x)`` is the velocity of the content
    arriving at ``x`` at step k; then ``D_k(x) = -a_k(x) + D_{k-1}(x - a_k(x))``."""
    from ._warp import warp_linear

    xp, _ = array_module(motion)
    carried = xp.concatenate([motion, metric[..., None]], axis=-1).astype(np.float32, copy=False)
    steps = xp.empty((horizon,) + motion.shape, np.float32)  # written in place: no stack
    for k in range(horizon):
        carried = _carried_once(carried, device)
        if carried is None:  # nothing known to carry (an all-NaN motion): every trajectory unknown
            return xp.full((horizon,) + motion.shape, np.nan, np.float32)
        back = xp.negative(carried[..., :2], out=steps[k])  # D_0 = 0, so D_1 = -a_1
        if k:
            xp.add(warp_linear(steps[k - 1], back, device=device), back, out=steps[k])
    return steps


def _carried_once(carried, device):
    """One step of :func:`_advected_displacements`: the field ``carried`` ``(H, W, 3)`` (the
    velocity and its softmax metric) splatted forward by its velocity, holes filled by
    push-pull; None where nothing lands. A function of its own, so that the splat and its
    weight are dropped before the next step splats (they were held through it: 1.3 times a
    float32 RGB frame's bytes)."""
    from ._fill import fill_float32
    from ._splat import splat

    arrived, weight = splat(carried, carried[..., :2], mode="softmax", metric=carried[..., 2],
                            return_weight=True, device=device)
    holes = ~(weight > 0)
    if bool(holes.all()):
        return None
    return fill_float32(arrived, holes)  # the holes' NaN are not read


def _memoized(estimate):
    """``estimate`` remembering its flows by the identity of the two frames (it keeps them
    alive, so an identity is never reused for another frame)."""
    flows = {}

    def cached(frame0, frame1):
        key = (id(frame0), id(frame1))
        if key not in flows:
            flows[key] = (frame0, frame1, estimate(frame0, frame1))
        return flows[key][2]

    return cached


def _auto_context(clip, estimate, average, smooth, scheme, n_iter, speed_spread, advect_flow,
                  device, gaps):
    """``context="auto"``: 2, or 4 when the clip holds 4 frames and the last of them is
    predicted better (lower mean squared error) from the three before it with the motion of
    their two pairs combined by ``average`` than with the newest pair's alone (a hindcast,
    the same scheme and options, one step of the last gap). Returns the context, the last
    ``context - 1`` gaps and ``estimate`` memoized, so that no pair's flow is computed twice."""
    if len(clip) < _AUTO_FRAMES:
        return 2, gaps[-1:], estimate
    estimate = _memoized(estimate)
    before = clip[-_AUTO_FRAMES:-1]
    steps = [g / gaps[-1] for g in gaps[-_AUTO_FRAMES + 1:-1]]  # the last gap is one step
    errors = [_hindcast_error(before, clip[-1], estimate, context, average, smooth, scheme, n_iter,
                              speed_spread, advect_flow, device, steps[-(context - 1):])
              for context in (2, 3)]
    context = _AUTO_FRAMES if errors[1] < errors[0] else 2  # NaN (holes): the newest pair
    _log.info("context='auto' chose %d: hindcast mean squared error %.6g with the newest pair, "
              "%.6g with two pairs combined", context, errors[0], errors[1],
              extra={"context": context})
    return context, gaps[-(context - 1):], estimate


def _hindcast_error(before, last, estimate, context, average, smooth, scheme, n_iter,
                    speed_spread, advect_flow, device, steps):
    """The mean squared error of ``last`` predicted one step from the frames ``before`` with
    ``context``, for :func:`_auto_context`: averaged in float32 in units of ``last``'s range
    (so that fields of order 1e19 and more do not overflow to inf), returned in the frames'
    units. A function of its own, so that neither the float32 copy of ``last`` nor a
    hindcast is held while another hindcast is made."""
    from ._splat import intensity_span

    xp, _ = array_module(last)
    hindcast = _predict_clip(before, 1, estimate, context, average, smooth, scheme, n_iter,
                             speed_spread, advect_flow, device, steps)[0]
    span = intensity_span(last, last)
    error = hindcast[0].astype(np.float32) - last.astype(np.float32)
    error /= np.float32(span)
    return float(xp.mean(error * error)) * span ** 2


def _predict_clip(clip, horizon, estimate, context, average, smooth, scheme, n_iter, speed_spread,
                  advect_flow, device, gaps):
    from ._warp import warp

    if context == AUTO:
        clip = list(clip)  # one object per frame, for the memoized estimator
        context, gaps, estimate = _auto_context(clip, estimate, average, smooth, scheme, n_iter,
                                                speed_spread, advect_flow, device, gaps)
    window = list(clip[-context:])
    motion, backward = _motion(window, estimate, average, gaps)
    motion = _smoothed(motion, smooth, window[-1])
    if scheme != "reestimate":
        del estimate  # and with it the flows _auto_context's memo holds, one per pair
        return _extrapolated(window[-1], window[-2], motion, backward, horizon, scheme, n_iter,
                             speed_spread, advect_flow, device), motion
    xp, _ = array_module(window[-1])
    first_motion = motion
    predictions = []
    for step in range(horizon):
        if step:  # the predicted frames are one step apart
            window = window[1:] + [predictions[-1]]
            gaps = gaps[1:] + [1]
            motion = _smoothed(_motion(window, estimate, average, gaps)[0], smooth, window[-1])
        predictions.append(warp(window[-1], -motion))
    return xp.stack(predictions), first_motion


@contextlib.contextmanager
def _too_small_named(flow, note=""):
    """The estimator's ``FramesTooSmall`` (naming ``frame0``) for frames the caller passed as
    ``frames``, naming ``flow`` and what works on smaller frames, and ending with ``note``
    (``_validate.read_as_batch`` of the frames) where the frames were read as gray clips."""
    try:
        yield
    except _validate.FramesTooSmall as exc:
        if not isinstance(flow, str):
            if not note:
                raise
            raise _validate.FramesTooSmall(exc.parameter, exc.need, exc.hint + note) from exc
        raise _validate.FramesTooSmall("frames", exc.need, f" for flow={flow!r}; flow='lucas_kanade' "
                                       f"works on frames of any size{note}") from exc


def check_options(horizon, *, context, n_iter, scheme, average, return_flow, method, flow=None,
                  flow_options=None, speed_spread=None, advect_flow=None, scene_threshold=None,
                  device=None, model=None, **_):
    """predict's options checked as predict checks them, without frames (``flowkit.batch``
    runs this on the client with predict's defaults): ``(horizon, context, n_iter, scheme,
    average, method, speed_spread, advect_flow)``, ``speed_spread`` and ``advect_flow``
    resolved from None to the scheme's defaults; an estimator name ``flow`` is looked up with
    its ``flow_options``; ``scene_threshold`` and ``device`` are checked, and that ``model``
    is None with ``method="flow"`` (predict loads the ``"gan"`` model itself)."""
    from .models.adapters import list_adapters

    horizon = _validate.check_int("horizon", horizon, min_value=1)
    check_device(device)  # before it is passed on as a named estimator's flow_options['device']
    if scene_threshold is not None:
        _validate.check_float("scene_threshold", scene_threshold, low=0, high=100, low_open=True)
    if isinstance(context, str):
        if context != AUTO:
            raise ValueError(f"context: expected an integer >= 2 or {AUTO!r}, got {context!r}")
    else:
        if isinstance(context, bool) or not isinstance(context, numbers.Integral):
            raise TypeError(f"context: expected an integer >= 2 or {AUTO!r}, got "
                            f"{_validate.describe(context)}")
        context = _validate.check_int("context", context, min_value=2)
    n_iter = _validate.check_int("n_iter", n_iter, min_value=0)
    scheme = _validate.check_choice("scheme", scheme, SCHEMES)
    average = _validate.check_choice("average", average, AVERAGES)
    _validate.check_bool("return_flow", return_flow)
    method = _validate.check_choice("method", method, METHODS + tuple(list_adapters("predictor")))
    if method == "flow" and model is not None:
        raise ValueError(f"model: expected None unless method='gan', got "
                         f"{_validate.describe(model)} with method={method!r}")
    semi_lagrangian = scheme == "semi-lagrangian"
    default_advect = advect_flow is None
    if speed_spread is None:
        speed_spread = DEFAULT_SPEED_SPREAD if semi_lagrangian else 0.0
    if advect_flow is None:
        advect_flow = DEFAULT_ADVECT_FLOW and semi_lagrangian
    speed_spread = _validate.check_float("speed_spread", speed_spread, low=0.0, high=0.5)
    if n_iter != _N_ITER and not semi_lagrangian:  # its default (1) is no request
        raise ValueError(f"n_iter: only for scheme='semi-lagrangian' (its trajectories), got "
                         f"n_iter={n_iter} with scheme={scheme!r}")
    if speed_spread and not semi_lagrangian:
        raise ValueError(f"speed_spread: only for scheme='semi-lagrangian', got {speed_spread} with "
                         f"scheme={scheme!r}")
    advect_flow = _validate.check_bool("advect_flow", advect_flow)
    if advect_flow and not semi_lagrangian:
        raise ValueError(f"advect_flow: only for scheme='semi-lagrangian', got True with scheme={scheme!r}")
    if advect_flow and n_iter != _N_ITER:  # predict's default (1) is no request: it is accepted
        hint = ", the default: pass advect_flow=False to trace a held field" if default_advect else ""
        raise ValueError(f"n_iter: does not apply with advect_flow=True (its trajectories take one "
                         f"step per frame through the carried velocities{hint}), got n_iter={n_iter}")
    if isinstance(flow, str):
        get_estimator(flow, flow_options)
    return horizon, context, n_iter, scheme, average, method, speed_spread, advect_flow


def predict(frames, horizon, *, flow=DEFAULT_FLOW, flow_options=None, context=AUTO, average="median",
            smooth=None, scheme="semi-lagrangian", n_iter=_N_ITER, speed_spread=None,
            advect_flow=None, return_flow=False, device=None, method="flow", model=None,
            times=None, scene_threshold=DEFAULT_SCENE_THRESHOLD):
    """Predict the frames that follow a clip, from its optical flow.

    The motion of the last frame is estimated from the last ``context`` frames, optionally
    smoothed, and the last frame is carried forward ``horizon`` steps along it. The defaults
    (DIS flow of the newest pair; semi-Lagrangian trajectories through the motion carried
    with the moving content, ``advect_flow``; the mean over a 10 % speed uncertainty,
    ``speed_spread``) were chosen on docs/prediction.md's three sets, where they score above
    the re-estimating recursion on RubberWhale at every horizon; see there for the sets where
    they do not.

    Parameters
    ----------
    frames : array, sequence or iterable of arrays
        The clip, oldest frame first: ``(T, H, W)`` gray or ``(T, H, W, C)`` with C <= 4
        channels, or a batch of clips ``(N, T, H, W)`` / ``(N, T, H, W, C)``; a list of
        ``(H, W[, C])`` frames is stacked, as are the frames of an iterable (e.g.
        ``flowkit.iter_frames``: all are read, the last ``max(context, 3)`` kept, 4 for
        ``"auto"``, so memory stays flat on a long video; ``times`` then has one number per
        frame read). uint8, uint16, float16, float32 or float64 (floats
        in [0, 1], see docs/conventions.md). NumPy runs on the CPU, CuPy on the GPU. RGBA:
        the estimators and the splat metrics read the RGB channels, alpha is carried along:
        the RGB channels of the prediction are the RGB clip's whatever the alpha, to float32
        rounding, which ``scheme="reestimate"`` amplifies as it re-estimates from predicted
        frames (up to 3 levels in uint8 at horizon 8 on RubberWhale, as between float32 and
        float64 frames of one clip).
    horizon : int
        Number of frames to predict, >= 1.
    flow : str, callable or array
        The motion. A name from ``flowkit.list_estimators()`` (``"dis"`` default: DIS with
        its ``"medium"`` preset, ``flowkit.dis``; ``"farneback"``, ``"lucas_kanade"``,
        ``"dis-accurate"``, ...) or a callable ``(frame0, frame1) -> flow`` following flowkit's
        convention, which is called as ``flow(later, earlier)`` so that its result lies on
        the later frame's grid. Or an ``(H, W, 2)`` (batch: ``(N, H, W, 2)``) float array:
        the motion per frame on the last frame's grid (a pixel at ``x`` moves to
        ``x + flow``), used as given (``average`` does not apply, ``flow_options`` is an
        error, ``frames`` must still hold ``context`` frames; ``scheme="reestimate"`` needs an
        estimator).
    flow_options : dict, optional
        Keyword options of the named estimator (e.g. ``{"winsize": 21}``), checked against
        its signature.
    context : int or "auto"
        Number of trailing frames the motion is estimated from, 2 <= context <= T. With
        ``context=K > 2`` the K - 1 consecutive flows are each brought to the last frame's
        grid (chained backwards along the trajectories) and combined by ``average``: the
        robust motion of precipitation nowcasting (pysteps, rainymotion). ``"auto"``
        (default): the clip chooses, per clip, by a hindcast: with at least 4 frames, the
        last one is predicted from the three before it (one step, the same options) with
        the newest pair's motion and with the two pairs' motions combined; if combining
        gives the lower squared error, the motion is that of ``context=4``, else of
        ``context=2``, which is also what a clip of 2 or 3 frames gets. Steady motion
        measured by noisy flows (a real video's jittery frame times, compression) gains from
        the average, motion that changes does not (docs/prediction.md: +1.4 to +2.2 dB on
        the traffic clip, RubberWhale unchanged). Costs three flows instead of one and two
        one-step predictions, for clips of 4 frames or more.
    average : {"median", "mean"}
        How the K - 1 motion estimates are combined (component-wise).
    smooth : dict, optional
        Options of ``flowkit.smooth_flow`` applied to the motion (e.g.
        ``{"method": "gaussian", "size": 9}``); a bilateral filter without ``guide`` follows
        the edges of the last frame. An unknown name, or a value ``smooth_flow`` refuses, is
        an error naming it (``smooth['size']``) before any flow is estimated.
    scheme : {"semi-lagrangian", "forward", "reestimate"}
        ``"semi-lagrangian"``: the stationary field is traced back from each output pixel
        (``flowkit.extrapolate``), the last frame sampled once per step: no blur that grows
        with the horizon. ``"forward"``: the last frame splatted forward by k times the
        motion (``flowkit.splat`` with softmax weights from the brightness-constancy error
        of the newest pair, Niklaus and Liu 2020), holes filled (``flowkit.fill_holes``).
        ``"reestimate"``: the literal recursion: warp the newest frame by its motion, then
        estimate the motion again from the newest ``context`` frames, real or predicted.
    n_iter : int
        Sub-steps per time step of the semi-Lagrangian trajectories through a held field
        (``flowkit.extrapolate``; >= 0, 0 is one explicit Euler step), so only with
        ``advect_flow=False``: with the default ``advect_flow``, or another scheme, a value
        other than 1 is an error. One midpoint step per frame, the default, takes
        0.6x the extrapolation time of ``extrapolate``'s 3: on docs/prediction.md's data
        ``n_iter=3`` changed the PSNR by at most 0.03 dB (flows from frame pairs are smooth on
        the scale of one step); raise it for strongly curved motion.
    speed_spread : float, optional
        Relative standard deviation of the speed along each trajectory, 0 <= speed_spread
        <= 0.5; None (default): 0.1 with ``scheme="semi-lagrangian"``, else 0. 0 is one
        trajectory, the sharp prediction. Above 0, each predicted
        frame is the expected frame when the true speed is ``1 + speed_spread * z`` times
        the estimate, ``z`` standard normal: the last frame sampled at the ends of three
        trajectories scaled by the three-point Gauss-Hermite nodes (``1`` and ``1 +- sqrt(3)
        * speed_spread``; weights 2/3, 1/6, 1/6), i.e. the mean of a small ensemble. It blurs
        moving content along its motion, by an amount that grows with the speed and the
        horizon, and leaves static content sharp; it lowers the squared error where the
        motion of the future is uncertain (docs/prediction.md: ``0.1`` adds 0.35-0.5 dB on
        Sintel at +1 and +2). Only with ``scheme="semi-lagrangian"``; 3 warps per frame
        instead of 1.
    advect_flow : bool, optional
        Only with ``scheme="semi-lagrangian"``; None (default): True with that scheme, else
        False. False: the motion field is held
        fixed in place (Eulerian, as pysteps), so content moving into a region takes that
        region's motion (the front of a moving object waits for the background). True: every
        pixel keeps its own velocity: once per step the field is splatted forward by itself
        (``flowkit.splat``, softmax weights from the newest pair's brightness-constancy error,
        so the better-matched layer wins where two land on one pixel), its holes filled by
        push-pull (``flowkit.fill_holes``), and each output pixel is traced back through the
        velocities of the content arriving there; the last frame is still sampled once per
        step. ``n_iter`` does not apply (a value other than its default 1 is an error).
        Costs one splat and one fill per step. It matters most with a flow that is sharp at
        motion boundaries (DIS): held in place, those boundaries stay where the objects were
        (docs/prediction.md: with ``flow="dis"``, +0.7 dB at +4 on RubberWhale, +1.0 to +1.1
        dB on Sintel).
    return_flow : bool
        Also return the motion used, ``(H, W, 2)`` float32 (batches ``(N, H, W, 2)``); for
        ``"reestimate"`` the first step's.
    device : {None, "cpu", "cuda"}
        Where the estimator (a named one, unless ``flow_options`` sets its ``device``) and the
        warping run; None follows the input's array type.
    method : {"flow", "gan"} or a registered name
        ``"flow"``: the classical prediction above. A name registered with
        ``flowkit.models.register_predictor(name, module)``: the caller's ``torch.nn.Module``
        ``(frames, horizon) -> future`` on ``(N, T, C, H, W)`` float32 tensors in [0, 1]
        (docs/models.md); no flow is estimated: the flow options (``flow`` to
        ``scene_threshold``), ``return_flow``, ``model`` and ``times`` are a ValueError. ``"gan"``:
        each horizon's classical frame refined by the ``"predict-gan"`` generator of
        ``flowkit.models`` (needs ``pip install "flowkit-cv[torch]"``; docs/models.md), which
        sees the last 4 frames, the classical frame and its displacement, one image channel
        at a time; trained with an adversarial loss (Mathieu, Couprie and LeCun, ICLR 2016).
        The shipped weights were trained on the classical prediction ``flow="farneback",
        context=2, average="median", scheme="semi-lagrangian", speed_spread=0.0,
        advect_flow=False`` (their metadata's ``classical_base``: ``flowkit.models.get_weights(
        "predict-gan").meta``); predict's defaults since 2026-11-30 (``flow="dis"``,
        ``advect_flow``, ``speed_spread=0.1``) and other options run the network on another
        base than it was trained on. They change the classical frames by less than 0.1 grey level
        (docs/models.md). Runs where the model lives (the CPU unless ``model`` is on the
        GPU); CuPy arrays reach it through DLPack.
    model : None, str, Path or torch.nn.Module
        Only with ``method="gan"``: None for the shipped weights, a path to a
        ``.safetensors`` file of the same architecture (``flowkit train predict-gan``), or a
        module from ``flowkit.models.get_model("predict-gan", ...)``.
    times : sequence of T numbers, optional
        The frames' times in predicted steps (a video's timestamps times the output frame
        rate), increasing; None: one step apart. For a variable-frame-rate clip, whose
        consecutive frames may be several steps apart: each context pair's flow is divided by
        its gap, so that the motion is per step and the predicted frames follow the last one
        at one step each (whole or fractional gaps; the same for every clip of a batch). Not
        with a flow array (the motion per step is given) or another ``method`` than
        ``"flow"`` / ``"gan"``.
    scene_threshold : float or None
        Scene-cut threshold in percent, 0 < scene_threshold <= 100, as ``flowkit.retime``'s
        (FFmpeg ``minterpolate``'s ``scd_threshold``); None: no test. A flow across a cut
        is meaningless, so the frames before the last cut among the clip's last
        ``max(context, 3)`` frames (``"auto"``: 4) are left out: the motion comes from the
        frames after the cut (``context`` shrinks to their number), and when only the last
        frame follows the cut it is repeated (zero motion; ``method="gan"`` does not refine
        it). The test (``flowkit._retime.last_scene_cut``): the mean absolute difference of a
        pair (every 4th pixel and row, percent of full scale) reaches the threshold and
        exceeds its neighbouring pair's by as much; it needs 3 frames. Not with a flow array
        (the motion is given). A cut found is logged at INFO on the ``flowkit._predict``
        logger (the record's ``scene_cut``: the number of frames kept), as is
        ``context="auto"``'s choice (``context``); ``flowkit predict`` reports both.

    Returns
    -------
    predicted : array
        ``(horizon, H, W[, C])`` or ``(N, horizon, H, W[, C])``, the input's dtype (integers
        rounded and saturated). Float64 frames come back as float64 but are not predicted to
        float64 precision: the flow is estimated in float32, as by every estimator (RubberWhale
        in [0, 1]: within 2e-3 of the float32 copy's prediction, each scheme).
    flow : array
        Only with ``return_flow=True``.

    Raises
    ------
    ValueError
        ``horizon`` < 1, fewer than ``context`` frames (``"auto"``: 2), ``scene_threshold``
        outside (0, 100], ``context`` < 2 or
        a string other than ``"auto"``, ``speed_spread``
        outside [0, 0.5] or above 0 with another scheme, ``advect_flow=True`` with another
        scheme, an ``n_iter`` other than 1 with ``advect_flow`` (the default) or another scheme,
        frames too small for the estimator (DIS: 16x16 pixels), unknown ``scheme``, ``average`` or
        estimator name, an unknown estimator option, frames of different shapes (in a list),
        a flow array of the wrong shape, unknown ``method``, a ``model`` without
        ``method="gan"``, a weights file that does not fit; ``times`` not one increasing
        finite number per frame, or given with a flow array or an adapter ``method``; frames
        that are not a clip (2-D or over 5-D) or hold NaN or infinity; a flow array with
        ``flow_options``; a non-finite ``speed_spread`` or ``scene_threshold``; an unknown
        ``device``.
    MemoryError
        ``horizon`` predicted frames that alone would take more than the whole memory of the
        machine (CuPy: the GPU) they are made on, found before any work; the error is a
        ``ValueError`` too, and names ``horizon``, the size needed and how many frames fit.
    ImportError
        ``method="gan"`` without torch (the message names the extra).
    TypeError
        ``frames`` None, a path or a number; a non-integer ``horizon``, ``context`` or
        ``n_iter``; a ``speed_spread`` or ``scene_threshold`` that is not a real number;
        unsupported dtypes; ``flow`` neither a name, a callable nor an array; a non-float flow
        array; ``flow_options`` or ``smooth`` not a dict; a non-string ``average``,
        ``scheme`` or ``method``; a non-bool ``advect_flow`` or ``return_flow``; with
        ``method="gan"``, a ``model`` module other than the ``"predict-gan"`` network
        (``PredictRefine``).

    Notes
    -----
    Pixels whose motion is NaN (unknown) get their motion from the surrounding motion with
    ``advect_flow`` (the default); with ``advect_flow=False`` the trajectories that read them
    are unknown (see ``flowkit.extrapolate``), and the frames there NaN for float clips (as
    pysteps' ``outval``), 0 for integer ones (with no known motion at all, with either value
    of ``advect_flow``, every pixel).
    Intensity is carried, not extrapolated: every scheme moves the last frame's values, so a
    brightness trend in the context (a fade, an exposure ramp, flicker) stops at the last
    frame's brightness, as pysteps' Lagrangian persistence holds the rain rate.
    Accuracy against the peers (repeat-last-frame and OpenCV Farneback with ``cv2.remap``
    re-estimated each step) is in docs/prediction.md.

    References: U. Germann and I. Zawadzki, "Scale-dependence of the predictability of
    precipitation from continental radar images. Part I", Mon. Wea. Rev. 130, 2002
    (semi-Lagrangian extrapolation); S. Pulkkinen et al., "Pysteps", Geosci. Model Dev. 12,
    2019; S. Niklaus and F. Liu, "Softmax Splatting for Video Frame Interpolation", CVPR
    2020; T. Kroeger et al., "Fast Optical Flow using Dense Inverse Search", ECCV 2016 (DIS).

    Examples
    --------
    >>> import numpy as np, flowkit
    >>> rng = np.random.default_rng(0)
    >>> scene = rng.random((80, 120)).astype(np.float32)
    >>> clip = np.stack([np.roll(scene, k, axis=1) for k in range(3)])  # 1 px/frame to the right
    >>> flowkit.predict(clip, 4).shape
    (4, 80, 120)
    """
    _adapter_options(method, flow=flow != DEFAULT_FLOW, flow_options=flow_options is not None,
                     context=context != AUTO, average=average != "median",
                     smooth=smooth is not None, scheme=scheme != "semi-lagrangian",
                     n_iter=n_iter != _N_ITER, speed_spread=speed_spread is not None,
                     advect_flow=advect_flow is not None,
                     scene_threshold=scene_threshold != DEFAULT_SCENE_THRESHOLD)
    horizon, context, n_iter, scheme, average, method, speed_spread, advect_flow = check_options(
        horizon, context=context, n_iter=n_iter, scheme=scheme, average=average,
        return_flow=return_flow, method=method, speed_spread=speed_spread, advect_flow=advect_flow,
        scene_threshold=scene_threshold, device=device, model=model)
    # of an iterable, the frames read (at least 3, for the scene test; an adapter: all)
    keep = max(frames_used(context), 3) if method in METHODS else None
    # a list or iterable of frames is a clip whatever its frames' width (the stacked
    # (T, H, W) of gray frames at most 4 pixels wide is no (H, W, C) image)
    listed = not (hasattr(frames, "shape") or hasattr(frames, "__array__"))
    frames, times = _as_frames(frames, keep, times)
    if method not in METHODS:
        if times is not None:
            raise ValueError(f"times: only for method 'flow' or 'gan', got method={method!r}")
        return _adapter_predict(method, frames, horizon, return_flow, model)
    if method == "gan":
        from .models._api import predictor_model

        model = predictor_model("predict-gan", model)  # the predict-gan network, checked
    if frames.ndim == 3 and not listed and _validate.frames_layout(frames) == (False, True):
        raise ValueError(f"frames: expected a clip (T, H, W) or (T, H, W, C) of at least 2 frames, got "
                         f"shape {tuple(frames.shape)}, which looks like one image with "
                         f"{frames.shape[-1]} channels (stack the frames: np.stack([frame0, frame1]))")
    if np.dtype(frames.dtype).kind == "f":
        _validate.check_finite("frames", frames)  # else the estimator's error would name frame0
    # a clip reads like its first frame or batch of first frames: (T, H, W), (T, H, W, C),
    # (N, T, H, W) or (N, T, H, W, C), a 4-D clip with a last axis of at most 4 being colour
    batched, _ = _validate.frames_layout(frames[0])
    clips = frames if batched else frames[None]
    if clips.shape[1] < frames_needed(context):
        need = frames_needed(context) if context == AUTO else f"context={context}"
        raise ValueError(f"frames: expected at least {need} frames, got {clips.shape[1]}")
    _check_output_size(clips, horizon)
    gaps = _gaps(times, clips.shape[1], frames_used(context, clips.shape[1]), flow)
    if smooth is not None and not isinstance(smooth, dict):
        raise TypeError(f"smooth: expected a dict of smooth_flow options or None, got "
                        f"{_validate.describe(smooth)}")
    if smooth is not None:
        import inspect

        from ._estimators import _named
        from ._smooth import _check_guide, smooth_flow
        from ._smooth import check_options as check_smooth

        names = list(inspect.signature(smooth_flow).parameters)[1:]
        for key in smooth:
            if key not in names:
                raise ValueError(f"smooth: {key!r} is not an option of smooth_flow (its options: "
                                 f"{', '.join(names)})")
        try:  # the values too, before any flow is estimated (or none, after a scene cut)
            check_smooth(**smooth)
            if smooth.get("guide") is not None:  # against the motion, (H, W, 2) per clip
                motion = np.broadcast_to(np.float32(0), tuple(clips.shape[2:4]) + (2,))
                _check_guide(as_array(smooth["guide"], "guide", frames=True), motion, False)
        except (TypeError, ValueError) as exc:
            _named(exc, smooth, "smooth")
    given = None
    if isinstance(flow, (list, tuple)):
        raise TypeError(f"flow: expected an estimator name, a callable or a flow array (NumPy or "
                        f"CuPy, (H, W, 2) float), got {_validate.describe(flow)}")
    if hasattr(flow, "shape") and hasattr(flow, "dtype"):
        if scheme == "reestimate":
            raise ValueError("flow: scheme='reestimate' re-estimates the motion at every step; "
                             f"give an estimator name {tuple(list_estimators())} or a callable, "
                             "not a flow array")
        if flow_options:
            raise ValueError(f"flow_options: for an estimator named by flow, got {flow_options!r} "
                             f"with a flow array")
        given = as_array(flow, "flow")
        hw = tuple(clips.shape[2:4])
        _validate.check_flow("flow", given, shape=(hw if given.ndim == 3 else (clips.shape[0],) + hw),
                             note=_validate.read_as_batch("frames", frames, clips=True))
        if given.ndim == 4 and not batched:
            raise ValueError(f"flow: expected shape {hw + (2,)} for a single clip, got {tuple(given.shape)}")
        estimate = None
    else:
        options = dict(flow_options) if isinstance(flow_options, dict) else flow_options
        if device is not None and isinstance(flow, str) and "device" not in (options or {}):
            options = {**(options or {}), "device": device}  # the estimator runs there too
        estimate = get_estimator(flow, options)
        if isinstance(flow, str):  # named as given, not as the estimator's frame0
            check_channels("frames", frames, clips.ndim == 5)
    xp, _ = array_module(clips)
    results, motions = [], []
    for n in range(clips.shape[0]):
        clip, clip_context, clip_gaps = clips[n], context, gaps
        if given is None and scene_threshold is not None:
            clip, clip_context, clip_gaps = _after_scene_cut(clip, context, gaps, scene_threshold,
                                                                n if batched else None)
        if len(clip) == 1:  # only the last frame follows a cut: it is repeated
            predicted = xp.stack([clip[0]] * horizon)
            motion = xp.zeros(clip.shape[1:3] + (2,), np.float32)
        elif given is None:
            with _too_small_named(flow, _validate.read_as_batch("frames", frames, clips=True)):
                predicted, motion = _predict_clip(clip, horizon, estimate, clip_context, average,
                                                  smooth, scheme, n_iter, speed_spread,
                                                  advect_flow, device, clip_gaps)
        else:
            motion = given[n] if given.ndim == 4 else given
            predicted, motion = _predict_given(clips[n], horizon, motion.astype(np.float32), smooth,
                                               scheme, n_iter, speed_spread, advect_flow, device)
        if model is not None and len(clip) > 1:
            from .models.predict_gan import refine_arrays

            predicted = refine_arrays(model, clips[n], predicted, motion)
        results.append(predicted)
        motions.append(motion)
    predicted = xp.stack(results) if batched else results[0]
    if not return_flow:
        return predicted
    return predicted, (xp.stack(motions) if batched else motions[0])


def _after_scene_cut(clip, context, gaps, threshold, index):
    """``(clip, context, gaps)`` from the last scene cut among the frames ``predict`` reads
    (at least the last 3, for the test) on: the whole clip when there is none."""
    used = frames_used(context, len(clip))
    scanned = min(len(clip), max(used, 3))
    after, mafd = last_scene_cut(clip[-scanned:], threshold)
    kept = scanned - after  # frames from the cut on
    if not after or kept >= used:  # no cut, or one before the frames used
        return clip, context, gaps
    frames = "the last frame" if kept == 1 else f"the last {kept} frames"
    what = ("it is repeated" if kept == 1 else "the motion is estimated from them")
    clip_name = "" if index is None else f" of clip {index}"
    _log.info("scene cut before %s%s (mean absolute difference %.1f %%): %s", frames, clip_name,
              mafd, what, extra={"scene_cut": kept})
    if kept == 1:
        return clip[-1:], context, []
    return clip[-kept:], (context if context == AUTO else kept), gaps[len(gaps) - (kept - 1):]


def frames_used(context, count=None):
    """How many of a clip's last frames ``predict`` reads with ``context`` (``"auto"``: up to
    4; of ``count`` frames when given)."""
    if context != AUTO:
        return context
    return _AUTO_FRAMES if count is None else min(count, _AUTO_FRAMES)


def frames_needed(context):
    """The fewest frames a clip may hold for ``context`` (``"auto"``: 2)."""
    return 2 if context == AUTO else context


def _gaps(times, count, context, flow):
    """The ``context - 1`` gaps between the last ``context`` of ``times`` (one per frame of
    the clip), in steps: a list of 1 without ``times``."""
    if times is None:
        return [1] * (context - 1)
    if hasattr(flow, "shape") and hasattr(flow, "dtype"):
        raise ValueError("times: not with a flow array, which is the motion per step already")
    values = None
    if not isinstance(times, (str, bytes)):
        items = np.asarray(times)
        numeric = (items.dtype.kind in "iuf" if items.dtype.kind != "O" else  # Fractions too
                   all(isinstance(t, numbers.Real) and not isinstance(t, bool) for t in items.flat))
        if numeric:  # not strings, booleans or None
            values = items.astype(np.float64)
    if values is None or values.ndim != 1 or values.shape[0] != count:
        raise ValueError(f"times: expected a sequence of {count} numbers (one per frame), got "
                         f"{_validate.describe(times)}")
    gaps = np.diff(values[-context:])
    if not (np.isfinite(values).all() and (gaps > 0).all()):
        raise ValueError(f"times: expected finite, increasing times, got {values.tolist()}")
    return [1 if g == 1 else float(g) for g in gaps]


def _predict_given(clip, horizon, motion, smooth, scheme, n_iter, speed_spread, advect_flow, device):
    motion = _smoothed(motion, smooth, clip[-1])
    return _extrapolated(clip[-1], clip[-2], motion, -motion, horizon, scheme, n_iter, speed_spread,
                         advect_flow, device), motion


def _check_output_size(clips, horizon):
    """Refuse a ``horizon`` whose predicted frames (``horizon`` frames of each of ``clips``,
    ``(N, T, H, W[, C])``, in their dtype) cannot fit in the memory they would be made in,
    before any flow is estimated (``_validate.check_output_size``)."""
    frame = tuple(clips.shape[2:])
    dtype = np.dtype(clips.dtype)
    per_step = clips.shape[0] * int(np.prod(frame)) * dtype.itemsize
    clips_text = f" (for each of {clips.shape[0]} clips)" if clips.shape[0] > 1 else ""
    _validate.check_output_size("horizon", horizon, per_step,
                                f"predicted frames of shape {frame} and dtype {dtype.name}{clips_text}",
                                array_module(clips)[0])


def _adapter_options(method, **given):
    """For a registered predictor ``method``: the options of the flow prediction that were
    given (True in ``given``) are a ValueError, as interpolate refuses its flow options for a
    registered interpolator (they were ignored: ``context=3`` still handed the module every
    frame)."""
    from .models.adapters import list_adapters

    if isinstance(method, str) and method in list_adapters("predictor") and any(given.values()):
        name = next(k for k, v in given.items() if v)
        raise ValueError(f"{name}: not available with the registered predictor method={method!r} "
                         f"(no flow is estimated)")


def _adapter_predict(method, frames, horizon, return_flow, model):
    """``predict(method=NAME)`` for a module registered with
    ``flowkit.models.register_predictor``."""
    from .models.adapters import predict_clip

    if return_flow or model is not None:
        raise ValueError(f"{'return_flow' if return_flow else 'model'}: not available with the "
                         f"registered predictor method={method!r} (no flow is estimated)")
    batched, channels = _validate.frames_layout(frames[0])
    clips = frames if batched else frames[None]
    _check_output_size(clips, horizon)
    xp, _ = array_module(clips)
    results = [predict_clip(method, clip, horizon, channels) for clip in clips]
    return xp.stack(results) if batched else results[0]
