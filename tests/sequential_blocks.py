"""The CUDA simulator runs a block's threads one after another when the kernel cannot sync.

Numba's simulator starts one Python thread per CUDA thread and polls them in a busy loop
(``numba.cuda.simulator.kernel.BlockManager``), so that ``cuda.syncthreads()`` can suspend a
thread until the rest of its block arrives. Starting ~250,000 threads cost most of the CUDA
tests' time (83 s of one DIS test on a 40x48 batch of two; docs/benchmarks.md, "Cold start").
Only a kernel that synchronises needs that: every other kernel gives the same result when its
threads run in order in the calling thread (one of the orders the simulator may already run
them in; atomics stay atomic), so :func:`install` makes the simulator do that.

A kernel synchronises when its code, or a device function it names (``helper(...)`` or
``module.helper(...)``, followed through each function's globals), names ``syncthreads``
(today ``kernels/lk_sparse_cuda.py``'s tracking kernel, whose block reduction does). Its blocks
still get one Python thread per CUDA thread, but these wait for each other on a condition
variable instead of being polled: the simulator's polling loop took three quarters of that
module's CUDA test (16 s on a cold cache, now under 1 s). A kernel run in order that reaches
``cuda.syncthreads()`` all the same (through a name this search does not follow) raises
``RuntimeError`` naming the kernel, never a wrong result.
"""

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
            f"the simulator ran its threads in order (tests/sequential_blocks.py): name "
            f"syncthreads in the kernel or in a device function it names")

    syncthreads_count = syncthreads_and = syncthreads_or = syncthreads


class _Aborted(Exception):
    """Raised in a block's waiting threads when another thread of the block failed."""


class _Block:
    """The barrier of one block: ``cuda.syncthreads()`` returns once every thread of the block
    that has not returned waits there (as the simulator's runner decides), and a failed thread
    releases the others."""

    def __init__(self, size):
        self.condition = threading.Condition()
        self.alive = size
        self.arrived = []  # the predicates of the threads waiting at the barrier
        self.generation = 0
        self.released = None  # the predicates of the last release
        self.failed = False

    def wait(self, predicate=0):
        with self.condition:
            if self.failed:
                raise _Aborted
            self.arrived.append(predicate)
            generation = self.generation
            if len(self.arrived) == self.alive:
                self._release()
            while self.generation == generation and not self.failed:
                self.condition.wait()
            if self.failed:
                raise _Aborted
            return self.released

    def leave(self, failed):
        with self.condition:
            self.alive -= 1
            self.failed = self.failed or failed
            if failed or (self.arrived and len(self.arrived) == self.alive):
                self._release()

    def _release(self):
        self.released, self.arrived = self.arrived, []
        self.generation += 1
        self.condition.notify_all()


class _SyncThread(_Thread):
    """A CUDA thread of a synchronising kernel: a Python thread waiting at its block's barrier."""

    def __init__(self, kernel, block_idx, thread_idx, block_dim, block):
        super().__init__(kernel, block_idx, thread_idx, block_dim)
        self.block = block

    def syncthreads(self):
        self.block.wait()

    def syncthreads_count(self, value):
        return sum(bool(v) for v in self.block.wait(value))

    def syncthreads_and(self, value):
        return int(all(self.block.wait(value)))

    def syncthreads_or(self, value):
        return int(any(self.block.wait(value)))


_current = threading.local()
_synchronising = {}  # kernel function -> it or a device function it names names syncthreads


def _synchronises(function):
    if function not in _synchronising:
        seen = set()
        todo = [function]
        found = False
        while todo and not found:
            f = todo.pop()
            code = getattr(f, "__code__", None)
            if code is None or f in seen:
                continue
            seen.add(f)
            names = set(code.co_names)
            found = bool(names & {"syncthreads", "syncthreads_count", "syncthreads_and",
                                  "syncthreads_or", "this_grid"})
            module_globals = getattr(f, "__globals__", {})
            scopes = [module_globals] + [vars(m) for m in module_globals.values()
                                         if isinstance(m, types.ModuleType)]
            for name in names:  # the device functions it calls (simulator: objects with .fn)
                for scope in scopes:  # as ``helper(...)`` or ``module.helper(...)``
                    callee = getattr(scope.get(name), "fn", None)
                    if callee is not None:
                        todo.append(callee)
        _synchronising[function] = found
    return _synchronising[function]


def _error(exc, thread):
    """The simulator's message: which thread and block failed."""
    message = f"tid={list(thread.threadIdx)} ctaid={list(thread.blockIdx)}"
    if str(exc):
        message += f": {exc}"
    return type(exc)(message).with_traceback(exc.__traceback__)


def install(monkeypatch):
    """Patch the simulator (through ``monkeypatch``) as described in the module docstring."""
    from numba.cuda.simulator import kernel, kernelapi

    if not all(hasattr(module, name) for module, name in ((kernel, "BlockManager"), (kernel, "Dim3"),
                                                           (kernelapi, "threading"))):
        return  # a simulator laid out otherwise (another numba-cuda): keep its own runner
    threaded_run = kernel.BlockManager.run
    internals = ("_f", "_block_dim", "_debug")  # what the runner reads of the simulator's BlockManager

    def errstate(debug):
        return np.errstate(divide="raise") if debug else np.errstate()

    def run_in_order(self, grid_point, args):
        with errstate(self._debug):
            for block_point in np.ndindex(*self._block_dim):
                thread = _Thread(self._f, grid_point, block_point, self._block_dim)
                _current.thread = thread
                try:
                    self._f(*args)
                except Exception as exc:
                    raise _error(exc, thread) from None
                finally:
                    _current.thread = None

    def run_synchronising(self, grid_point, args):
        block = _Block(int(np.prod(self._block_dim)))
        threads = [_SyncThread(self._f, grid_point, p, self._block_dim, block)
                   for p in np.ndindex(*self._block_dim)]
        errors = {}

        def target(thread):
            _current.thread = thread
            failed = False
            try:
                with errstate(self._debug):
                    self._f(*args)
            except _Aborted:
                pass
            except Exception as exc:
                errors[thread.thread_id] = _error(exc, thread)
                failed = True
            finally:
                block.leave(failed)

        workers = [threading.Thread(target=target, args=(t,), daemon=True) for t in threads]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        if errors:
            raise errors[min(errors)]

    def run(self, grid_point, *args):
        if not all(hasattr(self, name) for name in internals):
            return threaded_run(self, grid_point, *args)
        if _synchronises(self._f):
            return run_synchronising(self, grid_point, args)
        return run_in_order(self, grid_point, args)

    def current_thread():
        return getattr(_current, "thread", None) or threading.current_thread()

    shim = types.SimpleNamespace(**{**vars(threading), "current_thread": current_thread})
    monkeypatch.setattr(kernelapi, "threading", shim)
    monkeypatch.setattr(kernel.BlockManager, "run", run)
