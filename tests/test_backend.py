"""Backend dispatch rules, thread control and the input checks' messages.

CUDA runs in Numba's simulator here (tests/conftest.py sets NUMBA_ENABLE_CUDASIM=1).
"""

import importlib.util
import re

import numba
import numpy as np
import pytest

import flowkit
from flowkit import _backend, _validate


class FakeDeviceArray:
    """Looks like a GPU array to flowkit: it only exposes ``__cuda_array_interface__``."""

    def __init__(self, array):
        self._array = np.ascontiguousarray(array)
        self.shape, self.dtype, self.ndim, self.size = (self._array.shape, self._array.dtype,
                                                        self._array.ndim, self._array.size)

    @property
    def __cuda_array_interface__(self):
        return {"shape": self.shape, "typestr": self.dtype.str, "data": (self._array.ctypes.data, False),
                "strides": None, "version": 3}


HOST = np.zeros((4, 5), np.float32)
DEVICE = FakeDeviceArray(np.zeros((4, 5), np.float32))


# --- select_device --------------------------------------------------------------------------------

def test_numpy_input_runs_on_cpu():
    assert _backend.select_device(None, frame0=HOST, frame1=HOST) == "cpu"
    assert _backend.select_device(None) == "cpu"
    assert _backend.select_device(None, frame0=HOST, mask=None) == "cpu"  # None arguments are ignored


def test_device_input_runs_on_cuda():
    assert _backend.is_device_array(DEVICE) and not _backend.is_device_array(HOST)
    assert _backend.select_device(None, frame0=DEVICE, frame1=DEVICE, flow=None) == "cuda"


def test_mixed_host_and_device_inputs_are_a_type_error():
    with pytest.raises(TypeError, match=r"inputs must all be host \(NumPy\) arrays or all device \(CuPy\) arrays, "
                                        r"got frame0 on cpu, frame1 on cuda"):
        _backend.select_device(None, frame0=HOST, frame1=DEVICE)
    with pytest.raises(TypeError, match=r"image on cuda, flow on cpu"):
        _backend.select_device("cpu", image=DEVICE, flow=HOST)  # an explicit device does not excuse mixing


def test_explicit_device_overrides_the_inputs():
    assert _backend.select_device("cpu", frame0=DEVICE) == "cpu"
    assert _backend.select_device("cuda", frame0=HOST) == "cuda"  # the simulator counts as available
    assert _backend.select_device("cuda") == "cuda"


@pytest.mark.parametrize("device", ["gpu", "CUDA", "cuda:0", 0, ""])
def test_unknown_device_is_a_value_error(device):
    with pytest.raises(ValueError, match=r"device: expected one of 'cpu', 'cuda' or None, got " + repr(device)):
        _backend.select_device(device, frame0=HOST)


def test_require_cuda_under_the_simulator():
    cuda = _backend.require_cuda()
    assert cuda.is_available()
    assert numba.config.ENABLE_CUDASIM  # conftest.py: no GPU needed for the CUDA path
    device_array = _backend.to_device(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(_backend.to_host(device_array), np.arange(6.0).reshape(2, 3))


# --- array helpers -----------------------------------------------------------------------------------

def test_to_output_and_to_host_on_host():
    result = np.arange(3.0)
    assert _backend.to_output(result, False) is result
    assert _backend.to_host(result) is result
    np.testing.assert_array_equal(_backend.to_host([1, 2]), np.array([1, 2]))


def test_as_array():
    assert _backend.as_array(HOST, "image") is HOST
    converted = _backend.as_array([[1, 2], [3, 4]], "image")
    assert isinstance(converted, np.ndarray) and converted.shape == (2, 2)


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_ndarray_subclasses_are_read_as_plain_arrays():
    """np.matrix frames: interpolate raised 'not enough values to unpack (expected 4, got 3)'
    and predict 'shape too large to be a matrix' (a matrix stays 2-D under reshape and
    indexing; found passing the ecosystem's array types to the public functions)."""
    rng = np.random.default_rng(5)
    frame0 = (rng.random((24, 28)) * 255).astype(np.uint8)
    frame1 = np.roll(frame0, 1, axis=1)
    assert type(_backend.as_array(np.matrix(frame0), "frame0")) is np.ndarray
    np.testing.assert_array_equal(flowkit.interpolate(np.matrix(frame0), np.matrix(frame1)),
                                  flowkit.interpolate(frame0, frame1))
    np.testing.assert_array_equal(flowkit.predict([np.matrix(frame0), np.matrix(frame1)], 1),
                                  flowkit.predict([frame0, frame1], 1))


def test_a_torch_tensor_that_requires_grad_is_named():
    """torch.Tensor.requires_grad_(True): torch's 'RuntimeError: Can't call numpy() on Tensor
    that requires grad' from inside np.asarray, naming no parameter (every function; found
    passing torch tensors to the public functions). A detached tensor is its values."""
    torch = pytest.importorskip("torch")
    image = np.arange(30, dtype=np.float32).reshape(5, 6)
    flow = np.full((5, 6, 2), 0.5, np.float32)
    for call, name in ((lambda i, f: flowkit.warp(i, f), "image"),
                       (lambda i, f: flowkit.warp(image, f), "flow"),
                       (lambda i, f: flowkit.predict(torch.stack([i, i]), 1), "frames"),
                       (lambda i, f: list(flowkit.farneback_video(iter([i, i]))), r"frames\[0\]")):
        with pytest.raises(TypeError, match=rf"^{name}: expected an array, got a torch.Tensor "
                                            r"that requires grad \(flowkit's functions are not "
                                            r"differentiable\); pass tensor.detach\(\)$"):
            call(torch.from_numpy(image).requires_grad_(True),
                 torch.from_numpy(flow).requires_grad_(True))
    np.testing.assert_array_equal(
        flowkit.warp(torch.from_numpy(image).requires_grad_(True).detach(), flow),
        flowkit.warp(image, flow))


def test_a_torch_tensor_numpy_cannot_hold_is_named_with_its_dtype():
    """A bfloat16 tensor (a torch model's output under autocast) was "expected an array (nested
    lists of equal lengths), got Tensor that NumPy cannot convert (Got unsupported ScalarType
    BFloat16)": the message now says what is wrong with it and how to convert it."""
    torch = pytest.importorskip("torch")
    image = torch.rand(5, 6, 3)
    flow = np.zeros((5, 6, 2), np.float32)
    with pytest.raises(TypeError, match=r"^image: expected a CPU tensor of a dtype NumPy holds "
                                        r"\(uint8, .*\), got a bfloat16 tensor on cpu \(.*"
                                        r"BFloat16\); convert it, e.g. tensor.float\(\)$"):
        flowkit.warp(image.bfloat16(), flow)
    with pytest.raises(TypeError, match=r"^frame0: .*, got a float32 tensor on meta "
                                        r"\(.*\); a meta tensor holds no values$"):
        flowkit.interpolate(image.to("meta"), image.to("meta"))
    np.testing.assert_array_equal(flowkit.warp(image.bfloat16().float(), flow),
                                  flowkit.warp(image.bfloat16().float().numpy(), flow))


def test_a_channels_first_torch_tensor_is_refused_not_read_as_gray_frames():
    """A (C, H, W) tensor as torchvision gives it was read by the layout rule as C gray
    frames: warp, splat, fill_holes, farneback, interpolate and the metrics returned C results
    of the wrong frames without a word, predict read (N, C, H, W) as N clips of C gray frames
    (found passing torch tensors to the public functions). A NumPy array keeps the rule, and a
    channels-last tensor is read as its NumPy array."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    frames = (rng.random((2, 12, 14, 3)) * 255).astype(np.uint8)
    flow = rng.uniform(-1, 1, (12, 14, 2)).astype(np.float32)
    chw = torch.from_numpy(frames).movedim(-1, -3)
    calls = [(lambda x: flowkit.warp(x[0], flow), "image"),
             (lambda x: flowkit.fill_holes(x[0], np.zeros((12, 14), bool)), "image"),
             (lambda x: flowkit.farneback(x[0], x[1]), "frame0"),
             (lambda x: flowkit.interpolate(x[0], x[1], flow01=flow, flow10=-flow), "frame0"),
             (lambda x: flowkit.metrics.psnr(x[0], x[1]), "image"),
             (lambda x: flowkit.predict(x, 1), "frames"),
             (lambda x: list(flowkit.farneback_video(iter(x))), r"frames\[0\]")]
    for call, name in calls:
        with pytest.raises(ValueError, match=rf"^{name}: expected frames channels last, .* got a "
                                            r"torch.Tensor of shape \((2, )?3, 12, 14\), which "
                                            r"looks channels-first \(C, H, W\)"):
            call(chw)
    np.testing.assert_array_equal(flowkit.warp(chw[0].movedim(0, -1), flow),
                                  flowkit.warp(frames[0], flow))
    assert flowkit.warp(chw[0].numpy(), flow).shape == (3, 12, 14)  # NumPy: 3 gray frames
    gray_clip = torch.from_numpy(frames[..., 0])  # (T, H, W) for predict, which one frame is not
    np.testing.assert_array_equal(flowkit.predict(gray_clip, 1, flow="lucas_kanade"),
                                  flowkit.predict(frames[..., 0], 1, flow="lucas_kanade"))


def _masked_calls():
    rng = np.random.default_rng(6)
    frames = (rng.random((3, 16, 20, 3)) * 255).astype(np.uint8)
    flow = rng.uniform(-1, 1, (16, 20, 2)).astype(np.float32)
    return frames, flow, [
        ("image", lambda f, w, _: flowkit.warp(f[0], w)),
        ("flow01", lambda f, w, _: flowkit.interpolate(f[0], f[1], flow01=w, flow10=-flow)),
        ("flow", lambda f, w, path: flowkit.write_flo(path, w)),
        ("frames[0]", lambda f, w, _: flowkit.predict(list(f), 1)),
        ("frames[0]", lambda f, w, _: list(flowkit.farneback_video(iter(f)))),
        ("frames[0]", lambda f, w, _: list(flowkit.interpolate_video(iter(f)))),
        ("processed[0]", lambda f, w, _: list(flowkit.temporally_consistent(f.data, f))),
    ]


@pytest.mark.parametrize("index", range(len(_masked_calls()[2])))
def test_a_masked_array_with_masked_values_is_refused(index, tmp_path):
    """np.ma arrays passed as plain ones: the mask was ignored (warp, write_flo, the streaming
    functions) or half-used (interpolate's flow01 went through masked arithmetic: neither the
    plain result nor one that honours the mask, 57 grey levels from the first); found passing
    the ecosystem's array types to the public functions. A mask with nothing masked is the
    data."""
    frames, flow, calls = _masked_calls()
    name, call = calls[index]
    frames_mask = np.zeros(frames.shape, bool)
    flow_mask = np.zeros(flow.shape, bool)
    if name in ("image", "frames[0]", "processed[0]"):
        frames_mask[0, 3, 4] = True
    else:
        flow_mask[3, 4] = True
    path = tmp_path / "flow.flo"  # for write_flo
    with pytest.raises(ValueError, match=rf"^{re.escape(name)}: expected an array without masked "
                                         r"values, got a masked array with \d+ of \d+ values "
                                         r"masked; fill them first"):
        call(np.ma.masked_array(frames, frames_mask), np.ma.masked_array(flow, flow_mask), path)
    assert not path.exists()


def test_a_masked_array_with_nothing_masked_is_its_data():
    frames, flow, _ = _masked_calls()
    unmasked = np.ma.masked_array(frames[0], np.zeros(frames[0].shape, bool))
    np.testing.assert_array_equal(flowkit.warp(unmasked, np.ma.masked_array(flow)),
                                  flowkit.warp(frames[0], flow))


@pytest.mark.parametrize("call", [
    lambda ragged: flowkit.warp(ragged, np.zeros((2, 2, 2), np.float32)),
    lambda ragged: flowkit.splat(ragged, np.zeros((2, 2, 2), np.float32)),
    lambda ragged: flowkit.smooth_flow(ragged),
    lambda ragged: flowkit.farneback(ragged, ragged),
])
def test_a_ragged_list_is_named(call):
    # NumPy's "inhomogeneous shape" error named no parameter
    with pytest.raises(ValueError, match=r"^(image|flow|frame0): expected an array \(nested lists "
                                         r"of equal lengths\), got list that NumPy cannot "
                                         r"convert \(The detected shape was \(2,\)"):
        call([[1, 2], [3]])


@pytest.mark.parametrize("call, name", [
    (lambda f, ragged: flowkit.interpolate(f, f, flow01=ragged, flow10=ragged), "flow01"),
    (lambda f, ragged: flowkit.lucas_kanade_sparse(f, f, [[1, 2], [3]]), "points"),
    (lambda f, ragged: flowkit.lucas_kanade_sparse(f, f, [[1.0, 2.0]], init_points=[[1, 2], [3]]),
     "init_points"),
    (lambda f, ragged: flowkit.metrics.psnr(ragged, f), "image"),
    (lambda f, ragged: flowkit.metrics.warping_error(f, ragged, np.zeros((8, 8, 2), np.float32)),
     "previous"),
])
def test_a_ragged_list_is_named_as_the_caller_names_it(call, name):
    # the helpers that check a parameter for their caller (its name given) named their own
    # variable: "f", "points", "image", "reference"
    frame = np.zeros((8, 8), np.uint8)
    with pytest.raises(ValueError, match=rf"^{name}: expected an array \(nested lists"):
        call(frame, [[1, 2], [3]])


@pytest.mark.skipif(importlib.util.find_spec("cupy") is not None, reason="CuPy is installed")
def test_gpu_output_without_cupy_says_what_to_install():
    with pytest.raises(ImportError, match=r"returning GPU arrays needs CuPy: install the CUDA extra"):
        _backend.to_output(np.zeros(2), True)


# --- threads ---------------------------------------------------------------------------------------

@pytest.fixture
def restore_threads():
    before = flowkit.get_num_threads()
    yield
    flowkit.set_num_threads(before)


def test_set_and_get_num_threads(restore_threads):
    flowkit.set_num_threads(1)
    assert flowkit.get_num_threads() == 1 == numba.get_num_threads()
    flowkit.set_num_threads(np.int64(numba.config.NUMBA_NUM_THREADS))
    assert flowkit.get_num_threads() == numba.config.NUMBA_NUM_THREADS


@pytest.mark.parametrize(
    "value, error, match",
    [
        (0, ValueError, r"n: expected an integer >= 1, got 0"),
        (-2, ValueError, r"n: expected an integer >= 1, got -2"),
        (10**6, ValueError, r"n: expected an integer <= \d+, got 1000000"),
        (2.0, TypeError, r"n: expected an integer, got 2\.0"),
        ("2", TypeError, r"n: expected an integer, got '2'"),
        (True, TypeError, r"n: expected an integer, got True"),
        (None, TypeError, r"n: expected an integer, got None"),
    ],
)
def test_set_num_threads_rejects_bad_values(restore_threads, value, error, match):
    before = flowkit.get_num_threads()
    with pytest.raises(error, match=match):
        flowkit.set_num_threads(value)
    assert flowkit.get_num_threads() == before


# --- _validate messages: "<name>: expected <what>, got <given>" -----------------------------------

@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: _validate.check_array("frame0", [1, 2]), TypeError, r"frame0: expected an array, got list"),
        (lambda: _validate.check_array("frame0", np.zeros((0, 3))), ValueError,
         r"frame0: expected a non-empty array, got shape \(0, 3\)"),
        (lambda: _validate.check_image_dtype("image", np.zeros(3, bool)), TypeError,
         r"image: expected dtype uint8, uint16, float16, float32 or float64, got bool"),
        (lambda: _validate.check_image_dtype("image", np.zeros(3, np.complex64)), TypeError, r"got complex64"),
        (lambda: _validate.check_image("frame1", np.zeros(5, np.uint8)), ValueError,
         r"frame1: expected 2-D or 3-D or 4-D array, got 1-D with shape \(5,\)"),
        (lambda: _validate.check_image("frame1", np.zeros((2, 2, 2), np.uint8), ndims=(2,)), ValueError,
         r"frame1: expected 2-D array, got 3-D"),
        (lambda: _validate.check_image("frame1", np.zeros((2, 2), np.int32)), TypeError, r"frame1: expected dtype .* got int32"),
        (lambda: _validate.check_same_shape("frame0", HOST, "frame1", np.zeros((5, 4))), ValueError,
         r"frame1: expected the same shape as frame0 \(4, 5\), got \(5, 4\)"),
        (lambda: _validate.check_flow("flow", np.zeros((4, 5, 2), np.int32)), TypeError,
         r"flow: expected a float dtype \(float16, float32 or float64\), got int32"),
        (lambda: _validate.check_flow("flow", np.zeros((4, 5, 3), np.float32)), ValueError,
         r"flow: expected shape \(H, W, 2\) or \(N, H, W, 2\), got \(4, 5, 3\)"),
        (lambda: _validate.check_flow("flow", np.zeros((4, 5, 2), np.float32), shape=(4, 6)), ValueError,
         r"flow: expected shape \(4, 6, 2\), got \(4, 5, 2\)"),
        (lambda: _validate.check_choice("border", "wrapp", ("wrap", "reflect")), ValueError,
         r"border: expected one of 'wrap', 'reflect', got 'wrapp'"),
        (lambda: _validate.check_choice("border", 1, ("wrap",)), TypeError, r"border: expected one of 'wrap', got 1"),
        (lambda: _validate.check_int("levels", 2.5), TypeError, r"levels: expected an integer, got 2\.5"),
        (lambda: _validate.check_int("levels", False), TypeError, r"levels: expected an integer, got False"),
        (lambda: _validate.check_int("levels", 0, min_value=1), ValueError, r"levels: expected an integer >= 1, got 0"),
        (lambda: _validate.check_int("levels", 9, max_value=8), ValueError, r"levels: expected an integer <= 8, got 9"),
        (lambda: _validate.check_int("win_size", 4, odd=True), ValueError, r"win_size: expected an odd integer, got 4"),
        (lambda: _validate.check_float("sigma", "1"), TypeError, r"sigma: expected a real number, got '1'"),
        (lambda: _validate.check_float("sigma", float("nan")), ValueError, r"sigma: expected a finite number, got nan"),
        (lambda: _validate.check_float("sigma", 0.0, low=0, low_open=True), ValueError,
         r"sigma: expected a number in \(0, inf\], got 0\.0"),
        (lambda: _validate.check_float("t", 1.5, low=0, high=1), ValueError, r"t: expected a number in \[0, 1\], got 1\.5"),
        (lambda: _validate.check_float("t", 1.0, low=0, high=1, high_open=True), ValueError,
         r"t: expected a number in \[0, 1\), got 1\.0"),
        (lambda: _validate.check_float("x", 3.0, high=2), ValueError, r"x: expected a number in \[-inf, 2\], got 3\.0"),
    ],
)
def test_validate_messages_name_expected_and_given(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_validate_accepts_good_values():
    _validate.check_image("image", np.zeros((2, 3, 4, 1), np.float16))
    _validate.check_flow("flow", np.zeros((2, 4, 5, 2), np.float64), shape=(2, 4, 5))
    assert _validate.check_int("n", np.int32(3), odd=True) == 3
    assert _validate.check_float("t", 1, low=0, high=1) == 1.0
    assert _validate.check_choice("mode", "wrap", ("wrap",)) == "wrap"
    _validate.check_image("image", DEVICE)  # only shape, dtype and ndim are read


@pytest.mark.parametrize(
    "shape, layout, nhwc",
    [
        ((6, 7), (False, False), (1, 6, 7, 1)),
        ((6, 7, 3), (False, True), (1, 6, 7, 3)),
        ((6, 7, 4), (False, True), (1, 6, 7, 4)),
        ((5, 6, 7), (True, False), (5, 6, 7, 1)),  # last axis > 4: a gray batch
        ((2, 6, 7, 3), (True, True), (2, 6, 7, 3)),
    ],
)
def test_frames_layout_and_to_nhwc(shape, layout, nhwc):
    array = np.zeros(shape, np.uint8)
    assert _validate.frames_layout(array) == layout
    view = _validate.to_nhwc(array, *layout)
    assert view.shape == nhwc and np.shares_memory(view, array)
