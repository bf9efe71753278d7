"""flowkit.interpolate and interpolate_video: analytic pairs with exact middle frames, the
occlusion masks on a moving square, layouts, dtypes, and bad input."""

import itertools
import re

import numpy as np
import pytest

import flowkit
from flowkit import _interpolate
from test_cli import pair  # noqa: F401 - the fixture: two PNG files of the sample pair
from test_predict import interior, texture

from cases import fresh_python_peak, one_buffer

H, W = 64, 80
U, V = 3.3, -1.7  # sub-pixel translation between frame0 and frame1


def translating_pair():
    """frame0, frame1 = the texture moved by (U, V), and the exact middle frame."""
    return texture(), texture(U, V), texture(U / 2, V / 2)


def square_scene(shift, d=8):
    """A textured dark square 20 px wide at x = 16 + shift over the static texture; the
    square's mask."""
    image = texture()
    y, x = np.mgrid[0:H, 0:W]
    square = (y >= 22) & (y < 42) & (x >= 16 + shift) & (x < 36 + shift)
    pattern = 0.1 + 0.08 * np.sin(2 * np.pi * (x - shift) / 7.0) * np.cos(2 * np.pi * y / 5.0)
    image[square] = pattern[square]
    return image.astype(np.float32), square


def square_flows(d=8):
    """The exact flows of the square scene: +d px in x on the square of frame0, -d on the
    square of frame1, 0 elsewhere."""
    _, sq0 = square_scene(0)
    _, sq1 = square_scene(d)
    flow01 = np.zeros((H, W, 2), np.float32)
    flow10 = np.zeros((H, W, 2), np.float32)
    flow01[sq0, 0] = d
    flow10[sq1, 0] = -d
    return flow01, flow10


def counting_estimator():
    calls = []

    def estimate(frame0, frame1):
        calls.append(1)
        return flowkit.farneback(frame0, frame1)

    estimate.calls = calls
    return estimate


@pytest.mark.parametrize("method", ["project", "splat", "backward"])
def test_translation_middle_frame(method):
    """Within 0.03 in the interior: the bilinear interpolation error of this texture at a
    half-pixel (0.0195 measured with the exact flows, the curvature of the texture times 1/8)
    plus Farneback's error; the cross-fade is off by 0.077."""
    frame0, frame1, middle = translating_pair()
    out = flowkit.interpolate(frame0, frame1, method=method)
    assert out.shape == (H, W) and out.dtype == np.float32
    error = np.abs(interior(out - middle)).max()
    assert error < 0.03
    blend = np.abs(interior(flowkit.interpolate(frame0, frame1, method="blend") - middle)).max()
    assert blend > 0.07
    assert error < 0.4 * blend


@pytest.mark.parametrize("method", ["project", "splat", "backward"])
def test_translation_with_exact_flows(method):
    """With the exact flows: only the sampler's interpolation error (< 0.02; measured 0.0042
    with the default bicubic sampling, 0.0134 bilinear), no occluded pixel in the interior."""
    frame0, frame1, middle = translating_pair()
    flow = np.zeros((H, W, 2), np.float32)
    flow[..., 0], flow[..., 1] = U, V
    out, aux = flowkit.interpolate(frame0, frame1, flow01=flow, flow10=-flow, method=method,
                                   return_aux=True)
    assert np.abs(interior(out - middle)).max() < 0.02
    assert not interior(aux["occlusion0"]).any() and not interior(aux["occlusion1"]).any()
    assert aux["flow01"].shape == (H, W, 2) and aux["occlusion0"].dtype == np.bool_
    # at t = 0.5 of a uniform motion: -F/2 and +F/2, by Super SloMo's eq. 4 ("backward") and
    # by the projection (a constant flow splatted along itself: every target gets it back)
    np.testing.assert_allclose(aux["flow_t0"], -0.5 * flow, atol=1e-6)
    np.testing.assert_allclose(aux["flow_t1"], 0.5 * flow, atol=1e-6)


@pytest.mark.parametrize("method, limit, offset", [
    ("project", 0.02, 0.001), ("backward", 0.02, 0.001), ("splat", 0.04, 0.008)])
def test_a_fade_between_the_frames_is_blended_linearly(method, limit, offset):
    """Documented (docs/api.md, interpolate): the frames' samples are mixed linearly, so across
    a fade (frame1 at 0.4 of frame0's contrast, lifted by 0.1) the frame at t has the fade's
    value at t, with the exact flows: "project" and "backward" within the sampler's error as
    without the fade (measured max 0.015, mean offset 5e-4); "splat"'s brightness-constancy
    metric favours the darker of overlapping splats (measured max 0.037, mean -0.007)."""
    frame0, frame1, _ = translating_pair()
    frame1 = 0.4 * frame1 + np.float32(0.1)
    flow = np.zeros((H, W, 2), np.float32)
    flow[..., 0], flow[..., 1] = U, V
    for t in (0.25, 0.5):
        out = flowkit.interpolate(frame0, frame1, t, flow01=flow, flow10=-flow, method=method)
        error = interior(out - ((1 - 0.6 * t) * texture(t * U, t * V) + 0.1 * t))
        assert np.abs(error).max() < limit and abs(error.mean()) < offset


@pytest.mark.parametrize("method", ["project", "backward"])
def test_a_sample_outside_the_image_gives_way_to_the_other_frame(method):
    """A pan with the exact flows: at t = 0.5 the 4 columns next to each side are in view in
    one frame only; the other frame's sample lies outside the image and reads the replicated
    border, so it is hidden as an occluded one (0.1 of its weight). It kept its whole weight:
    0.22 off at the border (the texture moved by 7 px; "splat", which forwards only what is in
    view, 0.047); now 0.045 (0.037 "backward"), the sampling error in the interior 0.013."""
    frame0, frame1, middle = texture(), texture(7.0, 0.0), texture(3.5, 0.0)
    flow = np.zeros((H, W, 2), np.float32)
    flow[..., 0] = 7.0
    out = flowkit.interpolate(frame0, frame1, flow01=flow, flow10=-flow, method=method)
    assert np.abs(out - middle).max() < 0.06
    # the occlusion masks stay the forward-backward test's: a constant flow passes it
    _, aux = flowkit.interpolate(frame0, frame1, flow01=flow, flow10=-flow, method=method,
                                 return_aux=True)
    assert not aux["occlusion0"].any() and not aux["occlusion1"].any()


@pytest.mark.parametrize("method", ["project", "splat"])
def test_aux_flows_at_t_are_the_projection(method):
    """return_aux's flows at t of the splatting methods: flow01 carried to time t (softmax
    splatting along t * flow01 with the splat's metric) times -t, and -flow10 carried along
    (1 - t) * flow10 times 1 - t, for every t (0 and 1 included) and for a batch. On the
    moving square at t = 0.5 (exact flows, 8 px right): -4 px where the square is at t (from
    x = 20 on; it outweighs the background it covers, which frame1 hides), 0 elsewhere."""
    frame0, _ = square_scene(0)
    frame1, _ = square_scene(8)
    flow01, flow10 = square_flows()
    times = [0.0, 0.25, 0.5, 1.0]
    _, aux = flowkit.interpolate(frame0, frame1, times, flow01=flow01, flow10=flow10,
                                 method=method, return_aux=True)
    assert aux["flow_t0"].shape == aux["flow_t1"].shape == (4, H, W, 2)
    state = _interpolate._prepare(frame0, frame1, flow01, flow10, True, method)
    for k, t in enumerate(times):
        p0, p1 = _interpolate._projected_flows(t, state, None)
        np.testing.assert_array_equal(aux["flow_t0"][k], -np.float32(t) * p0)
        np.testing.assert_array_equal(aux["flow_t1"][k], (1 - np.float32(t)) * p1)
    expected = np.zeros((H, W), np.float32)
    expected[22:42, 20:40] = -4.0
    # softmax, not a hard choice: on the covered strip x = 36..39 the background frame1
    # hides keeps a weight of about e^-5 (measured: -3.978 at worst)
    np.testing.assert_allclose(aux["flow_t0"][2][..., 0], expected, atol=0.03)
    np.testing.assert_allclose(aux["flow_t1"][2][..., 0], -expected, atol=0.03)
    assert not aux["flow_t0"][2][..., 1].any()
    _, batch_aux = flowkit.interpolate(np.stack([frame0, frame1]), np.stack([frame1, frame0]),
                                       times, flow01=np.stack([flow01, flow10]),
                                       flow10=np.stack([flow10, flow01]), method=method,
                                       return_aux=True)
    assert batch_aux["flow_t1"].shape == (2, 4, H, W, 2)
    np.testing.assert_array_equal(batch_aux["flow_t0"][0], aux["flow_t0"])


def test_several_times_keep_no_earlier_time_in_memory():
    """Four times of one call (retime's and the command's chunks): a time's float32 result,
    its projected flows and flows at t that nobody asked for are dropped before the next time
    is made. Python-level peak (tracemalloc; NumPy's buffers are traced) on 512x512 RGB uint8
    with given flows, in float32 RGB frames: 13.6 measured (one thread); 19.9 when each time
    kept them."""
    peak = fresh_python_peak("""
        import numpy as np
        import flowkit

        rng = np.random.default_rng(0)
        frame0 = rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)
        frame1 = np.roll(frame0, 3, axis=1)
        flow01 = np.zeros((512, 512, 2), np.float32)
        flow01[..., 0] = 3
        times = [0.2, 0.4, 0.6, 0.8]
        flowkit.interpolate(frame0, frame1, times, flow01=flow01,
                            flow10=-flow01)  # compiled and loaded before measuring
        """, "flowkit.interpolate(frame0, frame1, times, flow01=flow01, flow10=-flow01)")
    assert peak / (512 * 512 * 3 * 4) < 15


def test_aux_flows_at_t_unknown_and_blend():
    """Flows unknown everywhere: flows at t NaN (the cross-fade's result); the cross-fade
    itself moves nothing: None."""
    frame0, frame1, _ = translating_pair()
    nan = np.full((H, W, 2), np.nan, np.float32)
    _, aux = flowkit.interpolate(frame0, frame1, flow01=nan, flow10=nan, return_aux=True)
    assert np.isnan(aux["flow_t0"]).all() and np.isnan(aux["flow_t1"]).all()
    _, aux = flowkit.interpolate(frame0, frame1, method="blend", return_aux=True)
    assert aux["flow_t0"] is None and aux["flow_t1"] is None


@pytest.mark.parametrize("method", ["project", "backward"])
def test_bicubic_sampling_keeps_the_texture_bilinear_blurs(method):
    """With the exact flows the error is the sampler's alone: bilinear sampling at fractional
    positions averages neighbours (max 0.0134 in the interior), Keys' bicubic sampling, the
    default, is about 3x closer (0.0042 for both methods, measured): the samples
    agree, so project adds the bicubic detail almost whole."""
    frame0, frame1, middle = translating_pair()
    flow = np.zeros((H, W, 2), np.float32)
    flow[..., 0], flow[..., 1] = U, V
    errors = {}
    for interpolation in ("linear", "cubic", None):
        out = flowkit.interpolate(frame0, frame1, flow01=flow, flow10=-flow, method=method,
                                  interpolation=interpolation)
        errors[interpolation] = np.abs(interior(out - middle)).max()
    assert errors[None] == errors["cubic"]
    assert 0.01 < errors["linear"] < 0.02
    assert errors["cubic"] < 0.35 * errors["linear"]


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
@pytest.mark.parametrize("method, interpolation", [
    ("project", None), ("project", "linear"), ("splat", None), ("backward", None)])
def test_rgba_is_weighed_by_its_rgb_and_carries_alpha(dtype, method, interpolation):
    """An RGBA pair: the RGB channels are the RGB pair's result whatever the alpha, since the
    splat metrics, the agreement weights and their unit come from the RGB channels (to float32
    rounding: 4-channel rows take bilinear's general loop, 3-channel ones the RGB loop, which
    adds the four taps in another order; 3e-7 in float32, measured, and so at most a rounding
    flip in uint8); alpha is carried along the same flows and weights (an opaque alpha stays
    opaque)."""
    frame0, frame1, _ = (np.rint(255 * np.clip(f, 0, 1)).astype(np.uint8)
                         for f in translating_pair())
    frame0, frame1 = (np.stack([f, 255 - f, f // 2], axis=-1) for f in (frame0, frame1))
    rng = np.random.default_rng(4)
    alpha0 = rng.integers(0, 256, frame0.shape[:2] + (1,), np.uint8)
    alpha1 = np.roll(alpha0, 3, axis=1)
    opaque = np.full_like(alpha0, 255)
    pairs = [(np.concatenate([frame0, a0], -1), np.concatenate([frame1, a1], -1))
             for a0, a1 in ((alpha0, alpha1), (opaque, opaque))]
    if dtype == np.float32:
        frame0, frame1 = frame0.astype(np.float32) / 255, frame1.astype(np.float32) / 255
        pairs = [(a.astype(np.float32) / 255, b.astype(np.float32) / 255) for a, b in pairs]
    options = dict(method=method, interpolation=interpolation)
    rgb = flowkit.interpolate(frame0, frame1, [0.3, 0.5], **options)
    for rgba0, rgba1 in pairs:
        out = flowkit.interpolate(rgba0, rgba1, [0.3, 0.5], **options)
        assert out.shape == (2,) + rgba0.shape and out.dtype == dtype
        np.testing.assert_allclose(out[..., :3], rgb, rtol=0, atol=1 if dtype == np.uint8 else 1e-6)
    np.testing.assert_allclose(out[..., 3], 255 if dtype == np.uint8 else 1, rtol=0, atol=1e-6)


@pytest.mark.parametrize("method", ["project", "backward"])
def test_bicubic_result_stays_within_each_channels_range(method):
    """Bicubic samples overshoot next to a sharp edge (Keys' kernel has negative lobes): the
    result is clipped to each channel's range over the pair, as bilinear results are by
    construction; a float pair in [0, 1] stays in [0, 1], a channel in [0.2, 0.6] in it."""
    y, x = np.mgrid[0:H, 0:W]
    edge = (x > 40 + 0.3 * y).astype(np.float32)
    frames = [np.stack([np.roll(edge, d, axis=1), 0.2 + 0.4 * np.roll(edge, d, axis=1)], -1)
              for d in (0, 3)]
    flow = np.zeros((H, W, 2), np.float32)
    flow[..., 0] = 3
    cubic = flowkit.interpolate(*frames, [0.3, 0.5], flow01=flow, flow10=-flow, method=method)
    assert cubic[..., 0].min() >= 0 and cubic[..., 0].max() <= 1
    assert cubic[..., 1].min() >= np.float32(0.2) and cubic[..., 1].max() <= np.float32(0.6)
    # the clip does bite: without it the bicubic detail leaves the range by more than 1 %
    from flowkit._warp import warp
    raw = warp(frames[0][..., 0], -0.5 * flow, interpolation="cubic")
    assert raw.max() > 1.01 or raw.min() < -0.01


def test_clip_to_channel_bounds_equals_numpys_broadcast_clip():
    # _within clips a frame as rows against bounds repeated along them: NumPy's broadcast of
    # a (C,) array is the reference, NaN included; gray frames and views take the plain clip
    from flowkit._interpolate import _within

    rng = np.random.default_rng(5)
    for shape in ((7, 9, 3), (7, 9, 4), (7, 9)):
        values = (rng.random(shape) * 1.4 - 0.2).astype(np.float32)
        values.flat[::11] = np.nan
        low = (rng.random(shape[2:]) * 0.3).astype(np.float32)
        high = (0.7 + rng.random(shape[2:]) * 0.3).astype(np.float32)
        want = np.clip(values, low, high)
        np.testing.assert_array_equal(_within(values.copy(), (low, high)), want)
        view = values[:, ::2]
        np.testing.assert_array_equal(_within(view, (low, high)), np.clip(values[:, ::2], low, high))


def test_non_finite_frames_are_named_with_given_flows():
    """With given flows no estimator checks the frames: project, splat and learned (whose
    brightness metrics need finite frames) say which frame holds NaN, as the estimators do,
    instead of an error about an internal metric."""
    frame0, frame1, _ = translating_pair()
    frame1 = frame1.copy()
    frame1[5, 5] = np.inf
    flow = np.zeros((H, W, 2), np.float32)
    for method in ("project", "splat"):
        with pytest.raises(ValueError, match="^frame1: expected finite values, got NaN or infinity$"):
            flowkit.interpolate(frame0, frame1, 0.5, flow01=flow, flow10=flow, method=method)
    with pytest.raises(ValueError, match="^frame1: expected finite values, got infinite values$"):
        flowkit.interpolate(frame0, frame1, 0.5)  # the estimator's own check


def test_range_clip_ignores_nan_pixels():
    """The range each channel is clipped to ignores NaN pixels of float frames: one NaN
    pixel stays one NaN pixel with method="backward" (NaN bounds would make every pixel NaN)."""
    frame0, frame1, _ = translating_pair()
    frame0 = frame0.copy()
    frame0[5, 5] = np.nan
    flow = np.zeros((H, W, 2), np.float32)
    out = flowkit.interpolate(frame0, frame1, 0.5, flow01=flow, flow10=flow, method="backward")
    assert np.isnan(out).sum() == 1
    assert np.nanmax(out) <= max(frame0[~np.isnan(frame0)].max(), frame1.max())


def test_interpolation_is_checked_against_the_method():
    frame0, frame1, _ = translating_pair()
    with pytest.raises(ValueError, match=r"interpolation: expected one of 'cubic', 'linear', got 'nearest'"):
        flowkit.interpolate(frame0, frame1, interpolation="nearest")
    for method in ("splat", "blend"):
        with pytest.raises(ValueError, match=rf"interpolation: expected None with method='{method}'"):
            flowkit.interpolate(frame0, frame1, method=method, interpolation="linear")
    with pytest.raises(ValueError, match="interpolation: expected None with method='splat'"):
        flowkit.retime("missing.mp4", "out.mp4", method="splat", interpolation="cubic")
    with pytest.raises(ValueError, match="interpolation: expected None with method='blend'"):
        flowkit.interpolate_video([frame0, frame1], method="blend", interpolation="cubic")
    video = list(flowkit.interpolate_video([frame0, frame1], interpolation="linear"))
    np.testing.assert_array_equal(video[1], flowkit.interpolate(frame0, frame1, 0.5,
                                                                interpolation="linear"))


def test_occlusion_masks_of_a_moving_square_are_exact():
    """Exact flows: the background that the square covers in frame1 is occluded in frame0's
    view (occlusion0), the background it uncovers is occluded in frame1's (occlusion1)."""
    frame0, sq0 = square_scene(0)
    frame1, sq1 = square_scene(8)
    flow01, flow10 = square_flows()
    _, aux = flowkit.interpolate(frame0, frame1, flow01=flow01, flow10=flow10, return_aux=True)
    np.testing.assert_array_equal(aux["occlusion0"], sq1 & ~sq0)
    np.testing.assert_array_equal(aux["occlusion1"], sq0 & ~sq1)


def trail_errors(method):
    """Mean absolute error on the square's swept region (square in frame0 or frame1) at t = 0.5
    with the exact flows, with and without occlusion masks: {True: ..., False: ...}."""
    frame0, sq0 = square_scene(0)
    frame1, sq1 = square_scene(8)
    truth, _ = square_scene(4)
    flow01, flow10 = square_flows()
    trail = sq0 | sq1
    return {occlusion: np.abs(flowkit.interpolate(frame0, frame1, flow01=flow01, flow10=flow10,
                                                  method=method, occlusion=occlusion)
                              - truth)[trail].mean()
            for occlusion in (True, False)}


def test_occlusion_beats_no_occlusion_on_the_squares_trail():
    """On the swept region (square in frame0 or frame1), splat with occlusion reproduces the
    true middle frame up to what the occluded sources keep (their metric is 5 lower, a weight
    of e**-5 ~ 0.007 against a visible source: mean error 3.8e-5 measured, < 1e-4 asserted;
    exact flows, integer motion); without it the covered background leaks into the square
    through the softmax weights exp(-5 |error|) (mean error 0.0045 measured, > 5e-4
    asserted)."""
    errors = trail_errors("splat")
    assert errors[True] < 1e-4
    assert errors[False] > 5e-4
    assert errors[True] < 0.1 * errors[False]


def test_project_occlusion_on_the_squares_trail():
    """method="project" with exact flows: the masks cut the trail's mean error from 0.053 to
    0.016 (measured). Not to splat's 4e-5: a hidden sample keeps 0.1 of its weight, and Super
    SloMo's hypothesis is wrong at the square's edges. Without that hypothesis and with a
    floor of 0 the projections alone are exact to 3e-5 (the projected flows are right
    everywhere: each takes the other's value where nothing of it lands)."""
    from flowkit import _interpolate

    errors = trail_errors("project")
    assert errors[True] < 0.025 and errors[False] > 0.04
    assert errors[True] < 0.5 * errors[False]
    # the projected flows at t = 0.5: 8 px on the square's place at t (x in [20, 40)), 0 on
    # the background, including the strips that only one frame sees; within 0.1 px where
    # the background hidden in the other frame lands too (its softmax weight is e**-5 of the
    # square's: 7.95-7.99 measured)
    frame0, frame1 = square_scene(0)[0], square_scene(8)[0]
    flow01, flow10 = square_flows()
    state = _interpolate._prepare(frame0, frame1, flow01, flow10, True, "project")
    for g in _interpolate._projected_flows(0.5, state, None):
        y, x = np.mgrid[0:H, 0:W]
        at_t = (y >= 22) & (y < 42) & (x >= 20) & (x < 40)
        np.testing.assert_allclose(g[at_t, 0], 8, atol=0.1)
        away = ~at_t & ~np.roll(at_t, 1, axis=1) & ~np.roll(at_t, -1, axis=1)
        np.testing.assert_allclose(g[away], 0, atol=0.1)


def test_project_treats_unknown_flow():
    """NaN flow: no flow known anywhere gives the cross-fade; a patch of unknown flow is
    filled from the other direction and its surroundings (finite, not black)."""
    frame0, frame1, _ = translating_pair()
    _, aux = flowkit.interpolate(frame0, frame1, return_aux=True)
    unknown = np.full_like(aux["flow01"], np.nan)
    out = flowkit.interpolate(frame0, frame1, flow01=unknown, flow10=unknown)
    np.testing.assert_allclose(out, 0.5 * frame0 + 0.5 * frame1, atol=1e-6)
    patched = aux["flow01"].copy()
    patched[10:20, 10:20] = np.nan
    out = flowkit.interpolate(frame0, frame1, flow01=patched, flow10=aux["flow10"])
    reference = flowkit.interpolate(frame0, frame1, flow01=aux["flow01"], flow10=aux["flow10"])
    assert np.isfinite(out).all()
    assert np.abs(out - reference)[10:20, 10:20].max() < 0.05


def test_splat_treats_unknown_flow():
    """NaN flow, as for project: unknown everywhere gives the cross-fade; a patch of unknown
    flow01 (or all of flow10) is filled from the other direction and its surroundings: 0.0014
    from the result with the whole flows in the patch (0.077 when unknown pixels were not
    splatted), 0.017 with flow10 unknown (0.21)."""
    frame0, frame1, _ = translating_pair()
    _, aux = flowkit.interpolate(frame0, frame1, return_aux=True)
    unknown = np.full_like(aux["flow01"], np.nan)
    out = flowkit.interpolate(frame0, frame1, flow01=unknown, flow10=unknown, method="splat")
    np.testing.assert_allclose(out, 0.5 * frame0 + 0.5 * frame1, atol=1e-6)
    reference = flowkit.interpolate(frame0, frame1, flow01=aux["flow01"], flow10=aux["flow10"],
                                    method="splat")
    patched = aux["flow01"].copy()
    patched[10:20, 10:20] = np.nan
    out = flowkit.interpolate(frame0, frame1, flow01=patched, flow10=aux["flow10"], method="splat")
    assert np.isfinite(out).all()
    assert np.abs(out - reference).max() < 0.005
    out = flowkit.interpolate(frame0, frame1, flow01=aux["flow01"], flow10=unknown, method="splat")
    assert np.abs(out - reference).max() < 0.05


@pytest.mark.parametrize("method", ["project", "splat", "backward"])
@pytest.mark.parametrize("unknown", ["patch in flow01", "patches in both", "all of flow01"])
def test_continuous_at_the_end_times_with_unknown_flow(method, unknown):
    """NaN in the given flows: t = 0 and 1 return the inputs, and t -> 0 (1) must tend to
    them. At t = 1e-3 within 2e-3 of frame0 (frame1) everywhere: twice what the finite flows
    give on this pair (1.0e-3, a slope of about 1 per unit of t: the pixels move by t * flow
    and frame1's share is t); splat was 0.115 off at the patch at any t > 0 before unknown
    vectors were filled (0.49 with flow01 unknown everywhere), 1e-9 within 1e-4 as above."""
    frame0, frame1, _ = translating_pair()
    _, aux = flowkit.interpolate(frame0, frame1, return_aux=True)
    flow01, flow10 = aux["flow01"].copy(), aux["flow10"].copy()
    if unknown == "all of flow01":
        flow01[:] = np.nan
    else:
        flow01[10:20, 10:20] = np.nan
        if unknown == "patches in both":
            flow10[40:50, 30:40, 1] = np.nan
    flows = {"flow01": flow01, "flow10": flow10, "method": method}
    for t, tolerance in ((1e-9, 1e-4), (1e-3, 2e-3)):
        assert np.abs(flowkit.interpolate(frame0, frame1, t, **flows) - frame0).max() < tolerance
        assert np.abs(flowkit.interpolate(frame0, frame1, 1 - t, **flows) - frame1).max() < tolerance


@pytest.mark.parametrize("method", ["project", "splat", "backward", "blend"])
def test_end_times_are_the_inputs(method):
    frame0, frame1, _ = translating_pair()
    out = flowkit.interpolate(frame0, frame1, [0.0, 1.0], method=method)
    np.testing.assert_array_equal(out[0], frame0)
    np.testing.assert_array_equal(out[1], frame1)
    single = flowkit.interpolate(frame0, frame1, 0, method=method)
    np.testing.assert_array_equal(single, frame0)
    assert single is not frame0 and not np.shares_memory(single, frame0)
    calls = []
    flowkit.interpolate(frame0, frame1, [0.0, 1.0], method=method,
                        flow=lambda a, b: calls.append(1) or np.zeros(a.shape[:2] + (2,), np.float32))
    assert calls == []  # the inputs themselves: no flow is estimated


@pytest.mark.parametrize("method", ["project", "splat", "backward", "blend"])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_constant_pair_stays_constant(method, dtype):
    """Flat frames have exactly zero flow; uint8 exact, float32 within 1e-6 (float32 sums)."""
    frame = np.full((H, W, 3), 0.4 if dtype == np.float32 else 102, dtype)
    out = flowkit.interpolate(frame, frame.copy(), [0.3, 0.5], method=method)
    assert out.dtype == dtype and out.shape == (2, H, W, 3)
    np.testing.assert_allclose(out.astype(np.float64), np.broadcast_to(frame, out.shape), atol=1e-6)


def test_float64_frames_give_float64_within_float32_precision():
    # documented: float64 frames are computed in float32 (the cross-fade against its float64
    # formula: 8e-8 measured)
    rng = np.random.default_rng(5)
    frame0, frame1 = rng.random((2, H, W, 3))
    out = flowkit.interpolate(frame0, frame1, 0.3, method="blend")
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, 0.7 * frame0 + 0.3 * frame1, rtol=0, atol=2e-7)
    assert np.abs(out - (0.7 * frame0 + 0.3 * frame1)).max() > 1e-12  # not float64 throughout


def test_several_times_equal_single_calls_and_flows_once():
    frame0, frame1, _ = translating_pair()
    estimate = counting_estimator()
    times = [0.25, 0.5, 0.75]
    out = flowkit.interpolate(frame0, frame1, times, flow=estimate)
    assert out.shape == (3, H, W)
    assert len(estimate.calls) == 2  # flow01 and flow10, once for all times
    for k, t in enumerate(times):
        np.testing.assert_array_equal(out[k], flowkit.interpolate(frame0, frame1, t, flow=estimate))
    out_b, aux = flowkit.interpolate(frame0, frame1, np.array(times), method="backward",
                                     return_aux=True)
    assert aux["flow_t0"].shape == (3, H, W, 2)
    np.testing.assert_array_equal(out_b[1], flowkit.interpolate(frame0, frame1, method="backward"))


@pytest.mark.parametrize("method", ["project", "splat", "backward"])
def test_batch_equals_per_pair(method):
    frame0, frame1, _ = translating_pair()
    rgb0 = np.stack([frame0, frame1[::-1], np.roll(frame0, 5, axis=0)], -1)
    rgb1 = np.stack([frame1, frame0[::-1], np.roll(frame1, 5, axis=0)], -1)
    batch0, batch1 = np.stack([rgb0, rgb1]), np.stack([rgb1, rgb0])
    out, aux = flowkit.interpolate(batch0, batch1, [0.5, 0.75], method=method, return_aux=True)
    assert out.shape == (2, 2, H, W, 3)
    assert aux["flow01"].shape == (2, H, W, 2) and aux["occlusion1"].shape == (2, H, W)
    for n in range(2):
        np.testing.assert_array_equal(out[n], flowkit.interpolate(batch0[n], batch1[n], [0.5, 0.75],
                                                                  method=method))
    # a 3-D gray batch (last axis > 4) is N pairs of (H, W) frames
    gray = flowkit.interpolate(np.stack([frame0, frame1]), np.stack([frame1, frame0]), method=method)
    np.testing.assert_array_equal(gray[1], flowkit.interpolate(frame1, frame0, method=method))


@pytest.mark.parametrize("method", ["project", "splat", "backward", "blend"])
def test_uint8_in_uint8_out(method):
    frame0, frame1, middle = translating_pair()
    to8 = lambda a: np.rint(a * 255).astype(np.uint8)  # noqa: E731
    out = flowkit.interpolate(to8(frame0), to8(frame1), method=method)
    assert out.dtype == np.uint8 and out.shape == (H, W)
    if method != "blend":  # the float tolerance (0.03) in gray levels, plus the rounding
        assert np.abs(interior(out.astype(float) - middle * 255)).max() < 0.03 * 255 + 1


@pytest.mark.parametrize("method", ["project", "splat", "backward", "blend"])
def test_one_channel_frames_equal_gray_frames(method):
    """(H, W, 1) frames and an (N, H, W, 1) batch interpolate as (H, W) gray frames."""
    frame0, frame1, _ = translating_pair()
    gray = flowkit.interpolate(frame0, frame1, [0.25, 0.5], method=method)
    single = flowkit.interpolate(frame0[..., None], frame1[..., None], [0.25, 0.5], method=method)
    assert single.shape == gray.shape + (1,)
    np.testing.assert_allclose(single[..., 0], gray, atol=1e-6)
    batch = flowkit.interpolate(np.stack([frame0] * 2)[..., None], np.stack([frame1] * 2)[..., None],
                                0.5, method=method)
    assert batch.shape == (2, H, W, 1)
    np.testing.assert_allclose(batch[1, ..., 0], gray[1], atol=1e-6)


@pytest.mark.parametrize("method, interpolation", [
    ("project", None), ("project", "linear"), ("splat", None), ("backward", None),
    ("backward", "linear")])
def test_cuda_path_matches_cpu(method, interpolation):
    """device="cuda" (the simulator in CI): warp, splat and fill_holes through their CUDA
    drivers give the CPU's frame, up to float32 reassociation (1.2e-7 measured); the square
    scene, so that the occlusion masks flag pixels; both samplings."""
    pytest.importorskip("numba.cuda")
    frame0, frame1 = (square_scene(d)[0][18:46, 10:46] for d in (0, 8))
    flow01, flow10 = (f[18:46, 10:46] for f in square_flows())
    options = dict(flow01=flow01, flow10=flow10, method=method, interpolation=interpolation)
    cpu = flowkit.interpolate(frame0, frame1, 0.4, **options)
    gpu = flowkit.interpolate(frame0, frame1, 0.4, device="cuda", **options)
    assert isinstance(gpu, np.ndarray)  # NumPy in, NumPy out
    np.testing.assert_allclose(gpu, cpu, atol=1e-5)


def test_interpolate_video_count_order_and_reuse():
    frames = [texture(k * 1.5, 0.0) for k in range(3)]
    estimate = counting_estimator()
    out = list(flowkit.interpolate_video(iter(frames), factor=3, flow=estimate))
    assert len(out) == 3 + 2 * 2
    assert len(estimate.calls) == 4  # two flows per pair, whatever the number of new frames
    assert out[0] is frames[0] and out[3] is frames[1] and out[6] is frames[2]
    np.testing.assert_array_equal(np.stack(out[1:3]),
                                  flowkit.interpolate(frames[0], frames[1], [1 / 3, 2 / 3],
                                                      flow=estimate))
    np.testing.assert_array_equal(out[5], flowkit.interpolate(frames[1], frames[2], 2 / 3, flow=estimate))
    times = list(flowkit.interpolate_video(np.stack(frames), times=[0.5], method="blend"))
    assert len(times) == 5
    np.testing.assert_allclose(times[1], 0.5 * (frames[0] + frames[1]), atol=1e-7)
    assert len(list(flowkit.interpolate_video(frames, factor=1))) == 3
    assert list(flowkit.interpolate_video([], factor=2)) == []


def test_interpolate_video_of_a_huge_factor_holds_a_few_frames():
    # factor=2**31 built a list of 2**31 times and then asked interpolate for all of them at
    # once (a MemoryError, or the kernel's out-of-memory kill); now the times are made as they
    # are used and computed a few per call, the two flows estimated once per pair
    frames = [texture(k * 1.5, 0.0) for k in range(2)]
    estimate = counting_estimator()
    out = flowkit.interpolate_video(frames, factor=2 ** 31, flow=estimate)
    head = list(itertools.islice(out, 10))
    assert head[0] is frames[0] and len(estimate.calls) == 2
    times = [j / 2 ** 31 for j in range(1, 10)]
    np.testing.assert_array_equal(np.stack(head[1:]),
                                  flowkit.interpolate(frames[0], frames[1], times, flow=estimate))
    assert len(estimate.calls) == 4  # the check's own call


def test_interpolate_video_repeats_the_nearer_frame_across_a_scene_cut():
    # two shots: a texture moving, then the inverted texture moving; the cut between frames 1
    # and 2 is retime's test (a difference >= 10 % and a jump from the previous pair's)
    shot_a = [texture(k * 0.5, 0.0) for k in range(2)]
    shot_b = [1.0 - texture(0.0, k * 0.5) for k in range(2)]
    frames = shot_a + shot_b
    out = list(flowkit.interpolate_video(frames, times=[0.25, 0.5, 0.75], scene_threshold=10))
    assert len(out) == 4 + 3 * 3
    assert out[5] is frames[1] and out[6] is frames[1] and out[7] is frames[2]  # the cut
    np.testing.assert_array_equal(np.stack(out[1:4]),
                                  flowkit.interpolate(frames[0], frames[1], [0.25, 0.5, 0.75]))
    np.testing.assert_array_equal(np.stack(out[9:12]),
                                  flowkit.interpolate(frames[2], frames[3], [0.25, 0.5, 0.75]))
    # without the test (the default) the cut is interpolated like any pair
    plain = list(flowkit.interpolate_video(frames, times=[0.25, 0.5, 0.75], method="blend"))
    np.testing.assert_allclose(plain[6], 0.5 * (frames[1] + frames[2]), atol=1e-7)
    with pytest.raises(ValueError, match=r"scene_threshold: expected a number in \(0, 100\], got 0.0"):
        flowkit.interpolate_video(frames, scene_threshold=0)
    for threshold in (10, None):  # the frame is named by its index in the video
        with pytest.raises(ValueError, match=r"frames\[2\]: expected the same shape as frames\[1\]"):
            list(flowkit.interpolate_video(frames[:2] + [frames[2][:-1]], scene_threshold=threshold))


@pytest.mark.parametrize("call, name, expected", [
    (lambda f, s: flowkit.interpolate(f, f, interpolation=1), "interpolation", "one of 'cubic', 'linear'"),
    (lambda f, s: flowkit.interpolate(f, f, method=1), "method", "one of 'project', 'splat', "),
    (lambda f, s: flowkit.warp(f, np.zeros(f.shape + (2,), np.float32), interpolation=1),
     "interpolation", "one of 'nearest', 'linear', 'cubic'"),
    (lambda f, s: flowkit.warp(f, np.zeros(f.shape + (2,), np.float32), border=1), "border",
     "one of 'constant', 'replicate', "),
    (lambda f, s: flowkit.predict(np.stack([f] * 4), 1, scheme=1), "scheme", "one of 'semi-lagrangian', "),
    (lambda f, s: flowkit.predict(np.stack([f] * 4), 1, average=1), "average", "one of 'median', 'mean'"),
    (lambda f, s: flowkit.predict(np.stack([f] * 4), 1, method=1), "method", "one of 'flow', 'gan'"),
    # retime checks its options before it opens the input
    (lambda f, s: flowkit.retime(s / "in.mp4", s / "out.mp4", factor=2, interpolation=1),
     "interpolation", "one of 'cubic', 'linear'"),
    (lambda f, s: flowkit.retime(s / "in.mp4", s / "out.mp4", factor=2, method=1), "method",
     "one of 'project', 'splat', "),
    (lambda f, s: flowkit.retime(s / "in.mp4", s / "out.mp4", factor=2, audio=1), "audio",
     "one of 'copy', 'stretch', 'drop'"),
    (lambda f, s: flowkit.retime(s / "in.mp4", s / "out.mp4", factor=2, codec=1), "codec",
     "an FFmpeg encoder name such as 'libx264'"),
])
def test_a_string_option_of_another_type_is_a_type_error(tmp_path, call, name, expected):
    # interpolation=1 was a ValueError; a wrong type is a TypeError naming the parameter, what
    # it takes and what it got (as check_int, check_float), a wrong string still a ValueError
    frame0, _, _ = translating_pair()
    with pytest.raises(TypeError, match=rf"^{name}: expected {re.escape(expected)}.*, got 1$"):
        call(frame0, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_bad_input():
    frame0, frame1, _ = translating_pair()
    flow = np.zeros((H, W, 2), np.float32)
    with pytest.raises(ValueError, match=r"t: expected a number in \[0.0, 1.0\], got 1.5"):
        flowkit.interpolate(frame0, frame1, 1.5)
    with pytest.raises(ValueError, match=r"t\[1\]: expected a number in \[0.0, 1.0\], got -0.1"):
        flowkit.interpolate(frame0, frame1, [0.5, -0.1])
    with pytest.raises(ValueError, match="t: expected a finite number, got nan"):
        flowkit.interpolate(frame0, frame1, float("nan"))
    with pytest.raises(ValueError, match="t: expected at least one time"):
        flowkit.interpolate(frame0, frame1, [])
    with pytest.raises(ValueError, match="flow_options: 'bogus' is not an option of dis"):
        flowkit.interpolate(frame0, frame1, method="blend", flow_options={"bogus": 1})
    with pytest.raises(TypeError, match="t: expected a number in"):
        flowkit.interpolate(frame0, frame1, "half")
    with pytest.raises(ValueError, match="method: expected one of 'project', 'splat', 'backward', 'blend', 'learned', "
                                         "got 'linear'"):
        flowkit.interpolate(frame0, frame1, method="linear")
    with pytest.raises(ValueError, match=r"frame1: expected the same shape as frame0 \(64, 80\), "
                                         r"got \(64, 81\)"):
        flowkit.interpolate(frame0, np.zeros((H, W + 1), np.float32))
    with pytest.raises(TypeError, match="frame1: expected dtype float32"):
        flowkit.interpolate(frame0, frame1.astype(np.float64))
    with pytest.raises(TypeError, match="^frame1: expected an array, got None$"):
        flowkit.interpolate(frame0, None)
    with pytest.raises(TypeError, match="^frame0: expected an array, got 'a.png'$"):
        flowkit.interpolate("a.png", frame1)
    with pytest.raises(ValueError, match=r"flow01: expected shape \(64, 80, 2\), got \(64, 79, 2\)"):
        flowkit.interpolate(frame0, frame1, flow01=flow[:, 1:], flow10=flow)
    with pytest.raises(ValueError, match="flow10: expected an array together with flow01"):
        flowkit.interpolate(frame0, frame1, flow01=flow)
    with pytest.raises(ValueError, match="flow_options: expected None when flow01 and flow10 are given"):
        flowkit.interpolate(frame0, frame1, flow01=flow, flow10=flow, flow_options={"winsize": 9})
    with pytest.raises(ValueError, match="flow_options: 'radius' is not an option of dis"):
        flowkit.interpolate(frame0, frame1, flow_options={"radius": 3})
    with pytest.raises(ValueError, match="flow_options: 'radius' is not an option of farneback"):
        flowkit.interpolate(frame0, frame1, flow="farneback", flow_options={"radius": 3})
    with pytest.raises(ValueError, match="device: expected one of"):
        flowkit.interpolate(frame0, frame1, device="tpu")
    with pytest.raises(TypeError, match="occlusion: expected a bool, got 1"):
        flowkit.interpolate(frame0, frame1, occlusion=1)
    with pytest.raises(ValueError, match="factor: expected an integer >= 1, got 0"):
        flowkit.interpolate_video([frame0, frame1], factor=0)
    # a string factor is a TypeError naming factor, also beside times (a ValueError there, and
    # 2.0 passed as the default)
    for kwargs in ({}, {"times": [0.5]}):
        for factor in ("2", 2.0):
            with pytest.raises(TypeError, match=rf"^factor: expected an integer, got {factor!r}$"):
                flowkit.interpolate_video([frame0, frame1], factor=factor, **kwargs)
    with pytest.raises(ValueError, match=r"times\[0\]: expected a number in \(0.0, 1.0\), got 0.0"):
        flowkit.interpolate_video([frame0, frame1], times=[0.0, 0.5])
    with pytest.raises(ValueError, match="t: expected no t for interpolate_video"):
        flowkit.interpolate_video([frame0, frame1], t=0.5)


def test_validation_runs_before_any_estimator():
    estimate = counting_estimator()
    frame0, frame1, _ = translating_pair()
    for bad in ({"t": 2.0}, {"method": "nope"}, {"occlusion": "yes"}):
        with pytest.raises((ValueError, TypeError)):
            flowkit.interpolate(frame0, frame1, flow=estimate, **bad)
    assert estimate.calls == []


def test_backward_treats_unknown_flow_as_unseen():
    """A frame whose flow at t is unknown (NaN) does not contribute: the other frame fills
    in, and with both unknown the result is the cross-fade (not black)."""
    frame0, frame1, _ = translating_pair()
    _, aux = flowkit.interpolate(frame0, frame1, return_aux=True)
    unknown = np.full_like(aux["flow01"], np.nan)
    out = flowkit.interpolate(frame0, frame1, flow01=unknown, flow10=unknown, method="backward")
    np.testing.assert_allclose(out, 0.5 * frame0 + 0.5 * frame1, atol=1e-6)
    patched = aux["flow01"].copy()
    patched[10:20, 10:20] = np.nan
    out = flowkit.interpolate(frame0, frame1, flow01=patched, flow10=aux["flow10"], method="backward")
    assert np.isfinite(out).all() and out[10:20, 10:20].min() > 0.05


@pytest.mark.parametrize("method", ["project", "splat"])
def test_metrics_do_not_depend_on_the_intensity_scale(method):
    """Floats in [0, 255] interpolate like floats in [0, 1] (the splat metric and project's
    agreement weights are in units of the pair's range)."""
    frame0, frame1, _ = translating_pair()
    unit = flowkit.interpolate(frame0, frame1, method=method)
    scaled = flowkit.interpolate(frame0 * np.float32(255), frame1 * np.float32(255), method=method)
    np.testing.assert_allclose(scaled / 255, unit, atol=1e-4)


@pytest.mark.parametrize("method", ["project", "splat", "backward"])
def test_continuous_at_the_end_times_on_real_frames(method):
    """DAVIS dive-in, estimated flows: the occlusion masks flag pixels whose frame0 sample the
    blend would drop at t -> 0. backward did (a jump of 0.42 at t = 1e-6, measured); with a
    tenth of a hidden sample's weight kept, 1e-5 (project and backward), splat 0.002."""
    import cv2
    from cases import data_path

    folder = data_path("interp_triplets", "davis", "dive-in")
    a, b = (cv2.imread(str(folder / name))[..., ::-1].astype(np.float32) / 255
            for name in ("frame10.png", "frame11.png"))
    assert np.abs(flowkit.interpolate(a, b, 1e-6, method=method) - a).max() < 0.005
    assert np.abs(flowkit.interpolate(a, b, 1 - 1e-6, method=method) - b).max() < 0.005


@pytest.mark.parametrize("method", ["project", "splat", "backward"])
def test_continuous_at_the_end_times(method):
    """Also where the occlusion masks flag pixels (the square scene): project keeps a tenth
    of a hidden sample's weight, so frame0's weight never vanishes at t -> 0."""
    frame0, frame1, _ = translating_pair()
    for a, b, flows in ((frame0, frame1, {}),
                        (square_scene(0)[0], square_scene(8)[0],
                         dict(zip(("flow01", "flow10"), square_flows())))):
        np.testing.assert_allclose(flowkit.interpolate(a, b, 1e-9, method=method, **flows), a,
                                   atol=1e-4)
        np.testing.assert_allclose(flowkit.interpolate(a, b, 1 - 1e-9, method=method, **flows),
                                   b, atol=1e-4)


def test_callable_estimator_result_is_checked():
    frame0, frame1, _ = translating_pair()
    with pytest.raises(TypeError, match="flow: the callable returned None; expected an array"):
        flowkit.interpolate(frame0, frame1, flow=lambda a, b: None)
    with pytest.raises(ValueError, match=r"flow: the callable returned .* shape \(10, 10, 2\)"):
        flowkit.interpolate(frame0, frame1, flow=lambda a, b: np.zeros((10, 10, 2), np.float32))


def test_interpolate_video_checks_frames_and_times_at_the_call():
    frame0, frame1, _ = translating_pair()
    with pytest.raises(TypeError, match="frames: expected an iterable of frames"):
        flowkit.interpolate_video("clip.mp4")
    with pytest.raises(ValueError, match="frames: expected a video .* which looks like one frame"):
        flowkit.interpolate_video(np.zeros((20, 30, 3), np.uint8))
    # interpolate_video takes times strictly between the frames: every message says (0, 1)
    for times, match in [([1.5], r"times\[0\]: expected a number in \(0.0, 1.0\), got 1.5"),
                         ([0.0], r"times\[0\]: expected a number in \(0.0, 1.0\), got 0.0"),
                         ([], r"times: expected at least one time in \(0, 1\), got an empty")]:
        with pytest.raises(ValueError, match=match):
            flowkit.interpolate_video([frame0, frame1], times=times)
    # so is device, before the first frame is read (factor=1 reads no pair at all)
    for device in ("gpu", "cuda:0", 0):
        with pytest.raises(ValueError, match="^device: expected one of 'cpu', 'cuda' or None"):
            flowkit.interpolate_video([frame0, frame1], factor=1, device=device)


def test_interpolate_video_passes_model_to_interpolate():
    frames = [texture(k * 0.5, 0.0) for k in range(2)]
    assert len(list(flowkit.interpolate_video(frames, method="blend", model=None))) == 3
    with pytest.raises(ValueError, match=r"model: expected None unless method='learned'"):
        list(flowkit.interpolate_video(frames, model="weights.safetensors"))


def test_t_may_be_any_sequence():
    frame0, frame1, _ = translating_pair()
    np.testing.assert_array_equal(flowkit.interpolate(frame0, frame1, range(0, 2), method="blend"),
                                  np.stack([frame0, frame1]))


@pytest.mark.parametrize("method", ["project", "splat", "backward"])
@pytest.mark.parametrize("marker", [np.inf, -np.inf, 1e9, -3e9])
def test_every_unknown_flow_marker_is_nan(method, marker):
    # warp's rule: NaN, inf and |component| >= 1e9 are unknown; interpolate treated only NaN so
    # (a new user's 1e9 rows: 205 grey levels from frame0 at t = 1e-4)
    frame0, frame1, _ = translating_pair()
    flow01 = flowkit.dis(frame0, frame1)
    flow10 = flowkit.dis(frame1, frame0)
    marked, nan = flow01.copy(), flow01.copy()
    marked[10:13, :, 0] = marker  # one component is enough
    nan[10:13] = np.nan
    for t in (1e-4, 0.5):
        np.testing.assert_array_equal(
            flowkit.interpolate(frame0, frame1, t, flow01=marked, flow10=flow10, method=method),
            flowkit.interpolate(frame0, frame1, t, flow01=nan, flow10=flow10, method=method))
    assert np.array_equal(marked[10, 0, 0], marker)  # the caller's flow is not changed


def _project_case(channels, seed, unknown, interpolation="cubic"):
    """A random pair with random flows (some vectors NaN when ``unknown``), the state of
    ``"project"`` with occlusion masks and the given sampling, the two frames as float32."""
    rng = np.random.default_rng(seed)
    h, w = 23, 31
    frames = [rng.random((h, w, channels) if channels else (h, w)).astype(np.float32)
              for _ in range(2)]
    flows = [rng.normal(0, 3, (h, w, 2)).astype(np.float32) for _ in range(2)]
    if unknown:
        flows[0][4:9, 6:12] = np.nan
        flows[1][15:, :5] = np.nan
    state = _interpolate._prepare(*frames, *flows, True, "project")
    state["interpolation"] = interpolation
    return frames, state


@pytest.mark.parametrize("channels", [0, 1, 3, 4])
@pytest.mark.parametrize("unknown", [False, True])
@pytest.mark.parametrize("occlusion", [True, False])
@pytest.mark.parametrize("interpolation", ["cubic", "linear"])
def test_project_kernel_equals_the_warp_statement(channels, unknown, occlusion, interpolation):
    """The CPU kernel of method="project" (kernels.project) against its statement by warp calls
    and NumPy arithmetic (_project_by_warps): the same float32 operations in the same order,
    so equal to float32 rounding (measured: bit-identical); random flows reach past every
    border and hide pixels in both masks; gray, 1, 3 (vectorised rows) and 4 channels; both
    samplings."""
    (f0, f1), state = _project_case(channels, 7, unknown, interpolation)
    if not occlusion:
        state.update(occlusion0=None, occlusion1=None)
    assert state["flows_finite"] is not unknown
    for t in (0.001, 0.2, 0.5, 0.9):  # 0.001: 1 - (1 - t) is not t in float32
        projected = _interpolate._projected_flows(t, state, None)
        expected = _interpolate._project_by_warps(f0, f1, t, projected, state, None)
        got, got_projected = _interpolate._project_at(f0, f1, t, state, None)
        assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(got_projected, projected))
        assert got.shape == f0.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def test_project_kernel_does_not_depend_on_the_thread_count(monkeypatch):
    """Bands of rows claimed by the threads, each output row written by one band: the same
    result bit for bit for 1, 2, 3 and 5 threads (so 1, 8, 12 and 20 bands; a 1280-pixel-wide
    frame, so that more than one thread runs)."""
    from flowkit.kernels import parallel

    rng = np.random.default_rng(3)
    frames = [rng.random((40, 1280, 3)).astype(np.float32) for _ in range(2)]
    flows = [rng.normal(0, 2, (40, 1280, 2)).astype(np.float32) for _ in range(2)]
    state = _interpolate._prepare(*frames, *flows, True, "project")
    state["interpolation"] = "cubic"
    results = []
    for threads in (1, 2, 3, 5):
        with monkeypatch.context() as patch:
            patch.setattr(parallel.numba, "get_num_threads", lambda n=threads: n)
            results.append(_interpolate._project_at(*frames, 0.3, state, None)[0])
    for got in results[1:]:
        np.testing.assert_array_equal(got, results[0])


def test_copy_vectors_is_a_masked_assignment():
    """_copy_vectors (two float32 components copied as one complex64) equals NumPy's masked
    assignment, NaN payloads included."""
    rng = np.random.default_rng(5)
    dst, src = (rng.normal(size=(9, 11, 2)).astype(np.float32) for _ in range(2))
    src[2, 3] = np.nan
    where = rng.random((9, 11)) < 0.4
    where[2, 3] = True
    expected = dst.copy()
    expected[where] = src[where]
    _interpolate._copy_vectors(dst, src, where)
    np.testing.assert_array_equal(dst, expected)


# --- flowkit interpolate (the command line) -------------------------------------------------------


def read_png(path):
    import cv2

    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)[..., ::-1]


def test_command_writes_the_frames_of_interpolate(pair, tmp_path, capsys):
    from flowkit.__main__ import main

    a, b, frame0, frame1 = pair
    # one image: the middle frame, as interpolate() gives it (PNG is lossless)
    assert main(["interpolate", str(a), str(b), str(tmp_path / "mid.png")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"wrote {tmp_path / 'mid.png'} (64x48, t = 0.5)"
    assert out[1].startswith("1 frame interpolated (project, cubic, dis) in ")
    np.testing.assert_array_equal(read_png(tmp_path / "mid.png"), flowkit.interpolate(frame0, frame1))
    # a folder: FRAME0, the frames at 1/4, 1/2, 3/4 with the options given, FRAME1
    folder = tmp_path / "seq"
    assert main(["interpolate", str(a), str(b), "-o", str(folder), "--frames", "3", "--method",
                 "backward", "--interpolation", "linear", "--flow", "farneback", "-O", "levels=2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (f"wrote 5 PNG files to {folder} (frame_000000.png FRAME0 ... frame_000004.png "
                      "FRAME1, t = 0.25, 0.5, 0.75 between)")
    assert out[1].startswith("3 frames interpolated (backward, linear, farneback (levels=2)) in ")
    expected = flowkit.interpolate(frame0, frame1, [0.25, 0.5, 0.75], method="backward",
                                   interpolation="linear", flow="farneback", flow_options={"levels": 2})
    written = [read_png(folder / f"frame_{k:06d}.png") for k in range(5)]
    np.testing.assert_array_equal(np.stack(written), np.stack([frame0, *expected, frame1]))
    # t = 0 and 1 are the input frames: copied, not counted as interpolated ("1 frame
    # interpolated" before)
    assert main(["interpolate", str(a), str(b), str(tmp_path / "zero.png"), "--times", "0"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("0 frames interpolated (project, cubic, dis), 1 input frame copied "
                             "(t = 0 or 1) in "), out


def test_command_writes_a_video_of_the_sequence(pair, tmp_path, capsys):
    from flowkit.__main__ import main
    from flowkit.video import probe_video

    a, b = pair[:2]
    video = tmp_path / "slow.mkv"  # ffv1: lossless
    assert main(["interpolate", str(a), str(b), str(video), "--times", "0.2,0.6", "--fps", "12"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        f"wrote {video} (4 frames, 64x48, 12 fps: FRAME0, t = 0.2, 0.6, FRAME1)")
    info = probe_video(video)
    assert (info.frame_rate, info.width, info.height) == (12, 64, 48)
    frames = list(flowkit.iter_frames(video))
    assert len(frames) == 4
    np.testing.assert_array_equal(frames[0], pair[2])
    np.testing.assert_array_equal(frames[3], pair[3])
    # an odd size is padded for libx264, with retime's note
    import cv2

    odd = [tmp_path / "a_odd.png", tmp_path / "b_odd.png"]
    for path, frame in zip(odd, pair[2:]):
        cv2.imwrite(str(path), frame[:47, :63, ::-1])
    assert main(["interpolate", *map(str, odd), str(tmp_path / "odd.mp4")]) == 0
    captured = capsys.readouterr()
    assert "3 frames, 64x48, " in captured.out
    assert captured.err.startswith("flowkit: note: padded 63x47 to 64x48 (last row or column repeated)")


def test_command_video_rate_may_be_a_ratio(pair, tmp_path, capsys):
    """--fps 24000/1001 is exact, as retime's --fps (it was refused: 'expected a frame rate in
    (0, 1000], got '24000/1001'', a rate inside that range)."""
    from fractions import Fraction

    from flowkit.__main__ import main
    from flowkit.video import probe_video

    a, b = pair[:2]
    video = tmp_path / "ntsc.mp4"
    assert main(["interpolate", str(a), str(b), str(video), "--fps", "24000/1001", "-q"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        f"wrote {video} (3 frames, 64x48, 23.976 (24000/1001) fps: FRAME0, t = 0.5, FRAME1)")
    assert probe_video(video).frame_rate == Fraction(24000, 1001)


@pytest.mark.parametrize("extra, expected", [
    (["x.png", "--frames", "2"], "OUTPUT: {tmp}/x.png is an image, which holds one frame, and 2 times "
     "were asked for; give a folder or a video file for a sequence"),
    # --frames' times are made when asked for: a huge N is refused at once (it built the list)
    (["x.png", "--frames", "2000000000"], "OUTPUT: {tmp}/x.png is an image, which holds one frame, "
     "and 2000000000 times were asked for"),
    (["x.exr"], "OUTPUT: {tmp}/x.exr: cannot write an image with extension '.exr' (use .png)"),
    (["seq", "--times", "0.5,0.25"], "--times: a folder output holds FRAME0, the frames and FRAME1 in "
     "this order: expected times increasing inside (0, 1), got 0.5, 0.25"),
    (["v.mp4", "--times", "0,0.5"], "--times: a video output holds FRAME0, the frames and FRAME1 in "
     "this order: expected times increasing inside (0, 1), got 0, 0.5"),
    (["x.png", "--times", "0.5,1.5"], "argument --times: expected numbers in [0, 1] separated by "
     "commas, got '0.5,1.5'"),
    (["x.png", "--frames", "2", "--times", "0.5"], "argument --times: not allowed with argument --frames"),
    (["x.png", "--crf", "20", "--fps", "10"], "--fps, --crf: only for a video output; OUTPUT names an image"),
    (["v.mp4", "--fps", "1001/0"], "argument --fps: expected a frame rate in (0, 1000], got '1001/0'"),
    (["v.mp4", "--fps", "3000/2"], "argument --fps: expected a frame rate in (0, 1000], got '3000/2'"),
    (["seq", "--codec", "libx264"], "--codec: only for a video output; OUTPUT names a folder"),
    (["x.png", "--model", "w.safetensors"], "--model needs --method learned"),
    (["x.png", "--method", "splat", "--interpolation", "linear"],
     "--interpolation: only with --method project, backward or learned (the methods that sample the "
     "frames), got --method splat"),
    (["x.flo"], "OUTPUT: {tmp}/x.flo: FFmpeg has no container for the extension"),
    # what else interpolate writes is in the hint (it named video extensions only)
    (["x.xyz"], "OUTPUT: {tmp}/x.xyz: FFmpeg has no container for the extension '.xyz' (it "
     "picks the container by the extension, whatever the codec); use a video extension (.mp4, "
     ".m4v, .mov, .mkv, .avi, .webm, ...), or an image extension (.png, ...) for one frame, or "
     "a folder (a path without an extension) for PNG files"),
    (["x.pgm"], "OUTPUT: {tmp}/x.pgm: OpenCV cannot write 8-bit RGB images as .pgm; write .png"),
    (["x.png", "--method", "blend", "--flow", "farneback", "-O", "levels=2"],
     "--flow, -O: --method blend (the cross-fade) estimates no flow"),
    (["x.png", "--method", "learned", "--model", ""],
     "--model: the path is empty (''); expected a .safetensors file"),
])
def test_command_usage_errors(pair, tmp_path, extra, expected):
    from test_cli import run_cli, usage_error_line

    a, b = pair[:2]
    out = extra[0]
    status, stdout, err = run_cli("interpolate", a, b, tmp_path / out, *extra[1:])
    assert status == 2 and stdout == ""
    assert usage_error_line(err, "interpolate").startswith(expected.format(tmp=tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png"]  # nothing written


def test_command_frames_that_do_not_go_together(pair, tmp_path):
    import cv2
    from test_cli import run_cli, usage_error_line

    a = pair[0]
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), pair[3][:40, :60, ::-1])
    status, _, err = run_cli("interpolate", a, small, tmp_path / "m.png")
    assert status == 2 and usage_error_line(err, "interpolate") == (
        f"FRAME1: {small} is 60x40 but FRAME0 {a} is 64x48 (width x height); the frames must "
        "have the same size")
    status, _, err = run_cli("interpolate", a, tmp_path, tmp_path / "m.png")
    assert status == 1 and err.splitlines() == [
        f"flowkit: error: FRAME1: {tmp_path} is a folder; expected an image file"]
    status, _, err = run_cli("interpolate", "", a, tmp_path / "m.png")
    assert status == 2 and usage_error_line(err, "interpolate") == (
        "FRAME0: the path is empty (''); expected an image")
    status, _, err = run_cli("interpolate", a, tmp_path / "missing.png", tmp_path / "m.png")
    assert status == 1 and err.splitlines() == [
        f"flowkit: error: FRAME1: no such image file: {tmp_path / 'missing.png'}"]
    assert not (tmp_path / "m.png").exists()


def test_command_computes_a_few_frames_per_call_with_the_same_values(pair, tmp_path, monkeypatch):
    # 10 frames in calls of 4 (the flows of the first call passed to the others): the frames
    # of one call at all 10 times
    from flowkit.__main__ import main

    monkeypatch.setattr(_interpolate, "TIMES_PER_CALL", 4)
    calls = []
    chunk = _interpolate.interpolate_chunk
    monkeypatch.setattr(_interpolate, "interpolate_chunk",
                        lambda *a, **k: calls.append(k) or chunk(*a, **k))
    a, b, frame0, frame1 = pair
    assert main(["interpolate", str(a), str(b), str(tmp_path / "seq"), "--frames", "10"]) == 0
    assert len(calls) == 3 and calls[0]["flow01"] is None
    assert all(k["flow01"] is not None and not k["flows_at_t"] for k in calls[1:])
    written = np.stack([read_png(tmp_path / "seq" / f"frame_{k:06d}.png") for k in range(1, 11)])
    expected = flowkit.interpolate(frame0, frame1, [k / 11 for k in range(1, 11)])
    np.testing.assert_array_equal(written, expected)


def test_command_keeps_16_bits_and_refuses_formats_that_cannot(pair, tmp_path):
    import cv2
    from test_cli import run_cli, usage_error_line

    deep = [tmp_path / "a16.png", tmp_path / "b16.png"]
    floats = [tmp_path / "af.tif", tmp_path / "bf.tif"]
    for d, f, frame in zip(deep, floats, pair[2:]):
        cv2.imwrite(str(d), frame[..., ::-1].astype(np.uint16) * 257)
        cv2.imwrite(str(f), frame[..., ::-1].astype(np.float32) / 255)
    status, _, _ = run_cli("interpolate", *deep, tmp_path / "m16.png")
    assert status == 0
    expected = flowkit.interpolate(*(read_png(p) for p in deep))
    assert expected.dtype == np.uint16
    np.testing.assert_array_equal(read_png(tmp_path / "m16.png"), expected)
    # JPEG holds 8 bits (OpenCV saturated the 16-bit values: a white picture); floats go to a
    # float TIFF only (to PNG they were written as 0 and 1, into a video they failed late)
    for inputs, out, expected in (
            (deep, "m16.jpg", "OUTPUT: {tmp}/m16.jpg: .jpg images hold 8 bits and FRAME0 is 16-bit; "
                              "write .png or .tif (or a folder)"),
            (floats, "mf.png", "FRAME0: a float32 image: interpolate writes float frames to a .tif "
                               "image only (PNG files and videos hold 8 or 16 bits), got OUTPUT {tmp}/mf.png"),
            (floats, "mf.mp4", "FRAME0: a float32 image: interpolate writes float frames to a .tif")):
        status, _, err = run_cli("interpolate", *inputs, tmp_path / out)
        assert status == 2 and usage_error_line(err, "interpolate").startswith(expected.format(tmp=tmp_path))
        assert not (tmp_path / out).exists()
    assert run_cli("interpolate", *floats, tmp_path / "mf.tif")[0] == 0
    np.testing.assert_allclose(cv2.imread(str(tmp_path / "mf.tif"), cv2.IMREAD_UNCHANGED)[..., ::-1],
                               flowkit.interpolate(*(read_png(p) for p in floats)), rtol=0, atol=0)


def test_command_output_kinds_by_name(pair, tmp_path, capsys):
    from flowkit.__main__ import main

    a, b = map(str, pair[:2])
    # an image extension OpenCV writes besides the usual ones (Sun raster: every OpenCV 4 and 5;
    # .gif only from 4.11); a trailing slash is a folder
    assert main(["interpolate", a, b, str(tmp_path / "m.ras")]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {tmp_path / 'm.ras'} (64x48, t = 0.5)")
    assert main(["interpolate", a, b, f"{tmp_path / 'seq.mp4'}/", "--frames", "2"]) == 0
    assert (tmp_path / "seq.mp4").is_dir() and len(list((tmp_path / "seq.mp4").iterdir())) == 4
    # many times: the line shows the first three and the last
    assert main(["interpolate", a, b, str(tmp_path / "many"), "--frames", "9"]) == 0
    assert "t = 0.1, 0.2, 0.3, ..., 0.9 between" in capsys.readouterr().out


def test_interpolate_video_from_a_reader_that_refills_one_buffer():
    # the previous frame was the buffer, which the next read overwrote: each new frame was
    # made from the next input frame and itself (35 levels off)
    f0, f1, _ = flowkit.sample_pair(48, 64)
    frames = [f0, f1, f0]
    expected = list(flowkit.interpolate_video(frames))
    got = [frame.copy() for frame in flowkit.interpolate_video(one_buffer(frames))]
    assert len(got) == len(expected) == 5
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("t, error, message", [
    (np.array("0.5"), TypeError, r"t: expected a number in \[0, 1\] or a sequence of them, got "
                                 r"'0\.5'"),
    (np.array(True), TypeError, r"t: expected a number in \[0, 1\] or a sequence of them, got "
                                r"True"),
    (np.datetime64(1, "s"), TypeError, r"t: expected a number in \[0, 1\] or a sequence of "
                                       r"them, got datetime"),
    (np.array(["0.5"]), TypeError, r"t\[0\]: expected a real number, got '0\.5'"),
    (np.array([True, False]), TypeError, r"t\[0\]: expected a real number, got True"),
    (np.array([0.5, 1j]), TypeError, r"t\[0\]: expected a real number, got \(0\.5\+0j\)"),
])
def test_times_in_arrays_are_checked_as_the_same_values_in_a_list(t, error, message):
    """An array of times is read as its elements: np.array("0.5") and np.array(True) were
    taken as 0.5 and 1 (the string "0.5" and True are refused), a complex or datetime64 time
    raised float()'s error, which names no parameter (found trying t as 0-d arrays)."""
    frame = np.zeros((16, 16), np.float32)
    with pytest.raises(error, match=f"^{message}"):
        flowkit.interpolate(frame, frame, t, method="blend")


def test_times_as_numpy_scalars_and_arrays_give_the_float_result():
    rng = np.random.default_rng(1)
    frame0, frame1 = rng.random((2, 16, 16), dtype=np.float32)
    expected = flowkit.interpolate(frame0, frame1, 0.3, method="blend")
    for t in (np.float64(0.3), np.array(0.3), np.array(0.3, dtype=object)):
        np.testing.assert_array_equal(flowkit.interpolate(frame0, frame1, t, method="blend"),
                                      expected)
    np.testing.assert_array_equal(flowkit.interpolate(frame0, frame1, np.array([0.3]),
                                                      method="blend")[0], expected)
