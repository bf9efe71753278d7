"""Throughput of ``flowkit batch retime`` (issue 13's goal) on this machine.

    python benchmarks/bench_batch.py [--frames N] [--copies 8] [--factor 2]

The input: ``--copies`` symlinks to one clip, ``video/car_traffic_small.mp4`` in the shared data
(``FLOWKIT_DATA``, default ``../shared/data``; 640x360 H.264, 30 fps), or with ``--frames N`` to
a cut of its first N frames (decoded and encoded once with libx264 crf 18 into a temporary
folder: the whole clip takes minutes per copy on this 2-core VM). Three ways of retiming all
copies (``factor=2``, retime's defaults), each in a fresh Python process with a warm Numba cache
(one untimed warm-up retime first), wall clock from the start of the process to the last output,
cluster start included:

- ``2 workers x 1 thread``: ``flowkit batch`` on a LocalCluster of two processes;
- ``1 worker x 1 thread``: the same with one process;
- ``sequential, N threads``: ``flowkit.retime`` over the files one after another in one process
  with all the kernel threads (N: Numba's default, every core; 2 on the 2-core VM).

Prints frames per second of each and the ratios the goal names: 2-worker / 1-worker throughput
(goal >= 1.7) and 2-worker / sequential (goal >= 1.0). The machine is shared: the load average
is printed before and after.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(os.environ.get("FLOWKIT_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
CLIP = DATA / "video" / "car_traffic_small.mp4"

CHILD = """
import json, sys, time
t0 = time.perf_counter()
import flowkit
mode, files, out, factor = sys.argv[1], sys.argv[2:-2], sys.argv[-2], int(sys.argv[-1])
if mode == "sequential":
    frames = 0
    for f in files:
        frames += flowkit.retime(f, out + "/" + f.rsplit("/", 1)[-1], factor=factor, progress=False).frames
else:
    workers = int(mode)
    report = flowkit.batch("retime", files, out, workers=workers, threads_per_worker=1,
                           progress=False, factor=factor)
    assert report.ok, report.failed
    frames = report.frames
print(json.dumps({"frames": frames, "seconds": time.perf_counter() - t0,
                  "threads": flowkit.get_num_threads()}))
"""


def cut(clip, frames, folder):
    """The first ``frames`` frames of ``clip`` as H.264 (crf 18) in ``folder``."""
    import itertools

    import flowkit
    from flowkit.video import probe_video

    path = Path(folder) / f"{clip.stem}_{frames}.mp4"
    with flowkit.VideoWriter(path, probe_video(clip).frame_rate, crf=18) as writer:
        for frame in itertools.islice(flowkit.iter_frames(clip), frames):
            writer.write(frame)
    return path


def run(mode, files, out, factor):
    out.mkdir()
    done = subprocess.run([sys.executable, "-c", CHILD, mode, *map(str, files), str(out), str(factor)],
                          capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, help="use a cut of the first N frames of the clip")
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--factor", type=int, default=2)
    parser.add_argument("--modes", default="2,1,sequential",
                        help="which runs, in order (default 2,1,sequential)")
    args = parser.parse_args()
    labels = {"2": "2 workers x 1 thread", "1": "1 worker x 1 thread",
              "sequential": "sequential, all threads"}
    unknown = [mode for mode in args.modes.split(",") if mode not in labels]
    if unknown:
        parser.error(f"--modes: a comma-separated list of 2, 1, sequential, got {args.modes!r}")
    if not CLIP.exists():
        sys.exit(f"shared clip absent: {CLIP} (set FLOWKIT_DATA to the shared data folder)")
    with tempfile.TemporaryDirectory(prefix="bench_batch_") as tmp:
        tmp = Path(tmp)
        source = cut(CLIP, args.frames, tmp) if args.frames else CLIP
        inputs = tmp / "inputs"
        inputs.mkdir()
        files = []
        for i in range(args.copies):
            link = inputs / f"copy{i}.mp4"
            link.symlink_to(source)
            files.append(link)
        run("sequential", files[:1], tmp / "warmup", args.factor)  # fills the Numba cache
        print(f"{args.copies} x {source.name}, factor {args.factor}; load average before: "
              f"{os.getloadavg()}", flush=True)
        results = {}
        for mode in args.modes.split(","):
            label = labels[mode]
            start = time.strftime("%H:%M:%S", time.gmtime())
            result = run(mode, files, tmp / mode, args.factor)
            if mode == "sequential":  # the kernel threads the child had: every core
                label = labels[mode] = f"sequential, {result['threads']} threads"
            results[mode] = result["frames"] / result["seconds"]
            print(f"{label:24s} {result['frames']} frames in {result['seconds']:.1f} s = "
                  f"{results[mode]:.2f} frames/s (started {start} UTC, load {os.getloadavg()[0]:.1f})",
                  flush=True)
        if {"1", "2"} <= set(results):
            print(f"2-worker / 1-worker throughput: {results['2'] / results['1']:.2f} (goal >= 1.7)")
        if {"2", "sequential"} <= set(results):
            print(f"2-worker / {labels['sequential']}: {results['2'] / results['sequential']:.2f} "
                  f"(goal >= 1.0)")
        print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
