r"""Random d-dimensional subspaces of parameter space, as linear maps :math:`\phi \mapsto A\phi`.

Training in a random affine subspace means :math:`\theta = \theta_0 + A\phi` with
:math:`A \in \mathbb{R}^{D\times d}` and :math:`\phi \in \mathbb{R}^d` trained from 0.
A :class:`SubspaceMap` applies :math:`A` (``matvec``) and :math:`A^T` (``rmatvec``)
without necessarily storing it:

============  =====================================================  ==============  =============
kind          construction                                            memory          range(A)
============  =====================================================  ==============  =============
orthonormal   QR of a D x d Gaussian, signs fixed (exact Haar)        D d             Haar
gaussian      D x d Gaussian, each column scaled to unit norm         D d             Haar
sparse        very sparse random projection (Li, Hastie, Church)      ~ d sqrt(D)     approx. Haar
fastfood      :math:`S_D H G \Pi H B` (Le et al.; Li et al. 2018)     O(D)            approx. Haar
============  =====================================================  ==============  =============

Every map is reproducible from ``seed`` (``random_subspace(D, d, kind, seed=m.seed)``
rebuilds ``m``), and the draws are *nested*: for the same seed, the map of dimension d is
the first d columns of the map of any larger dimension (so sweeps over d can reuse one
draw per trial). For every kind :math:`E\|A\phi\|^2 = \|\phi\|^2`.

Precision and memory. Every map is held and applied in its ``dtype``, float32 or float64
(the default; a float32 model should use a float32 map: half the memory and memory
traffic). The random draws are always made in float64 and then cast, so one seed gives
the same subspace in both dtypes up to rounding. Dense maps are built in place in their
final array (the Gaussian drawn a block of columns at a time, Haar frames orthonormalised
by Cholesky QR in place): the peak memory of the build is about 1.1 times the matrix
(see :mod:`landscape._random`). ``matvec`` / ``rmatvec`` cast their input to the map's
dtype and return arrays of that dtype.
"""
from __future__ import annotations

import numbers

import numpy as np

from geometry.validation import (
    as_float_array,
    check_choice,
    check_int,
    check_memory,
    check_orthonormal,
    check_rng,
)

from .._random import check_dtype, gaussian_columns, haar_frame

__all__ = [
    "SubspaceMap",
    "DenseSubspace",
    "OrthonormalSubspace",
    "GaussianSubspace",
    "SparseSubspace",
    "FastfoodSubspace",
    "LotterySubspace",
    "random_subspace",
    "haar_frame",
    "SUBSPACE_KINDS",
]

SUBSPACE_KINDS = ("orthonormal", "gaussian", "sparse", "fastfood")

#: to_dense refuses matrices with more entries than this unless told otherwise (8 bytes each)
MAX_DENSE_ENTRIES = 50_000_000


def _check_dense_shape(D, d, dtype):
    """D, d of a dense D x d map, checked (and the memory it takes) before it is drawn."""
    D = check_int(D, "D", minimum=1)
    d = check_int(d, "d", minimum=1)
    if d > D:
        raise ValueError(f"d must be <= D (a subspace of R^D), got d={d} > D={D}")
    check_memory(2 * D * d * check_dtype(dtype).itemsize, "D * d")
    return D, d


def _resolve_seed(seed):
    """A storable seed (int or SeedSequence) and a Generator built from it.

    A Generator passed as ``seed`` is advanced by one draw, the int that seeds the map.
    """
    if isinstance(seed, np.random.Generator):
        seed = int(seed.integers(2 ** 63))
    elif seed is None:
        seed = int(np.random.SeedSequence().entropy)
    elif not isinstance(seed, np.random.SeedSequence):
        check_rng(seed)  # raises a clear TypeError / ValueError for anything else
        seed = int(seed)
    return seed, np.random.default_rng(seed)


def _as_block(x, rows, name, dtype):
    """Validate a vector (rows,) or block (rows, b); return a 2-D array of ``dtype`` and whether to squeeze."""
    arr = as_float_array(x, name, ndim=(1, 2))
    if arr.shape[0] != rows:
        raise ValueError(f"{name} must have {rows} rows (shape ({rows},) or ({rows}, b)), got shape {arr.shape}")
    if arr.dtype != dtype:
        arr = arr.astype(dtype)
    if arr.ndim == 1:
        return arr[:, None], True
    return arr, False


class SubspaceMap:
    r"""Base class: a linear map :math:`A: \mathbb{R}^d \to \mathbb{R}^D` spanning a subspace.

    Subclasses implement ``_matmat`` ((d, b) -> (D, b)) and ``_rmatmat`` ((D, b) -> (d, b))
    on validated input.

    Attributes
    ----------
    D, d : int
        ``shape == (D, d)``.
    kind : str
    seed : int, SeedSequence or None
        Rebuilds the map with :func:`random_subspace` (None for data-derived maps).
    orthonormal : bool
        Whether the columns are exactly orthonormal.
    dtype : numpy.dtype
        float32 or float64: what the map is stored and applied in.
    """

    kind = "abstract"
    orthonormal = False

    def __init__(self, D, d, seed=None, dtype=None):
        self.D = check_int(D, "D", minimum=1)
        self.d = check_int(d, "d", minimum=1)
        if self.d > self.D:
            raise ValueError(f"d must be <= D (a subspace of R^D), got d={self.d} > D={self.D}")
        if seed is not None and not isinstance(seed, np.random.SeedSequence):
            check_rng(seed)  # an int seed that rebuilds the map, or None
        self.seed = seed
        self.dtype = check_dtype(dtype)

    @property
    def shape(self):
        """(D, d)."""
        return (self.D, self.d)

    def matvec(self, phi):
        r"""Apply :math:`A`: subspace coordinates to a parameter-space displacement.

        Parameters
        ----------
        phi : array_like of shape (d,) or (d, b)

        Returns
        -------
        ndarray of shape (D,) or (D, b), of the map's dtype
        """
        X, squeeze = _as_block(phi, self.d, "phi", self.dtype)
        Y = self._matmat(X)
        return Y[:, 0] if squeeze else Y

    def rmatvec(self, v):
        r"""Apply :math:`A^T` (the exact transpose of :meth:`matvec`).

        Parameters
        ----------
        v : array_like of shape (D,) or (D, b)

        Returns
        -------
        ndarray of shape (d,) or (d, b), of the map's dtype
        """
        X, squeeze = _as_block(v, self.D, "v", self.dtype)
        Y = self._rmatmat(X)
        return Y[:, 0] if squeeze else Y

    def to_dense(self, max_entries=MAX_DENSE_ENTRIES):
        """The D x d matrix A, of the map's dtype (refused when it has more than ``max_entries`` entries)."""
        max_entries = check_int(max_entries, "max_entries", minimum=1)
        if self.D * self.d > max_entries:
            raise ValueError(
                f"to_dense would build a {self.D} x {self.d} matrix ({self.D * self.d} entries > "
                f"max_entries={max_entries}); use matvec / rmatvec, or raise max_entries"
            )
        return self._dense()

    def _dense(self):
        return self._matmat(np.eye(self.d, dtype=self.dtype))

    def as_linear_operator(self):
        """A :class:`scipy.sparse.linalg.LinearOperator` of shape (D, d) applying A and A^T."""
        from scipy.sparse.linalg import LinearOperator

        return LinearOperator(self.shape, matvec=self.matvec, rmatvec=self.rmatvec,
                              matmat=self.matvec, rmatmat=self.rmatvec, dtype=self.dtype)

    def _matmat(self, X):  # pragma: no cover - abstract
        raise NotImplementedError

    def _rmatmat(self, Y):  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}(D={self.D}, d={self.d}, kind={self.kind!r}, seed={self.seed!r})"


class DenseSubspace(SubspaceMap):
    """A map stored as a dense, C-contiguous D x d matrix ``matrix``.

    ``dtype`` None keeps a float32 or float64 ``matrix`` as it is (no copy when it is
    C-contiguous) and converts anything else to float64.
    """

    kind = "dense"

    def __init__(self, matrix, seed=None, dtype=None):
        if dtype is None:
            dtype = getattr(matrix, "dtype", None)
            dtype = dtype if dtype in (np.float32, np.float64) else np.float64
        dtype = check_dtype(dtype)
        if not (isinstance(matrix, np.ndarray) and matrix.dtype in (np.float32, np.float64)):
            matrix = as_float_array(matrix, "matrix", ndim=2)
        elif matrix.ndim != 2 or matrix.size == 0:
            raise ValueError(f"matrix must be a non-empty 2-D array, got shape {matrix.shape}")
        else:  # the maps' own float32 / float64 matrices: checked in blocks, never copied
            step = max(1, (1 << 20) // max(matrix.shape[1], 1))
            if not all(np.isfinite(matrix[i:i + step]).all() for i in range(0, matrix.shape[0], step)):
                raise ValueError("matrix must be finite (contains NaN or inf)")
        matrix = np.ascontiguousarray(matrix, dtype=dtype)
        super().__init__(matrix.shape[0], matrix.shape[1], seed, dtype)
        self.matrix = matrix

    def _matmat(self, X):
        return self.matrix @ X

    def _rmatmat(self, Y):
        return self.matrix.T @ Y

    def _dense(self):
        return self.matrix.copy()


class OrthonormalSubspace(DenseSubspace):
    r"""Exact Haar subspace: orthonormal columns from :func:`haar_frame`, in ``dtype``. Memory: D d floats.

    Built in place (Cholesky QR for :math:`d \le D/2`, Householder above); the columns are
    orthonormal to a few units of rounding of ``dtype`` (see :func:`haar_frame`).
    """

    kind = "orthonormal"
    orthonormal = True

    def __init__(self, D, d, seed=None, dtype=None):
        D, d = _check_dense_shape(D, d, dtype)
        seed, rng = _resolve_seed(seed)
        super().__init__(haar_frame(D, d, rng, dtype=check_dtype(dtype)), seed)


class GaussianSubspace(DenseSubspace):
    r"""Gaussian columns scaled to unit norm, as in the code of Larsen et al. (2022).

    :math:`A = G\,\operatorname{diag}(1/\|g_j\|)` with :math:`G_{ij} \sim N(0, 1)`. Their code
    draws a d x D matrix and normalises its rows, the d basis vectors; here those are the
    columns. Scaling columns does not change the range, so ``range(A)`` is exactly Haar and
    the ground-truth success of a subspace is the same as for ``"orthonormal"``. What
    differs is the parametrisation: the columns are unit vectors but only approximately
    orthogonal (:math:`|\langle a_i, a_j\rangle| \approx 1/\sqrt D`, and
    :math:`\|A^TA - I\| \approx 2\sqrt{d/D}`), so :math:`\phi \mapsto A\phi` is close to an
    isometry, and gradient descent in :math:`\phi` close to that in a Haar frame, only
    when :math:`d \ll D`. Memory: D d floats of ``dtype``; the build draws the Gaussian a
    block of columns at a time (in float64) and normalises each block before casting it
    into place, so its peak memory is about 1.1 times the matrix.
    """

    kind = "gaussian"

    def __init__(self, D, d, seed=None, dtype=None):
        D, d = _check_dense_shape(D, d, dtype)
        seed, rng = _resolve_seed(seed)
        super().__init__(gaussian_columns(D, d, rng, check_dtype(dtype), normalise=True), seed)


class SparseSubspace(SubspaceMap):
    r"""Very sparse random projection (Li, Hastie and Church, 2006), stored as a sparse matrix.

    Each entry is :math:`\pm 1/\sqrt{pD}` with probability p/2 each and 0 otherwise, with
    density :math:`p = 1/\sqrt D` by default, so :math:`E\|a_j\|^2 = 1` and
    :math:`E\|A\phi\|^2 = \|\phi\|^2`. Columns are drawn one after the other (the number of
    non-zeros ~ Binomial(D, p), their rows without replacement, their signs); a column that
    draws no entry gets one (probability :math:`(1-p)^D`, negligible unless D is tiny).
    The range is not Haar distributed (it favours sparse directions) but behaves like it
    for the sets met here. Memory: about :math:`d\sqrt D` non-zeros.

    Parameters
    ----------
    D, d : int
    seed : int, SeedSequence, Generator or None
    density : float in (0, 1], optional
    dtype : float32 or float64, optional
    """

    kind = "sparse"

    def __init__(self, D, d, seed=None, density=None, dtype=None):
        import scipy.sparse as sp

        super().__init__(D, d, None, dtype)
        D, d = self.D, self.d
        seed, rng = _resolve_seed(seed)
        self.seed = seed
        if density is None:
            density = 1.0 / np.sqrt(D)
        elif isinstance(density, bool) or not isinstance(density, numbers.Real) or not 0 < density <= 1:
            raise ValueError(f"density must be a number in (0, 1], got {density!r}")
        self.density = float(density)
        check_memory(int(1.5 * self.density * D * d + d) * 16, "D * d * density")
        value = 1.0 / np.sqrt(self.density * D)
        indices, data, indptr = [], [], [0]
        for _ in range(d):
            k = max(int(rng.binomial(D, self.density)), 1)
            rows = np.sort(rng.choice(D, size=k, replace=False))
            signs = np.where(rng.random(k) < 0.5, -value, value)
            indices.append(rows)
            data.append(signs)
            indptr.append(indptr[-1] + k)
        self.matrix = sp.csc_matrix(
            (np.concatenate(data).astype(self.dtype), np.concatenate(indices), np.asarray(indptr)), shape=(D, d)
        )

    def _matmat(self, X):
        return np.asarray(self.matrix @ X)

    def _rmatmat(self, Y):
        return np.asarray(self.matrix.T @ Y)

    @property
    def nnz(self):
        """Number of stored non-zero entries."""
        return int(self.matrix.nnz)


class FastfoodSubspace(SubspaceMap):
    r"""Fastfood map (Le, Sarlos, Smola 2013; used by Li et al. 2018), O(D) memory.

    .. math::

        A\phi = \frac{1}{\sqrt{L D}}\; S_D\, H\, G\, \Pi\, H\, B\, \operatorname{pad}_L(\phi),
        \qquad L = 2^{\lceil \log_2 D\rceil} \ge D \ge d,

    with H the L x L Walsh-Hadamard matrix (entries :math:`\pm1`, applied by a numba FWHT
    in :math:`O(L\log L)`), B a diagonal of random signs, :math:`\Pi` a random permutation,
    G a diagonal Gaussian rescaled to :math:`\|G\|_F^2 = L` exactly, and :math:`S_D` keeps
    the first D rows. Only B, :math:`\Pi` and G (three length-L vectors) are stored; they
    do not depend on d, so maps of different d with one seed are nested.

    Normalisation: :math:`E_G\|A\phi\|^2 = \|\phi\|^2` exactly for every :math:`\phi`
    (the entries of G are uncorrelated with unit second moment), and before slicing every
    column has norm exactly :math:`\sqrt{L/D}`, so the columns of A have norm close to 1.
    They are not orthogonal: before slicing the Gram matrix is
    :math:`B H \Pi^T G^2 \Pi H B / L`, off-diagonal entries of order :math:`\sqrt{2/L}`.
    Since :math:`d \le D \le L` one block always suffices (the map is injective for
    generic G).

    The diagonals are drawn in float64 and stored, like the transforms, in ``dtype``.
    """

    kind = "fastfood"

    def __init__(self, D, d, seed=None, dtype=None):
        super().__init__(D, d, None, dtype)
        D, d = self.D, self.d
        seed, rng = _resolve_seed(seed)
        self.seed = seed
        self.L = 1 << int(np.ceil(np.log2(D))) if D > 1 else 1
        check_memory(self.L * 40, "D")
        L = self.L
        self.signs = np.where(rng.random(L) < 0.5, -1.0, 1.0).astype(self.dtype)
        self.permutation = rng.permutation(L)
        g = rng.standard_normal(L)
        self.gaussian = (g * (np.sqrt(L) / np.linalg.norm(g))).astype(self.dtype)
        self.scale = 1.0 / np.sqrt(L * D)

    def _matmat(self, X):
        from ._fwht import fwht_rows, gather_scale_rows

        b = X.shape[1]
        Y = np.zeros((b, self.L), dtype=self.dtype)
        Y[:, : self.d] = X.T * self.signs[: self.d]
        fwht_rows(Y, support=self.d)
        Y = gather_scale_rows(Y, self.permutation, self.gaussian)
        fwht_rows(Y)
        return np.ascontiguousarray((Y[:, : self.D] * self.dtype.type(self.scale)).T)

    def _rmatmat(self, V):
        from ._fwht import fwht_rows, scale_scatter_rows

        b = V.shape[1]
        Y = np.zeros((b, self.L), dtype=self.dtype)
        Y[:, : self.D] = V.T
        fwht_rows(Y, support=self.D)
        Z = scale_scatter_rows(Y, self.permutation, self.gaussian)
        fwht_rows(Z)
        return np.ascontiguousarray((Z[:, : self.d] * (self.signs[: self.d] * self.dtype.type(self.scale))).T)


class LotterySubspace(DenseSubspace):
    r"""A data-derived orthonormal frame (kind ``"lottery"``), e.g. top singular vectors of a trajectory.

    Parameters
    ----------
    basis : array_like of shape (D, d), orthonormal columns
    singular_values : array_like of shape (d,), optional
        The singular values attached to the columns (NaN for columns added to complete
        the frame).
    """

    kind = "lottery"
    orthonormal = True

    def __init__(self, basis, singular_values=None):
        basis = check_orthonormal(basis, "basis")
        super().__init__(basis, seed=None)
        if singular_values is not None:
            d = basis.shape[1]
            sv = np.asarray(singular_values) if not isinstance(singular_values, (str, bytes)) else None
            if sv is None or sv.dtype.kind not in "iuf":
                raise TypeError(f"singular_values must be an array of real numbers, got {singular_values!r:.80}")
            sv = sv.astype(np.float64)
            if sv.shape != (d,):
                raise ValueError(f"singular_values must have shape ({d},) (one per column of basis), got {sv.shape}")
            if np.any(sv[~np.isnan(sv)] < 0) or np.any(np.isinf(sv)):
                raise ValueError("singular_values must be finite and >= 0 (NaN marks a completing column)")
            singular_values = sv
        self.singular_values = singular_values


_CLASSES = {
    "orthonormal": OrthonormalSubspace,
    "gaussian": GaussianSubspace,
    "sparse": SparseSubspace,
    "fastfood": FastfoodSubspace,
}


def random_subspace(D, d, kind="orthonormal", seed=None, *, density=None, dtype=None):
    r"""A random d-dimensional subspace of :math:`\mathbb{R}^D` as a map :math:`A: \mathbb{R}^d \to \mathbb{R}^D`.

    Parameters
    ----------
    D : int >= 1
        Ambient dimension (number of parameters).
    d : int in [1, D]
        Subspace dimension.
    kind : {"orthonormal", "gaussian", "sparse", "fastfood"}
        See the module docstring; ``"orthonormal"`` is the exact Haar subspace of the theory.
    seed : int, SeedSequence, numpy.random.Generator or None
        The map stores an int or SeedSequence in ``.seed`` that rebuilds it (a Generator is
        advanced by one draw; None draws fresh entropy).
    density : float in (0, 1], optional
        Density of the ``"sparse"`` kind (default :math:`1/\sqrt D`); only for that kind.
    dtype : float32 or float64 (numpy or torch dtype), optional
        What the map is stored and applied in (default float64); use the model's dtype.
        One seed gives the same subspace in both, up to rounding.

    Returns
    -------
    SubspaceMap
        ``.shape == (D, d)``, ``.matvec``, ``.rmatvec``, ``.to_dense()``, ``.kind``, ``.seed``.

    Examples
    --------
    >>> import numpy as np
    >>> from landscape import random_subspace
    >>> A = random_subspace(1000, 10, kind="fastfood", seed=0)
    >>> A.matvec(np.ones(10)).shape
    (1000,)
    >>> B = random_subspace(1000, 10, kind="fastfood", seed=A.seed)
    >>> bool(np.array_equal(A.matvec(np.ones(10)), B.matvec(np.ones(10))))
    True
    """
    D = check_int(D, "D", minimum=1)
    d = check_int(d, "d", minimum=1)
    if d > D:
        raise ValueError(f"d must be <= D (a subspace of R^D), got d={d} > D={D}")
    kind = check_choice(kind, "kind", _CLASSES)
    dtype = check_dtype(dtype)
    if kind == "sparse":
        return SparseSubspace(D, d, seed, density=density, dtype=dtype)
    if density is not None:
        raise ValueError(f"density applies to kind='sparse' only, got kind={kind!r}")
    return _CLASSES[kind](D, d, seed, dtype=dtype)
