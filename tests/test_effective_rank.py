"""Effective ranks of Hessian spectra against closed forms on known spectra."""
import math

import numpy as np
import pytest

from landscape import QuadraticWell
from landscape.models.spectra import flat_spectrum, two_level_spectrum
from landscape.theory import SpectralModel, effective_ranks, slq_spectrum


def geometric_closed_forms(q, D, f):
    """lambda_i = q^i, i = 0..D-1: threshold count, participation ratio, entropy rank."""
    count = min(D, math.ceil(math.log(f) / math.log(q)))   # q^i > f  <=>  i < log f / log q
    s1 = (1 - q ** D) / (1 - q)
    s2 = (1 - q ** (2 * D)) / (1 - q ** 2)
    pr = s1 ** 2 / s2
    mean_i = q / (1 - q) - D * q ** D / (1 - q ** D)      # mean of the truncated geometric law
    entropy = -math.log(q) * mean_i - math.log((1 - q) / (1 - q ** D))
    return count, pr, math.exp(entropy)


def test_k_equal_eigenvalues_give_k_three_times():
    r = effective_ranks(np.concatenate([np.full(7, 3.5), np.zeros(13)]))
    assert r.threshold_count == 7 and r.participation_ratio == pytest.approx(7)
    assert r.entropy_rank == pytest.approx(7)
    assert r.D == 20 and r.n_negative == 0


@pytest.mark.parametrize("q,D,f", [(0.9, 200, 0.01), (0.5, 30, 1e-3), (0.99, 1000, 0.05)])
def test_geometric_spectrum_closed_forms(q, D, f):
    r = effective_ranks(q ** np.arange(D), fraction=f)
    count, pr, er = geometric_closed_forms(q, D, f)
    assert r.threshold_count == count
    assert r.participation_ratio == pytest.approx(pr, rel=1e-10)
    assert r.entropy_rank == pytest.approx(er, rel=1e-10)
    assert r.participation_ratio <= r.entropy_rank <= D


def test_two_level_spectrum_closed_forms():
    # k eigenvalues at 1, D - k at c: PR = (k + (D-k)c)^2 / (k + (D-k)c^2), entropy by hand
    D, k, c = 500, 20, 0.01
    lam = two_level_spectrum(D, k, stiff=1.0, soft=c)
    big = np.sum(lam == lam.max())
    small = lam.min()
    expected_pr = (big * lam.max() + (D - big) * small) ** 2 / (big * lam.max() ** 2 + (D - big) * small ** 2)
    r = effective_ranks(lam, fraction=0.5)
    assert r.threshold_count == big
    assert r.participation_ratio == pytest.approx(expected_pr, rel=1e-12)
    p1, p2 = lam.max() / lam.sum(), small / lam.sum()
    H = -(big * p1 * math.log(p1) + (D - big) * p2 * math.log(p2))
    assert r.entropy_rank == pytest.approx(math.exp(H), rel=1e-12)


def test_multiplicities_and_grouped_models_agree_with_the_expanded_spectrum():
    values, mult = np.array([5.0, 1.0, 0.1, 0.0]), np.array([3, 10, 40, 7])
    full = effective_ranks(np.repeat(values, mult), fraction=0.05)
    grouped = effective_ranks(values, mult, fraction=0.05)
    model = effective_ranks(SpectralModel(values, mult, np.ones(4)), fraction=0.05)
    for r in (grouped, model):
        assert r.threshold_count == full.threshold_count == 13
        assert r.participation_ratio == pytest.approx(full.participation_ratio, rel=1e-12)
        assert r.entropy_rank == pytest.approx(full.entropy_rank, rel=1e-12)


def test_slq_spectrum_of_a_few_distinct_values_is_exact():
    lam = np.repeat([4.0, 1.0, 0.25], [10, 30, 60])
    rho = slq_spectrum(lambda v: lam * v, 100, n_probes=4, n_steps=10, seed=0)
    exact = effective_ranks(lam)
    r = effective_ranks(rho)
    # SLQ weights are exact only in expectation over probes: within a few percent here
    assert r.participation_ratio == pytest.approx(exact.participation_ratio, rel=0.1)
    assert r.entropy_rank == pytest.approx(exact.entropy_rank, rel=0.1)
    assert r.D == pytest.approx(100)


def test_negative_eigenvalues_are_left_out_and_reported():
    r = effective_ranks([2.0, 2.0, -0.5, 0.0])
    assert r.participation_ratio == pytest.approx(2) and r.n_negative == 1 and r.most_negative == -0.5
    model = SpectralModel([2.0, -0.5], [2, 3], [1.0, 1.0])
    rm = effective_ranks(model)
    assert rm.n_negative == 3 and rm.most_negative == -0.5 and rm.participation_ratio == pytest.approx(2)


def test_bad_input():
    with pytest.raises(ValueError, match="no positive eigenvalue"):
        effective_ranks([0.0, -1.0])
    with pytest.raises(ValueError, match="fraction"):
        effective_ranks([1.0], fraction=1.5)
    with pytest.raises(ValueError, match="multiplicities"):
        effective_ranks([1.0, 2.0], [1.0])
    from landscape.theory import top_eigenpairs

    top = top_eigenpairs(np.diag(np.arange(1.0, 6.0)), 5, 2, seed=0)
    with pytest.raises(TypeError, match="top k"):
        effective_ranks(top)


def test_flat_well_every_rank_is_D():
    well = QuadraticWell(flat_spectrum(40))
    r = effective_ranks(well.eigenvalues)
    assert (r.threshold_count, r.participation_ratio, round(r.entropy_rank, 9)) == (40, pytest.approx(40), 40)
