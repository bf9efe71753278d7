"""flowkit.lucas_kanade (dense iterative Lucas-Kanade) against scikit-image's optical_flow_ilk,
a float64 NumPy reference (colour), ground truth and the CUDA path (simulator)."""

from functools import partial

import numpy as np
import pytest
from numba import njit
from scipy import ndimage as ndi
from skimage.registration import optical_flow_ilk
from skimage.registration._optical_flow import _ilk
from skimage.registration._optical_flow_utils import _coarse_to_fine, _resize_flow
from skimage.transform import pyramid_reduce

import flowkit
from flowkit.kernels import lk_dense
from cases import ground_truth_case, textured_image, translated_pair


def skimage_flow(frame0, frame1, nlevel=10, **kw):
    """scikit-image's iLK as (H, W, 2) (u, v); ``nlevel`` caps its pyramid (10 = its default)."""
    solver = partial(_ilk, radius=kw.get("radius", 7), num_warp=kw.get("num_warp", 10),
                     gaussian=kw.get("gaussian", False), prefilter=kw.get("prefilter", False))
    if nlevel == 10:
        vu = optical_flow_ilk(frame0, frame1, **kw)
    else:
        vu = _coarse_to_fine(frame0, frame1, solver, nlevel=nlevel)
    return np.stack([vu[1], vu[0]], axis=-1)


def epe(flow, gt, valid):
    return float(np.linalg.norm(flow - gt, axis=-1)[valid].mean())


@pytest.fixture(scope="module")
def pair():
    frame0, frame1, _ = translated_pair(48, 64, 1.5, -0.75, seed=3)
    return frame0.astype(np.float32), frame1.astype(np.float32)


# --------------------------------------------------------------------------- exactness

@pytest.mark.parametrize("kw", [{}, {"gaussian": True, "prefilter": True}])
def test_identical_frames_give_zero_flow(kw):
    gray = (textured_image(40, 52, seed=5) * 255).astype(np.uint8)
    colour = textured_image(40, 52, seed=6, channels=3).astype(np.float32)
    for frame in (gray, colour):
        flow = flowkit.lucas_kanade(frame, frame, **kw)
        assert flow.shape == (40, 52, 2) and flow.dtype == np.float32
        assert np.array_equal(flow, np.zeros_like(flow))


def test_translation_recovered_with_convention(pair):
    # frame0[y, x] = frame1[y + v, x + u] with (u, v) = (1.5, -0.75)
    flow = flowkit.lucas_kanade(*pair, radius=5)
    inner = flow[8:-8, 8:-8]
    assert np.abs(inner[..., 0] - 1.5).mean() < 0.02
    assert np.abs(inner[..., 1] + 0.75).mean() < 0.02


# -------------------------------------------------------------- agreement with scikit-image
# Same algorithm in float32 on both sides: differences are float32 rounding (different
# summation orders, Cramer's rule in float64 vs LAPACK sgesv), amplified only at the rare
# ill-conditioned pixels, hence a tight mean and a looser 99th percentile.

@pytest.mark.parametrize("kw", [
    {},
    {"gaussian": True},
    {"prefilter": True, "radius": 3, "num_warp": 4},
])
def test_matches_skimage(pair, kw):
    ours = flowkit.lucas_kanade(*pair, normalize=False, **kw)
    ref = skimage_flow(*pair, **kw)
    diff = np.abs(ours - ref)
    assert diff.mean() < 1e-5
    assert np.percentile(diff, 99) < 1e-4


def test_levels_match_skimage_nlevel():
    # odd sizes: 77x65 -> 39x33 -> 20x17 (skimage also stops once the smaller side is <= 32)
    frame0, frame1, _ = translated_pair(65, 77, -2.0, 1.25, seed=8)
    for levels in (1, 3):
        ours = flowkit.lucas_kanade(frame0, frame1, radius=4, num_warp=3, levels=levels,
                                    normalize=False)
        ref = skimage_flow(frame0.astype(np.float32), frame1.astype(np.float32), nlevel=levels,
                           radius=4, num_warp=3)
        diff = np.abs(ours - ref)
        assert diff.mean() < 1e-5 and np.percentile(diff, 99) < 1e-4


def test_auto_levels_rule():
    # scikit-image halves while the smaller side exceeds 32 px, at most 10 levels
    assert lk_dense.auto_levels(480, 640) == 5      # 480, 240, 120, 60, 30
    assert lk_dense.auto_levels(32, 1000) == 1
    assert lk_dense.auto_levels(33, 33) == 2
    assert lk_dense.auto_levels(100000, 100000) == 10


def test_pyramid_step_matches_skimage():
    image = textured_image(37, 23, seed=2).astype(np.float32)
    shape = lk_dense.reduced_shape(image.shape)
    ours = lk_dense._reduce(image[..., None], shape, lk_dense.pyramid_weights(),
                            np.ones(1, np.float32))[..., 0]
    ref = pyramid_reduce(image, 2, channel_axis=None)
    np.testing.assert_allclose(ours, ref, atol=1e-6)  # float32 rounding of the blur


def test_flow_upscale_matches_skimage():
    rng = np.random.default_rng(0)
    small = rng.normal(size=(9, 12, 2)).astype(np.float32)  # (u, v)
    big = np.empty((17, 23, 2), np.float32)
    lk_dense._upscale_flow(small, big)
    ref = _resize_flow(small.transpose(2, 0, 1)[::-1].copy(), (17, 23))  # skimage's (v, u)
    np.testing.assert_array_equal(big, ref[::-1].transpose(1, 2, 0))


def test_median9_is_the_median():
    rng = np.random.default_rng(1)
    for values in rng.integers(0, 5, size=(300, 9)).astype(np.float32):
        assert lk_dense.median9(*values) == np.median(values)


def test_median3x3_is_scipys_median_filter():
    # the CUDA prefilter's median and the CPU rows' edge columns: scipy's symmetric border
    # (row -1 is row 0); a mirrored one (row -1 is row 1) passed the CUDA test's tolerance
    flow = np.random.default_rng(5).standard_normal((7, 9, 2)).astype(np.float32)
    got = np.array([[[lk_dense.median3x3(flow, y, x, c) for c in range(2)] for x in range(9)]
                    for y in range(7)])
    np.testing.assert_array_equal(got, ndi.median_filter(flow, size=(3, 3, 1), mode="reflect"))


@pytest.mark.parametrize("gaussian, prefilter", [(False, False), (True, True)])
def test_bands_do_not_change_the_result(gaussian, prefilter):
    # each band recomputes its halo rows; the band split must not show in the flow (the
    # uniform window's float64 running sums restart per band: rounding only)
    frame0, frame1, _ = translated_pair(50, 40, 0.8, -1.3, seed=13)
    ref = frame0.astype(np.float32)[..., None]
    mov = frame1.astype(np.float32)[..., None]
    flow = np.random.default_rng(2).normal(scale=0.5, size=(50, 40, 2)).astype(np.float32)
    weights = lk_dense.window_weights(3, gaussian)
    results = []
    for n_bands in (1, 3):
        rows = 50 + 2 * 3 + 2
        fl = np.empty((n_bands, rows, 80), np.float32)
        wb = np.empty((n_bands, rows, 40), np.float32)
        tb = np.empty((n_bands, rows, 5, 40), np.float32)
        out = np.empty_like(flow)
        lk_dense._ilk_step(ref, mov, flow, prefilter, weights, not gaussian, n_bands, fl, wb, tb,
                           out)
        results.append(out)
    if gaussian:  # float32 sums in one order per row, whatever the band: the same bits
        np.testing.assert_array_equal(results[1], results[0])
    else:
        np.testing.assert_allclose(results[1], results[0], rtol=1e-5, atol=1e-6)


@njit
def _gaussian_window(products, weights, row_pairs):
    """lk_dense's y pass (two rows at once where ``row_pairs`` and the window allows it,
    else one) and x pass of the Gaussian window over ``products`` (H, 5 * W)."""
    half = (weights.shape[0] - 1) // 2
    height, n_row = products.shape
    width = n_row // 5
    col = np.empty((height, n_row + 2 * half), np.float32)  # the kernel's layout: room for pads
    y_lo, y_hi = np.empty(half, np.int64), np.empty(half, np.int64)
    y = 0
    while y < height:
        if row_pairs and y + 1 < height and y - half >= 0 and y + 1 + half < height:
            lk_dense._window_two_rows(products, y, half, weights, col[y, half:half + n_row],
                                      col[y + 1, half:half + n_row])
            y += 2
        else:
            lk_dense._window_row(products.reshape(products.size), y, 0, height, weights, y_lo,
                                 y_hi, col[y, half:half + n_row])
            y += 1
    out = np.empty((height, 5, width), np.float32)
    flow = np.empty((width, 2), np.float32)
    x_lo, x_hi = np.empty(half, np.int64), np.empty(half, np.int64)
    lk_dense._row_taps(half, np.int64(1), x_lo, x_hi)
    pad = np.empty(2 * half, np.int64)
    lk_dense._pad_sources(width, half, np.int64(1), 3, pad)  # 3: reflect-101
    keep = np.empty(half, np.float32)
    for y in range(height):
        lk_dense._x_pass_solve(col[y], weights, x_lo, x_hi, pad, keep, out[y], flow)
    return out


@pytest.mark.parametrize("radius", [1, 2, 7])
def test_gaussian_window_sums_in_one_order(radius):
    # The Gaussian window's float32 sums, taps paired around the centre and added outermost
    # first (reflect-101 ends), are those of a plain one-pair-per-pass NumPy loop bit for bit,
    # whichever way the kernel groups the taps or the rows: the results of the commit before
    # the grouping (b5ec97d) are kept exactly.
    height, width = 41, 23
    weights = lk_dense.window_weights(radius, True)
    half = (weights.shape[0] - 1) // 2
    products = np.random.default_rng(radius).random((height, 5 * width), dtype=np.float32)
    idx = np.abs(np.arange(-half, height + half))  # reflect-101
    idx = np.where(idx >= height, 2 * height - 2 - idx, idx)
    ref_y = weights[half] * products
    for k in range(half):
        ref_y = ref_y + weights[k] * (products[idx[k:k + height]]
                                      + products[idx[2 * half - k:2 * half - k + height]])
    ref_y = ref_y.reshape(height, 5, width)
    xi = np.abs(np.arange(-half, width + half))
    xi = np.where(xi >= width, 2 * width - 2 - xi, xi)
    ref = weights[half] * ref_y
    for k in range(half):
        ref = ref + weights[k] * (ref_y[..., xi[k:k + width]]
                                  + ref_y[..., xi[2 * half - k:2 * half - k + width]])
    for row_pairs in (False, True):
        ours = _gaussian_window(products, weights, row_pairs)
        assert np.array_equal(ours, ref)


# ------------------------------------------------------------------------- ground truth

@pytest.mark.parametrize("name", ["RubberWhale", "Venus", "Yosemite", "Sintel-alley_1"])
def test_ground_truth_not_worse_than_skimage(name):
    frame0, frame1, gt, valid = ground_truth_case(name)
    ours = flowkit.lucas_kanade(frame0, frame1, normalize=False)
    ref = skimage_flow(frame0, frame1)
    assert epe(ours, gt, valid) <= 1.02 * epe(ref, gt, valid)
    assert np.abs(ours - ref).mean() < 1e-4


# ------------------------------------------------------------------- colour, batch, dtypes

def numpy_ilk_one_level(frame0, frame1, radius, num_warp):
    """float64 reference of one pyramid level with channel-summed normal equations."""
    height, width, channels = frame0.shape
    yy, xx = np.mgrid[:height, :width].astype(np.float64)
    window = partial(ndi.uniform_filter, size=2 * radius + 1, mode="mirror")
    u = np.zeros((height, width))
    v = np.zeros((height, width))
    for _ in range(num_warp):
        sums = np.zeros((5, height, width))
        for c in range(channels):
            warped = ndi.map_coordinates(frame1[..., c], [yy + v, xx + u], order=1, mode="nearest")
            gy, gx = np.gradient(warped)
            e = gy * v + gx * u + frame0[..., c] - warped
            sums += np.stack([gx * gx, gx * gy, gy * gy, gx * e, gy * e])
        axx, axy, ayy, bx, by = (window(s) for s in sums)
        det = axx * ayy - axy * axy
        ok = np.abs(det) >= 1e-14
        det = np.where(ok, det, 1.0)
        u = np.where(ok, (ayy * bx - axy * by) / det, 0.0)
        v = np.where(ok, (axx * by - axy * bx) / det, 0.0)
    return np.stack([u, v], axis=-1)


def test_colour_sums_normal_equations_over_channels():
    base = textured_image(40, 48, seed=4, channels=3)
    moved = ndi.shift(base, (0.5, -1.25, 0), order=3, mode="reflect")
    ours = flowkit.lucas_kanade(base.astype(np.float32), moved.astype(np.float32), radius=3,
                                num_warp=3, levels=1, normalize=False)
    ref = numpy_ilk_one_level(base.astype(np.float32), moved.astype(np.float32), 3, 3)
    diff = np.abs(ours - ref)  # float32 kernels vs float64 reference
    assert diff.mean() < 1e-5 and diff.max() < 1e-3


def test_batches_equal_single_pairs(pair):
    frame0, frame1 = pair
    other0, other1 = frame1[::-1].copy(), frame0[::-1].copy()
    kw = {"radius": 3, "num_warp": 2, "levels": 2}
    singles = [flowkit.lucas_kanade(a, b, **kw) for a, b in ((frame0, frame1), (other0, other1))]
    # (N, H, W) gray batch, and the (N, H, W, C) layout with C = 1
    batch = flowkit.lucas_kanade(np.stack([frame0, other0]), np.stack([frame1, other1]), **kw)
    batch_c = flowkit.lucas_kanade(np.stack([frame0, other0])[..., None],
                                   np.stack([frame1, other1])[..., None], **kw)
    assert batch.shape == (2, 48, 64, 2)
    np.testing.assert_array_equal(batch, np.stack(singles))
    np.testing.assert_array_equal(batch_c, np.stack(singles))


def test_dtypes_scale_like_img_as_float(pair):
    # integers become float32(value) * float32(1 / max), as skimage's img_as_float32; float16
    # and float64 are cast to float32: each must equal the float32 run on those values
    frame0, frame1 = pair
    kw = {"radius": 3, "num_warp": 2, "levels": 2, "normalize": False}
    for dtype, top in ((np.uint8, 255), (np.uint16, 65535)):
        q0, q1 = (np.round(f * top).astype(dtype) for f in (frame0, frame1))
        as_float = flowkit.lucas_kanade(q0.astype(np.float32) * np.float32(1 / top),
                                        q1.astype(np.float32) * np.float32(1 / top), **kw)
        np.testing.assert_array_equal(flowkit.lucas_kanade(q0, q1, **kw), as_float)
    f32 = flowkit.lucas_kanade(frame0, frame1, **kw)
    np.testing.assert_array_equal(
        flowkit.lucas_kanade(frame0.astype(np.float64), frame1.astype(np.float64), **kw), f32)
    h0, h1 = frame0.astype(np.float16), frame1.astype(np.float16)
    half = flowkit.lucas_kanade(h0, h1, **kw)
    assert half.dtype == np.float32
    np.testing.assert_array_equal(
        half, flowkit.lucas_kanade(h0.astype(np.float32), h1.astype(np.float32), **kw))


def test_init_flow_continues_the_iteration(pair):
    kw = {"radius": 3, "levels": 1}
    first = flowkit.lucas_kanade(*pair, num_warp=1, **kw)
    both = flowkit.lucas_kanade(*pair, num_warp=2, **kw)
    for init in (first.astype(np.float64), first):  # float32: used without conversion
        kept = init.copy()
        resumed = flowkit.lucas_kanade(*pair, num_warp=1, init_flow=init, **kw)
        np.testing.assert_array_equal(resumed, both)
        np.testing.assert_array_equal(init, kept)  # the caller's array is left alone


def test_init_flow_is_reduced_to_the_coarsest_level():
    frame0, frame1, truth = translated_pair(64, 80, 6.0, -5.0, seed=9)
    kw = {"radius": 4, "num_warp": 3, "levels": 2}
    inner = (slice(12, -12), slice(12, -12))
    with_init = flowkit.lucas_kanade(frame0, frame1, init_flow=truth, **kw)
    assert np.abs(with_init - truth)[inner].mean() < 0.05
    # the reduced init at the coarse level is exactly half the constant flow
    coarse = lk_dense._reduce_flow(truth, lk_dense.pyramid_shapes(64, 80, 2),
                                   lk_dense.pyramid_weights())
    np.testing.assert_allclose(coarse[..., 0], 3.0, rtol=1e-6)
    np.testing.assert_allclose(coarse[..., 1], -2.5, rtol=1e-6)


# -------------------------------------------------------------------------------- CUDA

def test_cuda_matches_cpu_gray():
    frame0, frame1, _ = translated_pair(20, 24, 0.75, -0.5, seed=11)
    kw = {"radius": 2, "num_warp": 2, "levels": 1}
    cpu = flowkit.lucas_kanade(frame0, frame1, **kw)
    gpu = flowkit.lucas_kanade(frame0, frame1, device="cuda", **kw)
    assert isinstance(gpu, np.ndarray) and gpu.dtype == np.float32 and gpu.shape == cpu.shape
    assert np.abs(gpu - cpu).max() < 1e-3


def test_cuda_matches_cpu_colour_batch_options():
    base = (textured_image(16, 20, seed=12, channels=3) * 255).astype(np.uint8)
    frames0 = np.stack([base, base[::-1]])
    frames1 = np.stack([np.roll(base, 1, axis=1), np.roll(base[::-1], -1, axis=0)])
    init = np.full((2, 16, 20, 2), 0.25, np.float32)
    kw = {"radius": 2, "num_warp": 1, "levels": 2, "gaussian": True, "prefilter": True,
          "init_flow": init}
    cpu = flowkit.lucas_kanade(frames0, frames1, **kw)
    gpu = flowkit.lucas_kanade(frames0, frames1, device="cuda", **kw)
    assert gpu.shape == (2, 16, 20, 2)
    assert np.abs(gpu - cpu).max() < 1e-3


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("args, kw, error, match", [
    ((np.zeros(8), np.zeros(8)), {}, ValueError, "frame0: expected 2-D or 3-D or 4-D"),
    ((np.zeros((2, 2, 8, 8, 1)),) * 2, {}, ValueError, "frame0: expected 2-D"),
    ((np.zeros((8, 8)), np.zeros((8, 9))), {}, ValueError, "frame1: expected the same shape"),
    ((np.zeros((8, 8), bool),) * 2, {}, TypeError, "frame0: expected dtype"),
    ((np.zeros((8, 8)), np.zeros((8, 8), np.int32)), {}, TypeError, "frame1: expected dtype"),
    ((np.zeros((0, 8)),) * 2, {}, ValueError, "frame0: expected a non-empty array"),
    ((np.zeros((8, 8)),) * 2, {"radius": 0}, ValueError, "radius: expected an integer >= 1"),
    ((np.zeros((8, 8)),) * 2, {"radius": -3}, ValueError, "radius: expected an integer >= 1"),
    ((np.zeros((8, 8)),) * 2, {"radius": 2.5}, TypeError, "radius: expected an integer"),
    ((np.zeros((8, 8)),) * 2, {"num_warp": 0}, ValueError, "num_warp: expected an integer >= 1"),
    ((np.zeros((8, 8)),) * 2, {"levels": 0}, ValueError, "levels: expected an integer >= 1"),
    ((np.zeros((8, 8)),) * 2, {"levels": 5}, ValueError, "levels: expected an integer <= 4"),
    ((np.zeros((8, 8)),) * 2, {"levels": 2.0}, TypeError, "levels: expected an integer"),
    ((np.zeros((8, 8)),) * 2, {"gaussian": "yes"}, TypeError, "gaussian: expected a bool"),
    ((np.zeros((8, 8)),) * 2, {"prefilter": 1}, TypeError, "prefilter: expected a bool"),
    ((np.zeros((8, 8)),) * 2, {"init_flow": np.zeros((8, 9, 2))}, ValueError,
     r"init_flow: expected shape \(8, 8, 2\)"),
    ((np.zeros((8, 8)),) * 2, {"init_flow": np.zeros((8, 8, 3))}, ValueError,
     r"init_flow: expected shape \(H, W, 2\)"),
    ((np.zeros((8, 8)),) * 2, {"init_flow": np.zeros((8, 8, 2), np.int32)}, TypeError,
     "init_flow: expected a float dtype"),
    ((np.zeros((3, 8, 8)),) * 2, {"init_flow": np.zeros((8, 8, 2))}, ValueError,
     r"init_flow: expected shape \(3, 8, 8, 2\)"),
    ((np.zeros((8, 8)),) * 2, {"device": "tpu"}, ValueError, "device: expected one of"),
])
def test_bad_input_raises(args, kw, error, match):
    with pytest.raises(error, match=match):
        flowkit.lucas_kanade(*args, **kw)


@pytest.mark.parametrize("radius, what", [(2**31, "rows of window buffers"),
                                          (2**63 - 1, "window taps")])
def test_radius_beyond_memory_is_named(radius, what):
    # the CPU bands' 2 * radius + 2 rows (8 TiB here) were a MemoryError, and the taps of
    # 2**63 - 1 NumPy's 'Maximum allowed dimension exceeded', neither naming radius
    frame = np.zeros((48, 64), np.float32)
    with pytest.raises(MemoryError, match=rf"^radius: \d+ {what} .* would need at least"):
        flowkit.lucas_kanade(frame, frame, radius=radius)
    with pytest.raises(ValueError, match=r"^radius: "):  # the command line's usage error
        flowkit.lucas_kanade(frame, frame, radius=radius)


# ------------------------------------------------- intensity scale, channels, flat frames
# docs/conventions.md, "Intensity": normalize=True stretches each pair to [0, 1]

INNER = (slice(12, -12), slice(12, -12))


@pytest.fixture(scope="module")
def shifted_u8():
    # a smooth texture shifted by (2, 1) px, quantised to uint8
    f0, f1, _ = translated_pair(80, 96, 2.0, 1.0, seed=21)
    return tuple(np.round(f * 255).astype(np.uint8) for f in (f0, f1))


@pytest.mark.parametrize("top, dtype", [(0.1, np.float64), (0.03, np.float32),
                                        (255.0, np.float32)])
def test_low_contrast_and_0_255_floats_give_the_uint8_flow(shifted_u8, top, dtype):
    u0, u1 = shifted_u8
    kw = {"radius": 5, "num_warp": 5}
    ref = flowkit.lucas_kanade(u0, u1, **kw)
    a, b = ((u * (top / 255)).astype(dtype) for u in (u0, u1))
    flow = flowkit.lucas_kanade(a, b, **kw)
    np.testing.assert_allclose(flow[INNER].mean(axis=(0, 1)), [2.0, 1.0], atol=0.05)
    np.testing.assert_allclose(flow, ref, atol=1e-4)  # one float rounding of the stretch


@pytest.mark.parametrize("a, b", [(3.0, -1.0), (0.01, 0.5), (1e-3, 1e3), (250.0, 4.0)])
def test_flow_invariant_to_affine_intensity(pair, a, b):
    frame0, frame1 = (f.astype(np.float64) for f in pair)
    kw = {"radius": 4, "num_warp": 3, "levels": 2}
    ref = flowkit.lucas_kanade(frame0, frame1, **kw)
    np.testing.assert_allclose(flowkit.lucas_kanade(a * frame0 + b, a * frame1 + b, **kw), ref,
                               atol=1e-4)
    batch = flowkit.lucas_kanade(np.stack([frame0, a * frame0 + b]),
                                 np.stack([frame1, a * frame1 + b]), **kw)  # per pair
    np.testing.assert_allclose(batch, np.stack([ref, ref]), atol=1e-4)


def test_rubberwhale_low_contrast_float():
    frame0, frame1, gt, valid = ground_truth_case("RubberWhale")
    ref = epe(flowkit.lucas_kanade(frame0, frame1), gt, valid)
    low = epe(flowkit.lucas_kanade(frame0 * (0.03 / 255), frame1 * (0.03 / 255)), gt, valid)
    assert abs(low - ref) < 0.01


def test_rgba_is_rgb_with_alpha_ignored():
    rgb = (textured_image(40, 48, seed=8, channels=3) * 255).astype(np.uint8)
    alpha = np.random.default_rng(3).integers(0, 256, (40, 48, 1), dtype=np.uint8)
    moved = np.roll(rgb, (1, -1), axis=(0, 1))
    rgba0, rgba1 = np.concatenate([rgb, alpha], -1), np.concatenate([moved, alpha[::-1]], -1)
    kw = {"radius": 3, "num_warp": 2, "levels": 2}
    for normalize in (True, False):
        np.testing.assert_array_equal(
            flowkit.lucas_kanade(rgba0, rgba1, normalize=normalize, **kw),
            flowkit.lucas_kanade(rgb, moved, normalize=normalize, **kw))
    np.testing.assert_array_equal(
        flowkit.lucas_kanade(np.stack([rgba0, rgba1]), np.stack([rgba1, rgba0]), **kw),
        flowkit.lucas_kanade(np.stack([rgb, moved]), np.stack([moved, rgb]), **kw))


def test_two_channels_and_non_finite_values_raise():
    two = np.zeros((16, 20, 2), np.float32)
    with pytest.raises(ValueError, match=r"frame0: expected 1, 3 or 4 channels .*got 2 "
                                         r"channels in shape \(16, 20, 2\)"):
        flowkit.lucas_kanade(two, two)
    with pytest.raises(ValueError, match=r"frame0: expected 1, 3 or 4 channels .*\(2, 16, 20, 2\)"):
        flowkit.lucas_kanade(np.stack([two] * 2), np.stack([two] * 2))
    good = textured_image(16, 20, seed=2)
    bad = good.copy()
    bad[3, 4] = np.nan
    for normalize in (True, False):
        with pytest.raises(ValueError, match="frame1: expected finite values, got NaN"):
            flowkit.lucas_kanade(good, bad, normalize=normalize)
    bad[3, 4] = np.inf
    with pytest.raises(ValueError, match="frame0: expected finite values, got infinite"):
        flowkit.lucas_kanade(bad, good)


@pytest.mark.parametrize("value", [0, 200, 0.7, -3.5])
def test_flat_frames_give_exactly_zero_flow(value):
    dtype = np.uint8 if isinstance(value, int) else np.float64
    flat = np.full((24, 28), value, dtype)
    for normalize in (True, False):
        assert np.all(flowkit.lucas_kanade(flat, flat, normalize=normalize) == 0)


def test_pure_noise_gives_finite_flow_that_follows_the_noise():
    # documented: noise is stretched like texture; the flow is finite and the same at any noise
    # amplitude, whereas normalize=False zeroes faint noise (scikit-image's |det| < 1e-14 rule)
    rng = np.random.default_rng(9)
    n0, n1 = rng.random((2, 40, 48))
    kw = {"radius": 3, "num_warp": 3}
    flow = flowkit.lucas_kanade(n0, n1, **kw)
    assert np.all(np.isfinite(flow))
    faint = flowkit.lucas_kanade(0.5 + 1e-5 * n0, 0.5 + 1e-5 * n1, **kw)
    np.testing.assert_allclose(faint, flow, atol=1e-4)
    assert np.all(flowkit.lucas_kanade(0.5 + 1e-5 * n0, 0.5 + 1e-5 * n1, normalize=False,
                                       **kw) == 0)
