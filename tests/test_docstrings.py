"""The Examples sections of the public docstrings run as written (doctest), so that the
documentation cannot drift from the code. The learned-model modules need torch and are
left to tests/test_models*.py. The Parameters section of every public function, class and
method names the signature's parameters, in order (read by a small parser, not numpydoc)."""

import dataclasses
import doctest
import importlib
import inspect
import pkgutil
import re

import pytest

import flowkit

MODULES = sorted(m.name for m in pkgutil.walk_packages(flowkit.__path__, "flowkit.")
                 if not m.name.startswith("flowkit.models") and m.name != "flowkit.__main__")


@pytest.mark.parametrize("name", MODULES)
def test_examples_run_as_written(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             report=False)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed (run python -m doctest -v)"


def test_the_public_modules_hold_examples():
    # a walk that found nothing would pass every case above
    attempted = sum(doctest.testmod(importlib.import_module(n), report=False).attempted
                    for n in ("flowkit._predict", "flowkit._interpolate", "flowkit._warp"))
    assert attempted >= 15


# --- Parameters sections against signatures ---------------------------------------------------
# A small parser of numpydoc's Parameters section (no numpydoc dependency): the entries are the
# lines at the section's own indentation, "name : type", "name" or "a, b : type".

PUBLIC_MODULES = ("flowkit",) + tuple(f"flowkit.{m}" for m in flowkit._SUBMODULES)


def section(doc, title):
    """The lines of the numpydoc section ``title`` of ``doc`` (dedented), or None."""
    lines = inspect.cleandoc(doc or "").splitlines()
    for i in range(len(lines) - 1):
        if lines[i].strip() == title and set(lines[i + 1].strip()) == {"-"}:
            body = []
            for j in range(i + 2, len(lines)):
                if j + 1 < len(lines) and set(lines[j + 1].strip()) == {"-"}:
                    break  # the next section's title
                body.append(lines[j])
            return body
    return None


def entry_names(lines):
    """Names of a section's entries, in order (``*args`` and ``**kwargs`` without stars)."""
    names = []
    for line in lines:
        if line.strip() and not line[0].isspace():
            names += [n.strip().lstrip("*") for n in line.split(" : ")[0].split(",")]
    return names


def signature_names(obj):
    """Parameters a user passes: not self, not private ones (a leading underscore)."""
    return [n for n in inspect.signature(obj).parameters
            if n not in ("self", "cls") and not n.startswith("_")]


def public_objects():
    seen = {}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj) or (inspect.isclass(obj)
                                            and not issubclass(obj, BaseException)):
                seen.setdefault(f"{obj.__module__}.{obj.__qualname__}", obj)
    for qualname, obj in list(seen.items()):
        if inspect.isclass(obj):
            for name, member in vars(obj).items():
                member = getattr(member, "__func__", member)  # static and class methods
                if inspect.isfunction(member) and not name.startswith("_"):
                    seen[f"{qualname}.{name}"] = member
    return seen


PUBLIC = public_objects()
SAME_AS = re.compile(r"Parameters are those of :func:`(\w+)`.*?except ``(\w+)``", re.S)


def documented_names(obj):
    """The names ``obj``'s docstring documents as its parameters, in order."""
    doc = inspect.getdoc(obj)
    lines = section(doc, "Parameters")
    if lines is not None:
        return entry_names(lines)
    same = SAME_AS.search(doc or "")
    if inspect.isclass(obj) and same:  # DIS, Farneback: those of dis, farneback per call
        function = getattr(importlib.import_module(obj.__module__), same.group(1))
        return [n for n in signature_names(function)
                if n not in ("frame0", "frame1", same.group(2))]
    if dataclasses.is_dataclass(obj):  # reports: their fields are documented as Attributes
        properties = {n for n, v in vars(obj).items() if isinstance(v, property)}
        attributes = entry_names(section(doc, "Attributes") or [])
        return [n for n in signature_names(obj) if n in attributes] + sorted(
            set(attributes) - set(signature_names(obj)) - properties)
    return []


@pytest.mark.parametrize("qualname", sorted(PUBLIC))
def test_parameters_section_matches_the_signature(qualname):
    obj = PUBLIC[qualname]
    assert documented_names(obj) == signature_names(obj), (
        f"{qualname}: the docstring documents {documented_names(obj)}, the signature takes "
        f"{signature_names(obj)}")


def test_the_parser_reads_a_section():
    # a parser that found no section would pass every case without parameters
    assert documented_names(flowkit.warp)[:2] == ["image", "flow"]
    assert len(PUBLIC) > 50
    assert "flowkit.video.VideoWriter.write" in PUBLIC


# what a helper of a class raises is its caller's to document
NO_RAISES = {"flowkit.video.VideoWriter.fit": "pads frames that write has checked"}


@pytest.mark.parametrize("qualname", sorted(PUBLIC))
def test_a_function_taking_parameters_documents_what_it_raises(qualname):
    obj = PUBLIC[qualname]
    doc = inspect.getdoc(obj)
    if (not signature_names(obj) or qualname in NO_RAISES or dataclasses.is_dataclass(obj)
            or SAME_AS.search(doc or "")):  # a report's fields; DIS: dis's errors
        return
    assert section(doc, "Raises"), f"{qualname}: no Raises section"


# the training entry points a Python user calls (what flowkit train MODEL runs), outside
# flowkit.models' __all__ and importing torch: they had a line of prose and no sections
TRAINING = ("flowkit.models.train.train_interp_refine", "flowkit.models.train.train_colorize",
            "flowkit.models.train_gan.train_predict_gan",
            "flowkit.models.train_text2video.train_text2video")


@pytest.mark.parametrize("qualname", TRAINING)
def test_training_entry_points_document_parameters_returns_and_raises(qualname):
    pytest.importorskip("torch")
    module, name = qualname.rsplit(".", 1)
    obj = getattr(importlib.import_module(module), name)
    assert documented_names(obj) == signature_names(obj), (
        f"{qualname}: the docstring documents {documented_names(obj)}, the signature takes "
        f"{signature_names(obj)}")
    doc = inspect.getdoc(obj)
    assert section(doc, "Returns") and section(doc, "Raises"), qualname
