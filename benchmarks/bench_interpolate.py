"""interpolate at one t and at 7 values of t, beside OpenCV Farneback + naive warping.

Run: ``pytest benchmarks/bench_interpolate.py --benchmark-only``. Each group holds, for one
frame size, on flowkit's synthetic RGB uint8 pair (``flowkit.sample_pair``: rotation, zoom, a
moving disc):

* ``flowkit``: ``flowkit.interpolate(frame0, frame1, 0.5)``, default options (project, DIS
  medium flow, occlusion masks);
* ``flowkit-7t``: the same with ``t = 1/8 ... 7/8`` (8x slow motion: the two flows are computed
  once, then 7 frames);
* ``opencv``: the peer of benchmarks/eval_interpolation.py: OpenCV Farneback (0.5, 3, 15, 3, 5,
  1.2 on gray frames) both ways and naive bidirectional backward warping (``cv2.remap`` of each
  frame by its own flow scaled to t, blended ``(1 - t), t``) at t = 0.5;
* ``opencv-7t``: the same flows and 7 naive warps;
* ``flowkit-learned``: ``method="learned"`` at t = 0.5 (the interp-refine network on the
  project pipeline, torch with the same thread count; skipped without torch): issue 11's goal is
  at most 3x ``flowkit``.

The summary (``python benchmarks/conftest.py run*.json``) gives flowkit / peer, so the goal of
issue 9, 7 values of t at most 2x one value, reads as ``flowkit`` / ``flowkit-7t`` >= 0.5.
Threads: ``FLOWKIT_BENCH_THREADS`` (default 2) for both libraries, see ``conftest.py``.

``python benchmarks/bench_interpolate.py [REPEATS]``: that goal alone, steadier on a loaded
machine: at 1280x720 and 1920x1080, 7 values of t and one value called alternately in one
process (``conftest.interleaved``, one call each per repeat), the ratio 7 t / 1 t as median
[range] over REPEATS (default 5), with the load average before and after.
"""

import cv2
import numpy as np
import pytest
from conftest import SIZES, positive_int, run

import flowkit

TIMES = [i / 8 for i in range(1, 8)]
_PAIRS = {}


def _pair(size):
    if size not in _PAIRS:
        h, w = SIZES[size]
        frame0, frame1, _ = flowkit.sample_pair(h, w)
        _PAIRS[size] = (frame0, frame1)
    return _PAIRS[size]


def opencv_interpolate(frame0, frame1, times):
    """OpenCV Farneback both ways, then naive bidirectional backward warping at each t."""
    g0 = cv2.cvtColor(frame0, cv2.COLOR_RGB2GRAY)
    g1 = cv2.cvtColor(frame1, cv2.COLOR_RGB2GRAY)
    flow01 = cv2.calcOpticalFlowFarneback(g0, g1, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    flow10 = cv2.calcOpticalFlowFarneback(g1, g0, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    h, w = g0.shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    out = []
    for t in times:
        w0 = cv2.remap(frame0, x - t * flow01[..., 0], y - t * flow01[..., 1],
                       cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        w1 = cv2.remap(frame1, x - (1 - t) * flow10[..., 0], y - (1 - t) * flow10[..., 1],
                       cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        out.append(cv2.addWeighted(w0, 1 - t, w1, t, 0))
    return out


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("impl", ["flowkit", "flowkit-7t", "opencv", "opencv-7t", "flowkit-learned"])
def test_interpolate(benchmark, impl, size):
    frame0, frame1 = _pair(size)
    if impl == "flowkit-learned":
        torch = pytest.importorskip("torch", reason='torch not installed (pip install "flowkit-cv[torch]")')
        torch.set_num_threads(flowkit.get_num_threads())
        flowkit.interpolate(frame0, frame1, method="learned")  # load the model outside the timing
    benchmark.group = f"interpolate {size} uint8 RGB"
    times = TIMES if impl.endswith("7t") else 0.5
    if impl == "flowkit-learned":
        fn = lambda: flowkit.interpolate(frame0, frame1, times, method="learned")
    elif impl.startswith("flowkit"):
        fn = lambda: flowkit.interpolate(frame0, frame1, times)
    else:
        fn = lambda: opencv_interpolate(frame0, frame1, times if isinstance(times, list) else [times])
    run(benchmark, fn, rounds=5)


def _interleaved(repeats):
    import os

    from conftest import THREADS, interleaved

    flowkit.set_num_threads(THREADS)
    print(f"load average {os.getloadavg()[0]:.2f}; {THREADS} threads")
    print("| size | 7 t ms | 1 t ms | 7 t / 1 t, median [range] |\n|---|---|---|---|")
    for size in ("1280x720", "1920x1080"):
        frame0, frame1 = _pair(size)
        interleaved(size, lambda: flowkit.interpolate(frame0, frame1, TIMES),
                    lambda: flowkit.interpolate(frame0, frame1, 0.5), repeats=repeats, calls=1)
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[-1])
    parser.add_argument("repeats", nargs="?", type=positive_int, default=5,
                        help="repeats of the alternating timing (default 5)")
    _interleaved(parser.parse_args().repeats)
