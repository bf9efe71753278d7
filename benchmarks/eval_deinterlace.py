"""Retiming interlaced video with and without ``deinterlace``: PSNR against the progressive truth.

Tears of Steel frames 66-105 (640x360, moving; ../shared/data/video) are woven two by two into
20 frames of 25i (MPEG-2 at qscale 2 in .ts, top field first: tests/cases.py interlaced_clip),
so the frames are the truth at 50 fields a second. ``flowkit retime --fps 50`` (its defaults:
project, DIS; FFV1 output) with and without ``--deinterlace``; the mean PSNR (dB) of the output
frames at the input frames' times (even) and at the new times (odd). Run from the repository
root: ``python benchmarks/eval_deinterlace.py``.
"""

import itertools
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import flowkit
from flowkit.metrics import psnr

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from cases import data_path, interlaced_clip  # noqa: E402


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.parse_args(argv)
    clip = data_path("video", "zwm__clip_01_tears_of_steel.mp4")
    truth = list(itertools.islice(flowkit.iter_frames(clip), 66, 106))
    with tempfile.TemporaryDirectory() as folder:
        src = interlaced_clip(Path(folder) / "25i.ts", truth, "mpeg2video", "tff",
                              {"qscale": "2"})
        out = Path(folder) / "50p.mkv"
        for flags in ([], ["--deinterlace"]):
            subprocess.run([sys.executable, "-m", "flowkit", "retime", str(src), str(out),
                            "--fps", "50", "--codec", "ffv1", "-q", *flags], check=True,
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            values = [psnr(a, b) for a, b in zip(flowkit.iter_frames(out), truth)]
            print(f"{' '.join(flags) or 'woven':14} {len(values)} frames: input times "
                  f"{np.mean(values[0::2]):.1f} dB, new times {np.mean(values[1::2]):.1f} dB, "
                  f"all {np.mean(values):.1f} dB")


if __name__ == "__main__":
    main()
