"""Exact subspace minima, empirical success probabilities and thresholds on quadratic wells.

Data (wells, theta0) uses seeds >= 1000; subspace draws and bootstraps use small seeds.
"""
import numpy as np
import pytest
from scipy import optimize, stats

from landscape.models.quadratic import (
    QuadraticWell,
    random_basis,
    subspace_min_loss,
    subspace_min_loss_path,
    subspace_success,
)
from landscape.models.spectra import flat_spectrum, power_law_spectrum
from landscape.subspaces import SUBSPACE_KINDS, random_subspace
from landscape.thresholds.ground_truth import (
    EmpiricalSuccess,
    empirical_success_probability,
    empirical_threshold,
    wilson_interval,
)


def small_well(D=8, seed=1000, zeros=1):
    rng = np.random.default_rng(seed)
    lam = rng.uniform(0.2, 2.0, D)
    lam[D - zeros:] = 0.0
    return QuadraticWell(lam, minimum=rng.standard_normal(D), basis=random_basis(D, seed=seed + 1),
                         min_loss=0.25)


def round_well_success(D, d, R, r):
    r"""Exact P_s(d) for a round well: the subspace meets the ball of radius r at distance R
    iff ||P_L u||^2 >= 1 - r^2/R^2, with ||P_L u||^2 ~ Beta(d/2, (D-d)/2) for Haar L."""
    d = np.asarray(d, dtype=float)
    out = np.where(d >= D, 1.0, 0.0)
    mid = (d > 0) & (d < D)
    out[mid] = stats.beta.sf(1 - r * r / (R * R), d[mid] / 2, (D - d[mid]) / 2)
    return out


# -- exact minimum over one subspace ------------------------------------------------------
def test_min_loss_against_brute_force_minimisation():
    well = small_well()
    rng = np.random.default_rng(1001)
    theta0 = rng.standard_normal(8) * 2
    for d in (1, 3, 5):
        A = rng.standard_normal((8, d))
        value, phi = subspace_min_loss(well, theta0, A, return_argmin=True)
        res = optimize.minimize(lambda p: well.loss(theta0 + A @ p), np.zeros(d),
                                jac=lambda p: A.T @ well.gradient(theta0 + A @ p), method="BFGS",
                                options={"gtol": 1e-12})
        assert value == pytest.approx(res.fun, rel=1e-8, abs=1e-12)
        assert value <= res.fun + 1e-12
        assert well.loss(theta0 + A @ phi) == pytest.approx(value, rel=1e-12)


def test_min_loss_closed_form_on_a_line():
    # d = 1: min_t L(theta0 + t a) = L* + 1/2 (b'Hb - (a'Hb)^2 / a'Ha), b = theta0 - theta*
    well = small_well()
    rng = np.random.default_rng(1002)
    theta0, a = rng.standard_normal(8), rng.standard_normal(8)
    H = well.hessian()
    b = theta0 - well.minimum
    expected = 0.25 + 0.5 * (b @ H @ b - (a @ H @ b) ** 2 / (a @ H @ a))
    assert well.subspace_min_loss(theta0, a[:, None]) == pytest.approx(expected, rel=1e-12)


def test_min_loss_is_min_loss_when_subspace_contains_the_minimum():
    well = small_well()
    rng = np.random.default_rng(1003)
    theta0 = rng.standard_normal(8)
    A = np.column_stack([well.minimum - theta0, rng.standard_normal((8, 2))])
    assert subspace_min_loss(well, theta0, A) == pytest.approx(0.25, abs=1e-12)
    # full space (d = D) reaches the minimum too, and so does any orthonormal D-frame map
    assert subspace_min_loss(well, theta0, random_subspace(8, 8, seed=0)) == pytest.approx(0.25, abs=1e-12)
    # directions with zero curvature do not help: the flat axis alone leaves L(theta0)
    flat = well.basis[:, -1:]
    assert subspace_min_loss(well, theta0, flat) == pytest.approx(well.loss(theta0), rel=1e-12)
    path = subspace_min_loss_path(well, theta0, np.column_stack([flat, A[:, :1]]))
    np.testing.assert_allclose(path, [well.loss(theta0), well.loss(theta0), 0.25], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", SUBSPACE_KINDS)
def test_subspace_map_and_dense_give_the_same_minimum(kind):
    well = small_well(D=30, zeros=3)
    theta0 = np.random.default_rng(1004).standard_normal(30)
    A = random_subspace(30, 7, kind=kind, seed=2)
    assert subspace_min_loss(well, theta0, A) == pytest.approx(subspace_min_loss(well, theta0, A.to_dense()),
                                                               rel=1e-12)


def test_identity_and_rotated_wells_agree_in_eigen_coordinates():
    # rotating the well and the subspace together changes nothing
    D = 20
    rng = np.random.default_rng(1005)
    lam, b = rng.uniform(0, 2, D), rng.standard_normal(D)
    V = random_basis(D, seed=1006)
    plain = QuadraticWell(lam)
    rotated = QuadraticWell(lam, basis=V, minimum=np.ones(D))
    A = rng.standard_normal((D, 4))
    assert subspace_min_loss(plain, b, A) == pytest.approx(subspace_min_loss(rotated, np.ones(D) + V @ b, V @ A),
                                                           rel=1e-11)


def test_min_loss_path_matches_individual_minima():
    well = small_well(D=25, zeros=4)
    rng = np.random.default_rng(1007)
    theta0 = rng.standard_normal(25)
    A = rng.standard_normal((25, 25))
    path = subspace_min_loss_path(well, theta0, A)
    assert path.shape == (26,) and path[0] == pytest.approx(well.loss(theta0), rel=1e-13)
    expected = [well.loss(theta0)] + [subspace_min_loss(well, theta0, A[:, :k]) for k in range(1, 26)]
    np.testing.assert_allclose(path, expected, rtol=1e-9, atol=1e-12)
    assert np.all(np.diff(path) <= 1e-12)


def test_min_loss_path_with_dependent_columns_uses_the_fallback():
    well = small_well(D=10, zeros=0)
    rng = np.random.default_rng(1008)
    theta0 = rng.standard_normal(10)
    B = rng.standard_normal((10, 4))
    A = np.column_stack([B[:, 0], B[:, 1], B[:, 0] + B[:, 1], np.zeros(10), B[:, 2], B[:, 3]])
    path = subspace_min_loss_path(well, theta0, A)
    expected = [well.loss(theta0)] + [subspace_min_loss(well, theta0, A[:, :k]) for k in range(1, 7)]
    np.testing.assert_allclose(path, expected, rtol=1e-9, atol=1e-12)
    assert path[3] == pytest.approx(path[2], rel=1e-12) and path[4] == pytest.approx(path[2], rel=1e-12)


def test_subspace_success():
    well = QuadraticWell([1.0, 1.0])
    line = np.array([[1.0], [0.0]])
    assert subspace_success(well, [1.0, 1.0], 0.6, line)  # min over the line is 0.5
    assert not subspace_success(well, [1.0, 1.0], 0.4, line)


# -- empirical success probability --------------------------------------------------------
def test_round_well_matches_the_beta_formula():
    D, R, eps = 60, 3.0, 2.0
    well = QuadraticWell(flat_spectrum(D))
    u = np.random.default_rng(1009).standard_normal(D)
    theta0 = R * u / np.linalg.norm(u)
    r = np.sqrt(2 * eps)
    ds = np.arange(0, D + 1, 4)
    res = empirical_success_probability(well, theta0, eps, ds, 400, seed=1)
    exact = round_well_success(D, ds, R, r)
    se = np.sqrt(np.maximum(exact * (1 - exact), 1e-12) / 400)
    assert np.all(np.abs(res.rates - exact) <= 4 * se + 1e-12)
    # the exact threshold lies within the empirical threshold's sampling error
    fine = np.arange(D + 1)
    p = round_well_success(D, fine, R, r)
    j = np.flatnonzero(p >= 0.5)[0]
    exact_threshold = fine[j - 1] + (0.5 - p[j - 1]) / (p[j] - p[j - 1])
    thr = res.threshold(seed=2)
    half = (thr.ci[1] - thr.ci[0]) / 2
    assert abs(thr.value - exact_threshold) <= 2 * half + 1


def test_basic_properties_of_the_success_curve():
    D = 100
    well = QuadraticWell(power_law_spectrum(D, 1.0))
    theta0 = np.random.default_rng(1010).standard_normal(D)
    eps = 0.6
    assert well.loss(theta0) > eps
    res = empirical_success_probability(well, theta0, eps, [D, 0, 20, 40, 60, 80, 40], 60, seed=3)
    assert isinstance(res, EmpiricalSuccess)
    np.testing.assert_array_equal(res.ds, [0, 20, 40, 60, 80, 100])
    assert res.rates[0] == 0.0 and res.rates[-1] == 1.0
    assert np.all(np.diff(res.success_matrix.astype(int), axis=1) >= 0)  # nested: monotone per trial
    assert np.all(np.diff(res.rates) >= 0)
    assert np.all(np.diff(res.min_losses, axis=1) <= 1e-12)
    assert 0 < res.rates[2] < 1 or 0 < res.rates[3] < 1  # a transition inside the grid
    np.testing.assert_allclose(res.min_losses[:, -1], 0.0, atol=1e-12)
    # per-trial thresholds agree with the counts
    for j, d in enumerate(res.ds):
        assert res.successes[j] == np.sum(res.trial_thresholds <= d)
    lo, hi = res.confidence_interval()
    assert np.all(lo <= res.rates) and np.all(res.rates <= hi)
    assert "EmpiricalSuccess" in repr(res)


def test_theta0_inside_the_sublevel_set_succeeds_everywhere():
    well = QuadraticWell(power_law_spectrum(50, 1.0), min_loss=1.0)
    theta0 = 0.1 * np.random.default_rng(1011).standard_normal(50)
    res = empirical_success_probability(well, theta0, 1.5, [0, 1, 5, 50], 20, seed=4)
    np.testing.assert_array_equal(res.rates, 1.0)
    np.testing.assert_array_equal(res.trial_thresholds, 0.0)
    thr = empirical_threshold(res, seed=5)
    assert thr.value == 0.0 and thr.censored is None


def test_nested_trials_equal_the_maps_drawn_from_the_child_seeds():
    D = 40
    well = QuadraticWell(power_law_spectrum(D, 1.0))
    theta0 = np.random.default_rng(1012).standard_normal(D)
    ds = [3, 10, 25]
    for kind in SUBSPACE_KINDS:
        res = empirical_success_probability(well, theta0, 0.5, ds, 4, kind=kind, seed=6)
        children = np.random.SeedSequence(6).spawn(4)
        for i, child in enumerate(children):
            for j, d in enumerate(ds):
                A = random_subspace(D, d, kind=kind, seed=child)
                assert res.min_losses[i, j] == pytest.approx(subspace_min_loss(well, theta0, A), rel=1e-9, abs=1e-12)


def test_independent_coupling():
    D = 40
    well = QuadraticWell(power_law_spectrum(D, 1.0))
    theta0 = np.random.default_rng(1013).standard_normal(D)
    res = empirical_success_probability(well, theta0, 0.5, [0, 8, 20], 3, kind="fastfood", seed=7,
                                        coupling="independent")
    assert res.coupling == "independent" and res.trial_thresholds is None
    child = np.random.SeedSequence(7).spawn(3)[1]
    seq = np.random.SeedSequence(child.entropy, spawn_key=child.spawn_key + (20,))
    A = random_subspace(D, 20, kind="fastfood", seed=seq)
    assert res.min_losses[1, 2] == pytest.approx(subspace_min_loss(well, theta0, A), rel=1e-12)
    np.testing.assert_allclose(res.min_losses[:, 0], well.loss(theta0))
    # the same marginal success probability as nested coupling (binomial error, 4 sigma)
    ds = [23]
    a = empirical_success_probability(well, theta0, 0.5, ds, 300, seed=8, coupling="independent").rates[0]
    b = empirical_success_probability(well, theta0, 0.5, ds, 300, seed=9).rates[0]
    p = (a + b) / 2
    assert 0.05 < p < 0.95
    assert abs(a - b) <= 4 * np.sqrt(2 * p * (1 - p) / 300)


def test_reproducible_and_progress():
    well = QuadraticWell(power_law_spectrum(30, 1.0))
    theta0 = np.random.default_rng(1014).standard_normal(30)
    calls = []
    a = empirical_success_probability(well, theta0, 0.5, [5, 10], 5, seed=10,
                                      progress=lambda i, n: calls.append((i, n)))
    b = empirical_success_probability(well, theta0, 0.5, [5, 10], 5, seed=10)
    np.testing.assert_array_equal(a.min_losses, b.min_losses)
    assert calls == [(i, 5) for i in range(1, 6)]
    c = empirical_success_probability(well, theta0, 0.5, [5, 10], 5, seed=np.random.default_rng(11))
    assert c.min_losses.shape == (5, 2)
    # adding values of d does not change the others (nested draws)
    d = empirical_success_probability(well, theta0, 0.5, [5, 7, 10, 20], 5, seed=10)
    np.testing.assert_allclose(d.min_losses[:, [0, 2]], a.min_losses, rtol=1e-10)


def test_larger_eps_gives_smaller_threshold():
    D = 400
    well = QuadraticWell(power_law_spectrum(D, 1.0))
    theta0 = np.random.default_rng(1015).standard_normal(D)
    means = []
    for eps in (0.5, 1.0, 2.0):
        res = empirical_success_probability(well, theta0, eps, [0, D], 40, seed=12)
        t = res.trial_thresholds
        means.append((t.mean(), t.std(ddof=1) / np.sqrt(t.size)))
    for (m1, s1), (m2, s2) in zip(means, means[1:]):
        assert m1 - m2 > 4 * np.hypot(s1, s2)


def test_all_subspace_kinds_give_the_same_threshold():
    # acceptance: the four kinds agree within sampling error at D = 400. The well is rotated
    # (its axes are generic): structured maps are coherent with coordinate axes, and on an
    # axis-aligned power-law well sparse maps need measurably more dimensions.
    D = 400
    well = QuadraticWell(power_law_spectrum(D, 1.0), basis=random_basis(D, seed=1016))
    theta0 = np.random.default_rng(1017).standard_normal(D)
    eps = 1.0
    ref = None
    for kind in SUBSPACE_KINDS:
        res = empirical_success_probability(well, theta0, eps, [0, 120, 130, 140, 150, 200], 100, kind=kind,
                                            seed=13)
        t = res.trial_thresholds
        assert np.isfinite(t).all()
        mean, se = t.mean(), t.std(ddof=1) / np.sqrt(t.size)
        if ref is None:
            ref = (mean, se)
            assert 120 < mean < 160
        else:
            assert abs(mean - ref[0]) <= 4 * np.hypot(se, ref[1]), kind
        thr = res.threshold(seed=14)
        assert thr.ci[0] <= thr.value <= thr.ci[1]


# -- thresholds ---------------------------------------------------------------------------
def test_threshold_interpolation_and_censoring():
    t = empirical_threshold([10, 20, 30, 40], [0, 20, 80, 100], 100, interval=False)
    assert t.value == pytest.approx(20 + (0.5 - 0.2) / 0.6 * 10) and t.censored is None
    assert t.ci == (t.value, t.value)
    # a non-monotone blip is pooled by the isotonic fit: rates 0.6, 0.4 -> 0.5, 0.5
    t = empirical_threshold([10, 20, 30, 40], [0, 60, 40, 100], 100, interval=False)
    assert t.value == pytest.approx(20.0)
    t = empirical_threshold([10, 20], [60, 100], 100, interval=False)
    assert t.value == 10 and t.censored == "below"
    t = empirical_threshold([10, 20], [0, 30], 100, interval=False)
    assert t.value == np.inf and t.censored == "above"
    t = empirical_threshold([10, 20, 30], [10, 50, 90], 100, level=0.9, interval=False)
    assert t.value == pytest.approx(30.0)


def test_threshold_interval_from_counts():
    ds = np.arange(0, 101, 10)
    p = stats.norm.cdf((ds - 50) / 10)
    k = np.random.default_rng(1018).binomial(200, p)
    t = empirical_threshold(ds, k, 200)
    assert t.ci[0] <= t.value <= t.ci[1]
    assert t.ci[0] <= 50 <= t.ci[1]
    assert 0 < t.ci[1] - t.ci[0] <= 20  # within the grid bracket around the crossing, give or take a step
    assert empirical_threshold(ds, k, 200).ci == t.ci  # deterministic
    assert "EmpiricalThreshold" in repr(t) and float(t) == t.value
    with pytest.warns(FutureWarning, match="n_bootstrap"):
        assert empirical_threshold(ds, k, 200, n_bootstrap=500).ci == t.ci
    assert empirical_threshold(ds, k, 200, n_bootstrap=0).ci == (t.value, t.value)


def test_threshold_interval_covers_the_exact_median_threshold():
    """Coverage against the truth of a well: the median of 1500 trials' exact thresholds;
    30 replications of 12 nested trials on a coarse grid, nominal 0.95 -> at least 25 hits
    (P(fewer | coverage 0.95) < 0.2%; the benchmark measures >= 0.968 for this interval)."""
    D = 80
    well = QuadraticWell(power_law_spectrum(D, 1.0))
    theta0 = np.full(D, 0.3)
    eps = 0.3 * well.loss(theta0)
    big = empirical_success_probability(well, theta0, eps, np.arange(1, D + 1), 1500, seed=2001, progress=False)
    truth = float(np.median(big.trial_thresholds))
    grid = [1, 2, 4, 8, 16, 32, 64, 80]
    hits = 0
    for r in range(30):
        t = empirical_threshold(empirical_success_probability(well, theta0, eps, grid, 12, seed=3000 + r,
                                                              progress=False))
        hits += t.ci[0] <= truth <= t.ci[1]
    assert hits >= 25



def test_wilson_interval():
    lo, hi = wilson_interval(0, 10)
    z2 = stats.norm.ppf(0.975) ** 2
    assert lo == 0.0 and hi == pytest.approx(z2 / (10 + z2))
    lo, hi = wilson_interval([5, 50], [10, 100], level=0.9)
    np.testing.assert_allclose((lo + hi) / 2, 0.5)
    assert hi[0] - lo[0] > hi[1] - lo[1]
    with pytest.raises(ValueError, match="successes <= n_trials"):
        wilson_interval(11, 10)
    with pytest.raises(ValueError, match="level must lie in"):
        wilson_interval(1, 10, level=1.5)


# -- bad input ----------------------------------------------------------------------------
def test_ground_truth_bad_input():
    well = QuadraticWell(np.ones(5), min_loss=0.5)
    A = np.eye(5)[:, :2]
    with pytest.raises(TypeError, match="well must be a landscape.QuadraticWell"):
        subspace_min_loss("well", np.ones(5), A)
    with pytest.raises(ValueError, match="theta0 must have shape"):
        subspace_min_loss(well, np.ones(4), A)
    with pytest.raises(ValueError, match="theta0 contains NaN"):
        subspace_min_loss(well, np.array([1, 2, 3, 4, np.nan]), A)
    with pytest.raises(ValueError, match=r"A must have shape \(5, d\)"):
        subspace_min_loss(well, np.ones(5), np.eye(4))
    with pytest.raises(ValueError, match="A must map into R\\^5"):
        subspace_min_loss(well, np.ones(5), random_subspace(6, 2, seed=0))
    with pytest.raises(ValueError, match="A must be 2-D"):
        subspace_min_loss_path(well, np.ones(5), np.ones(5))
    with pytest.raises(ValueError, match="eps must be > min_loss"):
        subspace_success(well, np.ones(5), 0.5, A)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"well": None}, TypeError, "well must be"),
        ({"theta0": np.ones(3)}, ValueError, "theta0 must have shape"),
        ({"eps": 0.1}, ValueError, "eps must be > min_loss"),
        ({"ds": [0, 6]}, ValueError, r"ds must lie in \[0, D\]"),
        ({"ds": [-1, 2]}, ValueError, r"ds must lie in \[0, D\]"),
        ({"ds": [1.5]}, ValueError, "ds must be a non-empty 1-D array of integers"),
        ({"ds": []}, ValueError, "ds must be a non-empty"),
        ({"ds": ["a"]}, ValueError, "ds must be"),
        ({"n_trials": 0}, ValueError, "n_trials must be >= 1"),
        ({"n_trials": 2.5}, TypeError, "n_trials must be an integer"),
        ({"kind": "dense"}, ValueError, "kind must be one of"),
        ({"coupling": "paired"}, ValueError, "coupling must be"),
        ({"progress": 3}, TypeError, "progress must be callable"),
        ({"seed": -3}, ValueError, "seed"),
    ],
)
def test_empirical_success_bad_input(kwargs, exc, match):
    args = {"well": QuadraticWell(np.ones(5), min_loss=0.5), "theta0": np.ones(5), "eps": 1.0,
            "ds": [0, 2], "n_trials": 2}
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        empirical_success_probability(**args)


def test_empirical_threshold_bad_input():
    with pytest.raises(ValueError, match="give successes and n_trials"):
        empirical_threshold([1, 2])
    with pytest.raises(ValueError, match="strictly increasing"):
        empirical_threshold([2, 1], [0, 1], 1)
    with pytest.raises(ValueError, match="successes must have shape"):
        empirical_threshold([1, 2], [0], 1)
    with pytest.raises(ValueError, match="0 <= successes <= n_trials"):
        empirical_threshold([1, 2], [0, 5], 4)
    with pytest.raises(ValueError, match="successes must be non-negative"):
        empirical_threshold([1, 2], [-1, 1], 4)
    with pytest.raises(TypeError, match="n_trials must be an integer"):
        empirical_threshold([1, 2], [0, 1], 2.5)
    with pytest.raises(ValueError, match="level must lie in"):
        empirical_threshold([1, 2], [0, 1], 2, level=1.0)
    with pytest.raises(ValueError, match="n_bootstrap must be >= 0"):
        empirical_threshold([1, 2], [0, 1], 2, n_bootstrap=-1)
    res = empirical_success_probability(QuadraticWell(np.ones(3)), np.ones(3), 0.5, [0, 3], 2, seed=0)
    with pytest.raises(ValueError, match="must be None when result is an EmpiricalSuccess"):
        empirical_threshold(res, [0, 1], 2)


# -- scipy's Wilson interval and isotonic regression (the hand-written versions they replace) ----
def naive_wilson(k, n, level=0.95):
    """The Wilson score interval written out (the formula in the docstring)."""
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + level / 2)
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (0.0 if k == 0 else max(centre - half, 0.0)), (1.0 if k == n else min(centre + half, 1.0))


def naive_isotonic(y, w):
    """Pool adjacent violators, written out."""
    values, weights, counts = [], [], []
    for yi, wi in zip(y, w):
        values.append(yi)
        weights.append(wi)
        counts.append(1)
        while len(values) > 1 and values[-2] > values[-1]:
            wsum = weights[-2] + weights[-1]
            values[-2] = (values[-2] * weights[-2] + values[-1] * weights[-1]) / wsum
            weights[-2] = wsum
            counts[-2] += counts[-1]
            del values[-1], weights[-1], counts[-1]
    return np.repeat(values, counts)


def test_wilson_interval_is_the_formula():
    from landscape.thresholds.ground_truth import wilson_interval

    for level in (0.5, 0.9, 0.95, 0.99):
        n = np.repeat(np.arange(1, 41), np.arange(2, 42))
        k = np.concatenate([np.arange(m + 1) for m in range(1, 41)])
        low, high = wilson_interval(k, n, level)
        ref = np.array([naive_wilson(a, b, level) for a, b in zip(k, n)])
        np.testing.assert_allclose(low, ref[:, 0], rtol=0, atol=1e-15)
        np.testing.assert_allclose(high, ref[:, 1], rtol=0, atol=1e-15)
    for bad in ((2.5, 10), (None, None), (np.nan, 10), (3, np.inf)):
        with pytest.raises((TypeError, ValueError)):
            wilson_interval(*bad)


def test_isotonic_fit_is_pool_adjacent_violators():
    from landscape.thresholds.ground_truth import _isotonic

    rng = np.random.default_rng(1100)
    for _ in range(20):
        y, w = rng.random(12), rng.integers(1, 6, 12).astype(float)
        np.testing.assert_allclose(_isotonic(y, w), naive_isotonic(y, w), rtol=0, atol=1e-14)


def test_exact_outcomes_as_runs_for_the_measured_threshold():
    from landscape.thresholds import threshold_dimension

    # round well: S(5) is the ball of radius sqrt(10) around 0, |theta0| = sqrt(20): P_s(10) = 1/2 exactly
    well = QuadraticWell(np.ones(20))
    res = empirical_success_probability(well, np.ones(20), 5.0, [0, 4, 7, 10, 13, 16, 20], 80, seed=0)
    runs = res.runs()
    assert len(runs) == 80 * 6 and sorted(set(runs["d"].tolist())) == [4, 7, 10, 13, 16, 20]
    np.testing.assert_array_equal(runs.select(seed=3)["min_loss"], res.min_losses[3, 1:])
    est = threshold_dimension(runs, "min_loss", 5.0, direction="min")
    assert est.design == "nested" and est.params["non_monotone_seeds"] == 0
    assert est.low <= 10 <= est.high and est.high / est.low < 2
    assert est.curve.successes.tolist() == res.successes[1:].tolist()
