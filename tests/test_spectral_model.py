"""Tests of landscape.theory.spectral_model: the grouped quadratic model of sub-level sets.

References: exact eigendecompositions (numpy.linalg.eigh), diagonal wells whose SLQ is
exact, the ungrouped (full diagonal) ellipsoidal cone of landscape.models.quadratic, and the
circular-cone formula delta = D sin^2(alpha) + cos(2 alpha). Data seeds >= 1000.
"""
import time

import numpy as np
import pytest

from geometry import Sphere, statistical_dimension
from landscape.models.quadratic import QuadraticWell, random_basis
from landscape.theory.hessian import top_eigenpairs
from landscape.theory.spectral_model import SpectralModel


def twenty_level_well(D=2000, seed=1000):
    """A diagonal well whose spectrum has 20 distinct values (multiplicity D / 20 each)."""
    values = np.geomspace(1e-3, 10.0, 20)
    lam = np.repeat(values, D // 20)
    rng = np.random.default_rng(seed)
    lam = lam[rng.permutation(D)]
    theta0 = rng.standard_normal(D)
    return QuadraticWell(lam), theta0, values


# --------------------------------------------------------------------------- constructors
def test_from_eigh_is_exact():
    D = 40
    rng = np.random.default_rng(1001)
    lam = rng.uniform(0.0, 3.0, D)
    V = random_basis(D, seed=1002)
    H = (V * lam) @ V.T
    theta_star, theta0 = rng.standard_normal(D), rng.standard_normal(D)
    model = SpectralModel.from_eigh(H, theta0, theta_star, min_loss=0.25)
    delta = theta0 - theta_star
    np.testing.assert_allclose(model.loss_at_theta0, 0.25 + 0.5 * delta @ H @ delta, rtol=1e-12)
    np.testing.assert_allclose(np.sort(model.eigenvalues), np.sort(lam), atol=1e-12)
    np.testing.assert_allclose(model.offset_norm, np.linalg.norm(delta), rtol=1e-12)
    assert model.D == D and model.n_groups == D and np.all(model.multiplicities == 1)
    # the same from an hvp callable (D products build H)
    again = SpectralModel.from_eigh(lambda v: H @ v, theta0, theta_star, min_loss=0.25)
    np.testing.assert_allclose(again.eigenvalues, model.eigenvalues, atol=1e-12)
    np.testing.assert_allclose(again.offsets, model.offsets, atol=1e-12)
    np.testing.assert_allclose(model.radii(1.25), np.sqrt(2.0 / model.eigenvalues))


def test_from_spectrum_merge_keeps_the_loss_and_offsets():
    well, theta0, values = twenty_level_well(200, 1003)
    b = well.eigen_offset(theta0)
    flat = SpectralModel.from_spectrum(well.eigenvalues, b)
    merged = SpectralModel.from_spectrum(well.eigenvalues, b, merge=True)
    assert flat.n_groups == 200 and merged.n_groups == 20
    np.testing.assert_allclose(merged.eigenvalues, values)
    np.testing.assert_array_equal(merged.multiplicities, np.full(20, 10))
    for m in (flat, merged):
        np.testing.assert_allclose(m.loss_at_theta0, well.loss(theta0), rtol=1e-12)
        np.testing.assert_allclose(m.offset_norm, np.linalg.norm(theta0), rtol=1e-12)
    lam, off = merged.expand()
    assert lam.shape == (200,) and np.count_nonzero(off) == 20
    np.testing.assert_allclose(0.5 * np.sum(lam * off ** 2), well.loss(theta0), rtol=1e-12)


def test_from_hvp_recovers_a_twenty_level_spectrum_exactly():
    """Diagonal H: Rademacher SLQ weights are exactly m_g / D and Lanczos stops after 20 steps."""
    well, theta0, values = twenty_level_well()
    D = well.dim
    model = SpectralModel.from_hvp(well.hvp, D, theta0, np.zeros(D), k=0, n_probes=2, n_steps=40, seed=0)
    np.testing.assert_allclose(np.sort(model.eigenvalues), values, rtol=1e-9)
    np.testing.assert_array_equal(model.multiplicities, np.full(20, 100))
    # isotropic offset in the bulk: b_g^2 = |theta0|^2 m_g / D
    np.testing.assert_allclose(model.offsets ** 2, np.sum(theta0 ** 2) / 20, rtol=1e-12)
    assert model.n_clipped == 0 and model.most_negative == 0.0


def test_from_hvp_top_offsets_are_exact_and_bulk_carries_the_rest():
    D = 300
    rng = np.random.default_rng(1004)
    lam = np.concatenate([[40.0, 25.0, 12.0], rng.uniform(0.0, 1.0, D - 3)])
    well = QuadraticWell(lam, minimum=rng.standard_normal(D), basis=random_basis(D, seed=1005))
    theta0 = rng.standard_normal(D)
    model = SpectralModel.from_hvp(well.hvp, D, theta0, well.minimum, k=3, n_probes=6, n_steps=30, seed=1,
                                   min_loss=0.0)
    b = well.eigen_offset(theta0)
    np.testing.assert_allclose(model.eigenvalues[:3], [40.0, 25.0, 12.0], atol=1e-8)
    np.testing.assert_allclose(model.offsets[:3], np.abs(b[:3]), rtol=1e-8, atol=1e-10)
    assert model.multiplicities.sum() == D and np.all(model.multiplicities[:3] == 1)
    np.testing.assert_allclose(model.offset_norm, np.linalg.norm(theta0 - well.minimum), rtol=1e-10)
    bulk = model.eigenvalues[3:]
    assert bulk.min() >= 0.0 and bulk.max() <= 1.0 + 1e-8
    # the bulk's trace is estimated without bias (SLQ): within a few standard errors
    trace = model.extra["bulk"].trace(lambda x: x)
    assert abs(trace.value - lam[3:].sum()) < 4 * trace.stderr
    np.testing.assert_allclose(np.sum(model.multiplicities[3:] * bulk), trace.value, rtol=0.02)
    # reusing precomputed eigenpairs gives the same top groups
    top = top_eigenpairs(well.hvp, D, 3, seed=2)
    again = SpectralModel.from_hvp(well.hvp, D, theta0, well.minimum, top=top, n_probes=2, n_steps=10, seed=3)
    np.testing.assert_allclose(again.offsets[:3], model.offsets[:3], rtol=1e-8)


def test_negative_eigenvalues_are_clipped_and_reported():
    D = 60
    rng = np.random.default_rng(1006)
    lam = np.concatenate([[5.0, 3.0], np.linspace(-0.5, 1.0, D - 2) + 0.013])
    V = random_basis(D, seed=1007)
    H = (V * lam) @ V.T
    theta0 = rng.standard_normal(D)
    exact = SpectralModel.from_eigh(H, theta0, np.zeros(D))
    n_neg = int(np.sum(lam < 0))
    assert exact.n_clipped == n_neg and n_neg > 0
    np.testing.assert_allclose(exact.most_negative, -0.487, atol=1e-12)
    assert exact.eigenvalues.min() == 0.0
    assert "clipped" in repr(exact)
    approx = SpectralModel.from_hvp(H, D, theta0, np.zeros(D), k=2, n_probes=4, n_steps=D, seed=4)
    # n_steps >= the bulk's dimension: every probe's nodes are the exact bulk eigenvalues
    assert approx.n_clipped > 0 and abs(approx.most_negative + 0.487) < 1e-8
    assert approx.eigenvalues.min() == 0.0


def test_from_model_uses_the_networks_hessian():
    from landscape.models import MLP

    model = MLP([3, 4, 2])
    rng = np.random.default_rng(1008)
    X, y = rng.standard_normal((30, 3)), rng.integers(0, 2, 30)
    theta_star, theta0 = model.init_params(seed=5), model.init_params(seed=6)
    D = model.n_params
    H = model.hvp(theta_star, X, y, np.eye(D))
    H = 0.5 * (H + H.T)
    sm = SpectralModel.from_model(model, theta_star, theta0, X, y, k=4, n_probes=3, n_steps=D, seed=7)
    np.testing.assert_allclose(sm.min_loss, model.loss(theta_star, X, y))
    lam = np.linalg.eigvalsh(H)
    np.testing.assert_allclose(sm.extra["top"].eigenvalues, lam[::-1][:4], atol=1e-8)
    assert sm.D == D and sm.multiplicities.sum() == D
    if lam.min() < 0:  # the most negative eigenvalue is found (the Krylov space is everything)
        np.testing.assert_allclose(sm.most_negative, lam.min(), atol=1e-8)
    exact = SpectralModel.from_eigh(H, theta0, theta_star, min_loss=sm.min_loss)
    np.testing.assert_allclose(exact.eigenvalues.max(), sm.eigenvalues.max(), rtol=1e-8)


# --------------------------------------------------------------------------- the cone
def test_theta0_inside_the_sublevel_set_gives_the_whole_sphere():
    model = SpectralModel([1.0, 2.0], [3, 4], [0.1, 0.1])
    assert isinstance(model.cone(1.0), Sphere)
    assert model.cone(1.0).dim == 7


def test_grouped_cone_matches_ungrouped_cone():
    """Grouping is exact (rotation invariance in each eigenspace): same delta within MC error."""
    well, theta0, _ = twenty_level_well()
    eps = 0.05 * well.loss(theta0)
    grouped = SpectralModel.from_spectrum(well.eigenvalues, well.eigen_offset(theta0), merge=True)
    assert grouped.n_groups == 20
    K_grouped = grouped.cone(eps)
    K_full = well.cone(theta0, eps)
    assert K_grouped.dim == K_full.dim == 2000
    a = statistical_dimension(K_grouped, 4000, seed=0)  # O(20) per sample (sampling hook)
    # explicit Gaussians: projections in all 2000 coordinates
    b = statistical_dimension(K_full, G=np.random.default_rng(1012).standard_normal((500, 2000)))
    assert abs(a.value - b.value) < 4 * np.hypot(a.stderr, b.stderr), (a, b)
    assert 0 < a.value < 2000
    # the model plugs into the predictions (landscape.theory.predict calls model.cone(eps))
    from landscape.theory.predict import predicted_threshold
    pred = predicted_threshold(grouped, eps=eps, n_samples=2000, seed=5)
    assert pred.D == 2000
    assert abs(pred.kinematic - (2000 - b.value)) < 4 * np.hypot(pred.kinematic_stderr, b.stderr)


def householder_to(u):
    """Orthogonal symmetric matrix mapping e_1 to the unit vector u."""
    w = -u.copy()
    w[0] += 1.0
    nw = w @ w
    Q = np.eye(u.size)
    if nw > 1e-30:
        Q -= 2.0 * np.outer(w, w) / nw
    return Q


def test_grouped_cone_equals_ungrouped_cone_on_shared_gaussians():
    """K_full = Q K_grouped for a block rotation Q taking each group's first axis to the
    direction of theta0 - theta* in that eigenspace: ||Pi g||^2 agrees sample by sample."""
    from geometry import EllipsoidalCone

    well, theta0, values = twenty_level_well(D=400, seed=1010)
    lam, b = well.eigenvalues, well.eigen_offset(theta0)
    eps = 0.05 * well.loss(theta0)
    grouped = SpectralModel.from_spectrum(lam, b, merge=True)
    K_grouped = grouped.cone(eps)
    K_full = EllipsoidalCone.from_quadratic(lam, -b, eps)  # one radius per coordinate
    D = well.dim
    Q = np.zeros((D, D))
    start = 0
    for value, m in zip(grouped.eigenvalues, grouped.multiplicities):
        idx = np.flatnonzero(lam == value)
        assert idx.size == m
        Q[np.ix_(idx, np.arange(start, start + m))] = householder_to(b[idx] / np.linalg.norm(b[idx]))
        start += m
    np.testing.assert_allclose(Q.T @ Q, np.eye(D), atol=1e-12)
    G = np.random.default_rng(1011).standard_normal((200, D))
    full = K_full.squared_projection_norms(G)
    np.testing.assert_allclose(K_grouped.squared_projection_norms(G @ Q), full, rtol=1e-8, atol=1e-9)
    # and the expanded model's layout is the grouped cone's
    lam_x, b_x = grouped.expand()
    K_x = EllipsoidalCone.from_quadratic(lam_x, -b_x, eps)
    np.testing.assert_allclose(K_x.squared_projection_norms(G), K_grouped.squared_projection_norms(G),
                               rtol=1e-8, atol=1e-9)
    assert np.unique(full).size == full.size and full.max() > 0


def test_ten_million_parameters_in_seconds():
    """One group: the cone of a ball seen from outside is circular, delta ~ D sin^2(a) + cos(2a)."""
    D = 10_000_000
    R, level = 2.0, 0.5
    model = SpectralModel([1.0], [D], [R])  # ball of radius sqrt(2 level) = 1 at distance 2
    t0 = time.perf_counter()
    est = statistical_dimension(model.cone(level), 2000, seed=2)
    alpha = np.arcsin(1.0 / R)
    expected = D * np.sin(alpha) ** 2 + np.cos(2 * alpha)
    assert abs(est.value - expected) < 4 * est.stderr + 1.0, (est, expected)
    # fifty groups summing to 1e7
    rng = np.random.default_rng(1009)
    mult = rng.multinomial(D - 50, np.full(50, 1 / 50)) + 1
    big = SpectralModel(np.geomspace(1e-4, 10.0, 50), mult, rng.uniform(0.0, 1.0, 50) * 30)
    est = statistical_dimension(big.cone(0.01), 500, seed=3)
    assert 0 < est.value < D
    assert time.perf_counter() - t0 < 30


# --------------------------------------------------------------------------- bad input
def test_bad_input():
    with pytest.raises(ValueError, match="eigenvalues contains NaN"):
        SpectralModel([1.0, np.nan], [1, 1], [0.0, 0.0])
    with pytest.raises(ValueError, match="eigenvalues contains NaN"):
        SpectralModel.from_spectrum([1.0, np.nan], [1.0, 1.0])
    with pytest.raises(ValueError, match="multiplicities must be >= 1"):
        SpectralModel([1.0, 2.0], [1, 0], [0.0, 0.0])
    with pytest.raises(ValueError, match="multiplicities must have shape"):
        SpectralModel([1.0, 2.0], [1], [0.0, 0.0])
    with pytest.raises(ValueError, match="whole numbers"):
        SpectralModel([1.0], [1.5], [0.0])
    with pytest.raises(ValueError, match="offsets must be non-negative"):
        SpectralModel([1.0], [1], [-1.0])
    with pytest.raises(ValueError, match="min_loss"):
        SpectralModel([1.0], [1], [1.0], min_loss=np.nan)
    model = SpectralModel([1.0, 2.0], [3, 4], [1.0, 1.0])
    for eps in (0.0, -1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match="eps must be"):
            model.cone(eps)
    with pytest.raises(TypeError, match="eps must be"):
        model.cone("0.1")
    D = 10
    H = np.eye(D)
    with pytest.raises(ValueError, match=r"expected \(10, 10\)"):
        SpectralModel.from_hvp(np.eye(D - 1), D, np.ones(D), np.zeros(D), k=2, seed=0)
    with pytest.raises(ValueError, match="hvp returned an array of shape"):
        SpectralModel.from_hvp(lambda v: v[:-1], D, np.ones(D), np.zeros(D), k=2, seed=0)
    with pytest.raises(ValueError, match="theta0 must have shape"):
        SpectralModel.from_hvp(H, D, np.ones(D + 1), np.zeros(D), k=2, seed=0)
    with pytest.raises(ValueError, match="k must be <="):
        SpectralModel.from_hvp(H, D, np.ones(D), np.zeros(D), k=D, seed=0)
    with pytest.raises(ValueError, match=r"hessian must have shape \(10, 10\)"):
        SpectralModel.from_eigh(np.eye(9), np.ones(D), np.zeros(D))
    with pytest.raises(ValueError, match="symmetric"):
        SpectralModel.from_eigh(np.triu(np.ones((D, D))), np.ones(D), np.zeros(D))
    with pytest.raises(ValueError, match="top must be"):
        SpectralModel.from_hvp(H, D, np.ones(D), np.zeros(D), top="eigs")


def test_with_theta0_reuses_the_decomposition():
    """Another starting point: the same groups as a fresh from_hvp with the same seed, no new products."""
    import numpy as np

    from landscape.theory.spectral_model import SpectralModel

    rng = np.random.default_rng(1200)
    D = 60
    lam = np.linspace(0.01, 2.0, D)
    theta_star, theta0, theta_t = rng.standard_normal(D), rng.standard_normal(D), rng.standard_normal(D)
    calls = []

    def hvp(v):
        calls.append(1)
        return lam * v

    a = SpectralModel.from_hvp(hvp, D, theta0, theta_star, k=5, n_probes=3, n_steps=15, seed=2)
    n = len(calls)
    b = a.with_theta0(theta_t)
    assert len(calls) == n
    ref = SpectralModel.from_hvp(hvp, D, theta_t, theta_star, k=5, n_probes=3, n_steps=15, seed=2)
    np.testing.assert_array_equal(b.eigenvalues, ref.eigenvalues)
    np.testing.assert_allclose(b.offsets, ref.offsets, rtol=1e-12)
    assert b.offset_norm == pytest.approx(np.linalg.norm(theta_t - theta_star), rel=1e-12)
