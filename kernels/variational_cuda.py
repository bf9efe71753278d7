"""Variational flow refinement: CUDA kernels and driver, one thread per pixel, the per-pixel
math of ``kernels.variational`` (see its docstring for the method and the array layouts).

Per call: ``_k_warp`` and ``_k_derivatives`` once; per fixed-point iteration ``_k_weights``,
``_k_system`` and ``sor_iterations`` pairs of ``_k_sor`` launches (red, then black). Imported
only when the CUDA backend is used.
"""

import numpy as np
from numba import cuda

from .cuda_support import device_function, grid_for
from .jit import locked_saves
from .variational import (EPSILON, N_DERIVATIVES, data_system_px, derivatives_px,
                          epsilon_squared, half_weights, smoothness_system_px,
                          smoothness_weight_px, sor_px, warp_px)

_BLOCK = (32, 8, 1)

(_data_system_px, _derivatives_px, _smoothness_system_px, _smoothness_weight_px, _sor_px,
 _warp_px) = map(device_function, (data_system_px, derivatives_px, smoothness_system_px,
                                   smoothness_weight_px, sor_px, warp_px))


@locked_saves
@cuda.jit(cache=True)
def _k_warp(frame1, flow, warped):
    x, y = cuda.grid(2)
    if x < flow.shape[1] and y < flow.shape[0]:
        warped[y, x] = _warp_px(frame1, flow, y, x)


@locked_saves
@cuda.jit(cache=True)
def _k_derivatives(frame0, warped, deriv):
    x, y = cuda.grid(2)
    if x < frame0.shape[1] and y < frame0.shape[0]:
        ix, iy, iz, ixx, ixy, iyy, ixz, iyz = _derivatives_px(frame0, warped, y, x)
        deriv[0, y, x] = ix
        deriv[1, y, x] = iy
        deriv[2, y, x] = iz
        deriv[3, y, x] = ixx
        deriv[4, y, x] = ixy
        deriv[5, y, x] = iyy
        deriv[6, y, x] = ixz
        deriv[7, y, x] = iyz


@locked_saves
@cuda.jit(cache=True)
def _k_weights(flow, dflow, alpha2, eps2, weights):
    x, y = cuda.grid(2)
    if x < flow.shape[1] and y < flow.shape[0]:
        weights[y, x] = _smoothness_weight_px(flow, dflow, y, x, alpha2, eps2)


@locked_saves
@cuda.jit(cache=True)
def _k_system(deriv, flow, dflow, weights, delta2, gamma2, eps2, system):
    x, y = cuda.grid(2)
    if x < flow.shape[1] and y < flow.shape[0]:
        _data_system_px(deriv, dflow, y, x, delta2, gamma2, eps2, system)
        _smoothness_system_px(flow, weights, y, x, system)


@locked_saves
@cuda.jit(cache=True)
def _k_sor(system, weights, dflow, omega, colour):
    x, y = cuda.grid(2)
    if x < dflow.shape[1] and y < dflow.shape[0] and (x + y) % 2 == colour:
        _sor_px(system, weights, dflow, y, x, omega)


@locked_saves
@cuda.jit(cache=True)
def _k_add(flow, dflow, out):
    x, y = cuda.grid(2)
    if x < flow.shape[1] and y < flow.shape[0]:
        out[y, x, 0] = flow[y, x, 0] + dflow[y, x, 0]
        out[y, x, 1] = flow[y, x, 1] + dflow[y, x, 1]


def derivatives_cuda(frame0, frame1, flow):
    """Image derivatives ``(8, H, W)`` float32 on the device (``variational.derivatives_cpu``)."""
    h, w = frame0.shape
    grid = grid_for(_BLOCK, w, h)
    warped = cuda.device_array((h, w), np.float32)
    _k_warp[grid, _BLOCK](frame1, flow, warped)
    deriv = cuda.device_array((N_DERIVATIVES, h, w), np.float32)
    _k_derivatives[grid, _BLOCK](frame0, warped, deriv)
    return deriv


def refine_cuda(frame0, frame1, flow, alpha, delta, gamma, iterations, sor_iterations, omega,
                epsilon=EPSILON, out=None):
    """``variational.refine_cpu`` on C-contiguous float32 device arrays; into ``out`` (a device
    array (H, W, 2) float32) when given, else a new one, which it returns."""
    h, w = frame0.shape
    grid = grid_for(_BLOCK, w, h)
    deriv = derivatives_cuda(frame0, frame1, flow)
    alpha2, delta2, gamma2 = half_weights(alpha, delta, gamma)
    eps2 = epsilon_squared(epsilon)
    omega = np.float32(omega)
    dflow = cuda.to_device(np.zeros((h, w, 2), np.float32))
    weights = cuda.device_array((h, w), np.float32)
    system = cuda.device_array((5, h, w), np.float32)
    for _ in range(iterations):
        _k_weights[grid, _BLOCK](flow, dflow, alpha2, eps2, weights)
        _k_system[grid, _BLOCK](deriv, flow, dflow, weights, delta2, gamma2, eps2, system)
        for _ in range(sor_iterations):
            _k_sor[grid, _BLOCK](system, weights, dflow, omega, 0)
            _k_sor[grid, _BLOCK](system, weights, dflow, omega, 1)
    if out is None:
        out = cuda.device_array((h, w, 2), np.float32)
    _k_add[grid, _BLOCK](flow, dflow, out)
    return out
