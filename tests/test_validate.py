"""The layout rule's note (flowkit/_validate.py ``read_as_batch``): a 3-D frame array whose last
axis is longer than 4 is a gray batch (N, H, W); every error that this reading leads to says how
the array was read and why, in the same words (new users passed (H, W, 5) frames and got "too
small")."""

import re
import warnings

import numpy as np
import pytest

import flowkit
from flowkit import _validate

FRAME = np.zeros((64, 64, 5), np.uint8)  # 64 gray frames, 5 pixels wide and 64 high
FLOW = np.zeros((64, 64, 2), np.float32)


def _note(name, shape=(64, 64, 5), how="a batch of 64 gray frames"):
    """The note that ends the message, as a regex."""
    return re.escape(f"({name} of shape {shape} was read as {how}, 5 pixels wide and 64 high: a "
                     "last axis of 5 is more than the 4 channels a colour frame may have; a frame "
                     "is (H, W) or (H, W, C) with C <= 4)") + "$"


CASES = {
    "farneback": (lambda: flowkit.farneback(FRAME, FRAME), "frame0: expected frames at least 11x11", "frame0"),
    "Farneback": (lambda: flowkit.Farneback()(FRAME, FRAME), "frame0: expected frames at least 11x11", "frame0"),
    "dis": (lambda: flowkit.dis(FRAME, FRAME), "frame0: expected frames at least 16x16", "frame0"),
    "DIS": (lambda: flowkit.DIS()(FRAME, FRAME), "frame0: expected frames at least 16x16", "frame0"),
    "lucas_kanade init_flow": (lambda: flowkit.lucas_kanade(FRAME, FRAME, init_flow=FLOW),
                               r"init_flow: expected shape \(64, 64, 5, 2\), got \(64, 64, 2\)", "frame0"),
    "variational_refinement": (lambda: flowkit.variational_refinement(FRAME, FRAME, FLOW),
                               r"flow: expected shape \(64, 64, 5, 2\), got \(64, 64, 2\)", "frame0"),
    "lucas_kanade_sparse": (lambda: flowkit.lucas_kanade_sparse(FRAME, FRAME, np.zeros((1, 2))),
                            r"frame0: expected one frame \(H, W\) or \(H, W, C\) with C <= 4", "frame0"),
    "good_features": (lambda: flowkit.good_features(FRAME),
                      r"frame: expected one frame \(H, W\) or \(H, W, C\) with C <= 4", "frame"),
    "smooth_flow guide": (lambda: flowkit.smooth_flow(FLOW, method="bilateral", guide=FRAME),
                          r"guide: expected shape \(H, W\) or \(H, W, C\)", "guide"),
    "interpolate": (lambda: flowkit.interpolate(FRAME, FRAME), "frame0: expected frames at least 16x16", "frame0"),
    "interpolate farneback": (lambda: flowkit.interpolate(FRAME, FRAME, flow="farneback"),
                              "frame0: expected frames at least 15x15", "frame0"),
    "interpolate flows": (lambda: flowkit.interpolate(FRAME, FRAME, flow01=FLOW, flow10=FLOW),
                          r"flow01: expected shape \(64, 64, 5, 2\), got \(64, 64, 2\)", "frame0"),
    "interpolate callable": (lambda: flowkit.interpolate(FRAME, FRAME, flow=lambda a, b: FLOW),
                             r"flow: the callable returned .* expected shape \(64, 5, 2\)", "frame0"),
    "interpolate_video": (lambda: list(flowkit.interpolate_video([FRAME, FRAME])),
                          "frame0: expected frames at least 16x16", "frame0"),
    "temporally_consistent": (lambda: flowkit.temporally_consistent([FRAME, FRAME], [FRAME, FRAME]),
                              r"frames\[0\]: expected one frame", "frames[0]"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_errors_of_the_gray_batch_reading_say_so(case):
    call, message, name = CASES[case]
    with pytest.raises(ValueError, match=message + ".*" + _note(name)):
        call()


def test_predict_says_how_it_read_the_clip():
    """predict reads a 3-D array as one clip (T, H, W) and a 4-D array (or a list of 3-D
    frames) whose last axis is longer than 4 as clips (N, T, H, W)."""
    end = "flow='lucas_kanade' works on frames of any size "
    with pytest.raises(flowkit._validate.FramesTooSmall,
                       match=end + _note("frames", how="a clip of 64 gray frames")):
        flowkit.predict(FRAME, 1)
    for frames in ([FRAME, FRAME], np.stack([FRAME, FRAME])):
        with pytest.raises(flowkit._validate.FramesTooSmall,
                           match=end + _note("frames", (2, 64, 64, 5), "2 clips of 64 gray frames each")):
            flowkit.predict(frames, 1)
    with pytest.raises(ValueError, match=r"flow: expected shape \(64, 5, 2\), got \(64, 64, 2\) "
                       + _note("frames", (2, 64, 64, 5), "2 clips of 64 gray frames each")):
        flowkit.predict([FRAME, FRAME], 1, flow=FLOW)


def test_no_note_where_the_array_was_not_read_as_a_batch():
    """Colour frames too small, a gray batch given as (N, H, W, 1): the plain message."""
    small = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match=r"got 8x8 \(width x height\)$"):
        flowkit.dis(small, small)
    small_flow = np.zeros((32, 32, 2), np.float32)
    with pytest.raises(ValueError, match=r"flow01: expected shape \(64, 64, 2\), got \(32, 32, 2\)$"):
        flowkit.interpolate(FRAME[..., :1], FRAME[..., :1], flow01=small_flow, flow10=small_flow)


def test_the_layout_rule_is_kept():
    """A gray batch (N, H, W) with N > 4 frames stays legitimate, and warp reads the image by
    the flow's shape: (64, 64, 5) with a (64, 64, 2) flow is one 5-channel image."""
    rng = np.random.default_rng(0)
    batch = rng.random((5, 32, 40)).astype(np.float32)
    assert flowkit.dis(batch, batch).shape == (5, 32, 40, 2)
    assert flowkit.warp(FRAME, FLOW).shape == (64, 64, 5)


def test_known_vectors_marks_nan_inf_and_the_1e9_marker_in_either_component():
    """known_vectors (per component, not NumPy's slow all(axis=-1)): False where either
    component is NaN, infinite or at least 1e9 in size, for (H, W, 2) and (N, H, W, 2)."""
    from flowkit._validate import known_vectors

    flow = np.zeros((2, 3, 4, 2), np.float32)
    bad = [(0, 0, 0, 0, np.nan), (0, 1, 2, 1, np.inf), (1, 2, 3, 0, -np.inf),
           (1, 0, 1, 1, 1e9), (1, 1, 1, 0, -1e9)]
    for n, y, x, c, value in bad:
        flow[n, y, x, c] = value
    flow[0, 2, 2] = 9.9e8  # large but known
    expected = np.ones((2, 3, 4), bool)
    for n, y, x, _, _ in bad:
        expected[n, y, x] = False
    assert known_vectors(flow).dtype == np.bool_
    np.testing.assert_array_equal(known_vectors(flow), expected)
    np.testing.assert_array_equal(known_vectors(flow[1]), expected[1])


def test_a_float16_flow_an_estimator_starts_from_raises_no_overflow_warning():
    # float16 flows are accepted (docs/api.md); comparing one with the 1e9 marker cast it to
    # float16 and leaked NumPy's "RuntimeWarning: overflow encountered in cast" from
    # known_vectors (an error under -W error or pytest's filterwarnings = error)
    rng = np.random.default_rng(0)
    frame0 = rng.random((32, 40)).astype(np.float32)
    frame1 = np.roll(frame0, 1, axis=1)
    flow = np.zeros((32, 40, 2), np.float16)
    flow[..., 0] = 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert flowkit.lucas_kanade(frame0, frame1, init_flow=flow, levels=1).shape == (32, 40, 2)
        assert flowkit.variational_refinement(frame0, frame1, flow).shape == (32, 40, 2)
        assert _validate.known_vectors(np.array([[np.inf, 0], [1, -65504]], np.float16)).tolist() == [False, True]


@pytest.mark.parametrize("error", [ValueError, TypeError, FileNotFoundError, IsADirectoryError])
def test_renaming_names_the_callers_parameter(error):
    # a weights folder given as model= said "weights: ... is a folder" (IsADirectoryError
    # passed unchanged)
    with pytest.raises(error, match=r"^model: 'x' is a folder$"):
        with _validate.renaming("weights", "model"):
            raise error("weights: 'x' is a folder")
    with pytest.raises(PermissionError, match=r"^weights: denied$"):  # other types pass as raised
        with _validate.renaming("weights", "model"):
            raise PermissionError("weights: denied")


@pytest.mark.parametrize("call", [
    lambda fk, img, flow: fk.splat(None, flow), lambda fk, img, flow: fk.splat(img, None),
    lambda fk, img, flow: fk.warp(None, flow), lambda fk, img, flow: fk.fill_holes(None, None),
    lambda fk, img, flow: fk.extrapolate(None, flow, 3),
    lambda fk, img, flow: fk.good_features(None), lambda fk, img, flow: fk.smooth_flow(None),
    lambda fk, img, flow: fk.flow_to_color(None)])
def test_none_for_an_array_is_named_as_given(call):
    """None (as a number or a path) where an array goes: 'expected an array, got None', the
    message farneback and predict give, not a 0-D array's ndim or dtype (a new user's report)."""
    import flowkit

    img = np.zeros((6, 7), np.float32)
    with pytest.raises(TypeError, match=r"^\w+: expected an array, got None$"):
        call(flowkit, img, np.zeros((6, 7, 2), np.float32))


@pytest.mark.parametrize("dtype", [">f4", ">f8", ">u2"])
def test_arrays_in_the_other_byte_order_give_the_native_result(dtype):
    """A big-endian array (read from a file so written) is used as the native one: splat and
    warp raised Numba's TypingError (a new user's report)."""
    import flowkit

    rng = np.random.default_rng(3)
    native = (rng.random((9, 11)) * 1000).astype(np.dtype(dtype).newbyteorder("="))
    flow = rng.uniform(-2, 2, (9, 11, 2)).astype(np.float32)
    swapped = native.astype(dtype)
    for function in (flowkit.splat, flowkit.warp):
        np.testing.assert_array_equal(function(swapped, flow), function(native, flow))
        np.testing.assert_array_equal(function(native, flow.astype(">f4")), function(native, flow))


def test_array_likes_in_the_other_byte_order_give_the_native_result():
    """A PIL image of mode I;16B (a big-endian 16-bit PNG or TIFF) is a '>u2' array to
    np.asarray: only NumPy arrays were brought to the native order, so warp raised Numba's
    TypingError and fill_holes and interpolate returned '>u2' arrays (found passing PIL
    images)."""
    import flowkit

    image_module = pytest.importorskip("PIL.Image")
    native = (np.random.default_rng(4).random((9, 11)) * 65535).astype(np.uint16)
    image = image_module.frombytes("I;16B", (11, 9), native.astype(">u2").tobytes())
    assert np.asarray(image).dtype == ">u2"
    flow = np.full((9, 11, 2), 0.5, np.float32)
    for call in (lambda x: flowkit.warp(x, flow), lambda x: flowkit.fill_holes(x, native > 60000),
                 lambda x: flowkit.interpolate(x, x, flow01=flow, flow10=-flow)):
        result, expected = call(image), call(native)
        assert result.dtype == np.uint16
        np.testing.assert_array_equal(result, expected)


def test_zero_d_arrays_count_as_their_number_as_numpy_takes_them():
    # np.array(3) is an integer where NumPy wants one (operator.index), so the integer and
    # real parameters take it as their plain number; other shapes and types stay errors
    assert _validate.check_int("steps", np.array(3), min_value=1) == 3
    assert _validate.check_float("max_flow", np.array(2.5), low=0) == 2.5
    image, flow = np.arange(48, dtype=np.float32).reshape(6, 8), np.zeros((6, 8, 2), np.float32)
    flow[..., 0] = 20  # every sample past the right edge: the border value
    assert np.all(flowkit.warp(image, flow, border="constant", border_value=np.array(3)) == 3)
    steps = flowkit.extrapolate(image, flow, np.array(2))
    assert steps.shape == (2, 6, 8)
    for bad in (np.array(2.5), np.array([2]), np.array(True)):
        with pytest.raises(TypeError, match="steps: expected an integer"):
            flowkit.extrapolate(image, flow, bad)
    with pytest.raises(TypeError, match="border_value: expected a real number"):
        flowkit.warp(image, flow, border_value=np.array(True))


def test_numpy_scalars_are_described_by_dtype_and_value():
    assert _validate.describe(np.float64(2.5)) == "float64 2.5"
    assert _validate.describe(np.array(3, np.int16)) == "int16 3"
    assert _validate.describe(np.zeros((2, 3), np.float32)) == "ndarray of shape (2, 3) and dtype float32"
    with pytest.raises(TypeError, match=r"^horizon: expected an integer, got float64 2\.5$"):
        flowkit.predict(np.zeros((2, 8, 8), np.float32), np.float64(2.5))


@pytest.mark.parametrize("name, call", [
    ("n_iter", lambda fk, img, flow, v: fk.extrapolate(img, flow, 2, n_iter=v)),
    ("max_corners", lambda fk, img, flow, v: fk.good_features(img, max_corners=v)),
    ("win_size", lambda fk, img, flow, v: fk.lucas_kanade_sparse(img, img, [[3.0, 3.0]],
                                                                 win_size=v)),
    ("size", lambda fk, img, flow, v: fk.smooth_flow(flow, size=v)),
])
@pytest.mark.parametrize("value", [2 ** 63, 2 ** 63 + 1, 10 ** 30])
def test_integer_options_beyond_int64_are_refused_naming_the_option(name, call, value):
    """An integer option above the largest int64 is a ValueError naming it: extrapolate's
    n_iter=2**63 raised Numba's OverflowError, good_features' max_corners=2**63+1 a Numba
    typing error, lucas_kanade_sparse's win_size NumPy's OverflowError, and n_iter=2**63+1
    wrapped around to a small count that ran (found by trying huge options)."""
    import flowkit

    img = np.random.default_rng(0).random((12, 13)).astype(np.float32)
    flow = np.zeros((12, 13, 2), np.float32)
    with pytest.raises(ValueError, match=rf"^{name}: expected an integer <= {2 ** 63 - 1}, "
                                         rf"got {value}$"):
        call(flowkit, img, flow, value)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64])
def test_signed_integer_frames_are_refused_saying_how_to_pass_them(dtype):
    # CT's int16 (Hounsfield units) or FITS' int16/int32 got only the list of dtypes; the
    # message now says to convert to float32, which the estimators read in any range
    frame = np.arange(64 * 64, dtype=dtype).reshape(64, 64) % 100 - 50
    with pytest.raises(TypeError, match=rf"frame0: expected dtype uint8, uint16, float16, "
                       rf"float32 or float64, got {np.dtype(dtype).name} \(signed integers .*"
                       rf"\.astype\(np\.float32\)"):
        flowkit.dis(frame, frame)
    flow = flowkit.dis(frame.astype(np.float32), np.roll(frame, 1, axis=1).astype(np.float32))
    assert flow.shape == (64, 64, 2)


def test_unsigned_wide_and_bool_frames_get_no_signed_hint():
    for dtype in (np.uint32, np.bool_):
        frame = np.zeros((16, 16), dtype)
        with pytest.raises(TypeError) as error:
            flowkit.warp(frame, np.zeros((16, 16, 2), np.float32))
        assert "signed" not in str(error.value) and np.dtype(dtype).name in str(error.value)
