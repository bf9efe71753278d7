"""Every ``python benchmarks/<script>.py`` documents its options with ``--help`` and refuses an
unknown option with one usage error, running nothing (scripts that read ``sys.argv`` by hand
took ``--help`` for a repeat count, a mode or a file name and ended in a traceback, or ignored
it and ran for minutes)."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(p.name for p in BENCHMARKS.glob("*.py")
                 if 'if __name__ == "__main__":' in p.read_text())


def _run(script, *args):
    return subprocess.run([sys.executable, str(BENCHMARKS / script), *args], capture_output=True,
                          text=True, timeout=300, cwd=BENCHMARKS.parent)


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_and_bad_option(script):
    shown = _run(script, "--help")
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert shown.stdout.startswith("usage:"), shown.stdout[:500]
    refused = _run(script, "--no-such-option")
    assert refused.returncode == 2, refused.stderr[-2000:]
    assert "error:" in refused.stderr and "Traceback" not in refused.stderr, refused.stderr[-2000:]
