"""Hole filling by push-pull (pull a pyramid of known values up, push estimates back down).

S. J. Gortler, R. Grzeszczuk, R. Szeliski and M. F. Cohen, "The Lumigraph", SIGGRAPH 1996
(section 3.4 "pull-push"). Every level keeps per pixel a value estimate and a confidence
``alpha`` in [0, 1]:

* pull: level ``l + 1`` (``ceil(h / 2)`` x ``ceil(w / 2)``, pixel ``i`` centred on fine pixel
  ``2 i``) averages the fine values over the 3 x 3 tent ``(1/2, 1, 1/2)**2``, weighted by their
  confidence; its confidence is that weight sum, capped at 1 (so one known child of four is
  already full confidence, which keeps the fill local);
* push: from the coarsest level down, every pixel becomes
  ``alpha * own + (1 - alpha) * coarser``, the coarser level sampled bilinearly at
  ``(y / 2, x / 2)``.

At level 0 alpha is 1 for known pixels (kept as they are) and 0 in the holes, which take the
pushed estimate. Arrays arrive C-contiguous in float32 or float64: ``image (N, H, W, C)``,
``known (Nk, H, W)`` bool with ``Nk`` 1 (shared) or N. Bands of ``parallel.run_bands`` take
whole images.
"""

import numpy as np

from .jit import jit
from .parallel import band_range, run_bands


def pyramid_shapes(h, w):
    """``(h, w)`` of every level, finest first, down to 1 x 1."""
    shapes = [(h, w)]
    while shapes[-1] != (1, 1):
        ph, pw = shapes[-1]
        shapes.append(((ph + 1) // 2, (pw + 1) // 2))
    return np.array(shapes, np.int64)


def fill_cpu(image, known, out):
    """Push-pull fill of ``image`` where ``known`` is False, into ``out`` (N, H, W, C), the
    image's dtype (every pixel written; known pixels get their own value)."""
    shapes = pyramid_shapes(image.shape[1], image.shape[2])
    starts = np.concatenate(([0], np.cumsum(shapes[:, 0] * shapes[:, 1])))
    run_bands(_fill_band, image, known, shapes, starts, out)


@jit(nogil=True)
def _fill_band(image, known, shapes, starts, out, band, n_bands):
    """Images ``band`` of ``n_bands`` (``parallel.run_bands``). Level 0 is computed in
    ``out`` itself, the coarser levels in one scratch array."""
    n_images, h, w, channels = image.shape
    pixels = h * w
    coarser = np.empty((starts[-1] - pixels) * channels, image.dtype)
    alpha = np.empty(starts[-1], image.dtype)
    first, last = band_range(n_images, band, n_bands)
    for n in range(first, last):
        source = image[n].reshape(pixels * channels)
        mask = known[n if known.shape[0] > 1 else 0].reshape(pixels)
        finest = out[n].reshape(pixels * channels)
        for p in range(pixels):
            alpha[p] = 1.0 if mask[p] else 0.0
            for c in range(p * channels, (p + 1) * channels):
                finest[c] = source[c] if mask[p] else 0.0
        for level in range(1, shapes.shape[0]):
            _pull(_level(finest, coarser, starts, level - 1, channels), alpha[starts[level - 1]:],
                  _level(finest, coarser, starts, level, channels), alpha[starts[level]:],
                  shapes[level - 1], shapes[level])
        for level in range(shapes.shape[0] - 2, -1, -1):
            _push(_level(finest, coarser, starts, level, channels), alpha[starts[level]:],
                  _level(finest, coarser, starts, level + 1, channels), shapes[level],
                  shapes[level + 1])


@jit
def _level(finest, coarser, starts, level, channels):
    """The values of pyramid level ``level``, flat, ``channels`` per pixel."""
    if level == 0:
        return finest
    return coarser[(starts[level] - starts[1]) * channels:(starts[level + 1] - starts[1]) * channels]


@jit
def _pull(fine, fine_alpha, coarse, coarse_alpha, fine_shape, coarse_shape):
    """A level (``coarse``, flat, its confidences ``coarse_alpha``) from the finer one:
    tent-weighted mean of the fine values by their confidence; confidence = the weight sum,
    capped at 1. The first four channels are summed in local variables (2x faster than in
    the array), rounded to the values' dtype at each step as the array would be."""
    fh, fw = fine_shape
    ch, cw = coarse_shape
    channels = fine.size // (fh * fw)
    cast = fine.dtype.type
    for i in range(ch):
        y0 = max(2 * i - 1, 0)
        y1 = min(2 * i + 2, fh)
        for j in range(cw):
            x0 = max(2 * j - 1, 0)
            x1 = min(2 * j + 2, fw)
            p = (i * cw + j) * channels
            for c in range(4, channels):
                coarse[p + c] = 0.0
            total = 0.0
            v0 = v1 = v2 = v3 = cast(0.0)
            for y in range(y0, y1):
                wy = 1.0 if y == 2 * i else 0.5
                for x in range(x0, x1):
                    q = y * fw + x
                    weight = wy * (1.0 if x == 2 * j else 0.5) * fine_alpha[q]
                    total += weight  # a weight of 0 adds nothing to any sum
                    q *= channels
                    v0 = cast(v0 + weight * fine[q])
                    if channels > 1:
                        v1 = cast(v1 + weight * fine[q + 1])
                    if channels > 2:
                        v2 = cast(v2 + weight * fine[q + 2])
                    if channels > 3:
                        v3 = cast(v3 + weight * fine[q + 3])
                    for c in range(4, channels):
                        coarse[p + c] += weight * fine[q + c]
            if total > 0:
                v0, v1, v2, v3 = v0 / total, v1 / total, v2 / total, v3 / total
                for c in range(4, channels):
                    coarse[p + c] /= total
            coarse[p] = v0
            if channels > 1:
                coarse[p + 1] = v1
            if channels > 2:
                coarse[p + 2] = v2
            if channels > 3:
                coarse[p + 3] = v3
            coarse_alpha[i * cw + j] = min(total, 1.0)


@jit
def _push(fine, fine_alpha, coarse, fine_shape, coarse_shape):
    """A level (``fine``, flat) completed from the (completed) coarser one."""
    fh, fw = fine_shape
    ch, cw = coarse_shape
    channels = fine.size // (fh * fw)
    for y in range(fh):
        i0 = y // 2
        i1 = min(i0 + y % 2, ch - 1)  # odd rows lie half-way between two coarse rows
        for x in range(fw):
            p = y * fw + x
            a = fine_alpha[p]
            if a >= 1.0:
                continue
            j0 = x // 2
            j1 = min(j0 + x % 2, cw - 1)
            q00 = (i0 * cw + j0) * channels
            q01 = (i0 * cw + j1) * channels
            q10 = (i1 * cw + j0) * channels
            q11 = (i1 * cw + j1) * channels
            for c in range(channels):
                up = 0.25 * (coarse[q00 + c] + coarse[q01 + c] + coarse[q10 + c] + coarse[q11 + c])
                fine[p * channels + c] = a * fine[p * channels + c] + (1.0 - a) * up
            fine_alpha[p] = 1.0
