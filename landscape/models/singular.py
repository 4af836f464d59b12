r"""The simplest singular model: regression through a product of two parameters.

.. math:: f_{a,b}(x) = a\,b\,x, \qquad L_n(a, b) = \frac1{2n}\sum_{i=1}^n (y_i - a b x_i)^2.

At a true product of 0 the set of true parameters is the cross :math:`\{ab = 0\}`: the
Hessian at the origin is 0, the Fisher information is degenerate, and the learning
coefficient is :math:`\lambda = 1/2` (with multiplicity 2), where a regular
two-parameter model would have :math:`D/2 = 1`. It is the test case of the local learning
coefficient (:func:`landscape.theory.local_learning_coefficient.product_learning_coefficient`).
"""
from __future__ import annotations

import numpy as np

from geometry.validation import as_float_array, check_int, check_positive, check_rng

__all__ = ["ProductRegression"]


class ProductRegression:
    r"""Regression :math:`y \approx a b x` with squared loss; parameters :math:`\theta = (a, b)`.

    .. math:: L_n(a, b) = \frac1{2n}\sum_i (y_i - a b x_i)^2

    The model interface of :mod:`landscape.models` (``n_params``, ``init_params``, ``loss``,
    ``loss_and_grad``, ``hvp``, ``spec``) with ``X`` of shape (n, 1) and real targets ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> from landscape.models.singular import ProductRegression
    >>> model = ProductRegression()
    >>> X, y = model.sample(100, seed=1000)
    >>> model.loss_and_grad(np.zeros(2), X, y)[1]   # the origin is a critical point
    array([0., 0.])
    """

    n_params = 2

    def spec(self):
        return {"name": "ProductRegression"}

    def __repr__(self):
        return "ProductRegression(f(x) = a*b*x)"

    def init_params(self, seed=None):
        """(a, b) drawn from N(0, 1)."""
        return check_rng(seed).standard_normal(2)

    @staticmethod
    def sample(n, *, noise=1.0, seed=None, zero_product=True):
        r"""Data from the true product 0: :math:`x_i \sim N(0, 1)`, :math:`y_i = \sigma e_i`.

        Parameters
        ----------
        n : int >= 2
        noise : float >= 0
            :math:`\sigma`.
        seed : int, Generator or None
        zero_product : bool
            Remove from the noise its component along x, so that
            :math:`\sum_i x_i y_i = 0` and the origin is an exact minimum of :math:`L_n`
            (:math:`L_n(a, b) = L_n(0) + \tfrac{s}{2}(ab)^2`, :math:`s = \frac1n\sum x_i^2`).
            Without it the least-squares product is of order :math:`n^{-1/2}` and the origin
            is a saddle of :math:`L_n` with Hessian eigenvalues :math:`\pm|\frac1n\sum_i x_i y_i|`.

        Returns
        -------
        X : ndarray of shape (n, 1)
        y : ndarray of shape (n,)
        """
        n = check_int(n, "n", minimum=2)
        noise = check_positive(noise, "noise", strict=False)
        rng = check_rng(seed)
        x = rng.standard_normal(n)
        e = rng.standard_normal(n)
        if zero_product:
            e -= x * (x @ e) / (x @ x)
        return x[:, None], noise * e

    def _check(self, theta, X, y):
        theta = as_float_array(theta, "theta", shape=(2,), allow_inf=True)
        X = as_float_array(X, "X", ndim=2)
        if X.shape[1] != 1:
            raise ValueError(f"X must have shape (n, 1), got {X.shape}")
        y = as_float_array(y, "y", shape=(X.shape[0],))
        return theta, X[:, 0], y

    def loss(self, theta, X, y):
        theta, x, y = self._check(theta, X, y)
        return self._loss_and_grad(theta, x[:, None], y)[0]

    def loss_and_grad(self, theta, X, y):
        r"""Loss and gradient :math:`-\frac1n\sum_i r_i x_i\,(b, a)` with :math:`r_i = y_i - abx_i`."""
        theta, x, y = self._check(theta, X, y)
        return self._loss_and_grad(theta, x[:, None], y)

    def _loss_and_grad(self, theta, X, y):
        a, b = theta
        x = X[:, 0]
        with np.errstate(all="ignore"):
            r = y - a * b * x
            value = 0.5 * float(r @ r) / x.shape[0]
            c = -float(r @ x) / x.shape[0]
        return value, np.array([c * b, c * a])

    def loss_and_grad_batch(self, W, X, y):
        r"""Losses (c,) and gradients (c, 2) at c points at once, from the sufficient statistics
        :math:`\frac1n\sum x^2, \frac1n\sum xy, \frac1n\sum y^2` (used by SGLD to run its chains together)."""
        W = as_float_array(W, "W", ndim=2, allow_inf=True)
        if W.shape[1] != 2:
            raise ValueError(f"W must have shape (c, 2), got {W.shape}")
        _, x, y = self._check(np.zeros(2), X, y)
        n = x.shape[0]
        sxx, sxy, syy = float(x @ x) / n, float(x @ y) / n, float(y @ y) / n
        with np.errstate(all="ignore"):
            p = W[:, 0] * W[:, 1]
            value = 0.5 * (syy - 2.0 * p * sxy + p * p * sxx)
            c = p * sxx - sxy
            return value, np.column_stack([c * W[:, 1], c * W[:, 0]])

    def hvp(self, theta, X, y, v):
        r"""Exact Hessian-vector product; :math:`H = s\,(b, a)(b, a)^T + c\,[[0, 1], [1, 0]]`,
        :math:`s = \frac1n\sum x_i^2`, :math:`c = -\frac1n\sum_i r_i x_i`."""
        theta, x, y = self._check(theta, X, y)
        v = as_float_array(v, "v", ndim=(1, 2))
        if v.shape[0] != 2:
            raise ValueError(f"v must have 2 rows, got shape {v.shape}")
        a, b = theta
        s = float(x @ x) / x.shape[0]
        c = -float((y - a * b * x) @ x) / x.shape[0]
        H = s * np.outer([b, a], [b, a]) + c * np.array([[0.0, 1.0], [1.0, 0.0]])
        return H @ v
