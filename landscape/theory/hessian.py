r"""Hessian spectra from Hessian-vector products: Lanczos eigenpairs and stochastic Lanczos quadrature.

Everything here is matrix-free: the Hessian :math:`H \in \mathbb{R}^{D\times D}` is known only
through a function ``hvp(v) -> H v``, so it runs at D = 1e5 and beyond (memory
O(D * n_steps) for the Lanczos basis, never a D x D matrix).

* :func:`model_hvp` gives ``hvp`` for a model's mean loss over data: arrays, or batches (a
  ``torch.utils.data.DataLoader`` or a list of ``(X, y)``), over which every product is
  accumulated exactly, :math:`Hv = \sum_b n_b H_b v / \sum_b n_b` (as PyHessian does).
* :func:`hessian_operator` wraps ``hvp`` as a symmetric :class:`scipy.sparse.linalg.LinearOperator`
  that checks every product (shape, finiteness) and counts them.
* :func:`top_eigenpairs`: the k largest (or smallest) eigenpairs by implicitly restarted
  Lanczos (ARPACK through :func:`scipy.sparse.linalg.eigsh`), with a starting vector drawn
  from ``seed`` so that the result is reproducible.
* :func:`slq_spectrum`: stochastic Lanczos quadrature (Ubaru, Chen, Saad 2017; Ghorbani,
  Krishnan, Xiao 2019). For Rademacher probes :math:`z_p`, Lanczos started at
  :math:`z_p/\|z_p\|` with full reorthogonalisation gives a tridiagonal
  :math:`T_p = S_p \operatorname{diag}(\theta_{p}) S_p^T`; the Gauss quadrature rule with nodes
  :math:`\theta_{pj}` and weights :math:`\tau_{pj} = (S_p)_{1j}^2` (summing to 1) satisfies

  .. math:: z_p^T f(H) z_p \approx \|z_p\|^2 \sum_j \tau_{pj} f(\theta_{pj}),

  exactly for polynomials f of degree < 2 n_steps, and :math:`E\, z^T f(H) z = \operatorname{tr} f(H)`.
  Averaging over probes gives a discrete spectral measure, the estimate of
  :math:`\frac1D\sum_i \delta_{\lambda_i}`.

References
----------
1. S. Ubaru, J. Chen, Y. Saad, "Fast estimation of tr(f(A)) via stochastic Lanczos
   quadrature", SIAM J. Matrix Anal. Appl. 38 (2017).
2. B. Ghorbani, S. Krishnan, Y. Xiao, "An investigation into neural net optimization via
   Hessian eigenvalue density", ICML 2019.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import eigh_tridiagonal
from scipy.sparse.linalg import LinearOperator, eigsh

from geometry.validation import as_float_array, check_choice, check_int, check_memory, check_positive, check_rng
from geometry.estimate import Estimate

__all__ = [
    "model_hvp",
    "model_loss",
    "HessianOperator",
    "hessian_operator",
    "Eigenpairs",
    "top_eigenpairs",
    "SpectralDensity",
    "slq_spectrum",
    "integer_multiplicities",
]


def model_hvp(model, theta, X, y=None):
    r"""The Hessian-vector product ``v -> H v`` of a model's mean loss over data, at ``theta``.

    .. math:: H v = \nabla^2_\theta \Big(\frac1n\sum_{i=1}^n \ell_i(\theta)\Big) v
              = \sum_b \frac{n_b}{n} H_b v,

    the second form when the data come as batches (:math:`H_b` the Hessian of batch b's mean
    loss, :math:`n_b` its rows): each product passes over the batches, one in memory at a time.

    Parameters
    ----------
    model : model object
        With ``hvp(theta, X, y, v)`` (:class:`landscape.models.MLP`), or
        ``hvp_function(theta, X, y)`` (:class:`landscape.torch.TorchModel`; used when present).
    theta : array_like of shape (D,)
    X, y : arrays, or ``X`` a re-iterable of ``(X, y)`` batches (a DataLoader) and ``y`` None.

    Returns
    -------
    callable ``v -> H v`` (numpy, shape (D,)), for :func:`hessian_operator`, :func:`top_eigenpairs`
    and :func:`slq_spectrum`.

    Examples
    --------
    >>> import numpy as np
    >>> from landscape.models import MLP
    >>> from landscape.theory.hessian import model_hvp
    >>> model = MLP([3, 2]); theta = model.init_params(0)
    >>> rng = np.random.default_rng(1); X = rng.standard_normal((10, 3)); y = rng.integers(0, 2, 10)
    >>> v = np.ones(model.n_params)
    >>> whole = model_hvp(model, theta, X, y)(v)
    >>> batched = model_hvp(model, theta, [(X[:4], y[:4]), (X[4:], y[4:])])(v)
    >>> bool(np.allclose(whole, batched, rtol=0, atol=1e-14))
    True
    """
    from ..models.batches import batch_mean, check_batches, is_batches

    batched = y is None and is_batches(X)
    if batched:
        check_batches(X, "X")
    theta = _check_theta(model, theta, ("hvp", "hvp_function"))
    if hasattr(model, "hvp_function"):
        return model.hvp_function(theta, X) if batched else model.hvp_function(theta, X, y)
    if not hasattr(model, "hvp"):
        raise TypeError(f"model must have hvp(theta, X, y, v) or hvp_function(theta, X, y), "
                        f"got {type(model).__name__}")
    if batched:
        def hvp(v):
            return batch_mean(lambda Xb, yb: model.hvp(theta, Xb, yb, v), X, "X")
    else:
        def hvp(v):
            return model.hvp(theta, X, y, v)
    return hvp


def model_loss(model, theta, X, y=None):
    """A model's mean loss over data (arrays, or batches accumulated with weights n_b / n)."""
    from ..models.batches import batch_mean, is_batches

    theta = _check_theta(model, theta, ("loss",))
    if y is None and is_batches(X):
        return float(batch_mean(lambda Xb, yb: model.loss(theta, Xb, yb), X, "X"))
    return float(model.loss(theta, X, y))


def _check_theta(model, theta, methods):
    """theta as a float array of shape (model.n_params,), after checking the model's interface."""
    if not any(hasattr(model, m) for m in methods) or not hasattr(model, "n_params"):
        raise TypeError(f"model must have n_params and {' or '.join(methods)} (the model interface), "
                        f"got {type(model).__name__}")
    return as_float_array(theta, "theta", shape=(int(model.n_params),))


class HessianOperator(LinearOperator):
    r"""A symmetric D x D linear operator defined by a Hessian-vector product.

    Every product is checked: ``hvp(v)`` must return D finite numbers (a clear
    ValueError otherwise, never a silent NaN), and ``n_products`` counts the calls.

    Parameters
    ----------
    hvp : callable, ndarray of shape (D, D) or LinearOperator of shape (D, D)
        ``hvp(v)`` returns :math:`H v` for v of shape (D,). A dense symmetric matrix
        or a scipy LinearOperator is accepted too (handy for tests).
    D : int >= 1
        Number of parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from landscape.theory.hessian import HessianOperator
    >>> H = HessianOperator(lambda v: 2.0 * v, 3)
    >>> H @ np.ones(3)
    array([2., 2., 2.])
    """

    def __init__(self, hvp, D):
        D = check_int(D, "D", minimum=1)
        if isinstance(hvp, LinearOperator):
            if hvp.shape != (D, D):
                raise ValueError(f"hvp is a LinearOperator of shape {hvp.shape}, expected ({D}, {D})")
            func = hvp.matvec
        elif isinstance(hvp, np.ndarray) or (not callable(hvp) and hasattr(hvp, "__array__")):
            M = as_float_array(hvp, "hvp", ndim=2)
            if M.shape != (D, D):
                raise ValueError(f"hvp is a matrix of shape {M.shape}, expected ({D}, {D})")
            func = M.dot
        elif callable(hvp):
            func = hvp
        else:
            raise TypeError(
                "hvp must be a callable v -> H v, a (D, D) array or a scipy LinearOperator, "
                f"got {type(hvp).__name__}"
            )
        super().__init__(dtype=np.dtype(np.float64), shape=(D, D))
        self._hvp = func
        self.D = D
        self.n_products = 0
        self._bar = None  # a progress bar counting products, while one is shown

    def _matvec(self, x):
        x = np.asarray(x, dtype=np.float64)
        shape = x.shape
        v = np.ascontiguousarray(x.reshape(-1))
        out = self._hvp(v)
        self.n_products += 1
        if self._bar is not None:
            self._bar.update()
        try:
            out = np.asarray(out, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"hvp must return an array of real numbers ({exc})") from None
        if out.size != self.D or out.ndim not in (1, 2) or (out.ndim == 2 and 1 not in out.shape):
            raise ValueError(f"hvp returned an array of shape {out.shape}, expected ({self.D},)")
        out = out.reshape(-1)
        if not np.all(np.isfinite(out)):
            raise ValueError("hvp returned non-finite values (NaN or inf)")
        return out.reshape(shape)

    def _matmat(self, X):
        X = np.asarray(X, dtype=np.float64)
        return np.column_stack([self._matvec(X[:, j]) for j in range(X.shape[1])])

    def _rmatvec(self, x):
        return self._matvec(x)

    def _adjoint(self):
        return self

    def to_dense(self):
        """The dense D x D matrix, by D products with the unit vectors (small D only)."""
        return self._matmat(np.eye(self.D))

    def __repr__(self):
        return f"HessianOperator(D={self.D}, n_products={self.n_products})"


def hessian_operator(hvp, D):
    """Wrap a Hessian-vector product as a symmetric :class:`HessianOperator` (see there).

    Examples
    --------
    >>> import numpy as np
    >>> from landscape.theory.hessian import hessian_operator
    >>> H = hessian_operator(np.diag([3.0, 1.0]), 2)
    >>> H.matvec(np.array([1.0, 1.0]))
    array([3., 1.])
    """
    if isinstance(hvp, HessianOperator):
        D = check_int(D, "D", minimum=1)
        if hvp.D != D:
            raise ValueError(f"hvp is a HessianOperator of size {hvp.D}, expected D = {D}")
        return hvp
    return HessianOperator(hvp, D)


#: seconds before a Lanczos / SLQ bar appears (quick spectra never show one)
_BAR_DELAY = 1.0


class _counting:
    """Context: a progress bar over the Hessian-vector products of ``H`` (tqdm; see landscape._progress)."""

    def __init__(self, H, total, desc, progress):
        from .._progress import progress_bar

        self.H = H
        self.bar = progress_bar(total, desc, progress=progress, unit="hvp", delay=_BAR_DELAY)

    def __enter__(self):
        self.saved, self.H._bar = self.H._bar, self.bar
        return self.bar

    def __exit__(self, *exc):
        self.H._bar = self.saved
        self.bar.close()
        return False


def _fix_signs(V):
    """Make each column's entry of largest magnitude positive (a reproducible sign convention)."""
    idx = np.argmax(np.abs(V), axis=0)
    signs = np.sign(V[idx, np.arange(V.shape[1])])
    signs[signs == 0] = 1.0
    return V * signs


@dataclass(frozen=True, repr=False)
class Eigenpairs:
    r"""Extreme eigenpairs of a symmetric operator.

    Attributes
    ----------
    eigenvalues : ndarray of shape (k,)
        Sorted from the largest down (``which="LA"``), by decreasing magnitude (``"LM"``)
        or from the smallest up (``"SA"``).
    eigenvectors : ndarray of shape (D, k)
        Orthonormal columns; each column's entry of largest magnitude is positive.
    n_products : int
        Number of Hessian-vector products used.
    which : str
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    n_products: int
    which: str

    @property
    def k(self):
        return self.eigenvalues.shape[0]

    @property
    def D(self):
        return self.eigenvectors.shape[0]

    def residuals(self, hvp):
        r""":math:`\|H v_i - \lambda_i v_i\|` for each pair (a check of convergence; k more products)."""
        H = hessian_operator(hvp, self.D)
        HV = H.matmat(self.eigenvectors)
        return np.linalg.norm(HV - self.eigenvectors * self.eigenvalues, axis=0)

    def __repr__(self):
        lam = ", ".join(f"{x:.4g}" for x in self.eigenvalues[:5])
        more = ", ..." if self.k > 5 else ""
        return (f"Eigenpairs(D={self.D}, k={self.k}, which={self.which!r}, eigenvalues=[{lam}{more}], "
                f"n_products={self.n_products})")


def top_eigenpairs(hvp, D, k, *, seed=None, which="LA", tol=0.0, maxiter=None, ncv=None, progress=None):
    r"""The k extreme eigenpairs of a symmetric Hessian, by Lanczos on Hessian-vector products.

    Solves :math:`H v_i = \lambda_i v_i` for the k largest algebraic eigenvalues
    (default) with ARPACK's implicitly restarted Lanczos method
    (:func:`scipy.sparse.linalg.eigsh`). The starting vector
    :math:`v_0 \sim N(0, I_D)` is drawn from ``seed``, so that the result is reproducible.

    Parameters
    ----------
    hvp : callable, (D, D) array, LinearOperator or HessianOperator
        ``hvp(v) = H v`` for v of shape (D,).
    D : int >= 2
    k : int, 1 <= k < D
    seed : int, Generator or None
        Draws the starting vector.
    which : {"LA", "LM", "SA"}
        Largest algebraic (the top of the spectrum), largest magnitude, or smallest
        algebraic (to find negative eigenvalues of a Hessian away from a minimum).
    tol : float >= 0
        Relative accuracy of the eigenvalues; 0 means machine precision.
    maxiter : int, optional
        Maximum number of Arnoldi update iterations.
    ncv : int, optional
        Number of Lanczos vectors (k < ncv <= D); default ``min(D, max(2k + 1, 20))``.
    progress : bool or None
        A bar counting Hessian-vector products (ARPACK decides how many) when the
        computation takes more than a second: None shows it when a person is watching
        (terminal, notebook), False never, True always.

    Returns
    -------
    Eigenpairs

    Examples
    --------
    >>> import numpy as np
    >>> from landscape.theory.hessian import top_eigenpairs
    >>> lam = np.arange(1.0, 101.0)
    >>> top = top_eigenpairs(lambda v: lam * v, 100, 3, seed=0)
    >>> np.round(top.eigenvalues, 8)
    array([100.,  99.,  98.])
    """
    D = check_int(D, "D", minimum=2)
    k = check_int(k, "k", minimum=1)
    if k >= D:
        raise ValueError(f"k must be < D = {D} for Lanczos, got k = {k}; for all eigenpairs of a "
                         "small Hessian use numpy.linalg.eigh on HessianOperator.to_dense()")
    which = check_choice(which, "which", ("LA", "LM", "SA"))
    tol = check_positive(tol, "tol", strict=False)
    if maxiter is not None:
        maxiter = check_int(maxiter, "maxiter", minimum=1, maximum=2 ** 31 - 1)  # ARPACK's int
    if ncv is None:
        ncv = min(D, max(2 * k + 1, 20))
    else:
        ncv = check_int(ncv, "ncv", minimum=k + 1, maximum=D)
    check_memory(8 * D * (ncv + 4), "D")  # ARPACK's Lanczos vectors
    H = hessian_operator(hvp, D)
    start = H.n_products
    rng = check_rng(seed)
    v0 = rng.standard_normal(D)
    with _counting(H, None, f"Lanczos, top {k}", progress):
        lam, V = eigsh(H, k=k, which=which, v0=v0, tol=tol, maxiter=maxiter, ncv=ncv)
    if which == "SA":
        order = np.argsort(lam)
    elif which == "LM":
        order = np.argsort(-np.abs(lam), kind="stable")
    else:
        order = np.argsort(-lam)
    lam = np.ascontiguousarray(lam[order])
    V = _fix_signs(np.ascontiguousarray(V[:, order]))
    return Eigenpairs(eigenvalues=lam, eigenvectors=V, n_products=H.n_products - start, which=which)


def integer_multiplicities(weights, total):
    r"""Round ``weights * total`` to non-negative integers that sum exactly to ``total``.

    Largest-remainder (Hamilton) rounding: floor every share, then give the missing
    units to the largest fractional parts (ties to the earlier entry).

    Parameters
    ----------
    weights : array_like of shape (n,), >= 0, summing to a positive number
        Normalised internally to sum to 1.
    total : int >= 0

    Returns
    -------
    ndarray of int64, shape (n,)

    Examples
    --------
    >>> from landscape.theory.hessian import integer_multiplicities
    >>> integer_multiplicities([0.5, 0.3, 0.2], 7)
    array([4, 2, 1])
    """
    w = as_float_array(weights, "weights", ndim=1, nonnegative=True)
    total = check_int(total, "total", minimum=0)
    s = w.sum()
    if not s > 0:
        raise ValueError("weights must have a positive sum")
    share = w / s * total
    base = np.floor(share).astype(np.int64)
    missing = int(total - base.sum())
    if missing > 0:
        frac = share - base
        order = np.argsort(-frac, kind="stable")
        base[order[:missing]] += 1
    return base


@dataclass(frozen=True, repr=False)
class SpectralDensity:
    r"""A spectral density estimate from stochastic Lanczos quadrature.

    The estimate is the discrete measure :math:`\hat\mu = \sum_j w_j \delta_{\text{nodes}_j}`
    (weights summing to 1), the average of the probes' Gauss quadrature rules; it
    estimates the empirical eigenvalue distribution :math:`\mu = \frac1n\sum_i \delta_{\lambda_i}`
    of the ``dim`` eigenvalues it describes (all D, or the D - k left after deflating k
    eigenvectors).

    Attributes
    ----------
    nodes : ndarray of shape (N,)
        All quadrature nodes (Ritz values), probe after probe.
    weights : ndarray of shape (N,)
        Their weights, summing to 1: probe p's Gauss weights times
        :math:`s_p / \sum_q s_q` with :math:`s_p = \|P z_p\|^2` (= D for plain Rademacher probes).
    probe : ndarray of int, shape (N,)
        The probe each node comes from.
    probe_scales : ndarray of shape (n_probes,)
        :math:`s_p`, the squared norm of each (projected) probe.
    dim : int
        The number of eigenvalues described (D minus the number of deflated vectors).
    D : int
    n_steps : int
        Lanczos steps asked for (a probe stops earlier when its Krylov space is invariant).
    n_products : int
        Hessian-vector products used.
    """

    nodes: np.ndarray
    weights: np.ndarray
    probe: np.ndarray
    probe_scales: np.ndarray
    dim: int
    D: int
    n_steps: int
    n_products: int
    extra: dict = field(default_factory=dict)

    @property
    def n_probes(self):
        return self.probe_scales.shape[0]

    def per_probe(self, p):
        """Nodes and Gauss weights (summing to 1) of probe ``p``."""
        p = check_int(p, "p", minimum=0, maximum=self.n_probes - 1)
        sel = self.probe == p
        w = self.weights[sel]
        return self.nodes[sel], w / w.sum()

    def density(self, grid, sigma):
        r"""Gaussian-smoothed density :math:`\sum_j w_j\, \varphi_\sigma(x - \text{nodes}_j)` on ``grid``.

        Parameters
        ----------
        grid : array_like
            Points x (any shape).
        sigma : float > 0
            Kernel width, in eigenvalue units.

        Returns
        -------
        ndarray of the shape of ``grid``; it integrates to 1 over the real line.
        """
        x = as_float_array(grid, "grid", allow_empty=True)
        sigma = check_positive(sigma, "sigma")
        flat = x.reshape(-1)
        out = np.empty_like(flat)
        norm = 1.0 / (sigma * np.sqrt(2.0 * np.pi))
        for start in range(0, flat.size, 2048):
            z = (flat[start:start + 2048, None] - self.nodes[None, :]) / sigma
            out[start:start + 2048] = norm * np.exp(-0.5 * z * z) @ self.weights
        return out.reshape(x.shape)

    def cdf(self, x):
        r"""Distribution function of the estimated measure, :math:`\hat\mu((-\infty, x])`."""
        x = as_float_array(x, "x", allow_empty=True, allow_inf=True)
        order = np.argsort(self.nodes, kind="stable")
        cum = np.concatenate([[0.0], np.cumsum(self.weights[order])])
        idx = np.searchsorted(self.nodes[order], x, side="right")
        return np.minimum(cum[idx], 1.0)

    def quantiles(self, q):
        r"""Quantiles of the estimated measure: the smallest node with :math:`\hat\mu((-\infty, x]) \ge q`."""
        q = as_float_array(q, "q")
        if np.any((q < 0) | (q > 1)):
            raise ValueError("q must lie in [0, 1]")
        order = np.argsort(self.nodes, kind="stable")
        nodes = self.nodes[order]
        cum = np.cumsum(self.weights[order])
        idx = np.searchsorted(cum, q * cum[-1] - 1e-12, side="left")
        return nodes[np.minimum(idx, nodes.size - 1)]

    def trace(self, f):
        r"""Estimate of :math:`\operatorname{tr} f(H)` (over the ``dim`` described eigenvalues).

        Per probe, :math:`t_p = s_p \sum_j \tau_{pj} f(\theta_{pj})`, an unbiased estimate
        (Hutchinson) when the quadrature is exact for f; the result is their mean with its
        standard error over probes.

        Parameters
        ----------
        f : callable
            Vectorised scalar function, e.g. ``np.square``.

        Returns
        -------
        geometry.Estimate
        """
        if not callable(f):
            raise TypeError(f"f must be a callable, got {type(f).__name__}")
        fx = np.asarray(f(self.nodes), dtype=np.float64)
        if fx.shape != self.nodes.shape or not np.all(np.isfinite(fx)):
            raise ValueError("f must map the nodes to finite values of the same shape")
        total = self.probe_scales.sum()
        per = np.zeros(self.n_probes)
        np.add.at(per, self.probe, fx * self.weights * total)
        if self.n_probes < 2:
            raise ValueError("a standard error needs n_probes >= 2")
        return Estimate.from_samples(per, "stochastic Lanczos quadrature")

    def moment(self, k):
        r"""The k-th moment :math:`\int x^k d\hat\mu` of the estimated measure."""
        k = check_int(k, "k", minimum=0)
        return float(np.sum(self.weights * self.nodes ** k))

    def groups(self, total=None, *, merge_rtol=1e-9):
        r"""Eigenvalue groups: distinct node values and integer multiplicities summing to ``total``.

        Nodes closer than ``merge_rtol`` (relative to the largest |node|) are merged, then
        the weights are rounded by :func:`integer_multiplicities`; groups of
        multiplicity 0 are dropped.

        Parameters
        ----------
        total : int, optional
            Number of eigenvalues to distribute (default ``dim``).

        Returns
        -------
        values : ndarray of shape (G,), ascending
        multiplicities : ndarray of int64, shape (G,), >= 1, summing to ``total``
        """
        total = self.dim if total is None else check_int(total, "total", minimum=1)
        merge_rtol = check_positive(merge_rtol, "merge_rtol", strict=False)
        order = np.argsort(self.nodes, kind="stable")
        x = self.nodes[order]
        w = self.weights[order]
        scale = max(np.abs(x).max(), 1e-300)
        new = np.concatenate([[True], np.diff(x) > merge_rtol * scale])
        gid = np.cumsum(new) - 1
        wg = np.bincount(gid, weights=w)
        xg = np.bincount(gid, weights=w * x) / np.where(wg > 0, wg, 1.0)
        xg = np.where(wg > 0, xg, x[new])
        m = integer_multiplicities(wg, total)
        keep = m > 0
        return xg[keep], m[keep]

    def __repr__(self):
        lo, hi = (float(self.nodes.min()), float(self.nodes.max()))
        return (f"SpectralDensity(D={self.D}, dim={self.dim}, n_probes={self.n_probes}, "
                f"n_steps={self.n_steps}, range=[{lo:.4g}, {hi:.4g}], n_products={self.n_products})")


def _lanczos(H, q0, n_steps, deflate):
    """Lanczos with full reorthogonalisation; returns the tridiagonal (alpha, beta).

    After the three-term recurrence, w is orthogonalised against every previous Lanczos
    vector (classical Gram-Schmidt), and once more when that pass removed a large part
    of it ("twice is enough", Kahan-Parlett criterion ||w_new|| < 0.7 ||w_old||).
    """
    D = q0.shape[0]
    Q = np.empty((n_steps, D))
    alpha = np.empty(n_steps)
    beta = np.empty(n_steps)
    q = q0
    scale = 0.0
    m = n_steps
    for j in range(n_steps):
        Q[j] = q
        w = H.matvec(q)
        if deflate is not None:
            w -= deflate @ (deflate.T @ w)
        a = float(q @ w)
        alpha[j] = a
        w -= a * q
        if j > 0:
            w -= beta[j - 1] * Q[j - 1]
        norm = float(np.linalg.norm(w))
        for _ in range(2):
            w -= Q[: j + 1].T @ (Q[: j + 1] @ w)
            if deflate is not None:
                w -= deflate @ (deflate.T @ w)
            new = float(np.linalg.norm(w))
            if new >= 0.7 * norm:
                break
            norm = new
        b = float(np.linalg.norm(w))
        scale = max(scale, abs(a), b)
        if j == n_steps - 1:
            m = n_steps
            break
        if b <= 1e-10 * max(scale, 1e-300):
            m = j + 1  # invariant Krylov subspace: the quadrature is exact
            break
        beta[j] = b
        q = w / b
    return alpha[:m], beta[: m - 1]


def _slq_probe(H, D, V, steps, rng, p, nodes, weights, probe, scales):
    """One Rademacher probe of :func:`slq_spectrum`: its Gauss rule appended to the lists."""
    z = rng.integers(0, 2, size=D).astype(np.float64) * 2.0 - 1.0
    if V is not None:
        z -= V @ (V.T @ z)
    s = float(z @ z)
    if s <= 0:  # pragma: no cover - a Rademacher vector inside range(V)
        raise ValueError("a probe vanished after deflation; deflate fewer vectors")
    alpha, beta = _lanczos(H, z / np.sqrt(s), steps, V)
    if alpha.size == 1:
        theta, tau = alpha.copy(), np.ones(1)
    else:
        theta, S = eigh_tridiagonal(alpha, beta)
        tau = S[0] ** 2
        tau = tau / tau.sum()
    nodes.append(theta)
    weights.append(tau)
    probe.append(np.full(theta.size, p))
    scales.append(s)


def slq_spectrum(hvp, D, n_probes=10, n_steps=80, *, seed=None, deflate=None, progress=None):
    r"""Spectral density of a symmetric Hessian by stochastic Lanczos quadrature.

    For each Rademacher probe :math:`z_p \in \{\pm1\}^D` (projected off ``deflate`` when
    given: :math:`P z_p`, :math:`P = I - V V^T`), ``n_steps`` Lanczos steps with full
    reorthogonalisation give :math:`T_p = S_p\operatorname{diag}(\theta_p)S_p^T` and the Gauss
    rule :math:`(\theta_{pj}, \tau_{pj} = (S_p)_{1j}^2)`:

    .. math::

        \operatorname{tr} f(H) \approx \frac1{n_{\text{probes}}}\sum_p \|z_p\|^2
        \sum_j \tau_{pj} f(\theta_{pj}),\qquad
        \hat\mu = \sum_{p,j} \frac{s_p}{\sum_q s_q}\tau_{pj}\, \delta_{\theta_{pj}}.

    With ``deflate`` = V (orthonormal eigenvectors, e.g. from :func:`top_eigenpairs`),
    Lanczos runs on :math:`PHP` restricted to :math:`\operatorname{range}(P)`, whose
    spectrum is the D - k eigenvalues of H other than those of V: the *bulk*.

    Parameters
    ----------
    hvp : callable, (D, D) array, LinearOperator or HessianOperator
    D : int >= 1
    n_probes : int >= 2
    n_steps : int >= 1
        Lanczos steps per probe (capped at the dimension described). The rule is exact
        for polynomials of degree < 2 n_steps; a probe stops early (exactly) when its
        Krylov space becomes invariant, e.g. on a spectrum of few distinct values.
    seed : int, Generator or None
        Draws the probes.
    deflate : ndarray of shape (D, k), optional
        Orthonormal vectors to project out.
    progress : bool or None
        A bar over the n_probes * n_steps Hessian-vector products when the computation
        takes more than a second: None shows it when a person is watching, False never.

    Returns
    -------
    SpectralDensity

    Notes
    -----
    Cost: n_probes * n_steps products plus O(n_probes * n_steps^2 * D) for the
    reorthogonalisation; memory O(n_steps * D).

    Examples
    --------
    >>> import numpy as np
    >>> from landscape.theory.hessian import slq_spectrum
    >>> lam = np.repeat([1.0, 2.0, 5.0], [50, 30, 20])
    >>> rho = slq_spectrum(lambda v: lam * v, 100, n_probes=4, n_steps=10, seed=0)
    >>> values, mult = rho.groups()
    >>> np.round(values, 8), int(mult.sum())
    (array([1., 2., 5.]), 100)
    """
    D = check_int(D, "D", minimum=1)
    n_probes = check_int(n_probes, "n_probes", minimum=2)
    n_steps = check_int(n_steps, "n_steps", minimum=1)
    check_memory(8 * D * (min(n_steps, D) + 4), "D and n_steps")  # Lanczos vectors of one probe
    check_memory(8 * 4 * n_probes * n_steps, "n_probes and n_steps")  # nodes and weights
    H = hessian_operator(hvp, D)
    start = H.n_products
    V = None
    k = 0
    if deflate is not None:
        V = as_float_array(deflate, "deflate", ndim=(1, 2))
        if V.ndim == 1:
            V = V[:, None]
        if V.shape[0] != D:
            raise ValueError(f"deflate must have D = {D} rows, got shape {V.shape}")
        k = V.shape[1]
        if k >= D:
            raise ValueError(f"deflate must have fewer than D = {D} columns, got {k}")
        err = np.abs(V.T @ V - np.eye(k)).max()
        if err > 1e-6:
            raise ValueError(f"deflate must have orthonormal columns (max |V^T V - I| = {err:.3g})")
    dim = D - k
    steps = min(n_steps, dim)
    rng = check_rng(seed)
    nodes, weights, probe, scales = [], [], [], []
    with _counting(H, n_probes * steps, "SLQ", progress):
        for p in range(n_probes):
            _slq_probe(H, D, V, steps, rng, p, nodes, weights, probe, scales)
    scales = np.asarray(scales)
    rel = scales / scales.sum()
    weights = np.concatenate([w * r for w, r in zip(weights, rel)])
    return SpectralDensity(
        nodes=np.concatenate(nodes),
        weights=weights / weights.sum(),
        probe=np.concatenate(probe),
        probe_scales=scales,
        dim=dim,
        D=D,
        n_steps=steps,
        n_products=H.n_products - start,
        extra={"deflated": k},
    )
