"""Interpolation accuracy: PSNR (dB) and Middlebury's interpolation error (IE, RMS in gray
levels) of the frame at t = 0.5 against the true middle frame.

    python benchmarks/eval_interpolation.py [--variants]

Triplets (``../shared/data``, see its README; each one is skipped with a note when absent):
Middlebury colour RubberWhale and Venus (frame10, frame11, truth frame10i11), UCF101 1 and 2
(frame0, frame2, truth frame1), DAVIS dive-in (frame10, frame11, truth frame10i11). All RGB
uint8.

Rows: the peers (cross-fade; OpenCV Farneback with the usual parameters 0.5, 3, 15, 3, 5,
1.2 on gray frames, and OpenCV DIS with the medium preset, each followed by naive
bidirectional backward warping: each frame warped halfway with its own halved flow,
``cv2.remap(frame0, x - F01 / 2)`` and ``cv2.remap(frame1, x - F10 / 2)``, averaged) and
``flowkit.interpolate`` with default options and each method (its default Farneback options
and metric scale were chosen from the ``--variants`` rows by the mean, not per triplet). ``--variants`` adds the option
variants: softmax metric scale, occlusion handling, flow options.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

import flowkit
from flowkit.metrics import interpolation_error, psnr

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"

TRIPLETS = [
    ("RubberWhale", "middlebury_color/RubberWhale", "frame10", "frame11", "frame10i11"),
    ("Venus", "middlebury_color/Venus", "frame10", "frame11", "frame10i11"),
    ("ucf101/1", "interp_triplets/ucf101/1", "frame0", "frame2", "frame1"),
    ("ucf101/2", "interp_triplets/ucf101/2", "frame0", "frame2", "frame1"),
    ("davis/dive-in", "interp_triplets/davis/dive-in", "frame10", "frame11", "frame10i11"),
]


def load_triplets():
    import cv2

    triplets = []
    for name, folder, a, b, truth in TRIPLETS:
        files = [DATA / folder / f"{f}.png" for f in (a, b, truth)]
        if not all(f.is_file() for f in files):
            print(f"note: {name} skipped ({folder} not found under {DATA})", file=sys.stderr)
            continue
        triplets.append((name, [cv2.imread(str(f))[..., ::-1].copy() for f in files]))
    return triplets


def naive_backward(frame0, frame1, flow01, flow10):
    """Each frame warped halfway by its own halved flow (sampled at the output pixel), averaged."""
    import cv2

    h, w = frame0.shape[:2]
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    warped = []
    for frame, flow in ((frame0, flow01), (frame1, flow10)):
        warped.append(cv2.remap(frame, x - 0.5 * flow[..., 0], y - 0.5 * flow[..., 1],
                                cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(np.float32))
    return np.clip(np.rint(0.5 * (warped[0] + warped[1])), 0, 255).astype(np.uint8)


def cv_farneback(frame0, frame1):
    import cv2

    g0 = cv2.cvtColor(frame0, cv2.COLOR_RGB2GRAY)
    g1 = cv2.cvtColor(frame1, cv2.COLOR_RGB2GRAY)
    flow = [cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
            for a, b in ((g0, g1), (g1, g0))]
    return naive_backward(frame0, frame1, *flow)


def cv_dis(frame0, frame1):
    import cv2

    g0 = cv2.cvtColor(frame0, cv2.COLOR_RGB2GRAY)
    g1 = cv2.cvtColor(frame1, cv2.COLOR_RGB2GRAY)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    flow = [dis.calc(a, b, None) for a, b in ((g0, g1), (g1, g0))]
    return naive_backward(frame0, frame1, *flow)


def crossfade(frame0, frame1):
    return flowkit.interpolate(frame0, frame1, 0.5, method="blend")


def flowkit_row(**options):
    def run(frame0, frame1):
        return flowkit.interpolate(frame0, frame1, 0.5, **options)
    return run


def with_constants(run, **constants):
    """Run with module constants of flowkit._interpolate changed (variants only)."""
    from flowkit import _interpolate

    def wrapped(frame0, frame1):
        saved = {k: getattr(_interpolate, k) for k in constants}
        try:
            for k, v in constants.items():
                setattr(_interpolate, k, v)
            return run(frame0, frame1)
        finally:
            for k, v in saved.items():
                setattr(_interpolate, k, v)
    return wrapped


def rows(variants):
    table = [
        ("cross-fade", crossfade),
        ("OpenCV Farneback + naive warping", cv_farneback),
        ("OpenCV DIS medium + naive warping", cv_dis),
        ("flowkit interpolate (default: splat)", flowkit_row()),
        ("flowkit method='backward'", flowkit_row(method="backward")),
        ("flowkit method='blend'", flowkit_row(method="blend")),
    ]
    if variants:
        plain = {"winsize": 15, "iterations": 3, "poly_n": 5, "poly_sigma": 1.2}  # farneback's own
        table += [
            ("splat, occlusion=False", flowkit_row(occlusion=False)),
            ("backward, occlusion=False", flowkit_row(method="backward", occlusion=False)),
            ("splat, metric scale 20 (Niklaus)", with_constants(flowkit_row(), _METRIC_SCALE=20.0)),
            ("splat, metric scale 5", with_constants(flowkit_row(), _METRIC_SCALE=5.0)),
            ("splat, metric scale 50", with_constants(flowkit_row(), _METRIC_SCALE=50.0)),
            ("splat, occluded penalty 5", with_constants(flowkit_row(), _OCCLUDED_PENALTY=5.0)),
            ("splat, farneback's own defaults", flowkit_row(flow_options=plain)),
            ("backward, farneback's own defaults", flowkit_row(method="backward", flow_options=plain)),
            ("splat, winsize 15", flowkit_row(flow_options={"winsize": 15})),
            ("splat, iterations 5", flowkit_row(flow_options={"iterations": 5})),
            ("splat, pyr_scale 0.8 levels 8", flowkit_row(flow_options={"pyr_scale": 0.8, "levels": 8})),
        ]
    return table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", action="store_true",
                        help="also print the option variants the defaults were chosen from")
    args = parser.parse_args(argv)
    triplets = load_triplets()
    if not triplets:
        print(f"no triplets found under {DATA}; nothing to evaluate", file=sys.stderr)
        return 1
    names = [name for name, _ in triplets]
    width = 40
    print("PSNR (dB) / IE at t = 0.5")
    print("| method".ljust(width) + " | " + " | ".join(f"{n:>15}" for n in names) + " |   mean PSNR |")
    print("|" + "-" * (width - 1) + "|" + "|".join("-" * 17 for _ in names) + "|-------------|")
    for label, run in rows(args.variants):
        cells, values = [], []
        for _, (frame0, frame1, truth) in triplets:
            out = run(frame0, frame1)
            p = psnr(out, truth)
            values.append(p)
            cells.append(f"{p:6.2f} / {interpolation_error(out, truth):5.2f}")
        print(f"| {label}".ljust(width) + " | " + " | ".join(f"{c:>15}" for c in cells)
              + f" | {np.mean(values):11.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
