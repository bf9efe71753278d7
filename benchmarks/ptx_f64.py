"""Report of float64 PTX instructions per CUDA kernel, no GPU needed.

Records every kernel launch of the public API's CUDA path in Numba's simulator and compiles
each kernel and signature with NVVM, as tests/test_cuda_compile.py does (tests/cuda_compile.py;
needs the test extra), then prints per kernel the ``.f64`` instruction count of its PTX for
sm_89 (float64 runs at 1/64 of the float32 rate on consumer GPUs): the largest over the
launches made by calls without float64 input, the count the tests pin (``F64_EXPECTED``), and the
largest over the launches made only for float64 input, whose float64 is the caller's choice.

    python benchmarks/ptx_f64.py
"""

import os
import sys
import time
from pathlib import Path

os.environ["NUMBA_ENABLE_CUDASIM"] = "1"  # before numba is imported
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main():
    import pytest

    import cuda_compile
    import device_semantics

    start = time.perf_counter()
    with pytest.MonkeyPatch.context() as monkeypatch:
        device_semantics.install(monkeypatch)
        launches = cuda_compile.record_launches(monkeypatch)
    recorded = time.perf_counter() - start
    result = cuda_compile.compile_launches(launches)
    if "unavailable" in result:
        sys.exit(f"NVVM/NVRTC/ptxas unavailable: {result['unavailable']}")
    rows = cuda_compile.f64_by_kernel(launches, result)
    print(f"{len(launches)} launches of {len(rows)} kernels recorded in {recorded:.1f} s, "
          f"compiled for {', '.join('sm_%d%d%s' % t for t in cuda_compile.TARGETS)} in "
          f"{result['seconds']:.1f} s; {len(result['failures'])} failures")
    print(f"{'kernel':48} {'f32 launches':>12} {'pinned':>6} {'f64 launches':>12}")
    for (module, name), (f32, f64) in sorted(rows.items()):
        pinned = cuda_compile.expected_f64(module, name)
        kernel = module.rsplit(".", 1)[-1] + "." + name
        print(f"{kernel:48} {'-' if f32 is None else f32:>12} {pinned:>6} {f64 if f64 else '-':>12}")
    for failure in result["failures"]:
        print("FAILED", failure)


if __name__ == "__main__":
    import argparse

    argparse.ArgumentParser(description=__doc__.split("\n\n")[1]).parse_args()
    main()
