"""smooth_flow: Gaussian vs OpenCV, median vs SciPy, bilateral vs a float64 NumPy brute force."""

import itertools
import warnings

import cv2

import numpy as np
import pytest
from numba import njit
from scipy import ndimage

from flowkit import smooth_flow
from flowkit.kernels import smooth as kernels


def random_flow(h, w, *, seed=0, scale=3.0, dtype=np.float32, n=None):
    """Smooth-ish random flow in [-scale, scale] px with some fine detail."""
    rng = np.random.default_rng(seed)
    shape = (h, w, 2) if n is None else (n, h, w, 2)
    coarse = rng.standard_normal(shape)
    flow = scale * np.tanh(coarse + 0.3 * rng.standard_normal(shape))
    return flow.astype(dtype)


def per_component(fn, flow):
    return np.stack([fn(np.ascontiguousarray(flow[..., c])) for c in range(2)], axis=-1)


def bilateral_reference(flow, guide, size, sigma, sigma_color):
    """Float64 brute-force joint bilateral filter with replicated borders, one (H, W, 2) flow."""
    flow = np.asarray(flow, np.float64)
    guide = np.asarray(guide, np.float64)
    if guide.ndim == 2:
        guide = guide[..., None]
    h, w = flow.shape[:2]
    r = size // 2
    fp = np.pad(flow, ((r, r), (r, r), (0, 0)), mode="edge")
    gp = np.pad(guide, ((r, r), (r, r), (0, 0)), mode="edge")
    num = np.zeros((h, w, 2))
    den = np.zeros((h, w, 1))
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            g = gp[r + dy:r + dy + h, r + dx:r + dx + w]
            f = fp[r + dy:r + dy + h, r + dx:r + dx + w]
            diff2 = np.sum((g - guide) ** 2, axis=-1, keepdims=True)
            wt = np.exp(-(dx * dx + dy * dy) / (2 * sigma**2)) * np.exp(-diff2 / (2 * sigma_color**2))
            num += wt * f
            den += wt
    return num / den


# ------------------------------------------------------------------------------ Gaussian


# Tolerance 1e-5 (issue): float32 accumulation in a different order than OpenCV's gives errors
# of a few ulp of |flow| <= 3 px, i.e. about 1e-6.
@pytest.mark.parametrize("size, sigma", [(1, None), (3, None), (5, None), (7, None), (9, None), (11, None),
                                         (5, 1.7), (3, 0.4), (15, 3.0), (7, 0)])
def test_gaussian_matches_opencv(size, sigma):
    if size == 9 and sigma is None and cv2.getGaussianKernel(9, 0)[0, 0] != 4 / 256:
        pytest.skip("this OpenCV computes the size-9 default kernel from sigma (OpenCV 4)")
    flow = random_flow(37, 29, seed=size)
    got = smooth_flow(flow, method="gaussian", size=size, sigma=sigma)
    want = per_component(lambda c: cv2.GaussianBlur(c, (size, size), sigma or 0,
                                                    borderType=cv2.BORDER_REPLICATE), flow)
    assert got.dtype == np.float32 and got.shape == flow.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


def test_gaussian_float64_and_float16():
    flow = random_flow(23, 31, seed=3, dtype=np.float64)
    got = smooth_flow(flow, size=7, sigma=1.3)
    want = per_component(lambda c: cv2.GaussianBlur(c, (7, 7), 1.3, borderType=cv2.BORDER_REPLICATE), flow)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)  # float64 throughout
    half = flow.astype(np.float16)
    got16 = smooth_flow(half, size=5)
    assert got16.dtype == np.float32  # float16 is computed and returned as float32
    np.testing.assert_allclose(got16, smooth_flow(half.astype(np.float32), size=5), rtol=0, atol=0)


def test_batch_equals_frames():
    flow = random_flow(19, 26, seed=4, n=3)
    guide = np.random.default_rng(4).integers(0, 256, (3, 19, 26, 3), dtype=np.uint8)
    for kwargs in (dict(method="gaussian", size=5), dict(method="median", size=3),
                   dict(method="bilateral", size=5, guide=guide)):
        got = smooth_flow(flow, **kwargs)
        for i in range(3):
            one = dict(kwargs, guide=guide[i]) if "guide" in kwargs else kwargs
            np.testing.assert_array_equal(got[i], smooth_flow(flow[i], **one))


def test_tiny_and_thin_images():
    # windows larger than the image: every tap replicates the edge
    for shape in ((1, 1, 2), (1, 7, 2), (6, 1, 2), (3, 2, 2)):
        flow = random_flow(*shape[:2], seed=5)
        want = per_component(lambda c: cv2.GaussianBlur(c, (9, 9), 2.0, borderType=cv2.BORDER_REPLICATE), flow)
        np.testing.assert_allclose(smooth_flow(flow, size=9, sigma=2.0), want, rtol=0, atol=1e-5)
        for size in (3, 5, 7):
            want = per_component(lambda c: ndimage.median_filter(c, size, mode="nearest"), flow)
            np.testing.assert_array_equal(smooth_flow(flow, method="median", size=size), want)


# ------------------------------------------------------------------------------ median


@pytest.mark.parametrize("size", [1, 3, 5, 7, 9, 13])
def test_median_matches_scipy_exactly(size):
    flow = random_flow(41, 33, seed=10 + size)
    flow[::3] = np.round(flow[::3])  # ties
    flow[5, 7, 0] = np.inf
    flow[9, 2, 1] = -np.inf
    got = smooth_flow(flow, method="median", size=size)
    want = per_component(lambda c: ndimage.median_filter(c, size, mode="nearest"), flow)
    np.testing.assert_array_equal(got, want)
    if size in (3, 5):  # OpenCV's float32 medianBlur (sizes 3 and 5 only, both channels)
        np.testing.assert_array_equal(got, cv2.medianBlur(flow, size))
    got64 = smooth_flow(flow.astype(np.float64), method="median", size=size)
    assert got64.dtype == np.float64
    np.testing.assert_array_equal(got64, want.astype(np.float64))


def _columns01(k):
    """All k x k 0-1 matrices with ascending columns, as (k*k, count) rows of x<rank><column>."""
    cases = []
    for ones in itertools.product(range(k + 1), repeat=k):
        m = np.array([[1.0 if rank >= k - t else 0.0 for t in ones] for rank in range(k)])
        cases.append(m.ravel())
    return np.array(cases)


@njit
def _apply_median25(cases):
    out = np.empty(cases.shape[0])
    for i in range(cases.shape[0]):
        c = cases[i]
        parts = (kernels._median25_rank0(c[0], c[1], c[2], c[3], c[4])
                 + kernels._median25_rank1(c[5], c[6], c[7], c[8], c[9])
                 + kernels._median25_rank2(c[10], c[11], c[12], c[13], c[14])
                 + kernels._median25_rank3(c[15], c[16], c[17], c[18], c[19])
                 + kernels._median25_rank4(c[20], c[21], c[22], c[23], c[24]))
        out[i] = kernels._median25_merge(*parts)
    return out


def test_median_networks_by_zero_one_principle():
    # A comparator network selects the median of every input iff it does of every 0-1 input;
    # after the column sort, 0-1 windows are exactly the matrices with sorted columns.
    for k, net in ((3, kernels._median9_sorted_columns), (5, None)):
        cases = _columns01(k)
        want = (cases.sum(axis=1) > k * k // 2).astype(np.float64)
        got = np.array([net(*c) for c in cases]) if net is not None else _apply_median25(cases)
        np.testing.assert_array_equal(got, want)
    for k, sort in ((3, kernels._sort3), (5, kernels._sort5)):
        for bits in itertools.product((0.0, 1.0), repeat=k):
            assert list(sort(*bits)) == sorted(bits)


# ------------------------------------------------------------------------------ bilateral


# Tolerance: float32 weights (exp accurate to ~2e-7) and float32 sums of <= 49 terms give
# relative errors of about 1e-6 of |flow| <= 3 px; 2e-5 absolute leaves a margin.
@pytest.mark.parametrize("guide_kind, size, sigma, sigma_color", [
    ("gray8", 5, None, None), ("color8", 7, 2.0, 40.0), ("gray16", 3, 1.0, None),
    ("color_float", 5, 1.5, 0.2), ("none", 5, None, None), ("none", 7, 3.0, 0.5),
])
def test_bilateral_matches_float64_reference(guide_kind, size, sigma, sigma_color):
    rng = np.random.default_rng(20)
    h, w = 27, 34
    flow = random_flow(h, w, seed=21)
    guide = {
        "gray8": lambda: rng.integers(0, 256, (h, w), dtype=np.uint8),
        "color8": lambda: rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
        "gray16": lambda: rng.integers(0, 65536, (h, w), dtype=np.uint16),
        "color_float": lambda: rng.random((h, w, 3)).astype(np.float32),
        "none": lambda: None,
    }[guide_kind]()
    got = smooth_flow(flow, method="bilateral", size=size, sigma=sigma, guide=guide, sigma_color=sigma_color)
    spatial = sigma or 0.3 * ((size - 1) * 0.5 - 1) + 0.8
    default_color = {"gray8": 25.5, "color8": 25.5, "gray16": 6553.5, "color_float": 0.1, "none": 1.0}
    color = sigma_color or default_color[guide_kind]
    want = bilateral_reference(flow, flow if guide is None else guide, size, spatial, color)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-5)
    got64 = smooth_flow(flow.astype(np.float64), method="bilateral", size=size, sigma=sigma, guide=guide,
                        sigma_color=sigma_color)
    assert got64.dtype == np.float64
    np.testing.assert_allclose(got64, want, rtol=0, atol=2e-6)  # float64 sums, ~2e-7 exp


def test_bilateral_keeps_motion_edge_that_gaussian_blurs():
    h, w = 24, 40
    flow = np.zeros((h, w, 2), np.float32)
    flow[:, 20:, 0] = 3.0
    flow[:, 20:, 1] = -1.5
    image = np.full((h, w, 3), 30, np.uint8)
    image[:, 20:] = (220, 180, 200)
    kept = smooth_flow(flow, method="bilateral", size=7, sigma=3.0, guide=image)
    blurred = smooth_flow(flow, method="gaussian", size=7, sigma=3.0)
    # colour distance >> sigma_color: cross-edge weights are below exp(-31), i.e. dropped
    np.testing.assert_allclose(kept, flow, rtol=0, atol=1e-6)
    assert np.abs(blurred[:, 19:21] - flow[:, 19:21]).min() > 0.3
    assert np.abs(blurred - flow).max() > 1.0


@pytest.mark.parametrize("method", ["gaussian", "bilateral"])
def test_extreme_sigmas_give_their_limits(method):
    # sigma -> 0: the identity; sigma -> inf: equal spatial weights (a box, or for the bilateral
    # filter a range-only window); both once overflowed (OverflowError, NaN, warnings)
    flow = random_flow(12, 13, seed=3)
    guide = {"bilateral": dict(guide=np.zeros((12, 13), np.uint8))}.get(method, {})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tiny = smooth_flow(flow, method=method, size=3, sigma=1e-300, **guide)
        huge = smooth_flow(flow, method=method, size=3, sigma=1e300, **guide)
    np.testing.assert_array_equal(tiny, flow)
    padded = np.pad(flow.astype(np.float64), ((1, 1), (1, 1), (0, 0)), mode="edge")
    box = sum(padded[dy:dy + 12, dx:dx + 13] for dy in range(3) for dx in range(3)) / 9
    np.testing.assert_allclose(huge, box, rtol=0, atol=1e-6)


def test_sigma_color_too_small_for_the_guide_is_refused():
    flow = random_flow(12, 13, seed=4)
    guide = np.full((12, 13), 200, np.uint8)
    # 2 * 200 / (sqrt(2) 5e-37) overflows float32 (the weights were NaN); >= 8.31e-37 does not
    with pytest.raises(ValueError, match=r"sigma_color: expected >= 8.31e-37 .* up to 200\), "
                                         r"got 5e-37"):
        smooth_flow(flow, method="bilateral", guide=guide, sigma_color=5e-37)
    edge = smooth_flow(flow, method="bilateral", guide=guide, sigma_color=8.32e-37)
    assert np.isfinite(edge).all()
    kept = smooth_flow(flow, method="bilateral", guide=guide, sigma_color=1e-30)
    assert np.isfinite(kept).all()
    np.testing.assert_array_equal(smooth_flow(flow, method="bilateral", guide=guide * 0,
                                              sigma_color=5e-37), kept)
    # a zero guide: the scale itself must be a float32 (1 / (sqrt(2) 1e-39) is not)
    with pytest.raises(ValueError, match=r"sigma_color: expected >= 2.08e-39 .* got 1e-39"):
        smooth_flow(flow, method="bilateral", guide=guide * 0, sigma_color=1e-39)


def test_exp_neg_accuracy():
    d = np.linspace(0.0, 31.0, 20001)
    for dtype in (np.float32, np.float64):
        x = d[::50].astype(dtype)
        got = np.array([kernels.exp_neg(v) for v in x])
        np.testing.assert_allclose(got, np.exp(-x.astype(np.float64)), rtol=3e-7, atol=0)
    assert kernels.exp_neg(np.float32(31.5)) == 0.0
    assert np.isnan(kernels.exp_neg(np.float32(np.nan)))


# ------------------------------------------------------------------------------ NaN


@pytest.mark.parametrize("kwargs", [dict(method="gaussian", size=5), dict(method="median", size=3),
                                    dict(method="median", size=5), dict(method="median", size=7),
                                    dict(method="bilateral", size=5), dict(method="bilateral", size=3,
                                                                           guide="image")])
def test_nan_spreads_over_its_window(kwargs):
    h, w = 17, 21
    flow = random_flow(h, w, seed=30)
    flow[8, 10, 0] = np.nan
    if kwargs.get("guide") == "image":
        kwargs = dict(kwargs, guide=np.random.default_rng(31).random((h, w)))
    got = smooth_flow(flow, **kwargs)
    r = kwargs["size"] // 2
    window = np.zeros((h, w), bool)
    window[8 - r:8 + r + 1, 10 - r:10 + r + 1] = True
    guided_by_flow = kwargs["method"] == "bilateral" and "guide" not in kwargs
    assert np.isnan(got[..., 0][window]).all()
    assert np.isfinite(got[..., 0][~window]).all()
    # the flow-as-guide bilateral also spreads into v (the guide is both components)
    assert np.isnan(got[..., 1][window]).all() if guided_by_flow else np.isfinite(got[..., 1]).all()


# ------------------------------------------------------------------------------ CUDA (simulator)


def test_cuda_matches_cpu():
    pytest.importorskip("numba.cuda")
    flow = random_flow(20, 16, seed=40)
    guide = np.random.default_rng(41).random((20, 16, 3)).astype(np.float32)
    # exact for the median; float32 sums in another order for the others
    for kwargs, atol in ((dict(method="gaussian", size=5), 1e-6), (dict(method="median", size=3), 0),
                         (dict(method="median", size=5), 0),
                         (dict(method="bilateral", size=5, guide=guide), 1e-5),
                         (dict(method="bilateral", size=3), 1e-5)):
        got = smooth_flow(flow, device="cuda", **kwargs)
        assert isinstance(got, np.ndarray) and got.dtype == np.float32
        np.testing.assert_allclose(got, smooth_flow(flow, **kwargs), rtol=0, atol=atol, err_msg=str(kwargs))


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(method="box"), ValueError, r"method: expected one of 'gaussian', 'median', 'bilateral', got 'box'"),
    (dict(method="median", size=4), ValueError, r"size: expected an odd integer, got 4"),
    (dict(size=0), ValueError, r"size: expected an integer >= 1, got 0"),
    (dict(size=2.0), TypeError, r"size: expected an integer"),
    (dict(sigma=-1.0), ValueError, r"sigma: expected a number in \[0.0, inf\], got -1.0"),
    (dict(method="bilateral", sigma=-0.5), ValueError, r"sigma: expected a number in"),
    (dict(method="median", sigma=1.0), ValueError, r"sigma: expected None with method='median'"),
    (dict(method="bilateral", sigma_color=0), ValueError, r"sigma_color: expected a number in \(0.0, inf\]"),
    (dict(method="gaussian", guide=np.zeros((8, 9))), ValueError, r"guide: expected None with method='gaussian'"),
    (dict(method="median", sigma_color=2.0), ValueError, r"sigma_color: expected None with method='median'"),
    (dict(method="bilateral", guide=np.zeros((8, 10))), ValueError,
     r"guide: expected shape \(H, W\) or \(H, W, C\) with \(H, W\) = \(8, 9\).*got \(8, 10\)"),
    (dict(method="bilateral", guide=np.zeros((2, 8, 9, 3))), ValueError, r"guide: expected 2-D or 3-D array"),
    (dict(method="bilateral", guide=np.zeros((8, 9), bool)), TypeError, r"guide: expected dtype uint8"),
    (dict(device="tpu"), ValueError, r"device: expected one of"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        smooth_flow(np.zeros((8, 9, 2), np.float32), **kwargs)


@pytest.mark.parametrize("flow, error, match", [
    (np.zeros((8, 9, 2), np.int32), TypeError, r"flow: expected a float dtype \(float16, float32 or float64\), got int32"),
    (np.zeros((8, 9, 3), np.float32), ValueError, r"flow: expected shape \(H, W, 2\) or \(N, H, W, 2\), got \(8, 9, 3\)"),
    (np.zeros((8, 9), np.float32), ValueError, r"flow: expected shape \(H, W, 2\)"),
    (np.zeros((0, 9, 2), np.float32), ValueError, r"flow: expected a non-empty array"),
    ([[1.0, 2.0]], ValueError, r"flow: expected shape"),
])
def test_bad_flow(flow, error, match):
    with pytest.raises(error, match=match):
        smooth_flow(flow)


def test_batched_guide_must_match():
    flow = np.zeros((2, 8, 9, 2), np.float32)
    with pytest.raises(ValueError, match=r"guide: expected shape \(N, H, W\) or \(N, H, W, C\)"):
        smooth_flow(flow, method="bilateral", guide=np.zeros((3, 8, 9)))
    with pytest.raises(ValueError, match=r"guide: expected 3-D or 4-D array"):
        smooth_flow(flow, method="bilateral", guide=np.zeros((8, 9)))


@pytest.mark.parametrize("method", ["gaussian", "median", "bilateral"])
@pytest.mark.parametrize("size", [2 ** 63 - 1, 2 ** 40 + 1])
def test_a_size_whose_window_cannot_fit_in_memory_is_refused_naming_size(method, size):
    """A window too large for the machine is a ValueError (OutputTooLarge) naming
    ``size`` before any kernel runs: at size=2**63-1 NumPy's arange made no Gaussian taps
    and the kernel read past them (values of 1e30 came back), the bilateral filter divided
    by zero, and size * size wrapped around in the median's buffer, which it overran
    (a segfault; found trying huge options)."""
    flow = np.zeros((6, 7, 2), np.float32)
    with pytest.raises(ValueError, match=r"^size: \d+ (Gaussian taps|values of a \d+ x \d+ "
                                         r"window) would need at least .* more than this "
                                         r"machine's memory"):
        smooth_flow(flow, method=method, size=size)


@pytest.mark.parametrize("guide", [np.full((12, 13), np.nan),
                                   np.arange(156, dtype=np.float64).reshape(12, 13)])
def test_the_guides_peak_leaves_the_warnings_filters_alone(guide, monkeypatch):
    # the guide's largest value was taken under warnings.catch_warnings, which swaps the
    # process's filters: another thread (a host's UI) meanwhile had its RuntimeWarnings
    # ignored, and a filter it added then was lost at the exit. np.abs records the filters
    # another thread would see while the guide is read
    seen, absolute = [], np.abs

    def recording(*args, **kwargs):
        seen.append(list(warnings.filters))
        return absolute(*args, **kwargs)

    monkeypatch.setattr(np, "abs", recording)
    flow = random_flow(12, 13, seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no warning of an all-NaN or huge guide
        outside = list(warnings.filters)
        got = smooth_flow(flow, method="bilateral", guide=guide)
    assert seen and all(filters == outside for filters in seen)
    monkeypatch.undo()
    np.testing.assert_array_equal(got, smooth_flow(flow, method="bilateral", guide=guide))
