"""The built-in sample and the command line (README's demo command)."""

import subprocess
import sys

import cv2
import numpy as np
import pytest

import flowkit
from flowkit.__main__ import main


def test_sample_pair_ground_truth_is_exact():
    frame0, frame1, flow = flowkit.sample_pair()
    assert frame0.shape == frame1.shape == (240, 320, 3) and frame0.dtype == np.uint8
    assert flow.shape == (240, 320, 2) and flow.dtype == np.float32
    # frame0[y, x] = frame1[y + v, x + u]: cubic resampling of frame1 by the true flow must
    # reproduce frame0 up to uint8 rounding and the cubic-vs-spline kernel difference (~2 levels).
    h, w = flow.shape[:2]
    x, y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    warped = cv2.remap(frame1, x + flow[..., 0], y + flow[..., 1], cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    inner = (slice(10, -10), slice(10, -10))
    err = np.abs(warped[inner].astype(int) - frame0[inner].astype(int))
    assert err.mean() < 1.0
    unrelated = np.abs(frame1[inner].astype(int) - frame0[inner].astype(int)).mean()
    assert unrelated > 5 * err.mean()


def test_sample_pair_is_deterministic_and_checks_size():
    a = flowkit.sample_pair(48, 64, seed=3)
    b = flowkit.sample_pair(48, 64, seed=3)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    with pytest.raises(ValueError, match="height, width"):
        flowkit.sample_pair(16, 64)


def test_demo_writes_files_and_report(tmp_path):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    names = {p.name for p in tmp_path.iterdir()}
    assert {"flow.flo", "flow.png", "flow_truth.png", "warped.png", "frame0.png", "frame1.png", "report.txt"} <= names
    report = (tmp_path / "report.txt").read_text()
    flow = flowkit.read_flo(tmp_path / "flow.flo")
    _, _, truth = flowkit.sample_pair()
    epe = flowkit.metrics.endpoint_error(flow, truth)
    assert f"flowkit {epe:.3f} px" in report
    # Farneback with OpenCV's tutorial settings on this smooth synthetic pair: ~0.3 px.
    assert epe < 0.6
    picture = cv2.imread(str(tmp_path / "flow.png"))
    assert picture.shape == (240, 320, 3)


def test_flow_and_color_commands(tmp_path):
    frame0, frame1, truth = flowkit.sample_pair(96, 128)
    for name, frame in (("a.png", frame0), ("b.png", frame1)):
        cv2.imwrite(str(tmp_path / name), frame[..., ::-1])
    out = tmp_path / "f.flo"
    assert main(["flow", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-o", str(out), "--png", str(tmp_path / "f.png")]) == 0
    flow = flowkit.read_flo(out)
    assert flowkit.metrics.endpoint_error(flow[8:-8, 8:-8], truth[8:-8, 8:-8]) < 1.0
    assert main(["color", str(out), "-o", str(tmp_path / "c.png")]) == 0
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "c.png")), cv2.imread(str(tmp_path / "f.png")))


def test_module_entry_point_help():
    result = subprocess.run([sys.executable, "-m", "flowkit", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "demo" in result.stdout
