"""Adapters: a user's ``torch.nn.Module`` as an interpolator (``interpolate(...,
method=NAME)``) or a predictor (``predict(..., method=NAME)``). Registering does not import
torch; running does. Arrays reach the module through DLPack (:mod:`._arrays`).

The documented signatures (intensities in [0, 1], gray frames with C = 1):

* interpolator: ``module(frame0, frame1, t) -> frame``, ``frame0``, ``frame1`` ``(N, C, H, W)``
  float32, ``t`` ``(N,)`` float32 in [0, 1]; returns ``(N, C, H, W)``.
* predictor: ``module(frames, horizon) -> future``, ``frames`` ``(N, T, C, H, W)`` float32
  (oldest first), ``horizon`` an int; returns ``(N, horizon, C, H, W)``.

Both run under ``torch.no_grad()``, a ``torch.nn.Module`` in eval mode (its mode is restored
after the call: dropout and batch-norm statistics would otherwise make each call differ), on
the device of the module's first parameter (the CPU for a module without parameters);
outputs are converted to the input's dtype (integers rounded and saturated). An output with NaN or infinite values for finite input, or of
another shape, is a ``ValueError`` naming the method; an output that is not a
``torch.Tensor`` (a NumPy array) a ``TypeError``.
"""

import contextlib

_KINDS = ("interpolator", "predictor")
_ADAPTERS = {kind: {} for kind in _KINDS}
# names the built-in methods already use (interpolate's and predict's)
_RESERVED = {"interpolator": ("project", "splat", "backward", "blend", "learned"), "predictor": ("flow", "gan")}


def _register(kind, name, module, replace):
    from .._validate import check_bool, describe, name_taken

    if not isinstance(name, str):  # as register_estimator
        raise TypeError(f"name: expected a string, got {describe(name)}")
    if not name:
        raise ValueError(f"name: expected a non-empty string, got {name!r}")
    replace = check_bool("replace", replace)
    if name in _RESERVED[kind] or (name in _ADAPTERS[kind] and not replace):
        article = "an" if kind[0] in "aeiou" else "a"
        raise name_taken(name, f"{article} {kind} method", _RESERVED[kind] + tuple(_ADAPTERS[kind]),
                         "flowkit's own" if name in _RESERVED[kind] else None)
    if not callable(module):
        raise TypeError(f"module: expected a torch.nn.Module (or a callable) with the {kind} "
                        f"signature of flowkit.models.adapters, got {type(module).__name__}")
    _ADAPTERS[kind][name] = module
    return module


def register_interpolator(name, module, *, replace=False):
    """Register ``module`` as ``interpolate(..., method=name)`` (see the module docstring for
    its signature). Returns ``module``.

    Parameters
    ----------
    name : str
        The new ``method`` name of :func:`flowkit.interpolate`.
    module : callable
        ``module(frame0, frame1, t) -> frame`` on ``(N, C, H, W)`` float32 tensors in [0, 1],
        ``t`` of shape ``(N,)``, e.g. a ``torch.nn.Module``.
    replace : bool, default False
        Replace a module registered under ``name`` (re-running a notebook cell); the
        built-in methods are never replaced.

    Raises
    ------
    ValueError
        ``name`` empty, built in (``"splat"``, ...) or registered already (without
        ``replace``).
    TypeError
        ``name`` not a string; ``module`` not callable; ``replace`` not a bool.
    """
    return _register("interpolator", name, module, replace)


def register_predictor(name, module, *, replace=False):
    """Register ``module`` as ``predict(..., method=name)`` (see the module docstring for its
    signature). Returns ``module``.

    Parameters
    ----------
    name : str
        The new ``method`` name of :func:`flowkit.predict`.
    module : callable
        ``module(frames, horizon) -> future``, ``(N, T, C, H, W)`` float32 tensors in [0, 1]
        to ``(N, horizon, C, H, W)``, e.g. a ``torch.nn.Module``.
    replace : bool, default False
        Replace a module registered under ``name`` (re-running a notebook cell); the
        built-in methods are never replaced.

    Raises
    ------
    ValueError
        ``name`` empty, built in (``"flow"``, ``"gan"``) or registered already (without
        ``replace``).
    TypeError
        ``name`` not a string; ``module`` not callable; ``replace`` not a bool.
    """
    return _register("predictor", name, module, replace)


def unregister(kind, name):
    """Remove a registered adapter (``kind``: ``"interpolator"`` or ``"predictor"``).

    Raises
    ------
    ValueError
        ``kind`` neither ``"interpolator"`` nor ``"predictor"``; ``name`` not registered as
        ``kind``.
    """
    if not isinstance(kind, str) or kind not in _KINDS:
        raise ValueError(f"kind: expected 'interpolator' or 'predictor', got {kind!r}")
    if name not in _ADAPTERS[kind]:
        raise ValueError(f"name: expected a registered {kind}, got {name!r}")
    del _ADAPTERS[kind][name]


def list_adapters(kind=None):
    """The names of the registered adapters, sorted: all of them, or those registered as
    ``kind`` (``"interpolator"`` or ``"predictor"``), a filter as ``module`` is in
    torchvision's ``list_models``. A name registered as both kinds is listed once.

    Parameters
    ----------
    kind : {None, "interpolator", "predictor"}
        Which adapters to list; None: all.

    Returns
    -------
    list of str

    Raises
    ------
    ValueError
        ``kind`` neither None, ``"interpolator"`` nor ``"predictor"``.
    """
    if kind is None:
        return sorted(set().union(*_ADAPTERS.values()))
    if not isinstance(kind, str) or kind not in _KINDS:
        raise ValueError(f"kind: expected None, 'interpolator' or 'predictor', got {kind!r}")
    return sorted(_ADAPTERS[kind])


@contextlib.contextmanager
def _inference(torch, module):
    """``torch.no_grad()`` with a module in training mode put in eval mode for the call."""
    training = isinstance(module, torch.nn.Module) and module.training
    if training:
        module.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        if training:
            module.train()


def _device(module):
    params = getattr(module, "parameters", None)
    first = next(iter(params()), None) if params else None
    return first.device if first is not None else "cpu"


def interpolate_pair(name, frame0, frame1, times, channels):
    """The registered interpolator ``name`` on one pair ``(H, W[, C])`` at each of ``times``:
    a list of frames in the input's dtype."""
    from ._api import require_torch

    torch = require_torch()  # the ImportError naming the extra (registering needs no torch)
    module = _ADAPTERS["interpolator"][name]
    device = _device(module)
    a, b = (_image(f, device, channels)[None] for f in (frame0, frame1))
    n = len(times)
    t = torch.tensor(times, dtype=torch.float32, device=device)
    with _inference(torch, module):
        out = module(a.expand(n, -1, -1, -1), b.expand(n, -1, -1, -1), t)
    finite = bool(torch.isfinite(a).all() and torch.isfinite(b).all())
    return list(_convert(out, frame0, (n,) + tuple(a.shape[1:]), f"method={name!r}", channels,
                         finite))


def predict_clip(name, clip, horizon, channels):
    """The registered predictor ``name`` on one clip ``(T, H, W[, C])``: ``(horizon, H, W[,
    C])`` in the input's dtype."""
    from ._api import require_torch

    torch = require_torch()  # the ImportError naming the extra (registering needs no torch)
    module = _ADAPTERS["predictor"][name]
    device = _device(module)
    frames = _image(clip, device, channels)[None]  # (1, T, C, H, W)
    with _inference(torch, module):
        out = module(frames, horizon)
    expected = (1, horizon) + tuple(frames.shape[2:])
    finite = bool(torch.isfinite(frames).all())
    return _convert(out, clip, expected, f"method={name!r}", channels, finite)[0]


def _image(x, device, channels):
    """``(..., H, W[, C])`` -> ``(..., C, H, W)`` float32 in [0, 1] (C = 1 without channels)."""
    import torch

    from ._arrays import intensity_scale, to_tensor

    t = to_tensor(x, device).to(torch.float32) / intensity_scale(x.dtype)
    return t.movedim(-1, -3) if channels else t.unsqueeze(-3)


def _convert(out, reference, expected, name, channels, finite=True):
    """The module's output ``(..., C, H, W)`` as arrays of ``reference``'s library, layout
    (channels last, or none) and dtype. ``finite``: the module's input held only finite
    values, so that a NaN or an infinity in its output is the module's own (an error: cast to
    an integer dtype it would be silent garbage); float frames with NaN pixels may carry them
    through."""
    import torch

    from .._validate import describe
    from ._arrays import intensity_scale, like, to_dtype

    if not isinstance(out, torch.Tensor):  # a NumPy array failed on .movedim (AttributeError)
        raise TypeError(f"{name}: the registered module returned {describe(out)}, expected a "
                        f"torch.Tensor of shape {tuple(expected)}")
    if tuple(out.shape) != tuple(expected):
        raise ValueError(f"{name}: the registered module returned {tuple(out.shape)}, expected "
                         f"shape {tuple(expected)}")
    if finite and not bool(torch.isfinite(out).all()):
        bad = int((~torch.isfinite(out)).sum())
        raise ValueError(f"{name}: the registered module's output is not finite ({bad} of "
                         f"{out.numel()} values are NaN or infinite) although its input is")
    out = out.movedim(-3, -1) if channels else out[..., 0, :, :]
    values = like(out.float() * intensity_scale(reference.dtype), reference)
    return to_dtype(values, reference.dtype)
