"""Dense Inverse Search (DIS): CUDA kernels and level operations, the per-patch and per-pixel
math of ``kernels.dis`` (see its docstring for the method and the array layouts).

The functions below have the names and arguments of ``flowkit._dis.HostOps`` (the NumPy /
CPU ones), so ``flowkit._dis`` runs one pyramid driver over either; all arrays are Numba
device arrays. Imported only when the CUDA backend is used.

Spatial propagation in parallel (after OpenCV's OpenCL path, ``ocl_PatchInverseSearch`` and
``opencl/dis_flow.cl``): the CPU visits patches one after the other inside 8 fixed row
stripes, each patch's Gauss-Newton finished before its neighbour starts from it. Here each
sweep (forward, then backward) is three launches:

1. ``_k_rows``: one thread per patch row walks the row in the sweep direction and replaces
   each patch's vector by the lowest-SSD of its own, the temporal candidate (``init_flow``)
   and the previous patch's (already replaced) vector; no Gauss-Newton. OpenCV's
   ``dis_patch_inverse_search_fwd_1`` / ``bwd_1`` (there 8 threads per row share the SSD).
2. ``_k_cols``: one thread per patch column does the same down (or up) the column with the
   previous row's vector, over the whole height (no stripes). OpenCV's OpenCL path has no
   such pass; it brings back the CPU's previous-row candidate.
3. ``_k_descend``: one thread per patch runs the Gauss-Newton steps from the chosen vector
   (OpenCV's ``*_2`` kernels).

So candidates are compared before, not after, the neighbour's own descent: the flow differs
from the CPU's by the propagation order (tests/test_dis.py states the tolerance). Without
spatial propagation there is one ``_k_descend`` launch that also tries the temporal
candidate, patch by patch exactly as the CPU does, and the results are the CPU's.

Patch scratch is a per-thread local array of the largest patch (``BORDER - 1``) and 3
channels (the helpers loop over the frames' channels), so the simulator runs the CPU's compiled
specialisations.
"""

from numba import cuda, float32

from . import dis as kd
from . import farneback as fb
from .cuda_support import device_function, grid_for
from .jit import locked_saves
from . import farneback_cuda as fbc

_BLOCK = (32, 8)
_BLOCK_1D = (64,)
_MAX_PATCH = kd.BORDER - 1  # flowkit._dis allows patch_size <= BORDER - 1
_MAX_CHANNELS = 3

_start_vector, _descend, _densify_pixel, _area_pixel = map(
    device_function, (kd.start_vector, kd.descend, kd.densify_pixel, fb.area_flow_pixel))


# ------------------------------------------------------------------------------ kernels

@locked_saves
@cuda.jit(cache=True)
def _k_scale(src, factor, out):
    x, y = cuda.grid(2)
    if y < out.shape[0] and x < out.shape[1]:
        for c in range(out.shape[2]):
            out[y, x, c] = src[y, x, c] * factor


@locked_saves
@cuda.jit(cache=True)
def _k_area(src, yidx, ywts, xidx, xwts, factor, out):
    x, y = cuda.grid(2)
    if y < out.shape[0] and x < out.shape[1]:
        for c in range(out.shape[2]):
            out[y, x, c] = _area_pixel(src, y, x, yidx, ywts, xidx, xwts, factor, c)


@locked_saves
@cuda.jit(cache=True)
def _k_pad(src, border, reflect, out):
    """Planar ``out`` (c, h + 2 border, w + 2 border) from ``src`` (h, w, c): edges
    replicated, or reflected without repeating the edge (reflect-101, border < h, w)."""
    x, y = cuda.grid(2)
    h, w = src.shape[0], src.shape[1]
    if y < out.shape[1] and x < out.shape[2]:
        sy = y - border
        sx = x - border
        if reflect:
            sy = -sy if sy < 0 else (2 * h - 2 - sy if sy >= h else sy)
            sx = -sx if sx < 0 else (2 * w - 2 - sx if sx >= w else sx)
        else:
            sy = min(max(sy, 0), h - 1)
            sx = min(max(sx, 0), w - 1)
        for c in range(out.shape[0]):
            out[c, y, x] = src[sy, sx, c]


@locked_saves
@cuda.jit(cache=True)
def _k_gray(src, out):
    """Channel mean of a planar (c, h, w) image."""
    x, y = cuda.grid(2)
    if y < out.shape[0] and x < out.shape[1]:
        s = float32(0.0)
        for c in range(src.shape[0]):
            s += src[c, y, x]
        out[y, x] = s / float32(src.shape[0])


@locked_saves
@cuda.jit(cache=True)
def _k_start(flow, stride, psz, sparse):
    ix, iy = cuda.grid(2)
    if iy < sparse.shape[0] and ix < sparse.shape[1]:
        half = psz // 2
        sparse[iy, ix, 0] = flow[half + iy * stride, half + ix * stride, 0]
        sparse[iy, ix, 1] = flow[half + iy * stride, half + ix * stride, 1]


@locked_saves
@cuda.jit(cache=True)
def _k_rows(i0p, i1, sparse, init, use_init, stride, psz, mean_norm, d):
    iy = cuda.grid(1)
    if iy < sparse.shape[0]:
        patch = cuda.local.array((3, _MAX_CHANNELS, _MAX_PATCH, _MAX_PATCH), float32)
        grad_sums = cuda.local.array((_MAX_CHANNELS, 2), float32)
        ws = sparse.shape[1]
        for m in range(ws):
            ix = m if d == 1 else ws - 1 - m
            u, v, _, _, _ = _start_vector(i0p, i1, sparse, init, use_init, iy, ix, stride, psz,
                                          mean_norm, 0, d if m > 0 else 0, patch, grad_sums)
            sparse[iy, ix, 0] = u
            sparse[iy, ix, 1] = v


@locked_saves
@cuda.jit(cache=True)
def _k_cols(i0p, i1, sparse, init, stride, psz, mean_norm, d):
    ix = cuda.grid(1)
    if ix < sparse.shape[1]:
        patch = cuda.local.array((3, _MAX_CHANNELS, _MAX_PATCH, _MAX_PATCH), float32)
        grad_sums = cuda.local.array((_MAX_CHANNELS, 2), float32)
        hs = sparse.shape[0]
        for k in range(1, hs):
            iy = k if d == 1 else hs - 1 - k
            u, v, _, _, _ = _start_vector(i0p, i1, sparse, init, False, iy, ix, stride, psz,
                                          mean_norm, d, 0, patch, grad_sums)
            sparse[iy, ix, 0] = u
            sparse[iy, ix, 1] = v


@locked_saves
@cuda.jit(cache=True)
def _k_descend(i0p, i1, sparse, init, use_init, stride, psz, iters, mean_norm):
    ix, iy = cuda.grid(2)
    if iy < sparse.shape[0] and ix < sparse.shape[1]:
        patch = cuda.local.array((3, _MAX_CHANNELS, _MAX_PATCH, _MAX_PATCH), float32)
        grad_sums = cuda.local.array((_MAX_CHANNELS, 2), float32)
        su, sv, xx, xy, yy = _start_vector(i0p, i1, sparse, init, use_init, iy, ix, stride,
                                           psz, mean_norm, 0, 0, patch, grad_sums)
        u, v = _descend(patch, i1, grad_sums, iy * stride, ix * stride, su, sv, xx, xy, yy,
                        psz, iters, mean_norm)
        sparse[iy, ix, 0] = u
        sparse[iy, ix, 1] = v


@locked_saves
@cuda.jit(cache=True)
def _k_densify(i0, i1, sparse, stride, psz, out):
    x, y = cuda.grid(2)
    if y < out.shape[0] and x < out.shape[1]:
        u, v = _densify_pixel(i0, i1, sparse, y, x, stride, psz)
        out[y, x, 0] = u
        out[y, x, 1] = v


# ------------------------------------------------------------------- level operations

def _grid(out, channels_first=False):
    h, w = out.shape[1:3] if channels_first else out.shape[:2]
    return grid_for(_BLOCK, w, h)


empty = cuda.device_array


def scale(frame, factor, out):
    """``out = frame * factor`` for (h, w, c) images."""
    _k_scale[_grid(out), _BLOCK](frame, factor, out)


def area(ws, src, factor, out):
    """INTER_AREA resize of an (h, w, c) image times ``factor`` (the taps of
    ``farneback.area_table``, kept on the device in the workspace ``ws``)."""
    (yidx, ywts), (xidx, xwts) = _tables(ws, fb.area_table, src.shape[:2], out.shape[:2])
    _k_area[_grid(out), _BLOCK](src, yidx, ywts, xidx, xwts, factor, out)


def pad(src, border, reflect, out):
    """Planar copy of the (h, w, c) image ``src`` with a border (replicated or reflect-101)."""
    _k_pad[_grid(out, True), _BLOCK](src, border, reflect, out)


def planar(src, out):
    """Planar (c, h, w) copy of an (h, w, c) image."""
    pad(src, 0, False, out)


def gray(src, out):
    """Channel mean (h, w) of a planar image."""
    _k_gray[_grid(out), _BLOCK](src, out)


def resize(ws, src, factor, out):
    """Bilinear resize of a flow times ``factor`` (the taps of ``farneback.resize_table``,
    kept on the device in the workspace ``ws``)."""
    (yidx, yfrac), (xidx, xfrac) = _tables(ws, fb.resize_table, src.shape[:2], out.shape[:2])
    fbc._resize_flow_kernel[_grid(out), _BLOCK](src, yidx, yfrac, xidx, xfrac, factor, out)


def _tables(ws, make, src_hw, dst_hw):
    """``make(n_src, n_dst)`` (Farneback's ``area_table`` or ``resize_table``) for rows and
    columns, copied to the device once and kept in the workspace."""
    return tuple(ws.table((make.__name__, s, d),
                          lambda s=s, d=d: tuple(cuda.to_device(a) for a in make(s, d)))
                 for s, d in zip(src_hw, dst_hw))


def zero(out):
    """Zero flow."""
    fbc._zero_kernel[_grid(out), _BLOCK](out)


def copy(src, out):
    """Device-to-device copy."""
    out.copy_to_device(src)


def start_vectors(flow, stride, psz, sparse):
    """``kernels.dis.start_vectors_cpu``."""
    _k_start[_grid(sparse), _BLOCK](flow, stride, psz, sparse)


def search(i0p, i1, sparse, init, use_init, stride, psz, iters, mean_norm, propagate):
    """``kernels.dis.search_cpu`` with the parallel propagation of the module docstring."""
    hs, ws = sparse.shape[0], sparse.shape[1]
    grid = _grid(sparse)
    if not propagate:
        _k_descend[grid, _BLOCK](i0p, i1, sparse, init, use_init, stride, psz, iters, mean_norm)
        return
    for d in (1, -1):
        _k_rows[grid_for(_BLOCK_1D, hs), _BLOCK_1D](i0p, i1, sparse, init, use_init, stride,
                                                    psz, mean_norm, d)
        _k_cols[grid_for(_BLOCK_1D, ws), _BLOCK_1D](i0p, i1, sparse, init, stride, psz,
                                                    mean_norm, d)
        _k_descend[grid, _BLOCK](i0p, i1, sparse, init, False, stride, psz, iters // 2,
                                 mean_norm)


def densify(i0, i1, sparse, stride, psz, out):
    """``kernels.dis.densify_cpu``."""
    _k_densify[_grid(out), _BLOCK](i0, i1, sparse, stride, psz, out)
