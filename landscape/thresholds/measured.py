r"""Success probabilities and threshold training dimensions from tables of runs.

A run *succeeds* at level :math:`\epsilon` when its metric reaches the level: ``metric <=
level`` for losses, ``metric >= level`` for accuracies (``direction``). A NaN metric (a
diverged run) is a failure, with a warning that gives their number. :math:`\hat P_s(d)` is
the fraction of successful runs at d.

Two criteria define the threshold training dimension :math:`d^*`
(:func:`threshold_dimension`, argument ``criterion``):

* ``"larsen"`` (default; Larsen et al. 2022): where the success probability
  :math:`P_s(d)` crosses ``p`` (1/2 by default). Computed here.
* ``"li"`` (Li et al. 2018, :math:`d_{\mathrm{int}90}`): where the mean metric over runs
  reaches a fraction of a baseline; see :mod:`landscape.thresholds.intrinsic`.

The interval (Larsen criterion)
-------------------------------
The success probability is modelled as a logistic transition in :math:`\log d`,

.. math::

    P(d) = \sigma\big(b(\log d - u) + \operatorname{logit} p\big), \qquad d^* = e^u,

with the slope b unknown. Two likelihoods (``design``):

* ``"nested"``: the runs of one seed share :math:`\theta_0` and nested subspaces (the maps
  of this toolkit's sweeps are), so seed s has its own threshold :math:`D_s` with
  :math:`P(D_s \le d) = P(d)`, succeeds at every d above it and fails below. Its runs
  only say that :math:`D_s \in (l_s, r_s]` (the last failure and first success), and

  .. math:: L(u, b) = \prod_s \big[P(r_s) - P(l_s)\big].

  Where a seed was not run at a tested d, its outcome there is implied when d lies outside
  :math:`(l_s, r_s]` (and counted in the success curve, its bracket and its point).
  A seed that fails after a success (training noise) is *non-monotone*: its interval
  is widened to span all its crossings, from the last d before its first success to the
  first d after its last failure, and a warning gives the count.
* ``"independent"``: every run is its own Bernoulli draw,
  :math:`L(u, b) = \prod_j P(d_j)^{k_j}(1 - P(d_j))^{n_j - k_j}`. Too narrow for nested
  runs (it counts one seed's perfectly correlated runs as independent evidence).

With a flat prior on u over the tested range widened by one grid spacing at each end,
and a log-uniform prior on b from :math:`2/\text{span}` (a 10%-90% rise about twice as
wide as the tested span of :math:`\log d`) to :math:`\max(20, 14/h_{\min})` (a step
between the closest tested d), the likelihood is evaluated on an 801 x 48 grid of
(u, b). The interval is the union of

1. the equal-tailed ``confidence`` interval of u under the posterior with b integrated out;
2. the same interval given each *plausible* slope, one whose marginal likelihood
   :math:`m(b) = \int L(u, b)\,du` is at least :math:`e^{-\chi^2_{1,0.9}/2} \approx 0.26`
   times the largest: with few seeds the data cannot exclude a shallow slope, and this
   keeps the interval honest about it;
3. the bracket: the tested dimensions around every crossing of p by the observed
   :math:`\hat P_s` (the grid resolution: with nothing tested inside the transition, the
   interval spans the whole bracket);
4. the point estimate;

and an end beyond the tested range becomes the hard limit there: 1 (0 when d = 1 was
tested) below, ``inf`` above. A threshold below or above the tested range is reported as
such (``censored``, value NaN, e.g. "d* < 2, 95% interval [1, 2]"), never as a number.

Measured coverage of the nominal 95% interval (``benchmarks/threshold_coverage.py``,
``benchmarks/RESULTS.md``): synthetic transitions with slopes b in {2, 4, 8, 16},
crossings on and between the grid points d = 2, 4, ..., 1024, 2 to 20 seeds, independent
and nested runs, 400 replications per cell: at least 0.968 in each of the 120 cells of the
default (``design="auto"``, nested: tables with a seed column) on both kinds of runs and of
``design="independent"`` on independent runs (most cells 0.99-1.00: conservative). Median
widths (high/low): one grid step (2.0) with 10-20 seeds and a steep transition, 2.3-5 with
10 seeds, and up to the whole range ("inf") with 2 nested seeds, which is what two
samples of a threshold with unknown spread can say. Nested runs analysed with the
independent likelihood cover only 0.87-0.93 in the shallow cells.
"""
from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass

import numpy as np

from geometry.validation import check_choice, check_probability

from . import _crossing
from ._estimate import (
    ThresholdEstimate,
    check_direction,
    check_level,
    floor_of,
    need_two_dimensions,
    select_runs,
    warn_nan,
)

__all__ = ["SuccessCurve", "ThresholdEstimate", "success_probability", "threshold_dimension",
           "success_matrix", "CRITERIA", "DESIGNS"]

#: threshold criteria by name: Larsen et al. 2022 (success-fraction crossing) and Li et al.
#: 2018 (mean metric reaching a fraction of a baseline, d_int90)
CRITERIA = ("larsen", "li")
#: likelihoods of the runs (Larsen criterion)
DESIGNS = ("auto", "nested", "independent")
METHODS = ("interpolate", "logistic", "posterior")


def _successes(values, level, direction):
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        ok = values <= level if direction == "min" else values >= level
    return ok & np.isfinite(values)


def _check_success_level(level, metric):
    level = check_level(level)
    if "acc" in metric.lower() and not 0.0 <= level <= 1.0:
        raise ValueError(f"level must lie in [0, 1] for the accuracy {metric!r}, got {level}")
    return level


@dataclass(frozen=True, repr=False)
class SuccessCurve:
    r"""Observed success counts per training dimension.

    Attributes
    ----------
    ds : ndarray of int, shape (k,)
        Distinct training dimensions, increasing.
    successes, n_trials : ndarray of int, shape (k,)
    metric : str
    level : float
    direction : {"min", "max"}
    """

    ds: np.ndarray
    successes: np.ndarray
    n_trials: np.ndarray
    metric: str
    level: float
    direction: str

    @property
    def probability(self):
        r""":math:`\hat P_s(d) = ` successes / trials."""
        return self.successes / self.n_trials

    def ci(self, confidence=0.95):
        """Wilson score intervals, an array of shape (k, 2)."""
        from .binomial import wilson_interval

        confidence = check_probability(confidence, "confidence")
        lo, hi = wilson_interval(self.successes, self.n_trials, confidence)
        return np.stack([lo, hi], axis=1)

    def __repr__(self):
        pts = ", ".join(f"{d}: {k}/{n}" for d, k, n in zip(self.ds, self.successes, self.n_trials))
        op = "<=" if self.direction == "min" else ">="
        return f"SuccessCurve({self.metric} {op} {self.level:g}; {pts})"


def success_probability(table, metric, level, *, direction=None, **where):
    r"""Success probability :math:`\hat P_s(d)` at each training dimension.

    Parameters
    ----------
    table : RunTable or pandas.DataFrame
    metric : str
        A column, e.g. ``"train_acc"`` or ``"train_loss"``.
    level : float
        Success when ``metric >= level`` (``direction="max"``, default for names containing
        "acc"; then level must lie in [0, 1]) or ``metric <= level`` (``"min"``, default for
        names containing "loss"). NaN (diverged) is a failure, with a RuntimeWarning
        giving the number of such runs.
    direction : {"min", "max"}, optional
    **where
        Column selections, e.g. ``kind="random", t=0`` (see :meth:`RunTable.select`). The
        selected runs must belong to one experiment (one kind, burn-in t, basis and D).

    Returns
    -------
    SuccessCurve

    Examples
    --------
    >>> from landscape.experiments.run_table import RunTable
    >>> from landscape.thresholds import success_probability
    >>> runs = RunTable([{"d": d, "seed": s, "train_acc": float(d >= 8 + s)}
    ...                  for d in (4, 8, 16) for s in range(4)])
    >>> success_probability(runs, "train_acc", 0.5).probability
    array([0.  , 0.25, 1.  ])
    """
    direction = check_direction(metric, direction)
    level = _check_success_level(level, metric)
    table = select_runs(table, metric, where)
    warn_nan(table[metric], metric, "counted as failures")
    return _curve(table, metric, level, direction)


def _curve(table, metric, level, direction):
    ok = _successes(table[metric], level, direction)
    d = table["d"]
    ds, inverse = np.unique(d, return_inverse=True)
    k = np.bincount(inverse, weights=ok, minlength=ds.size).astype(np.int64)
    n = np.bincount(inverse, minlength=ds.size).astype(np.int64)
    return SuccessCurve(ds.astype(np.int64), k, n, metric, float(level), direction)


def success_matrix(table, metric, level, *, direction=None, **where):
    """Success indicators by seed and d.

    Returns
    -------
    ds : ndarray (k,)
    seeds : ndarray (m,)
    success : ndarray of float, shape (m, k)
        1 or 0 where a run exists, 0 elsewhere.
    observed : ndarray of float, shape (m, k)
        1 where a run exists.
    """
    direction = check_direction(metric, direction)
    level = _check_success_level(level, metric)
    table = select_runs(table, metric, where)
    return _matrix(table, metric, level, direction)


def _matrix(table, metric, level, direction):
    if "seed" not in table:
        raise ValueError("table needs a 'seed' column for design='nested' (runs of one seed share "
                         "theta0); pass design='independent' for independent runs")
    ok = _successes(table[metric], level, direction)
    ds = np.unique(table["d"])
    seeds = np.unique(table["seed"])
    di = np.searchsorted(ds, table["d"])
    si = np.searchsorted(seeds, table["seed"])
    observed = np.zeros((seeds.size, ds.size))
    success = np.zeros((seeds.size, ds.size))
    np.add.at(observed, (si, di), 1.0)
    if np.any(observed > 1):
        i, j = np.argwhere(observed > 1)[0]
        raise ValueError(f"table has several runs with seed={seeds[i]} and d={ds[j]}: one run per (seed, d) "
                         "expected (select one experiment, or pass design='independent')")
    success[si, di] = ok
    return ds, seeds, success, observed


def _seed_bounds(logd, success, observed):
    """Per seed, the log-d interval (lower, upper] holding its own threshold, and whether the
    seed is non-monotone (a failure above a success)."""
    lower, upper, nonmono = [], [], 0
    for S, M in zip(success, observed):
        idx = np.flatnonzero(M)
        if idx.size == 0:
            continue
        ok = S[idx] > 0
        wins, losses = idx[ok], idx[~ok]
        if wins.size == 0:
            lower.append(logd[idx[-1]])
            upper.append(np.inf)
            continue
        if losses.size == 0:
            lower.append(-np.inf)
            upper.append(logd[idx[0]])
            continue
        first_win, last_loss = wins[0], losses[-1]
        nonmono += bool(last_loss > first_win)
        before = idx[idx < first_win]
        after = idx[idx > last_loss]
        lower.append(logd[before[-1]] if before.size else -np.inf)
        upper.append(logd[after[0]] if after.size else np.inf)
    return lower, upper, nonmono


# ---------------------------------------------------------------------- Larsen's criterion
def larsen_interval(logd, confidence, p, *, counts=None, bounds=None, span=None):
    """(low, high, posterior median) of log d* from counts ``(k, n)`` per tested log d
    (independent design) or per-seed bounds ``(lower, upper)`` (nested design)."""
    u = _crossing.crossing_grid(logd)
    b = _crossing.slope_grid(logd, span=span)
    logit_p = float(np.log(p / (1 - p)))
    if bounds is None:
        k, n = counts
        ll = _crossing.loglik_independent(u, b, logd, k, n, logit_p)
    else:
        groups = Counter(zip(*bounds))
        lower, upper = zip(*groups) if groups else ((), ())
        ll = _crossing.loglik_censored(u, b, lower, upper, list(groups.values()), logit_p)
    return _crossing.credible_set(ll, u, confidence)


def _point(method, logd, curve, p, median):
    """log d* by ``method`` (``-inf``/``inf``: below/above the tested range)."""
    fit = _crossing.isotonic(curve.probability, curve.n_trials)
    crossing = _crossing.first_crossing(logd, fit, p)
    if not np.isfinite(crossing) or method == "interpolate":
        return crossing, {}
    if method == "posterior":
        return median, {}
    from ._firth import firth_logistic

    c = logd.mean()
    s = logd.std()
    a, b = firth_logistic(curve.successes[None].astype(float), curve.n_trials[None].astype(float), (logd - c) / s)
    a, b = float(a[0]), float(b[0])
    params = {"a": a - b * c / s, "b": b / s}  # P = sigma(a + b log d)
    if b <= 1e-12:
        return crossing, params
    return c + s * (np.log(p / (1 - p)) - a) / b, params


def _larsen(table, metric, level, p, method, design, direction, confidence):
    n_nan = warn_nan(table[metric], metric, "counted as failures (a diverged run does not reach the level)",
                     stacklevel=5)
    curve = _curve(table, metric, level, direction)
    ds = curve.ds.astype(np.float64)
    need_two_dimensions(ds)
    logd = np.log(ds)
    if design == "auto":
        design = "nested" if "seed" in table else "independent"
    params = {"nan_runs": n_nan}
    if design == "nested":
        _, seeds, S, M = _matrix(table, metric, level, direction)
        lower, upper, nonmono = _seed_bounds(logd, S, M)
        params["non_monotone_seeds"] = nonmono
        if nonmono:
            warnings.warn(f"{nonmono} of {seeds.size} seeds are not monotone in d (a failure above a success); "
                          "with design='nested' each one's threshold is taken to lie anywhere between its "
                          "crossings (use design='independent' if the runs of a seed are independent)",
                          RuntimeWarning, stacklevel=4)
        lo, hi, median = larsen_interval(logd, confidence, p, bounds=(lower, upper))
        n_seeds = int(seeds.size)
        # a seed not run at some tested d: its outcome there is implied when d is outside (l_s, r_s)
        missing = M == 0
        if missing.any():
            L, U = np.asarray(lower)[:, None], np.asarray(upper)[:, None]
            win = missing & (logd[None, :] >= U)
            known = missing & ((logd[None, :] <= L) | win)
            S, M = S + win, M + known
            curve = SuccessCurve(curve.ds, S.sum(axis=0).astype(np.int64), M.sum(axis=0).astype(np.int64),
                                 metric, float(level), direction)
    else:
        lo, hi, median = larsen_interval(logd, confidence, p, counts=(curve.successes, curve.n_trials))
        n_seeds = int(np.unique(table["seed"]).size) if "seed" in table else int(len(table))
    point, extra = _point(method, logd, curve, p, median)
    params.update(extra)
    params["posterior_median"] = float(np.exp(median))
    floor = floor_of(ds[0])
    b_lo, b_hi = _crossing.hull_bracket(ds, curve.probability, p)
    b_lo = max(b_lo, floor) if b_lo > 0 else floor
    censored = "below" if point == -np.inf else ("above" if point == np.inf else None)
    if censored is None:
        lo, hi = min(lo, point), max(hi, point)
    lo = min(np.exp(lo), b_lo)
    hi = max(np.exp(hi), b_hi)
    if lo < ds[0]:
        lo = floor
    if hi > ds[-1]:
        hi = np.inf
    P = curve.probability
    resolved = censored is None and bool(np.any((P > 0) & (P < 1)))
    value = float(np.exp(point)) if censored is None else float("nan")
    return ThresholdEstimate(value, (float(lo), float(hi)), (float(b_lo), float(b_hi)), censored, resolved,
                             confidence, "larsen", method, design, p, metric, float(level), None, n_seeds,
                             int(len(table)), (float(ds[0]), float(ds[-1])), curve, params)


def threshold_dimension(table, metric, level, p=0.5, *, criterion="larsen", baseline=None,
                        method="interpolate", design="auto", direction=None, confidence=0.95,
                        seed=None, n_bootstrap=None, **where):
    r"""Threshold training dimension :math:`d^*` with an interval that covers it.

    Parameters
    ----------
    table : RunTable or pandas.DataFrame
        Runs with columns ``d``, ``metric`` and (for ``design="nested"``) ``seed``; one
        run per (seed, d) for the nested design.
    metric : str
        A column, e.g. ``"train_acc"``.
    level : float
        ``criterion="larsen"``: the success level of one run (see
        :func:`success_probability`). ``criterion="li"``: the fraction of the baseline
        the mean metric must reach (0.9 for :math:`d_{\mathrm{int}90}`).
    p : float in (0, 1)
        Larsen criterion: :math:`d^*` is where :math:`P_s(d)` crosses p.
    criterion : {"larsen", "li"}
        ``"larsen"`` (default): the success-fraction crossing, interval as in the module
        docstring. ``"li"``: Li et al.'s mean-metric crossing
        (:func:`landscape.thresholds.intrinsic.intrinsic_dimension`).
    baseline : float, optional
        Li criterion: the full model's metric under the same budget; default the mean
        ``metric`` of the table's ``kind="full"`` runs.
    method : {"interpolate", "logistic", "posterior"}
        Larsen criterion, the point estimate: the first crossing of p by the isotonic
        (non-decreasing) fit of :math:`\hat P_s` interpolated linearly in :math:`\log d`;
        a Firth-penalised logistic fit :math:`\sigma(a + b\log d)`; or the posterior
        median of :math:`d^*`. The interval does not depend on it.
    design : {"auto", "nested", "independent"}
        Larsen criterion, the likelihood of the runs (module docstring). ``"auto"``
        (default): ``"nested"`` when the table has a ``seed`` column (the runs of a seed
        share :math:`\theta_0` and nested maps, as in :func:`landscape.experiments.sweep`),
        else ``"independent"``. The nested likelihood is also safe for independent runs
        (conservative, measured), not the reverse.
    direction : {"min", "max"}, optional
    confidence : float in (0, 1)
    seed : int, Generator or None
        Unused: both intervals are deterministic (kept for the signature of 0.1).
    n_bootstrap : int, optional
        Deprecated and ignored (the bootstrap interval of 0.1 undercovered); a
        FutureWarning says so.
    **where
        Column selections (e.g. ``kind="random", t=0``).

    Returns
    -------
    ThresholdEstimate
        ``value``, ``interval`` (also ``ci``), ``bracket``, ``censored``, ``resolved``;
        ``str()`` reads e.g. "d* = 45.25, 95% interval [32, 64]" or "d* < 2, 95% interval
        [1, 2]".

    Raises
    ------
    ValueError
        An empty table or selection, runs at a single d, a level out of range, a
        baseline <= 0, unknown ``criterion`` / ``design`` / ``method``.

    Examples
    --------
    >>> from landscape.experiments.run_table import RunTable
    >>> from landscape.thresholds import threshold_dimension
    >>> runs = RunTable([{"d": d, "seed": s, "train_acc": float(d >= 2 ** (3 + s % 3))}
    ...                  for d in (2, 4, 8, 16, 32, 64) for s in range(9)])
    >>> est = threshold_dimension(runs, "train_acc", 0.5)
    >>> round(est.value, 3), est.bracket
    (11.314, (8.0, 16.0))
    >>> est.low <= 8 and est.high >= 16
    True
    """
    criterion = check_choice(criterion, "criterion", CRITERIA)
    confidence = check_probability(confidence, "confidence")
    if n_bootstrap is not None:
        warnings.warn("n_bootstrap is deprecated and ignored: the interval is no longer a bootstrap "
                      "(see threshold_dimension)", FutureWarning, stacklevel=2)
    if criterion == "li":
        from .intrinsic import intrinsic_dimension

        return intrinsic_dimension(table, metric, level, baseline=baseline, direction=direction,
                                   confidence=confidence, **where)
    if baseline is not None:
        raise ValueError("baseline is only used with criterion='li'")
    p = check_probability(p, "p")
    method = check_choice(method, "method", METHODS)
    design = check_choice(design, "design", DESIGNS)
    direction = check_direction(metric, direction)
    level = _check_success_level(level, metric)
    table = select_runs(table, metric, where)
    return _larsen(table, metric, level, p, method, design, direction, confidence)
