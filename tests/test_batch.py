"""flowkit.batch on a real distributed.LocalCluster (processes, 2 workers, 1 thread each).

References: the single-process public functions (flowkit.retime, flowkit.predict, the
estimators) on the same inputs; equality is exact (decoded frames and timestamps). retime writes
FFV1 here, lossless and quick; libx264 output is reproducible too since VideoWriter turns off
x264's macroblock tree (docs/scaling.md), 10-bit output is not.
"""

import contextlib
import errno
import inspect
import logging
import os
import re
import signal
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed", reason="flowkit.batch needs flowkit-cv[dask]")
av = pytest.importorskip("av")

import flowkit  # noqa: E402
from flowkit import _batch  # noqa: E402
from flowkit.cli import main  # noqa: E402

# the custom jobs below run on the workers: pickle them by value, whatever sys.path is there
import cloudpickle  # noqa: E402

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def make_video(path, frames=12, size=(64, 48), gop=4, seed=0, bframes=0):
    """A tiny H.264 clip: a texture moving 1 px right per frame, a keyframe every ``gop``
    frames (x264 without scene-cut keyframes, so the cuts are where we put them)."""
    rng = np.random.default_rng(seed)
    width, height = size
    texture = rng.integers(0, 256, (height, width + frames, 3), dtype=np.uint8)
    return write_fixed_gop(path, ((k, texture[:, k:k + width]) for k in range(frames)), 24,
                           size, gop, {"bf": str(bframes)})


def write_fixed_gop(path, pictures, rate, size, gop, options=None, time_base=None, rotation=0,
                    timecode=None):
    """``(pts, RGB frame)`` pairs encoded with libx264 at ``rate`` (``time_base``: the stream's,
    default 1 / rate), ``size`` (stored width, height), a keyframe every ``gop`` frames and no
    scene-cut keyframes (so a job splits where we say), the display ``rotation`` tagged, the
    start ``timecode`` too."""
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=rate)
    stream.width, stream.height = size
    stream.pix_fmt = "yuv420p"
    if timecode is not None:
        stream.metadata["timecode"] = timecode
    if time_base is not None:
        stream.time_base = stream.codec_context.time_base = time_base
    time_base = time_base or 1 / Fraction(rate)
    stream.options = {"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0", **(options or {})}
    if rotation:
        stream.set_display_rotation(rotation)
    for pts, array in pictures:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))
    container.close()
    return path


def decoded(path):
    """(pts, yuv420p planes) of every frame of a video."""
    with av.open(str(path)) as container:
        return [(f.pts, f.to_ndarray(format="yuv420p")) for f in container.decode(video=0)]


def same_video(a, b):
    fa, fb = decoded(a), decoded(b)
    return len(fa) == len(fb) and all(x[0] == y[0] and np.array_equal(x[1], y[1])
                                      for x, y in zip(fa, fb))


RETIME = {"factor": 2, "codec": "ffv1"}


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", silence_logs=50) as cluster, \
            distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    return [make_video(folder / f"clip{i}.mkv", seed=i) for i in range(2)]


def test_retime_matches_single_process(client, clips, tmp_path):
    # the single-process references first: their kernels are then in Numba's cache when the
    # workers need them (on a cold cache each worker would compile them again, at once)
    singles = [flowkit.retime(clip, tmp_path / f"single_{clip.name}", **RETIME, progress=False)
               for clip in clips]
    report = flowkit.batch("retime", clips, tmp_path / "out", scheduler=client, **RETIME,
                           progress=False)
    assert report.ok and report.done == [tmp_path / "out" / c.name for c in clips]
    for clip, single in zip(clips, singles):
        assert same_video(tmp_path / "out" / clip.name, single.path)
    assert report.frames == sum(single.frames for single in singles) == 2 * 24


def test_predict_job_on_a_variable_rate_clip_matches_the_command_line(client, tmp_path):
    # frames at 0, 1 and 3 thirtieths of a second (one dropped): the job, as flowkit predict,
    # divides the last pair's flow by its gap of two steps and writes at the grid's 30 fps
    base = np.random.default_rng(3).integers(0, 256, (48, 96, 3), dtype=np.uint8)
    with flowkit.VideoWriter(tmp_path / "vfr.mkv", 30, codec="ffv1",
                             time_base=Fraction(1, 30)) as writer:
        for k in (0, 1, 3):
            writer.write(np.ascontiguousarray(base[:, 2 * k:2 * k + 64]), time=Fraction(k, 30))
    report = flowkit.batch("predict", [tmp_path / "vfr.mkv"], tmp_path / "out", scheduler=client,
                           horizon=2, flow="dis", progress=False)
    assert report.ok
    for output in ("cli.mp4", "pngs"):
        assert main(["predict", str(tmp_path / "vfr.mkv"), str(tmp_path / output), "--horizon", "2",
                     "--method", "dis", "-q"]) == 0
    assert same_video(tmp_path / "out" / "vfr.mp4", tmp_path / "cli.mp4")
    assert flowkit.video.probe_video(tmp_path / "out" / "vfr.mp4").frame_rate == 30
    frames = list(flowkit.iter_frames(tmp_path / "vfr.mkv"))
    halved = flowkit.predict(np.stack(frames[-2:]), 2, flow="dis", times=[-2, 0])
    np.testing.assert_array_equal(np.stack(list(flowkit.iter_frames(tmp_path / "pngs"))), halved)


def test_predict_job_keeps_the_rotation_and_colour_tags(client, tmp_path):
    # as flowkit predict: frames stored 64x36 with a 90-degree rotation tag come out stored so,
    # with the tag and the colour tags, in the tail mode (the command line's video, frame for
    # frame) and in the chunked rolling mode, whose join encodes the parts (stored in the coded
    # orientation) as a single run does
    base = np.random.default_rng(5).integers(0, 256, (36, 128, 3), dtype=np.uint8)
    color = {"color_primaries": 1, "color_trc": 1}  # BT.709 (FFV1's RGB has no matrix or range)
    clip = tmp_path / "phone.mkv"
    with flowkit.VideoWriter(clip, 24, codec="ffv1", rotation=90, color=color) as writer:
        for k in range(30):  # FFV1 keyframes every 12 frames: the chunks cut at 12 and 24
            writer.write(np.ascontiguousarray(base[:, 2 * k:2 * k + 64]))
    tail = flowkit.batch("predict", [clip], tmp_path / "tail", scheduler=client, horizon=2,
                         flow="dis", progress=False)
    assert main(["predict", str(clip), str(tmp_path / "cli.mp4"), "--horizon", "2", "--method",
                 "dis", "-q"]) == 0
    options = dict(horizon=1, context=2, stride=1, flow="dis")
    whole = flowkit.batch("predict", [clip], tmp_path / "whole", scheduler=client, progress=False,
                          **options)
    chunked = flowkit.batch("predict", [clip], tmp_path / "chunked", scheduler=client,
                            chunk_frames=10, progress=False, **options)
    assert _batch._chunks(clip, 10, align=1, tail=2) == [(0, Fraction(1, 2)), (Fraction(1, 2), 1),
                                                         (1, None)]
    assert tail.ok and whole.ok and chunked.ok and chunked.frames == 29
    assert same_video(tail.done[0], tmp_path / "cli.mp4")
    assert same_video(chunked.done[0], whole.done[0])
    for path in (tail.done[0], whole.done[0], chunked.done[0]):
        info = flowkit.video.probe_video(path)
        assert (info.rotation, info.width, info.height) == (90, 36, 64)
        assert {k: info.color.get(k) for k in color} == color


def test_predict_job_writes_the_first_predicted_frames_timecode(client, tmp_path):
    # flowkit predict writes the input's start timecode carried to its first predicted frame;
    # the job wrote none. 12 frames at 25 fps from 0.2 s labelled 01:00:00:12: the tail's
    # first predicted frame is the 13th (01:00:00:24), as the command line's; a rolling
    # prediction's the one after its first window (frames 0-2: 01:00:00:15), whole and chunked
    texture = np.random.default_rng(7).integers(0, 256, (48, 76, 3), dtype=np.uint8)
    clip = write_fixed_gop(tmp_path / "tc.mkv", ((k + 5, texture[:, k:k + 64]) for k in range(12)),
                           25, (64, 48), 4, timecode="01:00:00:12")
    assert main(["predict", str(clip), str(tmp_path / "cli.mov"), "--horizon", "2", "--method",
                 "dis", "-q"]) == 0
    tail = flowkit.batch("predict", [clip], tmp_path / "tail", scheduler=client, horizon=2,
                         flow="dis", progress=False)
    options = dict(horizon=2, context=3, stride=4, flow="dis")
    whole = flowkit.batch("predict", [clip], tmp_path / "whole", scheduler=client,
                          progress=False, **options)
    chunked = flowkit.batch("predict", [clip], tmp_path / "chunked", scheduler=client,
                            chunk_frames=4, progress=False, **options)
    assert len(_batch._chunks(clip, 4, align=4, tail=3)) > 1  # split for real
    assert tail.ok and whole.ok and chunked.ok

    def timecode(path):
        return flowkit.video.probe_video(path).timecode

    assert timecode(tail.done[0]) == timecode(tmp_path / "cli.mov") == "01:00:00:24"
    assert timecode(whole.done[0]) == timecode(chunked.done[0]) == "01:00:00:15"


def test_predict_job_keeps_a_10_bit_clip_at_its_depth(client, tmp_path):
    # as flowkit predict: uint16 frames in, 10-bit out, the tail and the chunked rolling mode
    from cases import data_path

    ten_bit = data_path("video", "torchcodec__h264_10bits.mp4")
    for name, options in (("tail", {}), ("rolling", {"stride": 2, "chunk_frames": 10})):
        report = flowkit.batch("predict", [ten_bit], tmp_path / name, scheduler=client, horizon=1,
                               progress=False, **options)
        assert report.ok
        info = flowkit.video.probe_video(report.done[0])
        assert (info.pix_fmt, info.bit_depth) == ("yuv420p10le", 10)


def test_predict_and_flow_jobs_match_the_public_functions(client, clips, tmp_path):
    report = flowkit.batch("predict", clips[:1], tmp_path / "p", scheduler=client, horizon=3,
                           flow="dis", progress=False)
    assert report.ok and report.frames == 3
    frames = [f for f in flowkit.iter_frames(clips[0])]
    expected = flowkit.predict(np.stack(frames[-4:]), 3, flow="dis")
    with flowkit.VideoWriter(tmp_path / "single.mp4", 24, crf=18) as writer:  # write_video's
        for frame in expected:
            writer.write(frame)
    assert same_video(tmp_path / "p" / "clip0.mp4", tmp_path / "single.mp4")

    report = flowkit.batch("flow", clips[:1], tmp_path / "f", scheduler=client, progress=False)
    assert report.ok and report.frames == 11
    # the pair (k, k + 1) at frame k's time: MKV's milliseconds, each within 1 ms of the 24 fps
    # grid, so on the grid point (retime's rule), in a unit that holds both (1/3000 s)
    times = [t for t, _ in flowkit.iter_frames(clips[0], timestamps=True)]
    assert all(abs(t - times[0] - Fraction(k, 24)) <= Fraction(1, 1000) for k, t in enumerate(times))
    estimator = flowkit.DIS()
    with flowkit.VideoWriter(tmp_path / "single_flow.mp4", 24, crf=18,  # write_flow_video's
                             time_base=Fraction(1, 3000)) as writer:
        for k, (f0, f1) in enumerate(zip(frames, frames[1:])):
            writer.write(flowkit.flow_to_color(estimator(f0, f1)), time=Fraction(k, 24))
    assert same_video(tmp_path / "f" / "clip0.mp4", tmp_path / "single_flow.mp4")


def test_predict_and_flow_jobs_take_crf_as_their_commands(client, clips, tmp_path):
    # flowkit predict and flowkit flow --video take --crf (default 18), the retime and
    # translate jobs take crf, but the predict and flow jobs refused it ('-O crf: unknown
    # option') and always encoded at 18; found comparing each command's options with its job's
    assert main(["predict", str(clips[0]), str(tmp_path / "cli.mp4"), "--horizon", "2",
                 "--method", "dis", "--crf", "40", "-q"]) == 0
    _batch._predict_job(clips[0], tmp_path / "job.mp4", horizon=2, flow="dis", crf=40)
    assert same_video(tmp_path / "job.mp4", tmp_path / "cli.mp4")
    assert main(["flow", str(clips[0]), "--video", str(tmp_path / "cli_flow.mp4"), "--method",
                 "dis", "--crf", "40", "-q"]) == 0
    _batch._flow_job(clips[0], tmp_path / "job_flow.mp4", crf=40)
    assert same_video(tmp_path / "job_flow.mp4", tmp_path / "cli_flow.mp4")
    _batch._flow_job(clips[0], tmp_path / "job_flow18.mp4")  # the default: 18, as --crf's
    assert not same_video(tmp_path / "job_flow18.mp4", tmp_path / "cli_flow.mp4")
    # a chunked run's join encodes at that crf too (the same file as the single run)
    report = flowkit.batch("flow", clips[:1], tmp_path / "chunked", scheduler=client,
                           chunk_frames=4, crf=40, progress=False)
    assert report.ok and same_video(report.done[0], tmp_path / "cli_flow.mp4")
    # checked on the client for the encoder, as retime's crf is
    with pytest.raises(ValueError, match=r"^job_options: crf: expected an integer <= 51 for "
                                         r"libx264"):
        flowkit.batch("predict", clips, tmp_path / "o", horizon=2, crf=60)
    with pytest.raises(ValueError, match=r"^job_options: crf: expected an integer <= 51 for "
                                         r"libx264"):
        flowkit.batch("flow", clips, tmp_path / "o", crf=60)
    assert not (tmp_path / "o").exists()


def test_predict_job_keeps_the_pixel_format_of_the_input(client, tmp_path):
    # as flowkit predict: a 4:4:4 clip gives a 4:4:4 video (it was 4:2:0), in the tail mode
    # (the command line's video, frame for frame) and in the chunked rolling mode's join
    from test_retime import write_clip

    base = np.random.default_rng(7).integers(0, 256, (48, 128, 3), dtype=np.uint8)
    clip = write_clip(tmp_path / "444.mp4", [np.ascontiguousarray(base[:, 2 * k:2 * k + 64])
                                             for k in range(20)], 24, pix_fmt="yuv444p", gop=6)
    tail = flowkit.batch("predict", [clip], tmp_path / "tail", scheduler=client, horizon=1,
                         flow="dis", progress=False)
    assert main(["predict", str(clip), str(tmp_path / "cli.mp4"), "--horizon", "1", "--method",
                 "dis", "-q"]) == 0
    chunked = flowkit.batch("predict", [clip], tmp_path / "chunked", scheduler=client, horizon=1,
                            context=2, stride=4, flow="dis", chunk_frames=10, progress=False)
    assert tail.ok and chunked.ok and chunked.frames == 5
    assert same_video(tail.done[0], tmp_path / "cli.mp4")
    for path in (tail.done[0], chunked.done[0], tmp_path / "cli.mp4"):
        assert flowkit.video.probe_video(path).pix_fmt == "yuv444p"


def test_long_video_in_three_chunks_is_identical(client, tmp_path):
    clip = make_video(tmp_path / "long.mkv", frames=30, gop=6, seed=3, bframes=2)  # pts != dts
    bounds = _batch._chunks(clip, 10)
    assert bounds == [(0, Fraction(12, 24)), (Fraction(12, 24), Fraction(24, 24)), (1, None)]
    report = flowkit.batch("retime", [clip], tmp_path / "out", scheduler=client, **RETIME,
                           chunk_frames=10, progress=False)
    single = flowkit.retime(clip, tmp_path / "single.mkv", **RETIME, progress=False)
    assert report.ok and report.frames == single.frames == 60
    joined = tmp_path / "out" / "long.mkv"
    assert same_video(joined, single.path)  # frames and timestamps
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["long.mkv"]  # parts removed


def test_progress_bar_counts_the_parts_of_a_chunked_video(client, tmp_path, capsys):
    # one long video in 3 parts + their join: 4 steps, each shown (a bar of files sat at 0/1
    # until the whole video was done)
    clip = make_video(tmp_path / "long.mkv", frames=30, gop=6, seed=3)
    report = flowkit.batch("retime", [clip], tmp_path / "out", scheduler=client, **RETIME,
                           chunk_frames=10, progress=True)
    assert report.ok
    shown = capsys.readouterr().err
    # tqdm shows s/task where a task takes over a second (a loaded machine)
    assert "0/4 " in shown and re.search(r"batch: 100%.* 4/4 .*(task/s|s/task)", shown), shown


def test_a_progress_callable_gets_the_tasks_counted(client, tmp_path, capsys):
    # docs/api.md, "Progress and cancellation": (done, total) per task ended, ending at total
    clip = make_video(tmp_path / "long.mkv", frames=30, gop=6, seed=3)
    calls = []
    report = flowkit.batch("retime", [clip], tmp_path / "out", scheduler=client, **RETIME,
                           chunk_frames=10, progress=lambda *counts: calls.append(counts))
    assert report.ok
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert capsys.readouterr().err == ""  # no bar, no dashboard line beside the host's own


class Cancelled(Exception):
    pass


def logging_state(*names):
    return {name: (logging.getLogger(name).level, list(logging.getLogger(name).handlers),
                   list(logging.getLogger(name).filters)) for name in names}


def test_an_exception_in_the_progress_callable_cancels_the_run(tmp_path):
    # raised at the first of 4 tasks (3 parts and their join, one worker): the run ends as on
    # Ctrl-C, with no part, temporary or output left and the folder it made removed; the
    # loggers are as the host set them (distributed.batched was left at CRITICAL for the rest
    # of the process, the host's INFO lost)
    clip = make_video(tmp_path / "long.mkv", frames=30, gop=6, seed=3)
    names = ["", "distributed", "distributed.batched"]

    def cancel(done, total):
        raise Cancelled

    batched = logging.getLogger("distributed.batched")
    level = batched.level
    batched.setLevel(logging.INFO)  # the host's own
    try:
        before = logging_state(*names)
        with pytest.raises(Cancelled):
            flowkit.batch("retime", [clip], tmp_path / "out", workers=1, threads_per_worker=1,
                          **RETIME, chunk_frames=10, progress=cancel)
        assert logging_state(*names) == before
    finally:
        batched.setLevel(level)
    # no part, no temporary, and the folder it made removed when empty; outputs finished
    # before the cancel stay (documented): under load the one worker ran all 4 tasks before the
    # calling thread took the first one's end, and the whole output was left, complete
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert left in (["long.mkv"], ["long.mkv", "out", "out/long.mkv"]), left
    if len(left) > 1:
        assert len(list(flowkit.iter_frames(tmp_path / "out" / "long.mkv"))) == 60


def audio_packets(path):
    """(pts, bytes) of every audio packet of every audio stream."""
    with av.open(str(path)) as container:
        streams = container.streams.audio
        packets = [(p.stream.index, p.pts, bytes(p)) for p in container.demux(*streams) if p.size]
        return [[(pts, data) for index, pts, data in packets if index == stream.index]
                for stream in streams]


@pytest.fixture(scope="module")
def clip_with_tone(tmp_path_factory):
    """30 frames of Tears of Steel (64x36, a keyframe every 6) with two AAC tone tracks."""
    from test_retime import real_frames, write_clip

    path = tmp_path_factory.mktemp("tone") / "tone.mp4"
    if not (Path(__file__).parent / "cases.py").exists():
        pytest.skip("tests/cases.py absent")
    try:
        frames = real_frames("zwm__clip_01_tears_of_steel.mp4", 30, start=2)
    except FileNotFoundError as exc:
        pytest.skip(f"shared test data absent: {exc}")
    return write_clip(path, frames, 24, tone=[440, 660], gop=6)


@pytest.mark.parametrize("options, audio", [
    ({"factor": 2}, "copied"),                                      # packets copied
    ({"speed": 0.5}, "stretched"),                                  # atempo, AAC encoded
    ({"speed": 0.4, "segment": (0.1, 0.9), "trim": True}, "stretched"),  # trimmed, snapped start
])
def test_chunked_retime_carries_the_audio(client, clip_with_tone, tmp_path, options, audio):
    """3 chunks joined (default libx264 in MP4) against the single run: the same decoded
    frames and timestamps, the same audio packets (bytes and timestamps) on both tracks, and
    in the end the same file, byte for byte."""
    assert _batch._chunks(clip_with_tone, 10) == [(0, Fraction(1, 2)), (Fraction(1, 2), 1),
                                                 (1, None)]
    options = dict(options, method="blend")
    report = flowkit.batch("retime", [clip_with_tone], tmp_path / "out", scheduler=client,
                           chunk_frames=10, progress=False, **options)
    single = flowkit.retime(clip_with_tone, tmp_path / "single.mp4", progress=False, **options)
    assert report.ok, report.failed
    assert single.audio == audio and single.audio_tracks == 2
    joined = tmp_path / "out" / "tone.mp4"
    assert report.frames == single.frames > 0
    assert same_video(joined, single.path)
    expected = audio_packets(single.path)
    assert len(expected) == 2 and all(expected)
    assert audio_packets(joined) == expected
    assert joined.read_bytes() == single.path.read_bytes()


def test_flow_job_in_three_chunks_is_identical(client, tmp_path):
    """The flow job split with one frame of overlap: each chunk computes the pairs that start in
    it; joined, the same frames and timestamps as the job on the whole video."""
    clip = make_video(tmp_path / "long.mkv", frames=30, gop=6, seed=4, bframes=2)
    whole = flowkit.batch("flow", [clip], tmp_path / "whole", scheduler=client, progress=False)
    report = flowkit.batch("flow", [clip], tmp_path / "out", scheduler=client, chunk_frames=10,
                           progress=False)
    assert whole.ok and report.ok and report.frames == whole.frames == 29
    assert same_video(tmp_path / "out" / "long.mp4", tmp_path / "whole" / "long.mp4")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["long.mp4"]  # parts removed



def test_flow_job_in_chunks_of_an_h264_mpeg_ps(client, tmp_path):
    # H.264 in MPEG-PS (retime's default for .mpg) gives only a PES packet's first frame a
    # timestamp: the chunked flow job's join read the frames' times from the packets and the
    # job failed after all its chunks ('h.mpg holds video packets without a timestamp')
    clip = make_video(tmp_path / "h.mpg", frames=90, size=(160, 120), gop=10)
    with av.open(str(clip)) as container:
        packets = [p for p in container.demux(container.streams.video[0]) if p.size]
        assert any(p.pts is None for p in packets)
    assert len(_batch._chunks(clip, 20)) > 1
    whole = flowkit.batch("flow", [clip], tmp_path / "whole", scheduler=client, progress=False)
    report = flowkit.batch("flow", [clip], tmp_path / "out", scheduler=client, chunk_frames=20,
                           progress=False)
    assert whole.ok and report.ok and report.frames == whole.frames == 89
    assert same_video(tmp_path / "out" / "h.mp4", tmp_path / "whole" / "h.mp4")


def test_rolling_predict_chunks_of_an_h264_mpeg_ps_keep_the_stride(client, tmp_path):
    # _chunks counted only the frames with a timestamp (in H.264 MPEG-PS a PES packet's first
    # frame alone has one), so a cut meant on a multiple of the stride fell elsewhere: cut at
    # frame 60 for stride=8, and the chunked rolling prediction wrote 16 frames, not the
    # single run's 15, those after the cut from other windows
    clip = make_video(tmp_path / "h.mpg", frames=90, size=(192, 144), gop=10)
    with av.open(str(clip)) as container:
        packets = [p for p in container.demux(container.streams.video[0]) if p.size]
        assert any(p.pts is None for p in packets)
    for align in range(1, 10):
        for start, _ in _batch._chunks(clip, 20, align=align)[1:]:
            assert start * 24 % align == 0, (align, start)
    options = dict(horizon=1, stride=8, progress=False)
    whole = flowkit.batch("predict", [clip], tmp_path / "whole", scheduler=client, **options)
    chunked = flowkit.batch("predict", [clip], tmp_path / "out", scheduler=client,
                            chunk_frames=20, **options)
    assert whole.ok and chunked.ok and chunked.frames == whole.frames
    assert same_video(tmp_path / "out" / "h.mp4", tmp_path / "whole" / "h.mp4")

def test_a_file_cut_with_an_edit_list_is_timed_by_its_shown_frames(client, tmp_path):
    # the 3 frames before the edit list's start were counted as frames from their packets:
    # frame_times gave 30 times for 27 frames, 3 frames off, and the chunked flow job failed
    # ("the chunks hold 26 flow pictures, its packets 30 frames"); _chunks counted them too
    from cases import cut_with_an_edit_list
    from flowkit.video import frame_times

    clip = cut_with_an_edit_list(make_video(tmp_path / "long.mp4", frames=30, gop=6, bframes=2),
                                 tmp_path / "cut.mp4", 3)
    times = [t for t, _ in flowkit.iter_frames(clip, timestamps=True)]
    assert len(times) == 27 and frame_times(clip) == [t - times[0] for t in times]
    # keyframes on frames 3, 9, 15 and 21: cut at 15 (at 9 and 21 when 3 more were counted)
    assert _batch._chunks(clip, 10) == [(0, Fraction(5, 8)), (Fraction(5, 8), None)]
    whole = flowkit.batch("flow", [clip], tmp_path / "whole", scheduler=client, progress=False)
    report = flowkit.batch("flow", [clip], tmp_path / "out", scheduler=client, chunk_frames=10,
                           progress=False)
    assert whole.ok and report.ok and report.frames == whole.frames == 26, report.failed
    assert same_video(tmp_path / "out" / "cut.mp4", tmp_path / "whole" / "cut.mp4")


@pytest.mark.filterwarnings("ignore::flowkit.video.DamagedVideoWarning")
def test_chunks_of_a_video_whose_first_keyframe_is_damaged_match_the_whole(client, tmp_path):
    # the chunks were cut in seconds from the first packet, the parts count from the first
    # frame decoded (6 frames later here): a joined retime was not the single run's (a frame
    # more on the shared clips damaged so), parts held the wrong frames
    clip = make_video(tmp_path / "first.mp4", frames=30, gop=6, seed=7)
    with av.open(str(clip)) as container:
        first = next(p.pos for p in container.demux(container.streams.video[0]) if p.size)
    data = bytearray(clip.read_bytes())
    data[first:first + 4] = b"\xff\xff\xff\xff"  # a NAL longer than the packet: refused
    clip.write_bytes(bytes(data))
    assert _batch._chunks(clip, 10) == [(0, Fraction(6, 24)), (Fraction(6, 24), Fraction(18, 24)),
                                        (Fraction(18, 24), None)]
    single = flowkit.retime(clip, tmp_path / "single.mp4", **RETIME, progress=False)
    report = flowkit.batch("retime", [clip], tmp_path / "out", scheduler=client, **RETIME,
                           chunk_frames=10, progress=False)
    assert report.ok and report.frames == single.frames == 48
    assert same_video(tmp_path / "out" / "first.mp4", single.path)


def small_copy(src, dst, frames, size, gop):
    """The first ``frames`` frames of ``src`` at ``size`` (displayed width, height), re-encoded
    (libx264, a keyframe every ``gop`` frames, so that a job can be split) with their own
    timestamps and time base, stored in the coded orientation with the display rotation."""
    import itertools

    from flowkit.video import probe_video, to_coded

    info = probe_video(src)
    read = itertools.islice(flowkit.iter_frames(src, timestamps=True, resize=size), frames)
    pictures = ((round(time / info.time_base), to_coded(frame, info.rotation)) for time, frame in read)
    stored = size[::-1] if info.rotation % 180 else size
    return write_fixed_gop(dst, pictures, info.base_rate, stored, gop, time_base=info.time_base,
                           rotation=info.rotation)


def demuxed(path):
    """(times in seconds of the video packets, PyAV-demuxed and sorted; display rotation)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times = sorted(p.pts * stream.time_base for p in container.demux(stream) if p.pts is not None)
    return times, flowkit.video.probe_video(path).rotation


@pytest.mark.parametrize("name, size, frames", [
    # a 30 fps grid, steps of 1, then 16, then 2 and 1 (20.1 fps on average over the clip)
    ("torchcodec__var_fps_video.mp4", (64, 64), 48),
    ("mediabunny__rotate-buck-bunny.mp4", (36, 64), 24),  # 24 fps, rotation 270 (stored 64x36)
])
def test_flow_job_writes_the_command_lines_file(client, tmp_path, name, size, frames):
    """flowkit batch flow, whole and in chunks joined, writes the file flowkit flow --video
    writes (one writer, flowkit/_flow_video.py): the same frames at the input frames' times
    (a variable frame rate kept), with the input's display rotation; --fps / fps= a constant
    rate in both."""
    from cases import data_path

    # the first frames, small, with a keyframe every 6 to cut at; their times and rotation
    clip = small_copy(data_path("video", name), tmp_path / name, frames, size, gop=6)
    info = flowkit.video.probe_video(clip)
    times = [t for t, _ in flowkit.iter_frames(clip, timestamps=True)]
    assert len(times) == frames and len(set(np.diff(times))) > (name.startswith("torchcodec"))
    chunk = 10
    assert len(_batch._chunks(clip, chunk)) > 1  # split for real
    out = tmp_path / "cli.mp4"
    cluster = ["--scheduler", client.scheduler.address, "-q"]
    assert main(["batch", "flow", str(clip), "-o", str(tmp_path / "batch"), "-O", "method=dis",
                 *cluster]) == 0
    assert main(["batch", "flow", str(clip), "-o", str(tmp_path / "chunked"), "--chunk-frames",
                 str(chunk), *cluster]) == 0  # method dis: the job's default
    assert main(["flow", str(clip), "--video", str(out), "--method", "dis", "-q"]) == 0
    expected = demuxed(out)
    assert expected == ([t - times[0] for t in times[:-1]], info.rotation)
    for job in ("batch", "chunked"):
        joined = tmp_path / job / Path(name).with_suffix(".mp4").name
        assert same_video(joined, out) and demuxed(joined) == expected, job
    assert sorted(p.name for p in (tmp_path / "chunked").iterdir()) == [joined.name]
    # a constant rate asked for
    assert main(["flow", str(clip), "--video", str(out), "--method", "dis", "--fps", "12", "-q"]) == 0
    report = flowkit.batch("flow", [clip], tmp_path / "fps", scheduler=client, fps=12,
                           chunk_frames=chunk, progress=False)
    assert report.ok and same_video(report.done[0], out)
    assert demuxed(out) == ([Fraction(k, 12) for k in range(len(times) - 1)], info.rotation)


@pytest.mark.parametrize("pictures", [4, 6])
def test_chunked_flow_join_refuses_parts_that_do_not_match_the_frames(tmp_path, pictures):
    """The join takes the pictures' times from the input's packets: parts that hold another
    number of pictures than the input has pairs (a frame that does not decode) are refused,
    and nothing is written."""
    from flowkit._flow_video import write_flow_video

    clip = make_video(tmp_path / "clip.mkv", frames=6)  # 5 pairs
    part = tmp_path / "part.mkv"
    write_flow_video(part, [(None, np.zeros((48, 64, 2), np.float32))] * pictures, lossless=True)
    with pytest.raises(ValueError, match=f"the chunks hold {pictures} flow pictures, its packets "
                                         "6 frames"):
        _batch._flow_join(str(clip), str(tmp_path / "out.mp4"), [str(part)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mkv", "part.mkv"]
    # with a constant rate asked for, the times are not needed
    assert _batch._flow_join(str(clip), str(tmp_path / "out.mp4"), [str(part)], fps=24) == pictures


def test_rolling_predict_in_chunks_is_identical(client, tmp_path):
    """predict with stride=4: horizon frames after every window of context frames that starts
    on frame 0, 4, 8, ...; against predict on those windows (the reference loop below), and
    split in 3 chunks (cut on window starts, context - 1 frames of overlap) joined identical."""
    clip = make_video(tmp_path / "long.mkv", frames=30, gop=6, seed=6, bframes=2)
    options = dict(horizon=2, context=3, stride=4, flow="dis")
    assert _batch._chunks(clip, 10, align=4, tail=3) == [(0, Fraction(12, 24)),
                                                         (Fraction(12, 24), 1), (1, None)]
    whole = flowkit.batch("predict", [clip], tmp_path / "whole", scheduler=client, progress=False,
                          **options)
    report = flowkit.batch("predict", [clip], tmp_path / "out", scheduler=client, chunk_frames=10,
                           progress=False, **options)
    assert whole.ok and report.ok and report.frames == whole.frames == 7 * 2  # windows 0..24
    frames = list(flowkit.iter_frames(clip))
    with flowkit.VideoWriter(tmp_path / "reference.mp4", 24, crf=18) as writer:  # write_video's
        for start in range(0, len(frames) - 3 + 1, 4):
            for frame in flowkit.predict(np.stack(frames[start:start + 3]), 2, context=3, flow="dis"):
                writer.write(frame)
    assert same_video(tmp_path / "whole" / "long.mp4", tmp_path / "reference.mp4")
    assert same_video(tmp_path / "out" / "long.mp4", tmp_path / "reference.mp4")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["long.mp4"]


# 2**63: past sys.maxsize, deque's OverflowError (flowkit predict --context 2**63)
@pytest.mark.parametrize("count", [1, 2, 5, 7, 29, 30, 40, 2**63])
def test_last_frames_is_the_tail_of_iter_frames(tmp_path, count):
    """predict's input: the last frames, decoded from the keyframe before them (B-frames, a
    keyframe every 6), equal to the tail of a whole decode."""
    from flowkit.video import last_frames

    clip = make_video(tmp_path / "clip.mkv", frames=30, gop=6, seed=5, bframes=2)
    expected = list(flowkit.iter_frames(clip))[-count:]
    got = last_frames(clip, count)
    assert len(got) == len(expected) == min(count, 30)
    assert all(np.array_equal(a, b) for a, b in zip(got, expected))


def interlaced(path, frames=16, codec="mpeg2video", options=None):
    """``frames`` of Tears of Steel woven two by two into 25i, a keyframe every 2 frames."""
    from cases import interlaced_clip
    from test_video import interlaced_truth

    options = {"qscale": "2", "g": "2"} if options is None else options
    return interlaced_clip(path, interlaced_truth(frames), codec, "bff" if codec ==
                           "mpeg2video" else "tff", options)


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7])
def test_last_frames_deinterlace_is_the_tail_of_iter_frames(tmp_path, monkeypatch, count):
    """flowkit predict --deinterlace's input: the last fields, as the tail of
    iter_frames(deinterlace=True), decoded from the keyframe before their frames (MPEG-2 and
    x264, a keyframe every 2 frames; bwdif's fields of the first of them have their frame
    before): last_frames took no deinterlace."""
    from flowkit import video
    from flowkit.video import last_frames

    for clip in (interlaced(tmp_path / "in.ts"),
                 interlaced(tmp_path / "in.mp4", codec="libx264", options={"crf": "12", "g": "2"})):
        expected = list(flowkit.iter_frames(clip, timestamps=True, deinterlace=True))[-count:]
        with monkeypatch.context() as patched:  # the tail only, not a whole decode
            patched.setattr(video, "iter_frames", None)
            got = last_frames(clip, count, timestamps=True, deinterlace=True)
        assert len(got) == len(expected) == count
        assert all(a[0] == b[0] and np.array_equal(a[1], b[1]) for a, b in zip(got, expected))


def test_predict_job_deinterlace(client, tmp_path):
    """The predict job takes deinterlace (as flowkit predict --deinterlace): the tail job writes
    the command line's file; a rolling prediction counts fields, whole and in chunks joined
    identical, at the field rate."""
    clip = interlaced(tmp_path / "in.ts")  # 8 frames of 25i, 16 fields
    assert main(["predict", str(clip), str(tmp_path / "cli.mp4"), "--horizon", "2", "--context",
                 "3", "--method", "dis", "--deinterlace", "-q"]) == 0
    report = flowkit.batch("predict", [clip], tmp_path / "tail", scheduler=client, horizon=2,
                           context=3, flow="dis", deinterlace=True, progress=False)
    assert report.ok and same_video(tmp_path / "tail" / "in.mp4", tmp_path / "cli.mp4")
    options = dict(horizon=2, context=3, stride=4, flow="dis", deinterlace=True, codec="ffv1")
    fields = [f for _, f in flowkit.iter_frames(clip, timestamps=True, deinterlace=True)]
    expected = [frame for start in range(0, len(fields) - 3 + 1, 4)  # windows on fields 0, 4, ...
                for frame in flowkit.predict(np.stack(fields[start:start + 3]), 2, context=3,
                                             flow="dis")]
    assert len(_batch._chunks(clip, 2, align=4, tail=3)) > 1  # split for real
    for name, chunks in (("whole", None), ("chunked", 2)):
        report = flowkit.batch("predict", [clip], tmp_path / name, scheduler=client,
                               chunk_frames=chunks, progress=False, **options)
        joined = tmp_path / name / "in.mp4"
        assert report.ok and report.frames == len(expected) == 8, name
        assert flowkit.video.probe_video(joined).frame_rate == 50
        got = list(flowkit.iter_frames(joined))  # FFV1 in RGB: exact
        assert len(got) == 8 and all(np.array_equal(a, b) for a, b in zip(got, expected)), name
    assert same_video(tmp_path / "whole" / "in.mp4", tmp_path / "chunked" / "in.mp4")
    with pytest.raises(TypeError, match="^job_options: deinterlace: expected a bool"):
        flowkit.batch("predict", [clip], tmp_path / "bad", horizon=1, deinterlace="yes")


def test_shared_clips_match_single_process(client, tmp_path):
    """A real clip (odd-sized VP9), given as a list with a list of outputs. (Not the 10-bit
    clip: FFmpeg's 16-bit RGB to 10-bit YUV conversion differs from run to run, so its
    single-process retime does too: docs/scaling.md.)"""
    from cases import data_path

    clips = [data_path("video", "androidx__bear-vp9-odd-dimensions.webm")]
    for clip in clips:
        if not clip.exists():
            pytest.skip(f"shared test data absent: {clip}")
    outputs = [tmp_path / f"{clip.stem}.mkv" for clip in clips]
    report = flowkit.batch("retime", clips, outputs, scheduler=client, **RETIME, progress=False)
    assert report.ok and report.done == outputs and report.retried == {}
    for clip, out in zip(clips, outputs):
        single = flowkit.retime(clip, tmp_path / f"single_{clip.stem}.mkv", **RETIME, progress=False)
        with av.open(str(out)) as a, av.open(str(single.path)) as b:
            # the planes' bytes: PyAV's to_ndarray refuses 4:2:0 of an odd width (161x121)
            fa = [(f.pts, [bytes(p) for p in f.planes]) for f in a.decode(video=0)]
            fb = [(f.pts, [bytes(p) for p in f.planes]) for f in b.decode(video=0)]
        assert len(fa) == len(fb) == single.frames > 0
        assert all(x == y for x, y in zip(fa, fb))


def flaky_job(src, dst, *, marker, kill=False):
    """Fails on its first run (raises, or kills its own worker process), then retimes."""
    if not os.path.exists(marker):
        Path(marker).touch()
        if kill:
            os.kill(os.getpid(), signal.SIGKILL)
        raise RuntimeError("first try fails")
    return flowkit.retime(src, dst, **RETIME, progress=False).frames


@pytest.mark.parametrize("kill", [False, True], ids=["raises", "worker-killed"])
def test_failed_task_is_rerun(client, clips, tmp_path, kill):
    report = flowkit.batch(flaky_job, clips[:1], tmp_path / "out", scheduler=client,
                           progress=False, marker=str(tmp_path / "marker"), kill=kill)
    assert (tmp_path / "marker").exists()
    assert report.ok, report.failed
    # the rerun is reported (it was not: a task that failed once looked as one that did not)
    assert report.retried == {str(clips[0]): 1}
    single = flowkit.retime(clips[0], tmp_path / "single.mkv", **RETIME, progress=False)
    assert same_video(tmp_path / "out" / "clip0.mkv", single.path)


def refusing_job(src, dst, *, marker):
    """Counts its runs in ``marker`` and refuses its input, as flowkit refuses a bad one."""
    with open(marker, "a") as runs:
        runs.write("run\n")
    raise ValueError(f"src: {src} is not to my taste")


def test_a_refused_input_is_not_rerun(client, clips, tmp_path):
    # a file that cannot be decoded failed the same way on each of the 2 default reruns:
    # 2 min 45 s to report one damaged input of a 30 s clip
    marker = tmp_path / "runs"
    report = flowkit.batch(refusing_job, [clips[0]], tmp_path / "out", scheduler=client,
                           marker=str(marker), progress=False)
    assert marker.read_text() == "run\n"
    assert list(report.failed) == [str(clips[0])] and not report.done
    assert report.failed[str(clips[0])].endswith(f"{clips[0]} is not to my taste")
    # in chunks: the parts refused, the join is not attempted and the parts are removed
    report = flowkit.batch("retime", [clips[0]], tmp_path / "chunked", scheduler=client,
                           chunk_frames=4, **dict(RETIME, flow=failing_estimator),
                           progress=False)
    assert list(report.failed) == [str(clips[0])] and not report.done
    assert "no flow today" in report.failed[str(clips[0])]
    assert not (tmp_path / "chunked").exists() or list((tmp_path / "chunked").iterdir()) == []


def late_refusal(src, dst, *, slow):
    """Refuses its input, after a second for ``slow``."""
    import time

    if src.endswith(slow):
        time.sleep(1)
    raise ValueError(f"src: {src} is not to my taste")


def job_lacking_a_module(src, dst):
    import importlib

    importlib.import_module("flowkit_no_such_extra")  # a package the workers lack


def test_a_module_missing_on_a_worker_names_the_worker(client, clips, tmp_path):
    """An extra or a package installed on the client but not on a worker (torch for
    method='learned'): the ImportError said 'not installed', where the client has it."""
    report = flowkit.batch(job_lacking_a_module, clips[:1], tmp_path / "out", scheduler=client,
                           retries=0, progress=False)
    # a worker's address (the cluster's: one killed by an earlier test restarts on another)
    assert re.fullmatch(r"No module named 'flowkit_no_such_extra' \(on the Dask worker "
                        r"tcp://127\.0\.0\.1:\d+\)", report.failed[str(clips[0])])


def test_an_estimator_installed_on_the_client_only_is_named(client, clips, tmp_path,
                                                            monkeypatch):
    """An entry point installed where the client runs but not on the workers: each worker said
    'expected one of (the built-in names)' and spoke of register_estimator."""
    from flowkit import _estimators

    site = tmp_path / "site"
    (site / "zeroflow-0.1.dist-info").mkdir(parents=True)
    (site / "zeroflow.py").write_text("import numpy as np\n\ndef zero(frame0, frame1):\n"
                                      "    return np.zeros(frame0.shape[:2] + (2,), np.float32)\n")
    (site / "zeroflow-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: zeroflow\nVersion: 0.1\n")
    (site / "zeroflow-0.1.dist-info" / "entry_points.txt").write_text(
        "[flowkit.estimators]\nzero-client = zeroflow:zero\n")
    monkeypatch.syspath_prepend(str(site))  # here, not in the workers
    monkeypatch.setattr(_estimators, "_USER", dict(_estimators._USER))
    monkeypatch.setattr(_estimators, "_PLUGINS", set(_estimators._PLUGINS))
    monkeypatch.setattr(_estimators, "_plugins_found", False)
    lacking = ("the estimator 'zero-client' is not installed on the Dask worker "
               r"tcp://127\.0\.0\.1:\d+; on the client it is the entry point "
               r"zero-client = zeroflow:zero \(flowkit.estimators\) of the package zeroflow 0.1; install it on every worker")
    report = flowkit.batch("flow", clips[:1], tmp_path / "f", scheduler=client,
                           method="zero-client", progress=False)
    assert re.fullmatch(f"job_options: method: {lacking}", report.failed[str(clips[0])])
    report = flowkit.batch("retime", clips[:1], tmp_path / "r", scheduler=client, chunk_frames=4,
                           flow="zero-client", progress=False, **RETIME)
    assert re.fullmatch(f"job_options: flow: {lacking}", report.failed[str(clips[0])])
    assert not (tmp_path / "r").exists()


def test_failures_are_reported_in_the_order_of_the_inputs(client, clips, tmp_path):
    # in the order they failed, which changed from run to run (flowkit batch's lines too)
    report = flowkit.batch(late_refusal, clips, tmp_path / "out", scheduler=client,
                           slow=clips[0].name, progress=False)
    assert list(report.failed) == [str(clip) for clip in clips]


def unwritable_job(src, dst):
    """Fails as VideoWriter does under `ulimit -f`: PyAV's error, re-raised naming ``dst``."""
    try:
        raise av.error.OSError(errno.EFBIG, "File too large", dst + ".tmp")
    except OSError:
        raise OSError(errno.EFBIG, "File too large", dst) from None


def test_an_output_that_cannot_be_written_is_named(client, clips, tmp_path):
    # under `ulimit -f` the report said "Exception: OSError(27, 'File too large')": Dask
    # pickles a task's error with its chained exceptions, PyAV's cannot be unpickled, and the
    # client got a plain Exception of the repr, without the file name (a new user's trial)
    report = flowkit.batch(unwritable_job, clips[:1], tmp_path / "out", scheduler=client,
                           retries=0, progress=False)
    out = tmp_path / "out" / "clip0.mkv"
    assert report.failed == {str(clips[0]): f"{out}: File too large"}


def _limit_file_size(limit):
    """Set this process's RLIMIT_FSIZE soft limit (``ulimit -f``); return the previous one."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    return soft


def test_a_chunk_that_cannot_be_written_names_the_output(client, tmp_path):
    # under `ulimit -f` a chunked retime reported its hidden part file by absolute path,
    # "/abs/out/.long.1a2b3c4d.part0.mkv: File too large" (a new user's trial), and before
    # that "Exception: OSError(27, 'File too large')"; a single run names OUTPUT
    clip = make_video(tmp_path / "long.mkv", frames=30, gop=6, seed=3)
    previous = client.run(_limit_file_size, 2000)
    try:
        report = flowkit.batch("retime", [clip], tmp_path / "out", scheduler=client, **RETIME,
                               chunk_frames=10, retries=0, progress=False)
    finally:
        for worker, soft in previous.items():
            client.run(_limit_file_size, soft, workers=[worker])
    assert report.failed == {str(clip): f"{tmp_path / 'out' / 'long.mkv'}: File too large"}
    assert not (tmp_path / "out").exists()


def test_corrupt_input_is_reported_and_the_rest_finish(client, clips, tmp_path):
    bad = tmp_path / "bad.mkv"
    bad.write_bytes(clips[0].read_bytes()[:200] + b"\0" * 5000)
    report = flowkit.batch("retime", [clips[0], bad, clips[1]], tmp_path / "out", scheduler=client,
                           **RETIME, retries=0, progress=False)
    assert report.done == [tmp_path / "out" / "clip0.mkv", tmp_path / "out" / "clip1.mkv"]
    assert list(report.failed) == [str(bad)]
    assert "bad.mkv" in report.failed[str(bad)] and "\n" not in report.failed[str(bad)]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["clip0.mkv", "clip1.mkv"]


def test_a_damaged_input_is_done_and_its_warning_reaches_the_client(client, tmp_path):
    # a warning raised in a worker was lost: flowkit flow warns of a damaged file, batch did not
    from test_video import damaged_clip

    src = damaged_clip(tmp_path / "damaged.mp4")
    intact = make_video(tmp_path / "intact.mkv")
    report = flowkit.batch("flow", [src, intact], tmp_path / "out", scheduler=client,
                           progress=False)
    assert len(report.done) == 2 and not report.failed
    assert list(report.warnings) == [str(src)] and len(report.warnings[str(src)]) == 1
    assert report.warnings[str(src)][0].startswith(f"{src}: the frame at ")
    assert "was decoded with errors" in report.warnings[str(src)][0]


def interleaved_decode(src, dst, *, folder):
    """Decode a damaged clip, two tasks at once in a worker's threads: the task that started
    first once the other has started, the other once the first has ended."""
    import time

    folder = Path(folder)
    try:
        os.close(os.open(folder / "first.started", os.O_CREAT | os.O_EXCL))
        wait, role = folder / "second.started", "first"
    except FileExistsError:
        (folder / "second.started").touch()
        wait, role = folder / "first.done", "second"
    deadline = time.monotonic() + 60
    while not wait.exists():
        assert time.monotonic() < deadline, f"{wait} never came"
        time.sleep(0.01)
    frames = sum(1 for _ in flowkit.iter_frames(src))
    (folder / f"{role}.done").touch()
    Path(dst).write_bytes(b"done")
    return frames


def test_warnings_of_tasks_running_at_once_in_threads_reach_their_input(tmp_path):
    # a worker with two threads (a user's cluster): each task recorded warnings with
    # warnings.catch_warnings, which swaps the process's warnings state: the first task's
    # warning was recorded by the second (the last to start) and reported for its input, the
    # second's after the first ended was shown in the worker and lost, and the worker kept
    # the first task's filters ("always" for DamagedVideoWarning) when both had ended
    import warnings

    from test_video import damaged_clip

    sources = [damaged_clip(tmp_path / f"{name}.mp4") for name in "ab"]
    shown, filters = warnings.showwarning, list(warnings.filters)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=":0", silence_logs=50) as cluster, \
            distributed.Client(cluster) as client, warnings.catch_warnings():
        warnings.simplefilter("ignore", flowkit.video.DamagedVideoWarning)  # shown, not recorded
        report = flowkit.batch(interleaved_decode, sources, tmp_path / "out", scheduler=client,
                               folder=str(tmp_path), retries=0, progress=False)
        left = warnings.showwarning, warnings.filters[1:]
    assert report.ok and report.frames == 60
    assert list(report.warnings) == [str(src) for src in sources]
    for src in sources:
        assert len(report.warnings[str(src)]) == 1
        assert report.warnings[str(src)][0].startswith(f"{src}: the frame at ")
    assert left == (shown, filters)


def test_a_damaged_audio_packet_in_a_chunked_retime_reaches_the_client(client, tmp_path):
    # the join decodes the audio (a speed change): its warning was printed by the worker in
    # Python's own format (with the source line) and missing from report.warnings
    from test_retime import write_clip

    texture = np.random.default_rng(0).integers(0, 256, (36, 112, 3), np.uint8)
    clip = write_clip(tmp_path / "tone.mp4", [np.roll(texture, k, axis=1)[:, :64].copy()
                                              for k in range(24)], 24, tone=440, gop=6)
    with av.open(str(clip)) as container:
        places = [p.pos for p in container.demux(container.streams.audio[0]) if p.size]
    data = bytearray(clip.read_bytes())
    data[places[10]:places[10] + 4] = b"\xde\xad\xbe\xef"  # refused by the AAC decoder
    clip.write_bytes(bytes(data))
    report = flowkit.batch("retime", [clip], tmp_path / "out", scheduler=client, speed=0.5,
                           method="blend", codec="ffv1", chunk_frames=10, progress=False)
    assert report.ok and report.frames == 48
    assert list(report.warnings) == [str(clip)] and len(report.warnings[str(clip)]) == 1
    assert report.warnings[str(clip)][0].startswith(f"{clip}: an audio packet at 0.192 s ")


def failing_estimator(frame0, frame1):
    raise ValueError("no flow today")


def test_an_estimator_error_in_a_worker_is_reported_not_hung(client, clips, tmp_path):
    # an estimator's error that names no option was raised "from" itself: its own __cause__,
    # a cycle that Dask's error reporting (distributed.core.collect_causes) followed forever,
    # at 99 % CPU, and the run never ended (flowkit batch predict -O flow=raft without weights,
    # which is now refused before the cluster starts: below)
    report = flowkit.batch("predict", [clips[0]], tmp_path / "out", scheduler=client, horizon=2,
                           flow=failing_estimator, retries=0, progress=False)
    assert list(report.failed) == [str(clips[0])]
    assert "no flow today" in report.failed[str(clips[0])]
    # which estimator raised it: its note, kept on the way from the worker
    assert report.failed[str(clips[0])].endswith(
        " (raised by the callable failing_estimator given as flow)")
    with pytest.raises(ValueError, match="^job_options: weights: expected the path of a local "
                                         "RAFT state dict"):
        flowkit.batch("predict", [clips[0]], tmp_path / "out2", scheduler=client, horizon=2,
                      flow="raft", progress=False)
    assert not (tmp_path / "out2").exists()


def test_predict_model_is_checked_before_the_cluster_starts(clips, tmp_path):
    # -O model=missing.safetensors failed in each worker, after the cluster had started
    pytest.importorskip("torch")
    missing = tmp_path / "missing.safetensors"
    with pytest.raises(FileNotFoundError, match=f"^job_options: model: no such file "
                                                f"{re.escape(repr(str(missing)))}$"):
        flowkit.batch("predict", [clips[0]], tmp_path / "out", scheduler="tcp://127.0.0.1:9",
                      horizon=2, method="gan", model=str(missing), progress=False)
    with pytest.raises(ValueError, match="^job_options: model: expected None unless "
                                         "method='gan', got 'x.safetensors' with method='flow'$"):
        flowkit.batch("predict", [clips[0]], tmp_path / "out", scheduler="tcp://127.0.0.1:9",
                      horizon=2, model="x.safetensors", progress=False)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("bokeh", [False, True])
def test_dashboard_link_only_when_served(client, clips, tmp_path, monkeypatch, capsys, bokeh):
    """The link is printed (and reported) only where bokeh can draw the dashboard the
    scheduler serves; the CLI announces it whether or not stderr is a terminal."""
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: (
        (object() if bokeh else None) if name == "bokeh" else find_spec(name, *args)))
    report = flowkit.batch("retime", clips[:1], tmp_path / "o", scheduler=client, **RETIME,
                           progress=False, _announce=True)
    err = capsys.readouterr().err
    # the private options of the command line and of batch's jobs are not in the signatures
    # help() shows (batch's _announce, retime's _lossless and _parts)
    for function in (flowkit.batch, flowkit.retime):
        assert not [p for p in inspect.signature(function).parameters if p.startswith("_")]
    assert report.ok
    if bokeh:
        assert report.dashboard == client.dashboard_link
        assert err == f"flowkit batch: Dask dashboard at {client.dashboard_link}\n"
    else:
        assert report.dashboard is None and err == ""


def test_the_dashboard_link_needs_bokeh_where_the_scheduler_runs(tmp_path, monkeypatch):
    """A running cluster's scheduler is another process: the link was given where this process
    had bokeh, though the scheduler had none (its page says 'Dask needs bokeh'), and not where
    only the scheduler had it."""
    import importlib.util
    import json
    import subprocess
    import time

    if importlib.util.find_spec("bokeh") is not None:
        pytest.skip("bokeh is installed: the scheduler process would draw the dashboard")
    info = tmp_path / "scheduler.json"
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
         "--port", "0", "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(info)],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.2)  # the file written in full
        find_spec = importlib.util.find_spec  # bokeh here, in the client only
        monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: (
            object() if name == "bokeh" else find_spec(name, *args)))
        with distributed.Client(json.loads(info.read_text())["address"], timeout="10s") as c:
            assert "dashboard" in c.scheduler_info()["services"]
            assert _batch._dashboard(c) is None
    finally:
        scheduler.terminate()
        scheduler.wait(20)


def test_resume_with_every_output_present_starts_no_cluster(clips, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    for clip in clips:
        (out / clip.name).write_bytes(b"done")
    monkeypatch.setattr(_batch, "_client", lambda *args: pytest.fail("a cluster was started"))
    report = flowkit.batch("retime", clips, out, resume=True, progress=False, **RETIME)
    assert report.ok and report.done == [] and report.skipped == [out / c.name for c in clips]


def test_resume_skips_finished_outputs(client, clips, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "clip0.mkv").write_bytes(b"finished earlier")
    # what a killed run leaves: atomic writes' and chunks' temporaries (removed), and files of
    # the user's that only look alike (kept)
    stale = [".clip0.1a2b3c4d.tmp.mkv", ".clip1.deadbeef.part0.mkv", "..clip1.deadbeef.part1.0a0b0c0d.tmp.mkv"]
    kept = [".other.1a2b3c4d.tmp.mkv", ".clip0.notes", "clip1.tmp.mkv"]
    for name in stale + kept:
        (out / name).write_bytes(b"x")
    report = flowkit.batch("retime", clips, out, scheduler=client, **RETIME, resume=True,
                           progress=False)
    assert report.skipped == [out / "clip0.mkv"] and report.done == [out / "clip1.mkv"]
    assert (out / "clip0.mkv").read_bytes() == b"finished earlier"
    assert report.frames == 24
    assert sorted(p.name for p in out.iterdir()) == sorted(kept + ["clip0.mkv", "clip1.mkv"])


WRITING_RUN = """
import functools, sys, time, flowkit, numpy as np

def writing_job(src, dst, frames):  # a writer open frames / 10 s: its temporary exists
    with flowkit.VideoWriter(dst, 24, codec="ffv1") as writer:
        for k in range(frames):
            writer.write(np.zeros((16, 16, 3), np.uint8))
            time.sleep(0.1)
    return frames

if __name__ == "__main__":  # FRAMES OUT_FOLDER INPUT ...: a worker per input
    inputs = sys.argv[3:]
    flowkit.batch(functools.partial(writing_job, frames=int(sys.argv[1])), inputs, sys.argv[2],
                  workers=len(inputs), threads_per_worker=1, progress=False)
"""


def _ctrl_c_enabled():
    """In the child before Python starts: SIGINT back to its default, so that Python turns it
    into KeyboardInterrupt even when pytest runs with SIGINT ignored (``pytest &`` from a
    script or ``nohup pytest``: the children inherit the ignore, and these tests failed)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_interrupted_run_leaves_no_temporaries(clips, tmp_path):
    """Ctrl-C while both workers write (their temporaries exist): the run cancels its tasks,
    waits for the workers to exit, and then nothing is left in the output folder (a cleanup
    that raced with workers still writing left 48-byte temporaries)."""
    import subprocess
    import time

    script = tmp_path / "slow_run.py"
    script.write_text(WRITING_RUN)
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, str(script), "200", str(out), *map(str, clips)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               preexec_fn=_ctrl_c_enabled)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(out.glob(".*.tmp.mkv"))) < 2:
        time.sleep(0.1)
    assert len(list(out.glob(".*.tmp.mkv"))) == 2, "the two tasks did not start writing"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode != 0 and b"KeyboardInterrupt" in err
    assert not out.exists()  # no temporary left, and the folder the run made is removed


def test_interrupted_run_keeps_an_existing_output(clips, tmp_path):
    """Ctrl-C 0.3 s into a 3 s task: its worker ran it on after the cancel, and closing the
    cluster waited for it, so that it replaced the existing output after the signal (a
    chunked retime's join ending in those seconds did the same)."""
    import subprocess
    import time

    script = tmp_path / "short_run.py"
    script.write_text(WRITING_RUN)  # 30 frames, 3 s: it ends within Dask's grace in close
    out = tmp_path / "out"
    out.mkdir()
    kept = out / clips[0].name  # the output of clips[0] in the folder out
    kept.write_bytes(b"finished earlier")
    process = subprocess.Popen([sys.executable, str(script), "30", str(out), str(clips[0])],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               preexec_fn=_ctrl_c_enabled)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(out.glob(".*.tmp.mkv")):
        time.sleep(0.05)
    assert list(out.glob(".*.tmp.mkv")), "the task did not start writing"
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode != 0 and b"KeyboardInterrupt" in err
    assert [p.name for p in out.iterdir()] == [kept.name]
    assert kept.read_bytes() == b"finished earlier"


@pytest.mark.parametrize("how", ["SIGINT-group", "SIGTERM"])
def test_interrupted_chunked_cli_run_prints_one_line_and_leaves_nothing(tmp_path, how):
    """A Ctrl-C (SIGINT to the whole process group, workers included) or a SIGTERM while the
    chunks of a long clip are being written: exit 130 / 143, one line on stderr (no worker
    traceback, no resource_tracker warning), and no part file or temporary left (issue 13)."""
    import subprocess
    import time

    clip = make_video(tmp_path / "long.mkv", frames=150, size=(320, 180), gop=15)
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "flowkit", "batch", "retime", str(clip), "-o", str(out),
         "--chunk-frames", "15", "--workers", "2", "-O", "speed=0.5", "-O", "codec=ffv1", "-q"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
        preexec_fn=_ctrl_c_enabled)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None \
            and not list(out.glob(".long.*")):
        time.sleep(0.05)
    assert process.poll() is None and list(out.glob(".long.*")), "no chunk was being written"
    if how == "SIGTERM":
        process.send_signal(signal.SIGTERM)
    else:
        os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=120)
    expected = (143, "flowkit: terminated") if how == "SIGTERM" else (130, "flowkit: interrupted")
    assert (process.returncode, err.decode().strip()) == expected, err.decode()
    # the folder the run made is removed with nothing in it; finished just in time: kept
    assert not out.exists() or [p.name for p in out.iterdir()] == ["long.mkv"]


STARTED_MASKS = """
import os, signal, sys
from flowkit import _batch

def blocked():
    with open(f"/proc/{os.getpid()}/status") as status:
        mask = next(line for line in status if line.startswith("SigBlk:")).split()[1]
    return int(mask, 16) >> (signal.SIGINT - 1) & 1

if __name__ == "__main__":
    owned = []
    try:
        client = _batch._client(None, 2, owned)
        print(sorted(client.run(blocked).values()), blocked())
    finally:
        for thing in owned:
            thing.close()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")
def test_local_workers_start_with_sigint_blocked(tmp_path):
    # a Ctrl-C (SIGINT to the process group) while the workers were starting printed their
    # KeyboardInterrupt tracebacks from the imports, before dask_setup could ignore it (1 run
    # in 4 interrupted 1-1.5 s after the start, on this 2-core machine): they start with it
    # blocked. multiprocessing's resource tracker unblocked it in Dask's loop thread, which
    # spawns them (started first now); the client's main thread has it unblocked again
    import subprocess

    script = tmp_path / "masks.py"
    script.write_text(STARTED_MASKS)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[0] == "[1, 1] 0", done.stdout


def test_an_output_folder_the_run_made_is_removed_when_left_empty(clips, tmp_path, monkeypatch):
    # an interrupted run left the -o folder it had created, empty (a new user's report); one
    # that existed before, or that holds anything, stays. No cluster: the run is stubbed
    out = tmp_path / "out"

    def interrupted(*args):
        if out.name == "full":
            (out / "clip0.mkv").write_bytes(b"done")
        raise KeyboardInterrupt

    monkeypatch.setattr(_batch, "_client", lambda *args: None)
    monkeypatch.setattr(_batch, "_dashboard", lambda client: None)
    monkeypatch.setattr(_batch, "_run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        flowkit.batch("retime", clips, out, progress=False, **RETIME)
    assert not out.exists()
    out.mkdir()  # there before the run: it stays
    with pytest.raises(KeyboardInterrupt):
        flowkit.batch("retime", clips, out, progress=False, **RETIME)
    assert out.is_dir() and list(out.iterdir()) == []
    out = tmp_path / "full"  # made by the run, holding a file when interrupted: it stays
    with pytest.raises(KeyboardInterrupt):
        flowkit.batch("retime", clips, out, progress=False, **RETIME)
    assert list(out.iterdir()) == [out / "clip0.mkv"]
    # every input failed: the run's folder holds nothing either
    out = tmp_path / "failed"
    monkeypatch.setattr(_batch, "_run", lambda *args: (0, [], {src: f"{src}: bad" for src in clips}, {}))
    report = flowkit.batch("retime", clips, out, progress=False, **RETIME)
    assert not report.ok and len(report.failed) == 2 and not out.exists()


def test_cli_summary_counts_the_inputs_done_after_a_failed_try(tmp_path, capsys, monkeypatch):
    # an input whose task failed once and then succeeded (--retries) was not told apart
    out = tmp_path / "bout"
    report = _batch.BatchReport(done=[out / "a.mp4", out / "b.mp4"], failed={}, skipped=[],
                                frames=10, seconds=1.0, retried={"a.mp4": 2})
    monkeypatch.setattr(flowkit, "batch", lambda *args, **kwargs: report)
    assert main(["batch", "retime", "a.mp4", "b.mp4", "-o", str(out), "-q"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith(
        "retime: 2 files done (1 after a failed try), 0 failed; 10 frames")


@pytest.mark.parametrize("count, listed", [
    (1, "(a0.mp4)"), (3, "(a0.mp4, a1.mp4, a2.mp4)"),
    (12, "(a0.mp4, a1.mp4, a10.mp4 ... a9.mp4)")])
def test_cli_summary_lists_the_files_written(tmp_path, capsys, monkeypatch, count, listed):
    # the summary said "3 files done, 1 failed ... -> bout" without naming what it wrote; the
    # README says every command prints what it wrote (as flow --flo-dir: count, folder, names)
    out = tmp_path / "bout"
    done = [out / f"a{k}.mp4" for k in range(count)]
    report = _batch.BatchReport(done=done, failed={"bad.mkv": "bad.mkv: broken"}, skipped=[],
                                frames=10, seconds=1.0,
                                warnings={"x.mp4": ["x.mp4: the frame at 1.000 s was decoded"]})
    monkeypatch.setattr(flowkit, "batch", lambda *args, **kwargs: report)
    assert main(["batch", "retime", "x.mp4", "-o", str(out), "-q"]) == 1
    printed = capsys.readouterr()
    lines = printed.out.splitlines()
    files = "file" if count == 1 else "files"
    assert lines[0] == f"wrote {count} {files} to {out} {listed}"
    assert lines[1].startswith(f"retime: {count} {files} done, 1 failed; 10 frames")
    # a damaged input's warning, raised in a worker, printed as a single run prints it
    assert "flowkit: warning: x.mp4: the frame at 1.000 s was decoded" in printed.err.splitlines()


def test_cli_round_trip(clips, tmp_path, capsys):
    """`flowkit batch` with its own local cluster (2 workers x 1 thread), a failing input too."""
    bad = tmp_path / "bad.mkv"
    bad.write_bytes(b"not a video")
    out = tmp_path / "out"
    code = main(["batch", "retime", str(clips[0]), str(bad), "-o", str(out), "--workers", "2",
                 "--threads-per-worker", "1", "--retries", "0", "-O", "factor=2", "-O", "codec=ffv1",
                 "-q"])
    captured = capsys.readouterr()
    assert code == 1
    assert "retime: 1 file done, 1 failed; 24 frames" in captured.out
    assert f"wrote 1 file to {out} (clip0.mkv)\n" in captured.out
    assert f"flowkit: failed: {bad}: " in captured.err and captured.err.count("\n") == 1
    assert f"{bad}: {bad}" not in captured.err  # the message's own path is not repeated
    # nor the job's parameter for it (retime says "INPUT:" of its one input, named here)
    assert f"flowkit: failed: {bad}: cannot open {bad} as a video" in captured.err
    assert [p.name for p in out.iterdir()] == ["clip0.mkv"]
    assert same_video(out / "clip0.mkv",
                      flowkit.retime(clips[0], tmp_path / "s.mkv", **RETIME, progress=False).path)


@pytest.mark.parametrize("argv, message", [
    (["--workers", "99"], "--workers: expected"),
    (["-O", "nope=1"], "-O nope: unknown option; expected some of "),
    (["--workers", "2", "--threads-per-worker", "2"],
     "--workers: expected an integer <= 1 (2 cores / 2 threads_per_worker), got 2"),
    (["--threads-per-worker", "3"], "--threads-per-worker: expected an integer <= 2 (2 cores), "
                                    "got 3"),
    (["-O", "factor=-1"], "-O factor: expected a number > 0, got -1"),
    (["-O", "horizon=0"], "-O horizon: expected"),
    (["-O", "horizon=2", "-O", "flow=nope"], "-O flow: "),
    (["--chunk-frames", "10", "-O", "horizon=2"], "--chunk-frames: the 'predict' job cannot be split"),
    (["-O", "horizon=2", "-O", "stride=0"], "-O stride: expected"),
    # distributed's own errors named neither: "missing port number in address 'host'"
    (["--scheduler", "host"], "--scheduler: expected an address such as 'tcp://host:8786', got "
                              "'host' (missing port number"),
    (["--scheduler", "http://127.0.0.1:8787"], "--scheduler: expected an address such as "
                                               "'tcp://host:8786', got 'http://127.0.0.1:8787'"),
    (["--scheduler", "tcp://host:port"], "--scheduler: expected an address"),
    (["--scheduler", "inproc://x"], "--scheduler: expected an address such as 'tcp://host:8786', "
                                    "got 'inproc://x' (an inproc address is ip/pid/n"),
])
def test_cli_errors_are_one_line(clips, tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.setattr(_batch, "_cores", lambda: 2)
    job = "predict" if any(a.startswith("horizon=") for a in argv) else "retime"
    code = main(["batch", job, str(clips[0]), "-o", str(tmp_path / "o"), *argv])
    err = capsys.readouterr().err
    assert code != 0 and message in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()  # a refused run makes no output folder


def test_a_jobs_own_flag_is_refused_with_the_o_form(clips, tmp_path, capsys):
    # `flowkit retime --factor 2` given to batch, which takes the job's options as -O
    with pytest.raises(SystemExit) as exit_:
        main(["batch", "retime", str(clips[0]), "-o", str(tmp_path / "o"), "--factor", "2"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1
    assert err == ("flowkit: error: unrecognized arguments: --factor 2 (batch takes the job's "
                   "own options as -O NAME=VALUE, e.g. -O factor=...) (see flowkit batch --help)\n")
    assert not (tmp_path / "o").exists()


def test_a_list_of_outputs_names_each_file_once_and_no_input(clips, tmp_path):
    # both tasks wrote one file (reported as two done), or one overwrote the other's input
    # while it was read
    (tmp_path / "in.mkv").write_bytes(clips[1].read_bytes())
    inputs = [clips[0], tmp_path / "in.mkv"]
    with pytest.raises(ValueError, match=r"^outputs: .*a.mkv is the output of both .*clip0.mkv "
                                         r"and .*in.mkv; expected one output path per input$"):
        flowkit.batch("retime", inputs, [tmp_path / "a.mkv", tmp_path / "a.mkv"])
    (tmp_path / "sub").mkdir()
    with pytest.raises(ValueError, match=r"^outputs: .*sub/\.\./a.mkv is the output of both "
                                         r".*clip0.mkv \(as .*/a.mkv\) and .*in.mkv; expected"):
        flowkit.batch("retime", inputs, [tmp_path / "a.mkv", tmp_path / "sub" / ".." / "a.mkv"])
    (tmp_path / "sub").rmdir()
    with pytest.raises(ValueError, match=r"^outputs: .*in.mkv \(the output of .*clip0.mkv\) is "
                                         r"the input .*in.mkv; refusing to overwrite it$"):
        flowkit.batch("retime", inputs, [tmp_path / "in.mkv", tmp_path / "b.mkv"], factor=2)
    assert (tmp_path / "in.mkv").read_bytes() == clips[1].read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mkv"]


def test_a_folder_input_lists_its_video_files_not_its_subfolders(tmp_path):
    # a subfolder named like a video went to a worker, which failed on it ("src: F is a
    # folder; expected a video file") while the folder's videos were retimed
    from flowkit._batch import _expand

    (tmp_path / "a.mkv").write_bytes(b"")
    (tmp_path / "sub.mp4").mkdir()
    assert _expand(tmp_path) == [tmp_path / "a.mkv"]
    (tmp_path / "a.mkv").unlink()
    with pytest.raises(FileNotFoundError, match="^inputs: no video files in the folder "):
        _expand(tmp_path)


def test_a_tiff_stack_input_is_refused_before_any_task(tmp_path):
    # a TIFF stack failed on a worker (flow, predict: 'not a video file'), or as its output's
    # extension (retime, translate: "'.tif' is an image format"): one error, no cluster
    import cv2

    stack = tmp_path / "stack.tif"
    assert cv2.imwritemulti(str(stack), [np.zeros((8, 8), np.uint8)] * 3)
    for job, options in (("flow", {}), ("retime", {"factor": 2})):
        with pytest.raises(ValueError, match=rf"^inputs: {re.escape(str(stack))} is a TIFF of 3 "
                                             r"pages, an image stack, not a video file; flowkit "
                                             r"flow and predict read it"):
            flowkit.batch(job, [stack], tmp_path / "out", **options)
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_input_is_refused_as_such(tmp_path):
    # a FIFO without extension was refused as "-o: OUT/ff: no extension", its output's name,
    # and one given by a pattern reached a worker
    fifo = tmp_path / "ff"
    os.mkfifo(fifo)
    for inputs in (fifo, str(tmp_path / "f*"), [fifo]):
        with pytest.raises(ValueError, match=rf"^inputs: {re.escape(str(fifo))} is a FIFO, not "
                                             r"a regular file; expected a video file$"):
            flowkit.batch("retime", inputs, tmp_path / "out", factor=2)
    assert not (tmp_path / "out").exists()


def test_bad_arguments(clips, tmp_path, capsys):
    with pytest.raises(ValueError, match="job: expected one of retime, predict, flow, translate"):
        flowkit.batch("nope", clips, tmp_path)
    with pytest.raises(ValueError, match="outputs: expected 2 paths"):
        flowkit.batch("retime", clips, [tmp_path / "a.mp4"])
    with pytest.raises(FileNotFoundError, match="inputs: no file matches"):
        flowkit.batch("retime", str(tmp_path / "*.mov"), tmp_path)
    # a pattern that matches a folder sent it to a worker: "failed: sub: path: cannot open sub
    # as a video (Is a directory)", after the cluster started
    (tmp_path / "sub.mkv").mkdir()
    for inputs in (str(tmp_path / "*"), [clips[0], str(tmp_path / "sub*")]):
        with pytest.raises(ValueError, match=r"^inputs: the pattern '.*' matches the folder "
                                             r".*sub\.mkv; expected video files \(a pattern "
                                             r"such as '\*\.mp4', or the folder itself for "
                                             r"its videos\)$"):
            flowkit.batch("retime", inputs, tmp_path / "o", factor=2)
    assert main(["batch", "retime", str(tmp_path / "*"), "-o", str(tmp_path / "o"), "-q"]) == 2
    assert capsys.readouterr().err.startswith(f"flowkit: error: INPUTS: the pattern "
                                              f"'{tmp_path / '*'}' matches the folder ")
    (tmp_path / "sub.mkv").rmdir()
    with pytest.raises(ValueError, match="horizon: the predict job needs"):
        flowkit.batch("predict", clips, tmp_path)
    with pytest.raises(ValueError, match="workers: only for the local cluster"):
        flowkit.batch("retime", clips, tmp_path / "o", scheduler="tcp://127.0.0.1:1", workers=2)
    with pytest.raises(ValueError, match="threads_per_worker: expected"):
        flowkit.batch("retime", clips, tmp_path / "o", threads_per_worker=10 ** 6)
    with pytest.raises(ValueError, match="part: expected start < end, got 1 to 0.5 s"):
        flowkit.retime(clips[0], tmp_path / "p.mkv", part=(1, 0.5))
    with pytest.raises(TypeError, match="part: expected None or a \\(start, end\\) pair"):
        flowkit.retime(clips[0], tmp_path / "p.mkv", part=1)
    with pytest.raises(ValueError, match="outputs: .* is the input"):
        flowkit.batch("retime", clips[:1], [clips[0]], factor=2)
    with pytest.raises(ValueError, match="job_options: max_flow: expected"):
        flowkit.batch("flow", clips, tmp_path / "o", max_flow=-1)
    with pytest.raises(ValueError, match="job_options: fps: expected"):
        flowkit.batch("predict", clips, tmp_path / "o", horizon=2, fps=0)
    # on the client, not in every worker after the cluster started
    with pytest.raises(ValueError, match=r"job_options: device: expected one of 'cpu', 'cuda' or None, got 'gpu'"):
        flowkit.batch("predict", clips, tmp_path / "o", horizon=2, device="gpu")
    with pytest.raises(ValueError, match=r"job_options: flow_options\['device'\]: expected one of 'cpu', "
                                         r"'cuda' or None, got 'gpu'"):
        flowkit.batch("flow", clips, tmp_path / "o", flow_options={"device": "gpu"})
    with pytest.raises(FileNotFoundError, match="outputs: output folder does not exist: .*lo"):
        flowkit.batch("retime", clips, [tmp_path / "a.mkv", tmp_path / "lo" / "b.mkv"], factor=2)
    with pytest.raises(ValueError, match="workers: only for the local cluster"):
        flowkit.batch("retime", clips, tmp_path / "o2", scheduler="tcp://127.0.0.1:1", workers=2)
    with pytest.raises(ValueError, match=r"outputs: inputs with the same name .*clip0.mkv, .*"
                                         r"clip0.mkv\); give each its own output folder"):
        flowkit.batch("retime", [clips[0], clips[0]], tmp_path / "o3")
    assert not list(tmp_path.glob("*.mkv"))
    assert not any((tmp_path / name).exists() for name in ("o", "o2", "o3", "lo"))


def test_an_unreachable_scheduler_is_named(clips, tmp_path, capsys, monkeypatch):
    """distributed's connection error (after its 10 s timeout, here at once) names the
    argument: scheduler, --scheduler on the command line; no output folder is made."""
    import distributed

    class Refusing(distributed.Client):
        def __new__(cls, address, timeout=None, **kwargs):
            raise OSError(f"Timed out trying to connect to {address} after 10 s")

    monkeypatch.setattr(distributed, "Client", Refusing)
    monkeypatch.setattr(_batch, "_probe", lambda address: None)
    address = "tcp://127.0.0.1:9"
    with pytest.raises(OSError, match=f"^scheduler: Timed out trying to connect to {address}"):
        flowkit.batch("retime", clips[:1], tmp_path / "o", scheduler=address, factor=2)
    code = main(["batch", "retime", str(clips[0]), "-o", str(tmp_path / "o"), "--scheduler",
                 address, "-O", "factor=2", "-q"])
    err = capsys.readouterr().err
    assert code == 1
    assert err == f"flowkit: error: --scheduler: Timed out trying to connect to {address} after 10 s\n"
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("answer, message", [
    (None, r"tcp://127\.0\.0\.1:\d+ accepted the connection but gave no Dask handshake "
           r"within 3 s; expected the address of a Dask scheduler"),
    (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
     r"no Dask scheduler answered at tcp://127\.0\.0\.1:\d+ \(\w+Error: "),
])
def test_a_scheduler_address_of_another_service_is_an_error_not_a_hang(clips, tmp_path, capsys,
                                                                        monkeypatch, answer,
                                                                        message):
    """A port that accepts but is not a Dask scheduler's (the dashboard's HTTP port given as
    tcp://): distributed's Client waited for its handshake for ever; a service that answers
    other bytes raised what they decoded to (a MemoryError of some EiB)."""
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def serve():
        with contextlib.suppress(OSError):
            while True:
                conn, _ = server.accept()
                accepted.append(conn)  # kept open: a silent service
                if answer is not None:
                    conn.recv(4096)
                    conn.sendall(answer)

    threading.Thread(target=serve, daemon=True).start()
    monkeypatch.setattr(_batch, "TIMEOUT", 1)
    address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    try:
        with pytest.raises(OSError, match=f"^scheduler: {message}"):
            flowkit.batch("retime", clips[:1], tmp_path / "o", scheduler=address, factor=2)
        code = main(["batch", "retime", str(clips[0]), "-o", str(tmp_path / "o"),
                     "--scheduler", address, "-O", "factor=2", "-q"])
    finally:
        server.close()
        for conn in accepted:
            conn.close()
    err = capsys.readouterr().err
    assert code == 1
    assert re.fullmatch(f"flowkit: error: --scheduler: {message}.*\n", err)
    assert not (tmp_path / "o").exists()


def test_import_flowkit_does_not_import_dask():
    import subprocess

    code = "import flowkit, sys; flowkit.batch; print('distributed' in sys.modules, 'dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_cli_worker_errors_name_the_job_options(tmp_path):
    """An option error raised on a worker (retime finds the speed from -O duration= only once it
    has probed the input) names the option as the user wrote it, -O NAME, like the client-side
    checks, not the single command's --audio."""
    import subprocess

    from cases import data_path

    from flowkit.cli import _one_line

    clip = data_path("video", "mediabunny__rotate-buck-bunny.mp4")  # 1.875 s, with audio
    done = subprocess.run([sys.executable, "-m", "flowkit", "batch", "retime", str(clip), "-o",
                           str(tmp_path / "out"), "-O", "duration=4", "-O", "audio=copy", "-O",
                           "method=blend", "--workers", "1", "--threads-per-worker", "1",
                           "--retries", "0", "-q"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 1 and done.stderr == (
        f"flowkit: failed: {clip}: -O audio: cannot copy the audio when the duration changes "
        f"(speed 0.46875); use 'stretch' or 'drop'\n")
    assert "0 files done, 1 failed" in done.stdout
    # the same mapping for every name the job was given; other names as the commands spell them
    error = ValueError("horizon: expected an integer >= 1, got 0")
    assert _one_line(error, {"horizon": 0}) == "-O horizon: expected an integer >= 1, got 0"
    assert _one_line(error) == "--horizon: expected an integer >= 1, got 0"
    assert _one_line(ValueError("flow_options['x']: bad"), {"flow_options": {}}) == "-O flow_options['x']: bad"
    assert _one_line(ValueError("path: cannot decode a.mp4"), {"horizon": 2}) == "cannot decode a.mp4"


def test_inputs_outputs_and_cluster_checks_before_any_work(clips, tmp_path, monkeypatch, capsys):
    # a new user's batch findings: hidden files were inputs; an output path that is a folder
    # failed after the work and then counted as done with resume; a refused cluster left the
    # output folder; -o naming a file exited 1
    from flowkit.cli import main

    folder = tmp_path / "in"
    folder.mkdir()
    for clip in clips:
        (folder / clip.name).write_bytes(clip.read_bytes())
    (folder / "._clip0.mkv").write_bytes(b"AppleDouble")
    assert _batch._expand(folder) == sorted(folder / c.name for c in clips)
    out = tmp_path / "out"
    (out / "clip0.mkv").mkdir(parents=True)
    for resume in (False, True):
        with pytest.raises(ValueError, match=r"outputs: .*clip0\.mkv \(the output of .*clip0\.mkv\) "
                                             r"is a folder"):
            flowkit.batch("retime", clips, out, resume=resume, progress=False, **RETIME)

    def refused(*args):
        raise OSError("no scheduler there")

    monkeypatch.setattr(_batch, "_client", refused)
    with pytest.raises(OSError, match="no scheduler there"):
        flowkit.batch("retime", clips, tmp_path / "new", progress=False, **RETIME)
    assert not (tmp_path / "new").exists()
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["batch", "retime", str(folder), "-o", str(afile), "-O", "factor=2"]) == 2
    assert capsys.readouterr().err == (f"flowkit: error: -o: {afile} exists and is not a folder "
                                       "(see flowkit batch --help)\n")


def test_an_output_named_without_extension_names_the_outputs(clips, tmp_path, capsys):
    # retime's output is named as its input: an input file without an extension gives an
    # output without one, which is refused before any work as the outputs' fault, not as a
    # job option the user never gave ('-O dst: out/clip: no extension'; found by a trial)
    bare = tmp_path / "clip"
    bare.write_bytes(clips[0].read_bytes())
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=rf"^outputs: {re.escape(str(out / 'clip'))}: no "
                                         r"extension; "):
        flowkit.batch("retime", [bare], out, progress=False, **RETIME)
    assert main(["batch", "retime", str(bare), "-o", str(out), "-O", "factor=2"]) == 2
    assert capsys.readouterr().err.startswith(f"flowkit: error: -o: {out / 'clip'}: no extension")
    assert not out.exists()


def test_a_run_removes_only_its_own_outputs_temporaries(tmp_path):
    # the temporaries and chunk parts of take.mp4 are .take.TOKEN.*: the pattern once matched
    # those of take.v2.mp4 (.take.v2.TOKEN.*), so a run writing take.mp4 into a folder deleted,
    # as it started and ended, the parts of another run writing take.v2.mp4 there, which then
    # failed with 'no such video file: out/take.v2.mp4' (found running two batches into one
    # folder); a killed run's own leftovers are still removed
    from flowkit._atomic import _temporary_name

    own = [tmp_path / _temporary_name(tmp_path / "take.mp4", "0a1b2c3d"),
           _batch._part_path(tmp_path / "take.mp4", "0a1b2c3d", 12)]
    own.append(tmp_path / _temporary_name(own[1], "4e5f6a7b"))
    other = [tmp_path / _temporary_name(tmp_path / "take.v2.mp4", "0a1b2c3d"),
             _batch._part_path(tmp_path / "take.v2.mp4", "0a1b2c3d", 0),
             tmp_path / _temporary_name(tmp_path / "take.deadbeef.mp4", "0a1b2c3d"),
             _batch._part_path(tmp_path / "take.deadbeef.mp4", "0a1b2c3d", 0)]
    other.append(tmp_path / _temporary_name(other[1], "4e5f6a7b"))
    for path in own + other:
        path.write_bytes(b"x")
    _batch._remove_temporaries([tmp_path / "take.mp4"])
    assert sorted(tmp_path.iterdir()) == sorted(other)


def test_an_output_folder_is_created_only_in_an_existing_folder(clips, tmp_path):
    # as retime's dst and each path of a list of outputs: the folder of the output folder must
    # exist (flowkit batch -o made its parents; test_cli checks the command line's line)
    missing = tmp_path / "no" / "out"
    with pytest.raises(FileNotFoundError, match=rf"^outputs: output folder does not exist: "
                                                rf"{re.escape(str(tmp_path / 'no'))} \(for "):
        flowkit.batch("retime", clips, missing, progress=False, **RETIME)
    assert list(tmp_path.iterdir()) == []


def write_ffv1(path, images, image_format, pix_fmt):
    """``images`` (PyAV ``image_format``) as an FFV1 clip in ``pix_fmt`` at 24 fps."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=24)
        stream.width, stream.height, stream.pix_fmt = images.shape[2], images.shape[1], pix_fmt
        for k, image in enumerate(images):
            frame = av.VideoFrame.from_ndarray(image, format=image_format).reformat(format=pix_fmt)
            frame.pts, frame.time_base = k, Fraction(1, 24)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def test_jobs_note_an_input_with_alpha(client, tmp_path, monkeypatch, capsys):
    # flowkit retime, predict and translate note that an input's alpha is not written; batch
    # wrote the same opaque outputs without a word
    images = np.full((3, 24, 32, 4), 128, np.uint8)
    images[..., :3] = 40 * np.arange(3)[:, None, None, None]
    rgba = write_ffv1(tmp_path / "rgba.mkv", images, "rgba", "yuva420p")
    plain = make_video(tmp_path / "plain.mp4", frames=3)
    report = flowkit.batch("retime", [rgba, plain], tmp_path / "out", scheduler=client, **RETIME,
                           progress=False)
    assert report.ok and report.alpha == [str(rgba)]
    monkeypatch.setattr(flowkit, "batch", lambda *args, **kwargs: report)
    assert main(["batch", "retime", str(rgba), str(plain), "-o", str(tmp_path / "out2"), "-q"]) == 0
    err = capsys.readouterr().err
    assert err == (f"flowkit: note: {rgba}: the input's alpha channel (transparency) is not "
                   "written: flowkit reads and writes video without alpha, so the output is opaque\n")


def test_jobs_note_an_odd_size_padded_for_the_encoder(client, tmp_path, monkeypatch, capsys):
    # flowkit flow, predict, retime and translate note that an odd size was padded even for
    # the encoder; batch wrote its .mp4 of a 33x25 input as 34x26 without a word
    images = np.random.default_rng(0).integers(0, 256, (3, 25, 33, 3), dtype=np.uint8)
    odd = write_ffv1(tmp_path / "odd.mkv", images, "rgb24", "yuv420p")
    even = make_video(tmp_path / "even.mp4", frames=3)
    report = flowkit.batch("flow", [odd, even], tmp_path / "out", scheduler=client,
                           progress=False)
    assert report.ok and report.padded == {str(odd): ((33, 25), (34, 26))}
    monkeypatch.setattr(flowkit, "batch", lambda *args, **kwargs: report)
    assert main(["batch", "flow", str(odd), str(even), "-o", str(tmp_path / "out2"), "-q"]) == 0
    err = capsys.readouterr().err
    assert err == (f"flowkit: note: {odd}: padded 33x25 to 34x26 (last row or column repeated) "
                   "for the encoder, which needs an even size; to keep 33x25 run flowkit flow "
                   "with an .mkv output and --codec ffv1, or .webm\n")


def test_retime_job_reports_the_streams_it_does_not_write(client, tmp_path, monkeypatch, capsys):
    # as flowkit retime says of one input (RetimeReport.not_written): a second video stream is
    # not written; the batch report and the command line name it per input (a new user's report:
    # the batch summary said nothing)
    two = tmp_path / "two.mkv"
    container = av.open(str(two), "w")
    streams = [container.add_stream("ffv1", rate=24) for _ in range(2)]
    for stream in streams:
        stream.width, stream.height, stream.pix_fmt = 32, 24, "yuv420p"
    base = np.random.default_rng(8).integers(0, 256, (24, 40, 3), dtype=np.uint8)
    for k in range(3):
        for stream in streams:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(base[:, k:k + 32]), format="rgb24")
            frame.pts = k
            frame.time_base = Fraction(1, 24)
            for packet in stream.encode(frame.reformat(format="yuv420p")):
                container.mux(packet)
    for stream in streams:
        for packet in stream.encode():
            container.mux(packet)
    container.close()
    plain = make_video(tmp_path / "plain.mp4", frames=3)
    report = flowkit.batch("retime", [two, plain], tmp_path / "out", scheduler=client, **RETIME,
                           progress=False)
    assert report.ok and report.not_written == {str(two): ["video"]}
    # the command line prints it, after what it wrote
    monkeypatch.setattr(flowkit, "batch", lambda *args, **kwargs: report)
    assert main(["batch", "retime", str(two), str(plain), "-o", str(tmp_path / "out2"), "-q"]) == 0
    out = capsys.readouterr().out
    assert f"not written: {two}: the input's other streams (1 video)\n" in out
    assert str(plain) + ":" not in out.split("not written")[-1]


def test_relative_paths_are_those_of_the_client(client, clips, tmp_path, monkeypatch):
    # the workers of a cluster started elsewhere (dask worker on another host) have their own
    # working folder: relative paths went to them as given and were read and written there
    # ('no such video file: corpus/a.mp4' on a worker started in another folder)
    monkeypatch.chdir(tmp_path)
    assert str(tmp_path) not in client.run(os.getcwd).values()
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.mkv").write_bytes(clips[0].read_bytes())
    (tmp_path / "in" / "b.mkv").write_bytes(b"not a video")
    report = flowkit.batch("retime", ["in/a.mkv", "in/b.mkv"], "out", scheduler=client,
                           **RETIME, progress=False)
    assert report.done == [Path("out/a.mkv")] and (tmp_path / "out" / "a.mkv").is_file()
    assert list(report.failed) == ["in/b.mkv"]
    message = report.failed["in/b.mkv"]
    assert "in/b.mkv" in message and str(tmp_path) not in message
    report = flowkit.batch("flow", ["in/a.mkv"], "chunked", scheduler=client, chunk_frames=4,
                           progress=False)
    assert report.ok and sorted(os.listdir("chunked")) == ["a.mp4"]


def test_translate_job_matches_the_public_function(client, clips, tmp_path):
    # issue 13's fourth job ('each one present once its issue has landed'; issue 12 landed)
    single = flowkit.translate(clips[0], tmp_path / "single.mkv", "autocontrast", codec="ffv1",
                               progress=False)
    report = flowkit.batch("translate", clips[:1], tmp_path / "t", scheduler=client,
                           op="autocontrast", codec="ffv1", progress=False)
    assert report.ok and report.frames == single["frames"] == 12
    assert same_video(tmp_path / "t" / "clip0.mkv", tmp_path / "single.mkv")
    with pytest.raises(ValueError, match=r"^job_options: op: the translate job needs op= \(a "
                                         r"built-in name: autocontrast, equalize, colorize"):
        flowkit.batch("translate", clips, tmp_path / "o")
    with pytest.raises(ValueError, match=r"^job_options: op: expected a built-in name"):
        flowkit.batch("translate", clips, tmp_path / "o", op="blur")
    with pytest.raises(ValueError, match=r"^job_options: strength: expected"):
        flowkit.batch("translate", clips, tmp_path / "o", op="equalize", strength=2)
    with pytest.raises(ValueError, match=r"^job_options: crf: expected an integer <= 51"):
        flowkit.batch("translate", clips, tmp_path / "o", op="equalize", crf=60)
    with pytest.raises(ValueError, match=r"^chunk_frames: the 'translate' job cannot be split"):
        flowkit.batch("translate", clips, tmp_path / "o", op="equalize", chunk_frames=10)
    assert not (tmp_path / "o").exists()
    code = main(["batch", "translate", str(clips[1]), "-o", str(tmp_path / "cli"), "-O",
                 "op=autocontrast", "-O", "codec=ffv1", "-q"])
    assert code == 0
    flowkit.translate(clips[1], tmp_path / "s1.mkv", "autocontrast", codec="ffv1", progress=False)
    assert same_video(tmp_path / "cli" / "clip1.mkv", tmp_path / "s1.mkv")


def test_the_report_names_the_job_options_in_the_librarys_words(client, tmp_path):
    # flowkit.batch's report said '-O audio: ...', the command line's flag, to a Python caller
    # (from a trial of issue 13); the command line still prints -O (the test above)
    from cases import data_path

    clip = data_path("video", "mediabunny__rotate-buck-bunny.mp4")  # 1.875 s, with audio
    report = flowkit.batch("retime", [clip], tmp_path / "out", scheduler=client, duration=4,
                           audio="copy", method="blend", retries=0, progress=False)
    assert report.failed == {str(clip): "job_options: audio: cannot copy the audio when the "
                                        "duration changes (speed 0.46875); use 'stretch' or "
                                        "'drop'"}
