"""Tests of geometry.bounds: a_k, Gordon's escape bound, the ALMT kinematic functions.

Reference values are computed here by hand (explicit arithmetic with math.lgamma, exact
binomials), not by calling the code under test.
"""
import math

import numpy as np
import pytest
from scipy.special import gamma

from geometry import (
    Estimate,
    expected_norm,
    gordon_escape_probability,
    gordon_threshold,
    kinematic_interval,
    kinematic_success_probability,
    kinematic_threshold,
)


def a_by_hand(k):
    """a_k = sqrt(2) Gamma((k+1)/2) / Gamma(k/2) with math.lgamma (fine for moderate k)."""
    return math.sqrt(2.0) * math.exp(math.lgamma((k + 1) / 2) - math.lgamma(k / 2))


# ----------------------------------------------------------------------------- expected_norm

def test_expected_norm_small_exact_values():
    assert expected_norm(0) == 0.0
    assert expected_norm(1) == pytest.approx(math.sqrt(2 / math.pi), rel=1e-15)
    assert expected_norm(2) == pytest.approx(math.sqrt(math.pi / 2), rel=1e-15)
    assert expected_norm(3) == pytest.approx(2 * math.sqrt(2 / math.pi), rel=1e-15)


def test_expected_norm_matches_direct_gamma_up_to_300():
    k = np.arange(1, 301)
    direct = np.sqrt(2.0) * gamma((k + 1) / 2.0) / gamma(k / 2.0)
    np.testing.assert_allclose(expected_norm(k), direct, rtol=2e-13)


@pytest.mark.parametrize("k", [1, 7, 198, 199, 200, 201, 1000, 12345, 10 ** 6, 10 ** 9, 10 ** 12])
def test_expected_norm_exact_identities(k):
    # a_k a_{k+1} = k and a_{k+2} / a_k = (k + 1) / k, exact for every k; around k = 200
    # they tie the log-gamma branch to the asymptotic series
    a0, a1, a2 = expected_norm([k, k + 1, k + 2])
    assert a0 * a1 == pytest.approx(k, rel=4e-16)
    assert a2 / a0 == pytest.approx((k + 1) / k, rel=4e-16)


def test_expected_norm_bounds_up_to_1e9():
    k = np.unique(np.logspace(0, 9, 200).astype(np.int64)).astype(float)
    a = expected_norm(k)
    assert np.all(k / np.sqrt(k + 1) < a)
    assert np.all(a < np.sqrt(k))


def test_expected_norm_vectorised_shape_and_scalar():
    out = expected_norm(np.array([[1, 2], [3, 4]]))
    assert out.shape == (2, 2)
    assert isinstance(expected_norm(5), float)
    assert out[1, 1] == pytest.approx(a_by_hand(4), rel=1e-14)


@pytest.mark.parametrize("bad, err", [(-1, ValueError), (1.5, ValueError), (np.nan, ValueError),
                                      (np.inf, ValueError), ("3", TypeError), (True, TypeError),
                                      (None, TypeError), ([1, -2], ValueError)])
def test_expected_norm_bad_input(bad, err):
    with pytest.raises(err, match="k"):
        expected_norm(bad)


# ----------------------------------------------------------------------------- Gordon

def test_gordon_escape_probability_hand_computed():
    a100 = a_by_hand(100)  # 9.97496...
    gap = a100 - 5.0
    assert gordon_escape_probability(5.0, 100) == pytest.approx(1 - 3.5 * math.exp(-gap * gap / 18), rel=1e-12)
    assert gordon_escape_probability(5.0, 100, form="concentration") == pytest.approx(
        1 - math.exp(-gap * gap / 2), rel=1e-12)


def test_gordon_escape_probability_zero_when_width_reaches_a_k_and_clipped():
    a10 = a_by_hand(10)
    assert gordon_escape_probability(a10 + 0.1, 10) == 0.0
    assert gordon_escape_probability(a10, 10, form="concentration") == 0.0
    # a small gap makes 1 - 3.5 exp(...) negative: clipped to 0
    assert gordon_escape_probability(a10 - 0.5, 10) == 0.0
    assert gordon_escape_probability(0.0, 10 ** 6) == 1.0


def test_gordon_escape_probability_broadcasts_and_accepts_estimate():
    w = np.array([[1.0], [3.0]])
    k = np.array([20, 50, 200])
    out = gordon_escape_probability(w, k, form="concentration")
    assert out.shape == (2, 3)
    expect = [[1 - math.exp(-(a_by_hand(kk) - ww) ** 2 / 2) for kk in k] for ww in (1.0, 3.0)]
    np.testing.assert_allclose(out, expect, rtol=1e-12)
    assert np.all(np.diff(out, axis=1) >= 0)  # more codimension, more escape
    est = Estimate(3.0, 0.1, 100, "monte-carlo")
    assert gordon_escape_probability(est, 50) == gordon_escape_probability(3.0, 50)


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(width=-1.0, codim=10), ValueError, "width"),
    (dict(width=np.nan, codim=10), ValueError, "width"),
    (dict(width=np.inf, codim=10), ValueError, "width"),
    (dict(width=1.0, codim=-1), ValueError, "codim"),
    (dict(width=1.0, codim=2.5), ValueError, "codim"),
    (dict(width=1.0, codim=10, form="gordon"), ValueError, "form"),
    (dict(width="1", codim=10), TypeError, "width"),
])
def test_gordon_escape_probability_bad_input(kwargs, err, match):
    with pytest.raises(err, match=match):
        gordon_escape_probability(**kwargs)


def _threshold_by_scan(w, D, confidence, c, s):
    """Largest d in [0, D] with 1 - c exp(-(a_{D-d} - w)^2 / s) >= confidence (w < a), else 0."""
    best = 0
    for d in range(D + 1):
        a = a_by_hand(D - d) if D - d > 0 else 0.0
        if w < a and 1 - c * math.exp(-(a - w) ** 2 / s) >= confidence:
            best = d
    return best


def test_gordon_threshold_hand_computed():
    # concentration form: need a_k >= 5 + sqrt(2 log 10) = 7.1460; a_51 = 7.0887, a_52 = 7.1589
    assert a_by_hand(51) < 5 + math.sqrt(2 * math.log(10)) < a_by_hand(52)
    assert gordon_threshold(5.0, 1000, confidence=0.9, form="concentration") == 1000 - 52
    # Gordon 1988: need a_k >= 5 + sqrt(18 log 35) = 13.0016...
    need = 5 + math.sqrt(18 * math.log(3.5 / 0.1))
    k = next(k for k in range(1, 1000) if a_by_hand(k) >= need)
    assert gordon_threshold(5.0, 1000, confidence=0.9) == 1000 - k


@pytest.mark.parametrize("w, D, conf, form", [(2.0, 60, 0.5, "concentration"), (3.3, 300, 0.99, "gordon1988"),
                                              (0.0, 40, 0.9, "gordon1988"), (7.0, 80, 0.9, "concentration")])
def test_gordon_threshold_matches_scan(w, D, conf, form):
    c, s = {"gordon1988": (3.5, 18.0), "concentration": (1.0, 2.0)}[form]
    assert gordon_threshold(w, D, confidence=conf, form=form) == _threshold_by_scan(w, D, conf, c, s)


def test_gordon_threshold_nothing_guaranteed_is_zero_and_monotone():
    assert gordon_threshold(40.0, 100) == 0  # w > a_100: no guarantee at all
    ds = [gordon_threshold(w, 500, confidence=0.9) for w in (1.0, 5.0, 10.0, 15.0)]
    assert ds == sorted(ds, reverse=True) and ds[0] > ds[-1]
    assert isinstance(gordon_threshold(1.0, 500), int)


def test_gordon_threshold_uses_upper_confidence_bound_of_an_estimate():
    est = Estimate(5.0, 0.5, 1000, "monte-carlo")
    upper = est.ci(0.95)[1]
    assert gordon_threshold(est, 1000) == gordon_threshold(upper, 1000)
    assert gordon_threshold(est, 1000, width_level=0.5) == gordon_threshold(est.ci(0.5)[1], 1000)
    assert gordon_threshold(est, 1000) < gordon_threshold(5.0, 1000)
    assert gordon_threshold(Estimate.exact(5.0, "exact"), 1000) == gordon_threshold(5.0, 1000)


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(width=1.0, D=0), ValueError, "D"),
    (dict(width=1.0, D=10.5), TypeError, "D"),
    (dict(width=1.0, D=10, confidence=0.0), ValueError, "confidence"),
    (dict(width=1.0, D=10, confidence=1.0), ValueError, "confidence"),
    (dict(width=np.nan, D=10), ValueError, "width"),
    (dict(width=[1.0, 2.0], D=10), (ValueError, TypeError), "width|scalar"),
    (dict(width=-0.5, D=10), ValueError, "width"),
    (dict(width=1.0, D=10, form="x"), ValueError, "form"),
    (dict(width=Estimate(1.0, 0.1, 10, "mc"), D=10, width_level=1.5), ValueError, "width_level"),
])
def test_gordon_threshold_bad_input(kwargs, err, match):
    with pytest.raises(err, match=match):
        gordon_threshold(**kwargs)


# ----------------------------------------------------------------------------- kinematic

def test_kinematic_threshold_values():
    assert kinematic_threshold(30.0, 100) == 70.0
    assert kinematic_threshold(Estimate(30.0, 1.0, 50, "mc"), 100) == 70.0
    np.testing.assert_array_equal(kinematic_threshold([0.0, 50.0, 100.0], 100), [100.0, 50.0, 0.0])


@pytest.mark.parametrize("delta, D", [(-1.0, 10), (11.0, 10), (np.nan, 10), (1.0, 0)])
def test_kinematic_threshold_bad_input(delta, D):
    with pytest.raises(ValueError, match="delta|D"):
        kinematic_threshold(delta, D)


def test_kinematic_interval_hand_computed():
    a_eta = math.sqrt(8 * math.log(4 / 0.1))  # 5.4324
    lo, hi = kinematic_interval(5000.0, 10000, eta=0.1)
    assert lo == pytest.approx(5000 - a_eta * 100, rel=1e-14)
    assert hi == pytest.approx(5000 + a_eta * 100, rel=1e-14)
    res = kinematic_interval(5000.0, 10000, eta=0.1)
    assert (res.low, res.high) == (lo, hi)


def test_kinematic_interval_clipped_to_range():
    lo, hi = kinematic_interval(10.0, 100, eta=0.05)  # half-width sqrt(8 log 80) * 10 = 59.2
    assert lo == pytest.approx(90 - math.sqrt(8 * math.log(80)) * 10)
    assert hi == 100.0
    assert kinematic_interval(99.0, 100, eta=0.5).low == 0.0


@pytest.mark.parametrize("kwargs, match", [
    (dict(delta=1.0, D=10, eta=0.0), "eta"), (dict(delta=1.0, D=10, eta=1.0), "eta"),
    (dict(delta=20.0, D=10), "delta"), (dict(delta=-1.0, D=10), "delta"), (dict(delta=1.0, D=-3), "D"),
])
def test_kinematic_interval_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        kinematic_interval(**kwargs)


def wendel(D, d):
    """P(the orthant of R^D meets a random d-dim subspace) = P(D symmetric points of R^d lie in a
    half-space) = 2^{1-D} sum_{k<d} C(D-1, k) (Wendel 1962)."""
    return sum(math.comb(D - 1, k) for k in range(d)) / 2 ** (D - 1)


@pytest.mark.parametrize("D", [1, 2, 5, 12, 40])
def test_kinematic_success_probability_orthant_is_wendel(D):
    nu = np.array([math.comb(D, j) for j in range(D + 1)], dtype=float) / 2 ** D
    ds = np.arange(D + 1)
    expect = [wendel(D, int(d)) for d in ds]
    np.testing.assert_allclose(kinematic_success_probability(nu, ds), expect, rtol=1e-13, atol=1e-15)
    assert kinematic_success_probability(nu, 0) == 0.0
    assert kinematic_success_probability(nu, D) == pytest.approx(1.0, rel=1e-14)


def test_kinematic_success_probability_hand_computed_small():
    nu = np.array([0.1, 0.3, 0.4, 0.2])  # D = 3, odd and even sums 1/2
    # d = 1: 2 (nu_3) ; d = 2: 2 (nu_2) ; d = 3: 2 (nu_1 + nu_3)
    np.testing.assert_allclose(kinematic_success_probability(nu, [0, 1, 2, 3]), [0.0, 0.4, 0.8, 1.0])


def test_kinematic_success_probability_subspace_point_mass():
    D, k = 10, 4
    nu = np.zeros(D + 1)
    nu[k] = 1.0
    ds = np.arange(D + 1)
    np.testing.assert_array_equal(kinematic_success_probability(nu, ds), (ds + k > D).astype(float))


def test_kinematic_success_probability_accepts_object_with_volumes():
    class Vol:
        volumes = np.array([0.25, 0.5, 0.25])

    assert kinematic_success_probability(Vol(), 1) == pytest.approx(0.5)


@pytest.mark.parametrize("volumes, d, match", [
    ([0.5, 0.6], 1, "sum"), ([1.2, -0.2], 1, "non-negative"), ([[0.5, 0.5]], 1, "1-D"),
    ([1.0], 0, "length"), ([0.5, np.nan], 1, "NaN"), ([0.25, 0.5, 0.25], 3, "d"),
    ([0.25, 0.5, 0.25], -1, "d"), ([0.25, 0.5, 0.25], 1.5, "d"), ([], 0, "empty"),
])
def test_kinematic_success_probability_bad_input(volumes, d, match):
    with pytest.raises(ValueError, match=match):
        kinematic_success_probability(volumes, d)
