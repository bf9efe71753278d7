"""Per-pixel sampling math shared by every kernel: border handling and interpolation.

Plain ``numba.njit`` functions, callable from CPU drivers and from ``numba.cuda`` kernels.
Border and interpolation modes are small integer codes so that one compiled specialisation
serves every mode.
"""

import math

from numba import njit

# Border codes (OpenCV's meanings).
BORDER_CONSTANT = 0    # iiiiii|abcdefgh|iiiiiii  (i = border_value)
BORDER_REPLICATE = 1   # aaaaaa|abcdefgh|hhhhhhh
BORDER_REFLECT = 2     # fedcba|abcdefgh|hgfedcb
BORDER_REFLECT101 = 3  # gfedcb|abcdefgh|gfedcba
BORDER_WRAP = 4        # cdefgh|abcdefgh|abcdefg
BORDERS = {"constant": BORDER_CONSTANT, "replicate": BORDER_REPLICATE,
           "reflect": BORDER_REFLECT, "reflect101": BORDER_REFLECT101, "wrap": BORDER_WRAP}

INTER_NEAREST = 0
INTER_LINEAR = 1
INTER_CUBIC = 2
INTERPOLATIONS = {"nearest": INTER_NEAREST, "linear": INTER_LINEAR, "cubic": INTER_CUBIC}

CUBIC_A = -0.75  # Keys' parameter, as OpenCV's INTER_CUBIC


@njit(cache=True)
def border_index(i, n, border):
    """Map index ``i`` into ``[0, n)`` by ``border``; -1 means "use the constant value"."""
    if 0 <= i < n:
        return i
    if border == BORDER_REPLICATE:
        return 0 if i < 0 else n - 1
    if border == BORDER_REFLECT:
        period = 2 * n
        m = i % period
        return m if m < n else period - 1 - m
    if border == BORDER_REFLECT101:
        if n == 1:
            return 0
        period = 2 * n - 2
        m = i % period
        return m if m < n else period - m
    if border == BORDER_WRAP:
        return i % n
    return -1


@njit(cache=True)
def tap(plane, yi, xi, border, border_value):
    """``plane[yi, xi]`` with the border rule applied to out-of-range indices."""
    h, w = plane.shape
    yy = border_index(yi, h, border)
    xx = border_index(xi, w, border)
    if yy < 0 or xx < 0:
        return border_value
    return plane[yy, xx]


@njit(cache=True)
def cubic_weights(t):
    """Keys cubic convolution weights for taps at offsets -1, 0, 1, 2 (a = -0.75)."""
    a = CUBIC_A
    t1 = t + 1.0
    s = 1.0 - t
    s1 = s + 1.0
    w0 = ((a * t1 - 5.0 * a) * t1 + 8.0 * a) * t1 - 4.0 * a
    w1 = ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0
    w2 = ((a + 2.0) * s - (a + 3.0)) * s * s + 1.0
    w3 = ((a * s1 - 5.0 * a) * s1 + 8.0 * a) * s1 - 4.0 * a
    return w0, w1, w2, w3


@njit(cache=True)
def sample_linear(plane, x, y, border, border_value):
    """Bilinear sample of a 2-D ``plane`` at real position (x, y), exact float weights."""
    x0f = math.floor(x)
    y0f = math.floor(y)
    fx = x - x0f
    fy = y - y0f
    x0 = int(x0f)
    y0 = int(y0f)
    h, w = plane.shape
    if 0 <= x0 and x0 + 1 < w and 0 <= y0 and y0 + 1 < h:
        p00 = plane[y0, x0]
        p01 = plane[y0, x0 + 1]
        p10 = plane[y0 + 1, x0]
        p11 = plane[y0 + 1, x0 + 1]
    else:
        p00 = tap(plane, y0, x0, border, border_value)
        p01 = tap(plane, y0, x0 + 1, border, border_value)
        p10 = tap(plane, y0 + 1, x0, border, border_value)
        p11 = tap(plane, y0 + 1, x0 + 1, border, border_value)
    top = p00 + fx * (p01 - p00)
    bottom = p10 + fx * (p11 - p10)
    return top + fy * (bottom - top)


@njit(cache=True)
def sample_nearest(plane, x, y, border, border_value):
    """Nearest-neighbour sample (round half to even, as ``cv2.remap``)."""
    return tap(plane, int(round(y)), int(round(x)), border, border_value)


@njit(cache=True)
def sample_cubic(plane, x, y, border, border_value):
    """Bicubic (Keys, a = -0.75) sample of ``plane`` at (x, y)."""
    x0f = math.floor(x)
    y0f = math.floor(y)
    x0 = int(x0f) - 1
    y0 = int(y0f) - 1
    wx0, wx1, wx2, wx3 = cubic_weights(x - x0f)
    wy0, wy1, wy2, wy3 = cubic_weights(y - y0f)
    acc = 0.0
    for j in range(4):
        wy = wy0 if j == 0 else wy1 if j == 1 else wy2 if j == 2 else wy3
        row = (wx0 * tap(plane, y0 + j, x0, border, border_value)
               + wx1 * tap(plane, y0 + j, x0 + 1, border, border_value)
               + wx2 * tap(plane, y0 + j, x0 + 2, border, border_value)
               + wx3 * tap(plane, y0 + j, x0 + 3, border, border_value))
        acc += wy * row
    return acc


@njit(cache=True)
def sample(plane, x, y, interpolation, border, border_value):
    """Sample ``plane`` at (x, y) with the given interpolation code."""
    if interpolation == INTER_NEAREST:
        return sample_nearest(plane, x, y, border, border_value)
    if interpolation == INTER_CUBIC:
        return sample_cubic(plane, x, y, border, border_value)
    return sample_linear(plane, x, y, border, border_value)
