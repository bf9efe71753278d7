"""Video input and output on PyAV (FFmpeg's libraries): frames in and out as RGB (or gray)
NumPy arrays; OpenCV reads folders of images.

``iter_frames`` reads a video file or a folder of images, upright (display rotation applied),
optionally with each frame's presentation time; ``probe_video`` describes a video file;
``VideoWriter`` writes a video atomically (a temporary file renamed on close, removed if
anything fails).
"""

import contextlib
import dataclasses
import errno
import functools
import math
import numbers
import os
import re
import shlex
import sys
import weakref
from fractions import Fraction
from pathlib import Path

import numpy as np

from ._atomic import atomic_path, refuse_special_input
from ._backend import as_array, to_host
from ._validate import (check_array, check_bool, check_float, check_int, check_path, describe,
                        warn_user)

__all__ = ["iter_frames", "probe_video", "VideoInfo", "VideoWriter", "DamagedVideoWarning"]


class DamagedVideoWarning(UserWarning):
    """A video is damaged and decoding went on: frames were decoded with errors that FFmpeg
    concealed (a corrupt packet's blocks filled from their surroundings or the previous
    frame, as the ``ffmpeg`` tool's ``error while decoding`` lines say), or packets the
    decoder refused were skipped, their frames lost (as the ``ffmpeg`` tool skips them; the
    frames around keep their times). Warned once per kind in each pass over a file, at the
    first (``flowkit`` prints ``flowkit: warning: ...``);
    ``warnings.simplefilter("error", DamagedVideoWarning)`` makes it an error."""

TIFF_EXTENSIONS = frozenset({".tif", ".tiff"})  # files of one or more pages: image stacks
IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm", ".pnm"}
)
VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg",
                              ".ts", ".mts", ".m2ts", ".flv", ".wmv", ".ogv", ".3gp"})
# default encoder (FFmpeg name) per container
DEFAULT_CODECS = {".mp4": "libx264", ".m4v": "libx264", ".mov": "libx264", ".mkv": "ffv1",
                  ".avi": "mjpeg", ".webm": "libvpx-vp9"}
# containers that store a frame rate, not a time per frame: VideoWriter writes them at 1 / fps
# (given a finer time base, FFmpeg's AVI muxer made a 10 fps clip a 600 fps stream of mostly
# empty frames)
FRAME_RATE_CONTAINERS = frozenset({".avi"})
# encoders that code a frame rate, their time base 1 / fps (FFmpeg reads the coded rate from
# it), in any container: frames go on the 1 / fps slots as in FRAME_RATE_CONTAINERS
FRAME_RATE_CODECS = frozenset({"mpeg1video", "mpeg2video"})
# containers whose readers time frames by their decoding order (AVI, ASF/WMV), where the
# MPEG-1 frames of a stream that cannot state it has no B-frames read back a frame late
DTS_ONLY_CONTAINERS = frozenset({".avi", ".wmv", ".asf"})
# MPEG transport and program streams (FFmpeg's mpegts, mpeg, vob and dvd muxers) and the
# codecs they carry with a stream type: their muxers took any other (VP9, AV1, FFV1, MJPEG,
# ProRes, PNG, ...) as private data, so the file was written and read back with no video stream
MPEG_PS_CONTAINERS = frozenset({".mpg", ".mpeg", ".vob", ".dvd"})  # program streams
MPEG_STREAM_CONTAINERS = frozenset({".ts", ".m2t", ".mts", ".m2ts"}) | MPEG_PS_CONTAINERS
MPEG_STREAM_CODECS = frozenset({"h264", "hevc", "mpeg4", "mpeg1video", "mpeg2video"})
# containers VideoWriter writes with FFmpeg's shift of negative timestamps off (why: _open)
UNSHIFTED_CONTAINERS = FRAME_RATE_CONTAINERS | {".mkv", ".webm"}
# QuickTime-family containers VideoWriter writes with their index (moov) before the frames
# (FFmpeg's -movflags +faststart), as a finished file for the web and editors is: at the end,
# a player reading over HTTP or a pipe needs the whole file (or a seek to its end) to start
FASTSTART_CONTAINERS = frozenset({".mp4", ".m4v", ".mov", ".3gp"})
# containers VideoWriter writes with FFmpeg's -fflags +bitexact: Matroska otherwise stores a
# random segment UID and the time of writing, so two runs of one job differed in their bytes
BITEXACT_CONTAINERS = frozenset({".mkv", ".webm"})
# containers that store a display rotation (PyAV 18.1's FFmpeg, a 90-degree tag written and
# read back); AVI, MPEG-TS (.ts, .mts, .m2ts), MPEG-PS (.mpg), FLV, WMV and NUT drop it, so
# VideoWriter stores frames turned there (stored_rotation)
ROTATION_CONTAINERS = frozenset({".mp4", ".m4v", ".mov", ".3gp", ".mkv", ".webm"})
# FourCC codes (OpenCV's writer took these) -> FFmpeg encoder
FOURCC = {"mp4v": "mpeg4", "xvid": "mpeg4", "divx": "mpeg4", "fmp4": "mpeg4", "mjpg": "mjpeg",
          "ffv1": "ffv1", "avc1": "libx264", "h264": "libx264", "x264": "libx264",
          "hvc1": "libx265", "hev1": "libx265", "vp09": "libvpx-vp9", "vp90": "libvpx-vp9",
          "av01": "libsvtav1"}
# encoders that take a constant rate factor, and the highest each takes (FFmpeg's encoders:
# x264 (libx264rgb too) and x265 0-51, capping a higher value at 51 silently; libvpx-vp9, SVT-AV1, libaom and
# libvpx's VP8 0-63)
CRF_MAX = {"libx264": 51, "libx264rgb": 51, "libx265": 51, "libvpx-vp9": 63, "libsvtav1": 63,
           "libaom-av1": 63, "libvpx": 63}
CRF_CODECS = frozenset(CRF_MAX)
_CRF_LIMIT = max(CRF_MAX.values())  # of the encoders that ignore crf: the widest range
# the CRF every writer of flowkit uses unless told (retime, translate, predict's and flow's videos,
# the batch jobs); VideoWriter alone leaves the encoder's own default
DEFAULT_CRF = 18
# encoders without a CRF whose quality is set by a quantiser (q 2, FFmpeg's -q:v 2): MJPEG and
# FFmpeg's MPEG-family encoders (MPEG-1/2/4, H.261/H.263, Microsoft MPEG-4 and WMV 7/8, FLV)
QSCALE_CODECS = frozenset({"mjpeg", "mpeg4", "mpeg1video", "mpeg2video", "h261", "h263", "h263p",
                           "msmpeg4v2", "msmpeg4", "wmv1", "wmv2", "flv"})
_FF_QP2LAMBDA = 118  # FFmpeg's lambda per quantiser step (libavutil FF_QP2LAMBDA)


def _natural_key(path):
    # "frame2" sorts before "frame10"; zero-padded names sort as plainly; names the numbers make
    # equal ("frame02", "frame2") by the name, not in the order the file system lists them
    parts = [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]
    return parts, path.name


def _check_resize(resize):
    if resize is None:
        return None
    if not isinstance(resize, (tuple, list)) or len(resize) != 2:
        raise TypeError(f"resize: expected None or a (width, height) pair of integers, got {resize!r}")
    width, height = (check_int(f"resize[{i}]", v, min_value=1) for i, v in enumerate(resize))
    return width, height


def _finish(rgb, gray, resize):
    """Resize an RGB (or gray) frame, then convert it to gray if asked (OpenCV's weights)."""
    import cv2

    if resize is not None and (rgb.shape[1], rgb.shape[0]) != resize:
        shrink = resize[0] * resize[1] < rgb.shape[0] * rgb.shape[1]
        rgb = cv2.resize(rgb, resize, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    if rgb.ndim == 2:
        return rgb if gray else cv2.cvtColor(rgb, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if gray else np.ascontiguousarray(rgb)


# --- reading ------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` reads from a video file's headers.

    Attributes
    ----------
    width, height : int
        Size of the frames as displayed (after ``rotation``).
    rotation : int
        Display rotation in degrees, counter-clockwise, one of 0, 90, 180, 270 (FFmpeg's
        display matrix; -90 is stored as 270). :func:`iter_frames` applies it.
    frame_rate : Fraction or None
        Frames per second: FFmpeg's guess of the real rate when the average rate is within
        2 % of it (a constant-rate clip with a few irregular gaps, or one cut short), else
        the average rate (variable frame rate); None if the container does not say. Where
        FFmpeg has no average rate (a 1-2 frame .mpg written at 30 fps: FFmpeg guesses 60),
        or one below 1/12 fps that it may have rounded (a denominator of 30000 or more),
        the rate of the first frames' timestamps (their smallest step), for FFmpeg's are not
        the timestamps' there (ffprobe says 1/4 or 0/0 for an MKV at 1e-6 fps, 1/60000 for
        one at a frame a day); ``base_rate`` is then the same.
    base_rate : Fraction or None
        The rate whose grid the timestamps lie on (FFmpeg's ``r_frame_rate``): ``frame_rate``
        for a constant rate; for a variable rate from dropped frames, as phones record, the
        nominal rate (30 for the shared clip whose average is 20.1); ``frame_rate`` where
        FFmpeg's guess is not plausible (above 4x the average: timestamps with no common
        grid), so None only when the container states no rate. ``retime`` takes its
        multiples, so that every input frame falls on the output's grid.
    time_base : Fraction
        Unit of the stream's timestamps, in seconds.
    frame_count : int or None
        Frames according to the container, known without decoding (None if it does not say):
        for an MP4 or MOV, whose index lists every sample, the samples its edit list shows,
        so the frames :func:`iter_frames` yields from an undamaged file (a cut made with
        ``ffmpeg -ss T -c copy`` holds samples before T that FFmpeg decodes but never shows:
        48 samples, 45 frames); elsewhere the count the header states (AVI's may be
        approximate).
    duration : Fraction or None
        Duration of the video stream in seconds from its first frame, if the container says
        (Matroska and WebM: from the video track's ``DURATION`` tag, to the millisecond; the
        container's duration, which runs to the end of the audio, only where the file has no
        such tag).
    codec : str
        Decoder name, e.g. ``"h264"``, ``"hevc"``, ``"vp9"``.
    pix_fmt : str
        FFmpeg pixel format of the coded frames, e.g. ``"yuv420p"``, ``"yuv420p10le"``.
    bit_depth : int
        Bits per sample of the pixel format (8, 10, 12, 16).
    read_depth : int
        16 where ``bit_depth`` is above 8, else 8: the ``iter_frames`` ``depth`` that keeps
        the frames' precision (a property).
    audio : bool
        Whether the file holds an audio stream.
    color : dict
        Colour tags of the stream that are set: FFmpeg codec-context attributes
        ``colorspace`` (matrix), ``color_range``, ``color_primaries``, ``color_trc``
        (transfer), as ints; empty when the file leaves them unspecified.
    language : str or None
        The video stream's ``language`` tag (ISO 639-2, e.g. ``"eng"``); None when the file
        has none or says ``"und"``.
    alpha : bool
        Whether the frames carry transparency: a pixel format with alpha (``yuva420p``,
        ``rgba``, ``argb``, ``yuva444p12le`` of ProRes 4444, ...) or a WebM's ``alpha_mode``
        tag (VP9 alpha, which FFmpeg's own decoder leaves out). flowkit reads and writes
        video without it: ``retime``, ``translate`` and ``predict`` write opaque frames (the
        command line notes it).
    metadata : dict
        The file's global tags (``title``, ``comment``, ``artist``, ``creation_time``, ...) as
        FFmpeg reads them, less those its muxers write themselves or that describe the
        container rather than its content (``MUXER_TAGS``: ``encoder``, MP4's brands).
    stream_metadata : dict
        The video stream's ``title`` (MP4 and MOV read it as ``name``) and ``handler_name``
        (Matroska's ``HANDLER_NAME``), under those keys, where it has them. Tags are read as
        UTF-8, a byte that is not as U+FFFD (as ffprobe shows it).
    chapters : tuple
        The file's chapters, ``(start, end, tags)``: seconds (Fractions) from the video
        stream's start and the chapter's tags (``{"title": ...}``).
    audio_codecs : tuple
        The codec name of each audio stream, in the file's order (``("aac", "ac3")``), as
        ffprobe's ``codec_name`` gives it (``"mp3"``, not its decoder ``"mp3float"``); empty
        where ``audio`` is False.
    sample_aspect_ratio : Fraction or None
        Width of a coded pixel over its height, as FFmpeg guesses it (the container's, else
        the bitstream's): ``Fraction(64, 45)`` for 16:9 PAL DVD video stored 720x576, 1 for
        square pixels; None where the file does not say (taken as square). Of the coded
        frames, before ``rotation``. ``retime``, ``translate`` and ``predict`` keep it.
    field_order : str or None
        ffprobe's ``field_order``: ``"progressive"``, or for interlaced video ``"tt"`` (top
        field first, coded and shown: 1080i, most HD broadcast), ``"bb"`` (bottom first: DV,
        576i DVD), ``"tb"`` (top coded first, bottom shown first), ``"bt"`` (the reverse);
        None where the file does not say. flowkit reads
        interlaced frames as progressive ones, the two fields woven (the command line notes
        it), unless asked to deinterlace (``iter_frames(deinterlace=True)``, ``retime``,
        ``translate`` and ``predict`` ``--deinterlace``: a frame per field, FFmpeg's bwdif).
    timecode : str or None
        The start timecode, the first frame's SMPTE timecode ``"HH:MM:SS:FF"`` (``;`` before
        the frames for drop-frame, 29.97 and 59.94 fps) as FFmpeg reads it: a MOV's or MP4's
        ``tmcd`` track, Matroska's ``TIMECODE`` tag (the video stream's, else the file's);
        None where the file has none. ``retime``, ``translate`` and ``predict`` write their
        first frame's (:func:`timecode_after`), not the file's ``metadata``.
    """

    width: int
    height: int
    rotation: int
    frame_rate: Fraction | None
    time_base: Fraction
    frame_count: int | None
    duration: Fraction | None
    codec: str
    pix_fmt: str
    bit_depth: int
    audio: bool
    color: dict = dataclasses.field(default_factory=dict)
    language: str | None = None
    base_rate: Fraction | None = None
    alpha: bool = False
    metadata: dict = dataclasses.field(default_factory=dict)
    stream_metadata: dict = dataclasses.field(default_factory=dict)
    chapters: tuple = ()
    audio_codecs: tuple = ()
    sample_aspect_ratio: Fraction | None = None
    field_order: str | None = None
    timecode: str | None = None

    @property
    def read_depth(self):
        """The ``iter_frames`` depth that keeps the frames' precision: 16 for more than 8 bits
        (10-bit HEVC, ...), else 8."""
        return 16 if self.bit_depth > 8 else 8


def _rotation(degrees):
    """A display rotation rounded to a quarter turn, in [0, 360)."""
    return int(round((degrees or 0) / 90.0)) % 4 * 90


# how far into a file FFmpeg reads for a video's pixel format when its first 5 s hold none
PROBE_SECONDS = 600
# and for the time of its first frame when its first 5 s do not give it (a frame every 10 s);
# FFmpeg stops at its probesize (5 MB) all the same
START_PROBE_SECONDS = 10**7


def open_input(path):
    """Open a video file with PyAV: ``(container, video stream)``; errors name ``path``.

    Raises FileNotFoundError for a missing file and ValueError for a file that is not a
    video FFmpeg can read, or not a regular file (a FIFO, a device), and for a TIFF of more
    than one page (an image stack, which FFmpeg reads as its first page alone).
    """
    check_path("path", path)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"path: no such video file or image folder: {path}"
                                f"{pattern_hint(path)}")
    refuse_special_input(path, "a video file", f"path: {path}")  # opened more than once
    pages = tiff_pages(path)
    if pages > 1:  # FFmpeg reads its first page alone, as a one-frame video
        raise ValueError(f"path: {path} is a TIFF of {pages} pages, an image stack, not a video "
                         f"file (iter_frames reads its pages as frames)")
    frames = webp_frames(path)
    if frames > 1:  # FFmpeg's WebP decoder reads no animation: 'unknown codec or damaged headers'
        raise ValueError(f"path: {path} is an animated WebP ({frames} frames), "
                         f"which FFmpeg cannot decode; convert it to a video, an animated GIF or "
                         f"PNG, or a folder of images (libwebp's anim_dump)")
    container, stream = _open_video(path)
    if stream.codec_context is not None and stream.codec_context.format is None:
        # FFmpeg learns the pixel format from the first frames it reads within 5 s of the
        # start: a video starting 10 s after its audio had none ('unknown codec or damaged
        # headers'), though it decodes; read further
        container.close()
        container, stream = _open_video(path, {"analyzeduration": str(PROBE_SECONDS * 10**6)})
    if stream.start_time is None:
        # H.264 with B-frames in an MKV at 1/10 fps: FFmpeg did not see the first frame's
        # decoding time within 5 s and left the start unknown, then took the fourth frame's
        # time (30 s) for it while demuxing, so the frames' end fell 30 s short of the
        # DURATION tag and every command refused flowkit's own file as cut short; read further
        container.close()
        container, stream = _open_video(path, {"analyzeduration": str(START_PROBE_SECONDS
                                                                       * 10**6)})
    if stream.codec_context is None or stream.codec_context.format is None:
        container.close()
        raise ValueError(f"path: cannot decode the video stream of {path} (unknown codec or "
                         f"damaged headers)")
    # slice threads, not frame threads: with frame threading FFmpeg drops the error of a
    # file that is cut or damaged part way, and decoding just ends early (a truncated clip
    # would be retimed in part with exit code 0); decoding time was the same on the shared clips
    stream.thread_type = "SLICE"
    return container, stream


# FFmpeg's MPEG-TS probe scores a file under 2244 bytes (12 packets of 188: 1-3 small frames)
# at most 2: it took one of 5-6 packets for MPEG-PS ('mpeg', score 25), whose demuxer found
# nothing ('End of file'), and a one-frame MPEG-1/2 one for a raw MPEG video stream
# ('mpegvideo'), read at its default 25 fps whatever the rate written. A file with an MPEG-TS
# extension that the probe cannot open, or takes for a raw MPEG video stream, is opened as
# MPEG-TS. Not MPEG-TS first: forced on another format so named, FFmpeg's MPEG-TS demuxer
# scans the whole file for a sync byte before failing (5 s at 100 MB, an MKV renamed .ts) or
# reads an MPEG-PS's packs as streams of unknown type ("holds no video stream")
_TS_SUFFIXES = frozenset({".ts", ".m2t", ".mts", ".m2ts"})


def _av_read(path, **kwargs):
    """``av.open(path)`` for reading, its tags (global, streams', chapters') decoded as UTF-8
    with each invalid byte read as U+FFFD, as ffprobe shows them: PyAV decodes them strictly,
    and a title or handler name holding a 0xFF byte failed every command ('utf-8' codec can't
    decode). ``kwargs`` go to ``av.open``."""
    import av

    return av.open(str(path), "r", metadata_errors="replace", **kwargs)


def _av_open(path, options=None):
    """``av.open(path)`` for reading (with the demuxer ``options``); a file with an MPEG-TS
    extension as MPEG-TS where FFmpeg's probe fails or finds a raw MPEG video stream, and
    the probe's video stream is no better (above)."""
    import av

    path = str(path)
    if Path(path).suffix.lower() not in _TS_SUFFIXES:
        return _av_read(path, options=options)
    try:
        probed = _av_read(path, options=options)
    except av.FFmpegError:
        probed = None
    if probed is not None and probed.format.name != "mpegvideo":
        return probed
    try:
        forced = _av_read(path, format="mpegts", options=options)
    except av.FFmpegError:
        forced = None
    if forced is not None and forced.streams.video:
        if probed is not None:
            probed.close()
        return forced
    if forced is not None:
        forced.close()
    return probed if probed is not None else _av_read(path, options=options)


def _open_video(path, options=None):
    """``(container, video stream)`` of ``path`` opened with the demuxer ``options``."""
    import av

    try:
        container = _av_open(path, options)
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        raise ValueError(f"path: cannot open {path} as a video ({_av_message(exc)})") from None
    # an attached picture (cover art of an MP4, M4A or MKV) is a video stream of one image
    # that FFmpeg marks so: it is not the video (an M4A with a cover was read as a one-frame
    # "video" at 90000 fps)
    moving = [s for s in container.streams.video if not is_attached_picture(s)]
    if not moving:
        only = " (only an attached picture: cover art)" if container.streams.video else ""
        container.close()
        raise ValueError(f"path: {path} holds no video stream{only}")
    return container, moving[0]


def is_attached_picture(stream):
    """Whether ``stream`` is an attached picture (cover art): FFmpeg's ``attached_pic``
    disposition, on a video stream holding one image."""
    import av

    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def _av_message(exc):
    text = getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(text).split())


def _bit_depth(stream):
    fmt = stream.codec_context.format
    return max((c.bits for c in fmt.components), default=8)


def probe_video(path):
    """Describe a video file: size, rotation, frame rate, timestamps' unit, pixel format.

    Parameters
    ----------
    path : str or Path
        A video file FFmpeg can read.

    Returns
    -------
    VideoInfo

    Raises
    ------
    TypeError
        ``path`` is not a str or ``os.PathLike`` (``path: expected a path ...``).
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        ``path`` is not a video file FFmpeg can open, or is a TIFF of more than one page (an
        image stack: :func:`iter_frames` reads it).

    Examples
    --------
    >>> info = probe_video("clip.mp4")  # doctest: +SKIP
    >>> info.frame_rate, info.width, info.height  # doctest: +SKIP
    (Fraction(30000, 1001), 1920, 1080)
    """
    container, stream = open_input(path)
    try:
        return _info(container, stream)
    finally:
        container.close()


def _info(container, stream):
    rotation = _rotation(_stream_rotation(container, stream))
    width, height = stream.codec_context.width, stream.codec_context.height
    if rotation in (90, 270):
        width, height = height, width
    duration = _duration(container, stream)
    rate = _frame_rate(stream)
    slow = _slow_rate(container, stream, rate)
    return VideoInfo(width=width, height=height, rotation=rotation,
                     frame_rate=Fraction(slow) if slow else None,
                     time_base=_time_base(stream),
                     frame_count=_frame_count(stream), duration=duration,
                     codec=stream.codec_context.name, pix_fmt=stream.codec_context.format.name,
                     bit_depth=_bit_depth(stream), audio=bool(container.streams.audio),
                     color=_color_tags(stream), language=_language(stream),
                     base_rate=slow if slow != rate else _base_rate(stream, rate),
                     alpha=has_alpha(stream),
                     metadata=_file_tags(container), stream_metadata=_stream_tags(stream),
                     chapters=_chapters(container, stream),
                     audio_codecs=tuple(_audio_codec(s) for s in container.streams.audio),
                     sample_aspect_ratio=stream.sample_aspect_ratio,
                     field_order=_field_order(stream),
                     timecode=_timecode(container, stream))


def _audio_codec(stream):
    """The codec name of an audio ``stream`` (ffprobe's ``codec_name``: ``"mp3"``, where the
    decoder's is ``"mp3float"``, which no table of codecs names); ``"unknown"`` where PyAV has
    no decoder for it (an unknown Matroska codec ID: no codec context, which failed every
    command)."""
    context = stream.codec_context
    return "unknown" if context is None else context.codec.canonical_name


def _duration(container, stream):
    """``VideoInfo.duration``: the video stream's, None where nothing states it."""
    if container.format.name == "mpeg" and stream.start_time is not None:  # MPEG-PS
        counted = _packets_duration(container, stream)
        if counted is not None:
            return counted
    if stream.duration is not None and stream.time_base is not None:
        length = _stream_length(container, stream)
    else:
        length = _duration_tag(container, stream)  # Matroska/WebM: the video track's
    if length is None and container.duration is not None:  # the file's
        length = _container_duration(container, (stream.start_time or 0) * _time_base(stream))
    if length is not None and _file_duration_only(container, stream):
        own = _own_length(container, stream)  # the file's may be its longer audio's
        return own if own is not None and own < length else length
    return length


def _own_length(container, stream):
    """The length in seconds of the video ``stream`` of an opened file from its packets: the
    latest timestamp (:func:`_last_timestamp`, on a second opening of the file) plus a frame
    period, less the stream's start; None where they cannot be read. Where the headers state
    only the file's duration (:func:`_file_duration_only`) an audio track outlasting the video
    gave its length: a 2 s .flv video with 3 s of audio probed 3 s."""
    import av

    rate = _frame_rate(stream)
    try:
        with _av_read(container.name, format=container.format.name) as other:
            last = _last_timestamp(other, other.streams[stream.index])
    except (av.FFmpegError, ValueError):
        return None
    if last is None or not rate:
        return None
    return (last - (stream.start_time or 0)) * _time_base(stream) + 1 / Fraction(rate)


# MPEG-PS files up to this size have their video's end (probe_video's duration, video_end)
# read from all their packets (demuxed, not decoded: about 800 MB/s, 0.3 s here); FFmpeg's
# estimate and a seek stay for larger ones. decode_from reads any MPEG-PS from its start up to
# its target, whatever the size (_packets_from: a seek gives late timestamps; 0.19 s to reach
# the end of 233 MB here, so a batch's chunks of a multi-GB VOB read it about chunks / 2 times)
_PS_PACKETS_BYTES = 256 * 2**20


def _ps_packets_end(container, stream):
    """``(last, end)``: the latest timestamp of the packets of an MPEG-PS video stream and the
    latest end of one (its timestamp plus its duration), in ``stream``'s time base, read from
    all its packets (demuxed, not decoded) of a second opening of the file; None where they
    cannot be read or the file is larger than ``_PS_PACKETS_BYTES``. Neither FFmpeg's estimate
    nor a seek gives them: its estimate comes from the PES packets near the end of the file,
    whose timestamp is the first frame's of the several small frames a PES packet holds; after
    a seek its parser gives the frames it finds timestamps late (30 frames at 30 fps: MPEG-2's
    last half a frame late at any size, MPEG-1's a whole frame at 32x32 and 320x240).
    H.264's packets after the first of a PES packet have no timestamp (its parser gives none):
    such a packet is timed one duration after the one before it in decoding order, plus the
    first packet's decoding delay (its timestamp less its decoding one), where :func:`decode`
    shows its frame. Left out, 30 frames at 30 fps of 32x32 H.264 (libx264, retime's default
    for ``.mpg``) ended at 1/30 s. Read once per file as it stands (its path, size, times and
    inode): a retime asked for them four times (probe_video's duration twice,
    video_end twice)."""
    try:
        status = os.stat(container.name)
    except OSError:
        return None
    if status.st_size > _PS_PACKETS_BYTES:
        return None
    # the file as it stands: a copy keeping the old time (cp -p, os.utime) changes the inode
    # or the status change time
    stands = (status.st_size, status.st_mtime_ns, status.st_ino, status.st_ctime_ns)
    return _ps_packets_read(os.path.realpath(container.name), stands, container.format.name,
                            stream.index)


@functools.lru_cache(maxsize=8)
def _ps_packets_read(path, stands, demuxer, index):
    """:func:`_ps_packets_end` of the file ``path`` as it ``stands`` (size, modification time,
    inode, status change time), its stream ``index`` (the key of the cache)."""
    try:
        with _av_read(path, format=demuxer) as other:
            times, clock, delay, step = [], None, None, 0
            for packet in other.demux(other.streams[index]):
                duration = packet.duration or 0
                if packet.pts is not None:
                    # a PES packet states its decoding time only where it differs
                    clock = packet.pts if packet.dts is None else packet.dts
                    delay = packet.pts - clock if delay is None else delay
                    times.append((packet.pts, packet.pts + duration))
                elif packet.size and clock is not None:
                    clock += step  # the packet before's duration
                    times.append((clock + delay, clock + delay + duration))
                step = duration
    except Exception:
        return None
    if not times:
        return None
    return max(last for last, _ in times), max(end for _, end in times)


def _packets_duration(container, stream):
    """The duration of an MPEG-PS video stream from its packets (:func:`_ps_packets_end`): the
    end of the last frame less the first's start; None where they cannot be read. FFmpeg's
    estimate left out the last frame's duration and more: a 30-frame 30 fps .mpg of 32x32
    frames read 1/30 s, of 320x240 frames 13/15 s, of 640x480 frames 29/30 s."""
    times = _ps_packets_end(container, stream)
    if times is None or times[1] <= stream.start_time:
        return None
    return (times[1] - stream.start_time) * _time_base(stream)


def _frame_count(stream):
    """The frames a stream shows, known without decoding: the container's count (None for
    none), less the samples an edit list leaves out where the index lists every sample (MP4,
    MOV: FFmpeg flags those before its start or after its end as discarded, decoded and not
    shown). 55 ms for an hour at 60 fps."""
    count = stream.frames or None
    if count:
        entries = stream.index_entries
        if len(entries) == count:
            count = sum(1 for entry in entries if not entry.is_discard) or None
    return count


# global tags a muxer writes itself (``encoder``: its own version) or that describe the input's
# container, not its content (MP4's ``ftyp`` brands): not copied, as FFmpeg's muxers set them
MUXER_TAGS = frozenset({"encoder", "major_brand", "minor_version", "compatible_brands"})


def _file_tags(container):
    """The global tags of ``container`` that ``retime``, ``translate`` and ``predict`` copy: not
    a ``timecode`` (``VideoInfo.timecode``), the first frame's, which an output starting
    elsewhere or at another rate does not share (FFmpeg's MOV muxer prefers a global one to
    the video stream's)."""
    return {name: value for name, value in container.metadata.items()
            if name.lower() not in MUXER_TAGS and name.lower() != "timecode"}


def _timecode(container, stream):
    """``VideoInfo.timecode``: the ``timecode`` tag of the video stream (FFmpeg sets it from
    the ``tmcd`` track a MOV's or MP4's video refers to; Matroska's ``TIMECODE``), else of the
    file, else of a data stream (a ``tmcd`` track no video refers to)."""
    others = [s.metadata for s in container.streams if s.type == "data"]
    for tags in (stream.metadata, container.metadata, *others):
        for name, value in tags.items():
            if name.lower() == "timecode" and value.strip():
                return value.strip()
    return None


_TIMECODE = re.compile(r"(\d+):(\d+):(\d+)([^\d])(\d+)")
_DROPPED = {30: 2, 60: 4}  # drop-frame: labels skipped at each minute but every tenth


def _timecode_fps(rate):
    """FFmpeg's whole frame rate of a timecode at ``rate``: the rate rounded (30 for 29.97)."""
    rate = Fraction(rate)
    return (rate.numerator + rate.denominator // 2) // rate.denominator


def timecode_after(timecode, rate, seconds=0, out_rate=None):
    """The SMPTE timecode ``seconds`` after ``timecode`` of a video at ``rate`` fps, as a video
    at ``out_rate`` fps (default ``rate``) labels it: what ``retime``, ``translate`` and
    ``predict`` give their first frame.

    Counted as FFmpeg counts (``av_timecode``): a timecode ``HH:MM:SS:FF`` is frame
    ``(HH * 3600 + MM * 60 + SS) * fps + FF`` of a clock at ``fps``, the rate rounded (30
    for 29.97); any separator but ``:`` before ``FF`` (``01:00:00;00``) is drop-frame, at 30 or
    60 fps only, where the labels ``;00`` and ``;01`` (``;00``-``;03`` at 60) of each minute but
    every tenth are skipped. At another ``out_rate`` the label ``HH:MM:SS`` is kept and the
    frames ``FF`` scaled down to the output's fps (``01:00:00:12`` at 25 fps is
    ``01:00:00:24`` at 50: FFmpeg's ``-r`` keeps the string, the same label where ``FF`` is 0);
    drop-frame stays so at 30 or 60 fps and is written ``:`` at others. ``seconds`` is then
    counted in frames of ``out_rate``, rounded. Hours run past 23 back to 0.

    Parameters
    ----------
    timecode : str
        ``"HH:MM:SS:FF"`` or ``"HH:MM:SS;FF"`` (``VideoInfo.timecode``).
    rate, out_rate : Fraction
        Frames per second of the video the timecode labels, and of the one to label.
    seconds : Fraction, optional
        Time after the frame ``timecode`` labels, >= 0.

    Returns
    -------
    str or None
        ``"HH:MM:SS:FF"`` (``;`` for drop-frame); None where FFmpeg would write none: a
        timecode it cannot read, drop-frame at a rate other than 30 or 60 fps, a rate below
        0.5 fps.

    Examples
    --------
    >>> timecode_after("01:00:00;00", Fraction(30000, 1001), Fraction(1800 * 1001, 30000))
    '01:01:00;02'
    >>> timecode_after("01:00:00:12", 25, out_rate=50)
    '01:00:00:24'
    """
    out_rate = rate if out_rate is None else out_rate
    match = _TIMECODE.fullmatch(timecode.strip())
    fps, out_fps = _timecode_fps(rate), _timecode_fps(out_rate)
    if match is None or fps < 1 or out_fps < 1:
        return None
    hours, minutes, secs, separator, frames = match.groups()
    drop = separator != ":"
    if drop and fps not in _DROPPED:
        return None
    drop = drop and out_fps in _DROPPED
    minutes = int(hours) * 60 + int(minutes)
    count = (minutes * 60 + int(secs)) * out_fps + int(frames) * out_fps // fps
    if drop:
        count -= _DROPPED[out_fps] * (minutes - minutes // 10)
    count += round(Fraction(seconds) * Fraction(out_rate))
    if drop:  # back to labels: the skipped ones added (FFmpeg's adjust_ntsc_framenum2)
        skip = _DROPPED[out_fps]
        ten_minutes = out_fps * 600 - 9 * skip
        tens, rest = divmod(count, ten_minutes)
        count += 9 * skip * tens + skip * (max(rest - skip, 0) // (ten_minutes // 10))
    secs, frames = divmod(count, out_fps)
    return (f"{secs // 3600 % 24:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"
            f"{';' if drop else ':'}{frames:02d}")


def _chapters(container, stream):
    """``VideoInfo.chapters``: the container's chapters in seconds from ``stream``'s start."""
    origin = (stream.start_time or 0) * _time_base(stream)
    return tuple((chapter["start"] * chapter["time_base"] - origin,
                  chapter["end"] * chapter["time_base"] - origin, dict(chapter["metadata"]))
                 for chapter in container.chapters())


def _stream_tags(stream):
    """A stream's ``title`` and ``handler_name`` under the keys muxers write them from: MP4 and
    MOV read the title back as ``name``, Matroska the handler name as ``HANDLER_NAME``. A
    handler name stored as a Pascal string in an ISO MP4 (its first byte the length in bytes of
    the rest, which FFmpeg strips in QuickTime files only: "\x1fMainconcept Video Media Handler")
    is read without that byte where it is a control character (a length below 32), so that it
    is not copied into outputs."""
    tags = {}
    for key, names in (("title", ("title", "name")), ("handler_name", ("handler_name",))):
        for name, value in stream.metadata.items():
            if name.lower() in names and value:
                if key == "handler_name" and ord(value[0]) == len(value[1:].encode()) < 32:
                    value = value[1:]
                tags.setdefault(key, value)
    return tags


# FFmpeg's AVFieldOrder values -> ffprobe's names (0, unknown: None)
FIELD_ORDERS = {1: "progressive", 2: "tt", 3: "bb", 4: "tb", 5: "bt"}
INTERLACED = frozenset({"tt", "bb", "tb", "bt"})


def _field_order(stream):
    """``VideoInfo.field_order`` of a video ``stream``: ffprobe's name, None where unknown."""
    return FIELD_ORDERS.get(stream.codec_context.field_order)


COLOR_TAGS = ("colorspace", "color_range", "color_primaries", "color_trc")


def _color_tags(stream):
    context = stream.codec_context
    return {name: int(getattr(context, name)) for name in COLOR_TAGS if getattr(context, name, None)}


def has_alpha(stream):
    """Whether the stream's frames carry alpha: its pixel format has an alpha component (four,
    or two for gray with alpha), or Matroska's ``alpha_mode`` tag says so (VP9 in WebM stores
    alpha beside the frames, which FFmpeg's VP9 decoder reads as yuv420p)."""
    components = len(stream.codec_context.format.components)
    return components in (2, 4) or stream.metadata.get("alpha_mode") == "1"


def _language(stream):
    """A stream's ``language`` tag, None for none or ``"und"`` (undetermined)."""
    language = stream.metadata.get("language")
    return None if language in (None, "", "und") else language


def _same_times(start, end):
    return start, end


def writer_tags(info, chapter_times=_same_times, start=Fraction(0), fps=None):
    """The :class:`VideoWriter` options ``rotation``, ``color``, ``language``, ``metadata``,
    ``stream_metadata``, ``chapters`` and ``sample_aspect_ratio`` that give an output the
    display rotation, colour tags, language, global tags, video stream title, chapters,
    pixel shape and start timecode of the input ``info`` (a
    :class:`VideoInfo`): frames written in the input's coded orientation are displayed, and
    their YUV values read, as the input's (``retime``, ``translate`` and ``predict``).

    ``chapter_times`` maps a chapter's ``(start, end)`` (seconds from the input's first frame)
    onto the output's timeline, None for a chapter outside it (``retime``'s ``Timeline``);
    default: unchanged (``translate``); None: no chapters (``predict``: its frames follow the
    input's). Times before 0 are cut; a chapter left empty is dropped.

    ``start``: the input's time (seconds from its first frame) that the output's first frame
    shows, ``fps`` the output's rate (default the input's ``base_rate``): the output's
    ``timecode`` tag (``stream_metadata``; a ``tmcd`` track in MOV and MP4) is the input's
    ``VideoInfo.timecode`` ``start`` seconds on, at ``fps`` (:func:`timecode_after`); None:
    no timecode. FFmpeg copies the tag unchanged, wherever ``-ss`` starts the output."""
    chapters = []
    for begin, end, tags in info.chapters if chapter_times is not None else ():
        span = chapter_times(begin, end)
        if span is not None and span[1] > max(span[0], 0):
            chapters.append((max(span[0], Fraction(0)), span[1], dict(tags)))
    stream_metadata = dict(info.stream_metadata)
    rate = info.base_rate or info.frame_rate
    if info.timecode and rate and start is not None:
        timecode = timecode_after(info.timecode, rate, start, fps or rate)
        if timecode is not None:
            stream_metadata["timecode"] = timecode
    return {"rotation": info.rotation, "color": dict(info.color), "language": info.language,
            "metadata": dict(info.metadata), "stream_metadata": stream_metadata,
            "chapters": chapters, "sample_aspect_ratio": info.sample_aspect_ratio}


def resized_aspect(sar, size, resized):
    """The sample aspect ratio of frames of ``size`` ``(width, height)`` and ``sar`` scaled
    to ``resized``: the one that keeps their display aspect ratio, as FFmpeg's scale filter
    (None stays None when the size's proportions are kept)."""
    scale = Fraction(size[0] * resized[1], size[1] * resized[0])
    return sar if scale == 1 else (sar or 1) * scale


def stored_rotation(path, rotation):
    """The display rotation a video written to ``path`` stores for ``rotation``: itself in the
    containers that keep one (``ROTATION_CONTAINERS``), else 0 (AVI, MPEG-TS, ...: the tag was
    lost and a phone clip came out sideways), where :class:`VideoWriter` turns the frames by
    ``rotation`` instead, so that they are displayed as the tag would show them."""
    return rotation % 360 if Path(path).suffix.lower() in ROTATION_CONTAINERS else 0


def to_coded(frame, rotation):
    """An upright frame (as :func:`iter_frames` gives it) turned back to the coded orientation
    of a video whose display rotation is ``rotation`` (degrees counter-clockwise, a multiple
    of 90): written with that rotation (:func:`writer_tags`), players show it upright, as
    they show the input. ``frame`` itself for no rotation."""
    turns = rotation // 90 % 4
    return np.ascontiguousarray(np.rot90(frame, -turns)) if turns else frame


# the audio codecs (FFmpeg's names) each container's muxer takes as copied packets and reads
# back as they were, measured with PyAV 18's FFmpeg (libavformat 62): a copy of another is
# re-encoded (AUDIO_ENCODERS). Without it, Opus or FLAC into .mov, PCM into .mp4, Opus or ALAC
# into .avi/.wmv, anything but Opus/Vorbis/FLAC into .ogv failed as a --codec error; PCM, FLAC,
# Vorbis or ALAC into .ts were written as private data, the output without audio; mu-law into
# .flv aborted Python (an FFmpeg assertion). MPEG-PS (.mpg, .mpeg, .vob, .dvd) refuses AAC.
# Containers not listed (.nut, ...) are left to their muxer
_MPEG_AUDIO = frozenset({"mp1", "mp2", "mp3"})
_PCM = frozenset({"pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le", "pcm_u8"})
_MP4_AUDIO = _MPEG_AUDIO | {"aac", "ac3", "eac3", "opus", "flac", "alac", "vorbis"}
_RIFF_CONTAINERS = frozenset({".avi", ".wmv", ".asf"})  # AVI and ASF: WAVE's audio headers
_RIFF_AUDIO = _MPEG_AUDIO | _PCM | {"aac", "ac3", "eac3", "flac", "vorbis", "pcm_mulaw",
                                    "pcm_alaw", "wmav1", "wmav2", "adpcm_ima_wav", "adpcm_ms",
                                    "adpcm_swf"}  # AVI and ASF (WMV)
_MKV_AUDIO = _MPEG_AUDIO | _PCM | {"aac", "ac3", "eac3", "dts", "truehd", "mlp", "opus",
                                   "vorbis", "flac", "alac", "tta", "wavpack", "pcm_s16be",
                                   "pcm_s24be", "pcm_s32be", "pcm_f64le"}
_PS_AUDIO = _MPEG_AUDIO | {"ac3", "dts", "pcm_s16be", "pcm_dvd", "mlp", "truehd"}
_TS_AUDIO = _MPEG_AUDIO | {"aac", "ac3", "eac3", "dts", "truehd", "opus"}
COPYABLE_AUDIO = {
    ".mp4": _MP4_AUDIO, ".m4v": frozenset({"aac", "ac3", "alac"}),
    ".3gp": frozenset({"aac", "amr_nb", "amr_wb"}),
    ".mov": _MPEG_AUDIO | _PCM | {"aac", "ac3", "eac3", "alac", "pcm_s16be", "pcm_s24be",
                                  "pcm_mulaw", "pcm_alaw", "nellymoser"},
    ".mkv": _MKV_AUDIO, ".webm": frozenset({"opus", "vorbis"}),
    ".ogv": frozenset({"opus", "vorbis", "flac", "speex"}),
    **dict.fromkeys(_RIFF_CONTAINERS, _RIFF_AUDIO),
    ".flv": frozenset({"aac", "mp3", "nellymoser", "ac3", "eac3", "opus", "flac"}),
    **dict.fromkeys(MPEG_PS_CONTAINERS, _PS_AUDIO),
    **dict.fromkeys(MPEG_STREAM_CONTAINERS - MPEG_PS_CONTAINERS, _TS_AUDIO)}
# the audio encoder for a container (AAC elsewhere), its muxer's usual codec: Opus for WebM and
# Ogg (FFmpeg's libvorbis is not built in; its own vorbis encoder is experimental), FFmpeg's
# mp2 for MPEG-PS (AC-3 beyond stereo, which mp2 cannot encode)
AUDIO_ENCODERS = {".webm": "libopus", ".ogv": "libopus",
                  **dict.fromkeys(MPEG_PS_CONTAINERS, "mp2")}
# what the messages call an encoder's audio
_ENCODED_AS = {"aac": "AAC", "libopus": "Opus", "mp2": "MP2", "ac3": "AC-3"}


def audio_encoder(dst, channels):
    """The encoder :class:`_AudioTrack` re-encodes audio of ``channels`` channels with in
    ``dst``'s container: ``AUDIO_ENCODERS``'s, AC-3 for MPEG-PS beyond stereo."""
    codec = AUDIO_ENCODERS.get(Path(dst).suffix.lower(), "aac")
    return "ac3" if codec == "mp2" and channels > 2 else codec


def audio_encoder_name(dst, src=None):
    """What :class:`_AudioTrack` re-encodes audio as in ``dst``'s container, for messages:
    ``"AAC"``, ``"Opus"`` (``.webm``, ``.ogv``), ``"MP2"`` (MPEG-PS) or ``"AC-3"`` (MPEG-PS
    beyond stereo); with ``src`` (a path or an open container) that of each of its audio
    streams, ``"MP2 and AC-3"`` where they differ. Without it, stereo's."""
    def counts(container):
        return [stream.codec_context.layout.nb_channels for stream in container.streams.audio
                if stream.codec_context is not None] or [2]

    if src is None:
        channels = [2]
    elif isinstance(src, (str, os.PathLike)):
        with _av_open(src) as container:
            channels = counts(container)
    else:
        channels = counts(src)
    names = dict.fromkeys(_ENCODED_AS[audio_encoder(dst, count)] for count in channels)
    return " and ".join(names)


def audio_copy_refused(dst, container):
    """The codec names of ``container``'s audio streams that ``dst``'s container cannot take as
    packets unchanged (AAC into ``.webm``: ``COPYABLE_AUDIO``), in stream order; empty when
    every stream can be copied. ``container`` may also be the codec names themselves
    (``VideoInfo.audio_codecs``)."""
    names = container if isinstance(container, (tuple, list)) else \
        [_audio_codec(stream) for stream in container.streams.audio]
    allowed = COPYABLE_AUDIO.get(Path(dst).suffix.lower())
    if allowed is None:
        return []
    return [name for name in names if name not in allowed]


# containers whose outputs carry a start timecode (VideoWriter's stream tag: MOV's and MP4's
# tmcd track, Matroska's TIMECODE); AVI and MPEG-TS keep none
TIMECODE_CONTAINERS = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm"})


def streams_not_written(container, stream, dst=None):
    """The types of ``container``'s streams that ``retime`` and ``translate`` do not write (all
    but the video ``stream`` they read and the audio streams, which they copy, stretch or drop
    as asked): ``"video"`` for a second video stream, ``"attached picture"`` for cover art
    (a video stream to FFmpeg, it was counted as one), ``"subtitle"``, ``"data"``, ..., one
    entry per stream, in the file's order. A stream the demuxer discards is not counted: MP4's
    and MOV's chapters are a text track, read as chapters and a discarded data stream, and the
    chapters are written (an output's own chapter track is read back so); nor a timecode
    track (a data stream tagged ``timecode``) where the output ``dst`` carries the timecode
    (``TIMECODE_CONTAINERS``)."""
    import av

    timecode = dst is not None and Path(dst).suffix.lower() in TIMECODE_CONTAINERS
    return ["attached picture" if is_attached_picture(s) else s.type for s in container.streams
            if s is not stream and s.type != "audio" and s.discard != av.stream.Discard.all
            and not (timecode and s.type == "data" and "timecode" in s.metadata)]


# FFmpeg's AVColorSpace values (the ``colorspace`` tag) -> swscale's matrix of the same name
# (SWS_CS_*: equal numbers except SMPTE 170M, which is BT.601's matrix)
_SWSCALE_MATRIX = {1: 1, 4: 4, 5: 5, 6: 5, 7: 7, 9: 9, 10: 9}


def _rgb_to_yuv_matrix(color, pix_fmt, codec):
    """``(colorspace, color_range)`` for converting RGB frames to the YUV ``pix_fmt`` with the
    matrix and range the ``color`` tags declare (BT.601 for a range without a known matrix),
    or None (FFmpeg's default conversion: BT.601, limited range, full range for ``yuvj``
    formats) when they declare neither, the output is not YUV, or ``codec`` is MJPEG, which
    decoders read with JPEG's BT.601 matrix whatever the tags say. Without it, a stream tagged
    BT.709 would hold BT.601 values and players would shift its colours (full-range ``yuvj``
    too: H.264 and HEVC store the matrix), and one tagged full range alone (an RGB input's
    tag: PNG in MOV) limited-range values, read back with black at 16 and white at 235."""
    matrix = _SWSCALE_MATRIX.get(color.get("colorspace"))
    full = color.get("color_range") == 2 or pix_fmt.startswith("yuvj")
    if (matrix is None and not full) or not pix_fmt.startswith("yuv") or codec == "mjpeg":
        return None
    return matrix or 5, 2 if full else 1  # 5: swscale's BT.601 (SWS_CS_ITU601)


def _time_base(stream):
    """The stream's timestamp unit in seconds (FFmpeg's microseconds where it sets none)."""
    return Fraction(stream.time_base or Fraction(1, 1_000_000))


def _frame_rate(stream):
    """The stream's frame rate: FFmpeg's guess of the real rate (``r_frame_rate``: 30 for a
    30 fps clip with two irregular gaps, or cut short, whose average is 483/16) when the
    average rate is within 2 % of it, else the average (variable frame rate: the guess is
    then the fastest rate, e.g. 30 against an average of 20.1)."""
    average, guessed = stream.average_rate, stream.guessed_rate
    if average and guessed and abs(average / guessed - 1) <= 0.02:
        return guessed
    return average or guessed


# Below 1/12 fps (a frame every 12 s) FFmpeg's rates may not be the timestamps': its guess
# (r_frame_rate) is one of its standard rates, 1/12 fps or more, and its average (Matroska's,
# from the track's frame duration, too) is a fraction reduced to a denominator of at most
# 30000 or 60000, else 0: an MKV at 1e-6 fps read 1/4 fps, one at a frame a day 1/60000
_SLOWEST_STANDARD_RATE = Fraction(1, 12)
_REDUCED_DENOMINATOR = 30000
_SPACING_PACKETS = 8  # the packets whose smallest step gives the rate there


def _slow_rate(container, stream, rate):
    """``rate`` (:func:`_frame_rate`'s), or where FFmpeg's average rate is missing or below
    1/12 fps with a denominator it may have reduced: the rate of the first frames' spacing
    (the smallest step between the timestamps of the first ``_SPACING_PACKETS`` packets, or
    the first packet's duration), ``rate`` where they have none. The packets are read from a
    second opening of the file, as :func:`_stream_rotation`'s."""
    average = stream.average_rate
    if average and (average > _SLOWEST_STANDARD_RATE
                    or average.denominator < _REDUCED_DENOMINATOR):
        return rate  # FFmpeg's exact fraction
    stamps, duration = [], None
    try:
        with _av_read(container.name, format=container.format.name) as other:
            for packet in other.demux(other.streams[stream.index]):
                if packet.pts is None or packet.is_discard:
                    continue
                stamps.append(packet.pts)
                duration = duration or packet.duration
                if len(stamps) == _SPACING_PACKETS:
                    break
    except Exception:
        return rate
    stamps.sort()
    steps = [b - a for a, b in zip(stamps, stamps[1:]) if b > a]
    step = min(steps) if steps else duration
    if not step:
        return rate
    return 1 / (step * _time_base(stream))


def _base_rate(stream, frame_rate):
    """FFmpeg's guessed rate where it lies between ``frame_rate`` (within 2 %) and 4x the
    average rate, else ``frame_rate`` (see ``VideoInfo.base_rate``)."""
    average, guessed = stream.average_rate, stream.guessed_rate
    if guessed and average and average * Fraction(49, 50) <= guessed <= 4 * average:
        return Fraction(guessed)
    return Fraction(frame_rate) if frame_rate else None


def _stream_rotation(container, stream):
    """The display rotation of the first frame (FFmpeg exports the stream's display matrix on
    each frame), else the old ``rotate`` tag. The frame is decoded from a second opening of
    the file, so ``container`` keeps its position: a seek back to the start fails on a
    Matroska file cut short (its cues are lost), and the demuxer then stopped two frames in."""
    tag = stream.metadata.get("rotate")
    if tag is not None:
        with contextlib.suppress(ValueError):
            return -float(tag)  # the tag is clockwise, the display matrix counter-clockwise
    try:
        with _av_read(container.name, format=container.format.name) as other:
            return next(other.decode(other.streams[stream.index])).rotation
    except Exception:
        return 0


# FFmpeg pixel formats of the (H, W, 3) arrays that decode() yields and VideoWriter takes:
# RGB, or the Y, U, V planes at full resolution (4:4:4), 8 or 16 bits
FRAME_FORMATS = {"rgb24": np.uint8, "rgb48le": np.uint16, "yuv444p": np.uint8,
                 "yuvj444p": np.uint8, "yuv444p16le": np.uint16}


def _yuv_planes(pix_fmt):
    """``(bits, [(rows, columns) of subsampling per plane])`` of a planar three-plane YUV pixel
    format in native byte order (``yuv420p``, ``yuvj422p``, ``yuv420p10le``, ...), else None."""
    import av

    fmt = av.VideoFormat(pix_fmt, 16, 16)
    components = fmt.components
    if (not pix_fmt.startswith("yuv") or len(components) != 3 or fmt.is_big_endian
            or [c.plane for c in components] != [0, 1, 2]):
        return None
    return components[0].bits, [(16 // c.height, 16 // c.width) for c in components]


def _requantize(total, count, bits, to_bits):
    """Means of ``count`` samples (a power of two; ``total``: their sums, uint32) of ``bits``
    bits, as ``to_bits`` integers rounded to nearest, half up (fewer bits, or a mean), or
    shifted up (more bits: exact, so a round trip to more bits and back gives the samples)."""
    if to_bits >= bits:
        total = total << (to_bits - bits)
    else:
        count = count << (bits - to_bits)
    if count == 1:
        return total
    return np.minimum((total + count // 2) >> (count.bit_length() - 1), (1 << to_bits) - 1)


def _block_sums(samples, rows, columns):
    """Sums (uint32) of the ``rows`` x ``columns`` blocks of a 2-D array whose size they divide."""
    total = samples[::rows, ::columns].astype(np.uint32)
    for i in range(rows):
        for j in range(columns):
            if i or j:
                total += samples[i::rows, j::columns]
    return total


def _frame_to_444(frame, frame_format):
    """A decoded YUV frame as ``(H, W, 3)`` planes of ``frame_format`` (yuv444p: uint8,
    yuv444p16le: uint16 on the 16-bit scale, a 10-bit sample v as v << 6): subsampled chroma
    repeated over its block, so that :func:`_frame_from_444` gives the planes back exactly.
    Frames of other formats, or of the other range (yuvj: full), go through swscale first."""
    layout = _yuv_planes(frame.format.name)
    if layout is None or frame.format.name.startswith("yuvj") != frame_format.startswith("yuvj"):
        frame = frame.reformat(format=frame_format)
        layout = _yuv_planes(frame_format)
    bits, blocks = layout
    to_bits = 8 if FRAME_FORMATS[frame_format] == np.uint8 else 16
    out = np.empty((frame.height, frame.width, 3), FRAME_FORMATS[frame_format])
    for index, (plane, (rows, columns)) in enumerate(zip(frame.planes, blocks)):
        samples = np.frombuffer(plane, np.uint8 if bits == 8 else np.uint16)
        samples = samples.reshape(plane.height, -1)[:, :plane.width]
        if bits != to_bits:  # shifted up in the output's dtype, rounded down in uint32
            wide = out.dtype if bits < to_bits else np.uint32
            samples = _requantize(samples.astype(wide, copy=False), 1, bits, to_bits)
        for i in range(rows):  # each sample repeated over its block
            for j in range(columns):
                block = out[i::rows, j::columns, index]
                block[...] = samples[:block.shape[0], :block.shape[1]]
    return out


def _frame_from_444(planes, pix_fmt):
    """An ``av.VideoFrame`` of the planar YUV ``pix_fmt`` from ``(H, W, 3)`` full-resolution
    planes (uint8, or uint16 on the 16-bit scale): chroma averaged over its blocks (odd edges
    padded by repetition), rounded to the format's bits. Inverse of :func:`_frame_to_444`."""
    import av

    bits, blocks = _yuv_planes(pix_fmt)
    from_bits = 8 if planes.dtype == np.uint8 else 16
    height, width = planes.shape[:2]
    frame = av.VideoFrame(width, height, pix_fmt)
    dtype = np.uint8 if bits == 8 else np.uint16
    for index, (plane, (rows, columns)) in enumerate(zip(frame.planes, blocks)):
        samples = planes[..., index]
        if (rows, columns) == (1, 1) and from_bits == bits:
            values = samples  # luma, or 4:4:4 of the same depth: as it is
        else:
            pad = (-height % rows, -width % columns)
            if any(pad):
                samples = np.pad(samples, ((0, pad[0]), (0, pad[1])), mode="edge")
            total = _block_sums(samples, rows, columns)
            values = _requantize(total, rows * columns, from_bits, bits).astype(dtype)
        stride = plane.line_size // values.itemsize
        buffer = np.zeros((plane.height, stride), dtype)
        buffer[:, :plane.width] = values
        plane.update(buffer)
    return frame


_PLANAR_RGB_OR_GRAY = re.compile(r"(gbra?p|gray)(9|10|12|14|16)(le|be)")


def _sample_type(pix_fmt):
    """The NumPy dtype of a sample of the 16-bit container ``pix_fmt`` (``gbrp10be``: ">u2")."""
    return np.dtype(">u2" if pix_fmt.endswith("be") else "<u2")


def _planar_rgb_or_gray(frame):
    """The R, G, B planes (or the one gray plane) of a decoded frame of planar RGB or gray of
    9 to 16 bits (little- or big-endian: ``gbrp10be``, ``gray12be`` went through swscale,
    as the little-endian ones did), as ``(H, W)`` uint16 arrays, else None."""
    if not _PLANAR_RGB_OR_GRAY.fullmatch(frame.format.name):
        return None
    dtype = _sample_type(frame.format.name)
    planes = [np.frombuffer(plane, dtype).reshape(plane.height, -1)[:, :plane.width]
              for plane in frame.planes]
    return planes[:1] if frame.format.name.startswith("gray") else [planes[2], *planes[:2]]


def _planar_rgb_frame(rgb, pix_fmt):
    """An ``av.VideoFrame`` of the planar RGB or gray ``pix_fmt`` of N bits (``gbrp10le``,
    ``gray12le``; alpha of ``gbrap`` opaque) from ``(H, W, 3)`` uint16 RGB on the 16-bit scale
    (gray: R, G and B equal, R taken), a value x as ``x * (2**N - 1) / 65535`` rounded: the
    inverse of :func:`_to_rgb`'s reading."""
    import av

    frame = av.VideoFrame(rgb.shape[1], rgb.shape[0], pix_fmt)
    top = (1 << frame.format.components[0].bits) - 1
    values = ((rgb.astype(np.uint32) * top + 32767) // 65535).astype(np.uint16)
    planes = [values[..., 0]] if pix_fmt.startswith("gray") else \
        [values[..., 1], values[..., 2], values[..., 0], np.full(rgb.shape[:2], top)]
    for plane, samples in zip(frame.planes, planes):  # G, B, R (, A), or Y
        buffer = np.zeros((plane.height, plane.line_size // 2), _sample_type(pix_fmt))
        buffer[:, :plane.width] = samples
        plane.update(buffer)
    return frame


def _is_gray(rgb):
    """Whether the R, G and B of the ``(H, W, 3)`` array ``rgb`` are equal (a gray frame)."""
    return bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 0] == rgb[..., 2]).all())


def _to_rgb(frame, fmt):
    """A decoded frame as an ``(H, W, 3)`` RGB array of ``fmt`` (``"rgb24"``, ``"rgb48le"``),
    by swscale's planar ``gbrp16le`` for 16 bits and ``gbrp`` for 8 from more than 8 (PyAV
    gives their planes in R, G, B order). Its packed outputs: ``rgb48le`` of 4:2:0 of odd width
    (the 161x121 VP9 clip) was garbage after the first row (85 levels of 255 off on average);
    ``rgb24`` of 10-bit 4:2:0 and 4:2:2 read limited-range white (940) as 253 and the middle
    grey (502) as 126, not 255 and 128; and both repeat each chroma sample where the planar
    ones interpolate (the two depths of one 10-bit frame differed by up to 117 levels of 255
    at colour edges). 8-bit frames are ``rgb24``'s (``gbrp`` gives the same values there,
    slower, and is garbage for odd widths), at 16 bits scaled by 257 (255 -> 65535, as a
    folder's 8-bit images): swscale's own 8-to-16-bit conversion read white as 65283 and
    interpolated chroma where the 8-bit read repeats it (up to ~60 levels of 255 apart).
    Planar RGB and gray of 9 to 16 bits (FFV1's gbrp10le, gray12le, ...) are read from their
    planes, a sample v of N bits scaled to the output's full scale (v * 65535 / (2^N - 1) or
    v * 255 / (2^N - 1), rounded): swscale's gbrp16le of gbrp10le went through its YUV
    intermediate, each value depending on the other channels (up to 90 of 65535 off, 1.4
    10-bit levels; ``gbrp`` one 8-bit level in a third of the samples), and shifted gray up
    (1023 read as 65472, not 65535)."""
    planes = _planar_rgb_or_gray(frame)
    if planes is not None:
        top = (1 << frame.format.components[0].bits) - 1
        scale = 65535 if fmt == "rgb48le" else 255
        values = [(plane.astype(np.uint32) * scale + top // 2) // top for plane in planes]
        return np.dstack(values * (3 // len(values))).astype(FRAME_FORMATS[fmt])
    deep = max(c.bits for c in frame.format.components) > 8
    if fmt == "rgb48le":
        if deep:
            return frame.to_ndarray(format="gbrp16le")
        return frame.to_ndarray(format="rgb24").astype(np.uint16) * np.uint16(257)
    return frame.to_ndarray(format="gbrp" if deep else fmt)


class _Fields:
    """FFmpeg's ``bwdif`` deinterlacer (PyAV's filter graph), as ``ffmpeg -vf
    bwdif=mode=send_field:deint=interlaced``: each frame the decoder marks interlaced gives
    two frames, one per field, the other field's rows interpolated from its own and from the
    frames before and after; the first at the frame's time, the second half way to the next
    frame's (half a frame period after the last frame). Fields in the order each frame says
    (top first where it does not). Frames not marked interlaced pass unchanged, once. The
    graph is built for the first frame's size and format."""

    def __init__(self, name, time_base):
        self.name, self.time_base, self.graph = name, time_base, None

    def filter(self, frames):
        """The frames out for decoded ``frames`` in (None: the end, the last frame's
        fields)."""
        import av

        out = []
        try:
            for frame in [None] if frames is None else frames:
                if self.graph is None:
                    if frame is None:
                        return out
                    self._build(frame)
                self.graph.push(frame)
                while True:
                    try:
                        out.append(self.graph.pull())
                    except (av.BlockingIOError, av.EOFError):
                        break
        except av.FFmpegError as exc:  # bwdif takes frames of 3 rows and columns and more
            raise ValueError(f"path: cannot deinterlace {self.name} ({_av_message(exc)})") from None
        return out

    def _build(self, frame):
        import av

        graph = av.filter.Graph()
        source = graph.add_buffer(width=frame.width, height=frame.height,
                                  format=frame.format.name,
                                  time_base=frame.time_base or self.time_base)
        bwdif = graph.add("bwdif", "mode=send_field:parity=auto:deint=interlaced")
        sink = graph.add("buffersink")
        source.link_to(bwdif)
        bwdif.link_to(sink)
        graph.configure()
        self.graph = graph


def decode(container, stream, *, depth=8, upright=True, frame_format=None, quiet=False,
           seeked=False, deinterlace=False, packets=None):
    """Yield ``(time, frame)`` for each frame of an opened video stream.

    ``time`` is the presentation time in seconds as a Fraction (``pts * time_base``; frames
    without a timestamp follow the previous one by one frame period). ``frame`` is RGB
    ``(H, W, 3)``, uint8 for ``depth=8`` and uint16 (full 16-bit scale) for ``depth=16``,
    rotated upright when ``upright``; or, with ``frame_format`` one of ``FRAME_FORMATS``
    (``"yuv444p"``, ...), the planes of that format as ``(H, W, 3)`` (YUV: the frame's own
    planes, chroma repeated over its blocks, samples scaled to 8 or 16 bits, no swscale
    filter). A damaged file decodes on with a :class:`DamagedVideoWarning`: frames FFmpeg
    decoded with errors concealed come through, packets its decoder refuses are skipped. Errors
    are ValueError naming the file: a demuxing error, more than ``MAX_REJECTED_PACKETS``
    packets refused in a row (not a damaged spot: the rest is unreadable), the last packets
    refused where the stream ends early (a file cut there), and a stream that ends well
    before the end its headers declare (more than 2 frames and 5 % of the duration: a
    WebM/Matroska file, or an MP4 whose index comes first, cut short, which FFmpeg's demuxer
    reads to the cut without an error; where they declare only the file's end, FLV's and
    ASF's, no other stream reaches it either: :func:`_file_end_reached`). ``quiet``: no
    warning, for a look at the first frame (its time) before the pass over the frames, which
    warns (each look warned again: one damaged packet at the start gave ``flowkit retime``
    two or three identical lines).
    ``seeked``: the container was seeked (``decode_from``), so an error gives the time reached
    and not the frames decoded, which are not counted from the first. ``deinterlace``: frames
    the decoder marks interlaced are split into their fields, each made a frame by FFmpeg's
    ``bwdif`` (:class:`_Fields`), timed half a frame apart; others come as they are.
    ``packets``: the stream's demuxed packets to decode (default: ``container.demux(stream)``).
    """
    import av

    fmt = frame_format or ("rgb24" if depth == 8 else "rgb48le")
    yuv = fmt.startswith("yuv")
    base = _time_base(stream)
    period = 1 / Fraction(_frame_rate(stream) or 30)
    # a stream that says it is progressive skips the filter (its frames pass bwdif unchanged,
    # 40 % slower: 240 frames of Tears of Steel read in 0.65 s against 0.46 s)
    order = _field_order(stream)
    fields = (_Fields(container.name, stream.time_base)
              if deinterlace and order != "progressive" else None)
    if deinterlace and order in INTERLACED:
        period /= 2  # a frame per field
    previous = reached = None
    count = 0
    warned = set()  # the kinds of damage warned of, each once per pass
    rejected = []  # (packet time, error) of the packets FFmpeg refused since the last it took
    name = container.name
    start = (stream.start_time or 0) * base  # the stream's first time, seconds

    def failure(exc, why=""):
        counted = "" if seeked else f"{count} frame{'' if count == 1 else 's'}, "
        where = "" if reached is None else (  # where a file cut short stops decoding
            f" after {counted}{float(reached - start):.3f} s")
        return ValueError(f"path: cannot decode {name}{where} ({_av_message(exc)}){why}")

    def warn(kind, message):
        if kind not in warned and not quiet:
            warned.add(kind)
            warn_user(f"{name}: {message}: the file is damaged (later damage of this kind is not "
                      "reported)", DamagedVideoWarning)

    def skipped():  # the warning for the packets refused, which it forgets
        (pts, exc), many = rejected[0], len(rejected) > 1
        rejected.clear()
        at = "" if pts is None else f" at {float(pts * base - start):.3f} s"
        return (f"{'several' if many else 'a'} packet{'s' if many else ''}{at} could not be "
                f"decoded ({_av_message(exc)}) and {'were' if many else 'was'} skipped: "
                f"{'their frames are' if many else 'its frame is'} lost, and so may be the "
                f"frames that refer to {'them' if many else 'it'} up to the next keyframe")

    def converted(frames):  # (time, array) of decoded (or deinterlaced) frames
        nonlocal count, previous, reached
        for frame in frames:
            count += 1
            if frame.pts is not None:
                time = _after(frame.pts * Fraction(frame.time_base or stream.time_base),
                              previous, period)
            else:
                time = Fraction(0) if previous is None else previous + period
            previous = time
            # where this frame ends: its own duration (a last frame held longer), else a period
            reached = time + (frame.duration * Fraction(frame.time_base or stream.time_base)
                              if frame.duration else period)
            array = _frame_to_444(frame, fmt) if yuv else _to_rgb(frame, fmt)
            if upright:
                turns = _rotation(frame.rotation) // 90
                if turns:
                    array = np.ascontiguousarray(np.rot90(array, turns))
            if frame.is_corrupt:
                warn("concealed", f"the frame at {float(time - start):.3f} s was decoded with "
                                  "errors, which FFmpeg concealed and the frames show")
            yield time, array

    packets = iter(container.demux(stream) if packets is None else packets)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except av.FFmpegError as exc:
            raise failure(exc) from None
        try:
            frames = packet.decode()
        except av.FFmpegError as exc:  # a corrupt packet: skipped, as the ffmpeg tool does
            rejected.append((packet.pts, exc))
            if len(rejected) > MAX_REJECTED_PACKETS:  # not damaged in places: unreadable
                raise failure(rejected[0][1], f": {len(rejected)} packets in a row could not "
                                              "be decoded (the rest is unreadable)") from None
            continue
        if rejected and packet.size:  # decoding goes on after the damage
            warn("skipped", skipped())
        yield from converted(fields.filter(frames) if fields else frames)
    if fields:  # the last frame's fields
        yield from converted(fields.filter(None))
    if not rejected:
        _check_complete(container, stream, reached, period)
        return
    end = _declared_end(container, stream)
    try:  # the last packets refused: a file cut there, or damaged at its very end
        _check_complete(container, stream, reached, period)
    except ValueError:
        raise failure(rejected[0][1], f": the file ends there, its headers say "
                                      f"{float(end - start):.3f} s (cut short?)") from None
    if reached is not None and end is not None and end - reached > period / 2:
        # cut within the tolerance: what is lost is the end, not one packet's frame
        exc = rejected[0][1]
        warn("skipped", f"its last packets could not be decoded ({_av_message(exc)}): the "
                        f"video ends at {float(reached - start):.3f} s, its headers say "
                        f"{float(end - start):.3f} s (cut short?)")
    else:
        warn("skipped", skipped())


def _duration_tag(container, stream):
    """The length in seconds of a Matroska video track from its ``DURATION`` tag
    (``"00:00:01.001000000"``; Matroska stores no per-stream duration), None without one.
    FFmpeg's muxer (``ENCODER`` "Lavf...", PyAV's too; ``encoder`` "Lavf" with
    ``-fflags +bitexact``, as ``VideoWriter`` writes .mkv) writes the track's end time there,
    not its length: a track starting at 1.083 s and lasting 30.533 s is tagged 31.616 s;
    mkvmerge writes the length."""
    tag = stream.metadata.get("DURATION")
    if tag:
        with contextlib.suppress(ValueError):
            hours, minutes, seconds = tag.split(":")
            value = (int(hours) * 3600 + int(minutes) * 60) + Fraction(seconds)
            encoder = next((text for name, text in container.metadata.items()
                            if name.lower() == "encoder"), "")
            if encoder.startswith("Lavf"):
                value -= (stream.start_time or 0) * _time_base(stream)
            return value
    return None


def _stream_length(container, stream):
    """The length in seconds of a stream from its stated ``duration`` (set). FFmpeg's ASF
    demuxer gives every stream the file's play duration less its preroll: where the file's
    last stream ends on the timestamps' timeline, not the stream's length; the length is
    taken to there from the stream's start. A .wmv whose video starts
    after its audio (AAC's priming, 0.128 s at 8 kHz, which the muxer shifts to 0) read that
    much longer, and iter_frames refused flowkit's own .wmv as cut short. An AVI's header
    states its frame count, a tick of the time base each (the stream header's length; gaps
    are stored as empty frames): FFmpeg's duration of a file cut short, whose index (at its
    end) is lost, is what the data left holds, so a cut was detected only by chance."""
    base = _time_base(stream)
    length = stream.duration * base
    if container.format.name == "asf":
        length -= (stream.start_time or 0) * base
    if container.format.name == "avi" and stream.frames:
        length = max(length, stream.frames * base)
    return length


def _declared_end(container, stream):
    """Where the headers say the video stream ends, in seconds of its timestamps: the stream's
    start plus its duration (the stream's, else Matroska's per-track ``DURATION`` tag, else the
    container's); None if they do not say."""
    base = _time_base(stream)
    start = (stream.start_time or 0) * base
    if stream.duration:
        return start + _stream_length(container, stream)
    tagged = _duration_tag(container, stream)
    if tagged is not None:
        return start + tagged
    if container.duration:
        return Fraction(container.start_time or 0, 1_000_000) + _container_duration(container)
    return None


def _container_duration(container, start=None):
    """The length in seconds of an opened file (``container.duration``, set), from ``start``
    (seconds: the video's start for its length; default the file's). FFmpeg's FLV muxer
    stores the end of the last frame there, not the length: H.264/HEVC with B-frames,
    whose first frame comes at their delay (0.083 s at 24 fps), were 0.083 s longer than
    their frames, and iter_frames refused flowkit's own .flv as cut short. The file's start
    is its earliest stream's: AAC audio starts its priming (1024 samples, 0.128 s at 8 kHz)
    before the video, so a 2 s video after it read 2.128 s from the file's start."""
    duration = Fraction(container.duration, 1_000_000)
    if container.format.name == "flv" and container.metadata.get("encoder", "").startswith("Lavf"):
        duration -= Fraction(container.start_time or 0, 1_000_000) if start is None else start
    return duration


def field_info(info):
    """The :class:`VideoInfo` of the video ``info`` describes as ``decode(deinterlace=True)``
    reads it: where it is interlaced (``field_order``), a frame per field (frame rates and
    count doubled, the time base halved, as bwdif's output; field order progressive; the start
    timecode labelled at the field rate: ``10:00:00:12`` at 25i is ``10:00:00:24``); else
    ``info``."""
    if info.field_order not in INTERLACED:
        return info

    def twice(value):
        return None if value is None else 2 * value

    rate = info.base_rate or info.frame_rate
    timecode = info.timecode and rate and timecode_after(info.timecode, rate, 0, 2 * rate)
    return dataclasses.replace(info, frame_rate=twice(info.frame_rate),
                               base_rate=twice(info.base_rate),
                               frame_count=twice(info.frame_count),
                               time_base=Fraction(info.time_base) / 2, field_order="progressive",
                               timecode=timecode or None)


def last_frame_period(info, fps=None):
    """How long the last frame of the video ``info`` describes lasts in ``retime``'s output:
    one period of its grid (``1 / info.base_rate``: its own duration is rarely stored), else
    one output period (``1 / fps``), else None."""
    rate = info.base_rate or fps
    return 1 / Fraction(rate) if rate else None


def expected_frame_count(info):
    """The number of frames of the video ``info`` describes, for a progress bar's total: its
    stated ``frame_count``, else its duration times its frame rate, rounded (Matroska and WebM
    state no count: without a total the bars of a long .mkv showed no ETA); None when neither
    is known."""
    if info.frame_count:
        return info.frame_count
    if info.duration and info.frame_rate:
        return round(info.duration * info.frame_rate)
    return None


def video_end(path, info):
    """Seconds from the first frame of the video ``path`` (``info``: its :class:`VideoInfo`)
    to the end of its last frame as ``retime`` plays it: the last frame's timestamp plus
    :func:`last_frame_period`. The one duration that ``retime``'s output lasts at speed 1 and
    that ``--range`` / ``segment`` are checked against. The last timestamp is read from the
    packets from the last keyframe at or before the declared end (:func:`_packets_from`;
    nothing is decoded there: the packets after the seek alone missed an .flv's video, where
    the file's end is its longer audio's, and an H.264 MPEG-TS's last frame shown, decoded
    before the B-frame the seek lands on), an MPEG-PS file's from all its packets
    (:func:`_ps_packets_end`: a seek reads it late); ``info.duration`` where the grid or the
    timestamps are unknown. The shared variable-rate clip: its last frame at 448/30 s,
    449/30 s (its MP4 duration, 448/30 s, ends at the last timestamp)."""
    import av

    period = last_frame_period(info)
    if period is None:
        return info.duration
    container, stream = open_input(path)
    try:
        base = _time_base(stream)
        first = next(decode(container, stream, upright=False, quiet=True), (None,))[0]
        times = _ps_packets_end(container, stream) if container.format.name == "mpeg" else None
        if times is not None:  # MPEG-PS: all packets, a seek reads the last late
            last = times[0]
        else:
            last = _last_timestamp(container, stream)
    except (av.FFmpegError, ValueError):  # an end that cannot be read: what the headers say
        return info.duration
    finally:
        container.close()
    if first is None or last is None or last * base < first:
        return info.duration
    return last * base - first + period


def _last_timestamp(container, stream):
    """The latest timestamp of the packets of an opened video ``stream`` (its time base) from
    its last keyframe at or before the declared end (:func:`_packets_from`; nothing is
    decoded), None where none has one; the container is read to its end."""
    base = _time_base(stream)
    end = _declared_end(container, stream)
    target = end if end is not None else Fraction(2 ** 40) * base
    packets = _packets_from(container, stream, max(math.ceil(target / base) - 1, 0))
    return max((packet.pts for packet in packets if packet.pts is not None), default=None)


# a video may end this much before its declared end (seconds, and a fraction of the declared
# duration) and still count as complete: 2 frames and 5 % (an audio track a little longer than
# the video, rounding of the container's duration); the shared clips end within a frame of it
END_TOLERANCE_FRAMES = 2
END_TOLERANCE_FRACTION = Fraction(1, 20)
# more packets refused in a row than this: the stream is not damaged in places but unreadable
MAX_REJECTED_PACKETS = 30


def _check_complete(container, stream, reached, period):
    """Raise ValueError when decoding stopped (at time ``reached``, the end of the last frame;
    ``period`` the frame period) well before the end the headers declare: a file cut short
    where the demuxer just stops at the cut and FFmpeg reports no error (WebM/Matroska; an MP4
    whose index comes first)."""
    if reached is None:
        return
    end = _declared_end(container, stream)
    if end is None:
        return
    start = (stream.start_time or 0) * _time_base(stream)
    limit = end - max(END_TOLERANCE_FRAMES * period, END_TOLERANCE_FRACTION * (end - start))
    if reached < limit and not _file_end_reached(container, stream, limit):
        raise ValueError(f"path: cannot decode {container.name} (the video ends at "
                         f"{float(reached - start):.3f} s, its headers say {float(end - start):.3f} s: "
                         f"the file is cut short or damaged)")


def _file_duration_only(container, stream):
    """Whether the headers of an opened file with streams besides the video ``stream`` state
    only the whole file's duration, the end of its longest stream, as the video's: FLV stores
    no stream's, FFmpeg's ASF demuxer gives the file's to every stream."""
    return len(container.streams) > 1 and (container.format.name == "asf" or (
        not stream.duration and _duration_tag(container, stream) is None))


def _file_end_reached(container, stream, at):
    """Whether a stream other than the video ``stream`` has packets ending at ``at`` seconds
    (the timestamps' timeline) or later, where the headers state only the whole file's
    duration: FLV's, and FFmpeg's ASF demuxer gives it every stream. That is the end of the
    file's longest stream: an audio track outlasting the video is no file cut short (an .flv
    with 3 s of audio and 2 s of video was refused: 'ends at 2.000 s, its headers say
    3.000 s'). Read from the packets after a seek near ``at`` of a second opening of the
    file, else from its start (nothing is decoded); False where they cannot be read."""
    import av

    if not _file_duration_only(container, stream):
        return False  # the declared end is the video's own

    def latest(seek):
        with _av_read(container.name, format=container.format.name) as other:
            if seek:
                other.seek(max(math.floor(at * 1_000_000), 0), backward=True)
            return max(((packet.pts + (packet.duration or 0)) * packet.time_base
                        for packet in other.demux() if packet.pts is not None
                        and packet.stream.index != stream.index), default=None)

    try:  # from the start only where the seek found none (a generator: read lazily)
        return any(end is not None and end >= at for end in map(latest, (True, False)))
    except av.FFmpegError:
        return False


def decode_from(container, stream, start, origin=None, **options):
    """``(origin, frames)``: the time of the first frame of an opened video stream (decoded
    unless given), and :func:`decode` (``options``) from the last keyframe before ``start``
    seconds after it (:func:`_packets_from`). Frames before ``start`` come too (the caller
    skips them): decoding a part of a long video costs the part, not what precedes it
    (``flowkit.batch``'s chunks)."""
    if origin is None:
        origin = next(decode(container, stream, quiet=True, **options))[0]
    target = math.ceil((origin + start) / _time_base(stream)) - 1
    return origin, decode(container, stream, seeked=True,
                          packets=_packets_from(container, stream, target), **options)


def _packets_from(container, stream, target):
    """The demuxed packets of ``stream`` from its last keyframe whose timestamp is at most
    ``target`` (in the stream's time base; from the first packet where none is), found after
    a seek. FFmpeg's MPEG-TS and MPEG-PS demuxers have no index: their seek lands on any
    frame at or before the target, and decoding started at the keyframe after it (a 30 fps
    MPEG-2 .ts with a keyframe every 12 frames, seeked to frame 10, decoded from frame 12; an
    H.264 .ts with one keyframe, nothing at all). So the packets are read from the seek on
    until one is decoded after the target: without a keyframe at or before it, the seek
    goes back 1, 2, 4, ... s further, then to the start. An MPEG-PS file's are read from the
    start (demuxed, not decoded: 0.05 s for 100 MB of 640x480 MPEG-2, which decodes in
    0.9 s): after a seek FFmpeg's parser gives its frames late timestamps (30 fps, 32x32:
    MPEG-2's 1/60 s late, MPEG-1's 1/30 s; 160x120 MPEG-2 frames 1/30 s)."""
    base = _time_base(stream)
    start = stream.start_time or 0
    back = 0
    while True:
        at = target - math.ceil(back / base)
        # from the first packet: taken whatever it is; 10 s before the stream's start (an
        # MPEG-TS seek to it lands after the first packet), not before 0 unless it starts
        # there (FLV's seek refuses a negative time: EPERM)
        whole = at <= start or container.format.name == "mpeg"
        container.seek(max(start - math.ceil(10 / base), min(start, 0)) if whole else at,
                       stream=stream, backward=True)
        packets = container.demux(stream)
        held = []  # the packets from the last keyframe at or before the target
        for packet in packets:
            if packet.is_keyframe and packet.pts is not None and packet.pts <= target:
                held = [packet]
                continue
            if held or whole:
                held.append(packet)
            time = packet.pts if packet.dts is None else packet.dts
            if time is not None and time > target:  # no later keyframe is at or before it
                break
        else:
            packets = ()  # all read (PyAV's demuxer raised StopIteration when asked again)
        if held or whole:
            yield from held
            yield from packets
            return
        back = max(2 * back, 1)


def grid_rate(info, fps=None, step=1):
    """The frame rate of a video written from the frames of the video ``info`` describes (a
    :class:`VideoInfo`; None: a folder of images): ``fps`` (forced, constant), else the rate of
    the grid its times lie on (``info.base_rate``) divided by ``step`` where it is plausible (at
    most retime's ``MAX_FPS``), else 30. What ``flowkit predict`` and ``flowkit flow --video``
    write at, and ``flowkit.batch``'s predict and flow jobs."""
    from ._retime import MAX_FPS

    if fps:
        return fps
    rate = info.base_rate / step if info is not None and info.base_rate else None
    return rate if rate and rate <= MAX_FPS else Fraction(30)


def grid_timing(info):
    """``(time_base, snap)`` for writing the frames of the video ``info`` describes (a
    :class:`VideoInfo`) at their own times, counted from its first frame: ``snap(time)`` is
    the point of the grid of ``info.base_rate`` (``k / base_rate``) where ``time`` lies within
    one ``info.time_base`` of it, as ``retime`` takes an input frame for the grid point it
    shows, else ``time`` (a frame between grid points, variable frame rate, keeps its time);
    ``time_base`` is the coarsest unit that holds both (``1 / base_rate`` where the input's
    unit divides it). So a 29.97 fps WebM, whose times are milliseconds (0, 33, 67, ...),
    gives frames at ``k * 100 / 2997`` s, read back at its rate, 2997/100, as ``retime``
    writes it (at the millisecond times an .mp4 read back as 30000/1001). Without a plausible
    grid (no ``base_rate``, or above ``retime``'s ``MAX_FPS``), or where the unit would be
    finer than a 32-bit timescale takes: ``(info.time_base, identity)``."""
    from math import gcd

    from ._retime import MAX_FPS

    unit, rate = Fraction(info.time_base), info.base_rate
    if not rate or rate > MAX_FPS:
        return unit, lambda time: time
    period = 1 / Fraction(rate)
    time_base = Fraction(gcd(period.numerator * unit.denominator,
                             unit.numerator * period.denominator),
                         period.denominator * unit.denominator)  # divides both
    if time_base.denominator >= 2**31:
        return unit, lambda time: time

    def snap(time):
        point = round(time / period) * period
        return point if abs(time - point) <= unit else time

    return time_base, snap


def frame_times(path):
    """The times of a video file's frames in seconds from the first one, as :func:`decode` (and
    ``iter_frames(timestamps=True)``) gives them, read from the demuxed packets without decoding
    (a timestamp not after the one before moves one frame period after it, as there; packets
    an MP4 edit list starts after, which FFmpeg decodes but does not show, are no frames): the
    frames of a chunked ``flowkit.batch`` flow job, whose parts are joined after the fact.
    The frames come in the order the decoder gives them: packet order where it reorders none
    (FFmpeg's ``has_b_frames``), else timestamp order (what a decoder that reorders gives
    wherever the timestamps follow the pictures' order; where they do not, only decoding
    tells). ValueError for a packet without a timestamp (its place is known only by
    decoding)."""
    container, stream = open_input(path)
    try:
        stamps = []
        for packet in container.demux(stream):
            if packet.is_discard:  # before an MP4 edit list's start: decoded, never shown
                continue
            if packet.pts is None:
                if packet.size:  # the demuxer's empty flush packet has none
                    raise ValueError(f"path: {path} holds video packets without a timestamp")
                continue
            stamps.append(packet.pts)
        base, period = _time_base(stream), 1 / Fraction(_frame_rate(stream) or 30)
        reorders = stream.codec_context.has_b_frames
    finally:
        container.close()
    if reorders:  # a decoder that holds frames back (B-frames) gives them in timestamp order
        stamps.sort()
    # else in packet order, as they come (intra-only codecs, H.264 without B-frames), whatever
    # their timestamps say: an MKV whose timestamps jump back had times decode never gives
    times = []
    for pts in stamps:
        times.append(_after(pts * base, times[-1] if times else None, period))
    return [time - times[0] for time in times]


def _after(time, previous, period):
    """A frame's time, moved one ``period`` after the ``previous`` frame's where it is not
    after it (damaged or duplicate timestamps): :func:`decode`'s rule, and
    :func:`frame_times`'."""
    return previous + period if previous is not None and time <= previous else time


def concat_parts(writer, paths, *, depth=8, frame_format=None):
    """Write every frame of the videos ``paths``, in order, to ``writer`` (a VideoWriter),
    decoded as ``decode(depth=, frame_format=)`` without rotation (padded even where
    ``writer``'s encoder needs it: :meth:`VideoWriter.fit`): the lossless parts of a chunked
    ``flowkit.batch`` job encoded once, so the encoder gets the frames of a single run."""
    for path in paths:
        container, stream = open_input(path)
        try:
            for _, frame in decode(container, stream, depth=depth, upright=False,
                                   frame_format=frame_format):
                writer.write(writer.fit(frame))  # lossless parts keep odd sizes
        finally:
            container.close()
    return writer.frame_count


def first_frame_time(path):
    """The time of a video file's first frame, seconds as :func:`iter_frames` gives it (its
    presentation time, not 0 where the stream starts later: 1.4 s in FFmpeg's MPEG-TS, a cut
    Matroska file's): the origin of the times :func:`writer_tags` takes. None for no frame."""
    container, stream = open_input(path)
    try:
        return next((time for time, _ in decode(container, stream, quiet=True)), None)
    finally:
        container.close()


def last_frames(path, count, *, timestamps=False, depth=8, gray=False, resize=None,
                deinterlace=False):
    """The last ``count`` frames of a video file (all of them if it has fewer), as
    :func:`iter_frames` yields them (``(time, frame)`` pairs with ``timestamps``; uint16 with
    ``depth=16``; ``gray``, ``resize``, ``deinterlace`` as there: with it, the last ``count``
    fields of an interlaced video), decoding only from the keyframe before the first of them
    (its time found from the demuxed packets): a long video costs what its tail costs."""
    import collections

    resize = _check_resize(resize)
    deinterlace = check_bool("deinterlace", deinterlace)
    container, stream = open_input(path)
    try:
        times = sorted(p.pts for p in container.demux(stream) if p.pts is not None)
        base = _time_base(stream)
        # the frames that hold the last count frames as read: two fields a frame
        coded = -(-count // 2) if deinterlace and _field_order(stream) in INTERLACED else count
        if len(times) > coded:
            origin, first = times[0] * base, times[-coded] * base
            # bwdif's fields of the first of them are those of the whole read: decode_from
            # starts at a keyframe before it
            _, frames = decode_from(container, stream, first - origin, origin, depth=depth,
                                    deinterlace=deinterlace)
            tail = collections.deque(((time, frame) for time, frame in frames if time >= first),
                                     maxlen=count)
            if len(tail) == count:
                return [(time, _finish(frame, gray, resize)) if timestamps
                        else _finish(frame, gray, resize) for time, frame in tail]
    finally:
        container.close()
    # few frames, or fewer decoded than demuxed (damaged packets): decode them all (a count
    # past sys.maxsize, all of them too, was deque's OverflowError: predict --context 2**63)
    return list(collections.deque(iter_frames(path, timestamps=timestamps, depth=depth,
                                              gray=gray, resize=resize,
                                              deinterlace=deinterlace),
                                  maxlen=min(count, sys.maxsize)))


def grid_steps(times, rate, unit=0):
    """Frame times (seconds, as :func:`iter_frames` gives them) as steps of a frame ``rate``
    before the last one (``[-2.0, -1.0, 0.0]``), for ``flowkit.predict``'s ``times``; None
    without a rate. A step within ``unit`` seconds (the stream's time base: MKV rounds its
    timestamps to milliseconds) of a whole number of steps is that whole number, so a steady
    rate gives whole steps."""
    if not rate:
        return None
    steps = []
    for time in times:
        step = (time - times[-1]) * rate
        whole = round(step)
        steps.append(float(whole if abs(step - whole) <= rate * unit else step))
    return steps


def write_video(path, frames, fps, *, codec=None, crf=DEFAULT_CRF, empty=None, callback=None,
                tags=None, pix_fmt=None):
    """Write ``frames`` (RGB or gray arrays; odd sizes padded even where the encoder needs it,
    :meth:`VideoWriter.fit`) to a video at ``path`` atomically (:class:`VideoWriter`, frame k
    at ``k / fps``, ``crf`` for the encoders that take one, as ``retime``'s); ``callback()``
    after each frame. ``tags``: :func:`writer_tags` of the
    input the upright frames come from: they are written in its coded orientation
    (:func:`to_coded`) with its display rotation, colour tags and language, as ``retime``
    writes them. Returns ``(frames written, (height, width) as written)``, before the
    rotation. ``empty``: the ValueError message when ``frames`` is empty (default
    VideoWriter's). ``pix_fmt``: as :class:`VideoWriter`'s (``predict`` passes the input's
    where the encoder takes it, as ``retime`` and ``translate`` choose it)."""
    tags = dict(tags or {})
    given = tags.get("rotation", 0)
    # where the container stores no rotation the frames stay upright (VideoWriter would turn
    # them back)
    rotation = tags["rotation"] = stored_rotation(path, tags.get("rotation", 0))
    if tags.get("sample_aspect_ratio") and (rotation - given) // 90 % 2:
        tags["sample_aspect_ratio"] = 1 / tags["sample_aspect_ratio"]  # the pixels upright
    with VideoWriter(path, fps, codec=codec, crf=crf, pix_fmt=pix_fmt, **tags) as writer:
        for frame in frames:
            writer.write(writer.fit(to_coded(frame, rotation)))
            if callback is not None:
                callback()
        if writer.frame_count == 0 and empty:
            raise ValueError(empty)
    return writer.frame_count, writer._size


def iter_frames(path, *, gray=False, step=1, resize=None, timestamps=False, depth=8,
                deinterlace=False):
    """Iterate over the frames of a video file or of a folder of images.

    Parameters
    ----------
    path : str or Path
        A video file FFmpeg can decode (PyAV: H.264, HEVC, VP9, AV1, MPEG-4, MJPEG, FFV1,
        ..., 8 to 16 bits), a folder whose image files (png, jpg, bmp, tif, webp, pnm) are
        read in natural order of their names (``frame2.png`` before ``frame10.png``; other
        files in the folder, subfolders and hidden files (``.name``) are ignored), or a TIFF
        file (``.tif``, ``.tiff``), its pages read in order as a folder's images are (a
        time-lapse stack: ImageJ's, ``cv2.imwritemulti``'s, tifffile's; 8-bit, 16-bit or
        float pages; :func:`tiff_pages` counts them).
    gray : bool, default False
        Yield ``(H, W)`` gray frames (OpenCV's RGB2GRAY weights; a folder's gray images as
        stored) instead of RGB (a folder's gray images repeated in three channels).
    step : int, default 1
        Yield every ``step``-th frame: frames 0, step, 2 * step, ... Skipped video frames
        are decoded (inter-frame codecs need them) but not converted.
    resize : (width, height), optional
        Output size, **width first** as in ``cv2.resize``. Shrinking uses area averaging,
        enlarging bilinear interpolation.
    timestamps : bool, default False
        Yield ``(time, frame)`` pairs, ``time`` the frame's presentation time in seconds as a
        ``fractions.Fraction`` (exact: ``pts * time_base``; irregular for variable frame
        rate). Video files only.
    depth : {8, 16, 32}, default 8
        8: uint8 frames (16-bit images of a folder reduced to 8 bits by OpenCV; a folder or
        stack whose first image is signed is a ValueError: read it at 32). 16: uint16
        frames on the full 16-bit scale (FFmpeg's conversion to ``gbrp16le``: a 10-bit video
        keeps its precision; planar RGB or gray of N bits (FFV1's ``gbrp10le``, ...) is read
        from its planes, a sample v as ``v * 65535 / (2**N - 1)`` rounded, ``v * 255 /
        (2**N - 1)`` at depth 8; YUV of more than 8 bits is swscale's conversion, whose scale
        ends short of 65535: limited-range white reads 65283 at any depth, 0.4 % low (4
        ten-bit levels there, 2 at middle grey: 32641 for 32767.5), full-range 10-bit white
        65472, 12-bit 65520; an 8-bit video's frames, and a folder's 8-bit images, are the
        8-bit values scaled by 257, 255 -> 65535; a folder's 16-bit images are read as they
        are). 32 (folders and TIFF files only): float32 frames of float TIFFs (radar,
        microscopy) or of signed-integer ones (a CT's int16 in Hounsfield units), their values
        as stored in any range (float64 ones cast to float32). See
        :func:`image_folder_depth` for the depth a folder's first image has.
    deinterlace : bool, default False
        Split each interlaced frame into its two fields, each made a whole frame by FFmpeg's
        ``bwdif`` deinterlacer, as ``ffmpeg -vf bwdif=mode=send_field:deint=interlaced``: an
        interlaced video (``VideoInfo.field_order`` ``"tt"``, ``"bb"``, ...) yields twice as
        many frames, at twice its frame rate (25i: 50 frames a second, the second field of a
        frame half a frame period after it), fields in the order the frames say. Frames the
        decoder does not mark interlaced (a progressive video) come as without it. Video
        files only.

    Returns
    -------
    generator of ndarray (or of (Fraction, ndarray) with ``timestamps=True``)
        Frames ``(H, W, 3)`` RGB or ``(H, W)`` gray, C-contiguous, upright: a display
        rotation stored in the file is applied (a phone video shot in portrait comes out
        portrait). Paths and arguments are checked when ``iter_frames`` is called, before the
        first frame.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        The video cannot be opened or has no decodable frame, decoding fails part way (the
        error names the file), the folder holds no image files or a link to nothing among
        them, an image (or TIFF page) cannot be read, a folder's image is a TIFF of several
        pages or an animated WebP, folder images (TIFF pages) differ in
        size (without ``resize``), ``timestamps`` for a folder or TIFF, ``depth=16`` for a
        folder image that is neither 8- nor 16-bit (float TIFF), ``depth=8`` or ``16`` for a
        folder or stack whose first image is signed (int16), ``depth=32`` for one that is
        neither float nor signed or for a video file; ``step`` < 1, a ``resize`` side < 1, a ``depth`` other
        than 8, 16 or 32 (checked when ``iter_frames`` is called); ``deinterlace`` for a
        folder or TIFF, or for frames FFmpeg's
        ``bwdif`` refuses (fewer than 3 rows or columns).
    TypeError
        ``path`` is not a str or ``os.PathLike``; ``step`` or ``resize`` is not an integer /
        pair of integers; ``gray``, ``timestamps`` or ``deinterlace`` is not a bool.

    Examples
    --------
    >>> for frame in iter_frames("clip.mp4", gray=True, step=2, resize=(320, 180)):  # doctest: +SKIP
    ...     print(frame.shape)  # (180, 320)
    >>> for time, frame in iter_frames("vfr.mp4", timestamps=True):  # doctest: +SKIP
    ...     print(float(time))
    """
    check_path("path", path)
    path = Path(path)
    step = check_int("step", step, min_value=1)
    resize = _check_resize(resize)
    gray = check_bool("gray", gray)
    timestamps = check_bool("timestamps", timestamps)
    deinterlace = check_bool("deinterlace", deinterlace)
    if depth not in (8, 16, 32):
        raise ValueError(f"depth: expected 8, 16 or 32, got {depth!r}")
    if not path.exists():
        raise FileNotFoundError(f"path: no such video file or image folder: {path}"
                                f"{pattern_hint(path)}")
    pages = tiff_pages(path)
    if path.is_dir() or pages:
        what = "a folder of images" if path.is_dir() else "a TIFF image" if pages == 1 \
            else f"a TIFF of {pages} pages"
        if timestamps:
            raise ValueError(f"path: {path} is {what}; timestamps are for video files")
        if deinterlace:
            raise ValueError(f"deinterlace: expected a video file, got {what}, {path} (images "
                             f"have no fields)")
        if depth < 32:
            _refuse_signed(path)
        images = _decoded_files(_image_files(path)[::step], depth) if path.is_dir() \
            else _decoded_pages(path, range(0, pages, step), depth)
        return _iter_images(images, gray, resize, depth)
    if depth == 32:
        raise ValueError(f"depth: 32 (float32 frames) is for a folder of float TIFF images; "
                         f"{path} is a video file, whose frames are read at 8 or 16")
    container, stream = open_input(path)
    frames = decode(container, stream, depth=depth, deinterlace=deinterlace)
    try:
        first = next(frames)
    except StopIteration:
        container.close()
        raise ValueError(f"path: opened {path} but could not decode any frame from it") from None
    except BaseException:
        container.close()
        raise
    video = _iter_video(container, frames, first, step, gray, resize, timestamps)
    # a generator dropped before its first frame runs no ``finally``, and PyAV's objects form
    # reference cycles: the file and the decoder's threads stayed open until a garbage collection
    weakref.finalize(video, container.close)
    return video


def _refuse_signed(path):
    """A ValueError naming the first image of the folder or TIFF ``path`` where its samples are
    signed integers (a CT's int16 in Hounsfield units): OpenCV's reduction to 8 bits read them
    as unsigned, -1300 as 250 and 300 as 1, so depth 8 yielded them inverted, unsaid."""
    image = _first_image(path)[1]
    if image.dtype.kind == "i":
        first = f"page 1 of {path}" if tiff_pages(path) else f"image {_image_files(path)[0]}"
        raise ValueError(f"path: {first} has {image.dtype} samples (signed integers); read "
                         f"them with depth=32, as float32 values as stored")


def pattern_hint(path, video_only=False):
    """What to give instead of a missing ``path`` whose name is an image-sequence pattern:
    FFmpeg's ``img_%04d.png`` or a glob's ``*.png`` (which flowkit does not expand: a folder
    is read whole, in natural order of its images' names; ``video_only``: for a command of
    video files, a video made of them); else an empty string."""
    name = Path(path).name
    if re.search(r"%0?\d*d", name):
        kind = "an FFmpeg image-sequence pattern"
    elif any(c in name for c in "*?["):
        kind = "a glob pattern"
    else:
        return ""
    if video_only:  # ffmpeg expands a glob only when told (else 'No such file or directory')
        glob = "-pattern_type glob " if kind == "a glob pattern" else ""
        return (f" ({name} is {kind}, which flowkit does not expand: this command reads a "
                f"video file, e.g. one made of the images by ffmpeg {glob}-i "
                f"{shlex.quote(str(path))} out.mkv; "
                f"flow and predict read the folder {Path(path).parent})")
    return (f" ({name} is {kind}, which flowkit does not expand: give the folder "
            f"{Path(path).parent}, whose images are read in natural order of their names)")


def is_folder_image(path):
    """Whether ``path``, an entry of a folder, is one of its images that ``iter_frames`` reads:
    a file (or a link to one) with an image extension whose name does not start with a dot.
    Hidden files are skipped as ``ls`` and shell globs skip them (and as ``flowkit.batch``
    skips hidden videos): macOS's ``._frame1.png`` AppleDouble files, which hold no image,
    made a copied folder unreadable."""
    return _image_name(path) and path.is_file()


def _image_name(path):
    """An image extension, and a name that does not start with a dot."""
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def _image_files(folder):
    """The image files of ``folder`` in natural order of their names (``iter_frames``'s); a
    link to nothing among them is a ValueError (it was skipped: a frame missing unsaid)."""
    named = [p for p in folder.iterdir() if _image_name(p)]
    for p in named:
        if p.is_symlink() and not p.exists():
            raise ValueError(f"path: {p} is a link to a file that does not exist (a frame of "
                             f"the folder {folder} would be missing)")
    files = sorted((p for p in named if p.is_file()), key=_natural_key)
    if not files:
        raise ValueError(f"path: the folder {folder} holds no image files ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    return files


def _image_bytes(file):
    """The bytes of the image ``file`` of a folder (a uint8 array); an OSError names ``path``
    (it was '[Errno 13] Permission denied: 'f3.png'', naming no parameter)."""
    try:
        return np.fromfile(file, np.uint8)
    except OSError as exc:
        raise type(exc)(f"path: cannot read the image {file} ({exc.strerror or exc})") from None


def decode_image(data, flags):
    """OpenCV's decoding of an image file's bytes ``data`` (a uint8 array) with ``flags``
    (``cv2.IMREAD_*``); None where it cannot decode them, an empty file included (on empty
    data ``cv2.imdecode`` raises its own error instead of returning None)."""
    import cv2

    return cv2.imdecode(data, flags) if data.size else None


def _first_image(folder):
    """(bytes, samples as stored) of the first image of ``folder`` (``iter_frames``'s order),
    or of the first page of a TIFF file (its bytes empty); ValueError as ``iter_frames``: no
    image, an unreadable one."""
    import cv2

    if tiff_pages(folder):
        ok, images = cv2.imreadmulti(str(folder), 0, 1, flags=cv2.IMREAD_UNCHANGED)
        if not ok or not images:
            raise ValueError(f"path: OpenCV cannot read page 1 of {folder}")
        return np.empty(0, np.uint8), images[0]
    file = _image_files(Path(folder))[0]
    data = _image_bytes(file)
    image = decode_image(data, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"path: OpenCV cannot read the image {file}")
    return data, image


def image_folder_depth(folder):
    """16 when the first image of ``folder`` (``iter_frames``'s order; or the first page of a
    TIFF stack) has 16-bit samples, 32 when float or signed-integer samples (a float TIFF; a
    CT's int16 in Hounsfield units, which no [0, max] scale reads), else 8: the
    ``depth`` at which ``predict`` reads an image folder, as it reads a video of more than 8
    bits at 16 (ValueError as ``iter_frames``: no image, an unreadable one)."""
    return read_depth(_first_image(folder)[1].dtype)


def read_depth(dtype):
    """The ``iter_frames`` depth images of samples of ``dtype`` are read at: 32 for float and
    signed integers, 16 for uint16, else 8 (:func:`image_folder_depth`'s rule)."""
    return 32 if dtype.kind in "fi" else 16 if dtype == np.uint16 else 8


def image_folder_gray(folder):
    """Whether the first image of ``folder`` (``iter_frames``'s order; or the first page of a
    TIFF stack) is gray: one channel, or gray with alpha. The command line reads such a folder
    with ``gray=True``, as it reads two gray image files (ValueError as ``iter_frames``: no
    image, an unreadable one)."""
    return gray_image(*_first_image(folder))


def gray_image(data, image):
    """Whether the ``image`` decoded from the bytes ``data`` is gray: one channel, or gray
    with alpha (a PNG's, which OpenCV decodes as BGR(A)): :func:`image_folder_gray`'s rule."""
    return image.ndim == 2 or image.shape[2] == 2 or _png_gray_alpha(data)


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"  # followed by IHDR, whose colour type is byte 25


def _png_gray_alpha(data):
    """Whether the bytes ``data`` are a PNG of gray with alpha (colour type 4, byte 25 of the
    file, in IHDR), which OpenCV decodes as BGR(A)."""
    return data[:8].tobytes() == _PNG_SIGNATURE and data.size > 25 and data[25] == 4


def _raise_unread(file, data):
    """The error of a folder's image ``file`` (bytes ``data``) OpenCV did not decode to 8 or 16
    bits: a float TIFF, which IMREAD_COLOR refuses (said "cannot read" of a file that two-image
    commands read), names its samples; anything else cannot be read."""
    import cv2

    stored = decode_image(data, cv2.IMREAD_UNCHANGED) if file.suffix.lower() in (".tif", ".tiff") \
        else None
    if stored is not None and stored.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"path: image {file} has {stored.dtype} samples; the images of a folder "
                         f"are read as 8- or 16-bit, or as float with depth=32")
    raise ValueError(f"path: OpenCV cannot read the image {file}")


def _image_flags(depth):
    # 8 bits: OpenCV's reduction of deeper images (as before depth existed); 16: as stored;
    # 32: float as stored (a float TIFF's values are no fraction of a full scale: 8- or 16-bit
    # images among them are an error, not scaled). Gray images decoded gray and colour ones in
    # colour, then converted as video frames are: the decoders' own gray conversion
    # (IMREAD_GRAYSCALE) differs from BGR2GRAY by a level on half the pixels of a colour PNG
    import cv2

    return cv2.IMREAD_ANYCOLOR | (cv2.IMREAD_ANYDEPTH if depth > 8 else 0)


def _decoded_files(files, depth):
    """``(name, image)`` of each image file of a folder, decoded for ``depth``."""
    for file in files:
        pages = tiff_pages(file)
        if pages > 1:  # OpenCV's imdecode reads its first page alone
            raise ValueError(f"path: {file} is a TIFF of {pages} pages, an image stack: a "
                             f"folder's images are a frame each; give the TIFF alone to read "
                             f"its pages as frames")
        frames = webp_frames(file)
        if frames > 1:  # OpenCV's imdecode reads its first frame alone
            raise ValueError(f"path: {file} is an animated WebP of {frames} frames: a folder's "
                             f"images are a frame each; convert it to a folder of images "
                             f"(libwebp's anim_dump)")
        data = _image_bytes(file)
        image = decode_image(data, _image_flags(depth))
        if image is None:
            _raise_unread(file, data)
        yield f"image {file}", image


_STACK_RUN_BYTES = 64 * 2**20  # the decoded pages of a TIFF stack read at once, about


def _decoded_pages(path, indices, depth):
    """``(name, image)`` of the pages ``indices`` (a range) of the TIFF ``path``, decoded for
    ``depth`` in runs of about ``_STACK_RUN_BYTES`` (a stack is not held in memory whole).
    OpenCV walks a TIFF's pages from the first to reach the one asked for: a page at a time,
    the time grew as the square of the count (2000 pages of 64x64: 139 s; in runs 0.2 s)."""
    import cv2

    done, run = 0, 1  # the first page alone: its size sets the run
    while done < len(indices):
        chosen = indices[done:done + run]
        first = chosen[0]
        ok, images = cv2.imreadmulti(str(path), first, chosen[-1] - first + 1,
                                     flags=_image_flags(depth))
        images = images if ok else []  # OpenCV stops before a page it cannot decode
        for index in chosen:
            image = images[index - first] if index - first < len(images) else \
                _decoded_page(path, index, depth)
            yield f"page {index + 1} of {path}", image
        done += len(chosen)
        run = max(1, _STACK_RUN_BYTES // (image.nbytes * indices.step))


def _decoded_page(path, index, depth):
    """The page ``index`` of the TIFF ``path`` decoded for ``depth``; ValueError naming it
    where OpenCV cannot decode it."""
    import cv2

    ok, images = cv2.imreadmulti(str(path), index, 1, flags=_image_flags(depth))
    if ok and images:
        return images[0]
    name = f"page {index + 1} of {path}"
    stored = cv2.imreadmulti(str(path), index, 1, flags=cv2.IMREAD_UNCHANGED)[1]
    if stored and stored[0].dtype not in (np.uint8, np.uint16):
        raise ValueError(f"path: {name} has {stored[0].dtype} samples; image stacks "
                         f"are read as 8- or 16-bit, or as float with depth=32")
    raise ValueError(f"path: OpenCV cannot read {name}")


def tiff_pages(path):
    """The number of pages (images) of the TIFF file ``path`` (``.tif``, ``.tiff``: a
    time-lapse stack, ImageJ's included), which ``iter_frames`` reads as frames in page order;
    0 for a folder or a file of another extension (OpenCV's ``cv2.imcount``)."""
    path = Path(path)
    if path.suffix.lower() not in TIFF_EXTENSIONS or not path.is_file():
        return 0
    return _image_count(path)


def webp_frames(path):
    """The number of frames of an animated WebP file ``path`` (its VP8X chunk's animation
    flag set; OpenCV's ``cv2.imcount``), which FFmpeg and ``cv2.imdecode`` read as its first
    frame alone; 0 for another file or one it cannot read."""
    path = Path(path)
    if path.suffix.lower() != ".webp" or not path.is_file():
        return 0
    try:
        with open(path, "rb") as file:
            header = file.read(21)  # RIFF, size, WEBP, then the VP8X chunk's name, size, flags
    except OSError:
        return 0
    animated = header[12:16] == b"VP8X" and len(header) == 21 and header[20] & 0x02
    return _image_count(path) if animated else 0


def _image_count(path):
    """OpenCV's count of the images of the file ``path`` (``cv2.imcount``), 0 where it
    cannot read it."""
    import cv2

    try:
        return cv2.imcount(str(path))
    except cv2.error:
        return 0


def _iter_images(images, gray, resize, depth=8):
    import cv2

    size = None
    for file, image in images:  # file: "image a.png", "page 3 of stack.tif"
        if depth == 16 and image.dtype == np.uint8:
            image = image.astype(np.uint16) * np.uint16(257)  # 255 -> 65535, as FFmpeg's rgb48
        elif depth == 16 and image.dtype != np.uint16:
            raise ValueError(f"path: {file} has {image.dtype} samples; depth=16 reads 8- "
                             f"and 16-bit images")
        elif depth == 32 and image.dtype.kind not in "fi":
            raise ValueError(f"path: {file} has {image.dtype} samples; depth=32 (a folder or "
                             f"stack whose first image is float or signed) reads float and "
                             f"signed-integer images only")
        elif depth == 32:
            image = image.astype(np.float32, copy=False)
        if resize is None:
            if size is None:
                size = image.shape[:2]
            elif image.shape[:2] != size:
                raise ValueError(
                    f"path: {file} is {image.shape[1]}x{image.shape[0]}, the first image is "
                    f"{size[1]}x{size[0]} (width x height); pass resize= to read mixed sizes"
                )
        if image.ndim == 3:  # BGR, or BGRA where the flags keep alpha
            image = cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2RGB)
        yield _finish(image, gray, resize)


def _iter_video(container, frames, first, step, gray, resize, timestamps):
    try:
        for index, (time, rgb) in enumerate(_chain(first, frames)):
            if index % step == 0:
                frame = _finish(rgb, gray, resize)
                yield (time, frame) if timestamps else frame
    finally:
        container.close()


def _chain(first, rest):
    yield first
    yield from rest


# --- writing ------------------------------------------------------------------------------------

# 4:2:0 encoders that take odd sizes (checked with PyAV 18's FFmpeg at 161x121); libx264 and
# libx265 do not
ODD_SIZE_ENCODERS = frozenset({"libvpx-vp9", "libvpx", "libsvtav1", "mpeg4", "ffv1"})


# x265 (PyAV 18.1's, 4.2) runs its cu-tree pass from the second frame on; its AVX routine that
# propagates the costs of a row of 8x8 blocks of the half-size picture writes 4 values, then the
# rest, so a row of fewer than 4 (frames <= 48 pixels wide, x265 padding the width to 8) is
# written past its buffer's end: valgrind sees it from 16 to 48 pixels, and from 33 to 48 it
# corrupts glibc's heap, which aborts the process ("corrupted size vs. prev_size"), at once or
# in a later writer. VideoWriter turns the pass off (x265's --no-cutree) for narrower frames.
X265_CUTREE_MIN_WIDTH = 49
# the smallest width and height (pixels) of encoders that refuse smaller frames with only
# "Invalid argument" (PyAV 18.1's FFmpeg): x265 below 16 (one 16x16 coding block; 8-bit,
# 10-bit, 4:2:0 and 4:4:4 alike), SVT-AV1 below 4 ("Source Width must be at least 4")
ENCODER_MIN_SIZE = {"libx265": 16, "libsvtav1": 4}


def _x265_short_dts(packets):
    """Stamp ``packets``, all of an x265 stream of 1 or 2 frames, with their DTS: x265 (4.2)
    gives each packet its pts less a B-frame delay it sets when the third frame comes, so
    with fewer it subtracted whatever its memory held (-139823490996128): the MP4 and MOV
    muxers refused it ("failed finishing out.mp4 (Not yet implemented in FFmpeg, patches
    welcome)"), MPEG-TS shifted the frames by it (a first frame at 55967 s). Two frames are
    a P-frame after an I-frame, decoded in presentation order: DTS = pts."""
    times = [packet.pts for packet in packets]
    if None not in times and times == sorted(times):
        for packet in packets:
            packet.dts = packet.pts


def pad_even(frame):
    """``frame`` (gray or colour) with an odd height or width padded to even by repeating its
    last row or column (4:2:0 encoders need even sizes); even frames are returned as given."""
    height, width = frame.shape[:2]
    if not (height % 2 or width % 2):
        return frame
    pad = ((0, height % 2), (0, width % 2)) + ((0, 0),) * (frame.ndim - 2)
    return np.pad(frame, pad, mode="edge")


def needs_even_size(codec, pix_fmt):
    """Whether frames for ``codec`` encoding ``pix_fmt`` must be padded to an even size
    (:func:`pad_even`): chroma-subsampled formats on encoders outside ``ODD_SIZE_ENCODERS``."""
    subsampled = any(tag in pix_fmt for tag in ("420", "422", "411", "410"))
    return subsampled and codec not in ODD_SIZE_ENCODERS


@functools.cache
def _muxer_extensions():
    """The file extensions (lower case, no dot) of PyAV's FFmpeg muxers: FFmpeg picks an
    output's container by them."""
    import av

    extensions = set()
    for format_name in av.formats_available:
        try:
            extensions.update(e.strip().lower() for e in av.ContainerFormat(format_name, "w").extensions)
        except ValueError:  # a demuxer only
            continue
    return frozenset(extensions)


@contextlib.contextmanager
def _quiet_svt(codec):
    """SVT-AV1 printed a banner of 20 "Svt[info]: ..." lines and a warning (it cannot raise
    thread priority) on stderr; it has no encoder option for its log level, only ``SVT_LOG``,
    read as its encoder opens: ``1`` is errors only (they still show). Set for the opening of a
    ``libsvtav1`` encoder, unless the user set it, and removed again: it stayed in the host's
    ``os.environ`` (and its child processes')."""
    if codec != "libsvtav1" or "SVT_LOG" in os.environ:
        yield
        return
    os.environ["SVT_LOG"] = "1"
    try:
        yield
    finally:
        os.environ.pop("SVT_LOG", None)


@functools.cache
def encoder_fits(encoder, suffix):
    """Whether FFmpeg's muxer for the extension ``suffix`` (``".ts"``) takes ``encoder``'s
    video: one black 64x48 frame written to a temporary file (the muxers' own lists of the
    codecs they take are incomplete: MPEG-TS's names no H.264)."""
    import tempfile

    import av

    with tempfile.TemporaryDirectory() as folder:
        try:
            with av.open(os.path.join(folder, "probe" + suffix), "w") as container:
                stream = container.add_stream(encoder, rate=24)
                stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
                for packet in stream.encode(av.VideoFrame(64, 48, "yuv420p")):
                    container.mux(packet)
                for packet in stream.encode(None):
                    container.mux(packet)
        except Exception:  # noqa: BLE001 - any refusal of the muxer or the encoder: no
            return False
    return True


@functools.cache
def _image_sequence_extensions():
    """The extensions (lower case, no dot) FFmpeg writes with its image2 muxer alone (png, jpg,
    tif, dpx, ...): one image file per frame, named by a ``%d`` pattern in the path."""
    import av

    others = set()
    for format_name in av.formats_available - {"image2"}:
        try:
            extensions = av.ContainerFormat(format_name, "w").extensions
        except ValueError:  # a demuxer only
            continue
        others.update(e.strip().lower() for e in extensions)
    image2 = av.ContainerFormat("image2", "w").extensions
    return frozenset(e.strip().lower() for e in image2) - others


def check_container(path, name="path"):
    """Raise ValueError naming the parameter ``name`` when no FFmpeg container takes the
    extension of ``path`` (``out.xyz``): FFmpeg picks the container by the extension, so a
    ``codec`` does not help (FFmpeg said only "Could not determine output format"); or when
    the extension is an image format (``out.png``, ``frame_%04d.png``): FFmpeg writes one
    image per frame, which is no video file (with a ``%d`` pattern the frames went to hidden
    temporary files and an empty file was reported as written). A path without an extension is
    :func:`writer_codec`'s error."""
    suffix = Path(path).suffix
    if suffix and suffix[1:].lower() not in _muxer_extensions():
        raise ValueError(f"{name}: {path}: FFmpeg has no container for the extension {suffix!r} "
                         f"(it picks the container by the extension, whatever the codec); use a "
                         f"video extension ({', '.join(DEFAULT_CODECS)}, ...)")
    if suffix and suffix[1:].lower() in _image_sequence_extensions():
        raise ValueError(f"{name}: {path}: {suffix!r} is an image format, which FFmpeg writes as "
                         f"one file per frame, not a video; use a video extension "
                         f"({', '.join(DEFAULT_CODECS)}, ...)")


def check_crf(crf, encoder, name="crf"):
    """``crf`` as ``encoder`` (an FFmpeg encoder name, :func:`writer_codec`'s) takes it: an
    integer from 0 to ``CRF_MAX[encoder]`` (51 for libx264 and libx265, 63 for the others
    that take one; 63 for the encoders that ignore it), else a ValueError naming ``name``,
    the encoder and its range (x264 and x265 cap a higher value at 51 without a word)."""
    crf = check_int(name, crf, min_value=0)
    high = CRF_MAX.get(encoder, _CRF_LIMIT)
    if crf > high:
        whose = (f" for {encoder} (0-{high}; " + ", ".join(
            f"{codec} 0-{top}" for codec, top in CRF_MAX.items() if codec != encoder) + ")"
            if encoder in CRF_MAX else "")
        raise ValueError(f"{name}: expected an integer <= {high}{whose}, got {crf}")
    return crf


def writer_codec(path, codec=None, name="path"):
    """The encoder :class:`VideoWriter` uses for ``path``: ``codec`` (an FFmpeg name or a FourCC),
    else the default of ``path``'s extension (``DEFAULT_CODECS``).

    Raises ValueError for an unknown encoder, an extension without a default, or a path
    without an extension or with one that no FFmpeg container takes (:func:`check_container`;
    FFmpeg picks the container by it, so a ``codec`` does not help: the error names the
    parameter ``name``); or a codec the container does not read back: H.264 in AVI, WMV/ASF
    and MXF, MPEG-1 in AVI and WMV, any but H.264, HEVC, MPEG-4 and MPEG-1/2 video in MPEG streams
    (``MPEG_STREAM_CONTAINERS``).
    """
    import av

    if not Path(path).suffix:
        raise ValueError(f"{name}: {path}: no extension; give it a video extension "
                         f"({', '.join(DEFAULT_CODECS)}, ...), which picks the container")
    check_container(path, name)
    if codec is None:
        codec = DEFAULT_CODECS.get(Path(path).suffix.lower())
        if codec is None:
            raise ValueError(
                f"codec: no default codec for extension {Path(path).suffix!r}; expected an "
                f"encoder name or one of the extensions {', '.join(DEFAULT_CODECS)}"
            )
    encoder = encoder_name(codec)
    suffix = Path(path).suffix.lower()
    carried = av.codec.Codec(encoder, "w").canonical_name  # the codec: h264 for libx264rgb too
    if suffix in MPEG_STREAM_CONTAINERS:
        if carried not in MPEG_STREAM_CODECS:
            raise ValueError(f"codec: {encoder} ({carried}) in {suffix} files: MPEG streams carry "
                             f"H.264, HEVC, MPEG-4 and MPEG-1/2 video, others as data that reads "
                             f"back as no video; use libx264, libx265, mpeg4 or mpeg2video, or "
                             f"write .mkv for {encoder}")
    if suffix in DTS_ONLY_CONTAINERS | {".mxf"} and carried == "h264":
        # measured: 30 fps frames written at k/30 s read back at 1/30, 4/30, 5/30, ... s (and
        # with B-frames off still one frame late); mpeg4, ffv1, mjpeg and vp9 read back exact.
        # libx264rgb (H.264 too) read back so, a frame late, when only libx264 was refused.
        # WMV/ASF read back so too, MXF at 0, 3/30, 4/30, ... s (12 frames lasting 14)
        why = ("AVI stores a frame rate and no times, and" if suffix in FRAME_RATE_CONTAINERS
               else f"{suffix} files time frames by their decoding order, and")
        others = "mjpeg (the default), mpeg4 or ffv1" if suffix == ".avi" else (
            "mpeg2video, ffv1 or prores_ks" if suffix == ".mxf" else "wmv2, mpeg4 or ffv1")
        raise ValueError(f"codec: {encoder} in {suffix} files: {why} H.264's delayed frames "
                         f"read back late and out of order; write .mp4 or .mkv, or use {others} "
                         f"in {suffix}")
    if carried == "mpeg1video" and suffix in DTS_ONLY_CONTAINERS:
        # measured: frames written at k/30 s read back at 0, 2/30, 3/30, 4/30, 5/30 s (WMV's
        # last at 4.47/30): MPEG-1 cannot state that it has no B-frames, so FFmpeg's readers,
        # timing frames by decoding order there, assume a frame of reordering delay; MPEG-2
        # states it (low delay) and reads back on time
        raise ValueError(f"codec: {encoder} in {suffix} files: their frames read back a frame "
                         f"late after the first (MPEG-1 cannot state that it has no B-frames); "
                         f"use mpeg2video in {suffix}, or write .mpg or .mkv for {encoder}")
    return encoder


def encoder_name(codec):
    """The FFmpeg video encoder for ``codec`` (an encoder name, a FourCC such as ``mp4v``, or a
    codec name such as ``hevc``: the encoder FFmpeg picks for it, ``libx265``).

    Raises ValueError naming ``codec`` when PyAV's FFmpeg has no such video encoder (or it is
    empty), TypeError when it is not a string.
    """
    import av

    if not isinstance(codec, str) or not codec:
        error = ValueError if isinstance(codec, str) else TypeError
        raise error(f"codec: expected an FFmpeg encoder name such as 'libx264' or a FourCC "
                    f"such as 'mp4v', got {codec!r}")
    name = FOURCC.get(codec.lower(), codec)
    try:
        found = av.codec.Codec(name, "w")
    except Exception:
        found = None
    if found is None or found.type != "video":
        known = ", ".join(sorted(set(FOURCC.values())))
        raise ValueError(f"codec: unknown video encoder {codec!r}; expected an FFmpeg encoder name "
                         f"({known}, ...) or a FourCC ({', '.join(FOURCC)})")
    # the encoder's own name: the options keyed on it (crf, x265's log level) apply to 'hevc'
    return found.name


MAX_RATIONAL = 2**31 - 1  # FFmpeg's AVRational: an int numerator and denominator


def _fraction(name, value):
    """A frame rate as an exact positive Fraction (floats: nearest with denominator <= 1001000)
    whose numerator and denominator fit FFmpeg's rationals: beyond them PyAV raised
    OverflowError, and a float below 5e-7 (a Fraction of 0) ZeroDivisionError."""
    if isinstance(value, (Fraction, int)) and not isinstance(value, bool):
        given = value = Fraction(value)
        if value <= 0:
            raise ValueError(f"{name}: expected a number in (0, inf], got {value}")
    else:
        given = check_float(name, value, low=0, low_open=True)
        value = Fraction(given).limit_denominator(1_001_000)
    if value == 0 or max(value.numerator, value.denominator) > MAX_RATIONAL:
        raise ValueError(f"{name}: expected a ratio of integers up to {MAX_RATIONAL} (FFmpeg's "
                         f"rationals; a float is taken to the nearest with a denominator up to "
                         f"1001000), got {given}")
    return value


# encoders' own limits on the rate (FFmpeg 7's, libvpx's and SVT-AV1's; measured with PyAV 18):
# past them the first frame failed with 'cannot write 16x16 yuv420p video' (blaming the size)
_MAX_TIME_BASE_DENOMINATOR = {"libvpx": 10**9, "libvpx-vp9": 10**9, "mpeg4": 65535}
_MAX_FPS = {"libsvtav1": 240}
# seconds between frames: mpeg4 writes a frame's whole seconds since the previous one as that
# many bits; FFmpeg refuses over 86400 with -1 (read as EPERM: 'Operation not permitted' on the
# path) and a small frame's buffer overflowed before that (16x16 from about 86000 s: FFmpeg's
# assertion aborted the process)
_MAX_PERIOD = {"mpeg4": 43200}
# MPEG-1's frame rate codes 1-8 (ISO 11172-2; it has no rate extension): its encoder, asked
# for strict 'unofficial' (for low delay), wrote 5, 10, 12 and 15 fps with the codes 10-13
# the standard reserves, and failed other rates as 'cannot write 64x64 yuv420p video'
_MPEG1_RATES = tuple(Fraction(r) for r in ("24000/1001", "24", "25", "30000/1001", "30",
                                           "50", "60000/1001", "60"))
# MPEG-2 codes those 8 times (n + 1) / (d + 1) (its frame_rate_extension, n < 4, d < 32;
# ISO 13818-2), the rate FFmpeg's encoder reads from its time base: another rate (29.97 as
# a float, 2997/100) or time base (1/90000 s at 30 fps) failed as 'cannot write 32x32 yuv420p
# video'
_MPEG2_RATES = frozenset(rate * Fraction(n, d) for rate in _MPEG1_RATES
                         for n in range(1, 5) for d in range(1, 33))


def _check_rate(suffix, codec, fps, time_base, given_time_base):
    """``VideoWriter``'s ``fps`` and ``time_base`` within what ``codec`` and the container of
    ``suffix`` take (ValueError naming ``time_base`` if given, else ``fps``, whose inverse it
    is). An MP4/MOV track counts time in 1/T s, T being ``time_base``'s denominator doubled
    until at least 10000, and stores each frame's duration in 32 bits: a longer frame failed
    only when the file was finished (x264), after all the encoding."""
    top = _MAX_TIME_BASE_DENOMINATOR.get(codec)
    if top is not None and time_base.denominator > top:
        if given_time_base:
            raise ValueError(f"time_base: expected at least 1/{top} s for {codec}, got {time_base}")
        raise ValueError(f"fps: expected at most {top} for {codec} (its time base, 1 / fps, is "
                         f"at least 1/{top} s), got {fps}")
    if codec in _MAX_FPS and fps > _MAX_FPS[codec]:
        raise ValueError(f"fps: expected at most {_MAX_FPS[codec]} for {codec}, got {fps}")
    rates = ", ".join(map(str, _MPEG1_RATES))  # their time base is 1 / fps (FRAME_RATE_CODECS)
    if codec == "mpeg1video" and fps not in _MPEG1_RATES:
        raise ValueError(f"fps: expected a rate MPEG-1 codes for mpeg1video ({rates} fps), "
                         f"got fps {fps}; mpeg2video codes others")
    if codec == "mpeg2video" and fps not in _MPEG2_RATES:
        raise ValueError(f"fps: expected a rate MPEG-2 codes for mpeg2video ({rates} fps "
                         f"times n / d, n 1-4, d 1-32; 29.97 fps is "
                         f"Fraction(30000, 1001)), got fps {fps}")
    if codec in _MAX_PERIOD and 1 / fps > _MAX_PERIOD[codec]:
        raise ValueError(f"fps: expected at least 1/{_MAX_PERIOD[codec]} for {codec} (a frame "
                         f"of at most {_MAX_PERIOD[codec]} s), got {fps}")
    if suffix in FASTSTART_CONTAINERS:
        scale = time_base.denominator
        while scale < 10000:
            scale *= 2
        if scale / fps > MAX_RATIONAL:
            longest = (f"{MAX_RATIONAL / scale:g} s ({MAX_RATIONAL} units of 1/{scale} s, the "
                       f"time scale of a {suffix} track for this time base)")
            name = "time_base" if given_time_base else "fps"
            raise ValueError(f"{name}: expected frames of at most {longest}, got fps {fps} "
                             f"(frames of {float(1 / fps):g} s)" +
                             (f" with time_base {time_base}" if given_time_base else ""))


def check_writer_rate(path, fps, codec=None):
    """Refuse, as :class:`VideoWriter` ``(path, fps, codec=codec)`` would (a ValueError naming
    ``fps``), a rate out of FFmpeg's, the encoder's or the container's range, for a caller
    whose rate came from another option (retime's ``factor``) to name that one."""
    fps = _fraction("fps", fps)
    _check_rate(Path(path).suffix.lower(), writer_codec(path, codec), fps, 1 / fps, False)


def _check_tags(name, tags):
    """``VideoWriter``'s ``metadata`` and ``stream_metadata``: None or a dict of strings."""
    if tags is None:
        return {}
    if not isinstance(tags, dict) or not all(isinstance(key, str) and isinstance(value, str)
                                             for key, value in tags.items()):
        raise TypeError(f"{name}: expected None or a dict of str to str, got {describe(tags)}")
    return dict(tags)


def _check_chapters(chapters):
    """``VideoWriter``'s ``chapters``: None or ``(start, end, tags)`` triples, in seconds."""
    checked = []
    for k, chapter in enumerate(chapters or ()):
        if not (isinstance(chapter, (tuple, list)) and len(chapter) == 3):
            raise TypeError(f"chapters[{k}]: expected (start, end, tags), got {describe(chapter)}")
        start, end = _time(f"chapters[{k}]", chapter[0]), _time(f"chapters[{k}]", chapter[1])
        if not 0 <= start < end:
            raise ValueError(f"chapters[{k}]: expected 0 <= start < end, got start {float(start):g}"
                             f" s and end {float(end):g} s")
        checked.append((start, end, _check_tags(f"chapters[{k}]", chapter[2])))
    return checked


def _check_color(color):
    """``VideoWriter``'s ``color``: None or a dict of the tags ``COLOR_TAGS`` to FFmpeg's enum
    values, integers >= 0 (a typo in a tag name was PyAV's AttributeError when the first frame
    came, a name such as ``"bt709"`` its "an integer is required", naming no parameter)."""
    if color is None:
        return {}
    if not isinstance(color, dict):
        raise TypeError(f"color: expected None or a dict of {', '.join(COLOR_TAGS)}, got "
                        f"{describe(color)}")
    for name, value in color.items():
        if name not in COLOR_TAGS:
            raise ValueError(f"color: expected tags among {', '.join(COLOR_TAGS)}, got {name!r}")
        check_int(f"color[{name!r}]", value, min_value=0)
    return {name: int(value) for name, value in color.items()}


def _time(name, value):
    """A time in seconds as an exact Fraction: a Fraction or int as it is, another real number
    (a NumPy float too) finite, as its exact binary value (``Fraction(value)``); a string, NaN or
    infinity is refused naming ``name`` (``Fraction()`` took ``"0.5"`` and raised for the rest
    with no parameter named)."""
    if isinstance(value, numbers.Rational) and not isinstance(value, (bool, np.bool_)):
        return Fraction(value)
    return Fraction(check_float(name, value))


def output_pix_fmt(codec, depth, pix_fmt=None):
    """The pixel format to encode with: ``pix_fmt`` if the encoder takes it, else one the
    encoder takes at ``depth`` bits (RGB for the lossless-only encoders, FFV1, UT Video,
    MagicYUV, FFVHuff, ..., ``bgr24`` for uncompressed ``rawvideo``, full-range ``yuvj420p``
    for MJPEG, 4:2:0 otherwise; for ``depth``
    above 8 and none of those, its deepest colour format, or its 8-bit choice where it has
    none deeper: HuffYUV's rgb24, not its first, 4:2:2).

    Raises ValueError naming ``pix_fmt`` when the encoder does not take it. FFmpeg's MJPEG
    lists the limited-range ``yuv`` formats too but refuses to open with them (it needs full
    range): only its ``yuvj`` formats count as taken, so that callers keeping the input's
    format (``retime``, ``translate``) fall back to ``yuvj420p`` as ``predict`` writes it.
    """
    import av

    encoder = av.codec.Codec(codec, "w")
    formats = [f.name for f in (encoder.video_formats or ())]
    if pix_fmt is not None:
        if formats and pix_fmt not in formats:
            raise ValueError(f"pix_fmt: {codec} cannot encode {pix_fmt!r}; it takes "
                             f"{', '.join(formats)}")
        if codec == "mjpeg" and not pix_fmt.startswith("yuvj"):
            raise ValueError(f"pix_fmt: mjpeg cannot encode {pix_fmt!r} (limited range); it takes "
                             f"{', '.join(f for f in formats if f.startswith('yuvj'))}")
        return pix_fmt
    if codec == "rawvideo":  # lists no formats, so gbrp was taken: AVI and MOV store only
        # packed RGB raw (gbrp read back as bgr24, at 16.8 dB; 16-bit as no video), NUT any
        return "bgr24"
    if depth > 8:
        preferred = ("gbrp16le", "gbrp10le", "yuv420p10le", "yuv444p10le", "yuv420p12le",
                     "yuv420p16le", "rgb48le")
    else:
        preferred = ("gbrp", "bgr0", "yuv420p", "yuvj420p", "rgb24")
    if codec == "mjpeg":
        preferred = ("yuvj420p",) + preferred  # full-range YUV, which FFmpeg's MJPEG needs
    elif encoder.lossy or not encoder.lossless:  # a lossless codec chosen keeps RGB exact (UT
        # Video and MagicYUV wrote 4:2:0: 46 dB)
        preferred = [p for p in preferred if not p.startswith(("gbrp", "bgr0", "rgb"))] + list(preferred)
    for name in preferred:
        if not formats or name in formats:
            return name
    if depth > 8:  # the encoder's deepest colour format (PNG's big-endian rgb48be: it wrote
        # rgb24); not a deeper gray one (jpegls' gray16le wrote red as gray), nor a hardware
        # surface (no components)
        def colour_bits(name):
            components = av.VideoFormat(name).components
            return components[0].bits if len(components) >= 3 else 0

        deepest = max(formats, key=colour_bits)
        if colour_bits(deepest) > colour_bits(formats[0]):
            return deepest
        # none deeper: the 8-bit choice (HuffYUV's first, 4:2:2, lost colour losslessly
        # codable as its rgb24)
        return output_pix_fmt(codec, 8)
    return formats[0]


class VideoWriter:
    """Write RGB or gray frames to a video file with FFmpeg (PyAV), atomically.

    Frames go to a temporary file beside ``path`` (same extension) that is renamed onto
    ``path`` by :meth:`close`. If the ``with`` block raises, or writing fails, the
    temporary file is removed: no partial video is left and an existing file at ``path``
    is untouched. Use it as a context manager, or call :meth:`close` yourself.

    Parameters
    ----------
    path : str or Path
        Output file. The extension selects the container (mp4, mov, mkv, avi, webm, ...).
    fps : float or Fraction
        Frames per second, > 0. Frame k is stamped at exactly ``k / fps`` seconds unless
        :meth:`write` is given its time (give ``Fraction(24000, 1001)`` for NTSC film rates;
        a float is taken as the nearest fraction with denominator <= 1001000); in .ts/.m2ts,
        .nut and .flv, which store no negative decode time, FFmpeg's muxer moves every stream
        later by the codec's reordering delay (with libx264's or libx265's B-frames frame k
        reads back at ``(k + 2) / fps``, the audio moved alike), and .mpg/.vob add their
        muxer's 0.5 s preload (:func:`frame_times` counts from the first frame). Its numerator and
        denominator, and ``time_base``'s, are at most ``2**31 - 1``, FFmpeg's rationals (else
        ValueError), within the encoder's range (libvpx/libvpx-vp9 at most 1e9 fps, mpeg4
        65535, libsvtav1 240; mpeg4 at least 1/43200; ``time_base`` likewise at least 1/1e9
        and 1/65535 s; mpeg1video one of MPEG-1's 8 rates, 23.976 to 60; mpeg2video one of
        them times n / d, n 1-4 and d 1-32) and,
        in .mp4/.m4v/.mov/.3gp, a frame lasts at most ``2**31 - 1`` units of the track's time
        scale (``time_base``'s denominator doubled up to >= 10000:
        131071 s at ``1 / fps`` with an integer period); else ValueError at construction.
    codec : str, optional
        An FFmpeg encoder (``"libx264"``, ``"libx265"``, ``"libvpx-vp9"``, ``"libsvtav1"``,
        ``"mpeg4"``, ``"mjpeg"``, ``"ffv1"`` lossless) or a FourCC that names one (``"mp4v"``,
        ``"XVID"``, ``"MJPG"``, ``"FFV1"``, ``"avc1"``, ``"hvc1"``). Default by extension:
        ``.mp4``/``.m4v``/``.mov`` -> libx264, ``.mkv`` -> ffv1, ``.avi`` -> mjpeg,
        ``.webm`` -> libvpx-vp9.
    crf : int, optional
        Constant rate factor of libx264, libx264rgb, libx265 (0-51), libvpx-vp9, libsvtav1, libaom-av1,
        libvpx (VP8, under a bitrate ceiling no stream reaches) (0-63; lower
        is better; the encoder's default when None, 23 for libx264, where flowkit's functions
        and commands that write videos pass 18); ignored by other encoders (0-63): mjpeg and the
        MPEG-family encoders (mpeg4, mpeg1video, mpeg2video, wmv2, flv, h263, ...:
        ``QSCALE_CODECS``) encode with the fixed quantiser 2 (FFmpeg's ``-q:v 2``, near their best
        quality), ffv1 is lossless.
    pix_fmt : str, optional
        Pixel format to encode with (default: RGB for the lossless-only encoders, ffv1,
        utvideo, magicyuv, ffvhuff, ..., 4:2:0 YUV otherwise, 10-bit
        for uint16 frames where the encoder takes it). uint16 frames to a format of 8 bits
        are rounded to the nearest 8-bit value first (``x / 257``: ``v * 257`` is ``v``), and
        to a planar RGB format of N bits (``gbrp10le``, ...), and gray ones to a gray format
        (``gray10le``, ``gray16le``, ...), to the nearest N-bit value
        (``x * (2**N - 1) / 65535``), which ``iter_frames(depth=16)`` reads back within half
        a level.
    rotation : int, default 0
        Display rotation stored in the file (degrees counter-clockwise, a multiple of 90):
        frames are written as given and players turn them. Containers that store no rotation
        (AVI, MPEG-TS, ...: not in ``ROTATION_CONTAINERS``) get the frames turned by it
        instead, so they are displayed the same (``rotation`` is then 0, and the stored size
        the turned one; ``write`` still takes frames of the first frame's size).
    color : dict, optional
        Colour tags of the stream, FFmpeg codec-context attributes ``colorspace``,
        ``color_range``, ``color_primaries``, ``color_trc`` (``retime`` copies the input's, so
        that players read the YUV values as they read the input's).
    frame_format : str, optional
        What the frames hold: None for RGB (or gray), else ``"yuv444p"``, ``"yuvj444p"`` (uint8)
        or ``"yuv444p16le"`` (uint16, 16-bit scale): ``(H, W, 3)`` arrays of the Y, U, V planes
        at full resolution, without an RGB conversion (``retime`` works on the decoded YUV).
        For a planar YUV ``pix_fmt`` of the frames' range they are written straight into its
        planes (chroma averaged over its blocks, rounded to its bits; no swscale), so planes
        decoded from a file of that format (``decode(frame_format=)``) come back exactly.
        Full-range ``"yuvj444p"`` planes go so into a ``yuvj`` format, or into a plain ``yuv``
        one whose ``color`` tags say full range (``color_range`` 2; FFV1 has no ``yuvj``
        formats); otherwise swscale converts the range.
    time_base : Fraction, optional
        Unit of the stored timestamps in seconds (default ``1 / fps``). Give the input's to
        write frames at their own times (``write(frame, time=)``, variable frame rate;
        ``translate`` does); times are rounded to it. Ignored for ``.avi``, which stores a
        frame rate and no times (``FRAME_RATE_CONTAINERS``), and for mpeg1video and mpeg2video,
        which code a frame rate FFmpeg reads from the time base (``FRAME_RATE_CODECS``; a
        1/90000 time base failed, 1/60 coded 60 fps): times are rounded to ``1 / fps``,
        and a frame whose time, later than the previous frame's, rounds onto the same
        ``1 / fps`` slot (variable frame rate faster than ``fps`` there) is dropped: the
        first frame of a slot is kept, :meth:`write` returns False and ``dropped`` counts
        them (it was a ValueError about the time order).
    language : str, optional
        The video stream's ``language`` tag (ISO 639-2, e.g. ``"eng"``; ``retime`` and
        ``translate`` copy the input's, and each audio stream's); None: no tag (``"und"``).
    metadata : dict, optional
        Global tags of the file, ``str`` to ``str`` (``{"title": ..., "comment": ...}``;
        ``retime``, ``translate`` and ``predict`` copy the input's ``VideoInfo.metadata``). The
        muxer writes its own ``encoder`` tag.
    stream_metadata : dict, optional
        Tags of the video stream, ``str`` to ``str``: ``title`` and ``handler_name`` (those
        commands copy the input's ``VideoInfo.stream_metadata``; each audio stream keeps its own)
        and ``timecode``, the first frame's (``"01:00:00:00"``, :func:`writer_tags`): MOV and MP4
        store it as a ``tmcd`` track (FFmpeg's muxer writes none where the rate and timecode do
        not agree: drop-frame ``;`` at 25 fps), Matroska as the ``TIMECODE`` tag.
    chapters : sequence of (start, end, dict), optional
        Chapters, ``start < end`` in seconds of the output's timeline and the chapter's tags
        (``{"title": ...}``), as :func:`writer_tags` gives them (``retime`` maps the input's
        through its timeline). Containers without chapters (AVI) store none.
    sample_aspect_ratio : Fraction, optional
        Width of a pixel of the frames as given over its height (``retime``, ``translate``
        and ``predict`` copy the input's ``VideoInfo.sample_aspect_ratio``): players show
        720x576 frames of ``Fraction(64, 45)`` at 16:9. None or 1: square pixels, nothing
        stored. Stored in the bitstream by libx264, libx265, mpeg4, mpeg1video and mpeg2video
        (as one of MPEG's display aspect ratios, the nearest), and by the .mp4/.mov muxers for
        any codec; lost in .mkv/.webm with ffv1, libvpx-vp9 and AV1 (PyAV sets no Matroska
        display size).

    Raises
    ------
    ValueError
        Bad ``fps``, ``codec``, ``crf``, ``pix_fmt``, ``frame_format``, ``time_base``,
        ``rotation``, ``sample_aspect_ratio`` or ``color`` (a tag other than those four, a
        negative value), a ``path`` without an extension or with one no FFmpeg container
        takes, an extension without a
        default codec and no ``codec``, an encoder or container that cannot take the frames
        (the error names the codec and size; 4:2:0 encoders need even sizes), a frame of
        another size than the first, or closing a writer that received no frame (no file is
        created then).
    TypeError
        A ``path`` that is not a str or ``os.PathLike``; a frame that is not uint8 or uint16;
        ``fps`` or ``time_base`` not a real number; ``codec`` not a string; ``crf`` or
        ``rotation`` not an integer; a ``language`` that is not a string; a ``color`` that is
        not a dict of integers; a ``metadata`` or ``stream_metadata`` that is not a dict of
        strings; ``chapters`` that are not ``(start, end, dict)`` triples with
        ``0 <= start < end`` (ValueError for the times).
    FileNotFoundError
        The folder of ``path`` does not exist.
    OSError
        The file cannot be written (a full disk, ``ulimit -f``): ``[Errno 28] No space left
        on device: 'out.mp4'``, naming ``path``, from :meth:`write` or :meth:`close`.

    Notes
    -----
    The frame size and bit depth are taken from the first frame. Gray ``(H, W)`` frames are
    written as three equal channels. Encoders log errors only: x265 with ``log-level=error``,
    SVT-AV1 through the environment variable ``SVT_LOG=1``, set unless already set (read
    once per process, when its first encoder opens). x265 runs without its cu-tree pass for
    frames narrower than 49 pixels (``X265_CUTREE_MIN_WIDTH``): the pass writes past a buffer
    there, which aborted the process. Lossy codecs change pixel values; RGB is converted to
    YUV with the matrix and range of the ``color`` tags (BT.709, BT.601, SMPTE 240M, FCC,
    BT.2020, or BT.601 for a range alone; full range for ``yuvj`` formats), else with FFmpeg's
    default (BT.601, limited range); MJPEG always with BT.601, the matrix its decoders read
    whatever the tags say.

    Examples
    --------
    >>> with VideoWriter("out.mp4", fps=30) as writer:  # doctest: +SKIP
    ...     for frame in frames:
    ...         writer.write(frame)  # (H, W, 3) uint8 RGB
    """

    def __init__(self, path, fps, *, codec=None, crf=None, pix_fmt=None, rotation=0, color=None,
                 frame_format=None, time_base=None, language=None, metadata=None,
                 stream_metadata=None, chapters=None, sample_aspect_ratio=None):
        check_path("path", path)
        self.path = Path(path)
        self.fps = _fraction("fps", fps)
        self.time_base = 1 / self.fps if time_base is None else _fraction("time_base", time_base)
        self.codec = writer_codec(self.path, codec)
        self._slots = (self.path.suffix.lower() in FRAME_RATE_CONTAINERS
                       or self.codec in FRAME_RATE_CODECS)  # a frame rate, no finer times
        if self._slots:
            self.time_base = 1 / self.fps
        _check_rate(self.path.suffix.lower(), self.codec, self.fps, self.time_base,
                    time_base is not None and not self._slots)
        self.crf = None if crf is None else check_crf(crf, self.codec)
        self.pix_fmt = pix_fmt
        self._even_size = {}  # depth -> whether fit pads (fit)
        rotation = check_int("rotation", rotation)  # NumPy integers too (a probed rotation)
        if rotation % 90:
            raise ValueError(f"rotation: expected a multiple of 90 degrees, got {rotation!r}")
        self.rotation = stored_rotation(self.path, rotation)
        self._turns = (rotation - self.rotation) // 90 % 4  # stored turned, not as a tag
        self.color = _check_color(color)
        if language is not None and not isinstance(language, str):
            raise TypeError(f"language: expected None or a language code such as 'eng', got "
                            f"{describe(language)}")
        self.language = language
        self.metadata = _check_tags("metadata", metadata)
        self.stream_metadata = _check_tags("stream_metadata", stream_metadata)
        self.chapters = _check_chapters(chapters)
        self.sample_aspect_ratio = None if sample_aspect_ratio is None else \
            _fraction("sample_aspect_ratio", sample_aspect_ratio)
        self._matrix = None  # set when the stream opens: see _rgb_to_yuv_matrix
        self._frame_tags = {}  # the colour tags the stream stores, set on each frame too
        if frame_format is not None and frame_format not in FRAME_FORMATS:
            raise ValueError(f"frame_format: expected None or one of {', '.join(FRAME_FORMATS)}, "
                             f"got {frame_format!r}")
        self.frame_format = frame_format
        self.frame_count = 0
        self.dropped = 0  # frames on the slot of the previous one in an AVI (write returned False)
        self._pts = None  # timestamp of the last frame written, in time_base units
        self._time = None  # time of the last frame given (written or dropped), in seconds
        self._size = None  # (height, width) of the frames
        self._container = None
        self._stream = None
        self._companions = []  # objects with open(container), feed(container, time), close(container)
        self._stack = contextlib.ExitStack()
        self._tmp = self._stack.enter_context(atomic_path(self.path))

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self._abort(exc_type, exc, tb)
        return False

    @property
    def closed(self):
        """True once the writer was closed or aborted."""
        return self._tmp is None

    def __repr__(self):
        fps = self.fps.numerator if self.fps.denominator == 1 else str(self.fps)
        state = "closed" if self.closed else "open"
        return (f"<flowkit.VideoWriter path={str(self.path)!r} fps={fps} codec={self.codec!r} "
                f"frames={self.frame_count} {state}>")

    def fit(self, frame):
        """``frame`` padded to an even size (:func:`pad_even`) when this writer's encoder needs
        one for the pixel format it will use for frames of ``frame``'s dtype (4:2:0 on x264,
        x265, ...: :func:`needs_even_size`), else ``frame`` itself (FFV1, VP9, ...).

        Parameters
        ----------
        frame : ndarray, (H, W, 3) RGB or (H, W) / (H, W, 1) gray, uint8 or uint16
            A frame as :meth:`write` takes it.

        Returns
        -------
        ndarray, (H + H % 2, W + W % 2[, C]), ``frame``'s dtype
            ``frame``, its last row or column repeated where the size must be even.
        """
        depth = 16 if np.asarray(frame).dtype == np.uint16 else 8
        even = self._even_size.get(depth)
        if even is None:  # once per depth: output_pix_fmt asks the encoder for its formats
            even = self._even_size[depth] = needs_even_size(
                self.codec, output_pix_fmt(self.codec, depth, self.pix_fmt))
        return pad_even(frame) if even else frame

    def write(self, frame, time=None):
        """Append one frame.

        Parameters
        ----------
        frame : array_like, (H, W, 3) RGB or (H, W) / (H, W, 1) gray, uint8 or uint16
            All frames must have the size and dtype of the first one.
        time : Fraction or number, optional
            Presentation time in seconds from the start of the file, a finite real number
            (TypeError, ValueError otherwise), rounded to ``time_base``
            and later than the previous frame's (ValueError otherwise; for mpeg4 also at most
            43200 s later, or than 0 for the first frame). Default: ``k / fps`` for the k-th
            frame written.

        Returns
        -------
        bool
            True; False for a frame dropped in a container that stores a frame rate (AVI)
            because its time rounds onto the previous frame's ``1 / fps`` slot (see
            ``time_base``).

        Raises
        ------
        TypeError
            ``frame`` not an array or not uint8/uint16; ``time`` not a real number.
        ValueError
            ``frame`` of another shape than ``(H, W, 3)``, ``(H, W)`` or ``(H, W, 1)``, or of
            another size than the first frame; ``time`` not finite or not after the previous
            frame's (for mpeg4, or more than 43200 s after it); a closed writer.
        """
        if self.closed:
            raise ValueError(f"{self.path}: write to a closed VideoWriter")
        frame = as_array(frame, "frame", frames=True)
        check_array("frame", frame)
        if frame.dtype not in (np.uint8, np.uint16):
            raise TypeError(f"frame: expected dtype uint8 or uint16, got {frame.dtype}")
        if not (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] in (1, 3))):
            raise ValueError(f"frame: expected shape (H, W, 3) or (H, W), got {tuple(frame.shape)}")
        if self._size is not None and frame.shape[:2] != self._size:
            raise ValueError(
                f"frame: expected size {self._size[1]}x{self._size[0]} (width x height) like the "
                f"first frame, got {frame.shape[1]}x{frame.shape[0]}"
            )
        if self.frame_format is not None and (frame.ndim != 3 or frame.shape[2] != 3
                                              or frame.dtype != FRAME_FORMATS[self.frame_format]):
            raise ValueError(f"frame: expected (H, W, 3) {np.dtype(FRAME_FORMATS[self.frame_format])} "
                             f"{self.frame_format} planes, got {describe(frame)}")
        if self._stream is not None and frame.dtype != self._dtype:
            raise TypeError(f"frame: expected dtype {self._dtype} like the first frame, got {frame.dtype}")
        time = Fraction(self.frame_count) / self.fps if time is None else _time("time", time)
        pts = round(time / self.time_base)
        if self._pts is not None and pts == self._pts and time > self._time and self._slots:
            self._time = time  # later, but on the slot of the frame before: one frame per slot
            self.dropped += 1
            return False
        period = _MAX_PERIOD.get(self.codec)
        if period is not None and time - (self._time or 0) > period:
            raise ValueError(f"time: expected at most {period} s after the previous frame's "
                             f"{float(self._time or 0):g} s for {self.codec}, got "
                             f"{float(time):g} s")
        if pts < 0 or (self._pts is not None and pts <= self._pts):
            expected = ">= 0 s" if self._pts is None else \
                f"after the previous frame's {float(self._pts * self.time_base):g} s"
            raise ValueError(f"time: expected a time {expected} (in units of {self.time_base} s), "
                             f"got {float(time):g} s")
        frame = to_host(frame)
        if frame.ndim == 2 or frame.shape[2] == 1:
            frame = np.repeat(frame.reshape(frame.shape[:2])[..., None], 3, axis=2)
        given = frame.shape[:2]
        if self._turns:  # the container stores no display rotation: the frames are turned
            frame = np.ascontiguousarray(np.rot90(frame, self._turns))
        if self._stream is None:
            self._open(frame.shape[:2], frame.dtype)
            self._size = given  # the frames' size as given, which later frames must have
        try:
            self._encode(frame, pts)
        except BaseException as exc:
            self._abort(type(exc), exc, exc.__traceback__)
            raise
        self._pts, self._time = pts, time
        self.frame_count += 1
        return True

    def _encode(self, rgb, pts):
        import av

        if self.frame_format is not None and self.frame_format.startswith("yuv"):
            # straight into the stream's planes where it is planar YUV of the frames' range
            # (no swscale filter: planes decode() gave come back exactly; full-range yuvj planes
            # also into a plain yuv format tagged full range), else through swscale (which
            # also converts between full-range yuvj and limited-range yuv)
            pix_fmt = self._stream.codec_context.pix_fmt
            if self.frame_format.startswith("yuvj"):
                same_range = pix_fmt.startswith("yuvj") or self.color.get("color_range") == 2
            else:
                same_range = not pix_fmt.startswith("yuvj")
            native = _yuv_planes(pix_fmt) and same_range
            picture = _frame_from_444(rgb, pix_fmt if native else self.frame_format)
        else:
            fmt = self.frame_format or ("rgb24" if rgb.dtype == np.uint8 else "rgb48le")
            if fmt == "rgb48le" and self._eight_bit:
                # to 8 bits here, the nearest value (x / 257 rounded): swscale's rgb48 to 8-bit
                # RGB or YUV read half a level high (v * 257, an 8-bit value v, as v + 1 for
                # v >= 128 in RGB; YUV up to 2 off the 8-bit frame's)
                rgb, fmt = ((rgb.astype(np.uint32) + 128) // 257).astype(np.uint8), "rgb24"
            context = self._stream.codec_context
            if (fmt == "rgb48le" and _PLANAR_RGB_OR_GRAY.fullmatch(context.pix_fmt)
                    and rgb.shape[:2] == (context.height, context.width)
                    and (context.pix_fmt.startswith("gbr") or _is_gray(rgb))):
                # to N bits here, the nearest value: swscale's rgb48le to gbrp10le truncated
                # (x >> 6: up to a level low, a round trip off by up to 63 of 65535), and to
                # gray16le/gray10le stretched gray by 65535/65280 (32767 as 32894, 65280 and
                # up as 65535: up to 255 off; a colour frame keeps swscale's luma)
                picture = _planar_rgb_frame(rgb, context.pix_fmt)
            else:
                picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format=fmt)
            if self.frame_format is None and self._matrix is not None:
                picture = picture.reformat(format=self._stream.codec_context.pix_fmt,
                                           dst_colorspace=self._matrix[0],
                                           dst_color_range=self._matrix[1], threads=1)
        context = self._stream.codec_context
        if (picture.format.name, picture.width, picture.height) != (context.pix_fmt, context.width,
                                                                    context.height):
            # converted here, not by encode(), on one swscale thread: with PyAV's default (a
            # slice per core) 16-bit RGB to 10-bit YUV differed from run to run and with the
            # core count (the first 8 pixels of a slice's first row, by up to 190 of 1023)
            picture = picture.reformat(context.width, context.height, context.pix_fmt, threads=1)
        for name, value in self._frame_tags.items():
            # on the frame too: ProRes (prores_ks) stores the frame's tags, not the stream's,
            # in its frame headers, which decoders read (all were unspecified there)
            setattr(picture, name, value)
        picture.pts = pts
        picture.time_base = self.time_base
        try:
            self._container.mux(self._stream.encode(picture))
            for companion in self._companions:
                companion.feed(self._container, pts * self.time_base)
        except (av.FFmpegError, OSError) as exc:
            raise self._failed(exc, "writing") from None

    def _failed(self, exc, doing):
        """The error of a failed encode or mux: an ``OSError`` naming ``path`` where the file
        could not be written (``ulimit -f``, a full disk: it blamed the codec, "codec: libx264
        failed writing out.mp4 (File too large)"), else a ValueError naming the codec."""
        if isinstance(exc, OSError):
            return OSError(exc.errno, exc.strerror or _av_message(exc), str(self.path))
        return ValueError(f"codec: {self.codec} failed {doing} {self.path} ({_av_message(exc)})")

    def _open(self, size, dtype):
        import av

        height, width = size
        smallest = ENCODER_MIN_SIZE.get(self.codec)
        if smallest is not None and min(size) < smallest:
            error = ValueError(f"frame: {self.codec} encodes frames of at least {smallest}x"
                               f"{smallest} pixels, got {width}x{height}")
            self._abort(ValueError, error, None)
            raise error
        try:
            pix_fmt = output_pix_fmt(self.codec, 16 if dtype == np.uint16 else 8, self.pix_fmt)
            # MP4 keeps a colour range in its 'colr' box ('nclx'), which FFmpeg writes by itself
            # only when primaries, transfer and matrix are all set: a VP9 WebM's limited range
            # alone was lost (x264 leaves the default, limited, out of its stream). Asked for
            # only when a range is set: the box always states one. (MOV's 'nclc' has no range.)
            suffix = self.path.suffix.lower()
            colr = "color_range" in self.color and suffix == ".mp4"
            movflags = ("+write_colr" if colr else "") + (
                "+faststart" if suffix in FASTSTART_CONTAINERS else "")  # moved in close()
            muxer_options = {"movflags": movflags} if movflags else {}
            if suffix in BITEXACT_CONTAINERS:
                muxer_options["fflags"] = "+bitexact"
            if suffix in UNSHIFTED_CONTAINERS:
                # AAC's first packet starts before 0 (its priming); FFmpeg's default then
                # shifted every packet after the first video frame (frames read back at 0,
                # 0.16, 0.18, ... s for 0, 0.02, 0.04, ...). AVI stores no times: nothing to
                # shift. Matroska shifted every stream when a copied priming packet came first
                # (the first frame read back at 0.021 s for AAC at 48 kHz, 0.128 s at 8 kHz)
                # and none when a video packet did: it stores the priming before 0 as it is
                muxer_options["avoid_negative_ts"] = "disabled"
            container = av.open(str(self._tmp), "w", options=muxer_options or None)
        except BaseException as exc:
            self._abort(type(exc), exc, exc.__traceback__)
            raise
        try:
            stream = container.add_stream(self.codec, rate=self.fps)
            # the default track (MP4 marks its first so; Matroska stored no default flag)
            stream.disposition = av.stream.Disposition.default
            stream.width, stream.height = width, height
            stream.pix_fmt = pix_fmt
            stream.codec_context.time_base = self.time_base
            stream.time_base = self.time_base
            options = {"crf": str(self.crf)} if self.crf is not None and self.codec in CRF_CODECS else {}
            if "crf" in options and self.codec == "libvpx":
                # VP8 keeps its quality level only under a bitrate ceiling, else FFmpeg's 256 kb/s
                # default binds (20 frames of the Tears of Steel clip: 29.7 dB at crf 18 as at no
                # crf; 39.3 dB under the ceiling). One no stream reaches: the crf decides alone
                options["b"] = "1000M"
            if self.codec in QSCALE_CODECS:
                # a fixed quantiser, FFmpeg's -q:v 2, instead of the 200 kb/s default bitrate
                # (a 320x180 clip's frames came back at 34.8 dB against 42.1 dB with it)
                options.update(flags="+qscale", global_quality=str(2 * _FF_QP2LAMBDA))
            if self.codec in ("mpeg1video", "mpeg2video"):
                # FFmpeg's MPEG-1/2 encoder writes no B-frames yet delays its output by one frame
                # unless told it is low-delay: each packet's DTS a frame before its time, so
                # AVI (frame numbers by DTS) and MPEG-TS (shifted to DTS 0) read every frame back
                # a frame late, WMV the second at 2/fps. Low delay: DTS = pts, same pictures
                # (the same packets, to the byte). MPEG-1 has no low-delay flag to write, so
                # FFmpeg asks for strict 'unofficial' before it encodes so
                options["flags"] = options.get("flags", "") + "+low_delay"
                if self.codec == "mpeg1video":
                    options["strict"] = "unofficial"
            elif self.codec == "libx264":
                # x264's macroblock-tree rate control (on by default) made the same frames give
                # different files from run to run (decoded up to 35 levels apart) with PyAV
                # 18.1's x264 on AVX-512 CPUs; without it (or with asm limited to AVX2) every
                # run was identical. Reproducible output is worth its few % of bitrate.
                options["x264-params"] = "mbtree=0"
            elif self.codec == "libx265":  # x265 prints its settings and summary otherwise
                options["x265-params"] = "log-level=error"
                if width < X265_CUTREE_MIN_WIDTH:
                    options["x265-params"] += ":cutree=0"
                if suffix in FASTSTART_CONTAINERS:
                    # FFmpeg tags HEVC 'hev1' (parameter sets in the stream), which Apple's
                    # players and QuickTime refuse; 'hvc1' (FFmpeg's -tag:v hvc1, HandBrake's
                    # choice) plays everywhere
                    stream.codec_tag = "hvc1"
            stream.options = options
            if self.rotation:
                stream.set_display_rotation(self.rotation)
            if self.sample_aspect_ratio not in (None, 1):  # of the frames as stored
                stream.codec_context.sample_aspect_ratio = self.sample_aspect_ratio ** (
                    -1 if self._turns % 2 else 1)
            if self.language:
                stream.metadata["language"] = self.language
            stream.metadata.update(self.stream_metadata)
            container.metadata.update(self.metadata)
            unit = Fraction(1, 1_000_000_000)  # nanoseconds, Matroska's
            container.set_chapters([{"id": k + 1, "start": round(start / unit),
                                     "end": round(end / unit), "time_base": unit,
                                     "metadata": dict(tags)}
                                    for k, (start, end, tags) in enumerate(self.chapters)])
            rgb = av.VideoFormat(pix_fmt).is_rgb
            # an RGB output (FFV1's for full-range input) has no YUV matrix or range: the
            # input's would mislabel it
            self._frame_tags = {name: value for name, value in self.color.items()
                                if not (rgb and name in ("colorspace", "color_range"))}
            for name, value in self._frame_tags.items():
                setattr(stream.codec_context, name, value)
            self._matrix = _rgb_to_yuv_matrix(self.color, stream.codec_context.pix_fmt,
                                               self.codec)
            for companion in self._companions:
                companion.open(container)
            with _quiet_svt(self.codec):
                stream.codec_context.open()
            container.start_encoding()
        except (av.FFmpegError, ValueError) as exc:
            container.close()
            if str(exc).startswith("audio: "):  # a companion's encoder: not the video's codec
                self._abort(ValueError, exc, None)
                raise
            # FFmpeg's bare -1 reads as EPERM: MXF's muxer refused most codecs so, which was
            # "PermissionError: [Errno 1] Operation not permitted: 'out.mxf'", naming the file
            refused = getattr(exc, "errno", None) == errno.EPERM
            if isinstance(exc, OSError) and not refused:  # the header could not be written
                error = self._failed(exc, "opening")  # (a full disk)
                self._abort(OSError, error, None)
                raise error from None
            why = ("FFmpeg's error -1, 'Operation not permitted': refused, not a file permission"
                   if refused else _av_message(exc))
            error = ValueError(
                f"codec: {self.codec} cannot write {width}x{height} {pix_fmt} video to "
                f"{self.path.suffix!r} files ({why})"
                + ("; 4:2:0 encoders need an even width and height" if (width % 2 or height % 2)
                   and "420" in pix_fmt else "")
            )
            self._abort(ValueError, error, None)
            raise error from None
        self._container, self._stream = container, stream
        self._size, self._dtype = size, dtype
        # a format of at most 8 bits a sample, which 16-bit frames are rounded to (_encode)
        self._eight_bit = max((c.bits for c in stream.codec_context.format.components),
                              default=8) <= 8

    def close(self):
        """Finish the file and rename it onto ``path``. Closing twice does nothing."""
        import av

        if self.closed:
            return
        if self._stream is None:
            error = ValueError(f"{self.path}: no frames were written, so no video file was created")
            self._abort(ValueError, error, None)
            raise error
        try:
            packets = self._stream.encode(None)
            if self.codec == "libx265" and self.frame_count < 3:
                _x265_short_dts(packets)
            self._container.mux(packets)
            for companion in self._companions:
                companion.close(self._container)
            self._container.close()
        except BaseException as exc:
            if isinstance(exc, (av.FFmpegError, OSError)):
                exc = self._failed(exc, "finishing")
            self._abort(type(exc), exc, exc.__traceback__)
            raise exc from None
        self._container = self._stream = None
        self._tmp = None
        self._stack.close()

    def _abort(self, exc_type, exc, tb):
        """Drop the temporary file; ``path`` is left as it was."""
        if self.closed:
            return
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.close()
            self._container = self._stream = None
        self._tmp = None
        self._stack.__exit__(exc_type, exc, tb)

    def __del__(self):
        # a writer that was never closed leaves no temporary file behind
        with contextlib.suppress(Exception):
            self._abort(RuntimeError, RuntimeError("VideoWriter was not closed"), None)


# --- audio beside a VideoWriter (retime) --------------------------------------------------------

def _atempo_chain(tempo):
    """atempo factors whose product is ``tempo``, each in [0.5, 2] (FFmpeg's classic range)."""
    factors = []
    while tempo < 0.5:
        factors.append(0.5)
        tempo /= 0.5
    while tempo > 2.0:
        factors.append(2.0)
        tempo /= 2.0
    factors.append(tempo)
    return factors


class _AudioTrack:
    """Audio stream ``index`` of ``src`` muxed beside a VideoWriter's video: packets copied
    (``tempo=None``) or decoded, time-stretched by ``atempo`` and encoded (AAC; Opus in WebM).

    Audio is aligned on the video: input time ``origin`` (the first video frame) is output
    time 0; earlier audio is dropped, and decoded audio starting later (or a gap in its
    timestamps) is preceded by silence (copied packets keep their times). With
    ``segment=(start, end)`` (seconds from ``origin``, ``end`` None for the end) only that
    part is stretched, the rest is re-encoded unchanged, or dropped with ``trim`` (the output
    then starts at ``start``).
    ``feed(container, time)`` writes the audio up to output time ``time``, so the file stays
    interleaved and memory flat.

    The stretched segment lasts exactly its input samples divided by the tempo (to the
    sample): ``atempo`` alone gives up to one analysis window less (about 40-60 ms at tempo
    0.5: its flush drops the last partial window), which left the audio short of the video
    and, with audio after the segment, everything after it early. So the samples that follow
    the segment are pushed through ``atempo`` too, as lookahead, and its output is cut at the
    exact length (at the end of the input it is flushed and padded with silence); the audio
    after the segment waits for that tail.
    """

    def __init__(self, src, tempo, segment=(Fraction(0), None), *, index=0, trim=False):
        self.src = Path(src)
        self.tempo = tempo
        self.trim = trim
        self.input = _av_open(src)
        self.in_stream = self.input.streams.audio[index]
        stream = self.in_stream
        self._end = None  # the input time where the stream says its audio ends (MP4's edit list)
        # (MPEG-PS states none: FFmpeg's estimate from the last PES timestamps ended MP3 and
        # AC-3 early, and the decoded audio cut there was up to 0.12 s short)
        if stream.duration is not None and stream.time_base is not None and \
                self.input.format.name != "mpeg":
            self._end = (stream.start_time or 0) * Fraction(stream.time_base) + \
                stream.duration * Fraction(stream.time_base)
        self.packets = self.input.demux(self.in_stream)
        self.origin = Fraction(0)
        self.out = self.graph = None
        self.segment = segment
        self.written = Fraction(0)  # output seconds written (stretch)
        self.flushed = False  # the stretched segment is complete (its exact length written)
        self._pushed = 0  # samples of the segment pushed into the atempo graph
        self._goal = None  # samples the stretched segment must last, known at its end
        self._stretched = 0  # samples out of the atempo graph written so far
        self._after = []  # audio after the segment, waiting for the stretched tail
        self._next = Fraction(0)  # input time after the last decoded audio frame
        # input time where the next sample routed belongs (the samples routed so far counted
        # from the first frame's time: timestamps that jitter add no silence one by one)
        self._position = None
        self._last = Fraction(0)  # output time reached (copy)
        self._untimed = None  # a copied packet without a duration, until the next one's time
        self._held = []  # the packets before the first video frame's time that are kept
        self.finished = False
        self.muxed = 0  # packets written: none when a file cut short lost its audio
        self._rejected = 0  # packets the decoder refused in a row (stretch: silence instead)
        self._warned = False  # of a refused packet, once
        self._bsf = None  # aac_adtstoasc for ADTS copied into a container that takes a config
        self._pending = []  # filtered packets not yet read (the first, read for its config)

    def set_origin(self, origin):
        self.origin = origin

    def open(self, container):
        # AVI stores no times: a codec's priming packet (before 0; AAC's 1024 samples) would
        # play at 0 and leave the audio that late (64-128 ms measured), so it is not written
        self._drop_priming = Path(container.name).suffix.lower() in FRAME_RATE_CONTAINERS
        import av

        if self.tempo is None:
            self.out = container.add_stream_from_template(self.in_stream)
            self._tag_language()
            if self._adts(container):
                # AAC as MPEG-TS carries it (ADTS headers, no AudioSpecificConfig), which the
                # AVI and ASF muxers refused ('ADTS is only supported with codec tag 0x1610'):
                # the headers out and the config in the stream, as ffmpeg's -bsf:a
                # aac_adtstoasc (the MP4, Matroska and FLV muxers insert it themselves)
                self._bsf = av.BitStreamFilterContext("aac_adtstoasc", self.in_stream)
                first = self._next_packet()
                if first is not None:
                    if first.has_sidedata("new_extradata"):
                        self.out.codec_context.extradata = bytes(
                            first.get_sidedata("new_extradata"))
                    self._pending.insert(0, first)
            return

        context = self.in_stream.codec_context
        codec = audio_encoder(container.name, context.layout.nb_channels)
        rate = context.sample_rate
        rates = av.codec.Codec(codec, "w").audio_rates
        if codec == "libopus":
            rate = 48000
        elif rates and rate not in rates:  # mp2 takes 16 kHz and more: 8 kHz is resampled
            rate = min((r for r in rates if r >= rate), default=max(rates))
        self.out = container.add_stream(codec, rate=rate)
        self.out.layout = _ordered_layout(context.layout)
        self._tag_language()
        try:  # opened here, so that a refusal names the audio, not the video's codec
            self.out.codec_context.open()
        except av.FFmpegError as exc:
            raise ValueError(f"audio: cannot encode {_audio_codec(self.in_stream)} audio "
                             f"({context.layout.name}, "
                             f"{context.sample_rate} Hz) of {self.src} as {codec} for "
                             f"{Path(container.name).suffix} files ({_av_message(exc)}); "
                             f"drop it") from None
        if self.tempo == 1:
            # re-encoded at speed 1 (a trim, translate, AAC into WebM): not through atempo,
            # whose alignment search drifts in digital silence (a click after 1 s of it came
            # 17 ms early)
            self.flushed = True
            return
        graph = av.filter.Graph()
        node = graph.add_abuffer(template=self.in_stream)
        first = node
        for factor in _atempo_chain(float(self.tempo)):
            following = graph.add("atempo", f"{factor:.9g}")
            node.link_to(following)
            node = following
        # the frames out of atempo as the decoder's, like those encoded without stretching
        # (the encoder converts them all alike: Opus takes 48 kHz only)
        following = graph.add("aformat", f"sample_fmts={context.format.name}:channel_layouts="
                              f"{context.layout.name}:sample_rates={context.sample_rate}")
        node.link_to(following)
        node = following
        sink = graph.add("abuffersink")
        node.link_to(sink)
        graph.configure()
        self.graph, self._source = graph, first

    def _tag_language(self):
        """The input track's language tag, title, handler name and its disposition flags
        (default, forced, ...), as FFmpeg copies them: Matroska stored none, so players chose
        no default track."""
        language = _language(self.in_stream)
        if language:
            self.out.metadata["language"] = language
        self.out.metadata.update(_stream_tags(self.in_stream))
        self.out.disposition = self.in_stream.disposition

    def _adts(self, container):
        """Whether copied AAC is ADTS (no config in the stream's extradata) that the output
        ``container`` (AVI, ASF) takes only with the config, which its muxer does not make."""
        return (_audio_codec(self.in_stream) == "aac"
                and not self.in_stream.codec_context.extradata
                and Path(container.name).suffix.lower() in _RIFF_CONTAINERS)

    def _next_packet(self):
        import av

        try:
            while not self._pending:
                packet = next(self.packets)
                if self._bsf is None:
                    return packet
                if packet.pts is not None and packet.size:  # an empty packet ends a filter
                    self._pending = self._bsf.filter(packet)
            return self._pending.pop(0)
        except StopIteration:
            return None
        except av.FFmpegError as exc:
            raise ValueError(f"path: cannot read the audio of {self.src} ({_av_message(exc)})") from None

    def feed(self, container, until):
        while not self.finished and self._written_time() <= until:
            packet = self._next_packet()
            if packet is None:
                self.finished = True
                break
            if packet.pts is None or packet.size == 0:
                continue
            time_base = Fraction(packet.time_base)
            shift = round(self.origin / time_base)
            if shift <= 0 or packet.pts >= shift:  # the codec's priming (before 0) is kept
                packets, self._held = [*self._held, packet], []
                if self.tempo is None:
                    self._copy(container, packets, shift)
                else:
                    for each in packets:
                        self._stretch(container, each)
            elif self.tempo is not None:
                # decoded from the packet before the one holding the first video frame's time
                # (the decoder's pre-roll), cut there to the sample (_route): skipped, that one
                # was lost and the audio came up to a packet early (8 ms at 48 kHz)
                self._held = [*self._held[-1:], packet]
            elif packet.pts + (packet.duration or 0) >= shift:
                # the packet holding the first video frame's time: kept before 0 as the
                # priming is (MP4's edit list starts the audio there), not the input's priming,
                # which, copied to 0 - shift, put the audio 1.4 s late in an .mp4 of a video
                # starting 1.4 s after its audio
                self._held = [packet]

    def _copy(self, container, packets, shift):
        ready = []
        for packet in packets:
            packet.pts -= shift
            if packet.dts is not None:
                packet.dts -= shift
            self._last = (packet.pts + (packet.duration or 0)) * Fraction(packet.time_base)
            packet.stream = self.out
            if self._untimed is not None:
                if packet.pts > self._untimed.pts:
                    self._untimed.duration = packet.pts - self._untimed.pts
                ready.append(self._untimed)
                self._untimed = None
            if packet.duration:
                ready.append(packet)
            else:
                self._untimed = packet
        self._mux(container, ready)

    def _copy_last(self, container):
        """The last copied packet, held for want of a duration (ALAC in Matroska, FLAC in AVI:
        none stored), with its decoded samples': without one, MP4's and MOV's edit list ended
        where it starts and it was not played (up to 85 ms of audio lost)."""
        import av

        packet, self._untimed = self._untimed, None
        if packet is None:
            return
        context = self.in_stream.codec_context  # None without a decoder: left as it is
        if context is not None and context.sample_rate:
            with contextlib.suppress(av.FFmpegError):
                samples = sum(frame.samples for frame in context.decode(packet))
                packet.duration = round(Fraction(samples, context.sample_rate) /
                                        Fraction(packet.time_base))
        self._mux(container, [packet])

    def _written_time(self):
        return self._last if self.tempo is None else self.written

    def _stretch(self, container, packet):
        import av

        try:
            frames = packet.decode()
        except av.FFmpegError as exc:  # a corrupt packet: skipped, as decode() skips video's
            self._rejected += 1
            if self._rejected > MAX_REJECTED_PACKETS:  # not damaged in places: unreadable
                raise ValueError(f"path: cannot decode the audio of {self.src} "
                                 f"({_av_message(exc)})") from None
            self._skip(container, packet, exc)
            return
        self._rejected = 0
        try:
            for frame in frames:
                self._route(container, frame)
        except av.FFmpegError as exc:
            raise ValueError(f"path: cannot decode the audio of {self.src} ({_av_message(exc)})") from None

    def _skip(self, container, packet, exc):
        """A packet the decoder refused (a damaged file), warned once: its samples are
        silence, so that the audio after it stays in step with the video (left out, it came
        that much early)."""
        time_base = Fraction(packet.time_base)
        if not self._warned:
            self._warned = True
            at = "" if packet.pts is None else f" at {float(packet.pts * time_base):.3f} s"
            warn_user(f"{self.src}: an audio packet{at} could not be decoded "
                      f"({_av_message(exc)}) and was replaced by silence: the file is damaged "
                      "(later damage of this kind is not reported)", DamagedVideoWarning)
        context = self.in_stream.codec_context
        samples = round((packet.duration or 0) * time_base * context.sample_rate)
        if samples > 0 and packet.pts is not None:  # without a time it is left out
            silence = _silence(context, samples)
            silence.pts = round(packet.pts * time_base * context.sample_rate)
            silence.time_base = Fraction(1, context.sample_rate)
            self._route(container, silence)

    def _route(self, container, frame):
        """Split a decoded frame at 0, the segment's start and its end (sample-exact): drop
        what precedes the first video frame, stretch the segment, encode the rest as it is."""
        import math

        rate = frame.sample_rate
        if frame.pts is None:  # no timestamp: right after the previous frame
            frame.pts, frame.time_base = round(self._next * rate), Fraction(1, rate)
        time = frame.pts * Fraction(frame.time_base)
        at = self.origin if self._position is None else self._position
        if time - at > max(Fraction(frame.time_base), Fraction(1, rate)):
            self._fill(container, at, time)
        elif self._position is None:
            self._position = time
        self._position += Fraction(frame.samples, rate)
        begin = time - self.origin  # seconds from the origin
        self._next = time + Fraction(frame.samples, rate)
        if self._end is not None and self._next > self._end:
            # the padding of the stream's last codec frame, which decoders give: not audio
            frame = _audio_slice(frame, 0, max(math.ceil((self._end - begin - self.origin) * rate), 0))
            if not frame.samples:
                return
        start, end = self.segment
        cuts = [0]
        for edge in (Fraction(0), start, end):
            index = frame.samples if edge is None else math.ceil((edge - begin) * rate)
            cuts.append(min(max(index, cuts[-1]), frame.samples))
        cuts.append(frame.samples)
        for part, (a, b) in enumerate(zip(cuts, cuts[1:])):
            if b <= a or part == 0:
                continue
            piece = _audio_slice(frame, a, b) if (a, b) != (0, frame.samples) else frame
            if part == 2 and self.graph is not None:
                self._pushed += piece.samples
                self.graph.push(piece)
                self._pull(container)
                continue
            if part == 3 and not self.flushed:  # lookahead for the segment's tail
                if self._goal is None:
                    self._goal = round(self._pushed / self.tempo)
                if not self.trim:
                    self._after.append(piece)
                self.graph.push(piece)
                self._pull(container)
                continue
            if part == 2 or not self.trim:  # trimmed: only the segment is kept
                self._encode(container, piece)
        if self.trim and end is not None and begin >= end and self.flushed:
            self.finished = True  # past the trimmed range: nothing more to read

    def _fill(self, container, start, end):
        """Silence from input time ``start`` to ``end``, a gap in the audio's timestamps (audio
        starting after the first video frame, a stretch lost from a recording), in pieces of
        at most a second: the samples are encoded one after the other, so without it the
        audio after a gap played that much early (a whole second where the audio started a
        second after the video, though copied audio keeps its place)."""
        context = self.in_stream.codec_context
        rate = context.sample_rate
        at, stop = round(start * rate), round(end * rate)
        while at < stop:
            silence = _silence(context, min(stop - at, rate))
            silence.pts, silence.time_base = at, Fraction(1, rate)
            at += silence.samples
            self._route(container, silence)

    def _pull(self, container):
        """Encode what the atempo graph gives, up to the segment's exact length once known;
        when it is reached, the audio after the segment follows."""
        import av

        while not self.flushed:
            try:
                frame = self.graph.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                return
            if self._goal is not None and self._stretched + frame.samples >= self._goal:
                if frame.pts is None or frame.time_base is None:
                    frame.pts, frame.time_base = 0, Fraction(1, frame.sample_rate)
                frame = _audio_slice(frame, 0, self._goal - self._stretched)
                self.flushed = True
            self._stretched += frame.samples
            if frame.samples:
                self._encode(container, frame)
        for piece in self._after:
            self._encode(container, piece)
        self._after = []

    def _finish_stretch(self, container):
        """At the end of the input: drain the atempo graph, cut or pad with silence to the
        segment's exact length, then the audio after it."""
        if self._goal is None:
            self._goal = round(self._pushed / self.tempo)
        self.graph.push(None)
        self._pull(container)
        if not self.flushed:
            missing = self._goal - self._stretched
            if missing > 0:
                self._stretched += missing
                self._encode(container, _silence(self.in_stream.codec_context, missing))
            self.flushed = True
            self._pull(container)  # the audio after the segment

    def _encode(self, container, frame):
        rate = self.out.codec_context.sample_rate
        frame.pts = round(self.written * rate)
        frame.time_base = Fraction(1, rate)
        self.written += Fraction(frame.samples, frame.sample_rate)
        self._mux(container, self.out.encode(frame))

    def _mux(self, container, packets):
        packets = [p for p in packets if not (self._drop_priming and p.pts is not None and p.pts < 0)]
        self.muxed += len(packets)
        try:
            container.mux(packets)
        except OSError as exc:  # the file, not the audio: a plain OSError the writer names
            raise OSError(exc.errno, exc.strerror) from None

    def close(self, container):
        self.feed(container, float("inf"))
        if self.tempo is None:
            self._copy_last(container)
        else:
            if not self.flushed:
                self._finish_stretch(container)
            self._mux(container, self.out.encode(None))
        self.input.close()


# FFmpeg's default layout for a channel count (av_channel_layout_default)
_DEFAULT_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "4.0", 5: "5.0", 6: "5.1", 7: "6.1",
                    8: "7.1"}


def _ordered_layout(layout):
    """``layout``, or FFmpeg's default for its channel count where it has no channel order
    ("2 channels": PCM in AVI, Matroska or ASF, as WAVE stores it), which the AAC and MP2
    encoders refused (EINVAL: that audio could not be stretched or re-encoded at all), as
    ffmpeg guesses it ("Guessed Channel Layout: stereo")."""
    import av

    if any(channel.name == "NONE" for channel in layout.channels):
        return av.AudioLayout(_DEFAULT_LAYOUTS.get(layout.nb_channels, layout.name))
    return layout


def _silence(context, samples):
    """``samples`` zero samples (silence in the float and signed formats decoders give) in the
    sample format, layout and rate of the decoder ``context``."""
    import av

    frame = av.AudioFrame(format=context.format.name, layout=context.layout.name, samples=samples)
    for plane in frame.planes:
        plane.update(bytes(plane.buffer_size))
    frame.sample_rate = context.sample_rate
    return frame


def _audio_slice(frame, a, b):
    """Samples ``a:b`` of an audio frame as a new frame (same format, layout, rate, and the
    time of sample ``a``)."""
    import av

    array = frame.to_ndarray()
    width = 1 if frame.format.is_planar else len(frame.layout.channels)  # packed: interleaved
    piece = av.AudioFrame.from_ndarray(np.ascontiguousarray(array[:, a * width:b * width]),
                                       format=frame.format.name, layout=frame.layout.name)
    piece.sample_rate = frame.sample_rate
    piece.time_base = Fraction(1, frame.sample_rate)
    piece.pts = round(frame.pts * Fraction(frame.time_base) * frame.sample_rate) + a
    return piece


def audio_written(tracks, done):
    """What the summary of ``retime`` and ``translate`` says of the audio: ``(done, number of
    tracks written)``, or ``("none", 0)`` when no track muxed a packet (a file cut short can
    declare audio whose packets are gone)."""
    written = sum(1 for track in tracks if track.muxed)
    return (done, written) if written or not tracks else ("none", 0)


def audio_track(src, mode, speed, segment=None, *, index=0, trim=False):
    """The audio companion of ``retime`` for audio stream ``index``: packets copied
    (``mode="copy"``), or stretched by ``speed`` (``"stretch"``; only within ``segment``,
    seconds from the first video frame; only the segment kept with ``trim``)."""
    return _AudioTrack(src, None if mode == "copy" else speed, segment or (Fraction(0), None),
                       index=index, trim=trim)
