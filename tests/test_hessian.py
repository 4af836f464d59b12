"""Tests of landscape.theory.hessian: Lanczos eigenpairs and stochastic Lanczos quadrature.

References: numpy.linalg.eigh of dense random symmetric matrices, exact traces, and
diagonal operators (whose SLQ weights are exact for Rademacher probes). Data seeds
are >= 1000, estimator seeds small.
"""
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from landscape.models.quadratic import QuadraticWell, random_basis
from landscape.theory.hessian import (
    HessianOperator,
    hessian_operator,
    integer_multiplicities,
    slq_spectrum,
    top_eigenpairs,
)


def wigner(D, seed):
    """Dense symmetric matrix with N(0, 1/D) entries: eigenvalues fill [-2, 2] (semicircle)."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((D, D))
    return (A + A.T) / np.sqrt(2 * D)


def spiked(D, seed):
    """Wigner bulk plus 4 well separated positive spikes."""
    rng = np.random.default_rng(seed)
    H = wigner(D, seed)
    U = np.linalg.qr(rng.standard_normal((D, 4)))[0]
    return H + (U * np.array([20.0, 12.0, 8.0, 5.0])) @ U.T


def true_cdf(lam, x):
    return np.searchsorted(np.sort(lam), x, side="right") / lam.size


# --------------------------------------------------------------------------- operator
def test_operator_from_callable_matrix_and_linear_operator_agree():
    H = wigner(30, 1000)
    v = np.random.default_rng(1001).standard_normal(30)
    ops = [hessian_operator(lambda x: H @ x, 30), hessian_operator(H, 30),
           hessian_operator(HessianOperator(H, 30), 30)]
    from scipy.sparse.linalg import aslinearoperator

    ops.append(hessian_operator(aslinearoperator(H), 30))
    for op in ops:
        np.testing.assert_allclose(op.matvec(v), H @ v, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(op.rmatvec(v), H @ v, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(op.matmat(np.eye(30)), H, rtol=1e-13, atol=1e-13)
    op = ops[0]
    assert op.n_products > 0
    np.testing.assert_allclose(op.to_dense(), H, atol=1e-13)
    assert op.H is op


def test_operator_bad_input():
    with pytest.raises(ValueError, match="shape"):
        hessian_operator(lambda v: np.ones(5), 4).matvec(np.ones(4))
    with pytest.raises(ValueError, match="non-finite"):
        hessian_operator(lambda v: v * np.nan, 4).matvec(np.ones(4))
    with pytest.raises(ValueError, match="expected"):
        hessian_operator(np.eye(3), 4)
    with pytest.raises(TypeError, match="hvp must"):
        hessian_operator("H", 4)
    with pytest.raises(ValueError, match="D must"):
        hessian_operator(lambda v: v, 0)
    with pytest.raises(TypeError, match="D must"):
        hessian_operator(lambda v: v, 2.5)
    with pytest.raises(ValueError, match="size 3"):
        hessian_operator(HessianOperator(np.eye(3), 3), 4)


# --------------------------------------------------------------------------- top eigenpairs
def test_top_eigenpairs_match_eigh():
    D, k = 300, 6
    H = spiked(D, 1002)
    lam, V = np.linalg.eigh(H)
    top = top_eigenpairs(H, D, k, seed=0)
    np.testing.assert_allclose(top.eigenvalues, lam[::-1][:k], rtol=0, atol=1e-8)
    # eigenvectors up to sign; spikes are separated, so each vector is determined
    overlap = np.abs(np.sum(top.eigenvectors[:, :4] * V[:, ::-1][:, :4], axis=0))
    np.testing.assert_allclose(overlap, 1.0, atol=1e-8)
    np.testing.assert_allclose(top.eigenvectors.T @ top.eigenvectors, np.eye(k), atol=1e-10)
    assert top.residuals(H).max() < 1e-8
    assert top.n_products > 0 and top.k == k and top.D == D


def test_smallest_and_largest_magnitude():
    D = 200
    H = wigner(D, 1003) - 3.0 * np.eye(D)  # eigenvalues in about [-5, -1]
    lam = np.linalg.eigvalsh(H)
    low = top_eigenpairs(H, D, 3, seed=1, which="SA")
    np.testing.assert_allclose(low.eigenvalues, lam[:3], atol=1e-8)
    mag = top_eigenpairs(H, D, 3, seed=1, which="LM")
    np.testing.assert_allclose(mag.eigenvalues, lam[np.argsort(-np.abs(lam))][:3], atol=1e-8)
    top = top_eigenpairs(H, D, 2, seed=1)
    np.testing.assert_allclose(top.eigenvalues, lam[::-1][:2], atol=1e-8)


def test_top_eigenpairs_reproducible():
    H = spiked(150, 1004)
    a = top_eigenpairs(H, 150, 4, seed=7)
    b = top_eigenpairs(H, 150, 4, seed=7)
    np.testing.assert_array_equal(a.eigenvalues, b.eigenvalues)
    np.testing.assert_array_equal(a.eigenvectors, b.eigenvectors)
    # sign convention: the largest-magnitude entry of each vector is positive
    idx = np.argmax(np.abs(a.eigenvectors), axis=0)
    assert np.all(a.eigenvectors[idx, np.arange(4)] > 0)


def test_top_eigenpairs_bad_input():
    H = np.eye(5)
    with pytest.raises(ValueError, match="k must be < D"):
        top_eigenpairs(H, 5, 5)
    with pytest.raises(ValueError, match="k must be >= 1"):
        top_eigenpairs(H, 5, 0)
    with pytest.raises(ValueError, match="which"):
        top_eigenpairs(H, 5, 2, which="BE")
    with pytest.raises(ValueError, match="expected"):
        top_eigenpairs(np.eye(4), 5, 2)
    with pytest.raises(ValueError, match="shape"):
        top_eigenpairs(lambda v: v[:-1], 5, 2, seed=0)
    with pytest.raises(ValueError, match="non-finite"):
        top_eigenpairs(lambda v: np.full(5, np.nan), 5, 2, seed=0)
    with pytest.raises(TypeError, match="seed"):
        top_eigenpairs(H, 5, 2, seed="a")
    with pytest.raises(ValueError, match="ncv"):
        top_eigenpairs(H, 5, 2, ncv=2)


# --------------------------------------------------------------------------- SLQ
def test_slq_traces_within_standard_errors():
    D = 300
    H = wigner(D, 1005)
    lam = np.linalg.eigvalsh(H)
    rho = slq_spectrum(H, D, n_probes=30, n_steps=12, seed=2)
    assert rho.n_probes == 30 and rho.dim == D and rho.n_products == 30 * 12
    np.testing.assert_allclose(rho.weights.sum(), 1.0, atol=1e-12)
    for p in range(rho.n_probes):
        np.testing.assert_allclose(rho.per_probe(p)[1].sum(), 1.0, atol=1e-12)
    for f, exact in [(lambda x: x, lam.sum()), (np.square, np.sum(lam ** 2)),
                     (lambda x: x ** 3, np.sum(lam ** 3))]:
        est = rho.trace(f)
        assert est.stderr > 0
        assert abs(est.value - exact) < 4 * est.stderr, (est, exact)
    # the moments of the measure are the traces divided by D
    np.testing.assert_allclose(rho.moment(2), rho.trace(np.square).value / D, rtol=1e-12)
    np.testing.assert_allclose(rho.moment(0), 1.0, atol=1e-12)


def test_slq_cdf_close_to_true_spectrum():
    D = 400
    H = wigner(D, 1006)
    lam = np.linalg.eigvalsh(H)
    rho = slq_spectrum(H, D, n_probes=20, n_steps=40, seed=3)
    x = np.linspace(-2.5, 2.5, 501)
    assert np.abs(rho.cdf(x) - true_cdf(lam, x)).max() < 0.06
    # quantiles invert the cdf; the median of a semicircle is near 0
    q = rho.quantiles([0.1, 0.5, 0.9])
    np.testing.assert_allclose(q, np.quantile(lam, [0.1, 0.5, 0.9]), atol=0.15)
    assert np.all(rho.cdf(q) >= [0.1, 0.5, 0.9])
    # smoothed density integrates to 1 and follows the semicircle
    grid = np.linspace(-4, 4, 4001)
    dens = rho.density(grid, 0.1)
    np.testing.assert_allclose(np.trapezoid(dens, grid), 1.0, atol=1e-6)
    semicircle = np.sqrt(np.maximum(4 - grid ** 2, 0)) / (2 * np.pi)
    assert np.abs(dens - semicircle)[np.abs(grid) < 1.5].max() < 0.05


def test_slq_exact_on_diagonal_spectrum_with_few_values():
    """For a diagonal H the Rademacher Gauss weights are exactly m_g / D, and Lanczos stops
    at an invariant subspace after as many steps as distinct eigenvalues."""
    values = np.array([0.0, 0.5, 1.0, 3.0, 7.0])
    mult = np.array([400, 250, 200, 100, 50])
    lam = np.repeat(values, mult)
    lam = lam[np.random.default_rng(1007).permutation(lam.size)]
    D = lam.size
    rho = slq_spectrum(lambda v: lam * v, D, n_probes=3, n_steps=50, seed=4)
    assert rho.n_products <= 3 * 5
    g_values, g_mult = rho.groups()
    np.testing.assert_allclose(g_values, values, atol=1e-9)
    np.testing.assert_array_equal(g_mult, mult)
    for f in (lambda x: x, np.square, np.exp):
        est = rho.trace(f)
        np.testing.assert_allclose(est.value, f(lam).sum(), rtol=1e-10)
        assert est.stderr < 1e-8 * abs(est.value)
    # Ritz values equal the eigenvalues only to rounding (3.0 may come out as 3 - 4e-16)
    np.testing.assert_allclose(rho.cdf(values + 1e-9), np.cumsum(mult) / D, atol=1e-12)
    g_values, g_mult = rho.groups(total=10_000)
    np.testing.assert_array_equal(g_mult, mult * 10)


def test_slq_deflation_describes_the_bulk():
    D = 300
    H = spiked(D, 1008)
    lam = np.linalg.eigvalsh(H)
    top = top_eigenpairs(H, D, 4, seed=5)
    rho = slq_spectrum(H, D, n_probes=20, n_steps=30, seed=6, deflate=top.eigenvectors)
    bulk = lam[:-4]
    assert rho.dim == D - 4 and rho.extra["deflated"] == 4
    assert rho.nodes.max() < bulk.max() + 1e-6  # no spike leaks into the bulk
    assert rho.nodes.min() > bulk.min() - 1e-6
    for f, exact in [(lambda x: x, bulk.sum()), (np.square, np.sum(bulk ** 2))]:
        est = rho.trace(f)
        assert abs(est.value - exact) < 4 * est.stderr, (est, exact)
    values, mult = rho.groups()
    assert mult.sum() == D - 4 and np.all(mult >= 1)
    x = np.linspace(-2.5, 2.5, 201)
    assert np.abs(rho.cdf(x) - true_cdf(bulk, x)).max() < 0.08


def test_slq_on_quadratic_well_hvp():
    D = 200
    lam = np.concatenate([np.full(150, 0.01), np.full(40, 1.0), np.full(10, 10.0)])
    well = QuadraticWell(lam, minimum=np.ones(D), basis=random_basis(D, seed=1009))
    H = well.hessian()
    top = top_eigenpairs(well.hvp, D, 10, seed=7)
    np.testing.assert_allclose(top.eigenvalues, 10.0, atol=1e-8)
    # the top eigenspace is that of eigenvalue 10 (the last 10 columns of the basis)
    P = well.basis[:, -10:]
    np.testing.assert_allclose(np.linalg.svd(P.T @ top.eigenvectors, compute_uv=False), 1.0, atol=1e-8)
    rho = slq_spectrum(well.hvp, D, n_probes=10, n_steps=20, seed=8, deflate=top.eigenvectors)
    values, mult = rho.groups()
    # three distinct values -> Lanczos is exact; only the bulk (0.01, 1) remains
    np.testing.assert_allclose(values, [0.01, 1.0], atol=1e-9)
    assert mult.sum() == 190
    est = rho.trace(lambda x: x)
    assert abs(est.value - np.trace(H) + 100.0) < 4 * est.stderr + 1e-9


def test_large_diagonal_operator_is_matrix_free_and_fast():
    D = 100_000
    rng = np.random.default_rng(1010)
    bulk = rng.uniform(0.0, 1.0, D - 5)
    lam = np.concatenate([[50.0, 40.0, 30.0, 20.0, 10.0], bulk])
    hvp = lambda v: lam * v  # noqa: E731
    t0 = time.perf_counter()
    top = top_eigenpairs(hvp, D, 5, seed=9)
    np.testing.assert_allclose(top.eigenvalues, [50, 40, 30, 20, 10], atol=1e-8)
    rho = slq_spectrum(hvp, D, n_probes=4, n_steps=40, seed=10, deflate=top.eigenvectors)
    elapsed = time.perf_counter() - t0
    assert elapsed < 20, elapsed
    # diagonal and deflated exactly: z^T f(H) z over the bulk is exact for polynomials
    np.testing.assert_allclose(rho.trace(lambda x: x).value, bulk.sum(), rtol=1e-8)
    np.testing.assert_allclose(rho.trace(np.square).value, np.sum(bulk ** 2), rtol=1e-8)
    x = np.linspace(0, 1, 101)
    assert np.abs(rho.cdf(x) - true_cdf(bulk, x)).max() < 0.05


def test_slq_reproducible():
    H = wigner(100, 1011)
    a = slq_spectrum(H, 100, n_probes=3, n_steps=10, seed=11)
    b = slq_spectrum(H, 100, n_probes=3, n_steps=10, seed=11)
    np.testing.assert_array_equal(a.nodes, b.nodes)
    np.testing.assert_array_equal(a.weights, b.weights)
    c = slq_spectrum(H, 100, n_probes=3, n_steps=10, seed=12)
    assert not np.array_equal(a.nodes, c.nodes)


def test_n_steps_capped_at_dimension():
    H = np.diag(np.arange(1.0, 7.0))
    rho = slq_spectrum(H, 6, n_probes=2, n_steps=100, seed=0)
    assert rho.n_steps == 6
    np.testing.assert_allclose(np.sort(rho.groups()[0]), np.arange(1.0, 7.0), atol=1e-10)


def test_slq_bad_input():
    H = np.eye(6)
    with pytest.raises(ValueError, match="n_probes"):
        slq_spectrum(H, 6, n_probes=1)
    with pytest.raises(ValueError, match="n_steps"):
        slq_spectrum(H, 6, n_steps=0)
    with pytest.raises(ValueError, match="deflate must have D"):
        slq_spectrum(H, 6, deflate=np.eye(5)[:, :2])
    with pytest.raises(ValueError, match="orthonormal"):
        slq_spectrum(H, 6, deflate=np.ones((6, 2)))
    with pytest.raises(ValueError, match="fewer than D"):
        slq_spectrum(H, 6, deflate=np.eye(6))
    with pytest.raises(ValueError, match="deflate contains NaN"):
        slq_spectrum(H, 6, deflate=np.full((6, 1), np.nan))
    with pytest.raises(ValueError, match="shape"):
        slq_spectrum(lambda v: np.ones(3), 6, seed=0)
    rho = slq_spectrum(H, 6, n_probes=2, n_steps=3, seed=0)
    with pytest.raises(ValueError, match="sigma"):
        rho.density([0.0], 0.0)
    with pytest.raises(ValueError, match="q must"):
        rho.quantiles([1.5])
    with pytest.raises(TypeError, match="callable"):
        rho.trace(2.0)
    with pytest.raises(ValueError, match="finite"):
        rho.trace(lambda x: np.full_like(x, np.inf))
    with pytest.raises(ValueError, match="grid contains NaN"):
        rho.density([np.nan], 1.0)


# --------------------------------------------------------------------------- rounding
@given(st.lists(st.floats(0.0, 10.0), min_size=1, max_size=30).filter(lambda w: sum(w) > 1e-3),
       st.integers(0, 10_000))
def test_integer_multiplicities_properties(weights, total):
    m = integer_multiplicities(weights, total)
    w = np.asarray(weights) / np.sum(weights)
    assert m.dtype == np.int64 and m.sum() == total and np.all(m >= 0)
    assert np.all(np.abs(m - w * total) < 1.0 + 1e-9)


def test_integer_multiplicities_bad_input():
    with pytest.raises(ValueError, match="positive sum"):
        integer_multiplicities([0.0, 0.0], 3)
    with pytest.raises(ValueError, match="non-negative"):
        integer_multiplicities([1.0, -1.0], 3)
    with pytest.raises(ValueError, match="total"):
        integer_multiplicities([1.0], -1)
