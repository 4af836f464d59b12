"""landscape.thresholds: success probabilities and threshold dimensions with intervals that cover."""
import warnings

import numpy as np
import pytest
from scipy import stats
from scipy.special import expit

from landscape.experiments.run_table import RunTable
from landscape.thresholds import _crossing
from landscape.thresholds._firth import firth_logistic
from landscape.thresholds.measured import (
    _seed_bounds,
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
    with pytest.warns(RuntimeWarning, match="1 run\\(s\\) have a NaN train_loss.*counted as failures"):
        curve = success_probability(table, "train_loss", 0.1, t=0)
    assert curve.successes.tolist() == [1] and curve.n_trials.tolist() == [2]
    with pytest.warns(RuntimeWarning, match="NaN"):
        assert success_probability(table, "train_loss", 0.1, direction="max", t=0).successes.tolist() == [0]


def test_wilson_interval_closed_form():
    table = RunTable([{"d": 1, "seed": s, "train_acc": 0.0} for s in range(10)])
    lo, hi = success_probability(table, "train_acc", 0.5).ci(0.95)[0]
    z = 1.959963984540054
    assert lo == pytest.approx(0.0, abs=1e-15) and hi == pytest.approx(z * z / (10 + z * z), rel=1e-12)


# ---------------------------------------------------------------------- kernels against references
def test_likelihoods_match_direct_formulas():
    logd = np.log([2.0, 4, 8, 16])
    u = np.array([0.5, 1.7, 2.9])
    b = np.array([0.7, 3.0, 11.0])
    k, n = np.array([0, 1, 3, 4]), np.array([4, 4, 4, 4])
    ll = _crossing.loglik_independent(u, b, logd, k, n, np.log(0.3 / 0.7))
    for i, bi in enumerate(b):
        for j, uj in enumerate(u):
            P = expit(bi * (logd - uj) + np.log(0.3 / 0.7))
            # the binomial coefficient is a constant: compare up to it
            ref = np.sum(stats.binom.logpmf(k, n, P)) - np.sum(np.log([stats.binom.pmf(kk, 4, 0.5) * 16 for kk in k]))
            assert ll[i, j] == pytest.approx(ref, rel=1e-10, abs=1e-10)
    lower = [-np.inf, logd[1], logd[2], logd[3]]
    upper = [logd[0], logd[3], np.inf, np.inf]
    w = [1, 2, 1, 3]
    ll = _crossing.loglik_censored(u, b, lower, upper, w, 0.0)
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50  # the reference in high precision: F(hi) - F(lo) cancels in floating point

    def F(x, bi, uj):
        return 0 if x == -np.inf else (1 if x == np.inf else 1 / (1 + mpmath.exp(-mpmath.mpf(bi) * (x - uj))))

    for i, bi in enumerate(b):
        for j, uj in enumerate(u):
            ref = sum(ww * mpmath.log(F(hi, bi, uj) - F(lo, bi, uj)) for lo, hi, ww in zip(lower, upper, w))
            assert ll[i, j] == pytest.approx(float(ref), rel=1e-10)


def test_credible_set_against_a_fine_riemann_sum():
    """The marginal quantiles of the (u, b) grid against an independent dense integration."""
    logd = np.log(2.0 ** np.arange(1, 7))
    k, n = np.array([0, 0, 1, 2, 3, 3]), np.full(6, 3)
    u = _crossing.crossing_grid(logd)
    b = _crossing.slope_grid(logd)
    lo, hi, med = _crossing.credible_set(_crossing.loglik_independent(u, b, logd, k, n, 0.0), u, 0.9, plausible=2.0)
    # plausible > 1 keeps no slope: the marginal interval alone
    uu = np.linspace(u[0], u[-1], 20001)
    L = np.exp(_crossing.loglik_independent(uu, b, logd, k, n, 0.0)).sum(0)
    cdf = np.cumsum(L) / L.sum()
    assert lo == pytest.approx(uu[np.searchsorted(cdf, 0.05)], abs=0.01)
    assert hi == pytest.approx(uu[np.searchsorted(cdf, 0.95)], abs=0.01)
    assert med == pytest.approx(uu[np.searchsorted(cdf, 0.5)], abs=0.01)
    lo2, hi2, _ = _crossing.credible_set(_crossing.loglik_independent(u, b, logd, k, n, 0.0), u, 0.9)
    assert lo2 <= lo and hi2 >= hi  # plausible slopes only widen it


def test_isotonic_and_crossing_and_bracket():
    np.testing.assert_allclose(_crossing.isotonic([0, 0.6, 0.4, 1], [4, 4, 4, 4]), [0, 0.5, 0.5, 1])
    np.testing.assert_allclose(_crossing.isotonic([0.6, 0.4], [1, 3]), [0.45, 0.45])
    logd = np.log([1.0, 2, 4, 8])
    assert np.exp(_crossing.first_crossing(logd, np.array([0, 0.75, 0.5, 1]), 0.5)) == pytest.approx(2 ** (2 / 3))
    assert _crossing.first_crossing(logd, np.array([0.5, 1, 1, 1]), 0.5) == -np.inf
    assert _crossing.first_crossing(logd, np.zeros(4), 0.5) == np.inf
    ds = np.array([1.0, 2, 4, 8])
    assert _crossing.hull_bracket(ds, np.array([0, 0, 1, 1]), 0.5) == (2.0, 4.0)
    assert _crossing.hull_bracket(ds, np.array([0, 0.6, 0.4, 1]), 0.5) == (1.0, 8.0)  # spans every crossing
    assert _crossing.hull_bracket(ds, np.array([0.6, 0.4, 1, 1]), 0.5) == (0.0, 4.0)
    assert _crossing.hull_bracket(ds, np.zeros(4), 0.5) == (8.0, np.inf)
    assert _crossing.hull_bracket(ds, np.ones(4), 0.5) == (0.0, 1.0)


def test_seed_bounds_by_hand():
    logd = np.log([2.0, 4, 8, 16])
    S = np.array([[0, 0, 1, 1], [0, 1, 0, 1], [0, 0, 0, 0], [1, 1, 1, 1], [0, 0, 1, 0]], float)
    M = np.ones_like(S)
    M[0, 1] = 0  # seed 0 not run at d = 4: its threshold is in (2, 8]
    lower, upper, nonmono = _seed_bounds(logd, S * M, M)
    assert nonmono == 2
    np.testing.assert_allclose(np.exp(lower), [2, 2, 16, 0, 4])
    np.testing.assert_allclose(np.exp(upper), [8, 16, np.inf, 2, np.inf])


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
        a, b = firth_logistic(k[None], n[None], x)
        np.testing.assert_allclose([a[0], b[0]], ref, atol=1e-6)
        assert np.isfinite(b[0]) and b[0] > 0


# ---------------------------------------------------------------------- Larsen's d*
def test_hand_worked_threshold_and_its_interval():
    table = hand_table()
    est = threshold_dimension(table, "train_acc", 0.5)
    # P(8) = 1/3, P(16) = 2/3: halfway in log d between 8 and 16
    assert est.value == pytest.approx(8 * np.sqrt(2), rel=1e-12)
    assert est.bracket == (8.0, 16.0) and est.censored is None and est.resolved and est.n_seeds == 9
    assert est.design == "nested" and est.criterion == "larsen"
    assert est.low <= 8 and est.high >= 16 and est.ci == est.interval
    assert 4 <= est.low and est.high <= 32  # the seeds' thresholds are 8, 16, 32
    assert str(est).startswith("d* = 11.31, 95% interval [")
    # p = 0.9: P(16) = 2/3 < 0.9 <= P(32) = 1
    assert threshold_dimension(table, "train_acc", 0.5, p=0.9).value == pytest.approx(
        16 * 2 ** ((0.9 - 2 / 3) / (1 / 3)), rel=1e-12)
    # the loss column gives the same answer
    loss = threshold_dimension(table, "train_loss", 0.5)
    assert loss.value == est.value and loss.interval == est.interval


def test_point_methods():
    table = hand_table()
    a = threshold_dimension(table, "train_acc", 0.5, method="logistic")
    assert 8 < a.value < 16 and a.low <= a.value <= a.high
    pa, pb = a.params["a"], a.params["b"]
    assert np.exp(-pa / pb) == pytest.approx(a.value, rel=1e-9) and pb > 0
    b = threshold_dimension(table, "train_acc", 0.5, method="posterior")
    assert b.value == pytest.approx(b.params["posterior_median"]) and b.low <= b.value <= b.high
    assert a.interval == b.interval  # the interval does not depend on the point


def test_nothing_tested_inside_the_transition_gives_the_bracket():
    # acceptance: 0/2 successes at d = 128 and 2/2 at d = 512 -> the interval contains [128, 512]
    for ds in ([128, 512], [16, 32, 64, 128, 512, 1024]):
        table = RunTable([{"d": d, "seed": s, "train_acc": float(d >= 512)} for d in ds for s in range(2)])
        for design in ("nested", "independent"):
            est = threshold_dimension(table, "train_acc", 0.5, design=design)
            assert est.low <= 128 and est.high >= 512, (ds, design, est)
            assert est.bracket == (128.0, 512.0) and not est.resolved and est.censored is None
            assert "between 128 and 512" in str(est)
    # many seeds, a sharp step: exactly the bracket
    table = RunTable([{"d": d, "seed": s, "train_acc": float(d >= 512)} for d in 2 ** np.arange(4, 11)
                      for s in range(20)])
    assert threshold_dimension(table, "train_acc", 0.5).interval == (256.0, 512.0)


def test_thresholds_outside_the_tested_range_are_reported_as_such():
    ok = RunTable([{"d": d, "seed": s, "train_acc": 1.0} for d in (2, 4, 8) for s in range(20)])
    est = threshold_dimension(ok, "train_acc", 0.5)
    assert est.censored == "below" and np.isnan(est.value) and not est.resolved
    assert est.interval == (1.0, 2.0) and est.bracket == (1.0, 2.0)
    assert str(est) == "d* < 2 (below the tested range), 95% interval [1, 2]"
    assert est.summary() == "< 2 [1, 2]"
    d = est.as_dict()
    assert d["censored"] == "below" and d["low"] == 1.0 and d["high"] == 2.0 and np.isnan(d["value"])
    bad = RunTable([{"d": d, "seed": s, "train_acc": 0.0} for d in (2, 4, 8) for s in range(20)])
    est = threshold_dimension(bad, "train_acc", 0.5)
    assert est.censored == "above" and np.isnan(est.value)
    assert est.interval == (8.0, np.inf) and est.bracket == (8.0, np.inf)
    assert str(est).startswith("d* > 8 (above the tested range), 95% interval [8, inf]")
    # with d = 1 tested the lower limit is 0
    one = RunTable([{"d": d, "seed": s, "train_acc": 1.0} for d in (1, 2) for s in range(20)])
    assert threshold_dimension(one, "train_acc", 0.5).interval == (0.0, 1.0)
    # few seeds: the interval also reaches into the range, never a point
    few = RunTable([{"d": d, "seed": s, "train_acc": 1.0} for d in (2, 4, 8) for s in range(2)])
    est = threshold_dimension(few, "train_acc", 0.5)
    assert est.low == 1.0 and est.high > 2.0 and est.censored == "below"


def test_non_monotone_seeds_are_detected_and_widen_the_interval():
    # seed 1 succeeds at 8, fails at 16, succeeds at 32
    recs = [{"d": d, "seed": s, "train_acc": float(d >= 16)} for d in (2, 4, 8, 16, 32, 64) for s in range(6)]
    clean = threshold_dimension(RunTable(recs), "train_acc", 0.5)
    for r in recs:
        if r["seed"] == 1 and r["d"] in (8, 16):
            r["train_acc"] = float(r["d"] == 8)
    with pytest.warns(RuntimeWarning, match="1 of 6 seeds are not monotone"):
        noisy = threshold_dimension(RunTable(recs), "train_acc", 0.5)
    assert noisy.params["non_monotone_seeds"] == 1
    assert noisy.low <= clean.low and noisy.high >= clean.high
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        threshold_dimension(RunTable(recs), "train_acc", 0.5, design="independent")


def test_nan_metrics_are_failures_with_a_warning():
    recs = [{"d": d, "seed": s, "train_loss": 0.0 if d >= 8 else 1.0} for d in (2, 4, 8, 16) for s in range(4)]
    recs[-1]["train_loss"] = float("nan")
    recs[-2]["train_loss"] = float("nan")
    with pytest.warns(RuntimeWarning, match="2 run\\(s\\) have a NaN train_loss"):
        est = threshold_dimension(RunTable(recs), "train_loss", 0.5, design="independent")
    assert est.params["nan_runs"] == 2
    assert est.curve.successes.tolist() == [0, 0, 4, 2]


def test_design_auto_and_independent_runs_without_seeds():
    table = hand_table()
    assert threshold_dimension(table.drop("seed"), "train_acc", 0.5).design == "independent"
    with pytest.raises(ValueError, match="'seed' column"):
        threshold_dimension(table.drop("seed"), "train_acc", 0.5, design="nested")
    doubled = RunTable.concat([table, table])
    with pytest.raises(ValueError, match="several runs with seed=0 and d=2"):
        threshold_dimension(doubled, "train_acc", 0.5)
    # independent runs may repeat a (seed, d)
    est = threshold_dimension(doubled, "train_acc", 0.5, design="independent")
    assert est.n_runs == 2 * len(table) and est.value == pytest.approx(8 * np.sqrt(2))


def _table(S, ds):
    """Runs from a success matrix S (seeds x ds)."""
    n = S.shape[0]
    return RunTable.from_columns({"d": np.tile(ds, n), "seed": np.repeat(np.arange(n), ds.size),
                                  "train_acc": S.ravel().astype(float)})


def _synthetic(rng, n, b, c, nested, ds=2 ** np.arange(1, 11)):
    logd = np.log(ds)
    if nested:
        S = (np.log(c) + rng.logistic(size=n) / b)[:, None] <= logd[None, :]
    else:
        S = rng.random((n, ds.size)) < expit(b * (logd - np.log(c)))
    return S


@pytest.mark.parametrize("nested, n, b, design", [(True, 5, 2, "auto"), (True, 3, 4, "auto"),
                                                  (False, 3, 4, "independent"), (False, 2, 2, "independent")])
def test_coverage_in_small_cells(nested, n, b, design):
    """The 95% interval covers a known crossing between two grid points (45.25 on 2..1024) in at
    least 0.95 - 3 standard errors of 300 synthetic sweeps (the full table: benchmarks/)."""
    ds = 2 ** np.arange(1, 11)
    c, reps = 64 / np.sqrt(2), 300
    rng = np.random.default_rng(1100 + 10 * n + b + nested)
    cache, hits, widths = {}, 0, []
    for _ in range(reps):
        S = _synthetic(rng, n, b, c, nested)
        key = b"".join(sorted(r.tobytes() for r in S))  # the estimate depends on the multiset of seeds
        if key not in cache:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                cache[key] = threshold_dimension(_table(S, ds), "train_acc", 0.5, design=design).interval
        lo, hi = cache[key]
        hits += lo <= c <= hi
        widths.append(hi / lo)
    coverage = hits / reps
    assert coverage >= 0.95 - 3 * np.sqrt(0.95 * 0.05 / reps), coverage
    assert np.median(widths) < 30  # not the whole range


def test_the_nested_likelihood_is_needed_for_nested_runs():
    """Nested runs analysed as independent undercover (why design='nested' is the default)."""
    ds = 2 ** np.arange(1, 11)
    c, n, b, reps = 64 / np.sqrt(2), 5, 2, 300
    rng = np.random.default_rng(1200)
    hits = {"nested": 0, "independent": 0}
    cache = {}
    for _ in range(reps):
        S = _synthetic(rng, n, b, c, True)
        key = b"".join(sorted(r.tobytes() for r in S))
        if key not in cache:
            cache[key] = {design: threshold_dimension(_table(S, ds), "train_acc", 0.5, design=design).interval
                          for design in hits}
        for design, iv in cache[key].items():
            hits[design] += iv[0] <= c <= iv[1]
    se = np.sqrt(0.95 * 0.05 / reps)
    assert hits["nested"] / reps >= 0.95 - 3 * se
    assert hits["independent"] / reps < 0.95 - 3 * se


# ---------------------------------------------------------------------- Li et al.'s d_int90
def li_table(seeds=3, sd=0.01, full=True):
    """Mean test accuracy 0.5, 0.8, 0.9, 0.93 at d = 100, 200, 400, 800, seeds spread symmetrically."""
    offsets = np.linspace(-sd, sd, seeds)
    recs = [{"kind": "random", "d": d, "seed": s, "test_acc": a + offsets[s]}
            for d, a in [(100, 0.5), (200, 0.8), (400, 0.9), (800, 0.93)] for s in range(seeds)]
    if full:
        recs += [{"kind": "full", "d": 5000, "seed": s, "test_acc": 0.95 + offsets[s]} for s in range(seeds)]
    return RunTable(recs)


def test_d_int90_by_hand():
    # target 0.9 x 0.95 = 0.855, between the means 0.8 (d = 200) and 0.9 (d = 400)
    est = threshold_dimension(li_table(), "test_acc", 0.9, criterion="li")
    assert est.criterion == "li" and est.baseline == pytest.approx(0.95)
    assert est.value == pytest.approx(200 * 2 ** ((0.855 - 0.8) / (0.9 - 0.8)), rel=1e-12)
    assert est.bracket == (200.0, 400.0) and est.interval == (200.0, 400.0) and est.resolved
    assert est.curve.target == pytest.approx(0.855)
    # the same with the baseline given, and through intrinsic_dimension
    from landscape.thresholds import intrinsic_dimension

    given = intrinsic_dimension(li_table(full=False), "test_acc", 0.9, baseline=0.95)
    assert given.value == pytest.approx(est.value) and given.interval == (200.0, 400.0)


def test_d_int90_interval_by_hand_with_noisy_runs():
    # 3 seeds with spread 0.06 at every d: se = 0.06 / sqrt(3); 97.5% t quantile with 2 df
    table = li_table(seeds=3, sd=0.06, full=False)
    est = threshold_dimension(table, "test_acc", 0.9, criterion="li", baseline=0.95)
    sd = 0.06  # offsets -sd, 0, sd: sample std = sd
    half = stats.t.ppf(0.975, 2) * sd / np.sqrt(3)
    means = np.array([0.5, 0.8, 0.9, 0.93])
    below = means + half < 0.855
    above = means - half >= 0.855
    assert below.tolist() == [True, False, False, False] and above.tolist() == [False, False, False, False]
    assert est.interval == (100.0, np.inf)  # below 0.855 only at d = 100 for sure; never surely above
    assert est.value == pytest.approx(200 * 2 ** ((0.855 - 0.8) / (0.9 - 0.8)), rel=1e-9)


def test_d_int90_censoring_and_nan():
    table = li_table(full=False)
    low = threshold_dimension(table, "test_acc", 0.5, criterion="li", baseline=0.95)  # target 0.475 < every mean
    assert low.censored == "below" and np.isnan(low.value) and low.interval[0] == 1.0 and "d* < 100" in str(low)
    high = threshold_dimension(table, "test_acc", 1.0, criterion="li", baseline=0.99)
    assert high.censored == "above" and high.interval[1] == np.inf
    recs = table.to_records()
    recs[0]["test_acc"] = float("nan")
    with pytest.warns(RuntimeWarning, match="1 run\\(s\\) have a NaN test_acc.*left out"):
        est = threshold_dimension(RunTable(recs), "test_acc", 0.9, criterion="li", baseline=0.95)
    assert est.curve.n_runs.tolist() == [2, 3, 3, 3]


def test_d_int90_coverage_small_cell():
    """Accuracy 0.1 + 0.85 sigmoid(2 log(d/200)) + noise (per seed and per run), 3 seeds, baseline
    from 3 noisy full runs: the 95% interval covers the true d_int90 at the stated rate."""
    rng = np.random.default_rng(1300)
    ds = 2 ** np.arange(3, 13)
    m = 0.1 + 0.85 * expit(2 * np.log(ds / 200))
    x = (0.855 - 0.1) / 0.85
    truth = 200 * np.exp(np.log(x / (1 - x)) / 2)
    reps, hits, n = 200, 0, 3
    for _ in range(reps):
        off = rng.normal(0, 0.02, n)
        acc = m + off[:, None] + rng.normal(0, 0.02, (n, ds.size))
        full = 0.95 + off + rng.normal(0, 0.02, n)
        table = RunTable.from_columns({"kind": ["random"] * acc.size + ["full"] * n,
                                       "d": np.concatenate([np.tile(ds, n), np.full(n, 10 ** 5)]),
                                       "seed": np.concatenate([np.repeat(np.arange(n), ds.size), np.arange(n)]),
                                       "test_acc": np.concatenate([acc.ravel(), full])})
        lo, hi = threshold_dimension(table, "test_acc", 0.9, criterion="li").interval
        hits += lo <= truth <= hi
    assert hits / reps >= 0.95 - 3 * np.sqrt(0.95 * 0.05 / reps)


# ---------------------------------------------------------------------- pandas
def test_dataframes_are_accepted_everywhere():
    pd = pytest.importorskip("pandas")
    table = hand_table()
    df = table.to_pandas()
    assert isinstance(df, pd.DataFrame) and list(df.columns) == list(table.columns) and len(df) == len(table)
    assert RunTable.from_pandas(df).equals(table)
    a, b = threshold_dimension(table, "train_acc", 0.5), threshold_dimension(df, "train_acc", 0.5)
    assert a.value == b.value and a.interval == b.interval and a.bracket == b.bracket
    assert success_probability(df, "train_acc", 0.5).successes.tolist() == [0, 0, 3, 6, 9, 9]
    ds, seeds, S, M = success_matrix(df, "train_acc", 0.5)
    assert S.sum() == 27
    li = li_table()
    assert threshold_dimension(li.to_pandas(), "test_acc", 0.9, criterion="li").interval == (200.0, 400.0)
    # a DataFrame with its own index and a NaN
    df2 = df.iloc[::-1].set_index(pd.Index(range(100, 100 + len(df))))
    assert threshold_dimension(df2, "train_acc", 0.5).interval == a.interval
    with pytest.raises(TypeError, match="frame column names must be str"):
        RunTable.from_pandas(pd.DataFrame({0: [1]}))


# ---------------------------------------------------------------------- bad input
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
    with pytest.raises(ValueError, match="level must lie in \\[0, 1\\] for the accuracy"):
        threshold_dimension(table, "train_acc", 1.5)
    with pytest.raises(ValueError, match="table has no runs.*after selecting"):
        success_probability(table, "train_acc", 0.5, kind="lottery")
    with pytest.raises(ValueError, match="table is empty"):
        threshold_dimension(RunTable([]), "train_acc", 0.5)
    with pytest.raises(ValueError, match="table: runs at a single d \\(4\\)"):
        threshold_dimension(table.select(d=4), "train_acc", 0.5)
    with pytest.raises(ValueError, match="table: runs at a single d"):
        threshold_dimension(li_table().select(d=[100, 5000]), "test_acc", 0.9, criterion="li")
    with pytest.raises(TypeError, match="table must be a RunTable .* or a pandas.DataFrame"):
        success_probability([{"d": 1}], "train_acc", 0.5)
    with pytest.raises(ValueError, match="p must lie"):
        threshold_dimension(table, "train_acc", 0.5, p=1.0)
    with pytest.raises(ValueError, match="confidence must lie"):
        threshold_dimension(table, "train_acc", 0.5, confidence=0.0)
    with pytest.raises(ValueError, match="method must be one of"):
        threshold_dimension(table, "train_acc", 0.5, method="spline")
    with pytest.raises(ValueError, match="design must be one of"):
        threshold_dimension(table, "train_acc", 0.5, design="paired")
    with pytest.raises(ValueError, match="criterion must be one of"):
        threshold_dimension(table, "train_acc", 0.5, criterion="median")
    with pytest.raises(ValueError, match="baseline is only used with criterion='li'"):
        threshold_dimension(table, "train_acc", 0.5, baseline=0.9)
    with pytest.warns(FutureWarning, match="n_bootstrap is deprecated"):
        threshold_dimension(table, "train_acc", 0.5, n_bootstrap=100)
    with pytest.raises(ValueError, match="cannot select on 'lr'"):
        threshold_dimension(table, "train_acc", 0.5, lr=0.1)
    # Li criterion
    li = li_table()
    with pytest.raises(ValueError, match="baseline must be > 0"):
        threshold_dimension(li, "test_acc", 0.9, criterion="li", baseline=0.0)
    with pytest.raises(ValueError, match="baseline must be > 0"):
        threshold_dimension(li, "test_acc", 0.9, criterion="li", baseline=-1)
    with pytest.raises(ValueError, match="baseline must be a finite number"):
        threshold_dimension(li, "test_acc", 0.9, criterion="li", baseline=float("inf"))
    with pytest.raises(ValueError, match="level must be a fraction of the baseline in \\(0, 1\\]"):
        threshold_dimension(li, "test_acc", 1.2, criterion="li")
    with pytest.raises(ValueError, match="level must be a fraction"):
        threshold_dimension(li, "test_acc", 0.0, criterion="li")
    with pytest.raises(ValueError, match="direction must be 'max'"):
        threshold_dimension(li.with_column("test_loss", li["test_acc"]), "test_loss", 0.9, criterion="li")
    with pytest.raises(ValueError, match="baseline: the table has no kind='full' runs"):
        threshold_dimension(li_table(full=False), "test_acc", 0.9, criterion="li")
    with pytest.raises(ValueError, match="baseline: the table has no 'kind' column"):
        threshold_dimension(li_table(full=False).drop("kind"), "test_acc", 0.9, criterion="li")
