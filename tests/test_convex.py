"""The cvxpy reference (geometry.convex) against closed forms.

Support functions of an L1 ball, a box and ellipsoids (zero and infinite radii, degenerate
axes); projections onto the orthant, a subspace and a circular cone; the KKT polishing of
perturbed projections back to the closed form; bad input. A few dozen small solves.
Data seeds >= 1000.
"""
import cvxpy as cp
import numpy as np
import pytest

from geometry import Box, CircularCone, Ellipsoid, L1Ball, Orthant, Subspace
from geometry.convex import (
    CvxpyCone,
    CvxpySet,
    ellipsoid_reference,
    ellipsoidal_cone_reference,
    polish_polar_projection,
)

SOLVER_TOL = 1e-5  # Clarabel's accuracy through cvxpy (theory notes, section 4)


def test_support_of_simple_sets():
    rng = np.random.default_rng(1200)
    G = rng.standard_normal((4, 3))
    c = np.array([0.5, -1.0, 2.0])
    l1 = CvxpySet(3, lambda x: [cp.norm(x - c, 1) <= 2.0])
    box = CvxpySet(3, lambda x: [cp.abs(x - c) <= np.array([1.0, 0.5, 2.0])])
    np.testing.assert_allclose(l1.support(G), L1Ball(3, 2.0, center=c).support(G), atol=SOLVER_TOL)
    np.testing.assert_allclose(box.support(G), Box([1.0, 0.5, 2.0], center=c).support(G), atol=SOLVER_TOL)
    assert l1.support(G[0]) == pytest.approx(L1Ball(3, 2.0, center=c).support(G[0]), abs=SOLVER_TOL)


@pytest.mark.parametrize("radii,k", [([2.0, 0.5, 1.0], 3), ([2.0, 0.0, 1.0], 3), ([1.5, 0.7], 2)])
def test_ellipsoid_reference_support(radii, k):
    rng = np.random.default_rng(1201 + k)
    D = 3
    axes = np.linalg.qr(rng.standard_normal((D, D)))[0][:, :k]
    center = rng.standard_normal(D)
    E = Ellipsoid(radii, center=center, axes=axes)
    ref = ellipsoid_reference(radii, center=center, axes=axes)
    G = rng.standard_normal((4, D))
    np.testing.assert_allclose(ref.support(G), E.support(G), atol=SOLVER_TOL)


def test_unbounded_support_is_infinite():
    ref = ellipsoid_reference([1.0, np.inf])
    h = ref.support(np.array([[1.0, 0.0], [0.3, 1.0]]))
    assert h[0] == pytest.approx(1.0, abs=SOLVER_TOL) and h[1] == np.inf


def test_cone_projections_match_closed_forms():
    rng = np.random.default_rng(1202)
    G = rng.standard_normal((4, 4))
    orthant = CvxpyCone(4, lambda x: [x >= 0])
    np.testing.assert_allclose(orthant.project(G), Orthant(4).project(G), atol=SOLVER_TOL)
    B = rng.standard_normal((4, 2))
    sub = CvxpyCone(4, lambda x: [x == B @ cp.Variable(2)])
    np.testing.assert_allclose(sub.project(G), Subspace(B).project(G), atol=SOLVER_TOL)
    u = np.array([1.0, 0.0, 0.0, 0.0])
    circ = CvxpyCone(4, lambda x: [cp.norm(x[1:]) <= np.tan(0.6) * x[0]])
    np.testing.assert_allclose(circ.project(G), CircularCone(4, 0.6, axis=u).project(G), atol=SOLVER_TOL)
    np.testing.assert_allclose(circ.project_polar(G), G - CircularCone(4, 0.6).project(G), atol=SOLVER_TOL)


def test_ellipsoidal_cone_reference_of_a_ball_is_circular():
    """Ball of radius 1 at distance 2: the cone of half-angle 30 degrees around the offset."""
    rng = np.random.default_rng(1203)
    u = rng.standard_normal(3)
    u /= np.linalg.norm(u)
    ref = ellipsoidal_cone_reference(np.ones(3), 2.0 * u)
    G = rng.standard_normal((4, 3))
    np.testing.assert_allclose(ref.project(G), CircularCone(3, np.pi / 6, axis=u).project(G), atol=SOLVER_TOL)


def test_polishing_recovers_the_closed_form():
    """A projection perturbed at Clarabel's accuracy is polished back to 1e-12 (circular cone)."""
    rng = np.random.default_rng(1204)
    D = 5
    u = rng.standard_normal(D)
    u /= np.linalg.norm(u)
    R, r = 3.0, 1.2
    C = CircularCone(D, np.arcsin(r / R), axis=u)
    axes = np.linalg.qr(rng.standard_normal((D, D)))[0]
    for g in rng.standard_normal((6, D)):
        exact = g - C.project(g)
        noisy = exact + 1e-5 * rng.standard_normal(D)
        polished = polish_polar_projection(g, noisy, np.full(D, r), R * u, axes=axes)
        assert np.linalg.norm(polished - exact) <= 1e-12 * np.linalg.norm(g)


def test_polishing_returns_exact_interior_answers():
    radii, offset = np.array([1.0, 0.5]), np.array([3.0, 0.0])
    g_polar = np.array([-1.0, 0.1])  # in K° (near -offset)
    assert np.array_equal(polish_polar_projection(g_polar, g_polar + 1e-6, radii, offset), g_polar)
    g_cone = np.array([1.0, 0.05])  # in K (near offset)
    assert np.array_equal(polish_polar_projection(g_cone, np.full(2, 1e-6), radii, offset), np.zeros(2))


def test_polishing_with_flat_and_zero_radii():
    """Flat directions (v = 0 there) and zero radii: the polished solution satisfies the KKT system."""
    rng = np.random.default_rng(1205)
    radii = np.array([0.8, np.inf, 0.0, 1.5])
    offset = np.array([-4.0, 1.0, 0.7, 2.0])
    ref = ellipsoidal_cone_reference(radii, offset)
    for g in rng.standard_normal((4, 4)):
        v = polish_polar_projection(g, g - ref.project(g), radii, offset)
        assert v[1] == 0
        x = g - v
        assert abs(x @ v) <= 1e-12
        rv = np.sqrt(0.8 ** 2 * v[0] ** 2 + 1.5 ** 2 * v[3] ** 2)
        assert rv <= -offset @ v + 1e-12


def test_bad_input():
    with pytest.raises(TypeError, match="constraints_fn must be callable"):
        CvxpySet(2, [])
    with pytest.raises(ValueError, match="dim must be >= 1"):
        CvxpyCone(0, lambda x: [])
    with pytest.raises(ValueError, match="radii must be non-negative"):
        ellipsoid_reference([-1.0])
    with pytest.raises(ValueError, match="one column per radius"):
        ellipsoidal_cone_reference([1.0, 1.0], [3.0, 0.0, 0.0], axes=np.eye(3)[:, :1])
    with pytest.raises(ValueError, match="g must have shape"):
        polish_polar_projection(np.ones(3), np.ones(2), [1.0, 1.0], [3.0, 0.0])
    with pytest.raises(ValueError, match="G must have 2 columns"):
        CvxpySet(2, lambda x: [x >= 0]).support(np.ones((1, 3)))
    infeasible = CvxpyCone(1, lambda x: [x >= 1, x <= -1])
    with pytest.raises(RuntimeError, match="failed"):
        infeasible.project(np.ones(1))
