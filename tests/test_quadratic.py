"""Quadratic wells and spectra: loss, derivatives, sub-level sets, cones, bad input.

Data drawn here uses seeds >= 1000.
"""
import numpy as np
import pytest

from landscape.models.quadratic import QuadraticWell, random_basis
from landscape.models.spectra import (
    flat_spectrum,
    power_law_spectrum,
    two_level_spectrum,
)


def make_well(D=6, rotated=True, with_zero=True, min_loss=0.3, seed=1000):
    rng = np.random.default_rng(seed)
    lam = rng.uniform(0.1, 3.0, D)
    if with_zero:
        lam[-1] = 0.0
    basis = random_basis(D, seed=seed + 1) if rotated else None
    return QuadraticWell(lam, minimum=rng.standard_normal(D), basis=basis, min_loss=min_loss)


def central_difference_gradient(f, x, h=1e-6):
    return np.array([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(x.size)])


# -- spectra ------------------------------------------------------------------------------
def test_spectra_values():
    np.testing.assert_array_equal(flat_spectrum(3, 2.0), [2.0, 2.0, 2.0])
    np.testing.assert_allclose(power_law_spectrum(4, 2.0, scale=3.0), 3.0 / np.arange(1, 5) ** 2)
    np.testing.assert_array_equal(power_law_spectrum(5, 0.0), np.ones(5))
    np.testing.assert_array_equal(two_level_spectrum(5, 2, stiff=4.0, soft=0.0), [4, 4, 0, 0, 0])
    np.testing.assert_array_equal(two_level_spectrum(3, 0), [1e-3] * 3)
    np.testing.assert_array_equal(two_level_spectrum(3, 3), [1.0] * 3)
    assert np.all(np.diff(power_law_spectrum(50, 1.3)) < 0)


@pytest.mark.parametrize(
    "fn, args, exc, match",
    [
        (flat_spectrum, (0,), ValueError, "D must be >= 1"),
        (flat_spectrum, (3, 0.0), ValueError, "value must be > 0"),
        (flat_spectrum, (3, np.nan), ValueError, "value must be finite"),
        (flat_spectrum, (2.5,), TypeError, "D must be an integer"),
        (power_law_spectrum, (3, -1.0), ValueError, "alpha must be >= 0"),
        (power_law_spectrum, (3, 1.0, 0.0), ValueError, "scale must be > 0"),
        (power_law_spectrum, (3, "1"), TypeError, "alpha must be a real number"),
        (two_level_spectrum, (3, 4), ValueError, "n_stiff must be <= 3"),
        (two_level_spectrum, (3, -1), ValueError, "n_stiff must be >= 0"),
        (two_level_spectrum, (3, 1, 1.0, 2.0), ValueError, "soft must be <= stiff"),
        (two_level_spectrum, (3, 1, 1.0, -1.0), ValueError, "soft must be >= 0"),
        (two_level_spectrum, (3, 1, 0.0), ValueError, "stiff must be > 0"),
    ],
)
def test_spectra_bad_input(fn, args, exc, match):
    with pytest.raises(exc, match=match):
        fn(*args)


# -- random basis -----------------------------------------------------------------------
def test_random_basis_orthogonal_reproducible_haar():
    V = random_basis(7, seed=3)
    np.testing.assert_allclose(V.T @ V, np.eye(7), atol=1e-12)
    np.testing.assert_array_equal(V, random_basis(7, seed=3))
    assert not np.allclose(V, random_basis(7, seed=4))
    # Haar: entries symmetric about 0 (the QR sign fix), E V_ij^2 = 1/D; 2000 draws
    samples = np.array([random_basis(3, seed=s)[0, 0] for s in range(2000)])
    assert abs(samples.mean()) <= 4 * samples.std() / np.sqrt(samples.size)
    sq = samples ** 2
    assert abs(sq.mean() - 1 / 3) <= 4 * sq.std() / np.sqrt(sq.size)


# -- loss and derivatives ---------------------------------------------------------------
@pytest.mark.parametrize("rotated", [False, True])
def test_loss_closed_form_and_batch(rotated):
    well = make_well(rotated=rotated)
    rng = np.random.default_rng(1001)
    X = rng.standard_normal((5, well.dim))
    H = well.hessian()
    for x in X:
        diff = x - well.minimum
        assert well.loss(x) == pytest.approx(0.3 + 0.5 * diff @ H @ diff, rel=1e-12)
    np.testing.assert_allclose(well.loss(X), [well.loss(x) for x in X], rtol=1e-13)
    assert isinstance(well.loss(X[0]), float)
    assert well.loss(well.minimum) == pytest.approx(0.3, abs=1e-15)


@pytest.mark.parametrize("rotated", [False, True])
def test_gradient_and_hvp_against_finite_differences_and_hessian(rotated):
    well = make_well(rotated=rotated)
    rng = np.random.default_rng(1002)
    x = rng.standard_normal(well.dim)
    np.testing.assert_allclose(well.gradient(x), central_difference_gradient(well.loss, x), rtol=1e-6, atol=1e-7)
    H = well.hessian()
    np.testing.assert_allclose(H, H.T, atol=1e-14)
    np.testing.assert_allclose(np.linalg.eigvalsh(H), np.sort(well.eigenvalues), atol=1e-12)
    v = rng.standard_normal(well.dim)
    np.testing.assert_allclose(well.hvp(v), H @ v, atol=1e-12)
    # Hessian by finite differences of the gradient
    fd = np.column_stack([(well.gradient(x + 1e-5 * e) - well.gradient(x - 1e-5 * e)) / 2e-5
                          for e in np.eye(well.dim)])
    np.testing.assert_allclose(fd, H, atol=1e-8)
    V = rng.standard_normal((3, well.dim))
    np.testing.assert_allclose(well.hvp(V), V @ H, atol=1e-12)
    np.testing.assert_allclose(well.gradient(V), (V - well.minimum) @ H, atol=1e-12)


def test_identity_basis_stores_nothing_dense():
    well = QuadraticWell(power_law_spectrum(10_000, 1.0))
    arrays = [v for v in vars(well).values() if isinstance(v, np.ndarray)]
    assert well.basis is None and all(a.ndim == 1 for a in arrays)
    assert well.sublevel_set(1.0).axes is None


def test_eigen_offset():
    well = make_well()
    theta0 = np.random.default_rng(1003).standard_normal(well.dim)
    b = well.eigen_offset(theta0)
    np.testing.assert_allclose(b, well.basis.T @ (theta0 - well.minimum), atol=1e-12)
    assert well.loss(theta0) == pytest.approx(0.3 + 0.5 * np.sum(well.eigenvalues * b ** 2), rel=1e-12)


# -- sub-level sets ---------------------------------------------------------------------
@pytest.mark.parametrize("rotated", [False, True])
def test_sublevel_set_boundary_has_loss_eps(rotated):
    well = make_well(rotated=rotated)
    eps = 1.7
    S = well.sublevel_set(eps)
    finite = np.isfinite(S.radii)
    np.testing.assert_allclose(S.radii[finite], np.sqrt(2 * (eps - 0.3) / well.eigenvalues[finite]), rtol=1e-14)
    assert np.isinf(S.radii[~finite]).all() and (~finite).sum() == 1
    np.testing.assert_array_equal(S.center, well.minimum)
    rng = np.random.default_rng(1004)
    V = np.eye(well.dim) if well.basis is None else well.basis
    for _ in range(20):
        u = rng.standard_normal(well.dim)
        u[~finite] = 0.0
        u /= np.linalg.norm(u)
        point = well.minimum + V @ (np.where(finite, S.radii, 0.0) * u)
        assert well.loss(point) == pytest.approx(eps, rel=1e-12)
        assert S.contains(point, tol=1e-9)
        assert not S.contains(well.minimum + 1.01 * (point - well.minimum))
        # along the flat direction the loss never changes
        flat = V[:, ~finite][:, 0]
        assert well.loss(point + 1e3 * flat) == pytest.approx(eps, rel=1e-10)

def test_sublevel_set_support_function():
    # h_S(g) = <g, theta*> + ||diag(r) V^T g||, attained at theta* + V diag(r) u, u = diag(r) V^T g / ||.||
    well = make_well(rotated=True, with_zero=False)
    S = well.sublevel_set(2.0)
    g = np.random.default_rng(1006).standard_normal(well.dim)
    c = S.radii * (well.basis.T @ g)
    expected = g @ well.minimum + np.linalg.norm(c)
    assert S.support(g) == pytest.approx(expected, rel=1e-12)
    x = well.minimum + well.basis @ (S.radii * c / np.linalg.norm(c))
    assert g @ x == pytest.approx(expected, rel=1e-12)
    assert well.loss(x) == pytest.approx(2.0, rel=1e-12)


def test_cone_contains_directions_into_the_set():
    from geometry import Sphere

    well = make_well(D=5, with_zero=False)
    eps = 0.8
    rng = np.random.default_rng(1005)
    theta0 = well.minimum + 3.0 * rng.standard_normal(5)
    assert well.loss(theta0) > eps
    K = well.cone(theta0, eps)
    assert K.dim == 5 and not isinstance(K, Sphere)
    S = well.sublevel_set(eps)
    V = well.basis
    for _ in range(10):
        u = rng.standard_normal(5)
        u *= rng.uniform(0, 1) / np.linalg.norm(u)
        x = well.minimum + V @ (S.radii * u)  # a point of S
        assert K.contains(x - theta0, tol=1e-6)
    assert not K.contains(theta0 - well.minimum, tol=1e-6)  # pointing away from theta*
    inside = well.minimum + 0.1 * rng.standard_normal(5)
    assert well.loss(inside) < eps
    assert isinstance(well.cone(inside, eps), Sphere)


# -- bad input --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"eigenvalues": [1.0, -0.5]}, ValueError, "eigenvalues must be >= 0"),
        ({"eigenvalues": [1.0, np.nan]}, ValueError, "eigenvalues contains NaN"),
        ({"eigenvalues": [1.0, np.inf]}, ValueError, "eigenvalues must be finite"),
        ({"eigenvalues": [[1.0]]}, ValueError, "eigenvalues must be 1-D"),
        ({"eigenvalues": []}, ValueError, "eigenvalues must not be empty"),
        ({"eigenvalues": "abc"}, TypeError, "eigenvalues"),
        ({"eigenvalues": [1.0, 2.0], "minimum": [0.0]}, ValueError, "minimum must have shape"),
        ({"eigenvalues": [1.0, 2.0], "minimum": [0.0, np.nan]}, ValueError, "minimum contains NaN"),
        ({"eigenvalues": [1.0, 2.0], "basis": np.eye(3)}, ValueError, r"basis must have shape \(2, 2\)"),
        ({"eigenvalues": [1.0, 2.0], "basis": np.eye(2)[:, :1]}, ValueError, "basis must have shape"),
        ({"eigenvalues": [1.0, 2.0], "basis": [[1.0, 1.0], [0.0, 1.0]]}, ValueError, "orthonormal"),
        ({"eigenvalues": [1.0, 2.0], "basis": [[1.0, np.nan], [0.0, 1.0]]}, ValueError, "basis contains NaN"),
        ({"eigenvalues": [1.0], "min_loss": np.nan}, ValueError, "min_loss"),
        ({"eigenvalues": [1.0], "min_loss": "0"}, ValueError, "min_loss"),
    ],
)
def test_constructor_bad_input(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        QuadraticWell(**kwargs)


def test_method_bad_input():
    well = make_well(D=3, min_loss=0.5)
    with pytest.raises(ValueError, match="eps must be > min_loss"):
        well.sublevel_set(0.5)
    with pytest.raises(ValueError, match="eps must be > min_loss"):
        well.cone(np.ones(3), 0.1)
    with pytest.raises(ValueError, match="eps must be finite"):
        well.sublevel_set(np.inf)
    with pytest.raises(TypeError, match="eps must be a real number"):
        well.sublevel_set("1")
    with pytest.raises(ValueError, match="theta must have 3 entries"):
        well.loss(np.ones(4))
    with pytest.raises(ValueError, match="theta must have 3 entries"):
        well.gradient(np.ones((2, 4)))
    with pytest.raises(ValueError, match="theta contains NaN"):
        well.loss([1.0, np.nan, 0.0])
    with pytest.raises(ValueError, match="v must have 3 entries"):
        well.hvp(np.ones(2))
    with pytest.raises(ValueError, match="theta0 must have 3 entries"):
        well.eigen_offset(np.ones(2))
    with pytest.raises(ValueError, match="theta0 must have shape"):
        well.cone(np.ones(2), 1.0)
    with pytest.raises(ValueError, match="theta must be 1-D or 2-D"):
        well.loss(np.ones((2, 2, 3)))
