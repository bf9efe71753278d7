"""Farneback flow beside cv2.calcOpticalFlowFarneback at equal thread counts.

Run: ``pytest benchmarks/bench_farneback.py --benchmark-only``; ``python
benchmarks/bench_farneback.py [threads]`` prints a per-stage profile and ``python
benchmarks/bench_farneback.py accuracy`` the accuracy tables. Each group holds, for one
frame size, OpenCV and flowkit with OpenCV's tutorial settings (pyr_scale 0.5, levels 3,
winsize 15, iterations 3, poly_n 5, poly_sigma 1.2, box window) on a uint8 gray pair: a
smooth texture and its warp by a smooth flow of a few pixels. ``flowkit-reuse`` is the
``Farneback`` object of a video loop (buffers kept between calls); ``flowkit`` is the
function (buffers allocated per call).
"""

import flowkit

import cv2
import numpy as np
import pytest
from conftest import SIZES, THREADS, exit_if_skipped, run

TUTORIAL = dict(pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2)


def _pair(size):
    h, w = SIZES[size]
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.random((h, w), dtype=np.float32), (0, 0), 2.0)
    texture = cv2.normalize(texture, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    small = rng.standard_normal((h // 32 + 1, w // 32 + 1, 2)).astype(np.float32)
    flow = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC) * 3
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    frame1 = cv2.remap(texture, gx - flow[..., 0], gy - flow[..., 1], cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REFLECT)
    return texture, frame1


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("impl", ["opencv", "flowkit", "flowkit-reuse"])
def test_farneback_tutorial(benchmark, impl, size):
    f0, f1 = _pair(size)
    benchmark.group = f"farneback {size} uint8 gray"
    if impl == "opencv":
        o = TUTORIAL
        fn = lambda: cv2.calcOpticalFlowFarneback(f0, f1, None, o["pyr_scale"], o["levels"],
                                                  o["winsize"], o["iterations"], o["poly_n"],
                                                  o["poly_sigma"], 0)
    elif impl == "flowkit":
        fn = lambda: flowkit.farneback(f0, f1, **TUTORIAL)
    else:
        runner = flowkit.Farneback(**TUTORIAL)
        fn = lambda: runner(f0, f1)
    run(benchmark, fn, rounds=10, warmup_rounds=2)


def _profile(threads=THREADS, repeats=5):
    """Print where the time goes: flowkit's stages beside OpenCV, per size (median ms)."""
    import time

    from flowkit.kernels import farneback as fb

    flowkit.set_num_threads(threads)
    cv2.setNumThreads(threads)
    stages = {"expand_all_cpu": "pyramids + expansions",
              "iterate_cpu": "iterations (incl. flow upsampling)"}
    spent = {}
    originals = {name: getattr(fb, name) for name in stages}

    def timed(name):
        def call(*args):
            t = time.perf_counter()
            out = originals[name](*args)
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - t
            return out
        return call

    print(f"threads={threads}; median of {repeats} runs, ms")
    print("| size | OpenCV | flowkit | ratio | " + " | ".join(stages.values()) + " | rest |")
    print("|---|---|---|---|" + "---|" * (len(stages) + 1))
    for size in SIZES:
        f0, f1 = _pair(size)
        runner = flowkit.Farneback(**TUTORIAL)
        o = TUTORIAL
        ref = lambda: cv2.calcOpticalFlowFarneback(f0, f1, None, o["pyr_scale"], o["levels"],
                                                   o["winsize"], o["iterations"], o["poly_n"],
                                                   o["poly_sigma"], 0)
        runner(f0, f1)
        ref()
        ours, theirs, parts = [], [], []
        for _ in range(repeats):
            t = time.perf_counter()
            ref()
            theirs.append(time.perf_counter() - t)
            for name in stages:
                setattr(fb, name, timed(name))
            spent.clear()
            t = time.perf_counter()
            runner(f0, f1)
            ours.append(time.perf_counter() - t)
            for name in stages:
                setattr(fb, name, originals[name])
            parts.append(dict(spent))
        k = int(np.argsort(ours)[len(ours) // 2])
        a, b = np.median(theirs) * 1e3, ours[k] * 1e3
        cells = [parts[k].get(name, 0.0) * 1e3 for name in stages]
        print(f"| {size} | {a:.1f} | {b:.1f} | {b / a:.2f} | "
              + " | ".join(f"{c:.1f}" for c in cells) + f" | {b - sum(cells):.1f} |")


def _accuracy():
    """Print the accuracy tables of docs/accuracy.md (Farneback section) (needs ../shared/data)."""
    import pathlib
    import sys

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
    from cases import ground_truth_case

    def epe(flow, gt, valid):
        return np.linalg.norm(flow.astype(np.float64) - gt, axis=-1)[valid].mean()

    o = TUTORIAL
    args = (o["pyr_scale"], o["levels"], o["winsize"], o["iterations"], o["poly_n"],
            o["poly_sigma"], 0)
    print("| case | size | flowkit | OpenCV Farneback | OpenCV DIS (medium) "
          "| mean \\|flowkit - OpenCV\\| (px) | max (px) |")
    print("|---|---|---|---|---|---|---|")
    for name in ("RubberWhale", "Venus", "Yosemite", "Sintel-alley_1"):
        f0, f1, gt, valid = ground_truth_case(name)
        ours = flowkit.farneback(f0, f1, normalize=False, **TUTORIAL)  # parity: OpenCV's reading
        ref = cv2.calcOpticalFlowFarneback(f0, f1, None, *args)
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(f0, f1, None)
        d = np.linalg.norm(ours - ref, axis=-1)
        print(f"| {name} | {f0.shape[1]}x{f0.shape[0]} | {epe(ours, gt, valid):.4f} "
              f"| {epe(ref, gt, valid):.4f} | {epe(dis, gt, valid):.4f} | {d.mean():.2e} "
              f"| {d.max():.2e} |")
    print()
    print("| case | input | flowkit EPE | OpenCV Farneback EPE |")
    print("|---|---|---|---|")
    for name in ("RubberWhale", "Yosemite"):
        f0, f1, gt, valid = ground_truth_case(name)
        for label, a, b in (("uint8", f0, f1),
                            ("uint16 (x257)", f0.astype(np.uint16) * 257,
                             f1.astype(np.uint16) * 257),
                            ("float32 in [0, 1]", f0.astype(np.float32) / 255,
                             f1.astype(np.float32) / 255)):
            theirs = epe(cv2.calcOpticalFlowFarneback(a, b, None, *args), gt, valid)
            ours = epe(flowkit.farneback(a, b, normalize=False), gt, valid)
            print(f"| {name} | {label} | {ours:.4f} "
                  f"| {theirs:.4f} |")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[1])
    parser.add_argument("threads", nargs="?", default=str(THREADS),
                        help="the profile's thread count for both libraries (default "
                        "FLOWKIT_BENCH_THREADS, 2), or accuracy: the accuracy tables")
    args = parser.parse_args()
    if args.threads == "accuracy":
        exit_if_skipped(_accuracy)
    elif not args.threads.isdigit() or int(args.threads) < 1:
        parser.error(f"threads: a positive integer or accuracy, got {args.threads!r}")
    else:
        _profile(int(args.threads))
