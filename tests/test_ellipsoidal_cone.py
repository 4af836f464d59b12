"""EllipsoidalCone against independent references.

* projections against the cvxpy reference of the primal cone (geometry.convex), polished
  by Newton's method on the KKT system, at 1e-6 relative: generic radii, flat directions
  (infinite radii), zero radii, degenerate axes, an offset nearly orthogonal to the stiff
  directions, points on either side of the boundaries of K and of its polar, D = 50;
* the sphere support function inside the polar cone against brute force over the
  boundary of the ellipsoid (D = 2, 3);
* a ball seen from outside is a circular cone (geometry.CircularCone);
* the cone of a point (a ray), rotation invariance, ALMT's w^2 <= delta <= w^2 + 1;
* the grouped sampling hooks at D = 1e7 against the circular-cone formula;
* bad input.

Data seeds >= 1000, estimator seeds small.
"""
import numpy as np
import pytest
from scipy import optimize

from geometry import CircularCone, Ellipsoid, EllipsoidalCone
from geometry.convex import ellipsoidal_cone_reference, polish_polar_projection

TOL = 1e-6


# --------------------------------------------------------------------------- references
def reference_polar_projection(radii, offset, axes, G):
    """cvxpy projection onto K, turned into the polar projection by Moreau, then polished."""
    ref = ellipsoidal_cone_reference(radii, offset, axes=axes)
    X = ref.project(G)
    return np.array([polish_polar_projection(g, g - x, radii, offset, axes=axes) for g, x in zip(G, X)])


def brute_sphere_support(radii, offset, axes, g, rng):
    r"""max over u in the unit sphere of <g, x>/||x||, x = offset + U diag(r) u (the boundary of E - o)."""
    k = radii.shape[0]
    U = np.eye(k) if axes is None else axes

    def value(u):
        x = offset + U @ (radii * u / np.linalg.norm(u))
        return g @ x / np.linalg.norm(x)

    if k == 2:
        theta = np.linspace(0.0, 2 * np.pi, 20001)
        grid = np.column_stack([np.cos(theta), np.sin(theta)])
    else:
        grid = rng.standard_normal((20000, k))
    vals = np.array([value(u) for u in grid])
    best = -np.inf
    for u0 in grid[np.argsort(vals)[-3:]]:
        res = optimize.minimize(lambda u: -value(u), u0, method="BFGS", options={"gtol": 1e-13})
        best = max(best, -res.fun, vals.max())
    return best


def make_instance(rng, D, kind):
    """Radii, offset and axes of a random cone of the given kind (origin outside)."""
    k = D
    radii = np.exp(rng.uniform(-1.5, 1.5, D))
    axes = None
    if kind == "flat":
        radii[rng.permutation(D)[:2]] = np.inf
    elif kind == "zero":
        radii[rng.permutation(D)[:2]] = 0.0
    elif kind == "degenerate axes":
        k = D - 2
        radii = radii[:k]
        axes = np.linalg.qr(rng.standard_normal((D, D)))[0][:, :k]
    elif kind == "rotated":
        axes = np.linalg.qr(rng.standard_normal((D, D)))[0]
    direction = rng.standard_normal(D)
    if kind == "stiff-orthogonal":
        direction[radii < np.median(radii)] *= 1e-5
    for scale in (1.5, 3.0, 6.0, 12.0):
        offset = direction / np.linalg.norm(direction) * scale * np.max(radii[np.isfinite(radii)])
        try:
            return radii, offset, axes, EllipsoidalCone(radii, offset, axes=axes)
        except ValueError:
            continue
    raise AssertionError("could not place the origin outside")


def probe_points(rng, K, n):
    """Random rows plus rows just outside the polar cone, just outside K, inside both."""
    G = rng.standard_normal((n, K.dim))
    v0, x0 = K.project_polar(G[0]), K.project(G[0])
    rows = [G[1], G[2]]
    if np.linalg.norm(v0) > 0 and np.linalg.norm(x0) > 0:
        rows.append(v0 + 1e-6 * np.linalg.norm(v0) * x0 / np.linalg.norm(x0))  # just outside K°
        rows.append(x0 + 1e-6 * np.linalg.norm(x0) * v0 / np.linalg.norm(v0))  # just outside K
        rows.append(v0 - 1e-3 * x0)  # inside K° (when K° has interior)
        rows.append(x0 - 1e-3 * v0)  # inside K
    return np.array(rows + list(G[3:]))


# --------------------------------------------------------------------------- projections vs cvxpy
@pytest.mark.parametrize("kind,D", [("generic", 5), ("rotated", 6), ("flat", 6), ("zero", 6),
                                    ("degenerate axes", 7), ("stiff-orthogonal", 6), ("generic", 50)])
def test_projections_match_cvxpy_reference(kind, D):
    rng = np.random.default_rng(1100 + D + len(kind))
    radii, offset, axes, K = make_instance(rng, D, kind)
    G = probe_points(rng, K, 4)
    V = K.project_polar(G)
    ref = reference_polar_projection(radii, offset, axes, G)
    scale = np.linalg.norm(G, axis=1)
    assert np.all(np.linalg.norm(V - ref, axis=1) <= TOL * scale), np.linalg.norm(V - ref, axis=1) / scale
    P = K.project(G)
    assert np.all(np.linalg.norm(P - (G - ref), axis=1) <= TOL * scale)
    # Moreau: g = Pi_K g + Pi_K° g, orthogonal; squared norms agree with the projections
    np.testing.assert_allclose(P + V, G, atol=1e-12)
    assert np.all(np.abs(np.einsum("ij,ij->i", P, V)) <= 1e-12 * scale ** 2)
    np.testing.assert_allclose(K.squared_projection_norms(G), np.einsum("ij,ij->i", P, P), rtol=1e-12, atol=1e-14)


def test_polar_projection_is_in_the_polar_cone():
    """v = Pi_K°(g) satisfies ||diag(r) U^T v|| <= <o - c, v> (up to roundoff), v = 0 on flat axes."""
    rng = np.random.default_rng(1101)
    radii, offset, axes, K = make_instance(rng, 8, "flat")
    V = K.project_polar(rng.standard_normal((500, 8)))
    fin = np.isfinite(radii)
    C = V if axes is None else V @ axes
    lhs = np.linalg.norm(C[:, fin] * radii[fin], axis=1)
    assert np.all(lhs <= -V @ offset + 1e-12 * np.linalg.norm(V, axis=1))
    assert np.all(np.abs(C[:, ~fin]) <= 1e-15)


def test_inside_cases_are_exact():
    """g in K° projects to itself; g in K (e.g. the offset direction) projects to 0."""
    radii, offset = np.array([1.0, 0.5, 2.0]), np.array([4.0, -1.0, 0.5])
    K = EllipsoidalCone(radii, offset)
    assert np.array_equal(K.project_polar(-offset), -offset)  # -offset lies in K°
    assert np.array_equal(K.project(-offset), np.zeros(3))
    assert np.array_equal(K.project(offset), offset)
    assert np.array_equal(K.project_polar(offset), np.zeros(3))
    assert np.array_equal(K.project(np.zeros(3)), np.zeros(3))


# --------------------------------------------------------------------------- sphere support
@pytest.mark.parametrize("D,axes_kind", [(2, None), (3, None), (3, "rotated"), (2, "repeated")])
def test_sphere_support_in_polar_matches_brute_force(D, axes_kind):
    rng = np.random.default_rng(1110 + D + (axes_kind is not None))
    radii = np.exp(rng.uniform(-1.0, 1.0, D))
    if axes_kind == "repeated":
        radii[:] = radii[0]
    axes = np.linalg.qr(rng.standard_normal((D, D)))[0] if axes_kind == "rotated" else None
    offset = rng.standard_normal(D)
    offset *= 2.0 * radii.max() / np.linalg.norm(offset)
    K = EllipsoidalCone(radii, offset, axes=axes)
    G = rng.standard_normal((400, D))
    polar = np.linalg.norm(K.project(G), axis=1) == 0
    G = np.vstack([G[polar][:4], -offset])  # -offset: on the axis of the polar cone
    h = K.support(G)
    assert np.all(h <= 0)
    for g, value in zip(G, h):
        expected = brute_sphere_support(radii, offset, axes, g, rng)
        assert abs(value - expected) <= TOL * np.linalg.norm(g), (g, value, expected)


def test_sphere_support_outside_polar_is_the_projection_norm():
    rng = np.random.default_rng(1111)
    _, _, _, K = make_instance(rng, 6, "zero")
    G = rng.standard_normal((300, 6))
    norms = np.linalg.norm(K.project(G), axis=1)
    h = K.support(G)
    out = norms > 0
    np.testing.assert_allclose(h[out], norms[out], rtol=1e-12)
    assert np.all(h[~out] <= 0)
    np.testing.assert_allclose(K._support_in_polar(G[~out]), h[~out])


def test_sphere_support_with_flat_directions_is_zero_in_the_polar():
    """K contains a line: sup over K ∩ S of <g, x> is 0 for g in K° (which has no flat part)."""
    K = EllipsoidalCone([1.0, np.inf, 0.5], [3.0, 0.0, 0.0])
    assert K.support(np.array([-1.0, 0.0, 0.0])) == 0.0
    assert K.support(np.array([-1.0, 1e-3, 0.0])) == pytest.approx(1e-3, rel=1e-12)


def test_sphere_support_on_degenerate_axes_matches_brute_force():
    rng = np.random.default_rng(1112)
    axes = np.linalg.qr(rng.standard_normal((3, 3)))[0][:, :2]
    radii = np.array([0.7, 1.3])
    offset = axes @ np.array([2.5, 0.4]) + 0.3 * np.cross(axes[:, 0], axes[:, 1])
    K = EllipsoidalCone(radii, offset, axes=axes)
    G = rng.standard_normal((400, 3))
    G = G[np.linalg.norm(K.project(G), axis=1) == 0][:3]
    for g, value in zip(G, K.support(G)):
        assert abs(value - brute_sphere_support(radii, offset, axes, g, rng)) <= TOL * np.linalg.norm(g)


# --------------------------------------------------------------------------- closed forms
@pytest.mark.parametrize("D", [2, 3, 10])
def test_ball_from_outside_is_a_circular_cone(D):
    rng = np.random.default_rng(1120 + D)
    R, r = 3.0, 1.3
    u = rng.standard_normal(D)
    u /= np.linalg.norm(u)
    K = EllipsoidalCone(np.full(D, r), R * u)
    C = CircularCone(D, np.arcsin(r / R), axis=u)
    G = rng.standard_normal((500, D))
    w = G[0] - (G[0] @ u) * u
    G[:6] = [u, -u, -3 * u, np.zeros(D), w, w + 1e-9 * u]  # axis, polar axis, zero, perpendicular
    np.testing.assert_allclose(K.project(G), C.project(G), atol=1e-13)
    np.testing.assert_allclose(K.project_polar(G), G - C.project(G), atol=1e-13)
    np.testing.assert_allclose(K.support(G), C.support(G), atol=1e-13)
    assert K.n_groups == 1


def test_point_ellipsoid_gives_a_ray():
    """All radii 0: K is the ray through the offset a; Pi_K g = max(<g, a>, 0) a / |a|^2."""
    a = np.array([1.0, -2.0, 2.0])
    K = EllipsoidalCone(np.zeros(3), a)
    G = np.random.default_rng(1121).standard_normal((50, 3))
    expected = np.outer(np.maximum(G @ a, 0.0), a) / (a @ a)
    np.testing.assert_allclose(K.project(G), expected, atol=1e-14)
    np.testing.assert_allclose(K.support(G), G @ a / 3.0, atol=1e-14)  # K ∩ S = {a/|a|}


def test_one_dimensional_cone_is_a_half_line():
    K = EllipsoidalCone([1.0], [3.0])
    assert K.project(np.array([2.0]))[0] == 2.0 and K.project(np.array([-2.0]))[0] == 0.0
    assert K.support(np.array([-2.0])) == -2.0 and K.support(np.array([0.5])) == 0.5


def test_rotation_invariance():
    rng = np.random.default_rng(1122)
    radii, offset = np.array([0.4, 1.0, 2.0, np.inf, 0.0]), rng.standard_normal(5) * 5
    Q = np.linalg.qr(rng.standard_normal((5, 5)))[0]
    K = EllipsoidalCone(radii, offset)
    Kq = EllipsoidalCone(radii, Q @ offset, axes=Q)
    G = rng.standard_normal((100, 5))
    np.testing.assert_allclose(Kq.project(G @ Q.T), K.project(G) @ Q.T, atol=1e-12)
    np.testing.assert_allclose(Kq.support(G @ Q.T), K.support(G), atol=1e-12)


def test_almt_width_and_statistical_dimension():
    """w(K ∩ S)^2 <= delta(K) <= w(K ∩ S)^2 + 1, from the sampling hooks (4 standard errors)."""
    K = EllipsoidalCone([0.5, 1.0, 2.0, 3.0], [4.0, 0.5, -1.0, 0.2], multiplicities=[5, 20, 3, 2])
    n = 8000
    h = K._sample_sphere_support(n, np.random.default_rng(0))
    d = K._sample_squared_projection_norms(n, np.random.default_rng(1))
    w, delta = h.mean(), d.mean()
    se = 2 * abs(w) * h.std(ddof=1) / np.sqrt(n) + d.std(ddof=1) / np.sqrt(n)
    assert w * w - 4 * se <= delta <= w * w + 1 + 4 * se, (w * w, delta)


def test_ten_million_dimensions_match_the_circular_cone_formula():
    """One group: a ball of radius 1 at distance 2 in D = 1e7; delta ~ D sin^2 a + cos 2a."""
    D = 10 ** 7
    K = EllipsoidalCone([1.0], [2.0], multiplicities=[D])
    d = K._sample_squared_projection_norms(2000, np.random.default_rng(2))
    alpha = np.arcsin(0.5)
    expected = D * np.sin(alpha) ** 2 + np.cos(2 * alpha)
    assert abs(d.mean() - expected) < 4 * d.std(ddof=1) / np.sqrt(d.size) + 1.0
    # Moreau: ||Pi_K g||^2 + ||Pi_K° g||^2 = ||g||^2 ~ chi^2_D
    nK, nP = K._sample_projection_pairs(50, np.random.default_rng(3))
    assert nK.shape == nP.shape == (50,)
    assert abs((nK + nP).mean() - D) < 4 * np.sqrt(2 * D / 50)


# --------------------------------------------------------------------------- constructors, seeds
def test_constructors_agree():
    rng = np.random.default_rng(1130)
    axes = np.linalg.qr(rng.standard_normal((4, 4)))[0][:, :3]
    E = Ellipsoid([1.0, 2.0, np.inf], center=[3.0, 1.0, 0.0, 2.0], axes=axes)
    origin = np.array([-1.0, 0.5, 0.0, 0.0])
    K1 = EllipsoidalCone.from_ellipsoid(E, origin)
    K2 = EllipsoidalCone(E.radii, E.center - origin, axes=axes)
    lam = 2 * 0.5 / np.array([1.0, 2.0, np.inf]) ** 2
    K3 = EllipsoidalCone.from_quadratic(lam, E.center - origin, 0.5, axes=axes)
    G = rng.standard_normal((20, 4))
    np.testing.assert_allclose(K1.project(G), K2.project(G))
    np.testing.assert_allclose(K3.project(G), K2.project(G), atol=1e-14)
    assert "n_groups=3" in repr(K1) and "flat_dim=1" in repr(K1)


def test_hooks_are_reproducible_from_the_seed():
    K = EllipsoidalCone([0.5, 2.0], [3.0, 1.0], multiplicities=[4, 3])
    a = K._sample_projection_pairs(50, np.random.default_rng(7))
    b = K._sample_projection_pairs(50, np.random.default_rng(7))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert np.array_equal(K._sample_sphere_support(30, 7), K._sample_sphere_support(30, 7))
    assert not np.array_equal(K._sample_sphere_support(30, 7), K._sample_sphere_support(30, 8))


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs,match", [
    (dict(radii=[1.0, np.nan], offset=[3.0, 0.0]), "radii contains NaN"),
    (dict(radii=[1.0, -1.0], offset=[3.0, 0.0]), "radii must be non-negative"),
    (dict(radii=[[1.0]], offset=[3.0]), "radii must be 1-D"),
    (dict(radii=[1.0, 1.0], offset=[3.0]), r"offset must have shape \(2\)"),
    (dict(radii=[1.0, 1.0], offset=[3.0, np.inf]), "offset must be finite"),
    (dict(radii=[1.0, 1.0], offset=[3.0, 0.0], axes=[[1.0, 0.0], [1.0, 1.0]]), "orthonormal"),
    (dict(radii=[1.0, 1.0], offset=[3.0, 0.0, 0.0], axes=np.eye(3)[:, :1]), "one column per radius"),
    (dict(radii=[1.0], offset=[3.0], axes=np.eye(1), multiplicities=[2]), "cannot be combined"),
    (dict(radii=[1.0, 2.0], offset=[3.0, 0.0], multiplicities=[2, 0]), "multiplicities must be >= 1"),
    (dict(radii=[1.0, 2.0], offset=[3.0, 0.0], multiplicities=[2]), "multiplicities must have shape"),
    (dict(radii=[1.0, 1.0], offset=[0.5, 0.0]), "directions_from"),
    (dict(radii=[1.0, 1.0], offset=[1.0, 0.0]), "boundary"),
    (dict(radii=[np.inf, np.inf], offset=[5.0, 0.0]), "inside"),
])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EllipsoidalCone(**kwargs)


def test_bad_types():
    with pytest.raises(TypeError, match="multiplicities must be integers"):
        EllipsoidalCone([1.0], [3.0], multiplicities=[1.5])
    with pytest.raises(TypeError, match="radii must be an array"):
        EllipsoidalCone("1.0", [3.0])
    with pytest.raises(TypeError, match="must be a geometry.Ellipsoid"):
        EllipsoidalCone.from_ellipsoid([1.0], [0.0])
    with pytest.raises(ValueError, match="eigenvalues must be non-negative"):
        EllipsoidalCone.from_quadratic([-1.0], [3.0], 1.0)
    with pytest.raises(ValueError, match="level must be > 0"):
        EllipsoidalCone.from_quadratic([1.0], [3.0], 0.0)


def test_bad_directions():
    K = EllipsoidalCone([1.0, 1.0], [3.0, 0.0])
    with pytest.raises(ValueError, match="G must have 2 columns"):
        K.project(np.ones((4, 3)))
    with pytest.raises(ValueError, match="G contains NaN"):
        K.support(np.array([np.nan, 1.0]))
    with pytest.raises(ValueError, match="G must have 2 columns"):
        K.squared_projection_norms(np.ones(3))
    with pytest.raises(TypeError, match="rng"):
        K._sample_squared_projection_norms(5, "seed")
