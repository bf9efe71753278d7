"""flowkit.extrapolate against a float64 SciPy reference of the trajectory maths, pysteps
(when installed), analytic motions (translation, rotation) and its own invariants."""

import cv2
import numpy as np
import pytest
from scipy.ndimage import map_coordinates

import flowkit
from flowkit import extrapolate, warp

from cases import textured_image


# ---------------------------------------------------------------- float64 SciPy reference

def reference_displacement(flow, steps, n_iter):
    """Backward displacements (steps, H, W, 2), float64, of the scheme in the docstring:
    the flow sampled by ``map_coordinates(order=1, mode="nearest")``, ``max(n_iter, 1)``
    sub-steps per step of size ``s = 1 / n_iter``; midpoint rule for ``n_iter >= 1``
    (increment ``s V(x + D - P / 2)`` with predictor ``P = s V(x + D)``), Euler for
    ``n_iter = 0``."""
    h, w = flow.shape[:2]
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float64)
    planes = [flow[..., c].astype(np.float64) for c in range(2)]

    def field(dx, dy):
        return [map_coordinates(p, [gy + dy, gx + dx], order=1, mode="nearest") for p in planes]

    s = 1.0 / n_iter if n_iter > 1 else 1.0
    dx, dy = np.zeros((h, w)), np.zeros((h, w))
    px, py = s * planes[0], s * planes[1]
    out = []
    for _ in range(steps):
        for _ in range(max(n_iter, 1)):
            if n_iter > 0:
                mx, my = field(dx - px / 2, dy - py / 2)
                px, py = s * mx, s * my
            dx, dy = dx - px, dy - py
            ex, ey = field(dx, dy)
            px, py = s * ex, s * ey
        out.append(np.stack([dx, dy], axis=-1))
    return np.stack(out)


def reference_frames(image, disp):
    """``image`` (H, W[, C]) sampled bilinearly at x + D_k with replicated borders."""
    h, w = image.shape[:2]
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = image.reshape(h, w, -1).astype(np.float64)
    out = np.stack([np.stack([map_coordinates(img[..., c], [gy + d[..., 1], gx + d[..., 0]],
                                              order=1, mode="nearest")
                              for c in range(img.shape[2])], axis=-1) for d in disp])
    return out.reshape(disp.shape[:1] + image.shape)


def smooth_field(h, w, amplitude, seed, cell=6):
    """Smooth random flow (H, W, 2) float32: cubic-upsampled noise times ``amplitude`` px."""
    rng = np.random.default_rng(seed)
    small = rng.standard_normal((h // cell + 2, w // cell + 2, 2)).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC) * np.float32(amplitude)


@pytest.mark.parametrize("n_iter", [0, 1, 3])
def test_matches_scipy_reference(n_iter):
    """Displacements within 1e-4 px of the float64 reference (stored as float32: ~1e-6 px
    here; many trajectories leave the image, so the replicated field border is exercised);
    frames within 1e-5 (float32 displacements, bilinear both)."""
    flow = smooth_field(29, 41, 3.0, seed=1)
    image = textured_image(29, 41, seed=2, channels=3)
    frames, disp = extrapolate(image, flow, 7, n_iter=n_iter, return_displacement=True)
    expected = reference_displacement(flow, 7, n_iter)
    assert disp.dtype == np.float32 and disp.shape == (7, 29, 41, 2)
    np.testing.assert_allclose(disp, expected, rtol=0, atol=1e-4)
    assert frames.dtype == np.float64 and frames.shape == (7, 29, 41, 3)
    np.testing.assert_allclose(frames, reference_frames(image, expected), rtol=0, atol=1e-5)
    assert np.abs(expected).max() > 10  # the field moves pixels well past the borders


@pytest.mark.parametrize("n_iter", [0, 1, 3])
def test_matches_pysteps(n_iter):
    """pysteps' displacement for each horizon k (it returns the last one) within 1e-4 px,
    called with ``displacement_prev=0`` (without it, pysteps' first predictor is undivided
    for n_iter > 1: the same for n_iter <= 1, checked too). Frames of the same interpolation
    order (pysteps interp_order=1, bilinear; its map_coordinates_mode="nearest" is flowkit's
    replicate border) within 1e-5: the interpolation is the same, only the float32 rounding
    of flowkit's displacements differs. pysteps' velocity is (2, H, W) with [0] = x (u),
    [1] = y (v), pixels per step."""
    semilagrangian = pytest.importorskip("pysteps.extrapolation.semilagrangian")
    flow = smooth_field(23, 31, 2.5, seed=3)
    image = textured_image(23, 31, seed=4)
    velocity = np.moveaxis(flow, -1, 0).astype(np.float64)
    frames, disp = extrapolate(image, flow, 5, n_iter=n_iter, return_displacement=True)
    for k in range(1, 6):
        precip, d = semilagrangian.extrapolate(image, velocity, k, n_iter=n_iter,
                                               displacement_prev=np.zeros_like(velocity),
                                               return_displacement=True,
                                               map_coordinates_mode="nearest")
        np.testing.assert_allclose(disp[k - 1], np.moveaxis(d, 0, -1), rtol=0, atol=1e-4)
        np.testing.assert_allclose(frames[k - 1], precip[-1], rtol=0, atol=1e-5)
    _, d = semilagrangian.extrapolate(None, velocity, 5, n_iter=n_iter, return_displacement=True)
    if n_iter <= 1:
        np.testing.assert_allclose(disp[-1], np.moveaxis(d, 0, -1), rtol=0, atol=1e-4)
    else:
        assert np.abs(disp[-1] - np.moveaxis(d, 0, -1)).max() > 1e-3


# ---------------------------------------------------------------- analytic motions

def _wave_texture(h, w, dx=0.0, dy=0.0):
    """Sum of plane waves (periods 6-20 px) sampled at (x - dx, y - dy): the texture moved by
    (dx, dy), known exactly at any shift."""
    rng = np.random.default_rng(7)
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float64)
    out = np.zeros((h, w))
    for _ in range(6):
        angle, period, phase = rng.uniform(0, np.pi), rng.uniform(6, 20), rng.uniform(0, 2 * np.pi)
        k = 2 * np.pi / period
        out += np.cos(k * (np.cos(angle) * (gx - dx) + np.sin(angle) * (gy - dy)) + phase)
    return 0.5 + out / 12


def test_translation_is_exact_and_does_not_blur():
    """Constant velocity v = (0.37, -0.21) px/step: D_k = -k v (float32 rounding), frame k is
    warp(image, -k v), and against the truly moved texture the error stays at one bilinear
    resampling at every horizon, while k chained warps by -v blur more with k."""
    h, w, v = 48, 56, np.array([0.37, -0.21])
    image = _wave_texture(h, w)
    flow = np.empty((h, w, 2), np.float32)
    flow[...] = v
    frames, disp = extrapolate(image, flow, 8, return_displacement=True)
    chained = image
    inner = np.s_[8:-8, 8:-8]
    errors_sl, errors_chain = [], []
    for k in range(1, 9):
        np.testing.assert_allclose(disp[k - 1], np.broadcast_to(-k * flow.astype(np.float64),
                                                                 flow.shape), rtol=0, atol=1e-6)
        np.testing.assert_allclose(frames[k - 1], warp(image, -k * flow.astype(np.float64)),
                                   rtol=0, atol=1e-6)
        chained = warp(chained, -flow)
        truth = _wave_texture(h, w, *(k * v))
        errors_sl.append(np.sqrt(np.mean((frames[k - 1] - truth)[inner] ** 2)))
        errors_chain.append(np.sqrt(np.mean((chained - truth)[inner] ** 2)))
    # measured: semi-Lagrangian RMS 0.0036-0.0061 at every k; the chain 0.0061 at k = 1
    # (the same single resampling) rising to 0.031 at k = 8
    assert errors_chain[0] == pytest.approx(errors_sl[0], rel=1e-6)
    assert max(errors_sl) < 0.01
    assert errors_sl[-1] < 0.3 * errors_chain[-1]
    assert errors_chain[-1] > 3 * errors_chain[0]
    # sharpness: gradient energy kept against the truth's, at k = 8
    truth = _wave_texture(h, w, *(8 * v))

    def energy(a):
        gy, gx = np.gradient(a)
        return np.sum((gx ** 2 + gy ** 2)[inner])

    assert energy(frames[-1]) / energy(truth) > 0.9
    assert energy(chained) / energy(truth) < 0.7


def test_rotation_more_sub_steps_follow_the_arc_better():
    """Rigid rotation about the centre, 0.05 rad per step: the exact trajectory is a circular
    arc, D_k = R(-k w)(x - c) + c - x. Bilinear sampling of this linear field is exact, so the
    errors are the time integration's alone; over pixels within 20 px of the centre (all
    trajectories stay inside) n_iter = 3 is closer than 1, and 1 (midpoint) than 0 (Euler)."""
    h, w, omega, steps = 64, 64, 0.05, 8
    cy, cx = (h - 1) / 2, (w - 1) / 2
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float64)
    flow = np.stack([-omega * (gy - cy), omega * (gx - cx)], axis=-1).astype(np.float32)
    r = np.hypot(gx - cx, gy - cy)
    inner = r <= 20
    errors = {}
    for n_iter in (0, 1, 3):
        _, mask, disp = extrapolate(np.zeros((h, w), np.float32), flow, steps, n_iter=n_iter,
                                    return_mask=True, return_displacement=True)
        assert mask[:, inner].all()
        worst = 0.0
        for k in range(1, steps + 1):
            a = -k * omega
            ex = np.cos(a) * (gx - cx) - np.sin(a) * (gy - cy) + cx - gx
            ey = np.sin(a) * (gx - cx) + np.cos(a) * (gy - cy) + cy - gy
            err = np.hypot(disp[k - 1, ..., 0] - ex, disp[k - 1, ..., 1] - ey)
            worst = max(worst, err[inner].max())
        errors[n_iter] = worst
    # measured: Euler 0.20 px, midpoint 3.3e-3 px, 3 sub-steps 3.7e-4 px
    assert errors[0] > 0.1
    assert errors[1] < 0.05 * errors[0]
    assert errors[3] < 0.2 * errors[1]


# ---------------------------------------------------------------- mask, NaN, shapes, dtypes

def test_mask_and_borders():
    """Uniform u = 1.5 px/step: the trajectory moves monotonically to x - 1.5 k (sub-step
    ends in between), so mask[k - 1] is x >= 1.5 k for every n_iter; the frames follow
    ``border`` where the mask is False."""
    h, w = 5, 12
    image = np.tile(np.arange(w, dtype=np.float32), (h, 1))
    flow = np.zeros((h, w, 2), np.float32)
    flow[..., 0] = 1.5
    for n_iter in (0, 1, 3):
        frames, mask = extrapolate(image, flow, 4, n_iter=n_iter, return_mask=True)
        xs = np.arange(w)
        for k in range(1, 5):
            np.testing.assert_array_equal(mask[k - 1], np.broadcast_to(xs >= 1.5 * k, (h, w)))
            np.testing.assert_allclose(frames[k - 1], np.maximum(image - 1.5 * k, 0), atol=1e-6)
    frames = extrapolate(image, flow, 4, border="constant", border_value=-1)
    np.testing.assert_allclose(frames[3, 0, :6], [-1, -1, -1, -1, -1, -1], atol=1e-6)
    assert frames[3, 0, 6] == 0  # x - 6 = 0 exactly: the last pixel inside
    # a field pointing outwards beyond the image: the edge vectors continue (replicate)
    grow = np.zeros((h, w, 2), np.float32)
    grow[..., 1] = -0.8
    _, mask, disp = extrapolate(image, grow, 7, return_mask=True, return_displacement=True)
    np.testing.assert_allclose(disp[..., 1], np.broadcast_to(0.8 * np.arange(1, 8)[:, None, None],
                                                             (7, h, w)), atol=1e-5)
    assert not mask[-1].any() and mask[0, :4].all() and not mask[0, 4].any()


def test_steps_one_and_euler():
    """steps = 1 with n_iter = 0 is one Euler step: D_1 = -flow exactly; shapes."""
    rng = np.random.default_rng(5)
    flow = rng.uniform(-2, 2, (9, 11, 2)).astype(np.float32)
    image = rng.random((9, 11, 2)).astype(np.float32)
    frames, disp = extrapolate(image, flow, 1, n_iter=0, return_displacement=True)
    assert frames.shape == (1, 9, 11, 2) and disp.shape == (1, 9, 11, 2)
    np.testing.assert_array_equal(disp[0], -flow)
    np.testing.assert_array_equal(frames[0], warp(image, -flow))


@pytest.mark.parametrize("marker", [np.nan, 1e9, -np.inf])
def test_unknown_flow(marker):
    """Uniform u = 1 px/step with one unknown vector at (x, y) = (6, 4): pixel x of row 4
    reads field taps x, x - 1, ..., x - k by step k (midpoints fall on half pixels), so
    D_k is NaN exactly where x - k <= 6 <= x; there the mask is False and the frame is
    border_value. Taps of weight 0 are not read (pixel 5 of row 4 stays known)."""
    h, w = 8, 12
    flow = np.zeros((h, w, 2), np.float32)
    flow[..., 0] = 1.0
    flow[4, 6, 0] = marker
    image = np.full((h, w), 0.5, np.float32)
    frames, mask, disp = extrapolate(image, flow, 3, n_iter=1, border_value=0.25,
                                     return_mask=True, return_displacement=True)
    xs = np.arange(w)
    for k in range(1, 4):
        lost = np.zeros((h, w), bool)
        lost[4] = (xs - k <= 6) & (6 <= xs)
        np.testing.assert_array_equal(np.isnan(disp[k - 1]).all(axis=-1), lost)
        assert not np.isnan(disp[k - 1][~lost]).any()
        np.testing.assert_array_equal(mask[k - 1] & lost, False)
        np.testing.assert_array_equal(frames[k - 1][lost], 0.25)
        np.testing.assert_array_equal(frames[k - 1][~lost], 0.5)


def test_batches():
    """(N, H, W, C) with (N, H, W, 2); a batch with one shared flow; one image with N flows:
    each equals the single calls; mask and displacement follow the flow's batch."""
    rng = np.random.default_rng(6)
    images = rng.random((3, 10, 13, 3)).astype(np.float32)
    flows = rng.uniform(-1.5, 1.5, (3, 10, 13, 2)).astype(np.float32)
    got, mask, disp = extrapolate(images, flows, 4, return_mask=True, return_displacement=True)
    assert got.shape == (3, 4, 10, 13, 3) and mask.shape == (3, 4, 10, 13)
    assert disp.shape == (3, 4, 10, 13, 2)
    for n in range(3):
        one, m, d = extrapolate(images[n], flows[n], 4, return_mask=True,
                                return_displacement=True)
        np.testing.assert_array_equal(got[n], one)
        np.testing.assert_array_equal(mask[n], m)
        np.testing.assert_array_equal(disp[n], d)
    shared, mask = extrapolate(images[..., 0], flows[1], 4, return_mask=True)  # gray batch
    assert shared.shape == (3, 4, 10, 13) and mask.shape == (4, 10, 13)
    for n in range(3):
        np.testing.assert_array_equal(shared[n], extrapolate(images[n, ..., 0], flows[1], 4))
    per_flow = extrapolate(images[0], flows, 4)
    assert per_flow.shape == (3, 4, 10, 13, 3)
    np.testing.assert_array_equal(per_flow[2], extrapolate(images[0], flows[2], 4))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float16, np.float64])
def test_dtypes_follow_warp(dtype):
    """Every image dtype: the frames are warp(image, D_k) in the image's dtype."""
    rng = np.random.default_rng(8)
    top = {np.uint8: 255, np.uint16: 65535}.get(dtype, 1)
    image = (rng.random((9, 10, 3)) * top).astype(dtype)
    flow = rng.uniform(-2, 2, (9, 10, 2)).astype(np.float32)
    frames, disp = extrapolate(image, flow, 3, border="reflect", return_displacement=True)
    assert frames.dtype == dtype
    for k in range(3):
        expected = warp(image, disp[k].astype(np.float64 if dtype == np.float64 else np.float32),
                        border="reflect")
        np.testing.assert_array_equal(frames[k], expected)


def test_same_for_one_and_two_threads():
    flow = smooth_field(40, 33, 3.0, seed=9)
    image = textured_image(40, 33, seed=10)
    before = flowkit.get_num_threads()
    try:
        flowkit.set_num_threads(1)
        one = extrapolate(image, flow, 5, return_mask=True, return_displacement=True)
        flowkit.set_num_threads(min(2, before))
        two = extrapolate(image, flow, 5, return_mask=True, return_displacement=True)
    finally:
        flowkit.set_num_threads(before)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- bad input

F32 = np.float32
IMG = np.zeros((6, 7), F32)
FLOW = np.zeros((6, 7, 2), F32)
BAD_INPUT = [
    (dict(steps=0), ValueError, r"steps: expected an integer >= 1, got 0"),
    (dict(steps=2.0), TypeError, r"steps: expected an integer, got 2.0"),
    (dict(steps=True), TypeError, r"steps: expected an integer, got True"),
    (dict(steps="3"), TypeError, r"steps: expected an integer, got '3'"),
    # NumPy's "array is too big" (or a MemoryError for terabytes) named no parameter
    (dict(steps=2**62), ValueError, r"steps: 4611686018427387904 frames of shape \(6, 7\) and "
                                    r"dtype float32 would need at least .* more than this "
                                    r"machine's memory"),
    (dict(n_iter=-1), ValueError, r"n_iter: expected an integer >= 0, got -1"),
    (dict(n_iter=1.5), TypeError, r"n_iter: expected an integer, got 1.5"),
    (dict(scheme="backward"), ValueError,
     r"scheme: expected one of 'semi-lagrangian', 'forward', got 'backward'"),
    (dict(border="mirror"), ValueError, r"border: expected one of 'constant', .*got 'mirror'"),
    (dict(border_value="zero"), TypeError, r"border_value: expected a real number, got 'zero'"),
    (dict(image=np.zeros((6, 7), np.uint8), border_value=np.nan), ValueError,
     r"border_value: expected a finite number for uint8 images, got nan"),
    (dict(flow=np.zeros((7, 6, 2), F32)), ValueError,
     r"flow: expected shape .*matching image of shape \(6, 7\).*got \(7, 6, 2\)"),
    (dict(flow=np.zeros((6, 7, 3), F32)), ValueError, r"flow: expected shape .*got \(6, 7, 3\)"),
    (dict(flow=np.zeros((6, 7, 2), np.int32)), TypeError,
     r"flow: expected a float dtype .*got int32"),
    (dict(image=np.zeros((6, 7), bool)), TypeError, r"image: expected dtype uint8, .* got bool"),
    (dict(image=np.zeros(7, F32)), ValueError, r"image: expected 2-D or 3-D or 4-D array, got 1-D"),
    (dict(image=np.zeros((2, 6, 7, 1), F32), flow=np.zeros((3, 6, 7, 2), F32)), ValueError,
     r"flow: .*matching image of shape \(2, 6, 7, 1\)"),
    (dict(return_mask="yes"), TypeError, r"return_mask: expected a bool, got 'yes'"),
    (dict(return_displacement=1), TypeError, r"return_displacement: expected a bool, got 1"),
    (dict(device="gpu"), ValueError,
     r"device: expected one of 'cpu', 'cuda' or None, got 'gpu'"),
]


@pytest.mark.parametrize("kwargs, error, match", BAD_INPUT)
def test_bad_input(kwargs, error, match, monkeypatch):
    from flowkit.kernels import advect, warp as warp_kernels

    def no_kernel(*args):  # every check must fire before a kernel runs
        raise AssertionError("kernel ran")

    monkeypatch.setattr(advect, "trace_cpu", no_kernel)
    monkeypatch.setattr(warp_kernels, "warp_cpu", no_kernel)
    args = dict(image=IMG, flow=FLOW, steps=3) | kwargs
    with pytest.raises(error, match=match):
        extrapolate(args.pop("image"), args.pop("flow"), args.pop("steps"), **args)


# ---------------------------------------------------------------- CUDA (simulator in CI)

@pytest.mark.parametrize("n_iter, dtype, channels", [(3, np.float32, None), (1, np.uint8, 3),
                                                     (0, np.float64, 2), (2, np.float32, 4)])
def test_cuda_matches_cpu(n_iter, dtype, channels):
    """11 x 9 image, 3 steps, a field that leaves the image, one unknown vector: frames,
    mask and displacements equal the CPU's to 1e-5 (integer frames to one level). n_iter = 2 is
    the smallest with sub-steps of 1 / n_iter (0: Euler, 1: one midpoint step)."""
    pytest.importorskip("numba.cuda")
    flow = smooth_field(9, 11, 2.0, seed=11)
    flow[4, 5] = np.nan
    top = 255 if dtype == np.uint8 else 1
    image = (textured_image(9, 11, seed=12, channels=channels) * top).astype(dtype)
    kwargs = dict(n_iter=n_iter, border="constant", border_value=0.5 * top, return_mask=True,
                  return_displacement=True)
    got = extrapolate(image, flow, 3, device="cuda", **kwargs)
    expected = extrapolate(image, flow, 3, **kwargs)
    assert all(type(a) is np.ndarray for a in got)
    assert got[0].dtype == dtype and got[0].shape == (3,) + image.shape
    if dtype == np.uint8:
        assert np.abs(got[0].astype(int) - expected[0]).max() <= 1
    else:
        np.testing.assert_allclose(got[0], expected[0], rtol=0, atol=1e-5)
    np.testing.assert_array_equal(got[1], expected[1])
    np.testing.assert_allclose(got[2], expected[2], rtol=0, atol=1e-5)
    assert np.isnan(got[2]).any()


def test_cuda_batch_with_shared_flow():
    pytest.importorskip("numba.cuda")
    rng = np.random.default_rng(13)
    images = rng.random((2, 8, 9)).astype(np.float32)
    flow = rng.uniform(-2, 2, (8, 9, 2)).astype(np.float32)
    got, mask = extrapolate(images, flow, 3, device="cuda", return_mask=True)
    expected, expected_mask = extrapolate(images, flow, 3, return_mask=True)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(mask, expected_mask)


# --- scheme="forward" ------------------------------------------------------------------------------

def test_forward_is_splatting_by_k_times_the_flow_with_holes_filled():
    rng = np.random.default_rng(7)
    image = rng.random((24, 32, 3)).astype(np.float32)
    flow = rng.normal(0, 0.7, (24, 32, 2)).astype(np.float32)
    metric = rng.normal(0, 3, (24, 32)).astype(np.float32)
    frames, mask = flowkit.extrapolate(image, flow, 3, scheme="forward", metric=metric, return_mask=True)
    assert frames.shape == (3, 24, 32, 3) and mask.shape == (3, 24, 32)
    for k in range(1, 4):
        splatted, weight = flowkit.splat(image, k * flow, mode="softmax", metric=metric, return_weight=True)
        holes = weight == 0
        np.testing.assert_array_equal(mask[k - 1], ~holes)
        np.testing.assert_array_equal(frames[k - 1][~holes], splatted[~holes])
        np.testing.assert_array_equal(frames[k - 1], flowkit.fill_holes(splatted, holes))
    assert np.isfinite(frames).all()


def test_forward_integer_translation_moves_the_image_and_fills_the_uncovered_edge():
    image = (np.arange(20 * 30).reshape(20, 30) % 251).astype(np.uint8)
    flow = np.zeros((20, 30, 2), np.float32)
    flow[..., 0] = 2.0
    frames, mask = flowkit.extrapolate(image, flow, 2, scheme="forward", return_mask=True)
    np.testing.assert_array_equal(frames[1][:, 4:], image[:, :-4])
    assert not mask[1][:, :4].any() and mask[1][:, 4:].all()
    # everything leaves the frame: border_value
    gone = flowkit.extrapolate(image, flow * 20, 1, scheme="forward", border_value=9)
    assert (gone == 9).all()


def test_forward_bad_arguments():
    image = np.zeros((8, 9), np.float32)
    flow = np.zeros((8, 9, 2), np.float32)
    with pytest.raises(ValueError, match=r"return_displacement: only for scheme='semi-lagrangian' "
                                         r"\(forward splatting has no backward displacement\), "
                                         r"got True with scheme='forward'$"):
        flowkit.extrapolate(image, flow, 2, scheme="forward", return_displacement=True)
    # n_iter and border shape the trajectories alone: checked, and refused unless the default
    # (they were taken unchecked, even n_iter='abc' or border='bogus'; found reviewing issue 8)
    for kwargs, error, message in (
            ({"n_iter": "abc"}, TypeError, r"^n_iter: expected an integer, got 'abc'$"),
            ({"n_iter": -1}, ValueError, r"^n_iter: expected an integer >= 0, got -1$"),
            ({"border": "bogus"}, ValueError, r"^border: expected one of 'constant', "),
            ({"n_iter": 1}, ValueError, r"^n_iter: only for scheme='semi-lagrangian' \(its "
                                        r"trajectories\), got 1 with scheme='forward'$"),
            ({"border": "wrap"}, ValueError, r"^border: only for scheme='semi-lagrangian' "
                                             r"\(splatting reads no point outside the image\), "
                                             r"got 'wrap' with scheme='forward'$")):
        with pytest.raises(error, match=message):
            flowkit.extrapolate(image, flow, 2, scheme="forward", **kwargs)
    np.testing.assert_array_equal(  # the defaults, given, are no request
        flowkit.extrapolate(image, flow, 2, scheme="forward", n_iter=3, border="replicate"),
        flowkit.extrapolate(image, flow, 2, scheme="forward"))
    with pytest.raises(ValueError, match="metric: only for scheme='forward'"):
        flowkit.extrapolate(image, flow, 2, metric=np.zeros((8, 9), np.float32))
    with pytest.raises(ValueError, match="metric"):
        flowkit.extrapolate(image, flow, 2, scheme="forward", metric=np.zeros((8, 8), np.float32))


@pytest.mark.parametrize("shift", [0.0, 1.0])
def test_forward_names_nan_in_the_image_whether_or_not_holes_open(shift):
    # NaN in the image went through splat and reached fill_holes only when a hole opened:
    # then "image: expected finite values outside the mask" (a mask the caller never gave),
    # else a result with NaN in it; now the same error up front, for any flow
    image = np.ones((8, 9), np.float32)
    image[4, 4] = np.nan
    flow = np.full((8, 9, 2), shift, np.float32)
    with pytest.raises(ValueError, match=r"^image: expected finite values, got NaN or infinity$"):
        flowkit.extrapolate(image, flow, 2, scheme="forward")
    image[4, 4] = np.inf
    with pytest.raises(ValueError, match=r"^image: expected finite values"):
        flowkit.extrapolate(image, flow, 2, scheme="forward")
    assert np.isnan(flowkit.extrapolate(np.where(np.isinf(image), np.nan, image), flow, 2)).any()


@pytest.mark.parametrize("dtype, channels", [(np.uint8, 3), (np.uint16, 1), (np.float32, 3),
                                             (np.float64, 1), (np.uint8, 4)])
def test_speed_mean_in_one_pass_is_the_sum_of_warps(dtype, channels, monkeypatch):
    # the CPU's fused pass (kernels.advect.speed_mean_cpu, gray and RGB) against the warps and
    # sums the GPU runs, bit for bit, in 1, 2, 3 and 7 bands: large, far and unknown
    # displacements, an odd size
    from flowkit._predict import (_SPEED_NODES, _speed_mean, _speed_mean_by_warps,
                                  _speed_mean_known)
    from flowkit.kernels import advect, parallel

    rng = np.random.default_rng(7)
    shape = (37, 53) + ((channels,) if channels > 1 else ())
    top = np.iinfo(dtype).max if np.dtype(dtype).kind == "u" else 1.0
    last = (rng.random(shape) * top).astype(dtype)
    displacement = rng.normal(0, 4, (3, 37, 53, 2)).astype(np.float32)
    displacement[0, 5, 7] = np.nan
    displacement[1, 9, 2] = (1e9, 0)
    displacement[2, :3] *= 40
    scales = np.array([1 + 0.3 * z for z, _ in _SPEED_NODES], np.float32)
    weights = np.array([w for _, w in _SPEED_NODES], np.float32)
    expected = _speed_mean_by_warps(last.astype(np.float32), displacement, scales, weights,
                                    np.dtype(dtype), None)
    assert expected.dtype == dtype and expected.shape == (3,) + shape
    monkeypatch.setattr(advect, "SERIAL_VALUES", 0)
    for bands in (1, 2, 3, 7):
        with monkeypatch.context() as patch:
            patch.setattr(parallel.numba, "get_num_threads", lambda bands=bands: bands)
            np.testing.assert_array_equal(_speed_mean_known(last, displacement, 0.3, None),
                                          expected)
    # an unknown trajectory is NaN in a float frame (the warps' 0 would pass for data), 0 in
    # an integer one
    got = _speed_mean(last, displacement, 0.3, None)
    unknown = np.isnan(displacement).any(axis=-1)
    np.testing.assert_array_equal(got[~unknown], expected[~unknown])
    assert (np.isnan(got[unknown]) if np.dtype(dtype).kind == "f" else got[unknown] == 0).all()
