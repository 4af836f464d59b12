"""Random subspace maps: transposes, reproducibility, nesting, normalisation, memory, FWHT.

Data drawn here uses seeds >= 1000; the maps use small seeds.
"""
import numpy as np
import pytest
import scipy.sparse
from scipy.linalg import hadamard
from scipy.sparse.linalg import LinearOperator

from landscape.subspaces import (
    SUBSPACE_KINDS,
    FastfoodSubspace,
    LotterySubspace,
    SparseSubspace,
    SubspaceMap,
    haar_frame,
    random_subspace,
)


def naive_fwht(x):
    """Plain-numpy reference: rows of x times the Sylvester Hadamard matrix, by recursion."""
    x = np.asarray(x, dtype=float)
    L = x.shape[-1]
    if L == 1:
        return x.copy()
    a, b = naive_fwht(x[..., : L // 2]), naive_fwht(x[..., L // 2:])
    return np.concatenate([a + b, a - b], axis=-1)


def naive_fastfood(D, d, signs, perm, gauss):
    """Dense reference of the fastfood map, built from explicit matrices."""
    L = signs.size
    H = hadamard(L).astype(float)
    P = np.eye(L)[perm]  # (P y)_k = y[perm[k]]
    M = H @ np.diag(gauss) @ P @ H @ np.diag(signs)
    return M[:D, :d] / np.sqrt(L * D)


# -- FWHT -------------------------------------------------------------------------------
@pytest.mark.parametrize("L", [1, 2, 4, 8, 32, 128])
def test_fwht_matches_scipy_hadamard_and_naive(L):
    from landscape.subspaces._fwht import fwht_rows
    X = np.random.default_rng(1000 + L).standard_normal((5, L))
    out = fwht_rows(X.copy())
    np.testing.assert_allclose(out, X @ hadamard(L), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out, naive_fwht(X), rtol=1e-12, atol=1e-12)


def test_fwht_parallel_and_serial_agree_and_are_involutive_up_to_L():
    from landscape.subspaces._fwht import (
        _fwht_rows_parallel,
        _fwht_rows_serial,
        fwht_rows,
    )
    X = np.random.default_rng(1001).standard_normal((300, 256))
    a, b = X.copy(), X.copy()
    _fwht_rows_serial(a)
    _fwht_rows_parallel(b)
    np.testing.assert_array_equal(a, b)  # same arithmetic per row, whatever the threads
    np.testing.assert_allclose(fwht_rows(a) / 256, X, atol=1e-12)  # H H = L I


def test_fwht_bad_input():
    from landscape.subspaces._fwht import fwht_rows
    with pytest.raises(ValueError, match="power of two"):
        fwht_rows(np.zeros((2, 6)))
    with pytest.raises(TypeError, match="float64 or float32"):
        fwht_rows(np.zeros((2, 8), dtype=np.int64))
    with pytest.raises(TypeError, match="C-contiguous"):
        fwht_rows(np.zeros((8, 2)).T)


# -- all kinds ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", SUBSPACE_KINDS)
def test_shapes_and_dense_consistency(kind):
    A = random_subspace(100, 12, kind=kind, seed=3)
    assert isinstance(A, SubspaceMap)
    assert A.shape == (100, 12) and A.kind == kind and A.seed == 3
    rng = np.random.default_rng(1002)
    phi, Phi = rng.standard_normal(12), rng.standard_normal((12, 4))
    v, V = rng.standard_normal(100), rng.standard_normal((100, 4))
    M = A.to_dense()
    assert M.shape == (100, 12)
    assert A.matvec(phi).shape == (100,) and A.matvec(Phi).shape == (100, 4)
    assert A.rmatvec(v).shape == (12,) and A.rmatvec(V).shape == (12, 4)
    np.testing.assert_allclose(A.matvec(Phi), M @ Phi, atol=1e-12)
    np.testing.assert_allclose(A.rmatvec(V), M.T @ V, atol=1e-12)
    np.testing.assert_allclose(A.matvec(phi), A.matvec(Phi[:, :1] * 0 + phi[:, None])[:, 0], atol=1e-12)


@pytest.mark.parametrize("kind", SUBSPACE_KINDS)
@pytest.mark.parametrize("D,d", [(1, 1), (7, 3), (64, 64), (300, 40)])
def test_rmatvec_is_exact_transpose(kind, D, d):
    A = random_subspace(D, d, kind=kind, seed=5)
    rng = np.random.default_rng(1003)
    for _ in range(3):
        phi, v = rng.standard_normal(d), rng.standard_normal(D)
        lhs, rhs = A.matvec(phi) @ v, phi @ A.rmatvec(v)
        assert abs(lhs - rhs) <= 1e-12 * max(1.0, np.linalg.norm(A.matvec(phi)) * np.linalg.norm(v))


@pytest.mark.parametrize("kind", SUBSPACE_KINDS)
def test_reproducible_from_seed_and_seed_attribute(kind):
    a = random_subspace(80, 9, kind=kind, seed=11).to_dense()
    b = random_subspace(80, 9, kind=kind, seed=11).to_dense()
    c = random_subspace(80, 9, kind=kind, seed=12).to_dense()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    for seed in (None, np.random.default_rng(1004), np.random.SeedSequence(1005)):
        m = random_subspace(80, 9, kind=kind, seed=seed)
        again = random_subspace(80, 9, kind=kind, seed=m.seed)
        np.testing.assert_array_equal(m.to_dense(), again.to_dense())


@pytest.mark.parametrize("kind", SUBSPACE_KINDS)
def test_nested_draws(kind):
    big = random_subspace(150, 40, kind=kind, seed=21).to_dense()
    small = random_subspace(150, 7, kind=kind, seed=21).to_dense()
    np.testing.assert_allclose(small, big[:, :7], atol=1e-12)


@pytest.mark.parametrize("kind", SUBSPACE_KINDS)
def test_expected_squared_norm_is_preserved(kind):
    # E ||A phi||^2 = ||phi||^2 over the draw of A, checked within 4 standard errors
    D, d, n = 60, 5, 400
    phi = np.random.default_rng(1006).standard_normal(d)
    vals = np.array([np.sum(random_subspace(D, d, kind=kind, seed=s).matvec(phi) ** 2) for s in range(n)])
    se = vals.std(ddof=1) / np.sqrt(n)
    target = phi @ phi
    if kind == "orthonormal":
        np.testing.assert_allclose(vals, target, rtol=1e-12)
    else:
        assert abs(vals.mean() - target) <= 4 * se + 1e-12


def test_linear_operator():
    A = random_subspace(50, 6, kind="fastfood", seed=2)
    op = A.as_linear_operator()
    assert isinstance(op, LinearOperator) and op.shape == (50, 6)
    rng = np.random.default_rng(1007)
    phi, V = rng.standard_normal(6), rng.standard_normal((50, 3))
    np.testing.assert_allclose(op.matvec(phi), A.matvec(phi))
    np.testing.assert_allclose(op.rmatvec(V[:, 0]), A.rmatvec(V[:, 0]))
    np.testing.assert_allclose(op.T.matmat(V), A.rmatvec(V), atol=1e-12)
    np.testing.assert_allclose(op.matmat(np.eye(6)), A.to_dense(), atol=1e-12)


# -- per kind -----------------------------------------------------------------------------
def test_orthonormal_is_orthonormal_and_haar():
    A = random_subspace(30, 10, seed=0)
    assert A.orthonormal
    M = A.to_dense()
    np.testing.assert_allclose(M.T @ M, np.eye(10), atol=1e-12)
    # Haar: the first entry of the first column is symmetric about 0 (needs the sign fix of
    # the QR) and E ||P e_1||^2 = d / D; 2000 draws, 4 standard errors
    first, proj = [], []
    for s in range(2000):
        Q = haar_frame(6, 2, s)
        first.append(Q[0, 0])
        proj.append(Q[0] @ Q[0])
    first, proj = np.array(first), np.array(proj)
    assert abs(first.mean()) <= 4 * first.std() / np.sqrt(first.size)
    assert abs(proj.mean() - 2 / 6) <= 4 * proj.std() / np.sqrt(proj.size)


def test_gaussian_unit_columns_same_range_as_orthonormal():
    G = random_subspace(200, 15, kind="gaussian", seed=4)
    Q = random_subspace(200, 15, kind="orthonormal", seed=4).to_dense()
    M = G.to_dense()
    assert not G.orthonormal
    np.testing.assert_allclose(np.linalg.norm(M, axis=0), 1.0, rtol=1e-12)
    # columns only approximately orthogonal: |<a_i, a_j>| of order 1/sqrt(D)
    off = M.T @ M - np.eye(15)
    assert 0 < np.abs(off).max() < 6 / np.sqrt(200)
    # same range: projectors agree
    Qm, _ = np.linalg.qr(M)
    np.testing.assert_allclose(Qm @ Qm.T, Q @ Q.T, atol=1e-10)


def test_sparse_structure_and_density():
    D, d = 400, 50
    A = random_subspace(D, d, kind="sparse", seed=6)
    assert isinstance(A, SparseSubspace) and scipy.sparse.issparse(A.matrix)
    p = 1 / np.sqrt(D)
    # number of non-zeros ~ Binomial(D d, p): within 5 standard deviations
    assert abs(A.nnz - D * d * p) <= 5 * np.sqrt(D * d * p * (1 - p))
    vals = np.abs(A.matrix.data)
    np.testing.assert_allclose(vals, 1 / np.sqrt(p * D))
    signs = np.sign(A.matrix.data)
    assert abs(signs.mean()) <= 5 / np.sqrt(signs.size)
    B = random_subspace(D, d, kind="sparse", seed=6, density=0.5)
    assert abs(B.nnz - D * d * 0.5) <= 5 * np.sqrt(D * d * 0.25)
    np.testing.assert_allclose(np.abs(B.matrix.data), 1 / np.sqrt(0.5 * D))
    assert (np.diff(A.matrix.indptr) >= 1).all()  # no empty column


def test_fastfood_matches_explicit_matrices():
    for D, d in [(12, 5), (16, 16), (5, 1), (33, 20)]:
        A = random_subspace(D, d, kind="fastfood", seed=8)
        assert isinstance(A, FastfoodSubspace) and A.L >= D and A.L < 2 * D + 1
        ref = naive_fastfood(D, d, A.signs, A.permutation, A.gaussian)
        np.testing.assert_allclose(A.to_dense(), ref, atol=1e-12)


def test_fastfood_normalisation():
    A = random_subspace(100, 30, kind="fastfood", seed=9)
    L = A.L
    assert np.sum(A.gaussian ** 2) == pytest.approx(L, rel=1e-12)
    # before slicing, every column of H G Pi H B has norm exactly L, i.e. norm sqrt(L / D)
    # after the 1/sqrt(L D) scaling; with D = L nothing is sliced and the norms are 1
    full = FastfoodSubspace(L, 30, seed=9)  # same L, hence the same draws
    np.testing.assert_array_equal(full.gaussian, A.gaussian)
    np.testing.assert_allclose(np.linalg.norm(full.to_dense(), axis=0), 1.0, rtol=1e-12)
    norms = np.linalg.norm(A.to_dense(), axis=0)
    assert 0.6 < norms.mean() < 1.4


def test_fastfood_memory_is_order_D():
    D, d = 1_000_003, 5000
    A = random_subspace(D, d, kind="fastfood", seed=10)
    arrays = {k: v for k, v in vars(A).items() if isinstance(v, np.ndarray)}
    assert arrays, "expected the diagonal vectors to be stored"
    assert all(v.size <= A.L for v in arrays.values())
    assert A.L < 2 * D and sum(v.nbytes for v in arrays.values()) <= 3 * 8 * A.L
    phi = np.random.default_rng(1008).standard_normal(d)
    y = A.matvec(phi)
    assert y.shape == (D,) and np.isfinite(y).all()
    assert 0.5 < (y @ y) / (phi @ phi) < 2.0
    with pytest.raises(ValueError, match="max_entries"):
        A.to_dense()


def test_lottery_subspace_class():
    Q = haar_frame(10, 3, 0)
    m = LotterySubspace(Q, [3.0, 2.0, 1.0])
    assert m.kind == "lottery" and m.orthonormal and m.seed is None
    np.testing.assert_array_equal(m.to_dense(), Q)
    with pytest.raises(ValueError, match="orthonormal"):
        LotterySubspace(2 * Q)


# -- bad input ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args, kwargs, exc, match",
    [
        ((10, 11), {}, ValueError, "d must be <= D"),
        ((10, 0), {}, ValueError, "d must be >= 1"),
        ((0, 1), {}, ValueError, "D must be >= 1"),
        ((10, 2.5), {}, TypeError, "d must be an integer"),
        (("10", 2), {}, TypeError, "D must be an integer"),
        ((10, 2), {"kind": "hadamard"}, ValueError, "kind must be one of"),
        ((10, 2), {"seed": -1}, ValueError, "seed"),
        ((10, 2), {"seed": "abc"}, TypeError, "seed"),
        ((10, 2), {"kind": "sparse", "density": 0.0}, ValueError, "density"),
        ((10, 2), {"kind": "sparse", "density": 1.5}, ValueError, "density"),
        ((10, 2), {"kind": "fastfood", "density": 0.5}, ValueError, "density applies"),
    ],
)
def test_random_subspace_bad_input(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        random_subspace(*args, **kwargs)


@pytest.mark.parametrize("kind", SUBSPACE_KINDS)
def test_matvec_bad_input(kind):
    A = random_subspace(20, 4, kind=kind, seed=1)
    with pytest.raises(ValueError, match="phi must have 4 rows"):
        A.matvec(np.ones(5))
    with pytest.raises(ValueError, match="phi contains NaN"):
        A.matvec(np.array([1.0, np.nan, 0.0, 0.0]))
    with pytest.raises(ValueError, match="v must have 20 rows"):
        A.rmatvec(np.ones(4))
    with pytest.raises(ValueError, match="v must be finite"):
        A.rmatvec(np.full(20, np.inf))
    with pytest.raises(ValueError, match="phi must be 1-D or 2-D"):
        A.matvec(np.ones((4, 1, 1)))
    with pytest.raises(ValueError, match="max_entries"):
        A.to_dense(max_entries=10)


def test_haar_frame_bad_input():
    with pytest.raises(ValueError, match="k must be <= 3"):
        haar_frame(3, 4)
    with pytest.raises(ValueError, match="D must be >= 1"):
        haar_frame(0, 1)


# -- dtype, memory, exact frames --------------------------------------------------------------
def naive_haar_frame(D, k, seed):
    """The textbook construction: numpy's Householder QR of the (k, D)-drawn Gaussian, signs fixed."""
    G = np.random.default_rng(seed).standard_normal((k, D)).T
    Q, R = np.linalg.qr(G)
    return Q * np.where(np.diag(R) < 0, -1.0, 1.0)


@pytest.mark.parametrize("method", ["auto", "cholesky", "householder"])
@pytest.mark.parametrize("D,k", [(1, 1), (9, 4), (200, 30), (64, 64), (120, 100)])
def test_haar_frame_matches_householder_reference_in_both_dtypes(method, D, k):
    ref = naive_haar_frame(D, k, 31)
    Q = haar_frame(D, k, 31, method=method)
    assert Q.dtype == np.float64 and Q.flags.c_contiguous and Q.shape == (D, k)
    np.testing.assert_allclose(Q, ref, atol=1e-12)
    np.testing.assert_allclose(Q.T @ Q, np.eye(k), atol=1e-13)
    Q32 = haar_frame(D, k, 31, method=method, dtype=np.float32)
    assert Q32.dtype == np.float32 and Q32.flags.c_contiguous
    # the same frame, rounded: entries and orthonormality to a few float32 units of rounding
    np.testing.assert_allclose(Q32, ref, atol=2e-5)
    Q32d = Q32.astype(np.float64)
    np.testing.assert_allclose(Q32d.T @ Q32d, np.eye(k), atol=5e-6)


def test_cholesky_qr_reports_breakdown_and_householder_takes_over():
    from landscape._random import orthonormalise_columns

    rng = np.random.default_rng(1009)
    U, _ = np.linalg.qr(rng.standard_normal((50, 6)))
    G = np.ascontiguousarray(U * np.logspace(0, -9, 6))  # condition number 1e9
    assert orthonormalise_columns(G.copy(), "cholesky") is None
    H = G.copy()
    assert orthonormalise_columns(H, "householder") == "householder"
    np.testing.assert_allclose(H.T @ H, np.eye(6), atol=1e-13)
    Q, R = np.linalg.qr(G)
    np.testing.assert_allclose(H, Q * np.sign(np.diag(R)), atol=1e-6)  # ill-conditioned: Q to cond * eps


@pytest.mark.parametrize("kind", SUBSPACE_KINDS)
def test_float32_and_float64_maps_are_the_same_subspace_up_to_rounding(kind):
    D, d = 300, 20
    A64 = random_subspace(D, d, kind=kind, seed=41)
    A32 = random_subspace(D, d, kind=kind, seed=41, dtype=np.float32)
    assert A64.dtype == np.float64 and A32.dtype == np.float32
    M64, M32 = A64.to_dense(), A32.to_dense()
    assert M32.dtype == np.float32
    np.testing.assert_allclose(M32, M64, rtol=0, atol=1e-5 * np.abs(M64).max())
    rng = np.random.default_rng(1010)
    phi, v = rng.standard_normal(d), rng.standard_normal(D)
    y32, g32 = A32.matvec(phi), A32.rmatvec(v)
    assert y32.dtype == np.float32 and g32.dtype == np.float32
    np.testing.assert_allclose(y32, A64.matvec(phi), rtol=0, atol=1e-5 * np.abs(A64.matvec(phi)).max())
    np.testing.assert_allclose(g32, A64.rmatvec(v), rtol=0, atol=1e-5 * np.abs(A64.rmatvec(v)).max())
    # torch dtypes and names are accepted too
    assert random_subspace(D, d, kind=kind, seed=41, dtype="float32").dtype == np.float32


def test_dense_float64_maps_keep_their_earlier_values():
    """The block-wise build draws the same stream as the earlier one-shot draw."""
    G = np.random.default_rng(43).standard_normal((12, 500)).T
    np.testing.assert_allclose(random_subspace(500, 12, kind="gaussian", seed=43).to_dense(),
                               G / np.linalg.norm(G, axis=0), rtol=1e-14)
    np.testing.assert_allclose(random_subspace(500, 12, kind="orthonormal", seed=43).to_dense(),
                               naive_haar_frame(500, 12, 43), atol=1e-13)


@pytest.mark.parametrize("kind", ["gaussian", "orthonormal"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_build_peak_memory_is_at_most_1_2_times_the_matrix(kind, dtype):
    import tracemalloc

    from landscape.subspaces import GaussianSubspace, OrthonormalSubspace

    cls = GaussianSubspace if kind == "gaussian" else OrthonormalSubspace
    cls(100, 3, seed=0, dtype=dtype)  # imports and first-call allocations outside the measurement
    D, d = 40_000, 120  # 19-38 MB
    tracemalloc.start()
    try:
        A = cls(D, d, seed=0, dtype=dtype)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert A.matrix.dtype == dtype and A.matrix.nbytes == D * d * np.dtype(dtype).itemsize
    assert peak <= 1.2 * A.matrix.nbytes, peak / A.matrix.nbytes


def test_one_column_larger_than_the_block_budget_is_drawn_in_pieces():
    from landscape._random import gaussian_columns

    D = 300_000  # one float64 column (2.4 MB) exceeds a tenth of the 1.2 MB float32 matrix
    A = gaussian_columns(D, 1, np.random.default_rng(44), np.float32, normalise=True)
    g = np.random.default_rng(44).standard_normal(D)
    np.testing.assert_allclose(A[:, 0], g / np.linalg.norm(g), rtol=1e-6, atol=1e-12)


def test_dtype_bad_input():
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        random_subspace(10, 2, dtype=np.float16)
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        random_subspace(10, 2, dtype="int")
    with pytest.raises(ValueError, match="method must be"):
        haar_frame(5, 2, 0, method="qr")
