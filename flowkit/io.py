"""Flow file formats: Middlebury ``.flo`` and KITTI 16-bit PNG.

Readers check the content against the byte count and raise ``ValueError`` naming the file
and the problem (OpenCV's readers return an empty array instead). Writers are atomic: the
data goes to a temporary file beside the target that is renamed onto it once complete, so
a failed write leaves no partial file and never destroys an existing one.

Flow follows flowkit's convention (docs/conventions.md): ``(H, W, 2)`` float32,
``flow[..., 0] = u`` (x), ``flow[..., 1] = v`` (y), ``frame0[y, x] ~ frame1[y + v, x + u]``.
"""

import contextlib
import os
from pathlib import Path

import numpy as np

from ._atomic import atomic_path, refuse_special_input
from ._backend import as_array, to_host
from ._validate import UNKNOWN_FLOW, check_flow, check_path, check_valid_mask

__all__ = ["read_flo", "write_flo", "read_kitti_flow", "write_kitti_flow"]

FLO_MAGIC = 202021.25
_FLO_HEADER_BYTES = 12
KITTI_SCALE = 64.0
KITTI_OFFSET = 2.0**15


def _host_flow(name, flow):
    """Check a single flow field (H, W, 2) and return it as a NumPy array."""
    flow = as_array(flow, name)
    check_flow(name, flow, batch=False)
    return to_host(flow)


@contextlib.contextmanager
def _opened(path, what, check_name=None):
    """``path`` (the parameter ``path`` of a reader of ``what``, ``".flo"``) opened for
    binary reading, its errors starting ``path: `` as the other path errors of flowkit (the
    video reader's, ``check_folder``'s): a folder, a name ``check_name(path)`` refuses (before
    the file is looked for), a missing file, a FIFO or device (opening a FIFO waited for a
    writer for ever, ``/dev/zero`` was read until memory ran out), a file that cannot be read
    (an OSError while the file is read too)."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"path: {path} is a folder; expected a {what} file")
    if check_name is not None:
        check_name(path)
    refuse_special_input(path, f"a {what} file", f"path: {path}")
    try:
        with path.open("rb") as file:
            yield file
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"path: no such {what} file: {path}") from exc
    except OSError as exc:
        raise type(exc)(f"path: cannot read {path} ({exc.strerror or exc})") from exc


def _read_bytes(path, what, check_name=None):
    """The bytes of the file ``path``, with :func:`_opened`'s errors."""
    with _opened(path, what, check_name) as file:
        return file.read()


def check_flo_name(path, name="path", quote=True):
    """``path`` (a file, not a folder) must name a ``.flo`` file, as the Middlebury reference
    code's ``ReadFlowFile`` and ``WriteFlowFile`` require (flowIO.cpp; any case): OpenCV's
    ``readOpticalFlow`` and ``writeOpticalFlow`` take any name, so ``write_flo("flow.png",
    flow)`` wrote Middlebury bytes under a PNG's name. Else a ValueError naming ``name`` (the
    command line's ``-o`` and ``FLO`` give their flags and the path unquoted)."""
    if Path(path).suffix.lower() != ".flo":
        shown = repr(str(path)) if quote else str(path)
        raise ValueError(f"{name}: expected a .flo path, got {shown}")


def read_flo(path):
    """Read a Middlebury ``.flo`` file.

    Layout: float32 magic 202021.25, int32 width, int32 height, then ``height * width``
    pairs of float32 (u, v), row-major, little-endian.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    flow : ndarray, (H, W, 2) float32
        u then v in pixels. Unknown values (``|u|`` or ``|v| >= 1e9``, Middlebury's marker
        for pixels without ground truth) are kept as stored; ``flowkit.metrics`` skips them.

    Raises
    ------
    TypeError
        ``path`` is not a str or ``os.PathLike`` (``path: expected a path ...``).
    FileNotFoundError, IsADirectoryError, OSError
        The file does not exist, is a folder or cannot be read (``path: no such .flo file:
        ...``, ``path: ... is a folder ...``, ``path: cannot read ...``).
    ValueError
        ``path`` is empty or its extension is not ``.flo`` (any case; Middlebury's
        ``ReadFlowFile`` refuses other names, OpenCV's ``readOpticalFlow`` reads them:
        ``path: expected a .flo path, got 'flow.png'``); a truncated file, wrong magic
        number, non-positive sizes, or sizes that do not match the byte count (checked before
        the data is read); the message names the parameter and the file (``path: FILE:
        ...``). ``path`` is a FIFO or a device (``path: F is a FIFO, not a regular file ...``).

    References
    ----------
    S. Baker et al., "A Database and Evaluation Methodology for Optical Flow", IJCV 92(1), 2011.

    Examples
    --------
    >>> flow = read_flo("flow10.flo")  # doctest: +SKIP
    >>> flow.shape, flow.dtype  # doctest: +SKIP
    ((388, 584, 2), dtype('float32'))
    """
    check_path("path", path)
    path = Path(path)
    # the header is checked against the file's size before the data is read: a large file
    # that is not a .flo file (a video named x.flo) was read whole into memory first
    with _opened(path, ".flo", check_flo_name) as file:
        header = file.read(_FLO_HEADER_BYTES)
        size = os.fstat(file.fileno()).st_size
        if len(header) < _FLO_HEADER_BYTES:
            raise ValueError(f"path: {path}: truncated .flo file, {len(header)} bytes is shorter "
                             "than the 12-byte header")
        magic = np.frombuffer(header, "<f4", 1, 0)[0]
        if magic != np.float32(FLO_MAGIC):
            raise ValueError(f"path: {path}: not a .flo file, magic number {float(magic)!r} "
                             f"instead of {FLO_MAGIC}")
        width, height = (int(v) for v in np.frombuffer(header, "<i4", 2, 4))
        if width <= 0 or height <= 0:
            raise ValueError(f"path: {path}: invalid .flo size {width}x{height} (width x height)")
        expected = _FLO_HEADER_BYTES + 8 * width * height
        if size == expected:
            data = file.read(expected - _FLO_HEADER_BYTES + 1)  # one more: a file that grew
            size = _FLO_HEADER_BYTES + len(data)
    if size != expected:
        problem = "truncated .flo file" if size < expected else "extra bytes after the .flo data"
        raise ValueError(
            f"path: {path}: {problem}: size {width}x{height} (width x height) needs {expected} "
            f"bytes, the file has {size}"
        )
    flow = np.frombuffer(data, "<f4", 2 * width * height)
    return flow.reshape(height, width, 2).astype(np.float32)


def write_flo(path, flow):
    """Write one flow field to a Middlebury ``.flo`` file, atomically.

    Parameters
    ----------
    path : str or Path
        The file to create or replace; its extension must be ``.flo`` (any case), as the
        Middlebury reference code's ``WriteFlowFile`` requires (OpenCV's
        ``cv2.writeOpticalFlow`` writes the same bytes under any name: ``a.png`` got a
        ``.flo`` file).
    flow : array_like, (H, W, 2) float16, float32 or float64
        u then v in pixels; stored as float32. NaN and unknown values are stored as given;
        values beyond float32's range (float64 flows) as inf, which reads back as unknown.

    Raises
    ------
    ValueError, TypeError
        ``flow`` is not a single ``(H, W, 2)`` float array; ``path`` is empty or does not end
        in ``.flo`` (ValueError: ``path: expected a .flo path, got 'a.png'``), or is not
        a str or ``os.PathLike`` (TypeError).
    IsADirectoryError
        ``path`` is a folder (``path: DIR is a folder; expected a .flo file path``; OpenCV's
        writer returns False there).
    FileNotFoundError, OSError
        The folder of ``path`` does not exist or takes no new file (``path: output folder
        does not exist: ...``, ``path: cannot write ...: the folder ... takes no new file``).

    Examples
    --------
    >>> write_flo("out.flo", np.zeros((4, 5, 2), np.float32))  # doctest: +SKIP
    """
    check_path("path", path)
    if Path(path).is_dir() or Path(path).name in ("", ".", ".."):
        raise IsADirectoryError(f"path: {Path(path)} is a folder; expected a .flo file path")
    check_flo_name(path)
    flow = _host_flow("flow", flow)
    height, width = flow.shape[:2]
    # header and data assembled in one buffer: a single copy of the flow (float32 conversion)
    data = np.empty(_FLO_HEADER_BYTES + 8 * height * width, np.uint8)
    data[:4] = np.array([FLO_MAGIC], "<f4").view(np.uint8)
    data[4:_FLO_HEADER_BYTES] = np.array([width, height], "<i4").view(np.uint8)
    with np.errstate(over="ignore"):  # beyond float32's range: stored as inf (unknown flow)
        data[_FLO_HEADER_BYTES:].view("<f4").reshape(flow.shape)[...] = flow
    with atomic_path(path, "path") as tmp:
        tmp.write_bytes(data)


def read_kitti_flow(path):
    """Read a KITTI flow PNG (16-bit, 3 channels).

    The file's red and green channels hold ``u * 64 + 2**15`` and ``v * 64 + 2**15``, the
    blue channel is nonzero where the flow is valid (KITTI 2012/2015 devkit).

    Parameters
    ----------
    path : str or Path
        The PNG file.

    Returns
    -------
    flow : ndarray, (H, W, 2) float32
        u then v in pixels, multiples of 1/64. Invalid pixels are 0, as in the devkit.
    valid : ndarray, (H, W) bool
        True where the file marks the flow as valid.

    Raises
    ------
    TypeError
        ``path`` is not a str or ``os.PathLike`` (``path: expected a path ...``).
    FileNotFoundError, IsADirectoryError, OSError
        The file does not exist, is a folder or cannot be read (messages start ``path: ``).
    ValueError
        The file is not a PNG OpenCV can decode (for example truncated), or not 16-bit
        with 3 channels; the message names the parameter and the file (``path: FILE: ...``).
        ``path`` is a FIFO or a device (``path: F is a FIFO, not a regular file ...``).

    References
    ----------
    A. Geiger, P. Lenz, R. Urtasun, "Are we ready for Autonomous Driving? The KITTI Vision
    Benchmark Suite", CVPR 2012.

    Examples
    --------
    >>> flow, valid = read_kitti_flow("000000_10.png")  # doctest: +SKIP
    """
    import cv2

    from .video import decode_image

    check_path("path", path)
    path = Path(path)
    data = np.frombuffer(_read_bytes(path, "KITTI flow PNG"), np.uint8)
    image = decode_image(data, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"path: {path}: not a readable PNG image (truncated or corrupt, {data.size} bytes)")
    if image.dtype != np.uint16 or image.ndim != 3 or image.shape[2] != 3:
        channels = 1 if image.ndim == 2 else image.shape[2]
        raise ValueError(
            f"path: {path}: not a KITTI flow PNG: expected 16-bit with 3 channels, "
            f"got {image.dtype} with {channels} channel(s)"
        )
    # OpenCV decodes to B, G, R: blue = valid, green = v, red = u
    valid = image[..., 0] > 0
    flow = (image[..., 2:0:-1].astype(np.float32) - np.float32(KITTI_OFFSET)) / np.float32(KITTI_SCALE)
    flow[~valid] = 0
    return flow, valid


def write_kitti_flow(path, flow, valid=None):
    """Write one flow field as a KITTI 16-bit PNG, atomically.

    Stores ``round(flow * 64 + 2**15)`` in the red (u) and green (v) channels and the valid
    mask (1 or 0) in blue, as the KITTI devkit does; invalid pixels are stored as all zero.
    The format is PNG whatever the file name's extension.

    Parameters
    ----------
    path : str or Path
        The file to create or replace (conventionally ``*.png``).
    flow : array_like, (H, W, 2) float16, float32 or float64
        u then v in pixels. Values are quantised to 1/64 px (error at most 1/128 px) and
        clipped to the representable range [-512, 511.98] px.
    valid : array_like, (H, W) bool, optional
        Pixels with valid flow: bool, or numbers where nonzero means valid (not NaN), as the
        metrics' ``valid``. Default: every pixel whose flow is known. Pixels with
        unknown flow (NaN, infinite or ``>= 1e9``) are always stored as invalid.

    Raises
    ------
    ValueError, TypeError
        Bad ``flow``; a ``valid`` mask of another shape, with NaN or of a dtype that is not
        bool or numeric; ``path`` is not a str or ``os.PathLike`` (TypeError).
    IsADirectoryError, FileNotFoundError, OSError
        ``path`` is a folder, its folder does not exist or takes no new file (messages start
        ``path: ``, as :func:`write_flo`'s); OpenCV could not encode the image.

    Examples
    --------
    >>> write_kitti_flow("flow.png", np.zeros((4, 5, 2), np.float32))  # doctest: +SKIP
    """
    import cv2

    check_path("path", path)
    flow = _host_flow("flow", flow)
    if valid is not None:
        valid = check_valid_mask(valid, flow.shape[:2], " (H, W of flow)")
    with np.errstate(invalid="ignore"):  # NaN: compared False, cast to anything, then zeroed
        small = np.abs(flow) < np.float64(UNKNOWN_FLOW)  # False for NaN and inf too
        known = small[..., 0] & small[..., 1]
        if valid is not None:
            known &= valid
        scaled = flow.astype(np.float64) * KITTI_SCALE  # exact for every float32 input
        scaled += KITTI_OFFSET
        np.clip(scaled, 0, 65535, out=scaled)
        np.rint(scaled, out=scaled)
        encoded = np.empty(flow.shape[:2] + (3,), np.uint16)
        encoded[..., 2:0:-1] = scaled  # OpenCV writes B, G, R: the file gets R = u, G = v
    encoded[..., 0] = 1
    encoded *= known[..., None]  # invalid pixels are all zero, as the devkit writes them
    ok, buffer = cv2.imencode(".png", encoded)
    if not ok:
        raise OSError(f"{path}: OpenCV could not encode the KITTI flow PNG")
    with atomic_path(path, "path") as tmp:
        tmp.write_bytes(buffer.tobytes())
