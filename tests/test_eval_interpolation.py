"""The FFmpeg minterpolate peer of benchmarks/eval_interpolation.py (PyAV's filter graph): the
frame it takes is minterpolate's middle output (t = 0.5), not an input or a duplicate."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("av", reason="PyAV (`av`, the bench extra) is not installed")
cv2 = pytest.importorskip("cv2")

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "eval_interpolation.py"


def _script():
    spec = importlib.util.spec_from_file_location("eval_interpolation", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _texture(h, w, seed=1):
    rng = np.random.default_rng(seed)
    tex = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (0, 0), 2)
    return cv2.normalize(tex, None, 0, 255, cv2.NORM_MINMAX)


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuv444p"])
@pytest.mark.parametrize("h, w", [(64, 96), (63, 95)])  # odd sizes are padded to even
def test_minterpolate_returns_the_middle_frame(pix_fmt, h, w):
    script = _script()
    tex = _texture(h + 16, w + 24)

    def shifted(d):  # the texture moved left by d px
        return np.ascontiguousarray(tex[8:8 + h, 8 + d:8 + d + w])

    frame0, frame1 = shifted(0), shifted(8)
    middle = script.minterpolate(frame0, frame1, pix_fmt)
    assert middle.shape == frame0.shape and middle.dtype == np.uint8
    inner = (slice(4, -4), slice(12, -12))  # away from the borders that enter or leave
    errors = [np.abs(middle[inner].astype(float) - shifted(d)[inner]).mean() for d in range(9)]
    # closest to the texture moved halfway (4 px), not to either input
    assert int(np.argmin(errors)) == 4, errors
    assert errors[4] < 0.6 * min(errors[0], errors[8]), errors


def test_yuv_roundtrip_costs():
    script = _script()
    frame = _texture(64, 96)
    loss420 = np.abs(script.yuv_roundtrip(frame, "yuv420p").astype(float) - frame).mean()
    loss444 = np.abs(script.yuv_roundtrip(frame, "yuv444p").astype(float) - frame).mean()
    assert loss444 < 1.0 and loss444 < loss420


def test_figures_are_written_atomically(tmp_path, monkeypatch):
    """write_figures (``--figures docs/images/``) writes each strip once, atomically, at the
    first height under the size limit: it wrote the file at every height it tried, so a run
    stopped between two heights left an oversized strip in place of the previous figure."""
    import flowkit

    script = _script()
    frame0, truth, frame1 = (_texture(40, 64, seed) for seed in (1, 2, 3))
    monkeypatch.setattr(flowkit, "interpolate", lambda a, b, t: truth)
    path = tmp_path / "interpolation_x.png"
    path.write_bytes(b"previous figure")
    calls = []
    put_text = cv2.putText

    def stop_at_second_height(*args, **kwargs):
        calls.append(1)
        if len(calls) > 6:  # six labelled panels per height
            raise KeyboardInterrupt
        return put_text(*args, **kwargs)

    monkeypatch.setattr(cv2, "putText", stop_at_second_height)
    with pytest.raises(KeyboardInterrupt):
        script.write_figures([("x", (frame0, frame1, truth))], tmp_path, limit=1)
    assert path.read_bytes() == b"previous figure"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    monkeypatch.setattr(cv2, "putText", put_text)
    script.write_figures([("x", (frame0, frame1, truth))], tmp_path, heights=(40, 20), limit=1)
    strip = cv2.imread(str(path))
    assert strip.shape[0] == 20 and sorted(p.name for p in tmp_path.iterdir()) == [path.name]
