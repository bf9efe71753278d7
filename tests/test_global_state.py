"""flowkit embedded in a host (a GUI, a render farm agent) leaves the process's state as it
found it (docs/api.md, "Progress and cancellation"): importing flowkit and calling each public
function, from another thread and then from the main thread, changes none of NumPy's error
handling, print options and global random state, the warnings filters, the logging
configuration (the root logger and every logger that existed before), the signal handlers and
the signal mask, ``os.environ``, OpenCV's thread count, the calling thread's Numba thread
count, PyTorch's thread counts, grad mode and random generator, the current folder and the
umask, and writes nothing to stdout (file descriptor 1: FFmpeg's and Numba's C-level writes
too).

The calls run in one fresh process (tests/global_state_probe.py's script below), so that the
first call of each, which loads its modules, compiles or builds its model, is the one checked;
the third-party modules flowkit uses are imported before the first snapshot (their own import
side effects, such as SciPy's warnings filter, are not flowkit's).
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("torch")

SCRIPT = textwrap.dedent(r'''
    import contextlib, itertools, json, logging, os, signal, sys, tempfile, threading, warnings
    import numpy as np
    import cv2, numba, scipy.ndimage, scipy.special, skimage.metrics, torch, av, tqdm  # noqa

    def snapshot():
        umask = os.umask(0o22)
        os.umask(umask)
        loggers = {name: [logger.level, list(map(repr, logger.handlers)), logger.propagate,
                          logger.disabled]
                   for name, logger in logging.Logger.manager.loggerDict.items()
                   if isinstance(logger, logging.Logger)}
        return {
            "numpy.geterr": np.geterr(), "numpy.printoptions": repr(np.get_printoptions()),
            "numpy.random": int(np.random.get_state()[1].sum()),
            "warnings.filters": repr(warnings.filters),
            "warnings.showwarning": repr(warnings.showwarning),
            "logging.root": [logging.root.level, list(map(repr, logging.root.handlers))],
            "logging.loggers": loggers, "logging.disable": logging.root.manager.disable,
            "signal.handlers": {int(s): repr(signal.getsignal(s)) for s in signal.valid_signals()
                                if s not in (signal.SIGKILL, signal.SIGSTOP)},
            "signal.mask": sorted(map(int, signal.pthread_sigmask(signal.SIG_BLOCK, []))),
            "os.environ": dict(os.environ), "cwd": os.getcwd(), "umask": umask,
            "cv2.threads": cv2.getNumThreads(), "numba.threads": numba.get_num_threads(),
            "torch": [torch.get_num_threads(), torch.get_num_interop_threads(),
                      torch.is_grad_enabled(), str(torch.get_default_dtype())],
            "torch.random": int(torch.get_rng_state().sum()),
            "sys": [repr(sys.stdout), repr(sys.stderr), repr(sys.excepthook),
                    repr(threading.excepthook), sys.getrecursionlimit()],
        }

    def changes(before, after):
        out = {}
        for key in before:
            a, b = before[key], after[key]
            if isinstance(a, dict):  # loggers made by an import are new, not a change
                b = {k: v for k, v in b.items() if k in a or key != "logging.loggers"}
                diff = {k: [a.get(k), b.get(k)] for k in set(a) | set(b) if a.get(k) != b.get(k)}
                if diff:
                    out[key] = diff
            elif a != b:
                out[key] = [a, b]
        return out

    results = {}

    def check(name, call, threaded):
        before = snapshot()
        sys.stdout.flush()
        saved = os.dup(1)
        with tempfile.TemporaryFile() as capture:
            os.dup2(capture.fileno(), 1)
            error = []

            def run():
                try:
                    call()
                except BaseException as exc:
                    error.append(f"{type(exc).__name__}: {exc}")
            try:
                if threaded:
                    worker = threading.Thread(target=run)
                    worker.start()
                    worker.join()
                else:
                    run()
            finally:
                sys.stdout.flush()
                os.dup2(saved, 1)
                os.close(saved)
            capture.seek(0)
            printed = capture.read().decode(errors="replace")
        found = changes(before, snapshot())
        if printed:
            found["stdout"] = printed[:500]
        if error:
            found["error"] = error[0]
        results[f"{name}:{'thread' if threaded else 'main'}"] = found

    torch.manual_seed(0)
    np.random.seed(0)
    check("import", lambda: __import__("flowkit"), threaded=False)
    import flowkit
    from flowkit.models import _api

    tmp = tempfile.mkdtemp()
    clip = os.path.join(tmp, "clip.mp4")
    frames = list(itertools.islice(flowkit.iter_frames(sys.argv[1], resize=(64, 36)), 2, 10))
    with flowkit.VideoWriter(clip, 24) as writer:
        for frame in frames:
            writer.write(frame)
    a, b, _ = flowkit.sample_pair()
    g0, g1 = a[:64, :64], b[:64, :64]
    flow = np.zeros((64, 64, 2), np.float32)
    out = lambda name: os.path.join(tmp, name)
    calls = {
        "farneback": lambda: flowkit.farneback(g0, g1),
        "dis": lambda: flowkit.dis(g0, g1),
        "lucas_kanade": lambda: flowkit.lucas_kanade(g0, g1),
        "variational_refinement": lambda: flowkit.variational_refinement(g0, g1, flow),
        "lucas_kanade_sparse": lambda: flowkit.lucas_kanade_sparse(g0, g1,
                                                                   flowkit.good_features(g0)),
        "warp": lambda: flowkit.warp(g1, flow),
        "splat": lambda: flowkit.splat(g0, flow),
        "fill_holes": lambda: flowkit.fill_holes(g0, np.zeros((64, 64), bool)),
        "smooth_flow": lambda: flowkit.smooth_flow(flow, method="bilateral", guide=g0),
        "extrapolate": lambda: flowkit.extrapolate(g0, flow, 2),
        "interpolate": lambda: flowkit.interpolate(g0, g1, 0.5),
        "interpolate_learned": lambda: flowkit.interpolate(g0, g1, 0.5, method="learned"),
        "predict": lambda: flowkit.predict(np.stack([g0, g1, g0]), 2),
        "predict_gan": lambda: flowkit.predict(np.stack([g0, g1, g0]), 2, method="gan"),
        "generate": lambda: flowkit.generate("a red circle moves left", frames=4, seed=0),
        "flow_to_color": lambda: flowkit.flow_to_color(flow),
        "metrics": lambda: flowkit.metrics.ssim(g0, g1),
        "write_flo": lambda: flowkit.write_flo(out("x.flo"), flow),
        "interpolate_video": lambda: list(flowkit.interpolate_video(frames[:3])),
        "retime": lambda: flowkit.retime(clip, out("r.mp4"), factor=2),
        "retime_learned": lambda: flowkit.retime(clip, out("l.mp4"), factor=2, method="learned"),
        "retime_svtav1": lambda: flowkit.retime(clip, out("a.webm"), factor=2, codec="libsvtav1"),
        "translate": lambda: flowkit.translate(clip, out("t.mp4"), "autocontrast"),
        "translate_colorize": lambda: flowkit.translate(clip, out("c.mp4"), "colorize"),
    }
    for name, call in calls.items():
        for threaded in (True, False):  # the first call from another thread
            _api._cached_model.cache_clear()  # each first call builds its model
            check(name, call, threaded)
    with open(sys.argv[2], "w") as file:
        json.dump(results, file)
''')

CASES = [f"{name}:{where}" for name in
         ["farneback", "dis", "lucas_kanade", "variational_refinement", "lucas_kanade_sparse",
          "warp", "splat", "fill_holes", "smooth_flow", "extrapolate", "interpolate",
          "interpolate_learned", "predict", "predict_gan", "generate", "flow_to_color",
          "metrics", "write_flo", "interpolate_video", "retime", "retime_learned",
          "retime_svtav1", "translate", "translate_colorize"]
         for where in ("thread", "main")]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    from cases import data_path

    folder = tmp_path_factory.mktemp("state")
    script, report = folder / "probe.py", folder / "results.json"
    script.write_text(SCRIPT)
    clip = data_path("video", "zwm__clip_01_tears_of_steel.mp4")
    if not os.path.exists(clip):
        pytest.skip("needs ../shared/data/video")
    env = {k: v for k, v in os.environ.items() if k != "SVT_LOG"}  # as a host has it
    done = subprocess.run([sys.executable, str(script), str(clip), str(report)], cwd=folder,
                          capture_output=True, text=True, env=env, timeout=1500)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout == "", done.stdout[-2000:]
    return json.loads(report.read_text())


def test_import_changes_nothing(results):
    assert results["import:main"] == {}


@pytest.mark.parametrize("case", CASES)
def test_a_call_changes_nothing(results, case):
    assert results[case] == {}
