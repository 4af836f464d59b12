"""The method comparison: thresholds of every method in one unit (landscape.thresholds.methods)
and the figure (landscape.plots.plot_methods).

References: threshold_dimension called on each method's runs by hand (the same interval
machinery, so the same numbers), synthetic tables whose transitions are known, and a real
digits sweep for the known ordering (lottery subspaces far below random ones).
"""
import numpy as np
import pytest

from landscape.experiments.run_table import RunTable
from landscape.thresholds import threshold_dimension
from landscape.thresholds.methods import method_groups, method_label, method_thresholds

# known transitions: a seed s succeeds at d >= its threshold
TRUE = {("random", 0, "orthonormal"): 64, ("random", 8, "orthonormal"): 32, ("lottery", 0, "none"): 4,
        ("ticket", 0, "magnitude"): 16}


def synthetic_table(n_seeds=6):
    recs = []
    for (kind, t, basis), thr in TRUE.items():
        for s in range(n_seeds):
            own = thr * (2.0 ** ((s % 3) - 1) / 2 + 0.5)  # seeds' thresholds around thr
            for d in (1, 2, 4, 8, 16, 32, 64, 128, 256):
                recs.append({"kind": kind, "t": t, "basis": basis, "d": d, "seed": s, "D": 300,
                             "train_acc": 0.95 if d >= own else 0.2})
    for s in range(n_seeds):
        recs.append({"kind": "full", "t": 0, "basis": "none", "d": 300, "seed": s, "D": 300, "train_acc": 0.99})
    return RunTable(recs)


def test_groups_labels_and_order():
    table = synthetic_table(2)
    groups = method_groups(table)
    assert [g[0] for g in groups] == ["random subspace", "burn-in subspace, t=8", "lottery subspace", "lottery ticket"]
    assert groups[1][1] == {"kind": "random", "t": 8, "basis": "orthonormal"}
    assert method_label("random", 0, "fastfood") == "random subspace (fastfood)"
    assert method_label("ticket", 5) == "lottery ticket, rewind t=5"
    with pytest.raises(TypeError, match="RunTable"):
        method_groups([{"kind": "random"}])


def test_thresholds_are_threshold_dimension_of_each_method():
    table = synthetic_table()
    ests = method_thresholds(table, "train_acc", 0.5, seed=3)
    for (label, where), est in zip(method_groups(table), ests.values()):
        ref = threshold_dimension(table, "train_acc", 0.5, seed=3, **where)
        assert est.value == ref.value and est.ci == ref.ci and est.bracket == ref.bracket
    # the known transitions: each method's d* between the tested d around its seeds' median threshold
    assert [e.bracket for e in ests.values()] == [(32.0, 64.0), (16.0, 32.0), (2.0, 4.0), (8.0, 16.0)]


def test_plot_methods_draws_every_method_and_returns_the_axes():
    import matplotlib.pyplot as plt

    from landscape.plots import plot_methods

    table = synthetic_table(3)
    fig, ax = plt.subplots()
    out = plot_methods(table, 0.5, ax=ax)
    assert out is ax and ax.get_xscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len([lab for lab in labels if "d* = " in lab]) == 4 and any("D = 300" in lab for lab in labels)
    ax2 = plot_methods(table, 0.5, y="metric", thresholds=False)
    assert ax2 is not ax and ax2.get_ylabel() == "train_acc"
    with pytest.raises(ValueError, match="y must be"):
        plot_methods(table, 0.5, y="loss")
    with pytest.raises(ValueError, match="no runs of any method"):
        plot_methods(table.select(kind="full"), 0.5)
    plt.close("all")


def test_lottery_subspaces_beat_random_ones_on_digits():
    pytest.importorskip("sklearn")
    from landscape.experiments.sweeps import sweep
    from landscape.models import MLP
    from landscape.models.datasets import load_digits

    data = load_digits(seed=0)
    model = MLP([64, 8, 10])
    table = sweep(model, data, [2, 8, 32, 128], 2, kinds=("random", "lottery"), optimizer="momentum", lr=0.3,
                  steps=100, batch_size=128, executor="serial", progress=False, include_full=False)
    ests = method_thresholds(table, "train_acc", 0.8)
    # random subspaces need more than 32 dimensions, lottery subspaces at most 8
    assert ests["random subspace"].bracket[0] >= 32 and ests["lottery subspace"].bracket[1] <= 8
