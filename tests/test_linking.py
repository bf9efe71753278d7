"""kernels.linking: kernels compiled only as callees are kept as LLVM IR for their callers.

The saving itself is measured in benchmarks/cold_start.py (docs/benchmarks.md); here: the
patch is active on the Numba this suite runs with, callees carry no machine code and no
cache entry, a callee called later from Python compiles for real, code outside flowkit is
untouched, and results do not change.
"""

import os
import subprocess
import sys

from numba import njit

from cases import json_probes
from flowkit.kernels import jit, linking  # importing jit installs the patch

# One warp of a uint8 image in a fresh process with an empty cache: which overloads of the
# warp kernels are callee libraries, which cache entries exist, and the output's bytes.
PROBE = """
import json, os, sys
import numpy as np, flowkit
from flowkit.kernels import linking, warp as w
image = (np.arange(48 * 64) % 251).astype(np.uint8).reshape(48, 64)
flow = np.stack(np.meshgrid(np.linspace(-3, 3, 64), np.linspace(2, -2, 48)), -1).astype(np.float32)
out = flowkit.warp(image, flow)
kinds = {d.py_func.__name__: [linking._is_callee_library(c.library) for c in d.overloads.values()]
         for d in (w.saturate_round, w.warp_pixel, w._warp_cpu_shared)}
cached = sorted(os.path.basename(f) for _, _, fs in os.walk(os.environ["NUMBA_CACHE_DIR"])
                for f in fs if f.endswith(".nbi"))
hits = sum(w._warp_cpu_shared.stats.cache_hits.values())
# a callee called from Python afterwards (here with the types the warp used) compiles for real
rounded = [w.saturate_round(v, 255.0) for v in (2.5, 3.5, -3.0, 300.7)]
after = [linking._is_callee_library(c.library) for c in w.saturate_round.overloads.values()]
print(json.dumps({"installed": linking.INSTALLED, "kinds": kinds, "cached": cached,
                  "hits": hits, "out": out.tolist(), "rounded": rounded, "after": after}))
"""


def _probes(*runs):
    return json_probes(PROBE, *runs)


def test_installed_on_this_numba():
    assert jit.linking is linking
    # if a Numba release moves the internals it patches, install() declines and this fails
    assert linking.INSTALLED


def test_callees_have_no_machine_code_or_cache_entry_and_results_do_not_change(tmp_path):
    linked, plain = _probes((tmp_path / "linked", {}),
                            (tmp_path / "plain", {"FLOWKIT_LINK_CALLEES": "Off"}))
    assert linked["installed"]
    assert linked["kinds"] == {"saturate_round": [True], "warp_pixel": [True],
                               "_warp_cpu_shared": [False]}
    names = " ".join(linked["cached"])
    assert "_warp_cpu_shared" in names
    assert "saturate_round" not in names and "warp_pixel" not in names
    assert linked["hits"] == 0
    assert linked["rounded"] == [2.0, 4.0, 0.0, 255.0]  # ties to even, saturated
    assert linked["after"] == [False]

    (again,) = _probes((tmp_path / "linked", {}))  # a new process on that cache: the driver loads
    assert again["hits"] == 1 and again["kinds"]["warp_pixel"] == []
    assert again["out"] == linked["out"]

    assert not plain["installed"]
    assert plain["kinds"]["warp_pixel"] == [False]
    assert plain["out"] == linked["out"]  # bit for bit


def test_a_callee_found_in_the_cache_is_loaded_as_usual(tmp_path):
    # a process that calls the helper from Python caches its complete overload; a later
    # process compiling a caller then loads that entry for the callee instead of compiling it
    code = ("from flowkit.kernels import warp as w; import flowkit.kernels.linking as l; "
            "assert l.INSTALLED; print(w.saturate_round(2.5, 255.0))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path)))
    assert done.returncode == 0 and done.stdout.strip() == "2.0", done.stderr
    probe, fresh = _probes((tmp_path, {}), (tmp_path / "fresh", {}))
    assert probe["kinds"]["saturate_round"] == [False]  # from the cache, complete
    assert probe["kinds"]["warp_pixel"] == [True]
    assert probe["out"] == fresh["out"]


def test_code_outside_flowkit_is_untouched():
    @njit
    def inner(x):
        return 2 * x + 1

    @njit
    def outer(x):
        return inner(x) - 1

    assert outer(3.0) == 6.0
    (cres,) = inner.overloads.values()
    assert not linking._is_callee_library(cres.library)
    assert inner(3.0) == 7.0
