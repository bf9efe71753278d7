"""smooth_flow beside OpenCV at equal thread counts.

Run: ``pytest benchmarks/bench_smooth.py --benchmark-only`` (both libraries on 2 threads;
``FLOWKIT_BENCH_THREADS=1`` for another count). Each group holds flowkit and its peer for one
method and size:

* gaussian (5x5): ``cv2.GaussianBlur`` on the (H, W, 2) float32 flow (OpenCV filters both
  channels in one call), ``BORDER_REPLICATE``.
* median (5x5): ``cv2.medianBlur`` on the (H, W, 2) float32 flow (float32 is supported for
  ksize 3 and 5 only).
* bilateral (5x5): ``cv2.bilateralFilter`` (d=5) on each component (it takes 1 or 3 float
  channels and is guided by its own input, not by an image): context only, not the same filter.
"""

import os

import cv2
import numpy as np
import pytest

import flowkit
from flowkit import smooth_flow

THREADS = int(os.environ.get("FLOWKIT_BENCH_THREADS", "2"))
SIZES = {"640x480": (480, 640), "1280x720": (720, 1280), "1920x1080": (1080, 1920)}


@pytest.fixture(scope="module", autouse=True)
def _threads():
    flowkit.set_num_threads(THREADS)
    cv2.setNumThreads(THREADS)


def _case(name):
    h, w = SIZES[name]
    rng = np.random.default_rng(0)
    small = rng.standard_normal((h // 8, w // 8, 2)).astype(np.float32)
    flow = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC) * 4
    flow += 0.2 * rng.standard_normal((h, w, 2)).astype(np.float32)
    image = rng.integers(0, 256, (h, w), dtype=np.uint8)
    return np.ascontiguousarray(flow), image


def _run(benchmark, fn):
    fn()  # warm-up: JIT compilation (or cache load) excluded
    benchmark.pedantic(fn, rounds=15, iterations=1, warmup_rounds=2)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("impl", ["flowkit", "opencv"])
def test_gaussian(benchmark, impl, size):
    flow, _ = _case(size)
    benchmark.group = f"gaussian 5x5 {size}"
    if impl == "flowkit":
        fn = lambda: smooth_flow(flow, method="gaussian", size=5)
    else:
        fn = lambda: cv2.GaussianBlur(flow, (5, 5), 0, borderType=cv2.BORDER_REPLICATE)
    _run(benchmark, fn)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("impl", ["flowkit", "opencv"])
def test_median(benchmark, impl, size):
    flow, _ = _case(size)
    benchmark.group = f"median 5x5 {size}"
    if impl == "flowkit":
        fn = lambda: smooth_flow(flow, method="median", size=5)
    else:
        fn = lambda: cv2.medianBlur(flow, 5)
    _run(benchmark, fn)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("impl", ["flowkit", "opencv"])
def test_bilateral(benchmark, impl, size):
    flow, image = _case(size)
    benchmark.group = f"bilateral 5x5 {size} (context only)"
    if impl == "flowkit":
        fn = lambda: smooth_flow(flow, method="bilateral", size=5, guide=image)
    else:
        u = np.ascontiguousarray(flow[..., 0])
        v = np.ascontiguousarray(flow[..., 1])
        fn = lambda: (cv2.bilateralFilter(u, 5, 1.0, 1.1), cv2.bilateralFilter(v, 5, 1.0, 1.1))
    _run(benchmark, fn)


def _summarise(paths):
    """Markdown table from several ``--benchmark-json`` files: per group, the median time of
    each implementation (median over runs) and the flowkit / OpenCV ratio (median and range)."""
    import json
    import statistics

    runs = [json.load(open(p))["benchmarks"] for p in paths]
    groups = {}
    for run in runs:
        per_group = {}
        for b in run:
            per_group.setdefault(b["group"], {})[b["params"]["impl"]] = b["stats"]["median"] * 1e3
        for group, t in per_group.items():
            groups.setdefault(group, []).append(t)
    print(f"| group | flowkit ms | OpenCV ms | ratio flowkit/OpenCV (median of {len(runs)} runs) | ratio range |")
    print("|---|---|---|---|---|")
    for group in sorted(groups, key=lambda g: (g.split()[0], int(g.split()[2].split("x")[0]))):
        ts = groups[group]
        fk = statistics.median(t["flowkit"] for t in ts)
        cv = statistics.median(t["opencv"] for t in ts)
        ratios = [t["flowkit"] / t["opencv"] for t in ts]
        print(f"| {group} | {fk:.2f} | {cv:.2f} | {statistics.median(ratios):.2f} | "
              f"{min(ratios):.2f}-{max(ratios):.2f} |")


if __name__ == "__main__":
    import sys

    _summarise(sys.argv[1:])
