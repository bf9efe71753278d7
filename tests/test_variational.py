"""Variational refinement against OpenCV's VariationalRefinement, its own energy, ground truth
and the CUDA path (simulator)."""

import cv2
import numpy as np
import pytest

import flowkit
from flowkit import _variational
from flowkit.kernels import variational
from cases import GROUND_TRUTH_CASES, ground_truth_case, textured_image, translated_pair

OPENCV_DEFAULTS = dict(alpha=20.0, delta=5.0, gamma=10.0, iterations=5, sor_iterations=5, omega=1.6)


def epe(flow, gt, valid):
    return float(np.linalg.norm(flow - gt, axis=-1)[valid].mean())


def opencv_refine(frame0, frame1, flow, *, alpha, delta, gamma, iterations, sor_iterations, omega,
                  epsilon=None):
    vr = cv2.VariationalRefinement_create()
    if epsilon is not None:
        if not hasattr(vr, "setEpsilon"):
            pytest.skip(f"cv2.VariationalRefinement.setEpsilon needs OpenCV 4.10+, "
                        f"found {cv2.__version__}")
        vr.setEpsilon(epsilon)
    vr.setAlpha(alpha)
    vr.setDelta(delta)
    vr.setGamma(gamma)
    vr.setFixedPointIterations(iterations)
    vr.setSorIterations(sor_iterations)
    vr.setOmega(omega)
    out = np.ascontiguousarray(flow, np.float32).copy()
    vr.calc(frame0, frame1, out)
    return out


def perturbed_truth(name, *, sigma=0.5, quantum=None, seed=0):
    """(frame0, frame1, truth, valid, start): the truth (unknown set to 0) plus Gaussian noise,
    rounded to multiples of ``quantum`` pixels when given."""
    frame0, frame1, gt, valid = ground_truth_case(name)
    gt = np.where(valid[..., None], gt, 0).astype(np.float32)
    start = gt + np.random.default_rng(seed).normal(0, sigma, gt.shape)
    if quantum:
        start = np.round(start / quantum) * quantum
    return frame0, frame1, gt, valid, start.astype(np.float32)


# ---------------------------------------------------------------------- parity with OpenCV
# cv2.remap (the warp inside OpenCV's refinement) samples at positions rounded to 1/32 pixel,
# flowkit at the exact position. A start flow on the 1/32 grid makes both warps the same, so
# what remains is float32 summation order: 2e-5 px at most. From a Farneback flow (arbitrary
# positions) the warps differ by up to 1/64 px in position; measured max 1.3e-3 px on
# RubberWhale, mean 2e-6 px.

@pytest.mark.parametrize("name", ["RubberWhale", "Venus"])
def test_refine_gray_matches_opencv_on_the_remap_grid(name):
    frame0, frame1, _, _, start = perturbed_truth(name, quantum=1 / 32)
    params = dict(OPENCV_DEFAULTS, alpha=10.0, iterations=4, sor_iterations=6, omega=1.4)
    ref = opencv_refine(frame0, frame1, start, **params)
    ours = _variational.refine_gray(frame0.astype(np.float32), frame1.astype(np.float32), start,
                                    *params.values())
    diff = np.abs(ours - ref)
    assert np.abs(ref - start).mean() > 0.1  # the refinement does move the flow
    assert diff.max() < 1e-4 and diff.mean() < 1e-6


def test_refine_gray_matches_opencv_from_farneback():
    frame0, frame1, _, _ = ground_truth_case("RubberWhale")
    start = cv2.calcOpticalFlowFarneback(frame0, frame1, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    ref = opencv_refine(frame0, frame1, start, **OPENCV_DEFAULTS)
    ours = _variational.refine_gray(frame0.astype(np.float32), frame1.astype(np.float32), start,
                                    *OPENCV_DEFAULTS.values())
    diff = np.abs(ours - ref)
    assert diff.max() < 5e-3 and diff.mean() < 1e-5


def test_public_function_matches_opencv_for_uint8_without_normalize():
    frame0, frame1, _, _, start = perturbed_truth("Venus", quantum=1 / 32, seed=1)
    ref = opencv_refine(frame0, frame1, start, **OPENCV_DEFAULTS)
    ours = flowkit.variational_refinement(frame0, frame1, start, normalize=False)
    assert ours.dtype == np.float32 and ours.shape == start.shape
    assert np.abs(ours - ref).max() < 1e-4


@pytest.mark.parametrize("epsilon", [0.001, 0.01, 0.1])
def test_epsilon_matches_opencv_set_epsilon(epsilon):
    # the robust penaliser's epsilon is VariationalRefinement.setEpsilon (OpenCV 4.10+), on
    # the same 0..255 scale: the tolerance of the default's parity test above (measured max
    # 2.3e-5, 2.1e-6, 2.0e-6 px)
    frame0, frame1, _, _, start = perturbed_truth("Venus", quantum=1 / 32, seed=1)
    ref = opencv_refine(frame0, frame1, start, **OPENCV_DEFAULTS, epsilon=epsilon)
    ours = flowkit.variational_refinement(frame0, frame1, start, epsilon=epsilon,
                                          normalize=False)
    assert np.abs(ours - ref).max() < 1e-4
    default = flowkit.variational_refinement(frame0, frame1, start, normalize=False)
    if epsilon == 0.001:
        np.testing.assert_array_equal(ours, default)
    else:  # it does change the flow (measured: by 0.51 and 0.62 px at most)
        assert np.abs(ours - default).max() > 0.1


def test_default_epsilon_is_the_former_constant():
    # epsilon=0.001 (the default, in any real type) is the refinement the kernels ran before
    # epsilon was an option, to the bit (compared against saved outputs when it was added)
    frame0, frame1, _, _, start = perturbed_truth("RubberWhale", seed=8)
    ref = flowkit.variational_refinement(frame0, frame1, start)
    for epsilon in (0.001, np.float32(0.001), np.float64(0.001), np.array(0.001)):
        np.testing.assert_array_equal(
            flowkit.variational_refinement(frame0, frame1, start, epsilon=epsilon), ref)
    # one compiled specialisation of the driver, whatever type epsilon had
    assert len(variational._refine_shared.signatures) == 1


def test_derivatives_match_opencv_remap_and_sobel():
    # OpenCV's prepareBuffers: remap (linear, replicate), mean and difference, Sobel ksize=1
    frame0, frame1, _, _, start = perturbed_truth("RubberWhale", quantum=1 / 32, seed=2)
    f0, f1 = frame0.astype(np.float32), frame1.astype(np.float32)
    h, w = f0.shape
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    warped = cv2.remap(f1, xs + start[..., 0], ys + start[..., 1], cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)
    mean = 0.5 * f0 + 0.5 * warped
    iz = warped - f0

    def sobel(image, dx, dy):
        return cv2.Sobel(image, -1, dx, dy, ksize=1, borderType=cv2.BORDER_REPLICATE)

    ix, iy = sobel(mean, 1, 0), sobel(mean, 0, 1)
    ref = [ix, iy, iz, sobel(ix, 1, 0), sobel(ix, 0, 1), sobel(iy, 0, 1), sobel(iz, 1, 0),
           sobel(iz, 0, 1)]
    ours = variational.derivatives_cpu(f0, f1, start)
    for k in range(variational.N_DERIVATIVES):
        # bilinear weights in float64 (flowkit) or float32 tables (OpenCV): 255 * 2**-22 or so
        np.testing.assert_allclose(ours[k], ref[k], atol=2e-4, err_msg=f"derivative {k}")


# ------------------------------------------------------------------ the energy it minimises

@pytest.mark.parametrize("name", ["RubberWhale", "Venus"])
def test_no_iteration_increases_the_energy(name):
    frame0, frame1, _, _, start = perturbed_truth(name, sigma=0.7, seed=3)
    energies = [flowkit_energy(frame0, frame1, flowkit.variational_refinement(
        frame0, frame1, start, iterations=k), start) for k in range(6)]
    assert energies[0] == pytest.approx(flowkit_energy(frame0, frame1, start, start))
    steps = np.diff(energies)
    # float32 refinement, float64 energy: allow 1e-6 relative noise; the real steps are far larger
    assert np.all(steps < 1e-6 * energies[0]), energies
    assert energies[-1] < 0.6 * energies[0], energies  # measured 0.37 and 0.41


@pytest.mark.parametrize("epsilon", [0.01, 0.5])
def test_no_iteration_increases_the_energy_at_other_epsilons(epsilon):
    frame0, frame1, _, _, start = perturbed_truth("RubberWhale", sigma=0.7, seed=3)
    energies = [_variational.variational_energy(
        frame0, frame1, flowkit.variational_refinement(frame0, frame1, start, iterations=k,
                                                       epsilon=epsilon),
        reference=start, epsilon=epsilon) for k in range(4)]
    steps = np.diff(energies)
    assert np.all(steps < 1e-6 * energies[0]), energies
    assert energies[-1] < 0.6 * energies[0], energies


def test_more_sor_sweeps_lower_the_energy_further():
    frame0, frame1, _, _, start = perturbed_truth("RubberWhale", seed=4)
    energies = [flowkit_energy(frame0, frame1, flowkit.variational_refinement(
        frame0, frame1, start, sor_iterations=k), start) for k in (0, 1, 5, 20)]
    assert energies[0] == pytest.approx(flowkit_energy(frame0, frame1, start, start))
    assert np.all(np.diff(energies) < 0), energies


def flowkit_energy(frame0, frame1, flow, reference):
    return _variational.variational_energy(frame0, frame1, flow, reference=reference)


@pytest.mark.parametrize("epsilon", [0.001, 0.05, 2.0])
def test_energy_matches_a_direct_float64_evaluation(epsilon):
    # the energy of a tiny pair written out term by term (kernels/variational.py's docstring)
    rng = np.random.default_rng(5)
    f0 = (textured_image(9, 11, seed=6) * 255).astype(np.uint8)
    f1 = np.roll(f0, 1, axis=1)
    start = rng.normal(0, 0.3, (9, 11, 2)).astype(np.float32)
    flow = start + rng.normal(0, 0.2, start.shape).astype(np.float32)
    d = variational.derivatives_cpu(f0.astype(np.float32), f1.astype(np.float32), start)
    d = d.astype(np.float64)
    alpha, delta, gamma, z2, e2 = 3.0, 2.0, 4.0, 0.01, epsilon ** 2
    total = 0.0
    for y in range(9):
        for x in range(11):
            du, dv = (flow[y, x] - start[y, x]).astype(np.float64)
            ix, iy, iz, ixx, ixy, iyy, ixz, iyz = d[:, y, x]
            total += delta * np.sqrt((iz + ix * du + iy * dv) ** 2 / (ix ** 2 + iy ** 2 + z2) + e2)
            total += gamma * np.sqrt((ixz + ixx * du + ixy * dv) ** 2 / (ixx ** 2 + ixy ** 2 + z2)
                                     + (iyz + ixy * du + iyy * dv) ** 2 / (iyy ** 2 + ixy ** 2 + z2)
                                     + e2)
            total += z2 * (du ** 2 + dv ** 2)
            right = flow[y, min(x + 1, 10)].astype(np.float64) - flow[y, x]
            below = flow[min(y + 1, 8), x].astype(np.float64) - flow[y, x]
            total += alpha * np.sqrt((right ** 2).sum() + (below ** 2).sum() + e2)
    ours = _variational.variational_energy(f0, f1, flow, reference=start, alpha=alpha,
                                           delta=delta, gamma=gamma, epsilon=epsilon,
                                           normalize=False)
    assert ours == pytest.approx(total, rel=1e-9)  # summation order


# ------------------------------------------------------------------------------ accuracy

@pytest.mark.parametrize("name", ["RubberWhale", "Venus"])
def test_lowers_the_error_of_a_perturbed_ground_truth(name):
    frame0, frame1, gt, valid, start = perturbed_truth(name, sigma=0.5, seed=6)
    before, after = epe(start, gt, valid), epe(flowkit.variational_refinement(frame0, frame1, start), gt, valid)
    # measured: RubberWhale 0.63 -> 0.10 px, Venus 0.63 -> 0.14 px
    assert after < 0.5 * before, (before, after)


@pytest.mark.parametrize("name", list(GROUND_TRUTH_CASES))
def test_improves_farneback_on_the_shared_pairs(name):
    frame0, frame1, gt, valid = ground_truth_case(name)
    start = flowkit.farneback(frame0, frame1)
    before = epe(start, gt, valid)
    after = epe(flowkit.variational_refinement(frame0, frame1, start), gt, valid)
    # measured: RubberWhale 0.350 -> 0.251, Venus 1.390 -> 1.318, Yosemite 0.395 -> 0.361,
    # Sintel alley_1 0.929 -> 0.802
    assert after < 0.96 * before, (before, after)


# ------------------------------------------------------------------ exactness and layouts

def test_identical_frames_with_zero_flow_stay_zero():
    gray = (textured_image(20, 26, seed=7) * 255).astype(np.uint8)
    colour = textured_image(20, 26, seed=8, channels=3).astype(np.float32)
    for frame in (gray, colour, np.zeros((20, 26))):
        zero = np.zeros(frame.shape[:2] + (2,), np.float32)
        out = flowkit.variational_refinement(frame, frame, zero)
        assert out.dtype == np.float32 and np.array_equal(out, zero)


def test_iterations_zero_returns_the_flow():
    frame0, frame1, _, _, start = perturbed_truth("Venus")
    out = flowkit.variational_refinement(frame0, frame1, start.astype(np.float64), iterations=0)
    assert out.dtype == np.float32 and np.array_equal(out, start)


@pytest.fixture(scope="module")
def small_pair():
    base = textured_image(30, 36, seed=9, channels=3)
    frame1 = np.roll(base, (1, 2), axis=(0, 1))
    flow = np.random.default_rng(9).normal(0, 0.5, (30, 36, 2)).astype(np.float32)
    return base, frame1, flow


def test_colour_is_refined_on_the_channel_mean(small_pair):
    frame0, frame1, flow = small_pair
    # without the stretch (which spans all channels of a colour pair, the mean's range for gray)
    colour = flowkit.variational_refinement(frame0, frame1, flow, normalize=False)
    gray = flowkit.variational_refinement(frame0.mean(-1), frame1.mean(-1), flow, normalize=False)
    np.testing.assert_allclose(colour, gray, atol=1e-4)  # mean in float32 vs float64
    colour = flowkit.variational_refinement(frame0, frame1, flow)
    rgba = [np.concatenate([f, np.random.default_rng(1).random(f.shape[:2] + (1,))], -1)
            for f in (frame0, frame1)]
    np.testing.assert_array_equal(flowkit.variational_refinement(*rgba, flow), colour)


@pytest.mark.parametrize("a, b", [(3.0, -1.0), (0.01, 0.5), (250.0, 4.0)])
def test_intensity_stretch_makes_gain_and_offset_irrelevant(small_pair, a, b):
    frame0, frame1, flow = small_pair
    ref = flowkit.variational_refinement(frame0, frame1, flow)
    out = flowkit.variational_refinement(a * frame0 + b, a * frame1 + b, flow)
    np.testing.assert_allclose(out, ref, atol=1e-3)  # float32 rounding of the stretch, iterated


def test_uint16_and_float_without_normalize_read_like_uint8():
    frame0, frame1, _, _, start = perturbed_truth("Venus", seed=7)
    ref = flowkit.variational_refinement(frame0, frame1, start, normalize=False)
    u16 = flowkit.variational_refinement(*(f.astype(np.uint16) * 257 for f in (frame0, frame1)),
                                         start, normalize=False)
    flt = flowkit.variational_refinement(*(f / 255.0 for f in (frame0, frame1)), start,
                                         normalize=False)
    np.testing.assert_allclose(u16, ref, atol=1e-3)
    np.testing.assert_allclose(flt, ref, atol=1e-3)


def test_batch_equals_pairs(small_pair):
    frame0, frame1, flow = small_pair
    frames0 = np.stack([frame0, frame1])
    frames1 = np.stack([frame1, frame0])
    flows = np.stack([flow, -flow])
    out = flowkit.variational_refinement(frames0, frames1, flows, iterations=2)
    assert out.shape == (2, 30, 36, 2)
    for i in range(2):
        np.testing.assert_array_equal(
            out[i], flowkit.variational_refinement(frames0[i], frames1[i], flows[i], iterations=2))


# -------------------------------------------------------------------------------- CUDA

def _refine_per_pixel(frame0, frame1, flow, iterations, sor_iterations, omega,
                      epsilon=variational.EPSILON):
    """refine_cpu written with the per-pixel helpers of the (H, W) layout, which the CUDA
    kernels run: one pass over every pixel per step, red pixels before black ones."""
    h, w = frame0.shape
    deriv = variational.derivatives_cpu(frame0, frame1, flow)
    alpha2, delta2, gamma2 = variational.half_weights(20.0, 5.0, 10.0)
    eps2 = variational.epsilon_squared(epsilon)
    dflow = np.zeros_like(flow)
    weights = np.zeros((h, w), np.float32)
    system = np.zeros((5, h, w), np.float32)
    pixels = [(y, x) for y in range(h) for x in range(w)]
    for _ in range(iterations):
        for y, x in pixels:
            weights[y, x] = variational.smoothness_weight_px(flow, dflow, y, x, alpha2, eps2)
        for y, x in pixels:
            variational.data_system_px(deriv, dflow, y, x, delta2, gamma2, eps2, system)
            variational.smoothness_system_px(flow, weights, y, x, system)
        for _ in range(sor_iterations):
            for colour in (0, 1):
                for y, x in pixels:
                    if (x + y) % 2 == colour:
                        variational.sor_px(system, weights, dflow, y, x, np.float32(omega))
    return flow + dflow


def _random_refinement_input(shape):
    h, w = shape
    rng = np.random.default_rng(h * 10 + w)
    f0 = rng.uniform(0, 255, shape).astype(np.float32)
    f1 = (f0 + rng.normal(0, 20, shape)).astype(np.float32)
    flow = rng.normal(0, 0.7, shape + (2,)).astype(np.float32)
    return f0, f1, flow


@pytest.mark.parametrize("shape, epsilon", [
    ((7, 10), 0.001), ((8, 9), 0.001), ((9, 9), 0.001), ((6, 6), 0.001), ((1, 5), 0.001),
    ((4, 1), 0.001), ((21, 14), 0.001), ((8, 9), 0.3), ((9, 9), 1e-5)])
def test_red_black_driver_equals_per_pixel_helpers(shape, epsilon, monkeypatch):
    # the CPU driver stores each colour contiguously (split_planes) and vectorises its rows;
    # the result must be the per-pixel helpers' (the CUDA path's) bit for bit, at every
    # parity of height and width, on one thread and with the row chunks of its passes
    # shared by two (parallel.run_shared), at chunk heights down to one row, with the
    # penaliser's epsilon a run-time argument of both
    f0, f1, flow = _random_refinement_input(shape)
    ref = _refine_per_pixel(f0, f1, flow, 2, 3, 1.6, epsilon)
    assert np.abs(ref - flow).max() > 0.01
    old = flowkit.get_num_threads()
    try:
        for serial, threads, rows in ((1 << 30, 1, 8), (0, 1, 1), (0, min(2, old), 1),
                                      (0, min(2, old), 2), (0, min(2, old), 3)):
            monkeypatch.setattr(variational, "SERIAL_PIXELS", serial)
            monkeypatch.setattr(variational, "CHUNK_ROWS", rows)
            flowkit.set_num_threads(threads)
            out = variational.refine_cpu(f0, f1, flow, 20.0, 5.0, 10.0, 2, 3, 1.6, epsilon)
            np.testing.assert_array_equal(out, ref)
    finally:
        flowkit.set_num_threads(old)


@pytest.mark.parametrize("shape", [(64, 48), (65, 47)])
def test_shared_passes_give_the_serial_flow_when_the_worker_never_comes(shape, monkeypatch):
    # the pool's workers busy with another call: the calling thread claims every chunk
    # alone (no deadlock) and gets the one-thread result; then both threads share them
    import threading

    from flowkit.kernels import parallel

    f0, f1, flow = _random_refinement_input(shape)
    monkeypatch.setattr(variational, "SERIAL_PIXELS", 0)
    monkeypatch.setattr(variational, "CHUNK_ROWS", 1)
    old = flowkit.get_num_threads()
    release = threading.Event()
    try:
        flowkit.set_num_threads(1)
        ref = variational.refine_cpu(f0, f1, flow, 20.0, 5.0, 10.0, 5, 5, 1.6)
        flowkit.set_num_threads(min(2, old))
        busy = [parallel._executor().submit(release.wait, 60)
                for _ in range(parallel._executor()._max_workers)]
        alone = variational.refine_cpu(f0, f1, flow, 20.0, 5.0, 10.0, 5, 5, 1.6)
        release.set()
        for future in busy:
            future.result()
        shared = variational.refine_cpu(f0, f1, flow, 20.0, 5.0, 10.0, 5, 5, 1.6)
    finally:
        release.set()
        flowkit.set_num_threads(old)
    assert np.abs(ref - flow).max() > 0.01
    np.testing.assert_array_equal(alone, ref)
    np.testing.assert_array_equal(shared, ref)


@pytest.mark.parametrize("shape", [(9, 13), (1, 6), (5, 1)])
def test_warp_rows_equal_warp_px(shape):
    # the driver's warp takes a branch-free loop where all four taps are inside and warp_px
    # elsewhere: the same value on every pixel, with flows past every edge and far away
    h, w = shape
    rng = np.random.default_rng(3)
    frame1 = rng.uniform(0, 255, shape).astype(np.float32)
    flow = rng.normal(0, 3, shape + (2,)).astype(np.float32)
    flow[0, 0] = (-0.0, 1e-8)
    flow[-1, -1] = (3e9, -2e12)  # beyond interp.FAR
    flow[h // 2, w // 2] = (-w - 0.5, 0.25)
    warped = np.empty(shape, np.float32)
    deriv = np.empty((8, 2, h + 2, (w + 1) // 2 + 2), np.float32)  # stage 1's output
    variational._derivative_rows(frame1, frame1, flow, warped, deriv, 0, 0, h)
    ref = np.array([[variational.warp_px(frame1, flow, y, x) for x in range(w)]
                    for y in range(h)], np.float32)
    np.testing.assert_array_equal(warped, ref)


def test_split_planes_round_trip():
    planes = np.arange(3 * 5 * 7, dtype=np.float32).reshape(3, 5, 7)
    split = variational.split_planes(planes)
    assert split.shape == (3, 2, 7, 6)
    assert split[1, 0, 1, 1] == planes[1, 0, 0] and split[1, 1, 1, 1] == planes[1, 0, 1]
    assert split[1, 1, 2, 1] == planes[1, 1, 0] and split[1, 0, 2, 1] == planes[1, 1, 1]
    assert split[:, :, 0].max() == 0 and split[:, :, -1].max() == 0 and split[..., 0].max() == 0
    np.testing.assert_array_equal(variational.merge_planes(split, 7), planes)


def test_cuda_matches_cpu_gray():
    frame0, frame1, _ = translated_pair(14, 17, 0.75, -0.5, seed=11)
    flow = np.random.default_rng(11).normal(0, 0.4, (14, 17, 2)).astype(np.float32)
    kw = {"iterations": 2, "sor_iterations": 3}
    cpu = flowkit.variational_refinement(frame0, frame1, flow, **kw)
    gpu = flowkit.variational_refinement(frame0, frame1, flow, device="cuda", **kw)
    assert isinstance(gpu, np.ndarray) and gpu.dtype == np.float32 and gpu.shape == cpu.shape
    assert np.abs(cpu - flow).mean() > 0.05
    assert np.abs(gpu - cpu).max() < 1e-5


def test_cuda_matches_cpu_with_another_epsilon():
    frame0, frame1, _ = translated_pair(11, 13, 0.5, -0.75, seed=12)
    flow = np.random.default_rng(12).normal(0, 0.4, (11, 13, 2)).astype(np.float32)
    kw = {"iterations": 2, "sor_iterations": 2, "epsilon": 0.2}
    cpu = flowkit.variational_refinement(frame0, frame1, flow, **kw)
    gpu = flowkit.variational_refinement(frame0, frame1, flow, device="cuda", **kw)
    assert np.abs(gpu - cpu).max() < 1e-5
    default = flowkit.variational_refinement(frame0, frame1, flow, iterations=2,
                                             sor_iterations=2)
    assert np.abs(cpu - default).max() > 0.01  # epsilon reached both kernels


def test_cuda_matches_cpu_colour_batch(small_pair):
    frame0, frame1, flow = (a[:10, :13] for a in small_pair)
    frames = (np.stack([frame0, frame1]) * 255).astype(np.uint8)
    kw = {"iterations": 2, "sor_iterations": 2, "normalize": False}
    args = (frames, frames[::-1], np.stack([flow, flow[::-1]]))
    cpu = flowkit.variational_refinement(*args, **kw)
    gpu = flowkit.variational_refinement(*args, device="cuda", **kw)
    assert gpu.shape == (2, 10, 13, 2)
    assert np.abs(gpu - cpu).max() < 1e-5


def test_refine_gray_on_device_arrays_matches_cpu():
    from numba import cuda

    frame0, frame1, _ = translated_pair(9, 12, 0.5, 0.25, seed=13)
    f0, f1 = (np.ascontiguousarray(f * 255, np.float32) for f in (frame0, frame1))
    flow = np.zeros((9, 12, 2), np.float32)
    args = (10.0, 5.0, 10.0, 2, 2, 1.5, 0.05)
    cpu = _variational.refine_gray(f0, f1, flow, *args)
    gpu = _variational.refine_gray(cuda.to_device(f0), cuda.to_device(f1), cuda.to_device(flow), *args)
    np.testing.assert_allclose(gpu.copy_to_host(), cpu, atol=1e-5)


# --------------------------------------------------------------------------- bad input

Z8 = np.zeros((8, 8))
F8 = np.zeros((8, 8, 2), np.float32)


@pytest.mark.parametrize("args, kw, error, match", [
    ((np.zeros(8), np.zeros(8), F8), {}, ValueError, "frame0: expected 2-D or 3-D or 4-D"),
    ((Z8, np.zeros((8, 9)), F8), {}, ValueError, "frame1: expected the same shape"),
    ((np.zeros((8, 8), bool), np.zeros((8, 8), bool), F8), {}, TypeError, "frame0: expected dtype"),
    ((np.zeros((8, 8, 2)),) * 2 + (F8,), {}, ValueError, "frame0: expected 1, 3 or 4 channels"),
    ((np.full((8, 8), np.nan), Z8, F8), {}, ValueError, "frame0: expected finite values"),
    ((Z8, Z8, np.zeros((8, 9, 2))), {}, ValueError, r"flow: expected shape \(8, 8, 2\)"),
    ((Z8, Z8, np.zeros((8, 8, 3))), {}, ValueError, r"flow: expected shape \(H, W, 2\)"),
    ((Z8, Z8, np.zeros((8, 8, 2), np.int32)), {}, TypeError, "flow: expected a float dtype"),
    ((Z8, Z8, None), {}, TypeError, "flow: expected an array, got None"),
    ((Z8, Z8, np.full((8, 8, 2), np.inf)), {}, ValueError, r"flow: expected known vectors \(finite, "
     r"\|component\| < 1e9\), got unknown ones"),
    ((Z8, Z8, np.full((8, 8, 2), 1.7e9, np.float32)), {}, ValueError, "flow: expected known vectors"),
    ((np.zeros((3, 8, 8)),) * 2 + (F8,), {}, ValueError, r"flow: expected shape \(3, 8, 8, 2\)"),
    ((Z8, Z8, [[0.0]]), {}, ValueError, "flow: expected shape"),
    ((Z8, Z8, F8), {"alpha": -1.0}, ValueError, r"alpha: expected a number in \[0.0, 1e\+30\]"),
    # float32 arithmetic: a weight of 1e38 returned a NaN flow
    ((Z8, Z8, F8), {"gamma": 1e38}, ValueError, r"gamma: expected a number in \[0.0, 1e\+30\], "
                                                r"got 1e\+38"),
    ((Z8, Z8, F8), {"delta": "5"}, TypeError, "delta: expected a real number"),
    ((Z8, Z8, F8), {"gamma": float("nan")}, ValueError, "gamma: expected a finite number"),
    ((Z8, Z8, F8), {"iterations": -1}, ValueError, "iterations: expected an integer >= 0"),
    ((Z8, Z8, F8), {"iterations": 2.0}, TypeError, "iterations: expected an integer"),
    ((Z8, Z8, F8), {"sor_iterations": -2}, ValueError, "sor_iterations: expected an integer >= 0"),
    # the CPU kernel's 64-bit count of passes wrapped: 2**62 iterations returned the flow
    # unrefined at once, (1, 2**62) a flow of 80 px refined from zero, (2**31 - 1) each (what
    # OpenCV takes) the flow unrefined
    ((Z8, Z8, F8), {"iterations": 2**62}, ValueError,
     r"iterations, sor_iterations: expected iterations \* \(sor_iterations \+ 1\) <= 2\*\*40 "
     r"\(1099511627776\), got 4611686018427387904 \* 6"),
    ((Z8, Z8, F8), {"iterations": 1, "sor_iterations": 2**62}, ValueError,
     r"iterations, sor_iterations: expected .* got 1 \* 4611686018427387905"),
    ((Z8, Z8, F8), {"iterations": 2**31 - 1, "sor_iterations": 2**31 - 1}, ValueError,
     r"iterations, sor_iterations: expected"),
    ((Z8, Z8, F8), {"omega": 2.0}, ValueError, r"omega: expected a number in \(0.0, 2.0\)"),
    ((Z8, Z8, F8), {"omega": 0}, ValueError, r"omega: expected a number in \(0.0, 2.0\)"),
    ((Z8, Z8, F8), {"normalize": 1}, TypeError, "normalize: expected a bool"),
    ((Z8, Z8, F8), {"epsilon": 0}, ValueError, r"epsilon: expected a number in \[1e-18, 1e\+18\], "
                                               r"got 0.0"),
    ((Z8, Z8, F8), {"epsilon": -0.01}, ValueError, r"epsilon: expected a number in \[1e-18"),
    # float32: epsilon**2 underflowed to 0 and a flat flow gave 0 / 0
    ((Z8, Z8, F8), {"epsilon": 1e-30}, ValueError, r"epsilon: expected a number in \[1e-18"),
    ((Z8, Z8, F8), {"epsilon": 1e40}, ValueError, r"epsilon: expected a number in \[1e-18, "
                                                  r"1e\+18\], got 1e\+40"),
    ((Z8, Z8, F8), {"epsilon": float("nan")}, ValueError, "epsilon: expected a finite number"),
    ((Z8, Z8, F8), {"epsilon": float("inf")}, ValueError, "epsilon: expected a finite number"),
    ((Z8, Z8, F8), {"epsilon": "0.01"}, TypeError, "epsilon: expected a real number"),
    ((Z8, Z8, F8), {"epsilon": None}, TypeError, "epsilon: expected a real number"),
    # alpha / 2 / epsilon past float32's range gave a NaN flow
    ((Z8, Z8, F8), {"epsilon": 1e-10, "gamma": 1e28}, ValueError,
     r"epsilon: expected at least gamma / 1e\+33 = 1e-05 \(the float32 robust weights gamma / 2 "
     r"/ epsilon must stay finite\), got 1e-10"),
    ((Z8, Z8, F8), {"device": "tpu"}, ValueError, "device: expected one of"),
])
def test_bad_input_raises(args, kw, error, match):
    with pytest.raises(error, match=match):
        flowkit.variational_refinement(*args, **kw)


def test_epsilon_range_is_what_float32_holds():
    # the ends of the accepted range give finite flows with the largest weights they allow
    frame0, frame1, _ = translated_pair(12, 14, 0.5, 0.5, seed=14)
    flow = np.zeros((12, 14, 2))
    for epsilon, weight in ((1e-18, 1e-3), (1e-6, 1e27), (1e18, 1e30)):
        out = flowkit.variational_refinement(frame0, frame1, flow, epsilon=epsilon,
                                             alpha=weight, delta=weight, gamma=weight)
        assert np.isfinite(out).all(), (epsilon, weight)
    with pytest.raises(ValueError, match=r"epsilon: expected at least alpha / 1e\+33"):
        flowkit.variational_refinement(frame0, frame1, flow, epsilon=1e-6, alpha=1e28)


def test_energy_bad_reference_raises():
    with pytest.raises(ValueError, match=r"reference: expected shape \(8, 8, 2\)"):
        _variational.variational_energy(Z8, Z8, F8, reference=np.zeros((8, 9, 2)))


def test_energy_bad_epsilon_raises():
    with pytest.raises(ValueError, match=r"epsilon: expected a number in \[1e-18, 1e\+18\]"):
        _variational.variational_energy(Z8, Z8, F8, epsilon=0.0)
