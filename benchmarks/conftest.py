"""Shared set-up of the benchmark suite (``pytest benchmarks/bench_<x>.py --benchmark-only``).

* ``SIZES``: the three frame sizes every benchmark is parametrised over.
* ``THREADS``: thread count of both libraries, ``FLOWKIT_BENCH_THREADS`` (default 2); the
  session fixture ``bench_threads`` (autouse) applies it with ``flowkit.set_num_threads`` and
  ``cv2.setNumThreads`` before the first benchmark.
* ``smooth_flow_field``, ``random_image``, ``gray_pair``: seeded inputs.
* ``traffic_case``, ``traffic_pair``: real video, two frames of the shared traffic clip at
  1280x720 with their optical flow, or as gray frames at a benchmark size (both skip the
  benchmark when the shared data is absent).
* ``interleaved``: flowkit / peer ratios with the two called alternately in one process (the
  bench modules' ``python benchmarks/bench_<x>.py`` mode; steadier on a loaded machine than
  pytest-benchmark, which times each library's rounds in one block).
* ``run``: warm-up call (JIT compilation or cache load excluded), then timed rounds.

The test suite's ``-n auto`` (pyproject.toml) resolves to 0 here: benchmarks run in one
process (pytest-benchmark turns itself off under xdist, and parallel workers would time each
other).

Bench modules import these with ``from conftest import ...`` (pytest puts ``benchmarks/`` on
``sys.path``). ``python benchmarks/conftest.py a.json b.json ...`` prints a table of several
``--benchmark-json`` runs: per group the median times and the flowkit / peer ratio.
"""

import os
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

import flowkit

THREADS = int(os.environ.get("FLOWKIT_BENCH_THREADS", "2"))
SIZES = {"640x480": (480, 640), "1280x720": (720, 1280), "1920x1080": (1080, 1920)}


def pytest_xdist_auto_num_workers(config):
    """``-n auto`` (the suite's addopts): no worker processes for benchmarks."""
    return 0


@pytest.fixture(scope="session", autouse=True)
def bench_threads():
    """The thread count of flowkit and OpenCV for the whole session (``THREADS``)."""
    flowkit.set_num_threads(THREADS)
    cv2.setNumThreads(THREADS)
    return THREADS


def pytest_benchmark_update_machine_info(config, machine_info):
    """Record what the numbers depend on in ``--benchmark-json`` output."""
    import numba

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, cwd=os.path.dirname(__file__)).stdout.strip()
    except OSError:
        commit = ""
    machine_info["flowkit"] = {
        "version": flowkit.__version__, "commit": commit, "threads": THREADS,
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
        "NUMBA_THREADING_LAYER": os.environ.get("NUMBA_THREADING_LAYER", "default"),
        "numba": numba.__version__, "opencv": cv2.__version__, "numpy": np.__version__,
        "loadavg": os.getloadavg(),
    }


def smooth_flow_field(size, amplitude=4.0, noise=0.2, cell=8, seed=0):
    """(H, W, 2) float32 flow as optical flow looks: standard normal noise on a grid of
    ``cell``-pixel cells, cubic-upsampled and scaled by ``amplitude`` pixels, plus ``noise``
    times per-pixel standard normal noise."""
    h, w = SIZES[size]
    rng = np.random.default_rng(seed)
    small = rng.standard_normal((h // cell, w // cell, 2)).astype(np.float32)
    flow = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC) * np.float32(amplitude)
    if noise:
        flow += np.float32(noise) * rng.standard_normal((h, w, 2)).astype(np.float32)
    return np.ascontiguousarray(flow)


def random_image(size, channels=1, dtype="uint8", seed=1):
    """Uniform random image, (H, W) or (H, W, C), uint8 in [0, 255] or float32 in [0, 1)."""
    h, w = SIZES[size]
    shape = (h, w) if channels == 1 else (h, w, channels)
    rng = np.random.default_rng(seed)
    if np.dtype(dtype) == np.uint8:
        return rng.integers(0, 256, shape, dtype=np.uint8)
    return rng.random(shape, dtype=np.float32).astype(dtype)


_PAIRS = {}


def gray_pair(size):
    """flowkit's synthetic pair (rotation, zoom, a moving disc) at ``size`` as gray uint8
    (cached per size)."""
    if size not in _PAIRS:
        h, w = SIZES[size]
        f0, f1, _ = flowkit.sample_pair(h, w)
        _PAIRS[size] = (cv2.cvtColor(f0, cv2.COLOR_RGB2GRAY), cv2.cvtColor(f1, cv2.COLOR_RGB2GRAY))
    return _PAIRS[size]


TRAFFIC = (Path(os.environ.get("FLOWKIT_DATA", Path(__file__).resolve().parents[2] / "shared"
                                / "data")) / "video" / "car_traffic_small.mp4")
_TRAFFIC = {}


def traffic_case():
    """Real video: frames 0 and 1 of the shared traffic clip (``car_traffic_small.mp4``,
    640x360 RGB, cars on a road) upscaled to 1280x720 (``cv2.resize``, bilinear) as RGB uint8,
    and the flow from frame 0 to frame 1 by OpenCV's DIS (preset medium, on the gray frames),
    (720, 1280, 2) float32: ``(frame0, frame1, flow)``, cached. Skips the calling benchmark
    when the clip is absent (``FLOWKIT_DATA`` names the shared data folder)."""
    if not TRAFFIC.exists():
        pytest.skip(f"shared clip absent: {TRAFFIC} (set FLOWKIT_DATA to the shared data folder)")
    if not _TRAFFIC:
        frames = [cv2.resize(f, (1280, 720)) for _, f in zip(range(2), flowkit.iter_frames(TRAFFIC))]
        gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        _TRAFFIC["case"] = (frames[0], frames[1], dis.calc(gray[0], gray[1], None))
    return _TRAFFIC["case"]


REAL_SIZES = {"640x480": (480, 640), "1280x720": (720, 1280)}


def traffic_pair(size):
    """The two frames of :func:`traffic_case` as gray uint8 at ``size``: 1280x720, or its
    top-left 640x480 crop. Skips the calling benchmark when the clip is absent."""
    h, w = REAL_SIZES[size]
    return tuple(np.ascontiguousarray(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)[:h, :w])
                 for f in traffic_case()[:2])


def interleave_min(calls, repeats, counts):
    """(repeats, len(calls)) array: per repeat, the minimum time (ms) of ``counts[k]`` calls
    of each ``calls[k]``, the functions alternating (after one warm-up call each)."""
    import time

    for call in calls:
        call()
    rows = []
    for _ in range(repeats):
        row = []
        for call, count in zip(calls, counts):
            spent = []
            for _ in range(count):
                start = time.perf_counter()
                call()
                spent.append(time.perf_counter() - start)
            row.append(min(spent) * 1e3)
        rows.append(row)
    return np.array(rows)


def run_under_pytest(path, doc):
    """The script mode of a bench module that runs under pytest-benchmark only: ``python
    benchmarks/bench_X.py`` runs ``pytest benchmarks/bench_X.py --benchmark-only`` (its
    ``--help`` shows the first paragraph of ``doc``; it ran nothing, and said nothing)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0] + " Runs pytest "
                                     f"{Path(path).name} --benchmark-only (pytest-benchmark).")
    parser.parse_args()
    sys.exit(pytest.main([str(path), "--benchmark-only", "-q"]))


def exit_if_skipped(call, *args):
    """``call(*args)`` in a script mode: a ``pytest.skip`` (the shared data is absent) ends the
    script with one ``skipped: ...`` line (exit status 1), not a traceback."""
    import sys

    try:
        return call(*args)
    except pytest.skip.Exception as why:
        sys.exit(f"skipped: {why}")


def positive_int(text):
    """``argparse`` type of the scripts' repeat and round counts: an int >= 1 (0 or a negative
    count ran the warm-up calls, then ended in a traceback over an empty table)."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def interleaved_main(doc, timings, default=9):
    """The script mode of a bench module with an interleaved comparison: ``python
    benchmarks/bench_X.py [REPEATS]`` runs ``timings(repeats)`` (its ``--help`` shows the last
    paragraph of ``doc``); without the shared data, one ``skipped: ...`` line."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.split("\n\n")[-1])
    parser.add_argument("repeats", nargs="?", type=positive_int, default=default,
                        help=f"repeats of the alternating timing (default {default})")
    exit_if_skipped(timings, parser.parse_args().repeats)


def interleaved(label, ours, peer, repeats=9, calls=10):
    """Print ``label``: the median [range] over ``repeats`` of the ratio ``ours`` / ``peer``,
    each timed as the minimum of ``calls`` calls, the two alternating (after one warm-up call
    each), with both medians in ms."""
    a, b = interleave_min([ours, peer], repeats, (calls, calls)).T
    r = a / b
    print(f"| {label} | {np.median(a):.2f} | {np.median(b):.2f} | {np.median(r):.2f} "
          f"[{r.min():.2f}-{r.max():.2f}] |")


def run(benchmark, fn, rounds=10, warmup_rounds=1):
    """Call ``fn`` once (JIT compilation or cache load excluded), then time ``rounds`` calls."""
    fn()
    return benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=warmup_rounds)


def summarise(paths):
    """Markdown table from several ``--benchmark-json`` files of one bench module.

    Per group and peer: the median over runs of each run's minimum time (ms) for flowkit and
    the peer, and the ratio flowkit / peer (< 1: flowkit faster) computed per run from the
    minima and from the medians of its rounds, given as median [range] over runs."""
    import json
    import statistics

    groups = {}
    loads, threads = [], []
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        loads.append(data["machine_info"].get("flowkit", {}).get("loadavg", [float("nan")])[0])
        threads.append(data["machine_info"].get("flowkit", {}).get("threads", "?"))
        per_group = {}
        for b in data["benchmarks"]:
            stats = (b["stats"]["min"] * 1e3, b["stats"]["median"] * 1e3)
            per_group.setdefault(b["group"], {})[b["params"]["impl"]] = stats
        for group, times in per_group.items():
            groups.setdefault(group, []).append(times)

    def spread(values):
        return f"{statistics.median(values):.2f} [{min(values):.2f}-{max(values):.2f}]"

    print(f"{len(paths)} runs; threads (FLOWKIT_BENCH_THREADS) in each run: "
          + ", ".join(str(n) for n in threads) + "; load average (1 min) at the end of each run: "
          + ", ".join(f"{x:.2f}" for x in loads))
    print("| group | peer | flowkit ms (min) | peer ms (min) | ratio of minima | ratio of medians |")
    print("|---|---|---|---|---|---|")
    for group, runs in groups.items():
        runs = [r for r in runs if "flowkit" in r]
        fk = statistics.median(r["flowkit"][0] for r in runs)
        for peer in sorted({k for r in runs for k in r} - {"flowkit"}):
            both = [r for r in runs if peer in r]
            pt = statistics.median(r[peer][0] for r in both)
            by_min = [r["flowkit"][0] / r[peer][0] for r in both]
            by_median = [r["flowkit"][1] / r[peer][1] for r in both]
            print(f"| {group} | {peer} | {fk:.2f} | {pt:.2f} | {spread(by_min)} | "
                  f"{spread(by_median)} |")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Markdown table of several --benchmark-json "
                                     "runs of one bench module (summarise's docstring).")
    parser.add_argument("paths", nargs="+", metavar="run.json",
                        help="pytest --benchmark-json outputs")
    args = parser.parse_args()
    for path in args.paths:
        if not os.path.isfile(path):
            parser.error(f"no such file: {path}")
    summarise(args.paths)
