"""Frame interpolation's ``"project"`` blend, CPU driver (``flowkit.interpolate``).

At time t each output pixel samples both frames backward along three hypotheses of the flow
at t (the two projected flows and Super SloMo's approximation), blends each pair of samples by
visibility, and weighs the three blends by how well their samples agree over a 3x3
neighbourhood; with bicubic sampling, the blend of the best-agreeing hypothesis is then made
again from bicubic samples and the difference added, scaled down where even those samples
disagree: ``flowkit._interpolate._project_by_warps`` states it with ``warp`` calls and array
arithmetic (the GPU path and the tests' reference); this driver computes the same float32
values in the same order, row by row, without its dozens of full-size temporaries (96 -> 31 ms
at 1280x720 RGB for bilinear sampling, docs/interpolation.md "Cost").

Pass 1 (bands of rows): per row and hypothesis, the two displacements, the bilinear samples of
both frames and of the two occlusion masks (``kernels.warp.warp_row_linear_replicate``,
``flowkit.warp``'s values), the visibility blend ``blend[k]`` (its share of frame0 kept in
``shares[k]`` for bicubic sampling) and the samples' disagreement ``error[k]``. Pass 2 (bands
of rows, after pass 1, since each pixel reads the errors of the rows above and below): the
3x3 mean of each error (edges replicated), the weights ``1 / (mean + softness)`` and the
weighted mean of the blends; for bicubic sampling, per row, the bicubic samples along each
pixel's best hypothesis (``warp_row_cubic_replicate``) and the added detail.
"""

import numpy as np

from .jit import internal, jit
from .parallel import band_range, bands_for, run_bands
from .warp import warp_row_cubic_replicate, warp_row_linear_replicate

HYPOTHESES = 3
SERIAL_VALUES = 1 << 15  # outputs below this size are computed on one thread


def project_blend_cpu(f0, f1, hidden0, hidden1, occlusion, projected0, projected1, flow01,
                      flow10, t, floor, weighed, error_unit, softness, cubic, sharp_agreement,
                      out):
    """CPU driver.

    Parameters
    ----------
    f0, f1 : ndarray (1, H, W, C), float32, the two frames
    hidden0, hidden1 : ndarray (1, H, W, 1), float32, 1 where a pixel of frame0 (frame1) is
        occluded in the other frame; read only when ``occlusion``
    occlusion : bool
    projected0, projected1 : ndarray (H, W, 2), float32, the projected flows at t (towards
        frame1), finite
    flow01, flow10 : ndarray (H, W, 2), float32, the end frames' flows (NaN where unknown:
        Super SloMo's hypothesis takes ``projected0``'s there, component by component)
    t, floor : float
        The time and the visibility floor.
    weighed : int
        The disagreement sums the first ``weighed`` channels (an RGBA frame's alpha is carried
        along, not weighed).
    error_unit, softness : float
        The disagreement's unit (``1 / (weighed * span)``) and the weights' softness.
    cubic : bool
        Add, per pixel, the bicubic detail of the hypothesis with the lowest mean
        disagreement ``e`` (the first on ties): its visibility blend of bicubic samples
        (``warp``'s ``interpolation="cubic"``) minus that of bilinear ones, times ``1 / (1 +
        (e / sharp_agreement)^2)``. Else bilinear samples only. The occlusion masks are
        always sampled bilinearly.
    sharp_agreement : float
    out : ndarray (H, W, C), float32, written
    """
    _, h, w, channels = f0.shape
    t = np.float32(t)
    one = np.float32(1)
    # the scalars in the float32 arithmetic of _project_by_warps, computed as NumPy does there
    coefs = np.array([-t, one - t,                            # projected: d0 = -t g, d1 = (1 - t) g
                      -(one - t) * t, t * t,                  # Super SloMo eq. 4, flow_t0
                      (one - t) * (one - t), t * (one - t),   # flow_t1
                      -np.float32(1 - floor),                 # a hidden sample's weight, minus 1
                      np.float32(error_unit), np.float32(softness),
                      np.float32(1 - float(t)),               # share0 without occlusion masks
                      t, sharp_agreement], np.float32)
    threads = bands_for(out.size, SERIAL_VALUES)
    n_bands = threads if threads == 1 else 4 * threads  # claimed in turn (run_bands)
    index = np.empty((n_bands, 2, w), np.int32)        # the row sampler's xs, ys
    frac = np.empty((n_bands, 2, w), np.float32)       # its fxs, fys
    disp = np.empty((n_bands, 2, 2 * w), np.float32)   # the two displacement rows
    samples = np.empty((n_bands, 2, w * channels), np.float32)
    masks = np.empty((n_bands, 2, w), np.float32)      # pass 2: best hypothesis, detail weight
    cols = np.empty((n_bands, HYPOTHESES, w), np.float32)  # pass 2: column sums of the errors
    blend = np.empty((HYPOTHESES, h, w * channels), np.float32)
    error = np.empty((HYPOTHESES, h, w), np.float32)
    # frame0's share in each blend, or None: a type of its own, so that bilinear sampling
    # alone compiles no bicubic code (Numba prunes the `shares is None` branches)
    shares = np.empty((HYPOTHESES, h, w), np.float32) if cubic else None
    run_bands(_sample_band, f0, f1, hidden0, hidden1, occlusion, projected0, projected1, flow01,
              flow10, coefs, weighed, index, frac, disp, samples, masks, blend, shares, error,
              threads=n_bands, claim=True)
    run_bands(_combine_band, f0, f1, projected0, projected1, flow01, flow10, coefs, index, frac,
              disp, samples, masks, cols, blend, shares, error, out.reshape(h, w * channels),
              threads=n_bands, claim=True)


@internal
def _displacements(k, g0, g1, f01, f10, scalars):
    """Hypothesis ``k``'s displacements ``(d0, d1)`` (frame0's sample at ``x + d0``, frame1's
    at ``x + d1``), one component, from that component of the projected flows ``g0``, ``g1``
    and of the end frames' flows ``f01``, ``f10``; ``scalars``: the first six ``coefs``. Scalars
    only (array arguments would be reference-counted at every call)."""
    minus_t, one_minus_t, t0_of01, t0_of10, t1_of01, t1_of10 = scalars
    if k < 2:
        g = g0 if k == 0 else g1
        return minus_t * g, one_minus_t * g
    s0 = t0_of01 * f01 + t0_of10 * f10
    s1 = t1_of01 * f01 - t1_of10 * f10
    return (s0 if s0 == s0 else minus_t * g0,  # NaN: the first projection's
            s1 if s1 == s1 else one_minus_t * g0)


@jit
def _sample_band(f0, f1, hidden0, hidden1, occlusion, projected0, projected1, flow01, flow10,
                 coefs, weighed, index, frac, disp_rows, sample_rows, mask_rows, blend, shares, error,
                 band, n_bands):
    """Pass 1 for rows ``band`` of ``n_bands``, with scratch rows ``[band]``."""
    _, h, w, channels = f0.shape
    src0 = f0.reshape(f0.size)
    src1 = f1.reshape(f1.size)
    mask0 = hidden0.reshape(hidden0.size)
    mask1 = hidden1.reshape(hidden1.size)
    xs, ys, fxs, fys = index[band, 0], index[band, 1], frac[band, 0], frac[band, 1]
    d0, d1 = disp_rows[band, 0], disp_rows[band, 1]
    g0, g1 = sample_rows[band, 0], sample_rows[band, 1]
    m0, m1 = mask_rows[band, 0], mask_rows[band, 1]
    scalars = (coefs[0], coefs[1], coefs[2], coefs[3], coefs[4], coefs[5])  # _displacements
    one_minus_t = coefs[1]
    hidden_gain, error_unit = coefs[6], coefs[7]
    one = np.float32(1)
    t = coefs[10]
    zero = np.float32(0)
    start, stop = band_range(h, band, n_bands)
    for y in range(start, stop):
        p0 = projected0[y].reshape(2 * w)
        p1 = projected1[y].reshape(2 * w)
        a01 = flow01[y].reshape(2 * w)
        a10 = flow10[y].reshape(2 * w)
        for k in range(HYPOTHESES):
            for i in range(2 * w):
                d0[i], d1[i] = _displacements(k, p0[i], p1[i], a01[i], a10[i], scalars)
            warp_row_linear_replicate(f0, src0, d0, y, xs, ys, fxs, fys, g0)
            warp_row_linear_replicate(f1, src1, d1, y, xs, ys, fxs, fys, g1)
            if occlusion:
                warp_row_linear_replicate(hidden1, mask1, d1, y, xs, ys, fxs, fys, m1)
                warp_row_linear_replicate(hidden0, mask0, d0, y, xs, ys, fxs, fys, m0)
            blend_row = blend[k, y]
            error_row = error[k, y]
            for x in range(w):
                if occlusion:
                    a = (m1[x] * hidden_gain + one) * one_minus_t
                    b = (m0[x] * hidden_gain + one) * t
                    if a + b == zero:  # both hidden with a floor of 0: the time weights
                        a, b = one_minus_t, t
                    share0 = a / (b + a)
                else:
                    share0 = coefs[9]
                if shares is not None:
                    shares[k, y, x] = share0
                total = zero
                for c in range(channels):
                    j = x * channels + c
                    diff = g0[j] - g1[j]
                    if c < weighed:
                        total += abs(diff)
                    blend_row[j] = diff * share0 + g1[j]
                error_row[x] = total * error_unit


@jit
def _combine_band(f0, f1, projected0, projected1, flow01, flow10, coefs, index, frac,
                  disp_rows, sample_rows, mask_rows, cols, blend, shares, error, out, band,
                  n_bands):
    """Pass 2 for rows ``band`` of ``n_bands``: ``out[y] = sum_k W_k blend[k, y] / sum_k W_k``
    with ``W_k = 1 / (e_k + softness)``, ``e_k = box3(error[k])``; unless ``shares`` is None,
    plus ``(B - blend[b, y]) / (1 + (e_b / sharp_agreement)^2)``, ``b`` the hypothesis of the
    lowest ``e_k`` and ``B`` its visibility blend of bicubic samples."""
    _, h, w = error.shape
    channels = blend.shape[2] // w
    softness = coefs[8]
    sharp_agreement = coefs[11]
    one = np.float32(1)
    nine = np.float32(9)
    src0 = f0.reshape(f0.size)
    src1 = f1.reshape(f1.size)
    xs, ys, fxs, fys = index[band, 0], index[band, 1], frac[band, 0], frac[band, 1]
    d0, d1 = disp_rows[band, 0], disp_rows[band, 1]
    c0, c1 = sample_rows[band, 0], sample_rows[band, 1]
    best, sharp = mask_rows[band, 0], mask_rows[band, 1]
    scalars = (coefs[0], coefs[1], coefs[2], coefs[3], coefs[4], coefs[5])  # _displacements
    start, stop = band_range(h, band, n_bands)
    for y in range(start, stop):
        above = max(y - 1, 0)
        below = min(y + 1, h - 1)
        for k in range(HYPOTHESES):  # the 3x3 sums' columns, each used by three pixels
            e = error[k]
            col = cols[band, k]
            for x in range(w):
                col[x] = (e[above, x] + e[y, x]) + e[below, x]
        out_row = out[y]
        blend0, blend1, blend2 = blend[0, y], blend[1, y], blend[2, y]
        for x in range(w):
            left = max(x - 1, 0)
            right = min(x + 1, w - 1)
            lowest = np.float32(np.inf)
            w0 = w1 = w2 = one
            for k in range(HYPOTHESES):
                col = cols[band, k]
                mean = ((col[left] + col[x]) + col[right]) / nine
                weight = one / (mean + softness)
                if k == 0:
                    w0 = weight
                elif k == 1:
                    w1 = weight
                else:
                    w2 = weight
                if shares is not None and mean < lowest:
                    lowest = mean
                    best[x] = k
            weight_sum = (w0 + w1) + w2
            for c in range(channels):
                j = x * channels + c
                out_row[j] = ((blend0[j] * w0 + blend1[j] * w1) + blend2[j] * w2) / weight_sum
            if shares is not None:
                ratio = lowest / sharp_agreement
                sharp[x] = one / (ratio * ratio + one)
        if shares is None:
            continue
        p0 = projected0[y].reshape(2 * w)
        p1 = projected1[y].reshape(2 * w)
        a01 = flow01[y].reshape(2 * w)
        a10 = flow10[y].reshape(2 * w)
        for i in range(2 * w):
            d0[i], d1[i] = _displacements(int(best[i // 2]), p0[i], p1[i], a01[i], a10[i], scalars)
        warp_row_cubic_replicate(f0, src0, d0, y, xs, ys, fxs, fys, c0)
        warp_row_cubic_replicate(f1, src1, d1, y, xs, ys, fxs, fys, c1)
        for x in range(w):
            k = int(best[x])
            share0 = shares[k, y, x]
            for c in range(channels):
                j = x * channels + c
                detail = ((c0[j] - c1[j]) * share0 + c1[j]) - blend[k, y, j]
                out_row[j] += detail * sharp[x]
