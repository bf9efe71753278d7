"""``flowkit retime --factor 2`` against FFmpeg's ``minterpolate`` on one 1280x720 clip: time per
output frame (decode and encode included) and PSNR of interpolated frames against held-out ones.

    python benchmarks/bench_retime.py [--frames 30] [--repeat 3] [--threads 2] [--profile] [--floor]

The clip: frames of ``mediabunny__rotate-buck-bunny.mp4`` (Big Buck Bunny, 1920x1080 H.264,
24 fps) from frame 12, in coded orientation, resized to 1280x720 (area) and encoded with PyAV's
libx264 (crf 16) into a temporary file; ``--frames`` of them (30: 1.25 s).

Speed: both read that file, double its rate to 48 fps and write H.264 (libx264, crf 18) to a
file: ``flowkit.retime(clip, out, factor=2)`` (defaults: project with bicubic detail, DIS medium flow) and a PyAV decode -> filter graph ``minterpolate=fps=48:mi_mode=mci:mc_mode=aobmc:
me_mode=bidir`` -> libx264 encode loop (minterpolate is single-threaded; FFmpeg's decoder and
x264 use their default threads in both). flowkit runs on ``--threads`` Numba threads. Runs are
interleaved, seconds per output frame reported as median [min-max] over ``--repeat`` runs, after
one warm-up run of flowkit (JIT compilation excluded). Four more flowkit rows, labelled as
such: ``method="splat"`` (the default before 2026-12-01), ``interpolation="linear"``
(bilinear sampling, the default before stop 30), DIS's ``ultrafast`` preset, and Farneback
with interpolate's options (the default before DIS).

Quality: every other frame of the clip is dropped (a 12 fps clip of the even frames), each
tool retimes it back to 24 fps, and the frames it generates at odd positions are compared with
the dropped frames (PSNR in dB of the decoded output against the decoded clip; both outputs
went through the same x264 encoding). ``--profile`` splits flowkit's time into decode, flow,
the rest of interpolation (warps, splats, blending, fill) and encode.

``--floor``: whether the goal "retime --factor 2 at least 5x faster than minterpolate per output
frame, decode and encode included" can be met at all. Interleaved with flowkit and
minterpolate in each timed run (the other flowkit rows and the quality part are skipped):
retime's decoding alone (the clip to its YUV 4:4:4 planes, as retime decodes it) and retime's
encoding alone (the frames of flowkit's warm-up output, as YUV planes, through retime's writer:
libx264 crf 18, yuv420p), both per output frame. If encoding alone takes more than a fifth of
minterpolate's time per output frame, no retime that writes the same H.264 can be 5x faster.
"""

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("FLOWKIT_DATA", HERE.parents[1] / "shared" / "data"))
SOURCE = DATA / "video" / "mediabunny__rotate-buck-bunny.mp4"
SIZE = (1280, 720)
FIRST = 12  # the clip fades in from black over its first frames
MINTERPOLATE = "mi_mode=mci:mc_mode=aobmc:me_mode=bidir"


def make_clip(path, frames, fps):
    import flowkit

    with flowkit.VideoWriter(path, fps, codec="libx264", crf=16) as writer:
        for frame in frames:
            writer.write(frame)
    return path


def source_frames(count):
    import cv2

    from flowkit.video import decode, open_input

    container, stream = open_input(SOURCE)
    try:
        frames = itertools.islice(decode(container, stream, upright=False), FIRST, FIRST + count)
        return [cv2.resize(f, SIZE, interpolation=cv2.INTER_AREA) for _, f in frames]
    finally:
        container.close()


def minterpolate(src, dst, fps):
    """Decode ``src``, minterpolate to ``fps``, encode libx264 crf 18 into ``dst``; frames written."""
    import av

    written = 0
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        stream = inp.streams.video[0]
        stream.thread_type = "AUTO"
        encoder = out.add_stream("libx264", rate=fps)
        encoder.width, encoder.height = stream.codec_context.width, stream.codec_context.height
        encoder.pix_fmt = "yuv420p"
        encoder.codec_context.time_base = 1 / Fraction(fps)
        encoder.options = {"crf": "18"}
        graph = av.filter.Graph()
        buffer = graph.add_buffer(template=stream)
        node = graph.add("minterpolate", f"fps={fps}:{MINTERPOLATE}")
        sink = graph.add("buffersink")
        buffer.link_to(node)
        node.link_to(sink)
        graph.configure()

        def drain():
            nonlocal written
            while True:
                try:
                    frame = graph.pull()
                except (av.error.BlockingIOError, av.error.EOFError):
                    return
                frame.pts = written
                frame.time_base = 1 / Fraction(fps)
                out.mux(encoder.encode(frame))
                written += 1

        for frame in inp.decode(stream):
            graph.push(frame)
            drain()
        graph.push(None)
        drain()
        out.mux(encoder.encode(None))
    return written


def flowkit_retime(src, dst, factor, **options):
    import flowkit

    return flowkit.retime(src, dst, factor=factor, progress=False, **options).frames


def psnr_by_frame(output, truth_frames):
    """PSNR of each output frame k (time k / 24 s) against truth frame k, as a dict."""
    import flowkit
    from flowkit import metrics

    scores = {}
    for k, (time_, frame) in enumerate(flowkit.iter_frames(output, timestamps=True)):
        assert time_ * 24 == k, (time_, k)
        if k < len(truth_frames):
            scores[k] = metrics.psnr(frame, truth_frames[k])
    return scores


def profile(clip, frames, out):
    """Seconds of flowkit's stages on the clip: decode, flows, rest of interpolate, encode."""
    import flowkit

    t = time.perf_counter()
    decoded = list(flowkit.iter_frames(clip))
    decode_s = time.perf_counter() - t
    t = time.perf_counter()
    for a, b in zip(decoded, decoded[1:]):
        flowkit.dis(a, b)
        flowkit.dis(b, a)
    flow_s = time.perf_counter() - t
    t = time.perf_counter()
    middles = [flowkit.interpolate(a, b, 0.5) for a, b in zip(decoded, decoded[1:])]
    interpolate_s = time.perf_counter() - t
    t = time.perf_counter()
    with flowkit.VideoWriter(out, 48, codec="libx264", crf=18) as writer:
        for frame, middle in itertools.zip_longest(decoded, middles):
            writer.write(frame)
            writer.write(frame if middle is None else middle)
    encode_s = time.perf_counter() - t
    t = time.perf_counter()
    flowkit_retime(clip, out, 2)
    total_s = time.perf_counter() - t
    return {"decode": decode_s, "flow (2 per pair)": flow_s,
            "interpolate minus flow": interpolate_s - flow_s, "encode": encode_s,
            "retime total": total_s}


def decode_alone(src):
    """retime's decoding of ``src`` alone (PyAV, to the YUV 4:4:4 planes it works on): frames."""
    from flowkit.video import decode, open_input

    container, stream = open_input(src)
    try:
        return sum(1 for _ in decode(container, stream, upright=False, frame_format="yuv444p"))
    finally:
        container.close()


def yuv_frames(path):
    """The frames of ``path`` as retime holds them (YUV 4:4:4 planes, coded orientation)."""
    from flowkit.video import decode, open_input

    container, stream = open_input(path)
    try:
        return [f for _, f in decode(container, stream, upright=False, frame_format="yuv444p")]
    finally:
        container.close()


def encode_alone(frames, dst, fps):
    """retime's encoding alone: YUV 4:4:4 ``frames`` through its writer (libx264 crf 18,
    yuv420p): frames written."""
    import flowkit

    with flowkit.VideoWriter(dst, fps, codec="libx264", crf=18, pix_fmt="yuv420p",
                             frame_format="yuv444p") as writer:
        for frame in frames:
            writer.write(frame)
    return writer.frame_count


def summary(values):
    return f"{statistics.median(values):.3f} [{min(values):.3f}-{max(values):.3f}]"


def floor_report(times, counts):
    """``--floor``: s per output frame of each row, and per run the ratios that decide the goal."""
    for name, values in times.items():
        print(f"{name:14s} {counts[name]:3d} output frames  s per output frame: {summary(values)}")
    runs = list(zip(times["flowkit"], times["minterpolate"], times["decode alone"],
                    times["encode alone"]))
    rows = {"minterpolate / flowkit": [m / f for f, m, d, e in runs],
            "encode alone / minterpolate (goal needs <= 0.2)": [e / m for f, m, d, e in runs],
            "(decode + encode) / minterpolate": [(d + e) / m for f, m, d, e in runs],
            "minterpolate / (decode + encode): the most any retime can be faster":
                [m / (d + e) for f, m, d, e in runs]}
    for name, values in rows.items():
        print(f"{name}, per run: {summary(values)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs (0: quality only)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--floor", action="store_true",
                        help="time retime's decoding and encoding alone beside minterpolate")
    args = parser.parse_args()
    if not SOURCE.exists():
        sys.exit(f"bench_retime: {SOURCE} not found (set FLOWKIT_DATA to ../shared/data)")
    import flowkit

    flowkit.set_num_threads(args.threads)
    frames = source_frames(args.frames)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        clip = make_clip(folder / "clip.mp4", frames, 24)
        half = make_clip(folder / "half.mp4", frames[::2], 12)
        truth = list(flowkit.iter_frames(clip))
        print(f"clip: {len(truth)} frames {SIZE[0]}x{SIZE[1]} at 24 fps -> 48 fps; "
              f"{args.threads} Numba threads; load average {os.getloadavg()[0]:.1f}")
        if args.repeat or args.floor:
            flowkit_retime(clip, folder / "warm.mp4", 2)  # compile or load the kernels
        runs = {"flowkit": lambda src, dst, fps: flowkit_retime(src, dst, 2),
                "flowkit, splat": lambda src, dst, fps: flowkit_retime(src, dst, 2, method="splat"),
                "flowkit, linear": lambda src, dst, fps: flowkit_retime(
                    src, dst, 2, interpolation="linear"),
                "flowkit, dis ultrafast": lambda src, dst, fps: flowkit_retime(
                    src, dst, 2, flow_options={"preset": "ultrafast"}),
                "flowkit, farneback": lambda src, dst, fps: flowkit_retime(
                    src, dst, 2, flow="farneback"),
                "minterpolate": minterpolate}
        if args.floor:
            output = yuv_frames(folder / "warm.mp4")
            runs = {"flowkit": runs["flowkit"], "minterpolate": minterpolate,
                    "decode alone": lambda src, dst, fps: decode_alone(src) and len(output),
                    "encode alone": lambda src, dst, fps: encode_alone(output, dst, fps)}
        times = {name: [] for name in runs}
        counts = {}
        for _ in range(args.repeat):
            for name, run in runs.items():
                t = time.perf_counter()
                counts[name] = run(clip, folder / "out.mp4", 48)
                times[name].append((time.perf_counter() - t) / counts[name])
        if args.floor:
            floor_report(times, counts)
            return
        scores = {}
        for name, run in runs.items():
            run(half, folder / "half_out.mp4", 24)
            scores[name] = psnr_by_frame(folder / "half_out.mp4", truth)
        # the generated (odd) frames every tool wrote; the kept (even) frames show what the
        # decode -> encode path alone costs
        common = set.intersection(*(set(s) for s in scores.values()))
        last = 2 * (len(frames[::2]) - 1)  # after the last kept frame nothing is interpolated
        odd = sorted(k for k in common if k % 2 and k < last)
        even = sorted(k for k in common if k % 2 == 0)
        print(f"PSNR over the {len(odd)} generated frames {odd[0]}..{odd[-1]} every tool wrote, and "
              f"over the {len(even)} kept frames")
        print(f"{'':22s} {'output frames':>13s} {'s per output frame, median [range]':>36s} "
              f"{'PSNR generated (dB)':>20s} {'PSNR kept (dB)':>15s}")
        for name in runs:
            generated = np.mean([scores[name][k] for k in odd])
            kept = np.mean([scores[name][k] for k in even])
            timing = summary(times[name]) if times[name] else "-"
            print(f"{name:22s} {counts.get(name, 0):13d} {timing:>36s} {generated:20.2f} {kept:15.2f}")
        for name in ("flowkit", "flowkit, splat", "flowkit, linear", "flowkit, dis ultrafast",
                     "flowkit, farneback"):
            if not times[name]:
                break
            ratios = [m / f for f, m in zip(times[name], times["minterpolate"])]
            print(f"minterpolate / {name} time per output frame, per run: median "
                  f"{statistics.median(ratios):.2f} [{min(ratios):.2f}-{max(ratios):.2f}]")
        if args.profile:
            for stage, seconds in profile(clip, truth, folder / "p.mp4").items():
                print(f"  {stage:24s} {seconds:7.2f} s")


if __name__ == "__main__":
    main()
