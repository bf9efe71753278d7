"""Built-in sample data: a synthetic frame pair with exact ground-truth flow.

The pair is generated on the fly (no files, no licence questions): a multi-scale colour
texture seen by a camera that rotates and zooms slightly, with a disc that moves against
the background, so the flow is smooth almost everywhere and discontinuous at the disc's rim.
"""

import numpy as np


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


def sample_flow(height=240, width=320):
    """The ground-truth flow of :func:`sample_pair`, ``(H, W, 2)`` float32.

    Background: rotation by 1 degree and zoom by 2 % about the centre plus a (1.5, -0.75) px
    shift; inside a disc of radius H/5 left of centre: a translation of (-3.25, 2.5) px.
    """
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
    seed : int
        Seed of the texture.

    Returns
    -------
    frame0, frame1 : ndarray, (H, W, 3) uint8, RGB
    flow : ndarray, (H, W, 2) float32
        Ground truth, u then v (docs/conventions.md).

    Examples
    --------
    >>> frame0, frame1, flow = sample_pair()
    >>> frame0.shape, flow.shape
    ((240, 320, 3), (240, 320, 2))
    """
    from scipy import ndimage

    if height < 32 or width < 32:
        raise ValueError(f"height, width: expected at least 32 x 32, got {height} x {width}")
    rng = np.random.default_rng(seed)
    frame1 = _texture(height, width, rng)
    flow = sample_flow(height, width)
    y, x = np.mgrid[0:height, 0:width]
    coords = [y + flow[..., 1], x + flow[..., 0]]
    frame0 = np.stack([ndimage.map_coordinates(frame1[..., c], coords, order=3, mode="reflect")
                       for c in range(3)], axis=-1)
    to_uint8 = lambda image: np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)  # noqa: E731
    return to_uint8(frame0), to_uint8(frame1), flow
