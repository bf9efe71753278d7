"""Compile every CUDA kernel for real GPUs without one (tests/test_cuda_compile.py,
benchmarks/ptx_f64.py).

1. :func:`record_launches` runs the public API's CUDA path (``device="cuda"``) in Numba's
   simulator over the input kinds of :func:`calls` (every dtype, gray and colour, single
   frames and batches, the options that change a kernel's argument types) with the kernel
   launches replaced by a recorder of ``(module, kernel, argument types)``: only host code
   runs, so it is quick, and that host code meets Numba device-array semantics
   (tests/device_semantics.py).
2. :func:`compile_launches` hands the launches to a child interpreter with the simulator off
   (this file run as a script). There each kernel and signature is typed and lowered once
   (``numba.cuda.dispatcher._Kernel``, what a launch builds), NVVM turns it into PTX for every
   target, and ``ptxas`` assembles each PTX into a cubin, in parallel with the next NVVM run.
   numba-cuda asks the driver for the compute capability, so without a GPU the child names
   the target instead (the dispatcher's ``get_current_device`` and the code library's default
   compute capability). NVVM, NVRTC and ``ptxas`` come from the test extra's
   ``nvidia-cuda-nvcc-cu12`` / ``nvidia-cuda-nvrtc-cu12`` wheels; no driver, no GPU.

The child also counts the ``.f64`` PTX instructions of each kernel and signature (float64
arithmetic, conversions, loads and stores: 1/64 of the float32 rate on consumer GPUs, 1/2 on
the data-centre ones), for the report of benchmarks/ptx_f64.py and the test that pins them.
"""

import importlib
import json
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
KERNEL_MODULES = sorted(f"flowkit.kernels.{p.stem}" for p in (ROOT / "kernels").glob("*_cuda.py"))
# (major, minor, suffix): sm_90a is what numba-cuda builds for a cc 9.0 device (H100, H200;
# codegen._ensure_cc), sm_89 a consumer GPU (Ada: RTX 40xx, L4, L40) with 1/64-rate float64
TARGETS = ((9, 0, "a"), (8, 9, ""))
F64_TARGET = (8, 9, "")  # whose PTX the .f64 counts are taken from


# .f64 PTX instructions (sm_89) of each kernel's launches from calls without float64 input (the
# most over its signatures), where not 0; launches made only for float64 input (a float64
# image, flow or guide) are float64 by the caller's choice and not pinned.
# tests/test_cuda_compile.py fails when a count moves: an accidental promotion (an int times a
# float32, a Python float literal or argument, int / int) raises one; a fix lowers one (then
# update it here). Why each is there: at the code and in docs/conventions.md, "float64 on the GPU".
F64_EXPECTED = {
    # deliberate
    "warp_cuda._warp_kernel": 143,         # the interp blend in float64 (exact weights; interp.py)
    "lk_dense_cuda._k_warp": 45,           # warp_pixel: the same blend
    "variational_cuda._k_warp": 44,        # the same blend
    "lk_dense_cuda._k_downsample": 33,     # interp.linear_at's blend at scipy's float64 positions
    "lk_dense_cuda._k_window_solve": 26,   # solve2x2: scikit-image's |det| < 1e-14 needs float64
    "advect_cuda._trace_kernel": 101,      # extrapolate: positions accumulated in float64 (pysteps)
    "farneback_cuda._column_kernel": 42,   # float64 window sums, as OpenCV's vsum
    "farneback_cuda._solve_kernel": 191,   # the same sums and the 2x2 solve
    "flow_color_cuda._color_kernel": 118,  # float64 transcription of Middlebury's C++
    "flow_color_cuda._max_radius_kernel": 54,
    "lk_sparse_cuda._track_kernel": 27,    # hessian_check: statuses at the threshold as the CPU's;
                                           # its eigenvalue to float32 (get_min_eigenvals' err)
    # not deliberate, left for now (causes named where traced; docs/conventions.md)
    "dis_cuda._k_descend": 22,             # EPS = 0.001 (float64) compares, other mixed math
    "dis_cuda._k_rows": 13,
    "dis_cuda._k_cols": 13,
    "dis_cuda._k_densify": 8,              # the w - 1.0 - EPS clamp
    "farneback_cuda._matrices_kernel": 9,  # not traced
    "splat_cuda._finish_kernel": 76,       # the float64 int_max argument (rounding to integers)
    "splat_cuda._splat_kernel": 36,        # footprint() compares with 1e9 in float64
}


def expected_f64(module, name):
    """The pinned ``.f64`` count of a kernel's float32 launches (see ``F64_EXPECTED``)."""
    return F64_EXPECTED.get(f"{module.rsplit('.', 1)[-1]}.{name}", 0)


def f64_by_kernel(launches, compiled):
    """``{(module, name): [f32, f64]}``: the largest ``.f64`` count of a kernel's launches from
    calls without float64 input (None if it has none) and from float64 input only (0 if none).

    ``launches`` from :func:`record_launches`, ``compiled`` from :func:`compile_launches`."""
    float32 = {(module, name, str(types)): f for (module, name, types), f in launches.items()}
    rows = {}
    for module, name, signature, count in compiled["f64"]:
        row = rows.setdefault((module, name), [None, 0])
        if float32[module, name, signature]:
            row[0] = max(row[0] or 0, count)
        else:
            row[1] = max(row[1], count)
    return rows


def calls():
    """(label, call) pairs: the CUDA path of every public function over the input kinds and
    options that give a kernel different argument types."""
    import flowkit as fk

    rng = np.random.default_rng(0)
    h, w = 72, 96
    base = rng.random((2, h, w, 3))
    flow32 = rng.normal(0, 1.5, (h, w, 2)).astype(np.float32)
    points = rng.uniform(20, 50, (5, 2)).astype(np.float32)

    def image(dtype, layout, frame=0):
        """``layout``: "gray" (H, W), "one" (H, W, 1), "rgb", "rgba", or batches of them
        ("batch-gray", "batch-rgb")."""
        a = base[frame]
        a = {"gray": a[..., 0], "one": a[..., :1], "rgb": a,
             "rgba": np.concatenate([a, a[..., :1]], axis=-1)}[layout.removeprefix("batch-")]
        if layout.startswith("batch-"):
            a = np.stack([a, a[::-1]])
        if np.dtype(dtype).kind == "u":
            return (a * np.iinfo(dtype).max).astype(dtype)
        return a.astype(dtype)

    def flow(dtype=np.float32, batch=False):
        f = flow32.astype(dtype)
        return np.stack([f, -f]) if batch else f

    dtypes = (np.uint8, np.uint16, np.float16, np.float32, np.float64)
    layouts = ("gray", "one", "rgb", "rgba", "batch-gray", "batch-rgb")
    out = []
    # estimators: frames of every dtype and layout are float32 for the kernels (prepare_frames),
    # except sparse LK's integer levels with normalize=False
    for dtype in dtypes:
        for layout in layouts:
            pair = image(dtype, layout, 0), image(dtype, layout, 1)
            batch = layout.startswith("batch")
            for normalize in (True, False):
                tag = f"{np.dtype(dtype).name} {layout} normalize={normalize}"
                out += [
                    (f"farneback {tag}", lambda p=pair, n=normalize: fk.farneback(
                        *p, normalize=n, device="cuda")),
                    (f"lucas_kanade {tag}", lambda p=pair, n=normalize: fk.lucas_kanade(
                        *p, normalize=n, device="cuda")),
                    (f"dis {tag}", lambda p=pair, n=normalize: fk.dis(
                        *p, normalize=n, device="cuda")),
                    (f"variational_refinement {tag}", lambda p=pair, n=normalize, b=batch:
                     fk.variational_refinement(*p, flow(batch=b), normalize=n, device="cuda")),
                ]
                if not batch:
                    out += [
                        (f"lucas_kanade_sparse {tag}", lambda p=pair, n=normalize:
                         fk.lucas_kanade_sparse(*p, points, normalize=n, device="cuda")),
                        (f"good_features {tag}", lambda p=pair, n=normalize:
                         fk.good_features(p[0], normalize=n, device="cuda")),
                    ]
    gray = image(np.uint8, "gray", 0), image(np.uint8, "gray", 1)
    rgb = image(np.uint8, "rgb", 0), image(np.uint8, "rgb", 1)
    out.append(("good_features gradient_size=5",  # the Sobel-aperture tensor kernel
                lambda: fk.good_features(gray[0], gradient_size=5, device="cuda")))
    for init in (np.float16, np.float32, np.float64):
        out += [
            (f"farneback {init.__name__} initial flow, Gaussian window, confidence",
             lambda i=init: fk.farneback(*rgb, init_flow=flow(i), gaussian=True,
                                         return_confidence=True, device="cuda")),
            (f"farneback poly_n=7 {init.__name__} batch initial flow",
             lambda i=init: fk.farneback(np.stack(gray), np.stack(gray[::-1]), poly_n=7,
                                         poly_sigma=1.5, init_flow=flow(i, True), device="cuda")),
            (f"lucas_kanade {init.__name__} initial flow, Gaussian window, prefilter",
             lambda i=init: fk.lucas_kanade(*rgb, gaussian=True, prefilter=True,
                                            init_flow=flow(i), device="cuda")),
            (f"dis {init.__name__} initial flow accurate, no refinement or propagation",
             lambda i=init: fk.dis(*rgb, preset="accurate", init_flow=flow(i),
                                   variational_refinement_iterations=0,
                                   use_spatial_propagation=False, device="cuda")),
            (f"variational_refinement {init.__name__} flow",
             lambda i=init: fk.variational_refinement(*gray, flow(i), device="cuda")),
        ]
    for preset in ("ultrafast", "fast", "medium", "accurate"):
        for mean_norm in (True, False):
            out.append((f"dis {preset} mean normalisation {mean_norm}",
                        lambda p=preset, m=mean_norm: fk.dis(
                            *rgb, preset=p, use_mean_normalization=m, device="cuda")))
    for points_dtype in (np.float32, np.float64):
        p = points.astype(points_dtype)
        out += [
            (f"lucas_kanade_sparse {points_dtype.__name__} points, initial points, backward check",
             lambda p=p: fk.lucas_kanade_sparse(*gray, p, init_points=p + 1, backward_check=True,
                                                device="cuda")),
            (f"lucas_kanade_sparse uint16 parity {points_dtype.__name__}, backward check",
             lambda p=p: fk.lucas_kanade_sparse(*(image(np.uint16, "rgb", i) for i in (0, 1)), p,
                                                backward_check=True, normalize=False,
                                                device="cuda")),
        ]
    # image operators: the image dtype reaches the kernels (float16 as float32)
    for dtype in dtypes:
        for layout in ("gray", "one", "rgb", "batch-rgb"):
            img = image(dtype, layout)
            tag = f"{np.dtype(dtype).name} {layout}"
            for fdt in (np.float32, np.float64):
                for fbatch in (False, True):
                    f = flow(fdt, fbatch)
                    if layout.startswith("batch") != fbatch and fbatch:
                        continue  # a flow batch needs an image batch (or a single image)
                    ftag = f"{tag} {np.dtype(fdt).name} flow{' batch' if fbatch else ''}"
                    for interp in ("linear", "cubic", "nearest"):
                        out.append((f"warp {ftag} {interp}", lambda i=img, f=f, m=interp: fk.warp(
                            i, f, interpolation=m, border="constant", return_mask=True,
                            device="cuda")))
                    for mode in ("sum", "average", "softmax"):
                        metric = None if mode != "softmax" else rng.random(f.shape[:-1]).astype(fdt)
                        out.append((f"splat {ftag} {mode}", lambda i=img, f=f, m=mode, q=metric:
                                    fk.splat(i, f, mode=m, metric=q, return_weight=True,
                                             device="cuda")))
                    out += [
                        (f"extrapolate {ftag}", lambda i=img, f=f: fk.extrapolate(
                            i, f, 2, return_mask=True, return_displacement=True, device="cuda")),
                        (f"extrapolate forward {ftag}", lambda i=img, f=f: fk.extrapolate(
                            i, f, 2, scheme="forward", device="cuda")),
                    ]
    for fdt in (np.float16, np.float32, np.float64):
        for fbatch in (False, True):
            f = flow(fdt, fbatch)
            tag = f"{np.dtype(fdt).name}{' batch' if fbatch else ''}"
            out += [
                (f"flow_to_color {tag}", lambda f=f: fk.flow_to_color(f, device="cuda")),
                (f"flow_to_color {tag} max_flow", lambda f=f: fk.flow_to_color(
                    f, max_flow=3.0, device="cuda")),
                (f"smooth_flow gaussian {tag}", lambda f=f: fk.smooth_flow(
                    f, method="gaussian", device="cuda")),
                (f"smooth_flow median {tag}", lambda f=f: fk.smooth_flow(
                    f, method="median", device="cuda")),
                (f"smooth_flow bilateral {tag}", lambda f=f: fk.smooth_flow(
                    f, method="bilateral", device="cuda")),
            ]
            for dtype in dtypes:
                guide = image(dtype, "batch-rgb" if fbatch else "rgb")
                out.append((f"smooth_flow bilateral {tag} {np.dtype(dtype).name} guide",
                            lambda f=f, g=guide: fk.smooth_flow(f, method="bilateral", guide=g,
                                                                device="cuda")))
    return out


def record_launches(monkeypatch):
    """Run :func:`calls` with every kernel launch recorded instead of run; return a dict
    ``{(module, kernel name, argument types): float32}``, ``float32`` telling whether a call
    without float64 input (data, flow, points) made that launch.

    The drivers go on with outputs that no kernel wrote (``cuda.device_array`` gives zeros
    here, so host code reading them sees no NaN). A call that raises is an error of the host
    code on the GPU path.
    """
    import numba
    from numba import cuda
    from numba.cuda.simulator import kernel as sim

    from device_semantics import check_kernel_arguments

    launches = {}
    call = sim.FakeCUDAKernel.__call__
    label = ""

    def recording(self, *args):
        if not self._device and sim._kernel_context is None:
            check_kernel_arguments(self.fn.__name__, args)
            types = tuple(numba.typeof(getattr(a, "_ary", a)) for a in args)
            key = (self.fn.__module__, self.fn.__name__, types)
            launches[key] = launches.get(key, False) or "float64" not in label
            return None
        return call(self, *args)

    monkeypatch.setattr(sim.FakeCUDAKernel, "__call__", recording)
    zeros = cuda.device_array  # outputs read by host code (hole masks, ...) are all zeros

    def device_zeros(*args, **kwargs):
        array = zeros(*args, **kwargs)
        array._ary[...] = 0
        return array

    monkeypatch.setattr(cuda, "device_array", device_zeros)
    failures = []
    with np.errstate(all="ignore"):  # zero outputs: 0 / 0
        for label, run in calls():
            try:
                run()
            except Exception as exc:  # noqa: BLE001 - collected and reported together
                failures.append(f"{label}: {type(exc).__name__}: {exc}")
    if failures:
        raise AssertionError("host code on the CUDA path failed:\n" + "\n".join(failures))
    return launches


def cuda_kernels():
    """(module, name) of every ``@cuda.jit`` kernel (device functions left out), simulator."""
    from numba.cuda.simulator.kernel import FakeCUDAKernel

    found = set()
    for module in KERNEL_MODULES:
        for name, value in vars(importlib.import_module(module)).items():
            if isinstance(value, FakeCUDAKernel) and not value._device:
                found.add((module, name))
    return found


def compile_launches(launches, timeout=1200):
    """Compile ``launches`` in child interpreters, one per CPU core (at most 4), each taking
    every n-th launch (see the module docstring).

    Returns
    -------
    dict
        ``{"unavailable": reason}`` when NVVM, NVRTC or ptxas are missing, else
        ``{"failures": [str], "f64": [[module, name, signature, count]], "seconds": float}``
        (``seconds``: the slowest child's).
    """
    import tempfile

    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="0")
    ordered = sorted(launches, key=str)
    n = max(1, min(4, os.cpu_count() or 1, len(ordered)))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        children = []
        for i in range(n):
            path = Path(tmp) / f"launches{i}.pickle"
            path.write_bytes(pickle.dumps(ordered[i::n]))
            children.append(subprocess.Popen([sys.executable, __file__, str(path)],
                                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                             env=env))
        for child in children:
            out, err = child.communicate(timeout=timeout)
            if child.returncode != 0:
                raise RuntimeError(err.decode()[-3000:])
            results.append(json.loads(out.decode().strip().splitlines()[-1]))
    for result in results:
        if "unavailable" in result:
            return result
    return {"failures": [f for r in results for f in r["failures"]],
            "f64": [c for r in results for c in r["f64"]],
            "seconds": max(r["seconds"] for r in results)}


_OPCODE = re.compile(r"^\s*(?:@!?%\w+\s+)?([a-z][\w.]*)")


def count_f64(ptx):
    """Number of PTX instructions whose opcode has a ``.f64`` part (arithmetic, conversions to
    or from float64, float64 loads and stores)."""
    count = 0
    for line in ptx.splitlines():
        match = _OPCODE.match(line.split("//")[0])
        if match and ".f64" in match.group(1):
            count += 1
    return count


def _ptxas():
    import nvidia.cuda_nvcc

    path = Path(list(nvidia.cuda_nvcc.__path__)[0]) / "bin" / "ptxas"
    if not path.exists():
        raise FileNotFoundError(f"ptxas not found at {path}")
    return str(path)


def _child(path):
    """Compile the launches pickled at ``path``; print one JSON line (``compile_launches``)."""
    import tempfile
    import time
    import types
    from concurrent.futures import ThreadPoolExecutor

    from numba.cuda import codegen, dispatcher

    launches = pickle.loads(Path(path).read_bytes())
    default = TARGETS[0]
    dispatcher.get_current_device = lambda: types.SimpleNamespace(compute_capability=default[:2])
    codegen.CUDACodeLibrary._ensure_cc = lambda self, cc: default if cc is None else cc
    start = time.perf_counter()
    try:
        ptxas = _ptxas()
        from numba import cuda

        cuda.compile_ptx(lambda a: None, "void(float32[:])", cc=default[:2])
    except Exception as exc:  # noqa: BLE001 - reported as the reason to skip
        print(json.dumps({"unavailable": f"{type(exc).__name__}: {str(exc).splitlines()[0]}"}))
        return
    failures, f64, jobs = [], [], []
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        for i, (module, name, sig) in enumerate(launches):
            what = f"{module}.{name}{sig}"
            dispatcher_ = getattr(importlib.import_module(module), name)
            try:
                kernel = dispatcher._Kernel(dispatcher_.py_func, sig, **dispatcher_.targetoptions)
                for cc in TARGETS:
                    ptx = kernel.library.get_asm_str(cc=cc)
                    if cc == F64_TARGET:
                        f64.append([module, name, str(sig), count_f64(ptx)])
                    arch = "sm_%d%d%s" % cc
                    path = Path(tmp) / f"{i}_{arch}.ptx"
                    path.write_text(ptx)
                    jobs.append((f"{what} {arch}", pool.submit(
                        subprocess.run, [ptxas, f"-arch={arch}", str(path), "-o",
                                         str(path.with_suffix(".cubin"))],
                        capture_output=True, text=True)))
            except Exception as exc:  # noqa: BLE001 - collected and reported together
                failures.append(f"{what}: {type(exc).__name__}: {exc}")
        for what, job in jobs:
            done = job.result()
            if done.returncode != 0:
                failures.append(f"{what}: ptxas: {done.stderr.strip()[-500:]}")
    print(json.dumps({"failures": failures, "f64": f64, "seconds": time.perf_counter() - start}))


if __name__ == "__main__":
    _child(sys.argv[1])
