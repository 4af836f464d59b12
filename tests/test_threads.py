"""Fast paths against their references, and results independent of the number of threads.

Each optimised path of the performance work (benchmarks/RESULTS.md) is compared here with a
plain reference on small inputs:

* the blocked Walsh-Hadamard transform against the textbook loop (bitwise: the same
  additions in the same order), the permutation kernels against numpy indexing, the
  Fastfood map against its numpy / textbook form;
* the point-cloud support with the points passed transposed against the naive product;
* the Gram route of ``gaussian_width`` against exact widths (two points, scaled basis
  vectors) and against direct sampling, within Monte Carlo error; its factor against the
  Gram matrix;
* the ellipsoidal-cone kernel with one shared row of zeros against the full zero matrix.

Thread independence: every numba kernel with ``parallel=True`` gives bitwise the same
result on one thread and on two. Data seeds >= 1000, estimator seeds small.
"""
import numba
import numpy as np
import pytest
from scipy import integrate
from scipy.linalg import hadamard
from scipy.stats import norm

from geometry import (
    EllipsoidalCone,
    PointCloud,
    _kernels,
    gaussian_width,
    statistical_dimension,
)
from landscape.subspaces import _fwht
from landscape.subspaces import random_subspace


# --------------------------------------------------------------------------- references
def naive_fwht_textbook(x):
    """The textbook in-place loop, in plain Python on a copy (one pass per stage)."""
    x = np.array(x, dtype=float)
    n, h = x.shape[0], 1
    while h < n:
        for i in range(0, n, 2 * h):
            a, b = x[i:i + h].copy(), x[i + h:i + 2 * h].copy()
            x[i:i + h], x[i + h:i + 2 * h] = a + b, a - b
        h *= 2
    return x


def naive_fastfood_matvec(A, phi):
    """numpy form of the Fastfood product (fancy indexing, textbook FWHT)."""
    y = np.zeros(A.L)
    y[: A.d] = phi * A.signs[: A.d]
    y = naive_fwht_textbook(y)
    y = y[A.permutation] * A.gaussian
    return naive_fwht_textbook(y)[: A.D] * A.scale


def naive_fastfood_rmatvec(A, v):
    y = np.zeros(A.L)
    y[: A.D] = v
    y = naive_fwht_textbook(y) * A.gaussian
    z = np.empty_like(y)
    z[A.permutation] = y
    return naive_fwht_textbook(z)[: A.d] * (A.signs[: A.d] * A.scale)


def expected_max_of_gaussians(n):
    r""":math:`E\max_{j\le n} g_j = \int x\, n\varphi(x)\Phi(x)^{n-1} dx` (quadrature)."""
    return integrate.quad(lambda x: x * n * norm.pdf(x) * norm.cdf(x) ** (n - 1), -12, 12, limit=200)[0]


def with_threads(k, fn):
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(min(k, numba.config.NUMBA_NUM_THREADS))
        return fn()
    finally:
        numba.set_num_threads(before)


# --------------------------------------------------------------------------- FWHT
@pytest.mark.parametrize("L", [1, 2, 8, 16, 2 ** 12, 2 ** 13, 2 ** 15])
def test_blocked_fwht_is_bitwise_the_textbook_loop(L):
    X = np.random.default_rng(1000 + L).standard_normal((3, L))
    ref = np.array([naive_fwht_textbook(row) for row in X])
    serial, one = X.copy(), X[:1].copy()
    _fwht._fwht_rows_serial(serial)
    _fwht.fwht_rows(one)  # a single row: parallel inside the row once it is long
    assert np.array_equal(serial, ref) and np.array_equal(one[0], ref[0])
    if L <= 64:
        np.testing.assert_allclose(ref, X @ hadamard(L), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("support", [0, 1, 5000, 2 ** 13 - 1])
def test_fwht_support_promise_gives_the_same_result(support):
    L = 2 ** 14
    x = np.zeros((1, L))
    x[0, :support] = np.random.default_rng(1010).standard_normal(support)
    ref = naive_fwht_textbook(x[0])
    assert np.array_equal(_fwht.fwht_rows(x.copy(), support=support)[0], ref)
    assert np.array_equal(_fwht.fwht_rows(np.vstack([x, x]), support=support)[1], ref)


def test_permutation_kernels_match_numpy_indexing():
    rng = np.random.default_rng(1011)
    Y = rng.standard_normal((3, 64))
    perm, scale = rng.permutation(64), rng.standard_normal(64)
    assert np.array_equal(_fwht.gather_scale_rows(Y, perm, scale), Y[:, perm] * scale)
    ref = np.empty_like(Y)
    ref[:, perm] = Y * scale
    assert np.array_equal(_fwht.scale_scatter_rows(Y, perm, scale), ref)
    with pytest.raises(TypeError, match="C-contiguous"):
        _fwht.gather_scale_rows(Y.T, perm, scale)
    with pytest.raises(ValueError, match="shape"):
        _fwht.gather_scale_rows(Y, perm[:10], scale)
    with pytest.raises(ValueError, match="integer"):
        _fwht.scale_scatter_rows(Y, perm.astype(float), scale)


@pytest.mark.parametrize("D,d", [(5000, 300), (2 ** 13, 2 ** 13), (20000, 1)])
def test_fastfood_map_matches_its_numpy_form(D, d):
    A = random_subspace(D, d, kind="fastfood", seed=3)
    rng = np.random.default_rng(1012)
    phi, v = rng.standard_normal(d), rng.standard_normal(D)
    assert np.array_equal(A.matvec(phi), naive_fastfood_matvec(A, phi))
    np.testing.assert_allclose(A.rmatvec(v), naive_fastfood_rmatvec(A, v), rtol=1e-12, atol=1e-12)
    block = rng.standard_normal((d, 3))
    np.testing.assert_array_equal(A.matvec(block)[:, 1], A.matvec(block[:, 1]))


# --------------------------------------------------------------------------- point clouds
def test_point_cloud_support_with_any_memory_layout():
    rng = np.random.default_rng(1013)
    G = rng.standard_normal((40, 30))
    X = np.asfortranarray(rng.standard_normal((25, 30)))
    ref = (G @ X.T).max(axis=1)
    np.testing.assert_allclose(_kernels.point_cloud_support(G, X), ref, rtol=1e-13)
    np.testing.assert_allclose(_kernels.point_cloud_support(G, X[::-1]), ref, rtol=1e-13)


def test_gram_width_of_two_points_is_exact():
    """w({x, y}) = E |<g, x - y>| / 2 = ||x - y|| / sqrt(2 pi)."""
    rng = np.random.default_rng(1014)
    x, y = rng.standard_normal(40), rng.standard_normal(40)
    est = gaussian_width(PointCloud([x, y]), 20000, seed=1, method="gram")
    assert est.method.startswith("monte-carlo: gram") and "rank 2" in est.method
    assert abs(est.value - np.linalg.norm(x - y) / np.sqrt(2 * np.pi)) < 4 * est.stderr


@pytest.mark.parametrize("center", [True, False])
def test_gram_width_of_scaled_basis_vectors_is_exact(center):
    """Points s e_1, ..., s e_n in R^D: the width is s E max_{j <= n} g_j, centred or not."""
    n, D, s = 7, 50, 3.0
    X = s * np.eye(D)[:n] + 2.0 * np.eye(D)[n]  # shifted off the origin: the centroid matters
    est = gaussian_width(PointCloud(X), 20000, seed=2, method="gram", center=center)
    assert abs(est.value - s * expected_max_of_gaussians(n)) < 4 * est.stderr


def test_gram_and_direct_sampling_agree_within_monte_carlo_error():
    X = np.random.default_rng(1015).standard_normal((30, 200)) + 4.0
    T = PointCloud(X)
    for center in (True, False):
        a = gaussian_width(T, 4000, seed=3, method="gram", center=center, keep_samples=True)
        b = gaussian_width(T, 4000, seed=4, method="monte-carlo", center=center, keep_samples=True)
        assert abs(a.value - b.value) < 4 * np.hypot(a.stderr, b.stderr)
        assert a.samples.std() == pytest.approx(b.samples.std(), rel=0.1)  # same law, same spread
        assert a.lipschitz == b.lipschitz == T.radius


@pytest.mark.parametrize("shape,duplicate", [((6, 40), False), ((6, 40), True), ((30, 5), False)])
def test_gram_factor_reproduces_the_gram_matrix(shape, duplicate):
    """F F^T = A A^T with A = [x_j - c; c], also for rank-deficient clouds (duplicates, n > D)."""
    X = np.random.default_rng(1016).standard_normal(shape) + 1.0
    if duplicate:
        X[3] = X[1]
    T = PointCloud(X)
    A = np.vstack([X - X.mean(axis=0), X.mean(axis=0)])
    F = T.gram_factor()
    np.testing.assert_allclose(F @ F.T, A @ A.T, atol=1e-12 * np.abs(A @ A.T).max())
    assert F.shape[1] == np.linalg.matrix_rank(A)
    assert T.gram_factor() is F  # cached


def test_gram_route_reproducible_and_batch_size_independent(monkeypatch):
    from geometry import sets

    T = PointCloud(np.random.default_rng(1017).standard_normal((12, 100)))
    a = gaussian_width(T, 500, seed=5, method="gram")
    b = gaussian_width(T, 500, seed=5, method="gram", batch_size=7)
    monkeypatch.setattr(sets, "_GRAM_CHUNK_ENTRIES", 64)  # Gram matrix over many column chunks
    c = gaussian_width(PointCloud(T.points), 500, seed=5, method="gram")
    assert a.value == b.value and c.value == pytest.approx(a.value, rel=1e-12)
    assert gaussian_width(T, 500, seed=6, method="gram").value != a.value


def test_auto_takes_the_gram_route_only_when_cheaper():
    wide = PointCloud(np.random.default_rng(1018).standard_normal((20, 5000)))
    assert gaussian_width(wide, 1000, seed=0).method.startswith("monte-carlo: gram")
    tall = PointCloud(np.random.default_rng(1019).standard_normal((50, 10)))
    assert gaussian_width(tall, 1000, seed=0).method == "monte-carlo: support function"
    G = np.random.default_rng(1020).standard_normal((10, 5000))
    assert gaussian_width(wide, G=G).method == "monte-carlo: given G"  # given directions: direct


def test_gram_method_bad_input():
    from geometry import Ball, Orthant

    T = PointCloud(np.eye(3))
    with pytest.raises(ValueError, match="G cannot be combined with method='gram'"):
        gaussian_width(T, G=np.ones((4, 3)), method="gram")
    with pytest.raises(ValueError, match="applies to a PointCloud only"):
        gaussian_width(Ball(3), 10, method="gram")
    with pytest.raises(ValueError, match="statistical_dimension takes"):
        statistical_dimension(Orthant(3), 10, method="gram")


# --------------------------------------------------------------------------- ellipsoidal cone
def test_shared_zero_row_equals_full_zero_matrix():
    rng = np.random.default_rng(1021)
    K = EllipsoidalCone(np.exp(rng.uniform(-1, 1, 30)), rng.standard_normal(30) * 4)
    Gp, H, flat2 = K._draw(40, np.random.default_rng(8))
    assert H.shape == (1, 30) and not H.any()  # no multiplicity above one: one shared row
    shared = K._batch(Gp, H, flat2, want_support=True)
    full = K._batch(Gp, np.zeros((40, 30)), flat2, want_support=True)
    assert np.array_equal(shared, full, equal_nan=True)


# --------------------------------------------------------------------------- threads
def test_parallel_kernels_do_not_depend_on_the_thread_count():
    rng = np.random.default_rng(1022)
    long_row = rng.standard_normal((1, 2 ** 17))
    rows = rng.standard_normal((5, 2 ** 14))
    perm, scale = rng.permutation(2 ** 17), rng.standard_normal(2 ** 17)
    C, radii = rng.standard_normal((500, 30)), np.exp(rng.uniform(-1, 1, 30))
    A = random_subspace(100000, 50, kind="fastfood", seed=4)
    phi, v = rng.standard_normal(50), rng.standard_normal(100000)

    def run():
        return [
            _fwht.fwht_rows(long_row.copy()),
            _fwht.fwht_rows(rows.copy()),
            _fwht.gather_scale_rows(long_row, perm, scale),
            _fwht.scale_scatter_rows(long_row, perm, scale),
            _kernels.ellipsoid_support(C, radii),
            A.matvec(phi),
            A.rmatvec(v),
        ]

    for one, two in zip(with_threads(1, run), with_threads(2, run)):
        assert np.array_equal(one, two)


def test_hook_estimates_do_not_depend_on_the_thread_count():
    """Chunks of at least _MIN_CHUNK_SAMPLES samples are split over the threads; the draws
    and the result are the same on one thread and on two."""
    from geometry import ellipsoidal_cone

    rng = np.random.default_rng(1023)
    K = EllipsoidalCone(np.exp(rng.uniform(-1, 1, 300)), rng.standard_normal(300) * 3)
    assert ellipsoidal_cone._MIN_CHUNK_SAMPLES >= 2
    one = with_threads(1, lambda: statistical_dimension(K, 100, seed=9, keep_samples=True))
    two = with_threads(2, lambda: statistical_dimension(K, 100, seed=9, keep_samples=True))
    assert np.array_equal(one.samples, two.samples)
    w1 = with_threads(1, lambda: gaussian_width(K, 50, seed=9).value)
    assert w1 == with_threads(2, lambda: gaussian_width(K, 50, seed=9).value)


def test_blas_thread_count_changes_point_cloud_widths_by_rounding_only():
    """The README's tolerance: products done by BLAS (a point cloud's support function)
    may change in the last bits with the BLAS thread count (measured: 5.7e-14 absolute on
    values of order 30, for 1000 x 1000 directions against 50 points); never more than
    1e-12 relative. Everything else is bitwise (the tests above)."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(1024)
    T = PointCloud(rng.standard_normal((50, 1000)))

    def run(k):
        with threadpool_limits(k, user_api="blas"):
            return gaussian_width(T, 1000, seed=3, keep_samples=True, method="monte-carlo")

    one, two = run(1), run(2)
    np.testing.assert_allclose(one.samples, two.samples, rtol=1e-12, atol=0)
    assert abs(one.value - two.value) <= 1e-12 * abs(one.value)
