"""Tests of geometry.Estimate: values, intervals (normal and concentration), validation."""
import math
from statistics import NormalDist

import numpy as np
import pytest

from geometry import Estimate


def test_from_samples_mean_and_standard_error():
    x = np.array([1.0, 2.0, 4.0, 7.0])
    est = Estimate.from_samples(x, "monte-carlo: test", keep_samples=True, lipschitz=2.0, other=3.0)
    assert est.value == pytest.approx(3.5)
    sd = math.sqrt(((x - 3.5) ** 2).sum() / 3)
    assert est.stderr == pytest.approx(sd / 2)
    assert est.n_samples == 4 and not est.is_exact
    np.testing.assert_array_equal(est.samples, x)
    assert est.lipschitz == 2.0 and est.extra == {"other": 3.0}
    assert Estimate.from_samples(x, "mc").samples is None
    assert float(est) == 3.5


def test_normal_interval():
    est = Estimate(10.0, 0.5, 100, "mc")
    z = NormalDist().inv_cdf(0.975)
    lo, hi = est.ci(0.95)
    assert lo == pytest.approx(10 - z * 0.5) and hi == pytest.approx(10 + z * 0.5)
    lo90, hi90 = est.ci(0.9)
    assert lo < lo90 < hi90 < hi


def test_concentration_interval_hand_computed():
    est = Estimate(1.0, 0.01, 800, "mc", lipschitz=3.0)
    half = 3.0 * math.sqrt(2 * math.log(2 / 0.1) / 800)
    assert est.ci(0.9, kind="concentration") == pytest.approx((1 - half, 1 + half))


def test_concentration_interval_covers_in_simulation():
    # means of n samples of a 1-Lipschitz function of Gaussians (|g|): the non-asymptotic
    # interval must cover E|g| = sqrt(2/pi) at least at its level (it is conservative)
    rng = np.random.default_rng(1000)
    truth = math.sqrt(2 / math.pi)
    cover = 0
    for _ in range(200):
        est = Estimate.from_samples(np.abs(rng.standard_normal(50)), "mc", lipschitz=1.0)
        lo, hi = est.ci(0.8, kind="concentration")
        cover += lo <= truth <= hi
    assert cover >= 0.8 * 200


def test_exact_estimate():
    est = Estimate.exact(2.5, "exact: test", mean_projection_norm=1.0)
    assert est.is_exact and est.stderr == 0 and est.n_samples == 0
    assert est.ci(0.99) == (2.5, 2.5)
    assert est.ci(0.5, kind="concentration") == (2.5, 2.5)
    assert est.extra["mean_projection_norm"] == 1.0
    assert "exact" in repr(est)


def test_repr_mentions_interval_and_extras():
    est = Estimate(2.0, 0.1, 100, "monte-carlo", extra={"mean_projection_norm": 1.5, "note": "x"})
    text = repr(est)
    assert "95% CI" in text and "n_samples=100" in text and "mean_projection_norm=1.5" in text
    assert "note" not in text


@pytest.mark.parametrize("level", [0.0, 1.0, -0.1, 1.5, np.nan])
def test_ci_bad_level(level):
    with pytest.raises(ValueError, match="level"):
        Estimate(1.0, 0.1, 10, "mc").ci(level)


@pytest.mark.parametrize("level", ["0.9", True, None])
def test_ci_level_wrong_type(level):
    with pytest.raises(TypeError, match="level"):
        Estimate(1.0, 0.1, 10, "mc").ci(level)


def test_ci_bad_kind_and_missing_lipschitz():
    est = Estimate(1.0, 0.1, 10, "mc")
    with pytest.raises(ValueError, match="kind"):
        est.ci(0.9, kind="bootstrap")
    with pytest.raises(ValueError, match="Lipschitz"):
        est.ci(0.9, kind="concentration")


@pytest.mark.parametrize("samples, match", [([1.0], "n_samples"), ([], "n_samples"),
                                            ([1.0, np.inf], "non-finite"), ([1.0, np.nan], "non-finite")])
def test_from_samples_bad_input(samples, match):
    with pytest.raises(ValueError, match=match):
        Estimate.from_samples(np.array(samples), "mc")


def test_frozen():
    est = Estimate(1.0, 0.1, 10, "mc")
    with pytest.raises(AttributeError):
        est.value = 2.0
