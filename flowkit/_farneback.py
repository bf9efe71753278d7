"""Farneback dense optical flow: ``farneback``, ``Farneback`` and ``farneback_video``."""

import numpy as np

from . import _validate as V
from ._backend import (CUDA, check_device, device_array, is_device_array, kept_copy, select_device,
                       to_host, to_output)
from ._intensity import _SAFE_SPAN, prepare_frames
from .kernels import farneback as fb


# the least poly_sigma whose Gaussian weights the expansion's neighbours in float32; from float32's
# epsilon (below it OpenCV takes 0.3 * poly_n) up to it the Gram matrix of the fit is singular:
# NumPy's LinAlgError 'Singular matrix', from 0.1 up NaN flow (OpenCV's flow is zero there)
MIN_POLY_SIGMA = 0.1054
_FLT_EPSILON = float(np.finfo(np.float32).eps)


def _check_options(pyr_scale, levels, winsize, iterations, poly_n, poly_sigma, gaussian,
                   return_confidence, normalize):
    pyr_scale = V.check_float("pyr_scale", pyr_scale, low=0.0, high=1.0, low_open=True,
                              high_open=True)
    levels = V.check_int("levels", levels, min_value=0)
    winsize = V.check_int("winsize", winsize, min_value=1)
    iterations = V.check_int("iterations", iterations, min_value=1)
    poly_n = V.check_int("poly_n", poly_n)
    if poly_n not in (5, 7):
        raise ValueError(f"poly_n: expected 5 or 7, got {poly_n}")
    poly_sigma = V.check_float("poly_sigma", poly_sigma, low=0.0, low_open=True)
    if _FLT_EPSILON <= poly_sigma < MIN_POLY_SIGMA:
        raise ValueError(f"poly_sigma: expected a number >= {MIN_POLY_SIGMA} (a smaller Gaussian "
                         f"has no weight beside its centre in float32, so the expansion's fit "
                         f"is singular), or one below {_FLT_EPSILON:.3g}, which is replaced by "
                         f"0.3 * poly_n as in OpenCV; got {poly_sigma}")
    V.check_bool("gaussian", gaussian)
    V.check_bool("return_confidence", return_confidence)
    V.check_bool("normalize", normalize)
    # its weights, before they are made (NumPy's 'array is too big' from 2**63 / 4 named nothing)
    V.check_output_size("winsize", winsize // 2 + 1, 8, "window weights (winsize // 2 + 1)")
    return fb.Params(pyr_scale, levels, winsize, iterations, poly_n, poly_sigma, bool(gaussian))


class Farneback:
    """Farneback dense optical flow with buffers kept between calls (for video loops).

    Parameters are those of :func:`farneback` (``normalize`` included) except ``init_flow``,
    which is given per call.
    Buffers (pyramid levels, polynomial expansions, normal-equation rings, flow levels)
    are allocated on the first call and reused while the frame size stays the same, so an
    instance must not be called from two threads at once (use one per thread).

    Examples
    --------
    >>> import numpy as np, flowkit
    >>> fk = flowkit.Farneback(levels=2, winsize=9)
    >>> a = np.random.default_rng(0).random((64, 80), dtype=np.float32)
    >>> fk(a, a).shape
    (64, 80, 2)
    """

    def __init__(self, *, pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5,
                 poly_sigma=1.2, gaussian=False, return_confidence=False, normalize=True,
                 device=None):
        self._params = _check_options(pyr_scale, levels, winsize, iterations, poly_n,
                                      poly_sigma, gaussian, return_confidence, normalize)
        self.return_confidence = bool(return_confidence)
        self.normalize = bool(normalize)
        check_device(device)
        self.device = device
        self._given = V.given_options(Farneback.__init__, locals())
        self._workspaces = {}
        # (key, span) of the last frame1, whose expansion is kept: key = (shape, dtype,
        # backend), span = its pair's intensity span (see _intensity.prepare_frames)
        self._cached = None

    def __repr__(self):
        return V.options_repr(self, self._given)

    def __call__(self, frame0, frame1, init_flow=None):
        """Flow from ``frame0`` to ``frame1`` (see :func:`farneback`)."""
        return self._run(frame0, frame1, init_flow, reuse_first=False)

    def _run(self, frame0, frame1, init_flow, reuse_first):
        p = self._params
        frame0, frame1, batched, has_channels = V.check_frame_pair(frame0, frame1)
        lead = tuple(frame0.shape[: 3 if batched else 2])
        height, width = lead[-2], lead[-1]
        smallest = 2 * p.poly_n + 1
        if height < smallest or width < smallest:
            raise V.FramesTooSmall(
                "frame0", f"expected frames at least {smallest}x{smallest} pixels for "
                f"poly_n={p.poly_n} (the expansion window), got {width}x{height} (width x height)",
                V.read_as_batch("frame0", frame0))
        init_flow = V.check_init_flow(init_flow, lead, frame0)
        backend = select_device(self.device, frame0=frame0, frame1=frame1, init_flow=init_flow)
        gpu_input = is_device_array(frame0)
        plan = fb.plan_levels(height, width, p.levels, p.pyr_scale)
        dtype = np.dtype(frame0.dtype)
        prep = prepare_frames((frame0, frame1), ("frame0", "frame1"), normalize=self.normalize,
                              batched=batched, has_channels=has_channels, integer_levels=True)
        frame0, frame1 = prep.frames
        norm = prep.gain  # 1/255, 1/65535 for integer levels kept (normalize=False), else 1
        key = (tuple(frame0.shape), dtype, self.normalize, backend)
        # the kept expansion is rescaled by float32 factors 1 / span: not for spans outside
        # [1e-30, 1e30] (beyond float32 they raised ZeroDivisionError or made the flow NaN);
        # such a pair expands its frame0 again
        reuse_first = reuse_first and not batched and self._cached is not None \
            and self._cached[0] == key \
            and all(_SAFE_SPAN[0] <= s <= _SAFE_SPAN[1] for s in (prep.span[0], self._cached[1]))
        if reuse_first:
            # the kept expansion of the previous frame1 was computed on its own pair's scale;
            # expansions are linear in the intensities and blind to an offset, so rescaling
            # them gives this pair's (to float rounding; exactly when the spans agree)
            ratio = float(np.float32(1.0 / prep.span[0])) / float(np.float32(1.0 / self._cached[1]))
            if ratio != 1.0:
                _rescale_kept_expansion(self._workspaces.get(backend), backend, ratio)
        self._cached = None  # until this call has filled the buffers
        ws = self._workspaces.get(backend)
        if backend == CUDA:
            from .kernels import farneback_cuda as fbc

            if ws is None:
                ws = self._workspaces[backend] = fbc.workspace()
            shape = (lead[0] if batched else 1, height, width,
                     frame0.shape[-1] if has_channels else 1)
            f0 = device_array(frame0, np.float32, shape)
            f1 = device_array(frame1, np.float32, shape)
            init = None
            if init_flow is not None:
                init = device_array(init_flow, np.float32, shape[:3] + (2,))
            flow, conf = fbc.farneback_cuda(f0, f1, p, plan, norm, init, ws,
                                            self.return_confidence, reuse_first)
        else:
            from .kernels import parallel

            if ws is None:
                ws = self._workspaces[backend] = fb.Workspace()
            f0 = np.ascontiguousarray(V.to_nhwc(to_host(frame0), batched, has_channels))
            f1 = np.ascontiguousarray(V.to_nhwc(to_host(frame1), batched, has_channels))
            init = None
            if init_flow is not None:
                init = np.ascontiguousarray(to_host(init_flow), dtype=np.float32)
                if not batched:
                    init = init[None]
            n = f0.shape[0]
            flow = np.empty((n, height, width, 2), np.float32)
            conf = np.empty((n, height, width), np.float32) if self.return_confidence else None
            threads = parallel.num_threads()
            # the CPU driver keeps a ring of 2 * (winsize // 2) + 2 rows of normal equations
            # (5 float32 a pixel) per row strip: a window far taller than the frame made a
            # MemoryError that named nothing (10 TiB for winsize=2**31 + 1 on 48x64 frames)
            V.check_output_size("winsize", 2 * p.m + 2, 20 * width,
                                f"rows of normal equations (2 * (winsize // 2) + 2, "
                                f"{5 * width} float32 each)")
            for i in range(n):
                fb.farneback_cpu(f0[i], f1[i], p, plan, norm,
                                 None if init is None else init[i], flow[i],
                                 None if conf is None else conf[i], ws, threads,
                                 reuse_first=reuse_first)
            if conf is not None:
                fb.normalise_confidence(conf)
        self._cached = (key, prep.span[0])
        if not batched:
            flow = flow[0]
            conf = None if conf is None else conf[0]
        flow = to_output(flow, gpu_input)
        if self.return_confidence:
            return flow, to_output(conf, gpu_input)
        return flow


def _rescale_kept_expansion(ws, backend, ratio):
    """Multiply the kept expansion of the previous frame1 (``R1``, ``R1_<level>``) by ``ratio``."""
    for name, buf in list(ws._buffers.items()):
        if buf is None or not (name == "R1" or name.startswith("R1_")):
            continue
        if backend != CUDA:
            buf *= np.float32(ratio)
            continue
        try:
            import cupy
        except ImportError:  # numba-cuda without CuPy (or the simulator): through the host
            host = buf.copy_to_host()
            host *= np.float32(ratio)
            buf.copy_to_device(host)
        else:
            view = cupy.asarray(buf)
            view *= np.float32(ratio)


def farneback(frame0, frame1, *, pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5,
              poly_sigma=1.2, gaussian=False, init_flow=None, return_confidence=False,
              normalize=True, device=None):
    """Dense optical flow by Farneback's polynomial expansion (OpenCV-compatible options).

    Parameters
    ----------
    frame0, frame1 : array, (H, W), (H, W, C), (N, H, W) or (N, H, W, C)
        Frames of the same shape; uint8, uint16, float16, float32 or float64, finite values
        (NaN or infinity: ``ValueError``). C is 1, 3 or 4: RGBA is read as RGB, alpha is
        ignored; 2 channels are a ``ValueError``. With 3 channels the normal equations of
        the channels are averaged (OpenCV rejects colour input).
    pyr_scale : float in (0, 1)
        Size ratio between pyramid levels (OpenCV's ``pyr_scale``).
    levels : int >= 0
        Number of pyramid levels above the full-resolution one, as OpenCV's code uses it
        (its documentation says "including"; 0, as in OpenCV: the full resolution only);
        levels that would be smaller than 32 pixels on a side are dropped, as in OpenCV.
    winsize : int >= 1
        Averaging window (box, or Gaussian with ``gaussian=True``) of the normal equations.
    iterations : int >= 1
        Iterations per pyramid level.
    poly_n : {5, 7}
        Half-size of the polynomial-expansion neighbourhood.
    poly_sigma : float > 0
        Standard deviation of the expansion's Gaussian applicability (1.1 for poly_n=5,
        1.5 for poly_n=7 are OpenCV's suggestions); at least 0.1054, below which its weights
        beside the centre vanish in float32 and the fit is singular. A value below float32's
        epsilon (1.19e-7) is replaced by ``0.3 * poly_n``, as in OpenCV.
    gaussian : bool
        Gaussian window instead of a box (``OPTFLOW_FARNEBACK_GAUSSIAN``).
    init_flow : array (H, W, 2) or (N, H, W, 2), optional
        Initial estimate (``OPTFLOW_USE_INITIAL_FLOW``), area-resized to the coarsest level.
    return_confidence : bool
        Also return a (H, W) float32 confidence in [0, 1]: the smaller eigenvalue of the
        blurred normal-equation matrix at the last iteration of the finest level, divided by
        its maximum over the image (0 everywhere when the image has no structure).
    normalize : bool, default True
        Stretch the pair jointly to [0, 1] -- ``(I - min) / (max - min)`` over both frames
        and all channels (per pair for batches) -- before estimation, so the flow is the same
        for ``a * I + b`` with ``a > 0`` in any dtype (low-contrast floats, floats in
        [0, 255], uint16 with a few used levels). False: integer frames are divided by their
        dtype's maximum and float frames are taken as they are ([0, 1] expected), which
        reproduces OpenCV exactly for uint8 (parity); OpenCV's absolute regulariser then
        pulls low-contrast input towards zero flow. Flat pairs (``max == min``) are not
        scaled and give exactly zero flow; frames of pure noise are stretched like any
        others, so their flow is finite but follows the noise. See docs/conventions.md,
        "Intensity".
    device : {None, "cpu", "cuda"}
        Backend; None follows the input's array type.

    Returns
    -------
    flow : (H, W, 2) or (N, H, W, 2) float32
        ``flow[..., 0] = u`` (x), ``flow[..., 1] = v`` (y), in pixels, with
        ``frame0[y, x] ~ frame1[y + v, x + u]`` (docs/conventions.md).
    confidence : (H, W) or (N, H, W) float32
        Only with ``return_confidence=True``.

    Raises
    ------
    TypeError
        Non-array frames, unsupported dtypes (bool, complex, ...), frames of different
        dtypes, a non-number ``pyr_scale``/``poly_sigma``, non-integer ``levels``/``winsize``/
        ``iterations``/``poly_n``, non-bool ``gaussian``/``return_confidence``/``normalize``, an
        ``init_flow`` that is not float, host and device inputs mixed.
    ValueError
        Wrong ndim, empty or differently shaped frames, 2 channels, NaN or infinite values;
        ``pyr_scale`` outside (0, 1), ``levels`` < 0, ``winsize``/``iterations`` < 1,
        ``poly_n`` not 5 or 7, ``poly_sigma`` <= 0 or in [1.19e-7, 0.1054); frames smaller
        than the expansion window (``2 poly_n + 1`` pixels a side); ``init_flow`` of the wrong
        shape; an unknown ``device``. A ``winsize`` whose window weights, or the CPU
        driver's rows of normal equations (``2 * (winsize // 2) + 2`` rows of ``5 * W``
        float32), exceed the machine's memory: ``OutputTooLarge`` (a ValueError and a
        MemoryError) naming it.

    Notes
    -----
    Follows OpenCV's ``calcOpticalFlowFarneback`` (modules/video/src/optflowgf.cpp): every
    level is made from the full-resolution frame (Gaussian pre-blur with
    ``sigma = (1/scale - 1)/2``, bilinear resize), OpenCV's border-certainty weights on the
    outer five rows and columns, the same box/Gaussian windows. Differences: each iteration
    updates all normal equations from the previous flow, then blurs and solves them all
    (OpenCV's CPU code interleaves the update in row stripes behind the solve, which gives
    the same values); the determinant regulariser is OpenCV's ``1e-3`` relative to an
    intensity range of 255 -- of the stretched pair with ``normalize=True``, of the dtype's
    range with ``normalize=False`` -- so the result does not depend on the dtype.

    The flow does not depend on the thread count (docs/api.md, "Threads").

    References
    ----------
    G. Farneback, "Two-frame motion estimation based on polynomial expansion", SCIA 2003.

    Examples
    --------
    >>> import numpy as np, flowkit
    >>> rng = np.random.default_rng(0)
    >>> a = rng.random((64, 64), dtype=np.float32)
    >>> flowkit.farneback(a, a, levels=1).shape
    (64, 64, 2)
    """
    runner = Farneback(pyr_scale=pyr_scale, levels=levels, winsize=winsize,
                       iterations=iterations, poly_n=poly_n, poly_sigma=poly_sigma,
                       gaussian=gaussian, return_confidence=return_confidence,
                       normalize=normalize, device=device)
    return runner(frame0, frame1, init_flow=init_flow)


def farneback_video(frames, *, use_previous_flow=False, **options):
    """Yield the Farneback flow of each consecutive pair of ``frames``.

    Parameters
    ----------
    frames : iterable of arrays (H, W) or (H, W, C), or an array (N, H, W[, C])
        The video; all frames of one shape and dtype.
    use_previous_flow : bool
        Start each pair from the previous pair's flow (``OPTFLOW_USE_INITIAL_FLOW``).
    **options
        Keyword options of :class:`Farneback`.

    Yields
    ------
    flow : (H, W, 2) float32
        Flow from frame ``i`` to frame ``i + 1`` (with the confidence when asked for).
        The expansion of each frame is computed once and reused for the next pair. With
        ``normalize=True`` each pair is stretched on its own (min and max of the two
        frames); the kept expansion is rescaled to the new pair's span, which equals the
        pairwise result to float rounding (exactly when consecutive pairs share min and max;
        a pair whose span lies outside [1e-30, 1e30] expands both of its frames).

    Raises
    ------
    TypeError
        ``frames`` not an iterable (None, a number, a path string), a ``use_previous_flow``
        that is not a bool, an option :class:`Farneback` does not take or of the wrong type;
        checked when called, with the options, before any frame is read.
    ValueError
        An array ``frames`` that is no batch of frames; an option value :class:`Farneback`
        refuses.
    """
    V.check_bool("use_previous_flow", use_previous_flow)
    V.check_frames_iterable("frames", frames, " (read a video with flowkit.iter_frames)")
    if hasattr(frames, "shape") and hasattr(frames, "ndim"):
        if frames.ndim < 3 or not V.frames_layout(frames)[0]:
            raise ValueError(
                f"frames: expected a sequence of frames or an (N, H, W[, C]) array, "
                f"got shape {tuple(frames.shape)}")
    runner = Farneback(**options)
    return _farneback_frames(frames, runner, use_previous_flow)


def _farneback_frames(frames, runner, use_previous_flow):
    """The flows of :func:`farneback_video`, its input checked."""
    prev = None
    flow = None
    for index, frame in enumerate(frames):
        if prev is not None:
            V.check_frame_pair(prev, frame, (f"frames[{index - 1}]", f"frames[{index}]"))
            init = flow if use_previous_flow else None
            result = runner._run(prev, frame, init, reuse_first=True)
            flow = result[0] if runner.return_confidence else result
            yield result
        # the iterable may refill frame's buffer (_backend.kept_copy)
        prev = kept_copy(frame, f"frames[{index}]")
