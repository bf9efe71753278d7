"""The model registry: names -> builders and weights with metadata (torchvision's pattern,
``torchvision/models/_api.py``). No torch import at module level."""

import fnmatch
import functools
import hashlib
import importlib
import inspect
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

# the extra's install command, as a release (PyPI) and as a git checkout installs it (the
# README's `pip install -e .`); every "needs torch" ImportError names both from here
EXTRA = 'pip install "flowkit-cv[torch]" (from a git checkout: pip install -e ".[torch]")'
_WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


@dataclass(frozen=True)
class Weights:
    """One weights file of a model and what is known about it.

    Attributes
    ----------
    path : Path
        The safetensors file.
    meta : dict
        ``"training_data"``, ``"command"`` (the exact command that trained it),
        ``"scores"``, ``"num_params"``, ``"file_size"`` (bytes), ``"sha256"`` and notes; the
        JSON file beside a shipped file, empty for a user's file.
    """

    path: Path
    meta: dict = field(default_factory=dict)

    def __repr__(self):  # the metadata's keys: its values (scores, losses, notes) ran to 2.6 kB
        meta = f"<{len(self.meta)} keys: {', '.join(map(str, self.meta))}>" if self.meta else "{}"
        return f"Weights(path={self.path!r}, meta={meta})"


_REGISTRY = {}
_BUILTIN = frozenset()  # flowkit's own models, set once registered (below)


def register_model(name, builder=None, *, weights=None, replace=False):
    """Register a model builder under ``name`` (usable as a decorator).

    Parameters
    ----------
    name : str
        The name :func:`get_model` takes; not yet registered.
    builder : callable, optional
        ``builder(**config) -> torch.nn.Module``, or the string ``"module:function"`` of one (imported
        on first use, so registering does not import torch). Without it, a decorator.
    weights : dict of str -> Weights, optional
        Named weights; ``"default"`` is what ``get_model(name)`` loads. Without any,
        ``get_model(name)`` builds the model with the builder's initialisation.
    replace : bool, default False
        Replace a model registered under ``name`` (re-running a notebook cell); flowkit's own
        models are never replaced.

    Returns
    -------
    builder (so that it can decorate a function)

    Raises
    ------
    ValueError
        ``name`` already registered (without ``replace``; flowkit's own always) or empty.
    TypeError
        ``name`` not a string; ``builder`` neither callable nor a ``"module:function"``
        string; ``weights`` not a dict of str -> :class:`Weights`; ``replace`` not a bool.
    """
    from .._validate import check_bool, describe, name_taken

    if not isinstance(name, str):  # as register_estimator
        raise TypeError(f"name: expected a string, got {describe(name)}")
    if not name:
        raise ValueError(f"name: expected a non-empty string, got {name!r}")
    replace = check_bool("replace", replace)
    if builder is None:
        return lambda fn: register_model(name, fn, weights=weights, replace=replace)
    if not (callable(builder) or (isinstance(builder, str) and ":" in builder)):
        raise TypeError(f"builder: expected a callable returning a torch.nn.Module or a "
                        f"'module:function' string, got {builder!r}")
    if name in _REGISTRY and (name in _BUILTIN or not replace):
        raise name_taken(name, "a model", list_models(),
                         "flowkit's own" if name in _BUILTIN else None)
    if weights is not None and not (isinstance(weights, dict) and all(
            isinstance(k, str) and isinstance(v, Weights) for k, v in weights.items())):
        raise TypeError(f"weights: expected None or a dict of str -> flowkit.models.Weights "
                        f"(Weights(path, meta)), got {describe(weights)}")
    if name in _REGISTRY:  # replaced: generate(model=name) must not find the one before
        _cached_model.cache_clear()
    _REGISTRY[name] = (builder, dict(weights or {}))
    return builder


def list_models(include=None, exclude=None):
    """The registered model names, sorted, as torchvision's ``list_models``.

    Parameters
    ----------
    include, exclude : str or list of str, optional
        Unix shell-style patterns (``fnmatch``, ``"interp-*"``): keep the names matching any
        ``include`` pattern (all without one), then drop those matching any ``exclude``.

    Returns
    -------
    list of str

    Raises
    ------
    TypeError
        A pattern that is not a string.
    """
    names = sorted(_REGISTRY)
    for patterns, keep in ((include, True), (exclude, False)):
        if patterns is None:
            continue
        kind = "include" if keep else "exclude"
        if isinstance(patterns, (bytes, bytearray)) or not isinstance(patterns, Iterable):
            raise TypeError(f"{kind}: expected a pattern string or a list of them, got "
                            f"{patterns!r}")
        patterns = [patterns] if isinstance(patterns, str) else list(patterns)
        for pattern in patterns:
            if not isinstance(pattern, str):
                raise TypeError(f"{kind}: expected a pattern string or a list of them, got "
                                f"{pattern!r}")
        names = [n for n in names if any(fnmatch.fnmatch(n, p) for p in patterns) == keep]
    return names


def _entry(name):
    """The builder and weights of ``name``, looked up as given or in lower case (as
    torchvision's ``get_model``)."""
    if name not in _REGISTRY and isinstance(name, str) and name.lower() in _REGISTRY:
        name = name.lower()
    if name not in _REGISTRY:
        raise ValueError(f"name: expected one of {', '.join(list_models())}, got {name!r}")
    return _REGISTRY[name]


def get_weights(name, weights="default"):
    """The :class:`Weights` registered for model ``name`` under ``weights`` (no torch needed).

    Parameters
    ----------
    name : str
        One of :func:`list_models`.
    weights : str
        A weights name registered for ``name`` (``"default"``: the file shipped in the
        package).

    Returns
    -------
    Weights

    Raises
    ------
    ValueError
        An unknown model or weights name.
    """
    table = _entry(name)[1]
    if not table:
        raise ValueError(f"weights: model {name!r} was registered without weights; pass "
                         f"weights=None (the builder's initialisation) or a path to a "
                         f".safetensors file, got {weights!r}")
    if weights not in table:
        raise ValueError(f"weights: expected a weights name of model {name!r} "
                         f"({', '.join(map(repr, sorted(table)))}), a path to a .safetensors "
                         f"file or None, got {weights!r}")
    return table[weights]


def require_torch():
    """Import torch or raise an ImportError that names the extra; safetensors (the extra's
    other half, which every weights file is read and written with) is checked too, so that a
    missing one is reported before any work, not when the weights are saved."""
    try:
        import torch
    except ImportError as exc:
        raise ImportError(f"flowkit's learned models need PyTorch, which is not installed: "
                          f"{EXTRA}") from exc
    try:
        import safetensors  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"flowkit's learned models need safetensors, which is not installed: "
                          f"{EXTRA}") from exc
    return torch


def check_device(device):
    """``device`` checked once for every learned path (:func:`get_model`, ``flowkit.generate``,
    the training functions, ``raft``): None, ``"cpu"``, ``"cuda"`` / ``"cuda:N"`` or such a
    ``torch.device``. Returns it unchanged.

    Raises
    ------
    TypeError
        ``device`` neither None, a string nor a ``torch.device``.
    ValueError
        Another device string or type; ``"cuda"`` when this torch has no usable CUDA device
        (a CPU-only build, or no GPU); a CUDA index beyond the devices present.
    """
    if device is None:
        return None
    torch = require_torch()
    expected = 'None, "cpu", "cuda", "cuda:N" or a torch.device of one of them'
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device: expected {expected}, got {type(device).__name__}")
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        parsed = None
    if parsed is None or parsed.type not in ("cpu", "cuda"):
        raise ValueError(f"device: expected {expected}, got {str(device)!r}")
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device: {str(device)!r} needs a CUDA build of torch and a GPU "
                             f"(torch.cuda.is_available() is False)")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise ValueError(f"device: expected a CUDA index below {torch.cuda.device_count()} "
                             f"(the GPUs present), got {str(device)!r}")
    return device


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_state(model, path):
    """Load a safetensors file into ``model`` (no code executed), with clear errors."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"weights: {str(path)!r} is a folder; expected a .safetensors "
                                f"file")
    from .._atomic import refuse_special_input

    refuse_special_input(path, "a .safetensors file", f"weights: {str(path)!r}")
    if not path.is_file():
        if path.is_symlink():  # ls lists it: 'no such file' sent the user looking elsewhere
            raise FileNotFoundError(f"weights: {str(path)!r} is a symbolic link to "
                                    f"{os.readlink(path)!r}, which leads to no file (a "
                                    f"missing target or a loop of links)")
        raise FileNotFoundError(f"weights: no such file {str(path)!r}")
    expected = model.state_dict()
    # read into memory, not mapped (load_file): a file cut short by another process while
    # the mapping was in use killed this one with SIGBUS. At most 8 bytes per weight and
    # safetensors' 100 MB header limit: a larger file cannot fit the model
    largest = 8 * sum(value.numel() for value in expected.values()) + 100_000_008
    size = path.stat().st_size
    if size > largest:
        raise ValueError(f"weights: {str(path)!r} is {size / 2**20:.1f} MiB, more than weights of "
                         f"{type(model).__name__} can take ({largest / 2**20:.1f} MiB at most)")
    try:
        with open(path, "rb") as file:
            state = load(file.read(largest + 1))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"weights: {str(path)!r} is not a readable safetensors file ({exc})") from None
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        parts = [f"{what} {', '.join(keys[:5])}" + (f" (and {len(keys) - 5} more)" if len(keys) > 5 else "")
                 for what, keys in (("missing", missing), ("unexpected", unexpected)) if keys]
        raise ValueError(f"weights: {str(path)!r} does not fit {type(model).__name__}: "
                         f"{'; '.join(parts)}")
    for key, value in expected.items():
        if tuple(state[key].shape) != tuple(value.shape):
            raise ValueError(f"weights: {str(path)!r} does not fit {type(model).__name__}: "
                             f"{key} expected shape {tuple(value.shape)}, got "
                             f"{tuple(state[key].shape)}")
        # load_state_dict casts silently: integer or bool tensors (a quantised file, another
        # tool's masks) became float weights; float16 / float64 of the same values are kept
        if state[key].is_floating_point() != value.is_floating_point():
            kind = "a floating-point" if value.is_floating_point() else "an integer or bool"
            raise ValueError(f"weights: {str(path)!r} does not fit {type(model).__name__}: "
                             f"{key} expected {kind} tensor, got "
                             f"{str(state[key].dtype).removeprefix('torch.')}")
    import torch

    for key, value in state.items():  # a diverged run's file: NaN in, black frames out
        # checked as the model will hold them: float64 1e39 is inf in float32, and torch has
        # no isfinite for float8
        if value.is_floating_point() and not bool(
                torch.isfinite(value.to(expected[key].dtype)).all()):
            cast = "" if value.dtype == expected[key].dtype else (
                f" (as {str(expected[key].dtype).removeprefix('torch.')}, the model's type)")
            raise ValueError(f"weights: {str(path)!r} holds NaN or infinite values in "
                             f"{key}{cast}; expected finite weights")
    model.load_state_dict(state)


def get_model(name, *, weights="default", device=None, **config):
    """Build the registered model ``name`` with its weights, in eval mode.

    Parameters
    ----------
    name : str
        One of :func:`list_models` (``"interp-refine"``, ``"text2video-shapes"``:
        docs/models.md), as given or in lower case.
    weights : str, Path, Weights or None
        ``"default"`` (or another registered weights name): the file shipped in the package
        (for a model registered without weights, ``"default"`` is the builder's
        initialisation, as None); a :class:`Weights` (:func:`get_weights`, as torchvision's
        ``get_model`` takes its weights enums): its file;
        a path to a ``.safetensors`` file of the same architecture (a user's own training,
        ``flowkit train``); None: the builder's initialisation (for ``"interp-refine"`` the
        classical pipeline unchanged). Loaded with safetensors: no code is executed. With
        weights loaded, building the model leaves torch's random generator as it was (None
        draws the initial weights from it, as torchvision's builders do).
    device : {None, "cpu", "cuda", "cuda:N"} or torch.device
        Where the model lives (None: CPU); checked by :func:`check_device`.
    **config
        Keyword arguments of the registered builder (as torchvision's ``get_model(name,
        **config)``); the built-in models take none, and weights must fit what they build.

    Returns
    -------
    torch.nn.Module
        flowkit's own networks in float32, the precision flowkit feeds them, whatever
        ``torch.get_default_dtype()`` is.

    Raises
    ------
    ImportError
        PyTorch is not installed (the message names the extra ``flowkit-cv[torch]``).
    ValueError
        An unknown name or weights name; a file that is not safetensors or does not fit the
        architecture (missing, unexpected or wrong-shaped tensors, integer or bool tensors for
        floating-point ones) or holds NaN or infinite values (as the model's type holds them:
        float64 1e39 is inf in float32); a ``device`` other than
        the above, or ``"cuda"`` without a CUDA build of torch and a GPU.
    TypeError
        ``weights`` neither a string, a path, a Weights nor None; ``config`` the builder does
        not take; the registered builder returned something other than a
        ``torch.nn.Module``.
    FileNotFoundError
        A weights path that does not exist (or a symbolic link that leads to no file).
    IsADirectoryError
        A weights path that is a folder.
    """
    builder, table = _entry(name)
    if isinstance(weights, Weights):  # get_weights(name), as torchvision takes its enums
        weights = weights.path
    if weights is not None and not isinstance(weights, (str, Path)):
        from .._validate import describe

        raise TypeError(f"weights: expected a weights name, a path, a Weights or None, got "
                        f"{describe(weights)}")
    if isinstance(weights, str) and weights in table:
        path = table[weights].path
    elif weights is None or (weights == "default" and not table):
        path = None  # a model registered without weights: its builder's initialisation
    elif isinstance(weights, Path) or (weights and (  # "": no path (Path("") is ".")
            weights.lower().endswith(".safetensors") or Path(weights).exists()
            or any(sep and sep in weights for sep in (os.sep, os.altsep)))):  # Windows' \ too
        path = Path(weights)
    else:
        get_weights(name, weights)  # raises the error naming the choices
    torch = require_torch()
    check_device(device)
    builtin = any(builder is _REGISTRY[n][0] for n in _BUILTIN)  # a user's may not hash
    if isinstance(builder, str):
        module, _, function = builder.partition(":")
        builder = getattr(importlib.import_module(module), function)
    try:  # the builder's own TypeError would not say which call it came from
        inspect.signature(builder).bind(**config)
    except TypeError as exc:
        raise TypeError(f"config: the builder of {name!r} does not take "
                        f"{', '.join(map(repr, sorted(config)))} ({exc})") from None
    except ValueError:  # no signature to read (a C function): let the call say
        pass
    # weights loaded replace the initial ones: their random draws leave the caller's torch
    # generator as it was (a seeded host's next draws did not depend on a first learned call)
    with torch.random.fork_rng(devices=[], enabled=path is not None):
        if builtin:  # float32 whatever torch's default dtype: float64 networks met float32
            # input in interpolate(method="learned"), predict, generate
            from ._float32 import float32_module

            model = float32_module(functools.partial(builder, **config))
        else:
            model = builder(**config)
    if not isinstance(model, torch.nn.Module):
        from .._validate import describe

        raise TypeError(f"builder: expected the builder of {name!r} to return a "
                        f"torch.nn.Module, got {describe(model)}")
    if path is not None:
        load_state(model, path)
    return model.to(torch.device(device or "cpu")).eval()


def cached_model(name, weights="default"):
    """:func:`get_model` on the CPU, built once per process (``interpolate(method="learned")``)
    and per weights file: a path is looked up by the file it names now (resolved path, size and
    modification time), so a file retrained in place or a relative path after a ``chdir`` loads
    the file there, not the model cached from the one before."""
    key = weights
    if not (isinstance(weights, str) and weights in _entry(name)[1]):
        try:
            info = Path(weights).stat()
            key = (str(Path(weights).resolve()), info.st_size, info.st_mtime_ns)
        except (OSError, TypeError, ValueError):
            pass  # get_model reports it
    return _cached_model(name, weights, key)


@functools.lru_cache(maxsize=4)
def _cached_model(name, weights, key):
    return get_model(name, weights=weights)


def predictor_model(name, model=None):
    """The module behind ``predict(method=...)`` / ``interpolate(method=...)``: the shipped
    weights of ``name`` (None), a weights path, or the caller's ``torch.nn.Module``, which must
    be ``name``'s network (its registered class, or a subclass): another module would fail
    inside torch (a convolution's channel count, a missing ``forward``) after the classical
    pipeline had run."""
    if model is None or isinstance(model, (str, Path)):
        from .._validate import renaming

        with renaming("weights", "model"):  # errors about the file name the caller's model
            return cached_model(name, "default" if model is None else str(model))
    torch = require_torch()
    if not isinstance(model, torch.nn.Module):
        from .._validate import describe

        raise TypeError(f"model: expected None, a weights path or a torch.nn.Module "
                        f"(flowkit.models.get_model({name!r})), got {describe(model)}")
    builder = _REGISTRY[name][0]  # "module:Class" for flowkit's networks
    if isinstance(builder, str):
        module, _, cls = builder.partition(":")
        expected = getattr(importlib.import_module(module), cls)
        if not isinstance(getattr(model, "_orig_mod", model), expected):  # torch.compile's wrapper
            raise TypeError(f"model: expected a {module}.{cls} (flowkit.models.get_model("
                            f"{name!r})), got {type(model).__module__}.{type(model).__qualname__}")
    return check_float32(model)


def check_float32(model):
    """``model`` (a caller's module) if its floating-point parameters are float32, the
    precision flowkit feeds its networks: ``model.double()`` or ``.half()`` failed inside torch
    ("Input type (float) and bias type (double) should be the same") after the classical
    pipeline had run."""
    dtypes = {p.dtype for p in model.parameters() if p.is_floating_point()}
    other = sorted(str(d).removeprefix("torch.") for d in dtypes if str(d) != "torch.float32")
    if other:
        raise TypeError(f"model: expected a module with float32 parameters (model.float()), "
                        f"got {', '.join(other)} parameters")
    return model


def _shipped(stem):
    """Weights ``stem.safetensors`` of the package with the metadata of ``stem.json``."""
    path = _WEIGHTS_DIR / f"{stem}.safetensors"
    meta_path = _WEIGHTS_DIR / f"{stem}.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    return Weights(path, meta)


register_model("interp-refine", "flowkit.models.interp_refine:InterpRefine",
               weights={"default": _shipped("interp_refine")})
register_model("colorize", "flowkit.models.colorize:Colorize",
               weights={"default": _shipped("colorize")})
register_model("predict-gan", "flowkit.models.predict_gan:PredictRefine",
               weights={"default": _shipped("predict_gan"),  # L1 + GDL + adversarial
                        "l1": _shipped("predict_gan_l1")})  # L1 + GDL: the sharpness baseline
register_model("text2video-shapes", "flowkit.models.text2video:Text2Video",
               weights={"default": _shipped("text2video_shapes")})
_BUILTIN = frozenset(_REGISTRY)
