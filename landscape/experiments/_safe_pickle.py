"""A restricted unpickler for result pickles: builtin containers and scalars, and plain numpy
arrays, rebuilt here from checked parts; nothing else, and nothing through numpy's own
reconstruction code.

A pickle names the callables it calls when loaded (the ``GLOBAL`` / ``STACK_GLOBAL`` /
``INST`` opcodes); :meth:`RestrictedUnpickler.find_class` resolves those names, and here
it resolves a short list of names to *stand-ins* defined in this module:

* ``numpy.dtype``, ``numpy.core.multiarray._reconstruct`` / ``scalar`` and
  ``numpy.core.numeric._frombuffer`` (and their ``numpy._core`` names) resolve to
  collectors that only record a dtype given by its string form (bool, signed and unsigned
  integers, floats, complex, fixed-width bytes ``S<n>`` and str ``U<n>``), a shape and a
  byte buffer. The ``BUILD`` opcode reaches only their own ``__setstate__``, which checks
  the state (plain dtypes: no fields, no sub-arrays, no flags; arrays: a byte buffer whose
  length is ``prod(shape) * itemsize``). numpy's ``dtype.__setstate__``, ``_reconstruct``,
  ``_frombuffer`` and ``scalar`` are never called: a crafted state (an object field hidden
  by ``flags=0``, an out-of-bounds field offset) would make numpy read memory at
  addresses chosen by the file.
* After loading, :func:`_materialize` walks the structure once (iteratively; shared
  references counted every time they occur) and replaces the collectors by arrays built
  with ``numpy.frombuffer(...).reshape(...).copy()``, refusing nesting deeper than
  ``MAX_DEPTH``, cycles, and a structure that would take more memory than the budget of
  :func:`landscape._limits.expansion_budget`.
* ``set``, ``frozenset``, ``complex``, ``bytes``, ``bytearray``, ``_codecs.encode`` and
  ``collections.OrderedDict`` resolve to stand-ins that accept only what Python's own
  pickles of these types pass (a list of items, two numbers, a latin-1 string, ...):
  no ``range``, ``list``, ``bytes(10**12)`` or other constructor that expands a few bytes
  into gigabytes.

Before the unpickler runs, the opcodes are scanned (:func:`pickletools.genops`): a memo
index beyond the number of opcodes (which would make the C unpickler allocate a table of
that size) and malformed opcodes are refused.

Anything else is refused with :class:`pickle.UnpicklingError` (message starting with
"refusing") before it is called; messages never show a structure read from the file in
full (:func:`landscape._limits.short_repr`).
"""
from __future__ import annotations

import io
import os
import pickle
import pickletools
import re
import sys

import numpy as np

from .._limits import expansion_budget, short_repr, short_text, too_large

__all__ = ["RestrictedUnpickler", "safe_load", "safe_loads", "MAX_DEPTH"]

#: deepest nesting of containers accepted in a pickle
MAX_DEPTH = 100
_MAX_NDIM = 32
_PLAIN_DTYPE = re.compile(r"b1|[iu][1248]|f[248]|c(?:8|16)|[SU][1-9][0-9]{0,8}")


def _refuse(what):
    return pickle.UnpicklingError(f"refusing {what}")


# --------------------------------------------------------------------------- numpy stand-ins
class _NdarrayName:
    """What ``numpy.ndarray`` resolves to: an inert marker, valid only as ``_reconstruct``'s
    first argument. numpy.ndarray itself, called with an object dtype and a raw buffer,
    dereferences arbitrary memory."""

    __slots__ = ()
    __hash__ = None


_NDARRAY = _NdarrayName()


class _DTypeSpec:
    """A plain dtype named by its string form; ``BUILD`` may only set its byte order."""

    __slots__ = ("dtype", "built")
    __hash__ = None

    def __init__(self, code):
        self.dtype = np.dtype(code)
        self.built = False

    def __setstate__(self, state):
        if self.built:
            raise _refuse("a numpy dtype whose state is set twice")
        if not isinstance(state, tuple) or len(state) != 8 or state[0] != 3:
            raise _refuse(f"a numpy dtype state {short_repr(state)} (expected version 3, 8 fields)")
        _, order, subarray, names, fields, elsize, alignment, _flags = state
        if subarray is not None or names is not None or fields is not None:
            raise _refuse("a numpy dtype with fields or sub-arrays (records are not allowed)")
        if order not in ("<", ">", "|", "="):
            raise _refuse(f"a numpy dtype with byte order {short_repr(order)}")
        for v in (elsize, alignment):
            if type(v) is not int:
                raise _refuse(f"a numpy dtype state with a non-integer size {short_repr(v)}")
        sized = self.dtype.kind in "SU"
        if elsize != (self.dtype.itemsize if sized else -1):
            raise _refuse(f"a numpy dtype {self.dtype.str} whose state claims {elsize} bytes per element")
        if order in "<>" and (self.dtype.kind == "U" or (self.dtype.kind != "S" and self.dtype.itemsize > 1)):
            self.dtype = self.dtype.newbyteorder(order)
        self.built = True


def _dtype(obj, align=False, copy=False):
    """``numpy.dtype(obj, align, copy)`` for a whitelisted string ``obj`` only."""
    if type(obj) is not str or not _PLAIN_DTYPE.fullmatch(obj):
        raise _refuse(f"numpy dtype {short_repr(obj)}: only bool, integer, float, complex and "
                      "fixed-width bytes/str dtypes are allowed")
    if type(align) not in (bool, int) or type(copy) not in (bool, int) or align:
        raise _refuse("a numpy dtype with alignment or copy flags that numpy never writes")
    return _DTypeSpec(obj)


def _check_shape(shape):
    if type(shape) is not tuple or len(shape) > _MAX_NDIM or \
            any(type(s) is not int or s < 0 for s in shape):
        raise _refuse(f"an array shape {short_repr(shape)} (expected a tuple of at most {_MAX_NDIM} "
                      "non-negative ints)")
    count = 1
    for s in shape:
        count *= s
    return count


class _ArraySpec:
    """An array to build: plain dtype, shape, order and a byte buffer of the right length."""

    __slots__ = ("dtype", "shape", "fortran", "data", "count")
    __hash__ = None

    def __init__(self):
        self.data = None

    def set(self, dtype, shape, fortran, data):
        if self.data is not None:
            raise _refuse("a numpy array whose state is set twice")
        if not isinstance(dtype, _DTypeSpec):
            raise _refuse("a numpy array without a plain dtype")
        count = _check_shape(shape)
        if type(fortran) not in (bool, int):
            raise _refuse(f"an array order flag {short_repr(fortran)}")
        if type(data) not in (bytes, bytearray):
            raise _refuse(f"array data of type {type(data).__name__} (raw bytes only: object arrays "
                          "are not allowed)")
        need = count * dtype.dtype.itemsize
        if len(data) != need:
            raise _refuse(f"an array of shape {short_repr(shape)} and dtype {dtype.dtype.str} "
                          f"({need} bytes) with {len(data)} bytes of data")
        self.dtype, self.shape, self.fortran, self.data, self.count = dtype, shape, bool(fortran), data, count

    def __setstate__(self, state):
        if type(state) is not tuple or len(state) not in (4, 5):
            raise _refuse(f"a numpy array state {short_repr(state)}")
        if len(state) == 5:
            if state[0] != 1:
                raise _refuse(f"a numpy array state of version {short_repr(state[0])}")
            state = state[1:]
        shape, dtype, fortran, data = state
        self.set(dtype, shape, fortran, data)

    def build(self):
        if self.data is None:
            raise _refuse("a numpy array without its data")
        dt = self.dtype.dtype
        if self.count == 0:
            return np.empty(self.shape, dtype=dt, order="F" if self.fortran else "C")
        flat = np.frombuffer(self.data, dtype=dt, count=self.count)
        return flat.reshape(self.shape, order="F" if self.fortran else "C").copy(order="K")


class _ScalarSpec:
    __slots__ = ("dtype", "data")
    __hash__ = None

    def build(self):
        return np.frombuffer(self.data, dtype=self.dtype.dtype, count=1)[0].copy()


def _reconstruct(subtype, shape, dtype_code):
    if subtype is not _NDARRAY:
        raise _refuse("numpy _reconstruct of anything but numpy.ndarray")
    return _ArraySpec()


def _frombuffer(buf, dtype, shape, order):
    if order not in ("C", "F"):
        raise _refuse(f"an array order {short_repr(order)}")
    spec = _ArraySpec()
    spec.set(dtype, shape, order == "F", buf)
    return spec


def _scalar(dtype, data=None):
    if not isinstance(dtype, _DTypeSpec):
        raise _refuse("a numpy scalar without a plain dtype")
    if type(data) is not bytes or len(data) != dtype.dtype.itemsize:
        raise _refuse(f"a numpy scalar of dtype {dtype.dtype.str} from {short_repr(data)}")
    spec = _ScalarSpec()
    spec.dtype, spec.data = dtype, data
    return spec


# --------------------------------------------------------------------------- builtin stand-ins
_ITEMS = (list, tuple, set, frozenset)


def _set(items=()):
    if type(items) not in _ITEMS:
        raise _refuse(f"set() of a {type(items).__name__} (only a list of items)")
    return set(items)


def _frozenset(items=()):
    if type(items) not in _ITEMS:
        raise _refuse(f"frozenset() of a {type(items).__name__} (only a list of items)")
    return frozenset(items)


def _complex(real=0.0, imag=0.0):
    if type(real) not in (int, float) or type(imag) not in (int, float):
        raise _refuse("complex() of anything but two numbers")
    return complex(real, imag)


def _bytes(*args):
    if args:  # Python pickles only b"" through bytes(); other bytes use _codecs.encode
        raise _refuse("bytes() with arguments")
    return b""


def _bytearray(*args):
    if not args:
        return bytearray()
    if len(args) == 1 and type(args[0]) is bytes:
        return bytearray(args[0])
    if len(args) == 2 and type(args[0]) is str and args[1] in ("latin-1", "latin1"):
        return bytearray(args[0], "latin-1")
    raise _refuse("bytearray() of anything but bytes or a latin-1 string")


def _latin1_encode(obj, encoding="latin1", errors="strict"):
    """Stand-in for ``_codecs.encode`` (used by protocol 0-2 pickles for bytes): latin-1 only."""
    if type(obj) is not str or encoding not in ("latin1", "latin-1") or errors != "strict":
        raise _refuse("_codecs.encode with anything but a str and latin-1")
    return obj.encode("latin1")


class _OrderedDict(dict):
    """``collections.OrderedDict()`` as pickled (no arguments, then its items); a plain dict
    once loaded (dicts keep their order)."""

    __slots__ = ()

    def __setstate__(self, state):
        raise _refuse("state for an OrderedDict")


def _ordered_dict(*args):
    if args:
        raise _refuse("OrderedDict() with arguments")
    return _OrderedDict()


def _allowed():
    table = {}
    for mod in ("builtins", "__builtin__"):
        table.update({(mod, "set"): _set, (mod, "frozenset"): _frozenset, (mod, "complex"): _complex,
                      (mod, "bytes"): _bytes, (mod, "bytearray"): _bytearray})
    table[("_codecs", "encode")] = _latin1_encode
    table[("collections", "OrderedDict")] = _ordered_dict
    table[("numpy", "ndarray")] = _NDARRAY
    table[("numpy", "dtype")] = _dtype
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        table[(mod, "_reconstruct")] = _reconstruct
        table[(mod, "scalar")] = _scalar
    for mod in ("numpy.core.numeric", "numpy._core.numeric"):
        table[(mod, "_frombuffer")] = _frombuffer
    return table


_ALLOWED = _allowed()


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the stand-ins of this module (see the module docstring).

    Use :func:`safe_loads` / :func:`safe_load`, which also scan the opcodes first and turn
    the stand-ins into arrays; :meth:`load` alone returns the raw stand-ins.
    """

    def find_class(self, module, name):
        obj = _ALLOWED.get((module, name))
        if obj is None:
            raise _refuse(f"to load global {short_repr(module)}.{short_repr(name)}: only builtin "
                          "containers and scalars and plain numpy arrays are allowed in result pickles")
        return obj

    def persistent_load(self, pid):
        raise _refuse("a pickle with persistent ids")


# --------------------------------------------------------------------------- checks and building
_PUTS = {"PUT", "BINPUT", "LONG_BINPUT"}
_GETS = {"GET", "BINGET", "LONG_BINGET"}


def _scan(data):
    """Refuse malformed opcodes, memo indices that no pickler writes (the C unpickler sizes
    its memo table by the largest index) and bytes after the end of the pickle."""
    n_ops = 0
    stream = io.BytesIO(data)
    if not data:
        raise ValueError("empty file (no pickle)")
    try:
        for op, arg, _ in pickletools.genops(stream):
            n_ops += 1
            if op.name in _PUTS and not 0 <= arg <= n_ops:
                raise _refuse(f"a memo index {short_repr(arg)} beyond the {n_ops} opcodes read")
            if op.name in _GETS and not 0 <= arg <= n_ops:
                raise _refuse(f"a memo index {short_repr(arg)} that was never stored")
            if op.name in ("NEXT_BUFFER", "READONLY_BUFFER"):
                raise _refuse("out-of-band buffers")
    except pickle.UnpicklingError:
        raise
    except (ValueError, TypeError, EOFError, IndexError, KeyError, UnicodeDecodeError,
            OverflowError) as exc:
        raise ValueError(f"truncated or corrupt pickle ({type(exc).__name__}: {short_text(exc)})") from None
    rest = len(data) - stream.tell()
    if rest:
        raise ValueError(f"{rest} bytes after the end of the pickle (a damaged file, or several "
                         "pickles written into one file)")


_LEAVES = (type(None), bool, int, float, complex, str, bytes, bytearray)
_CONTAINERS = (list, tuple, dict, _OrderedDict, set, frozenset)


def _materialize(root, budget, where="pickle", file_size=0):
    """Replace the stand-ins in a loaded structure by arrays, dtypes and scalars.

    One iterative walk (no recursion): shared objects are converted once, but their size
    counts every time they occur, so the total is what the structure expands to when
    traversed (the cost of any later loop over it, or of its repr).
    """
    done = {}        # id -> (replacement, size)
    on_path = set()
    frames = []      # [obj, kids, next index, converted kids, size, depth]

    def add(frame, size):
        frame[4] += size
        if frame[4] > budget:
            raise too_large(where, frame[4], budget, file_size)

    def enter(obj, depth):
        """(replacement, size) for a leaf or a finished object, else push a frame, return None."""
        t = type(obj)
        if t in _LEAVES:
            return obj, sys.getsizeof(obj)
        key = id(obj)
        if key in done:
            return done[key]
        if key in on_path:
            raise _refuse("a cyclic structure")
        if depth > MAX_DEPTH:
            raise _refuse(f"a structure nested deeper than {MAX_DEPTH} levels")
        if t is _ArraySpec:
            nbytes = 0 if obj.data is None else len(obj.data)
            if nbytes + 112 > budget:
                raise too_large(where, nbytes + 112, budget, file_size)
            out = (obj.build(), nbytes + 112)
        elif t is _ScalarSpec:
            out = (obj.build(), 48)
        elif t is _DTypeSpec:
            out = (obj.dtype, 96)
        elif t in _CONTAINERS:
            kids = [x for kv in obj.items() for x in kv] if isinstance(obj, dict) else list(obj)
            on_path.add(key)
            frames.append([obj, kids, 0, [], 64 + 8 * len(kids), depth])
            return None
        else:
            raise _refuse(f"an object of type {short_repr(t.__name__)} in a result pickle")
        done[key] = out
        return out

    def rebuild(obj, new):
        t = type(obj)
        if t is list:
            if any(a is not b for a, b in zip(obj, new)):
                obj[:] = new
            return obj
        if t is tuple:
            return obj if all(a is b for a, b in zip(obj, new)) else tuple(new)
        if t in (dict, _OrderedDict):
            values = new[1::2]
            if t is _OrderedDict:
                return dict(zip(new[0::2], values))
            for k, old, v in zip(new[0::2], obj.values(), values):
                if old is not v:
                    obj[k] = v
            return obj
        return obj  # sets: their members are hashable, so never stand-ins

    first = enter(root, 0)
    if first is not None:
        if first[1] > budget:
            raise too_large(where, first[1], budget, file_size)
        return first[0]
    while True:
        frame = frames[-1]
        obj, kids, i = frame[0], frame[1], frame[2]
        if i < len(kids):
            frame[2] = i + 1
            got = enter(kids[i], frame[5] + 1)
            if got is not None:
                frame[3].append(got[0])
                add(frame, got[1])
            continue
        frames.pop()
        on_path.discard(id(obj))
        out = (rebuild(obj, frame[3]), frame[4])
        done[id(obj)] = out
        if not frames:
            return out[0]
        frames[-1][3].append(out[0])
        add(frames[-1], out[1])


def safe_loads(data, *, max_bytes=None, where="pickle"):
    """Unpickle bytes with :class:`RestrictedUnpickler` and build its arrays.

    Parameters
    ----------
    data : bytes
    max_bytes : int, optional
        The most memory the result may take (shared references counted each time they
        occur); default: :func:`landscape._limits.expansion_budget` of ``len(data)``
        (16 MiB plus 64 bytes per byte, at most 1 GiB).
    where : str
        Name used in messages.
    """
    budget = expansion_budget(len(data), max_bytes)
    if len(data) > budget:
        raise too_large(where, len(data), budget, len(data))
    _scan(data)
    try:
        raw = RestrictedUnpickler(io.BytesIO(data)).load()
    except pickle.UnpicklingError as exc:
        if str(exc).startswith("refusing"):
            raise
        raise ValueError(f"truncated or corrupt pickle ({short_text(exc)})") from None
    except (EOFError, IndexError, KeyError, TypeError, AttributeError, ValueError, OverflowError,
            UnicodeDecodeError) as exc:
        raise ValueError(f"truncated or corrupt pickle ({type(exc).__name__}: {short_text(exc)})") from None
    return _materialize(raw, budget, where, len(data))


def safe_load(path, *, max_bytes=None):
    """Unpickle a file with :func:`safe_loads`.

    Raises
    ------
    pickle.UnpicklingError
        For a forbidden global or a refused structure (nothing has been called); the
        message starts with "refusing".
    ValueError
        For a truncated or corrupt file, or one that would expand past ``max_bytes``.
    """
    where = os.fspath(path)
    if os.path.isdir(where):
        raise ValueError(f"{where} is a directory, not a pickle file")
    size = os.path.getsize(where)
    budget = expansion_budget(size, max_bytes)
    if size > budget:
        raise too_large(where, size, budget, size)
    with open(where, "rb") as fh:
        data = fh.read()
    try:
        return safe_loads(data, max_bytes=budget, where=where)
    except pickle.UnpicklingError as exc:
        raise pickle.UnpicklingError(f"{exc} ({where})") from None
    except ValueError as exc:
        msg = str(exc)
        raise ValueError(msg if msg.startswith(where) else f"{where}: {msg}") from None
