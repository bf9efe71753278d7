"""Command line: ``python -m flowkit {demo,flow,color}``.

``demo`` runs the main job on the built-in sample pair: Farneback flow, backward warp,
colour-wheel picture and a short report with errors against the exact ground truth and
against OpenCV. ``flow`` computes a flow between two image files, ``color`` renders a
``.flo`` file.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from ._atomic import atomic_path

METHODS = ("farneback", "lucas_kanade")


def _write_png(path, rgb):
    import cv2

    bgr = rgb[..., ::-1] if rgb.ndim == 3 else rgb
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), np.ascontiguousarray(bgr)):
            raise OSError(f"{path}: OpenCV could not write the PNG")


def _read_image(path):
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise SystemExit(f"error: cannot read image {path}")
    return image[..., ::-1].copy() if image.ndim == 3 else image  # BGR(A) -> RGB(A) order


def _compute_flow(method, frame0, frame1):
    import flowkit

    if method == "farneback":
        return flowkit.farneback(frame0, frame1)
    return flowkit.lucas_kanade(frame0, frame1)


def demo(out_dir, method="farneback"):
    """Run the demo on the built-in sample and write its files to ``out_dir``; returns the report."""
    import cv2

    import flowkit
    from flowkit import metrics

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frame0, frame1, truth = flowkit.sample_pair()

    start = time.perf_counter()
    _compute_flow(method, frame0, frame1)  # first call compiles (or loads the cache)
    first = time.perf_counter() - start
    start = time.perf_counter()
    flow = _compute_flow(method, frame0, frame1)
    steady = time.perf_counter() - start

    warped = flowkit.warp(frame1, flow)
    gray0 = cv2.cvtColor(frame0, cv2.COLOR_RGB2GRAY)
    gray1 = cv2.cvtColor(frame1, cv2.COLOR_RGB2GRAY)
    opencv = cv2.calcOpticalFlowFarneback(gray0, gray1, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    max_flow = float(np.max(np.hypot(truth[..., 0], truth[..., 1])))

    flowkit.write_flo(out_dir / "flow.flo", flow)
    _write_png(out_dir / "frame0.png", frame0)
    _write_png(out_dir / "frame1.png", frame1)
    _write_png(out_dir / "warped.png", warped)
    _write_png(out_dir / "flow.png", flowkit.flow_to_color(flow, max_flow=max_flow))
    _write_png(out_dir / "flow_truth.png", flowkit.flow_to_color(truth, max_flow=max_flow))

    lines = [
        "flowkit demo: built-in synthetic pair (320x240 RGB, exact ground truth)",
        f"method: {method} (default options), threads: {flowkit.get_num_threads()}",
        f"time: first call {first:.2f} s (JIT compile or cache load), then {1000 * steady:.1f} ms",
        f"endpoint error vs truth: flowkit {metrics.endpoint_error(flow, truth):.3f} px, "
        f"OpenCV Farneback (gray) {metrics.endpoint_error(opencv, truth):.3f} px",
        f"angular error vs truth: flowkit {metrics.angular_error(flow, truth):.2f} deg",
        f"warp(frame1, flow) vs frame0: PSNR {metrics.psnr(warped, frame0):.2f} dB "
        f"(frame1 vs frame0: {metrics.psnr(frame1, frame0):.2f} dB)",
        "files: flow.flo, flow.png, flow_truth.png, frame0.png, frame1.png, warped.png, report.txt",
    ]
    report = "\n".join(lines) + "\n"
    with atomic_path(out_dir / "report.txt") as tmp:
        tmp.write_text(report)
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(prog="flowkit", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="flow + warp + colour picture + report on the built-in sample")
    p_demo.add_argument("--out", default="flowkit-demo", help="output folder (default: ./flowkit-demo)")
    p_demo.add_argument("--method", choices=METHODS, default="farneback")
    p_flow = sub.add_parser("flow", help="flow between two image files, written as .flo (+ optional PNG)")
    p_flow.add_argument("frame0")
    p_flow.add_argument("frame1")
    p_flow.add_argument("-o", "--output", required=True, help="output .flo path")
    p_flow.add_argument("--png", help="also write the colour-wheel picture here")
    p_flow.add_argument("--method", choices=METHODS, default="farneback")
    p_color = sub.add_parser("color", help="render a .flo file with the Middlebury colour wheel")
    p_color.add_argument("flo")
    p_color.add_argument("-o", "--output", required=True, help="output .png path")
    p_color.add_argument("--max-flow", type=float, default=None)
    args = parser.parse_args(argv)

    import flowkit

    if args.command == "demo":
        sys.stdout.write(demo(args.out, args.method))
        print(f"written to {Path(args.out).resolve()}")
    elif args.command == "flow":
        flow = _compute_flow(args.method, _read_image(args.frame0), _read_image(args.frame1))
        flowkit.write_flo(args.output, flow)
        if args.png:
            _write_png(args.png, flowkit.flow_to_color(flow))
    else:
        _write_png(args.output, flowkit.flow_to_color(flowkit.read_flo(args.flo), max_flow=args.max_flow))
    return 0


if __name__ == "__main__":
    sys.exit(main())
