"""Numba kernels of geometry._kernels against plain-numpy references.

Naive references first (stumpy style), then the kernels: the point-cloud support against
``(G @ X.T).max(1)``; the polar-cone projection against a dense ungrouped computation and
against its own defining equations (KKT, Moreau); grouped samples against the expanded
coordinates they stand for; bitwise independence of the thread count. Agreement with the
cvxpy reference is in test_ellipsoidal_cone.py. Data seeds >= 1000.
"""
import numba
import numpy as np
import pytest

from geometry import EllipsoidalCone, _kernels


# --------------------------------------------------------------------------- naive references
def naive_point_cloud_support(G, X):
    return (G @ X.T).max(axis=1)


def naive_ellipsoid_support(C, radii):
    finite = np.isfinite(radii)
    val = np.sqrt(((C[:, finite] * radii[finite]) ** 2).sum(axis=1))
    return np.where((C[:, ~finite] != 0).any(axis=1), np.inf, val)


def naive_polar_kkt_residual(g, v, rho, b):
    """Residuals of the KKT conditions of v = Pi_K°(g), K° = {||R v|| <= <b, v>} (eigen-coordinates).

    Returns (feasibility gap, stationarity residual, complementarity, multiplier) relative to ||g||.
    """
    scale = np.linalg.norm(g)
    x = g - v
    s, Rv = b @ v, np.sqrt(rho @ v ** 2)
    feas = max(Rv - s, 0.0) / scale
    if np.linalg.norm(v) <= 1e-14 * scale or np.linalg.norm(x) <= 1e-14 * scale:
        return feas, 0.0, abs(x @ v) / scale ** 2, 0.0
    normal = rho * v / Rv - b  # gradient of ||R v|| - <b, v>
    mu = (x @ normal) / (normal @ normal)
    return feas, np.linalg.norm(x - mu * normal) / scale, abs(x @ v) / scale ** 2, mu


def random_cone(rng, D, *, flat=False, zero=False):
    radii = np.exp(rng.uniform(-1.5, 1.5, D))
    if flat:
        radii[rng.permutation(D)[: max(1, D // 4)]] = np.inf
    if zero:
        radii[rng.permutation(D)[: max(1, D // 4)]] = 0.0
    while True:
        offset = rng.standard_normal(D) * rng.uniform(1.0, 8.0)
        try:
            return radii, offset, EllipsoidalCone(radii, offset)
        except ValueError:
            continue


# --------------------------------------------------------------------------- point clouds
@pytest.mark.parametrize("block", [None, 1, 7, 300])
def test_point_cloud_support_matches_naive(block):
    rng = np.random.default_rng(1000)
    G = rng.standard_normal((203, 9))
    X = rng.standard_normal((57, 9)) * 3
    np.testing.assert_allclose(_kernels.point_cloud_support(G, X, block=block),
                               naive_point_cloud_support(G, X), rtol=1e-13, atol=1e-13)


def test_point_cloud_support_blocks_over_points(monkeypatch):
    """Blocks of points as well as of directions: the running maximum is exact."""
    monkeypatch.setattr(_kernels, "_BLOCK_ENTRIES", 64)
    rng = np.random.default_rng(1001)
    G = rng.standard_normal((50, 4))
    X = rng.standard_normal((1000, 4))
    np.testing.assert_allclose(_kernels.point_cloud_support(G, X, block=8),
                               naive_point_cloud_support(G, X), rtol=1e-13, atol=1e-13)


def test_point_cloud_support_single_point_and_direction():
    X = np.array([[1.0, -2.0, 3.0]])
    assert _kernels.point_cloud_support(np.array([[1.0, 1.0, 1.0]]), X)[0] == 2.0


# --------------------------------------------------------------------------- ellipsoids
def test_ellipsoid_support_matches_naive():
    rng = np.random.default_rng(1009)
    radii = np.exp(rng.uniform(-2, 2, 40))
    radii[[3, 17]] = np.inf
    radii[[5, 6]] = 0.0
    C = rng.standard_normal((300, 40))
    C[:100, [3, 17]] = 0.0  # no component along the infinite axes: finite support
    h = _kernels.ellipsoid_support(C, radii)
    np.testing.assert_allclose(h, naive_ellipsoid_support(C, radii), rtol=1e-14)
    assert np.all(np.isfinite(h[:100])) and np.all(np.isinf(h[100:]))


# --------------------------------------------------------------------------- polar projection
@pytest.mark.parametrize("flat,zero", [(False, False), (True, False), (False, True), (True, True)])
def test_polar_projection_satisfies_kkt(flat, zero):
    """v = Pi_K°(g) is feasible, x = g - v is a non-negative multiple of the normal at v, x ⊥ v."""
    rng = np.random.default_rng(1002 + 2 * flat + zero)
    for _ in range(5):
        D = int(rng.integers(2, 12))
        radii, offset, K = random_cone(rng, D, flat=flat, zero=zero)
        G = rng.standard_normal((40, D))
        V = K.project_polar(G)
        live = np.isfinite(radii)
        rho, b = np.where(live, radii, 0.0) ** 2, -offset
        assert np.all(V[:, ~live] == 0)
        for g, v in zip(G, V):
            feas, stat, comp, mu = naive_polar_kkt_residual(g[live], v[live], rho[live], b[live])
            assert feas <= 1e-12 and stat <= 1e-10 and comp <= 1e-12 and mu >= 0, (feas, stat, comp, mu)


def test_polar_projection_cases_and_moreau():
    """Each branch of the root-find: g in K°, g in K, both sides of the pole; Moreau holds."""
    rng = np.random.default_rng(1003)
    radii, offset, K = random_cone(rng, 6)
    G = rng.standard_normal((3000, 6))
    sec = K._secular
    out = K._batch(*K._reduce(*K._eigen(G)))
    E, _ = K._eigen(G)
    Gp, H, _ = K._reduce(E)
    beta = Gp @ (K._b * sec.wp)
    codes = set()
    for g, row, bt in zip(G, out, beta):
        code = 0 if row[1] == 0 and row[2] == 0 else (1 if row[0] == 0 else 2)
        codes.add((code, np.sign(bt)))
    # branches t < t_p (beta > 0) and t > t_p (beta < 0) both occur, and g in K° (code 0)
    assert (1, 1.0) in codes and (2, -1.0) in codes and (0, 1.0) in codes
    P, V = K.project(G), K.project_polar(G)
    np.testing.assert_allclose(P + V, G, atol=1e-13)
    assert np.abs(np.einsum("ij,ij->i", P, V)).max() <= 1e-12
    np.testing.assert_allclose(out[:, 3], np.einsum("ij,ij->i", P, P), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(out[:, 4], np.einsum("ij,ij->i", V, V), rtol=1e-12, atol=1e-13)


def test_polar_projection_at_the_pole():
    """g orthogonal to the positive eigenvector u of M (beta = 0): the solution sits at t = t_p."""
    radii = np.array([0.5, 1.0, 2.0])
    offset = np.array([-3.0, 1.0, 0.5])
    K = EllipsoidalCone(radii, offset)
    sec = K._secular
    # u ∝ w(t_p) * b in eigen-coordinates (identity axes, distinct radii, b = -offset)
    u = sec.wp[np.argsort(np.argsort(radii ** 2))] * (-offset)
    rng = np.random.default_rng(1004)
    for _ in range(5):
        g = rng.standard_normal(3)
        g -= (g @ u) / (u @ u) * u
        v = K.project_polar(g)
        feas, stat, comp, mu = naive_polar_kkt_residual(g, v, radii ** 2, -offset)
        assert feas <= 1e-12 and stat <= 1e-10 and comp <= 1e-12 and mu >= 0
        # and continuity: a tiny push along u on either side changes v by a tiny amount
        for eps in (1e-9, -1e-9):
            assert np.linalg.norm(K.project_polar(g + eps * u) - v) <= 1e-7


@pytest.mark.parametrize("D", [2, 5])
def test_polar_projection_exactly_at_the_pole(D):
    """beta = 0 exactly (g orthogonal to the axis of a ball seen from outside): the closed form
    of the solution at t = t_p, against the circular cone."""
    from geometry import CircularCone

    K = EllipsoidalCone(np.full(D, 1.0), np.eye(D)[0] * 2.0)
    C = CircularCone(D, np.arcsin(0.5))
    G = np.zeros((3, D))
    G[0, 1], G[1, -1], G[2, 1:] = 1.0, -2.5, 0.7
    Gp, _, _ = K._reduce(*K._eigen(G))
    assert np.all(Gp == 0)
    np.testing.assert_allclose(K.project(G), C.project(G), atol=1e-15)
    np.testing.assert_allclose(K.project(G[0])[:2], [np.sqrt(3) / 4, 0.25], atol=1e-15)


def test_pole_constant_solves_its_equation():
    rng = np.random.default_rng(1005)
    for _ in range(10):
        _, _, K = random_cone(rng, int(rng.integers(1, 30)), zero=bool(rng.integers(2)))
        tp = K._secular.tp
        lhs = np.sum(K._b ** 2 * tp / (1.0 + tp * K._rho))
        assert abs(lhs - 1.0) <= 1e-14


def test_polar_weights_match_the_kernel_forms():
    rho = np.array([0.0, 0.5, 2.0, np.inf])
    w, omw = _kernels.polar_weights(np.array([0, 1, 1]), np.array([0.7, 0.3, 0.0]), rho)
    np.testing.assert_allclose(w, [[1, 1 / 1.35, 1 / 2.4, 0], [1, 0.3 / 0.8, 0.3 / 2.3, 0], [1, 0, 0, 0]])
    np.testing.assert_allclose(w + omw, 1.0)


# --------------------------------------------------------------------------- groups
def expanded_gaussians(rng, radii, mult, offset, Gp, H, flat2):
    """Gaussians in the block layout of ``EllipsoidalCone(radii, offset, multiplicities=mult)``
    matching its grouped draws: in each block, the offset coordinate first (the component
    along b = -offset), then a vector of squared norm H; flat blocks share flat2."""
    finite = np.isfinite(radii)
    rho_g = np.unique(radii[finite] ** 2)
    flat_total = mult[~finite].sum()
    zf = rng.standard_normal((Gp.shape[0], flat_total))
    zf *= np.sqrt(flat2 / np.einsum("ij,ij->i", zf, zf))[:, None]
    blocks, used = [], 0
    for r, m, o in zip(radii, mult, offset):
        if not np.isfinite(r):
            blocks.append(zf[:, used:used + m])
            used += m
            continue
        col = np.searchsorted(rho_g, r * r)
        first = Gp[:, col] * (-1.0 if o > 0 else 1.0)
        z = rng.standard_normal((Gp.shape[0], m - 1))
        if m > 1:
            z *= np.sqrt(H[:, col] / np.einsum("ij,ij->i", z, z))[:, None]
        blocks.append(np.column_stack([first, z]))
    return np.hstack(blocks)


def block_offset(offset, mult):
    return np.concatenate([[o] + [0.0] * (m - 1) for o, m in zip(offset, mult)])


def test_grouped_draws_equal_expanded_computation():
    """Grouped sampling evaluates exactly what the expanded cone gives on matching Gaussians."""
    rng = np.random.default_rng(1006)
    radii = np.array([0.7, 1.5, np.inf, 0.0, 2.5, 1.1])
    mult = np.array([3, 1, 2, 4, 5, 2])
    offset = np.array([2.0, -1.0, 0.3, 0.5, -4.0, 0.0])
    grouped = EllipsoidalCone(radii, offset, multiplicities=mult)
    expanded = EllipsoidalCone(np.repeat(radii, mult), block_offset(offset, mult))
    assert grouped.dim == expanded.dim == mult.sum() and grouped.n_groups == 5
    Gp, H, flat2 = grouped._draw(200, np.random.default_rng(3))
    G = expanded_gaussians(rng, radii, mult, offset, Gp, H, flat2)
    nK, nP = grouped._from_draws(Gp, H, flat2, "pairs")
    np.testing.assert_allclose(nK, expanded.squared_projection_norms(G), rtol=1e-11, atol=1e-12)
    V = expanded.project_polar(G)
    np.testing.assert_allclose(nP, np.einsum("ij,ij->i", V, V), rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(grouped._from_draws(Gp, H, flat2, "support"), expanded.support(G),
                               rtol=1e-11, atol=1e-12)
    # the grouped cone's own ambient (block layout) methods agree as well
    np.testing.assert_allclose(grouped.project(G), expanded.project(G), atol=1e-12)
    np.testing.assert_allclose(grouped.squared_projection_norms(G), nK, rtol=1e-11, atol=1e-12)


def test_grouped_pairs_add_up_to_the_squared_norm():
    """Moreau on grouped draws: ||Pi_K g||^2 + ||Pi_K° g||^2 = ||g||^2 = sum Gp^2 + sum H + flat2."""
    K = EllipsoidalCone([0.3, 1.0, 4.0, np.inf, 0.0], [2.0, 1.0, -3.0, 1.0, 0.2], multiplicities=[2, 7, 1, 3, 4])
    Gp, H, flat2 = K._draw(500, np.random.default_rng(6))
    nK, nP = K._from_draws(Gp, H, flat2, "pairs")
    np.testing.assert_allclose(nK + nP, (Gp ** 2).sum(1) + H.sum(1) + flat2, rtol=1e-13)
    assert np.all(nK >= flat2)


def test_grouped_sampling_in_distribution():
    """Means of the hook samples and of dense Gaussians agree within 4 standard errors."""
    radii = np.array([0.5, 1.0, 2.0, np.inf])
    mult = np.array([6, 10, 3, 2])
    offset = np.array([3.0, 1.0, -0.5, 0.0])
    grouped = EllipsoidalCone(radii, offset, multiplicities=mult)
    expanded = EllipsoidalCone(np.repeat(radii, mult), block_offset(offset, mult))
    n = 4000
    for what, dense in (("norms", expanded.squared_projection_norms), ("support", expanded.support)):
        a = grouped._sample(n, np.random.default_rng(4), what)
        c = dense(np.random.default_rng(1007).standard_normal((n, grouped.dim)))
        se = np.hypot(a.std(ddof=1), c.std(ddof=1)) / np.sqrt(n)
        assert abs(a.mean() - c.mean()) < 4 * se, (what, a.mean(), c.mean(), se)


# --------------------------------------------------------------------------- threads
def test_thread_count_does_not_change_results():
    rng = np.random.default_rng(1008)
    _, _, K = random_cone(rng, 40, flat=True, zero=True)
    draws = K._draw(3000, np.random.default_rng(5))
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = K._batch(*draws, want_support=True)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = K._batch(*draws, want_support=True)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(one, two, equal_nan=True)


# --------------------------------------------------------------------------- stored instances
def test_projection_numbers_unchanged_on_stored_instances():
    """The derivative-based root-find gives the Brent-method kernel's numbers (stored in
    tests/data/polar_reference.npz by tests/polar_instances.py) to 1e-12 relative."""
    from polar_instances import REFERENCE, instances, outputs

    ref = np.load(REFERENCE, allow_pickle=False)
    seen = set()
    for k, (name, K, n, seed) in enumerate(instances()):
        out = outputs(K, n, seed)
        old = ref[f"out{k}"]
        # squared projection norms, each to 1e-12 of itself (or of ||g||^2 when it is tiny)
        size = old[:, 3] + old[:, 4]
        for c in (3, 4):
            err = np.abs(out[:, c] - old[:, c]) / np.maximum(np.maximum(np.abs(old[:, c]), 1e-3 * size), 1e-300)
            assert err.max() <= 1e-12, (name, c, err.max())
        np.testing.assert_allclose(out[:, 5], old[:, 5], rtol=1e-12, atol=1e-13 * np.sqrt(size.max()), err_msg=name)
        # the same solution (x, mu) where the form agrees (at the pole both forms name the same point)
        same = out[:, 0] == old[:, 0]
        assert same.mean() > 0.98, name
        np.testing.assert_allclose(out[same, 1], old[same, 1], rtol=1e-11, err_msg=name)
        seen.update(np.unique(out[:, 0]).tolist())
        # passes over the groups: 2 for a sample in K° (the first pass and the norms), more otherwise
        passes = out[:, 6]
        assert np.all(passes == np.round(passes)) and passes.min() >= 2
    assert seen == {0.0, 1.0}


def test_projection_passes_on_the_benchmark_spectrum():
    """Cost diagnostic (a count, not a time): the 1/i spectrum needs few passes per sample."""
    lam = 1.0 / np.arange(1, 5001)
    off = np.zeros(5000)
    off[0] = 1.0
    K = EllipsoidalCone.from_quadratic(lam, off, 1e-4)
    out = K._batch(*K._draw(200, np.random.default_rng(1009)))
    assert out[:, 6].mean() <= 8.0, out[:, 6].mean()
