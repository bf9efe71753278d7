"""The GPU numbers issues 8 and 9 ask for, in one run: ``python benchmarks/bench_gpu.py``.

At 1920x1080 (``--size``) on ``device="cuda"``, each case's first call (seconds: CUDA and CPU
compilation included) and the median [range] of ``--repeat`` later calls (milliseconds),
with the inputs and outputs as CuPy arrays on the GPU where CuPy is installed (no transfers
timed: each call ends with a device synchronisation), else as NumPy arrays (transfers
included, as in Numba's simulator, where ``--size 40x32 --repeat 1`` checks that the script
runs). Issue 8: ``splat`` against ``warp`` of the same image and flow, ``extrapolate`` of an
RGB frame for 12 steps, ``predict`` of 4 frames against one ``farneback`` call on the same
pair. Issue 9: one interpolated frame and 7 (8x slow motion), and ``retime --factor 2`` of a
1080p H.264 clip (``--frames``; output frames per second, decoding and encoding included,
which run on the CPU). The frames are ``flowkit.sample_pair``'s; the clip repeats the pair,
shifted further at each repetition. ``--cpu`` adds the CPU times of the same calls
(``flowkit.set_num_threads``: every core) for scale.

``benchmarks/gpu_check.sh`` runs this script and the test suite on a lent GPU machine.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

import flowkit


def _sync():
    from numba import cuda

    cuda.synchronize()


def _timed(fn, repeats, gpu):
    """``(first call in s, [later calls in ms])``."""
    done = _sync if gpu else (lambda: None)
    start = time.perf_counter()
    fn()
    done()
    first = time.perf_counter() - start
    spent = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        done()
        spent.append((time.perf_counter() - start) * 1e3)
    return first, spent


def _cell(spent):
    return (f"{statistics.median(spent):.2f} [{min(spent):.2f}-{max(spent):.2f}]"
            if spent else "-")


def _cases(f0, f1, gray0, flow):
    """``(name, function, its array arguments)``: ``function(device, *arrays)``."""
    metric = -10 * np.abs(gray0 - np.roll(gray0, 1, axis=1))
    times7 = [k / 8 for k in range(1, 8)]
    return [
        ("warp RGB uint8 (bilinear)", lambda d, i, f: flowkit.warp(i, f, device=d), (f0, flow)),
        ("splat average RGB uint8", lambda d, i, f: flowkit.splat(i, f, device=d), (f0, flow)),
        ("warp gray float32", lambda d, i, f: flowkit.warp(i, f, device=d), (gray0, flow)),
        ("splat average gray float32", lambda d, i, f: flowkit.splat(i, f, device=d),
         (gray0, flow)),
        ("splat softmax gray float32",
         lambda d, i, f, m: flowkit.splat(i, f, mode="softmax", metric=m, device=d),
         (gray0, flow, metric)),
        ("extrapolate RGB uint8, 12 steps",
         lambda d, i, f: flowkit.extrapolate(i, f, 12, device=d), (f0, flow)),
        ("farneback RGB uint8 pair", lambda d, a, b: flowkit.farneback(a, b, device=d), (f0, f1)),
        ("dis (medium) RGB uint8 pair", lambda d, a, b: flowkit.dis(a, b, device=d), (f0, f1)),
        ("predict 4 frames from 2 (defaults)",
         lambda d, a, b: flowkit.predict(_stack(a, b), 4, device=d), (f0, f1)),
        ("interpolate t = 0.5 (defaults)",
         lambda d, a, b: flowkit.interpolate(a, b, 0.5, device=d), (f0, f1)),
        ("interpolate 7 values of t (defaults)",
         lambda d, a, b: flowkit.interpolate(a, b, times7, device=d), (f0, f1)),
    ]


def _stack(a, b):
    xp = sys.modules["cupy"] if hasattr(a, "__cuda_array_interface__") else np
    return xp.stack([a, b])


def _ratios(rows):
    """The issues' ratios from the medians of ``rows`` (name -> ms)."""
    pairs = [("splat average RGB uint8", "warp RGB uint8 (bilinear)"),
             ("splat average gray float32", "warp gray float32"),
             ("splat softmax gray float32", "warp gray float32"),
             ("predict 4 frames from 2 (defaults)", "farneback RGB uint8 pair"),
             ("interpolate 7 values of t (defaults)", "interpolate t = 0.5 (defaults)")]
    return [(a, b, rows[a] / rows[b]) for a, b in pairs if rows.get(a) and rows.get(b)]


def _clip(path, f0, f1, frames):
    """An H.264 clip (crf 16, 24 fps) of ``frames`` frames: the sample pair, shifted 8 px to
    the right at each repetition."""
    images = [np.roll(f, 8 * (k // 2), axis=1) for k, f in zip(range(frames), [f0, f1] * frames)]
    flowkit.video.write_video(path, images, 24, crf=16)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="1920x1080", help="WxH (default 1920x1080)")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--frames", type=int, default=24, help="retime's clip length (0: skip)")
    parser.add_argument("--cpu", action="store_true", help="also time the CPU path")
    args = parser.parse_args(argv)
    try:
        w, h = map(int, args.size.lower().split("x"))
    except ValueError:
        parser.error(f"--size: WxH such as 1920x1080, got {args.size!r}")
    simulated = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
    from numba import cuda

    if not cuda.is_available():
        sys.exit("no CUDA GPU (numba.cuda.is_available() is False)")
    try:
        import cupy

        to_device = cupy.asarray
    except ImportError:
        cupy = None
        to_device = lambda a: a  # noqa: E731 (NumPy in, device="cuda": transfers timed)
    device_name = "Numba's CUDA simulator" if simulated else cuda.get_current_device().name
    if isinstance(device_name, bytes):
        device_name = device_name.decode()
    if args.cpu:
        flowkit.set_num_threads(os.cpu_count())
    print(f"{device_name}; flowkit {flowkit.__version__}; {w}x{h}; inputs "
          f"{'CuPy' if cupy else 'NumPy (transfers timed)'}; first call s, then ms: median "
          f"[range] of {args.repeat}"
          + (f"; CPU at {flowkit.get_num_threads()} threads" if args.cpu else ""))
    f0, f1, _ = flowkit.sample_pair(h, w)
    gray0 = (f0[..., 1] / np.float32(255)).astype(np.float32)
    flow = flowkit.dis(f0, f1)
    header = "| case | GPU first call s | GPU ms |" + (" CPU ms |" if args.cpu else "")
    print(header)
    print("|---|---|---|" + ("---|" if args.cpu else ""))
    medians = {}
    for name, fn, arrays in _cases(f0, f1, gray0, flow):
        on_gpu = [to_device(a) for a in arrays]
        try:
            first, spent = _timed(lambda: fn("cuda", *on_gpu), args.repeat, gpu=True)
            medians[name] = statistics.median(spent) if spent else None
            row = f"| {name} | {first:.2f} | {_cell(spent)} |"
        except Exception as error:  # report and go on: one run must give every number it can
            row = f"| {name} | failed: {type(error).__name__}: {error} | |"
        if args.cpu:
            spent = _timed(lambda: fn("cpu", *arrays), max(1, args.repeat // 3), gpu=False)[1]
            row += f" {_cell(spent)} |"
        print(row, flush=True)
    for a, b, ratio in _ratios(medians):
        print(f"{a} / {b}: {ratio:.2f}")
    if args.frames:
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = os.path.join(tmp, "clip.mp4"), os.path.join(tmp, "out.mp4")
            _clip(src, f0, f1, args.frames)
            for attempt in ("first (compiles)", "second"):
                start = time.perf_counter()
                flowkit.retime(src, dst, factor=2, device="cuda")
                spent = time.perf_counter() - start
                written = flowkit.video.probe_video(dst).frame_count
                print(f"retime --factor 2 --device cuda, {args.frames} frames {w}x{h}, {attempt}: "
                      f"{written} frames in {spent:.1f} s, {written / spent:.1f} output fps")


if __name__ == "__main__":
    main()
