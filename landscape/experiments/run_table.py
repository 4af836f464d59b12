r"""Tidy tables of training runs in memory, and the file formats they are written to.

A :class:`RunTable` holds one row per run and one column per field (``kind``, ``d``,
``seed``, ``train_acc``, ...), stored as numpy arrays. It reads and writes formats that
numpy and the standard library read: CSV, JSON (a list of records), JSON lines and
``.npz`` (``allow_pickle=False``).

Files of any supported kind (a results store, these formats, or a reference-code pickle) are
read by :func:`landscape.experiments.run_files.load_runs`.

Column types: the columns of :data:`COLUMN_TYPES` always have their stated type (a value
that does not convert raises a ValueError naming the column); other ("unknown") columns
are kept, with a type inferred from their values (int, float, bool or str), unless
``strict=True``, which refuses them.
"""
from __future__ import annotations

import csv
import io
import json
import math
import numbers
import os
import re
import warnings

import numpy as np

from .._limits import read_npz, short_repr, short_text
from ._records import KEY_COLUMNS, _atomic_write, _jsonable, _read_text, parse_jsonl

__all__ = ["RunTable", "COLUMN_TYPES", "KEY_COLUMNS", "as_run_table"]

#: known columns and their types
COLUMN_TYPES = {
    "kind": str, "basis": str, "status": str, "optimizer": str, "model": str, "dataset": str,
    "d": int, "D": int, "t": int, "seed": int, "steps": int, "batch_size": int,
    "eval_every": int, "diverged_step": int, "epochs": int, "nnz": int,
    "lr": float, "full_lr": float, "wall_time": float,
    "train_loss": float, "train_acc": float, "test_loss": float, "test_acc": float,
    "best_train_loss": float, "best_train_acc": float, "best_test_acc": float,
    "initial_train_loss": float, "initial_train_acc": float, "phi_norm": float,
    "batch_train_loss": float, "batch_train_acc": float,
    # lottery tickets (counts as floats: NaN in the rows of other kinds)
    "prunable": str, "n_prunable": float, "pretrain_steps": float, "decay_min_ndim": float,
    "keep": float, "compression": float, "pretrain_lr": float, "pretrain_momentum": float,
    "weight_decay": float, "pretrain_train_acc": float, "pretrain_test_acc": float,
}

_TYPE_NAMES = {str: "str", int: "int", float: "float", bool: "bool"}


# ---------------------------------------------------------------------- value conversion
def _to_float(v):
    if v is None:
        return math.nan
    if isinstance(v, (bool, np.bool_)):
        raise ValueError("a bool is not a number")
    if isinstance(v, numbers.Real):
        try:
            return float(v)
        except OverflowError:
            raise ValueError("too large for a float") from None
    if isinstance(v, np.ndarray) and v.size == 1 and v.dtype.kind in "biuf":
        return float(v.reshape(()))
    if isinstance(v, str):
        s = v.strip()
        if s == "" or s.lower() in ("nan", "none", "null"):
            return math.nan
        return float(s)
    raise ValueError(f"{short_repr(v)} is not a number")


_INT64 = (-2 ** 63, 2 ** 63 - 1)


def _to_int(v):
    if isinstance(v, (bool, np.bool_)):
        raise ValueError("a bool is not an integer")
    if isinstance(v, numbers.Integral):
        i = int(v)
    elif isinstance(v, np.ndarray) and v.size == 1 and v.dtype.kind in "iu":
        i = int(v.reshape(()))
    else:
        f = _to_float(v) if not isinstance(v, str) else float(v.strip())
        if not math.isfinite(f) or f != int(f):
            raise ValueError(f"{short_repr(v)} is not an integer")
        i = int(f)
    if not _INT64[0] <= i <= _INT64[1]:
        raise ValueError("out of the range of a 64-bit integer")
    return i


def _to_str(v):
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, (numbers.Number, np.generic)):
        return str(v)
    raise ValueError(f"{short_repr(v)} is not a string")


def _to_bool(v):
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, str) and v.strip().lower() in ("true", "false"):
        return v.strip().lower() == "true"
    raise ValueError(f"{short_repr(v)} is not a bool")


_CONVERT = {float: _to_float, int: _to_int, str: _to_str, bool: _to_bool}
_DTYPES = {float: np.float64, int: np.int64, bool: np.bool_, str: object}


_INT_RE = re.compile(r"\s*[-+]?\d+\s*")


def _missing(v):
    return v is None or (isinstance(v, str) and v.strip() == "")


def _infer_type(values):
    """bool, int, float or str: the narrowest type that holds every value of an unknown column."""
    present = [v for v in values if not _missing(v)]
    if not present:
        return float
    complete = len(present) == len(values)
    if complete and all(isinstance(v, (bool, np.bool_)) or (isinstance(v, str) and v.strip().lower()
                                                             in ("true", "false")) for v in present):
        return bool
    if complete and all((isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, (bool, np.bool_)))
                        or (isinstance(v, str) and _INT_RE.fullmatch(v)) for v in present):
        return int
    try:
        for v in present:
            _to_float(v)
        return float
    except (ValueError, TypeError, OverflowError):
        return str


def _column(name, values, typ=None, where=""):
    if typ is None:
        typ = COLUMN_TYPES.get(name) or _infer_type(values)
    conv = _CONVERT[typ]
    out = []
    for i, v in enumerate(values):
        if v is None and typ is int:
            raise ValueError(f"{where}column {name!r} (int) is missing a value in row {i}")
        try:
            out.append(conv(v))
        except (ValueError, TypeError, OverflowError) as exc:
            raise ValueError(f"{where}column {short_repr(name)} must hold {_TYPE_NAMES[typ]} values; "
                             f"row {i} has {short_repr(v)} ({short_text(exc)})") from None
    arr = np.empty(len(out), dtype=_DTYPES[typ])
    arr[:] = out
    return arr


def _check_known(names, strict, where):
    if strict:
        unknown = [n for n in names if n not in COLUMN_TYPES]
        if unknown:
            raise ValueError(f"{where}unknown columns {short_repr(unknown)}; known columns: "
                             f"{sorted(COLUMN_TYPES)} (strict=False keeps unknown columns)")


# ---------------------------------------------------------------------- the table
class RunTable:
    r"""A tidy table of runs: one row per run, one numpy array per column.

    Parameters
    ----------
    records : iterable of dict, optional
        One dict per run. Missing values become NaN (float columns) or "" (str columns);
        a missing int value raises.
    strict : bool
        Refuse columns not in :data:`COLUMN_TYPES`.

    Examples
    --------
    >>> from landscape.experiments.run_table import RunTable
    >>> table = RunTable([{"kind": "random", "d": 4, "seed": 0, "train_acc": 0.5},
    ...                   {"kind": "random", "d": 8, "seed": 0, "train_acc": 0.9}])
    >>> len(table), table["d"].tolist()
    (2, [4, 8])
    >>> table.select(d=8)["train_acc"]
    array([0.9])
    """

    def __init__(self, records=(), *, strict=False, _where=""):
        if isinstance(records, (str, bytes, dict)) or not hasattr(records, "__iter__"):
            raise TypeError(f"{_where}records must be a list of dicts (one per run), got {type(records).__name__}")
        if not isinstance(strict, (bool, np.bool_)):
            raise TypeError(f"strict must be True or False, got {short_repr(strict)}")
        records = list(records)
        names = []
        seen = set()
        for i, rec in enumerate(records):
            if not isinstance(rec, dict):
                raise TypeError(f"{_where}record {i} must be a dict (records: one dict per run), got "
                                f"{type(rec).__name__}")
            for k in rec:
                if not isinstance(k, str):
                    raise TypeError(f"{_where}column names must be str, got {short_repr(k)} in record {i}")
                if k not in seen:
                    seen.add(k)
                    names.append(k)
        _check_known(names, strict, _where)
        self._cols = {n: _column(n, [r.get(n) for r in records], where=_where) for n in names}
        self._n = len(records)

    # -------------------------------------------------------------- construction
    @classmethod
    def from_columns(cls, columns, *, strict=False, _where=""):
        """A table from a dict of equal-length sequences (lists, tuples or 1-D arrays)."""
        if not isinstance(columns, dict):
            raise TypeError(f"{_where}columns must be a dict of sequences, got {type(columns).__name__}")
        for k, v in columns.items():
            if isinstance(v, np.ndarray) and v.ndim != 1:
                raise ValueError(f"{_where}column {short_repr(k)} must be 1-D, got an array of shape {v.shape}")
            if isinstance(v, (str, bytes, dict)) or not hasattr(v, "__len__") or not hasattr(v, "__getitem__"):
                raise TypeError(f"{_where}column {short_repr(k)} must be a list of values (one per run), "
                                f"got {type(v).__name__}")
        lengths = {k: len(v) for k, v in columns.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"{_where}columns must have equal lengths, got {short_repr(lengths)}")
        n = next(iter(lengths.values()), 0)
        if n == 0:  # no rows: keep the columns, empty, with their types
            bad = [k for k in columns if not isinstance(k, str)]
            if bad:
                raise TypeError(f"{_where}column names must be str, got {short_repr(bad[0])}")
            _check_known(list(columns), strict, _where)
            table = cls()
            table._cols = {k: _column(k, [], where=_where) for k in columns}
            return table
        records = [{k: (v[i].item() if isinstance(v, np.ndarray) and v.dtype != object else v[i])
                    for k, v in columns.items()} for i in range(n)]
        return cls(records, strict=strict, _where=_where)

    @classmethod
    def from_pandas(cls, frame, *, strict=False):
        """A table from a :class:`pandas.DataFrame` with one row per run (the index is ignored).

        Column types follow :data:`COLUMN_TYPES` as for records; missing values (NaN,
        None) become NaN in float columns and raise in int columns.
        """
        if not (hasattr(frame, "to_dict") and hasattr(frame, "columns") and hasattr(frame, "iloc")):
            raise TypeError(f"frame must be a pandas.DataFrame, got {type(frame).__name__}")
        names = list(frame.columns)
        bad = [c for c in names if not isinstance(c, str)]
        if bad:
            raise TypeError(f"frame column names must be str, got {bad!r}")
        if len(set(names)) != len(names):
            raise ValueError(f"frame has duplicate column names: {names}")
        return cls(frame.to_dict("records"), strict=strict)

    def to_pandas(self):
        """The table as a :class:`pandas.DataFrame` (one row per run, the same columns and dtypes;
        str columns have dtype object)."""
        import pandas as pd

        return pd.DataFrame({k: v.copy() for k, v in self._cols.items()}, index=pd.RangeIndex(self._n))

    @classmethod
    def concat(cls, tables):
        """Rows of several tables (columns are the union)."""
        records = []
        for t in tables:
            if not isinstance(t, RunTable):
                raise TypeError(f"concat takes RunTables, got {type(t).__name__}")
            records.extend(t.to_records())
        return cls(records)

    def _subset(self, index):
        new = RunTable.__new__(RunTable)
        new._cols = {k: v[index] for k, v in self._cols.items()}
        new._n = len(next(iter(new._cols.values()))) if new._cols else 0
        return new

    # -------------------------------------------------------------- access
    @property
    def columns(self):
        """Column names, in order."""
        return tuple(self._cols)

    def __len__(self):
        return self._n

    def __contains__(self, name):
        return name in self._cols

    def __getitem__(self, name):
        if isinstance(name, str):
            if name not in self._cols:
                raise KeyError(f"no column {name!r}; columns: {list(self._cols)}")
            return self._cols[name]
        if isinstance(name, numbers.Integral):
            return self.to_records()[name]
        raise TypeError(f"index a RunTable with a column name or a row number, got {name!r}")

    def column(self, name):
        """The column ``name`` (a KeyError lists the columns when absent)."""
        return self[name]

    def __iter__(self):
        return iter(self.to_records())

    def to_records(self):
        """The rows as a list of dicts of Python scalars."""
        cols = {k: (v.tolist() if v.dtype != object else list(v)) for k, v in self._cols.items()}
        return [{k: cols[k][i] for k in cols} for i in range(self._n)]

    def unique(self, name):
        """Sorted distinct values of a column."""
        return sorted(set(self[name].tolist()))

    # -------------------------------------------------------------- selection
    def select(self, **conditions):
        """Rows where each column equals a value (or lies in a list / tuple / set of values,
        or satisfies a callable)."""
        mask = np.ones(self._n, dtype=bool)
        for name, cond in conditions.items():
            col = self[name]
            if callable(cond):
                m = np.array([bool(cond(v)) for v in col.tolist()], dtype=bool)
            elif isinstance(cond, (list, tuple, set, frozenset)):
                m = np.isin(col, list(cond))
            else:
                m = col == cond
            mask &= np.asarray(m, dtype=bool)
        return self._subset(mask)

    def where(self, mask):
        """Rows where a boolean mask of length ``len(self)`` is True."""
        mask = np.asarray(mask)
        if mask.dtype != bool or mask.shape != (self._n,):
            raise ValueError(f"mask must be a boolean array of shape ({self._n},), got {mask.dtype} {mask.shape}")
        return self._subset(mask)

    def sort(self, by=None):
        """Rows sorted by the columns ``by`` (default: the key columns present)."""
        if by is None:
            by = [k for k in KEY_COLUMNS if k in self._cols]
        elif isinstance(by, str):
            by = [by]
        if not by or self._n == 0:
            return self._subset(slice(None))
        keys = [self[k] for k in reversed(list(by))]
        keys = [k.astype(str) if k.dtype == object else k for k in keys]
        return self._subset(np.lexsort(keys))

    def drop(self, *names):
        """The table without the given columns (absent names are ignored)."""
        new = self._subset(slice(None))
        for n in names:
            new._cols.pop(n, None)
        return new

    def with_column(self, name, values):
        """A copy with a column added or replaced."""
        values = list(values)
        if len(values) != self._n:
            raise ValueError(f"column {name!r} must have {self._n} values, got {len(values)}")
        new = self._subset(slice(None))
        new._cols[name] = _column(name, values)
        return new

    # -------------------------------------------------------------- comparison
    def equals(self, other, *, ignore=("wall_time",), order=False):
        """Same columns and values (NaN equals NaN), ignoring the columns ``ignore``.

        With ``order=False`` (default) both tables are first sorted by their key columns.
        """
        if not isinstance(other, RunTable):
            return False
        a, b = self.drop(*ignore), other.drop(*ignore)
        if set(a.columns) != set(b.columns) or len(a) != len(b):
            return False
        if not order:
            a, b = a.sort(), b.sort()
        for k in a.columns:
            x, y = a[k], b[k]
            if x.dtype != y.dtype:
                return False
            if x.dtype == np.float64:
                if not np.array_equal(x, y, equal_nan=True):
                    return False
            elif not np.array_equal(x, y):
                return False
        return True

    def __repr__(self):
        head = f"RunTable({self._n} runs, columns={list(self._cols)}"
        if "kind" in self._cols and self._n:
            kinds = {k: int(np.sum(self._cols['kind'] == k)) for k in self.unique("kind")}
            head += f", kinds={kinds}"
        return head + ")"

    # -------------------------------------------------------------- writing
    def to_csv(self, path):
        """Write a CSV file (floats written exactly, NaN as ``nan``), atomically."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.columns)
        for rec in self.to_records():
            w.writerow([repr(v) if isinstance(v, float) else v for v in rec.values()])
        _atomic_write(path, buf.getvalue().encode())

    def to_json(self, path):
        """Write a JSON list of records (NaN as null, infinities as "inf" / "-inf"), atomically."""
        text = json.dumps([_jsonable(r) for r in self.to_records()], allow_nan=False, indent=0)
        _atomic_write(path, (text + "\n").encode())

    def to_jsonl(self, path):
        """Write JSON lines, one record per line, atomically."""
        text = "".join(json.dumps(_jsonable(r), allow_nan=False) + "\n" for r in self.to_records())
        _atomic_write(path, text.encode())

    def to_npz(self, path):
        """Write the columns to an ``.npz`` (strings as fixed-width unicode; no pickles)."""
        arrays = {k: (v.astype(str) if v.dtype == object else v) for k, v in self._cols.items()}
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        _atomic_write(path, buf.getvalue())

    @classmethod
    def from_csv(cls, path, *, strict=False):
        """Read a CSV file written by :meth:`to_csv` (or any CSV with a header row)."""
        text = _read_text(path)
        lines = text.splitlines(keepends=True)
        if lines and not lines[-1].endswith("\n") and len(lines) > 1:
            rows_last = next(csv.reader([lines[-1]]))
            header = next(csv.reader([lines[0]]))
            if len(rows_last) != len(header):
                warnings.warn(f"{path}: ignoring a truncated last line", RuntimeWarning, stacklevel=2)
                text = "".join(lines[:-1])
        reader = csv.reader(io.StringIO(text))
        try:
            header = next(reader)
        except StopIteration:
            raise ValueError(f"{path}: empty CSV file (no header row)") from None
        except csv.Error as exc:
            raise ValueError(f"{path}, line 1: not a readable CSV header ({exc})") from None
        if len(set(header)) != len(header):
            raise ValueError(f"{path}: duplicate column names in the header {short_repr(header)}")
        records = []
        try:
            for lineno, row in enumerate(reader, start=2):
                if not row:
                    continue
                if len(row) != len(header):
                    raise ValueError(f"{path}, line {lineno}: {len(row)} fields, the header has {len(header)} "
                                     "(corrupt file)")
                records.append({h: (None if v == "" and COLUMN_TYPES.get(h) is not str else v)
                                for h, v in zip(header, row)})
        except csv.Error as exc:
            raise ValueError(f"{path}, line {reader.line_num}: corrupt CSV ({exc})") from None
        if not records:  # a header only: the columns, no runs
            return cls.from_columns({h: [] for h in header}, strict=strict, _where=f"{path}: ")
        return cls(records, strict=strict, _where=f"{path}: ")

    @classmethod
    def from_json(cls, path, *, strict=False):
        """Read a JSON list of records, a JSON dict of columns, or JSON lines (``.jsonl``)."""
        text = _read_text(path)
        if os.fspath(path).endswith(".jsonl"):
            records, _ = parse_jsonl(text, path)
            return cls(records, strict=strict, _where=f"{path}: ")
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: corrupt or truncated JSON ({exc})") from None
        except RecursionError:
            raise ValueError(f"{path}: JSON nested too deeply to be run records") from None
        except ValueError as exc:  # e.g. an integer of more than 4300 digits
            raise ValueError(f"{path}: unreadable JSON ({short_text(exc)})") from None
        if isinstance(obj, dict):
            return cls.from_columns(obj, strict=strict, _where=f"{path}: ")
        if not isinstance(obj, list):
            raise ValueError(f"{path}: expected a JSON list of records or a dict of columns, "
                             f"got {type(obj).__name__}")
        return cls(obj, strict=strict, _where=f"{path}: ")

    @classmethod
    def from_npz(cls, path, *, strict=False, max_bytes=None):
        """Read an ``.npz`` written by :meth:`to_npz` (no pickles; numbers, bools and strings).

        ``max_bytes``: the most memory the arrays may take (default: 16 MiB plus 64 bytes per
        byte of file, at most 1 GiB; see :mod:`landscape._limits`); checked from the
        archive's headers before anything is decompressed.
        """
        columns = read_npz(path, max_bytes=max_bytes)
        columns = {k: (v.astype(object) if v.dtype.kind == "U" else v) for k, v in columns.items()}
        return cls.from_columns(columns, strict=strict, _where=f"{path}: ")


def as_run_table(table, name="table"):
    """``table`` as a :class:`RunTable`: a RunTable is returned as is, a :class:`pandas.DataFrame`
    with the same columns is converted (:meth:`RunTable.from_pandas`); anything else raises a
    TypeError naming ``name``."""
    if isinstance(table, RunTable):
        return table
    cls = type(table)
    if cls.__module__.split(".")[0] == "pandas" and cls.__name__ == "DataFrame":
        return RunTable.from_pandas(table)
    raise TypeError(f"{name} must be a RunTable (see landscape.experiments.run_files.load_runs) or a "
                    f"pandas.DataFrame with the same columns, got {cls.__name__}")
