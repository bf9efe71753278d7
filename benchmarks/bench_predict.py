"""predict beside one farneback call on the same pair, at equal thread counts.

Run: ``pytest benchmarks/bench_predict.py --benchmark-only``. Each group holds, for one frame
size, ``flowkit.farneback`` on the last two frames of an RGB uint8 clip (the peer of the
issue's goal; flowkit's Farneback is OpenCV's) and ``flowkit.predict`` of 4 frames from them
with default options (one DIS call, the motion field carried forward by itself four times,
three warps per frame for the speed spread), with the defaults before 2026-11-30 (one
Farneback call, the held-field trajectories and 4 warps), and with the ``"forward"`` and
``"reestimate"`` schemes. Goal at 1280x720: ``predict`` at most 1.5x one Farneback call.

``python benchmarks/bench_predict.py [REPEATS]``: the ratios predict / farneback at 1280x720
with the two called alternately in one process (``conftest.interleaved``; steadier on a
loaded machine), for the defaults and the previous defaults.
"""

import flowkit

import numpy as np
import pytest
from conftest import SIZES, interleaved, positive_int, run

OPTIONS = {"flowkit": {}, "flowkit-forward": {"scheme": "forward"},
           "flowkit-reestimate": {"scheme": "reestimate"},
           "flowkit-previous-defaults": {"flow": "farneback", "advect_flow": False, "speed_spread": 0}}


def _clip(size):
    h, w = SIZES[size]
    frame0, frame1, _ = flowkit.sample_pair(h, w)
    return np.stack([frame1, frame0])  # frame0 = frame1 moved by the sample's flow


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("impl", ["farneback"] + list(OPTIONS))
def test_predict_4_steps(benchmark, impl, size):
    clip = _clip(size)
    benchmark.group = f"predict 4 steps {size} uint8 RGB"
    if impl == "farneback":
        fn = lambda: flowkit.farneback(clip[1], clip[0])
    else:
        fn = lambda: flowkit.predict(clip, 4, **OPTIONS[impl])
    run(benchmark, fn, rounds=5)


def _interleaved(repeats):
    import os

    clip = _clip("1280x720")
    print(f"load average {os.getloadavg()[0]:.2f}, {flowkit.get_num_threads()} threads")
    print("| predict 4 steps, 1280x720 RGB | predict ms | farneback ms | ratio |\n|---|---|---|---|")
    for impl in ("flowkit", "flowkit-previous-defaults"):
        interleaved(impl, lambda: flowkit.predict(clip, 4, **OPTIONS[impl]),
                    lambda: flowkit.farneback(clip[1], clip[0]), repeats=repeats, calls=3)
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[-1])
    parser.add_argument("repeats", nargs="?", type=positive_int, default=9,
                        help="repeats of the alternating timing (default 9)")
    _interleaved(parser.parse_args().repeats)
