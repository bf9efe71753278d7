"""Retiming videos (``flowkit.retime``): frame-rate conversion and slow motion of a video file
by flow-based interpolation, streamed from decoder to encoder with PyAV, audio copied,
time-stretched or dropped, scene cuts detected.

The output timeline is exact (Fractions): output frame k is at ``k / fps`` seconds and shows
the input at the source time ``map(k / fps)`` (speed changes, a segment), measured from the
input's first frame by its real timestamps, so variable-frame-rate input works.
"""

import bisect
import dataclasses
import math
import numbers
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Context, Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np

from . import _validate
from ._atomic import check_folder
from ._progress import check_progress
from .video import DEFAULT_CODECS, DEFAULT_CRF, MAX_RATIONAL

# retime's default encoder by extension (the command line's translate takes it too): VideoWriter's
# but libx264 for .mkv, not lossless FFV1 (see retime's ``codec``)
REENCODE_CODECS = {**DEFAULT_CODECS, ".mkv": "libx264"}

AUDIO_MODES = ("copy", "stretch", "drop")
# minterpolate's scd_threshold default: a cut where the mean absolute frame difference, in
# percent of full scale, and its change from the previous pair both exceed it
DEFAULT_SCENE_THRESHOLD = 10.0
# a pair of input frames further apart than this many periods of the input's grid
# (``1 / VideoInfo.base_rate``) is a gap in its timestamps (dropped frames, a paused capture, a
# screen recording's unchanged picture): not interpolated across, the frame before it is held
# (FFmpeg's fps filter). Above the intervals of the shared clips: at most 16 periods in the
# variable-rate torchcodec__var_fps_video.mp4 (its others 1 or 2), 3 in the dropped-frames
# androidx__sample.avi, 1 in the constant-rate ones; a 1 fps timelapse is 1 period apart
GAP_PERIODS = 20
# output frame rates in (0, MAX_FPS] (as the command line's --fps everywhere) and speeds in
# [1 / MAX_SPEED, MAX_SPEED]: beyond them a retime writes thousands of frames per input frame
MAX_FPS = 1000
MAX_SPEED = 1000
_FPS_BOUNDS = (0, MAX_FPS, f"a frame rate in (0, {MAX_FPS}] fps")
_SPEED_BOUNDS = (Fraction(1, MAX_SPEED), MAX_SPEED, f"a number in [1/{MAX_SPEED}, {MAX_SPEED}]")


@dataclasses.dataclass
class RetimeReport:
    """What :func:`retime` wrote.

    Attributes
    ----------
    path : Path
        The output file.
    frames : int
        Output frames written.
    interpolated : int
        Of these, frames generated between two input frames (the others are input frames,
        repeated or dropped as the timeline needs; between two identical input frames, a
        still, and across a scene cut or a gap the input frame is repeated and not counted).
    repeated : int
        Of the others, frames that repeat the input frame written just before them (as
        FFmpeg's ``dup=`` count): stills, scene cuts, gaps, the last frame held for its period, and
        the frames of a faster output rate outside ``range``.
    dropped : int
        Input frames, between the first and the last that the output shows or interpolates
        from, that it neither shows nor interpolates from (as FFmpeg's ``drop=`` count: a
        faster playback speed or a lower rate skips them).
    fps : Fraction
        Output frame rate; frame k is at exactly ``k / fps`` seconds.
    duration : Fraction
        Output duration in seconds (``frames / fps``).
    size : (int, int)
        Width and height as encoded (odd sizes padded for 4:2:0 encoders), before the display
        rotation, which is copied from the input.
    cuts : list of Fraction
        Input times (seconds from the first frame) of the frames that start a new shot, where
        the cut kept frames from being interpolated (cuts outside the retimed part change
        nothing and are not listed).
    gaps : list of (Fraction, Fraction)
        Input times (seconds from the first frame) of the two frames around each gap in the
        timestamps (more than 20 periods of the input's grid apart, ``GAP_PERIODS``) where the
        frame before the gap was held instead of interpolated (as ``cuts``, only gaps that
        held output frames of the retimed part are listed).
    audio : str
        What happened to the audio: ``"copied"``, ``"stretched"``, ``"re-encoded"`` (trimmed
        at speed 1), ``"dropped"``, or ``"none"`` (the input has no audio stream).
    audio_tracks : int
        Audio streams written (every audio stream of the input, in its order; 0 when dropped).
    start_frame : int
        Index on the whole output timeline of the first frame written (0 unless ``part``).
    not_written : list of str
        The types of the input's other streams, which are not written (``"video"`` for a
        second video stream, ``"attached picture"`` for cover art, ``"subtitle"``, ``"data"``,
        ...), one entry per stream.
    padded : (int, int) or None
        Width and height of the frames before padding when an odd size was padded to even
        (last row or column repeated) because the encoder needs it (libx264, libx265:
        ``size`` is then the padded size); None when nothing was padded.
    """

    path: Path
    frames: int
    interpolated: int
    fps: Fraction
    duration: Fraction
    size: tuple
    cuts: list
    audio: str
    audio_tracks: int = 0
    start_frame: int = 0
    not_written: list = dataclasses.field(default_factory=list)
    padded: tuple = None
    repeated: int = 0
    dropped: int = 0
    gaps: list = dataclasses.field(default_factory=list)


# the largest denominator of a rate or ratio taken as exact: 1001 x 1000 (an NTSC rate such as
# 24000/1001 per millisecond); floats are read as the nearest such fraction, and messages
# show such values exactly
_MAX_DENOMINATOR = 1_001_000


def _rational(name, value, *, allow_zero=False, bounds=None):
    """A positive number as an exact Fraction: ints, Fractions, floats (nearest fraction with
    denominator <= ``_MAX_DENOMINATOR``, or the float's exact value if that is 0) and strings such as
    ``"24000/1001"`` or ``"59.94"``. ``bounds``: ``(low, high, expected)``, the value must lie
    in [low, high] (checked on the value as given), else a ValueError saying ``expected``."""
    given = value
    if isinstance(value, str):
        try:
            value = Fraction(value.strip())
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"{name}: expected a number or a ratio such as 24000/1001, got "
                             f"{value!r}") from None
    elif isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {_validate.describe(value)}")
    elif not isinstance(value, numbers.Rational) and not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value}")
    else:
        if not isinstance(value, (numbers.Rational, float)):  # NumPy's float32 and float16,
            value = given = float(value)  # which Fraction refuses, are read as floats
        value = Fraction(value)
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name}: expected a number {'>= 0' if allow_zero else '> 0'}, got "
                         f"{_shown(value)}")
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        raise ValueError(f"{name}: expected {bounds[2]}, got {_shown(value)}")
    if isinstance(given, float):
        value = value.limit_denominator(_MAX_DENOMINATOR) or value
    return value


def _shown(value):
    """A number for a message, exactly: ``24000/1001`` and whole numbers as such; a float's
    value as ``%g`` (``1e-09``) or, where that rounds it, as its shortest repr
    (``1000.0004``); other fractions in as few significant digits as show them exactly (a
    float would round ``1000.00000000000001`` to an accepted 1000, or overflow at ``1e+400``),
    at most 10, else as a ratio where its terms are small (``1/3``, not 30 digits of 0.3),
    else in at most 30 digits."""
    value = Fraction(value)
    if value.denominator in (1001, 1) and abs(value) < 10 ** 6:
        return str(value)
    try:
        near = float(value)
    except OverflowError:
        near = None
    if near is not None and Fraction(near) == value:
        short = f"{near:g}"
        return short if float(short) == near else repr(near)
    context = Context(prec=40)
    exact = context.divide(Decimal(value.numerator), Decimal(value.denominator)).normalize(context)
    for digits in (6, 10):
        text = format(exact, f".{digits}g")
        if Fraction(text) == value:
            return text
    if value.denominator <= _MAX_DENOMINATOR:
        return str(value)  # a ratio of small terms (1/3), not 30 digits of 0.3
    for digits in (20, 30):
        text = format(exact, f".{digits}g")
        if Fraction(text) == value:
            break
    return text


def _seconds_text(value, rounding=round, *, position=False):
    """A duration derived from the input for a message (not a value given, :func:`_shown`):
    to the millisecond (``30.533``, ``0.5``), rounded by ``rounding`` (``math.ceil`` for a lower
    bound, ``math.floor`` for an upper one, so that the bound shown is accepted); in 4
    significant digits below 1 ms or from 10**7 s on (``3.333e+7``; ``--factor 1e-9`` printed
    30 digits), rounded the same way (a lower bound of 1/3000 s showed as 0.0003333, refused). ``position``: a time in the input (a start or an end to move a segment to),
    always to the millisecond, as its frames' times are shown (a latest start of 2/3 ms was
    shown as 0.0006667 s, a bound rounded past the start accepted)."""
    value = Fraction(value)
    if value and not position and not Fraction(1, 1000) <= abs(value) < 10 ** 7:
        mode = {math.ceil: ROUND_CEILING, math.floor: ROUND_FLOOR}.get(rounding, ROUND_HALF_EVEN)
        near = Context(prec=4, rounding=mode).divide(Decimal(value.numerator),
                                                     Decimal(value.denominator))
        return format(near.normalize(), "g")  # Decimal: no overflow at 1e+400
    return _shown(Fraction(rounding(value * 1000), 1000))


def _fps_text(value):
    """A frame rate derived from the input for a message: exactly where its terms are small
    (:func:`_shown`: ``30``, ``24000/1001``, ``29.97``, ``1125/56``), else in 6 significant
    digits (``--factor 1e-9``: ``3e-08``, not 30 digits)."""
    value = Fraction(value)
    return _shown(value) if value.denominator <= _MAX_DENOMINATOR else f"{float(value):.6g}"


def _check_segment(segment, name="segment"):
    """``segment`` (or retime's ``part``): None or a ``(start, end)`` pair of seconds, start
    None for 0, end None for the end of the input."""
    if segment is None:
        return None
    if not isinstance(segment, (tuple, list)) or len(segment) != 2:
        raise TypeError(f"{name}: expected None or a (start, end) pair of seconds, got "
                        f"{_validate.describe(segment)}")
    start = Fraction(0) if segment[0] is None else _rational(f"{name}[0]", segment[0], allow_zero=True)
    end = None if segment[1] is None else _rational(f"{name}[1]", segment[1])
    if end is not None and end <= start:
        raise ValueError(f"{name}: expected start < end, got {_shown(start)} to {_shown(end)} s")
    return start, end


def check_segment_start(start, length, src):
    """A segment must start before the end of the input (``length``: its
    :func:`flowkit.video.video_end`, when known): ``retime``'s and ``translate``'s check. The
    message says how long the input lasts (and "at the end" for a start exactly there, which
    is not after it)."""
    if length is not None and start >= length:
        where = "at" if start == length else "after"
        raise ValueError(f"segment: starts at {_shown(start)} s, {where} the end of {src}, which "
                         f"lasts {_seconds_text(length)} s; expected a start before it")


def segment_past_end(segment, length):
    """The end of the input (``length``: its :func:`flowkit.video.video_end`) where ``segment``
    runs past it (its end later; an open end is the end, not past it), else None: ``retime``
    and ``translate`` take the segment to the end of the input there (the command line says
    so). A float end is read as the decimal it prints as: ``--range 0.2:0.8`` of a clip lasting
    4/5 s ended "after the end" by the float's 4e-17 s."""
    if segment is None or length is None or segment[1] is None:
        return None
    end = segment[1]
    end = Fraction(str(float(end))) if isinstance(end, float) else Fraction(end)
    return length if end > length else None


# chapter times are stored in milliseconds (MP4, Matroska): one ending this little after the
# input's end (its last frame's time + one period) ends with it, as written
CHAPTER_SLACK = Fraction(1, 1000)


class Timeline:
    """Output time -> source time (seconds from the input's first frame), piecewise linear.

    Before ``start`` and after ``end`` the source plays at speed 1; between them at ``speed``
    (0.5: half speed, twice as long). ``end=None`` is the end of the input. With ``trim`` the
    output is the segment alone: output time 0 is source time ``start``. ``source_end``, the
    input's end when known, ends the chapters (:meth:`output_span`).
    """

    def __init__(self, speed=Fraction(1), start=Fraction(0), end=None, trim=False,
                 source_end=None):
        self.speed, self.start, self.end, self.trim = speed, start, end, trim
        self.source_end = source_end
        self._out_start = Fraction(0) if trim else start
        self._out_end = None if end is None else self._out_start + (end - start) / speed

    def source(self, time):
        """(source time, whether it falls in the retimed segment); source time None past the
        end of a trimmed segment."""
        if time < self._out_start:
            return time, False
        if self._out_end is None or time < self._out_end:
            return self.start + (time - self._out_start) * self.speed, True
        if self.trim:
            return None, False
        return self.end + (time - self._out_end), False

    def trimmed_from(self, first):
        """This timeline trimmed to start at source time ``first`` (a trimmed segment's start
        moved onto the input's first frame in it)."""
        return Timeline(self.speed, first, self.end, trim=True, source_end=self.source_end)

    def output_span(self, start, end):
        """A chapter's ``(start, end)`` in source time on the output's timeline: scaled by the
        speed in the segment, cut to it when trimmed and to the input's end (``source_end``);
        None when nothing of it is output."""
        if self.source_end is not None and end > self.source_end + CHAPTER_SLACK:
            end = self.source_end
        start, end = self._output_time(start), self._output_time(end)
        return (start, end) if end > start else None

    def _output_time(self, source):
        """The output time showing source time ``source`` (the inverse of :meth:`source`),
        clamped to a trimmed segment."""
        if source < self.start:
            return self._out_start if self.trim else source
        if self.end is None or source < self.end:
            return self._out_start + (source - self.start) / self.speed
        return self._out_end + (0 if self.trim else source - self.end)

    def output_duration(self, source_duration):
        """Output duration of a source of ``source_duration`` seconds."""
        start = min(self.start, source_duration)
        end = source_duration if self.end is None else min(self.end, source_duration)
        retimed = (end - start) / self.speed
        return retimed if self.trim else source_duration - (end - start) + retimed


def scene_change(frame0, frame1, previous, threshold):
    """minterpolate's scene-change test: ``(is_cut, mafd)``.

    ``mafd`` is the mean absolute difference of the two frames in percent of full scale
    (every 4th pixel of every 4th row, all channels): of the dtype's for integer frames (255,
    65535: minterpolate's measure), of the pair's own range (max - min over both) for float
    frames, which have no fixed scale, so that floats in [0, 1], in [0, 255] or of low
    contrast get the same answer (as the estimators do). A cut needs ``mafd`` and its change
    from the previous pair's ``previous`` both >= ``threshold``. Used by ``retime``,
    ``temporally_consistent``, ``interpolate_video`` and (through :func:`last_scene_cut`)
    ``predict``.
    """
    mafd = _mafd(frame0, frame1)
    return _is_cut(mafd, previous, threshold), mafd


def _mafd(frame0, frame1):
    a = frame0[::4, ::4].astype(np.float32)
    b = frame1[::4, ::4].astype(np.float32)
    if np.dtype(frame0.dtype).kind == "f":
        full = float(max(a.max(), b.max()) - min(a.min(), b.min())) or 1.0
    else:
        full = _validate.intensity_range(frame0.dtype)
    return float(np.abs(a - b).mean()) * 100.0 / full


def _is_cut(mafd, previous, threshold):
    return min(mafd, abs(mafd - previous)) >= threshold


def last_scene_cut(frames, threshold):
    """``(index, mafd)`` of the last scene cut of a short clip: ``index`` is the first frame
    after it, 0 (and ``mafd`` None) when there is none.

    :func:`scene_change`'s test on each consecutive pair, the previous pair's ``mafd`` being
    the pair before it, or for the first pair the one after it (a clip has no state from
    before): a cut is a pair that differs by ``threshold`` percent and by as much more than
    its neighbour. A clip of 2 frames has no neighbour to compare with and never has a cut.
    Used by ``predict`` on its context.
    """
    mafds = [_mafd(a, b) for a, b in zip(frames[:-1], frames[1:])]
    if len(mafds) < 2:
        return 0, None
    for k in reversed(range(len(mafds))):
        if _is_cut(mafds[k], mafds[k - 1] if k else mafds[1], threshold):
            return k + 1, mafds[k]
    return 0, None


def _output_format(codec, info, depth, *, planes=False):
    """Pixel format of the output: the input's if the encoder takes it, else (``planes``: YUV
    planes are written, as retime does) for full-range ``yuvj`` input its plain ``yuv`` name
    (the same samples, the range in the colour tags, :func:`_full_range_tag`: FFV1 has no
    ``yuvj`` formats), else the encoder's default."""
    from .video import output_pix_fmt

    names = (info.pix_fmt, info.pix_fmt.replace("yuvj", "yuv")) if planes else (info.pix_fmt,)
    for name in dict.fromkeys(names):
        try:
            return output_pix_fmt(codec, depth, name)
        except ValueError:
            pass
    return output_pix_fmt(codec, depth)


def _full_range_tag(info, pix_fmt):
    """``info`` with the colour tag ``color_range`` 2 (full) when full-range ``yuvj`` input is
    written as a plain ``yuv`` format: its samples are kept, so the tag must say their range."""
    if info.pix_fmt.startswith("yuvj") and pix_fmt.startswith("yuv") and not pix_fmt.startswith("yuvj"):
        return dataclasses.replace(info, color={**info.color, "color_range": 2})
    return info


def retime(src, dst, *, fps=None, factor=None, speed=None, duration=None, segment=None,
           trim=False, method="project", interpolation=None, model=None, flow="dis",
           flow_options=None, codec=None, crf=DEFAULT_CRF, audio=None, scene_threshold=DEFAULT_SCENE_THRESHOLD, device=None, progress=None,
           part=None, deinterlace=False, _lossless=False, _parts=None):
    """Change the frame rate and/or the playback speed of a video file by interpolation.

    Output frame k is at exactly ``k / fps`` seconds; it shows the input at the source time
    the timeline maps it to (``speed``, ``segment``), measured from the input's first frame by
    its real timestamps (variable frame rate works). Where that time falls between two input
    frames, the frame is interpolated at the fractional ``t`` (:func:`flowkit.interpolate`,
    both flows computed once per input pair whatever the number of times in it); where it
    falls on an input frame, that frame is used; input frames between two output times are
    dropped. Two input frames more than 20 periods of the input's grid apart
    (``1 / VideoInfo.base_rate``; 0.67 s at 30 fps) are a gap in its timestamps (frames dropped
    by the recorder, a paused capture, a variable-rate screen recording whose picture did not
    change): as across a scene cut nothing is interpolated there, and the frame before the gap
    is held until the frame after it (as FFmpeg's ``fps`` filter; a 2 s gap at 30 fps: 60
    repeated frames, not 60 frames of made-up motion; ``RetimeReport.gaps``). The limit is
    above the irregular intervals of variable-rate clips (16 periods at most in the shared
    one), and relative to the grid, so that a 1 fps timelapse is interpolated throughout; an
    input that states no rate has no gaps. The video is streamed: two input frames, their
    flows and at most four interpolated frames are held at a time.

    Parameters
    ----------
    src : str or Path
        Input video file (anything FFmpeg decodes: H.264, HEVC, VP9, AV1, 8 to 16 bits,
        variable frame rate, with a display rotation).
    dst : str or Path
        Output video file; the extension picks the container (mp4, mov, mkv, webm, ...). Written
        atomically: an error or Ctrl-C leaves no partial file, and an existing ``dst`` is
        replaced only on success. ``src`` is never written.
    fps : number, Fraction or str, optional
        Output frame rate in (0, 1000], e.g. ``60``, ``Fraction(24000, 1001)`` or
        ``"24000/1001"`` (exact). Default: the input's rate times ``factor`` (1): the rate
        whose grid its timestamps lie on (``VideoInfo.base_rate``: 30 for a 30 fps phone clip
        with dropped frames, whose average is lower), so every input frame on that grid is kept
        (a frame stamped between two grid points, as the shared traffic clip's frame 160
        halfway between 159 and 161, falls between output frames: not shown). The
        output must hold at least one frame: one frame period ``1 / fps`` may not exceed the
        output's duration (when the input states its duration).
    factor : number, Fraction or str, optional
        Output rate as a multiple of the input's (``2``: twice the frames per second), the
        product in (0, 1000] fps as ``fps``; exact as ``fps`` (``Fraction(3, 2)`` or ``"3/2"``,
        which ``flowkit batch -O factor=3/2`` passes). Give ``fps`` or ``factor``, not both.
    speed : number, optional
        Playback speed of the retimed part, in [1/1000, 1000]: ``0.25`` plays four times
        slower (slow motion, four times as many frames at the same rate), ``2`` twice as fast.
        Default 1.
    duration : number, optional
        Seconds the retimed part should last instead of ``speed`` (``speed`` = its input
        duration / ``duration``, in [1/1000, 1000] as ``speed``). Give one of ``speed`` and
        ``duration``.
    segment : (start, end), optional
        Retime only the input seconds ``start`` to ``end`` (from the first frame; ``None`` for
        an open end). Outside it the input passes through unchanged at speed 1 (at the output
        rate: its frames are repeated or dropped, never interpolated). ``start`` must lie before
        the end of the input (else a ValueError says how long the input lasts); an ``end``
        after the end of the input is taken as its end.
    trim : bool
        Write the segment alone (as FFmpeg's ``-ss START -to END``): the output starts on the
        first input frame at or after ``start`` (copied, not interpolated) and ends at ``end``.
        It must hold at least one output frame (else a ``segment`` error says the latest
        ``start`` that does, and for a segment inside the input the earliest ``end``). Needs
        ``segment``. Default False.
    method : {"project", "splat", "backward", "blend", "learned"}
        Interpolation method of :func:`flowkit.interpolate` (``"learned"``: the shipped
        ``interp-refine`` network, needs ``flowkit-cv[torch]``).
    interpolation : {None, "cubic", "linear"}
        How ``"project"`` (and so ``"learned"``) and ``"backward"`` sample the frames
        (:func:`flowkit.interpolate`'s ``interpolation``; None: ``"cubic"``, bicubic detail
        where the samples agree).
        ``"linear"`` is faster (docs/interpolation.md "Bicubic sampling": +0.63 dB in the mean
        of 23 triplets cut from ../shared/data/video's clips, for about 1.2x the time per
        output frame). Must be None for the other methods.
    model : None, str, Path or torch.nn.Module
        Only with ``method="learned"``: None for the shipped ``interp-refine`` weights, a
        ``.safetensors`` file of your own (``flowkit train interp-refine``; loaded once, as
        ``flowkit.models.get_model("interp-refine", weights=path)`` loads it, before the first
        frame is decoded), or a module from ``flowkit.models.get_model``. As
        :func:`flowkit.interpolate`'s ``model``.
    flow : str
        Estimator name from ``flowkit.list_estimators()`` (``"dis"`` default, as ``interpolate``).
    flow_options : dict, optional
        Options of the estimator (for ``"farneback"`` on top of interpolate's defaults).
    codec : str, optional
        Video encoder (an FFmpeg name such as ``"libx264"``, ``"libx265"``, ``"libvpx-vp9"``,
        ``"ffv1"``, or a FourCC). Default: ``VideoWriter``'s by extension (libx264 for
        ``.mp4``/``.m4v``/``.mov``, MJPEG for ``.avi``, libvpx-vp9 for ``.webm``) but libx264
        for ``.mkv`` (as FFmpeg picks) and for extensions the table lacks (``.ts``): not
        lossless FFV1 (``flowkit flow`` and ``predict`` write FFV1 there; ``flowkit.translate``
        takes this rule), since retime passes most input frames through, and FFV1 made 2 s of a
        640x360 clip 27 times larger (5.7 MB against 212 KB at crf 18). (``.avi`` was libx264
        too: H.264 in AVI, which stores no presentation times, read back with the first frame
        at 1/fps and B-frames' times out of order.)
    crf : int
        Constant rate factor for libx264 / libx265 (0-51) / libvpx-vp9 / libsvtav1 (0-63)
        (default 18, visually near lossless for x264); ignored by other encoders (0-63).
    audio : {None, "copy", "stretch", "drop"}
        ``"copy"``: the audio packets are copied unchanged (needs an unchanged duration;
        accepted with any speed for an input without audio, where there is nothing to copy).
        ``"stretch"``: decoded, time-stretched to the new duration without changing pitch
        (FFmpeg's ``atempo`` through PyAV's filter graph, chained for speeds outside
        [0.5, 2]) and encoded as AAC (Opus in WebM and Ogg; MP2 in MPEG-PS: ``.mpg``,
        ``.mpeg``, ``.vob``, ``.dvd``, AC-3 beyond stereo). ``"drop"``: no audio. None
        (default): copy when the duration is unchanged and the output's container takes the
        codec (``flowkit.video.COPYABLE_AUDIO``: AAC into ``.webm``, Opus or FLAC into ``.mov``,
        PCM into ``.mp4``, Opus into ``.avi`` it cannot), else stretch (re-encoded at speed 1;
        an explicit ``"copy"`` there is a ValueError, as audio no encoder can write there). With
        a ``segment`` only its audio is stretched (cut at the sample), the rest re-encoded at
        speed 1; with ``trim`` the rest is dropped (``"copy"`` cannot cut at the sample: the
        default re-encodes). Every audio stream of the input is written, in its order.
    scene_threshold : float or None
        Scene-cut threshold in percent of full scale (minterpolate's ``scd_threshold``,
        default 10): a pair whose mean absolute difference and its change from the previous
        pair both reach it is a cut. Output frames that fall between the two frames of a cut
        are not interpolated: the nearer input frame is repeated (the earlier one at exactly
        half way, within a unit of the input's timestamps: Matroska's milliseconds put a 15
        fps clip's half-way times up to 0.5 ms off). None: no detection.
    device : {None, "cpu", "cuda"}
        Where warping and splatting run (:func:`flowkit.interpolate`). ``"cuda"`` needs a GPU
        and the CUDA extra, checked before anything is decoded, whether or not a frame will
        be interpolated.
    progress : bool, None or callable
        A tqdm progress bar on stderr (frames, fps, ETA). None (default): shown when stderr
        is a terminal. A callable ``progress(done, total)`` instead (a host application's
        own progress): called in the thread running ``retime`` after each frame written,
        with the frames written so far and the total expected (None where the input states
        no duration); the last call has ``done == total``. An exception it raises cancels
        the run: it propagates unchanged, ``dst`` is not written (an existing file is left
        as it was) and no temporary file stays (docs/api.md, "Progress and cancellation").
    part : (start, stop), optional
        Write only the part of the output timeline made from the input pairs whose first frame
        is at ``start`` <= time < ``stop`` seconds from the input's first frame (``stop`` None:
        to the end, the last frame's tail included): the frames the whole run would write there,
        identical, ``start_frame`` in the report giving their place. Decoding starts at the
        keyframe before ``start`` (the frame before it sets the scene test's state). For
        splitting one video across processes (``flowkit.batch(chunk_frames=)``); a part
        holds no audio (the join muxes the whole run's, processed once from ``src``); a part
        outside a trimmed segment writes no file (``frames`` 0).
    deinterlace : bool
        Read an interlaced input a frame per field (:func:`flowkit.iter_frames`'s
        ``deinterlace``: FFmpeg's bwdif, as ``ffmpeg -vf bwdif=mode=send_field``): 25i is
        retimed as 50 frames a second, its default output rate 50 fps (``factor`` multiplies
        the field rate), the fields' times, its duration, audio and ``segment`` unchanged. A
        progressive input (``VideoInfo.field_order``) is read as without it. Default False:
        interlaced frames are retimed as they are, their fields woven (combed where things
        move). Tears of Steel woven into 25i (top field first, MPEG-2) and retimed to 50 fps
        read 27.2 dB (input times) and 28.0 dB (new times) against the progressive truth,
        deinterlaced 34.3 and 34.3 dB (docs/interpolation.md, "Interlaced input").

    Returns
    -------
    RetimeReport
        Frames written, how many were interpolated, the output rate and duration, the
        encoded size, the scene cuts and gaps found, and what happened to the audio.

    Raises
    ------
    FileNotFoundError
        ``src`` does not exist, the folder of ``dst`` does not exist, or the ``model`` file
        does not exist.
    ImportError
        ``method="learned"`` without torch, ``device="cuda"`` without numba-cuda (the message
        names the extra).
    RuntimeError
        ``device="cuda"`` without a CUDA GPU or driver.
    ValueError
        ``src`` cannot be opened or decoded (the error names it; no output is left); ``dst``
        is ``src``; both ``fps`` and ``factor``, or both ``speed`` and ``duration``; a
        non-positive rate, factor, speed or duration; an output rate (``fps``, or ``factor``
        times the input's rate) above 1000 fps, or so low that one frame would last longer
        than the output; a speed (given, or from ``duration``) outside [1/1000, 1000] (all
        before any frame is decoded, each naming its parameter); a bad ``segment``; ``trim``
        without a segment; an unknown codec, method, estimator or option; a ``model`` without
        ``method="learned"``, or a weights file that does not fit ``interp-refine``;
        ``audio="copy"`` with a changed duration or with ``trim`` (when the input has audio:
        without, nothing is copied and it is no error); a segment outside the input.
    TypeError
        Arguments of the wrong type, each naming its parameter (``src`` or ``dst`` not a
        path: ``src: expected a path (str or os.PathLike), got None``).

    Notes
    -----
    The pixel format and bit depth of the input are kept where the encoder takes them; the
    display rotation, colour tags (matrix, range, primaries, transfer) and the language tags of
    the video and audio streams are copied; frames are processed in their coded orientation.
    YUV input is interpolated as its own Y, U, V planes at full resolution (chroma repeated to
    4:4:4 and averaged back when encoding; 16-bit planes for more than 8 bits, 10-bit in,
    10-bit out): no RGB round trip, the flows see Y, U, V as three channels, and input frames
    passed through are written from their own planes (bit for bit through a lossless encoder
    with the input's pixel format). Other input is interpolated as RGB, 16-bit for more than
    8 bits. Output frames whose source time is past the last input frame's end are not
    written: the output lasts the mapped input duration, rounded up to a whole frame. Audio
    starts at the first video frame's time.

    References: S. Niklaus and F. Liu, "Softmax Splatting for Video Frame Interpolation",
    CVPR 2020 (the interpolation); FFmpeg's ``minterpolate`` filter (the scene-change test),
    Butterflow (retiming semantics).

    Examples
    --------
    >>> flowkit.retime("in.mp4", "out.mp4", factor=2)  # doctest: +SKIP
    >>> flowkit.retime("in.mp4", "slow.mp4", speed=0.25, segment=(3, 5))  # doctest: +SKIP
    >>> flowkit.retime("in.mp4", "ntsc.mp4", fps="24000/1001")  # doctest: +SKIP
    """
    from ._backend import select_device
    from .video import open_input, _info

    _validate.check_path("src", src)
    _validate.check_path("dst", dst)
    src, dst = Path(src), Path(dst)
    options = _check_options(src, dst, fps=fps, factor=factor, speed=speed, duration=duration,
                             segment=segment, trim=trim, method=method,
                             interpolation=interpolation, model=model, flow=flow,
                             flow_options=flow_options, codec=codec, crf=crf, audio=audio,
                             scene_threshold=scene_threshold, device=device, progress=progress,
                             part=part, deinterlace=deinterlace)
    # CUDA up front, even when nothing will be interpolated (not in _check_options: flowkit.batch
    # runs that on a client that may have no GPU while its workers do); the estimator's
    # flow_options['device'] too (flowkit retime -O device=cuda), which otherwise only the
    # first flow would try
    select_device(device)
    if isinstance(flow_options, dict) and flow_options.get("device") is not None:
        select_device(flow_options["device"])
    if not src.exists():
        raise FileNotFoundError(f"src: no such video file: {src}")
    if src.is_dir():
        raise IsADirectoryError(f"src: {src} is a folder; expected a video file")
    if dst.exists() and src.resolve() == dst.resolve():
        raise ValueError(f"dst: {dst} is the input; refusing to overwrite it")
    if dst.is_dir():
        raise IsADirectoryError(f"dst: {dst} is a folder; expected a video file path")
    check_folder(dst, "dst")
    with _validate.renaming("path", "src"):  # the video reader's errors: "path: cannot open ..."
        container, stream = open_input(src)
        try:
            info = _info(container, stream)
            return _retime(container, stream, info, dst, src=src, lossless=_lossless,
                           parts=_parts, **options)
        finally:
            container.close()


# what help(flowkit.retime) and inspect.signature show: not batch's private _lossless, _parts
retime.__signature__ = _validate.public_signature(retime)


def _check_options(src, dst, *, fps, factor, speed, duration, segment, trim, method,
                   interpolation, model, flow, flow_options, codec, crf, audio, scene_threshold,
                   device, progress, part, deinterlace=False):
    """retime's options checked (errors name them) and normalised, before any decoding (and
    by ``flowkit.batch`` on the client): the keywords of :func:`_retime` (``out_fps`` for
    ``fps``). ``dst`` only picks the default codec by its extension."""
    from ._backend import check_device
    from ._interpolate import METHODS, _estimator_options, _method_model, check_interpolation
    from ._estimators import get_estimator

    src, dst = Path(src), Path(dst)
    if fps is not None and factor is not None:
        raise ValueError(f"fps: expected fps or factor, not both (got fps={fps!r}, factor={factor!r})")
    if speed is not None and duration is not None:
        raise ValueError(f"speed: expected speed or duration, not both (got speed={speed!r}, "
                         f"duration={duration!r})")
    out_fps = None if fps is None else _rational("fps", fps, bounds=_FPS_BOUNDS)
    factor = None if factor is None else _rational("factor", factor)
    speed = None if speed is None else _rational("speed", speed, bounds=_SPEED_BOUNDS)
    duration = None if duration is None else _rational("duration", duration)
    segment = _check_segment(segment)
    trim = _validate.check_bool("trim", trim)
    if trim and segment is None:
        raise ValueError("trim: needs a segment (start, end) to keep, got segment=None")
    method = _validate.check_choice("method", method, METHODS)
    interpolation = check_interpolation(interpolation, method)
    get_estimator(flow, _estimator_options(flow, flow_options))  # blend too: a typo is a typo
    _method_model(method, model)  # learned: torch and the weights, before the first frame
    codec = _default_codec(codec, dst)
    from .video import check_crf

    crf = check_crf(crf, codec)  # x264 and x265 take 0-51
    if audio is not None:
        audio = _validate.check_choice("audio", audio, AUDIO_MODES)
    if scene_threshold is not None:
        scene_threshold = _validate.check_float("scene_threshold", scene_threshold, low=0,
                                                high=100, low_open=True)
    check_device(device)
    progress = check_progress(progress)
    part = _check_segment(part, "part")
    deinterlace = _validate.check_bool("deinterlace", deinterlace)
    return dict(deinterlace=deinterlace,
                out_fps=out_fps, factor=factor, speed=speed, duration=duration, segment=segment,
                trim=trim, method=method, interpolation=interpolation, model=model, flow=flow,
                flow_options=flow_options, codec=codec, crf=crf, audio=audio, scene_threshold=scene_threshold, device=device,
                progress=progress, part=part)


def _retime(container, stream, info, dst, *, out_fps, factor, speed, duration, segment, trim,
            method, interpolation, model, flow, flow_options, codec, crf, audio, scene_threshold,
            device, progress, src, part, lossless, parts, deinterlace):
    from .video import (COPYABLE_AUDIO, audio_copy_refused, audio_encoder_name, audio_track,
                        audio_written, check_writer_rate, field_info, needs_even_size,
                        streams_not_written, video_end)

    # the input as read: a frame per field (the end, a field after the last, is the same)
    known = video_end(src, info)  # the input as the output plays it: last frame + one period
    if deinterlace:
        info = field_info(info)
    in_fps = info.base_rate  # variable rate: its grid, not its average
    if in_fps is None and out_fps is None:
        raise ValueError(f"fps: {src} does not state its frame rate; give fps")
    fps_given = out_fps is not None
    if out_fps is None:
        out_fps = in_fps * (factor or 1)
        if out_fps > MAX_FPS:
            name = "fps" if factor is None else "factor"
            raise ValueError(f"{name}: expected an output rate in (0, {MAX_FPS}] fps, got "
                             f"{_shown(factor or Fraction(1))} x the input's "
                             f"{_fps_text(in_fps)} fps = {_fps_text(out_fps)} fps")
    start, end = segment or (Fraction(0), None)
    check_segment_start(start, known, src)
    if duration is not None:
        length = (known if end is None else min(end, known)) if known is not None else end
        if length is None:
            raise ValueError(f"duration: {src} does not state its duration; give speed instead")
        speed = (length - start) / duration
        low, high = (length - start) / MAX_SPEED, (length - start) * MAX_SPEED
        if not low <= duration <= high:
            raise ValueError(f"duration: expected {_seconds_text(low, math.ceil)} to "
                             f"{_seconds_text(high, math.floor)} s for the "
                             f"{_seconds_text(length - start)} s retimed (a speed in [1/{MAX_SPEED}, "
                             f"{MAX_SPEED}]), got "
                             f"{_shown(duration)} s")
    speed = speed or Fraction(1)
    timeline = Timeline(speed, start, end, trim, source_end=known)
    if known is not None and timeline.output_duration(known) * out_fps < 1:
        # one frame would last longer than the whole output: refused rather than written
        latest = later = None
        if trim:
            latest, later = _trim_moves(src, info, start, end, known, speed / out_fps)
        if latest is not None or later is not None:
            # the kept part is too short, and moving its start (or its end) gives it a frame
            past = end is None or end > known  # too little of the input after start
            part = _segment_text(start, end)
            stop = known if past else end
            left = stop - start
            slowed = (f", {_seconds_text(left / speed, math.floor)} s at speed {_shown(speed)},"
                      if speed != 1 else "")
            where = (f", which lasts {_seconds_text(known)} s: the {_seconds_text(left, math.floor)}"
                     f" s from {_shown(start)} s to its end" if past else
                     f": the {_seconds_text(left, math.floor)} s from {_shown(start)} to "
                     f"{_shown(end)} s")
            moves = []  # times in the input, to the millisecond, rounded to accepted ones
            if latest is not None:
                moves.append(f"start it at or before "
                             f"{_seconds_text(latest, math.floor, position=True)} s")
            if later is not None:
                moves.append(f"end it at or after {_seconds_text(later, math.ceil, position=True)} s")
            move = " or ".join(moves)
            raise ValueError(
                f"segment: expected at least one output frame, got {part} of {src}{where}"
                f"{slowed} is less than one frame at {_fps_text(out_fps)} fps "
                f"({_seconds_text(1 / out_fps, math.ceil)} s); {move}")
        given = [name for name, value in (("fps", fps_given), ("factor", factor),
                                          ("duration", duration), ("speed", speed != 1))
                 if value] or ["segment"]
        raise ValueError(f"{given[0]}: expected at least one output frame, got "
                         f"{_shown(out_fps) if fps_given else _fps_text(out_fps)} fps over "
                         f"the {_seconds_text(timeline.output_duration(known))} s output (one "
                         f"frame would last {_seconds_text(1 / out_fps)} s)")
    if not fps_given and max(out_fps.numerator, out_fps.denominator) > MAX_RATIONAL:
        # VideoWriter's rule, which would name fps
        near = out_fps.limit_denominator(1001)
        example = f" (e.g. {near.numerator}/{near.denominator})" if near else ""
        raise ValueError(f"factor: expected an output rate that is a ratio of integers up to "
                         f"{MAX_RATIONAL} (FFmpeg's rationals), got {_shown(factor)} x the "
                         f"input's {_fps_text(in_fps)} fps = {out_fps} fps; give fps "
                         f"instead{example}")
    if not fps_given and factor is not None:
        try:  # VideoWriter's error would name fps, which was not given
            check_writer_rate(dst, out_fps, codec)
        except ValueError as exc:
            raise ValueError(f"factor: expected an output rate the encoder takes ({exc}), got "
                             f"{_shown(factor)} x the input's {_fps_text(in_fps)} fps = "
                             f"{_fps_text(out_fps)} fps; give fps instead") from None
    changed = speed != 1
    refused = audio_copy_refused(dst, container)
    if audio is None:  # copy what the output's container takes, re-encode the rest
        audio = "stretch" if changed or trim or refused else "copy"
    if info.audio:  # without audio there is nothing to copy: no error
        _check_audio(audio, speed, trim)
        if audio == "copy" and refused:
            raise ValueError(f"audio: cannot copy {refused[0]} audio into {dst.suffix} files "
                             f"(they take {', '.join(sorted(COPYABLE_AUDIO[dst.suffix.lower()]))}"
                             f"); use stretch (re-encodes it as {audio_encoder_name(dst, container)}) or "
                             f"drop")
    if part is not None:
        audio = "drop"  # checked as the whole run's; the join (``_parts``) muxes it
    depth = info.read_depth
    pix_fmt = _output_format(codec, info, depth, planes=True)
    info = _full_range_tag(info, pix_fmt)
    total = None
    if known is not None:
        total = math.ceil(timeline.output_duration(known) * out_fps)

    tracks = []
    audio_done = "none" if not info.audio else ("dropped" if audio == "drop" else None)
    try:
        if info.audio and audio != "drop":
            for index in range(len(container.streams.audio)):  # each one opened is closed below
                tracks.append(audio_track(src, audio, speed, (start, end), index=index, trim=trim))
            audio_done = ("stretched" if changed else "re-encoded") if audio == "stretch" else "copied"
        if parts is not None:
            report = _join(container, stream, info, dst, timeline, out_fps, codec, crf, pix_fmt,
                           depth, tracks, audio_done, parts)
        else:
            try:
                report = _stream(container, stream, info, dst, timeline, out_fps, codec, crf,
                                 pix_fmt, depth, total, tracks, audio_done, method, flow,
                                 flow_options, device, scene_threshold, progress, src, part,
                                 lossless, model, interpolation, deinterlace)
            except _EmptyPart:  # before or after a trimmed segment: no frame, no file
                report = RetimeReport(path=dst, frames=0, interpolated=0, fps=out_fps,
                                      duration=Fraction(0), size=None, cuts=[], audio=audio_done)
        not_written = streams_not_written(container, stream, dst)
        coded = (stream.codec_context.width, stream.codec_context.height)  # as _stream pads them
        padded = coded if (report.frames and needs_even_size(codec, pix_fmt)
                           and (coded[0] % 2 or coded[1] % 2)) else None
        audio_done, written = audio_written(tracks, report.audio)
        return dataclasses.replace(report, audio=audio_done, audio_tracks=written,
                                   not_written=not_written, padded=padded)
    finally:
        for track in tracks:
            track.input.close()  # closed already after a success; on errors here


def single_frame_error(src, command):
    """The ValueError of ``retime`` and ``translate`` for an input that holds a single frame
    (an image file opened as a video)."""
    return ValueError(f"src: {src} holds a single frame (an image?); {command} needs a video")


def _check_audio(audio, speed, trim):
    """``audio="copy"`` needs the duration unchanged and no trim."""
    if audio == "copy" and speed != 1:
        raise ValueError(f"audio: cannot copy the audio when the duration changes (speed "
                         f"{float(speed):g}); use 'stretch' or 'drop'")
    if audio == "copy" and trim:
        raise ValueError("audio: cannot copy the audio packets of a trimmed segment (they are "
                         "not cut at the sample); use 'stretch' (re-encoded) or 'drop'")


def _tolerance(info, step):
    """How close, in input seconds, an output frame's source time must come to an input frame's
    time to show that frame: one unit of the input's timestamps (Matroska rounds them to the
    millisecond), at most half the ``step`` of source time between output frames. AVI's unit is
    its frame period (its times are exact frame slots): a whole period showed the earlier input
    frame at every output time, so retime --factor 2 of an AVI repeated each frame, interpolated
    none and lost the last period (46 frames, 0.958 s, from 24 frames at 24 fps)."""
    return min(info.time_base, step / 2)


def _tags(info, timeline, out_fps):
    """``writer_tags`` of a retimed output: chapters through ``timeline``, the timecode of the
    input time its first frame shows (a trimmed segment's start, else the input's first frame)
    at ``out_fps``."""
    from .video import writer_tags

    return writer_tags(info, timeline.output_span, timeline.source(Fraction(0))[0], out_fps)


class _EmptyPart(Exception):
    """A ``part`` of a trimmed run that holds no output frame."""


def _stream(container, stream, info, dst, timeline, out_fps, codec, crf, pix_fmt, depth, total,
            tracks, audio_done, method, flow, flow_options, device, scene_threshold, progress, src,
            part=None, lossless=False, model=None, interpolation=None, deinterlace=False):
    """Decode, retime and encode: the loop of :func:`retime` (with ``part``: of the pairs whose
    first frame lies in it, decoding from the keyframe before it)."""
    from ._progress import finish, progress_bar
    from .video import (VideoWriter, decode, decode_from, last_frame_period, needs_even_size,
                        pad_even)

    # output times this close to an input frame show it
    tolerance = _tolerance(info, min(timeline.speed, 1) / out_fps)
    pad = needs_even_size(codec, pix_fmt)  # x264 / x265 need even sizes
    frame_format = _frame_format(info, pix_fmt, depth, codec)
    origin = None
    snapped = False  # a trimmed segment's start moved onto an input frame
    if part is not None:  # the first frame's time, then the keyframe before the part
        if timeline.trim:  # decoding may start after the segment's start: snap it from packets
            origin = next(decode(container, stream, depth=depth, upright=False,
                                 frame_format=frame_format, quiet=True))[0]
            timeline, snapped = _snapped(container, stream, origin, timeline, tolerance), True
        origin, frames = decode_from(container, stream, part[0], origin, depth=depth,
                                     upright=False, frame_format=frame_format,
                                     deinterlace=deinterlace)
    else:
        frames = decode(container, stream, depth=depth, upright=False, frame_format=frame_format,
                        deinterlace=deinterlace)
    luma = frame_format is not None  # the scene test on Y alone, as minterpolate's
    written = interpolated = 0
    start_frame = None
    cuts, gaps = [], []
    # pairs further apart are a gap, held (none without a stated rate)
    longest = GAP_PERIODS / info.base_rate if info.base_rate else None
    options = dict(codec=codec, crf=crf, pix_fmt=pix_fmt, frame_format=frame_format,
                   **_tags(info, timeline, out_fps))
    if lossless:  # the frames the encoder would get, for join_parts to encode
        options = _lossless_options(frame_format, depth)
    with VideoWriter(dst, out_fps, **options) as writer, \
            progress_bar(progress, total=total, unit="frame", desc="retime") as bar:
        writer._companions.extend(tracks)

        def emit(frame):
            nonlocal written
            writer.write(pad_even(frame) if pad else frame)
            written += 1
            bar.update()

        def use(index):  # input frame ``index`` shown or interpolated from (in input order)
            nonlocal first_used, last_used, used
            first_used = index if first_used is None else first_used
            used += index > last_used
            last_used = max(last_used, index)

        def emit_input(index, frame):
            nonlocal repeated, shown
            repeated += index == shown
            shown = index
            use(index)
            emit(frame)

        shown = last_used = -1
        first_used = None
        used = repeated = 0
        index = -1  # of the decoded frame
        previous = None
        k = 0  # next output frame
        mafd = 0.0
        for time, frame in frames:
            index += 1
            if previous is None:
                origin = time if origin is None else origin
                previous = (time - origin, frame, index)
                for track in tracks:
                    track.set_origin(origin)
                while (source := timeline.source(k / out_fps)[0]) is not None and \
                        source < time - origin - tolerance:
                    k += 1  # output frames of the pairs before the part
                continue
            t0, frame0, _ = previous
            t1 = time - origin
            if timeline.source(k / out_fps)[0] is None:
                break  # past a trimmed segment: no more output, no more decoding
            if timeline.trim and not snapped and t1 >= timeline.start - tolerance:
                # as ffmpeg -ss: the trimmed output starts on the first input frame at or after
                # the start, a copy of it, not a frame interpolated just before it
                first = t0 if t0 >= timeline.start - tolerance else t1
                if timeline.end is not None and first >= timeline.end - tolerance:
                    raise no_frame_error(src, timeline.start, timeline.end)  # between two frames
                timeline = timeline.trimmed_from(first)
                if not lossless:  # the writer opens with the first frame, below
                    tags = _tags(info, timeline, out_fps)
                    writer.chapters, writer.stream_metadata = (tags["chapters"],
                                                               tags["stream_metadata"])
                for track in tracks:
                    track.segment = (first, track.segment[1])
                snapped = True
            if part is not None and part[1] is not None and t0 >= part[1]:
                break
            wanted = part is None or t0 >= part[0]
            if wanted and start_frame is None:
                start_frame = k
            # output frames whose source time lies in [t0, t1)
            pending = []
            while True:
                source, inside = timeline.source(k / out_fps)
                if source is None or source >= t1 - tolerance:
                    break
                # within a timestamp unit of an input frame: that frame (MKV rounds to ms)
                alpha = Fraction(0) if source - t0 <= tolerance else (source - t0) / (t1 - t0)
                pending.append((alpha, inside))
                k += 1
            cut = False
            between = any(inside and alpha > 0 for alpha, inside in pending)
            if scene_threshold is not None:
                cut, mafd = (scene_change(frame0[..., 0], frame[..., 0], mafd, scene_threshold) if luma
                             else scene_change(frame0, frame, mafd, scene_threshold))
                if cut and between and wanted:
                    cuts.append(t1)
            gap = longest is not None and t1 - t0 > longest + tolerance  # MKV: ms
            if gap and between and wanted:
                gaps.append((t0, t1))
            if not wanted:  # before the part: only the scene test's state
                previous = (t1, frame, index)
                continue
            same = between and np.array_equal(frame0, frame)  # a still: nothing to interpolate
            times = sorted({float(alpha) for alpha, inside in pending
                            if inside and alpha > 0 and not (cut or gap or same)})
            pair = _Pair(frame0, frame, times, method=method, interpolation=interpolation,
                         model=model, flow=flow, flow_options=flow_options, device=device)
            for alpha, inside in pending:
                if alpha == 0 or not inside or same:
                    emit_input(index - 1, frame0)
                elif cut or gap:  # a cut shows the nearer frame, a gap the one before it
                    # half way within a timestamp unit is half way (MKV's ms): the earlier;
                    # a unit of half the pair or more rounds nothing (AVI's frame slots)
                    slack = tolerance if 2 * info.time_base < t1 - t0 else 0
                    later = (alpha - Fraction(1, 2)) * (t1 - t0) > slack and not gap
                    emit_input(index - 1 + later, frame if later else frame0)
                else:
                    use(index - 1)
                    use(index)
                    emit(pair.at(float(alpha)))
                    interpolated += 1
            previous = (t1, frame, index)
        if previous is None:
            raise ValueError(f"src: could not decode any frame from {src}")
        if part is None and index == 0:  # an image, or a video of one frame: nothing to retime
            raise single_frame_error(src, "retime")
        if part is None or part[1] is None or previous[0] < part[1]:
            # the last frame lasts one period of the grid (video_end's rule)
            t_last, last, last_index = previous
            end_time = t_last + last_frame_period(info, out_fps)
            if start_frame is None:
                start_frame = k
            while True:
                source = timeline.source(k / out_fps)[0]
                if source is None or source >= end_time - tolerance:
                    break
                emit_input(last_index, last)
                k += 1
        if (timeline.trim and not snapped and previous is not None
                and previous[0] < timeline.start - tolerance):
            raise no_frame_error(src, timeline.start, timeline.end)  # all frames before it
        if part is not None and not written:
            raise _EmptyPart  # the writer removes its file
        if not written:  # one frame lasting one timestamp unit: a still image
            raise single_frame_error(src, "retime")
        # the total, rounded up from the declared duration, estimated a frame more at an end
        # within tolerance or a moved trim start
        finish(bar, written)
        size = (writer._size[1], writer._size[0])
    dropped = 0 if first_used is None else last_used - first_used + 1 - used
    return RetimeReport(path=dst, frames=written, interpolated=interpolated, fps=out_fps,
                        duration=written / out_fps, size=size, cuts=cuts, gaps=gaps,
                        audio=audio_done,
                        start_frame=start_frame or 0, repeated=repeated, dropped=dropped)


class _Pair:
    """The frames interpolated between two input frames at ascending ``times``, asked for one
    by one (a time may be asked again) and made by :func:`~flowkit._interpolate.
    interpolated_frames` (flows estimated once, a few frames in memory)."""

    def __init__(self, frame0, frame1, times, **options):
        from ._interpolate import interpolated_frames

        self._frames = zip(times, interpolated_frames(frame0, frame1, times, **options))
        self._last = (None, None)

    def at(self, t):
        while self._last[0] != t:
            self._last = next(self._frames)
        return self._last[1]


def _default_codec(codec, dst):
    """The encoder: ``codec`` (an FFmpeg name or FourCC), else ``DEFAULT_CODECS``' for the
    extension (``VideoWriter``'s) but libx264 for ``.mkv`` (not lossless FFV1: see
    ``retime``'s ``codec``) and for extensions the table lacks whose container takes it
    (:func:`reencode_codec`). ``dst``'s extension is checked
    as ``VideoWriter`` checks it (:func:`~flowkit.video.writer_codec`), errors naming ``dst``."""
    from .video import writer_codec

    if codec is None:
        codec = reencode_codec(dst)
    return writer_codec(dst, codec, name="dst")


def reencode_codec(dst):
    """retime's and translate's default encoder for ``dst``'s extension: ``REENCODE_CODECS``',
    else libx264 where the extension's container takes it (``.ts``, ``.flv``, ``.mpg``) and
    reads it back on time, else None (``.gif``, ``.ogv``; ``.wmv``, ``.mxf``, whose H.264
    frames read back late: ``writer_codec`` then asks for a codec)."""
    from .video import encoder_fits, writer_codec

    suffix = Path(dst).suffix.lower()
    if suffix in REENCODE_CODECS:
        return REENCODE_CODECS[suffix]
    if not suffix or not encoder_fits("libx264", suffix):
        return None
    try:
        return writer_codec(dst, "libx264")
    except ValueError:  # refused there (H.264 in WMV reads back late)
        return None


def _lossless_options(frame_format, depth):
    """VideoWriter options that store the frames bit-exactly (FFV1): YUV planes as they are
    (full-range ones labelled limited: the same bytes, FFV1 has no yuvj444p), RGB in the RGB
    format VideoWriter picks for FFV1 at the frames' depth (gbrp, or bgr0 where FFV1 lacks
    8-bit gbrp, as PyAV 18's FFmpeg does: asking for gbrp failed every part of an RGB input)."""
    if frame_format is None:
        return dict(codec="ffv1")
    plain = frame_format.replace("yuvj", "yuv")
    return dict(codec="ffv1", pix_fmt=plain, frame_format=plain)


def _join(container, stream, info, dst, timeline, out_fps, codec, crf, pix_fmt, depth, tracks,
          audio_done, parts):
    """``retime(_parts=paths)``: encode the parts a chunked retime wrote losslessly
    (``retime(part=..., _lossless=True)``, in timeline order) into ``dst`` with the settings of a
    single run, and mux the audio processed once from ``src`` as the single run does (fed at the
    same video times): the result is the single run's. ``interpolated``, ``repeated`` and
    ``dropped`` are not known here (0)."""
    from .video import VideoWriter, concat_parts, decode

    frame_format = _frame_format(info, pix_fmt, depth, codec)
    origin = next(decode(container, stream, depth=depth, upright=False,
                         frame_format=frame_format, quiet=True))[0]
    if timeline.trim and (tracks or info.chapters or info.timecode):  # from the first frame
        timeline = _snapped(container, stream, origin, timeline, info.time_base)
    for track in tracks:
        track.set_origin(origin)
        track.segment = (timeline.start, track.segment[1])
    stored = _lossless_options(frame_format, depth).get("frame_format")
    with VideoWriter(dst, out_fps, codec=codec, crf=crf, pix_fmt=pix_fmt, frame_format=frame_format,
                     **_tags(info, timeline, out_fps)) as writer:
        writer._companions.extend(tracks)
        frames = concat_parts(writer, parts, depth=depth, frame_format=stored)
        size = (writer._size[1], writer._size[0])
    return RetimeReport(path=dst, frames=frames, interpolated=0, fps=out_fps,
                        duration=frames / out_fps, size=size, cuts=[], audio=audio_done)


def _trim_moves(src, info, start, end, known, one):
    """retime's hints for a trimmed segment ``(start, end)`` of ``src`` (``known``: its
    :func:`flowkit.video.video_end`) shorter than one output frame (``one`` seconds of input):
    ``(latest start, earliest end)`` that give it a frame, None where moving that side cannot.

    A trimmed output starts on the first input frame at or after its start (``ffmpeg -ss``)
    and a segment without one is refused (:func:`no_frame_error`), so each move keeps a frame
    inside: the latest start is the end less one frame, or the last frame before that where
    none lies from there to the end (a variable-rate clip's gap, the last frame's period); the
    earliest end is the start plus one frame, or just after the first frame at or after the
    start where that lies later (none where no frame does). The frames' times are read from
    the packets (:func:`flowkit.video.frame_times`, no decoding; only on this error's path);
    where they cannot be, the hints are those of a constant rate."""
    from .video import frame_times

    past = end is None or end > known
    stop = known if past else end
    latest = stop - one if stop >= one else None  # a start before the first frame: none
    later = start + one if not past and start + one <= known else None
    try:
        times = frame_times(src)
    except ValueError:  # packets without timestamps
        return latest, later
    tolerance = _tolerance(info, one)  # a frame this close before a start is on it, as _stream's
    if latest is not None:
        k = bisect.bisect_left(times, latest - tolerance)  # the first frame from latest on
        if k == len(times) or times[k] >= stop - tolerance:
            latest = times[bisect.bisect_right(times, latest) - 1]  # times[0] is 0 <= latest
    if later is not None:
        k = bisect.bisect_left(times, start - tolerance)  # the frame the output would start on
        later = None if k == len(times) else max(later, times[k] + 2 * tolerance)
    return latest, later


def _segment_text(start, end):
    """A segment in messages: ``2 s to the end`` (an open end) or ``2 to 3.5 s``."""
    return f"{_shown(start)} s to the end" if end is None else f"{_shown(start)} to {_shown(end)} s"


def no_frame_error(src, start, end):
    """The error of a segment of ``src`` that holds no input frame (retime's ``--trim`` starts
    on the first input frame at or after its start, as ``ffmpeg -ss``; translate processes its
    frames): retime's and translate's message."""
    return ValueError(f"segment: no frame of {src} lies in {_segment_text(start, end)}")


def _snapped(container, stream, origin, timeline, tolerance):
    """The trimmed ``timeline`` starting on the first input frame at or after its start (as
    ``ffmpeg -ss``; :func:`_stream` does it while decoding a whole run), found from the
    demuxed packets' timestamps after a seek, so a part that starts later decodes nothing more."""
    base = Fraction(stream.time_base)
    container.seek(math.ceil((origin + timeline.start) / base) - 1, stream=stream, backward=True)
    first = None
    for packet in container.demux(stream):
        if packet.pts is None:
            continue
        time = packet.pts * base - origin
        if time >= timeline.start - tolerance and (first is None or time < first):
            first = time
        if first is not None and packet.dts is not None and packet.dts * base - origin > first:
            break  # later packets show later frames (dts <= pts)
    if first is None:
        return timeline
    return timeline.trimmed_from(first)


def _frame_format(info, out_fmt, depth, codec):
    """Frames are interpolated as the decoded YUV planes at full resolution (4:4:4: chroma
    repeated, averaged back when encoding; 16-bit planes for more than 8 bits) when input and
    output are YUV: no RGB round trip, and frames passed through are written from their own
    planes (bit-exact when the output has the input's pixel format; on 720p Big Buck Bunny
    frames the 8-bit YUV path was +4.0 dB over RGB on interpolated frames; a 10-bit clip's
    RGB48 round trip moved frames passed through by 3.2-3.8 levels of 255). Else as RGB (None):
    also into full-range yuvj from limited-range input (MJPEG, .avi's encoder), which decoders
    read with JPEG's BT.601 matrix whatever the tags say, so the planes of a BT.709 input came
    out with shifted colours (red 200 -> 183, green 199 -> 227); VideoWriter's RGB conversion
    into MJPEG is BT.601. Full-range input goes into MJPEG as its planes only where its
    matrix is BT.601 or unset (a BT.709 yuvj420p clip's came out red 198 -> 183)."""
    in_fmt = info.pix_fmt
    if not (in_fmt.startswith("yuv") and out_fmt.startswith("yuv")):
        return None
    if out_fmt.startswith("yuvj") and not in_fmt.startswith("yuvj"):
        return None
    if codec == "mjpeg" and info.color.get("colorspace", 2) not in (2, 5, 6):
        return None  # 2: unspecified, read as BT.601; 5, 6: BT.470BG, SMPTE 170M (BT.601)
    if depth > 8:
        return "yuv444p16le"
    return "yuvj444p" if in_fmt.startswith("yuvj") else "yuv444p"
