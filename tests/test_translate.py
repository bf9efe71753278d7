"""flowkit.temporally_consistent / iter_temporally_consistent / translate and
``flowkit translate``: references are float64 NumPy recursions with exact flows, analytic
shifts, a dense float64 solve of the screened Poisson system, and OpenCV for ``equalize``."""

import re
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

import flowkit
from flowkit import _frame_ops, _translate

from cases import data_path, one_buffer

H, W, T = 40, 56, 8
Y, X = np.mgrid[0:H, 0:W]


def texture(shift=0.0):
    """A smooth texture moved ``shift`` px to the right (analytic, float32 in [0.2, 0.8])."""
    return (0.5 + 0.15 * np.sin((X - shift) / 3.0) * np.cos(Y / 4.0)
            + 0.15 * np.cos((X - shift) / 5.0 + Y / 7.0)).astype(np.float32)


def gains(seed=0, n=T):
    return np.random.default_rng(seed).uniform(0.7, 1.3, n)


def ema(g, s):
    """The blend recursion on a gain sequence, float64: o_0 = g_0, o_t = g_t + s (o_{t-1} - g_t)."""
    out = [g[0]]
    for value in g[1:]:
        out.append(value + s * (out[-1] - value))
    return np.array(out)


def exact_shift(u):
    """A flow estimator for a scene moving ``u`` px to the right per frame: the flow from frame
    t to frame t - 1 is (-u, 0), and (u, 0) back."""
    def estimate(frame0, frame1):
        flow = np.zeros(frame0.shape[:2] + (2,), np.float32)
        sign = -1.0 if estimate.calls % 2 == 0 else 1.0  # called (t, t-1) then (t-1, t)
        estimate.calls += 1
        flow[..., 0] = sign * u
        return flow
    estimate.calls = 0
    return estimate


def zero_flow(frame0, frame1):
    return np.zeros(frame0.shape[:2] + (2,), np.float32)


# --- the recursion against float64 references ------------------------------------------------

def test_static_scene_blend_is_the_exact_moving_average():
    # zero flow: warp is the identity, every pixel reliable; output = EMA of the gains (1e-5:
    # float32 rounding of values <= 1.3 over 8 steps)
    scene = texture()
    g = gains()
    originals = np.stack([scene] * T)
    processed = (g[:, None, None] * scene).astype(np.float32)
    out = flowkit.temporally_consistent(originals, processed, flow=zero_flow, strength=0.8)
    expected = ema(g, 0.8)[:, None, None] * scene.astype(np.float64)
    np.testing.assert_allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize("method", ["blend", "gradient"])
def test_static_scene_with_random_gains_becomes_near_constant(method):
    # estimated flow (farneback) on a static scene: the mean frame-to-frame change falls to at
    # most 0.2 of the per-frame result's. For iid gains the blend's expected ratio is
    # (1 - s) / sqrt(1 + s) = 0.073 at s = 0.9 (each step moves 1 - s of the way from the
    # running mean to the new frame); measured 0.058 (blend) and 0.12 (gradient: the texture's
    # 3-5 px periods are near its screening scale, so part of their flicker stays); 0.2 leaves
    # room for the sampling of 7 pairs
    scene = texture()
    g = gains(1)
    originals = np.stack([scene] * T)
    processed = np.clip(g[:, None, None] * scene, 0, 1).astype(np.float32)
    out = flowkit.temporally_consistent(originals, processed, method=method, strength=0.9)
    before = np.abs(np.diff(processed, axis=0)).mean()
    after = np.abs(np.diff(out, axis=0)).mean()
    assert after <= 0.2 * before, (after, before)


def test_moving_scene_keeps_its_motion_with_exact_flow():
    # the scene moves 1 px right per frame; the output must be the EMA gain times the
    # *shifted* texture (a ghost of the previous position would differ by up to the texture's
    # amplitude, 0.3). Columns < T are fed from the left border (unreliable there): skipped
    g = gains(2)
    originals = np.stack([texture(t) for t in range(T)])
    processed = (g[:, None, None] * originals).astype(np.float32)
    out = flowkit.temporally_consistent(originals, processed, flow=exact_shift(1.0), strength=0.8,
                                        scene_threshold=None)
    expected = ema(g, 0.8)[:, None, None] * originals.astype(np.float64)
    np.testing.assert_allclose(out[:, :, T:], expected[:, :, T:], atol=1e-5)


def test_moving_scene_keeps_its_motion_with_estimated_flow():
    # the same with Farneback on the originals: mean error against the analytic answer below
    # 0.01 (ghosting by 1 px of a texture with gradients ~0.1 / px would give ~0.05); the
    # per-frame result's frame-to-frame flicker falls by half
    g = gains(3)
    originals = np.stack([texture(t) for t in range(T)])
    processed = np.clip(g[:, None, None] * originals, 0, 1).astype(np.float32)
    out = flowkit.temporally_consistent(originals, processed, strength=0.8)
    expected = ema(g, 0.8)[:, None, None] * originals
    inner = (slice(None), slice(4, -4), slice(T + 4, -4))
    assert np.abs(out - expected)[inner].mean() < 0.01


def test_scene_cut_resets():
    a, b = texture(), 1 - texture(3.0) ** 2
    originals = np.stack([a] * 4 + [b] * 4)
    processed = (gains(4)[:, None, None] * originals).astype(np.float32)
    cuts = []
    out = list(_translate._consistent(iter(originals), iter(processed),
                                      *_translate._check_options("farneback", None, "blend", 0.8, 10.0),
                                      cuts=cuts))
    assert cuts == [4]
    np.testing.assert_array_equal(out[4], processed[4])
    np.testing.assert_array_equal(out[0], processed[0])
    assert not np.array_equal(out[5], processed[5])


def test_strength_zero_is_the_processed_video():
    originals = np.stack([texture(t) for t in range(4)])
    processed = (gains(5, 4)[:, None, None] * originals).astype(np.float32)
    for method in ("blend", "gradient"):
        out = flowkit.temporally_consistent(originals, processed, strength=0.0, method=method)
        np.testing.assert_array_equal(out, processed)


def test_streaming_equals_array_form_exactly():
    originals = np.stack([(255 * texture(t)).astype(np.uint8) for t in range(5)])
    processed = np.stack([np.repeat(np.clip(f * g, 0, 255).astype(np.uint8)[..., None], 3, 2)
                          for f, g in zip(originals, gains(6, 5))])
    array = flowkit.temporally_consistent(originals, processed, method="gradient")
    stream = list(flowkit.iter_temporally_consistent(iter(originals), iter(processed),
                                                     method="gradient"))
    assert array.dtype == np.uint8 and array.shape == processed.shape
    np.testing.assert_array_equal(array, np.stack(stream))


def test_gradient_solve_matches_dense_float64():
    # the screened Poisson system (L + k) (O - P) = k w (W - P), L the 4-neighbour Laplacian
    # with Neumann border, solved densely in float64; the DCT solve is exact: 1e-9
    rng = np.random.default_rng(7)
    h, w = 6, 7
    p = rng.random((h, w, 2)).astype(np.float32)
    warped = rng.random((h, w, 2)).astype(np.float32)
    weight = 0.8 * (rng.random((h, w)) > 0.3)
    n = h * w
    lap = np.zeros((n, n))
    for y in range(h):
        for x in range(w):
            for dy, dx in ((0, 1), (1, 0)):
                if y + dy < h and x + dx < w:
                    i, j = y * w + x, (y + dy) * w + x + dx
                    lap[i, i] += 1
                    lap[j, j] += 1
                    lap[i, j] -= 1
                    lap[j, i] -= 1
    k = _translate.SCREENING
    rhs = k * weight.reshape(n, 1) * (warped - p).reshape(n, 2)
    expected = p.reshape(n, 2) + np.linalg.solve(lap + k * np.eye(n), rhs)
    got = _translate._gradient_solve(p, warped, weight)
    np.testing.assert_allclose(got.reshape(n, 2), expected, atol=1e-9)
    gray = _translate._gradient_solve(p[..., 0], warped[..., 0], weight)
    np.testing.assert_allclose(gray.ravel(), expected[:, 0], atol=1e-9)


def test_color_processed_from_gray_frames():
    # a colouriser's case: gray originals, RGB processed frames
    originals = np.stack([texture(t) for t in range(3)])
    processed = np.repeat(originals[..., None], 3, axis=3) * np.array([1.0, 0.5, 0.2], np.float32)
    out = flowkit.temporally_consistent(originals, processed)
    assert out.shape == (3, H, W, 3)


# --- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, match", [
    ({"method": "poisson"}, ValueError, "method: expected one of 'blend', 'gradient'"),
    ({"strength": 1.0}, ValueError, r"strength: expected a number in \[0.0, 1.0\)"),
    ({"strength": "high"}, TypeError, "strength: expected a real number"),
    ({"flow": "nope"}, ValueError, "flow: expected one of"),
    ({"flow_options": {"bogus": 1}}, ValueError, "flow_options: 'bogus' is not an option"),
    ({"scene_threshold": 0}, ValueError, "scene_threshold: expected a number in"),
])
def test_bad_options(kwargs, error, match):
    video = np.zeros((2, 8, 8), np.float32)
    with pytest.raises(error, match=match):
        flowkit.temporally_consistent(video, video, **kwargs)


def test_bad_frames():
    video = np.zeros((3, 8, 8), np.float32)
    with pytest.raises(ValueError, match=r"processed: expected T, H, W \(3, 8, 8\) of frames, got shape \(2, 8, 8\)"):
        flowkit.temporally_consistent(video, video[:2])
    with pytest.raises(ValueError, match=r"frames: expected at least one frame \(T >= 1\)"):
        flowkit.temporally_consistent(video[:0], video[:0])
    with pytest.raises(ValueError, match="frames: expected a video"):
        flowkit.temporally_consistent(video[0, 0], video[0, 0])
    with pytest.raises(TypeError, match="processed\\[0\\]: expected dtype"):
        flowkit.temporally_consistent(video, video.astype(bool))
    with pytest.raises(TypeError, match="frames: expected an iterable"):
        flowkit.iter_temporally_consistent(3, video)
    with pytest.raises(ValueError, match="processed: expected as many frames as frames, got 2"):
        list(flowkit.iter_temporally_consistent(iter(video), iter(video[:2]), flow=zero_flow))
    with pytest.raises(ValueError, match=r"frames\[1\]: expected the same shape as frames\[0\]"):
        list(flowkit.iter_temporally_consistent([video[0], video[0, :4]], [video[0], video[0]]))
    with pytest.raises(ValueError, match=r"processed\[0\]: expected height and width \(8, 8\)"):
        list(flowkit.iter_temporally_consistent([video[0]], [video[0, :4]]))


# --- per-frame operations ----------------------------------------------------------------------

def test_autocontrast_stretches_a_ramp():
    # a ramp of levels 50..149 over 100 columns: the 1st and 99th percentiles 50.99 and
    # 148.01 map to 0 and 255 (analytic, rounding: 1 level)
    frame = np.repeat(np.repeat(np.arange(50, 150, dtype=np.uint8)[None, :, None], 4, 0), 3, 2)
    out = _frame_ops.autocontrast(frame)
    low, high = np.percentile(frame, (1, 99))
    expected = np.clip((frame - low) * 255 / (high - low), 0, 255)
    assert np.abs(out - expected).max() <= 0.5 + 1e-9
    assert out.min() == 0 and out.max() == 255


def test_equalize_is_opencv_on_gray():
    import cv2

    rng = np.random.default_rng(8)
    gray = rng.integers(40, 120, (16, 16), dtype=np.uint8)
    out = _frame_ops.equalize(np.repeat(gray[..., None], 3, 2))
    np.testing.assert_array_equal(out[..., 0], cv2.equalizeHist(gray))


def test_resolve_errors():
    with pytest.raises(ValueError, match="op: expected a built-in name"):
        _frame_ops.resolve("nosuch")
    with pytest.raises(ValueError, match="op: cannot import module 'no_such_module_xyz'"):
        _frame_ops.resolve("no_such_module_xyz:f")
    with pytest.raises(ValueError, match="op: module 'numpy' has no attribute 'nothing_here'"):
        _frame_ops.resolve("numpy:nothing_here")
    assert _frame_ops.resolve("numpy:flipud") is np.flipud
    # the TypeError left out the callable translate(op=) and batch take; "" is a wrong string
    with pytest.raises(TypeError, match=r"^op: expected a built-in name \(autocontrast, "
                                        r"equalize, colorize\), 'package.module:function' or a "
                                        r"callable frame -> frame, got 3$"):
        _frame_ops.resolve(3)
    with pytest.raises(ValueError, match="^op: expected a built-in name .*, got ''$"):
        _frame_ops.resolve("")


# --- translate and the command line ------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("translate") / "tiny.mp4"
    with flowkit.VideoWriter(path, 10) as writer:
        for t in range(6):
            writer.write(np.repeat((255 * texture(t)).astype(np.uint8)[..., None], 3, 2))
    return path


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "flowkit", *map(str, args)], capture_output=True,
                          text=True, timeout=300)


def test_cli_round_trip(tiny_video, tmp_path):
    out = tmp_path / "out.mp4"
    run = _cli("translate", tiny_video, out, "--op", "autocontrast", "--quiet")
    assert run.returncode == 0, run.stderr
    assert "wrote" in run.stdout and "6 frames" in run.stdout
    frames = np.stack(list(flowkit.iter_frames(out)))
    originals = np.stack(list(flowkit.iter_frames(tiny_video)))
    assert frames.shape == originals.shape
    # frame 0 is the per-frame result (autocontrast of the decoded frame), within the
    # encoder's loss at crf 18 (mean 3 levels)
    assert np.abs(frames[0].astype(int) - _frame_ops.autocontrast(originals[0])).mean() < 3


def test_cli_reports_the_size_and_the_padding_of_an_odd_clip(tmp_path):
    # 161x121 VP9 into H.264 4:2:0: written 162x122, said on stdout, the padding noted on
    # stderr as retime notes it; an FFV1 .mkv keeps 161x121 and notes nothing
    source = data_path("video", "androidx__bear-vp9-odd-dimensions.webm")
    run = _cli("translate", source, tmp_path / "t.mp4", "--op", "autocontrast", "--quiet")
    assert run.returncode == 0, run.stderr
    assert "(30 frames, 162x122, " in run.stdout
    assert run.stderr.startswith("flowkit: note: padded 161x121 to 162x122 ")
    run = _cli("translate", source, tmp_path / "t.mkv", "--op", "autocontrast", "--codec", "ffv1", "-q")
    assert run.returncode == 0 and "(30 frames, 161x121, " in run.stdout and run.stderr == ""


@pytest.mark.parametrize("op, code, message", [  # 2: a bad --op; 1: the op failed on a frame
    ("nosuch", 2, "flowkit: error: --op: expected a built-in name"),
    ("no_such_module_xyz:f", 2, "flowkit: error: --op: cannot import module 'no_such_module_xyz'"),
    ("numpy:transpose", 1, "flowkit: error: --op: numpy:transpose returned shape (3, 56, 40)"),
])
def test_cli_errors_are_one_line(tiny_video, tmp_path, op, code, message):
    out = tmp_path / "out.mp4"
    run = _cli("translate", tiny_video, out, "--op", op)
    assert run.returncode == code
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), run.stderr
    assert not out.exists()


def test_cli_refuses_an_image_as_retime_does(tmp_path):
    # a PNG opens as a one-frame video: refused (exit 1, one line, no file) with retime's words
    import cv2

    image = tmp_path / "still.png"
    cv2.imwrite(str(image), (255 * texture()).astype(np.uint8))
    for command, extra in (("translate", ["--op", "autocontrast"]), ("retime", ["--factor", "2"])):
        out = tmp_path / f"{command}.mp4"
        run = _cli(command, image, out, *extra, "--quiet")
        assert run.returncode == 1 and run.stderr.splitlines() == [
            f"flowkit: error: INPUT: {image} holds a single frame (an image?); {command} needs a video"], run.stderr
        assert not out.exists()


def test_a_damaged_input_is_named_src_not_path(tiny_video, tmp_path):
    # the video reader's errors name its own parameter, path; translate's user gave src
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(tiny_video.read_bytes()[:1000])  # its index, written first, cut short
    with pytest.raises(ValueError, match=rf"^src: cannot (open|decode the video stream of) "
                                         rf"{re.escape(str(cut))}"):
        flowkit.translate(cut, tmp_path / "out.mp4", "autocontrast", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.mp4"]


def test_paths_that_are_not_paths_name_the_parameter(tiny_video, tmp_path):
    # as retime's: Path(None) said "expected str, bytes or os.PathLike object, not NoneType"
    with pytest.raises(TypeError, match=r"^src: expected a path \(str or os\.PathLike\), got None$"):
        flowkit.translate(None, tmp_path / "out.mp4", "autocontrast")
    with pytest.raises(TypeError, match=r"^dst: expected a path \(str or os\.PathLike\), got 3$"):
        flowkit.translate(tiny_video, 3, "autocontrast")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", [0, 2])
def test_a_frame_with_nan_is_named_by_its_index(bad):
    # the estimator's own check said "frame1: expected finite values, got NaN" (or frame0):
    # its parameters, not temporally_consistent's, and not the frame's index
    frames = np.stack([texture(t) for t in range(3)])
    frames[bad, 5, 5] = np.nan
    with pytest.raises(ValueError, match=rf"^frames\[{bad}\]: expected finite values, got NaN or infinity$"):
        flowkit.temporally_consistent(frames, frames.copy())


def test_progress_that_is_not_a_bool_names_progress(tiny_video, tmp_path):
    # progress="no" was taken as true and showed a bar; retime checks it
    with pytest.raises(TypeError, match=r"^progress: expected None, a bool or a callable "
                                        r"\(done, total\), got 'no'$"):
        flowkit.translate(tiny_video, tmp_path / "out.mp4", "autocontrast", progress="no")
    assert list(tmp_path.iterdir()) == []


def test_dst_that_is_a_folder_names_dst(tiny_video, tmp_path):
    # it raised OSError's bare "IsADirectoryError: [Errno 21] Is a directory", naming neither
    # dst nor the path (retime's "dst: ... is a folder")
    folder = tmp_path / "out.mp4"
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match=rf"^dst: {re.escape(str(folder))} is a folder; "
                                                r"expected a video file path$"):
        flowkit.translate(tiny_video, folder, "autocontrast", progress=False)
    assert list(tmp_path.iterdir()) == [folder] and list(folder.iterdir()) == []


def test_output_without_extension(tiny_video, tmp_path):
    # the extension picks the container, so --codec does not help: the error asks for one
    out = tmp_path / "out"
    for extra in ([], ["--codec", "libx264"]):
        run = _cli("translate", tiny_video, out, "--op", "autocontrast", *extra)
        assert run.returncode == 2 and run.stderr.splitlines() == [
            f"flowkit: error: OUTPUT: {out}: no extension; give the output a video extension "
            "(.mp4, .m4v, .mov, .mkv, .avi, .webm, ...) (see flowkit translate --help)"], run.stderr
    with pytest.raises(ValueError, match=r"^dst: .*out: no extension; give it a video extension"):
        flowkit.translate(tiny_video, out, "autocontrast", codec="libx264", progress=False)
    assert not out.exists()


def test_cli_missing_op_is_a_usage_error(tiny_video, tmp_path):
    run = _cli("translate", tiny_video, tmp_path / "out.mp4")
    assert run.returncode == 2
    assert "the following arguments are required: --op" in run.stderr


# --- the colorize model (torch) ----------------------------------------------------------------

def _torch():
    return pytest.importorskip("torch", reason="the colorize model needs torch: "
                                               'pip install "flowkit-cv[torch]"')


def test_colorize_untrained_is_gray_and_keeps_luma():
    # the untrained network's last layer is zero: chroma exactly 128, RGB = the input gray
    _torch()
    from flowkit.models import get_model
    from flowkit.models.colorize import colorize_array, predict_ycc

    model = get_model("colorize", weights=None)
    gray = (255 * texture()).astype(np.uint8)
    np.testing.assert_array_equal(colorize_array(model, gray), np.repeat(gray[..., None], 3, 2))
    np.testing.assert_array_equal(predict_ycc(model, gray)[..., 0], gray)


def test_colorize_shipped_keeps_luma_exactly():
    # the YCrCb the model outputs holds the input's Y bit for bit; after the RGB conversion
    # the luma is within 1 level (uint8 rounding of R, G, B) wherever no channel is clipped
    _torch()
    import cv2
    from flowkit.models import get_weights
    from flowkit.models.colorize import colorize_frame, predict_ycc
    from flowkit.models._api import cached_model

    weights = get_weights("colorize")
    assert weights.path.stat().st_size <= 5 * 2 ** 20
    assert weights.meta["command"].startswith("flowkit train colorize")
    assert all("video_train" in source for source in weights.meta["training_data"])
    rgb = np.stack([(255 * texture(s)).astype(np.uint8) for s in (0, 5, 11)], axis=2)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    ycc = predict_ycc(cached_model("colorize"), rgb)
    np.testing.assert_array_equal(ycc[..., 0], cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)[..., 0])
    out = colorize_frame(gray)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    back = cv2.cvtColor(out, cv2.COLOR_RGB2YCrCb)[..., 0].astype(int)
    inside = ((out > 0) & (out < 255)).all(axis=2)
    assert np.abs(back - gray)[inside].max() <= 1


@pytest.mark.parametrize("dtype", ["uint16", "float16", "float32", "float64"])
def test_colorize_frame_scales_every_dtype(dtype):
    # integers over their dtype's maximum, floats in [0, 1] (flowkit's convention): the same
    # colours as the uint8 frame within 3 levels of 255 (the uint8 path rounds the chroma to
    # 8 bits before the RGB conversion: 0.5 level x 1.773, plus the RGB rounding), in the
    # input's dtype and range (it gave float32 from -145 to 255, and uint16 a mean of 83 x 257)
    _torch()
    from flowkit.models.colorize import colorize_frame

    gray = (255 * texture()).astype(np.uint8)
    reference = colorize_frame(gray).astype(np.float64) / 255
    full = 65535 if dtype == "uint16" else 1
    frame = (gray.astype(np.uint16) * 257 if dtype == "uint16"
             else (gray / np.float64(255)).astype(dtype))
    out = colorize_frame(frame)
    assert out.shape == gray.shape + (3,) and out.dtype == np.dtype(dtype)
    values = out.astype(np.float64) / full
    assert values.min() >= 0 and values.max() <= 1
    assert np.abs(values - reference).max() <= 3 / 255


def test_colorize_frame_float_in_0_255_is_coloured_as_uint8():
    # floats are scaled as interpolate(method="learned") scales them: a float frame in
    # [0, 255] is the uint8 frame (it was taken in [0, 1]: the model saw it clipped to 1 and
    # it came out nearly uncoloured, up to 82 levels from the uint8 result)
    _torch()
    from flowkit.models.colorize import colorize_frame

    gray = (255 * texture()).astype(np.uint8)
    out = colorize_frame(gray.astype(np.float32))
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 255
    # the uint8 path rounds the chroma to whole levels and the RGB to uint8: within 3 levels
    assert np.abs(out - colorize_frame(gray)).max() <= 3


def test_colorize_frame_gray_with_a_channel_axis_and_bad_input():
    _torch()
    from flowkit.models.colorize import colorize_frame

    gray = (255 * texture()).astype(np.uint8)
    np.testing.assert_array_equal(colorize_frame(gray[..., None]), colorize_frame(gray))
    with pytest.raises(ValueError, match=r"frame: expected gray \(H, W\) or \(H, W, 1\), "
                                         r"or RGB \(H, W, 3\), got shape \(\d+, \d+, 2\)"):
        colorize_frame(np.zeros(gray.shape + (2,), np.uint8))
    with pytest.raises(TypeError, match="frame: expected dtype uint8, .*, got int32"):
        colorize_frame(gray.astype(np.int32))


def test_colorize_frame_takes_torch_tensors_as_the_other_functions_do():
    # a tensor that requires grad raised torch's "Can't call numpy() on Tensor that requires
    # grad" naming no parameter, and a channels-first (C, H, W) one was "read as a batch of 3
    # gray frames"; interpolate and warp name the parameter and the layout
    torch = _torch()
    from flowkit.models.colorize import colorize_frame

    rgb = np.repeat((255 * texture()).astype(np.uint8)[..., None], 3, 2)
    np.testing.assert_array_equal(colorize_frame(torch.from_numpy(rgb)), colorize_frame(rgb))
    with pytest.raises(TypeError, match=r"^frame: expected an array, got a torch.Tensor that "
                                        r"requires grad .*pass tensor.detach\(\)$"):
        colorize_frame(torch.from_numpy(rgb).float().requires_grad_())
    with pytest.raises(ValueError, match=r"^frame: expected frames channels last, .* looks "
                                         r"channels-first \(C, H, W\), torchvision's layout"):
        colorize_frame(torch.from_numpy(rgb).permute(2, 0, 1))


def test_cli_colorize(tiny_video, tmp_path):
    _torch()
    out = tmp_path / "colour.mp4"
    run = _cli("translate", tiny_video, out, "--op", "colorize", "--quiet")
    assert run.returncode == 0, run.stderr
    assert len(list(flowkit.iter_frames(out))) == 6


def test_translate_copies_the_audio(tmp_path):
    # the same AAC packets in and out (retime's audio companion), and the video's frame count
    import av
    from test_retime import write_clip

    frames = [np.repeat((255 * texture(t)).astype(np.uint8)[..., None], 3, 2) for t in range(12)]
    src = write_clip(tmp_path / "tone.mp4", frames, 24, tone=440)
    report = flowkit.translate(src, tmp_path / "out.mp4", "equalize", progress=False)
    assert report["audio"] == "copied" and report["frames"] == 12 and report["cuts"] == []
    with av.open(str(src)) as a, av.open(str(tmp_path / "out.mp4")) as b:
        packets_in = [bytes(p) for p in a.demux(a.streams.audio[0]) if p.size]
        packets_out = [bytes(p) for p in b.demux(b.streams.audio[0]) if p.size]
    assert packets_out == packets_in
    report = flowkit.translate(src, tmp_path / "silent.mp4", "equalize", audio=False, progress=False)
    assert report["audio"] == "dropped" and not flowkit.video.probe_video(tmp_path / "silent.mp4").audio
    # retime's words for the same choices (an API consistency review): 'drop', 'copy'; the
    # command's --audio drop as --no-audio
    from flowkit.cli import main

    report = flowkit.translate(src, tmp_path / "d.mp4", "equalize", audio="drop", progress=False)
    assert report["audio"] == "dropped"
    assert flowkit.translate(src, tmp_path / "c.mp4", "equalize", audio="copy",
                             progress=False)["audio"] == "copied"
    with pytest.raises(ValueError, match=r"^audio: expected True, False, 'copy' or 'drop', got "
                                         r"'stretch' \(translate keeps the duration"):
        flowkit.translate(src, tmp_path / "s.mp4", "equalize", audio="stretch")
    assert main(["translate", str(src), str(tmp_path / "cli.mp4"), "--op", "equalize", "--audio",
                 "drop", "-q"]) == 0
    assert not flowkit.video.probe_video(tmp_path / "cli.mp4").audio
    # WebM takes no AAC: re-encoded as Opus
    report = flowkit.translate(src, tmp_path / "out.webm", "equalize", progress=False)
    assert report["audio"] == "re-encoded"
    with av.open(str(tmp_path / "out.webm")) as container:
        assert container.streams.audio[0].codec_context.name == "opus"
    # nor MPEG-PS (its muxer refused AAC: a '--codec' error): MP2, its default, read back
    report = flowkit.translate(src, tmp_path / "out.mpg", "equalize", progress=False)
    assert report["audio"] == "re-encoded"
    with av.open(str(tmp_path / "out.mpg")) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "mp2"
        assert sum(frame.samples for frame in container.decode(stream)) > 0


# --- what translate keeps of the input: timestamps, pixel format, audio tracks -----------------

def _gray_rgb(t, dtype=np.uint8):
    scale = 255 if dtype == np.uint8 else 65535
    return np.repeat(np.rint(scale * texture(t)).astype(dtype)[..., None], 3, 2)


def _times(path):
    return [t for t, _ in flowkit.iter_frames(path, timestamps=True)]


def test_translate_keeps_variable_frame_rate_timestamps(tmp_path):
    # irregular times (ms, as MKV stores them): each output frame at its input frame's time,
    # exactly (Fractions), not k / fps
    from fractions import Fraction

    from test_retime import write_clip

    times = [Fraction(ms, 1000) for ms in (0, 40, 60, 130, 150, 250, 300, 410)]
    src = write_clip(tmp_path / "vfr.mkv", [_gray_rgb(t) for t in range(len(times))], 20,
                     times=times, codec="ffv1")
    assert _times(src) == times
    report = flowkit.translate(src, tmp_path / "out.mkv", "equalize", progress=False)
    assert report["frames"] == len(times)
    assert _times(tmp_path / "out.mkv") == times
    import av

    with av.open(str(tmp_path / "out.mkv")) as container:  # retime's .mkv default, not FFV1
        assert container.streams.video[0].codec_context.name == "h264"
    # the same in MP4 / H.264 (time base 1/1000 of the input's stream)
    src = write_clip(tmp_path / "vfr.mp4", [_gray_rgb(t) for t in range(len(times))], 20,
                     times=times)
    flowkit.translate(src, tmp_path / "out.mp4", "equalize", progress=False)
    assert _times(tmp_path / "out.mp4") == _times(src) == times


def test_translate_keeps_pixel_format_and_bit_depth(tmp_path):
    from test_retime import write_clip

    seen = []

    def identity(frame):
        seen.append((frame.dtype, frame.shape))
        return frame

    src = write_clip(tmp_path / "444.mp4", [_gray_rgb(t) for t in range(4)], 10, pix_fmt="yuv444p")
    flowkit.translate(src, tmp_path / "out444.mp4", identity, progress=False)
    info = flowkit.video.probe_video(tmp_path / "out444.mp4")
    assert (info.pix_fmt, info.bit_depth) == ("yuv444p", 8)
    # 10-bit: the op sees uint8 RGB (documented), the output is 10-bit again; with strength 0
    # it is the input rounded to 8 bits (at most half an 8-bit level, 128 / 65535) plus the
    # encoder's loss at crf 18 on this fine texture: mean below 2 8-bit levels (measured 1.16)
    frames = [_gray_rgb(t, np.uint16) for t in range(4)]
    src = write_clip(tmp_path / "deep.mp4", frames, 10, pix_fmt="yuv420p10le")
    seen.clear()
    flowkit.translate(src, tmp_path / "deep_out.mp4", identity, strength=0, progress=False)
    info = flowkit.video.probe_video(tmp_path / "deep_out.mp4")
    assert (info.pix_fmt, info.bit_depth) == ("yuv420p10le", 10)
    assert seen == [(np.dtype(np.uint8), (H, W, 3))] * 4
    got = np.stack(list(flowkit.iter_frames(tmp_path / "deep_out.mp4", depth=16))).astype(float)
    want = np.stack(list(flowkit.iter_frames(src, depth=16))).astype(float)
    assert np.abs(got - want).mean() < 2 * 257


def test_cli_translate_into_avi_writes_full_range_mjpeg(tiny_video, tmp_path):
    # an 8-bit yuv420p input into .avi (MJPEG, which refuses limited-range yuv420p): written
    # as yuvj420p, the format predict and retime write there, instead of an error blaming --codec
    assert flowkit.video.probe_video(tiny_video).pix_fmt == "yuv420p"
    out = tmp_path / "out.avi"
    run = _cli("translate", tiny_video, out, "--op", "autocontrast", "--quiet")
    assert run.returncode == 0 and run.stderr == "", run.stderr
    info = flowkit.video.probe_video(out)
    assert (info.pix_fmt, info.frame_rate, info.frame_count) == ("yuvj420p", 10, 6)
    assert len(list(flowkit.iter_frames(out))) == 6
    # AVI stores a rate, not times: a variable-rate input is written on the grid its times lie
    # on (here 50 fps, gaps kept), not at the input's fine time base (FFmpeg made that a
    # stream of mostly empty frames at 600 fps, which read back as cut short)
    from test_retime import write_clip

    times = [Fraction(ms, 1000) for ms in (0, 20, 40, 100, 120, 200)]
    src = write_clip(tmp_path / "vfr.mp4", [_gray_rgb(t) for t in range(len(times))], 50,
                     times=times)
    report = flowkit.translate(src, tmp_path / "vfr.avi", "equalize", progress=False)
    assert report["fps"] == 50 and _times(tmp_path / "vfr.avi") == times


def test_translate_into_avi_drops_frames_that_share_a_grid_slot(tmp_path):
    # a variable rate faster than the grid in places (0.20 and 0.21 s on a 30 fps grid) stopped
    # translate to .avi with "time: expected a time after the previous frame's 0.2 s"; the
    # colliding frame is dropped (VideoWriter's rule: the slot's first frame kept), reported,
    # and the command line says so in one line
    from test_retime import write_clip

    times = [Fraction(ms, 1000) for ms in (0, 30, 50, 100, 130, 200, 210, 300, 330, 400)]
    src = write_clip(tmp_path / "vfr.mkv", [_gray_rgb(t) for t in range(len(times))], 30,
                     times=times, codec="ffv1")
    assert flowkit.video.probe_video(src).base_rate == 30
    report = flowkit.translate(src, tmp_path / "out.avi", "equalize", progress=False)
    assert (report["frames"], report["dropped_frames"], report["fps"]) == (9, 1, 30)
    assert _times(tmp_path / "out.avi") == [Fraction(k, 30) for k in (0, 1, 2, 3, 4, 6, 9, 10, 12)]
    out = tmp_path / "cli.avi"
    run = _cli("translate", src, out, "--op", "equalize", "-q")
    assert run.returncode == 0 and "(9 frames, " in run.stdout
    assert run.stderr.splitlines() == [
        f"flowkit: note: {out}: 1 frame not written, on the 1/30 s slot of the frame before (AVI "
        "stores a frame rate, not times: the first frame of a slot is kept); .mkv or .mp4 keep "
        "every frame at its time"]
    assert flowkit.translate(src, tmp_path / "out.mkv", "equalize", progress=False)["dropped_frames"] == 0


def test_translate_copies_every_audio_track(tmp_path):
    import av
    from test_retime import write_clip

    src = write_clip(tmp_path / "two.mp4", [_gray_rgb(t) for t in range(12)], 24, tone=[440, 660],
                     languages=["fra", "eng", "deu"])
    report = flowkit.translate(src, tmp_path / "out.mp4", "equalize", progress=False)
    assert report["audio"] == "copied" and report["audio_tracks"] == 2
    with av.open(str(src)) as a, av.open(str(tmp_path / "out.mp4")) as b:
        assert len(b.streams.audio) == 2
        assert [s.metadata.get("language") for s in b.streams] == ["fra", "eng", "deu"]
        for index in range(2):
            packets_in = [bytes(p) for p in a.demux(a.streams.audio[index]) if p.size]
            a.seek(0)
            packets_out = [bytes(p) for p in b.demux(b.streams.audio[index]) if p.size]
            b.seek(0)
            assert packets_out == packets_in, index


def test_cli_translate_says_how_many_audio_tracks_it_wrote(tmp_path, capsys):
    # flowkit translate printed "audio copied" for the two tracks it copied, where retime says
    # "audio copied (2 tracks)" (the report had audio_tracks == 2)
    from flowkit.cli import main
    from test_retime import write_clip

    src = write_clip(tmp_path / "two.mp4", [_gray_rgb(t) for t in range(12)], 24, tone=[440, 660])
    out = tmp_path / "out.mp4"
    assert main(["translate", str(src), str(out), "--op", "equalize", "-q"]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith("fps; audio copied (2 tracks))")
    assert main(["translate", str(src), str(out), "--op", "equalize", "-q", "--no-audio"]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith("fps; audio dropped) (replaced)")


def test_translate_says_which_streams_it_does_not_write(tiny_video, tmp_path):
    # a clip with a subtitle stream (mov_text packets remuxed from the NASA clip): translate
    # writes video and audio only and says so, as retime: in its report and on stdout
    import av

    nasa = data_path("video", "torchcodec__nasa_13013.mp4")
    src = tmp_path / "subtitled.mp4"
    with av.open(str(nasa)) as source, av.open(str(src), "w") as container:
        video = container.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = W, H, "yuv420p"
        subtitles = container.add_stream_from_template(source.streams.subtitles[0])
        for t in range(4):
            picture = av.VideoFrame.from_ndarray(_gray_rgb(t), format="rgb24")
            picture.pts, picture.time_base = t, Fraction(1, 10)
            container.mux(video.encode(picture))
        container.mux(video.encode(None))
        for packet in [p for p in source.demux(source.streams.subtitles[0]) if p.size][:2]:
            packet.stream = subtitles
            container.mux(packet)
    with av.open(str(src)) as container:
        assert [s.type for s in container.streams] == ["video", "subtitle"]
    report = flowkit.translate(src, tmp_path / "out.mp4", "equalize", progress=False)
    assert report["not_written"] == ["subtitle"] and report["frames"] == 4
    with av.open(str(tmp_path / "out.mp4")) as container:
        assert [s.type for s in container.streams] == ["video"]
    run = _cli("translate", src, tmp_path / "cli.mp4", "--op", "equalize", "--quiet")
    assert run.returncode == 0, run.stderr
    assert "\nnot written: the input's other streams (1 subtitle)\n" in run.stdout
    run = _cli("translate", tiny_video, tmp_path / "plain.mp4", "--op", "equalize", "-q")
    assert run.returncode == 0 and "not written" not in run.stdout, run.stdout


@pytest.fixture(scope="module")
def lossless_clip(tmp_path_factory):
    """6 frames of the texture moving 1 px per frame, 10 fps, FFV1 (RGB, lossless): what
    translate reads is what was written, and an FFV1 output keeps it exactly."""
    from test_retime import write_clip

    path = tmp_path_factory.mktemp("translate") / "lossless.mkv"
    return write_clip(path, [_gray_rgb(t) for t in range(6)], 10, codec="ffv1")


def test_segment_translates_its_frames_and_copies_the_rest(lossless_clip, tmp_path):
    # retime's segment: frames at 0.2 <= t < 0.4 s (frames 2 and 3) are the array function's
    # result on those frames alone (the recursion starts at frame 2), bit for bit; the others
    # are the input's frames, unchanged
    originals = np.stack(list(flowkit.iter_frames(lossless_clip)))
    report = flowkit.translate(lossless_clip, tmp_path / "part.mkv", "autocontrast",
                               segment=(0.2, 0.4), codec="ffv1", progress=False)
    assert (report["frames"], report["processed"], report["cuts"]) == (6, 2, [])
    got = np.stack(list(flowkit.iter_frames(tmp_path / "part.mkv")))
    inside = np.stack([_frame_ops.autocontrast(frame) for frame in originals[2:4]])
    np.testing.assert_array_equal(got[2:4], flowkit.temporally_consistent(originals[2:4], inside))
    np.testing.assert_array_equal(got[[0, 1, 4, 5]], originals[[0, 1, 4, 5]])
    assert _times(tmp_path / "part.mkv") == _times(lossless_clip)
    # open ends, as retime's: (0.3, None) is frames 3 to 5, (None, 0.1) frame 0 alone
    report = flowkit.translate(lossless_clip, tmp_path / "tail.mkv", "autocontrast",
                               segment=(0.3, None), codec="ffv1", progress=False)
    assert report["processed"] == 3
    got = np.stack(list(flowkit.iter_frames(tmp_path / "tail.mkv")))
    np.testing.assert_array_equal(got[:3], originals[:3])
    report = flowkit.translate(lossless_clip, tmp_path / "head.mkv", "autocontrast",
                               segment=(None, 0.1), codec="ffv1", progress=False)
    got = np.stack(list(flowkit.iter_frames(tmp_path / "head.mkv")))
    assert report["processed"] == 1
    np.testing.assert_array_equal(got[0], _frame_ops.autocontrast(originals[0]))
    np.testing.assert_array_equal(got[1:], originals[1:])
    # an op's error names the frame by its index in the video
    with pytest.raises(ValueError, match="op: <lambda> raised ZeroDivisionError on frame 3"):
        flowkit.translate(lossless_clip, tmp_path / "bad.mkv", lambda frame: 1 / 0,
                          segment=(0.3, None), progress=False)


def test_segment_of_an_avi_input_holds_its_own_frames(tmp_path):
    # AVI's timestamp unit is its frame period: a frame one whole unit before the segment was
    # taken as in it, so (0.2, 0.4) processed frames 1 and 2, not 2 and 3 (retime's rule now:
    # at most half a period)
    from test_retime import write_clip

    src = write_clip(tmp_path / "in.avi", [_gray_rgb(t) for t in range(6)], 10, codec="ffv1")
    assert flowkit.video.probe_video(src).time_base == Fraction(1, 10)
    originals = np.stack(list(flowkit.iter_frames(src)))
    report = flowkit.translate(src, tmp_path / "part.mkv", "autocontrast", segment=(0.2, 0.4),
                               codec="ffv1", progress=False)
    assert (report["frames"], report["processed"]) == (6, 2)
    got = np.stack(list(flowkit.iter_frames(tmp_path / "part.mkv")))
    inside = np.stack([_frame_ops.autocontrast(frame) for frame in originals[2:4]])
    np.testing.assert_array_equal(got[2:4], flowkit.temporally_consistent(originals[2:4], inside))
    np.testing.assert_array_equal(got[[0, 1, 4, 5]], originals[[0, 1, 4, 5]])


@pytest.mark.parametrize("segment, error, match", [
    ((0.4, 0.2), ValueError, r"segment: expected start < end, got 0.4 to 0.2 s"),
    ((5, None), ValueError, r"segment: starts at 5 s, after the end of .*lossless\.mkv, which lasts "
                            r"0\.6 s; expected a start before it"),
    ((0.6, 1), ValueError, r"segment: starts at 0\.6 s, at the end of .*lossless\.mkv, which lasts "
                           r"0\.6 s; expected a start before it"),  # it said "after the end"
    ((0.31, 0.39), ValueError, r"segment: no frame of .*lossless\.mkv lies in 0\.31 to 0\.39 s"),
    ((-1, 2), ValueError, r"segment\[0\]: expected a number >= 0, got -1"),
    (3, TypeError, r"segment: expected None or a \(start, end\) pair of seconds, got 3"),
])
def test_bad_segment(lossless_clip, tmp_path, segment, error, match):
    with pytest.raises(error, match=match):
        flowkit.translate(lossless_clip, tmp_path / "out.mkv", "autocontrast", segment=segment,
                          progress=False)
    assert not (tmp_path / "out.mkv").exists()


def test_cli_range_as_retime(lossless_clip, tmp_path):
    out = tmp_path / "cli.mkv"
    run = _cli("translate", lossless_clip, out, "--op", "autocontrast", "--range", "0.2:0.4",
               "--codec", "ffv1", "--quiet")
    assert run.returncode == 0, run.stderr
    assert "autocontrast per frame on 2 frames (--range 0.2:0.4), made consistent" in run.stdout
    flowkit.translate(lossless_clip, tmp_path / "api.mkv", "autocontrast", segment=(0.2, 0.4),
                      codec="ffv1", progress=False)
    np.testing.assert_array_equal(np.stack(list(flowkit.iter_frames(out))),
                                  np.stack(list(flowkit.iter_frames(tmp_path / "api.mkv"))))
    for value, message in (("5:", "--range: starts at 5 s, after the end of"),
                           ("-1:2", "argument --range: expected START:END in seconds >= 0"),  # as retime
                           ("0.31:0.39", "--range: no frame of")):
        run = _cli("translate", lossless_clip, tmp_path / "x.mkv", "--op", "autocontrast",
                   "--range", value)
        lines = run.stderr.strip().splitlines()
        assert run.returncode == 2 and len(lines) == 1, run.stderr
        assert lines[0].startswith(f"flowkit: error: {message}"), run.stderr
        assert not (tmp_path / "x.mkv").exists()
    assert "--range START:END" in _cli("translate", "--help").stdout


# --- the command line: strength 0, user modules in the current folder, errors inside ops -------

def test_cli_strength_zero_is_accepted(tiny_video, tmp_path):
    out = tmp_path / "out.mp4"
    run = _cli("translate", tiny_video, out, "--op", "equalize", "--strength", "0", "--quiet")
    assert run.returncode == 0, run.stderr
    assert "strength 0," in run.stdout
    run = _cli("translate", tiny_video, out, "--op", "equalize", "--strength", "1")
    assert run.returncode == 2 and "--strength: expected a number in [0, 1), got '1'" in run.stderr


OPS_MODULE = '''
def invert(frame):
    return 255 - frame

def boom(frame):
    if boom.calls == 5:
        raise RuntimeError("boom at 5")
    boom.calls += 1
    return frame

boom.calls = 0
'''


def _console_script(tmp_path, *args):
    """``flowkit ARGS`` as the console script runs it: from a script in another folder (its
    ``sys.path[0]``), in ``tmp_path/work`` where ``myops.py`` lies."""
    work, bin_dir = tmp_path / "work", tmp_path / "bin"
    work.mkdir(exist_ok=True)
    bin_dir.mkdir(exist_ok=True)
    (work / "myops.py").write_text(OPS_MODULE)
    (bin_dir / "flowkit").write_text("import sys\nfrom flowkit.cli import main\nsys.exit(main())\n")
    return subprocess.run([sys.executable, str(bin_dir / "flowkit"), *map(str, args)], cwd=work,
                          capture_output=True, text=True, timeout=300)


def test_cli_console_script_imports_op_from_current_folder(tiny_video, tmp_path):
    out = tmp_path / "out.mp4"
    run = _console_script(tmp_path, "translate", tiny_video, out, "--op", "myops:invert", "--quiet")
    assert run.returncode == 0, run.stderr
    assert len(list(flowkit.iter_frames(out))) == 6


def test_op_exception_names_op_type_and_frame(tiny_video, tmp_path):
    out = tmp_path / "out.mp4"
    run = _console_script(tmp_path, "translate", tiny_video, out, "--op", "myops:boom")
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert lines == ["flowkit: error: --op: myops:boom raised RuntimeError on frame 5: boom at 5"]
    assert not out.exists()

    def bad_type(frame):
        raise TypeError("wants floats")

    with pytest.raises(TypeError, match="op: bad_type raised TypeError on frame 0: wants floats") as info:
        flowkit.translate(tiny_video, tmp_path / "b.mp4", bad_type, progress=False)
    assert isinstance(info.value.__cause__, TypeError)
    with pytest.raises(ValueError, match="op: <lambda> raised ZeroDivisionError on frame 0") as info:
        flowkit.translate(tiny_video, tmp_path / "c.mp4", lambda frame: 1 / 0, progress=False)
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    assert not (tmp_path / "b.mp4").exists() and not (tmp_path / "c.mp4").exists()


# --- what translate keeps of the input: rotation and colour tags, as retime ---------------------

def _small_copy(src, dst, count=4, scale=30):
    """The first ``count`` frames of video ``src`` as coded (not rotated), shrunk ``scale``
    times, written with PyAV (independently of flowkit's writer) with ``src``'s display
    rotation, colour tags and language: a small stand-in for a large clip."""
    import av
    import cv2

    with av.open(str(src)) as source, av.open(str(dst), "w") as container:
        vin = source.streams.video[0]
        frames = [f for _, f in zip(range(count), source.decode(vin))]
        rotation = frames[0].rotation
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height = vin.codec_context.width // scale, vin.codec_context.height // scale
        stream.pix_fmt = "yuv420p"
        stream.metadata["language"] = vin.metadata.get("language", "und")
        for name in ("colorspace", "color_range", "color_primaries", "color_trc"):
            setattr(stream.codec_context, name, getattr(vin.codec_context, name))
        if rotation:
            stream.set_display_rotation(rotation)
        for k, frame in enumerate(frames):
            small = cv2.resize(frame.to_ndarray(format="rgb24"), (stream.width, stream.height),
                               interpolation=cv2.INTER_AREA)
            picture = av.VideoFrame.from_ndarray(small, format="rgb24")
            picture.pts, picture.time_base = k, Fraction(1, 24)
            container.mux(stream.encode(picture))
        container.mux(stream.encode(None))
    return dst


def test_translate_keeps_rotation_and_colour_tags_like_retime(tmp_path):
    from flowkit.video import probe_video, writer_tags

    def shown(info):  # the tags of the picture (the file's own tags: the next test)
        return {name: writer_tags(info)[name] for name in ("rotation", "color", "language")}

    rotated = data_path("video", "mediabunny__rotate-buck-bunny.mp4")
    # the shared clip: portrait by a 270-degree display rotation, BT.709 tags, limited range,
    # English
    assert shown(probe_video(rotated)) == {
        "rotation": 270, "color": {"colorspace": 1, "color_range": 1, "color_primaries": 1,
                                   "color_trc": 1}, "language": "eng"}
    assert writer_tags(probe_video(rotated))["metadata"] == {
        "creation_time": "2026-03-19T13:10:43.000000Z"}  # its only global tag, kept
    src = _small_copy(rotated, tmp_path / "small.mp4")
    into = probe_video(src)
    assert shown(into) == shown(probe_video(rotated))
    flowkit.translate(src, tmp_path / "t.mp4", lambda frame: frame, strength=0, progress=False)
    flowkit.retime(src, tmp_path / "r.mp4", factor=1, method="blend", progress=False)
    for out in (tmp_path / "t.mp4", tmp_path / "r.mp4"):
        info = probe_video(out)
        assert (shown(info), info.width, info.height) == (shown(into), into.width,
                                                                 into.height), out
    # written back in the coded orientation: displayed upright like the input, the same
    # picture (x264 at its default crf on 36x64 frames: mean below 3 levels)
    got = np.stack(list(flowkit.iter_frames(tmp_path / "t.mp4"))).astype(float)
    want = np.stack(list(flowkit.iter_frames(src))).astype(float)
    assert got.shape == want.shape == (4, 64, 36, 3) and np.abs(got - want).mean() < 3
    # the 10-bit clip leaves its tags unspecified (2): kept as they are
    deep = data_path("video", "torchcodec__h264_10bits.mp4")
    flowkit.translate(deep, tmp_path / "deep.mp4", "autocontrast", progress=False)
    assert shown(probe_video(tmp_path / "deep.mp4")) == shown(probe_video(deep)) == {
        "rotation": 0, "color": {"colorspace": 2, "color_primaries": 2, "color_trc": 2},
        "language": None}
    # the VP9 WebM's limited range alone (matrix, primaries, transfer unspecified): kept in MP4
    # (FFmpeg writes its 'colr' box only when asked then; x264 leaves the default range out)
    webm = data_path("video", "androidx__bear-vp9-odd-dimensions.webm")
    flowkit.translate(webm, tmp_path / "bear.mp4", lambda frame: frame, strength=0, progress=False)
    assert probe_video(tmp_path / "bear.mp4").color == probe_video(webm).color == {
        "colorspace": 2, "color_range": 1, "color_primaries": 2, "color_trc": 2}


def test_cli_flow_options_reach_the_estimator(tiny_video, tmp_path):
    # -O NAME=VALUE as retime's: the output is the Python API's with flow_options=
    out = tmp_path / "cli.mkv"
    run = _cli("translate", tiny_video, out, "--op", "autocontrast", "--flow", "farneback",
               "-O", "winsize=5", "-O", "levels=1", "--codec", "ffv1", "-q")
    assert run.returncode == 0, run.stderr
    flowkit.translate(tiny_video, tmp_path / "api.mkv", "autocontrast", flow="farneback",
                      flow_options={"winsize": 5, "levels": 1}, codec="ffv1", progress=False)
    flowkit.translate(tiny_video, tmp_path / "default.mkv", "autocontrast", flow="farneback",
                      codec="ffv1", progress=False)
    got, api, default = (np.stack(list(flowkit.iter_frames(tmp_path / name)))
                         for name in ("cli.mkv", "api.mkv", "default.mkv"))
    np.testing.assert_array_equal(got, api)
    assert not np.array_equal(got, default)  # the options changed the flow, so the output
    # errors name the option as the user wrote it; raft's local weights file is passed the same way
    for options, message in ((["-O", "winsize=0"], "--option winsize: expected an integer >= 1, got 0"),
                             (["-O", "nope=1"], "--option nope: not an option of farneback")):
        run = _cli("translate", tiny_video, tmp_path / "x.mp4", "--op", "autocontrast", *options)
        lines = run.stderr.strip().splitlines()
        assert run.returncode == 2 and len(lines) == 1 and lines[0].startswith(f"flowkit: error: {message}"), run.stderr
    run = _cli("translate", "--help")
    assert "raft: -O weights=PATH" in " ".join(run.stdout.split())


@pytest.mark.parametrize("flags, threshold", [([], 10.0), (["--scene-threshold", "4"], 4.0),
                                              (["--no-scene-detection"], None)])
def test_cli_scene_options_reach_translate(tiny_video, tmp_path, monkeypatch, flags, threshold):
    from flowkit.cli import main

    seen = []

    def stop(src, dst, op, **options):  # the options the command passes, then a clean exit
        seen.append(options["scene_threshold"])
        raise ValueError("stopped")

    monkeypatch.setattr(flowkit, "translate", stop)
    assert main(["translate", str(tiny_video), str(tmp_path / "o.mp4"), "--op", "autocontrast",
                 *flags]) == 1
    assert seen == [threshold]
    if threshold is not None:
        return
    run = _cli("translate", tiny_video, tmp_path / "o.mp4", "--op", "autocontrast",
               "--no-scene-detection", "--scene-threshold", "5")
    assert run.returncode == 2 and "not allowed with argument --no-scene-detection" in run.stderr


def test_temporally_consistent_from_a_reader_that_refills_one_buffer():
    # the previous frame, which the flow is estimated to, was the buffer that the next read
    # overwrote: flows of a frame to itself (47 levels off)
    f0, f1, _ = flowkit.sample_pair(48, 64)
    frames = [f0, f1, f0, f1]
    processed = [255 - frame for frame in frames]
    expected = flowkit.temporally_consistent(frames, processed)
    np.testing.assert_array_equal(flowkit.temporally_consistent(one_buffer(frames), processed),
                                  expected)


def test_translate_keeps_global_tags_stream_titles_and_chapters(tmp_path):
    # global tags, stream titles and handler names were dropped; chapters too (times unchanged)
    from test_retime import file_chapters, file_tags, write_clip

    src = write_clip(tmp_path / "in.mkv", [_gray_rgb(t) for t in range(24)], 24, tone=440,
                     metadata={"title": "A walk", "comment": "dawn"}, titles=["Picture", "Sound"],
                     chapters=[(0, 0.5, "First"), (0.5, 1, "Second")])
    flowkit.translate(src, tmp_path / "out.mp4", "equalize", progress=False)
    assert file_chapters(tmp_path / "out.mp4") == [(0, 500, "First"), (500, 1000, "Second")]
    assert file_tags(tmp_path / "out.mp4") == file_tags(src) == (
        {"title": "A walk", "comment": "dawn"},
        [("Picture", "Picture handler"), ("Sound", "Sound handler")])


def test_translate_deinterlace(tmp_path, capsys):
    # translate only said to deinterlace first with ffmpeg: an interlaced input was processed
    # as woven frames, combed where things move. deinterlace=True (--deinterlace) reads it a
    # frame per field (bwdif), as retime's: 8 frames of Tears of Steel woven into 4 frames of
    # 25i (MPEG-2, bottom field first) give 8 frames at k/50 s, written at 50 fps
    from cases import interlaced_clip
    from flowkit.cli import main
    from flowkit.metrics import psnr
    from test_video import interlaced_truth

    truth = interlaced_truth()
    source = interlaced_clip(tmp_path / "in.ts", truth, "mpeg2video", "bff", {"qscale": "2"})
    got = {}
    for deinterlace, rate in ((False, 25), (True, 50)):
        out = tmp_path / f"{deinterlace}.mkv"
        report = flowkit.translate(source, out, lambda frame: frame, strength=0, codec="ffv1",
                                   deinterlace=deinterlace, progress=False)
        frames = list(flowkit.iter_frames(out, timestamps=True))
        count = rate * 8 // 50
        assert report["frames"] == report["processed"] == len(frames) == count
        assert report["fps"] == rate and flowkit.video.probe_video(out).frame_rate == rate
        assert [t - frames[0][0] for t, _ in frames] == [Fraction(k, rate) for k in range(count)]
        got[deinterlace] = np.mean([psnr(frames[k * rate // 50][1], frame)
                                    for k, frame in enumerate(truth)])
    assert got[True] > got[False] + 8, got
    # segment on the input's timeline: the fields before 0.04 s are written unchanged
    report = flowkit.translate(source, tmp_path / "part.mkv", "autocontrast", segment=(0.04, None),
                               deinterlace=True, progress=False)
    assert report["frames"] == 8 and report["processed"] == 6
    out = tmp_path / "cli.mp4"
    assert main(["translate", str(source), str(out), "--op", "autocontrast", "--deinterlace",
                 "--range", "0.04:", "-q"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "8 frames" in captured.out and "50 fps" in captured.out
    assert "6 frames (--range 0.04:)" in captured.out, captured.out
    plain = data_path("video", "torchcodec__nasa_13013.mp4")  # progressive: read as it is
    assert main(["translate", str(plain), str(out), "--op", "autocontrast", "--deinterlace",
                 "--range", "0:0.2", "-q"]) == 0
    assert capsys.readouterr().err.splitlines()[0] == (
        f"flowkit: note: {out}: --deinterlace: the input is progressive, read as it is")
    with pytest.raises(TypeError, match="deinterlace"):
        flowkit.translate(source, out, "autocontrast", deinterlace="yes")
    # flowkit batch's translate job takes it, checked on the client before any task
    with pytest.raises(TypeError, match="^job_options: deinterlace: expected a bool"):
        flowkit.batch("translate", [source], tmp_path / "b", op="autocontrast",
                      deinterlace="yes")
