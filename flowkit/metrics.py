"""Accuracy metrics for optical flow and frame interpolation.

Flow metrics compare an estimate with ground truth over the valid pixels: those where
``valid`` (if given) is True and the ground truth is known. Unknown ground truth (NaN,
infinite, or ``|u|`` or ``|v| >= 1e9``, Middlebury's marker) is excluded automatically; an
unknown estimate at a counted pixel is a ``ValueError`` (fill it, or leave it out with
``valid``: as the Middlebury and KITTI evaluations, which take dense estimates).
All computations are in float64; results are Python floats. Batches ``(N, H, W, 2)`` are
pooled: the mean runs over the valid pixels of all frames.

Image metrics (``psnr``, ``ssim``, ``interpolation_error``, ``warping_error``, ``sharpness``)
take finite values: a NaN or infinity in a float image is a ``ValueError`` naming the
parameter (it made the score NaN).
"""

import numpy as np

from ._backend import as_array, to_host
from ._validate import (check_bool, check_finite, check_flow, check_float, check_image,
                        check_int, check_same_shape, check_valid_mask, frames_layout,
                        import_optional, known_vectors)

__all__ = ["endpoint_error", "angular_error", "fl_all", "psnr", "ssim", "interpolation_error",
           "warping_error", "sharpness"]


def _flow_pair(flow, gt, valid):
    """Checked float64 host arrays (flow, gt) restricted to the valid pixels, each (M, 2)."""
    flow, gt = as_array(flow, "flow"), as_array(gt, "gt")
    check_flow("flow", flow)
    check_flow("gt", gt)
    check_same_shape("flow", flow, "gt", gt)
    flow = to_host(flow).astype(np.float64, copy=False)
    gt = to_host(gt).astype(np.float64, copy=False)
    mask = known_vectors(gt)
    if valid is not None:
        mask &= check_valid_mask(valid, gt.shape[:-1], " (the flow without its last axis)")
    if not mask.any():
        raise ValueError(f"valid: expected at least one pixel with valid=True and known ground "
                         f"truth, got none of {mask.size}")
    unknown = int((mask & ~known_vectors(flow)).sum())
    if unknown:  # an estimator's missing vector would otherwise turn the mean into NaN or inf
        raise ValueError(f"flow: expected known vectors (finite, |component| < 1e9) wherever the "
                         f"ground truth is known and valid, got {unknown} unknown (NaN, infinity "
                         "or the 1e9 marker); fill them first (e.g. flowkit.fill_holes) or leave "
                         "them out with valid=")
    return flow[mask], gt[mask]


def endpoint_error(flow, gt, valid=None):
    """Mean endpoint error: the average Euclidean distance between flow vectors, in pixels.

    Parameters
    ----------
    flow : array_like, (H, W, 2) or (N, H, W, 2) float
        Estimated flow (u, v) in pixels.
    gt : array_like, same shape as ``flow``
        Ground-truth flow; unknown pixels (NaN, inf, ``>= 1e9``) are skipped.
    valid : array_like of bool, shape ``flow.shape[:-1]``, optional
        Pixels to evaluate (for example KITTI's valid mask or Sintel's non-occluded mask).

    Returns
    -------
    float
        ``mean(sqrt((u - u_gt)**2 + (v - v_gt)**2))`` over the valid pixels.

    Raises
    ------
    ValueError, TypeError
        Bad shapes or dtypes, no valid pixel, or an unknown estimated vector at a valid
        pixel of known ground truth.

    References
    ----------
    S. Baker et al., "A Database and Evaluation Methodology for Optical Flow", IJCV 92(1), 2011.

    Examples
    --------
    >>> gt = np.zeros((4, 4, 2), np.float32)
    >>> endpoint_error(gt + np.float32([3, 4]), gt)
    5.0
    """
    flow, gt = _flow_pair(flow, gt, valid)
    return float(np.mean(np.hypot(*(flow - gt).T)))


def angular_error(flow, gt, valid=None):
    """Mean angular error in degrees, Barron et al.'s definition.

    The angle between the space-time vectors ``(u, v, 1)`` and ``(u_gt, v_gt, 1)``.

    Parameters
    ----------
    flow, gt, valid
        As for :func:`endpoint_error`.

    Returns
    -------
    float
        Mean of ``degrees(arccos((u u_gt + v v_gt + 1) / sqrt((u**2 + v**2 + 1)
        (u_gt**2 + v_gt**2 + 1))))`` over the valid pixels.

    Raises
    ------
    ValueError, TypeError
        As for :func:`endpoint_error`: bad shapes or dtypes, no valid pixel, or an unknown
        estimated vector at a valid pixel of known ground truth.

    References
    ----------
    J. L. Barron, D. J. Fleet, S. S. Beauchemin, "Performance of Optical Flow Techniques",
    IJCV 12(1), 1994.

    Examples
    --------
    >>> gt = np.zeros((2, 2, 2))
    >>> round(angular_error(gt + [1.0, 0.0], gt), 6)
    45.0
    """
    flow, gt = _flow_pair(flow, gt, valid)
    dot = flow[:, 0] * gt[:, 0] + flow[:, 1] * gt[:, 1] + 1
    norms = np.sqrt((np.sum(flow**2, axis=1) + 1) * (np.sum(gt**2, axis=1) + 1))
    return float(np.degrees(np.mean(np.arccos(np.clip(dot / norms, -1.0, 1.0)))))


def fl_all(flow, gt, valid=None):
    """KITTI 2015 outlier rate Fl-all: percent of valid pixels with a wrong flow vector.

    A pixel is an outlier when its endpoint error exceeds 3 px **and** 5 % of the length
    of its ground-truth vector.

    Parameters
    ----------
    flow, gt, valid
        As for :func:`endpoint_error`.

    Returns
    -------
    float
        Percentage in [0, 100].

    Raises
    ------
    ValueError, TypeError
        As for :func:`endpoint_error`: bad shapes or dtypes, no valid pixel, or an unknown
        estimated vector at a valid pixel of known ground truth.

    References
    ----------
    M. Menze, A. Geiger, "Object Scene Flow for Autonomous Vehicles", CVPR 2015.

    Examples
    --------
    >>> gt = np.zeros((1, 2, 2))
    >>> fl_all(gt + [[[4.0, 0.0], [1.0, 0.0]]], gt)
    50.0
    """
    flow, gt = _flow_pair(flow, gt, valid)
    epe = np.hypot(*(flow - gt).T)
    outliers = (epe > 3) & (epe > 0.05 * np.hypot(*gt.T))
    return float(100 * np.mean(outliers))


def _image_pair(image, reference, names=("image", "reference")):
    """Checked host arrays (image, reference); ``names``: the caller's parameter names. Float
    values must be finite, as the flow metrics require of the estimate (a NaN or infinity
    turned the result into NaN silently)."""
    first, second = names
    image, reference = as_array(image, first, frames=True), as_array(reference, second, frames=True)
    check_image(first, image)
    check_image(second, reference)
    check_same_shape(second, reference, first, image)
    if image.dtype != reference.dtype and not (image.dtype.kind == reference.dtype.kind == "f"):
        raise TypeError(f"{first}: expected the dtype of {second} ({reference.dtype}), got "
                        f"{image.dtype}")
    for name, array in ((first, image), (second, reference)):
        if array.dtype.kind == "f":
            check_finite(name, array)
    return to_host(image), to_host(reference)


def _data_range(reference, data_range):
    if data_range is not None:
        return check_float("data_range", data_range, low=0, low_open=True)
    if reference.dtype.kind == "u":
        return float(np.iinfo(reference.dtype).max)
    # float images are in [0, 1] (docs/conventions.md); others need their range, as in
    # scikit-image (floats in [0, 255] scored -22.8 dB silently)
    low, high = float(np.nanmin(reference)), float(np.nanmax(reference))
    if low < 0.0 or high > 1.0:
        raise ValueError(f"data_range: expected it for float images outside [0, 1], got None with "
                         f"reference values in [{low:g}, {high:g}] (e.g. data_range=255 for "
                         f"floats in [0, 255])")
    return 1.0


def psnr(image, reference, data_range=None):
    """Peak signal-to-noise ratio in dB.

    Parameters
    ----------
    image : array_like, uint8, uint16 or float
        Image(s) to evaluate, any of flowkit's image layouts.
    reference : array_like, same shape and dtype family as ``image``
        The ground truth.
    data_range : float, optional
        Peak value. Default by dtype: 255 for uint8, 65535 for uint16, 1.0 for float
        (flowkit's float images are in [0, 1]; a float reference outside [0, 1] needs it:
        ``ValueError``, as scikit-image).

    Returns
    -------
    float
        ``10 log10(data_range**2 / MSE)`` with the MSE over all pixels and channels
        (and frames); ``inf`` for identical images.

    Raises
    ------
    ValueError
        Shapes differ, an image that is not 2-D to 4-D or is empty, NaN or infinite values,
        ``data_range`` not > 0, or a float ``reference`` outside [0, 1] without
        ``data_range``.
    TypeError
        Unsupported or mismatched dtypes (uint8 beside float, ...), a ``data_range`` that is
        not a real number.

    References
    ----------
    The definition of scikit-image's ``peak_signal_noise_ratio`` (the same value for the same
    ``data_range``, tests/test_metrics.py); its arguments are ``(image_true, image_test)``,
    flowkit's ``(image, reference)`` (the value is symmetric).

    Examples
    --------
    >>> reference = np.zeros((4, 4), np.uint8)
    >>> round(psnr(reference + 1, reference), 2)
    48.13
    """
    image, reference = _image_pair(image, reference)
    peak = _data_range(reference, data_range)
    mse = np.mean((image.astype(np.float64) - reference.astype(np.float64)) ** 2)
    if mse == 0:
        return float("inf")
    return float(20 * np.log10(peak) - 10 * np.log10(mse))  # peak**2 overflows past 1e154


def ssim(image, reference, data_range=None, **kwargs):
    """Structural similarity index, via scikit-image's ``structural_similarity``.

    Parameters
    ----------
    image : array_like, (H, W), (H, W, C) or batch (N, H, W[, C])
        Image(s) to evaluate; colour images are compared per channel (``channel_axis=-1``)
        and the channel results averaged. A batch gives the mean over its frames.
    reference : array_like, same shape and dtype family as ``image``
        The ground truth.
    data_range : float, optional
        As for :func:`psnr` (default 255, 65535 or 1.0 by dtype).
    **kwargs
        Passed to ``skimage.metrics.structural_similarity``: ``win_size``,
        ``gaussian_weights``, ``sigma``, ``use_sample_covariance``, ``K1``, ``K2`` (any other
        name is a ``TypeError``, ``channel_axis`` included: the layout sets it); for example
        ``gaussian_weights=True, sigma=1.5, use_sample_covariance=False`` reproduces
        Wang et al.'s implementation. The default is a 7x7 uniform window.

    Returns
    -------
    float
        Mean SSIM in [-1, 1]; 1 for identical images.

    Raises
    ------
    ImportError
        scikit-image is not installed (``pip install scikit-image``).
    TypeError
        A keyword that is not one of the options above; an option of the wrong type
        (``win_size`` an integer, ``gaussian_weights`` and ``use_sample_covariance`` bools,
        ``sigma``, ``K1``, ``K2`` real numbers).
    ValueError
        A side of the images shorter than the window (``win_size``; 7 by default, 11 with
        ``gaussian_weights=True``), naming ``image``; an even ``win_size``, or a window of
        one pixel (``win_size=1``, or ``sigma < 1/7`` with ``gaussian_weights=True``) unless
        ``use_sample_covariance=False``; a ``sigma`` not > 0, a ``K1`` or ``K2`` not in
        [0, 1e75 / data_range] (1e9 / data_range for float16 and float32 images, which
        scikit-image scores in float32: larger ones overflow its terms), or a ``data_range``
        that overflows them with the default ``K1``, ``K2``; a non-finite value.

    Notes
    -----
    Needs scikit-image (an optional dependency, imported on first call). Each side of the images must be at
    least the window size (7 by default).

    References
    ----------
    Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image Quality Assessment: From
    Error Visibility to Structural Similarity", IEEE TIP 13(4), 2004.

    Examples
    --------
    >>> reference = np.random.default_rng(0).random((16, 16))
    >>> ssim(reference, reference)
    1.0
    """
    _check_ssim_options(kwargs)
    image, reference = _image_pair(image, reference)
    peak = _data_range(reference, data_range)
    kwargs = _ssim_option_values(kwargs, image, peak)
    structural_similarity = import_optional("skimage.metrics", "ssim", "scikit-image",
                                            "scikit-image").structural_similarity
    batched, has_channels = frames_layout(image)
    _check_ssim_window(image, has_channels, kwargs)
    if not batched:
        image, reference = image[None], reference[None]
    channel_axis = -1 if has_channels else None
    values = [structural_similarity(frame, ref, data_range=peak, channel_axis=channel_axis, **kwargs)
              for frame, ref in zip(image, reference)]
    return float(np.mean(values))


# structural_similarity's options that keep its result one number; it ignores any other name
# (a typo such as gaussian_weight=True), channel_axis is set from the layout and full / gradient
# add arrays to the result
_SSIM_OPTIONS = ("win_size", "gaussian_weights", "sigma", "use_sample_covariance", "K1", "K2")


def _check_ssim_options(kwargs):
    for key in kwargs:
        if key not in _SSIM_OPTIONS:
            note = (" (ssim sets it from the layout: -1 for (H, W, C) and (N, H, W, C), None for "
                    "gray)" if key == "channel_axis" else "")
            raise TypeError(f"ssim() got an unexpected keyword argument {key!r}{note}; its options "
                            f"are data_range, {', '.join(_SSIM_OPTIONS)}")


def _ssim_option_values(kwargs, image, peak):
    """The values of ssim's options checked (scikit-image checks only ``K1, K2, sigma >= 0``):
    a window of 1 pixel, a zero sigma or huge constants raised ZeroDivisionError or
    OverflowError from inside it, and a string counted as True."""
    checked = dict(kwargs)
    for name in ("gaussian_weights", "use_sample_covariance"):
        if name in kwargs:
            checked[name] = check_bool(name, kwargs[name])
    if "sigma" in kwargs:
        checked["sigma"] = check_float("sigma", kwargs["sigma"], low=0, low_open=True)
    # (K R)^2 enters products of squares, in float32 for float16 and float32 images
    bits = 32 if image.dtype.itemsize <= 4 and image.dtype.kind == "f" else 64
    for name, default in (("K2", 0.03), ("K1", 0.01)):  # scikit-image's; the tighter first
        if name in kwargs:
            checked[name] = value = check_float(name, kwargs[name], low=0)
            if value * peak > _MAX_K_RANGE[bits]:
                raise ValueError(f"{name}: expected a number in [0, {_MAX_K_RANGE[bits] / peak:g}]"
                                 f" (a larger {name} * data_range overflows SSIM's float{bits} "
                                 f"terms), got {value:g}")
        elif default * peak > _MAX_K_RANGE[bits]:  # the same overflow from data_range alone
            raise ValueError(f"data_range: expected at most {_MAX_K_RANGE[bits] / default:g} "
                             f"with {name}={default} (a larger one overflows SSIM's float{bits} "
                             f"terms: NaN), got {peak:g}")
    if kwargs.get("win_size") is not None:
        checked["win_size"] = check_int("win_size", kwargs["win_size"], min_value=1)
    return checked


# the largest K1 * data_range and K2 * data_range by the bits of SSIM's computation: products of
# two (2 R^2 + (K R)^2) stay finite
_MAX_K_RANGE = {32: 1e9, 64: 1e75}


def _check_ssim_window(image, has_channels, kwargs):
    """Frames smaller than SSIM's window, and an even ``win_size``, are named here:
    scikit-image's own errors for them name no parameter (and advise a ``channel_axis`` that
    :func:`ssim` already sets); so is a window of one pixel, whose sample covariance divides
    by zero."""
    window = kwargs.get("win_size")
    name = "win_size"
    if window is None:  # scikit-image's default: 7, or its Gaussian's 2 * int(3.5 sigma + 0.5) + 1
        window = 7
        if kwargs.get("gaussian_weights", False):
            window, name = 2 * int(3.5 * kwargs.get("sigma", 1.5) + 0.5) + 1, "sigma"
    if window % 2 == 0:  # scikit-image's own message names no parameter
        raise ValueError(f"win_size: expected an odd number, got {window}")
    if window < 3 and kwargs.get("use_sample_covariance", True):
        given = f"{kwargs['sigma']} (a window of 1)" if name == "sigma" else window
        raise ValueError(f"{name}: expected a window of 3 pixels or more (sigma >= 1/7 without "
                         f"win_size), the sample covariance's least (use_sample_covariance="
                         f"False takes 1), got {given}")
    height, width = image.shape[-3:-1] if has_channels else image.shape[-2:]
    side = min(height, width)
    if side < window and name == "sigma" and "sigma" in kwargs:  # the window the user's sigma set
        raise ValueError(f"sigma: expected a number below {((side - 1) // 2 + 0.5) / 3.5:.4g} "
                         f"for frames of {width}x{height} (width x height): its Gaussian's "
                         f"window, 2 * int(3.5 * sigma + 0.5) + 1 pixels, must fit them "
                         f"(win_size= sets a smaller one), got {kwargs['sigma']} (a window of "
                         f"{window})")
    if side < window:
        raise ValueError(f"image: expected each side at least SSIM's window of {window} pixels "
                         f"(win_size=, an odd number, sets a smaller one), got "
                         f"{width}x{height} (width x height) in shape {tuple(image.shape)}")


def interpolation_error(image, reference):
    """Middlebury interpolation error: root-mean-square difference of intensities.

    Parameters
    ----------
    image : array_like
        Interpolated frame(s), any of flowkit's image layouts.
    reference : array_like, same shape and dtype family as ``image``
        The true frame(s).

    Returns
    -------
    float
        ``sqrt(mean((image - reference)**2))`` over all pixels and channels, in the units
        of the input (gray levels for uint8, as in the Middlebury benchmark).

    Raises
    ------
    ValueError
        Shapes differ, an image that is not 2-D to 4-D or is empty, NaN or infinite values.
    TypeError
        Unsupported or mismatched dtypes (uint8 beside float, ...).

    References
    ----------
    S. Baker et al., "A Database and Evaluation Methodology for Optical Flow", IJCV 92(1), 2011.

    Examples
    --------
    >>> reference = np.zeros((2, 2), np.uint8)
    >>> interpolation_error(reference + 3, reference)
    3.0
    """
    image, reference = _image_pair(image, reference)
    return float(np.sqrt(np.mean((image.astype(np.float64) - reference.astype(np.float64)) ** 2)))


def warping_error(frame, previous, flow, valid=None):
    """Temporal warping error of a video pair: mean ``|frame - warp(previous, flow)|``.

    Parameters
    ----------
    frame, previous : array_like, (H, W) or (H, W, C)
        Output frames t and t - 1 (of a processed video), one shape, any image dtype.
    flow : array_like, (H, W, 2) float
        Flow from frame t to frame t - 1 of the *original* video (flowkit's convention:
        ``frame[y, x] ~ previous[y + v, x + u]``), e.g. ground truth or an estimate.
    valid : array_like of bool, (H, W), optional
        Pixels to count: non-occluded pixels whose flow is known (Sintel's occlusion masks, or
        a forward-backward test). Pixels of unknown flow (NaN, inf or a component of magnitude
        >= 1e9, as ``flowkit.warp``) are never counted.

    Returns
    -------
    float
        The mean over the valid pixels and all channels, in the frames' units (float64);
        ``previous`` is warped bilinearly in float32 (``flowkit.warp``, replicated border).

    Raises
    ------
    ValueError, TypeError
        Frames of different shapes or dtypes, NaN or infinite frame values, a flow of
        another size, no valid pixel of known flow.

    References
    ----------
    W.-S. Lai et al., "Learning Blind Video Temporal Consistency", ECCV 2018 (the metric,
    there squared; the absolute value here, as issue 12 states it).

    Examples
    --------
    >>> frame = np.full((4, 4), 0.5)
    >>> warping_error(frame, frame + 0.25, np.zeros((4, 4, 2), np.float32))
    0.25
    """
    from ._warp import warp

    frame, previous = _image_pair(frame, previous, ("frame", "previous"))
    flow = as_array(flow, "flow")
    check_flow("flow", flow, shape=frame.shape[:2])
    warped = warp(previous.astype(np.float32), flow.astype(np.float32))
    diff = np.abs(frame.astype(np.float64) - to_host(warped))
    # unknown flow (NaN, inf, |component| >= 1e9: warp's rule) compares with nothing: left out,
    # as endpoint_error leaves unknown ground truth out (samples outside the frame are kept)
    counted = to_host(known_vectors(flow))
    if valid is not None:
        counted &= check_valid_mask(valid, frame.shape[:2])
    if not counted.any():
        raise ValueError("valid: expected at least one pixel with a known flow and valid=True, "
                         "got none")
    return float(diff[counted].mean())


def sharpness(image, reference):
    """Mean gradient magnitude of ``image`` over that of ``reference``: 1 is as sharp as the
    reference, below 1 blurrier (the sharpness comparison of Mathieu et al., ICLR 2016, who
    report a gradient-based sharpness difference).

    Parameters
    ----------
    image : array_like, (H, W) or (H, W, C), uint8, uint16 or float
        The image to evaluate (one image, not a batch).
    reference : array_like, same shape and dtype family as ``image``
        The ground truth.

    Returns
    -------
    float
        ``mean(|grad image|) / mean(|grad reference|)``, gradients by central differences
        (``np.gradient``) over the two image axes, magnitudes averaged over pixels and
        channels, in float64; ``nan`` when the reference is flat.

    Raises
    ------
    ValueError
        Shapes differ, NaN or infinite values, or not one image of at least 2x2 pixels.
    TypeError
        Unsupported or mismatched dtypes.

    Examples
    --------
    >>> ramp = np.tile(np.arange(8, dtype=np.float32) / 8, (8, 1))
    >>> round(sharpness(ramp / 2, ramp), 3)
    0.5
    """
    image, reference = _image_pair(image, reference)
    if image.ndim not in (2, 3) or min(image.shape[:2]) < 2:
        raise ValueError(f"image: expected one image (H, W) or (H, W, C) of at least 2x2 pixels, "
                         f"got shape {tuple(image.shape)}")

    def mean_gradient(x):  # C order: the sums of a Fortran-ordered view differed in the last bit
        gy, gx = np.gradient(np.ascontiguousarray(x, dtype=np.float64), axis=(0, 1))
        return np.hypot(gx, gy).mean()

    with np.errstate(invalid="ignore", divide="ignore"):
        return float(mean_gradient(image) / mean_gradient(reference))
