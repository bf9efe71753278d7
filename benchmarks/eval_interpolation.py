"""Interpolation accuracy: PSNR (dB) and Middlebury's interpolation error (IE, RMS in gray
levels) of the frame at t = 0.5 against the true middle frame.

    python benchmarks/eval_interpolation.py [--variants] [--flow NAME ...] [--train | --sequences | --videos]

Triplets (the shared data folder: ``FLOWKIT_DATA``, default ``../shared/data``, see its
README; each one is skipped with a note when absent):
Middlebury colour RubberWhale and Venus (frame10, frame11, truth frame10i11), UCF101 1 and 2
(frame0, frame2, truth frame1), DAVIS dive-in (frame10, frame11, truth frame10i11). All RGB
uint8.

Rows: the peers (cross-fade; OpenCV Farneback with the usual parameters 0.5, 3, 15, 3, 5,
1.2 on gray frames, and OpenCV DIS with the medium preset, each followed by naive
bidirectional backward warping: each frame warped halfway with its own halved flow,
``cv2.remap(frame0, x - F01 / 2)`` and ``cv2.remap(frame1, x - F10 / 2)``, averaged) and
FFmpeg's ``minterpolate`` (``mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1``, other options
at FFmpeg's defaults, scene-change detection included) through PyAV's filter graph (``av``,
a core dependency; the rows are skipped with a note when it cannot be imported), and
``flowkit.interpolate`` with default options (DIS flow, medium preset) and each method
(``method="learned"``, the shipped interp-refine network, only with torch installed), and
with Farneback flow (the default until DIS landed; its options, the metric scale and the
occlusion penalty were chosen from the ``--variants`` rows by the mean, not per triplet).
``--variants`` adds the option variants: softmax metric scale, occlusion handling, flow
options. ``--flow NAME``
(repeatable, any name of ``flowkit.list_estimators()``) adds ``interpolate`` with that
estimator, splat and backward methods.

minterpolate works on YUV: each RGB frame is converted by PyAV (swscale, its default BT.601
limited-range matrix) to yuv420p (the usual pixel format of video files; chroma subsampled
2x2) or yuv444p (no subsampling), edge-padded to even sizes, interpolated, converted back to
RGB and cropped; PSNR and IE are measured on that RGB frame. The rows "yuv... round trip of
the truth" measure what the conversion alone costs: the true middle frame converted to that
format and back, against itself (an upper bound for any method that goes through it).

``--train`` evaluates instead on real-video triplets of the training clips
(``../shared/data/video_train``, the held-out last 20 % of each clip that
``benchmarks/diagnose_interp_refine.py`` uses: 8 start frames per clip, gaps of 2 or 4 frames,
frames shrunk 2x, seed 0; 25 triplets; its sampler needs torch): compressed video like the
DAVIS and UCF101 triplets, and more of it. Per row: the mean PSNR over those triplets, and on how many the row beats
flowkit's default and loses to it by more than 0.1 dB.

``--sequences`` evaluates instead on triplets of every second frame of the evaluation
sequences: Middlebury RubberWhale (gray, frames 07-14: 6 triplets) and Sintel alley_1 (clean,
frames 1-4: 2 triplets), sharp and uncompressed; the same summary per row.

``--videos`` evaluates instead on triplets cut from the real videos of
``../shared/data/video`` (frames i, i + 2 and the truth i + 1 at three places of each clip's
first 80 frames; 23 triplets from 8 clips of H.264, HEVC, VP9, 10-bit and variable frame
rate); the same summary per row.

``--figures DIR`` also writes one PNG strip per triplet (frame0, frame1, truth, flowkit,
minterpolate yuv420p or, without ``av``, OpenCV Farneback + naive warping, and flowkit's
absolute error x4), downscaled to the largest of 200, 180, ... 100 pixels high that keeps the
file under 300 KB.
"""

import argparse
import os
import sys
from pathlib import Path

import numpy as np

import flowkit
from flowkit._atomic import atomic_path
from flowkit.metrics import interpolation_error, psnr

DATA = Path(os.environ.get("FLOWKIT_DATA",
                       Path(__file__).resolve().parents[2] / "shared" / "data"))

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


def _have_av():
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


MINTERPOLATE = "minterpolate=fps=2:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1"


def _pad_even(frame):
    h, w = frame.shape[:2]
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def yuv_roundtrip(frame, pix_fmt="yuv420p"):
    """RGB uint8 -> ``pix_fmt`` -> RGB uint8 with PyAV (the conversion minterpolate's rows pay)."""
    import av

    h, w = frame.shape[:2]
    yuv = av.VideoFrame.from_ndarray(_pad_even(frame), format="rgb24").reformat(format=pix_fmt)
    return np.ascontiguousarray(yuv.to_ndarray(format="rgb24")[:h, :w])


def minterpolate(frame0, frame1, pix_fmt="yuv420p", graph=MINTERPOLATE):
    """The frame at t = 0.5 from FFmpeg's minterpolate, through PyAV's filter graph.

    frame0 and frame1 (RGB uint8) become a stream at 1 fps (time base 1 s, pts 0 and 1) in
    ``pix_fmt``; minterpolate at 2 fps outputs frames at 0, 0.5 and 1 s; the one with pts 0.5 s
    is returned as RGB uint8. frame1 is pushed a second time at pts 2: minterpolate keeps 4
    frames and emits nothing until its window is full (with only two input frames and a flush
    it emits no frame at all, PyAV 18.1 / FFmpeg in its wheel)."""
    import av
    from fractions import Fraction

    h, w = frame0.shape[:2]
    g = av.filter.Graph()
    src = g.add_buffer(width=w + w % 2, height=h + h % 2, format=pix_fmt,
                       time_base=Fraction(1, 1))
    name, _, args = graph.partition("=")
    node = g.add(name, args)
    sink = g.add("buffersink")
    src.link_to(node)
    node.link_to(sink)
    g.configure()
    for pts, frame in enumerate((frame0, frame1, frame1)):
        vf = av.VideoFrame.from_ndarray(_pad_even(frame), format="rgb24").reformat(format=pix_fmt)
        vf.pts = pts
        vf.time_base = Fraction(1, 1)
        g.push(vf)
    g.push(None)
    middle = None
    while True:
        try:
            out = g.pull()
        except (av.error.EOFError, av.error.BlockingIOError):
            break
        if out.pts * out.time_base == Fraction(1, 2):
            middle = out.to_ndarray(format="rgb24")
    if middle is None:
        raise RuntimeError("minterpolate returned no frame at t = 0.5")
    return np.ascontiguousarray(middle[:h, :w])


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


def rows(variants, flows=()):
    table = [
        ("cross-fade", crossfade),
        ("FFmpeg minterpolate (yuv420p)", minterpolate),
        ("FFmpeg minterpolate (yuv444p)", lambda a, b: minterpolate(a, b, "yuv444p")),
        ("OpenCV Farneback + naive warping", cv_farneback),
        ("OpenCV DIS medium + naive warping", cv_dis),
        ("flowkit interpolate (default: project, dis)", flowkit_row()),
        ("flowkit interpolation='linear' (bilinear, the default until stop 30)",
         flowkit_row(interpolation="linear")),
        ("flowkit method='splat' (the former default)", flowkit_row(method="splat")),
        ("flowkit method='backward'", flowkit_row(method="backward")),
        ("flowkit method='blend'", flowkit_row(method="blend")),
        ("flowkit flow='farneback' (interpolate's options)", flowkit_row(flow="farneback")),
    ]
    if variants:
        plain = {"winsize": 15, "iterations": 3, "poly_n": 5, "poly_sigma": 1.2}  # farneback's own
        fb = {"flow": "farneback"}
        table += [
            ("minterpolate (yuv420p), scd=none",
             lambda a, b: minterpolate(a, b, graph=MINTERPOLATE + ":scd=none")),
            ("project, bicubic detail at full weight",
             with_constants(flowkit_row(), _SHARP_AGREEMENT=float("inf"))),
            ("project, bicubic detail halved at disagreement 0.05",
             with_constants(flowkit_row(), _SHARP_AGREEMENT=0.05)),
            ("project, bicubic detail halved at disagreement 0.02",
             with_constants(flowkit_row(), _SHARP_AGREEMENT=0.02)),
            ("backward, interpolation='linear'", flowkit_row(method="backward", interpolation="linear")),
            ("project, occlusion=False", flowkit_row(occlusion=False)),
            ("project, visibility floor 0", with_constants(flowkit_row(), _VISIBILITY_FLOOR=0.0)),
            ("project, visibility floor 0.2", with_constants(flowkit_row(), _VISIBILITY_FLOOR=0.2)),
            ("splat, occlusion=False", flowkit_row(method="splat", occlusion=False)),
            ("backward, occlusion=False", flowkit_row(method="backward", occlusion=False)),
            ("splat, metric scale 20 (Niklaus)", with_constants(flowkit_row(method="splat"), _METRIC_SCALE=20.0)),
            ("splat, metric scale 10", with_constants(flowkit_row(method="splat"), _METRIC_SCALE=10.0)),
            ("splat, metric scale 3", with_constants(flowkit_row(method="splat"), _METRIC_SCALE=3.0)),
            ("splat, occluded penalty 2", with_constants(flowkit_row(method="splat"), _OCCLUDED_PENALTY=2.0)),
            ("project, dis preset fast", flowkit_row(flow_options={"preset": "fast"})),
            ("project, dis preset accurate", flowkit_row(flow_options={"preset": "accurate"})),
            ("splat, dis preset fast", flowkit_row(method="splat", flow_options={"preset": "fast"})),
            ("splat, dis preset accurate", flowkit_row(method="splat", flow_options={"preset": "accurate"})),
            ("splat, farneback, metric scale 10",
             with_constants(flowkit_row(method="splat", **fb), _METRIC_SCALE=10.0)),
            ("splat, farneback's own defaults", flowkit_row(method="splat", flow_options=plain, **fb)),
            ("backward, farneback's own defaults", flowkit_row(method="backward", flow_options=plain, **fb)),
            ("splat, farneback winsize 15", flowkit_row(method="splat", flow_options={"winsize": 15}, **fb)),
            ("splat, farneback iterations 5",
             flowkit_row(method="splat", flow_options={"iterations": 5}, **fb)),
            ("splat, farneback pyr_scale 0.8 levels 8",
             flowkit_row(method="splat", flow_options={"pyr_scale": 0.8, "levels": 8}, **fb)),
        ]
    try:
        import torch  # noqa: F401
        table.append(("flowkit method='learned' (interp-refine)", flowkit_row(method="learned")))
    except ImportError:
        print("note: the method='learned' row is skipped: torch is not installed "
              '(pip install "flowkit-cv[torch]")', file=sys.stderr)
    for name in flows:
        table += [(f"flowkit flow={name!r} (project)", flowkit_row(flow=name)),
                  (f"flowkit flow={name!r}, splat", flowkit_row(method="splat", flow=name)),
                  (f"flowkit flow={name!r}, backward", flowkit_row(method="backward", flow=name))]
    if not _have_av():
        print("note: the FFmpeg minterpolate rows are skipped: PyAV (`av`) is not installed "
              "(pip install av)", file=sys.stderr)
        table = [row for row in table if "minterpolate" not in row[0]]
    return table


TRUTH_ROWS = [(f"{fmt} round trip of the truth (conversion only)", fmt)
              for fmt in ("yuv420p", "yuv444p")]


def write_figures(triplets, folder, heights=(200, 180, 160, 140, 120, 100), limit=300_000):
    """One PNG strip per triplet: frame0, frame1, truth, flowkit, a peer, |flowkit - truth| x4,
    at the first of ``heights`` whose file is at most ``limit`` bytes, written atomically."""
    import cv2

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    peer_name, peer = (("minterpolate", minterpolate) if _have_av()
                       else ("OpenCV Farneback", cv_farneback))
    for name, (frame0, frame1, truth) in triplets:
        ours = flowkit.interpolate(frame0, frame1, 0.5)
        theirs = peer(frame0, frame1)
        error = np.clip(4 * np.abs(ours.astype(np.int16) - truth), 0, 255).astype(np.uint8)
        labels = ["frame0", "frame1", "truth", f"flowkit {psnr(ours, truth):.1f} dB",
                  f"{peer_name} {psnr(theirs, truth):.1f} dB", "|flowkit - truth| x4"]
        h, w = truth.shape[:2]
        path = folder / f"interpolation_{name.replace('/', '_').lower()}.png"
        for height in heights:
            size = (round(w * height / h), height)
            panels = []
            for image, label in zip((frame0, frame1, truth, ours, theirs, error), labels):
                panel = cv2.resize(image, size, interpolation=cv2.INTER_AREA)[..., ::-1].copy()
                cv2.rectangle(panel, (0, 0), (size[0], 16), (0, 0, 0), -1)
                cv2.putText(panel, label, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.38,
                            (255, 255, 255), 1, cv2.LINE_AA)
                panels.append(panel)
                panels.append(np.full((height, 4, 3), 255, np.uint8))
            png = cv2.imencode(".png", np.hstack(panels[:-1]), [cv2.IMWRITE_PNG_COMPRESSION, 9])[1]
            if png.size <= limit:
                break
        with atomic_path(path) as tmp:  # an interrupted run leaves the previous figure
            Path(tmp).write_bytes(png.tobytes())
        print(f"wrote {path} ({height} px high, {png.size // 1024} KB)", file=sys.stderr)


def train_triplets():
    """The held-out triplets of the training clips (``--train``), as (name, (frame0, frame1,
    truth))."""
    from diagnose_interp_refine import DATA as TRAIN, held_out_triplets

    if not TRAIN.is_dir():
        return []
    rng = np.random.default_rng(0)
    triplets = []
    for source in sorted(TRAIN.iterdir()):
        for i, (a, middle, b) in enumerate(held_out_triplets(source, per_clip=8, gaps=(2, 4),
                                                             shrink=2, rng=rng)):
            triplets.append((f"{source.stem}/{i}", (a, b, middle)))
    return triplets


def sequence_triplets():
    """Triplets of every second frame of the evaluation sequences (``--sequences``): frames k
    and k + 2 with the truth k + 1 of Middlebury RubberWhale (gray, frames 07-14: 6
    triplets) and Sintel alley_1 (clean pass, frames 1-4: 2 triplets). Sharp, uncompressed
    frames with twice the motion of one frame step; RGB (the gray frames' value in each
    channel)."""
    import cv2

    triplets = []
    gray = [DATA / "middlebury" / "RubberWhale" / f"frame{k:02d}.png" for k in range(7, 15)]
    sintel = [DATA / "sintel" / "alley_1" / "clean" / f"frame_{k:04d}.png" for k in range(1, 5)]
    for name, files in (("RubberWhale gray", gray), ("Sintel alley_1", sintel)):
        if not all(f.is_file() for f in files):
            print(f"note: {name} skipped (its frames are not under {DATA})", file=sys.stderr)
            continue
        # as RGB, so that every peer runs (gray frames: three equal channels)
        frames = [cv2.imread(str(f), cv2.IMREAD_COLOR)[..., ::-1].copy() for f in files]
        triplets += [(f"{name} {k}", (frames[k], frames[k + 2], frames[k + 1]))
                     for k in range(len(frames) - 2)]
    return triplets


def video_triplets(per_clip=3, frames=80):
    """Triplets of the real videos in ``../shared/data/video`` (``--videos``): frames i and
    i + 2 with the truth i + 1, at ``per_clip`` evenly spaced i among each clip's first
    ``frames`` frames (pairs of equal frames skipped); frames over 720 rows halved (area),
    16-bit frames scaled to 8 bits. Compressed video of many kinds (H.264, HEVC, VP9, 10-bit,
    variable frame rate)."""
    import cv2

    folder = DATA / "video"
    if not folder.is_dir():
        print(f"note: no videos under {DATA}", file=sys.stderr)
        return []
    triplets = []
    for path in sorted(folder.iterdir()):
        clip = []
        for frame in flowkit.iter_frames(path):
            if frame.dtype == np.uint16:
                frame = np.rint(frame / 257.0).astype(np.uint8)
            if frame.shape[0] > 720:
                frame = cv2.resize(frame, (frame.shape[1] // 2, frame.shape[0] // 2),
                                   interpolation=cv2.INTER_AREA)
            clip.append(frame)
            if len(clip) == frames:
                break
        for i in np.linspace(0, len(clip) - 3, per_clip).astype(int) if len(clip) >= 3 else []:
            if not np.array_equal(clip[i], clip[i + 2]):
                triplets.append((f"{path.stem} {i}", (clip[i], clip[i + 2], clip[i + 1])))
    return triplets


def summary_table(table, triplets, what):
    """Per row: the mean PSNR over ``triplets``, and on how many the row beats flowkit's
    default and loses to it by more than 0.1 dB."""
    if not triplets:
        print(f"no {what} found; nothing to evaluate", file=sys.stderr)
        return 1
    print(f"PSNR (dB) at t = 0.5 on {len(triplets)} {what}")
    print("| method | mean PSNR | above the default | more than 0.1 dB below it |")
    print("|---|---|---|---|")
    default = None
    for label, run in table:
        values = np.array([psnr(run(a, b), truth) for _, (a, b, truth) in triplets])
        if default is None and label.startswith("flowkit interpolate (default"):
            default = values
        above = below = "-"
        if default is not None and values is not default:
            above, below = int((values > default).sum()), int((values < default - 0.1).sum())
        print(f"| {label} | {values.mean():.2f} | {above} | {below} |", flush=True)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", action="store_true",
                        help="also print the option variants the defaults were chosen from")
    parser.add_argument("--figures", metavar="DIR",
                        help="also write a PNG strip per triplet into DIR")
    parser.add_argument("--train", action="store_true",
                        help="evaluate on held-out triplets of the training clips instead")
    parser.add_argument("--videos", action="store_true",
                        help="evaluate on triplets cut from the real videos in "
                             "../shared/data/video instead")
    parser.add_argument("--sequences", action="store_true",
                        help="evaluate on triplets of every second frame of the Middlebury "
                             "RubberWhale and Sintel alley_1 sequences instead")
    parser.add_argument("--flow", action="append", default=[], metavar="NAME",
                        help="also rows of interpolate with this estimator (repeatable): "
                             + ", ".join(flowkit.list_estimators()))
    args = parser.parse_args(argv)
    for name in args.flow:
        if name not in flowkit.list_estimators():
            parser.error(f"--flow: expected one of {', '.join(flowkit.list_estimators())}, got {name!r}")
    if args.train:
        return summary_table(rows(args.variants, args.flow), train_triplets(),
                             "held-out triplets of the training clips")
    if args.videos:
        return summary_table(rows(args.variants, args.flow), video_triplets(),
                             "triplets cut from the shared videos")
    if args.sequences:
        return summary_table(rows(args.variants, args.flow), sequence_triplets(),
                             "triplets of every second frame of the sequences")
    triplets = load_triplets()
    if not triplets:
        print(f"no triplets found under {DATA}; nothing to evaluate", file=sys.stderr)
        return 1
    names = [name for name, _ in triplets]
    width = 52
    print("PSNR (dB) / IE at t = 0.5")
    print("| method".ljust(width) + " | " + " | ".join(f"{n:>15}" for n in names) + " |   mean PSNR |")
    print("|" + "-" * (width - 1) + "|" + "|".join("-" * 17 for _ in names) + "|-------------|")
    for label, run in rows(args.variants, args.flow):
        cells, values = [], []
        for _, (frame0, frame1, truth) in triplets:
            out = run(frame0, frame1)
            p = psnr(out, truth)
            values.append(p)
            cells.append(f"{p:6.2f} / {interpolation_error(out, truth):5.2f}")
        print(f"| {label}".ljust(width) + " | " + " | ".join(f"{c:>15}" for c in cells)
              + f" | {np.mean(values):11.2f} |", flush=True)
    if _have_av():
        for label, fmt in TRUTH_ROWS:
            cells, values = [], []
            for _, (_, _, truth) in triplets:
                out = yuv_roundtrip(truth, fmt)
                values.append(psnr(out, truth))
                cells.append(f"{values[-1]:6.2f} / {interpolation_error(out, truth):5.2f}")
            print(f"| {label}".ljust(width) + " | " + " | ".join(f"{c:>15}" for c in cells)
                  + f" | {np.mean(values):11.2f} |", flush=True)
    if args.figures:
        write_figures(triplets, args.figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
