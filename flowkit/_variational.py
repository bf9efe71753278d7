"""Variational flow refinement (Brox et al. 2004, as OpenCV's ``VariationalRefinement``)."""

import numpy as np

from ._backend import (CUDA, array_module, as_array, device_array, is_device_array,
                       select_device, to_device, to_host, to_output)
from ._intensity import prepare_frames
from ._validate import (check_bool, check_finite, check_float, check_flow, check_frame_pair,
                        check_int, check_known_flow, check_not_scalar, read_as_batch)
from .kernels import variational

OPENCV_SCALE = 255.0  # the intensity scale OpenCV's constants (zeta, epsilon, delta, gamma) assume
# the most passes over the image, iterations * (sor_iterations + 1), a refinement takes: about
# 1e12, weeks of work on the smallest image. The CPU kernel counts its passes in 64 bits, and
# past about 1.4e17 the count wrapped around: 2**62 iterations returned the flow unrefined at
# once, (1, 2**62) a flow of 80 px refined from zero (OpenCV takes any int: 2**31 - 1 each)
MAX_PASSES = 2**40


def variational_refinement(frame0, frame1, flow, *, alpha=20.0, delta=5.0, gamma=10.0,
                           iterations=5, sor_iterations=5, omega=1.6, epsilon=0.001,
                           normalize=True, device=None):
    """Refine a dense flow by minimising the variational energy of Brox et al. (2004).

    The method and every default are OpenCV's ``cv2.VariationalRefinement`` (the last step of
    each scale of its DIS flow): frame1 is warped once by ``flow`` (bilinear, edges
    replicated) and the increment ``dW`` minimises, with the robust penaliser
    ``Psi(s) = sqrt(s + epsilon**2)``, the sum over pixels of::

        delta * Psi(brightness-constancy residual**2, normalised)
        + gamma * Psi(gradient-constancy residuals**2, normalised)
        + alpha * Psi(|grad(flow + dW)|**2) + 0.01 * |dW|**2

    (residuals linearised around ``flow``; the exact terms are in ``kernels/variational.py``),
    by ``iterations`` fixed-point iterations, each freezing the robust weights and running
    ``sor_iterations`` red-black SOR sweeps. No iteration increases this energy. Any flow can
    be refined: Farneback's, Lucas-Kanade's, a learned model's. The refinement corrects
    sub-pixel and small errors (about a pixel); it does not recover large motions the input
    flow missed.

    Parameters
    ----------
    frame0, frame1 : array, (H, W), (H, W, C), (N, H, W) or (N, H, W, C)
        The two frames (or batches of pairs), uint8, uint16, float16, float32 or float64, the
        same shape, finite values. C is 1, 3 or 4: RGBA is read as RGB (alpha ignored); 2
        channels are a ``ValueError``. Colour frames are refined on the mean of their
        channels (any channel order; measured as accurate as BT.601 luminance and more
        accurate than per-channel data terms, docs/accuracy.md).
    flow : array, (H, W, 2) or (N, H, W, 2)
        The flow to refine, float32 or float64, known (finite, |component| < 1e9: no unknown
        marker), ``flow[..., 0] = u`` (x),
        ``flow[..., 1] = v`` (y), ``frame0[y, x] ~ frame1[y + v, x + u]``
        (docs/conventions.md). Not modified.
    alpha : float, default 20.0
        Smoothness weight (0 to 1e30, float32 arithmetic).
    delta : float, default 5.0
        Brightness (colour) constancy weight (0 to 1e30).
    gamma : float, default 10.0
        Gradient constancy weight (0 to 1e30).
    iterations : int, default 5
        Fixed-point iterations (>= 0; 0 returns the flow as float32).
    sor_iterations : int, default 5
        Red-black SOR sweeps per fixed-point iteration (>= 0). The time is proportional to
        ``iterations * (sor_iterations + 1)`` (the defaults: 30 passes over the image), which
        may be at most 2**40; on the CPU every pass runs in compiled code without returning
        to Python, so Ctrl-C (``KeyboardInterrupt``) takes effect only when the call ends.
    omega : float, default 1.6
        SOR relaxation factor, in (0, 2).
    epsilon : float, default 0.001
        The robust penaliser's epsilon, ``Psi(s) = sqrt(s + epsilon**2)``, in the data and
        smoothness terms: OpenCV's ``VariationalRefinement.setEpsilon`` (OpenCV 4.10+), the
        same default. Smaller values approach the L1 penaliser (sharper motion edges, more
        robust to outliers), larger ones a quadratic. It acts on the 0..255 intensity scale
        the kernels work on (as ``zeta = 0.1`` does), so a value means what it means to
        OpenCV for ``normalize=False`` uint8 frames and, with ``normalize=True``, on the
        stretched pair. In [1e-18, 1e18] (float32 arithmetic: ``epsilon**2`` stays a normal
        float32), and at least ``max(alpha, delta, gamma) / 1e33`` (so the robust weights,
        up to ``alpha / 2 / epsilon``, stay finite; any epsilon above 0.001 allows every
        weight up to 1e30).
    normalize : bool, default True
        Stretch the pair jointly to [0, 1] (``(I - min) / (max - min)`` over both frames and
        all channels, per pair for batches), so the result is the same for ``a * I + b`` with
        ``a > 0`` in any dtype. False: integers are read over their dtype maximum and floats
        as they are ([0, 1] expected). Either way the kernels see the 0..255 scale OpenCV's
        constants assume, so ``normalize=False`` with uint8 frames reproduces
        ``cv2.VariationalRefinement`` (docs/conventions.md, "Intensity").
    device : {None, "cpu", "cuda"}, optional
        Where to run; None follows the inputs (docs/conventions.md, "Backends").

    Returns
    -------
    flow : array, (H, W, 2) or (N, H, W, 2), float32
        The refined flow, NumPy for NumPy input, CuPy for GPU input.

    Raises
    ------
    TypeError
        Non-array frames or flow, unsupported dtypes, non-integer ``iterations`` /
        ``sor_iterations``, non-real ``alpha``/``delta``/``gamma``/``omega``/``epsilon``,
        non-bool ``normalize``, host and device inputs mixed.
    ValueError
        Wrong ndim, empty or differently shaped frames, 2 channels, NaN or infinite values in
        the frames or the flow, a flow whose shape is not the frames' ``(H, W)`` (or
        ``(N, H, W)``) plus 2, negative weights or iteration counts, ``iterations *
        (sor_iterations + 1)`` above 2**40, ``omega`` outside (0, 2),
        ``epsilon`` not finite or outside its range (above), an unknown ``device``.

    References
    ----------
    T. Brox, A. Bruhn, N. Papenberg and J. Weickert, "High accuracy optical flow estimation
    based on a theory for warping", ECCV 2004. OpenCV's ``VariationalRefinement``
    (modules/video/src/variational_refinement.cpp), whose results this function reproduces
    (docs/accuracy.md).

    Examples
    --------
    >>> import flowkit
    >>> frame0, frame1, truth = flowkit.sample_pair()
    >>> flow = flowkit.variational_refinement(frame0, frame1, flowkit.farneback(frame0, frame1))
    >>> flow.shape, flow.dtype
    ((240, 320, 2), dtype('float32'))
    """
    frame0, frame1, flow, batched, has_channels = _check(frame0, frame1, flow)
    alpha, delta, gamma = check_weights(alpha, delta, gamma)
    epsilon = check_epsilon(epsilon, alpha, delta, gamma)
    iterations, sor_iterations = check_counts(iterations, sor_iterations)
    omega = check_float("omega", omega, low=0.0, high=2.0, low_open=True, high_open=True)
    normalize = check_bool("normalize", normalize)
    backend = select_device(device, frame0=frame0, frame1=frame1, flow=flow)
    gpu_input = is_device_array(frame0)
    f0, f1, flows = _kernel_inputs(frame0, frame1, flow, normalize, batched, has_channels, backend)
    args = (alpha, delta, gamma, iterations, sor_iterations, omega, epsilon)
    if backend == CUDA:
        from numba import cuda

        from .kernels import variational_cuda

        out = cuda.device_array(flows.shape, np.float32)
        for i in range(flows.shape[0]):
            variational_cuda.refine_cuda(f0[i], f1[i], flows[i], *args, out=out[i])
    else:
        out = np.empty(flows.shape, np.float32)
        for i in range(flows.shape[0]):
            variational.refine_cpu(f0[i], f1[i], flows[i], *args, out=out[i])
    return to_output(out if batched else out[0], gpu_input)


def variational_energy(frame0, frame1, flow, *, reference=None, alpha=20.0, delta=5.0,
                       gamma=10.0, epsilon=variational.EPSILON, normalize=True):
    """The energy :func:`variational_refinement` minimises, evaluated at ``flow`` (float64).

    ``reference`` is the flow the refinement started from: frame1 is warped by it and the
    data terms are linearised around it, as the refinement does. None: ``flow`` itself (the
    data terms are then exact at ``flow``). So ``variational_energy(f0, f1, refined,
    reference=start) <= variational_energy(f0, f1, start)`` for ``refined =
    variational_refinement(f0, f1, start)``. Inputs as :func:`variational_refinement` (CPU
    only); returns a float, or an ``(N,)`` float64 array for batches.
    """
    frame0, frame1, flow, batched, has_channels = _check(frame0, frame1, flow)
    reference = flow if reference is None else reference
    reference = as_array(reference, "reference")
    check_flow("reference", reference, shape=flow.shape[:-1])
    check_finite("reference", reference)
    alpha, delta, gamma = check_weights(alpha, delta, gamma)
    epsilon = check_epsilon(epsilon, alpha, delta, gamma)
    normalize = check_bool("normalize", normalize)
    f0, f1, refs = _kernel_inputs(frame0, frame1, reference, normalize, batched, has_channels, "cpu")
    flows = np.asarray(to_host(flow), np.float64).reshape(refs.shape)
    zeta2, eps2 = variational.ZETA ** 2, epsilon ** 2
    energies = []
    for i in range(flows.shape[0]):
        ix, iy, iz, ixx, ixy, iyy, ixz, iyz = variational.derivatives_cpu(
            f0[i], f1[i], refs[i]).astype(np.float64)
        du = flows[i] - refs[i]
        u, v = du[..., 0], du[..., 1]
        r = iz + ix * u + iy * v
        rx = ixz + ixx * u + ixy * v
        ry = iyz + ixy * u + iyy * v
        data = (delta * np.sqrt(r * r / (ix * ix + iy * iy + zeta2) + eps2)
                + gamma * np.sqrt(rx * rx / (ixx * ixx + ixy * ixy + zeta2)
                                  + ry * ry / (iyy * iyy + ixy * ixy + zeta2) + eps2))
        grad_x = np.diff(flows[i], axis=1, append=flows[i][:, -1:])
        grad_y = np.diff(flows[i], axis=0, append=flows[i][-1:])
        smooth = alpha * np.sqrt((grad_x ** 2).sum(-1) + (grad_y ** 2).sum(-1) + eps2)
        energies.append(data.sum() + smooth.sum() + zeta2 * (du ** 2).sum())
    return np.array(energies) if batched else float(energies[0])


def refine_gray(image0, image1, flow, alpha, delta, gamma, iterations, sor_iterations, omega,
                epsilon=variational.EPSILON):
    """OpenCV's ``VariationalRefinement::calc`` on one gray pair, for estimators that refine
    their own flow (no validation: the caller's arrays are already what the kernels take).

    Parameters
    ----------
    image0, image1 : array (H, W) float32, C-contiguous
        Gray frames on OpenCV's scale (0..255 for the full range), NumPy or Numba device
        arrays (CuPy: ``numba.cuda.as_cuda_array`` first).
    flow : array (H, W, 2) float32, C-contiguous
        The flow to refine (not modified), on the same device as the frames.
    alpha, delta, gamma, iterations, sor_iterations, omega, epsilon
        As :func:`variational_refinement` (already checked).

    Returns
    -------
    array (H, W, 2) float32
        The refined flow, a new array on the frames' device.
    """
    args = (image0, image1, flow, alpha, delta, gamma, iterations, sor_iterations, omega,
            epsilon)
    if not isinstance(image0, np.ndarray):
        from .kernels import variational_cuda

        return variational_cuda.refine_cuda(*args)
    return variational.refine_cpu(*args)


def _check(frame0, frame1, flow):
    frame0, frame1, batched, has_channels = check_frame_pair(frame0, frame1)
    check_not_scalar("flow", flow)
    flow = as_array(flow, "flow")
    lead = tuple(frame0.shape[:3] if batched else frame0.shape[:2])
    check_flow("flow", flow, shape=lead, note=read_as_batch("frame0", frame0))
    check_known_flow("flow", flow)
    return frame0, frame1, flow, batched, has_channels


# the refinement's arithmetic is float32: alpha / 2 / epsilon, delta / 2 / epsilon / zeta**2
# and their sums over a pixel's edges must stay below float32's maximum (3.4e38); a weight of
# 1e38 gave a NaN flow (epsilon 0.001). So the weights are at most MAX_WEIGHT and, for any
# epsilon, at most MAX_WEIGHT * epsilon / 0.001 (check_epsilon): measured, weight / epsilon
# of 1e36 still gave finite flows on binary noise frames (0 or 255), 1e37 NaN
MAX_WEIGHT = 1e30
MAX_WEIGHT_PER_EPSILON = MAX_WEIGHT / variational.EPSILON
# epsilon**2 in float32 stays a normal number (no underflow to 0, no 0 / 0 on a flat flow;
# 1e-30 gave a NaN flow) and finite
MIN_EPSILON, MAX_EPSILON = 1e-18, 1e18


def check_weights(alpha, delta, gamma, prefix=""):
    """``alpha``, ``delta``, ``gamma`` (named ``prefix + name``): real, in [0, MAX_WEIGHT]."""
    return tuple(check_float(prefix + name, value, low=0.0, high=MAX_WEIGHT)
                 for name, value in (("alpha", alpha), ("delta", delta), ("gamma", gamma)))


def check_counts(iterations, sor_iterations, name="iterations", sor_name="sor_iterations"):
    """``iterations`` and ``sor_iterations``: integers >= 0 whose passes over the image,
    ``iterations * (sor_iterations + 1)``, are at most ``MAX_PASSES`` (the error names
    ``name``, and ``sor_name`` unless it is None: a count the caller fixed)."""
    iterations = check_int(name, iterations, min_value=0)
    sor_iterations = check_int(sor_name or "sor_iterations", sor_iterations, min_value=0)
    if iterations * (sor_iterations + 1) > MAX_PASSES:
        if sor_name is None:
            raise ValueError(f"{name}: expected an integer <= {MAX_PASSES // (sor_iterations + 1)}"
                             f" (2**40 passes of {sor_iterations} SOR sweeps and a linearisation"
                             f" each), got {iterations}")
        raise ValueError(f"{name}, {sor_name}: expected {name} * ({sor_name} + 1) <= 2**40 "
                         f"({MAX_PASSES}), got {iterations} * {sor_iterations + 1}")
    return iterations, sor_iterations


def check_epsilon(epsilon, alpha, delta, gamma, prefix=""):
    """``epsilon`` (named ``prefix + "epsilon"``): real, in [MIN_EPSILON, MAX_EPSILON] and at
    least ``max(alpha, delta, gamma) / MAX_WEIGHT_PER_EPSILON`` (the checked weights), so
    that the float32 robust weights stay finite."""
    name = prefix + "epsilon"
    epsilon = check_float(name, epsilon, low=MIN_EPSILON, high=MAX_EPSILON)
    largest = max(alpha, delta, gamma)
    if largest * variational.EPSILON > MAX_WEIGHT * epsilon:  # at 0.001: MAX_WEIGHT
        which = [prefix + n for n, v in (("alpha", alpha), ("delta", delta), ("gamma", gamma))
                 if v == largest][0]
        raise ValueError(f"{name}: expected at least {which} / {MAX_WEIGHT_PER_EPSILON:g} = "
                         f"{largest / MAX_WEIGHT_PER_EPSILON:g} (the float32 robust weights "
                         f"{which} / 2 / {name} must stay finite), got {epsilon}")
    return epsilon


def _kernel_inputs(frame0, frame1, flow, normalize, batched, has_channels, backend):
    """Gray frames ``(N, H, W)`` float32 on the 0..255 scale (colour: the mean of the channels)
    and flows ``(N, H, W, 2)`` float32, C-contiguous, on ``backend``."""
    prepared = prepare_frames((frame0, frame1), ("frame0", "frame1"), normalize=normalize,
                              batched=batched, has_channels=has_channels, integer_levels=True)
    xp = array_module(prepared.frames[0])[0]
    scale = np.float32(OPENCV_SCALE * prepared.gain)
    frames = []
    for f in prepared.frames:
        if has_channels:
            f = xp.mean(f, axis=-1, dtype=np.float32)
        frames.append(xp.ascontiguousarray(f if scale == 1 else f * scale)
                      .reshape((-1,) + f.shape[-2:]))
    shape = frames[0].shape + (2,)
    if backend == CUDA:
        f0, f1 = (to_device(f) for f in frames)
        return f0, f1, device_array(flow, np.float32, shape)
    f0, f1 = (to_host(f) for f in frames)
    flows = np.require(np.asarray(to_host(flow), np.float32).reshape(shape), requirements=("C", "W"))
    return f0, f1, flows
