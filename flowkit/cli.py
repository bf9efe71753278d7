"""Command line: ``flowkit {demo,flow,predict,retime,translate,batch,train,generate,color,probe,warmup}`` (the same as ``python -m flowkit``).

Each subcommand is one function (``cmd_*``) that takes the parsed arguments, calls flowkit's
public functions and reports on stdout what it wrote. Every error is one line on stderr,
``flowkit: error: <message>``: exit status 2 for arguments that cannot work, whoever finds
it (argparse, the command's checks, a library ValueError/TypeError about a parameter a flag
sets), with ``(see flowkit <cmd> --help)`` at the end; 1 for failures of the work (files,
decoding, the encoder, an op); 130 when interrupted, 143 on SIGTERM, 129 on SIGHUP, 141
(silently) when the reader of stdout has left;
``--debug`` shows the traceback instead. Outputs are written atomically, so a failed or
interrupted command leaves no partial file (folders of ``.flo`` or PNG files are written into
a hidden folder beside and moved in at the end); an existing output file is replaced, and the
line that reports it ends with ``(replaced)`` (``_wrote``). Documented in docs/api.md, "Command line".
"""

import argparse
import ast
import collections.abc
import contextlib
import itertools
import os
import re
import sys
import time
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np

from . import __version__
from ._atomic import (atomic_path, check_folder, raise_if_stopped, refuse_special_input,
                      request_stop, special_file, stop_requested)
from ._backend import CudaUnavailable
from ._estimators import estimator_options, get_estimator, list_estimators
from ._flow_video import write_flow_video
# output frame rates in (0, MAX_FPS], as retime's
from ._retime import MAX_FPS, REENCODE_CODECS, reencode_codec
from ._retime import _seconds_text, _shown  # numbers in messages, as retime's errors show them
from ._retime import segment_past_end  # --range's note
from ._validate import renaming  # library messages naming the flag that set the parameter
from .video import (DEFAULT_CODECS, DEFAULT_CRF, IMAGE_EXTENSIONS, MAX_RATIONAL, TIFF_EXTENSIONS,
                    VIDEO_EXTENSIONS, check_container, decode_image, grid_rate, is_folder_image,
                    pattern_hint, probe_video, stored_rotation, tiff_pages, video_end,
                    webp_frames)
from .video import _png_gray_alpha  # _read_image's gray + alpha PNG, as a folder's


def _methods():
    """The estimator names the commands take, read when the parser is built: names
    registered after ``flowkit.cli`` was imported count (a tool calling :func:`main`)."""
    return tuple(list_estimators())


# the --help descriptions' sentence on an existing output file (see _wrote)
_REPLACES = "replaces an existing file (the line printed then ends with (replaced))"


class UsageError(Exception):
    """Arguments that do not fit together; reported like argparse's own errors (exit 2)."""


class _Terminated(BaseException):
    """Raised by the SIGTERM handler, so that atomic outputs are cleaned up like on Ctrl-C
    (the handler also records the stop: see ``_stopper``)."""


class _HungUp(_Terminated):
    """Raised by the SIGHUP handler (the terminal closed, an ssh session dropped), unwinding
    as SIGTERM does."""


# the exit status and line of a run stopped by a signal, by the exception its handler raised
# (the first class it is one of)
_STOPPED = {KeyboardInterrupt: (130, "flowkit: interrupted"),
            _HungUp: (129, "flowkit: hung up"),
            _Terminated: (143, "flowkit: terminated")}


def _stopped_outcome(kind):
    """(exit status, line) of a run stopped by the exception class ``kind``."""
    return next(outcome for base, outcome in _STOPPED.items() if issubclass(kind, base))


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line: ``flowkit: error: MESSAGE (see ...)``,
    and which takes long options only as spelled in full (``--t`` is not ``--times``: a script's
    abbreviation would change meaning, or stop working, when an option is added)."""

    _arguments = ()  # the whole command line being parsed, for error() (subparsers' too)
    _parsing = False  # a subparser's own parse (of what follows its name) keeps it whole

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args=None, namespace=None):
        if _Parser._parsing:
            return super().parse_known_args(args, namespace)
        _Parser._arguments = tuple(sys.argv[1:] if args is None else args)
        _Parser._parsing = True
        try:
            return super().parse_known_args(args, namespace)
        finally:
            _Parser._parsing = False

    def error(self, message):
        if message.startswith(("the following arguments are required", "unrecognized")):
            message = self._abbreviation() or message
        self.exit(2, _usage_line(message, self.prog))

    def _abbreviation(self):
        """The message for a long option given abbreviated (``--hor 3``), or None: argparse
        said "the following arguments are required: --horizon" or "unrecognized arguments"."""
        for argument in self._arguments:
            given = argument.partition("=")[0]
            if not given.startswith("--") or given in self._option_string_actions:
                continue
            meant = sorted(o for o in self._option_string_actions if o.startswith(given))
            if meant:
                return (f"{given}: long options are not abbreviated; expected "
                        f"{' or '.join(meant)}")
        return None


def _usage_line(message, prog):
    return f"flowkit: error: {message} (see {prog} --help)\n"


# --- helpers ------------------------------------------------------------------------------------

def _progress(args, **kwargs):
    """A tqdm bar on stderr, off with --quiet or when stderr is not a terminal (the library's
    bars' rule, :func:`flowkit._progress.progress_bar`)."""
    from ._progress import progress_bar

    return progress_bar(False if args.quiet else None, **kwargs)


def _write_image(path, rgb):
    """An RGB or gray image to ``path``, atomically, in the format of its extension (OpenCV)."""
    import cv2

    bgr = rgb[..., ::-1] if rgb.ndim == 3 else rgb
    # encoded in memory and written by Python, as write_kitti_flow does: cv2.imwrite's failed
    # write (`ulimit -f`, a full disk) was "OpenCV could not write the image" without the
    # cause, after a "libpng error: Write Error" line on stderr
    # float frames go to TIFF only (_check_frames_fit): LZW, lossless; OpenCV 4's default for
    # 3-channel float TIFF is lossy (a round trip was 0.0196 off with 4.8)
    params = [cv2.IMWRITE_TIFF_COMPRESSION, 5] if rgb.dtype.kind == "f" else []
    ok, encoded = cv2.imencode(Path(path).suffix, np.ascontiguousarray(bgr), params)
    if not ok:
        raise OSError(f"{path}: OpenCV could not encode the image")
    with atomic_path(path) as tmp:
        tmp.write_bytes(encoded.tobytes())


def _write_stack(path, pictures):
    """RGB or gray images to ``path`` as the pages of one TIFF, atomically (a time-lapse stack
    as ImageJ reads it; float32 LZW-compressed, lossless, as :func:`_write_image`)."""
    import cv2

    pages = [np.ascontiguousarray(p[..., ::-1] if p.ndim == 3 else p) for p in pictures]
    params = [cv2.IMWRITE_TIFF_COMPRESSION, 5] if pages[0].dtype.kind == "f" else []
    with atomic_path(path) as tmp:
        if not cv2.imwritemulti(str(tmp), pages, params):
            raise OSError(f"{path}: OpenCV could not write the TIFF stack")


def _read_image(path, name=None, folder_hint=""):
    """Read an image file as flowkit takes frames: gray ``(H, W)`` or RGB ``(H, W, 3)``.

    The bit depth is kept (8-bit -> uint8, 16-bit -> uint16, float TIFF/EXR -> float32;
    signed integers, a CT's int16 in Hounsfield units, -> their values as float32).
    An alpha channel is dropped: RGBA gives RGB, gray + alpha gives gray. An EXIF orientation
    is applied (upright, as ``cv2.imread`` and an image folder read them). ``name`` (the
    argument, ``FRAME0``) starts the message of a missing or unreadable file, of an animated
    WebP, or of a folder or a TIFF of several pages (``folder_hint`` then ends it).
    """
    import cv2

    path = Path(path)
    named = f"{name}: " if name else ""
    if path.is_dir():
        raise IsADirectoryError(f"{named}{path} is a folder; expected an image file{folder_hint}")
    refuse_special_input(path, "an image file", f"{named}{path}")
    if not path.is_file():
        raise FileNotFoundError(f"{named}no such image file: {path}")
    pages = tiff_pages(path)
    if pages > 1:  # OpenCV's imdecode reads its first page alone
        raise ValueError(f"{named}{path} is a TIFF of {pages} pages, an image stack; expected "
                         f"one image{folder_hint}")
    frames = webp_frames(path)
    if frames > 1:  # OpenCV's imdecode reads its first frame alone
        raise ValueError(f"{named}{path} is an animated WebP of {frames} frames; expected one "
                         f"image")
    try:
        data = np.fromfile(path, np.uint8)
    except OSError as exc:  # it said 'a.png: Permission denied', naming no argument
        raise type(exc)(f"{named}cannot read {path} ({exc.strerror or exc})") from None
    # the depth and channels as stored, but not IMREAD_UNCHANGED: it alone leaves an EXIF
    # orientation unapplied (a phone's JPEG came sideways); these flags drop alpha
    image = decode_image(data, cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)
    if image is None:
        raise ValueError(f"{named}{path}: OpenCV cannot read this file as an image")
    if image.ndim == 3 and _png_gray_alpha(data):
        image = image[..., :1]  # a gray + alpha PNG, which OpenCV decodes as BGR
    if image.dtype.kind == "i":  # no [0, max] scale (a CT's int16): its values, as floats
        image = image.astype(np.float32)
    if image.dtype not in (np.uint8, np.uint16, np.float32, np.float64):
        raise TypeError(f"{named}{path}: pixel type {image.dtype} is not supported (8 or 16 bits, or float)")
    if image.ndim == 3:
        channels = image.shape[2]
        if channels in (1, 2):  # gray, gray + alpha
            image = image[..., 0]
        elif channels in (3, 4):  # BGR, BGRA -> RGB
            image = image[..., 2::-1]
        else:
            raise ValueError(f"{named}{path}: {channels} channels; expected gray, RGB, or either with alpha")
    return np.ascontiguousarray(image)


def _kind(image):
    """``8-bit RGB``, ``16-bit gray``, ``float32 RGB``: an image's depth and channels."""
    bits = {np.uint8: "8-bit", np.uint16: "16-bit"}.get(image.dtype.type, str(image.dtype))
    return f"{bits} {'gray' if image.ndim == 2 else 'RGB'}"


def _describe(image):
    return f"{image.shape[1]}x{image.shape[0]} {_kind(image)}"


def _literal(text):
    """Value of ``--option NAME=VALUE``: a Python literal, true/false/none, else the string."""
    words = {"true": True, "false": False, "none": None}
    if text.strip().lower() in words:
        return words[text.strip().lower()]
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _option(text):
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.strip().replace("-", "_"), _literal(value)


def _digits(text):
    """Whether ``text`` is ASCII digits only: ``str.isdigit`` takes '²' and '٣', which ``int``
    refuses (argparse said "invalid parse value: '²'", naming its own function)."""
    return text.isascii() and text.isdigit()


def _integer_from(low, *, odd=False, high=None):
    """Argument type: an integer >= ``low`` (``odd``: an odd one; ``high``: at most that),
    else a usage error saying so."""
    kind = "an odd integer" if odd else "an integer"
    bounds = f">= {low}" if high is None else f"in [{low}, {high}]"

    def parse(text):
        if not _digits(text) or int(text) < low or (odd and int(text) % 2 == 0) \
                or (high is not None and int(text) > high):
            raise argparse.ArgumentTypeError(f"expected {kind} {bounds}, got {text!r}")
        return int(text)

    return parse


_non_negative = _integer_from(0)  # --start, --n-iter
_positive = _integer_from(1)  # --step, --horizon, --jobs, ...
# generate --size: the largest frame side H.264 and H.265 encoders take (libx264 refuses
# more; --size 100000 failed allocating a 30 GB frame)
MAX_GENERATE_SIZE = 16384


def _context(text):
    """Argument type of predict's --context: ``auto`` or an integer >= 2."""
    if text != "auto" and not (_digits(text) and int(text) >= 2):
        raise argparse.ArgumentTypeError(f"expected auto or an integer >= 2, got {text!r}")
    return text if text == "auto" else int(text)


def _number_in(high, expected, *, closed=(False, True)):
    """Argument type: a number in (0, ``high``] (finite), else a usage error saying ``expected``;
    ``closed`` says whether 0 and ``high`` are allowed (default: not 0, ``high`` yes)."""

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        above = value >= 0 if closed[0] else value > 0
        below = value <= high if closed[1] else value < high
        if not (above and below and np.isfinite(value)):  # also false for nan
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


_positive_float = _number_in(np.inf, "a number > 0")  # --max-flow
_non_negative_float = _number_in(np.inf, "a number >= 0", closed=(True, True))  # --adversarial-weight
_speed_spread = _number_in(0.5, "a number in [0, 0.5]", closed=(True, True))  # predict --speed-spread


def _fps(text):
    """Argument type of the --fps of flow, predict, interpolate and generate: retime's
    :func:`_rate` (a number or a ratio such as 24000/1001, exact) at most MAX_FPS, else a
    usage error saying so."""
    try:
        value = _rate(text)
    except argparse.ArgumentTypeError:
        value = None
    if value is None or value > MAX_FPS:
        raise argparse.ArgumentTypeError(f"expected a frame rate in (0, {MAX_FPS:g}], got {text!r}")
    if value.denominator > MAX_RATIONAL:  # the writer's OverflowError (1e-300: a 1e300 denominator)
        raise argparse.ArgumentTypeError(f"expected a frame rate whose ratio has a denominator up "
                                         f"to {MAX_RATIONAL} (FFmpeg's rationals), got {text!r}")
    return value


def _size(text):
    width, sep, height = text.lower().partition("x")
    if not sep or not _digits(width) or not _digits(height) or int(width) < 1 or int(height) < 1:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 320x240, got {text!r}")
    return int(width), int(height)


def _same_file(path, other):
    """Whether two paths name one file: ``os.path.samefile`` if both exist, else equal resolved paths."""
    try:
        return os.path.samefile(path, other)
    except OSError:
        return Path(path).resolve() == Path(other).resolve()


# output files that existed when the command checked them, before any work: absolute paths
# (emptied at the start of every run, _outcome: main() may run again in one process)
_EXISTING = set()


def _note_existing(path):
    """Record whether the output file ``path`` exists now, before the command writes it (every
    output replaces an existing file: atomically, never asked); :func:`_wrote` then says so."""
    if os.path.isfile(path):
        _EXISTING.add(os.path.abspath(path))


def _wrote(path, details):
    """The success line of an output file on stdout: ``wrote PATH (details)``, with
    ``(replaced)`` after it when the file existed before the command (:func:`_note_existing`,
    which :func:`_check_output` calls for every output file it checks)."""
    replaced = " (replaced)" if os.path.abspath(path) in _EXISTING else ""
    print(f"wrote {path} ({details}){replaced}")


def _check_output(flag, path, kind, inputs=(), codec=None, codec_flag=True, other=None):
    """Check an output path before any work: its kind, that it is no input and its folder
    exists; record whether it exists (:func:`_note_existing`: the success line says "replaced").

    ``kind`` is ``"flo"``, ``"image"`` or ``"video"`` (a video needs an extension, which must
    have a default codec unless ``codec`` is given; ``codec_flag``: the command has a
    ``--codec`` to suggest, which it does for the extensions of ``VIDEO_EXTENSIONS``;
    ``other``: what else the command writes, added to the hint for an unknown extension).
    A wrong extension, an output that is an input or an existing folder (a file path is
    expected: ``retime in.mp4 /tmp``) is a usage error (exit 2); a missing folder is exit 1.
    """
    path = Path(path)
    _refuse_stdout(flag, path)
    for source in inputs:
        if source is not None and _same_file(path, source):
            same = "" if str(path) == str(source) else f" {source}"
            raise UsageError(f"{flag}: {path} is the input{same}; refusing to overwrite it")
    expected = {"flo": "a .flo", "image": "an image (.png)", "video": "a video"}[kind]
    if path.is_dir():
        raise UsageError(f"{flag}: {path} is a folder; expected {expected} file path")
    special = special_file(path)
    if special:  # written atomically, it would be replaced by a regular file
        raise UsageError(f"{flag}: {path} is {special}, not a regular file; expected {expected} "
                         "file path")
    if kind == "flo":
        _check_flo_name(flag, path)
    if kind == "image":
        if not _have_image_writer(path):
            what = f"extension {path.suffix!r}" if path.suffix else "no extension"
            raise UsageError(f"{flag}: {path}: cannot write an image with {what} (use .png)")
    if kind == "video" and not path.suffix:  # FFmpeg picks the container by it: --codec cannot
        raise UsageError(f"{flag}: {path}: no extension; give the output a video extension "
                         f"({', '.join(DEFAULT_CODECS)}, ...)")
    if kind == "video":
        try:
            check_container(path, flag)  # out.xyz: --codec cannot help either
        except ValueError as exc:
            raise UsageError(str(exc) + (f", or {other}" if other else "")) from None
    if kind == "video" and codec is None and path.suffix.lower() not in DEFAULT_CODECS:
        # --codec helps where FFmpeg has a container for the extension (.ogv, .ts, ...)
        codec_helps = codec_flag and path.suffix.lower() in VIDEO_EXTENSIONS
        raise UsageError(f"{flag}: {path}: no default codec for extension {path.suffix!r}; use "
                         f"one of {', '.join(DEFAULT_CODECS)}"
                         + (" or give --codec" if codec_helps else ""))
    check_folder(path, flag)
    _note_existing(path)


def _have_image_writer(path):
    """``cv2.haveImageWriter(path)``, False where it raises: OpenCV 4's does for .exr (its
    OpenEXR codec is off unless ``OPENCV_IO_ENABLE_OPENEXR`` is set), OpenCV 5's says False."""
    import cv2

    try:
        return cv2.haveImageWriter(str(path))
    except cv2.error:
        return False


def _refuse_stdout(flag, path):
    """``-``, FFmpeg's standard output, as an output path: a usage error."""
    if str(path) == "-":
        raise UsageError(f"{flag}: '-' (standard output) is not supported; give a file or "
                         "folder path (./- for a file or folder named '-')")


def _check_flo_name(flag, path):
    """A ``.flo`` path (any case) for ``flag`` (flow's ``-o``, color's FLO), as ``read_flo`` and
    ``write_flo`` require it (their check): else a usage error."""
    from .io import check_flo_name

    try:
        check_flo_name(path, flag, quote=False)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _check_video_input(source):
    """retime's, translate's and probe's INPUT: an existing video file (a folder or a TIFF of
    several pages is a usage error)."""
    if source.is_dir():
        raise UsageError(f"INPUT: {source} is a folder; expected a video file")
    if not source.exists():
        raise FileNotFoundError(f"INPUT: no such video file: {source}"
                                f"{pattern_hint(source, video_only=True)}")
    pages = tiff_pages(source)
    if pages > 1:  # FFmpeg reads its first page alone: 'holds a single frame', or probe's one
        raise UsageError(f"INPUT: {source} is a TIFF of {pages} pages, an image stack (flow and "
                         f"predict read it as a folder of images); expected a video file")


def _output_codec(codec, output):
    """``--codec``, else None where ``VideoWriter`` has a default for ``output``'s extension
    (``DEFAULT_CODECS``), else retime's (libx264 where the container takes it: ``.mpg``,
    ``.ts``, ``.flv``): flow, predict and interpolate write the extensions retime writes."""
    if codec is not None or Path(output).suffix.lower() in DEFAULT_CODECS:
        return codec
    return reencode_codec(output)


def _check_output_folder_path(flag, folder, pattern=None):
    """An output folder path (demo --out, flow --flo-dir, predict's folder, batch -o): not an
    existing file, and with ``pattern`` not a folder already holding an earlier run's files of
    it (old and new would mix); usage errors, before any work. The folder is created if
    missing, its parents are not: a missing one is exit 1, as for an output file
    (``check_folder``)."""
    _refuse_stdout(flag, folder)  # a folder named "-" was made
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{flag}: {folder} exists and is not a folder")
    if pattern and folder.is_dir() and any(folder.glob(pattern)):
        raise UsageError(f"{flag}: {folder} already holds {pattern} files (from an earlier run?); "
                         "give a new or empty folder")
    # an existing folder must take the new files itself (its parent only a new folder)
    check_folder(folder / (pattern or "*") if folder.is_dir() else folder, flag)


def _codec_defaults(table=DEFAULT_CODECS):
    """The default encoder per extension of ``table``, for the --codec help: ``VideoWriter``'s
    (``DEFAULT_CODECS``: flow, predict) ``libx264 (.mp4, .m4v, .mov), ffv1 lossless (.mkv),
    ...``, or retime's (``REENCODE_CODECS``: retime, translate) ``libx264 (.mp4, .m4v, .mov,
    .mkv), ...``."""
    extensions = {}
    for extension, codec in table.items():
        extensions.setdefault(codec, []).append(extension)
    return ", ".join(f"{codec}{' lossless' if codec == 'ffv1' else ''} ({', '.join(names)})"
                     for codec, names in extensions.items()) + \
        ", libx264 where another container takes it (.ts, .mpg, .flv)"


def _method_options(method, pairs, video=False, flag="--method"):
    """Check ``--option`` pairs against the method's keyword parameters (set by ``flag``);
    return a dict."""
    valid = estimator_options(method)
    if video and method == "farneback":
        valid.append("use_previous_flow")  # flowkit.farneback_video's option
    options = {}
    for name, value in pairs or ():
        if name not in valid:
            raise UsageError(f"--option {name}: not an option of {method}; its options are {', '.join(valid)}")
        options[name] = value
    if method == "raft" and "weights" not in options:
        raise UsageError(f"{flag} raft: needs -O weights=PATH, a local torchvision RAFT state "
                         "dict (nothing is downloaded)")
    if method == "raft":  # its packages, before any work, naming the flag (as --method learned)
        from .models.raft import require_packages

        try:
            require_packages()
        except ImportError as exc:
            raise ImportError(f"{flag} raft: {exc}") from exc
    return options


def _format_options(options):
    return ", ".join(f"{k}={v!r}" for k, v in options.items()) or "default options"


def _probe(source, step, grid=False):
    """(number of frames that iter_frames will yield or None, frames per second or None, the
    video's ``VideoInfo`` or None for a folder or a file it cannot read): the average rate, or
    with ``grid`` the rate of the timestamps' grid (``VideoInfo.base_rate``: 30 for a 30 fps
    clip with dropped frames, where the average is lower)."""
    from .video import expected_frame_count, probe_video

    if source.is_dir():
        count = sum(1 for p in source.iterdir() if is_folder_image(p))
        return -(-count // step), None, None
    pages = tiff_pages(source)
    if pages:  # an image stack, read as a folder is
        return -(-pages // step), None, None
    try:
        info = probe_video(source)
    except ValueError:
        return None, None, None  # iter_frames reports it
    count, fps = expected_frame_count(info), info.base_rate if grid else info.frame_rate
    return (-(-count // step) if count else None), (float(fps) / step if fps else None), info


def _padding_note(padded, size, keep="write .mkv with --codec ffv1, or .webm", source=None):
    """The note on stderr when an odd ``padded`` (width, height) was padded to the even
    ``size`` for the encoder (nothing when ``padded`` is None or ``size``): retime's and
    translate's (their reports' ``padded``), flow's and predict's (the stored size of the
    frames and the size written); ``keep`` says how to keep the size (generate has no
    --codec: its .mkv is FFV1); batch names the input, ``source``."""
    if padded and tuple(padded) != tuple(size):
        named = "" if source is None else f"{source}: "
        print(f"flowkit: note: {named}padded {_wxh(padded)} to {_wxh(size)} (last row or column "
              f"repeated) for the encoder, which needs an even size; to keep {_wxh(padded)} "
              f"{keep}", file=sys.stderr)


def _not_written_line(not_written, source=None):
    """retime's and translate's line on stdout naming the input's streams they did not write
    (``not_written``: stream types, one per stream; nothing when empty); batch names the
    input (``source``)."""
    if not_written:
        counts = ", ".join(f"{not_written.count(k)} {k}" for k in sorted(set(not_written)))
        where = f"{source}: " if source is not None else ""
        print(f"not written: {where}the input's other streams ({counts})")


def _depth_note(output, bits):
    """retime's, translate's and predict's note on stderr when an input of ``bits`` > 8 bits
    per sample was written as an 8-bit video to ``output`` (read back from the file): the
    encoder takes 8-bit formats only (MJPEG, .avi's default; PyAV's VP9, .webm's; MPEG-4).
    The default encoders of .mp4 and .mkv take more (libx264 10-bit, FFV1 up to 16)."""
    if bits <= 8:
        return
    written = probe_video(output)
    if written.bit_depth <= 8:
        print(f"flowkit: note: {output}: {bits}-bit input written as {written.bit_depth}-bit "
              f"(this FFmpeg's {written.codec} encoder takes {written.bit_depth} bits only); .mp4 "
              "or .mkv with their default codec keep more than 8 bits", file=sys.stderr)


def _alpha_note(output, alpha):
    """retime's, translate's, predict's and batch's note on stderr when the input video
    carries alpha (``alpha``: ``VideoInfo.alpha``), which flowkit reads and writes without:
    the output is opaque."""
    if alpha:
        print(f"flowkit: note: {output}: the input's alpha channel (transparency) is not "
              "written: flowkit reads and writes video without alpha, so the output is opaque",
              file=sys.stderr)


def _interlaced_note(output, field_order, deinterlace=False):
    """retime's, translate's and predict's note on stderr when the input video is interlaced
    (``field_order``: ``VideoInfo.field_order``) and not deinterlaced: its frames, two fields
    of different times woven, are processed as progressive frames, so the output is combed
    where things move (Tears of Steel woven into 25i and retimed x2: 31.2 and 32.5 dB against
    the progressive truth at the input's and the new times; deinterlaced first with bwdif:
    36.2 and 34.9 dB); it names the commands' --deinterlace. ``deinterlace``: that flag; given
    for an input that says it is progressive, a note that it changed nothing."""
    if field_order not in (None, "progressive") and not deinterlace:
        first = "top" if field_order in ("tt", "bt") else "bottom"  # shown first (tb: top
        # coded first, bottom shown first: FFmpeg's AV_FIELD_TB)
        print(f"flowkit: note: {output}: the input is interlaced ({first} field first), processed "
              "as progressive frames, its fields woven (combing where things move); use "
              "--deinterlace (a frame per field, FFmpeg's bwdif)", file=sys.stderr)
    elif deinterlace and field_order == "progressive":
        print(f"flowkit: note: {output}: --deinterlace: the input is progressive, read as it is",
              file=sys.stderr)


def _stored_size_text(size, rotation, output):
    """``WxH`` of frames of ``size`` (width, height) in the input's coded orientation, written
    to ``output`` with the input's display ``rotation``: ``1920x1080 stored, 1080x1920
    displayed (rotation 270)``; where the container stores no rotation (AVI) the frames were
    turned (``VideoWriter``): ``1080x1920``."""
    stored = stored_rotation(output, rotation)
    width, height = size[::-1] if (rotation - stored) % 180 else size  # as stored
    return _size_text((height, width), stored)


def _rate_text(fps):
    """A frame rate for the reports: ``60``, or ``59.94 (2997/50)`` when not a whole number."""
    exact = Fraction(fps).limit_denominator(1_001_000)
    return str(exact.numerator) if exact.denominator == 1 else f"{float(exact):.6g} ({exact})"


def _written_rate(output, fps, kind="frame_rate"):
    """The frame rate of the written ``output`` as any reader sees it (``probe_video``, read
    back from the file; ``kind``: ``"frame_rate"``, or ``"base_rate"`` for the grid its
    times lie on), else ``fps``, the rate given to the writer. They differ where frames were
    written at the input's own times into a container that stores times, not a rate: the
    reader guesses the rate from the stored times (the 29.97 fps WebM with millisecond times,
    2997/100 in, is 30000/1001 in its .mp4)."""
    try:
        rate = getattr(probe_video(output), kind)
    except (OSError, ValueError):
        rate = None
    return rate or fps


# --- subcommands --------------------------------------------------------------------------------

# the files demo writes into its folder
_DEMO_FILES = ("flow.flo", "flow.png", "flow_truth.png", "frame0.png", "frame1.png", "warped.png",
               "report.txt")


def demo(out_dir, method="farneback", options=None):
    """Run the demo on the built-in sample and write its files to ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Folder for the outputs; created if missing, in a folder that must exist.
    method : str
        The estimator, a name from ``flowkit.list_estimators()``.
    options : dict, optional
        Keyword options of the estimator.

    Returns
    -------
    str
        The report, also written to ``out_dir/report.txt``.
    """
    options = dict(options or {})
    estimator = get_estimator(method, options)
    # the files are written into a hidden folder and moved in together: Ctrl-C during the
    # first run's compilation left an empty out_dir, a failed write some of the files
    with _staged_folder(Path(out_dir)) as staging:
        return _demo_files(staging, estimator, method, options)


def _demo_files(out_dir, estimator, method, options):
    """The demo's work, its files written into ``out_dir``; returns the report."""
    import cv2

    import flowkit
    from flowkit import metrics

    frame0, frame1, truth = flowkit.sample_pair()

    start = time.perf_counter()
    estimator(frame0, frame1)  # first call compiles (or loads the cache)
    first = time.perf_counter() - start
    start = time.perf_counter()
    flow = estimator(frame0, frame1)
    steady = time.perf_counter() - start

    warped = flowkit.warp(frame1, flow)
    gray0 = cv2.cvtColor(frame0, cv2.COLOR_RGB2GRAY)
    gray1 = cv2.cvtColor(frame1, cv2.COLOR_RGB2GRAY)
    opencv = cv2.calcOpticalFlowFarneback(gray0, gray1, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    max_flow = float(np.max(np.hypot(truth[..., 0], truth[..., 1])))

    flowkit.write_flo(out_dir / "flow.flo", flow)
    _write_image(out_dir / "frame0.png", frame0)
    _write_image(out_dir / "frame1.png", frame1)
    _write_image(out_dir / "warped.png", warped)
    _write_image(out_dir / "flow.png", flowkit.flow_to_color(flow, max_flow=max_flow))
    _write_image(out_dir / "flow_truth.png", flowkit.flow_to_color(truth, max_flow=max_flow))

    lines = [
        "flowkit demo: built-in synthetic pair (320x240 RGB, exact ground truth)",
        f"method: {method} ({_format_options(options)}), threads: {flowkit.get_num_threads()}",
        f"time: first call {first:.2f} s (JIT compile or cache load), then {1000 * steady:.1f} ms",
        f"endpoint error vs truth: flowkit {metrics.endpoint_error(flow, truth):.3f} px, "
        f"OpenCV Farneback (gray) {metrics.endpoint_error(opencv, truth):.3f} px",
        f"angular error vs truth: flowkit {metrics.angular_error(flow, truth):.2f} deg",
        f"warp(frame1, flow) vs frame0: PSNR {metrics.psnr(warped, frame0):.2f} dB "
        f"(frame1 vs frame0: {metrics.psnr(frame1, frame0):.2f} dB)",
        f"files: {', '.join(_DEMO_FILES)}",
    ]
    report = "\n".join(lines) + "\n"
    with atomic_path(out_dir / "report.txt") as tmp:
        tmp.write_text(report)
    return report


def cmd_demo(args):
    """``flowkit demo``: the main job on the built-in sample pair."""
    out = Path(args.out)
    _check_output_folder_path("--out", out)
    options = _method_options(args.method, args.option)
    replaced = sum((out / name).is_file() for name in _DEMO_FILES)  # an earlier run's
    sys.stdout.write(demo(args.out, args.method, options))
    print(f"wrote {len(_DEMO_FILES)} files to {args.out}"
          + (f" ({replaced} replaced)" if replaced else ""))
    return 0


def _read_pair(name0, name1, folder_hint="", command="flow"):
    """FRAME0 and FRAME1 of ``flow`` and ``interpolate`` (``command``), read
    (:func:`_read_image`); frames of different sizes or kinds are usage errors naming FRAME1
    (inputs that do not go together, as :func:`_check_output`'s output that is an input), not
    failures of the work; a float one holding NaN (a radar's no data) a ValueError naming it."""
    frame0 = _read_image(name0, "FRAME0", folder_hint)
    frame1 = _read_image(name1, "FRAME1", folder_hint)
    for label, name, frame in (("FRAME0", name0, frame0), ("FRAME1", name1, frame1)):
        if frame.dtype.kind == "f" and not np.isfinite(frame).all():
            raise _non_finite(label, name, command)
    if frame0.shape[:2] != frame1.shape[:2]:
        raise UsageError(f"FRAME1: {name1} is {frame1.shape[1]}x{frame1.shape[0]} but FRAME0 "
                         f"{name0} is {frame0.shape[1]}x{frame0.shape[0]} (width x height); "
                         f"the frames must have the same size")
    if frame0.ndim != frame1.ndim or frame0.dtype != frame1.dtype:
        raise UsageError(f"FRAME1: {name1} is {_describe(frame1)} but FRAME0 {name0} is "
                         f"{_describe(frame0)}; the frames must have the same kind")
    return frame0, frame1


def cmd_flow(args):
    """``flowkit flow``: flow of two images, or of each consecutive pair of a video."""
    if args.frame1 is None:
        return _flow_video(args)
    first = Path(args.frame0)
    if not first.is_dir() and first.suffix.lower() in VIDEO_EXTENSIONS:
        # named by its extension, not opened: text.mp4 is no video, and was called one; a
        # missing one too (it was 'nothing to write: give -o OUT.flo' or 'no such image file')
        raise UsageError(f"FRAME1: {args.frame1}: a second input is for a pair of images, and FRAME0 "
                         f"{first} has a video extension ({first.suffix}): give a video alone with "
                         "--video OUT.mp4 and/or --flo-dir DIR")
    if args.video or args.flo_dir:
        raise UsageError("--video and --flo-dir are for a video or image folder given alone; "
                         "for two images use -o and --png")
    if not (args.output or args.png):
        raise UsageError("nothing to write: give -o OUT.flo and/or --png OUT.png")
    if args.max_flow is not None and not args.png:
        raise UsageError("--max-flow: only for the colour picture (--png), which is not written "
                         "here (-o alone)")
    video_only = [flag for flag, value in (("--fps", args.fps), ("--codec", args.codec),
                                           ("--crf", args.crf is not None), ("--step", args.step != 1),
                                           ("--resize", args.resize), ("--gray", args.gray)) if value]
    if video_only:
        raise UsageError(f"{', '.join(video_only)}: only for a video or image folder given alone")
    import flowkit

    inputs = (args.frame0, args.frame1)
    if args.output:
        _check_output("-o", args.output, "flo", inputs)
    if args.png:
        _check_output("--png", args.png, "image", inputs)
    options = _method_options(args.method, args.option)
    frame0, frame1 = _read_pair(args.frame0, args.frame1, "; give a folder or TIFF stack alone "
                                "(without FRAME1) for the flow of each consecutive pair of its "
                                "images")
    start = time.perf_counter()
    with _frames_too_small_named(args):
        flow = get_estimator(args.method, options)(frame0, frame1)
    seconds = time.perf_counter() - start
    size = f"{flow.shape[1]}x{flow.shape[0]}"
    if args.output:
        flowkit.write_flo(args.output, flow)
        _wrote(args.output, f"{size} flow")
    if args.png:
        _write_image(args.png, flowkit.flow_to_color(flow, max_flow=args.max_flow))
        _wrote(args.png, f"{size} colour-coded flow")
    print(f"{args.method} ({_format_options(options)}) in {seconds:.2f} s")
    return 0


@contextlib.contextmanager
def _frames_too_small_named(args, flag="--method"):
    """Frames too small for the estimator: a usage error naming what the user can change,
    ``--resize`` if given, else ``--option`` if given (``finest_scale``, ``patch_size``), else
    the estimator's flag ``flag``; with the minimum (the estimator's own error names
    ``frame0``, which the user never gave)."""
    from ._validate import FramesTooSmall

    try:
        yield
    except FramesTooSmall as exc:
        method, need = getattr(args, flag.lstrip("-")), exc.need
        if getattr(args, "resize", None):
            width, height = args.resize
            raise UsageError(f"--resize {width}x{height}: too small for {method}: {need}") from exc
        if getattr(args, "option", None):
            given = " ".join(f"{name}={value!r}" for name, value in args.option)
            raise UsageError(f"--option {given}: frames too small for {method} with these "
                             f"options: {need}") from exc
        raise UsageError(f"{flag} {method}: frames too small for it: {need} (another {flag}, "
                         f"e.g. lucas_kanade, works on smaller frames)") from exc


def _counted(count, noun):
    """``"1 frame"``, ``"2 frames"``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _recording_times(frames, times):
    """The frames of ``iter_frames(timestamps=True)``, their times (from the first frame's)
    appended to ``times`` as each is read."""
    origin = None
    for when, frame in frames:
        origin = when if origin is None else origin
        times.append(when - origin)
        yield frame


def _dropped_note(output, dropped, fps):
    """flow's and translate's note on stderr when ``dropped`` frames were not written to an
    AVI (``output``), whose ``1 / fps`` slot the frame before held (``VideoWriter``'s rule)."""
    if dropped:
        print(f"flowkit: note: {output}: {_counted(dropped, 'frame')} not written, on the "
              f"{Fraction(1) / fps} s slot of the frame before (AVI stores a frame rate, not "
              "times: the first frame of a slot is kept); .mkv or .mp4 keep every frame at its "
              "time", file=sys.stderr)


def _pairwise(estimator, frames):
    prev = None
    for frame in frames:
        if prev is not None:
            yield estimator(prev, frame)
        prev = frame


def _input_gray(args, source):
    """Read frames as gray: ``--gray``, or a folder whose first image is gray (as two gray
    image files are read; their RGB copies gave another flow and 3-channel outputs)."""
    from .video import image_folder_gray

    return args.gray or (_image_stack(source) and image_folder_gray(source))


def _input_depth(source, info):
    """The ``iter_frames`` depth of a video (``info``, its ``VideoInfo``) or image folder: 16
    for more than 8 bits (10-bit HEVC, a folder of 16-bit PNGs), 32 for a folder of float
    TIFFs (float32 frames), else 8."""
    from .video import image_folder_depth

    if info is not None:
        return info.read_depth
    return image_folder_depth(source) if _image_stack(source) else 8


def _image_stack(source):
    """Whether ``source`` is read as a folder of images: a folder, or a TIFF of more than one
    page (a time-lapse stack: ``iter_frames`` reads its pages as a folder's images)."""
    return source.is_dir() or tiff_pages(source) > 1


def _single_image(source):
    """Whether ``source`` is one image file (a TIFF of one page), not a video or a stack (nor
    an animated WebP, which the reader names: it was 'got the image anim.webp')."""
    return source.is_file() and source.suffix.lower() in IMAGE_EXTENSIONS \
        and not _image_stack(source) and not webp_frames(source)


def _flow_video(args):
    import flowkit

    source = Path(args.frame0)
    if _single_image(source):
        raise UsageError(f"FRAME1 is missing: give two images, or a video file or image folder alone "
                         f"(got the image {source})")
    if args.output or args.png:
        raise UsageError("-o and --png are for two images; for a video use --video and/or --flo-dir")
    if not (args.video or args.flo_dir):
        raise UsageError("nothing to write: give --video OUT.mp4 and/or --flo-dir DIR")
    # the encoder's options without a video to encode: usage errors, as with two images
    # (cmd_flow) and as predict's --crf for a folder
    video_only = [flag for flag, value in (("--fps", args.fps), ("--codec", args.codec),
                                           ("--crf", args.crf is not None),
                                           ("--max-flow", args.max_flow is not None)) if value]
    if video_only and not args.video:
        raise UsageError(f"{', '.join(video_only)}: only for the video output (--video), which "
                         "is not written here (--flo-dir alone)")
    if not source.exists():
        raise FileNotFoundError(f"FRAME0: no such video file or image folder: {source}"
                                f"{pattern_hint(source)}")
    if args.video:
        args.codec = _output_codec(args.codec, args.video)
        _check_output("--video", args.video, "video", (source,), codec=args.codec)
        _crf_note(args, args.video, args.codec)
    options = _method_options(args.method, args.option, video=True)
    # a video's flow pictures keep its frames' times and display rotation, as predict and
    # retime do; one writer (_flow_video.py) for this and flowkit.batch's flow job: one file
    count, _, info = _probe(source, args.step, grid=True)
    # a folder of 16-bit images or a video of more than 8 bits at its depth, as predict reads
    # them and as two image files are read: OpenCV's reduction to 8 bits kept 4 bits of a
    # microscope's 12-bit frames
    depth = _input_depth(source, info)
    frames = flowkit.iter_frames(source, gray=_input_gray(args, source), step=args.step,
                                 resize=args.resize, timestamps=info is not None, depth=depth)
    if depth == 32:  # float images (radar, microscopy) may hold NaN for no data
        frames = _finite_frames(source, frames, args.step, "flow")
    times = []  # of the frames read, from the first one
    if info is not None:
        frames = _recording_times(frames, times)
    if args.method == "farneback":
        # option values checked before any frame, as for the other methods (the registry names
        # them --option); use_previous_flow is farneback_video's own
        farneback_options = {k: v for k, v in options.items() if k != "use_previous_flow"}
        get_estimator("farneback", farneback_options)
        if not isinstance(options.get("use_previous_flow", False), bool):
            raise UsageError(f"--option use_previous_flow: expected True or False, got "
                             f"{options['use_previous_flow']!r}")
        flows = flowkit.farneback_video(frames, **options)
    else:
        flows = _pairwise(get_estimator(args.method, options), frames)
    flo_dir = Path(args.flo_dir) if args.flo_dir else None
    if flo_dir is not None:
        _check_output_folder_path("--flo-dir", flo_dir, "flow_*.flo")
    start = time.perf_counter()
    pairs = 0
    shape = None  # of the flows
    only_one = f"{source}: only one frame, a flow needs two" + (
        f" read with --step {args.step} (frames 0, {args.step}, {2 * args.step}, ...)"
        if args.step > 1 else "")
    with contextlib.ExitStack() as stack:
        stack.enter_context(_frames_too_small_named(args))
        bar = stack.enter_context(_progress(args, total=None if count is None else max(count - 1, 0),
                                            unit="pair", desc="flow"))

        def timed_flows():  # (frame k's time, flow of the pair (k, k + 1)); then its .flo
            nonlocal pairs, shape
            staging = None
            for flow in flows:
                shape = flow.shape[:2]
                yield (times[pairs] if times else None), flow
                if flo_dir is not None:
                    if staging is None:
                        staging = stack.enter_context(_staged_folder(flo_dir))
                    flowkit.write_flo(staging / f"flow_{pairs:06d}.flo", flow)
                pairs += 1
                bar.update()

        if args.video:
            written = write_flow_video(args.video, timed_flows(), info=info, fps=args.fps,
                                       step=args.step, max_flow=args.max_flow, codec=args.codec,
                                       crf=_crf(args), empty=only_one)
        else:
            for _ in timed_flows():
                pass
        if pairs == 0:
            raise ValueError(only_one)
    seconds = time.perf_counter() - start
    size = f"{shape[1]}x{shape[0]}"
    if args.video:
        rotation = written.rotation
        stored = shape[::-1] if rotation % 180 else shape  # (height, width) before padding
        size = _size_text(written.size, rotation)
        scale = f"max flow {args.max_flow:g} px" if args.max_flow else "each frame scaled to its own max"
        rate = f"{_rate_text(_written_rate(args.video, written.fps, 'base_rate'))} fps" + (
            ", at the input frames' times" if written.timed else "")
        _wrote(args.video, f"{_counted(written.frames, 'frame')}, {size}, {rate}, {scale}")
        _padding_note(stored[::-1], written.size[::-1])
        _dropped_note(args.video, written.dropped, written.fps)
    if flo_dir is not None:
        files = "flow_000000.flo" + (f" ... flow_{pairs - 1:06d}.flo" if pairs > 1 else "")
        print(f"wrote {_counted(pairs, '.flo file')} to {flo_dir} ({files})")
    print(f"{args.method} ({_format_options(options)}): {_counted(pairs, 'pair')} of {source} in {seconds:.1f} s "
          f"({pairs / seconds:.1f} pairs/s)")
    return 0


def _refuse_non_finite(folder, context, first):
    """A ValueError naming the image of ``folder`` (frame ``first`` onwards: ``context``'s
    ``(time, frame)`` pairs) that holds NaN or infinity: predict's own error named ``frames``,
    neither the file nor what to do (float TIFFs of radar fields mark no data with NaN)."""
    for index, (_, frame) in enumerate(context, start=first):
        if not np.isfinite(frame).all():
            raise _non_finite("INPUT", _image_name(folder, index), "predict")


def _finite_frames(folder, frames, step, command):
    """The float frames of the folder or TIFF stack ``folder`` read with ``step``, each
    checked as it is read: one holding NaN or infinity is the ValueError naming its image
    (the estimators' own error named ``frame0``, neither the file nor what to do)."""
    for index, frame in enumerate(frames):
        if not np.isfinite(frame).all():
            raise _non_finite("FRAME0", _image_name(folder, index * step), command)
        yield frame


def _image_name(folder, index):
    """The image ``index`` of the folder or TIFF stack ``folder``: its file, or its page."""
    from .video import _image_files

    return _image_files(folder)[index] if folder.is_dir() else f"page {index + 1} of {folder}"


def _non_finite(label, image, command):
    """The error for the ``image`` (the input ``label``) that holds NaN or infinity."""
    return ValueError(f"{label}: {image} holds NaN or infinity (no data?); {command} needs "
                      "finite values: fill them first, e.g. with the field's minimum "
                      "(docs/prediction.md, 'No-data regions')")


def _read_context(args, source):
    """Read the context frames (and, with --start, the true frames after them), streaming;
    without --start a video's tail only (``video.last_frames``).

    Frames of a video of more than 8 bits, or of a folder whose first image is 16-bit, are
    uint16 (``iter_frames(depth=16)``), so that prediction and output keep the depth.
    Returns (context, truth, times, info, after): lists of frames; without ``--start`` the
    context is the last ``--context`` frames and there is no truth; with ``--context 2`` and
    the scene test on, the frame before them too where there is one (``flowkit.predict``'s
    test compares the context pair with its neighbour; the motion comes from the last 2); ``times`` the context
    frames' times in steps of the grid (``VideoInfo.base_rate``, at which the predicted frames
    follow: a variable-rate clip's frames may be several steps apart, ``flowkit.predict``'s
    ``times``), None for an image folder; ``info`` the video's ``VideoInfo`` (None for a
    folder); ``after`` the input's time (seconds from its first frame) of the first predicted
    frame, a grid step after the context's last (None for a folder or a rate unknown). With
    ``--deinterlace`` an interlaced video is read a frame per field, its frames counted and
    timed as fields (``video.field_info``: the grid the field rate).
    """
    import collections

    import flowkit
    from ._predict import frames_needed, frames_used
    from .video import (expected_frame_count, field_info, first_frame_time, grid_steps,
                        last_frames)

    count, _, info = _probe(source, 1, grid=True)  # predicted frames follow at the grid's step
    grid = info  # the video as read: with --deinterlace a frame per field
    if args.deinterlace and info is not None:
        grid = field_info(info)
        count = expected_frame_count(grid)
    # more than 8 bits (10-bit HEVC, ..., a folder of 16-bit PNGs): uint16 frames, predicted
    # and written at that depth
    depth = _input_depth(source, info)
    length = frames_used(args.context)  # auto: up to 4, at least 2
    before = 1 if length < 3 and args.scene_threshold != 0 else 0  # for the scene test
    truth = []
    if args.start is None and info is not None:
        # a video's tail, decoded from the keyframe before it (batch's predict job reads it
        # so): decoding every frame of an hour of 1080p took half an hour
        context = last_frames(source, length + before, timestamps=True, depth=depth,
                              gray=args.gray, resize=args.resize, deinterlace=args.deinterlace)
        read = len(context)  # all the frames where it holds fewer
    else:
        frames = flowkit.iter_frames(source, gray=_input_gray(args, source), resize=args.resize,
                                     timestamps=info is not None, depth=depth,
                                     deinterlace=args.deinterlace)
        if info is None:
            frames = ((None, frame) for frame in frames)
        if args.start is None:
            # no folder holds sys.maxsize frames: a larger --context (2**63) overflowed deque
            context = collections.deque(maxlen=min(length + before, sys.maxsize))
            stop = None
        else:
            first = max(0, args.start - before)
            context = []
            stop = args.start + length + (args.horizon if args.side_by_side else 0)
            count = stop if count is None else min(count, stop)
        read = 0
        with _progress(args, total=count, unit="frame", desc="read") as bar:
            for when, frame in frames:
                if stop is not None and read >= stop:
                    break
                if args.start is None or first <= read < args.start + length:
                    context.append((when, frame))
                elif read >= args.start + length:
                    truth.append((when, frame))
                read += 1
                bar.update()
    need = length if args.side_by_side else frames_needed(args.context)  # the truth follows them
    # the context proper: without the frame read before it for the scene test
    extra = (max(0, len(context) - length) if args.start is None
             else min(args.start - first, len(context)))
    if len(context) - extra < need:
        where = "" if args.start is None else f" from --start {args.start}"
        truth = f" and --side-by-side --horizon {args.horizon} need" if args.side_by_side else " needs"
        raise ValueError(f"{source}: {_counted(read, 'frame')}; --context {args.context}{where}{truth} "
                         f"{need + (args.start or 0) + (args.horizon if args.side_by_side else 0)}")
    if args.side_by_side and len(truth) < args.horizon:
        first, last = args.start + length, args.start + length + args.horizon - 1
        frames = f"frame {first}" if first == last else f"frames {first} to {last}"
        raise ValueError(f"{source}: --side-by-side needs the {_counted(args.horizon, 'true frame')} "
                         f"after the context ({frames}); the input has {read}")
    if depth == 32:  # float images (radar, microscopy) may hold NaN for no data
        _refuse_non_finite(source, context, (read - len(context) if args.start is None else first))
    times = truth_steps = None
    if info is not None:
        times = grid_steps([t for t, _ in context], grid.base_rate, grid.time_base)
        truth_steps = grid_steps([t for t, _ in [context[-1]] + truth], grid.base_rate,
                                 grid.time_base)
    if truth_steps and truth_steps != [float(k - len(truth)) for k in range(len(truth) + 1)]:
        print("flowkit: note: the true frames after the context are not one grid step apart "
              "(a variable frame rate): the truth column holds the next input frames, not the "
              "frames at the predicted times", file=sys.stderr)
    after = None
    if info is not None and grid.base_rate:  # a field after the last with --deinterlace
        # from the first frame, which the input's timecode labels (not from time 0)
        after = context[-1][0] - first_frame_time(source) + 1 / grid.base_rate
    return [frame for _, frame in context], [frame for _, frame in truth], times, info, after


def _output_kind(path):
    """'video' for a path with a video extension, 'folder' for an existing folder, a path
    without an extension or one ending in a slash (PNG files are written into it)."""
    if str(path).endswith(("/", os.sep)):
        return "folder"
    path = Path(path)
    if path.is_dir() or not path.suffix:
        return "folder"
    return "video"


# (kernels module, Numba dispatcher) of the main CPU drivers a command compiles on first use
# (their warps of float32 by warp's defaults take _warp_linear_band, not the general driver)
_PREDICT_DRIVERS = (("dis", "_search_band"), ("splat", "_splat_band"), ("fill", "_fill_pass"),
                    ("warp", "_warp_linear_band"), ("advect", "_speed_mean_band"))
_RETIME_DRIVERS = (("dis", "_search_band"), ("splat", "_splat_band"), ("warp", "_warp_linear_band"),
                   ("project", "_sample_band"))


@contextlib.contextmanager
def _log_records(name):
    """The INFO (and higher) records the logger ``name`` emits inside the block, in a list;
    nothing is printed."""
    import logging

    records = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record)

    logger, handler = logging.getLogger(name), Collect(logging.INFO)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _compile_notice(args, *drivers, stream=None):
    """Say on stderr that kernels will compile when a main driver has no entry in Numba's
    on-disk cache yet (a heuristic: another signature may still be missing). Like the
    progress bars, only on a terminal and without --quiet."""
    stream = stream or sys.stderr
    if args.quiet or not stream.isatty():
        return
    import importlib

    for module, name in drivers:
        try:
            dispatcher = getattr(importlib.import_module(f"flowkit.kernels.{module}"), name)
            cached = os.path.exists(dispatcher._cache._cache_file._index_path)
        except Exception:  # Numba internals moved: no notice rather than an error
            return
        if not cached:
            print("flowkit: compiling kernels on first use (once; about 10-20 s on 2 cores; "
                  "`flowkit warmup` does it ahead)", file=stream)
            return


def _check_output_folder(folder, source, suffix=".png"):
    """Checks of a folder output before any work: not the input, not a file, no frames of an
    earlier run in it (``frame_*`` files with ``suffix``: they would mix with the new ones),
    its parent exists."""
    if _same_file(folder, source):
        raise UsageError(f"OUTPUT: {folder} is the input; refusing to write into it")
    _check_output_folder_path("OUTPUT", folder, f"frame_*{suffix}")


def _refuse_video_flags(args, output):
    """predict's and interpolate's --fps, --codec and --crf when OUTPUT is no video
    (``output``: ``"a folder"``, ``"an image"``): one usage error naming those given."""
    given = [flag for flag, value in (("--fps", args.fps), ("--codec", args.codec),
                                      ("--crf", args.crf is not None)) if value]
    if given:
        raise UsageError(f"{', '.join(given)}: only for a video output; OUTPUT names {output}")


@contextlib.contextmanager
def _staged_folder(folder):
    """A hidden folder beside ``folder`` (whose parent must exist) to write files into; on
    success they are moved into ``folder`` (created if missing); an error or Ctrl-C leaves
    ``folder`` as it was and removes the hidden one. An existing ``folder`` holds the hidden
    one itself: it may be a mount point (a container's volume), which the moves from beside it
    could not cross (EXDEV)."""
    import shutil
    import tempfile

    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp",
                                        dir=folder if folder.is_dir() else folder.parent))
    except OSError as exc:  # name the user's folder, not the hidden one
        raise OSError(exc.errno, exc.strerror or str(exc), str(folder)) from None
    try:
        try:
            yield staging
        except OSError as exc:  # a file that could not be written: named in the user's folder
            raise _in_folder(exc, staging, folder) from exc
        raise_if_stopped()  # a signal came while writing: keep the folder as it was
        folder.mkdir(exist_ok=True)
        for path in sorted(staging.iterdir()):
            os.replace(path, folder / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _in_folder(exc, staging, folder):
    """``exc`` naming ``folder`` where it names the hidden ``staging`` folder (a full disk: it
    said "out/.frames.k2j4.tmp/frame_000003.png: No space left on device")."""
    hidden = str(staging)
    name = exc.filename
    if isinstance(name, str) and name.startswith(hidden) and exc.filename2 is None:
        return OSError(exc.errno, exc.strerror or str(exc), str(folder) + name[len(hidden):])
    if name is None and hidden in str(exc):
        return OSError(str(exc).replace(hidden, str(folder)))
    return exc


def _write_folder(folder, pictures, bar, suffix=".png"):
    """Write frame_000000.png (or ``suffix``), ... into ``folder`` through
    :func:`_staged_folder`."""
    with _staged_folder(folder) as staging:
        for k, picture in enumerate(pictures):
            _write_image(staging / f"frame_{k:06d}{suffix}", picture)
            bar.update()


def _method_parser(choices, help_text, default="farneback", video=False):
    """A parent parser with ``--method`` (``choices``, default farneback) and ``-O NAME=VALUE``
    (the method's keyword options; ``video``: the command takes farneback_video's
    ``use_previous_flow`` for a video, as ``flow`` does)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--method", choices=choices, default=default, help=help_text)
    previous = " (and use_previous_flow for a video)" if video else ""
    parser.add_argument(
        "-O", "--option", type=_option, action="append", metavar="NAME=VALUE",
        help="keyword option of the method, repeatable; VALUE is a Python literal (5, 0.5, True) "
             "or a word. farneback: pyr_scale, levels, winsize, iterations, poly_n, poly_sigma, "
             f"gaussian, normalize, device{previous}; lucas_kanade: radius, "
             "num_warp, gaussian, prefilter, levels, normalize, device; dis: preset (ultrafast, fast, "
             "medium, accurate), finest_scale, coarsest_scale, patch_size, patch_stride, "
             "gradient_descent_iterations, "
             "variational_refinement_iterations, variational_refinement_alpha / _delta / _gamma / "
             "_epsilon, "
             "use_mean_normalization, use_spatial_propagation, normalize, device (dis-PRESET: the same "
             "but preset); raft: weights (a local file, required), small, num_flow_updates, "
             "device. normalize=true (the default) "
             "stretches each pair to [0, 1] so the flow does not depend on the intensity scale; "
             "normalize=false gives OpenCV / scikit-image parity. These are all; init_flow and "
             "return_confidence are not options, and an unknown name is an error listing the valid "
             f"ones{_plugin_note()}")
    return parser


def _plugin_note():
    """The -O help's words on estimators of installed packages (entry points), if any."""
    from ._estimators import _REGISTRY

    plugins = [name for name in _methods() if name not in _REGISTRY]
    if not plugins:
        return ""
    return (f". Estimators of installed packages (entry points flowkit.estimators: "
            f"{', '.join(plugins)}) take their keyword-only parameters")


# flowkit predict --method gan: the classical prediction (predict's default flow) refined by predict-gan
def _add_gan_method(parser):
    """``--model WEIGHTS`` on the predict parser (whose ``--method`` takes gan)."""
    parser.add_argument("--model", metavar="WEIGHTS", help="--method gan: a .safetensors file of "
                        "predict-gan (flowkit train predict-gan; default the shipped weights)")


def _gan_options(args):
    """``predict``'s keywords for ``--method gan`` (args.method becomes the estimator)."""
    if args.method != "gan":
        if args.model is not None:
            raise UsageError("--model needs --method gan")
        return {}
    from .models._api import require_torch

    require_torch()
    from ._predict import DEFAULT_FLOW

    args.method = DEFAULT_FLOW
    return {"method": "gan", "model": args.model}


def cmd_predict(args):
    """``flowkit predict``: the frames that follow a clip, from its optical flow."""
    import flowkit
    from flowkit.video import (field_info, image_folder_depth, resized_aspect, write_video,
                               writer_tags)

    from ._predict import video_pix_fmt

    source = Path(args.input)
    _resolve_output(args, "output video or folder")
    if not source.exists():
        raise FileNotFoundError(f"INPUT: no such video file or image folder: {source}"
                                f"{pattern_hint(source)}")
    if _single_image(source):
        raise UsageError(f"INPUT must be a video file or a folder of images, got the image {source}")
    if args.side_by_side and args.start is None:
        raise UsageError("--side-by-side needs --start N: the truth is the input after the context")
    if args.deinterlace and _image_stack(source):
        what = "folder of images" if source.is_dir() else "image stack (TIFF)"
        raise UsageError(f"--deinterlace is for a video INPUT, not the {what} {source}")
    if args.smooth_size is not None and not args.smooth:
        raise UsageError("--smooth-size needs --smooth METHOD")
    if args.average is not None and args.context == 2:
        raise UsageError(f"--average {args.average} needs --context 3 or more, or auto: "
                         "--context 2 gives one motion, with nothing to combine")
    args.average = args.average or "median"
    for flag, given in (("--n-iter", args.n_iter is not None), ("--speed-spread", bool(args.speed_spread)),
                        ("--advect-flow", args.advect_flow)):
        if given and args.scheme != "semi-lagrangian":
            raise UsageError(f"{flag} is for --scheme semi-lagrangian, not {args.scheme}")
    # predict's defaults for the scheme where not given (None), checked as predict checks them
    from ._predict import check_options, frames_used

    spread, advect = check_options(1, context=2, n_iter=1, scheme=args.scheme, average="median",
                                   return_flow=False, method="flow", speed_spread=args.speed_spread,
                                   advect_flow=args.advect_flow)[-2:]
    if args.n_iter not in (None, 1) and advect:  # 1, the default, as predict()
        default = "" if args.advect_flow else " (the default; add --no-advect-flow)"
        raise UsageError(f"--n-iter does not apply with --advect-flow{default} (its trajectories take "
                         "one step per frame through the carried velocities)")
    kind = _output_kind(args.output)
    if kind == "video" and Path(args.output).suffix.lower() in TIFF_EXTENSIONS:
        kind = "stack"  # a TIFF of a page per frame, as the input stacks are
    # a folder of float TIFFs (radar, microscopy): float32 frames, predicted and written as
    # float32 TIFF files, which no video holds
    suffix = ".tif" if _image_stack(source) and image_folder_depth(source) == 32 else ".png"
    if kind == "video" and suffix == ".tif":
        raise UsageError(f"OUTPUT: {args.output}: the images of {source} are float, predicted "
                         "as float32, which a video cannot hold; give a folder (a path without "
                         "an extension) for float32 TIFF files, a .tif file for a TIFF stack, "
                         "or convert the images to 16-bit")
    if kind == "video":
        args.codec = _output_codec(args.codec, args.output)
        _check_output("OUTPUT", args.output, "video", (source,), codec=args.codec,
                      other="a folder (a path without an extension) for PNG files, or a .tif "
                            "file for a TIFF stack")
        _crf_note(args, args.output, args.codec)
    elif kind == "stack":
        _check_output("OUTPUT", args.output, "image", (source,))
        _refuse_video_flags(args, "a TIFF stack")  # TIFF pages have no rate, codec or crf
    else:
        _check_output_folder(Path(args.output), source, suffix)
        _refuse_video_flags(args, "a folder")  # PNG files have no rate, codec or crf
    gan = _gan_options(args)
    options = _method_options(args.method, args.option)
    smooth = None
    if args.smooth:
        from ._smooth import check_options as check_smooth
        from ._validate import OutputTooLarge

        smooth = {"method": args.smooth}
        if args.smooth_size is not None:
            smooth["size"] = args.smooth_size
        # smooth_flow's rule for its size (odd, >= 1, a window that fits in memory), before
        # the input is read: 0 and -1 too, which argparse's own check took for "not given"
        with renaming("size", "--smooth-size", (ValueError, TypeError, OutputTooLarge)):
            check_smooth(**smooth)
    context, truth, times, info, after = _read_context(args, source)
    _compile_notice(args, *_PREDICT_DRIVERS)
    # with --deinterlace the predicted frames follow at the field rate
    fps = grid_rate(field_info(info) if args.deinterlace and info else info, args.fps)
    start = time.perf_counter()
    extra = {} if args.n_iter is None else {"n_iter": args.n_iter}
    with _frames_too_small_named(args), _log_records("flowkit._predict") as choices:
        predicted = flowkit.predict(np.stack(context), args.horizon, flow=args.method,
                                    flow_options=options, context=args.context,
                                    average=args.average, smooth=smooth, scheme=args.scheme,
                                    speed_spread=args.speed_spread, advect_flow=args.advect_flow,
                                    times=times, scene_threshold=_scene_threshold(args),
                                    device=args.device, **extra, **gan)
    seconds = time.perf_counter() - start
    pictures = [np.concatenate([t, p], axis=1) for t, p in zip(truth, predicted)] if args.side_by_side \
        else list(predicted)
    size = _wxh(pictures[0].shape[1::-1])
    with _progress(args, total=len(pictures), unit="frame", desc="write") as bar:
        if kind == "video":  # as written: a video's odd sizes are padded
            # a video input's display rotation, colour tags and language are kept, as retime
            # keeps them: the upright frames are stored in its coded orientation
            rotation = stored_rotation(args.output, info.rotation if info is not None else 0)
            # the input's pixel format (4:4:4, 10-bit, ...) where the encoder takes it
            pix_fmt = None if info is None else video_pix_fmt(args.output, args.codec, info)
            # chapters none (its frames follow the input's), the timecode of the first one
            tags = None if info is None else writer_tags(info, None, after, fps)
            if tags and args.resize:  # the input's display aspect ratio kept, as FFmpeg's scale
                turn = -1 if info.rotation % 180 else 1  # the coded frames' sizes
                tags["sample_aspect_ratio"] = resized_aspect(
                    info.sample_aspect_ratio, (info.width, info.height)[::turn],
                    tuple(args.resize)[::turn])
            _, written = write_video(args.output, pictures, fps, codec=args.codec,
                                     crf=_crf(args), callback=bar.update, pix_fmt=pix_fmt,
                                     tags=tags)
            shape = pictures[0].shape[:2]
            stored = shape[::-1] if rotation % 180 else shape  # (height, width) before padding
            size = _size_text(written, rotation)
        elif kind == "stack":
            _write_stack(args.output, pictures)
            bar.update(len(pictures))
        else:
            _write_folder(Path(args.output), pictures, bar, suffix)
    what = "truth | prediction, side by side" if args.side_by_side else "predicted frames"
    count = len(pictures)
    if kind == "video":
        _wrote(args.output, f"{_counted(count, 'frame')}, {size}, {_rate_text(fps)} fps, {what}")
        _padding_note(stored[::-1], written[::-1])
        _depth_note(args.output, info.bit_depth if info is not None  # a folder's 16-bit PNGs
                    else 16 if context[0].dtype == np.uint16 else 8)   # are uint16 frames too
    elif kind == "stack":
        _wrote(args.output, f"a TIFF of {_counted(count, 'page')}, {size}, "
                            f"{pictures[0].dtype.name}, {what}")
    else:
        files = "TIFF file" if suffix == ".tif" else "PNG file"
        print(f"wrote {_counted(count, files)} to {args.output} (frame_000000{suffix}"
              f"{f' ... frame_{count - 1:06d}{suffix}' if count > 1 else ''}, {what})")
    _alpha_note(args.output, info is not None and info.alpha)  # a video's (PNG files lack it too)
    _interlaced_note(args.output, info and info.field_order, args.deinterlace)
    used = min(len(context), frames_used(args.context))  # not the frame read for the scene test
    first = "the last" if args.start is None else f"frames {args.start}-{args.start + used - 1} as"
    refined = ""
    if gan:  # the shipped weights do not reach their goal: say so where the result is reported
        refined = (f", refined by predict-gan weights {gan['model']}" if gan["model"] else
                   ", then predict-gan (its shipped weights change < 0.1 grey level: docs/models.md)")
    smoothing = ""  # smooth_flow's own default size is not restated here
    if args.smooth:
        window = f", size {args.smooth_size}" if args.smooth_size is not None else ""
        smoothing = f", motion smoothed ({args.smooth}{window})"
    scheme = args.scheme + "".join(
        part for part, shown in ((f", speed spread {spread:g}", spread), (", advected flow", advect),
                                 (f", n-iter {args.n_iter}", args.n_iter is not None),
                                 (smoothing, smoothing)) if shown)
    chosen = ""
    if args.context != "auto" and used > 2:
        chosen = f" (the {args.average} of their {used - 1} pairs' motions)"
    cut = next((record.scene_cut for record in choices if hasattr(record, "scene_cut")), None)
    if args.context == "auto" and cut != 1:  # predict logs the hindcast's choice; 2-3 frames: the newest pair
        averaged = any(getattr(record, "context", 2) > 2 for record in choices)
        chosen = (f" (--context auto: the {args.average} of the last 3 pairs' motions)" if averaged
                  else " (--context auto: the newest pair's motion)")
    if cut == 1:  # predict repeated the last frame: no scheme, estimator or network ran
        print(f"the last context frame repeated as {_counted(args.horizon, 'predicted frame')}: a "
              f"scene cut lies before it (from {first} {used} context frames; --no-scene-detection "
              f"estimates the motion across the cut) in {seconds:.2f} s")
        return 0
    print(f"{scheme} prediction of {_counted(args.horizon, 'frame')} from {first} {used} context frames{chosen}, "
          f"{args.method} ({_format_options(options)}){refined} in {seconds:.2f} s")
    if cut is not None:
        print(f"flowkit: note: a scene cut before the last {_counted(cut, 'context frame')}: the "
              "motion is estimated from them (--no-scene-detection: across it)", file=sys.stderr)
    return 0


def _add_interpolation_options(p):
    """retime's and interpolate's --method, --interpolation, --model, --flow and -O."""
    p.add_argument("--method", choices=("project", "splat", "backward", "blend", "learned"),
                   default="project",
                   help="interpolation method (default project; splat: the default before "
                        "2026-12-01, about 20%% faster per output frame, 1.5 dB lower on the "
                        "retime benchmark; backward: Super SloMo's flows, faster than project; "
                        "learned: the interp-refine network on project, no measurable gain over it, 2.3x "
                        "its time on an idle CPU, needs flowkit-cv[torch]; docs/models.md)")
    p.add_argument("--interpolation", choices=("cubic", "linear"),
                   help="how --method project (and learned) and backward sample the frames (default cubic: "
                        "bicubic detail where the samples agree, +0.6 dB on the shared videos' "
                        "frames; linear: bilinear, about 1.2x faster per output frame)")
    p.add_argument("--model", metavar="WEIGHTS", help="--method learned: a .safetensors file of "
                   "interp-refine (flowkit train interp-refine; default the shipped weights)")
    p.add_argument("--flow", choices=_methods(), help="flow estimator (default dis: DIS, medium preset)")
    p.add_argument("-O", "--option", type=_option, action="append", metavar="NAME=VALUE",
                   help="keyword option of the flow estimator, repeatable (see flowkit flow --help)")


def _unit_times(text):
    """``--times``: numbers in [0, 1] separated by commas."""
    number = _number_in(1, "numbers in [0, 1] separated by commas", closed=(True, True))
    try:
        return [number(part) for part in text.split(",")]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected numbers in [0, 1] separated by commas, "
                                         f"got {text!r}") from None


def _add_crf(p, what=""):
    """--crf of the commands that write a video (``what`` starts the help: which output); the
    commands pass :func:`_crf` (``args.crf`` None: not given)."""
    p.add_argument("--crf", type=_integer_from(0), metavar="CRF",
                   help=f"{what}constant rate factor of x264/x265 (0-51) and vp8/vp9/av1 (0-63) "
                        f"(default {DEFAULT_CRF}; "
                        "mjpeg and the MPEG family, mpeg4, mpeg2video, wmv2, flv, ..., "
                        "encode at the fixed quantiser 2; ffv1 is lossless)")


def _crf(args):
    """``--crf`` (:func:`_add_crf`), ``video.DEFAULT_CRF`` when not given."""
    return DEFAULT_CRF if args.crf is None else args.crf


def _crf_note(args, output, codec, reencode=False):
    """``--crf`` checked for the encoder before any work (``video.check_crf``: 0-51 for x264
    and x265, a usage error naming --crf), and a note on stderr when it was given for an
    encoder that takes none (as FFmpeg warns of an unused ``-crf``): ``codec`` (None: the
    default of ``output``'s extension, retime's ``reencode_codec`` where ``reencode``
    (retime and translate), else ``VideoWriter``'s)."""
    if args.crf is None:
        return
    from .video import CRF_CODECS, QSCALE_CODECS, check_crf, writer_codec

    if codec is None and reencode:
        codec = reencode_codec(output)
    encoder = writer_codec(output, codec)
    try:
        check_crf(args.crf, encoder, "--crf")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if encoder not in CRF_CODECS:
        how = ("encodes at the fixed quantiser 2" if encoder in QSCALE_CODECS
               else "is lossless" if encoder == "ffv1" else "takes no constant rate factor")
        print(f"flowkit: note: --crf {args.crf} does not apply to {output}: its encoder, "
              f"{encoder}, {how}; --codec libx264 (or libx265, libvpx-vp9, libsvtav1) takes it",
              file=sys.stderr)


def _add_scene_options(p, without):
    """--scene-threshold X | --no-scene-detection (``without``: what that does); the command
    passes ``_scene_threshold(args)``."""
    scenes = p.add_mutually_exclusive_group()
    scenes.add_argument("--scene-threshold", type=_number_in(100, "a number in (0, 100]"),
                        default=10.0, metavar="X", help="scene-cut threshold, mean frame "
                        "difference in percent (minterpolate's scd_threshold; default 10)")
    scenes.add_argument("--no-scene-detection", dest="scene_threshold", action="store_const",
                        const=0, help=without)


def _scene_threshold(args):
    """The library's ``scene_threshold``: None for --no-scene-detection."""
    return None if args.scene_threshold == 0 else args.scene_threshold


def _rate(text, example="24000/1001"):
    """Argument type of retime's --fps: a number or a ratio such as 24000/1001 (exact); the
    other exact positive numbers take it with their own ``example`` (:func:`_exact`)."""
    try:
        value = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        value = None
    if value is None or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0 or a ratio such as {example}, "
                                         f"got {text!r}")
    return value


def _exact(example):
    """:func:`_rate` whose error shows ``example`` (--speed's 1/3: a frame rate's 24000/1001
    read oddly for a speed)."""
    return lambda text: _rate(text, example)


_CLOCK = re.compile(r"(?:(\d+):)?(\d+):(\d+(?:\.\d*)?)")  # FFmpeg's [HH:]MM:SS[.m...]


def _seconds(text):
    """Seconds >= 0 from ``text``: a number (``90.5``) or FFmpeg's clock time ``[HH:]MM:SS[.m]``
    (``1:30.5``, ``00:01:30``; minutes and seconds below 60); None when empty."""
    text = text.strip()
    if not text:
        return None
    clock = _CLOCK.fullmatch(text)
    if clock:
        hours, minutes, seconds = (float(g or 0) for g in clock.groups())
        if minutes >= 60 or seconds >= 60:
            raise ValueError
        return 3600 * hours + 60 * minutes + seconds
    value = float(text)
    if not (np.isfinite(value) and value >= 0):
        raise ValueError
    return value


def _time_range(text):
    """Argument type of --range: START:END in seconds (``2.5:4``), or START-END where either
    may be a clock time (``1:30-2:05.5``, ``00:01:30-00:02:00``); either side may be empty."""
    # a '-' after a digit, point, colon or space separates START-END (not a sign, an exponent's)
    parts = re.split(r"(?<=[\d.:\s])-", text, maxsplit=1)
    try:
        if len(parts) == 1:
            start, sep, end = text.partition(":")
            if not sep or ":" in end:
                raise ValueError
            parts = [start, end]
        values = tuple(_seconds(part) for part in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected START:END in seconds >= 0 such as 2.5:4, or START-END with clock times "
            f"such as 1:30-2:05.5, minutes and seconds below 60 (either may be empty), got "
            f"{text!r}") from None
    return values


def _range_text(values):
    """A --range value as given: ``2.5:4``, ``:4``, ``2:``."""
    return ":".join("" if v is None else f"{v:g}" for v in values)


def _wxh(size):
    return f"{size[0]}x{size[1]}"


def _size_text(written, rotation=0):
    """``"WxH"`` of frames written at ``(height, width)`` (padded to even for the encoder, as
    ``_padding_note`` says on stderr), with the display ``rotation`` kept from the input:
    ``"1920x1080 stored, 1080x1920 displayed (rotation 270)"``, ``"640x360 (rotation 180)"``."""
    text = f"{written[1]}x{written[0]}"
    if rotation % 180:
        text += f" stored, {written[0]}x{written[1]} displayed (rotation {rotation})"
    elif rotation:
        text += f" (rotation {rotation})"
    return text


def _lost_audio_note(source, info, audio):
    """retime's and translate's note on stderr when ``source`` declares audio but none was
    written although not dropped (``audio`` "none": its packets are gone, a file cut short)."""
    if info.audio and audio == "none":
        print(f"flowkit: note: {source} declares audio but holds no audio packets to write (a "
              f"file cut short?): the output has no audio", file=sys.stderr)


def _range_note(args, source, info, done):
    """retime's and translate's note on stderr when ``--range`` ends after the end of
    ``source`` (``info``): the range was taken to the end of the input (``done``: what was
    done to it, ``retimed``, ``kept``, ``translated``)."""
    end = segment_past_end(args.range, video_end(source, info) if args.range else None)
    if end is not None:
        print(f"flowkit: note: --range {_range_text(args.range)} ends after the end of {source}, "
              f"which lasts {_seconds_text(end)} s: {done} {args.range[0] or 0:g} s to its end",
              file=sys.stderr)


def _reencoded_audio_note(output, source, info, audio):
    """retime's and translate's note on stderr when audio that could have been copied was
    re-encoded because the output's container cannot hold its codec (Opus into .avi), as
    ffmpeg picks a container's own audio encoder."""
    from .video import audio_copy_refused, audio_encoder_name

    refused = audio_copy_refused(output, info.audio_codecs)
    if audio == "re-encoded" and refused:
        codecs = ", ".join(dict.fromkeys(refused))
        print(f"flowkit: note: {Path(output).suffix} files cannot hold {codecs} audio: "
              f"re-encoded as {audio_encoder_name(output, source)} (--audio drop leaves it out)",
              file=sys.stderr)


def _tracks(audio, tracks):
    """``copied``, ``copied (2 tracks)``: what happened to the audio (``tracks`` audio streams
    written), for the summary line of retime and translate."""
    if tracks > 1:
        return f"{audio} ({tracks} tracks)"
    return audio


class _Once(argparse.Action):
    """An option that may be given once (argparse keeps the last of repeated values)."""

    def __call__(self, parser, namespace, values, option_string=None):
        if getattr(namespace, self.dest) is not None:
            raise argparse.ArgumentError(self, f"given twice ({getattr(namespace, self.dest)} "
                                               f"and {values}); give one")
        setattr(namespace, self.dest, values)


def _add_output(p, what):
    """The output of a command that writes one: positional OUTPUT or ``-o OUTPUT`` (retime,
    translate, predict alike); :func:`_resolve_output` checks that exactly one is given."""
    p.add_argument("output", nargs="?", help=f"{what}; or -o OUTPUT")
    p.add_argument("-o", "--output", dest="output_option", metavar="OUTPUT", action=_Once,
                   help="the same as the positional OUTPUT")


def _resolve_output(args, what):
    """``args.output`` set from OUTPUT or -o OUTPUT, whichever was given; a usage error for
    both or neither."""
    if (args.output is None) == (args.output_option is None):
        got = "none" if args.output is None else f"{args.output} and -o {args.output_option}"
        raise UsageError(f"OUTPUT: expected one {what}, as OUTPUT or -o OUTPUT, got {got}")
    args.output = args.output if args.output is not None else args.output_option
    if not args.output.strip():
        raise UsageError(f"OUTPUT: expected a name for the {what}, got {args.output!r}")


def cmd_retime(args):
    """``flowkit retime``: change the frame rate and/or the speed of a video by interpolation."""
    import flowkit

    source = Path(args.input)
    _resolve_output(args, "output video file")
    if args.trim and args.range is None:
        raise UsageError("--trim: needs --range START:END (the part to keep)")
    _check_interpolation_flags(args)
    _check_video_input(source)
    # retime's own default for an extension without one (out.ts): libx264, as the library's
    _check_output("OUTPUT", args.output, "video", (source,),
                  codec=args.codec or reencode_codec(args.output))
    _crf_note(args, args.output, args.codec, reencode=True)
    options = _method_options(args.flow, args.option, flag="--flow") or None
    _compile_notice(args, *_RETIME_DRIVERS)
    start = time.perf_counter()
    with _frames_too_small_named(args, flag="--flow"):
        report = flowkit.retime(source, args.output, fps=args.fps, factor=args.factor,
                                speed=args.speed, duration=args.duration, segment=args.range,
                                trim=args.trim, method=args.method,
                                interpolation=args.interpolation, model=args.model,
                                flow=args.flow, flow_options=options, codec=args.codec,
                                crf=_crf(args), audio=args.audio,
                                scene_threshold=_scene_threshold(args),
                                device=args.device, progress=False if args.quiet else None,
                                deinterlace=args.deinterlace)
    seconds = time.perf_counter() - start
    cuts = len(report.cuts)
    info = probe_video(source)
    _wrote(args.output, f"{_counted(report.frames, 'frame')}, "
           f"{_stored_size_text(report.size, info.rotation, args.output)}, {_rate_text(report.fps)} fps, "
           f"{float(report.duration):.3f} s; audio {_tracks(report.audio, report.audio_tracks)}")
    _lost_audio_note(source, info, report.audio)
    _reencoded_audio_note(args.output, source, info, report.audio)
    _range_note(args, source, info, "kept" if args.trim else "retimed")
    _padding_note(report.padded, report.size)
    _depth_note(args.output, info.bit_depth)
    _alpha_note(args.output, info.alpha)
    _interlaced_note(args.output, info.field_order, args.deinterlace)
    _not_written_line(report.not_written)
    given = [(f"--{name}", value) for name in ("fps", "factor", "speed", "duration")
             if (value := getattr(args, name)) is not None]
    if args.range is not None and not args.trim and not given:
        print("flowkit: note: --range without --speed, --duration, --fps or --factor changes "
              "nothing: the whole video is re-encoded at its own rate (--trim keeps the range "
              "alone)", file=sys.stderr)
    elif (not args.trim and args.speed in (None, 1) and args.duration is None
          and report.fps == info.base_rate):  # speed 1 at the input's grid rate
        if report.interpolated == 0 and not report.gaps:
            # every output frame is an input frame at its own time (a held gap's are not)
            asked = " ".join(f"{flag} {_shown(value)}" for flag, value in given) or \
                "no --fps, --factor, --speed or --duration"
            print(f"flowkit: note: {asked}: the timeline is unchanged ({_rate_text(report.fps)} "
                  "fps, speed 1), the video was only re-encoded", file=sys.stderr)
        elif args.range is None and args.fps is None and report.interpolated:
            # and yet frames were made: a variable-rate input's gaps were filled (as
            # minterpolate makes a constant rate)
            print(f"flowkit: note: {source} has a variable frame rate: written at a constant "
                  f"{_rate_text(report.fps)} fps, its grid, with "
                  f"{_counted(report.interpolated, 'frame')} interpolated into its gaps (--fps "
                  "sets another rate)", file=sys.stderr)
    print(f"{_counted(report.interpolated, 'frame')} interpolated ({_interpolation_text(args, options)}), "
          f"{report.repeated} repeated, {report.dropped} dropped, "
          f"{_counted(cuts, 'scene cut')} not warped across, "
          f"{_counted(len(report.gaps), 'timestamp gap')} held{_gap_places(report.gaps)}, "
          f"in {seconds:.1f} s "
          f"({report.frames / seconds:.1f} output frames/s)")
    return 0


def _gap_places(gaps, shown=3):
    """`` (at 12.300-14.300 s, ... and 3 more)``: where the first ``shown`` of retime's held
    gaps lie in the input (seconds from its first frame, the frames before and after each), so
    that they can be found in a long file; empty when there are none."""
    if not gaps:
        return ""
    places = ", ".join(f"{float(t0):.3f}-{float(t1):.3f} s" for t0, t1 in gaps[:shown])
    more = f" and {len(gaps) - shown} more" if len(gaps) > shown else ""
    return f" (at {places}{more})"


def _check_interpolation_flags(args):
    """retime's and interpolate's --model, --interpolation, --flow and -O against --method
    (usage errors); then ``args.flow`` is the estimator (dis when not given)."""
    from ._interpolate import BACKWARD_SAMPLING

    if args.method == "blend" and (args.flow is not None or args.option):
        given = ", ".join(flag for flag, value in (("--flow", args.flow is not None),
                                                   ("-O", bool(args.option))) if value)
        raise UsageError(f"{given}: --method blend (the cross-fade) estimates no flow")
    args.flow = "dis" if args.flow is None else args.flow
    if args.method == "learned":  # before any work, naming the flag
        from .models._api import require_torch

        try:
            require_torch()
        except ImportError as exc:
            raise ImportError(f"--method learned: {exc}") from exc
    if args.model is not None and args.method != "learned":
        raise UsageError("--model needs --method learned")
    if args.interpolation is not None and args.method not in BACKWARD_SAMPLING:
        sampling = ", ".join(BACKWARD_SAMPLING[:-1]) + f" or {BACKWARD_SAMPLING[-1]}"
        raise UsageError(f"--interpolation: only with --method {sampling} (the methods that "
                         f"sample the frames), got --method {args.method}")


def _interpolation_text(args, options):
    """retime's and interpolate's report of how frames were made: ``project, cubic, dis``."""
    from ._interpolate import check_interpolation

    method = args.method if args.model is None else f"{args.method}, weights {args.model}"
    sampling = check_interpolation(args.interpolation, args.method)  # None: not sampled backward
    if sampling is not None:
        method += f", {sampling}"
    return method + ("" if args.method == "blend" else f", {args.flow}" + (
        f" ({_format_options(options)})" if options else ""))


def _interpolation_times(args):
    """``--times`` (a list) or ``--frames`` (one or neither: argparse) as a sequence of times
    in [0, 1], by default one frame, t = 0.5."""
    if args.times is None:
        return _EvenTimes(1 if args.frames is None else args.frames)
    return args.times


class _EvenTimes(collections.abc.Sequence):
    """``--frames N``'s times ``k / (N + 1)``, k = 1 .. N, each made when asked for: a huge N
    holds no list (slices are lists)."""

    def __init__(self, count):
        self.count = count

    def __len__(self):
        return self.count

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(self.count))]
        if not -self.count <= k < self.count:
            raise IndexError(k)
        return (k % self.count + 1) / (self.count + 1)


def cmd_interpolate(args):
    """``flowkit interpolate``: frames between two images (flowkit.interpolate)."""
    from flowkit.video import write_video

    _resolve_output(args, "output image, folder or video")
    times = _interpolation_times(args)
    _check_interpolation_flags(args)
    output = Path(args.output)
    inputs = (Path(args.frame0), Path(args.frame1))
    # an image extension (one this OpenCV cannot write is refused by _check_output); a
    # trailing slash: a folder, as for predict (_output_kind)
    suffix = output.suffix.lower()
    kind = _output_kind(args.output)
    if kind == "video" and (suffix in _IMAGE_OUTPUT_EXTENSIONS or _have_image_writer(output)):
        kind = "image"
    if kind == "image" and len(times) > 1:
        raise UsageError(f"OUTPUT: {output} is an image, which holds one frame, and {len(times)} "
                         "times were asked for; give a folder or a video file for a sequence")
    if isinstance(times, list) and kind != "image" and any(
            b <= a for a, b in zip([0.0] + times, times + [1.0])):
        raise UsageError(f"--times: a {kind} output holds FRAME0, the frames and FRAME1 in this order: "
                         f"expected times increasing inside (0, 1), got {_times_text(times)}")
    if kind != "video":
        _refuse_video_flags(args, "an image" if kind == "image" else "a folder")
    if kind == "image":
        _check_output("OUTPUT", output, "image", inputs)
    elif kind == "video":
        args.codec = _output_codec(args.codec, output)
        _check_output("OUTPUT", output, "video", inputs, codec=args.codec,
                      other="an image extension (.png, ...) for one frame, or a folder (a path "
                            "without an extension) for PNG files")
        _crf_note(args, output, args.codec)
    else:
        _check_output_folder(output, inputs[0])
    frame0, frame1 = _read_pair(args.frame0, args.frame1, command="interpolate")
    _check_frames_fit(output, kind, frame0)
    options = _method_options(args.flow, args.option, flag="--flow") or None
    _compile_notice(args, *_RETIME_DRIVERS)
    start = time.perf_counter()
    frames = _interpolated(frame0, frame1, times, args, options)
    size = f"{frame0.shape[1]}x{frame0.shape[0]}"
    count = len(times) if kind == "image" else len(times) + 2
    fps = args.fps or 30
    with _progress(args, total=count, unit="frame", desc="interpolate") as bar:
        if kind == "image":
            _write_image(output, next(frames))
            bar.update()
        elif kind == "video":
            _, written = write_video(output, itertools.chain([frame0], frames, [frame1]), fps,
                                     codec=args.codec, crf=_crf(args), callback=bar.update)
        else:
            _write_folder(output, itertools.chain([frame0], frames, [frame1]), bar)
    seconds = time.perf_counter() - start
    if kind == "image":
        _wrote(output, f"{size}, t = {_times_text(times)}")
    elif kind == "video":
        _wrote(output, f"{_counted(count, 'frame')}, {_size_text(written)}, "
               f"{_rate_text(fps)} fps: FRAME0, t = {_times_text(times)}, FRAME1")
        _padding_note(frame0.shape[1::-1], written[::-1])
        _depth_note(output, 16 if frame0.dtype == np.uint16 else 8)
    else:
        print(f"wrote {_counted(count, 'PNG file')} to {output} (frame_000000.png FRAME0 ... "
              f"frame_{count - 1:06d}.png FRAME1, t = {_times_text(times)} between)")
    made = sum(0 < t < 1 for t in times)  # t = 0 and 1 are copies of the inputs
    copies = len(times) - made
    copied = f", {_counted(copies, 'input frame')} copied (t = 0 or 1)" if copies else ""
    print(f"{_counted(made, 'frame')} interpolated ({_interpolation_text(args, options)}){copied} "
          f"in {seconds:.2f} s (writing included)")
    return 0


def _interpolated(frame0, frame1, times, args, options):
    """The frames of ``flowkit.interpolate`` at ``times``, one by one, its flows estimated once
    (``_interpolate.interpolated_frames``); frames too small for ``--flow`` named."""
    from ._interpolate import interpolated_frames

    frames = interpolated_frames(frame0, frame1, times, flow=args.flow, flow_options=options,
                                 method=args.method, interpolation=args.interpolation,
                                 device=args.device, model=args.model)
    while True:
        with _frames_too_small_named(args, flag="--flow"):
            frame = next(frames, None)
        if frame is None:
            return
        yield frame


def _check_frames_fit(output, kind, frame):
    """interpolate's output for frames like ``frame`` (FRAME0's kind), before any work: float
    frames only into a float TIFF; 16-bit ones not into a format of 8 bits; a channel count the
    image format takes (OpenCV encodes a 2x2 frame of the kind)."""
    import cv2

    suffix = output.suffix.lower()
    if frame.dtype.kind == "f" and (kind != "image" or suffix not in (".tif", ".tiff")):
        raise UsageError(f"FRAME0: a {frame.dtype} image: interpolate writes float frames to a "
                         f".tif image only (PNG files and videos hold 8 or 16 bits), got OUTPUT {output}")
    if kind != "image":
        return
    if frame.dtype == np.uint16 and suffix not in _DEEP_IMAGE_EXTENSIONS:
        raise UsageError(f"OUTPUT: {output}: {suffix} images hold 8 bits and FRAME0 is 16-bit; "
                         "write .png or .tif (or a folder)")
    try:
        encoded, _ = cv2.imencode(suffix, np.zeros((2, 2) + frame.shape[2:], frame.dtype))
    except cv2.error:
        encoded = False
    if not encoded:
        raise UsageError(f"OUTPUT: {output}: OpenCV cannot write {_kind(frame)} images as {suffix}; "
                         "write .png")


_DEEP_IMAGE_EXTENSIONS = frozenset({".png", ".tif", ".tiff", ".pgm", ".ppm", ".pnm"})  # 16-bit
# image formats OpenCV may write, depending on its build (interpolate's OUTPUT, not a video)
_IMAGE_OUTPUT_EXTENSIONS = IMAGE_EXTENSIONS | {".exr", ".hdr", ".pic", ".jp2", ".gif", ".avif",
                                               ".pfm", ".pxm", ".sr", ".ras"}


def _times_text(times):
    """``0.25, 0.5, 0.75`` (at most 6 significant digits each); a long list as its first
    three, ``...`` and its last."""
    shown = times if len(times) <= 6 else [*times[:3], None, times[-1]]
    return ", ".join("..." if t is None else f"{t:.6g}" for t in shown)


def _import_from_cwd():
    """Put the current directory first on ``sys.path`` as ``python -m`` does, so that
    ``--op mymodule:func`` finds ``mymodule.py`` there with the ``flowkit`` console script too
    (whose ``sys.path[0]`` is the script's own folder)."""
    here = os.getcwd()
    if not any(entry in ("", ".") or os.path.abspath(entry) == here for entry in sys.path):
        sys.path.insert(0, here)


def cmd_translate(args):
    """``flowkit translate``: a per-frame operation on a video, made temporally consistent."""
    import flowkit

    source = Path(args.input)
    _resolve_output(args, "output video file")
    _check_video_input(source)
    # translate's own default for an extension without one (out.ts): libx264, as retime's
    _check_output("OUTPUT", args.output, "video", (source,),
                  codec=args.codec or reencode_codec(args.output))
    _crf_note(args, args.output, args.codec, reencode=True)
    _import_from_cwd()
    options = _method_options(args.flow, args.option, flag="--flow") or None
    start = time.perf_counter()
    with renaming("method", "--method", (ImportError,)):  # "gradient" without SciPy
        report = flowkit.translate(source, args.output, args.op, method=args.method,
                                   strength=args.strength, flow=args.flow, flow_options=options,
                                   codec=args.codec, crf=_crf(args),
                                   audio=not args.no_audio and args.audio == "copy",
                                   scene_threshold=_scene_threshold(args),
                                   segment=args.range, progress=False if args.quiet else None,
                                   deinterlace=args.deinterlace)
    seconds = time.perf_counter() - start
    cuts = len(report["cuts"])
    info = probe_video(source)
    _wrote(args.output, f"{report['frames']} frames, "
           f"{_stored_size_text(report['size'], info.rotation, args.output)}, "
           f"{_rate_text(_written_rate(args.output, report['fps']))} fps; "
           f"audio {_tracks(report['audio'], report['audio_tracks'])}")
    _lost_audio_note(source, info, report["audio"])
    _reencoded_audio_note(args.output, source, info, report["audio"])
    _range_note(args, source, info, "translated")
    _padding_note(report["padded"], report["size"])
    _dropped_note(args.output, report["dropped_frames"], report["fps"])  # AVI: one frame per slot
    _depth_note(args.output, info.bit_depth)
    _alpha_note(args.output, info.alpha)
    _interlaced_note(args.output, info.field_order, args.deinterlace)
    _not_written_line(report["not_written"])
    part = ""
    if args.range is not None:  # the rest was copied: say how much was translated
        part = f" on {_counted(report['processed'], 'frame')} (--range {_range_text(args.range)})"
    print(f"{args.op} per frame{part}, made consistent ({args.method}, strength {args.strength:g}, "
          f"{args.flow}), {_counted(cuts, 'scene cut')} reset, in {seconds:.1f} s")
    return 0


def _names_text(paths, folder, most=5):
    """The names of ``paths`` (relative to ``folder`` where inside it), sorted, as the
    ``.flo`` folder's line shows many files: all of up to ``most``, else the first ones,
    ``...`` and the last (``a.mp4, b.mp4, c.mp4 ... z.mp4``)."""
    names = []
    for path in paths:
        try:
            names.append(str(Path(path).relative_to(folder)))
        except ValueError:
            names.append(str(path))
    names.sort()
    if len(names) <= most:
        return ", ".join(names)
    return f"{', '.join(names[:most - 2])} ... {names[-1]}"


def cmd_batch(args):
    """``flowkit batch``: a job over many videos (or one long video in chunks) on Dask."""
    import flowkit

    options = dict(args.option or ())
    _check_output_folder_path("-o", Path(args.output))
    # worker processes killed mid-task (Ctrl-C, SIGTERM, a crash) cannot release their
    # multiprocessing semaphores; the resource tracker, started with this process's -W
    # options, releases them at exit and would warn about it on stderr: errors are one line
    quiet_tracker = "ignore:resource_tracker:UserWarning"
    if quiet_tracker not in sys.warnoptions:
        sys.warnoptions.append(quiet_tracker)
    report = flowkit.batch(args.job, args.inputs, args.output, scheduler=args.scheduler,
                           workers=args.workers, threads_per_worker=args.threads_per_worker,
                           chunk_frames=args.chunk_frames, retries=args.retries,
                           resume=args.resume, progress=not args.quiet and sys.stderr.isatty(),
                           _announce=not args.quiet, **options)
    # raised in the workers: printed as a single run prints them, before what was written
    for notes in report.warnings.values():
        for note in notes:
            print(f"flowkit: warning: {note}", file=sys.stderr)
    for src, message in report.failed.items():
        message = message[len(f"{src}: "):] if message.startswith(f"{src}: ") else message
        # as set here; the job's own parameter for the input is the input named on the line
        for name, flag in (("job_options: ", "-O "), ("outputs: ", "-o: "), ("src: ", "")):
            message = flag + message[len(name):] if message.startswith(name) else message
        print(f"flowkit: failed: {src}: {message}", file=sys.stderr)
    if report.done:  # every command prints what it wrote (README)
        print(f"wrote {_counted(len(report.done), 'file')} to {args.output} "
              f"({_names_text(report.done, args.output)})")
    for src, kinds in report.not_written.items():  # as flowkit retime says it of one input
        _not_written_line(kinds, src)
    for src in report.alpha:
        _alpha_note(src, True)
    for src, (size, written) in report.padded.items():
        _padding_note(size, written, source=src, keep=f"run flowkit {args.job} with an .mkv "
                      "output and --codec ffv1, or .webm")
    skipped = f", {len(report.skipped)} skipped (exist)" if report.skipped else ""
    rate = report.frames / report.seconds if report.seconds else 0.0
    files = "file" if len(report.done) == 1 else "files"
    # done, but a task of theirs failed first (--retries spent, or a worker lost)
    retried = f" ({len(report.retried)} after a failed try)" if report.retried else ""
    print(f"{args.job}: {len(report.done)} {files} done{retried}, {len(report.failed)} failed"
          f"{skipped}; "
          f"{report.frames} frames in {report.seconds:.1f} s ({rate:.1f} frames/s) -> {args.output}")
    return 0 if report.ok else 1


def _train_command(args, flags=None):
    """The command line that reproduces this training run, every option spelled out."""
    words = ["flowkit", "train", args.model] + (["--data", *args.data] if args.data else [])
    words += ["--out", args.out]
    if flags is None:
        flags = _GAN_TRAIN_FLAGS if args.model == "predict-gan" else (
            "epochs", "crop", "batch", "lr", "triplets", "crops_per_triplet", "shrink", "threads",
            "device", "seed", "resume")
    for flag in flags:
        if getattr(args, flag) is not None:
            words += ["--" + flag.replace("_", "-"), str(getattr(args, flag))]
    return " ".join(words)


def cmd_train(args):
    """``flowkit train MODEL``: train a learned model on videos (flowkit.models.train). Ctrl-C
    keeps the last checkpoint and says how to continue from it."""
    from .models._api import require_torch

    require_torch()
    if not args.out.lower().endswith(".safetensors"):  # W.SAFETENSORS too, as .MP4 is
        raise UsageError(f"--out: expected a .safetensors path, got {args.out!r}")
    checkpoint = Path(args.out + ".ckpt")
    # the checkpoint as it was: a file's time is the kernel's coarse clock, which can lag
    # time.time() taken before it was written (a checkpoint of this run went unmentioned)
    before = _file_state(checkpoint)
    try:
        return _train(args)
    except KeyboardInterrupt:
        if checkpoint.is_file() and _file_state(checkpoint) != before:
            unit = "step" if args.model == "text2video-shapes" else "epoch"
            print(f"flowkit: note: {checkpoint} holds the last finished {unit}: the same "
                  f"command with --resume {checkpoint} continues the run", file=sys.stderr)
        raise


def _file_state(path):
    """``path``'s size, times and inode, None where it does not exist: a file written since
    has another (an atomic write replaces the inode)."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino


def _train(args):
    _note_existing(args.out)
    if args.model == "text2video-shapes":
        args.batch, args.lr = args.batch or 32, args.lr or 2e-3
        return _train_text2video(args)
    if args.model == "predict-gan":  # its own defaults where not given (train_predict_gan's)
        return _train_predict_gan(args)
    from .models import train

    args.batch, args.lr = args.batch or 16, args.lr or 1e-3
    options = dict(epochs=args.epochs, crop=args.crop, batch=args.batch, lr=args.lr,
                   device=args.device, resume=args.resume, seed=args.seed, shrink=args.shrink,
                   threads=args.threads, command=_train_command(args),
                   progress=not args.quiet and sys.stderr.isatty())
    if args.model == "colorize":  # samples are single frames
        meta = train.train_colorize(args.data, args.out, frames=args.triplets,
                                    per_frame=args.crops_per_triplet, **options)
    else:
        meta = train.train_interp_refine(args.data, args.out, triplets=args.triplets,
                                         per_triplet=args.crops_per_triplet, **options)
    _wrote(args.out, f"{meta['num_params']} parameters, {meta['file_size']} bytes, "
           f"final loss {meta['losses'][-1]:.5f}, {meta['wall_seconds']} s")
    return 0


# flowkit train predict-gan: its options (defaults differ from interp-refine's: smaller crops)
_GAN_TRAIN_FLAGS = ("epochs", "crop", "batch", "lr", "clips", "crops_per_clip", "shrink",
                    "adversarial_weight", "pixel_loss", "threads", "device", "seed", "resume")


def _train_predict_gan(args):
    from .models.train_gan import train_predict_gan

    options = {flag: getattr(args, flag) for flag in _GAN_TRAIN_FLAGS
               if flag not in ("clips", "crops_per_clip") and getattr(args, flag) is not None}
    command = _train_command(args) + "".join(f" --base {k}={v!r}" for k, v in args.base or ())
    meta = train_predict_gan(args.data, args.out, clips=args.clips, per_clip=args.crops_per_clip,
                             base=_gan_base(args.base), command=command,
                             progress=not args.quiet and sys.stderr.isatty(), **options)
    last = ", ".join(f"{k} {v:.5f}" for k, v in meta["losses"][-1].items())
    _wrote(args.out, f"{meta['num_params']} parameters, {meta['file_size']} bytes, final "
           f"losses {last}, {meta['wall_seconds']} s")
    return 0


def _gan_base(pairs):
    """``--base NAME=VALUE`` pairs over train_gan.BASE (None when none given)."""
    from .models.train_gan import BASE

    return {**BASE, **dict(pairs)} if pairs else None


def _train_text2video(args):
    """``flowkit train text2video-shapes``: the data is generated (flowkit.models.shapes)."""
    from .models.train_text2video import train_text2video

    meta = train_text2video(args.out, steps=args.steps, batch=args.batch, lr=args.lr,
                            device=args.device, resume=args.resume, seed=args.seed,
                            threads=args.threads,
                            command=_train_command(args, ("steps", "batch", "lr", "threads",
                                                          "device", "seed", "resume")),
                            progress=not args.quiet and sys.stderr.isatty(),
                            log=(lambda _: None) if args.quiet else print)
    _wrote(args.out, f"{meta['num_params']} parameters, {meta['file_size']} bytes, "
           f"final L1 {meta['losses']['per_100_steps'][-1][2]:.5f}, {meta['wall_seconds']} s")
    return 0


def cmd_generate(args):
    """``flowkit generate CAPTION -o OUT``: a clip from a caption (flowkit.generate)."""
    import cv2

    import flowkit

    _check_output("-o", args.output, "video", codec_flag=False)  # generate has no --codec
    seed = args.seed if args.seed is not None else int(np.random.default_rng().integers(2**31))
    try:
        clip = flowkit.generate(args.caption, model=args.model, frames=args.frames, seed=seed,
                                device=args.device)
    except (ValueError, TypeError) as exc:  # the library's model: is the flag --model
        if str(exc).startswith("model: "):
            raise UsageError(f"--model: {str(exc)[len('model: '):]}") from None
        raise
    try:
        with flowkit.VideoWriter(args.output, args.fps) as writer:
            for frame in _progress(args, iterable=clip, unit="frame", desc="generate"):
                picture = writer.fit(cv2.resize(frame, (args.size, args.size),
                                                interpolation=cv2.INTER_NEAREST))
                writer.write(picture)
    except ValueError as exc:  # the encoder refuses the size: generate has --size, no --codec
        if str(exc).startswith("codec: "):
            raise UsageError(f"--size: {str(exc)[len('codec: '):]}") from None
        raise
    size = _size_text(picture.shape[:2])
    _wrote(args.output, f"{_counted(len(clip), 'frame')}, {size}, seed {seed}: {args.caption!r}")
    _padding_note((args.size, args.size), picture.shape[1::-1], keep="write .mkv or .webm")
    return 0


def cmd_color(args):
    """``flowkit color``: render a ``.flo`` file with the Middlebury colour wheel."""
    import flowkit

    if Path(args.flo).is_dir():
        raise UsageError(f"FLO: {args.flo} is a folder; expected a .flo file")
    _check_flo_name("FLO", args.flo)  # as read_flo (Middlebury's reader) does
    refuse_special_input(args.flo, "a .flo file", f"FLO: {args.flo}")
    if not Path(args.flo).is_file():
        raise FileNotFoundError(f"FLO: no such .flo file: {args.flo}")
    _check_output("-o", args.output, "image", (args.flo,))
    try:
        flow = flowkit.read_flo(args.flo)
    except (ValueError, OSError) as exc:  # truncated, not a .flo, unreadable: named FLO as a
        raise type(exc)(f"FLO: {_one_line(exc)}") from exc  # missing one is above

    _write_image(args.output, flowkit.flow_to_color(flow, max_flow=args.max_flow))
    _wrote(args.output, f"{flow.shape[1]}x{flow.shape[0]} colour-coded flow")
    return 0



def cmd_probe(args):
    """``flowkit probe``: what flowkit reads from a video file (``video.probe_video``) or a
    TIFF stack, as ``name: value`` lines or one JSON object."""
    import json

    source = Path(args.input)
    if tiff_pages(source):  # an image stack (or one TIFF): what flow and predict read from it
        fields = _stack_fields(source)
        print(json.dumps(fields, indent=2) if args.json else
              "\n".join(f"{name}: {_yes_no(value)}" for name, value in fields.items()))
        return 0
    _check_video_input(source)
    fields = _probe_fields(probe_video(source))
    if args.json:
        print(json.dumps(fields, indent=2, ensure_ascii=False))
        return 0
    for name, value in fields.items():
        if name in ("frame_rate", "base_rate") and value is not None:
            value = _rate_text(Fraction(value))
        elif name == "duration" and value is not None:
            value = f"{float(Fraction(value)):.6g} s ({value})"
        elif name == "audio_codecs":
            continue  # in the audio line
        elif name == "audio" and value:
            count = len(fields["audio_codecs"])
            value = f"{count} track{'s' * (count > 1)} ({', '.join(fields['audio_codecs'])})"
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items()) or "none"
        elif name == "chapters":
            value = "; ".join(f"{c['start']}-{c['end']} s {c['tags']}" for c in value) or "none"
        print(f"{name}: {'none' if value is None else value}")
    return 0


def _stack_fields(source):
    """What ``flow`` and ``predict`` read from the TIFF ``source`` (a stack, or one image,
    which FFmpeg's reader took for a 25 fps video, or could not read when float): its page
    count and its first page's size, channels and samples (OpenCV's decoding, as
    ``iter_frames``)."""
    from .video import _first_image, gray_image, read_depth

    data, image = _first_image(source)  # decoded once: depth and gray read from it
    channels = 1 if image.ndim == 2 else image.shape[2]
    pages = tiff_pages(source)
    return {"format": "tiff stack" if pages > 1 else "tiff image", "width": image.shape[1],
            "height": image.shape[0], "frame_count": pages, "channels": channels,
            "dtype": image.dtype.name, "bit_depth": image.dtype.itemsize * 8,
            "read_depth": read_depth(image.dtype), "gray": gray_image(data, image),
            "alpha": channels in (2, 4)}


def _yes_no(value):
    return ("yes" if value else "no") if isinstance(value, bool) else value


def _probe_fields(info):
    """``VideoInfo`` as a JSON-able dict in its fields' order, ``base_rate`` after
    ``frame_rate``, ``read_depth`` after ``bit_depth``, ``sample_aspect_ratio`` after ``height``,
    ``timecode`` after ``duration``, ``field_order`` after ``pix_fmt`` and ``audio_codecs`` after
    ``audio``: fractions (rates,
    time base, duration, chapter times) as ``"n/d"`` strings, ffprobe's way (``"30000/1001"``;
    whole numbers without ``/1``)."""
    import dataclasses

    def plain(value):
        if isinstance(value, Fraction):
            return str(value)
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        return value

    fields = {}
    for field in dataclasses.fields(info):
        value = getattr(info, field.name)
        if field.name in _PROBE_AFTER.values():
            continue  # shown beside the field it qualifies
        if field.name == "chapters":
            value = [{"start": plain(start), "end": plain(end), "tags": plain(tags)}
                     for start, end, tags in value]
        fields[field.name] = plain(value)
        if field.name == "frame_rate":
            fields["base_rate"] = plain(info.base_rate)
        if field.name == "bit_depth":
            fields["read_depth"] = info.read_depth
        if field.name in _PROBE_AFTER:
            fields[_PROBE_AFTER[field.name]] = plain(getattr(info, _PROBE_AFTER[field.name]))
    return fields


# VideoInfo's later fields shown earlier, after the field they qualify
_PROBE_AFTER = {"height": "sample_aspect_ratio", "duration": "timecode", "pix_fmt": "field_order",
                "audio": "audio_codecs"}

_done_queue = None  # a warm-up worker's queue of finished cases, set by _warmup_worker


def _warmup_worker(done_queue):
    # worker processes end quietly on Ctrl-C; the parent reports it once
    import signal

    global _done_queue
    _done_queue = done_queue
    signal.signal(signal.SIGINT, lambda *_: os._exit(130))


def _warmup_group(group):
    from ._warmup import run_cases

    return run_cases(group, report=_done_queue.put)


def cmd_warmup(args):
    """``flowkit warmup``: compile every kernel into Numba's on-disk cache."""
    import queue
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from ._warmup import CASES, GROUPS, run_cases

    if args.list:
        print("\n".join(CASES))
        return 0
    unknown = [name for name in args.only or () if name not in CASES]
    if unknown:
        raise UsageError(f"--only {unknown[0]}: no such warm-up case; the cases are {', '.join(CASES)}")
    chosen = set(args.only or CASES)
    groups = [[name for name in group if name in chosen] for group in GROUPS.values()]
    groups = [group for group in groups if group]
    jobs = min(args.jobs or os.cpu_count() or 1, len(groups))
    timings = {}
    start = time.perf_counter()
    with _progress(args, total=len(chosen), unit="case", desc="warmup") as bar:
        def finished(timing):  # each case's line as it finishes, above the bar
            timings[timing[0]] = timing[1]
            bar.write(f"{timing[0]:24s} {timing[1]:6.2f} s", file=sys.stdout)
            sys.stdout.flush()
            bar.update()

        if jobs == 1:
            for group in groups:
                run_cases(group, report=finished)
        else:
            context = get_context("spawn")
            done_queue = context.Queue()
            with ProcessPoolExecutor(jobs, mp_context=context, initializer=_warmup_worker,
                                     initargs=(done_queue,)) as pool:
                futures = {pool.submit(_warmup_group, group): group for group in groups}
                while len(timings) < len(chosen):
                    try:
                        finished(done_queue.get(timeout=0.2))
                        continue
                    except queue.Empty:
                        pass
                    for future, group in futures.items():  # a failed group ends the run
                        if future.done() and future.exception() is not None:
                            exc = future.exception()
                            raise RuntimeError(f"warm-up of {', '.join(group)} failed: "
                                               f"{type(exc).__name__}: {exc}") from exc
    wall = time.perf_counter() - start
    cache = os.environ.get("NUMBA_CACHE_DIR")
    where = f" into {cache}" if cache else ""
    workers = f"{jobs} worker processes" if jobs > 1 else "this process"
    cases = _counted(len(timings), "case")
    print(f"warmed {cases}{where} in {wall:.1f} s with {workers} (each time is a compilation, "
          f"or a cache load if the cache already held it)")
    return 0


# --- parser and main ----------------------------------------------------------------------------

def build_parser():
    """The argparse parser of the ``flowkit`` command.

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = _Parser(
        prog="flowkit",
        description="Optical flow, frame prediction, video retiming, flicker-free per-frame "
                    "operations, generation and flow pictures from the command line.")
    parser.add_argument("--version", action="version", version=f"flowkit {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    # the same two flags after the subcommand (SUPPRESS: an absent flag keeps the value above)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the traceback of an error")
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="no progress bar")
    method = _method_parser(_methods(), "estimator (default farneback)")
    # flow's: use_previous_flow (farneback_video's) is taken for a video there only
    flow_method = _method_parser(_methods(), "estimator (default farneback)", video=True)
    # predict's --method also takes gan (its own parent: subparsers share a parent's actions);
    # its default is predict's
    from ._predict import DEFAULT_FLOW

    predict_method = _method_parser(
        _methods() + ("gan",),
        f"estimator (default {DEFAULT_FLOW}, as flowkit.predict), or gan: that prediction passed "
        "through the predict-gan network (needs flowkit-cv[torch]; its shipped weights change < 0.1 "
        "grey level, docs/models.md)", default=DEFAULT_FLOW)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", parents=[common, method],
                       help="flow + warp + colour picture + report on the built-in sample",
                       description="Run the main job on the built-in sample pair (a synthetic "
                                   "320x240 colour pair with exact ground truth): optical flow "
                                   "(--method, Farneback by default), frame1 warped back by it, a "
                                   "Middlebury colour-wheel picture and a report of the errors "
                                   "against the truth and against OpenCV, written to --out. "
                                   "Each file is written atomically and replaces the file of "
                                   "an earlier run (the last line says how many were replaced).")
    p.add_argument("--out", default="flowkit-demo", help="output folder (default ./flowkit-demo), "
                   "created if missing, in an existing folder")
    p.set_defaults(run=cmd_demo)

    p = sub.add_parser(
        "flow", parents=[common, flow_method], help="flow of two images, or of every pair of a video",
        description="Flow from FRAME0 to FRAME1 (two image files: gray or RGB, 8 or 16 bit; an "
                    "alpha channel is ignored), written with -o as .flo and/or with --png as a "
                    "colour-wheel picture. With FRAME0 alone, a video file or a folder of images: "
                    "the flow of each consecutive pair, streamed, written with --video as a "
                    "colour-coded flow video and/or with --flo-dir as flow_000000.flo, ... An "
                    f"output file is written atomically and {_REPLACES}; --flo-dir refuses a "
                    "folder already holding flow_*.flo files.")
    p.add_argument("frame0", help="first image, or a video file / image folder")
    p.add_argument("frame1", nargs="?", help="second image (omit for a video)")
    p.add_argument("-o", "--output", help="two images: output .flo")
    p.add_argument("--png", help="two images: colour-wheel picture of the flow")
    p.add_argument("--video", help="video: colour-coded flow video "
                   f"({', '.join(DEFAULT_CODECS)}; others need --codec); the picture of pair "
                   "(k, k+1) is written at frame k's time (from the first frame on: a variable "
                   "frame rate is kept; a time within one timestamp unit of the input's grid "
                   "on the grid, as retime writes frames) and a video input's display rotation "
                   "is kept as a tag, as predict and retime keep them")
    p.add_argument("--flo-dir", help="video: folder for one .flo per pair (created if missing, in "
                                     "an existing folder)")
    p.add_argument("--max-flow", type=_positive_float, help="flow length (px) of full colour saturation; "
                   "default: each picture scaled to its own largest flow")
    p.add_argument("--fps", type=_fps, help=f"video: a constant frame rate for --video, in (0, "
                   f"{MAX_FPS:g}], instead of the input frames' times (default: those, at the "
                   "rate of the grid they lie on divided by --step; 30 fps for a folder)")
    p.add_argument("--codec", help="video: encoder of --video, an FFmpeg name (libx264, libx265, "
                   "libvpx-vp9, mpeg4, mjpeg, ffv1) or a FourCC (mp4v, MJPG, FFV1); default by "
                   f"extension: {_codec_defaults()}")
    _add_crf(p, "video: --video's ")
    p.add_argument("--step", type=_positive, default=1, help="video: use every STEP-th frame")
    p.add_argument("--resize", type=_size, metavar="WxH", help="video: resize frames to WIDTHxHEIGHT")
    p.add_argument("--gray", action="store_true", help="video: convert frames to gray first (a "
                   "folder whose first image is gray is read as gray without it)")
    p.set_defaults(run=cmd_flow)

    p = sub.add_parser(
        "predict", parents=[common, predict_method], help="predict the frames that follow a video",
        description="Predict the next --horizon frames of a video file or image folder from its "
                    "optical flow (flowkit.predict): the context is the last --context frames, or "
                    "the --context frames from --start N. OUTPUT is a video (by extension) or a "
                    "folder (no extension, or a trailing /) for frame_000000.png, ... (upright "
                    "frames; float32 frame_000000.tif, ... from a folder of float TIFFs, which "
                    "no video holds; a folder whose first image is gray gives gray frames), "
                    "or a .tif/.tiff file: a TIFF stack of a page per frame (gray, 16-bit and "
                    "float32 kept). A video output keeps a "
                    "video input's display rotation (as a tag, the frames stored as the input's; "
                    "AVI stores no tag: upright frames there), colour tags and language, as "
                    f"retime does. A video or TIFF OUTPUT is written atomically and {_REPLACES}; "
                    "a folder "
                    "already holding frame_*.png files is refused.")
    p.add_argument("input", help="video file or folder of images")
    _add_output(p, f"output video ({', '.join(DEFAULT_CODECS)}), folder (created if missing, "
                   "in an existing folder) or TIFF stack (.tif)")
    p.add_argument("--horizon", type=_positive, required=True,
                   help="number of frames to predict (all held in memory: ~16 bytes per pixel each)")
    p.add_argument("--context", type=_context, default="auto",
                   help="frames the motion is estimated from (>= 2), or auto (default): the last "
                   "4 frames are read and the newest pair's motion or the last three pairs' "
                   "motions combined by --average (the component-wise median by default) is used, "
                   "whichever predicts the last frame better from the three before it")
    p.add_argument("--start", type=_non_negative, help="index of the first context frame (default: "
                   "the context is the last frames of the input)")
    p.add_argument("--side-by-side", action="store_true",
                   help="write truth | prediction side by side (needs --start and the input "
                        "continuing for --horizon frames after the context)")
    p.add_argument("--scheme", choices=("semi-lagrangian", "forward", "reestimate"), default="semi-lagrangian",
                   help="extrapolation scheme (default semi-lagrangian)")
    p.add_argument("--n-iter", type=_non_negative,
                   help="semi-Lagrangian sub-steps per frame through a held field (default 1; 0: "
                        "Euler; needs --no-advect-flow)")
    p.add_argument("--speed-spread", type=_speed_spread,
                   help="relative uncertainty of the speed (0-0.5; default 0.1 with semi-lagrangian, "
                        "as flowkit.predict; 0: sharp): each frame is the mean over three speeds, "
                        "blurring moving content along its motion (docs/prediction.md)")
    p.add_argument("--advect-flow", action=argparse.BooleanOptionalAction,
                   help="carry the motion field with the moving content, so each pixel keeps its "
                        "own velocity (default with semi-lagrangian, as flowkit.predict; "
                        "--no-advect-flow holds the field in place; docs/prediction.md)")
    p.add_argument("--average", choices=("median", "mean"),
                   help="how the motions of a context > 2 are combined (default median)")
    p.add_argument("--smooth", choices=("gaussian", "median", "bilateral"),
                   help="smooth the motion first (bilateral follows the last frame's edges)")
    p.add_argument("--smooth-size", type=int, metavar="N",
                   help="window of --smooth (odd, default 5; smooth_flow's size)")
    p.add_argument("--fps", type=_fps, help="frame rate of a video output (default: the input's, or 30)")
    p.add_argument("--codec", help="encoder of a video output, an FFmpeg name or a FourCC; default "
                   f"by extension: {_codec_defaults()}")
    _add_crf(p, "a video output: ")
    p.add_argument("--resize", type=_size, metavar="WxH", help="resize frames to WIDTHxHEIGHT first")
    p.add_argument("--gray", action="store_true", help="convert frames to gray first (a folder "
                   "whose first image is gray is read as gray without it)")
    _add_scene_options(p, "estimate the motion across a cut in the context too")
    _add_gan_method(p)
    p.add_argument("--device", choices=("cpu", "cuda"), help="where the estimator (unless -O "
                   "device=... sets its own) and the warping run, as flowkit.predict's device")
    p.add_argument("--deinterlace", action="store_true",
                   help="read an interlaced video a frame per field (FFmpeg's bwdif, as ffmpeg "
                        "-vf bwdif=mode=send_field), as retime --deinterlace: the context is "
                        "its last fields (--start counts fields), the frames predicted follow "
                        "at the field rate (25i: 50 fps); a progressive input is read as it is "
                        "(default: interlaced frames are read woven, combed where things move, "
                        "with a note)")
    p.set_defaults(run=cmd_predict)

    p = sub.add_parser(
        "retime", parents=[common], help="change the frame rate or speed of a video (interpolation)",
        description="Write INPUT at another frame rate and/or playback speed (flowkit.retime): "
                    "frames between input frames are interpolated with optical flow, frames are "
                    "dropped where the rate goes down, timestamps are exact. Audio is copied when "
                    "the duration is unchanged, else time-stretched; scene cuts are not warped "
                    "across (the nearer frame is repeated). OUTPUT is written atomically and "
                    f"{_REPLACES}.")
    p.add_argument("input", help="video file")
    _add_output(p, "output video file (.mp4, .mov, .mkv, .webm, ...)")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--fps", type=_rate, help=f"output frame rate in (0, {MAX_FPS}], e.g. 60 or "
                      "24000/1001 (default: the input's rate times --factor; for variable frame rate the "
                      "rate of the grid its timestamps lie on, so every input frame on that grid is "
                      "kept; one stamped between grid points is not)")
    rate.add_argument("--factor", type=_exact("5/2"),
                      help="output rate as a multiple of the input's, e.g. 2")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--speed", type=_exact("1/3"),
                        help="playback speed, e.g. 0.25 for 4x slow motion")
    length.add_argument("--duration", type=_exact("1001/30"), metavar="SECONDS",
                        help="seconds the retimed part should last (instead of --speed)")
    p.add_argument("--range", type=_time_range, metavar="START:END",
                   help="retime only input seconds START to END, counted from the first video "
                        "frame (either may be empty: 2:; or START-END with FFmpeg's clock times: "
                        "1:30-2:05.5, 00:01:30-); the rest passes through at speed 1 (or is cut "
                        "with --trim). "
                        "START must lie before the end of the video (a usage error names its "
                        "duration); an END after it is taken as the end, with a note on stderr")
    p.add_argument("--trim", action="store_true",
                   help="write only the --range (as ffmpeg -ss START -to END: the output starts "
                        "on the first input frame at or after START, copied, not interpolated); "
                        "audio re-encoded; the part must last at least one output frame (else a usage error says "
                        "the latest START, or the earliest END, that does)")
    _add_interpolation_options(p)
    p.add_argument("--codec", help="video encoder (libx264, libx265, libsvtav1, ffv1, ...); default "
                   "by extension as predict's but libx264 for .mkv (not lossless ffv1: retime "
                   "passes most input frames through, and ffv1 made them about 27 times larger): "
                   f"{_codec_defaults(REENCODE_CODECS)}")
    _add_crf(p)
    p.add_argument("--audio", choices=("copy", "stretch", "drop"),
                   help="audio: copy (unchanged duration), stretch (atempo), drop (default: copy "
                        "if the duration is unchanged and the container takes the codec, else "
                        "stretch: a codec the container cannot hold is re-encoded, as AAC; Opus "
                        "into .webm/.ogv, MP2 into .mpg)")
    _add_scene_options(p, "interpolate across every pair, cuts too")
    p.add_argument("--device", choices=("cpu", "cuda"), help="where warping and splatting run")
    p.add_argument("--deinterlace", action="store_true",
                   help="read an interlaced input a frame per field (FFmpeg's bwdif, as ffmpeg "
                        "-vf bwdif=mode=send_field): 25i is retimed as 50 frames a second, the "
                        "default output rate 50 fps, --factor a multiple of it; a progressive "
                        "input is read as it is (default: interlaced frames are retimed woven, "
                        "combed where things move, with a note)")
    p.set_defaults(run=cmd_retime)

    p = sub.add_parser(
        "interpolate", parents=[common], help="frames between two images (interpolation)",
        description="Frames between FRAME0 (t = 0) and FRAME1 (t = 1), two image files of one "
                    "size and kind (gray or RGB, 8 or 16 bit, or float TIFF to a .tif; an alpha "
                    "channel is ignored), by flowkit.interpolate: both flows are estimated once, "
                    "whatever the number of frames, and the frames are made a few at a time. "
                    "OUTPUT is an image file (one frame, by default t = 0.5), a folder (no "
                    "extension or a trailing /: frame_000000.png = FRAME0, the frames, then "
                    "FRAME1; created if missing, in an existing folder) or a video file (the same "
                    f"sequence at --fps). An output file is written atomically and {_REPLACES}.")
    p.add_argument("frame0", help="first image (t = 0)")
    p.add_argument("frame1", help="second image (t = 1)")
    _add_output(p, "output image (one frame), folder or video file")
    times = p.add_mutually_exclusive_group()
    times.add_argument("--frames", type=_positive, metavar="N",
                       help="N frames evenly spaced in time, t = 1/(N+1) ... N/(N+1) (default 1: "
                            "the middle frame; 7 for 8x slow motion)")
    times.add_argument("--times", type=_unit_times, metavar="T[,T...]",
                       help="the frames' times in [0, 1], comma-separated, e.g. 0.25,0.5 "
                            "(increasing inside (0, 1) for a folder or video)")
    _add_interpolation_options(p)
    p.add_argument("--fps", type=_fps, help="frame rate of a video output, e.g. 60 or 24000/1001 "
                   "(default 30)")
    p.add_argument("--codec", help="encoder of a video output, an FFmpeg name or a FourCC; default "
                   f"by extension: {_codec_defaults()}")
    _add_crf(p, "a video output: ")
    p.add_argument("--device", choices=("cpu", "cuda"), help="where warping and splatting run")
    p.set_defaults(run=cmd_interpolate)

    _add_translate_parser(sub, common)

    p = sub.add_parser(
        "batch", parents=[common],
        help="run retime / predict / flow / translate over many videos on Dask",
        description="Run JOB over every input (video files, folders, globs) on a Dask cluster "
                    "(flowkit.batch; needs flowkit-cv[dask]): a local cluster of processes by "
                    "default, or --scheduler ADDR. One output per input in OUTDIR, written "
                    "atomically, replacing an existing one (--resume keeps it); failed inputs "
                    "are reported and the others finish (exit 1 if "
                    "any failed). Job options as -O NAME=VALUE: retime's keywords (factor=2, "
                    "fps=60, speed=0.5, codec=...), predict's (horizon=8 required, context, "
                    "flow, ...; stride=S: a rolling prediction after every S-th frame, which "
                    "--chunk-frames can split), flow's (method=dis, max_flow, ...), "
                    "translate's (op=NAME required: autocontrast, equalize, colorize or "
                    "package.module:function; method, strength, flow, ...; whole videos only).")
    # flowkit._batch.JOBS' names (not imported here: the command line's start)
    p.add_argument("job", choices=("retime", "predict", "flow", "translate"), help="the job")
    p.add_argument("inputs", nargs="+", help="video files, folders of videos or glob patterns")
    p.add_argument("-o", "--output", required=True,
                   help="output folder (created if missing, in an existing folder)")
    p.add_argument("--scheduler", metavar="ADDR", help="address of a running Dask scheduler, "
                   "e.g. tcp://host:8786 (default: a local cluster on this machine)")
    p.add_argument("--workers", type=_positive, help="worker processes of the local cluster "
                   "(default: cores / threads per worker)")
    p.add_argument("--threads-per-worker", type=_positive,
                   help="kernel threads of each worker (default 1; workers x threads <= cores)")
    p.add_argument("--chunk-frames", type=_integer_from(2), metavar="N",
                   help="retime, flow and predict with -O stride=S: split each video into "
                        "chunks of about N frames at keyframes, processed on several workers and "
                        "joined (identical result, retime's audio included)")
    p.add_argument("--retries", type=_integer_from(0), default=2,
                   help="reruns of a failed task (default 2; none for a bad input or option, "
                        "which fails again)")
    p.add_argument("--resume", action="store_true", help="skip inputs whose output exists")
    p.add_argument("-O", "--option", type=_option, action="append", metavar="NAME=VALUE",
                   help="keyword option of the job, repeatable; VALUE is a Python literal or a word")
    p.set_defaults(run=cmd_batch)

    _add_train_parser(sub, common)

    p = sub.add_parser("generate", parents=[common],
                       help="a video clip from a caption (needs flowkit-cv[torch])",
                       description="Generate a clip with a text-to-video model of "
                                   "flowkit.models (docs/models.md), e.g. "
                                   "flowkit generate \"a red circle moves left\" -o clip.mp4. "
                                   f"The video is written atomically and {_REPLACES}.")
    p.add_argument("caption", help="caption in the model's vocabulary")
    p.add_argument("-o", "--output", required=True, help="output video (.mp4, .mkv, .webm, .avi, ...)")
    p.add_argument("--frames", type=_positive, default=16, help="number of frames (default 16)")
    p.add_argument("--seed", type=_integer_from(0),
                   help="noise seed: the same seed gives the same clip (default: random, printed)")
    p.add_argument("--size", type=_integer_from(2, high=MAX_GENERATE_SIZE), default=128,
                   help=f"side of the written frames in pixels, 2 to {MAX_GENERATE_SIZE}: the "
                        "model's 32x32 frames resized by nearest neighbour, upscaled above 32 "
                        "and downscaled (pixels dropped) below (default 128)")
    p.add_argument("--fps", type=_fps, default=8, help="frames per second (default 8)")
    p.add_argument("--model", default="text2video-shapes",
                   help="registered model name or .safetensors weights (default text2video-shapes)")
    p.add_argument("--device", choices=("cpu", "cuda"), help="where the network runs (default cpu)")
    p.set_defaults(run=cmd_generate)

    p = sub.add_parser("color", parents=[common], help="render a .flo file with the Middlebury colour wheel",
                       description="Write a .flo file as a PNG picture: hue the direction of the "
                                   "flow, saturation its length (flowkit.flow_to_color, Baker et "
                                   "al.'s Middlebury colour wheel); unknown flow is black. The "
                                   f"PNG is written atomically and {_REPLACES}.")
    p.add_argument("flo", metavar="FLO", help="the .flo file (Middlebury format)")
    p.add_argument("-o", "--output", required=True, help="output .png path")
    p.add_argument("--max-flow", type=_positive_float,
                   help="flow length (px) of full saturation (default: the largest)")
    p.set_defaults(run=cmd_color)

    p = sub.add_parser("probe", parents=[common],
                       help="show what flowkit reads from a video file (rate, frames, duration...)",
                       description="Print what flowkit reads from a video file's headers and first "
                                   "packets (flowkit.video.probe_video): the displayed size and "
                                   "rotation, the frame rate and the grid its timestamps lie on, "
                                   "frame count, duration, codec, pixel format and depth, audio, "
                                   "alpha, colour tags, language, tags and chapters; the values "
                                   "retime, translate and predict work from (they may differ "
                                   "from ffprobe's where FFmpeg guesses: docs/api.md). Of a "
                                   "TIFF of several pages (an image stack, which flow and "
                                   "predict read as frames): the page count and the first "
                                   "page's size, channels and samples.")
    p.add_argument("input", metavar="INPUT", help="a video file or a TIFF stack")
    p.add_argument("--json", action="store_true",
                   help="one JSON object (fractions as \"n/d\" strings, as ffprobe's rates)")
    p.set_defaults(run=cmd_probe)

    p = sub.add_parser("warmup", parents=[common],
                       help="compile every kernel into Numba's on-disk cache (later runs start fast)",
                       description="Call every public function once on tiny inputs, in parallel "
                                   "worker processes, so that Numba compiles each kernel into its "
                                   "on-disk cache now rather than on first use (about 40 s of CPU "
                                   "on 2 cores; NUMBA_CACHE_DIR chooses the folder).")
    p.add_argument("-j", "--jobs", type=_positive, help="worker processes (default: the number of CPUs)")
    p.add_argument("--only", nargs="+", metavar="CASE", help="warm only these cases (see --list)")
    p.add_argument("--list", action="store_true", help="list the warm-up cases and exit")
    p.set_defaults(run=cmd_warmup)
    return parser


# flowkit train MODEL: each model's description and options (its own --help)
_TRAIN_MODELS = {
    "interp-refine": (
        "Train interp-refine, the small CNN that refines the default (project) interpolation "
        "(interpolate(method='learned')), on triplets of frames (k, k + gap/2, k + gap) sampled "
        "from --data: the classical interpolation of the outer frames is the input, the middle "
        "frame the target (docs/models.md)."),
    "colorize": (
        "Train colorize, the CNN that predicts the chroma of a frame from its luma "
        "(translate --op colorize), on colour frames sampled from --data (docs/models.md)."),
    "predict-gan": (
        "Train predict-gan, the generator that refines the flow prediction "
        "(predict --method gan), against a discriminator, on clips of 8 frames (4 context, "
        "4 future) sampled from --data (docs/models.md)."),
    "text2video-shapes": (
        "Train text2video-shapes, the caption-to-clip generator of flowkit generate, on clips "
        "of moving shapes it generates itself (no --data; docs/models.md)."),
}


def _add_train_parser(sub, common):
    """``flowkit train MODEL``: one subcommand per model, with its description and options."""
    p = sub.add_parser("train", parents=[common], help="train a learned model (needs flowkit-cv[torch])",
                       description="Train a model of flowkit.models and write its weights "
                                   "(safetensors, atomically, replacing an existing file: the "
                                   "line printed then ends with (replaced)) with a JSON of "
                                   "metadata beside them; a checkpoint OUT.ckpt after each "
                                   "epoch and the "
                                   "classical inputs of the crops cached in OUT.cache.pt "
                                   "(docs/models.md). flowkit train MODEL --help: the model's "
                                   "options.")
    models = p.add_subparsers(dest="model", required=True, metavar="MODEL")
    for name, description in _TRAIN_MODELS.items():
        m = models.add_parser(name, parents=[common], help=description.split(", ", 1)[1].split(" (")[0],
                              description=description)
        if name != "text2video-shapes":
            m.add_argument("--data", nargs="+", required=True, metavar="DIR_OR_VIDEO",
                           help="video files, folders of videos or folders of frames (training "
                                "data only)")
        m.add_argument("--out", required=True, help="weights file to write (.safetensors)")
        if name == "text2video-shapes":
            m.add_argument("--steps", type=_positive, default=3000,
                           help="training steps (batches; default 3000)")
        else:
            epochs, crop = (4, 48) if name == "predict-gan" else (10, 128)  # train_predict_gan's
            m.add_argument("--epochs", type=_positive, default=epochs,
                           help=f"epochs (default {epochs})")
            m.add_argument("--crop", type=_integer_from(16), default=crop,
                           help=f"crop size in pixels (default {crop})")
        batch, lr = {"predict-gan": ("12", "1e-3"), "text2video-shapes": ("32", "2e-3")}.get(
            name, ("16", "1e-3"))
        m.add_argument("--batch", type=_positive, default=None, help=f"batch size (default {batch})")
        if name in ("interp-refine", "colorize"):
            what = "triplets of frames" if name == "interp-refine" else "colour frames"
            m.add_argument("--triplets", type=_positive, default=240,
                           help=f"{what} to sample (default 240)")
            m.add_argument("--crops-per-triplet", type=_positive, default=4,
                           help=f"random crops of each of the {what} (default 4)")
        elif name == "predict-gan":
            m.add_argument("--clips", type=_positive, default=200,
                           help="clips of 8 frames to sample (default 200)")
            m.add_argument("--crops-per-clip", type=_positive, default=4,
                           help="random crops of each clip, the same window in all its frames "
                                "(default 4)")
            m.add_argument("--adversarial-weight", type=_non_negative_float, default=0.01,
                           help="weight of the adversarial loss (default 0.01; 0: the pixel + "
                                "gradient-difference variant)")
            m.add_argument("--pixel-loss", choices=("l2", "l1"), default="l2",
                           help="l2 (mean squared error, the default: its optimum is the "
                                "conditional mean, what PSNR scores) or l1 (the median: "
                                "~the classical frame where motion is uncertain)")
            m.add_argument("--base", type=_option, action="append", metavar="NAME=VALUE",
                           help="an option of the classical prediction (flowkit.predict) the "
                                "network refines (repeatable; default flowkit.models."
                                "train_gan.BASE: Farneback, context 2, a held field, no speed "
                                "spread, predict's defaults before 2026-11-30, not today's); give "
                                "predict the same options when it runs these weights")
        if name != "text2video-shapes":
            m.add_argument("--shrink", type=_positive, default=2,
                           help="downscale the frames by this factor before sampling (default 2)")
        m.add_argument("--lr", type=_positive_float, default=None,
                       help=f"Adam's learning rate (default {lr})")
        m.add_argument("--threads", type=_positive, default=2, help="torch threads (default 2)")
        m.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                       help="where to train (default cpu)")
        m.add_argument("--resume", metavar="CKPT",
                       help="continue the interrupted run of a checkpoint (OUT.ckpt), with the "
                            "same data and options (checked before any work; docs/models.md)")
        m.add_argument("--seed", type=_integer_from(0), default=0, help="random seed (default 0)")
        m.set_defaults(run=cmd_train, data=None)


def _add_translate_parser(sub, common):
    from ._translate import DEFAULT_STRENGTH

    p = sub.add_parser(
        "translate", parents=[common], help="apply a per-frame operation to a video without flicker",
        description="Apply OP to every frame of INPUT and remove the flicker of the result "
                    "(flowkit.translate): each output frame is pulled towards the previous output "
                    "warped by the flow of the input where that flow is reliable, and restarts at "
                    f"scene cuts. Audio is copied. OUTPUT is written atomically and {_REPLACES}.")
    p.add_argument("input", help="video file")
    _add_output(p, "output video file (.mp4, .mov, .mkv, .webm, ...)")
    p.add_argument("--op", required=True, metavar="NAME_OR_MODULE:FUNC",
                   help="autocontrast, equalize, colorize (the learned model, needs "
                        "flowkit-cv[torch]) or package.module:function taking and returning an "
                        "(H, W, 3) uint8 RGB frame")
    p.add_argument("--method", choices=("blend", "gradient"), default="blend",
                   help="blend: per-pixel blend with the warped previous output (default); "
                        "gradient: Bonneel et al.'s screened Poisson solve (needs SciPy)")
    p.add_argument("--strength", type=_number_in(1, "a number in [0, 1)", closed=(True, False)),
                   default=DEFAULT_STRENGTH,
                   help=f"pull towards the previous output, in [0, 1): 0 leaves the processed "
                        f"frames as they are (default {DEFAULT_STRENGTH})")
    p.add_argument("--flow", choices=_methods(), default="farneback", help="flow estimator (default farneback)")
    p.add_argument("-O", "--option", type=_option, action="append", metavar="NAME=VALUE",
                   help="keyword option of the flow estimator, repeatable, as retime's (see "
                        "flowkit flow --help; raft: -O weights=PATH, its local weights file)")
    p.add_argument("--codec", help="video encoder; default by extension as retime's, libx264 for "
                   ".mkv (not predict's lossless ffv1: translate re-encodes every frame, and ffv1 "
                   "made a 640x360 H.264 clip's output 21 times larger than libx264 at crf 18): "
                   f"{_codec_defaults(REENCODE_CODECS)}")
    _add_crf(p)
    _add_scene_options(p, "carry the processed frames across every pair, cuts too")
    p.add_argument("--range", type=_time_range, metavar="START:END",
                   help="translate only input seconds START to END, counted from the first video "
                        "frame (either may be empty: 2:; 1:30-2:05.5 in clock times), as retime "
                        "--range (START before the "
                        "end of the video; an END after it is the end, with a note); the frames "
                        "outside it are written unchanged")
    p.add_argument("--audio", choices=("copy", "drop"), default="copy",
                   help="audio: copy (default; a codec the container does not take is "
                        "re-encoded, as AAC; Opus into .webm/.ogv, MP2 into .mpg) or drop, as "
                        "retime's --audio")
    p.add_argument("--no-audio", action="store_true", help="drop the audio (as --audio drop)")
    p.add_argument("--deinterlace", action="store_true",
                   help="read an interlaced input a frame per field (FFmpeg's bwdif, as ffmpeg "
                        "-vf bwdif=mode=send_field), as retime --deinterlace: 25i is written as "
                        "50 frames a second at the fields' times, --range and audio on the "
                        "input's timeline; a progressive input is read as it is (default: "
                        "interlaced frames are processed woven, combed where things move, with "
                        "a note)")
    p.set_defaults(run=cmd_translate)


_PLAIN_ERRORS = (ValueError, TypeError, OSError, ImportError, RuntimeError)
# library parameter names at the start of a message -> the command-line flag that set them
_FLAGS = {"path: ": "", "codec: ": "--codec: ", "fps: ": "--fps: ", "step: ": "--step: ",
          "resize: ": "--resize: ", "resize[0]: ": "--resize: ", "resize[1]: ": "--resize: ",
          "max_flow: ": "--max-flow: ", "context: ": "--context: ", "n_iter: ": "--n-iter: ",
          "horizon: ": "--horizon: ", "flow_options: ": "--option: ", "src: ": "",
          "dst: ": "OUTPUT: ", "factor: ": "--factor: ", "speed: ": "--speed: ",
          "duration: ": "--duration: ", "segment: ": "--range: ", "crf: ": "--crf: ",
          "audio: ": "--audio: ", "op: ": "--op: ", "strength: ": "--strength: ",
          "workers: ": "--workers: ", "inputs: ": "INPUTS: ", "out: ": "--out: ",
          "outputs: ": "-o: ", "threads_per_worker: ": "--threads-per-worker: ",
          "chunk_frames: ": "--chunk-frames: ", "scheduler: ": "--scheduler: ",
          "device: ": "--device: ", "job_options: ": "-O ", "model: ": "--model: ",
          "data: ": "--data: "}
# the argument of each command with one input that the library's input path parameter (the
# video reader's path, retime's and translate's src) came from, named in their errors
_INPUT_ARGUMENTS = {"flow": "FRAME0", "predict": "INPUT", "retime": "INPUT", "translate": "INPUT",
                    "probe": "INPUT"}


def _one_line(exc, options=(), source=None, flags=True):
    """``exc`` as one line, library parameter names turned into the flags that set them;
    names in ``options`` (a batch job's options, given as ``-O NAME=VALUE``) as ``-O NAME``,
    as the client-side checks report them (errors raised on the workers); the input path
    parameters (``path``, ``src``) as ``source`` (the command's input argument, ``INPUT``),
    else left out (the message names the file); the exception's notes (a user estimator's
    name, ``_validate.add_note``) in parentheses after it. ``flags=False``: the library's
    words, the job's options as ``job_options: NAME`` (``flowkit.batch``'s report)."""
    message = " ".join(str(exc).split()) or "(no message)"
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None and exc.filename2 is None:
        # "[Errno 13] Permission denied: '/x/out.mp4'" as the shell tools say it
        message = f"{os.fsdecode(exc.filename)}: {exc.strerror}"
    for note in getattr(exc, "__notes__", None) or ():  # a user estimator's: which one raised
        message += f" ({' '.join(str(note).split())})"
    head = re.match(r"(\w+)(\[[^\]]*\])?: ", message)
    if head and head.group(1) in options:
        message = "job_options: " + message
    if not flags:
        return message if isinstance(exc, _PLAIN_ERRORS) else f"{type(exc).__name__}: {message}"
    if source and message.startswith(("path: ", "src: ")):
        message = f"{source}: {message.split(': ', 1)[1]}"
    for name, flag in _FLAGS.items():
        if message.startswith(name):
            message = flag + message[len(name):]
            break
    message = message.replace("pass resize= ", "pass --resize WxH ")
    message = re.sub(r"^flow_options\['(\w+)'\]: ", r"--option \1: ", message)
    if type(exc).__module__.startswith("cv2"):
        # cv2.error: "OpenCV(5.0.0) /io/opencv/...cpp:1072: error: (-2:Unspecified error) MESSAGE"
        found = re.search(r"error: \([^)]*\) (.*)", message)
        return f"OpenCV: {found.group(1) if found else message}"
    if not isinstance(exc, _PLAIN_ERRORS):
        message = f"{type(exc).__name__}: {message}"
    return message


def _stopper(exc_type):
    """A signal handler that records the stop (``_atomic.request_stop``) and raises ``exc_type``:
    raised inside a finalizer the exception is lost, the record is not."""

    def handler(signum, frame):
        request_stop(exc_type)
        raise exc_type

    return handler


def _quiet_unraisable(previous):
    """``sys.unraisablehook`` that drops the stop exceptions raised inside finalizers (the
    record of the stop turns them into the exit status) and passes on the rest."""

    def hook(unraisable):
        if not (stop_requested() and isinstance(unraisable.exc_value, (_Terminated, KeyboardInterrupt))):
            previous(unraisable)

    return hook


@contextlib.contextmanager
def _escaping_stdout():
    """stdout writes what its encoding cannot show escaped (``errors="backslashreplace"``, as
    Python's stderr does) inside the block, then strictly again. On Windows stdout piped or
    redirected (an editor running the command) is in the ANSI code page: the success line of an
    output named in another script (a Japanese name in cp1252) was a UnicodeEncodeError, exit 1,
    after the file had been written."""
    stream = sys.stdout
    if getattr(stream, "errors", None) != "strict" or not hasattr(stream, "reconfigure"):
        yield
        return
    stream.reconfigure(errors="backslashreplace")
    try:
        yield
    finally:
        with contextlib.suppress(ValueError, OSError):  # closed, or its reader has left
            stream.reconfigure(errors="strict")


def _join_dashed_ranges(argv):
    """``--range -1:2`` as ``--range=-1:2``: argparse takes a value starting with ``-`` for an
    option and would report a missing argument instead of the value's own error."""
    argv = list(argv)
    for k in range(len(argv) - 1):
        if argv[k] == "--range" and argv[k + 1].startswith("-") and ":" in argv[k + 1]:
            argv[k:k + 2] = [f"--range={argv[k + 1]}"]
            break
    return argv


def _command_parser(parser, args):
    """The parser of the command ``args`` ran: ``flowkit``'s, a command's or a nested one's."""
    while True:
        commands = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)),
                        None)
        name = getattr(args, commands.dest, None) if commands else None
        if name not in (commands.choices if commands else {}):
            return parser
        parser = commands.choices[name]


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    """``warnings.showwarning`` for the command: ``flowkit: warning: MESSAGE`` on stderr (a
    damaged input video, :class:`flowkit.video.DamagedVideoWarning`), above a progress bar."""
    from tqdm import tqdm

    tqdm.write(f"flowkit: warning: {message}", file=file or sys.stderr)


def main(argv=None):
    """Run the ``flowkit`` command.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status: 0 on success, 2 after a usage error (arguments that cannot work, found
        by the command line or by the library: one line ending ``(see flowkit CMD --help)``),
        1 after any other error (one line on stderr), 130 when interrupted (Ctrl-C), 143 when
        terminated (SIGTERM), 129 on SIGHUP (the terminal closed).
    """
    import signal
    import threading

    # quiet OpenCV's own log lines (the command reports errors itself); only effective before
    # cv2 is first imported, and the user's own settings win. PyAV keeps FFmpeg's log off.
    os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")
    parser = build_parser()
    args, extra = parser.parse_known_args(_join_dashed_ranges(sys.argv[1:] if argv is None else argv))
    if (len(extra) == 1 and not extra[0].startswith("-") and hasattr(args, "output_option")
            and args.output is None):
        # argparse gives an optional positional only the arguments before the first option:
        # OUTPUT written after an option (`retime IN --factor 2 OUT`) comes back unparsed
        args.output = extra.pop()
    if extra:  # as parse_args, but the message points at the command's own --help
        hint = ""
        if args.command == "batch" and any(a.startswith("--") for a in extra):
            name = next(a for a in extra if a.startswith("--"))[2:].split("=")[0]
            hint = (f" (batch takes the job's own options as -O NAME=VALUE, e.g. "
                    f"-O {name.replace('-', '_')}=...)")
        _command_parser(parser, args).error(f"unrecognized arguments: {' '.join(extra)}{hint}")
    previous = {}
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (kill, timeout) unwinds like Ctrl-C, so atomic outputs remove their temporary
        # files; both handlers also record the stop, which outlives an exception a finalizer drops
        previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, _stopper(_Terminated))
        # SIGHUP too (an ssh session dropped an hour into a retime: it left the temporary
        # file, gigabytes by then); not under nohup, which ignores it
        hangup = getattr(signal, "SIGHUP", None)  # none on Windows
        if hangup is not None and signal.getsignal(hangup) is signal.SIG_DFL:
            previous[hangup] = signal.signal(hangup, _stopper(_HungUp))
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not if ignored
            previous[signal.SIGINT] = signal.signal(signal.SIGINT, _stopper(KeyboardInterrupt))
    hook, sys.unraisablehook = sys.unraisablehook, _quiet_unraisable(sys.unraisablehook)
    request_stop(None)
    try:
        with warnings.catch_warnings(), _escaping_stdout():
            warnings.showwarning = _one_line_warning  # as errors: one line, no source line
            status, line = _outcome(args)
        stopped = stop_requested()
    finally:
        sys.unraisablehook = hook
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        request_stop(None)
    if stopped is not None:  # whatever the run did after the signal: nothing was committed since
        status, line = _stopped_outcome(stopped)
    if line:
        print(line, file=sys.stderr)
    return status


# the path arguments of the commands, inputs and outputs: (attribute, name in messages, what it
# must name); an empty one is refused as such (Path("") is ".", the current folder: "INPUT: . is
# a folder"; an empty --video or -o read as not given: "nothing to write"; demo --out "" and
# batch -o "" wrote into the current folder). predict's, retime's and translate's OUTPUT (or
# -o OUTPUT) is _resolve_output's
_PATHS = {
    "demo": (("out", "--out", "a folder to write into"),),
    "flow": (("frame0", "FRAME0", "an image, a video file or a folder of images"),
             ("frame1", "FRAME1", "an image"),
             ("output", "-o", "a .flo file to write"),
             ("png", "--png", "a .png file to write"),
             ("video", "--video", "a video file to write"),
             ("flo_dir", "--flo-dir", "a folder to write .flo files into")),
    "predict": (("input", "INPUT", "a video file or a folder of images"),),
    "retime": (("input", "INPUT", "a video file"),
               ("model", "--model", "a .safetensors file")),
    "interpolate": (("frame0", "FRAME0", "an image"),
                    ("frame1", "FRAME1", "an image"),
                    ("model", "--model", "a .safetensors file")),
    "translate": (("input", "INPUT", "a video file"),),
    "probe": (("input", "INPUT", "a video file"),),
    "color": (("flo", "FLO", "a .flo file"),
              ("output", "-o", "a .png file to write")),
    "batch": (("inputs", "INPUTS", "video files, folders of videos or glob patterns"),
              ("output", "-o", "a folder to write into")),
    "generate": (("output", "-o", "a video file to write"),),
    "train": (("data", "--data", "video files, folders of videos or folders of frames"),
              ("out", "--out", "a .safetensors file to write"),
              ("resume", "--resume", "a checkpoint file (OUT.ckpt)")),
}


def _check_empty_paths(args):
    """A usage error for a path argument given as the empty string (``retime ""``,
    ``flow IN --video ""``)."""
    for attribute, name, what in _PATHS.get(args.command, ()):
        value = getattr(args, attribute, None)
        if value == "" or (isinstance(value, list) and "" in value):
            raise UsageError(f"{name}: the path is empty (''); expected {what}")


def _outcome(args):
    """Run the subcommand: (exit status, the line for stderr or None)."""
    _EXISTING.clear()
    try:
        _check_empty_paths(args)
        return args.run(args), None
    except UsageError as exc:
        if args.debug:
            raise
        return 2, _usage_line(exc, _prog(args)).rstrip("\n")
    except (KeyboardInterrupt, _Terminated) as exc:
        if args.debug:
            raise
        return _stopped_outcome(type(exc))
    except Exception as exc:
        if isinstance(exc, BrokenPipeError) and _stdout_gone():
            return 141, None  # the reader of stdout left (| head): quietly, as coreutils (SIGPIPE)
        if args.debug:
            raise
        message = _one_line(exc, source=_INPUT_ARGUMENTS.get(args.command))
        flag = _cuda_flag(args) if isinstance(exc, CudaUnavailable) else None
        if flag:
            # the flag's value cannot run here: a usage error, as generate's and train's (torch)
            return 2, _usage_line(f"{flag}: 'cuda': {message}", _prog(args)).rstrip("\n")
        if _is_usage_error(exc, message):
            return 2, _usage_line(message, _prog(args)).rstrip("\n")
        return 1, f"flowkit: error: {message}"


def _prog(args):
    """The command whose --help a usage error points at: ``flowkit retime``, or for ``train``
    the model's own (``flowkit train interp-refine``: ``flowkit train --help`` lists only the
    models, none of the options), as argparse's own errors there do."""
    model = getattr(args, "model", None) if args.command == "train" else None
    return f"flowkit {args.command}" + (f" {model}" if model else "")


def _cuda_flag(args):
    """The flag that asked for the CUDA backend: ``--device`` (``--device cuda``), else
    ``--option device`` (the method's ``-O device=cuda``); None if neither did."""
    if getattr(args, "device", None) == "cuda":
        return "--device"
    if args.command != "batch" and dict(getattr(args, "option", None) or ()).get("device") == "cuda":
        return "--option device"  # batch's -O are job options, run on the workers
    return None


def _stdout_gone():
    """Whether stdout is a pipe whose reader has left (POLLERR on its end: the BrokenPipeError
    came from writing the command's lines); if so stdout is pointed at /dev/null, so that
    Python's flush at exit does not report it again."""
    import select

    try:
        fd = sys.stdout.fileno()
        poll = select.poll()
        poll.register(fd, select.POLLOUT)
        if not any(events & select.POLLERR for _, events in poll.poll(0)):
            return False
    except (OSError, ValueError, AttributeError):  # no real stdout (a caller's replacement)
        return False
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
    return True


# library errors that name a flag but come from the work, not from its value: the user's op or
# the encoder failed on a frame (exit 1)
_WORK_FAILURES = re.compile(r"--op: \S+ (raised|returned) |--codec: \S+ failed ")


def _is_usage_error(exc, message):
    """Whether a library error is about the command's arguments (exit 2): a ValueError or
    TypeError whose one-line ``message`` names the flag or argument that set the parameter
    (``--range: ...``, ``--option levels: ...``, ``-O horizon: ...``, ``OUTPUT: ...``,
    generate's ``caption: ...``), unless it is a failure of the work (``_WORK_FAILURES``).
    Everything else is exit 1."""
    return (isinstance(exc, (ValueError, TypeError))
            and message.startswith(("-", "OUTPUT: ", "INPUTS: ", "caption: "))
            and not _WORK_FAILURES.match(message))
