"""Tests of geometry.width: closed forms, Monte Carlo estimators, properties of the width.

Order: exact values (closed forms computed by hand here), then Monte Carlo against them
(4 standard errors, fixed seeds; data seeds >= 1000, estimator seeds small), then
properties (hypothesis, paired Gaussian directions), then bad input.
"""
import math

import numpy as np
import pytest
from cone_helpers import HalfSpace, HookedCircularCone
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import betainc

from geometry import (
    Ball,
    Box,
    CircularCone,
    ConvexCone,
    Ellipsoid,
    Estimate,
    L1Ball,
    Orthant,
    PointCloud,
    Set,
    Sphere,
    Subspace,
    expected_norm,
    gaussian_width,
    statistical_dimension,
)

SQRT_2_PI = math.sqrt(2 / math.pi)
MC = dict(method="monte-carlo")


def assert_within(est, exact, n_se=4.0):
    """A Monte Carlo estimate within n_se standard errors of the exact value."""
    assert not est.is_exact
    assert est.stderr > 0
    assert abs(est.value - exact) <= n_se * est.stderr, (est, exact)


def random_orthonormal(D, k, seed):
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((D, k)))
    return Q


class Segment(Set):
    """The segment [-e_1, e_1]: h(g) = |g_1|, width sqrt(2/pi); no closed form in the code."""

    def __init__(self, dim):
        self.dim = dim

    def _support(self, G):
        return np.abs(G[:, 0])

    @property
    def radius(self):
        return 1.0


# ----------------------------------------------------------------------------- exact values

@pytest.mark.parametrize("D", [1, 2, 3, 50, 10 ** 6])
def test_ball_and_sphere_exact(D):
    aD = expected_norm(D)
    assert gaussian_width(Ball(D, 2.5)).value == pytest.approx(2.5 * aD, rel=1e-14)
    assert gaussian_width(Sphere(D)).value == pytest.approx(aD, rel=1e-14)
    assert statistical_dimension(Sphere(D)).value == D
    assert gaussian_width(Ball(D, 1.0)).is_exact


def test_low_dimensional_ball_values_by_hand():
    assert gaussian_width(Ball(1)).value == pytest.approx(SQRT_2_PI)
    assert gaussian_width(Ball(3, 1.0, center=[1.0, 2.0, 3.0])).value == pytest.approx(2 * SQRT_2_PI)


@pytest.mark.parametrize("D", [1, 5, 1000])
def test_cube_width(D):
    assert gaussian_width(Box(1.0, dim=D)).value == pytest.approx(D * SQRT_2_PI, rel=1e-14)
    hw = np.arange(1, D + 1, dtype=float)
    assert gaussian_width(Box(hw, center=np.ones(D))).value == pytest.approx(SQRT_2_PI * hw.sum(), rel=1e-14)


def test_l1_ball_width_by_hand():
    # D = 1: E|g| = sqrt(2/pi); D = 2: E max(|g1|, |g2|) = E R * E max(|cos|, |sin|) = 2/sqrt(pi)
    assert gaussian_width(L1Ball(1, 3.0)).value == pytest.approx(3.0 * SQRT_2_PI, rel=1e-10)
    assert gaussian_width(L1Ball(2, 1.0)).value == pytest.approx(2.0 / math.sqrt(math.pi), rel=1e-10)


def test_ellipsoid_width_exact():
    # isotropic: r a_D; with k orthonormal axes in R^D: the same as the k radii alone
    assert gaussian_width(Ellipsoid([2.0] * 7)).value == pytest.approx(2 * expected_norm(7), rel=1e-10)
    radii = np.array([3.0, 1.0, 0.5, 0.0])
    flat = gaussian_width(Ellipsoid(radii)).value
    embedded = gaussian_width(Ellipsoid(radii, center=np.ones(9), axes=random_orthonormal(9, 4, 1001))).value
    assert embedded == pytest.approx(flat, rel=1e-12)
    # sqrt(2/pi) ||r|| <= w <= ||r||
    assert SQRT_2_PI * np.linalg.norm(radii) <= flat <= np.linalg.norm(radii)
    assert gaussian_width(Ellipsoid([0.0, 0.0])).value == 0.0


def test_orthant_exact_values():
    # D = 2 by hand: E||g_+|| = a_1/2 + a_2/4, minus (1/4) E min(|g1|, |g2|) = (1/4)(2 a_1 - 2/sqrt(pi))
    a1, a2 = SQRT_2_PI, math.sqrt(math.pi / 2)
    w2 = a1 / 2 + a2 / 4 - (2 * a1 - 2 / math.sqrt(math.pi)) / 4
    assert gaussian_width(Orthant(2)).value == pytest.approx(w2, rel=1e-12)
    assert gaussian_width(Orthant(1)).value == pytest.approx(0.0, abs=1e-14)  # T = {1}: E g = 0
    assert gaussian_width(Orthant(2)).extra["mean_projection_norm"] == pytest.approx(a1 / 2 + a2 / 4)
    for D in (1, 7, 300):
        assert statistical_dimension(Orthant(D)).value == D / 2


def test_subspace_exact_values():
    L = Subspace(np.random.default_rng(1002).standard_normal((12, 5)))
    assert statistical_dimension(L).value == 5
    assert gaussian_width(L).value == pytest.approx(expected_norm(5))


def test_circular_cone_low_dimensions_by_hand():
    for a in (0.2, math.pi / 4, 1.3):
        # D = 2 (a wedge of angle 2a): theta uniform on [0, pi]
        assert statistical_dimension(CircularCone(2, a)).value == pytest.approx(2 * a / math.pi + 0.5, rel=1e-12)
        w2 = math.sqrt(math.pi / 2) * (a + math.sin(a)) / math.pi
        assert gaussian_width(CircularCone(2, a)).value == pytest.approx(w2, rel=1e-12)
        # D = 3: density sin(theta)/2
        assert statistical_dimension(CircularCone(3, a)).value == pytest.approx(1.5 + math.sin(a) - math.cos(a),
                                                                                 rel=1e-12)
        w3 = 2 * SQRT_2_PI * ((1 - math.cos(a)) / 2 + (math.pi - a) * math.sin(a) / 4)
        assert gaussian_width(CircularCone(3, a)).value == pytest.approx(w3, rel=1e-12)
    # the quarter plane is both Orthant(2) and CircularCone(2, pi/4)
    assert gaussian_width(CircularCone(2, math.pi / 4)).value == pytest.approx(gaussian_width(Orthant(2)).value)


@pytest.mark.parametrize("D", [2, 3, 10, 200, 10 ** 4, 10 ** 6])
def test_circular_cone_at_pi_over_4_is_half(D):
    # K and its polar are congruent, so delta(K) = D - delta(K) = D/2
    assert statistical_dimension(CircularCone(D, math.pi / 4)).value == pytest.approx(D / 2, rel=1e-10)


def _outside_middle_probability(D, a):
    """P(theta < a) + P(theta > a + pi/2), from cos^2(theta) ~ Beta(1/2, (D-1)/2) (closed form)."""
    tail = lambda c: 0.5 * (1.0 - betainc(0.5, (D - 1) / 2.0, c * c))  # P(cos theta > c), c >= 0
    return tail(math.cos(a)) + tail(math.sin(a))


@pytest.mark.parametrize("D", [200, 10 ** 6])
@pytest.mark.parametrize("a", [0.3, 0.6, math.pi / 4, 1.2])
def test_circular_cone_approximation_within_rigorous_bound(D, a):
    # D E cos^2(theta - a) = D sin^2 a + cos 2a exactly (E cos^2 theta = 1/D, E sin cos = 0);
    # f differs from cos^2(theta - a) by at most 1, and only outside [a, a + pi/2], so
    # |delta - (D sin^2 a + cos 2a)| <= D P(theta outside [a, a + pi/2])
    delta = statistical_dimension(CircularCone(D, a)).value
    approx = D * math.sin(a) ** 2 + math.cos(2 * a)
    bound = D * _outside_middle_probability(D, a)
    assert abs(delta - approx) <= bound + 1e-9 * D


def test_circular_cone_large_dimension_stable_and_almt():
    for a in (0.05, 0.7, 1.5):
        K = CircularCone(10 ** 6, a)
        delta, w = statistical_dimension(K).value, gaussian_width(K).value
        assert np.isfinite(delta) and np.isfinite(w)
        assert w ** 2 <= delta <= w ** 2 + 1
        assert w <= gaussian_width(K).extra["mean_projection_norm"] + 1e-9


@given(D=st.integers(2, 60), a=st.floats(0.02, 1.55))
def test_almt_sandwich_exact_circular_cones(D, a):
    K = CircularCone(D, a)
    delta, w = statistical_dimension(K), gaussian_width(K)
    assert w.value ** 2 <= delta.value + 1e-10
    assert delta.value <= w.value ** 2 + 1 + 1e-10
    # E||Pi_K g|| is between w and sqrt(delta) (Jensen), and within 1 of sqrt(delta)^2
    m = delta.extra["mean_projection_norm"]
    assert w.value - 1e-10 <= m <= math.sqrt(delta.value) + 1e-10
    assert delta.value - 1 <= m ** 2 + 1e-10


# ----------------------------------------------------------------------------- Monte Carlo

@pytest.mark.parametrize("T", [
    Ball(20, 2.0, center=np.full(20, 5.0)), Sphere(15), Box(np.linspace(0.5, 2, 10), center=np.ones(10)),
    L1Ball(30, 1.5, center=np.arange(30.0)), Orthant(12), CircularCone(40, 0.4),
    Ellipsoid([3.0, 1.0, 0.5, 0.5, 0.0], center=np.ones(8), axes=random_orthonormal(8, 5, 1003)),
    Subspace(np.random.default_rng(1004).standard_normal((10, 3))),
], ids=lambda T: type(T).__name__)
def test_width_monte_carlo_matches_closed_form(T):
    exact = gaussian_width(T)
    est = gaussian_width(T, 4000, seed=1, **MC)
    assert_within(est, exact.value)
    assert est.method.startswith("monte-carlo")
    assert est.lipschitz == pytest.approx(T.radius)
    if isinstance(T, ConvexCone):
        assert_within(Estimate(est.extra["mean_projection_norm"], est.extra["mean_projection_norm_stderr"],
                               4000, "mc"), exact.extra["mean_projection_norm"])


@pytest.mark.parametrize("K", [Orthant(12), CircularCone(40, 0.4), CircularCone(200, math.pi / 4), Sphere(9),
                               Subspace(np.random.default_rng(1005).standard_normal((10, 3))), HalfSpace(7)],
                         ids=lambda K: type(K).__name__)
def test_statistical_dimension_monte_carlo_matches_closed_form(K):
    exact = K.dim - 0.5 if isinstance(K, HalfSpace) else statistical_dimension(K).value
    est = statistical_dimension(K, 4000, seed=2, **MC)
    if isinstance(K, (Sphere, Subspace)):
        # ||Pi g||^2 ~ chi^2_k exactly: check the mean with its own standard error
        assert abs(est.value - exact) <= 4 * est.stderr
    else:
        assert_within(est, exact)
    assert est.lipschitz is None
    assert est.extra["mean_projection_norm"] ** 2 <= est.value + 1e-12  # Jensen, sample by sample


def test_no_closed_form_falls_back_to_monte_carlo_or_raises():
    est = statistical_dimension(HalfSpace(5), 2000, seed=3)
    assert not est.is_exact and est.method == "monte-carlo: projection"
    with pytest.raises(ValueError, match="no closed form"):
        statistical_dimension(HalfSpace(5), method="exact")
    seg = gaussian_width(Segment(4), 4000, seed=4)
    assert_within(seg, SQRT_2_PI)
    with pytest.raises(ValueError, match="no closed form"):
        gaussian_width(Segment(4), method="exact")


@pytest.mark.parametrize("r_over_R", [0.1, 0.3, 0.5, 1 / math.sqrt(2), 0.9])
def test_ball_at_distance_statistical_dimension(r_over_R):
    """Ball of radius r at distance R: K = circular cone of half-angle arcsin(r/R), D = 200.

    The Monte Carlo estimate must match the exact integral within 4 standard errors. The
    approximation D r^2/R^2 + 1 - 2 r^2/R^2 is tested only up to its rigorous error bound
    D P(theta outside [a, a + pi/2]) (see test_circular_cone_approximation_within_rigorous_bound):
    below 0.02 for r/R >= 0.3; at r/R = 0.1 the bound is void, and the exact value 2.9516
    differs from the approximation 2.98 by 0.028.
    """
    D, s2 = 200, r_over_R ** 2
    K = CircularCone(D, math.asin(r_over_R))
    exact = statistical_dimension(K).value
    est = statistical_dimension(K, 4000, seed=5, **MC)
    assert_within(est, exact)
    approx = D * s2 + 1 - 2 * s2
    bound = D * _outside_middle_probability(D, math.asin(r_over_R))
    if r_over_R >= 0.3:
        assert bound < 0.02
        assert abs(exact - approx) <= bound + 1e-9 * D  # plus quadrature round-off
        assert abs(est.value - approx) <= 4 * est.stderr + bound
    else:
        assert abs(exact - approx) < 0.05


def test_ball_at_distance_through_directions_from():
    directions = pytest.importorskip("geometry.directions", reason="geometry.directions (H1) not available")
    D, r, R = 200, 3.0, 6.0
    center = np.zeros(D)
    center[3] = R
    K = directions.directions_from(Ball(D, r, center), np.zeros(D))
    exact = statistical_dimension(CircularCone(D, math.asin(r / R))).value
    assert_within(statistical_dimension(K, 4000, seed=6, **MC), exact)


def test_cone_hooks_are_used_and_agree_with_exact_values():
    K = HookedCircularCone(500, 0.5)
    HookedCircularCone.calls = 0
    w = gaussian_width(K, 4000, seed=7, **MC)
    delta = statistical_dimension(K, 4000, seed=7, **MC)
    assert HookedCircularCone.calls == 2
    assert "hook" in w.method and "hook" in delta.method
    exact = CircularCone(500, 0.5)
    assert_within(w, gaussian_width(exact).value)
    assert_within(delta, statistical_dimension(exact).value)
    # with G given, the hook is not used: the directions are projected
    G = np.random.default_rng(1006).standard_normal((50, 500))
    paired = statistical_dimension(K, G=G)
    assert paired.method == "monte-carlo: given G" and HookedCircularCone.calls == 2
    np.testing.assert_allclose(paired.value, statistical_dimension(exact, G=G).value, rtol=1e-12)


def test_hook_batches_keep_memory_bounded():
    K = HookedCircularCone(10, 0.5)
    HookedCircularCone.calls = 0
    gaussian_width(K, 1000, seed=0, batch_size=300, **MC)
    assert HookedCircularCone.calls == 4


def test_given_directions_and_samples():
    G = np.random.default_rng(1007).standard_normal((300, 6))
    T = Ball(6, 2.0, center=np.ones(6))
    est = gaussian_width(T, G=G, keep_samples=True)
    assert est.n_samples == 300 and est.method == "monte-carlo: given G"
    np.testing.assert_allclose(est.samples, 2.0 * np.linalg.norm(G, axis=1), rtol=1e-12)  # centred
    K = Orthant(6)
    d = statistical_dimension(K, G=G, keep_samples=True)
    np.testing.assert_allclose(d.samples, (np.maximum(G, 0) ** 2).sum(axis=1), rtol=1e-12)


def test_reproducible_and_batch_size_independent():
    T = Box(np.linspace(1, 2, 30))
    a = gaussian_width(T, 500, seed=11, **MC)
    b = gaussian_width(T, 500, seed=11, batch_size=7, **MC)
    c = gaussian_width(T, 500, seed=np.random.default_rng(11), **MC)
    assert a.value == b.value == c.value
    assert gaussian_width(T, 500, seed=12, **MC).value != a.value
    K = CircularCone(30, 0.7)
    assert (statistical_dimension(K, 500, seed=3, batch_size=13, **MC).value
            == statistical_dimension(K, 500, seed=3, **MC).value)


def test_concentration_interval_available_for_widths():
    est = gaussian_width(Ball(10, 3.0), 2000, seed=8, **MC)
    lo, hi = est.ci(0.95, kind="concentration")
    half = 3.0 * math.sqrt(2 * math.log(2 / 0.05) / 2000)
    assert hi - lo == pytest.approx(2 * half)
    assert lo <= 3.0 * expected_norm(10) <= hi


@pytest.mark.parametrize("method", ["auto", "monte-carlo"])
def test_unbounded_set_raises(method):
    E = Ellipsoid([1.0, np.inf, 2.0])
    with pytest.raises(ValueError, match="unbounded"):
        gaussian_width(E, 100, seed=0, method=method)


# ----------------------------------------------------------------------------- properties

points = st.integers(min_value=1, max_value=6).flatmap(
    lambda n: st.integers(min_value=1, max_value=5).flatmap(
        lambda D: st.lists(st.lists(st.floats(-3, 3), min_size=D, max_size=D), min_size=n, max_size=n)))


def _paired(T, G, center=True):
    return gaussian_width(T, G=G, center=center).value


@given(X=points, seed=st.integers(1000, 2000))
def test_width_of_convex_hull_equals_width_of_points(X, seed):
    X = np.array(X)
    rng = np.random.default_rng(seed)
    lam = rng.dirichlet(np.ones(X.shape[0]), size=5)
    hull = np.vstack([X, lam @ X])
    G = rng.standard_normal((50, X.shape[1]))
    # sample by sample h_hull(g) = h_X(g) (raw samples: the centroids differ)
    raw = dict(center=False)
    assert _paired(PointCloud(hull), G, **raw) == pytest.approx(_paired(PointCloud(X), G, **raw), rel=1e-10, abs=1e-10)


@given(X=points, seed=st.integers(1000, 2000), scale=st.floats(0.1, 10))
def test_width_translation_rotation_scaling(X, seed, scale):
    X = np.array(X)
    D = X.shape[1]
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((50, D))
    w = _paired(PointCloud(X), G)
    shift = rng.standard_normal(D) * 5
    # translation: sup <g, x + c> - <g, centroid + c> is the same sample
    assert _paired(PointCloud(X + shift), G) == pytest.approx(w, rel=1e-9, abs=1e-9)
    # rotation: sup <Q g, Q x> = sup <g, x>
    Q = random_orthonormal(D, D, seed + 1)
    assert _paired(PointCloud(X @ Q.T), G @ Q.T) == pytest.approx(w, rel=1e-9, abs=1e-9)
    assert _paired(PointCloud(scale * X), G) == pytest.approx(scale * w, rel=1e-9, abs=1e-9)


@given(X=points, seed=st.integers(1000, 2000))
def test_width_monotone_under_inclusion(X, seed):
    X = np.array(X)
    rng = np.random.default_rng(seed)
    Y = np.vstack([X, rng.standard_normal((3, X.shape[1]))])
    G = rng.standard_normal((50, X.shape[1]))
    raw = dict(center=False)  # sample by sample h_X(g) <= h_Y(g); centred samples need not be
    assert _paired(PointCloud(X), G, **raw) <= _paired(PointCloud(Y), G, **raw) + 1e-12
    # and a ball containing the points
    c = X.mean(axis=0)
    R = np.linalg.norm(X - c, axis=1).max() + 1e-9
    assert _paired(PointCloud(X), G, **raw) <= _paired(Ball(X.shape[1], R, center=c), G, **raw) + 1e-12


@given(D=st.integers(2, 8), a=st.floats(0.1, 1.4), seed=st.integers(1000, 2000))
def test_almt_sandwich_monte_carlo(D, a, seed):
    # paired estimates of w and delta from the same directions, with 4-standard-error slack
    G = np.random.default_rng(seed).standard_normal((400, D))
    K = CircularCone(D, a)
    w = gaussian_width(K, G=G)
    d = statistical_dimension(K, G=G)
    slack_w2 = 4 * 2 * abs(w.value) * w.stderr
    assert w.value ** 2 - slack_w2 <= d.value + 4 * d.stderr
    assert d.value - 4 * d.stderr <= w.value ** 2 + 1 + slack_w2


# ----------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("fn", [gaussian_width, statistical_dimension])
@pytest.mark.parametrize("kwargs, err, match", [
    (dict(n_samples=1), ValueError, "n_samples"), (dict(n_samples=0), ValueError, "n_samples"),
    (dict(n_samples=2.5), TypeError, "n_samples"), (dict(n_samples="10"), TypeError, "n_samples"),
    (dict(method="mc"), ValueError, "method"), (dict(seed=-1), ValueError, "seed"),
    (dict(seed="a"), TypeError, "seed"), (dict(batch_size=0), ValueError, "batch_size"),
    (dict(G=np.ones((5, 3))), ValueError, "G"), (dict(G=np.ones((1, 4))), ValueError, "G"),
    (dict(G=np.full((5, 4), np.nan)), ValueError, "G"), (dict(G=np.ones((5, 4)), method="exact"), ValueError, "G"),
])
def test_estimators_bad_input(fn, kwargs, err, match):
    with pytest.raises(err, match=match):
        fn(Orthant(4), **{"n_samples": 100, **kwargs})


def test_center_must_be_bool():
    with pytest.raises(TypeError, match="center"):
        gaussian_width(Ball(3), 10, seed=0, center="yes")


def test_wrong_set_types():
    with pytest.raises(TypeError, match="geometry.Set"):
        gaussian_width(np.eye(3))
    with pytest.raises(TypeError, match="ConvexCone"):
        statistical_dimension(Ball(3))
