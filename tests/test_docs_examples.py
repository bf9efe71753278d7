"""The ```python blocks of README.md and docs/api.md, as a user copies them. A block that is
whole code (it imports what it uses and needs no file) runs as written. A synopsis (a
signature with a bare ``*``, not Python) names each function's parameters and defaults as
``inspect.signature`` gives them. Every other block is listed in ``NOT_RUN`` with the reason,
so that a new block is either run or given a reason."""

import ast
import inspect
import re
from pathlib import Path

import pytest

import flowkit
import flowkit.metrics
import flowkit.models

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "docs/api.md")

# a phrase of the block -> why it is not run as written
NOT_RUN = {
    "flowkit.set_num_threads(n)": "synopsis: n stands for a number",
    'flowkit.read_flo("flow10.flo")': "reads the user's flow10.flo and 000000_10.png",
    'for frame in flowkit.iter_frames("clip.mp4"': "reads the user's clip.mp4 and vfr.mp4",
    "models.list_models()": "the user's builder, module and weights files; needs torch",
    "rgb = flowkit.flow_to_color(flow)": "flow stands for a flow; device='cuda' needs a GPU",
    "from flowkit import metrics": "flow, gt, image, ... stand for the user's arrays",
    "class Cancelled(Exception)": "retimes the user's in.mp4 (tests/test_progress.py runs it)",
}


def _blocks():
    for doc in DOCS:
        text = (ROOT / doc).read_text()
        for match in re.finditer(r"^```python\n(.*?)^```$", text, re.S | re.M):
            line = text.count("\n", 0, match.start()) + 1
            yield pytest.param(match.group(1), id=f"{doc}:{line}")


def _is_code(block):
    try:
        ast.parse(block)
    except SyntaxError:
        return False
    return True


def _synopses(block):
    """(dotted name, parameters) of each ``name(...)`` whose arguments read as a def's with a
    bare ``*``."""
    for match in re.finditer(r"((?:flowkit|models|metrics)(?:\.\w+)+)\(", block):
        depth, end = 0, match.end() - 1
        for end in range(match.end() - 1, len(block)):
            depth += {"(": 1, ")": -1}.get(block[end], 0)
            if depth == 0:
                break
        args = re.sub(r"#[^\n]*", "", block[match.end():end])
        if not re.search(r"(^|,)\s*\*\s*,", args):
            continue  # a call with values (flowkit.retime("in.mp4", ...)), not a signature
        try:
            tree = ast.parse(f"def f({args}): pass")
        except SyntaxError:
            continue  # a call
        yield match.group(1), tree.body[0].args


def _documented(args):
    """{name: (keyword-only, default source or None)} of a parsed argument list."""
    positional = args.posonlyargs + args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + args.defaults
    out = {a.arg: (False, d) for a, d in zip(positional, defaults)}
    out.update({a.arg: (True, d) for a, d in zip(args.kwonlyargs, args.kw_defaults)})
    if args.kwarg:
        out["**" + args.kwarg.arg] = (True, None)
    return {k: (kw, None if d is None else ast.literal_eval(d)) for k, (kw, d) in out.items()}


def _actual(function):
    out = {}
    for p in inspect.signature(function).parameters.values():
        if p.kind == p.VAR_KEYWORD:
            out["**" + p.name] = (True, None)
        else:
            out[p.name] = (p.kind == p.KEYWORD_ONLY,
                           None if p.default is p.empty else p.default)
    return out


@pytest.mark.parametrize("block", list(_blocks()))
def test_block(block, tmp_path, monkeypatch):
    reasons = [why for phrase, why in NOT_RUN.items() if phrase in block]
    if _is_code(block) and not reasons:
        assert block.lstrip().startswith(("import", "from")), "a runnable block imports flowkit"
        monkeypatch.chdir(tmp_path)
        exec(compile(block, "<doc block>", "exec"), {"__name__": "doc_block"})
        return
    if _is_code(block):
        pytest.skip(reasons[0])
    namespace = {"flowkit": flowkit, "models": flowkit.models, "metrics": flowkit.metrics}
    checked = 0
    for name, args in _synopses(block):
        first, *rest = name.split(".")
        function = namespace[first]
        for part in rest:
            function = getattr(function, part)
        documented, actual = _documented(args), _actual(function)
        differ = {k: (documented.get(k, "absent"), actual.get(k, "absent"))
                  for k in {*documented, *actual} if documented.get(k) != actual.get(k)}
        assert list(documented) == list(actual) and not differ, (
            f"{name}: (keyword-only, default) documented vs in the signature: {differ}"
            f" (order documented {list(documented)})")
        checked += 1
    assert checked, "a block that is no Python holds a synopsis"
