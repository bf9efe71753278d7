"""Frame interpolation by optical flow (``flowkit.interpolate``, ``flowkit.interpolate_video``):
bidirectional flow, forward-backward occlusion masks, then softmax splatting or backward
warping of both frames to time t, blended by visibility. Built only from the public operators
(the estimators, ``warp``, ``splat``, ``fill_holes``)."""

import collections.abc
import itertools
import numbers

import numpy as np

from . import _validate
from ._backend import CUDA, array_module, as_array, check_device, kept_copy, select_device
from ._estimators import get_estimator

METHODS = ("project", "splat", "backward", "blend", "learned")
# methods that sample both frames backward, and how ("interpolation"; bicubic by default,
# docs/interpolation.md "Bicubic sampling"); "learned" refines "project"
BACKWARD_SAMPLING = ("project", "backward", "learned")
INTERPOLATIONS = ("cubic", "linear")
# methods whose softmax-splatting metrics read the frames' brightness (_metrics)
METRIC_METHODS = ("project", "splat", "learned")
# softmax-splatting importance: -_METRIC_SCALE * |I0 - backwarp(I1, flow01)| in units of the
# pair's intensity range, mean over channels (_splat.brightness_error). Niklaus and Liu use
# 20; on docs/interpolation.md's triplets 5 scored highest in the mean with both DIS (35.24 dB;
# 10: 35.19, 20: 35.03) and Farneback (34.73; 10: 34.67)
_METRIC_SCALE = 5.0
# metric taken off source pixels that are occluded in the other frame: a visible contribution
# of comparable bilinear weight wins where both land. Not much more: the weights are bilinear
# weight * exp(metric), so near t = 0 a large penalty let a neighbour's 1e-9 tap outweigh an
# occluded pixel's own tap (a jump of 76 levels between t = 0 and t = 1e-9 with 100). Not much
# less: with exact flows a weight of e**-5 keeps the covered background out of a moving object
# (tests/test_interpolate.py), e**-2 did not; on docs/interpolation.md's triplets 2 and 5 score
# within 0.02 dB
_OCCLUDED_PENALTY = 5.0
# Farneback options interpolate uses by default (flow="farneback" without flow_options; given
# options are applied on top): larger window, more iterations and the wider polynomial
# expansion raised the mean PSNR of docs/interpolation.md from 33.97 to 34.65 dB (mostly the
# large motion of DAVIS dive-in, 21.4 -> 25.1 dB), at a higher cost than the estimator's own
# defaults
_FARNEBACK_OPTIONS = {"winsize": 21, "iterations": 10, "poly_n": 7, "poly_sigma": 1.5}
# forward-backward consistency (Sundaram, Brox and Keutzer 2010)
_ALPHA1 = 0.01
_ALPHA2 = 0.5
# methods "project" and "backward": the share of its time weight a sample keeps where the occlusion masks say
# its frame does not see the pixel. Not 0: the result must tend to frame0 as t -> 0 whatever
# the masks say, and the masks of estimated flows are often wrong (0 lost up to 0.22 dB on the
# held-out training triplets of docs/interpolation.md against 0.1, 0.04 dB in their mean; with
# exact flows the square's trail is 0.016 off against 0.053 without masks, tests/test_interpolate.py)
_VISIBILITY_FLOOR = 0.1
# method="project": each flow hypothesis weighs 1 / (e + _CONSISTENCY_SOFTNESS), e the 3x3 mean
# of |frame0 sample - frame1 sample| in units of the pair's range (0.003-0.03 and 5x5 scored
# within 0.01 dB)
_CONSISTENCY_SOFTNESS = 0.01
# interpolation="cubic" with "project": the bicubic detail of the best hypothesis is added with
# the weight 1 / (1 + (e / _SHARP_AGREEMENT)^2), e its 3x3 mean disagreement. Where the samples
# disagree the flow is wrong or the frames are noisy, and bicubic sampling sharpens the error:
# bicubic everywhere lost up to 0.16 dB on compressed video (docs/interpolation.md's ucf101/2
# and DAVIS); 0.02-0.05 scored within 0.01 dB on the 25 training-clip triplets
_SHARP_AGREEMENT = 0.03


def check_interpolation(interpolation, method):
    """``interpolation`` for ``method``: ``"cubic"`` or ``"linear"`` for the methods that
    sample backward (None: ``"cubic"``), None for the others (whose samples are splats)."""
    if interpolation is None:
        return "cubic" if method in BACKWARD_SAMPLING else None
    interpolation = _validate.check_choice("interpolation", interpolation, INTERPOLATIONS)
    if method not in BACKWARD_SAMPLING:
        sampling = ", ".join(map(repr, BACKWARD_SAMPLING[:-1])) + f" and {BACKWARD_SAMPLING[-1]!r}"
        raise ValueError(f"interpolation: expected None with method={method!r} (only {sampling} "
                         f"sample the frames backward), got {interpolation!r}")
    return interpolation


def _check_t(t, name="t", open_ends=False):
    """``t`` as a list of floats in [0, 1] (``open_ends``: in (0, 1)) and whether it was one
    number."""
    interval = "(0, 1)" if open_ends else "[0, 1]"
    if isinstance(t, numbers.Real) and not isinstance(t, bool):
        return [_validate.check_float(name, t, low=0.0, high=1.0, low_open=open_ends,
                                      high_open=open_ends)], True
    if hasattr(t, "shape") and hasattr(t, "dtype"):
        if getattr(t, "ndim", 1) == 0:  # its Python element, checked as given: float() took
            # np.array("0.5") and np.array(True) and raised its own error for a datetime64
            return _check_t(t.item() if hasattr(t, "item") else float(t), name, open_ends)
        if t.ndim != 1:
            raise ValueError(f"{name}: expected a number or a 1-D sequence of numbers, got shape "
                             f"{tuple(t.shape)}")
        t = (t if hasattr(t, "tolist") else np.asarray(t)).tolist()  # checked as a list's
    elif isinstance(t, collections.abc.Sequence) and not isinstance(t, (str, bytes)):
        t = list(t)  # a list, tuple, range, ...
    else:
        raise TypeError(f"{name}: expected a number in [0, 1] or a sequence of them, got "
                        f"{_validate.describe(t)}")
    if not t:
        raise ValueError(f"{name}: expected at least one time in {interval}, got an empty sequence")
    return [_validate.check_float(f"{name}[{i}]", v, low=0.0, high=1.0, low_open=open_ends,
                                  high_open=open_ends) for i, v in enumerate(t)], False


def _estimator_options(flow, flow_options):
    """interpolate's Farneback defaults under the caller's options (other estimators: as given)."""
    if isinstance(flow, str) and flow == "farneback" and (flow_options is None
                                                          or isinstance(flow_options, dict)):
        return {**_FARNEBACK_OPTIONS, **(flow_options or {})}
    return flow_options


def _check_flows(flow01, flow10, lead, note=""):
    """Check the caller's flows against the frames' ``(H, W)`` or ``(N, H, W)`` (``note``:
    ``_validate.read_as_batch`` of frame0, for a shape error)."""
    if (flow01 is None) != (flow10 is None):
        given, missing = ("flow01", "flow10") if flow10 is None else ("flow10", "flow01")
        raise ValueError(f"{missing}: expected an array together with {given} (give both flows or "
                         f"neither), got None")
    if flow01 is None:
        return None, None
    flows = []
    for name, f in (("flow01", flow01), ("flow10", flow10)):
        f = as_array(f, name)
        _validate.check_flow(name, f, shape=lead, note=note)
        flows.append(f)
    return flows


def _occlusion(flow_ab, flow_ba):
    """Pixels of frame a occluded in frame b: the forward flow and the backward flow at its
    target do not cancel (Sundaram et al. 2010). Unknown flow counts as occluded."""
    from ._warp import warp_linear

    xp, _ = array_module(flow_ab)
    back = warp_linear(flow_ba, flow_ab)
    u, v, bu, bv = flow_ab[..., 0], flow_ab[..., 1], back[..., 0], back[..., 1]
    # per component (NumPy's reductions over a length-2 last axis are ~10x slower), in place:
    # lhs = (u + bu)^2 + (v + bv)^2, rhs = ALPHA1 ((u^2 + v^2) + (bu^2 + bv^2)) + ALPHA2
    lhs = u + bu
    lhs *= lhs
    term = v + bv
    term *= term
    lhs += term
    rhs = u * u
    rhs += xp.multiply(v, v, out=term)
    rhs += xp.add(xp.multiply(bu, bu, out=term), bv * bv, out=term)
    rhs *= _ALPHA1
    rhs += _ALPHA2
    return ~(lhs <= rhs)


def _leaves_image(flow):
    """Pixels whose target ``x + flow`` lies more than half a pixel outside the image (out of
    view in the other frame, which a sample there reads from the replicated border): hidden
    for the visibility weights of the backward-sampling methods, as occluded pixels are."""
    xp, _ = array_module(flow)
    h, w = flow.shape[-3:-1]
    x = flow[..., 0] + xp.arange(w, dtype=flow.dtype)
    y = flow[..., 1] + xp.arange(h, dtype=flow.dtype)[:, None]
    return (x < -0.5) | (x > w - 0.5) | (y < -0.5) | (y > h - 0.5)


def _prepare(frame0, frame1, flow01, flow10, occlusion, method):
    """Everything that does not depend on t: flows, occlusion masks, splat metrics."""
    occ0 = occ1 = None
    if occlusion:
        occ0 = _occlusion(flow01, flow10)
        occ1 = _occlusion(flow10, flow01)
    state = {"flow01": flow01, "flow10": flow10, "occlusion0": occ0, "occlusion1": occ1}
    if method in BACKWARD_SAMPLING and occ0 is not None:  # float32 masks for warp
        state["hidden0"] = (occ0 | _leaves_image(flow01)).astype(np.float32)
        state["hidden1"] = (occ1 | _leaves_image(flow10)).astype(np.float32)
    if method in ("project", "learned"):
        from ._splat import intensity_span

        state["span"] = intensity_span(frame0, frame1)  # brightness_error's unit
        xp, _ = array_module(flow01)
        state["flows_finite"] = bool(xp.isfinite(flow01).all() and xp.isfinite(flow10).all())
    if method in METRIC_METHODS:
        xp, _ = array_module(frame0)
        state["metric0"], state["metric1"] = _metrics(frame0, frame1, flow01, flow10, occ0, occ1)
    if method in ("splat", "learned") and not bool(xp.isfinite(flow01).all()
                                                   and xp.isfinite(flow10).all()):
        known = _known_flows(state, None)
        if known is not None:  # else nothing lands anywhere: the cross-fade (_splat_parts)
            # splatted as if the caller had given the filled flows: their occlusion masks in
            # the metric (a filled vector agrees with the other flow; counted as occluded, it
            # let its finite neighbours' taps outweigh its own near t = 0)
            state["splat_flow01"], state["splat_flow10"] = known
            if occlusion:
                occ0, occ1 = _occlusion(*known), _occlusion(*known[::-1])
            state["metric0"], state["metric1"] = _metrics(frame0, frame1, *known, occ0, occ1)
    return state


def _metrics(frame0, frame1, flow01, flow10, occ0, occ1):
    """The softmax-splatting metrics of both frames (float32 ``(H, W)``)."""
    from ._splat import brightness_error

    xp, _ = array_module(frame0)
    metrics = []
    for a, b, f, occ in ((frame0, frame1, flow01, occ0), (frame1, frame0, flow10, occ1)):
        metric = -_METRIC_SCALE * brightness_error(a, b, f)
        if occ is not None:
            metric = metric - _OCCLUDED_PENALTY * occ
        metrics.append(xp.clip(metric, -_METRIC_SCALE - _OCCLUDED_PENALTY, 0.0)
                       .astype(np.float32))
    return metrics


def _known_flows(state, device):
    """For ``"splat"``: ``flow01`` and ``flow10`` with their unknown (not finite) vectors
    replaced as ``"project"`` fills its projections: ``-flow10`` carried to frame0's pixels
    (softmax splatting along ``flow10``) where it lands, ``flowkit.fill_holes`` elsewhere (and
    symmetrically for ``flow10``), so that every pixel of both frames lands somewhere and the
    result tends to frame0 as t -> 0 and to frame1 as t -> 1. Finite vectors are kept as
    given; None when no vector of either flow is finite."""
    xp, _ = array_module(state["flow01"])
    at0 = _projected_flows(0.0, state, device)  # [0]: flow01, -flow10's projection where unknown
    if at0 is None:
        return None
    at1 = _projected_flows(1.0, state, device)  # [1]: -flow10, flow01's projection where unknown
    flows = []
    for flow, filled in ((state["flow01"], at0[0]), (state["flow10"], -at1[1])):
        unknown = ~_validate.known_vectors(flow)[..., None]
        flows.append(xp.where(unknown, filled, flow))
    return flows


def _splat_at(f0, f1, t, state, device):
    """Both frames (float32) splatted to time t (softmax), blended by (1 - t) W0 and t W1,
    holes filled."""
    return _splat_parts(f0, f1, t, state, device)["base"]


def _splats(f0, f1, t, state, device):
    """Both frames (float32) softmax-splatted to time t, ``(s0, s1, a, b)``: the splats (0
    where nothing landed) and their blending weights ``a = (1 - t) min(W0, 1)``,
    ``b = t min(W1, 1)`` (``(H, W)``)."""
    from ._splat import splat

    xp, _ = array_module(f0)
    flow01 = state.get("splat_flow01", state["flow01"])  # unknown vectors filled (_known_flows)
    flow10 = state.get("splat_flow10", state["flow10"])
    s0, w0 = splat(f0, np.float32(t) * flow01, mode="softmax", metric=state["metric0"],
                   return_weight=True, device=device)
    s1, w1 = splat(f1, np.float32(1 - t) * flow10, mode="softmax",
                   metric=state["metric1"], return_weight=True, device=device)
    a = (1 - t) * xp.minimum(w0, 1.0)
    b = t * xp.minimum(w1, 1.0)
    s0[~(a > 0)] = 0  # NaN where nothing landed; in place (s0, s1 are the splats' own arrays)
    s1[~(b > 0)] = 0
    return s0, s1, a, b


def _splat_parts(f0, f1, t, state, device):
    """:func:`_splat_at`'s result (``"base"``) with its parts: the splats ``"s0"``, ``"s1"``
    (0 where nothing landed) and their blending weights ``"a"``, ``"b"``."""
    from ._fill import fill_holes

    s0, s1, a, b = _splats(f0, f1, t, state, device)
    total = a + b
    holes = ~(total > 0)
    total[holes] = 1
    if s0.ndim == 3:
        a, b, total = a[..., None], b[..., None], total[..., None]
    out = a * s0  # (a * s0 + b * s1) / total with one temporary
    out += b * s1
    out /= total
    if bool(holes.any()):
        out = (1 - t) * f0 + t * f1 if bool(holes.all()) else fill_holes(out, holes)
    return {"base": out, "s0": s0, "s1": s1, "a": a, "b": b}


def _learned_parts(f0, f1, t, state, device):
    """What the ``interp-refine`` network refines: :func:`_splat_parts`' splats and weights,
    and ``"project"``'s result (:func:`_project_at`) as ``"base"`` (the splats' own blend and
    hole filling are not computed), with the projected flows at t as ``"projected"``."""
    s0, s1, a, b = _splats(f0, f1, t, state, device)
    if s0.ndim == 3:
        a, b = a[..., None], b[..., None]
    base, projected = _project_at(f0, f1, t, state, device)
    return {"base": base, "s0": s0, "s1": s1, "a": a, "b": b, "projected": projected}


def _learned_at(f0, f1, t, state, device, model, scale):
    """:func:`_learned_parts` refined by the ``interp-refine`` network (flowkit.models), and
    the projected flows at t (:func:`_projected_flows`)."""
    from .models.interp_refine import refine_arrays

    parts = _learned_parts(f0, f1, t, state, device)
    return refine_arrays(model, f0, f1, t, parts, state, scale), parts["projected"]


def _flows_at(t, flow01, flow10):
    """Super SloMo eq. 4: flows from time t to frame 0 and to frame 1 (linear motion, the
    flow at t approximated by the flows at the same pixel of the end frames)."""
    t = np.float32(t)
    flow_t0 = -(1 - t) * t * flow01 + t * t * flow10
    flow_t1 = (1 - t) * (1 - t) * flow01 - t * (1 - t) * flow10
    return flow_t0, flow_t1


def _backward_at(f0, f1, t, state, device):
    """Both frames (float32) warped back from time t along Super SloMo's flows, blended by
    their visibility."""
    from ._warp import warp

    xp, _ = array_module(f0)
    flow_t0, flow_t1 = _flows_at(t, state["flow01"], state["flow10"])
    # NaN where a flow at t is unknown: that frame does not see the pixel (as an occlusion)
    mode = state["interpolation"]
    g0 = warp(f0, flow_t0, interpolation=mode, border_value=np.nan, device=device)
    g1 = warp(f1, flow_t1, interpolation=mode, border_value=np.nan, device=device)
    a = np.float32(1 - t)
    b = np.float32(t)
    known0 = ~xp.isnan(g0 if g0.ndim == 2 else g0[..., 0])
    known1 = ~xp.isnan(g1 if g1.ndim == 2 else g1[..., 0])
    if state["occlusion0"] is not None:
        a, b = _visibility_weights(state, flow_t0, flow_t1, a, b, device)
    a = xp.where(known0, a, np.float32(0)) * xp.ones(known0.shape, np.float32)
    b = xp.where(known1, b, np.float32(0)) * xp.ones(known1.shape, np.float32)
    neither = (a + b) == 0  # both flows unknown: the cross-fade
    a = xp.where(neither, np.float32(1 - t), a)
    b = xp.where(neither, np.float32(t), b)
    g0 = xp.where(xp.isnan(g0), f0, g0)
    g1 = xp.where(xp.isnan(g1), f1, g1)
    if g0.ndim == 3:
        a, b = a[..., None], b[..., None]
    return (a * g0 + b * g1) / (a + b), (flow_t0, flow_t1)


def _visibility_weights(state, flow_t0, flow_t1, weight0, weight1, device):
    """The time weights ``weight0`` (of frame0's sample, taken along ``flow_t0``) and
    ``weight1`` (frame1's, along ``flow_t1``) times the samples' visibilities, for
    ``"project"`` and ``"backward"``: frame0 does not see a pixel whose frame1 sample is hidden
    in frame0 (``occlusion1`` read there), nor frame1 one whose frame0 sample is hidden in
    frame1. A hidden sample keeps ``_VISIBILITY_FLOOR`` of its weight, so the result tends to
    frame0 as t -> 0 whatever the masks say; with a floor of 0 (a variant only), where both
    are hidden, the time weights."""
    from ._warp import warp

    hidden = np.float32(1 - _VISIBILITY_FLOOR)
    weights = []
    for mask, flow, time_weight in ((state["hidden1"], flow_t1, weight0),
                                    (state["hidden0"], flow_t0, weight1)):
        weight = warp(mask, flow, device=device)
        weight *= -hidden
        weight += 1
        weight *= time_weight
        weights.append(weight)
    a, b = weights
    if _VISIBILITY_FLOOR == 0:
        xp, _ = array_module(a)
        both = (a + b) == 0
        a, b = xp.where(both, weight0, a), xp.where(both, weight1, b)
    return a, b


def _projected_flows(t, state, device):
    """Baker et al.'s flow projection: flow01 carried to time t by softmax splatting along
    ``t * flow01``, and -flow10 along ``(1 - t) * flow10`` (the metrics of ``"splat"`` decide
    where several land). Where nothing of one lands, the other's value is taken; where nothing
    of either lands, ``fill_holes`` fills. Two ``(H, W, 2)`` flows from time t towards frame1
    (the displacement to frame0 is ``-t`` times it); None when no flow lands anywhere."""
    from ._fill import fill_float32
    from ._splat import splat

    xp, _ = array_module(state["flow01"])
    t32 = np.float32(t)
    p0, w0 = splat(state["flow01"], t32 * state["flow01"], mode="softmax",
                   metric=state["metric0"], return_weight=True, device=device)
    p1, w1 = splat(state["flow10"], (1 - t32) * state["flow10"], mode="softmax",
                   metric=state["metric1"], return_weight=True, device=device)
    p1 *= -1
    missing0, missing1 = ~(w0 > 0), ~(w1 > 0)  # NaN in the splat
    holes = missing0 & missing1
    if bool(holes.all()):
        return None
    _copy_vectors(p0, p1, missing0)
    _copy_vectors(p1, p0, missing1)  # p0 is unchanged there unless both miss
    if bool(holes.any()):
        p0 = fill_float32(p0, holes)  # finite where known: the splats' values
        _copy_vectors(p1, p0, holes)
    return p0, p1


def _copy_vectors(dst, src, where):
    """``dst[where] = src[where]`` for C-contiguous float32 flows ``(H, W, 2)`` and a bool
    ``(H, W)`` mask. On NumPy each vector is copied as one complex64: a copy under the
    broadcast ``(H, W, 1)`` mask took ~4x longer (4.4 ms at 1280x720)."""
    xp, _ = array_module(dst)
    if xp is np:
        np.copyto(dst.view(np.complex64)[..., 0], src.view(np.complex64)[..., 0], where=where)
    else:
        xp.copyto(dst, src, where=where[..., None])


def _box3(image):
    """The 3x3 mean of a 2-D array (edges replicated), NumPy or CuPy."""
    xp, _ = array_module(image)
    padded = xp.pad(image, 1, mode="edge")
    h, w = image.shape
    rows = padded[0:h] + padded[1:h + 1] + padded[2:h + 2]
    return (rows[:, 0:w] + rows[:, 1:w + 1] + rows[:, 2:w + 2]) / np.float32(9)


def _weighed_channels(frame):
    """How many leading channels of ``frame`` weigh the hypotheses of ``"project"``: all of
    them but an RGBA frame's alpha, which is carried along (as the estimators ignore it)."""
    channels = frame.shape[2] if frame.ndim == 3 else 1
    return 3 if channels == 4 else channels


def _project_at(f0, f1, t, state, device):
    """Both frames (float32) sampled backward from time t along three hypotheses of the flow
    at t (each frame's flow projected, Super SloMo's approximation), each hypothesis blended by
    visibility and the three weighted by how well their two samples agree
    (:func:`_project_by_warps`; on the CPU in one compiled pass, ``kernels.project``); and
    the projected flows (:func:`_projected_flows`)."""
    projected = _projected_flows(t, state, device)
    if projected is None:  # no flow known anywhere: the cross-fade
        return (1 - t) * f0 + t * f1, None
    xp, _ = array_module(f0)
    if xp is not np or select_device(device, frame=f0) == CUDA:
        return _project_by_warps(f0, f1, t, projected, state, device), projected
    from .kernels.project import project_blend_cpu

    def image4(a):  # (1, H, W, C) float32, C-contiguous
        return np.ascontiguousarray(a.reshape(a.shape[:2] + (-1,))[None], np.float32)

    channels = f0.shape[2] if f0.ndim == 3 else 1
    weighed = _weighed_channels(f0)
    occlusion = state["occlusion0"] is not None
    hidden0, hidden1 = ((image4(state["hidden0"]), image4(state["hidden1"])) if occlusion
                        else (np.zeros((1, 1, 1, 1), np.float32),) * 2)
    out = np.empty(f0.shape[:2] + (channels,), np.float32)
    flows = [np.ascontiguousarray(f, np.float32)
             for f in (*projected, state["flow01"], state["flow10"])]
    project_blend_cpu(image4(f0), image4(f1), hidden0, hidden1, occlusion, *flows, t,
                      _VISIBILITY_FLOOR, weighed, 1 / (weighed * state["span"]),
                      _CONSISTENCY_SOFTNESS, state["interpolation"] == "cubic", _SHARP_AGREEMENT,
                      out)
    return out.reshape(f0.shape), projected


def _project_by_warps(f0, f1, t, projected, state, device):
    """:func:`_project_at` by ``flowkit.warp`` calls and array arithmetic (NumPy or CuPy):
    the statement of the method, the GPU path and the CPU kernel's reference in the tests.
    ``projected``: :func:`_projected_flows`' two flows."""
    from ._splat import channel_sum
    from ._warp import warp

    xp, _ = array_module(f0)
    t32 = np.float32(t)
    hypotheses = [(-t32 * g, (1 - t32) * g) for g in projected]
    slomo = _flows_at(t, state["flow01"], state["flow10"])
    if not state["flows_finite"]:  # Super SloMo's flows where known, the first projection's elsewhere
        for s, h in zip(slomo, hypotheses[0]):
            xp.copyto(s, h, where=xp.isnan(s))
    hypotheses.append(slomo)
    weighed = _weighed_channels(f0)
    # |g0 - g1| summed over the weighed channels, in units of the pair's range
    error_unit = np.float32(1 / (weighed * state["span"]))
    total = weight_sum = None
    means, blends = [], []  # for the bicubic detail
    for flow_t0, flow_t1 in hypotheses:
        g0 = warp(f0, flow_t0, device=device)
        g1 = warp(f1, flow_t1, device=device)
        if state["occlusion0"] is None:
            share0 = np.float32(1 - t)
        else:
            a, b = _visibility_weights(state, flow_t0, flow_t1, 1 - t32, t32, device)
            b += a
            share0 = a / b
            share0 = share0[..., None] if f0.ndim == 3 else share0
        g0 -= g1  # g0 is now the difference of the two samples
        error = channel_sum(xp.abs(g0 if f0.ndim == 2 else g0[..., :weighed]))
        error *= error_unit
        mean = _box3(error)
        weight = mean + np.float32(_CONSISTENCY_SOFTNESS)
        weight = xp.reciprocal(weight, out=weight)
        g0 *= share0
        g0 += g1  # the visibility blend share0 * g0 + (1 - share0) * g1
        means.append(mean)
        blends.append((share0, g0.copy()))
        g0 *= weight[..., None] if f0.ndim == 3 else weight
        if total is None:
            total, weight_sum = g0, weight
        else:
            total += g0
            weight_sum += weight
    total /= weight_sum[..., None] if f0.ndim == 3 else weight_sum
    if state["interpolation"] == "cubic":
        total += _bicubic_detail(f0, f1, hypotheses, means, blends, device)
    return total


def _bicubic_detail(f0, f1, hypotheses, means, blends, device):
    """What ``interpolation="cubic"`` adds to the bilinear blend of ``"project"``: per pixel,
    for the hypothesis whose samples agree best (lowest 3x3 mean disagreement ``e``, the
    first on ties), its visibility blend of bicubic samples minus that of bilinear ones,
    times ``1 / (1 + (e / _SHARP_AGREEMENT)^2)``. ``blends``: per hypothesis, the share of
    frame0 and the bilinear blend."""
    from ._warp import warp

    xp, _ = array_module(f0)
    best = xp.argmin(xp.stack(means), axis=0)
    channel = (lambda a: a[..., None]) if f0.ndim == 3 else (lambda a: a)
    # each pixel's values of its best hypothesis (best broadcast over the trailing axis)
    flow_t0, flow_t1 = (xp.choose(best[..., None], [h[i] for h in hypotheses]) for i in (0, 1))
    c0 = warp(f0, flow_t0, interpolation="cubic", device=device)
    c1 = warp(f1, flow_t1, interpolation="cubic", device=device)
    lowest = xp.choose(best, means)
    share0 = blends[0][0]
    if not isinstance(share0, np.float32):  # per-pixel shares: the best hypothesis' own
        share0 = xp.choose(channel(best), [s for s, _ in blends])
    blend = xp.choose(channel(best), [b for _, b in blends])
    c0 -= c1
    c0 *= share0
    c0 += c1  # the bicubic visibility blend
    c0 -= blend
    ratio = lowest / np.float32(_SHARP_AGREEMENT)
    ratio *= ratio
    ratio += np.float32(1)
    c0 *= channel(xp.reciprocal(ratio, out=ratio))
    return c0


def _unknown_as_nan(flow):
    """``flow`` (float32, the caller's copy) with every unknown vector
    (``_validate.known_vectors``: NaN, infinity or Middlebury's 1e9 marker), NaN in both
    components: the one form of unknown motion the methods handle."""
    unknown = ~_validate.known_vectors(flow)
    if bool(unknown.any()):
        flow[unknown] = np.nan
    return flow


def _method_model(method, model):
    """The ``interp-refine`` network for ``method="learned"``: the shipped one (loaded once)
    for None, a weights file (loaded once per path), or the caller's module; None for the
    other methods, where ``model`` must be None (``interpolate`` and ``retime``)."""
    if method == "learned":
        from .models._api import predictor_model

        return predictor_model("interp-refine", model)
    if model is not None:
        raise ValueError(f"model: expected None unless method='learned', got "
                         f"{_validate.describe(model)} with method={method!r}")
    return None


def _to_dtype(result, dtype):
    """A float ``result`` the caller owns (no view of an input: unsigned outputs are rounded
    and clipped in it, without full-size temporaries) as ``dtype``."""
    if dtype.kind == "u":
        xp, _ = array_module(result)
        info = np.iinfo(dtype)
        result = xp.rint(result, out=result)
        return xp.clip(result, 0, info.max, out=result).astype(dtype)
    return result.astype(dtype, copy=False)


def _interpolate_pair(frame0, frame1, times, state, method, device, model=None,
                      flows_at_t=False):
    """The frames at ``times`` for one pair (one (H, W[, C]) frame each), and per time the flows
    at t (:func:`_method_flows_at`; for ``"splat"`` and at t = 0 and 1 only with
    ``flows_at_t``, where they cost work of their own; None for ``"blend"``)."""
    dtype = np.dtype(frame0.dtype)
    f0, f1 = frame0.astype(np.float32), frame1.astype(np.float32)  # once for all the times
    bounds = None
    if method != "blend":
        # each channel kept within its range over the pair: bicubic samples overshoot next to
        # edges (1.05 in [0, 1] on Venus), the learned residual anywhere (1.0005 on
        # RubberWhale), and weighted means by a rounding step (1 + 2.4e-7)
        xp, _ = array_module(f0)
        # rows first, then columns: a reduction over (0, 1) at once took 15 ms at 1280x720 RGB;
        # NaN pixels of float frames ignored (they stay NaN where they reach the result)
        lows = [xp.nanmin(xp.nanmin(f, axis=0), axis=0) for f in (f0, f1)]
        highs = [xp.nanmax(xp.nanmax(f, axis=0), axis=0) for f in (f0, f1)]
        bounds = xp.minimum(*lows), xp.maximum(*highs)
    scale = _learned_scale(dtype, bounds) if method == "learned" else None
    outs, flows_t = [], []
    for t in times:
        if t == 0.0:
            out, flow_t = frame0.copy(), None
        elif t == 1.0:
            out, flow_t = frame1.copy(), None
        else:
            out, flow_t = _frame_at(f0, f1, t, state, method, device, model, scale, bounds,
                                    dtype, flows_at_t)
        if (flows_at_t and flow_t is None and method != "blend"
                and state["flow01"] is not None):
            flow_t = _method_flows_at(t, state, method, device)
        outs.append(out)
        flows_t.append(flow_t)
    return outs, flows_t


def _frame_at(f0, f1, t, state, method, device, model, scale, bounds, dtype, flows_at_t):
    """One frame of :func:`_interpolate_pair` at ``0 < t < 1`` in ``dtype``, and its flows at
    t where ``flows_at_t`` and the method made them on the way (else None). A function of its
    own, so that its float32 result and projected flows are dropped before the next time is
    made; flows at t nobody asked for are not kept (they held 1.3 float32 RGB frames a time)."""
    flow_t = projected = None
    if method == "blend":
        return _to_dtype((1 - t) * f0 + t * f1, dtype), None
    if method == "backward":
        result, flow_t = _backward_at(f0, f1, t, state, device)
    elif method == "project":
        result, projected = _project_at(f0, f1, t, state, device)
    elif method == "learned":
        result, projected = _learned_at(f0, f1, t, state, device, model, scale)
    else:
        result = _splat_at(f0, f1, t, state, device)
    out = _to_dtype(_within(result, bounds), dtype)
    if not flows_at_t:
        return out, None
    if method in ("project", "learned"):
        flow_t = _scaled_projections(t, projected, state)
    return out, flow_t


def _method_flows_at(t, state, method, device):
    """The flows from time t to frame0 and to frame1 (two ``(H, W, 2)`` float32 arrays) that
    ``return_aux`` reports: Super SloMo's for ``"backward"`` (:func:`_flows_at`, what it
    samples along); for the splatting methods Baker et al.'s projection
    (:func:`_scaled_projections`)."""
    if method == "backward":
        return _flows_at(t, state["flow01"], state["flow10"])
    return _scaled_projections(t, _projected_flows(t, state, device), state)


def _scaled_projections(t, projected, state):
    """``(-t p0, (1 - t) p1)`` of :func:`_projected_flows`' two flows: from time t back to
    where frame0's pixels came from (``flow01`` carried along ``t * flow01``) and to
    frame1's (``-flow10`` along ``(1 - t) * flow10``), each filled from the other where
    nothing of its frame lands; NaN when no flow is known anywhere (``projected`` None)."""
    if projected is None:
        xp, _ = array_module(state["flow01"])
        unknown = xp.full(state["flow01"].shape, np.nan, np.float32)
        return unknown, unknown.copy()
    t32 = np.float32(t)
    return -t32 * projected[0], (1 - t32) * projected[1]


def _learned_scale(dtype, bounds):
    """The full scale of a pair for the ``interp-refine`` network
    (:func:`_validate.learned_full_scale`; ``bounds``: the pair's per-channel ranges)."""
    top = 0.0 if dtype.kind == "u" else float(max(bounds[1].max(), -bounds[0].min()))
    return _validate.learned_full_scale(dtype, top)


def _within(result, bounds):
    """``result`` (the caller's array) clipped in place to ``bounds`` (per channel), if any.
    A frame's bounds are repeated along a row and the frame clipped as (H, W * C) rows: NumPy
    broadcasting a (C,) array loops over C values at a time (9.1 ms at 1280x720 RGB against
    2.1 ms; the same values)."""
    if bounds is not None:
        xp, _ = array_module(result)
        low, high = bounds
        if result.ndim == 3 and result.flags.c_contiguous:
            rows = result.reshape(result.shape[0], -1)
            width = result.shape[1]
            xp.clip(rows, xp.tile(low, width), xp.tile(high, width), out=rows)
        else:
            xp.clip(result, low, high, out=result)
    return result


def _learned_rgba(frame0, frame1, times, state, device, model, flows_at_t):
    """``method="learned"`` on one RGBA pair (``state`` prepared from the RGB channels): the
    RGB channels as the RGB pair gives them, alpha as ``method="splat"`` carries it."""
    xp, _ = array_module(frame0)
    rgb, flows_t = _interpolate_pair(frame0[..., :3], frame1[..., :3], times, state, "learned",
                                     device, model, flows_at_t)
    outs = []
    for t, out in zip(times, rgb):
        if t in (0.0, 1.0):
            outs.append((frame0 if t == 0.0 else frame1).copy())
            continue
        alpha = _splat_at(frame0[..., 3:].astype(np.float32), frame1[..., 3:].astype(np.float32),
                          t, state, device)
        outs.append(xp.concatenate([out, _to_dtype(alpha, np.dtype(frame0.dtype))], axis=-1))
    return outs, flows_t


def interpolate(frame0, frame1, t=0.5, *, flow="dis", flow_options=None, flow01=None,
                flow10=None, method="project", interpolation=None, occlusion=True,
                return_aux=False, device=None, model=None):
    """Interpolate the frame(s) at time ``t`` between ``frame0`` (t = 0) and ``frame1`` (t = 1).

    The flows in both directions are estimated once per pair (or given), pixels that one
    frame hides in the other are found by forward-backward consistency, and both frames are
    carried to time ``t`` and blended by how well each sees every pixel.

    Parameters
    ----------
    frame0, frame1 : array, (H, W), (H, W, C), (N, H, W) or (N, H, W, C)
        The two frames (or N pairs), of one shape and dtype: uint8, uint16, float16, float32
        or float64 (floats in [0, 1], docs/conventions.md); C <= 4 channels for the
        estimators. An RGBA pair is weighed by its RGB channels (the estimators, the splat
        metrics and ``"project"``'s agreement weights read them alone) and its alpha is
        carried along the same flows and weights: the RGB channels of the result are the RGB
        pair's, whatever the alpha, to float32 rounding (with bicubic sampling a rounding step
        can change the hypothesis whose detail a pixel takes: up to 1.7e-4 in [0, 1]
        measured; at most one level in uint8). A 3-D array is one ``(H, W, C)`` frame when its last axis has at most 4
        entries and a gray batch ``(N, H, W)`` otherwise (``_validate.frames_layout``, the
        layout rule of docs/conventions.md); give a batch of fewer than 5 gray frames as
        ``(N, H, W, 1)``. An error that this reading leads to (frames too small for the
        estimator, flows of one frame's shape) ends with a note saying how the array was
        read. NumPy runs on the CPU, CuPy on the GPU.
    t : float or sequence of floats
        Time(s) in [0, 1]: 0 is ``frame0``, 1 is ``frame1``. With a sequence the flows and
        occlusion masks are still computed once per pair.
    flow : str or callable
        The estimator: a name from ``flowkit.list_estimators()`` (default ``"dis"``, DIS with
        the medium preset: 0.5 dB higher mean PSNR than Farneback on docs/interpolation.md's
        triplets and 2-2.5x faster than interpolate's Farneback options) or a callable ``(frame0, frame1) -> flow`` with flowkit's convention. Called twice per
        pair, ``flow(frame0, frame1)`` and ``flow(frame1, frame0)``. Not used when
        ``flow01`` and ``flow10`` are given, nor for ``method="blend"`` (whose ``flow`` and
        ``flow_options`` are still checked).
    flow_options : dict, optional
        Keyword options of the named estimator (e.g. ``{"preset": "fast"}`` for ``"dis"``),
        checked against its signature before any work. For ``"farneback"`` interpolate starts
        from its own defaults, ``winsize=21, iterations=10, poly_n=7, poly_sigma=1.5`` (chosen
        by the mean PSNR of docs/interpolation.md when Farneback was the default; slower than
        ``farneback``'s own defaults: ``retime`` took 0.78 against 0.43 s per 720p output
        frame in benchmarks/bench_retime.py), and the given options replace those they name.
    flow01, flow10 : array, (H, W, 2) or (N, H, W, 2), float, optional
        The caller's flows, ``frame0 -> frame1`` and ``frame1 -> frame0`` (flowkit's
        convention: ``frame0[y, x] ~ frame1[y + v, x + u]`` for ``flow01``), both or neither.
        ``(N, H, W, 2)`` for a batch of N pairs. A vector with a NaN or infinite component, or
        one of magnitude >= 1e9 (Middlebury's marker), is unknown, as for ``flowkit.warp``:
        every method treats them alike (below, "Unknown (NaN)").
    method : {"project", "splat", "backward", "blend", "learned"} or a registered name
        * ``"project"`` (default): both frames sampled backward (``flowkit.warp``, bicubic by
          default, replicated border) from time t along three hypotheses of the flow at t, and the three
          results averaged with weights ``1 / (e + 0.01)``, ``e`` the 3x3 mean of ``|sample of
          frame0 - sample of frame1|`` (mean over channels, in units of the pair's intensity
          range): where the hypotheses differ, the one whose two samples agree wins. The
          hypotheses: ``flow01`` projected to time t (Baker et al. 2011: carried along ``t *
          flow01`` by softmax splatting with ``"splat"``'s metric; sampling ``frame0`` at ``x
          - t G(x)`` and ``frame1`` at ``x + (1 - t) G(x)``), ``-flow10`` projected from the
          other side along ``(1 - t) * flow10``, each taking the other's value where nothing of
          it lands and ``flowkit.fill_holes`` where neither does, and Super SloMo's
          approximation (below). Each is blended with weights ``(1 - t) V0`` and ``t V1``,
          the visibilities read at the samples (``V0 = 1 - 0.9 occlusion1`` at the frame1
          sample: frame0 does not see a pixel whose frame1 source it hides, and vice versa;
          a pixel whose flow leads more than half a pixel outside the other frame counts as
          hidden, so a pan's entering strip is not half the replicated border;
          ``(1 - t)`` and ``t`` with ``occlusion=False``). The 0.1 left to a hidden sample
          keeps the result continuous at t = 0 and 1 and loses less where the masks of
          estimated flows are wrong. With bilinear sampling, on docs/interpolation.md's
          triplets +0.05 dB over ``"splat"`` in the mean, and on real video (25 held-out
          triplets of the training clips) +0.47 dB, up to +1.8 dB on the person-detection
          clip, where splatting smears, for about 2x ``"splat"``'s time per t; with the
          default bicubic detail (``interpolation``) +0.58 dB over ``"splat"`` on the triplets.
        * ``"splat"``: ``frame0`` splatted forward by ``t * flow01`` and ``frame1``
          by ``(1 - t) * flow10`` (``flowkit.splat``, ``mode="softmax"``) with the metric
          ``-5 * |frame0 - warp(frame1, flow01)|`` (intensities in [0, 1], mean over
          channels; Niklaus and Liu 2020's non-learned metric, whose factor 20 scored 0.2 dB
          lower on docs/interpolation.md's data; symmetric for frame1), so that
          where several pixels land on one the one that obeys brightness constancy best wins.
          With ``occlusion=True`` source pixels occluded in the other frame get a metric 5
          lower: where a visible pixel of similar bilinear weight lands too, it wins. The two splats are blended with weights ``(1 - t) * min(W0, 1)`` and
          ``t * min(W1, 1)``, W0, W1 the accumulated bilinear splat weights (visibility: 0
          where nothing landed); pixels neither frame reaches are filled by
          ``flowkit.fill_holes`` (push-pull). Unknown (NaN) vectors of a given flow are
          filled first, as ``"project"`` fills its projections: ``flow01`` takes ``-flow10``
          carried to frame0's pixels (softmax splatting along ``flow10``) where that lands and
          ``flowkit.fill_holes`` elsewhere, ``flow10`` symmetrically; the splats, their metric
          and its occlusion masks use the filled flows (``return_aux`` gives the caller's
          flows and their masks). So every pixel lands and the result tends to frame0 as t ->
          0 and to frame1 as t -> 1 (unknown pixels were dropped, a jump of 0.1 at t = 1e-9
          next to them); flows unknown everywhere give the cross-fade.
        * ``"backward"``: the flows from time t to the frames approximated as in Super SloMo
          (eq. 4), ``F_t0 = -(1 - t) t F01 + t^2 F10``, ``F_t1 = (1 - t)^2 F01 - t (1 - t) F10``;
          both frames backward-warped (``flowkit.warp``, bicubic by default, replicated
          border) and
          blended with weights ``(1 - t) V_t0`` and ``t V_t1``, the visibilities at t: ``V_t0 =
          1 - 0.9 warp(occlusion1, F_t1)`` (frame0 does not see a pixel whose frame1 source it
          hides, or whose flow leads more than half a pixel outside frame0; the 0.1 kept, as
          in ``"project"``, keeps the result continuous at t = 0 and 1) and ``V_t1 = 1 - 0.9
          warp(occlusion0, F_t0)`` (with ``occlusion=False``, ``1 - t`` and ``t``). A frame
          whose flow at t is unknown (NaN) does not contribute.
        * ``"blend"``: the cross-fade ``(1 - t) frame0 + t frame1`` (no flow), for comparison
          and for scene cuts.
        * ``"learned"``: ``"project"`` refined by the ``"interp-refine"`` network of
          ``flowkit.models`` (needs ``pip install "flowkit-cv[torch]"``; docs/models.md): from
          both frames, both ``"splat"`` splats ``S0``, ``S1`` and their weights ``a``, ``b``,
          the ``"project"`` result ``P``, the occlusion masks and the flows scaled to t it
          predicts a log-weight ``d`` and a residual ``r``, and the result is
          ``P + m(d) - m(0) + r`` with ``m(d) = (a e^d S0 + b e^-d S1) / (a e^d + b e^-d)``:
          ``P`` moved towards one splat or the other, plus a residual (``"project"``'s result
          for ``d = r = 0``). Gray, RGB or RGBA frames: of RGBA frames the network refines
          the RGB channels (the RGB pair's result, bit for bit) and alpha is ``"splat"``'s
          alpha of the RGBA pair (the network was trained on colour, not on masks); runs
          where the model lives (CPU unless the caller's ``model`` is on the GPU).
        * a name registered with ``flowkit.models.register_interpolator(name, module)``: the
          caller's ``torch.nn.Module`` ``(frame0, frame1, t) -> frame`` on ``(N, C, H, W)``
          float32 tensors in [0, 1] and ``t`` ``(N,)`` (docs/models.md); no flow is estimated
          and ``device`` does not apply; ``flow`` other than the default, ``flow_options``,
          ``flow01``, ``flow10``, ``occlusion=False`` or ``return_aux=True`` is a ValueError.
    interpolation : {None, "cubic", "linear"}
        How ``"project"`` (and so ``"learned"``) and ``"backward"`` sample the frames
        (``flowkit.warp``'s ``interpolation``; the occlusion masks are always read
        bilinearly). None (default): ``"cubic"``, Keys' bicubic convolution (a = -0.75, as
        OpenCV's ``INTER_CUBIC``), which keeps the fine texture that bilinear sampling at
        fractional positions blurs. With
        ``"project"`` the hypotheses are sampled and weighted bilinearly, then each pixel
        gets the bicubic detail of the hypothesis whose samples agree best: its blend of
        bicubic samples minus its blend of bilinear ones, times ``1 / (1 + (e / 0.03)^2)``
        (``e`` its mean disagreement, as above), so that where even the best samples
        disagree (a wrong flow, noisy frames), bicubic sampling does not sharpen the error.
        On docs/interpolation.md's triplets +0.53 dB over ``"linear"`` in the mean
        (RubberWhale +2.0 dB), +0.64 dB on sharp sequence frames, +0.63 dB on triplets cut
        from the shared videos, +0.03 dB on the training clips; about 1.8x the per-t time of
        ``"linear"`` with ``"project"``, 2x with ``"backward"`` (docs/interpolation.md,
        "Bicubic sampling"). Must be None for the other methods, which splat or cross-fade.
    occlusion : bool
        Use forward-backward occlusion masks (see Notes).
    return_aux : bool
        Also return a dict of the intermediate results (see Returns).
    device : {None, "cpu", "cuda"}
        Where warping and splatting run; None follows the input's array type.
    model : None, str, Path or torch.nn.Module
        Only with ``method="learned"``: None for the shipped weights, a path to a
        ``.safetensors`` file of the ``interp-refine`` architecture (``flowkit train``), or a
        module from ``flowkit.models.get_model("interp-refine", ...)``.

    Returns
    -------
    frames : array
        For one t: the input's shape ``(H, W[, C])`` (batches ``(N, H, W[, C])``); for a
        sequence of K times ``(K, H, W[, C])`` (batches ``(N, K, H, W[, C])``). The input's
        dtype (integers rounded and saturated; float64 frames are computed in float32: their
        results are within about 1e-7 of a float64 computation). Every method but ``"blend"``
        keeps each channel within its range over the pair (bicubic samples overshoot next to
        sharp edges, the learned residual anywhere): float frames in [0, 1] give results in
        [0, 1].
        ``t = 0`` and ``t = 1`` give copies of the inputs, bit for bit.
    aux : dict
        Only with ``return_aux=True``: ``"flow01"``, ``"flow10"`` (``(H, W, 2)`` or
        ``(N, H, W, 2)``; None for ``"blend"`` when not given), ``"occlusion0"``,
        ``"occlusion1"`` (bool ``(H, W)`` or ``(N, H, W)``, True where a pixel of frame0 is
        hidden in frame1, and vice versa; None when ``occlusion=False`` or for ``"blend"``)
        and ``"flow_t0"``, ``"flow_t1"``: the flows from time t to frame0 and to frame1
        (``(H, W, 2)`` float32, with a leading K axis for a sequence of times, after the
        pair axis for batches; None for ``"blend"``). For ``"backward"`` Super SloMo's, which
        it samples along; for ``"splat"``, ``"project"`` and ``"learned"`` Baker et al.'s
        projection: ``-t P0`` and ``(1 - t) P1``, ``P0`` being ``flow01`` carried to time t
        (softmax-splatted along ``t * flow01`` with the splat's metric) and ``P1`` being
        ``-flow10`` carried along ``(1 - t) * flow10``, each taken from the other where
        nothing of its frame lands and filled by ``flowkit.fill_holes`` where neither does
        (``"project"`` samples along these and Super SloMo's flows, weighed per pixel); NaN
        where no flow is known at all. ``"splat"`` computes them only for ``return_aux``
        (two splats of the flows per t).

    Raises
    ------
    ValueError
        Float frames with a NaN or infinite value (the estimators' check; with given flows,
        for ``"project"``, ``"splat"`` and ``"learned"``, whose brightness metrics need finite
        frames); ``t`` outside [0, 1], not finite, or an empty sequence; an unknown ``method``,
        ``interpolation`` (or one given for a method that does not sample backward),
        estimator name or estimator option; frames of different shapes; ``flow01`` or
        ``flow10`` of the wrong shape or only one of them; a flow array together with
        ``flow_options``; an unknown ``device``; flow options or ``return_aux`` with a
        registered interpolator ``method``; frames that are not 2-D to 4-D, or empty; a
        ``model`` without ``method="learned"``.
    ImportError
        ``method="learned"`` without torch installed (the message names the extra).
    TypeError
        ``model`` of another type; frames of different or unsupported dtypes; ``t`` not a
        number; a non-bool ``occlusion`` or ``return_aux``; ``flow`` neither a name nor a
        callable; a non-float flow array; ``flow_options`` not a dict; a non-string
        ``method`` or ``interpolation``; NumPy and GPU arrays mixed.

    Notes
    -----
    Occlusion (Sundaram, Brox and Keutzer 2010): pixel x of frame0 is occluded in frame1 when
    ``|F01(x) + F10(x + F01(x))|^2 > 0.01 (|F01(x)|^2 + |F10(x + F01(x))|^2) + 0.5``
    (``F10`` sampled bilinearly); the same with the roles swapped for frame1. Unknown (NaN)
    flow counts as occluded. The interpolation is computed in float32 (in the input's units)
    and converted back at the end. Accuracy against the peers (cross-fade, OpenCV Farneback
    and DIS with naive bidirectional warping) is in docs/interpolation.md.

    References: S. Niklaus and F. Liu, "Softmax Splatting for Video Frame Interpolation",
    CVPR 2020; H. Jiang et al., "Super SloMo: High Quality Estimation of Multiple Intermediate
    Frames for Video Interpolation", CVPR 2018; S. Baker et al., "A Database and Evaluation
    Methodology for Optical Flow", IJCV 92(1), 2011 (the interpolation benchmark and its
    flow-projection algorithm); N. Sundaram, T. Brox and K. Keutzer, "Dense Point Trajectories
    by GPU-Accelerated Large Displacement Optical Flow", ECCV 2010.

    Examples
    --------
    >>> import numpy as np, flowkit
    >>> y, x = np.mgrid[0:60, 0:80]
    >>> frame0 = (0.5 + 0.4 * np.sin(x / 5.0) * np.cos(y / 7.0)).astype(np.float32)
    >>> frame1 = np.roll(frame0, 2, axis=1)          # everything 2 px to the right
    >>> middle = flowkit.interpolate(frame0, frame1)  # ~ frame0 shifted by 1 px
    >>> middle.shape, middle.dtype
    ((60, 80), dtype('float32'))
    >>> flowkit.interpolate(frame0, frame1, [0.25, 0.5, 0.75]).shape
    (3, 60, 80)
    """
    return interpolate_chunk(frame0, frame1, t, flow=flow, flow_options=flow_options,
                             flow01=flow01, flow10=flow10, method=method,
                             interpolation=interpolation, occlusion=occlusion,
                             return_aux=return_aux, device=device, model=model,
                             flows_at_t=return_aux)


def interpolate_chunk(frame0, frame1, t, *, flow, flow_options, flow01, flow10, method,
                      interpolation, occlusion, return_aux, device, model, flows_at_t):
    """:func:`interpolate` (every option given), whose aux has the flows at t only with
    ``flows_at_t``: ``retime`` and the ``interpolate`` command call it chunk by chunk of
    times and take only the pair's flows from the first chunk's aux (``"splat"`` would
    compute the flows at t for the aux alone)."""
    frame0, frame1, batched, has_channels = _validate.check_frame_pair(frame0, frame1)
    times, single = _check_t(t)
    from .models.adapters import list_adapters

    if method in list_adapters("interpolator"):  # a registered torch module (flowkit.models.adapters)
        check_interpolation(interpolation, method)
        check_device(device)  # it does not apply, but a bad one is refused (as predict's adapters)
        given = {"flow": flow != "dis", "flow_options": flow_options is not None,
                 "flow01": flow01 is not None, "flow10": flow10 is not None,
                 "occlusion": occlusion is not True, "return_aux": return_aux is not False}
        if any(given.values()):  # as predict refuses return_flow and model for its adapters
            name = next(k for k, v in given.items() if v)
            raise ValueError(f"{name}: not available with the registered interpolator "
                             f"method={method!r} (no flow is estimated)")
        return _adapter_interpolate(method, frame0, frame1, times, single, batched, has_channels,
                                    model)
    method = _validate.check_choice("method", method, METHODS + tuple(list_adapters("interpolator")))
    if method == "learned" and has_channels and frame0.shape[-1] not in (1, 3, 4):
        raise ValueError(f"frame0: expected gray, RGB or RGBA frames for method='learned', got "
                         f"{frame0.shape[-1]} channels")
    model = _method_model(method, model)
    interpolation = check_interpolation(interpolation, method)
    occlusion = _validate.check_bool("occlusion", occlusion)
    return_aux = _validate.check_bool("return_aux", return_aux)
    lead = tuple(frame0.shape[:3] if batched else frame0.shape[:2])
    note = _validate.read_as_batch("frame0", frame0)  # for errors of a gray batch's reading
    flow01, flow10 = _check_flows(flow01, flow10, lead, note)
    select_device(device, frame0=frame0, frame1=frame1, flow01=flow01, flow10=flow10)
    if flow01 is not None and flow_options is not None:
        raise ValueError("flow_options: expected None when flow01 and flow10 are given (the flows "
                         f"are used as given, no estimator runs), got {flow_options!r}")
    if flow01 is not None and method in METRIC_METHODS and frame0.dtype.kind == "f":
        for name, frame in (("frame0", frame0), ("frame1", frame1)):  # as the estimators check
            _validate.check_finite(name, frame)  # (the brightness metrics need finite frames)
    estimate = None
    if flow01 is None:  # checked for "blend" too, which estimates nothing
        estimate = get_estimator(flow, _estimator_options(flow, flow_options))
        if method == "blend" or (all(t in (0.0, 1.0) for t in times) and not return_aux):
            estimate = None  # the cross-fade, or the inputs themselves: no flow needed

    xp, _ = array_module(frame0)
    rgba = has_channels and frame0.shape[-1] == 4  # weighed by RGB, alpha carried along
    pairs0 = frame0 if batched else frame0[None]
    pairs1 = frame1 if batched else frame1[None]
    results, auxes = [], []
    for n in range(pairs0.shape[0]):
        a, b = pairs0[n], pairs1[n]
        if flow01 is not None:
            f01 = (flow01[n] if batched else flow01).astype(np.float32)
            f10 = (flow10[n] if batched else flow10).astype(np.float32)
        elif estimate is not None:
            with _validate.noting_layout(note):  # the estimator sees one (H, W) frame
                f01 = estimate(a, b).astype(np.float32)
                f10 = estimate(b, a).astype(np.float32)
        else:
            f01 = f10 = None
        if f01 is not None:
            f01, f10 = _unknown_as_nan(f01), _unknown_as_nan(f10)
        if method == "blend" or f01 is None:
            state = {"flow01": f01, "flow10": f10, "occlusion0": None, "occlusion1": None}
        elif rgba:  # metrics, agreement weights and their unit from the RGB channels
            state = _prepare(a[..., :3], b[..., :3], f01, f10, occlusion, method)
        else:
            state = _prepare(a, b, f01, f10, occlusion, method)
        state["interpolation"] = interpolation
        if rgba and method == "learned" and state["flow01"] is not None:
            outs, flows_t = _learned_rgba(a, b, times, state, device, model, flows_at_t)
        else:
            outs, flows_t = _interpolate_pair(a, b, times, state, method, device, model,
                                              flows_at_t)
        results.append(outs[0] if single else xp.stack(outs))
        aux = {key: state[key] for key in ("flow01", "flow10", "occlusion0", "occlusion1")}
        for i, key in enumerate(("flow_t0", "flow_t1") if flows_at_t else ()):
            aux[key] = (None if flows_t[0] is None else flows_t[0][i] if single
                        else xp.stack([f[i] for f in flows_t]))
        auxes.append(aux)
    result = xp.stack(results) if batched else results[0]
    if not return_aux:
        return result
    if not batched:
        return result, auxes[0]
    merged = {key: (None if auxes[0][key] is None else xp.stack([a[key] for a in auxes]))
              for key in auxes[0]}
    return result, merged


TIMES_PER_CALL = 4  # frames interpolate_chunk makes per call: memory for as many, not all


def interpolated_frames(frame0, frame1, times, *, flow="dis", flow_options=None,
                        method="project", interpolation=None, occlusion=True, device=None,
                        model=None):
    """:func:`interpolate`'s frames at ``times`` (any iterable of floats, read lazily), yielded
    one by one and computed ``TIMES_PER_CALL`` at a time, the same values as one call at every
    time: the first call returns the two flows (``return_aux``) and the later ones take them,
    so they are estimated once, and memory holds a few frames whatever the number of times
    (deep slow motion in ``retime``, ``interpolate_video`` and the ``interpolate`` command)."""
    from .models.adapters import list_adapters

    adapter = method in list_adapters("interpolator")  # estimates no flow, takes none
    given = {"flow": flow, "flow_options": flow_options, "flow01": None, "flow10": None}
    times = iter(times)
    while chunk := list(itertools.islice(times, TIMES_PER_CALL)):
        frames = interpolate_chunk(frame0, frame1, chunk, method=method,
                                   interpolation=interpolation, occlusion=occlusion,
                                   device=device, model=model, return_aux=not adapter,
                                   flows_at_t=False, **given)
        if not adapter:
            frames, aux = frames
            if aux["flow01"] is not None:
                given.update(flow_options=None, flow01=aux["flow01"], flow10=aux["flow10"])
        yield from frames


def _adapter_interpolate(method, frame0, frame1, times, single, batched, has_channels, model):
    from .models.adapters import interpolate_pair

    if model is not None:
        raise ValueError(f"model: expected None unless method='learned', got "
                         f"{_validate.describe(model)} with method={method!r}")
    xp, _ = array_module(frame0)
    pairs0, pairs1 = (frame0, frame1) if batched else (frame0[None], frame1[None])
    results = [interpolate_pair(method, a, b, times, has_channels) for a, b in zip(pairs0, pairs1)]
    results = [r[0] if single else xp.stack(r) for r in results]
    return xp.stack(results) if batched else results[0]


def interpolate_video(frames, *, factor=2, times=None, scene_threshold=None, **options):
    """Yield a video with frames interpolated between each consecutive pair.

    Parameters
    ----------
    frames : iterable of arrays (H, W) or (H, W, C), or an array (T, H, W[, C])
        The input video, all frames of one shape and dtype (checked pair by pair as
        :func:`interpolate` checks them). Read lazily: one pair is held at a time, and its
        new frames are made a few at a time (the two flows once), so memory stays flat
        whatever ``factor``.
    factor : int
        Frame-rate multiplier, >= 1: ``factor - 1`` new frames between each pair, at
        ``t = j / factor`` for ``j = 1 .. factor - 1``. ``factor=1`` yields the input.
    times : sequence of floats in (0, 1), optional
        The times of the new frames within each pair instead of ``factor`` (sorted
        ascending, each strictly between 0 and 1); give one or the other.
    scene_threshold : float, optional
        Scene-cut threshold in percent, 0 < scene_threshold <= 100 (``flowkit.retime``'s test,
        FFmpeg ``minterpolate``'s ``scd``: a pair's mean absolute difference and its change
        from the previous pair's both reach it; the first pair is compared with 0). Across a
        cut nothing is warped: each new frame repeats the nearer input frame (the earlier one
        at t = 0.5), as ``retime`` does. None (default): every pair is interpolated.
    **options
        Keyword options of :func:`interpolate` (``flow``, ``flow_options``, ``method``,
        ``interpolation``, ``occlusion``, ``device``, ``model``); not ``t``, ``flow01``,
        ``flow10`` or ``return_aux``.

    Yields
    ------
    frame : array
        Each input frame followed by the new frames up to the next input frame, then the last
        input frame: ``T + (T - 1) * (factor - 1)`` frames for T inputs (or
        ``T + (T - 1) * len(times)``). Input frames are yielded as given (across a scene cut,
        the repeated frame of an iterator is a copy: a reader may refill one buffer).

    Raises
    ------
    ValueError
        ``factor`` < 1; ``times`` and ``factor`` both given, or times outside (0, 1) or not
        ascending; ``scene_threshold`` outside (0, 100]; an option ``interpolate`` does not
        take here; an unknown ``device`` (at the call, as the other options); an array
        ``frames`` that is not a video (one frame). Errors of :func:`interpolate` for each
        pair.
    TypeError
        A non-integer ``factor`` (``"2"``, ``2.0``), with or without ``times``; ``frames``
        not an iterable; a non-number ``scene_threshold``; an option name ``interpolate``
        does not take; options of the wrong type (as :func:`interpolate`).

    Notes
    -----
    Each pair's two flows are computed once for all its new frames. The forward flow of one
    pair is not reused as the backward flow of the next: ``farneback(a, b)`` and
    ``-farneback(b, a)`` differ, and both directions are needed for the occlusion masks.

    Examples
    --------
    >>> import numpy as np, flowkit
    >>> rng = np.random.default_rng(0)
    >>> video = [rng.random((32, 40)).astype(np.float32) for _ in range(3)]
    >>> len(list(flowkit.interpolate_video(video, factor=4, method="blend")))
    9
    """
    for key in ("t", "flow01", "flow10", "return_aux"):
        if key in options:
            raise ValueError(f"{key}: expected no {key} for interpolate_video (the times come from "
                             f"factor or times, the flows from the estimator), got {key}="
                             f"{_validate.describe(options[key])}")
    allowed = ("flow", "flow_options", "method", "interpolation", "occlusion", "device", "model")
    for key in options:
        if key not in allowed:
            raise TypeError(f"interpolate_video() got an unexpected keyword argument {key!r}; "
                            f"its options are factor, times, {', '.join(allowed)}")
    factor = _validate.check_int("factor", factor, min_value=1)  # its type with times too
    if times is not None:
        if factor != 2:
            raise ValueError(f"factor: expected the default with times given (give one of them), "
                             f"got {factor!r}")
        times, _ = _check_t(times, "times", open_ends=True)
        for i, v in enumerate(times):
            if i and v <= times[i - 1]:
                raise ValueError(f"times[{i}]: expected ascending times, got {v} after "
                                 f"{times[i - 1]}")
    if scene_threshold is not None:
        scene_threshold = _validate.check_float("scene_threshold", scene_threshold, low=0,
                                                high=100, low_open=True)
    _validate.check_frames_iterable("frames", frames, " (read a video with flowkit.iter_frames)")
    if hasattr(frames, "shape") and (frames.ndim < 3 or (frames.ndim == 3 and
                                                         _validate.frames_layout(frames) == (False, True))):
        raise ValueError(f"frames: expected a video (T, H, W) or (T, H, W, C), got shape "
                         f"{tuple(frames.shape)}, which looks like one frame")
    # check the options before the first frame is read (for "blend" too, as interpolate does)
    from .models.adapters import list_adapters  # a registered interpolator, as interpolate

    method = _validate.check_choice("method", options.get("method", "project"),
                                    METHODS + tuple(list_adapters("interpolator")))
    check_interpolation(options.get("interpolation"), method)
    check_device(options.get("device"))
    flow = options.get("flow", "dis")
    get_estimator(flow, _estimator_options(flow, options.get("flow_options")))
    return _video(frames, factor, times, scene_threshold, options)


def _video(frames, factor, times, scene_threshold, options):
    from ._retime import scene_change

    def pair_times():  # factor's times made as they are used: factor=10**9 holds no list
        return (j / factor for j in range(1, factor)) if times is None else times

    previous = None
    mafd = 0.0  # the scene test's state: the previous pair's difference
    # a reader (an iterator) may refill one buffer (_backend.kept_copy): its frame is held as a
    # copy; a list's or an array's is held (and repeated across a cut) as given
    one_pass = iter(frames) is frames
    for index, frame in enumerate(frames):
        if previous is not None and (factor > 1 if times is None else times):
            _validate.check_frame_pair(previous, frame,
                                       (f"frames[{index - 1}]", f"frames[{index}]"))
            cut = False
            if scene_threshold is not None:
                cut, mafd = scene_change(previous, frame, mafd, scene_threshold)
            if cut:  # the nearer input frame, as retime
                yield from (previous if t <= 0.5 else frame for t in pair_times())
            else:
                yield from interpolated_frames(previous, frame, pair_times(), **options)
        yield frame
        previous = kept_copy(frame, f"frames[{index}]") if one_pass else frame
