"""Variational flow refinement: CUDA kernels and driver, one thread per pixel, the per-pixel
math of ``kernels.variational`` (see its docstring for the method and the array layouts).

Per call: ``_k_warp`` and ``_k_derivatives`` once; per
fixed-point iteration ``_k_weights``, ``_k_system`` and ``sor_iterations`` pairs of
``_k_sor`` launches (red, then black). Imported only when the CUDA backend is used.
"""

import numpy as np
from numba import cuda

from .cuda_support import device_function, grid_for
from .variational import (N_DERIVATIVES, data_px, derivatives_px, half_weights, smoothness_px,
                          smoothness_weight_px, sor_px, warp_px)

_BLOCK = (32, 8, 1)

_derivatives_px = device_function(derivatives_px)
_smoothness_weight_px = device_function(smoothness_weight_px)
_sor_px = device_function(sor_px)
_smoothness_px = device_function(smoothness_px)
_data_px = device_function(data_px)
_warp_px = device_function(warp_px)


@cuda.jit(cache=True)
def _k_warp(frame1, flow, warped):
    x, y, c = cuda.grid(3)
    channels, h, w = frame1.shape
    if x < w and y < h and c < channels:
        warped[c, y, x] = _warp_px(frame1, flow, y, x, c)


@cuda.jit(cache=True)
def _k_derivatives(frame0, warped, deriv):
    x, y, c = cuda.grid(3)
    channels, h, w = frame0.shape
    if x < w and y < h and c < channels:
        ix, iy, iz, ixx, ixy, iyy, ixz, iyz = _derivatives_px(frame0, warped, y, x, c)
        deriv[c, 0, y, x] = ix
        deriv[c, 1, y, x] = iy
        deriv[c, 2, y, x] = iz
        deriv[c, 3, y, x] = ixx
        deriv[c, 4, y, x] = ixy
        deriv[c, 5, y, x] = iyy
        deriv[c, 6, y, x] = ixz
        deriv[c, 7, y, x] = iyz


@cuda.jit(cache=True)
def _k_weights(flow, dflow, alpha2, weights):
    x, y = cuda.grid(2)
    if x < flow.shape[1] and y < flow.shape[0]:
        weights[y, x] = _smoothness_weight_px(flow, dflow, y, x, alpha2)


@cuda.jit(cache=True)
def _k_system(deriv, flow, dflow, weights, delta2, gamma2, system):
    """The CPU's ``_system_band`` for one pixel (the same sums in the same order)."""
    x, y = cuda.grid(2)
    if x < flow.shape[1] and y < flow.shape[0]:
        a11, a12, a22, b1, b2 = _data_px(deriv, dflow, y, x, 0, delta2, gamma2)
        for c in range(1, deriv.shape[0]):
            t11, t12, t22, t1, t2 = _data_px(deriv, dflow, y, x, c, delta2, gamma2)
            a11 += t11
            a12 += t12
            a22 += t22
            b1 += t1
            b2 += t2
        diag, s1, s2 = _smoothness_px(flow, weights, y, x)
        system[0, y, x] = a11 + diag
        system[1, y, x] = a12
        system[2, y, x] = a22 + diag
        system[3, y, x] = b1 + s1
        system[4, y, x] = b2 + s2


@cuda.jit(cache=True)
def _k_sor(system, weights, dflow, omega, colour):
    x, y = cuda.grid(2)
    if x < dflow.shape[1] and y < dflow.shape[0] and (x + y) % 2 == colour:
        _sor_px(system, weights, dflow, y, x, omega)


@cuda.jit(cache=True)
def _k_add(flow, dflow, out):
    x, y = cuda.grid(2)
    if x < flow.shape[1] and y < flow.shape[0]:
        out[y, x, 0] = flow[y, x, 0] + dflow[y, x, 0]
        out[y, x, 1] = flow[y, x, 1] + dflow[y, x, 1]


def derivatives_cuda(frame0, frame1, flow):
    """Image derivatives ``(C, 8, H, W)`` float32 on the device (``variational.derivatives_cpu``)."""
    channels, h, w = frame0.shape
    grid = grid_for(_BLOCK, w, h, channels)
    warped = cuda.device_array(frame1.shape, np.float32)
    _k_warp[grid, _BLOCK](frame1, flow, warped)
    deriv = cuda.device_array((channels, N_DERIVATIVES, h, w), np.float32)
    _k_derivatives[grid, _BLOCK](frame0, warped, deriv)
    return deriv


def refine_cuda(frame0, frame1, flow, alpha, delta, gamma, iterations, sor_iterations, omega,
                out=None):
    """``variational.refine_cpu`` on C-contiguous float32 device arrays; into ``out`` (a device
    array (H, W, 2) float32) when given, else a new one, which it returns."""
    channels, h, w = frame0.shape
    grid = grid_for(_BLOCK, w, h)
    deriv = derivatives_cuda(frame0, frame1, flow)
    alpha2, delta2, gamma2 = half_weights(alpha, delta, gamma, channels)
    omega = np.float32(omega)
    dflow = cuda.to_device(np.zeros((h, w, 2), np.float32))
    weights = cuda.device_array((h, w), np.float32)
    system = cuda.device_array((5, h, w), np.float32)
    for _ in range(iterations):
        _k_weights[grid, _BLOCK](flow, dflow, alpha2, weights)
        _k_system[grid, _BLOCK](deriv, flow, dflow, weights, delta2, gamma2, system)
        for _ in range(sor_iterations):
            _k_sor[grid, _BLOCK](system, weights, dflow, omega, 0)
            _k_sor[grid, _BLOCK](system, weights, dflow, omega, 1)
    if out is None:
        out = cuda.device_array((h, w, 2), np.float32)
    _k_add[grid, _BLOCK](flow, dflow, out)
    return out
