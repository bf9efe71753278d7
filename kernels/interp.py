"""Per-pixel sampling math shared by every kernel: border handling and interpolation.

Plain ``numba.njit`` functions, callable from CPU drivers and from ``numba.cuda`` kernels.
Border and interpolation modes are small integer codes so that one compiled specialisation
serves every mode.

Two ways in:

* ``sample_linear(plane, x, y, border, border_value)`` (and ``sample_nearest``,
  ``sample_cubic``, ``sample``) take a real position ``(x, y)`` in pixels.
* ``linear_at(plane, yi, xi, fy, fx, ...)`` (and ``nearest_at``, ``cubic_at``, ``sample_at``)
  take the position already split into integer parts and fractions in [0, 1] by
  ``split_position``. Splitting ``base + d`` (pixel index plus displacement) this way keeps
  the fraction exact: forming ``x + u`` in float32 first would lose up to 6e-5 px at
  x ~ 1000.

Positions that are NaN or infinite sample ``border_value``. Positions far outside the image
(|d| >= 2**30) are folded back (periodic borders) or clamped without changing the result, so
the float-to-int conversions never overflow.

Taps are blended in float64 (Numba types float literals as float64; scalar float64 math
costs the same as float32 on CPUs), so integer and float32 planes lose nothing in the blend.
This is deliberate also in the CUDA kernels that sample through here (``warp``, the dense LK
warp and pyramid, the variational warp): exact weights over speed, 26-143 ``.f64`` PTX
instructions per pixel, pinned in tests/cuda_compile.py (docs/conventions.md, "float64 on the
GPU").
"""

import math

import numpy as np

from .jit import jit

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

FAR = 1073741824.0  # 2**30: beyond this a displacement is folded or clamped before int()
_FAR_INT = 1073741824


@jit
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


@jit
def tap(plane, yi, xi, border, border_value):
    """``plane[yi, xi]`` with the border rule applied to out-of-range indices."""
    h, w = plane.shape
    yy = border_index(yi, h, border)
    xx = border_index(xi, w, border)
    if yy < 0 or xx < 0:
        return border_value
    return plane[yy, xx]


@jit
def is_finite(x):
    """False for NaN and +-inf (works on CPU and in CUDA kernels)."""
    return not (math.isnan(x) or math.isinf(x))


@jit
def split_position(base, d, n, border):
    """Split the position ``base + d`` into an integer index and a fraction in [0, 1].

    Parameters
    ----------
    base : int
        Integer part (the pixel's own index).
    d : float
        Displacement, finite.
    n : int
        Length of the axis (for folding far positions).
    border : int
        Border code (for folding far positions).

    Returns
    -------
    i : int
    f : float64
        ``base + d == i + f`` exactly (``f`` may round up to 1.0 for tiny negative ``d``).
    """
    if abs(d) < FAR:
        t = int(d)  # floor by truncation (math.floor is a slow libm call)
        if t > d:
            t -= 1
        # float64 fraction, exact for float32 d; for float64 d it rounds only for tiny
        # negative d, moving i + f by less than 1 ulp
        return base + t, d - float(t)
    f0 = float(math.floor(d))
    f = d - f0
    # Far away. Periodic borders: fold by the period (exact: f0 is an integer); otherwise
    # every tap is past the edge, so any far index does.
    if border == BORDER_WRAP:
        return base + int(f0 % n), f
    if border == BORDER_REFLECT:
        return base + int(f0 % (2 * n)), f
    if border == BORDER_REFLECT101:
        return base + int(f0 % max(2 * n - 2, 1)), f
    return base + (_FAR_INT if f0 > 0 else -_FAR_INT), f


@jit
def inside(i, f, n):
    """Whether the split position ``i + f`` lies in ``[0, n - 1]``."""
    return 0 <= i and (i < n - 1 or (i == n - 1 and f == 0))


@jit
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


@jit
def linear_at(plane, yi, xi, fy, fx, border, border_value):
    """Bilinear sample of ``plane`` at the split position (yi + fy, xi + fx)."""
    h, w = plane.shape
    gx = 1.0 - fx
    gy = 1.0 - fy
    if 0 <= xi and xi + 1 < w and 0 <= yi and yi + 1 < h:
        top = gx * plane[yi, xi] + fx * plane[yi, xi + 1]
        bottom = gx * plane[yi + 1, xi] + fx * plane[yi + 1, xi + 1]
        return gy * top + fy * bottom
    # Near or past the edge. A tap of weight 0 is not read (no border_value * 0 = NaN).
    x1 = xi + 1 if fx != 0 else xi
    y1 = yi + 1 if fy != 0 else yi
    top = (gx * tap(plane, yi, xi, border, border_value)
           + fx * tap(plane, yi, x1, border, border_value))
    bottom = (gx * tap(plane, y1, xi, border, border_value)
              + fx * tap(plane, y1, x1, border, border_value))
    return gy * top + fy * bottom


@jit
def nearest_index(i, f):
    """Index nearest to ``i + f`` (``f`` a fraction in [0, 1]), ties to even (as ``cv2.remap``);
    branch-free."""
    return i + ((f > 0.5) | ((f == 0.5) & (i % 2 != 0)))


@jit
def nearest_at(plane, yi, xi, fy, fx, border, border_value):
    """Nearest-neighbour sample at (yi + fy, xi + fx), ties to even (as ``cv2.remap``)."""
    return tap(plane, nearest_index(yi, fy), nearest_index(xi, fx), border, border_value)


@jit
def cubic_at(plane, yi, xi, fy, fx, border, border_value):
    """Bicubic (Keys, a = -0.75) sample of ``plane`` at (yi + fy, xi + fx)."""
    h, w = plane.shape
    wx0, wx1, wx2, wx3 = cubic_weights(fx)
    wy0, wy1, wy2, wy3 = cubic_weights(fy)
    x0 = xi - 1
    y0 = yi - 1
    acc = 0.0
    if 0 <= x0 and xi + 2 < w and 0 <= y0 and yi + 2 < h:
        for j in range(4):
            wy = wy0 if j == 0 else wy1 if j == 1 else wy2 if j == 2 else wy3
            r = y0 + j
            acc += wy * (wx0 * plane[r, x0] + wx1 * plane[r, x0 + 1]
                         + wx2 * plane[r, x0 + 2] + wx3 * plane[r, x0 + 3])
        return acc
    for j in range(4):
        wy = wy0 if j == 0 else wy1 if j == 1 else wy2 if j == 2 else wy3
        if wy == 0:  # skip taps of weight 0 (no border_value * 0 = NaN)
            continue
        row = 0.0
        for k in range(4):
            wk = wx0 if k == 0 else wx1 if k == 1 else wx2 if k == 2 else wx3
            if wk != 0:
                row += wk * tap(plane, y0 + j, x0 + k, border, border_value)
        acc += wy * row
    return acc


@jit
def sample_at(plane, yi, xi, fy, fx, interpolation, border, border_value):
    """Sample ``plane`` at the split position with the given interpolation code."""
    if interpolation == INTER_NEAREST:
        return nearest_at(plane, yi, xi, fy, fx, border, border_value)
    if interpolation == INTER_CUBIC:
        return cubic_at(plane, yi, xi, fy, fx, border, border_value)
    return linear_at(plane, yi, xi, fy, fx, border, border_value)


@jit
def sample(plane, x, y, interpolation, border, border_value):
    """Sample ``plane`` at the real position (x, y) with the given interpolation code.

    NaN or infinite positions give ``border_value``.
    """
    h, w = plane.shape
    if not (is_finite(x) and is_finite(y)):
        return border_value
    origin = np.int64(0)  # not a literal: one compiled split_position for every caller
    xi, fx = split_position(origin, x, w, border)
    yi, fy = split_position(origin, y, h, border)
    return sample_at(plane, yi, xi, fy, fx, interpolation, border, border_value)


@jit
def sample_linear(plane, x, y, border, border_value):
    """Bilinear sample of a 2-D ``plane`` at real position (x, y), exact float weights."""
    return sample(plane, x, y, INTER_LINEAR, border, border_value)


@jit
def sample_nearest(plane, x, y, border, border_value):
    """Nearest-neighbour sample (round half to even, as ``cv2.remap``)."""
    return sample(plane, x, y, INTER_NEAREST, border, border_value)


@jit
def sample_cubic(plane, x, y, border, border_value):
    """Bicubic (Keys, a = -0.75) sample of ``plane`` at (x, y)."""
    return sample(plane, x, y, INTER_CUBIC, border, border_value)
