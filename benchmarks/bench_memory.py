"""Memory while streaming long videos: peak RSS after 100 frames against after 10 000 frames.

    python benchmarks/bench_memory.py [--frames 10000] [--size 160x90]

Each streaming job runs in a fresh process twice, over the first 100 frames and over the first
``--frames`` frames of one long input, and the script prints both processes' peak resident set
size (``ru_maxrss``) and the growth. The goal (open issue "Hardening and speed", part 4) is a
growth under 50 MB from frame 100 to frame 10 000. The jobs:

* ``io``: ``iter_frames`` -> ``VideoWriter`` (libx264), decode and encode only.
* ``farneback_video``: the Farneback flow of every consecutive pair (``iter_frames`` in,
  each flow consumed and dropped).
* ``retime``: ``flowkit.retime(factor=2)`` with its defaults (DIS flow, method "project"), the first
  N frames taken with ``segment=(0, N / fps), trim=True``.

The long input is the shared traffic clip (``car_traffic_small.mp4``, 640x360, 30 fps, 916
frames) resized to ``--size`` and looped to ``--frames`` frames into a temporary H.264 file.
A small size keeps the run to minutes on two cores; a leak of one frame per frame would still
show as ``frames x frame bytes`` (10 000 x 43 kB = 430 MB at 160x90 RGB).
"""

import argparse
import itertools
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("FLOWKIT_DATA", HERE.parents[1] / "shared" / "data"))
SOURCE = DATA / "video" / "car_traffic_small.mp4"
FPS = 30
JOBS = ("io", "farneback_video", "retime")


def make_long_clip(path, frames, size):
    """The traffic clip resized to ``size`` and looped to ``frames`` frames (H.264, 30 fps)."""
    import flowkit

    loop = list(flowkit.iter_frames(SOURCE, resize=size))
    with flowkit.VideoWriter(path, FPS, codec="libx264", crf=23) as writer:
        for frame in itertools.islice(itertools.cycle(loop), frames):
            writer.write(frame)


def run_job(job, clip, frames, out_dir):
    """One job over the first ``frames`` frames of ``clip`` (in this process)."""
    from fractions import Fraction

    import flowkit

    if job == "io":
        with flowkit.VideoWriter(Path(out_dir) / "io.mp4", FPS, codec="libx264") as writer:
            for frame in itertools.islice(flowkit.iter_frames(clip), frames):
                writer.write(frame)
    elif job == "farneback_video":
        for _ in flowkit.farneback_video(itertools.islice(flowkit.iter_frames(clip), frames)):
            pass
    else:
        flowkit.retime(clip, Path(out_dir) / "retime.mp4", factor=2,
                       segment=(0, Fraction(frames, FPS)), trim=True, progress=False)


def child(job, clip, frames, out_dir):
    start = time.perf_counter()
    run_job(job, clip, frames, out_dir)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB -> MB on Linux
    print(f"{peak:.1f} {time.perf_counter() - start:.1f}")


def measure(job, clip, frames, out_dir):
    result = subprocess.run([sys.executable, __file__, "--child", job, str(clip), str(frames), out_dir],
                            capture_output=True, text=True, check=True)
    peak, seconds = result.stdout.split()[-2:]
    return float(peak), float(seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--size", default="160x90", help="WxH of the looped clip (default 160x90)")
    parser.add_argument("--jobs", nargs="+", choices=JOBS, default=list(JOBS))
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        job, clip, frames, out_dir = args.child
        child(job, clip, int(frames), out_dir)
        return
    if not SOURCE.exists():
        sys.exit(f"skipped: {SOURCE} not found (set FLOWKIT_DATA to the shared data folder)")
    try:
        size = tuple(int(v) for v in args.size.lower().split("x"))
    except ValueError:
        size = ()
    if len(size) != 2:
        parser.error(f"--size: WxH such as 160x90, got {args.size!r}")
    with tempfile.TemporaryDirectory() as out_dir:
        clip = Path(out_dir) / "long.mp4"
        make_long_clip(clip, args.frames, size)
        measure("io", clip, 2, out_dir)  # compile the kernels first: JIT memory is not the stream's
        for job in args.jobs:
            measure(job, clip, 2, out_dir)
        print(f"peak RSS, MB, {size[0]}x{size[1]} frames, one fresh process per row")
        print(f"{'job':<16} {'100 frames':>11} {f'{args.frames} frames':>13} {'growth':>8} {'seconds':>8}")
        for job in args.jobs:
            short, _ = measure(job, clip, 100, out_dir)
            long, seconds = measure(job, clip, args.frames, out_dir)
            print(f"{job:<16} {short:>11.1f} {long:>13.1f} {long - short:>8.1f} {seconds:>8.1f}")


if __name__ == "__main__":
    main()
