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

from geometry._validation import as_float_array, check_orthonormal

__all__ = ["QuadraticWell", "random_basis"]


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
    from .subspaces import haar_frame

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
        The Hessian spectrum :math:`\lambda` (see :mod:`landscape.spectra`).
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
        r"""Exact :math:`\min_\phi L(\theta_0 + A\phi)`; see :func:`landscape.ground_truth.subspace_min_loss`."""
        from .ground_truth import subspace_min_loss

        return subspace_min_loss(self, theta0, A, return_argmin=return_argmin)

    def __repr__(self):
        lam = self.eigenvalues
        basis = "identity" if self.basis is None else "rotated"
        return (f"QuadraticWell(D={self.dim}, eigenvalues in [{lam.min():.3g}, {lam.max():.3g}], "
                f"basis={basis}, min_loss={self.min_loss:g})")
