"""flowkit.predict and the estimator registry: analytic clips with exact answers, the
schemes against each other, layouts, and bad input."""

import pickle
import re
import warnings

import numpy as np
import pytest

import flowkit
from flowkit._estimators import _REGISTRY, get_estimator, list_estimators

from cases import fresh_python_peak, one_buffer

H, W = 64, 80


def texture(shift_x=0.0, shift_y=0.0, shape=(H, W)):
    """A smooth periodic texture in [0, 1], translated by (shift_x, shift_y) pixels: exact
    values at any sub-pixel shift."""
    y, x = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float64)
    x, y = x - shift_x, y - shift_y
    value = (np.sin(2 * np.pi * x / 17.0) * np.cos(2 * np.pi * y / 13.0)
             + 0.5 * np.sin(2 * np.pi * (x + 2 * y) / 23.0))
    return (0.5 + value / 3.2).astype(np.float32)


def translating_clip(velocity, frames):
    """Frames 0..frames-1 of the texture moving by ``velocity`` (u, v) pixels per frame."""
    return np.stack([texture(k * velocity[0], k * velocity[1]) for k in range(frames)])


# the semi-Lagrangian scheme through a held field, one trajectory (the defaults add the
# advected field and the speed spread: tests of their own below)
HELD = {"advect_flow": False, "speed_spread": 0.0}


def interior(array, margin=12):
    return array[..., margin:-margin, margin:-margin]


def constant_estimator(backward):
    """A callable estimator returning ``backward`` (the flow from the later frame to the
    earlier one) and recording its calls."""
    calls = []

    def estimate(frame0, frame1):
        calls.append((frame0, frame1))
        return np.broadcast_to(np.asarray(backward, np.float32), frame0.shape[:2] + (2,)).copy()

    estimate.calls = calls
    return estimate


@pytest.mark.parametrize("flow, options, match", [
    ("farneback", {"levels": -1}, r"flow_options\['levels'\]: expected an integer >= 0, got -1"),
    ("farneback", {"poly_n": 6}, r"flow_options\['poly_n'\]: expected 5 or 7, got 6"),
    ("lucas_kanade", {"radius": 0}, r"flow_options\['radius'\]: expected an integer >= 1, got 0"),
    ("dis", {"patch_size": 1}, r"flow_options\['patch_size'\]: expected an integer >= 2, got 1"),
    # the preset's own patch size (dis-fast: 8) is what the stride is checked against
    ("dis-fast", {"patch_stride": 9}, r"flow_options\['patch_stride'\]: expected at most patch_size \(8\)"),
])
def test_registry_checks_option_values_before_any_frame(flow, options, match):
    # a retime that interpolates nothing, or a predict that fails later, still refuses them
    with pytest.raises(ValueError, match=match):
        get_estimator(flow, options)


def test_registry_accepts_every_estimators_defaults():
    for name in ("farneback", "lucas_kanade", "dis", "dis-ultrafast", "dis-fast", "dis-medium",
                 "dis-accurate"):
        get_estimator(name)
    get_estimator("dis-fast", {"patch_stride": 8, "variational_refinement_iterations": 0})
    get_estimator("lucas_kanade", {"levels": 2, "gaussian": True})


def test_registry_names_and_options():
    builtin = ["dis", "dis-accurate", "dis-fast", "dis-medium", "dis-ultrafast", "farneback",
               "lucas_kanade", "raft"]
    assert sorted(_REGISTRY) == builtin  # and the names a test or a doctest registered
    assert [name for name in list_estimators() if name in _REGISTRY] == builtin
    a = texture()
    b = texture(1.0, 0.5)
    np.testing.assert_array_equal(get_estimator("farneback", {"winsize": 9})(a, b),
                                  flowkit.farneback(a, b, winsize=9))
    with pytest.raises(ValueError, match=r"flow: expected one of \('dis', .*'lucas_kanade', 'raft'.*\) or a "
                                         r"callable, got 'pwc-net'"):
        get_estimator("pwc-net")
    with pytest.raises(ValueError, match="flow_options: 'radius' is not an option of farneback; its "
                                         "options are pyr_scale, levels"):
        get_estimator("farneback", {"radius": 3})
    with pytest.raises(TypeError, match="flow_options: expected a dict of keyword options or None, got 3"):
        get_estimator("farneback", 3)
    with pytest.raises(TypeError, match="flow: expected an estimator name"):
        get_estimator(42)
    # an estimator's error that names none of the options passes through unchanged, and is
    # not its own cause (raise exc from exc: a cycle that hung Dask's error reporting)
    frame = np.zeros((16, 16), np.uint8)
    with pytest.raises(ValueError, match="weights: expected the path of a local RAFT") as info:
        get_estimator("raft")(frame, frame)
    assert info.value.__cause__ is not info.value
    with pytest.raises(ValueError, match=r"flow_options\['levels'\]") as info:
        get_estimator("farneback", {"levels": -1})
    assert info.value.__cause__ is not info.value and info.value.__cause__ is not None
    # a flow given as nested lists: predict names the array it takes, and the message stays
    # short (it printed every vector of the list)
    frames = np.zeros((3, 16, 16), np.uint8)
    with pytest.raises(TypeError, match=r"flow: expected an estimator name, a callable or a flow "
                                        r"array .*got a list of 16 items \(\[\[\[0\.0, 0\.0\]") as info:
        flowkit.predict(frames, 2, flow=np.zeros((16, 16, 2)).tolist())
    assert len(str(info.value)) < 200


def test_translation_is_predicted_at_every_horizon():
    velocity = (0.6, -0.35)
    clip = translating_clip(velocity, 10)
    context, future = clip[:2], clip[2:]
    predicted, motion = flowkit.predict(context, 8, flow="farneback", return_flow=True, **HELD)
    assert predicted.shape == (8, H, W) and predicted.dtype == np.float32
    # Farneback on this smooth texture: the motion within 0.03 px in the interior
    np.testing.assert_allclose(interior(motion[..., 0]), velocity[0], atol=0.03)
    np.testing.assert_allclose(interior(motion[..., 1]), velocity[1], atol=0.03)
    # one bilinear sample of the last frame per step: the error is the interpolation error
    # (second derivative of the texture < 0.15 / px^2, times 1/8) plus the motion error, and it
    # does not grow with the horizon as a resampling chain's would
    errors = np.abs(interior(predicted - future, 24)).max(axis=(1, 2))
    repeat = np.abs(interior(future - context[-1], 24)).max(axis=(1, 2))
    assert np.all(errors < 0.03)
    assert errors[-1] < 0.1 * repeat[-1]


def test_translation_with_the_defaults():
    # the defaults: DIS (medium preset) estimates at half resolution (finest_scale=1), so on
    # this smooth texture its motion is less exact than Farneback's (measured 0.042 px in u,
    # 0.033 in v); the prediction error is the interpolation error plus k times that motion
    # error (0.042 px) times the texture's gradient (~0.15 per px): 0.021-0.059 measured at
    # +1..+8, bounded by 0.02 (the interpolation and blur of +1) + 0.0065 k; advecting a
    # uniform field changes nothing and the 10 % speed spread blurs a little
    velocity = (0.6, -0.35)
    clip = translating_clip(velocity, 10)
    context, future = clip[:2], clip[2:]
    predicted, motion = flowkit.predict(context, 8, return_flow=True)
    assert predicted.shape == (8, H, W) and predicted.dtype == np.float32
    np.testing.assert_allclose(interior(motion[..., 0]), velocity[0], atol=0.05)
    np.testing.assert_allclose(interior(motion[..., 1]), velocity[1], atol=0.05)
    errors = np.abs(interior(predicted - future, 24)).max(axis=(1, 2))
    repeat = np.abs(interior(future - context[-1], 24)).max(axis=(1, 2))
    assert np.all(errors < 0.02 + 0.0065 * np.arange(1, 9))
    assert errors[-1] < 0.2 * repeat[-1]
    # the defaults are these options
    np.testing.assert_array_equal(
        predicted, flowkit.predict(context, 8, flow="dis", advect_flow=True, speed_spread=0.1))


def test_given_flow_equals_extrapolate_and_callable_is_called_later_first():
    clip = translating_clip((0.5, 0.25), 3)
    motion = np.full((H, W, 2), (0.5, 0.25), np.float32)
    np.testing.assert_array_equal(flowkit.predict(clip, 3, flow=motion, **HELD),
                                  flowkit.extrapolate(clip[-1], motion, 3, n_iter=1))
    estimate = constant_estimator((-0.5, -0.25))  # later(x) ~ earlier(x - velocity)
    got = flowkit.predict(clip, 3, flow=estimate, **HELD)
    np.testing.assert_array_equal(got, flowkit.extrapolate(clip[-1], motion, 3, n_iter=1))
    (later, earlier), = estimate.calls
    np.testing.assert_array_equal(later, clip[-1])
    np.testing.assert_array_equal(earlier, clip[-2])


@pytest.mark.parametrize("options", [HELD, {"advect_flow": False}])
def test_unknown_motion_is_nan_in_float_predictions(options):
    # a field in kelvin (280 K + 2 K of texture): where the given motion is unknown (NaN), a
    # held field's trajectory is unknown (extrapolate's displacement NaN), and the prediction
    # there was 0 K, a value far outside the clip's range taken for data; now NaN (pysteps'
    # outval), and 0 still for integer clips, which have no NaN
    clip = 280 + 2 * translating_clip((0.5, 0.25), 3)
    motion = np.full((H, W, 2), (0.5, 0.25), np.float32)
    motion[20:30, 30:40] = np.nan
    displacement = flowkit.extrapolate(clip[-1], motion, 3, n_iter=1, return_displacement=True)[1]
    unknown = np.isnan(displacement).any(axis=-1)
    assert 0 < unknown.sum() < unknown.size
    got = flowkit.predict(clip, 3, flow=motion, **options)
    np.testing.assert_array_equal(np.isnan(got), unknown)
    assert got[~unknown].min() >= 280 and got[~unknown].max() <= 282
    as_uint8 = flowkit.predict(np.uint8(100) + (clip - 280).astype(np.uint8), 3, flow=motion,
                               **options)
    assert np.all(as_uint8[unknown] == 0) and as_uint8[~unknown].min() >= 100
    # carried with the content (the default), unknown motion is filled from its surroundings;
    # with no known motion at all, every trajectory is unknown
    assert np.isfinite(flowkit.predict(clip, 3, flow=motion)).all()
    assert np.isnan(flowkit.predict(clip, 3, flow=np.full_like(motion, np.nan))).all()


def no_data_prediction(frames, horizon, no_signal=0.0, **options):
    """The no-data recipe of docs/prediction.md ("No-data regions"), verbatim."""
    filled = np.where(np.isnan(frames), no_signal, frames)
    predicted, motion = flowkit.predict(filled, horizon, return_flow=True, **options)
    nodata = flowkit.extrapolate(np.where(np.isnan(frames[-1]), np.nan, 0.0), motion, horizon,
                                 n_iter=1, border="constant", border_value=np.nan)
    predicted[np.isnan(nodata)] = np.nan
    return predicted


def test_no_data_recipe_masks_what_comes_from_no_data_as_pysteps():
    # a radar-like clip: NaN in a band at the left (outside the radar's range) and in a disk
    # (a blocked beam), the field moving right and up by (0.37, -0.21) px per frame, the motion
    # given. Held field, one trajectory: the prediction is NaN exactly where a bilinear tap of
    # nonzero weight reads no-data or the trajectory ends off the grid (float64 SciPy
    # statement; pysteps' outval=NaN, interp_order=1, when installed) and equals the filled
    # field's bilinear sample elsewhere
    from scipy import ndimage

    velocity = (0.37, -0.21)  # no multiple up to 5 is a whole pixel: four taps of weight > 0
    clip = translating_clip(velocity, 3).astype(np.float64)
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    nodata = (x < 12) | ((x - 50) ** 2 + (y - 30) ** 2 < 8 ** 2)
    clip[:, nodata] = np.nan
    motion = np.full((H, W, 2), velocity, np.float32)
    got = no_data_prediction(clip, 5, flow=motion, **HELD)
    last = np.where(nodata, 0.0, clip[-1])
    for k in range(1, 6):
        at = [y - k * velocity[1], x - k * velocity[0]]
        want = ndimage.map_coordinates(np.where(nodata, np.nan, last), at, order=1,
                                       mode="constant", cval=np.nan)
        np.testing.assert_array_equal(np.isnan(got[k - 1]), np.isnan(want))
        np.testing.assert_allclose(got[k - 1], want, rtol=0, atol=1e-5)
    # the no-data moves in from the left: more NaN than the last frame's at each step
    assert np.isnan(got).sum(axis=(1, 2)).min() > nodata.sum()
    try:
        from pysteps.nowcasts import extrapolation
    except ImportError:  # the SciPy statement above stands for it
        return
    expected = extrapolation.forecast(clip[-1], np.moveaxis(motion, -1, 0).astype(np.float64), 5)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


def test_context_combines_the_chained_motions():
    clip = translating_clip((0.0, 0.0), 5)
    per_pair = iter([(-1.0, 0.0), (-2.0, 0.0), (-4.0, -1.0), (-1.5, 0.5)])
    flows = {}

    def estimate(later, earlier):
        key = len(flows)
        flows[key] = next(per_pair)
        return np.broadcast_to(np.float32(flows[key]), later.shape[:2] + (2,)).copy()

    _, motion = flowkit.predict(clip, 1, flow=estimate, context=5, return_flow=True)
    # constant flows: chaining moves nothing but the sampling point, so the median of the
    # four motions (1, 0), (2, 0), (4, 1), (1.5, -0.5) is exact
    np.testing.assert_allclose(motion[..., 0], 1.75, atol=1e-6)
    np.testing.assert_allclose(motion[..., 1], 0.0, atol=1e-6)
    per_pair = iter([(-1.0, 0.0), (-2.0, 0.0), (-4.0, -1.0), (-1.5, 0.5)])
    flows.clear()
    _, motion = flowkit.predict(clip, 1, flow=estimate, context=5, average="mean", return_flow=True)
    np.testing.assert_allclose(motion[..., 0], 2.125, atol=1e-6)
    np.testing.assert_allclose(motion[..., 1], 0.125, atol=1e-6)


@pytest.mark.parametrize("positions, chosen", [
    ((0.0, 1.3, 1.9, 3.1), 4),  # steady motion, jittery frame times: the average predicts better
    ((0.0, 1.0, 1.5, 2.0), 2),  # the motion changed: the newest pair predicts the last frame exactly
    ((0.0, 0.2, 1.0, 1.5, 2.0), 2),  # only the last 4 frames count
    ((5.0, 0.0, 1.3, 1.9, 3.1), 4),
    ((0.0, 0.6, 1.4), 2),  # fewer than 4 frames: the newest pair
    ((0.0, 1.4), 2),
])
def test_auto_context_chooses_by_a_hindcast(positions, chosen, caplog):
    # the texture at x = positions[k] (and y = x / 2): the last frame is predicted from the
    # three before it with their newest pair and with the mean of their two pairs
    clip = np.stack([texture(x, 0.5 * x) for x in positions])
    calls = []

    def estimate(later, earlier):
        calls.append((later, earlier))
        return flowkit.dis(later, earlier)

    with caplog.at_level("INFO", logger="flowkit._predict"):
        got, motion = flowkit.predict(clip, 2, flow=estimate, return_flow=True)
    # the choice is logged (clips of 4 frames or more: there is one to make)
    assert [r.context for r in caplog.records] == ([chosen] if len(positions) >= 4 else [])
    want, want_motion = flowkit.predict(clip, 2, flow=flowkit.dis, context=chosen, return_flow=True)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(motion, want_motion)
    # each pair's flow once: the hindcast's two pairs are the newest three's older two
    assert len(calls) == (3 if len(positions) >= 4 else 1)
    assert len({(id(a), id(b)) for a, b in calls}) == len(calls)
    # the same choice for a clip of a batch and with the other schemes
    batch = flowkit.predict(np.stack([clip, clip[::-1][::-1]]), 2, flow=flowkit.dis)
    np.testing.assert_array_equal(batch[0], want)
    np.testing.assert_array_equal(batch[1], want)
    for scheme in ("forward", "reestimate"):
        np.testing.assert_array_equal(
            flowkit.predict(clip, 2, flow=flowkit.dis, scheme=scheme),
            flowkit.predict(clip, 2, flow=flowkit.dis, scheme=scheme, context=chosen))


def test_auto_context_chooses_the_same_for_large_float_values(caplog):
    # a field in physical units of order 1e19-1e21 (electron densities per m^3): the
    # hindcast errors' float32 squares overflowed to inf with warnings, inf < inf chose
    # context 2 where the same clip in [0, 1] chooses 4. A power-of-two scale keeps every
    # estimate bit for bit, so the choice and the prediction are the scaled ones
    clip = np.stack([texture(x, 0.5 * x) for x in (0.0, 1.3, 1.9, 3.1)]).astype(np.float64)
    scale = 2.0 ** 66
    with caplog.at_level("INFO", logger="flowkit._predict"):
        want = flowkit.predict(clip, 2, flow=flowkit.dis)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = flowkit.predict(clip * scale, 2, flow=flowkit.dis)
    assert [r.context for r in caplog.records] == [4, 4]
    np.testing.assert_allclose(got / scale, want, rtol=0, atol=1e-6)


def test_auto_context_hindcasts_over_the_last_gap():
    # frames at steps 0, 1, 2 and 4 (one dropped) of a texture moving 0.7 px per step with a
    # jittery third frame: the hindcast predicts the last frame two steps after the third
    steps = (0.0, 1.0, 2.0, 4.0)
    positions = (0.0, 0.7, 1.0, 2.8)
    clip = np.stack([texture(x) for x in positions])
    got = flowkit.predict(clip, 1, flow=flowkit.dis, times=steps)
    want = flowkit.predict(clip, 1, flow=flowkit.dis, times=steps, context=4)
    np.testing.assert_array_equal(got, want)
    assert np.abs(interior(got[0] - texture(3.5))).max() < 0.06


def test_auto_context_hindcasts_with_the_gaps_in_steps_of_the_last(caplog):
    # frames at times 0, 1, 2 and 4 at x = 0, 0.5, 1.5, 3.1: over the last gap (2 time units,
    # one step) the hindcast from the frames at 0, 1, 2 (gaps of half a step) predicts x = 3.5
    # with the newest pair (error 0.4 px) and 3.0 with both (0.1 px): context 4. Gaps taken
    # as whole steps predict 2.5 and 2.25 instead, the newest pair nearer: context 2
    clip = np.stack([texture(x) for x in (0.0, 0.5, 1.5, 3.1)])
    with caplog.at_level("INFO", logger="flowkit._predict"):
        got = flowkit.predict(clip, 1, flow=flowkit.dis, times=(0.0, 1.0, 2.0, 4.0), **HELD)
    assert [r.context for r in caplog.records] == [4]
    want = flowkit.predict(clip, 1, flow=flowkit.dis, times=(0.0, 1.0, 2.0, 4.0), context=4,
                           **HELD)
    np.testing.assert_array_equal(got, want)


def test_times_divide_each_pair_by_its_gap():
    # a variable-frame-rate clip: frames at steps 0, 1 and 3 (one dropped), each pair's flow
    # is the displacement over its gap; with times the motion is per step
    clip = translating_clip((0.0, 0.0), 3)
    per_pair = iter([(-2.0, -1.0), (-0.8, -0.4)])  # newest pair (gap 2) first

    def estimate(later, earlier):
        return np.broadcast_to(np.float32(next(per_pair)), later.shape[:2] + (2,)).copy()

    _, motion = flowkit.predict(clip, 1, flow=estimate, context=3, average="mean", times=[0, 1, 3],
                                return_flow=True)
    np.testing.assert_allclose(motion[..., 0], (1.0 + 0.8) / 2, atol=1e-6)
    np.testing.assert_allclose(motion[..., 1], (0.5 + 0.4) / 2, atol=1e-6)
    # the older pair over the longer gap (steps 0, 2 and 3): each pair by its own gap
    per_pair = iter([(-1.0, -0.5), (-3.0, -1.0)])  # newest pair (gap 1) first
    _, motion = flowkit.predict(clip, 1, flow=estimate, context=3, average="mean", times=[0, 2, 3],
                                return_flow=True)
    np.testing.assert_allclose(motion[..., 0], (1.0 + 1.5) / 2, atol=1e-6)
    np.testing.assert_allclose(motion[..., 1], (0.5 + 0.5) / 2, atol=1e-6)
    # a real estimator on a texture moving 0.5 px per step, sampled at steps 0 and 2: the
    # prediction one step on is the texture at 1.5 px, as from frames one step apart
    pair = np.stack([texture(0.0), texture(1.0)])
    predicted, motion = flowkit.predict(pair, 2, flow="farneback", times=[0.0, 2.0], **HELD,
                                        return_flow=True)
    plain, whole = flowkit.predict(pair, 2, flow="farneback", **HELD, return_flow=True)
    np.testing.assert_array_equal(motion, whole / 2)
    for k in range(2):
        assert np.abs(interior(predicted[k] - texture(1.0 + 0.5 * (k + 1)))).max() < 0.01
    assert np.abs(interior(plain[0] - texture(1.5))).max() > 0.05  # two steps' motion per step
    # the re-estimating recursion: the predicted frames are one step apart
    estimate = constant_estimator((-1.0, -0.5))
    predicted, first = flowkit.predict(clip[:2], 3, flow=estimate, scheme="reestimate",
                                       times=[0, 2], return_flow=True)
    np.testing.assert_allclose(first, np.broadcast_to(np.float32((0.5, 0.25)), first.shape))
    # after the first step the gap is one step: the whole flow each step (half of it, as the
    # input's gap of 2, moved the later frames half as far)
    expected, frame = [], clip[1]
    for motion in ((0.5, 0.25), (1.0, 0.5), (1.0, 0.5)):
        frame = flowkit.warp(frame, np.full((H, W, 2), np.negative(motion), np.float32))
        expected.append(frame)
    np.testing.assert_array_equal(predicted, np.stack(expected))


@pytest.mark.parametrize("times, message", [
    ([0.0], r"times: expected a sequence of 2 numbers \(one per frame\), got \[0.0\]"),
    ("01", r"times: expected a sequence of 2 numbers \(one per frame\), got '01'"),
    ([1.0, 1.0], r"times: expected finite, increasing times, got \[1.0, 1.0\]"),
    ([0.0, float("nan")], r"times: expected finite, increasing times, got \[0.0, nan\]"),
    (["0", "1"], r"times: expected a sequence of 2 numbers \(one per frame\), got \['0', '1'\]"),
    ([False, True], r"times: expected a sequence of 2 numbers \(one per frame\), got \[False, True\]"),
])
def test_bad_times(times, message):
    with pytest.raises(ValueError, match=message):
        flowkit.predict(translating_clip((0.5, 0.0), 2), 1, times=times)
    with pytest.raises(ValueError, match=r"times: not with a flow array"):
        flowkit.predict(translating_clip((0.5, 0.0), 2), 1, times=[0, 1],
                        flow=np.zeros((H, W, 2), np.float32))


def test_context_chains_older_flows_along_the_trajectory():
    # the older pair's flow is read where the newest flow points: a flow field that varies
    # along x checks the sampling point
    clip = translating_clip((0.0, 0.0), 3)
    x = np.arange(W, dtype=np.float32)
    older = np.zeros((H, W, 2), np.float32)
    older[..., 0] = -0.01 * x  # depends on x
    newest = np.zeros((H, W, 2), np.float32)
    newest[..., 0] = -2.0
    flows = iter([newest, older])
    _, motion = flowkit.predict(clip, 1, flow=lambda a, b: next(flows), context=3, average="mean",
                                return_flow=True)
    reached = np.clip(x - 2.0, 0, W - 1)  # replicate border
    expected = 0.5 * (2.0 + 0.01 * reached)
    np.testing.assert_allclose(motion[0, :, 0], expected, atol=1e-5)
    # a third pair's flow is read where the first two flows, chained, point (their sum): a
    # chain that restarted from the last flow alone read it 2 px off (0.04 px of motion)
    oldest = np.zeros((H, W, 2), np.float32)
    oldest[..., 0] = -0.02 * x
    flows = iter([newest, older, oldest])
    clip = translating_clip((0.0, 0.0), 4)
    _, motion = flowkit.predict(clip, 1, flow=lambda a, b: next(flows), context=4, average="mean",
                                return_flow=True)
    second = np.clip(reached - 0.01 * reached, 0, W - 1)  # x + newest + older(x + newest)
    expected = (2.0 + 0.01 * reached + 0.02 * second) / 3
    np.testing.assert_allclose(motion[0, :, 0], expected, atol=1e-5)


def test_reestimate_is_the_literal_recursion():
    clip = translating_clip((0.4, 0.3), 2)
    estimate = constant_estimator((-0.4, -0.3))
    predicted = flowkit.predict(clip, 3, flow=estimate, scheme="reestimate")
    expected, frame = [], clip[-1]
    for _ in range(3):
        frame = flowkit.warp(frame, np.full((H, W, 2), (-0.4, -0.3), np.float32))
        expected.append(frame)
    np.testing.assert_array_equal(predicted, np.stack(expected))
    assert len(estimate.calls) == 3
    np.testing.assert_array_equal(estimate.calls[1][0], expected[0])  # the newest frame is a prediction
    np.testing.assert_array_equal(estimate.calls[1][1], clip[-1])


def test_semi_lagrangian_is_sharper_than_reestimate():
    # a texture with fine detail moving by a sub-pixel step: the recursion resamples (and
    # blurs) at every step, the semi-Lagrangian scheme samples the last frame once
    rng = np.random.default_rng(3)
    import cv2

    base = cv2.GaussianBlur(rng.random((H + 40, W + 40)).astype(np.float32), (0, 0), 1.0)
    velocity = (0.5, 0.5)
    shifted = [flowkit.warp(base, np.full(base.shape + (2,), (-k * velocity[0], -k * velocity[1]),
                                          np.float32))[20:-20, 20:-20] for k in range(10)]
    clip, truth = np.stack(shifted[:2]), shifted[2:]
    motion = np.full((H, W, 2), velocity, np.float32)
    estimate = constant_estimator((-velocity[0], -velocity[1]))
    sl = flowkit.predict(clip, 8, flow=motion)
    chain = flowkit.predict(clip, 8, flow=estimate, scheme="reestimate")

    def detail(image):
        return float(np.mean(np.abs(np.diff(interior(image), axis=-1))))

    truth_detail = detail(truth[-1])
    assert detail(sl[-1]) > 0.8 * truth_detail  # one bilinear sample at a half-pixel
    assert detail(chain[-1]) < 0.6 * truth_detail  # eight of them
    assert np.abs(interior(sl[-1] - truth[-1])).mean() < 0.5 * np.abs(interior(chain[-1] - truth[-1])).mean()


def test_layouts_dtypes_and_batches():
    clip = (translating_clip((0.5, 0.0), 3) * 255).round().astype(np.uint8)
    rgb = np.stack([clip, 255 - clip, clip // 2], axis=-1)
    one = flowkit.predict(rgb, 2)
    assert one.shape == (2, H, W, 3) and one.dtype == np.uint8
    batch = flowkit.predict(np.stack([rgb, rgb[:, :, ::-1]]), 2)
    assert batch.shape == (2, 2, H, W, 3)
    np.testing.assert_array_equal(batch[0], one)
    np.testing.assert_array_equal(batch[1], flowkit.predict(rgb[:, :, ::-1], 2))
    gray_batch = flowkit.predict(np.stack([clip, clip]), 2)
    assert gray_batch.shape == (2, 2, H, W)
    options = {"speed_spread": 0.1, "advect_flow": True}
    one = flowkit.predict(rgb, 2, **options)
    assert one.shape == (2, H, W, 3) and one.dtype == np.uint8
    np.testing.assert_array_equal(flowkit.predict(np.stack([rgb, rgb]), 2, **options)[1], one)
    np.testing.assert_array_equal(flowkit.predict(list(clip), 2), flowkit.predict(clip, 2))


@pytest.mark.parametrize("scheme", ["forward", "reestimate"])
def test_other_schemes_predict_a_translation(scheme):
    clip = translating_clip((0.6, -0.35), 6)
    predicted = flowkit.predict(clip[:2], 4, scheme=scheme)
    errors = np.abs(interior(predicted - clip[2:], 24)).mean(axis=(1, 2))
    repeat = np.abs(interior(clip[2:] - clip[1], 24)).mean(axis=(1, 2))
    assert np.all(errors < 0.25 * repeat)


def test_smoothing_reaches_the_motion():
    clip = translating_clip((0.5, 0.0), 2)
    noisy = np.random.default_rng(0).normal(0, 0.5, (H, W, 2)).astype(np.float32)
    _, used = flowkit.predict(clip, 1, flow=noisy, smooth={"method": "gaussian", "size": 9}, return_flow=True)
    np.testing.assert_array_equal(used, flowkit.smooth_flow(noisy, method="gaussian", size=9))
    _, used = flowkit.predict(clip, 1, flow=noisy, smooth={"method": "bilateral"}, return_flow=True)
    np.testing.assert_array_equal(used, flowkit.smooth_flow(noisy, method="bilateral", guide=clip[-1]))


@pytest.mark.parametrize("scheme", ["semi-lagrangian", "forward", "reestimate"])
def test_a_fade_in_the_context_is_not_extrapolated(scheme):
    # documented: every scheme moves the last frame's values (pysteps' Lagrangian
    # persistence), so a clip fading by 0.05 a frame predicts the last frame's brightness
    gains = [1.0, 0.95, 0.9, 0.85]
    clip = translating_clip((1.0, 0.0), 4) * np.float32(gains)[:, None, None]
    predicted = flowkit.predict(clip, 3, scheme=scheme)
    last = interior(clip[-1]).mean()
    np.testing.assert_allclose(interior(predicted).mean(axis=(1, 2)), last, atol=0.005)


def test_speed_spread_is_the_gauss_hermite_mean_of_three_speeds():
    # a uniform motion traces back exactly: D_k = -k v, so each frame is the mean of the
    # last frame sampled at x - k v (1 + s z) over the nodes z = 0, +-sqrt(3) (weights 2/3,
    # 1/6, 1/6); reference: float64 bilinear sampling with a replicated border
    from scipy.ndimage import map_coordinates

    velocity, spread = np.array([0.7, -0.4]), 0.2
    clip = translating_clip(velocity, 2)
    predicted = flowkit.predict(clip, 3, flow=np.full((H, W, 2), velocity, np.float32),
                                speed_spread=spread)
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    last = clip[-1].astype(np.float64)
    for k in range(1, 4):
        expected = sum(weight * map_coordinates(last, [y - k * velocity[1] * (1 + spread * z),
                                                       x - k * velocity[0] * (1 + spread * z)],
                                                order=1, mode="nearest")
                       for z, weight in ((-np.sqrt(3), 1 / 6), (0.0, 2 / 3), (np.sqrt(3), 1 / 6)))
        np.testing.assert_allclose(predicted[k - 1], expected, atol=2e-5)
    clip8 = (clip * 255).round().astype(np.uint8)
    motion = np.full((H, W, 2), velocity, np.float32)
    as_uint8 = flowkit.predict(clip8, 3, flow=motion, speed_spread=spread)
    assert as_uint8.dtype == np.uint8
    as_float = flowkit.predict(clip8.astype(np.float32) / 255, 3, flow=motion, speed_spread=spread)
    np.testing.assert_allclose(as_uint8, as_float * 255, atol=0.5 + 1e-3)  # rounded once, at the end


def test_speed_spread_lowers_the_error_of_an_uncertain_speed_and_keeps_static_content():
    # fine detail whose true speed is 20 % below or above the estimate, each as likely: at +8
    # the sharp prediction is ~1.4 px off either way; the ensemble mean spreads the detail
    # along the motion and has the lower mean squared error over the two futures (measured
    # 0.82 of it). When the speed is exact, the spread only blurs (the error rises). Where the
    # motion is zero nothing moves and nothing blurs.
    import cv2

    rng = np.random.default_rng(5)
    base = cv2.GaussianBlur(rng.random((H + 40, W + 40)).astype(np.float32), (0, 0), 1.0)
    velocity = np.array([0.8, 0.3], np.float32)

    def shifted(k):
        return flowkit.warp(base, np.full(base.shape + (2,), -k * velocity, np.float32))[20:-20, 20:-20]

    clip = np.stack([shifted(0), shifted(1)])
    motion = np.full((H, W, 2), velocity, np.float32)
    motion[:, : W // 2] = 0.0  # the left half is held still
    sharp = flowkit.predict(clip, 8, flow=motion, **HELD)
    spread = flowkit.predict(clip, 8, flow=motion, advect_flow=False, speed_spread=0.15)
    right = (slice(16, -16), slice(W // 2 + 16, -8))

    def error(predicted, speeds):
        return np.mean([np.mean((predicted[-1][right] - shifted(1 + 8 * s)[right]) ** 2) for s in speeds])

    assert error(spread, (0.8, 1.2)) < 0.9 * error(sharp, (0.8, 1.2))
    assert error(spread, (1.0,)) > 1.5 * error(sharp, (1.0,))
    np.testing.assert_allclose(spread[:, :, : W // 2 - 2], sharp[:, :, : W // 2 - 2], atol=1e-6)  # float32 sums


def test_no_flow_or_frame_is_held_past_its_use():
    """The default prediction (context 'auto', advected motion) on a 512x512 RGB uint8 clip,
    Python-level peak (tracemalloc; NumPy's buffers are traced) in float32 RGB frames: 8.3
    measured. 11.1 while each advection step held the previous step's splat and weight, the
    memoized flows of every pair were held through the extrapolation, and the float32 last
    frame and the first hindcast through the second hindcast. A constant-flow estimator keeps
    the estimator's own memory out of it."""
    peak = fresh_python_peak("""
        import numpy as np
        import flowkit

        clip = np.random.default_rng(0).integers(0, 256, (4, 512, 512, 3), dtype=np.uint8)

        def estimate(frame0, frame1):
            flow = np.zeros(frame0.shape[:2] + (2,), np.float32)
            flow[..., 0] = -2.0
            return flow

        flowkit.predict(clip, 2, flow=estimate)  # compiled and loaded before measuring
        """, "flowkit.predict(clip, 2, flow=estimate)")
    assert peak / (512 * 512 * 3 * 4) < 9.5


def test_advect_flow_keeps_a_uniform_motion_and_carries_a_moving_object():
    # a uniform field carried by itself is the same field: the trajectories are the
    # stationary scheme's, D_k = -k v
    velocity = (0.6, -0.35)
    clip = translating_clip(velocity, 2)
    uniform = np.full((H, W, 2), velocity, np.float32)
    np.testing.assert_allclose(flowkit.predict(clip, 4, flow=uniform, advect_flow=True, speed_spread=0),
                               flowkit.predict(clip, 4, flow=uniform, **HELD), atol=1e-5)
    # a textured square moving 2 px per frame over a still background, with its exact motion:
    # held in place, the field leaves the square's leading part where the square was (its
    # front samples the background, its back is stretched); carried along, the square moves
    # whole (measured: 0.49-0.52 of the stationary scheme's error inside the square)
    import cv2

    rng = np.random.default_rng(1)
    size = (64, 96)
    background = cv2.GaussianBlur(rng.random(size).astype(np.float32), (0, 0), 1.0)
    square = cv2.GaussianBlur(rng.random((24, 20)).astype(np.float32), (0, 0), 1.0) * 0.5 + 0.5

    def frame(k):
        out = background.copy()
        out[20:44, 20 + 2 * k: 40 + 2 * k] = square
        return out

    motion = np.zeros(size + (2,), np.float32)
    motion[20:44, 22:42, 0] = 2.0
    clip = np.stack([frame(0), frame(1)])
    held = flowkit.predict(clip, 4, flow=motion, **HELD)
    carried = flowkit.predict(clip, 4, flow=motion, advect_flow=True, speed_spread=0)
    for k in range(1, 5):
        inside = (slice(20, 44), slice(22 + 2 * k, 42 + 2 * k))
        truth = frame(1 + k)[inside]
        assert np.abs(carried[k - 1][inside] - truth).mean() < 0.6 * np.abs(held[k - 1][inside] - truth).mean()


@pytest.mark.parametrize("kwargs, error, message", [
    ({"horizon": 0}, ValueError, r"horizon: expected an integer >= 1, got 0"),
    ({"horizon": 1.5}, TypeError, r"horizon: expected an integer, got 1.5"),
    ({"context": 4}, ValueError, r"frames: expected at least context=4 frames, got 3"),
    ({"context": 1}, ValueError, r"context: expected an integer >= 2, got 1"),
    ({"context": "automatic"}, ValueError, r"context: expected an integer >= 2 or 'auto', got 'automatic'"),
    ({"context": 2.0}, TypeError, r"context: expected an integer >= 2 or 'auto', got 2.0"),
    ({"scheme": "lagrangian"}, ValueError, r"scheme: expected one of 'semi-lagrangian', 'forward', "
                                           r"'reestimate', got 'lagrangian'"),
    ({"average": "mode"}, ValueError, r"average: expected one of 'median', 'mean', got 'mode'"),
    ({"flow": "pwc-net"}, ValueError, r"flow: expected one of \('dis', .*'farneback', 'lucas_kanade', 'raft'.*\)"),
    ({"flow_options": {"radius": 2}}, ValueError, r"flow_options: 'radius' is not an option of dis"),
    ({"flow": "farneback", "flow_options": {"levels": -1}}, ValueError,
     r"flow_options\['levels'\]: expected an integer >= 0, got -1"),
    ({"flow_options": {"patch_size": 1}}, ValueError,
     r"flow_options\['patch_size'\]: expected an integer >= 2, got 1"),
    ({"flow": np.zeros((H, W + 1, 2), np.float32)}, ValueError,
     rf"flow: expected shape \({H}, {W}, 2\), got \({H}, {W + 1}, 2\)"),
    ({"flow": np.zeros((H, W, 2), np.float32), "flow_options": {"winsize": 5}}, ValueError,
     r"flow_options: for an estimator named by flow, got \{'winsize': 5\} with a flow array"),
    ({"flow": np.zeros((H, W, 2), np.float32), "scheme": "reestimate"}, ValueError,
     r"flow: scheme='reestimate' re-estimates the motion at every step"),
    ({"smooth": "gaussian"}, TypeError, r"smooth: expected a dict of smooth_flow options or None, got 'gaussian'"),
    ({"n_iter": -1}, ValueError, r"n_iter: expected an integer >= 0, got -1"),
    ({"speed_spread": -0.1}, ValueError, r"speed_spread: expected a number in \[0.0, 0.5\], got -0.1"),
    ({"speed_spread": 0.6}, ValueError, r"speed_spread: expected a number in \[0.0, 0.5\], got 0.6"),
    ({"speed_spread": "0.1"}, TypeError, r"speed_spread: expected a real number, got '0.1'"),
    ({"speed_spread": 0.1, "scheme": "forward"}, ValueError,
     r"speed_spread: only for scheme='semi-lagrangian', got 0.1 with scheme='forward'"),
    ({"advect_flow": 1}, TypeError, r"advect_flow: expected a bool, got 1"),
    ({"advect_flow": True, "scheme": "reestimate"}, ValueError,
     r"advect_flow: only for scheme='semi-lagrangian', got True with scheme='reestimate'"),
    ({"advect_flow": True, "n_iter": 3}, ValueError,
     r"n_iter: does not apply with advect_flow=True \(its trajectories take one step per frame "
     r"through the carried velocities\), got n_iter=3"),
    ({"n_iter": 3}, ValueError,
     r"n_iter: does not apply with advect_flow=True \(its trajectories take one step per frame "
     r"through the carried velocities, the default: pass advect_flow=False to trace a held "
     r"field\), got n_iter=3"),
    ({"n_iter": 3, "scheme": "forward"}, ValueError,
     r"n_iter: only for scheme='semi-lagrangian' \(its trajectories\), got n_iter=3 with "
     r"scheme='forward'"),
    ({"n_iter": 0, "scheme": "reestimate"}, ValueError,
     r"n_iter: only for scheme='semi-lagrangian' \(its trajectories\), got n_iter=0 with "
     r"scheme='reestimate'"),
    # named as given, not as the estimator's option it is passed on as (flow_options['device'])
    ({"device": "gpu"}, ValueError, r"^device: expected one of 'cpu', 'cuda' or None, got 'gpu'$"),
])
def test_bad_input(kwargs, error, message):
    clip = translating_clip((0.5, 0.0), 3)
    horizon = kwargs.pop("horizon", 2)
    with pytest.raises(error, match=message):
        flowkit.predict(clip, horizon, **kwargs)


@pytest.mark.parametrize("batched", [False, True])
def test_a_horizon_beyond_the_memory_is_refused_naming_it(monkeypatch, batched):
    # numpy's bare MemoryError ("Unable to allocate 298. GiB") came after the flow was estimated
    # and named no parameter: the size is checked first, against the machine's whole memory
    clip = translating_clip((0.5, 0.0), 3)
    clips = np.stack([clip, clip]) if batched else clip
    frame_bytes = clip[0].nbytes * (2 if batched else 1)
    estimated = []
    monkeypatch.setattr("flowkit._validate._memory_total", lambda xp: 100 * frame_bytes)
    flow = lambda a, b: estimated.append(1) or np.zeros(a.shape[:2] + (2,), np.float32)  # noqa: E731
    for error in (MemoryError, ValueError):  # either catches it
        with pytest.raises(error, match="^horizon: 101 predicted frames of shape "
                                        + re.escape(f"{clip.shape[1:]} and dtype {clip.dtype}")
                                        + r".* would need at least .* MiB, more than "
                                        r"this machine's memory \(.* MiB\), which holds at most 100 of them"):
            flowkit.predict(clips, 101, flow=flow)
    assert not estimated
    assert flowkit.predict(clips, 100, flow=flow, context=2).shape == clips.shape[:-3] + (100,) + clip.shape[1:]
    with pytest.raises(MemoryError, match=r"^horizon: 10000000000000 predicted frames"):
        monkeypatch.undo()
        flowkit.predict(clip, 10 ** 13)


@pytest.mark.parametrize("scheme", ["semi-lagrangian", "reestimate"])
def test_frames_too_small_for_the_default_estimator_say_what_works(scheme):
    clip = np.random.default_rng(0).integers(0, 256, (2, 15, 15), np.uint8)
    with pytest.raises(ValueError, match=r"^frames: expected frames at least 16x16 pixels .*got "
                                         r"15x15 \(width x height\) for flow='dis'; flow='lucas_kanade' works") as raised:
        flowkit.predict(clip, 2, scheme=scheme)
    # the requirement alone, for callers that name their own flag (the CLI)
    assert raised.value.need.startswith("expected frames at least 16x16 pixels (patch_size=8")
    assert raised.value.need.endswith("got 15x15 (width x height)")
    assert flowkit.predict(clip, 2, scheme=scheme, flow="lucas_kanade").shape == (2, 15, 15)


def test_frames_too_small_pickles_whole():
    # flowkit.batch's worker processes send it back pickled; a fresh instance, since the
    # traceback a raised one carries pickles only where tblib is installed (distributed does)
    from flowkit._validate import FramesTooSmall

    error = FramesTooSmall("frames", "expected frames at least 16x16 pixels, got 15x15",
                           " for flow='dis'")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is FramesTooSmall and isinstance(again, ValueError)
    assert str(again) == "frames: expected frames at least 16x16 pixels, got 15x15 for flow='dis'"
    assert (again.parameter, again.need, again.hint) == (error.parameter, error.need, error.hint)


def test_check_options_returns_every_checked_option():
    from flowkit._predict import check_options

    options = dict(context=2, scheme="semi-lagrangian", average="median", return_flow=False,
                   method="flow")
    checked = check_options(3, n_iter=1, speed_spread=0.25, advect_flow=np.bool_(True), **options)
    assert checked == (3, 2, 1, "semi-lagrangian", "median", "flow", 0.25, True)
    assert type(checked[-1]) is bool
    # the default n_iter is no request: advect_flow with it predicts; another value is refused
    clip = translating_clip((0.5, 0.0), 3)
    np.testing.assert_array_equal(flowkit.predict(clip, 2, advect_flow=True, n_iter=1),
                                  flowkit.predict(clip, 2, advect_flow=True))
    with pytest.raises(ValueError, match=r"n_iter: does not apply with advect_flow=True"):
        check_options(3, n_iter=0, advect_flow=True, **options)
    # None (predict's default) is the scheme's default: the spread and the advected field for
    # the semi-Lagrangian scheme, neither for the others
    assert check_options(3, n_iter=1, **options)[-2:] == (0.1, True)
    for scheme in ("forward", "reestimate"):
        assert check_options(3, n_iter=1, **dict(options, scheme=scheme))[-2:] == (0.0, False)
    np.testing.assert_array_equal(flowkit.predict(clip, 2, scheme="forward"),
                                  flowkit.predict(clip, 2, scheme="forward", speed_spread=0,
                                                  advect_flow=False))


def test_bad_frames():
    with pytest.raises(ValueError, match=r"frames\[1\]: expected the same shape as frames\[0\] \(64, 80\), "
                                         r"got \(64, 81\)"):
        flowkit.predict([texture(), np.zeros((H, W + 1), np.float32)], 1)
    with pytest.raises(ValueError, match=r"frames: expected 3-D or 4-D or 5-D array, got 2-D"):
        flowkit.predict(texture(), 1)
    nan = translating_clip((0.5, 0.0), 3)
    nan[1, 3, 4] = np.nan
    with pytest.raises(ValueError, match=r"frames: expected finite values, got NaN or infinity"):
        flowkit.predict(nan, 1)
    with pytest.raises(TypeError, match=r"frames: expected dtype uint8, uint16, float16, float32 or float64, got bool"):
        flowkit.predict(np.zeros((2, H, W), bool), 1)
    # None or a path: named as given, not "expected 3-D or 4-D or 5-D array, got 0-D" (a new user's report)
    with pytest.raises(TypeError, match=r"^frames: expected an array, got None$"):
        flowkit.predict(None, 2)
    with pytest.raises(TypeError, match=r"^frames: expected an array, got 'clip.mp4'$"):
        flowkit.predict("clip.mp4", 2)
    # two channels: named as the frames given, not as the estimator's frame0
    two = np.stack([texture(), texture()], axis=-1)
    with pytest.raises(ValueError, match=r"^frames: expected 1, 3 or 4 channels .*got 2 channels in "
                                         rf"shape \(3, {H}, {W}, 2\)$"):
        flowkit.predict(np.stack([two] * 3), 2, flow="farneback")


def test_one_image_is_not_read_as_a_clip():
    with pytest.raises(ValueError, match=r"frames: expected a clip \(T, H, W\) or \(T, H, W, C\) of at least "
                                         r"2 frames, got shape \(64, 80, 3\), which looks like one image"):
        flowkit.predict(np.zeros((H, W, 3), np.uint8), 2)


def test_a_list_of_narrow_gray_frames_is_a_clip():
    # a list (or iterable) of 2-D frames is a clip whatever their width: stacked, gray frames
    # at most 4 pixels wide are (T, H, W) with W <= 4, which an array of that shape would be
    # read as one colour image; the list was refused as "one image" and told to stack its frames
    rng = np.random.default_rng(3)
    scene = rng.random((40, 4)).astype(np.float32)
    frames = [np.roll(scene, k, axis=0) for k in range(3)]
    motion = np.zeros((40, 4, 2), np.float32)
    motion[..., 1] = 1.0
    out = flowkit.predict(frames, 2, flow=motion, speed_spread=0)
    assert out.shape == (2, 40, 4) and out.dtype == np.float32
    np.testing.assert_allclose(out[0, 1:], frames[-1][:-1], atol=1e-6)   # 1 px down per step
    np.testing.assert_array_equal(out, flowkit.predict(iter(frames), 2, flow=motion, speed_spread=0))
    with pytest.raises(ValueError, match=r"which looks like one image with 4 channels"):
        flowkit.predict(np.stack(frames), 2, flow=motion)   # the array stays one image


@pytest.mark.parametrize("scheme, options", [("semi-lagrangian", {}), ("forward", {}),
                                             ("semi-lagrangian", {"speed_spread": 0.2, "advect_flow": True}),
                                             ("semi-lagrangian", {"speed_spread": 0.2, "advect_flow": False})])
def test_cuda_path_matches_cpu(scheme, options):
    pytest.importorskip("numba.cuda")
    clip = translating_clip((0.5, -0.25), 3)[:, :24, :28]
    cpu = flowkit.predict(clip, 2, scheme=scheme, flow="lucas_kanade", flow_options={"levels": 1},
                          **options)
    gpu = flowkit.predict(clip, 2, scheme=scheme, flow="lucas_kanade", flow_options={"levels": 1},
                          device="cuda", **options)
    assert isinstance(gpu, np.ndarray)  # NumPy in, NumPy out
    # the estimator and the kernels ran through the CUDA drivers (the simulator in CI): the
    # same math as the CPU, up to float32 reassociation in the flow
    np.testing.assert_allclose(gpu, cpu, atol=2e-3)


@pytest.mark.parametrize("options", [HELD, {"advect_flow": False}, {}])
def test_cuda_path_makes_unknown_motion_nan_as_the_cpu(options):
    pytest.importorskip("numba.cuda")
    clip = 280 + 2 * translating_clip((0.5, -0.25), 3)[:, :20, :24]
    motion = np.full((20, 24, 2), 0.5, np.float32)
    motion[5:8, 6:9] = np.nan
    cpu = flowkit.predict(clip, 2, flow=motion, **options)
    gpu = flowkit.predict(clip, 2, flow=motion, device="cuda", **options)
    np.testing.assert_array_equal(np.isnan(gpu), np.isnan(cpu))
    assert np.isnan(cpu).any() == (options != {})
    np.testing.assert_allclose(gpu, cpu, atol=1e-4)  # float32 at 280: a few ulps


# scene cuts in the context (scene_threshold): a shot of one texture, then a cut to another
def second_shot(frames, velocity=(0.75, 0.25)):
    """``frames`` of a different texture (a transposed, inverted one) translating by ``velocity``."""
    return np.stack([1.0 - texture(k * velocity[1], k * velocity[0], shape=(W, H)).T
                     for k in range(frames)])


def test_last_scene_cut_compares_each_pair_with_its_neighbour():
    from flowkit._retime import last_scene_cut

    a, b = translating_clip((0.5, 0.0), 3), second_shot(3)
    assert last_scene_cut(np.concatenate([a, b]), 10.0)[0] == 3  # the first frame of the new shot
    assert last_scene_cut(np.concatenate([a[:1], b]), 10.0)[0] == 1  # a cut in the first pair
    assert last_scene_cut(np.concatenate([a, b[:1]]), 10.0)[0] == 3  # ... in the last pair
    assert last_scene_cut(a, 10.0) == (0, None)
    assert last_scene_cut(np.concatenate([a[-1:], b[:1]]), 10.0) == (0, None)  # 2 frames: no test
    # the same differences every pair (a noise texture moving): no cut, however large
    noise = np.random.default_rng(0).random((H, W)).astype(np.float32)
    assert last_scene_cut(np.stack([np.roll(noise, k, axis=1) for k in range(4)]), 10.0) == (0, None)
    cut = np.concatenate([a[:2], b[:2]])
    assert last_scene_cut(cut, 100.0)[0] == 0  # the threshold decides


@pytest.mark.parametrize("context", ["auto", 2, 3])
def test_motion_is_estimated_after_a_scene_cut_in_the_context(context):
    first, second = translating_clip((0.5, 0.0), 3), second_shot(2)
    clip = np.concatenate([first, second])  # a cut before the last 2 frames
    expected = flowkit.predict(second, 3)
    np.testing.assert_array_equal(flowkit.predict(clip, 3, context=context), expected)
    across = flowkit.predict(clip, 3, context=context, scene_threshold=None)
    # the new shot is predicted: within the defaults' speed-spread blur (~0.01 mean)
    truth = second_shot(5)[2:]
    error = np.abs(interior(expected - truth)).mean()
    assert error < 0.015
    if context != 2:  # 2 reads only the last pair, after the cut
        assert np.abs(interior(across - truth)).mean() > 2 * error


def test_only_the_last_frame_after_a_scene_cut_is_repeated(caplog):
    clip = np.concatenate([translating_clip((0.5, 0.0), 3), second_shot(1)])
    with caplog.at_level("INFO", logger="flowkit._predict"):
        predicted, motion = flowkit.predict(clip, 2, return_flow=True)
    np.testing.assert_array_equal(predicted, np.stack([clip[-1]] * 2))
    np.testing.assert_array_equal(motion, np.zeros((H, W, 2), np.float32))
    assert [r.scene_cut for r in caplog.records if hasattr(r, "scene_cut")] == [1]
    assert "scene cut before the last frame" in caplog.text
    # a batch: each clip on its own; a cut before the context's frames does not matter
    uncut = translating_clip((0.5, 0.0), 4)
    batch = flowkit.predict(np.stack([clip, uncut]), 2)
    np.testing.assert_array_equal(batch[0], predicted)
    np.testing.assert_array_equal(batch[1], flowkit.predict(uncut, 2))
    early = np.concatenate([second_shot(1), translating_clip((0.5, 0.0), 3)])
    np.testing.assert_array_equal(flowkit.predict(early, 2, context=2),
                                  flowkit.predict(early, 2, context=2, scene_threshold=None))


@pytest.mark.parametrize("value, error, message", [
    (0, ValueError, r"scene_threshold: expected a number in \(0, 100\], got 0.0"),
    (101, ValueError, r"scene_threshold: expected a number in \(0, 100\], got 101.0"),
    ("10", TypeError, r"scene_threshold: expected a real number, got '10'"),
])
def test_bad_scene_threshold(value, error, message):
    with pytest.raises(error, match=message):
        flowkit.predict(translating_clip((0.5, 0.0), 3), 2, scene_threshold=value)


def test_real_scene_cut_in_the_context():
    """Tears of Steel cuts between its frames 20 and 21: from frames 19-22 the motion comes from
    21-22, and the prediction beats both the motion across the cut and repeating frame 22."""
    import itertools

    from cases import data_path

    frames = list(itertools.islice(flowkit.iter_frames(
        data_path("video", "zwm__clip_01_tears_of_steel.mp4"), resize=(320, 180)), 19, 25))
    context, truth = np.stack(frames[:4]), frames[4:]
    with_test = flowkit.predict(context, 2)
    across = flowkit.predict(context, 2, scene_threshold=None)
    for k in range(2):
        gained = flowkit.metrics.psnr(with_test[k], truth[k])
        assert gained > flowkit.metrics.psnr(across[k], truth[k]) + 3.0
        assert gained > flowkit.metrics.psnr(frames[3], truth[k]) + 3.0


def test_frames_from_an_iterable_and_smooth_options_checked_by_name():
    clip = translating_clip((0.5, 0.0), 3)
    np.testing.assert_array_equal(flowkit.predict(iter(list(clip)), 2), flowkit.predict(clip, 2))
    np.testing.assert_array_equal(flowkit.predict((f for f in clip), 2, context=2),
                                  flowkit.predict(clip, 2, context=2))
    # a long iterable: only the frames predict reads are kept, times cut to them
    long = translating_clip((0.5, 0.25), 9)
    times = [0, 1, 2, 3, 4, 5, 6.5, 7, 8]
    for context in ("auto", 2, 5):
        np.testing.assert_array_equal(
            flowkit.predict(iter(long), 2, context=context, times=times),
            flowkit.predict(long, 2, context=context, times=times))
    with pytest.raises(ValueError, match=r"times: expected 9 numbers \(one per frame read from "
                                         r"frames\), got 4"):
        flowkit.predict(iter(long), 2, times=times[-4:])
    with pytest.raises(ValueError, match=r"smooth: 'bogus' is not an option of smooth_flow \(its "
                                         r"options: method, size, sigma, guide, sigma_color, device\)"):
        flowkit.predict(clip, 2, smooth={"bogus": 1})


@pytest.mark.parametrize("scheme", ["semi-lagrangian", "forward", "reestimate"])
def test_rgba_clip_is_weighed_by_its_rgb_and_carries_alpha(scheme):
    """An RGBA clip: the estimators and the splat metrics read the RGB channels alone, so the
    prediction's RGB channels are the RGB clip's whatever the alpha (a random alpha moved the
    forward scheme's RGB by up to 11 levels when the metric counted it); alpha is carried
    along (an opaque alpha stays opaque)."""
    rng = np.random.default_rng(0)
    rgb = np.stack([np.rint(255 * np.clip(np.stack([texture(2.0 * k, k), texture(k, 2.0 * k),
                                                      texture(0.5 * k, 0.0)], axis=-1), 0, 1))
                    for k in range(3)]).astype(np.uint8)
    expected = flowkit.predict(rgb, 2, scheme=scheme)
    for alpha in (rng.integers(0, 256, rgb.shape[:3] + (1,), np.uint8),
                  np.full(rgb.shape[:3] + (1,), 255, np.uint8)):
        got = flowkit.predict(np.concatenate([rgb, alpha], axis=-1), 2, scheme=scheme)
        assert got.shape == expected.shape[:3] + (4,)
        np.testing.assert_array_equal(got[..., :3], expected)
    assert (got[..., 3] == 255).all()


@pytest.mark.parametrize("count", [2, 3, 4])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_median_of_estimates_equals_numpys_median_of_the_stack(count, dtype):
    # the motion's average="median" of 2 or 3 estimates by sums and minima / maxima; NumPy's
    # median of the stack (which partitions: 20-45x slower at 1280x720) is the reference,
    # NaN and infinities included
    from flowkit._predict import _median

    rng = np.random.default_rng(count)
    arrays = [rng.standard_normal((5, 6, 2)).astype(dtype) for _ in range(count)]
    arrays[0][0, 0, 0] = np.nan
    arrays[-1][1, 2, 1] = np.nan
    arrays[0][2, 3, 0] = np.inf
    arrays[-1][3, 3, 1] = -np.inf
    arrays[0][4, 4] = arrays[-1][4, 4]  # ties
    want = np.median(np.stack(arrays), axis=0)
    got = _median([a.copy() for a in arrays], np)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_frames_of_a_reader_that_refills_one_buffer():
    # the deque held the buffer itself: every held frame became the last one read, and the
    # prediction was made from a clip of one repeated frame (59 levels off)
    f0, f1, _ = flowkit.sample_pair(48, 64)
    frames = [f0, f1, f0, f1]
    expected = flowkit.predict(frames, 1)
    np.testing.assert_array_equal(flowkit.predict(one_buffer(frames), 1), expected)


@pytest.mark.parametrize("smooth, message", [
    ({"method": "box"}, r"smooth\['method'\]: expected one of 'gaussian', 'median', 'bilateral', "
                        r"got 'box'"),
    ({"size": 4}, r"smooth\['size'\]: expected an odd integer, got 4"),
    ({"method": "median", "sigma": 1.0}, r"smooth\['sigma'\]: expected None with method='median'"),
    ({"method": "bilateral", "sigma_color": 0}, r"smooth\['sigma_color'\]: expected a number in "
                                                r"\(0.0, inf\], got 0.0"),
    ({"device": "gpu"}, r"smooth\['device'\]: expected one of 'cpu', 'cuda' or None, got 'gpu'"),
    # a window larger than the memory: found by smooth_flow after every flow, named 'size'
    ({"size": 10 ** 12 + 1}, r"^smooth\['size'\]: 1000000000001 Gaussian taps would need"),
])
def test_smooth_values_checked_before_any_flow(smooth, message):
    """A bad value in ``smooth`` is an error naming ``smooth[...]`` before the estimator runs
    (it ran first, then smooth_flow's error named 'method' or 'size', which read as predict's
    own options; found checking the docs' 'Errors (all before any kernel runs)')."""
    calls = []

    def estimator(frame0, frame1):
        calls.append(1)
        return np.zeros(frame0.shape[:2] + (2,), np.float32)

    clip = translating_clip((0.5, 0.0), 3)
    with pytest.raises(ValueError, match=message):
        flowkit.predict(clip, 2, flow=estimator, smooth=smooth)
    assert calls == []


@pytest.mark.parametrize("smooth, message", [
    ({"size": 4}, r"^smooth\['size'\]: expected an odd integer, got 4$"),
    ({"method": "bilateral", "guide": np.zeros((3, 3), np.float32)},
     rf"^smooth\['guide'\]: expected shape \(H, W\) or \(H, W, C\) with \(H, W\) = \({H}, {W}\)"),
])
def test_smooth_values_checked_where_a_cut_leaves_no_motion(smooth, message):
    """A clip whose last pair is a scene cut has no motion to smooth: a bad ``smooth`` value
    was never reported there (the repeated frame came back), and a guide of the wrong shape
    was found only by smooth_flow (from a trial of issue 8's bad inputs)."""
    clip = np.random.default_rng(0).random((3, H, W)).astype(np.float32)
    with pytest.raises(ValueError, match=message):
        flowkit.predict(clip, 2, smooth=smooth)
