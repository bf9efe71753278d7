"""Sparse pyramidal Lucas-Kanade point tracking and Shi-Tomasi corners."""

import numbers

import numpy as np

from ._backend import (CUDA, as_array, device_array, host_array, is_device_array, select_device, to_host,
                       to_output)
from ._intensity import prepare_frames
from ._validate import (check_bool, check_float, check_int, check_one_frame, check_output_size,
                        check_same_dtype, check_same_shape, check_valid_mask, scalar)

MAX_BLOCK_SIZE = 255  # good_features' box: its time grows with the side
MAX_GRADIENT_SIZE = 31  # OpenCV's largest Sobel aperture (getSobelKernels)
_FLOAT32_MAX = float(np.finfo(np.float32).max)  # the range of good_features' k


def _check_frame(name, frame):
    frame = as_array(frame, name, frames=True)
    check_one_frame(name, frame)
    return frame


def _check_points(name, points):
    """(K, 2) array of real numbers (an empty 1-D or (0, 2) array is an empty set)."""
    if points is None or isinstance(points, (str, bytes)):
        raise TypeError(f"{name}: expected an array of shape (K, 2), got {type(points).__name__}")
    points = as_array(points, name)
    if np.dtype(points.dtype).kind not in "fiu":
        raise TypeError(f"{name}: expected a real (float or integer) dtype, got {points.dtype}")
    if points.size == 0 and points.ndim <= 2:
        return points.reshape(0, 2)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(
            f"{name}: expected shape (K, 2) of (x, y) pairs, got {tuple(points.shape)} "
            "(an OpenCV (K, 1, 2) array can be passed as points.reshape(-1, 2))"
        )
    return points


def _check_win_size(win_size):
    win_size = scalar(win_size)  # np.array(21)
    if isinstance(win_size, np.ndarray) and win_size.ndim == 1:  # np.array([21, 11])
        win_size = tuple(win_size)
    if isinstance(win_size, numbers.Integral) and not isinstance(win_size, bool):
        w = h = check_int("win_size", win_size, min_value=3)
        return w, h
    if isinstance(win_size, (tuple, list)) and len(win_size) == 2:
        return (check_int("win_size", win_size[0], min_value=3),
                check_int("win_size", win_size[1], min_value=3))
    raise TypeError(f"win_size: expected an integer >= 3 or a (width, height) pair, got {win_size!r}")


def _check_gradient_size(gradient_size):
    """OpenCV's Sobel aperture: -1 (Scharr) or an odd integer in [1, 31]."""
    value = check_int("gradient_size", gradient_size)
    if value != -1 and not (1 <= value <= MAX_GRADIENT_SIZE and value % 2 == 1):
        raise ValueError("gradient_size: expected -1 (Scharr) or an odd integer from 1 to "
                         f"{MAX_GRADIENT_SIZE} (the Sobel aperture: 1, 3, 5, 7, ...), got {value}")
    return value


def _hwc(frame, backend):
    """A prepared frame (float32, or integers in parity mode) as an (H, W, C) host or device array."""
    h, w = frame.shape[:2]
    c = frame.shape[2] if frame.ndim == 3 else 1
    if backend == CUDA:
        return device_array(frame, frame.dtype, (h, w, c))
    return host_array(frame, frame.dtype, (h, w, c))


def _as_float32_points(points, backend):
    return (device_array if backend == CUDA else host_array)(points, np.float32)


def lucas_kanade_sparse(frame0, frame1, points, *, win_size=21, max_level=3, max_iter=30, eps=0.01,
                        min_eig_threshold=1e-4, init_points=None, backward_check=False,
                        get_min_eigenvals=False, normalize=True, device=None):
    """Track points from frame0 to frame1 with pyramidal Lucas-Kanade (Bouguet's method).

    The semantics of ``cv2.calcOpticalFlowPyrLK(frame0, frame1, points, None, (win_size,
    win_size), max_level, criteria=(COUNT | EPS, max_iter, eps), minEigThreshold=...)`` (and
    ``flags=OPTFLOW_LK_GET_MIN_EIGENVALS`` with ``get_min_eigenvals=True``): an image
    pyramid built with the 5-tap [1 4 6 4 1] / 16 filter, Scharr derivatives of frame0 and a fixed
    Hessian per point (inverse compositional), bilinear sampling, reflect-101 image borders and
    zero derivatives outside the image. Unlike OpenCV any supported dtype and colour frames are
    accepted (the normal equations are summed over channels), the bilinear weights are exact
    floats (OpenCV uses 14-bit fixed point). Pyramid levels are rounded to integers, as OpenCV's,
    for uint8 frames (on the CPU they are uint8 levels, whatever ``normalize``: the steps do not
    change under ``a * I + b``, so the stretch only scales the eigenvalue threshold) and for
    other integer frames with ``normalize=False``.

    Parameters
    ----------
    frame0, frame1 : array, (H, W) or (H, W, C) with C in 1, 3, 4
        The two frames, same shape and dtype (uint8, uint16, float16, float32 or float64),
        finite values (NaN or infinity: ``ValueError``). RGBA is read as RGB, alpha is ignored;
        2 channels are a ``ValueError``. NumPy runs on the CPU, CuPy on the GPU.
    points : array, (K, 2)
        Points of frame0 as (x, y) pixel coordinates (pixel centres at integers), any real
        dtype (used as float32). An empty array gives empty results.
    win_size : int or (int, int)
        Window width and height in pixels (>= 3), at every level; the pair as a tuple, a list
        or a 1-D array.
    max_level : int
        Coarsest pyramid level (0 = no pyramid). As in OpenCV the pyramid stops early before
        a level not larger than the window.
    max_iter : int
        Maximum Gauss-Newton iterations per level (>= 0). Run as given: OpenCV clamps its
        criteria's ``maxCount`` to 100, so above 100 its points may stop sooner than these.
    eps : float
        Iterations at a level stop once the step length is <= eps pixels (of that level).
        Taken as given; OpenCV clamps its criteria's ``epsilon`` to 10.
    min_eig_threshold : float
        A point is lost where the smaller eigenvalue of its window's spatial gradient matrix,
        divided by the window area, is below this. It is in OpenCV's units for uint8 frames
        (the gradient matrix of raw Scharr derivatives scaled by 2**-20), measured on a 0..255
        intensity scale: that of the stretched pair (its min at 0, its max at 255) with
        ``normalize=True``, the dtype's range with ``normalize=False``.
    init_points : array, (K, 2), optional
        Initial guesses of the tracked positions (``OPTFLOW_USE_INITIAL_FLOW``).
    backward_check : bool
        Also track the result back from frame1 to frame0 and clear ``status`` where the round
        trip misses the original point by more than 1 px.
    get_min_eigenvals : bool, default False
        Return in ``err`` the minimum eigenvalue of each point's spatial gradient matrix at
        level 0 instead of the intensity difference (OpenCV's
        ``OPTFLOW_LK_GET_MIN_EIGENVALS``): the quantity compared with ``min_eig_threshold``,
        in its units (so with ``normalize=True`` on the 0..255 scale of the stretched pair,
        not in the input's units). ``status`` and ``points1`` are the same either way (OpenCV's
        flag also drops its last test, whether the result's window is still in the image, so
        OpenCV may keep points tracked out of the image that flowkit loses).
    normalize : bool, default True
        Stretch the pair jointly to [0, 1] -- ``(I - min) / (max - min)`` over both frames and
        all channels -- before tracking, so points and statuses are the same for ``a * I + b``
        with ``a > 0`` in any dtype. False: integer frames are divided by their dtype's maximum
        and float frames are taken as they are ([0, 1] expected), which reproduces OpenCV's
        thresholds for uint8 (parity); low-contrast input then loses its points to
        ``min_eig_threshold``. Flat pairs (``max == min``) are not scaled: every point is lost
        (zero gradient matrix). Frames of pure noise are stretched like any others, so
        their points are tracked (the noise is texture) to positions that follow the noise.
        See docs/conventions.md, "Intensity".
    device : {None, "cpu", "cuda"}
        Where to run; None follows the input arrays (docs/conventions.md).

    Returns
    -------
    points1 : array, (K, 2) float32
        Tracked (x, y) positions in frame1. Where ``status`` is False the value is the last
        estimate (NaN for NaN input points) and should not be used.
    status : array, (K,) bool
        True where the point was tracked. False where a window lies wholly outside the image at
        level 0 (the point or its result is more than about ``win_size`` beyond the border, or
        NaN/inf), where the gradient matrix is too weak (see ``min_eig_threshold``), or where
        the backward check fails.
    err : array, (K,) float32
        Mean absolute intensity difference between the two windows (over pixels and channels),
        in the input's intensity units (also with ``normalize=True``: it is scaled back by
        ``max - min``); 0 where the forward tracking failed. With ``get_min_eigenvals`` the
        minimum eigenvalue of frame0's window at the point (level 0, in ``min_eig_threshold``'s
        units) for every point, tracked or not (also where it is below the threshold), 0 only
        where that window lies wholly outside the image (as OpenCV).

    Raises
    ------
    TypeError
        Non-array frames, ``points`` or ``init_points``, unsupported dtypes (bool, complex,
        ...), frames of different dtypes, non-integer ``win_size``/``max_level``/
        ``max_iter``, a non-number ``eps``/``min_eig_threshold``, a non-bool
        ``backward_check``/``get_min_eigenvals``/``normalize``, host and device inputs mixed.
    ValueError
        Frames that are not one ``(H, W)`` or ``(H, W, C)`` frame, of different shapes, with 2
        channels or NaN or infinite values; ``points`` or ``init_points`` not ``(K, 2)`` (the
        same K); ``win_size`` < 3, ``max_level``/``max_iter`` < 0, a negative
        ``eps``/``min_eig_threshold``; an unknown ``device``. A ``win_size`` whose padded
        pyramids (each level padded by the window on every side) exceed the machine's
        memory: ``OutputTooLarge`` (a ValueError and a MemoryError) naming ``win_size``.

    Notes
    -----
    A point's window may reach over the image border (the image is mirrored there, as in
    OpenCV), so points near or slightly outside the border are still tracked.

    References
    ----------
    J.-Y. Bouguet, "Pyramidal implementation of the Lucas Kanade feature tracker", Intel
    Corporation, 2000. B. D. Lucas and T. Kanade, "An iterative image registration technique
    with an application to stereo vision", IJCAI 1981.

    Examples
    --------
    >>> import flowkit
    >>> frame0, frame1, flow = flowkit.sample_pair()
    >>> pts = flowkit.good_features(frame0, 200, 0.01, 8)
    >>> pts1, status, err = flowkit.lucas_kanade_sparse(frame0, frame1, pts)
    >>> pts1.shape, status.dtype
    ((200, 2), dtype('bool'))
    """
    frame0 = _check_frame("frame0", frame0)
    frame1 = _check_frame("frame1", frame1)
    check_same_shape("frame0", frame0, "frame1", frame1)
    check_same_dtype("frame0", frame0, "frame1", frame1)
    points = _check_points("points", points)
    if init_points is not None:
        init_points = _check_points("init_points", init_points)
        if tuple(init_points.shape) != tuple(points.shape):
            raise ValueError(f"init_points: expected shape {tuple(points.shape)} (that of points), "
                             f"got {tuple(init_points.shape)}")
    win_w, win_h = _check_win_size(win_size)
    max_level = check_int("max_level", max_level, min_value=0)
    max_iter = check_int("max_iter", max_iter, min_value=0)
    eps = check_float("eps", eps, low=0.0)
    min_eig_threshold = check_float("min_eig_threshold", min_eig_threshold, low=0.0)
    check_bool("backward_check", backward_check)
    get_min_eigenvals = check_bool("get_min_eigenvals", get_min_eigenvals)
    normalize = check_bool("normalize", normalize)
    backend = select_device(device, frame0=frame0, frame1=frame1, points=points, init_points=init_points)
    gpu_input = any(is_device_array(a) for a in (frame0, frame1, points, init_points))
    # uint8 frames on the CPU are tracked in their own levels (uint8 pyramids rounded as
    # OpenCV's, whatever ``normalize``): Lucas-Kanade's steps do not change under a * I + b, so
    # the stretch only scales the eigenvalue threshold, and err is in the input's units as it is
    raw8 = backend != CUDA and frame0.dtype == np.uint8
    # float32 frames stretched to [0, 1] (on the CPU the stretch is deferred to the copy into the
    # pyramids, and for uint8 the range is read there too); with normalize=False integer frames
    # stay integers, so that the pyramid levels are rounded as OpenCV's, and floats are taken
    # as they are
    prep = prepare_frames((frame0, frame1), ("frame0", "frame1"), normalize=normalize, batched=False,
                          has_channels=frame0.ndim == 3, integer_levels=True, keep_integers=True,
                          deferred_stretch=backend != CUDA, deferred_range=raw8)
    frame0, frame1 = prep.frames

    k = points.shape[0]
    if k == 0:
        empty = (np.empty((0, 2), np.float32), np.empty(0, bool), np.empty(0, np.float32))
        return tuple(to_output(a, gpu_input) for a in empty)

    # thresholds on the 0..255 scale; raw8 with normalize: that of the pair's range, read while
    # the pyramids are built (eig_scale None)
    params = dict(win_w=win_w, win_h=win_h, max_level=max_level, max_iter=max_iter, eps2=eps * eps,
                  min_eig_threshold=min_eig_threshold,
                  eig_scale=None if prep.span is None else _eig_scale(255.0 * prep.gain),
                  min_eigenvals=get_min_eigenvals, backward_check=bool(backward_check))
    pts = _as_float32_points(points, backend)
    init = None if init_points is None else _as_float32_points(init_points, backend)
    if backend == CUDA:
        from .kernels import lk_sparse_cuda

        result = lk_sparse_cuda.track(_hwc(frame0, backend), _hwc(frame1, backend), pts, init, **params)
    else:
        stretch = (prep.offset, prep.factor) if normalize and not raw8 else None
        result = _track_cpu(_hwc(frame0, backend), _hwc(frame1, backend), pts, init, stretch, **params)
    points1, status, err = (to_output(a, gpu_input) for a in result)
    if not raw8 and prep.span[0] != 1.0 and not get_min_eigenvals:  # err back in the input's units
        err *= np.float32(prep.span[0])
    return points1, status, err


def _eig_scale(scale):
    """``hessian_check``'s ``eig_scale`` for intensities read as ``scale`` times OpenCV's
    0..255 scale (OpenCV's Hessian: raw Scharr values, 32 x the gradient, scaled by 2**-20)."""
    return scale * scale / 1024.0


def _track_cpu(f0, f1, pts, init, stretch, *, win_w, win_h, max_level, max_iter, eps2,
               min_eig_threshold, eig_scale, min_eigenvals, backward_check):
    from .kernels import lk_sparse as lk

    h, w = f0.shape[:2]
    shapes = lk.pyramid_shapes(h, w, win_w, win_h, max_level)
    c = f0.shape[2]
    # the levels are padded by the window on each side (as OpenCV's): a window far larger
    # than the frame made a MemoryError, or an int64 overflow, naming nothing
    padded = sum((a + 2 * win_h) * (b + 2 * win_w) * c for a, b in shapes)
    check_output_size("win_size", 2 * padded, 1 if stretch is None and f0.dtype == np.uint8
                      else 4, "pyramid values (both frames' levels, padded by the window)")
    k = pts.shape[0]
    pixels = sum(a * b for a, b in shapes)
    per_window = lk.window_derivatives(k, win_w, win_h, len(shapes), pixels)
    derivatives = 0 if per_window else 2 if backward_check else 1
    extrema = None if eig_scale is not None else np.empty((2, 2))
    buf, gx, gy, geo, total = lk.build_pyramids(f0, f1, shapes, win_w, win_h, derivatives, stretch, extrema)
    if extrema is not None:  # uint8 with normalize: as prepare_frames' span (1 for a flat pair)
        span = extrema[:, 1].max() - extrema[:, 0].min()
        eig_scale = _eig_scale(255.0 / (span if span else 1.0))
    buf0, buf1 = buf[:total + lk.SLACK], buf[total:]  # each with the slack its windows may read
    gx0, gy0, gx1, gy1 = gx[:total + lk.SLACK], gy[:total + lk.SLACK], gx[total:], gy[total:]

    def run(a, ga_x, ga_y, b, start, guess, min_eigenvals=False):
        out = np.empty((k, 2), np.float32)
        status = np.empty(k, np.bool_)
        err = np.empty(k, np.float32)
        lk.track_points(a, ga_x, ga_y, b, geo, c, start, start if guess is None else guess,
                        guess is not None, win_w, win_h, max_iter, eps2, min_eig_threshold, eig_scale,
                        min_eigenvals, out, status, err)
        return out, status, err

    out, status, err = run(buf0, gx0, gy0, buf1, pts, init, min_eigenvals)
    if backward_check:
        back, back_status, _ = run(buf1, gx1, gy1, buf0, out, None)
        status &= back_status & (np.hypot(*(back - pts).T) <= 1.0)
    return out, status, err


def good_features(frame, max_corners=1000, quality=0.01, min_distance=10.0, *, mask=None,
                  block_size=3, gradient_size=3, use_harris_detector=False, k=0.04,
                  normalize=True, device=None):
    """Shi-Tomasi corners: points worth tracking with :func:`lucas_kanade_sparse`.

    Matches ``cv2.goodFeaturesToTrack(frame, max_corners, quality, min_distance, mask,
    block_size, gradient_size, use_harris_detector, k)``: the response is the smaller
    eigenvalue of the structure tensor of Sobel derivatives (3x3 by default) summed over a
    ``block_size`` x ``block_size`` box
    (or the Harris measure of that tensor); corners are the pixels (not on the image border)
    above ``quality`` times the strongest response that are 3x3 local maxima, taken by
    decreasing response while at least ``min_distance`` from every corner already taken.

    Parameters
    ----------
    frame : array, (H, W) or (H, W, C) with C in 1, 3, 4
        uint8, uint16, float16, float32 or float64, finite values (NaN or infinity:
        ``ValueError``). Colour frames sum the structure tensor over channels (OpenCV accepts
        gray frames only); RGBA is read as RGB, alpha is ignored; 2 channels are a
        ``ValueError``.
    max_corners : int
        At most this many corners, strongest first; 0 means no limit.
    quality : float
        In (0, 1]: the minimum response relative to the strongest.
    min_distance : float
        Minimum Euclidean distance in pixels between returned corners (>= 0).
    mask : array, (H, W), optional
        Where corners may be: bool, or numbers where nonzero means allowed (OpenCV's uint8
        mask). The strongest response, which ``quality`` is relative to, is taken inside the
        mask; an all-False mask gives no corners.
    block_size : int, default 3
        Side of the box the structure tensor is summed over, 1 to 255 (OpenCV's ``blockSize``;
        an even size has one more row and column before the pixel than after it, as OpenCV's
        box filter). The time grows with the size (the sums run along rows, then columns).
    gradient_size : int, default 3
        Aperture of the Sobel derivatives (OpenCV's ``gradientSize``, ``cv2.Sobel``'s
        ``ksize``): an odd size from 1 to 31 (1: the central difference ``[-1, 0, 1]``
        without smoothing), or -1 for the 3x3 Scharr derivatives. The derivatives are scaled
        as OpenCV's ``cornerMinEigenVal`` scales them, by ``1 / (2**(gradient_size - 1) *
        block_size)`` (Scharr: ``1 / (8 block_size)``) on the [0, 1] scale, which changes the
        response's units, not the corners. Sizes other than 3 take a slower general path
        whose time grows with the square of the size.
    use_harris_detector : bool, default False
        Rank by the Harris measure ``det(M) - k trace(M)^2`` of the summed tensor ``M``
        (``cv2.cornerHarris``) instead of its smaller eigenvalue (Shi-Tomasi).
    k : float, default 0.04
        The Harris detector's free parameter (within float32's range, +-3.4e38, in which the
        response is computed; used only with ``use_harris_detector``).
    normalize : bool, default True
        Stretch the frame to [0, 1] -- ``(I - min) / (max - min)`` over all channels -- before
        the response is computed, so the corners are the same for ``a * I + b`` with ``a > 0``
        in any dtype. False: integer frames are divided by their dtype's maximum and float
        frames are taken as they are ([0, 1] expected), which reproduces OpenCV's arithmetic
        for uint8 (parity). ``quality`` is relative to the strongest response either way. A
        flat frame (``max == min``) has no corners; a frame of pure noise has corners at its
        noise peaks. See docs/conventions.md, "Intensity".
    device : {None, "cpu", "cuda"}
        Where the response map is computed (the selection always runs on the host).

    Returns
    -------
    points : array, (K, 2) float32
        Corner positions (x, y) in pixels, by decreasing response.

    Raises
    ------
    TypeError
        A frame that is not an array or of a dtype not listed above; ``max_corners``,
        ``block_size`` or ``gradient_size`` not an integer; ``quality``, ``min_distance`` or
        ``k`` not a real number; ``use_harris_detector`` or ``normalize`` not a bool; a
        ``mask`` that is not an array of bools or numbers.
    ValueError
        A frame that is not 2-D or 3-D, empty, of 2 or more than 4 channels, or holding NaN
        or infinity; ``quality`` outside (0, 1]; a negative ``max_corners`` or
        ``min_distance``; a non-finite ``quality``, ``min_distance`` or ``k``; ``block_size``
        outside 1-255; ``gradient_size`` not -1 or odd in 1-31; a ``k`` outside float32's
        range; a ``mask`` whose shape is not the frame's (H, W) or that holds NaN; an unknown
        ``device``.

    References
    ----------
    J. Shi and C. Tomasi, "Good features to track", CVPR 1994. C. Harris and M. Stephens, "A
    combined corner and edge detector", Alvey Vision Conference, 1988.

    Examples
    --------
    >>> import flowkit
    >>> frame0, _, _ = flowkit.sample_pair()
    >>> flowkit.good_features(frame0, 50, 0.01, 10).shape
    (50, 2)
    """
    frame = _check_frame("frame", frame)
    max_corners = check_int("max_corners", max_corners, min_value=0)
    quality = check_float("quality", quality, low=0.0, high=1.0, low_open=True)
    min_distance = check_float("min_distance", min_distance, low=0.0)
    if mask is not None:
        mask = check_valid_mask(mask, frame.shape[:2], " (H, W of frame)", name="mask")
    block_size = check_int("block_size", block_size, min_value=1, max_value=MAX_BLOCK_SIZE)
    gradient_size = _check_gradient_size(gradient_size)
    harris = check_bool("use_harris_detector", use_harris_detector)
    # the kernels' float32: a k beyond it was +-inf there, its responses NaN at flat pixels
    k = check_float("k", k, low=-_FLOAT32_MAX, high=_FLOAT32_MAX)
    normalize = check_bool("normalize", normalize)
    backend = select_device(device, frame=frame)
    gpu_input = is_device_array(frame)
    prep = prepare_frames((frame,), ("frame",), normalize=normalize, batched=False,
                          has_channels=frame.ndim == 3, integer_levels=True)
    frame = prep.frames[0]
    # OpenCV's derivative scale (cornerEigenValsVecs) for the aperture, summed over
    # block_size^2, on the [0, 1] scale: 4 for the 3x3 Sobel, 8 for Scharr
    norm = 8.0 if gradient_size == -1 else float(1 << (gradient_size - 1))
    scale = prep.gain / (norm * block_size)
    from .kernels import lk_sparse as lk

    if backend == CUDA:
        from .kernels import lk_sparse_cuda

        eig = to_host(lk_sparse_cuda.corner_response(_hwc(frame, backend), scale, block_size,
                                                     harris, k, gradient_size))
    else:
        eig = lk.corner_response(host_array(_hwc(frame, backend), np.float32), np.float32(scale),
                                 block_size, harris, k, gradient_size)
    if block_size % 2 == 0:
        # an even box (one more row before the pixel than after) at row 0 covers the rows of
        # row 1's box mirrored (reflect-101), so the two responses are equal; OpenCV's float64
        # box sums keep them equal, and row 1 can be a 3x3 maximum by the tie. Float32 sums
        # in two orders broke the tie, which lost OpenCV's corners on row 1 (same for columns)
        eig[0] = eig[min(1, eig.shape[0] - 1)]
        eig[:, 0] = eig[:, min(1, eig.shape[1] - 1)]
    points = lk.select_corners(eig, quality, min_distance, max_corners, mask)
    return to_output(points, gpu_input)
