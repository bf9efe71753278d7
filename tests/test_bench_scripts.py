"""Every ``python benchmarks/<script>.py`` documents its options with ``--help`` and refuses an
unknown option with one usage error, running nothing (scripts that read ``sys.argv`` by hand
took ``--help`` for a repeat count, a mode or a file name and ended in a traceback, or ignored
it and ran for minutes)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(p.name for p in BENCHMARKS.glob("*.py")
                 if 'if __name__ == "__main__":' in p.read_text())


def _run(script, *args, env=None):
    return subprocess.run([sys.executable, str(BENCHMARKS / script), *args], capture_output=True,
                          text=True, timeout=300, cwd=BENCHMARKS.parent, env=env)


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_and_bad_option(script, tmp_path):
    # nothing is left in the temporary folder: scan_setitems made its Numba cache folder on
    # import and never removed it (two empty /tmp/tmpXXXXXXXX folders from this test, one
    # full of compiled kernels from a scan)
    env = dict(os.environ, TMPDIR=str(tmp_path))
    shown = _run(script, "--help", env=env)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert shown.stdout.startswith("usage:"), shown.stdout[:500]
    # the description (the paragraph after the usage) is whole sentences, not a docstring's
    # first line cut mid-sentence ("... on one 1280x720 clip: time per")
    description = " ".join(shown.stdout.split("\n\n")[1].split())
    assert description.endswith((".", ".)")), description
    refused = _run(script, "--no-such-option", env=env)
    assert refused.returncode == 2, refused.stderr[-2000:]
    assert "error:" in refused.stderr and "Traceback" not in refused.stderr, refused.stderr[-2000:]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("script", ["eval_interpolation.py", "eval_prediction.py",
                                    "eval_translation.py", "diagnose_interp_refine.py",
                                    "bench_memory.py", "bench_batch.py", "eval_motion.py"])
def test_data_folder_from_flowkit_data(script, tmp_path, monkeypatch):
    """FLOWKIT_DATA names the shared data folder for every script that reads it (the eval
    scripts looked only at ../shared/data beside the checkout, and diagnose_interp_refine ended
    in a FileNotFoundError traceback without it): a folder without the data is named in a
    skip note, not a traceback."""
    monkeypatch.setenv("FLOWKIT_DATA", str(tmp_path))
    done = _run(script)
    assert str(tmp_path) in done.stdout + done.stderr, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]


@pytest.mark.parametrize("args", [("bench_warp.py", "0"), ("bench_predict.py", "-1"),
                                  ("bench_interpolate.py", "0"), ("bench_dis.py", "ratio", "0"),
                                  ("bench_lk_dense.py", "ratio", "0"), ("bench_lk_sparse.py", "0"),
                                  ("cold_start.py", "--repeat", "0", "flow_to_color"),
                                  ("cold_start.py", "no_such_case")])
def test_counts_and_cases_are_checked(args):
    """A repeat or round count below 1 and an unknown cold_start case are usage errors (exit
    2) before anything runs: they ran the warm-up calls (or a child process) and ended in a
    traceback over an empty table (or the child's KeyError)."""
    done = _run(*args)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "error:" in done.stderr and "Traceback" not in done.stderr, done.stderr[-2000:]
