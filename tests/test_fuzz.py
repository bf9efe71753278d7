"""Property-based tests (hypothesis) over the public array functions.

Inputs: frames from 1x1 to 64x80 pixels, gray or colour, single or batched, in every dtype the
functions take and a few they refuse (int64, bool, float16, complex64), with NaN, infinities
and extreme values mixed in; options drawn inside and just outside their ranges. Properties
(the reference is the documentation of each function):

* no crash and no hang: a call either returns or raises the project's ``ValueError`` /
  ``TypeError``, within ``LIMIT`` seconds;
* every rejection names the parameter first and says what was given
  (``"name: expected ..., got ..."``);
* outputs have the documented shape and dtype, and are finite wherever the inputs are (for
  finite inputs within +-1e30, see ``SPECIAL``).

Each function is called once before its examples so that compilation is not counted against
the time limit. ``FLOWKIT_FUZZ_EXAMPLES`` sets the examples per test (default 30, the same ones each run);
``FLOWKIT_FUZZ_RANDOM=1`` draws new ones each run (docs/benchmarks.md, "Fuzzing", has the
counts of longer runs).
"""

import os
import re
import signal
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

import flowkit

EXAMPLES = int(os.environ.get("FLOWKIT_FUZZ_EXAMPLES", "30"))
LIMIT = 60  # seconds per call: far above any call on these sizes, well below a hang
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                derandomize=not os.environ.get("FLOWKIT_FUZZ_RANDOM"),  # CI: the same examples each run
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
GOOD_DTYPES = (np.uint8, np.uint16, np.float32, np.float64)
BAD_DTYPES = (np.int64, np.bool_, np.float16, np.complex64)
# mixed into float inputs; +-1e30 is extreme but leaves float32 headroom for a filter's sums
# (values near float32's limit, 3.4e38, overflow in any float32 sum of a few of them)
SPECIAL = (np.nan, np.inf, -np.inf, 1e30, -1e30)
# "name: ..." where name is a parameter, an indexed parameter or a keyword option
REJECTION = re.compile(r"^[A-Za-z_][\w]*(\[[^\]]*\])*: \S")


@contextmanager
def time_limit(seconds):
    def expire(signum, frame):
        raise TimeoutError(f"call took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def call(function, *args, **kwargs):
    """``function(*args, **kwargs)``, or None after a rejection in the project's form."""
    with time_limit(LIMIT):
        try:
            result = function(*args, **kwargs)
            event("accepted")
            return result
        except (ValueError, TypeError) as exc:
            message = str(exc)
            event(f"rejected: {message[:70]}")
            assert REJECTION.match(message), f"{type(exc).__name__} not naming a parameter: {message!r}"
            assert "got" in message or "given" in message, f"rejection without the value: {message!r}"
            return None


def option(data, valid, invalid):
    """A valid option value most of the time (7 in 8), else one just outside the range."""
    if data.draw(st.sampled_from(range(8))) < 7:  # sampled_from: uniform, integers() favours the ends
        return data.draw(valid if isinstance(valid, st.SearchStrategy) else st.sampled_from(valid))
    return data.draw(st.sampled_from(invalid))


@st.composite
def sizes(draw, low=1):
    return draw(st.integers(low, 64)), draw(st.integers(low, 80))


@st.composite
def arrays(draw, shape, dtype, special=True, scale=None):
    """Random values of ``dtype``: integers over their whole range, floats over a random scale
    and offset (so low-contrast and huge-valued frames occur), some of ``SPECIAL`` mixed in."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) > 0.5
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        high = min(info.max, 2**16)
        return rng.integers(max(info.min, -high), high, size=shape, endpoint=True).astype(dtype)
    if scale is None:
        scale = 10.0 ** draw(st.integers(-6, 6))
    offset = draw(st.sampled_from([0.0, 1.0, -1.0, 1e4]))
    with np.errstate(over="ignore", invalid="ignore"):  # float16 casts of 1e30
        values = (rng.random(shape) * scale + offset).astype(dtype)
        if dtype.kind == "c":
            values = values + 1j * values
        if special and values.size and draw(st.booleans()) and draw(st.booleans()):
            flat = values.reshape(-1)
            for _ in range(draw(st.integers(1, 3))):
                flat[rng.integers(flat.size)] = draw(st.sampled_from(SPECIAL))
    return values


@st.composite
def frames(draw, size=None, batch=True, bad_dtypes=True, special=True, low=1):
    """A frame ``(H, W)`` or ``(H, W, C)`` (C in 1, 3), sometimes a batch of 2."""
    height, width = size or draw(sizes(low))
    channels = draw(st.sampled_from([None, 1, 3]))
    shape = (height, width) + (() if channels is None else (channels,))
    if batch and draw(st.integers(0, 4)) == 4:
        if channels is None:  # (2, H, W <= 4) reads as one (H, W, C) image (docs/conventions.md)
            shape = (height, max(width, 5))
        shape = (2,) + shape
    choices = GOOD_DTYPES + (BAD_DTYPES if bad_dtypes else ())
    dtype = draw(st.sampled_from(choices if draw(st.integers(0, 7)) == 7 else GOOD_DTYPES))
    return draw(arrays(shape, dtype, special=special))


@st.composite
def flows(draw, height, width, special=True):
    reach = 2.0 * max(height, width)
    flow = draw(arrays((height, width, 2), np.float32, special=special, scale=2 * reach))
    return flow - np.float32(reach) if np.isfinite(flow).all() or not special else flow


def finite(*arrays_):
    return all(np.isfinite(np.asarray(a, np.float64)).all() for a in arrays_ if a is not None
               and np.asarray(a).dtype.kind != "b")


def image_of(frame):
    """The single-image part of a frame or batch: (H, W[, C])."""
    return frame[0] if frame.ndim == 4 or (frame.ndim == 3 and frame.shape[-1] not in (1, 3)) else frame


@pytest.fixture(scope="module", autouse=True)
def compiled():
    """Compile what the examples call, so the time limit measures running, not compiling."""
    image = np.random.default_rng(0).random((24, 32)).astype(np.float32)
    flow = np.zeros((24, 32, 2), np.float32)
    flowkit.warp(image, flow)
    flowkit.warp(image, flow, interpolation="cubic")
    flowkit.splat(image, flow)
    flowkit.extrapolate(image, flow, 2)
    flowkit.smooth_flow(flow)
    flowkit.flow_to_color(flow)
    flowkit.farneback(image, image)
    flowkit.dis(image, image)
    flowkit.lucas_kanade(image, image)
    flowkit.interpolate(image, image, 0.5)
    flowkit.good_features(image)


@FUZZ
@given(data=st.data())
def test_warp(data):
    image = data.draw(frames())
    height, width = image.shape[-3:-1] if image.ndim in (3, 4) and image.shape[-1] in (1, 3) else image.shape[-2:]
    flow = data.draw(flows(height, width))
    interpolation = option(data, ["linear", "cubic", "nearest"], ["area", "Linear"])
    border = option(data, ["replicate", "constant", "reflect", "wrap", "transparent"], ["mirror", None])
    result = call(flowkit.warp, image, flow, interpolation=interpolation, border=border, return_mask=True)
    if result is None:
        return
    warped, mask = result
    assert warped.shape == image.shape and warped.dtype == image.dtype
    assert mask.dtype == np.bool_ and mask.shape == flow.shape[:-1]
    if finite(image, flow) and image.dtype.kind == "f" and border != "transparent":
        assert np.isfinite(warped).all()


@FUZZ
@given(data=st.data())
def test_splat(data):
    image = data.draw(frames(batch=False))
    height, width = image.shape[:2]
    flow = data.draw(flows(height, width))
    mode = option(data, ["average", "softmax", "max", "sum"], ["linear"])
    metric = None
    if mode == "softmax" or data.draw(st.integers(0, 7)) == 7:
        metric = data.draw(arrays((height, width), np.float32, scale=10.0))
    result = call(flowkit.splat, image, flow, mode=mode, metric=metric, return_weight=True)
    if result is None:
        return
    splatted, weight = result
    assert splatted.shape == image.shape and splatted.dtype == image.dtype
    assert weight.shape == (height, width) and weight.dtype == np.float32
    if finite(image, flow, metric) and image.dtype.kind == "f":
        holes = weight == 0  # documented as NaN for float images, the rest finite
        assert np.isnan(splatted[holes]).all() and np.isfinite(splatted[~holes]).all()


@FUZZ
@given(data=st.data())
def test_fill_holes(data):
    image = data.draw(frames(batch=False))
    mask = data.draw(arrays(image.shape[:2], np.bool_))
    method = option(data, ["pyramid", "telea", "ns"], ["nearest"])
    filled = call(flowkit.fill_holes, image, mask, method=method)
    if filled is None:
        return
    assert filled.shape == image.shape and filled.dtype == image.dtype
    np.testing.assert_array_equal(filled[~mask], image[~mask])
    if finite(image[~mask]) and image.dtype.kind == "f" and (~mask).any():
        assert np.isfinite(filled).all()


@FUZZ
@given(data=st.data())
def test_extrapolate(data):
    image = data.draw(frames(batch=False))
    height, width = image.shape[:2]
    flow = data.draw(flows(height, width))
    steps = option(data, st.integers(1, 4), [0, -1, 2.0])
    scheme = option(data, ["semi-lagrangian", "forward"], ["backward"])
    n_iter = option(data, st.integers(1, 4), [0, -1])
    result = call(flowkit.extrapolate, image, flow, steps, scheme=scheme, n_iter=n_iter)
    if result is None:
        return
    assert result.shape == (steps,) + image.shape and result.dtype == image.dtype


@FUZZ
@given(data=st.data())
def test_smooth_flow(data):
    height, width = data.draw(sizes())
    flow = data.draw(flows(height, width))
    if data.draw(st.integers(0, 5)) == 5:
        with np.errstate(invalid="ignore", over="ignore"):  # NaN / 1e30 cast to int64 or float16
            flow = flow.astype(data.draw(st.sampled_from([np.float64, np.float16, np.int64])))
    method = option(data, ["gaussian", "median", "bilateral"], ["box"])
    size = option(data, st.sampled_from([1, 3, 5, 7, 9]), [0, -1, 4])
    smoothed = call(flowkit.smooth_flow, flow, method=method, size=size)
    if smoothed is None:
        return
    assert smoothed.shape == flow.shape
    assert smoothed.dtype == (np.float64 if flow.dtype == np.float64 else np.float32)
    if finite(flow):
        assert np.isfinite(smoothed).all()


@FUZZ
@given(data=st.data())
def test_flow_to_color(data):
    height, width = data.draw(sizes())
    flow = data.draw(flows(height, width))
    max_flow = option(data, [None, 1.0, 1e-30, 1e30], [0.0, -1.0, float("nan")])
    picture = call(flowkit.flow_to_color, flow, max_flow=max_flow)
    if picture is None:
        return
    assert picture.shape == (height, width, 3) and picture.dtype == np.uint8


def pair(data, low=1):
    frame0 = data.draw(frames(low=low))
    frame1 = frame0.copy()
    if data.draw(st.booleans()):  # a second frame of its own, same shape and dtype
        frame1 = data.draw(arrays(frame0.shape, frame0.dtype))
    return frame0, frame1


def check_flow(result, frame0):
    image = image_of(frame0) if frame0.ndim == 4 or frame0.ndim == 3 and frame0.shape[-1] not in (1, 3) else frame0
    batch = frame0.ndim == 4 or frame0.ndim == 3 and frame0.shape[-1] not in (1, 3)
    shape = (frame0.shape[0],) if batch else ()
    assert result.shape == shape + image.shape[:2] + (2,) and result.dtype == np.float32
    if finite(frame0):
        assert np.isfinite(result).all()


@FUZZ
@given(data=st.data())
def test_farneback(data):
    frame0, frame1 = pair(data, low=option(data, [15], [1]))  # the expansion window of poly_n=7
    options = {"levels": option(data, st.integers(1, 5), [0, -1]),
               "winsize": option(data, st.integers(1, 21), [0]),
               "pyr_scale": option(data, [0.5, 0.8, 0.25], [0.0, 1.0]),
               "poly_n": option(data, [5, 7], [6]),
               "iterations": option(data, st.integers(1, 3), [0])}
    flow = call(flowkit.farneback, frame0, frame1, **options)
    if flow is not None:
        check_flow(flow, frame0)


@FUZZ
@given(data=st.data())
def test_dis(data):
    frame0, frame1 = pair(data, low=option(data, [32], [1, 8]))  # DIS needs 32x32 at its defaults
    options = {"preset": option(data, ["ultrafast", "fast", "medium", "accurate"], ["slow"]),
               "patch_size": option(data, [None, 4, 8], [2, 0]),
               "finest_scale": option(data, [None, 0, 1, 3], [-1])}
    flow = call(flowkit.dis, frame0, frame1, **options)
    if flow is not None:
        check_flow(flow, frame0)


@FUZZ
@given(data=st.data())
def test_lucas_kanade(data):
    frame0, frame1 = pair(data)
    options = {"radius": option(data, st.integers(1, 8), [0, -1]),
               "num_warp": option(data, st.integers(1, 3), [0]),
               "gaussian": data.draw(st.booleans()), "levels": option(data, [None, 1, 3], [0])}
    flow = call(flowkit.lucas_kanade, frame0, frame1, **options)
    if flow is not None:
        check_flow(flow, frame0)


@FUZZ
@given(data=st.data())
def test_variational_refinement(data):
    frame0, frame1 = pair(data)
    image = image_of(frame0)
    flow = data.draw(flows(*image.shape[:2]))
    options = {"iterations": option(data, st.integers(1, 3), [0, -1]),
               "sor_iterations": option(data, st.integers(1, 3), [0]),
               "omega": option(data, [1.6, 1.0, 1.9], [0.0, 2.0]),
               "alpha": option(data, [20.0, 0.0], [-1.0])}
    batch = frame0.ndim == 4 or frame0.ndim == 3 and frame0.shape[-1] not in (1, 3)
    if batch:
        flow = np.stack([flow] * frame0.shape[0])
    refined = call(flowkit.variational_refinement, frame0, frame1, flow, **options)
    if refined is not None:
        assert refined.shape == flow.shape and refined.dtype == np.float32
        if finite(frame0, frame1, flow):
            assert np.isfinite(refined).all()


@FUZZ
@given(data=st.data())
def test_sparse_tracking(data):
    frame0, frame1 = pair(data)
    image = image_of(frame0)
    count = data.draw(st.integers(0, 20))
    height, width = image.shape[:2]
    points = data.draw(arrays((count, 2), np.float32, scale=float(max(height, width))))
    options = {"win_size": option(data, [21, 3, 5], [1, 2]),
               "max_level": option(data, st.integers(0, 4), [-1]),
               "get_min_eigenvals": option(data, [False, True], [1])}
    result = call(flowkit.lucas_kanade_sparse, frame0, frame1, points, **options)
    if result is not None:
        points1, status, err = result
        assert points1.shape == (count, 2) and points1.dtype == np.float32
        assert status.shape == (count,) and status.dtype == np.bool_
        assert err.shape == (count,) and err.dtype == np.float32
        if finite(frame0, frame1):
            assert np.isfinite(points1[status]).all() and np.isfinite(err[status]).all()
    corners = call(flowkit.good_features, frame0, option(data, st.integers(1, 50), [0, -1]),
                   option(data, [0.01, 0.5, 1.0], [0.0, 1.5]),
                   gradient_size=option(data, [3, 5, -1, 1], [0, 2, 33]))
    if corners is not None:
        assert corners.ndim == 2 and corners.shape[1] == 2 and corners.dtype == np.float32
        assert finite(corners)


@FUZZ
@given(data=st.data())
def test_interpolate(data):
    frame0, frame1 = pair(data, low=option(data, [32], [1, 16]))
    times = option(data, [0.5, 0.0, 1.0, [0.25, 0.75]], [-0.1, 1.5, float("nan")])
    method = option(data, ["project", "splat", "backward", "blend"], ["nearest"])
    result = call(flowkit.interpolate, frame0, frame1, times, method=method, flow="dis-ultrafast")
    if result is None:
        return
    batch = frame0.ndim == 4 or frame0.ndim == 3 and frame0.shape[-1] not in (1, 3)
    k = (len(times),) if isinstance(times, list) else ()
    shape = (frame0.shape[:1] + k + frame0.shape[1:]) if batch else k + frame0.shape
    assert result.shape == shape and result.dtype == frame0.dtype
    if finite(frame0, frame1) and frame0.dtype.kind == "f":
        assert np.isfinite(result).all()


@FUZZ
@given(data=st.data())
def test_predict(data):
    height, width = data.draw(sizes(low=11))
    count = data.draw(st.integers(2, 4))
    frame = data.draw(frames(size=(height, width), batch=False))
    stack = np.stack([frame] * count)
    if data.draw(st.booleans()):
        stack = data.draw(arrays(stack.shape, stack.dtype))
    horizon = option(data, st.integers(1, 3), [0, -1])
    scheme = option(data, ["semi-lagrangian", "forward", "reestimate"], ["backward"])
    context = option(data, st.integers(2, count if count >= 2 else 2), [1])
    predicted = call(flowkit.predict, stack, horizon, scheme=scheme, context=context)
    if predicted is None:
        return
    assert predicted.shape == (horizon,) + frame.shape and predicted.dtype == frame.dtype
    if finite(stack) and frame.dtype.kind == "f":
        assert np.isfinite(predicted).all()


@FUZZ
@given(data=st.data())
def test_metrics(data):
    height, width = data.draw(sizes())
    flow = data.draw(flows(height, width))
    truth = data.draw(flows(height, width)) if data.draw(st.booleans()) else flow.copy()
    if data.draw(st.integers(0, 7)) == 7:  # a mismatched shape
        truth = truth[:, :-1] if width > 1 else truth[:-1]
    valid = data.draw(arrays((height, width), np.bool_)) if data.draw(st.booleans()) else None
    for metric in (flowkit.metrics.endpoint_error, flowkit.metrics.angular_error, flowkit.metrics.fl_all):
        value = call(metric, flow, truth, valid)
        if value is not None and finite(flow, truth) and (valid is None or valid.any()):
            assert np.isfinite(value)
    image = data.draw(frames(batch=False, size=(height, width)))
    reference = data.draw(arrays(image.shape, image.dtype))
    value = call(flowkit.metrics.psnr, image, reference)
    if value is not None and finite(image, reference):
        assert not np.isnan(value)  # +inf for equal images


@FUZZ
@given(data=st.data())
def test_reading_damaged_files(data, tmp_path_factory):
    """Random bytes, and valid files cut short or with a flipped byte, give ValueError."""
    folder = tmp_path_factory.mktemp("damaged")
    flow = data.draw(flows(*data.draw(sizes()), special=False))
    good = folder / "good.flo"
    flowkit.write_flo(good, flow)
    raw = good.read_bytes()
    damage = data.draw(st.sampled_from(["cut", "flip", "random"]))
    if damage == "cut":
        raw = raw[:data.draw(st.integers(0, len(raw) - 1))]
    elif damage == "flip":
        index = data.draw(st.integers(0, 11))  # tag, width, height
        raw = raw[:index] + bytes([raw[index] ^ 0xFF]) + raw[index + 1:]
    else:
        raw = data.draw(st.binary(max_size=256))
    path = folder / "damaged.flo"
    path.write_bytes(raw)
    picture = folder / "damaged.mp4"
    picture.write_bytes(raw)
    for read in (flowkit.read_flo, lambda p: next(flowkit.iter_frames(p), None)):
        with time_limit(LIMIT):
            try:
                result = read(path if read is flowkit.read_flo else picture)
            except ValueError as exc:  # file errors start with the file's path or "path: "
                assert str(exc).startswith((str(folder), "path: ")), str(exc)
                continue
        if read is flowkit.read_flo:  # a flip can still describe a valid file (a smaller height)
            assert result.dtype == np.float32 and result.ndim == 3 and result.shape[2] == 2
