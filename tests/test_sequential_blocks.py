"""tests/sequential_blocks.py: the simulator's block runners (in order; threads at a barrier)
against analytic answers."""

import os
import textwrap

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") != "1",
                                reason="patches Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1)")

# written as files: a device function in another module, reached as module.function
BARRIER = "from numba import cuda\n\n@cuda.jit(device=True)\ndef wait():\n    cuda.syncthreads()\n"
KERNELS = """
from numba import cuda, float64

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

BARRIERS = (seqblocks_barrier.wait,)  # a name the runner's search does not follow

@cuda.jit
def waits_unseen(out):
    BARRIERS[0]()

@cuda.jit
def block_sums(values, sums, votes):
    # a tree reduction in shared memory, synchronised through the other module's function
    t = cuda.threadIdx.x
    b = cuda.blockIdx.x
    red = cuda.shared.array(8, float64)
    red[t] = values[b, t]
    seqblocks_barrier.wait()
    s = 4
    while s > 0:
        if t < s:
            red[t] += red[t + s]
        seqblocks_barrier.wait()
        s //= 2
    if t == 0:
        sums[b] = red[0]
    positive = values[b, t] > 0
    count = cuda.syncthreads_count(positive)
    every = cuda.syncthreads_and(positive)
    some = cuda.syncthreads_or(positive)
    votes[b, t, 0] = count
    votes[b, t, 1] = every
    votes[b, t, 2] = some

@cuda.jit
def early_return(values, out):
    # threads that return before the barrier do not hold the others
    t = cuda.threadIdx.x
    if t >= 3:
        return
    values[t] = 10 * (t + 1)
    cuda.syncthreads()
    out[t] = values[t] + values[(t + 1) % 3]

@cuda.jit
def fails_before_the_barrier(out):
    if cuda.threadIdx.x == 2:
        out[99] = 1.0
    cuda.syncthreads()
"""


@pytest.fixture
def kernels(tmp_path, monkeypatch):
    (tmp_path / "seqblocks_barrier.py").write_text(BARRIER)
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


def test_a_barrier_the_search_does_not_find_fails_loudly(kernels):
    from numba import cuda

    with pytest.raises(RuntimeError, match="seqblocks_kernels.waits_unseen reached cuda.syncthreads()"):
        kernels.waits_unseen[1, 2](cuda.to_device(np.zeros(2, np.float32)))


def test_a_synchronising_kernel_reduces_and_votes_per_block(kernels):
    from numba import cuda

    values = np.array([[1, 2, 3, 4, 5, 6, 7, 8], [-1, 2, -3, 4, 0, 6, 7, 8],
                       [-1, -2, -3, -4, -5, -6, -7, -8]], np.float64)
    sums = cuda.to_device(np.zeros(3))
    votes = cuda.to_device(np.full((3, 8, 3), -1, np.int64))
    kernels.block_sums[3, 8](cuda.to_device(values), sums, votes)
    np.testing.assert_array_equal(sums.copy_to_host(), values.sum(axis=1))
    want = [[8, 1, 1], [5, 0, 1], [0, 0, 0]]  # count, and, or of values > 0, in every thread
    np.testing.assert_array_equal(votes.copy_to_host(), np.repeat(np.array(want)[:, None], 8, axis=1))


def test_threads_that_return_early_do_not_hold_the_barrier(kernels):
    from numba import cuda

    out = cuda.to_device(np.zeros(3, np.float32))
    kernels.early_return[1, 8](cuda.to_device(np.zeros(3, np.float32)), out)
    np.testing.assert_array_equal(out.copy_to_host(), [30, 50, 40])


def test_an_error_in_a_synchronising_kernel_is_raised_not_a_hang(kernels):
    from numba import cuda

    with pytest.raises(IndexError, match=r"^tid=\[2, 0, 0\] ctaid=\[0, 0, 0\]"):
        kernels.fails_before_the_barrier[1, 4](cuda.to_device(np.zeros(8, np.float32)))
