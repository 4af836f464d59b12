"""landscape.experiments.result_store.ResultStore: incremental, atomic, damage-tolerant results directories."""
import json
import math
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from landscape.experiments.result_store import ResultStore, run_id, run_key

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rec(d, seed, **extra):
    r = {"kind": "random", "t": 0, "basis": "orthonormal", "d": d, "seed": seed, "train_loss": 0.1 * d + seed}
    r.update(extra)
    return r


def test_append_and_read_back_exactly(tmp_path):
    store = ResultStore(tmp_path / "s", protocol={"steps": 10, "lr": 0.1})
    values = [1 / 3, 1e-300, np.float64(2.5), math.nan, math.inf, -math.inf]
    for i, v in enumerate(values):
        store.append(rec(i + 1, 0, metric=v, status="ok"))
    records = store.records()
    assert [r["d"] for r in records] == [1, 2, 3, 4, 5, 6]
    got = store.table()["metric"]
    np.testing.assert_array_equal(got, np.array([1 / 3, 1e-300, 2.5, math.nan, math.inf, -math.inf]))
    # the file is plain JSON lines, readable by the standard library (no NaN tokens)
    with open(tmp_path / "s" / "runs.jsonl") as fh:
        lines = [json.loads(line) for line in fh]
    assert lines[3]["metric"] is None and lines[4]["metric"] == "inf"
    assert json.load(open(tmp_path / "s" / "protocol.json")) == {"lr": 0.1, "steps": 10}
    assert store.completed_keys() == {("random", 0, "orthonormal", d, 0) for d in range(1, 7)}
    assert run_id(rec(4, 2)) == "random-t0-orthonormal-d4-s2"


def test_a_truncated_last_record_is_ignored_then_set_aside(tmp_path):
    store = ResultStore(tmp_path)
    for d in (1, 2, 3):
        store.append(rec(d, 0))
    path = tmp_path / "runs.jsonl"
    whole = path.read_bytes()
    partial = json.dumps(rec(4, 0)).encode()[:25]
    path.write_bytes(whole + partial)  # killed mid-write
    with pytest.warns(RuntimeWarning, match="truncated last line"):
        assert [r["d"] for r in store.records()] == [1, 2, 3]
    with pytest.warns(RuntimeWarning, match="moved to"):
        store.append(rec(5, 0))
    with_partial = [p for p in os.listdir(tmp_path) if p.startswith("runs.jsonl.partial-")]
    assert len(with_partial) == 1 and (tmp_path / with_partial[0]).read_bytes() == partial
    assert [r["d"] for r in store.records()] == [1, 2, 3, 5]
    assert path.read_bytes() == whole + (json.dumps(rec(5, 0)) + "\n").encode()


def test_a_complete_last_record_without_newline_is_kept(tmp_path):
    store = ResultStore(tmp_path)
    store.append(rec(1, 0))
    path = tmp_path / "runs.jsonl"
    path.write_bytes(path.read_bytes() + json.dumps(rec(2, 0)).encode())
    assert [r["d"] for r in store.records()] == [1, 2]
    store.append(rec(3, 0))
    assert [r["d"] for r in store.records()] == [1, 2, 3]


def test_a_corrupt_middle_line_raises_and_names_the_line(tmp_path):
    store = ResultStore(tmp_path)
    for d in (1, 2, 3):
        store.append(rec(d, 0))
    path = tmp_path / "runs.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    lines[1] = '{"kind": "random", "d": oops}\n'
    path.write_text("".join(lines))
    before = path.read_bytes()
    with pytest.raises(ValueError, match="line 2: corrupt record"):
        store.records()
    assert path.read_bytes() == before  # nothing rewritten or lost
    path.write_text(lines[0] + "[1, 2]\n")
    with pytest.raises(ValueError, match="line 2: expected a JSON object"):
        store.records()


def test_protocol_mismatch_is_refused_and_nothing_changes(tmp_path):
    store = ResultStore(tmp_path, protocol={"steps": 10, "lr": 0.1})
    store.append(rec(1, 0))
    before = {p: (tmp_path / p).read_bytes() for p in ("protocol.json", "runs.jsonl")}
    with pytest.raises(ValueError, match=r"another protocol \(lr: stored 0.1, new 0.2\)"):
        ResultStore(tmp_path, protocol={"steps": 10, "lr": 0.2})
    assert {p: (tmp_path / p).read_bytes() for p in before} == before
    # equal protocols, whatever their Python types, are accepted
    assert ResultStore(tmp_path, protocol={"lr": np.float64(0.1), "steps": np.int64(10)}).protocol == {
        "lr": 0.1, "steps": 10}
    assert ResultStore(tmp_path).protocol == {"lr": 0.1, "steps": 10}


def test_corrupt_protocol_file(tmp_path):
    ResultStore(tmp_path, protocol={"a": 1})
    (tmp_path / "protocol.json").write_text('{"a": ')
    with pytest.raises(ValueError, match="corrupt protocol"):
        ResultStore(tmp_path)


def test_duplicate_runs_keep_the_first(tmp_path):
    store = ResultStore(tmp_path)
    store.append(rec(1, 0, train_loss=1.0))
    store.append(rec(1, 0, train_loss=2.0))
    with pytest.warns(RuntimeWarning, match="duplicate"):
        assert store.table()["train_loss"].tolist() == [1.0]


def test_arrays_roundtrip_without_pickles(tmp_path):
    store = ResultStore(tmp_path)
    store.save_arrays("run-1", step=np.arange(3), loss=np.array([1.0, 0.5, np.nan]), name=np.array(["a", "bc"]))
    out = store.load_arrays("run-1")
    np.testing.assert_array_equal(out["loss"], [1.0, 0.5, np.nan])
    assert out["name"].tolist() == ["a", "bc"]
    with np.load(tmp_path / "arrays" / "run-1.npz", allow_pickle=False) as z:
        assert sorted(z.files) == ["loss", "name", "step"]
    with pytest.raises(TypeError, match="object"):
        store.save_arrays("bad", x=np.array([{}, 1], dtype=object))
    with pytest.raises(ValueError, match="plain file name"):
        store.save_arrays("../escape", x=np.zeros(1))
    blob = (tmp_path / "arrays" / "run-1.npz").read_bytes()
    (tmp_path / "arrays" / "run-1.npz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        store.load_arrays("run-1")


def test_lock_and_bad_paths(tmp_path):
    a = ResultStore(tmp_path).lock()
    with pytest.raises(RuntimeError, match="in use"):
        ResultStore(tmp_path).lock()
    a.unlock()
    with ResultStore(tmp_path):
        pass
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        ResultStore(tmp_path / "file")
    store = ResultStore(tmp_path / "s")
    with pytest.raises(ValueError, match="key columns"):
        store.append({"d": 1})
    with pytest.raises(TypeError, match="dict"):
        store.append([1, 2])
    with pytest.raises(TypeError, match="protocol must be a dict"):
        ResultStore(tmp_path / "t", protocol=[1])
    assert run_key(rec(3, 1)) == ("random", 0, "orthonormal", 3, 1)


# -- faults (issue 9, section 4) ----------------------------------------------------------
def test_a_non_utf8_byte_names_the_file_and_line_and_can_be_set_aside(tmp_path):
    from landscape.experiments.run_files import load_runs

    store = ResultStore(tmp_path)
    for d in (1, 2, 3):
        store.append(rec(d, 0))
    path = tmp_path / "runs.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"random"', b'"rand\xffom"')
    damaged = b"".join(lines)
    path.write_bytes(damaged)
    for read in (store.records, lambda: load_runs(tmp_path), lambda: ResultStore(tmp_path).table()):
        with pytest.raises(ValueError, match=r"runs.jsonl, line 2: not UTF-8 text \(byte 0xff at column 15\)"
                                             r".*set_aside_damaged"):
            read()
    assert path.read_bytes() == damaged  # nothing written while damaged
    with pytest.warns(RuntimeWarning, match="1 damaged line"):
        side = store.set_aside_damaged()
    assert open(side, "rb").read() == lines[1]  # kept byte for byte
    assert path.read_bytes() == lines[0] + lines[2]
    assert [r["d"] for r in store.records()] == [1, 3]
    store.append(rec(2, 0))
    assert [r["d"] for r in store.records()] == [1, 3, 2]
    assert store.set_aside_damaged() is None


def test_set_aside_takes_corrupt_json_and_records_without_keys(tmp_path):
    store = ResultStore(tmp_path)
    store.append(rec(1, 0))
    path = tmp_path / "runs.jsonl"
    path.write_bytes(path.read_bytes() + b'{"d": oops}\n{"d": 5}\n' + json.dumps(rec(2, 0)).encode() + b"\n")
    with pytest.raises(ValueError, match="line 2: corrupt record"):
        store.records()
    with pytest.warns(RuntimeWarning, match="2 damaged"):
        side = store.set_aside_damaged()
    assert open(side, "rb").read() == b'{"d": oops}\n{"d": 5}\n'
    assert [r["d"] for r in store.records()] == [1, 2]


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_temporaries_of_a_killed_writer_are_removed_on_open(tmp_path):
    # a writer killed inside save_arrays, after writing its temporary file, before the rename
    code = textwrap.dedent(f"""
        import os, numpy as np
        from landscape.experiments import _records
        from landscape.experiments.result_store import ResultStore
        store = ResultStore({str(tmp_path)!r})
        store.append({{"kind": "random", "t": 0, "basis": "o", "d": 1, "seed": 0}})
        _records.os.replace = lambda *a: os._exit(9)
        store.save_arrays("run", loss=np.arange(3.0))
    """)
    res = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=ROOT), timeout=120)
    assert res.returncode == 9
    left = os.listdir(tmp_path / "arrays")
    assert len(left) == 1 and left[0].startswith("run.npz.tmp-")
    live = tmp_path / "arrays" / f"other.npz.tmp-{os.getppid()}"   # a writer that is still alive
    live.write_bytes(b"x")
    (tmp_path / f"protocol.json.tmp-{_dead_pid()}").write_bytes(b"{")
    store = ResultStore(tmp_path)
    assert os.listdir(tmp_path / "arrays") == [live.name]
    assert not [n for n in os.listdir(tmp_path) if ".tmp-" in n]
    assert len(store.records()) == 1  # the record written before the kill is kept
    os.utime(live, (time.time() - 10, time.time() - 10))
    with store:  # the lock holder knows that older temporaries belong to no live writer
        assert os.listdir(tmp_path / "arrays") == []


def _read_only(monkeypatch, root):
    """Every write under ``root`` fails as on a read-only file system."""
    import builtins
    import errno

    from landscape.experiments import _records, result_store

    real_open = builtins.open

    def fake_open(file, mode="r", *args, **kwargs):
        if str(file).startswith(str(root)) and any(c in mode for c in "wax+"):
            raise OSError(errno.EROFS, "Read-only file system", str(file))
        return real_open(file, mode, *args, **kwargs)

    for module in (_records, result_store):
        monkeypatch.setattr(module, "open", fake_open, raising=False)


def test_a_complete_store_resumes_on_a_read_only_file_system(tmp_path, monkeypatch):
    from landscape.experiments.sweeps import SerialExecutor, sweep
    from landscape.models import MLP
    from landscape.models.datasets import teacher_student

    data = teacher_student(32, 16, n_features=3, n_classes=2, hidden=4, seed=1001)
    kw = dict(ds=[1, 2], seeds=1, steps=5, lr=0.05, batch_size=8, progress=False, executor=SerialExecutor())
    first = sweep(MLP([3, 4, 2]), data, store=tmp_path, **kw)
    _read_only(monkeypatch, tmp_path)
    again = sweep(MLP([3, 4, 2]), data, store=tmp_path, **kw)  # nothing left to run: no lock needed
    assert again.equals(first)
    assert len(ResultStore(tmp_path).records()) == len(first)
    with pytest.raises(PermissionError, match="not writable.*can be read"):
        sweep(MLP([3, 4, 2]), data, store=tmp_path, **dict(kw, ds=[1, 2, 3]))
    with pytest.raises(PermissionError, match="not writable"):
        ResultStore(tmp_path).append(rec(9, 0))


def test_append_from_another_process_waits_for_no_one_and_changes_nothing(tmp_path):
    store = ResultStore(tmp_path)
    store.append(rec(1, 0))
    before = (tmp_path / "runs.jsonl").read_bytes()
    code = textwrap.dedent(f"""
        from landscape.experiments.result_store import ResultStore
        try:
            ResultStore({str(tmp_path)!r}).append({rec(1, 0, train_loss=99.0)!r})
        except RuntimeError as exc:
            print(exc)
            raise SystemExit(3)
    """)
    with store:  # a sweep holds the lock
        res = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=ROOT),
                             capture_output=True, text=True, timeout=120)
    assert res.returncode == 3 and "in use by another process" in res.stdout
    assert (tmp_path / "runs.jsonl").read_bytes() == before
    res = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=ROOT),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr  # once the lock is free, the append goes through
    assert len((tmp_path / "runs.jsonl").read_bytes().splitlines()) == 2
