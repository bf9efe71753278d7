"""One copy of a callee's scope per inlined call: a Numba compile-time saving.

A helper marked ``inline="always"`` is inlined in Numba IR at each call site: Numba runs the
callee's untyped passes and then copies the callee's IR twice (``InlineWorker.inline_ir``'s
``copy_ir``), one ``copy.deepcopy`` per block. Each of those deep copies starts with an empty
memo, and every variable holds the function's scope, which holds every variable: so each block
copies the whole scope again, and a helper with many blocks (a loop over candidates, an
unrolled patch step) costs blocks x variables. flowkit inlines its per-patch and per-pixel
helpers this way (the DIS search, the variational refinement, dense Lucas-Kanade), and these
copies took about a tenth of their kernels' first call (``dis`` 0.6 s of 6.4 s CPU, dense
Lucas-Kanade 0.5 s; docs/benchmarks.md, "Cold start", sixth round).

``install()`` gives ``copy_ir`` one memo per copied function of ``flowkit.kernels`` (a block
whose source file lies in this folder; other code is copied as before): consecutive blocks of
one scope share it, so the scope and its variables are copied once and every block of the copy
refers to that one copy, as the blocks of the original all refer to one scope. A new memo
starts when a block of another scope arrives, or a block already copied in the current memo
arrives again (the same callee copied for a second call site). ``inline_ir`` then moves the
copied blocks into the caller's scope, as before: the inlined IR, and so the machine code, is
the same (the assembly of every kernel the ``flowkit warmup`` cases compile was compared:
identical but for the abi tags in symbol names; tests/test_inlining.py compares outputs).

This reaches into Numba (the ``copy`` module that ``numba.core.inline_closurecall`` uses, once,
in ``copy_ir``), as written in Numba 0.68.1; ``install`` checks that the module still makes
that one call to ``copy`` and no other, and otherwise leaves Numba alone (``INSTALLED`` stays
False and the suite's tests/test_inlining.py fails, so that CI notices).
``FLOWKIT_INLINE_COPY=0`` (or ``false``, ``off``, ``no``) in the environment also leaves Numba
alone. Numba compiles under one global lock, so the memo is never shared by two compilations.
"""

import copy
import inspect
import os
import re

from .linking import OFF

INSTALLED = False
# the one deep copy of inline_ir (Numba 0.68.1), which the memo below is for
_COPY_CALL = "copy.deepcopy(the_ir.blocks[block_label])"


class _CopyPerFunction:
    """Stands for the ``copy`` module in ``numba.core.inline_closurecall``: ``deepcopy`` of an IR
    block of a function in ``folder`` (flowkit's kernels), without a memo, shares one memo with
    the other blocks of its function's copy; everything else is copied as before."""

    def __init__(self, block_type, folder):
        self._block_type = block_type
        self._folder = folder
        self._memo = {}
        self._scope = None

    def deepcopy(self, x, memo=None):
        if (memo is None and isinstance(x, self._block_type)
                and os.path.dirname(x.loc.filename or "") == self._folder):
            if x.scope is not self._scope or id(x) in self._memo:  # a new function's copy
                self._memo = {}
                self._scope = x.scope
            return copy.deepcopy(x, self._memo)
        return copy.deepcopy(x, memo)

    def __getattr__(self, name):
        return getattr(copy, name)


def install():
    """Patch Numba as the module's docstring says; idempotent. Returns ``INSTALLED``."""
    global INSTALLED
    if INSTALLED or os.environ.get("FLOWKIT_INLINE_COPY", "1").strip().lower() in OFF:
        return INSTALLED
    try:
        from numba.core import inline_closurecall, ir

        source = inspect.getsource(inline_closurecall)
    except (ImportError, OSError, TypeError):
        return False
    if (len(re.findall(r"\bcopy\.\w", source)) != 1 or _COPY_CALL not in source
            or getattr(inline_closurecall, "copy", None) is not copy):
        return False
    folder = os.path.dirname(os.path.abspath(__file__))
    inline_closurecall.copy = _CopyPerFunction(ir.Block, folder)
    INSTALLED = True
    return True
