"""The command line from a trained model to a comparison: checkpoint -> spectrum -> predict -> compare.

References: the library calls the subcommands stand for (SpectralModel.from_model on the
same checkpoint, prediction_table, threshold_dimension), the checkpoint's own loss and
offset, and the subcommands' own outputs read back from their files.
"""
import csv
import io
import json
import os
import sys
import warnings
from contextlib import redirect_stdout

import numpy as np
import pytest

import landscape
from landscape.cli import build_parser, main
from landscape.experiments.run_table import RunTable
from landscape.theory.spectral_model import SpectralModel

NET_PY = """
import torch

def make():
    return torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3)).double()
"""


def run(*args):
    buf = io.StringIO()
    with redirect_stdout(buf):
        status = main([str(a) for a in args])
    return status, buf.getvalue()


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def trained(tmp_path_factory, torch_one_thread):
    """A small torch model trained in full space, its two checkpoints, its data and a sweep of its runs."""
    import torch

    from landscape.experiments.sweeps import sweep
    from landscape.experiments.training import train_full
    from landscape.models.datasets import teacher_student
    from landscape.torch import TorchModel

    tmp = tmp_path_factory.mktemp("workflow")
    (tmp / "net.py").write_text(NET_PY)
    sys.path.insert(0, str(tmp))
    try:
        from net import make
    finally:
        sys.path.remove(str(tmp))
    data = teacher_student(120, 0, n_features=4, n_classes=3, hidden=0, seed=1000)
    np.savez(tmp / "data.npz", X=data.X_train, y=data.y_train)
    model = TorchModel(make(), input_shape=(4,))
    proto = dict(optimizer="adam", lr=0.05, steps=150)
    full = train_full(model, data, seed=0, **proto)
    theta_star, theta0 = full.theta, full.theta - full.phi

    def save(theta, path):
        state = {k: v.clone() for k, v in model.unflatten(torch.from_numpy(theta)).items()}
        torch.save(state, path)

    save(theta_star, tmp / "trained.pt")
    save(theta0, tmp / "init.pt")
    table = sweep(model, data, ds=[1, 2, 4, 8, 16, 32, 51], seeds=3, executor="serial", progress=False,
                  include_full=False, **proto)
    # the minimal run file: d, seed, train_loss (no kind, no t)
    with open(tmp / "runs.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["d", "seed", "train_loss"])
        for r in table.to_records():
            w.writerow([r["d"], r["seed"], repr(float(r["train_loss"]))])
    L0 = model.loss(theta0, data.X_train, data.y_train)
    Ls = model.loss(theta_star, data.X_train, data.y_train)
    return dict(tmp=tmp, model=model, data=data, theta_star=theta_star, theta0=theta0, L0=L0, Ls=Ls,
                table=table)


def test_checkpoint_to_spectrum_to_predict_to_compare(trained):
    tmp, model, data = trained["tmp"], trained["model"], trained["data"]
    spec = tmp / "spectrum.npz"
    status, out = run("spectrum", "--checkpoint", tmp / "trained.pt", "--init", tmp / "init.pt",
                      "--module", f"{tmp / 'net.py'}:make", "--data", tmp / "data.npz", "--input-shape", 4,
                      "--k", 5, "--probes", 4, "--lanczos-steps", 20, "--seed", 3, "--out", spec)
    assert status == 0, out
    got = SpectralModel.load(spec)
    # the file holds what the library computes from the same checkpoint
    ref = SpectralModel.from_model(model, trained["theta_star"], trained["theta0"], data.X_train, data.y_train,
                                   k=5, n_probes=4, n_steps=20, seed=3)
    assert got.D == model.n_params == 51
    np.testing.assert_allclose(got.eigenvalues, ref.eigenvalues, rtol=1e-10, atol=1e-14)
    np.testing.assert_array_equal(got.multiplicities, ref.multiplicities)
    assert got.min_loss == pytest.approx(trained["Ls"], rel=1e-12)               # L(theta*) of the checkpoint
    assert got.offset_norm == pytest.approx(np.linalg.norm(trained["theta0"] - trained["theta_star"]), rel=1e-10)

    eps = [trained["Ls"] + f * (trained["L0"] - trained["Ls"]) for f in (0.1, 0.3)]
    status, _ = run("predict", "--spectrum", spec, "--eps", *eps, "--n-samples", 300, "--out", tmp / "pred.csv")
    assert status == 0
    pred = read_csv(tmp / "pred.csv")
    assert [float(r["eps"]) for r in pred] == pytest.approx(eps)
    kin = {round(float(r["eps"]), 12): float(r["kinematic_threshold"]) for r in pred}

    status, out = run("compare", "--spectrum", spec, "--runs", tmp / "runs.csv", "--eps", eps[1],
                      "--n-samples", 300, "--out", tmp / "cmp")
    assert status == 0, out
    assert {"comparison.csv", "comparison.json", "comparison.png"} <= set(os.listdir(tmp / "cmp"))
    row = json.loads((tmp / "cmp" / "comparison.json").read_text())[0]
    # the prediction for eps[1] is the same whether asked alone or beside another level
    assert row["predicted"] == kin[round(eps[1], 12)]
    # the measured d* is the one `thresholds` finds in the same minimal file
    status, _ = run("thresholds", tmp / "runs.csv", "--level", eps[1], "--out", tmp / "thr.json")
    assert status == 0
    thr = json.loads((tmp / "thr.json").read_text())[0]
    assert thr["metric"] == "train_loss"                  # the common default
    assert row["measured"] == thr["d_star"]
    assert 1 <= row["measured"] <= 51 and 0 < row["predicted"] < 51


def test_compare_minimal_file_refuses_a_selection_it_cannot_make(trained, capsys):
    tmp = trained["tmp"]
    SpectralModel([1.0], [51], [2.0]).save(tmp / "flat.npz")
    status = main(["compare", "--spectrum", str(tmp / "flat.npz"), "--runs", str(tmp / "runs.csv"),
                   "--eps", "0.5", "--kind", "lottery"])
    assert status == 2
    assert "no column 'kind'" in capsys.readouterr().err


def test_spectrum_of_a_builtin_well_predicts_as_the_well_does(tmp_path):
    spec = tmp_path / "well.npz"
    assert run("spectrum", "--well", "power", "--dim", 80, "--seed", 4, "--out", spec)[0] == 0
    args = ["--eps", "0.3", "0.6", "--n-samples", 300, "--seed", 4]
    a = run("predict", "--spectrum", spec, *args, "--out", tmp_path / "a.csv")
    b = run("predict", "--well", "power", "--dim", 80, *args, "--out", tmp_path / "b.csv")
    assert a[0] == b[0] == 0
    ra, rb = read_csv(tmp_path / "a.csv"), read_csv(tmp_path / "b.csv")
    assert [r["kinematic_threshold"] for r in ra] == [r["kinematic_threshold"] for r in rb]


def test_same_seed_same_prediction_with_and_without_ds(tmp_path):
    base = ["predict", "--well", "power", "--dim", 120, "--n-samples", 400, "--seed", 0]
    run(*base, "--eps", 0.4, "--out", tmp_path / "alone.csv")
    run(*base, "--eps", 0.2, 0.4, "--ds", 10, 40, 80, "--out", tmp_path / "with_ds.csv")
    alone = read_csv(tmp_path / "alone.csv")[0]
    with_ds = [r for r in read_csv(tmp_path / "with_ds.csv") if float(r["eps"]) == 0.4][0]
    for key in ("kinematic_threshold", "kinematic_stderr", "gordon_threshold", "width"):
        assert alone[key] == with_ds[key], key


def test_version_and_defaults_in_help(capsys):
    assert isinstance(landscape.__version__, str) and landscape.__version__.count(".") >= 1
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and landscape.__version__ in capsys.readouterr().out
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, p in sub.choices.items():
        text = " ".join(p.format_help().split())
        for action in p._actions:
            if action.default is None or action.required or isinstance(action.default, bool) \
                    or not action.option_strings or action.default == "==SUPPRESS==":
                continue
            assert f"(default: {action.default})" in text, (name, action.dest)
    metrics = {sub.choices[c].get_default("metric") for c in ("thresholds", "compare")}
    assert metrics == {"train_loss"}


def test_demo_checks_an_existing_directory_before_any_work(tmp_path, capsys):
    from landscape.experiments.result_store import ResultStore

    ResultStore(tmp_path / "runs", protocol={"model": "another one", "steps": 1})
    status = main(["demo", "--small", "--quiet", "--out", str(tmp_path)])
    assert status == 2
    err = capsys.readouterr().err
    assert "another demo protocol" in err and len(err.strip().splitlines()) == 1
    assert os.listdir(tmp_path) == ["runs"]          # nothing computed, nothing written
    # a directory of the same demo with another seed (its widths stores would clash later)
    other = tmp_path / "other"
    other.mkdir()
    (other / "demo.json").write_text('{"settings": {}, "seed": 7}')
    assert main(["demo", "--small", "--quiet", "--out", str(other)]) == 2
    assert "another demo protocol" in capsys.readouterr().err and os.listdir(other) == ["demo.json"]


def test_deprecated_file_functions_still_work(tmp_path):
    from landscape.cli import load_spectral_model, save_spectral_model

    model = SpectralModel([1.0, 0.1], [2, 3], [1.0, 1.0], min_loss=0.2)
    with pytest.warns(DeprecationWarning, match="SpectralModel.save"):
        save_spectral_model(tmp_path / "m.npz", model)
    with pytest.warns(DeprecationWarning, match="SpectralModel.load"):
        back = load_spectral_model(tmp_path / "m.npz")
    np.testing.assert_array_equal(back.offsets, model.offsets)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert SpectralModel.load(tmp_path / "m.npz").min_loss == 0.2


def test_spectral_model_files(tmp_path):
    model = SpectralModel([3.0, -0.5, 1e-3], [1, 2, 7], [1.0, 0.5, 2.0], min_loss=0.05)
    model.save(tmp_path / "m.npz")
    back = SpectralModel.load(tmp_path / "m.npz")
    for name in ("eigenvalues", "multiplicities", "offsets"):
        np.testing.assert_array_equal(getattr(back, name), getattr(model, name))
    assert (back.min_loss, back.n_clipped, back.most_negative) == (0.05, 2, -0.5)
    np.save(tmp_path / "a.npy", np.ones(3))
    (tmp_path / "empty.npz").write_bytes(b"")
    for bad, message in (("a.npy", "single .npy array"), ("empty.npz", "not an .npz"), ("nope.npz", "no such")):
        with pytest.raises(ValueError, match=message):
            SpectralModel.load(tmp_path / bad)
