"""The command line: the demo at a reduced size, predict / thresholds / compare, and user errors."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from landscape.cli import main
from landscape.experiments.run_table import RunTable
from landscape.theory.spectral_model import SpectralModel

pytest.importorskip("sklearn")


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "landscape", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


def test_demo_small_writes_every_file(tmp_path):
    out = tmp_path / "demo"
    res = _cli("demo", "--out", str(out), "--small", "--quiet", "--workers", "2")
    assert res.returncode == 0, res.stderr
    expected = {
        "report.md", "quadratic_success_curves.png", "quadratic_threshold_vs_eps.png",
        "quadratic_thresholds.csv", "quadratic_thresholds.json", "network_success_curves.png",
        "network_predicted_vs_measured.png", "network_hessian_spectrum.png", "network_comparison.csv",
        "network_comparison.json", "network_predictions.json", "network_runs.csv",
        "methods_comparison.png", "methods_thresholds.csv",
        "effective_dimensions.png", "effective_dimensions.csv", "effective_dimensions.json",
        "learning_coefficients.json",
    }
    files = set(os.listdir(out))
    assert expected <= files
    for name in expected:
        assert (out / name).stat().st_size > 0, name
        if name.endswith(".png"):
            assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.md").read_text()
    for name in expected - {"report.md"}:
        if name.endswith(".png"):
            assert f"({name})" in report, name
    quad = json.loads((out / "quadratic_thresholds.json").read_text())
    D = quad["rows"][0]["D"]
    for row in quad["rows"]:   # the demo's own well: prediction and exact measurement agree
        assert abs(row["measured"] - row["predicted"]) <= np.sqrt(D)
    comp = json.loads((out / "network_comparison.json").read_text())
    assert len(comp) >= 2 and all(r["predicted"] is not None for r in comp)
    # the direct prediction D - w^2 of the real sub-level set, beside the quadratic model's
    direct = [r for r in comp if r["direct"] is not None]
    assert direct and all(0 < r["direct"] < D_net and r["direct_ratio"] > 0 for r in direct
                          for D_net in [r["D"]])
    assert "direct D - w^2" in report and "measured d* / (D - w^2)" in report
    runs = RunTable.from_csv(out / "network_runs.csv")
    assert len(runs) > 0 and set(runs.unique("kind")) >= {"random", "full"}
    # the five effective dimensions: one row per level, the LLC the same in every row
    dims = json.loads((out / "effective_dimensions.json").read_text())
    assert len(dims) == len({r["eps"] for r in comp})
    assert len({r["two_llc"] for r in dims}) == 1 and all(0 < r["two_llc"] < r["D"] for r in dims)
    assert all(r["D_minus_w2"] is not None for r in dims)
    assert "Five answers" in report and "2 lambda" in report


def test_predict_on_a_builtin_well(tmp_path):
    out = tmp_path / "pred.csv"
    res = _cli("predict", "--well", "flat", "--dim", "60", "--eps", "1.0", "2.0", "--n-samples", "300",
               "--ds", "10", "30", "50", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert "D-delta" in res.stdout and "P_s(d)" in res.stdout
    assert out.read_text().count("\n") == 3


def test_spectral_model_file_roundtrip_and_compare(tmp_path):
    model = SpectralModel([1.0, 0.01], [10, 90], [2.0, 3.0], min_loss=0.05)
    path = tmp_path / "spec.npz"
    model.save(path)
    back = SpectralModel.load(path)
    np.testing.assert_array_equal(back.eigenvalues, model.eigenvalues)
    assert back.min_loss == model.min_loss and back.D == 100
    recs = [{"kind": "random", "t": 0, "d": d, "seed": s, "D": 100, "train_loss": 2.0 / d}
            for d in (2, 4, 8, 16, 32, 64) for s in range(3)]
    RunTable(recs).to_csv(tmp_path / "runs.csv")
    assert main(["compare", "--spectrum", str(path), "--runs", str(tmp_path / "runs.csv"), "--eps", "0.2",
                 "--n-samples", "200", "--out", str(tmp_path / "cmp")]) == 0
    assert {"comparison.csv", "comparison.json", "comparison.png"} <= set(os.listdir(tmp_path / "cmp"))
    assert main(["thresholds", str(tmp_path / "runs.csv"), "--metric", "train_loss", "--level", "0.2",
                 "--out", str(tmp_path / "thr.json")]) == 0
    rows = json.loads((tmp_path / "thr.json").read_text())
    assert rows[0]["ci_low"] <= rows[0]["d_star"] <= rows[0]["ci_high"]
    assert 8 <= rows[0]["d_star"] <= 16     # loss 2/d <= 0.2 from d = 10 on


@pytest.mark.parametrize("args, message", [
    (["thresholds", "/nonexistent/results.csv", "--level", "0.5"], "no such file"),
    (["compare", "--spectrum", "/nonexistent.npz", "--runs", ".", "--eps", "1"], "no such file"),
    (["predict", "--well", "flat", "--dim", "10", "--eps", "-1"], "eps"),
])
def test_user_errors_are_one_line_and_nonzero(args, message):
    res = _cli(*args)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0].lower()


def test_results_from_another_model_are_refused(tmp_path):
    SpectralModel([1.0], [50], [3.0]).save(tmp_path / "spec.npz")
    RunTable([{"kind": "random", "t": 0, "d": d, "seed": 0, "D": 51, "train_loss": 1.0 / d}
              for d in (1, 2, 4)]).to_csv(tmp_path / "runs.csv")
    res = _cli("compare", "--spectrum", str(tmp_path / "spec.npz"), "--runs", str(tmp_path / "runs.csv"),
               "--eps", "0.5")
    assert res.returncode == 2 and "another model" in res.stderr and "Traceback" not in res.stderr


def test_malformed_spectrum_file(tmp_path):
    np.savez(tmp_path / "bad.npz", eigenvalues=np.ones(3))
    res = _cli("predict", "--spectrum", str(tmp_path / "bad.npz"), "--eps", "1")
    assert res.returncode == 2 and "offsets" in res.stderr
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    res = _cli("predict", "--spectrum", str(tmp_path / "junk.npz"), "--eps", "1")
    assert res.returncode == 2 and res.stderr.startswith("error:")


def test_help_lists_every_command():
    res = _cli("--help")
    assert res.returncode == 0
    for cmd in ("demo", "predict", "thresholds", "compare"):
        assert cmd in res.stdout
