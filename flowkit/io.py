"""Flow file formats: Middlebury ``.flo`` and KITTI 16-bit PNG.

Readers check the header against the byte count and raise ``ValueError`` naming the file
and the problem. Writers are atomic (temporary file, then rename).
"""

from pathlib import Path

import numpy as np

from ._atomic import atomic_path
from ._validate import check_flow

FLO_MAGIC = 202021.25
_FLO_HEADER_BYTES = 12


def read_flo(path):
    """Read a Middlebury ``.flo`` file.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    flow : ndarray, (H, W, 2) float32
        u then v; unknown values (>= 1e9) are kept as stored.

    Raises
    ------
    ValueError
        Wrong magic number, non-positive sizes, or a byte count that does not match.
    """
    path = Path(path)
    data = path.read_bytes()
    if len(data) < _FLO_HEADER_BYTES:
        raise ValueError(f"{path}: truncated .flo file, {len(data)} bytes is shorter than the 12-byte header")
    magic = np.frombuffer(data, "<f4", 1, 0)[0]
    if magic != np.float32(FLO_MAGIC):
        raise ValueError(f"{path}: not a .flo file, magic number {magic!r} instead of {FLO_MAGIC}")
    width, height = (int(v) for v in np.frombuffer(data, "<i4", 2, 4))
    if width <= 0 or height <= 0:
        raise ValueError(f"{path}: invalid .flo size {width}x{height}")
    expected = _FLO_HEADER_BYTES + 8 * width * height
    if len(data) != expected:
        raise ValueError(
            f"{path}: .flo size {width}x{height} needs {expected} bytes, the file has {len(data)}"
        )
    flow = np.frombuffer(data, "<f4", 2 * width * height, _FLO_HEADER_BYTES)
    return flow.reshape(height, width, 2).astype(np.float32)


def write_flo(path, flow):
    """Write ``flow`` ``(H, W, 2)`` to a Middlebury ``.flo`` file, atomically.

    Parameters
    ----------
    path : str or Path
    flow : array_like, (H, W, 2) float
    """
    flow = np.asarray(flow)
    check_flow("flow", flow)
    if flow.ndim != 3:
        raise ValueError(f"flow: expected shape (H, W, 2), got {flow.shape}")
    height, width = flow.shape[:2]
    header = np.array([FLO_MAGIC], "<f4").tobytes() + np.array([width, height], "<i4").tobytes()
    with atomic_path(path) as tmp:
        tmp.write_bytes(header + np.ascontiguousarray(flow, "<f4").tobytes())
