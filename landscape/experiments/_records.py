r"""Run records on disk: the key columns, JSON conversion, atomic writes and JSON lines.

Shared by :mod:`landscape.experiments.run_table` (tables in memory) and
:mod:`landscape.experiments.result_store` (results on disk); it imports neither.
"""
from __future__ import annotations

import json
import math
import os
import warnings

import numpy as np

#: columns that identify a run within one protocol
KEY_COLUMNS = ("kind", "t", "basis", "d", "seed")

def _jsonable(rec):
    out = {}
    for k, v in rec.items():
        if isinstance(v, float) and not math.isfinite(v):
            v = None if math.isnan(v) else ("inf" if v > 0 else "-inf")
        elif isinstance(v, np.generic):
            v = v.item()
        out[k] = v
    return out


def _atomic_write(path, data):
    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _read_text(path):
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except IsADirectoryError:
        raise ValueError(f"{path} is a directory") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a UTF-8 text file ({exc})") from None


def parse_jsonl(text, path="<jsonl>"):
    """Records of a JSON-lines text.

    A last line without its newline that does not parse is a record cut short by a kill:
    it is ignored with a warning and returned as the second value. Any other line that is
    not a JSON object raises a ValueError naming the line.

    Returns
    -------
    records : list of dict
    partial : str or None
        The ignored truncated tail.
    """
    records = []
    partial = None
    lines = text.split("\n")
    last = len(lines) - 1  # text ending in "\n" gives a final empty string
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            if i == last:
                warnings.warn(f"{path}: ignoring a truncated last line ({len(line)} bytes)",
                              RuntimeWarning, stacklevel=3)
                partial = line
                continue
            raise ValueError(f"{path}, line {i + 1}: corrupt record ({exc}); the other records are "
                             "intact: fix or remove this line") from None
        if not isinstance(rec, dict):
            raise ValueError(f"{path}, line {i + 1}: expected a JSON object, got {type(rec).__name__}")
        records.append(rec)
    return records, partial
