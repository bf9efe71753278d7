"""splat (forward warping) beside warp (backward warping) of the same image and flow.

Run: ``pytest benchmarks/bench_splat.py --benchmark-only``. Each group holds ``splat`` (impl
"flowkit") and ``warp`` (impl "warp", bilinear, replicate border) for one mode, dtype, channel
count and size, so the summary's ratio (``python benchmarks/conftest.py run*.json``) reads as
splat / warp. Flow: smooth, a few pixels (upsampled noise, as optical flow looks). Softmax
metric: ``-10 * (a second random image)``, in [-10, 0] as ``-alpha * |error|`` would be.
Threads: ``FLOWKIT_BENCH_THREADS`` (default 2) for both, see ``conftest.py``.

``python benchmarks/bench_splat.py [repeats]``: the 1280x720 cases timed alternately with
``warp`` in one process at 1 and 2 threads (``conftest.interleaved``), with the load average:
the random images and synthetic flow above, and real video (``conftest.traffic_case``: frame 0
of the traffic clip, RGB uint8 or its green channel as float32 / 255, splatted by its DIS
flow to frame 1, softmax metric ``-10 * brightness_error(frame0, frame1, flow)``: the form
``interpolate`` (scale 5) and ``predict`` (scale 20) use, at the synthetic case's scale).
"""

import pytest
from conftest import (SIZES, interleaved, interleaved_main, random_image, run, smooth_flow_field,
                      traffic_case)

from flowkit import splat, warp


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("dtype, channels", [("float32", 1), ("uint8", 3)])
@pytest.mark.parametrize("mode", ["average", "softmax"])
@pytest.mark.parametrize("impl", ["flowkit", "warp"])
def test_splat(benchmark, impl, mode, dtype, channels, size):
    image = random_image(size, channels, dtype)
    flow = smooth_flow_field(size)
    metric = -10 * random_image(size, 1, "float32", seed=2) if mode == "softmax" else None
    benchmark.group = f"splat {mode} {dtype} C={channels} {size}"
    ours, peer = _calls(image, flow, mode, metric)
    run(benchmark, ours if impl == "flowkit" else peer, rounds=15, warmup_rounds=2)


def _calls(image, flow, mode, metric):
    return (lambda: splat(image, flow, mode=mode, metric=metric),
            lambda: warp(image, flow, interpolation="linear", border="replicate"))


def _interleaved(repeats):
    import os

    import numpy as np

    import flowkit
    from flowkit._splat import brightness_error

    size = "1280x720"
    frame0, frame1, dis = traffic_case()
    gray0 = frame0[..., 1].astype(np.float32) / np.float32(255)
    cases = {"synthetic": {"float32 C=1": random_image(size, 1, "float32"),
                           "uint8 C=3": random_image(size, 3, "uint8")},
             "traffic": {"float32 C=1": gray0, "uint8 C=3": frame0}}
    flows = {"synthetic": smooth_flow_field(size), "traffic": dis}
    metrics = {"synthetic": -10 * random_image(size, 1, "float32", seed=2),
               "traffic": -10 * brightness_error(frame0, frame1, dis)}
    print(f"load average {os.getloadavg()[0]:.2f}")
    print("| case | splat ms | warp ms | ratio |\n|---|---|---|---|")
    for threads in (1, 2):
        flowkit.set_num_threads(threads)
        for name, images in cases.items():
            for mode in ("average", "softmax"):
                for label, image in images.items():
                    metric = metrics[name] if mode == "softmax" else None
                    interleaved(f"{mode} {label} {name}, {threads} thread(s)",
                                *_calls(image, flows[name], mode, metric), repeats=repeats)
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    interleaved_main(__doc__, _interleaved)
