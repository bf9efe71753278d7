"""flowkit.lucas_kanade_sparse and flowkit.good_features against OpenCV (calcOpticalFlowPyrLK,
goodFeaturesToTrack, buildOpticalFlowPyramid), ground-truth flow, analytic cases and the CUDA
path (simulator)."""

import re

import cv2
import numpy as np
import pytest
from scipy.spatial import cKDTree

import flowkit
from flowkit.kernels import lk_sparse as lk
from cases import data_path, ground_truth_case, textured_image, translated_pair

CASES = ["RubberWhale", "Venus", "Yosemite", "Sintel-alley_1"]
CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 30, 0.01)


def opencv_lk(frame0, frame1, pts, win_size=21, max_level=3, max_iter=30, eps=0.01, min_eig=1e-4, init=None):
    flags = 0 if init is None else cv2.OPTFLOW_USE_INITIAL_FLOW
    nxt = None if init is None else init.reshape(-1, 1, 2).copy()
    p1, st, err = cv2.calcOpticalFlowPyrLK(
        frame0, frame1, pts.reshape(-1, 1, 2), nxt, winSize=(win_size, win_size), maxLevel=max_level,
        criteria=(cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, max_iter, eps), flags=flags,
        minEigThreshold=min_eig)
    return p1.reshape(-1, 2), st.ravel().astype(bool), err.ravel()


def reflect101(index, n):
    """OpenCV's BORDER_REFLECT_101 of integer indices into [0, n), however far outside."""
    period = 2 * n - 2
    m = np.mod(index, period)
    return np.where(m < n, m, period - m)


def sample_flow_at(flow, pts):
    """Ground truth bilinearly sampled at the points."""
    x = pts[:, 0].reshape(-1, 1).astype(np.float32)
    y = pts[:, 1].reshape(-1, 1).astype(np.float32)
    return cv2.remap(flow, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).reshape(-1, 2)


def agreement(a, b):
    """(status agreement, median distance of points both track, positions, statuses)."""
    (p, s, _), (q, t, _) = a, b
    both = s & t
    return np.mean(s == t), float(np.median(np.linalg.norm(p[both] - q[both], axis=1)))


@pytest.fixture(scope="module")
def rubberwhale():
    frame0, frame1, gt, valid = ground_truth_case("RubberWhale")
    return frame0, frame1, flowkit.good_features(frame0, 500, 0.01, 7)


# --------------------------------------------------------------------------- against OpenCV


@pytest.mark.parametrize("name", CASES)
def test_matches_opencv_and_ground_truth(name):
    # Tolerances from the issue: float bilinear weights vs OpenCV's 14-bit fixed point move
    # converged points by ~1e-4 px (median), far below 0.05 px; statuses differ only for
    # points at the min-eigenvalue threshold or the border (>= 98 % agree).
    frame0, frame1, gt, valid = ground_truth_case(name)
    pts = flowkit.good_features(frame0, 1500, 0.01, 5)
    assert len(pts) > 300
    ours = flowkit.lucas_kanade_sparse(frame0, frame1, pts, normalize=False)
    theirs = opencv_lk(frame0, frame1, pts)
    agree, median = agreement(ours, theirs)
    assert agree >= 0.98
    assert median < 0.05
    # err is OpenCV's mean absolute difference: fixed-point rounding of I and J (1/32 level)
    both = ours[1] & theirs[1]
    assert np.median(np.abs(ours[2][both] - theirs[2][both])) < 0.01
    # accuracy against the ground truth, on points both track with known flow: no worse than
    # OpenCV's (2 % allowed)
    xi = np.clip(np.rint(pts[:, 0]).astype(int), 0, frame0.shape[1] - 1)
    yi = np.clip(np.rint(pts[:, 1]).astype(int), 0, frame0.shape[0] - 1)
    sel = both & valid[yi, xi]
    truth = pts[sel] + sample_flow_at(gt, pts[sel])
    ours_err = np.linalg.norm(ours[0][sel] - truth, axis=1).mean()
    theirs_err = np.linalg.norm(theirs[0][sel] - truth, axis=1).mean()
    assert ours_err <= 1.02 * theirs_err


@pytest.mark.parametrize("name", CASES)
def test_good_features_matches_opencv(name):
    frame0 = ground_truth_case(name)[0]
    ours = flowkit.good_features(frame0, 1000, 0.01, 5, normalize=False)
    theirs = cv2.goodFeaturesToTrack(frame0, 1000, 0.01, 5).reshape(-1, 2)
    assert ours.dtype == np.float32 and ours.shape[1] == 2
    assert abs(len(ours) - len(theirs)) <= 0.02 * len(theirs)
    # float32 rounding of near-equal responses may swap a few corners (>= 95 % within 1 px)
    assert np.mean(cKDTree(theirs).query(ours)[0] <= 1.0) >= 0.95
    assert np.mean(cKDTree(ours).query(theirs)[0] <= 1.0) >= 0.95


def test_good_features_options(rubberwhale):
    frame0 = rubberwhale[0]
    for max_corners, quality, min_distance in [(50, 0.05, 20.0), (0, 0.2, 0.0), (300, 0.01, 2.5)]:
        ours = flowkit.good_features(frame0, max_corners, quality, min_distance, normalize=False)
        theirs = cv2.goodFeaturesToTrack(frame0, max_corners, quality, min_distance).reshape(-1, 2)
        assert abs(len(ours) - len(theirs)) <= max(1, 0.02 * len(theirs))
        assert np.mean(cKDTree(theirs).query(ours)[0] <= 1.0) >= 0.95
        if min_distance > 0 and len(ours) > 1:
            assert cKDTree(ours).query(ours, k=2)[0][:, 1].min() >= min_distance



def test_good_features_drops_responses_equal_to_the_quality_threshold():
    # OpenCV keeps responses above quality * max (THRESH_TOZERO): a square's four corners,
    # equal by symmetry, are all dropped at quality 1 and all kept just below it
    frame = np.zeros((40, 40), np.uint8)
    frame[10:30, 10:30] = 200
    for quality in (1.0, 0.999999):
        ours = flowkit.good_features(frame, 10, quality, 3, normalize=False)
        theirs = cv2.goodFeaturesToTrack(frame, 10, quality, 3)
        theirs = np.empty((0, 2), np.float32) if theirs is None else theirs.reshape(-1, 2)
        assert len(theirs) == (0 if quality == 1.0 else 4)
        np.testing.assert_array_equal(ours[np.lexsort(ours.T)], theirs[np.lexsort(theirs.T)])

@pytest.mark.parametrize("min_distance", [1e6, 2.0**63, 1e30, 1.7e308])
def test_good_features_min_distance_beyond_the_frame_keeps_one_corner(min_distance):
    # OpenCV's answer for any spacing longer than the frame: the strongest corner alone. From
    # 2**63 the grid's cell size int(round(min_distance)) wrapped in int64: up to max_corners
    # corners with no spacing, or a segmentation fault
    frame = (textured_image(60, 80, seed=3) * 255).astype(np.uint8)
    theirs = cv2.goodFeaturesToTrack(frame, 100, 0.01, 1e6).reshape(-1, 2)
    ours = flowkit.good_features(frame, 100, 0.01, min_distance, normalize=False)
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("block_size, harris, k", [
    (7, False, 0.04), (4, False, 0.04), (2, False, 0.04), (15, False, 0.04), (3, True, 0.04),
    (5, True, 0.1)])
def test_good_features_block_size_and_harris_match_opencv(rubberwhale, block_size, harris, k):
    # OpenCV's lk_track.py sample uses blockSize=7; even sizes take OpenCV's box anchor
    frame0 = rubberwhale[0]
    ours = flowkit.good_features(frame0, 1000, 0.01, 5, block_size=block_size,
                                 use_harris_detector=harris, k=k, normalize=False)
    theirs = cv2.goodFeaturesToTrack(frame0, 1000, 0.01, 5, blockSize=block_size,
                                     useHarrisDetector=harris, k=k).reshape(-1, 2)
    assert abs(len(ours) - len(theirs)) <= max(1, 0.02 * len(theirs))
    assert np.mean(cKDTree(theirs).query(ours)[0] <= 1.0) >= 0.95
    assert np.mean(cKDTree(ours).query(theirs)[0] <= 1.0) >= 0.95


@pytest.mark.parametrize("name", ["RubberWhale", "Sintel-alley_1"])
@pytest.mark.parametrize("gradient_size, block_size, harris", [
    (5, 3, False), (5, 7, False), (5, 2, False), (7, 3, False), (7, 4, False), (5, 5, True),
    (7, 3, True), (1, 3, False), (-1, 3, False), (-1, 5, True), (15, 3, False)])
def test_good_features_gradient_size_matches_opencv(name, gradient_size, block_size, harris):
    # gradient_size is goodFeaturesToTrack's gradientSize (the Sobel aperture; -1 Scharr),
    # with cornerEigenValsVecs' derivative scale; the tolerance of the block_size test above
    # (measured: the same corners as OpenCV's on the four shared pairs for -1, 1, 5, 7, 9, 15
    # and 31 with blocks 2, 3, 7 and Harris with 3, 5; responses within 5e-6 of the largest)
    frame0 = ground_truth_case(name)[0]
    ours = flowkit.good_features(frame0, 1000, 0.01, 5, block_size=block_size,
                                 gradient_size=gradient_size, use_harris_detector=harris,
                                 normalize=False)
    theirs = cv2.goodFeaturesToTrack(frame0, 1000, 0.01, 5, mask=None, blockSize=block_size,
                                     gradientSize=gradient_size, useHarrisDetector=harris,
                                     k=0.04).reshape(-1, 2)
    assert abs(len(ours) - len(theirs)) <= max(1, 0.02 * len(theirs))
    assert np.mean(cKDTree(theirs).query(ours)[0] <= 1.0) >= 0.95
    assert np.mean(cKDTree(ours).query(theirs)[0] <= 1.0) >= 0.95
    default = flowkit.good_features(frame0, 1000, 0.01, 5, block_size=block_size,
                                    use_harris_detector=harris, normalize=False)
    assert not np.array_equal(ours, default)  # the aperture changed the corners


def test_good_features_gradient_size_3_is_the_default():
    frame = (textured_image(40, 52, seed=9) * 255).astype(np.uint8)
    for options in ({}, dict(block_size=4), dict(use_harris_detector=True)):
        np.testing.assert_array_equal(flowkit.good_features(frame, 0, 0.01, 0, gradient_size=3,
                                                            **options),
                                      flowkit.good_features(frame, 0, 0.01, 0, **options))


def test_good_features_mask_matches_opencv(rubberwhale):
    # the strongest response (quality's reference) is taken inside the mask, as OpenCV's
    # minMaxLoc with the mask: a weak region alone still gives corners
    frame0 = rubberwhale[0]
    mask = np.zeros(frame0.shape, np.uint8)
    mask[100:300, 200:500] = 255
    mask[20:60, 20:40] = 1
    ours = flowkit.good_features(frame0, 300, 0.05, 5, mask=mask, normalize=False)
    theirs = cv2.goodFeaturesToTrack(frame0, 300, 0.05, 5, mask=mask).reshape(-1, 2)
    assert len(ours) == len(theirs) > 50
    assert np.mean(cKDTree(theirs).query(ours)[0] <= 1.0) >= 0.95
    assert mask[ours[:, 1].astype(int), ours[:, 0].astype(int)].all()
    as_bool = flowkit.good_features(frame0, 300, 0.05, 5, mask=mask > 0, normalize=False)
    np.testing.assert_array_equal(as_bool, ours)
    weak = np.zeros(frame0.shape, bool)
    weak[20:60, 20:40] = True
    alone = flowkit.good_features(frame0, 300, 0.05, 2, mask=weak, normalize=False)
    theirs = cv2.goodFeaturesToTrack(frame0, 300, 0.05, 2, mask=weak.astype(np.uint8))
    theirs = theirs.reshape(-1, 2)
    assert len(alone) == len(theirs) > 0
    nowhere = np.zeros(frame0.shape, bool)
    assert flowkit.good_features(frame0, 10, 0.01, 3, mask=nowhere).shape == (0, 2)


@pytest.mark.parametrize("win_size", [2**31 + 1, (3, 2**40), 2**63 - 1])
def test_win_size_beyond_memory_is_named(win_size):
    # the levels are padded by the window: such a window made a MemoryError, or NumPy's
    # 'Maximum allowed dimension exceeded' / an OverflowError, naming nothing
    frame = (textured_image(40, 48) * 255).astype(np.uint8)
    points = np.array([[10.0, 10.0]], np.float32)
    with pytest.raises(MemoryError, match=r"^win_size: \d+ pyramid values .* would need at least"):
        flowkit.lucas_kanade_sparse(frame, frame, points, win_size=win_size)
    with pytest.raises(ValueError, match=r"^win_size: "):  # the command line's usage error
        flowkit.lucas_kanade_sparse(frame, frame, points, win_size=win_size)


def test_good_features_option_errors():
    frame = textured_image(30, 40, seed=2)
    g = flowkit.good_features
    with pytest.raises(ValueError, match=r"block_size: expected an integer >= 1, got 0"):
        g(frame, block_size=0)
    with pytest.raises(ValueError, match=r"block_size: expected an integer <= 255, got 256"):
        g(frame, block_size=256)
    with pytest.raises(TypeError, match="block_size: expected an integer"):
        g(frame, block_size=2.5)
    for bad in (0, 2, 33, -3):
        with pytest.raises(ValueError, match=r"gradient_size: expected -1 \(Scharr\) or an odd "
                                             rf"integer from 1 to 31 .*, got {bad}$"):
            g(frame, gradient_size=bad)
    with pytest.raises(TypeError, match="gradient_size: expected an integer, got"):
        g(frame, gradient_size=5.0)
    with pytest.raises(TypeError, match="use_harris_detector: expected a bool"):
        g(frame, use_harris_detector="yes")
    with pytest.raises(ValueError, match="k: expected a finite number, got nan"):
        g(frame, use_harris_detector=True, k=float("nan"))
    # beyond float32's range k was -inf in the kernel: NaN responses at flat pixels, no corner
    # left (OpenCV finds 50 there); at its limit the flat pixels stay 0
    for bad in (-1e300, 1e39):
        with pytest.raises(ValueError, match=r"^k: expected a number in \[-3.40282\d*e\+38, "
                                             rf"3.40282\d*e\+38\], got {re.escape(str(bad))}$"):
            g(frame, use_harris_detector=True, k=bad)
    assert len(g(frame, 5, use_harris_detector=True, k=-float(np.finfo(np.float32).max))) == 5
    with pytest.raises(ValueError,
                       match=r"mask: expected shape \(30, 40\) \(H, W of frame\), got \(40, 30\)"):
        g(frame, mask=np.ones((40, 30), bool))
    with pytest.raises(TypeError, match="mask: expected a boolean or numeric mask, got dtype comp"):
        g(frame, mask=np.ones((30, 40), complex))


@pytest.mark.parametrize("win_size, max_level, max_iter, eps, min_eig", [
    (7, 0, 30, 0.01, 1e-4), (15, 2, 10, 0.03, 1e-3), (31, 4, 30, 0.01, 1e-4), (21, 3, 30, 0.01, 0.0),
    (21, 3, 30, 0.01, 0.017),
])
def test_options_match_opencv(rubberwhale, win_size, max_level, max_iter, eps, min_eig):
    frame0, frame1, pts = rubberwhale
    ours = flowkit.lucas_kanade_sparse(frame0, frame1, pts, win_size=win_size, max_level=max_level,
                                       max_iter=max_iter, eps=eps, min_eig_threshold=min_eig, normalize=False)
    theirs = opencv_lk(frame0, frame1, pts, win_size, max_level, max_iter, eps, min_eig)
    agree, median = agreement(ours, theirs)
    assert agree >= 0.98 and median < 0.05
    if min_eig == 0.017:  # the threshold means the same as OpenCV's: it rejects the same points
        assert (~theirs[1]).sum() > 50
        assert np.mean(ours[1][~theirs[1]] == False) >= 0.95  # noqa: E712


def test_rectangular_window_matches_opencv(rubberwhale):
    frame0, frame1, pts = rubberwhale
    ours = flowkit.lucas_kanade_sparse(frame0, frame1, pts, win_size=(11, 21), normalize=False)
    p1, st, _ = cv2.calcOpticalFlowPyrLK(frame0, frame1, pts.reshape(-1, 1, 2), None, winSize=(11, 21),
                                         maxLevel=3, criteria=CRITERIA)
    agree, median = agreement(ours, (p1.reshape(-1, 2), st.ravel().astype(bool), None))
    assert agree >= 0.98 and median < 0.05
    # the pair as NumPy gives it (a 1-D array), and a 0-d array for a square window
    for given, same in (((np.array([11, 21])), (11, 21)), (np.array(15), 15)):
        a = flowkit.lucas_kanade_sparse(frame0, frame1, pts[:50], win_size=given)
        b = flowkit.lucas_kanade_sparse(frame0, frame1, pts[:50], win_size=same)
        assert all(np.array_equal(x, y, equal_nan=True) for x, y in zip(a, b))
    with pytest.raises(TypeError, match="win_size: expected an integer"):
        flowkit.lucas_kanade_sparse(frame0, frame1, pts, win_size=np.array([11.5, 21.0]))


def test_colour_matches_opencv():
    frame0 = cv2.imread(str(data_path("middlebury_color", "RubberWhale", "frame10.png")))
    frame1 = cv2.imread(str(data_path("middlebury_color", "RubberWhale", "frame11.png")))
    pts = flowkit.good_features(cv2.cvtColor(frame0, cv2.COLOR_BGR2GRAY), 500, 0.01, 7)
    ours = flowkit.lucas_kanade_sparse(frame0, frame1, pts, normalize=False)
    theirs = opencv_lk(frame0, frame1, pts)  # OpenCV also sums the normal equations over channels
    agree, median = agreement(ours, theirs)
    assert agree >= 0.98 and median < 0.05


def opencv_min_eigenvals(frame0, frame1, pts, min_eig, **kw):
    """(status, err) of OpenCV's OPTFLOW_LK_GET_MIN_EIGENVALS with OpenCV's default options."""
    _, st, err = cv2.calcOpticalFlowPyrLK(
        frame0, frame1, pts.reshape(-1, 1, 2), None, winSize=(21, 21), maxLevel=3,
        criteria=CRITERIA, flags=cv2.OPTFLOW_LK_GET_MIN_EIGENVALS, minEigThreshold=min_eig, **kw)
    return st.ravel().astype(bool), err.ravel()


@pytest.mark.parametrize("min_eig", [1e-4, 0.017])
def test_min_eigenvals_match_opencv(rubberwhale, min_eig):
    # err = level 0's minimum eigenvalue / window area in OpenCV's units, for every point,
    # refused or not. Tolerances (relative): good_features' points are integers, where OpenCV's
    # bilinear weights are exact and its window derivatives the raw Scharr integers, so only
    # float32 summation order and OpenCV's float32 eigenvalue formula differ (1.5e-5 measured
    # at most): 1e-4. Sub-pixel points add OpenCV's 14-bit weights and its derivatives
    # rounded to integers after interpolation (9e-4 measured at most): 3e-3.
    frame0, frame1, pts = rubberwhale
    h, w = frame0.shape
    outside = np.float32([[-32, 10], [w + 20, 50], [40, h + 25], [np.nan, 5]])  # windows outside
    for points, rtol in ((pts, 1e-4), (pts + np.float32([0.37, -0.21]), 3e-3)):
        points = np.concatenate([points, outside])
        p1, status, err = flowkit.lucas_kanade_sparse(frame0, frame1, points, normalize=False,
                                                      min_eig_threshold=min_eig,
                                                      get_min_eigenvals=True)
        st, theirs = opencv_min_eigenvals(frame0, frame1, points, min_eig)
        assert err.dtype == np.float32 and np.all(err[:-4] > 0)
        np.testing.assert_allclose(err, theirs, rtol=rtol, atol=0)
        np.testing.assert_array_equal(err[-4:], 0)  # OpenCV: 0 where the window is outside
        assert np.mean(status == st) >= 0.99
        refused = err < min_eig  # refused for a small eigenvalue: lost, the eigenvalue reported
        assert not status[refused].any()
        if min_eig == 0.017:
            assert refused.sum() > 50
        # the flag changes err alone: positions and statuses are those without it
        q1, status_off, err_off = flowkit.lucas_kanade_sparse(
            frame0, frame1, points, min_eig_threshold=min_eig, normalize=False)
        np.testing.assert_array_equal(status, status_off)
        np.testing.assert_array_equal(p1, q1)
        assert not np.array_equal(err, err_off)


def test_min_eigenvals_keep_statuses_where_opencv_does_not():
    # OpenCV's flag also skips its last test, whether the final window is still inside the
    # image at level 0, so points tracked out of the image keep status 1 there; flowkit's
    # statuses do not depend on the flag (docs/api.md, "Differences from OpenCV").
    frame0 = ground_truth_case("RubberWhale")[0]
    h, w = frame0.shape
    frame1 = cv2.warpAffine(frame0, np.float32([[1, 0, 9], [0, 1, 0]]), (w, h),
                            borderMode=cv2.BORDER_REFLECT_101)
    pts = np.random.default_rng(0).uniform([w + 3, 0], [w + 12, h], (3000, 2)).astype(np.float32)
    kw = dict(win_size=21, max_level=0, max_iter=1, normalize=False)
    status = flowkit.lucas_kanade_sparse(frame0, frame1, pts, get_min_eigenvals=True, **kw)[1]
    np.testing.assert_array_equal(status, flowkit.lucas_kanade_sparse(frame0, frame1, pts, **kw)[1])
    crit = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 1, 0.01)
    _, st, _ = cv2.calcOpticalFlowPyrLK(frame0, frame1, pts.reshape(-1, 1, 2), None,
                                        winSize=(21, 21), maxLevel=0, criteria=crit,
                                        flags=cv2.OPTFLOW_LK_GET_MIN_EIGENVALS)
    st = st.ravel().astype(bool)
    assert (st & ~status).sum() > 0  # OpenCV keeps some that left the image
    np.testing.assert_array_equal(st & status, status)


def test_min_eigenvals_units_with_normalize(rubberwhale):
    # normalize=True: min_eig_threshold's units on the stretched pair's 0..255 scale, not the
    # input's (uint8: the raw eigenvalue times (255 / (max - min))**2); the same for a * I + b
    # in any dtype (float32 rounding of the stretched float frames: 1e-4)
    frame0, frame1, pts = rubberwhale
    raw = flowkit.lucas_kanade_sparse(frame0, frame1, pts, get_min_eigenvals=True,
                                      normalize=False)[2]
    lo = min(frame0.min(), frame1.min())
    hi = max(frame0.max(), frame1.max())
    assert hi - lo < 255
    stretched = flowkit.lucas_kanade_sparse(frame0, frame1, pts, get_min_eigenvals=True)[2]
    np.testing.assert_allclose(stretched, raw * (255.0 / (hi - lo)) ** 2, rtol=1e-6)
    dim = [f.astype(np.float64) / 255 * 0.25 + 0.5 for f in (frame0, frame1)]
    _, status, err = flowkit.lucas_kanade_sparse(*dim, pts, get_min_eigenvals=True)
    np.testing.assert_allclose(err, stretched, rtol=1e-4)
    np.testing.assert_array_equal(status, flowkit.lucas_kanade_sparse(*dim, pts)[1])


def test_get_min_eigenvals_must_be_a_bool():
    frame = np.zeros((30, 40), np.uint8)
    for bad in (1, "yes", None, np.array([True])):
        with pytest.raises(TypeError, match="get_min_eigenvals: expected a bool, got"):
            flowkit.lucas_kanade_sparse(frame, frame, np.zeros((3, 2)), get_min_eigenvals=bad)
    flowkit.lucas_kanade_sparse(frame, frame, np.zeros((3, 2)), get_min_eigenvals=np.bool_(True))


def test_initial_guess_matches_opencv(rubberwhale):
    frame0, frame1, pts = rubberwhale
    guess = pts + np.float32([2.0, -1.0])
    ours = flowkit.lucas_kanade_sparse(frame0, frame1, pts, init_points=guess, max_level=1, normalize=False)
    theirs = opencv_lk(frame0, frame1, pts, max_level=1, init=guess)
    agree, median = agreement(ours, theirs)
    assert agree >= 0.98 and median < 0.05


def test_backward_check(rubberwhale):
    frame0, frame1, pts = rubberwhale
    p1, status, err = flowkit.lucas_kanade_sparse(frame0, frame1, pts, backward_check=True, normalize=False)
    q1, forward, _ = flowkit.lucas_kanade_sparse(frame0, frame1, pts, normalize=False)
    np.testing.assert_array_equal(p1, q1)  # the check only clears statuses
    back, back_ok, _ = opencv_lk(frame1, frame0, q1)
    expect = forward & back_ok & (np.linalg.norm(back - pts, axis=1) <= 1.0)
    assert np.mean(status == expect) >= 0.98
    assert not np.any(status & ~forward)
    assert (forward & ~status).sum() > 0  # RubberWhale has occlusions the check catches


def test_pyramid_and_derivatives_match_opencv(rubberwhale):
    frame0, frame1, _ = rubberwhale
    win = 21
    shapes = lk.pyramid_shapes(*frame0.shape, win, win, 3)
    buf, gx, gy, geo, total = lk.build_pyramids(frame0[..., None], frame1[..., None], shapes, win, win, 2)
    for start, frame in ((0, frame0), (total, frame1)):
        _, pyr = cv2.buildOpticalFlowPyramid(frame, (win, win), 3, withDerivatives=False)
        assert len(pyr) == len(shapes)
        for lv, level in enumerate(pyr):
            h, w = level.shape
            view = lk.level_view(buf[start:], geo[lv], 1, win, win)[..., 0]
            # rounded like pyrDown, bordered like OpenCV's reflect-101 padding
            padded = cv2.copyMakeBorder(level, win, win, win, win, cv2.BORDER_REFLECT_101)
            np.testing.assert_array_equal(view, padded)
            # Scharr / 32 (exact in float32), zero outside the image
            for grad, (dx, dy) in ((gx, (1, 0)), (gy, (0, 1))):
                ref = cv2.Scharr(level.astype(np.float32), cv2.CV_32F, dx, dy,
                                 borderType=cv2.BORDER_REFLECT_101) / 32
                got = lk.level_view(grad[start:], geo[lv], 1, win, win)[..., 0]
                np.testing.assert_allclose(got[win:win + h, win:win + w], ref, atol=1e-4)
                assert not got[:win].any() and not got[:, :win].any()


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size, win", [((101, 77), 5), ((64, 90), (7, 9))])
def test_float_pyramid_with_borders_matches_opencv(channels, size, win):
    # the stretched float path (no rounding) and colour levels, borders included, against
    # cv2.pyrDown of the float32 level before and reflect-101 padding; float32 sums in another
    # order than OpenCV's: 1e-6 on [0, 1] values
    rng = np.random.default_rng(3)
    frame0, frame1 = rng.integers(0, 256, (2, *size, channels)).astype(np.uint8)
    win_w, win_h = (win, win) if np.isscalar(win) else win
    shapes = lk.pyramid_shapes(*size, win_w, win_h, 3)
    assert len(shapes) >= 3  # levels 0, 1, 2 at least
    stretch = (np.float32(10.0), np.float32(1 / 200))
    buf, _, _, geo, total = lk.build_pyramids(frame0, frame1, shapes, win_w, win_h, 0, stretch)
    for start, frame in ((0, frame0), (total, frame1)):
        level = (frame.astype(np.float32) - stretch[0]) * stretch[1]
        for lv in range(len(shapes)):
            if lv:
                level = cv2.pyrDown(level).reshape(*shapes[lv], channels)
            padded = cv2.copyMakeBorder(level, win_h, win_h, win_w, win_w, cv2.BORDER_REFLECT_101)
            view = lk.level_view(buf[start:], geo[lv], channels, win_w, win_h)
            np.testing.assert_allclose(view, padded.reshape(view.shape), rtol=0, atol=1e-6)


@pytest.mark.parametrize("size, win", [((101, 77), 5), ((64, 91), (7, 9)), ((9, 13), 21)])
def test_uint8_pyramid_with_borders_matches_opencv(size, win):
    # gray uint8 levels (the integer pyrDown, build_pyramids' gray uint8 case) at odd sizes, and
    # a frame smaller than the window (its borders reflect more than once): exactly
    # cv2.pyrDown's levels with cv2.copyMakeBorder's reflect-101 borders; extrema receives each
    # frame's min and max
    rng = np.random.default_rng(5)
    frame0, frame1 = rng.integers(0, 256, (2, *size, 1)).astype(np.uint8)
    frame1 //= 2
    win_w, win_h = (win, win) if np.isscalar(win) else win
    shapes = lk.pyramid_shapes(*size, win_w, win_h, 3)
    extrema = np.empty((2, 2))
    buf, _, _, geo, total = lk.build_pyramids(frame0, frame1, shapes, win_w, win_h, 0, None, extrema)
    assert buf.dtype == np.uint8
    for start, frame in ((0, frame0), (total, frame1)):
        level = frame[..., 0]
        for lv in range(len(shapes)):
            if lv:
                level = cv2.pyrDown(level)
            padded = cv2.copyMakeBorder(level, win_h, win_h, win_w, win_w, cv2.BORDER_REFLECT_101)
            np.testing.assert_array_equal(lk.level_view(buf[start:], geo[lv], 1, win_w, win_h)[..., 0], padded)
    np.testing.assert_array_equal(extrema, [[frame0.min(), frame0.max()], [frame1.min(), frame1.max()]])


def test_pyramid_stops_before_window_size():
    # OpenCV: no level whose side is <= the window
    assert lk.pyramid_shapes(100, 200, 21, 21, 5) == [(100, 200), (50, 100), (25, 50)]
    assert lk.pyramid_shapes(40, 40, 21, 21, 3) == [(40, 40)]


# --------------------------------------------------------------------------- analytic cases


def test_identical_frames_give_zero_motion(rubberwhale):
    frame0, _, pts = rubberwhale
    p1, status, err = flowkit.lucas_kanade_sparse(frame0, frame0, pts, normalize=False)
    assert status.all()
    np.testing.assert_array_equal(p1, pts)  # J - I is exactly 0, so every step is 0
    np.testing.assert_array_equal(err, 0)
    # stretched (float) pyramids: the frame0 patch and the frame1 samples are interpolated by
    # two formulas, so J - I is float rounding and a step may move a point by one ulp
    p1, status, err = flowkit.lucas_kanade_sparse(frame0, frame0, pts)
    assert status.all()
    np.testing.assert_allclose(p1, pts, atol=1e-5)
    assert err.max() < 1e-3  # 0..255 units: rounding of stretched values


@pytest.mark.parametrize("du, dv", [(1.25, -0.5), (-3.7, 2.2), (6.3, 5.1)])
def test_translation_is_recovered(du, dv):
    # frame1 is an exact (cubic spline) shift of a smooth texture: the true motion is (du, dv)
    frame0, frame1, _ = translated_pair(120, 160, du, dv, seed=2)
    rng = np.random.default_rng(1)
    pts = rng.uniform(30, [130, 90], (60, 2)).astype(np.float32)
    p1, status, err = flowkit.lucas_kanade_sparse(frame0, frame1, pts, win_size=15, max_level=2)
    assert status.all()
    # bilinear sampling of the smooth texture biases each point by up to ~0.025 px (the same
    # with eps=1e-3, so it is not the stopping rule); the mean is ~0.006 px
    miss = np.abs(p1 - pts - np.float32([du, dv]))
    assert miss.max() < 0.05 and miss.mean() < 0.01
    assert err.max() < 0.01  # float frames in [0, 1]: err is in those units


def test_dtypes_agree():
    # One threshold means the same on every dtype (0..255-equivalent scale) and err is in the
    # input's units; only integer pyramids are rounded, so float results differ by ~1e-3 px.
    frame0, frame1, _, _ = ground_truth_case("Venus")
    pts = flowkit.good_features(frame0, 400, 0.01, 7)
    ref = flowkit.lucas_kanade_sparse(frame0, frame1, pts, min_eig_threshold=2e-3, normalize=False)
    for scale, dtype in [(257, np.uint16), (1 / 255, np.float32), (1 / 255, np.float64),
                         (1 / 255, np.float16)]:
        a = (frame0 * float(scale)).astype(dtype)
        b = (frame1 * float(scale)).astype(dtype)
        p1, status, err = flowkit.lucas_kanade_sparse(a, b, pts, min_eig_threshold=2e-3, normalize=False)
        assert p1.dtype == np.float32 and status.dtype == bool and err.dtype == np.float32
        agree, median = agreement((p1, status, err), ref)
        assert agree >= 0.98 and median < 0.05
        both = status & ref[1]
        np.testing.assert_allclose(np.median(err[both] / scale), np.median(ref[2][both]), rtol=0.05)


# --------------------------------------------------------------------------- edge cases


def test_points_outside_nan_and_near_border():
    frame0, frame1, _, _ = ground_truth_case("RubberWhale")
    h, w = frame0.shape
    pts = np.array([[-40, 10], [w + 40, 100], [10, -35], [np.nan, 5], [5, np.inf], [1e20, 3],
                    [-5, 10], [w - 0.5, h - 0.5]], np.float32)
    p1, status, err = flowkit.lucas_kanade_sparse(frame0, frame1, pts, normalize=False)
    _, cv_status, _ = opencv_lk(frame0, frame1, pts[[0, 1, 2, 6, 7]])
    # far outside (window wholly off the image): lost; err 0 there
    assert not status[:6].any() and not err[:6].any()
    assert np.isnan(p1[3, 0])
    # slightly outside or on the border: tracked with mirrored borders, as OpenCV does
    np.testing.assert_array_equal(status[[0, 1, 2, 6, 7]], cv_status)
    assert status[6]


@pytest.mark.parametrize("colour", [False, True])
def test_window_derivatives_equal_whole_level_derivatives(monkeypatch, colour):
    # Few points: frame0's (and, with the backward check, frame1's) Scharr derivatives are
    # computed per window instead of over whole levels (lk.window_derivatives). Same values,
    # zero outside the image alike, so the results are bitwise those of the whole-level path;
    # checked with windows over every border, integer and stretched pyramids, gray and RGB.
    frame0, frame1, _, _ = ground_truth_case("RubberWhale")
    if colour:
        frame0 = np.dstack([frame0, frame0[::-1], frame0[:, ::-1]])
        frame1 = np.dstack([frame1, frame1[::-1], frame1[:, ::-1]])
    h, w = frame0.shape[:2]
    rng = np.random.default_rng(3)
    pts = np.concatenate([rng.uniform(-15, [w + 15, h + 15], (40, 2)),
                          [[-20, 50], [w + 10, 30], [40, -18], [60, h + 12], [0, 0], [w - 1, h - 1]]])
    pts = pts.astype(np.float32)
    results = {}
    for per_window in (True, False):
        monkeypatch.setattr(lk, "window_derivatives", lambda *args, v=per_window: v)
        results[per_window] = [flowkit.lucas_kanade_sparse(frame0, frame1, pts, normalize=n,
                                                           backward_check=b, win_size=11)
                               for n in (True, False) for b in (False, True)]
    for got, ref in zip(results[True], results[False]):
        for a, b in zip(got, ref):
            np.testing.assert_array_equal(a, b)
    assert 0.3 < np.mean(results[True][0][1]) < 1  # points tracked and lost at the borders


def test_window_derivatives_choice():
    # per window for a hundred points on a 720p pyramid, whole levels for a thousand
    assert lk.window_derivatives(100, 21, 21, 4, 1280 * 720 * 4 // 3)
    assert not lk.window_derivatives(1000, 21, 21, 4, 1280 * 720 * 4 // 3)


def test_empty_point_set():
    frame = np.zeros((30, 40), np.uint8)
    for empty in (np.empty((0, 2), np.float32), np.empty(0), []):
        p1, status, err = flowkit.lucas_kanade_sparse(frame, frame, empty)
        assert p1.shape == (0, 2) and p1.dtype == np.float32
        assert status.shape == (0,) and status.dtype == bool
        assert err.shape == (0,) and err.dtype == np.float32


def test_integer_points_and_lists_accepted(rubberwhale):
    frame0, frame1, pts = rubberwhale
    ints = np.rint(pts).astype(np.int32)
    a = flowkit.lucas_kanade_sparse(frame0, frame1, ints)
    b = flowkit.lucas_kanade_sparse(frame0, frame1, ints.astype(np.float32).tolist())
    np.testing.assert_array_equal(a[0], b[0])


def test_bad_inputs_raise():
    frame = np.zeros((30, 40), np.uint8)
    pts = np.zeros((3, 2), np.float32)
    f = flowkit.lucas_kanade_sparse
    with pytest.raises(ValueError, match=r"points: expected shape \(K, 2\).*got \(3, 3\)"):
        f(frame, frame, np.zeros((3, 3), np.float32))
    with pytest.raises(ValueError, match=r"points: expected shape \(K, 2\).*got \(3, 1, 2\)"):
        f(frame, frame, np.zeros((3, 1, 2), np.float32))
    with pytest.raises(ValueError, match=r"points: expected shape \(K, 2\).*got \(4,\)"):
        f(frame, frame, np.zeros(4, np.float32))
    with pytest.raises(TypeError, match="points: expected a real"):
        f(frame, frame, np.zeros((3, 2), complex))
    with pytest.raises(TypeError, match="points: expected a real"):
        f(frame, frame, np.zeros((3, 2), bool))
    with pytest.raises(TypeError, match="points: expected an array"):
        f(frame, frame, None)
    with pytest.raises(ValueError, match=r"init_points: expected shape \(3, 2\)"):
        f(frame, frame, pts, init_points=np.zeros((4, 2), np.float32))
    with pytest.raises(ValueError, match="frame1: expected the same shape"):
        f(frame, frame[:20], pts)
    with pytest.raises(TypeError, match="frame1: expected dtype uint8"):
        f(frame, frame.astype(np.float32), pts)
    with pytest.raises(ValueError, match="frame0: expected one frame"):
        f(np.zeros((5, 30, 40), np.uint8), np.zeros((5, 30, 40), np.uint8), pts)
    with pytest.raises(ValueError, match="frame0: expected 2-D or 3-D"):
        f(frame[0], frame[0], pts)
    with pytest.raises(TypeError, match="frame0: expected dtype"):
        f(frame.astype(bool), frame.astype(bool), pts)
    with pytest.raises(ValueError, match="win_size: expected an integer >= 3"):
        f(frame, frame, pts, win_size=2)
    with pytest.raises(TypeError, match="win_size: expected an integer >= 3 or a"):
        f(frame, frame, pts, win_size=5.0)
    with pytest.raises(ValueError, match="max_level: expected an integer >= 0"):
        f(frame, frame, pts, max_level=-1)
    with pytest.raises(ValueError, match="max_iter: expected an integer >= 0"):
        f(frame, frame, pts, max_iter=-1)
    with pytest.raises(ValueError, match=r"eps: expected a number in \[0.0, inf\]"):
        f(frame, frame, pts, eps=-0.1)
    with pytest.raises(ValueError, match="min_eig_threshold: expected a finite number"):
        f(frame, frame, pts, min_eig_threshold=float("nan"))
    with pytest.raises(TypeError, match="backward_check: expected a bool"):
        f(frame, frame, pts, backward_check="yes")
    with pytest.raises(ValueError, match="device: expected one of"):
        f(frame, frame, pts, device="tpu")
    g = flowkit.good_features
    with pytest.raises(ValueError, match=r"quality: expected a number in \(0.0, 1.0\]"):
        g(frame, 10, 0.0, 5)
    with pytest.raises(ValueError, match="max_corners: expected an integer >= 0"):
        g(frame, -1, 0.01, 5)
    with pytest.raises(ValueError, match=r"min_distance: expected a number in \[0.0, inf\]"):
        g(frame, 10, 0.01, -1)
    with pytest.raises(ValueError, match="frame: expected one frame"):
        g(np.zeros((6, 30, 40), np.float32), 10, 0.01, 5)


def test_good_features_dtypes_and_flat_image():
    image = (textured_image(60, 80, seed=4) * 255).astype(np.uint8)
    ref = flowkit.good_features(image, 100, 0.01, 4)
    for scaled in (image.astype(np.uint16) * 257, image.astype(np.float32) / 255, image / 255.0):
        got = flowkit.good_features(scaled, 100, 0.01, 4)
        assert np.mean(cKDTree(ref).query(got)[0] <= 1.0) >= 0.95
    colour = np.repeat(image[..., None], 3, axis=2)  # the same tensor summed three times
    np.testing.assert_array_equal(flowkit.good_features(colour, 100, 0.01, 4), ref)
    assert flowkit.good_features(np.zeros((20, 30), np.uint8), 10, 0.01, 3).shape == (0, 2)


# --------------------------------------------------------------------------- CUDA (simulator)


def test_cuda_matches_cpu():
    # Tiny case: the simulator runs every thread in Python. Window sums are reduced in another
    # order on the device, so positions agree to float32 rounding (1e-3 px), statuses exactly.
    image = textured_image(20, 24, seed=5, smooth=1.5)
    frame0 = (image * 255).astype(np.uint8)
    frame1 = cv2.warpAffine(frame0, np.float32([[1, 0, 0.6], [0, 1, -0.4]]), (24, 20),
                            borderMode=cv2.BORDER_REFLECT_101)
    pts = np.array([[8, 8], [12.5, 9.2], [15, 11], [-9, 5], [np.nan, 3]], np.float32)
    kw = dict(win_size=5, max_level=1, max_iter=8, backward_check=True)
    cpu = flowkit.lucas_kanade_sparse(frame0, frame1, pts, **kw)
    gpu = flowkit.lucas_kanade_sparse(frame0, frame1, pts, device="cuda", **kw)
    assert isinstance(gpu[0], np.ndarray)
    np.testing.assert_array_equal(gpu[1], cpu[1])
    assert cpu[1][:3].all()
    np.testing.assert_allclose(gpu[0], cpu[0], atol=1e-3)
    np.testing.assert_allclose(gpu[2], cpu[2], atol=1e-3)
    np.testing.assert_array_equal(flowkit.good_features(frame0, 10, 0.01, 2, device="cuda"),
                                  flowkit.good_features(frame0, 10, 0.01, 2))
    mask = np.ones(frame0.shape, bool)
    mask[:, :6] = False
    for options in (dict(block_size=4), dict(use_harris_detector=True, k=0.05, mask=mask),
                    dict(gradient_size=5, block_size=2), dict(gradient_size=-1)):
        gpu = flowkit.good_features(frame0, 10, 0.01, 2, device="cuda", **options)
        np.testing.assert_array_equal(gpu, flowkit.good_features(frame0, 10, 0.01, 2, **options))


def test_cuda_min_eigenvals_match_cpu():
    # the tiny case of test_cuda_matches_cpu with get_min_eigenvals: the device sums the
    # Hessian in another order (float32 rounding: rtol 1e-5), statuses equal; a point refused
    # for its eigenvalue (the last) still reports it, windows outside report 0; err is the
    # forward tracking's (backward_check), in the same units on both (normalize)
    image = textured_image(20, 24, seed=5, smooth=1.5)
    frame0 = (image * 255).astype(np.uint8)
    frame1 = cv2.warpAffine(frame0, np.float32([[1, 0, 0.6], [0, 1, -0.4]]), (24, 20),
                            borderMode=cv2.BORDER_REFLECT_101)
    pts = np.array([[8, 8], [12.5, 9.2], [15, 11], [-9, 5], [np.nan, 3], [23.5, 1.2]], np.float32)
    kw = dict(win_size=5, max_level=1, max_iter=8, min_eig_threshold=0.01, get_min_eigenvals=True)
    for f0, f1, options in ((frame0, frame1, dict(normalize=False, backward_check=True)),
                            (frame0 / 510 + 0.1, frame1 / 510 + 0.1, dict(normalize=True))):
        cpu = flowkit.lucas_kanade_sparse(f0, f1, pts, **kw, **options)
        gpu = flowkit.lucas_kanade_sparse(f0, f1, pts, device="cuda", **kw, **options)
        np.testing.assert_array_equal(gpu[1], cpu[1])
        np.testing.assert_array_equal(cpu[1], [True, True, True, False, False, False])
        np.testing.assert_allclose(gpu[2], cpu[2], rtol=1e-5, atol=0)
        np.testing.assert_array_equal(cpu[2][3:5], 0)
        assert 0 < cpu[2][5] < 0.01 and np.all(cpu[2][:3] >= 0.01)


# ------------------------------------------------- intensity scale, channels, flat frames
# docs/conventions.md, "Intensity": normalize=True stretches the pair (the frame) to [0, 1]


@pytest.fixture(scope="module")
def shifted():
    # a smooth texture shifted by (2, 1) px (float64 in [0, 1]), points away from the border
    frame0, frame1, _ = translated_pair(100, 120, 2.0, 1.0, seed=23)
    pts = np.random.default_rng(4).uniform(25, [95, 75], (40, 2)).astype(np.float32)
    return frame0, frame1, pts


@pytest.mark.parametrize("top, dtype", [(0.1, np.float64), (0.03, np.float32), (255.0, np.float32)])
def test_low_contrast_and_0_255_floats_track_like_uint8(shifted, top, dtype):
    frame0, frame1, pts = shifted
    u0, u1 = (np.round(f * 255).astype(np.uint8) for f in (frame0, frame1))
    ref = flowkit.lucas_kanade_sparse(u0, u1, pts, win_size=15, max_level=2)
    a, b = ((u * (top / 255)).astype(dtype) for u in (u0, u1))
    p1, status, err = flowkit.lucas_kanade_sparse(a, b, pts, win_size=15, max_level=2)
    assert status.all() and ref[1].all()
    assert np.abs(p1 - pts - [2.0, 1.0]).mean() < 0.05
    # uint8 frames are tracked in uint8 levels rounded as OpenCV's, floats in unrounded
    # stretched levels: the coarse levels differ by rounding (< 0.5 level), which moves the
    # converged points by up to ~1e-3 px (measured 1.1e-3) and err by the same fraction
    np.testing.assert_allclose(p1, ref[0], atol=3e-3)
    np.testing.assert_allclose(err * (255 / top), ref[2], rtol=1e-2, atol=1e-2)  # input units


def test_uint8_levels_ignore_the_stretch(shifted):
    # uint8 frames: the same rounded uint8 pyramid with and without normalize, so the steps and
    # err are bitwise equal; the stretch only lowers the eigenvalue threshold of a pair that does
    # not span 0..255
    frame0, frame1, pts = shifted
    u0, u1 = (np.round(40 + f * 100).astype(np.uint8) for f in (frame0, frame1))
    a = flowkit.lucas_kanade_sparse(u0, u1, pts, win_size=15, max_level=2, min_eig_threshold=0)
    b = flowkit.lucas_kanade_sparse(u0, u1, pts, win_size=15, max_level=2, min_eig_threshold=0,
                                    normalize=False)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    theirs = opencv_lk(u0, u1, pts, win_size=15, max_level=2, min_eig=0)
    assert np.mean(a[1] == theirs[1]) == 1
    assert agreement(a, theirs)[1] < 1e-3
    # the stretch multiplies the eigenvalues by (255 / span)**2: the threshold t on the stretched
    # pair is t * (span / 255)**2 on the raw one
    span = max(u0.max(), u1.max()) - min(u0.min(), u1.min())
    counts = set()
    for t in np.geomspace(1e-3, 1, 7):
        stretched = flowkit.lucas_kanade_sparse(u0, u1, pts, win_size=15, max_level=2, min_eig_threshold=t)[1]
        raw = flowkit.lucas_kanade_sparse(u0, u1, pts, win_size=15, max_level=2,
                                          min_eig_threshold=t * (span / 255) ** 2, normalize=False)[1]
        np.testing.assert_array_equal(stretched, raw)
        counts.add(int(stretched.sum()))
    assert len(counts) > 2  # thresholds that keep all, some and no points


def test_normalize_false_loses_low_contrast_points(shifted):
    # parity mode: min_eig_threshold on the [0, 1] float reading rejects faint texture (OpenCV)
    frame0, frame1, pts = shifted
    _, status, _ = flowkit.lucas_kanade_sparse(frame0 * 0.03, frame1 * 0.03, pts, normalize=False)
    assert status.mean() < 0.2  # measured: 2 of 40 kept
    assert flowkit.lucas_kanade_sparse(frame0 * 0.03, frame1 * 0.03, pts)[1].all()


@pytest.mark.parametrize("a, b", [(3.0, -1.0), (0.01, 0.5), (1e-3, 1e3), (250.0, 4.0)])
def test_tracking_and_corners_invariant_to_affine_intensity(shifted, a, b):
    frame0, frame1, pts = shifted
    ref = flowkit.lucas_kanade_sparse(frame0, frame1, pts, win_size=15, max_level=2)
    got = flowkit.lucas_kanade_sparse(a * frame0 + b, a * frame1 + b, pts, win_size=15, max_level=2)
    np.testing.assert_array_equal(got[1], ref[1])
    np.testing.assert_allclose(got[0], ref[0], atol=1e-4)
    np.testing.assert_allclose(got[2], ref[2] * a, rtol=1e-3, atol=1e-6 * a)  # input units
    np.testing.assert_array_equal(flowkit.good_features(a * frame0 + b, 200, 0.01, 4),
                                  flowkit.good_features(frame0, 200, 0.01, 4))


def test_rgba_is_rgb_with_alpha_ignored(shifted):
    frame0, frame1, pts = shifted
    rgb0 = (np.stack([frame0, frame0[::-1], 1 - frame0], -1) * 255).astype(np.uint8)
    rgb1 = (np.stack([frame1, frame1[::-1], 1 - frame1], -1) * 255).astype(np.uint8)
    alpha = np.random.default_rng(5).integers(0, 256, frame0.shape + (1,), dtype=np.uint8)
    rgba0, rgba1 = np.concatenate([rgb0, alpha], -1), np.concatenate([rgb1, alpha[::-1]], -1)
    for normalize in (True, False):
        ours = flowkit.lucas_kanade_sparse(rgba0, rgba1, pts, normalize=normalize)
        ref = flowkit.lucas_kanade_sparse(rgb0, rgb1, pts, normalize=normalize)
        for x, y in zip(ours, ref):
            np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(flowkit.good_features(rgba0, 100, 0.01, 3, normalize=normalize),
                                      flowkit.good_features(rgb0, 100, 0.01, 3, normalize=normalize))


def test_two_channels_and_non_finite_values_raise():
    two = np.zeros((30, 40, 2), np.uint8)
    pts = np.zeros((3, 2), np.float32)
    with pytest.raises(ValueError, match=r"frame0: expected 1, 3 or 4 channels .*got 2 channels"):
        flowkit.lucas_kanade_sparse(two, two, pts)
    with pytest.raises(ValueError, match=r"frame: expected 1, 3 or 4 channels .*\(30, 40, 2\)"):
        flowkit.good_features(two, 10, 0.01, 3)
    good = textured_image(30, 40, seed=2)
    bad = good.copy()
    bad[3, 4] = np.nan
    for normalize in (True, False):
        with pytest.raises(ValueError, match="frame1: expected finite values, got NaN"):
            flowkit.lucas_kanade_sparse(good, bad, pts, normalize=normalize)
        with pytest.raises(ValueError, match="frame: expected finite values, got NaN"):
            flowkit.good_features(bad, 10, 0.01, 3, normalize=normalize)
    bad[3, 4] = np.inf
    with pytest.raises(ValueError, match="frame0: expected finite values, got infinite"):
        flowkit.lucas_kanade_sparse(bad, good, pts)


@pytest.mark.parametrize("value", [0, 200, 0.7, -3.5])
def test_flat_frames_lose_every_point_and_have_no_corners(value):
    dtype = np.uint8 if isinstance(value, int) else np.float64
    flat = np.full((40, 48), value, dtype)
    pts = np.float32([[10, 10], [20.5, 30.25], [40, 5]])
    p1, status, err = flowkit.lucas_kanade_sparse(flat, flat, pts)
    assert not status.any() and not err.any()  # zero gradient matrix: lost, err 0
    assert flowkit.good_features(flat, 10, 0.01, 3).shape == (0, 2)


def test_pure_noise_is_tracked_as_texture():
    # documented: noise is stretched like texture, so the same points are tracked to the same
    # (finite) positions at any noise amplitude; normalize=False loses faint noise's points
    rng = np.random.default_rng(9)
    n0, n1 = rng.random((2, 60, 70))
    pts = rng.uniform(15, [55, 45], (30, 2)).astype(np.float32)
    p1, status, _ = flowkit.lucas_kanade_sparse(n0, n1, pts, win_size=9, max_level=1)
    assert status.any() and np.all(np.isfinite(p1[status]))
    faint = flowkit.lucas_kanade_sparse(0.5 + 1e-5 * n0, 0.5 + 1e-5 * n1, pts, win_size=9, max_level=1)
    np.testing.assert_array_equal(faint[1], status)
    np.testing.assert_allclose(faint[0][status], p1[status], atol=1e-4)
    assert not flowkit.lucas_kanade_sparse(0.5 + 1e-5 * n0, 0.5 + 1e-5 * n1, pts, win_size=9,
                                           max_level=1, normalize=False)[1].any()
    assert len(flowkit.good_features(n0, 50, 0.01, 3)) == 50  # noise peaks are corners


@pytest.mark.parametrize("channels, block_size, harris, gradient_size", [
    (1, 3, False, 3), (3, 3, False, 3), (1, 4, False, 3), (3, 7, True, 3), (1, 3, True, 3),
    (1, 40, False, 3), (1, 3, False, 5), (3, 4, True, 7), (1, 3, False, 1), (3, 3, False, -1),
    (1, 2, True, 31)])
def test_corner_response_is_float32_within_rounding_of_float64(channels, block_size, harris,
                                                                gradient_size):
    # sobel_tensor_pixel (image borders; every pixel of colour images; every pixel on the GPU)
    # is float32 throughout (an int 2 once promoted it to float64, also in the CUDA kernel):
    # a float64 NumPy reference of the Sobel structure tensor, box sums (reflect-101, OpenCV's
    # anchor for even sizes; a box larger than the image reflects again) and the smaller
    # eigenvalue / 2 or the Harris measure agrees to 2e-6 of the largest response (float32
    # rounding of sums of ~30-5000 products). Other apertures (derivative_tensor_pixel, also
    # the CUDA kernel's): float64 cv2.Sobel (reflect-101, ksize -1 is Scharr), the same bound
    # (measured 1.8e-7 to 9.7e-7, the most for 31, whose kernel reaches across the 23 rows
    # and reflects again)
    img = np.random.default_rng(7).random((23, 31, channels)).astype(np.float32)
    norm = 8 if gradient_size == -1 else 2 ** (gradient_size - 1)  # OpenCV's derivative scale
    scale = 1.0 / (norm * block_size)
    k = 0.06
    eig = lk.corner_response(img, np.float32(scale), block_size, harris, k, gradient_size)
    p = np.pad(img.astype(np.float64), ((1, 1), (1, 1), (0, 0)), mode="reflect")
    dx = ((p[:-2, 2:] - p[:-2, :-2]) + 2 * (p[1:-1, 2:] - p[1:-1, :-2]) + (p[2:, 2:] - p[2:, :-2])) * scale
    dy = ((p[2:, :-2] - p[:-2, :-2]) + 2 * (p[2:, 1:-1] - p[:-2, 1:-1]) + (p[2:, 2:] - p[:-2, 2:])) * scale
    if gradient_size != 3:
        planes = [img[..., c].astype(np.float64) for c in range(channels)]
        dx, dy = (np.dstack([cv2.Sobel(q, cv2.CV_64F, *order, ksize=gradient_size, scale=scale,
                                       borderType=cv2.BORDER_REFLECT_101) for q in planes])
                  for order in ((1, 0), (0, 1)))

    def box(t):
        before = block_size // 2
        h, w = t.shape[:2]
        rows = np.arange(-before, h - before + block_size - 1)
        cols = np.arange(-before, w - before + block_size - 1)
        q = t.sum(axis=-1)[reflect101(rows, h)][:, reflect101(cols, w)]
        return sum(q[i:i + h, j:j + w] for i in range(block_size) for j in range(block_size))

    a, b, c = box(dx * dx), box(dx * dy), box(dy * dy)
    if harris:
        ref = a * c - b * b - k * (a + c) ** 2
    else:
        ref = 0.5 * (a + c) - np.sqrt((0.5 * (a - c)) ** 2 + b * b)
    np.testing.assert_allclose(eig, ref, rtol=0, atol=2e-6 * np.abs(ref).max())


@pytest.mark.parametrize("block_size", [2, 4, 6, 8])
@pytest.mark.parametrize("harris", [False, True])
def test_good_features_even_block_keeps_opencv_corners_on_row_and_column_1(block_size, harris):
    # an even box at row 0 sums row 1's rows mirrored: the responses are equal, and OpenCV
    # (float64 box sums) keeps the tie, so a corner on row 1 (or column 1) is a 3x3 maximum;
    # float32 sums broke it and lost 1-6 of OpenCV's corners per real frame, all on row or
    # column 1 (found porting lk_track.py with other block sizes). The sets are equal.
    rng = np.random.default_rng(3)
    for _ in range(5):
        h, w = rng.integers(12, 60, 2)
        frame = cv2.GaussianBlur((rng.random((h, w)) * 255).astype(np.uint8), (0, 0), 1.0)
        ours = flowkit.good_features(frame, 0, 0.01, 0, block_size=block_size,
                                     use_harris_detector=harris, normalize=False)
        theirs = cv2.goodFeaturesToTrack(frame, 0, 0.01, 0, blockSize=block_size,
                                         useHarrisDetector=harris)
        theirs = np.zeros((0, 2), np.float32) if theirs is None else theirs.reshape(-1, 2)
        assert set(map(tuple, ours.tolist())) == set(map(tuple, theirs.tolist()))
