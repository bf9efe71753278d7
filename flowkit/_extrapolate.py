"""Extrapolation of an image by a stationary flow (``flowkit.extrapolate``)."""

import numpy as np

from . import _validate
from ._backend import (CUDA, array_module, as_array, device_array, host_array, is_device_array,
                       select_device, to_output)
from ._warp import _check_border_value, image_layout, warp_shapes
from .kernels import interp

SCHEMES = ("semi-lagrangian", "forward")
_N_ITER, _BORDER = 3, "replicate"  # extrapolate's defaults


def extrapolate(image, flow, steps, *, scheme="semi-lagrangian", n_iter=_N_ITER, border=_BORDER,
                border_value=0, metric=None, return_mask=False, return_displacement=False,
                device=None):
    """Advect an image by a stationary flow for ``steps`` time steps (semi-Lagrangian or by
    forward splatting).

    Every output pixel's trajectory is traced backwards through the flow, held fixed in
    time, and ``image`` is sampled once, bilinearly, at the end of the trajectory of each
    step: no chain of resamplings, so no blur that grows with the horizon. This is the
    scheme of Germann and Zawadzki (2002) as pysteps implements it
    (``pysteps.extrapolation.semilagrangian.extrapolate``, whose displacements it
    reproduces, see Notes).

    Parameters
    ----------
    image : array, (H, W), (H, W, C), (N, H, W) or (N, H, W, C)
        uint8, uint16, float16, float32 or float64, any number of channels. Layouts are read
        as by :func:`flowkit.warp` (a 3-D image is a gray batch when the flow is
        ``(N, H, W, 2)`` with the same N, or when its last two axes are the flow's H, W).
    flow : array, (H, W, 2) or (N, H, W, 2), float
        Motion per time step on the grid of ``image``, in pixels: ``flow[..., 0] = u``
        (x, column), ``flow[..., 1] = v`` (y, row); a pixel at ``(x, y)`` moves to
        ``(x + u, y + v)`` in one step (docs/conventions.md); float16, float32 or float64,
        read in float64. A single flow serves every image of a batch; one image with N
        flows gives N results. Unknown vectors: NaN, or a component with ``|c| >= 1e9``.
    steps : int
        Number of time steps, >= 1; output ``k`` (0-based) is the image after ``k + 1``
        steps.
    scheme : {"semi-lagrangian", "forward"}
        ``"semi-lagrangian"``: the trajectories described above and in Notes.
        ``"forward"``: step k is ``flowkit.splat(image, k * flow)`` (``"softmax"`` mode with
        ``metric``, else ``"average"``), its holes (pixels no source reaches) filled by
        ``flowkit.fill_holes`` (push-pull); each pixel keeps its own motion (a Lagrangian
        persistence), and where several land on one target the largest ``metric`` wins.
        ``n_iter``, ``border`` and ``return_displacement`` do not apply (a value other than
        their default is an error); ``border_value`` fills a step that no source reaches at
        all.
    n_iter : int
        Sub-steps per time step, >= 0 (pysteps' ``n_iter``; pysteps defaults to 1). ``n_iter
        >= 1``: ``n_iter`` midpoint-rule sub-steps of ``1 / n_iter`` of a step each; ``0``:
        one explicit Euler step per time step. Each midpoint sub-step samples the flow
        twice (see Notes).
    border : {"replicate", "constant", "reflect", "reflect101", "wrap"}
        How ``image`` is read where a trajectory ends outside it, as in :func:`flowkit.warp`.
        The flow itself is always read with a replicated border (its edge vectors continue
        outwards).
    border_value : float
        Value of the ``"constant"`` border and of pixels whose trajectory is unknown, in
        image units (may be NaN for float images).
    metric : array, (H, W) or (N, H, W), float, optional
        ``"forward"`` only: the softmax-splatting importance of each source pixel (see
        ``flowkit.splat``), e.g. ``-20`` times its brightness-constancy error in [0, 1]
        units (Niklaus and Liu 2020). None splats with plain averages.
    return_mask : bool
        Also return where the trajectory stayed inside the image (``"forward"``: where
        some source landed, i.e. not a filled hole).
    return_displacement : bool
        Also return the backward displacements ``D_k``.
    device : {None, "cpu", "cuda"}
        Where to run; None follows the inputs (NumPy: CPU, CuPy: CUDA).

    Returns
    -------
    frames : array, (steps, H, W[, C]), or (N, steps, H, W[, C]) for batches
        ``frames[k - 1][y, x] = image[y + Dy_k, x + Dx_k]``, bilinear, in the dtype of
        ``image`` (integer results rounded and saturated as in :func:`flowkit.warp`).
    mask : bool array, ([N,] steps, H, W), leading N when ``flow`` is batched
        Only with ``return_mask=True``. ``mask[k - 1]`` is True where every point of the
        trajectory up to step k (the end of every sub-step) lies in
        ``[0, W - 1] x [0, H - 1]`` and is known; once False it stays False.
    displacement : float32 array, ([N,] steps, H, W, 2), leading N when ``flow`` is batched
        Only with ``return_displacement=True``. ``D_k = (Dx_k, Dy_k)`` in pixels, in flow
        layout (u, v): ``flowkit.warp(image, displacement[k - 1])`` with the same
        ``border`` gives ``frames[k - 1]``. NaN (both components) where the trajectory is
        unknown.
    Returned as ``frames``, then ``mask``, then ``displacement`` when asked for.

    Raises
    ------
    TypeError
        ``image``, ``flow`` or ``metric`` of an unsupported dtype; ``steps`` or ``n_iter`` not
        an integer (bool included); ``border_value`` not a real number; a non-bool
        ``return_mask`` or ``return_displacement``; a ``scheme`` or ``border`` that is not a
        string; mixed host and GPU inputs.
    ValueError
        Shapes that do not match (the flow's H, W and N against the image's), ``steps < 1``,
        ``n_iter < 0``, an unknown ``scheme``, ``border`` or ``device``; NaN or infinity in
        ``image`` with ``scheme="forward"`` (its holes are filled from the values around them);
        with ``scheme="forward"``, an ``n_iter`` or ``border`` other than the default or
        ``return_displacement=True``; a ``metric`` without ``scheme="forward"``, or one
        ``flowkit.splat`` refuses (its shape, NaN or inf); ``steps`` whose frames cannot fit
        in the memory of the machine or GPU (a ``MemoryError`` too), before any work.

    Notes
    -----
    **Trajectory.** ``V(p)`` is the flow sampled bilinearly at the real position ``p``
    (position clamped to the image, as ``scipy.ndimage.map_coordinates(order=1,
    mode="nearest")``). ``D_0 = 0``; with ``s = 1 / n_iter`` (1 when ``n_iter <= 1``) and the
    predictor ``P = s * V(x + D)`` (``s * V(x)`` at the start), each of the
    ``max(n_iter, 1)`` sub-steps of a step does

    * ``n_iter >= 1`` (midpoint rule): ``D <- D - s * V(x + D - P / 2)``, then
      ``P <- s * V(x + D)``;
    * ``n_iter == 0`` (Euler): ``D <- D - P``, then ``P <- V(x + D)``.

    ``D_k`` is ``D`` after step k; ``n_iter = 1`` is one midpoint step, not Euler. For a
    uniform flow ``v``, ``D_k = -k v``. Positions are accumulated in float64; ``D_k`` is
    stored as float32. The image is then warped by ``D_k`` with the kernels of
    :func:`flowkit.warp` (bilinear, ``border``, ``border_value``).

    **pysteps.** This is pysteps' arithmetic for integer time steps:
    ``pysteps.extrapolation.semilagrangian.extrapolate(None, velocity, k, n_iter=n_iter,
    displacement_prev=zeros, return_displacement=True)`` returns ``D_k`` (to float32
    rounding). Without ``displacement_prev`` pysteps' first predictor is ``V(x)``, not
    divided by ``n_iter``: the same for ``n_iter <= 1``; for ``n_iter > 1`` its first
    midpoint lies ``n_iter`` times too far back, an error of order ``|grad V| |V| / n_iter``
    px carried along the trajectory (on a rigid rotation its ``n_iter = 3`` is less accurate
    than its ``n_iter = 1``; flowkit's error falls about as ``1 / n_iter ** 2``).

    **Unknown flow.** A sample ``V(p)`` that reads an unknown vector with nonzero bilinear
    weight is unknown: the trajectory's ``D`` is NaN from that sub-step on, its frames are
    ``border_value`` and its mask is False.

    **Mask versus frames.** The mask does not change the frames: where it is False, the
    frames still hold the image read through ``border`` (pysteps writes ``outval`` where
    the final point is outside; use ``border="constant"`` and ``border_value`` for that).

    **Direction.** ``frames[0]`` is ``image`` carried one step along ``flow``. A flow from an
    estimator, ``flow = flowkit.farneback(frame0, frame1)`` (``frame0[y, x] ~ frame1[y + v,
    x + u]``), is the motion from ``frame0`` to ``frame1`` on ``frame0``'s grid;
    ``extrapolate(frame1, flow, steps)`` continues it, taking it as the motion on
    ``frame1``'s grid too (as pysteps does with its advection field).

    References
    ----------
    U. Germann and I. Zawadzki, "Scale-dependence of the predictability of precipitation
    from continental radar images. Part I: Description of the methodology", Mon. Wea.
    Rev. 130(12), 2002. S. Pulkkinen et al., "Pysteps: an open-source Python library for
    probabilistic precipitation nowcasting (v1.0)", Geosci. Model Dev. 12, 2019.

    Examples
    --------
    >>> import numpy as np, flowkit
    >>> image = np.arange(12, dtype=np.float32).reshape(3, 4)
    >>> flow = np.zeros((3, 4, 2), np.float32)
    >>> flow[..., 0] = 1.0                      # everything moves one pixel right per step
    >>> flowkit.extrapolate(image, flow, 2)[:, 0]
    array([[0., 0., 1., 2.],
           [0., 0., 0., 1.]], dtype=float32)
    """
    image = as_array(image, "image", frames=True)
    flow = as_array(flow, "flow")
    _validate.check_image("image", image)
    _validate.check_flow("flow", flow)
    steps = _validate.check_int("steps", steps, min_value=1)
    # the output holds at least the image once per step (NumPy's "array is too big" named none)
    _validate.check_output_size("steps", steps, image.nbytes,
                                f"frames of shape {tuple(image.shape)} and dtype "
                                f"{np.dtype(image.dtype).name}", array_module(image)[0])
    _validate.check_choice("scheme", scheme, SCHEMES)
    n_iter = _validate.check_int("n_iter", n_iter, min_value=0)
    border = _validate.check_choice("border", border, tuple(interp.BORDERS))
    if scheme == "forward":
        # they shape the trajectories alone: a value other than the default is refused, as
        # predict refuses n_iter with its other schemes (they were taken unchecked, even 'abc')
        for name, value, default, why in (
                ("n_iter", n_iter, _N_ITER, "its trajectories"),
                ("border", border, _BORDER, "splatting reads no point outside the image")):
            if value != default:
                raise ValueError(f"{name}: only for scheme='semi-lagrangian' ({why}), got "
                                 f"{value!r} with scheme='forward'")
        if return_displacement:
            raise ValueError("return_displacement: only for scheme='semi-lagrangian' (forward "
                             "splatting has no backward displacement), got True with "
                             "scheme='forward'")
        _validate.check_bool("return_mask", return_mask)
        border_value = _check_border_value(border_value, np.dtype(image.dtype))
        if np.dtype(image.dtype).kind == "f":  # fill_holes needs finite values around the holes
            _validate.check_finite("image", image)
        return _forward(image, flow, steps, metric, border_value, return_mask, device)
    if metric is not None:
        raise ValueError(f"metric: only for scheme='forward', got {_validate.describe(metric)} "
                         f"with scheme={scheme!r}")
    dtype = np.dtype(image.dtype)
    border_value = _check_border_value(border_value, dtype)
    _validate.check_bool("return_mask", return_mask)
    _validate.check_bool("return_displacement", return_displacement)
    warp_shapes(image, flow)  # the error for an image and flow that do not match
    batched, has_channels, _ = image_layout(image, flow.shape[:-1])
    backend = select_device(device, image=image, flow=flow)

    h, w = flow.shape[-3:-1]
    n_image = image.shape[0] if batched else 1
    n_flow = flow.shape[0] if flow.ndim == 4 else 1
    n_out = max(n_image, n_flow)
    channels = image.shape[-1] if has_channels else 1
    # the dtypes flowkit.warp samples with, so that its compiled kernels are reused
    compute = np.dtype(np.float32) if dtype == np.float16 else dtype
    warp_flow = np.float64 if dtype == np.float64 else np.float32
    args = (interp.INTER_LINEAR, interp.BORDERS[border], border_value,
            _validate.intensity_range(dtype) if dtype.kind == "u" else 0.0)
    disp, mask = trajectories(flow, steps, n_iter, backend)
    if backend == CUDA:
        from numba import cuda

        from .kernels.warp_cuda import warp_cuda as warp_driver

        src = device_array(image, compute, (n_image, h, w, channels))
        out = cuda.device_array((n_out, steps, h, w, channels), compute)
        warp_mask = cuda.device_array((steps, h, w), np.bool_)  # written, not used
        to_warp = device_array(disp, warp_flow)
    else:
        from .kernels.warp import warp_cpu as warp_driver

        src = host_array(image, compute, (n_image, h, w, channels))
        out = np.empty((n_out, steps, h, w, channels), compute)
        warp_mask = np.empty((0, h, w), np.bool_)  # none wanted
        to_warp = disp.astype(warp_flow, copy=False)
    for n in range(n_out):  # one warp per output sequence: its `steps` flows against one image
        ni = n if n_image > 1 else 0
        warp_driver(src[ni:ni + 1], to_warp[n if n_flow > 1 else 0], out[n], warp_mask, *args)

    gpu_input = is_device_array(image)
    result = to_output(out, gpu_input)
    if compute != dtype:
        result = result.astype(dtype)
    lead = (n_out,) if batched or flow.ndim == 4 else ()
    traj = flow.shape[:-3] + (steps, h, w)
    result = result.reshape(lead + (steps, h, w) + ((channels,) if has_channels else ()))
    extra = ((to_output(mask, gpu_input).reshape(traj),) if return_mask else ()) + (
        (to_output(disp, gpu_input).reshape(traj + (2,)),) if return_displacement else ())
    return (result,) + extra if extra else result


def trajectories(flow, steps, n_iter, backend):
    """The semi-Lagrangian trajectories of :func:`extrapolate` alone, for a checked flow
    ``(H, W, 2)`` or ``(Nf, H, W, 2)``: ``(disp, mask)``, ``(Nf, steps, H, W, 2)`` float32 and
    ``(Nf, steps, H, W)`` bool, NumPy arrays or Numba device arrays by ``backend``."""
    h, w = flow.shape[-3:-1]
    n_flow = flow.shape[0] if flow.ndim == 4 else 1
    traj_shape = (n_flow, steps, h, w)
    xp, values = array_module(flow)
    known = _validate.known_vectors(values)[..., None]
    if not bool(known.all()):  # the kernels take unknown vectors as NaN (both components)
        flow = xp.where(known, values, np.nan)
    if backend == CUDA:
        from numba import cuda

        from .kernels.advect_cuda import trace_cuda

        vec = device_array(flow, np.float64, (n_flow, h, w, 2))
        disp = cuda.device_array(traj_shape + (2,), np.float32)
        mask = cuda.device_array(traj_shape, np.bool_)
        trace_cuda(vec, n_iter, disp, mask)
    else:
        from .kernels.advect import trace_cpu

        vec = host_array(flow, np.float64, (n_flow, h, w, 2))
        disp = np.empty(traj_shape + (2,), np.float32)
        mask = np.empty(traj_shape, np.bool_)
        trace_cpu(vec, n_iter, disp, mask)
    return disp, mask


def _forward(image, flow, steps, metric, border_value, return_mask, device):
    """``scheme="forward"``: splat by k * flow, then fill the holes, for k = 1..steps."""
    from ._splat import splat

    mode = "average" if metric is None else "softmax"
    frames, masks = [], []
    for k in range(1, steps + 1):
        splatted, weight = splat(image, flow * k, mode=mode, metric=metric, return_weight=True,
                                 device=device)
        holes = weight == 0
        xp, _ = array_module(holes)
        if weight.ndim == 2:
            splatted = _filled(splatted, holes, border_value)
        else:  # one weight per output
            splatted = xp.stack([_filled(splatted[n], holes[n], border_value)
                                 for n in range(weight.shape[0])])
        frames.append(splatted)
        masks.append(~holes)
    xp, _ = array_module(frames[0])
    batched = image_layout(image, flow.shape[:-1])[0]
    result = xp.stack(frames, axis=1 if batched or flow.ndim == 4 else 0)  # as the other scheme
    if not return_mask:
        return result
    return result, xp.stack(masks, axis=1 if flow.ndim == 4 else 0)


def _filled(splatted, holes, border_value):
    """Holes filled from their surroundings; a frame with no source at all is ``border_value``."""
    from ._fill import fill_holes

    if not bool(holes.any()):
        return splatted
    if bool(holes.all()):
        splatted[...] = border_value
        return splatted
    return fill_holes(splatted, holes)
