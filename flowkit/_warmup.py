"""Warm-up calls: one call of each public function on tiny inputs, to fill Numba's cache.

``CASES`` maps a name to a callable taking no arguments; ``flowkit warmup`` runs them in
worker processes and ``benchmarks/cold_start.py`` can time them one by one. Every kernel is
compiled with ``cache=True``, so once a case has run in any process, later processes load its
machine code from Numba's on-disk cache instead of compiling it again.
"""

import time

import numpy as np

__all__ = ["CASES", "GROUPS", "run_cases"]

_SHAPE = (48, 64)  # large enough for two Farneback pyramid levels and 5x5 expansions


def _inputs():
    rng = np.random.default_rng(0)
    gray = (rng.random(_SHAPE) * 255).astype(np.uint8)
    rgb = (rng.random(_SHAPE + (3,)) * 255).astype(np.uint8)
    flow = rng.normal(0, 2, _SHAPE + (2,)).astype(np.float32)
    points = rng.uniform(8, 40, (20, 2)).astype(np.float32)
    return gray, rgb, flow, points


def _case(call):
    """Wrap ``call(flowkit, gray, rgb, flow, points)`` as a callable without arguments."""

    def run():
        import flowkit

        call(flowkit, *_inputs())

    return run


# name -> callable without arguments (the same calls as benchmarks/cold_start.py's CASES)
CASES = {
    "farneback_gray": _case(lambda fk, gray, rgb, flow, pts: fk.farneback(gray, gray)),
    "farneback_rgb": _case(lambda fk, gray, rgb, flow, pts: fk.farneback(rgb, rgb)),
    # dis: its kernels, Farneback's INTER_AREA and bilinear resize drivers, the variational
    # refinement; gray and colour share one compilation (planar float32 frames)
    "dis_gray": _case(lambda fk, gray, rgb, flow, pts: fk.dis(gray, gray)),
    "dis_rgb": _case(lambda fk, gray, rgb, flow, pts: fk.dis(rgb, rgb, init_flow=flow)),
    "lucas_kanade": _case(lambda fk, gray, rgb, flow, pts: fk.lucas_kanade(gray, gray)),
    "lucas_kanade_rgb": _case(lambda fk, gray, rgb, flow, pts: fk.lucas_kanade(rgb, rgb)),
    # the Gaussian window is its own band driver (the defaults do not compile it)
    "lucas_kanade_gaussian": _case(
        lambda fk, gray, rgb, flow, pts: fk.lucas_kanade(gray, gray, gaussian=True)),
    "lucas_kanade_sparse": _case(lambda fk, gray, rgb, flow, pts: fk.lucas_kanade_sparse(gray, gray, pts)),
    # uint8 frames are tracked in uint8 pyramid levels, other dtypes in float32 ones
    "lucas_kanade_sparse_float32": _case(lambda fk, gray, rgb, flow, pts: fk.lucas_kanade_sparse(
        gray.astype(np.float32) / 255, gray.astype(np.float32) / 255, pts)),
    "good_features": _case(lambda fk, gray, rgb, flow, pts: fk.good_features(gray)),
    "warp_linear": _case(lambda fk, gray, rgb, flow, pts: fk.warp(rgb, flow)),
    "warp_cubic": _case(lambda fk, gray, rgb, flow, pts: fk.warp(rgb, flow, interpolation="cubic")),
    "warp_nearest": _case(lambda fk, gray, rgb, flow, pts: fk.warp(gray, flow, interpolation="nearest")),
    # warp compiles once per image dtype (gray and RGB share it; measured ~4 s float32, ~6 s float64)
    "warp_float32_gray": _case(lambda fk, gray, rgb, flow, pts: fk.warp(gray.astype(np.float32), flow)),
    "warp_float32_rgb": _case(lambda fk, gray, rgb, flow, pts: fk.warp(rgb.astype(np.float32), flow)),
    "warp_float64_rgb": _case(lambda fk, gray, rgb, flow, pts: fk.warp(rgb.astype(np.float64), flow)),
    # the trajectory kernel (one specialisation for every dtype) + warp's uint8 kernel
    "extrapolate": _case(lambda fk, gray, rgb, flow, pts: fk.extrapolate(rgb, flow, 3)),
    "smooth_gaussian": _case(lambda fk, gray, rgb, flow, pts: fk.smooth_flow(flow, method="gaussian")),
    # a float64 flow is smoothed in float64: a separate compilation (~2.6 s for the Gaussian)
    "smooth_gaussian_float64": _case(
        lambda fk, gray, rgb, flow, pts: fk.smooth_flow(flow.astype(np.float64), method="gaussian")),
    "smooth_median": _case(lambda fk, gray, rgb, flow, pts: fk.smooth_flow(flow, method="median")),
    "smooth_bilateral": _case(
        lambda fk, gray, rgb, flow, pts: fk.smooth_flow(flow, method="bilateral", guide=rgb)),
    "flow_to_color": _case(lambda fk, gray, rgb, flow, pts: fk.flow_to_color(flow)),
    # splat compiles one kernel per compute dtype (float32, float64) and a small finishing
    # pass per output dtype
    "splat_uint8_rgb": _case(lambda fk, gray, rgb, flow, pts: fk.splat(rgb, flow)),
    "splat_float32_softmax": _case(lambda fk, gray, rgb, flow, pts: fk.splat(
        gray.astype(np.float32), flow, mode="softmax", metric=-gray.astype(np.float32))),
    "splat_float64_rgb": _case(
        lambda fk, gray, rgb, flow, pts: fk.splat(rgb.astype(np.float64), flow)),
    # one specialisation for every dtype and channel count (float32 (H, W, C) frames)
    "variational_refinement": _case(
        lambda fk, gray, rgb, flow, pts: fk.variational_refinement(gray, gray, flow)),
    "variational_refinement_rgb": _case(
        lambda fk, gray, rgb, flow, pts: fk.variational_refinement(rgb, rgb, flow)),
    "fill_holes": _case(lambda fk, gray, rgb, flow, pts: fk.fill_holes(rgb, gray > 200)),
    # retime of a 3-frame clip at twice the rate: interpolate's flows, warps, splats, fill
    "retime": lambda: _retime(),
    # interpolate's "project" blend with bilinear sampling only (interpolation="linear",
    # retime --interpolation linear): a specialisation of its own (about 2.7 s); with DIS's
    # flows, and again with given flows that leave holes in their projections, so that the
    # case also compiles the fill of those (a real video's pair needs it, this tiny one not)
    "interpolate_linear": _case(lambda fk, gray, rgb, flow, pts: [fk.interpolate(
        rgb, np.roll(rgb, 1, axis=1), 0.5, interpolation="linear", **flows) for flows in (
            {}, {"flow01": 4 * flow, "flow10": -4 * flow})]),
    # predict's defaults: DIS, the motion field splatted forward and filled, float32 RGB warps
    "predict": _case(lambda fk, gray, rgb, flow, pts: fk.predict(
        np.stack([np.roll(rgb, s, axis=1) for s in range(2)]), 2)),
    # Farneback flows both ways, warps (float32) and the blend of three RGB frames
    "temporally_consistent": _case(lambda fk, gray, rgb, flow, pts: fk.temporally_consistent(
        np.stack([np.roll(rgb, s, axis=1) for s in range(3)]),
        np.stack([np.roll(rgb, s, axis=1) for s in range(3)]))),
}


def _retime():
    import tempfile
    from pathlib import Path

    import flowkit

    gray, rgb, flow, _ = _inputs()
    with tempfile.TemporaryDirectory() as folder:
        clip = Path(folder) / "clip.mkv"
        with flowkit.VideoWriter(clip, 10) as writer:
            for shift in range(3):
                writer.write(np.roll(rgb, shift, axis=1))
        flowkit.retime(clip, Path(folder) / "out.mp4", factor=2, progress=False)

# Cases that share kernels run in one process, one after the other, so that each kernel is
# compiled once: two processes reaching it at once would both compile it (their entries are
# saved safely, kernels.jit's _locked_save; before, one could drop the other's).
GROUPS = {
    "sparse": ("lucas_kanade_sparse", "lucas_kanade_sparse_float32", "good_features"),
    # lucas_kanade and variational_refinement warp with kernels.warp's row warper, extrapolate
    # with its driver; dis calls the variational refinement and Farneback's resize helpers,
    # which ties Farneback to this group; retime (interpolate) and predict run last: most of
    # their kernels (DIS, warps, and retime's splats and fill, which predict shares) are
    # compiled by then
    "warp": ("farneback_gray", "farneback_rgb", "warp_linear", "warp_cubic", "warp_nearest",
             "warp_float32_gray", "warp_float32_rgb", "warp_float64_rgb", "lucas_kanade",
             "lucas_kanade_rgb", "lucas_kanade_gaussian", "extrapolate", "variational_refinement",
             "variational_refinement_rgb", "dis_gray", "dis_rgb", "retime", "interpolate_linear",
             "predict", "temporally_consistent"),
    "smooth": ("smooth_gaussian", "smooth_gaussian_float64", "smooth_median", "smooth_bilateral"),
    "color": ("flow_to_color",),
    "splat": ("splat_uint8_rgb", "splat_float32_softmax", "splat_float64_rgb"),
    "fill": ("fill_holes",),
}
assert sorted(sum(GROUPS.values(), ())) == sorted(CASES)


def run_cases(names, report=None):
    """Run the named cases in this process, in order.

    Parameters
    ----------
    names : sequence of str
        Keys of :data:`CASES`.
    report : callable, optional
        Called with ``(name, seconds)`` as each case finishes (progress).

    Returns
    -------
    list of (str, float)
        Each name with the seconds its call took (compilation, or loading from the cache).
    """
    timings = []
    for name in names:
        start = time.perf_counter()
        CASES[name]()
        timings.append((name, time.perf_counter() - start))
        if report is not None:
            report(timings[-1])
    return timings
