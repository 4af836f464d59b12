"""Tests of the conic intrinsic volumes (geometry.intrinsic_volumes, module geometry.conic_volumes).

Exact values first (binomial, point masses, the circular-cone formula checked against the
quadrature statistical dimension and against an independent closed form of the success
probability), then brute force (random subspaces: a linear program for the orthant, the
angle of the projected axis for the circular cone), then the estimators.

Stated tolerance of the estimators (measured, see the docstring of intrinsic_volumes):
with n = 2000 samples the predicted success curve is within 0.1 of the exact one at
every d, and the implied delta within 4 standard errors of the exact delta.
"""
import math

import numpy as np
import pytest
from cone_helpers import HalfSpace, HookedCircularCone
from scipy.optimize import linprog
from scipy.special import betainc

from geometry import (
    CircularCone,
    IntrinsicVolumes,
    Orthant,
    Sphere,
    Subspace,
    intrinsic_volumes,
    kinematic_success_probability,
    statistical_dimension,
)

CURVE_TOL = 0.1


def random_subspace(D, d, rng):
    Q, _ = np.linalg.qr(rng.standard_normal((D, d)))
    return Q


def orthant_meets(A):
    """Whether range(A) meets the orthant outside 0: an LP, find phi with A phi >= 0, sum(A phi) = 1."""
    D, d = A.shape
    res = linprog(np.zeros(d), A_ub=-A, b_ub=np.zeros(D), A_eq=A.sum(axis=0)[None, :], b_eq=[1.0],
                  bounds=[(None, None)] * d, method="highs")
    return res.status == 0


def circular_meets(A, axis, angle):
    """range(A) meets the circular cone iff the projected axis is within the angle: ||A^T u|| >= cos(angle)."""
    return np.linalg.norm(A.T @ axis) >= math.cos(angle)


def curve_error(iv, exact):
    ds = np.arange(exact.dim + 1)
    return np.abs(iv.success_probability(ds) - exact.success_probability(ds)).max()


# ----------------------------------------------------------------------------- exact values

@pytest.mark.parametrize("D", [1, 4, 13, 500])
def test_orthant_volumes_binomial(D):
    iv = intrinsic_volumes(Orthant(D))
    expect = np.array([math.comb(D, j) for j in range(D + 1)], dtype=float) / 2.0 ** D
    np.testing.assert_allclose(iv.volumes, expect, rtol=1e-9, atol=1e-300)
    assert iv.delta == pytest.approx(D / 2, rel=1e-12)
    assert iv.method.startswith("exact") and iv.pairs is None and iv.n_samples == 0


def test_subspace_and_whole_space_point_masses():
    L = Subspace(np.random.default_rng(1000).standard_normal((9, 4)))
    iv = intrinsic_volumes(L)
    assert iv.volumes[4] == 1.0 and iv.volumes.sum() == 1.0 and iv.delta == 4
    ds = np.arange(10)
    np.testing.assert_array_equal(iv.success_probability(ds), (ds > 5).astype(float))
    full = intrinsic_volumes(Sphere(6))
    assert full.volumes[6] == 1.0
    np.testing.assert_array_equal(full.success_probability(np.arange(7)), [0, 1, 1, 1, 1, 1, 1])


@pytest.mark.parametrize("a", [0.2, math.pi / 4, 1.3])
def test_circular_cone_volumes_in_the_plane_by_hand(a):
    # a wedge of angle 2a: nu_2 = 2a / 2pi, nu_1 = 1/2, nu_0 = (pi - 2a) / 2pi
    np.testing.assert_allclose(intrinsic_volumes(CircularCone(2, a)).volumes,
                               [(math.pi - 2 * a) / (2 * math.pi), 0.5, a / math.pi], rtol=1e-12)


@pytest.mark.parametrize("D", [3, 10, 200, 3000])
@pytest.mark.parametrize("a", [0.1, 0.7, 1.4])
def test_circular_cone_volumes_probability_vector_with_mean_delta(D, a):
    iv = intrinsic_volumes(CircularCone(D, a))
    v = iv.volumes
    assert np.all(v >= 0)
    assert v.sum() == pytest.approx(1.0, abs=1e-12)
    assert v[0::2].sum() == pytest.approx(0.5, abs=1e-12)  # Gauss-Bonnet
    assert iv.delta == pytest.approx(statistical_dimension(CircularCone(D, a)).value, rel=1e-9)


@pytest.mark.parametrize("D, a", [(5, 0.4), (20, 0.9), (120, 0.3), (120, 1.2)])
def test_circular_cone_kinematic_formula_matches_direct_formula(D, a):
    # P(L_d meets the cone) = P(||P_L u||^2 >= cos^2 a), ||P_L u||^2 ~ Beta(d/2, (D-d)/2)
    ds = np.arange(1, D)
    direct = 1.0 - betainc(ds / 2.0, (D - ds) / 2.0, math.cos(a) ** 2)
    iv = intrinsic_volumes(CircularCone(D, a))
    np.testing.assert_allclose(iv.success_probability(ds), direct, rtol=1e-9, atol=1e-12)
    assert iv.success_probability(0) == 0.0
    assert iv.success_probability(D) == pytest.approx(1.0, abs=1e-12)


# ----------------------------------------------------------------------------- brute force

def test_brute_force_orthant_success_curve_matches_exact_and_em():
    D, m = 10, 150
    rng = np.random.default_rng(1001)
    exact = intrinsic_volumes(Orthant(D))
    em = intrinsic_volumes(Orthant(D), 2000, seed=1, method="em")
    for d in (2, 4, 5, 6, 8):
        freq = np.mean([orthant_meets(random_subspace(D, d, rng)) for _ in range(m)])
        p = exact.success_probability(d)
        se = math.sqrt(p * (1 - p) / m)
        assert abs(freq - p) <= 4 * se + 1e-12  # the LP check agrees with Wendel / the formula
        assert abs(freq - em.success_probability(d)) <= 4 * se + CURVE_TOL


def test_brute_force_circular_cone_success_curve():
    D, a, m = 10, 0.6, 400
    K = CircularCone(D, a)
    rng = np.random.default_rng(1002)
    exact = intrinsic_volumes(K)
    em = intrinsic_volumes(K, 2000, seed=2, method="em")
    for d in range(1, D):
        freq = np.mean([circular_meets(random_subspace(D, d, rng), K.axis, a) for _ in range(m)])
        p = exact.success_probability(d)
        se = math.sqrt(p * (1 - p) / m)
        assert abs(freq - p) <= 4 * se + 2.0 / m
        assert abs(freq - em.success_probability(d)) <= 4 * se + 2.0 / m + CURVE_TOL


# ----------------------------------------------------------------------------- estimators

@pytest.mark.parametrize("method", ["em", "nnls"])
@pytest.mark.parametrize("K", [Orthant(10), CircularCone(10, 1.1), CircularCone(30, 0.1), Orthant(40),
                               CircularCone(80, 0.8)], ids=repr)
def test_estimated_volumes_close_to_exact(K, method):
    exact = intrinsic_volumes(K)
    iv = intrinsic_volumes(K, 2000, seed=3, method=method)
    assert iv.method == method and iv.converged and iv.n_samples == 2000
    assert iv.volumes.shape == (K.dim + 1,)
    assert iv.volumes.sum() == pytest.approx(1.0)
    assert iv.volumes[0::2].sum() == pytest.approx(0.5)  # parity imposed
    assert curve_error(iv, exact) <= CURVE_TOL
    # the mean of the volumes is the statistical dimension
    direct = iv.delta_estimate()
    assert abs(iv.delta - exact.delta) <= 4 * direct.stderr
    assert abs(direct.value - exact.delta) <= 4 * direct.stderr


def test_estimator_point_masses_exact_handling():
    # half-space: g in K with probability 1/2 (point mass at u = 1), never in the polar
    K = HalfSpace(8)
    iv = intrinsic_volumes(K, 2000, seed=4)
    assert iv.method == "em"
    n_in = np.sum(iv.pairs[:, 1] == 0.0)
    assert abs(n_in / 2000 - 0.5) <= 4 * math.sqrt(0.25 / 2000)
    assert iv.volumes[0] == 0.0
    assert iv.volumes[8] + iv.volumes[7] == pytest.approx(1.0, abs=0.05)
    expect = np.r_[0.0, np.ones(8)]  # a random line already meets a half-space
    assert np.abs(iv.success_probability(np.arange(9)) - expect).max() <= CURVE_TOL


def test_orthant_one_dimensional_is_two_point_masses():
    iv = intrinsic_volumes(Orthant(1), 1000, seed=5, method="em")
    np.testing.assert_allclose(iv.volumes, [0.5, 0.5])  # parity fixes both exactly
    free = intrinsic_volumes(Orthant(1), 1000, seed=5, method="em", parity=False)
    n0 = np.sum(free.pairs[:, 0] == 0.0)
    np.testing.assert_allclose(free.volumes, [n0 / 1000, 1 - n0 / 1000])


def test_large_dimension_window():
    K = CircularCone(300, 1.0)
    exact = intrinsic_volumes(K)
    iv = intrinsic_volumes(K, 1500, seed=6, method="em")
    assert curve_error(iv, exact) <= CURVE_TOL
    # components more than 10 standard deviations from every observed ratio get no weight
    # (observed D u >= about 180 here, sd about 11): the window starts above j = 50
    assert iv.volumes[:50].sum() == 0.0


def test_hook_used_and_given_directions():
    K = HookedCircularCone(60, 0.8)
    HookedCircularCone.calls = 0
    iv = intrinsic_volumes(K, 2000, seed=7, method="em")
    assert HookedCircularCone.calls == 1
    assert curve_error(iv, intrinsic_volumes(CircularCone(60, 0.8))) <= CURVE_TOL
    G = np.random.default_rng(1003).standard_normal((300, 60))
    fromG = intrinsic_volumes(K, G=G)
    assert HookedCircularCone.calls == 1 and fromG.method == "em" and fromG.n_samples == 300
    P = CircularCone(60, 0.8).project(G)
    np.testing.assert_allclose(fromG.pairs[:, 0], (P ** 2).sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(fromG.pairs.sum(axis=1), (G ** 2).sum(axis=1), rtol=1e-12)


def test_reproducible_and_bootstrap_band():
    K = Orthant(12)
    a = intrinsic_volumes(K, 800, seed=8, method="em")
    b = intrinsic_volumes(K, 800, seed=8, method="em")
    np.testing.assert_array_equal(a.volumes, b.volumes)
    boot = a.bootstrap(seed=9)
    assert isinstance(boot, IntrinsicVolumes) and boot.method == "em" and boot.dim == 12
    assert not np.array_equal(boot.volumes, a.volumes)
    ds = np.arange(13)
    lo, hi = a.success_band(ds, n_bootstrap=10, level=0.9, seed=10)
    assert lo.shape == hi.shape == (13,) and np.all(lo <= hi)
    assert lo[0] == hi[0] == 0.0
    exact = intrinsic_volumes(K)
    lo_e, hi_e = exact.success_band(ds)
    np.testing.assert_array_equal(lo_e, hi_e)
    with pytest.raises(ValueError, match="exact"):
        exact.bootstrap()


def test_unregularised_fit_and_repr():
    iv = intrinsic_volumes(Orthant(6), 1000, seed=11, method="em", smoothing=0.0)
    assert iv.options["smoothing"] == 0.0 and iv.converged
    assert "IntrinsicVolumes(D=6" in repr(iv) and "n_samples=1000" in repr(iv)
    assert "exact" in repr(intrinsic_volumes(Orthant(6)))
    nn = intrinsic_volumes(Orthant(6), 1000, seed=11, method="nnls", smoothing=0)
    assert nn.volumes.sum() == pytest.approx(1.0)


def test_success_probability_is_kinematic_formula():
    iv = intrinsic_volumes(CircularCone(15, 0.9), 1000, seed=12)
    ds = np.arange(16)
    np.testing.assert_array_equal(iv.success_probability(ds), kinematic_success_probability(iv.volumes, ds))


# ----------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("kwargs, err, match", [
    (dict(n_samples=1), ValueError, "n_samples"), (dict(n_samples=3.5), TypeError, "n_samples"),
    (dict(method="mle"), ValueError, "method"), (dict(method="exact"), ValueError, "no closed form"),
    (dict(seed=-2), ValueError, "seed"), (dict(parity="yes"), TypeError, "parity"),
    (dict(smoothing=-0.1), ValueError, "smoothing"), (dict(smoothing=1.0, method="em"), ValueError, "smoothing"),
    (dict(smoothing=np.nan), ValueError, "smoothing"), (dict(tol=0.0), ValueError, "tol"),
    (dict(max_iter=0), ValueError, "max_iter"), (dict(batch_size=0), ValueError, "batch_size"),
    (dict(G=np.ones((10, 4))), ValueError, "G"), (dict(G=np.ones((1, 5))), ValueError, "G"),
    (dict(G=np.full((10, 5), np.inf)), ValueError, "G"), (dict(G=np.ones((10, 5)), method="exact"), ValueError, "G"),
])
def test_intrinsic_volumes_bad_input(kwargs, err, match):
    with pytest.raises(err, match=match):
        intrinsic_volumes(HalfSpace(5), **{"n_samples": 50, **kwargs})


def test_intrinsic_volumes_bad_cone_and_result_checks():
    with pytest.raises(TypeError, match="ConvexCone"):
        intrinsic_volumes(np.eye(3))
    with pytest.raises(ValueError, match="sum"):
        IntrinsicVolumes(np.array([0.3, 0.3]), "custom")
    with pytest.raises(ValueError, match="non-negative"):
        IntrinsicVolumes(np.array([1.5, -0.5]), "custom")
    iv = intrinsic_volumes(Orthant(3))
    with pytest.raises(ValueError, match="d"):
        iv.success_probability(4)
    with pytest.raises(ValueError, match="n_bootstrap"):
        intrinsic_volumes(Orthant(3), 100, seed=0, method="em").success_band(1, n_bootstrap=1)
    with pytest.raises(ValueError, match="level"):
        iv.success_band(1, level=1.0)
