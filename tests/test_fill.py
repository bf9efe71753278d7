"""flowkit.fill_holes: known pixels untouched, analytic fills, cv2.inpaint parity, bad input."""

import cv2
import numpy as np
import pytest

from flowkit import fill_holes, splat


def _ramp(h=48, w=64):
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float64)
    return 0.5 * gx + 0.25 * gy  # range 0 .. 43.25


def _mask(h=48, w=64, seed=0):
    rng = np.random.default_rng(seed)
    mask = rng.random((h, w)) < 0.1  # scattered pixels
    mask[10:30, 20:40] = True  # and a 20 x 20 hole
    return mask


@pytest.mark.parametrize("method, dtype", [
    ("pyramid", d) for d in (np.uint8, np.uint16, np.float16, np.float32, np.float64)] + [
    (m, d) for m in ("telea", "ns") for d in (np.uint8, np.uint16, np.float32)])
def test_pixels_outside_the_mask_are_unchanged(method, dtype):
    rng = np.random.default_rng(1)
    top = {np.uint8: 255, np.uint16: 65535}.get(dtype, 1)
    channels = 3 if (method == "pyramid" or dtype == np.uint8) else 1
    image = (rng.random((24, 31, channels)) * top).astype(dtype)
    mask = _mask(24, 31, seed=2)
    if dtype in (np.float16, np.float32, np.float64):
        image[mask] = np.nan  # ignored under the mask
    got = fill_holes(image if channels > 1 else image[..., 0], mask, method=method)
    got = got.reshape(image.shape)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got[~mask], image[~mask])
    assert np.isfinite(got.astype(np.float64)).all()


def test_pyramid_fills_a_ramp_close_to_the_ramp():
    """Push-pull is smooth, not linear: on a ramp of range 43.25 (slope 0.5 / px) with a
    20 x 20 hole and 10 % scattered holes the fill is within 3 (7 % of the range) everywhere
    and within 1 on average (measured 2.4 and 0.7); the scattered holes, mostly single
    pixels, within 0.75 (1.5 px of slope; measured 0.6, at the image border)."""
    image = _ramp()
    mask = _mask()
    got = fill_holes(image, mask)
    error = np.abs(got - image)[mask]
    assert error.max() < 3.0 and error.mean() < 1.0
    scattered = mask.copy()
    scattered[8:32, 18:42] = False
    assert np.abs(got - image)[scattered].max() < 0.75
    # float32 agrees with float64 (same arithmetic, rounding only)
    np.testing.assert_allclose(fill_holes(image.astype(np.float32), mask), got, atol=1e-4)


def push_pull_reference(image, holes):
    """The module docstring of kernels/fill.py in float64 NumPy, for one (H, W, C) image: pull
    (3 x 3 tent (1/2, 1, 1/2)**2 weighted by confidence, confidence min(sum, 1)) to 1 x 1, then
    push (``alpha * own + (1 - alpha) * coarser``, the coarser level bilinear at (y/2, x/2))."""
    val = np.where(holes[..., None], 0.0, image.astype(np.float64))
    alpha = (~holes).astype(np.float64)
    levels = [(val, alpha)]
    while val.shape[:2] != (1, 1):
        fh, fw = val.shape[:2]
        ch, cw = (fh + 1) // 2, (fw + 1) // 2
        num = np.zeros((ch, cw, val.shape[2]))
        total = np.zeros((ch, cw))
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                ys, xs = 2 * np.arange(ch) + dy, 2 * np.arange(cw) + dx
                iy = np.nonzero((ys >= 0) & (ys < fh))[0]
                ix = np.nonzero((xs >= 0) & (xs < fw))[0]
                weight = (0.5 if dy else 1.0) * (0.5 if dx else 1.0)
                a = weight * alpha[np.ix_(ys[iy], xs[ix])]
                total[np.ix_(iy, ix)] += a
                num[np.ix_(iy, ix)] += a[..., None] * val[np.ix_(ys[iy], xs[ix])]
        val = np.where(total[..., None] > 0, num / np.where(total > 0, total, 1)[..., None], 0.0)
        alpha = np.minimum(total, 1.0)
        levels.append((val, alpha))
    coarse = levels[-1][0]
    for val, alpha in levels[-2::-1]:
        (fh, fw), (ch, cw) = val.shape[:2], coarse.shape[:2]
        i0, j0 = np.arange(fh) // 2, np.arange(fw) // 2
        i1 = np.minimum(i0 + np.arange(fh) % 2, ch - 1)
        j1 = np.minimum(j0 + np.arange(fw) % 2, cw - 1)
        up = 0.25 * (coarse[np.ix_(i0, j0)] + coarse[np.ix_(i0, j1)] + coarse[np.ix_(i1, j0)]
                     + coarse[np.ix_(i1, j1)])
        a = alpha[..., None]
        coarse = np.where(a >= 1, val, a * val + (1 - a) * up)
    return coarse


def test_pyramid_matches_a_float64_reference():
    """fill_holes's push-pull against the float64 NumPy statement above on odd sizes (levels
    of odd size, partly known coarse pixels, a large hole): float64 within 1e-12 (measured:
    equal), float32 within 1e-6 (values in [0, 1]); integer images are the float32 fill
    rounded (ties to even), within one level of the rounded reference. The ramp tests'
    tolerances let a box pull filter or a push that ignores partial confidence through."""
    rng = np.random.default_rng(7)
    image = rng.random((23, 37, 2))
    holes = rng.random((23, 37)) < 0.3
    holes[5:17, 9:30] = True
    expected = push_pull_reference(image, holes)
    np.testing.assert_allclose(fill_holes(image, holes), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fill_holes(image.astype(np.float32), holes), expected, rtol=0,
                               atol=1e-6)
    for dtype, top in ((np.uint8, 255), (np.uint16, 65535)):
        whole = np.rint(image * top).astype(dtype)
        got = fill_holes(whole, holes)
        np.testing.assert_array_equal(got, np.rint(fill_holes(whole.astype(np.float32), holes)))
        rounded = np.rint(push_pull_reference(whole, holes))
        assert np.abs(got.astype(np.int64) - rounded).max() <= 1


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_pyramid_keeps_a_constant_image_constant(dtype):
    """Convex combinations of one value: exact for integers, to 1 ulp for floats."""
    image = np.full((37, 45, 3), 113 if dtype == np.uint8 else 0.3, dtype)
    got = fill_holes(image, _mask(37, 45, seed=3))
    np.testing.assert_allclose(got, image, rtol=2e-7 if dtype == np.float32 else 1e-15)
    if dtype == np.uint8:
        np.testing.assert_array_equal(got, image)


def test_pyramid_batches_layouts_and_a_single_known_pixel():
    rng = np.random.default_rng(4)
    images = rng.random((3, 20, 22, 2)).astype(np.float32)
    masks = rng.random((3, 20, 22)) < 0.5
    each = np.stack([fill_holes(images[i], masks[i]) for i in range(3)])
    np.testing.assert_array_equal(fill_holes(images, masks), each)
    shared = np.stack([fill_holes(images[i], masks[0]) for i in range(3)])
    np.testing.assert_array_equal(fill_holes(images, masks[0]), shared)
    # (N, H, W) with an (N, H, W) mask is a gray batch (W <= 4 would read as (H, W, C) with a
    # per-channel mask, which is an error: see the next test)
    gray = rng.random((3, 6, 5))
    gmask = rng.random((3, 6, 5)) < 0.5
    gmask[:, 0, 0] = False
    np.testing.assert_array_equal(fill_holes(gray, gmask)[1], fill_holes(gray[1], gmask[1]))
    # one known pixel fills the whole image with its value
    mask = np.ones((9, 13), bool)
    mask[4, 7] = False
    image = np.zeros((9, 13))
    image[4, 7] = 0.625
    np.testing.assert_allclose(fill_holes(image, mask), 0.625, rtol=1e-15)


def test_pyramid_fills_what_splat_leaves():
    """The pipeline it is made for: splat's holes (NaN, weight 0) filled from the rest."""
    rng = np.random.default_rng(5)
    image = cv2.GaussianBlur(rng.random((40, 50)), (0, 0), 3).astype(np.float32)
    flow = np.zeros((40, 50, 2), np.float32)
    flow[10:25, 10:25, 0] = 6.0  # a block moves right and leaves a hole behind
    warped, weight = splat(image, flow, return_weight=True)
    holes = weight == 0
    assert holes.any() and np.isnan(warped[holes]).all()
    filled = fill_holes(warped, holes)
    assert np.isfinite(filled).all()
    np.testing.assert_array_equal(filled[~holes], warped[~holes])
    assert filled[holes].min() >= image.min() and filled[holes].max() <= image.max()


@pytest.mark.parametrize("method, flag", [("telea", cv2.INPAINT_TELEA), ("ns", cv2.INPAINT_NS)])
@pytest.mark.parametrize("dtype, channels", [(np.uint8, 3), (np.uint8, 1), (np.uint16, 1),
                                             (np.float32, 1)])
def test_inpaint_methods_are_cv2_inpaint(method, flag, dtype, channels):
    rng = np.random.default_rng(6)
    shape = (30, 41) if channels == 1 else (30, 41, 3)
    image = cv2.GaussianBlur(rng.random(shape) * 200, (0, 0), 2).astype(dtype)
    mask = _mask(30, 41, seed=7)
    # OpenCV reads some values under the mask; fill_holes gives it zeros there, so what is
    # under the mask (here 1e30 or NaN in float images) cannot change the result
    zeroed = np.where(mask if channels == 1 else mask[..., None], 0, image).astype(dtype)
    expected = cv2.inpaint(zeroed, mask.astype(np.uint8), 3, flag)
    np.testing.assert_array_equal(fill_holes(image, mask, method=method), expected)
    batch = np.stack([image, image[::-1].copy()])
    np.testing.assert_array_equal(fill_holes(batch, mask, method=method)[0], expected)
    if image.dtype.kind == "f":
        for value in (1e30, np.nan):
            hidden = np.where(mask, np.float32(value), image)
            np.testing.assert_array_equal(fill_holes(hidden, mask, method=method), expected)


IMG = np.zeros((6, 7), np.float32)
MASK = np.zeros((6, 7), bool)
MASK[2, 3] = True
BAD_INPUT = [
    (dict(method="biharmonic"), ValueError,
     r"method: expected one of 'pyramid', 'telea', 'ns', got 'biharmonic'"),
    (dict(mask=np.zeros((6, 7), np.uint8)), TypeError, r"mask: expected dtype bool, got uint8"),
    (dict(mask=np.zeros((7, 6), bool)), ValueError,
     r"mask: expected shape \(H, W\) or \(N, H, W\) matching image of shape \(6, 7\), got \(7, 6\)"),
    (dict(mask=np.zeros((2, 6, 7), bool)), ValueError, r"mask: expected shape .*got \(2, 6, 7\)"),
    (dict(mask=np.zeros((6, 7, 1), bool)), ValueError, r"mask: expected shape .*got \(6, 7, 1\)"),
    (dict(mask=np.ones((6, 7), bool)), ValueError,
     r"mask: expected at least one False \(known\) pixel in every image, got all True \(image 0\)"),
    (dict(image=np.zeros((2, 6, 7)), mask=np.stack([MASK, np.ones((6, 7), bool)])), ValueError,
     r"got all True \(image 1\)"),
    (dict(image=np.full((6, 7), np.inf)), ValueError,
     r"image: expected finite values outside the mask, got NaN or infinity"),
    (dict(image=np.zeros((6, 7), bool)), TypeError, r"image: expected dtype uint8, .* got bool"),
    (dict(method="telea"), TypeError,
     r"image: expected dtype uint8, uint16 or float32 with method='telea' .*got float64"),
    (dict(image=np.zeros((6, 7, 4), np.uint8), method="ns"), ValueError,
     r"image: expected 1 or 3 channel\(s\) for uint8 with method='ns' \(cv2.inpaint\), got 4"),
    (dict(image=np.zeros((6, 7, 3), np.float32), method="telea"), ValueError,
     r"image: expected 1 channel\(s\) for float32 .*got 3"),
    (dict(mask=None), TypeError, r"mask: expected an array, got None"),
]


@pytest.mark.parametrize("kwargs, error, match", BAD_INPUT)
def test_bad_input(kwargs, error, match, monkeypatch):
    from flowkit.kernels import fill as kernel

    def no_kernel(*args):
        raise AssertionError("kernel ran")

    monkeypatch.setattr(kernel, "fill_cpu", no_kernel)
    args = dict(image=IMG.astype(np.float64), mask=MASK) | kwargs
    with pytest.raises(error, match=match):
        fill_holes(args.pop("image"), args.pop("mask"), **args)


def test_a_mask_with_the_channels_of_the_image_is_an_error_not_a_gray_batch():
    # np.isnan(splatted) of an RGB image has the image's shape; read by the layout rule it
    # would make the image a batch of 60 gray images of 80 x 3 and mix the colour channels
    image = np.zeros((60, 80, 3), np.float32)
    mask = np.zeros((60, 80, 3), bool)
    with pytest.raises(ValueError, match=r"mask: expected shape \(60, 80\), one mask for all channels of "
                                         r"the \(H, W, C\) image \(60, 80, 3\), got \(60, 80, 3\) "
                                         r"\(use mask.any\(axis=-1\)\)"):
        fill_holes(image, mask)


def test_fill_float32_is_fill_holes_without_its_checks():
    # predict's advected field is filled by this helper: the same push-pull, bit for bit, on
    # an (H, W, C) float32 image whose holes hold NaN (as splat leaves them)
    from flowkit._fill import fill_float32

    rng = np.random.default_rng(4)
    image = rng.random((40, 56, 3)).astype(np.float32)
    holes = rng.random((40, 56)) < 0.2
    holes[10:20, 15:30] = True
    image[holes] = np.nan
    np.testing.assert_array_equal(fill_float32(image, holes), fill_holes(image, holes))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
def test_pyramid_in_row_bands_equals_whole_images(dtype, monkeypatch):
    """Fewer images than threads are filled level by level in row bands (1, 2, 3 and 7 of
    them here); the values are those of the one-thread fill, bit for bit, and of a batch
    (whole images per band)."""
    from flowkit.kernels import fill, parallel

    rng = np.random.default_rng(5)
    images = (rng.random((2, 45, 67, 3)) * 200).astype(dtype)
    masks = rng.random((2, 45, 67)) < 0.3
    masks[:, 20:35, 10:50] = True  # a hole that coarse levels fill
    expected = fill_holes(images, masks)  # two images, one thread each (or one for both)
    monkeypatch.setattr(fill, "SERIAL_PIXELS", 0)
    for bands in (1, 2, 3, 7):
        with monkeypatch.context() as patch:
            patch.setattr(parallel.numba, "get_num_threads", lambda bands=bands: bands)
            for n in range(2):
                np.testing.assert_array_equal(fill_holes(images[n], masks[n]), expected[n])
