"""Variational refinement beside OpenCV's cv2.VariationalRefinement (same parameters, equal
threads), and its accuracy on the shared ground-truth pairs.

Timing: ``pytest benchmarks/bench_variational.py --benchmark-only``. Each group is one size
(640x480, 1280x720): flowkit.variational_refinement (``normalize=False``, so both sides see the
same 0..255 gray frames) and cv2.VariationalRefinement.calc with the default parameters (5
fixed-point iterations of 5 SOR sweeps), refining OpenCV's Farneback flow of the gray sample
pair. Both get ``FLOWKIT_BENCH_THREADS`` threads (default 2), see ``conftest.py``.

Accuracy: ``python benchmarks/bench_variational.py`` prints, per shared pair (tests/cases.py),
the mean EPE of flowkit.farneback, of that flow refined by flowkit and by OpenCV, and of
flowkit.lucas_kanade refined; for the colour Middlebury pairs also the refinement of the
colour frames (flowkit's channel mean) and of their BT.601 luminance.
"""

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import flowkit

SIZES = {"640x480": (480, 640), "1280x720": (720, 1280)}


def _start(frame0, frame1):
    return cv2.calcOpticalFlowFarneback(frame0, frame1, None, 0.5, 3, 15, 3, 5, 1.2, 0)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("impl", ["flowkit", "opencv"])
def test_variational_refinement(benchmark, impl, size):
    from conftest import gray_pair, run

    frame0, frame1 = gray_pair(size)
    start = _start(frame0, frame1)
    benchmark.group = f"variational refinement {size}"
    if impl == "flowkit":
        run(benchmark, lambda: flowkit.variational_refinement(frame0, frame1, start,
                                                              normalize=False), rounds=10)
    else:
        refine = cv2.VariationalRefinement_create()
        run(benchmark, lambda: refine.calc(frame0, frame1, start.copy()), rounds=10)


def _epe(flow, gt, valid):
    return float(np.linalg.norm(flow - gt, axis=-1)[valid].mean())


def accuracy_table():
    """Markdown rows of the mean EPE (px) per shared pair."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from cases import DATA_DIR, GROUND_TRUTH_CASES, ground_truth_case

    rows = ["| pair | farneback | + flowkit refinement | + OpenCV refinement | lucas_kanade | "
            "+ flowkit refinement | colour: channel mean | colour: luminance |",
            "|---|---|---|---|---|---|---|---|"]
    for name in GROUND_TRUTH_CASES:
        frame0, frame1, gt, valid = ground_truth_case(name)
        fb = flowkit.farneback(frame0, frame1)
        ocv = fb.copy()
        cv2.VariationalRefinement_create().calc(frame0, frame1, ocv)
        lk = flowkit.lucas_kanade(frame0, frame1)
        cells = [_epe(fb, gt, valid), _epe(flowkit.variational_refinement(frame0, frame1, fb), gt, valid),
                 _epe(ocv, gt, valid), _epe(lk, gt, valid),
                 _epe(flowkit.variational_refinement(frame0, frame1, lk), gt, valid)]
        colour = DATA_DIR / "middlebury_color" / name
        if colour.exists():
            c0, c1 = (cv2.imread(str(colour / f))[..., ::-1].copy() for f in ("frame10.png", "frame11.png"))
            lum = [cv2.cvtColor(c, cv2.COLOR_RGB2GRAY) for c in (c0, c1)]
            cells += [_epe(flowkit.variational_refinement(c0, c1, fb), gt, valid),
                      _epe(flowkit.variational_refinement(*lum, fb), gt, valid)]
        rows.append(f"| {name} | " + " | ".join(f"{c:.3f}" for c in cells)
                    + (" | - | - |" if len(cells) == 5 else " |"))
    return "\n".join(rows)


if __name__ == "__main__":
    import argparse

    from conftest import exit_if_skipped

    argparse.ArgumentParser(description=__doc__.split("\n\n")[-1]).parse_args()
    print(exit_if_skipped(accuracy_table))
