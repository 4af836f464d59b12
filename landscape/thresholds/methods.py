r"""Thresholds of every way of cutting the degrees of freedom, in one unit: trainable parameters.

A table of a sweep holds runs of several *methods*: random subspaces (``kind="random"``,
``t=0``), burn-in subspaces (``kind="random"``, ``t>0``), lottery subspaces
(``kind="lottery"``) and lottery tickets (``kind="ticket"``, t the rewind step). Their
column ``d`` counts the same thing for all of them, the number of trainable degrees of
freedom: the subspace dimension d, or the number of free parameters
:math:`\mathrm{nnz}(m)` of a ticket's mask. So the threshold of each method at a level
:math:`\epsilon` is :func:`landscape.thresholds.measured.threshold_dimension` of its runs,
with the same interval (binomial noise and grid resolution) and bracket, and the thresholds of
the four methods compare at equal :math:`\epsilon` directly.
"""
from __future__ import annotations

from geometry.validation import check_int

from ..experiments.run_table import RunTable
from .measured import threshold_dimension

__all__ = ["METHOD_ORDER", "method_label", "method_groups", "method_thresholds"]

#: kinds in the order they are listed and drawn
METHOD_ORDER = ("random", "lottery", "ticket")


def method_label(kind, t=0, basis="orthonormal"):
    """A readable name: "random subspace", "burn-in subspace, t=16", "lottery subspace",
    "lottery ticket", "lottery ticket, rewind t=5" (a non-default random basis is appended)."""
    if not isinstance(kind, str):
        raise TypeError(f"kind must be a str (a run kind), got {type(kind).__name__}")
    if basis is not None and not isinstance(basis, str):
        raise TypeError(f"basis must be a str or None, got {type(basis).__name__}")
    t = check_int(t, "t", minimum=0)
    if kind == "random":
        name = "random subspace" if t == 0 else f"burn-in subspace, t={t}"
        if basis not in ("orthonormal", "none", "", None):
            name += f" ({basis})"
        return name
    if kind == "lottery":
        return "lottery subspace" if t == 0 else f"lottery subspace, t={t}"
    if kind == "ticket":
        return "lottery ticket" if t == 0 else f"lottery ticket, rewind t={t}"
    if kind == "full":
        return "full space"
    return f"{kind}, t={t}"


def method_groups(table):
    """The methods in a table: a list of ``(label, where)`` with ``where`` the column
    selection of its runs (kind, t, basis), the full-space baseline left out.

    Order: random subspaces, then burn-in by t, lottery subspaces, tickets (other kinds last).
    """
    if not isinstance(table, RunTable):
        raise TypeError(f"table must be a RunTable, got {type(table).__name__}")
    for col in ("kind", "d"):
        if col not in table:
            raise ValueError(f"table has no column {col!r}; columns: {list(table.columns)}")
    groups = set()
    for rec in table.to_records():
        if rec["kind"] == "full":
            continue
        groups.add((rec["kind"], int(rec.get("t", 0) or 0), rec.get("basis", "") or ""))

    def order(g):
        kind, t, basis = g
        rank = METHOD_ORDER.index(kind) if kind in METHOD_ORDER else len(METHOD_ORDER)
        return (rank, kind, t, basis)

    out = []
    for kind, t, basis in sorted(groups, key=order):
        where = {"kind": kind}
        if "t" in table:
            where["t"] = t
        if "basis" in table:
            where["basis"] = basis
        out.append((method_label(kind, t, basis), where))
    return out


def method_thresholds(table, metric, level, p=0.5, *, method="interpolate", direction=None, n_bootstrap=None,
                      confidence=0.95, seed=0, design="auto"):
    r"""The threshold :math:`d^*` of every method in a table, at one level.

    Parameters
    ----------
    table : RunTable
        Runs of one sweep protocol (several kinds and t allowed).
    metric, level, p, method, direction, n_bootstrap, confidence, seed, design
        As for :func:`landscape.thresholds.measured.threshold_dimension` (``n_bootstrap`` is
        deprecated and ignored, ``seed`` unused: the intervals are deterministic).

    Returns
    -------
    dict
        ``label -> ThresholdEstimate``, in the order of :func:`method_groups`.

    Examples
    --------
    >>> from landscape.experiments.run_table import RunTable
    >>> runs = RunTable([{"kind": k, "t": 0, "basis": "none", "d": d, "seed": s,
    ...                   "train_acc": float(d >= (64 if k == "random" else 8))}
    ...                  for k in ("random", "ticket") for d in (4, 16, 64, 256) for s in range(3)])
    >>> {k: v.bracket for k, v in method_thresholds(runs, "train_acc", 0.5).items()}
    {'random subspace': (16.0, 64.0), 'lottery ticket': (4.0, 16.0)}
    """
    return {label: threshold_dimension(table, metric, level, p, method=method, direction=direction,
                                       n_bootstrap=n_bootstrap, confidence=confidence, design=design, **where)
            for label, where in method_groups(table)}
