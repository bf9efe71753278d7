"""Dense iterative Lucas-Kanade optical flow (coarse to fine), CPU and CUDA."""

import numpy as np

from ._backend import (CUDA, device_array, is_device_array, select_device, to_device, to_host,
                       to_output)
from ._intensity import prepare_frames
from ._validate import (check_bool, check_frame_pair, check_init_flow, check_int,
                        check_output_size, to_nhwc)
from .kernels import lk_dense


def _check_options(radius, num_warp, gaussian, prefilter, normalize):
    """lucas_kanade's options that do not depend on the frames, checked."""
    radius = check_int("radius", radius, min_value=1)
    # the window's taps, before they are made (NumPy's 'Maximum allowed dimension exceeded')
    check_output_size("radius", 2 * radius + 1, 4, "window taps (2 * radius + 1)")
    return (radius, check_int("num_warp", num_warp, min_value=1),
            check_bool("gaussian", gaussian), check_bool("prefilter", prefilter),
            check_bool("normalize", normalize))


def lucas_kanade(frame0, frame1, *, radius=7, num_warp=10, gaussian=False, prefilter=False,
                 levels=None, init_flow=None, normalize=True, device=None):
    """Dense optical flow by iterative Lucas-Kanade, coarse to fine.

    At every pyramid level and for each of ``num_warp`` warps: frame1 is warped by the
    current flow (bilinear, edge pixels replicated), its ``np.gradient`` derivatives and the
    normal equations of Lucas-Kanade are summed over a uniform or Gaussian window around each
    pixel, and the 2x2 system per pixel gives the new flow (pixels whose system has
    ``|det| < 1e-14`` get flow 0). The method, pyramid and every default are those of
    :func:`skimage.registration.optical_flow_ilk`, whose results this function reproduces to
    float32 rounding (docs/accuracy.md), with the per-pixel work fused into Numba kernels.

    Parameters
    ----------
    frame0, frame1 : array, (H, W), (H, W, C), (N, H, W) or (N, H, W, C)
        The two frames (or batches of pairs), uint8, uint16, float16, float32 or float64, the
        same shape, finite values (NaN or infinity: ``ValueError``). C is 1, 3 or 4: RGBA is
        read as RGB, alpha is ignored; 2 channels are a ``ValueError``. Colour frames are not
        converted to gray: the normal equations of all channels are summed.
    radius : int, optional
        Radius of the integration window (>= 1). The uniform window is ``2r+1`` wide; the
        Gaussian window has sigma ``(2r+1)/4`` and is truncated at 4 sigma.
    num_warp : int, optional
        Number of warps (re-linearisations) per pyramid level (>= 1).
    gaussian : bool, optional
        Gaussian instead of uniform window.
    prefilter : bool, optional
        3x3 median filter of the flow before each warp (removes outliers).
    levels : int or None, optional
        Number of pyramid levels. None: scikit-image's rule (halve, Gaussian sigma 2/3 then
        bilinear, while the smaller side exceeds 32 pixels, at most 10 levels). An integer
        must be between 1 and the count at which the smaller side reaches one pixel.
    init_flow : array, (H, W, 2) or (N, H, W, 2), optional
        Initial flow (float16/32/64, finite values). It is reduced to the coarsest level with the image
        pyramid's filter and its vectors scaled, like OpenCV's ``OPTFLOW_USE_INITIAL_FLOW``;
        with ``levels=1`` it is used as it is.
    normalize : bool, default True
        Stretch the pair jointly to [0, 1] -- ``(I - min) / (max - min)`` over both frames
        and all channels (per pair for batches) -- before estimation, so the flow is the same
        for ``a * I + b`` with ``a > 0`` in any dtype. False: integer frames are divided by
        their dtype's maximum (as ``img_as_float32``) and float frames are taken as they are
        ([0, 1] expected), which reproduces scikit-image exactly (parity); its absolute
        ``1e-14`` determinant threshold then zeroes the flow of low-contrast input. Flat pairs
        (``max == min``) are not scaled and give exactly zero flow; frames of pure noise are
        stretched like any others, so their flow is finite but follows the noise. See
        docs/conventions.md, "Intensity".
    device : {None, "cpu", "cuda"}, optional
        Where to run; None follows the inputs (docs/conventions.md, "Backends").

    Returns
    -------
    flow : array, (H, W, 2) or (N, H, W, 2), float32
        ``flow[..., 0] = u`` (x) and ``flow[..., 1] = v`` (y) in pixels, with
        ``frame0[y, x] ~ frame1[y + v, x + u]``. NumPy for NumPy input, CuPy for GPU input.
        (scikit-image returns ``(v, u)`` planes ``(2, H, W)``; this is their transpose.)

    Raises
    ------
    TypeError
        Non-array frames, unsupported dtypes, non-integer ``radius``/``num_warp``/``levels``,
        non-bool ``gaussian``/``prefilter``/``normalize``, an ``init_flow`` that is not a
        float array, host and device inputs mixed.
    ValueError
        Wrong ndim, empty or differently shaped frames, 2 channels, NaN or infinite values,
        ``radius``/``num_warp`` < 1, ``levels`` out of range, ``init_flow`` of the wrong
        shape or with unknown vectors (NaN, inf, 1e9), an unknown ``device``. A ``radius``
        whose window taps or CPU row buffers (``2 * radius + 2`` rows) exceed the machine's
        memory: ``OutputTooLarge`` (a ValueError and a MemoryError) naming it.

    References
    ----------
    G. Le Besnerais and F. Champagnat, "Dense optical flow by iterative local window
    registration", ICIP 2005, doi:10.1109/ICIP.2005.1529706 (Table 2).

    Examples
    --------
    >>> import flowkit
    >>> frame0, frame1, truth = flowkit.sample_pair()
    >>> flow = flowkit.lucas_kanade(frame0, frame1, radius=7, num_warp=10)
    >>> flow.shape, flow.dtype
    ((240, 320, 2), dtype('float32'))
    """
    frame0, frame1, batched, has_channels = check_frame_pair(frame0, frame1)
    radius, num_warp, gaussian, prefilter, normalize = _check_options(radius, num_warp, gaussian,
                                                                      prefilter, normalize)
    lead = tuple(frame0.shape[:3] if batched else frame0.shape[:2])
    height, width = lead[-2:]
    if levels is None:
        levels = lk_dense.auto_levels(height, width)
    else:
        levels = check_int("levels", levels, min_value=1,
                           max_value=lk_dense.max_levels(height, width))
    init_flow = check_init_flow(init_flow, lead, frame0)
    backend = select_device(device, frame0=frame0, frame1=frame1, init_flow=init_flow)
    gpu_input = is_device_array(frame0)
    args = (radius, num_warp, gaussian, prefilter, levels)
    # float32 in [0, 1] units (integers over their maximum as img_as_float32 when not
    # normalising): the kernels see one dtype
    frame0, frame1 = prepare_frames((frame0, frame1), ("frame0", "frame1"), normalize=normalize,
                                    batched=batched, has_channels=has_channels).frames

    if backend == CUDA:
        from .kernels import lk_dense_cuda

        f0 = to_nhwc(to_device(frame0), batched, has_channels)
        f1 = to_nhwc(to_device(frame1), batched, has_channels)
        init = None
        if init_flow is not None:
            init = device_array(init_flow, init_flow.dtype, (lead if batched else (1,) + lead) + (2,))
        flow = lk_dense_cuda.ilk(f0, f1, init, 1.0, 1.0, *args)
    else:
        f0 = to_nhwc(to_host(frame0), batched, has_channels)
        f1 = to_nhwc(to_host(frame1), batched, has_channels)
        # the CPU bands hold 2 * radius + 2 halo rows of flow, warped frame and normal
        # equations: a window far taller than the frame made a MemoryError naming nothing
        per_row = (2 + f0.shape[-1] + lk_dense.N_TERMS) * width * 4
        check_output_size("radius", 2 * radius + 2, per_row,
                          f"rows of window buffers (2 * radius + 2, {per_row} bytes each)")
        init = None
        if init_flow is not None:
            init = np.ascontiguousarray(to_host(init_flow).reshape((-1,) + lead[-2:] + (2,)),
                                        dtype=np.float32)
        flow = lk_dense.ilk(f0, f1, init, *args)
    if not batched:
        flow = flow[0]
    return to_output(flow, gpu_input)
