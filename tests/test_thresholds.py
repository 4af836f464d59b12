"""landscape.thresholds: success probabilities and threshold dimensions with bootstrap intervals."""
import numpy as np
import pytest

from landscape.experiments.run_table import RunTable
from landscape.thresholds.measured import (
    _firth_logistic,
    _interpolate,
    success_matrix,
    success_probability,
    threshold_dimension,
)

DS = 2 ** np.arange(1, 11)


def synthetic_table(rng, ds, n_seeds, d_star, width, *, latent=True):
    r"""Runs whose success probability is exactly :math:`\sigma((\log d - \log d^*)/w)`.

    ``latent=True``: each seed has its own threshold (success iff its uniform u < P(d), so a
    seed that succeeds at d succeeds at every larger d, like runs sharing theta0);
    ``latent=False``: independent Bernoulli draws.
    """
    u = rng.random(n_seeds)
    recs = []
    for s in range(n_seeds):
        for d in ds:
            P = 1 / (1 + np.exp(-(np.log(d) - np.log(d_star)) / width))
            x = u[s] if latent else rng.random()
            recs.append({"kind": "random", "t": 0, "d": int(d), "seed": s, "train_acc": 0.99 if x < P else 0.1})
    return RunTable(recs)


def hand_table():
    # success iff d >= 2^(3 + s % 3): thresholds 8, 16, 32 for three seeds each
    return RunTable([{"kind": "random", "d": d, "seed": s, "train_acc": float(d >= 2 ** (3 + s % 3)),
                      "train_loss": 1.0 - float(d >= 2 ** (3 + s % 3))}
                     for d in (2, 4, 8, 16, 32, 64) for s in range(9)])


# ---------------------------------------------------------------------- success probability
def test_success_counts_and_directions():
    table = hand_table()
    curve = success_probability(table, "train_acc", 0.5)
    np.testing.assert_array_equal(curve.ds, [2, 4, 8, 16, 32, 64])
    np.testing.assert_array_equal(curve.successes, [0, 0, 3, 6, 9, 9])
    np.testing.assert_array_equal(curve.n_trials, [9] * 6)
    assert curve.direction == "max"
    loss = success_probability(table, "train_loss", 0.5)
    assert loss.direction == "min" and loss.successes.tolist() == curve.successes.tolist()
    # the level itself counts as success (>= and <=)
    assert success_probability(table, "train_acc", 1.0).successes.tolist() == [0, 0, 3, 6, 9, 9]
    assert success_probability(table, "train_acc", 1.0, direction="min").successes.tolist() == [9] * 6
    assert "8: 3/9" in repr(curve)


def test_nan_is_a_failure_and_selection_by_column():
    table = RunTable([{"kind": "random", "t": 0, "d": 4, "seed": 0, "train_loss": np.nan, "status": "diverged"},
                      {"kind": "random", "t": 0, "d": 4, "seed": 1, "train_loss": 0.01, "status": "ok"},
                      {"kind": "random", "t": 5, "d": 4, "seed": 0, "train_loss": 0.01, "status": "ok"}])
    with pytest.raises(ValueError, match="mixes several experiments"):
        success_probability(table, "train_loss", 0.1)
    curve = success_probability(table, "train_loss", 0.1, t=0)
    assert curve.successes.tolist() == [1] and curve.n_trials.tolist() == [2]
    assert success_probability(table, "train_loss", 0.1, direction="max", t=0).successes.tolist() == [0]


def test_wilson_interval_closed_form():
    table = RunTable([{"d": 1, "seed": s, "train_acc": 0.0} for s in range(10)])
    lo, hi = success_probability(table, "train_acc", 0.5).ci(0.95)[0]
    z = 1.959963984540054
    assert lo == pytest.approx(0.0, abs=1e-15) and hi == pytest.approx(z * z / (10 + z * z), rel=1e-12)


def test_bad_input():
    table = hand_table()
    with pytest.raises(ValueError, match="no column 'test_acc'"):
        success_probability(table, "test_acc", 0.5)
    with pytest.raises(ValueError, match="direction"):
        success_probability(table.with_column("score", [0.0] * len(table)), "score", 0.5)
    with pytest.raises(ValueError, match="direction must be"):
        success_probability(table, "train_acc", 0.5, direction="up")
    with pytest.raises(ValueError, match="level must be a finite number"):
        success_probability(table, "train_acc", float("nan"))
    with pytest.raises(ValueError, match="no runs"):
        success_probability(table, "train_acc", 0.5, kind="lottery")
    with pytest.raises(TypeError, match="RunTable"):
        success_probability([{"d": 1}], "train_acc", 0.5)
    with pytest.raises(ValueError, match="p must lie"):
        threshold_dimension(table, "train_acc", 0.5, p=1.0)
    with pytest.raises(ValueError, match="method"):
        threshold_dimension(table, "train_acc", 0.5, method="spline")
    with pytest.raises(ValueError, match="n_bootstrap"):
        threshold_dimension(table, "train_acc", 0.5, n_bootstrap=-1)
    doubled = RunTable.concat([table, table])
    with pytest.raises(ValueError, match="several runs with seed=0 and d=2"):
        threshold_dimension(doubled, "train_acc", 0.5)
    with pytest.raises(ValueError, match="seed"):
        threshold_dimension(table.drop("seed"), "train_acc", 0.5)


# ---------------------------------------------------------------------- thresholds
def test_interpolation_exact_and_censored():
    table = hand_table()
    est = threshold_dimension(table, "train_acc", 0.5, seed=0)
    # P(8) = 1/3, P(16) = 2/3: halfway in log d between 8 and 16
    assert est.value == pytest.approx(8 * np.sqrt(2), rel=1e-12)
    assert est.bracket == (8.0, 16.0) and est.censored is None and est.n_seeds == 9
    assert est.ci[0] <= est.value <= est.ci[1] and 4 <= est.ci[0] and est.ci[1] <= 32
    # p = 0.9: P(16) = 2/3 < 0.9 <= P(32) = 1
    assert threshold_dimension(table, "train_acc", 0.5, p=0.9, seed=0).value == pytest.approx(
        16 * 2 ** ((0.9 - 2 / 3) / (1 / 3)), rel=1e-12)
    below = threshold_dimension(table, "train_acc", 0.5, p=0.2, n_bootstrap=0, d=[8, 16, 32])
    assert below.value == 0 and below.censored == "below" and np.isnan(below.ci[0])
    above = threshold_dimension(table, "train_acc", 0.5, d=[2, 4])
    assert above.value == np.inf and above.censored == "above" and above.bracket == (4.0, np.inf)


def test_interpolation_takes_the_first_crossing_and_skips_missing_points():
    logd = np.log(np.array([1.0, 2, 4, 8]))
    k = np.array([[0, 3, 1, 4], [0, 0, 0, 4], [4, 4, 4, 4], [0, 0, 0, 0], [0, 0, 0, 4]], float)
    n = np.array([[4, 4, 4, 4], [4, 4, 4, 4], [4, 4, 4, 4], [4, 4, 4, 4], [4, 0, 0, 4]], float)
    out = np.exp(_interpolate(k, n, logd, 0.5))
    assert out[0] == pytest.approx(2 ** (2 / 3), rel=1e-12)  # P: 0, .75 -> first crossing in (1, 2)
    assert out[1] == pytest.approx(4 * np.sqrt(2), rel=1e-12)
    assert out[2] == 0 and out[3] == np.inf
    assert out[4] == pytest.approx(8 ** 0.5, rel=1e-12)  # unobserved 2 and 4 are skipped


def test_firth_logistic_matches_a_direct_optimisation():
    """Independent reference: maximise the Firth-penalised log-likelihood with scipy."""
    from scipy.optimize import minimize

    x = np.linspace(-1.5, 1.5, 7)
    n = np.full(7, 5.0)
    for k in (np.array([0, 0, 1, 2, 4, 5, 5.0]), np.array([0, 0, 0, 5, 5, 5, 5.0])):  # the 2nd is separated
        def neg_penalised(ab):
            eta = ab[0] + ab[1] * x
            p = 1 / (1 + np.exp(-eta))
            ll = np.sum(k * eta - n * np.logaddexp(0, eta))
            w = n * p * (1 - p)
            info = np.array([[w.sum(), (w * x).sum()], [(w * x).sum(), (w * x * x).sum()]])
            return -(ll + 0.5 * np.log(np.linalg.det(info)))

        ref = minimize(neg_penalised, [0.0, 1.0], method="Nelder-Mead",
                       options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 20000}).x
        a, b = _firth_logistic(k[None], n[None], x)
        np.testing.assert_allclose([a[0], b[0]], ref, atol=1e-6)
        assert np.isfinite(b[0]) and b[0] > 0


def test_logistic_recovers_a_known_curve_from_exact_counts():
    logd = np.log(DS.astype(float))
    a_true, b_true = -6.0, 1.5  # d* = exp(4) at p = 1/2
    n = np.full((1, DS.size), 1e6)
    k = n / (1 + np.exp(-(a_true + b_true * logd)))
    x = (logd - logd.mean()) / logd.std()
    a, b = _firth_logistic(k, n, x)
    assert b[0] / logd.std() == pytest.approx(b_true, rel=1e-4)
    est_log_dstar = logd.mean() + logd.std() * (0 - a[0]) / b[0]
    assert np.exp(est_log_dstar) == pytest.approx(np.exp(4.0), rel=1e-4)


def test_logistic_threshold_on_a_table():
    est = threshold_dimension(hand_table(), "train_acc", 0.5, method="logistic", seed=0)
    assert 8 < est.value < 16 * 1.5 and est.ci[0] <= est.value <= est.ci[1]
    a, b = est.params["a"], est.params["b"]
    assert np.exp(-a / b) == pytest.approx(est.value, rel=1e-9) and b > 0


def test_bootstrap_is_reproducible():
    table = synthetic_table(np.random.default_rng(1000), DS, 12, 50.0, 0.7)
    a = threshold_dimension(table, "train_acc", 0.5, seed=3, n_bootstrap=300)
    b = threshold_dimension(table, "train_acc", 0.5, seed=3, n_bootstrap=300)
    c = threshold_dimension(table, "train_acc", 0.5, seed=4, n_bootstrap=300)
    assert a.ci == b.ci and np.array_equal(a.bootstrap, b.bootstrap)
    assert not np.array_equal(a.bootstrap, c.bootstrap)


@pytest.mark.parametrize("method", ["interpolate", "logistic"])
@pytest.mark.parametrize("latent", [True, False])
def test_confidence_intervals_cover_the_true_threshold_at_the_stated_rate(method, latent):
    """400 synthetic sweeps (20 seeds, d = 2..1024) with a known logistic transition at d* = 50.

    The logistic fit estimates d* itself; the interpolation estimates the crossing of the
    piecewise-linear interpolation of the true curve (its own estimand on a grid of
    powers of two). The nominal 90% intervals must cover the target in 90% of the sweeps
    within Monte Carlo error (binomial standard error 0.015 for 400 sweeps; band +-3 SE).
    """
    d_star, width, n_tables, confidence = 50.0, 0.7, 400, 0.9
    if method == "logistic":
        target = d_star
    else:
        P = 1 / (1 + np.exp(-(np.log(DS) - np.log(d_star)) / width))
        target = float(np.exp(_interpolate(P[None], np.ones((1, DS.size)), np.log(DS.astype(float)), 0.5)[0]))
    rng = np.random.default_rng(1000 + latent)
    hits = 0
    for i in range(n_tables):
        table = synthetic_table(rng, DS, 20, d_star, width, latent=latent)
        est = threshold_dimension(table, "train_acc", 0.5, method=method, n_bootstrap=200,
                                  confidence=confidence, seed=i)
        hits += est.ci[0] <= target <= est.ci[1]
    coverage = hits / n_tables
    print(f"coverage {method} latent={latent}: {coverage:.3f}")
    se = np.sqrt(confidence * (1 - confidence) / n_tables)
    assert abs(coverage - confidence) <= 3 * se, coverage


def test_success_matrix_marks_missing_runs():
    table = hand_table()
    table = table.where(~((table["d"] == 4) & (table["seed"] == 0)))
    ds, seeds, S, M = success_matrix(table, "train_acc", 0.5)
    assert M.sum() == len(table) == 53 and M[0, 1] == 0 and S[0, 1] == 0
