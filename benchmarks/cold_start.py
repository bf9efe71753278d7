"""Cold-start (JIT compilation) cost of each public function, the way a new user meets it.

The cases are ``flowkit._warmup.CASES`` (one call of a public function on tiny inputs, the
calls ``flowkit warmup`` makes). Each case runs in a fresh Python process with an empty
``NUMBA_CACHE_DIR``: the first call compiles every kernel it needs and writes the cache; a
second process with the filled cache shows what every later run pays. ``python benchmarks/cold_start.py [--repeat N] [CASE ...]``
prints, per case, the median [range] over N repeats of: import time, first call (cold
cache; wall clock, then the process's CPU time, user + system, which other jobs on the
machine disturb less: compilation is single-threaded), first call (warm cache), steady call. ``all`` calls every case once in one process;
``demo`` times ``python -m flowkit demo`` end to end (wall clock, process start included).
``interpolate_learned`` (listed when torch is installed; not a ``flowkit warmup`` case, which
must work without torch) is ``interpolate(method="learned")`` on the tiny RGB pair: torch's
import and the shipped model's loading count in its first call. ``predict_gan`` (also only
with torch) is ``predict(method="gan")`` on a 3-frame clip of the tiny gray frame;
``generate`` is ``flowkit.generate("a red circle moves left", seed=0)`` (no Numba kernel:
torch's import and the model's loading).
"""

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from flowkit._warmup import CASES

TORCH_CASES = ["interpolate_learned", "predict_gan", "generate"]
LEARNED = TORCH_CASES if importlib.util.find_spec("torch") else []

CHILD = """
import json, resource, time
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
t0 = time.perf_counter()
import flowkit
from flowkit._warmup import CASES, _case
CASES = dict(CASES, interpolate_learned=_case(
    lambda fk, gray, rgb, flow, pts: fk.interpolate(rgb, rgb, method="learned")),
    predict_gan=_case(lambda fk, gray, rgb, flow, pts: fk.predict([gray] * 3, 2, method="gan")),
    generate=_case(lambda fk, gray, rgb, flow, pts: fk.generate("a red circle moves left", seed=0)))
t1 = time.perf_counter()
out = {{"import": t1 - t0}}
c = cpu()
for name in {names!r}:
    t = time.perf_counter(); CASES[name](); out[name] = time.perf_counter() - t
out["cpu"] = cpu() - c
t = time.perf_counter(); CASES[name](); out["steady"] = time.perf_counter() - t
print(json.dumps(out))
"""


def run_child(names, cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    code = CHILD.format(names=list(names))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def time_case(names):
    """(import s, cold first calls s, warm first calls s, steady s, cold first calls CPU s)
    for one fresh cache."""
    with tempfile.TemporaryDirectory() as cache:
        cold = run_child(names, cache)
        warm = run_child(names, cache)
    first = sum(v for k, v in cold.items() if k not in ("import", "steady", "cpu"))
    first_warm = sum(v for k, v in warm.items() if k not in ("import", "steady", "cpu"))
    return cold["import"], first, first_warm, warm["steady"], cold["cpu"]


def time_demo():
    """(cold wall s, warm wall s) of ``python -m flowkit demo`` in a scratch folder."""
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as work:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        walls = []
        for _ in range(2):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "flowkit", "demo", "--out", work], env=env,
                           check=True, capture_output=True)
            walls.append(time.perf_counter() - t)
    return walls


def summary(values):
    med = statistics.median(values)
    return f"{med:7.2f} [{min(values):.2f}-{max(values):.2f}]"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    known = list(CASES) + LEARNED + ["all", "demo"]
    parser.add_argument("cases", nargs="*",
                        help=f"cases (default all): {', '.join(known)}")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    unknown = [name for name in args.cases if name not in known]
    if set(unknown) & set(TORCH_CASES):
        parser.error(f"cases: {', '.join(sorted(set(unknown) & set(TORCH_CASES)))} need torch "
                     '(pip install "flowkit-cv[torch]")')
    if unknown:
        parser.error(f"cases: expected names among {', '.join(known)}; got {', '.join(unknown)}")
    if args.repeat < 1:
        parser.error(f"--repeat: expected an integer >= 1, got {args.repeat}")
    names = args.cases or known
    print(f"python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.1f}, "
          f"{args.repeat} repeat(s); seconds, median [range]")
    print(f"{'case':22s} {'import':>16s} {'first call cold':>18s} {'cold, CPU':>18s} "
          f"{'first call warm':>18s} {'steady':>16s}")
    for name in names:
        if name == "demo":
            runs = [time_demo() for _ in range(args.repeat)]
            print(f"{'demo (wall, process)':22s} {'':16s} {summary([r[0] for r in runs]):>18s} "
                  f"{'':18s} {summary([r[1] for r in runs]):>18s}")
            continue
        runs = [time_case(list(CASES) if name == "all" else [name]) for _ in range(args.repeat)]
        cols = [summary([r[i] for r in runs]) for i in range(5)]
        print(f"{name:22s} {cols[0]:>16s} {cols[1]:>18s} {cols[4]:>18s} {cols[2]:>18s} "
              f"{cols[3]:>16s}")


if __name__ == "__main__":
    main()
