r"""Reading runs from files: a results store, CSV, JSON, JSON lines, ``.npz`` or a pickle
of the paper's reference code (Larsen et al. 2022).

:func:`load_runs` picks the reader from the path; :func:`load_reference_pickle` reads the
reference code's result pickles through a restricted unpickler that allows only builtins
and numpy arrays (:mod:`landscape.experiments._safe_pickle`).
"""
from __future__ import annotations

import math
import os
import re

import numpy as np

from .._limits import short_repr
from .result_store import ResultStore
from .run_table import RunTable, _to_float, _to_int, _to_str

__all__ = ["load_runs", "load_reference_pickle"]


_FLOAT_RE = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf|infinity)"
# "0.93", "[0.93]", "DeviceArray(0.93, dtype=float32)", "tensor(0.93)", "Array([0.93], dtype=float32)"
_WRAPPED = re.compile(r"\s*(?:[A-Za-z_][\w.]*\(\s*)?\[*\s*(" + _FLOAT_RE + r")\s*\]*\s*(?:,\s*dtype=[\w.]+)?\)?\s*",
                      re.IGNORECASE)


def _parse_number(v, key, i):
    """A float from a reference pickle's value: a number, a numpy scalar or 0-d / 1-element
    array, or a string such as ``"0.93"``, ``"[0.93]"`` or ``"DeviceArray(0.93, dtype=float32)"``."""
    try:
        return _to_float(v)
    except (ValueError, TypeError, OverflowError):
        pass
    if isinstance(v, str) and len(v) < 200:
        m = _WRAPPED.fullmatch(v)
        if m:
            return float(m.group(1))
    raise ValueError(f"data[{short_repr(key)}][{i}] = {short_repr(v)} is not a number")


_REF_FLOAT = {
    "full_train_loss": "train_loss", "full_train_acc": "train_acc", "best_train_acc": "best_train_acc",
    "test_loss": "test_loss", "test_acc": "test_acc", "best_test_acc": "best_test_acc",
    "train_loss": "batch_train_loss", "train_acc": "batch_train_acc", "abs_theta": "phi_norm",
}


def _check_path(path):
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path must be a file or directory name (str or os.PathLike), got {type(path).__name__}")
    return os.fsdecode(os.fspath(path))


def load_reference_pickle(path, *, strict=False, max_bytes=None):
    r"""Runs from a result pickle of the paper's reference code (Larsen et al., 2022).

    The pickle is a dict with keys ``model``, ``dataset``, ``epochs``, ``ds_to_explore``,
    ``init_iters`` (burn-in steps; absent from lottery results, which have ``traj_steps``),
    ``nnz``, ``full_d`` and ``data``, a dict of equal-length lists with ``d``, ``point_id``,
    ``it``, ``abs_theta``, ``train_loss``, ``train_acc`` (last minibatch),
    ``full_train_loss``, ``full_train_acc`` (whole training set), ``best_train_acc``,
    ``test_loss``, ``test_acc``, ``best_test_acc``; numbers may be stored as strings.
    It is read with a restricted unpickler (builtins and plain numpy arrays, rebuilt from
    checked bytes): a pickle that would run code or build anything else raises
    :class:`pickle.UnpicklingError` and runs nothing. ``max_bytes`` bounds the memory the
    pickle may expand to (default: 16 MiB plus 64 bytes per byte of file, at most 1 GiB;
    pass a larger number for a larger trusted file).

    Column mapping: ``point_id -> seed``, ``full_d -> D``, ``init_iters -> t``,
    ``it -> steps``, ``full_train_loss -> train_loss``, ``full_train_acc -> train_acc``,
    ``train_loss -> batch_train_loss``, ``train_acc -> batch_train_acc``,
    ``abs_theta -> phi_norm``; ``kind`` is ``"lottery"`` for lottery results, else
    ``"random"``; ``basis`` is ``"reference"``; ``status`` is ``"diverged"`` where the
    training loss is NaN or infinite.
    """
    from ._safe_pickle import safe_load

    path = _check_path(path)
    obj = safe_load(path, max_bytes=max_bytes)
    try:
        return _reference_table(obj, path, strict)
    except (ValueError, TypeError, OverflowError) as exc:
        msg = str(exc)
        where = os.fspath(path)
        raise ValueError(msg if msg.startswith(where) else f"{where}: {msg}") from None


def _reference_table(obj, path, strict):
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected the reference format (a dict), got {type(obj).__name__}")
    missing = [k for k in ("data", "full_d") if k not in obj]
    if missing:
        raise ValueError(f"{path}: not a reference result pickle, missing keys {missing}")
    data = obj["data"]
    if not isinstance(data, dict):
        raise ValueError(f"{path}: 'data' must be a dict of lists, got {type(data).__name__}")
    for k in ("d", "point_id"):
        if k not in data:
            raise ValueError(f"{path}: data has no {k!r} list")
    n = len(data["d"])
    lengths = {k: len(v) for k, v in data.items() if isinstance(v, (list, tuple, np.ndarray))}
    bad = {k: m for k, m in lengths.items() if m != n}
    if bad:
        raise ValueError(f"{path}: data lists must all have length {n} (len(data['d'])), got {short_repr(bad)}")
    lottery = "init_iters" not in obj and "traj_steps" in obj
    t = 0 if lottery else _to_int(obj.get("init_iters", 0))
    D = _to_int(_parse_number(obj["full_d"], "full_d", 0))
    records = []
    for i in range(n):
        rec = {"kind": "lottery" if lottery else "random", "t": t,
               "basis": "none" if lottery else "reference",
               "d": _to_int(_parse_number(data["d"][i], "d", i)),
               "seed": _to_int(_parse_number(data["point_id"][i], "point_id", i)), "D": D}
        if "it" in data:
            rec["steps"] = _to_int(_parse_number(data["it"][i], "it", i))
        for src, dst in _REF_FLOAT.items():
            if src in data:
                rec[dst] = _parse_number(data[src][i], src, i)
        if "nnz" in data:
            rec["nnz"] = _to_int(_parse_number(data["nnz"][i], "nnz", i))
        loss = rec.get("train_loss", 0.0)
        rec["status"] = "ok" if math.isfinite(loss) else "diverged"
        for k in ("model", "dataset"):
            if k in obj:
                rec[k] = _to_str(obj[k])
        if "epochs" in obj:
            rec["epochs"] = _to_int(obj["epochs"])
        records.append(rec)
    return RunTable(records, strict=strict, _where=f"{path}: ")


def load_runs(path, *, strict=False, max_bytes=None):
    """Load runs from a results store directory or a CSV, JSON, JSON-lines, .npz or reference pickle file.

    Parameters
    ----------
    path : str or os.PathLike
    strict : bool
        Refuse columns not in :data:`COLUMN_TYPES` (default: keep them).
    max_bytes : int, optional
        For ``.npz`` and pickle files: the most memory the file may expand to, checked
        before decompressing or building anything. Default: 16 MiB plus 64 bytes per byte
        of file, at most 1 GiB (:mod:`landscape._limits`); pass a larger number for a
        larger trusted file.

    Returns
    -------
    RunTable

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        For an unknown file type, a corrupt file (naming the line where possible), or a
        value of the wrong type in a known column. A truncated last line of a CSV or
        JSON-lines file (a write cut short) is ignored with a warning.
    pickle.UnpicklingError
        For a pickle that refers to anything but builtin containers and scalars and plain
        numpy arrays (nothing is called).

    Every error message names the file; values read from it are shown truncated.
    """
    p = _check_path(path)
    if not os.path.exists(p):
        raise FileNotFoundError(f"{p} does not exist")
    if os.path.isdir(p):
        return ResultStore(p).table(strict=strict)
    ext = os.path.splitext(p)[1].lower()
    if ext == ".csv":
        return RunTable.from_csv(p, strict=strict)
    if ext in (".json", ".jsonl"):
        return RunTable.from_json(p, strict=strict)
    if ext == ".npz":
        return RunTable.from_npz(p, strict=strict, max_bytes=max_bytes)
    if ext in (".pkl", ".pickle"):
        return load_reference_pickle(p, strict=strict, max_bytes=max_bytes)
    raise ValueError(f"{p}: unknown file type {short_repr(ext)}; expected a store directory, .csv, .json, "
                     ".jsonl, .npz or .pkl")
