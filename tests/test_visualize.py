"""flow_to_color against an independent float64 transcription of Middlebury's colorcode.cpp."""

import math

import numpy as np
import pytest

from cases import data_path
from flowkit import flow_to_color, read_flo


# --- reference: Middlebury flow-code (colorcode.cpp, flowIO/color_flow.cpp), scalar, float64 ----

def make_colorwheel():
    wheel = []
    ry, yg, gc, cb, bm, mr = 15, 6, 4, 11, 13, 6
    # setcols(r, g, b, k) takes ints: the C++ expressions use integer division
    for i in range(ry):
        wheel.append((255, 255 * i // ry, 0))
    for i in range(yg):
        wheel.append((255 - 255 * i // yg, 255, 0))
    for i in range(gc):
        wheel.append((0, 255, 255 * i // gc))
    for i in range(cb):
        wheel.append((0, 255 - 255 * i // cb, 255))
    for i in range(bm):
        wheel.append((255 * i // bm, 0, 255))
    for i in range(mr):
        wheel.append((255, 0, 255 - 255 * i // mr))
    return wheel


WHEEL = make_colorwheel()


def compute_color(fx, fy):
    ncols = len(WHEEL)
    rad = math.sqrt(fx * fx + fy * fy)
    a = math.atan2(-fy, -fx) / math.pi
    fk = (a + 1.0) / 2.0 * (ncols - 1)
    k0 = int(fk)
    k1 = (k0 + 1) % ncols
    f = fk - k0
    pix = []
    for b in range(3):  # C++ writes pix[2 - b] (BGR); here b indexes R, G, B directly
        col0 = WHEEL[k0][b] / 255.0
        col1 = WHEEL[k1][b] / 255.0
        col = (1 - f) * col0 + f * col1
        if rad <= 1:
            col = 1 - rad * (1 - col)
        else:
            col *= 0.75
        pix.append(int(255.0 * col))
    return pix


def unknown(u, v):
    return not (abs(u) < 1e9 and abs(v) < 1e9)  # also true for NaN


def reference_color(flow, max_motion=None):
    flow = np.asarray(flow, np.float64)
    maxrad = -1.0
    for u, v in flow.reshape(-1, 2):
        if not unknown(u, v):
            maxrad = max(maxrad, math.sqrt(u * u + v * v))
    if max_motion is not None:
        maxrad = max_motion
    if maxrad <= 0:
        maxrad = 1.0
    out = np.zeros(flow.shape[:2] + (3,), np.uint8)
    for y in range(flow.shape[0]):
        for x in range(flow.shape[1]):
            u, v = flow[y, x]
            if not unknown(u, v):
                out[y, x] = compute_color(u / maxrad, v / maxrad)
    return out


def random_flow(height, width, seed):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((height, width, 2)) * 4).astype(np.float32)


def assert_within_one_level(got, expected):
    # flowkit's kernel does the same float64 math but takes the angle of the unscaled vector
    # (equal up to an ulp), so (int)(255 * col) may in rare cases land on the other integer:
    # 1 level (no difference was measured on these inputs); a wrong hue, saturation or
    # channel order would differ by tens of levels
    assert got.dtype == np.uint8 and got.shape == expected.shape
    diff = np.abs(got.astype(int) - expected.astype(int))
    assert diff.max() <= 1, diff.max()
    assert np.mean(diff > 0) < 0.05


# --- tests ----------------------------------------------------------------------------------------

def test_matches_reference_on_random_flow():
    flow = random_flow(30, 40, seed=0)
    flow[0, 0] = (np.nan, 0)
    flow[1, 1] = (2e9, 0)
    flow[2, 2] = (0, -1e9)
    flow[3, 3] = (np.inf, np.inf)
    flow[4, 4] = (100, 0)  # not the maximum of a known pixel? it is: sets the scale
    got = flow_to_color(flow)
    assert_within_one_level(got, reference_color(flow))
    for index in range(4):
        assert tuple(got[index, index]) == (0, 0, 0)


@pytest.mark.parametrize("max_flow", [0.5, 3.0, 12.0])
def test_matches_reference_with_max_flow(max_flow):
    # max_flow below the largest radius exercises the darkened "out of range" branch
    flow = random_flow(25, 30, seed=1)
    assert_within_one_level(flow_to_color(flow, max_flow=max_flow), reference_color(flow, max_flow))


def test_matches_reference_on_real_ground_truth():
    flow = read_flo(data_path("middlebury", "Venus", "flow10.flo"))[::4, ::4]
    assert_within_one_level(flow_to_color(flow), reference_color(flow))


def test_full_circle_of_directions():
    # every wheel segment and its interpolation, inside and outside the unit circle (radius
    # exactly 1 is avoided: rounding decides the branch there and the colour jumps by 25 %)
    angles = np.linspace(-np.pi, np.pi, 721)
    flow = np.stack([np.cos(angles), np.sin(angles)], -1)[None].astype(np.float32)
    flow = np.concatenate([0.999 * flow, 0.6 * flow, 1.5 * flow])
    assert_within_one_level(flow_to_color(flow, max_flow=1.0), reference_color(flow, 1.0))


@pytest.mark.parametrize(
    "vector, color",
    [
        # a = atan2(-v, -u) / pi; wheel position (a + 1) / 2 * 54 between the integer wheel colours
        ((1.0, 0.0), (255, 0, 0)),  # +u (right): a = -1, position 0: red
        ((0.0, 1.0), (255, 229, 0)),  # +v (down): position 13.5, between (255, 221, 0) and (255, 238, 0)
        ((-1.0, 0.0), (0, 209, 255)),  # -u (left): position 27, (0, 255 - 255 * 2 // 11, 255)
        ((0.0, -1.0), (88, 0, 255)),  # -v (up): position 40.5, between (78, 0, 255) and (98, 0, 255)
        ((0.5, 0.0), (255, 127, 127)),  # half radius: 1 - 0.5 * (1 - c) -> 127.5 -> 127
        ((2.0, 0.0), (191, 0, 0)),  # beyond max_flow: 0.75 * 255 = 191.25 -> 191
        ((0.0, 0.0), (255, 255, 255)),  # no motion: white
        ((np.nan, 0.0), (0, 0, 0)),  # unknown: black
        ((0.0, 1e9), (0, 0, 0)),
    ],
)
def test_analytic_colors(vector, color):
    flow = np.array([[vector]], np.float32)
    assert tuple(flow_to_color(flow, max_flow=1.0)[0, 0]) == color


def test_default_scale_is_largest_known_radius():
    flow = np.zeros((1, 3, 2), np.float32)
    flow[0, 0] = (3.0, 0.0)  # the largest known radius: full red
    flow[0, 1] = (1.5, 0.0)  # half of it
    flow[0, 2] = (1e10, 0.0)  # unknown, ignored for the scale
    got = flow_to_color(flow)
    np.testing.assert_array_equal(got[0], [[255, 0, 0], [255, 127, 127], [0, 0, 0]])
    np.testing.assert_array_equal(flow_to_color(flow * 10), got)  # scale invariant


@pytest.mark.parametrize("seed", range(6))
def test_longest_vector_is_fully_saturated(seed):
    # every wheel colour has one channel at 255 and one at 0; the pixel that sets the scale
    # must get it, not the darkened "beyond the scale" colour from a radius of 1 + 1 ulp
    flow = random_flow(40, 50, seed)
    longest = np.unravel_index(np.argmax(np.hypot(*flow.astype(np.float64).transpose(2, 0, 1))), flow.shape[:2])
    color = flow_to_color(flow)[longest]
    assert color.max() == 255 and color.min() == 0


def test_zero_and_all_unknown_fields():
    np.testing.assert_array_equal(flow_to_color(np.zeros((3, 4, 2))), np.full((3, 4, 3), 255, np.uint8))
    np.testing.assert_array_equal(flow_to_color(np.full((3, 4, 2), np.nan)), np.zeros((3, 4, 3), np.uint8))


def test_batches_are_colored_frame_by_frame():
    flows = np.stack([random_flow(9, 11, seed=s) * (s + 1) for s in range(3)])
    got = flow_to_color(flows)
    assert got.shape == (3, 9, 11, 3) and got.dtype == np.uint8
    for frame, flow in zip(got, flows):
        np.testing.assert_array_equal(frame, flow_to_color(flow))
    fixed = flow_to_color(flows, max_flow=5)
    for frame, flow in zip(fixed, flows):
        np.testing.assert_array_equal(frame, flow_to_color(flow, max_flow=5))


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_other_float_dtypes(dtype):
    flow = random_flow(8, 9, seed=4).astype(dtype)
    assert_within_one_level(flow_to_color(flow), reference_color(flow))


def test_does_not_modify_input():
    flow = random_flow(5, 6, seed=5)
    flow[0, 0] = np.nan
    copy = flow.copy()
    flow_to_color(flow)
    np.testing.assert_array_equal(flow, copy)


@pytest.mark.parametrize(
    "flow, kwargs, error, match",
    [
        (np.zeros((4, 5, 3), np.float32), {}, ValueError, r"flow: expected shape \(H, W, 2\) or \(N, H, W, 2\), got \(4, 5, 3\)"),
        (np.zeros((4, 5, 2), np.int16), {}, TypeError, r"flow: expected a float dtype .* got int16"),
        (np.zeros((4, 2), np.float32), {}, ValueError, r"flow: expected shape"),
        (np.zeros((0, 5, 2), np.float32), {}, ValueError, r"flow: expected a non-empty array"),
        (np.zeros((4, 5, 2), np.float32), {"max_flow": 0}, ValueError, r"max_flow: expected a number in \(0, inf\]"),
        (np.zeros((4, 5, 2), np.float32), {"max_flow": -1.0}, ValueError, r"max_flow: expected a number in \(0, inf\]"),
        (np.zeros((4, 5, 2), np.float32), {"max_flow": np.nan}, ValueError, r"max_flow: expected a finite number"),
        (np.zeros((4, 5, 2), np.float32), {"max_flow": "5"}, TypeError, r"max_flow: expected a real number"),
    ],
)
def test_bad_input(flow, kwargs, error, match):
    with pytest.raises(error, match=match):
        flow_to_color(flow, **kwargs)


# --- CUDA path (Numba's simulator in CI: tiny inputs) -------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cuda_matches_cpu(dtype):
    flows = np.stack([random_flow(5, 7, seed=s) for s in range(2)]).astype(dtype)
    flows[0, 0, 0] = (np.nan, 0)
    flows[1, 1, 1] = (0, 1e9)
    got = flow_to_color(flows, device="cuda")
    assert isinstance(got, np.ndarray) and got.shape == (2, 5, 7, 3) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, flow_to_color(flows))  # the same per-pixel function
    np.testing.assert_array_equal(flow_to_color(flows[0], max_flow=2.0, device="cuda"),
                                  flow_to_color(flows[0], max_flow=2.0))


def test_cuda_float16_and_zero_field():
    flow = random_flow(4, 6, seed=7).astype(np.float16)
    np.testing.assert_array_equal(flow_to_color(flow, device="cuda"), flow_to_color(flow))
    np.testing.assert_array_equal(flow_to_color(np.zeros((3, 4, 2), np.float32), device="cuda"),
                                  np.full((3, 4, 3), 255, np.uint8))


def test_bad_device():
    with pytest.raises(ValueError, match=r"device: expected one of 'cpu', 'cuda' or None, got 'gpu'"):
        flow_to_color(np.zeros((2, 2, 2), np.float32), device="gpu")
