"""A restricted unpickler: builtin containers and scalars, and numpy arrays; nothing else.

A pickle names the callables it calls when loaded (the ``GLOBAL`` / ``STACK_GLOBAL``
opcodes); :meth:`RestrictedUnpickler.find_class` resolves those names, and here it only
resolves an explicit allow-list. A crafted pickle that would run code (``os.system``,
``builtins.eval``, ``subprocess.Popen``, ...) is refused with
:class:`pickle.UnpicklingError` when its first forbidden name is read, before anything
is called.
"""
from __future__ import annotations

import builtins
import collections
import io
import pickle

import numpy as np

__all__ = ["RestrictedUnpickler", "safe_load", "safe_loads"]


def _latin1_encode(obj, encoding="latin1", errors="strict"):
    """Stand-in for ``_codecs.encode`` (used by protocol-2 pickles for bytes): latin-1 only."""
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1") or errors != "strict":
        raise pickle.UnpicklingError("refusing _codecs.encode with anything but a str and latin-1")
    return obj.encode("latin1")


def _numpy_core():
    try:
        from numpy._core import multiarray, numeric  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray, numeric
    return multiarray, numeric


class _NdarrayToken:
    """What ``numpy.ndarray`` resolves to: usable only as the subtype of ``_reconstruct``.

    ``numpy.ndarray`` itself is never handed to the pickle machine: called directly with an
    object dtype and a raw buffer it dereferences arbitrary memory.
    """

    def __new__(cls, *args, **kwargs):
        raise pickle.UnpicklingError("refusing to call numpy.ndarray directly from a pickle")


def _refuse_object_dtype(dtype, what):
    if not isinstance(dtype, np.dtype):
        raise pickle.UnpicklingError(f"refusing {what} without a numpy dtype")
    if dtype.hasobject:
        raise pickle.UnpicklingError(f"refusing {what} of an object dtype from raw memory")


def _allowed():
    multiarray, numeric = _numpy_core()

    def reconstruct(subtype, shape, dtype):
        if subtype is not _NdarrayToken:
            raise pickle.UnpicklingError("refusing numpy _reconstruct of anything but numpy.ndarray")
        return multiarray._reconstruct(np.ndarray, shape, dtype)

    def scalar(dtype, *args):
        _refuse_object_dtype(dtype, "a numpy scalar")
        return multiarray.scalar(dtype, *args)

    def frombuffer(buf, dtype, shape, order):
        _refuse_object_dtype(dtype, "a numpy array")
        return numeric._frombuffer(buf, dtype, shape, order)

    table = {("builtins", name): getattr(builtins, name) for name in (
        "dict", "list", "tuple", "set", "frozenset", "str", "bytes", "bytearray",
        "int", "float", "complex", "bool", "slice", "range")}
    table[("__builtin__", "set")] = set  # protocol-2 pickles written by Python 2
    table[("collections", "OrderedDict")] = collections.OrderedDict
    table[("_codecs", "encode")] = _latin1_encode
    table[("numpy", "ndarray")] = _NdarrayToken
    table[("numpy", "dtype")] = np.dtype
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        table[(mod, "_reconstruct")] = reconstruct
        table[(mod, "scalar")] = scalar
    for mod in ("numpy.core.numeric", "numpy._core.numeric"):
        table[(mod, "_frombuffer")] = frombuffer
    return table


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only builtin containers/scalars and numpy array machinery.

    Examples
    --------
    >>> import io, pickle
    >>> import numpy as np
    >>> blob = pickle.dumps({"x": np.arange(3), "s": "0.5"})
    >>> RestrictedUnpickler(io.BytesIO(blob)).load()["x"]
    array([0, 1, 2])
    """

    _ALLOWED = None

    def find_class(self, module, name):
        if RestrictedUnpickler._ALLOWED is None:
            RestrictedUnpickler._ALLOWED = _allowed()
        obj = RestrictedUnpickler._ALLOWED.get((module, name))
        if obj is None:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}: only builtin containers and scalars "
                "and numpy arrays are allowed in result pickles"
            )
        return obj

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refusing a pickle with persistent ids")


def safe_loads(data):
    """Unpickle bytes with :class:`RestrictedUnpickler`."""
    return RestrictedUnpickler(io.BytesIO(data)).load()


def safe_load(path):
    """Unpickle a file with :class:`RestrictedUnpickler`.

    Raises
    ------
    pickle.UnpicklingError
        For a forbidden global (nothing has been called).
    ValueError
        For a truncated or corrupt file.
    """
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        return safe_loads(data)
    except pickle.UnpicklingError as exc:
        if str(exc).startswith("refusing"):
            raise
        raise ValueError(f"{path}: truncated or corrupt pickle ({exc})") from None
    except (EOFError, IndexError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ValueError(f"{path}: truncated or corrupt pickle ({type(exc).__name__}: {exc})") from None
