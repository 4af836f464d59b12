r"""Li et al.'s intrinsic dimension :math:`d_{\mathrm{int}90}`: where the mean metric reaches a
fraction of a baseline.

Li, Farkhoor, Liu and Yosinski (2018) call the intrinsic dimension the smallest d whose
mean validation accuracy over runs reaches 90% of a baseline, the full model's accuracy
under the same training budget (their values: MNIST FC 750, MNIST LeNet 290, CIFAR-10
LeNet 2,900). With mean metric :math:`m(d)`, baseline B and fraction ``level`` = r
(0.9), the target is :math:`rB` and

.. math::

    d_{\mathrm{int}} = \min\{d : m(d) \ge rB\},

estimated by the first crossing of the target by the observed means :math:`\bar m(d_j)`,
interpolated linearly in :math:`\log d` between the last tested d below the target and
the first one at or above it.

The interval assumes only that :math:`m(d)` is non-decreasing (no shape between the
tested d). At each tested :math:`d_j` a one-sided Welch t bound at level
:math:`1 - \alpha/2` (:math:`\alpha = 1 -` ``confidence``) for
:math:`m(d_j) - rB`,

.. math::

    \bar m_j - r\bar B \pm t_{\nu_j, 1-\alpha/2}
    \sqrt{s_j^2/n_j + r^2 s_B^2/n_B}

(:math:`s_B = 0` for a given baseline; :math:`\nu_j` by Welch-Satterthwaite) says either
"below the target" (upper bound < 0) or "at or above it" (lower bound >= 0). The lower
end is the largest tested d such that every tested d up to it is below the target (1, or
0 when d = 1 was tested, if none), the upper end the smallest tested d at or above it
(``inf`` if none). Since :math:`d_{\mathrm{int}}` exceeds a d with :math:`m(d) < rB` and
is at most a d with :math:`m(d) \ge rB`, each end fails with probability at most
:math:`\alpha/2` and the interval covers with probability at least ``confidence`` (for
normal run-to-run noise; measured coverage in ``benchmarks/RESULTS.md``). A tested d
with a single run gives no bound there.

NaN metrics (diverged runs) are left out of the means, with a warning giving their number.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from geometry.validation import check_probability

from . import _crossing
from ._estimate import (
    ThresholdEstimate,
    as_run_table,
    check_direction,
    check_level,
    floor_of,
    need_two_dimensions,
    select_runs,
    warn_nan,
)

__all__ = ["MeanMetricCurve", "intrinsic_dimension"]


@dataclass(frozen=True, repr=False)
class MeanMetricCurve:
    r"""Mean metric per tested d, and the target it is compared with.

    Attributes
    ----------
    ds : ndarray of int, shape (k,)
    mean, std : ndarray, shape (k,)
        Mean and standard deviation (ddof=1; NaN for a single run) over runs.
    n_runs : ndarray of int, shape (k,)
        Runs with a finite metric at each d.
    metric : str
    baseline : float
    level : float
        The fraction of the baseline.
    target : float
        ``level * baseline``.
    """

    ds: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    n_runs: np.ndarray
    metric: str
    baseline: float
    level: float
    target: float

    def __repr__(self):
        pts = ", ".join(f"{d}: {m:.4g}" for d, m in zip(self.ds, self.mean))
        return (f"MeanMetricCurve(mean {self.metric}; target {self.level:g} x {self.baseline:.4g} = "
                f"{self.target:.4g}; {pts})")


def _baseline_runs(table, metric):
    if "kind" not in table:
        raise ValueError("baseline: the table has no 'kind' column, so no full-space runs to take the baseline "
                         "from; pass baseline= (the full model's metric under the same budget)")
    full = table.select(kind="full")
    if len(full) == 0:
        raise ValueError("baseline: the table has no kind='full' runs; pass baseline= (the full model's "
                         "metric under the same budget)")
    if "D" in full and len(full.unique("D")) > 1:
        raise ValueError(f"baseline: the full runs have several D {full.unique('D')}; select one model")
    values = np.asarray(full[metric], dtype=np.float64)
    warn_nan(values, f"{metric} among the baseline runs", "left out of the baseline", stacklevel=5)
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise ValueError("baseline: every full run has a NaN metric")
    return values


def intrinsic_dimension(table, metric, level=0.9, *, baseline=None, direction=None, confidence=0.95, **where):
    r"""Li et al.'s :math:`d_{\mathrm{int}}`: the smallest d whose mean ``metric`` reaches
    ``level`` times the baseline, with an interval (module docstring).

    Parameters
    ----------
    table : RunTable or pandas.DataFrame
        Runs with columns ``d`` and ``metric``.
    metric : str
        A metric that grows with d (an accuracy): ``direction`` must be ``"max"``.
    level : float in (0, 1]
        Fraction of the baseline (0.9: :math:`d_{\mathrm{int}90}`).
    baseline : float > 0, optional
        The full model's metric under the same budget. Default: the mean ``metric`` of the
        table's ``kind="full"`` runs (whose spread then enters the interval).
    direction : {"max"}, optional
    confidence : float in (0, 1)
    **where
        Column selections of the subspace runs (e.g. ``kind="random", t=0``); without a
        ``kind`` selection the ``kind="full"`` runs are left out of them.

    Returns
    -------
    ThresholdEstimate
        With ``criterion="li"``, ``baseline``, ``curve`` a :class:`MeanMetricCurve`.

    Examples
    --------
    >>> from landscape.experiments.run_table import RunTable
    >>> runs = RunTable([{"d": d, "seed": s, "test_acc": a + 0.01 * (-1) ** s}
    ...                  for d, a in [(100, 0.5), (200, 0.8), (400, 0.9), (800, 0.93)] for s in range(2)])
    >>> est = intrinsic_dimension(runs, "test_acc", 0.9, baseline=0.95)  # target 0.855
    >>> round(est.value, 1)  # 200 * 2 ** ((0.855 - 0.8) / (0.9 - 0.8))
    292.8
    """
    direction = check_direction(metric, direction)
    if direction != "max":
        raise ValueError(f"criterion 'li' compares a mean metric that grows with d (an accuracy) with a fraction "
                         f"of the baseline; direction must be 'max', got {direction!r} for {metric!r}")
    level = check_level(level)
    if not 0.0 < level <= 1.0:
        raise ValueError(f"level must be a fraction of the baseline in (0, 1], got {level}")
    confidence = check_probability(confidence, "confidence")
    table = as_run_table(table)
    if len(table) == 0:
        raise ValueError("table is empty: no runs to analyse")
    if metric not in table:
        raise ValueError(f"table has no column {metric!r}; columns: {list(table.columns)}")
    if baseline is None:
        base_values = _baseline_runs(table, metric)
        B = float(base_values.mean())
        var_B = float(base_values.var(ddof=1)) if base_values.size > 1 else 0.0
        n_B = int(base_values.size)
        if not B > 0:
            raise ValueError(f"baseline must be > 0; the full runs' mean {metric} is {B}")
    else:
        B = check_level(baseline, "baseline")
        if not B > 0:
            raise ValueError(f"baseline must be > 0, got {baseline!r}")
        var_B, n_B = 0.0, 0
    if "kind" in table and "kind" not in where:
        table = table.where(table["kind"] != "full")
    table = select_runs(table, metric, where)
    values = np.asarray(table[metric], dtype=np.float64)
    n_nan = warn_nan(values, metric, "left out of the mean metric")
    finite = np.isfinite(values)
    d_all = table["d"][finite]
    values = values[finite]
    ds = np.unique(table["d"]).astype(np.int64)
    need_two_dimensions(ds)
    k = ds.size
    n = np.array([np.sum(d_all == d) for d in ds])
    if np.any(n == 0):
        empty = ds[n == 0].tolist()
        raise ValueError(f"table: every run at d = {empty} has a NaN {metric}; no mean there")
    mean = np.array([values[d_all == d].mean() for d in ds])
    std = np.array([values[d_all == d].std(ddof=1) if m > 1 else np.nan for d, m in zip(ds, n)])
    target = level * B
    curve = MeanMetricCurve(ds, mean, std, n, metric, B, level, target)

    # one-sided bounds of m(d_j) - target at 1 - alpha/2
    alpha = 1.0 - confidence
    a = np.where(n > 1, np.nan_to_num(std) ** 2 / n, np.nan)
    c = level ** 2 * var_B / n_B if n_B > 1 else 0.0
    se = np.sqrt(a + c)
    with np.errstate(divide="ignore", invalid="ignore"):
        nu = (a + c) ** 2 / (a ** 2 / np.maximum(n - 1, 1) + (c ** 2 / (n_B - 1) if n_B > 1 else 0.0))
    nu = np.where(np.isfinite(nu) & (nu > 0), nu, np.maximum(n - 1, 1))
    q = stats.t.ppf(1 - alpha / 2, nu)
    diff = mean - target
    with np.errstate(invalid="ignore"):
        below = np.where(n > 1, diff + q * se < 0, False)
        above = np.where(n > 1, diff - q * se >= 0, False)
    floor = floor_of(ds[0])
    lead = np.argmin(below) if not below.all() else k
    lo = float(ds[lead - 1]) if lead > 0 else floor
    hi = float(ds[np.argmax(above)]) if above.any() else np.inf
    logd = np.log(ds.astype(np.float64))
    point = _crossing.first_crossing(logd, mean, target)
    censored = "below" if point == -np.inf else ("above" if point == np.inf else None)
    value = float(np.exp(point)) if censored is None else float("nan")
    b_lo, b_hi = _crossing.hull_bracket(ds.astype(np.float64), mean, target)
    b_lo = max(b_lo, floor) if b_lo > 0 else floor
    lo, hi = min(lo, b_lo), max(hi, b_hi)
    if censored is None:
        lo, hi = min(lo, value), max(hi, value)
    seeds = int(np.unique(table["seed"]).size) if "seed" in table else int(n.max())
    params = {"nan_runs": n_nan, "baseline_runs": n_B, "target": target}
    return ThresholdEstimate(value, (float(lo), float(hi)), (float(b_lo), float(b_hi)), censored, censored is None,
                             confidence, "li", "interpolate", None, None, metric, level, B, seeds, int(len(table)),
                             (float(ds[0]), float(ds[-1])), curve, params)
