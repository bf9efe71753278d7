"""flowkit.warp against a float64 NumPy reference, cv2.remap, and its own invariants."""

import cv2
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import flowkit
from flowkit import warp

INTERPOLATIONS = ("nearest", "linear", "cubic")
BORDERS = ("constant", "replicate", "reflect", "reflect101", "wrap")
CV_INTER = {"nearest": cv2.INTER_NEAREST, "linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC}
CV_BORDER = {"constant": cv2.BORDER_CONSTANT, "replicate": cv2.BORDER_REPLICATE,
             "reflect": cv2.BORDER_REFLECT, "reflect101": cv2.BORDER_REFLECT_101,
             "wrap": cv2.BORDER_WRAP}


# ---------------------------------------------------------------- float64 NumPy reference

def _border_map(i, n, border):
    """Indices mapped into [0, n) by OpenCV's border rules; -1 where the constant applies."""
    if border == "constant":
        return np.where((i >= 0) & (i < n), i, -1)
    if border == "replicate":
        return np.clip(i, 0, n - 1)
    if border == "reflect":
        m = np.mod(i, 2 * n)
        return np.where(m < n, m, 2 * n - 1 - m)
    if border == "reflect101":
        if n == 1:
            return np.zeros_like(i)
        m = np.mod(i, 2 * n - 2)
        return np.where(m < n, m, 2 * n - 2 - m)
    return np.mod(i, n)  # wrap


def _keys(t, a=-0.75):
    """Keys' cubic convolution kernel (OpenCV's INTER_CUBIC uses a = -0.75)."""
    t = np.abs(t)
    near = (a + 2) * t**3 - (a + 3) * t**2 + 1
    far = a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a
    return np.where(t <= 1, near, np.where(t < 2, far, 0.0))


def reference_warp(image, flow, interpolation="linear", border="replicate", border_value=0.0):
    """Backward warp of one (H, W[, C]) image in float64: returns (values, mask).

    The flow's grid may differ in size from the image (positions are grid + flow)."""
    img = np.asarray(image, np.float64)
    gray = img.ndim == 2
    if gray:
        img = img[..., None]
    h, w = img.shape[:2]
    u = flow[..., 0].astype(np.float64)
    v = flow[..., 1].astype(np.float64)
    unknown = ~(np.abs(u) < 1e9) | ~(np.abs(v) < 1e9)
    gy, gx = np.mgrid[0:flow.shape[0], 0:flow.shape[1]].astype(np.float64)
    px = np.where(unknown, 0.0, gx + u)
    py = np.where(unknown, 0.0, gy + v)
    if interpolation == "nearest":
        x0, y0 = np.rint(px), np.rint(py)  # ties to even
        offsets = [0]
        wx = [np.ones_like(px)]
        wy = [np.ones_like(py)]
    else:
        x0, y0 = np.floor(px), np.floor(py)
        fx, fy = px - x0, py - y0
        if interpolation == "linear":
            offsets = [0, 1]
            wx, wy = [1 - fx, fx], [1 - fy, fy]
        else:
            offsets = [-1, 0, 1, 2]
            wx = [_keys(fx - k) for k in offsets]
            wy = [_keys(fy - k) for k in offsets]
    x0 = x0.astype(np.int64)
    y0 = y0.astype(np.int64)
    out = np.zeros(flow.shape[:2] + img.shape[2:])
    for j, dy in enumerate(offsets):
        ry = _border_map(y0 + dy, h, border)
        for k, dx in enumerate(offsets):
            rx = _border_map(x0 + dx, w, border)
            outside = (ry < 0) | (rx < 0)
            taps = img[np.maximum(ry, 0), np.maximum(rx, 0)]
            taps[outside] = border_value
            weight = (wy[j] * wx[k])[..., None]
            out += np.where(weight != 0, weight * taps, 0.0)
    out[unknown] = border_value
    mask = ~unknown & (px >= 0) & (px <= w - 1) & (py >= 0) & (py <= h - 1)
    return (out[..., 0] if gray else out), mask


def smooth_image(h, w, channels=None, seed=0):
    rng = np.random.default_rng(seed)
    shape = (h, w) if channels is None else (h, w, channels)
    image = cv2.GaussianBlur(rng.random(shape), (0, 0), 1.5)
    image -= image.min()
    return image / image.max()


def wild_flow(h, w, seed=0, scale=6.0):
    """Flow sending many samples past every border, with a few exact ties (k + 0.5)."""
    rng = np.random.default_rng(seed)
    flow = rng.uniform(-scale, scale, (h, w, 2)).astype(np.float32)
    flow[::5, ::3] = np.round(flow[::5, ::3]) + 0.5
    flow[1::7, 2::5] = np.round(flow[1::7, 2::5])
    return flow


# ---------------------------------------------------------------- against the reference

@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize("border", BORDERS)
def test_matches_float64_reference(interpolation, border):
    """float64 within 1e-12 and float32 within 1e-5 of a [0, 1] range (the float32 blend
    of float32 weights rounds at ~1e-7 per operation); masks equal."""
    image = smooth_image(19, 23, channels=3, seed=1)
    flow = wild_flow(19, 23, seed=2)
    expected, expected_mask = reference_warp(image, flow, interpolation, border, 0.25)
    got, mask = warp(image, flow, interpolation=interpolation, border=border,
                     border_value=0.25, return_mask=True)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(mask, expected_mask)
    got32 = warp(image[..., 0].astype(np.float32), flow, interpolation=interpolation,
                 border=border, border_value=0.25)
    expected32, _ = reference_warp(image[..., 0].astype(np.float32), flow, interpolation,
                                   border, 0.25)
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, expected32, rtol=0, atol=1e-5)


@pytest.mark.parametrize("border", ["replicate", "constant"])
def test_gray_bilinear_fast_paths_match_the_reference(border):
    """One-channel bilinear rows (uint8: AVX2 gathers 8 pixels at a time where available,
    float32: the scalar blend) where fast pixels, border pixels and unknown flow alternate,
    at a width that is not a multiple of 8 (the gathers' remainder) and with a row whose every
    pixel takes the general path: float32 within 1e-5, uint8 the rounded reference within
    one level, masks equal, and the same outputs at 1 and 2 threads."""
    h, w = 13, 37
    rng = np.random.default_rng(11)
    flow = wild_flow(h, w, seed=12, scale=3.0)
    flow[2, ::4] = np.nan                 # unknown flow between fast pixels
    flow[5, 1::3, 0] = 1e9
    flow[8] = (-40.0, 0.0)                # a whole row outside the image
    image = smooth_image(h, w, seed=13)
    expected, expected_mask = reference_warp(image, flow, "linear", border, 0.25)
    image8 = rng.integers(0, 256, (h, w)).astype(np.uint8)
    expected8, _ = reference_warp(image8, flow, "linear", border, 7.0)
    threads = flowkit.get_num_threads()
    runs = []
    try:
        for n in (1, 2):
            flowkit.set_num_threads(n)
            runs.append(warp(image.astype(np.float32), flow, border=border, border_value=0.25,
                             return_mask=True) + (warp(image8, flow, border=border, border_value=7),))
    finally:
        flowkit.set_num_threads(threads)
    (got, mask, got8), again = runs
    for a, b in zip(runs[0], again):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(mask, expected_mask)
    assert np.abs(got8.astype(np.int64) - np.clip(np.rint(expected8), 0, 255)).max() <= 1


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_integer_images_round_the_reference(interpolation):
    """uint8/uint16: the float reference rounded and saturated, off by at most one level
    (only where the float32 blend lands within a hair of a .5 tie)."""
    rng = np.random.default_rng(3)
    flow = wild_flow(17, 21, seed=4)
    for dtype, top in ((np.uint8, 255), (np.uint16, 65535)):
        image = rng.integers(0, top + 1, (17, 21, 2)).astype(dtype)
        expected, _ = reference_warp(image, flow, interpolation, "reflect101")
        expected = np.clip(np.rint(expected), 0, top)
        got = warp(image, flow, interpolation=interpolation, border="reflect101")
        assert got.dtype == dtype
        diff = np.abs(got.astype(np.int64) - expected)
        assert diff.max() <= 1
        assert np.mean(diff == 0) > 0.99


def test_cubic_overshoot_saturates():
    image = np.zeros((8, 8), np.uint8)
    image[:, 4:] = 255
    flow = np.zeros((8, 8, 2), np.float32)
    flow[..., 0] = 0.5
    got = warp(image, flow, interpolation="cubic").astype(int)
    expected, _ = reference_warp(image, flow, "cubic")
    np.testing.assert_array_equal(got, np.clip(np.rint(expected), 0, 255))
    assert expected.max() > 255 and expected.min() < 0  # the case exercises saturation


# ---------------------------------------------------------------- against cv2.remap

def _cv_remap(image, flow, interpolation, border, border_value=0):
    h, w = flow.shape[:2]
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    return cv2.remap(image, gx + flow[..., 0], gy + flow[..., 1], CV_INTER[interpolation],
                     borderMode=CV_BORDER[border], borderValue=border_value)


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize("border", BORDERS)
def test_matches_cv2_remap(interpolation, border):
    """float32 within 1e-5 (OpenCV 5 blends float32 with exact weights; older OpenCV
    quantises positions to 1/32 px, which would need ~grad/64); uint8 within one level.
    Flow is smooth here so that cv2's map (x + u rounded to float32) does not land on the
    other side of a nearest-neighbour tie."""
    h, w = 18, 22
    rng = np.random.default_rng(5)
    flow = cv2.GaussianBlur(rng.uniform(-5, 5, (h, w, 2)), (0, 0), 2).astype(np.float32) * 3
    image = smooth_image(h, w, channels=3, seed=6).astype(np.float32)
    got = warp(image, flow, interpolation=interpolation, border=border, border_value=0.5)
    np.testing.assert_allclose(got, _cv_remap(image, flow, interpolation, border, (0.5,) * 3),
                               rtol=0, atol=1e-5)
    image8 = np.round(image * 255).astype(np.uint8)
    got8 = warp(image8, flow, interpolation=interpolation, border=border, border_value=128)
    ref8 = _cv_remap(image8, flow, interpolation, border, (128,) * 3)
    assert np.abs(got8.astype(int) - ref8).max() <= 1
    # one channel (its own fast path)
    gray8 = np.ascontiguousarray(image8[..., 1])
    got = warp(gray8, flow, interpolation=interpolation, border=border, border_value=128)
    assert np.abs(got.astype(int) - _cv_remap(gray8, flow, interpolation, border, 128)).max() <= 1


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_border_value_per_channel_as_cv2_remap(interpolation):
    """A sequence is one value per channel (cv2.remap's borderValue); each channel equals a
    warp of that channel alone with its value, and uint8 matches cv2 within one level."""
    h, w = 18, 22
    rng = np.random.default_rng(7)
    flow = cv2.GaussianBlur(rng.uniform(-5, 5, (h, w, 2)), (0, 0), 2).astype(np.float32) * 3
    flow[3, 4] = np.nan  # unknown: the border value too
    image8 = np.round(smooth_image(h, w, channels=3, seed=8) * 255).astype(np.uint8)
    value = (255, 0, 40)
    got, mask = warp(image8, flow, interpolation=interpolation, border="constant",
                     border_value=value, return_mask=True)
    for c in range(3):
        alone = warp(image8[..., c:c + 1], flow, interpolation=interpolation, border="constant",
                     border_value=value[c])
        np.testing.assert_array_equal(got[..., c:c + 1], alone)
    np.testing.assert_array_equal(mask, warp(image8, flow, return_mask=True)[1])
    np.testing.assert_array_equal(got[3, 4], value)
    finite = np.nan_to_num(flow, nan=1e6)  # cv2: far outside the image
    ref = _cv_remap(image8, finite, interpolation, "constant", value)
    assert np.abs(got.astype(int) - ref).max() <= 1
    # equal values are the scalar case; a NaN channel of a float image stays NaN outside only
    np.testing.assert_array_equal(warp(image8, flow, border="constant", border_value=[7, 7, 7]),
                                  warp(image8, flow, border="constant", border_value=7))
    image = image8.astype(np.float32) / 255
    nan_red = warp(image, flow, border="constant", border_value=(np.nan, 0.0, 0.0))
    assert np.isnan(nan_red[..., 0]).any() and not np.isnan(nan_red[..., 1:]).any()
    np.testing.assert_array_equal(np.isnan(nan_red[..., 0]),
                                  np.isnan(warp(image[..., 0], flow, border="constant",
                                                border_value=np.nan)))


# ---------------------------------------------------------------- invariants

@settings(max_examples=25, deadline=None)
@given(h=st.integers(1, 12), w=st.integers(1, 12), interpolation=st.sampled_from(INTERPOLATIONS),
       border=st.sampled_from(BORDERS), seed=st.integers(0, 2**16))
def test_zero_flow_is_identity(h, w, interpolation, border, seed):
    image = np.random.default_rng(seed).random((h, w)).astype(np.float32)
    got, mask = warp(image, np.zeros((h, w, 2), np.float32), interpolation=interpolation,
                     border=border, return_mask=True)
    np.testing.assert_array_equal(got, image)
    assert mask.all()


@settings(max_examples=25, deadline=None)
@given(dx=st.integers(-40, 40), dy=st.integers(-40, 40),
       interpolation=st.sampled_from(INTERPOLATIONS))
def test_integer_translation_with_wrap_is_roll(dx, dy, interpolation):
    image = np.random.default_rng(7).integers(0, 256, (9, 13, 3)).astype(np.uint8)
    flow = np.empty((9, 13, 2), np.float32)
    flow[..., 0] = dx
    flow[..., 1] = dy
    got = warp(image, flow, interpolation=interpolation, border="wrap")
    np.testing.assert_array_equal(got, np.roll(image, (-dy, -dx), axis=(0, 1)))


def test_mask_edges_and_unknown_flow():
    image = np.arange(20, dtype=np.float32).reshape(4, 5)
    flow = np.zeros((4, 5, 2), np.float32)
    flow[0, 0] = (4.0, 3.0)         # exactly the last pixel: inside
    flow[0, 1] = (-1.0000001, 0.0)  # just left of the image: outside
    flow[0, 2] = (np.nan, 0.0)
    flow[0, 3] = (0.0, 1e9)         # Middlebury's unknown marker
    flow[0, 4] = (np.inf, 0.0)
    flow[1, 0] = (-1e-6, 0.0)       # tiny negative: outside, value ~ image[1, 0]
    got, mask = warp(image, flow, border="constant", border_value=-7, return_mask=True)
    assert mask[0, 0] and got[0, 0] == 19
    assert not mask[0, 1]
    np.testing.assert_array_equal(got[0, 2:], -7)
    assert not mask[0, 2:].any()
    assert not mask[1, 0] and abs(got[1, 0] - 5) < 1e-4
    assert mask[1:, 1:].all()
    nan_border = warp(image, flow, border="constant", border_value=np.nan)
    assert np.isnan(nan_border[0, 2]) and nan_border[0, 0] == 19  # weight-0 taps not read


def test_far_positions_fold_or_clamp():
    """Huge displacements must not overflow the float-to-int conversion: periodic borders
    fold them exactly, the others see the border."""
    image = np.random.default_rng(8).random((6, 7))
    flow = np.zeros((6, 7, 2), np.float32)
    flow[..., 0] = 7 * 2**26  # a multiple of the wrap period 7
    np.testing.assert_array_equal(warp(image, flow, border="wrap"), image)
    flow[..., 0] = 3e8
    for border in ("replicate", "constant", "reflect", "reflect101"):
        expected, _ = reference_warp(image, flow, "linear", border, 0.5)
        np.testing.assert_allclose(warp(image, flow, border=border, border_value=0.5),
                                   expected, atol=1e-12)


@pytest.mark.parametrize("border", ["reflect", "reflect101", "wrap"])
def test_cubic_folds_each_tap_far_outside(border):
    """Cubic taps more than one image size outside fold by the border's period, as the
    linear ones: cv2.remap folds them once only and reads other pixels there (up to 1 off on
    a [0, 1] image, docs/api.md), so the reference is the float64 one."""
    image = np.random.default_rng(10).random((20, 24)).astype(np.float32)
    flow = np.zeros((20, 24, 2), np.float32)
    flow[..., 0], flow[..., 1] = 50.3, -25.15
    expected, _ = reference_warp(image, flow, "cubic", border)
    np.testing.assert_allclose(warp(image, flow, interpolation="cubic", border=border), expected,
                               atol=1e-6)


def test_backward_warp_reproduces_frame0():
    """flowkit.sample_pair: frame0[y, x] = frame1[y + v, x + u] exactly for spline-resampled
    frames, so warping frame1 back gives frame0 up to interpolation error (mean < 1 level
    for linear, better for cubic)."""
    frame0, frame1, flow = flowkit.sample_pair(64, 80)
    errors = {}
    for interpolation in ("linear", "cubic"):
        back, valid = warp(frame1, flow, interpolation=interpolation, return_mask=True)
        errors[interpolation] = np.abs(back.astype(float) - frame0)[valid].mean()
        assert valid.mean() > 0.8
    assert errors["cubic"] < errors["linear"] < 1.0


# ---------------------------------------------------------------- layouts and dtypes

def test_batches_and_shared_flows():
    rng = np.random.default_rng(9)
    images = rng.random((3, 10, 12, 2)).astype(np.float32)
    flows = rng.uniform(-3, 3, (3, 10, 12, 2)).astype(np.float32)
    one = [warp(images[i], flows[i]) for i in range(3)]
    np.testing.assert_array_equal(warp(images, flows), np.stack(one))
    # a single flow for the whole batch, color and gray
    shared = np.stack([warp(images[i], flows[0]) for i in range(3)])
    np.testing.assert_array_equal(warp(images, flows[0]), shared)
    np.testing.assert_array_equal(warp(images[..., 0], flows[0]), shared[..., 0])
    # (N, H, W) with (N, H, W, 2) is a gray batch, even when W <= 4 could mean channels
    gray = rng.random((3, 5, 4)).astype(np.float32)
    gflow = rng.uniform(-1, 1, (3, 5, 4, 2)).astype(np.float32)
    out, mask = warp(gray, gflow, return_mask=True)
    assert out.shape == (3, 5, 4) and mask.shape == (3, 5, 4)
    np.testing.assert_array_equal(out[1], warp(gray[1], gflow[1]))
    # one image, a batch of flows: one output per flow
    out, mask = warp(images[0], flows, return_mask=True)
    assert out.shape == (3, 10, 12, 2) and mask.shape == (3, 10, 12)
    np.testing.assert_array_equal(out[2], warp(images[0], flows[2]))
    # mask of a shared flow has the flow's shape
    assert warp(images, flows[0], return_mask=True)[1].shape == (10, 12)


def test_float16_and_float64_flow():
    rng = np.random.default_rng(10)
    image = rng.random((9, 11)).astype(np.float16)
    flow = rng.uniform(-2, 2, (9, 11, 2))
    got = warp(image, flow)
    assert got.dtype == np.float16
    expected = warp(image.astype(np.float32), flow.astype(np.float32)).astype(np.float16)
    np.testing.assert_array_equal(got, expected)
    exact, _ = reference_warp(image.astype(np.float64), flow)
    np.testing.assert_allclose(warp(image.astype(np.float64), flow), exact, atol=1e-12)
    np.testing.assert_array_equal(warp(image, flow.astype(np.float16)),
                                  warp(image, flow.astype(np.float16).astype(np.float32)))


def test_nested_lists_are_arrays():
    image = np.arange(12.0).reshape(3, 4)
    flow = np.full((3, 4, 2), 0.5)
    np.testing.assert_array_equal(warp(image.tolist(), flow.tolist()), warp(image, flow))


def test_non_contiguous_and_read_only_inputs():
    rng = np.random.default_rng(11)
    big = rng.random((20, 30, 3)).astype(np.float32)
    image = big[::2, ::3, 1]                       # strided view
    flow = rng.uniform(-2, 2, (2, 10, 10)).astype(np.float32).transpose(1, 2, 0)  # strides
    expected = warp(np.ascontiguousarray(image), np.ascontiguousarray(flow))
    np.testing.assert_array_equal(warp(image, flow), expected)
    ro_image = np.ascontiguousarray(image)
    ro_flow = np.ascontiguousarray(flow)
    ro_image.flags.writeable = False
    ro_flow.flags.writeable = False
    np.testing.assert_array_equal(warp(ro_image, ro_flow), expected)


# ---------------------------------------------------------------- bad input

IMG = np.zeros((6, 7), np.float32)
FLOW = np.zeros((6, 7, 2), np.float32)


F32 = np.float32
BAD_INPUT = [
    (dict(image=np.zeros(7, F32)), ValueError,
     r"image: expected 2-D or 3-D or 4-D array, got 1-D"),
    (dict(image=np.zeros((1, 1, 6, 7, 1), F32)), ValueError, r"image: expected .*got 5-D"),
    (dict(image=None), TypeError, r"image: expected an array, got None"),
    (dict(image="frame.png"), TypeError, r"image: expected an array, got 'frame.png'"),
    (dict(flow=None), TypeError, r"flow: expected an array, got None"),
    (dict(flow=np.zeros((6, 7), F32)), ValueError,
     r"flow: expected shape \(H, W, 2\) or \(N, H, W, 2\), got \(6, 7\)"),
    (dict(flow=np.zeros((6, 7, 3), F32)), ValueError, r"flow: expected shape .*got \(6, 7, 3\)"),
    (dict(flow=np.zeros((7, 6, 2), F32)), ValueError,
     r"flow: expected shape .*matching image of shape \(6, 7\).*got \(7, 6, 2\)"),
    (dict(image=np.zeros((2, 6, 7, 1), F32), flow=np.zeros((3, 6, 7, 2), F32)), ValueError,
     r"flow: .*matching image of shape \(2, 6, 7, 1\)"),
    (dict(flow=np.zeros((6, 7, 2), np.int32)), TypeError,
     r"flow: expected a float dtype .*got int32"),
    (dict(image=np.zeros((0, 7), F32)), ValueError,
     r"image: expected a non-empty array, got shape \(0, 7\)"),
    (dict(flow=np.zeros((0, 7, 2), F32)), ValueError, r"flow: expected a non-empty array"),
    (dict(image=np.zeros((6, 7), bool)), TypeError, r"image: expected dtype uint8, .* got bool"),
    (dict(image=np.zeros((6, 7), np.complex64)), TypeError,
     r"image: expected dtype .* got complex64"),
    (dict(image=np.zeros((6, 7), object)), TypeError, r"image: expected dtype .* got object"),
    (dict(interpolation="bilinear"), ValueError,
     r"interpolation: expected one of 'nearest', 'linear', 'cubic', got 'bilinear'"),
    (dict(border="mirror"), ValueError, r"border: expected one of 'constant', .*got 'mirror'"),
    (dict(border_value="zero"), TypeError,
     r"border_value: expected a real number or one per channel, got 'zero'"),
    (dict(border_value=(1, 2)), ValueError,
     r"border_value: expected a number or 1 \(one per channel of image\), got 2 values \(1, 2\)"),
    (dict(image=np.zeros((6, 7, 3), np.uint8), border_value=(0, np.nan, 0)), ValueError,
     r"border_value: expected a finite number for uint8 images, got nan"),
    (dict(image=np.zeros((6, 7), np.uint8), border_value=np.nan), ValueError,
     r"border_value: expected a finite number for uint8 images, got nan"),
    (dict(return_mask="yes"), TypeError, r"return_mask: expected a bool, got 'yes'"),
    (dict(device="gpu"), ValueError,
     r"device: expected one of 'cpu', 'cuda' or None, got 'gpu'"),
]


@pytest.mark.parametrize("kwargs, error, match", BAD_INPUT)
def test_bad_input(kwargs, error, match, monkeypatch):
    from flowkit.kernels import warp as kernel

    def no_kernel(*args):  # every check must fire before a kernel runs
        raise AssertionError("kernel ran")

    monkeypatch.setattr(kernel, "warp_cpu", no_kernel)
    args = dict(image=IMG, flow=FLOW) | kwargs
    with pytest.raises(error, match=match):
        warp(args.pop("image"), args.pop("flow"), **args)


# ---------------------------------------------------------------- CUDA (simulator in CI)

_CUDA_DTYPES = (np.float32, np.uint8, np.float64, np.uint16)


@pytest.mark.parametrize("interpolation, border, dtype", [
    (i, b, _CUDA_DTYPES[(3 * k + m) % 4])
    for k, i in enumerate(INTERPOLATIONS) for m, b in enumerate(BORDERS)])
def test_cuda_matches_cpu(interpolation, border, dtype):
    pytest.importorskip("numba.cuda")
    h, w = 16, 20
    scale = {np.uint8: 255, np.uint16: 60000}.get(dtype, 1)
    image = (smooth_image(h, w, channels=2, seed=13) * scale).astype(dtype)
    flow = wild_flow(h, w, seed=14, scale=4.0)
    flow[3, 4] = np.nan
    kwargs = dict(interpolation=interpolation, border=border, border_value=0.75,
                  return_mask=True)
    got, mask = warp(image, flow, device="cuda", **kwargs)
    expected, expected_mask = warp(image, flow, **kwargs)
    assert type(got) is np.ndarray and got.dtype == dtype
    if dtype in (np.uint8, np.uint16):  # CPU blends float32, the CUDA path float64
        assert np.abs(got.astype(np.int64) - expected).max() <= 1
    else:
        atol = 1e-6 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got, expected, rtol=0, atol=atol)
    np.testing.assert_array_equal(mask, expected_mask)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("interpolation", ["linear", "cubic"])
def test_cuda_integer_rounding_and_saturation_are_exact(interpolation, dtype):
    """CUDA's integer outputs where the blend is exact in float32 and float64 alike (half-pixel
    flows: bilinear weights 1/2, Keys' 19/32 and -3/32): the float64 reference rounded (ties
    to even) and saturated at 0 and the dtype's top, exactly, on the CPU and through CUDA.
    test_cuda_matches_cpu allows one level (the CPU blends float32), which hid a CUDA rounding
    by floor or a saturation at top - 1."""
    pytest.importorskip("numba.cuda")
    top = np.iinfo(dtype).max
    row = np.array([0, 1, 2, 3, top, top, top, 0, 0, top, 5, 6], dtype)
    image = np.tile(row, (6, 1))
    flow = np.zeros(image.shape + (2,), np.float32)
    flow[..., 0] = 0.5
    flow[1::2, :, 1] = 0.5
    expected, _ = reference_warp(image, flow, interpolation)
    expected = np.clip(np.rint(expected), 0, top)
    assert expected.max() == top and expected.min() == 0  # the cubic overshoot saturates
    if interpolation == "linear":
        assert (expected[0, :3] == [0, 2, 2]).all()  # ties to even: 0.5, 1.5, 2.5
    np.testing.assert_array_equal(warp(image, flow, interpolation=interpolation), expected)
    got = warp(image, flow, interpolation=interpolation, device="cuda")
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, expected)


def test_cuda_batch_with_shared_flow():
    pytest.importorskip("numba.cuda")
    rng = np.random.default_rng(15)
    images = rng.random((2, 8, 9)).astype(np.float32)
    flow = rng.uniform(-3, 3, (8, 9, 2)).astype(np.float32)
    got, mask = warp(images, flow, device="cuda", return_mask=True)
    expected, expected_mask = warp(images, flow, return_mask=True)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    np.testing.assert_array_equal(mask, expected_mask)


@pytest.mark.parametrize("channels", [0, 1, 2, 3, 4])
def test_warp_linear_equals_warp(channels, monkeypatch):
    """The internal default-mode warp (_warp.warp_linear: kernels.warp.warp_linear_cpu over
    warp_row_linear_replicate) gives flowkit.warp's values bit for bit: float32 images of 1-4
    channels (gray and RGB take the vectorised rows, 2 and 4 the bilinear loop), flows reaching
    past every border, unknown vectors (NaN, inf, 1e9), at 1, 2 and 3 threads; other dtypes go
    to warp itself."""
    from flowkit._warp import warp_linear
    from flowkit.kernels import parallel

    rng = np.random.default_rng(channels)
    h, w = 37, 1100  # wide enough for several bands
    shape = (h, w, channels) if channels else (h, w)
    image = rng.random(shape).astype(np.float32)
    flow = rng.normal(0, 6, (h, w, 2)).astype(np.float32)
    flow[3, 4] = np.nan
    flow[5, 6, 0] = np.inf
    flow[7, 8, 1] = -1e9
    expected = flowkit.warp(image, flow)
    for threads in (1, 2, 3):
        with monkeypatch.context() as patch:
            patch.setattr(parallel.numba, "get_num_threads", lambda n=threads: n)
            got = warp_linear(image, flow)
        assert got.shape == expected.shape and got.dtype == np.float32
        np.testing.assert_array_equal(got, expected)
    as_uint8 = (image * 255).astype(np.uint8)
    np.testing.assert_array_equal(warp_linear(as_uint8, flow), flowkit.warp(as_uint8, flow))
