"""Metrics against hand-computed values, plain NumPy loops and scikit-image."""

import math
import re

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from cases import data_path
from flowkit import metrics, read_flo


def flows(shape=(12, 15), seed=0):
    rng = np.random.default_rng(seed)
    gt = (rng.standard_normal(shape + (2,)) * 5).astype(np.float32)
    flow = gt + (rng.standard_normal(shape + (2,)) * 2).astype(np.float32)
    return flow, gt


def loop_reference(flow, gt, valid, per_pixel):
    """Mean of per_pixel(u, v, gu, gv) over valid pixels with known gt, as a plain float64 loop."""
    values = []
    for (u, v), (gu, gv), ok in zip(flow.reshape(-1, 2).astype(float), gt.reshape(-1, 2).astype(float),
                                    valid.reshape(-1)):
        if ok and abs(gu) < 1e9 and abs(gv) < 1e9:
            values.append(per_pixel(u, v, gu, gv))
    return sum(values) / len(values)


def epe_pixel(u, v, gu, gv):
    return math.sqrt((u - gu) ** 2 + (v - gv) ** 2)


def aae_pixel(u, v, gu, gv):
    cosine = (u * gu + v * gv + 1) / math.sqrt((u * u + v * v + 1) * (gu * gu + gv * gv + 1))
    return math.degrees(math.acos(min(1.0, max(-1.0, cosine))))


def fl_pixel(u, v, gu, gv):
    epe = epe_pixel(u, v, gu, gv)
    return 100.0 * (epe > 3 and epe > 0.05 * math.hypot(gu, gv))


# float64 loop vs vectorised float64 NumPy: only summation order differs (~1e-15 relative)
METRICS = [(metrics.endpoint_error, epe_pixel), (metrics.angular_error, aae_pixel), (metrics.fl_all, fl_pixel)]


@pytest.mark.parametrize("metric, per_pixel", METRICS)
def test_flow_metrics_match_loop_reference(metric, per_pixel):
    flow, gt = flows()
    gt[0, 0] = (np.nan, 0)
    gt[1, 1] = (1e9, 0)  # Middlebury's unknown marker: excluded
    gt[2, 2] = (0, -np.inf)
    valid = np.random.default_rng(1).random(gt.shape[:2]) > 0.3
    assert metric(flow, gt, valid) == pytest.approx(loop_reference(flow, gt, valid, per_pixel), rel=1e-12)
    everything = np.ones(gt.shape[:2], bool)
    assert metric(flow, gt) == pytest.approx(loop_reference(flow, gt, everything, per_pixel), rel=1e-12)


@pytest.mark.parametrize("metric, per_pixel", METRICS)
def test_flow_metrics_on_real_ground_truth(metric, per_pixel):
    # RubberWhale marks 1.6 % of its pixels unknown (>= 1e9): they must drop out by themselves
    gt = read_flo(data_path("middlebury", "RubberWhale", "flow10.flo"))[::5, ::5]
    assert not np.all(np.abs(gt) < 1e9)
    flow = gt + np.float32(1.5) * np.sin(np.arange(gt.size, dtype=np.float32)).reshape(gt.shape)
    flow[::3] = 0  # large errors too, for Fl-all
    everything = np.ones(gt.shape[:2], bool)
    assert metric(flow, gt) == pytest.approx(loop_reference(flow, gt, everything, per_pixel), rel=1e-12)


def test_hand_computed_values():
    gt = np.zeros((2, 2, 2), np.float32)
    flow = gt + np.float32([3, 4])
    assert metrics.endpoint_error(flow, gt) == 5.0
    assert metrics.endpoint_error(gt, gt) == 0.0
    # (1, 0, 1) vs (0, 0, 1): 45 degrees; opposite unit vectors (1,0,1) vs (-1,0,1): 90 degrees
    assert metrics.angular_error(gt + np.float32([1, 0]), gt) == pytest.approx(45.0, abs=1e-12)
    assert metrics.angular_error(gt + np.float32([1, 0]), gt - np.float32([1, 0])) == pytest.approx(90.0, abs=1e-12)
    assert metrics.angular_error(flow, flow) == pytest.approx(0.0, abs=1e-5)
    # Fl-all: EPE 4 > 3 px and > 5 % of |gt| = 0 -> outlier; EPE 1 -> inlier
    gt1 = np.zeros((1, 2, 2))
    assert metrics.fl_all(gt1 + [[[4.0, 0.0], [1.0, 0.0]]], gt1) == 50.0
    # EPE 4 > 3 px but |gt| = 100: 4 < 5 -> inlier; EPE 6 > 5 -> outlier
    gt2 = np.array([[[100.0, 0.0], [100.0, 0.0]]])
    assert metrics.fl_all(gt2 + [[[4.0, 0.0], [0.0, 6.0]]], gt2) == 50.0


def test_fl_all_thresholds_are_strict():
    """KITTI's devkit counts an outlier where EPE > 3 px and EPE / |gt| > 0.05, both strict: an
    EPE of exactly 3 px (|gt| = 0), or of exactly 5 % of |gt| (4 of 80; 0.05 * 80 is 4.0 in
    float64) is an inlier; a hair more is an outlier."""
    gt = np.array([[[0.0, 0.0], [80.0, 0.0]]])
    assert metrics.fl_all(gt + [[[3.0, 0.0], [0.0, 4.0]]], gt) == 0.0
    assert metrics.fl_all(gt + [[[3.0 + 1e-9, 0.0], [0.0, 4.0]]], gt) == 50.0
    assert metrics.fl_all(gt + [[[3.0, 0.0], [0.0, 4.0 + 1e-9]]], gt) == 50.0


def test_angular_error_of_an_estimate_equal_to_rounding_is_finite():
    """An estimate equal to the ground truth up to rounding (float64 truth, its float32
    rounding; and 1e-9 relative) puts the cosine a hair above 1 at some pixels (6 and 12 of
    the 63 here); it is clipped to 1, so the mean is finite and about 0 (arccos would give
    NaN)."""
    rng = np.random.default_rng(5)
    gt = rng.normal(0, 5, (7, 9, 2))
    for flow in (gt.astype(np.float32), gt * (1 + rng.normal(0, 1e-9, (7, 9, 1)))):
        error = metrics.angular_error(flow, gt)
        assert math.isfinite(error) and error < 1e-4


def test_valid_mask_and_unknown_ground_truth():
    gt = np.zeros((2, 2, 2), np.float32)
    flow = np.zeros_like(gt)
    flow[0, 0] = (10, 0)
    valid = np.array([[False, True], [True, True]])
    assert metrics.endpoint_error(flow, gt, valid) == 0.0
    assert metrics.endpoint_error(flow, gt, valid.astype(np.uint8)) == 0.0
    assert metrics.endpoint_error(flow, gt, valid.astype(np.float32)) == 0.0
    # NumPy reads NaN as True: a float mask holding NaN is refused, not a pixel counted
    holey = valid.astype(np.float64)
    holey[0, 0] = np.nan
    with pytest.raises(ValueError, match="valid: expected a mask of True/False .*got 1 NaN"):
        metrics.endpoint_error(flow, gt, holey)
    with pytest.raises(ValueError, match="valid: expected a mask of True/False .*got 1 NaN"):
        metrics.warping_error(np.zeros((2, 2)), np.zeros((2, 2)), gt, holey)
    with pytest.raises(TypeError, match="valid: expected a boolean or numeric mask, got dtype <U1"):
        metrics.endpoint_error(flow, gt, np.full((2, 2), "y"))
    gt[0, 0] = (np.nan, np.nan)
    assert metrics.endpoint_error(flow, gt) == 0.0  # unknown ground truth skipped without a mask
    gt[0, 0] = (0, 2e9)
    assert metrics.endpoint_error(flow, gt) == 0.0
    # an estimate's unknown vector where the truth is known: a ValueError naming the count, for
    # every flow metric and every marker (it would make the mean NaN or inf); valid= leaves it out
    for marker in ((np.nan, 0), (0, np.inf), (-1e9, 0)):
        flow[1, 1] = marker
        for metric in (metrics.endpoint_error, metrics.angular_error, metrics.fl_all):
            with pytest.raises(ValueError, match=r"^flow: expected known vectors .* got 1 unknown"):
                metric(flow, gt)
        assert metrics.endpoint_error(flow, gt, valid=np.array([[True, True], [True, False]])) == 0.0
    flow[0, 0] = (np.nan, np.nan)  # unknown in both: the pixel is not counted, no error
    flow[1, 1] = 0
    assert metrics.endpoint_error(flow, gt) == 0.0


def test_batches_pool_all_pixels():
    flow, gt = flows((3, 6, 7), seed=2)
    valid = np.random.default_rng(3).random((3, 6, 7)) > 0.5
    expected = np.mean(np.hypot(*(flow.astype(np.float64) - gt)[valid].T))
    assert metrics.endpoint_error(flow, gt, valid) == pytest.approx(expected, rel=1e-12)


def test_float64_and_float32_agree():
    flow, gt = flows(seed=4)
    for metric in (metrics.endpoint_error, metrics.angular_error, metrics.fl_all):
        assert metric(flow, gt) == metric(flow.astype(np.float64), gt.astype(np.float64))


@pytest.mark.parametrize("metric", [metrics.endpoint_error, metrics.angular_error, metrics.fl_all])
def test_flow_metric_bad_input(metric):
    flow, gt = flows()
    with pytest.raises(ValueError, match=r"gt: expected the same shape as flow \(12, 15, 2\), got \(12, 14, 2\)"):
        metric(flow, gt[:, :-1])
    with pytest.raises(TypeError, match=r"flow: expected a float dtype .* got int64"):
        metric(flow.astype(np.int64), gt)
    with pytest.raises(ValueError, match=r"flow: expected shape \(H, W, 2\) or \(N, H, W, 2\), got \(12, 15, 1\)"):
        metric(flow[..., :1], gt[..., :1])
    with pytest.raises(ValueError, match=r"valid: expected shape \(12, 15\) .*got \(15, 12\)"):
        metric(flow, gt, np.ones((15, 12), bool))
    with pytest.raises(ValueError, match=r"valid: expected at least one pixel with valid=True and known ground truth, got none of \d+"):
        metric(flow, gt, np.zeros((12, 15), bool))
    with pytest.raises(ValueError, match=r"got none of"):
        metric(flow, np.full_like(gt, np.nan))


# --- image metrics ----------------------------------------------------------------------------------

def images(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == np.uint8:
        reference = rng.integers(0, 256, shape).astype(np.uint8)
        noisy = np.clip(reference + rng.normal(0, 8, shape), 0, 255).astype(np.uint8)
    elif dtype == np.uint16:
        reference = rng.integers(0, 65536, shape).astype(np.uint16)
        noisy = np.clip(reference + rng.normal(0, 2000, shape), 0, 65535).astype(np.uint16)
    else:
        reference = rng.random(shape).astype(dtype)
        noisy = np.clip(reference + rng.normal(0, 0.03, shape), 0, 1).astype(dtype)
    return noisy, reference


@pytest.mark.parametrize("dtype, peak", [(np.uint8, 255), (np.uint16, 65535), (np.float32, 1.0), (np.float64, 1.0)])
@pytest.mark.parametrize("shape", [(20, 24), (20, 24, 3)])
def test_psnr_matches_skimage(dtype, peak, shape):
    image, reference = images(shape, dtype)
    expected = peak_signal_noise_ratio(reference, image, data_range=peak)
    # skimage subtracts float32 images in float32 (relative error ~6e-8 per pixel), flowkit in
    # float64; integer images are exact in both
    rel = 1e-7 if dtype == np.float32 else 1e-12
    assert metrics.psnr(image, reference) == pytest.approx(expected, rel=rel)
    assert metrics.psnr(image, reference, data_range=2 * peak) == pytest.approx(expected + 20 * math.log10(2), rel=rel)


def test_psnr_of_extreme_data_ranges():
    # data_range**2 overflowed (OverflowError past 1e154, -inf dB below 1e-154)
    reference = np.zeros((4, 4))
    for peak in (1e300, 1e-300, 1e308):
        want = 20 * math.log10(peak) - 10 * math.log10(0.25)
        assert metrics.psnr(reference + 0.5, reference, data_range=peak) == pytest.approx(want,
                                                                                         rel=1e-14)


def test_psnr_hand_computed():
    reference = np.zeros((4, 4), np.uint8)
    assert metrics.psnr(reference + 1, reference) == pytest.approx(10 * math.log10(255**2), rel=1e-14)
    assert metrics.psnr(reference, reference) == math.inf
    # batches: one MSE over all frames
    batch = np.zeros((2, 4, 4), np.float32)
    noisy = batch.copy()
    noisy[0] = 0.1
    assert metrics.psnr(noisy, batch) == pytest.approx(10 * math.log10(1 / (0.01 / 2)), rel=1e-6)


@pytest.mark.parametrize("dtype, peak", [(np.uint8, 255), (np.float32, 1.0), (np.float64, 1.0)])
def test_ssim_matches_skimage(dtype, peak):
    gray, gray_ref = images((32, 40), dtype)
    assert metrics.ssim(gray, gray_ref) == pytest.approx(
        structural_similarity(gray, gray_ref, data_range=peak), rel=1e-12)
    color, color_ref = images((32, 40, 3), dtype, seed=1)
    assert metrics.ssim(color, color_ref) == pytest.approx(
        structural_similarity(color, color_ref, data_range=peak, channel_axis=-1), rel=1e-12)
    wang = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    assert metrics.ssim(color, color_ref, **wang) == pytest.approx(
        structural_similarity(color, color_ref, data_range=peak, channel_axis=-1, **wang), rel=1e-12)
    assert metrics.ssim(gray_ref, gray_ref) == 1.0


def test_ssim_batches_average_frames():
    image, reference = images((3, 16, 20, 3), np.uint8, seed=2)
    expected = np.mean([structural_similarity(i, r, data_range=255, channel_axis=-1) for i, r in zip(image, reference)])
    assert metrics.ssim(image, reference) == pytest.approx(expected, rel=1e-12)
    gray, gray_ref = images((3, 16, 20), np.uint8, seed=3)
    expected = np.mean([structural_similarity(i, r, data_range=255) for i, r in zip(gray, gray_ref)])
    assert metrics.ssim(gray, gray_ref) == pytest.approx(expected, rel=1e-12)


def test_ssim_names_frames_smaller_than_its_window():
    # scikit-image's own error ("win_size exceeds image extent ... set channel_axis") named
    # no parameter and advised a channel_axis that ssim already sets
    small = np.zeros((5, 9, 3), np.uint8)
    with pytest.raises(ValueError, match=re.escape("image: expected each side at least SSIM's window of 7 "
                                                   "pixels (win_size=, an odd number, sets a smaller one), "
                                                   "got 9x5 (width x height) in shape (5, 9, 3)")):
        metrics.ssim(small, small)
    with pytest.raises(ValueError, match=r"window of 11 pixels .* got 10x10 .* \(2, 10, 10\)"):
        metrics.ssim(np.zeros((2, 10, 10)), np.zeros((2, 10, 10)), gaussian_weights=True)
    assert metrics.ssim(small, small, win_size=5) == 1.0
    with pytest.raises(ValueError, match="^win_size: expected an odd number, got 4$"):
        metrics.ssim(small, small, win_size=4)
    assert metrics.ssim(np.zeros((7, 7)), np.zeros((7, 7))) == 1.0
    assert metrics.ssim(np.zeros((11, 11)), np.zeros((11, 11)), gaussian_weights=True) == 1.0


@pytest.mark.parametrize("key, value", [("gaussian_weight", True), ("channel_axis", -1),
                                        ("full", True), ("gradient", True)])
def test_ssim_rejects_keywords_that_are_not_its_options(key, value):
    # scikit-image ignored the typo (a 7x7 uniform window instead of the Gaussian one asked
    # for), raised "got multiple values for keyword argument 'channel_axis'" from inside, and
    # full / gradient made the mean fail on a tuple with NumPy's "inhomogeneous shape" message
    image = np.random.default_rng(0).random((16, 16, 3))
    with pytest.raises(TypeError, match=f"^ssim\\(\\) got an unexpected keyword argument '{key}'.*"
                                        f"its options are data_range, win_size, gaussian_weights"):
        metrics.ssim(image, image * 0.5, **{key: value})
    assert metrics.ssim(image, image, K1=0.02, use_sample_covariance=False) == 1.0


@pytest.mark.parametrize("dtype, options, error, message", [
    # scikit-image raised these from inside: ZeroDivisionError for a window of one pixel,
    # OverflowError for sigma=inf or K1=1e300; K2=1e10 on float32 images (scored in float32)
    # returned NaN; a string counted as True
    (np.float64, {"win_size": 1}, ValueError, "win_size: expected a window of 3 pixels or more"),
    (np.float64, {"win_size": True}, TypeError, "win_size: expected an integer, got True"),
    (np.float64, {"gaussian_weights": True, "sigma": 0.1}, ValueError,
     "sigma: expected a window of 3 pixels or more .*got 0.1 \\(a window of 1\\)"),
    (np.float64, {"gaussian_weights": True, "sigma": 0}, ValueError, "sigma: expected a number in"),
    (np.float64, {"gaussian_weights": True, "sigma": np.inf}, ValueError,
     "sigma: expected a finite number, got inf"),
    (np.float64, {"K1": 1e300}, ValueError,
     "K1: expected a number in \\[0, 1e\\+75\\] .*float64 terms\\), got 1e\\+300"),
    (np.float32, {"K2": 1e10}, ValueError,
     "K2: expected a number in \\[0, 1e\\+09\\] .*float32 terms\\), got 1e\\+10"),
    (np.float64, {"gaussian_weights": "no"}, TypeError,
     "gaussian_weights: expected a bool, got 'no'"),
    # a window wider than the frames set by sigma named image, as if the frames were wrong
    (np.float64, {"gaussian_weights": True, "sigma": 2.5}, ValueError,
     "sigma: expected a number below 2.143 for frames of 16x16 .*got 2.5 \\(a window of 19\\)"),
])
def test_ssim_checks_its_options_values(dtype, options, error, message):
    image = np.random.default_rng(0).random((16, 16)).astype(dtype)
    with pytest.raises(error, match=f"^{message}"):
        metrics.ssim(image, image * 0.5, **options)


def test_ssim_option_values_at_their_limits():
    image = np.random.default_rng(0).random((16, 16))
    reference = image * 0.5
    # a one-pixel window has a population covariance; the largest constants stay finite
    for options in ({"win_size": 1, "use_sample_covariance": False},
                    {"gaussian_weights": True, "sigma": 0.1, "use_sample_covariance": False},
                    {"K1": 1e75, "K2": 1e75}):
        assert metrics.ssim(image, reference, **options) == pytest.approx(
            structural_similarity(image, reference, data_range=1.0, **options), abs=1e-12)
    assert np.isfinite(metrics.ssim(image.astype(np.float32), reference.astype(np.float32),
                                    K1=1e9, K2=1e9))


def test_ssim_data_range_that_overflows_its_default_constants():
    # data_range=1e30 on float32 images: (0.03 * 1e30)^2 overflows float32 inside
    # scikit-image, which returned NaN with overflow warnings
    image = np.random.default_rng(0).random((16, 16)).astype(np.float32)
    with pytest.raises(ValueError, match=r"^data_range: expected at most 3.33333e\+10 with "
                                         r"K2=0.03 .*float32 terms: NaN\), got 1e\+30"):
        metrics.ssim(image, image * 0.5, data_range=1e30)
    assert np.isfinite(metrics.ssim(image, image * 0.5, data_range=3e10))
    assert np.isfinite(metrics.ssim(image, image * 0.5, data_range=1e30, K1=0, K2=0))


def test_interpolation_error():
    image, reference = images((10, 12, 3), np.uint8)
    diff = image.astype(np.float64) - reference
    assert metrics.interpolation_error(image, reference) == pytest.approx(np.sqrt(np.mean(diff**2)), rel=1e-14)
    reference = np.zeros((2, 2), np.uint8)
    assert metrics.interpolation_error(reference + 3, reference) == 3.0
    # no uint8 wrap-around: 0 - 255 is -255, not 1
    assert metrics.interpolation_error(reference, reference + 255) == 255.0
    assert metrics.interpolation_error(np.float32([[0.5]]), np.float64([[0.25]])) == 0.25


@pytest.mark.parametrize("metric", [metrics.psnr, metrics.ssim, metrics.interpolation_error])
def test_image_metric_bad_input(metric):
    image, reference = images((16, 16), np.uint8)
    with pytest.raises(ValueError, match=r"image: expected the same shape as reference \(16, 16\), got \(16, 15\)"):
        metric(image[:, :-1], reference)
    with pytest.raises(TypeError, match=r"image: expected the dtype of reference \(uint8\), got float32"):
        metric(image.astype(np.float32), reference)
    with pytest.raises(TypeError, match=r"reference: expected dtype uint8, uint16, float16, float32 or float64, got bool"):
        metric(image, reference > 0)
    with pytest.raises(ValueError, match=r"image: expected 2-D or 3-D or 4-D array, got 1-D"):
        metric(image[0], reference[0])


@pytest.mark.parametrize("metric, names", [
    (metrics.psnr, ("image", "reference")), (metrics.ssim, ("image", "reference")),
    (metrics.interpolation_error, ("image", "reference")), (metrics.sharpness, ("image", "reference")),
    (lambda a, b: metrics.warping_error(a, b, np.zeros((16, 16, 2), np.float32)), ("frame", "previous")),
])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_image_metrics_refuse_non_finite_values(metric, names, value):
    # psnr returned nan for a NaN pixel (and the others nan or inf) where the flow metrics
    # raise; now each names the parameter, as check_finite says it elsewhere
    image, reference = images((16, 16), np.float32)
    spoiled = image.copy()
    spoiled[3, 4] = value
    with pytest.raises(ValueError, match=rf"^{names[0]}: expected finite values, got NaN or infinity$"):
        metric(spoiled, reference)
    with pytest.raises(ValueError, match=rf"^{names[1]}: expected finite values, got NaN or infinity$"):
        metric(image, spoiled)
    assert np.isfinite(metric(image, reference))


@pytest.mark.parametrize("metric", [metrics.psnr, metrics.ssim])
@pytest.mark.parametrize(
    "data_range, error, match",
    [
        (0, ValueError, r"data_range: expected a number in \(0, inf\], got 0"),
        (-1.0, ValueError, r"data_range: expected a number in \(0, inf\], got -1"),
        (np.inf, ValueError, r"data_range: expected a finite number"),
        ("255", TypeError, r"data_range: expected a real number, got '255'"),
        (True, TypeError, r"data_range: expected a real number, got True"),
    ],
)
def test_bad_data_range(metric, data_range, error, match):
    image, reference = images((16, 16), np.uint8)
    with pytest.raises(error, match=match):
        metric(image, reference, data_range=data_range)


def test_skimage_is_imported_lazily():
    import subprocess
    import sys

    code = ("import sys, flowkit.metrics as m, numpy as np; assert 'skimage' not in sys.modules; "
            "m.psnr(np.zeros((8, 8)), np.ones((8, 8))); assert 'skimage' not in sys.modules; "
            "m.ssim(np.zeros((8, 8)), np.ones((8, 8))); assert 'skimage.metrics' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_core_install_runs_without_scipy_and_scikit_image(tmp_path):
    # neither is a core dependency (pyproject.toml): the built-in sample, the metrics but ssim
    # and temporally_consistent's blend work without them, and the two functions that need one
    # say which, temporally_consistent before it reads a frame
    from cases import run_without_torch

    code = ("import numpy as np, flowkit, flowkit.metrics as m\n"
            "frame0, frame1, flow = flowkit.sample_pair(48, 64)\n"
            "assert m.psnr(flowkit.warp(frame1, flow), frame0) > 20\n"
            "assert len(flowkit.temporally_consistent([frame0] * 2, [frame0] * 2)) == 2\n"
            "def unread():\n"
            "    raise AssertionError('a frame was read')\n"
            "    yield\n"
            "for call in (lambda: m.ssim(frame0, frame0),\n"
            "             lambda: flowkit.temporally_consistent(unread(), unread(), method='gradient')):\n"
            "    try:\n"
            "        call()\n"
            "    except ImportError as exc:\n"
            "        print(exc)\n")
    lines = run_without_torch(tmp_path, code, module=("scipy", "skimage"))
    assert lines == ["ssim needs scikit-image, which is not installed: pip install scikit-image",
                     'method: "gradient" needs SciPy, which is not installed: pip install scipy']
    # the command line names its flag, before any frame is read (exit 1: a missing package)
    clip = tmp_path / "clip.mkv"
    code = ("import contextlib, io, numpy as np, flowkit\n"
            "from flowkit.cli import main\n"
            f"with flowkit.VideoWriter({str(clip)!r}, 10) as w:\n"
            "    for k in range(3):\n"
            "        w.write(np.full((32, 32, 3), 40 * k, np.uint8))\n"
            "err = io.StringIO()\n"
            "with contextlib.redirect_stderr(err):\n"
            f"    status = main(['translate', {str(clip)!r}, {str(tmp_path / 'out.mkv')!r}, "
            "'--op', 'autocontrast', '--method', 'gradient'])\n"
            "print(status)\n"
            "print(err.getvalue().strip())\n")
    lines = run_without_torch(tmp_path, code, module=("scipy", "skimage"))
    assert lines == ["1", 'flowkit: error: --method: "gradient" needs SciPy, which is not installed: '
                          "pip install scipy"]
    assert not (tmp_path / "out.mkv").exists()


def test_warping_error_against_integer_shifts():
    # previous shifted 2 px right is frame: with the flow (-2, 0) warp(previous) is frame
    # exactly except the 2 border columns (replicated); a constant offset c adds exactly c
    rng = np.random.default_rng(3)
    previous = rng.random((12, 16, 3))
    frame = np.roll(previous, 2, axis=1) + 0.125
    flow = np.zeros((12, 16, 2), np.float32)
    flow[..., 0] = -2
    valid = np.ones((12, 16), bool)
    valid[:, :2] = False
    assert metrics.warping_error(frame, previous, flow, valid) == pytest.approx(0.125, abs=1e-6)
    expected = np.abs(frame - np.concatenate([previous[:, :1]] * 2 + [previous[:, :-2]], axis=1))
    assert metrics.warping_error(frame, previous, flow) == pytest.approx(expected.mean(), abs=1e-6)
    with pytest.raises(ValueError, match="valid: expected at least one pixel with a known flow"):
        metrics.warping_error(frame, previous, flow, np.zeros((12, 16), bool))
    # unknown flow (NaN, inf, 1e9: warp's rule) is left out, as valid=False (it compared the
    # frame with the border value: 124.8 for an all-NaN flow in a new user's run)
    for marker in (np.nan, np.inf, 1e9):
        marked = flow.copy()
        marked[:, :2] = marker
        assert metrics.warping_error(frame, previous, marked) == pytest.approx(0.125, abs=1e-6)
    with pytest.raises(ValueError, match="valid: expected at least one pixel with a known flow"):
        metrics.warping_error(frame, previous, np.full_like(flow, np.nan))
    with pytest.raises(ValueError, match=r"flow: expected shape \(12, 16, 2\)"):
        metrics.warping_error(frame, previous, flow[:4])


def test_sharpness_of_views_equals_that_of_their_copies():
    # a Fortran-ordered or transposed view gave a result differing in the last bits from its
    # C-ordered copy (NumPy's sums followed the memory order of the float64 copy)
    rng = np.random.default_rng(8)
    image, reference = rng.random((2, 64, 48, 3))
    expected = metrics.sharpness(image, reference)

    def mean_gradient(x):  # the float64 reference: central differences, one axis at a time
        gy, gx = np.gradient(x, axis=(0, 1))
        return np.hypot(gx, gy).mean()

    assert expected == pytest.approx(mean_gradient(image) / mean_gradient(reference), rel=1e-12)
    def transposed(a):  # the (W, H, C) C-ordered buffer seen as (H, W, C)
        return np.ascontiguousarray(a.swapaxes(0, 1)).swapaxes(0, 1)

    for view in (np.asfortranarray, transposed):
        assert metrics.sharpness(view(image), view(reference)) == expected
        assert metrics.sharpness(image, view(reference)) == expected


def test_float_images_outside_0_1_need_data_range():
    # floats in [0, 255] scored -22.8 dB silently (a new user's report); scikit-image refuses too
    rng = np.random.default_rng(4)
    reference = rng.random((16, 16)).astype(np.float32)
    image = np.clip(reference + 0.01, 0, 1)
    for metric in (metrics.psnr, metrics.ssim):
        with pytest.raises(ValueError, match=r"data_range: expected it for float images outside "
                                             r"\[0, 1\], got None with reference values in \[2\.09452, 254\.595\]"):
            metric(image * 255, reference * 255)
        assert metric(image * 255, reference * 255, data_range=255) == pytest.approx(
            metric(image, reference), rel=1e-5)
