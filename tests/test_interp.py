"""kernels.interp (the sampling math every kernel shares) against the float64 reference of
test_warp, one position at a time, as the other kernels call it."""

import numpy as np
import pytest
from numba import njit

from flowkit.kernels import interp
from test_warp import BORDERS, INTERPOLATIONS, reference_warp


@njit(cache=True)
def _sample_all(plane, xs, ys, interpolation, border, border_value):
    out = np.empty(xs.size)
    for i in range(xs.size):
        out[i] = interp.sample(plane, xs[i], ys[i], interpolation, border, border_value)
    return out


@pytest.mark.parametrize("border", BORDERS)
def test_sample_matches_reference(border):
    """Within 1e-12: sample() blends in float64 like the reference."""
    rng = np.random.default_rng(0)
    plane = rng.random((7, 9))
    xs = rng.uniform(-12, 20, 300)
    ys = rng.uniform(-12, 18, 300)
    xs[:40] = np.round(xs[:40]) + 0.5  # ties for nearest
    flow = np.stack([xs - np.arange(xs.size), ys], -1)[None]  # grid (i, 0) + flow = (x, y)
    for name in INTERPOLATIONS:
        got = _sample_all(plane, xs, ys, interp.INTERPOLATIONS[name], interp.BORDERS[border],
                          0.3)
        expected = reference_warp(plane, flow, name, border, 0.3)[0][0]
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_convenience_wrappers_and_non_finite():
    plane = np.arange(12.0).reshape(3, 4)
    rep = interp.BORDERS["replicate"]
    assert interp.sample_linear(plane, 1.5, 1.0, rep, 0.0) == 5.5
    assert interp.sample_nearest(plane, 1.5, 1.0, rep, 0.0) == 6.0  # tie to even
    assert interp.sample_cubic(plane, 2.0, 1.0, rep, 0.0) == 6.0
    for bad in (np.nan, np.inf, -np.inf):
        assert interp.sample_linear(plane, bad, 1.0, rep, -1.0) == -1.0


def test_far_positions_do_not_overflow():
    """Beyond 2**30 px the position is folded (periodic borders) or clamped, exactly."""
    plane = np.arange(12.0).reshape(3, 4)
    far = 4.0 * 2**40 + 1.25  # a multiple of the wrap period 4, plus 1.25
    assert interp.sample_linear(plane, far, 0.0, interp.BORDERS["wrap"], 0.0) == 1.25
    assert interp.sample_linear(plane, -far, 2.0, interp.BORDERS["replicate"], 0.0) == 8.0
    assert interp.sample_linear(plane, far, 0.0, interp.BORDERS["constant"], -3.0) == -3.0
    # reflect101 has period 2 * 4 - 2 = 6; 6 * 2**40 + 1 maps to column 1
    assert interp.sample_nearest(plane, 6.0 * 2**40 + 1, 0.0,
                                 interp.BORDERS["reflect101"], 0.0) == 1.0
