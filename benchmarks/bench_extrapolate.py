"""extrapolate beside pysteps' semi-Lagrangian extrapolation on the same field.

Run: ``pytest benchmarks/bench_extrapolate.py --benchmark-only``. One frame (float32 RGB,
and gray) advected for 12 steps by a smooth flow of a few pixels (``smooth_flow_field``),
``n_iter=3`` (flowkit's default; pysteps' is 1), bilinear, replicated borders (pysteps:
``interp_order=1, map_coordinates_mode="nearest"``): the same trajectories to float32
rounding and the same interpolation (tests/test_extrapolate.py). pysteps takes 2-D fields
only, so an RGB frame is three calls, each tracing the trajectories again; the gray group
compares one call with one call.

Threads: flowkit runs on ``FLOWKIT_BENCH_THREADS`` (default 2, see ``conftest.py``); pysteps
is single-threaded (``scipy.ndimage.map_coordinates``) and cannot use more. Without pysteps
(``pip install "flowkit-cv[bench]"``) the peer is a float64 NumPy/SciPy version of the same
scheme (``scipy-reference``), one call per channel likewise. The peers run at 1280x720 only
(seconds per call); flowkit alone runs at every size.
"""

import numpy as np
import pytest
from conftest import SIZES, random_image, run, smooth_flow_field
from scipy.ndimage import map_coordinates

from flowkit import extrapolate

STEPS = 12
N_ITER = 3

try:
    from pysteps.extrapolation.semilagrangian import extrapolate as pysteps_extrapolate
except ImportError:
    pysteps_extrapolate = None


def scipy_extrapolate(plane, velocity, steps, n_iter):
    """The scheme of ``flowkit.extrapolate`` in float64 NumPy/SciPy for one 2-D plane and a
    (2, H, W) velocity (pysteps' layout): (steps, H, W) frames."""
    h, w = plane.shape
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float64)

    def field(dx, dy):
        return [map_coordinates(c, [gy + dy, gx + dx], order=1, mode="nearest") for c in velocity]

    s = 1.0 / n_iter if n_iter > 1 else 1.0
    dx, dy = np.zeros((h, w)), np.zeros((h, w))
    frames = []
    for _ in range(steps):
        for _ in range(max(n_iter, 1)):
            px, py = (s * c for c in field(dx, dy))
            if n_iter > 0:
                px, py = (s * c for c in field(dx - px / 2, dy - py / 2))
            dx, dy = dx - px, dy - py
        frames.append(map_coordinates(plane, [gy + dy, gx + dx], order=1, mode="nearest"))
    return np.stack(frames)


PEER = "pysteps" if pysteps_extrapolate is not None else "scipy-reference"


def _peer_call(image, flow):
    velocity = np.moveaxis(flow, -1, 0).astype(np.float64)
    planes = [image] if image.ndim == 2 else [image[..., c] for c in range(image.shape[2])]
    if pysteps_extrapolate is not None:
        return lambda: [pysteps_extrapolate(p, velocity, STEPS, n_iter=N_ITER, interp_order=1,
                                            map_coordinates_mode="nearest") for p in planes]
    return lambda: [scipy_extrapolate(p, velocity, STEPS, N_ITER) for p in planes]


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("channels", [3, 1])
@pytest.mark.parametrize("impl", ["flowkit", PEER])
def test_extrapolate(benchmark, impl, channels, size):
    if impl != "flowkit" and size != "1280x720":
        pytest.skip(f"{impl} runs at 1280x720 only (seconds per call)")
    flow = smooth_flow_field(size)
    image = random_image(size, channels, "float32")
    benchmark.group = f"extrapolate {STEPS} steps float32 C={channels} {size}"
    if impl == "flowkit":
        run(benchmark, lambda: extrapolate(image, flow, STEPS, n_iter=N_ITER), rounds=10)
    else:  # nothing to compile: no warm-up call
        benchmark.pedantic(_peer_call(image, flow), rounds=3, iterations=1)


if __name__ == "__main__":
    from conftest import run_under_pytest

    run_under_pytest(__file__, __doc__)
