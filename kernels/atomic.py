"""Atomic counters, a spin-wait hint and unowned array views for CPU kernels that share
work across threads.

``kernels.parallel.claim_chunk`` builds on these: threads running the same nogil kernel
claim chunks of work from an int64 counter array and wait for the chunks a chunk depends
on by reading other counters.

Memory ordering (LLVM's, which Numba's CPU target compiles to):

* :func:`atomic_add` is a sequentially consistent read-modify-write (``lock xadd`` on x86,
  a full fence): every plain store the thread made before it (a chunk's results) is visible
  to any thread that later reads the counter's new value with an acquire load.
* :func:`atomic_load` is an acquire load: plain loads after it (of another chunk's results)
  are not moved before it by the compiler or the processor, and it is re-read on every call
  (a plain read of a counter in a wait loop may be hoisted out of the loop and spin forever).

Every slice of an array (a row view) updates the reference count of the array's memory
with an atomic instruction, and threads slicing the same arrays contend for that count's
cache line: in the variational refinement's passes, whose rows are views, two threads took
10x the time of one. A kernel run on several threads takes :func:`unowned` views of its
arrays first: their slices carry no reference count. Even on one thread the count's
updates (a call and a locked instruction per slice, and per array passed to a helper that
is not inlined) cost: the DIS search's per-patch helper spent a third of its time in them.

The counters are int64 elements of a C-contiguous 1-D ``int64`` array. Plain writes to a
counter from other code (Python, ``kernels.parallel.run_shared``'s abort flag) are seen by
:func:`atomic_load` eventually, which is all a flag needs.
"""

import sys

from llvmlite import binding, ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

# the spin-wait hint exists on x86 only; elsewhere the wait loop spins without it
_X86 = binding.get_process_triple().split("-")[0] in ("x86_64", "i386", "i686")
# giving up the processor: POSIX sched_yield, Windows SwitchToThread (both in the C library
# or kernel32 that the process has loaded)
_YIELD = "SwitchToThread" if sys.platform == "win32" else "sched_yield"


def _counter_pointer(context, builder, array_type, array, index):
    """Pointer to ``array[index]`` (a 1-D int64 array)."""
    arr = context.make_array(array_type)(context, builder, array)
    return cgutils.get_item_pointer(context, builder, array_type, arr, [index])


def _check(array):
    if not (isinstance(array, types.Array) and array.dtype == types.int64
            and array.ndim == 1):
        raise TypeError("an atomic counter lives in a 1-D int64 array")


@intrinsic
def atomic_add(typingctx, array, index, value):
    """``array[index] += value`` as one sequentially consistent atomic operation; returns
    the value before the addition (fetch-and-add)."""
    _check(array)
    sig = types.int64(array, types.intp, types.int64)

    def codegen(context, builder, signature, args):
        ptr = _counter_pointer(context, builder, signature.args[0], args[0], args[1])
        return builder.atomic_rmw("add", ptr, args[2], "seq_cst")
    return sig, codegen


@intrinsic
def atomic_load(typingctx, array, index):
    """``array[index]`` read with acquire ordering (module docstring)."""
    _check(array)
    sig = types.int64(array, types.intp)

    def codegen(context, builder, signature, args):
        ptr = _counter_pointer(context, builder, signature.args[0], args[0], args[1])
        return builder.load_atomic(ptr, "acquire", 8)
    return sig, codegen


@intrinsic
def spin_pause(typingctx):
    """A spin-wait hint (x86 ``pause``: the waiting core yields pipeline resources to its
    sibling hyper-thread and leaves the wait loop without a memory-order flush); a no-op on
    other processors."""
    sig = types.void()

    def codegen(context, builder, signature, args):
        if _X86:
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), []),
                                                "llvm.x86.sse2.pause")
            builder.call(fn, [])
        return context.get_dummy_value()
    return sig, codegen


@intrinsic
def yield_thread(typingctx):
    """Give the processor to another runnable thread (``sched_yield``): for a wait that has
    spun long enough that the thread it waits for is probably not running (on a machine
    with more runnable threads than cores)."""
    sig = types.void()

    def codegen(context, builder, signature, args):
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.IntType(32), []),
                                            _YIELD)
        builder.call(fn, [])
        return context.get_dummy_value()
    return sig, codegen


@intrinsic
def unowned(typingctx, array):
    """``array`` without its reference to the memory (``meminfo`` and ``parent`` NULL): its
    slices update no reference count (module docstring). Valid while the caller holds the
    array; never return it or store it."""
    if not isinstance(array, types.Array):
        raise TypeError("unowned takes an array")
    sig = array(array)

    def codegen(context, builder, signature, args):
        arr = context.make_array(signature.args[0])(context, builder, args[0])
        out = context.make_array(signature.return_type)(context, builder)
        for field in ("nitems", "itemsize", "data", "shape", "strides"):
            setattr(out, field, getattr(arr, field))
        out.meminfo = cgutils.get_null_value(out.meminfo.type)
        out.parent = cgutils.get_null_value(out.parent.type)
        return out._getvalue()
    return sig, codegen
