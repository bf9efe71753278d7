"""kernels.inlining: an inlined helper's IR is copied with one scope per copy, not per block.

The saving is measured in benchmarks/cold_start.py (docs/benchmarks.md, "Cold start", sixth
round); here: the patch is active on the Numba this suite runs with, a copy of a kernel's IR
shares one new scope (a second copy another), code outside flowkit is copied as Numba does,
and the kernels that inline give the same results with and without it.
"""

from numba import njit
from numba.core import inline_closurecall
from numba.core.compiler import run_frontend

from flowkit.kernels import dis as kd
from cases import json_probes
from flowkit.kernels import inlining, jit  # importing jit installs the patch


def _copy_blocks(function_ir):
    """What ``InlineWorker.inline_ir``'s ``copy_ir`` does with the blocks."""
    return {label: inline_closurecall.copy.deepcopy(block)
            for label, block in function_ir.blocks.items()}


def test_installed_on_this_numba():
    assert jit.inlining is inlining
    # if a Numba release changes the copy it patches, install() declines and this fails
    assert inlining.INSTALLED
    assert isinstance(inline_closurecall.copy, inlining._CopyPerFunction)


def test_a_kernels_blocks_share_one_new_scope_per_copy():
    original = run_frontend(kd.descend.py_func)
    assert len(original.blocks) > 3
    first, second = _copy_blocks(original), _copy_blocks(original)
    scopes = {id(block.scope) for block in first.values()}
    assert len(scopes) == 1 and id(original.blocks[0].scope) not in scopes
    assert {id(block.scope) for block in second.values()}.isdisjoint(scopes)
    # the copies hold the same statements as the original, in new objects
    for label, block in original.blocks.items():
        assert [str(s) for s in first[label].body] == [str(s) for s in block.body]
        assert first[label].body[0] is not block.body[0]


def test_code_outside_flowkit_is_copied_as_numba_does():
    def helper(x):
        y = 0.0
        for i in range(3):
            if x > i:
                y += x
        return y

    function_ir = run_frontend(helper)
    copied = _copy_blocks(function_ir)
    assert len({id(block.scope) for block in copied.values()}) == len(copied)  # one per block

    inlined = njit(inline="always")(helper)

    @njit
    def caller(x):
        return inlined(x) + 1.0

    assert caller(2.5) == 8.5


# Kernels that inline helpers in Numba IR (the DIS search and densification, its variational
# refinement, dense Lucas-Kanade), in a fresh process with an empty cache: their outputs' bytes.
PROBE = """
import json, sys
import numpy as np, flowkit
from flowkit.kernels import inlining
rng = np.random.default_rng(0)
a = (rng.random((40, 52, 3)) * 255).astype(np.uint8)
b = np.roll(a, (1, 2), axis=(0, 1))
gray0, gray1 = a[..., 0], b[..., 0]
outs = [flowkit.dis(a, b), flowkit.dis(gray0, gray1, preset="fast"),
        flowkit.lucas_kanade(gray0, gray1, gaussian=True)]
print(json.dumps({"installed": inlining.INSTALLED,
                  "outs": [o.tobytes().hex() for o in outs]}))
"""


def test_results_do_not_change(tmp_path):
    patched, plain = json_probes(PROBE, (tmp_path / "patched", {}),
                                 (tmp_path / "plain", {"FLOWKIT_INLINE_COPY": "off"}))
    assert patched["installed"] and not plain["installed"]
    assert patched["outs"] == plain["outs"]  # bit for bit
