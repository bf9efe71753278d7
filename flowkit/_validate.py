"""Input checks shared by every public function.

Each check raises before any kernel runs, with a message of the form
``"<parameter>: expected <what>, got <what was given>"``. The checks read only ``shape``,
``dtype`` and ``ndim``, so they work on NumPy and CuPy arrays alike.
"""

import contextlib
import contextvars
import inspect
import numbers
import os

import numpy as np

IMAGE_DTYPES = (np.uint8, np.uint16, np.float16, np.float32, np.float64)
FLOW_DTYPES = (np.float16, np.float32, np.float64)
_IMAGE_DTYPE_NAMES = "uint8, uint16, float16, float32 or float64"
MAX_CHANNELS = 4  # a 3-D frame whose last axis is longer than this is read as (N, H, W)


class FramesTooSmall(ValueError):
    """Frames smaller than an estimator needs: ``"<parameter>: <need><hint>"``, ``need`` being
    ``"expected frames at least ..."``; kept apart so that a caller can name what its own user
    set instead (``predict`` names ``frames`` and its ``flow``, the command line the flag)."""

    def __init__(self, parameter, need, hint=""):
        super().__init__(f"{parameter}: {need}{hint}")
        self.parameter, self.need, self.hint = parameter, need, hint

    def __reduce__(self):  # to and from worker processes (flowkit.batch) whole
        return type(self), (self.parameter, self.need, self.hint)


INT64_MAX = int(np.iinfo(np.int64).max)  # the largest integer option (check_int)

# Middlebury marks pixels without a known flow by |u| or |v| >= 1e9 (kernels.warp.UNKNOWN_FLOW)
UNKNOWN_FLOW = 1e9


def read_as_batch(name, array, *, clips=False):
    """For an error about the frames ``array`` (parameter ``name``): where the layout rule
    (:func:`frames_layout`) read it as gray frames because its last axis is longer than
    ``MAX_CHANNELS``, a note saying how it was read and why, to end the message with; else
    ``""``. The note starts with a space and is in parentheses.

    Frames (``clips=False``): a 3-D array read as a batch ``(N, H, W)``. Clips
    (``clips=True``, ``predict``): a 3-D array read as one gray clip ``(T, H, W)``, a 4-D one
    as a batch of gray clips ``(N, T, H, W)``.
    """
    shape = tuple(array.shape)
    if len(shape) not in ((3, 4) if clips else (3,)) or shape[-1] <= MAX_CHANNELS:
        return ""
    if not clips:
        how = f"a batch of {shape[0]} gray frames"
    elif len(shape) == 3:
        how = f"a clip of {shape[0]} gray frames"
    else:
        how = f"{shape[0]} clips of {shape[1]} gray frames each"
    height, width = shape[-2:]
    return (f" ({name} of shape {shape} was read as {how}, {width} pixels wide and {height} "
            f"high: a last axis of {width} is more than the {MAX_CHANNELS} channels a colour "
            f"frame may have; a frame is (H, W) or (H, W, C) with C <= {MAX_CHANNELS})")


@contextlib.contextmanager
def noting_layout(note):
    """Add ``note`` (:func:`read_as_batch`) to a ``ValueError`` raised inside: for functions
    that pass the frames of a batch on one at a time, whose callee (an estimator) cannot see
    how the caller's array was read. ``FramesTooSmall`` stays one (its hint extended); other
    exception types pass unchanged."""
    try:
        yield
    except FramesTooSmall as exc:
        if not note:
            raise
        raise FramesTooSmall(exc.parameter, exc.need, exc.hint + note) from exc
    except ValueError as exc:
        if not note or type(exc) is not ValueError:
            raise
        raise remade(exc, f"{exc}{note}") from exc


def add_note(exc, note):
    """``exc.add_note(note)`` (Python 3.11; on 3.10 the same ``__notes__`` list, which the
    command line's one-line errors read too)."""
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    else:
        exc.__notes__ = [*getattr(exc, "__notes__", ()), note]


def remade(exc, message):
    """An exception of ``exc``'s type with ``message`` and ``exc``'s notes (:func:`add_note`:
    which user estimator raised it), for the helpers that re-raise an error reworded."""
    new = type(exc)(message)
    if getattr(exc, "__notes__", None):
        new.__notes__ = list(exc.__notes__)
    return new


@contextlib.contextmanager
def renaming(name, as_name, kinds=(ValueError, TypeError, FileNotFoundError, IsADirectoryError)):
    """Re-raise an error whose message names a callee's parameter ``name`` (``"path: ..."``,
    the video reader's) naming the caller's parameter ``as_name`` instead (``retime``'s
    ``src``; the command line's flag, ``--method``), the one its user gave. The exception types
    ``kinds`` (by default ValueError, TypeError, FileNotFoundError and IsADirectoryError), as
    they are raised (as :func:`noting_layout`, other exception types, subclasses too, pass
    unchanged)."""
    try:
        yield
    except kinds as exc:
        text = str(exc)
        exact = type(exc) in kinds
        if not exact or not text.startswith(f"{name}: "):
            raise
        raise remade(exc, f"{as_name}: {text[len(name) + 2:]}") from exc


def import_optional(module, user, package, install):
    """Import ``module`` of an optional dependency for ``user`` (what needs it: ``ssim``), or
    raise an ImportError that says so: ``USER needs PACKAGE, which is not installed: pip
    install INSTALL``."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{user} needs {package}, which is not installed: "
                          f"pip install {install}") from exc


def _dtype_name(array):
    return getattr(array.dtype, "name", str(array.dtype))


_COLLECTING = contextvars.ContextVar("flowkit_collecting", default=None)


@contextlib.contextmanager
def collecting(category):
    """The messages of the warnings of ``category`` that :func:`warn_user` is given meanwhile
    in this thread (its context), collected in the list this yields instead of warned: per
    call, where ``warnings.catch_warnings`` swaps the process's filters and showwarning,
    which tasks running at once in threads (a Dask worker's) then share."""
    notes = []
    token = _COLLECTING.set((category, notes))
    try:
        yield notes
    finally:
        _COLLECTING.reset(token)


def warn_user(message, category):
    """``warnings.warn`` at the first caller outside flowkit: the user's line (a notebook cell),
    however deep in flowkit's generators the warning is raised (a fixed ``stacklevel`` named
    flowkit's own decoding loop, ``video.py:1099``, whatever the user had called). Collected
    instead within :func:`collecting` for its category."""
    import sys
    import warnings

    collector = _COLLECTING.get()
    if collector is not None and issubclass(category, collector[0]):
        collector[1].append(str(message))
        return

    frame, level = sys._getframe(1), 2  # stacklevel 2: this function's caller
    while frame.f_back is not None and frame.f_globals.get("__name__", "").partition(".")[0] \
            == "flowkit":
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def public_signature(function):
    """``function``'s signature without its private (``_``-prefixed) keyword parameters, which
    flowkit's own callers pass (``batch`` to ``retime``), for ``help()`` and ``inspect``."""
    signature = inspect.signature(function)
    return signature.replace(parameters=[p for p in signature.parameters.values()
                                         if not p.name.startswith("_")])


def name_taken(name, kind, registered, fixed=None):
    """The error of a registry asked to register ``name`` (``kind``: "an estimator", "a model",
    ...) that is among ``registered``: one wording for every registry, saying whether
    ``replace=True`` would replace it (``fixed``: whose it is when it would not)."""
    why = (f"it is {fixed}, which replace=True does not replace: choose another name" if fixed
           else "replace=True replaces it")
    return ValueError(f"name: expected a name not yet registered as {kind} (registered: "
                      f"{', '.join(registered)}), got {name!r}; {why}")


def describe(value):
    """``value`` for an error message: its repr, or type, shape and dtype for an array, or its
    class where the repr spans lines (a torch module printed itself over 35 lines), its type,
    length and start for a long list, tuple, dict or set. A NumPy
    scalar or 0-d array is its dtype and value (``float64 2.5``)."""
    if isinstance(value, (np.generic, np.ndarray)) and np.ndim(value) == 0:
        return f"{_dtype_name(value)} {np.asarray(value).item()!r}"
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"{type(value).__name__} of shape {tuple(value.shape)} and dtype {_dtype_name(value)}"
    text = repr(value)
    if "\n" in text:
        return f"a {type(value).__module__}.{type(value).__qualname__}"
    if isinstance(value, (list, tuple, dict, set)) and len(text) > 80:  # a nested list of pixels
        return f"a {type(value).__name__} of {len(value)} items ({text[:40]}...)"
    return text


def given_options(function, values):
    """The keyword-only options of ``function`` whose values in ``values`` (its ``locals()``)
    differ from their defaults, in the signature's order: what a repr shows of an object
    made by ``function`` (``DIS(preset='fast')``)."""
    import inspect

    return {name: values[name] for name, p in inspect.signature(function).parameters.items()
            if p.kind is p.KEYWORD_ONLY and values[name] != p.default}


def options_repr(obj, options):
    """``Name(option=value, ...)``, evaluable where ``Name`` is imported from flowkit."""
    return f"{type(obj).__name__}({', '.join(f'{k}={v!r}' for k, v in options.items())})"


def check_array(name, array):
    """Reject objects that are not arrays, 0-D arrays (None, a number or a path that
    ``as_array`` wrapped: named as given) and empty arrays."""
    if not hasattr(array, "shape") or not hasattr(array, "dtype"):
        raise TypeError(f"{name}: expected an array, got {type(array).__name__}")
    if array.ndim == 0:
        value = array.item() if isinstance(array, np.ndarray) else array
        raise TypeError(f"{name}: expected an array, got {describe(value)}")
    if array.size == 0:
        raise ValueError(f"{name}: expected a non-empty array, got shape {tuple(array.shape)}")


def check_not_scalar(name, value):
    """Reject None, a path or a number where an array is expected, before ``as_array`` would
    turn it into a 0-D array with a confusing message."""
    if value is None or isinstance(value, (str, bytes, int, float)):
        raise TypeError(f"{name}: expected an array, got {describe(value)}")


def check_frames_iterable(name, value, hint=""):
    """Frames of a video read one at a time: an iterable (a list, a generator such as
    ``flowkit.iter_frames``, an array ``(T, H, W[, C])``), not None, a number or a path string,
    which iterating would reject naming no parameter (``'NoneType' object is not iterable``);
    ``hint`` ends the message."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{name}: expected an iterable of frames or an array (T, H, W[, C]), got "
                        f"{describe(value)}{hint}")


def check_path(name, value):
    """A file path: a ``str`` or an ``os.PathLike`` (``Path``), not None, bytes or a number,
    which ``Path()`` would reject with a message that names no parameter (TypeError); not the
    empty string, which ``Path()`` reads as ``"."``, the current folder (ValueError: a reader
    said ``path: . is a folder``)."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name}: expected a path (str or os.PathLike), got {describe(value)}")
    if isinstance(value, str) and value == "":
        raise ValueError(f"{name}: expected a path, got an empty string")


def check_image_dtype(name, array):
    """Accept uint8, uint16, float16, float32, float64; reject bool, complex, object, ...;
    signed integers (CT's int16 in Hounsfield units, FITS' int16/int32) with how to pass them."""
    dtype = np.dtype(array.dtype)
    if dtype.type not in IMAGE_DTYPES:
        hint = (" (signed integers have no [0, max] scale to read them in: convert with "
                ".astype(np.float32), whose values are taken in any range by the estimators, "
                "which stretch each pair; docs/conventions.md)") if dtype.kind == "i" else ""
        raise TypeError(f"{name}: expected dtype {_IMAGE_DTYPE_NAMES}, got "
                        f"{_dtype_name(array)}{hint}")


def check_image(name, array, *, ndims=(2, 3, 4)):
    """Check an image or batch of images: array, non-empty, supported dtype, allowed ndim."""
    check_array(name, array)
    if array.ndim not in ndims:
        raise ValueError(
            f"{name}: expected {' or '.join(f'{d}-D' for d in ndims)} array, "
            f"got {array.ndim}-D with shape {tuple(array.shape)}"
        )
    check_image_dtype(name, array)


def check_one_frame(name, array):
    """One frame ``(H, W)`` or ``(H, W, C)`` with C <= ``MAX_CHANNELS``, not a batch (where
    the layout rule reads a 3-D array as a gray batch, the message says so)."""
    check_image(name, array, ndims=(2, 3))
    if frames_layout(array)[0]:
        raise ValueError(f"{name}: expected one frame (H, W) or (H, W, C) with C <= "
                         f"{MAX_CHANNELS}, got shape {tuple(array.shape)}{read_as_batch(name, array)}")


def frames_layout(array):
    """Read the layout of a frame array.

    ``(H, W)`` is one gray frame, ``(H, W, C)`` one frame with C <= 4 channels, a 3-D
    array whose last axis is longer than 4 is a batch ``(N, H, W)``, and ``(N, H, W, C)``
    is a batch of multichannel frames.

    Returns
    -------
    batched, has_channels : bool, bool
    """
    if array.ndim == 2:
        return False, False
    if array.ndim == 3:
        if array.shape[2] <= MAX_CHANNELS:
            return False, True
        return True, False
    return True, True


def intensity_range(dtype):
    """Full-scale value of an image dtype: 255 (uint8), 65535 (uint16), 1.0 (floats, in [0, 1])."""
    dtype = np.dtype(dtype)
    return float(np.iinfo(dtype).max) if dtype.kind == "u" else 1.0


def learned_full_scale(dtype, top):
    """What the learned models (trained on intensities in [0, 1]) divide frames by: an integer
    dtype's maximum; for floats the first of 1, 255 and 65535 at or above ``top`` (the
    frames' largest absolute value), else ``top``, so that float frames in [0, 255] give the
    uint8 frames' result."""
    if np.dtype(dtype).kind == "u":
        return intensity_range(dtype)
    return next((full for full in (1.0, 255.0, 65535.0) if top <= full), float(top))


def check_frame_pair(frame0, frame1, names=("frame0", "frame1")):
    """Check two frames (or batches) of the same shape; errors name them ``names`` (a
    video's ``frames[i]`` and ``frames[i + 1]``).

    Returns
    -------
    frame0, frame1 : arrays
        The inputs as arrays (see ``_backend.as_array``; nothing is moved).
    batched, has_channels : bool, bool
        Their layout (:func:`frames_layout`).
    """
    from ._backend import as_array

    name0, name1 = names
    check_not_scalar(name0, frame0)
    check_not_scalar(name1, frame1)
    frame0, frame1 = as_array(frame0, name0, frames=True), as_array(frame1, name1, frames=True)
    check_image(name0, frame0)
    check_image(name1, frame1)
    check_same_shape(name0, frame0, name1, frame1)
    check_same_dtype(name0, frame0, name1, frame1)
    return (frame0, frame1) + frames_layout(frame0)


def to_nhwc(array, batched, has_channels):
    """View an image array as ``(N, H, W, C)`` without copying.

    A reshape (adding unit axes never copies), not ``[None]`` / ``[..., None]``: Numba's CUDA
    device arrays take integer and slice indices only (tests/device_semantics.py).
    """
    shape = tuple(array.shape)
    if not batched:
        shape = (1,) + shape
    if not has_channels:
        shape = shape + (1,)
    return array.reshape(shape)


def check_same_shape(name0, array0, name1, array1):
    """Both arrays must have the same shape."""
    if tuple(array0.shape) != tuple(array1.shape):
        raise ValueError(
            f"{name1}: expected the same shape as {name0} {tuple(array0.shape)}, "
            f"got {tuple(array1.shape)}"
        )


def check_same_dtype(name0, array0, name1, array1):
    """Both arrays must have the same dtype (the estimators' joint intensity stretch reads both
    frames in one scale)."""
    if np.dtype(array1.dtype) != np.dtype(array0.dtype):
        raise TypeError(f"{name1}: expected dtype {_dtype_name(array0)} (the dtype of {name0}), "
                        f"got {_dtype_name(array1)}")


def check_flow(name, flow, *, shape=None, note="", batch=True):
    """Check a flow field ``(H, W, 2)``, or ``(N, H, W, 2)`` when ``batch``, of floats.

    Parameters
    ----------
    name : str
        Parameter name for messages.
    flow : array
        The flow.
    shape : tuple, optional
        Required leading shape, ``(H, W)`` or ``(N, H, W)``.
    note : str
        Added to the message when the shape is not ``shape`` (:func:`read_as_batch` of the
        frames that ``shape`` comes from).
    """
    check_array(name, flow)
    if np.dtype(flow.dtype).type not in FLOW_DTYPES:
        raise TypeError(f"{name}: expected a float dtype (float16, float32 or float64), got {_dtype_name(flow)}")
    if flow.ndim not in ((3, 4) if batch else (3,)) or flow.shape[-1] != 2:
        shapes = "(H, W, 2) or (N, H, W, 2)" if batch else "(H, W, 2) (one flow field)"
        raise ValueError(f"{name}: expected shape {shapes}, got {tuple(flow.shape)}")
    if shape is not None and tuple(flow.shape[:-1]) != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape) + (2,)}, got {tuple(flow.shape)}"
                         f"{note}")


def check_finite(name, array):
    """No NaN or infinite value (one pass over the array, in its own array library)."""
    from ._backend import array_module

    xp, array = array_module(array)
    if not bool(xp.isfinite(array).all()):
        raise ValueError(f"{name}: expected finite values, got NaN or infinity")


def known_vectors(flow):
    """Where a flow ``(..., 2)`` is known: both components finite and of magnitude below
    ``UNKNOWN_FLOW`` (Middlebury's marker; ``flowkit.warp``'s rule, ``kernels.warp``'s constant).
    A bool array ``flow.shape[:-1]``, NumPy or CuPy as ``flow``."""
    from ._backend import array_module

    xp, flow = array_module(flow)
    with np.errstate(invalid="ignore", over="ignore"):  # False for NaN and inf; per
        # component: NumPy's all(axis=-1) over the length-2 last axis took ~10x longer (9 ms at
        # 1280x720); over: a float16 flow compares with 1e9 cast to float16 (inf), which is
        # still the right answer (every finite float16 is below it) but warned of overflow
        return (xp.abs(flow[..., 0]) < UNKNOWN_FLOW) & (xp.abs(flow[..., 1]) < UNKNOWN_FLOW)


def check_valid_mask(valid, shape, what="", name="valid"):
    """A mask (the parameter ``name``) of ``shape`` (``what`` ends the shape message) as a
    boolean host array: bool, or numbers where nonzero means True (KITTI's uint16 masks); a
    float mask holding NaN is refused (NumPy would count NaN as True), as are strings, objects
    and complex."""
    from ._backend import as_array, to_host

    valid = as_array(valid, name)
    check_array(name, valid)
    if tuple(valid.shape) != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}{what}, got {tuple(valid.shape)}")
    valid = to_host(valid)
    if valid.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected a boolean or numeric mask, got dtype {valid.dtype}")
    nans = int(np.isnan(valid).sum()) if valid.dtype.kind == "f" else 0
    if nans:
        raise ValueError(f"{name}: expected a mask of True/False (or 1/0), got {nans} NaN values")
    return valid.astype(bool)


def check_known_flow(name, flow):
    """No unknown vector (:func:`known_vectors`) in a flow an estimator starts from, which it
    would take for motion."""
    if not bool(known_vectors(flow).all()):
        raise ValueError(f"{name}: expected known vectors (finite, |component| < 1e9), got "
                         "unknown ones (NaN, infinity or the 1e9 marker of .flo files); fill "
                         "them first, e.g. flowkit.fill_holes")


def check_init_flow(init_flow, lead, frame0=None):
    """An estimator's optional ``init_flow``: None, or a finite float flow of the frames'
    lead shape ``(H, W)`` / ``(N, H, W)``; returned as an array (``_backend.as_array``). A
    shape error says how ``frame0`` was read where it was read as a gray batch."""
    if init_flow is None:
        return None
    from ._backend import as_array

    init_flow = as_array(init_flow, "init_flow")
    note = "" if frame0 is None else read_as_batch("frame0", frame0)
    check_flow("init_flow", init_flow, shape=lead, note=note)
    check_known_flow("init_flow", init_flow)
    return init_flow


def check_bool(name, value):
    """A Python or NumPy bool (not an int); returns it as ``bool``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected a bool, got {describe(value)}")
    return bool(value)


def check_choice(name, value, choices):
    """``value`` must be one of ``choices`` (strings compared exactly): a ValueError for another
    string, a TypeError for anything else (``interpolation=1``), as :func:`check_int` and
    :func:`check_float` tell a wrong type from a wrong value."""
    if not isinstance(value, str) or value not in choices:
        error = ValueError if isinstance(value, str) else TypeError
        raise error(f"{name}: expected one of {', '.join(map(repr, choices))}, got {describe(value)}")
    return value


def scalar(value):
    """The element of a 0-d NumPy array (``np.array(3)``), else ``value``."""
    return value[()] if isinstance(value, np.ndarray) and value.ndim == 0 else value


def check_int(name, value, *, min_value=None, max_value=None, odd=False):
    """An integer (bool rejected; a 0-d array of one, as NumPy takes it) within bounds,
    optionally odd; returns it as ``int``. Never above ``INT64_MAX``: every integer option
    reaches NumPy or a Numba kernel as an int64 (beyond it Numba raised OverflowError or a
    typing error, or the value wrapped around)."""
    value = scalar(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an integer, got {describe(value)}")
    value = int(value)
    if max_value is None or max_value > INT64_MAX:
        max_value = INT64_MAX
    if min_value is not None and value < min_value:
        raise ValueError(f"{name}: expected an integer >= {min_value}, got {value}")
    if max_value is not None and value > max_value:
        raise ValueError(f"{name}: expected an integer <= {max_value}, got {value}")
    if odd and value % 2 == 0:
        raise ValueError(f"{name}: expected an odd integer, got {value}")
    return value


def check_float(name, value, *, low=None, high=None, low_open=False, high_open=False):
    """A finite real number in the interval given; returns it as ``float``.

    ``low_open``/``high_open`` exclude the end point. A 0-d array of a number counts as the
    number, as NumPy takes it.
    """
    value = scalar(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {describe(value)}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise ValueError(f"{name}: expected a number in {left}{lo}, {hi}{right}, got {value}")
    return value


class OutputTooLarge(MemoryError, ValueError):
    """An output that cannot fit in the memory of the machine (or GPU) it would be made on,
    found before it is allocated: ``"<parameter>: ..."``, naming the parameter that sets its
    size. A ``MemoryError`` (what the allocation would have raised) and a ``ValueError`` (a
    value the caller chose: the command line reports it as a usage error naming the flag)."""


def _memory_total(xp):
    """Bytes of memory on the device of the array module ``xp``: the machine's physical memory
    for NumPy, the GPU's for CuPy; None where it cannot be told."""
    try:
        if xp is np:
            return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return int(xp.cuda.Device().mem_info[1])
    except (AttributeError, ValueError, OSError, RuntimeError):
        return None


def _gib(nbytes):
    if nbytes < 2 ** 30:
        return f"{nbytes / 2 ** 20:.3g} MiB"
    gib = nbytes / 2 ** 30
    return f"{gib:.3g} GiB" if gib < 1000 else f"{gib:,.0f} GiB"


def check_output_size(name, count, item_bytes, what, xp=np):
    """Refuse an output of ``count`` items of ``item_bytes`` bytes each (``count`` the value of
    the parameter ``name``; ``what``: the items, for the message) larger than the whole
    memory of the device it would be made on (module ``xp``), before any work:
    :class:`OutputTooLarge` naming the parameter, the size needed, the memory there is and
    how many items it holds. Outputs that fit the total but not the free memory are left to
    the allocation."""
    total = _memory_total(xp)
    nbytes = count * item_bytes
    if total is not None and nbytes > total:
        where = "this machine's memory" if xp is np else "the GPU's memory"
        raise OutputTooLarge(f"{name}: {count} {what} would need at least {_gib(nbytes)}, more "
                             f"than {where} ({_gib(total)}), which holds at most "
                             f"{total // item_bytes} of them")
