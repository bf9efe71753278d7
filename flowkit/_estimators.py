"""Flow estimators by name: the one registry that ``predict``, the command line and later
generators use to turn ``flow="farneback"`` (or a callable) into a function
``(frame0, frame1) -> flow``.
"""

import functools
import importlib
import inspect

from ._validate import describe

# name -> (module relative to this package, function name[, fixed keyword options]); every
# estimator takes (frame0, frame1, **keyword_options) and returns an (H, W, 2) float32 flow
_REGISTRY = {
    "farneback": ("._farneback", "farneback"),
    "lucas_kanade": ("._lk_dense", "lucas_kanade"),
    "dis": ("._dis", "dis"),
    **{f"dis-{preset}": ("._dis", "dis", {"preset": preset})
       for preset in ("ultrafast", "fast", "medium", "accurate")},
    # torchvision's RAFT with the user's weights file (flow_options={"weights": path})
    "raft": (".models.raft", "raft"),
}
# keyword parameters that are per-call arrays or change the return value, not options
_NOT_OPTIONS = frozenset({"init_flow", "return_confidence"})
# estimator -> (module, checker): the checks of its option values that need no frames, run by
# get_estimator before any frame is read (keyword parameters named as the estimator's)
_CHECKS = {
    "farneback": ("._farneback", "_check_options"),
    "lucas_kanade": ("._lk_dense", "_check_options"),
    "dis": ("._dis", "_Options"),
    "raft": (".models.raft", "check_options"),  # the weights file, without importing torch
}


def list_estimators():
    """Names accepted by ``flow=`` arguments, sorted.

    Returns
    -------
    list of str
    """
    return sorted(_REGISTRY)


def _function(name):
    module, attribute, *fixed = _REGISTRY[name]
    function = getattr(importlib.import_module(module, __package__), attribute)
    return functools.partial(function, **fixed[0]) if fixed else function


def _fixed(name):
    """Options a registered name sets itself (``dis-fast``: the preset)."""
    return _REGISTRY[name][2] if len(_REGISTRY[name]) > 2 else {}


def estimator_options(name):
    """The keyword options of the estimator ``name`` (read from its signature).

    Returns
    -------
    list of str
    """
    signature = inspect.signature(_function(name))
    return [p.name for p in signature.parameters.values()
            if p.kind == p.KEYWORD_ONLY and p.name not in _NOT_OPTIONS
            and p.name not in _fixed(name)]


def get_estimator(flow, options=None, *, name="flow", options_name="flow_options"):
    """Resolve ``flow`` (a registered name or a callable) and its options to one callable.

    Parameters
    ----------
    flow : str or callable
        A name from :func:`list_estimators`, or any ``callable(frame0, frame1, **options)``
        returning an ``(H, W, 2)`` flow with flowkit's convention.
    options : dict, optional
        Keyword options passed on every call. For a named estimator they are checked
        against its signature here, before any frame is processed.
    name, options_name : str
        Parameter names used in error messages.

    Returns
    -------
    callable
        ``estimate(frame0, frame1) -> flow``.

    Raises
    ------
    ValueError
        Unknown estimator name, an option it does not take, or an option value that its own
        checks refuse without frames (``levels=-1``), named ``options_name[key]``.
    TypeError
        ``flow`` is neither a string nor callable, or ``options`` is not a dict with string keys.
    """
    if options is None:
        options = {}
    if not isinstance(options, dict) or not all(isinstance(k, str) for k in options):
        raise TypeError(f"{options_name}: expected a dict of keyword options or None, got {describe(options)}")
    if isinstance(flow, str):
        if flow not in _REGISTRY:
            raise ValueError(f"{name}: expected one of {tuple(list_estimators())} or a callable, got {flow!r}")
        valid = estimator_options(flow)
        for key in options:
            if key not in valid:
                raise ValueError(f"{options_name}: {key!r} is not an option of {flow}; "
                                 f"its options are {', '.join(valid)}")
        function = _function(flow)
        try:
            _check_values(flow, function, options)
        except (ValueError, TypeError, FileNotFoundError) as exc:  # RAFT's weights file too
            _named(exc, options, options_name)
    elif callable(flow):
        function = flow
    else:
        raise TypeError(f"{name}: expected an estimator name {tuple(list_estimators())} or a callable "
                        f"(frame0, frame1) -> flow, got {describe(flow)}")
    options = dict(options)

    def estimate(frame0, frame1):
        try:
            flow_out = function(frame0, frame1, **options)
        except (ValueError, TypeError) as exc:
            _named(exc, options, options_name)
        if not isinstance(flow, str):  # a user's callable: check what it gave
            _check_returned(name, flow_out, frame0)
        return flow_out

    estimate.__name__ = flow if isinstance(flow, str) else getattr(flow, "__name__", "estimator")
    return estimate


def _check_values(name, function, options):
    """Run the checker of the estimator ``name`` (``_CHECKS``) on its defaults updated by its
    fixed options and ``options``."""
    base = name.split("-")[0]  # "dis-fast": dis's checks
    if base not in _CHECKS:
        return
    if "device" in options and base != "raft":  # else refused only with frames (raft takes
        # "cuda:N" too and checks its own)
        from ._backend import check_device

        check_device(options["device"])
    module, attribute = _CHECKS[base]
    check = getattr(importlib.import_module(module, __package__), attribute)
    values = {p.name: p.default for p in inspect.signature(function).parameters.values()
              if p.kind == p.KEYWORD_ONLY}
    values.update(_fixed(name), **options)
    wanted = inspect.signature(check).parameters
    if all(key in values for key in wanted):  # else the function is not the one checked
        check(**{key: values[key] for key in wanted})


def _named(exc, options, options_name):
    """Raise ``exc`` with the option it names as the caller passed it (``flow_options['levels']:
    ...``), else re-raise it unchanged (``raise exc from exc`` would make it its own cause: a
    cycle that hung Dask's error reporting, ``distributed.core.collect_causes``, in
    ``flowkit batch``)."""
    for key in options:
        if str(exc).startswith(f"{key}: "):
            raise type(exc)(f"{options_name}[{key!r}]{str(exc)[len(key):]}") from exc
    raise exc


def _check_returned(name, flow_out, frame0):
    """A user estimator's result must be a float flow of the frames' size."""
    from ._validate import check_flow, frames_layout

    _, has_channels = frames_layout(frame0)
    lead = tuple(frame0.shape[:-1] if has_channels else frame0.shape)  # (H, W) or (N, H, W)
    try:
        check_flow(name, flow_out, shape=lead)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{name}: the callable returned {describe(flow_out)}; {exc}") from None
