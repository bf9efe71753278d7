"""Flow files, video reading and flow colouring beside their usual peers, at equal thread counts.

Run: ``pytest benchmarks/bench_io.py --benchmark-only``. Each group holds flowkit and its peer
for one task and size:

* read_flo / write_flo: ``cv2.readOpticalFlow`` / ``cv2.writeOpticalFlow`` (flowkit also checks
  the byte count and writes atomically: temporary file, then rename). Files live in a temporary
  folder, so reads come from the page cache.
* write_kitti_flow: the usual NumPy encoding (``flow * 64 + 2**15``) plus ``cv2.imwrite``.
* flow_to_color: a vectorised NumPy Middlebury colour wheel (the approach of the ``flow_vis``
  package); OpenCV has no flow colouring.
* iter_frames: a plain ``cv2.VideoCapture`` loop with ``cv2.cvtColor(BGR2RGB)``, over 20 frames
  of an MJPG .avi written once per size.

Threads: ``FLOWKIT_BENCH_THREADS`` (default 2) for both, see ``conftest.py``.
"""

import cv2
import numpy as np
import pytest
from conftest import SIZES, run, smooth_flow_field

import flowkit
from flowkit import flow_to_color, iter_frames, read_flo, write_flo, write_kitti_flow

VIDEO_FRAMES = 20


def _flow(size):
    return smooth_flow_field(size, amplitude=8, noise=0)


def _wheel():
    ry, yg, gc, cb, bm, mr = 15, 6, 4, 11, 13, 6
    wheel = np.zeros((55, 3))
    k = 0
    for count, start, ramp in [(ry, (255, 0, 0), (0, 1, 0)), (yg, (255, 255, 0), (-1, 0, 0)),
                               (gc, (0, 255, 0), (0, 0, 1)), (cb, (0, 255, 255), (0, -1, 0)),
                               (bm, (0, 0, 255), (1, 0, 0)), (mr, (255, 0, 255), (0, 0, -1))]:
        i = np.arange(count)
        wheel[k:k + count] = np.array(start) + np.outer(np.floor(255 * i / count), ramp)
        k += count
    return wheel / 255


WHEEL = _wheel()


def numpy_flow_to_color(flow):
    """Vectorised NumPy Middlebury colouring (flow_vis style), the usual peer."""
    u, v = flow[..., 0], flow[..., 1]
    rad = np.sqrt(u * u + v * v)
    scale = rad.max() or 1.0
    u, v, rad = u / scale, v / scale, rad / scale
    fk = (np.arctan2(-v, -u) / np.pi + 1) / 2 * (len(WHEEL) - 1)
    k0 = fk.astype(np.int32)
    k1 = (k0 + 1) % len(WHEEL)
    f = (fk - k0)[..., None]
    col = (1 - f) * WHEEL[k0] + f * WHEEL[k1]
    inside = (rad <= 1)[..., None]
    col = np.where(inside, 1 - rad[..., None] * (1 - col), col * 0.75)
    return np.floor(255 * col).astype(np.uint8)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("impl", ["flowkit", "opencv"])
def test_read_flo(benchmark, tmp_path, impl, size):
    path = tmp_path / "flow.flo"
    write_flo(path, _flow(size))
    benchmark.group = f"read_flo {size}"
    fn = (lambda: read_flo(path)) if impl == "flowkit" else (lambda: cv2.readOpticalFlow(str(path)))
    run(benchmark, fn, rounds=15)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("impl", ["flowkit", "opencv"])
def test_write_flo(benchmark, tmp_path, impl, size):
    flow, path = _flow(size), tmp_path / "flow.flo"
    benchmark.group = f"write_flo {size}"
    fn = (lambda: write_flo(path, flow)) if impl == "flowkit" else (lambda: cv2.writeOpticalFlow(str(path), flow))
    run(benchmark, fn, rounds=15)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("impl", ["flowkit", "numpy+opencv"])
def test_write_kitti_flow(benchmark, tmp_path, impl, size):
    flow, path = _flow(size), tmp_path / "flow.png"
    benchmark.group = f"write_kitti_flow {size}"

    def peer():
        encoded = np.empty(flow.shape[:2] + (3,), np.uint16)
        encoded[..., 2:0:-1] = np.clip(np.rint(flow * 64 + 2**15), 0, 65535)
        encoded[..., 0] = 1
        cv2.imwrite(str(path), encoded)

    run(benchmark, (lambda: write_kitti_flow(path, flow)) if impl == "flowkit" else peer, rounds=5)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("impl", ["flowkit", "numpy"])
def test_flow_to_color(benchmark, impl, size):
    flow = _flow(size)
    benchmark.group = f"flow_to_color {size}"
    run(benchmark, (lambda: flow_to_color(flow)) if impl == "flowkit" else (lambda: numpy_flow_to_color(flow)),
        rounds=15)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    paths = {}
    rng = np.random.default_rng(0)
    for size, (h, w) in SIZES.items():
        base = cv2.resize(rng.integers(0, 256, (h // 16, w // 16, 3), dtype=np.uint8), (w, h))
        paths[size] = folder / f"{size}.avi"
        with flowkit.VideoWriter(paths[size], 30) as writer:
            for i in range(VIDEO_FRAMES):
                writer.write(np.roll(base, 4 * i, axis=1))
    return paths


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("impl", ["flowkit", "opencv"])
def test_iter_frames(benchmark, videos, impl, size):
    path = videos[size]
    benchmark.group = f"iter_frames ({VIDEO_FRAMES} MJPG frames) {size}"

    def peer():
        capture = cv2.VideoCapture(str(path))
        frames = []
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        capture.release()
        return frames

    run(benchmark, (lambda: list(iter_frames(path))) if impl == "flowkit" else peer, rounds=5)


if __name__ == "__main__":
    from conftest import run_under_pytest

    run_under_pytest(__file__, __doc__)
