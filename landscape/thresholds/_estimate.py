r"""The result object of a measured threshold and the checks shared by the threshold estimators."""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from geometry.validation import check_choice

from ..experiments.run_table import as_run_table

_GROUP_COLUMNS = ("kind", "t", "basis", "D")


# ---------------------------------------------------------------------- input
def check_direction(metric, direction):
    if not isinstance(metric, str):
        raise TypeError(f"metric must be a column name (str), got {type(metric).__name__}")
    if direction is None:
        name = metric.lower()
        if "loss" in name:
            return "min"
        if "acc" in name:
            return "max"
        raise ValueError(f"cannot tell whether {metric!r} should be small or large: pass "
                         "direction='min' (success when metric <= level) or 'max' (>= level)")
    return check_choice(direction, "direction", ("min", "max"))


def check_level(level, name="level"):
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating, np.integer)) \
            or not np.isfinite(level):
        raise ValueError(f"{name} must be a finite number, got {level!r}")
    return float(level)


def select_runs(table, metric, where):
    """The runs of one experiment: ``where`` applied, columns and values checked."""
    table = as_run_table(table)
    if not isinstance(metric, str):
        raise TypeError(f"metric must be a column name (str), got {type(metric).__name__}")
    if len(table) == 0:
        raise ValueError("table is empty: no runs to analyse")
    if where:
        for col in where:
            if col not in table:
                raise ValueError(f"cannot select on {col!r}: the table has no such column; "
                                 f"columns: {list(table.columns)}")
        table = table.select(**where)
    for col in ("d", metric):
        if col not in table:
            raise ValueError(f"table has no column {col!r}; columns: {list(table.columns)}")
    if table[metric].dtype != np.float64 and table[metric].dtype.kind not in "iu":
        raise ValueError(f"metric column {metric!r} must be numeric, got {table[metric].dtype}")
    if len(table) == 0:
        raise ValueError("table has no runs to analyse" + (f" after selecting {where}" if where else ""))
    mixed = {c: table.unique(c) for c in _GROUP_COLUMNS if c in table and len(table.unique(c)) > 1}
    if mixed:
        hint = ", ".join(f"{c}={v[0]!r}" for c, v in mixed.items())
        raise ValueError(f"the table mixes several experiments {mixed}; select one, e.g. ({hint})")
    if np.any(table["d"] < 1):
        raise ValueError("table: d must be >= 1 in every run")
    return table


def need_two_dimensions(ds):
    if len(ds) < 2:
        raise ValueError(f"table: runs at a single d ({int(ds[0])}) cannot locate a threshold; "
                         "test at least two training dimensions")


def warn_nan(values, metric, treatment, stacklevel=4):
    n = int(np.sum(np.isnan(np.asarray(values, dtype=np.float64))))
    if n:
        warnings.warn(f"{n} run(s) have a NaN {metric} (diverged or missing); {treatment}",
                      RuntimeWarning, stacklevel=stacklevel)
    return n


def floor_of(d_min):
    """The lower hard limit of d*: 1 (or 0 when d = 1 was tested)."""
    return 0.0 if d_min <= 1 else 1.0


# ---------------------------------------------------------------------- the result
def _fmt(x, digits=4):
    if x == math.inf:
        return "inf"
    return f"{x:.{digits}g}"


@dataclass(frozen=True, repr=False)
class ThresholdEstimate:
    r"""A measured threshold training dimension :math:`d^*` with its interval.

    Attributes
    ----------
    value : float
        The point estimate of :math:`d^*`; NaN when the threshold lies outside the tested
        range (``censored``), never a made-up number.
    interval : (float, float)
        Interval at ``confidence`` (see :func:`threshold_dimension`). It contains the
        point, the ``bracket`` and, for a threshold outside the tested range, the hard
        limit: ``(floor, d_min)`` below (floor = 1, or 0 when d = 1 was tested) and
        ``(d_max, inf)`` above. ``ci`` is the same pair (the name of 0.1).
    bracket : (float, float)
        The tested dimensions around every crossing of the observed curve (floor or
        ``inf`` at the ends): where the data alone put the threshold.
    censored : {None, "below", "above"}
        ``"below"``: :math:`d^*` is below the smallest tested d; ``"above"``: above the
        largest.
    resolved : bool
        False when censored, or when no tested d lies inside the transition (every
        success fraction is 0 or 1): then the threshold is known only up to a bracket, and
        plots draw it as one.
    confidence : float
    criterion : {"larsen", "li"}
    method : str
        How ``value`` was computed.
    design : {"nested", "independent"} or None
        The likelihood of the runs (Larsen criterion).
    p : float
        The success probability that defines :math:`d^*` (Larsen criterion).
    metric : str
    level : float
        The success level (Larsen) or the fraction of the baseline (Li).
    baseline : float or None
        The baseline metric (Li criterion).
    n_seeds, n_runs : int
    tested : (float, float)
        The smallest and largest tested d.
    curve : SuccessCurve or MeanMetricCurve
    params : dict
        Extra numbers: for the Larsen criterion ``posterior_median`` (d), the number of
        non-monotone seeds, NaN runs; for ``method="logistic"`` the fit ``a``, ``b``.
    """

    value: float
    interval: tuple
    bracket: tuple
    censored: str | None
    resolved: bool
    confidence: float
    criterion: str
    method: str
    design: str | None
    p: float | None
    metric: str
    level: float
    baseline: float | None
    n_seeds: int
    n_runs: int
    tested: tuple
    curve: object = field(repr=False)
    params: dict = field(default_factory=dict)

    # -------------------------------------------------------------- access
    @property
    def ci(self):
        """The interval (alias of ``interval``)."""
        return self.interval

    @property
    def low(self):
        return self.interval[0]

    @property
    def high(self):
        return self.interval[1]

    def __float__(self):
        return float(self.value)

    # -------------------------------------------------------------- text
    def summary(self, digits=4):
        """A short text: ``"45.25 [32, 64]"``, ``"< 2 [1, 2]"``, ``"> 1024 [1024, inf]"`` or, for
        an unresolved crossing, ``"between 128 and 512 [110.3, 620.1]"``."""
        iv = f"[{_fmt(self.interval[0], digits)}, {_fmt(self.interval[1], digits)}]"
        if self.censored == "below":
            return f"< {_fmt(self.tested[0], digits)} {iv}"
        if self.censored == "above":
            return f"> {_fmt(self.tested[1], digits)} {iv}"
        if not self.resolved:
            return f"between {_fmt(self.bracket[0], digits)} and {_fmt(self.bracket[1], digits)} {iv}"
        return f"{_fmt(self.value, digits)} {iv}"

    def __str__(self):
        conf = f"{100 * self.confidence:g}%"
        iv = f"{conf} interval [{_fmt(self.interval[0])}, {_fmt(self.interval[1])}]"
        if self.censored == "below":
            head = f"d* < {_fmt(self.tested[0])} (below the tested range)"
        elif self.censored == "above":
            head = f"d* > {_fmt(self.tested[1])} (above the tested range)"
        elif not self.resolved:
            head = (f"d* between {_fmt(self.bracket[0])} and {_fmt(self.bracket[1])} "
                    f"(no tested d inside the transition)")
        else:
            head = f"d* = {_fmt(self.value)}"
        return f"{head}, {iv}"

    def __repr__(self):
        crit = (f"p={self.p}, design={self.design!r}" if self.criterion == "larsen"
                else f"baseline={self.baseline:.4g}")
        cens = f", censored={self.censored!r}" if self.censored else ""
        return (f"ThresholdEstimate({self}; bracket=({_fmt(self.bracket[0])}, {_fmt(self.bracket[1])}), "
                f"criterion={self.criterion!r}, method={self.method!r}, {crit}, {self.metric} level={self.level:g}, "
                f"n_seeds={self.n_seeds}, n_runs={self.n_runs}{cens})")

    def as_dict(self):
        """Plain numbers and strings (JSON-friendly except for ``inf``), one key per field:
        ``value, low, high, bracket_low, bracket_high, censored, resolved, confidence,
        criterion, method, design, p, metric, level, baseline, n_seeds, n_runs, d_min, d_max,
        summary``."""
        return {
            "value": float(self.value), "low": float(self.interval[0]), "high": float(self.interval[1]),
            "bracket_low": float(self.bracket[0]), "bracket_high": float(self.bracket[1]),
            "censored": self.censored, "resolved": bool(self.resolved), "confidence": self.confidence,
            "criterion": self.criterion, "method": self.method, "design": self.design, "p": self.p,
            "metric": self.metric, "level": self.level, "baseline": self.baseline,
            "n_seeds": self.n_seeds, "n_runs": self.n_runs, "d_min": float(self.tested[0]),
            "d_max": float(self.tested[1]), "summary": self.summary(),
        }
