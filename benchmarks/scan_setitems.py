"""Report of slice and whole-array assignments inside compiled CPU kernels (compile time).

Inside a Numba-compiled function, an assignment whose value is an array (``a[...] = b``,
``a[i:j] = x[k:l]``) or in-place array arithmetic (``a[:, 0] += t``) compiles Numba's general
array-assignment code at each site: about 2-3.5 s of CPU time for one such line in a tiny
function on this machine, against about 0.01 s for a scalar fill of a 1-D slice (``c[:] = 0``).
This runs every ``flowkit warmup`` case (``flowkit._warmup.CASES``, or the names given) in
this process with an empty cache of its own, then walks the typed IR of every compiled
specialisation of every ``flowkit.kernels`` dispatcher (CUDA modules excluded) and prints
each item assignment whose index holds a slice or whose value is an array, each binary or
in-place operation with an array operand, and each array expression, with their types. Only
compiled specialisations are seen: a kernel that no case reaches is not reported.

    python benchmarks/scan_setitems.py [CASE ...]
"""

import atexit
import importlib
import os
import pkgutil
import shutil
import tempfile

# compile everything: a cache hit has no IR; the folder is removed when the script ends (it was
# left in the temporary folder, by --help too)
os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="scan_setitems-")
atexit.register(shutil.rmtree, os.environ["NUMBA_CACHE_DIR"], ignore_errors=True)

from numba.core import ir, types  # noqa: E402
from numba.core.registry import CPUDispatcher  # noqa: E402

import flowkit.kernels  # noqa: E402
from flowkit._warmup import CASES  # noqa: E402


def dispatchers():
    """Every CPU dispatcher of ``flowkit.kernels``, once each: (``module.name``, dispatcher)."""
    seen = set()
    for info in pkgutil.iter_modules(flowkit.kernels.__path__):
        if info.name.endswith("_cuda"):
            continue
        module = importlib.import_module("flowkit.kernels." + info.name)
        for name, obj in vars(module).items():
            if isinstance(obj, CPUDispatcher) and id(obj) not in seen:
                seen.add(id(obj))
                yield f"{info.name}.{name}", obj


def array_assignments(annotation):
    """(line, description) of each array-valued or sliced setitem and array binop in one
    compiled specialisation's typed IR."""
    typemap = annotation.typemap
    for block in annotation.blocks.values():
        for stmt in block.body:
            if isinstance(stmt, (ir.SetItem, ir.StaticSetItem)):
                index = stmt.index_var if isinstance(stmt, ir.StaticSetItem) else stmt.index
                index_type = typemap.get(index.name) if index is not None else None
                value_type = typemap.get(stmt.value.name)
                if isinstance(value_type, types.Array) or "slice" in str(index_type):
                    yield stmt.loc.line, (f"{typemap.get(stmt.target.name)}[{index_type}] = "
                                          f"{value_type}")
            elif (isinstance(stmt, ir.Assign) and isinstance(stmt.value, ir.Expr)
                  and stmt.value.op in ("binop", "inplace_binop")):
                lhs, rhs = typemap.get(stmt.value.lhs.name), typemap.get(stmt.value.rhs.name)
                if isinstance(lhs, types.Array) or isinstance(rhs, types.Array):
                    yield stmt.loc.line, f"{lhs} {stmt.value.fn} {rhs}"
            elif (isinstance(stmt, ir.Assign) and isinstance(stmt.value, ir.Expr)
                  and stmt.value.op == "arrayexpr"):  # array arithmetic, fused by Numba
                yield stmt.loc.line, f"array expression -> {typemap.get(stmt.target.name)}"


def main(names):
    for name in names or CASES:
        CASES[name]()
    count = 0
    for qualname, dispatcher in dispatchers():
        count += 1
        for cres in dispatcher.overloads.values():
            for line, text in array_assignments(cres.type_annotation):
                print(f"{qualname} line {line}: {text}")
    print(f"{count} dispatchers scanned")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", nargs="*", metavar="CASE",
                        help=f"flowkit warmup cases (default all): {', '.join(CASES)}")
    args = parser.parse_args()
    unknown = [name for name in args.cases if name not in CASES]
    if unknown:
        parser.error(f"unknown case(s): {', '.join(unknown)}")
    main(args.cases)
