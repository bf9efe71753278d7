"""Flow file I/O: Middlebury .flo and KITTI PNG, against OpenCV and the formats' definitions."""

import errno
import os
import re
import stat
import warnings

import cv2

import numpy as np
import pytest

import flowkit.io as fio
from flowkit import read_flo, read_kitti_flow, write_flo, write_kitti_flow
from cases import data_path


def random_flow(height=7, width=9, seed=0, scale=20.0):
    return (np.random.default_rng(seed).standard_normal((height, width, 2)) * scale).astype(np.float32)


# --- .flo -------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_flo_round_trip_is_exact_in_float32(tmp_path, dtype):
    flow = random_flow().astype(dtype)
    flow[0, 0] = (np.nan, 1e10) if dtype != np.float16 else (np.nan, np.inf)
    path = tmp_path / "a.flo"
    write_flo(path, flow)
    got = read_flo(path)
    assert got.dtype == np.float32 and got.shape == flow.shape
    np.testing.assert_array_equal(got, flow.astype(np.float32))  # NaN compare equal here
    assert path.stat().st_size == 12 + 8 * flow.shape[0] * flow.shape[1]


def test_float64_flow_beyond_float32_is_stored_as_unknown_without_a_warning(tmp_path):
    flow = np.zeros((3, 4, 2))
    flow[1, 2] = (1e300, -1e300)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy's overflow warning of the float32 cast
        write_flo(tmp_path / "a.flo", flow)
    got = read_flo(tmp_path / "a.flo")
    assert np.array_equal(got[1, 2], [np.inf, -np.inf]) and not got[0].any()


def test_flo_layout_matches_opencv(tmp_path):
    # OpenCV's writer and reader implement the same Middlebury layout: bytes are identical
    flow = random_flow(5, 11, seed=1)
    ours, theirs = tmp_path / "ours.flo", tmp_path / "theirs.flo"
    write_flo(ours, flow)
    assert cv2.writeOpticalFlow(str(theirs), flow)
    assert ours.read_bytes() == theirs.read_bytes()
    np.testing.assert_array_equal(cv2.readOpticalFlow(str(ours)), flow)


def test_write_flo_to_a_folder_names_the_parameter(tmp_path):
    # a folder raised the raw "[Errno 21] Is a directory" (OpenCV's writer returns False)
    flow = random_flow(5, 11, seed=1)
    assert not cv2.writeOpticalFlow(str(tmp_path), flow)
    with pytest.raises(IsADirectoryError, match=rf"path: {re.escape(str(tmp_path))} is a "
                                                r"folder; expected a \.flo file path"):
        write_flo(tmp_path, flow)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["abc", "flow.png", "flow.flo.tmp", "flo"])
def test_flo_files_need_the_flo_extension_as_middlebury_requires(tmp_path, name):
    # write_flo("abc", flow) wrote Middlebury bytes under any name, as OpenCV's writer does;
    # the reference code (flowIO.cpp: WriteFlowFile, ReadFlowFile) refuses a name without
    # .flo, and so do both here, before any file is looked for or written (a new user's report)
    flow = random_flow(5, 11, seed=1)
    assert cv2.writeOpticalFlow(str(tmp_path / "cv.png"), flow)  # OpenCV: any name
    (tmp_path / "cv.png").rename(tmp_path / name)
    for call in (lambda path: write_flo(path, flow), read_flo):
        for path in (tmp_path / name, str(tmp_path / name)):
            with pytest.raises(ValueError, match=rf"^path: expected a \.flo path, got "
                                                 rf"{re.escape(repr(str(tmp_path / name)))}$"):
                call(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # not replaced
    with pytest.raises(ValueError, match=r"^path: expected a \.flo path, got 'missing\.png'$"):
        read_flo("missing.png")  # the name, before the file is looked for
    write_flo(tmp_path / "upper.FLO", flow)  # any case, as the command line's -o takes it
    np.testing.assert_array_equal(read_flo(tmp_path / "upper.FLO"), flow)


# every reader and writer of flow files, called with a path
PATH_CALLS = [
    lambda path: read_flo(path),
    lambda path: write_flo(path, random_flow()),
    lambda path: read_kitti_flow(path),
    lambda path: write_kitti_flow(path, random_flow()),
]
PATH_CALL_IDS = ["read_flo", "write_flo", "read_kitti_flow", "write_kitti_flow"]


@pytest.mark.parametrize("call", PATH_CALLS, ids=PATH_CALL_IDS)
def test_an_empty_path_is_called_empty(tmp_path, monkeypatch, call):
    # read_flo("") said "path: . is a folder" (Path("") is the current folder), write_flo("")
    # "path: . is a folder; expected a .flo file path" (a new user's report)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"^path: expected a path, got an empty string$"):
        call("")
    assert list(tmp_path.iterdir()) == []


def test_read_real_middlebury_file_like_opencv():
    path = data_path("middlebury", "Venus", "flow10.flo")
    flow = read_flo(path)
    expected = cv2.readOpticalFlow(str(path))
    assert flow.shape == (380, 420, 2) and flow.dtype == np.float32
    np.testing.assert_array_equal(flow, expected)


def test_write_flo_accepts_str_path_and_replaces_existing_file(tmp_path):
    path = tmp_path / "a.flo"
    path.write_bytes(b"old content")
    write_flo(str(path), random_flow())
    np.testing.assert_array_equal(read_flo(str(path)), random_flow())
    assert [p.name for p in tmp_path.iterdir()] == ["a.flo"]  # no temporary file left


def test_written_file_has_default_permissions(tmp_path):
    # the temporary file comes from mkstemp (0600); the result must look like a plain open()
    umask = os.umask(0o022)
    try:
        write_flo(tmp_path / "a.flo", random_flow())
        write_kitti_flow(tmp_path / "a.png", random_flow())
    finally:
        os.umask(umask)
    for name in ("a.flo", "a.png"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644
    # replacing a file keeps its mode, as open(path, "w") would
    os.chmod(tmp_path / "a.flo", 0o600)
    write_flo(tmp_path / "a.flo", random_flow())
    assert stat.S_IMODE((tmp_path / "a.flo").stat().st_mode) == 0o600


def test_atomic_path_sets_the_mode_when_the_writer_replaces_the_temporary(tmp_path):
    # safetensors' save_file removes the file it is given and creates its own with mode 0600
    from flowkit._atomic import atomic_path

    def private_writer(path):
        os.unlink(path)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))

    umask = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "w.safetensors") as tmp:
            private_writer(tmp)
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "w.safetensors").stat().st_mode) == 0o644
    os.chmod(tmp_path / "w.safetensors", 0o640)  # an existing file keeps its own mode
    with atomic_path(tmp_path / "w.safetensors") as tmp:
        private_writer(tmp)
    assert stat.S_IMODE((tmp_path / "w.safetensors").stat().st_mode) == 0o640


def flo_bytes(width, height, payload_floats, magic=fio.FLO_MAGIC):
    header = np.array([magic], "<f4").tobytes() + np.array([width, height], "<i4").tobytes()
    return header + np.zeros(payload_floats, "<f4").tobytes()


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", r"truncated \.flo file, 0 bytes is shorter than the 12-byte header"),
        (b"PIEH\x01\x00", r"truncated \.flo file, 6 bytes"),
        (flo_bytes(3, 2, 12, magic=1.5), r"not a \.flo file, magic number 1\.5 instead of 202021\.25"),
        (flo_bytes(3, 2, 11), r"truncated \.flo file: size 3x2 \(width x height\) needs 60 bytes, the file has 56"),
        (flo_bytes(3, 2, 13), r"extra bytes after the \.flo data: size 3x2 .* needs 60 bytes, the file has 64"),
        (flo_bytes(0, 2, 0), r"invalid \.flo size 0x2"),
        (flo_bytes(-3, 2, 12), r"invalid \.flo size -3x2"),
    ],
    ids=["empty", "short-header", "magic", "truncated", "too-long", "zero-width", "negative"],
)
def test_read_flo_rejects_corrupt_files(tmp_path, content, match):
    path = tmp_path / "bad.flo"
    path.write_bytes(content)
    # OpenCV returns an empty array for these; flowkit names the file and the problem
    with pytest.raises(ValueError, match=match) as info:
        read_flo(path)
    assert str(path) in str(info.value)


def test_read_flo_truncated_real_file(tmp_path):
    content = data_path("middlebury", "Venus", "flow10.flo").read_bytes()
    path = tmp_path / "cut.flo"
    path.write_bytes(content[: len(content) // 2])
    with pytest.raises(ValueError, match=r"cut\.flo: truncated \.flo file: size 420x380"):
        read_flo(path)


def test_read_flo_checks_the_header_before_reading_the_data(tmp_path):
    # a large file that is not a .flo file (a video named x.flo) was read whole into memory
    # before its magic number was looked at; a sparse file of 256 MB costs no disk
    import tracemalloc

    path = tmp_path / "big.flo"
    with open(path, "wb") as file:
        file.truncate(256 * 2**20)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"big\.flo: not a \.flo file, magic number 0\.0"):
            read_flo(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20
    path.write_bytes(flo_bytes(2**14, 2**14, 2))  # a header claiming 2 GB of data
    claim = r"truncated \.flo file: size 16384x16384 .* the file has 20$"
    with pytest.raises(ValueError, match=claim):
        read_flo(path)


@pytest.mark.parametrize("read", [read_flo, read_kitti_flow])
def test_readers_refuse_a_fifo_or_device(tmp_path, read):
    # opening a FIFO waited for a writer for ever; a link to /dev/zero was read until memory
    # ran out (23 GB)
    fifo = tmp_path / "pipe.flo"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=rf"^path: {re.escape(str(fifo))} is a FIFO, not a "):
        read(fifo)
    device = tmp_path / "zero.flo"
    device.symlink_to("/dev/zero")
    with pytest.raises(ValueError, match=r"zero\.flo is a character device, not a regular file"):
        read(device)


def test_read_flo_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_flo(tmp_path / "missing.flo")


@pytest.mark.parametrize("read, what", [(read_flo, ".flo"), (read_kitti_flow, "KITTI flow PNG")])
def test_reader_path_errors_name_the_parameter(tmp_path, read, what):
    # as the other path errors (the video reader's path:, retime's src:/dst:); they were
    # "[Errno 2] No such file or directory: '...'" naming no parameter
    extension = ".flo" if read is read_flo else ".x"  # read_flo takes .flo names alone
    missing = tmp_path / f"missing{extension}"
    with pytest.raises(FileNotFoundError, match=rf"^path: no such {what} file: {re.escape(str(missing))}$"):
        read(missing)
    with pytest.raises(IsADirectoryError, match=rf"^path: {re.escape(str(tmp_path))} is a folder; "
                                                rf"expected a {what} file$"):
        read(tmp_path)
    bad = tmp_path / f"bad{extension}"
    bad.write_bytes(b"12345678901234567890")
    with pytest.raises(ValueError, match=rf"^path: {re.escape(str(bad))}: not a"):
        read(bad)


@pytest.mark.parametrize("write", [write_flo, write_kitti_flow])
def test_writer_folder_errors_name_the_parameter(tmp_path, write):
    # check_folder's messages with the parameter, as retime's dst: (they named none)
    target = tmp_path / "no" / "a.flo"
    with pytest.raises(FileNotFoundError, match=rf"^path: output folder does not exist: "
                                                rf"{re.escape(str(target.parent))} \(for "):
        write(target, random_flow())
    if os.path.isdir("/proc/self"):  # a folder that takes no new file, even for root
        with pytest.raises(OSError, match=r"^path: cannot write /proc/x\.flo: the folder /proc "
                                          r"takes no new file"):
            write("/proc/x.flo", random_flow())
    with pytest.raises(IsADirectoryError, match=rf"^path: {re.escape(str(tmp_path))} is a folder; "
                                                r"expected a (\.flo )?file path$"):
        write(tmp_path, random_flow())


@pytest.mark.parametrize("call", PATH_CALLS, ids=PATH_CALL_IDS)
@pytest.mark.parametrize("path, shown", [(None, "None"), (3, "3"), (b"x.flo", "b'x.flo'")])
def test_a_path_that_is_not_one_names_the_parameter(call, path, shown):
    # Path(None) said "expected str, bytes or os.PathLike object, not NoneType" (a new user's)
    with pytest.raises(TypeError, match=rf"^path: expected a path \(str or os\.PathLike\), "
                                        rf"got {re.escape(shown)}$"):
        call(path)


@pytest.mark.parametrize(
    "flow, error, match",
    [
        # one field per file: no "(N, H, W, 2)" offered
        (np.zeros((4, 5, 3), np.float32), ValueError,
         r"flow: expected shape \(H, W, 2\) \(one flow field\), got \(4, 5, 3\)"),
        (np.zeros((4, 5, 2), np.int32), TypeError, r"flow: expected a float dtype .* got int32"),
        (np.zeros((2, 4, 5, 2), np.float32), ValueError, r"flow: expected shape \(H, W, 2\) \(one flow field\), got \(2, 4, 5, 2\)"),
        (np.zeros((0, 5, 2), np.float32), ValueError, r"flow: expected a non-empty array"),
        ("not an array", TypeError, r"flow: expected an array, got 'not an array'"),
    ],
)
@pytest.mark.parametrize("writer", [write_flo, write_kitti_flow])
def test_writers_reject_bad_flow(tmp_path, writer, flow, error, match):
    with pytest.raises(error, match=match):
        writer(tmp_path / ("x.flo" if writer is write_flo else "x.png"), flow)
    assert list(tmp_path.iterdir()) == []


# --- atomic writes ------------------------------------------------------------------------------

class Boom(RuntimeError):
    pass


@pytest.mark.parametrize("writer, name", [(write_flo, "a.flo"), (write_kitti_flow, "a.png")])
def test_write_failing_midway_leaves_no_file(tmp_path, monkeypatch, writer, name):
    def fail(self, data):  # the writer dies after the temporary file exists
        with open(self, "wb") as handle:
            handle.write(data[: len(data) // 2])
        raise Boom("disk full")

    monkeypatch.setattr(type(tmp_path), "write_bytes", fail)
    with pytest.raises(Boom):
        writer(tmp_path / name, random_flow())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("writer, name", [(write_flo, "a.flo"), (write_kitti_flow, "a.png")])
def test_write_failing_midway_keeps_existing_file(tmp_path, monkeypatch, writer, name):
    path = tmp_path / name
    path.write_bytes(b"precious")

    def fail(self, data):
        with open(self, "wb") as handle:
            handle.write(data[:10])
        raise Boom("disk full")

    monkeypatch.setattr(type(tmp_path), "write_bytes", fail)
    with pytest.raises(Boom):
        writer(path, random_flow())
    monkeypatch.undo()
    assert path.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_atomic_path_keeps_extension_and_cleans_up(tmp_path):
    from flowkit._atomic import atomic_path

    with pytest.raises(KeyboardInterrupt):
        with atomic_path(tmp_path / "clip.mp4") as tmp:
            assert tmp.parent == tmp_path and tmp.suffix == ".mp4" and tmp.exists()
            raise KeyboardInterrupt  # even BaseException removes the temporary file
    assert list(tmp_path.iterdir()) == []
    with atomic_path(tmp_path / "clip.mp4") as tmp:
        tmp.write_text("ok")
    assert (tmp_path / "clip.mp4").read_text() == "ok"
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]


def test_atomic_path_missing_folder_names_the_users_path(tmp_path):
    from flowkit._atomic import atomic_path

    target = tmp_path / "no" / "such" / "a.flo"
    with pytest.raises(FileNotFoundError, match="^output folder does not exist: ") as info:
        with atomic_path(target):
            pass
    # the missing folder and the user's path, not the hidden .a.*.tmp.flo
    assert str(info.value) == f"output folder does not exist: {target.parent} (for {target})"
    with pytest.raises(FileNotFoundError, match="output folder does not exist") as info:
        write_flo(target, np.zeros((4, 5, 2), np.float32))
    assert ".tmp" not in str(info.value)
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match="is not a folder"):
        write_flo(tmp_path / "file" / "a.flo", np.zeros((4, 5, 2), np.float32))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_atomic_path_errors_about_the_temporary_name_the_target(tmp_path):
    from flowkit._atomic import atomic_path

    target = tmp_path / "taken"
    target.mkdir()  # renaming a file onto a folder fails; the message names the folder, not .taken.*.tmp
    with pytest.raises(IsADirectoryError) as info:
        with atomic_path(target) as tmp:
            tmp.write_text("x")
    assert info.value.filename == str(target) and ".tmp" not in str(info.value)
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]



@pytest.mark.parametrize("writer, name", [(write_flo, "a.flo"), (write_kitti_flow, "a.png")])
@pytest.mark.parametrize("code", [errno.EFBIG, errno.ENOSPC])
def test_write_error_without_a_file_name_names_the_output(tmp_path, monkeypatch, writer, name,
                                                          code):
    # `ulimit -f` or a full disk: write() raises "[Errno 27] File too large" naming no file,
    # and the error reached the user as that, without the output's name
    path = tmp_path / name
    path.write_bytes(b"precious")

    def fail(self, data):
        with open(self, "wb") as handle:
            handle.write(data[:10])
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(type(tmp_path), "write_bytes", fail)
    with pytest.raises(OSError) as info:
        writer(path, random_flow())
    monkeypatch.undo()
    assert info.value.errno == code and info.value.filename == str(path)
    assert path.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == [name]


@pytest.mark.parametrize("name", [".", ""])
def test_atomic_path_refuses_a_folder_before_any_temporary(tmp_path, monkeypatch, name):
    # write_flo(".", flow) said "PosixPath('.') has an empty name" (a new user's report)
    from flowkit import write_flo

    from flowkit._atomic import atomic_path

    monkeypatch.chdir(tmp_path)
    with pytest.raises(IsADirectoryError, match=r"\[Errno 21\] Is a directory: '.*'") as info:
        with atomic_path(name or str(tmp_path)):
            pass
    assert info.value.filename in (".", str(tmp_path))
    # write_flo says so naming its parameter (it raised the errno message above); an empty
    # name is refused as empty (it said "path: . is a folder")
    with pytest.raises(IsADirectoryError, match=r"path: .* is a folder; expected a \.flo file"):
        write_flo(name or str(tmp_path), np.zeros((4, 4, 2), np.float32))
    with pytest.raises(ValueError, match=r"^path: expected a path, got an empty string$"):
        write_flo("", np.zeros((4, 4, 2), np.float32))
    assert list(tmp_path.iterdir()) == []

# --- KITTI ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_kitti_round_trip_within_quantisation(tmp_path, dtype):
    flow = random_flow(12, 17, seed=2, scale=60.0).astype(dtype)
    path = tmp_path / "flow.png"
    write_kitti_flow(path, flow)
    got, valid = read_kitti_flow(path)
    assert got.dtype == np.float32 and got.shape == flow.shape and valid.dtype == bool
    assert valid.all()
    # stored as round(64 * flow): error at most 1/128 px, always within the format's 1/64 px step
    assert np.abs(got - flow.astype(np.float64)).max() <= 1 / 128 + 1e-6
    np.testing.assert_array_equal(got * 64, np.round(got * 64))


def test_kitti_file_layout_is_devkit_rgb(tmp_path):
    # the devkit reads R = u, G = v, B = valid; decode with an independent reader (skimage/imageio
    # via PIL is not guaranteed 16-bit), so use cv2 and flip BGR by hand
    flow = np.zeros((2, 3, 2), np.float32)
    flow[0, 0] = (1.0, -0.5)
    flow[1, 2] = (-512.0, 511.984375)
    valid = np.ones((2, 3), bool)
    valid[0, 1] = False
    path = tmp_path / "f.png"
    write_kitti_flow(path, flow, valid)
    bgr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert bgr.dtype == np.uint16 and bgr.shape == (2, 3, 3)
    r, g, b = bgr[..., 2], bgr[..., 1], bgr[..., 0]
    assert (r[0, 0], g[0, 0], b[0, 0]) == (32768 + 64, 32768 - 32, 1)
    assert (r[0, 1], g[0, 1], b[0, 1]) == (0, 0, 0)  # invalid: all zero, as the devkit writes
    assert (r[1, 2], g[1, 2]) == (0, 65535)
    assert (r[0, 2], g[0, 2], b[0, 2]) == (32768, 32768, 1)


def test_kitti_valid_mask_and_unknown_flow(tmp_path):
    flow = random_flow(6, 8, seed=3)
    flow[1, 1] = (np.nan, 0)
    flow[2, 2] = (0, 1e9)
    flow[3, 3] = (np.inf, 0)
    valid = np.ones((6, 8), np.uint8)
    valid[0, :4] = 0
    path = tmp_path / "f.png"
    write_kitti_flow(path, flow, valid)
    got, got_valid = read_kitti_flow(path)
    expected_valid = valid.astype(bool)
    expected_valid[1, 1] = expected_valid[2, 2] = expected_valid[3, 3] = False
    np.testing.assert_array_equal(got_valid, expected_valid)
    assert np.all(got[~got_valid] == 0)
    assert np.abs(got - flow)[got_valid].max() <= 1 / 128 + 1e-6
    write_kitti_flow(path, flow)  # default mask: the known pixels
    np.testing.assert_array_equal(read_kitti_flow(path)[1].sum(), flow.shape[0] * flow.shape[1] - 3)


def test_read_kitti_takes_any_nonzero_blue_as_valid(tmp_path):
    """The devkit reads the valid flag as ``min(B, 1)``: a file from another writer that marks
    valid pixels 255 or 65535 (not 1) is valid there, with its flow; 0 is invalid."""
    bgr = np.zeros((1, 4, 3), np.uint16)
    bgr[..., 2] = 32768 + 64  # u = 1
    bgr[..., 1] = 32768 - 32  # v = -0.5
    bgr[0, :, 0] = (1, 255, 65535, 0)
    path = tmp_path / "f.png"
    assert cv2.imwrite(str(path), bgr)
    flow, valid = read_kitti_flow(path)
    np.testing.assert_array_equal(valid, [[True, True, True, False]])
    np.testing.assert_array_equal(flow[0, :3], [[1.0, -0.5]] * 3)
    np.testing.assert_array_equal(flow[0, 3], [0.0, 0.0])


def test_kitti_clips_out_of_range_flow(tmp_path):
    flow = np.array([[[600.0, -600.0], [511.99, -512.0]]], np.float32)
    write_kitti_flow(tmp_path / "f.png", flow)
    got, _ = read_kitti_flow(tmp_path / "f.png")
    np.testing.assert_array_equal(got, [[[511.984375, -512.0], [511.984375, -512.0]]])


def test_kitti_format_does_not_depend_on_extension(tmp_path):
    flow = random_flow(4, 4, seed=5)
    write_kitti_flow(tmp_path / "f.kitti", flow)
    got, valid = read_kitti_flow(tmp_path / "f.kitti")
    assert valid.all() and np.abs(got - flow).max() <= 1 / 128 + 1e-6


def test_write_kitti_rejects_bad_valid(tmp_path):
    with pytest.raises(ValueError, match=r"valid: expected shape \(7, 9\) \(H, W of flow\), got \(9, 7\)"):
        write_kitti_flow(tmp_path / "f.png", random_flow(), np.ones((9, 7), bool))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("valid, error, message", [
    (np.array([[np.nan, 1.0], [1.0, 0.0]]), ValueError,
     r"valid: expected a mask of True/False \(or 1/0\), got 1 NaN values"),
    (np.array([["a", ""], ["b", "c"]]), TypeError,
     r"valid: expected a boolean or numeric mask, got dtype <U1"),
    (np.array([[None, 1], [1, 1]], object), TypeError,
     r"valid: expected a boolean or numeric mask, got dtype object"),
])
def test_write_kitti_rejects_valid_masks_that_are_not_true_false(tmp_path, valid, error, message):
    # as the metrics' valid=: NumPy casts NaN, non-empty strings and objects to True, which
    # wrote pixels as valid that the mask did not mark so
    with pytest.raises(error, match=message):
        write_kitti_flow(tmp_path / "f.png", np.zeros((2, 2, 2), np.float32), valid)
    assert list(tmp_path.iterdir()) == []


def test_read_kitti_rejects_corrupt_files(tmp_path):
    write_kitti_flow(tmp_path / "good.png", random_flow())
    content = (tmp_path / "good.png").read_bytes()
    cases = {
        "truncated.png": (content[: len(content) // 2], r"truncated\.png: not a readable PNG image \(truncated or corrupt"),
        "empty.png": (b"", r"empty\.png: not a readable PNG image .*0 bytes"),
        "text.png": (b"hello, not an image", r"text\.png: not a readable PNG image"),
    }
    for name, (data, match) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError, match=match):
            read_kitti_flow(tmp_path / name)
    cv2.imwrite(str(tmp_path / "eight.png"), np.zeros((3, 4, 3), np.uint8))
    with pytest.raises(ValueError, match=r"eight\.png: not a KITTI flow PNG: expected 16-bit with 3 channels, got uint8 with 3"):
        read_kitti_flow(tmp_path / "eight.png")
    cv2.imwrite(str(tmp_path / "gray.png"), np.zeros((3, 4), np.uint16))
    with pytest.raises(ValueError, match=r"got uint16 with 1 channel"):
        read_kitti_flow(tmp_path / "gray.png")
    with pytest.raises(FileNotFoundError):
        read_kitti_flow(tmp_path / "missing.png")
