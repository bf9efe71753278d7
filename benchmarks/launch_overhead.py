"""Cost of one short parallel launch under each OpenMP wait policy.

Run: ``python benchmarks/launch_overhead.py``. Each policy (libgomp's default, ACTIVE,
PASSIVE) runs in a fresh interpreter (the policy is read when the OpenMP runtime loads): an empty two-thread ``prange`` loop and a
640x480 float32 bilinear ``flowkit.warp``, 300 calls each, median and 90th percentile. This is
the measurement behind ``import flowkit`` setting ``OMP_WAIT_POLICY=PASSIVE`` (docs/api.md).
"""

import os
import subprocess
import sys

_CHILD = r"""
import time
import flowkit
import numpy as np
from numba import njit, prange

@njit(parallel=True)
def empty(a):
    for i in prange(a.shape[0]):
        a[i] += 1.0

def stats(fn, calls=300):
    fn()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e6 * np.median(times), 1e6 * np.percentile(times, 90)

flowkit.set_num_threads(2)
rng = np.random.default_rng(0)
image = rng.random((480, 640), dtype=np.float32)
flow = (rng.random((480, 640, 2), dtype=np.float32) - 0.5) * 4
a = np.zeros(2)
print("empty loop: median %.1f us, p90 %.1f us" % stats(lambda: empty(a)))
print("warp 640x480 float32: median %.0f us, p90 %.0f us" % stats(lambda: flowkit.warp(image, flow)))
"""


def main():
    # "" keeps flowkit from setting its default, so libgomp uses its own (spin, then sleep)
    for policy in ("", "ACTIVE", "PASSIVE"):
        env = dict(os.environ, OMP_WAIT_POLICY=policy)
        out = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True)
        print(f"OMP_WAIT_POLICY={policy or '(libgomp default)'}")
        print(out.stdout.strip() or out.stderr.strip())


if __name__ == "__main__":
    main()
