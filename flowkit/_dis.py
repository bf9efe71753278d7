"""Dense Inverse Search optical flow: ``dis`` and ``DIS``."""

import math

import numpy as np

from . import _validate as V
from ._backend import (CUDA, check_device, device_array, host_array, is_device_array, select_device,
                       to_output)
from ._intensity import prepare_frames
from ._variational import check_counts, check_epsilon, check_weights
from .kernels import dis as kd
from .kernels import farneback as fb

# OpenCV's presets (DISOpticalFlow::create) and ours ("accurate"):
# finest_scale, patch_size, patch_stride, gradient_descent_iterations,
# variational_refinement_iterations
PRESETS = {
    "ultrafast": (2, 8, 4, 12, 0),
    "fast": (2, 8, 4, 16, 5),
    "medium": (1, 8, 3, 25, 5),
    "accurate": (0, 8, 3, 25, 5),
}
_PRESET_OPTIONS = ("finest_scale", "patch_size", "patch_stride", "gradient_descent_iterations",
                   "variational_refinement_iterations")
SOR_ITERATIONS = 5  # what dis_flow.cpp sets on its per-scale VariationalRefinement
SOR_OMEGA = 1.6  # VariationalRefinement's default relaxation factor


class _Options:
    """Checked options of one estimator (host side)."""

    def __init__(self, preset, finest_scale, patch_size, patch_stride,
                 gradient_descent_iterations, variational_refinement_iterations,
                 variational_refinement_alpha, variational_refinement_delta,
                 variational_refinement_gamma, variational_refinement_epsilon,
                 use_mean_normalization, use_spatial_propagation, normalize, coarsest_scale):
        V.check_choice("preset", preset, tuple(PRESETS))
        given = (finest_scale, patch_size, patch_stride, gradient_descent_iterations,
                 variational_refinement_iterations)
        values = [p if g is None else g for p, g in zip(PRESETS[preset], given)]
        self.finest_scale = V.check_int("finest_scale", values[0], min_value=0, max_value=10)
        self.coarsest_scale = V.check_int("coarsest_scale", coarsest_scale)
        if self.coarsest_scale < -1:
            raise ValueError("coarsest_scale: expected -1 (automatic) or an integer >= 0, got "
                             f"{self.coarsest_scale}")
        self.patch_size = V.check_int("patch_size", values[1], min_value=2,
                                      max_value=kd.BORDER - 1)
        self.patch_stride = V.check_int("patch_stride", values[2], min_value=1)
        if self.patch_stride > self.patch_size:
            raise ValueError(f"patch_stride: expected at most patch_size ({self.patch_size}) so "
                             f"that patches cover every pixel, got {self.patch_stride}")
        self.iterations = V.check_int("gradient_descent_iterations", values[3], min_value=1)
        self.refine_iterations = check_counts(values[4], SOR_ITERATIONS,
                                              "variational_refinement_iterations", None)[0]
        self.alpha, self.delta, self.gamma = check_weights(
            variational_refinement_alpha, variational_refinement_delta,
            variational_refinement_gamma, prefix="variational_refinement_")
        self.epsilon = check_epsilon(variational_refinement_epsilon, self.alpha, self.delta,
                                     self.gamma, prefix="variational_refinement_")
        self.mean_norm = V.check_bool("use_mean_normalization", use_mean_normalization)
        self.propagate = V.check_bool("use_spatial_propagation", use_spatial_propagation)
        self.normalize = V.check_bool("normalize", normalize)


def plan_levels(height, width, finest, patch_size, coarsest=None):
    """Level sizes ``{scale: (h, w)}`` from ``finest`` to the coarsest scale (OpenCV's
    ``prepareBuffers``; ``coarsest`` overrides OpenCV's rule), or None when the frames are
    too small for one patch at ``finest``."""
    if (height >> finest) < patch_size or (width >> finest) < patch_size:
        return None
    if coarsest is None:
        coarsest = kd.coarsest_scale(height, width, patch_size)
    coarsest = max(coarsest, finest)
    sizes = {finest: (height >> finest, width >> finest)}
    for s in range(finest + 1, coarsest + 1):
        h, w = sizes[s - 1]
        if h // 2 < patch_size or w // 2 < patch_size:
            break
        sizes[s] = (h // 2, w // 2)
    return sizes


def select_scales(height, width, finest, patch_size, patch_stride, coarsest=-1):
    """``(sizes, patch_size, patch_stride)`` for frames of this size, as OpenCV's ``calc``
    chooses them: the coarsest scale is OpenCV's rule (``kernels.dis.coarsest_scale``), or
    ``coarsest`` where that is lower and not -1 (``setCoarsestScale``: it lowers the rule's
    scale, never raises it). Where that scale lies below ``finest`` (by the rule: a longer side
    below about ``22.6 * 2**finest`` pixels) it replaces the patch size and both scales by
    ``autoSelectPatchSizeAndScales`` (patch 8, or 12 for ``finest`` 3 and 4; coarsest
    ``floor(log2(2 W / (5 patch)))``; finest 2, 4 or 5 below it). ``sizes`` is None for frames
    too small for one patch at ``finest``; those keep their error, and a choice that would
    not hold a patch on its finest level is not taken."""
    sizes = plan_levels(height, width, finest, patch_size)
    if sizes is None:
        return sizes, patch_size, patch_stride
    rule = kd.coarsest_scale(height, width, patch_size)
    coarsest = rule if coarsest == -1 else min(coarsest, rule)
    if coarsest >= finest:
        return {s: hw for s, hw in sizes.items() if s <= coarsest}, patch_size, patch_stride
    size = 12 if finest in (3, 4) else 8
    coarsest = max(0, int(math.floor(math.log2(2.0 * width / (5.0 * size)))))
    auto = plan_levels(height, width, max(coarsest - {3: 4, 4: 5}.get(finest, 2), 0), size,
                       coarsest)
    if auto is None:
        return sizes, patch_size, patch_stride
    return auto, size, min(patch_stride, size)


class DIS:
    """Dense Inverse Search with options and buffers kept between calls (for video loops).

    Parameters are those of :func:`dis` except ``init_flow``, which is given per call.
    Buffers (pyramids, gradients, patch vectors, flow levels) are allocated on the first
    call (on the GPU with ``device="cuda"``) and reused while the frame size stays the same,
    so an instance must not be called from two threads at once (use one per thread).

    Examples
    --------
    >>> import numpy as np, flowkit
    >>> est = flowkit.DIS(preset="fast")
    >>> a = np.random.default_rng(0).random((64, 80), dtype=np.float32)
    >>> est(a, a).shape
    (64, 80, 2)
    """

    def __init__(self, *, preset="medium", finest_scale=None, coarsest_scale=-1,
                 patch_size=None, patch_stride=None, gradient_descent_iterations=None,
                 variational_refinement_iterations=None,
                 variational_refinement_alpha=20.0, variational_refinement_delta=5.0,
                 variational_refinement_gamma=10.0, variational_refinement_epsilon=0.001,
                 use_mean_normalization=True, use_spatial_propagation=True, normalize=True,
                 device=None):
        self._opt = _Options(preset, finest_scale, patch_size, patch_stride,
                             gradient_descent_iterations, variational_refinement_iterations,
                             variational_refinement_alpha, variational_refinement_delta,
                             variational_refinement_gamma, variational_refinement_epsilon,
                             use_mean_normalization, use_spatial_propagation, normalize,
                             coarsest_scale)
        check_device(device)
        self.device = device
        self._workspaces = {}
        self._given = V.given_options(DIS.__init__, locals())

    def __repr__(self):
        return V.options_repr(self, self._given)

    def __call__(self, frame0, frame1, init_flow=None):
        """Flow from ``frame0`` to ``frame1`` (see :func:`dis`)."""
        o = self._opt
        frame0, frame1, batched, has_channels = V.check_frame_pair(frame0, frame1)
        lead = tuple(frame0.shape[: 3 if batched else 2])
        height, width = lead[-2], lead[-1]
        sizes, patch_size, patch_stride = select_scales(height, width, o.finest_scale,
                                                        o.patch_size, o.patch_stride,
                                                        o.coarsest_scale)
        if sizes is None:
            smallest = o.patch_size << o.finest_scale
            raise V.FramesTooSmall(
                "frame0", f"expected frames at least {smallest}x{smallest} pixels (patch_size="
                f"{o.patch_size} at finest_scale={o.finest_scale}), got {width}x{height} (width x height)",
                V.read_as_batch("frame0", frame0))
        init_flow = V.check_init_flow(init_flow, lead, frame0)
        backend = select_device(self.device, frame0=frame0, frame1=frame1, init_flow=init_flow)
        gpu_input = is_device_array(frame0)
        prep = prepare_frames((frame0, frame1), ("frame0", "frame1"), normalize=o.normalize,
                              batched=batched, has_channels=has_channels, integer_levels=True)
        gain = np.float32(255.0 * prep.gain)  # to OpenCV's 0..255 scale
        shape = (lead[0] if batched else 1, height, width,
                 prep.frames[0].shape[-1] if has_channels else 1)
        if backend == CUDA:
            from .kernels import dis_cuda as ops

            f0, f1 = (device_array(f, np.float32, shape) for f in prep.frames)
            init = None if init_flow is None else device_array(init_flow, np.float32,
                                                               shape[:3] + (2,))
        else:
            ops = HostOps
            f0, f1 = (host_array(f, np.float32, shape) for f in prep.frames)
            init = None if init_flow is None else host_array(init_flow, np.float32,
                                                             shape[:3] + (2,))
        ws = self._workspaces.get(backend)
        if ws is None:
            ws = self._workspaces[backend] = fb.Workspace(empty=ops.empty)
        flow = ops.empty(shape[:3] + (2,), np.float32)
        # handed over: the last pair's pyramids drop them (_pair), so that the float32
        # frames (two at full resolution, for a level at half or less by default) are not
        # held through the search
        frames = [f0, f1]
        del prep, f0, f1
        for i in range(shape[0]):
            self._pair(ops, ws, frames, i, gain, sizes, patch_size, patch_stride,
                       None if init is None else init[i], flow[i])
        return to_output(flow if batched else flow[0], gpu_input)

    def _pair(self, ops, ws, frames, index, gain, sizes, patch_size, patch_stride, init, out):
        """The flow of pair ``index`` of ``frames`` (the two prepared ``(N, H, W, C)`` arrays,
        emptied once the last pair's pyramids are built) into ``out``."""
        o = self._opt
        nc = frames[0].shape[3]
        finest, coarsest = min(sizes), max(sizes)
        pyr0, pyr1 = {}, {}
        for name, frame, pyr in (("I0", frames[0][index], pyr0), ("I1", frames[1][index], pyr1)):
            src, factor = frame, gain  # the first level takes the frame to 0..255
            for s in range(finest, coarsest + 1):
                h, w = sizes[s]
                level = ws.get(f"{name}_{s}", (h, w, nc))
                if s == 0:
                    ops.scale(frame, gain, level)
                else:
                    ops.area(ws, src, factor, level)
                src, factor = level, np.float32(1.0)
                pyr[s] = level
        del frame  # the loop's last: frames holds the only references left
        if index == frames[0].shape[0] - 1:
            frames.clear()
        flow = None
        for s in range(coarsest, finest - 1, -1):
            h, w = sizes[s]
            i0, i1 = (_planar(ops, ws, f"{name}p_{s}", pyr[s])
                      for name, pyr in (("I0", pyr0), ("I1", pyr1)))
            level = ws.get(f"U_{s}", (h, w, 2))
            if flow is None:
                ops.zero(level)
            else:
                _resize(ops, ws, flow, 2.0, level)
            b = kd.BORDER
            i1x = ws.get(f"I1x_{s}", (nc, h + 2 * b, w + 2 * b))
            ops.pad(pyr1[s], b, False, i1x)
            use_init = init is not None
            init_s = level
            if use_init:
                init_s = ws.get(f"init_{s}", (h, w, 2))
                _resize(ops, ws, init, 1.0 / (1 << s), init_s)
            hs = kd.grid_size(h, patch_size, patch_stride)
            wsz = kd.grid_size(w, patch_size, patch_stride)
            sparse = ws.get(f"S_{s}", (hs, wsz, 2))
            ops.start_vectors(level, patch_stride, patch_size, sparse)
            i0p = ws.get(f"I0p_{s}", (nc, h + 2, w + 2))
            ops.pad(pyr0[s], 1, True, i0p)
            ops.search(i0p, i1x, sparse, init_s, use_init, patch_stride,
                       patch_size, o.iterations, o.mean_norm, o.propagate)
            ops.densify(i0, i1, sparse, patch_stride, patch_size, level)
            if o.refine_iterations > 0:
                level = self._refine(ops, ws, i0, i1, level)
            flow = level
        _resize(ops, ws, flow, float(1 << finest), out)

    def _refine(self, ops, ws, i0, i1, flow):
        """OpenCV's per-scale variational refinement, on the channel mean for colour."""
        from ._variational import refine_gray

        o = self._opt
        g0, g1 = (_gray(ops, ws, name, i) for name, i in (("G0", i0), ("G1", i1)))
        return refine_gray(g0, g1, flow, o.alpha, o.delta, o.gamma, o.refine_iterations,
                           SOR_ITERATIONS, SOR_OMEGA, o.epsilon)


class HostOps:
    """The level operations of :meth:`DIS._pair` on NumPy arrays with the CPU drivers of
    ``kernels.dis``; ``kernels.dis_cuda`` has the same names on the GPU."""

    empty = staticmethod(np.empty)
    start_vectors = staticmethod(kd.start_vectors_cpu)
    search = staticmethod(kd.search_cpu)
    densify = staticmethod(kd.densify_cpu)

    @staticmethod
    def scale(frame, factor, out):
        np.multiply(frame, factor, out=out)

    @staticmethod
    def area(ws, src, factor, out):
        import cv2

        level = cv2.resize(src, out.shape[1::-1], interpolation=cv2.INTER_AREA)
        np.multiply(level.reshape(out.shape), factor, out=out)

    @staticmethod
    def pad(src, border, reflect, out):
        out[...] = np.pad(np.moveaxis(src, 2, 0), ((0, 0), (border, border), (border, border)),
                          mode="reflect" if reflect else "edge")  # reflect: reflect-101

    @staticmethod
    def planar(src, out):
        np.copyto(out, np.moveaxis(src, 2, 0))

    @staticmethod
    def gray(src, out):
        np.mean(src, axis=0, dtype=np.float32, out=out)

    @staticmethod
    def resize(ws, src, factor, out):
        import cv2

        np.multiply(cv2.resize(src, out.shape[1::-1], interpolation=cv2.INTER_LINEAR), factor,
                    out=out)

    @staticmethod
    def zero(out):
        out[...] = 0

    @staticmethod
    def copy(src, out):
        out[...] = src


def _planar(ops, ws, name, image):
    """An (h, w, c) image as planar (c, h, w): a view for gray, a kept copy for colour."""
    h, w, nc = image.shape
    if nc == 1:
        return image.reshape(1, h, w)
    out = ws.get(name, (nc, h, w))
    ops.planar(image, out)
    return out


def _gray(ops, ws, name, image):
    """A planar image's channel mean (h, w): a view for gray, a kept array for colour."""
    if image.shape[0] == 1:
        return image[0]
    out = ws.get(name, image.shape[1:])
    ops.gray(image, out)
    return out


def _resize(ops, ws, src, factor, out):
    """Bilinear (OpenCV INTER_LINEAR) resize of a flow into ``out``, times ``factor``."""
    if tuple(src.shape) == tuple(out.shape) and factor == 1.0:
        ops.copy(src, out)
        return
    ops.resize(ws, src, np.float32(factor), out)


def dis(frame0, frame1, *, preset="medium", finest_scale=None, coarsest_scale=-1,
        patch_size=None, patch_stride=None, gradient_descent_iterations=None,
        variational_refinement_iterations=None, variational_refinement_alpha=20.0,
        variational_refinement_delta=5.0, variational_refinement_gamma=10.0,
        variational_refinement_epsilon=0.001, use_mean_normalization=True,
        use_spatial_propagation=True, init_flow=None, normalize=True, device=None):
    """Dense optical flow by Dense Inverse Search (OpenCV's ``DISOpticalFlow``).

    Parameters
    ----------
    frame0, frame1 : array, (H, W), (H, W, C), (N, H, W) or (N, H, W, C)
        Frames of the same shape and dtype; uint8, uint16, float16, float32 or float64,
        finite values (NaN or infinity: ``ValueError``). C is 1, 3 or 4: RGBA is read as RGB
        (alpha ignored), 2 channels are a ``ValueError``. Colour: the patch SSD, its
        gradient and the structure tensor are summed over the channels (mean normalisation
        per channel), the densification weight uses the mean absolute difference over the
        channels and the variational refinement works on the channel mean (OpenCV takes
        gray frames only). Each side must be at least ``patch_size * 2**finest_scale``.
    preset : {"ultrafast", "fast", "medium", "accurate"}
        Defaults of the next five options. OpenCV's presets: ultrafast (2, 8, 4, 12, 0),
        fast (2, 8, 4, 16, 5), medium (1, 8, 3, 25, 5), in the order finest_scale,
        patch_size, patch_stride, gradient_descent_iterations,
        variational_refinement_iterations. ``"accurate"`` (flowkit's): (0, 8, 3, 25, 5),
        the medium search continued to full resolution (docs/accuracy.md, "DIS accuracy").
    finest_scale : int in [0, 10], optional
        Finest pyramid level processed (0 = full resolution); the flow there is bilinearly
        upsampled to the frame size.
    coarsest_scale : int, default -1
        Coarsest pyramid level processed (OpenCV 5's ``setCoarsestScale``); -1: OpenCV's
        rule (Notes). A value >= 0 lowers the rule's level and never raises it (larger values
        are the rule's); one below ``finest_scale`` gives the patch size and scales OpenCV's
        ``autoSelectPatchSizeAndScales`` chooses, as for frames too small for
        ``finest_scale`` (docs/api.md), whatever its value. Lower values for small motion,
        where coarse levels lose fine texture.
    patch_size : int in [2, 15], optional
        Side of the square patches in pixels.
    patch_stride : int in [1, patch_size], optional
        Step of the patch grid in pixels.
    gradient_descent_iterations : int >= 1, optional
        Gauss-Newton steps per patch (split between the two sweeps with spatial propagation).
    variational_refinement_iterations : int >= 0, optional
        Fixed-point iterations of the variational refinement run on every scale (0: none),
        at most 2**40 / 6 (:func:`variational_refinement`'s limit with its 5 SOR sweeps). The
        refinement's time is proportional to it, and on the CPU it runs in compiled code that
        Ctrl-C interrupts only when the call ends.
    variational_refinement_alpha, variational_refinement_delta, variational_refinement_gamma : float
        Smoothness, colour-constancy and gradient-constancy weights of the refinement (0 to
        1e30: its arithmetic is float32).
    variational_refinement_epsilon : float, default 0.001
        Epsilon of the refinement's robust penaliser ``Psi(s) = sqrt(s + epsilon**2)``
        (OpenCV's ``setVariationalRefinementEpsilon``; the ``epsilon`` of
        :func:`flowkit.variational_refinement`, whose docstring gives its range). flowkit
        keeps 0.001, ``VariationalRefinement``'s default and what OpenCV's DIS used before
        4.10; OpenCV's DIS defaults to 0.01 since 4.10, so pass 0.01 (with
        ``normalize=False``) for parity with ``cv2.DISOpticalFlow`` of 4.10 and later.
    use_mean_normalization : bool
        Subtract each patch's mean difference in the SSD (robust to brightness change).
    use_spatial_propagation : bool
        Forward and backward sweeps that try the neighbours' vectors as starting points.
    init_flow : array (H, W, 2) or (N, H, W, 2), optional
        Initial flow, tried as a candidate for every patch on every scale (OpenCV's
        temporal candidates, ``calc`` with a flow of the frame size).
    normalize : bool, default True
        Stretch each pair jointly to [0, 1] (then to OpenCV's 0..255 scale) so that the flow
        is the same for ``a * I + b`` with ``a > 0`` in any dtype. False: integers are read
        on their dtype's range and floats in [0, 1], mapped to 0..255, which reproduces
        OpenCV's reading of uint8 frames. See docs/conventions.md, "Intensity".
    device : {None, "cpu", "cuda"}, optional
        Where to run; None follows the inputs (docs/conventions.md, "Backends"). On CUDA the
        spatial propagation runs in parallel (OpenCV's OpenCL scheme,
        ``kernels/dis_cuda.py``), so the flow differs slightly from the CPU's (without
        propagation it is the CPU's to float rounding).

    Returns
    -------
    flow : (H, W, 2) or (N, H, W, 2) float32
        ``flow[..., 0] = u`` (x), ``flow[..., 1] = v`` (y), in pixels, with
        ``frame0[y, x] ~ frame1[y + v, x + u]`` (docs/conventions.md); NumPy for NumPy
        input, CuPy for GPU input.

    Raises
    ------
    ValueError
        Bad shapes, channels, non-finite values, options out of range, frames smaller than
        one patch at ``finest_scale``, an unknown preset, an unknown ``device``.
    TypeError
        Options of the wrong type, frames of different dtypes.

    Notes
    -----
    Follows OpenCV's ``modules/video/src/dis_flow.cpp``: coarsest scale
    ``min(round(log2(max(H, W) / (4 patch_size))), floor(log2(min(H, W) // patch_size)))``
    (below ``finest_scale``, on small frames, the patch size and scales OpenCV's
    ``autoSelectPatchSizeAndScales`` chooses: docs/api.md), INTER_AREA pyramids,
    Sobel gradients, inverse-compositional search with the stated
    candidates over 8 fixed row stripes, densification weighted by
    ``1 / max(|I0 - I1 warped|, 1)`` on the 0..255 scale, per-scale variational refinement
    (5 SOR iterations), bilinear upsampling. Differences: float32 pyramids and gradients
    (OpenCV rounds to uint8 and int16), float64 patch sums.

    References
    ----------
    T. Kroeger, R. Timofte, D. Dai and L. Van Gool, "Fast Optical Flow using Dense Inverse
    Search", ECCV 2016.

    Examples
    --------
    >>> import numpy as np, flowkit
    >>> a = np.random.default_rng(0).random((64, 80), dtype=np.float32)
    >>> flowkit.dis(a, a).shape
    (64, 80, 2)
    """
    runner = DIS(preset=preset, finest_scale=finest_scale, coarsest_scale=coarsest_scale,
                 patch_size=patch_size, patch_stride=patch_stride,
                 gradient_descent_iterations=gradient_descent_iterations,
                 variational_refinement_iterations=variational_refinement_iterations,
                 variational_refinement_alpha=variational_refinement_alpha,
                 variational_refinement_delta=variational_refinement_delta,
                 variational_refinement_gamma=variational_refinement_gamma,
                 variational_refinement_epsilon=variational_refinement_epsilon,
                 use_mean_normalization=use_mean_normalization,
                 use_spatial_propagation=use_spatial_propagation, normalize=normalize,
                 device=device)
    return runner(frame0, frame1, init_flow=init_flow)
