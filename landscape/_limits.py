r"""Limits for reading untrusted files: how much a file may expand to in memory, bounded
reading of ``.npz`` archives and gzip streams, and short reprs for error messages.

A small file can claim a huge content: a zip or gzip bomb (1.5 MB of deflated zeros that
inflate to 1.6 GB), an ``.npy`` header announcing 10^12 elements, a pickle whose shared
references nest into 10^30 elements. Every loader of :mod:`landscape` checks what a file
claims against a budget *before* it allocates or decompresses:

.. math::

    \text{budget} = \min\bigl(\text{DEFAULT\_MAX\_BYTES},\;
    \text{EXPANSION\_FLOOR} + \text{EXPANSION\_RATIO}\cdot\text{file size}\bigr)

that is 16 MiB plus 64 bytes per byte of file, at most 1 GiB. A caller who trusts a large
file raises it with the loader's ``max_bytes=`` keyword (an explicit number of bytes, which
replaces the budget, cap included).

Private: the public doors are the loaders' ``max_bytes`` keywords
(:func:`landscape.experiments.run_files.load_runs`, :func:`landscape.models.datasets.read_idx`, ...).
"""
from __future__ import annotations

import os
import reprlib
import zipfile
import zlib

import numpy as np

from geometry.validation import check_int

__all__ = ["DEFAULT_MAX_BYTES", "EXPANSION_FLOOR", "EXPANSION_RATIO", "expansion_budget", "too_large",
           "short_repr", "short_text", "read_exactly", "read_npz"]

#: the most bytes a file may expand to unless the caller passes ``max_bytes``
DEFAULT_MAX_BYTES = 1 << 30
#: bytes any file may expand to, whatever its size
EXPANSION_FLOOR = 16 << 20
#: bytes in memory allowed per byte of file
EXPANSION_RATIO = 64

_REPR = reprlib.Repr()
_REPR.maxlevel = 2
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = _REPR.maxfrozenset = 4
_REPR.maxdeque = _REPR.maxarray = 4
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlong = 40


def short_repr(value):
    """A repr of at most about 80 characters, safe for any structure (nested, shared, huge).

    Containers show a few items and two levels; long strings and numbers are cut in the
    middle. Use it whenever a value read from a file goes into a message.
    """
    try:
        if isinstance(value, np.ndarray):
            return f"array(shape={value.shape}, dtype={value.dtype})"
        text = _REPR.repr(value)
    except Exception:  # noqa: BLE001 - a repr that fails must not hide the real error
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 120 else text[:57] + "..." + text[-57:]


def short_text(text, limit=200):
    """``text`` cut in the middle to at most ``limit`` characters, on one line."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    half = (limit - 5) // 2
    return text[:half] + " ... " + text[-half:]


def expansion_budget(file_size, max_bytes=None):
    """The bytes a file of ``file_size`` bytes may expand to (``max_bytes`` overrides)."""
    if max_bytes is not None:
        return check_int(max_bytes, "max_bytes", minimum=1)
    return min(DEFAULT_MAX_BYTES, EXPANSION_FLOOR + EXPANSION_RATIO * int(file_size))


def too_large(where, claimed, budget, file_size):
    """The ValueError for a file that would expand past its budget."""
    return ValueError(
        f"{where}: would expand to {claimed:,} bytes in memory, more than the limit of {budget:,} "
        f"bytes for a file of {file_size:,} bytes; if you trust the file, pass max_bytes= to raise "
        "the limit")


def read_exactly(fh, nbytes, where, what="data"):
    """Read exactly ``nbytes`` from a (possibly decompressing) stream, in 1 MiB chunks, into a
    bytearray; a short stream raises a ValueError (truncated)."""
    buf = bytearray(nbytes)
    view = memoryview(buf)
    pos = 0
    while pos < nbytes:
        k = fh.readinto(view[pos:pos + (1 << 20)])
        if not k:
            raise ValueError(f"{where}: truncated {what} ({pos:,} of {nbytes:,} bytes)")
        pos += k
    return buf


_NPZ_KINDS = "biufcSU"


def _npy_header(fh, where):
    from numpy.lib import format as npformat

    try:
        version = npformat.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = npformat.read_array_header_1_0(fh)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = npformat.read_array_header_2_0(fh)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    except (ValueError, SyntaxError, TypeError, EOFError) as exc:
        raise ValueError(f"{where}: not a valid .npy header ({short_text(exc)})") from None
    if dtype.names is not None or dtype.subdtype is not None or dtype.kind not in _NPZ_KINDS \
            or dtype.itemsize == 0:
        raise ValueError(f"{where}: dtype {short_text(dtype)} is not allowed (numbers, bools and "
                         "fixed-width strings only; never objects or records)")
    return shape, fortran, dtype


def read_npz(path, *, max_bytes=None):
    """The arrays of an ``.npz`` archive, read without pickles and within a memory budget.

    Every member must be an ``.npy`` file of numbers, bools or fixed-width strings. The
    declared sizes (zip directory and ``.npy`` headers) are checked against the budget of
    :func:`expansion_budget` before anything is decompressed, and data is inflated in
    bounded chunks.

    Returns
    -------
    dict of str to ndarray, in the archive's order

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        For a file that is not a zip archive, a member that is not ``.npy``, a disallowed
        dtype, a truncated or corrupt member, or a content larger than the budget.
    """
    where = os.fspath(path)
    if os.path.isdir(where):
        raise ValueError(f"{where} is a directory, not an .npz file")
    size = os.path.getsize(where)
    budget = expansion_budget(size, max_bytes)
    if not zipfile.is_zipfile(where):
        with open(where, "rb") as fh:
            head = fh.read(6)
        if head.startswith(b"PK"):
            raise ValueError(f"{where}: corrupt or truncated .npz (no zip directory at its end)")
        hint = " (it is a single .npy array)" if head == b"\x93NUMPY" else ""
        raise ValueError(f"{where}: not an .npz archive{hint}; expected a zip of .npy arrays")
    try:
        with zipfile.ZipFile(where) as zf:
            infos = zf.infolist()
            claimed = 0
            for info in infos:
                if not info.filename.endswith(".npy"):
                    raise ValueError(f"{where}: member {short_repr(info.filename)} is not an .npy array")
                if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                    raise ValueError(f"{where}: member {short_repr(info.filename)} uses an unsupported "
                                     f"compression (type {info.compress_type})")
                claimed += info.file_size
            if claimed > budget:
                raise too_large(where, claimed, budget, size)
            names = [info.filename[:-4] for info in infos]
            if len(set(names)) != len(names):
                raise ValueError(f"{where}: duplicate member names")
            out = {}
            for info, name in zip(infos, names):
                member = f"{where}[{short_repr(name)}]"
                with zf.open(info) as fh:
                    shape, fortran, dtype = _npy_header(fh, member)
                    count = 1
                    for s in shape:
                        count *= int(s)
                    nbytes = count * dtype.itemsize
                    if nbytes > info.file_size:
                        raise ValueError(f"{member}: header claims shape {short_repr(shape)} of {dtype} "
                                         f"({nbytes:,} bytes) but the member holds {info.file_size:,} bytes")
                    buf = read_exactly(fh, nbytes, member)
                arr = np.frombuffer(buf, dtype=dtype, count=count)
                out[name] = arr.reshape(shape, order="F" if fortran else "C")
            return out
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{where}: corrupt or truncated .npz ({exc})") from None
    except (EOFError, zlib.error, zipfile.LargeZipFile, NotImplementedError, RuntimeError) as exc:
        raise ValueError(f"{where}: corrupt or unreadable .npz ({type(exc).__name__}: "
                         f"{short_text(exc)})") from None
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"{where}: corrupt or unreadable .npz ({exc})") from None
