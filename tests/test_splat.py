"""flowkit.splat against a float64 NumPy reference (np.add.at), analytic cases and itself."""

import numba
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import flowkit
from flowkit import splat

MODES = ("sum", "average", "softmax")


# ---------------------------------------------------------------- float64 NumPy reference

def reference_splat(image, flow, mode="average", metric=None):
    """Bilinear forward splatting of one (H, W[, C]) image in float64: (result, weight).

    Unknown flow (NaN, inf, |component| >= 1e9) is dropped; holes (weight 0) are NaN."""
    img = np.asarray(image, np.float64)
    gray = img.ndim == 2
    if gray:
        img = img[..., None]
    h, w = img.shape[:2]
    u = flow[..., 0].astype(np.float64)
    v = flow[..., 1].astype(np.float64)
    known = (np.abs(u) < 1e9) & (np.abs(v) < 1e9)
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float64)
    px = np.where(known, gx + u, -10.0)
    py = np.where(known, gy + v, -10.0)
    x0 = np.floor(px).astype(np.int64)
    y0 = np.floor(py).astype(np.int64)
    fx, fy = px - x0, py - y0
    factor = np.ones((h, w))
    if mode == "softmax":
        factor = np.exp(metric.astype(np.float64) - metric.max())
    acc = np.zeros(img.shape)
    norm = np.zeros((h, w))
    weight = np.zeros((h, w))
    for j in (0, 1):
        for i in (0, 1):
            wt = (fx if i else 1 - fx) * (fy if j else 1 - fy)
            tx, ty = x0 + i, y0 + j
            ok = known & (tx >= 0) & (tx < w) & (ty >= 0) & (ty < h) & (wt > 0)
            np.add.at(weight, (ty[ok], tx[ok]), wt[ok])
            np.add.at(norm, (ty[ok], tx[ok]), (wt * factor)[ok])
            np.add.at(acc, (ty[ok], tx[ok]), (wt * factor)[ok][:, None] * img[ok])
    out = acc if mode == "sum" else acc / np.where(norm > 0, norm, 1)[..., None]
    out[weight == 0] = np.nan
    return (out[..., 0] if gray else out), weight


def random_flow(h, w, seed=0, scale=3.0):
    """Sub-pixel flow sending samples past every border, with a few whole-pixel vectors."""
    rng = np.random.default_rng(seed)
    flow = rng.uniform(-scale, scale, (h, w, 2)).astype(np.float32)
    flow[1::7, 2::5] = np.round(flow[1::7, 2::5])
    return flow


def converging_flow(h, w, strength=0.9):
    """Every pixel pulled towards the centre: many sources land on the same targets."""
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    flow = np.empty((h, w, 2), np.float32)
    flow[..., 0] = (w / 2 - gx) * strength + 0.37
    flow[..., 1] = (h / 2 - gy) * strength + 0.21
    return flow


def assert_holes_match(got, expected):
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))


# ---------------------------------------------------------------- against the reference

@pytest.mark.parametrize("mode, metric_sd", [("sum", 0), ("average", 0), ("softmax", 4.0),
                                             ("softmax", 1.0)])
@pytest.mark.parametrize("channels", [None, 2, 3, 4])
def test_matches_float64_reference(mode, metric_sd, channels):
    """float32 within 1e-5 (relative to the values, which are in [0, 1]; the float32 weights
    and sums round at ~1e-7 per operation), float64 within 1e-12; holes and weights equal.
    Four channels run the general per-tap path, gray, 2 (flows) and RGB the written-out one;
    softmax metrics over several levels and within one (``kernels/splat.py``)."""
    rng = np.random.default_rng(1)
    shape = (21, 26) if channels is None else (21, 26, channels)
    image = rng.random(shape)
    flow = random_flow(21, 26, seed=2)
    metric = rng.normal(0, metric_sd, (21, 26)) if mode == "softmax" else None
    if metric is not None:  # the case asked for: levels or not
        assert (np.ptp(metric) > 16) == (metric_sd > 2)
    expected, expected_weight = reference_splat(image, flow, mode, metric)
    got, weight = splat(image, flow, mode=mode, metric=metric, return_weight=True)
    assert got.dtype == np.float64 and weight.dtype == np.float32
    assert_holes_match(got, expected)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(weight, expected_weight, rtol=1e-6, atol=1e-6)
    got32 = splat(image.astype(np.float32), flow, mode=mode, metric=metric)
    assert got32.dtype == np.float32
    assert_holes_match(got32, expected)
    np.testing.assert_allclose(got32, expected, rtol=1e-5, atol=1e-5)


def test_integer_images_round_the_reference():
    """uint8 / uint16: the float reference rounded (ties to even) and saturated, holes 0; off
    by one level at most (float32 sums within a hair of a .5 tie), nearly always exact. In
    "sum" mode values above the dtype's range saturate."""
    rng = np.random.default_rng(3)
    flow = converging_flow(17, 19, 0.3)
    flow[2, 3] = np.nan
    for dtype, top in ((np.uint8, 255), (np.uint16, 65535)):
        image = rng.integers(0, top + 1, (17, 19, 3)).astype(dtype)
        for mode in ("average", "sum"):
            expected, weight = reference_splat(image, flow, mode)
            expected = np.clip(np.rint(np.nan_to_num(expected)), 0, top)
            got = splat(image, flow, mode=mode)
            assert got.dtype == dtype
            diff = np.abs(got.astype(np.int64) - expected)
            assert diff.max() <= 1 and np.mean(diff == 0) > 0.99
            assert (got[weight == 0] == 0).all()
        assert (splat(image, flow, mode="sum") == top).any()  # the case exercises saturation


@pytest.mark.parametrize("acc_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("out_dtype, top", [(np.uint8, 255.0), (np.uint16, 65535.0)])
@pytest.mark.parametrize("divide", [False, True])
def test_integer_rgb_finish_matches_finish_value(acc_dtype, out_dtype, top, divide):
    """The normalising pass of integer RGB outputs (a loop of its own, rounded in the
    accumulator's dtype) gives ``finish_value``'s bits, with holes, values out of range on
    both sides, sums that overflow, exact .5 ties and any banding."""
    from flowkit.kernels.splat import _finish_band, finish_value

    rng = np.random.default_rng(7)
    n = 997
    acc = rng.uniform(-0.2 * top, 1.3 * top, (n, 4)).astype(acc_dtype)
    acc[:, 3] = rng.choice([0.0, 0.25, 1.0, 2.5, 1e-30, 3.7], n)
    acc[::5, :3] = np.floor(acc[::5, :3]) + 0.5  # ties, divided by 1 or not divided
    acc[::5, 3] = 1.0
    expected = np.array([[finish_value(acc[p, c], acc[p, 3], divide, top) for c in range(3)]
                         for p in range(n)]).astype(out_dtype)
    for n_bands in (1, 3):
        out = np.zeros((n, 3), out_dtype)
        for band in range(n_bands):
            _finish_band(acc.reshape(-1), 3, divide, top, out.reshape(-1), band, n_bands)
        np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("acc_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("channels, k", [(1, 2), (1, 3), (2, 3), (2, 4), (3, 4), (3, 5), (4, 5)])
@pytest.mark.parametrize("divide", [False, True])
def test_float_finish_matches_finish_value(acc_dtype, channels, k, divide):
    """The normalising pass of float outputs (loops with constant strides for the layouts
    flowkit calls, one with run-time strides for the others) gives ``finish_value``'s bits:
    holes, tiny, huge, infinite and NaN sums, any banding."""
    from flowkit.kernels.splat import _finish_band, finish_value

    rng = np.random.default_rng(8)
    n = 997
    acc = rng.normal(0, 100, (n, k)).astype(acc_dtype)
    acc[:, channels] = rng.choice([0.0, 0.25, 1.0, 2.5, 1e-30, 3.7, np.inf], n)
    acc[::7, 0] = rng.choice([np.nan, np.inf, -np.inf, 1e38, 0.0], acc[::7, 0].shape)
    expected = np.array([[finish_value(acc[p, c], acc[p, channels], divide, 0.0)
                          for c in range(channels)] for p in range(n)]).astype(acc_dtype)
    for n_bands in (1, 3):
        out = np.zeros((n, channels), acc_dtype)
        for band in range(n_bands):
            _finish_band(acc.reshape(-1), channels, divide, 0.0, out.reshape(-1), band, n_bands)
        np.testing.assert_array_equal(out, expected)


# ---------------------------------------------------------------- analytic cases

@settings(max_examples=20, deadline=None)
@given(h=st.integers(1, 12), w=st.integers(1, 12), channels=st.sampled_from([None, 1, 3, 4]),
       dtype=st.sampled_from([np.float32, np.float64, np.uint8, np.uint16]),
       seed=st.integers(0, 2**16))
def test_zero_flow_is_identity(h, w, channels, dtype, seed):
    """average and sum: exactly the image (one tap of weight 1 per target), weight 1; softmax
    to rounding (value * e / e, 1 ulp)."""
    shape = (h, w) if channels is None else (h, w, channels)
    image = (np.random.default_rng(seed).random(shape) * 200).astype(dtype)
    flow = np.zeros((h, w, 2), np.float32)
    got, weight = splat(image, flow, return_weight=True)
    np.testing.assert_array_equal(got, image)
    np.testing.assert_array_equal(weight, 1)
    metric = np.random.default_rng(seed).normal(0, 100, (h, w))
    np.testing.assert_array_equal(splat(image, flow, mode="sum"), image)
    np.testing.assert_allclose(splat(image, flow, mode="softmax", metric=metric), image, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
def test_integer_translation_shifts_with_holes(dtype):
    """A translation by (u, v) = (3, -2) moves the image exactly; the uncovered border (the
    first 3 columns and the last 2 rows) is holes: NaN for floats, 0 for integers, weight 0."""
    rng = np.random.default_rng(4)
    image = (rng.random((9, 11, 3)) * 250 + 1).astype(dtype)
    flow = np.zeros((9, 11, 2), np.float32)
    flow[..., 0] = 3
    flow[..., 1] = -2
    got, weight = splat(image, flow, return_weight=True)
    np.testing.assert_array_equal(got[:-2, 3:], image[2:, :-3])
    hole = np.ones((9, 11), bool)
    hole[:-2, 3:] = False
    np.testing.assert_array_equal(weight == 0, hole)
    np.testing.assert_array_equal(weight[~hole], 1)
    if dtype == np.float32:
        assert np.isnan(got[hole]).all()
    else:
        assert (got[hole] == 0).all()


def test_sum_conserves_mass_up_to_what_leaves():
    """A translation by (2.5, 0) on a 10-wide image: columns 0-6 land wholly inside, column 7
    keeps half its mass (taps at x = 9 and 10), columns 8-9 leave. The expected total is
    exact in float64; float32 sums agree to 1e-6 relative."""
    rng = np.random.default_rng(5)
    image = rng.random((8, 10))
    flow = np.zeros((8, 10, 2), np.float32)
    flow[..., 0] = 2.5
    expected = image[:, :7].sum() + 0.5 * image[:, 7].sum()
    for dtype, rtol in ((np.float64, 1e-12), (np.float32, 1e-6)):
        got, weight = splat(image.astype(dtype), flow, mode="sum", return_weight=True)
        np.testing.assert_allclose(np.nansum(got, dtype=np.float64), expected, rtol=rtol)
        np.testing.assert_allclose(weight.sum(), 7 * 8 + 0.5 * 8, rtol=1e-6)
    # a random flow: mass in = mass that lands (sum of each source times its in-frame weights)
    flow = random_flow(8, 10, seed=6)
    got = splat(image, flow, mode="sum")
    np.testing.assert_allclose(np.nansum(got), (image * _landed_fraction(flow)).sum(), rtol=1e-12)


def _landed_fraction(flow):
    """Per source pixel, the total bilinear weight of its taps inside the frame."""
    h, w = flow.shape[:2]
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float64)
    px, py = gx + flow[..., 0], gy + flow[..., 1]
    x0, y0 = np.floor(px), np.floor(py)
    fx, fy = px - x0, py - y0
    total = np.zeros((h, w))
    for j in (0, 1):
        for i in (0, 1):
            inside = (x0 + i >= 0) & (x0 + i < w) & (y0 + j >= 0) & (y0 + j < h)
            total += np.where(inside, (fx if i else 1 - fx) * (fy if j else 1 - fy), 0)
    return total


def _two_layers(front_metric, back_metric):
    """A bright square (value 1) moving 4 px right over a static dark background (0.2)."""
    h, w = 12, 16
    image = np.full((h, w), 0.2)
    image[3:9, 2:8] = 1.0
    flow = np.zeros((h, w, 2), np.float32)
    flow[3:9, 2:8, 0] = 4.0
    metric = np.full((h, w), float(back_metric))
    metric[3:9, 2:8] = front_metric
    return image, flow, metric


@pytest.mark.parametrize("back, front", [(0.0, 50.0), (-1e4, 0.0), (0.0, 1e4), (1e30, 1e30 + 1e25)])
def test_softmax_picks_the_front_layer(back, front):
    """The square lands on columns 6-11; over the background's columns 8-11 the front layer
    wins to exp(-gap) (< 2e-22 here). The background alone (everywhere else) keeps its value
    however far its metric lies below the square's: never a hole, NaN or overflow. Columns
    2-5 of the square's rows, which nothing reaches, are holes in every mode."""
    image, flow, metric = _two_layers(front, back)
    got, weight = splat(image, flow, mode="softmax", metric=metric, return_weight=True)
    hole = np.zeros(image.shape, bool)
    hole[3:9, 2:6] = True
    np.testing.assert_array_equal(weight == 0, hole)
    assert np.isnan(got[hole]).all() and np.isfinite(got[~hole]).all()
    np.testing.assert_allclose(got[3:9, 6:12], 1.0, rtol=0, atol=1e-6)
    background = ~hole
    background[3:9, 6:12] = False
    np.testing.assert_allclose(got[background], 0.2, rtol=0, atol=1e-12)
    average = splat(image, flow)
    np.testing.assert_array_equal(np.isnan(average), hole)
    np.testing.assert_allclose(average[3:9, 8:12], 0.6)  # the other modes blend the layers


def test_softmax_is_shift_invariant():
    """Adding a constant to the metric changes nothing but rounding, however large: float64
    to 1e-9; float32 images (the metric is rounded to float32 with them) with metrics on a
    grid of 1/64, which +-1e4 keeps exact, to 1e-6."""
    rng = np.random.default_rng(7)
    image = rng.random((15, 17, 3))
    flow = random_flow(15, 17, seed=8)
    metric = np.round(rng.normal(0, 20, (15, 17)) * 64) / 64
    base = splat(image, flow, mode="softmax", metric=metric)
    base32 = splat(image.astype(np.float32), flow, mode="softmax", metric=metric)
    for shift in (-1e4, 1e4, 1e6):
        np.testing.assert_allclose(splat(image, flow, mode="softmax", metric=metric + shift),
                                   base, rtol=1e-9, atol=1e-12)
    for shift in (-1e4, 1e4):
        np.testing.assert_allclose(
            splat(image.astype(np.float32), flow, mode="softmax", metric=metric + shift),
            base32, rtol=1e-6, atol=1e-6)


def test_unknown_flow_is_dropped():
    """NaN, inf and |component| >= 1e9 vectors contribute nothing (the reference without
    them); a flow that is all unknown gives only holes."""
    rng = np.random.default_rng(9)
    image = rng.random((10, 12)).astype(np.float32)
    flow = random_flow(10, 12, seed=10, scale=1.0)
    flow[2, 3] = (np.nan, 0.0)
    flow[4, 5] = (0.0, np.inf)
    flow[6, 7] = (1e9, 0.0)
    flow[7, 1] = (0.0, -1e9)
    flow[8, 8] = (1e8, 0.0)  # known, lands outside
    for mode in MODES:
        metric = rng.normal(size=(10, 12)) if mode == "softmax" else None
        expected, expected_weight = reference_splat(image, flow, mode, metric)
        got, weight = splat(image, flow, mode=mode, metric=metric, return_weight=True)
        assert_holes_match(got, expected)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(weight, expected_weight, atol=1e-6)
    got, weight = splat(image, np.full((10, 12, 2), np.nan, np.float32), return_weight=True)
    assert np.isnan(got).all() and (weight == 0).all()


@pytest.mark.parametrize("mode, metric_span", [("sum", 0), ("average", 0), ("softmax", 10),
                                               ("softmax", 200)])
@pytest.mark.parametrize("channels", [1, 3])
def test_result_does_not_depend_on_the_thread_count(mode, metric_span, channels, monkeypatch):
    """Bitwise equal for 1, 2, 3 and 7 bands (each band owns target rows and sums in source
    order), with a converging flow that sends many sources to the same targets. Gray and RGB
    (the gray path without levels is a loop of its own), softmax metrics within one level
    and over many (``kernels/splat.py``)."""
    from flowkit.kernels import parallel

    rng = np.random.default_rng(11)
    image = rng.random((2, 37, 41, channels)).astype(np.float32)[..., :channels]
    if channels == 1:
        image = image[..., 0]
    flow = converging_flow(37, 41)
    flow += rng.normal(0, 0.3, flow.shape).astype(np.float32)
    flow[3:6, 4:9] = np.round(flow[3:6, 4:9])  # zero-weight taps: the general path
    metric = rng.uniform(-metric_span, 0, (2, 37, 41)) if mode == "softmax" else None
    results = []
    for bands in (1, 2, 3, 7):
        with monkeypatch.context() as patch:
            patch.setattr(parallel.numba, "get_num_threads", lambda bands=bands: bands)
            results.append(splat(image, flow, mode=mode, metric=metric, return_weight=True))
            # without the weight map (softmax then accumulates one value fewer per target)
            alone = splat(image, flow, mode=mode, metric=metric)
            assert np.array_equal(alone, results[-1][0], equal_nan=True)
    for got, weight in results[1:]:
        assert np.array_equal(got, results[0][0], equal_nan=True)
        assert np.array_equal(weight, results[0][1])
    previous = flowkit.get_num_threads()
    try:  # the same through the public thread setting
        for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            flowkit.set_num_threads(threads)
            got = splat(image, flow, mode=mode, metric=metric)
            assert np.array_equal(got, results[0][0], equal_nan=True)
    finally:
        flowkit.set_num_threads(previous)


@pytest.mark.parametrize("mode", ["sum", "average"])
def test_sources_above_the_first_row_reach_it_at_every_thread_count(mode, monkeypatch):
    """A uniform shift up by a fraction (v = -0.4): every source of row 0 has its top taps at
    row -1 and only its bottom taps land, on row 0. With more than one band a source row is
    scanned only when its footprints reach the band (``bounds``, whose top rows run from -1);
    row 0 is then the reference's, not the next row's alone (sum: 0.4 of its mass missing).
    Float64 reference within 1e-12; 1, 2 and 3 bands."""
    from flowkit.kernels import parallel

    rng = np.random.default_rng(12)
    image = rng.random((9, 10))
    flow = np.zeros((9, 10, 2), np.float32)
    flow[..., 0] = 0.25
    flow[..., 1] = -0.4
    expected, expected_weight = reference_splat(image, flow, mode)
    for bands in (1, 2, 3):
        with monkeypatch.context() as patch:
            patch.setattr(parallel.numba, "get_num_threads", lambda bands=bands: bands)
            got, weight = splat(image, flow, mode=mode, return_weight=True)
        assert_holes_match(got, expected)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(weight, expected_weight, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------- layouts and dtypes

def test_batches_and_shared_flows():
    rng = np.random.default_rng(12)
    images = rng.random((3, 10, 12, 2)).astype(np.float32)
    flows = rng.uniform(-3, 3, (3, 10, 12, 2)).astype(np.float32)
    metrics = rng.normal(size=(3, 10, 12)).astype(np.float32)
    one = [splat(images[i], flows[i], mode="softmax", metric=metrics[i]) for i in range(3)]
    np.testing.assert_array_equal(splat(images, flows, mode="softmax", metric=metrics), np.stack(one))
    # a single flow (and metric) for the whole batch, colour and gray
    shared = np.stack([splat(images[i], flows[0]) for i in range(3)])
    got, weight = splat(images, flows[0], return_weight=True)
    np.testing.assert_array_equal(got, shared)
    assert weight.shape == (10, 12)
    np.testing.assert_array_equal(splat(images[..., 0], flows[0]), shared[..., 0])
    np.testing.assert_array_equal(
        splat(images, flows[0], mode="softmax", metric=metrics[0]),
        np.stack([splat(images[i], flows[0], mode="softmax", metric=metrics[0]) for i in range(3)]))
    # (N, H, W) with (N, H, W, 2) is a gray batch, even when W <= 4
    gray = rng.random((3, 5, 4)).astype(np.float32)
    gflow = rng.uniform(-1, 1, (3, 5, 4, 2)).astype(np.float32)
    out, weight = splat(gray, gflow, return_weight=True)
    assert out.shape == (3, 5, 4) and weight.shape == (3, 5, 4)
    np.testing.assert_array_equal(out[1], splat(gray[1], gflow[1]))
    # one image, a batch of flows: one output per flow
    out, weight = splat(images[0], flows, return_weight=True)
    assert out.shape == (3, 10, 12, 2) and weight.shape == (3, 10, 12)
    np.testing.assert_array_equal(out[2], splat(images[0], flows[2]))


def test_float16_uint16_and_strided_inputs():
    rng = np.random.default_rng(13)
    flow = rng.uniform(-2, 2, (9, 11, 2))
    image = rng.random((9, 11)).astype(np.float16)
    got = splat(image, flow)
    assert got.dtype == np.float16
    np.testing.assert_array_equal(
        got, splat(image.astype(np.float32), flow.astype(np.float32)).astype(np.float16))
    image16 = (rng.random((9, 11, 3)) * 65535).astype(np.uint16)
    assert splat(image16, flow).dtype == np.uint16
    big = rng.random((18, 33, 3)).astype(np.float32)
    strided = big[::2, ::3, 1]
    sflow = np.ascontiguousarray(flow.astype(np.float32).transpose(2, 0, 1)).transpose(1, 2, 0)
    ro = np.ascontiguousarray(strided)
    ro.flags.writeable = False
    expected = splat(np.ascontiguousarray(strided), np.ascontiguousarray(sflow))
    np.testing.assert_array_equal(splat(strided, sflow), expected)
    np.testing.assert_array_equal(splat(ro, sflow), expected)
    np.testing.assert_array_equal(splat(strided.tolist(), sflow.tolist()), splat(
        np.asarray(strided.tolist()), sflow))


# ---------------------------------------------------------------- bad input

IMG = np.zeros((6, 7), np.float32)
FLOW = np.zeros((6, 7, 2), np.float32)
F32 = np.float32
BAD_INPUT = [
    (dict(mode="mean"), ValueError, r"mode: expected one of 'sum', 'average', 'softmax', got 'mean'"),
    (dict(mode="softmax"), ValueError,
     r"metric: expected an array of shape \(6, 7\) or \(1, 6, 7\) with mode='softmax', got None"),
    (dict(metric=np.zeros((6, 7))), ValueError,
     r"metric: expected None with mode='average' \(only 'softmax' uses it\), got ndarray of shape \(6, 7\)"),
    (dict(mode="sum", metric=np.zeros((6, 7))), ValueError, r"metric: expected None with mode='sum'"),
    (dict(mode="softmax", metric=np.zeros((7, 6))), ValueError,
     r"metric: expected shape \(6, 7\) or \(1, 6, 7\) \(one value per source pixel\), got \(7, 6\)"),
    (dict(mode="softmax", metric=np.zeros((2, 6, 7))), ValueError, r"metric: expected shape .*got \(2, 6, 7\)"),
    (dict(mode="softmax", metric=np.full((6, 7), np.nan)), ValueError,
     r"metric: expected finite values, got NaN or infinity"),
    (dict(mode="softmax", metric=np.full((6, 7), np.inf)), ValueError, r"metric: expected finite values"),
    (dict(mode="softmax", metric=np.zeros((6, 7), np.int64)), TypeError,
     r"metric: expected a float dtype \(float16, float32 or float64\), got int64"),
    (dict(mode="softmax", metric=np.zeros((0, 7))), ValueError, r"metric: expected a non-empty array"),
    (dict(mode="softmax", metric="big"), TypeError, r"metric: expected an array, got 'big'"),
    (dict(flow=np.zeros((6, 7), F32)), ValueError,
     r"flow: expected shape \(H, W, 2\) or \(N, H, W, 2\), got \(6, 7\)"),
    (dict(flow=np.zeros((7, 6, 2), F32)), ValueError,
     r"flow: expected shape .*matching image of shape \(6, 7\).*got \(7, 6, 2\)"),
    (dict(flow=np.zeros((6, 7, 2), np.int32)), TypeError, r"flow: expected a float dtype .*got int32"),
    (dict(image=np.zeros((6, 7), bool)), TypeError, r"image: expected dtype uint8, .* got bool"),
    (dict(image=np.zeros((6, 7), np.complex64)), TypeError, r"image: expected dtype .* got complex64"),
    (dict(image=np.zeros(7, F32)), ValueError, r"image: expected 2-D or 3-D or 4-D array, got 1-D"),
    (dict(image=np.zeros((0, 7), F32)), ValueError, r"image: expected a non-empty array"),
    (dict(return_weight=1), TypeError, r"return_weight: expected a bool, got 1"),
    (dict(device="gpu"), ValueError, r"device: expected one of 'cpu', 'cuda' or None, got 'gpu'"),
]


@pytest.mark.parametrize("kwargs, error, match", BAD_INPUT)
def test_bad_input(kwargs, error, match, monkeypatch):
    from flowkit.kernels import splat as kernel

    def no_kernel(*args):  # every check must fire before a kernel runs
        raise AssertionError("kernel ran")

    monkeypatch.setattr(kernel, "splat_cpu", no_kernel)
    args = dict(image=IMG, flow=FLOW) | kwargs
    with pytest.raises(error, match=match):
        splat(args.pop("image"), args.pop("flow"), **args)


# ---------------------------------------------------------------- CUDA (simulator in CI)

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape, dtype", [((9, 7), np.float32), ((9, 7, 3), np.float32),
                                          ((2, 9, 7, 3), np.float64), ((9, 7, 3), np.uint8)])
def test_cuda_matches_cpu(mode, shape, dtype):
    """The atomics add in another order: 1e-4 relative (about 1e-7 in practice); the same
    holes and weights; uint8 within one level."""
    pytest.importorskip("numba.cuda")
    rng = np.random.default_rng(14)
    image = (rng.random(shape) * (255 if dtype == np.uint8 else 1)).astype(dtype)
    flow = random_flow(9, 7, seed=15)
    flow[3, 4] = np.nan
    flow[1:4, 1:4] = 0.5  # several sources on the same targets
    # softmax: a metric of several levels (a pass of atomic maxima) and one within a level
    for metric in ([rng.normal(0, 30, (9, 7)), rng.uniform(-5, 5, (9, 7))] if mode == "softmax"
                   else [None]):
        got, weight = splat(image, flow, mode=mode, metric=metric, return_weight=True,
                            device="cuda")
        expected, expected_weight = splat(image, flow, mode=mode, metric=metric,
                                          return_weight=True)
        assert type(got) is np.ndarray and got.dtype == dtype and got.shape == expected.shape
        if dtype == np.uint8:
            assert np.abs(got.astype(int) - expected).max() <= 1
        else:
            assert_holes_match(got, expected)
            np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(weight, expected_weight, rtol=1e-4, atol=1e-7)
        alone = splat(image, flow, mode=mode, metric=metric, device="cuda")  # no weight map
        if dtype == np.uint8:
            assert np.abs(alone.astype(int) - expected).max() <= 1
        else:
            assert_holes_match(alone, expected)
            np.testing.assert_allclose(alone, expected, rtol=1e-4, atol=1e-7)
