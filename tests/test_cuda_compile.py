"""Every CUDA kernel compiles for a real GPU, checked without one.

The other CUDA tests run the kernels in Numba's simulator, which executes them as Python and
so never types or compiles them for the device: code the simulator accepts (a NumPy call a
GPU does not have, a type that does not unify) could still fail on a real GPU. Here the tiny
``device="cuda"`` calls of ``CALLS`` run in the simulator while every kernel launch is recorded
with its argument types; then a subprocess with the simulator off compiles each recorded
kernel and signature to PTX (``numba.cuda.compile_ptx``, compute capability 8.0, the
@njit helpers the kernels call included). That needs NVIDIA's NVVM and NVRTC libraries, which
the test extra installs from PyPI (``nvidia-cuda-nvcc-cu12``, ``nvidia-cuda-nvrtc-cu12``), but
no driver and no GPU. Without them the test skips, saying so.

A kernel no call launches fails the coverage test: a new kernel needs a call in ``CALLS``.
"""

import importlib
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import flowkit

KERNEL_MODULES = sorted(f"flowkit.kernels.{p.stem}"
                        for p in (Path(__file__).parents[1] / "kernels").glob("*_cuda.py"))
COMPUTE_CAPABILITY = (8, 0)  # Ampere; PTX for 8.0 also runs on Hopper


def _inputs():
    rng = np.random.default_rng(0)
    gray = (rng.random((96, 128)) * 255).astype(np.uint8)
    gray1 = np.roll(gray, 1, axis=1)
    rgb = (rng.random((96, 128, 3)) * 255).astype(np.uint8)
    flow = rng.normal(0, 1.5, (96, 128, 2)).astype(np.float32)
    points = rng.uniform(20, 70, (5, 2)).astype(np.float32)
    return gray, gray1, rgb, flow, points


def _calls(gray, gray1, rgb, flow, points):
    """(label, call) pairs: each public function's CUDA path with the options that select a
    different kernel or argument type."""
    fk = flowkit
    f32 = rgb.astype(np.float32)
    return [
        ("farneback gray", lambda: fk.farneback(gray, gray1, device="cuda")),
        ("farneback RGB, Gaussian window, initial flow, confidence",
         lambda: fk.farneback(rgb, rgb, init_flow=flow, gaussian=True, return_confidence=True,
                              device="cuda")),
        ("lucas_kanade", lambda: fk.lucas_kanade(gray, gray1, device="cuda")),
        ("lucas_kanade Gaussian window, prefilter, initial flow", lambda: fk.lucas_kanade(
            rgb, rgb, gaussian=True, prefilter=True, init_flow=flow, device="cuda")),
        ("lucas_kanade_sparse, backward check", lambda: fk.lucas_kanade_sparse(
            gray, gray1, points, backward_check=True, device="cuda")),
        ("good_features", lambda: fk.good_features(gray, device="cuda")),
        ("warp uint8 RGB linear", lambda: fk.warp(rgb, flow, device="cuda")),
        ("warp float32 cubic", lambda: fk.warp(f32, flow, interpolation="cubic", device="cuda")),
        ("warp float64 nearest",
         lambda: fk.warp(gray.astype(np.float64), flow, interpolation="nearest", device="cuda")),
        ("smooth_flow gaussian", lambda: fk.smooth_flow(flow, method="gaussian", device="cuda")),
        ("smooth_flow median", lambda: fk.smooth_flow(flow, method="median", device="cuda")),
        ("smooth_flow bilateral",
         lambda: fk.smooth_flow(flow, method="bilateral", guide=rgb, device="cuda")),
        ("flow_to_color", lambda: fk.flow_to_color(flow, device="cuda")),
        ("splat uint8 average", lambda: fk.splat(rgb, flow, device="cuda")),
        ("splat float32 softmax", lambda: fk.splat(
            f32, flow, mode="softmax", metric=-f32[..., 0], device="cuda")),
        ("extrapolate", lambda: fk.extrapolate(rgb, flow, 2, device="cuda")),
        ("variational_refinement", lambda: fk.variational_refinement(
            gray, gray1, flow, device="cuda")),
        ("dis gray medium (refinement, propagation)",
         lambda: fk.dis(gray, gray1, device="cuda")),
        ("dis RGB, initial flow, accurate without refinement or propagation",
         lambda: fk.dis(rgb, rgb, preset="accurate", init_flow=flow,
                        variational_refinement_iterations=0, use_spatial_propagation=False,
                        device="cuda")),
        ("dis RGB fast without mean normalisation",
         lambda: fk.dis(rgb, rgb, preset="fast", use_mean_normalization=False, device="cuda")),
    ]


def _record_launches(monkeypatch):
    """Patch the simulator's kernel call to record ``(module, name, argument types)``
    instead of running the kernel (simulated threads are slow, and only the types matter
    here): the drivers then go on with uninitialised outputs, which is fine as long as no
    host code sizes an array from them."""
    import numba
    from numba.cuda.simulator import kernel as sim

    launches = set()
    call = sim.FakeCUDAKernel.__call__

    def recording(self, *args):
        if not self._device and sim._kernel_context is None:
            types = tuple(numba.typeof(getattr(a, "_ary", a)) for a in args)
            launches.add((self.fn.__module__, self.fn.__name__, types))
            return None
        return call(self, *args)

    monkeypatch.setattr(sim.FakeCUDAKernel, "__call__", recording)
    return launches


def _kernels():
    """(module, name) of every ``@cuda.jit`` kernel (device functions left out)."""
    from numba.cuda.simulator.kernel import FakeCUDAKernel

    found = set()
    for module in KERNEL_MODULES:
        for name, value in vars(importlib.import_module(module)).items():
            if isinstance(value, FakeCUDAKernel) and not value._device:
                found.add((module, name))
    return found


CHILD = """
import importlib, json, pickle, sys, types
from numba import cuda
from numba.cuda import dispatcher

# Device functions (the @njit helpers a kernel calls) are compiled for the current device's
# compute capability; without a GPU, name the target instead of asking the driver.
dispatcher.get_current_device = lambda: types.SimpleNamespace(compute_capability={cc})

try:
    cuda.compile_ptx(lambda a: None, "void(float32[:])", cc={cc})
except Exception as exc:
    print(json.dumps({{"unavailable": f"{{type(exc).__name__}}: {{str(exc).splitlines()[0]}}"}}))
    sys.exit()
failures = []
for module, name, sig in pickle.load(sys.stdin.buffer):
    kernel = getattr(importlib.import_module(module), name)
    try:
        cuda.compile_ptx(kernel.py_func, sig, cc={cc},
                         fastmath=kernel.targetoptions.get("fastmath", False))
    except Exception as exc:
        failures.append(f"{{module}}.{{name}}{{sig}}: {{type(exc).__name__}}: {{exc}}")
print(json.dumps({{"failures": failures}}))
"""


@pytest.fixture(scope="module")
def launches():
    if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
        pytest.skip("records launches in the CUDA simulator (NUMBA_ENABLE_CUDASIM=1); on a GPU "
                    "the other CUDA tests compile every kernel for real")
    pytest.importorskip("numba.cuda")
    with pytest.MonkeyPatch.context() as monkeypatch:
        recorded = _record_launches(monkeypatch)
        for _, call in _calls(*_inputs()):
            call()
    return recorded


def test_every_kernel_is_launched(launches):
    missing = _kernels() - {(module, name) for module, name, _ in launches}
    assert not missing, f"no call in CALLS launches {sorted(missing)}: add one"


def test_every_kernel_compiles_to_ptx(launches):
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="0")
    done = subprocess.run([sys.executable, "-c", CHILD.format(cc=COMPUTE_CAPABILITY)],
                          input=pickle.dumps(sorted(launches, key=str)), env=env,
                          capture_output=True, timeout=1200)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    result = json.loads(done.stdout.decode().strip().splitlines()[-1])
    if "unavailable" in result:
        pytest.skip("NVIDIA's NVVM/NVRTC libraries are not installed (pip install "
                    f"nvidia-cuda-nvcc-cu12 nvidia-cuda-nvrtc-cu12): {result['unavailable']}")
    assert not result["failures"], "\n".join(result["failures"])
