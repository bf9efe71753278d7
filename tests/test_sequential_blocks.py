"""tests/sequential_blocks.py: the simulator's in-order block runner against analytic answers."""

import os
import textwrap

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") != "1",
                                reason="patches Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1)")

# written as files so that the kernels' modules do not contain this file's source: the runner
# picks the threaded path by the word "sync" + "threads" in a kernel's module
BARRIER = "from numba import cuda\n\n@cuda.jit(device=True)\ndef wait():\n    cuda.sync{}()\n"
KERNELS = """
from numba import cuda

import seqblocks_barrier

@cuda.jit
def indices(out, count):
    x = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    y = cuda.blockIdx.y * cuda.blockDim.y + cuda.threadIdx.y
    if y < out.shape[0] and x < out.shape[1]:
        out[y, x] = 1000 * cuda.blockIdx.y + 100 * cuda.blockIdx.x + 10 * cuda.threadIdx.y + cuda.threadIdx.x
        cuda.atomic.add(count, 0, 1)

@cuda.jit
def fails(out):
    if cuda.blockIdx.x == 1 and cuda.threadIdx.x == 2:
        out[99] = 1.0

@cuda.jit
def waits(out):
    seqblocks_barrier.wait()
"""


@pytest.fixture
def kernels(tmp_path, monkeypatch):
    (tmp_path / "seqblocks_barrier.py").write_text(BARRIER.format("threads"))
    (tmp_path / "seqblocks_kernels.py").write_text(textwrap.dedent(KERNELS))
    monkeypatch.syspath_prepend(str(tmp_path))
    import seqblocks_kernels

    return seqblocks_kernels


def test_every_thread_of_every_block_runs_once_with_its_indices(kernels):
    from numba import cuda

    out = cuda.to_device(np.full((5, 7), -1, np.int64))
    count = cuda.to_device(np.zeros(1, np.int64))
    kernels.indices[(2, 3), (4, 3)](out, count)  # grid 2x3 blocks of 4x3 threads: 5x7 used
    y, x = np.mgrid[:5, :7]
    want = 1000 * (y // 3) + 100 * (x // 4) + 10 * (y % 3) + x % 4
    np.testing.assert_array_equal(out.copy_to_host(), want)
    assert count.copy_to_host()[0] == 35


def test_an_error_names_the_thread_and_block_as_the_simulator_does(kernels):
    from numba import cuda

    with pytest.raises(IndexError, match=r"^tid=\[2, 0, 0\] ctaid=\[1, 0, 0\]"):
        kernels.fails[2, 4](cuda.to_device(np.zeros(8, np.float32)))


def test_a_barrier_outside_the_kernels_module_fails_loudly(kernels):
    from numba import cuda

    with pytest.raises(RuntimeError, match="seqblocks_kernels.waits reached cuda.syncthreads()"):
        kernels.waits[1, 2](cuda.to_device(np.zeros(2, np.float32)))
