"""directions_from: the projection of a set onto the unit sphere around a point.

Ellipsoid and ball seen from outside -> EllipsoidalCone (checked against the circular cone
and brute-force normalised points), origin inside or on the boundary -> Sphere, point
clouds -> normalised directions; bad input. Data seeds >= 1000.
"""
import numpy as np
import pytest

from geometry import (
    Ball,
    Box,
    CircularCone,
    Ellipsoid,
    EllipsoidalCone,
    PointCloud,
    Sphere,
    directions_from,
)


def test_ball_outside_is_a_circular_cone():
    rng = np.random.default_rng(1300)
    c = np.array([0.0, 4.0, 3.0])  # distance 5 from the origin
    P = directions_from(Ball(3, 3.0, center=c), np.zeros(3))
    assert isinstance(P, EllipsoidalCone)
    C = CircularCone(3, np.arcsin(3.0 / 5.0), axis=c)
    G = rng.standard_normal((200, 3))
    np.testing.assert_allclose(P.project(G), C.project(G), atol=1e-13)
    np.testing.assert_allclose(P.support(G), C.support(G), atol=1e-13)


def test_ellipsoid_outside_support_matches_normalised_points():
    """sup over P(S) of <g, x> >= every normalised sample point of S, and is attained up to 1e-3."""
    rng = np.random.default_rng(1301)
    axes = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    E = Ellipsoid([1.0, 0.4, 0.7], center=[3.0, -1.0, 0.5], axes=axes)
    origin = np.array([0.2, 0.1, -0.3])
    P = directions_from(E, origin)
    assert isinstance(P, EllipsoidalCone) and P.dim == 3
    u = rng.standard_normal((100000, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    pts = E.center + (u * E.radii) @ axes.T - origin
    dirs = pts / np.linalg.norm(pts, axis=1, keepdims=True)
    G = rng.standard_normal((20, 3))
    brute = (G @ dirs.T).max(axis=1)
    h = P.support(G)
    assert np.all(h >= brute - 1e-12)
    assert np.all(h <= brute + 1e-3)
    # and the same cone as EllipsoidalCone.from_ellipsoid
    np.testing.assert_allclose(P.project(G), EllipsoidalCone.from_ellipsoid(E, origin).project(G))


@pytest.mark.parametrize("S,origin", [
    (Ball(3, 1.0, center=[0.5, 0.0, 0.0]), np.zeros(3)),
    (Ball(2, 1.0, center=[1.0, 0.0]), np.zeros(2)),  # on the boundary
    (Ellipsoid([2.0, 0.5]), [1.0, 0.1]),
    (Ellipsoid([1.0, np.inf], center=[0.0, 30.0]), [0.5, 0.0]),  # inside a flat direction
    (Ellipsoid([1.0, 1.0, 0.0], center=[0.0, 0.0, 0.0]), [0.3, 0.3, 0.0]),  # a flat disc
])
def test_origin_inside_gives_the_sphere(S, origin):
    P = directions_from(S, origin)
    assert isinstance(P, Sphere) and P.dim == S.dim


def test_flat_ellipsoid_off_its_plane_is_a_cone():
    P = directions_from(Ellipsoid([1.0, 1.0, 0.0]), [0.3, 0.3, 1e-3])
    assert isinstance(P, EllipsoidalCone)


def test_point_cloud_directions():
    X = np.array([[1.0, 2.0], [3.0, 0.0], [-1.0, -1.0]])
    origin = np.array([1.0, 0.0])
    P = directions_from(PointCloud(X), origin)
    assert isinstance(P, PointCloud)
    expected = (X - origin) / np.linalg.norm(X - origin, axis=1, keepdims=True)
    np.testing.assert_allclose(P.points, expected)
    G = np.random.default_rng(1302).standard_normal((10, 2))
    np.testing.assert_allclose(P.support(G), (G @ expected.T).max(axis=1))
    assert isinstance(directions_from(PointCloud(X), X[1]), Sphere)


def test_bad_input():
    with pytest.raises(TypeError, match="supports Ellipsoid, Ball and PointCloud"):
        directions_from(Box(1.0, dim=2), np.zeros(2))
    with pytest.raises(TypeError, match="S must be a geometry.Set"):
        directions_from(np.eye(2), np.zeros(2))
    with pytest.raises(ValueError, match=r"origin must have shape \(3,\)"):
        directions_from(Ball(3), np.zeros(2))
    with pytest.raises(ValueError, match="origin contains NaN"):
        directions_from(Ball(2), [np.nan, 0.0])
    with pytest.raises(ValueError, match="origin must be 1-D"):
        directions_from(Ball(2), np.zeros((2, 1)))
