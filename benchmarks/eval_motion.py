"""Sub-pixel bias and motion range of every flow estimator beside OpenCV, on exact motion.

    python benchmarks/eval_motion.py [fraction] [range] [affine] [intensity]

(all four without arguments; about 2 minutes on 2 cores). Textures: the gray frames
RubberWhale frame10 and Sintel alley_1 frame_0002 of ``../shared/data`` and a smooth synthetic
texture (``tests/cases.py::textured_image``, 512x512, blur 2). frame1 is frame0 moved by an
exact reference: a Fourier shift of the mirror-extended whole image (so the translation is
exact for every frequency) or a float64 fifth-order spline rotation / zoom about the centre,
then both frames are cropped from the middle and rounded to uint8 (OpenCV's DIS and pyramidal
Lucas-Kanade take uint8 only). Errors are over the pixels whose match lies inside frame1, 12
pixels away from the borders; sparse points are ``cv2.goodFeaturesToTrack(frame0, 400, 0.01,
5)`` there. Estimators (flowkit's ``normalize=False`` beside OpenCV, the same options):

* Farneback (0.5, 3 levels, 15, 3, 5, 1.2): flowkit default (``normalize=True``) and parity,
  ``cv2.calcOpticalFlowFarneback``;
* DIS ultrafast / fast / medium beside ``cv2.DISOpticalFlow`` with the same preset, and
  flowkit's accurate;
* dense Lucas-Kanade beside ``skimage.registration.optical_flow_ilk`` (radius 7, 10 warps);
* variational refinement of OpenCV's Farneback flow, flowkit beside
  ``cv2.VariationalRefinement``;
* sparse Lucas-Kanade (window 21, 3 levels, 30 iterations, eps 0.01) beside
  ``cv2.calcOpticalFlowPyrLK``.

Sections: ``fraction``: shifts 0.0, 0.1, ..., 1.0 px along u, then v (192x192 crops);
``range``: shifts (s + 0.3, -s/2 - 0.2) for s = 4 .. 64 (256x256 crops); ``affine``: rotation
by 1..5 degrees and zoom by 1..5 % (256x256); ``intensity``: one pair of RubberWhale in
other dtypes and intensity scales, flowkit's default and ``normalize=False`` (OpenCV where it
takes the dtype). Results: docs/accuracy.md, "Sub-pixel bias and motion range".
"""

import sys
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage

import flowkit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from cases import DATA_DIR, textured_image  # noqa: E402

MARGIN = 12
FB = dict(pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2)
CV_PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
              "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
              "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}


def textures():
    """Float64 gray images in 0..255, name -> image."""
    def gray(*parts):
        return cv2.imread(str(DATA_DIR.joinpath(*parts)), cv2.IMREAD_GRAYSCALE).astype(float)

    return {"RubberWhale": gray("middlebury", "RubberWhale", "frame10.png"),
            "Sintel": gray("sintel", "alley_1", "clean", "frame_0002.png"),
            "synthetic": textured_image(512, 512, seed=3, smooth=2.0) * 220 + 20}


def crop(image, size):
    y0, x0 = (image.shape[0] - size) // 2, (image.shape[1] - size) // 2
    return image[y0:y0 + size, x0:x0 + size]


def shifted(image, u, v):
    """``image`` moved by (u, v): ``out(x, y) = image(x - u, y - v)``, exact for its mirror
    extension (a periodic image without jumps at the borders)."""
    h, w = image.shape
    spectrum = np.fft.fft2(np.pad(image, ((0, h), (0, w)), mode="symmetric"))
    return np.fft.ifft2(ndimage.fourier_shift(spectrum, (v, u))).real[:h, :w]


def affine(image, degrees, zoom):
    """(moved image, flow): ``image`` rotated by ``degrees`` and scaled by ``zoom`` about its
    centre, with the exact flow ``q - p`` of each pixel p to its place q."""
    h, w = image.shape
    a = np.deg2rad(degrees)
    m = zoom * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])  # on (x, y)
    inv = np.linalg.inv(m)[::-1, ::-1]  # on (row, col)
    centre = np.array([h / 2.0, w / 2.0])
    pad = 64
    moved = ndimage.affine_transform(np.pad(image, pad, mode="symmetric"), inv,
                                     offset=centre + pad - inv @ (centre + pad), order=5,
                                     mode="mirror")[pad:-pad, pad:-pad]
    yy, xx = np.mgrid[0:h, 0:w] - centre[:, None, None]
    flow = np.stack([m[0, 0] * xx + m[0, 1] * yy - xx, m[1, 0] * xx + m[1, 1] * yy - yy], -1)
    return moved, flow


def to_uint8(x):
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def cv_farneback(f0, f1):
    return cv2.calcOpticalFlowFarneback(f0, f1, None, 0.5, 3, 15, 3, 5, 1.2, 0)


def _cv_dis(preset):
    return lambda f0, f1: cv2.DISOpticalFlow_create(CV_PRESETS[preset]).calc(f0, f1, None)


def _fk_dis(preset):
    return lambda f0, f1: flowkit.dis(f0, f1, preset=preset, normalize=False)


def _ilk(f0, f1):
    from skimage.registration import optical_flow_ilk

    v, u = optical_flow_ilk(f0.astype(np.float32) / 255, f1.astype(np.float32) / 255,
                            radius=7, num_warp=10)
    return np.stack([u, v], -1)


DENSE = {
    "flowkit farneback (default)": lambda f0, f1: flowkit.farneback(f0, f1, **FB),
    "flowkit farneback (parity)": lambda f0, f1: flowkit.farneback(f0, f1, **FB,
                                                                   normalize=False),
    "OpenCV farneback": cv_farneback,
    "flowkit dis ultrafast": _fk_dis("ultrafast"), "OpenCV dis ultrafast": _cv_dis("ultrafast"),
    "flowkit dis fast": _fk_dis("fast"), "OpenCV dis fast": _cv_dis("fast"),
    "flowkit dis medium": _fk_dis("medium"), "OpenCV dis medium": _cv_dis("medium"),
    "flowkit dis accurate": _fk_dis("accurate"),
    "flowkit lucas_kanade": lambda f0, f1: flowkit.lucas_kanade(f0, f1, normalize=False),
    "scikit-image ilk": _ilk,
    "flowkit variational (Farneback start)": lambda f0, f1: flowkit.variational_refinement(
        f0, f1, cv_farneback(f0, f1), normalize=False),
    "OpenCV variational (Farneback start)": lambda f0, f1: (
        cv2.VariationalRefinement_create().calc(f0, f1, cv_farneback(f0, f1))),
}


def inside(flow):
    """Pixels whose match lies inside frame1, MARGIN pixels from every border."""
    h, w = flow.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    x1, y1 = xx + flow[..., 0], yy + flow[..., 1]
    lo = MARGIN
    return ((xx >= lo) & (yy >= lo) & (xx < w - lo) & (yy < h - lo) & (x1 >= lo) & (y1 >= lo)
            & (x1 < w - 1 - lo) & (y1 < h - 1 - lo))


def sparse_errors(f0, f1, truth, mask, library):
    """(errors (n, 2) of the tracked points, fraction tracked)."""
    pts = cv2.goodFeaturesToTrack(f0, 400, 0.01, 5).reshape(-1, 2)
    pts = pts[mask[np.rint(pts[:, 1]).astype(int), np.rint(pts[:, 0]).astype(int)]]
    if library == "flowkit":
        p1, status, _ = flowkit.lucas_kanade_sparse(f0, f1, pts, normalize=False)
    else:
        p1, status, _ = cv2.calcOpticalFlowPyrLK(
            f0, f1, pts.reshape(-1, 1, 2), None, winSize=(21, 21), maxLevel=3,
            criteria=(cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 30, 0.01))
        p1, status = p1.reshape(-1, 2), status.ravel().astype(bool)
    at = [pts[:, 1], pts[:, 0]]
    true = np.stack([ndimage.map_coordinates(truth[..., c], at, order=1) for c in (0, 1)], 1)
    return (p1 - pts - true)[status], status.mean()


def errors(f0, f1, truth):
    """name -> (signed errors (n, 2), fraction tracked or None) of every estimator."""
    mask = inside(truth)
    out = {name: (fn(f0, f1)[mask] - truth[mask], None) for name, fn in DENSE.items()}
    for library in ("flowkit", "OpenCV"):
        out[f"{library} lucas_kanade_sparse"] = sparse_errors(f0, f1, truth, mask, library)
    return out


def _epe(err):
    return float(np.linalg.norm(err, axis=1).mean())


def fraction(images):
    """Bias along the shift's axis against its fraction of a pixel."""
    size, steps = 192, np.round(np.arange(11) * 0.1, 1)
    print("\n## fraction: shifts 0.0 .. 1.0 px along u, then v; EPE = mean over the 22 shifts;"
          " bias(1) = signed error at 1 px; locking = max |bias(f) - f bias(1)|")
    for tname, image in images.items():
        big = crop(image, 320)
        bias, epe = {}, {}
        for axis in (0, 1):
            for f in steps:
                shift = (f, 0.0) if axis == 0 else (0.0, f)
                f0 = to_uint8(crop(big, size))
                f1 = to_uint8(crop(shifted(big, *shift), size))
                truth = np.zeros((size, size, 2))
                truth[...] = shift
                for name, (err, _) in errors(f0, f1, truth).items():
                    bias.setdefault((name, axis), []).append(float(err[:, axis].mean()))
                    epe.setdefault(name, []).append(_epe(err))
        print(f"\n{tname} ({size}x{size})\n\n| estimator | EPE | max abs bias | bias(1) u, v |"
              " locking u, v |\n|---|---|---|---|---|")
        for name in epe:
            b = [np.array(bias[(name, a)]) for a in (0, 1)]
            lock = [np.abs(x - steps * x[-1]).max() for x in b]
            print(f"| {name} | {np.mean(epe[name]):.3f} | {max(np.abs(x).max() for x in b):.3f} "
                  f"| {b[0][-1]:+.3f}, {b[1][-1]:+.3f} | {lock[0]:.3f}, {lock[1]:.3f} |")


def motion_range(images):
    """EPE and share of pixels (points) within 1 px for growing translations."""
    size, shifts = 256, (4, 8, 16, 32, 64)
    print("\n## range: shift (s + 0.3, -s/2 - 0.2); EPE / share within 1 px (sparse: of the"
          " points, lost ones counting as misses)")
    for tname, image in images.items():
        rows = {}
        for s in shifts:
            u, v = s + 0.3, -s / 2 - 0.2
            f0 = to_uint8(crop(image, size))
            f1 = to_uint8(crop(shifted(image, u, v), size))
            truth = np.zeros((size, size, 2))
            truth[...] = (u, v)
            for name, (err, tracked) in errors(f0, f1, truth).items():
                d = np.linalg.norm(err, axis=1)
                share = (d < 1).mean() * (1 if tracked is None else tracked)
                rows.setdefault(name, []).append(f"{d.mean():.2f} / {share:.2f}")
        print(f"\n{tname} ({size}x{size})\n\n| estimator | "
              + " | ".join(f"s = {s}" for s in shifts) + " |\n|---" + "|---" * len(shifts) + "|")
        for name, cells in rows.items():
            print(f"| {name} | " + " | ".join(cells) + " |")


def rotation_zoom(images):
    size, steps = 256, (1, 2, 3, 4, 5)
    print("\n## affine: EPE for rotation by 1..5 degrees | zoom by 1..5 %")
    for tname, image in images.items():
        rows = {}
        for kind in ("rotation", "zoom"):
            for k in steps:
                moved, flow = affine(image, k, 1.0) if kind == "rotation" else \
                    affine(image, 0.0, 1 + k / 100)
                f0, f1 = to_uint8(crop(image, size)), to_uint8(crop(moved, size))
                for name, (err, _) in errors(f0, f1, crop(flow, size)).items():
                    rows.setdefault(name, []).append(f"{_epe(err):.3f}")
        print(f"\n{tname} ({size}x{size})\n\n| estimator | "
              + " | ".join(f"{k} deg" for k in steps) + " | "
              + " | ".join(f"{k} %" for k in steps) + " |\n|---" + "|---" * 10 + "|")
        for name, cells in rows.items():
            print(f"| {name} | " + " | ".join(cells) + " |")


def intensity(images):
    """One RubberWhale pair in other dtypes and scales (flowkit default and normalize=False;
    OpenCV where it takes the dtype: Farneback uint8 and float32, DIS uint8)."""
    size, (u, v) = 256, (5.4, -2.7)
    image = images["RubberWhale"]
    a0 = np.clip(crop(image, size), 0, 255)
    a1 = np.clip(crop(shifted(image, u, v), size), 0, 255)
    truth = np.zeros((size, size, 2))
    truth[...] = (u, v)
    mask = inside(truth)
    inputs = {
        "uint8": to_uint8,
        "uint8 0.25 I + 60": lambda x: to_uint8(0.25 * x + 60),
        "uint16 257 I": lambda x: np.rint(x * 257).astype(np.uint16),
        "uint16 4 I + 100": lambda x: np.rint(x * 4 + 100).astype(np.uint16),
        "float32 I / 255": lambda x: (x / 255).astype(np.float32),
        "float32 0.03 I / 255 + 0.5": lambda x: (0.03 * x / 255 + 0.5).astype(np.float32),
        "float32 I": lambda x: x.astype(np.float32),
    }
    estimators = {}
    for norm in (True, False):
        tag = "default" if norm else "normalize=False"
        estimators[f"flowkit farneback ({tag})"] = (
            lambda f0, f1, n=norm: flowkit.farneback(f0, f1, **FB, normalize=n))
        estimators[f"flowkit dis medium ({tag})"] = (
            lambda f0, f1, n=norm: flowkit.dis(f0, f1, normalize=n))
        estimators[f"flowkit lucas_kanade ({tag})"] = (
            lambda f0, f1, n=norm: flowkit.lucas_kanade(f0, f1, normalize=n))
    estimators["OpenCV farneback"] = lambda f0, f1: (
        cv_farneback(f0, f1) if f0.dtype in (np.uint8, np.float32) else None)
    estimators["OpenCV dis medium"] = lambda f0, f1: (
        _cv_dis("medium")(f0, f1) if f0.dtype == np.uint8 else None)
    print(f"\n## intensity: RubberWhale {size}x{size} moved by ({u}, {v}), EPE per input\n\n"
          "| estimator | " + " | ".join(inputs) + " |\n|---" + "|---" * len(inputs) + "|")
    for name, fn in sorted(estimators.items()):
        cells = []
        for convert in inputs.values():
            flow = fn(convert(a0), convert(a1))
            cells.append("-" if flow is None else
                         f"{np.linalg.norm(flow[mask] - truth[mask], axis=1).mean():.3f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


SECTIONS = {"fraction": fraction, "range": motion_range, "affine": rotation_zoom,
            "intensity": intensity}

def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("sections", nargs="*", metavar="SECTION",
                        help=f"some of {', '.join(SECTIONS)} (default: all)")
    args = parser.parse_args(argv)
    for section in args.sections:
        if section not in SECTIONS:
            parser.error(f"SECTION: expected some of {', '.join(SECTIONS)}, got {section!r}")
    needed = [DATA_DIR / "middlebury" / "RubberWhale" / "frame10.png",
              DATA_DIR / "sintel" / "alley_1" / "clean" / "frame_0002.png"]
    missing = [str(p) for p in needed if not p.exists()]
    if missing:
        print(f"skipped, data not found: {missing[0]} (set FLOWKIT_DATA to ../shared/data)")
        return
    cv2.setNumThreads(2)
    flowkit.set_num_threads(2)
    print(f"flowkit beside OpenCV {cv2.__version__}")
    images = textures()
    for section in args.sections or list(SECTIONS):
        SECTIONS[section](images)


if __name__ == "__main__":
    main()
