"""Full-space gradient descent, burn-in and lottery subspaces.

Data (wells, theta0) uses seeds >= 1000; subspace draws use small seeds.
"""
import numpy as np
import pytest

from landscape.models.quadratic import QuadraticWell, random_basis
from landscape.models.spectra import power_law_spectrum
from landscape.subspaces import LotterySubspace
from landscape.subspaces.trajectory import (
    Trajectory,
    burn_in_point,
    burn_in_subspace,
    full_space_trajectory,
    lottery_subspace,
)
from landscape.thresholds.ground_truth import (
    empirical_success_probability,
    subspace_min_loss_path,
)


def rotated_well(D=12, seed=1000):
    rng = np.random.default_rng(seed)
    return QuadraticWell(rng.uniform(0.05, 1.5, D), minimum=rng.standard_normal(D),
                         basis=random_basis(D, seed=seed + 1), min_loss=0.1)


def exact_iterate(well, theta0, lr, k):
    r"""Gradient descent on a quadratic: theta_k = theta* + V (1 - lr lam)^k V^T (theta0 - theta*)."""
    return well.minimum + well.basis @ ((1 - lr * well.eigenvalues) ** k * well.eigen_offset(theta0))


def test_trajectory_matches_the_linear_recurrence():
    well = rotated_well()
    theta0 = np.random.default_rng(1002).standard_normal(12)
    traj = full_space_trajectory(well.gradient, theta0, lr=0.7, steps=25, loss=well.loss)
    assert isinstance(traj, Trajectory)
    assert traj.iterates.shape == (26, 12) and traj.n_steps == 25 and traj.record_every == 1
    for k in (0, 1, 7, 25):
        np.testing.assert_allclose(traj.iterates[k], exact_iterate(well, theta0, 0.7, k), atol=1e-12)
    np.testing.assert_allclose(traj.losses, well.loss(traj.iterates), rtol=1e-12)
    assert np.all(np.diff(traj.losses) < 0)  # lr < 2 / lam_max: monotone descent
    np.testing.assert_array_equal(traj.origin, theta0)
    np.testing.assert_allclose(traj.steps(), np.diff(traj.iterates, axis=0))
    assert "Trajectory" in repr(traj)


def test_record_every_keeps_the_last_iterate_and_objects_with_gradient_work():
    well = rotated_well()
    theta0 = np.ones(12)
    traj = full_space_trajectory(well, theta0, lr=0.5, steps=10, record_every=4)
    assert traj.iterates.shape == (4, 12) and traj.losses is None  # steps 0, 4, 8, 10
    np.testing.assert_allclose(traj.iterates[2], exact_iterate(well, theta0, 0.5, 8), atol=1e-12)
    np.testing.assert_allclose(traj.final, exact_iterate(well, theta0, 0.5, 10), atol=1e-12)
    empty = full_space_trajectory(well, theta0, lr=0.5, steps=0)
    assert empty.iterates.shape == (1, 12)


def test_burn_in_point_and_subspace():
    well = rotated_well()
    theta0 = np.random.default_rng(1003).standard_normal(12)
    np.testing.assert_allclose(burn_in_point(well.gradient, theta0, 6, 0.9), exact_iterate(well, theta0, 0.9, 6),
                               atol=1e-12)
    start = burn_in_point(well, theta0, 0, 0.9)
    np.testing.assert_array_equal(start, theta0)
    assert start is not theta0
    origin, A = burn_in_subspace(well, theta0, 6, 0.9, d=4, kind="fastfood", seed=3)
    np.testing.assert_allclose(origin, exact_iterate(well, theta0, 0.9, 6), atol=1e-12)
    assert A.shape == (12, 4) and A.kind == "fastfood" and A.seed == 3


def test_burn_in_lowers_the_threshold():
    # a start closer to the minimum sees the sub-level set under a wider angle
    D, eps = 400, 0.5
    well = QuadraticWell(power_law_spectrum(D, 1.0))
    theta0 = np.random.default_rng(1004).standard_normal(D)
    stats = []
    for t in (0, 5, 20):
        start = burn_in_point(well, theta0, t, lr=1.0)
        res = empirical_success_probability(well, start, eps, [0, D], 40, seed=4)
        th = res.trial_thresholds
        stats.append((th.mean(), th.std(ddof=1) / np.sqrt(th.size)))
    for (m1, s1), (m2, s2) in zip(stats, stats[1:]):
        assert m1 - m2 > 4 * np.hypot(s1, s2)
    # long enough burn-in lands inside S(eps): every subspace succeeds, d* = 0
    inside = burn_in_point(well, theta0, 200, lr=1.0)
    assert well.loss(inside) <= eps
    res = empirical_success_probability(well, inside, eps, [0, 1, 10], 10, seed=5)
    np.testing.assert_array_equal(res.trial_thresholds, 0.0)


# -- lottery subspaces --------------------------------------------------------------------
def test_lottery_subspace_spans_the_steps():
    well = rotated_well()
    traj = full_space_trajectory(well, np.random.default_rng(1005).standard_normal(12), lr=0.5, steps=5)
    steps = traj.steps()
    A = lottery_subspace(traj, 5)
    assert isinstance(A, LotterySubspace) and A.kind == "lottery" and A.shape == (12, 5)
    Q = A.to_dense()
    np.testing.assert_allclose(Q.T @ Q, np.eye(5), atol=1e-12)
    np.testing.assert_allclose(Q @ (Q.T @ steps.T), steps.T, atol=1e-10)  # all steps in the span
    assert np.all(np.diff(A.singular_values) <= 0)
    np.testing.assert_allclose(A.singular_values, np.linalg.svd(steps, compute_uv=False), rtol=1e-10)
    # the top direction is the best rank-1 fit of the steps (same as from the raw iterates array)
    top = lottery_subspace(traj.iterates, 1).to_dense()[:, 0]
    u = np.linalg.svd(steps.T)[0][:, 0]
    assert abs(top @ u) == pytest.approx(1.0, abs=1e-10)


def test_lottery_subspace_rank_and_completion():
    well = rotated_well()
    traj = full_space_trajectory(well, np.ones(12), lr=0.5, steps=3)
    with pytest.raises(ValueError, match="exceeds the rank of the trajectory's steps"):
        lottery_subspace(traj, 4)
    A = lottery_subspace(traj, 7, complete=True, seed=0)
    Q = A.to_dense()
    np.testing.assert_allclose(Q.T @ Q, np.eye(7), atol=1e-10)
    assert np.isnan(A.singular_values[3:]).all() and np.isfinite(A.singular_values[:3]).all()
    np.testing.assert_allclose(Q[:, :3], lottery_subspace(traj, 3).to_dense(), atol=1e-12)
    again = lottery_subspace(traj, 7, complete=True, seed=0).to_dense()
    np.testing.assert_array_equal(Q, again)


def test_lottery_subspaces_beat_random_subspaces():
    # lottery subspaces contain the stiff directions training moved along: on a power-law
    # well their threshold is far below that of random subspaces (measured 2-3 vs ~220 here;
    # the test asks for a factor 5)
    D, eps = 400, 0.5
    well = QuadraticWell(power_law_spectrum(D, 1.0))
    theta0 = np.random.default_rng(1006).standard_normal(D)
    traj = full_space_trajectory(well, theta0, lr=1.0, steps=200, loss=well.loss)
    assert traj.losses[-1] < eps  # full-space training succeeds
    A = lottery_subspace(traj, 10)
    path = subspace_min_loss_path(well, theta0, A)  # columns ordered by singular value: nested
    d_lottery = int(np.flatnonzero(path <= eps)[0])
    random = empirical_success_probability(well, theta0, eps, [0, D], 40, seed=6)
    d_random = np.median(random.trial_thresholds)
    assert d_random > 150
    assert d_lottery <= d_random / 5


# -- bad input ----------------------------------------------------------------------------
def test_bad_input():
    well = rotated_well(D=4)
    theta0 = np.ones(4)
    with pytest.raises(TypeError, match="grad must be a callable"):
        full_space_trajectory(3, theta0, 0.1, 5)
    with pytest.raises(ValueError, match="lr must be > 0"):
        full_space_trajectory(well, theta0, 0.0, 5)
    with pytest.raises(ValueError, match="steps must be >= 0"):
        full_space_trajectory(well, theta0, 0.1, -1)
    with pytest.raises(ValueError, match="record_every must be >= 1"):
        full_space_trajectory(well, theta0, 0.1, 5, record_every=0)
    with pytest.raises(ValueError, match="theta0 contains NaN"):
        full_space_trajectory(well, [1.0, np.nan, 0.0, 0.0], 0.1, 5)
    with pytest.raises(TypeError, match="loss must be callable"):
        full_space_trajectory(well, theta0, 0.1, 5, loss=1.0)
    with pytest.raises(ValueError, match=r"grad\(theta\) must return an array of shape \(4,\)"):
        full_space_trajectory(lambda th: th[:2], theta0, 0.1, 5)
    with pytest.raises(ValueError, match="diverged at step"):
        full_space_trajectory(lambda th: 1e200 * th, theta0, 1e200, 5)
    with pytest.raises(ValueError, match="diverged"):
        burn_in_point(well, theta0, 5000, lr=10.0)  # lr > 2 / lam_max
    with pytest.raises(ValueError, match="t must be >= 0"):
        burn_in_point(well, theta0, -1, 0.1)
    with pytest.raises(ValueError, match="d must be <= D"):
        burn_in_subspace(well, theta0, 1, 0.1, d=5)
    with pytest.raises(ValueError, match="kind must be one of"):
        burn_in_subspace(well, theta0, 1, 0.1, d=2, kind="lottery")
    traj = full_space_trajectory(well, theta0, 0.1, 3)
    with pytest.raises(ValueError, match="d must be <= 4"):
        lottery_subspace(traj, 5)
    with pytest.raises(ValueError, match="d must be >= 1"):
        lottery_subspace(traj, 0)
    with pytest.raises(ValueError, match="at least 2 iterates"):
        lottery_subspace(np.ones((1, 4)), 1)
    with pytest.raises(ValueError, match="trajectory must be 2-D"):
        lottery_subspace(np.ones(4), 1)
    with pytest.raises(ValueError, match="rtol must be > 0"):
        lottery_subspace(traj, 1, rtol=0.0)
    with pytest.raises(ValueError, match="exceeds the rank"):
        lottery_subspace(np.ones((3, 4)), 1)  # no movement at all: rank 0
