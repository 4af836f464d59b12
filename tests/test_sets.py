"""Tests of geometry.sets and geometry.cones: support functions, projections, validation.

Every support value is checked against a point of the set that attains it (and against
random points of the set, which must not beat it); projections against Moreau's
decomposition and, for the circular cone, against a cvxpy second-order-cone program.
"""
import math

import numpy as np
import pytest

from geometry import (
    Ball,
    Box,
    CircularCone,
    Ellipsoid,
    L1Ball,
    Orthant,
    PointCloud,
    Sphere,
    Subspace,
)

RNG_SEED = 1000


def directions(m, D, seed=RNG_SEED):
    return np.random.default_rng(seed).standard_normal((m, D))


def random_orthonormal(D, k, seed):
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((D, k)))
    return Q


def unit_ball_points(m, k, rng):
    u = rng.standard_normal((m, k))
    u /= np.linalg.norm(u, axis=1)[:, None]
    return u * rng.uniform(size=(m, 1)) ** (1.0 / k)


def check_support(T, G, maximisers, samples):
    """h(g) = <g, x*(g)> with x* in T, and h(g) >= <g, x> for sample points x of T."""
    h = T.support(G)
    np.testing.assert_allclose(h, np.einsum("ij,ij->i", G, maximisers), rtol=1e-12, atol=1e-12)
    assert np.all(h[:, None] >= G @ samples.T - 1e-12)
    return h


# ----------------------------------------------------------------------------- sets

def test_ball_support():
    D, r = 5, 2.0
    c = np.arange(D, dtype=float)
    B = Ball(D, r, c)
    G = directions(20, D)
    xstar = c + r * G / np.linalg.norm(G, axis=1)[:, None]
    assert all(B.contains(x) for x in xstar)
    inside = c + r * unit_ball_points(500, D, np.random.default_rng(1001))
    check_support(B, G, xstar, inside)
    assert B.radius == r and np.array_equal(B.reference_point, c)
    assert B.support(G[0]) == pytest.approx(float(G[0] @ c + r * np.linalg.norm(G[0])))
    assert "Ball(dim=5" in repr(B)


def test_ellipsoid_support_with_axes_center_and_zero_radius():
    D, radii = 6, np.array([3.0, 1.0, 0.0])
    U = random_orthonormal(D, 3, 1002)
    c = np.ones(D)
    E = Ellipsoid(radii, center=c, axes=U)
    G = directions(20, D, 1003)
    C = G @ U
    scaled = radii ** 2 * C
    xstar = c + (scaled @ U.T) / np.linalg.norm(radii * C, axis=1)[:, None]
    assert all(E.contains(x) for x in xstar)
    inside = c + (radii * unit_ball_points(500, 3, np.random.default_rng(1004))) @ U.T
    check_support(E, G, xstar, inside)
    assert not E.contains(c + 0.1 * np.linalg.svd(U, full_matrices=True)[0][:, -1])  # off the flat
    assert E.radius == 3.0
    assert "n_axes=3" in repr(E)


def test_ellipsoid_from_quadratic_and_unbounded_directions():
    lam = np.array([2.0, 0.5, 0.0])
    E = Ellipsoid.from_quadratic(lam, level=1.0)
    np.testing.assert_allclose(E.radii[:2], np.sqrt(2.0 / lam[:2]))
    assert np.isinf(E.radii[2]) and E.radius == np.inf
    h = E.support(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1e-3], [0.0, 0.0, -1.0]]))
    assert h[0] == pytest.approx(1.0) and np.isinf(h[1]) and np.isinf(h[2])
    assert E.contains([0.5, 1.0, 1e6])


def test_point_cloud_support_brute_force():
    X = np.random.default_rng(1005).standard_normal((37, 4))
    P = PointCloud(X)
    G = directions(50, 4, 1006)
    np.testing.assert_allclose(P.support(G), (G @ X.T).max(axis=1), rtol=1e-12)
    assert isinstance(P.support(G[0]), float)
    np.testing.assert_allclose(P.reference_point, X.mean(axis=0))
    assert P.radius == pytest.approx(np.linalg.norm(X - X.mean(axis=0), axis=1).max())
    assert not P.is_convex and "n_points=37" in repr(P)


def test_l1_ball_support():
    D, r = 6, 1.5
    c = np.linspace(-1, 1, D)
    L = L1Ball(D, r, c)
    G = directions(20, D, 1007)
    i = np.abs(G).argmax(axis=1)
    xstar = np.tile(c, (20, 1))
    xstar[np.arange(20), i] += r * np.sign(G[np.arange(20), i])
    rng = np.random.default_rng(1008)
    inside = c + r * rng.dirichlet(np.ones(D), 500) * rng.choice([-1, 1], (500, D)) * rng.uniform(size=(500, 1))
    check_support(L, G, xstar, inside)
    assert L.radius == r


def test_box_support():
    hw = np.array([0.5, 1.0, 2.0, 3.0])
    c = np.array([1.0, -1.0, 0.0, 2.0])
    B = Box(hw, center=c)
    G = directions(20, 4, 1009)
    xstar = c + hw * np.sign(G)
    inside = c + hw * np.random.default_rng(1010).uniform(-1, 1, (500, 4))
    check_support(B, G, xstar, inside)
    assert B.radius == pytest.approx(np.linalg.norm(hw))
    assert np.array_equal(Box(2.0, dim=3).half_widths, [2.0, 2.0, 2.0])


# ----------------------------------------------------------------------------- cones

def polar_circular_contains(K, y, tol=1e-9):
    """The polar of the circular cone (axis u, angle a) is the circular cone (-u, pi/2 - a)."""
    n = np.linalg.norm(y)
    return n <= tol or -(y @ K.axis) >= n * math.cos(math.pi / 2 - K.angle) - tol * n


@pytest.mark.parametrize("K", [Orthant(5), CircularCone(5, 0.4), CircularCone(5, 1.2),
                               CircularCone(5, 0.7, axis=np.arange(1.0, 6.0)),
                               Subspace(np.random.default_rng(1011).standard_normal((5, 2))), Sphere(5)],
                         ids=repr)
def test_moreau_decomposition(K):
    G = directions(200, 5, 1012)
    P = K.project(G)
    Q = K.project_polar(G)
    np.testing.assert_allclose(P + Q, G, atol=1e-12)
    np.testing.assert_allclose(np.einsum("ij,ij->i", P, Q), 0.0, atol=1e-10)
    assert all(K.contains(p) for p in P)
    np.testing.assert_allclose(K.squared_projection_norms(G), (P ** 2).sum(axis=1), rtol=1e-12)
    if isinstance(K, CircularCone):
        assert all(polar_circular_contains(K, q) for q in Q)
    if isinstance(K, Orthant):
        np.testing.assert_array_equal(P, np.maximum(G, 0))


def test_circular_cone_projection_matches_cvxpy():
    cp = pytest.importorskip("cvxpy")
    D, a = 6, 0.5
    u = np.random.default_rng(1013).standard_normal(D)
    K = CircularCone(D, a, axis=u)
    G = directions(5, D, 1014)
    x = cp.Variable(D)
    g = cp.Parameter(D)
    prob = cp.Problem(cp.Minimize(cp.sum_squares(x - g)), [cp.SOC(x @ K.axis / math.cos(a), x)])
    for row in G:
        g.value = row
        prob.solve()
        np.testing.assert_allclose(K.project(row), x.value, atol=1e-5)


def test_cone_sphere_support_attained():
    K = CircularCone(4, 0.6, axis=[1.0, 1.0, 0.0, 0.0])
    G = directions(300, 4, 1015)
    h = K.support(G)
    P = K.project(G)
    norms = np.linalg.norm(P, axis=1)
    pos = norms > 0
    np.testing.assert_allclose(h[pos], norms[pos], rtol=1e-12)
    # in the polar cone: attained on the boundary ray in the plane of g and the axis
    u = K.axis
    for g, val in zip(G[~pos], h[~pos]):
        w = g - (g @ u) * u
        w /= np.linalg.norm(w)
        x = math.cos(K.angle) * u + math.sin(K.angle) * w
        assert val == pytest.approx(g @ x) and val <= 0
    # no unit vector of K does better
    rng = np.random.default_rng(1016)
    cand = rng.standard_normal((4000, 4))
    cand = K.project(cand)
    cand = cand[np.linalg.norm(cand, axis=1) > 1e-9]
    cand /= np.linalg.norm(cand, axis=1)[:, None]
    assert np.all(h[:, None] >= G @ cand.T - 1e-12)


def test_orthant_sphere_support_in_polar():
    O = Orthant(3)
    G = np.array([[-1.0, -0.2, -3.0], [1.0, -2.0, 2.0]])
    np.testing.assert_allclose(O.support(G), [-0.2, math.sqrt(5.0)])


def test_subspace_and_sphere():
    B = np.random.default_rng(1017).standard_normal((7, 3))
    L = Subspace(B)
    assert L.subspace_dim == 3 and L.dim == 7
    G = directions(10, 7, 1018)
    proj = B @ np.linalg.lstsq(B, G.T, rcond=None)[0]
    np.testing.assert_allclose(L.project(G), proj.T, atol=1e-12)
    np.testing.assert_allclose(L.support(G), np.linalg.norm(proj, axis=0), rtol=1e-12)
    S = Sphere(7)
    np.testing.assert_allclose(S.support(G), np.linalg.norm(G, axis=1))
    np.testing.assert_array_equal(S.project(G), G)
    assert S.radius == 1.0 and np.array_equal(S.reference_point, np.zeros(7))


# ----------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("make, err, match", [
    (lambda: Ball(0), ValueError, "dim"), (lambda: Ball(2.5), TypeError, "dim"),
    (lambda: Ball(3, -1.0), ValueError, "radius"), (lambda: Ball(3, 0.0), ValueError, "radius"),
    (lambda: Ball(3, np.nan), ValueError, "radius"), (lambda: Ball(3, np.inf), ValueError, "radius"),
    (lambda: Ball(3, 1.0, [0.0, 0.0]), ValueError, "center"),
    (lambda: Ellipsoid([1.0, -1.0]), ValueError, "radii"), (lambda: Ellipsoid([1.0, np.nan]), ValueError, "radii"),
    (lambda: Ellipsoid([]), ValueError, "radii"), (lambda: Ellipsoid([[1.0]]), ValueError, "radii"),
    (lambda: Ellipsoid([1.0, 1.0], axes=np.ones((3, 2))), ValueError, "orthonormal"),
    (lambda: Ellipsoid([1.0], axes=np.eye(3)[:, :2]), ValueError, "axes"),
    (lambda: Ellipsoid([1.0, 1.0], center=[1.0]), ValueError, "center"),
    (lambda: Ellipsoid.from_quadratic([1.0, -1.0], 1.0), ValueError, "eigenvalues"),
    (lambda: Ellipsoid.from_quadratic([1.0], 0.0), ValueError, "level"),
    (lambda: PointCloud(np.zeros((0, 3))), ValueError, "points"), (lambda: PointCloud([1.0, 2.0]), ValueError, "points"),
    (lambda: PointCloud([[1.0, np.nan]]), ValueError, "points"), (lambda: PointCloud("xy"), TypeError, "points"),
    (lambda: L1Ball(3, -2.0), ValueError, "radius"), (lambda: L1Ball(-3), ValueError, "dim"),
    (lambda: Box([1.0, 0.0]), ValueError, "half_widths"), (lambda: Box(1.0), ValueError, "dim"),
    (lambda: Box([1.0, 1.0], dim=3), ValueError, "dim"), (lambda: Box("ab", dim=2), TypeError, "half_widths"),
    (lambda: Box([[1.0]]), ValueError, "half_widths"), (lambda: Box(np.inf, dim=2), ValueError, "half_widths"),
    (lambda: Orthant(0), ValueError, "dim"), (lambda: Sphere(0), ValueError, "dim"),
    (lambda: Subspace(np.ones((4, 2))), ValueError, "rank"), (lambda: Subspace(np.ones((2, 3))), ValueError, "basis"),
    (lambda: CircularCone(3, 0.0), ValueError, "angle"), (lambda: CircularCone(3, math.pi / 2), ValueError, "angle"),
    (lambda: CircularCone(3, -0.3), ValueError, "angle"), (lambda: CircularCone(1, 0.3), ValueError, "dim"),
    (lambda: CircularCone(3, 0.3, axis=np.zeros(3)), ValueError, "axis"),
    (lambda: CircularCone(3, 0.3, axis=np.ones(2)), ValueError, "axis"),
])
def test_constructors_bad_input(make, err, match):
    with pytest.raises(err, match=match):
        make()


@pytest.mark.parametrize("T", [Ball(3), Orthant(3), CircularCone(3, 0.5), Box(1.0, dim=3)], ids=repr)
@pytest.mark.parametrize("G, match", [(np.ones((2, 4)), "columns"), (np.ones(2), "columns"),
                                      (np.full((2, 3), np.nan), "NaN"), (np.ones((2, 2, 3)), "1-D or 2-D"),
                                      (np.zeros((0, 3)), "empty")])
def test_support_and_projection_bad_directions(T, G, match):
    with pytest.raises(ValueError, match=match):
        T.support(G)
    if hasattr(T, "project"):
        with pytest.raises(ValueError, match=match):
            T.project(G)
