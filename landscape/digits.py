r"""The digits experiment at full size: one sweep of random, burn-in and lottery subspaces
on the digits MLP, and the thresholds measured from it.

Comes in: the MLP and the digits data (:mod:`landscape.models`), a sweep
(:mod:`landscape.experiments`). Goes out: a :class:`DigitsExperiment` with the run table
and the measured thresholds (:mod:`landscape.thresholds`).
"""
from __future__ import annotations

import math
import time

import numpy as np

from .experiments.run_table import RunTable
from .experiments.sweeps import sweep
from .models.datasets import load_digits
from .models.mlp import MLP
from .thresholds.measured import threshold_dimension

__all__ = ["digits_experiment", "DigitsExperiment"]


# ---------------------------------------------------------------------- the digits experiment
class DigitsExperiment:
    r"""Result of :func:`digits_experiment`: the runs, the thresholds and the timing.

    Attributes
    ----------
    table : RunTable
    D : int
    thresholds : dict
        ``label -> ThresholdEstimate`` for ``"random"``, ``"burn-in t=..."`` and ``"lottery"``.
    full_train_acc : float
        Mean final training accuracy of the full-space baseline.
    wall_time : float
        Seconds.
    metric, level : str, float
    """

    def __init__(self, table, D, thresholds, full_train_acc, wall_time, metric, level):
        self.table, self.D, self.thresholds = table, D, thresholds
        self.full_train_acc, self.wall_time = full_train_acc, wall_time
        self.metric, self.level = metric, level

    def summary(self):
        """A few lines for a README."""
        lines = [f"digits, MLP D = {self.D}: {len(self.table)} runs in {self.wall_time:.0f} s; "
                 f"full-space {self.metric} = {self.full_train_acc:.3f}; success: {self.metric} >= {self.level}"]
        for label, est in self.thresholds.items():
            lines.append(f"  d* {label:>14}: {est.summary()}   (crossing between tested d {est.bracket})")
        return "\n".join(lines)

    def __repr__(self):
        return f"DigitsExperiment(D={self.D}, runs={len(self.table)}, wall_time={self.wall_time:.1f})"


def digits_experiment(*, hidden=(32,), ds=None, seeds=5, burn_in=16, lottery_ds=None, steps=300,
                      batch_size=128, optimizer="momentum", lr=0.3, full_lr=None, level=0.98,
                      metric="train_acc",
                      store=None, executor=None, max_workers=None, progress=None, data_seed=0,
                      threshold_method="interpolate", n_bootstrap=None):
    r"""The acceptance experiment: random, burn-in and lottery subspaces of a small MLP on digits.

    Trains ``MLP([64, *hidden, 10])`` on scikit-learn's digits (needs the ``[sklearn]``
    extra) in random subspaces through :math:`\theta_0`, random subspaces through
    :math:`\theta_t` (burn-in), and lottery subspaces, for every d in ``ds`` and every seed,
    with SGD + momentum 0.9 (on :math:`\phi` and in full space), then estimates :math:`d^*`
    for ``metric >= level``. (Adam on :math:`\phi` normalises every coordinate, so in a
    lottery subspace it pushes :math:`\phi` along the weak trailing directions as hard as
    along the top ones, and success stops being monotone in d; momentum does not.)

    Parameters
    ----------
    hidden : tuple of int
        Hidden layer widths (default (32,): D = 2410).
    ds : sequence of int, optional
        Default: powers of two up to D.
    seeds : int
    burn_in : int
        Burn-in steps t.
    lottery_ds : sequence of int, optional
        Default: the powers of two up to ``min(D, 256)``.
    steps, batch_size, optimizer, lr, full_lr
        Training protocol: ``lr`` for :math:`\phi`, ``full_lr`` for the full-space runs
        (baseline, burn-in, lottery trajectory).
    level, metric
        Success criterion.
    store, executor, max_workers, progress
        See :func:`sweep`.
    data_seed : int
        Seed of the train/test split.
    threshold_method : {"interpolate", "logistic", "posterior"}
        Point estimate of :math:`d^*` (see :func:`threshold_dimension`; the interval does
        not depend on it).
    n_bootstrap : int, optional
        Deprecated and ignored (the interval is no longer a bootstrap).

    Returns
    -------
    DigitsExperiment
    """
    data = load_digits(seed=data_seed)
    model = MLP([data.n_features, *hidden, data.n_classes])
    D = model.n_params
    if ds is None:
        ds = [2 ** k for k in range(int(math.log2(D)) + 1)]
    if lottery_ds is None:
        lottery_ds = [2 ** k for k in range(int(math.log2(min(D, 256))) + 1)]
    common = dict(steps=steps, batch_size=batch_size, optimizer=optimizer, lr=lr, full_lr=full_lr,
                  executor=executor,
                  max_workers=max_workers, progress=progress, store=store)
    t0 = time.perf_counter()
    random_burn = sweep(model, data, ds, seeds, kinds=("random",), burn_in=(0, burn_in), **common)
    lottery = sweep(model, data, lottery_ds, seeds, kinds=("lottery",), burn_in=(0,), include_full=True,
                    **common)
    wall = time.perf_counter() - t0
    table = RunTable.concat([random_burn, lottery.select(kind="lottery")]).sort()
    thresholds = {}
    for label, where in (("random", dict(kind="random", t=0)),
                         (f"burn-in t={burn_in}", dict(kind="random", t=burn_in)),
                         ("lottery", dict(kind="lottery", t=0))):
        thresholds[label] = threshold_dimension(table, metric, level, method=threshold_method,
                                                n_bootstrap=n_bootstrap, **where)
    full = table.select(kind="full")[metric]
    return DigitsExperiment(table, D, thresholds, float(np.mean(full)), wall, metric, level)

