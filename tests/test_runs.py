"""landscape.experiments.run_table: RunTable, its file formats, and the loaders (including reference pickles)."""
import io
import os
import pickle
import pickletools

import numpy as np
import pytest

from landscape.experiments.result_store import ResultStore
from landscape.experiments.run_files import load_reference_pickle, load_runs
from landscape.experiments.run_table import RunTable


def records():
    return [
        {"kind": "random", "t": 0, "basis": "orthonormal", "d": 4, "seed": 1, "train_loss": 0.25,
         "train_acc": 0.5, "status": "ok", "model": 'MLP(4-2, activation="tanh")', "note": "a,b"},
        {"kind": "random", "t": 0, "basis": "orthonormal", "d": 2, "seed": 0, "train_loss": float("nan"),
         "train_acc": float("nan"), "status": "diverged", "model": "m", "note": 'say "hi"'},
        {"kind": "lottery", "t": 0, "basis": "none", "d": 1, "seed": 0, "train_loss": 1 / 3,
         "train_acc": float("inf"), "status": "ok", "model": "m", "note": ""},
    ]


# ---------------------------------------------------------------------- the table
def test_columns_types_and_selection():
    table = RunTable(records())
    assert len(table) == 3 and table.columns[:5] == ("kind", "t", "basis", "d", "seed")
    assert table["d"].dtype == np.int64 and table["train_loss"].dtype == np.float64
    assert table["kind"].dtype == object and table["note"].tolist() == ["a,b", 'say "hi"', ""]
    assert table.select(kind="random")["d"].tolist() == [4, 2]
    assert table.select(d=[1, 4])["seed"].tolist() == [1, 0]
    assert table.select(d=lambda d: d > 1, seed=0)["d"].tolist() == [2]
    assert table.sort()["d"].tolist() == [1, 2, 4]  # kind, t, basis, d, seed
    assert table.sort("d")["kind"].tolist() == ["lottery", "random", "random"]
    assert table.where(table["d"] > 1)["d"].tolist() == [4, 2]
    assert table.unique("kind") == ["lottery", "random"]
    assert "note" not in table.drop("note")
    assert table.with_column("x", [1, 2, 3])["x"].dtype == np.int64
    assert table[0]["d"] == 4 and len(list(table)) == 3
    assert "kinds={'lottery': 1, 'random': 2}" in repr(table)
    with pytest.raises(KeyError, match="no column 'nope'"):
        table["nope"]
    with pytest.raises(ValueError, match="mask"):
        table.where([True])


def test_missing_values_and_unknown_columns():
    table = RunTable([{"kind": "random", "d": 1, "seed": 0, "extra": 3, "x": "1.5"},
                      {"kind": "random", "d": 2, "seed": 1, "train_acc": 0.5, "extra": 4, "x": 2}])
    assert np.isnan(table["train_acc"][0])
    assert table["extra"].dtype == np.int64 and table["x"].dtype == np.float64
    with pytest.raises(ValueError, match=r"unknown columns \['extra', 'x'\]"):
        RunTable([{"kind": "random", "d": 1, "seed": 0, "extra": 3, "x": 1}], strict=True)
    with pytest.raises(ValueError, match="column 'd' must hold int values; row 0 has 'abc'"):
        RunTable([{"d": "abc"}])
    with pytest.raises(ValueError, match="column 'd' must hold int values"):
        RunTable([{"d": 1.5}])
    with pytest.raises(ValueError, match="missing a value"):
        RunTable([{"d": 1}, {"seed": 2}])
    with pytest.raises(TypeError, match="record 0 must be a dict"):
        RunTable([[1, 2]])


def test_equals_treats_nan_as_equal_and_ignores_order_and_wall_time():
    a = RunTable(records())
    b = RunTable(list(reversed([dict(r, wall_time=i) for i, r in enumerate(records())])))
    assert a.drop("wall_time").equals(b) and b.equals(a.with_column("wall_time", [9, 9, 9]))
    c = records()
    c[0]["train_loss"] = 0.2500000001
    assert not a.equals(RunTable(c))
    assert not a.equals(a.drop("note"))
    assert not a.equals("a table")


@pytest.mark.parametrize("ext", [".csv", ".json", ".jsonl", ".npz"])
def test_file_roundtrips_are_exact(tmp_path, ext):
    table = RunTable(records())
    path = tmp_path / f"runs{ext}"
    {".csv": table.to_csv, ".json": table.to_json, ".jsonl": table.to_jsonl, ".npz": table.to_npz}[ext](path)
    back = load_runs(path)
    assert back.equals(table, ignore=()) and back.columns == table.columns
    assert back["train_acc"][2] == np.inf and np.isnan(back["train_loss"][1])


def test_csv_is_plain_for_the_standard_library(tmp_path):
    import csv

    RunTable(records()).to_csv(tmp_path / "r.csv")
    rows = list(csv.DictReader(open(tmp_path / "r.csv")))
    assert rows[0]["d"] == "4" and rows[1]["train_loss"] == "nan" and rows[0]["note"] == "a,b"
    assert float(rows[2]["train_loss"]) == 1 / 3


def test_corrupt_and_truncated_files(tmp_path):
    table = RunTable(records())
    table.to_csv(tmp_path / "r.csv")
    text = (tmp_path / "r.csv").read_text()
    (tmp_path / "cut.csv").write_text(text[:-20])  # killed while writing the last row
    with pytest.warns(RuntimeWarning, match="truncated last line"):
        assert len(load_runs(tmp_path / "cut.csv")) == 2
    lines = text.splitlines(keepends=True)
    (tmp_path / "bad.csv").write_text(lines[0] + "1,2\n" + "".join(lines[1:]))
    with pytest.raises(ValueError, match="line 2: 2 fields"):
        load_runs(tmp_path / "bad.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match="empty CSV"):
        load_runs(tmp_path / "empty.csv")
    table.to_json(tmp_path / "r.json")
    (tmp_path / "cut.json").write_text((tmp_path / "r.json").read_text()[:-30])
    with pytest.raises(ValueError, match="corrupt or truncated JSON"):
        load_runs(tmp_path / "cut.json")
    table.to_npz(tmp_path / "r.npz")
    (tmp_path / "cut.npz").write_bytes((tmp_path / "r.npz").read_bytes()[:100])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        load_runs(tmp_path / "cut.npz")
    (tmp_path / "r.txt").write_text("x")
    with pytest.raises(ValueError, match="unknown file type"):
        load_runs(tmp_path / "r.txt")
    with pytest.raises(FileNotFoundError):
        load_runs(tmp_path / "missing.csv")


def test_load_runs_reads_a_store_directory(tmp_path):
    store = ResultStore(tmp_path / "s", protocol={"steps": 3})
    for r in records():
        store.append(r)
    assert load_runs(tmp_path / "s").equals(RunTable(records()), ignore=())


# ---------------------------------------------------------------------- reference pickles
def reference_result(lottery=False):
    """A result dict in the format written by the paper's reference code (burn_in_subspace.py)."""
    out = {
        "model": "TinyCNN", "dataset": "fashionMNIST", "epochs": 3, "points_to_collect": 2,
        "ds_to_explore": [8, 64], "nnz": 8192, "full_d": np.array(2 ** 15 + 123),
        "data": {k: [] for k in ("d", "point_id", "it", "abs_theta", "train_loss", "train_acc",
                                 "full_train_loss", "full_train_acc", "best_train_acc", "test_loss",
                                 "test_acc", "best_test_acc", "nnz", "avg_grad_time", "avg_proj_time",
                                 "epoch_times")},
    }
    if lottery:
        out["traj_steps"] = 5
    else:
        out["init_iters"] = 4
    rng = np.random.default_rng(1000)
    for point_id in range(2):
        for d in (8, 64):
            acc = rng.random()
            data = out["data"]
            data["d"].append(d)
            data["point_id"].append(point_id)
            data["it"].append(str(1407))
            data["abs_theta"].append(str(np.float32(rng.random() * 10)))
            data["train_loss"].append(str(np.float32(rng.random())))
            data["train_acc"].append(str(np.float32(acc)))
            data["full_train_loss"].append(f"DeviceArray({rng.random():.6f}, dtype=float32)")
            data["full_train_acc"].append(str(np.float32(acc)))
            data["best_train_acc"].append(np.float32(acc))
            data["test_loss"].append("nan" if (point_id, d) == (1, 64) else str(rng.random()))
            data["test_acc"].append(str(acc * 0.9))
            data["best_test_acc"].append(str(acc * 0.9))
            data["nnz"].append(8192)
            data["avg_grad_time"].append(0.01)
            data["avg_proj_time"].append(0.002)
            data["epoch_times"].append(np.zeros(3))
    return out


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_reference_pickle_loads(tmp_path, protocol):
    ref = reference_result()
    path = tmp_path / "artifact_burn_in_subspace_results.pkl"
    with open(path, "wb") as fh:
        pickle.dump(ref, fh, protocol=protocol)
    table = load_runs(path)
    assert len(table) == 4
    assert table["d"].tolist() == [8, 64, 8, 64] and table["seed"].tolist() == [0, 0, 1, 1]
    assert set(table["kind"]) == {"random"} and set(table["t"]) == {4} and set(table["D"]) == {2 ** 15 + 123}
    np.testing.assert_allclose(table["train_acc"], [float(s) for s in ref["data"]["full_train_acc"]])
    np.testing.assert_allclose(table["batch_train_loss"], [float(s) for s in ref["data"]["train_loss"]])
    np.testing.assert_allclose(table["train_loss"],
                               [float(s[12:-16]) for s in ref["data"]["full_train_loss"]])
    assert np.isnan(table["test_loss"][3]) and table["steps"].tolist() == [1407] * 4
    assert set(table["model"]) == {"TinyCNN"} and set(table["status"]) == {"ok"}
    lot = tmp_path / "lottery.pkl"
    lot.write_bytes(pickle.dumps(reference_result(lottery=True)))
    assert set(load_reference_pickle(lot)["kind"]) == {"lottery"}


def test_reference_pickle_with_bad_structure(tmp_path):
    ref = reference_result()
    ref["data"]["test_acc"].pop()
    (tmp_path / "a.pkl").write_bytes(pickle.dumps(ref))
    with pytest.raises(ValueError, match="must all have length 4"):
        load_runs(tmp_path / "a.pkl")
    ref = reference_result()
    ref["data"]["train_acc"][1] = "DeviceArray([0.5, 0.6], dtype=float32)"
    (tmp_path / "b.pkl").write_bytes(pickle.dumps(ref))
    with pytest.raises(ValueError, match=r"data\['train_acc'\]\[1\]"):
        load_runs(tmp_path / "b.pkl")
    (tmp_path / "c.pkl").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(ValueError, match="reference format"):
        load_runs(tmp_path / "c.pkl")
    (tmp_path / "d.pkl").write_bytes(pickle.dumps({"data": {}}))
    with pytest.raises(ValueError, match="missing keys"):
        load_runs(tmp_path / "d.pkl")
    blob = pickle.dumps(reference_result())
    (tmp_path / "e.pkl").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_runs(tmp_path / "e.pkl")


class _RunsCode:
    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


@pytest.mark.parametrize("make", [
    lambda marker: _RunsCode(os.system, f"touch {marker}"),
    lambda marker: _RunsCode(eval, f"open({str(marker)!r}, 'w').close()"),
    lambda marker: _RunsCode(exec, f"open({str(marker)!r}, 'w').close()"),
    lambda marker: _RunsCode(__import__("subprocess").call, ["touch", str(marker)]),
])
def test_malicious_pickles_are_refused_and_run_nothing(tmp_path, make):
    marker = tmp_path / "pwned"
    ref = reference_result()
    ref["data"]["payload"] = make(marker)
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(ref))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        load_runs(path)
    assert not marker.exists()
    # the same pickle really runs code when loaded naively (the test can fail)
    pickle.loads(path.read_bytes())
    assert marker.exists()


def test_numpy_ndarray_cannot_be_called_directly(tmp_path):
    """numpy.ndarray(shape, object dtype, raw buffer) would dereference arbitrary memory."""
    payload = (b"\x80\x04cnumpy\nndarray\n(K\x01\x85cnumpy\ndtype\nX\x01\x00\x00\x00O\x85R"
               b"C\x08AAAAAAAAtR.")
    pickletools.dis(io.BytesIO(payload), out=io.StringIO())  # a well-formed pickle
    (tmp_path / "x.pkl").write_bytes(payload)
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        load_runs(tmp_path / "x.pkl")
    # an object array from raw memory through _reconstruct's state is refused by numpy itself
    from landscape.experiments._safe_pickle import safe_loads
    blob = pickle.dumps({"a": np.array([1.0, 2.0])}, protocol=2)
    assert safe_loads(blob)["a"].tolist() == [1.0, 2.0]


# -- the restricted unpickler (issue 9, sections 1 and 2) ---------------------------------
def _every_kind_of_value():
    import collections

    return {
        "set": {1, 2}, "frozenset": frozenset([3]), "bytes": b"xy", "empty_bytes": b"", "bytearray": bytearray(b"q"),
        "complex": 1 + 2j, "str_scalar": np.str_("ab"), "bool_scalar": np.bool_(True), "f32": np.float32(0.5),
        "f16": np.float16(2), "c64": np.complex64(1 + 1j), "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        "strings": np.array(["ab", "c"]), "byte_strings": np.array([b"x", b"yz"]), "big_endian": np.array([1, 2], ">i4"),
        "empty": np.zeros((0, 3)), "strided": np.arange(12.0).reshape(3, 4)[:, ::2], "bools": np.array([True, False]),
        "shared": [np.arange(2)] * 3, "tuple": (np.float32(1), [2]), "ordered": collections.OrderedDict(a=1),
        "nested": {"a": [{"b": (1, 2.5, None, "s")}]},
    }


@pytest.mark.parametrize("protocol", range(6))
def test_every_value_numpy_and_python_pickle_is_rebuilt_exactly(protocol):
    from landscape.experiments._safe_pickle import safe_loads

    original = _every_kind_of_value()
    out = safe_loads(pickle.dumps(original, protocol=protocol))
    for key, want in original.items():
        got = out[key]
        if isinstance(want, np.ndarray):
            assert type(got) is np.ndarray and got.dtype == want.dtype and got.shape == want.shape, key
            assert np.array_equal(got, want) and got.flags.writeable, key
            assert got.flags.f_contiguous == want.flags.f_contiguous, key
        elif key == "shared":
            assert all(type(a) is np.ndarray and a.tolist() == [0, 1] for a in got)
        elif key == "tuple":
            assert type(got[0]) is np.float32 and got[1] == [2]
        elif key == "ordered":
            assert got == {"a": 1}
        else:
            assert got == want and type(got) is type(want), key


def test_the_expansion_budget_and_max_bytes(tmp_path):
    """A file may expand to 16 MiB plus 64 bytes per byte unless the caller raises the limit."""
    from landscape.experiments._safe_pickle import MAX_DEPTH, safe_loads

    big = {"data": {"d": list(range(2000)), "point_id": [0] * 2000}, "full_d": 10 ** 6}
    blob = pickle.dumps(big)
    assert safe_loads(blob)["full_d"] == 10 ** 6
    with pytest.raises(ValueError, match="max_bytes"):
        safe_loads(blob, max_bytes=10_000)
    path = tmp_path / "big.pkl"
    path.write_bytes(blob)
    with pytest.raises(ValueError, match=r"big\.pkl: would expand to .* pass max_bytes"):
        load_runs(path, max_bytes=10_000)
    assert len(load_runs(path, max_bytes=10 ** 8)) == 2000
    # nesting: MAX_DEPTH levels load, one more is refused (never a RecursionError)
    deep = []
    for _ in range(MAX_DEPTH - 1):
        deep = [deep]
    assert safe_loads(pickle.dumps(deep)) == deep
    with pytest.raises(pickle.UnpicklingError, match=f"deeper than {MAX_DEPTH}"):
        safe_loads(pickle.dumps([[deep]]))
    # shared references count every time they occur: 10**30 elements from a few hundred bytes
    x = []
    for _ in range(30):
        x = [x] * 10
    blob = pickle.dumps(x)
    assert len(blob) < 2000
    with pytest.raises(ValueError, match="would expand to"):
        safe_loads(blob)


def test_npz_budget_and_max_bytes(tmp_path):
    table = RunTable(records())
    table.to_npz(tmp_path / "r.npz")
    size = (tmp_path / "r.npz").stat().st_size
    assert load_runs(tmp_path / "r.npz").equals(table)
    with pytest.raises(ValueError, match="max_bytes"):
        load_runs(tmp_path / "r.npz", max_bytes=size // 4)
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (2_500_000,)})
    assert len(header.getvalue()) == 128
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:  # 20 MB of zeros in about 20 kB
        zf.writestr("d.npy", header.getvalue() + b"\0" * 20_000_000)
    (tmp_path / "bomb.npz").write_bytes(buf.getvalue())
    assert (tmp_path / "bomb.npz").stat().st_size < 100_000
    with pytest.raises(ValueError, match="would expand to 20,000,128 bytes"):
        load_runs(tmp_path / "bomb.npz")
