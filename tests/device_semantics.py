"""Numba device-array semantics for the CUDA simulator's arrays (used by tests/conftest.py).

The simulator's device arrays (``FakeCUDAArray``) are NumPy arrays in thin disguise: host code
on the GPU path may index them with ``[None]`` or ``[..., None]``, index them with arrays, pass
them to NumPy functions and ufuncs, call NumPy methods on them (``astype``, ``min``, ...) or
reshape a non-contiguous one (a silent copy), and all of that passes under the simulator. On a
GPU the same code gets ``numba.cuda``'s ``DeviceNDArray``, which supports none of it: its
indexing takes integers and slices only (``numba.cuda.cudadrv.dummyarray``; ``None`` fails with
``TypeError: unsupported operand type(s) for +: 'NoneType' and 'int'``), it has no arithmetic
and no NumPy methods, and ``reshape``/``ravel`` refuse to copy (``NotImplementedError``).

:func:`install` makes the simulator's arrays behave like ``DeviceNDArray`` in host code (inside
a simulated kernel they keep the simulator's behaviour, so kernels run as before), so that host
code only NumPy allows fails in CI:

* indexing (get and set) with anything but integers and slices, or with more indices than
  dimensions: ``TypeError`` / ``IndexError``;
* attributes ``DeviceNDArray`` lacks (``astype``, ``copy``, ``min``, ``fill``, ...):
  ``AttributeError``; ``flags`` is a dict as on ``DeviceNDArray``;
* arithmetic and ordering operators, NumPy ufuncs, and implicit conversion to NumPy
  (``np.asarray``, ``np.copyto``, NumPy functions): ``TypeError``. ``DeviceNDArray.__array__``
  would copy to the host; on the GPU path such a silent round trip is a bug (slow, and writes
  to the copy are lost), so it is refused here: ``copy_to_host()`` says it explicitly;
* ``reshape``/``ravel`` that would need a copy: ``NotImplementedError``;
* a NumPy array passed to a kernel launch: ``TypeError`` (Numba copies it to the device and
  back around every launch, synchronously; the GPU path uploads its tables once).

It also gives them ``__cuda_array_interface__`` and provides ``numba.cuda.as_cuda_array`` /
``is_cuda_array`` for them (the simulator has neither), so ``flowkit._backend`` treats them as
the device arrays they stand for, as it treats ``DeviceNDArray`` on a GPU.
"""

import numbers

import numpy as np

# what numba.cuda's DeviceNDArray has besides what FakeCUDAArray defines itself
_DEVICE_ATTRIBUTES = frozenset({
    "dtype", "ndim", "size", "strides", "itemsize", "nbytes", "stream", "gpu_data",
    "squeeze", "split", "bind", "getitem", "setitem", "get_ipc_handle", "as_cuda_arg",
    "device_ctypes_pointer", "alloc_size",
})


def _in_kernel():
    from numba.cuda.simulator import kernel

    return kernel._kernel_context is not None


def _check_index(array, index):
    items = index if isinstance(index, tuple) else (index,)
    for item in items:
        if not isinstance(item, (numbers.Integral, slice)) or isinstance(item, np.ndarray):
            raise TypeError(
                f"numba device arrays take integer and slice indices only, got {item!r} in "
                f"index {index!r} (no None/newaxis, Ellipsis or array indexing: use reshape, "
                "explicit slices, or CuPy)")
    if len(items) > array._ary.ndim:
        raise IndexError(f"{len(items) - array._ary.ndim} extra indices given")


def _no_copy(array, result, what):
    if result.size and not np.may_share_memory(result, array._ary):
        raise NotImplementedError(f"{what} of a non-contiguous numba device array requires copying")
    return result


def install(monkeypatch):
    """Patch the simulator (through ``monkeypatch``) as described in the module docstring."""
    from numba import cuda
    from numba.cuda.simulator import kernel
    from numba.cuda.simulator.cudadrv import devicearray as sim
    from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray

    base = {name: getattr(FakeCUDAArray, name)
            for name in ("__getattr__", "__getitem__", "__setitem__", "reshape", "ravel",
                         "copy_to_device", "__eq__", "__ne__")}

    def getattr_(self, name):
        if _in_kernel() or name in _DEVICE_ATTRIBUTES:
            return base["__getattr__"](self, name)
        raise AttributeError(f"numba device arrays have no attribute {name!r} (NumPy's API is "
                             "host-only; use CuPy for array operations on the device)")

    def getitem(self, index):
        if not _in_kernel():
            _check_index(self, index)
        return base["__getitem__"](self, index)

    def setitem(self, index, value):
        if not _in_kernel():
            _check_index(self, index)
            if isinstance(value, FakeCUDAArray):
                value = value._ary
        return base["__setitem__"](self, index, value)

    def reshape(self, *shape, **kwargs):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        result = base["reshape"](self, shape, **kwargs)
        if not _in_kernel():
            _no_copy(self, result._ary, "reshape")
        return result

    def ravel(self, order="C"):
        result = base["ravel"](self, order)
        if not _in_kernel():
            _no_copy(self, result._ary, "ravel")
        return result

    def copy_to_device(self, ary, stream=0):
        if isinstance(ary, FakeCUDAArray):  # device to device, as DeviceNDArray does
            if ary._ary.shape != self._ary.shape or ary._ary.dtype != self._ary.dtype:
                raise TypeError(f"incompatible shape or dtype: {ary._ary.shape} {ary._ary.dtype} "
                                f"into {self._ary.shape} {self._ary.dtype}")
            np.copyto(self._ary, ary._ary)
            return
        base["copy_to_device"](self, ary, stream)

    def refuse(symbol):
        def operator(self, other):
            if _in_kernel():
                return getattr(self._ary, symbol)(other)
            raise TypeError(f"numba device arrays support no operator {symbol} (use CuPy)")
        return operator

    def equality(name):
        def operator(self, other):
            if _in_kernel():
                return base[name](self, other)
            return self is other if name == "__eq__" else self is not other
        return operator

    def to_numpy(self, dtype=None, copy=None):
        raise TypeError("implicit conversion of a numba device array to NumPy (np.asarray, a NumPy "
                        "function or ufunc): copy it with copy_to_host() or compute with CuPy")

    def interface(self):
        a = self._ary
        return {"shape": a.shape, "typestr": a.dtype.str, "data": (a.ctypes.data, False),
                "strides": None if a.flags.c_contiguous else a.strides, "version": 3}

    patches = {"__getattr__": getattr_, "__getitem__": getitem, "__setitem__": setitem,
               "reshape": reshape, "ravel": ravel, "copy_to_device": copy_to_device,
               "__eq__": equality("__eq__"), "__ne__": equality("__ne__"),
               "__array__": to_numpy, "__array_ufunc__": None,
               "__cuda_array_interface__": property(interface),
               "flags": property(lambda self: {"C_CONTIGUOUS": self._ary.flags.c_contiguous,
                                               "F_CONTIGUOUS": self._ary.flags.f_contiguous})}
    for symbol in ("__lt__", "__le__", "__gt__", "__ge__", "__add__", "__sub__", "__mul__",
                   "__floordiv__", "__truediv__", "__mod__", "__pow__"):
        patches[symbol] = refuse(symbol)
    for name, value in patches.items():
        monkeypatch.setattr(FakeCUDAArray, name, value, raising=False)

    def as_cuda_array(obj, sync=True):
        if isinstance(obj, FakeCUDAArray):
            return obj
        raise TypeError(f"the simulator's as_cuda_array takes its own device arrays, got "
                        f"{type(obj).__name__}")

    def to_device(obj, stream=0, copy=True, to=None):
        if isinstance(obj, FakeCUDAArray) and to is None:  # DeviceNDArray passes through
            return obj
        return sim_to_device(obj, stream, copy, to)

    sim_to_device = sim.to_device
    monkeypatch.setattr(cuda, "to_device", to_device)
    monkeypatch.setattr(cuda, "as_cuda_array", as_cuda_array, raising=False)
    monkeypatch.setattr(cuda, "is_cuda_array", lambda obj: isinstance(obj, FakeCUDAArray),
                        raising=False)

    launch = kernel.FakeCUDAKernel.__call__

    def checked_launch(self, *args):
        if not self._device and not _in_kernel():
            check_kernel_arguments(self.fn.__name__, args)
        return launch(self, *args)

    monkeypatch.setattr(kernel.FakeCUDAKernel, "__call__", checked_launch)


def check_kernel_arguments(name, args):
    """A kernel launch takes device arrays and scalars, no NumPy arrays (see the module
    docstring)."""
    for i, arg in enumerate(args):
        if isinstance(arg, np.ndarray) and arg.ndim > 0:
            raise TypeError(f"kernel {name}: argument {i} is a NumPy array {arg.shape} {arg.dtype}; "
                            "a launch copies it to the device and back every time: upload it once "
                            "(cuda.to_device)")
