"""Prediction accuracy: PSNR (dB) of predicted frames against the true future frames.

    python benchmarks/eval_prediction.py [--flow NAME ...] [--options JSON ...] [--rows TEXT ...]
                                         [--gan-weights W.safetensors ...]
                                         [--figure docs/images/prediction_strip.png]

Data (the shared data folder: ``FLOWKIT_DATA``, default ``../shared/data``, see its README;
each set is skipped with a note when absent):

* Middlebury RubberWhale (grayscale frame07..frame14): given frames 07-10, predict 11-14.
* The real traffic clip ``video/car_traffic_small.mp4`` (640x360 RGB): 20 evenly spaced
  windows of 4 context frames, each followed by 4 true frames; the mean PSNR per horizon.
* Sintel alley_1 (clean pass, 1024x436 RGB, frames 1-4): given frames 1-2, predict 3-4.

Rows: the peers (the last frame repeated; OpenCV Farneback with its default options on gray
frames, the newest pair's flow used with ``cv2.remap`` and re-estimated from the newest two
frames, real or predicted, at each step) and flowkit's ``predict`` with default options, with
its other schemes, with each default turned off in turn (and the defaults before 2026-11-30:
Farneback, a held field, no spread) and with a longer context; ``--flow NAME`` (repeatable,
any name of ``flowkit.list_estimators()``) adds ``predict`` with that estimator, default and
``"reestimate"`` schemes; ``--options '{"flow": "dis", "advect_flow": true}'`` (repeatable)
adds ``predict`` with those keyword options. ``--rows TEXT`` (repeatable) keeps only the rows
whose label contains one of the texts (a run of every row takes minutes). With torch
installed, ``predict(method="gan")`` with the shipped ``"predict-gan"`` weights and with its
L1-only variant (``weights="l1"``, the same network trained without the adversarial loss)
are rows too; ``--gan-weights W.safetensors`` (repeatable) adds a row for a weights file of
``flowkit train predict-gan``, run on the classical prediction its JSON's
``classical_base`` names (the options it was trained on). A second table per set gives the
sharpness: the mean gradient magnitude of the prediction over the truth's (1 = as sharp).
``--figure`` writes a strip (context, truth, prediction, error) of RubberWhale for
docs/prediction.md. ``--train`` evaluates on the three training clips with motion in
``video_train`` instead (10 windows each, 4 -> 4): data no choice was tuned on, a check of the
defaults chosen on the three sets above.
"""

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

import flowkit
from flowkit._atomic import atomic_path
from flowkit.metrics import psnr, sharpness

DATA = Path(os.environ.get("FLOWKIT_DATA",
                       Path(__file__).resolve().parents[2] / "shared" / "data"))


def middlebury(name="RubberWhale"):
    import cv2

    folder = DATA / "middlebury" / name
    files = [folder / f"frame{i:02d}.png" for i in range(7, 15)]
    if not all(f.is_file() for f in files):
        return None
    frames = [cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) for f in files]
    return [(frames[:4], frames[4:])]


def traffic(windows=20, context=4, horizon=4, path=DATA / "video" / "car_traffic_small.mp4"):
    """``windows`` evenly spaced windows of ``context`` frames and the ``horizon`` frames after."""
    if not path.is_file():
        return None
    count = sum(1 for _ in flowkit.iter_frames(path))  # decodable frames (the header says more)
    starts = np.linspace(0, count - context - horizon, windows).astype(int)
    wanted = {s + k for s in starts for k in range(context + horizon)}
    kept = {}  # only the windows' frames (the whole clip would be ~600 MB)
    for index, frame in enumerate(flowkit.iter_frames(path)):
        if index in wanted:
            kept[index] = frame
    return [([kept[s + k] for k in range(context)],
             [kept[s + context + k] for k in range(horizon)]) for s in starts]


# the training clips with motion (video_train/androidx__sample.avi repeats its frames: every
# prediction is exact there)
TRAIN_CLIPS = ("intel__car-detection.mp4", "intel__one-by-one-person-detection.mp4",
               "zwm__clip_02_caminandes.mp4")


def sintel(name="alley_1"):
    import cv2

    folder = DATA / "sintel" / name / "clean"
    files = [folder / f"frame_{i:04d}.png" for i in range(1, 5)]
    if not all(f.is_file() for f in files):
        return None
    frames = [cv2.imread(str(f))[..., ::-1].copy() for f in files]
    return [(frames[:2], frames[2:])]


def _gray(frame):
    import cv2

    return frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def repeat_last(context, horizon):
    return [context[-1]] * horizon


def opencv_reestimate(context, horizon):
    """OpenCV Farneback (default options, gray) + cv2.remap, re-estimated at every step."""
    import cv2

    h, w = context[-1].shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    previous, last = context[-2], context[-1]
    predicted = []
    for _ in range(horizon):
        # flow on the last frame's grid towards the previous one: last(x) ~ previous(x + f)
        f = cv2.calcOpticalFlowFarneback(_gray(last), _gray(previous), None, 0.5, 3, 15, 3, 5, 1.2, 0)
        following = cv2.remap(last, grid_x + f[..., 0], grid_y + f[..., 1], cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
        predicted.append(following)
        previous, last = last, following
    return predicted


def flowkit_predict(**options):
    def run(context, horizon):
        return list(flowkit.predict(np.stack(context), horizon, **options))

    run.context = options.get("context", "auto")
    return run


METHODS = {
    "repeat last frame": repeat_last,
    "OpenCV Farneback + remap, re-estimated": opencv_reestimate,
    "flowkit predict (defaults: dis, semi-lagrangian, advect_flow, speed_spread=0.1, context='auto')":
        flowkit_predict(),
    "flowkit context=2 (the defaults before 2026-12-01)": flowkit_predict(context=2),
    "flowkit scheme='reestimate'": flowkit_predict(scheme="reestimate"),
    "flowkit scheme='reestimate', flow='farneback'":
        flowkit_predict(scheme="reestimate", flow="farneback"),
    "flowkit scheme='forward'": flowkit_predict(scheme="forward"),
    "flowkit speed_spread=0": flowkit_predict(speed_spread=0.0),
    "flowkit advect_flow=False": flowkit_predict(advect_flow=False),
    "flowkit advect_flow=False, speed_spread=0": flowkit_predict(advect_flow=False, speed_spread=0.0),
    "flowkit flow='farneback'": flowkit_predict(flow="farneback"),
    "flowkit flow='farneback', advect_flow=False, speed_spread=0 (the defaults before 2026-11-30)":
        flowkit_predict(flow="farneback", advect_flow=False, speed_spread=0.0),
    "flowkit flow='dis-accurate'": flowkit_predict(flow="dis-accurate"),
    "flowkit context=4 (median)": flowkit_predict(context=4),
    "flowkit context=4, average='mean'": flowkit_predict(context=4, average="mean"),
}


def _torch_rows():
    """The ``method="gan"`` rows, when torch is installed."""
    try:
        import torch  # noqa: F401
    except ImportError:
        print("predict-gan rows skipped: torch is not installed (pip install \"flowkit-cv[torch]\")\n")
        return {}
    return {"flowkit method='gan' (predict-gan)": flowkit_predict(method="gan"),
            "flowkit method='gan', L1-only weights": flowkit_predict(method="gan", model="l1")}


def _gan_weights_row(path):
    """``predict(method="gan", model=path)`` on the base recorded in ``path``'s JSON."""
    import json

    meta = json.loads(Path(path).with_suffix(".json").read_text())
    base = meta.get("classical_base", {})
    return (f"flowkit method='gan', {Path(path).name} ({meta.get('pixel_loss', 'l1')}, "
            f"adversarial {meta['adversarial_weight']}; base "
            + ", ".join(f"{k}={v!r}" for k, v in base.items()) + ")",
            flowkit_predict(method="gan", model=str(path), **base))


def evaluate(windows, method):
    """Mean PSNR and mean sharpness per horizon."""
    scores, sharp = [], []
    for context, truth in windows:
        predicted = method(context, len(truth))
        scores.append([psnr(p, t) for p, t in zip(predicted, truth)])
        sharp.append([sharpness(p, t) for p, t in zip(predicted, truth)])
    return np.mean(scores, axis=0), np.mean(sharp, axis=0)


def figure(path):
    """Strip of RubberWhale: last two context frames, truth and prediction at horizons 1 and
    4, and the absolute error of each prediction (x4, inverted)."""
    import cv2

    windows = middlebury()
    if windows is None:
        sys.exit(f"figure: RubberWhale is not under {DATA}")
    context, truth = windows[0]
    predicted = flowkit.predict(np.stack(context), 4)
    tiles, labels = [context[-2], context[-1]], ["frame 09", "frame 10 (last)"]
    for k in (0, 3):
        error = 255 - np.clip(4 * np.abs(predicted[k].astype(np.int16) - truth[k]), 0, 255).astype(np.uint8)
        tiles += [truth[k], predicted[k], error]
        labels += [f"truth {11 + k}", f"predicted +{k + 1}", f"|error| x4, +{k + 1}"]
    scale = 0.5
    tiles = [cv2.resize(t, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) for t in tiles]
    for tile, label in zip(tiles, labels):
        cv2.putText(tile, label, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, 0, 3, cv2.LINE_AA)
        cv2.putText(tile, label, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, 255, 1, cv2.LINE_AA)
    rows = [np.concatenate(tiles[:2] + [np.full_like(tiles[0], 255)], axis=1),
            np.concatenate(tiles[2:5], axis=1), np.concatenate(tiles[5:8], axis=1)]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    strip = np.concatenate(rows, axis=0)
    with atomic_path(path) as tmp:  # an interrupted run leaves the previous figure
        if not cv2.imwrite(str(tmp), strip, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
            sys.exit(f"figure: OpenCV cannot write {path}")
    print(f"wrote {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flow", action="append", default=[], metavar="NAME",
                        help="also rows of predict with this estimator (repeatable): "
                             + ", ".join(flowkit.list_estimators()))
    parser.add_argument("--options", action="append", default=[], metavar="JSON",
                        help="also a row of predict with these keyword options (repeatable), "
                             "e.g. '{\"flow\": \"dis\", \"advect_flow\": true}'")
    parser.add_argument("--rows", action="append", default=[], metavar="TEXT",
                        help="only the rows whose label contains this text (repeatable)")
    parser.add_argument("--train", action="store_true",
                        help="evaluate on the training clips (video_train) instead: a check of "
                             "choices made on the evaluation sets")
    parser.add_argument("--gan-weights", action="append", default=[], metavar="W.safetensors",
                        help="also a row of predict(method='gan') with these weights (flowkit "
                             "train predict-gan) on the classical base of their JSON (repeatable)")
    parser.add_argument("--figure", help="also write the RubberWhale strip to this PNG path")
    args = parser.parse_args()
    for name in args.flow:
        if name not in flowkit.list_estimators():
            parser.error(f"--flow: expected one of {', '.join(flowkit.list_estimators())}, got {name!r}")
        METHODS[f"flowkit flow={name!r}"] = flowkit_predict(flow=name)
        METHODS[f"flowkit flow={name!r}, scheme='reestimate'"] = flowkit_predict(
            flow=name, scheme="reestimate")
    for text in args.options:
        try:
            options = json.loads(text)
        except json.JSONDecodeError as exc:
            parser.error(f"--options: expected a JSON object of predict options, got {text!r} ({exc})")
        if not isinstance(options, dict):
            parser.error(f"--options: expected a JSON object of predict options, got {text!r}")
        METHODS[f"flowkit {json.dumps(options)}"] = flowkit_predict(**options)
    METHODS.update(_torch_rows())
    for path in args.gan_weights:
        if not Path(path).is_file() or not Path(path).with_suffix(".json").is_file():
            parser.error(f"--gan-weights: expected a .safetensors file with its .json beside "
                         f"it, got {path!r}")
        label, method = _gan_weights_row(path)
        METHODS[label] = method
    for label in [label for label in METHODS if args.rows and not any(t in label for t in args.rows)]:
        del METHODS[label]
    if not METHODS:
        parser.error(f"--rows: no row label contains any of {args.rows}")
    sets = {"RubberWhale (07-10 -> 11-14)": middlebury(),
            "traffic clip (20 windows, 4 -> 4)": traffic(),
            "Sintel alley_1 (1-2 -> 3-4)": sintel()}
    if args.train:
        sets = {f"{name} (training clip, 10 windows, 4 -> 4)": traffic(10, path=DATA / "video_train" / name)
                for name in TRAIN_CLIPS}
    print(f"flowkit {flowkit.__version__}, {flowkit.get_num_threads()} threads; PSNR in dB per horizon\n")
    for name, windows in sets.items():
        if windows is None:
            print(f"{name}: skipped, data not found under {DATA}\n")
            continue
        header = " | ".join(f"+{k + 1}" for k in range(len(windows[0][1])))
        rows = {}
        for label, method in METHODS.items():
            context = getattr(method, "context", 2)
            if context == "auto" or context <= len(windows[0][0]):
                rows[label] = evaluate(windows, method)
        for title, column, digits in (("PSNR", 0, 2), ("sharpness", 1, 3)):
            print(f"| {name}, {title} | {header} |")
            print("|---|" + "---|" * len(windows[0][1]))
            for label in METHODS:
                values = rows[label][column] if label in rows else ["n/a"] * len(windows[0][1])
                print(f"| {label} | " + " | ".join(v if isinstance(v, str) else f"{v:.{digits}f}"
                                                   for v in values) + " |")
            print()
    if args.figure:
        figure(args.figure)


if __name__ == "__main__":
    main()
