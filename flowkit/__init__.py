"""flowkit: classical motion-analysis kernels for video on CPU (Numba) and GPU (Numba-CUDA).

Conventions (docs/conventions.md): images ``(H, W)``, ``(H, W, C)`` or batches
``(N, H, W[, C])``; flow ``(H, W, 2)`` float32 with ``flow[..., 0] = u`` (x) and
``flow[..., 1] = v`` (y), meaning ``frame0[y, x] ~ frame1[y + v, x + u]``.

Public names are loaded on first use, so ``import flowkit`` stays cheap and never imports
cupy, numba.cuda or torch.
"""

import importlib

__version__ = "0.1.0"

# public name -> module (relative to this package) that defines it
_PUBLIC = {
    "set_num_threads": "._threads",
    "get_num_threads": "._threads",
    "warp": "._warp",
    "splat": "._splat",
    "fill_holes": "._fill",
    "extrapolate": "._extrapolate",
    "smooth_flow": "._smooth",
    "read_flo": ".io",
    "write_flo": ".io",
    "read_kitti_flow": ".io",
    "write_kitti_flow": ".io",
    "iter_frames": ".video",
    "VideoWriter": ".video",
    "flow_to_color": ".visualize",
    "farneback": "._farneback",
    "Farneback": "._farneback",
    "farneback_video": "._farneback",
    "dis": "._dis",
    "DIS": "._dis",
    "lucas_kanade": "._lk_dense",
    "variational_refinement": "._variational",
    "lucas_kanade_sparse": "._lk_sparse",
    "good_features": "._lk_sparse",
    "sample_pair": ".data",
    "predict": "._predict",
    "interpolate": "._interpolate",
    "interpolate_video": "._interpolate",
    "retime": "._retime",
    "RetimeReport": "._retime",
    "list_estimators": "._estimators",
    "register_estimator": "._estimators",
    # video translation (issue 12)
    "temporally_consistent": "._translate",
    "iter_temporally_consistent": "._translate",
    "translate": "._translate",
    # scale-out on Dask (flowkit-cv[dask])
    "batch": "._batch",
    "BatchReport": "._batch",
    # condition / text to video (issue 12)
    "generate": "._generate",
}
_SUBMODULES = ("metrics", "io", "video", "visualize", "data", "models")

__all__ = sorted(_PUBLIC) + list(_SUBMODULES)


def __getattr__(name):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name], __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module("." + name, __name__)
    else:
        raise AttributeError(f"module 'flowkit' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return __all__
