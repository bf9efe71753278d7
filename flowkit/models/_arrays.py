"""NumPy / CuPy arrays <-> torch tensors through DLPack for CuPy (``torch.from_dlpack``,
``cupy.from_dlpack``) and ``torch.from_numpy`` / ``Tensor.numpy`` for NumPy: no copy when the
array and the tensor live on the same device (a CuPy array and a CUDA model, a NumPy array and
a CPU model), and the intensity conventions of flowkit's images (integers over their dtype's
maximum, floats in [0, 1])."""

import numpy as np
import torch


def to_tensor(x, device="cpu"):
    """A NumPy or CuPy array (or anything with ``__dlpack__``) as a torch tensor on
    ``device``, sharing its memory when it is already there. NumPy arrays that DLPack cannot
    take as they are (negative strides, read-only) are made C-contiguous first. NumPy arrays go
    through ``torch.from_numpy`` (the same memory): NumPy's DLPack refuses bool before 1.25."""
    if not hasattr(x, "__dlpack__") or (isinstance(x, np.ndarray) and not (
            x.flags.c_contiguous and x.flags.writeable)):
        x = np.ascontiguousarray(x)
        if not x.flags.writeable:
            x = x.copy()
    if isinstance(x, np.ndarray):
        return torch.from_numpy(x).to(device)
    return torch.from_dlpack(x).to(device)


def like(tensor, reference):
    """``tensor`` as an array of ``reference``'s library (CuPy or NumPy), by DLPack for CuPy and
    ``Tensor.numpy`` for NumPy: the same memory when the tensor lives where the library does (a
    CPU tensor for NumPy). Not ``numpy.from_dlpack``: before NumPy 2.2 its arrays are read-only."""
    tensor = tensor.detach().contiguous()
    if type(reference).__module__.startswith("cupy"):
        import cupy

        return cupy.from_dlpack(tensor)
    return tensor.cpu().numpy()


def intensity_scale(dtype):
    """Full scale of an image dtype: the maximum of an integer type, 1 for floats."""
    dtype = np.dtype(dtype)
    return float(np.iinfo(dtype).max) if dtype.kind in "ui" else 1.0


def to_dtype(values, dtype):
    """float32 ``values`` (an array, in the dtype's units) as ``dtype``: integers rounded and
    saturated, floats cast."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return values.astype(dtype)
    info = np.iinfo(dtype)
    xp = np if isinstance(values, np.ndarray) else __import__("cupy")
    return xp.clip(xp.rint(values), info.min, info.max).astype(dtype)
