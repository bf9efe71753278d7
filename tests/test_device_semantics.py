"""The simulator's device arrays behave like Numba's ``DeviceNDArray`` in host code
(tests/device_semantics.py, installed by tests/conftest.py), so that host code on the GPU path
that only NumPy arrays allow fails in CI, and the public API's CUDA path passes with them.
"""

import os

import numpy as np
import pytest

import flowkit
from flowkit import _validate

pytestmark = pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") != "1",
                                reason="checks the CUDA simulator's arrays (NUMBA_ENABLE_CUDASIM=1)")


@pytest.fixture
def cuda():
    return pytest.importorskip("numba.cuda")


@pytest.fixture
def device(cuda):
    return cuda.to_device(np.arange(24, dtype=np.float32).reshape(2, 3, 4))


@pytest.mark.parametrize("index", [None, (Ellipsis, None), (slice(None), None), Ellipsis,
                                   np.array([0, 1]), [0, 1], (0, np.array([1]))])
def test_indexing_beyond_integers_and_slices_is_refused(device, index):
    # DeviceNDArray: TypeError from numba.cuda.cudadrv.dummyarray for None and Ellipsis, and no
    # fancy indexing
    with pytest.raises(TypeError, match="integer and slice indices only"):
        device[index]
    with pytest.raises(TypeError, match="integer and slice indices only"):
        device[index] = 0


def test_integer_and_slice_indexing_work(device):
    np.testing.assert_array_equal(device[1, :2, -1].copy_to_host(), [15, 19])
    assert device[1, 2, 3] == 23
    with pytest.raises(IndexError, match="1 extra indices"):
        device[0, 0, 0, 0]


def test_numpy_conversion_ufuncs_operators_and_methods_are_refused(device):
    with pytest.raises(TypeError, match="implicit conversion of a numba device array"):
        np.asarray(device)
    with pytest.raises(TypeError):
        np.multiply(device, 2)
    with pytest.raises(TypeError, match="unsupported operand"):
        np.float32(2) * device
    with pytest.raises(TypeError, match="no operator __mul__"):
        device * 2
    with pytest.raises(TypeError, match="no operator __lt__"):
        device < 1
    for name in ("astype", "copy", "min", "fill", "item", "sum"):
        with pytest.raises(AttributeError, match=f"no attribute '{name}'"):
            getattr(device, name)
    assert device.flags == {"C_CONTIGUOUS": True, "F_CONTIGUOUS": False}


def test_reshape_refuses_to_copy(device):
    assert device.reshape(6, 4).shape == (6, 4)
    assert device.reshape((1, 2, 3, 4, 1)).shape == (1, 2, 3, 4, 1)
    with pytest.raises(NotImplementedError, match="requires copying"):
        device[:, :, :2].reshape(12)
    with pytest.raises(NotImplementedError, match="requires copying"):
        device[:, :, :2].ravel()


def test_device_arrays_are_device_arrays_to_flowkit(cuda, device):
    from flowkit import _backend

    assert _backend.is_device_array(device)
    assert cuda.to_device(device) is device
    np.testing.assert_array_equal(_backend.to_host(device), np.arange(24).reshape(2, 3, 4))
    other = cuda.device_array((2, 3, 4), np.float32)
    other.copy_to_device(device)  # device to device
    np.testing.assert_array_equal(other.copy_to_host(), device.copy_to_host())


def test_numpy_arrays_passed_to_a_kernel_are_refused(cuda):
    @cuda.jit
    def kernel(a):
        a[0] = 1

    with pytest.raises(TypeError, match="argument 0 is a NumPy array"):
        kernel[1, 1](np.zeros(2, np.float32))
    device = cuda.to_device(np.zeros(2, np.float32))
    kernel[1, 1](device)
    assert device.copy_to_host()[0] == 1


@pytest.mark.parametrize("shape, batched, has_channels", [
    ((5, 6), False, False), ((5, 6, 3), False, True), ((2, 5, 6), True, False),
    ((2, 5, 6, 1), True, True)])
def test_to_nhwc_on_device_arrays(cuda, shape, batched, has_channels):
    host = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    out = _validate.to_nhwc(cuda.to_device(host), batched, has_channels)
    assert out.shape[0] == (shape[0] if batched else 1) and out.ndim == 4
    np.testing.assert_array_equal(out.copy_to_host().reshape(shape), host)


def test_single_gray_frame_lucas_kanade_on_the_cuda_path():
    # the case: to_nhwc indexed a device array with [None] and [..., None]
    rng = np.random.default_rng(1)
    frame0 = rng.random((24, 32)).astype(np.float32)
    frame1 = np.roll(frame0, 1, axis=1)
    kw = dict(radius=2, num_warp=1, levels=1)
    np.testing.assert_allclose(flowkit.lucas_kanade(frame0, frame1, device="cuda", **kw),
                               flowkit.lucas_kanade(frame0, frame1, **kw), atol=1e-5)
