"""The Examples sections of the public docstrings run as written (doctest), so that the
documentation cannot drift from the code. The learned-model modules need torch and are
left to tests/test_models*.py."""

import doctest
import importlib
import pkgutil

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
