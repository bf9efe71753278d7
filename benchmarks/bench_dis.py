"""Dense Inverse Search beside cv2.DISOpticalFlow (and Farneback) at equal thread counts.

Run: ``pytest benchmarks/bench_dis.py --benchmark-only`` times each preset at 640x480 and
1280x720 on bench_farneback's uint8 gray pair (a smooth texture and its warp by a smooth
flow of a few pixels); each group holds OpenCV's preset and flowkit's (``normalize=False``, OpenCV's
reading), and flowkit's ``accurate`` beside OpenCV's medium. ``python
benchmarks/bench_dis.py accuracy [repeats]`` prints the table of docs/accuracy.md ("DIS
accuracy"): EPE and time per pair (median [range] over ``repeats`` calls after a warm-up) of
flowkit's presets, OpenCV's DIS presets, OpenCV's Farneback (tutorial settings) and
flowkit's Farneback on the shared ground-truth pairs, at ``FLOWKIT_BENCH_THREADS`` threads
for both libraries. ``python benchmarks/bench_dis.py sizes [repeats]`` prints the time per
pair at 640x480 and 1280x720 for each preset (and medium without the variational
refinement, in both libraries) on the synthetic pair. On a machine with a CUDA GPU,
``test_dis_cuda`` times ``device="cuda"`` at 1920x1080 (medium, accurate) beside OpenCV's
medium on the CPU, and ``python benchmarks/bench_dis.py gpu [repeats]`` prints the same as a
table; both skip without a GPU (or under ``NUMBA_ENABLE_CUDASIM=1``). GPU times are per pair
with NumPy frames in and the flow back on the host (uploads and the download included: the
copy to the host synchronises).
``python benchmarks/bench_dis.py profile
[repeats]`` prints where ``DIS(preset="medium")``'s time goes at ``FLOWKIT_BENCH_THREADS``
threads: ms per call of each phase (pyramids, search, densification, flow resizes, the
refinement: its warp, derivatives and passes in one shared call), summed over the levels,
by timing the drivers' Python entry points.
``python benchmarks/bench_dis.py ratio [repeats [preset]]`` times ``DIS(preset="medium")``
(or ``preset``: ultrafast, fast) and OpenCV's same preset alternately in one process (one
call of each per repeat, after a warm-up) at 640x480 and 1280x720, on the synthetic pair and
on real video (``conftest.traffic_pair``: frames of the shared traffic clip, left out with a
note where the clip is absent), and prints the median and range of the per-repeat ratio
flowkit / OpenCV, the medians of both and the load average
(issue 10's speed goal: ratio <= 1.0). It also prints the ratio of the calling thread's CPU
times, which other jobs on the machine disturb less but which counts only the calling
thread's work: meaningful at ``FLOWKIT_BENCH_THREADS=1``.
"""

import flowkit

import cv2
import numpy as np
import pytest
from bench_farneback import _pair
from conftest import THREADS, exit_if_skipped, positive_int, run, traffic_pair

CV_PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
              "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
              "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}
TUTORIAL = dict(pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2)


@pytest.mark.parametrize("size", ["640x480", "1280x720"])
@pytest.mark.parametrize("preset", ["ultrafast", "fast", "medium"])
@pytest.mark.parametrize("impl", ["opencv", "flowkit", "flowkit-accurate"])
def test_dis(benchmark, impl, preset, size):
    if impl == "flowkit-accurate" and preset != "medium":
        pytest.skip("accurate is compared with OpenCV's medium only")
    f0, f1 = _pair(size)
    benchmark.group = f"dis {preset} {size} uint8 gray"
    if impl == "opencv":
        est = cv2.DISOpticalFlow_create(CV_PRESETS[preset])
        fn = lambda: est.calc(f0, f1, None)
    else:
        est = flowkit.DIS(preset="accurate" if impl == "flowkit-accurate" else preset,
                          normalize=False)
        fn = lambda: est(f0, f1)
    run(benchmark, fn, rounds=10, warmup_rounds=2)


def _has_gpu():
    """A real CUDA GPU (not Numba's simulator)."""
    import os

    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return False
    try:
        from numba import cuda
    except ImportError:
        return False
    return cuda.is_available()


GPU_IMPLS = ["opencv-medium-cpu", "flowkit-cuda-medium", "flowkit-cuda-accurate"]


def _gpu_fn(impl, f0, f1):
    if impl == "opencv-medium-cpu":
        est = cv2.DISOpticalFlow_create(CV_PRESETS["medium"])
        return lambda: est.calc(f0, f1, None)
    est = flowkit.DIS(preset=impl.rsplit("-", 1)[1], normalize=False, device="cuda")
    return lambda: est(f0, f1)


@pytest.mark.parametrize("impl", GPU_IMPLS)
def test_dis_cuda(benchmark, impl):
    if not _has_gpu():
        pytest.skip("needs a CUDA GPU (numba.cuda.is_available(), simulator off)")
    f0, f1 = _pair("1920x1080")
    benchmark.group = "dis 1920x1080 uint8 gray, GPU"
    run(benchmark, _gpu_fn(impl, f0, f1), rounds=10, warmup_rounds=2)


def _spent(fn, repeats):
    """Times (ms) of ``repeats`` calls after one warm-up call."""
    import time

    fn()
    spent = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        spent.append((time.perf_counter() - t) * 1e3)
    return spent


def _timed(fn, repeats):
    """Median and range (ms) of ``repeats`` calls after one warm-up call."""
    import statistics

    spent = _spent(fn, repeats)
    return f"{statistics.median(spent):.1f} [{min(spent):.1f}-{max(spent):.1f}]"


def _gpu_table(repeats=10):
    """Print the GPU times per 1920x1080 pair (``test_dis_cuda`` as a table)."""
    if not _has_gpu():
        print("no CUDA GPU: nothing to time")
        return
    from numba import cuda

    cv2.setNumThreads(THREADS)
    f0, f1 = _pair("1920x1080")
    print(f"{cuda.get_current_device().name.decode()}; OpenCV at {THREADS} threads; time per "
          f"1920x1080 pair (ms), median [range] of {repeats} calls")
    print("| method | time |")
    print("|---|---|")
    for impl in GPU_IMPLS:
        print(f"| {impl} | {_timed(_gpu_fn(impl, f0, f1), repeats)} |")


def _accuracy(repeats=5):
    """Print the EPE and time table of docs/accuracy.md, "DIS accuracy" (needs ../shared/data)."""
    import pathlib
    import statistics
    import sys
    import time

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
    from cases import ground_truth_case

    flowkit.set_num_threads(THREADS)
    cv2.setNumThreads(THREADS)

    def epe(flow, gt, valid):
        return np.linalg.norm(flow.astype(np.float64) - gt, axis=-1)[valid].mean()

    methods = {}
    for preset in ("ultrafast", "fast", "medium", "accurate"):
        est = flowkit.DIS(preset=preset, normalize=False)
        methods[f"flowkit dis {preset}"] = lambda a, b, est=est: est(a, b)
    for preset, code in CV_PRESETS.items():
        est = cv2.DISOpticalFlow_create(code)
        methods[f"OpenCV DIS {preset}"] = lambda a, b, est=est: est.calc(a, b, None)
    o = TUTORIAL
    methods["OpenCV Farneback"] = lambda a, b: cv2.calcOpticalFlowFarneback(
        a, b, None, o["pyr_scale"], o["levels"], o["winsize"], o["iterations"], o["poly_n"],
        o["poly_sigma"], 0)
    methods["flowkit farneback"] = lambda a, b: flowkit.farneback(a, b, normalize=False, **o)

    names = ("RubberWhale", "Venus", "Yosemite", "Sintel-alley_1")
    cases = [ground_truth_case(name) for name in names]
    print(f"threads={THREADS}; EPE (px) per pair, mean; time per pair (ms), median [range] of "
          f"{repeats} calls")
    print("| method | " + " | ".join(names) + " | mean EPE | " + " | ".join(names) + " |")
    print("|---|" + "---|" * (2 * len(names) + 1))
    for label, fn in methods.items():
        errors, times = [], []
        for f0, f1, gt, valid in cases:
            flow = fn(f0, f1)  # warm-up: compilation or cache load excluded
            spent = []
            for _ in range(repeats):
                t = time.perf_counter()
                fn(f0, f1)
                spent.append((time.perf_counter() - t) * 1e3)
            errors.append(epe(flow, gt, valid))
            times.append(f"{statistics.median(spent):.0f} [{min(spent):.0f}-{max(spent):.0f}]")
        print(f"| {label} | " + " | ".join(f"{e:.3f}" for e in errors)
              + f" | {np.mean(errors):.3f} | " + " | ".join(times) + " |")


def _table(title, columns):
    """Set both libraries' thread counts; print ``title`` and a Markdown table header."""
    flowkit.set_num_threads(THREADS)
    cv2.setNumThreads(THREADS)
    print(title)
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))


def _sizes(repeats=5):
    """Print time per pair at 640x480 and 1280x720 (median [range] ms) for each preset."""
    import statistics

    _table(f"threads={THREADS}; time per pair (ms), median [range] of {repeats} calls",
           ("size", "preset", "OpenCV", "flowkit", "flowkit / OpenCV"))
    for size in ("640x480", "1280x720"):
        f0, f1 = _pair(size)
        for preset in ("ultrafast", "fast", "medium", "medium-norefine", "accurate"):
            # medium-norefine: both with variational_refinement_iterations=0 (the search alone)
            base = preset.split("-")[0]
            cv = cv2.DISOpticalFlow_create(CV_PRESETS.get(base, CV_PRESETS["medium"]))
            options = {}
            if preset == "medium-norefine":
                cv.setVariationalRefinementIterations(0)
                options = dict(variational_refinement_iterations=0)
            fk = flowkit.DIS(preset=base, normalize=False, **options)
            row = [_spent(fn, repeats) for fn in (lambda: cv.calc(f0, f1, None),
                                                  lambda: fk(f0, f1))]
            meds = [statistics.median(s) for s in row]
            cv_label = "medium" if preset == "accurate" else preset
            print(f"| {size} | {preset} (OpenCV {cv_label}) | "
                  + " | ".join(f"{m:.1f} [{min(s):.1f}-{max(s):.1f}]" for m, s in zip(meds, row))
                  + f" | {meds[1] / meds[0]:.2f} |")


def _profile(repeats=10):
    """Print ms per call of each phase of DIS medium at 640x480 and 1280x720 (see module
    docstring), beside OpenCV's whole call."""
    import collections
    import statistics
    import time

    from flowkit import _dis
    from flowkit.kernels import dis as kd
    from flowkit.kernels import variational as kv

    flowkit.set_num_threads(THREADS)
    cv2.setNumThreads(THREADS)
    spent = collections.defaultdict(float)

    def timed(module, name, label):
        fn = getattr(module, name)

        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            result = fn(*args, **kwargs)
            spent[label] += time.perf_counter() - t
            return result
        setattr(module, name, wrapper)

    timed(_dis.HostOps, "area", "pyramids")
    timed(kd, "search_cpu", "search")
    timed(kd, "densify_cpu", "densification")
    # HostOps holds the drivers it was built with
    _dis.HostOps.search = staticmethod(kd.search_cpu)
    _dis.HostOps.densify = staticmethod(kd.densify_cpu)
    timed(_dis, "_resize", "flow resizes")
    timed(kv, "_refine_split", "refinement (warp, derivatives, passes)")
    print(f"threads={THREADS}; ms per call, mean of {repeats} calls after a warm-up, summed over "
          "the levels")
    for size in ("640x480", "1280x720"):
        ours, theirs = _preset_calls(size)
        spent.clear()
        whole, opencv = [], []
        for _ in range(repeats):
            t = time.perf_counter()
            ours()
            whole.append(time.perf_counter() - t)
            t = time.perf_counter()
            theirs()
            opencv.append(time.perf_counter() - t)
        print(f"{size}: flowkit {statistics.median(whole) * 1e3:.1f} ms, OpenCV "
              f"{statistics.median(opencv) * 1e3:.1f} ms (medians)")
        for label, seconds in sorted(spent.items(), key=lambda item: -item[1]):
            print(f"  {label:36s} {seconds / repeats * 1e3:7.2f}")


def _preset_calls(size, preset="medium"):
    """flowkit's and OpenCV's DIS ``preset`` (medium) on the ``size`` pair as two
    argument-less calls, each called once (compilation and buffers excluded from what
    follows). ``size``: ``"640x480"``, ``"1280x720"`` or either with ``"traffic "`` before it
    (real video)."""
    f0, f1 = traffic_pair(size.split()[1]) if size.startswith("traffic") else _pair(size)
    est = flowkit.DIS(preset=preset, normalize=False)
    cv = cv2.DISOpticalFlow_create(CV_PRESETS[preset])
    calls = (lambda: est(f0, f1)), (lambda: cv.calc(f0, f1, None))
    for call in calls:
        call()
    return calls


def _ratio(repeats=15, preset="medium"):
    """Print flowkit / OpenCV for DIS ``preset``, the two called alternately (module
    docstring)."""
    import os
    import statistics
    import time

    _table(f"{preset}, threads={THREADS}; load average {os.getloadavg()[0]:.2f} at the start",
           ("size", "ratio median [range]", "CPU-time ratio (1 thread only)", "flowkit ms",
            "OpenCV ms"))
    for size in ("640x480", "1280x720", "traffic 640x480", "traffic 1280x720"):
        try:
            calls = _preset_calls(size, preset)
        except pytest.skip.Exception as why:
            print(f"| {size} | left out: {why} |")
            continue
        ours, theirs, cpu = [], [], ([], [])
        for _ in range(repeats):
            for k, (fn, spent) in enumerate(zip(calls, (ours, theirs))):
                t, c = time.perf_counter(), time.thread_time()
                fn()
                spent.append((time.perf_counter() - t) * 1e3)
                cpu[k].append(time.thread_time() - c)
        row = [a / b for a, b in zip(ours, theirs)], [a / b for a, b in zip(*cpu)]
        print(f"| {size} | " + " | ".join(
            f"{statistics.median(r):.2f} [{min(r):.2f}-{max(r):.2f}]" for r in row)
            + f" | {statistics.median(ours):.1f} | {statistics.median(theirs):.1f} |")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    import argparse

    modes = {"accuracy": _accuracy, "sizes": _sizes, "gpu": _gpu_table, "profile": _profile,
             "ratio": _ratio}
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[1])
    parser.add_argument("what", nargs="?", choices=list(modes), default="accuracy",
                        help="what to print (module docstring; default accuracy)")
    parser.add_argument("repeats", nargs="?", type=positive_int, default=5, help="default 5")
    parser.add_argument("preset", nargs="?", choices=list(CV_PRESETS),
                        help="ratio only: the preset of both (default medium)")
    args = parser.parse_args()
    if args.preset and args.what != "ratio":
        parser.error("preset: ratio only")
    exit_if_skipped(modes[args.what], args.repeats, *([args.preset] if args.preset else []))
