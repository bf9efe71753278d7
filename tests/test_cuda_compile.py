"""Every CUDA kernel compiles for real GPUs, checked without one; float64 stays where meant.

The other CUDA tests run the kernels in Numba's simulator, which executes them as Python and
so never types or compiles them for the device: code the simulator accepts (a NumPy call a
GPU does not have, a type that does not unify) could still fail on a real GPU. Here the
public API's CUDA path runs in the simulator over every input kind with each kernel launch
recorded with its argument types, and a child interpreter compiles every recorded kernel and
signature to cubins for sm_90a (H100/H200) and sm_89 (a consumer GPU) with NVVM and ptxas
from PyPI wheels, no driver and no GPU (tests/cuda_compile.py). Without those libraries the
compile tests skip, saying so.

A kernel no call launches fails the coverage test: a new kernel needs a call in
``cuda_compile.calls``.
"""

import os

import pytest

import cuda_compile


@pytest.fixture(scope="module")
def launches():
    if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
        pytest.skip("records launches in the CUDA simulator (NUMBA_ENABLE_CUDASIM=1); on a GPU "
                    "the other CUDA tests compile every kernel for real")
    pytest.importorskip("numba.cuda")
    with pytest.MonkeyPatch.context() as monkeypatch:
        return cuda_compile.record_launches(monkeypatch)


@pytest.fixture(scope="module")
def compiled(launches):
    result = cuda_compile.compile_launches(launches)
    if "unavailable" in result:
        pytest.skip("NVIDIA's NVVM/NVRTC/ptxas are not installed (pip install "
                    f"nvidia-cuda-nvcc-cu12 nvidia-cuda-nvrtc-cu12): {result['unavailable']}")
    return result


def test_every_kernel_is_launched(launches):
    missing = cuda_compile.cuda_kernels() - {(module, name) for module, name, _ in launches}
    assert not missing, f"no call in cuda_compile.calls launches {sorted(missing)}: add one"


def test_every_kernel_compiles_to_cubins(compiled):
    assert not compiled["failures"], "\n".join(compiled["failures"])


def test_float64_only_where_pinned(launches, compiled):
    """Each kernel's ``.f64`` PTX count over its launches from calls without float64 input is
    the one pinned in ``cuda_compile.F64_EXPECTED`` (0 for all others): an accidental float64
    promotion (an int times a float32, a Python float literal or argument, int / int) fails
    here. benchmarks/ptx_f64.py prints the table."""
    wrong = []
    for (module, name), (f32, _) in cuda_compile.f64_by_kernel(launches, compiled).items():
        expected = cuda_compile.expected_f64(module, name)
        if f32 is not None and f32 != expected:
            wrong.append(f"{module}.{name}: {f32} .f64 instructions, pinned {expected}")
    assert not wrong, "\n".join(sorted(wrong))
