r"""Random frames, shared by the models (random rotations of a well) and the subspaces
(Gaussian and Haar maps). Private: the public names are :func:`landscape.subspaces.haar_frame`
and the subspace map classes.

Memory. A D x k frame is built in place, in its final dtype: the Gaussian entries are
drawn (in float64, always, so that one seed gives the same frame in float32 and float64
up to rounding) a block of columns at a time and cast into the final C-contiguous array,
and the orthonormalisation works on that array in place. The only other allocations are
one block of draws, at most a tenth of the frame (and at least 1 MiB), and k x k
matrices, so the peak during the build is at most 1.1 times the frame (plus 1 MiB).

Stream. Column j of the Gaussian is ``D`` consecutive standard normals of the
generator, after those of columns 0..j-1: the first j columns of any frame drawn from one
seed do not depend on k (nested draws), and the values are those of the earlier
``rng.standard_normal((k, D)).T``.
"""
from __future__ import annotations

import numpy as np

from geometry.validation import check_choice, check_int, check_memory, check_rng

#: a block of float64 draws holds at most this fraction of the frame's bytes ...
_BLOCK_FRACTION = 0.1
#: ... but may always take this many bytes
_BLOCK_MIN_BYTES = 2 ** 20
#: at most this many columns per block (rows of a few hundred bytes: the transposed copy
#: into the frame stays in the L1/L2 caches)
_BLOCK_MAX_COLUMNS = 64
#: Cholesky QR (two passes) is used while k <= D * this; Householder (LAPACK) above, where a
#: Gaussian frame may be too ill-conditioned for the Gram matrix
_CHOLQR_MAX_ASPECT = 0.5
#: a first Cholesky pass whose Gram matrix is further than this from diagonal dominance
#: (largest |R_ii| / smallest |R_ii| squared) falls back to Householder
_CHOLQR_MAX_GROWTH = {np.dtype(np.float32): 1e3, np.dtype(np.float64): 1e7}

FRAME_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_dtype(dtype, name="dtype"):
    """``dtype`` as ``np.dtype(float32)`` or ``np.dtype(float64)`` (None: float64).

    Accepts numpy dtypes and their names, and ``torch.float32`` / ``torch.float64`` (by
    name, without importing torch).
    """
    if dtype is None:
        return np.dtype(np.float64)
    text = str(dtype)
    try:
        dt = np.dtype(text[len("torch."):] if text.startswith("torch.") else dtype)
    except (TypeError, ValueError):
        dt = None
    if dt is None or dt not in FRAME_DTYPES:  # (np.dtype("float64") == None is True)
        raise TypeError(f"{name} must be float32 or float64 (numpy or torch), got {dtype!r}")
    return dt


def _block_columns(D, k, itemsize):
    """Columns per block of float64 draws within the memory budget (0: one column in pieces)."""
    budget = max(_BLOCK_MIN_BYTES, int(_BLOCK_FRACTION * D * k * itemsize))
    return min(k, _BLOCK_MAX_COLUMNS, budget // (8 * D))


def gaussian_columns(D, k, rng, dtype=np.float64, *, normalise=False):
    r"""A C-contiguous D x k standard Gaussian matrix in ``dtype``, columns scaled to unit norm if asked.

    The entries are drawn in float64, block by block, and cast (see the module docstring
    for the memory and the stream). With ``normalise`` the columns are divided by their
    float64 norms before the cast, :math:`a_j = g_j/\|g_j\|`, so a float32 frame is the
    float64 one rounded.
    """
    dtype = check_dtype(dtype)
    out = np.empty((D, k), dtype=dtype)
    step = _block_columns(D, k, dtype.itemsize)
    if step >= 1:
        for j0 in range(0, k, step):
            blk = rng.standard_normal((min(step, k - j0), D))
            if normalise:
                blk /= np.sqrt(np.einsum("ij,ij->i", blk, blk))[:, None]  # no temporary
            out[:, j0:j0 + blk.shape[0]] = blk.T
            del blk  # freed before the next block is drawn
        return out
    # a single column is larger than the budget: draw it in pieces of rows
    rows = max(1, int(_BLOCK_MIN_BYTES // 8))
    for j in range(k):
        col = out[:, j]
        sq = 0.0
        for r0 in range(0, D, rows):
            piece = rng.standard_normal(min(rows, D - r0))
            sq += float(piece @ piece)
            col[r0:r0 + piece.shape[0]] = piece
        if normalise:
            col /= np.sqrt(sq)
    return out


def _lapack(name, dtype):
    from scipy.linalg import blas, lapack

    prefix = "s" if dtype == np.float32 else "d"
    mod = blas if name in ("syrk", "trsm") else lapack
    return getattr(mod, prefix + name)


def _cholesky_qr_pass(At):
    r"""One Cholesky-QR pass on the k x D F-contiguous array ``At`` (the frame transposed), in place.

    :math:`C = G^T G = R^T R`, :math:`G \leftarrow G R^{-1}` (a triangular solve on
    :math:`G^T`). Returns R, or None when the Cholesky factorisation fails.
    """
    dtype = At.dtype
    C = _lapack("syrk", dtype)(1.0, At)  # upper triangle of At At^T = G^T G
    R, info = _lapack("potrf", dtype)(C, lower=0, clean=1, overwrite_a=1)
    if info != 0 or not np.all(np.isfinite(R)):
        return None
    # G R^{-1}: on the transpose, At <- R^{-T} At (left side, upper R, transposed)
    out = _lapack("trsm", dtype)(1.0, R, At, side=0, lower=0, trans_a=1, overwrite_b=1)
    if out is not At and not np.shares_memory(out, At):  # pragma: no cover - scipy copied
        At[...] = out
    return R


def _reverse_rows(At):
    """Reverse the order of the rows of the F-contiguous ``At`` in place, a strip of columns at a time."""
    k, D = At.shape
    step = max(1, _BLOCK_MIN_BYTES // (At.itemsize * k))
    for c0 in range(0, D, step):
        blk = At[:, c0:c0 + step]
        blk[...] = blk[::-1].copy()


def _householder(At):
    r"""Householder QR of :math:`G = ` ``At.T`` (``At`` k x D, F-contiguous), in place.

    LAPACK has no LQ in scipy, so with J the k x k reversal, the RQ factorisation
    :math:`J G^T = T Z` (``gerqf``, ``orgrq``: T upper triangular, Z with orthonormal
    rows) gives :math:`G = (Z^T J)(J T^T J)` with :math:`J T^T J` upper triangular: Q is
    :math:`Z^T J`, i.e. ``At`` becomes :math:`JZ`, with the signs fixed so that the
    diagonal of R, :math:`T_{k-1-i,k-1-i}`, is positive.
    """
    k = At.shape[0]
    dtype = At.dtype
    _reverse_rows(At)
    lwork = max(1, 64 * k)
    rq, tau, work, info = _lapack("gerqf", dtype)(At, lwork=lwork, overwrite_a=1)
    if info != 0:  # pragma: no cover - LAPACK argument error
        raise RuntimeError(f"LAPACK gerqf failed (info={info})")
    T_diag = np.diag(rq[:, rq.shape[1] - k:]).copy()
    q, work, info = _lapack("orgrq", dtype)(rq, tau, lwork=lwork, overwrite_a=1)
    if info != 0:  # pragma: no cover
        raise RuntimeError(f"LAPACK orgrq failed (info={info})")
    if not np.shares_memory(q, At):  # pragma: no cover - scipy copied
        At[...] = q
    At *= np.where(T_diag < 0, -1.0, 1.0).astype(dtype)[:, None]
    _reverse_rows(At)
    return At


def orthonormalise_columns(G, method="auto"):
    r"""Replace the C-contiguous D x k matrix G (k <= D) by the Q of :math:`G = QR`, diag(R) > 0, in place.

    ``method``: ``"cholesky"`` (Cholesky QR, two passes, BLAS 3 throughout: the Gram matrix
    :math:`G^TG = R_1^TR_1`, :math:`Q_1 = GR_1^{-1}`, then once more on :math:`Q_1`; the
    second pass makes the columns orthonormal to a few units of rounding whenever the
    first one succeeds), ``"householder"`` (Householder reflections, LAPACK, signs fixed), or
    ``"auto"``: Cholesky QR for :math:`k \le D/2`, where a Gaussian G is well conditioned,
    with Householder as the fallback when a Cholesky factor fails or grows too fast
    (then the partly transformed G is discarded: the caller redraws it). Both compute the
    same Q up to rounding (the QR factorisation with positive diagonal is unique), so the
    first j columns depend only on the first j columns of G.

    Returns the method used, or ``None`` when Cholesky QR failed and G must be redrawn.
    """
    D, k = G.shape
    At = G.T  # F-contiguous k x D: the BLAS/LAPACK routines work on it in place
    if method == "auto":
        method = "cholesky" if k <= _CHOLQR_MAX_ASPECT * D else "householder"
    if method == "householder":
        _householder(At)
        return "householder"
    limit = _CHOLQR_MAX_GROWTH[G.dtype]
    for _ in range(2):
        R = _cholesky_qr_pass(At)
        if R is None:
            return None
        d = np.abs(np.diag(R)).astype(np.float64)
        if (d.max() / d.min()) ** 2 > limit:
            return None
    return "cholesky"


def haar_frame(D, k, seed=None, *, dtype=np.float64, method="auto"):
    r"""A uniformly random (Haar) D x k matrix with orthonormal columns.

    The Q of the QR factorisation :math:`G = QR` of a standard Gaussian D x k matrix,
    with :math:`\operatorname{diag}(R) > 0` (without that sign convention Q is not Haar
    distributed). Computed in ``dtype``, in place (peak memory about 1.1 times the
    frame): for :math:`k \le D/2` by Cholesky QR in two passes (BLAS 3, several times
    faster than Householder), otherwise by Householder reflections (LAPACK); both give
    the same Q up to rounding, and Cholesky QR falls back to Householder when the Gram
    matrix is too ill-conditioned. Orthonormality: :math:`\|Q^TQ - I\|_{\max}` is a few
    units of rounding of ``dtype`` times :math:`\sqrt k` (measured in
    ``benchmarks/RESULTS.md``: about 1e-15 in float64, 1e-7 in float32).

    The Gaussian is drawn column by column (in float64, then cast), so the first j
    columns of the frame do not depend on k (nested draws), and one seed gives the same
    frame in float32 and float64 up to rounding.

    Parameters
    ----------
    D, k : int, 1 <= k <= D
    seed : int, SeedSequence, numpy.random.Generator or None
    dtype : float32 or float64 (numpy or torch dtype), default float64
    method : {"auto", "cholesky", "householder"}

    Returns
    -------
    ndarray of shape (D, k), C-contiguous, of ``dtype``

    Examples
    --------
    >>> import numpy as np
    >>> from landscape.subspaces import haar_frame
    >>> Q = haar_frame(5, 3, seed=0)
    >>> bool(np.allclose(Q.T @ Q, np.eye(3)))
    True
    """
    D = check_int(D, "D", minimum=1)
    k = check_int(k, "k", minimum=1, maximum=D)
    check_memory(2 * D * k * 8, "D * k")
    dtype = check_dtype(dtype)
    method = check_choice(method, "method", ("auto", "cholesky", "householder"))
    rng = check_rng(seed)
    state = rng.bit_generator.state
    G = gaussian_columns(D, k, rng, dtype)
    if orthonormalise_columns(G, method) is None:
        # Cholesky QR broke down (G far from orthogonal): redraw the same G, use Householder
        after = rng.bit_generator.state
        rng.bit_generator.state = state
        G = gaussian_columns(D, k, rng, dtype)
        rng.bit_generator.state = after
        orthonormalise_columns(G, "householder")
    return G
