"""Dense iterative Lucas-Kanade beside scikit-image's optical_flow_ilk (same settings), with
OpenCV's Farneback and DIS for context, at equal thread counts.

Run: ``pytest benchmarks/bench_lk_dense.py --benchmark-only``. Each group holds one size
and one setting: flowkit.lucas_kanade and skimage.registration.optical_flow_ilk with the
same radius, num_warp, window and prefilter (the default group also has
cv2.calcOpticalFlowFarneback and cv2.DISOpticalFlow, medium preset, on the same gray uint8
pair). The pair is flowkit's synthetic sample (rotation, zoom and a moving disc);
``test_lucas_kanade_real`` times the default and Gaussian-window settings on two frames of
the shared traffic clip (``conftest.traffic_pair``: upscaled to 1280x720, 640x480 its crop;
skipped when the data is absent).
scikit-image runs NumPy/SciPy passes on one core; flowkit and OpenCV get
``FLOWKIT_BENCH_THREADS`` threads (default 2), see ``conftest.py``.

``python benchmarks/bench_lk_dense.py ratio [repeats [setting]]`` calls scikit-image and
flowkit alternately in one process (``setting``: gaussian (default) or default; per repeat
one scikit-image call and the minimum of 3 flowkit calls, after a warm-up) on the synthetic
640x480 pair and the traffic clip's 640x480 crop at ``FLOWKIT_BENCH_THREADS`` threads, and
prints the median [range] over repeats of the speed-up scikit-image / flowkit with the load
average. ``python benchmarks/bench_lk_dense.py ab [repeats [setting [module]]]`` compares
``flowkit.kernels.lk_dense.ilk`` with the same function of ``module`` (default
``flowkit.kernels._lk_dense_base``: a copy of another commit's ``kernels/lk_dense.py`` put
there by hand, not tracked) the same way: median [range] of the per-repeat ratio of the
minima of 3 calls each, this version / the other.
"""

import cv2
import numpy as np
import pytest
from conftest import (REAL_SIZES, SIZES, THREADS, exit_if_skipped, gray_pair, interleave_min,
                      positive_int, run, traffic_pair)
from skimage.registration import optical_flow_ilk

import flowkit

SETTINGS = {
    "default": {},
    "gaussian": {"gaussian": True},
    "prefilter": {"prefilter": True},
}


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("impl", ["flowkit", "skimage"])
def test_lucas_kanade(benchmark, impl, setting, size):
    if setting != "default" and size != "640x480":
        pytest.skip("option settings are timed at 640x480 only")
    frame0, frame1 = gray_pair(size)
    kw = SETTINGS[setting]
    benchmark.group = f"dense LK {setting} {size}"
    if impl == "flowkit":
        run(benchmark, lambda: flowkit.lucas_kanade(frame0, frame1, **kw), rounds=10)
    else:
        run(benchmark, lambda: optical_flow_ilk(frame0, frame1, **kw), rounds=3)


@pytest.mark.parametrize("size", list(REAL_SIZES))
@pytest.mark.parametrize("setting", ["default", "gaussian"])
@pytest.mark.parametrize("impl", ["flowkit", "skimage"])
def test_lucas_kanade_real(benchmark, impl, setting, size):
    frame0, frame1 = traffic_pair(size)
    kw = SETTINGS[setting]
    benchmark.group = f"dense LK {setting} traffic {size}"
    if impl == "flowkit":
        run(benchmark, lambda: flowkit.lucas_kanade(frame0, frame1, **kw), rounds=10)
    else:  # scikit-image's float frames in [0, 1], as flowkit's normalize=False reads uint8
        f0, f1 = (f.astype("float32") / 255 for f in (frame0, frame1))
        run(benchmark, lambda: optical_flow_ilk(f0, f1, **kw), rounds=3)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("impl", ["opencv-farneback", "opencv-dis-medium"])
def test_opencv_context(benchmark, impl, size):
    frame0, frame1 = gray_pair(size)
    benchmark.group = f"dense LK default {size}"
    if impl == "opencv-farneback":
        fn = lambda: cv2.calcOpticalFlowFarneback(frame0, frame1, None, 0.5, 5, 15, 3, 5, 1.2, 0)
    else:
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        fn = lambda: dis.calc(frame0, frame1, None)
    run(benchmark, fn, rounds=10)


def _frames(case):
    f0, f1 = gray_pair("640x480") if case == "synthetic" else traffic_pair("640x480")
    return f0, f1


def _print_ratio(label, a, b, load):
    r = a / b
    print(f"| {label} | {np.median(a):.1f} | {np.median(b):.1f} | {np.median(r):.3f} "
          f"[{r.min():.3f}-{r.max():.3f}] | {load} |")


def _ratio(repeats=5, setting="gaussian"):
    """scikit-image / flowkit, alternating (module docstring)."""
    kw = SETTINGS[setting]
    flowkit.set_num_threads(THREADS)
    print(f"{setting}, {THREADS} thread(s)")
    print("| case | scikit-image ms | flowkit ms | speed-up median [range] | load average |")
    print("|---|---|---|---|---|")
    for case in ("synthetic", "traffic"):
        f0, f1 = _frames(case)
        g0, g1 = (f.astype("float32") / 255 for f in (f0, f1))
        times = interleave_min([lambda: optical_flow_ilk(g0, g1, **kw),
                             lambda: flowkit.lucas_kanade(f0, f1, **kw)], repeats, (1, 3))
        _print_ratio(case, times[:, 0], times[:, 1], _load())


def _ab(repeats=9, setting="gaussian", module="flowkit.kernels._lk_dense_base"):
    """This ``lk_dense.ilk`` / ``module``'s, alternating (module docstring)."""
    import importlib

    from flowkit.kernels import lk_dense

    try:
        other = importlib.import_module(module)
    except ModuleNotFoundError as error:
        import sys

        sys.exit(f"ab: {error} (put another commit's kernels/lk_dense.py there by hand, "
                 "e.g. git show COMMIT:kernels/lk_dense.py > kernels/_lk_dense_base.py)")
    gaussian = setting == "gaussian"
    flowkit.set_num_threads(THREADS)
    print(f"{setting}, {THREADS} thread(s), this / {module}")
    print("| case | this ms | other ms | ratio median [range] | load average |")
    print("|---|---|---|---|---|")
    for case in ("synthetic", "traffic"):
        f0, f1 = (np.ascontiguousarray(f[None, :, :, None], np.float32) / 255
                  for f in _frames(case))
        levels = lk_dense.auto_levels(*f0.shape[1:3])
        args = (f0, f1, None, 7, 10, gaussian, False, levels)
        ours, theirs = lk_dense.ilk(*args), other.ilk(*args)
        assert np.array_equal(ours, theirs), "flows differ"
        times = interleave_min([lambda: lk_dense.ilk(*args), lambda: other.ilk(*args)], repeats,
                            (3, 3))
        _print_ratio(case, times[:, 0], times[:, 1], _load())


def _load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[-1])
    parser.add_argument("what", nargs="?", choices=("ratio", "ab"), default="ratio",
                        help="default ratio")
    parser.add_argument("repeats", nargs="?", type=positive_int, default=5, help="default 5")
    parser.add_argument("setting", nargs="?", choices=list(SETTINGS), default="gaussian",
                        help="default gaussian")
    parser.add_argument("module", nargs="?", help="ab only: the other version's module "
                        "(default flowkit.kernels._lk_dense_base)")
    args = parser.parse_args()
    if args.what == "ratio" and args.module:
        parser.error("module: ab only")
    exit_if_skipped({"ratio": _ratio, "ab": _ab}[args.what], args.repeats, args.setting,
                    *([args.module] if args.module else []))
