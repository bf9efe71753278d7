"""Flow estimators by name: the one registry that ``predict``, the command line and later
generators use to turn ``flow="farneback"`` (or a callable) into a function
``(frame0, frame1) -> flow``. Users add names with :func:`register_estimator`, or for every
process (the command line, Dask workers) through the ``flowkit.estimators`` entry point group.
"""

import functools
import importlib
import inspect
import re
import threading

from ._validate import add_note, check_bool, describe, name_taken, remade

ENTRY_POINT_GROUP = "flowkit.estimators"

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


# the end of the unknown-name error: where a name registered elsewhere is not seen
_REGISTERED_HINT = (" (a name of flowkit.register_estimator exists in the process that "
                    "registered it; other processes, such as Dask workers and the flowkit "
                    "commands, see the entry points of flowkit.estimators; or pass the function)")
# name -> the user's function, or an importlib.metadata.EntryPoint not loaded yet
_USER = {}
_PLUGINS = set()  # the names of _USER that came from entry points (never replaced)
_USER_LOCK = threading.Lock()
_plugins_found = False
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def register_estimator(name, function=None, *, replace=False):
    """Register a flow estimator under ``name``, for ``flow=name`` wherever estimator names
    are accepted (``predict``, ``interpolate``, ``retime``, ``translate``, ``batch``).

    Can be used as a decorator: ``@flowkit.register_estimator("mine")``. A name registered
    here exists in this process; for the ``flowkit`` commands and Dask workers (other
    processes), declare it as an entry point of the group ``flowkit.estimators`` in the
    package that defines it (``[project.entry-points."flowkit.estimators"]`` in its
    ``pyproject.toml``: ``mine = "mypackage.flows:mine"``); such names are listed by
    :func:`list_estimators` and imported on first use.

    Parameters
    ----------
    name : str
        Letters, digits, ``_``, ``.`` and ``-``, starting with a letter or digit; not a name
        that is registered already (the built-in ones included).
    function : callable, optional
        ``function(frame0, frame1, **options) -> flow``: frames as the caller passed them
        (``(H, W[, C])``, or batches ``(N, H, W[, C])`` where the caller passes batches),
        an ``(H, W, 2)`` (``(N, H, W, 2)``) float flow with flowkit's convention
        (``frame0[y, x] ~ frame1[y + v, x + u]``), which is checked on every call. An
        error it raises reaches the caller as raised, with a note naming it
        (``exc.add_note``: ``"raised by the estimator 'mine'"``). Its
        keyword-only parameters are its options (``flow_options``), checked by name before
        any frame is processed; with ``**kwargs`` any name is passed on. None: return a
        decorator.
    replace : bool, default False
        Replace a function registered under ``name`` by this function (re-running a notebook
        cell); the built-in names and entry points are never replaced.

    Returns
    -------
    callable
        ``function`` (or the decorator).

    Raises
    ------
    TypeError
        ``name`` not a string; ``function`` not callable, or not callable as
        ``function(frame0, frame1)``; ``replace`` not a bool.
    ValueError
        ``name`` empty, of other characters, registered already (without ``replace``), or
        built in.

    Examples
    --------
    >>> import flowkit
    >>> @flowkit.register_estimator("zero-example")
    ... def zero(frame0, frame1, *, scale=1.0):
    ...     import numpy as np
    ...     return np.zeros(frame0.shape[:2] + (2,), np.float32)
    >>> "zero-example" in flowkit.list_estimators()
    True
    """
    if not isinstance(name, str):
        raise TypeError(f"name: expected a string, got {describe(name)}")
    if not _NAME.fullmatch(name):
        raise ValueError("name: expected letters, digits, '_', '.' and '-', starting with a "
                         f"letter or digit, got {name!r}")
    replace = check_bool("replace", replace)  # replace="no" replaced
    if function is None:
        return lambda fn: register_estimator(name, fn, replace=replace)
    if not callable(function):
        raise TypeError(f"function: expected a callable (frame0, frame1, **options) -> flow, "
                        f"got {describe(function)}")
    _check_signature(function, "function")
    _find_plugins()
    with _USER_LOCK:
        taken = name in _REGISTRY or name in _PLUGINS or (name in _USER and not replace)
        if taken:
            fixed = ("flowkit's own" if name in _REGISTRY else "an entry point's"
                     if name in _PLUGINS else None)
            raise name_taken(name, "an estimator", sorted(set(_REGISTRY) | set(_USER)), fixed)
        _USER[name] = function
    return function


def _check_signature(function, what):
    """``function`` must be callable as ``function(frame0, frame1)`` (its options keyword-only):
    a lambda of one frame failed only on the first pair, naming no parameter."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # no signature to read (a C function): the call will say
        return
    positional = [p for p in signature.parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    takes_two = (any(p.kind == p.VAR_POSITIONAL for p in signature.parameters.values())
                 or len(positional) >= 2)
    if not takes_two or any(p.default is p.empty for p in positional[2:]):
        raise TypeError(f"{what}: expected a callable (frame0, frame1, **options) -> flow, got "
                        f"{getattr(function, '__name__', describe(function))}{signature}")


def _find_plugins():
    """Add the names of the ``flowkit.estimators`` entry points (not imported yet), once."""
    global _plugins_found
    if _plugins_found:
        return
    from importlib.metadata import entry_points

    with _USER_LOCK:
        if not _plugins_found:
            for point in entry_points(group=ENTRY_POINT_GROUP):
                if (point.name not in _REGISTRY and point.name not in _USER
                        and _NAME.fullmatch(point.name)):
                    _USER[point.name] = point
                    _PLUGINS.add(point.name)
            _plugins_found = True


def list_estimators():
    """Names accepted by ``flow=`` arguments, sorted: the built-in ones, those of
    :func:`register_estimator` and of ``flowkit.estimators`` entry points.

    Returns
    -------
    list of str
    """
    _find_plugins()
    return sorted(set(_REGISTRY) | set(_USER))


def origin(name):
    """Where the estimator ``name`` comes from in this process, for a process that lacks it
    (a Dask worker): its entry point and package, or its registration here; None for a
    built-in name or one not known here."""
    _find_plugins()
    if not isinstance(name, str) or name in _REGISTRY or name not in _USER:
        return None
    if name not in _PLUGINS:
        return ("registered by flowkit.register_estimator in that process only; declare it as "
                f"an entry point of {ENTRY_POINT_GROUP} in a package installed on every "
                "worker, or pass the function")
    from importlib.metadata import entry_points

    point = next(iter(entry_points(group=ENTRY_POINT_GROUP, name=name)), None)
    dist = getattr(point, "dist", None)
    package = f" of the package {dist.name} {dist.version}" if dist is not None else ""
    value = f" = {point.value}" if point is not None else ""
    return (f"the entry point {name}{value} ({ENTRY_POINT_GROUP}){package}; install it on every "
            "worker")


def _function(name):
    if name in _USER:
        function = _USER[name]
        if hasattr(function, "load") and not callable(function):  # an entry point
            try:
                loaded = function.load()
            except Exception as exc:  # the plugin's import error, named
                raise ImportError(f"flow: the estimator {name!r} (entry point {function.value} "
                                  f"of group {ENTRY_POINT_GROUP}) could not be imported: "
                                  f"{exc}") from exc
            if not callable(loaded):
                raise TypeError(f"flow: the entry point {name!r} ({function.value}) is "
                                f"{describe(loaded)}, not a callable")
            _check_signature(loaded, f"flow: the entry point {name!r} ({function.value})")
            _USER[name] = function = loaded
        return function
    module, attribute, *fixed = _REGISTRY[name]
    function = getattr(importlib.import_module(module, __package__), attribute)
    return functools.partial(function, **fixed[0]) if fixed else function


def _fixed(name):
    """Options a registered name sets itself (``dis-fast``: the preset)."""
    if name not in _REGISTRY:
        return {}
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


def _takes_any_option(name):
    """A user's estimator with ``**kwargs``: every option name is passed on."""
    return name in _USER and any(p.kind == p.VAR_KEYWORD for p in
                                 inspect.signature(_function(name)).parameters.values())


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
    builtin = isinstance(flow, str) and flow in _REGISTRY
    if isinstance(flow, str):
        if flow not in list_estimators():
            raise ValueError(f"{name}: expected one of {tuple(list_estimators())} or a callable, "
                             f"got {flow!r}{_REGISTERED_HINT}")
        valid = estimator_options(flow)
        for key in options:
            if key not in valid and not _takes_any_option(flow):
                raise ValueError(f"{options_name}: {key!r} is not an option of {flow}; "
                                 f"its options are {', '.join(valid) or 'none'}")
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
    # a user's callable or registered estimator: its errors say so (a note: the same type and
    # traceback; they came unnamed, as if flowkit had raised them), and what it gave is checked
    what = (f"the estimator {flow!r}" if isinstance(flow, str) else
            f"the callable {getattr(flow, '__qualname__', describe(flow))} given as {name}")

    def estimate(frame0, frame1):
        try:
            flow_out = function(frame0, frame1, **options)
        except Exception as exc:
            if not builtin:
                add_note(exc, f"raised by {what}")
            if isinstance(exc, (ValueError, TypeError)):
                _named(exc, options, options_name)
            raise
        if not builtin:
            flow_out = _check_returned(name, flow_out, frame0, what if isinstance(flow, str)
                                       else "the callable")
        return flow_out

    estimate.__name__ = flow if isinstance(flow, str) else getattr(flow, "__name__", "estimator")
    return estimate


def _check_values(name, function, options):
    """Run the checker of the estimator ``name`` (``_CHECKS``) on its defaults updated by its
    fixed options and ``options``."""
    base = name.split("-")[0]  # "dis-fast": dis's checks
    if name not in _REGISTRY or base not in _CHECKS:
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
            raise remade(exc, f"{options_name}[{key!r}]{str(exc)[len(key):]}") from exc
    raise exc


def _check_returned(name, flow_out, frame0, what="the callable"):
    """A user estimator's result must be a float flow of the frames' size; it is returned as
    an array (a torch tensor, any host array-like, read as flow arrays are everywhere)."""
    from ._backend import as_array
    from ._validate import check_flow, frames_layout

    _, has_channels = frames_layout(frame0)
    lead = tuple(frame0.shape[:-1] if has_channels else frame0.shape)  # (H, W) or (N, H, W)
    try:
        array = as_array(flow_out, name)
        check_flow(name, array, shape=lead)
    except (TypeError, ValueError) as exc:
        # "flow: expected shape (48, 64, 2), got (4, 4, 2)": the expectation only, after the
        # description of the result (which gives its shape and dtype)
        message = str(exc).removeprefix(f"{name}: ")
        expected = re.fullmatch(r"(expected (?:shape|a float dtype) .*), got [^;]*", message)
        raise type(exc)(f"{name}: {what} returned {describe(flow_out)}; "
                        f"{expected[1] if expected else message}") from None
    return array
