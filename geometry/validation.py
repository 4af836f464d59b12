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
import os

import numpy as np

__all__ = [
    "as_float_array",
    "as_directions",
    "as_int_array",
    "check_bool",
    "check_choice",
    "check_int",
    "check_memory",
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


#: the largest magnitude check_int accepts (numpy's int64)
_INT_LIMIT = 2 ** 63 - 1


def check_int(x, name, *, minimum=None, maximum=None):
    """Return ``x`` as an int, raising a clear error when it is not an integer in range.

    Whole floats are accepted up to 2**53 (beyond, a float is not an exact integer);
    no value beyond int64 (:math:`2^{63}-1` in magnitude) is accepted.
    """
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        if isinstance(x, (float, np.floating)) and np.isfinite(x) and float(x).is_integer():
            if abs(x) > 2 ** 53:
                raise ValueError(f"{name} must be an integer, got {float(x)!r} (a float this large is not "
                                 "an exact integer)")
            x = int(x)
        else:
            raise TypeError(f"{name} must be an integer, got {_short(repr(x))}")
    x = int(x)
    if abs(x) > _INT_LIMIT:
        raise ValueError(f"{name} must be a 64-bit integer, got {_short(repr(x))}")
    if minimum is not None and x < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {x}")
    if maximum is not None and x > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {x}")
    return x


def as_int_array(x, name, *, ndim=None, minimum=None, allow_empty=False):
    """Return ``x`` as an int64 array of whole numbers, or raise naming ``name``.

    Integer arrays and floats that are whole numbers (e.g. ``[2.0, 8.0]``) are accepted;
    NaN, infinities, fractions, complex numbers, strings and values beyond int64 are not.
    ``ndim`` and ``allow_empty`` as in :func:`as_float_array`; ``minimum``: the smallest
    allowed value.
    """
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(f"{name} must be an array of integers, got {type(x).__name__}")
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except (TypeError, ValueError, OverflowError) as exc:
            raise TypeError(f"{name} must be an array of integers ({_short(exc)})") from None
    if x.dtype.kind == "O":
        try:
            x = x.astype(np.float64)
        except (TypeError, ValueError, OverflowError):
            raise TypeError(f"{name} must be an array of integers, got values of other types") from None
    if x.dtype.kind == "b" or x.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be an array of integers, got dtype {x.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            want = " or ".join(f"{k}-D" for k in allowed)
            raise ValueError(f"{name} must be {want}, got an array of shape {x.shape}")
    if x.size == 0 and not allow_empty:
        raise ValueError(f"{name} must not be empty")
    if x.dtype.kind == "f":
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{name} must hold finite integers, got NaN or infinity")
        if np.any(x != np.round(x)):
            raise ValueError(f"{name} must hold whole numbers, got e.g. {x[x != np.round(x)].flat[0]!r}")
        if x.size and np.abs(x).max() > 2 ** 53:
            raise ValueError(f"{name} must hold integers below 2**53, got {np.abs(x).max():g}")
    elif x.dtype.kind == "u" and x.size and x.max() > _INT_LIMIT:
        raise ValueError(f"{name} must hold 64-bit integers, got {x.max()}")
    out = x.astype(np.int64)
    if minimum is not None and out.size and out.min() < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got minimum {out.min()}")
    return out


def check_bool(x, name):
    """Return ``x`` as a bool: True, False (or numpy's bools); anything else raises a TypeError."""
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    raise TypeError(f"{name} must be True or False, got {_short(repr(x))}")


def check_choice(x, name, choices):
    """Return ``x`` when it is one of ``choices`` (e.g. the names of the methods), else raise a
    ValueError (or a TypeError for a value that is not even of the choices' type) that names
    the argument and lists the choices."""
    options = list(choices)
    try:
        ok = not isinstance(x, (np.ndarray, list, dict, set)) and x in options
    except TypeError:  # an unhashable value against a dict or set
        ok = False
    if not ok:
        listed = ", ".join(repr(o) for o in options)
        if options and all(isinstance(o, str) for o in options) and not isinstance(x, str):
            raise TypeError(f"{name} must be one of {listed}, got {_short(repr(x))}")
        raise ValueError(f"{name} must be one of {listed}, got {_short(repr(x))}")
    return x


def check_memory(nbytes, name, *, limit=None):
    """Refuse a call that would allocate ``nbytes`` before it starts.

    The limit (default: the machine's physical memory, or the process's address-space limit
    when lower) is what no call could ever get; the error names the argument that asks for
    it and the bytes it would need. Returns ``nbytes``.
    """
    if isinstance(nbytes, bool) or not isinstance(nbytes, numbers.Integral) or nbytes < 0:
        raise TypeError(f"nbytes must be a non-negative integer, got {_short(repr(nbytes))}")
    nbytes = int(nbytes)  # any size: a product of huge arguments is refused below
    if limit is None:
        limit = _memory_limit()
    if nbytes > limit:
        raise ValueError(f"{name} asks for about {_human(nbytes)} of memory ({nbytes:,} bytes), more than "
                         f"the {_human(limit)} available; use a smaller {name}")
    return nbytes


def _memory_limit():
    limit = 1 << 62
    try:
        limit = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        pass
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            limit = min(limit, soft)
    except (ImportError, OSError, ValueError):  # pragma: no cover - not POSIX
        pass
    return limit


def _human(nbytes):
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if nbytes >= size:
            return f"{nbytes / size:.1f} {unit}"
    return f"{nbytes} bytes"


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
