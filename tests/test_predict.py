"""landscape.theory.predict and landscape.theory.comparison: predictions from geometry, calibration, comparison tables."""
import numpy as np
import pytest

import geometry as g
from landscape.experiments.run_table import RunTable
from landscape.models.quadratic import QuadraticWell
from landscape.theory.comparison import (
    Comparison,
    calibrated_levels,
    compare,
    prediction_table,
)
from landscape.theory.predict import predicted_success_curve, predicted_threshold
from landscape.theory.spectral_model import SpectralModel


def test_prediction_for_a_cone_with_exact_values_is_exact():
    # circular cone: delta, width and intrinsic volumes all have closed forms
    D, alpha = 200, np.pi / 4
    K = g.CircularCone(D, alpha)
    p = predicted_threshold(K)
    assert p.statistical_dimension.is_exact and p.kinematic == pytest.approx(D / 2, abs=1e-6)
    assert p.kinematic_stderr == 0.0
    # Gordon from the exact width: failure guaranteed for d <= D - k* where a_k* - w first gives 0.9
    w = float(p.width)
    k = np.arange(1, D + 1)
    ok = g.gordon_escape_probability(w, k) >= 0.9
    assert p.gordon == (D - k[ok].min() if ok.any() else 0)
    curve = predicted_success_curve(K, ds=[0, 100, 200])
    expected = g.intrinsic_volumes(K).success_probability(np.array([0, 100, 200]))
    np.testing.assert_allclose(curve.probability, expected, atol=1e-12)
    assert curve.probability[0] == 0.0 and curve.probability[-1] == pytest.approx(1.0)


def test_ball_well_matches_circular_cone():
    # flat well: the sub-level set is a ball, the cone circular with sin(alpha) = r / R
    D, R, eps = 100, 2.0, 0.5
    theta0 = np.zeros(D)
    theta0[3] = R
    well = QuadraticWell(np.ones(D))
    p = predicted_threshold(well, theta0, eps, n_samples=4000, seed=1)
    exact = g.statistical_dimension(g.CircularCone(D, np.arcsin(np.sqrt(2 * eps) / R)))
    assert abs(p.statistical_dimension.value - exact.value) <= 4 * p.statistical_dimension.stderr
    lo, hi = p.ci(0.999)
    assert lo <= D - exact.value <= hi


def test_several_levels_and_reproducibility():
    well = QuadraticWell(np.linspace(1.0, 0.01, 50))
    theta0 = np.full(50, 0.5)
    eps = np.array([0.2, 0.4]) * float(well.loss(theta0))
    a = predicted_threshold(well, theta0, eps, n_samples=300, seed=7)
    b = predicted_threshold(well, theta0, eps, n_samples=300, seed=7)
    assert [x.kinematic for x in a] == [x.kinematic for x in b]
    assert a[1].kinematic < a[0].kinematic
    assert "kinematic" in repr(a[0]) and set(a[0].as_dict()) >= {"delta", "gordon_threshold", "almt_low"}


def test_monte_carlo_delta_above_D_is_clipped_not_an_error():
    # At eps = 0.6 this model's cone is nearly all of R^12: E||Pi_K g||^2 is just below D = 12,
    # and with 64 samples the Monte Carlo mean lands above D for some seeds (seed 14 gives
    # 12.26). The truth lies in [0, D], so the prediction uses the clipped value.
    model = SpectralModel([4.0, 1.0, 0.1], [2, 4, 6], [0.5, 0.5, 1.0])
    over = []
    for seed in range(40):
        (p,) = prediction_table(model, [0.6], n_samples=64, seed=seed).predictions
        assert 0.0 <= p.kinematic <= p.D
        assert p.kinematic_window[0] <= p.kinematic_window[1]
        if p.statistical_dimension.value > p.D:
            over.append(seed)
            assert p.kinematic == 0.0 and p.kinematic_stderr == p.statistical_dimension.stderr > 0
    assert over, "no seed put the Monte Carlo delta above D: the test no longer covers the clipping"


def test_predict_bad_input():
    well = QuadraticWell(np.ones(5))
    theta0 = np.ones(5)
    with pytest.raises(ValueError, match="eps"):
        predicted_threshold(well, theta0, 0.0)
    with pytest.raises(ValueError, match="n_samples"):
        predicted_threshold(well, theta0, 1.0, n_samples=1)
    with pytest.raises(TypeError, match="source"):
        predicted_threshold(object(), theta0, 1.0)
    with pytest.raises(ValueError, match="eps is required"):
        predicted_threshold(well, theta0)
    with pytest.raises(ValueError, match="ds"):
        predicted_success_curve(well, theta0, 1.0, ds=[0, 6])
    with pytest.raises(ValueError, match="confidence"):
        predicted_threshold(well, theta0, 1.0, confidence=1.5)
    with pytest.raises(ValueError, match="theta0 and eps must be None"):
        predicted_threshold(g.Orthant(3), theta0, 1.0)


def test_calibrated_levels_are_the_same_fraction_of_the_loss_drop():
    model = SpectralModel([2.0, 0.5], [3, 7], [1.0, 2.0], min_loss=0.1)
    Lq = model.loss_at_theta0                    # 0.1 + 0.5 (2 * 1 + 0.5 * 4) = 2.1
    assert Lq == pytest.approx(2.1)
    q = calibrated_levels(model, [0.5, 1.1], loss_at_start=4.1)
    # fraction (eps - 0.1) / (4.1 - 0.1) of the model's drop 2.0
    np.testing.assert_allclose(q, [0.1 + 0.4 / 4.0 * 2.0, 0.1 + 1.0 / 4.0 * 2.0])
    with pytest.raises(ValueError, match="eps"):
        calibrated_levels(model, [0.05], 4.1)
    with pytest.raises(ValueError, match="loss_at_start"):
        calibrated_levels(model, [0.5], 0.1)


def _synthetic_runs(D, true_threshold, levels, seeds=6):
    # a run with dimension d reaches loss level L iff d >= true_threshold(L) * (seed jitter)
    recs = []
    for s in range(seeds):
        jitter = 1.0 + 0.05 * (s - seeds / 2) / seeds
        for d in (4, 8, 16, 32, 64, 128, 256):
            # final loss decreasing in d: loss = level at exactly the threshold
            loss = float(np.interp(np.log(d), np.log([true_threshold[L] * jitter for L in levels][::-1]),
                                   levels[::-1]))
            recs.append({"kind": "random", "t": 0, "d": d, "seed": s, "D": D, "train_loss": loss})
    return RunTable(recs)


def test_compare_builds_rows_and_checks_the_model():
    D = 300
    model = SpectralModel([1.0, 1e-2], [20, 280], [2.0, 3.0], min_loss=0.0)
    preds = prediction_table(model, [0.4, 0.8], n_samples=300, seed=0, label="random, t=0")
    assert len(preds) == 2 and preds.kinematic[1] < preds.kinematic[0]
    runs = _synthetic_runs(D, {0.4: 100.0, 0.8: 20.0}, np.array([0.4, 0.8]))
    comp = compare(preds, runs, kind="random", t=0)
    assert len(comp) == 2
    row = comp.rows[0]
    assert row["bracket_low"] <= row["measured"] <= row["bracket_high"]
    assert row["ratio"] == pytest.approx(row["measured"] / row["predicted"])
    # at 0.8 every tested d succeeds: below the tested range, reported as such (no number)
    assert comp.rows[1]["censored"] == "below" and np.isnan(comp.rows[1]["measured"])
    assert comp.rows[1]["measured_low"] == 1.0 and comp.rows[1]["measured_high"] < comp.rows[0]["measured"]
    assert comp.rows[1]["measured_summary"].startswith("< 4 [1, ")
    assert "measured/predicted" in comp.to_markdown()
    ax = comp.plot()
    assert ax.get_xlabel().startswith("measured")
    both = Comparison.concat([comp, comp])
    assert len(both) == 4
    # runs from another model are refused
    other = _synthetic_runs(D + 1, {0.4: 100.0, 0.8: 20.0}, np.array([0.4, 0.8]))
    with pytest.raises(ValueError, match="another model"):
        compare(preds, other)
    with pytest.raises(ValueError, match="levels"):
        compare(preds, runs, levels=[0.4])
    with pytest.raises(TypeError, match="PredictionTable"):
        compare([1, 2], runs)


def test_comparison_writes_csv_and_json(tmp_path):
    model = SpectralModel([1.0], [50], [3.0])
    preds = prediction_table(model, [1.0], n_samples=200, seed=0)
    runs = RunTable([{"d": d, "seed": s, "D": 50, "train_loss": 2.0 - d / 50} for d in (5, 10, 20, 40) for s in range(3)])
    comp = compare(preds, runs)
    comp.to_csv(tmp_path / "c.csv")
    comp.to_json(tmp_path / "c.json")
    import csv
    import json

    rows = list(csv.DictReader(open(tmp_path / "c.csv")))
    assert float(rows[0]["predicted"]) == pytest.approx(comp.rows[0]["predicted"])
    assert json.load(open(tmp_path / "c.json"))[0]["eps"] == 1.0
