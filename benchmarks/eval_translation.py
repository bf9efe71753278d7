"""Temporal consistency of a flickering per-frame operation before and after
``flowkit.temporally_consistent`` (issue 12's goal; docs/translation.md).

    OPENBLAS_NUM_THREADS=1 python benchmarks/eval_translation.py [--frames N] [--strength S]
        [--seeds N] [--clips sintel traffic colorize]

Per-frame operation: ``autocontrast`` (flowkit translate's built-in: the 1 % / 99 %
percentiles stretched to 0 / 255, per frame) followed by a synthetic flicker drawn per frame
(seed 0): a gain ``g ~ U(0.8, 1.2)`` and a gamma ``gamma = exp(U(-0.25, 0.25))``,
``P_t = clip(g (A_t / 255) ** gamma, 0, 1)``. ``A_t`` alone (``clean``) is the operation
without the synthetic flicker.

Columns, over all consecutive pairs (t - 1, t):

* ``warp err``: Lai et al.'s temporal warping error, mean ``|O_t - warp(O_{t-1})|`` over the
  reliable pixels (``flowkit.metrics.warping_error``, intensities in [0, 1]), the flow from
  frame t to t - 1 estimated on the *original* frames with DIS (medium preset; another
  estimator than the method's Farneback) and kept where it passes the forward-backward test
  and stays inside the frame. Sintel alley_1 (4 frames) also gets the row ``GT`` for the pair
  0002 -> 0003 with the ground-truth flow and occlusion mask (the error taken the other way
  round: ``|O_2 - warp(O_3, F_23)|`` over pixels of frame 2 not occluded in frame 3). With
  only 3 pairs one flicker draw is a noisy sample: Sintel's numbers are means over
  ``--seeds`` draws (seeds 0, 1, ...); the traffic clip's over its pairs of one draw.
* ``change``: the warping error relative to the per-frame result's (goal: <= -50 %).
* ``|O - P|``: mean absolute difference from the per-frame result, against the bound
  ``|P - clean|``: the mean difference of the per-frame result from the operation without
  flicker, i.e. what removing the flicker perfectly would cost (goal: below it).

``--clips colorize``: the traffic clip converted to gray and colourised by the ``colorize``
model (flowkit.models, needs torch): no synthetic flicker, no bound (the model's own
flicker); and the model's chroma error on those frames (mean ``|CrCb - truth|`` in [0, 1],
against a gray output).
"""

import argparse
import itertools
import os
import sys
import time
from pathlib import Path

import numpy as np

import flowkit
from flowkit import _frame_ops
from flowkit._estimators import get_estimator
from flowkit._translate import reliable_mask
from flowkit.metrics import warping_error

DATA = Path(os.environ.get("FLOWKIT_DATA",
                       Path(__file__).resolve().parents[2] / "shared" / "data"))
TRAFFIC = DATA / "video" / "car_traffic_small.mp4"
SINTEL = DATA / "sintel" / "alley_1"


def flicker(frames, seed=0):
    """(per-frame result P, clean result) as float32 in [0, 1]."""
    rng = np.random.default_rng(seed)
    clean = np.stack([_frame_ops.autocontrast(f) for f in frames]).astype(np.float32) / 255
    gain = rng.uniform(0.8, 1.2, len(frames)).astype(np.float32)
    gamma = np.exp(rng.uniform(-0.25, 0.25, len(frames))).astype(np.float32)
    processed = np.clip(gain[:, None, None, None] * clean ** gamma[:, None, None, None], 0, 1)
    return processed.astype(np.float32), clean


def eval_flows(frames):
    """Per pair (t - 1, t): the DIS flow from t to t - 1 and its reliability mask."""
    estimate = get_estimator("dis")
    return [reliable_mask(frames[t], frames[t - 1], estimate) for t in range(1, len(frames))]


def mean_warping_error(video, flows):
    return float(np.mean([warping_error(video[t], video[t - 1], flow, mask)
                          for t, (flow, mask) in enumerate(flows, start=1)]))


def rows(name, frames, flows, strength, seeds=(0,), gt=None, draw=None):
    """Print the rows of one clip (per-frame, blend, gradient): each number the mean over
    the flicker draws of ``seeds`` (``draw(seed) -> (processed, clean or None)``)."""
    draw = draw or (lambda seed: flicker(frames, seed))
    table = {}
    for seed in seeds:
        processed, clean = draw(seed)
        outputs = {"per-frame": (processed, 0.0)}
        for method in ("blend", "gradient"):
            start = time.perf_counter()
            out = flowkit.temporally_consistent(frames, processed, method=method, strength=strength)
            outputs[method] = (out, (time.perf_counter() - start) / len(frames))
        base = mean_warping_error(processed, flows)
        base_gt = None if gt is None else warping_error(processed[1], processed[2], *gt)
        for label, (video, seconds) in outputs.items():
            err = mean_warping_error(video, flows)
            row = [err, err / base - 1, float(np.abs(video - processed).mean()),
                   np.nan if clean is None else float(np.abs(processed - clean).mean()), seconds]
            if gt is not None:
                e = warping_error(video[1], video[2], *gt)
                row += [e, e / base_gt - 1]
            table.setdefault(label, []).append(row)
    for label, values in table.items():
        v = np.mean(values, axis=0)
        line = (f"| {name} | {label} | {v[0]:.4f} | {100 * v[1]:+.0f} % | {v[2]:.4f} | "
                f"{'-' if np.isnan(v[3]) else f'{v[3]:.4f}'} | ")
        line += f"{v[5]:.4f} ({100 * v[6]:+.0f} %) | " if gt is not None else "- | "
        print(line + f"{v[4]:.2f} |")
        sys.stdout.flush()


def load_sintel():
    import cv2

    frames = np.stack([cv2.cvtColor(cv2.imread(str(SINTEL / "clean" / f"frame_{i:04d}.png")),
                                    cv2.COLOR_BGR2RGB) for i in range(1, 5)])
    flow = flowkit.read_flo(SINTEL / "flow" / "frame_0002.flo")
    occluded = cv2.imread(str(SINTEL / "occlusions" / "frame_0002.png"), cv2.IMREAD_GRAYSCALE) > 127
    invalid = cv2.imread(str(SINTEL / "invalid" / "frame_0002.png"), cv2.IMREAD_GRAYSCALE) > 127
    return frames, (flow, ~occluded & ~invalid)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=60, help="traffic clip frames (default 60)")
    parser.add_argument("--strength", type=float, default=0.8)
    parser.add_argument("--seeds", type=int, default=10,
                        help="flicker draws averaged on Sintel's 4 frames (default 10)")
    parser.add_argument("--clips", nargs="+", choices=("sintel", "traffic", "colorize"),
                        default=["sintel", "traffic"],
                        help="what to measure (default sintel traffic; colorize needs torch)")
    args = parser.parse_args(argv)
    print(f"strength {args.strength}; errors in [0, 1] units; s/frame: the method's time per frame")
    print("| clip | output | warp err | change | mean |O - P| | bound |P - clean| | GT pair | s/frame |")
    print("|---|---|---|---|---|---|---|---|")
    if "sintel" in args.clips:
        if SINTEL.is_dir():
            frames, gt = load_sintel()
            rows(f"Sintel alley_1 (4 frames, {args.seeds} draws)", frames, eval_flows(frames),
                 args.strength, seeds=range(args.seeds), gt=gt)
        else:
            print(f"(Sintel alley_1 skipped: {SINTEL} not found)")
    if not {"traffic", "colorize"} & set(args.clips):
        return
    if not TRAFFIC.is_file():
        print(f"(traffic clip skipped: {TRAFFIC} not found)")
        return
    frames = np.stack(list(itertools.islice(flowkit.iter_frames(TRAFFIC), args.frames)))
    flows = eval_flows(frames)
    if "traffic" in args.clips:
        rows(f"traffic ({args.frames} frames)", frames, flows, args.strength)
    if "colorize" in args.clips:
        import cv2
        from flowkit.models.colorize import colorize_frame, split

        gray = np.stack([cv2.cvtColor(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
                         for f in frames])
        colour = np.stack([colorize_frame(f) for f in gray])
        chroma = np.stack([split(f)[1] for f in frames])
        predicted = np.stack([split(c)[1] for c in colour])
        print(f"colorize: mean |CrCb - truth| {np.abs(predicted - chroma).mean():.4f} on the "
              f"traffic frames (gray output, CrCb = 0.5: {np.abs(chroma - 0.5).mean():.4f})")
        rows(f"traffic gray -> colorize ({args.frames} frames)", gray, flows, args.strength,
             draw=lambda seed: (colour.astype(np.float32) / 255, None))


if __name__ == "__main__":
    main()
