"""The goal check of issue 12 for ``"text2video-shapes"``: colour, shape and direction decoded
by ``flowkit.models.shapes.describe`` from clips generated for held-out captions.

Held out: the combinations with ``shapes.is_held_out`` (87 of 432, about one in five: the sum
of the five attribute indices is a multiple of 5), never drawn in training; every
(colour, shape, direction) triple is still seen in training with other sizes or speeds, so the
check tests composition, not unseen words. Captions and noise seeds are drawn with
``numpy.random.default_rng(--seed)``; the analyser is first run on the ground-truth clips of
the same captions (its own accuracy). ``python benchmarks/eval_text2video.py [--count 200]
[--weights W.safetensors] [--seed 12]`` prints per-attribute and joint accuracy.
"""

import argparse
import time

import numpy as np

import flowkit
from flowkit.models import shapes

KEYS = ("colour", "shape", "direction")


def accuracy(pairs):
    """Per-attribute and joint fraction of ``(attrs, decoded)`` pairs that agree."""
    out = {k: np.mean([d[k] == a[k] for a, d in pairs]) for k in KEYS}
    out["joint"] = np.mean([all(d[k] == a[k] for k in KEYS) for a, d in pairs])
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--weights", default="text2video-shapes",
                        help="registered name or .safetensors file (default: the shipped weights)")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--show", type=int, default=5, help="print this many failures")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    examples = shapes.sample(rng, args.count, held_out=True)
    seeds = rng.integers(0, 2**31, args.count)
    truth = [(a, shapes.describe(shapes.render(a, z))) for a, z in examples]
    began = time.perf_counter()
    generated = [(a, shapes.describe(flowkit.generate(shapes.caption(a), model=args.weights,
                                                      seed=int(s))))
                 for (a, _), s in zip(examples, seeds)]
    seconds = time.perf_counter() - began
    print(f"{args.count} held-out captions ({len({shapes.caption(a) for a, _ in examples})} "
          f"distinct), seed {args.seed}; generation {1000 * seconds / args.count:.1f} ms per clip")
    for name, pairs in (("analyser on ground-truth clips", truth), ("generated clips", generated)):
        acc = accuracy(pairs)
        print(f"{name:32s} " + "  ".join(f"{k} {100 * v:5.1f} %" for k, v in acc.items()))
    misses = [(shapes.caption(a), d) for a, d in generated if any(d[k] != a[k] for k in KEYS)]
    for cap, d in misses[:args.show]:
        print(f"  miss: {cap!r} -> {d}")


if __name__ == "__main__":
    main()
