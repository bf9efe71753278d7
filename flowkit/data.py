"""Built-in sample data: a synthetic frame pair with exact ground-truth flow.

The pair is generated on the fly (no files, no licence questions): a multi-scale colour
texture seen by a camera that rotates and zooms slightly, with a disc that moves against
the background, so the flow is smooth almost everywhere and discontinuous at the disc's rim.
"""

import numpy as np

__all__ = ["sample_pair", "sample_flow"]


def _texture(height, width, rng):
    """Multi-scale colour noise in [0, 1], float64 (H, W, 3)."""
    import cv2

    image = np.zeros((height, width, 3))
    for sigma, weight in ((1.0, 0.15), (3.0, 0.35), (10.0, 1.0)):
        band = cv2.GaussianBlur(rng.random((height, width, 3)), (0, 0), sigma,
                                borderType=cv2.BORDER_REFLECT_101)
        image += weight * (band - band.mean()) / band.std()  # each scale at its own weight
    image -= image.min(axis=(0, 1))
    return image / image.max(axis=(0, 1))


_POLE = np.sqrt(3.0) - 2.0  # of the cubic B-spline's interpolation prefilter


def _spline_coefficients(image, pad):
    """Cubic B-spline coefficients (float64) of ``image`` ``(H, W, C)`` mirrored by ``pad``
    samples on each side of both axes (half-sample symmetric, ``d c b a | a b c d``), by the
    causal and anticausal recursions of M. Unser, "Splines: a perfect fit for signal and image
    processing", IEEE Signal Processing Magazine 16(6), 1999. Each recursion starts at the
    padded end, so the start's error is damped by ``|pole| ** pad`` (0.27 ** 40 ~ 1e-23)
    where the image begins."""
    coeffs = np.pad(image.astype(np.float64), [(pad, pad), (pad, pad), (0, 0)], mode="symmetric")
    for axis in (0, 1):
        c = np.moveaxis(coeffs, axis, 0)  # a view: the recursions write coeffs
        c *= 6.0
        for k in range(1, c.shape[0]):
            c[k] += _POLE * c[k - 1]
        c[-1] *= _POLE / (_POLE * _POLE - 1.0)
        for k in range(c.shape[0] - 2, -1, -1):
            c[k] = _POLE * (c[k + 1] - c[k])
    return coeffs


def _spline_weights(t):
    """The four cubic B-spline weights of the taps at -1, 0, 1, 2 for fractions ``t``."""
    s = 1.0 - t
    return s**3 / 6, (4 - 6 * t**2 + 3 * t**3) / 6, (1 + 3 * t + 3 * t**2 - 3 * t**3) / 6, t**3 / 6


def _spline_sample(image, y, x):
    """``image`` ``(H, W, C)`` sampled at the float positions ``(y, x)`` ``(H, W)`` by cubic
    B-spline interpolation, the image mirrored past its edges: the values of
    ``scipy.ndimage.map_coordinates(order=3, mode="reflect")`` per channel (to about 1e-12,
    tests/test_io.py), written here so that the core install does not need SciPy."""
    h, w = image.shape[:2]
    reach = max(np.abs(y - np.arange(h)[:, None]).max(), np.abs(x - np.arange(w)).max())
    pad = max(40, int(np.ceil(reach)) + 3)
    coeffs = _spline_coefficients(image, pad)
    width = coeffs.shape[1]
    flat = coeffs.reshape(-1, image.shape[2])
    iy, ix = np.floor(y).astype(np.intp), np.floor(x).astype(np.intp)
    wy, wx = _spline_weights(y - iy), _spline_weights(x - ix)
    first = (iy + pad - 1) * width + (ix + pad - 1)  # the top-left tap
    out = 0.0
    for a in range(4):
        row = sum(wx[b][..., None] * flat[first + (a * width + b)] for b in range(4))
        out = out + wy[a][..., None] * row
    return out


def sample_flow(height=240, width=320):
    """The ground-truth flow of :func:`sample_pair`, ``(H, W, 2)`` float32.

    Background: rotation by 1 degree and zoom by 2 % about the centre plus a (1.5, -0.75) px
    shift; inside a disc of radius H/5 left of centre: a translation of (-3.25, 2.5) px.

    Parameters
    ----------
    height, width : int >= 1
        Size of the flow field in pixels (those of :func:`sample_pair`).

    Returns
    -------
    flow : ndarray, (H, W, 2) float32
        ``flow[..., 0] = u`` (x), ``flow[..., 1] = v`` (y), in pixels (docs/conventions.md).

    Raises
    ------
    TypeError
        ``height`` or ``width`` not an integer.
    ValueError
        A size under 1; :class:`OutputTooLarge` (a MemoryError too) for a size whose working
        arrays (about 70 bytes a pixel) exceed the machine's memory.

    Examples
    --------
    >>> sample_flow(48, 64).shape
    (48, 64, 2)
    """
    from ._validate import check_int, check_output_size

    height = check_int("height", height, min_value=1)
    width = check_int("width", width, min_value=1)
    # the float64 grids, u, v and the disc mask: about 70 bytes a pixel
    check_output_size("height, width", height * width, 70, "pixels")
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    angle, zoom = np.deg2rad(1.0), 1.02
    dx, dy = x - cx, y - cy
    u = zoom * (np.cos(angle) * dx - np.sin(angle) * dy) - dx + 1.5
    v = zoom * (np.sin(angle) * dx + np.cos(angle) * dy) - dy - 0.75
    disc = (x - 0.35 * width) ** 2 + (y - 0.5 * height) ** 2 <= (height / 5) ** 2
    u[disc], v[disc] = -3.25, 2.5
    return np.stack([u, v], axis=-1).astype(np.float32)


def sample_pair(height=240, width=320, *, seed=0):
    """A synthetic colour frame pair with its exact ground-truth flow.

    ``frame1`` is a texture; ``frame0`` is ``frame1`` sampled at ``(x + u, y + v)`` (cubic
    spline), so ``frame0[y, x] = frame1[y + v, x + u]`` holds exactly for the returned flow.

    Parameters
    ----------
    height, width : int
        Frame size (at least 32 x 32).
    seed : int >= 0 or None
        Seed of the texture (None: a fresh one from the operating system, as
        ``np.random.default_rng(None)``).

    Returns
    -------
    frame0, frame1 : ndarray, (H, W, 3) uint8, RGB
    flow : ndarray, (H, W, 2) float32
        Ground truth, u then v (docs/conventions.md).

    Raises
    ------
    TypeError
        ``height``, ``width`` or ``seed`` not an integer.
    ValueError
        A size under 32 x 32, a negative ``seed``; :class:`OutputTooLarge` (a MemoryError
        too) for a size whose working arrays (about 100 bytes a pixel) exceed the machine's
        memory.

    Examples
    --------
    >>> frame0, frame1, flow = sample_pair()
    >>> frame0.shape, flow.shape
    ((240, 320, 3), (240, 320, 2))
    """
    from ._validate import check_int, check_output_size

    height, width = check_int("height", height), check_int("width", width)
    if height < 32 or width < 32:
        raise ValueError(f"height, width: expected at least 32 x 32, got {height} x {width}")
    if seed is not None:  # NumPy's SeedSequence errors named no parameter
        seed = check_int("seed", seed, min_value=0)
    # the float64 texture, positions and spline samples: about 100 bytes a pixel
    check_output_size("height, width", height * width, 100, "pixels")
    rng = np.random.default_rng(seed)
    frame1 = _texture(height, width, rng)
    flow = sample_flow(height, width)
    y, x = np.mgrid[0:height, 0:width]
    frame0 = _spline_sample(frame1, y + flow[..., 1], x + flow[..., 0])
    to_uint8 = lambda image: np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)  # noqa: E731
    return to_uint8(frame0), to_uint8(frame1), flow
