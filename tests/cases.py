"""Shared test cases: synthetic images with known motion and the reference data in ../shared/data."""

import contextlib
import gc
import os
from pathlib import Path

import numpy as np
import pytest

DATA_DIR = Path(os.environ.get("FLOWKIT_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def data_path(*parts):
    """Path inside the reference data folder; skips the test with a reason if it is absent."""
    path = DATA_DIR.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference data not found: {path} (set FLOWKIT_DATA to ../shared/data)")
    return path


def textured_image(height, width, *, seed=0, smooth=2.0, channels=None):
    """Smooth random texture in [0, 1], float64, shape (H, W) or (H, W, C)."""
    import cv2

    rng = np.random.default_rng(seed)
    shape = (height, width) if channels is None else (height, width, channels)
    noise = rng.random(shape)
    image = cv2.GaussianBlur(noise, (0, 0), smooth, borderType=cv2.BORDER_REFLECT_101)
    image -= image.min()
    return image / image.max()


def translated_pair(height, width, du, dv, *, seed=0, smooth=2.0):
    """(frame0, frame1, flow) with frame0[y, x] = frame1[y + dv, x + du], float64 in [0, 1].

    frame1 is a resampling of a smooth texture shifted by (-du, -dv) with cubic spline
    interpolation, so the true flow is exactly (du, dv) everywhere away from the borders.
    """
    from scipy import ndimage

    base = textured_image(height, width, seed=seed, smooth=smooth)
    frame0 = base
    frame1 = ndimage.shift(base, (dv, du), order=3, mode="reflect")
    flow = np.empty((height, width, 2), np.float32)
    flow[..., 0] = du
    flow[..., 1] = dv
    return frame0, frame1, flow


def one_buffer(frames):
    """Yield ``frames`` as a video reader that refills one buffer does
    (``cv2.VideoCapture.read(image=buf)``): every item is the same array, overwritten by the
    next frame when the next one is read."""
    buffer = np.empty_like(frames[0])
    for frame in frames:
        buffer[...] = frame
        yield buffer


def load_gray(path):
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    assert image is not None, path
    return image


def _valid_mask(flow):
    return np.all(np.isfinite(flow) & (np.abs(flow) < 1e9), axis=-1)


# name -> (frame0 path parts, frame1 path parts, ground-truth flow path parts)
GROUND_TRUTH_CASES = {
    "RubberWhale": (("middlebury", "RubberWhale", "frame10.png"), ("middlebury", "RubberWhale", "frame11.png"),
                    ("middlebury", "RubberWhale", "flow10.flo")),
    "Venus": (("middlebury", "Venus", "frame10.png"), ("middlebury", "Venus", "frame11.png"),
              ("middlebury", "Venus", "flow10.flo")),
    "Yosemite": (("yosemite", "yos9.png"), ("yosemite", "yos10.png"), ("yosemite", "correct_yos.flo")),
    "Sintel-alley_1": (("sintel", "alley_1", "clean", "frame_0002.png"), ("sintel", "alley_1", "clean", "frame_0003.png"),
                       ("sintel", "alley_1", "flow", "frame_0002.flo")),
}


def ground_truth_case(name):
    """(frame0, frame1, gt_flow, valid) as uint8 gray frames, float32 flow and bool mask.

    Sintel's invalid mask (255 = invalid) is applied; unknown Middlebury flow is masked out.
    """
    from flowkit import read_flo

    p0, p1, pf = GROUND_TRUTH_CASES[name]
    frame0 = load_gray(data_path(*p0))
    frame1 = load_gray(data_path(*p1))
    gt = read_flo(data_path(*pf))
    valid = _valid_mask(gt)
    if name.startswith("Sintel"):
        invalid = load_gray(data_path("sintel", "alley_1", "invalid", "frame_0002.png")) > 127
        valid &= ~invalid
    return frame0, frame1, gt, valid


def run_without_torch(tmp_path, code, module="torch"):
    """Run ``code`` in a fresh interpreter in which ``import torch`` (or ``import MODULE``, for
    each of several names if ``module`` is a tuple) fails, as in a torch-less install; returns
    its stdout lines (asserting a zero exit status)."""
    import subprocess
    import sys

    for name in (module,) if isinstance(module, str) else module:
        (tmp_path / f"{name}.py").write_text(f"raise ImportError('no {name} here')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()


def error_under_file_limit(limit, setup, call):
    """Run ``setup`` then ``call`` (Python source lines) in a fresh interpreter whose files may
    not exceed ``limit`` bytes (``ulimit -f``: Python ignores SIGXFSZ, so writes fail with
    EFBIG); returns ``"TYPE|ERRNO|FILENAME"`` of the exception ``call`` raised (asserting a
    zero exit status)."""
    import subprocess
    import sys

    indented = "".join("    " + line + "\n" for line in call.splitlines())
    script = (f"import resource\n{setup}\n"
              f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, resource.RLIM_INFINITY))\n"
              f"try:\n{indented}except Exception as exc:\n"
              "    print(type(exc).__name__, exc.errno, exc.filename, sep='|')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def json_probes(code, *runs):
    """The JSON printed by ``code`` in fresh interpreters, one per ``(cache_dir, env)`` of
    ``runs`` (``NUMBA_CACHE_DIR`` set to ``cache_dir``, ``env`` added), all running at once:
    each compiles on its own cache, single-threaded, so on two cores they take half the wall
    time of running one after another (asserting zero exit statuses)."""
    import json
    import subprocess
    import sys

    children = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True,
                                 env=dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), **env))
                for cache_dir, env in runs]
    outputs = []
    for child in children:
        out, err = child.communicate(timeout=600)
        assert child.returncode == 0, err
        outputs.append(json.loads(out))
    return outputs


def open_files(folder):
    """The paths under ``folder`` this process holds open (Linux's /proc/self/fd)."""
    links = (os.path.join("/proc/self/fd", fd) for fd in os.listdir("/proc/self/fd"))
    return [target for target in map(_readlink, links) if target.startswith(str(folder))]


def _readlink(link):
    try:
        return os.readlink(link)
    except OSError:  # closed since it was listed
        return ""


@contextlib.contextmanager
def without_gc():
    """The garbage collector off, so that what only it would free (PyAV's containers, which
    form reference cycles) stays open where a file is not closed explicitly."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def cut_with_an_edit_list(src, dst, frames):
    """``src``'s packets remuxed into an MP4 whose edit list starts ``frames`` frames in, as
    ``ffmpeg -ss T -c copy`` cuts between keyframes: those frames decode but are not shown."""
    import av

    with av.open(str(src)) as given, av.open(str(dst), "w") as cut:
        stream = given.streams.video[0]
        out = cut.add_stream_from_template(stream)
        shift = round(frames / (stream.average_rate * stream.time_base))
        for packet in given.demux(stream):
            if packet.size:  # not the demuxer's empty flush packet
                packet.pts, packet.dts, packet.stream = packet.pts - shift, packet.dts - shift, out
                cut.mux(packet)
    return dst


def fresh_python_peak(setup, call):
    """The Python-level peak (tracemalloc; NumPy's buffers and the kernels' own allocations
    are traced) in bytes of the statement ``call`` run after ``setup`` (which compiles what it
    needs) in a fresh interpreter on one thread. In the suite's process other tests' threads
    and caches allocated during the measurement; on two threads the kernels' bands overlap by
    timing (a worker that starts late or returns after the calling thread moved on, which
    flowkit does not wait for: ``kernels.parallel``), so under load the peak grew by 1.7-3
    float32 frames now and then (predict 8.3 -> 10.0 frames) and the bounds failed in full
    runs only."""
    import os
    import subprocess
    import sys
    import textwrap

    code = "\n".join(["import tracemalloc", textwrap.dedent(setup), "tracemalloc.start()",
                      textwrap.dedent(call), "print(tracemalloc.get_traced_memory()[1])"])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=600, env=dict(os.environ, NUMBA_NUM_THREADS="1"))
    assert done.returncode == 0, done.stderr[-3000:]
    return int(done.stdout.split()[-1])


def interlaced_clip(path, frames, codec, order, options=None, timecode=None):
    """Progressive ``frames`` (RGB uint8, an even count) woven two by two into a 25i clip
    coded interlaced, field order ``order`` ("tff" or "bff": FFmpeg's setfield): frame 2k's
    rows in the field shown first (rows 0, 2, ... for tff, 1, 3, ... for bff), frame 2k + 1's
    in the other, so ``frames`` are the progressive truth at 50 fields a second. ``options``:
    the encoder's; ``{"qscale": "2"}`` is FFmpeg's ``-qscale 2`` (MPEG-2 near lossless: the
    encoder has no option of that name, which it ignored, coding at its 200 kb/s default).
    ``timecode``: the video stream's start timecode (a ``tmcd`` track in MOV and MP4)."""
    from fractions import Fraction

    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, 25)
        options, flags = dict(options or {}), "+ilme+ildct"
        if "qscale" in options:  # a fixed quantiser: FFmpeg's lambda per step, 118
            flags += "+qscale"
            options["global_quality"] = str(118 * int(options.pop("qscale")))
        stream.options = {"flags": flags, **options}
        if timecode is not None:
            stream.metadata["timecode"] = timecode
        graph = av.filter.Graph()
        source = graph.add_buffer(width=stream.width, height=stream.height, format="yuv420p",
                                  time_base=Fraction(1, 25))
        setfield, sink = graph.add("setfield", order), graph.add("buffersink")
        source.link_to(setfield)
        setfield.link_to(sink)
        graph.configure()
        top, bottom = (0, 1) if order == "tff" else (1, 0)  # frame 2k's field shown first
        for k in range(len(frames) // 2):
            woven = frames[2 * k + top].copy()
            woven[1::2] = frames[2 * k + bottom][1::2]
            picture = av.VideoFrame.from_ndarray(woven, format="rgb24").reformat(format="yuv420p")
            picture.pts, picture.time_base = k, Fraction(1, 25)
            graph.push(picture)
            container.mux(stream.encode(graph.pull()))
        container.mux(stream.encode(None))
    return path


def clip_with_audio(path, codec, *, rate=48000, layout="stereo", seconds=0.5, fps=24):
    """A small clip written with PyAV: ``seconds`` of 32x32 MPEG-4 Part 2 frames (a ramp that
    moves, a container of almost any kind takes the codec) and as long a 440 Hz tone coded as
    ``codec`` (an FFmpeg audio encoder: ``"libopus"``, ``"pcm_s16le"``, ...) at ``rate`` Hz in
    ``layout`` (PCM in AVI, Matroska or ASF reads back as ``"2 channels"``: no channel order,
    as WAVE files store it)."""
    from fractions import Fraction

    import av

    with av.open(str(path), "w") as container:
        video = container.add_stream("mpeg4", rate=fps)
        video.width = video.height = 32
        video.pix_fmt = "yuv420p"
        audio = container.add_stream(codec, rate=rate)
        audio.layout = layout
        audio.codec_context.open()
        channels = audio.codec_context.layout.nb_channels
        resampler = av.AudioResampler(format=audio.codec_context.format.name,
                                      layout=audio.codec_context.layout, rate=rate)
        size = audio.codec_context.frame_size or 1024
        total = round(seconds * rate)
        tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(total) / rate)).astype(np.float32)
        ramp = np.arange(32, dtype=np.uint8)[None, :, None] * 6
        for k in range(round(seconds * fps)):
            picture = av.VideoFrame.from_ndarray(np.broadcast_to(ramp + 4 * k, (32, 32, 3)).copy(),
                                                 format="rgb24")
            picture.pts = k
            container.mux(video.encode(picture))
        container.mux(video.encode(None))
        for start in range(0, total, size):
            piece = av.AudioFrame.from_ndarray(np.tile(tone[start:start + size], (channels, 1)),
                                               format="fltp", layout=audio.codec_context.layout)
            piece.sample_rate, piece.pts, piece.time_base = rate, start, Fraction(1, rate)
            for converted in resampler.resample(piece):
                container.mux(audio.encode(converted))
        container.mux(audio.encode(None))
    return path


def animated_webp(path, frames):
    """An animated WebP of the RGB ``frames`` ((H, W, 3) uint8), as libwebp writes it (PyAV's
    ``libwebp_anim``): FFmpeg and ``cv2.imdecode`` read its first frame alone."""
    import av

    with av.open(str(path), "w", format="webp") as container:
        stream = container.add_stream("libwebp_anim", rate=10)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")
                                        .reformat(format="yuv420p")))
        container.mux(stream.encode())
    return path
