r"""Adaptive search for the threshold training dimension: choose the next d to test.

A grid of d (powers of two, every seed at every d) spends most of its runs far from the
transition, and its interval cannot get narrower than a grid step. :func:`adaptive_threshold`
runs one training at a time, always where it tells most about :math:`d^*`, and stops when
the interval of :func:`landscape.thresholds.measured.threshold_dimension` is narrow enough:

* ``design="nested"`` (runs of one seed share :math:`\theta_0` and nested subspaces, so seed
  s succeeds exactly at :math:`d \ge D_s`): only a run inside a seed's current interval
  :math:`(l_s, r_s]` for its own threshold :math:`D_s` says anything new (any other outcome
  is implied), so each step splits the widest of these intervals (in :math:`\log d`,
  clipped to ``d_range``) at :math:`\sqrt{m\,\tilde d}`, between its geometric middle m
  and the posterior median :math:`\tilde d` of :math:`d^*` (moved inside it): a bisection
  of every :math:`D_s` pulled towards the crossing. It reaches the interval width of the
  powers-of-two grid with, in median, 15-22% of its runs on synthetic nested transitions
  (slopes 2 to 16, 5 to 20 seeds, grid 2..1024), 36% on the exact quadratic-well oracle
  (with half the grid's width; coverage 1.00 over 40 replications) and 15% on the digits
  MLP (``benchmarks/adaptive_threshold.py``, ``benchmarks/RESULTS.md``).
* ``design="independent"`` (each run its own draw): a batch of ``batch`` runs (new seeds)
  at the posterior median of :math:`d^*`, or, when that was tested already, at the
  geometric midpoint of the widest gap between tested d inside the interval.

The search starts at the geometric middle of ``d_range``; the prior of the crossing is the
range widened by one spacing of the tested d, as in :func:`threshold_dimension`, and the
range's ends are hard limits. The stopping rule is the relative width of the interval,

.. math:: \frac{d_{\mathrm{high}} - d_{\mathrm{low}}}{\sqrt{d_{\mathrm{high}}\, d_{\mathrm{low}}}}
          \le \texttt{rel\_width}

(0.71 for a factor of 2, 1.5 for a factor of 4), or ``max_runs``.

Runs go through a :class:`~landscape.experiments.result_store.ResultStore` when ``store``
is given: each completed run is appended at once, and a search started again with the same
arguments (after a crash or a kill) replays its decisions from the stored outcomes, runs
only what is missing and reaches the same answer. The decisions depend only on the
outcomes, and the run seeds only on ``seed``, so a search is reproducible from its seed.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from geometry.validation import check_choice, check_int, check_memory, check_positive, check_probability, check_rng

from ..experiments.result_store import ResultStore
from ..experiments.run_table import RunTable
from ._estimate import check_direction, check_level
from .measured import DESIGNS, threshold_dimension

__all__ = ["AdaptiveSearch", "adaptive_threshold", "relative_width", "TrainingRun"]

_KEY = {"kind": "random", "t": 0, "basis": "orthonormal"}


def relative_width(low, high):
    r"""Relative width :math:`(h - l)/\sqrt{hl}` of an interval (``inf`` when unbounded or l = 0)."""
    if not (np.isfinite(high) and low > 0):
        return float("inf")
    return float((high - low) / math.sqrt(high * low))


@dataclass(frozen=True, repr=False)
class AdaptiveSearch:
    r"""The outcome of :func:`adaptive_threshold`.

    Attributes
    ----------
    estimate : ThresholdEstimate
        :func:`threshold_dimension` of the runs the search made.
    table : RunTable
        Those runs (columns ``kind, t, basis, d, seed`` and the metric).
    n_runs : int
        Runs the search used (``len(table)``).
    n_executed : int
        Runs executed by this call (the others came from the store).
    converged : bool
        The interval reached ``rel_width`` (False: stopped at ``max_runs`` or because no run
        could narrow it further).
    rel_width : float
        The relative width reached.
    history : list of dict
        One entry per decision: ``d``, ``seeds``, ``low``, ``high``, ``n_runs`` (before it).
    """

    estimate: object
    table: RunTable
    n_runs: int
    n_executed: int
    converged: bool
    rel_width: float
    history: list = field(default_factory=list)

    def __repr__(self):
        return (f"AdaptiveSearch({self.estimate}; {self.n_runs} runs ({self.n_executed} executed now), "
                f"relative width {self.rel_width:.3g}, converged={self.converged})")


class TrainingRun:
    r"""``run(d, seed)`` for :func:`adaptive_threshold`: one subspace training of a sweep protocol.

    Calls :func:`landscape.experiments.training.train_in_subspace` and returns the run's
    record (the metrics and the protocol columns), as :func:`landscape.experiments.sweep`
    stores it. ``protocol`` is the sweep protocol (what a store must match).

    Parameters
    ----------
    model, data
        As for :func:`landscape.experiments.sweep`.
    kind, burn_in, basis
        The subspaces (``kind="random"``: random maps of kind ``basis``; the maps of one seed
        are nested in d).
    **training
        ``optimizer, lr, steps, batch_size, eval_every, full_lr``.
    """

    def __init__(self, model, data, *, kind="random", burn_in=0, basis="orthonormal", **training):
        from ..experiments.sweeps import sweep_protocol

        from ..experiments.training import SUBSPACE_TRAINING_KINDS

        self.model, self.data = model, data
        kind = check_choice(kind, "kind", SUBSPACE_TRAINING_KINDS)
        self.kind, self.burn_in, self.basis = kind, check_int(burn_in, "burn_in", minimum=0), basis
        self.training = dict(training)
        keys = ("optimizer", "lr", "steps", "batch_size", "eval_every", "full_lr")
        unknown = set(training) - set(keys)
        if unknown:
            raise TypeError(f"unknown training arguments {sorted(unknown)}; expected some of {keys}")
        self.protocol = sweep_protocol(model, data, **training)
        self.key = {"kind": kind, "t": self.burn_in, "basis": basis if kind == "random" else "none"}

    def __call__(self, d, seed):
        from ..experiments.training import train_in_subspace

        res = train_in_subspace(self.model, self.data, int(d), kind=self.kind, burn_in=self.burn_in,
                                basis=self.basis, seed=int(seed), **self.training)
        return res.record()

    def __repr__(self):
        return f"TrainingRun({self.key}, D={self.protocol['D']})"


def _run_seeds(seeds, seed):
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        n = check_int(seeds, "seeds", minimum=2)
        check_memory(64 * n, "seeds")
        state = np.random.SeedSequence(seed).generate_state(n, dtype=np.uint32)
        out = [int(s) % (2 ** 31) for s in state]
        if len(set(out)) < n:  # pragma: no cover - a 2^-31 coincidence
            out = list(dict.fromkeys(out))
        return out
    if isinstance(seeds, (str, bytes, dict)) or not hasattr(seeds, "__iter__"):
        raise TypeError(f"seeds must be an int >= 2 or a sequence of ints, got {type(seeds).__name__}")
    out = [check_int(s, "seeds entries", minimum=0) for s in seeds]
    if len(out) < 2 or len(set(out)) != len(out):
        raise ValueError(f"seeds must be an int >= 2 or at least two distinct non-negative ints, got {seeds!r}")
    return out


def adaptive_threshold(run, level, *, d_range, seeds=10, metric=None, direction=None, p=0.5,
                       rel_width=1.0, confidence=0.95, design="nested", batch=None, max_runs=200,
                       store=None, protocol=None, key=None, seed=None):
    r"""Threshold training dimension by an adaptive sequence of runs (module docstring).

    Parameters
    ----------
    run : callable
        ``run(d, seed)`` trains at dimension d (an int) with seed ``seed`` and returns the
        metric (a number), or a record (a dict holding ``metric``; e.g. :class:`TrainingRun`).
    level : float
        Success level of the metric (as in :func:`threshold_dimension`).
    d_range : (int, int)
        Smallest and largest d the search may test (``1 <= low < high``).
    seeds : int or sequence of int
        The pool of seeds (``n``: n seeds drawn from ``seed``). With ``design="nested"``
        every seed contributes its own threshold.
    metric : str, optional
        Name of the metric (default ``"metric"``; the key of the record when ``run``
        returns dicts). A name containing "loss" or "acc" sets ``direction``.
    direction : {"min", "max"}, optional
    p : float in (0, 1)
    rel_width : float > 0
        Stop when :math:`(d_{\mathrm{high}} - d_{\mathrm{low}})/\sqrt{d_{\mathrm{high}} d_{\mathrm{low}}}`
        of the interval is at most this.
    confidence : float in (0, 1)
    design : {"nested", "independent"}
    batch : int, optional
        Independent design: runs per step (default: the number of seeds).
    max_runs : int
        Stop after this many runs.
    store : str, os.PathLike or ResultStore, optional
        Results directory: every run is appended when it completes, and a search started
        again resumes without repeating a run (needs ``seed``).
    protocol : dict, optional
        What ``run`` computes (default: ``run.protocol`` if it has one, else its name);
        recorded in, and checked against, the store.
    key : dict, optional
        ``kind``, ``t``, ``basis`` of the runs' records (default: ``run.key`` if it has one,
        else random subspaces through :math:`\theta_0`).
    seed : int, optional
        Seed of the seed pool (and nothing else: the decisions are deterministic).

    Returns
    -------
    AdaptiveSearch

    Examples
    --------
    >>> import numpy as np
    >>> thresholds = 40 * np.exp(np.random.default_rng(1000).logistic(size=10) / 8)  # seed s: D_s
    >>> run = lambda d, s: float(d >= thresholds[s])                                # nested runs
    >>> res = adaptive_threshold(run, 0.5, d_range=(2, 1024), seeds=list(range(10)), metric="acc",
    ...                          rel_width=0.5)
    >>> res.converged, res.n_runs < 100, res.estimate.low <= 40 <= res.estimate.high
    (True, True, True)
    """
    if not callable(run):
        raise TypeError(f"run must be callable as run(d, seed), got {type(run).__name__}")
    metric = "metric" if metric is None else metric
    if not isinstance(metric, str):
        raise TypeError(f"metric must be a str, got {type(metric).__name__}")
    direction = check_direction(metric, direction) if direction is not None or any(
        w in metric.lower() for w in ("loss", "acc")) else None
    if direction is None:
        raise ValueError(f"cannot tell whether {metric!r} should be small or large: pass direction='min' "
                         "(success when metric <= level) or 'max'")
    level = check_level(level)
    try:
        lo_d, hi_d = (check_int(v, "d_range entries", minimum=1) for v in d_range)
    except (TypeError, ValueError) as exc:
        if "d_range" in str(exc):
            raise
        raise TypeError(f"d_range must be a pair of ints (low, high), got {d_range!r:.80}") from None
    if not hi_d > lo_d + 1:
        raise ValueError(f"d_range must have low + 1 < high, got {d_range!r}")
    p = check_probability(p, "p")
    rel_width = check_positive(rel_width, "rel_width")
    confidence = check_probability(confidence, "confidence")
    design = check_choice(design, "design", DESIGNS[1:])
    max_runs = check_int(max_runs, "max_runs", minimum=2)
    if seed is not None and not isinstance(seed, np.random.SeedSequence):
        check_rng(seed)
    if key is not None and not isinstance(key, dict):
        raise TypeError(f"key must be a dict of run columns (kind, t, basis), got {type(key).__name__}")
    pool = _run_seeds(seeds, seed)
    batch = len(pool) if batch is None else check_int(batch, "batch", minimum=1)
    key = dict(getattr(run, "key", _KEY) if key is None else key)
    if set(key) != set(_KEY):
        raise ValueError(f"key must have the entries {sorted(_KEY)}, got {sorted(key)}")
    if protocol is None:
        protocol = getattr(run, "protocol", None) or {"run": getattr(run, "__qualname__", type(run).__name__)}
    if store is not None:
        if seed is None and isinstance(seeds, numbers.Integral):
            raise ValueError("seed: a search with a store must be reproducible to resume; pass seed= (an int)")
        store = ResultStore(store.path if isinstance(store, ResultStore) else store,
                            protocol={**protocol, "search": "adaptive_threshold", "metric": metric})

    search = _Search(run, metric, level, direction, p, lo_d, hi_d, pool, design, batch, confidence, key, store)
    if store is not None:
        store.lock()
    try:
        return search.go(rel_width, max_runs)
    finally:
        if store is not None:
            store.unlock()


class _Search:
    def __init__(self, run, metric, level, direction, p, lo_d, hi_d, pool, design, batch, confidence, key, store):
        self.run, self.metric, self.level, self.direction, self.p = run, metric, level, direction, p
        self.lo_d, self.hi_d, self.pool, self.design, self.batch = lo_d, hi_d, pool, design, batch
        self.confidence, self.key, self.store = confidence, key, store
        self.stored = {}
        if store is not None:
            for rec in store.records():
                if all(rec.get(k) == v for k, v in key.items()) and metric in rec:
                    self.stored[(int(rec["d"]), int(rec["seed"]))] = rec
        self.records = {}     # (d, seed) -> record, the runs of this search in order
        self.executed = 0
        self.history = []

    # ------------------------------------------------------------------ runs
    def _value(self, rec):
        v = rec.get(self.metric) if isinstance(rec, dict) else rec
        if isinstance(v, bool) or not isinstance(v, (numbers.Real, type(None))):
            raise TypeError(f"run(d, seed) must return a number or a dict with {self.metric!r}, got {v!r}")
        return float("nan") if v is None else float(v)

    def _do(self, d, s):
        if (d, s) in self.records:
            return
        rec = self.stored.get((d, s))
        if rec is None:
            out = self.run(d, s)
            if isinstance(out, dict):
                if self.metric not in out:
                    raise ValueError(f"run(d, seed) returned a record without {self.metric!r}: keys {sorted(out)}")
                rec = {**out, **self.key, "d": d, "seed": s}
            else:
                rec = {**self.key, "d": d, "seed": s, self.metric: self._value(out)}
            if self.store is not None:
                self.store.append(rec)
            self.executed += 1
        self.records[(d, s)] = rec

    def _success(self, rec):
        v = self._value(rec)
        if not np.isfinite(v):
            return False
        return v <= self.level if self.direction == "min" else v >= self.level

    def table(self):
        cols = ["kind", "t", "basis", "d", "seed", self.metric]
        return RunTable([{c: r.get(c) for c in cols} for r in self.records.values()])

    def estimate(self):
        import warnings

        ds = {d for d, _ in self.records}
        if len(ds) < 2:
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # NaN runs and non-monotone seeds: in params
            return threshold_dimension(self.table(), self.metric, self.level, self.p, design=self.design,
                                       direction=self.direction, confidence=self.confidence)

    # ------------------------------------------------------------------ decisions
    def _clip(self, d):
        return int(min(max(int(round(d)), self.lo_d), self.hi_d))

    def _seed_interval(self, s):
        """(lower, upper) tested d around seed s's own threshold (lo_d - 1 / hi_d + 1 when open)."""
        lower, upper = self.lo_d - 1, self.hi_d + 1
        for (d, t), rec in self.records.items():
            if t != s:
                continue
            if self._success(rec):
                upper = min(upper, d)
            else:
                lower = max(lower, d)
        return lower, upper

    @staticmethod
    def _inside(a, b, x):
        """An integer strictly between a and b, as close to x (in log d) as possible; None if none."""
        if b - a < 2:
            return None
        return int(min(max(round(x), a + 1), b - 1))

    def _geo_mid(self, a, b):
        a, b = max(a, self.lo_d - 1), min(b, self.hi_d + 1)
        lo, hi = max(a, 0.5), b
        return math.sqrt(lo * hi)

    def _next_nested(self, target):
        """(d, [seed]) of the next run, or None when no run can say anything new."""
        intervals = {s: self._seed_interval(s) for s in self.pool}
        open_ = {s: iv for s, iv in intervals.items() if iv[1] - iv[0] >= 2}
        if not open_:
            return None
        lo_log, hi_log = math.log(self.lo_d - 0.5), math.log(self.hi_d + 0.5)

        def width(iv):
            return min(math.log(iv[1]), hi_log) - max(math.log(max(iv[0], 0.5)), lo_log)

        pick = max(open_, key=lambda s: (round(width(open_[s]), 9), -self.pool.index(s)))
        a, b = open_[pick]
        mid = self._geo_mid(a, b)
        # split the widest interval between its geometric middle and the posterior median
        x = math.sqrt(mid * min(max(target, a + 1), b - 1))
        d = self._clip(self._inside(a, b, x))
        if (d, pick) in self.records:  # the range's ends: every other d is taken
            return None
        return d, [pick]

    def _next_independent(self, target, est):
        tested = sorted({d for d, _ in self.records})
        d = self._clip(target)
        if d in tested:
            low = est.low if est is not None else self.lo_d
            high = est.high if est is not None else self.hi_d
            pts = [self.lo_d] + [t for t in tested if low <= t <= high] + [self.hi_d]
            pts = sorted(set(pts))
            gaps = [(math.log(b) - math.log(a), a, b) for a, b in zip(pts, pts[1:]) if b - a >= 2]
            if gaps:
                _, a, b = max(gaps)
                d = self._clip(math.sqrt(a * b))
        used = {s for (t, s) in self.records if t == d}
        seeds = [s for s in self.pool if s not in used][: self.batch]
        if not seeds:
            return None
        return d, seeds

    def go(self, rel_width, max_runs):
        est = None
        converged = False
        width = float("inf")
        while True:
            est = self.estimate()
            if est is not None:
                width = relative_width(est.low, est.high)
                if width <= rel_width:
                    converged = True
                    break
            if len(self.records) >= max_runs:
                break
            if est is None:
                target = math.sqrt(self.lo_d * self.hi_d)
                if self.records:  # one tested d: go to the middle of the side where the crossing is
                    (d0,) = {d for d, _ in self.records}
                    frac = np.mean([self._success(r) for r in self.records.values()])
                    target = math.sqrt(d0 * (self.lo_d if frac >= self.p else self.hi_d))
            else:
                med = est.params.get("posterior_median", math.sqrt(est.low * est.high) if np.isfinite(est.high)
                                     else self.hi_d)
                target = float(min(max(med, self.lo_d), self.hi_d))
            nxt = self._next_nested(target) if self.design == "nested" else self._next_independent(target, est)
            if nxt is None:
                break
            d, seeds = nxt
            self.history.append({"d": d, "seeds": list(seeds), "n_runs": len(self.records),
                                 "low": None if est is None else est.low, "high": None if est is None else est.high})
            for s in seeds[: max_runs - len(self.records)]:
                self._do(d, s)
        if est is None:
            est = self.estimate()
        return AdaptiveSearch(est, self.table(), len(self.records), self.executed, converged, width, self.history)
