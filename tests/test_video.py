"""Video I/O on PyAV: iter_frames against an independent decoder (cv2.VideoCapture, which has
its own FFmpeg build) and cv2.imread, atomic VideoWriter, the real files of
../shared/data/video (rotation, 10-bit, HEVC, odd sizes, variable frame rate).

The writer encodes with PyAV's FFmpeg (libx264, mpeg4, mjpeg, ffv1, ...). FFV1 is lossless, so
its round trip must be exact; the lossy codecs are compared with OpenCV's decoding of the same
file (exact: both convert YUV to RGB with swscale's defaults) and with the written frames
within a loose bound.
"""

import gc
import itertools
import os
import re
import subprocess
import sys
import warnings
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from cases import (animated_webp, cut_with_an_edit_list, data_path, error_under_file_limit,
                   interlaced_clip, open_files, without_gc)
from flowkit import VideoWriter, iter_frames
from flowkit._retime import reencode_codec
from flowkit.video import DamagedVideoWarning, encoder_name, frame_times, probe_video

HEIGHT, WIDTH = 24, 40  # non-square, multiples of 8 for the block codecs


def make_frames(count=7, seed=0):
    """Blocky random RGB frames (8x8 blocks survive lossy codecs reasonably)."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (count, HEIGHT // 8, WIDTH // 8, 3), dtype=np.uint8)
    return [np.ascontiguousarray(np.repeat(np.repeat(b, 8, 0), 8, 1)) for b in blocks]


def opencv_frames(path):
    """Reference decoding: every frame through cv2.VideoCapture, converted BGR -> RGB."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    return frames


def write_video(path, frames, fps=10, **kwargs):
    with VideoWriter(path, fps, **kwargs) as writer:
        for frame in frames:
            writer.write(frame)
    return path


@pytest.fixture(scope="module")
def lossless_video(tmp_path_factory):
    frames = make_frames()
    return write_video(tmp_path_factory.mktemp("video") / "clip.mkv", frames), frames


def test_lossless_round_trip_is_exact(lossless_video):
    path, frames = lossless_video
    got = list(iter_frames(path))
    assert len(got) == len(frames)
    for frame, expected in zip(got, frames):
        assert frame.dtype == np.uint8 and frame.shape == (HEIGHT, WIDTH, 3) and frame.flags.c_contiguous
        np.testing.assert_array_equal(frame, expected)


@pytest.mark.parametrize("name, codec", [("a.avi", "utvideo"), ("b.avi", "ffvhuff"), ("c.avi", "huffyuv"),
                                         ("d.mov", "png"), ("e.avi", "zlib")])
def test_every_lossless_encoder_round_trip_is_exact(tmp_path, name, codec):
    # an encoder that only codes losslessly keeps RGB: UT Video and FFVHuff wrote 4:2:0 (a
    # real clip's frames back at 46 dB)
    frames = make_frames()
    got = list(iter_frames(write_video(tmp_path / name, frames, codec=codec)))
    assert len(got) == len(frames)
    for frame, expected in zip(got, frames):
        np.testing.assert_array_equal(frame, expected)


@pytest.mark.parametrize("codec", ["huffyuv", "utvideo", "zlib", "qtrle"])
def test_lossless_8_bit_encoders_keep_16_bit_frames_rgb(tmp_path, codec):
    # 16-bit frames to a lossless encoder without deep formats: its 8-bit RGB, exactly for
    # 8-bit values at 16 bits (v * 257; swscale's rounding made v >= 128 come back v + 1);
    # HuffYUV wrote its first format, 4:2:2 (a real clip back at 46.7 dB, these frames off by
    # up to 161)
    import av

    frames = np.random.default_rng(0).integers(0, 256, (3, HEIGHT, WIDTH, 3), dtype=np.uint8)
    path = tmp_path / ("c.mov" if codec == "qtrle" else "c.avi")
    with VideoWriter(path, 30, codec=codec) as writer:
        for frame in frames:
            writer.write(frame.astype(np.uint16) * 257)
    assert av.VideoFormat(probe_video(path).pix_fmt).is_rgb
    for frame, expected in zip(iter_frames(path), frames, strict=True):
        np.testing.assert_array_equal(frame, expected)


@pytest.mark.parametrize("suffix", [".avi", ".mov", ".nut"])
def test_uncompressed_rawvideo_reads_back(tmp_path, suffix):
    # rawvideo lists no pixel formats and got gbrp, which AVI and MOV store as packed RGB: the
    # traffic clip read back at 16.8 dB, and 16-bit frames (gbrp16le) as no video at all
    frames = np.random.default_rng(0).integers(0, 256, (3, HEIGHT, WIDTH, 3), dtype=np.uint8)
    for deep in (False, True):
        with VideoWriter(tmp_path / f"{deep}{suffix}", 30, codec="rawvideo") as writer:
            for frame in frames:
                writer.write(frame.astype(np.uint16) * 257 if deep else frame)
        got = list(iter_frames(tmp_path / f"{deep}{suffix}"))
        assert len(got) == len(frames)
        off = max(int(np.abs(frame.astype(int) - expected).max()) for frame, expected
                  in zip(got, frames))
        assert off == 0, (deep, off)  # 16 to 8 bits: v * 257 is v (swscale's gave v + 1)


@pytest.mark.parametrize("name, codec, pix_fmt", [("a.mp4", "libx264", "yuv420p"),
                                                   ("b.avi", "mpeg4", None),
                                                   ("c.mkv", "ffv1", "bgr0"),
                                                   ("d.mkv", "libx264rgb", None)])
def test_8_bit_values_at_16_bits_write_the_8_bit_video(tmp_path, name, codec, pix_fmt):
    # uint16 frames to an 8-bit format went through swscale's rgb48 conversion, which reads
    # half a level high: 8-bit values at 16 bits (v * 257) came out v + 1 for v >= 128 in RGB,
    # YUV up to 2 off the 8-bit frames' -> rounded to 8 bits first: the 8-bit frames' video
    frames = np.random.default_rng(4).integers(0, 256, (3, HEIGHT, WIDTH, 3), dtype=np.uint8)
    options = {} if pix_fmt is None else {"pix_fmt": pix_fmt}
    shallow = write_video(tmp_path / f"8{name}", frames, codec=codec, **options)
    deep = write_video(tmp_path / f"16{name}", [f.astype(np.uint16) * 257 for f in frames],
                       codec=codec, **options)
    assert probe_video(deep).bit_depth == 8
    for a, b in zip(iter_frames(shallow), iter_frames(deep), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_codec_the_mxf_muxer_refuses_is_named_not_the_file(tmp_path):
    # FFmpeg's MXF muxer refuses most codecs with -1, read as EPERM: it was "PermissionError:
    # [Errno 1] Operation not permitted: 'out.mxf'", as if the file could not be written
    with pytest.raises(ValueError, match=r"codec: mpeg4 cannot write 64x48 yuv420p video to "
                                         r"'\.mxf' files \(FFmpeg's error -1.*not a file perm"):
        with VideoWriter(tmp_path / "out.mxf", 25, codec="mpeg4") as writer:
            writer.write(np.zeros((48, 64, 3), np.uint8))
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("name, codec", [("clip.mp4", None), ("clip.mp4", "mp4v"), ("clip.avi", None),
                                         ("clip.avi", "XVID"), ("clip.mkv", "MJPG")])
def test_lossy_codecs_match_opencv_decoding(tmp_path, name, codec):
    frames = make_frames()
    path = write_video(tmp_path / name, frames, codec=codec)
    got = list(iter_frames(path))
    reference = opencv_frames(path)
    assert len(got) == len(reference) == len(frames)
    for frame, ref, original in zip(got, reference, frames):
        np.testing.assert_array_equal(frame, ref)
        # colour order check: a BGR/RGB swap would move the mean error to ~100 levels
        assert np.abs(frame.astype(int) - original).mean() < 25


def test_gray_step_and_resize_match_opencv(lossless_video):
    path, frames = lossless_video
    gray = list(iter_frames(path, gray=True))
    for frame, original in zip(gray, frames):
        assert frame.shape == (HEIGHT, WIDTH)
        np.testing.assert_array_equal(frame, cv2.cvtColor(original, cv2.COLOR_RGB2GRAY))
    for step in (2, 3, 7, 10):
        got = list(iter_frames(path, step=step))
        assert len(got) == len(frames[::step])
        for frame, expected in zip(got, frames[::step]):
            np.testing.assert_array_equal(frame, expected)
    # resize is (width, height); shrinking uses INTER_AREA, enlarging INTER_LINEAR
    small = next(iter_frames(path, resize=(20, 6)))
    assert small.shape == (6, 20, 3)
    np.testing.assert_array_equal(small, cv2.resize(frames[0], (20, 6), interpolation=cv2.INTER_AREA))
    big = next(iter_frames(path, resize=(50, 30), gray=True))
    expected = cv2.cvtColor(cv2.resize(frames[0], (50, 30), interpolation=cv2.INTER_LINEAR), cv2.COLOR_RGB2GRAY)
    assert big.shape == (30, 50)
    np.testing.assert_array_equal(big, expected)
    same = next(iter_frames(path, resize=[WIDTH, HEIGHT]))
    np.testing.assert_array_equal(same, frames[0])


def test_real_video_matches_opencv():
    path = data_path("video", "car_traffic_small.mp4")
    capture = cv2.VideoCapture(str(path))
    reference = []
    for _ in range(13):
        ok, frame = capture.read()
        assert ok
        reference.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    got = list(itertools.islice(iter_frames(path), 13))
    assert got[0].shape == (360, 640, 3)
    for frame, ref in zip(got, reference):
        np.testing.assert_array_equal(frame, ref)
    stepped = list(itertools.islice(iter_frames(str(path), step=4, gray=True), 4))
    for frame, ref in zip(stepped, reference[::4]):
        np.testing.assert_array_equal(frame, cv2.cvtColor(ref, cv2.COLOR_RGB2GRAY))


def test_image_folder_natural_order(tmp_path):
    frames = make_frames(4)
    names = ["frame2.png", "frame10.png", "frame1.png", "frame100.jpg"]  # natural: 1, 2, 10, 100
    order = [2, 0, 1, 3]
    for name, frame in zip(names, frames):
        cv2.imwrite(str(tmp_path / name), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "sub.png").mkdir()  # a folder with an image name is skipped
    got = list(iter_frames(tmp_path))
    assert len(got) == 4
    for frame, index in zip(got[:3], order[:3]):
        np.testing.assert_array_equal(frame, frames[index])  # png: exact
    jpeg = cv2.cvtColor(cv2.imread(str(tmp_path / "frame100.jpg")), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(got[3], jpeg)
    gray = list(iter_frames(tmp_path, gray=True, step=2, resize=(20, 12)))
    assert len(gray) == 2 and gray[0].shape == (12, 20)
    # gray as for video frames: resize the colour frame, then BGR2GRAY
    expected = cv2.cvtColor(cv2.resize(frames[order[0]], (20, 12), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    np.testing.assert_array_equal(gray[0], expected)
    cv2.imwrite(str(tmp_path / "frame0.png"), expected)  # a gray file reads back unchanged
    np.testing.assert_array_equal(next(iter_frames(tmp_path, gray=True)), expected)
    np.testing.assert_array_equal(next(iter_frames(tmp_path)), np.repeat(expected[..., None], 3, axis=2))


def test_image_folder_order_of_names_with_equal_numbers(tmp_path, monkeypatch):
    # frame2.png and frame02.png have one natural key: they came in the order the file system
    # listed them (ext4's hash order), which changed with the folder; now by name, whatever
    # that order
    frames = make_frames(3)
    for name, frame in zip(["frame2.png", "frame02.png", "frame1.png"], frames):
        cv2.imwrite(str(tmp_path / name), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    listed = sorted(tmp_path.iterdir())
    for order in (listed, listed[::-1]):
        monkeypatch.setattr(Path, "iterdir", lambda self, order=order: iter(order))
        got = list(iter_frames(tmp_path))
        for frame, index in zip(got, [2, 1, 0]):  # frame1, frame02, frame2
            np.testing.assert_array_equal(frame, frames[index])


def test_image_folder_skips_hidden_files(tmp_path):
    # a folder copied from macOS holds ._NAME AppleDouble files (metadata, no image) beside
    # each frame: iter_frames failed on "cannot read the image ._frame1.png"; hidden files are
    # skipped as ls, shell globs and flowkit.batch's folders skip them, a readable one too
    frames = make_frames(3)
    for k, frame in enumerate(frames):
        cv2.imwrite(str(tmp_path / f"frame{k}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    (tmp_path / "._frame0.png").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X")
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    cv2.imwrite(str(tmp_path / ".thumb.png"), np.zeros((4, 4, 3), np.uint8))  # another size
    got = list(iter_frames(tmp_path))
    assert len(got) == 3
    for frame, expected in zip(got, frames):
        np.testing.assert_array_equal(frame, expected)


def test_image_folder_with_a_broken_link_is_an_error(tmp_path):
    # frame1.png linking to a file that was moved was skipped: the sequence lost a frame unsaid
    for k, frame in enumerate(make_frames(3)):
        if k != 1:
            cv2.imwrite(str(tmp_path / f"frame{k}.png"), frame)
    (tmp_path / "frame1.png").symlink_to(tmp_path / "moved" / "frame1.png")
    with pytest.raises(ValueError, match=r"^path: .*frame1.png is a link to a file that does "
                                         r"not exist \(a frame of the folder .* would be missing"):
        iter_frames(tmp_path)


def test_image_folder_errors(tmp_path):
    (tmp_path / "readme.md").write_text("x")
    with pytest.raises(ValueError, match=r"path: the folder .* holds no image files"):
        iter_frames(tmp_path)
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((4, 6, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "b.png"), np.zeros((5, 6, 3), np.uint8))
    frames = iter_frames(tmp_path)
    next(frames)
    with pytest.raises(ValueError, match=r"path: image .*b\.png is 6x5, the first image is 6x4 \(width x height\)"):
        next(frames)
    assert len(list(iter_frames(tmp_path, resize=(6, 4)))) == 2
    (tmp_path / "c.png").write_bytes(b"broken")
    with pytest.raises(ValueError, match=r"path: OpenCV cannot read the image .*c\.png"):
        list(iter_frames(tmp_path, resize=(6, 4)))
    # an empty file the same (cv2.imdecode raised its own "!buf.empty()" error: a new user's)
    (tmp_path / "c.png").write_bytes(b"")
    with pytest.raises(ValueError, match=r"path: OpenCV cannot read the image .*c\.png"):
        list(iter_frames(tmp_path, resize=(6, 4)))


def test_image_folder_file_that_cannot_be_read_names_path(tmp_path, monkeypatch):
    # "[Errno 13] Permission denied: 'b.png'" named no parameter (the command line said
    # "b.png: Permission denied", naming no argument); found with chmod 000 under setpriv
    # without CAP_DAC_OVERRIDE (root reads any file, so the refusal is mocked)
    import flowkit.video

    for name in ("a.png", "b.png"):
        cv2.imwrite(str(tmp_path / name), np.zeros((4, 6, 3), np.uint8))
    real = np.fromfile

    def refuse(file, *args, **kwargs):
        if Path(file).name == "b.png":
            raise PermissionError(13, "Permission denied", str(file))
        return real(file, *args, **kwargs)

    monkeypatch.setattr(flowkit.video.np, "fromfile", refuse)
    with pytest.raises(PermissionError, match=r"^path: cannot read the image .*b\.png "
                                              r"\(Permission denied\)$"):
        list(iter_frames(tmp_path))


def test_iter_frames_errors_are_raised_at_call_time(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"path: no such video file or image folder: .*missing\.mp4"):
        iter_frames(tmp_path / "missing.mp4")
    (tmp_path / "fake.mp4").write_bytes(b"this is not a video" * 10)
    with pytest.raises(ValueError, match=r"path: cannot open .*fake\.mp4 as a video \(Invalid data"):
        iter_frames(tmp_path / "fake.mp4")
    (tmp_path / "empty.avi").write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.avi"):
        iter_frames(tmp_path / "empty.avi")


@pytest.mark.parametrize("call", [
    lambda path: iter_frames(path),
    lambda path: probe_video(path),
    lambda path: VideoWriter(path, 30),
], ids=["iter_frames", "probe_video", "VideoWriter"])
@pytest.mark.parametrize("path, shown", [(None, "None"), (2, "2")])
def test_a_path_that_is_not_one_names_the_parameter(call, path, shown):
    # Path(None) said "expected str, bytes or os.PathLike object, not NoneType" (a new user's)
    with pytest.raises(TypeError, match=rf"^path: expected a path \(str or os\.PathLike\), "
                                        rf"got {shown}$"):
        call(path)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"step": 0}, ValueError, r"step: expected an integer >= 1, got 0"),
        ({"step": 1.5}, TypeError, r"step: expected an integer, got 1\.5"),
        ({"resize": (10,)}, TypeError, r"resize: expected None or a \(width, height\) pair"),
        ({"resize": 10}, TypeError, r"resize: expected None or a \(width, height\) pair"),
        ({"resize": (10, 0)}, ValueError, r"resize\[1\]: expected an integer >= 1, got 0"),
        ({"resize": (10.0, 5)}, TypeError, r"resize\[0\]: expected an integer"),
        # bool() read "False" and "no" as True: gray frames (or pairs) where none were asked
        ({"gray": "False"}, TypeError, r"gray: expected a bool, got 'False'"),
        ({"timestamps": "no"}, TypeError, r"timestamps: expected a bool, got 'no'"),
    ],
)
def test_iter_frames_rejects_bad_arguments(lossless_video, kwargs, error, match):
    with pytest.raises(error, match=match):
        iter_frames(lossless_video[0], **kwargs)


# --- VideoWriter ----------------------------------------------------------------------------------

def test_writer_gray_frames(tmp_path):
    frames = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in make_frames(3)]
    path = tmp_path / "gray.mkv"
    with VideoWriter(path, 5) as writer:
        writer.write(frames[0])
        writer.write(frames[1][..., None])  # (H, W, 1) is gray too
        writer.write(frames[2])
        assert writer.frame_count == 3
    got = list(iter_frames(path, gray=True))
    for frame, expected in zip(got, frames):
        np.testing.assert_array_equal(frame, expected)
    np.testing.assert_array_equal(next(iter_frames(path)), np.repeat(frames[0][..., None], 3, axis=2))


def test_writer_fit_pads_only_for_encoders_that_need_even_sizes(tmp_path):
    # 4:2:0 on x264: padded (last row and column repeated); FFV1 (RGB) and VP9 take odd sizes
    odd = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    for name, shape in (("a.mp4", (6, 8, 3)), ("b.mkv", (5, 7, 3)), ("c.webm", (5, 7, 3))):
        writer = VideoWriter(tmp_path / name, 10)
        fitted = writer.fit(odd)
        assert fitted.shape == shape
        np.testing.assert_array_equal(fitted[:5, :7], odd)
        if shape != odd.shape:
            np.testing.assert_array_equal(fitted[5], fitted[4])
            np.testing.assert_array_equal(fitted[:, 7], fitted[:, 6])
        with pytest.raises(ValueError, match="no frames were written"):
            writer.close()  # fit writes nothing
    assert not list(tmp_path.iterdir())


def test_writer_reports_fps_and_size(tmp_path):
    path = write_video(tmp_path / "a.avi", make_frames(3), fps=12.5)
    capture = cv2.VideoCapture(str(path))
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(12.5)
    assert (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (WIDTH, HEIGHT)
    capture.release()


def test_exception_in_with_leaves_no_file(tmp_path):
    path = tmp_path / "out.mp4"
    with pytest.raises(KeyError):
        with VideoWriter(path, 10) as writer:
            for frame in make_frames(3):
                writer.write(frame)
            raise KeyError("stop")
    assert list(tmp_path.iterdir()) == []


def test_exception_in_with_keeps_existing_file(tmp_path):
    path = tmp_path / "out.avi"
    path.write_bytes(b"existing video")
    with pytest.raises(RuntimeError, match="stop"):
        with VideoWriter(path, 10) as writer:
            writer.write(make_frames(1)[0])
            raise RuntimeError("stop")
    assert path.read_bytes() == b"existing video"
    assert [p.name for p in tmp_path.iterdir()] == ["out.avi"]
    write_video(path, make_frames(2))  # a successful write replaces it
    assert len(list(iter_frames(path))) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["out.avi"]


def test_nothing_visible_before_close(tmp_path):
    path = tmp_path / "out.mkv"
    writer = VideoWriter(path, 10)
    writer.write(make_frames(1)[0])
    assert not path.exists()
    writer.close()
    writer.close()  # closing twice does nothing
    assert writer.closed and path.exists()
    with pytest.raises(ValueError, match=r"write to a closed VideoWriter"):
        writer.write(make_frames(1)[0])


def test_writer_repr_names_its_file_and_state(tmp_path):
    # a notebook cell ending in the writer showed <flowkit.video.VideoWriter at 0x7f...>
    writer = VideoWriter(tmp_path / "out.mkv", Fraction(30000, 1001))
    text = f"<flowkit.VideoWriter path={str(tmp_path / 'out.mkv')!r} fps=30000/1001 codec='ffv1'"
    assert repr(writer) == f"{text} frames=0 open>"
    writer.write(make_frames(1)[0])
    writer.close()
    assert repr(writer) == f"{text} frames=1 closed>"
    assert "fps=25 " in repr(VideoWriter(tmp_path / "b.mp4", 25))


def top_level_boxes(path):
    """The types of an MP4/MOV file's top-level boxes, in file order."""
    data, kinds, position = Path(path).read_bytes(), [], 0
    while position + 8 <= len(data):
        size = int.from_bytes(data[position:position + 4], "big")
        kinds.append(data[position + 4:position + 8].decode("latin-1"))
        if size == 1:
            size = int.from_bytes(data[position + 8:position + 16], "big")
        position += size if size else len(data)
    return kinds


@pytest.mark.parametrize("name, color", [("a.mp4", None), ("a.mov", None), ("a.m4v", None),
                                         ("b.mp4", {"color_range": 1})])  # with +write_colr
def test_quicktime_files_have_their_index_before_the_frames(tmp_path, name, color):
    # FFmpeg writes the index (moov) after the frames unless asked (-movflags +faststart): a
    # browser or editor reading the file over HTTP needed its end before showing a frame
    frames = make_frames(5)
    with VideoWriter(tmp_path / name, 10, color=color) as writer:
        for frame in frames:
            writer.write(frame)
    boxes = top_level_boxes(tmp_path / name)
    assert "moov" in boxes and boxes.index("moov") < boxes.index("mdat"), boxes
    assert len(opencv_frames(tmp_path / name)) == 5
    assert [p.name for p in tmp_path.iterdir()] == [name]  # written atomically, no leftovers


@pytest.mark.parametrize("suffix", [".mkv", ".webm", ".mp4", ".mov", ".avi"])
def test_the_same_frames_give_the_same_bytes(tmp_path, suffix):
    # Matroska stored a random segment UID and the time of writing: two runs of one job wrote
    # different .mkv/.webm files (now FFmpeg's -fflags +bitexact); the others were the same
    frames = make_frames(4)
    written = []
    for name in ("a", "b"):
        with VideoWriter(tmp_path / (name + suffix), 10) as writer:
            for frame in frames:
                writer.write(frame)
        written.append((tmp_path / (name + suffix)).read_bytes())
    assert written[0] == written[1]
    assert len(list(iter_frames(tmp_path / ("a" + suffix)))) == 4


@pytest.mark.parametrize("name", ["a.mp4", "a.mov"])
def test_hevc_in_quicktime_files_is_tagged_hvc1(tmp_path, name):
    # FFmpeg's default tag, hev1, is refused by Apple's players and QuickTime (-tag:v hvc1)
    frames = np.random.default_rng(0).integers(0, 256, (3, 64, 80, 3), np.uint8)
    with VideoWriter(tmp_path / name, 10, codec="libx265") as writer:
        for frame in frames:
            writer.write(frame)
    import av

    with av.open(str(tmp_path / name)) as container:
        assert container.streams.video[0].codec_context.codec_tag == "hvc1"
    assert len(list(iter_frames(tmp_path / name))) == 3


def test_narrow_hevc_does_not_abort_the_process(tmp_path):
    # x265's cu-tree pass wrote past its buffer for frames <= 48 pixels wide, which from 33 to
    # 48 corrupted glibc's heap: 3 black 40x24 frames aborted Python ("corrupted size vs.
    # prev_size", no exception), as a Dask worker or an editor would die; hence a subprocess
    code = ("import sys, numpy as np; from flowkit import VideoWriter, iter_frames\n"
            "with VideoWriter(sys.argv[1], 10, codec='libx265') as writer:\n"
            "    for _ in range(3): writer.write(np.zeros((24, 40, 3), np.uint8))\n"
            "print(len(list(iter_frames(sys.argv[1]))))\n")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "a.mp4")],
                          capture_output=True, text=True, timeout=300)
    assert (done.returncode, done.stdout) == (0, "3\n"), done.stderr[-500:]


@pytest.mark.parametrize("width, cutree", [(16, False), (32, False), (49, True)])
def test_hevc_runs_cutree_from_49_pixels_wide(tmp_path, width, cutree):
    # x265 writes its options into the stream: cu-tree off where its AVX cost propagation
    # overruns its buffer (valgrind: 16 to 48 pixels wide, silently in glibc's slack below
    # 33; the aborts are test_narrow_hevc_does_not_abort_the_process's), on from 49 (x265 pads
    # the width to 56)
    frames = [np.zeros((16, width, 3), np.uint8)] * 3
    data = write_video(tmp_path / "a.mp4", frames, codec="libx265", pix_fmt="yuv444p").read_bytes()
    assert (b" cutree" in data, b" no-cutree" in data) == (cutree, not cutree)
    assert len(list(iter_frames(tmp_path / "a.mp4"))) == 3


def test_hevc_of_one_or_two_frames(tmp_path):
    # x265 stamped the DTS of a 1- or 2-frame stream with its pts less whatever its memory held
    # (it sets the B-frame delay at the third frame): .mp4/.mov failed on close ("Not yet
    # implemented in FFmpeg, patches welcome"), .ts read its first frame back at 55967 s. Some
    # encoders find a 0 there: each case is written three times
    frames = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), np.uint8)
    for name, count in [("a.mp4", 1), ("a.mov", 2), ("a.ts", 1), ("a.ts", 2)] * 3:
        path = write_video(tmp_path / name, frames[:count], codec="libx265")
        times = [float(t) for t, _ in iter_frames(path, timestamps=True)]
        assert times == [0, 0.1][:count], (name, count)


def test_abandoned_writer_leaves_no_temporary_file(tmp_path):
    writer = VideoWriter(tmp_path / "out.mp4", 10)
    writer.write(make_frames(1)[0])
    del writer
    gc.collect()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_a_reader_dropped_unstarted_closes_its_file(lossless_video):
    # iter_frames opens the file when called; a generator dropped before its first frame (an
    # error in the caller before the loop) runs no finally, and PyAV's objects form cycles:
    # the file and the decoder's threads stayed open until the next garbage collection
    path, _ = lossless_video
    with without_gc():
        for _ in range(3):
            frames = iter_frames(path)
            del frames
        assert open_files(path.parent) == []


def test_closing_without_frames_creates_nothing(tmp_path):
    with pytest.raises(ValueError, match=r"no frames were written, so no video file was created"):
        with VideoWriter(tmp_path / "out.mp4", 10):
            pass
    assert list(tmp_path.iterdir()) == []


def test_bad_frames(tmp_path):
    path = tmp_path / "out.mkv"
    with VideoWriter(path, 10) as writer:
        writer.write(make_frames(1)[0])
        with pytest.raises(ValueError, match=r"frame: expected size 40x24 \(width x height\) like the first frame, got 24x40"):
            writer.write(np.zeros((WIDTH, HEIGHT, 3), np.uint8))
        with pytest.raises(TypeError, match=r"frame: expected dtype uint8 or uint16, got float32"):
            writer.write(np.zeros((HEIGHT, WIDTH, 3), np.float32))
        with pytest.raises(ValueError, match=r"frame: expected shape \(H, W, 3\) or \(H, W\), got \(24, 40, 4\)"):
            writer.write(np.zeros((HEIGHT, WIDTH, 4), np.uint8))
        with pytest.raises(ValueError, match=r"frame: expected a non-empty array"):
            writer.write(np.zeros((0, WIDTH, 3), np.uint8))
        writer.write(make_frames(2)[1])  # the writer survives rejected frames
    assert len(list(iter_frames(path))) == 2


def has_encoder(name):
    """Whether PyAV's FFmpeg has the encoder ``name``."""
    import av

    try:
        av.codec.Codec(name, "w")
    except Exception:  # noqa: BLE001 - PyAV's UnknownCodecError, by version
        return False
    return True


@pytest.mark.parametrize(
    "name, fps, kwargs, error, match",
    [
        ("a.mp4", 0, {}, ValueError, r"fps: expected a number in \(0, inf\], got 0"),
        ("a.mp4", "30", {}, TypeError, r"fps: expected a real number, got '30'"),
        # beyond FFmpeg's 32-bit rationals PyAV raised OverflowError at the first frame, and a
        # float below 5e-7 (a Fraction of 0 at a denominator <= 1001000) ZeroDivisionError
        *[("a.mp4", fps, {}, ValueError, r"fps: expected a ratio of integers up to 2147483647 "
                                         rf"\(FFmpeg's rationals; .*\), got {re.escape(str(fps))}$")
          for fps in (1e-7, 1e300, 2**31, Fraction(1, 10**30), Fraction(10**12 + 1, 10**12))],
        ("a.mp4", 30, {"time_base": Fraction(1, 2**31)}, ValueError,
         r"time_base: expected a ratio of integers up to 2147483647 .*, got 1/2147483648$"),
        # past the encoder's or the container's limits: x264's MP4 failed only when closed,
        # after the encoding; VP9, MPEG-4 and SVT-AV1 blamed the size ('cannot write 16x16')
        ("a.mp4", 1e-6, {}, ValueError, r"fps: expected frames of at most 131072 s \(2147483647 "
         r"units of 1/16384 s, the time scale of a \.mp4 track for this time base\), got fps "
         r"1/1000000 \(frames of 1e\+06 s\)$"),
        ("a.mov", Fraction(1, 300000), {"time_base": Fraction(1, 10000)}, ValueError,
         r"time_base: expected frames of at most 214748 s .* with time_base 1/10000$"),
        ("a.webm", 10**9 + 1, {}, ValueError, r"fps: expected at most 1000000000 for libvpx-vp9 "
         r"\(its time base, 1 / fps, is at least 1/1000000000 s\)"),
        ("a.webm", 30, {"time_base": Fraction(1, 10**9 + 1)}, ValueError,
         r"time_base: expected at least 1/1000000000 s for libvpx-vp9, got 1/1000000001$"),
        ("a.avi", 100000, {"codec": "mpeg4"}, ValueError, r"fps: expected at most 65535 for mpeg4"),
        # a frame of over a day: FFmpeg's mpeg4 returned -1, a PermissionError naming the path,
        # or at 16x16 from about 86000 s aborted the process (see the test below)
        ("a.avi", Fraction(1, 43201), {"codec": "mpeg4"}, ValueError,
         r"fps: expected at least 1/43200 for mpeg4 \(a frame of at most 43200 s\), got 1/43201$"),
        pytest.param("a.mkv", 241, {"codec": "libsvtav1"}, ValueError,
                     r"fps: expected at most 240 for libsvtav1, got 241$",
                     marks=pytest.mark.skipif(not has_encoder("libsvtav1"),
                                              reason="PyAV's FFmpeg has no libsvtav1")),
        # FFmpeg picks the container by the extension: with a codec it said only "Could not
        # determine output format", at the first frame
        ("a.xyz", 30, {}, ValueError, r"path: .*a\.xyz: FFmpeg has no container for the extension "
                                      r"'\.xyz' \(it picks the container by the extension, whatever "
                                      r"the codec\); use a video extension \(\.mp4, "),
        ("a.xyz", 30, {"codec": "libx264"}, ValueError, r"path: .*a\.xyz: FFmpeg has no container"),
        ("a.ts", 30, {}, ValueError, r"codec: no default codec for extension '\.ts'"),
        ("a", 30, {}, ValueError, r"path: .*a: no extension; give it a video extension \(\.mp4, "
                                  r"\.m4v, \.mov, \.mkv, \.avi, \.webm, \.\.\.\), which picks the container"),
        ("a", 30, {"codec": "libx264"}, ValueError, r"path: .*a: no extension"),
        ("a.mp4", 30, {"codec": "h264x"}, ValueError, r"codec: unknown video encoder 'h264x'; expected an FFmpeg encoder name"),
        ("a.mp4", 30, {"codec": 4}, TypeError, r"codec: expected an FFmpeg encoder name such as 'libx264'.*, got 4$"),
        ("a.mp4", 30, {"codec": ""}, ValueError, r"codec: expected an FFmpeg encoder name such as 'libx264'"),
        ("a.mp4", 30, {"codec": "aac"}, ValueError, r"codec: unknown video encoder 'aac'"),
        ("a.webm", 30, {"crf": 99}, ValueError, r"crf: expected an integer <= 63 for libvpx-vp9 \(0-63; "),
        ("a.mkv", 30, {"crf": 64}, ValueError, r"crf: expected an integer <= 63, got 64$"),  # ffv1: ignored
        # x264 and x265 cap a higher crf at 51 without a word: 52-63 were taken as "<= 63"
        ("a.mp4", 30, {"crf": 52}, ValueError, r"crf: expected an integer <= 51 for libx264 \(0-51; "
                                               r"libx264rgb 0-51, libx265 0-51, .*\), got 52$"),
        ("a.mkv", 30, {"crf": 60, "codec": "libx265"}, ValueError,
         r"crf: expected an integer <= 51 for libx265 \(0-51; "),
        ("a.mp4", 30, {"crf": -1}, ValueError, r"crf: expected an integer >= 0, got -1"),
        ("a.mp4", 30, {"rotation": 45}, ValueError, r"rotation: expected a multiple of 90 degrees, got 45"),
        # a float was "expected a multiple of 90 degrees, got 90.0"
        ("a.mp4", 30, {"rotation": 90.0}, TypeError, r"rotation: expected an integer, got 90\.0$"),
    ],
)
def test_writer_rejects_bad_arguments(tmp_path, name, fps, kwargs, error, match):
    with pytest.raises(error, match=match):
        VideoWriter(tmp_path / name, fps, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_writer_takes_the_limits_of_its_rate_checks(tmp_path):
    # just inside _check_rate's limits the files are written: the checks are the encoders' and
    # the container's own limits, not stricter
    frame = np.zeros((16, 16, 3), np.uint8)
    for name, fps, kwargs in (("a.mp4", Fraction(1, 131071), {}),
                              ("b.mov", Fraction(1, 214748), {"time_base": Fraction(1, 10000)}),
                              ("c.webm", 10**9, {}), ("d.avi", 65535, {"codec": "mpeg4"}),
                              ("f.avi", Fraction(1, 43200), {"codec": "mpeg4"}),
                              ("e.mkv", 240, {"codec": "libsvtav1"})):
        if not has_encoder(kwargs.get("codec", "libx264")):
            continue  # SVT-AV1 is in PyAV's wheels, not in every FFmpeg
        with VideoWriter(tmp_path / name, fps, **kwargs) as writer:
            writer.write(frame)
            writer.write(frame)
        assert len(list(iter_frames(tmp_path / name))) == 2, name


def test_writer_refuses_an_mpeg4_frame_long_after_the_previous(tmp_path):
    # FFmpeg's mpeg4 encoder writes the whole seconds between frames as that many bits: a 16x16
    # frame 86300 s after the previous overflowed its buffer and an assertion aborted Python
    # (in a subprocess: without the check this test's process would die)
    script = (
        "import numpy as np\n"
        "from flowkit.video import VideoWriter\n"
        "frame = np.zeros((16, 16, 3), np.uint8)\n"
        f"with VideoWriter({str(tmp_path / 'a.mkv')!r}, 30, codec='mpeg4') as writer:\n"
        "    writer.write(frame)\n"
        "    try:\n"
        "        writer.write(frame, time=86300)\n"
        "    except ValueError as exc:\n"
        "        print(exc)\n"
        "    writer.write(frame, time=43200)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == ("time: expected at most 43200 s after the previous frame's "
                                   "0 s for mpeg4, got 86300 s")
    assert len(list(iter_frames(tmp_path / "a.mkv"))) == 2


def test_writer_takes_a_codec_name_as_the_encoder_ffmpeg_picks(tmp_path, capfd):
    # --codec hevc (FFmpeg's codec name, as ffmpeg -c:v hevc) wrote with libx265 but at x265's
    # own crf 28, not 18, and x265's 25 lines of settings and summary on stderr: the options
    # were keyed on the name given, not on the encoder
    assert encoder_name("vp9") == "libvpx-vp9" and encoder_name("av1") == "libsvtav1"
    frames = np.random.default_rng(0).integers(0, 256, (3, 16, 32, 3), np.uint8)
    sizes = []
    for codec in ("hevc", "libx265"):
        with VideoWriter(tmp_path / f"{codec}.mp4", 10, codec=codec) as writer:
            for frame in frames:
                writer.write(frame)
        assert writer.codec == "libx265"
        sizes.append((tmp_path / f"{codec}.mp4").stat().st_size)
    assert sizes[0] == sizes[1] and capfd.readouterr().err == ""


def test_writer_takes_a_numpy_integer_rotation(tmp_path):
    # np.int64(90) (a rotation read into an array) was "expected a multiple of 90 degrees, got
    # np.int64(90)"
    with VideoWriter(tmp_path / "a.mp4", 10, rotation=np.int64(90)) as writer:
        writer.write(np.zeros((16, 32, 3), np.uint8))
    assert type(writer.rotation) is int and probe_video(tmp_path / "a.mp4").rotation == 90


def test_writer_takes_each_encoders_whole_crf_range(tmp_path):
    for name, crf in (("a.mp4", 51), ("a.webm", 63)):  # libx264, libvpx-vp9
        with VideoWriter(tmp_path / name, 30, crf=crf) as writer:
            writer.write(make_frames(1)[0])
        assert writer.crf == crf and (tmp_path / name).stat().st_size > 0


@pytest.mark.parametrize("call", ["retime", "translate"])
def test_retime_and_translate_check_crf_for_the_encoder_first(tmp_path, call):
    # one check (video.check_crf) before any frame: a crf above 51 for libx264 was taken
    import flowkit

    src = data_path("video", "car_traffic_small.mp4")
    run = {"retime": lambda dst, crf: flowkit.retime(src, dst, factor=2, crf=crf),
           "translate": lambda dst, crf: flowkit.translate(src, dst, "autocontrast", crf=crf)}[call]
    with pytest.raises(ValueError, match=r"^crf: expected an integer <= 51 for libx264 \(0-51; .*got 52$"):
        run(tmp_path / "out.mp4", 52)
    with pytest.raises(ValueError, match=r"^crf: expected an integer <= 63 for libvpx-vp9 .*got 64$"):
        run(tmp_path / "out.webm", 64)
    assert list(tmp_path.iterdir()) == []


def test_writer_unsupported_codec(tmp_path):
    # MPEG-4 part 2 does not go into WebM, and 4:2:0 H.264 needs even sizes: the error names the codec
    # and size, no file is left
    writer = VideoWriter(tmp_path / "a.webm", 30, codec="mp4v")
    with pytest.raises(ValueError, match=r"codec: mpeg4 cannot write 40x24 yuv420p video to '\.webm' files"):
        writer.write(make_frames(1)[0])
    assert writer.closed
    assert list(tmp_path.iterdir()) == []
    writer = VideoWriter(tmp_path / "b.mp4", 30, codec="avc1")
    with pytest.raises(ValueError, match=r"codec: libx264 cannot write 40x23 yuv420p video .*need an even width and height"):
        writer.write(make_frames(1)[0][:23])
    assert list(tmp_path.iterdir()) == []


def test_mjpeg_takes_only_full_range_yuv(tmp_path):
    # FFmpeg's MJPEG lists yuv420p among its formats but refuses to open with it (limited
    # range): output_pix_fmt says so, and the rule retime and translate use to keep the input's
    # format (_retime._output_format) falls back to yuvj420p, the format predict writes
    from flowkit._retime import _output_format
    from flowkit.video import output_pix_fmt

    with pytest.raises(ValueError, match=r"pix_fmt: mjpeg cannot encode 'yuv420p' \(limited range\); "
                                         r"it takes yuvj420p"):
        output_pix_fmt("mjpeg", 8, "yuv420p")
    assert output_pix_fmt("mjpeg", 8) == output_pix_fmt("mjpeg", 8, "yuvj420p") == "yuvj420p"
    path = tmp_path / "in.mp4"
    with VideoWriter(path, 10) as writer:
        writer.write(make_frames(1)[0])
    info = probe_video(path)
    assert info.pix_fmt == "yuv420p"
    for planes in (False, True):
        assert _output_format("mjpeg", info, 8, planes=planes) == "yuvj420p"
    with pytest.raises(ValueError, match=r"pix_fmt: mjpeg cannot encode 'yuv420p'"):
        with VideoWriter(tmp_path / "a.avi", 10, pix_fmt="yuv420p") as writer:
            writer.write(make_frames(1)[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_writer_refuses_an_image_format_even_with_a_pattern(tmp_path):
    # FFmpeg's image2 muxer writes a .png "video" one file per frame, expanding a %d pattern:
    # frame_%03d.png with codec png wrote .frame_001.<random>.tmp.png, ... (hidden, left
    # behind), renamed the empty temporary file in place and reported 2 frames written; a plain
    # out.png failed at the second frame. Both are refused when the writer is made
    for name in ("frame_%03d.png", "out.png", "shot.%04d.dpx", "a.JPG"):
        with pytest.raises(ValueError, match=r"^path: .* is an image format, which FFmpeg writes "
                                             r"as one file per frame, not a video; use a video "):
            VideoWriter(tmp_path / name, fps=30, codec="png")
    assert list(tmp_path.iterdir()) == []
    with VideoWriter(tmp_path / "a.apng", fps=10, codec="apng") as writer:  # a container: a video
        for frame in make_frames(2):
            writer.write(frame)
    assert len(list(iter_frames(tmp_path / "a.apng"))) == 2


@pytest.mark.parametrize("name, limit", [("out.mkv", 200_000), ("out.mp4", 50_000),
                                         ("out.mp4", 20)])
def test_writer_that_cannot_write_its_file_names_it(tmp_path, name, limit):
    # under `ulimit -f` (Python ignores SIGXFSZ: write() fails with EFBIG) the error blamed the
    # codec, "codec: ffv1 failed writing out.mkv (File too large)", and the command line named
    # --codec; it is the file's OSError (20 bytes: the header already, when the stream opens)
    path = tmp_path / name
    path.write_bytes(b"precious")
    setup = ("import numpy as np\nfrom flowkit import VideoWriter\n"
             "frames = np.random.default_rng(0).integers(0, 256, (20, 96, 128, 3), np.uint8)")
    call = (f"with VideoWriter({str(path)!r}, 10) as writer:\n"
            "    for frame in frames:\n"
            "        writer.write(frame)")
    assert error_under_file_limit(limit, setup, call) == f"OSError|27|{path}"
    assert path.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_writer_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        VideoWriter(tmp_path / "no" / "a.mp4", 30)


# --- real files: rotation, 10 bits, HEVC, odd sizes, variable frame rate --------------------------

def opencv_first(path, count=1):
    """The first frames by cv2.VideoCapture (its own FFmpeg build; applies the display rotation)."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    for _ in range(count):
        ok, frame = capture.read()
        assert ok
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    return frames


@pytest.mark.parametrize("name, shape, tolerance", [
    # tolerance: mean absolute difference in levels between two decoders' RGB conversions
    # (OpenCV converts 10-bit and rotated frames by other paths than swscale's defaults)
    ("mediabunny__rotate-buck-bunny.mp4", (1920, 1080, 3), 1.0),  # -90 degree display matrix
    # 10 -> 8 bits: OpenCV's swscale repeats chroma and reads white 940 as 253 (dithered with
    # 255; test_ten_bit_flat_patches_read_as_8_bit_levels), flowkit interpolates chroma (3.1)
    ("torchcodec__h264_10bits.mp4", (200, 200, 3), 3.5),
    ("mediabunny__video-h265.mp4", (1080, 1920, 3), 1.0),
    ("androidx__bear-vp9-odd-dimensions.webm", (121, 161, 3), 1.0),
])
def test_real_files_upright_and_like_opencv(name, shape, tolerance):
    path = data_path("video", name)
    got = list(itertools.islice(iter_frames(path), 2))
    reference = opencv_first(path, 2)
    for frame, ref in zip(got, reference):
        assert frame.shape == shape == ref.shape and frame.dtype == np.uint8
        assert np.abs(frame.astype(float) - ref).mean() < tolerance


def test_probe_video_real_files():
    info = probe_video(data_path("video", "mediabunny__rotate-buck-bunny.mp4"))
    assert (info.width, info.height, info.rotation) == (1080, 1920, 270)  # displayed portrait
    assert info.frame_rate == 24 and info.audio and info.codec == "h264"
    info = probe_video(data_path("video", "torchcodec__h264_10bits.mp4"))
    assert (info.pix_fmt, info.bit_depth, info.frame_count, info.audio) == ("yuv420p10le", 10, 30, False)
    info = probe_video(data_path("video", "zwm__clip_01_tears_of_steel.mp4"))
    assert (info.frame_rate, info.frame_count, info.duration) == (24, 240, 10)
    with pytest.raises(FileNotFoundError, match=r"path: no such video file"):
        probe_video(data_path("video") / "missing.mp4")


def edit_list_cut(path, frames=24, start=3, end=None):
    """A 24 fps H.264 MP4 (B-frames, a keyframe every 6 frames) of ``frames`` frames whose edit
    list shows frames ``start`` to ``end`` (the end patched into its ``elst`` box), as
    ``ffmpeg -ss T -c copy`` cuts between keyframes: the samples outside it decode but are not
    shown."""
    import struct

    import av

    whole = path.with_name("whole.mp4")
    with av.open(str(whole), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"g": "6", "keyint_min": "6", "sc_threshold": "0", "bf": "2"}
        for k, array in enumerate(make_frames(frames)):
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            frame.pts, frame.time_base = k, Fraction(1, 24)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    cut_with_an_edit_list(whole, path, start)
    if end is not None:
        data = bytearray(path.read_bytes())
        at = data.find(b"elst") + 12  # version 0: the first entry's duration, in the movie's
        data[at:at + 4] = struct.pack(">I", round((end - start) * 1000 / 24))  # 1/1000 s
        path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("end", [None, 20])
def test_frame_count_of_an_mp4_cut_by_its_edit_list_is_the_frames_shown(tmp_path, end):
    # the samples before the edit list's start (or after its end) were counted: 24 frames for
    # the 21 iter_frames yields (progress totals, train's sampling step)
    clip = edit_list_cut(tmp_path / "cut.mp4", end=end)
    shown = sum(1 for _ in iter_frames(clip))
    assert shown == (21 if end is None else 17)
    assert probe_video(clip).frame_count == shown


def test_frame_times_follow_the_decoders_order_where_timestamps_jump_back(tmp_path):
    # frame_times sorted the packets' timestamps; a decoder that reorders nothing (FFV1 here,
    # H.264 without B-frames) gives the frames in packet order: 10 frames, 10 from 2 s on, then
    # 10 stamped back in the hole were timed 0..29 by frame_times, 0..9, 20..39 by decode (a
    # chunked batch flow job's times were not the whole job's)
    import av

    stamps = [*range(10), *range(20, 30), *range(10, 20)]
    path = tmp_path / "back.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=10)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        packets = []
        for k, array in enumerate(make_frames(len(stamps))):
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            frame.pts, frame.time_base = k, Fraction(1, 10)
            packets += stream.encode(frame)
        packets += stream.encode(None)
        for k, packet in enumerate(packets):  # the decoding times rise, as a muxer needs
            packet.pts, packet.dts = stamps[k], k - len(stamps)
            container.mux(packet)
    times = [time for time, _ in iter_frames(path, timestamps=True)]
    assert [round((time - times[0]) * 10) for time in times] == [*range(10), *range(20, 40)]
    assert frame_times(path) == [time - times[0] for time in times]


def _video_length(path):
    """From the first video frame's start to the last one's end (pts plus duration), seconds,
    decoded by PyAV."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        first = None
        for frame in container.decode(stream):
            first = frame.pts if first is None else first
        return (frame.pts + frame.duration - first) * stream.time_base


def test_probe_video_duration_of_matroska_and_webm_is_the_video_streams(tmp_path):
    # Matroska stores no per-stream duration: probe_video took the container's, which runs to
    # the end of the audio (2.005 s for the phone clip whose video ends at 1.958 s). Now the
    # video track's DURATION tag (milliseconds), as an MP4's video stream duration
    import av

    source = data_path("video", "mediabunny__rotate-buck-bunny.mp4")  # H.264 and AAC
    remuxed = tmp_path / "bunny.mkv"
    with av.open(str(source)) as src, av.open(str(remuxed), "w") as dst:
        streams = {s.index: dst.add_stream_from_template(s) for s in (src.streams.video[0],
                                                                      src.streams.audio[0])}
        for packet in src.demux(src.streams.video[0], src.streams.audio[0]):
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                dst.mux(packet)
    # a WebM of 1 s of VP9 at 10 fps and 3 s of Opus
    webm = tmp_path / "long_audio.webm"
    with av.open(str(webm), "w") as dst:
        video = dst.add_stream("libvpx-vp9", rate=10)
        video.width, video.height, video.pix_fmt = 32, 32, "yuv420p"
        audio = dst.add_stream("libopus", rate=48000)
        audio.layout = "mono"
        for k in range(10):
            picture = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 20 * k, np.uint8), format="rgb24")
            picture.pts, picture.time_base = k, Fraction(1, 10)
            dst.mux(video.encode(picture))
        dst.mux(video.encode(None))
        tone = (0.3 * np.sin(np.arange(3 * 48000) * 0.05)).astype(np.float32)
        for start in range(0, tone.size, 960):
            piece = av.AudioFrame.from_ndarray(tone[None, start:start + 960], format="flt", layout="mono")
            piece.sample_rate, piece.pts, piece.time_base = 48000, start, Fraction(1, 48000)
            dst.mux(audio.encode(piece))
        dst.mux(audio.encode(None))
    for path, container_duration in ((remuxed, 2.005), (webm, 3.008)):
        info = probe_video(path)
        with av.open(str(path)) as container:
            assert container.duration / 1e6 == pytest.approx(container_duration, abs=0.002)
        # the length from the first frame (the clip's video starts at 0.082 s), as MP4's
        assert info.audio and abs(info.duration - _video_length(path)) <= Fraction(1, 1000), path
        assert len(list(iter_frames(path, resize=(16, 16)))) == (45 if path == remuxed else 10)
    assert probe_video(webm).duration == 1


def test_matroska_starting_late_is_complete_and_lasts_its_length(tmp_path):
    # FFmpeg's Matroska muxer (PyAV's) tags a track with its end time, not its length. The
    # phone clip's video (starting at 0.082 s) shifted by 1.083 s: read as a length, the tag
    # claimed an end 1.165 s after the last frame, and the whole file was refused as cut short
    # (and probe_video's duration was the end time)
    import av

    source = data_path("video", "mediabunny__rotate-buck-bunny.mp4")
    late = tmp_path / "late.mkv"
    with av.open(str(source)) as src, av.open(str(late), "w") as dst:
        video = src.streams.video[0]
        out = dst.add_stream_from_template(video)
        shift = round(Fraction("1.083") / video.time_base)
        for packet in src.demux(video):
            if packet.dts is not None:
                packet.pts += shift
                packet.dts += shift
                packet.stream = out
                dst.mux(packet)
    with av.open(str(late)) as container:
        stream = container.streams.video[0]
        assert stream.start_time * stream.time_base > Fraction(1083, 1000)
        assert container.metadata["ENCODER"].startswith("Lavf")
    frames = list(iter_frames(late, resize=(16, 16)))  # raised "the file is cut short"
    assert len(frames) == 45
    assert abs(probe_video(late).duration - _video_length(late)) <= Fraction(1, 1000)


def test_late_matroska_written_bitexact_is_complete(tmp_path):
    # VideoWriter's .mkv (-fflags +bitexact) names FFmpeg's muxer in a lowercase 'encoder'
    # tag, which the end-time rule of its DURATION tag did not find ('ENCODER'): frames
    # written from 2 s to 3 s were refused as cut short ('the video ends at 1.000 s, its
    # headers say 3.000 s') and probe_video said 3 s
    import av

    path = tmp_path / "late.mkv"
    with VideoWriter(path, 10, codec="ffv1") as writer:
        for k, frame in enumerate(make_frames(10)):
            writer.write(frame, time=2 + Fraction(k, 10))
    with av.open(str(path)) as container:
        assert container.metadata.get("encoder") == "Lavf"
    assert len(list(iter_frames(path))) == 10
    assert probe_video(path).duration == 1

@pytest.mark.parametrize("fps", [Fraction(1, 10), Fraction(1, 3600)])
def test_slow_h264_matroska_reads_to_its_end(tmp_path, fps):
    # H.264 with B-frames in an MKV at a frame every 10 s: FFmpeg's first 5 s of probing left
    # the stream's start unknown and its demuxer then took the fourth frame's time, 30 s, for
    # it, so the frames ended 30 s before the DURATION tag: iter_frames, predict's tail and
    # every command refused flowkit's own file ('the video ends at 50.000 s, its headers say
    # 80.000 s: the file is cut short')
    from flowkit.video import last_frames

    path = write_video(tmp_path / "slow.mkv", make_frames(8), fps=fps, codec="libx264")
    times = [time for time, _ in iter_frames(path, timestamps=True)]
    assert times == [k / fps for k in range(8)]
    assert len(last_frames(path, 2)) == 2
    info = probe_video(path)
    assert info.frame_rate == fps and info.duration == 8 / fps

def test_sixteen_bit_frames_keep_ten_bits():
    path = data_path("video", "torchcodec__h264_10bits.mp4")
    deep = next(iter_frames(path, depth=16))
    shallow = next(iter_frames(path))
    assert deep.dtype == np.uint16 and deep.shape == shallow.shape
    # same picture: the 8-bit frame is the 16-bit one reduced (measured mean 0.39, max 1.49
    # levels; swscale's packed paths, which repeat chroma, gave max 3.6 between them, and 117
    # against the planar 16-bit one)
    difference = np.abs(deep / 257.0 - shallow)
    assert difference.mean() < 0.5 and difference.max() <= 1.5
    # and finer than 8 bits: more than 256 distinct values in the 16-bit frame
    assert np.unique(deep).size > 256
    with pytest.raises(ValueError, match=r"depth: expected 8, 16 or 32, got 10"):
        iter_frames(path, depth=10)


@pytest.mark.parametrize("pix_fmt", ["yuv420p10le", "yuv422p10le", "yuv444p10le"])
def test_ten_bit_flat_patches_read_as_8_bit_levels(tmp_path, pix_fmt):
    # limited-range 10-bit black 64, middle grey 502 and white 940 (chroma 512) are 0, 127.5
    # and 255 of 255 (BT.601/709 alike: grey has no chroma); swscale's packed rgb24 path read
    # 4:2:0 and 4:2:2 white as 253 and grey as 126 (4:4:4: 255, 128)
    levels = (64, 502, 940)
    planes = np.full((16, 48, 3), 512 << 6, np.uint16)
    for k, level in enumerate(levels):
        planes[:, 16 * k:16 * (k + 1), 0] = level << 6
    path = tmp_path / "flat.mkv"
    with VideoWriter(path, 10, codec="ffv1", pix_fmt=pix_fmt, frame_format="yuv444p16le") as writer:
        writer.write(planes)
    frame = next(iter_frames(path))
    for k, expected in enumerate((0, 128, 255)):
        assert np.unique(frame[:, 16 * k:16 * (k + 1)]).tolist() == [expected]


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuv420p10le"])
def test_sixteen_bit_frames_of_odd_width(tmp_path, pix_fmt):
    # swscale's packed rgb48le of 4:2:0 161 wide was garbage after the first row (the shared
    # VP9 clip at depth=16: 85 levels of 255 from its 8-bit frames on average); rows that are
    # all alike come out alike (within the 2 levels by which swscale's 8-bit 4:2:0 conversion
    # in the writer dithers rows), and as at depth=8 within a level on average
    rng = np.random.default_rng(4)
    row = rng.integers(20, 230, (1, 161, 3), dtype=np.uint8)
    path = tmp_path / "odd.mkv"
    with VideoWriter(path, 10, codec="ffv1", pix_fmt=pix_fmt) as writer:
        writer.write(np.repeat(row, 9, axis=0))
    deep, shallow = next(iter_frames(path, depth=16)), next(iter_frames(path))
    assert deep.shape == shallow.shape == (9, 161, 3)
    assert np.abs(deep.astype(float) - deep[:1]).max() <= 2 * 257
    assert np.abs(deep / 257.0 - shallow).mean() < 1.0
    if pix_fmt == "yuv420p":
        # an 8-bit video at depth 16 is its 8-bit frames scaled by 257, as a folder's 8-bit
        # images: swscale's 8-to-16-bit conversion read white as 65283, not 65535
        np.testing.assert_array_equal(deep, shallow.astype(np.uint16) * 257)


@pytest.mark.parametrize("codec, size, smallest", [("libx265", (8, 8), 16),
                                                    ("libx265", (16, 15), 16),
                                                    ("libsvtav1", (2, 2), 4),
                                                    ("libsvtav1", (8, 2), 4)])
def test_writer_names_the_encoders_minimum_size(tmp_path, codec, size, smallest):
    # x265 under 16 pixels and SVT-AV1 under 4 failed with "cannot write 8x8 yuv420p video to
    # '.mkv' files (Invalid argument)", the limit named nowhere; refused before encoding
    if not has_encoder(codec):
        pytest.skip(f"PyAV's FFmpeg has no {codec}")
    width, height = size
    with pytest.raises(ValueError, match=rf"^frame: {codec} encodes frames of at least "
                                         rf"{smallest}x{smallest} pixels, got {width}x{height}$"):
        with VideoWriter(tmp_path / "a.mkv", 24, codec=codec, pix_fmt="yuv444p"
                         if codec == "libx265" else None) as writer:
            writer.write(np.zeros((height, width, 3), np.uint8))
    assert not list(tmp_path.iterdir())
    with VideoWriter(tmp_path / "a.mkv", 24, codec=codec) as writer:  # the minimum is written
        writer.write(np.zeros((smallest, smallest, 3), np.uint8))
    assert len(list(iter_frames(tmp_path / "a.mkv"))) == 1


def test_png_video_keeps_16_bit_frames(tmp_path):
    # PNG's 16-bit format is big-endian (rgb48be), in none of the formats preferred for deep
    # input: 16-bit frames were written as its first format, rgb24 (1001 came back 1028)
    frames = [np.full((16, 16, 3), 1000 * k + 1, np.uint16) for k in range(3)]
    with VideoWriter(tmp_path / "a.mov", 24, codec="png") as writer:
        for frame in frames:
            writer.write(frame)
    assert probe_video(tmp_path / "a.mov").bit_depth == 16
    np.testing.assert_array_equal(np.stack(list(iter_frames(tmp_path / "a.mov", depth=16))),
                                  np.stack(frames))


@pytest.mark.parametrize("codec, suffix", [("jpegls", ".avi"), ("gif", ".gif")])
def test_sixteen_bit_colour_is_not_written_as_gray(tmp_path, codec, suffix):
    # the deepest-format fallback ranked formats by their first component's bits: jpegls took
    # gray16le and gif a gray format, so pure red came back [70, 70, 70]
    import av

    if codec not in av.codecs_available:
        pytest.skip(f"PyAV's FFmpeg has no {codec} encoder")
    frame = np.zeros((32, 32, 3), np.uint16)
    frame[..., 0] = 60000
    path = tmp_path / f"red{suffix}"
    with VideoWriter(path, 10, codec=codec) as writer:
        writer.write(frame)
    red, green, blue = next(iter_frames(path))[16, 16].astype(int)
    assert red > 200 and green < 30 and blue < 30, (red, green, blue)


def test_white_of_an_8_bit_video_at_depth_16_is_65535(tmp_path):
    path = tmp_path / "white.mkv"
    with VideoWriter(path, 10, codec="ffv1", pix_fmt="yuv420p") as writer:
        writer.write(np.full((16, 24, 3), 255, np.uint8))
    assert np.unique(next(iter_frames(path, depth=16))).tolist() == [65535]


@pytest.mark.parametrize("pix_fmt", ["gbrp10le", "gbrp12le", "gray10le"])
def test_deep_planar_rgb_and_gray_read_on_the_full_scale(tmp_path, pix_fmt):
    # a sample v of N bits is round(v * 65535 / (2^N - 1)) at depth 16, round(v * 255 /
    # (2^N - 1)) at 8: swscale took gbrp10le through YUV (each value depending on the other
    # channels, up to 90 of 65535 off; at depth 8 one level in a third of the samples) and
    # shifted gray up (1023 as 65472)
    path, top, rgb = deep_planar_clip(tmp_path / "deep.mkv", "ffv1", pix_fmt, 64, 32, 5)
    for depth, full in ((16, 65535), (8, 255)):
        expected = (rgb * full + top // 2) // top
        np.testing.assert_array_equal(next(iter_frames(path, depth=depth)), expected)


def deep_planar_clip(path, codec, pix_fmt, width, height, seed):
    """One frame of random samples of the planar RGB or gray ``pix_fmt`` (9 to 16 bits, either
    byte order; 0 and the largest sample first), written with ``codec``: ``(path, largest
    sample, the frame's R, G, B as int64)``, gray repeated in the three."""
    import av

    top = (1 << int(re.search(r"(\d+)[lb]e$", pix_fmt)[1])) - 1
    rng = np.random.default_rng(seed)
    frame = av.VideoFrame(width, height, pix_fmt)
    planes = []
    for plane in frame.planes:
        samples = rng.integers(0, top + 1, (plane.height, plane.line_size // 2), np.uint16)
        samples[0, :2] = 0, top
        plane.update(samples.astype(">u2" if pix_fmt.endswith("be") else "<u2"))
        planes.append(samples[:, :plane.width].astype(np.int64))
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        container.mux(stream.encode(frame))
        container.mux(stream.encode())
    rgb = np.dstack(planes * 3 if len(planes) == 1 else [planes[2], planes[0], planes[1]])
    return path, top, rgb


@pytest.mark.parametrize("pix_fmt", ["gbrp10le", "gbrp12le", "gbrap10le"])
def test_sixteen_bit_frames_to_deep_planar_rgb_come_back_within_half_a_level(tmp_path, pix_fmt):
    # swscale's rgb48le to gbrp10le truncated (x >> 6): a round trip was off by up to 63 of
    # 65535, a whole 10-bit level; now each value is the nearest N-bit one
    rng = np.random.default_rng(6)
    frames = rng.integers(0, 65536, (2, 16, 24, 3), dtype=np.uint16)
    frames[0, 0, :4, 0] = 0, 31, 33, 65535
    path = tmp_path / "deep.mkv"
    with VideoWriter(path, 10, codec="ffv1", pix_fmt=pix_fmt) as writer:
        for frame in frames:
            writer.write(frame)
    half = 65535 / ((1 << int(pix_fmt[-4:-2])) - 1) / 2
    for got, frame in zip(iter_frames(path, depth=16), frames):
        assert np.abs(got.astype(np.int64) - frame).max() <= half + 0.5


@pytest.mark.parametrize("pix_fmt", ["gray10le", "gray12le", "gray16le"])
def test_sixteen_bit_gray_frames_to_deep_gray_come_back_within_half_a_level(tmp_path, pix_fmt):
    # swscale's rgb48le to gray16le/gray10le stretched gray by 65535/65280 (32767 as 32894,
    # 65280 and up as 65535): up to 255 of 65535 off, and a lossless gray16le FFV1 retimed
    # at factor 1 came out changed; now each value is the nearest N-bit one
    rng = np.random.default_rng(7)
    frames = rng.integers(0, 65536, (2, 16, 24), dtype=np.uint16)
    frames[0, 0, :4] = 0, 32767, 65280, 65535
    path = tmp_path / "deep.mkv"
    with VideoWriter(path, 10, codec="ffv1", pix_fmt=pix_fmt) as writer:
        for frame in frames:
            writer.write(frame)
    half = 65535 / ((1 << int(pix_fmt[4:6])) - 1) / 2
    for got, frame in zip(iter_frames(path, depth=16, gray=True), frames):
        assert np.abs(got.astype(np.int64) - frame).max() <= half + 0.5


@pytest.mark.parametrize("pix_fmt", ["gbrp10be", "gray12be"])
def test_big_endian_planar_rgb_and_gray_read_and_written_on_the_full_scale(tmp_path, pix_fmt):
    # big-endian planar formats (raw video in NUT) went through swscale as the little-endian
    # ones did: gbrp10be read up to 94 of 65535 off at depth 16, one level in a third of the
    # samples at 8; written, gbrp10be up to 89 off, gray10be 220
    path, top, rgb = deep_planar_clip(tmp_path / "deep.nut", "rawvideo", pix_fmt, 33, 17,
                                      8)  # odd: rows padded
    rng = np.random.default_rng(8)
    for depth, full in ((16, 65535), (8, 255)):
        expected = (rgb * full + top // 2) // top
        np.testing.assert_array_equal(next(iter_frames(path, depth=depth)), expected)
    gray = pix_fmt.startswith("gray")
    frames = rng.integers(0, 65536, (2, 16, 24) if gray else (2, 16, 24, 3), dtype=np.uint16)
    path = tmp_path / "written.nut"
    with VideoWriter(path, 10, codec="rawvideo", pix_fmt=pix_fmt) as writer:
        for each in frames:
            writer.write(each)
    for got, each in zip(iter_frames(path, depth=16, gray=gray), frames):
        assert np.abs(got.astype(np.int64) - each).max() <= 65535 / top / 2 + 0.5


def _with_cover(path, video=True):
    """A file with an attached picture (a JPEG cover, which FFmpeg reads as a video stream with
    the attached_pic disposition): MP4's 'covr' beside AAC audio, or a Matroska attachment;
    with ``video``, a 64x48 H.264 video of 5 frames before it."""
    import av

    cover = cv2.imencode(".jpg", np.full((32, 32, 3), 200, np.uint8))[1].tobytes()
    with av.open(str(path), "w") as container:
        if path.suffix == ".mkv":
            container.add_attachment("cover.jpg", "image/jpeg", cover)
        if video:
            stream = container.add_stream("libx264", rate=10)
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        audio = container.add_stream("aac", rate=48000)
        audio.layout = "mono"
        if path.suffix != ".mkv":
            picture = container.add_stream("mjpeg", rate=1)
            picture.width, picture.height, picture.pix_fmt = 32, 32, "yuvj420p"
            picture.disposition = av.stream.Disposition.attached_pic
            packet = av.Packet(cover)
            packet.stream, packet.pts, packet.dts = picture, 0, 0
            container.mux(packet)
        for k in range(5 if video else 0):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 40 * k, np.uint8), format="rgb24")
            frame.pts = k
            container.mux(stream.encode(frame))
        if video:
            container.mux(stream.encode(None))
        sound = av.AudioFrame.from_ndarray(np.zeros((1, 24000), np.float32), format="fltp",
                                           layout="mono")
        sound.sample_rate, sound.pts = 48000, 0
        container.mux(audio.encode(sound))
        container.mux(audio.encode(None))
    return path


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_an_attached_picture_is_not_the_video(tmp_path, suffix):
    # cover art is a video stream to FFmpeg, marked attached_pic: it was counted as 'not
    # written: the input's other streams (1 video)', and an M4A-like file with a cover alone
    # was read as a one-frame 32x32 'video' at 90000 fps ('cut short or damaged' on reading)
    import av

    from flowkit.video import open_input, streams_not_written

    path = _with_cover(tmp_path / f"cover{suffix}")
    with av.open(str(path)) as container:
        assert sorted(s.type for s in container.streams) == ["audio", "video", "video"]
    info = probe_video(path)
    assert (info.codec, info.width, info.height, info.frame_rate) == ("h264", 64, 48, 10)
    assert len(list(iter_frames(path))) == 5
    container, stream = open_input(path)
    with container:
        assert streams_not_written(container, stream) == ["attached picture"]
    if suffix == ".mp4":
        alone = _with_cover(tmp_path / "song.mp4", video=False)
        for call in (probe_video, iter_frames):
            with pytest.raises(ValueError, match=r"path: .*song\.mp4 holds no video stream "
                                                 r"\(only an attached picture: cover art\)"):
                call(alone)


def test_variable_frame_rate_timestamps_match_opencv():
    path = data_path("video", "torchcodec__var_fps_video.mp4")
    times = [t for t, _ in iter_frames(path, timestamps=True)]
    capture = cv2.VideoCapture(str(path))
    msec = []
    while capture.grab():
        msec.append(capture.get(cv2.CAP_PROP_POS_MSEC))
    capture.release()
    assert len(times) == len(msec) == 300
    assert all(isinstance(t, Fraction) for t in times)
    # OpenCV reports milliseconds from the same pts: equal within its float rounding
    np.testing.assert_allclose([float(t) * 1000 for t in times], msec, atol=1e-3)
    steps = np.diff([float(t) for t in times])
    assert steps.min() > 0 and steps.max() > 1.5 * steps.min()  # irregular, as the file is


@pytest.mark.parametrize("name", ["androidx__bear-vp9-odd-dimensions.webm", "torchcodec__h264_10bits.mp4",
                                  "torchcodec__nasa_13013.mp4", "torchcodec__var_fps_video.mp4",
                                  "zwm__clip_01_tears_of_steel.mp4"])
def test_frame_times_are_the_decoded_times(name):
    """frame_times (demuxed packets, no decoding; a chunked flow job's join) gives the times
    iter_frames gives, from the first frame (all 8 shared clips agreed when this was written;
    the quick ones here: VP9 in WebM, variable frame rate, 10-bit, B-frames)."""
    from flowkit.video import frame_times

    path = data_path("video", name)
    times = [t for t, _ in iter_frames(path, timestamps=True)]
    assert frame_times(path) == [t - times[0] for t in times]


def test_timestamps_need_a_video(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match=r"is a folder of images; timestamps are for video files"):
        iter_frames(tmp_path, timestamps=True)


def test_image_folder_depth_16(tmp_path):
    # 16-bit PNGs (values above 255, most not multiples of 257) come back exactly with
    # depth=16, RGB and gray (BGR2GRAY on the 16-bit frame); depth=8 is OpenCV's reduction, as
    # before; an 8-bit folder read at depth=16 is scaled by 257, as FFmpeg's rgb48 scales 8-bit
    # video; image_folder_depth tells them apart by the first image
    from flowkit.video import image_folder_depth

    rng = np.random.default_rng(1)
    deep = [rng.integers(0, 65536, (HEIGHT, WIDTH, 3), dtype=np.uint16) for _ in range(3)]
    folder = tmp_path / "deep"
    folder.mkdir()
    for k, frame in enumerate(deep):
        cv2.imwrite(str(folder / f"f{k}.png"), frame[..., ::-1])
    got = list(iter_frames(folder, depth=16))
    assert len(got) == 3 and all(g.dtype == np.uint16 for g in got)
    np.testing.assert_array_equal(np.stack(got), np.stack(deep))
    assert (got[0] % 257 != 0).mean() > 0.99
    gray = next(iter_frames(folder, depth=16, gray=True))
    np.testing.assert_array_equal(gray, cv2.cvtColor(deep[0], cv2.COLOR_RGB2GRAY))
    eight = next(iter_frames(folder))
    reference = cv2.cvtColor(cv2.imread(str(folder / "f0.png")), cv2.COLOR_BGR2RGB)
    assert eight.dtype == np.uint8
    np.testing.assert_array_equal(eight, reference)
    assert image_folder_depth(folder) == 16
    shallow = tmp_path / "shallow"
    shallow.mkdir()
    frame = make_frames(1)[0]
    cv2.imwrite(str(shallow / "a.png"), frame[..., ::-1])
    assert image_folder_depth(shallow) == 8
    np.testing.assert_array_equal(next(iter_frames(shallow, depth=16)), frame.astype(np.uint16) * 257)
    floats = tmp_path / "floats"
    floats.mkdir()
    cv2.imwrite(str(floats / "a.tif"), np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match=r"path: image .*a\.tif has float32 samples; depth=16 reads 8- "
                                         r"and 16-bit images"):
        next(iter_frames(floats, depth=16))
    # at depth 8 (flow and predict read a folder whose first image is not 16-bit so): it said
    # "OpenCV cannot read the image", of a file flow and interpolate read as two images
    with pytest.raises(ValueError, match=r"^path: image .*a\.tif has float32 samples; the images "
                                         r"of a folder are read as 8- or 16-bit, or as float with "
                                         r"depth=32$"):
        next(iter_frames(floats))


def test_signed_integer_images_need_depth_32(tmp_path):
    # a CT's int16 slices (Hounsfield units) at the default depth went through OpenCV's
    # reduction to 8 bits, which reads them as unsigned: -1300 came back as 250, 300 as 1
    # (the values inverted around 0), without a word; depth=32 reads them as stored
    values = np.array([[-1300, -100], [0, 300]], np.int16).repeat(4, 0).repeat(4, 1)
    folder = tmp_path / "ct"
    folder.mkdir()
    cv2.imwrite(str(folder / "s0.tif"), values)
    stack = tmp_path / "ct.tif"
    assert cv2.imwritemulti(str(stack), [values, values])
    for path, first in ((folder, r"image .*s0\.tif"), (stack, r"page 1 of .*ct\.tif")):
        for depth in (8, 16):
            with pytest.raises(ValueError, match=rf"^path: {first} has int16 samples \(signed "
                                                 r"integers\); read them with depth=32, as "
                                                 r"float32 values as stored$"):
                iter_frames(path, depth=depth)
        np.testing.assert_array_equal(next(iter_frames(path, gray=True, depth=32)), values)


def test_image_folder_depth_32_reads_float_tiffs(tmp_path):
    # float TIFFs (radar, microscopy) come back as stored, float32 (float64 cast), gray or
    # RGB; image_folder_depth says 32; depth=32 is for folders only
    from flowkit.video import image_folder_depth

    rng = np.random.default_rng(2)
    stored = [rng.normal(50, 20, (HEIGHT, WIDTH, 3)), rng.normal(50, 20, (HEIGHT, WIDTH))]
    for k, (dtype, image) in enumerate(zip((np.float32, np.float64), stored)):
        folder = tmp_path / f"f{k}"
        folder.mkdir()
        cv2.imwrite(str(folder / "a.tif"), image.astype(dtype))
        assert image_folder_depth(folder) == 32
        frame = next(iter_frames(folder, depth=32))
        assert frame.dtype == np.float32 and frame.shape == (HEIGHT, WIDTH, 3)
        expected = image.astype(dtype).astype(np.float32)
        expected = expected[..., ::-1] if expected.ndim == 3 else np.dstack([expected] * 3)
        np.testing.assert_array_equal(frame, expected)
    path = tmp_path / "v.mkv"
    write_video(path, make_frames(2), 10)
    with pytest.raises(ValueError, match=r"^depth: 32 \(float32 frames\) is for a folder of float "
                                         r"TIFF images; .*v\.mkv is a video file"):
        iter_frames(path, depth=32)


def test_image_folder_depth_32_reads_signed_integer_tiffs_as_their_values(tmp_path):
    # int16 TIFFs (a CT's Hounsfield units) have no [0, max] scale: depth 32, their values
    # as float32 (depth 8 had them reduced to 8 bits by OpenCV, negative values 0)
    from flowkit.video import image_folder_depth

    image = (np.arange(HEIGHT * WIDTH).reshape(HEIGHT, WIDTH) % 4000 - 1024).astype(np.int16)
    cv2.imwrite(str(tmp_path / "a.tif"), image)
    assert image_folder_depth(tmp_path) == 32
    frame = next(iter_frames(tmp_path, depth=32, gray=True))
    assert frame.dtype == np.float32
    np.testing.assert_array_equal(frame, image.astype(np.float32))


def test_a_single_page_tiff_is_named_an_image_when_timestamps_are_asked(tmp_path):
    # it was called "a TIFF of 1 pages"
    cv2.imwrite(str(tmp_path / "a.tif"), np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"a\.tif is a TIFF image; timestamps are for video "):
        iter_frames(tmp_path / "a.tif", timestamps=True)


def test_multi_page_tiff_is_read_page_by_page(tmp_path):
    # a time-lapse stack (ImageJ, cv2.imwritemulti, tifffile) was read by PyAV as one frame,
    # its first page, without a word (a float32 one not at all): now every page, in order, at
    # the depth of a folder's images; image_folder_depth and image_folder_gray read page 1
    from flowkit.video import image_folder_depth, image_folder_gray, tiff_pages

    rng = np.random.default_rng(3)
    stacks = {np.uint8: rng.integers(0, 256, (5, HEIGHT, WIDTH), np.uint8),
              np.uint16: rng.integers(0, 65536, (5, HEIGHT, WIDTH), np.uint16),
              np.float32: rng.normal(50, 20, (5, HEIGHT, WIDTH)).astype(np.float32)}
    for (dtype, pages), depth in zip(stacks.items(), (8, 16, 32)):
        path = tmp_path / f"{np.dtype(dtype).name}.tif"
        assert cv2.imwritemulti(str(path), list(pages))
        assert tiff_pages(path) == 5 and image_folder_depth(path) == depth
        assert image_folder_gray(path)
        frames = list(iter_frames(path, gray=True, depth=depth))
        np.testing.assert_array_equal(np.stack(frames), pages)
        np.testing.assert_array_equal(np.stack(list(iter_frames(path, gray=True, step=2,
                                                                depth=depth))), pages[::2])
        assert next(iter_frames(path, depth=depth)).shape == (HEIGHT, WIDTH, 3)
    with pytest.raises(ValueError, match=r"^path: page 1 of .*float32\.tif has float32 samples; "
                                         r"image stacks are read as 8- or 16-bit, or as float "
                                         r"with depth=32$"):
        next(iter_frames(tmp_path / "float32.tif"))
    with pytest.raises(ValueError, match=r"^path: .*uint8\.tif is a TIFF of 5 pages; timestamps "
                                         r"are for video files$"):
        iter_frames(tmp_path / "uint8.tif", timestamps=True)
    mixed = tmp_path / "mixed.tiff"
    cv2.imwritemulti(str(mixed), [stacks[np.uint8][0], stacks[np.uint8][1, :, :32]])
    with pytest.raises(ValueError, match=r"^path: page 2 of .*mixed\.tiff is 32x24, the first "):
        list(iter_frames(mixed))


def test_a_long_tiff_stack_is_read_in_runs_not_a_walk_per_page(tmp_path, monkeypatch):
    # OpenCV walks a TIFF's pages from the first to the one asked for, and iter_frames asked
    # for one page at a time: 2000 pages of 64x64 took 139 s (the square of the count) ->
    # runs of pages: OpenCV is asked to start at fewer pages than the stack has, in all
    pages = np.random.default_rng(5).integers(0, 256, (300, 8, 8), np.uint8)
    path = tmp_path / "long.tif"
    assert cv2.imwritemulti(str(path), list(pages))
    walked, read = [], cv2.imreadmulti

    def counted(file, start=0, count=-1, **kwargs):
        walked.append(start)
        return read(file, start, count, **kwargs)

    monkeypatch.setattr(cv2, "imreadmulti", counted)
    np.testing.assert_array_equal(np.stack(list(iter_frames(path, gray=True))), pages)
    np.testing.assert_array_equal(np.stack(list(iter_frames(path, gray=True, step=7))),
                                  pages[::7])
    assert sum(walked) < 2 * len(pages), sum(walked)
    # a page OpenCV cannot decode within a run is still named
    mixed = tmp_path / "mixed.tif"
    assert cv2.imwritemulti(str(mixed), [pages[0], pages[1], pages[2].astype(np.float32),
                                         pages[3]])
    with pytest.raises(ValueError, match=r"^path: page 3 of .*mixed\.tif has float32 samples"):
        list(iter_frames(mixed))


def test_a_folder_holding_a_multi_page_tiff_is_refused(tmp_path):
    # each TIFF of a folder was read as its first page: a folder of stacks (one per field of
    # view) became a clip of their first pages without a word
    pages = [frame[..., 0] for frame in make_frames(3)]
    for name in ("a.tif", "b.tif"):
        cv2.imwritemulti(str(tmp_path / name), pages)
    with pytest.raises(ValueError, match=r"^path: .*a\.tif is a TIFF of 3 pages, an image stack: "
                                         r"a folder's images are a frame each; give the TIFF "
                                         r"alone to read its pages as frames$"):
        next(iter_frames(tmp_path))


@pytest.mark.parametrize("name, kind", [("img_%04d.png", "an FFmpeg image-sequence pattern"),
                                        ("img_%d.tif", "an FFmpeg image-sequence pattern"),
                                        ("*.png", "a glob pattern")])
def test_an_image_sequence_pattern_names_the_folder_to_give(tmp_path, capsys, name, kind):
    # ffmpeg -i frames/img_%04d.png: flowkit said 'no such video file or image folder' alone
    from flowkit.cli import main

    (tmp_path / "img_0001.png").write_bytes(b"")
    hint = (f"{re.escape(name)} is {kind}, which flowkit does not expand: give the folder "
            f"{re.escape(str(tmp_path))}, whose images are read in natural order of their names")
    with pytest.raises(FileNotFoundError, match=r"^path: no such video file or image folder: "
                                                r".*\(" + hint + r"\)$"):
        iter_frames(tmp_path / name)
    assert main(["predict", str(tmp_path / name), str(tmp_path / "out"), "--horizon", "1"]) == 1
    assert re.fullmatch(r"flowkit: error: INPUT: .*\(" + hint + r"\)\n", capsys.readouterr().err)


def test_an_animated_webp_is_named_as_such(tmp_path):
    # FFmpeg's WebP decoder reads no animation: an animated WebP was 'cannot decode the video
    # stream (unknown codec or damaged headers)', blaming the file
    path = animated_webp(tmp_path / "anim.webp", make_frames(3))
    for read in (iter_frames, probe_video):
        with pytest.raises(ValueError, match=r"^path: .*anim\.webp is an animated WebP \(3 "
                                             r"frames\), which FFmpeg cannot decode; convert it"):
            read(path)


def test_a_folder_holding_an_animated_webp_is_refused(tmp_path):
    # cv2.imdecode reads an animated WebP's first frame alone: a folder holding one read it as
    # a frame without a word (iter_frames of the file itself is refused) -> ValueError naming it
    frames = make_frames(3)
    cv2.imwrite(str(tmp_path / "a.png"), frames[0])
    cv2.imwrite(str(tmp_path / "c.webp"), frames[2], [cv2.IMWRITE_WEBP_QUALITY, 101])
    animated_webp(tmp_path / "b.webp", frames)
    with pytest.raises(ValueError, match=r"^path: .*b\.webp is an animated WebP of 3 frames: a "
                                         r"folder's images are a frame each; convert it"):
        list(iter_frames(tmp_path))
    (tmp_path / "b.webp").unlink()
    assert len(list(iter_frames(tmp_path))) == 2  # a still WebP is an image


def test_image_folder_gray(tmp_path):
    # the command line reads a folder whose first image is gray (gray + alpha too) as gray;
    # iter_frames yields a gray image's values exactly, RGB or gray, at 8 and 16 bits
    from flowkit.video import image_folder_gray

    Image = pytest.importorskip("PIL.Image")
    gray = make_frames(1)[0][..., 1]
    kinds = {"gray": gray, "rgb": np.dstack([gray] * 3), "rgba": np.dstack([gray] * 4),
             "gray16": gray.astype(np.uint16) * 250}
    for name, image in kinds.items():
        (tmp_path / name).mkdir()
        cv2.imwrite(str(tmp_path / name / "a.png"), image)
    (tmp_path / "la").mkdir()
    Image.fromarray(np.dstack([gray, gray // 2]), "LA").save(tmp_path / "la" / "a.png")
    names = ("gray", "gray16", "la", "rgb", "rgba")
    assert [image_folder_gray(tmp_path / name) for name in names] == [True] * 3 + [False] * 2
    for name, depth in (("gray", 8), ("la", 8), ("gray16", 16)):
        expected = kinds.get(name, gray)
        np.testing.assert_array_equal(next(iter_frames(tmp_path / name, gray=True, depth=depth)),
                                      expected)
        np.testing.assert_array_equal(next(iter_frames(tmp_path / name, depth=depth)),
                                      np.dstack([expected] * 3))


def test_writer_exact_fractional_rate_and_rotation(tmp_path):
    path = tmp_path / "ntsc.mp4"
    frames = make_frames(5)
    with VideoWriter(path, Fraction(24000, 1001), rotation=90, crf=10) as writer:
        for frame in frames:
            writer.write(frame)
    info = probe_video(path)
    assert info.frame_rate == Fraction(24000, 1001) and info.rotation == 90
    times = [t for t, _ in iter_frames(path, timestamps=True)]
    assert times == [k * Fraction(1001, 24000) for k in range(5)]
    upright = next(iter_frames(path))
    assert upright.shape == (WIDTH, HEIGHT, 3)  # turned by the player's 90 degrees
    # counter-clockwise, as FFmpeg's display matrix: the first column becomes the last row
    assert np.abs(upright.astype(int) - np.rot90(frames[0]).astype(int)).mean() < 25


@pytest.mark.parametrize("fps", [Fraction(1, 10**6), Fraction(1, 86400), Fraction(1, 3600)])
def test_a_very_slow_mkv_reads_its_own_rate(tmp_path, fps):
    # FFmpeg's rates below 1/12 fps are not its timestamps': an MKV written at 1e-6 fps read
    # 1/4 fps (ffprobe: r_frame_rate 1/4, avg_frame_rate 0/0), one at a frame a day 1/60000
    # (its average reduced to a denominator of 60000); base_rate, retime's grid, the same
    path = write_video(tmp_path / "slow.mkv", make_frames(3), fps)
    info = probe_video(path)
    assert (info.frame_rate, info.base_rate) == (fps, fps)
    assert [t for t, _ in iter_frames(path, timestamps=True)] == [k / fps for k in range(3)]


def test_writer_sixteen_bit_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 65536, (HEIGHT, WIDTH, 3), dtype=np.uint16) for _ in range(2)]
    path = write_video(tmp_path / "deep.mkv", frames)  # ffv1, planar 16-bit RGB
    for got, expected in zip(iter_frames(path, depth=16), frames):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("frame_format, dtype", [("yuv444p", np.uint8), ("yuv444p16le", np.uint16)])
def test_writer_yuv_frames_round_trip_exactly(tmp_path, frame_format, dtype):
    from flowkit.video import decode, open_input

    rng = np.random.default_rng(2)
    high = np.iinfo(dtype).max + 1
    frames = [rng.integers(0, high, (HEIGHT, WIDTH, 3), dtype=dtype) for _ in range(2)]
    path = tmp_path / "yuv.mkv"
    with VideoWriter(path, 10, codec="ffv1", pix_fmt=frame_format, frame_format=frame_format) as writer:
        for frame in frames:
            writer.write(frame)
        with pytest.raises(ValueError, match=rf"frame: expected \(H, W, 3\) .* {frame_format} planes"):
            writer.write(frames[0][..., 0])
    container, stream = open_input(path)
    got = [f for _, f in decode(container, stream, frame_format=frame_format)]
    container.close()
    for frame, expected in zip(got, frames):
        np.testing.assert_array_equal(frame, expected)
    with pytest.raises(ValueError, match=r"frame_format: expected None or one of"):
        VideoWriter(tmp_path / "x.mkv", 10, frame_format="nv12")


def test_writer_yuv_planes_into_subsampled_deep_formats(tmp_path):
    # (H, W, 3) 16-bit planes into yuv420p10le without swscale: luma rounded to 10 bits, chroma
    # the mean of each 2x2 block (odd edges repeated) rounded to 10 bits (reference: float64
    # NumPy, round half up); decode(frame_format=) gives the planes back with chroma repeated
    # and samples on the 16-bit scale (v << 6), which the writer turns into the same file
    import av

    from flowkit.video import decode, open_input

    rng = np.random.default_rng(3)
    height, width = 7, 9
    frame = rng.integers(0, 65536, (height, width, 3), dtype=np.uint16)
    path = tmp_path / "deep.mkv"
    with VideoWriter(path, 10, codec="ffv1", pix_fmt="yuv420p10le", frame_format="yuv444p16le") as writer:
        writer.write(frame)
    padded = np.pad(frame.astype(np.float64), ((0, 1), (0, 1), (0, 0)), mode="edge")
    means = padded.reshape(4, 2, 5, 2, 3).mean(axis=(1, 3))
    expected = [np.floor(frame[..., 0] / 64 + 0.5), np.floor(means[..., 1] / 64 + 0.5),
                np.floor(means[..., 2] / 64 + 0.5)]
    with av.open(str(path)) as container:
        decoded = next(container.decode(video=0))
        assert decoded.format.name == "yuv420p10le"
        for plane, want in zip(decoded.planes, expected):
            got = np.frombuffer(plane, np.uint16).reshape(plane.height, -1)[:, :plane.width]
            np.testing.assert_array_equal(got, np.minimum(want, 1023))
    container, stream = open_input(path)
    (_, planes), = list(decode(container, stream, frame_format="yuv444p16le"))
    container.close()
    full = [np.minimum(want, 1023).astype(np.uint16) << 6 for want in expected]
    np.testing.assert_array_equal(planes[..., 0], full[0])
    for index in (1, 2):
        np.testing.assert_array_equal(planes[..., index], full[index].repeat(2, 0).repeat(2, 1)[:height, :width])
    again = tmp_path / "again.mkv"
    with VideoWriter(again, 10, codec="ffv1", pix_fmt="yuv420p10le", frame_format="yuv444p16le") as writer:
        writer.write(planes)
    container, stream = open_input(again)
    (_, back), = list(decode(container, stream, frame_format="yuv444p16le"))
    container.close()
    np.testing.assert_array_equal(back, planes)


def test_libx264_output_is_reproducible(tmp_path):
    """The same frames give the same file: x264's macroblock tree, on by default, made runs
    differ (decoded up to 35 levels apart) on AVX-512 CPUs; VideoWriter turns it off. About one
    run in two differed on this clip before."""
    frames = list(itertools.islice(iter_frames(data_path("video", "zwm__clip_01_tears_of_steel.mp4"),
                                               resize=(320, 180)), 60))
    written = []
    for k in range(3):
        with VideoWriter(tmp_path / f"run{k}.mp4", 24, codec="libx264", crf=18) as writer:
            for frame in frames:
                writer.write(frame)
        written.append((tmp_path / f"run{k}.mp4").read_bytes())
    assert written[1] == written[0] and written[2] == written[0]



@pytest.mark.parametrize("pix_fmt", ["yuv420p10le", "yuv444p10le"])
def test_16_bit_rgb_to_10_bit_yuv_is_reproducible(tmp_path, pix_fmt):
    """The same 16-bit RGB frames give the same 10-bit YUV video: swscale on a thread per core
    (PyAV's default in encode()) converted the first pixels of each slice's first row
    differently from run to run (translate of the 10-bit clip, FFV1: 2 runs, 2 results)."""
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 65536, (6, 200, 200, 3), dtype=np.uint16)
    decoded = []
    for k in range(4):
        path = tmp_path / f"run{k}.mkv"
        with VideoWriter(path, 24, codec="ffv1", pix_fmt=pix_fmt) as writer:
            for frame in frames:
                writer.write(frame)
        decoded.append(np.stack(list(iter_frames(path, depth=16))))
    for k in range(1, 4):
        np.testing.assert_array_equal(decoded[k], decoded[0])

def test_writer_frames_at_given_times(tmp_path):
    # write(time=) on the writer's time_base: the times come back exactly (MKV: 1/1000 s);
    # a time not after the previous frame's is refused before anything is encoded
    path = tmp_path / "vfr.mkv"
    times = [Fraction(0), Fraction(3, 100), Fraction(1, 10), Fraction(37, 100)]
    frame = np.zeros((16, 16, 3), np.uint8)
    with VideoWriter(path, 10, time_base=Fraction(1, 1000)) as writer:
        for time in times:
            writer.write(frame, time=time)
        with pytest.raises(ValueError, match=r"time: expected a time after the previous frame's 0.37 s"):
            writer.write(frame, time=Fraction(37, 100))
    assert [t for t, _ in iter_frames(path, timestamps=True)] == times


@pytest.mark.parametrize("time, error, message", [
    (float("nan"), ValueError, "time: expected a finite number, got nan"),
    (float("inf"), ValueError, "time: expected a finite number, got inf"),
    ("0.5", TypeError, "time: expected a real number, got '0.5'"),
])
def test_writer_refuses_a_time_that_is_no_finite_number(tmp_path, time, error, message):
    # Fraction(time) raised "cannot convert NaN to integer ratio" (an OverflowError for
    # infinity), naming no parameter, and took a string; the writer stays usable after
    frame = np.zeros((16, 16, 3), np.uint8)
    with VideoWriter(tmp_path / "a.mkv", 10, time_base=Fraction(1, 1000)) as writer:
        writer.write(frame, time=0)
        with pytest.raises(error, match=re.escape(message)):
            writer.write(frame, time=time)
        writer.write(frame, time=np.float32(0.5))  # NumPy floats: their exact value
    assert [t for t, _ in iter_frames(tmp_path / "a.mkv", timestamps=True)] == [0, Fraction(1, 2)]


@pytest.mark.parametrize("color, error, message", [
    ({"colorspce": 1}, ValueError, "color: expected tags among colorspace, color_range, "
                                   "color_primaries, color_trc, got 'colorspce'"),
    ({"colorspace": "bt709"}, TypeError, "color['colorspace']: expected an integer, got 'bt709'"),
    ({"color_range": -1}, ValueError, "color['color_range']: expected an integer >= 0, got -1"),
    ([("colorspace", 1)], TypeError, "color: expected None or a dict of colorspace, "
                                     "color_range, color_primaries, color_trc, got [("),
])
def test_writer_refuses_bad_color_tags_when_made(tmp_path, color, error, message):
    # they reached PyAV at the first frame: an AttributeError for the typo, "an integer is
    # required", an OverflowError, naming no parameter, after the file was begun
    with pytest.raises(error, match=re.escape(message)):
        VideoWriter(tmp_path / "a.mp4", 10, color=color)
    assert list(tmp_path.iterdir()) == []
    with VideoWriter(tmp_path / "a.mp4", 10, color={"colorspace": np.int64(1)}) as writer:
        writer.write(np.zeros((16, 16, 3), np.uint8))
    assert probe_video(tmp_path / "a.mp4").color["colorspace"] == 1


@pytest.mark.parametrize("name, stored", [("a.mp4", 90), ("a.mkv", 90), ("a.webm", 90),
                                          ("a.avi", 0), ("a.ts", 0)])
def test_a_rotation_the_container_cannot_store_turns_the_frames(tmp_path, name, stored):
    # AVI and MPEG-TS drop the display rotation (a phone clip retimed or translated to .avi came
    # out sideways): there the frames are stored turned and displayed the same
    frames = [np.zeros((36, 64, 3), np.uint8) for _ in range(2)]
    for k, frame in enumerate(frames):
        frame[:12, :20] = 200  # a bright corner: top left as given
        frame[..., 1] = 60 * k
    with VideoWriter(tmp_path / name, 10, codec="libx264" if name == "a.ts" else None,
                     rotation=90) as writer:
        for frame in frames:
            writer.write(frame)
        with pytest.raises(ValueError, match="expected size 64x36"):
            writer.write(np.zeros((64, 36, 3), np.uint8))  # the size given, not the stored one
    assert (writer.rotation, writer._size) == (stored, (36, 64))
    info = probe_video(tmp_path / name)
    assert (info.rotation, info.width, info.height) == (stored, 36, 64)
    upright = np.stack(list(iter_frames(tmp_path / name))).astype(int)
    expected = np.stack([np.rot90(frame, 1) for frame in frames]).astype(int)
    assert np.abs(upright - expected).mean() < 3


def test_avi_drops_a_frame_on_the_slot_of_the_frame_before(tmp_path):
    # AVI stores a frame rate, not times: times are rounded to 1 / fps, and a later frame that
    # rounds onto the previous frame's slot (0.21 s onto 0.2 s at 30 fps) was a time-order
    # ValueError; it is dropped (write returns False, counted), the first of the slot kept. A
    # time not after the previous frame's is still an error, and other containers keep refusing
    # a collision on their time base
    times = [Fraction(ms, 1000) for ms in (0, 100, 200, 210, 215, 300)]
    frames = [np.full((16, 16, 3), 40 * k, np.uint8) for k in range(len(times))]
    with VideoWriter(tmp_path / "a.avi", 30, time_base=Fraction(1, 1000)) as writer:
        kept = [writer.write(frame, time=time) for frame, time in zip(frames, times)]
        with pytest.raises(ValueError, match=r"time: expected a time after the previous frame's 0.3 s"):
            writer.write(frames[0], time=Fraction(29, 100))
    assert kept == [True, True, True, False, False, True]
    assert (writer.frame_count, writer.dropped) == (4, 2)
    decoded = list(iter_frames(tmp_path / "a.avi", timestamps=True))
    assert [t for t, _ in decoded] == [0, Fraction(1, 10), Fraction(1, 5), Fraction(3, 10)]
    # the slot's first frame (80), not the next ones (120, 160): MJPEG at q 2 is within 4 levels
    assert np.abs(decoded[2][1].astype(int) - 80).max() <= 8
    with VideoWriter(tmp_path / "a.mp4", 30) as writer:
        writer.write(frames[0], time=Fraction(20, 100))
        with pytest.raises(ValueError, match=r"time: expected a time after the previous frame's 0.2 s"):
            writer.write(frames[1], time=Fraction(21, 100))


@pytest.mark.parametrize("codec", ["libx264", "libx265"])
def test_flv_with_b_frames_reads_back(tmp_path, codec):
    # FFmpeg's FLV muxer stores the last frame's end (0.417 s for 8 frames at 24 fps after the
    # B-frames' 2-frame delay) as the duration, which was added to the first frame's time
    # (0.083 s): iter_frames refused flowkit's own file as cut short (ends at 0.333 s of 0.417)
    path = tmp_path / "a.flv"
    with VideoWriter(path, 24, codec=codec) as writer:
        for frame in make_frames(8):
            writer.write(frame)
    times = [t for t, _ in iter_frames(path, timestamps=True)]
    for read in ([t - times[0] for t in times], frame_times(path)):
        # FLV stores milliseconds: each time within 1 ms of k / 24
        assert len(read) == 8 and all(abs(t - Fraction(k, 24)) <= Fraction(1, 1000)
                                      for k, t in enumerate(read))
    # 8 frames of 1/24 s, not their end (0.417 s)
    assert abs(probe_video(path).duration - Fraction(1, 3)) <= Fraction(1, 1000)


@pytest.mark.parametrize("name", ["a.avi", "a.ts", "a.wmv"])
def test_mpeg2_reads_back_at_the_times_written(tmp_path, name):
    # FFmpeg's MPEG-2 encoder delayed its packets a frame (DTS a frame before pts): AVI and
    # MPEG-TS read every frame back at (k + 1) / 30 s, WMV the second at 2/30 s
    path = tmp_path / name
    with VideoWriter(path, 30, codec="mpeg2video") as writer:
        for frame in make_frames(5):
            writer.write(frame)
    times = [t for t, _ in iter_frames(path, timestamps=True)]
    # WMV (ASF) stores milliseconds: each time within 1 ms of k / 30
    assert len(times) == 5
    assert all(abs(t - Fraction(k, 30)) <= Fraction(1, 1000) for k, t in enumerate(times)), times


@pytest.mark.parametrize("codec", ["mpeg2video", "mpeg4", "libx264"])
def test_a_ts_of_a_few_small_frames_opens(tmp_path, codec):
    # FFmpeg's probe scores an MPEG-TS under 12 packets at most 2 and took one of 5-6 packets
    # (2-3 frames of 32x32) for MPEG-PS, whose demuxer found nothing: "cannot open a.ts as a
    # video (End of file)"
    path = tmp_path / "a.ts"
    for count in (2, 3):
        with VideoWriter(path, 30, codec=codec) as writer:
            for k in range(count):
                writer.write(np.full((32, 32, 3), 40 * k, np.uint8))
        assert probe_video(path).frame_rate == 30
        frames = list(iter_frames(path))
        assert len(frames) == count


@pytest.mark.parametrize("codec", ["mpeg2video", "mpeg1video"])
def test_a_one_frame_ts_reads_its_rate(tmp_path, codec):
    # FFmpeg's probe took a one-frame MPEG-1/2 .ts for a raw MPEG video stream, read at its
    # default 25 fps (frame_rate 25 for 30 and 24); as MPEG-TS its packet lasts 1 / fps
    path = tmp_path / "a.ts"
    for fps in (30, 24):
        with VideoWriter(path, fps, codec=codec) as writer:
            writer.write(np.full((64, 64, 3), 90, np.uint8))
        info = probe_video(path)
        assert (info.frame_rate, info.codec) == (fps, codec)
        assert len(list(iter_frames(path))) == 1
    # another format named .ts is still read (by FFmpeg's probe)
    write_video(tmp_path / "b.mkv", make_frames(2), 10)
    (tmp_path / "b.mkv").rename(tmp_path / "b.ts")
    assert probe_video(tmp_path / "b.ts").frame_rate == 10


def test_an_mpeg_ps_named_ts_reads_as_mpeg_ps(tmp_path):
    # read as MPEG-TS, an MPEG-PS of 1 MB named .ts (a .vob or .mpg renamed) held two streams
    # of unknown type: "path: a.ts holds no video stream"
    rng = np.random.default_rng(0)
    with VideoWriter(tmp_path / "a.mpg", 30, codec="mpeg2video") as writer:
        for _ in range(60):
            writer.write(rng.integers(0, 256, (320, 320, 3), np.uint8))
    (tmp_path / "a.mpg").rename(tmp_path / "a.ts")
    info = probe_video(tmp_path / "a.ts")
    assert (info.frame_rate, info.codec) == (30, "mpeg2video")
    assert len(list(iter_frames(tmp_path / "a.ts"))) == 60


@pytest.mark.parametrize("codec", ["mpeg2video", "mpeg1video"])
def test_the_last_frames_of_an_mpeg_ps_keep_their_times(tmp_path, codec):
    # last_frames decodes from the keyframe before the tail; after a seek in an MPEG-PS
    # file FFmpeg's parser gives the frames late timestamps: at 32x32, 30 fps, MPEG-2's last
    # three came at (k + 1/2) / 30 s, MPEG-1's a frame late, the last at 1.5 s of 1.4667 s
    from flowkit.video import last_frames

    ramp = np.linspace(0, 255, 32).astype(np.uint8)[None, :, None].repeat(32, 0).repeat(3, 2)
    path = tmp_path / "a.mpg"
    with VideoWriter(path, 30, codec=codec) as writer:
        for k in range(30):
            writer.write(np.roll(ramp, k, axis=1))
    want = list(iter_frames(path, timestamps=True))[-3:]
    got = last_frames(path, 3, timestamps=True)
    assert [time for time, _ in got] == [Fraction(k + 15, 30) for k in (27, 28, 29)]
    for (time, frame), (wanted_time, wanted) in zip(got, want):
        assert time == wanted_time
        np.testing.assert_array_equal(frame, wanted)


@pytest.mark.parametrize("name, start", [("a.ts", 0), ("a.mpg", Fraction(1, 2))])
def test_mpeg1_reads_back_at_the_times_written(tmp_path, name, start):
    # FFmpeg's MPEG-1 encoder delayed its packets a frame as its MPEG-2 one did: MPEG-TS read
    # every frame back at (k + 1) / 30 s, MPEG-PS a frame after its 0.5 s preload (MPEG-2's
    # first frame is there)
    path = tmp_path / name
    with VideoWriter(path, 30, codec="mpeg1video") as writer:
        for frame in make_frames(5):
            writer.write(frame)
    times = [t for t, _ in iter_frames(path, timestamps=True)]
    assert times == [start + Fraction(k, 30) for k in range(5)], times


@pytest.mark.parametrize("fps, time_base, message", [
    (15, None, "fps: expected a rate MPEG-1 codes for mpeg1video .* got fps 15;"),
    (12, Fraction(1, 90000), "fps: expected a rate MPEG-1 codes .* got fps 12;")])
def test_mpeg1_refuses_rates_it_does_not_code(tmp_path, fps, time_base, message):
    # MPEG-1 codes 8 rates; asked for strict 'unofficial' (for low delay), FFmpeg wrote 15 fps
    # with frame_rate_code 13, which ISO 11172-2 reserves (other decoders read no rate), and a
    # time base other than 1 / fps failed as "cannot write 64x64 yuv420p video"
    with pytest.raises(ValueError, match=message):
        VideoWriter(tmp_path / "a.mpg", fps, codec="mpeg1video", time_base=time_base)
    assert not list(tmp_path.iterdir())
    for fps in (24, 25, 30, Fraction(60000, 1001)):  # MPEG-2 codes 15 fps (30 * 1/2)
        write_video(tmp_path / "b.mpg", make_frames(2), fps, codec="mpeg1video")
    write_video(tmp_path / "c.mpg", make_frames(2), 15, codec="mpeg2video")


@pytest.mark.parametrize("fps, time_base, message", [
    (29.97, None, r"fps: expected a rate MPEG-2 codes for mpeg2video .* got fps 2997/100$"),
    (31, Fraction(1, 90000), "fps: expected a rate MPEG-2 codes .* got fps 31$")])
def test_mpeg2_refuses_rates_it_does_not_code(tmp_path, fps, time_base, message):
    # MPEG-2 codes MPEG-1's 8 rates times (n + 1) / (d + 1), n < 4, d < 32, read by FFmpeg
    # from the time base: 29.97 as a float (2997/100) or 1/90000 s at 30 fps failed as
    # "cannot write 32x32 yuv420p video" at the first frame
    with pytest.raises(ValueError, match=message):
        VideoWriter(tmp_path / "a.ts", fps, codec="mpeg2video", time_base=time_base)
    assert not list(tmp_path.iterdir())
    for fps, time_base in ((Fraction(30000, 1001), None), (Fraction(45, 16), None),
                           (Fraction(120000, 1001), None), (30, Fraction(1, 60))):
        with VideoWriter(tmp_path / "b.mkv", fps, codec="mpeg2video",
                         time_base=time_base) as writer:
            for frame in make_frames(2):
                writer.write(frame)


@pytest.mark.parametrize("codec, suffix", [("mpeg2video", ".mkv"), ("mpeg2video", ".mpg"),
                                           ("mpeg1video", ".mkv")])
def test_mpeg_video_takes_no_time_base_finer_than_its_frame_rate(tmp_path, codec, suffix):
    # MPEG-1/2 code a frame rate, which FFmpeg reads from the time base: 1/90000 (or flow
    # --video's and translate's grid unit of a 30 fps MKV, 1/3000) was refused naming a
    # time_base the command's user never gave, and 1/60 at 30 fps coded 60 fps. As in AVI, the
    # time base is 1 / fps, times are rounded to it and a frame on the previous one's slot is
    # dropped
    path = tmp_path / f"a{suffix}"
    with VideoWriter(path, 30, codec=codec, time_base=Fraction(1, 90000)) as writer:
        kept = [writer.write(frame, time=time)
                for frame, time in zip(make_frames(4), (0, Fraction(1, 100), Fraction(1, 30),
                                                        Fraction(7, 100)))]
    assert kept == [True, False, True, True] and writer.dropped == 1
    assert writer.time_base == Fraction(1, 30) and probe_video(path).frame_rate == 30
    start = Fraction(1, 2) if suffix == ".mpg" else 0  # the MPEG-PS preload
    times = [t - start for t, _ in iter_frames(path, timestamps=True)]
    assert [round(t * 1000) for t in times] == [0, 33, 67], times


@pytest.mark.parametrize("command", [["flow", "--video"], ["translate", "--op", "autocontrast"]])
def test_commands_write_mpeg2_from_a_millisecond_input(tmp_path, capsys, command):
    # a 30 fps MKV's frames were written at their times in 1/3000 s units, which MPEG-2 cannot
    # code: "time_base: expected a rate MPEG-2 codes ... got time_base 1/3000"
    from flowkit.cli import main

    source = tmp_path / "in.mkv"
    write_video(source, make_frames(4), 30)
    output = tmp_path / "out.mpg"
    args = [command[0], str(source)] + ([command[1], str(output)] if command[0] == "flow" else
                                        [str(output), *command[1:]])
    assert main(["-q", *args, "--codec", "mpeg2video"]) == 0, capsys.readouterr().err
    assert probe_video(output).frame_rate == 30
    times = [t for t, _ in iter_frames(output, timestamps=True)]
    assert times == [Fraction(1, 2) + Fraction(k, 30) for k in range(len(times))], times


def test_avi_refuses_h264_and_reads_back_other_codecs_on_time(tmp_path):
    # H.264 in AVI read back at 1/30, 4/30, 5/30, ... s for frames written at k/30 s (its
    # delayed frames; one frame late even without B-frames): refused before anything is
    # written. The AVI codecs read back at exactly k / fps
    with pytest.raises(ValueError, match=r"codec: libx264 in \.avi files: AVI stores a frame rate"):
        VideoWriter(tmp_path / "h.avi", 30, codec="libx264")
    # libx264rgb is H.264 too: it was written, its frames read back at 1/30, 2/30, ... s
    with pytest.raises(ValueError, match=r"codec: libx264rgb in \.avi files: AVI stores a frame"):
        VideoWriter(tmp_path / "h.avi", 30, codec="libx264rgb")
    assert not list(tmp_path.iterdir())
    frames = make_frames(5)
    for codec in ("mjpeg", "mpeg4", "ffv1"):
        with VideoWriter(tmp_path / f"{codec}.avi", 30, codec=codec) as writer:
            for frame in frames:
                writer.write(frame)
        times = [t for t, _ in iter_frames(tmp_path / f"{codec}.avi", timestamps=True)]
        assert times == [Fraction(k, 30) for k in range(5)], codec


@pytest.mark.parametrize("suffix", [".wmv", ".asf", ".mxf"])
@pytest.mark.parametrize("codec", ["libx264", "libx264rgb"])
def test_h264_is_refused_where_it_reads_back_late(tmp_path, suffix, codec):
    # as in AVI: 30 fps frames written at k/30 s read back at 1/30, 4/30, 5/30, ... s from
    # WMV/ASF and at 0, 3/30, 4/30, ... s from MXF (12 frames spanning 13/30 s): refused
    # before anything is written, naming codecs that read back on time there
    with pytest.raises(ValueError, match=rf"codec: {codec} in \{suffix} files: .*decoding order"
                                         rf".* H\.264's delayed frames read back late"):
        VideoWriter(tmp_path / f"h{suffix}", 30, codec=codec)
    assert not list(tmp_path.iterdir())
    # retime's and translate's default there was libx264: none now (they ask for a codec)
    assert reencode_codec(tmp_path / f"h{suffix}") is None
    other = "mpeg2video" if suffix == ".mxf" else "wmv2"
    with VideoWriter(tmp_path / f"o{suffix}", 30, codec=other) as writer:
        for frame in make_frames(5):
            writer.write(frame)
    times = [t for t, _ in iter_frames(tmp_path / f"o{suffix}", timestamps=True)]
    assert [float(t - times[0]) * 30 for t in times] == pytest.approx(range(5), abs=0.05)


@pytest.mark.parametrize("suffix", [".avi", ".wmv", ".asf"])
def test_mpeg1_is_refused_where_it_reads_back_late(tmp_path, suffix):
    # MPEG-1 cannot state that it has no B-frames: its frames written at k/30 s read back at
    # 0, 2/30, 3/30, 4/30, 5/30 s from AVI (WMV, ASF: the last at 4.47/30 s), low delay or
    # not; refused before anything is written, as H.264 in AVI. MPEG-2 reads back on time
    with pytest.raises(ValueError, match=rf"^codec: mpeg1video in \{suffix} files: their frames "
                                         r"read back a frame late after the first"):
        VideoWriter(tmp_path / f"a{suffix}", 30, codec="mpeg1video")
    assert not list(tmp_path.iterdir())
    path = write_video(tmp_path / f"b{suffix}", make_frames(5), 30, codec="mpeg2video")
    times = [t for t, _ in iter_frames(path, timestamps=True)]
    assert len(times) == 5  # WMV and ASF store milliseconds
    assert all(abs(t - Fraction(k, 30)) <= Fraction(1, 1000) for k, t in enumerate(times)), times


@pytest.mark.parametrize("name, codec", [("a.ts", "vp9"), ("a.m2ts", "ffv1"), ("a.mpg", "mjpeg"),
                                         ("a.vob", "libsvtav1")])
def test_mpeg_streams_refuse_codecs_they_carry_as_data(tmp_path, name, codec):
    # MPEG-TS and MPEG-PS muxers took VP9, FFV1, MJPEG, AV1, ... as private data: the file was
    # written and read back as "holds no video stream"; refused before anything is written
    with pytest.raises(ValueError, match=r"^codec: \S+ \(\w+\) in \.\w+ files: MPEG streams carry "
                                         r"H\.264, HEVC, MPEG-4 and MPEG-1/2 video"):
        VideoWriter(tmp_path / name, 24, codec=codec)
    assert not list(tmp_path.iterdir())
    for name, codec in [("b.ts", "mpeg4"), ("b.mpg", "mpeg2video"), ("b.m2ts", "libx264")]:
        path = write_video(tmp_path / name, make_frames(3), codec=codec)
        assert len(list(iter_frames(path))) == 3, codec


def test_mpeg_and_jpeg_encoders_encode_at_a_fixed_high_quality(tmp_path):
    # FFmpeg's -q:v 2 instead of its 200 kb/s default bitrate: 12 frames of a real 320x180 clip
    # come back at 41.8-42.1 dB from each; at the default, 4 frames of mjpeg, mpeg4, MPEG-1 and
    # MPEG-2 gave 34.8, 39.6, 39.4, 39.6 dB, 12 of WMV 8, FLV, Microsoft MPEG-4 v3 39.4 dB (the
    # 640x360 traffic clip: about 36 dB for each of these five, 42.1-42.5 at q 2)
    from flowkit.metrics import psnr

    frames = list(itertools.islice(iter_frames(data_path("video", "torchcodec__nasa_13013.mp4")), 12))
    for codec, name in (("mjpeg", "a.avi"), ("mpeg4", "b.avi"), ("mpeg1video", "c.mpg"),
                        ("mpeg2video", "d.mpg"), ("wmv2", "e.wmv"), ("flv", "f.flv"),
                        ("msmpeg4", "g.avi")):
        with VideoWriter(tmp_path / name, 30, codec=codec) as writer:
            for frame in frames:
                writer.write(frame)
        back = list(iter_frames(tmp_path / name))
        assert len(back) == len(frames)
        assert np.mean([psnr(a, b) for a, b in zip(back, frames)]) > 41.0, codec


@pytest.mark.parametrize("codec, name", [("libvpx", "a.webm"), ("libx264rgb", "b.mkv")])
def test_vp8_and_x264rgb_take_the_crf(tmp_path, codec, name):
    # libvpx (VP8) kept FFmpeg's 256 kb/s default whatever crf was given (20 frames of the Tears
    # of Steel clip: 29.7 dB at crf 18); its crf applies under a bitrate ceiling. libx264rgb
    # kept x264's default crf 23 (the commands' 18 did not reach it)
    from flowkit.metrics import psnr

    frames = list(itertools.islice(iter_frames(data_path("video", "zwm__clip_01_tears_of_steel.mp4")),
                                   12))
    got = {}
    for crf in (18, 40):
        with VideoWriter(tmp_path / f"{crf}{name}", 24, codec=codec, crf=crf) as writer:
            for frame in frames:
                writer.write(frame)
        back = list(iter_frames(tmp_path / f"{crf}{name}"))
        got[crf] = np.mean([psnr(a, b) for a, b in zip(back, frames)])
    assert got[18] > 38.0 and got[40] < got[18] - 2, got


SHARED_CLIPS = ["androidx__bear-vp9-odd-dimensions.webm", "car_traffic_small.mp4",
                "mediabunny__rotate-buck-bunny.mp4", "mediabunny__video-h265.mp4",
                "torchcodec__h264_10bits.mp4", "torchcodec__nasa_13013.mp4",
                "torchcodec__var_fps_video.mp4", "zwm__clip_01_tears_of_steel.mp4"]


def cut_webm(tmp_path, size):
    """The shared VP9 WebM clip (30 frames, 1.001 s in its header) cut to ``size`` bytes."""
    path = tmp_path / f"cut{size}.webm"
    path.write_bytes(data_path("video", SHARED_CLIPS[0]).read_bytes()[:size])
    return path


@pytest.mark.parametrize("size, frames, end", [(20000, 9, "0.300"), (30000, 26, "0.867")])
def test_webm_cut_short_is_an_error(tmp_path, size, frames, end):
    # Matroska's demuxer stops at the cut without an error: the frames decoded end well
    # before the 1.001 s the header declares (measured: 9 and 26 of 30 frames decode)
    path = cut_webm(tmp_path, size)
    seen = []
    with pytest.raises(ValueError, match=rf"path: cannot decode {path} \(the video ends at {end} s, "
                                         rf"its headers say 1.001 s: the file is cut short or damaged\)"):
        seen.extend(iter_frames(path))
    assert len(seen) == frames


@pytest.mark.parametrize("name", SHARED_CLIPS)
def test_shared_clips_decode_to_their_declared_end(name):
    # none of the shared clips is flagged as cut short (they end within a frame of their headers)
    # (every clip has < 1000 frames: one is converted, all are decoded)
    assert sum(1 for _ in iter_frames(data_path("video", name), step=1000)) == 1


# the tears of steel clip (24 fps) with pauses, its packets copied (_paused): one frame in 10
# shown twice (the average 9 % below the grid of 24: outside probe_video's 2 %, within 20 %),
# and two frames of three held over 7 or 15 periods (the grid 3x and 5.6x the average: inside
# and outside base_rate's 4x)
PAUSED = {"paused-1-in-10": (1,) * 9 + (2,), "paused-3x": (1, 1, 7), "paused-6x": (1, 1, 15)}


def _paused(path, steps):
    """The tears of steel clip with its k-th frame slot moved to the sum of the first k ``steps``
    (frame periods) and its packets copied: a variable rate on a grid of 24 fps."""
    import av

    slots = list(itertools.islice(itertools.accumulate(itertools.cycle(steps), initial=0), 241))
    with av.open(str(data_path("video", SHARED_CLIPS[-1]))) as src, \
            av.open(str(path), "w") as dst:
        video = src.streams.video[0]
        out = dst.add_stream_from_template(video)
        period = round(1 / (24 * video.time_base))
        for packet in src.demux(video):
            if packet.dts is not None:  # DTS below 0 (the B-frames' delay) stay
                packet.pts, packet.dts = (t if t <= 0 else slots[t // period] * period
                                          for t in (packet.pts, packet.dts))
                packet.stream = out
                dst.mux(packet)
    return path


@pytest.mark.parametrize("name", SHARED_CLIPS + list(PAUSED))
def test_probe_video_agrees_with_the_packets(tmp_path, name):
    """probe_video against PyAV's packets (timestamps, durations, time base), first decoded
    frame (size, display rotation, pixel format) and streams; only the rate rules (the 2 %
    and 4x of VideoInfo.frame_rate and base_rate) are flowkit's own."""
    import av

    path = (_paused(tmp_path / f"{name}.mp4", PAUSED[name]) if name in PAUSED
            else data_path("video", name))
    info = probe_video(path)
    with av.open(str(path)) as container:
        stream, audio = container.streams.video[0], bool(container.streams.audio)
        base, stated, codec = stream.time_base, stream.frames, stream.codec.name
        # (pts, duration) in decoding order: the last one's is the last sample's (MP4's is the
        # step to the next DTS, not the frame's on screen where B-frames reorder them)
        packets = [(p.pts, p.duration) for p in container.demux(stream)
                   if p.pts is not None and not p.is_discard]
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
    rotation = round(frame.rotation) % 360  # counter-clockwise, -90 as 270
    size = (frame.height, frame.width) if rotation in (90, 270) else (frame.width, frame.height)
    bits = re.search(r"p(\d+)[lb]e$", frame.format.name)
    assert (info.width, info.height, info.rotation) == (*size, rotation)
    assert (info.codec, info.pix_fmt, info.audio) == (codec, frame.format.name, audio)
    assert info.bit_depth == (int(bits[1]) if bits else 8)
    count = len(packets)
    # the count the container states, every packet of these whole files; None where it states
    # none (fragmented MP4, WebM)
    assert stated in (0, count) and info.frame_count == (count if stated else None)
    stamps = sorted(pts for pts, _ in packets)
    first, last = stamps[0], stamps[-1]
    # the stream's length to the last frame's start (var_fps's header), or a period later
    lengths = ((last - first) * base, (last + packets[-1][1] - first) * base)
    assert info.duration in lengths
    low, high = count / lengths[1], count / lengths[0]  # the average rate, over either length
    steps = np.diff(stamps)
    if steps.max() - steps.min() <= 1:
        # a constant rate (timestamps rounded to the unit: the WebM's 33 and 34 ms at 29.97):
        # the rate whose periods fill the packets to one timestamp unit
        assert abs(count / info.frame_rate - lengths[1]) <= base
        assert info.base_rate == info.frame_rate
        return
    values, counts = np.unique(steps, return_counts=True)
    grid = 1 / (int(values[counts.argmax()]) * base)  # the most common step: the grid
    assert grid in (24, 30)  # car_traffic and var_fps at 30, the paused clips at 24

    def holds(rule):  # flowkit's rule, the same at both ends of the average's bracket
        assert rule(low) == rule(high), name
        return rule(low)

    # flowkit's rules (VideoInfo): the grid is the rate when the average is within 2 % of it,
    # else the average (car_traffic: FFmpeg's average 483/16 is 0.6 % off, the packets' 0.1 %)
    if holds(lambda average: abs(average / grid - 1) <= Fraction(1, 50)):
        assert info.frame_rate == grid
    else:
        assert low <= info.frame_rate <= high
    # and the base rate is the grid from 2 % below the average to 4x above it
    if holds(lambda average: average * Fraction(49, 50) <= grid <= 4 * average):
        assert info.base_rate == grid
    else:
        assert info.base_rate == info.frame_rate


def test_mp4_with_its_index_first_cut_short_is_an_error(tmp_path):
    # the rotated clip keeps its index (moov) before the frames: cut to 60 % of its bytes,
    # FFmpeg decodes 28 of its 45 frames without an error (1.208 s of the 1.875 s declared)
    path = tmp_path / "cut.mp4"
    data = data_path("video", "mediabunny__rotate-buck-bunny.mp4").read_bytes()
    path.write_bytes(data[:len(data) * 6 // 10])
    with pytest.raises(ValueError, match=rf"path: cannot decode {path} \(the video ends at 1.208 s, "
                                         rf"its headers say 1.875 s"):
        for _ in iter_frames(path, step=100):
            pass


@pytest.mark.filterwarnings("ignore::flowkit.video.DamagedVideoWarning")  # the cut frame's
@pytest.mark.parametrize("codec", ["mjpeg", "mpeg4"])
def test_avi_cut_short_is_an_error(tmp_path, codec):
    # an AVI's index is at its end: cut to 70-75 % of its bytes FFmpeg gives the stream the
    # duration of the data left (35-38 of 50 frames) and decodes them without an error; the
    # header's frame count (50, 2 s) tells the cut (measured: 38 frames read silently)
    rng = np.random.default_rng(7)
    full = write_video(tmp_path / "full.avi", rng.integers(0, 256, (50, 16, 24, 3), np.uint8),
                       fps=25, codec=codec)
    data = full.read_bytes()
    for fraction in (0.7, 0.75):
        path = tmp_path / f"cut{fraction}.avi"
        path.write_bytes(data[:int(len(data) * fraction)])
        with pytest.raises(ValueError, match=rf"path: cannot decode {path} .*\b1\.[345]\d0 s"
                                             rf".* its headers say 2\.000 s"):
            for _ in iter_frames(path, step=100):
                pass
    assert sum(1 for _ in iter_frames(full)) == 50


@pytest.mark.parametrize("color", [{}, {"colorspace": 1}, {"colorspace": 1, "color_range": 2},
                                   {"colorspace": 6}, {"colorspace": 9}])
def test_writer_converts_rgb_with_the_tagged_matrix(tmp_path, color):
    """RGB frames go to YUV with the matrix and range the ``color`` tags declare (BT.709,
    full range, SMPTE 170M, BT.2020), so a decoder reading the tags gets the colours back:
    within 3 levels away from the chroma-subsampled edge, where FFmpeg's default BT.601
    conversion under a BT.709 tag is 16-21 levels off (measured)."""
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[:] = (200, 50, 30)
    rgb[16:] = (20, 180, 230)
    path = tmp_path / "c.mkv"
    with VideoWriter(path, 25, codec="libx264", crf=0, color=color) as writer:
        writer.write(rgb)
    if color:
        assert probe_video(path).color["colorspace"] == color["colorspace"]
    back = next(iter(iter_frames(path))).astype(int)
    rows = np.r_[0:8, 24:32]
    assert np.abs(back[rows] - rgb[rows]).max() <= 3


@pytest.mark.parametrize("codec", ["libx264", "ffv1"])
def test_writer_converts_rgb_to_the_full_range_its_tag_declares_alone(tmp_path, codec):
    """A full-range tag without a matrix (an RGB input's: FFmpeg's PNG decoder says full range,
    and retime, translate and predict copy it) gives full-range samples with FFmpeg's BT.601
    matrix, which decoders use for an unset one: they were limited-range samples under the
    full-range tag, read back with black 0 at 16, white 255 at 235 and (200, 100, 50) at
    (188, 101, 57)."""
    rgb = np.zeros((32, 64, 3), np.uint8)
    rgb[:, 16:32], rgb[:, 32:48], rgb[:, 48:] = 255, (200, 100, 50), (20, 180, 230)
    path = tmp_path / "c.mkv"
    with VideoWriter(path, 25, codec=codec, crf=0, pix_fmt="yuv420p",
                     color={"color_range": 2}) as writer:
        writer.write(rgb)
    assert probe_video(path).color.get("color_range") == 2
    back = next(iter(iter_frames(path))).astype(int)
    columns = np.r_[2:14, 18:30, 34:46, 50:62]
    assert np.abs(back[:, columns] - rgb[:, columns]).max() <= 3


@pytest.mark.parametrize("codec, suffix",
                         [("libx264", ".mp4"), ("mjpeg", ".avi"), ("mjpeg", ".mkv")])
def test_writer_converts_rgb_to_full_range_yuvj_with_the_tagged_matrix(tmp_path, codec, suffix):
    """Full-range yuvj420p tagged BT.709 (a phone clip's format, which translate and predict
    keep): x264 stores the tags and decoders read them, so the matrix is BT.709 (it was
    FFmpeg's BT.601 under the BT.709 tag: (200, 50, 30) read back as (212, 63, 26) and
    (20, 180, 230) as (4, 167, 232)); MJPEG is read with JPEG's BT.601 matrix whatever the
    tags say, so it stays BT.601."""
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[:] = (200, 50, 30)
    rgb[16:] = (20, 180, 230)
    path = tmp_path / f"c{suffix}"
    color = {"colorspace": 1, "color_range": 2, "color_primaries": 1, "color_trc": 1}
    with VideoWriter(path, 25, codec=codec, crf=0, pix_fmt="yuvj420p", color=color) as writer:
        writer.write(rgb)
    back = next(iter(iter_frames(path))).astype(int)
    rows = np.r_[0:8, 24:32]
    assert np.abs(back[rows] - rgb[rows]).max() <= 3


@pytest.mark.parametrize("codec, suffix, pix_fmt, alpha", [
    ("png", ".mov", "rgba", True), ("qtrle", ".mov", "argb", True),
    ("ffv1", ".mkv", "yuva420p", True), ("libvpx-vp9", ".webm", "yuva420p", True),
    ("ffv1", ".mkv", "yuv420p", False), ("libvpx-vp9", ".webm", "yuv420p", False)])
def test_probe_video_says_whether_the_frames_carry_alpha(tmp_path, codec, suffix, pix_fmt, alpha):
    """VideoInfo.alpha: a pixel format with alpha, or VP9's alpha in WebM, which FFmpeg's VP9
    decoder reads as yuv420p (the stream's alpha_mode tag says it is there)."""
    import av

    path = tmp_path / f"a{suffix}"
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = 16, 16, pix_fmt
        rgba = np.full((16, 16, 4), 128, np.uint8)
        rgba[:, 8:, 3] = 0
        for k in range(2):
            frame = av.VideoFrame.from_ndarray(rgba, format="rgba").reformat(format=pix_fmt)
            frame.pts = k
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    assert probe_video(path).alpha is alpha


def test_prores_frames_carry_the_colour_tags(tmp_path):
    """ProRes stores the colour tags in each frame's header, from the frame's tags, not the
    stream's; decoders read them there: flowkit retime --codec prores_ks of a BT.2020 HLG clip
    had every frame unspecified (2), where the MOV's track said BT.2020 and HLG."""
    import av

    path = tmp_path / "c.mov"
    color = {"colorspace": 9, "color_range": 1, "color_primaries": 9, "color_trc": 18}
    with VideoWriter(path, 25, codec="prores_ks", pix_fmt="yuv422p10le", color=color) as writer:
        writer.write(np.full((16, 16, 3), 30000, np.uint16))
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        assert {name: int(getattr(frame, name)) for name in color} == color


def test_rgb_output_drops_the_yuv_matrix_and_range_tags(tmp_path):
    """FFV1 writes RGB (bgr0) where its input was full-range YUV: the input's matrix and range
    tags would describe YUV samples the file does not hold (a new user found BT.470BG on an
    RGB stream); primaries and transfer still apply and are kept."""
    path = tmp_path / "rgb.mkv"
    color = {"colorspace": 5, "color_range": 2, "color_primaries": 1, "color_trc": 1}
    with VideoWriter(path, 25, codec="ffv1", color=color) as writer:
        writer.write(np.full((16, 16, 3), 100, np.uint8))
    info = probe_video(path)
    assert info.pix_fmt in ("bgr0", "gbrp"), info.pix_fmt
    # 2: FFmpeg's AVCOL_SPC_UNSPECIFIED, which the RGB stream reports
    assert info.color.get("colorspace", 2) == 2 and "color_range" not in info.color, info.color
    assert info.color["color_primaries"] == 1 and info.color["color_trc"] == 1


def test_grid_steps_are_whole_within_a_timestamp_unit():
    # Matroska's millisecond times of a 30 fps clip: 0.067 s and 0.033 s before the last
    # frame are 2.01 and 0.99 steps, within the unit's 0.03 steps of whole ones (the unit
    # in seconds, 0.001, taken as steps kept 2.01 and 0.99)
    from flowkit.video import grid_steps

    assert grid_steps([0.0, 0.033, 0.067, 0.1], 30, 0.001) == [-3.0, -2.0, -1.0, 0.0]
    assert grid_steps([0.0, 0.05, 0.1], 30, 0.001) == pytest.approx([-3.0, -1.5, 0.0])
    assert grid_steps([0.0, 0.1], None) is None

def test_grid_timing_puts_times_near_the_grid_on_it_and_keeps_the_others():
    # retime's rule (an input frame within one timestamp unit of a grid point shows it), for
    # the writers that keep the input frames' times (flow --video): millisecond stamps of a
    # 29.97 fps WebM are its grid points
    from flowkit.video import VideoInfo, grid_timing

    def info(rate, unit):
        return VideoInfo(width=2, height=2, rotation=0, frame_rate=rate, time_base=unit,
                         frame_count=None, duration=None, codec="vp9", pix_fmt="yuv420p",
                         bit_depth=8, audio=False, base_rate=rate)

    time_base, snap = grid_timing(info(Fraction(2997, 100), Fraction(1, 1000)))
    assert [snap(Fraction(ms, 1000)) for ms in (0, 33, 67, 100, 934)] == \
        [Fraction(100 * k, 2997) for k in (0, 1, 2, 3, 28)]
    assert snap(Fraction(50, 1000)) == Fraction(50, 1000)  # between grid points: its own time
    # the unit holds the grid's points and the input's times
    assert time_base == Fraction(1, 2997000)
    for time in (Fraction(100, 2997), Fraction(1, 1000)):
        assert (time / time_base).denominator == 1
    time_base, snap = grid_timing(info(Fraction(30), Fraction(1, 15360)))  # on the grid already
    assert time_base == Fraction(1, 15360) and snap(Fraction(512, 15360)) == Fraction(1, 30)
    for rate in (None, Fraction(5000)):  # no plausible grid: the input's times as they are
        time_base, snap = grid_timing(info(rate, Fraction(1, 1000)))
        assert time_base == Fraction(1, 1000) and snap(Fraction(33, 1000)) == Fraction(33, 1000)


def damaged_clip(path):
    """A 30-frame H.264 clip with 64 bytes inverted in the middle of its coded frames: FFmpeg
    decodes every frame, one of them with errors concealed."""
    texture = np.random.default_rng(0).integers(0, 256, (64, 160, 3), np.uint8)
    write_video(path, [np.roll(texture, k, axis=1)[:, :96].copy() for k in range(30)])
    data = bytearray(path.read_bytes())
    box = data.find(b"mdat") - 4  # the box of the coded frames: its size, then its type
    middle = (box + 8 + box + int.from_bytes(data[box:box + 4], "big")) // 2
    data[middle:middle + 64] = bytes(b ^ 0xFF for b in data[middle:middle + 64])
    path.write_bytes(bytes(data))
    return path


def test_a_damaged_video_decodes_with_one_warning(tmp_path):
    # FFmpeg conceals a damaged frame and says so ("error while decoding MB ..."); flowkit
    # decoded such a file silently
    path = damaged_clip(tmp_path / "damaged.mp4")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frames = list(iter_frames(path))
    assert len(frames) == 30
    assert [w.category for w in caught] == [DamagedVideoWarning]
    assert str(caught[0].message).startswith(f"{path}: the frame at ")
    with warnings.catch_warnings(record=True) as caught:  # an intact file: no warning
        warnings.simplefilter("always")
        list(iter_frames(write_video(tmp_path / "intact.mp4", make_frames())))
    assert caught == []
    # the command line: one warning line, and the job done
    done = subprocess.run([sys.executable, "-m", "flowkit", "flow", str(path), "--video",
                           str(tmp_path / "flow.mp4"), "-q"], capture_output=True, text=True)
    assert done.returncode == 0 and (tmp_path / "flow.mp4").is_file()
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"flowkit: warning: {path}: the frame at ")
    assert "was decoded with errors" in lines[0]


def test_a_damaged_videos_warning_names_the_callers_line(tmp_path):
    # the warning named flowkit's decoding loop (video.py:1099, or _retime.py for retime)
    # whatever was called, so a notebook showed flowkit's source line, not the cell's
    import flowkit

    path = damaged_clip(tmp_path / "damaged.mp4")
    calls = [lambda: list(iter_frames(path)),
             lambda: list(flowkit.interpolate_video(iter_frames(path), method="blend")),
             lambda: flowkit.retime(path, tmp_path / "out.mp4", factor=2, method="blend",
                                    progress=False)]
    for call in calls:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        assert [(w.category, w.filename) for w in caught] == [(DamagedVideoWarning, __file__)]


def clip_with_refused_packets(path, refused, count=30):
    """A ``count``-frame H.264 clip at 10 fps whose packets number ``refused`` (in file
    order) have a NAL length larger than the packet: FFmpeg's decoder refuses each ("Invalid
    data found when processing input") and loses its frame."""
    import av

    texture = np.random.default_rng(0).integers(0, 256, (64, 160, 3), np.uint8)
    write_video(path, [np.roll(texture, k, axis=1)[:, :96].copy() for k in range(count)])
    with av.open(str(path)) as container:
        places = [p.pos for p in container.demux(container.streams.video[0]) if p.size]
    data = bytearray(path.read_bytes())
    for index in refused:
        data[places[index]:places[index] + 4] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("refused", [[12], [12, 13, 14], [29]])
def test_a_refused_packet_is_skipped_with_a_warning(tmp_path, refused):
    # FFmpeg's decoder refused the packet (avcodec_send_packet: "Invalid data found when
    # processing input"), which ended decoding: `flowkit retime` of a 30 s clip with one bad
    # packet at 17.7 s stopped there ("cannot decode ... after 531 frames"), as `ffmpeg` does
    # not (it skips the packet and goes on); the last packet refused is a damaged end
    path = clip_with_refused_packets(tmp_path / "refused.mp4", refused)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        times = [time for time, _ in iter_frames(path, timestamps=True)]
    assert len(times) == 30 - len(refused)
    gaps = [round(float(b - a), 3) for a, b in zip(times, times[1:])]
    assert sorted(gaps)[-1] == (0.1 if refused == [29] else 0.1 * (len(refused) + 1))
    assert [w.category for w in caught] == [DamagedVideoWarning]
    many, message = len(refused) > 1, str(caught[0].message)
    if refused == [29]:  # what is lost is the end (within the tolerance of a file cut short)
        assert message.startswith(f"{path}: its last packets could not be decoded (Invalid "
                                  "data found when processing input): the video ends at "
                                  "2.900 s, its headers say 3.000 s (cut short?)")
    else:
        assert message.startswith(f"{path}: {'several packets' if many else 'a packet'} at ")
        assert ("were skipped: their frames are lost" if many else
                "was skipped: its frame is lost") in message
    # the command line: the warning as one line, and the job done
    done = subprocess.run([sys.executable, "-m", "flowkit", "flow", str(path), "--video",
                           str(tmp_path / "flow.mp4"), "-q"], capture_output=True, text=True)
    assert done.returncode == 0 and (tmp_path / "flow.mp4").is_file()
    assert done.stderr.splitlines() == [f"flowkit: warning: {caught[0].message}"]


def test_a_stream_of_refused_packets_is_an_error(tmp_path):
    # more than MAX_REJECTED_PACKETS in a row is not a damaged spot: the rest is unreadable
    from flowkit.video import MAX_REJECTED_PACKETS

    count = MAX_REJECTED_PACKETS + 12
    path = clip_with_refused_packets(tmp_path / "refused.mp4", range(10, count), count)
    frames = iter_frames(path)
    with pytest.raises(ValueError, match=rf"^path: cannot decode {re.escape(str(path))} after "
                                         r"\d+ frames, [\d.]+ s \(Invalid data found when "
                                         rf"processing input\): {MAX_REJECTED_PACKETS + 1} "
                                         r"packets in a row could not be decoded \(the rest "
                                         r"is unreadable\)$"):
        for _ in frames:
            pass


def test_an_error_after_a_seek_counts_no_frames(tmp_path):
    # decode_from (a flowkit.batch chunk) decodes from the keyframe before its start: the
    # frames it counted are not the video's: the message said "after 13 frames, 2.300 s" of
    # the 24th frame
    import av

    from flowkit.video import MAX_REJECTED_PACKETS, decode_from

    count = MAX_REJECTED_PACKETS + 30
    path = tmp_path / "gop.mp4"
    texture = np.random.default_rng(0).integers(0, 256, (64, 160, 3), np.uint8)
    with av.open(str(path), "w") as container:  # 10 fps, a keyframe every 10 frames
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.options = {"g": "10", "keyint_min": "10", "sc_threshold": "0"}
        for k in range(count):
            picture = np.roll(texture, k, axis=1)[:, :96].copy()
            container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode(None))
    with av.open(str(path)) as container:
        places = [p.pos for p in container.demux(container.streams.video[0]) if p.size]
    data = bytearray(path.read_bytes())
    for index in range(25, count):
        data[places[index]:places[index] + 4] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(data))
    with av.open(str(path)) as container:
        _, frames = decode_from(container, container.streams.video[0], 2)
        with pytest.raises(ValueError, match=rf"^path: cannot decode {re.escape(str(path))} "
                                             r"after ([\d.]+) s \(Invalid data found") as seeked:
            for _ in frames:
                pass
    # from the start, the count is the video's; the time is the same
    with pytest.raises(ValueError, match=r" after 2\d frames, ([\d.]+) s \(Invalid data") as whole:
        for _ in iter_frames(path):
            pass
    time = re.search(r"after ([\d.]+) s", str(seeked.value)).group(1)
    assert re.search(r"frames, ([\d.]+) s", str(whole.value)).group(1) == time


@pytest.mark.parametrize("command", [["retime", "--factor", "2"],
                                     ["retime", "--range", "0.3:0.6", "--speed", "0.5"],
                                     ["translate", "--op", "autocontrast"]])
def test_damage_before_the_first_frame_is_one_warning_line(tmp_path, command):
    # the looks at the first frame's time (retime's and translate's video_end, the part's and
    # the --range check's) warned too: one refused packet at the start gave 2 or 3 same lines
    import av

    from test_retime import write_clip

    texture = np.random.default_rng(0).integers(0, 256, (64, 160, 3), np.uint8)
    path = write_clip(tmp_path / "first.mp4",
                      [np.roll(texture, k, axis=1)[:, :96].copy() for k in range(24)], 24, gop=6)
    with av.open(str(path)) as container:
        first = next(p.pos for p in container.demux(container.streams.video[0]) if p.size)
    data = bytearray(path.read_bytes())
    data[first:first + 4] = b"\xff\xff\xff\xff"  # a NAL longer than the packet: refused
    path.write_bytes(bytes(data))
    with pytest.warns(DamagedVideoWarning):
        assert len(list(iter_frames(path))) == 18  # decoding starts at the second keyframe
    name, *options = command
    done = subprocess.run([sys.executable, "-m", "flowkit", name, str(path),
                           str(tmp_path / "out.mp4"), *options, "-q"], capture_output=True,
                          text=True)
    assert done.returncode == 0 and (tmp_path / "out.mp4").is_file()
    assert done.stderr.splitlines() == [f"flowkit: warning: {path}: a packet at 0.000 s could "
                                        "not be decoded (Invalid data found when processing "
                                        "input) and was skipped: its frame is lost, and so "
                                        "may be the frames that refer to it up to the next "
                                        "keyframe: the file is damaged (later damage of this "
                                        "kind is not reported)"]


def test_a_fifo_or_device_input_is_refused_not_waited_on(tmp_path):
    # flowkit retime FIFO out.mkv hung until Ctrl-C: the input is opened more than once (its
    # rotation, a seek), and the second open of a named pipe waits for a writer that is gone
    # (from a trial of issue 9); refused before it is opened, as outputs are
    import os

    fifo = tmp_path / "clip.mkv"
    os.mkfifo(fifo)
    code = ("import sys, flowkit\n"
            "try:\n    next(flowkit.iter_frames(sys.argv[1]))\n"
            "except ValueError as exc:\n    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code, str(fifo)], capture_output=True,
                          text=True, timeout=120)
    assert done.stdout.strip() == (f"path: {fifo} is a FIFO, not a regular file; expected a "
                                   "video file"), done.stderr
    with pytest.raises(ValueError, match="is a character device, not a regular file; expected"):
        probe_video("/dev/null")


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv"])
def test_a_pascal_handler_name_is_read_without_its_length_byte(tmp_path, suffix):
    # FFmpeg strips a handler name's Pascal length byte in QuickTime files only: the shared
    # nasa clip (an ISO MP4) read "\x1fMainconcept Video Media Handler", and retime copied the
    # control character into its output; a name that merely starts like one is kept. The
    # length is in bytes: "\x07Caméra" (7 bytes in UTF-8, 6 characters) kept its length byte
    for stored, expected in (("\x05Hello", "Hello"), ("Hello", "Hello"),
                             ("\x09Hello", "\x09Hello"), ("\x07Caméra", "Caméra"),
                             ("\x06Caméra", "\x06Caméra")):
        path = tmp_path / f"clip{suffix}"
        with VideoWriter(path, 10, stream_metadata={"handler_name": stored}) as writer:
            writer.write(np.zeros((16, 16, 3), np.uint8))
        assert probe_video(path).stream_metadata == {"handler_name": expected}, stored



@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_tags_that_are_not_utf8_are_read_with_a_replacement_character(tmp_path, suffix):
    # PyAV decodes tags strictly: a title, handler name or chapter title holding a 0xFF byte
    # failed every command ("'utf-8' codec can't decode"); ffprobe shows U+FFFD for it
    import flowkit
    from test_retime import file_chapters, file_tags, write_clip

    src = tmp_path / f"in{suffix}"
    write_clip(src, make_frames(6), 10, tone=440, rotation=90, metadata={"title": "Movie~~~"},
               titles=["Picture~~~", "Sound~~~"], chapters=[(0, 0.6, "Chapter~~~")])
    data = src.read_bytes()
    assert data.count(b"~~~") >= 5  # each tag once, the chapter's title once or twice
    src.write_bytes(data.replace(b"~~~", b"~~\xff"))
    info = probe_video(src)
    assert info.metadata["title"] == "Movie~~\ufffd" and info.rotation == 90
    assert info.stream_metadata == {"title": "Picture~~\ufffd",
                                    "handler_name": "Picture~~\ufffd handler"}
    assert info.chapters[0][2] == {"title": "Chapter~~\ufffd"}
    assert len(list(iter_frames(src))) == 6
    expected = ({"title": "Movie~~\ufffd"}, [("Picture~~\ufffd", "Picture~~\ufffd handler"),
                                             ("Sound~~\ufffd", "Sound~~\ufffd handler")])
    for name, call in (("retime", lambda out: flowkit.retime(src, out, factor=2,
                                                             method="blend", progress=False)),
                       ("translate", lambda out: flowkit.translate(src, out, "equalize",
                                                                   progress=False))):
        out = tmp_path / f"{name}{suffix}"
        call(out)
        assert file_tags(out) == expected, name
        assert [title for _, _, title in file_chapters(out)] == ["Chapter~~\ufffd"], name


@pytest.mark.parametrize("codec", ["mpeg1video", "mpeg2video"])
@pytest.mark.parametrize("size", [(32, 32), (320, 240), (640, 480)])
def test_mpeg_ps_duration_is_read_from_its_packets(tmp_path, codec, size):
    # FFmpeg estimates an MPEG-PS stream's duration from the PES packets near its end (a PES
    # packet's timestamp is that of the first of the small frames it holds, and the last
    # frame's duration is left out): 30 MPEG-2 frames at 30 fps probed 1/30 s at 32x32,
    # 13/15 s at 320x240, 29/30 s at 640x480
    import av

    from flowkit.video import expected_frame_count

    path = tmp_path / "clip.mpg"
    ramp = (np.arange(size[0]) * 3 % 256).astype(np.uint8)
    with VideoWriter(path, 30, codec=codec) as writer:
        for k in range(30):
            writer.write(np.broadcast_to((ramp + 5 * k)[None, :, None], (*size[::-1], 3)))
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = [p for p in container.demux(stream) if p.pts is not None]
        end = max(p.pts + p.duration for p in packets) - stream.start_time
        assert len(packets) == 30 and end * stream.time_base == 1
    info = probe_video(path)
    assert info.duration == 1 and expected_frame_count(info) == 30


def test_mpeg_ps_packets_are_read_once_per_file(tmp_path, monkeypatch):
    # probe_video's duration and video_end read an MPEG-PS file's packets from a second
    # opening of it: a retime read all of them four times (0.20 s of 50 MB, 0.06 s once) ->
    # once per file as it stands, read again where it changed
    from flowkit import video

    path = tmp_path / "clip.mpg"
    for count in (30, 20):  # the same path rewritten: its new end
        write_video(path, make_frames(count), 30, codec="mpeg2video")
        info = probe_video(path)
        assert info.duration == Fraction(count, 30)
        opened = []
        with monkeypatch.context() as patched:
            read = video._av_read
            patched.setattr(video, "_av_read", lambda p, **kw: opened.append(kw) or read(p, **kw))
            assert video.video_end(path, probe_video(path)) == Fraction(count, 30)
        # the rotation's look at the first frame; no pass over the packets
        assert [kw.get("format") for kw in opened].count("mpeg") == 1


def test_mpeg_ps_packets_are_read_again_for_a_copy_keeping_the_old_time(tmp_path):
    # the cache's key was path, size and modification time: a file replaced by one of the
    # same size and time (cp -p, os.utime) was answered from the old one's packets
    import shutil

    from flowkit import video

    path, copy = tmp_path / "clip.mpg", tmp_path / "copy.mpg"
    write_video(path, make_frames(30), 30, codec="mpeg2video")
    probe_video(path)
    shutil.copy2(path, copy)  # same bytes and times, another file
    os.replace(copy, path)
    misses = video._ps_packets_read.cache_info().misses
    assert probe_video(path).duration == 1
    assert video._ps_packets_read.cache_info().misses == misses + 1
    assert probe_video(path).duration == 1
    assert video._ps_packets_read.cache_info().misses == misses + 1



@pytest.mark.parametrize("size", [(32, 32), (320, 240)])
def test_h264_mpeg_ps_duration_counts_its_untimed_packets(tmp_path, size):
    # H.264 in MPEG-PS (libx264: retime's default for .mpg) gives a timestamp only to the
    # first frame of a PES packet; the frames after the last timed one were left out: 30
    # frames at 30 fps probed 1/30 s (32x32) or 4/5 s (320x240), and retime --range refused a
    # start after that as after the end of the video
    import av

    from flowkit.video import expected_frame_count, video_end

    path = tmp_path / "clip.mpg"
    ramp = (np.arange(size[0]) * 3 % 256).astype(np.uint8)
    with VideoWriter(path, 30, codec="libx264") as writer:
        for k in range(30):
            writer.write(np.broadcast_to((ramp + 5 * k)[None, :, None], (*size[::-1], 3)))
    with av.open(str(path)) as container:
        packets = [p for p in container.demux(container.streams.video[0]) if p.size]
        assert len(packets) == 30 and any(p.pts is None for p in packets)
    info = probe_video(path)
    assert info.duration == 1 and video_end(path, info) == 1
    assert expected_frame_count(info) == 30
    times = [t for t, _ in iter_frames(path, timestamps=True)]
    assert len(times) == 30 and times[-1] - times[0] == Fraction(29, 30)

def interlaced_truth(count=8):
    """``count`` frames of Tears of Steel where things move (frames 66-73), a 96x64 crop at
    full resolution: the progressive truth that ``interlaced_clip`` weaves into 25i."""
    frames = itertools.islice(iter_frames(data_path("video", "zwm__clip_01_tears_of_steel.mp4")),
                              66, 66 + count)
    return [frame[100:164, 200:296].copy() for frame in frames]


def test_iter_frames_deinterlace(tmp_path):
    # interlaced video (1080i, 576i) could only be read as frames of two fields woven, combed
    # where things move: deinterlace=True gives a frame per field, as bwdif=mode=send_field,
    # at the fields' times, closer to the progressive truth by far (woven 22.0 dB, fields 32.1
    # dB for MPEG-2 bff, 34.8 dB for x264 tff)
    from flowkit.metrics import psnr

    truth = interlaced_truth()
    for order, codec, suffix, options in (("bff", "mpeg2video", ".ts", {"qscale": "2"}),
                                          ("tff", "libx264", ".mp4", {"crf": "12"})):
        path = interlaced_clip(tmp_path / f"{order}{suffix}", truth, codec, order, options)
        woven = list(iter_frames(path))
        fields = list(iter_frames(path, timestamps=True, deinterlace=True))
        assert len(woven) == 4 and len(fields) == 8, order
        times = [time - fields[0][0] for time, _ in fields]
        assert times == [Fraction(k, 50) for k in range(8)], order
        combed = np.mean([psnr(woven[k // 2], frame) for k, frame in enumerate(truth)])
        split = np.mean([psnr(field, frame) for (_, field), frame in zip(fields, truth)])
        swapped = np.mean([psnr(field, truth[k ^ 1]) for k, (_, field) in enumerate(fields)])
        assert split > combed + 8 and split > swapped + 4, (order, combed, split, swapped)
    # progressive frames pass unchanged; fields are for video files
    plain = data_path("video", "torchcodec__nasa_13013.mp4")
    for a, b in zip(iter_frames(plain, deinterlace=True), itertools.islice(iter_frames(plain), 5)):
        assert np.array_equal(a, b)
    with pytest.raises(ValueError, match="deinterlace: expected a video file"):
        iter_frames(tmp_path, deinterlace=True)
    with pytest.raises(TypeError, match="deinterlace"):
        iter_frames(path, deinterlace="yes")


def _drop_frame_labels(start, count):
    """``count`` drop-frame labels at 29.97 fps from ``start`` ``(h, m, s, f)``, one frame at a
    time: ;00 and ;01 skipped at each minute but every tenth (SMPTE 12M)."""
    h, m, s, f = start
    labels = []
    while len(labels) < count:
        labels.append(f"{h:02d}:{m:02d}:{s:02d};{f:02d}")
        f += 1
        if f == 30:
            f, s = 0, s + 1
            if s == 60:
                s, m = 0, m + 1
                if m == 60:
                    m, h = 0, h + 1
                if m % 10:
                    f = 2
    return labels


def test_deinterlaced_video_keeps_its_start_timecode():
    # field_info doubled the rates and kept the label, which writer_tags then read at the
    # field rate: 10:00:00:12 of a 25i input retimed or translated with deinterlace to 50 fps
    # got 10:00:00:12 (0.24 s early) instead of 10:00:00:24
    from flowkit.video import VideoInfo, field_info, writer_tags

    info = VideoInfo(width=64, height=48, rotation=0, frame_rate=Fraction(25),
                     time_base=Fraction(1, 25), frame_count=4, duration=Fraction(4, 25),
                     codec="mpeg2video", pix_fmt="yuv420p", bit_depth=8, audio=False,
                     base_rate=Fraction(25), field_order="tt", timecode="10:00:00:12")
    fields = field_info(info)
    assert fields.base_rate == 50 and fields.timecode == "10:00:00:24"
    for source, fps in ((info, 50), (fields, 50), (fields, 25)):
        tags = writer_tags(source, None, Fraction(0), fps)
        assert tags["stream_metadata"]["timecode"] == ("10:00:00:12" if fps == 25
                                                       else "10:00:00:24"), (source, fps)


def test_timecode_arithmetic():
    # the start timecode an output's first frame gets, counted as FFmpeg's av_timecode counts
    from flowkit.video import timecode_after

    ntsc = Fraction(30000, 1001)
    frames = Fraction(1001, 30000)  # a frame at 29.97 fps, in seconds
    assert timecode_after("01:00:00;00", ntsc, 1800 * frames) == "01:01:00;02"  # by hand
    assert timecode_after("00:09:59;29", ntsc, frames) == "00:10:00;00"  # tenth: none skipped
    assert timecode_after("00:00:59;59", 2 * ntsc, frames / 2) == "00:01:00;04"  # 59.94: four
    assert timecode_after("01:00:00:00", ntsc, 1800 * frames) == "01:01:00:00"  # non-drop
    assert timecode_after("01:00:00:00", 25, Fraction(36)) == "01:00:36:00"
    assert timecode_after("23:59:59:24", 25, Fraction(1, 25)) == "00:00:00:00"
    assert timecode_after("01:00:00:12", 25) == "01:00:00:12"
    # another rate: the label kept, frames scaled; drop-frame at 30 and 60 fps only
    assert timecode_after("01:00:00:12", 25, out_rate=50) == "01:00:00:24"
    assert timecode_after("01:00:00:12", 25, Fraction(1, 2), out_rate=50) == "01:00:00:49"
    assert timecode_after("01:00:00:47", 48, out_rate=24) == "01:00:00:23"
    assert timecode_after("01:00:00;10", ntsc, out_rate=2 * ntsc) == "01:00:00;20"
    assert timecode_after("01:00:00;00", ntsc, out_rate=25) == "01:00:00:00"
    # none where FFmpeg writes none: unreadable, drop-frame at 25 fps, under 0.5 fps
    for timecode, rate in (("1:00", 25), ("01:00:00;00", 25), ("01:00:00:00", Fraction(1, 5))):
        assert timecode_after(timecode, rate) is None
    # drop-frame over 25 minutes, frame by frame, against the labels counted one by one
    labels = _drop_frame_labels((0, 58, 30, 0), 25 * 1800)
    assert [timecode_after(labels[0], ntsc, k * frames)
            for k in range(0, len(labels), 7)] == labels[::7]


def test_probe_reads_the_start_timecode(tmp_path):
    # a camera's start timecode (MOV/MP4 tmcd track, Matroska TIMECODE tag) was not read:
    # VideoInfo had no field for it and a Matroska file's global TIMECODE sat in metadata,
    # copied unchanged into outputs that start elsewhere
    from test_retime import write_clip

    frames = [np.zeros((16, 16, 3), np.uint8)] * 3
    for name, rate, timecode in (("a.mov", 25, "01:00:00:00"), ("b.mp4", 25, "10:20:30:12"),
                                 ("c.mov", Fraction(30000, 1001), "01:00:00;00"),
                                 ("d.mkv", 24, "00:59:59:23")):
        clip = write_clip(tmp_path / name, frames, rate, timecode=timecode)
        assert probe_video(clip).timecode == timecode, name
    clip = write_clip(tmp_path / "e.mkv", frames, 25,
                      metadata={"TIMECODE": "02:00:00:00", "title": "take 2"})
    info = probe_video(clip)
    assert info.timecode == "02:00:00:00" and info.metadata == {"title": "take 2"}
    assert probe_video(write_clip(tmp_path / "f.mov", frames, 25)).timecode is None


def test_wmv_with_the_video_after_its_audio_reads_back(tmp_path):
    # FFmpeg's ASF demuxer gives every stream the file's end (play duration less preroll) as
    # its duration; AAC's priming (1024 samples, 0.128 s at 8 kHz) starts the audio before the
    # video, the muxer shifts both (video at 0.128 s), and the video's duration was added to
    # that start: iter_frames refused retime's own .wmv with AAC audio as cut short (ends at
    # 0.400 s, headers say 0.528 s), probe_video said 0.528 s
    import av

    path = primed_aac_clip(tmp_path / "a.wmv", "wmv2", 1600)
    with av.open(str(path)) as container:
        assert container.streams.video[0].start_time == 128  # milliseconds
    times = [t for t, _ in iter_frames(path, timestamps=True)]
    # ASF stores milliseconds: each time within 1 ms of 0.128 + k / 25
    assert len(times) == 10
    assert all(abs(t - Fraction(16, 125) - Fraction(k, 25)) <= Fraction(1, 1000)
               for k, t in enumerate(times)), times
    assert probe_video(path).duration == Fraction(2, 5)


def primed_aac_clip(path, codec, samples):
    """10 frames at 25 fps of ``codec`` and ``samples`` of silent mono AAC at 8 kHz from time
    0, whose priming (1024 samples, 0.128 s) the muxer answers by starting the video at
    0.128 s; returns ``path``."""
    import av

    with av.open(str(path), "w") as container:
        video = container.add_stream(codec, rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = container.add_stream("aac", rate=8000)
        audio.layout = "mono"
        for k in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 20 * k, np.uint8),
                                               format="rgb24")
            frame.pts = k
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        sound = av.AudioFrame.from_ndarray(np.zeros((1, samples), np.float32), format="fltp",
                                           layout="mono")
        sound.sample_rate, sound.pts = 8000, 0
        container.mux(audio.encode(sound))
        container.mux(audio.encode(None))
    return path


@pytest.mark.parametrize("codec", ["flv", "libx264"])
def test_flv_with_the_video_after_its_audio_probes_the_videos_length(tmp_path, codec):
    # FFmpeg's FLV muxer stores the end of the last frame as the file's duration; AAC's
    # priming (0.128 s at 8 kHz) starts the audio before the video, which the muxer shifts to
    # 0.128 s, and the duration was counted from the audio's start: 10 frames at 25 fps
    # (0.4 s) probed 0.528 s (a 2 s clip 2.128 s), 13 frames expected, video_end 0.528 s
    import av

    from flowkit.video import expected_frame_count, video_end

    path = primed_aac_clip(tmp_path / "a.flv", codec, 3200)
    with av.open(str(path)) as container:
        assert container.streams.video[0].start_time == 128  # milliseconds
    assert len(list(iter_frames(path))) == 10
    info = probe_video(path)
    assert info.duration == Fraction(2, 5) and expected_frame_count(info) == 10
    assert video_end(path, info) == Fraction(2, 5)


def clip_with_audio(path, codec, audio_codec, frames, audio_seconds, fps=10):
    """``frames`` frames at ``fps`` from time 0 and ``audio_seconds`` of silence at 8 kHz (mono:
    PyAV's encoder frames the samples), streams of different lengths; returns ``path``."""
    import av

    with av.open(str(path), "w") as container:
        video = container.add_stream(codec, rate=fps)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = container.add_stream(audio_codec, rate=8000)
        audio.layout, audio.bit_rate = "mono", 32000
        for k in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 10 * k, np.uint8),
                                               format="rgb24")
            frame.pts = k
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        sound = av.AudioFrame.from_ndarray(np.zeros((1, round(8000 * audio_seconds)), np.float32),
                                           format="fltp", layout="mono")
        sound.sample_rate, sound.pts = 8000, 0
        container.mux(audio.encode(sound))
        container.mux(audio.encode(None))
    return path


@pytest.mark.parametrize("name, codec, audio_codec", [("a.flv", "libx264", "aac"),
                                                      ("b.flv", "flv", "aac"),
                                                      ("c.wmv", "wmv2", "wmav2")])
def test_audio_outlasting_the_video_is_no_file_cut_short(tmp_path, name, codec, audio_codec):
    # FLV stores only the file's duration, and FFmpeg's ASF demuxer gives it every stream:
    # with 2 s of audio and 1 s of video the video was refused as cut short ('the video ends
    # at 1.000 s, its headers say 2.000 s'), so a valid file could not be read or retimed
    path = clip_with_audio(tmp_path / name, codec, audio_codec, 10, 2)
    assert len(list(iter_frames(path))) == 10


def test_an_flv_cut_short_with_audio_outlasting_its_video_is_still_refused(tmp_path):
    whole = clip_with_audio(tmp_path / "a.flv", "libx264", "aac", 20, 3).read_bytes()
    cut = tmp_path / "cut.flv"
    cut.write_bytes(whole[:len(whole) * 3 // 5])
    with pytest.raises(ValueError, match="cut short"):
        list(iter_frames(cut))


def test_a_part_from_the_start_of_an_flv_decodes(tmp_path):
    # decode_from reads a part from the start by a seek 10 s before the stream's start, a
    # negative time FFmpeg's FLV demuxer refuses: retime(part=(0, 1)) of an .flv (batch's
    # first chunk; last_frames where the seek finds no keyframe) failed with 'cannot decode
    # a.flv (Operation not permitted)'
    from flowkit.video import decode_from, open_input

    path = clip_with_audio(tmp_path / "a.flv", "libx264", "aac", 10, 1)
    container, stream = open_input(path)
    with container:
        origin, frames = decode_from(container, stream, Fraction(0))
        times = [time - origin for time, _ in frames]
    assert times == [Fraction(k, 10) for k in range(10)]


@pytest.mark.parametrize("name, frames, audio_seconds", [("a.flv", 10, 2), ("b.ts", 20, 1)])
def test_video_end_is_the_last_frames_end(tmp_path, name, frames, audio_seconds):
    # video_end read the packets after a seek to the declared end, not from a keyframe before
    # it: an .flv's seek to the file's end (its audio's, 2 s) found no video packet, and the
    # file's 2 s stood for the 1 s video (--range 1.5:1.9 taken); an H.264 MPEG-TS seek lands
    # on the last packet, a B-frame shown before the frame decoded ahead of it (1.9 s for 2 s)
    from flowkit.video import video_end

    path = clip_with_audio(tmp_path / name, "libx264", "aac", frames, audio_seconds)
    assert video_end(path, probe_video(path)) == Fraction(frames, 10)


@pytest.mark.parametrize("name, codec, audio_codec", [("a.flv", "libx264", "aac"),
                                                      ("c.wmv", "wmv2", "wmav2")])
def test_probe_gives_the_videos_length_where_its_audio_outlasts_it(tmp_path, name, codec,
                                                                   audio_codec):
    # FLV stores only the file's duration and FFmpeg's ASF demuxer gives it every stream:
    # with 2 s of audio a 1 s video probed 2 s (flowkit probe; 20 frames expected)
    from flowkit.video import expected_frame_count

    path = clip_with_audio(tmp_path / name, codec, audio_codec, 10, 2)
    info = probe_video(path)
    assert info.duration == 1 and expected_frame_count(info) == 10
