"""The built-in sample and the command line: outputs, options, one-line errors, video, warmup."""

import argparse
import errno
import os
import re
import shutil
import stat
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

import flowkit
from flowkit.__main__ import main
from flowkit.cli import _read_image
from flowkit.video import probe_video

from cases import animated_webp, data_path, textured_image


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


@pytest.mark.parametrize("size", [(240, 320), (32, 32), (33, 47), (90, 300)])
def test_sample_pair_spline_matches_scipy(size):
    # frame0 is frame1's texture sampled by flowkit.data's own cubic B-spline (no SciPy in the
    # core install): the values of scipy.ndimage.map_coordinates(order=3, mode="reflect"),
    # positions past the edges (the zoom's corners) included
    ndimage = pytest.importorskip("scipy.ndimage", reason="scipy is the reference (test extra)")
    from flowkit.data import _spline_sample, _texture, sample_flow

    h, w = size
    texture = _texture(h, w, np.random.default_rng(5))
    flow = sample_flow(h, w) * 3  # reaches up to ~25 px past the 300-px edge
    y, x = np.mgrid[0:h, 0:w]
    coords = [y + flow[..., 1], x + flow[..., 0]]
    assert min(coords[1].min(), coords[0].min()) < -3 and coords[1].max() > w + 3
    expected = np.stack([ndimage.map_coordinates(texture[..., c], coords, order=3, mode="reflect")
                         for c in range(3)], axis=-1)
    np.testing.assert_allclose(_spline_sample(texture, *coords), expected, rtol=0, atol=1e-11)


def test_demo_that_fails_writes_nothing(tmp_path, monkeypatch, capsys):
    # the folder was made before the work and the files written one by one into it: Ctrl-C
    # during the first run's compilation left an empty folder, a failed write (a full disk)
    # some of the files, an earlier run's others beside them (a new user's trial)
    import flowkit.cli as cli

    written = []

    def failing_png(path, picture):
        if written:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        written.append(path)
        cv2.imwrite(str(path), picture)

    monkeypatch.setattr(cli, "_write_image", failing_png)
    assert main(["demo", "--out", str(tmp_path / "new")]) == 1
    assert capsys.readouterr().err == (f"flowkit: error: {tmp_path / 'new' / 'frame1.png'}: "
                                       "No space left on device\n")
    assert list(tmp_path.iterdir()) == []
    old = tmp_path / "old"
    old.mkdir()
    (old / "flow.flo").write_bytes(b"earlier run")
    written.clear()
    assert main(["demo", "--out", str(old)]) == 1
    assert [p.name for p in old.iterdir()] == ["flow.flo"]
    assert (old / "flow.flo").read_bytes() == b"earlier run"


def test_sample_pair_is_deterministic_and_checks_size():
    a = flowkit.sample_pair(48, 64, seed=3)
    b = flowkit.sample_pair(48, 64, seed=3)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    with pytest.raises(ValueError, match="height, width"):
        flowkit.sample_pair(16, 64)
    # a size beyond the machine's memory is refused before any work (a raw MemoryError from
    # NumPy before), and the sizes are integers
    with pytest.raises(MemoryError, match=r"^height, width: 1000000000000 pixels would need "):
        flowkit.sample_pair(10**6, 10**6)
    with pytest.raises(TypeError, match=r"^height: expected an integer, got 32.5"):
        flowkit.sample_pair(32.5, 64)
    # the seed and sample_flow's size are checked naming them (NumPy's 'SeedSequence expects
    # int or sequence of ints', 'expected non-negative integer'; sample_flow('a', 4) was an
    # AttributeError and sample_flow(40.5, 40) a flow of 41 rows)
    with pytest.raises(TypeError, match=r"^seed: expected an integer, got 'a'$"):
        flowkit.sample_pair(32, 32, seed="a")
    with pytest.raises(ValueError, match=r"^seed: expected an integer >= 0, got -1$"):
        flowkit.sample_pair(32, 32, seed=-1)
    from flowkit.data import sample_flow

    with pytest.raises(TypeError, match=r"^height: expected an integer, got 'a'$"):
        sample_flow("a", 4)
    with pytest.raises(TypeError, match=r"^height: expected an integer, got 40.5$"):
        sample_flow(40.5, 40)
    with pytest.raises(ValueError, match=r"^width: expected an integer >= 1, got 0$"):
        sample_flow(4, 0)
    with pytest.raises(MemoryError, match=r"^height, width: 1000000000000 pixels would need "):
        sample_flow(10**6, 10**6)
    np.testing.assert_array_equal(sample_flow(48, 64), a[2])


def test_demo_writes_files_and_report(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"wrote 7 files to {tmp_path}"
    assert main(["demo", "--out", str(tmp_path)]) == 0  # an earlier run's files are replaced
    assert capsys.readouterr().out.splitlines()[-1] == f"wrote 7 files to {tmp_path} (7 replaced)"
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


# --- command line: errors, options, outputs -----------------------------------------------------


def run_cli(*args):
    """``python -m flowkit ARGS`` in a fresh process: (exit status, stdout, stderr)."""
    done = subprocess.run([sys.executable, "-m", "flowkit", *map(str, args)], capture_output=True,
                          text=True, timeout=600)
    return done.returncode, done.stdout, done.stderr


def one_error_line(stderr):
    """The single stderr line of a failed command, checked to be flowkit's error format."""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("flowkit: error: ") and "Traceback" not in stderr
    return lines[0][len("flowkit: error: "):]


@pytest.fixture
def pair(tmp_path):
    """Two 64x48 RGB PNG files of the sample pair: (path0, path1, frame0, frame1)."""
    frame0, frame1, _ = flowkit.sample_pair(48, 64)
    paths = tmp_path / "a.png", tmp_path / "b.png"
    for path, frame in zip(paths, (frame0, frame1)):
        cv2.imwrite(str(path), frame[..., ::-1])
    return paths + (frame0, frame1)


def test_version():
    status, out, err = run_cli("--version")
    assert (status, out, err) == (0, f"flowkit {flowkit.__version__}\n", "")


@pytest.mark.parametrize("text, expected", [
    ("2.5:4", (2.5, 4.0)), ("2:", (2.0, None)), (":4", (None, 4.0)), ("1e-3:2", (0.001, 2.0)),
    # FFmpeg's clock times ([HH:]MM:SS[.m]) with START-END, as an FFmpeg user types them
    ("1:30-2:05.5", (90.0, 125.5)), ("00:01:30-00:02:00", (90.0, 120.0)), ("1:30-", (90.0, None)),
    ("90-120", (90.0, 120.0)), ("-1:30", None), ("1:75-2:00", None), ("1:30:00", None),
    ("-1-2", None), ("a:b", None), ("1:2:3:4-5", None),
])
def test_range_takes_seconds_or_clock_times(text, expected):
    from flowkit.cli import _time_range

    if expected is None:
        with pytest.raises(argparse.ArgumentTypeError, match="expected START:END in seconds >= 0 "
                                                             ".* or START-END with clock times"):
            _time_range(text)
    else:
        assert _time_range(text) == expected


@pytest.mark.parametrize("flag, example", [("--fps", "24000/1001"), ("--factor", "5/2"),
                                           ("--speed", "1/3"), ("--duration", "1001/30")])
def test_retime_number_errors_give_an_example_of_their_own(tmp_path, capsys, flag, example):
    # --speed's error offered a frame rate, "a ratio such as 24000/1001" (a new user's report)
    with pytest.raises(SystemExit) as stop:
        main(["retime", str(tmp_path / "in.mp4"), str(tmp_path / "o.mp4"), flag, "abc"])
    assert stop.value.code == 2
    assert one_error_line(capsys.readouterr().err) == (
        f"argument {flag}: expected a number > 0 or a ratio such as {example}, got 'abc' "
        f"(see flowkit retime --help)")


def test_long_options_are_not_abbreviated(pair, tmp_path):
    # argparse took `--fac 2` as `--factor 2` and `--t` as `--times`: a script's abbreviation
    # changes meaning (or stops working) once an option sharing its prefix is added
    out = tmp_path / "out.mp4"
    status, _, err = run_cli("retime", pair[0], out, "--fac", "2")
    assert status == 2 and usage_error_line(err, "retime") == (
        "--fac: long options are not abbreviated; expected --factor")
    status, _, err = run_cli("flow", pair[0], pair[1], "-o", tmp_path / "f.flo", "--meth=dis")
    assert status == 2 and usage_error_line(err) == (
        "--meth: long options are not abbreviated; expected --method")
    # a required option given abbreviated was "the following arguments are required: --horizon"
    status, _, err = run_cli("predict", pair[0], pair[1], "-o", out, "--hor", "3")
    assert status == 2 and usage_error_line(err, "predict") == (
        "--hor: long options are not abbreviated; expected --horizon")
    status, _, err = run_cli("retime", pair[0], out, "--f", "2")
    assert status == 2 and usage_error_line(err, "retime") == (
        "--f: long options are not abbreviated; expected --factor or --flow or --fps")
    # before the command name too (the subcommand's parse had dropped what came before it:
    # "unrecognized arguments: --qu")
    status, _, err = run_cli("--qu", "retime", pair[0], out, "--factor", "2")
    assert status == 2 and usage_error_line(err, "retime") == (
        "--qu: long options are not abbreviated; expected --quiet")
    status, _, err = run_cli("nosuch", "--d")  # argparse's own message where it is not that
    assert status == 2 and "invalid choice: 'nosuch'" in one_error_line(err)
    assert not out.exists() and not (tmp_path / "f.flo").exists()


def test_a_closed_stdout_pipe_exits_quietly(tmp_path, pair):
    # `flowkit flow ... | head -0`: the file is written; the summary cannot be, and the command
    # exits as coreutils do when their reader leaves (141, SIGPIPE), with nothing on stderr
    out = tmp_path / "f.flo"
    run = subprocess.Popen([sys.executable, "-m", "flowkit", "flow", str(pair[0]), str(pair[1]),
                            "-o", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    run.stdout.close()  # before the command writes (it imports for a second first)
    assert run.wait(timeout=600) == 141
    assert run.stderr.read() == b""
    run.stderr.close()
    assert flowkit.read_flo(out).shape == (48, 64, 2)


def _truncated_flo(tmp_path):
    path = tmp_path / "short.flo"
    flowkit.write_flo(path, np.zeros((48, 64, 2), np.float32))
    path.write_bytes(path.read_bytes()[:100])
    return path


def _fifo(path):
    os.mkfifo(path)
    return path


def _empty(path):
    path.write_bytes(b"")
    return path


@pytest.mark.parametrize("case", ["truncated flo", "not a flo", "missing flo", "missing image", "folder as an image",
                                  "not an image", "empty image file", "fifo as an image",
                                  "different sizes", "gray and colour", "bad option value",
                                  "animated webp", "animated webp alone", "animated webp predicted",
                                  "option of another method", "output folder missing"])
def test_errors_are_one_line_naming_the_users_paths(tmp_path, pair, case):
    a, b = pair[:2]
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), pair[3][:40, :60])
    gray = tmp_path / "gray.png"
    cv2.imwrite(str(gray), pair[3][..., 0])
    args, expected = {
        "truncated flo": (["color", _truncated_flo(tmp_path), "-o", tmp_path / "c.png"],
                          f"FLO: {tmp_path / 'short.flo'}: truncated .flo file: size 64x48 (width x "
                          f"height) needs 24588 bytes, the file has 100"),
        # named FLO as a missing one is (it named only the file)
        "not a flo": (["color", _empty(tmp_path / "empty.flo"), "-o", tmp_path / "c.png"],
                      f"FLO: {tmp_path / 'empty.flo'}: truncated .flo file, 0 bytes is shorter "
                      f"than the 12-byte header"),
        "missing flo": (["color", tmp_path / "none.flo", "-o", tmp_path / "c.png"],
                        f"FLO: no such .flo file: {tmp_path / 'none.flo'}"),
        "missing image": (["flow", a, tmp_path / "none.png", "-o", tmp_path / "f.flo"],
                          f"FRAME1: no such image file: {tmp_path / 'none.png'}"),
        "folder as an image": (["flow", tmp_path, b, "-o", tmp_path / "f.flo"],
                               f"FRAME0: {tmp_path} is a folder; expected an image file; give a "
                               "folder or TIFF stack alone (without FRAME1)"),
        # read as its first frame without a word (cv2.imdecode)
        "animated webp": (["flow", animated_webp(tmp_path / "anim.webp", pair[2:] + pair[2:3]),
                           b, "-o", tmp_path / "f.flo"],
                          f"FRAME0: {tmp_path / 'anim.webp'} is an animated WebP of 3 frames; "
                          f"expected one image"),
        # given alone, called one image: 'FRAME1 is missing: ... (got the image anim.webp)',
        # predict's 'INPUT must be a video file or a folder of images, got the image ...'
        "animated webp alone": (["flow", animated_webp(tmp_path / "anim.webp",
                                                       pair[2:] + pair[2:3]),
                                 "--flo-dir", tmp_path / "flo"],
                                f"FRAME0: {tmp_path / 'anim.webp'} is an animated WebP (3 frames), "
                                f"which FFmpeg cannot decode"),
        "animated webp predicted": (["predict", animated_webp(tmp_path / "anim.webp",
                                                              pair[2:] + pair[2:3]),
                                     tmp_path / "out", "--horizon", "1"],
                                    f"INPUT: {tmp_path / 'anim.webp'} is an animated WebP (3 "
                                    f"frames), which FFmpeg cannot decode"),
        "not an image": (["flow", a, _truncated_flo(tmp_path), "-o", tmp_path / "f.flo"],
                         f"FRAME1: {tmp_path / 'short.flo'}: OpenCV cannot read this file as an image"),
        # OpenCV's own "!buf.empty() in function 'imdecode_'" before (a new user's report)
        "empty image file": (["flow", a, _empty(tmp_path / "empty.png"), "-o", tmp_path / "f.flo"],
                             f"FRAME1: {tmp_path / 'empty.png'}: OpenCV cannot read this file as an image"),
        # "no such image file: FIFO" for a FIFO that exists (found trying flowkit flow)
        "fifo as an image": (["flow", _fifo(tmp_path / "fifo.png"), b, "-o", tmp_path / "f.flo"],
                             f"FRAME0: {tmp_path / 'fifo.png'} is a FIFO, not a regular file; expected an image file"),
        # usage errors naming FRAME1 (they named no argument and exited 1)
        "different sizes": (["flow", a, small, "-o", tmp_path / "f.flo"],
                            f"FRAME1: {small} is 60x40 but FRAME0 {a} is 64x48 (width x height); "
                            f"the frames must have the same size (see flowkit flow --help)"),
        "gray and colour": (["flow", a, gray, "-o", tmp_path / "f.flo"],
                            f"FRAME1: {gray} is 64x48 8-bit gray but FRAME0 {a} is 64x48 8-bit RGB; "
                            f"the frames must have the same kind (see flowkit flow --help)"),
        "bad option value": (["flow", a, b, "-o", tmp_path / "f.flo", "--option", "levels=-1"],
                             "--option levels: expected an integer >= 0, got -1"),
        "option of another method": (["flow", a, b, "-o", tmp_path / "f.flo", "-O", "radius=3"],
                                     "--option radius: not an option of farneback; its options are "
                                     "pyr_scale, levels, winsize, iterations, poly_n, poly_sigma, "),
        "output folder missing": (["flow", a, b, "-o", tmp_path / "no" / "f.flo"],
                                  f"-o: output folder does not exist: {tmp_path / 'no'} "
                                  f"(for {tmp_path / 'no' / 'f.flo'})"),
    }[case]
    before = sorted(tmp_path.iterdir())
    status, out, err = run_cli(*args)
    # a bad option or inputs that do not go together are usage errors (exit 2), whoever finds
    # them; a file that fails, exit 1
    usage = "option" in case or case in ("different sizes", "gray and colour")
    assert status == (2 if usage else 1) and out == ""
    assert one_error_line(err).startswith(expected)
    assert sorted(tmp_path.iterdir()) == before  # no output, no temporary file


@pytest.mark.parametrize("command", ["flow", "predict", "retime", "translate"])
def test_unreadable_inputs_are_one_line_naming_the_argument(tmp_path, capsys, command):
    # a file FFmpeg cannot open, a folder without images, a folder with an undecodable image:
    # exit 1 and one line that names the argument, not only the file (a new user's report)
    video = tmp_path / "bad.mp4"
    video.write_bytes(b"\0" * 4096)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("a.png", "b.png"):
        (broken / name).write_bytes(b"not a PNG")
    cases = [(video, f"cannot open {video} as a video (")]
    if command in ("flow", "predict"):  # retime and translate take a video file (a folder: exit 2)
        cases += [(empty, f"the folder {empty} holds no image files (.bmp, "),
                  (broken, f"OpenCV cannot read the image {broken / 'a.png'}")]
    out = tmp_path / "out.mp4"
    extra = {"flow": ["--video", out], "predict": ["--horizon", "2", "-o", out],
             "retime": [out, "--factor", "2"], "translate": [out, "--op", "autocontrast"]}[command]
    argument = "FRAME0" if command == "flow" else "INPUT"
    for source, message in cases:
        status = main([command, str(source), *map(str, extra)])
        err = capsys.readouterr().err
        assert status == 1 and one_error_line(err).startswith(f"{argument}: {message}"), err
    assert not out.exists()


@pytest.mark.parametrize("command", ["flow", "predict"])
def test_option_device_cuda_without_a_gpu_is_a_usage_error_as_device_cuda(pair, tmp_path, capsys,
                                                                          monkeypatch, command):
    # -O device=cuda (the method's option) was exit 1 with a line naming no flag, while
    # retime --device cuda is exit 2 naming --device (test_retime): the same rule for both
    from numba import cuda

    monkeypatch.setattr(cuda, "is_available", lambda: False)  # as on a machine without a GPU
    if command == "flow":
        args = ["flow", str(pair[0]), str(pair[1]), "-o", str(tmp_path / "f.flo")]
    else:
        folder = tmp_path / "frames"
        folder.mkdir()
        for k, frame in enumerate(pair[2:]):
            cv2.imwrite(str(folder / f"{k}.png"), frame)
        args = ["predict", str(folder), "--horizon", "1", "-o", str(tmp_path / "p.mp4")]
    before = sorted(tmp_path.iterdir())
    assert main([*args, "-O", "device=cuda"]) == 2
    message = usage_error_line(capsys.readouterr().err, command)
    assert message.startswith("--option device: 'cuda': the CUDA backend was requested but no "
                              "CUDA GPU or driver is available")
    assert sorted(tmp_path.iterdir()) == before


def test_predict_takes_device_as_retime_and_interpolate(moving_folder, tmp_path, capsys,
                                                        monkeypatch):
    # flowkit.predict has device= (the estimator and the warps), retime and interpolate have
    # --device; predict had none (argparse: 'unrecognized arguments: --device cpu')
    from numba import cuda

    folder, frames = moving_folder
    out = tmp_path / "pred"
    assert main(["predict", str(folder), "--horizon", "2", "--device", "cpu", "-o", str(out)]) == 0
    written = [cv2.imread(str(out / f"frame_{k:06d}.png"))[..., ::-1] for k in range(2)]
    np.testing.assert_array_equal(np.stack(written),
                                  flowkit.predict(np.stack(frames[-4:]), 2, device="cpu"))
    capsys.readouterr()
    monkeypatch.setattr(cuda, "is_available", lambda: False)  # as on a machine without a GPU
    before = sorted(tmp_path.iterdir())
    assert main(["predict", str(folder), "--horizon", "1", "--device", "cuda",
                 "-o", str(tmp_path / "p.mp4")]) == 2
    message = usage_error_line(capsys.readouterr().err, "predict")
    assert message.startswith("--device: 'cuda': the CUDA backend was requested but no CUDA GPU")
    assert sorted(tmp_path.iterdir()) == before


@pytest.mark.parametrize("command", ["flow pair", "flow video", "predict", "retime", "translate",
                                     "batch", "color", "train", "probe"])
def test_a_missing_input_is_exit_1_naming_its_argument_in_every_command(tmp_path, capsys, command):
    # one rule for a missing input (docs/api.md, "Command line"): exit 1, one line naming the
    # argument; argparse's own usage errors stay exit 2
    if command == "train":
        pytest.importorskip("torch")
    missing = tmp_path / "missing.mp4"
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), np.zeros((16, 16), np.uint8))
    args, expected = {
        "flow pair": (["flow", tmp_path / "missing.png", image, "-o", tmp_path / "f.flo"],
                      f"FRAME0: no such image file: {tmp_path / 'missing.png'}"),
        "flow video": (["flow", missing, "--video", tmp_path / "f.mp4"],
                       f"FRAME0: no such video file or image folder: {missing}"),
        "predict": (["predict", missing, "--horizon", "1", "-o", tmp_path / "p.mp4"],
                    f"INPUT: no such video file or image folder: {missing}"),
        "retime": (["retime", missing, tmp_path / "r.mp4", "--factor", "2"],
                   f"INPUT: no such video file: {missing}"),
        "translate": (["translate", missing, tmp_path / "t.mp4", "--op", "autocontrast"],
                      f"INPUT: no such video file: {missing}"),
        "batch": (["batch", "retime", missing, "-o", tmp_path / "out", "-O", "factor=2"],
                  f"INPUTS: no such file: {missing}"),
        "probe": (["probe", missing], f"INPUT: no such video file: {missing}"),
        "color": (["color", tmp_path / "missing.flo", "-o", tmp_path / "c.png"],
                  f"FLO: no such .flo file: {tmp_path / 'missing.flo'}"),
        "train": (["train", "interp-refine", "--data", missing, "--out", tmp_path / "w.safetensors"],
                  f"--data: no such file or folder '{missing}'"),
    }[command]
    assert main([str(a) for a in args]) == 1
    assert one_error_line(capsys.readouterr().err) == expected
    assert sorted(tmp_path.iterdir()) == [image]
    if command == "retime":  # no input at all: argparse's usage error
        with pytest.raises(SystemExit) as stop:
            main(["retime"])
        assert stop.value.code == 2 and capsys.readouterr().err.startswith("flowkit: error: ")


def test_debug_shows_the_traceback(tmp_path):
    status, _, err = run_cli("--debug", "color", _truncated_flo(tmp_path), "-o", tmp_path / "c.png")
    assert status == 1 and "Traceback" in err and err.rstrip().splitlines()[-1].startswith("ValueError: ")
    status, _, err = run_cli("color", _truncated_flo(tmp_path), "-o", tmp_path / "c.png", "--debug")
    assert status == 1 and "Traceback" in err


def usage_error_line(err, command="flow"):
    """The message of a one-line usage error: ``flowkit: error: MESSAGE (see flowkit CMD --help)``."""
    message = one_error_line(err)
    suffix = f" (see flowkit {command} --help)"
    assert message.endswith(suffix), err
    return message[:-len(suffix)]


def test_usage_errors_exit_2(pair, tmp_path):
    a, b = pair[:2]
    # two images too small for the method: the usage error of a video's pairs, naming --method
    # (it was the estimator's "frame0: ..." with exit 1 - a new user's report)
    tiny = [tmp_path / "a8.png", tmp_path / "b8.png"]
    for path, frame in zip(tiny, pair[2:]):
        cv2.imwrite(str(path), frame[:8, :8])
    status, _, err = run_cli("flow", *tiny, "-o", tmp_path / "f.flo")
    assert status == 2 and usage_error_line(err).startswith(
        "--method farneback: frames too small for it: expected frames at least 11x11 pixels")
    status, _, err = run_cli("flow", a, b)
    assert status == 2 and usage_error_line(err) == "nothing to write: give -o OUT.flo and/or --png OUT.png"
    status, _, err = run_cli("flow", a, "--flo-dir", tmp_path / "d")
    assert status == 2 and "FRAME1 is missing" in usage_error_line(err)
    status, _, err = run_cli("flow", a, b, "-o", tmp_path / "f.flo", "--step", "2", "--gray")
    assert status == 2 and usage_error_line(err) == "--step, --gray: only for a video or image folder given alone"


@pytest.mark.parametrize("args, command, expected", [
    (["flow", "A", "B", "-o", "f.flo", "-O", "levels"], "flow", "argument -O/--option: expected NAME=VALUE, got 'levels'"),
    (["flow", "V", "--video", "x.mp4", "--step", "0"], "flow", "argument --step: expected an integer >= 1, got '0'"),
    # str.isdigit takes superscripts: argparse's "invalid parse value: '²'" (and "_context")
    (["flow", "V", "--video", "x.mp4", "--step", "²"], "flow",
     "argument --step: expected an integer >= 1, got '²'"),
    (["predict", "V", "o.mp4", "--horizon", "1", "--context", "٣"], "predict",
     "argument --context: expected auto or an integer >= 2, got '٣'"),
    (["flow", "V", "--video", "x.mp4", "--resize", "²x3"], "flow",
     "argument --resize: expected WIDTHxHEIGHT such as 320x240, got '²x3'"),
    (["flow", "V", "--video", "x.mp4", "--resize", "100"], "flow",
     "argument --resize: expected WIDTHxHEIGHT such as 320x240, got '100'"),
    (["warmup", "--jobs", "0"], "warmup", "argument -j/--jobs: expected an integer >= 1, got '0'"),
    (["flow", "A", "B", "-o", "f.flo", "--max-flow", "-1"], "flow", "argument --max-flow: expected a number > 0, got '-1'"),
    (["color", "f.flo", "-o", "c.png", "--max-flow", "0"], "color", "argument --max-flow: expected a number > 0, got '0'"),
    (["flow", "V", "--video", "x.mp4", "--fps", "-5"], "flow", "argument --fps: expected a frame rate in (0, 1000], got '-5'"),
    (["flow", "V", "--video", "x.mp4", "--fps", "nan"], "flow", "argument --fps: expected a frame rate in (0, 1000], got 'nan'"),
    (["flow", "V", "--video", "x.mp4", "--fps", "0"], "flow", "argument --fps: expected a frame rate in (0, 1000], got '0'"),
    (["flow", "V", "--video", "x.mp4", "--fps", "1e9"], "flow", "argument --fps: expected a frame rate in (0, 1000], got '1e9'"),
    # its exact ratio's denominator overflowed the writer: "OverflowError: Python int too large"
    (["flow", "V", "--video", "x.mp4", "--fps", "1e-300"], "flow", "argument --fps: expected a "
     "frame rate whose ratio has a denominator up to 2147483647 (FFmpeg's rationals), got "
     "'1e-300'"),
    (["frob"], "", "argument COMMAND: invalid choice: 'frob'"),
    # an unknown option points at the --help of the command that was run, nested ones too
    (["retime", "a.mp4", "b.mp4", "--bogus"], "retime", "unrecognized arguments: --bogus"),
    (["flow", "A", "B", "--frob", "3"], "flow", "unrecognized arguments: --frob 3"),
    (["train", "interp-refine", "--data", "d", "--out", "o.safetensors", "--bogus"],
     "train interp-refine", "unrecognized arguments: --bogus"),
])
def test_argparse_errors_are_one_line(tmp_path, args, command, expected):
    status, out, err = run_cli(*args)
    assert status == 2 and out == ""
    if command:
        assert usage_error_line(err, command) == expected
    else:
        assert one_error_line(err).startswith(expected) and err.rstrip().endswith("(see flowkit --help)")


def test_output_paths_are_checked_before_any_work(pair, tmp_path):
    a, b = pair[:2]
    flo = tmp_path / "f.flo"
    flowkit.write_flo(flo, np.zeros((48, 64, 2), np.float32))
    folder = tmp_path / "sub"
    folder.mkdir()
    before = sorted(tmp_path.iterdir())
    for args, status, expected in [  # the flag too (it named the path alone, a new user's report)
        (["color", flo, "-o", tmp_path / "x.xyz"], 2,
         f"-o: {tmp_path / 'x.xyz'}: cannot write an image with extension '.xyz' (use .png) (see flowkit color --help)"),
        (["color", flo, "-o", tmp_path / "x.flo"], 2,
         f"-o: {tmp_path / 'x.flo'}: cannot write an image with extension '.flo' (use .png) (see flowkit color --help)"),
        (["flow", a, b, "--png", tmp_path / "x.txt"], 2,
         f"--png: {tmp_path / 'x.txt'}: cannot write an image with extension '.txt' (use .png) (see flowkit flow --help)"),
        (["color", flo, "-o", folder], 2,
         f"-o: {folder} is a folder; expected an image (.png) file path (see flowkit color --help)"),
        (["flow", a, b, "-o", folder], 2,
         f"-o: {folder} is a folder; expected a .flo file path (see flowkit flow --help)"),
        (["flow", a, b, "-o", tmp_path / "x.txt"], 2,
         f"-o: expected a .flo path, got {tmp_path / 'x.txt'} (see flowkit flow --help)"),
        (["demo", "--out", flo], 2, f"--out: {flo} exists and is not a folder (see flowkit demo --help)"),
        (["flow", a, b, "-o", tmp_path / "f.flo", "--png", a], 2,
         f"--png: {a} is the input; refusing to overwrite it (see flowkit flow --help)"),
        (["color", flo, "-o", tmp_path / "sub" / ".." / "f.flo"], 2,
         f"-o: {tmp_path / 'sub' / '..' / 'f.flo'} is the input {flo}; refusing to overwrite it "
         f"(see flowkit color --help)"),
    ]:
        code, out, err = run_cli(*args)
        assert (code, out) == (status, ""), (args, err)
        assert one_error_line(err) == expected
    assert sorted(tmp_path.iterdir()) == before
    assert (flowkit.read_flo(flo) == 0).all()


def test_color_takes_a_flo_name_alone_as_read_flo(tmp_path):
    # read_flo refuses a name without .flo (as Middlebury's ReadFlowFile): a usage error naming
    # FLO, as -o of flow refuses one, before any work (OpenCV writes .flo bytes under any name)
    picture = tmp_path / "flow.png"
    assert cv2.writeOpticalFlow(str(picture), np.zeros((4, 5, 2), np.float32))
    status, out, err = run_cli("color", picture, "-o", tmp_path / "c.png")
    assert (status, out) == (2, "")
    assert usage_error_line(err, "color") == f"FLO: expected a .flo path, got {picture}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flow.png"]


def test_success_line_of_a_name_stdout_cannot_encode(tmp_path, monkeypatch, capfd):
    # Windows' stdout piped or redirected is in the ANSI code page (PYTHONIOENCODING=cp1252
    # here): "wrote ...png" of a Japanese name was a UnicodeEncodeError, exit 1, after the
    # image had been written; it is escaped as stderr escapes
    flo, out = tmp_path / "fl\u00f6 \u65e5\u672c.flo", tmp_path / "c \u65e5\u672c.png"
    flowkit.write_flo(flo, np.zeros((4, 5, 2), np.float32))
    done = subprocess.run([sys.executable, "-m", "flowkit", "color", str(flo), "-o", str(out)],
                          capture_output=True, timeout=600,
                          env={**os.environ, "PYTHONIOENCODING": "cp1252"})
    assert (done.returncode, done.stderr) == (0, b"")
    shown = str(out).encode("cp1252", "backslashreplace")
    assert done.stdout == b"wrote " + shown + b" (5x4 colour-coded flow)" + os.linesep.encode()
    assert out.is_file()
    # in a caller's process the stream is strict again afterwards
    import io

    stream = io.TextIOWrapper(io.BytesIO(), encoding="cp1252")
    monkeypatch.setattr(sys, "stdout", stream)
    assert main(["color", str(flo), "-o", str(out)]) == 0
    assert stream.errors == "strict"
    stream.flush()
    assert stream.buffer.getvalue().startswith(b"wrote " + shown + b" (5x4")


def test_image_output_that_cannot_be_written_names_the_cause(tmp_path):
    # under `ulimit -f` cv2.imwrite failed with libpng's "libpng error: Write Error" line on
    # stderr and "OpenCV could not write the image", not saying why (a new user's trial);
    # .flo and video outputs said "File too large"
    import resource

    flo = tmp_path / "a.flo"
    flowkit.write_flo(flo, np.random.default_rng(0).normal(size=(48, 64, 2)).astype(np.float32))
    out = tmp_path / "c.png"
    out.write_bytes(b"precious")
    # the colour wheel's kernel in the Numba cache: a save there under the limit would add a
    # warning line (kernels.jit) to the error
    flowkit.flow_to_color(flowkit.read_flo(flo))

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (100, resource.RLIM_INFINITY))

    done = subprocess.run([sys.executable, "-m", "flowkit", "color", str(flo), "-o", str(out)],
                          capture_output=True, text=True, timeout=600, preexec_fn=limit)
    assert (done.returncode, done.stdout) == (1, "")
    assert one_error_line(done.stderr) == f"{out}: File too large"
    assert out.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.flo", "c.png"]


def three_flat_frames(path):
    """A 3-frame 16x16 clip of flat grey levels (0, 60, 120) at 24 fps: a video input for the
    output-path checks."""
    with flowkit.VideoWriter(path, 24) as writer:
        for k in range(3):
            writer.write(np.full((16, 16, 3), 60 * k, np.uint8))
    return path


@pytest.mark.parametrize("command", [["flow", "{clip}", "--video", "{out}"],
                                     ["retime", "{clip}", "{out}", "--factor", "2"],
                                     ["translate", "{clip}", "{out}", "--op", "autocontrast"],
                                     ["generate", "a red circle moves left", "-o", "{out}"]])
def test_a_video_output_that_is_a_folder_is_a_usage_error(tmp_path, command):
    # `flowkit retime in.mp4 /tmp` exited 1 without the "(see ... --help)" the other OUTPUT
    # errors end with (an unknown extension: exit 2); now the same usage error for every
    # command that writes a video file (predict writes PNG files into a folder: no error)
    clip = three_flat_frames(tmp_path / "in.mp4")
    folder = tmp_path / "out"
    folder.mkdir()
    flag = {"flow": "--video", "generate": "-o"}.get(command[0], "OUTPUT")
    status, stdout, err = run_cli(*(a.format(clip=clip, out=folder) for a in command))
    assert (status, stdout) == (2, "") and one_error_line(err) == (
        f"{flag}: {folder} is a folder; expected a video file path (see flowkit {command[0]} --help)")
    assert list(folder.iterdir()) == []


_NO_NEW_FILES = [folder for folder in ("/proc", "/sys") if os.path.isdir(folder)]


@pytest.mark.skipif(not _NO_NEW_FILES, reason="needs /proc or /sys (Linux), folders that take no new file")
@pytest.mark.parametrize("flag, command", [
    ("--video", ["flow", "{clip}", "--video", "{out}.mp4"]),
    ("--flo-dir", ["flow", "{clip}", "--flo-dir", "{out}"]),
    ("OUTPUT", ["retime", "{clip}", "{out}.mp4", "--factor", "2"]),
    ("OUTPUT", ["translate", "{clip}", "{out}.mp4", "--op", "autocontrast"]),
    ("OUTPUT", ["predict", "{clip}", "{out}.mp4", "--horizon", "1"]),
    ("OUTPUT", ["predict", "{clip}", "{out}", "--horizon", "1"]),  # a folder of PNG files
    ("-o", ["color", "{flo}", "-o", "{out}.png"]),
    ("-o", ["generate", "a red circle moves left", "-o", "{out}.mp4"])])
@pytest.mark.parametrize("folder", _NO_NEW_FILES)
def test_an_output_folder_that_takes_no_file_is_one_line_naming_the_flag(tmp_path, flag, command,
                                                                        folder):
    # /proc/x.mp4 said "flowkit: error: /proc/x.mp4: No such file or directory" (the OS's
    # wording for the temporary file, naming no flag, and /proc exists); now, before any work,
    # the flag and that the output cannot be written, with the OS's reason
    clip = three_flat_frames(tmp_path / "in.mp4")
    flo = tmp_path / "f.flo"
    flowkit.write_flo(flo, np.zeros((4, 4, 2), np.float32))
    out = f"{folder}/flowkit-x"
    args = [a.format(clip=clip, out=out, flo=flo) for a in command]
    status, stdout, err = run_cli(*args)
    target = next(a for a in args if a.startswith(out))
    assert (status, stdout) == (1, "")
    assert re.fullmatch(rf"{flag}: cannot write {re.escape(target)}: the folder {folder} takes no "
                        rf"new file \((No such file or directory|Permission denied|.+)\)",
                        one_error_line(err)), err


def test_check_folder_tries_a_file_in_the_folder(tmp_path, monkeypatch):
    # os.access says yes to root on /proc: the check creates (and removes) a hidden file
    from flowkit._atomic import check_folder

    check_folder(tmp_path / "out.mp4", "dst")
    assert list(tmp_path.iterdir()) == []
    real_open = os.open

    def refuse(path, *args, **kwargs):
        if os.path.dirname(path) == str(tmp_path):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(PermissionError, match=rf"^dst: cannot write {re.escape(str(tmp_path / 'out.mp4'))}: "
                                              rf"the folder {re.escape(str(tmp_path))} takes no new "
                                              r"file \(Permission denied\)$"):
        check_folder(tmp_path / "out.mp4", "dst")


def test_an_output_that_is_a_fifo_is_refused_not_replaced(pair, tmp_path, capsys):
    # a named pipe (or /dev/null.mp4, a device) as the output was replaced by a regular file:
    # the atomic rename put the result where the node was, and the pipe's reader waited for ever
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    assert main(["flow", str(pair[0]), str(pair[1]), "--png", str(fifo), "-q"]) == 2
    assert capsys.readouterr().err == (f"flowkit: error: --png: {fifo} is a FIFO, not a regular "
                                       f"file; expected an image (.png) file path (see flowkit "
                                       f"flow --help)\n")
    flo = tmp_path / "pipe.flo"
    os.mkfifo(flo)
    with pytest.raises(ValueError, match=rf"^path: {re.escape(str(flo))} is a FIFO, not a regular "
                                         r"file; expected a file path"):
        flowkit.write_flo(flo, np.zeros((4, 4, 2), np.float32))
    video = tmp_path / "pipe.mkv"
    os.mkfifo(video)
    with pytest.raises(ValueError, match=r"is a FIFO, not a regular file"):
        flowkit.VideoWriter(video, 10)  # the writer's own check, before a temporary file
    assert sorted((p.name, stat.S_ISFIFO(p.stat().st_mode)) for p in tmp_path.iterdir()) == [
        ("a.png", False), ("b.png", False), ("pipe.flo", True), ("pipe.mkv", True),
        ("pipe.png", True)]


def test_an_input_that_is_a_fifo_or_device_is_refused(pair, tmp_path, capsys):
    # FFmpeg's open of a FIFO video input waited for a writer for ever (retime, translate,
    # predict, flow, batch); a FIFO or /dev/zero given as an image or .flo file was 'no such
    # image file' / 'no such .flo file'
    for name in ("pipe.mp4", "pipe.png", "pipe.flo"):
        os.mkfifo(tmp_path / name)
    (tmp_path / "zero.png").symlink_to("/dev/zero")
    fifo = f"{tmp_path / 'pipe'}"
    for argv, flag, suffix, expected in [
            (["retime", f"{fifo}.mp4", str(tmp_path / "o.mp4"), "--factor", "2"], "INPUT", "mp4",
             "a video file"),
            (["flow", f"{fifo}.mp4", "--flo-dir", str(tmp_path / "f")], "FRAME0", "mp4",
             "a video file"),
            (["flow", str(pair[0]), f"{fifo}.png", "-o", str(tmp_path / "o.flo")], "FRAME1",
             "png", "an image file"),
            (["color", f"{fifo}.flo", "-o", str(tmp_path / "o.png")], "FLO", "flo",
             "a .flo file")]:
        assert main([*argv, "-q"]) == 1
        assert capsys.readouterr().err == (f"flowkit: error: {flag}: {fifo}.{suffix} is a FIFO, "
                                           f"not a regular file; expected {expected}\n")
    assert main(["flow", str(tmp_path / "zero.png"), str(pair[1]), "-o", str(tmp_path / "o.flo"),
                 "-q"]) == 1
    assert capsys.readouterr().err.endswith("zero.png is a character device, not a regular "
                                            "file; expected an image file\n")
    with pytest.raises(ValueError, match=r"^path: .*pipe\.mp4 is a FIFO, not a regular file"):
        probe_video(f"{fifo}.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a.png", "b.png", "pipe.flo", "pipe.mp4", "pipe.png", "zero.png"]


def test_an_image_input_that_cannot_be_read_names_its_argument(pair, tmp_path, monkeypatch,
                                                               capsys):
    # 'flowkit: error: a.png: Permission denied' named no argument (found with chmod 000
    # under setpriv without CAP_DAC_OVERRIDE; root reads any file, so the refusal is mocked)
    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(np, "fromfile", refuse)
    assert main(["flow", str(pair[0]), str(pair[1]), "-o", str(tmp_path / "o.flo"), "-q"]) == 1
    assert capsys.readouterr().err == (f"flowkit: error: FRAME0: cannot read {pair[0]} "
                                       "(Permission denied)\n")


@pytest.mark.parametrize("command", [["retime", "--factor", "2"], ["translate", "--op", "autocontrast"]])
def test_a_folder_as_the_video_input_is_a_usage_error(tmp_path, command, capsys):
    # exited 1 without "(see ... --help)" (a new user's report); predict and flow read folders
    folder = tmp_path / "frames"
    folder.mkdir()
    assert main([command[0], str(folder), str(tmp_path / "o.mp4"), *command[1:]]) == 2
    assert capsys.readouterr().err == (f"flowkit: error: INPUT: {folder} is a folder; expected a "
                                       f"video file (see flowkit {command[0]} --help)\n")


def test_probe_prints_what_probe_video_reads(tmp_path, capsys):
    """flowkit probe: each VideoInfo field (and read_depth) as a line, or one JSON object with
    ffprobe's "n/d" fractions that reads back to probe_video's values; a folder is a usage
    error, a file that is no video exit 1 naming INPUT."""
    import dataclasses
    import json

    from flowkit.video import VideoWriter, probe_video

    clip = tmp_path / "clip.mkv"
    with VideoWriter(clip, Fraction(30000, 1001), metadata={"title": "take 2"}) as writer:
        for k in range(3):
            writer.write(np.full((24, 32, 3), 40 * k, np.uint8))
    info = probe_video(clip)
    assert main(["probe", str(clip), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    expected = dataclasses.asdict(info) | {"read_depth": 8}
    assert list(shown) == ["width", "height", "sample_aspect_ratio", "rotation", "frame_rate",
                           "base_rate", "time_base", "frame_count", "duration", "timecode",
                           "codec",
                           "pix_fmt", "field_order", "bit_depth", "read_depth", "audio",
                           "audio_codecs", "color",
                           "language", "alpha", "metadata", "stream_metadata", "chapters"]
    for name, value in expected.items():
        if isinstance(value, Fraction):
            assert shown[name] == str(value) and Fraction(shown[name]) == value, name
        elif name in ("chapters", "audio_codecs"):
            assert shown[name] == [] == list(value)
        else:
            assert shown[name] == value, name
    assert shown["frame_rate"] == "30000/1001" and shown["metadata"] == {"title": "take 2"}
    assert main(["probe", str(clip)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:6] == ["width: 32", "height: 24", "sample_aspect_ratio: none", "rotation: 0",
                         "frame_rate: 29.97 (30000/1001)", "base_rate: 29.97 (30000/1001)"]
    assert "metadata: title=take 2" in lines and "chapters: none" in lines
    assert "audio: no" in lines and len(lines) == len(shown) - 1  # audio_codecs in audio's
    assert main(["probe", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (f"flowkit: error: INPUT: {tmp_path} is a folder; expected "
                                       f"a video file (see flowkit probe --help)\n")
    text = tmp_path / "notes.txt"
    text.write_text("not a video")
    assert main(["probe", str(text)]) == 1
    error = one_error_line(capsys.readouterr().err)
    assert error.startswith(f"INPUT: cannot open {text} as a video"), error


def test_probe_counts_the_audio_tracks(tmp_path, capsys):
    # "audio: yes" said nothing of a file's several tracks: their count, and each one's codec
    import json

    from test_retime import write_clip

    clip = write_clip(tmp_path / "two.mkv", [np.zeros((16, 16, 3), np.uint8)] * 3, 10,
                      tone=[440, 880])
    assert probe_video(clip).audio_codecs == ("aac", "aac")
    assert main(["probe", str(clip)]) == 0
    assert "audio: 2 tracks (aac, aac)" in capsys.readouterr().out.splitlines()
    assert main(["probe", str(clip), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["audio"] is True and shown["audio_codecs"] == ["aac", "aac"]
    one = write_clip(tmp_path / "one.mp4", [np.zeros((16, 16, 3), np.uint8)] * 3, 10, tone=440)
    assert main(["probe", str(one)]) == 0
    assert "audio: 1 track (aac)" in capsys.readouterr().out.splitlines()


def test_probe_of_an_audio_track_without_a_decoder(tmp_path, capsys):
    # an audio codec PyAV cannot decode (an unknown Matroska codec ID) has no codec context:
    # reading its name failed every command with an AttributeError
    import av

    path = tmp_path / "pcm.mkv"
    with av.open(str(path), "w") as container:
        video = container.add_stream("ffv1", rate=10)
        video.width, video.height, video.pix_fmt = 16, 16, "bgr0"
        audio = container.add_stream("pcm_s16le", rate=8000, layout="mono")
        for k in range(3):
            frame = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="rgb24")
            frame.pts = k
            container.mux(video.encode(frame))
            sound = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16",
                                               layout="mono")
            sound.sample_rate, sound.pts = 8000, 800 * k
            container.mux(audio.encode(sound))
        container.mux(video.encode())
        container.mux(audio.encode())
    data = path.read_bytes()
    assert data.count(b"A_PCM/INT/LIT") == 1
    path.write_bytes(data.replace(b"A_PCM/INT/LIT", b"A_PCM/INT/XXX"))
    assert probe_video(path).audio_codecs == ("unknown",)
    assert main(["probe", str(path)]) == 0
    assert "audio: 1 track (unknown)" in capsys.readouterr().out.splitlines()


def test_flow_of_a_two_image_folder_counts_in_the_singular(pair, tmp_path, capsys):
    folder = tmp_path / "two"
    folder.mkdir()
    for k, frame in enumerate(pair[2:]):
        cv2.imwrite(str(folder / f"f{k}.png"), frame[..., ::-1])
    flo_dir = tmp_path / "flo"
    assert main(["flow", str(folder), "--video", str(tmp_path / "f.mp4"), "--flo-dir", str(flo_dir),
                 "-q"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"wrote {tmp_path / 'f.mp4'} (1 frame, ")
    assert out[1] == f"wrote 1 .flo file to {flo_dir} (flow_000000.flo)"
    assert ": 1 pair of " in out[2]


def test_an_existing_output_is_replaced_and_the_line_says_so(pair, tmp_path, capsys):
    # every command replaced an existing output silently (atomically); the --help and the line
    # printed did not say so. Whether the file existed is recorded when the output is checked,
    # before any work
    a, b = pair[:2]
    flo, png = tmp_path / "f.flo", tmp_path / "f.png"
    args = ["flow", str(a), str(b), "-o", str(flo), "--png", str(png)]
    assert main(args) == 0
    assert capsys.readouterr().out.splitlines()[:2] == [f"wrote {flo} (64x48 flow)",
                                                        f"wrote {png} (64x48 colour-coded flow)"]
    png.unlink()
    assert main(args) == 0
    assert capsys.readouterr().out.splitlines()[:2] == [f"wrote {flo} (64x48 flow) (replaced)",
                                                        f"wrote {png} (64x48 colour-coded flow)"]
    out = tmp_path / "c.png"
    for replaced in ("", " (replaced)"):
        assert main(["color", str(flo), "-o", str(out)]) == 0
        assert capsys.readouterr().out == f"wrote {out} (64x48 colour-coded flow){replaced}\n"
    clip, out = tmp_path / "in.mp4", tmp_path / "out.mp4"
    with flowkit.VideoWriter(clip, 24) as writer:
        for k in range(3):
            writer.write(np.full((16, 16, 3), 60 * k, np.uint8))
    for replaced in (False, True):
        assert main(["retime", str(clip), str(out), "--factor", "2", "--method", "blend", "-q"]) == 0
        line = capsys.readouterr().out.splitlines()[0]
        assert line == f"wrote {out} (6 frames, 16x16, 48 fps, 0.125 s; audio none)" + (
            " (replaced)" if replaced else "")
    # each writing command's --help says it
    for command in ("demo", "flow", "predict", "retime", "translate", "batch", "train", "generate",
                    "color"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "atomically" in text and ("replaces an existing file (the line printed then ends "
                                         "with (replaced))" in text or command in ("demo", "batch",
                                                                                   "train")), command
        assert "replac" in text, command


def test_the_input_video_is_not_overwritten(tmp_path):
    video = tmp_path / "in.mkv"
    with flowkit.VideoWriter(video, fps=12) as writer:
        for frame in _moving_frames(3):
            writer.write(frame)
    data = video.read_bytes()
    status, _, err = run_cli("flow", video, "--video", video)
    assert status == 2 and usage_error_line(err) == f"--video: {video} is the input; refusing to overwrite it"
    assert video.read_bytes() == data and sorted(p.name for p in tmp_path.iterdir()) == ["in.mkv"]


@pytest.mark.parametrize("method, option, expected", [
    ("farneback", "levels=-1", "--option levels: expected an integer >= 0, got -1"),
    ("farneback", "use_previous_flow=maybe", "--option use_previous_flow: expected True or False, got 'maybe'"),
    ("dis", "patch_size=1", "--option patch_size: expected an integer >= 2, got 1"),
    ("dis", "coarsest_scale=-2",
     "--option coarsest_scale: expected -1 (automatic) or an integer >= 0, got -2"),
])
def test_bad_option_values_of_a_video_flow_are_usage_errors(tmp_path, method, option, expected):
    # farneback on a video runs farneback_video, not the registry's estimator: checked alike
    video = tmp_path / "in.mkv"
    with flowkit.VideoWriter(video, fps=12) as writer:
        for frame in _moving_frames(3):
            writer.write(frame)
    status, _, err = run_cli("flow", video, "--video", tmp_path / "out.mp4", "--method", method, "-O", option)
    assert status == 2 and usage_error_line(err) == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mkv"]


def test_ffmpeg_logs_stay_off_stderr(tmp_path):
    video = tmp_path / "in.mp4"
    with flowkit.VideoWriter(video, fps=12) as writer:
        for frame in _moving_frames(4):
            writer.write(frame)
    truncated = tmp_path / "cut.mp4"
    data = video.read_bytes()
    truncated.write_bytes(data[:data.find(b"moov")])  # the index (first) cut off
    status, _, err = run_cli("flow", truncated, "--video", tmp_path / "x.mp4")
    assert status == 1 and one_error_line(err) == (f"FRAME0: cannot open {truncated} as a video (Invalid data found when "
                                                    f"processing input)")  # no "moov atom" log line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.mp4", "in.mp4"]


def test_svt_av1_prints_no_banner_and_still_its_errors(tmp_path):
    # --codec libsvtav1 printed SVT-AV1's 20 "Svt[info]: ..." lines (and a thread-priority
    # warning) on stderr; VideoWriter sets SVT_LOG=1 (errors only), which SVT-AV1 reads once
    # per process: a fresh process each, without the variable
    import av

    try:
        av.codec.Codec("libsvtav1", "w")
    except Exception:
        pytest.skip("PyAV's FFmpeg has no libsvtav1 encoder")
    env = {k: v for k, v in os.environ.items() if k != "SVT_LOG"}
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(_moving_frames(3)):
        cv2.imwrite(str(folder / f"{i}.png"), frame[..., ::-1])
    out = tmp_path / "flow.mp4"
    done = subprocess.run([sys.executable, "-m", "flowkit", "flow", str(folder), "--video", str(out),
                           "--codec", "libsvtav1", "-q"], capture_output=True, text=True, env=env,
                          timeout=600)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert probe_video(out).codec in ("av1", "libdav1d", "libaom-av1")
    # its errors still show: 16400x8 frames are past its maximum width (2x2 frames, below its
    # minimum, are refused by VideoWriter before SVT-AV1 sees them)
    code = ("import numpy as np, flowkit\n"
            "try:\n"
            "    with flowkit.VideoWriter('wide.mp4', 24, codec='libsvtav1') as writer:\n"
            "        writer.write(np.zeros((8, 16400, 3), np.uint8))\n"
            "except ValueError as exc:\n"
            "    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=600)
    assert "codec: libsvtav1 cannot write 16400x8" in done.stdout
    assert "Svt[error]: Source Width must be less than or equal to 16384" in done.stderr
    assert "Svt[info]" not in done.stderr and "Svt[warn]" not in done.stderr


@pytest.mark.parametrize("signums, expected", [
    (["SIGTERM"], (143, "flowkit: terminated\n")),
    # a closed terminal or a dropped ssh session: SIGHUP killed the command and left the
    # temporary file (gigabytes an hour into a retime)
    (["SIGHUP"], (129, "flowkit: hung up\n")),
    (["nohup", "SIGHUP", "SIGTERM"], (143, "flowkit: terminated\n")),  # nohup's is ignored
])
def test_sigterm_leaves_no_partial_video(tmp_path, signums, expected):
    import signal
    import time

    ignore_hangup = signums[0] == "nohup"

    rng = np.random.default_rng(0)
    video = tmp_path / "long.mkv"
    base = (rng.random((120, 160, 3)) * 255).astype(np.uint8)
    with flowkit.VideoWriter(video, fps=30) as writer:
        for i in range(300):
            writer.write(np.roll(base, i, axis=1))
    out = tmp_path / "out"
    out.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "flowkit", "flow", str(video), "--video", str(out / "x.mp4")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # SIGHUP as nohup leaves it, else as a terminal's (also where the tests run under nohup)
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN if ignore_hangup
                                         else signal.SIG_DFL))
    deadline = time.monotonic() + 300
    while not list(out.glob(".x.*.tmp.mp4")):  # the writer's temporary file: writing has begun
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    for signum in signums[ignore_hangup:]:
        time.sleep(0.5)
        process.send_signal(getattr(signal, signum))
    stdout, stderr = process.communicate(timeout=120)
    assert (process.returncode, stdout, stderr) == (expected[0], "", expected[1])
    assert list(out.iterdir()) == []  # neither the output nor its temporary file


@pytest.mark.parametrize("signum, expected", [("SIGTERM", (143, "flowkit: terminated\n")),
                                               ("SIGHUP", (129, "flowkit: hung up\n")),
                                               ("SIGINT", (130, "flowkit: interrupted\n"))])
def test_a_signal_lost_in_a_finalizer_still_stops_the_command(tmp_path, monkeypatch, capsys, request,
                                                             signum, expected):
    """The signal arrives while a finalizer runs: its handler's exception is raised inside
    ``__del__``, where Python prints "Exception ignored" and goes on (seen once under load with
    a PyAV object's deallocation: exit 0, the output written). The recorded stop still gives the
    exit status, and nothing is committed after it: no output, no temporary, one line."""
    import signal

    # Ctrl-C's handler as in a terminal, also when pytest was started with SIGINT ignored (from
    # a script, `pytest &`): main takes SIGINT over only where it is not ignored
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, previous))
    video = tmp_path / "in.mkv"
    with flowkit.VideoWriter(video, fps=12) as writer:
        for frame in _moving_frames(3):
            writer.write(frame)
    out = tmp_path / "out"
    out.mkdir()

    class Finalizer:
        def __del__(self):
            signal.raise_signal(getattr(signal, signum))

    color = flowkit.flow_to_color

    def flow_to_color(*args, **kwargs):
        if not (out / "flo").exists():  # the first pair
            Finalizer()  # dropped at once: the signal's exception is raised inside __del__
        return color(*args, **kwargs)

    monkeypatch.setattr(flowkit, "flow_to_color", flow_to_color)
    status = main(["flow", str(video), "--video", str(out / "x.mp4"), "--flo-dir", str(out / "flo")])
    captured = capsys.readouterr()
    assert (status, captured.out, captured.err) == (expected[0], "", expected[1])
    # the video, its temporary, the .flo files: none committed (only the --flo-dir folder made)
    assert [p for p in out.rglob("*") if not p.is_dir()] == []


def test_exit_status_2_for_bad_arguments_whoever_finds_them_1_for_failures_of_the_work():
    # the library's ValueError / TypeError naming a parameter a flag sets is a usage error, as
    # the command line's own checks; files, decoding, the encoder and the user's op failing
    # while working are exit 1 (subprocess cases: test_retime, test_translate, above)
    from flowkit.cli import _is_usage_error, _one_line

    for exc, usage in [
        (ValueError("segment: expected start < end, got 5 to 2 s"), True),         # --range 5:2
        (ValueError("codec: unknown video encoder 'nope'"), True),
        (TypeError("factor: expected a number, got [2]"), True),
        (ValueError("flow_options['levels']: expected an integer >= 1, got 0"), True),
        (ValueError("dst: a.mp4 is the input; refusing to overwrite it"), True),
        (ValueError("codec: libx264 failed writing a.mp4 (Invalid argument)"), False),
        (ValueError("op: f raised ZeroDivisionError on frame 0: division by zero"), False),
        (ValueError("src: could not decode any frame from a.mp4"), False),
        (ValueError("a.mp4: only one frame, a flow needs two"), False),
        (FileNotFoundError("--resume: no such checkpoint 'x.ckpt'"), False),
        (RuntimeError("codec: the GPU is gone"), False),
    ]:
        assert _is_usage_error(exc, _one_line(exc)) is usage, exc


def test_cv2_errors_are_reported_once_without_the_source_path():
    from flowkit.cli import _one_line

    try:
        cv2.imwrite("x.flo", np.zeros((4, 4), np.uint8))
    except cv2.error as exc:
        assert _one_line(exc).startswith("OpenCV: could not find a writer for the specified extension")
    else:
        pytest.skip("this OpenCV does not raise for an unknown extension")


def test_option_help_lists_exactly_the_accepted_names():
    from flowkit.cli import build_parser
    import inspect

    parser = build_parser()
    flow = parser._subparsers._group_actions[0].choices["flow"]
    (action,) = [a for a in flow._actions if "--option" in a.option_strings]
    text = " ".join(action.help.split())
    for method in ("farneback", "lucas_kanade"):
        names = [p.name for p in inspect.signature(getattr(flowkit, method)).parameters.values()
                 if p.kind == p.KEYWORD_ONLY and p.name not in ("init_flow", "return_confidence")]
        assert f"{method}: {', '.join(names)}" in text
    assert "normalize=false" in text and "Any other keyword" not in text
    # every registered estimator's options (the help says "These are all"; raft's were not
    # there)
    from flowkit._estimators import _REGISTRY, estimator_options

    words = set(re.findall(r"\w+", text.replace(" / _", " variational_refinement_")))
    for method in sorted(_REGISTRY):  # the built-in ones (a test may register its own)
        missing = [name for name in estimator_options(method) if name not in words]
        assert not missing, (method, missing)


@pytest.mark.parametrize("command", ["flow", "predict", "demo"])
def test_option_help_offers_use_previous_flow_only_where_it_is_taken(command):
    # predict's and demo's --help said "(and use_previous_flow for a video)" as flow's does,
    # but predict on a video refused it ("not an option of farneback") and demo has no video
    from flowkit.cli import build_parser

    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices[command]
    (action,) = [a for a in sub._actions if "--option" in a.option_strings]
    assert ("use_previous_flow" in action.help) == (command == "flow")


def test_flow_options_reach_the_estimator_and_outputs_are_reported(pair, tmp_path, capsys):
    a, b, frame0, frame1 = pair
    out, png = tmp_path / "f.flo", tmp_path / "f.png"
    assert main(["flow", str(a), str(b), "-o", str(out), "--png", str(png),
                 "-O", "levels=2", "-O", "winsize=9", "-O", "gaussian=true", "--max-flow", "4"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[:2] == [f"wrote {out} (64x48 flow)", f"wrote {png} (64x48 colour-coded flow)"]
    assert printed[2].startswith("farneback (levels=2, winsize=9, gaussian=True) in ")
    expected = flowkit.farneback(frame0, frame1, levels=2, winsize=9, gaussian=True)
    np.testing.assert_array_equal(flowkit.read_flo(out), expected)
    assert not np.array_equal(expected, flowkit.farneback(frame0, frame1))  # the options mattered
    picture = cv2.imread(str(png))[..., ::-1]
    np.testing.assert_array_equal(picture, flowkit.flow_to_color(expected, max_flow=4.0))


def test_dis_coarsest_scale_option_reaches_dis(pair, tmp_path):
    # OpenCV 5's setCoarsestScale, as -O coarsest_scale=N (48x64: OpenCV's rule gives scale 1)
    a, b, frame0, frame1 = pair
    out = tmp_path / "f.flo"
    assert main(["flow", str(a), str(b), "-o", str(out), "--method", "dis", "-O", "preset=accurate",
                 "-O", "coarsest_scale=0", "-q"]) == 0
    expected = flowkit.dis(frame0, frame1, preset="accurate", coarsest_scale=0)
    np.testing.assert_array_equal(flowkit.read_flo(out), expected)
    assert not np.array_equal(expected, flowkit.dis(frame0, frame1, preset="accurate"))


def test_options_follow_the_signature_of_the_method(pair, tmp_path, monkeypatch, capsys):
    # a keyword added to the library (such as a future normalize=) works without CLI changes
    seen = {}

    def farneback(frame0, frame1, *, levels=3, normalize=True, init_flow=None, return_confidence=False):
        seen.update(levels=levels, normalize=normalize)
        return np.zeros(frame0.shape[:2] + (2,), np.float32)

    monkeypatch.setattr("flowkit._farneback.farneback", farneback)  # where the registry finds it
    a, b = pair[:2]
    assert main(["flow", str(a), str(b), "-o", str(tmp_path / "f.flo"), "-O", "normalize=False",
                 "--option", "levels=4"]) == 0
    assert seen == {"levels": 4, "normalize": False}
    assert main(["flow", str(a), str(b), "-o", str(tmp_path / "f.flo"), "-O", "init_flow=0"]) == 2
    assert capsys.readouterr().err == ("flowkit: error: --option init_flow: not an option of farneback; "
                                       "its options are levels, normalize (see flowkit flow --help)\n")


def test_alpha_is_dropped_and_bit_depth_kept(pair, tmp_path):
    a, b, frame0, frame1 = pair
    rng = np.random.default_rng(1)
    rgba = tmp_path / "a_rgba.png"
    alpha = rng.integers(0, 256, frame0.shape[:2], dtype=np.uint8)
    cv2.imwrite(str(rgba), np.dstack([frame0[..., ::-1], alpha]))  # BGRA
    np.testing.assert_array_equal(_read_image(rgba), frame0)
    assert main(["flow", str(a), str(b), "-o", str(tmp_path / "rgb.flo")]) == 0
    assert main(["flow", str(rgba), str(b), "-o", str(tmp_path / "rgba.flo")]) == 0
    np.testing.assert_array_equal(flowkit.read_flo(tmp_path / "rgba.flo"), flowkit.read_flo(tmp_path / "rgb.flo"))
    # gray + alpha PNG (colour type 4; OpenCV decodes it as BGRA): the gray channel
    Image = pytest.importorskip("PIL.Image")
    gray = frame0[..., 1]
    Image.fromarray(np.dstack([gray, alpha]), "LA").save(tmp_path / "la.png")
    np.testing.assert_array_equal(_read_image(tmp_path / "la.png"), gray)
    # 16-bit stays 16-bit
    cv2.imwrite(str(tmp_path / "a16.png"), frame0[..., ::-1].astype(np.uint16) * 257)
    image16 = _read_image(tmp_path / "a16.png")
    assert image16.dtype == np.uint16
    np.testing.assert_array_equal(image16, frame0.astype(np.uint16) * 257)


def _jpeg_with_orientation(path, stored, orientation):
    """Write ``stored`` (RGB) as a JPEG whose EXIF says ``orientation`` (an APP1 segment
    after the start marker, big-endian TIFF with the one Orientation entry, tag 0x0112)."""
    ok, jpeg = cv2.imencode(".jpg", stored[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 100])
    assert ok
    tiff = (b"MM\x00\x2a\x00\x00\x00\x08" + b"\x00\x01" + b"\x01\x12\x00\x03\x00\x00\x00\x01"
            + orientation.to_bytes(2, "big") + b"\x00\x00" + b"\x00\x00\x00\x00")
    app1 = b"Exif\x00\x00" + tiff
    jpeg = jpeg.tobytes()
    path.write_bytes(jpeg[:2] + b"\xff\xe1" + (len(app1) + 2).to_bytes(2, "big") + app1 + jpeg[2:])


def test_exif_orientation_of_two_images_is_applied_as_in_a_folder(pair, tmp_path, capsys):
    # a phone's JPEG stored sideways with EXIF orientation 6 (turn 90 degrees clockwise to
    # show): flow and interpolate read it unturned (IMREAD_UNCHANGED ignores the tag), while
    # cv2.imread and an image folder of the same files turn it upright; now the same
    frame0, frame1 = pair[2:]
    folder = tmp_path / "phone"
    folder.mkdir()
    for name, frame in (("a.jpg", frame0), ("b.jpg", frame1)):
        _jpeg_with_orientation(folder / name, np.ascontiguousarray(np.rot90(frame)), 6)
    upright = cv2.imread(str(folder / "a.jpg"))[..., ::-1]
    assert upright.shape == frame0.shape  # OpenCV's reference: turned back upright
    np.testing.assert_array_equal(_read_image(folder / "a.jpg"), upright)
    np.testing.assert_array_equal(next(flowkit.iter_frames(folder)), upright)
    assert main(["flow", str(folder / "a.jpg"), str(folder / "b.jpg"),
                 "-o", str(tmp_path / "p.flo"), "-q"]) == 0
    assert main(["flow", str(folder), "--flo-dir", str(tmp_path / "flo"), "-q"]) == 0
    pair_flow = flowkit.read_flo(tmp_path / "p.flo")
    assert pair_flow.shape == frame0.shape[:2] + (2,)
    np.testing.assert_array_equal(pair_flow, flowkit.read_flo(tmp_path / "flo" / "flow_000000.flo"))
    assert main(["interpolate", str(folder / "a.jpg"), str(folder / "b.jpg"),
                 str(tmp_path / "mid.png"), "-q"]) == 0
    assert cv2.imread(str(tmp_path / "mid.png")).shape == frame0.shape


def _moving_frames(count=6, height=48, width=64):
    """Frames of a smooth texture moving 1 px right and 0.5 px down per frame (uint8 RGB)."""
    texture = textured_image(height + 16, width + 16, seed=4, channels=3)
    frames = []
    for i in range(count):
        shift = np.float32([[1, 0, -8 + i], [0, 1, -8 + 0.5 * i]])
        moved = cv2.warpAffine(texture, shift, (width, height), flags=cv2.INTER_CUBIC)
        frames.append(np.clip(moved * 255 + 0.5, 0, 255).astype(np.uint8))
    return frames


def test_flow_of_a_video_equals_pairwise_farneback(tmp_path, capsys):
    video = tmp_path / "in.mkv"
    with flowkit.VideoWriter(video, fps=12) as writer:  # FFV1: lossless
        for frame in _moving_frames():
            writer.write(frame)
    decoded = list(flowkit.iter_frames(video))
    assert len(decoded) == 6
    out, flo_dir = tmp_path / "flow.avi", tmp_path / "flo"
    assert main(["flow", str(video), "--video", str(out), "--flo-dir", str(flo_dir), "-q",
                 "-O", "winsize=9"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == (f"wrote {out} (5 frames, 64x48, 12 fps, at the input frames' times, each "
                          "frame scaled to its own max)")
    assert printed[1] == f"wrote 5 .flo files to {flo_dir} (flow_000000.flo ... flow_000004.flo)"
    assert sorted(p.name for p in flo_dir.iterdir()) == [f"flow_{i:06d}.flo" for i in range(5)]
    for i in range(5):
        expected = flowkit.farneback(decoded[i], decoded[i + 1], winsize=9)
        np.testing.assert_allclose(flowkit.read_flo(flo_dir / f"flow_{i:06d}.flo"), expected, atol=1e-5)
    assert np.abs(expected - flowkit.farneback(decoded[4], decoded[5])).max() > 1e-3  # the option mattered
    # a second run into the same folder would mix its files with these: refused, as predict's
    before = {p.name: p.read_bytes() for p in flo_dir.iterdir()}
    assert main(["flow", str(video), "--flo-dir", str(flo_dir), "-q"]) == 2
    assert capsys.readouterr().err.startswith(f"flowkit: error: --flo-dir: {flo_dir} already holds flow_*.flo files")
    assert {p.name: p.read_bytes() for p in flo_dir.iterdir()} == before
    assert abs(np.median(expected[8:-8, 8:-8, 0]) - 1.0) < 0.2  # the texture moves 1 px right
    pictures = list(flowkit.iter_frames(out))
    assert len(pictures) == 5 and pictures[0].shape == (48, 64, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flo", "flow.avi", "in.mkv"]


# retime's note for a clip padded to even sizes (_padding_note), printed by flow and predict too
PADDING_NOTE = ("flowkit: note: padded {0} to {1} (last row or column repeated) for the encoder, "
                "which needs an even size; to keep {0} write .mkv with --codec ffv1, or .webm")


def test_flow_of_an_image_folder_with_lucas_kanade(tmp_path, capsys):
    folder = tmp_path / "frames"
    folder.mkdir()
    frames = _moving_frames(4, 49, 65)  # odd size
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"f{i}.png"), frame[..., ::-1])
    flo_dir = tmp_path / "flo"  # created (in an existing folder: test_output_folders_...)
    video = tmp_path / "flow.mp4"
    assert main(["flow", str(folder), "--method", "lucas_kanade", "-O", "radius=3",
                 "--flo-dir", str(flo_dir), "--video", str(video)]) == 0
    printed, err = capsys.readouterr()
    # the size written, as retime and translate print it; the note says it was padded
    assert f"wrote {video} (3 frames, 66x50, 30 fps" in printed
    # and the note retime prints there, saying how to keep the size (it was missing)
    assert [line for line in err.splitlines() if "note" in line] == [PADDING_NOTE.format("65x49", "66x50")]
    assert "lucas_kanade (radius=3): 3 pairs of" in printed
    assert [p.shape for p in flowkit.iter_frames(video)] == [(50, 66, 3)] * 3  # padded, not cropped
    for i in range(3):
        expected = flowkit.lucas_kanade(frames[i], frames[i + 1], radius=3)
        np.testing.assert_allclose(flowkit.read_flo(flo_dir / f"flow_{i:06d}.flo"), expected, atol=1e-5)


def test_an_ffmpeg_image_pattern_as_a_video_output_is_a_usage_error(moving_folder, tmp_path):
    # predict IN frame_%03d.png --codec png exited 0 with "wrote frame_%03d.png (2 frames, ...)":
    # an empty file, the frames left in hidden .frame_001.<random>.tmp.png files
    folder = moving_folder[0]
    status, out, err = run_cli("predict", folder, tmp_path / "frame_%03d.png", "--codec", "png",
                               "--horizon", "2", "-q")
    assert status == 2 and out == "" and one_error_line(err) == (
        f"OUTPUT: {tmp_path / 'frame_%03d.png'}: '.png' is an image format, which FFmpeg writes "
        "as one file per frame, not a video; use a video extension (.mp4, .m4v, .mov, .mkv, "
        ".avi, .webm, ...), or a folder (a path without an extension) for PNG files, or a "
        ".tif file for a TIFF stack (see flowkit predict --help)")
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder.name]


def test_flow_of_a_16_bit_image_folder_keeps_its_depth(tmp_path, capsys):
    # a microscope's 12-bit frames in 16-bit TIFFs: flow of the folder read them reduced to 8
    # bits (OpenCV's >> 8: 16 grey levels left) while predict of the folder and flow of two of
    # its files read them as stored; now the flows are of the frames as stored
    folder = tmp_path / "cells"
    folder.mkdir()
    frames = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.uint16) * 16 + 5
              for f in _moving_frames(3, 40, 56)]
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"t{i}.tif"), frame)
    assert main(["flow", str(folder), "--method", "lucas_kanade",
                 "--flo-dir", str(tmp_path / "flo"), "-q"]) == 0
    for i in range(2):  # gray TIFFs: the flow of the gray frames (test_gray_folders_stay_gray)
        expected = flowkit.lucas_kanade(frames[i], frames[i + 1])
        np.testing.assert_array_equal(flowkit.read_flo(tmp_path / "flo" / f"flow_{i:06d}.flo"),
                                      expected)


@pytest.mark.parametrize("command", ["flow --flo-dir", "predict", "demo --out", "batch -o"])
def test_output_folders_are_created_in_an_existing_folder_only(tmp_path, capsys, command):
    # flow --flo-dir, batch -o and demo --out made missing parents too, while predict's folder
    # and every output file refuse a missing folder: one rule now (exit 1, one line naming the flag)
    frames = tmp_path / "frames"
    frames.mkdir()
    for k, frame in enumerate(_moving_frames(3)):
        cv2.imwrite(str(frames / f"{k}.png"), frame[..., ::-1])
    video = tmp_path / "in.mkv"
    with flowkit.VideoWriter(video, fps=12) as writer:
        for frame in _moving_frames(3):
            writer.write(frame)
    folder = tmp_path / "no" / "out"
    args, flag = {"flow --flo-dir": (["flow", frames, "--flo-dir", folder], "--flo-dir"),
                  "predict": (["predict", frames, "--horizon", "1", "-o", folder], "OUTPUT"),
                  "demo --out": (["demo", "--out", folder], "--out"),
                  "batch -o": (["batch", "retime", video, "-o", folder, "-O", "factor=2"], "-o")}[command]
    before = sorted(tmp_path.iterdir())
    assert main([str(a) for a in args]) == 1
    assert one_error_line(capsys.readouterr().err) == (
        f"{flag}: output folder does not exist: {tmp_path / 'no'} (for {folder})")
    assert sorted(tmp_path.iterdir()) == before
    # in an existing folder the folder itself is created
    (tmp_path / "no").mkdir()
    if command != "batch -o":  # (a cluster: test_batch)
        assert main([str(a) for a in args] + ["-q"] * (command != "demo --out")) == 0
        assert folder.is_dir() and any(folder.iterdir())


def test_video_errors_are_one_line(tmp_path):
    folder = tmp_path / "one"
    folder.mkdir()
    cv2.imwrite(str(folder / "0.png"), np.zeros((48, 64, 3), np.uint8))
    status, _, err = run_cli("flow", folder, "--video", tmp_path / "x.mp4")
    assert status == 1 and one_error_line(err) == f"{folder}: only one frame, a flow needs two"
    cv2.imwrite(str(folder / "1.png"), np.zeros((48, 64, 3), np.uint8))  # two frames, --step 2
    status, _, err = run_cli("flow", folder, "--video", tmp_path / "x.mp4", "--step", "2")
    assert status == 1 and one_error_line(err) == (f"{folder}: only one frame, a flow needs two "
                                                   f"read with --step 2 (frames 0, 2, 4, ...)")
    cv2.imwrite(str(folder / "1.png"), np.zeros((40, 64, 3), np.uint8))
    status, _, err = run_cli("flow", folder, "--video", tmp_path / "x.mp4")
    assert status == 1 and one_error_line(err).startswith(f"FRAME0: image {folder / '1.png'} is 64x40, the first")
    assert "--resize WxH" in err
    # a missing folder is named with the option, by the user's path
    status, _, err = run_cli("flow", folder, "--video", tmp_path / "no" / "x.mp4")
    assert status == 1 and one_error_line(err) == (f"--video: output folder does not exist: {tmp_path / 'no'} "
                                                   f"(for {tmp_path / 'no' / 'x.mp4'})")
    # an extension without a default codec is a usage error, checked before any work
    status, _, err = run_cli("flow", folder, "--video", tmp_path / "x.ogv")
    assert status == 2 and one_error_line(err).startswith(
        f"--video: {tmp_path / 'x.ogv'}: no default codec for extension '.ogv'; use one of .mp4, ")
    assert err.rstrip().endswith(" or give --codec (see flowkit flow --help)")
    # no extension: FFmpeg picks the container by it, so --codec cannot help and is not offered
    # (with --codec the encoder failed: "Could not determine output format", exit 1); an
    # extension FFmpeg has no container for is not told to give --codec either
    for extra in ([], ["--codec", "libx264"]):
        status, _, err = run_cli("flow", folder, "--video", tmp_path / "noext", *extra)
        assert status == 2 and one_error_line(err) == (
            f"--video: {tmp_path / 'noext'}: no extension; give the output a video extension "
            "(.mp4, .m4v, .mov, .mkv, .avi, .webm, ...) (see flowkit flow --help)")
    for extra in ([], ["--codec", "libx264"]):
        status, _, err = run_cli("flow", folder, "--video", tmp_path / "x.xyz", *extra)
        assert status == 2 and one_error_line(err) == (
            f"--video: {tmp_path / 'x.xyz'}: FFmpeg has no container for the extension '.xyz' (it "
            "picks the container by the extension, whatever the codec); use a video extension "
            "(.mp4, .m4v, .mov, .mkv, .avi, .webm, ...) (see flowkit flow --help)")
    status, _, err = run_cli("flow", tmp_path / "none.mp4", "--video", tmp_path / "x.mp4")
    assert status == 1 and one_error_line(err) == f"FRAME0: no such video file or image folder: {tmp_path / 'none.mp4'}"
    status, _, err = run_cli("flow", folder, "--flo-dir", tmp_path / "d", "--method", "lucas_kanade",
                             "-O", "use_previous_flow=True")
    assert status == 2 and one_error_line(err).startswith(
        "--option use_previous_flow: not an option of lucas_kanade; its options are radius, num_warp")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one"]


def test_interrupt_is_one_line_and_leaves_no_video(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(_moving_frames(5)):
        cv2.imwrite(str(folder / f"{i}.png"), frame[..., ::-1])
    real, calls = flowkit.flow_to_color, []

    def interrupt_on_third(flow, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(flow, **kwargs)

    monkeypatch.setattr(flowkit, "flow_to_color", interrupt_on_third)
    assert main(["flow", str(folder), "--video", str(tmp_path / "v.mp4"), "--flo-dir", str(tmp_path / "flo")]) == 130
    captured = capsys.readouterr()
    assert captured.err == "flowkit: interrupted\n" and captured.out == ""
    # no video (nor its temporary file), no .flo (the two finished pairs' files were staged in a
    # hidden folder, now gone): a second run into the same folder is not refused
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]
    monkeypatch.setattr(flowkit, "flow_to_color", real)
    assert main(["flow", str(folder), "--flo-dir", str(tmp_path / "flo"), "-q"]) == 0
    assert sorted(p.name for p in (tmp_path / "flo").iterdir()) == [f"flow_{i:06d}.flo" for i in range(4)]


def test_warmup_subset_and_errors():
    status, out, err = run_cli("warmup", "--only", "flow_to_color", "smooth_gaussian", "--jobs", "2", "-q")
    assert status == 0, err
    lines = out.splitlines()
    # each case's line as it finishes (in either order: two worker processes), then the total
    assert sorted(line.split()[0] for line in lines[:2]) == ["flow_to_color", "smooth_gaussian"]
    assert lines[2].startswith("warmed 2 cases") and "with 2 worker processes" in lines[2], out
    status, _, err = run_cli("warmup", "--only", "nope")
    assert status == 2 and one_error_line(err).startswith("--only nope: no such warm-up case; the cases are farneback_gray")


def test_warmup_cases_cover_the_public_functions():
    from flowkit._warmup import CASES, GROUPS

    assert sorted(name for group in GROUPS.values() for name in group) == sorted(CASES)
    called = {name.split("_")[0] for name in CASES}
    assert {"farneback", "dis", "lucas", "good", "warp", "smooth", "flow", "extrapolate", "splat",
            "fill", "variational", "retime", "interpolate", "predict", "temporally"} == called
    CASES["flow_to_color"]()  # a case is a callable without arguments
    # common dtypes compile their own specialisations; warm them beside the kernels they share
    assert {"warp_float32_gray", "warp_float32_rgb", "warp_float64_rgb"} <= set(GROUPS["warp"])
    assert "smooth_gaussian_float64" in GROUPS["smooth"]
    assert "interpolate_linear" in GROUPS["warp"]  # retime --interpolation linear (a new user's)
    CASES["warp_float32_gray"]()


def test_real_videos(tmp_path, capsys):
    bear = data_path("video", "androidx__bear-vp9-odd-dimensions.webm")  # odd size 161x121
    assert main(["flow", str(bear), "--flo-dir", str(tmp_path / "bear"), "--step", "10", "-q",
                 "--video", str(tmp_path / "bear.mp4")]) == 0
    # OpenCV's writer would crop 161x121 to 160x120; the command pads instead and says so
    printed, err = capsys.readouterr()
    assert "(2 frames, 162x122, " in printed and PADDING_NOTE.format("161x121", "162x122") in err
    assert next(flowkit.iter_frames(tmp_path / "bear.mp4")).shape == (122, 162, 3)
    frames = list(flowkit.iter_frames(bear, step=10))
    flows = sorted((tmp_path / "bear").iterdir())
    assert len(flows) == len(frames) - 1 == 2
    np.testing.assert_allclose(flowkit.read_flo(flows[0]), flowkit.farneback(frames[0], frames[1]), atol=1e-5)
    # a phone video stored 1920x1080 with a 90-degree rotation tag is read upright (portrait)
    rotated = data_path("video", "mediabunny__rotate-buck-bunny.mp4")
    assert main(["flow", str(rotated), "--flo-dir", str(tmp_path / "rot"), "--step", "24",
                 "--resize", "90x160", "-q"]) == 0
    assert flowkit.read_flo(tmp_path / "rot" / "flow_000000.flo").shape == (160, 90, 2)
    ten_bit = data_path("video", "torchcodec__h264_10bits.mp4")
    assert main(["flow", str(ten_bit), "--video", str(tmp_path / "10bit.mp4"), "--step", "10", "-q"]) == 0
    assert len(list(flowkit.iter_frames(tmp_path / "10bit.mp4"))) == 2


def test_flow_and_translate_print_the_rate_the_output_has(tmp_path, capsys):
    # the WebM's millisecond times read as 2997/100; the .mp4 written at those times read as
    # 30000/1001 (and the commands printed 29.97 (2997/100) for it). The flow video's times
    # now lie on the input's grid, as retime writes them: 2997/100, retime's rate, read back
    bear = data_path("video", "androidx__bear-vp9-odd-dimensions.webm")
    assert probe_video(bear).frame_rate == probe_video(bear).base_rate == Fraction(2997, 100)
    out = tmp_path / "bear.mp4"
    assert main(["flow", str(bear), "--video", str(out), "-q"]) == 0
    assert "29.97 (2997/100) fps, at the input frames' times" in capsys.readouterr().out
    retimed = tmp_path / "bear-retimed.mp4"
    assert main(["retime", str(bear), str(retimed), "--factor", "1", "-q"]) == 0
    capsys.readouterr()
    for path in (out, retimed):
        info = probe_video(path)
        assert info.frame_rate == info.base_rate == Fraction(2997, 100), path
    # each picture at its frame's time: the grid point its millisecond stamp was rounded from
    times = [t for t, _ in flowkit.iter_frames(bear, timestamps=True)]
    got = _demuxed_times(out)
    assert got == [Fraction(100 * k, 2997) for k in range(29)]
    assert all(abs(a - (b - times[0])) < Fraction(1, 1000) for a, b in zip(got, times))
    out = tmp_path / "bear-eq.mp4"
    assert main(["translate", str(bear), str(out), "--op", "equalize", "-q"]) == 0
    assert "29.97 (2997/100) fps; audio" in capsys.readouterr().out  # translate's too
    assert probe_video(out).frame_rate == Fraction(2997, 100)
    assert _demuxed_times(out) == [Fraction(100 * k, 2997) for k in range(len(times))]


def _demuxed_times(path):
    """The presentation times (seconds, Fraction) of the video packets of ``path``, demuxed by
    PyAV, in order."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sorted(packet.pts * stream.time_base for packet in container.demux(stream)
                      if packet.pts is not None)


def test_flow_video_keeps_the_frame_times_and_the_rotation_of_the_input(tmp_path, capsys):
    # flow --video wrote a variable-rate clip at a constant rate and a phone clip without its
    # rotation tag (sideways); predict and retime keep both. Now the picture of pair (k, k+1)
    # is written at frame k's time and the rotation is a tag, the pictures stored as the input's
    from fractions import Fraction

    vfr = data_path("video", "torchcodec__var_fps_video.mp4")  # 30 fps grid, average 20.1
    times = [t for t, _ in flowkit.iter_frames(vfr, timestamps=True)]
    out = tmp_path / "vfr.mp4"
    assert main(["flow", str(vfr), "--video", str(out), "--resize", "32x32", "-q"]) == 0
    assert capsys.readouterr().out.startswith(
        f"wrote {out} (299 frames, 32x32, 30 fps, at the input frames' times, ")
    assert _demuxed_times(out) == [t - times[0] for t in times[:-1]]
    assert len(set(np.diff(_demuxed_times(out)))) > 1  # not a constant rate
    # --fps asks for a constant rate
    assert main(["flow", str(vfr), "--video", str(out), "--resize", "32x32", "--fps", "30", "-q"]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {out} (299 frames, 32x32, 30 fps, each frame")
    assert _demuxed_times(out) == [Fraction(k, 30) for k in range(299)]

    phone = data_path("video", "mediabunny__rotate-buck-bunny.mp4")  # 1920x1080, rotation 270
    times = [t for t, _ in flowkit.iter_frames(phone, timestamps=True, step=4)]
    args = ["--resize", "36x64", "--step", "4", "-q"]
    out = tmp_path / "phone.mkv"  # FFV1: lossless RGB
    assert main(["flow", str(phone), "--video", str(out), "--flo-dir", str(tmp_path / "flo"), *args]) == 0
    assert capsys.readouterr().out.startswith(
        f"wrote {out} (11 frames, 64x36 stored, 36x64 displayed (rotation 270), 6 fps, at the "
        "input frames' times, ")
    info = probe_video(out)
    assert (info.rotation, info.width, info.height) == (270, 36, 64)
    got = _demuxed_times(out)  # MKV stores milliseconds
    assert len(got) == 11 and all(abs(a - (b - times[0])) <= Fraction(1, 2000)
                                  for a, b in zip(got, times[:-1]))
    # displayed upright, the pictures are the colour-coded flows of the upright frames
    shown = np.stack(list(flowkit.iter_frames(out)))
    expected = np.stack([flowkit.flow_to_color(flowkit.read_flo(path))
                         for path in sorted((tmp_path / "flo").iterdir())])
    np.testing.assert_array_equal(shown, expected)
    # AVI stores no rotation: the pictures are stored upright (VideoWriter's rule, as predict's)
    out = tmp_path / "phone.avi"
    assert main(["flow", str(phone), "--video", str(out), *args]) == 0
    assert "(11 frames, 36x64, 6 fps, at the input frames' times, " in capsys.readouterr().out
    info = probe_video(out)
    assert (info.rotation, info.width, info.height) == (0, 36, 64)


def test_video_output_extension_is_checked_before_work(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    frame0, frame1, _ = flowkit.sample_pair(48, 64)
    for i, frame in enumerate((frame0, frame1)):
        cv2.imwrite(str(frames / f"f{i}.png"), frame[..., ::-1])
    # --codec is offered where FFmpeg has a container for the extension (.ogv, which takes no
    # H.264, the default where one does: .ts), not for .xyz (there --codec libx264 failed:
    # "Could not determine output format")
    for name, offered in (("x.ogv", True), ("x.xyz", False)):
        result = subprocess.run([sys.executable, "-m", "flowkit", "flow", str(frames), "--video",
                                 str(tmp_path / name)], capture_output=True, text=True)
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "--video:" in lines[0] and name in lines[0]
        assert ("--codec" in lines[0]) == offered, lines
        assert not (tmp_path / name).exists()


# --- predict ---------------------------------------------------------------------------------------

@pytest.fixture
def moving_folder(tmp_path):
    """A folder of 8 RGB frames of a texture moving 1 px right and 0.5 px down per frame."""
    base = (textured_image(96, 128, seed=5, channels=3) * 255).round().astype(np.uint8)
    folder = tmp_path / "clip"
    folder.mkdir()
    frames = []
    for k in range(8):
        flow = np.broadcast_to(np.float32([-1.0 * k, -0.5 * k]), base.shape[:2] + (2,))
        frame = flowkit.warp(base, flow)[8:-8, 8:-8]
        frames.append(frame)
        cv2.imwrite(str(folder / f"f{k}.png"), frame[..., ::-1])
    return folder, frames


def test_predict_writes_a_folder_and_a_side_by_side_video(moving_folder, tmp_path, capsys):
    folder, frames = moving_folder
    out = tmp_path / "pred"
    assert main(["predict", str(folder), "--horizon", "3", "-o", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == (f"wrote 3 PNG files to {out} (frame_000000.png ... frame_000002.png, "
                          "predicted frames)")
    # predict's defaults, named as they are used
    assert printed[1].startswith("semi-lagrangian, speed spread 0.1, advected flow prediction of 3 frames "
                                 "from the last 4 context frames (--context auto: the newest pair's motion), "
                                 "dis (default options)")
    written = [cv2.imread(str(out / f"frame_{k:06d}.png"))[..., ::-1] for k in range(3)]
    np.testing.assert_array_equal(np.stack(written), flowkit.predict(np.stack(frames[-4:]), 3))
    video = tmp_path / "sbs.mp4"
    assert main(["predict", str(folder), "--horizon", "2", "--start", "2", "--context", "3", "--side-by-side",
                 "-o", str(video), "--scheme", "reestimate", "--method", "farneback", "-O", "winsize=9"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == f"wrote {video} (2 frames, 224x80, 30 fps, truth | prediction, side by side)"
    assert printed[1].startswith("reestimate prediction of 2 frames from frames 2-4 as 3 context frames "
                                 "(the median of their 2 pairs' motions), farneback (winsize=9)")
    assert [f.shape for f in flowkit.iter_frames(video)] == [(80, 224, 3)] * 2


def test_predict_trailing_slash_is_a_folder_as_interpolates(moving_folder, tmp_path, capsys):
    # -o out.mp4/ wrote a video named out.mp4 while interpolate wrote PNG files into the folder
    # out.mp4: one rule now (_output_kind), a trailing slash names a folder
    folder, _ = moving_folder
    out = tmp_path / "out.mp4"
    assert main(["predict", str(folder), "--horizon", "2", "-o", f"{out}/"]) == 0
    assert out.is_dir() and sorted(p.name for p in out.iterdir()) == ["frame_000000.png", "frame_000001.png"]
    assert capsys.readouterr().out.startswith(f"wrote 2 PNG files to {out}")


@pytest.mark.parametrize("command", [["predict", "--horizon", "1"], ["retime", "--factor", "2"],
                                     ["translate", "--op", "autocontrast"]])
def test_an_extension_ffmpeg_has_no_container_for_is_one_line_with_codec_too(tmp_path, command):
    # `out.xyz --codec libx264` gave FFmpeg's "Could not determine output format" (exit 1, after
    # the work for predict): now one usage line naming the path and the extension, before any work
    clip = three_flat_frames(tmp_path / "in.mp4")
    out = tmp_path / "out.xyz"
    status, stdout, err = run_cli(command[0], clip, out, *command[1:], "--codec", "libx264")
    # predict also writes a folder, which the hint names
    other = (", or a folder (a path without an extension) for PNG files, or a .tif file for a "
             "TIFF stack") * (command[0] == "predict")
    assert status == 2 and stdout == "" and one_error_line(err) == (
        f"OUTPUT: {out}: FFmpeg has no container for the extension '.xyz' (it picks the container "
        f"by the extension, whatever the codec); use a video extension (.mp4, .m4v, .mov, .mkv, "
        f".avi, .webm, ...){other} (see flowkit {command[0]} --help)")
    assert not out.exists()


def test_codec_help_states_each_commands_default_as_it_writes(moving_folder, tmp_path, capsys):
    # .mkv: lossless FFV1 for flow and predict (VideoWriter's table), libx264 for retime (it
    # passes most input frames through: FFV1 was 27x larger) and translate; .avi: MJPEG for all
    # (retime's libx264 read back with shifted times); each --codec help says its own
    # (predict's and translate's said only "libx264 for .mp4"); translate re-encodes every
    # frame and takes retime's (FFV1 made its .mkv 21 times libx264's size)
    _, frames = moving_folder
    clip = tmp_path / "in.mp4"
    with flowkit.VideoWriter(clip, 24) as writer:
        for frame in frames[:4]:
            writer.write(frame)
    runs = {"flow": ["--video", "{out}"], "predict": ["{out}", "--horizon", "1"],
            "translate": ["{out}", "--op", "autocontrast"], "retime": ["{out}", "--factor", "1"]}
    for command, args in runs.items():
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        if command in ("retime", "translate"):
            assert "libx264 (.mp4, .m4v, .mov, .mkv), mjpeg (.avi), libvpx-vp9 (.webm)" in text
        else:
            assert ("libx264 (.mp4, .m4v, .mov), ffv1 lossless (.mkv), mjpeg (.avi), "
                    "libvpx-vp9 (.webm)") in text, command
        for suffix in (".mkv", ".avi"):
            out = tmp_path / f"{command}{suffix}"
            assert main([command, str(clip), *(a.format(out=out) for a in args), "-q"]) == 0
            expected = ("mjpeg" if suffix == ".avi" else
                        "h264" if command in ("retime", "translate") else "ffv1")
            assert probe_video(out).codec == expected, (command, suffix)


@pytest.mark.parametrize("command", [["demo", "--out", "{tmp}/d"], ["flow", "a.png", "b.png", "-o", "{tmp}/f.flo"]])
def test_gan_is_a_method_of_predict_only(tmp_path, command):
    # predict adds "gan" to its own --method, not to the parent parser the others share
    status, _, stderr = run_cli(*[a.format(tmp=tmp_path) for a in command], "--method", "gan")
    assert status == 2 and "argument --method: invalid choice: 'gan'" in one_error_line(stderr)
    assert "predict-gan" not in run_cli(command[0], "--help")[1]


def test_predict_speed_spread_and_advect_flow(moving_folder, tmp_path, capsys):
    folder, frames = moving_folder
    out = tmp_path / "pred"
    assert main(["predict", str(folder), "--horizon", "2", "--speed-spread", "0.2", "--advect-flow",
                 "-o", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[1].startswith("semi-lagrangian, speed spread 0.2, advected flow prediction of 2 frames")
    written = [cv2.imread(str(out / f"frame_{k:06d}.png"))[..., ::-1] for k in range(2)]
    np.testing.assert_array_equal(np.stack(written), flowkit.predict(np.stack(frames[-2:]), 2, speed_spread=0.2,
                                                                     advect_flow=True))
    # the held field and one trajectory, with Euler steps: the defaults turned off
    assert main(["predict", str(folder), "--horizon", "2", "--speed-spread", "0", "--no-advect-flow",
                 "--n-iter", "0", "-o", str(tmp_path / "held")]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[1].startswith("semi-lagrangian, n-iter 0 prediction of 2 frames")
    written = [cv2.imread(str(tmp_path / "held" / f"frame_{k:06d}.png"))[..., ::-1] for k in range(2)]
    np.testing.assert_array_equal(np.stack(written), flowkit.predict(np.stack(frames[-2:]), 2, speed_spread=0,
                                                                     advect_flow=False, n_iter=0))
    # the summary names every option that shaped the motion (smoothing, the average of a context)
    assert main(["predict", str(folder), "--horizon", "1", "--context", "3", "--average", "mean",
                 "--smooth", "gaussian", "--smooth-size", "9", "-o", str(tmp_path / "smooth")]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[1].startswith("semi-lagrangian, speed spread 0.1, advected flow, motion smoothed "
                                 "(gaussian, size 9) prediction of 1 frame from the last 3 context "
                                 "frames (the mean of their 2 pairs' motions), dis"), printed[1]
    for args, message in ((["--speed-spread", "0.7"], "argument --speed-spread: expected a number in [0, 0.5], got '0.7'"),
                          (["--speed-spread", "0.1", "--scheme", "forward"],
                           "--speed-spread is for --scheme semi-lagrangian, not forward"),
                          (["--advect-flow", "--scheme", "reestimate"],
                           "--advect-flow is for --scheme semi-lagrangian, not reestimate"),
                          (["--advect-flow", "--n-iter", "2"], "--n-iter does not apply with --advect-flow (its"),
                          (["--n-iter", "2"], "--n-iter does not apply with --advect-flow (the default; add "
                                              "--no-advect-flow)"),
                          (["--speed-spread", "nan"], "argument --speed-spread: expected a number in [0, 0.5], got 'nan'")):
        status, _, stderr = run_cli("predict", folder, "--horizon", "2", *args, "-o", tmp_path / "out.mp4")
        assert status == 2
        assert message in one_error_line(stderr)
        assert not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize("args, code, message", [
    (["--horizon", "2", "--side-by-side"], 2, "--side-by-side needs --start N"),
    (["--horizon", "0"], 2, "argument --horizon: expected an integer >= 1, got '0'"),
    (["--horizon", "2", "--context", "1"], 2, "argument --context: expected auto or an integer >= 2, got '1'"),
    (["--horizon", "2", "--smooth-size", "7"], 2, "--smooth-size needs --smooth METHOD"),
    # accepted silently before: one motion has nothing to average
    (["--horizon", "2", "--context", "2", "--average", "mean"], 2,
     "--average mean needs --context 3 or more, or auto: --context 2 gives one motion, with "
     "nothing to combine"),
    # smooth_flow's own rule (check_options), named as the flag, before the input is read: 0
    # and -1 were argparse's, a window larger than the memory was "size: ..." (exit 1) after the
    # flows were estimated
    (["--horizon", "2", "--smooth", "median", "--smooth-size", "4"], 2,
     "--smooth-size: expected an odd integer, got 4"),
    (["--horizon", "2", "--smooth", "median", "--smooth-size", "0"], 2,
     "--smooth-size: expected an integer >= 1, got 0"),
    (["--horizon", "2", "--smooth", "gaussian", "--smooth-size=-1"], 2,
     "--smooth-size: expected an integer >= 1, got -1"),
    (["--horizon", "2", "--smooth", "gaussian", "--smooth-size", "1000000000001"], 2,
     "--smooth-size: 1000000000001 Gaussian taps would need at least"),
    (["--horizon", "2", "--n-iter", "2", "--scheme", "forward"], 2,
     "--n-iter is for --scheme semi-lagrangian, not forward"),
    (["--horizon", "2", "--start", "6", "--context", "3"], 1, "8 frames; --context 3 from --start 6 needs 9"),
    # past sys.maxsize the tail's deque raised "OverflowError: Python int too large to convert
    # to C ssize_t"
    (["--horizon", "2", "--context", str(2**63)], 1, f"8 frames; --context {2**63} needs {2**63}"),
    # the frame before the pair, read for the scene test, is not a context frame
    (["--horizon", "2", "--start", "7", "--context", "2"], 1, "8 frames; --context 2 from --start 7 needs 9"),
    (["--horizon", "4", "--start", "3", "--context", "2", "--side-by-side"], 1,
     "--side-by-side needs the 4 true frames after the context (frames 5 to 8); the input has 8"),
    (["--horizon", "1", "--start", "3", "--context", "5", "--side-by-side"], 1,
     "--side-by-side needs the 1 true frame after the context (frame 8); the input has 8"),
    (["--horizon", "2", "--start", "5", "--context", "4", "--side-by-side"], 1,
     "8 frames; --context 4 from --start 5 and --side-by-side --horizon 2 need 11"),
    (["--horizon", "2", "-O", "radius=3"], 2, "--option radius: not an option of dis"),
    (["--horizon", "2", "--method", "farneback", "-O", "levels=-1"], 2,
     "--option levels: expected an integer >= 0, got -1"),
    # more than the machine's memory: named before any flow is estimated (was a bare MemoryError)
    (["--horizon", "10000000000000"], 2, "--horizon: 10000000000000 predicted frames of shape"),
])
def test_predict_errors_are_one_line(moving_folder, tmp_path, args, code, message):
    folder, _ = moving_folder
    status, _, stderr = run_cli("predict", folder, "-o", tmp_path / "out.mp4", *args)
    assert status == code
    assert message in one_error_line(stderr)
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize("command", ["interpolate", "predict", "flow", "flow-video", "retime"])
def test_dash_as_an_output_is_refused(moving_folder, tmp_path, monkeypatch, capsys, command):
    # FFmpeg reads "-" as standard output; interpolate made a folder named "-", the video
    # outputs said "no extension"
    from flowkit.cli import main

    folder, _ = moving_folder
    frames = sorted(folder.iterdir())
    clip = data_path("video", "car_traffic_small.mp4") if command == "retime" else None
    monkeypatch.chdir(tmp_path)
    args = {"interpolate": [frames[0], frames[1], "-"],
            "predict": [folder, "-o", "-", "--horizon", "1"],
            "flow": [folder, "--flo-dir", "-"], "flow-video": [folder, "--video", "-"],
            "retime": [clip, "-", "--factor", "2"]}[command]
    assert main([command.split("-")[0], *map(str, args)]) == 2
    flag = {"interpolate": "OUTPUT", "predict": "OUTPUT", "flow": "--flo-dir",
            "flow-video": "--video", "retime": "OUTPUT"}[command]
    assert one_error_line(capsys.readouterr().err).startswith(
        f"{flag}: '-' (standard output) is not supported; give a file or folder path")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip"]


@pytest.mark.parametrize("args, minimum", [
    (["flow", "--video", "OUT.mp4", "--method", "farneback"], "farneback: expected frames at least 11x11 pixels for poly_n=5"),
    (["flow", "--flo-dir", "OUT", "--method", "dis"], "dis: expected frames at least 16x16"),
    (["predict", "--horizon", "2", "-o", "OUT.mp4"], "dis: expected frames at least 16x16"),
])
def test_resize_too_small_for_the_method_names_the_flag(moving_folder, tmp_path, args, minimum):
    # the estimator's own error names frame0, which the user did not give: the flag it is
    folder, _ = moving_folder
    command, *rest = [str(tmp_path / a) if a.startswith("OUT") else a for a in args]
    status, _, stderr = run_cli(command, folder, *rest, "--resize", "8x8")
    assert status == 2
    assert one_error_line(stderr).startswith(f"--resize 8x8: too small for {minimum}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip"]


@pytest.mark.parametrize("args, flag", [
    (["flow", "--video", "OUT.mp4", "--method", "dis", "-O", "finest_scale=9"],
     "--option finest_scale=9: frames too small for dis with these options: expected frames at "
     "least 4096x4096"),
    (["predict", "--horizon", "2", "-o", "OUT.mp4", "-O", "finest_scale=9"],
     "--option finest_scale=9: frames too small for dis with these options: expected frames at "
     "least 4096x4096"),
    (["flow", "--flo-dir", "OUT", "--method", "dis", "-O", "patch_size=15", "-O", "finest_scale=3"],
     "--option patch_size=15 finest_scale=3: frames too small for dis with these options"),
])
def test_options_too_large_for_the_frames_name_the_flag(moving_folder, tmp_path, args, flag):
    folder, _ = moving_folder
    command, *rest = [str(tmp_path / a) if a.startswith("OUT") else a for a in args]
    status, _, stderr = run_cli(command, folder, *rest)
    assert status == 2
    assert one_error_line(stderr).startswith(flag)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip"]


def test_predict_folder_output_checks_and_leaves_nothing_on_failure(moving_folder, tmp_path, monkeypatch):
    folder, _ = moving_folder
    afile = tmp_path / "afile"
    afile.write_text("x")
    status, _, stderr = run_cli("predict", folder, "--horizon", "2", "-o", afile)
    assert status == 2 and one_error_line(stderr) == (f"OUTPUT: {afile} exists and is not a folder "
                                                      "(see flowkit predict --help)")
    deep = tmp_path / "no" / "frames"
    status, _, stderr = run_cli("predict", folder, "--horizon", "2", "-o", deep)
    assert status == 1 and one_error_line(stderr) == f"OUTPUT: output folder does not exist: {deep.parent} (for {deep})"
    out = tmp_path / "out"
    assert main(["predict", str(folder), "--horizon", "2", "-o", str(out)]) == 0
    status, _, stderr = run_cli("predict", folder, "--horizon", "3", "-o", out)
    assert status == 2 and "already holds frame_*.png files" in one_error_line(stderr)
    # a failure while writing (here the second PNG) leaves neither frames nor the staging folder
    import flowkit.cli as cli

    written = []

    def failing_png(path, picture):
        if written:
            raise OSError("disk full")
        written.append(path)
        cv2.imwrite(str(path), picture)

    monkeypatch.setattr(cli, "_write_image", failing_png)
    fresh = tmp_path / "fresh"
    assert main(["predict", str(folder), "--horizon", "3", "-o", str(fresh)]) == 1
    assert not fresh.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "clip", "out"]


def test_predict_into_an_existing_folder_on_another_file_system(moving_folder, tmp_path, monkeypatch):
    # an existing OUTPUT folder that is a mount point (a container's volume): the PNG files
    # were staged beside it and moved in, which failed with "[Errno 18] Invalid cross-device
    # link: '.../.pts.XXXX.tmp/frame_000000.png' -> ...". Here os.replace refuses any move
    # into or out of "volume", as across a mount point
    import errno

    import flowkit.cli as cli

    folder, frames = moving_folder
    volume = tmp_path / "volume"
    volume.mkdir()
    replace = os.replace

    def across_mounts(src, dst):
        if (volume in Path(src).parents) != (volume in Path(dst).parents):
            raise OSError(errno.EXDEV, "Invalid cross-device link", str(src), None, str(dst))
        replace(src, dst)

    monkeypatch.setattr(cli.os, "replace", across_mounts)
    assert main(["predict", str(folder), "--horizon", "2", "-q", "-o", str(volume)]) == 0
    assert sorted(p.name for p in volume.iterdir()) == ["frame_000000.png", "frame_000001.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip", "volume"]


def test_an_existing_output_folder_that_takes_no_file_is_refused_before_any_work(moving_folder, tmp_path,
                                                                                monkeypatch, capsys):
    # only the folder's parent was checked: an existing folder that takes no new file (a
    # read-only mount) failed after the work, "OUTPUT: Operation not permitted" (predict) or
    # once per input (batch). Here creating a file in "locked" is refused, as there
    import flowkit._atomic as atomic

    folder, _ = moving_folder
    locked = tmp_path / "locked"
    locked.mkdir()
    real_open = os.open

    def refusing(path, *args, **kwargs):
        if Path(path).parent == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(atomic.os, "open", refusing)
    assert main(["predict", str(folder), "--horizon", "2", "-o", str(locked)]) == 1
    assert one_error_line(capsys.readouterr().err) == (f"OUTPUT: cannot write {locked}/frame_*.png: the "
                                                       f"folder {locked} takes no new file (Permission denied)")
    assert not any(locked.iterdir())


def test_compile_notice_only_when_the_cache_lacks_the_drivers(monkeypatch):
    import argparse
    import importlib
    import io
    import os

    from flowkit.cli import _compile_notice

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    from flowkit.cli import _PREDICT_DRIVERS, _RETIME_DRIVERS

    for module, name in _PREDICT_DRIVERS + _RETIME_DRIVERS:  # each a cached Numba dispatcher
        kernel = getattr(importlib.import_module(f"flowkit.kernels.{module}"), name)
        assert kernel._cache._cache_file._index_path.endswith(".nbi"), (module, name)
    drivers = _PREDICT_DRIVERS
    exists = os.path.exists
    # no index file in Numba's cache (the modules themselves still load their own cache)
    monkeypatch.setattr(os.path, "exists", lambda path: False if str(path).endswith(".nbi") else exists(path))
    for quiet, stream, expected in ((False, Terminal(), True), (True, Terminal(), False),
                                    (False, io.StringIO(), False)):  # a pipe or file: silent
        _compile_notice(argparse.Namespace(quiet=quiet), *drivers, stream=stream)
        assert stream.getvalue().startswith("flowkit: compiling kernels on first use") == expected
    monkeypatch.setattr(os.path, "exists", lambda path: True)
    stream = Terminal()
    _compile_notice(argparse.Namespace(quiet=False), *drivers, stream=stream)
    assert stream.getvalue() == ""


@pytest.mark.parametrize("command", [["retime", "{out}.webm", "--factor", "2", "--method", "blend"],
                                     ["flow", "--video", "{out}.mp4"],
                                     ["translate", "{out}.mp4", "--op", "autocontrast"],
                                     ["predict", "--horizon", "2", "-o", "{out}.mp4"]])
def test_webm_cut_short_fails_every_command(tmp_path, command):
    # a VP9 WebM cut to 20000 of its 31548 bytes: FFmpeg reads 9 of its 30 frames without an error
    cut = tmp_path / "cut.webm"
    bear = data_path("video", "androidx__bear-vp9-odd-dimensions.webm")
    cut.write_bytes(bear.read_bytes()[:20000])
    args = [command[0], cut] + [a.format(out=tmp_path / "out") for a in command[1:]]
    status, _, err = run_cli(*args)
    argument = "FRAME0" if command[0] == "flow" else "INPUT"  # the input, named
    assert status == 1 and one_error_line(err) == (
        f"{argument}: cannot decode {cut} (the video ends at 0.300 s, its headers say 1.001 s: the "
        f"file is cut short or damaged)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.webm"]  # no partial output


def test_train_help_is_the_models_own():
    # each model: its own description and only the options it takes, with its own defaults
    helps = {}
    for model in ("interp-refine", "colorize", "predict-gan", "text2video-shapes"):
        status, out, err = run_cli("train", model, "--help")
        assert status == 0 and err == "", err
        helps[model] = " ".join(out.split())
    assert "Train interp-refine, the small CNN that refines the default (project) interpolation" in helps["interp-refine"]
    assert "Train colorize, the CNN that predicts the chroma" in helps["colorize"]
    assert "Train predict-gan, the generator that refines the flow prediction" in helps["predict-gan"]
    assert "Train text2video-shapes, the caption-to-clip generator" in helps["text2video-shapes"]
    assert "triplets of frames to sample (default 240)" in helps["interp-refine"]
    assert "colour frames to sample (default 240)" in helps["colorize"]
    for model in ("interp-refine", "colorize"):
        assert "--clips" not in helps[model] and "--steps" not in helps[model]
        assert "batch size (default 16)" in helps[model]
    assert "--triplets" not in helps["predict-gan"] and "--clips CLIPS" in helps["predict-gan"]
    assert "batch size (default 12)" in helps["predict-gan"] and "--adversarial-weight" in helps["predict-gan"]
    assert "--data" not in helps["text2video-shapes"].replace("no --data", "")
    assert "--epochs" not in helps["text2video-shapes"] and "Adam's learning rate (default 2e-3)" in helps["text2video-shapes"]
    status, out, _ = run_cli("train", "--help")
    assert status == 0 and "predict-gan the generator that refines the flow prediction" in " ".join(out.split())


def test_output_as_positional_or_o_in_predict_retime_and_translate(moving_folder, tmp_path):
    # the three commands that write one output take it either way, and refuse both or neither
    folder, _ = moving_folder
    first = tmp_path / "a.mp4"
    status, _, err = run_cli("predict", folder, first, "--horizon", "2", "-q")
    assert status == 0, err
    status, _, err = run_cli("predict", folder, "-o", tmp_path / "b.mp4", "--horizon", "2", "-q")
    assert status == 0, err
    np.testing.assert_array_equal([f for f in flowkit.iter_frames(first)],
                                  [f for f in flowkit.iter_frames(tmp_path / "b.mp4")])
    for command, extra in (("predict", ["--horizon", "2"]), ("retime", ["--factor", "2"]),
                           ("translate", ["--op", "autocontrast"])):
        source = folder if command == "predict" else first
        for outputs, got in (([], "none"), ([tmp_path / "x.mp4", "-o", tmp_path / "y.mp4"],
                                            f"{tmp_path / 'x.mp4'} and -o {tmp_path / 'y.mp4'}")):
            status, _, err = run_cli(command, source, *outputs, *extra)
            assert status == 2 and "as OUTPUT or -o OUTPUT, got " + got in one_error_line(err), err
    status, _, err = run_cli("translate", first, "-o", tmp_path / "t.mp4", "--op", "autocontrast", "-q")
    assert status == 0, err
    # OUTPUT after the options (argparse would leave it unparsed), -o twice, an empty name
    status, _, err = run_cli("retime", first, "--factor", "2", "-q", tmp_path / "r.mp4")
    assert status == 0 and (tmp_path / "r.mp4").exists(), err
    status, _, err = run_cli("retime", first, "-o", tmp_path / "x.mp4", "-o", tmp_path / "y.mp4",
                             "--factor", "2")
    assert status == 2 and one_error_line(err).startswith("argument -o/--output: given twice")
    for outputs in (["-o", ""], [""]):
        status, _, err = run_cli("predict", folder, *outputs, "--horizon", "2")
        assert status == 2 and one_error_line(err).startswith(
            "OUTPUT: expected a name for the output video or folder, got ''"), err
    assert not (tmp_path / "x.mp4").exists() and not (tmp_path / "y.mp4").exists()
    assert not [name for name in os.listdir() if name.startswith("frame_")]


@pytest.mark.parametrize("suffix, color", [
    (".mp4", {"colorspace": 6, "color_range": 1}), (".webm", {"colorspace": 6, "color_range": 1}),
    (".mov", {"colorspace": 6, "color_range": 1}),
    (".avi", {"colorspace": 5, "color_range": 2}),  # MJPEG's JPEG: BT.601 full range, as before
])
def test_flow_video_states_the_matrix_of_its_pictures(tmp_path, capsys, suffix, color):
    # the pictures are converted to YUV with BT.601's matrix, limited range, and were written
    # untagged (matrix and range unspecified; a VP9 WebM stated a limited range alone), so that
    # players took an HD video's matrix for BT.709 and shifted the colour wheel's hues
    rng = np.random.default_rng(5)
    image = cv2.GaussianBlur((rng.random((72, 104, 3)) * 255).astype(np.uint8), (7, 7), 2)
    clip = tmp_path / "clip.mkv"
    with flowkit.VideoWriter(clip, 10, codec="ffv1") as writer:
        for k in range(3):
            writer.write(image[k:k + 64, k:k + 96])
    out = tmp_path / f"flow{suffix}"
    assert main(["flow", str(clip), "--video", str(out), "--flo-dir", str(tmp_path / "flo"),
                 "-q"]) == 0
    capsys.readouterr()
    assert {k: v for k, v in probe_video(out).color.items() if k in color} == color
    shown = np.stack(list(flowkit.iter_frames(out))).astype(float)
    expected = np.stack([flowkit.flow_to_color(flowkit.read_flo(path))
                         for path in sorted((tmp_path / "flo").iterdir())])
    assert np.abs(shown - expected).mean() < 3  # read back as written: the matrix stated


def test_flow_of_a_video_with_a_second_input_names_the_video_flags(tmp_path):
    video = data_path("video", "androidx__bear-vp9-odd-dimensions.webm")
    status, _, err = run_cli("flow", video, tmp_path / "out.mp4")
    assert status == 2
    assert one_error_line(err) == (f"FRAME1: {tmp_path / 'out.mp4'}: a second input is for a pair of "
                                   f"images, and FRAME0 {video} has a video extension (.webm): give a "
                                   "video alone with --video OUT.mp4 and/or --flo-dir DIR (see flowkit "
                                   "flow --help)")
    assert not (tmp_path / "out.mp4").exists()
    # a file that only has the extension (text.mp4) was called "a video"
    text, noise = tmp_path / "text.mp4", tmp_path / "rand.mp4"
    text.write_text("hello\n")
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, np.uint8).tobytes())
    status, _, err = run_cli("flow", text, noise, "-o", tmp_path / "x.flo")
    assert status == 2
    assert one_error_line(err).startswith(f"FRAME1: {noise}: a second input is for a pair of images, "
                                          f"and FRAME0 {text} has a video extension (.mp4): ")


@pytest.mark.parametrize("extra", [[], ["-o", "x.flo"]])
def test_flow_of_a_missing_video_with_a_second_input_names_the_video_flags(tmp_path, capsys, extra):
    # 'flowkit flow missing.mp4 out.mp4' said 'nothing to write: give -o OUT.flo and/or --png
    # OUT.png', and with -o 'FRAME0: no such image file: missing.mp4': only an existing video
    # got the message naming --video
    missing, second = tmp_path / "missing.mp4", tmp_path / "out.mp4"
    args = ["flow", str(missing), str(second)] + [str(tmp_path / a) if a.endswith(".flo") else a
                                                  for a in extra]
    assert main(args) == 2
    assert usage_error_line(capsys.readouterr().err) == (
        f"FRAME1: {second}: a second input is for a pair of images, and FRAME0 {missing} has a "
        "video extension (.mp4): give a video alone with --video OUT.mp4 and/or --flo-dir DIR")
    assert sorted(tmp_path.iterdir()) == []


def test_predict_reports_the_context_auto_chose(tmp_path, capsys):
    # steady motion with jittery frame times (x = 0, 2.6, 3.8, 6.2 px): the hindcast prefers
    # the average of the older pairs, and the summary says so
    base = (textured_image(96, 128, seed=5, channels=3) * 255).round().astype(np.uint8)
    folder = tmp_path / "clip"
    folder.mkdir()
    for k, x in enumerate((0.0, 2.6, 3.8, 6.2)):
        frame = flowkit.warp(base, np.broadcast_to(np.float32([-x, 0.0]), base.shape[:2] + (2,)))
        cv2.imwrite(str(folder / f"f{k}.png"), frame[8:-8, 8:-8, ::-1])
    assert main(["predict", str(folder), "--horizon", "1", "-o", str(tmp_path / "out")]) == 0
    assert ("from the last 4 context frames (--context auto: the median of the last 3 pairs' "
            "motions), dis") in capsys.readouterr().out


def test_predict_says_when_the_context_holds_a_scene_cut(tmp_path, capsys):
    # two textures: a cut before the last 2 of the 4 frames auto reads
    shots = [(textured_image(64, 80, seed=seed, channels=3) * 255).round().astype(np.uint8)
             for seed in (1, 2)]
    folder = tmp_path / "clip"
    folder.mkdir()
    for k, (shot, x) in enumerate(((0, 0.0), (0, 1.0), (1, 0.0), (1, 1.0))):
        frame = flowkit.warp(shots[shot], np.broadcast_to(np.float32([-x, 0.0]), (64, 80, 2)))
        cv2.imwrite(str(folder / f"f{k}.png"), frame[..., ::-1])
    assert main(["predict", str(folder), "--horizon", "1", "-o", str(tmp_path / "a")]) == 0
    out, err = capsys.readouterr()
    assert "(--context auto: the newest pair's motion)" in out
    assert err == ("flowkit: note: a scene cut before the last 2 context frames: the motion is "
                   "estimated from them (--no-scene-detection: across it)\n")
    assert main(["predict", str(folder), "--horizon", "1", "-o", str(tmp_path / "b"),
                 "--no-scene-detection"]) == 0
    assert "scene cut" not in capsys.readouterr().err
    # --context 2 reads the frame before the pair too, for the test; a cut before the last frame
    # repeats it, and the summary says so instead of naming a scheme
    (folder / "f3.png").unlink()
    for start in ([], ["--start", "1"]):
        assert main(["predict", str(folder), "--horizon", "2", "-o", str(tmp_path / "d"),
                     "--context", "2", *start]) == 0
        out, err = capsys.readouterr()
        used = "frames 1-2 as 2 context frames" if start else "the last 2 context frames"
        assert (f"the last context frame repeated as 2 predicted frames: a scene cut lies before it "
                f"(from {used}; --no-scene-detection") in out, out
        assert err == ""
        written = sorted((tmp_path / "d").iterdir())
        assert len(written) == 2 and np.array_equal(cv2.imread(str(written[1])), cv2.imread(str(folder / "f2.png")))
        shutil.rmtree(tmp_path / "d")
    status, _, err = run_cli("predict", folder, tmp_path / "c", "--horizon", "1",
                             "--scene-threshold", "0")
    assert status == 2 and "--scene-threshold: expected a number in (0, 100], got '0'" in one_error_line(err)


def test_predict_decodes_only_the_tail_of_a_long_video(tmp_path, monkeypatch):
    # flowkit predict decoded every frame of a video to keep its last ones (about 18 ms a
    # frame at 1080p here: half an hour for an hour of video); now only from the keyframe
    # before them, as batch's predict job, and with --gray and --resize the same frames
    import av

    clip = tmp_path / "long.mp4"
    texture = (textured_image(48, 160, seed=3, channels=3) * 255).round().astype(np.uint8)
    with av.open(str(clip), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"g": "8", "keyint_min": "8", "sc_threshold": "0"}
        for k in range(96):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(texture[:, k:k + 64]),
                                               format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    decoded = []
    decode = flowkit.video.decode

    def counting(*args, **kwargs):
        for item in decode(*args, **kwargs):
            decoded.append(item[0])
            yield item

    monkeypatch.setattr(flowkit.video, "decode", counting)
    for extra in ([], ["--gray", "--resize", "32x24"]):
        decoded.clear()
        tail, whole = tmp_path / "tail", tmp_path / "whole"
        assert main(["predict", str(clip), str(tail), "--horizon", "2", "-q", *extra]) == 0
        assert 4 <= len(decoded) <= 2 + 16  # the first frame (the origin), two GOPs at most
        # --start reads from the first frame on: the same 4 context frames, the same prediction
        assert main(["predict", str(clip), str(whole), "--horizon", "2", "-q", "--start", "92",
                     *extra]) == 0
        for a, b in zip(sorted(tail.iterdir()), sorted(whole.iterdir()), strict=True):
            assert np.array_equal(cv2.imread(str(a), cv2.IMREAD_UNCHANGED),
                                  cv2.imread(str(b), cv2.IMREAD_UNCHANGED))
        shutil.rmtree(tail)
        shutil.rmtree(whole)


def test_predict_writes_a_variable_rate_clip_at_its_grid_rate(tmp_path):
    # 30 fps with dropped frames (average 1125/56): the predicted frames follow at 1/30 s, as
    # retime's --factor counts from the same rate
    source = data_path("video", "torchcodec__var_fps_video.mp4")
    status, stdout, err = run_cli("predict", source, tmp_path / "p.mp4", "--horizon", "2", "-q")
    assert status == 0, err
    assert probe_video(tmp_path / "p.mp4").frame_rate == 30 and ", 30 fps, " in stdout


def test_predict_keeps_a_10_bit_clip_at_its_depth(tmp_path):
    # decoded as uint16 (16-bit scale), predicted in uint16 and written 10-bit (video) or as
    # 16-bit PNGs, which hold exactly what flowkit.predict gives on those frames
    source = data_path("video", "torchcodec__h264_10bits.mp4")
    status, _, err = run_cli("predict", source, tmp_path / "p.mp4", "--horizon", "1", "-q")
    assert status == 0, err
    assert probe_video(tmp_path / "p.mp4").bit_depth == 10
    status, _, err = run_cli("predict", source, tmp_path / "frames", "--horizon", "1", "-q")
    assert status == 0, err
    written = cv2.imread(str(tmp_path / "frames" / "frame_000000.png"), cv2.IMREAD_UNCHANGED)
    frames = list(flowkit.iter_frames(source, depth=16))
    assert written.dtype == np.uint16
    np.testing.assert_array_equal(written[..., ::-1], flowkit.predict(np.stack(frames[-4:]), 1)[0])


def test_flow_reads_a_10_bit_clip_at_its_depth(tmp_path):
    # as predict (and flow of a folder of 16-bit images) reads it: the flow of the uint16
    # frames, not of OpenCV-style 8-bit ones (2 of its 10 bits dropped before the estimator)
    from flowkit import _batch

    source = data_path("video", "torchcodec__h264_10bits.mp4")
    assert main(["flow", str(source), "--flo-dir", str(tmp_path / "f"), "--step", "10",
                 "--method", "dis", "-q"]) == 0
    frames = list(flowkit.iter_frames(source, step=10, depth=16))
    assert frames[0].dtype == np.uint16
    np.testing.assert_array_equal(flowkit.read_flo(tmp_path / "f" / "flow_000000.flo"),
                                  flowkit.dis(frames[0], frames[1]))
    seen = []  # the batch job reads the same depth

    def estimator(frame0, frame1):
        seen.append(frame0.dtype)
        return np.zeros(frame0.shape[:2] + (2,), np.float32)

    _batch._flow_job(source, tmp_path / "b.mp4", method=estimator)
    assert set(seen) == {np.dtype(np.uint16)}


def test_predict_keeps_the_pixel_format_of_the_input(tmp_path):
    # predict wrote 4:2:0 whatever the input; now its video keeps the input's pixel format
    # where the encoder takes it, as retime and translate do: 4:4:4 (the real clip), 10-bit 4:4:4
    from test_retime import write_clip

    source = data_path("video", "torchcodec__var_fps_video.mp4")  # H.264 yuv444p
    status, _, err = run_cli("predict", source, tmp_path / "p.mp4", "--horizon", "1", "-q")
    assert status == 0, err
    assert probe_video(tmp_path / "p.mp4").pix_fmt == "yuv444p"
    frames = [np.rint(np.roll(textured_image(32, 48, seed=5, channels=3), k, axis=1) * 65535)
              .astype(np.uint16) for k in range(4)]
    deep = write_clip(tmp_path / "deep.mp4", frames, 10, pix_fmt="yuv444p10le")
    status, _, err = run_cli("predict", deep, tmp_path / "d.mp4", "--horizon", "1", "-q")
    assert status == 0, err
    assert (probe_video(tmp_path / "d.mp4").pix_fmt, err) == ("yuv444p10le", "")
    # an encoder that does not take it: its default, as before (MJPEG: full-range 4:2:0);
    # FFV1 (.mkv) keeps its planar RGB, which holds the predicted RGB frames exactly
    for name, pix_fmt in (("p.avi", "yuvj420p"), ("p.mkv", "bgr0")):
        status, _, err = run_cli("predict", source, tmp_path / name, "--horizon", "1", "-q")
        assert status == 0, err
        assert probe_video(tmp_path / name).pix_fmt == pix_fmt


@pytest.mark.parametrize("args, name, encoder", [
    (["retime", "--factor", "1"], "r.webm", "vp9"),  # PyAV's libvpx-vp9 has no 10-bit format
    (["translate", "--op", "autocontrast", "--range", "0:0.2"], "t.avi", "mjpeg"),
    (["predict", "--horizon", "1"], "p.webm", "vp9"),
    (["retime", "--factor", "1", "--codec", "mpeg4"], "m.mp4", "mpeg4"),
    (["retime", "--factor", "1"], "r.avi", "mjpeg"),
    (["retime", "--factor", "1"], "r.mkv", None),  # retime's libx264 keeps 10 bits
    (["predict", "--horizon", "1"], "p.mp4", None),  # libx264: 10-bit, nothing to say
])
def test_a_10_bit_input_written_as_8_bit_is_noted(tmp_path, args, name, encoder):
    # retime, translate and predict silently wrote the 10-bit clip as 8-bit where the encoder
    # takes 8 bits only; now one line on stderr says so, the same for each command
    source = data_path("video", "torchcodec__h264_10bits.mp4")
    out = tmp_path / name
    status, _, err = run_cli(args[0], source, out, *args[1:], "-q")
    assert status == 0, err
    bits = probe_video(out).bit_depth
    # retime --factor 1 also says that it only re-encoded (test_retime_that_changes_nothing_says_so)
    unchanged = (["flowkit: note: --factor 1: the timeline is unchanged (30 fps, speed 1), the "
                  "video was only re-encoded"] if args[0] == "retime" else [])
    if encoder is None:
        assert bits == 10 and err.splitlines() == unchanged
    else:
        assert bits == 8 and err.splitlines() == [
            f"flowkit: note: {out}: 10-bit input written as 8-bit (this FFmpeg's {encoder} encoder "
            "takes 8 bits only); .mp4 or .mkv with their default codec keep more than 8 bits"] + unchanged


@pytest.mark.parametrize("args", [["retime", "--factor", "2"],
                                  ["translate", "--op", "autocontrast"],
                                  ["predict", "--horizon", "1"]])
def test_an_input_with_alpha_written_opaque_is_noted(tmp_path, args):
    # a video with transparency (PNG in MOV, rgba) was written opaque without a word: flowkit
    # reads and writes video without alpha; now one line on stderr says so
    import av

    source = tmp_path / "alpha.mov"
    with av.open(str(source), "w") as container:
        stream = container.add_stream("png", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "rgba"
        for k in range(4):
            rgba = np.zeros((48, 64, 4), np.uint8)
            rgba[..., :3] = np.roll(textured_image(48, 64, seed=1, channels=3) * 255, k, axis=1)
            rgba[:, :32, 3] = 255
            frame = av.VideoFrame.from_ndarray(rgba, format="rgba")
            frame.pts = k
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    out = tmp_path / "out.mp4"
    status, _, err = run_cli(args[0], source, out, *args[1:], "-q")
    assert status == 0, err
    assert err.splitlines() == [
        f"flowkit: note: {out}: the input's alpha channel (transparency) is not written: flowkit "
        "reads and writes video without alpha, so the output is opaque"]


def test_predict_keeps_a_16_bit_png_folder_at_its_depth(tmp_path):
    # a folder of 16-bit PNGs (a texture moving 1 px per frame, values above 255) is read and
    # predicted as uint16 like a 10-bit video: 16-bit PNGs out, exactly flowkit.predict on the
    # frames as stored; a video output is 10-bit (it was 8-bit PNGs and an 8-bit video)
    base = textured_image(40, 56, seed=4, channels=3)
    folder = tmp_path / "deep"
    folder.mkdir()
    frames = [np.rint(np.roll(base, k, axis=1) * 65535).astype(np.uint16) for k in range(4)]
    for k, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"f{k}.png"), frame[..., ::-1])
    status, _, err = run_cli("predict", folder, tmp_path / "frames", "--horizon", "1", "-q")
    assert status == 0, err
    written = cv2.imread(str(tmp_path / "frames" / "frame_000000.png"), cv2.IMREAD_UNCHANGED)
    assert written.dtype == np.uint16 and (written % 257 != 0).mean() > 0.9
    np.testing.assert_array_equal(written[..., ::-1], flowkit.predict(np.stack(frames[-4:]), 1)[0])
    status, _, err = run_cli("predict", folder, tmp_path / "p.mp4", "--horizon", "1", "-q")
    assert status == 0, err
    assert probe_video(tmp_path / "p.mp4").bit_depth == 10
    # an 8-bit-only encoder: the note names the folder's 16 bits
    status, _, err = run_cli("predict", folder, tmp_path / "p.webm", "--horizon", "1", "-q")
    assert status == 0 and err.startswith(f"flowkit: note: {tmp_path / 'p.webm'}: 16-bit input "
                                          "written as 8-bit (this FFmpeg's vp9 encoder"), err


@pytest.mark.parametrize("bits", [8, 16])
def test_gray_folders_stay_gray(tmp_path, capsys, bits):
    # a microscope's gray frames (8-bit PNGs, 16-bit TIFFs) were read as RGB copies: predict
    # wrote 3-channel images (max 55 levels from the gray prediction on Middlebury's
    # RubberWhale in 16 bits), and flow of the folder differed from flow of two of its files;
    # now gray in, gray out, exactly flowkit.predict and the estimator on the gray arrays
    scale, dtype, suffix = {8: (1, np.uint8, ".png"), 16: (201, np.uint16, ".tif")}[bits]
    frames = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(dtype) * scale
              for f in _moving_frames(4, 40, 56)]
    folder = tmp_path / "cells"
    folder.mkdir()
    for k, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"t{k}{suffix}"), frame)
    assert main(["predict", str(folder), str(tmp_path / "out"), "--horizon", "2", "-q"]) == 0
    written = np.stack([cv2.imread(str(tmp_path / "out" / f"frame_00000{k}.png"),
                                   cv2.IMREAD_UNCHANGED) for k in range(2)])
    assert written.dtype == dtype and written.shape == (2, 40, 56)
    np.testing.assert_array_equal(written, flowkit.predict(np.stack(frames), 2))
    # a video output holds the gray frames (FFV1: R = G = B, exactly)
    assert main(["predict", str(folder), str(tmp_path / "p.mkv"), "--horizon", "2", "-q"]) == 0
    first = next(flowkit.iter_frames(tmp_path / "p.mkv", depth=bits))
    np.testing.assert_array_equal(first, np.repeat(written[0][..., None], 3, axis=2))
    # flow of the folder: the gray frames' flow, as flow of two of its files
    assert main(["flow", str(folder), "--flo-dir", str(tmp_path / "flo"), "-q"]) == 0
    assert main(["flow", str(folder / f"t0{suffix}"), str(folder / f"t1{suffix}"),
                 "-o", str(tmp_path / "pair.flo")]) == 0
    flow = flowkit.read_flo(tmp_path / "flo" / "flow_000000.flo")
    np.testing.assert_array_equal(flow, flowkit.read_flo(tmp_path / "pair.flo"))
    np.testing.assert_array_equal(flow, flowkit.farneback(frames[0], frames[1]))


def test_gray_folder_rule_the_first_image_decides(tmp_path, capsys):
    # --gray still converts an RGB folder; in a folder mixing gray and RGB images the first
    # image decides, as for the depth: a later RGB image is converted to gray (RGB2GRAY, as
    # --gray converts), a later gray one repeated in three channels
    rgb = _moving_frames(4, 40, 56)
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in rgb]
    for name, stored, expected, flags in (
            ("rgb", rgb, gray, ["--gray"]),
            ("gray_first", gray[:3] + rgb[3:], gray, []),
            ("rgb_first", rgb[:3] + gray[3:], rgb[:3] + [cv2.cvtColor(gray[3], cv2.COLOR_GRAY2RGB)],
             [])):
        folder = tmp_path / name
        folder.mkdir()
        for k, frame in enumerate(stored):
            cv2.imwrite(str(folder / f"f{k}.png"), frame[..., ::-1] if frame.ndim == 3 else frame)
        out = tmp_path / f"{name}_out"
        assert main(["predict", str(folder), str(out), "--horizon", "1", "-q", *flags]) == 0
        written = cv2.imread(str(out / "frame_000000.png"), cv2.IMREAD_UNCHANGED)
        written = written[..., ::-1] if written.ndim == 3 else written
        np.testing.assert_array_equal(written, flowkit.predict(np.stack(expected), 1)[0])


@pytest.mark.parametrize("channels", [1, 3])
def test_float_tiff_folders_are_predicted_as_float32(tmp_path, capsys, channels):
    # radar or microscopy frames as float32 TIFFs (values in their own units, here 3.25 to 97)
    # were refused by flow and predict of the folder ("read as 8- or 16-bit"), while flow of
    # two of its files read them; now float32 frames, float32 TIFFs out, exactly flowkit.predict
    frames = [f.astype(np.float32) * 0.37 + 3.25 for f in _moving_frames(4, 40, 56)]
    frames = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) if channels == 1 else f for f in frames]
    folder = tmp_path / "radar"
    folder.mkdir()
    for k, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"r{k}.tif"), frame[..., ::-1] if channels == 3 else frame)
    assert main(["predict", str(folder), str(tmp_path / "out"), "--horizon", "2"]) == 0
    assert "wrote 2 TIFF files to" in capsys.readouterr().out
    written = np.stack([cv2.imread(str(tmp_path / "out" / f"frame_00000{k}.tif"),
                                   cv2.IMREAD_UNCHANGED) for k in range(2)])
    written = written[..., ::-1] if channels == 3 else written
    assert written.dtype == np.float32 and written.max() > 1
    np.testing.assert_array_equal(written, flowkit.predict(np.stack(frames), 2))
    assert main(["flow", str(folder), "--flo-dir", str(tmp_path / "flo"), "-q"]) == 0
    np.testing.assert_array_equal(flowkit.read_flo(tmp_path / "flo" / "flow_000000.flo"),
                                  flowkit.farneback(frames[0], frames[1]))
    # no video holds float frames: one line before any work; a folder already holding float
    # frames is refused as one holding PNG frames
    for output in (tmp_path / "p.mp4", tmp_path / "out"):
        status, _, err = run_cli("predict", folder, output, "--horizon", "1")
        message = one_error_line(err)
        assert status == 2 and ("a video cannot hold; give a folder" in message
                                or "already holds frame_*.tif files" in message), message
    assert not (tmp_path / "p.mp4").exists()


def test_signed_integer_tiffs_are_read_as_their_values_in_float32(tmp_path, capsys):
    # a CT's slices as int16 TIFFs (Hounsfield units, -1024 to 2976 here): a folder of them
    # was read through OpenCV's reduction to 8 bits (negative values 0, the rest divided by
    # 256) and predicted as 8-bit PNGs; two of them were refused ("pixel type int16 is not
    # supported"). Now their values as float32, float32 TIFFs out, exactly flowkit.predict's
    frames = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.int16) * 16 - 1024
              for f in _moving_frames(4, 40, 56)]
    folder = tmp_path / "ct"
    folder.mkdir()
    for k, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"s{k}.tif"), frame)
    values = np.stack(frames).astype(np.float32)
    assert main(["predict", str(folder), str(tmp_path / "out"), "--horizon", "1", "-q"]) == 0
    written = cv2.imread(str(tmp_path / "out" / "frame_000000.tif"), cv2.IMREAD_UNCHANGED)
    assert written.dtype == np.float32 and written.min() < 0
    np.testing.assert_array_equal(written, flowkit.predict(values, 1)[0])
    assert main(["flow", str(folder / "s0.tif"), str(folder / "s1.tif"), "-o",
                 str(tmp_path / "f.flo"), "-q"]) == 0
    np.testing.assert_array_equal(flowkit.read_flo(tmp_path / "f.flo"),
                                  flowkit.farneback(values[0], values[1]))


def test_a_float_tiff_holding_nan_is_named(tmp_path):
    # radar fields mark no data with NaN: predict's own error named "frames", neither the
    # file nor what to do
    folder = tmp_path / "radar"
    folder.mkdir()
    for k, frame in enumerate(_moving_frames(4, 40, 56)):
        frame = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
        if k == 2:
            frame[:5] = np.nan
        cv2.imwrite(str(folder / f"r{k}.tif"), frame)
    status, _, err = run_cli("predict", folder, tmp_path / "out", "--horizon", "1")
    assert status == 1 and one_error_line(err) == (
        f"INPUT: {folder / 'r2.tif'} holds NaN or infinity (no data?); predict "
        "needs finite values: fill them first, e.g. with the field's minimum "
        "(docs/prediction.md, 'No-data regions')"), err
    assert not (tmp_path / "out").exists()


def test_flow_and_interpolate_name_the_float_tiff_holding_nan(tmp_path):
    # flow of a radar folder or stack, and flow or interpolate of two radar fields, said
    # "frame0: expected finite values, got NaN", naming neither the file nor what to do
    folder = tmp_path / "radar"
    folder.mkdir()
    frames = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32)
              for f in _moving_frames(4, 40, 56)]
    frames[2][:5] = np.nan
    for k, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"r{k}.tif"), frame)
    assert cv2.imwritemulti(str(tmp_path / "radar.tif"), frames)
    fill = ("holds NaN or infinity (no data?); {} needs finite values: fill them first, e.g. "
            "with the field's minimum (docs/prediction.md, 'No-data regions')")
    for args, named in (
            (("flow", folder, "--flo-dir", tmp_path / "flo"), f"FRAME0: {folder / 'r2.tif'}"),
            (("flow", tmp_path / "radar.tif", "--flo-dir", tmp_path / "flo", "--step", "2"),
             f"FRAME0: page 3 of {tmp_path / 'radar.tif'}"),
            (("flow", folder / "r1.tif", folder / "r2.tif", "-o", tmp_path / "f.flo"),
             f"FRAME1: {folder / 'r2.tif'}"),
            (("interpolate", folder / "r2.tif", folder / "r3.tif", tmp_path / "m.tif"),
             f"FRAME0: {folder / 'r2.tif'}")):
        status, _, err = run_cli(*args)
        assert status == 1 and one_error_line(err) == f"{named} {fill.format(args[0])}", err
    assert not (tmp_path / "flo").exists() and not (tmp_path / "f.flo").exists()


def test_float_tiff_folder_mixed_with_integer_images_names_the_file(tmp_path):
    # float values in their own units have no common scale with 8- or 16-bit images: the
    # first image decides, a later image of the other kind is an error naming it
    float_first, int_first = tmp_path / "float_first", tmp_path / "int_first"
    for folder, kinds in ((float_first, (np.float32, np.uint16)),
                          (int_first, (np.uint8, np.float32))):
        folder.mkdir()
        for k, dtype in enumerate(kinds + kinds[-1:]):
            cv2.imwrite(str(folder / f"f{k}.tif"), np.full((32, 32), 7, dtype))
    for folder, kind in ((float_first, "uint16 samples; depth=32"),
                         (int_first, "float32 samples; the images")):
        status, _, err = run_cli("predict", folder, tmp_path / f"{folder.name}_out",
                                 "--horizon", "1")
        assert status == 1 and f"f1.tif has {kind}" in one_error_line(err), err


def test_a_multi_page_tiff_is_read_as_a_folder_of_images(tmp_path, capsys):
    # a time-lapse stack (microscopy, radar) was refused by flow and predict as "the image
    # stack.tif": now its pages are the frames, read as a folder of those images is (gray,
    # float32 kept; predicted as float32 TIFFs), a NaN named by its page
    frames = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32) * 0.37 + 3.25
              for f in _moving_frames(4, 40, 56)]
    stack = tmp_path / "stack.tif"
    assert cv2.imwritemulti(str(stack), frames)
    assert main(["predict", str(stack), str(tmp_path / "out"), "--horizon", "2", "-q"]) == 0
    written = np.stack([cv2.imread(str(tmp_path / "out" / f"frame_00000{k}.tif"),
                                   cv2.IMREAD_UNCHANGED) for k in range(2)])
    np.testing.assert_array_equal(written, flowkit.predict(np.stack(frames), 2))
    assert main(["flow", str(stack), "--flo-dir", str(tmp_path / "flo"), "-q"]) == 0
    assert len(list((tmp_path / "flo").glob("*.flo"))) == 3
    np.testing.assert_array_equal(flowkit.read_flo(tmp_path / "flo" / "flow_000002.flo"),
                                  flowkit.farneback(frames[2], frames[3]))
    frames[2][:5] = np.nan
    cv2.imwritemulti(str(stack), frames)
    status, _, err = run_cli("predict", stack, tmp_path / "nan", "--horizon", "1")
    assert status == 1 and one_error_line(err).startswith(
        f"INPUT: page 3 of {stack} holds NaN or infinity (no data?)"), err


def test_predict_writes_a_tiff_stack(tmp_path, capsys):
    # a .tif OUTPUT was refused as an image format FFmpeg writes a file per frame of (a float
    # stack's as 'a video cannot hold' float32): now one TIFF, a page per frame, dtype kept
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in _moving_frames(4, 40, 56)]
    for dtype, scale in ((np.float32, 0.37), (np.uint16, 257)):
        frames = [(f.astype(np.float32) * scale).astype(dtype) for f in gray]
        stack, out = tmp_path / "stack.tif", tmp_path / f"{np.dtype(dtype).name}.tiff"
        assert cv2.imwritemulti(str(stack), frames)
        assert main(["predict", str(stack), str(out), "--horizon", "2", "-q"]) == 0
        assert capsys.readouterr().out.startswith(
            f"wrote {out} (a TIFF of 2 pages, 56x40, {np.dtype(dtype).name}, predicted")
        ok, pages = cv2.imreadmulti(str(out), flags=cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(np.stack(pages), flowkit.predict(np.stack(frames), 2))
    status, _, err = run_cli("predict", stack, out, "--horizon", "1", "--fps", "5")
    assert status == 2 and one_error_line(err).startswith(
        "--fps: only for a video output; OUTPUT names a TIFF stack"), err


def test_commands_of_video_files_refuse_a_multi_page_tiff(tmp_path):
    # FFmpeg reads a TIFF stack's first page alone: probe described a one-frame 25 fps video,
    # retime said 'holds a single frame (an image?)'; now a usage error naming the stack, and
    # the library's readers of video files (probe_video, retime) a ValueError
    stack = tmp_path / "stack.tif"
    assert cv2.imwritemulti(str(stack), _moving_frames(3, 40, 56))
    for command in (["retime", stack, tmp_path / "r.mp4", "--factor", "2"],
                    ["translate", stack, tmp_path / "t.mp4", "--op", "autocontrast"]):
        status, _, err = run_cli(*command)
        assert status == 2 and one_error_line(err).startswith(
            f"INPUT: {stack} is a TIFF of 3 pages, an image stack (flow and predict read it as "
            "a folder of images); expected a video file"), err
    with pytest.raises(ValueError, match=r"^path: .*stack\.tif is a TIFF of 3 pages, an image "
                                         r"stack, not a video file \(iter_frames reads"):
        probe_video(stack)
    with pytest.raises(ValueError, match=r"^src: .*stack\.tif is a TIFF of 3 pages"):
        flowkit.retime(stack, tmp_path / "r.mp4", factor=2)
    assert not (tmp_path / "r.mp4").exists()


def test_probe_describes_a_tiff_stack(tmp_path, capsys):
    # probe refused a TIFF stack as no video file: now its pages and what its first page holds,
    # as flow and predict read it (gray float32 at depth 32; RGB + alpha at 8 bits)
    import json

    stack, rgba = tmp_path / "stack.tif", tmp_path / "rgba.tiff"
    assert cv2.imwritemulti(str(stack), [np.full((24, 40), k, np.float32) for k in range(3)])
    assert cv2.imwritemulti(str(rgba), [np.zeros((5, 7, 4), np.uint8)] * 2)
    assert main(["probe", str(stack)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "format: tiff stack", "width: 40", "height: 24", "frame_count: 3", "channels: 1",
        "dtype: float32", "bit_depth: 32", "read_depth: 32", "gray: yes", "alpha: no"]
    assert main(["probe", str(rgba), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "format": "tiff stack", "width": 7, "height": 5, "frame_count": 2, "channels": 4,
        "dtype": "uint8", "bit_depth": 8, "read_depth": 8, "gray": False, "alpha": True}


def test_probe_describes_a_single_tiff_as_flow_reads_it(tmp_path, capsys):
    # one TIFF went to FFmpeg's reader: a float32 one failed ('cannot decode the video
    # stream'), an int16 one was a 25 fps gray16le video read at depth 16, which flow reads
    # as float32 values
    import json

    for dtype, depth in ((np.float32, 32), (np.int16, 32), (np.uint16, 16)):
        path = tmp_path / f"{np.dtype(dtype).name}.tif"
        cv2.imwrite(str(path), np.full((6, 9), -3 if dtype == np.int16 else 3, dtype))
        assert main(["probe", str(path), "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == {
            "format": "tiff image", "width": 9, "height": 6, "frame_count": 1, "channels": 1,
            "dtype": np.dtype(dtype).name, "bit_depth": np.dtype(dtype).itemsize * 8,
            "read_depth": depth, "gray": True, "alpha": False}


def test_video_commands_say_a_pattern_is_not_expanded(tmp_path):
    # retime, translate and probe said only 'no such video file' of frames/img_%03d.png
    pattern = tmp_path / "img_%03d.png"
    for command in (["retime", pattern, tmp_path / "o.mp4", "--factor", "2"],
                    ["translate", pattern, tmp_path / "o.mp4", "--op", "colorize"],
                    ["probe", pattern]):
        status, _, err = run_cli(*command)
        message = one_error_line(err)
        assert status == 1 and message.startswith(
            f"INPUT: no such video file: {pattern} (img_%03d.png is an FFmpeg image-sequence "
            f"pattern, which flowkit does not expand: this command reads a video file"), message


@pytest.mark.parametrize("folder", ["frames", "it's"])
@pytest.mark.parametrize("name", ["img_%03d.png", "*.png"])
def test_the_ffmpeg_command_a_pattern_hint_gives_reads_the_images(tmp_path, name, folder):
    # of a glob it was ffmpeg -i 'frames/*.png' out.mkv, which FFmpeg's image2 reader refuses
    # ('No such file or directory') without -pattern_type glob; a path holding a quote was
    # quoted as 'it's/*.png', which a shell splits elsewhere
    import shlex

    import av

    folder = tmp_path / folder
    folder.mkdir()
    for index in range(3):
        cv2.imwrite(str(folder / f"img_{index:03d}.png"), np.full((8, 8, 3), 50, np.uint8))
    status, _, err = run_cli("probe", folder / name)
    command = re.search(r"\b(ffmpeg .*? out\.mkv);", err)
    assert status == 1 and command, err
    words = shlex.split(command[1])
    options = {"pattern_type": "glob"} if "-pattern_type" in words else {}
    with av.open(words[words.index("-i") + 1], options=options) as container:
        assert sum(1 for _ in container.decode(video=0)) == 3


def test_a_multi_page_tiff_is_not_taken_for_one_of_two_images(tmp_path):
    # flow and interpolate of two files read a TIFF stack's first page without a word
    frames = _moving_frames(3, 40, 56)
    stack, single = tmp_path / "stack.tif", tmp_path / "b.png"
    assert cv2.imwritemulti(str(stack), frames)
    cv2.imwrite(str(single), frames[1])
    for command, hint in ((["flow", stack, single, "-o", tmp_path / "f.flo"],
                           "; give a folder or TIFF stack alone (without FRAME1) for the flow "
                           "of each consecutive pair of its images"),
                          (["interpolate", stack, single, tmp_path / "m.png"], "")):
        status, _, err = run_cli(*command)
        assert status == 1 and one_error_line(err) == (
            f"FRAME0: {stack} is a TIFF of 3 pages, an image stack; expected one image{hint}"), err
    assert not list(tmp_path.glob("[fm].*"))


@pytest.mark.parametrize("command", [["flow", "{a}", "{b}", "-o", "{out}.flo", "--method", "raft"],
                                     ["retime", "{video}", "{out}.mp4", "--flow", "raft"]])
def test_raft_without_weights_is_a_usage_error(tmp_path, pair, command):
    a, b = pair[:2]
    video = data_path("video", "androidx__bear-vp9-odd-dimensions.webm")
    args = [c.format(a=a, b=b, out=tmp_path / "out", video=video) for c in command]
    status, _, err = run_cli(*args)
    assert status == 2 and one_error_line(err).startswith(
        f"--{'method' if command[0] == 'flow' else 'flow'} raft: needs -O weights=PATH")
    assert not list(tmp_path.glob("out*"))


@pytest.mark.parametrize("command", [["translate", "{video}", "{out}.mp4", "--op", "autocontrast",
                                      "--flow", "raft"],
                                     ["flow", "{a}", "{b}", "-o", "{out}.flo", "--method", "raft"]])
def test_raft_without_torchvision_names_the_flag(tmp_path, pair, command):
    # the missing package is named with the flag that chose raft, before any work (as
    # translate --method gradient without SciPy names --method); torchvision hidden here
    pytest.importorskip("torch", reason="without torch the error is about torch")
    from cases import run_without_torch

    a, b = pair[:2]
    video = data_path("video", "androidx__bear-vp9-odd-dimensions.webm")
    args = [c.format(a=a, b=b, out=tmp_path / "out", video=video) for c in command]
    code = ("import contextlib, io\n"
            "from flowkit.cli import main\n"
            "err = io.StringIO()\n"
            "with contextlib.redirect_stderr(err):\n"
            f"    status = main({args + ['-O', 'weights=w.pth']!r})\n"
            "print(status)\n"
            "print(err.getvalue().strip())\n")
    lines = run_without_torch(tmp_path, code, module="torchvision")
    flag = "--method" if command[0] == "flow" else "--flow"
    assert lines == ["1", f'flowkit: error: {flag} raft: the "raft" estimator needs torchvision '
                          "(torchvision.models.optical_flow), which is not installed: pip install "
                          "torchvision, the build that matches your torch"]
    assert not list(tmp_path.glob("out*"))


def test_ctrl_c_while_the_command_line_is_imported(monkeypatch, capsys):
    # the first tenths of a second of `flowkit ...` import NumPy and OpenCV: an interrupt there
    # is one line and status 130, as later
    import flowkit.__main__ as entry

    class Interrupting:
        def find_spec(self, name, path=None, target=None):
            if name == "flowkit.cli":
                raise KeyboardInterrupt

    monkeypatch.delitem(sys.modules, "flowkit.cli")
    monkeypatch.setattr(sys, "meta_path", [Interrupting()] + sys.meta_path)
    assert entry.main(["--version"]) == 130
    assert capsys.readouterr().err == "flowkit: interrupted\n"


def test_predict_says_when_it_pads_an_odd_size(tmp_path):
    source = data_path("video", "androidx__bear-vp9-odd-dimensions.webm")  # 161x121
    status, stdout, err = run_cli("predict", source, tmp_path / "p.mp4", "--horizon", "2", "-q")
    assert status == 0, err
    assert "(2 frames, 162x122, " in stdout
    # and the note retime prints there, saying how to keep the size (it was missing)
    assert err.splitlines() == [PADDING_NOTE.format("161x121", "162x122")]
    # FFV1 (.mkv's default) and VP9 take odd sizes: nothing padded, as retime does
    for name in ("p.mkv", "p.webm"):
        status, stdout, err = run_cli("predict", source, tmp_path / name, "--horizon", "2", "-q")
        assert status == 0, err
        assert "(2 frames, 161x121, " in stdout and "padded" not in err
        assert (probe_video(tmp_path / name).width, probe_video(tmp_path / name).height) == (161, 121)


def test_retime_names_the_stored_and_displayed_size_of_a_rotated_clip(tmp_path, capsys):
    # frames stored 64x36 with a 90-degree display rotation (a phone clip): retime keeps the
    # tag and says both sizes (as predict does), where flow reports the upright frames it writes
    frames = [np.full((36, 64, 3), 40 * k, np.uint8) for k in range(3)]
    with flowkit.VideoWriter(tmp_path / "phone.mp4", 24, rotation=90) as writer:
        for frame in frames:
            writer.write(frame)
    assert main(["retime", str(tmp_path / "phone.mp4"), str(tmp_path / "out.mp4"), "--factor", "2",
                 "--method", "blend", "-q"]) == 0
    printed = capsys.readouterr().out
    assert "(6 frames, 64x36 stored, 36x64 displayed (rotation 90), 48 fps, " in printed
    info = probe_video(tmp_path / "out.mp4")
    assert (info.rotation, info.width, info.height) == (90, 36, 64)
    # AVI stores no rotation (the tag was lost: the clip came out sideways): the frames are
    # stored turned, displayed the same, and the line says what is stored
    assert main(["retime", str(tmp_path / "phone.mp4"), str(tmp_path / "out.avi"), "--factor", "2",
                 "--method", "blend", "-q"]) == 0
    assert "(6 frames, 36x64, 48 fps, " in capsys.readouterr().out
    info = probe_video(tmp_path / "out.avi")
    assert (info.rotation, info.width, info.height) == (0, 36, 64)
    np.testing.assert_allclose(np.stack(list(flowkit.iter_frames(tmp_path / "out.avi"))),
                               np.stack(list(flowkit.iter_frames(tmp_path / "out.mp4"))), atol=3)


def test_predict_keeps_the_rotation_and_colour_tags_of_a_video(tmp_path, capsys):
    # a phone clip stored 1920x1080 with a -90 degree display rotation and BT.709 tags: predict
    # wrote its upright frames as an unrotated video without the tags; now, as retime, the
    # video keeps the rotation as a tag (frames stored in the coded orientation) and the colour
    # tags, and shows the upright frames a PNG folder holds: exactly through FFV1 (.mkv: RGB,
    # so no matrix or range tag, VideoWriter's rule), within x264's error in .mp4 (mean 2.0
    # levels at this size, as for the same frames written unrotated)
    source = data_path("video", "mediabunny__rotate-buck-bunny.mp4")
    tags = probe_video(source)
    args = ["--start", "0", "--context", "2", "--horizon", "1", "--resize", "54x96", "-q"]
    assert main(["predict", str(source), str(tmp_path / "frames"), *args]) == 0
    upright = cv2.imread(str(tmp_path / "frames" / "frame_000000.png"))[..., ::-1]
    assert upright.shape == (96, 54, 3)
    capsys.readouterr()
    for name in ("p.mkv", "p.mp4", "sbs.mp4", "p.avi"):
        extra = ["--side-by-side"] if name == "sbs.mp4" else []
        assert main(["predict", str(source), str(tmp_path / name), *args, *extra]) == 0
        width = 108 if extra else 54
        got = next(flowkit.iter_frames(tmp_path / name))[:, -54:]  # the prediction's column
        info = probe_video(tmp_path / name)
        if name == "p.avi":  # AVI stores no rotation: upright frames, as before
            assert "(1 frame, 54x96, " in capsys.readouterr().out
            assert (info.rotation, info.width, info.height) == (0, 54, 96)
            assert np.abs(got.astype(int) - upright).mean() < 3.0
            continue
        assert f"(1 frame, 96x{width} stored, {width}x96 displayed (rotation 270), " in capsys.readouterr().out
        assert (info.rotation, info.width, info.height, info.language) == (270, width, 96, "eng")
        if name == "p.mkv":
            assert info.pix_fmt == "bgr0" and all(info.color[k] == tags.color[k]
                                                  for k in ("color_primaries", "color_trc"))
            np.testing.assert_array_equal(got, upright)
        else:
            assert info.color == tags.color == {"colorspace": 1, "color_range": 1,
                                                "color_primaries": 1, "color_trc": 1}
            assert np.abs(got.astype(int) - upright).mean() < 3.0


def test_predict_divides_the_motion_of_frames_several_steps_apart(tmp_path):
    # a 30 fps clip with a dropped frame: the last two frames are 2/30 s apart, the texture
    # moves 1.5 px per 1/30 s; the frame predicted 1/30 s on is 1.5 px further, not 3 px
    from fractions import Fraction

    steps = [0, 1, 3]
    base = (textured_image(96, 128, seed=2, smooth=3.0, channels=3) * 255).astype(np.float32)
    frames = [flowkit.warp(base, np.full((96, 128, 2), (-1.5 * k, 0.0), np.float32))
              .round().astype(np.uint8) for k in steps + [4, 5]]
    with flowkit.VideoWriter(tmp_path / "vfr.mkv", 30, codec="ffv1",
                             time_base=Fraction(1, 30)) as writer:
        for k, frame in zip(steps, frames):
            writer.write(frame, time=Fraction(k, 30))
    status, _, err = run_cli("predict", tmp_path / "vfr.mkv", tmp_path / "out", "--horizon", "1", "-q")
    assert status == 0, err
    predicted = cv2.imread(str(tmp_path / "out" / "frame_000000.png"))[..., ::-1].astype(float)
    inner = (slice(16, -16), slice(16, -16))
    one_step, two_steps = (np.abs(predicted - f)[inner].mean() for f in frames[3:])
    assert one_step < 2.0 and two_steps > 3 * one_step


def test_predict_side_by_side_notes_truth_frames_off_the_grid(tmp_path):
    # frames 150-152 of the variable-rate clip lie at grid steps 225, 226, 228 and the next
    # input frames at 229, 231, 232: the truth column is not at the predicted 229, 230, 231
    source = data_path("video", "torchcodec__var_fps_video.mp4")
    status, _, err = run_cli("predict", source, tmp_path / "s.mp4", "--start", "150", "--context", "3",
                             "--horizon", "3", "--side-by-side", "-q")
    assert status == 0 and "flowkit: note: the true frames after the context are not one grid step" in err
    steady = data_path("video", "car_traffic_small.mp4")
    status, _, err = run_cli("predict", steady, tmp_path / "t.mp4", "--start", "10", "--horizon", "2",
                             "--side-by-side", "-q")
    assert status == 0 and "note" not in err


def test_predict_deinterlace_writes_the_first_predicted_fields_timecode(tmp_path):
    # the first predicted frame's timecode is a grid step after the context's last: with
    # --deinterlace a field (1/50 s of 25i), not a frame (1/25 s)
    from cases import interlaced_clip
    from test_video import interlaced_truth

    source = interlaced_clip(tmp_path / "in.mov", interlaced_truth(), "libx264", "tff",
                             {"crf": "12"}, timecode="01:00:00:00")  # 4 frames, 8 fields
    assert probe_video(source).timecode == "01:00:00:00"
    out = tmp_path / "out.mov"
    assert main(["predict", str(source), str(out), "--horizon", "1", "--context", "2",
                 "--deinterlace", "-q"]) == 0
    assert probe_video(out).timecode == "01:00:00:08"  # the 9th field at 50 fps
    assert main(["predict", str(source), str(out), "--horizon", "1", "--context", "2",
                 "-q"]) == 0
    assert probe_video(out).timecode == "01:00:00:04"  # the 5th frame at 25 fps


def test_predict_deinterlace(tmp_path, capsys, monkeypatch):
    # predict only said to deinterlace first with ffmpeg: an interlaced video's context was its
    # woven frames, combed where things move, predicted at the frame rate. --deinterlace reads
    # it a frame per field (bwdif), as retime's: the context is the last fields (one field
    # period apart), the frames predicted follow at the field rate (25i: 50 fps); --start
    # counts fields
    from cases import interlaced_clip
    from test_video import interlaced_truth

    source = interlaced_clip(tmp_path / "in.ts", interlaced_truth(), "mpeg2video", "bff",
                             {"qscale": "2"})  # 4 frames of 25i, 8 fields
    fields = list(flowkit.iter_frames(source, timestamps=True, deinterlace=True))
    given = []
    predict = flowkit.predict
    monkeypatch.setattr(flowkit, "predict", lambda frames, horizon, **options: (
        given.append((frames, options["times"])) or predict(frames, horizon, **options)))
    out = tmp_path / "out.mp4"
    assert main(["predict", str(source), str(out), "--horizon", "2", "--context", "3",
                 "--deinterlace"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "2 frames, 96x64, 50 fps" in captured.out, captured
    assert probe_video(out).frame_rate == 50
    frames, times = given.pop()
    assert np.array_equal(frames, np.stack([f for _, f in fields[-3:]])) and times == [-2, -1, 0]
    assert main(["predict", str(source), str(tmp_path / "s.mp4"), "--horizon", "2", "--context",
                 "3", "--start", "2", "--side-by-side", "--deinterlace", "-q"]) == 0
    frames, times = given.pop()
    assert np.array_equal(frames, np.stack([f for _, f in fields[2:5]])) and times == [-2, -1, 0]
    assert capsys.readouterr().err == ""  # the truth, fields 5 and 6, one field period apart
    plain = data_path("video", "torchcodec__nasa_13013.mp4")  # progressive: read as it is
    assert main(["predict", str(plain), str(out), "--horizon", "1", "--deinterlace", "-q"]) == 0
    assert capsys.readouterr().err.splitlines() == [
        f"flowkit: note: {out}: --deinterlace: the input is progressive, read as it is"]
    folder = tmp_path / "pngs"
    folder.mkdir()
    for k in range(2):
        cv2.imwrite(str(folder / f"{k}.png"), fields[k][1])
    assert main(["predict", str(folder), str(out), "--horizon", "1", "--deinterlace"]) == 2
    assert "--deinterlace is for a video INPUT, not the folder of images" in capsys.readouterr().err


def test_crf_reaches_the_encoder_of_predict_and_flow_videos(moving_folder, tmp_path, capsys):
    """--crf of predict's video output and flow's --video (default 18, as retime's and
    translate's): a higher CRF gives a smaller H.264 file of the same frames; an encoder
    without one gets a note; an image or folder output with --crf is a usage error."""
    folder, _ = moving_folder
    sizes = {}
    for crf in (None, "18", "40"):
        extra = [] if crf is None else ["--crf", crf]
        predicted = tmp_path / f"predict-{crf}.mp4"
        assert main(["predict", str(folder), "--horizon", "3", "-o", str(predicted), *extra]) == 0
        flows = tmp_path / f"flow-{crf}.mp4"
        assert main(["flow", str(folder), "--video", str(flows), *extra]) == 0
        sizes[crf] = predicted.stat().st_size, flows.stat().st_size
    capsys.readouterr()
    assert sizes[None] == sizes["18"]
    assert sizes["40"][0] < sizes["18"][0] and sizes["40"][1] < sizes["18"][1]
    # an encoder without a CRF: written, with a note (FFmpeg warns of an unused -crf alike)
    for name, encoder in (("p.avi", "mjpeg, encodes at the fixed quantiser 2"),
                          ("p.mkv", "ffv1, is lossless")):
        assert main(["predict", str(folder), "--horizon", "1", "-o", str(tmp_path / name),
                     "--crf", "30"]) == 0
        assert (f"flowkit: note: --crf 30 does not apply to {tmp_path / name}: its encoder, "
                f"{encoder};") in capsys.readouterr().err
    assert main(["predict", str(folder), "--horizon", "1", "-o", str(tmp_path / "q.avi")]) == 0
    assert "--crf" not in capsys.readouterr().err
    assert main(["predict", str(folder), "--horizon", "3", "-o", str(tmp_path / "frames"),
                 "--crf", "20"]) == 2
    assert "--crf: only for a video output; OUTPUT names a folder" in capsys.readouterr().err
    # --fps was taken and ignored for a folder (a new user's report), as --crf and --codec are not
    assert main(["predict", str(folder), "--horizon", "3", "-o", str(tmp_path / "frames"),
                 "--fps", "10"]) == 2
    assert one_error_line(capsys.readouterr().err) == ("--fps: only for a video output; OUTPUT names a "
                                                       "folder (see flowkit predict --help)")
    assert not (tmp_path / "frames").exists()
    first, second = sorted(folder.glob("*.png"))[:2]
    assert main(["flow", str(first), str(second), "--png", str(tmp_path / "f.png"),
                 "--crf", "20"]) == 2
    assert "--crf: only for a video or image folder given alone" in capsys.readouterr().err
    # the flow of a video written as .flo files alone: no video to encode (--crf, --fps and
    # --codec were taken and did nothing, a new user's report)
    for extra, flags in ((["--crf", "20"], "--crf"), (["--fps", "10", "--codec", "ffv1"], "--fps, --codec"),
                         (["--max-flow", "3"], "--max-flow")):
        assert main(["flow", str(folder), "--flo-dir", str(tmp_path / "flo"), *extra]) == 2
        assert one_error_line(capsys.readouterr().err) == (
            f"{flags}: only for the video output (--video), which is not written here (--flo-dir "
            "alone) (see flowkit flow --help)")
    assert not (tmp_path / "flo").exists()
    # --max-flow scales the colour picture: two images written as .flo alone have none
    assert main(["flow", str(first), str(second), "-o", str(tmp_path / "f.flo"), "--max-flow", "3"]) == 2
    assert one_error_line(capsys.readouterr().err) == (
        "--max-flow: only for the colour picture (--png), which is not written here (-o alone) "
        "(see flowkit flow --help)")
    assert not (tmp_path / "f.flo").exists()


def test_os_errors_name_the_users_path_as_shell_tools_do(tmp_path, monkeypatch):
    """An OSError with a file name is one line "PATH: reason" (not "[Errno 13] ..."), and a
    folder output whose hidden staging folder cannot be made names the user's folder."""
    import tempfile

    from flowkit import cli

    assert cli._one_line(PermissionError(13, "Permission denied", "/x/out.mp4")) == \
        "/x/out.mp4: Permission denied"
    assert cli._one_line(FileNotFoundError("output folder does not exist: /x (for /x/a.mp4)")) == \
        "output folder does not exist: /x (for /x/a.mp4)"

    def refuse(prefix, suffix, dir):
        raise PermissionError(1, "Operation not permitted", f"{dir}/{prefix}abc123{suffix}")

    monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    with pytest.raises(PermissionError) as info:
        with cli._staged_folder(tmp_path / "frames"):
            pass
    assert cli._one_line(info.value) == f"{tmp_path / 'frames'}: Operation not permitted"


def test_a_file_of_a_folder_output_that_cannot_be_written_is_named_in_that_folder(tmp_path,
                                                                                 monkeypatch):
    # a full disk under predict OUT_FOLDER, interpolate OUT_FOLDER or flow --flo-dir named the
    # hidden staging folder: "out/.frames.k2j4.tmp/frame_000001.png: OpenCV could not write ..."
    from tqdm import tqdm

    from flowkit import cli

    frames = tmp_path / "frames"
    write_bytes, written = type(tmp_path).write_bytes, []

    def second_full(self, data):  # the second picture does not fit on the disk
        written.append(self)
        if len(written) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return write_bytes(self, data)

    monkeypatch.setattr(type(tmp_path), "write_bytes", second_full)
    pictures = [np.zeros((4, 4, 3), np.uint8)] * 3
    with pytest.raises(OSError) as info, tqdm(disable=True) as bar:
        cli._write_folder(frames, pictures, bar)
    assert cli._one_line(info.value) == f"{frames / 'frame_000001.png'}: No space left on device"
    monkeypatch.undo()

    def full(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(type(tmp_path), "write_bytes", full)
    flo_dir = tmp_path / "flo"
    with pytest.raises(OSError) as info:
        with cli._staged_folder(flo_dir) as staging:
            flowkit.write_flo(staging / "flow_000000.flo", np.zeros((4, 4, 2), np.float32))
    assert cli._one_line(info.value) == f"{flo_dir / 'flow_000000.flo'}: No space left on device"
    assert list(tmp_path.iterdir()) == []


def test_retime_interpolation_option_reaches_interpolate(tmp_path, capsys):
    """--interpolation reaches retime (test_retime.py checks its frames against interpolate's,
    losslessly) and its summary line: cubic and linear make different middle frames of the
    same pair; given with a method that does not sample backward it is a usage error, one
    line, and no output."""
    base = (textured_image(40, 48, seed=3, channels=3) * 255).round().astype(np.uint8)
    clip = tmp_path / "in.mp4"
    with flowkit.VideoWriter(clip, 24) as writer:
        for frame in (base, flowkit.warp(base, np.full((40, 48, 2), -0.7, np.float32))):
            writer.write(frame)
    middles = []
    for interpolation in ("cubic", "linear"):
        out = tmp_path / f"{interpolation}.mkv"
        assert main(["retime", str(clip), str(out), "--factor", "2", "--codec", "ffv1",
                     "--interpolation", interpolation, "-q"]) == 0
        assert f"interpolated (project, {interpolation}, dis)" in capsys.readouterr().out
        middles.append([f for f in flowkit.iter_frames(out)][1])
    assert np.abs(middles[0].astype(int) - middles[1]).max() > 2
    capsys.readouterr()
    assert main(["retime", str(clip), str(tmp_path / "x.mkv"), "--factor", "2", "--method",
                 "splat", "--interpolation", "cubic"]) == 2
    assert one_error_line(capsys.readouterr().err).startswith(
        "--interpolation: only with --method project, backward or learned (the methods that "
        "sample the frames), got --method splat")
    assert not (tmp_path / "x.mkv").exists()


@pytest.mark.parametrize("args, message", [
    (["retime", "", "OUT.mp4", "--factor", "2"], "INPUT: the path is empty (''); expected a video file"),
    (["translate", "", "OUT.mp4", "--op", "x"], "INPUT: the path is empty (''); expected a video file"),
    (["predict", "", "OUT.mp4", "--horizon", "2"],
     "INPUT: the path is empty (''); expected a video file or a folder of images"),
    (["flow", "", "-o", "OUT.flo"],
     "FRAME0: the path is empty (''); expected an image, a video file or a folder of images"),
    (["flow", "IMAGE", "", "-o", "OUT.flo"], "FRAME1: the path is empty (''); expected an image"),
    (["color", "", "-o", "OUT.png"], "FLO: the path is empty (''); expected a .flo file"),
])
def test_an_empty_input_path_is_called_empty(tmp_path, capsys, args, message):
    # Path("") is "." (the current folder): retime said "INPUT: . is a folder", a new user's report
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((20, 20), np.uint8))
    args = [str(tmp_path / a) if a.startswith("OUT") else str(tmp_path / "a.png") if a == "IMAGE" else a
            for a in args]
    assert main(args) == 2
    assert one_error_line(capsys.readouterr().err) == f"{message} (see flowkit {args[0]} --help)"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


@pytest.mark.parametrize("args, message", [
    (["flow", "IN.mp4", "--video", ""], "--video: the path is empty (''); expected a video file to write"),
    (["flow", "IN.mp4", "--video", "OUT.mp4", "--flo-dir", ""],
     "--flo-dir: the path is empty (''); expected a folder to write .flo files into"),
    (["flow", "IMAGE", "IMAGE", "-o", ""], "-o: the path is empty (''); expected a .flo file to write"),
    (["flow", "IMAGE", "IMAGE", "-o", "OUT.flo", "--png", ""],
     "--png: the path is empty (''); expected a .png file to write"),
    (["color", "IN.flo", "-o", ""], "-o: the path is empty (''); expected a .png file to write"),
    (["generate", "a red circle moves left", "-o", ""],
     "-o: the path is empty (''); expected a video file to write"),
    (["demo", "--out", ""], "--out: the path is empty (''); expected a folder to write into"),
    (["batch", "retime", "IN.mp4", "-o", ""], "-o: the path is empty (''); expected a folder to write into"),
    (["train", "colorize", "--data", "IN.mp4", "--out", ""],
     "--out: the path is empty (''); expected a .safetensors file to write"),
    (["train", "colorize", "--data", "", "--out", "OUT.safetensors"],
     "--data: the path is empty (''); expected video files, folders of videos or folders of frames"),
    (["retime", "IN.mp4", "OUT.mp4", "--method", "learned", "--model", ""],
     "--model: the path is empty (''); expected a .safetensors file"),
])
def test_an_empty_path_option_is_called_empty_naming_it(tmp_path, monkeypatch, capsys, args, message):
    # flow --video "" said "nothing to write" (an empty value reads as not given), demo --out ""
    # and batch -o "" wrote into the current folder, color -o "" said "-o: . is a folder",
    # train --data "" trained on the current folder (a new user's report); refused before any
    # work, as the empty input paths are
    monkeypatch.chdir(tmp_path)
    cv2.imwrite("a.png", np.zeros((20, 20), np.uint8))
    args = [str(tmp_path / a) if a.startswith("OUT") else "a.png" if a == "IMAGE" else a
            for a in args]
    assert main(args) == 2
    command = " ".join(args[:2]) if args[0] == "train" else args[0]  # train: the model's page
    assert one_error_line(capsys.readouterr().err) == f"{message} (see flowkit {command} --help)"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


@pytest.mark.parametrize("args", [
    ["predict", "{clip}", "{out}.mp4", "--horizon", "1", "--crf", "52"],
    ["flow", "{clip}", "--video", "{out}.mp4", "--crf", "52"],
    ["retime", "{video}", "{out}.mp4", "--factor", "2", "--crf", "52"],
    ["translate", "{video}", "{out}.mkv", "--op", "autocontrast", "--crf", "63"],
])
def test_crf_above_51_for_x264_is_refused_naming_it(moving_folder, tmp_path, args):
    # x264 and x265 cap the crf at 51 without a word; 52-63 were taken (the message said <= 63)
    folder, _ = moving_folder
    video = data_path("video", "car_traffic_small.mp4")
    args = [a.format(clip=folder, video=video, out=tmp_path / "out") for a in args]
    status, out, err = run_cli(*args)
    assert status == 2 and out == ""
    assert one_error_line(err).startswith("--crf: expected an integer <= 51 for libx264 (0-51; "
                                          "libx264rgb 0-51, libx265 0-51, libvpx-vp9 0-63, ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip"]


def test_predict_context_help_says_how_auto_combines_the_pairs(capsys):
    # it said "the average over the last three pairs"; predict combines them by --average,
    # the median unless told (as README and the run's own line say)
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "motions combined by --average (the component-wise median by default)" in text
    assert "the average over the last three pairs" not in text


@pytest.mark.parametrize("command", [["flow", "{src}", "--video", "{out}.mp4"],
                                     ["predict", "{src}", "--horizon", "1", "-o", "{out}.mp4"],
                                     ["translate", "{src}", "{out}.mp4", "--op", "autocontrast"]])
def test_progress_bar_of_an_mkv_input_has_a_total(tmp_path, monkeypatch, command):
    # Matroska and WebM state no frame count (VideoInfo.frame_count None): the bars of flow,
    # predict and translate had no total, so on a long .mkv or .webm they showed no ETA
    import tqdm

    src = tmp_path / "in.mkv"
    texture = (textured_image(48, 72, channels=3) * 255).astype(np.uint8)
    with flowkit.VideoWriter(src, 10) as writer:
        for k in range(6):
            writer.write(np.ascontiguousarray(np.roll(texture, k, axis=1)[:, 4:68]))
    assert probe_video(src).frame_count is None
    totals = []

    class Recording(tqdm.tqdm):
        def __init__(self, *args, **kwargs):
            totals.append((kwargs.get("desc"), kwargs.get("total")))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(tqdm, "tqdm", Recording)
    argv = [a.format(src=src, out=tmp_path / "out") for a in command]
    assert main(argv + ["-q"]) == 0
    # predict reads only a video's tail (video.last_frames): no bar for it
    expected = {"flow": [("flow", 5)], "predict": [("write", 1)],
                "translate": [("translate", 6)]}[command[0]]
    assert totals == expected


def test_retime_and_translate_write_an_extension_without_a_default_as_the_library(tmp_path):
    # flowkit retime IN out.ts was refused ('no default codec for .ts') where flowkit.retime
    # and flowkit batch retime write H.264 in MPEG-TS, retime's default for extensions its
    # table lacks; flowkit.translate refused it too (from a trial of issue 13)
    import av

    clip = tmp_path / "in.mkv"
    base = (textured_image(48, 96, seed=3) * 255).astype(np.uint8)
    with flowkit.VideoWriter(clip, 24, codec="ffv1") as writer:
        for k in range(6):
            writer.write(np.ascontiguousarray(np.repeat(base[:, 2 * k:2 * k + 64, None], 3, 2)))
    assert main(["retime", str(clip), str(tmp_path / "cli.ts"), "--factor", "2", "--crf", "20",
                 "-q"]) == 0
    library = flowkit.retime(clip, tmp_path / "lib.ts", factor=2, crf=20, progress=False)
    assert flowkit.translate(clip, tmp_path / "t.ts", "equalize", progress=False)["frames"] == 6
    assert main(["translate", str(clip), str(tmp_path / "cli_t.ts"), "--op", "equalize",
                 "-q"]) == 0
    for name, frames in (("cli.ts", library.frames), ("lib.ts", library.frames), ("t.ts", 6),
                         ("cli_t.ts", 6)):
        with av.open(str(tmp_path / name)) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            assert sum(1 for _ in container.decode(stream)) == frames


def test_an_extension_whose_container_takes_no_h264_still_asks_for_a_codec(tmp_path):
    # retime's libx264 for extensions without a default (.ts) applies where the container
    # takes H.264: out.gif was 'no default codec ... give --codec' and became '--codec: libx264
    # cannot write ... .gif files', a flag the user never gave (from a hostile-files trial)
    clip = tmp_path / "in.mkv"
    with flowkit.VideoWriter(clip, 24, codec="ffv1") as writer:
        for k in range(3):
            writer.write(np.full((48, 64, 3), 40 * k, np.uint8))
    for command in (["retime", "--factor", "2"], ["translate", "--op", "equalize"]):
        status, _, err = run_cli(command[0], clip, tmp_path / "out.gif", *command[1:])
        assert status == 2 and one_error_line(err).startswith(
            f"OUTPUT: {tmp_path / 'out.gif'}: no default codec for extension '.gif'; use one of "
            ".mp4"), err
        assert err.rstrip().endswith(f".webm (see flowkit {command[0]} --help)")
    with pytest.raises(ValueError, match=r"^codec: no default codec for extension '.gif'"):
        flowkit.retime(clip, tmp_path / "lib.gif", factor=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mkv"]


@pytest.mark.parametrize("suffix", [".mpg", ".ts", ".flv"])
def test_every_command_writing_video_takes_the_extensions_retime_takes(tmp_path, suffix):
    # retime and translate wrote .mpg, .ts and .flv (libx264, reencode_codec) while predict,
    # flow --video and interpolate refused them: "no default codec for extension '.mpg'"
    import av

    frames = _moving_frames(4, 48, 64)
    folder = tmp_path / "frames"
    folder.mkdir()
    for k, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"f{k}.png"), frame[..., ::-1])
    outputs = {"predict": (tmp_path / f"p{suffix}", 2), "flow": (tmp_path / f"f{suffix}", 3),
               "interpolate": (tmp_path / f"i{suffix}", 5)}  # with the two ends
    assert main(["predict", str(folder), str(outputs["predict"][0]), "--horizon", "2",
                 "-q"]) == 0
    assert main(["flow", str(folder), "--video", str(outputs["flow"][0]), "-q"]) == 0
    assert main(["interpolate", str(folder / "f0.png"), str(folder / "f1.png"), "-o",
                 str(outputs["interpolate"][0]), "--times", "0.25,0.5,0.75", "-q"]) == 0
    for path, count in outputs.values():
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            assert sum(1 for _ in container.decode(stream)) == count, path
