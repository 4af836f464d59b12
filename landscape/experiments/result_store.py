r"""A results store: a directory of tidy files written incrementally and atomically.

Layout::

    store/
        protocol.json     the sweep protocol (model, data, optimizer, steps, ...), written once
        runs.jsonl        one JSON record per completed run, appended, flushed and fsynced
        arrays/<run>.npz  optional per-run arrays (loss histories), written atomically
        runs.jsonl.partial-<time>   a record cut short by a kill, set aside (if any)

Every file is readable with the standard library or numpy (``numpy.load(...,
allow_pickle=False)``). A sweep killed at any moment loses at most the runs in flight:

* a record is one line, written with a single ``write`` then ``flush`` + ``os.fsync``;
* a last line cut short (no newline, not valid JSON) is ignored on reading with a warning;
  before the next append it is moved to ``runs.jsonl.partial-<time>`` (kept, not
  deleted) and the file is truncated to its last complete record;
* a complete line that is not valid JSON or not UTF-8 (damage from outside) raises a
  ValueError naming the file and the line; :meth:`ResultStore.set_aside_damaged` moves such
  lines, byte for byte, to ``runs.jsonl.damaged-<time>`` and keeps the others;
* ``protocol.json`` and ``.npz`` files are written to a temporary file, fsynced, then
  renamed over the target (``os.replace``), so they are either old or new, never partial;
  the temporary files of a killed writer (``*.tmp-<pid>``) are removed when the store is
  next opened (its process is gone) or locked (they are older than the lock).

A protocol may have *sections* that concern one kind of run only (:data:`OPTIONAL_SECTIONS`:
``"ticket"``, the lottery-ticket protocol). A store whose protocol lacks such a section takes
it on when a sweep that needs it opens the store (``protocol.json`` is rewritten with the
section added; nothing else changes), and a sweep that does not need it opens a store that
has it. Two different values of a section still mismatch.

Runs are identified by their key (``kind, t, basis, d, seed``, see
:data:`landscape.experiments.run_table.KEY_COLUMNS`); a re-run skips the keys already stored. Only one
process writes to a store at a time: every write takes an advisory ``fcntl`` lock (where
available), or runs under the lock its caller holds. Reading needs no lock, so a complete
store can be read, and resumed with nothing left to run, on a read-only file system.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import time
import warnings
from collections.abc import Mapping

import numpy as np

from .._limits import read_npz, short_text
from ._records import KEY_COLUMNS, _atomic_write, _jsonable, decode_utf8, parse_jsonl
from .run_table import RunTable

__all__ = ["ResultStore", "run_key", "run_id", "OPTIONAL_SECTIONS"]

#: protocol sections that only some runs depend on: a store may gain them later
OPTIONAL_SECTIONS = ("ticket",)


def run_key(record):
    """The tuple ``(kind, t, basis, d, seed)`` that identifies a run within a protocol."""
    if not isinstance(record, Mapping):
        raise TypeError(f"record must be a dict (one run), got {type(record).__name__}")
    try:
        return tuple(record[k] for k in KEY_COLUMNS)
    except KeyError as exc:
        raise ValueError(f"a run record needs the key columns {KEY_COLUMNS}, missing {exc}") from None


def run_id(record):
    """A file-name-safe identifier of a run, e.g. ``random-t0-orthonormal-d64-s3``."""
    kind, t, basis, d, seed = run_key(record)
    return f"{kind}-t{t}-{basis}-d{d}-s{seed}"


_TMP_RE = re.compile(r".+\.tmp-([0-9]+)")


def _process_alive(pid):
    if pid < 1:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _canonical(obj):
    """JSON round trip, so protocols compare equal whatever their Python types."""
    return json.loads(json.dumps(_jsonable(obj) if isinstance(obj, dict) else obj, sort_keys=True))


class ResultStore:
    r"""A directory holding the runs of one protocol.

    Parameters
    ----------
    path : str or os.PathLike
        The directory (created if needed).
    protocol : dict, optional
        The protocol of the runs to store. A new store records it in ``protocol.json``;
        an existing one must have the same protocol, else a ValueError lists the
        differences (results of different protocols are never mixed). None: use the
        stored protocol, if any.

    Examples
    --------
    >>> import tempfile
    >>> from landscape.experiments.result_store import ResultStore
    >>> store = ResultStore(tempfile.mkdtemp(), protocol={"steps": 100})
    >>> store.append({"kind": "random", "t": 0, "basis": "orthonormal", "d": 4, "seed": 0,
    ...               "train_acc": 0.5})
    >>> len(store.table())
    1
    """

    def __init__(self, path, protocol=None):
        if not isinstance(path, (str, bytes, os.PathLike)):
            raise TypeError(f"path must be a directory name (str or os.PathLike), got {type(path).__name__}")
        self.path = os.fspath(path)
        if isinstance(self.path, bytes):
            self.path = os.fsdecode(self.path)
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise ValueError(f"store path {self.path} exists and is not a directory")
        os.makedirs(self.path, exist_ok=True)
        self.runs_path = os.path.join(self.path, "runs.jsonl")
        self.protocol_path = os.path.join(self.path, "protocol.json")
        self.arrays_path = os.path.join(self.path, "arrays")
        self._lock_fh = None
        self._remove_stale_temporaries()
        stored = self._read_protocol()
        if protocol is not None:
            if not isinstance(protocol, dict):
                raise TypeError(f"protocol must be a dict, got {type(protocol).__name__}")
            protocol = _canonical(protocol)
            if stored is None:
                _atomic_write(self.protocol_path, (json.dumps(protocol, indent=1, sort_keys=True) + "\n").encode())
                stored = protocol
            elif stored != protocol:
                diff = sorted(k for k in set(stored) | set(protocol) if stored.get(k) != protocol.get(k))
                clash = [k for k in diff if not (k in OPTIONAL_SECTIONS and (k not in stored or k not in protocol))]
                if clash:
                    details = "; ".join(f"{k}: stored {stored.get(k)!r}, new {protocol.get(k)!r}" for k in clash)
                    raise ValueError(f"store {self.path} holds runs of another protocol ({details}); "
                                     "use another directory to keep both")
                added = [k for k in diff if k not in stored]
                if added:  # a section this store did not have yet: record it, keep everything else
                    stored = {**stored, **{k: protocol[k] for k in added}}
                    _atomic_write(self.protocol_path,
                                  (json.dumps(stored, indent=1, sort_keys=True) + "\n").encode())
        self.protocol = stored

    # ------------------------------------------------------------------ protocol
    def _read_protocol(self):
        if not os.path.exists(self.protocol_path):
            return None
        try:
            with open(self.protocol_path, encoding="utf-8") as fh:
                obj = json.load(fh)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, ...
            raise ValueError(f"{self.protocol_path}: corrupt protocol file ({short_text(exc)}); the runs in "
                             "runs.jsonl are untouched") from None
        if not isinstance(obj, dict):
            raise ValueError(f"{self.protocol_path}: expected a JSON object")
        return obj

    # ------------------------------------------------------------------ records
    def _read(self):
        if not os.path.exists(self.runs_path):
            return [], None
        with open(self.runs_path, "rb") as fh:
            raw = fh.read()
        try:
            # a kill mid-write of a multi-byte character affects the tail only: read as truncated
            text = decode_utf8(raw, self.runs_path, tail_ok=True)
            return parse_jsonl(text, self.runs_path)
        except ValueError as exc:
            raise ValueError(f"{exc}; or set the damaged lines aside (kept in a side file) with "
                             f"ResultStore({self.path!r}).set_aside_damaged()") from None

    def records(self):
        """The stored records (a list of dicts), in the order they were written.

        A record whose key appears earlier too is dropped with a warning (the first wins).
        """
        records, _ = self._read()
        seen, out = set(), []
        for i, rec in enumerate(records):
            try:
                key = run_key(rec)
                hash(key)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{self.runs_path}: record {i + 1}: {short_text(exc)}; set the damaged lines "
                                 f"aside (kept in a side file) with ResultStore({self.path!r}).set_aside_damaged()"
                                 ) from None
            if key in seen:
                warnings.warn(f"{self.runs_path}: duplicate run {key}; keeping the first record",
                              RuntimeWarning, stacklevel=2)
                continue
            seen.add(key)
            out.append(rec)
        return out

    def completed_keys(self):
        """The set of run keys already stored."""
        return {run_key(r) for r in self.records()}

    def table(self, *, strict=False):
        """The stored runs as a :class:`~landscape.experiments.run_table.RunTable`."""
        return RunTable(self.records(), strict=strict, _where=f"{self.runs_path}: ")

    def __len__(self):
        return len(self.records())

    def _repair_tail(self):
        """Set aside a truncated last line so the next record starts on a fresh line."""
        if not os.path.exists(self.runs_path):
            return
        with open(self.runs_path, "rb") as fh:
            raw = fh.read()
        if not raw or raw.endswith(b"\n"):
            return
        cut = raw.rfind(b"\n") + 1
        tail = raw[cut:]
        try:
            rec = json.loads(tail.decode("utf-8"))
            complete = isinstance(rec, dict)
        except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError, ...
            complete = False
        if complete:  # a whole record whose newline was lost: keep it
            with open(self.runs_path, "ab") as fh:
                fh.write(b"\n")
                fh.flush()
                os.fsync(fh.fileno())
            return
        side = f"{self.runs_path}.partial-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
        _atomic_write(side, tail)
        with open(self.runs_path, "r+b") as fh:
            fh.truncate(cut)
            fh.flush()
            os.fsync(fh.fileno())
        warnings.warn(f"{self.runs_path}: a truncated last record was moved to {side}",
                      RuntimeWarning, stacklevel=3)

    def append(self, record):
        """Append one run record (a dict with the key columns), flushed and fsynced.

        Non-finite floats are stored as ``null`` (NaN) or ``"inf"`` / ``"-inf"``.
        """
        if not isinstance(record, dict):
            raise TypeError(f"record must be a dict, got {type(record).__name__}")
        run_key(record)
        line = json.dumps(_jsonable(record), allow_nan=False)
        if "\n" in line:  # pragma: no cover - json.dumps never emits raw newlines
            raise ValueError("a record must serialise to one line")
        with self._writing():
            self._repair_tail()
            with open(self.runs_path, "ab") as fh:
                fh.write((line + "\n").encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())

    def set_aside_damaged(self):
        """Move the lines of ``runs.jsonl`` that are not readable run records (not UTF-8, not
        JSON, not an object with the key columns, or a truncated last line) to
        ``runs.jsonl.damaged-<time>-<pid>``, byte for byte, and keep the others.

        Nothing is deleted: the side file holds every line taken out. Takes the store's lock.

        Returns
        -------
        str or None
            The side file, or None when every line was readable.
        """
        with self._writing():
            if not os.path.exists(self.runs_path):
                return None
            with open(self.runs_path, "rb") as fh:
                raw = fh.read()
            good, bad = [], []
            for piece in raw.split(b"\n"):
                if not piece.strip():
                    continue
                try:
                    rec = json.loads(piece.decode("utf-8"))
                    ok = isinstance(rec, dict) and all(k in rec for k in KEY_COLUMNS)
                except (ValueError, RecursionError):
                    ok = False
                (good if ok else bad).append(piece)
            if not bad:
                return None
            side = f"{self.runs_path}.damaged-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
            _atomic_write(side, b"".join(p + b"\n" for p in bad))
            _atomic_write(self.runs_path, b"".join(p + b"\n" for p in good))
        warnings.warn(f"{self.runs_path}: {len(bad)} damaged line(s) moved to {side}", RuntimeWarning,
                      stacklevel=2)
        return side

    # ------------------------------------------------------------------ arrays
    def save_arrays(self, name, /, **arrays):
        """Write ``arrays/<name>.npz`` atomically (numeric or fixed-width string arrays only)."""
        if not name or os.sep in name or name.startswith("."):
            raise ValueError(f"name must be a plain file name, got {name!r}")
        os.makedirs(self.arrays_path, exist_ok=True)
        clean = {}
        for k, v in arrays.items():
            a = np.asarray(v)
            if a.dtype == object:
                raise TypeError(f"array {k!r} has dtype object; .npz files here never hold pickles")
            clean[k] = a
        import io

        buf = io.BytesIO()
        np.savez(buf, **clean)
        with self._writing():
            _atomic_write(os.path.join(self.arrays_path, f"{name}.npz"), buf.getvalue())

    def load_arrays(self, name, *, max_bytes=None):
        """Read ``arrays/<name>.npz`` (no pickles; ``max_bytes`` as in
        :func:`landscape.experiments.run_files.load_runs`) into a dict of arrays."""
        if not name or os.sep in name or name.startswith("."):
            raise ValueError(f"name must be a plain file name, got {name!r}")
        return read_npz(os.path.join(self.arrays_path, f"{name}.npz"), max_bytes=max_bytes)

    # ------------------------------------------------------------------ locking
    def lock(self):
        """Take the store's advisory write lock (raises if another process holds it).

        Every write (:meth:`append`, :meth:`save_arrays`, :meth:`set_aside_damaged`) takes
        it for its duration unless this object holds it already; reading never needs it.
        Once held, temporary files left by killed writers (``*.tmp-<pid>``) are removed.

        Raises
        ------
        RuntimeError
            When another process holds the lock.
        PermissionError
            When the store cannot be written (a read-only file system or directory).
        """
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return self
        try:
            fh = open(os.path.join(self.path, ".lock"), "a")
        except OSError as exc:
            raise PermissionError(f"store {self.path} is not writable ({exc.strerror}): its runs can be "
                                  "read, but none can be added") from None
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            raise RuntimeError(f"store {self.path} is in use by another process (sweep running?)") from None
        self._lock_fh = fh
        self._remove_stale_temporaries(time.time())
        return self

    @contextlib.contextmanager
    def _writing(self):
        """Hold the lock for a write (re-entrant for an object that holds it already)."""
        if self._lock_fh is not None:
            yield
            return
        self.lock()
        try:
            yield
        finally:
            self.unlock()

    def _remove_stale_temporaries(self, locked_at=None):
        """Remove ``*.tmp-<pid>`` files of writers that are gone: those whose process has
        ended, and, when this object holds the lock (``locked_at``), those older than the lock.
        Best effort: nothing is raised (a read-only store keeps them)."""
        for directory in (self.path, self.arrays_path):
            try:
                names = os.listdir(directory)
            except OSError:
                continue
            for name in names:
                m = _TMP_RE.fullmatch(name)
                if m is None or int(m.group(1)) == os.getpid():
                    continue
                path = os.path.join(directory, name)
                try:
                    stale = not _process_alive(int(m.group(1))) or (
                        locked_at is not None and os.path.getmtime(path) < locked_at)
                    if stale:
                        os.remove(path)
                except OSError:
                    pass

    def unlock(self):
        if self._lock_fh is not None:
            self._lock_fh.close()
            self._lock_fh = None

    def __enter__(self):
        return self.lock()

    def __exit__(self, *exc):
        self.unlock()

    def __repr__(self):
        return f"ResultStore({self.path!r}, {len(self)} runs)"
