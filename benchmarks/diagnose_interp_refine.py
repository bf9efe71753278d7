"""What the ``interp-refine`` network could learn: the classical pipeline on held-out
triplets of the *training* clips (docs/models.md, "Diagnosis").

    python benchmarks/diagnose_interp_refine.py [--data DIR] [--per-clip 15] [--gaps 2 4 8]
        [--shrink 2] [--weights W.safetensors ...]

Triplets ``(frame k, frame k + g/2, frame k + g)`` at t = 0.5, frames shrunk by ``--shrink``
(area averaging) as ``flowkit train interp-refine`` makes them, ``--per-clip`` start frames
spread over the **last 20 %** of each clip of ``--data`` (default ``video_train`` of the shared
data folder, ``FLOWKIT_DATA`` or ``../shared/data``: training data, never the evaluation
triplets), ``g`` drawn from ``--gaps`` (seed 0); static pairs and cuts skipped as in
training. A validation set for training runs that hold out the last 20 % (the shipped weights
saw all of each clip).

Columns per clip (means over its triplets): PSNR (dB, uint8-rounded output) of the cross-fade,
of the classical output the network refines (``"project"``'s; ``"splat"``'s until 2026-12-01),
of each ``--weights`` file's refined output, and three upper bounds of what the network's
fusion could reach knowing the truth: per pixel the best of the classical output and the two
splats ``S0``, ``S1`` (pixel oracle), the same choice per 8x8 block, and per pixel the best
blend ``w S0 + (1 - w) S1``, ``w`` in [0, 1]; then the median flow magnitude (px), and the
share of pixels and of the classical squared error in occluded pixels (either mask) and where
the flow exceeds 4 px.
"""

import argparse
import os
import sys
from pathlib import Path

import numpy as np

DATA = Path(os.environ.get("FLOWKIT_DATA", Path(__file__).resolve().parents[2] / "shared"
                       / "data")) / "video_train"


def held_out_triplets(source, *, per_clip, gaps, shrink, rng):
    """Triplets whose frames all lie in the last 20 % of ``source``."""
    from flowkit.models.train import moving, read_frames

    frames = read_frames(source, shrink)
    first = int(0.8 * len(frames))
    for k in np.linspace(first, len(frames) - 1 - max(gaps), per_clip).astype(int):
        gap = int(rng.choice(gaps))
        a, m, b = frames[k], frames[k + gap // 2], frames[k + gap]
        if moving(a, b):
            yield a, m, b


def _psnr(x, truth):
    import torch

    x = torch.round(x.clamp(0, 1) * 255)
    return 10 * np.log10(255.0 ** 2 / ((x - torch.round(truth * 255)) ** 2).mean().item())


def row(frame0, truth, frame1, models):
    """The columns of one triplet (see the module docstring)."""
    import torch
    import torch.nn.functional as F
    from flowkit.models import interp_refine
    from flowkit.models.train import triplet_parts

    p = triplet_parts(frame0, frame1)
    tr = torch.from_numpy(truth.astype(np.float32) / 255).permute(2, 0, 1)[None]
    s0, s1 = interp_refine._fallback(p)
    base = p["base"]
    with torch.no_grad():
        refined = [_psnr(interp_refine.run(m, p), tr) for m in models]
    cands = torch.stack([base, s0, s1])
    err = ((cands - tr) ** 2).mean(2, keepdim=True)  # (3, 1, 1, H, W)
    pixel = torch.gather(cands, 0, err.argmin(0, keepdim=True).expand(1, *cands.shape[1:]))[0]
    block = F.avg_pool2d(err[:, 0], 8, 8, ceil_mode=True).argmin(0)[None].float()
    block = F.interpolate(block, scale_factor=8.0, mode="nearest")[..., :tr.shape[-2], :tr.shape[-1]]
    block = torch.where(block == 0, base, torch.where(block == 1, s0, s1))
    diff = s0 - s1
    w = ((tr - s1) * diff).sum(1, keepdim=True) / (diff ** 2).sum(1, keepdim=True).clamp_min(1e-8)
    blend = s1 + w.clamp(0, 1) * diff
    fade = torch.from_numpy((frame0.astype(np.float32) + frame1) / 510).permute(2, 0, 1)[None]
    err2 = ((base - tr) ** 2).mean(1)[0].numpy()
    mag = np.hypot(*(2 * p["flow0"][0].numpy()))
    occ = ((p["occ0"] > 0) | (p["occ1"] > 0))[0, 0].numpy()
    fast = mag > 4
    total = max(float(err2.sum()), 1e-12)
    return ([_psnr(fade, tr), _psnr(base, tr)] + refined
            + [_psnr(pixel, tr), _psnr(block, tr), _psnr(blend, tr), float(np.median(mag)),
               100 * occ.mean(), 100 * err2[occ].sum() / total,
               100 * fast.mean(), 100 * err2[fast].sum() / total])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--per-clip", type=int, default=15)
    parser.add_argument("--gaps", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--shrink", type=int, default=2)
    parser.add_argument("--weights", nargs="*", default=[], metavar="W")
    args = parser.parse_args(argv)
    if not Path(args.data).is_dir():
        sys.exit(f"skipped: --data: no such folder {args.data} (the default is FLOWKIT_DATA's "
                 "video_train, FLOWKIT_DATA defaulting to ../shared/data)")
    import torch
    from flowkit import models
    from flowkit.models.train import find_sources

    torch.set_num_threads(1)
    nets = [models.get_model("interp-refine", weights=w) for w in args.weights]
    names = (["cross-fade", "classical"] + [f"W{i + 1}" for i in range(len(nets))]
             + ["pixel oracle", "8x8 oracle", "best blend", "|F| median", "occ % px",
                "occ % err", "|F|>4 % px", "|F|>4 % err"])
    for i, w in enumerate(args.weights):
        print(f"W{i + 1} = {w}")
    print("| clip | n | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 2) + "|")
    rng = np.random.default_rng(0)
    everything = []
    for source in find_sources([args.data]):
        rows = [row(a, m, b, nets) for a, m, b in
                held_out_triplets(source, per_clip=args.per_clip, gaps=args.gaps,
                                  shrink=args.shrink, rng=rng)]
        everything += rows
        mean = np.mean(rows, axis=0)
        print(f"| {source.name} | {len(rows)} | " + " | ".join(f"{v:.2f}" for v in mean) + " |",
              flush=True)
    mean = np.mean(everything, axis=0)
    print(f"| all | {len(everything)} | " + " | ".join(f"{v:.2f}" for v in mean) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
