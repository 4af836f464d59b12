"""Input validation: the checks every public function of :mod:`geometry` and
:mod:`landscape` applies at its boundary.

Validate once, at the public boundary, with messages that name the argument
and what is expected; kernels then assume clean input (scikit-learn style).
This module is public and shared on purpose: :mod:`landscape` uses the same checks, so
both packages word their errors the same way.

Each function takes the value and the argument's name, and returns the value in a
canonical form (a float64 array, a Python int or float, a ``numpy.random.Generator``)
or raises a TypeError (wrong kind of value) or ValueError (right kind, wrong value)
whose message names the argument and what was expected.
"""
from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "as_float_array",
    "as_directions",
    "check_int",
    "check_positive",
    "check_probability",
    "check_orthonormal",
    "check_rng",
]


def as_float_array(x, name, *, ndim=None, shape=None, allow_inf=False, allow_empty=False,
                   nonnegative=False):
    """Return ``x`` as a C-contiguous float64 array, or raise a ValueError naming ``name``.

    Parameters
    ----------
    x : array_like
    name : str
        The argument's name, used in error messages.
    ndim : int or tuple of int, optional
        Allowed numbers of dimensions.
    shape : tuple, optional
        Expected shape; ``None`` entries are free.
    allow_inf : bool
        Whether ``+inf`` is allowed (NaN never is; ``-inf`` never is when
        ``nonnegative``).
    allow_empty : bool
        Whether an array with zero elements is allowed.
    nonnegative : bool
        Whether every entry must be >= 0.
    """
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(f"{name} must be an array of numbers, got {type(x).__name__}")
    if not isinstance(x, (np.ndarray, numbers.Real)):
        try:  # see what x holds before converting: complex or strings must not become floats
            x = np.asarray(x)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be an array of real numbers ({_short(exc)})") from None
    kind = x.dtype.kind if isinstance(x, np.ndarray) else "f"
    if kind == "c":
        raise TypeError(f"{name} must be an array of real numbers, got complex values (dtype {x.dtype}); "
                        "pass the real part explicitly if that is what you mean")
    if kind in "USMmV":
        raise TypeError(f"{name} must be an array of real numbers, got dtype {x.dtype}")
    try:
        arr = np.asarray(x, dtype=np.float64)
    except OverflowError:
        raise ValueError(f"{name} contains a number too large for a float") from None
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of real numbers ({_short(exc)})") from None
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(f"{k}-D" for k in allowed)
            raise ValueError(f"{name} must be {want}, got an array of shape {arr.shape}")
    if shape is not None:
        if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
            want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN")
    if nonnegative and (arr < 0).any():
        raise ValueError(f"{name} must be non-negative, got minimum {arr.min()!r}")
    if np.isinf(arr).any():
        if not allow_inf:
            raise ValueError(f"{name} must be finite (contains inf)")
        if (arr == -np.inf).any():
            raise ValueError(f"{name} must not contain -inf")
    # np.ascontiguousarray would turn a 0-d array into shape (1,)
    return np.asarray(arr, order="C")


def _short(exc, limit=160):
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def as_directions(G, dim, name="G"):
    """Validate a batch of directions: shape (m, dim), finite; 1-D input is one direction.

    Returns
    -------
    G : ndarray of shape (m, dim)
    squeeze : bool
        True when the input was 1-D (the caller returns a scalar).
    """
    arr = as_float_array(G, name, ndim=(1, 2))
    squeeze = arr.ndim == 1
    if squeeze:
        arr = arr[None, :]
    if arr.shape[1] != dim:
        raise ValueError(f"{name} must have {dim} columns (the set's dimension), got shape {arr.shape}")
    return arr, squeeze


def check_int(x, name, *, minimum=None, maximum=None):
    """Return ``x`` as an int, raising a clear error when it is not an integer in range."""
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        if isinstance(x, float) and x.is_integer():
            x = int(x)
        else:
            raise TypeError(f"{name} must be an integer, got {x!r}")
    x = int(x)
    if minimum is not None and x < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {x}")
    if maximum is not None and x > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {x}")
    return x


def check_positive(x, name, *, strict=True, allow_inf=False):
    """Return ``x`` as a float, raising when it is not a (strictly) positive real number."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {x!r}")
    x = float(x)
    if np.isnan(x) or (np.isinf(x) and not allow_inf):
        raise ValueError(f"{name} must be finite, got {x}")
    if strict and not x > 0:
        raise ValueError(f"{name} must be > 0, got {x}")
    if not strict and not x >= 0:
        raise ValueError(f"{name} must be >= 0, got {x}")
    return x


def check_probability(x, name, *, open_interval=True):
    """Return ``x`` as a float in (0, 1) (or [0, 1] when ``open_interval`` is False)."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a real number in (0, 1), got {x!r}")
    x = float(x)
    ok = (0.0 < x < 1.0) if open_interval else (0.0 <= x <= 1.0)
    if not ok:
        interval = "(0, 1)" if open_interval else "[0, 1]"
        raise ValueError(f"{name} must lie in {interval}, got {x}")
    return x


def check_orthonormal(axes, name="axes", *, dim=None, atol=1e-8):
    """Validate a D x k matrix with orthonormal columns (k <= D)."""
    arr = as_float_array(axes, name, ndim=2)
    D, k = arr.shape
    if dim is not None and D != dim:
        raise ValueError(f"{name} must have {dim} rows, got shape {arr.shape}")
    if k > D:
        raise ValueError(f"{name} must be D x k with k <= D (orthonormal columns), got shape {arr.shape}")
    err = np.abs(arr.T @ arr - np.eye(k)).max()
    if err > atol * max(1.0, np.sqrt(D)):
        raise ValueError(
            f"{name} must have orthonormal columns (max |A^T A - I| = {err:.3g}); "
            "orthonormalise it first, e.g. with numpy.linalg.qr"
        )
    return arr


def check_rng(seed, name="seed"):
    """Normalise ``seed`` (None, int, SeedSequence or Generator) to a ``numpy.random.Generator``."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{name} must be None, an int, a SeedSequence or a numpy.random.Generator, got {seed!r}")
    if seed < 0:
        raise ValueError(f"{name} must be a non-negative int, got {seed}")
    return np.random.default_rng(int(seed))
