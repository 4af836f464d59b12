r"""Quadratic wells: the model loss on which the geometric theory is exact.

.. math::

    L(\theta) = L^* + \tfrac12 (\theta - \theta^*)^T H (\theta - \theta^*),
    \qquad H = V \operatorname{diag}(\lambda) V^T,\ \lambda_i \ge 0.

The sub-level set :math:`S(\epsilon) = \{L \le \epsilon\}` is the ellipsoid centred at
:math:`\theta^*` with semi-axes :math:`r_i = \sqrt{2(\epsilon - L^*)/\lambda_i}` along the
columns of V (infinite where :math:`\lambda_i = 0`); the cone of directions from
:math:`\theta_0` into it is an ellipsoidal cone (:func:`geometry.directions_from`).
"""
from __future__ import annotations

import numbers

import numpy as np

from geometry.validation import as_float_array, check_bool, check_orthonormal

from .._random import haar_frame

__all__ = ["QuadraticWell", "random_basis", "subspace_min_loss", "subspace_min_loss_path", "subspace_success"]


def random_basis(D, seed=None):
    r"""A Haar-distributed D x D orthogonal matrix (QR of a Gaussian with the sign fix).

    Use it as ``basis`` to build a rotated well; with the identity basis a Haar random
    subspace sees the same geometry (rotation invariance), but structured subspaces
    (sparse, fastfood) do not.

    Parameters
    ----------
    D : int >= 1
    seed : int, SeedSequence, numpy.random.Generator or None

    Returns
    -------
    ndarray of shape (D, D)

    Examples
    --------
    >>> import numpy as np
    >>> from landscape import random_basis
    >>> V = random_basis(4, seed=0)
    >>> bool(np.allclose(V.T @ V, np.eye(4)))
    True
    """
    return haar_frame(D, D, seed)


def _check_eps_value(eps, name, min_loss):
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {eps!r}")
    eps = float(eps)
    if not np.isfinite(eps):
        raise ValueError(f"{name} must be finite, got {eps}")
    if not eps > min_loss:
        raise ValueError(f"{name} must be > min_loss = {min_loss:g} (the sub-level set is otherwise "
                         f"empty or the single point theta*), got {eps:g}")
    return eps


class QuadraticWell:
    r"""A quadratic loss :math:`L^* + \tfrac12 (\theta-\theta^*)^T V\operatorname{diag}(\lambda)V^T(\theta-\theta^*)`.

    Parameters
    ----------
    eigenvalues : array_like of shape (D,), >= 0
        The Hessian spectrum :math:`\lambda` (see :mod:`landscape.models.spectra`).
    minimum : array_like of shape (D,), optional
        The minimiser :math:`\theta^*` (default 0).
    basis : array_like of shape (D, D), optional
        Orthogonal eigenvector matrix V (see :func:`random_basis`); None means the identity,
        and then nothing dense is stored and every method costs O(D).
    min_loss : float
        :math:`L^*`, the value at the minimum.

    Attributes
    ----------
    dim : int
        D.
    eigenvalues, minimum, basis, min_loss
        As given (``basis`` None for the identity).

    Examples
    --------
    >>> import numpy as np
    >>> from landscape import QuadraticWell
    >>> well = QuadraticWell([2.0, 0.5])
    >>> well.loss([1.0, 2.0])
    2.0
    >>> well.gradient([1.0, 2.0])
    array([2., 1.])
    >>> well.sublevel_set(1.0).radii
    array([1., 2.])
    """

    def __init__(self, eigenvalues, minimum=None, basis=None, min_loss=0.0):
        lam = as_float_array(eigenvalues, "eigenvalues", ndim=1)
        if (lam < 0).any():
            raise ValueError(
                f"eigenvalues must be >= 0 (theta* must be a minimum), got minimum {lam.min():g}; "
                "clip negative curvature to 0 first"
            )
        D = lam.shape[0]
        self.eigenvalues = lam
        self.dim = D
        self.minimum = np.zeros(D) if minimum is None else as_float_array(minimum, "minimum", shape=(D,))
        if basis is None:
            self.basis = None
        else:
            basis = as_float_array(basis, "basis", ndim=2)
            if basis.shape != (D, D):
                raise ValueError(f"basis must have shape ({D}, {D}) (one column per eigenvalue), "
                                 f"got {basis.shape}")
            self.basis = check_orthonormal(basis, "basis", dim=D)
        if isinstance(min_loss, bool) or not isinstance(min_loss, numbers.Real) or not np.isfinite(min_loss):
            raise ValueError(f"min_loss must be a finite real number, got {min_loss!r}")
        self.min_loss = float(min_loss)

    # -- coordinates -------------------------------------------------------------------
    def _points(self, theta, name):
        """Validate one point (D,) or a batch (n, D)."""
        arr = as_float_array(theta, name, ndim=(1, 2))
        if arr.shape[-1] != self.dim:
            raise ValueError(f"{name} must have {self.dim} entries per point (the well's dimension), "
                             f"got shape {arr.shape}")
        return arr

    def _to_eigen(self, X):
        """Eigen-coordinates V^T x of each point (last axis)."""
        return X if self.basis is None else X @ self.basis

    def _from_eigen(self, C):
        return C if self.basis is None else C @ self.basis.T

    def eigen_offset(self, theta0):
        r""":math:`b = V^T(\theta_0 - \theta^*)`, the offset of :math:`\theta_0` in eigen-coordinates.

        Parameters
        ----------
        theta0 : array_like of shape (D,) or (n, D)

        Returns
        -------
        ndarray of the same shape
        """
        return self._to_eigen(self._points(theta0, "theta0") - self.minimum)

    # -- loss and derivatives ----------------------------------------------------------
    def loss(self, theta):
        r""":math:`L(\theta) = L^* + \tfrac12\sum_i \lambda_i (V^T(\theta - \theta^*))_i^2`.

        Parameters
        ----------
        theta : array_like of shape (D,) or (n, D)

        Returns
        -------
        float, or ndarray of shape (n,)
        """
        C = self._to_eigen(self._points(theta, "theta") - self.minimum)
        out = self.min_loss + 0.5 * (C * C) @ self.eigenvalues
        return float(out) if np.ndim(out) == 0 else out

    def gradient(self, theta):
        r""":math:`\nabla L(\theta) = H(\theta - \theta^*)`, same shape as ``theta`` ((D,) or (n, D))."""
        C = self._to_eigen(self._points(theta, "theta") - self.minimum)
        return self._from_eigen(C * self.eigenvalues)

    def hvp(self, v):
        r"""Hessian-vector product :math:`Hv` for v of shape (D,) or (n, D) (one product per row)."""
        return self._from_eigen(self._to_eigen(self._points(v, "v")) * self.eigenvalues)

    def hessian(self):
        r"""The dense D x D Hessian :math:`V\operatorname{diag}(\lambda)V^T` (small D only)."""
        if self.basis is None:
            return np.diag(self.eigenvalues)
        return (self.basis * self.eigenvalues) @ self.basis.T

    # -- geometry ----------------------------------------------------------------------
    def sublevel_set(self, eps):
        r"""The ellipsoid :math:`S(\epsilon) = \{\theta : L(\theta) \le \epsilon\}`.

        Radii :math:`r_i = \sqrt{2(\epsilon - L^*)/\lambda_i}` (``inf`` where
        :math:`\lambda_i = 0`), centre :math:`\theta^*`, axes V.

        Parameters
        ----------
        eps : float > min_loss

        Returns
        -------
        geometry.Ellipsoid
        """
        from geometry import Ellipsoid

        eps = _check_eps_value(eps, "eps", self.min_loss)
        return Ellipsoid.from_quadratic(self.eigenvalues, eps - self.min_loss,
                                        center=self.minimum, axes=self.basis)

    def cone(self, theta0, eps):
        r"""Directions from :math:`\theta_0` into :math:`S(\epsilon)`: ``directions_from(S, theta0)``.

        An ellipsoidal cone when :math:`\theta_0 \notin S(\epsilon)`, the whole sphere
        (every subspace succeeds) when it is inside.

        Parameters
        ----------
        theta0 : array_like of shape (D,)
        eps : float > min_loss
        """
        theta0 = as_float_array(theta0, "theta0", shape=(self.dim,))
        S = self.sublevel_set(eps)
        from geometry import directions_from

        return directions_from(S, theta0)

    def subspace_min_loss(self, theta0, A, *, return_argmin=False):
        r"""Exact :math:`\min_\phi L(\theta_0 + A\phi)`; see :func:`subspace_min_loss`."""
        return subspace_min_loss(self, theta0, A, return_argmin=return_argmin)

    def __repr__(self):
        lam = self.eigenvalues
        basis = "identity" if self.basis is None else "rotated"
        return (f"QuadraticWell(D={self.dim}, eigenvalues in [{lam.min():.3g}, {lam.max():.3g}], "
                f"basis={basis}, min_loss={self.min_loss:g})")


#: whitened directions smaller than this fraction of sqrt(lam_max) ||a|| are numerically
#: nil: a column whose whitened part orthogonal to the previous columns is that small adds
#: no direction (curvature below 1e-20 lam_max counts as flat)
_DEPENDENT_RTOL = 1e-10


# -- exact minimum over one subspace ---------------------------------------------------
def _check_well(well):
    if not isinstance(well, QuadraticWell):
        raise TypeError(f"well must be a landscape.QuadraticWell, got {type(well).__name__}")
    return well


def _dense_map(A, D):
    """A SubspaceMap or array as a dense (D, d) float array."""
    if hasattr(A, "to_dense") and hasattr(A, "D"):  # a landscape.subspaces.SubspaceMap
        if A.D != D:
            raise ValueError(f"A must map into R^{D} (the well's dimension), got shape {A.shape}")
        return A.to_dense()
    arr = as_float_array(A, "A", ndim=2)
    if arr.shape[0] != D:
        raise ValueError(f"A must have shape ({D}, d) (one row per parameter), got {arr.shape}")
    return arr


def _whiten(well, X):
    r""":math:`W X = \operatorname{diag}(\sqrt\lambda)\, V^T X` for X of shape (D,) or (D, k)."""
    C = X if well.basis is None else well.basis.T @ X
    s = np.sqrt(well.eigenvalues)
    return C * (s if C.ndim == 1 else s[:, None])


def _whitened_scale(well, A, axis=None):
    r""":math:`\sqrt{\lambda_{max}}\,\|A\|` (Frobenius, or per column with ``axis=0``): the size
    a whitened column would have without cancellation, against which rounding is judged."""
    return np.sqrt(well.eigenvalues.max()) * np.linalg.norm(A, axis=axis)


def _offset(well, theta0):
    theta0 = as_float_array(theta0, "theta0", shape=(well.dim,))
    return _whiten(well, theta0 - well.minimum)


def subspace_min_loss(well, theta0, A, *, return_argmin=False):
    r"""Exact minimum of a quadratic well over the affine subspace :math:`\theta_0 + \operatorname{range}(A)`.

    .. math:: \min_{\phi\in\mathbb{R}^d} L^* + \tfrac12\|H^{1/2}(\theta_0 - \theta^* + A\phi)\|^2,

    solved by least squares on :math:`H^{1/2}A` through its SVD, :math:`O(D d^2)`. Singular H
    and rank-deficient A are fine: singular values below :math:`10^{-10}\sqrt{\lambda_{max}}\|A\|_F`
    are treated as zero (rounding noise, e.g. a column along a flat direction of a rotated well).

    Parameters
    ----------
    well : QuadraticWell
    theta0 : array_like of shape (D,)
    A : SubspaceMap or array_like of shape (D, d)
    return_argmin : bool
        Also return a minimiser :math:`\phi^*` (the minimum-norm one).

    Returns
    -------
    float, or (float, ndarray of shape (d,))

    Examples
    --------
    >>> import numpy as np
    >>> from landscape import QuadraticWell
    >>> well = QuadraticWell([1.0, 1.0])
    >>> well.subspace_min_loss([1.0, 1.0], np.array([[1.0], [0.0]]))  # line along e1
    0.5
    """
    return_argmin = check_bool(return_argmin, "return_argmin")
    well = _check_well(well)
    b = _offset(well, theta0)
    A = _dense_map(A, well.dim)
    M = _whiten(well, A)
    U, s, Wt = np.linalg.svd(M, full_matrices=False)
    # singular values tiny on the *unwhitened* scale are rounding noise (e.g. a column along
    # a flat direction of a rotated well): cut them relative to sqrt(lam_max) ||A||
    keep = s > _DEPENDENT_RTOL * _whitened_scale(well, A)
    phi = Wt[keep].T @ ((U[:, keep].T @ -b) / s[keep])
    r = b + M @ phi
    value = well.min_loss + 0.5 * float(r @ r)
    return (value, phi) if return_argmin else value


def subspace_success(well, theta0, eps, A):
    r"""Whether training in :math:`\theta_0 + \operatorname{range}(A)` can reach loss :math:`\le \epsilon`.

    Parameters
    ----------
    well : QuadraticWell
    theta0 : array_like of shape (D,)
    eps : float > well.min_loss
    A : SubspaceMap or array_like of shape (D, d)

    Returns
    -------
    bool
    """
    well = _check_well(well)
    eps = _check_eps_value(eps, "eps", well.min_loss)
    return bool(subspace_min_loss(well, theta0, A) <= eps)


def _householder_coefficients(M, b):
    """Householder QR of M (LAPACK geqrf) and :math:`Q_{full}^T b` (ormqr), without forming Q.

    Returns the diagonal of R and the D coefficients of b in the full orthogonal basis
    whose first k vectors span the first k columns of M (when those are independent).
    """
    from scipy.linalg import lapack

    work = lapack.dgeqrf(M, lwork=-1)[2]
    qr, tau, _, info = lapack.dgeqrf(M, lwork=max(int(work[0]), 1))
    if info != 0:  # pragma: no cover - LAPACK argument error
        raise RuntimeError(f"LAPACK dgeqrf failed (info={info})")
    rhs = b[:, None]
    work = lapack.dormqr("L", "T", qr, tau, rhs, lwork=-1)[1]
    coef, _, info = lapack.dormqr("L", "T", qr, tau, rhs, lwork=max(int(work[0]), 1))
    if info != 0:  # pragma: no cover
        raise RuntimeError(f"LAPACK dormqr failed (info={info})")
    return np.diag(qr), coef[:, 0]


def _residual_path(b, M, scales):
    r"""Squared residuals :math:`\|(I - P_k) b\|^2` for the spans of the first k columns, k = 0..m.

    Householder QR: nested columns give nested spans, and the residual after k columns
    is the sum of the squared coefficients of b on the remaining D - k vectors of the
    full orthogonal basis (no cancellation). When a column is (numerically) in the span
    of the previous ones, falls back to Gram-Schmidt with re-orthogonalisation that
    skips dependent columns.
    """
    m = M.shape[1]
    tol = _DEPENDENT_RTOL * np.maximum(scales, 1e-300)
    if m <= M.shape[0]:
        diag, coef = _householder_coefficients(M, b)
        if np.all(np.abs(diag) > tol):
            tail = np.cumsum((coef * coef)[::-1])[::-1]
            return np.append(tail, 0.0)[: m + 1]
    path = np.empty(m + 1)
    r = b.copy()
    path[0] = r @ r
    basis = np.empty((M.shape[0], m))
    k = 0
    for j in range(m):
        v = M[:, j].copy()
        for _ in range(2):  # classical Gram-Schmidt, twice
            v -= basis[:, :k] @ (basis[:, :k].T @ v)
        nv = np.linalg.norm(v)
        if nv > tol[j]:
            q = v / nv
            basis[:, k] = q
            k += 1
            r -= q * (q @ r)
        path[j + 1] = min(r @ r, path[j])
    return path


def subspace_min_loss_path(well, theta0, A):
    r"""Exact minima over the nested subspaces spanned by the first k columns of A, k = 0..d.

    .. math:: m_k = \min_{\phi\in\mathbb{R}^k} L(\theta_0 + A_{:, :k}\phi), \qquad
              m_0 = L(\theta_0) \ge m_1 \ge \dots \ge m_d.

    One QR factorisation of :math:`H^{1/2}A`, :math:`O(D d^2)` for all k together.
    Random maps with one seed are nested (:mod:`landscape.subspaces`), so ``m_k`` is the
    exact minimum over the random subspace of dimension k drawn with that seed.

    Parameters
    ----------
    well : QuadraticWell
    theta0 : array_like of shape (D,)
    A : SubspaceMap or array_like of shape (D, d)

    Returns
    -------
    ndarray of shape (d + 1,)
    """
    well = _check_well(well)
    b = _offset(well, theta0)
    A = _dense_map(A, well.dim)
    return well.min_loss + 0.5 * _residual_path(b, _whiten(well, A), _whitened_scale(well, A, axis=0))
