#!/usr/bin/env bash
# The GPU checks in one run, for a session whose task is lent a `device` machine (an NVIDIA
# GPU machine whose image holds Python 3.12, NumPy, Numba, numba-cuda, CuPy, OpenCV, torch,
# pytest and its plugins, but not PyAV or Dask, and that cannot download anything).
#
#   benchmarks/gpu_check.sh prepare   here, once: the missing wheels into .whl/ (git ignores it)
#   benchmarks/gpu_check.sh run       on the device machine: the `run` tool's command, with
#                                     carry [".whl"] and timeout_s 600
#
# `run` writes versions.txt, bench_gpu.txt (benchmarks/bench_gpu.py: the GPU numbers of issues
# 8 and 9, with the CPU's beside them) and pytest_gpu.txt (the whole suite with
# NUMBA_ENABLE_CUDASIM=0: every CUDA test on the GPU; the tests that need ../shared/data skip,
# it does not travel) under $OUT. Each step has its own time limit, so that the numbers come
# back even if the suite runs long. Record the numbers, with the device named, in
# docs/benchmarks.md ("GPU").
set -uo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
prepare)
    grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d .whl \
        av==18.1.0 dask==2026.8.0 distributed==2026.8.0 partd locket tblib zict tornado
    du -sh .whl
    ;;
run)
    out=${OUT:-gpu-out}
    mkdir -p "$out"
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    # flowkit from this tree without installing it: flowkit.kernels is the top-level kernels/
    [ -e flowkit/kernels ] || ln -s ../kernels flowkit/kernels
    export PYTHONPATH=/tmp/site:$PWD NUMBA_CACHE_DIR=/tmp/numba-gpu NUMBA_ENABLE_CUDASIM=0 \
        PYTHONUNBUFFERED=1
    { nvidia-smi -L; python3 -m pip list 2>/dev/null \
        | grep -i -E '^(numba|numba-cuda|llvmlite|numpy|cupy|cupy-cuda[0-9x]+|av|torch|opencv)' ; } \
        | tee "$out/versions.txt"
    timeout 240 python3 benchmarks/bench_gpu.py --cpu 2>&1 | tee "$out/bench_gpu.txt"
    timeout 300 python3 -m pytest -q -p no:cacheprovider -n 16 --timeout 120 tests 2>&1 \
        | tee "$out/pytest_gpu.txt" | tail -40
    ;;
*)
    echo "usage: $0 prepare|run" >&2
    exit 2
    ;;
esac
