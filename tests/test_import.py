"""``import flowkit`` is cheap and never pulls in a GPU stack.

Each check runs in a fresh interpreter (this test process has numba and maybe numba.cuda
loaded already) with NUMBA_ENABLE_CUDASIM removed from the environment, as a user would run.
numba-cuda installs a ``_numba_cuda_redirector`` module through a .pth file at interpreter
start; that module only redirects imports and is not ``numba.cuda``.
"""

import json
import os
import subprocess
import sys

import flowkit

GPU_MODULES = ("numba.cuda", "numba_cuda", "cupy", "torch")

# prints the GPU-stack modules that are loaded, as JSON
_LOADED = (
    "import json, sys; "
    f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {GPU_MODULES!r} "
    "or m == 'numba.cuda' or m.startswith('numba.cuda.'))))"
)


def run_python(code):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()


def test_import_is_fast_and_loads_no_gpu_stack():
    code = (
        "import time; start = time.perf_counter(); import flowkit; "
        "print(time.perf_counter() - start); " + _LOADED
    )
    seconds, loaded = run_python(code)
    # the lazy __init__ imports nothing heavy (not even numpy); 1 s leaves room for a busy machine
    assert float(seconds) < 1.0
    assert json.loads(loaded) == []


def test_every_public_name_resolves_without_numba_cuda():
    # touching a name imports its CPU module; CUDA kernels must stay unimported until used
    code = (
        "import json, flowkit\n"
        "missing = []\n"
        "for name in flowkit.__all__:\n"
        "    try:\n"
        "        getattr(flowkit, name)\n"
        "    except Exception as exc:\n"
        "        missing.append(f'{name}: {exc!r}')\n"
        "print(json.dumps(missing))\n" + _LOADED
    )
    missing, loaded = run_python(code)
    assert json.loads(missing) == []
    assert json.loads(loaded) == []


def test_public_names_are_listed():
    assert set(flowkit.__all__) == set(dir(flowkit))
    for name in ("read_flo", "write_flo", "read_kitti_flow", "write_kitti_flow", "iter_frames",
                 "VideoWriter", "flow_to_color", "metrics", "io", "video", "visualize"):
        assert name in flowkit.__all__
    for name in ("endpoint_error", "angular_error", "fl_all", "psnr", "ssim", "interpolation_error"):
        assert callable(getattr(flowkit.metrics, name))
    assert flowkit.io.read_flo is flowkit.read_flo
    # the documented return types of retime and batch are public names, as probe_video's
    # VideoInfo is in flowkit.video (RetimeReport was reachable only from flowkit._retime)
    from flowkit._batch import BatchReport
    from flowkit._retime import RetimeReport

    assert flowkit.RetimeReport is RetimeReport and flowkit.BatchReport is BatchReport
    assert {"RetimeReport", "BatchReport"} <= set(flowkit.__all__)
    # every public submodule lists its names, as io, video, metrics, visualize and models do
    # (flowkit.data had no __all__: its public names were sample_pair, sample_flow and np)
    for name in ("io", "video", "metrics", "visualize", "data"):
        module = getattr(flowkit, name)
        assert all(callable(getattr(module, n)) for n in module.__all__), name
    assert flowkit.data.__all__ == ["sample_pair", "sample_flow"]


def test_unknown_attribute():
    import pytest

    with pytest.raises(AttributeError, match=r"module 'flowkit' has no attribute 'nope'"):
        flowkit.nope  # noqa: B018
