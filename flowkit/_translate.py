"""Blind video temporal consistency (``flowkit.temporally_consistent``,
``flowkit.iter_temporally_consistent``): a video processed frame by frame (a filter, a tone
curve, a colouriser, a style network) made free of flicker by pulling each output frame
towards the previous output, warped by the flow of the original frames, where that flow is
reliable (forward-backward consistent, inside the frame) and not across scene cuts.

Built from the estimators (``_estimators``), ``warp``, interpolate's occlusion test and
retime's scene-cut test; the gradient-domain method solves a screened Poisson equation
exactly with the DCT (``scipy.fft``).
"""

import functools

import numpy as np

from . import _validate
from ._backend import as_array, is_device_array, kept_copy
from ._estimators import get_estimator
from .video import DEFAULT_CRF

METHODS = ("blend", "gradient")
DEFAULT_STRENGTH = 0.8
# the gradient method's screening weight k (1 / px^2): detail finer than about 1 / sqrt(k)
# = 4.5 px comes from the processed frame's gradients, coarser structure from the blend with
# the warped previous output. On 20 traffic frames of benchmarks/eval_translation.py the
# warping error fell by 78, 80, 82 and 83 % with k = 0.01, 0.05, 0.2, 1 (blend: 83 %)
SCREENING = 0.05


def check_audio(audio):
    """``translate``'s ``audio``: True or ``"copy"``, False or ``"drop"`` (``retime``'s words);
    returns the bool."""
    if isinstance(audio, str):
        if audio not in ("copy", "drop"):
            raise ValueError(f"audio: expected True, False, 'copy' or 'drop', got {audio!r} "
                             "(translate keeps the duration: nothing to stretch)")
        return audio == "copy"
    return _validate.check_bool("audio", audio)


def _check_strength(strength):
    return _validate.check_float("strength", strength, low=0.0, high=1.0, high_open=True)


def _check_options(flow, flow_options, method, strength, scene_threshold):
    """Check everything but the frames, before any frame is read; returns the estimator,
    method, strength and threshold."""
    method = _validate.check_choice("method", method, METHODS)
    if method == "gradient":  # its DCTs: SciPy, an optional dependency
        _validate.import_optional("scipy.fft", 'method: "gradient"', "SciPy", "scipy")
    strength = _check_strength(strength)
    estimate = get_estimator(flow, flow_options)
    if scene_threshold is not None:
        scene_threshold = _validate.check_float("scene_threshold", scene_threshold, low=0,
                                                high=100, low_open=True)
    return estimate, method, strength, scene_threshold


def _lead(name, frame):
    """``(H, W)`` of one frame ``(H, W)`` or ``(H, W, C)``."""
    _validate.check_image(name, frame, ndims=(2, 3))
    return tuple(frame.shape[:2])


def _to_dtype(result, dtype):
    if dtype.kind == "u":
        info = np.iinfo(dtype)
        return np.clip(np.rint(result), 0, info.max).astype(dtype)
    return result.astype(dtype)


def reliable_mask(frame, previous, estimate):
    """Flow from ``frame`` to ``previous`` and where it is reliable.

    Returns
    -------
    flow : ndarray (H, W, 2) float32
        ``frame[y, x] ~ previous[y + v, x + u]``.
    mask : ndarray (H, W) bool
        True where the forward-backward test passes (``_interpolate._occlusion``, Sundaram
        et al. 2010) and the target lies inside ``previous``.
    """
    from ._interpolate import _occlusion
    from ._warp import warp

    flow = np.ascontiguousarray(estimate(frame, previous), dtype=np.float32)
    back = np.ascontiguousarray(estimate(previous, frame), dtype=np.float32)
    _, inside = warp(flow[..., 0], flow, return_mask=True)
    return flow, inside & ~_occlusion(flow, back)


@functools.lru_cache(maxsize=4)
def _laplacian_eigenvalues(height, width):
    """Eigenvalues of the 4-neighbour graph Laplacian of an ``height x width`` grid with
    Neumann border, in the order of the orthonormal 2-D DCT-II that diagonalises it."""
    ly = 2 - 2 * np.cos(np.pi * np.arange(height) / height)
    lx = 2 - 2 * np.cos(np.pi * np.arange(width) / width)
    return ly[:, None] + lx[None, :]


def _gradient_solve(processed, warped, weight, screening=SCREENING):
    """The screened Poisson problem of ``method="gradient"``: the image O minimising
    ``|grad O - grad P|^2 + k (weight |O - W|^2 + (1 - weight) |O - P|^2)`` (k = ``screening``,
    ``weight`` in [0, 1] per pixel), i.e. ``(L + k) (O - P) = k weight (W - P)`` with L the
    grid Laplacian (Neumann border), solved exactly in the DCT-II basis (float64)."""
    from scipy import fft

    lam = _laplacian_eigenvalues(*processed.shape[:2])
    p = processed.astype(np.float64)
    w = weight if p.ndim == 2 else weight[..., None]
    gain = screening / (screening + lam)
    if p.ndim == 3:
        gain = gain[..., None]
    correction = fft.dctn(w * (warped - p), axes=(0, 1), norm="ortho")
    return p + fft.idctn(correction * gain, axes=(0, 1), norm="ortho")


def _step(previous_out, processed, mask, flow, method, strength):
    """One output frame (float32) from the previous output, the processed frame, the flow to
    the previous frame and its reliability mask."""
    from ._warp import warp

    warped = warp(previous_out, flow)
    if method == "blend":
        weight = (strength * mask).astype(np.float32)
        if processed.ndim == 3:
            weight = weight[..., None]
        return processed + weight * (warped - processed)
    return _gradient_solve(processed, warped, strength * mask).astype(np.float32)


def iter_temporally_consistent(frames, processed, *, flow="farneback", flow_options=None,
                               method="blend", strength=DEFAULT_STRENGTH, scene_threshold=10.0):
    """Streaming form of :func:`temporally_consistent`: yield each consistent frame as soon as
    its original and processed frames are read.

    Parameters
    ----------
    frames, processed : iterables of arrays
        The original frames and the processed frames, one of each per time step (see
        :func:`temporally_consistent` for shapes and dtypes). Read lazily: one frame of each,
        the previous original and the previous output are held at a time.
    flow, flow_options, method, strength, scene_threshold
        As :func:`temporally_consistent`; checked when this function is called, before the
        first frame is read.

    Yields
    ------
    ndarray
        The consistent frames, shape and dtype of the processed frames.

    Raises
    ------
    ValueError, TypeError, ImportError
        As :func:`temporally_consistent`; frame errors are raised when that frame is read, and
        iterables of different lengths when the shorter one ends.

    Examples
    --------
    >>> import numpy as np, flowkit
    >>> rng = np.random.default_rng(0)
    >>> scene = rng.random((32, 40)).astype(np.float32)
    >>> originals = (scene for _ in range(4))
    >>> flicker = (np.clip(g * scene, 0, 1) for g in (1.0, 0.8, 1.2, 0.9))
    >>> len(list(flowkit.iter_temporally_consistent(originals, flicker)))
    4
    """
    for name, value in (("frames", frames), ("processed", processed)):
        _validate.check_frames_iterable(name, value)
    options = _check_options(flow, flow_options, method, strength, scene_threshold)
    return _consistent(iter(frames), iter(processed), *options)


def _host(value, name):
    """A frame as a NumPy array, through :func:`as_array`'s checks for host input (a masked
    array's mask, the byte order); device arrays as ``np.asarray`` takes them."""
    if is_device_array(value):
        return np.asarray(value)
    return np.asarray(as_array(value, name, frames=True))


def _consistent(frames, processed, estimate, method, strength, scene_threshold, cuts=None):
    """The recursion of :func:`iter_temporally_consistent`; appends the indices of the frames
    that follow a scene cut to ``cuts``."""
    from ._retime import scene_change

    index = 0
    previous = previous_out = None
    mafd = 0.0
    sentinel = object()
    while True:
        frame = next(frames, sentinel)
        result = next(processed, sentinel)
        if frame is sentinel or result is sentinel:
            if frame is not result:
                longer, shorter = ("frames", "processed") if result is sentinel else ("processed", "frames")
                raise ValueError(f"{shorter}: expected as many frames as {longer}, got {index} "
                                 f"(it ended first)")
            if index == 0:
                raise ValueError("frames: expected at least one frame (T >= 1), got none")
            return
        _validate.check_not_scalar(f"frames[{index}]", frame)
        _validate.check_not_scalar(f"processed[{index}]", result)
        frame, result = _host(frame, f"frames[{index}]"), _host(result, f"processed[{index}]")
        if index == 0:
            _validate.check_one_frame("frames[0]", frame)  # the estimator reads it as one
            lead = _lead("frames[0]", frame)
            if _lead("processed[0]", result) != lead:
                raise ValueError(f"processed[0]: expected height and width {lead} of frames[0], "
                                 f"got shape {tuple(result.shape)}")
            first = frame, result
        else:
            for name, a, b in (("frames", first[0], frame), ("processed", first[1], result)):
                _validate.check_array(f"{name}[{index}]", b)
                _validate.check_same_shape(f"{name}[0]", a, f"{name}[{index}]", b)
                _validate.check_same_dtype(f"{name}[0]", a, f"{name}[{index}]", b)
        if frame.dtype.kind == "f":  # the estimator's "frame0: ... NaN" named another frame
            _validate.check_finite(f"frames[{index}]", frame)
        p = result.astype(np.float32)
        cut = previous is None
        if scene_threshold is not None and previous is not None:
            cut, mafd = scene_change(previous, frame, mafd, scene_threshold)
            if cut and cuts is not None:
                cuts.append(index)
        if cut:
            out = p
        else:
            flow_back, mask = reliable_mask(frame, previous, estimate)
            out = _step(previous_out, p, mask, flow_back, method, strength)
        yield _to_dtype(out, np.dtype(result.dtype))
        # frame's buffer may be refilled
        previous, previous_out = kept_copy(frame, f"frames[{index}]"), out
        index += 1


def temporally_consistent(frames, processed, *, flow="farneback", flow_options=None,
                          method="blend", strength=DEFAULT_STRENGTH, scene_threshold=10.0):
    """Remove the flicker of a video processed frame by frame ("blind" temporal consistency).

    Output frame 0 is the processed frame 0. Each later output frame is the processed frame
    pulled towards the previous *output* frame, warped to the current frame by the optical flow
    of the *original* frames, at pixels where that flow is reliable; at occlusions, where the
    flow leaves the frame, and at the first frame after a scene cut the processed frame is
    left as it is.

    Parameters
    ----------
    frames : array (T, H, W) or (T, H, W, C), or iterable of (H, W[, C]) arrays
        The original video, T >= 1 frames of one shape and dtype (uint8, uint16, float16,
        float32, float64; floats in [0, 1]; C <= 4 for the estimators). The flow and the
        scene cuts are computed on these.
    processed : array (T, H, W) or (T, H, W, C'), or iterable of (H, W[, C']) arrays
        The same frames processed independently, of the same T, H and W and one dtype; C'
        may differ from C (a colouriser turns gray frames into RGB).
    flow : str or callable
        Estimator: a name from ``flowkit.list_estimators()`` (default ``"farneback"``) or a
        callable ``(frame0, frame1) -> flow`` with flowkit's convention. Called twice per
        frame (to the previous frame and back, for the forward-backward test).
    flow_options : dict, optional
        Keyword options of the named estimator, checked before any work.
    method : {"blend", "gradient"}
        * ``"blend"`` (default): ``O_t = P_t + s M_t (warp(O_{t-1}) - P_t)``, a per-pixel
          blend with the warped previous output (the short-term temporal loss of Lai et
          al. 2018 turned into a filter: an exponential moving average along the motion
          trajectories, memory ``1 / (1 - s)`` frames).
        * ``"gradient"``: gradient-domain, after Bonneel et al. 2015: ``O_t`` minimises
          ``|grad O - grad P_t|^2 + k (s M_t |O - warp(O_{t-1})|^2 + (1 - s M_t) |O - P_t|^2)``
          (a screened Poisson equation, ``(L + k)(O - P) = k s M (W - P)``, solved exactly
          with the DCT, ``scipy.fft``, which must be installed; ``k = 0.05`` px^-2): the processed frame's details
          finer than about 4.5 px, the blend's coarser structure. Bonneel et al.'s energy
          has only the first two terms with a per-pixel weight (solved iteratively); the third
          term, a constant total weight, keeps the output from drifting away from ``P`` on
          long shots and makes the solve one pair of DCTs per channel. Detail is not blurred
          by the repeated warping of the previous output.
    strength : float in [0, 1)
        ``s`` above, the weight of the warped previous output at reliable pixels (for
        ``"gradient"``, on structure coarser than the screening scale): 0 returns the
        processed frames unchanged, towards 1 the output follows the previous output more
        (a memory of ``1 / (1 - s)`` frames). Default 0.8.
    scene_threshold : float or None
        Scene-cut threshold in percent of full scale (float frames: of the pair's range;
        ``flowkit.retime``'s test,
        minterpolate's ``scd_threshold``, default 10): after a cut the output restarts from
        the processed frame. None: no detection.

    Returns
    -------
    ndarray (T, H, W[, C'])
        The consistent video, the dtype of ``processed`` (integers rounded and saturated).
        The recursion runs in float32 on the unrounded outputs.

    Raises
    ------
    ValueError
        No frames (T = 0); frames or processed frames of different shapes, or of different
        heights, widths or counts between the two; unknown ``method``, estimator or option;
        ``strength`` outside [0, 1); ``scene_threshold`` outside (0, 100]; a float frame with
        NaN or infinite values (named ``frames[K]``); an array that is not a video
        ``(T, H, W[, C])``.
    TypeError
        Frames that are not arrays or of an unsupported dtype (or mixed dtypes); ``flow``
        neither a name nor a callable; ``flow_options`` not a dict; a non-string ``method``;
        ``strength`` or ``scene_threshold`` not a real number.
    ImportError
        ``method="gradient"`` without SciPy installed (before any frame is read).

    Notes
    -----
    Reliability ``M_t`` (bool): the flow ``F`` from frame t to frame t - 1 and the flow
    ``B`` back pass the forward-backward test of ``flowkit.interpolate``
    (``|F + B(x + F)|^2 <= 0.01 (|F|^2 + |B(x + F)|^2) + 0.5``, Sundaram et al. 2010), and
    ``x + F`` lies inside the frame. Warping is ``flowkit.warp`` (bilinear, replicated
    border). The temporal warping error of Lai et al. (mean ``|O_t - warp(O_{t-1})|`` over
    reliable pixels) falls by 50 % or more on real clips with strong flicker at the
    default strength: docs/translation.md.

    References: N. Bonneel, J. Tompkin, K. Sunkavalli, D. Sun, S. Paris and H. Pfister,
    "Blind Video Temporal Consistency", ACM Trans. Graph. 34(6) (SIGGRAPH Asia), 2015;
    W.-S. Lai, J.-B. Huang, O. Wang, E. Shechtman, E. Yumer and M.-H. Yang, "Learning Blind
    Video Temporal Consistency", ECCV 2018.

    Examples
    --------
    >>> import numpy as np, flowkit
    >>> rng = np.random.default_rng(0)
    >>> scene = rng.random((32, 40)).astype(np.float32)
    >>> originals = np.stack([scene] * 6)
    >>> gains = rng.uniform(0.7, 1.3, 6).astype(np.float32)
    >>> flicker = np.stack([np.clip(g * scene, 0, 1) for g in gains])
    >>> out = flowkit.temporally_consistent(originals, flicker)
    >>> out.shape, out.dtype
    ((6, 32, 40), dtype('float32'))
    """
    arrays = []
    for name, value in (("frames", frames), ("processed", processed)):
        if hasattr(value, "shape") and hasattr(value, "dtype"):
            if value.ndim not in (3, 4):
                raise ValueError(f"{name}: expected a video (T, H, W) or (T, H, W, C), got shape "
                                 f"{tuple(value.shape)}")
            if value.shape[0] == 0:
                raise ValueError(f"{name}: expected at least one frame (T >= 1), got shape "
                                 f"{tuple(value.shape)}")
        arrays.append(value)
    if all(hasattr(v, "shape") for v in arrays) and frames.shape[:3] != processed.shape[:3]:
        raise ValueError(f"processed: expected T, H, W {tuple(frames.shape[:3])} of frames, got "
                         f"shape {tuple(processed.shape)}")
    return np.stack(list(iter_temporally_consistent(
        frames, processed, flow=flow, flow_options=flow_options, method=method,
        strength=strength, scene_threshold=scene_threshold)))


def _op_results(function, name, frames, depth, first=0):
    """The op on each decoded frame: as it is for ``depth=8``; for ``depth=16`` on the frame
    rounded to 8 bits, its uint8 result scaled back to the 16-bit scale (x 257: 255 -> 65535).
    ``first``: the input index of the first frame (errors name the frame by it)."""
    from . import _frame_ops

    for index, frame in enumerate(frames, first):
        if depth == 8:
            yield _frame_ops.apply(function, frame, index, name)
        else:
            small = ((frame.astype(np.uint32) + 128) // 257).astype(np.uint8)
            yield _frame_ops.apply(function, small, index, name).astype(np.uint16) * np.uint16(257)


def translate(src, dst, op, *, method="blend", strength=DEFAULT_STRENGTH, flow="farneback",
              flow_options=None, scene_threshold=10.0, segment=None, codec=None, crf=DEFAULT_CRF,
              audio=True, progress=None, deinterlace=False):
    """Apply a per-frame operation to a video file and make the result temporally consistent.

    The video is streamed: decoded (``flowkit.iter_frames``), each frame processed by ``op``,
    made consistent by :func:`iter_temporally_consistent` and encoded
    (``flowkit.VideoWriter``, atomic: an error leaves no partial file). Each output frame
    keeps the presentation time of its input frame (variable frame rate is kept, and the
    copied audio stays in sync), measured from the first frame; a time within one unit of
    the input's timestamps of a point of the grid its times lie on is written at that point
    (``flowkit.retime``'s rule: a 29.97 fps WebM's millisecond times read back at 2997/100,
    the rate ``retime`` writes, not 30000/1001).

    Parameters
    ----------
    src, dst : str or Path
        Input and output video files (``dst``'s extension picks the container).
    op : str or callable
        ``callable(frame) -> frame`` on ``(H, W, 3)`` uint8 RGB frames, a built-in name
        (``"autocontrast"``, ``"equalize"``, ``"colorize"``: the learned model, needs torch)
        or ``"package.module:function"``. The op always sees uint8 RGB: for input of more than
        8 bits, the frame rounded to 8 bits (see Notes).
    method, strength, flow, flow_options, scene_threshold
        As :func:`temporally_consistent`; the flow and the cuts are computed on the input.
    segment : (start, end), optional
        Translate only the input seconds ``start`` to ``end`` (from the first frame; ``None``
        for an open end), as ``flowkit.retime``'s ``segment``: the frames at times
        ``start <= t < end`` are processed and made consistent (the recursion starts at the
        first of them); the frames outside it are written unchanged (as decoded, re-encoded),
        at their own times. Default: the whole video.
    codec : str, optional
        Video encoder (default by ``dst``'s extension, ``flowkit.retime``'s: as
        ``flowkit.VideoWriter``'s but libx264 for ``.mkv``, since every frame is re-encoded
        and lossless FFV1 of a lossy source is ~20x larger, and for extensions without a
        default, such as ``.ts``; ``"ffv1"`` for lossless).
    crf : int
        Constant rate factor of the CRF encoders (default 18): 0-51 for libx264 and libx265,
        0-63 for the others.
    audio : bool or {"copy", "drop"}
        Copy the packets of every audio stream of the input unchanged, in its order (the
        duration is unchanged); a codec the output's container does not take (AAC into
        ``.webm``, ``.mpg``) is re-encoded instead (Opus; MP2 in MPEG-PS, AC-3 beyond
        stereo). False drops them. ``"copy"`` and ``"drop"``
        are True and False, as ``flowkit.retime``'s ``audio`` spells them.
    progress : bool, None or callable
        A tqdm bar on stderr; None: when stderr is a terminal. A callable ``progress(done,
        total)``: called after each frame with the frames done and the total expected (None
        where the input states no frame count), ending with ``done == total``; an exception
        it raises cancels the run, ``dst`` left unwritten (as ``flowkit.retime``'s).
    deinterlace : bool
        Read an interlaced input a frame per field (:func:`flowkit.iter_frames`'s
        ``deinterlace``: FFmpeg's bwdif, as ``ffmpeg -vf bwdif=mode=send_field``), as
        ``flowkit.retime``'s ``deinterlace``: 25i is translated and written as 50 frames a
        second at the fields' times (``"fps"`` the field rate), its duration, audio, chapters
        and ``segment`` unchanged. A progressive input (``VideoInfo.field_order``) is read as
        without it. Default False: interlaced frames are processed as they are, their fields
        woven (combed where things move, and the flow of combed frames).

    Returns
    -------
    dict
        ``"frames"`` written, ``"processed"`` (of these, frames in the ``segment``, which
        the op processed; all without one), ``"fps"`` (Fraction: the input's rate, stored as
        the stream's nominal rate; frames keep their own times; in AVI, which stores no
        times, the rate of the grid the input's times lie on, ``VideoInfo.base_rate``, times
        rounded to it), ``"cuts"`` (indices in the video of the frames that restarted
        the recursion), ``"size"`` (width, height as encoded, before the display rotation,
        which is copied from the input), ``"padded"`` (width, height before padding when an
        odd size was padded for a 4:2:0 encoder, else None), ``"audio"`` (``"copied"``,
        ``"re-encoded"``, ``"dropped"`` or ``"none"``), ``"audio_tracks"`` (audio streams written),
        ``"not_written"`` (the types of the input's other streams, which are not written:
        ``"subtitle"``, ``"data"``, ``"video"`` for a second video stream, one entry per
        stream, as ``RetimeReport.not_written``), ``"dropped_frames"`` (frames not written to an AVI
        because their time rounds onto the grid slot of the frame before: a variable rate
        faster than the grid there; the first frame of a slot is kept, ``VideoWriter``'s
        rule; 0 for other containers, which store each frame's time).

    Raises
    ------
    FileNotFoundError
        ``src`` or the folder of ``dst`` does not exist.
    IsADirectoryError
        ``dst`` is a folder.
    ValueError
        ``dst`` is ``src``; ``src`` holds a single frame (an image: refused as ``retime``
        refuses it, after that frame); a bad ``segment`` (as ``retime``'s: start >= end, a
        start at or after the end of the input; an end after it is the end), or one that holds
        no input frame; an unknown op,
        codec, method, estimator or option; an op that returns another shape or dtype (naming the frame), or that raises
        (``op: NAME raised TYPE on frame K: MESSAGE``, chained from the op's exception); a
        video that cannot be decoded.
    TypeError
        ``src`` or ``dst`` is not a str or ``os.PathLike``; ``audio`` or ``deinterlace`` not a
        bool, ``progress``
        neither None, a bool nor a callable; an op that returns something
        other than an array, or that raises a TypeError
        (reported as above).
    ImportError
        ``method="gradient"`` without SciPy installed (before any frame is read).

    Notes
    -----
    The pixel format and bit depth of the input are kept where the encoder takes them
    (``flowkit.retime``'s rule: yuv444p stays yuv444p, 10-bit stays 10-bit with libx264 and
    libx265), else the encoder's default at that depth (MJPEG, ``.avi``: full-range
    ``yuvj420p``, as ``predict`` writes it; it refuses limited-range ``yuv420p``). Input of
    more than 8 bits is decoded as 16-bit RGB: the flow and the scene cuts are computed on it, the op sees it rounded to
    8 bits, and the op's result is scaled back to 16 bits (x 257) before the consistency
    step, so the output has the op's 8-bit precision plus the blend's in-between levels.
    Frames are processed upright (a display rotation is applied) and written back in the
    input's coded orientation with its display rotation, colour tags (matrix, range,
    primaries, transfer) and language tags (video and audio), as ``flowkit.retime`` writes them.

    Examples
    --------
    >>> flowkit.translate("in.mp4", "out.mp4", "autocontrast")  # doctest: +SKIP
    >>> flowkit.translate("in.mp4", "out.mp4", "equalize", segment=(2, 5))  # doctest: +SKIP
    """
    with _validate.renaming("path", "src"):  # the video reader's errors: "path: cannot open ..."
        return _translate(src, dst, op, method=method, strength=strength, flow=flow,
                          flow_options=flow_options, scene_threshold=scene_threshold,
                          segment=segment, codec=codec, crf=crf, audio=audio, progress=progress,
                          deinterlace=deinterlace)


def _translate(src, dst, op, *, method, strength, flow, flow_options, scene_threshold, segment,
               codec, crf, audio, progress, deinterlace):
    """:func:`translate`'s work, its arguments as given."""
    import collections
    import itertools
    from fractions import Fraction
    from pathlib import Path

    from . import _frame_ops
    from ._progress import check_progress, finish, progress_bar
    from ._atomic import check_folder
    from ._retime import (_check_segment, _output_format, _tolerance, check_segment_start,
                          no_frame_error, single_frame_error)
    from .video import (FRAME_RATE_CODECS, FRAME_RATE_CONTAINERS, VideoWriter, _info,
                        audio_copy_refused, audio_track, audio_written, check_crf,
                        expected_frame_count, field_info, grid_timing, iter_frames, open_input,
                        streams_not_written, to_coded, video_end, writer_codec, writer_tags)

    _validate.check_path("src", src)
    _validate.check_path("dst", dst)
    src, dst = Path(src), Path(dst)
    if callable(op):
        function, name = op, getattr(op, "__name__", "op")
    else:
        function, name = _frame_ops.resolve(op), op
    if op == "colorize":  # torch (an error naming the extra) and the weights before any frame
        from .models._api import cached_model, require_torch

        require_torch()
        cached_model("colorize")
    options = _check_options(flow, flow_options, method, strength, scene_threshold)
    start, end = _check_segment(segment) or (Fraction(0), None)
    audio = check_audio(audio)
    progress = check_progress(progress)  # as retime's: progress="no" showed a bar
    deinterlace = _validate.check_bool("deinterlace", deinterlace)
    if not src.exists():
        raise FileNotFoundError(f"src: no such video file: {src}")
    if dst.exists() and src.resolve() == dst.resolve():
        raise ValueError(f"dst: {dst} is the input; refusing to overwrite it")
    if dst.is_dir():  # as retime's (it was OSError's bare "[Errno 21] Is a directory")
        raise IsADirectoryError(f"dst: {dst} is a folder; expected a video file path")
    check_folder(dst, "dst")
    from ._retime import _default_codec

    codec = _default_codec(codec, dst)  # retime's (libx264 for .mkv): every frame is re-encoded
    crf = check_crf(crf, codec)  # before any frame (x264 and x265 take 0-51)
    container, stream = open_input(src)
    try:
        info = _info(container, stream)
        audio_streams = len(container.streams.audio)
        reencode = bool(audio_copy_refused(dst, container))  # AAC into .webm: Opus
        not_written = streams_not_written(container, stream, dst)
    finally:
        container.close()
    check_segment_start(start, video_end(src, info), src)
    if deinterlace:  # the input as read: a frame per field (its end is the same)
        info = field_info(info)
    fps = info.frame_rate or Fraction(30)
    if info.base_rate and (dst.suffix.lower() in FRAME_RATE_CONTAINERS
                           or writer_codec(dst, codec) in FRAME_RATE_CODECS):
        fps = info.base_rate  # no times stored: the rate of the grid the input's times lie on
    depth = info.read_depth
    pix_fmt = _output_format(codec, info, depth)
    cuts = []
    # a frame this close before the segment's start is in it (retime's rule: one timestamp
    # unit, at most half a frame period, AVI's unit being the whole period)
    tolerance = _tolerance(info, 1 / (info.frame_rate or Fraction(30)))
    count = {"before": 0, "inside": 0}  # frames before the segment and in it

    def read():
        """(time from the first frame, frame) of every input frame."""
        origin = None
        for time, frame in iter_frames(src, timestamps=True, depth=depth,
                                       deinterlace=deinterlace):
            if origin is None:
                origin = time
                for track in tracks:
                    track.set_origin(origin)
            yield time - origin, frame

    def frames_out():
        """(time, frame to write) of every input frame, in order: the frames before and after
        the segment as decoded, those in it processed and made consistent."""
        decoded = read()
        first = None
        for item in decoded:
            if item[0] >= start - tolerance:
                first = item
                break
            count["before"] += 1
            yield item
        if first is None or (end is not None and first[0] >= end - tolerance):
            raise no_frame_error(src, start, end)
        times = collections.deque()  # of the segment's frames read and not yet written
        after = []

        def inside():
            item = first
            while end is None or item[0] < end - tolerance:
                times.append(item[0])
                count["inside"] += 1
                yield item[1]
                item = next(decoded, None)
                if item is None:
                    return
            after.append(item)

        originals, to_process = itertools.tee(inside())  # read in lockstep: one frame buffered
        processed = _op_results(function, name, to_process, depth, first=count["before"])
        for out in _consistent(originals, processed, *options, cuts=cuts):
            yield times.popleft(), out
        yield from after
        yield from decoded

    tracks = []
    written = 0
    try:
        if audio:
            for index in range(audio_streams):
                tracks.append(audio_track(src, "stretch" if reencode else "copy", Fraction(1),
                                          index=index))
        time_base, snap = grid_timing(info)  # as flow --video: the rate read back is retime's
        with VideoWriter(dst, fps, codec=codec, crf=crf, pix_fmt=pix_fmt,
                         time_base=time_base, **writer_tags(info)) as writer, \
                progress_bar(progress, total=expected_frame_count(info), unit="frame",
                             desc="translate") as bar:
            writer._companions.extend(tracks)
            done = 0
            for time, out in frames_out():
                # back to the input's coded orientation, displayed by its rotation; in AVI a
                # frame on the 1 / fps slot of the frame before is dropped (VideoWriter's rule)
                written += writer.write(writer.fit(to_coded(out, info.rotation)),
                                        time=snap(time))
                done += 1
                bar.update()
            if written == 1:  # as retime: the writer removes its file
                raise single_frame_error(src, "translate")
            finish(bar, done)  # the container's frame count is an estimate
    finally:
        for track in tracks:
            track.input.close()  # closed already after a success; on errors here
    size = (writer._size[1], writer._size[0]) if written else None
    coded = (info.height, info.width) if info.rotation % 180 else (info.width, info.height)  # as stored
    cuts = [count["before"] + k for k in cuts]  # indices in the whole video
    audio_done, audio_tracks = audio_written(tracks, "none" if not audio_streams else (
        ("re-encoded" if reencode else "copied") if audio else "dropped"))
    return {"frames": written, "processed": count["inside"], "fps": fps, "cuts": cuts, "size": size,
            "padded": coded if size is not None and tuple(size) != coded else None,
            "audio": audio_done, "audio_tracks": audio_tracks, "not_written": not_written,
            "dropped_frames": writer.dropped}
