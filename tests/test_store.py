"""landscape.experiments.result_store.ResultStore: incremental, atomic, damage-tolerant results directories."""
import json
import math
import os

import numpy as np
import pytest

from landscape.experiments.result_store import ResultStore, run_id, run_key


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
