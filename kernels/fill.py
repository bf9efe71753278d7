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
``known (Nk, H, W)`` bool with ``Nk`` 1 (shared) or N. With at least as many images as
threads, the bands of ``parallel.run_bands`` take whole images; fewer images (one large
frame, as ``predict`` fills) are filled pass by pass (the pull to a level, the push into one),
each pass in bands over the rows of every image at that level: a coarse row reads three fine
rows, a fine row two coarse ones, so the rows of one pass are independent. Passes over fewer
than ``SERIAL_PIXELS`` pixels run on the calling thread. Every banding gives the same values.
"""

import numpy as np

from .jit import jit
from .parallel import band_range, bands_for, run_bands

SERIAL_PIXELS = 1 << 15  # a level with fewer pixels runs on one thread: waking workers costs more


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
    n_images, h, w, channels = image.shape
    shapes = pyramid_shapes(h, w)
    starts = np.concatenate(([0], np.cumsum(shapes[:, 0] * shapes[:, 1])))
    threads = bands_for(n_images * h * w, SERIAL_PIXELS)
    whole = n_images >= threads
    # scratch per band (whole images) or per image: the levels under the finest (which is
    # computed in out) and every level's alpha
    slots = threads if whole else n_images
    coarser = np.empty((slots, (starts[-1] - h * w) * channels), image.dtype)
    alpha = np.empty((slots, starts[-1]), image.dtype)
    # the passes in order: level 0 from the image, the pulls up to the coarsest level, the
    # pushes back down to level 0; pass q writes level levels[q]
    levels = np.concatenate((np.arange(len(shapes)), np.arange(len(shapes) - 2, -1, -1)))
    args = (image, known, shapes, starts, out, coarser, alpha, levels)
    if whole:  # one dispatch
        run_bands(_fill_pass, *args, ALL_PASSES, threads=threads)
        return
    for q, level in enumerate(levels):
        rows, cols = shapes[level]
        run_bands(_fill_pass, *args, q,
                  threads=min(bands_for(n_images * rows * cols, SERIAL_PIXELS), n_images * rows))


ALL_PASSES = -1  # _fill_pass's pass for every pass of whole images


@jit
def _fill_pass(image, known, shapes, starts, out, coarser, alpha, levels, q, band, n_bands):
    """Band ``band`` of ``n_bands`` (``parallel.run_bands``) of pass ``q`` over the rows of
    every image at its level ``levels[q]``; with ``q`` ``ALL_PASSES``, every pass in turn
    over whole images ``band`` of ``n_bands``. Pass 0 makes level 0 from the image (alpha 1
    where known, 0 and value 0 in the holes), the next ``L - 1`` pull each level from the
    finer one, the last ``L - 1`` push each level from the coarser one (``L`` levels).
    Level 0 is computed in ``out[n]``, the coarser levels and the alphas in the band's
    scratch row (whole images) or the image's."""
    n_images, h, w, channels = image.shape
    n_levels = shapes.shape[0]
    whole = q == ALL_PASSES
    rows = shapes[levels[max(q, 0)]][0]
    first, last = band_range(n_images if whole else n_images * rows, band, n_bands)
    q0, q1 = (0, levels.shape[0]) if whole else (q, q + 1)
    item = first
    while item < last:  # an image, or the band's rows of one image
        n = item if whole else item // rows
        r0 = 0 if whole else item - n * rows
        r1 = 0 if whole else min(rows, r0 + last - item)
        item += 1 if whole else r1 - r0
        finest = out[n].reshape(h * w * channels)
        coarse, alphas = coarser[band if whole else n], alpha[band if whole else n]
        for p in range(q0, q1):
            lv = levels[p]
            if whole:
                r1 = shapes[lv][0]
            if p == 0:
                source = image[n].reshape(h * w * channels)
                mask = known[n if known.shape[0] > 1 else 0].reshape(h * w)
                _level0(source, mask, finest, alphas, channels, r0 * w, r1 * w)
            elif p < n_levels:
                _pull(_level(finest, coarse, starts, lv - 1, channels),
                      alphas[starts[lv - 1]:], _level(finest, coarse, starts, lv, channels),
                      alphas[starts[lv]:], shapes[lv - 1], shapes[lv], r0, r1)
            else:
                _push(_level(finest, coarse, starts, lv, channels), alphas[starts[lv]:],
                      _level(finest, coarse, starts, lv + 1, channels), shapes[lv],
                      shapes[lv + 1], r0, r1)


@jit
def _level0(source, mask, finest, alphas, channels, start, stop):
    """Pass 0 for pixels [start, stop): alpha 1 where known, 0 in the holes; the values
    copied where known, 0 in the holes. Separate loops, and one, two and three channels
    written out, so that LLVM vectorises them."""
    zero = finest.dtype.type(0)
    one = alphas.dtype.type(1)
    for i in range(start, stop):
        alphas[i] = one if mask[i] else zero
    if channels == 1:
        for i in range(start, stop):
            finest[i] = source[i] if mask[i] else zero
    elif channels == 2:
        for i in range(start, stop):
            known = mask[i]
            finest[2 * i] = source[2 * i] if known else zero
            finest[2 * i + 1] = source[2 * i + 1] if known else zero
    elif channels == 3:
        for i in range(start, stop):
            known = mask[i]
            finest[3 * i] = source[3 * i] if known else zero
            finest[3 * i + 1] = source[3 * i + 1] if known else zero
            finest[3 * i + 2] = source[3 * i + 2] if known else zero
    else:
        for i in range(start, stop):
            for c in range(i * channels, (i + 1) * channels):
                finest[c] = source[c] if mask[i] else zero


@jit
def _level(finest, coarser, starts, level, channels):
    """The values of pyramid level ``level``, flat, ``channels`` per pixel."""
    if level == 0:
        return finest
    return coarser[(starts[level] - starts[1]) * channels:(starts[level + 1] - starts[1]) * channels]


@jit
def _pull(fine, fine_alpha, coarse, coarse_alpha, fine_shape, coarse_shape, row0, row1):
    """Rows ``row0:row1`` of a level (``coarse``, flat, its confidences ``coarse_alpha``)
    from the finer one: tent-weighted mean of the fine values by their confidence;
    confidence = the weight sum, capped at 1. The first four channels are summed in local
    variables (2x faster than in the array), rounded to the values' dtype at each step as
    the array would be."""
    fh, fw = fine_shape
    ch, cw = coarse_shape
    channels = fine.size // (fh * fw)
    cast = fine.dtype.type
    for i in range(row0, row1):
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
def _push(fine, fine_alpha, coarse, fine_shape, coarse_shape, row0, row1):
    """Rows ``row0:row1`` of a level (``fine``, flat) completed from the (completed) coarser
    one."""
    fh, fw = fine_shape
    ch, cw = coarse_shape
    channels = fine.size // (fh * fw)
    for y in range(row0, row1):
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
