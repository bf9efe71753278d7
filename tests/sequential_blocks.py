"""The CUDA simulator runs a block's threads one after another when the kernel cannot sync.

Numba's simulator starts one Python thread per CUDA thread and polls them in a busy loop
(``numba.cuda.simulator.kernel.BlockManager``), so that ``cuda.syncthreads()`` can suspend a
thread until the rest of its block arrives. Starting ~250,000 threads cost most of the CUDA
tests' time (83 s of one DIS test on a 40x48 batch of two; docs/benchmarks.md, "Cold start").
Only a kernel that synchronises needs that: every other kernel gives the same result when its
threads run in order in the calling thread (one of the orders the simulator may already run
them in; atomics stay atomic), so :func:`install` makes the simulator do that.

Kernels whose module's source mentions ``syncthreads`` keep the threaded block runner
(today ``kernels/lk_sparse_cuda.py``'s tracking kernel, whose block reduction synchronises).
A kernel run in order that reaches ``cuda.syncthreads()`` all the same (a device function
from another module) raises ``RuntimeError`` naming the kernel, never a wrong result: its
module then needs the word (a comment will do).
"""

import inspect
import sys
import threading
import types

import numpy as np


class _Thread:
    """What the simulator's ``cuda`` module reads from the current thread, for one CUDA thread."""

    def __init__(self, kernel, block_idx, thread_idx, block_dim):
        from numba.cuda.simulator.kernel import Dim3

        self.kernel = kernel
        self.blockIdx = Dim3(*block_idx)
        self.threadIdx = Dim3(*thread_idx)
        self.thread_id = thread_idx[0] + block_dim[0] * (thread_idx[1] + block_dim[1] * thread_idx[2])

    def syncthreads(self, *args):
        raise RuntimeError(
            f"{self.kernel.__module__}.{self.kernel.__qualname__} reached cuda.syncthreads() while "
            f"the simulator ran its threads in order (tests/sequential_blocks.py): mention "
            f"syncthreads in {self.kernel.__module__}'s source so it gets the threaded runner")

    syncthreads_count = syncthreads_and = syncthreads_or = syncthreads


_current = threading.local()
_synchronising = {}  # module name -> its source mentions syncthreads


def _synchronises(function):
    name = function.__module__
    if name not in _synchronising:
        try:
            _synchronising[name] = "syncthreads" in inspect.getsource(sys.modules[name])
        except (KeyError, OSError, TypeError):  # no source: keep the simulator's own runner
            _synchronising[name] = True
    return _synchronising[name]


def install(monkeypatch):
    """Patch the simulator (through ``monkeypatch``) as described in the module docstring."""
    from numba.cuda.simulator import kernel, kernelapi

    if not all(hasattr(module, name) for module, name in ((kernel, "BlockManager"), (kernel, "Dim3"),
                                                           (kernelapi, "threading"))):
        return  # a simulator laid out otherwise (another numba-cuda): keep its own runner
    threaded_run = kernel.BlockManager.run
    internals = ("_f", "_block_dim", "_debug")  # what the runner reads of the simulator's BlockManager

    def run(self, grid_point, *args):
        if not all(hasattr(self, name) for name in internals) or _synchronises(self._f):
            return threaded_run(self, grid_point, *args)
        with np.errstate(divide="raise") if self._debug else np.errstate():
            for block_point in np.ndindex(*self._block_dim):
                thread = _Thread(self._f, grid_point, block_point, self._block_dim)
                _current.thread = thread
                try:
                    self._f(*args)
                except Exception as exc:  # the simulator's message: which thread and block failed
                    message = f"tid={list(thread.threadIdx)} ctaid={list(thread.blockIdx)}"
                    if str(exc):
                        message += f": {exc}"
                    raise type(exc)(message).with_traceback(exc.__traceback__) from None
                finally:
                    _current.thread = None

    def current_thread():
        return getattr(_current, "thread", None) or threading.current_thread()

    shim = types.SimpleNamespace(**{**vars(threading), "current_thread": current_thread})
    monkeypatch.setattr(kernelapi, "threading", shim)
    monkeypatch.setattr(kernel.BlockManager, "run", run)
