"""Property-based tests (hypothesis) of option values, beside tests/test_fuzz.py's of images.

Each real-valued option of a few functions gets hostile values: zero, negatives, subnormals,
values just below a float32 underflow or past its overflow, huge integers, infinities, NaN,
bools, NumPy scalars and 0-d arrays, strings, None, Fractions and Decimals. Property: a
finite result, or a ``ValueError`` / ``TypeError`` naming the option first and saying what was
given (``"name: expected ..., got ..."``), never another exception (ZeroDivisionError,
OverflowError, NumPy's LinAlgError) nor a NaN result from finite frames.
"""

import re
import warnings
from decimal import Decimal
from fractions import Fraction

import numpy as np
from hypothesis import example, given, settings, strategies as st

import flowkit

OPTIONS = settings(max_examples=25, deadline=None, derandomize=True)
REJECTION = re.compile(r"^[A-Za-z_]\w*: expected .*(got|given)")

HOSTILE = st.one_of(
    st.sampled_from([0, -1, 1, 2**31, 2**63, -0.0, 5e-324, 1e-300, 1e-30, 1e-3, 0.05, 0.1, 0.15,
                     1e10, 1e39, 1e300, np.inf, -np.inf, np.nan, True, False, np.float32(0.5),
                     np.int64(3), np.array(0.5), np.uint64(2**63), "1", None, [1.0],
                     Fraction(1, 3), Decimal("0.5")]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-2**70, 2**70),
)


def _image(dtype=np.float32, shape=(32, 32)):
    return np.random.default_rng(0).random(shape).astype(dtype)


def _outcome(name, function, *args, **kwargs):
    """The result, or None after a rejection in the project's form naming ``name``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the outcome is what is checked
            return function(*args, **kwargs)
    except (ValueError, TypeError) as exc:
        assert REJECTION.match(str(exc)), f"{type(exc).__name__} not in the project's form: {exc}"
        assert str(exc).startswith(f"{name}: "), f"{type(exc).__name__} not naming {name}: {exc}"
        return None


@settings(OPTIONS)
@given(name=st.sampled_from(["win_size", "sigma", "K1", "K2"]), value=HOSTILE,
       dtype=st.sampled_from([np.float32, np.float64, np.uint8]))
@example(name="win_size", value=1, dtype=np.float64)  # ZeroDivisionError
@example(name="K2", value=1e10, dtype=np.float32)  # NaN
def test_ssim_options(name, value, dtype):
    image = _image()
    reference = image * 0.5
    if dtype is np.uint8:
        image, reference = (image * 255).astype(dtype), (reference * 255).astype(dtype)
    else:
        image, reference = image.astype(dtype), reference.astype(dtype)
    extra = {"gaussian_weights": True} if name == "sigma" else {}
    score = _outcome(name, flowkit.metrics.ssim, image, reference, **{name: value}, **extra)
    assert score is None or -1.0 <= score <= 1.0


@settings(OPTIONS)
@given(value=HOSTILE, poly_n=st.sampled_from([5, 7]))
@example(value=1e-3, poly_n=5)  # NumPy's LinAlgError 'Singular matrix'
@example(value=0.1, poly_n=7)  # a flow of NaN
def test_farneback_poly_sigma(value, poly_n):
    frame0 = _image()
    flow = _outcome("poly_sigma", flowkit.farneback, frame0, np.roll(frame0, 1, axis=1),
                    poly_n=poly_n, levels=0, poly_sigma=value)
    assert flow is None or np.isfinite(flow).all()


@settings(OPTIONS)
@given(value=HOSTILE)
@example(value=-1e300)  # -inf in the float32 kernel: no corner
def test_good_features_harris_k(value):
    corners = _outcome("k", flowkit.good_features, _image(), 20, use_harris_detector=True, k=value)
    assert corners is None or (corners.ndim == 2 and np.isfinite(corners).all())
    if corners is not None and float(value) <= 0:  # a response >= det(M): some corner stands out
        assert len(corners) > 0
