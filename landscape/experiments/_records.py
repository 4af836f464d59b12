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

from .._limits import short_text

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


def decode_utf8(raw, path, *, tail_ok=False):
    """Text of a file's bytes; a byte that is not UTF-8 raises a ValueError naming the line.

    With ``tail_ok``, damage confined to a last line without its newline (a write cut
    short, possibly mid-character) is replaced by U+FFFD instead, so that the line reads as
    truncated.
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        cut = raw.rfind(b"\n") + 1
        if tail_ok and exc.start >= cut:
            return raw[:cut].decode("utf-8") + raw[cut:].decode("utf-8", errors="replace")
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ValueError(f"{path}, line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at "
                         f"column {column})") from None


def _read_text(path):
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except IsADirectoryError:
        raise ValueError(f"{path} is a directory") from None
    return decode_utf8(raw, path)


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
        except RecursionError:
            raise ValueError(f"{path}, line {i + 1}: corrupt record (nested too deeply); the other "
                             "records are intact: fix or remove this line") from None
        except ValueError as exc:  # JSONDecodeError, or an integer of more than 4300 digits
            if i == last:
                warnings.warn(f"{path}: ignoring a truncated last line ({len(line)} bytes)",
                              RuntimeWarning, stacklevel=3)
                partial = line
                continue
            raise ValueError(f"{path}, line {i + 1}: corrupt record ({short_text(exc)}); the other records are "
                             "intact: fix or remove this line") from None
        if not isinstance(rec, dict):
            raise ValueError(f"{path}, line {i + 1}: expected a JSON object, got {type(rec).__name__}")
        records.append(rec)
    return records, partial
