"""Edge-aware and plain smoothing of flow fields: Gaussian, median and joint bilateral."""

import math

import numpy as np

from . import _validate
from ._backend import (CUDA, array_module, as_array, check_device, device_array, host_array,
                       is_device_array, select_device, to_output)
from .kernels import smooth as _kernels

METHODS = ("gaussian", "median", "bilateral")

# sigma_color when none is given: a tenth of the guide's intensity range; 1 px for the flow
_DEFAULT_SIGMA_COLOR = {np.dtype(np.uint8): 25.5, np.dtype(np.uint16): 6553.5}
_DEFAULT_SIGMA_COLOR_FLOAT = 0.1
_DEFAULT_SIGMA_COLOR_FLOW = 1.0


def smooth_flow(flow, *, method="gaussian", size=5, sigma=None, guide=None, sigma_color=None,
                device=None):
    """Smooth a flow field component-wise, optionally following the edges of a guide image.

    Parameters
    ----------
    flow : array, shape (H, W, 2) or (N, H, W, 2), float32 or float64 (float16 is accepted)
        Flow in pixels, ``flow[..., 0] = u`` (x), ``flow[..., 1] = v`` (y), meaning
        ``frame0[y, x] ~ frame1[y + v, x + u]`` (see docs/conventions.md). NumPy input runs
        on the CPU, CuPy (or any ``__cuda_array_interface__``) input on the GPU.
    method : {"gaussian", "median", "bilateral"}
        ``"gaussian"``: separable Gaussian, equal to ``cv2.GaussianBlur(component, (size,
        size), sigma, borderType=cv2.BORDER_REPLICATE)`` on each component.
        ``"median"``: component-wise median over ``size`` x ``size`` windows, equal to
        ``scipy.ndimage.median_filter(component, size, mode="nearest")``.
        ``"bilateral"``: joint (cross) bilateral filter: each output is the mean of the
        ``size`` x ``size`` window weighted by ``exp(-(dx**2 + dy**2) / (2 sigma**2)) *
        exp(-|guide[p] - guide[q]|**2 / (2 sigma_color**2))``, so flow edges follow the
        edges of ``guide``.
    size : int
        Odd window width >= 1 (default 5).
    sigma : float, optional
        Spatial standard deviation in pixels, >= 0 (gaussian and bilateral). None or 0 means
        OpenCV's default for ``size``: for the Gaussian OpenCV's fixed kernels for sizes 1-9
        (as ``cv2.getGaussianKernel(size, 0)`` in OpenCV 5), else ``sigma = 0.3 * ((size -
        1) * 0.5 - 1) + 0.8``, which is also the bilateral default for every size. Not
        accepted with ``"median"``.
    guide : array, optional (bilateral only)
        Image whose edges the result should follow: ``(H, W)`` or ``(H, W, C)`` (C <= 4) for a
        single flow, ``(N, H, W)`` or ``(N, H, W, C)`` for a batch, uint8, uint16, float16,
        float32 or float64. Colour differences are Euclidean over the channels. None uses
        the flow itself as the guide (an edge-preserving smoothing of the flow).
    sigma_color : float, optional (bilateral only)
        Standard deviation of the guide difference, > 0, in the guide's intensity units. The
        default is a tenth of the guide's range: 25.5 for uint8, 6553.5 for uint16, 0.1 for
        float guides (taken to be in [0, 1]) and 1.0 (pixels) when the flow is its own guide.
    device : {None, "cpu", "cuda"}
        Where to run; None follows the input's array type.

    Returns
    -------
    array, same shape as ``flow``
        float32 for float16/float32 input, float64 for float64 input; NumPy for NumPy input
        and CuPy for GPU input.

    Raises
    ------
    ValueError, TypeError
        Before any computation, naming the parameter: unknown ``method``, even or non-positive
        ``size``, negative ``sigma``, non-positive ``sigma_color`` or one so small that the
        guide's values divided by it overflow the compute dtype, a flow that is not
        ``(H, W, 2)``/``(N, H, W, 2)`` floats, a guide whose shape does not match the flow,
        or ``guide``/``sigma_color``/``sigma`` given to a method that does not use them; an
        unknown ``device``.
        A ``size`` whose window (weights, or the median's buffer) is larger than the
        machine's memory: ``OutputTooLarge``, a ValueError.

    Notes
    -----
    Borders replicate the edge pixels (OpenCV's ``BORDER_REPLICATE``, SciPy's ``"nearest"``)
    for every method, for the flow and the guide alike.

    NaN: a NaN anywhere in an output's window (flow, or guide for the bilateral filter)
    makes that output component NaN, for all three methods. Mask or fill invalid flow
    first if it should not spread.

    Precision: float32 input is accumulated in float32 (the Gaussian matches OpenCV to about
    1e-6 relative), float64 in float64. The median returns input values exactly. The
    bilateral range weights use an exponential accurate to about 2e-7 relative and drop
    neighbours whose colour term is below ``exp(-31)``.

    The bilateral filter is the joint/cross bilateral of Petschnigg et al. (2004) and
    Eisemann and Durand (2004), after Tomasi and Manduchi (1998); its window is the full
    square (OpenCV's ``bilateralFilter`` uses a disc and an L1 colour distance).

    Examples
    --------
    >>> import numpy as np
    >>> from flowkit import smooth_flow
    >>> flow = np.zeros((48, 64, 2), np.float32)
    >>> flow[:, 32:, 0] = 2.0                      # a motion edge at x = 32
    >>> image = np.zeros((48, 64), np.uint8)
    >>> image[:, 32:] = 200                        # an image edge at the same place
    >>> blurred = smooth_flow(flow, method="gaussian", size=7)
    >>> kept = smooth_flow(flow, method="bilateral", size=7, guide=image)
    >>> float(blurred[0, 31, 0]) > 0.1, float(kept[0, 31, 0]) < 1e-6
    (True, True)
    """
    flow = as_array(flow, "flow")
    _validate.check_flow("flow", flow)
    size, sigma = check_options(method=method, size=size, sigma=sigma, guide=guide,
                                sigma_color=sigma_color)
    batched = flow.ndim == 4
    dtype = np.dtype(np.float64 if flow.dtype == np.float64 else np.float32)
    if method == "bilateral":
        if guide is not None:
            guide = as_array(guide, "guide", frames=True)
            _check_guide(guide, flow, batched)
        if sigma_color is None:
            sigma_color = _default_sigma_color(guide)
        else:
            sigma_color = _validate.check_float("sigma_color", sigma_color, low=0.0, low_open=True)
    backend = select_device(device, flow=flow, guide=guide)
    gpu_input = is_device_array(flow)
    if method == "bilateral":  # from the caller's arrays: no host copy of a GPU guide
        params = _bilateral_params(size, sigma, sigma_color, flow if guide is None else guide,
                                   dtype)

    shape = flow.shape
    nhw = shape[:-1] if batched else (1,) + shape[:-1]
    if backend == CUDA:
        from .kernels import smooth_cuda

        src = device_array(flow, dtype, nhw + (2,))
        if method == "gaussian":
            result = smooth_cuda.gaussian_cuda(src, _kernels.gaussian_weights(size, sigma, dtype))
        elif method == "median":
            result = smooth_cuda.median_cuda(src, size)
        else:
            g = src if guide is None else device_array(guide, dtype, nhw + (-1,))
            result = smooth_cuda.bilateral_cuda(src, g, *params)
        return to_output(result.reshape(shape), gpu_input)

    src = host_array(flow, dtype)
    if method == "bilateral":
        src = src.reshape(nhw + (2,))
        g = src if guide is None else host_array(guide, dtype, nhw + (-1,))
        out = np.empty_like(src)
        _kernels.bilateral_cpu(src, g, *params, out)
    else:
        src = src.reshape(nhw[0], nhw[1], nhw[2] * 2)
        out = np.empty_like(src)
        if method == "gaussian":
            _kernels.gaussian_cpu(src, _kernels.gaussian_weights(size, sigma, dtype), out)
        else:
            _kernels.median_cpu(src, size, out)
    return to_output(out.reshape(shape), gpu_input)


def check_options(*, method="gaussian", size=5, sigma=None, guide=None, sigma_color=None,
                  device=None):
    """Check the options of :func:`smooth_flow` that do not depend on the flow (``predict``
    checks its ``smooth`` dict with it before any flow is estimated, ``flowkit predict`` its
    ``--smooth-size`` before the input is read); returns ``size`` and ``sigma`` (None for
    0)."""
    _validate.check_choice("method", method, METHODS)
    size = _validate.check_int("size", size, min_value=1, odd=True)
    # the Gaussian's taps, the bilateral's spatial weights (both made in float64) and the
    # median's window buffer, in Python integers: at sizes near 2**63 NumPy made no taps and
    # size * size wrapped in the kernels, which then read (the median wrote) past their buffers
    taps, what = ((size, "Gaussian taps") if method == "gaussian"
                  else (size * size, f"values of a {size} x {size} window"))
    _validate.check_output_size("size", taps, 8, what)
    if sigma is not None:
        if method == "median":
            raise ValueError("sigma: expected None with method='median' (no spatial weights), "
                             f"got {sigma!r}")
        sigma = _validate.check_float("sigma", sigma, low=0.0)
        sigma = sigma or None  # 0 means "default", as in OpenCV
    if method != "bilateral":
        for name, value in (("guide", guide), ("sigma_color", sigma_color)):
            if value is not None:
                raise ValueError(f"{name}: expected None with method={method!r} "
                                 f"(only 'bilateral' uses it), got {_describe(value)}")
    if sigma_color is not None:
        _validate.check_float("sigma_color", sigma_color, low=0.0, low_open=True)
    check_device(device)
    return size, sigma


def _describe(value):
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"an array of shape {tuple(value.shape)}"
    return repr(value)


def _check_guide(guide, flow, batched):
    """The guide must be an image (batch) with the flow's (N,) H, W."""
    _validate.check_image("guide", guide, ndims=(3, 4) if batched else (2, 3))
    lead = tuple(flow.shape[:-1])
    g_batched, has_channels = _validate.frames_layout(guide)
    g_lead = tuple(guide.shape[:-1]) if has_channels else tuple(guide.shape)
    if g_batched != batched or g_lead != lead:
        expected = ("(N, H, W) or (N, H, W, C)" if batched else "(H, W) or (H, W, C)")
        raise ValueError(f"guide: expected shape {expected} with {'(N, H, W)' if batched else '(H, W)'}"
                         f" = {lead} as the flow {tuple(flow.shape)}, got {tuple(guide.shape)}"
                         f"{_validate.read_as_batch('guide', guide) if g_batched else ''}")


def _default_sigma_color(guide):
    if guide is None:
        return _DEFAULT_SIGMA_COLOR_FLOW
    return _DEFAULT_SIGMA_COLOR.get(np.dtype(guide.dtype), _DEFAULT_SIGMA_COLOR_FLOAT)


def _bilateral_params(size, sigma, sigma_color, guide, dtype):
    """(spatial weights, guide scale) in the compute dtype; ``guide`` as the caller gave it (its
    largest value is taken where it lies: no copy of a GPU guide to the host).

    The kernels scale the guide before they subtract, so a ``sigma_color`` small enough that
    ``guide / (sqrt(2) sigma_color)`` overflows the compute dtype is refused here (weights
    from it would be NaN); any larger one gives weights that underflow to 0 cleanly.
    """
    spatial_sigma = _kernels.default_sigma(size) if sigma is None else sigma
    spatial = _kernels.spatial_weights(size, spatial_sigma, dtype)
    scale = 1.0 / (math.sqrt(2.0) * sigma_color)
    xp, g = array_module(guide)
    magnitude = xp.abs(g)
    # NaN as 0 (nanmax warned of an all-NaN guide): they spread by themselves (documented).
    # No warnings.catch_warnings here: it swaps the process's filters, so another thread's
    # RuntimeWarnings were ignored meanwhile and a filter it added could be lost at the exit
    peak = float(xp.max(xp.where(xp.isnan(magnitude), 0, magnitude)))
    with np.errstate(over="ignore"):  # past float32: inf (errstate is this thread's own)
        peak = float(dtype.type(peak))  # as the kernels get it, in the compute dtype
    peak = peak if math.isfinite(peak) else 0.0  # inf spreads by itself (documented)
    largest = float(np.finfo(dtype).max)
    if not (scale <= largest and 2.0 * peak * scale <= largest):
        smallest = math.sqrt(2.0) * max(peak, 0.5) / largest
        raise ValueError(f"sigma_color: expected >= {smallest:.3g} (a smaller one overflows "
                         f"{dtype.name} against the guide's values up to {peak:.3g}), "
                         f"got {sigma_color!r}")
    return spatial, dtype.type(scale)
