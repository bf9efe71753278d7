"""Scale-out on Dask (``flowkit.batch``): one job over many videos, or one long video in chunks.

Dask's distributed scheduler does the scheduling, retries and the rescheduling of the tasks of
a worker that died; each task calls the public function a Python user calls (``retime``,
``predict``, the estimators), in a worker process, with the kernel threads it was given.
``distributed`` is imported only here, and only when :func:`batch` runs.
"""

import contextlib
import dataclasses
import glob
import os
import signal
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

from . import _validate
from ._atomic import TOKEN_PATTERN, check_folder, refuse_special_input, stale_temporaries
from ._progress import check_progress, progress_bar, shows_bar
from .video import VIDEO_EXTENSIONS, tiff_pages


# --- jobs: each one calls the public function, reading from src and writing dst ----------------
# A job that can split one long video has a ``part`` (one chunk, stored losslessly) and a
# ``join`` (the chunks encoded once into dst); the cutting and the tasks are batch's (_chunks, _run).

def _retime_job(src, dst, **options):
    from ._retime import retime

    return retime(src, dst, progress=False, **options).frames


def _retime_part(src, dst, *, part, **options):
    """The retime of the input pairs in ``part``, stored losslessly (no audio: the join muxes it)."""
    from ._retime import retime

    return retime(src, dst, progress=False, part=part, _lossless=True, **options).frames


def _retime_join(src, dst, paths, **options):
    """The parts encoded once as a single retime would, with the audio processed once from src."""
    from ._retime import retime

    return retime(src, dst, progress=False, _parts=paths, **options).frames


def _arguments(function, *args, **options):
    """The arguments ``function(*args, **options)`` would get, its defaults included."""
    import inspect

    bound = inspect.signature(function).bind(*args, **options)
    bound.apply_defaults()
    return bound.arguments


def _check_retime(src, dst, options):
    from ._retime import _check_options, retime

    arguments = _arguments(retime, src, dst, **options)
    _check_options(**{k: v for k, v in arguments.items() if not k.startswith("_")})


def _predict_job(src, dst, *, horizon, context="auto", stride=None, fps=None, codec=None,
                 crf=None, part=None, deinterlace=False, **options):
    """``stride=None``: the ``horizon`` frames after the last ``context`` frames (``"auto"``:
    4; decoded from the keyframe before them). ``stride=S``: a rolling prediction, ``horizon``
    frames after every window of ``context`` frames that starts on frame 0, S, 2S, ..., one
    after the other;
    with ``part`` only of the windows that start in it (stored losslessly for the join). As
    ``flowkit predict``: the predicted frames follow at the grid rate of the video's timestamps
    (``VideoInfo.base_rate``), and context frames several grid steps apart (variable frame
    rate) give ``predict`` their ``times``. ``crf``: as ``flowkit predict --crf`` (None:
    ``video.DEFAULT_CRF``). ``deinterlace``: as ``flowkit predict --deinterlace``, an
    interlaced video read a frame per field (windows and ``stride`` count fields), predicted
    at the field rate."""
    import numpy as np

    from ._predict import frames_needed, frames_used, predict, video_pix_fmt
    from .video import (DEFAULT_CRF, field_info, grid_steps, last_frames, probe_video,
                        write_video, writer_tags)

    info = probe_video(src)
    depth = info.read_depth  # as flowkit predict: 10-bit in, 10-bit out
    grid = field_info(info) if deinterlace else info  # the video as read

    def predicted_after(window):  # (time, frame) pairs
        times = grid_steps([t for t, _ in window], grid.base_rate, grid.time_base)
        return predict(np.stack([f for _, f in window]), horizon, context=context, times=times,
                       **options)

    length = frames_used(context)
    fps = _output_fps(src, fps, deinterlace)
    tags = writer_tags(info, None, None)  # a part's: its frames' orientation, no timecode
    if stride is None:
        window = last_frames(src, length, timestamps=True, depth=depth, deinterlace=deinterlace)
        need = frames_needed(context)
        if len(window) < need:
            raise ValueError(f"{src}: {len(window)} frame{'' if len(window) == 1 else 's'}; "
                             f"context={context!r} needs {need}")
        predicted = predicted_after(window)
        tags = _predicted_tags(src, info, fps, window[-1][0], deinterlace)
    else:
        windows = _windows(_frames(src, part, length - 1, depth, deinterlace), length, stride)
        predicted = (frame for window in windows for frame in predicted_after(window))
        if part is None:
            tags = _predicted_tags(src, info, fps, _first_window_end(src, length, deinterlace),
                                   deinterlace)
    return write_video(dst, predicted, fps, codec="ffv1" if part else codec, tags=tags,
                       crf=DEFAULT_CRF if crf is None else crf,
                       pix_fmt=None if part else video_pix_fmt(dst, codec, info),
                       empty=f"{src}: fewer than {length} frames (context={context!r})")[0]


def _predicted_tags(src, info, fps, last, deinterlace=False):
    """``writer_tags`` of a predict job's output, as ``flowkit predict``'s: no chapters (its
    frames follow the input's), the timecode of the first predicted frame, a grid step (a
    field with ``deinterlace``) after the context frame at ``last`` seconds (as ``iter_frames``
    gives it; None: no timecode), counted from the input's first frame at ``fps``."""
    from .video import field_info, first_frame_time, writer_tags

    rate = (field_info(info) if deinterlace else info).base_rate
    after = None if last is None or not rate else last - first_frame_time(src) + 1 / rate
    return writer_tags(info, None, after, fps)


def _first_window_end(src, length, deinterlace=False):
    """The time of the last frame of a rolling prediction's first window (frames 0 to
    ``length - 1``, fields with ``deinterlace``), after which its first frames are predicted;
    None for fewer frames."""
    import itertools

    from .video import iter_frames

    frames = iter_frames(src, timestamps=True, deinterlace=deinterlace)
    window = list(itertools.islice(frames, length))
    return window[-1][0] if len(window) == length else None


def _predict_cuts(options):
    """A rolling prediction is cut on a window start (a multiple of ``stride``) and leaves at
    least one whole window to the last chunk; the tail prediction is not split. With
    ``deinterlace`` the same cuts hold: a frame whose index is a multiple of ``stride`` starts
    with the field of twice that index, at least as many fields follow it as frames."""
    if options.get("stride") is None:
        return None
    from ._predict import AUTO, frames_used

    return dict(align=options["stride"], tail=frames_used(options.get("context", AUTO)))


def _check_predict(src, dst, options):
    from ._predict import check_options, predict

    own = {name: options.get(name) for name in ("fps", "codec", "crf", "stride", "deinterlace")}
    _check_writer(dst, own["fps"], own["codec"], own["crf"])
    _validate.check_bool("deinterlace", options.get("deinterlace", False))
    if own["stride"] is not None:
        _validate.check_int("stride", own["stride"], min_value=1)
    check_options(**_arguments(predict, None, **{k: v for k, v in options.items()
                                                 if k not in own}))
    if options.get("method") == "gan":  # torch and the weights, as retime's learned method
        from .models._api import predictor_model

        predictor_model("predict-gan", options.get("model"))
    if isinstance(options.get("flow"), str):  # the estimator and its options, as retime's
        from ._estimators import get_estimator

        get_estimator(options["flow"], options.get("flow_options"))


def _output_fps(src, fps, deinterlace=False):
    """The predict job's rate, as ``flowkit predict``'s (``video.grid_rate``): ``fps``, else the
    rate of the video's timestamps' grid (at which predictions follow; with ``deinterlace`` of
    its fields), else 30."""
    from .video import field_info, grid_rate, probe_video

    info = probe_video(src)
    return grid_rate(field_info(info) if deinterlace else info, fps)


def _flow_job(src, dst, *, method="dis", flow_options=None, max_flow=None, fps=None, codec=None,
              crf=None, part=None):
    """The colour-coded flow of every consecutive pair, written as ``flowkit flow SRC --video
    DST`` writes it (one writer, :func:`flowkit._flow_video.write_flow_video`: the pair (k,
    k + 1) at frame k's time, with the input's display rotation; ``fps``: a constant rate);
    with ``part`` (seconds from the first frame) only of the pairs whose first frame lies in
    it, the upright pictures stored losslessly (FFV1) for :func:`_flow_join`. ``crf``: as
    ``flowkit flow --crf`` (None: ``video.DEFAULT_CRF``)."""
    from ._estimators import get_estimator
    from ._flow_video import write_flow_video
    from .video import probe_video

    info = probe_video(src)
    estimator = get_estimator(method, flow_options, name="method")
    # more than 8 bits read at 16, as `flowkit flow --video` reads them
    pairs = _windows(_frames(src, part, 1, depth=info.read_depth), 2, 1)
    flows = ((first[0], estimator(first[1], second[1])) for first, second in pairs)
    return write_flow_video(dst, _from_first(flows, part), info=info, fps=fps,
                            max_flow=max_flow, codec=codec, crf=crf, lossless=part is not None,
                            empty=f"{src}: only one frame, a flow needs two").frames


def _from_first(timed, part):
    """``(time, item)`` pairs with the times counted from the first one; None in a ``part``
    (its times are not stored: :func:`_flow_join` takes them from the source's packets)."""
    origin = None
    for when, item in timed:
        if part is not None:
            yield None, item
            continue
        origin = when if origin is None else origin
        yield when - origin, item


def _flow_join(src, dst, paths, *, fps=None, codec=None, crf=None, **options):
    """The flow job's join: the parts' pictures written as the whole job writes them, at the
    times of ``src``'s frames (demuxed) with its rotation."""
    from ._flow_video import join_flow_video

    return join_flow_video(dst, src, paths, fps=fps, codec=codec, crf=crf).frames


def _frames(src, part, overlap, depth=8, deinterlace=False):
    """``(time, frame, inside)`` for the frames of ``src`` (as ``iter_frames(timestamps=True)``),
    all inside without ``part``; with ``part`` those from ``part[0]`` seconds after the first
    frame (decoded from the keyframe before it), inside before ``part[1]``, then ``overlap``
    frames more (not inside: they close the windows that start inside); uint16 frames with
    ``depth=16``; a frame per field of an interlaced video with ``deinterlace``."""
    from .video import decode_from, iter_frames, open_input

    if part is None:
        yield from ((when, frame, True) for when, frame in
                    iter_frames(src, timestamps=True, depth=depth, deinterlace=deinterlace))
        return
    container, stream = open_input(src)
    try:
        origin, frames = decode_from(container, stream, part[0], depth=depth,
                                     deinterlace=deinterlace)
        after = 0
        for when, frame in frames:
            if when - origin < part[0]:
                continue
            inside = part[1] is None or when - origin < part[1]
            if not inside:
                if after == overlap:
                    return
                after += 1
            yield when, frame, inside
    finally:
        container.close()


def _windows(frames, size, stride):
    """The lists of ``size`` consecutive ``(time, frame)`` pairs of ``frames`` (``(time, frame,
    inside)``, :func:`_frames`) that start on every ``stride``-th frame (counted from the first)
    and start inside."""
    import collections

    window = collections.deque(maxlen=size)
    for index, (when, frame, inside) in enumerate(frames):
        window.append((when, frame, inside))
        start = index - size + 1
        if start >= 0 and start % stride == 0 and window[0][2]:
            yield [(t, f) for t, f, _ in window]


def _video_join(src, dst, paths, *, fps=None, codec=None, crf=None, deinterlace=False,
                **options):
    """The predict job's join: the parts' RGB frames encoded once, as the whole job, at the
    grid rate and the source's bit depth, with its display rotation and colour tags (the parts
    hold the frames in its coded orientation)."""
    from ._predict import video_pix_fmt
    from ._predict import AUTO, frames_used
    from .video import DEFAULT_CRF, VideoWriter, concat_parts, probe_video

    info = probe_video(src)
    depth = info.read_depth
    fps = _output_fps(src, fps, deinterlace)
    # the first window's prediction comes first (parts are rolling predictions)
    end = _first_window_end(src, frames_used(options.get("context", AUTO)), deinterlace)
    with VideoWriter(dst, fps, codec=codec,  # the job's crf
                     crf=DEFAULT_CRF if crf is None else crf,
                     pix_fmt=video_pix_fmt(dst, codec, info),
                     **_predicted_tags(src, info, fps, end, deinterlace)) as writer:
        concat_parts(writer, paths, depth=depth)
    return writer.frame_count


def _check_flow(src, dst, options):
    from ._estimators import get_estimator

    get_estimator(options.get("method", "dis"), options.get("flow_options"), name="method")
    _check_writer(dst, options.get("fps"), options.get("codec"), options.get("crf"))
    if options.get("max_flow") is not None:
        _validate.check_float("max_flow", options["max_flow"], low=0, low_open=True)


def _translate_job(src, dst, *, op, **options):
    """``flowkit.translate(src, dst, op, ...)`` of one whole video (the consistency step runs
    from frame to frame: the job is not split into chunks)."""
    from ._translate import translate

    return translate(src, dst, op, progress=False, **options)["frames"]


def _check_translate(src, dst, options):
    from . import _frame_ops
    from ._retime import _check_segment, _default_codec
    from ._translate import _check_options, check_audio, translate
    from .video import check_crf

    arguments = _arguments(translate, src, dst, **options)
    if not callable(arguments["op"]):
        _frame_ops.resolve(arguments["op"])  # the workers import it by the same name
    if arguments["op"] == "colorize":  # torch and the weights, as retime's learned method
        from .models._api import cached_model, require_torch

        require_torch()
        cached_model("colorize")
    _check_options(*(arguments[k] for k in ("flow", "flow_options", "method", "strength",
                                            "scene_threshold")))
    _check_segment(arguments["segment"])
    check_audio(arguments["audio"])
    _validate.check_bool("deinterlace", arguments["deinterlace"])
    check_crf(arguments["crf"], _default_codec(arguments["codec"], dst))  # translate's


@dataclasses.dataclass(frozen=True)
class Job:
    """A job of :func:`batch`: ``run(src, dst, **options)`` writes ``dst`` and returns the
    number of frames written; ``suffix`` is the output extension (None: the input's).
    ``validate(src, dst, options)`` checks the options on the client before any task (raises
    as the public function would). ``part(src, dst, part=(start, stop), **options)`` and
    ``join(src, dst, parts, **options)`` split one long video (``chunk_frames``): ``part``
    writes the output of the input pairs whose first frame lies in ``[start, stop)`` seconds
    from the first frame, losslessly; ``join`` encodes the parts, in order, into ``dst``."""

    run: object
    suffix: str = None
    public: str = None  # the public function whose keywords the options may also be
    validate: object = None
    part: object = None
    join: object = None
    cuts: object = None  # options -> _chunks' keywords, or None where these options cannot split

    def chunking(self, options):
        """``_chunks``' keywords for these options, or None if the job cannot be split."""
        if self.part is None:
            return None
        return self.cuts(options) if self.cuts else {}

    def check(self, options):
        """Raise ValueError for an option neither ``run`` nor the public function takes."""
        import importlib
        import inspect

        functions = [self.run] + ([getattr(importlib.import_module("flowkit"), self.public)]
                                  if self.public else [])
        names = set()
        for function in functions:
            parameters = list(inspect.signature(function).parameters.values())
            if any(p.kind is p.VAR_KEYWORD for p in parameters) and not self.public:
                return  # a custom job: its options are its own business
            names |= {p.name for p in parameters[2:] if p.kind is not p.VAR_KEYWORD}
        names -= {"progress", "part", "_lossless", "_parts", "frames", "return_flow",
                  "times"}  # predict's times come from each video's timestamps
        unknown = sorted(set(options) - names)
        if unknown:
            hint = ""
            if "flow_options" in names:  # flowkit flow -O u=3 takes the estimator's own there
                hint = (f"; an estimator's own options go in flow_options (flowkit batch: -O "
                        f"\"flow_options={{'{unknown[0]}': VALUE}}\")")
            raise ValueError(f"job_options: {', '.join(unknown)}: unknown option; expected some "
                             f"of {', '.join(sorted(names))}{hint}")


# the job table: a job is one entry
JOBS = {
    "retime": Job(_retime_job, public="retime", validate=_check_retime, part=_retime_part,
                  join=_retime_join),
    "predict": Job(_predict_job, suffix=".mp4", public="predict", validate=_check_predict,
                   part=_predict_job, join=_video_join, cuts=_predict_cuts),
    "flow": Job(_flow_job, suffix=".mp4", validate=_check_flow, part=_flow_job, join=_flow_join),
    "translate": Job(_translate_job, public="translate", validate=_check_translate),
}


# --- the summary ---------------------------------------------------------------------------------

@dataclasses.dataclass
class BatchReport:
    """What :func:`batch` did.

    Attributes
    ----------
    done : list of Path
        Outputs written by this run.
    failed : dict
        Input path (a ``str``, as every input path in this report) -> one-line error
        message, for the inputs that failed after the retries, in the order of the inputs (as
        ``done`` and ``warnings``); an error about a job option starts ``job_options: NAME:``
        (``flowkit batch`` prints ``-O NAME:``).
    skipped : list of Path
        Outputs that existed already and were kept (``resume=True``).
    frames : int
        Frames written by this run (all outputs).
    seconds : float
        Wall-clock time of the run, cluster start included.
    dashboard : str or None
        The Dask dashboard address, where the scheduler serves one and bokeh (not part of the
        ``dask`` extra) is installed where the scheduler runs, to draw it; else None.
    not_written : dict
        For the ``"retime"`` job: input path -> the types of its streams that the output does
        not hold (``RetimeReport.not_written``: a second video stream, subtitles, data), for
        the inputs done by this run that have any.
    alpha : list of str
        For the ``"retime"``, ``"predict"`` and ``"translate"`` jobs: the input paths done by
        this run whose video carries alpha (``VideoInfo.alpha``), which the outputs do not hold;
        ``flowkit batch`` notes each as ``flowkit retime`` does.
    padded : dict
        Input path -> ``((width, height), (width, height))``: the input's odd size and the
        even size its output was padded to for the encoder (last row or column repeated), for
        the inputs done by this run whose output was padded; ``flowkit batch`` notes each as
        ``flowkit retime`` does (``RetimeReport.padded``).
    warnings : dict
        Input path -> the messages of the :class:`~flowkit.video.DamagedVideoWarning` its
        task raised (a damaged file that still decoded), for the inputs done by this run that
        have any; ``flowkit batch`` prints them as ``flowkit: warning: ...`` lines.
    retried : dict
        Input path -> the times its tasks ran again after a failure (``retries`` spent, or a
        worker lost while running one), for the inputs done by this run that needed any
        (their outputs are complete); ``flowkit batch``'s summary line counts them.
    """

    done: list
    failed: dict
    skipped: list
    frames: int
    seconds: float
    dashboard: str = None
    not_written: dict = dataclasses.field(default_factory=dict)
    warnings: dict = dataclasses.field(default_factory=dict)
    alpha: list = dataclasses.field(default_factory=list)
    padded: dict = dataclasses.field(default_factory=dict)
    retried: dict = dataclasses.field(default_factory=dict)

    @property
    def ok(self):
        """True when no input failed."""
        return not self.failed


# --- inputs and outputs --------------------------------------------------------------------------

def _expand(inputs):
    """The list of input files: a list of paths (each a file, a folder or a glob), one path, a
    folder (its video files, sorted) or a glob pattern; a pattern that matches a folder is a
    ``ValueError`` naming it (it failed on a worker as "cannot open F as a video")."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    elif not isinstance(inputs, (list, tuple)):
        raise TypeError(f"inputs: expected a path, a glob, a folder or a list of paths, got "
                        f"{_validate.describe(inputs)}")
    files = []
    for item in inputs:
        if not isinstance(item, (str, os.PathLike)):
            raise TypeError(f"inputs: expected paths, got {_validate.describe(item)}")
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir()  # not hidden files (macOS's ._clip.mp4)
                           if p.suffix.lower() in VIDEO_EXTENSIONS and not p.name.startswith(".")
                           and p.is_file())  # nor a subfolder named like a video
            if not found:
                raise FileNotFoundError(f"inputs: no video files in the folder {path}")
            files += found
        elif glob.has_magic(str(item)) and not path.exists():
            found = sorted(Path(p) for p in glob.glob(str(item)))
            if not found:
                raise FileNotFoundError(f"inputs: no file matches {item}")
            folder = next((p for p in found if p.is_dir()), None)
            if folder is not None:
                raise ValueError(f"inputs: the pattern {str(item)!r} matches the folder "
                                 f"{folder}; expected video files (a pattern such as "
                                 f"'*.mp4', or the folder itself for its videos)")
            files += found
        elif not path.exists():
            raise FileNotFoundError(f"inputs: no such file: {path}")
        else:
            files.append(path)
    if not files:
        raise ValueError("inputs: expected at least one input, got an empty list")
    for path in files:  # before the outputs named after them are checked
        refuse_special_input(path, "a video file", shown=f"inputs: {path}")
        pages = tiff_pages(path)
        if pages > 1:  # it failed on a worker, or as its output's '.tif' (retime, translate)
            raise ValueError(f"inputs: {path} is a TIFF of {pages} pages, an image stack, not a "
                             f"video file; flowkit flow and predict read it, one at a time")
    return files


def _outputs(files, outputs, suffix):
    """One output path per input: ``outputs`` a folder (created if missing, in a folder that
    must exist; names from the inputs') or a list of paths of the same length."""
    if isinstance(outputs, (str, os.PathLike)):
        folder = Path(outputs)
        if folder.exists() and not folder.is_dir():
            raise NotADirectoryError(f"outputs: {folder} exists and is not a folder")
        check_folder(folder, "outputs")  # as each path of a list: its folder must exist
        paths = [folder / (f.stem + (suffix or f.suffix)) for f in files]
        if len(set(paths)) != len(paths):
            twins = sorted(str(f) for f, p in zip(files, paths) if paths.count(p) > 1)
            raise ValueError(f"outputs: inputs with the same name would write the same file in "
                             f"{folder} ({', '.join(twins)}); give each its own output folder "
                             f"(one run per folder) or, in Python, a list of output paths")
        return paths
    if not isinstance(outputs, (list, tuple)):
        raise TypeError(f"outputs: expected a folder or a list of paths, got {_validate.describe(outputs)}")
    if len(outputs) != len(files):
        raise ValueError(f"outputs: expected {len(files)} paths (one per input), got {len(outputs)}")
    paths = [Path(p) for p in outputs]
    for path in paths:
        check_folder(path, "outputs")
    seen = {}  # the same file, however written (o/a.mp4, o/./a.mp4, a link to it): one output
    for src, path in zip(files, paths):
        twin = seen.setdefault(path.resolve(), (src, path))
        if twin[1] is not path:
            alias = f" (as {twin[1]})" if twin[1] != path else ""
            raise ValueError(f"outputs: {path} is the output of both {twin[0]}{alias} and "
                             f"{src}; expected one output path per input")
    return paths


# --- the cluster -----------------------------------------------------------------------------------

def _cores():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _sizes(workers, threads_per_worker):
    """(workers, threads per worker) of a LocalCluster: workers x threads <= cores."""
    cores = _cores()
    if threads_per_worker is not None:
        threads_per_worker = _validate.check_int("threads_per_worker", threads_per_worker,
                                                 min_value=1)
        if threads_per_worker > cores:  # as workers' message: the bound is the machine's
            raise ValueError(f"threads_per_worker: expected an integer <= {cores} ({cores} "
                             f"cores), got {threads_per_worker}")
    if workers is not None:
        workers = _validate.check_int("workers", workers, min_value=1)
        limit = cores // (threads_per_worker or 1)
        if workers > limit:
            threads = f" / {threads_per_worker} threads_per_worker" if threads_per_worker else ""
            raise ValueError(f"workers: expected an integer <= {limit} ({cores} cores{threads}), "
                             f"got {workers}")
    threads = threads_per_worker or max(1, cores // (workers or cores))
    return workers or max(1, cores // threads), threads


def _cluster(scheduler, workers, threads_per_worker):
    """(workers of the local cluster or None, kernel threads per task), checked before the run
    makes its output folder."""
    try:
        import distributed
    except ImportError:
        raise ImportError("flowkit.batch needs Dask: pip install 'flowkit-cv[dask]' (from a git "
                          "checkout: pip install -e '.[dask]')") from None
    if scheduler is None:
        return _sizes(workers, threads_per_worker)
    if workers is not None:
        raise ValueError("workers: only for the local cluster (scheduler=None); an existing "
                         "cluster has its own workers")
    if not isinstance(scheduler, (str, distributed.Client)):
        raise TypeError(f"scheduler: expected None, an address such as 'tcp://host:8786' or a "
                        f"distributed.Client, got {_validate.describe(scheduler)}")
    if isinstance(scheduler, str):
        _check_address(scheduler)
    return None, 1 if threads_per_worker is None else _validate.check_int(
        "threads_per_worker", threads_per_worker, min_value=1)


def _check_address(address):
    """A scheduler address that distributed can read (its own errors name neither the
    argument nor the form: "missing port number in address 'foo'", an int() error)."""
    from distributed.comm import get_address_host_port, parse_address
    from distributed.comm.registry import get_backend

    try:
        scheme, location = parse_address(address)
        get_backend(scheme)  # http:// (the dashboard's address) is not one
        if scheme in ("tcp", "tls"):
            get_address_host_port(address)
        # distributed unpacks an in-process address as ip/pid/n ("not enough values to unpack")
        if scheme == "inproc" and location.count("/") != 2:
            raise ValueError("an inproc address is ip/pid/n, of a scheduler in this process")
    except ValueError as exc:
        raise ValueError(f"scheduler: expected an address such as 'tcp://host:8786', got "
                         f"{address!r} ({exc})") from None


def _client(scheduler, workers, owned):
    """The client for :func:`_cluster`'s checked arguments; what it starts is appended to
    ``owned`` as soon as it exists (an interrupt may come at any time)."""
    import distributed

    if isinstance(scheduler, distributed.Client):
        return scheduler
    if scheduler is None:
        # one task at a time per worker process, with `threads` kernel threads; the workers
        # ignore SIGINT (dask_setup): a Ctrl-C reaches the whole process group, and this
        # process, not the workers, ends the run and closes them. Before dask_setup runs, a
        # worker importing its modules printed a KeyboardInterrupt traceback (and an
        # interrupted LocalCluster() Dask's atexit AssertionError): SIGINT is blocked while
        # the cluster starts, so the processes its loop thread spawns (that thread is made
        # here and inherits the mask) start with it blocked, and this process gets a Ctrl-C
        # given meanwhile once the cluster exists
        blocked = _block_sigint()
        try:
            owned.append(distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                silence_logs=50, preload=[__name__]))
        finally:
            if blocked is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        scheduler = owned[-1]
    if isinstance(scheduler, str):
        _probe(scheduler)
    try:
        owned.insert(0, distributed.Client(scheduler, timeout=f"{TIMEOUT}s"))
    except OSError as exc:  # distributed's "Timed out trying to connect to ADDR after 10 s"
        if not isinstance(scheduler, str):
            raise
        raise type(exc)(f"scheduler: {exc}") from exc
    return owned[0]


TIMEOUT = 10  # seconds to reach the scheduler at an address (distributed's connect timeout)


def _probe(address):
    """Connect to the scheduler at ``address`` and shake hands, as a Client does, within about
    ``TIMEOUT`` seconds; an ``OSError`` naming ``scheduler`` if that fails. distributed's Client
    waits for the handshake's answer without a timeout: an address of another service (the
    dashboard's port as tcp://) hung the run for ever, and one that answered something else
    raised what its bytes decoded to (a MemoryError of some EiB)."""
    import asyncio

    from distributed.comm import connect
    from distributed.security import Security

    async def shake():
        comm = await asyncio.wait_for(
            connect(address, timeout=TIMEOUT, **Security().get_connection_args("client")),
            TIMEOUT + 2)  # connect's own timeout first, with its message, where none accepts
        await comm.close()

    failed = []

    def run():  # in a thread of its own: the caller may be in an event loop (a notebook)
        try:
            asyncio.run(shake())
        except BaseException as exc:  # noqa: BLE001 - given to the caller
            failed.append(exc)

    thread = threading.Thread(target=run, name="flowkit-scheduler-probe", daemon=True)
    thread.start()
    thread.join()
    if not failed:
        return
    exc = failed[0]
    if isinstance(exc, asyncio.TimeoutError):
        raise OSError(f"scheduler: {address} accepted the connection but gave no Dask handshake "
                      f"within {TIMEOUT + 2} s; expected the address of a Dask scheduler "
                      f"(the dashboard's port serves HTTP)") from None
    if type(exc) is OSError and str(exc).startswith("Timed out trying to connect"):
        raise OSError(f"scheduler: {exc}") from exc
    raise OSError(f"scheduler: no Dask scheduler answered at {address} "
                  f"({type(exc).__name__}: {' '.join(str(exc).split())})") from exc


def _block_sigint():
    """Block SIGINT in this thread (and the threads and processes it starts); the previous
    mask, or None where there are no signal masks (Windows) or this is not the main thread."""
    if not hasattr(signal, "pthread_sigmask") or \
            threading.current_thread() is not threading.main_thread():
        return None
    from multiprocessing import resource_tracker

    # started now: the thread that starts it has SIGINT unblocked after (it unblocks the
    # signals it blocked around its spawn), which undid this block in Dask's loop thread
    resource_tracker.ensure_running()
    return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


def dask_setup(worker):
    """Run by Dask in each local-cluster worker process as it starts (``preload``): ignore
    SIGINT, so that a Ctrl-C to the process group does not print the workers' tracebacks."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _dashboard(client):
    """The dashboard's address where the scheduler really serves one (a dashboard address set)
    and bokeh, which draws it, is installed where the scheduler runs (asked there: a running
    cluster's scheduler is another process, whose bokeh is not this one's); else None."""
    import contextlib

    def bokeh_installed():  # run on the scheduler, pickled by value (no flowkit needed there)
        import importlib.util

        return importlib.util.find_spec("bokeh") is not None

    with contextlib.suppress(Exception):
        if "dashboard" in client.scheduler_info().get("services", {}) \
                and client.run_on_scheduler(bokeh_installed):
            return client.dashboard_link
    return None


class _Refused:
    """What a task returns when its job raised ValueError or TypeError, flowkit's errors
    about an input or an option: the same input fails the same way again, so Dask's
    ``retries`` (reruns of a task that raised) are not spent on it."""

    def __init__(self, error):
        self.error = error


def _needs(options):
    """option -> (estimator name, where it comes from on the client) for the options naming
    an estimator that is not built in (``flow``, the flow job's ``method``): a worker that
    lacks it says so (:func:`_lacking`)."""
    from ._estimators import origin

    return {key: (options[key], origin(options[key])) for key in ("flow", "method")
            if origin(options.get(key)) is not None}


def _lacking(needs):
    """A :class:`_Refused` naming the first estimator of ``needs`` (:func:`_needs`) that this
    worker does not know (an entry point installed on the client only: the worker's error
    listed the built-in names and spoke of register_estimator), else None."""
    if not needs:
        return None
    from ._estimators import list_estimators

    known = list_estimators()
    for option, (name, where) in needs.items():
        if name not in known:
            return _Refused(ValueError(f"{option}: the estimator {name!r} is not installed on "
                                       f"the Dask worker {_worker()}; on the client it is "
                                       f"{where}"))
    return None


def _task(run, src, dst, threads, options, needs=None):
    """One task on a worker: the job with ``threads`` kernel threads (Numba's count is per
    thread, so it is set in the thread that runs the job), output written atomically by it.
    Returns ``(frames written, warnings)``: the messages of the
    :class:`~flowkit.video.DamagedVideoWarning` the job raised (a warning in a worker is
    not seen on the client); a :class:`_Refused` where the job raised ValueError or
    TypeError."""
    from ._threads import set_num_threads

    import numba

    set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    return _lacking(needs) or _recorded(lambda: run(src, dst, **options))


def _recorded(call):
    """``(call(), warnings)``: the messages of the :class:`~flowkit.video.DamagedVideoWarning`
    flowkit raised in it, each once (other warnings are shown in the worker); a
    :class:`_Refused` where it raised ValueError or TypeError. Collected per task, not with
    ``warnings.catch_warnings``: tasks running at once in a worker's threads shared its
    recorder, one reporting another's warning, one losing its own."""
    from .video import DamagedVideoWarning

    with _validate.collecting(DamagedVideoWarning) as notes:
        try:
            value = call()
        except (ValueError, TypeError) as exc:
            return _Refused(exc)
        except ImportError as exc:  # an extra or a package missing on this worker, not the
            where = _worker()  # client (which has them: its checks passed): say which
            if where:
                _validate.add_note(exc, f"on the Dask worker {where}")
            exc.__cause__ = exc.__context__ = None  # as below
            raise
        except Exception as exc:
            # Dask sends the error to the client pickled with the exceptions chained to it
            # (tblib), and PyAV's cannot be unpickled: an output that could not be written
            # (`ulimit -f`) came back as Exception("OSError(27, 'File too large')"), its file
            # name lost. The message names what failed; the chain stays out of it
            exc.__cause__ = exc.__context__ = None
            raise
    return value, list(dict.fromkeys(notes))


def _worker():
    """The Dask worker running this (its address, and its name where it has one of its own),
    or None outside a worker."""
    from distributed import get_worker

    try:
        worker = get_worker()
    except ValueError:  # not in a worker
        return None
    name = worker.name
    named = name is not None and str(name) != worker.address and not isinstance(name, int)
    return f"{name} at {worker.address}" if named else worker.address


def batch(job, inputs, outputs, *, scheduler=None, workers=None, threads_per_worker=None,
          chunk_frames=None, retries=2, resume=False, progress=True, **job_options):
    """Run a job over many videos (or one long video in chunks) on a Dask cluster.

    Each input is one task (or, with ``chunk_frames``, one task per chunk) that calls the
    same public function a Python user calls, in a worker process; outputs are written
    atomically, so a killed run leaves no partial file.

    Parameters
    ----------
    job : {"retime", "predict", "flow", "translate"} or callable
        ``"retime"``: :func:`flowkit.retime` (options: its keywords). ``"predict"``: the last
        ``context`` frames of each video (``"auto"``, the default: 4; decoded from the keyframe
        before them, not from the start) carried ``horizon`` frames forward with :func:`flowkit.predict`, written as a
        video (options: ``horizon`` (required) and predict's keywords, ``fps``, ``codec``,
        ``crf`` (default 18, as ``flowkit predict --crf``), ``deinterlace`` (as ``flowkit
        predict --deinterlace``: a frame per field, predicted at the field rate));
        with ``stride=S`` a rolling prediction instead: the ``horizon`` frames after every
        window of ``context`` frames that starts on frame 0, S, 2S, ..., one after the other.
        ``"flow"``: the flow of every consecutive pair (estimator ``method``, default
        ``"dis"``, ``flow_options``), written as a colour-coded video (``max_flow``, ``fps``,
        ``codec``, ``crf``: default 18, as ``--crf``) as ``flowkit flow SRC --video DST
        --method dis`` writes it: the picture of
        pair (k, k+1) at frame k's time, with the input's display rotation (``fps``: a
        constant rate). ``"translate"``: :func:`flowkit.translate` of each whole video
        (options: ``op`` (required: a built-in name, ``"package.module:function"`` or a
        callable the workers can unpickle) and translate's keywords; not split into chunks:
        the consistency runs from frame to frame). A callable ``run(src, dst, **options) ->
        frames written`` is a custom job (it must be importable on the workers).
    inputs : str, Path or list of them
        Video files, folders (their video files) or glob patterns such as ``"clips/*.mp4"``
        (a pattern that matches a folder is a ``ValueError``, as is a TIFF of several pages:
        an image stack, which ``flowkit flow`` and ``flowkit predict`` read).
    outputs : str, Path or list of them
        A folder (created if missing, in a folder that must exist; removed again if the run
        leaves it empty: interrupted, or every input failed) that receives one output per
        input, named as the input (``.mp4`` for predict and flow), or a list of output paths,
        one per input.
    scheduler : None, str or distributed.Client
        None: a ``distributed.LocalCluster`` of ``workers`` processes on this machine, closed
        at the end. An address (``"tcp://host:8786"``) or a ``Client``: an existing cluster.
    workers : int, optional
        Worker processes of the local cluster (default: cores // threads_per_worker).
    threads_per_worker : int, optional
        Kernel threads of each task (``flowkit.set_num_threads``; default 1 with several
        workers). workers x threads_per_worker must not exceed the cores.
    chunk_frames : int, optional
        Split each input (``"retime"``, ``"flow"``, ``"predict"`` with ``stride``) into chunks
        of about this many frames, cut at keyframes (the overlap each job needs: one frame,
        ``context - 1`` for predict), processed on several workers and joined: the result is
        frame-for-frame the single-process output, retime's audio included (muxed by the join
        from the source as the single run does; docs/scaling.md). ``"predict"`` without
        ``stride`` is not split: it decodes only the tail of each video.
    retries : int
        Times a failed task is run again (Dask's ``retries``; default 2). A task whose job
        raised ValueError or TypeError (flowkit's errors about an input or an option: a file
        that cannot be decoded) is not: it would fail the same way. A worker that dies is
        replaced and its task rerun by Dask whatever this is.
    resume : bool
        Skip inputs whose output exists already (a finished output is never partial); with
        every output there no cluster is started.
    progress : bool, None or callable
        One tqdm progress bar over the tasks on stderr (an input, or each part of a chunked
        one and its join), and the dashboard's link (where ``report.dashboard`` has one);
        None: when stderr is a terminal. A callable ``progress(done, total)`` instead, called
        in the calling thread as each task ends with the tasks ended and their number (the
        last call has ``done == total``); an exception it raises cancels the run as a
        Ctrl-C does (the tasks are cancelled, the local workers stopped, no partial output
        or temporary file left; outputs finished before stay) and propagates.
    **job_options
        Keyword options of the job.

    Returns
    -------
    BatchReport
        Outputs done, inputs failed (with their error), outputs skipped, frames, seconds.

    Raises
    ------
    ValueError
        Unknown job, a ``scheduler`` address distributed cannot read (``"host"`` without a
        port, the dashboard's ``http://``), bad sizes (workers x threads_per_worker above the
        cores), ``outputs`` of the wrong length, two inputs writing one output, an output
        that is an input, ``chunk_frames`` with a job that cannot be split, and job options
        the public function would refuse (checked before any task; the message starts with
        ``job_options:``), a glob pattern that matches a folder. An input that fails is
        reported in ``failed``, not raised.
    TypeError
        Arguments of the wrong type.
    FileNotFoundError
        An input (or a glob or folder without videos) that does not exist, or the folder of
        an output path in a list (a folder ``outputs`` is created). Everything above is
        checked before the cluster starts and before the output folder is created.
    OSError
        A ``scheduler`` address that does not answer within 10 s (distributed's timeout):
        ``scheduler: Timed out trying to connect to ADDR after 10 s``; one that accepts the
        connection but is not a Dask scheduler (another service's port) within 12 s; no
        output folder is made.
    ImportError
        ``dask`` / ``distributed`` are not installed (``pip install 'flowkit-cv[dask]'``).

    Examples
    --------
    >>> report = flowkit.batch("retime", "clips/*.mp4", "out/", factor=2)  # doctest: +SKIP
    >>> report.done, report.failed  # doctest: +SKIP
    """
    start = time.perf_counter()
    # the command line prints the dashboard's address without a bar (stderr not a terminal);
    # a private option, not in the signature a user reads
    announce = job_options.pop("_announce", None)
    if callable(job):
        spec = Job(job)
    elif isinstance(job, str) and job in JOBS:
        spec = JOBS[job]
    else:
        raise ValueError(f"job: expected one of {', '.join(JOBS)} or a callable, got {job!r}")
    if job == "predict" and "horizon" not in job_options:
        raise ValueError("job_options: horizon: the predict job needs horizon=N (frames to predict)")
    if job == "translate" and "op" not in job_options:
        from ._frame_ops import BUILTIN

        raise ValueError(f"job_options: op: the translate job needs op= (a built-in name: "
                         f"{', '.join(BUILTIN)}, 'package.module:function' or a callable)")
    spec.check(job_options)
    retries = _validate.check_int("retries", retries, min_value=0)
    resume = _validate.check_bool("resume", resume)
    progress = check_progress(progress)
    if chunk_frames is not None:
        chunk_frames = _validate.check_int("chunk_frames", chunk_frames, min_value=2)
    files = _expand(inputs)
    paths = _outputs(files, outputs, spec.suffix)
    _check_inputs(spec, files, paths, job_options)
    cuts = None if chunk_frames is None else spec.chunking(job_options)
    if chunk_frames is not None and cuts is None:
        raise ValueError(f"chunk_frames: the {job!r} job cannot be split with these options; "
                         f"retime, flow, and predict with stride=S (a rolling prediction; "
                         f"without it predict decodes only the tail of each video) can")
    workers, threads = _cluster(scheduler, workers, threads_per_worker)
    skipped = [dst for dst in paths if resume and dst.is_file()]
    todo = [(src, dst) for src, dst in zip(files, paths) if dst not in skipped]

    _remove_temporaries(paths)  # left by a killed worker or an interrupted earlier run
    frames, done, failed, warned, dashboard, retried = 0, [], {}, {}, None, {}
    owned, submitted = [], []  # what this run started and must close; its futures
    created = None  # the output folder this run made
    try:
        if todo:  # with every output there (resume) no cluster is started
            client = _client(scheduler, workers, owned)
            if isinstance(outputs, (str, os.PathLike)):  # once a cluster is there (a refused run
                try:  # creates nothing)
                    Path(outputs).mkdir()
                    created = Path(outputs)
                except FileExistsError:
                    pass
            dashboard = _dashboard(client)
            if (shows_bar(progress) if announce is None else announce) and dashboard:
                print(f"flowkit batch: Dask dashboard at {dashboard}", file=sys.stderr)
            owners = {}  # task key -> its input
            frames, done, failed, warned = _run(client, spec, todo, threads, retries,
                                                chunk_frames, cuts, job_options, progress,
                                                submitted, owners)
            retried = _retried(client, owners, retries, done, todo)
    finally:
        try:
            _stop(owned, submitted, paths)
        finally:  # interrupted, or every input failed: a folder it made and left empty goes
            if created is not None:
                with contextlib.suppress(OSError):  # not empty (or gone): it stays
                    created.rmdir()
    not_written, alpha, padded = {}, [], {}
    if job != "flow":  # what retime's, predict's and translate's notes say of one input, read
        from .video import has_alpha, open_input, streams_not_written  # on the client

        for src, dst in todo:
            if dst in done:
                container, stream = open_input(src)
                try:
                    kinds = (streams_not_written(container, stream, dst) if job == "retime"
                             else [])
                    if has_alpha(stream):
                        alpha.append(str(src))
                finally:
                    container.close()
                if kinds:
                    not_written[str(src)] = kinds
    if isinstance(job, str):  # the jobs' outputs are videos of the input's size
        for src, dst in todo:
            written = _padded_size(src, dst) if dst in done else None
            if written is not None:
                padded[str(src)] = written
    return BatchReport(done=done, failed=failed, skipped=skipped, frames=frames,
                       seconds=time.perf_counter() - start, dashboard=dashboard,
                       not_written=not_written, warnings=warned, alpha=alpha, padded=padded,
                       retried=retried)


def _padded_size(src, dst):
    """``(size, written)`` when the output ``dst`` holds the input's odd ``size`` (width,
    height, as stored; or its transpose: an upright AVI of a rotated input) padded to the even
    ``written`` for the encoder, else None."""
    from .video import open_input

    size, written = [], []
    for path, pair in ((src, size), (dst, written)):
        container, stream = open_input(path)
        try:
            pair += (stream.codec_context.width, stream.codec_context.height)
        finally:
            container.close()
    size, written = tuple(size), tuple(written)
    for stored in (size, size[::-1]):
        if written != stored and written == tuple(n + n % 2 for n in stored):
            return stored, written
    return None


def _check_inputs(spec, files, paths, options):
    """Before any task: no output is its input, and the job's options are valid (checked as the
    public function checks them; errors start with ``job_options:``)."""
    sources = {src.resolve(): src for src in files}
    for src, dst in zip(files, paths):
        if dst.exists() and dst.resolve() == src.resolve():
            raise ValueError(f"outputs: {dst} is the input {src}; refusing to overwrite it")
        if dst.exists() and dst.resolve() in sources:  # another task reads it meanwhile
            raise ValueError(f"outputs: {dst} (the output of {src}) is the input "
                             f"{sources[dst.resolve()]}; refusing to overwrite it")
        if dst.is_dir():
            raise ValueError(f"outputs: {dst} (the output of {src}) is a folder; expected a "
                             "file path or nothing there")
    if spec.validate is None:
        return
    checked = set()
    for src, dst in zip(files, paths):
        if dst.suffix.lower() not in checked:  # the options are the same; the codec's default not
            checked.add(dst.suffix.lower())
            try:
                spec.validate(src, dst, options)
            except (ValueError, TypeError, FileNotFoundError, IsADirectoryError) as exc:
                if str(exc).startswith("dst: "):  # the output path (named as its input), no option
                    raise type(exc)(f"outputs: {str(exc)[5:]}") from None
                raise type(exc)(f"job_options: {exc}") from None  # a model or weights file


def _check_writer(dst, fps, codec, crf=None):
    """The ``fps``, ``codec`` and ``crf`` options of a job that writes with VideoWriter."""
    from .video import _fraction, check_crf, writer_codec

    if fps is not None:
        _fraction("fps", fps)
    encoder = writer_codec(dst, codec, name="dst")
    if crf is not None:  # the encoder's range, as retime's and translate's
        check_crf(crf, encoder)


def _stop(owned, submitted, paths):
    """End the run: cancel its tasks still queued or running (after an interruption; the local
    workers, which may still run them, are killed at once), close what :func:`batch` started,
    and make sure the local cluster's worker processes have exited
    before the caller removes temporaries. Dask's close gives a worker stuck in a task a few
    seconds, then kills it; when its own timeouts run out first (a loaded machine) it returns
    with the process alive, and its task could still create a temporary file: such a process
    is killed here. Then the temporaries of ``paths`` are removed, whatever happened before."""
    import contextlib
    import logging

    import psutil

    processes, pending = [], []
    # the scheduler's sends to the killed local workers fail, which Dask logs with a traceback
    # (distributed.batched, INFO, after the cluster restored its log levels): a filter of this
    # run's own drops those records while it stops, then goes; the logger's level (the host's,
    # or another run's in another thread) is never set
    batched = logging.getLogger("distributed.batched")

    def quiet(record):  # this run's filter: drops the records below CRITICAL
        return record.levelno >= logging.CRITICAL

    try:
        with contextlib.suppress(Exception):
            pending = [future for future in submitted if not future.done()]
            if pending:
                submitted[0].client.cancel(pending, force=True)
        for thing in owned:
            for nanny in getattr(thing, "workers", {}).values():
                with contextlib.suppress(Exception):
                    processes.append(psutil.Process(nanny.process.process.pid))
                if pending:  # a worker's exit below ends its nanny instead of restarting it
                    with contextlib.suppress(Exception):
                        nanny.close_gracefully()
        if pending:
            # interrupted: a cancelled task still runs in its worker, and one that ended within
            # Dask's grace in close wrote its output after the signal, over an existing file
            if processes:
                batched.addFilter(quiet)
            for process in processes:
                with contextlib.suppress(psutil.Error):
                    process.kill()
        for thing in owned:
            thing.close()
    finally:
        try:
            _, alive = psutil.wait_procs(processes, timeout=10)
            for process in alive:
                with contextlib.suppress(psutil.Error):
                    process.kill()
            psutil.wait_procs(alive, timeout=10)
            # a worker killed mid-write (Ctrl-C, SIGTERM, a crash) cannot remove its temporary
            # file; with its tasks cancelled and the local workers gone nothing writes here
            _remove_temporaries(paths)
        finally:
            batched.removeFilter(quiet)


def _part_path(dst, token, index):
    """Where chunk ``index`` of ``dst`` is stored until :func:`_join` (hidden, beside it)."""
    return dst.with_name(f".{dst.stem}.{token}.part{index}.mkv")


def _remove_temporaries(paths):
    """Remove what killed workers leave beside each output: the atomic writes' temporaries
    (of the outputs and of the chunks) and the chunks themselves."""
    for dst in paths:
        if not dst.parent.is_dir():
            continue
        # the exact token: "*" matched the parts of take.v2.mp4 for take.mp4 (another run's)
        parts = _part_path(dst.with_name(glob.escape(dst.name)), TOKEN_PATTERN, "[0-9]*")
        for path in [*stale_temporaries(dst), *dst.parent.glob(parts.name),
                     *stale_temporaries(parts, pattern=True)]:
            path.unlink(missing_ok=True)


def _run(client, spec, todo, threads, retries, chunk_frames, cuts, options, progress, submitted,
         owners):
    """Submit the tasks (each future appended to ``submitted``, its key -> its input put in
    ``owners``) and collect the results."""
    from distributed import as_completed

    from .cli import _one_line

    futures, parts, failed = {}, {}, {}  # future -> (src, dst); dst -> part files
    needs = _needs(options)
    warned = {}  # src -> its DamagedVideoWarning messages
    for src, dst in todo:
        try:
            bounds = _chunks(src, chunk_frames, **cuts) if chunk_frames else [None]
        except Exception as exc:  # noqa: BLE001 - an input that cannot be split is reported
            failed[str(src)] = _one_line(exc, flags=False)
            continue
        # the tasks get absolute paths: a worker started elsewhere (dask worker on another
        # host, a batch system) has its own working folder, where relative ones read and write
        where, into = os.path.abspath(src), os.path.abspath(dst)
        if len(bounds) == 1:
            future = client.submit(_task, spec.run, where, into, threads, options, needs,
                                   retries=retries, pure=False)
            submitted.append(future)
        else:
            token = os.urandom(4).hex()
            parts[dst] = [_part_path(dst, token, i) for i in range(len(bounds))]
            pieces = [client.submit(_task, spec.part, where, os.path.abspath(path), threads,
                                    dict(options, part=bound), needs, retries=retries,
                                    pure=False)
                      for path, bound in zip(parts[dst], bounds)]
            future = client.submit(_join, spec.join, where, into,
                                   [os.path.abspath(p) for p in parts[dst]], pieces, options,
                                   needs, retries=retries, pure=False)
            submitted.extend(pieces + [future])
        futures[future] = (src, dst)
        owners.update((task.key, str(src)) for task in submitted if task.key not in owners)
    frames, done = 0, []
    # one step per task, a chunk's part and a join too: a chunked long video moves the bar
    tasks = list(submitted)
    with progress_bar(progress, total=len(tasks), unit="task", desc="batch") as bar:
        for future in as_completed(tasks):
            bar.update()
            if future not in futures:  # a part: its join reports the input
                continue
            src, dst = futures[future]
            # messages name the paths as the caller gave them, a chunk's part as the output
            given = _as_given(src, dst, parts.get(dst, ()))
            result = future.result() if future.status == "finished" else None
            if result is not None and not isinstance(result, _Refused):
                count, notes = result
                frames += count
                done.append(dst)
                if notes:
                    warned[str(src)] = [given(note) for note in notes]
            else:
                error = result.error if result is not None else future.exception()
                failed[str(src)] = given(_one_line(error, options, flags=False))
                for path in parts.get(dst, ()):
                    path.unlink(missing_ok=True)
    # in the order of the inputs, not of completion: the report and the command's lines are
    # the same from one run to the next
    order = [dst for _, dst in todo]
    done.sort(key=order.index)
    sources = [str(src) for src, _ in todo]
    failed, warned = ({src: found[src] for src in sources if src in found}
                      for found in (failed, warned))
    return frames, done, failed, warned


def _retried(client, owners, retries, done, todo):
    """Input -> the times its tasks ran again after a failure (Dask's ``retries`` spent, and
    reruns after their worker died), for the inputs in ``done``; asked of the scheduler while
    the futures are held ({} where it cannot tell: another distributed's scheduler)."""
    def reruns(dask_scheduler, keys, retries):  # run on the scheduler, pickled by value
        found = {}
        for key in keys:
            task = dask_scheduler.tasks.get(key)
            if task is not None:
                found[key] = retries - task.retries + task.suspicious
        return found

    if not owners:
        return {}
    try:
        counts = client.run_on_scheduler(reruns, keys=list(owners), retries=retries)
    except Exception:  # noqa: BLE001 - a report line is not worth failing the run
        return {}
    finished = {str(src) for src, dst in todo if dst in done}
    retried = {}
    for key, count in counts.items():
        if count and owners[key] in finished:
            retried[owners[key]] = retried.get(owners[key], 0) + count
    return {str(src): retried[str(src)] for src, _ in todo if str(src) in retried}


def _as_given(src, dst, parts=()):
    """A function that writes the absolute paths of ``src`` and ``dst`` (the tasks') in a
    message as given, as a single run names them; those of ``dst``'s hidden chunk files
    (``parts``) as ``dst``: under `ulimit -f` a chunked retime named
    ``/abs/out/.clip.1a2b3c4d.part1.mkv``."""

    def given(message):
        for part in parts:
            message = message.replace(os.path.abspath(part), str(dst))
        for path in sorted((src, dst), key=lambda p: -len(os.path.abspath(p))):  # a.mp4.mp4
            message = message.replace(os.path.abspath(path), str(path))
        return message

    return given


def _chunks(src, chunk_frames, align=1, tail=2):
    """Parts of ``src`` for a job's ``part``: (start, stop) seconds from the first frame, cut
    at keyframes at least ``chunk_frames`` frames apart whose frame index is a multiple of
    ``align``, the last part at least ``tail`` frames, found by demuxing (only the first frame
    is decoded)."""
    from .video import decode, open_input

    container, stream = open_input(src)
    try:
        packets = [(p.pts, p.is_keyframe) for p in container.demux(stream)
                   if p.size and not p.is_discard]  # discarded: not shown (MP4)
        base = Fraction(stream.time_base)
    finally:
        container.close()
    # H.264 in MPEG-PS gives only a PES packet's first frame a timestamp: its frames are
    # counted in decoding order, cut at the timed keyframes (counting the timed frames alone
    # cut a rolling prediction of stride 8 at frame 60)
    if all(pts is not None for pts, _ in packets):
        packets.sort()
    if not any(pts is not None for pts, _ in packets):
        raise ValueError(f"src: {src} holds no video packets")
    # the parts count from the first frame decoded (decode_from), which is not the first
    # packet's where the packets before it cannot be decoded (a damaged first keyframe)
    container, stream = open_input(src)
    try:
        origin = next(decode(container, stream, upright=False, quiet=True),
                      (min(pts for pts, _ in packets if pts is not None) * base,))[0]
    finally:
        container.close()
    cuts, last = [], 0
    for index, (pts, key) in enumerate(packets):
        if key and pts is not None and pts * base > origin and index - last >= chunk_frames \
                and len(packets) - index >= tail and index % align == 0:
            cuts.append(pts * base - origin)
            last = index
    starts = [Fraction(0)] + cuts
    return list(zip(starts, cuts + [None]))


def _join(join, src, dst, paths, results, options, needs=None):
    """``join`` the parts into ``dst`` (atomically), then remove them (after a failure they
    stay for a retry; :func:`_run` removes them if the input fails for good). ``results``: each
    part's :func:`_task` result, the frames it wrote (a part with none, outside a trimmed
    segment, wrote no file) and its warnings; returns the frames and all the warnings, or the
    first part's :class:`_Refused`."""
    refused = [result for result in results if isinstance(result, _Refused)]
    if refused:
        return refused[0]
    lacking = _lacking(needs)  # the join checks the options again (retime's)
    if lacking:
        return lacking
    # the join's own warnings too (retime's audio is decoded here)
    joined = _recorded(lambda: join(src, dst, [path for path, (count, _) in zip(paths, results)
                                               if count], **options))
    if isinstance(joined, _Refused):
        return joined
    frames, notes = joined
    for path in paths:
        Path(path).unlink(missing_ok=True)
    return frames, list(dict.fromkeys([note for _, part in results for note in part] + notes))
