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
    """Images ``band`` of ``n_bands`` (``parallel.run_bands``)."""
    n_images, h, w, channels = image.shape
    values = np.empty((starts[-1], channels), image.dtype)  # every level, one after another
    alpha = np.empty(starts[-1], image.dtype)
    first, last = band_range(n_images, band, n_bands)
    for n in range(first, last):
        nk = n if known.shape[0] > 1 else 0
        for y in range(h):
            for x in range(w):
                p = y * w + x
                alpha[p] = 1.0 if known[nk, y, x] else 0.0
                for c in range(channels):
                    values[p, c] = image[n, y, x, c] if known[nk, y, x] else 0.0
        for level in range(1, shapes.shape[0]):
            _pull(values, alpha, shapes, starts, level)
        for level in range(shapes.shape[0] - 2, -1, -1):
            _push(values, alpha, shapes, starts, level)
        for y in range(h):
            for x in range(w):
                for c in range(channels):
                    out[n, y, x, c] = values[y * w + x, c]


@jit
def _pull(values, alpha, shapes, starts, level):
    """Level ``level`` from ``level - 1``: tent-weighted mean of the fine values by their
    confidence; confidence = the weight sum, capped at 1."""
    fh, fw = shapes[level - 1]
    ch, cw = shapes[level]
    fine = starts[level - 1]
    coarse = starts[level]
    channels = values.shape[1]
    for i in range(ch):
        for j in range(cw):
            p = coarse + i * cw + j
            total = 0.0
            for c in range(channels):
                values[p, c] = 0.0
            for y in range(max(2 * i - 1, 0), min(2 * i + 2, fh)):
                wy = 1.0 if y == 2 * i else 0.5
                for x in range(max(2 * j - 1, 0), min(2 * j + 2, fw)):
                    q = fine + y * fw + x
                    weight = wy * (1.0 if x == 2 * j else 0.5) * alpha[q]
                    if weight > 0:
                        total += weight
                        for c in range(channels):
                            values[p, c] += weight * values[q, c]
            if total > 0:
                for c in range(channels):
                    values[p, c] /= total
            alpha[p] = min(total, 1.0)


@jit
def _push(values, alpha, shapes, starts, level):
    """Level ``level`` completed from the (completed) level ``level + 1``."""
    fh, fw = shapes[level]
    ch, cw = shapes[level + 1]
    fine = starts[level]
    coarse = starts[level + 1]
    channels = values.shape[1]
    for y in range(fh):
        i0 = y // 2
        i1 = min(i0 + y % 2, ch - 1)  # odd rows lie half-way between two coarse rows
        for x in range(fw):
            p = fine + y * fw + x
            a = alpha[p]
            if a >= 1.0:
                continue
            j0 = x // 2
            j1 = min(j0 + x % 2, cw - 1)
            q00 = coarse + i0 * cw + j0
            q01 = coarse + i0 * cw + j1
            q10 = coarse + i1 * cw + j0
            q11 = coarse + i1 * cw + j1
            for c in range(channels):
                up = 0.25 * (values[q00, c] + values[q01, c] + values[q10, c] + values[q11, c])
                values[p, c] = a * values[p, c] + (1.0 - a) * up
            alpha[p] = 1.0
