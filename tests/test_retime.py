"""flowkit.retime and ``flowkit retime`` on small clips cut from ../shared/data/video.

References: exact Fraction arithmetic for frame counts and timestamps (the output timeline
``k / fps`` mapped to the source), the input frames themselves for pass-through frames (FFV1
in MKV is lossless, so they must come back bit for bit), the cross-fade formula for
``method="blend"`` on a variable-frame-rate clip of flat frames whose level encodes their time,
and the audio's own length and pitch (an FFT peak) for copied and stretched audio.
"""

import itertools
import math
import os
import re
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

import flowkit
from cases import clip_with_audio, data_path, interlaced_clip, open_files
from flowkit.video import VideoWriter, audio_track, probe_video
from test_cli import one_error_line, run_cli

SIZE = (64, 36)  # width, height of the test clips: tiny, even


def real_frames(name, count, start=0, size=SIZE):
    """``count`` RGB frames of a shared clip from frame ``start``, resized to ``size``."""
    frames = itertools.islice(flowkit.iter_frames(data_path("video", name), resize=size), start, start + count)
    return list(frames)


def write_clip(path, frames, fps=24, *, times=None, codec=None, tone=None, rotation=0,
               pix_fmt=None, gop=None, languages=None, metadata=None, titles=None, chapters=None,
               sar=None, timecode=None):
    """Write frames with PyAV (independently of flowkit's writer): at ``k / fps`` or at the
    given ``times`` (seconds, Fractions), optionally with a ``tone`` (Hz; a list: one AAC track
    per tone) as long as the video. Frames are RGB, uint8 or uint16 (full 16-bit scale);
    ``pix_fmt`` the encoded format (default yuv420p, bgr0 for FFV1); ``gop``: x264 with a
    keyframe every ``gop`` frames exactly (no scene-cut keyframes); ``languages``: the
    language tags of the video stream and then of each audio stream; ``metadata``: global tags;
    ``titles``: the title and handler name of each stream, video first; ``chapters``:
    ``(start, end, title)`` in seconds; ``sar``: the sample aspect ratio (x264 stores it);
    ``timecode``: the video stream's start timecode (a ``tmcd`` track in MOV and MP4)."""
    codec = codec or "libx264"
    time_base = Fraction(1, 1000) if times is not None else 1 / Fraction(fps)
    suffix = str(path).rsplit(".", 1)[-1]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = pix_fmt or ("bgr0" if codec == "ffv1" else "yuv420p")
        stream.codec_context.time_base = time_base
        if suffix == "mp4":
            stream.time_base = time_base
        if codec == "libx264":
            stream.options = {"crf": "12"} if gop is None else {
                "crf": "12", "g": str(gop), "keyint_min": str(gop), "sc_threshold": "0"}
        if rotation:
            stream.set_display_rotation(rotation)
        if sar is not None:
            stream.codec_context.sample_aspect_ratio = sar
        if timecode is not None:
            stream.metadata["timecode"] = timecode
        tracks = []
        for frequency in ([] if tone is None else np.atleast_1d(tone)):
            audio = container.add_stream("aac", rate=48000)
            audio.layout = "mono"
            tracks.append((frequency, audio))
        for tagged, language in zip(container.streams, languages or ()):
            tagged.metadata["language"] = language
        for tagged, title in zip(container.streams, titles or ()):
            tagged.metadata.update(title=title, handler_name=f"{title} handler")
        container.metadata.update(metadata or {})
        container.set_chapters([{"id": k + 1, "start": round(start * 1000),
                                 "end": round(end * 1000), "time_base": Fraction(1, 1000),
                                 "metadata": {"title": title}}
                                for k, (start, end, title) in enumerate(chapters or ())])
        for k, frame in enumerate(frames):
            picture = av.VideoFrame.from_ndarray(
                frame, format="rgb48le" if frame.dtype == np.uint16 else "rgb24")
            picture.pts = k if times is None else round(times[k] / time_base)
            picture.time_base = time_base
            container.mux(stream.encode(picture))
        container.mux(stream.encode(None))
        for frequency, audio in tracks:
            seconds = len(frames) / fps
            samples = np.sin(2 * np.pi * frequency * np.arange(int(48000 * seconds)) / 48000) * 0.5
            for start in range(0, samples.size, 1024):
                chunk = samples[start:start + 1024].astype(np.float32)[None]
                piece = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
                piece.sample_rate, piece.pts, piece.time_base = 48000, start, Fraction(1, 48000)
                container.mux(audio.encode(piece))
            container.mux(audio.encode(None))
    return path


def timestamps(path):
    return [t for t, _ in flowkit.iter_frames(path, timestamps=True)]


def decoded(path):
    return [f for _, f in flowkit.iter_frames(path, timestamps=True)]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """12 frames of Tears of Steel (one shot), 64x36, 24 fps, H.264."""
    frames = real_frames("zwm__clip_01_tears_of_steel.mp4", 12, start=2)
    return write_clip(tmp_path_factory.mktemp("clip") / "tears.mp4", frames, 24)


@pytest.mark.parametrize("kwargs, rate, count", [
    ({"factor": 2}, Fraction(48), 24),                                # 0.5 s at 48 fps
    ({"fps": "24000/1001"}, Fraction(24000, 1001), 12),               # ceil(0.5 * 23.976) = 12
    ({"fps": Fraction(30000, 1001), "speed": 0.5}, Fraction(30000, 1001), 30),  # ceil(1 s * 29.97)
    ({"speed": 0.5}, Fraction(24), 24),                               # 1 s at 24 fps
    ({"duration": 2}, Fraction(24), 48),                              # speed 1/4
    # NumPy's float32 / float16 (Fraction refuses them: "argument should be a string or a
    # Rational instance", naming no parameter) read as floats
    ({"factor": np.float32(2)}, Fraction(48), 24),
    ({"speed": np.float16(0.5)}, Fraction(24), 24),
])
def test_frame_count_and_exact_timestamps(tmp_path, clip, kwargs, rate, count):
    out = tmp_path / "out.mp4"
    report = flowkit.retime(clip, out, progress=False, **kwargs)
    assert report.frames == count and report.fps == rate
    assert report.duration == count / rate
    assert timestamps(out) == [k / rate for k in range(count)]
    assert probe_video(out).frame_rate == rate


def lossless(tmp_path, count, **kwargs):
    """``count`` Tears of Steel frames in a lossless clip (FFV1 in MP4, exact timestamps at 24
    fps), retimed losslessly with ``kwargs``: (input frames, report, output frames)."""
    frames = real_frames("zwm__clip_01_tears_of_steel.mp4", count, start=2)
    source = write_clip(tmp_path / "in.mp4", frames, 24, codec="ffv1")
    report = flowkit.retime(source, tmp_path / "out.mp4", codec="ffv1", progress=False, **kwargs)
    return frames, report, decoded(tmp_path / "out.mp4")


def test_factor_two_keeps_input_frames_and_interpolates_between(tmp_path):
    frames, report, got = lossless(tmp_path, 6, factor=2)
    assert len(got) == 12 and report.interpolated == 5  # the 12th frame holds the last one
    assert (report.repeated, report.dropped) == (1, 0)
    for k, frame in enumerate(frames):
        np.testing.assert_array_equal(got[2 * k], frame)  # lossless pass-through
    np.testing.assert_array_equal(got[11], frames[5])
    # the generated frames are interpolate's at t = 0.5
    for k in range(5):
        np.testing.assert_array_equal(got[2 * k + 1], flowkit.interpolate(frames[k], frames[k + 1], 0.5))


def test_yuv_input_is_interpolated_in_yuv(tmp_path):
    # an 8-bit YUV input is worked on as its YUV planes (4:4:4): a frame passed through goes
    # 4:2:0 -> 4:4:4 -> 4:2:0, no RGB round trip, and keeps more than an RGB round trip does
    # (the reference: the decoded RGB frame converted to 4:2:0 and back, as the encoder would
    # see it in an RGB path; exactness: test_kept_frames_are_the_input_planes_exactly)
    from flowkit import metrics

    frames = real_frames("zwm__clip_01_tears_of_steel.mp4", 3, start=2, size=(640, 360))
    clip = write_clip(tmp_path / "in.mp4", frames, 24)
    out = tmp_path / "out.mkv"
    report = flowkit.retime(clip, out, factor=2, codec="ffv1", progress=False)
    assert probe_video(out).pix_fmt == "yuv420p" and report.interpolated == 2
    source, got = decoded(clip), decoded(out)
    for k, frame in enumerate(source):
        rgb_path = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format="yuv420p")
        baseline = metrics.psnr(rgb_path.to_ndarray(format="rgb24"), frame)
        assert metrics.psnr(got[2 * k], frame) > baseline + 1.0, k
    # and the generated frames lie between their neighbours (closer to the interpolation of
    # the decoded RGB frames than either input is)
    middle = flowkit.interpolate(source[1], source[2], 0.5)
    assert metrics.psnr(got[3], middle) > max(metrics.psnr(got[3], source[1]), metrics.psnr(got[3], source[2]))


def native_planes(path):
    """Each frame's Y, U, V planes as decoded, in the file's own pixel format (no conversion):
    (pixel format, [[Y, U, V] per frame])."""
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    planes = []
    for frame in frames:
        dtype = np.uint16 if frame.format.components[0].bits > 8 else np.uint8
        planes.append([np.frombuffer(plane, dtype).reshape(plane.height, -1)[:, :plane.width]
                       for plane in frame.planes])
    return frames[0].format.name, planes


@pytest.mark.parametrize("name, pix_fmt", [
    ("torchcodec__h264_10bits.mp4", "yuv420p10le"),          # 10-bit: 16-bit planes
    ("androidx__bear-vp9-odd-dimensions.webm", "yuv420p"),    # 8-bit, 161x121 (FFV1 takes it)
])
def test_kept_frames_are_the_input_planes_exactly(tmp_path, name, pix_fmt):
    # YUV input is retimed on its own planes (chroma repeated to 4:4:4, averaged back): frames
    # passed through come out bit for bit through a lossless encoder, 10-bit included (an RGB48
    # round trip moved them 3.2-3.8 levels on an 8-bit scale)
    src = data_path("video", name)
    out = tmp_path / "out.mkv"
    report = flowkit.retime(src, out, factor=2, codec="ffv1", method="blend", progress=False)
    in_fmt, source = native_planes(src)
    out_fmt, got = native_planes(out)
    assert in_fmt == out_fmt == pix_fmt and report.frames == 2 * len(source)
    for k, planes in enumerate(source):
        for plane, kept in zip(planes, got[2 * k]):
            np.testing.assert_array_equal(kept, plane)


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuvj420p"])
def test_avi_is_mjpeg_with_exact_times_and_the_colours_of_a_bt709_input(tmp_path, pix_fmt):
    # retime wrote .avi with libx264: AVI stores no presentation times, and H.264 read back
    # with its first frame at 1/fps and B-frames' times out of order (1, 4, 3, 5, 2, ...
    # thirtieths on the traffic clip). Now MJPEG, as VideoWriter's table; MJPEG is read with
    # JPEG's BT.601 matrix whatever the tags, so a BT.709 input goes through RGB, not its
    # planes (they came out red 200 -> 183, green 199 -> 227; full-range yuvj420p input's
    # planes went in as they were too: red 198 -> 183, green 29 -> 12)
    frame = np.zeros((32, 96, 3), np.uint8)
    frame[:, :32], frame[:, 32:64], frame[:, 64:] = (200, 30, 30), (30, 200, 30), (30, 30, 200)
    bt709 = {"colorspace": 1, "color_range": 2 if pix_fmt == "yuvj420p" else 1,
             "color_primaries": 1, "color_trc": 1}
    with flowkit.VideoWriter(tmp_path / "in.mp4", 10, pix_fmt=pix_fmt, color=bt709) as writer:
        for k in range(4):
            writer.write(np.roll(frame, 2 * k, axis=1))
    report = flowkit.retime(tmp_path / "in.mp4", tmp_path / "out.avi", factor=2, progress=False)
    assert probe_video(tmp_path / "out.avi").codec == "mjpeg" and report.frames == 8
    got = list(flowkit.iter_frames(tmp_path / "out.avi", timestamps=True))
    assert [t for t, _ in got] == [Fraction(k, 20) for k in range(8)]
    source = next(flowkit.iter_frames(tmp_path / "in.mp4")).astype(float)
    for start in (8, 40, 72):  # inside each bar: MJPEG's error (measured <= 3 levels), not the
        # 17-28 levels of the shift
        assert np.abs(got[0][1][8:24, start:start + 16].astype(float).mean(axis=(0, 1))
                      - source[8:24, start:start + 16].mean(axis=(0, 1))).max() <= 5


def test_avi_input_is_interpolated_and_keeps_its_last_period(tmp_path):
    # AVI stores times in units of its frame period (time base 1/24), which retime took as the
    # tolerance within which an output time shows an input frame: every output time was
    # within it, so --factor 2 repeated each frame (0 interpolated) and lost the last period
    # (14 frames, 0.292 s, from 8 frames at 24 fps)
    frames = real_frames("zwm__clip_01_tears_of_steel.mp4", 8, start=30)
    src = write_clip(tmp_path / "in.avi", frames, 24, codec="mjpeg", pix_fmt="yuvj420p")
    assert probe_video(src).time_base == Fraction(1, 24)
    report = flowkit.retime(src, tmp_path / "out.mkv", factor=2, method="blend",
                            scene_threshold=None, progress=False)
    assert (report.frames, report.interpolated, report.repeated) == (16, 7, 1)
    # k / 48 s to Matroska's millisecond, halves up
    assert timestamps(tmp_path / "out.mkv") == [Fraction(math.floor(Fraction(1000 * k, 48) + 0.5),
                                                         1000) for k in range(16)]
    # slow motion: output frames a quarter period apart in source time are interpolated
    # (3 per pair), the tolerance half of that; half an output period (the speed left out)
    # showed an input frame at every output time: 0 interpolated, 22 repeats, 30 frames
    report = flowkit.retime(src, tmp_path / "slow.mkv", speed=0.25, method="blend",
                            scene_threshold=None, progress=False)
    assert (report.frames, report.interpolated, report.repeated) == (32, 21, 3)


def test_full_range_input_keeps_its_planes_in_ffv1(tmp_path):
    # full-range yuvj420p input (as mediabunny's HEVC clip): FFV1 takes yuv420p but no yuvj
    # format, so the output is yuv420p tagged full range, the input's samples bit for bit (it
    # was RGB, bgr0, before); libx264 in .mp4 takes yuvj420p and keeps it
    frames = real_frames("zwm__clip_01_tears_of_steel.mp4", 3, start=2)
    src = write_clip(tmp_path / "in.mp4", frames, 24, pix_fmt="yuvj420p")
    out = tmp_path / "out.mkv"
    report = flowkit.retime(src, out, factor=2, codec="ffv1", method="blend", progress=False)
    in_fmt, source = native_planes(src)
    out_fmt, got = native_planes(out)
    assert (in_fmt, out_fmt, report.frames) == ("yuvj420p", "yuv420p", 6)
    assert probe_video(out).color.get("color_range") == 2  # pc (FFmpeg's AVCOL_RANGE_JPEG)
    for k, planes in enumerate(source):
        for plane, kept in zip(planes, got[2 * k]):
            np.testing.assert_array_equal(kept, plane)
    flowkit.retime(src, tmp_path / "out.mp4", factor=2, method="blend", progress=False)
    assert probe_video(tmp_path / "out.mp4").pix_fmt == "yuvj420p"


def test_learned_method_takes_a_user_weights_file(tmp_path):
    # --model / model=: the user's interp-refine weights (here the shipped ones perturbed),
    # loaded as flowkit.models loads a file: the generated frames are interpolate's with them
    torch = pytest.importorskip("torch", reason='the learned method needs torch: pip install "flowkit-cv[torch]"')
    from flowkit.models import get_model
    from flowkit.models.train import save_weights

    torch.manual_seed(0)
    mine = get_model("interp-refine")
    with torch.no_grad():
        for parameter in mine.parameters():
            parameter.add_(0.2 * torch.randn_like(parameter))
    weights = tmp_path / "mine.safetensors"
    save_weights(mine, weights, {"note": "perturbed"})
    frames, report, got = lossless(tmp_path, 2, factor=2, method="learned", model=weights)
    assert report.interpolated == 1
    expected = flowkit.interpolate(frames[0], frames[1], 0.5, method="learned", model=weights)
    shipped = flowkit.interpolate(frames[0], frames[1], 0.5, method="learned")
    np.testing.assert_array_equal(got[1], expected)
    assert np.abs(expected.astype(int) - shipped).max() > 0  # the file was used, not the shipped
    # the command line: --model, and its errors as one line without output
    status, out, err = run_cli("retime", tmp_path / "in.mp4", tmp_path / "cli.mkv", "--factor", "2",
                               "--codec", "ffv1", "--method", "learned", "--model", weights, "-q")
    assert status == 0 and f"weights {weights}" in out, err
    np.testing.assert_array_equal(decoded(tmp_path / "cli.mkv")[1], expected)
    missing = tmp_path / "absent.safetensors"
    status, _, err = run_cli("retime", tmp_path / "in.mp4", tmp_path / "x.mkv", "--method",
                             "learned", "--model", missing)
    assert status == 1 and one_error_line(err) == f"--model: no such file '{missing}'"
    with pytest.raises(ValueError, match="model: expected None unless method='learned'"):
        flowkit.retime(tmp_path / "in.mp4", tmp_path / "x.mkv", model=weights)
    assert not (tmp_path / "x.mkv").exists()


def test_deep_slow_motion_matches_interpolate(tmp_path):
    # 10x slow motion: 9 new frames per pair, made 4 at a time from one estimate of the flows;
    # bilinear sampling when asked for
    frames, report, got = lossless(tmp_path, 2, speed=0.1, interpolation="linear")
    assert report.frames == 20 and report.interpolated == 9
    expected = flowkit.interpolate(frames[0], frames[1], [j / 10 for j in range(1, 10)],
                                   interpolation="linear")
    for j in range(9):
        np.testing.assert_array_equal(got[1 + j], expected[j])
    np.testing.assert_array_equal(got[0], frames[0])
    for picture in got[10:]:
        np.testing.assert_array_equal(picture, frames[1])


def test_range_retimes_only_the_segment(tmp_path):
    # input seconds 0.125-0.25 (frames 3-5) at half speed: 3 frames become 6
    frames, report, got = lossless(tmp_path, 12, speed=0.5, segment=(0.125, 0.25), method="blend")
    assert report.frames == len(got) == 15
    assert timestamps(tmp_path / "out.mp4") == [Fraction(k, 24) for k in range(15)]
    for k in range(3):  # before the segment: unchanged
        np.testing.assert_array_equal(got[k], frames[k])
    for j in range(6):  # in it: source time 0.125 + j / 48, a blend half way on odd j
        a = frames[3 + j // 2]
        expected = a if j % 2 == 0 else flowkit.interpolate(a, frames[4 + j // 2], 0.5, method="blend")
        np.testing.assert_array_equal(got[3 + j], expected)
    for k in range(6):  # after it: frames 6-11 unchanged, 3 frames (0.125 s) later
        np.testing.assert_array_equal(got[9 + k], frames[6 + k])


def test_trim_writes_the_segment_alone(tmp_path):
    # the segment of test_range_retimes_only_the_segment, trimmed: its 6 frames from time 0
    frames, report, got = lossless(tmp_path, 12, speed=0.5, segment=(0.125, 0.25), trim=True,
                                   method="blend")
    assert report.frames == len(got) == 6 and report.duration == Fraction(1, 4)
    assert timestamps(tmp_path / "out.mp4") == [Fraction(k, 24) for k in range(6)]
    for j in range(6):
        a = frames[3 + j // 2]
        expected = a if j % 2 == 0 else flowkit.interpolate(a, frames[4 + j // 2], 0.5, method="blend")
        np.testing.assert_array_equal(got[j], expected)
    # a start between frames (0.13 s: frame 3 is at 0.125, frame 4 at 0.167) starts on frame 4,
    # copied, as ffmpeg -ss does; nothing is interpolated at speed 1
    frames, report, got = lossless(tmp_path, 12, segment=(0.13, 0.25), trim=True, method="blend")
    assert report.interpolated == 0 and len(got) == 2
    for k in range(2):
        np.testing.assert_array_equal(got[k], frames[4 + k])
    # an open end keeps the rest of the input: frames 9-11 at speed 1
    frames, report, got = lossless(tmp_path, 12, segment=(0.375, None), trim=True, method="blend")
    assert len(got) == 3
    for k in range(3):
        np.testing.assert_array_equal(got[k], frames[9 + k])


def test_trim_errors(clip, tmp_path):
    with pytest.raises(ValueError, match=r"trim: needs a segment \(start, end\) to keep, got segment=None"):
        flowkit.retime(clip, tmp_path / "a.mp4", trim=True)
    with pytest.raises(TypeError, match="trim: expected a bool"):
        flowkit.retime(clip, tmp_path / "a.mp4", segment=(0, 0.2), trim="yes")


def test_range_at_a_higher_rate_repeats_frames_outside(tmp_path):
    frames, report, got = lossless(tmp_path, 4, factor=2, method="blend",
                                   segment=(Fraction(1, 24), Fraction(2, 24)))
    assert report.frames == 8 and report.interpolated == 1
    assert (report.repeated, report.dropped) == (3, 0)  # FFmpeg's dup= and drop= counts
    for k, index in enumerate([0, 0, 1, None, 2, 2, 3, 3]):
        if index is not None:
            np.testing.assert_array_equal(got[k], frames[index])


def test_a_faster_speed_drops_the_frames_between(tmp_path):
    # twice the speed at the same rate: every other input frame, as ffmpeg's setpts+fps
    frames, report, got = lossless(tmp_path, 12, speed=2, method="blend")
    assert report.frames == len(got) == 6 and report.interpolated == 0
    assert (report.repeated, report.dropped) == (0, 5)  # 1, 3, ..., 9; 11 is after the end
    for k in range(6):
        np.testing.assert_array_equal(got[k], frames[2 * k])


def test_constant_video_stays_constant(tmp_path):
    frame = real_frames("zwm__clip_01_tears_of_steel.mp4", 1, start=30)[0]
    source = write_clip(tmp_path / "still.mkv", [frame] * 5, 24, codec="ffv1")  # ms timestamps
    out = tmp_path / "out.mkv"
    report = flowkit.retime(source, out, factor=3, speed=0.5, codec="ffv1", progress=False)
    got = decoded(out)
    assert len(got) == report.frames == 30
    assert report.interpolated == 0 and (report.repeated, report.dropped) == (25, 0)
    for picture in got:
        np.testing.assert_array_equal(picture, frame)


def flat_clip(path, times, levels, fps=30):
    """Flat frames of the given ``levels`` at ``times`` (seconds) in a lossless MKV."""
    frames = [np.full((SIZE[1], SIZE[0], 3), value, np.uint8) for value in levels]
    return write_clip(path, frames, fps, times=times, codec="ffv1")


@pytest.mark.parametrize("cut", [False, True])
def test_a_gap_in_the_timestamps_holds_the_frame_before_it(tmp_path, cut):
    # a 2 s gap at 30 fps (a capture's dropped frames, a screen recording's unchanged
    # picture): the frame before it is held until the frame after it, as FFmpeg's fps filter
    # does; it was filled with 60 frames morphing across it (made-up motion). A scene cut
    # across the gap holds it too (a cut alone shows the nearer frame)
    times = [Fraction(k, 30) for k in (*range(30), *range(90, 120))]
    levels = [60 + (150 if cut and k >= 30 else k) for k in range(60)]
    source = flat_clip(tmp_path / "gap.mkv", times, levels)
    out = tmp_path / "out.mkv"
    report = flowkit.retime(source, out, method="blend", codec="ffv1", progress=False)
    assert (report.fps, report.frames, report.interpolated) == (30, 120, 0)
    assert report.gaps == [(Fraction(967, 1000), Fraction(3))]  # MKV's milliseconds
    assert report.cuts == ([Fraction(3)] if cut else [])
    assert report.repeated == 60
    shown = [int(picture[0, 0, 0]) for picture in decoded(out)]
    assert shown == levels[:30] + [levels[29]] * 60 + levels[30:]
    # the command line: the summary counts the gap; no note that the timeline is unchanged
    # (0 frames interpolated at the input's rate said 'only re-encoded' of 60 held frames)
    status, stdout, err = run_cli("retime", source, tmp_path / "cli.mkv", "--method", "blend",
                                  "--codec", "ffv1")
    assert status == 0 and "1 timestamp gap held (at 0.967-3.000 s)" in stdout and err == "", \
        (stdout, err)


def test_the_summary_says_where_the_gaps_are(tmp_path):
    # five 1 s holes in a 30 fps clip: the summary counted them ('5 timestamp gaps held') and
    # said nowhere where they were, which a user of a long file needs to check them
    starts = (0, 40, 80, 120, 160, 200)
    times = [Fraction(s + k, 30) for s in starts for k in range(10)]
    source = flat_clip(tmp_path / "gaps.mkv", times, [60 + k for k in range(60)])
    report = flowkit.retime(source, tmp_path / "out.mkv", method="blend", codec="ffv1",
                            progress=False)
    assert [(round(t0, 3), round(t1, 3)) for t0, t1 in report.gaps] == \
        [(round(Fraction(s - 31, 30), 3), round(Fraction(s, 30), 3)) for s in starts[1:]]
    status, stdout, err = run_cli("retime", source, tmp_path / "cli.mkv", "--method", "blend",
                                  "--codec", "ffv1")
    assert status == 0 and err == "", err
    assert "5 timestamp gaps held (at 0.300-1.333 s, 1.633-2.667 s, 2.967-4.000 s and 2 more)," \
        in stdout, stdout


def test_a_lossless_part_of_an_rgb_input(tmp_path):
    # batch's chunked retime writes each part losslessly (retime(part=..., _lossless=True)):
    # an RGB-coded input (FFV1 bgr0) asked FFV1 for 8-bit gbrp, which PyAV 18's FFmpeg lacks,
    # so every part failed ('pix_fmt: ffv1 cannot encode gbrp')
    frames = [np.random.default_rng(k).integers(0, 256, (24, 32, 3), np.uint8) for k in range(6)]
    source = write_clip(tmp_path / "rgb.mkv", frames, 24, codec="ffv1")
    whole = flowkit.retime(source, tmp_path / "whole.mkv", factor=2, method="blend",
                           codec="ffv1", progress=False)
    part = flowkit.retime(source, tmp_path / "part.mkv", factor=2, method="blend",
                          progress=False, part=(0, None), _lossless=True)
    assert part.frames == whole.frames == 12
    for got, want in zip(decoded(tmp_path / "part.mkv"), decoded(tmp_path / "whole.mkv")):
        np.testing.assert_array_equal(got, want)


def retime_in_parts(src, tmp_path, parts, **options):
    """The frames of ``retime(src, **options)`` and of its ``parts`` joined (each part's
    ``start_frame`` checked to follow the part before)."""
    flowkit.retime(src, tmp_path / "whole.mkv", progress=False, **options)
    joined = []
    for k, part in enumerate(parts):
        report = flowkit.retime(src, tmp_path / f"{k}.mkv", progress=False, part=part, **options)
        assert report.start_frame == len(joined), (k, report.start_frame, len(joined))
        joined += decoded(tmp_path / f"{k}.mkv")
    return decoded(tmp_path / "whole.mkv"), joined


@pytest.mark.parametrize("name, codec", [("a.mpg", "mpeg2video"), ("a.mpg", "mpeg1video"),
                                         ("a.ts", "mpeg2video"), ("a.ts", "libx264"),
                                         ("a.mp4", None), ("a.mkv", None)])
def test_the_parts_of_a_retime_join_into_the_whole_run(tmp_path, name, codec):
    # a part (flowkit.batch's chunks) decodes from the keyframe before its start, found by a
    # seek; FFmpeg's MPEG-PS and MPEG-TS demuxers keep no index and seeked to any frame before
    # it, so decoding began at the keyframe after it: with a keyframe every 12 frames (MPEG-2's
    # default) the three parts of 30 frames at factor 2 started on output frames 0, 24, 48
    # and wrote 48 frames of 60, and an H.264 .ts (one keyframe) decoded nothing after 1/3 s
    frame = np.random.default_rng(0).integers(0, 256, (32, 32, 3), np.uint8)
    src = tmp_path / name
    with VideoWriter(src, 30, codec=codec) as writer:
        for k in range(30):
            writer.write(np.roll(frame, k, axis=1))
    parts = [(0, Fraction(1, 3)), (Fraction(1, 3), Fraction(2, 3)), (Fraction(2, 3), None)]
    whole, joined = retime_in_parts(src, tmp_path, parts, factor=2, method="blend",
                                    codec="ffv1")
    assert len(joined) == len(whole) == 60
    for got, want in zip(joined, whole):
        np.testing.assert_array_equal(got, want)


def test_the_parts_of_a_retime_of_an_mpeg_ps_keep_their_pairs(tmp_path):
    # after a seek in an MPEG-PS file FFmpeg's parser gives the frames late timestamps (here
    # MPEG-1, 32x32: a frame late), so the parts after the first took other pairs than the
    # whole run: the frames differed from output frame 80 on (the counts did not)
    ramp = np.linspace(0, 255, 32).astype(np.uint8)[None, :, None].repeat(32, 0).repeat(3, 2)
    src = tmp_path / "a.mpg"
    with VideoWriter(src, 30, codec="mpeg1video") as writer:
        for k in range(90):
            writer.write(np.roll(ramp, k, axis=1))
    parts = [(0, Fraction(4, 3)), (Fraction(4, 3), Fraction(7, 3)), (Fraction(7, 3), None)]
    whole, joined = retime_in_parts(src, tmp_path, parts, factor=2, method="blend",
                                    codec="ffv1")
    assert len(joined) == len(whole) == 180
    for got, want in zip(joined, whole):
        np.testing.assert_array_equal(got, want)


def test_a_timelapse_is_interpolated_throughout(tmp_path):
    # 1 fps to 30 fps: every pair is 30 output frames apart but one period of the input's
    # grid, no gap
    levels = [40, 60, 80, 100, 120]  # steps of 7.8 %: no scene cut
    source = flat_clip(tmp_path / "timelapse.mkv", [Fraction(k) for k in range(5)], levels, 1)
    assert probe_video(source).base_rate == 1
    out = tmp_path / "out.mkv"
    report = flowkit.retime(source, out, fps=30, method="blend", codec="ffv1", progress=False)
    assert report.gaps == [] and report.frames == 150 and report.interpolated == 4 * 29
    assert [int(picture[0, 0, 0]) for picture in decoded(out)][:31] == \
        [40 + round(20 * k / 30) for k in range(31)]


@pytest.mark.parametrize("periods, gap", [(2, False), (16, False), (20, False), (21, True)])
def test_only_intervals_over_20_periods_are_gaps(tmp_path, periods, gap):
    # the shared variable-rate clip's intervals are 1, 2 and once 16 periods of its 30 fps grid
    # (test_real_clips_are_unchanged_by_the_gap_rule): interpolated; past 20 periods held
    steps = [1, 2, 1, 1, 2, 1, periods, 1, 2, 1, 1, 2, 1]
    ticks = [sum(steps[:k]) for k in range(len(steps) + 1)]
    source = flat_clip(tmp_path / "vfr.mkv", [Fraction(k, 30) for k in ticks],
                       [40 + 5 * k for k in range(len(ticks))])
    assert probe_video(source).base_rate == 30
    report = flowkit.retime(source, tmp_path / "out.mkv", method="blend", codec="ffv1",
                            progress=False)
    assert len(report.gaps) == gap
    # the 4 one-frame holes of the 2-period steps, and the long one when not a gap
    assert report.interpolated == 4 + (0 if gap else periods - 1)


@pytest.mark.parametrize("name, options", [
    ("torchcodec__var_fps_video.mp4", dict(factor=2, segment=(0.8, 1.8), trim=True)),
    ("car_traffic_small.mp4", dict(factor=2, segment=(0, 0.5), trim=True)),
])
def test_real_clips_are_unchanged_by_the_gap_rule(tmp_path, monkeypatch, name, options):
    # the shared variable-rate clip's 16-period interval (1 to 1.533 s) and a constant-rate
    # clip: written byte for byte as without the rule
    from flowkit import _retime

    source = data_path("video", name)
    report = flowkit.retime(source, tmp_path / "rule.mkv", codec="ffv1", progress=False,
                            **options)
    assert report.gaps == [] and report.interpolated > 0
    monkeypatch.setattr(_retime, "GAP_PERIODS", math.inf)
    flowkit.retime(source, tmp_path / "none.mkv", codec="ffv1", progress=False, **options)
    assert (tmp_path / "rule.mkv").read_bytes() == (tmp_path / "none.mkv").read_bytes()


def test_variable_frame_rate_input(tmp_path):
    # flat frames whose level encodes their (irregular) time: level = 600 * t
    times = [Fraction(ms, 1000) for ms in (0, 40, 60, 130, 150, 250, 300)]
    frames = [np.full((SIZE[1], SIZE[0], 3), int(600 * t), np.uint8) for t in times]
    source = write_clip(tmp_path / "vfr.mkv", frames, 20, times=times, codec="ffv1")
    assert timestamps(source) == times
    out = tmp_path / "out.mkv"
    report = flowkit.retime(source, out, fps=40, method="blend", codec="ffv1",
                            scene_threshold=None, progress=False)
    # the last frame lasts one average period (7 frames in 0.3 s: 70/3 fps, 3/70 s):
    # the output covers 0.3 + 3/70 s at 40 fps -> ceil(13.71) = 14 frames
    assert report.frames == 14
    for k, picture in enumerate(decoded(out)):
        s = Fraction(k, 40)
        i = max(j for j, t in enumerate(times) if t <= s)
        if i + 1 < len(times):
            alpha = (s - times[i]) / (times[i + 1] - times[i])
            expected = (1 - alpha) * int(600 * times[i]) + alpha * int(600 * times[i + 1])
        else:
            expected = int(600 * times[i])
        assert abs(float(picture.mean()) - float(expected)) <= 0.5, k


def test_real_vfr_file_timestamps(tmp_path):
    source = data_path("video", "torchcodec__var_fps_video.mp4")
    out = tmp_path / "out.mp4"
    report = flowkit.retime(source, out, fps=10, method="blend", progress=False)
    info = probe_video(source)
    last = timestamps(source)[-1]
    assert report.frames == math.ceil((last - timestamps(source)[0] + 1 / info.base_rate) * 10)
    assert timestamps(out) == [Fraction(k, 10) for k in range(report.frames)]


def test_scene_cut_is_not_warped_across(tmp_path):
    shot_a = real_frames("zwm__clip_01_tears_of_steel.mp4", 4, start=2)
    shot_b = real_frames("car_traffic_small.mp4", 4, start=100)
    source = write_clip(tmp_path / "cut.mp4", shot_a + shot_b, 24, codec="ffv1")
    out = tmp_path / "out.mp4"
    report = flowkit.retime(source, out, factor=2, codec="ffv1", progress=False)
    assert report.cuts == [Fraction(4, 24)]
    got = decoded(out)
    # the frame half way across the cut repeats the earlier frame (documented: the nearer
    # one, the earlier at exactly half way); frames inside each shot are interpolated
    np.testing.assert_array_equal(got[7], shot_a[3])
    assert report.interpolated == 6
    assert (report.repeated, report.dropped) == (2, 0)  # across the cut, the last frame held
    np.testing.assert_array_equal(got[5], flowkit.interpolate(shot_a[2], shot_a[3], 0.5))
    # with detection off the cut is interpolated like any pair
    report = flowkit.retime(source, tmp_path / "warped.mp4", factor=2, codec="ffv1",
                            scene_threshold=None, progress=False)
    assert report.cuts == [] and report.interpolated == 7
    assert not np.array_equal(decoded(tmp_path / "warped.mp4")[7], shot_a[3])


@pytest.mark.parametrize("suffix, factor, shown", [
    ("mp4", 2, [62, 62, 200]), ("mkv", 2, [62, 62, 200]), ("avi", 2, [62, 62, 200]),
    ("mp4", 3, [62, 62, 200, 200]), ("mkv", 3, [62, 62, 200, 200]), ("avi", 3, [62, 62, 200, 200])])
def test_a_cut_shows_the_nearer_frame_in_every_container(tmp_path, suffix, factor, shown):
    # frame 2 (62) and 3 (200) at 15 fps are a cut. Factor 2: MKV stores them at 133 and
    # 200 ms, so the output frame half way (166.67 ms) came 0.5 ms past the middle and showed
    # the later frame, where the same clip in MP4 showed the earlier (a one-frame flash was
    # shown twice). Factor 3: output frames 1/3 and 2/3 across; AVI's timestamp unit is its
    # frame period, and taking it (capped at half an output step) as rounding of half way
    # showed the earlier frame at 2/3 too (the cut a frame late)
    levels = [60, 61, 62, 200, 201, 202]
    frames = [np.full((SIZE[1], SIZE[0], 3), value, np.uint8) for value in levels]
    source = write_clip(tmp_path / f"cut.{suffix}", frames, 15, codec="ffv1")
    out = tmp_path / f"out.{suffix}"
    report = flowkit.retime(source, out, factor=factor, method="blend", codec="ffv1",
                            progress=False)
    assert report.cuts == [Fraction(1, 5)]
    got = [int(picture[0, 0, 0]) for picture in decoded(out)]
    assert got[2 * factor:3 * factor + 1] == shown  # frame 2, the frames across the cut, frame 3


def test_cuts_outside_the_range_are_not_reported(tmp_path):
    # the cut at 4/24 s lies outside a range of 0-2/24 s: nothing was kept from interpolation
    shot_a = real_frames("zwm__clip_01_tears_of_steel.mp4", 4, start=2)
    shot_b = real_frames("car_traffic_small.mp4", 4, start=100)
    source = write_clip(tmp_path / "cut.mp4", shot_a + shot_b, 24, codec="ffv1")
    report = flowkit.retime(source, tmp_path / "out.mp4", speed=0.5, segment=(0, Fraction(2, 24)),
                            codec="ffv1", method="blend", progress=False)
    assert report.cuts == [] and report.interpolated == 2
    report = flowkit.retime(source, tmp_path / "out.mp4", speed=0.5, segment=(0.1, None),
                            codec="ffv1", method="blend", progress=False)
    assert report.cuts == [Fraction(4, 24)]


def test_scene_change_measure_like_minterpolate():
    a = np.zeros((8, 8), np.uint8)
    b = np.full((8, 8), 51, np.uint8)  # 20 % of full scale
    from flowkit._retime import scene_change

    assert scene_change(a, b, 0.0, 10.0) == (True, pytest.approx(20.0))
    # a difference as large as the previous pair's is steady motion, not a cut
    assert scene_change(a, b, 20.0, 10.0)[0] is False
    assert scene_change(a, a, 0.0, 10.0) == (False, 0.0)
    # minterpolate's test is >=: a difference of exactly the threshold is a cut
    assert scene_change(a, b, 0.0, 51 * 100.0 / 255) == (True, 51 * 100.0 / 255)



def test_scene_change_of_float_frames_does_not_depend_on_their_scale():
    # floats have no fixed full scale: the pair's own range is it, so [0, 1], [0, 255] and a
    # low-contrast copy give the same difference (a new user's float [0, 255] clip read as a
    # cut at every pair: 438 %)
    from cases import textured_image
    from flowkit._retime import scene_change

    a = textured_image(64, 80, seed=1).astype(np.float32)
    b = np.roll(a, 3, axis=1)
    reference = scene_change(a, b, 0.0, 10.0)[1]
    assert 5.0 < reference < 50.0
    for scale, offset in ((255.0, 0.0), (0.03, 0.5), (1000.0, -7.0)):
        mafd = scene_change(a * np.float32(scale) + np.float32(offset),
                            b * np.float32(scale) + np.float32(offset), 0.0, 10.0)[1]
        assert mafd == pytest.approx(reference, rel=1e-4)
    # integer frames keep minterpolate's measure (full scale of the dtype)
    u8 = (a * 255).round().astype(np.uint8), (b * 255).round().astype(np.uint8)
    a4, b4 = a[::4, ::4], b[::4, ::4]  # the samples the test reads
    span = max(a4.max(), b4.max()) - min(a4.min(), b4.min())
    assert scene_change(*u8, 0.0, 10.0)[1] == pytest.approx(reference * span, rel=0.02)

def tone_peak(path, index=0):
    """(duration in seconds, frequency of the strongest FFT bin) of audio stream ``index``."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[index]
        rate = stream.codec_context.sample_rate
        samples = np.concatenate([f.to_ndarray().reshape(-1, f.samples)[0]
                                  for f in container.decode(stream)])
    spectrum = np.abs(np.fft.rfft(samples[rate // 10: -rate // 10]))
    return samples.size / rate, np.fft.rfftfreq(samples.size - 2 * (rate // 10), 1 / rate)[spectrum.argmax()]


def write_av_clip(path, video_start, audio, click, count=12, fps=24, level=0.05):
    """``count`` Tears of Steel frames at ``video_start + k / fps`` seconds (1/90000 units, as
    MPEG-TS has them) and an AAC track (48 kHz) from ``audio[0]`` to ``audio[1]`` seconds: a
    tone of amplitude ``level`` (0: digital silence) with a 10 ms click at ``click`` s, whose
    place in an output measures A/V sync."""
    frames = real_frames("zwm__clip_01_tears_of_steel.mp4", count, start=2)
    unit, rate = Fraction(1, 90000), 48000
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height = SIZE
        video.pix_fmt = "yuv420p"
        video.codec_context.time_base = video.time_base = unit
        sound = container.add_stream("aac", rate=rate)
        sound.layout = "mono"
        for k, frame in enumerate(frames):
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
            picture.pts, picture.time_base = round((video_start + Fraction(k, fps)) / unit), unit
            container.mux(video.encode(picture))
        container.mux(video.encode(None))
        first = round(audio[0] * rate)
        samples = level * np.sin(2 * np.pi * 440 * np.arange(round(audio[1] * rate) - first) / rate)
        at = round(click * rate) - first
        samples[at:at + rate // 100] = 0.9
        for start in range(0, samples.size, 1024):
            piece = av.AudioFrame.from_ndarray(samples[None, start:start + 1024].astype(np.float32),
                                               format="flt", layout="mono")
            piece.sample_rate, piece.pts, piece.time_base = rate, first + start, Fraction(1, rate)
            container.mux(sound.encode(piece))
        container.mux(sound.encode(None))
    return path


def click_time(path):
    """Seconds from the start of ``path``'s timeline to the click of :func:`write_av_clip`: the
    middle of its samples above half scale (AAC smears the edges), less 5 ms; NaN without it."""
    with av.open(str(path)) as container:
        frames = list(container.decode(container.streams.audio[0]))
    samples = np.concatenate([f.to_ndarray().reshape(-1, f.samples)[0] for f in frames])
    loud = np.flatnonzero(np.abs(samples) > 0.45)
    if not loud.size:
        return math.nan  # the click is lost
    first = frames[0].pts * frames[0].time_base
    return float(first + Fraction(int(loud[0] + loud[-1]), 2 * frames[0].sample_rate)) - 0.005


@pytest.fixture(scope="module")
def clip_with_tone(tmp_path_factory):
    frames = real_frames("zwm__clip_01_tears_of_steel.mp4", 24, start=2)
    return write_clip(tmp_path_factory.mktemp("tone") / "tone.mp4", frames, 24, tone=440)


def test_audio_is_copied(tmp_path, clip_with_tone):
    out = tmp_path / "out.mp4"
    report = flowkit.retime(clip_with_tone, out, factor=2, method="blend", progress=False)
    assert report.audio == "copied"
    seconds, peak = tone_peak(out)
    assert abs(seconds - 1.0) < 0.05 and abs(peak - 440) < 5
    with av.open(str(clip_with_tone)) as a, av.open(str(out)) as b:
        packets_in = [bytes(p) for p in a.demux(a.streams.audio[0]) if p.size]
        packets_out = [bytes(p) for p in b.demux(b.streams.audio[0]) if p.size]
    assert packets_out == packets_in  # the very same packets


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv"])
def test_copied_audio_stays_in_step_with_a_video_starting_after_it(tmp_path, suffix):
    # the video starts 1.4 s after the audio (as a recording may): the output starts both at
    # the first frame. The input's AAC priming packet (before 0) was kept and copied to -1.4 s:
    # the .mp4 played 0.6 s of audio from 1.408 s, the click lost. The packet holding the first
    # frame's time is kept before 0 as the priming is: the click is on its frame, to the ms
    src = write_av_clip(tmp_path / "in.mp4", Fraction(7, 5), (0, 2), click=Fraction(33, 20))
    out = tmp_path / f"out{suffix}"
    report = flowkit.retime(src, out, factor=2, method="blend", progress=False)
    assert report.audio == "copied"
    assert abs(click_time(out) - 0.25) < 0.001  # the click, 0.25 s after the first frame


@pytest.mark.parametrize("suffix, audio", [(".mp4", "stretch"), (".webm", None)])
def test_re_encoded_audio_starts_with_a_video_starting_after_it(tmp_path, suffix, audio):
    # re-encoded audio (stretch at speed 1; AAC into WebM by default) is cut at the first
    # frame's time to the sample; the packet holding that time was skipped, so the audio
    # began with the next one, 384 samples later, and played 8 ms early
    src = write_av_clip(tmp_path / "in.mp4", Fraction(7, 5), (0, 2), click=Fraction(33, 20))
    out = tmp_path / f"out{suffix}"
    report = flowkit.retime(src, out, factor=2, audio=audio, method="blend", progress=False)
    assert report.audio == "re-encoded"
    assert abs(click_time(out) - 0.25) < 0.001


@pytest.mark.parametrize("suffix, options", [(".mp4", {"factor": 2, "audio": "stretch"}),
                                             (".webm", {"factor": 2}),
                                             (".mp4", {"segment": (0.125, 0.5), "trim": True})])
def test_audio_re_encoded_at_speed_one_is_not_moved_by_silence(tmp_path, suffix, options):
    # at speed 1 the audio went through atempo at tempo 1, whose alignment search drifts in
    # digital silence: the click after 0.3 s of it came 18 to 43 ms early
    src = write_av_clip(tmp_path / "in.mp4", 0, (0, Fraction(1, 2)), Fraction(3, 10), level=0)
    out = tmp_path / f"out{suffix}"
    report = flowkit.retime(src, out, method="blend", progress=False, **options)
    assert report.audio == "re-encoded"
    start = options.get("segment", (0,))[0]
    assert abs(click_time(out) - (0.3 - start)) < 0.001


@pytest.mark.parametrize("suffix, options, click, within", [
    (".mp4", {"factor": 2, "audio": "stretch"}, 0.3, 0.001),
    (".webm", {"factor": 2}, 0.3, 0.001),
    (".mp4", {"segment": (0.125, 0.5), "trim": True}, 0.175, 0.001),
    (".mp4", {"speed": 0.5}, 0.6, 0.02),  # atempo's search drifts in the silence before it
])
def test_re_encoded_audio_starting_after_the_video_keeps_its_place(tmp_path, suffix, options,
                                                                   click, within):
    # the audio starts 0.2 s after the first frame: re-encoded, its samples were written from
    # 0 on, the click 0.2 s early (copied packets keep their times); the gap is silence now
    src = write_av_clip(tmp_path / "in.mp4", 0, (Fraction(1, 5), Fraction(1, 2)),
                        Fraction(3, 10))
    out = tmp_path / f"out{suffix}"
    flowkit.retime(src, out, method="blend", progress=False, **options)
    assert abs(click_time(out) - click) < within


def test_a_video_starting_10_s_after_its_audio_is_read(tmp_path):
    # FFmpeg learns the pixel format from the frames it reads in the first 5 s: here only
    # audio, and the file was refused as 'unknown codec or damaged headers'
    src = write_av_clip(tmp_path / "in.mp4", 10, (0, Fraction(21, 2)), Fraction(41, 4))
    assert probe_video(src).pix_fmt == "yuv420p"
    out = tmp_path / "out.mp4"
    report = flowkit.retime(src, out, factor=2, method="blend", progress=False)
    assert report.frames == 24 and abs(click_time(out) - 0.25) < 0.001


def test_cli_scene_options_exclude_each_other(tmp_path, clip):
    # whichever came last won silently
    status, _, err = run_cli("retime", clip, tmp_path / "a.mp4", "--factor", "2",
                             "--no-scene-detection", "--scene-threshold", "5")
    assert status == 2 and "not allowed with argument --no-scene-detection" in err, err
    assert not (tmp_path / "a.mp4").exists()
    status, _, err = run_cli("retime", clip, tmp_path / "a.mp4", "--factor", "2",
                             "--no-scene-detection", "--method", "blend")
    assert status == 0, err


def test_cli_summary_names_the_method_and_the_flow_options(tmp_path, clip):
    # the cross-fade estimates no flow; -O options are named with the estimator
    status, stdout, err = run_cli("retime", clip, tmp_path / "a.mp4", "--factor", "2",
                                  "--method", "blend")
    assert status == 0 and " frames interpolated (blend), " in stdout, (stdout, err)
    status, stdout, err = run_cli("retime", clip, tmp_path / "b.mp4", "--factor", "2",
                                  "-O", "preset=fast")
    assert status == 0 and " frames interpolated (project, cubic, dis (preset='fast')), " in stdout, (stdout, err)


def test_cli_summary_counts_one_interpolated_frame_in_the_singular(tmp_path, clip):
    # two frames doubled: one frame made between them ("1 frames interpolated" before)
    two = write_clip(tmp_path / "two.mp4", list(flowkit.iter_frames(clip))[:2], 24)
    status, stdout, err = run_cli("retime", two, tmp_path / "a.mp4", "--factor", "2",
                                  "--method", "blend")
    assert status == 0 and stdout.splitlines()[1].startswith(
        "1 frame interpolated (blend), 1 repeated, 0 dropped, 0 scene cuts not warped across, "
        "0 timestamp gaps held, in "), (stdout, err)


@pytest.mark.parametrize("trim", [False, True])
def test_avi_with_audio_keeps_the_frame_times(tmp_path, clip_with_tone, trim):
    # AAC's priming packet starts before 0; with FFmpeg's default the AVI muxer shifted every
    # packet after the first video frame (frames read back at 0, 0.16, 0.18, ... s on a new
    # user's clip). Copied (no trim) and re-encoded (trim) audio alike
    out = tmp_path / "out.avi"
    segment = (Fraction(0), Fraction(1, 2)) if trim else None
    report = flowkit.retime(clip_with_tone, out, factor=2, method="blend", segment=segment,
                            trim=trim, progress=False)
    assert report.audio == ("re-encoded" if trim else "copied")
    times = [t for t, _ in flowkit.iter_frames(out, timestamps=True)]
    assert times == [Fraction(k, 48) for k in range(len(times))]
    # and no priming packet (before 0), which AVI would play at 0, the audio that much late
    # (1024 samples: 64-128 ms on a new user's clips): copied, the input's packets from 0 on
    with av.open(str(out)) as container:
        packets = [p for p in container.demux(container.streams.audio[0]) if p.size]
    if not trim:
        with av.open(str(clip_with_tone)) as source:
            given = [p for p in source.demux(source.streams.audio[0]) if p.size]
        assert any(p.pts < 0 for p in given)  # the input has a priming packet
        assert [bytes(p) for p in packets] == [bytes(p) for p in given if p.pts >= 0]


def test_mkv_with_copied_audio_starts_at_zero(tmp_path, clip_with_tone):
    # a copied AAC priming packet (before 0) muxed first made FFmpeg's Matroska muxer shift
    # every stream by its length: the first frame read back at 0.021 s, not 0 (a re-encoded
    # track, muxed after a video packet, was not shifted). The priming stays before 0, in step
    out = tmp_path / "out.mkv"
    report = flowkit.retime(clip_with_tone, out, factor=2, method="blend", progress=False)
    assert report.audio == "copied"
    times = timestamps(out)
    assert len(times) == 48 and times[0] == 0
    assert max(abs(t - Fraction(k, 48)) for k, t in enumerate(times)) <= Fraction(1, 1000)
    with av.open(str(clip_with_tone)) as a, av.open(str(out)) as b:
        given = [p for p in a.demux(a.streams.audio[0]) if p.size]
        packets = [p for p in b.demux(b.streams.audio[0]) if p.size]
    assert given[0].pts < 0 and [bytes(p) for p in packets] == [bytes(p) for p in given]
    assert round(float(packets[0].pts * packets[0].time_base), 3) == \
        round(float(given[0].pts * given[0].time_base), 3)  # -0.021 s: milliseconds in MKV


def test_aac_into_webm_is_re_encoded_by_default_and_refused_as_a_copy(tmp_path, clip_with_tone):
    # WebM's muxer takes Opus or Vorbis only: the default re-encodes (Opus, the same tone), an
    # explicit copy is one --audio error and no output
    out = tmp_path / "out.webm"
    report = flowkit.retime(clip_with_tone, out, factor=2, method="blend", progress=False)
    assert report.audio == "re-encoded"
    with av.open(str(out)) as container:
        assert container.streams.audio[0].codec_context.name == "opus"
    seconds, peak = tone_peak(out)
    assert abs(seconds - 1.0) < 0.06 and abs(peak - 440) < 5
    with pytest.raises(ValueError, match=r"audio: cannot copy aac audio into \.webm files"):
        flowkit.retime(clip_with_tone, tmp_path / "a.webm", factor=2, audio="copy")
    status, _, err = run_cli("retime", clip_with_tone, tmp_path / "a.webm", "--factor", "2",
                             "--audio", "copy")
    assert status == 2 and one_error_line(err).startswith("--audio: cannot copy aac audio"), err
    assert not (tmp_path / "a.webm").exists()


def test_aac_into_mpeg_ps_is_re_encoded_as_mp2(tmp_path, clip_with_tone):
    # FFmpeg's MPEG-PS muxer (.mpg, .mpeg, .vob, .dvd) refuses AAC (EINVAL): retime to .mpg
    # failed as '--codec: mpeg2video cannot write 64x36 yuv420p video', whatever the codec.
    # Re-encoded as its default, MP2 (the same tone, as long); an explicit copy is refused
    for suffix in (".mpg", ".vob"):
        out = tmp_path / f"out{suffix}"
        report = flowkit.retime(clip_with_tone, out, factor=2, method="blend", progress=False)
        assert report.audio == "re-encoded"
        with av.open(str(out)) as container:
            assert container.streams.audio[0].codec_context.name == "mp2"
        seconds, peak = tone_peak(out)
        assert abs(seconds - 1.0) < 0.06 and abs(peak - 440) < 5
    with pytest.raises(ValueError, match=r"audio: cannot copy aac audio into \.mpg files"):
        flowkit.retime(clip_with_tone, tmp_path / "a.mpg", factor=2, audio="copy")
    # the nasa clip's two AAC tracks at 8 and 16 kHz (mp2 encodes 16 kHz and more), stretched
    nasa = data_path("video", "torchcodec__nasa_13013.mp4")
    status, out, err = run_cli("retime", "-q", "--factor", "2", "--speed", "0.5", "--range",
                               "2:2.4", "--trim", "--method", "blend", "--codec", "mpeg2video",
                               nasa, tmp_path / "nasa.mpg")
    assert status == 0, err
    with av.open(str(tmp_path / "nasa.mpg")) as container:
        tracks = [(s.codec_context.name, s.codec_context.sample_rate)
                  for s in container.streams.audio]
    assert tracks == [("mp2", 16000), ("mp2", 16000)]
    for k in (0, 1):  # 0.4 s at speed 0.5, to the end of an mp2 frame (1152 samples)
        assert 0.8 <= tone_peak(tmp_path / "nasa.mpg", k)[0] <= 0.8 + 1152 / 16000


def test_mp3_into_mpeg_ps_is_copied(tmp_path):
    # MPEG-PS takes MP3, but the table was matched against the decoder's name, "mp3float":
    # MP3 into .mpg was re-encoded as MP2 (and probe showed mp3float where ffprobe says mp3)
    src = clip_with_audio(tmp_path / "in.mkv", "libmp3lame")
    assert probe_video(src).audio_codecs == ("mp3",)
    report = flowkit.retime(src, tmp_path / "out.mpg", factor=2, method="blend", progress=False)
    assert report.audio == "copied"
    with av.open(str(src)) as a, av.open(str(tmp_path / "out.mpg")) as b:
        given = [bytes(p) for p in a.demux(a.streams.audio[0]) if p.size]
        assert [bytes(p) for p in b.demux(b.streams.audio[0]) if p.size] == given



@pytest.mark.parametrize("suffix, video", [(".avi", None), (".wmv", "wmv2")])
def test_aac_from_mpeg_ts_is_copied_into_avi_and_asf(tmp_path, suffix, video):
    # MPEG-TS's AAC carries ADTS headers and no config, which the AVI and ASF muxers refused:
    # 'codec: mjpeg cannot write 32x32 yuvj420p video to '.avi' files (Invalid argument)' ->
    # aac_adtstoasc, as ffmpeg -bsf:a: the config in the stream, the same tone
    src = clip_with_audio(tmp_path / "in.ts", "aac")
    out = tmp_path / f"out{suffix}"
    report = flowkit.retime(src, out, factor=2, codec=video, method="blend", progress=False)
    assert report.audio == "copied"
    with av.open(str(out)) as container:
        assert container.streams.audio[0].codec_context.extradata == bytes.fromhex("1190")
    seconds, peak = tone_peak(out)
    assert 0.5 <= seconds <= 0.5 + 2 * 1024 / 48000 and abs(peak - 440) < 5  # priming


@pytest.mark.parametrize("suffix", [".mp4", ".mov"])
def test_copied_audio_without_packet_durations_keeps_its_last_packet(tmp_path, suffix):
    # Matroska's ALAC (AVI's FLAC too) stores no packet durations: the last packet was copied
    # with none, MP4's edit list ended where it starts, and it was not played (24000 samples
    # read back as 20480: 73 ms lost) -> its decoded samples' duration
    src = clip_with_audio(tmp_path / "in.mkv", "alac")
    out = tmp_path / f"out{suffix}"
    report = flowkit.retime(src, out, factor=2, method="blend", progress=False)
    assert report.audio == "copied"
    with av.open(str(src)) as a, av.open(str(out)) as b:
        given = [bytes(p) for p in a.demux(a.streams.audio[0]) if p.size]
        assert [bytes(p) for p in b.demux(b.streams.audio[0]) if p.size] == given
    seconds, peak = tone_peak(out)
    assert seconds == 0.5 and abs(peak - 440) < 5


@pytest.mark.parametrize("codec", ["libmp3lame", "ac3"])
def test_audio_from_mpeg_ps_re_encoded_keeps_its_end(tmp_path, codec):
    # MPEG-PS states no audio duration: FFmpeg's estimate (from the last PES timestamps) ended
    # MP3 at 0.908 s and AC-3 at 0.98 s (read to 1.028 s, 1.012 s), and the decoded audio was
    # cut there: 0.385 s and 0.475 s of Opus for 0.5 s -> to the end of the last packet
    src = clip_with_audio(tmp_path / "in.mpg", codec)
    out = tmp_path / "out.webm"
    report = flowkit.retime(src, out, factor=2, method="blend", progress=False)
    assert report.audio == "re-encoded"
    seconds, peak = tone_peak(out)  # from the first frame (at most 23 ms after the audio)
    assert 0.5 <= seconds <= 0.5 + 1152 / 48000 and abs(peak - 440) < 5

@pytest.mark.parametrize("codec, source, suffix, video, written", [
    ("libopus", ".mkv", ".avi", None, "aac"),       # was '--codec: mjpeg cannot write ...'
    ("flac", ".mkv", ".mov", None, "aac"),          # '--codec: libx264 ... (Invalid argument)'
    ("pcm_s16le", ".mov", ".mp4", None, "aac"),     # 'libx264 failed finishing' the .mp4
    ("flac", ".mkv", ".ts", None, "aac"),           # written as private data: no audio read
    ("aac", ".mp4", ".ogv", "libvpx", "opus"),      # Ogg takes Opus, Vorbis, FLAC
])
def test_audio_the_container_cannot_hold_is_re_encoded(tmp_path, codec, source, suffix, video,
                                                        written):
    # copied by default whatever the output's container, which refused it (or lost it): now
    # re-encoded as the container's usual codec, the same tone as long (to an AAC frame and
    # its priming, which .ts keeps), as ffmpeg picks a container's default audio encoder
    src = clip_with_audio(tmp_path / f"in{source}", codec)
    out = tmp_path / f"out{suffix}"
    report = flowkit.retime(src, out, factor=2, codec=video, method="blend", progress=False)
    assert report.audio == "re-encoded" and report.frames == 24
    with av.open(str(out)) as container:
        assert container.streams.audio[0].codec_context.codec.canonical_name == written
    seconds, peak = tone_peak(out)
    assert 0.5 <= seconds <= 0.5 + 2 * 1024 / 48000 and abs(peak - 440) < 5


def test_audio_copy_refused_by_the_container_is_one_audio_error_and_the_default_a_note(tmp_path):
    # an explicit copy names the audio codec and the container, not --codec; the default
    # re-encodes with a one-line note. mu-law into .flv aborted Python (an FFmpeg assertion)
    src = clip_with_audio(tmp_path / "in.mkv", "libopus")
    status, _, err = run_cli("retime", "-q", "--factor", "2", "--method", "blend", "--audio",
                             "copy", src, tmp_path / "a.avi")
    assert status == 2 and one_error_line(err).startswith(
        "--audio: cannot copy opus audio into .avi files (they take aac, "), err
    assert "use stretch (re-encodes it as AAC) or drop" in err
    assert not (tmp_path / "a.avi").exists()
    mulaw = clip_with_audio(tmp_path / "mulaw.mov", "pcm_mulaw", rate=8000, layout="mono")
    status, _, err = run_cli("retime", "-q", "--factor", "2", "--method", "blend", mulaw,
                             tmp_path / "b.flv")
    assert status == 0, err
    assert err.splitlines() == ["flowkit: note: .flv files cannot hold pcm_mulaw audio: "
                                "re-encoded as AAC (--audio drop leaves it out)"]
    assert tone_peak(tmp_path / "b.flv")[0] >= 0.5


def test_surround_into_mpeg_ps_is_noted_as_ac3(tmp_path):
    # 5.1 AAC (the rotated Big Buck Bunny clip's) into .mpg is written as AC-3, mp2 taking
    # stereo at most, but the note and the --audio copy error said 'MP2'
    src = clip_with_audio(tmp_path / "in.mp4", "aac", layout="5.1")
    status, _, err = run_cli("retime", "-q", "--factor", "2", "--method", "blend", src,
                             tmp_path / "out.mpg")
    assert status == 0, err
    with av.open(str(tmp_path / "out.mpg")) as container:
        assert container.streams.audio[0].codec_context.name == "ac3"
    assert err.splitlines() == ["flowkit: note: .mpg files cannot hold aac audio: "
                                "re-encoded as AC-3 (--audio drop leaves it out)"]
    status, _, err = run_cli("retime", "-q", "--factor", "2", "--method", "blend", "--audio",
                             "copy", src, tmp_path / "copy.mpg")
    assert status == 2 and "use stretch (re-encodes it as AC-3) or drop" in err, err


@pytest.mark.parametrize("suffix, speed, written", [(".mp4", 1, "aac"), (".mpg", 1, "mp2"),
                                                    (".mkv", 0.5, "aac")])
def test_pcm_without_a_channel_order_is_re_encoded(tmp_path, suffix, speed, written):
    # PCM in AVI reads as "2 channels" (no order, as WAVE stores it), which the AAC and MP2
    # encoders refused: 'audio: cannot encode pcm_s16le audio (2 channels, ...) (Invalid
    # argument)', stretched or re-encoded alike -> stereo, as ffmpeg guesses it
    src = clip_with_audio(tmp_path / "in.avi", "pcm_s16le")
    out = tmp_path / f"out{suffix}"
    report = flowkit.retime(src, out, factor=2, speed=speed, method="blend", progress=False)
    assert report.audio == ("re-encoded" if speed == 1 else "stretched")
    with av.open(str(out)) as container:
        context = container.streams.audio[0].codec_context
        assert (context.codec.canonical_name, context.layout.name) == (written, "stereo")
    seconds, peak = tone_peak(out)
    assert 0.5 / speed <= seconds <= 0.5 / speed + 2 * 1152 / 48000 and abs(peak - 440) < 5


def test_audio_no_encoder_writes_into_the_container_names_the_audio(tmp_path):
    # 7.1 audio into .mpg: neither mp2 nor AC-3 encodes 8 channels; the error named --codec
    src = tmp_path / "surround.mkv"
    with av.open(str(src), "w") as container:
        video = container.add_stream("ffv1", rate=24)
        video.width, video.height, video.pix_fmt = 32, 32, "yuv420p"
        audio = container.add_stream("pcm_s16le", rate=48000)
        audio.layout = "7.1"
        tone = av.AudioFrame.from_ndarray(np.zeros((1, 24000), np.float32), format="fltp",
                                          layout="mono")
        tone.sample_rate, tone.pts = 48000, 0
        container.mux([*audio.encode(tone), *audio.encode(None)])
        for k in range(12):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 20 * k, np.uint8),
                                               format="rgb24")
            frame.pts = k
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
    with pytest.raises(ValueError, match=r"^audio: cannot encode pcm_s16le audio \(.*as ac3 "
                                         r"for \.mpg files"):
        flowkit.retime(src, tmp_path / "out.mpg", factor=2, method="blend", progress=False)
    assert not (tmp_path / "out.mpg").exists()
    status, _, err = run_cli("translate", src, tmp_path / "out.mpg", "--op", "equalize")
    assert status == 2 and one_error_line(err).startswith("--audio: cannot encode"), err


def test_audio_copy_with_a_speed_change(tmp_path, clip, clip_with_tone):
    # refused where there is audio (its packets cannot be copied into another duration), with
    # one error line and no output; accepted on a clip without audio: nothing to copy
    with pytest.raises(ValueError, match="audio: cannot copy the audio when the duration changes"):
        flowkit.retime(clip_with_tone, tmp_path / "a.mp4", speed=0.5, audio="copy")
    status, _, err = run_cli("retime", clip_with_tone, tmp_path / "a.mp4", "--speed", "0.5",
                             "--audio", "copy")
    assert status == 2 and one_error_line(err).startswith("--audio: cannot copy the audio"), err
    assert list(tmp_path.iterdir()) == []
    out = tmp_path / "slow.mp4"
    status, stdout, err = run_cli("retime", clip, out, "--speed", "0.5", "--audio", "copy",
                                  "--method", "blend")
    assert (status, err) == (0, ""), err
    assert stdout.startswith(f"wrote {out} (24 frames, 64x36, 24 fps, 1.000 s; audio none)")


def test_audio_of_a_segment_is_stretched(tmp_path, clip_with_tone):
    # 0.25-0.75 s at half speed: the video lasts 1.5 s, and so does the audio (the segment's
    # 0.5 s stretched to 1 s, the rest unchanged), the tone at its pitch throughout
    out = tmp_path / "out.mp4"
    report = flowkit.retime(clip_with_tone, out, speed=0.5, segment=(0.25, 0.75), method="blend",
                            progress=False)
    assert report.audio == "stretched" and report.duration == Fraction(3, 2)
    seconds, peak = tone_peak(out)
    assert abs(seconds - 1.5) < 0.1 and abs(peak - 440) < 5


def stream_durations(path):
    """Seconds each stream lasts as the file states it (ffprobe's stream duration; MP4 keeps
    the exact length in its edit list): [video, audio, ...]."""
    with av.open(str(path)) as container:
        return [s.duration * s.time_base for s in container.streams if s.type in ("video", "audio")]


def decoded_samples(path, index):
    with av.open(str(path)) as container:
        stream = container.streams.audio[index]
        return sum(f.samples for f in container.decode(stream)), stream.codec_context.frame_size


def test_stretched_audio_lasts_as_long_as_the_video(tmp_path, clip_with_tone):
    # atempo's flush drops up to one analysis window (40-60 ms at speed 0.5): the NASA clip's
    # two tracks (8 and 16 kHz) came out 24 and 63 ms short of the video, a segment's
    # following audio as much early; now the stretched part lasts its samples / speed exactly
    nasa = data_path("video", "torchcodec__nasa_13013.mp4")
    for suffix in (".mp4", ".mkv"):
        out = tmp_path / f"nasa{suffix}"
        report = flowkit.retime(nasa, out, speed=0.5, segment=(2, 3), trim=True, method="blend",
                                progress=False)
        assert report.duration == 2
        if suffix == ".mp4":
            assert stream_durations(out) == [2, 2, 2]
        for index, rate in enumerate((8000, 16000)):
            # decoded: the samples, then the padding of the last AAC frame, which MP4's edit
            # list cuts for players that read it and MKV cannot: less than one frame more
            samples, frame = decoded_samples(out, index)
            assert 2 * rate <= samples < 2 * rate + frame, (suffix, index, samples)
    # a segment inside the clip (48 kHz): the audio after it is in step, to the sample
    out = tmp_path / "tone.mp4"
    report = flowkit.retime(clip_with_tone, out, speed=0.5, segment=(0.25, 0.75), method="blend",
                            progress=False)
    assert stream_durations(out) == [Fraction(3, 2)] * 2 == [report.duration] * 2
    seconds, peak = tone_peak(out)
    assert abs(peak - 440) < 5


def test_a_refused_audio_packet_is_silence_with_a_warning(tmp_path):
    # the video decodes on past a packet its decoder refuses; a refused AAC packet stopped
    # retime ("cannot decode the audio of ...") wherever the audio was decoded (stretch, a
    # trimmed segment), where the ffmpeg tool goes on; skipped alone, the audio after it
    # would come early: its samples are silence
    import warnings

    from flowkit.video import DamagedVideoWarning

    texture = np.random.default_rng(0).integers(0, 256, (36, 112, 3), np.uint8)
    path = write_clip(tmp_path / "tone.mp4", [np.roll(texture, k, axis=1)[:, :64].copy()
                                              for k in range(24)], 24, tone=440)
    with av.open(str(path)) as container:
        places = [p.pos for p in container.demux(container.streams.audio[0]) if p.size]
    data = bytearray(path.read_bytes())
    for index in (10, 11, 20):  # 0.19-0.23 s, before the segment, and 0.41 s, in it
        data[places[index]:places[index] + 4] = b"\xde\xad\xbe\xef"
    path.write_bytes(bytes(data))
    out = tmp_path / "out.mp4"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = flowkit.retime(path, out, speed=0.5, segment=(0.25, 0.75), method="blend",
                                progress=False)
    assert [w.category for w in caught] == [DamagedVideoWarning]
    assert caught[0].filename == __file__  # the caller's line, not flowkit's
    assert str(caught[0].message).startswith(f"{path}: an audio packet at 0.192 s could not be "
                                             "decoded (Invalid data found")
    assert report.audio == "stretched"
    assert stream_durations(out) == [Fraction(3, 2)] * 2 == [report.duration] * 2
    seconds, peak = tone_peak(out)
    assert abs(peak - 440) < 5


def test_every_audio_track_is_kept(tmp_path):
    frames = real_frames("zwm__clip_01_tears_of_steel.mp4", 24, start=2)
    source = write_clip(tmp_path / "two.mp4", frames, 24, tone=[440, 660],
                        languages=["fra", "eng", "deu"])
    for kwargs, what in [({"factor": 2}, "copied"), ({"speed": 0.5}, "stretched")]:
        report = flowkit.retime(source, tmp_path / "out.mp4", method="blend", progress=False, **kwargs)
        assert report.audio == what and report.audio_tracks == 2
        assert languages(tmp_path / "out.mp4") == ["fra", "eng", "deu"], what  # video, then audio
        for index, tone in enumerate([440, 660]):
            seconds, peak = tone_peak(tmp_path / "out.mp4", index)
            assert abs(seconds - float(report.duration)) < 0.1 and abs(peak - tone) < 5


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_an_interrupt_while_opening_the_audio_tracks_closes_them(tmp_path, monkeypatch):
    # the tracks were opened in one list comprehension: a Ctrl-C (or an error) opening the
    # second left the first's input file open, for as long as the track lived (here: opened)
    frames = real_frames("zwm__clip_01_tears_of_steel.mp4", 6, start=2)
    source = write_clip(tmp_path / "two.mp4", frames, 24, tone=[440, 660])
    opened = []

    def interrupted(*args, **kwargs):
        if opened:
            raise KeyboardInterrupt
        opened.append(audio_track(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(flowkit.video, "audio_track", interrupted)
    with pytest.raises(KeyboardInterrupt):
        flowkit.retime(source, tmp_path / "out.mp4", factor=2, method="blend", progress=False)
    assert len(opened) == 1 and open_files(tmp_path) == []


def languages(path):
    with av.open(str(path)) as container:
        return [stream.metadata.get("language") for stream in container.streams]


CLIP_TAGS = {"title": "A walk", "comment": "shot at dawn", "artist": "someone",
             "creation_time": "2024-01-02T03:04:05.000000Z"}


@pytest.fixture(scope="module")
def tagged(tmp_path_factory):
    """24 frames (1 s at 24 fps) with a 440 Hz track, global tags, titled streams and two
    chapters, in MP4 and MKV (which store the stream tags differently)."""
    frames = real_frames("zwm__clip_01_tears_of_steel.mp4", 24, start=2)
    folder = tmp_path_factory.mktemp("tagged")
    return [write_clip(folder / f"tagged.{ext}", frames, 24, tone=440, metadata=CLIP_TAGS,
                       titles=["Picture", "Sound"],
                       chapters=[(0, 0.5, "First"), (0.5, 1, "Second")]) for ext in ("mp4", "mkv")]


def file_tags(path):
    """(global tags less the muxer's, [(title, handler name) of each stream])"""
    with av.open(str(path)) as container:
        muxer = ("encoder", "major_brand", "minor_version", "compatible_brands")
        tags = {k.lower(): v for k, v in container.metadata.items() if k.lower() not in muxer}
        streams = [({k.lower(): v for k, v in s.metadata.items()}) for s in container.streams
                   if s.type in ("video", "audio")]
        return tags, [(s.get("title", s.get("name")), s.get("handler_name")) for s in streams]


@pytest.mark.parametrize("kwargs", [{"factor": 2}, {"speed": 0.5},
                                    {"segment": (0.25, 0.75), "trim": True}])
def test_global_tags_and_stream_titles_are_kept(tagged, tmp_path, kwargs):
    # they were all dropped: the output had the muxer's encoder tag alone and untitled streams
    expected = (CLIP_TAGS, [("Picture", "Picture handler"), ("Sound", "Sound handler")])
    for src in tagged:
        assert file_tags(src) == expected
        for ext in ("mp4", "mkv"):
            out = tmp_path / f"out.{ext}"
            flowkit.retime(src, out, method="blend", progress=False, **kwargs)
            assert file_tags(out) == expected, (src.name, ext)


def file_chapters(path):
    """[(start, end, title)] of a file's chapters, in milliseconds."""
    with av.open(str(path)) as container:
        return [(round(c["start"] * c["time_base"] * 1000), round(c["end"] * c["time_base"] * 1000),
                 c["metadata"].get("title")) for c in container.chapters()]


@pytest.mark.parametrize("kwargs, expected", [
    ({"factor": 2}, [(0, 500, "First"), (500, 1000, "Second")]),  # the timeline unchanged
    ({"speed": 0.5}, [(0, 1000, "First"), (1000, 2000, "Second")]),
    ({"duration": 0.5}, [(0, 250, "First"), (250, 500, "Second")]),
    ({"segment": (0.25, 0.75), "trim": True}, [(0, 250, "First"), (250, 500, "Second")]),
    ({"segment": (0.5, None), "trim": True, "speed": 0.5}, [(0, 1000, "Second")]),  # First: out
    ({"segment": (0.25, 0.5), "speed": 0.5}, [(0, 750, "First"), (750, 1250, "Second")]),
])
def test_chapters_follow_the_timeline(tagged, tmp_path, kwargs, expected):
    # they were dropped; now mapped as the frames are: scaled in the segment, cut to a trim
    for src in tagged:
        assert file_chapters(src) == [(0, 500, "First"), (500, 1000, "Second")]
        for ext in ("mp4", "mkv"):
            out = tmp_path / f"out.{ext}"
            flowkit.retime(src, out, method="blend", progress=False, **kwargs)
            assert file_chapters(out) == expected, (src.name, ext)


def test_mp4_chapter_track_is_not_reported_as_a_stream_not_written(tagged, tmp_path):
    # MP4 stores chapters as a text track, which FFmpeg reads as chapters and a discarded data
    # stream: the report said "not written: the input's other streams (1 data)" of the chapters
    # it had written
    mp4 = tagged[0]
    with av.open(str(mp4)) as container:
        assert [s.type for s in container.streams] == ["video", "audio", "data"]
    report = flowkit.retime(mp4, tmp_path / "out.mp4", factor=2, method="blend", progress=False)
    assert report.not_written == [] and len(file_chapters(tmp_path / "out.mp4")) == 2


def test_real_clips_keep_language_and_colour_range(tmp_path):
    # the NASA clip's "eng" video and two audio tracks (re-encoded: a trimmed segment), and the
    # VP9 WebM's limited range tag alone (matrix, primaries, transfer unspecified) in MP4 as in
    # WebM (MP4 keeps a range only in a 'colr' box, which FFmpeg writes then only when asked;
    # MOV's has no range field)
    nasa = data_path("video", "torchcodec__nasa_13013.mp4")
    assert languages(nasa)[:3] == ["eng", "eng", "eng"]
    report = flowkit.retime(nasa, tmp_path / "nasa.mp4", segment=(0, 0.4), trim=True,
                            method="blend", progress=False)
    assert report.audio_tracks == 2 and languages(tmp_path / "nasa.mp4") == ["eng", "eng", "eng"]
    # its second video stream and two subtitle streams are not written, and the report says so
    with av.open(str(nasa)) as container:
        others = sorted(s.type for s in container.streams if s.type != "audio")
    assert others == ["subtitle", "subtitle", "video", "video"]
    assert sorted(report.not_written) == ["subtitle", "subtitle", "video"]
    webm = data_path("video", "androidx__bear-vp9-odd-dimensions.webm")
    for out in (tmp_path / "bear.mp4", tmp_path / "bear.webm"):
        flowkit.retime(webm, out, factor=2, method="blend", progress=False)
        assert probe_video(out).color == probe_video(webm).color == {
            "colorspace": 2, "color_range": 1, "color_primaries": 2, "color_trc": 2}, out


def test_trimmed_audio_is_the_segment(tmp_path, clip_with_tone):
    # 0.25-0.75 s of the 1 s tone clip at speed 1 and at half speed: 0.5 s and 1 s of audio
    for speed, what in [(1, "re-encoded"), (0.5, "stretched")]:
        out = tmp_path / "out.mp4"
        report = flowkit.retime(clip_with_tone, out, speed=speed, segment=(0.25, 0.75), trim=True,
                                method="blend", progress=False)
        assert report.audio == what and report.duration == Fraction(1, 2) / Fraction(speed)
        seconds, peak = tone_peak(out)
        assert abs(seconds - float(report.duration)) < 0.05 and abs(peak - 440) < 5
    with pytest.raises(ValueError, match="audio: cannot copy the audio packets of a trimmed segment"):
        flowkit.retime(clip_with_tone, tmp_path / "b.mp4", segment=(0.25, 0.75), trim=True, audio="copy")


@pytest.mark.parametrize("speed", [0.5, 0.2])  # 0.2: atempo chained (0.5 * 0.5 * 0.8)
def test_audio_is_stretched_with_speed(tmp_path, clip_with_tone, speed):
    out = tmp_path / "out.mp4"
    report = flowkit.retime(clip_with_tone, out, speed=speed, method="blend", progress=False)
    assert report.audio == "stretched" and report.duration == Fraction(1) / Fraction(speed).limit_denominator()
    seconds, peak = tone_peak(out)
    assert abs(seconds - 1 / speed) < 0.1  # AAC priming/padding: a few ms
    assert abs(peak - 440) < 5  # atempo keeps the pitch
    report = flowkit.retime(clip_with_tone, tmp_path / "silent.mp4", speed=speed, audio="drop",
                            method="blend", progress=False)
    assert report.audio == "dropped" and not probe_video(tmp_path / "silent.mp4").audio


def test_rotation_and_pixel_format_kept(tmp_path):
    frames = real_frames("zwm__clip_01_tears_of_steel.mp4", 3, start=2)
    source = write_clip(tmp_path / "rotated.mp4", frames, 24, rotation=90)
    out = tmp_path / "out.mp4"
    flowkit.retime(source, out, factor=2, method="blend", progress=False)
    info = probe_video(out)
    assert (info.rotation, info.width, info.height, info.pix_fmt) == (90, 36, 64, "yuv420p")
    deep = data_path("video", "torchcodec__h264_10bits.mp4")
    report = flowkit.retime(deep, tmp_path / "deep.mp4", factor=2, method="blend", progress=False)
    info = probe_video(tmp_path / "deep.mp4")
    assert (info.pix_fmt, info.bit_depth) == ("yuv420p10le", 10) and report.frames == 60


def test_sample_aspect_ratio_kept(tmp_path):
    # anamorphic video (16:9 PAL DVD, 720x576 with pixels 64:45 wide; here 64x36 frames) lost
    # its sample aspect ratio in retime, translate and predict: players showed the outputs
    # squeezed (64:36 instead of 1024:405); now kept as FFmpeg keeps it, turned with frames
    # a container stores upright (AVI), scaled by predict --resize to keep the display's
    frames = real_frames("zwm__clip_01_tears_of_steel.mp4", 6, start=2)
    wide = Fraction(64, 45)
    source = write_clip(tmp_path / "pal.mp4", frames, 25, sar=wide)
    turned = write_clip(tmp_path / "turned.mp4", frames, 25, sar=wide, rotation=90)
    assert probe_video(source).sample_aspect_ratio == wide
    for name in ("r.mp4", "r.mkv", "r.mov", "r.avi", "r.ts"):
        flowkit.retime(source, tmp_path / name, factor=2, method="blend", progress=False)
        assert probe_video(tmp_path / name).sample_aspect_ratio == wide, name
    flowkit.retime(turned, tmp_path / "t.avi", factor=2, method="blend", progress=False)
    assert probe_video(tmp_path / "t.avi").sample_aspect_ratio == 1 / wide  # stored upright
    flowkit.translate(source, tmp_path / "tr.mov", lambda frame: frame, progress=False)
    assert probe_video(tmp_path / "tr.mov").sample_aspect_ratio == wide
    for name, extra, expected in (("p.mp4", [], wide), ("p.avi", [], wide),
                                  ("half.mp4", ["--resize", "32x18"], wide),
                                  ("q.mp4", ["--resize", "32x16"], wide * Fraction(8, 9))):
        status, _, err = run_cli("predict", source, tmp_path / name, "--horizon", "1", "-q", *extra)
        assert status == 0 and probe_video(tmp_path / name).sample_aspect_ratio == expected, err
    status, _, err = run_cli("predict", turned, tmp_path / "pt.avi", "--horizon", "1", "-q")
    assert status == 0 and probe_video(tmp_path / "pt.avi").sample_aspect_ratio == 1 / wide


def test_start_timecode_follows_the_output(tmp_path):
    # a camera's start timecode (MOV/MP4 tmcd track, Matroska TIMECODE tag) was lost by retime,
    # translate and predict, and a Matroska global TIMECODE was copied unchanged: an editor
    # conforming the outputs found them without timecode, or at the input's start whatever
    # --range --trim kept. Now the first frame's, counted at the output's rate (25 -> 50 fps:
    # frame 12 is 24; drop-frame at 29.97 and 59.94 skips ;00-;01 / ;00-;03 each minute)
    frames = real_frames("zwm__clip_01_tears_of_steel.mp4", 8, start=2, size=(32, 18))
    ntsc = Fraction(30000, 1001)
    pal = write_clip(tmp_path / "pal.mov", frames, 25, timecode="01:00:00:12")
    drop = write_clip(tmp_path / "drop.mov", frames, ntsc, timecode="00:00:59;28")
    tagged = write_clip(tmp_path / "tagged.mkv", frames, 25, metadata={"TIMECODE": "01:00:00:12"})

    def timecode(name):
        return probe_video(tmp_path / name).timecode

    for source, name, options, expected in (
            (pal, "x2.mov", {"factor": 2}, "01:00:00:24"),
            (pal, "x2.mkv", {"factor": 2}, "01:00:00:24"),
            (tagged, "g.mov", {"factor": 2}, "01:00:00:24"),
            (pal, "slow.mp4", {"speed": 0.5}, "01:00:00:12"),
            (pal, "cut.mov", {"segment": (Fraction(4, 25), None), "trim": True}, "01:00:00:16"),
            (pal, "cutx2.mov", {"factor": 2, "segment": (Fraction(4, 25), None), "trim": True},
             "01:00:00:32"),
            (pal, "part.mov", {"segment": (Fraction(4, 25), None), "speed": 0.5}, "01:00:00:12"),
            (drop, "d.mov", {"factor": 1, "segment": (4 / ntsc, None), "trim": True},
             "00:01:00;04"),
            (drop, "d2.mov", {"factor": 2, "segment": (4 / ntsc, None), "trim": True},
             "00:01:00;08"),
            (drop, "d25.mov", {"fps": 25}, "00:00:59:23")):
        flowkit.retime(source, tmp_path / name, method="blend", progress=False, **options)
        assert timecode(name) == expected, name
    assert probe_video(tmp_path / "g.mov").metadata == {}  # not a stale global one
    for source, name, segment in ((pal, "t.mov", None), (pal, "tr.mp4", (Fraction(4, 25), None)),
                                  (drop, "td.mov", None), (tagged, "tg.mkv", None)):
        flowkit.translate(source, tmp_path / name, lambda frame: frame, segment=segment,
                          progress=False)  # the whole video written, its timecode kept
        assert timecode(name) == probe_video(source).timecode, name


def test_predicted_frames_get_the_timecode_after_the_context(tmp_path):
    # predict wrote its frames without the input's start timecode: they now get the timecode
    # of the first predicted frame, a frame after the context's last, where an editor places
    # them after the clip (at --fps, the label kept at that rate as retime's)
    frames = real_frames("zwm__clip_01_tears_of_steel.mp4", 8, start=2, size=(32, 18))
    pal = write_clip(tmp_path / "pal.mov", frames, 25, timecode="01:00:00:12")
    for name, extra, expected in (("tail.mov", [], "01:00:00:20"),
                                  ("start.mkv", ["--start", "2", "--context", "2"], "01:00:00:16"),
                                  ("fast.mp4", ["--fps", "50"], "01:00:00:40")):
        status, _, err = run_cli("predict", pal, tmp_path / name, "--horizon", "2", "-q", *extra)
        assert status == 0 and probe_video(tmp_path / name).timecode == expected, (name, err)


def test_predicted_timecode_counts_from_the_first_frame(tmp_path):
    # the timecode labels the first frame, but predict counted the context's time from 0: a
    # Matroska clip whose first frame is at 0.4 s (cut) got 01:00:00:18 for 01:00:00:08, ten
    # frames late (MPEG-TS starts at 1.4 s)
    frames = real_frames("zwm__clip_01_tears_of_steel.mp4", 8, start=2, size=(32, 18))
    late = write_clip(tmp_path / "late.mkv", frames, 25, timecode="01:00:00:00",
                      times=[Fraction(10 + k, 25) for k in range(8)])
    for name, extra, expected in (("tail.mov", [], "01:00:00:08"),
                                  ("start.mov", ["--start", "2", "--context", "2"], "01:00:00:04")):
        status, _, err = run_cli("predict", late, tmp_path / name, "--horizon", "2", "-q", *extra)
        assert status == 0 and probe_video(tmp_path / name).timecode == expected, (name, err)


def test_interlaced_input_is_reported(tmp_path):
    # broadcast video (1080i, 576i DVD) was processed as progressive frames without a word:
    # flow on combed frames, combed outputs (woven Tears of Steel retimed x2: 31.2 / 32.5 dB
    # against the progressive truth, 36.2 / 34.9 dB deinterlaced with bwdif first). probe
    # reports the field order as ffprobe does, and the commands say it in one note line
    frames = real_frames("zwm__clip_01_tears_of_steel.mp4", 8, start=22)
    top = interlaced_clip(tmp_path / "tff.mp4", frames, "libx264", "tff")  # x264: tff only
    bottom = interlaced_clip(tmp_path / "bff.ts", frames, "mpeg2video", "bff")
    assert probe_video(top).field_order == "tt" and probe_video(bottom).field_order == "bb"
    plain = data_path("video", "zwm__clip_01_tears_of_steel.mp4")
    assert probe_video(plain).field_order == "progressive"
    note = ("flowkit: note: {}: the input is interlaced ({} field first), processed as "
            "progressive frames, its fields woven (combing where things move); use --deinterlace "
            "(a frame per field, FFmpeg's bwdif)")
    for source, first in ((top, "top"), (bottom, "bottom")):
        for command, extra in (("retime", ["--factor", "2", "--method", "blend"]),
                               ("translate", ["--op", "autocontrast"]),
                               ("predict", ["--horizon", "1"])):
            out = tmp_path / f"{command}.mp4"
            status, _, err = run_cli(command, source, out, *extra)
            assert status == 0 and err.splitlines() == [note.format(out, first)], err
            assert probe_video(out).field_order in (None, "progressive")  # not said interlaced
    status, stdout, _ = run_cli("probe", bottom)
    assert status == 0 and "pix_fmt: yuv420p\nfield_order: bb\n" in stdout


def test_interlaced_note_names_the_field_shown_first(capsys):
    # FFmpeg's tb is top coded first, bottom shown first (bt the reverse): the note said "top
    # field first" of tb
    from flowkit.cli import _interlaced_note

    for order, first in (("tt", "top"), ("bb", "bottom"), ("tb", "bottom"), ("bt", "top")):
        _interlaced_note("out.mp4", order)
        assert f"interlaced ({first} field first)" in capsys.readouterr().err, order


def test_deinterlace(tmp_path):
    # an interlaced input could only be retimed as woven frames, combed where things move:
    # deinterlace=True (--deinterlace) retimes it a frame per field (bwdif). 8 frames of Tears
    # of Steel woven into 4 frames of 25i (MPEG-2, bottom field first) retimed to 50 fps: 8
    # frames at k/50 s, 32.1 dB against the progressive truth; woven, 21.9 dB
    from flowkit.metrics import psnr
    from test_video import interlaced_truth

    truth = interlaced_truth()
    source = interlaced_clip(tmp_path / "in.ts", truth, "mpeg2video", "bff", {"qscale": "2"})
    got = {}
    for deinterlace in (False, True):
        out = tmp_path / f"{deinterlace}.mkv"
        report = flowkit.retime(source, out, fps=50, codec="ffv1", method="blend",
                                deinterlace=deinterlace, progress=False)
        frames = list(flowkit.iter_frames(out, timestamps=True))
        assert report.frames == len(frames) == 8 and report.duration == Fraction(8, 50)
        assert [time - frames[0][0] for time, _ in frames] == [Fraction(k, 50) for k in range(8)]
        got[deinterlace] = np.mean([psnr(frame, truth[k]) for k, (_, frame) in enumerate(frames)])
        assert report.interpolated == (0 if deinterlace else 3)  # the fields are the frames
    assert got[True] > got[False] + 8, got
    # the default rate is the field rate, --factor multiplies it; the duration is the input's
    out = tmp_path / "x2.mp4"
    report = flowkit.retime(source, out, factor=2, method="blend", deinterlace=True,
                            progress=False)
    assert report.fps == 100 and report.frames == 16 and report.duration == Fraction(4, 25)
    status, stdout, err = run_cli("retime", source, out, "--deinterlace", "--method", "blend")
    assert status == 0 and err == "" and "8 frames" in stdout and "50 fps" in stdout, stdout
    plain = data_path("video", "torchcodec__nasa_13013.mp4")  # progressive: read as it is
    status, _, err = run_cli("retime", plain, out, "--deinterlace", "--range", "0:0.2",
                             "--trim", "--method", "blend")
    assert status == 0 and err.splitlines()[0] == (
        f"flowkit: note: {out}: --deinterlace: the input is progressive, read as it is"), err
    with pytest.raises(TypeError, match="deinterlace"):
        flowkit.retime(source, out, deinterlace="yes")


def test_odd_size_is_padded(tmp_path):
    source = data_path("video", "androidx__bear-vp9-odd-dimensions.webm")
    report = flowkit.retime(source, tmp_path / "out.mp4", speed=2, method="blend", progress=False)
    assert report.size == (162, 122) and report.padded == (161, 121)
    assert probe_video(tmp_path / "out.mp4").width == 162
    # the command line says so, in one note line on stderr, and how to keep the size
    status, stdout, err = run_cli("retime", source, tmp_path / "cli.mp4", "--speed", "2",
                                  "--method", "blend")
    assert status == 0 and stdout.startswith(f"wrote {tmp_path / 'cli.mp4'} (")
    assert err.splitlines() == ["flowkit: note: padded 161x121 to 162x122 (last row or column "
                                "repeated) for the encoder, which needs an even size; to keep "
                                "161x121 write .mkv with --codec ffv1, or .webm"]
    status, _, err = run_cli("retime", source, tmp_path / "cli.mkv", "--speed", "2", "--method",
                             "blend", "--codec", "ffv1")
    assert status == 0 and err == ""


@pytest.mark.parametrize("kwargs, error, match", [
    ({"fps": 30, "factor": 2}, ValueError, r"fps: expected fps or factor, not both"),
    ({"speed": 1, "duration": 2}, ValueError, r"speed: expected speed or duration, not both"),
    ({"fps": "fast"}, ValueError, r"fps: expected a number or a ratio such as 24000/1001, got 'fast'"),
    ({"speed": 0}, ValueError, r"speed: expected a number > 0, got 0"),
    ({"factor": [2]}, TypeError, r"factor: expected a number, got \[2\]"),
    ({"segment": (2, 1)}, ValueError, r"segment: expected start < end, got 2 to 1 s"),
    ({"segment": 3}, TypeError, r"segment: expected None or a \(start, end\) pair"),
    ({"segment": (9, None)}, ValueError, r"segment: starts at 9 s, after the end of"),
    ({"audio": "loud"}, ValueError, r"audio: expected one of 'copy', 'stretch', 'drop', got 'loud'"),
    ({"codec": "nope"}, ValueError, r"codec: unknown video encoder 'nope'"),
    ({"method": "magic"}, ValueError, r"method: expected one of 'project', 'splat', 'backward', 'blend'"),
    ({"flow": "pwc-net"}, ValueError, r"flow: .*pwc-net"),
    ({"scene_threshold": 0}, ValueError, r"scene_threshold: expected a number in \(0, 100\]"),
    # bounds of the output rate and the speed, whichever parameter sets them (issue 9)
    ({"fps": 1001}, ValueError, r"fps: expected a frame rate in \(0, 1000\] fps, got 1001$"),
    ({"factor": 100}, ValueError,
     r"factor: expected an output rate in \(0, 1000\] fps, got 100 x the input's 24 fps = 2400 fps"),
    ({"factor": 1e9}, ValueError, r"factor: .* = 2.4e\+10 fps"),
    ({"speed": 1e-9}, ValueError, r"speed: expected a number in \[1/1000, 1000\], got 1e-09"),
    ({"speed": 1001}, ValueError, r"speed: expected a number in \[1/1000, 1000\], got 1001"),
    # values beyond a float's range, or refused by less than %g shows: named as given
    ({"fps": "1e400"}, ValueError, r"fps: expected a frame rate in \(0, 1000\] fps, got 1e\+400$"),
    ({"fps": "1000.0004"}, ValueError, r"fps: expected .*, got 1000.0004$"),
    ({"fps": "1000.00000000000001"}, ValueError, r"fps: expected .*, got 1000.00000000000001$"),
    ({"fps": 1000.0004}, ValueError, r"fps: expected .*, got 1000.0004$"),
    ({"speed": "1e-400"}, ValueError, r"speed: expected a number in \[1/1000, 1000\], got 1e-400$"),
    ({"duration": "1e400"}, ValueError, r"duration: expected 0.0005 to 500 s .*got 1e\+400 s$"),
    ({"fps": "1e-400"}, ValueError, r"fps: expected at least one output frame, got 1e-400 fps over "
                                    r"the 0.5 s output \(one frame would last 1e\+400 s\)"),
    # the clip lasts 0.5 s: durations 0.5 / 1000 to 0.5 * 1000 s
    ({"duration": 1e9}, ValueError,
     r"duration: expected 0.0005 to 500 s for the 0.5 s retimed \(a speed in \[1/1000, 1000\]\), got 1e\+09 s"),
    ({"duration": 0.0004}, ValueError, r"duration: expected 0.0005 to 500 s .*got 0.0004 s"),
    # a frame longer than the whole output
    ({"fps": "1/1000"}, ValueError, r"fps: expected at least one output frame, got 0.001 fps over "
                                    r"the 0.5 s output \(one frame would last 1000 s\)"),
    ({"fps": 1.9}, ValueError, r"fps: expected at least one output frame, got 1.9 fps"),
    ({"factor": 0.05}, ValueError, r"factor: expected at least one output frame, got 1.2 fps"),
    ({"speed": 1000}, ValueError, r"speed: expected at least one output frame, got 24 fps over the 0.0005 s"),
    # durations and rates derived from the input in a few digits, not 30 (a ratio as such)
    ({"factor": 1e-9}, ValueError, r"factor: expected at least one output frame, got 2.4e-08 fps "
                                   r"over the 0.5 s output \(one frame would last 4.167e\+7 s\)$"),
    ({"fps": "1/3"}, ValueError, r"fps: expected at least one output frame, got 1/3 fps over the "
                                 r"0.5 s output \(one frame would last 3 s\)$"),
    ({"duration": 1e9, "segment": (0, "1/3")}, ValueError,
     r"duration: expected 0.0003334 to 333.333 s for the 0.333 s retimed \(a speed in \[1/1000, "
     r"1000\]\), got 1e\+09 s$"),
    # the bounds shown are accepted below 1 ms too: 0.0003333 s (1/3000 rounded to nearest,
    # down) was refused, 0.0003333 s for 1/3 s is a speed above 1000
    ({"duration": "0.0003333", "segment": (0, "1/3")}, ValueError,
     r"duration: expected 0.0003334 to 333.333 s .*got 0.0003333 s$"),
])
def test_bad_arguments_leave_no_output(tmp_path, clip, kwargs, error, match):
    with pytest.raises(error, match=match):
        flowkit.retime(clip, tmp_path / "out.mp4", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_path_errors_name_the_parameter(tmp_path, clip):
    # as every other argument error of the library: src and dst named (a new user's report)
    with pytest.raises(FileNotFoundError, match=r"^src: no such video file: "):
        flowkit.retime(tmp_path / "missing.mp4", tmp_path / "out.mp4", factor=2)
    with pytest.raises(FileNotFoundError, match=r"^dst: output folder does not exist: .*no \(for "):
        flowkit.retime(clip, tmp_path / "no" / "out.mp4", factor=2)
    # not a path at all: Path() said "expected str, bytes or os.PathLike object, not NoneType"
    with pytest.raises(TypeError, match=r"^src: expected a path \(str or os\.PathLike\), got None$"):
        flowkit.retime(None, tmp_path / "out.mp4", factor=2)
    with pytest.raises(TypeError, match=r"^dst: expected a path \(str or os\.PathLike\), got 3$"):
        flowkit.retime(clip, 3, factor=2)
    # a dst without an extension was named src (the reader's renaming covered the writer)
    with pytest.raises(ValueError, match=r"^dst: .*out: no extension; give it a video extension"):
        flowkit.retime(clip, tmp_path / "out", factor=2)
    assert list(tmp_path.iterdir()) == []


def test_rate_and_speed_bounds_are_inclusive(tmp_path, clip):
    # checked without decoding (as flowkit.batch does on the client): the bounds themselves pass
    from flowkit._retime import _check_options

    checked = _check_options(clip, tmp_path / "a.mp4", fps=1000, factor=None, speed=0.001,
                             duration=None, segment=None, trim=False, method="blend",
                             interpolation=None, model=None,
                             flow="dis", flow_options=None, codec=None, crf=18, audio=None,
                             scene_threshold=10, device=None, progress=None, part=None)
    assert checked["out_fps"] == 1000 and checked["speed"] == Fraction(1, 1000)
    # two frames a second over the 0.5 s clip: exactly one frame, which lasts the whole output
    report = flowkit.retime(clip, tmp_path / "b.mp4", fps=2, method="blend", progress=False)
    assert report.frames == 1 and report.duration == Fraction(1, 2)


def test_factor_takes_a_ratio_string_as_fps_and_rejects_other_types(tmp_path, clip):
    # unlike interpolate_video's integer factor, retime's is an exact rate multiple: "3/2" is
    # a value (flowkit batch -O factor=3/2 passes the string), anything else not a number a TypeError
    from flowkit._retime import _check_options

    def factor(value):
        return _check_options(clip, tmp_path / "a.mp4", fps=None, factor=value, speed=None,
                              duration=None, segment=None, trim=False, method="blend",
                              interpolation=None, model=None, flow="dis", flow_options=None,
                              codec=None, crf=18, audio=None, scene_threshold=10, device=None,
                              progress=None, part=None)["factor"]

    assert factor("3/2") == Fraction(3, 2) and factor("2") == factor(2) == 2
    # NumPy scalars: float32 0.1 is the float 0.1 rounded to float32, read as the nearest
    # fraction as floats are (1/10), not its exact binary value
    assert factor(np.float32(0.1)) == factor(0.1) == Fraction(1, 10) == factor(np.float64(0.1))
    assert factor(np.int64(3)) == 3 and factor(np.float16(1.5)) == Fraction(3, 2)
    with pytest.raises(TypeError, match=r"^factor: expected a number, got \[2\]$"):
        factor([2])
    with pytest.raises(ValueError, match=r"^factor: expected a number or a ratio such as 24000/1001, got 'x2'$"):
        factor("x2")


def test_cuda_without_a_gpu_is_refused_up_front(tmp_path, clip, monkeypatch, capsys):
    from numba import cuda

    from flowkit.cli import main

    monkeypatch.setattr(cuda, "is_available", lambda: False)  # as on a machine without a GPU
    # speed 1 at the input's rate, and a trim: nothing to interpolate, no flow to find it late
    with pytest.raises(RuntimeError, match="the CUDA backend was requested but no CUDA GPU"):
        flowkit.retime(clip, tmp_path / "a.mp4", device="cuda", progress=False)
    status = main(["retime", str(clip), str(tmp_path / "b.mp4"), "--range", "0:0.2", "--trim",
                   "--device", "cuda"])
    message = one_error_line(capsys.readouterr().err)
    # a usage error naming the flag, as generate's and train's (torch) are
    assert status == 2 and message.startswith("--device: 'cuda': the CUDA backend was requested "
                                              "but no CUDA GPU")
    assert message.endswith("(see flowkit retime --help)")
    # the estimator's -O device=cuda: the same usage error naming its flag (exit 1 and no flag
    # before), also when nothing is interpolated (a trim at speed 1 wrote the file, exit 0)
    for timeline in (["--factor", "2"], ["--range", "0:0.2", "--trim"]):
        status = main(["retime", str(clip), str(tmp_path / "b.mp4"), *timeline,
                       "-O", "device=cuda"])
        message = one_error_line(capsys.readouterr().err)
        assert status == 2 and message.startswith("--option device: 'cuda': the CUDA backend was "
                                                  "requested but no CUDA GPU")
        assert message.endswith("(see flowkit retime --help)")
    with pytest.raises(RuntimeError, match="the CUDA backend was requested but no CUDA GPU"):
        flowkit.retime(clip, tmp_path / "a.mp4", flow_options={"device": "cuda"}, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_options_too_large_for_the_frames_are_a_usage_error_naming_the_flag(tmp_path, clip, capsys):
    from flowkit.cli import main

    status = main(["retime", str(clip), str(tmp_path / "b.mp4"), "--factor", "2", "-q",
                   "-O", "finest_scale=9"])
    message = one_error_line(capsys.readouterr().err)
    assert status == 2
    assert message.startswith("--option finest_scale=9: frames too small for dis with these options")
    assert message.endswith("(see flowkit retime --help)")
    assert list(tmp_path.iterdir()) == []


def test_input_is_never_overwritten(tmp_path, clip):
    with pytest.raises(ValueError, match=r"dst: .* is the input; refusing to overwrite it"):
        flowkit.retime(clip, clip)


def test_interrupt_leaves_no_partial_file(tmp_path, clip, monkeypatch):
    import flowkit._interpolate as interpolate_module

    calls = []

    def interrupt(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    real = interpolate_module.interpolate_chunk
    monkeypatch.setattr(interpolate_module, "interpolate_chunk", interrupt)
    out = tmp_path / "out.mp4"
    out.write_bytes(b"earlier result")
    with pytest.raises(KeyboardInterrupt):
        flowkit.retime(clip, out, factor=2, progress=False)
    assert out.read_bytes() == b"earlier result"
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


# --- command line ---------------------------------------------------------------------------------

def test_cli_retime(tmp_path, clip):
    out = tmp_path / "out.mp4"
    status, stdout, err = run_cli("retime", clip, out, "--fps", "24000/1001", "--speed", "0.5",
                                  "--range", "0.1:0.3", "--method", "blend")
    assert status == 0 and err == ""  # no progress bar without a terminal
    assert stdout.startswith(f"wrote {out} (")
    assert "23.976 (24000/1001) fps" in stdout  # as predict and flow print rates
    assert probe_video(out).frame_rate == Fraction(24000, 1001)
    # --range alone changes nothing: said on stderr (the output is the re-encoded input)
    status, _, err = run_cli("retime", clip, tmp_path / "same.mp4", "--range", "0.1:0.3",
                             "--method", "blend")
    assert status == 0 and err.startswith("flowkit: note: --range without --speed, --duration, "
                                          "--fps or --factor changes nothing"), err


def test_retime_that_changes_nothing_says_so(tmp_path, clip):
    # --factor 1 (or --speed 1, --fps at the input's rate, no option at all) re-encoded the
    # clip silently; now one note after the run, as for --range alone. The clip: 24 fps
    note = "flowkit: note: {}: the timeline is unchanged (24 fps, speed 1), the video was only re-encoded"
    for args, asked in ((["--factor", "1"], "--factor 1"), (["--speed", "1"], "--speed 1"),
                        (["--fps", "24"], "--fps 24"), (["--fps", "24", "--speed", "1"], "--fps 24 --speed 1"),
                        ([], "no --fps, --factor, --speed or --duration"),
                        (["--range", "0.1:0.3", "--speed", "1"], "--speed 1")):
        status, _, err = run_cli("retime", clip, tmp_path / "out.mp4", *args, "--method", "blend")
        assert status == 0 and err.splitlines() == [note.format(asked)], (args, err)
    # a change, or a trimmed range, is no re-encoding only: nothing said
    for args in (["--factor", "2"], ["--fps", "12"], ["--speed", "0.5"],
                 ["--range", "0.1:0.3", "--trim", "--speed", "1"]):
        status, _, err = run_cli("retime", clip, tmp_path / "out.mp4", *args, "--method", "blend")
        assert status == 0 and err == "", (args, err)
    # a variable-rate clip at its grid rate: its gaps are filled with interpolated frames, which
    # a note says (the output became constant-rate without a word, a new user found)
    frames = real_frames("zwm__clip_01_tears_of_steel.mp4", 4, start=2)
    gaps = write_clip(tmp_path / "gaps.mp4", frames, 24,
                      times=[Fraction(k, 24) for k in (0, 1, 3, 4)])
    for args in (["--factor", "1"], []):
        status, stdout, err = run_cli("retime", gaps, tmp_path / "out.mp4", *args, "--method", "blend")
        made = re.search(r"^([1-9]\d*) frames interpolated", stdout, re.M)
        assert status == 0 and made, (stdout, err)
        assert err.splitlines() == [
            f"flowkit: note: {gaps} has a variable frame rate: written at a constant 24 fps, its "
            f"grid, with {made[1]} frames interpolated into its gaps (--fps sets another rate)"], err
    # asked for that rate: nothing said
    status, _, err = run_cli("retime", gaps, tmp_path / "out.mp4", "--fps", "24", "--method", "blend")
    assert status == 0 and err == "", err


def test_cli_errors_are_one_line_without_output(tmp_path, clip):
    truncated = tmp_path / "cut.mp4"
    data = data_path("video", "torchcodec__nasa_13013.mp4").read_bytes()
    truncated.write_bytes(data[: len(data) // 3])
    cases = [
        ((truncated, tmp_path / "a.mp4"), 1, f"INPUT: cannot open {truncated} as a video (Invalid data found when processing input)"),
        ((tmp_path / "missing.mp4", tmp_path / "a.mp4"), 1, f"INPUT: no such video file: {tmp_path / 'missing.mp4'}"),
        ((clip, tmp_path / "no" / "a.mp4"), 1, f"OUTPUT: output folder does not exist: {tmp_path / 'no'} (for {tmp_path / 'no' / 'a.mp4'})"),
        # a bad value is a usage error (exit 2) whether the command line or the library finds it
        ((clip, tmp_path / "a.mp4", "--codec", "nope"), 2, "--codec: unknown video encoder 'nope'"),
        ((clip, tmp_path / "a.mp4", "--range", "5:2"), 2, "--range: expected start < end, got 5 to 2 s"),
        ((clip, tmp_path / "a.mp4", "--range", "9:"), 2, f"--range: starts at 9 s, after the end of {clip}, which lasts 0.5 s; expected a start before it"),
        ((clip, tmp_path / "a.mp4", "--fps", "0"), 2, "argument --fps: expected a number > 0"),
        ((clip, tmp_path / "a.mp4", "--fps", "2000"), 2, "--fps: expected a frame rate in (0, 1000] fps, got 2000"),
        # the library's bounds (issue 9): usage errors naming the flag, before any decoding
        ((clip, tmp_path / "a.mp4", "--factor", "100"), 2, "--factor: expected an output rate in (0, 1000] fps, got 100 x"),
        ((clip, tmp_path / "a.mp4", "--factor", "1e9"), 2, "--factor: expected an output rate in (0, 1000] fps"),
        # a rate past FFmpeg's rationals was VideoWriter's error naming --fps, not given
        ((clip, tmp_path / "a.mp4", "--factor", "1.000000000001"), 2,
         "--factor: expected an output rate that is a ratio of integers up to 2147483647"),
        # past the encoder's range (SVT-AV1: 240 fps): VideoWriter's error named --fps too
        *([((clip, tmp_path / "a.mkv", "--factor", "20", "--codec", "libsvtav1"), 2,
            "--factor: expected an output rate the encoder takes (fps: expected at most 240 for "
            "libsvtav1, got ")] if "libsvtav1" in av.codecs_available else []),
        ((clip, tmp_path / "a.mp4", "--speed", "1e-9"), 2, "--speed: expected a number in [1/1000, 1000], got 1e-9"),
        ((clip, tmp_path / "a.mp4", "--duration", "1e9"), 2, "--duration: expected 0.0005 to 500 s"),
        ((clip, tmp_path / "a.mp4", "--fps", "1/1000"), 2, "--fps: expected at least one output frame, got 0.001 fps"),
        ((clip, tmp_path / "a.mp4", "--range", "a:b"), 2, "argument --range: expected START:END"),
        ((clip, tmp_path / "a.mp4", "--range", "-1:0.5"), 2, "argument --range: expected START:END in seconds >= 0"),
        ((clip, tmp_path / "a.mp4", "--range", "0:75-1:00"), 2, "argument --range: expected START:END in seconds >= 0"),
        ((clip, tmp_path / "a.mp4", "--trim"), 2, "--trim: needs --range START:END"),
        ((clip, tmp_path / "a.mp4", "--model", "w.safetensors"), 2, "--model needs --method learned"),
        ((clip, clip), 2, f"OUTPUT: {clip} is the input; refusing to overwrite it"),
        ((clip, "-o", clip), 2, f"OUTPUT: {clip} is the input; refusing to overwrite it"),
        ((clip,), 2, "OUTPUT: expected one output video file, as OUTPUT or -o OUTPUT, got none"),
        ((clip, tmp_path / "a.mp4", "-o", tmp_path / "b.mp4"), 2,
         f"OUTPUT: expected one output video file, as OUTPUT or -o OUTPUT, got {tmp_path / 'a.mp4'} and -o"),
    ]
    for args, code, message in cases:
        status, _, err = run_cli("retime", *args)
        assert status == code and one_error_line(err).startswith(message), (args, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.mp4"]


def test_cli_errors_show_derived_durations_in_a_few_digits(tmp_path):
    # --factor 1e-9 on a 30.533... s clip printed "30.5333333333333333333333333333 s" and a
    # frame lasting "33333333.3333333333333333333333 s"; now milliseconds or 4 digits, the
    # bounds of --duration rounded inwards so that each one shown is accepted
    source = data_path("video", "car_traffic_small.mp4")  # 916 frames at 30 fps: 458/15 s
    cases = [(("--factor", "1e-9"), "--factor: expected at least one output frame, got 3e-08 fps "
              "over the 30.533 s output (one frame would last 3.333e+7 s)"),
             (("--duration", "1e9"), "--duration: expected 0.031 to 30533.333 s for the 30.533 s "
              "retimed (a speed in [1/1000, 1000]), got 1e+09 s"),
             (("--fps", "1/300"), "--fps: expected at least one output frame, got 1/300 fps over "
              "the 30.533 s output (one frame would last 300 s)")]
    for args, message in cases:
        status, _, err = run_cli("retime", source, tmp_path / "a.mp4", *args)
        assert status == 2 and one_error_line(err) == message + " (see flowkit retime --help)", err
    assert list(tmp_path.iterdir()) == []
    status, _, err = run_cli("retime", source, tmp_path / "a.mp4", "--duration", "0.031",
                             "--fps", "1000", "--method", "blend", "-q")
    assert status == 0 and probe_video(tmp_path / "a.mp4").frame_count == 31, err


def test_factor_on_a_variable_rate_file_keeps_every_input_frame(tmp_path):
    # 300 frames at multiples of 1/30 s with 134 dropped-frame gaps: --factor 2 is 60 fps, so
    # every input frame falls on the output grid and passes through; only gaps are generated
    source = data_path("video", "torchcodec__var_fps_video.mp4")
    times = timestamps(source)
    out = tmp_path / "x2.mkv"
    report = flowkit.retime(source, out, factor=2, method="blend", codec="ffv1",
                            scene_threshold=None, progress=False)
    assert report.fps == 60
    assert report.frames == (times[-1] - times[0]) * 60 + 2  # the last frame lasts 1/30 s
    # docs/api.md's example: the grid's period, not the average's 56/1125 s (899 frames)
    assert (report.frames, times[-1] - times[0]) == (898, Fraction(448, 30))
    assert report.interpolated == report.frames - len(times) - 1  # all but the last frame's pair
    got = decoded(out)
    for t, picture in zip(times, decoded(source)):
        np.testing.assert_array_equal(got[int((t - times[0]) * 60)], picture)


def test_webm_output_defaults_to_vp9_and_frame_rate_is_the_real_one(tmp_path, clip):
    out = tmp_path / "x2.webm"
    status, stdout, err = run_cli("retime", clip, "-o", out, "--factor", "2", "--method", "blend")
    assert status == 0, err  # -o OUTPUT as in predict and flow
    assert probe_video(out).codec == "vp9"
    # 30 fps with two irregular gaps: FFmpeg's average is 483/16, the clip's rate is 30
    traffic = probe_video(data_path("video", "car_traffic_small.mp4"))
    assert traffic.frame_rate == 30
    # variable rate from dropped frames (gaps of 1/30 and 2/30 s): average 1125/56, grid 30
    vfr = probe_video(data_path("video", "torchcodec__var_fps_video.mp4"))
    assert (vfr.frame_rate, vfr.base_rate, traffic.base_rate) == (Fraction(1125, 56), 30, 30)


@pytest.mark.parametrize("codec, suffix, size", [("libvpx-vp9", ".webm", (161, 121)),
                                                  ("ffv1", ".mkv", (161, 121)),
                                                  ("libx264", ".mp4", (162, 122))])
def test_odd_sizes_are_padded_only_for_encoders_that_need_it(tmp_path, codec, suffix, size):
    source = data_path("video", "androidx__bear-vp9-odd-dimensions.webm")
    report = flowkit.retime(source, tmp_path / f"out{suffix}", factor=2, method="blend",
                            codec=codec, progress=False)
    info = probe_video(tmp_path / f"out{suffix}")
    assert report.size == size and (info.width, info.height) == size
    assert report.padded == (None if size == (161, 121) else (161, 121))


def test_file_cut_part_way_is_an_error_not_a_short_output(tmp_path):
    # the first quarter of a real clip: its frames decode until the data ends mid-packet
    data = data_path("video", "car_traffic_small.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 4])
    decoded = []
    with pytest.raises(ValueError, match=rf"path: cannot decode {cut} after (\d+) frames, "
                                         rf"([0-9.]+) s \(") as info:  # where it stopped
        for time, _ in flowkit.iter_frames(cut, timestamps=True):
            decoded.append(time)
    count, seconds = re.search(r"after (\d+) frames, ([0-9.]+) s", str(info.value)).groups()
    assert int(count) == len(decoded) > 0
    assert float(decoded[-1]) < float(seconds) <= float(decoded[-1]) + 0.1  # the last frame's end
    status, _, err = run_cli("retime", cut, tmp_path / "a.mp4", "--method", "blend")
    assert status == 1 and one_error_line(err).startswith(f"INPUT: cannot decode {cut}"), err
    assert [p.name for p in tmp_path.iterdir()] == ["cut.mp4"]


def test_a_cut_matroska_file_is_reported_where_it_ends(tmp_path):
    # a Matroska file of interleaved video and audio cut short has lost its cues (written at
    # the end) and FFmpeg cannot seek it (EPERM): the look at the first frame's rotation, which
    # seeked back to the start, left the demuxer two frames in, and retime reported the video
    # ending at 0.120 s (found retiming the first half of the NASA clip remuxed into MKV, of
    # which iter_frames decodes 7 s)
    whole = tmp_path / "whole.mkv"
    with av.open(str(data_path("video", "torchcodec__nasa_13013.mp4"))) as source, \
            av.open(str(whole), "w") as output:
        video, audio = source.streams.video[0], source.streams.audio[0]
        streams = {video.index: output.add_stream_from_template(video),
                   audio.index: output.add_stream_from_template(audio)}
        for packet in source.demux(video, audio):
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                output.mux(packet)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    seen = []
    with pytest.raises(ValueError, match=r"^path: cannot decode .* \(the video ends at") as read:
        seen.extend(flowkit.iter_frames(cut, resize=(16, 16)))
    assert len(seen) > 100  # about half of its 325 frames
    expected = str(read.value).replace("path: ", "src: ", 1)
    with pytest.raises(ValueError) as retimed:
        flowkit.retime(cut, tmp_path / "a.mp4", factor=2, method="blend", progress=False)
    assert str(retimed.value) == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.mkv", "whole.mkv"]


@pytest.mark.parametrize("name, options, count", [
    # timestamps in milliseconds: the duration read, 1.001367 s, is 60.02 frames at 59.94 fps
    ("webm", {"factor": 2}, 60),
    # a trimmed start moves onto the next input frame (0.03 -> 1/24 s): 4 frames, not 5
    ("clip", {"speed": 1, "segment": (0.03, 0.2), "trim": True}, 4)])
def test_the_progress_bar_ends_at_its_total(tmp_path, monkeypatch, clip, name, options, count):
    # the total, rounded up from the duration the input declares, could be one or two frames
    # more than the frames written (retime's end is within one timestamp unit of it, and a
    # trimmed start moves), so the bar ended at 98% (60/61): found watching retime's bar
    import tqdm

    bars = []

    class Recording(tqdm.tqdm):
        def close(self):
            if not self.disable:
                bars.append((self.n, self.total))
            super().close()

    monkeypatch.setattr(tqdm, "tqdm", Recording)
    src = data_path("video", "androidx__bear-vp9-odd-dimensions.webm") if name == "webm" else clip
    report = flowkit.retime(src, tmp_path / "a.mkv", method="blend", progress=True, **options)
    assert report.frames == count and bars == [(count, count)]


def test_an_unknown_estimator_is_refused_before_decoding_whatever_the_method(tmp_path, clip):
    # method="blend" estimates no flow, but a typo in flow= is still a typo: it passed silently
    # at speed 1 and failed inside interpolate, after decoding began, with a rate change
    for options in ({}, {"factor": 2}):
        with pytest.raises(ValueError, match=r"^flow: expected one of \('dis', .* got 'bogus'"):
            flowkit.retime(clip, tmp_path / "a.mp4", method="blend", flow="bogus",
                           progress=False, **options)
    assert list(tmp_path.iterdir()) == []


def test_a_damaged_input_is_named_src_not_path(tmp_path):
    # the video reader's errors name its own parameter, path; retime's user gave src
    data = data_path("video", "car_traffic_small.mp4").read_bytes()
    (tmp_path / "head.mp4").write_bytes(data[:2000])  # the index (moov) is lost: cannot open
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 4])  # decodes until the cut
    for name, match in [("head.mp4", "cannot open {} as a video \\("),
                        ("cut.mp4", "cannot decode {} after \\d+ frames, [\\d.]+ s \\(Invalid data "
                                    "found when processing input\\): the file ends there, its "
                                    "headers say 30.533 s \\(cut short\\?\\)$")]:
        src = tmp_path / name
        with pytest.raises(ValueError, match="^src: " + match.format(re.escape(str(src)))):
            flowkit.retime(src, tmp_path / "a.mp4", factor=2, method="blend", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.mp4", "head.mp4"]


def test_corrupt_stream_is_one_error_line(tmp_path, clip):
    # the header is intact, the coded frames are garbage: FFmpeg finds nothing to decode
    data = bytearray(clip.read_bytes())
    rng = np.random.default_rng(0)
    start = data.find(b"mdat") + 8
    data[start:] = rng.integers(0, 256, len(data) - start, dtype=np.uint8).tobytes()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(bytes(data))
    status, _, err = run_cli("retime", broken, tmp_path / "a.mp4", "--method", "blend")
    assert status == 1 and str(broken) in one_error_line(err)
    assert [p.name for p in tmp_path.iterdir()] == ["broken.mp4"]


def test_a_still_image_is_refused_not_a_crash(tmp_path):
    # an image opens as a one-frame video lasting one timestamp unit: nothing to retime
    still = tmp_path / "still.png"
    cv2.imwrite(str(still), np.full((24, 32), 128, np.uint8))
    with pytest.raises(ValueError, match=r"^src: .*still.png holds a single frame \(an image\?\)"):
        flowkit.retime(still, tmp_path / "a.mp4", factor=2)
    status, _, err = run_cli("retime", still, tmp_path / "b.mp4", "--factor", "2")
    assert status == 1 and one_error_line(err) == f"INPUT: {still} holds a single frame (an image?); retime needs a video"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["still.png"]


def test_a_file_cut_short_that_lost_its_audio_says_so(tmp_path, capsys):
    """The rotated clip cut to its first 350000 bytes still declares its audio track, but
    every audio packet lay further on: retime writes the video and reports audio "none" (0
    tracks), not "stretched" or "re-encoded", and the command line adds a note."""
    from flowkit.__main__ import main

    source = tmp_path / "cut.mp4"
    source.write_bytes(data_path("video", "mediabunny__rotate-buck-bunny.mp4").read_bytes()[:350000])
    assert probe_video(source).audio
    report = flowkit.retime(source, tmp_path / "a.mp4", segment=(0, 0.3), trim=True,
                            method="blend", progress=False)
    assert (report.audio, report.audio_tracks) == ("none", 0)
    assert report.frames > 0 and not probe_video(tmp_path / "a.mp4").audio
    assert main(["retime", str(source), str(tmp_path / "b.mp4"), "--speed", "0.5", "--range",
                 "0:0.3", "--trim", "--method", "blend", "-q"]) == 0
    out, err = capsys.readouterr()
    assert "; audio none" in out
    assert err == (f"flowkit: note: {source} declares audio but holds no audio packets to write "
                   "(a file cut short?): the output has no audio\n")


def test_range_at_the_end_of_the_input(tmp_path, clip):
    # a new user's report on a short clip: "--range 0.99:2 --trim" was refused with "at least one
    # output frame, got ... over the 0.01 s output" (no word of the clip's length), "--range 1:2"
    # was "after the end" of a clip that ends at 1 s. The clip here lasts 0.5 s (12 frames at 24)
    assert probe_video(clip).duration == Fraction(1, 2)
    with pytest.raises(ValueError, match=r"^segment: starts at 0\.5 s, at the end of .*tears\.mp4, "
                                         r"which lasts 0\.5 s; expected a start before it$"):
        flowkit.retime(clip, tmp_path / "a.mp4", segment=(0.5, 2), trim=True, progress=False)
    with pytest.raises(ValueError, match=r"^segment: starts at 0\.6 s, after the end of"):
        flowkit.retime(clip, tmp_path / "a.mp4", segment=(0.6, 2), trim=True, progress=False)
    # starting before the end but with less than a frame left: the message says the duration
    # and the latest start that keeps a frame (0.5 - 1/24 s, rounded down)
    expected = (r"^segment: expected at least one output frame, got 0\.48 to 2 s of .*tears\.mp4, "
                r"which lasts 0\.5 s: the 0\.02 s from 0\.48 s to its end is less than one frame "
                r"at 24 fps \(0\.042 s\); start it at or before 0\.458 s$")
    with pytest.raises(ValueError, match=expected):
        flowkit.retime(clip, tmp_path / "a.mp4", segment=(0.48, 2), trim=True, progress=False)
    with pytest.raises(ValueError, match=expected.replace("to 2 s", "s to the end")):
        flowkit.retime(clip, tmp_path / "a.mp4", segment=(0.48, None), trim=True, progress=False)
    assert list(tmp_path.iterdir()) == []
    report = flowkit.retime(clip, tmp_path / "a.mp4", segment=(0.458, 2), trim=True, progress=False)
    assert report.frames >= 1
    # the command line: the same as one line (exit 2); a range ending after the end is taken to
    # the end, with a note that says so; none for a range inside the clip
    status, _, err = run_cli("retime", clip, tmp_path / "b.mp4", "--range", "0.48:2", "--trim")
    assert status == 2 and re.match(expected.replace("^segment", "^--range")[:-1], one_error_line(err))
    status, _, err = run_cli("retime", clip, tmp_path / "b.mp4", "--range", "0.25:2", "--trim", "-q")
    assert status == 0 and err.splitlines() == [
        f"flowkit: note: --range 0.25:2 ends after the end of {clip}, which lasts 0.5 s: kept "
        "0.25 s to its end"]
    status, _, err = run_cli("retime", clip, tmp_path / "b.mp4", "--range", "0.25:0.5", "--trim", "-q")
    assert status == 0 and err == ""
    # a trimmed range inside the clip that is too short: it named --factor and no START; no
    # frame lies after 0.46 s (the last is at 11/24 = 0.458 s): only an earlier start helps
    # (it said "or end it at or after 0.481 s", and 0.46:0.481 held no frame)
    inside = (r"^segment: expected at least one output frame, got 0\.46 to 0\.47 s of "
              r".*tears\.mp4: the 0\.01 s from 0\.46 to 0\.47 s is less than one frame at 48 fps "
              r"\(0\.021 s\); start it at or before 0\.449 s$")
    with pytest.raises(ValueError, match=inside):
        flowkit.retime(clip, tmp_path / "a.mp4", factor=2, segment=(0.46, 0.47), trim=True,
                       progress=False)
    status, _, err = run_cli("retime", clip, tmp_path / "b.mp4", "--factor", "2", "--range",
                             "0.46:0.47", "--trim")
    assert status == 2 and re.match(inside.replace("^segment", "^--range")[:-1], one_error_line(err))
    # at its end, only an earlier start gives a frame: on the last frame (0.458 s), as none
    # lies from 0.5 - 1/48 s on (it said 0.479 s, and 0.479:0.5 held no frame); at its start
    # only a later end
    with pytest.raises(ValueError, match=r"0\.01 s from 0\.49 to 0\.5 s .*; start it at or "
                                         r"before 0\.458 s$"):
        flowkit.retime(clip, tmp_path / "a.mp4", factor=2, segment=(0.49, 0.5), trim=True,
                       progress=False)
    assert flowkit.retime(clip, tmp_path / "a.mp4", factor=2, segment=(0.458, 0.5), trim=True,
                          method="blend", progress=False).frames == 2
    with pytest.raises(ValueError, match=r"0\.01 s from 0 to 0\.01 s .*; end it at or after "
                                         r"0\.021 s$"):
        flowkit.retime(clip, tmp_path / "a.mp4", factor=2, segment=(0, 0.01), trim=True,
                       progress=False)
    report = flowkit.retime(clip, tmp_path / "a.mp4", factor=2, segment=(0.449, 0.47), trim=True,
                            method="blend", progress=False)
    assert report.frames >= 1  # 0.021 s (the suggestion is rounded down): 2 frames


def test_range_checks_use_the_duration_the_output_has(tmp_path):
    # the shared variable-rate clip's MP4 duration ends at its last timestamp (448/30 s); retime
    # plays the last frame one grid period (1/30 s) longer, to 449/30 s. --range was checked
    # against 448/30: 14.94:15 was refused as "after the end" of a clip "lasting 14.933 s"
    # that --range 14.9:15 --trim wrote to 14.967 s
    from flowkit.video import video_end

    vfr = data_path("video", "torchcodec__var_fps_video.mp4")
    info = probe_video(vfr)
    assert info.duration == Fraction(448, 30) and video_end(vfr, info) == Fraction(449, 30)
    whole = flowkit.retime(vfr, tmp_path / "whole.mp4", factor=2, method="blend", progress=False)
    assert whole.duration == Fraction(449, 30)
    # 14.94 s is inside the clip, after its last frame (14.933 s): not "after the end", but a
    # trimmed range starts on the first frame at or after its start (ffmpeg -ss): none
    with pytest.raises(ValueError, match=r"^segment: no frame of .*var_fps_video\.mp4 lies in "
                                         r"14\.94 to 15 s$"):
        flowkit.retime(vfr, tmp_path / "a.mp4", factor=2, segment=(Fraction("14.94"), 15),
                       trim=True, method="blend", progress=False)
    with pytest.raises(ValueError, match=r"^segment: starts at 14\.97 s, after the end of "
                                         r".*var_fps_video\.mp4, which lasts 14\.967 s; "):
        flowkit.retime(vfr, tmp_path / "b.mp4", factor=2, segment=(14.97, 15), progress=False)
    # from the last frame (447/30 s) to the end: 2/30 s at 60 fps, 4 frames
    status, _, err = run_cli("retime", vfr, tmp_path / "c.mp4", "--factor", "2", "--method",
                             "blend", "--range", "14.9:15", "--trim", "-q")
    assert status == 0 and err.splitlines() == [
        f"flowkit: note: --range 14.9:15 ends after the end of {vfr}, which lasts 14.967 s: "
        "kept 14.9 s to its end"]
    assert probe_video(tmp_path / "c.mp4").frame_count == 4
    assert not (tmp_path / "a.mp4").exists()


def test_too_short_trimmed_range_hints_name_times_that_keep_a_frame(tmp_path):
    # "start it at or before X s" / "end it at or after Y s" pointed into the variable-rate
    # clip's gap (no frame from 1.0 to 1.533 s), where the range then held no frame to start
    # on, and printed a latest start of 2/3 ms as 0.0006667 s, rounded past the latest start
    # accepted (a new user's report): the hints name a start on a frame where none lies after
    # it, an end just after the first frame, and times to the millisecond, as the others
    vfr = data_path("video", "torchcodec__var_fps_video.mp4")
    short = r"^segment: expected at least one output frame, got {} .* \(0\.034 s\); {}$"
    for segment, hint, starts, ends in (
            ((1.2, 1.22), r"start it at or before 1 s or end it at or after 1\.534 s", 1, 1.534),
            ((1.52, 1.55), r"start it at or before 1\.516 s or end it at or after 1\.554 s",
             1.516, 1.554),
            ((0.02, 0.034), r"start it at or before 0 s or end it at or after 0\.054 s", 0, 0.054)):
        with pytest.raises(ValueError, match=short.format(_segment_pattern(segment), hint)):
            flowkit.retime(vfr, tmp_path / "a.mp4", segment=segment, trim=True, method="blend",
                           progress=False)
        for moved in ((starts, segment[1]), (segment[0], ends)):  # each hint gives a frame
            assert flowkit.retime(vfr, tmp_path / "a.mp4", segment=moved, trim=True,
                                  method="blend", progress=False).frames >= 1, moved
    # a clip too short for one frame at that speed from any start: no hint (it said "start it
    # at or before -18.367 s"), the speed named
    status, _, err = run_cli("retime", vfr, tmp_path / "b.mp4", "--range", "10:", "--trim",
                             "--speed", "1000")
    assert status == 2 and one_error_line(err).startswith(
        "--speed: expected at least one output frame, got 30 fps over the 0.005 s output")
    assert not (tmp_path / "b.mp4").exists()


def _segment_pattern(segment):
    return r" to ".join(re.escape(f"{value:g}") for value in segment) + " s"


def test_a_trimmed_range_without_a_frame_is_refused(tmp_path):
    # the variable-rate clip has no frame from 1.0 to 1.533 s: a trimmed range in that gap, or
    # after the last frame, holds no input frame to start on (translate's error); it said
    # "INPUT: ... holds a single frame (an image?)" or wrote one frame past the last (a new
    # user's report)
    vfr = data_path("video", "torchcodec__var_fps_video.mp4")
    for argv, where in ((("--range", "1.1:1.5"), "1.1 to 1.5 s"),
                        (("--range", "14.95:", "--speed", "0.5"), "14.95 s to the end")):
        status, _, err = run_cli("retime", vfr, tmp_path / "o.mp4", "--factor", "2", *argv,
                                 "--trim", "-q")
        assert status == 2 and err.startswith(f"flowkit: error: --range: no frame of {vfr} lies "
                                              f"in {where} (see flowkit retime --help)"), err
        assert not (tmp_path / "o.mp4").exists()


def test_tracks_keep_their_default_flags_in_matroska_too(tmp_path):
    # the NASA clip's two audio tracks are both marked default: the second lost its flag in
    # MP4, and a Matroska output marked no track default, the video included (an editor's
    # chained-commands trial); the input's flags are copied as FFmpeg copies them
    nasa = data_path("video", "torchcodec__nasa_13013.mp4")
    with av.open(str(nasa)) as container:
        flags = [int(s.disposition) for s in container.streams.audio]
    assert flags == [1, 1]
    for out in (tmp_path / "nasa.mkv", tmp_path / "nasa.mp4"):
        flowkit.retime(nasa, out, segment=(0, 0.4), trim=True, method="blend", progress=False)
        with av.open(str(out)) as container:
            assert int(container.streams.video[0].disposition) & 1, out
            assert [int(s.disposition) for s in container.streams.audio] == flags, out


@pytest.mark.parametrize("kwargs, expected", [
    ({"speed": 0.5}, [(0, 1000, "First"), (1000, 2000, "Second")]),
    ({"segment": (0.5, None), "trim": True}, [(0, 500, "Second")]),
    ({"segment": (0.25, 5), "trim": True, "speed": 0.5}, [(0, 500, "First"), (500, 1500, "Second")]),
])
def test_chapters_end_with_the_video(tmp_path, kwargs, expected):
    # a chapter past the input's end (a container's chapters run to its longest stream) was
    # mapped beyond the output's end, and one starting after it kept: the 0.5 s trimmed
    # output of (0.5, None) had chapters to 1.0 s and 1.5 s
    frames = real_frames("zwm__clip_01_tears_of_steel.mp4", 24, start=2)
    src = write_clip(tmp_path / "in.mp4", frames, 24,
                     chapters=[(0, 0.5, "First"), (0.5, 1.5, "Second"), (1.2, 2, "After")])
    out = tmp_path / "out.mkv"
    flowkit.retime(src, out, method="blend", progress=False, **kwargs)
    assert file_chapters(out) == expected


@pytest.mark.parametrize("codec", ["mpeg1video", "mpeg2video"])
def test_mpeg_ps_end_is_read_from_all_packets(tmp_path, codec):
    # video_end read an MPEG-PS file's last timestamp after a seek, where FFmpeg's parser gives
    # it late: 30 frames at 30 fps (32x32) ended at 31/30 s (MPEG-1) or 61/60 s (MPEG-2), so
    # --factor 2 --duration 2 wrote 117 frames (1.95 s) or 119 (1.983 s), the progress total
    # saying 120, and --factor 2's total was 62 or 61 for 60 frames
    from flowkit.video import VideoWriter, video_end

    # where a seek lands among the PES packets depends on the frames' sizes: these ones (a
    # quarter noise, the rest flat) end late with both codecs, ramps or flat frames do not
    path = tmp_path / "clip.mpg"
    rng = np.random.default_rng(0)
    with VideoWriter(path, 30, codec=codec) as writer:
        for k in range(30):
            frame = np.full((32, 32, 3), k * 8, np.uint8)
            frame[:16, :16] = rng.integers(0, 255, (16, 16, 3))
            writer.write(frame)
    info = probe_video(path)
    assert info.duration == 1 and video_end(path, info) == 1
    totals = set()
    report = flowkit.retime(path, tmp_path / "out.mp4", factor=2, duration=2, method="blend",
                            progress=lambda done, total: totals.add(total))
    assert report.frames == 120 and report.duration == 2 and totals == {120}


def test_a_range_ending_at_the_end_is_not_past_it():
    # --range 0.2:0.8 of a clip lasting 4/5 s: the float 0.8 is 4e-17 s more, and the command
    # said the range ended after the end of the input
    from flowkit._retime import segment_past_end

    for end in (0.8, np.float64(0.8), Fraction(4, 5), "0.8"):
        assert segment_past_end((0.2, end), Fraction(4, 5)) is None, end
    assert segment_past_end((0.2, 0.81), Fraction(4, 5)) == Fraction(4, 5)
    assert segment_past_end((0.2, None), Fraction(4, 5)) is None


def test_a_timecode_track_carried_over_is_not_called_not_written(tmp_path):
    # the input's tmcd track is a data stream: every output of a MOV with a timecode said
    # "not written: the input's other streams (1 data)", though the output carries the timecode
    from flowkit.video import open_input, streams_not_written

    frames = real_frames("zwm__clip_01_tears_of_steel.mp4", 4, start=2, size=(32, 18))
    source = write_clip(tmp_path / "tc.mov", frames, 25, timecode="01:00:00:12")
    container, stream = open_input(source)
    try:
        assert streams_not_written(container, stream) == ["data"]
        assert streams_not_written(container, stream, tmp_path / "out.mov") == []
        assert streams_not_written(container, stream, tmp_path / "out.MKV") == []
        assert streams_not_written(container, stream, tmp_path / "out.avi") == ["data"]
    finally:
        container.close()
    status, out, _ = run_cli("retime", source, tmp_path / "x2.mp4", "--factor", "2",
                             "--method", "blend")
    assert status == 0 and "not written" not in out, out
