r"""The local learning coefficient (LLC) at a trained point, estimated by SGLD.

Singular learning theory counts the parameters that matter at a minimum :math:`\theta^*` by
the *learning coefficient* :math:`\lambda`: the free energy of a neighbourhood of
:math:`\theta^*` grows like :math:`n L_n(\theta^*) + \lambda \log n`, so :math:`2\lambda`
plays the part of the parameter count D of a regular model (where :math:`\lambda = D/2`).
Following Lau, Furman, Wang, Murfet and Wei (2023) and the ``devinterp`` package, the
*local* learning coefficient is estimated as

.. math::

    \hat\lambda(\theta^*) = n\beta\,\big(E^{\beta}_{w \mid \theta^*, \gamma}[L_n(w)] - L_n(\theta^*)\big),
    \qquad
    p(w) \propto \exp\!\Big(-n\beta\, L_n(w) - \frac{\gamma}{2}\|w - \theta^*\|^2\Big),

with :math:`L_n` the mean training loss, the inverse temperature :math:`n\beta` (default
:math:`n / \log n`, i.e. :math:`\beta^* = 1/\log n`) and the localisation strength
:math:`\gamma`. The expectation is sampled by stochastic-gradient Langevin dynamics (SGLD)
chains started at :math:`\theta^*`, with devinterp's update

.. math::

    w_{t+1} = w_t - \frac{\epsilon}{2}\Big(n\beta\, \nabla L_m(w_t) + \gamma (w_t - \theta^*)\Big)
    + \sqrt{\epsilon}\, \xi_t, \qquad \xi_t \sim N(0, I_D),

where :math:`L_m` is the loss on a minibatch (the whole training set by default, and then
SGLD is the unadjusted Langevin algorithm). The chain records :math:`L_m(w_t)` at every step
:math:`t = 0, \dots, T-1` (:math:`w_0 = \theta^*`); the draws after the burn-in give each
chain's :math:`\hat\lambda_c`, and the estimate is their mean with the standard error across
chains.

Quadratic losses are the exact check (:func:`quadratic_learning_coefficient`): for
:math:`L_n(w) = L^* + \tfrac12 (w - \theta^*)^T H (w - \theta^*)` with eigenvalues
:math:`h_i`, the localised posterior is Gaussian and

.. math:: 2\lambda = \sum_i \frac{n\beta h_i}{n\beta h_i + \gamma},

the rank of H when :math:`\gamma \ll n\beta h_i`. The finite step size biases SGLD
upwards, also exactly (see :func:`quadratic_learning_coefficient`). The singular toy
regression :math:`f(x) = abx` at :math:`(a, b) = 0` has :math:`\lambda = 1/2` with
multiplicity 2; its localised value at finite :math:`n\beta` is a one-dimensional integral
(:func:`product_learning_coefficient`).

References
----------
1. E. Lau, Z. Furman, G. Wang, D. Murfet, S. Wei, "The local learning coefficient: a
   singularity-aware complexity measure", arXiv:2308.12108 (2023).
2. S. Watanabe, "Algebraic geometry and statistical learning theory", Cambridge (2009).
3. M. Welling, Y. W. Teh, "Bayesian learning via stochastic gradient Langevin dynamics",
   ICML 2011.
4. A. Gelman et al., "Bayesian data analysis", 3rd ed., section 11.4 (split R-hat).
"""
from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass, field

import numpy as np

from geometry.estimate import Estimate
from geometry.validation import as_float_array, check_int, check_memory, check_positive, check_rng

__all__ = [
    "LearningCoefficient",
    "learning_coefficient",
    "quadratic_learning_coefficient",
    "product_learning_coefficient",
    "NotAtMinimumWarning",
    "ChainDivergenceWarning",
    "ChainMixingWarning",
    "ChainDivergenceError",
]


class NotAtMinimumWarning(UserWarning):
    """``theta_star`` is not a minimum of the training loss: its gradient biases the LLC."""


class ChainDivergenceWarning(RuntimeWarning):
    """Some SGLD chains diverged; they are excluded from the estimate (see ``diverged``)."""


class ChainMixingWarning(RuntimeWarning):
    """The chains disagree (split R-hat above 1.1): too few steps, too short a burn-in, or too
    small a step for the flattest directions; the estimate is then biased (usually low)."""


class ChainDivergenceError(RuntimeError):
    """Fewer than two SGLD chains stayed finite: no estimate. ``result`` holds the chains."""

    def __init__(self, message, result=None):
        super().__init__(message)
        self.result = result


# ---------------------------------------------------------------------------- closed forms
def _check_nbeta_gamma(nbeta, gamma):
    nbeta = _positive(nbeta, "nbeta", "the inverse temperature n*beta")
    gamma = _positive(gamma, "gamma", "the localisation strength")
    return nbeta, gamma


def _positive(x, name, what):
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} ({what}) must be a real number > 0, got {x!r}")
    x = float(x)
    if not (np.isfinite(x) and x > 0):
        raise ValueError(f"{name} ({what}) must be finite and > 0, got {x}")
    return x


def quadratic_learning_coefficient(eigenvalues, nbeta, gamma, *, step_size=None, n_steps=None,
                                   n_burnin=0):
    r"""The LLC of a quadratic loss: exact, or what SGLD with a finite step size estimates.

    For :math:`L_n(w) = L^* + \tfrac12 (w-\theta^*)^T H (w-\theta^*)` with eigenvalues
    :math:`h_i \ge 0`, the localised tempered posterior is Gaussian with precision
    :math:`a_i = n\beta h_i + \gamma` along eigenvector i, and

    .. math:: \lambda = \frac{n\beta}{2} \sum_i h_i\, \frac{1}{a_i}
              = \frac12 \sum_i \frac{n\beta h_i}{n\beta h_i + \gamma}.

    SGLD with step :math:`\epsilon` is, along eigenvector i, the autoregression
    :math:`x_{t+1} = \rho_i x_t + \sqrt{\epsilon}\,\xi_t` with
    :math:`\rho_i = 1 - \epsilon a_i / 2`, started at :math:`x_0 = 0`. Its variance is
    :math:`v_{t,i} = v_{\infty,i}(1 - \rho_i^{2t})` with the stationary value

    .. math:: v_{\infty,i} = \frac{\epsilon}{1 - \rho_i^2} = \frac{1}{a_i\,(1 - \epsilon a_i / 4)},

    larger than the exact :math:`1/a_i` by the factor :math:`1/(1 - \epsilon a_i/4)`
    (the chain diverges when :math:`\epsilon a_i \ge 4`). The expectation of the estimator
    of :func:`learning_coefficient` (full batch, draws :math:`t = B, \dots, T-1`) is then

    .. math:: E\hat\lambda = \frac{n\beta}{2}\sum_i h_i\, v_{\infty,i}
              \Big(1 - \frac{\rho_i^{2B} - \rho_i^{2T}}{(T - B)(1 - \rho_i^2)}\Big).

    Parameters
    ----------
    eigenvalues : array_like of shape (D,), >= 0
        The Hessian eigenvalues :math:`h_i` of the mean loss :math:`L_n`.
    nbeta, gamma : float > 0
    step_size : float > 0, optional
        None: the exact value. Given: the stationary expectation of SGLD with this step.
    n_steps : int, optional
        With ``step_size``: the chain length T, to include the transient from
        :math:`w_0 = \theta^*` (None: the stationary value).
    n_burnin : int
        B, the draws discarded (with ``n_steps``).

    Returns
    -------
    float
        :math:`\lambda` (not :math:`2\lambda`).

    Raises
    ------
    ValueError
        Bad arguments, or a step size with :math:`\epsilon a_i \ge 4` (SGLD diverges).

    Examples
    --------
    >>> from landscape.theory.local_learning_coefficient import quadratic_learning_coefficient
    >>> quadratic_learning_coefficient([1.0, 1.0, 0.0], nbeta=99.0, gamma=1.0)
    0.99
    """
    h = as_float_array(eigenvalues, "eigenvalues", ndim=1, nonnegative=True, allow_empty=True)
    nbeta, gamma = _check_nbeta_gamma(nbeta, gamma)
    a = nbeta * h + gamma
    if step_size is None:
        if n_steps is not None:
            raise ValueError("n_steps needs a step_size (the exact value has no chain)")
        return float(0.5 * np.sum(nbeta * h / a))
    eps = _positive(step_size, "step_size", "the SGLD step size")
    if np.any(eps * a >= 4.0):
        raise ValueError(f"step_size = {eps:g} makes SGLD diverge on this quadratic: step_size * (nbeta h_max "
                         f"+ gamma) = {eps * a.max():.3g} >= 4; use step_size < {4.0 / a.max():.3g}")
    rho2 = (1.0 - 0.5 * eps * a) ** 2
    v = eps / (1.0 - rho2)
    if n_steps is not None:
        T = check_int(n_steps, "n_steps", minimum=1)
        B = check_int(n_burnin, "n_burnin", minimum=0, maximum=T - 1)
        v = v * (1.0 - (rho2 ** B - rho2 ** T) / ((T - B) * (1.0 - rho2)))
    return float(0.5 * nbeta * np.sum(h * v))


def product_learning_coefficient(nbeta, gamma, curvature=1.0):
    r"""Localised LLC of the singular toy :math:`f(x) = abx` at :math:`(a, b) = 0`.

    With data whose least-squares product is exactly 0 (:math:`\sum_i x_i y_i = 0`, see
    :class:`landscape.models.singular.ProductRegression`), the mean loss is
    :math:`L_n(a, b) = L_n(0) + \tfrac{s}{2}(ab)^2` with :math:`s = \frac1n\sum_i x_i^2`.
    Integrating a out of the localised posterior leaves, with :math:`t = n\beta s`,

    .. math::

        \lambda(t, \gamma) = \frac{\int_0^\infty e^{-\gamma b^2/2}\,(tb^2 + \gamma)^{-1/2}\,
        \frac{t b^2}{2(tb^2 + \gamma)}\, db}{\int_0^\infty e^{-\gamma b^2/2}\,(tb^2 + \gamma)^{-1/2}\, db},

    a function of :math:`r = t/\gamma^2` alone; with :math:`b = \sinh(v)/\sqrt{\gamma r}`,

    .. math:: \lambda = \frac{\int_0^\infty \tfrac12\tanh^2(v)\, e^{-\sinh^2(v)/(2r)}\, dv}
                               {\int_0^\infty e^{-\sinh^2(v)/(2r)}\, dv},

    computed by quadrature. As :math:`r \to \infty` it tends to the
    learning coefficient :math:`1/2` of :math:`K(a, b) = (ab)^2` (multiplicity 2), from below
    and slowly: :math:`\lambda \approx 1/2 - 1/\log r` up to lower-order terms, the
    :math:`\log\log n` correction of a multiplicity-2 singularity.

    Parameters
    ----------
    nbeta, gamma : float > 0
    curvature : float > 0
        :math:`s = \frac1n\sum_i x_i^2`.

    Returns
    -------
    float

    Examples
    --------
    >>> from landscape.theory.local_learning_coefficient import product_learning_coefficient
    >>> round(product_learning_coefficient(1e-9, 1.0), 6)   # no data: the prior, lambda -> 0
    0.0
    >>> 0.4 < product_learning_coefficient(1e12, 1.0) < 0.5
    True
    """
    from scipy import integrate

    nbeta, gamma = _check_nbeta_gamma(nbeta, gamma)
    s = _positive(curvature, "curvature", "the mean of x^2")
    r = nbeta * s / gamma ** 2
    # b = sinh(v) / sqrt(gamma r): the weight becomes exp(-sinh(v)^2 / (2 r)) dv and the
    # integrand tanh(v)^2 / 2, smooth for every r
    top = float(np.arcsinh(np.sqrt(2.0 * r * 60.0)))  # exp(-60) beyond

    def weight(v):
        return np.exp(-np.sinh(v) ** 2 / (2.0 * r))

    Z = integrate.quad(weight, 0.0, top, limit=200, epsabs=0, epsrel=1e-12)[0]
    N = integrate.quad(lambda v: weight(v) * 0.5 * np.tanh(v) ** 2, 0.0, top, limit=200, epsabs=0,
                       epsrel=1e-12)[0]
    return float(N / Z)


# ---------------------------------------------------------------------------- result
@dataclass(frozen=True, repr=False)
class LearningCoefficient:
    r"""An SGLD estimate of the local learning coefficient, with its chains and diagnostics.

    Attributes
    ----------
    estimate : geometry.Estimate
        :math:`\hat\lambda`: the mean of the finite chains' :math:`\hat\lambda_c`, its
        standard error across them (``n_samples`` = number of finite chains;
        ``samples`` = their values). ``estimate.ci`` is the normal interval; :meth:`ci`
        uses Student's t with (chains - 1) degrees of freedom, the honest one for few chains.
    chain_values : ndarray of shape (n_chains,)
        :math:`\hat\lambda_c = n\beta\,(\bar L_c - L_n(\theta^*))` per chain (NaN for a
        diverged chain).
    loss_traces : ndarray of shape (n_chains, n_steps)
        :math:`L_m(w_t)` at every step, burn-in included (NaN from the step a chain diverged).
    init_loss : float
        :math:`L_n(\theta^*)` on the whole training set.
    nbeta, gamma, step_size : float
    n : int or None
        The number of samples behind :math:`L_n` (None when ``nbeta`` was given for a well
        without n).
    n_burnin : int
    batch_size : int or None
        None: full-batch gradients.
    diverged : ndarray of bool, shape (n_chains,)
    diverged_step : ndarray of int, shape (n_chains,)
        The step at which each chain diverged (-1: it did not).
    rhat : float
        Split :math:`\hat R` of the post-burn-in loss traces of the finite chains (Gelman
        et al.): near 1 when the chains agree; above about 1.05 the chains have not mixed
        or not forgotten their start. NaN with fewer than 2 chains or 4 draws.
    grad_norm : float
        :math:`\|\nabla L_n(\theta^*)\|`; ``grad_bias_bound`` = :math:`(n\beta)^2\|\nabla
        L_n\|^2/\gamma` bounds the shift of :math:`\lambda` a non-zero gradient causes in
        the quadratic approximation (see :func:`learning_coefficient`).
    extra : dict
        ``model`` (what was sampled), ``divergence_bound``, ``seconds``.
    """

    estimate: Estimate
    chain_values: np.ndarray
    loss_traces: np.ndarray
    init_loss: float
    nbeta: float
    gamma: float
    step_size: float
    n: int | None
    n_burnin: int
    batch_size: int | None
    diverged: np.ndarray
    diverged_step: np.ndarray
    rhat: float
    grad_norm: float
    grad_bias_bound: float
    extra: dict = field(default_factory=dict)

    @property
    def value(self):
        r""":math:`\hat\lambda`."""
        return self.estimate.value

    @property
    def stderr(self):
        return self.estimate.stderr

    @property
    def dimension(self):
        r""":math:`2\hat\lambda`, the effective number of parameters (D for a regular model)."""
        return 2.0 * self.estimate.value

    @property
    def n_chains(self):
        return int(self.chain_values.shape[0])

    @property
    def n_finite(self):
        """Number of chains that did not diverge (those in the estimate)."""
        return int(np.sum(~self.diverged))

    @property
    def draws(self):
        """The post-burn-in loss traces of the finite chains, shape (n_finite, n_steps - n_burnin)."""
        return self.loss_traces[~self.diverged, self.n_burnin:]

    def ci(self, level=0.95):
        r"""Confidence interval for :math:`\lambda` (the estimator's mean): Student's t over the chains.

        :math:`\hat\lambda \pm t_{c-1,(1+\text{level})/2}\, \text{stderr}` with c finite chains.
        It covers what SGLD estimates, which differs from :math:`\lambda` by the step-size and
        burn-in biases (exact on quadratics: :func:`quadratic_learning_coefficient`).
        """
        from scipy.stats import t as student

        from geometry.validation import check_probability

        level = check_probability(level, "level")
        half = student.ppf(0.5 + level / 2, self.n_finite - 1) * self.stderr
        return (self.value - half, self.value + half)

    def as_dict(self):
        """Scalars of the result (for tables and JSON)."""
        lo, hi = self.ci()
        return {"llc": self.value, "llc_stderr": self.stderr, "llc_low": lo, "llc_high": hi,
                "two_llc": self.dimension, "nbeta": self.nbeta, "gamma": self.gamma,
                "step_size": self.step_size, "n_chains": self.n_chains, "n_diverged": int(self.diverged.sum()),
                "n_steps": int(self.loss_traces.shape[1]), "n_burnin": self.n_burnin, "rhat": self.rhat,
                "init_loss": self.init_loss, "grad_norm": self.grad_norm}

    def __float__(self):
        return float(self.value)

    def __repr__(self):
        lo, hi = self.ci()
        div = f", {int(self.diverged.sum())} diverged" if self.diverged.any() else ""
        return (f"LearningCoefficient(lambda={self.value:.4g} ± {self.stderr:.2g}, 95% CI [{lo:.4g}, {hi:.4g}], "
                f"2*lambda={self.dimension:.4g}, nbeta={self.nbeta:.4g}, gamma={self.gamma:g}, "
                f"step_size={self.step_size:g}, chains={self.n_chains}{div}, steps={self.loss_traces.shape[1]}, "
                f"R-hat={self.rhat:.3f})")


# ---------------------------------------------------------------------------- objectives
class _WellObjective:
    """A QuadraticWell: all chains at once (loss and gradient of a batch of points)."""

    batched = True

    def __init__(self, well):
        self.well = well
        self.D = well.dim
        self.n_rows = None

    def full(self, theta):
        return float(self.well.loss(theta)), self.well.gradient(theta)

    def batch(self, W):
        return self.well.loss(W), self.well.gradient(W)


class _BatchedDataObjective:
    """A model with ``loss_and_grad_batch(W, X, y)``: all chains at once, full batch."""

    batched = True

    def __init__(self, model, X, y):
        self.model, self.X, self.y = model, X, y
        self.D = int(model.n_params)
        self.n_rows = X.shape[0]

    def full(self, theta):
        value, g = self.model.loss_and_grad(theta, self.X, self.y)
        return float(value), np.asarray(g, dtype=np.float64)

    def batch(self, W):
        return self.model.loss_and_grad_batch(W, self.X, self.y)


class _DataObjective:
    """A model with ``loss_and_grad(theta, X, y)`` and its training data; one chain at a time."""

    batched = False

    def __init__(self, model, X, y, batch_size, batch_rngs):
        self.model = model
        self.X, self.y = X, y
        self.D = int(model.n_params)
        self.n_rows = X.shape[0]
        self.grad = getattr(model, "_loss_and_grad", None) or model.loss_and_grad
        self.batch_size = batch_size
        self._batches = None if batch_size is None else [_minibatches(self.n_rows, batch_size, r)
                                                         for r in batch_rngs]

    def full(self, theta):
        value, g = self.model.loss_and_grad(theta, self.X, self.y)
        return float(value), np.asarray(g, dtype=np.float64)

    def one(self, w, chain):
        if self._batches is None:
            value, g = self.grad(w, self.X, self.y)
        else:
            idx = next(self._batches[chain])
            value, g = self.grad(w, self.X[idx], self.y[idx])
        return float(value), np.asarray(g, dtype=np.float64)


def _minibatches(n, batch_size, rng):
    """Minibatch index arrays: a fresh permutation every epoch, the last short batch dropped
    when it is smaller than half a batch (it would be a noisier gradient)."""
    while True:
        perm = rng.permutation(n)
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            if idx.size * 2 >= batch_size or start == 0:
                yield idx


def _data_arrays(model, data):
    from ..models.datasets import Dataset

    if isinstance(data, Dataset):
        return data.X_train, data.y_train
    if isinstance(data, (tuple, list)) and len(data) == 2:
        X, y = data
        if getattr(X, "shape", None) is None or getattr(y, "shape", None) is None:
            X, y = np.asarray(X), np.asarray(y)
        if X.shape[0] != y.shape[0]:
            raise ValueError(f"data (X, y) must have one target per row of X, got {X.shape[0]} rows "
                             f"and {y.shape[0]} targets")
        return X, y
    raise TypeError(f"data must be a landscape Dataset or a pair (X, y), got {type(data).__name__}")


def _is_well(model):
    from ..models.quadratic import QuadraticWell

    return isinstance(model, QuadraticWell)


def _chain_seeds(seed, n_chains):
    """Two independent streams (noise, minibatches) per chain, from one SeedSequence."""
    if isinstance(seed, np.random.SeedSequence):
        root = seed
    elif isinstance(seed, np.random.Generator):
        root = np.random.SeedSequence(seed.integers(2 ** 63, size=2).tolist())
    else:
        check_rng(seed)  # validation of type and sign
        root = np.random.SeedSequence(seed)
    children = [np.random.SeedSequence(root.entropy, spawn_key=root.spawn_key + (c,)) for c in range(n_chains)]
    noise = [np.random.default_rng(np.random.SeedSequence(c.entropy, spawn_key=c.spawn_key + (0,)))
             for c in children]
    batches = [np.random.default_rng(np.random.SeedSequence(c.entropy, spawn_key=c.spawn_key + (1,)))
               for c in children]
    return noise, batches


# ---------------------------------------------------------------------------- diagnostics
def _split_rhat(draws):
    r"""Split :math:`\hat R` (BDA3): each chain cut in halves, between/within variance ratio."""
    m, n = draws.shape
    if m < 2 or n < 4:
        return float("nan")
    half = n // 2
    parts = np.concatenate([draws[:, :half], draws[:, n - half:]], axis=0)
    means = parts.mean(axis=1)
    W = parts.var(axis=1, ddof=1).mean()
    B = half * means.var(ddof=1)
    if not W > 0:
        return float("nan") if not B > 0 else float("inf")
    var_plus = (half - 1) / half * W + B / half
    return float(np.sqrt(var_plus / W))


class _Noise:
    """The Gaussian increments of one chain, drawn in blocks from its own stream (the same
    numbers as one draw per step: a Generator fills arrays sequentially)."""

    def __init__(self, rng, D, T, scale):
        self.rng, self.D, self.left, self.scale = rng, D, T, scale
        self.block = max(1, min(256, 2 ** 22 // max(D, 1)))  # at most 32 MiB
        self.buf, self.i = None, 0

    def next(self):
        if self.buf is None or self.i == self.buf.shape[0]:
            k = min(self.block, self.left)
            self.buf = self.rng.standard_normal((k, self.D))
            self.buf *= self.scale
            self.left -= k
            self.i = 0
        row = self.buf[self.i]
        self.i += 1
        return row


class _Sampler:
    r"""The SGLD update :math:`w \leftarrow w - \frac{\epsilon}{2}(n\beta\nabla L + \gamma(w - \theta^*)) + \sqrt\epsilon\,\xi`."""

    def __init__(self, theta_star, nbeta, gamma, half_step, init_loss, bound):
        self.theta_star, self.nbeta, self.gamma, self.half = theta_star, nbeta, gamma, half_step
        self.init_loss, self.bound = init_loss, bound

    def _bad(self, loss, g):
        return (not math.isfinite(loss)) or self.nbeta * (loss - self.init_loss) > self.bound \
            or not math.isfinite(float(g @ g))

    def run_chain(self, obj, c, noise, trace, div_step, bar):
        """One chain, step after step (models with data)."""
        w = self.theta_star.copy()
        T = trace.shape[0]
        done = 0
        for t in range(T):
            loss, g = obj.one(w, c)
            if self._bad(loss, g):
                div_step[c] = t
                break
            trace[t] = loss
            w += -self.half * (self.nbeta * g + self.gamma * (w - self.theta_star))
            w += noise.next()
            if (t + 1) % 64 == 0:
                bar.update(t + 1 - done)
                done = t + 1
        bar.update(T - done)

    def run_batched(self, obj, noise, traces, div_step, bar):
        """All chains at once (a QuadraticWell evaluates a batch of points in one call)."""
        C, T = traces.shape
        W = np.repeat(self.theta_star[None, :], C, axis=0)
        alive = np.ones(C, dtype=bool)
        block = noise[0].block
        for t in range(T):
            if t % block == 0:  # the next block of every chain's increments, from its own stream
                k = min(block, T - t)
                bank = np.stack([nz.rng.standard_normal((k, nz.D)) for nz in noise], axis=1)
                bank *= noise[0].scale
            everyone = alive.all()
            idx = np.arange(C) if everyone else np.flatnonzero(alive)
            if idx.size == 0:
                break
            losses, grads = obj.batch(W if everyone else W[idx])
            losses = np.atleast_1d(np.asarray(losses, dtype=np.float64))
            bad = ~np.isfinite(losses) | ~np.isfinite(np.einsum("ij,ij->i", grads, grads)) \
                | (self.nbeta * (losses - self.init_loss) > self.bound)
            if bad.any():
                alive[idx[bad]] = False
                div_step[idx[bad]] = t
            good = idx[~bad]
            traces[good, t] = losses[~bad]
            if good.size:
                step = -self.half * (self.nbeta * grads[~bad] + self.gamma * (W[good] - self.theta_star))
                step += bank[t % block, good]
                W[good] += step
            bar.update(int(idx.size))


def _thread_counts(step_bytes, threads):
    """The thread counts of the sampling loop (see ``threads`` of :func:`learning_coefficient`)."""
    import contextlib

    from .._threads import SMALL_STEP_BYTES, thread_budget

    if threads is None:
        return thread_budget(1) if step_bytes < SMALL_STEP_BYTES else contextlib.nullcontext()
    threads = check_int(threads, "threads", minimum=1, maximum=4096)
    stack = contextlib.ExitStack()
    stack.enter_context(thread_budget(threads))
    from threadpoolctl import threadpool_limits

    stack.enter_context(threadpool_limits(limits=threads, user_api="blas"))
    return stack


def _top_curvature(model, theta_star, data):
    """The largest Hessian eigenvalue at theta_star, clipped at 0 (for the automatic step)."""
    if data is None:
        return float(max(model.eigenvalues.max(initial=0.0), 0.0))
    if not hasattr(model, "hvp"):
        raise TypeError(f"step_size='auto' needs the Hessian (model.hvp); {type(model).__name__} has none: "
                        "give step_size")
    from .hessian import top_eigenpairs

    D = int(model.n_params)
    X, y = data
    if hasattr(model, "hvp_function"):
        hvp = model.hvp_function(theta_star, X, y)
    else:
        def hvp(v):
            return model.hvp(theta_star, X, y, v)
    if D <= 50:  # small: the dense Hessian from D products
        from .hessian import hessian_operator

        lam = np.linalg.eigvalsh(hessian_operator(hvp, D).to_dense())
        return float(max(lam.max(), 0.0))
    top = top_eigenpairs(hvp, D, 1, seed=0, tol=1e-3)  # a fixed start vector: the step is reproducible
    return float(max(top.eigenvalues[0], 0.0))


# ---------------------------------------------------------------------------- estimator
def learning_coefficient(model, theta_star, *, data=None, n=None, nbeta=None, gamma=100.0, step_size="auto",
                         n_chains=4, n_steps=500, n_burnin=0, batch_size=None, seed=None, progress=None,
                         divergence_bound=None, grad_tol=0.05, threads=None):
    r"""Local learning coefficient :math:`\hat\lambda(\theta^*)` by SGLD (devinterp's estimator).

    .. math::

        \hat\lambda = n\beta\,\big(E_w[L_n(w)] - L_n(\theta^*)\big),\qquad
        w \sim \propto \exp\!\big(-n\beta L_n(w) - \tfrac{\gamma}{2}\|w - \theta^*\|^2\big),

    sampled by ``n_chains`` SGLD chains started at :math:`\theta^*` (update and definitions in
    :mod:`landscape.theory.local_learning_coefficient`). :math:`2\hat\lambda` is the effective
    number of parameters at :math:`\theta^*`.

    Parameters
    ----------
    model : QuadraticWell, MLP, TorchModel or model object
        A :class:`landscape.models.quadratic.QuadraticWell` (no data; ``n`` says how many
        samples its loss stands for), or a model with ``n_params``,
        ``loss_and_grad(theta, X, y)`` (and ``loss``) such as
        :class:`landscape.models.mlp.MLP` or :class:`landscape.torch.TorchModel`. A model
        with ``loss_and_grad_batch(W, X, y)`` (losses and gradients at the rows of W) has
        its chains run together when the batch is full.
    theta_star : array_like of shape (D,)
        The trained point; the chains start there and are localised around it.
    data : Dataset or (X, y), optional
        The training set (required for models with data; not allowed for a well).
    n : int >= 2, optional
        Number of training samples, for the default :math:`n\beta = n/\log n`; default the
        number of rows of the data. Required for a well unless ``nbeta`` is given.
    nbeta : float > 0, optional
        Inverse temperature :math:`n\beta` (default :math:`n / \log n`).
    gamma : float > 0
        Localisation strength :math:`\gamma` (devinterp's ``localization``; 100 is its usual
        value for networks).
    step_size : float > 0 or "auto"
        SGLD step :math:`\epsilon`. On a quadratic, the estimate is biased up by the factor
        :math:`1/(1 - \epsilon a_i/4)` per direction, :math:`a_i = n\beta h_i + \gamma`, and the
        chains diverge once :math:`\epsilon a_{\max} \ge 4`; the chains need about
        :math:`3/(\epsilon\,\gamma)` steps to forget their start along flat directions.
        ``"auto"``: :math:`\epsilon = 0.1/(n\beta h_{\max} + \gamma)` with :math:`h_{\max}` the
        largest Hessian eigenvalue at :math:`\theta^*` (the well's, or by Lanczos on
        ``model.hvp``), which bounds that bias by 2.6% per direction of the quadratic
        approximation. In a singular model the chains meet larger curvature away from
        :math:`\theta^*` than at it: check the traces (and ``rhat``), or give the step.
    n_chains : int >= 2
    n_steps : int >= 1
        Steps per chain (each records one loss).
    n_burnin : int >= 0
        Leading draws discarded (devinterp's default 0 keeps the draw at :math:`\theta^*`).
    batch_size : int, optional
        Minibatch size of the gradients and recorded losses (None: the whole training set).
        A minibatch loss at :math:`w_t` is an unbiased estimate of :math:`L_n(w_t)`.
    seed : int, SeedSequence, Generator or None
        Chain c draws its noise and its minibatches from its own streams
        ``SeedSequence(seed).spawn``-style, so the chains do not depend on each other, on the
        number of threads, or on the order they run in.
    progress : bool or None
        Progress bar (None: on when interactive).
    divergence_bound : float > 0, optional
        A chain diverges at the first step where its loss or gradient is not finite or
        :math:`n\beta\,(L_m(w_t) - L_n(\theta^*))` exceeds this (default 100 D, about 200
        times its expectation :math:`\le D/2` on a quadratic). Diverged chains are reported
        and excluded, never averaged.
    grad_tol : float > 0
        A :class:`NotAtMinimumWarning` is raised when the bound
        :math:`(n\beta)^2\|\nabla L_n(\theta^*)\|^2/\gamma` on the shift of :math:`\lambda`
        caused by the gradient at :math:`\theta^*` (exact to first order for a quadratic:
        the shift is :math:`-\sum_i (n\beta g_i)^2 (n\beta h_i/2 + \gamma)/a_i^2`) exceeds
        ``grad_tol * max(1, lambda_hat)``.

    threads : int, optional
        Threads of BLAS, torch and numba while the chains run. None (automatic): one thread
        when the largest operand of a step (the parameters, the training data) is below
        :data:`landscape._threads.SMALL_STEP_BYTES` (8 MiB; threads cost more than they give
        on such steps, and other pools' idle workers compete), the counts as they are
        otherwise. The numbers do not depend on it (tested on 1 and 2 threads).

    Returns
    -------
    LearningCoefficient

    Raises
    ------
    ValueError, TypeError
        Bad arguments (nbeta or gamma <= 0, data with a well, no n for a well, ...).
    ChainDivergenceError
        Fewer than two chains stayed finite (its ``result`` holds the chains).

    Warns
    -----
    ChainDivergenceWarning
        Some chains diverged (named, with the step); the estimate uses the others.
    NotAtMinimumWarning
        :math:`\theta^*` is not a minimum to the tolerance above (the gradient norm is given).
    ChainMixingWarning
        Split :math:`\hat R` of the loss traces above 1.1: the chains have not forgotten their
        start or not mixed (more steps, a longer burn-in, or a larger step).

    Examples
    --------
    >>> import numpy as np
    >>> from landscape import QuadraticWell
    >>> from landscape.theory import learning_coefficient, quadratic_learning_coefficient
    >>> well = QuadraticWell([1.0, 1.0, 1.0, 0.0])
    >>> res = learning_coefficient(well, np.zeros(4), nbeta=100.0, gamma=1.0, step_size=2e-3,
    ...                            n_chains=8, n_steps=3000, n_burnin=500, seed=0, progress=False)
    >>> exact = quadratic_learning_coefficient(well.eigenvalues, 100.0, 1.0)
    >>> round(2 * exact, 3)
    2.97
    >>> bool(abs(res.value - exact) < 0.05 * exact + 3 * res.stderr)
    True
    """
    import time

    from .._progress import progress_bar

    t_start = time.perf_counter()
    well = _is_well(model)
    n_chains = check_int(n_chains, "n_chains", minimum=2)
    n_steps = check_int(n_steps, "n_steps", minimum=1)
    n_burnin = check_int(n_burnin, "n_burnin", minimum=0)
    check_memory(64 * n_chains * (n_steps + 1), "n_chains and n_steps")  # the traces (burn-in is not kept)
    if n_burnin >= n_steps:
        raise ValueError(f"n_burnin must be < n_steps = {n_steps} (at least one draw), got {n_burnin}")
    auto_step = isinstance(step_size, str) and step_size == "auto"
    if not auto_step:
        step_size = _positive(step_size, "step_size", "the SGLD step size (or 'auto')")
    gamma = _positive(gamma, "gamma", "the localisation strength")
    grad_tol = _positive(grad_tol, "grad_tol", "the tolerance of the gradient check")
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", minimum=1)
    if n is not None:
        n = check_int(n, "n", minimum=2)
    if threads is not None:
        threads = check_int(threads, "threads", minimum=1)
    noise_rngs, batch_rngs = _chain_seeds(seed, n_chains)

    if well:
        if data is not None:
            raise ValueError("data must be None for a QuadraticWell (its loss needs no data; "
                             "give n, the number of samples it stands for)")
        if batch_size is not None:
            raise ValueError("batch_size needs data; a QuadraticWell has none")
        obj = _WellObjective(model)
        if n is None and nbeta is None:
            raise ValueError("a QuadraticWell needs n (the number of samples its loss stands for, "
                             "for nbeta = n / log n) or nbeta")
        label = f"QuadraticWell(D={model.dim})"
    else:
        for attr in ("n_params", "loss_and_grad"):
            if not hasattr(model, attr):
                raise TypeError(f"model must be a QuadraticWell or have n_params and loss_and_grad(theta, X, y); "
                                f"{type(model).__name__} has no {attr!r}")
        if data is None:
            raise ValueError(f"data (the training set: a Dataset or (X, y)) is required for {type(model).__name__}")
        X, y = _data_arrays(model, data)
        if batch_size is not None and batch_size > X.shape[0]:
            raise ValueError(f"batch_size must be <= the number of training rows {X.shape[0]}, got {batch_size}")
        if batch_size is None and hasattr(model, "loss_and_grad_batch"):
            obj = _BatchedDataObjective(model, X, y)
        else:
            obj = _DataObjective(model, X, y, batch_size, batch_rngs)
        if n is None:
            n = obj.n_rows
            if n < 2:
                raise ValueError("the training set must have at least 2 rows")
        label = repr(model)
    D = obj.D
    theta_star = as_float_array(theta_star, "theta_star", shape=(D,))
    if nbeta is None:
        nbeta = n / math.log(n)
    nbeta = _positive(nbeta, "nbeta", "the inverse temperature n*beta")
    if auto_step:
        h_max = _top_curvature(model, theta_star, None if well else (obj.X, obj.y))
        step_size = 0.1 / (nbeta * h_max + gamma)
    bound = 100.0 * D if divergence_bound is None else _positive(divergence_bound, "divergence_bound",
                                                                  "the divergence threshold")

    # the trained point: its loss on the whole training set (validates the data) and gradient
    init_loss, g0 = obj.full(theta_star)
    if not (np.isfinite(init_loss) and np.all(np.isfinite(g0))):
        raise ValueError(f"the loss or its gradient at theta_star is not finite (loss {init_loss})")
    grad_norm = float(np.linalg.norm(g0))
    grad_bias = float(nbeta ** 2 * grad_norm ** 2 / gamma)

    C, T = n_chains, n_steps
    traces = np.full((C, T), np.nan)
    div_step = np.full(C, -1, dtype=np.int64)
    noise = [_Noise(r, D, T, math.sqrt(step_size)) for r in noise_rngs]
    sampler = _Sampler(theta_star, nbeta, gamma, 0.5 * step_size, init_loss, bound)
    step_bytes = max(8 * D, 0 if well else int(getattr(obj.X, "nbytes", 0)))
    bar = progress_bar(total=C * T, desc="SGLD chains", progress=progress, unit="step")
    try:
        with _thread_counts(step_bytes, threads), np.errstate(all="ignore"):
            if obj.batched:
                sampler.run_batched(obj, noise, traces, div_step, bar)
            else:
                for c in range(C):
                    sampler.run_chain(obj, c, noise[c], traces[c], div_step, bar)
    finally:
        bar.close()
    diverged = div_step >= 0
    for c in np.flatnonzero(diverged):
        traces[c, div_step[c]:] = np.nan
    finite = ~diverged
    chain_values = np.full(C, np.nan)
    if finite.any():
        chain_values[finite] = nbeta * (traces[finite, n_burnin:].mean(axis=1) - init_loss)
    rhat = _split_rhat(traces[finite, n_burnin:]) if finite.sum() >= 2 else float("nan")
    seconds = time.perf_counter() - t_start
    extra = {"model": label, "divergence_bound": bound, "seconds": seconds}
    method = (f"SGLD ({C} chains x {T} steps, burn-in {n_burnin}, "
              f"{'full batch' if batch_size is None else f'batch {batch_size}'})")
    if finite.sum() >= 2:
        est = Estimate.from_samples(chain_values[finite], method, keep_samples=True)
    else:
        est = Estimate(float("nan"), float("nan"), int(finite.sum()), method,
                       chain_values[finite].copy())
    result = LearningCoefficient(
        estimate=est, chain_values=chain_values, loss_traces=traces, init_loss=float(init_loss),
        nbeta=float(nbeta), gamma=gamma, step_size=step_size, n=n, n_burnin=n_burnin,
        batch_size=batch_size, diverged=diverged, diverged_step=div_step, rhat=rhat,
        grad_norm=grad_norm, grad_bias_bound=grad_bias, extra=extra)
    if diverged.any():
        which = ", ".join(f"chain {c} at step {div_step[c]}" for c in np.flatnonzero(diverged))
        advice = (f"lower step_size (now {step_size:g}; on a quadratic SGLD diverges once step_size * "
                  f"(nbeta * h_max + gamma) >= 4)")
        if finite.sum() < 2:
            raise ChainDivergenceError(f"{int(diverged.sum())} of {C} SGLD chains diverged ({which}): "
                                       f"no estimate; {advice}", result)
        warnings.warn(f"{int(diverged.sum())} of {C} SGLD chains diverged ({which}); they are excluded "
                      f"from the estimate; {advice}", ChainDivergenceWarning, stacklevel=2)
    if np.isfinite(rhat) and rhat > 1.1:
        warnings.warn(f"the SGLD chains disagree: split R-hat = {rhat:.3f} > 1.1 (lambda_hat = {est.value:.4g}); "
                      f"run more steps (now {T}) or a longer burn-in (now {n_burnin}): along a direction of "
                      f"curvature h the chains forget their start in about 3 / (step_size * (nbeta h + gamma)) "
                      f"steps, up to {3.0 / (step_size * gamma):.3g} along a flat one",
                      ChainMixingWarning, stacklevel=2)
    if grad_bias > grad_tol * max(1.0, abs(est.value)):
        warnings.warn(f"theta_star is not a minimum: |grad L_n(theta_star)| = {grad_norm:.3g}, which can "
                      f"shift lambda by up to nbeta^2 |grad|^2 / gamma = {grad_bias:.3g} "
                      f"(lambda_hat = {est.value:.4g}); train further or raise gamma",
                      NotAtMinimumWarning, stacklevel=2)
    return result
