"""Variational flow refinement (Brox et al. 2004, as OpenCV's ``VariationalRefinement``)."""

import numpy as np

from ._backend import is_device_array
from .kernels import variational


def refine_gray(image0, image1, flow, alpha, delta, gamma, iterations, sor_iterations, omega):
    """OpenCV's ``VariationalRefinement::calc`` on one gray pair, for estimators that refine
    their own flow (no validation: the caller's arrays are already what the kernels take).

    Parameters
    ----------
    image0, image1 : array (H, W) float32, C-contiguous
        Gray frames on OpenCV's scale (0..255 for the full range), NumPy or device arrays.
    flow : array (H, W, 2) float32, C-contiguous
        The flow to refine (not modified), on the same device as the frames.
    alpha, delta, gamma, iterations, sor_iterations, omega
        As :func:`variational_refinement`.

    Returns
    -------
    array (H, W, 2) float32
        The refined flow, a new array on the frames' device.
    """
    h, w = image0.shape
    args = (image0.reshape(h, w, 1), image1.reshape(h, w, 1), flow, alpha, delta, gamma,
            iterations, sor_iterations, omega)
    if is_device_array(image0):
        from .kernels import variational_cuda

        return variational_cuda.refine_cuda(*args)
    return variational.refine_cpu(*args)
