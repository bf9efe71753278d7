"""Backend dispatch: where a public function's kernels run and what array type it returns.

Rules (see docs/conventions.md, "Backends"):

* NumPy input runs the CPU kernels. CuPy input, or any object exposing
  ``__cuda_array_interface__``, runs the CUDA kernels.
* ``device="cpu" | "cuda"`` overrides the choice and moves data as needed.
* The output has the type of the input: NumPy in, NumPy out (even when computed on the
  GPU); GPU array in, CuPy out (even when computed on the CPU).
* Mixing host and device inputs is a ``TypeError``. A CUDA request without numba-cuda,
  CuPy or a GPU is an error that says what to install; there is never a silent fallback.

This module imports neither numba.cuda nor cupy until a CUDA path is actually taken.
"""

import sys

import numpy as np

CPU = "cpu"
CUDA = "cuda"
DEVICES = (CPU, CUDA)

_CUDA_HINT = (
    'install the CUDA extra: pip install "flowkit-cv[cuda]" '
    '(or "flowkit-cv[cuda13]" for CUDA 13 drivers)'
)


def is_device_array(array):
    """True for CuPy arrays and anything else exposing ``__cuda_array_interface__``."""
    return hasattr(array, "__cuda_array_interface__")


def check_device(device):
    """``device`` if it is None, "cpu" or "cuda", else the one ``ValueError`` every function
    raises for it."""
    if device is not None and (not isinstance(device, str) or device not in DEVICES):
        raise ValueError(f"device: expected one of {', '.join(map(repr, DEVICES))} or None, got "
                         f"{device!r}")
    return device


def select_device(device, **arrays):
    """Decide where the kernels run.

    Parameters
    ----------
    device : {None, "cpu", "cuda"}
        Explicit choice; None follows the inputs.
    **arrays
        The call's array arguments by parameter name; None values are ignored.

    Returns
    -------
    str
        ``"cpu"`` or ``"cuda"``.
    """
    places = {name: (CUDA if is_device_array(a) else CPU)
              for name, a in arrays.items() if a is not None}
    if len(set(places.values())) > 1:
        listing = ", ".join(f"{name} on {place}" for name, place in places.items())
        raise TypeError(
            f"inputs must all be host (NumPy) arrays or all device (CuPy) arrays, got {listing}; "
            "move them to one place first"
        )
    if device is None:
        device = CUDA if CUDA in places.values() else CPU
    else:
        check_device(device)
    if device == CUDA:
        require_cuda()
    return device


class CudaUnavailable(RuntimeError):
    """The CUDA backend was asked for on a machine without a usable GPU (the command line
    reports it as a usage error naming ``--device`` or ``--option device``, as the torch
    commands do)."""


def require_cuda():
    """Return the ``numba.cuda`` module, or raise an error that says what is missing."""
    try:
        from numba import cuda
    except ImportError as exc:  # numba-cuda not installed
        raise ImportError(f"the CUDA backend needs numba-cuda: {_CUDA_HINT}") from exc
    if not cuda.is_available():
        raise CudaUnavailable(
            "the CUDA backend was requested but no CUDA GPU or driver is available "
            "(set NUMBA_ENABLE_CUDASIM=1 to run the kernels in Numba's simulator); "
            f"otherwise {_CUDA_HINT}"
        )
    return cuda


def _require_cupy():
    try:
        import cupy
    except ImportError as exc:
        raise ImportError(f"returning GPU arrays needs CuPy: {_CUDA_HINT}") from exc
    return cupy


def as_array(array, name, *, frames=False, clips=False):
    """Wrap the input parameter ``name`` as something with ``shape``/``dtype``/``ndim``
    without moving it.

    NumPy arrays and CuPy arrays pass through; other ``__cuda_array_interface__`` objects
    become Numba device arrays (zero copy); anything else goes through ``np.asarray``, whose
    errors (a ragged nested list) are raised naming ``name``. An array in the other byte
    order (``>f4`` from a big-endian file, a PIL image of mode ``I;16B``) is copied to the
    native one: the kernels are compiled for native dtypes only. A subclass of ``ndarray``
    (``np.matrix``, ``np.memmap``) is viewed as a plain ``ndarray``: ``np.matrix`` stays 2-D
    under ``reshape`` and indexing. A masked array (``np.ma``) with masked values is a
    ``ValueError``: flowkit has no use for a mask there, and reading the values under it would
    be a silent guess; one with none masked is its data. A torch tensor that requires grad is
    a ``TypeError`` (before ``__cuda_array_interface__`` or ``np.asarray``, which raise torch's
    RuntimeError for it), as is one NumPy cannot hold (bfloat16, float8; the meta device). Where
    the parameter holds frames (``frames=True``), a torch tensor laid out channels-first
    (``(C, H, W)``, torchvision's layout: a third-last axis of at most 4 before a last axis
    longer than 4, which flowkit's layout rule would read as gray frames) is a ``ValueError``
    (:func:`_check_channels_last`); ``clips=True`` (``predict``'s clips) does so from 4-D on,
    since a 3-D clip is gray frames ``(T, H, W)``: one frame is no clip.
    """
    if _is_torch(array):
        if getattr(array, "requires_grad", False) is True:
            raise TypeError(f"{name}: expected an array, got a torch.Tensor that requires grad "
                            "(flowkit's functions are not differentiable); pass tensor.detach()")
        if frames or clips and array.ndim >= 4:
            _check_channels_last(array, name)
    if isinstance(array, np.ndarray):
        if type(array) is not np.ndarray:
            _check_unmasked(array, name)
        array = np.asarray(array)  # the same object for an ndarray, a plain view of a subclass
    else:
        if is_device_array(array):
            if type(array).__module__.startswith("cupy"):
                return array
            return require_cuda().as_cuda_array(array)
        try:
            array = np.asarray(array)
        except (ValueError, TypeError) as exc:
            if _is_torch(array):  # a bfloat16 tensor was "nested lists of equal lengths"
                remedy = ("a meta tensor holds no values" if array.device.type == "meta"
                          else "convert it, e.g. tensor.float()")
                raise TypeError(f"{name}: expected a CPU tensor of a dtype NumPy holds (uint8, "
                                f"uint16, float16, float32, float64, ...), got a "
                                f"{str(array.dtype).removeprefix('torch.')} tensor on "
                                f"{array.device.type} ({exc}); {remedy}") from None
            reason = str(exc).split(". ")[-1].rstrip(".")  # NumPy's last sentence: the shape
            raise type(exc)(f"{name}: expected an array (nested lists of equal lengths), got "
                            f"{type(array).__name__} that NumPy cannot convert "
                            f"({reason})") from None
    return array if array.dtype.isnative else array.astype(array.dtype.newbyteorder("="))


def _is_torch(array):
    return type(array).__module__.split(".")[0] == "torch"


def _check_channels_last(tensor, name):
    """Refuse a torch tensor of frames that looks channels-first: ``(C, H, W)`` or
    ``(N, C, H, W)`` with ``C <= 4`` (torchvision's layout), which the layout rule
    (docs/conventions.md, "Images") would read as a batch of ``C`` gray frames ``H`` high and
    ``W`` wide without a word. A NumPy array keeps the rule (``tensor.numpy()``)."""
    from ._validate import MAX_CHANNELS

    shape = tuple(tensor.shape)
    if len(shape) >= 3 and shape[-3] <= MAX_CHANNELS < shape[-1]:
        raise ValueError(f"{name}: expected frames channels last, (H, W) or (H, W, C) (batches "
                         f"(N, H, W[, C])), got a torch.Tensor of shape {shape}, which looks "
                         "channels-first (C, H, W), torchvision's layout: pass "
                         "tensor.movedim(-3, -1), or tensor.numpy() if it holds gray frames "
                         "(N, H, W)")


def _check_unmasked(array, name):
    """Refuse a NumPy masked array with masked values (numpy.ma is imported only by a caller
    who made one)."""
    ma = sys.modules.get("numpy.ma")
    if ma is None or not isinstance(array, ma.MaskedArray):
        return
    masked = int(ma.count_masked(array))
    if masked:
        raise ValueError(f"{name}: expected an array without masked values, got a masked array "
                         f"with {masked} of {array.size} values masked; fill them first "
                         "(array.filled(value)), or pass array.data to use the values under "
                         "the mask")


def array_module(array):
    """(xp, array): CuPy for CuPy input (other device arrays are wrapped by CuPy without a copy,
    or copied to the host when CuPy is missing, e.g. in Numba's simulator), else NumPy."""
    if is_device_array(array):
        if type(array).__module__.startswith("cupy"):
            import cupy

            return cupy, array
        try:
            import cupy
        except ImportError:
            return np, to_host(array)
        return cupy, cupy.asarray(array)
    return np, np.asarray(array)


def kept_copy(frame, name):
    """A copy of ``frame`` (an array, or what :func:`as_array` takes; the parameter ``name``)
    in its own array library, for a frame of a caller's iterable that is held while the next
    one is read: the iterable may refill one buffer (``cv2.VideoCapture.read(image=)``), which
    changed the held frame under the streaming functions (``interpolate_video`` blended a
    frame with itself)."""
    xp, frame = array_module(as_array(frame, name, frames=True))
    return xp.array(frame, copy=True)


def to_host(array):
    """Copy a device array to a NumPy array; NumPy input is returned as is."""
    if not is_device_array(array):
        return np.asarray(array)
    if hasattr(array, "get"):  # CuPy
        return array.get()
    return require_cuda().as_cuda_array(array).copy_to_host()


def to_device(array):
    """Return a Numba CUDA device array for ``array`` (zero copy when already on the GPU)."""
    cuda = require_cuda()
    if is_device_array(array):
        return cuda.as_cuda_array(array)
    return cuda.to_device(np.ascontiguousarray(array))


def to_output(result, gpu_input):
    """Give ``result`` the array type the caller passed in.

    Parameters
    ----------
    result : ndarray or device array
        What the driver produced.
    gpu_input : bool
        Whether the caller's input lived on the GPU (then the output is CuPy).
    """
    if gpu_input:
        cupy = _require_cupy()
        return cupy.asarray(result)
    return to_host(result)


def host_array(array, dtype, shape=None):
    """C-contiguous, writeable NumPy array of ``dtype`` (reshaped to ``shape`` when given).

    Device input is copied to the host. No copy is made when ``array`` already qualifies;
    writeable because Numba compiles read-only arrays as a separate type.
    """
    array = np.asarray(to_host(array), dtype=dtype)
    if shape is not None:
        array = array.reshape(shape)
    return np.require(array, requirements=("C", "W"))


def device_array(array, dtype, shape=None):
    """C-contiguous Numba device array of ``dtype`` (reshaped to ``shape`` when given).

    Zero copy when ``array`` is already such a device array; CuPy input converts on the device;
    anything else goes through the host (``host_array``) and is copied to the GPU.
    """
    if is_device_array(array):
        if type(array).__module__.startswith("cupy"):
            import cupy

            array = to_device(cupy.ascontiguousarray(array, dtype=dtype))
            return array if shape is None else array.reshape(shape)
        array = to_device(array)
        if array.dtype == dtype and array.is_c_contiguous():
            return array if shape is None else array.reshape(shape)
    return to_device(host_array(array, dtype, shape))
