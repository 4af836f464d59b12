r"""Exact success of subspace training on a quadratic well, without training.

For :math:`L(\theta) = L^* + \tfrac12\|H^{1/2}(\theta - \theta^*)\|^2` the best point of the
affine subspace :math:`\theta_0 + \operatorname{range}(A)` solves a least-squares problem:
with :math:`W = \operatorname{diag}(\sqrt\lambda)\,V^T` (so :math:`\|Wx\| = \|H^{1/2}x\|`),
:math:`b = W(\theta_0 - \theta^*)` and :math:`M = WA`,

.. math::

    \min_\phi L(\theta_0 + A\phi) = L^* + \tfrac12 \min_\phi \|b + M\phi\|^2
    = L^* + \tfrac12 \|(I - P_{M})\, b\|^2,

:math:`P_M` the orthogonal projector onto range(M). It costs :math:`O(D d^2)` (plus
:math:`O(D^2 d)` for :math:`V^TA` when the well is rotated). Training in the subspace
reaches :math:`\epsilon` exactly when this minimum is :math:`\le \epsilon`, which gives the
empirical success probability :math:`P_s(d)` and threshold :math:`d^*` that the
predictions of :mod:`landscape.theory.predict` are tested against.
"""
from __future__ import annotations

import contextlib
import numbers
from dataclasses import dataclass

import numpy as np

from geometry.validation import (
    as_float_array,
    as_int_array,
    check_choice,
    check_int,
    check_memory,
    check_probability,
    check_rng,
)

from ..models.quadratic import (
    _check_eps_value,
    _check_well,
    subspace_min_loss,
    subspace_min_loss_path,
)
from ..subspaces.maps import SUBSPACE_KINDS, random_subspace
from .binomial import wilson_interval

__all__ = [
    "empirical_success_probability",
    "empirical_threshold",
    "wilson_interval",
    "EmpiricalSuccess",
    "EmpiricalThreshold",
]

# -- empirical success probability -----------------------------------------------------
@dataclass(frozen=True, repr=False)
class EmpiricalSuccess:
    r"""Counts of successful random subspaces, per subspace dimension d.

    Attributes
    ----------
    ds : ndarray of int, shape (k,)
        Subspace dimensions, increasing.
    successes : ndarray of int, shape (k,)
        Number of trials whose subspace reaches :math:`L \le \epsilon`.
    n_trials : int
    eps : float
    kind : str
        Subspace kind.
    coupling : {"nested", "independent"}
        ``"nested"``: trial i uses the first d columns of one map for every d (counts at
        different d are correlated, each is exactly binomial); ``"independent"``: a fresh
        map per (trial, d).
    min_losses : ndarray of shape (n_trials, k)
        The exact minimum loss of each subspace.
    trial_thresholds : ndarray of shape (n_trials,), optional
        With nested coupling, the exact smallest d of each trial's nested family whose
        subspace succeeds (``inf`` when none up to ``max(ds)``, 0 when
        :math:`\theta_0 \in S(\epsilon)`).
    """

    ds: np.ndarray
    successes: np.ndarray
    n_trials: int
    eps: float
    kind: str
    coupling: str
    min_losses: np.ndarray
    trial_thresholds: np.ndarray | None = None

    @property
    def rates(self):
        """Success rates :math:`\\hat P_s(d)`, shape (k,)."""
        return self.successes / self.n_trials

    @property
    def success_matrix(self):
        """Boolean (n_trials, k): which trial succeeded at which d."""
        return self.min_losses <= self.eps

    def confidence_interval(self, level=0.95):
        """Wilson intervals of the success probabilities: (low, high), each of shape (k,)."""
        return wilson_interval(self.successes, self.n_trials, level)

    def runs(self):
        """The outcomes as a :class:`~landscape.experiments.run_table.RunTable` of runs: one per
        (trial, d), columns ``d``, ``seed`` (the trial) and ``min_loss`` (success: ``min_loss <=
        eps``), for :func:`landscape.thresholds.threshold_dimension` (whose interval has
        measured coverage; nested coupling is its ``design="nested"``). d = 0 is left out."""
        from ..experiments.run_table import RunTable

        keep = self.ds > 0
        ds = self.ds[keep]
        return RunTable.from_columns({"d": np.tile(ds, self.n_trials), "seed": np.repeat(np.arange(self.n_trials),
                                                                                           ds.size),
                                      "min_loss": self.min_losses[:, keep].ravel()})

    def threshold(self, level=0.5, **kwargs):
        """The empirical threshold (see :func:`empirical_threshold`)."""
        return empirical_threshold(self, level=level, **kwargs)

    def __repr__(self):
        rates = ", ".join(f"{d}:{r:.2f}" for d, r in zip(self.ds, self.rates))
        return (f"EmpiricalSuccess(eps={self.eps:g}, kind={self.kind!r}, n_trials={self.n_trials}, "
                f"coupling={self.coupling!r}, P_s(d)={{{rates}}})")


def _one_blas_thread():
    """Limit BLAS to one thread (each trial is a small factorisation: threads only contend,
    and one thread makes the rounding, hence every decision, independent of the machine)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        from contextlib import nullcontext

        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _root_sequence(seed):
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(seed.integers(2 ** 63)))
    check_rng(seed)  # validates
    return np.random.SeedSequence(seed)


def _check_ds(ds, D):
    try:
        arr = as_int_array(ds, "ds", ndim=(0, 1)).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"ds must be a non-empty 1-D array of integers ({exc})") from None
    arr = np.unique(arr)
    if arr[0] < 0 or arr[-1] > D:
        raise ValueError(f"ds must lie in [0, D] = [0, {D}], got range [{arr[0]}, {arr[-1]}]")
    return arr


def empirical_success_probability(well, theta0, eps, ds, n_trials, kind="orthonormal", seed=None, *,
                                  coupling="nested", progress=None):
    r"""Exact success of ``n_trials`` random subspaces at each d: :math:`\hat P_s(d)` with intervals.

    Trial i draws its subspaces from the child seed ``SeedSequence(seed).spawn(n_trials)[i]``
    and decides success exactly with :func:`subspace_min_loss_path` (no training): the
    subspace :math:`\theta_0 + \operatorname{range}(A)` succeeds when
    :math:`\min_\phi L(\theta_0 + A\phi) \le \epsilon`.

    For Haar subspaces (``kind="orthonormal"`` or ``"gaussian"``) the result depends on
    the well only through the eigenvalues and the offset :math:`V^T(\theta_0-\theta^*)`
    (rotation invariance), so an identity-basis well loses nothing and costs O(D) per
    whitening; D = 400 with 100 trials runs in about a second.

    Parameters
    ----------
    well : QuadraticWell
    theta0 : array_like of shape (D,)
    eps : float > well.min_loss
    ds : array_like of int in [0, D]
        Subspace dimensions (sorted and de-duplicated; d = 0 means no subspace: success
        iff :math:`L(\theta_0) \le \epsilon`).
    n_trials : int >= 1
    kind : {"orthonormal", "gaussian", "sparse", "fastfood"}
    seed : int, SeedSequence, numpy.random.Generator or None
    coupling : {"nested", "independent"}
        ``"nested"`` (default): per trial one map of dimension ``max(ds)``, whose first d
        columns are the trial's d-dimensional subspace (exactly the map
        ``random_subspace(D, d, kind, seed=child)``); one QR per trial serves every d,
        and each trial's exact threshold is recorded. ``"independent"``: a fresh map
        for every (trial, d), from ``SeedSequence(child.entropy, spawn_key=child.spawn_key + (d,))``.
    progress : bool, None or callable
        A progress bar over the trials (tqdm, on stderr) when they take more than a second:
        None (default) shows it when a person is watching (terminal, notebook), False
        never, True always. A callable is called as ``progress(done, n_trials)`` after each
        trial instead.

    Returns
    -------
    EmpiricalSuccess

    Examples
    --------
    >>> import numpy as np
    >>> from landscape import QuadraticWell, empirical_success_probability
    >>> well = QuadraticWell(np.ones(20))  # round well; S(5) is the ball of radius sqrt(10)
    >>> res = empirical_success_probability(well, np.ones(20), 5.0, [0, 10, 20], 50, seed=0)
    >>> res.rates.tolist()  # exact P_s(10) = P(Beta(5, 5) >= 1/2) = 1/2
    [0.0, 0.52, 1.0]
    """
    well = _check_well(well)
    D = well.dim
    theta0 = as_float_array(theta0, "theta0", shape=(D,))
    eps = _check_eps_value(eps, "eps", well.min_loss)
    ds = _check_ds(ds, D)
    n_trials = check_int(n_trials, "n_trials", minimum=1)
    check_memory(8 * n_trials * (ds.size + 4), "n_trials")  # the min-loss matrix and thresholds
    kind = check_choice(kind, "kind", SUBSPACE_KINDS)
    coupling = check_choice(coupling, "coupling", ("nested", "independent"))
    from .._progress import progress_bar

    callback = progress if callable(progress) else None
    if callback is None and progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be callable, True, False or None (on when interactive), got {progress!r}")
    bar = None if callback else progress_bar(n_trials, "exact subspace tests", progress=progress, unit="trial",
                                             delay=1.0)
    children = _root_sequence(seed).spawn(n_trials)
    min_losses = np.empty((n_trials, ds.size))
    thresholds = np.empty(n_trials) if coupling == "nested" else None
    with _one_blas_thread(), contextlib.ExitStack() as stack:
        if bar is not None:
            stack.enter_context(bar)
        for i, child in enumerate(children):
            if coupling == "nested":
                min_losses[i], thresholds[i] = _nested_trial(well, theta0, eps, ds, kind, child)
            else:
                min_losses[i] = _independent_trial(well, theta0, ds, kind, child)
            if callback is not None:
                callback(i + 1, n_trials)
            else:
                bar.update()
    successes = (min_losses <= eps).sum(axis=0)
    return EmpiricalSuccess(ds=ds, successes=successes, n_trials=n_trials, eps=eps, kind=kind,
                            coupling=coupling, min_losses=min_losses, trial_thresholds=thresholds)


def _nested_trial(well, theta0, eps, ds, kind, child):
    """Minimum losses at ``ds`` over one nested family of maps, and its exact threshold."""
    d_max = int(ds[-1])
    if d_max == 0:
        path = np.array([well.loss(theta0)])
    else:
        # An orthonormal map is the Q factor of the Gaussian that the "gaussian" kind draws
        # from the same seed: the ranges of their first k columns coincide for every k, so
        # the QR inside the orthonormal map can be skipped.
        draw_kind = "gaussian" if kind == "orthonormal" else kind
        path = subspace_min_loss_path(well, theta0, random_subspace(well.dim, d_max, draw_kind, seed=child))
    hits = np.flatnonzero(path <= eps)
    return path[ds], (hits[0] if hits.size else np.inf)


def _independent_trial(well, theta0, ds, kind, child):
    """Minimum losses at ``ds``, a fresh map for each d (seeded by (trial, d))."""
    out = np.empty(ds.size)
    for j, d in enumerate(ds):
        if d == 0:
            out[j] = well.loss(theta0)
        else:
            seq = np.random.SeedSequence(child.entropy, spawn_key=child.spawn_key + (int(d),))
            out[j] = subspace_min_loss(well, theta0, random_subspace(well.dim, int(d), kind, seed=seq))
    return out


# -- threshold -------------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class EmpiricalThreshold:
    r"""The d at which the (monotone) success curve crosses ``level``, with an interval of measured coverage.

    Attributes
    ----------
    value : float
        Interpolated crossing; ``ds[0]`` when the curve starts at or above ``level``
        (``censored == "below"``), ``inf`` when it never reaches it (``"above"``).
    ci : (float, float)
        Interval at ``confidence`` (that of :func:`landscape.thresholds.threshold_dimension`).
    level, confidence : float
    censored : {None, "below", "above"}
    n_bootstrap : int
        0 (kept for the fields of 0.1).
    method : str
    """

    value: float
    ci: tuple
    level: float
    confidence: float
    censored: str | None
    n_bootstrap: int
    method: str

    def __float__(self):
        return float(self.value)

    def __repr__(self):
        cens = "" if self.censored is None else f", censored={self.censored!r}"
        return (f"EmpiricalThreshold(d*={self.value:.4g}, {100 * self.confidence:g}% CI "
                f"[{self.ci[0]:.4g}, {self.ci[1]:.4g}], level={self.level:g}{cens}, method={self.method!r})")


def _isotonic(y, w):
    """Weighted least-squares non-decreasing fit (pool adjacent violators, :func:`scipy.optimize.isotonic_regression`)."""
    from scipy.optimize import isotonic_regression

    return isotonic_regression(np.asarray(y, dtype=np.float64), weights=np.asarray(w, dtype=np.float64),
                               increasing=True).x


def _crossing(ds, rates, weights, level):
    """(value, censored) of the first crossing of ``level`` by the isotonic fit of the rates."""
    fit = _isotonic(rates, weights)
    above = np.flatnonzero(fit >= level)
    if above.size == 0:
        return np.inf, "above"
    i = above[0]
    if i == 0:
        return float(ds[0]), (None if ds[0] == 0 else "below")
    lo, hi = fit[i - 1], fit[i]
    return float(ds[i - 1] + (level - lo) / (hi - lo) * (ds[i] - ds[i - 1])), None


def empirical_threshold(result, successes=None, n_trials=None, *, level=0.5, confidence=0.95,
                        n_bootstrap=None, seed=None, interval=True):
    r"""Threshold dimension :math:`d^*`: where the measured success curve crosses ``level``.

    The point: the rates :math:`\hat P_s(d)` are made non-decreasing in d (weighted
    isotonic regression, since :math:`P_s` is monotone), then the crossing is interpolated
    linearly between the two grid points around it.

    The interval is the one of :func:`landscape.thresholds.threshold_dimension` (Larsen
    criterion), whose coverage is measured (``benchmarks/threshold_coverage.py``, lowest
    0.968 at nominal 0.95 over 120 cells): a logistic-in-:math:`\log d` likelihood of the
    crossing with the slope integrated out, united with the grid brackets of the observed
    crossings, with the tested range as hard limits. Trials of an :class:`EmpiricalSuccess`
    with nested coupling are analysed with the interval-censored likelihood of per-trial
    thresholds (``design="nested"``), independent ones and plain counts as binomial
    (``design="independent"``). The interval always contains the point. When the curve is
    exactly 1 at a tested d = 0 (:math:`\theta_0 \in S(\epsilon)`), d* = 0 exactly.

    Parameters
    ----------
    result : EmpiricalSuccess, or array_like of int
        A result, or the grid ``ds`` (then give ``successes`` and ``n_trials``).
    successes : array_like of int, optional
    n_trials : int or array_like of int, optional
    level : float in (0, 1)
        Success probability defining the threshold (0.5: the median crossing).
    confidence : float in (0, 1)
    n_bootstrap : int, optional
        Deprecated (0.1 drew a percentile bootstrap, whose coverage was not measured): 0
        means ``interval=False``; any other value is ignored with a FutureWarning.
    seed : int, Generator or None
        Unused (the interval is deterministic); kept for the signature of 0.1.
    interval : bool
        Compute the interval (default); False gives ``(value, value)``.

    Returns
    -------
    EmpiricalThreshold

    Examples
    --------
    >>> from landscape import empirical_threshold
    >>> t = empirical_threshold([10, 20, 30], [0, 50, 100], 100, interval=False)
    >>> t.value
    20.0
    """
    level = check_probability(level, "level")
    confidence = check_probability(confidence, "confidence")
    if n_bootstrap is not None:
        n_bootstrap = check_int(n_bootstrap, "n_bootstrap", minimum=0)
        if n_bootstrap == 0:
            interval = False
        else:
            import warnings

            warnings.warn("empirical_threshold: n_bootstrap is deprecated and ignored; the interval is now "
                          "threshold_dimension's (measured coverage)", FutureWarning, stacklevel=2)
    if not isinstance(interval, (bool, np.bool_)):
        raise TypeError(f"interval must be True or False, got {interval!r}")
    check_rng(seed)  # validates (unused)
    if isinstance(result, EmpiricalSuccess):
        if successes is not None or n_trials is not None:
            raise ValueError("successes and n_trials must be None when result is an EmpiricalSuccess")
        ds = result.ds.astype(np.float64)
        n = np.full(ds.size, float(result.n_trials))
        k = result.successes.astype(np.float64)
        design = "nested" if result.coupling == "nested" else "independent"
    else:
        if successes is None or n_trials is None:
            raise ValueError(f"result must be an EmpiricalSuccess, or a grid of ds: then give successes and "
                             f"n_trials (got result of type {type(result).__name__})")
        ds = as_float_array(result, "result (the grid of ds)", ndim=1, nonnegative=True)
        if np.any(np.diff(ds) <= 0):
            raise ValueError("ds must be strictly increasing")
        k = as_float_array(successes, "successes", shape=ds.shape, nonnegative=True)
        if np.isscalar(n_trials) or np.ndim(n_trials) == 0:
            if isinstance(n_trials, bool) or not isinstance(n_trials, numbers.Integral):
                raise TypeError(f"n_trials must be an integer or an array of integers, got {n_trials!r}")
        n = np.broadcast_to(as_float_array(n_trials, "n_trials", ndim=(0, 1)), ds.shape).astype(np.float64)
        if np.any(n < 1) or np.any(k > n) or np.any(k != np.round(k)) or np.any(n != np.round(n)):
            raise ValueError("successes must be integers with 0 <= successes <= n_trials, n_trials >= 1")
        design = "independent"
    method = f"isotonic crossing; interval: threshold_dimension (design={design!r})"
    value, censored = _crossing(ds, k / n, n, level)
    if not interval:
        return EmpiricalThreshold(value, (value, value), level, confidence, censored, 0, method)
    if ds[0] == 0 and k[0] == n[0]:  # theta0 in S: every subspace succeeds, d* = 0 exactly
        return EmpiricalThreshold(value, (0.0, 0.0), level, confidence, censored, 0, method)
    est = _likelihood_interval(result, ds, k, n, level, confidence, design)
    lo, hi = (float(v) for v in est.interval)
    ci = (min(lo, value), max(hi, value))
    return EmpiricalThreshold(value, ci, level, confidence, censored, 0, method)


def _likelihood_interval(result, ds, k, n, level, confidence, design):
    """threshold_dimension's interval for exact outcomes (d = 0 left out: log d)."""
    import warnings

    from ..experiments.run_table import RunTable
    from .measured import threshold_dimension

    if isinstance(result, EmpiricalSuccess):
        table, metric, lvl, direction = result.runs(), "min_loss", result.eps, "min"
    else:
        keep = ds > 0
        rows_d, rows_s = [], []
        for d, kk, nn in zip(ds[keep], k[keep], n[keep]):
            rows_d.append(np.full(int(nn), d))
            rows_s.append((np.arange(int(nn)) < kk).astype(np.float64))
        table = RunTable.from_columns({"d": np.concatenate(rows_d), "success": np.concatenate(rows_s)})
        metric, lvl, direction = "success", 0.5, "max"
    with warnings.catch_warnings():  # non-monotone nested trials cannot occur for exact outcomes
        warnings.simplefilter("ignore", RuntimeWarning)
        return threshold_dimension(table, metric, lvl, p=level, design=design, direction=direction,
                                   confidence=confidence)
