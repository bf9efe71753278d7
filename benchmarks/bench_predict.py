"""predict beside one farneback call on the same pair, at equal thread counts.

Run: ``pytest benchmarks/bench_predict.py --benchmark-only``. Each group holds, for one frame
size, ``flowkit.farneback`` on the last two frames of an RGB uint8 clip (the flow ``predict``
needs; the peer here is flowkit's own estimator, since the goal is predict's overhead over it)
and ``flowkit.predict`` of 4 frames from them with default options (one Farneback call, the
semi-Lagrangian trajectories and 4 warps), plus the ``"forward"`` and ``"reestimate"`` schemes
and the semi-Lagrangian options ``speed_spread=0.1`` and ``advect_flow=True``.
Goal at 1280x720: ``predict`` at most 1.5x one Farneback call.
"""

import flowkit

import numpy as np
import pytest
from conftest import SIZES, run


def _clip(size):
    h, w = SIZES[size]
    frame0, frame1, _ = flowkit.sample_pair(h, w)
    return np.stack([frame1, frame0])  # frame0 = frame1 moved by the sample's flow


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("impl", ["farneback", "flowkit", "flowkit-forward", "flowkit-reestimate",
                                  "flowkit-speed_spread", "flowkit-advect_flow"])
def test_predict_4_steps(benchmark, impl, size):
    clip = _clip(size)
    benchmark.group = f"predict 4 steps {size} uint8 RGB"
    options = {"flowkit": {}, "flowkit-forward": {"scheme": "forward"},
               "flowkit-reestimate": {"scheme": "reestimate"},
               "flowkit-speed_spread": {"speed_spread": 0.1},
               "flowkit-advect_flow": {"advect_flow": True}}
    if impl == "farneback":
        fn = lambda: flowkit.farneback(clip[1], clip[0])
    else:
        fn = lambda: flowkit.predict(clip, 4, **options[impl])
    run(benchmark, fn, rounds=5)
