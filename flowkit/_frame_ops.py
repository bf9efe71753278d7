"""Per-frame operations for ``flowkit translate --op``: the built-in ones by name, or a
user's ``package.module:function``. Every operation takes and returns an ``(H, W, 3)`` uint8
RGB frame."""

import importlib

import numpy as np

# the share of the darkest and of the brightest pixels autocontrast clips (percent, as
# PIL.ImageOps.autocontrast's cutoff)
AUTOCONTRAST_CUTOFF = 1.0


def autocontrast(frame):
    """Stretch the frame's levels so that its ``AUTOCONTRAST_CUTOFF`` % darkest values (over
    all channels together, keeping hues) map to 0 and its brightest to 255.

    A per-frame operation with strong flicker on video: the stretch follows each frame's
    own histogram. A frame of one level is returned unchanged.
    """
    low, high = np.percentile(frame, (AUTOCONTRAST_CUTOFF, 100 - AUTOCONTRAST_CUTOFF))
    if high <= low:
        return frame.copy()
    scaled = (frame.astype(np.float32) - np.float32(low)) * np.float32(255 / (high - low))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def equalize(frame):
    """Histogram equalisation of the luma (``cv2.equalizeHist`` on Y of YCrCb; chroma kept)."""
    import cv2

    ycc = cv2.cvtColor(frame, cv2.COLOR_RGB2YCrCb)
    ycc[..., 0] = cv2.equalizeHist(np.ascontiguousarray(ycc[..., 0]))
    return cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)


def colorize(frame):
    """The ``"colorize"`` model of ``flowkit.models`` on the frame's luma (needs torch)."""
    from .models.colorize import colorize_frame

    return colorize_frame(frame)


BUILTIN = {"autocontrast": autocontrast, "equalize": equalize, "colorize": colorize}


def resolve(op):
    """The operation named ``op``: a built-in name or ``"package.module:function"``.

    Raises
    ------
    ValueError
        An unknown name, a module that cannot be imported or a missing function.
    TypeError
        The attribute found is not callable.
    """
    if not isinstance(op, str):  # translate and batch take a callable too, not resolved here
        raise TypeError(f"op: expected a built-in name ({', '.join(BUILTIN)}), "
                        f"'package.module:function' or a callable frame -> frame, got {op!r}")
    if op in BUILTIN:
        return BUILTIN[op]
    module_name, sep, attribute = op.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"op: expected a built-in name ({', '.join(BUILTIN)}) or "
                         f"'package.module:function', got {op!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"op: cannot import module {module_name!r} ({exc})") from None
    function = getattr(module, attribute, None)
    if function is None:
        raise ValueError(f"op: module {module_name!r} has no attribute {attribute!r}")
    if not callable(function):
        raise TypeError(f"op: {op} is not callable, got {type(function).__name__}")
    return function


def apply(function, frame, index, name):
    """``function(frame)`` checked: an ``(H, W, 3)`` uint8 array of the frame's size.

    An exception inside the op is raised again as ``op: NAME raised TYPE on frame K: MESSAGE``
    (a TypeError for a TypeError, else a ValueError), chained from the original."""
    try:
        result = function(frame)
    except Exception as exc:
        kind = TypeError if isinstance(exc, TypeError) else ValueError
        message = " ".join(str(exc).split()) or "(no message)"
        raise kind(f"op: {name} raised {type(exc).__name__} on frame {index}: {message}") from exc
    if not (hasattr(result, "shape") and hasattr(result, "dtype")):
        raise TypeError(f"op: {name} returned {type(result).__name__} for frame {index}; "
                        f"expected an (H, W, 3) uint8 array")
    result = np.asarray(result)
    if result.shape != frame.shape or result.dtype != np.uint8:
        raise ValueError(f"op: {name} returned shape {tuple(result.shape)} dtype {result.dtype} "
                         f"for frame {index}; expected {tuple(frame.shape)} uint8")
    return result
