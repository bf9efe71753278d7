"""splat (forward warping) beside warp (backward warping) of the same image and flow.

Run: ``pytest benchmarks/bench_splat.py --benchmark-only``. Each group holds ``splat`` (impl
"flowkit") and ``warp`` (impl "warp", bilinear, replicate border) for one mode, dtype, channel
count and size, so the summary's ratio (``python benchmarks/conftest.py run*.json``) reads as
splat / warp. Flow: smooth, a few pixels (upsampled noise, as optical flow looks). Softmax
metric: ``-10 * (a second random image)``, in [-10, 0] as ``-alpha * |error|`` would be.
Threads: ``FLOWKIT_BENCH_THREADS`` (default 2) for both, see ``conftest.py``.
"""

import pytest
from conftest import SIZES, random_image, run, smooth_flow_field

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
    if impl == "flowkit":
        fn = lambda: splat(image, flow, mode=mode, metric=metric)
    else:
        fn = lambda: warp(image, flow, interpolation="linear", border="replicate")
    run(benchmark, fn, rounds=15, warmup_rounds=2)
