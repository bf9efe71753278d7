"""Callees compiled as LLVM IR only: a Numba compile-time saving for flowkit's kernels.

When Numba compiles a jitted function that calls another jitted function, it first compiles
the callee as a complete entry point of its own: its LLVM module is optimised (twice: a
cheap and a full pass pipeline), turned into machine code, registered with the JIT engine
and written to the cache. Then the callee's module is linked into the caller's, and the
caller's module is optimised and turned into machine code again, callee included. For a
callee that is only ever reached from jitted code, the first round is wasted work: about a
quarter of the CPU time of a first call with an empty cache (``warp`` 5.2 -> 3.8 s,
``farneback`` 6.2 -> 4.6 s, ``lucas_kanade_sparse`` 7.1 -> 4.9 s; docs/benchmarks.md).

``install()`` changes that for the functions of ``flowkit.kernels`` (``PREFIX``): a kernel
whose compilation was asked for by the typing of a call from another jitted function
(``Dispatcher.get_call_template``) gets a library that holds its function-optimised LLVM
module only, ready to be linked (a "callee library"): no module passes, no machine code, no
cache entry. Its caller, compiled as usual, optimises and generates code for the whole.

Such an overload cannot be called from Python, so it never enters the dispatcher's table of
callable overloads: a call from Python (a test, Numba's CUDA simulator) finds none and
compiles the function again, as usual, which replaces the callee library. A callee whose
complete overload is in the cache (an earlier process called it from Python) is loaded from
there as usual. Nothing else
changes: the caller's cache entry holds its callees' code, as before; the kernels' results
are bit-identical (tests/test_linking.py compares every public function with and without).

This reaches into Numba internals (``CPUCodeLibrary``, ``Dispatcher``, ``Cache``,
``CPUContext.get_executable``), as written in Numba 0.68.1, the version it was tested with.
``install`` checks that every attribute it relies on exists and otherwise leaves Numba alone
(``INSTALLED`` stays False and everything compiles as before, only slower; the suite's
tests/test_linking.py then fails, so that CI notices); ``FLOWKIT_LINK_CALLEES=0`` (or
``false``, ``off``, ``no``) in the environment also leaves Numba alone.
"""

import os
import threading

PREFIX = "flowkit.kernels."
OFF = ("0", "false", "off", "no")  # FLOWKIT_LINK_CALLEES values that turn it off
INSTALLED = False

_state = threading.local()  # .callee: set for the next compile; .stack: one flag per compile


def _requirements():
    """The Numba objects ``install`` patches, or None where one is missing."""
    try:
        from numba import _dynfunc
        from numba.core import caching, codegen, cpu, dispatcher
        from numba.core.compiler_lock import require_global_compiler_lock
    except ImportError:
        return None
    library = codegen.CPUCodeLibrary
    needed = [(library, "finalize"), (library, "_get_module_for_linking"),
              (library, "_finalize_dynamic_globals"), (library, "_raise_if_finalized"),
              (dispatcher.Dispatcher, "compile"), (dispatcher.Dispatcher, "get_call_template"),
              (getattr(dispatcher, "_DispatcherBase", None), "add_overload"),
              (caching.Cache, "save_overload"), (cpu.CPUContext, "get_executable"),
              (_dynfunc, "make_function")]
    if not all(hasattr(owner, name) for owner, name in needed):
        return None
    return _dynfunc, caching, codegen, cpu, dispatcher, require_global_compiler_lock


_LIBRARY_STATE = ("_linking_libraries", "_reload_init", "_final_module", "_finalized")


def _is_callee_library(library):
    return getattr(library, "_flowkit_callee", False)


def install():
    """Patch Numba as the module's docstring says; idempotent. Returns ``INSTALLED``."""
    global INSTALLED
    if INSTALLED or os.environ.get("FLOWKIT_LINK_CALLEES", "1").strip().lower() in OFF:
        return INSTALLED
    found = _requirements()
    if found is None:
        return False
    _dynfunc, caching, codegen, cpu, dispatcher, require_lock = found
    Dispatcher = dispatcher.Dispatcher

    get_call_template = Dispatcher.get_call_template

    def typed_from_jitted_code(self, args, kws):
        _state.callee = True  # read (and cleared) by the compile this call makes, if any
        try:
            return get_call_template(self, args, kws)
        finally:
            _state.callee = False

    compile_overload = Dispatcher.compile

    def compile_marked(self, sig):
        callee = getattr(_state, "callee", False)
        _state.callee = False
        if not callee:  # from Python: a callee library is no use there
            from numba.core import sigutils

            args, _ = sigutils.normalize_signature(sig)
            existing = self.overloads.get(tuple(args))
            if existing is not None and _is_callee_library(existing.library):
                del self.overloads[tuple(args)]
        stack = _state.__dict__.setdefault("stack", [])
        stack.append(callee)
        try:
            return compile_overload(self, sig)
        finally:
            stack.pop()

    get_executable = cpu.CPUContext.get_executable

    def executable_or_callee(self, library, fndesc, env):
        stack = getattr(_state, "stack", None)
        if not (stack and stack[-1] and fndesc.modname.startswith(PREFIX)
                and all(hasattr(library, name) for name in _LIBRARY_STATE)
                and not library._finalized):  # finalized: loaded from the cache, complete
            return get_executable(self, library, fndesc, env)
        library._flowkit_callee = True
        library.finalize()
        return _dynfunc.make_function(fndesc.lookup_module(), fndesc.qualname.split(".")[-1],
                                      "callee library (no machine code)", 0, env, (library,))

    finalize = codegen.CPUCodeLibrary.finalize

    def finalize_or_link_only(self):
        if not _is_callee_library(self):
            return finalize(self)
        require_lock()
        self._raise_if_finalized()
        for library in dict.fromkeys(self._linking_libraries):  # as finalize links them
            self._reload_init.update(library._reload_init)
            self._final_module.link_in(library._get_module_for_linking(), preserve=True)
        self._final_module.verify()
        self._finalize_dynamic_globals()
        self._finalized = True

    add_overload = dispatcher._DispatcherBase.add_overload

    def add_typing_only(self, cres):
        if _is_callee_library(cres.library):
            self.overloads[tuple(cres.signature.args)] = cres  # for typing and linking only
        else:
            add_overload(self, cres)

    save_overload = caching.Cache.save_overload

    def save_unless_callee(self, sig, data):
        if not _is_callee_library(getattr(data, "library", None)):
            save_overload(self, sig, data)

    Dispatcher.get_call_template = typed_from_jitted_code
    Dispatcher.compile = compile_marked
    cpu.CPUContext.get_executable = executable_or_callee
    codegen.CPUCodeLibrary.finalize = finalize_or_link_only
    dispatcher._DispatcherBase.add_overload = add_typing_only
    caching.Cache.save_overload = save_unless_callee
    INSTALLED = True
    return True
