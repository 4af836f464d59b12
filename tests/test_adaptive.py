"""landscape.thresholds.adaptive: fewer runs than a grid, reproducible, resumable after a kill."""
import json
import os
import warnings

import numpy as np
import pytest

from landscape.experiments.run_table import RunTable
from landscape.thresholds import threshold_dimension
from landscape.thresholds.adaptive import TrainingRun, adaptive_threshold, relative_width

GRID = 2 ** np.arange(1, 11)


def nested_truth(rng, n, b, c):
    """Seed s succeeds exactly at d >= D_s, log D_s logistic around log c with slope b."""
    return c * np.exp(rng.logistic(size=n) / b)


class Counting:
    """run(d, seed) = success of the seed's own threshold; counts calls; optionally dies after k."""

    def __init__(self, thresholds, die_after=None):
        self.thresholds, self.die_after, self.calls = thresholds, die_after, []

    def __call__(self, d, seed):
        if self.die_after is not None and len(self.calls) >= self.die_after:
            raise KeyboardInterrupt("killed")
        self.calls.append((d, seed))
        return float(d >= self.thresholds[seed])


def test_relative_width():
    assert relative_width(32, 64) == pytest.approx(32 / np.sqrt(32 * 64))
    assert relative_width(1, np.inf) == np.inf and relative_width(0, 4) == np.inf


def test_fewer_runs_than_the_grid_for_the_same_width():
    """Nested synthetic transitions (slope 8, 10 seeds, crossing between grid points): the grid
    2..1024 spends 100 runs; the search reaches the grid's median width with at most 40% of that."""
    rng = np.random.default_rng(1400)
    c, n = 64 / np.sqrt(2), 10
    widths = []
    for _ in range(8):
        D = nested_truth(rng, n, 8, c)
        S = D[:, None] <= GRID[None, :]
        table = RunTable.from_columns({"d": np.tile(GRID, n), "seed": np.repeat(np.arange(n), GRID.size),
                                       "acc": S.ravel().astype(float)})
        est = threshold_dimension(table, "acc", 0.5)
        widths.append(relative_width(est.low, est.high))
    target = float(np.median(widths))
    runs, hits = [], 0
    for _ in range(8):
        D = nested_truth(rng, n, 8, c)
        res = adaptive_threshold(Counting(D), 0.5, d_range=(2, 1024), seeds=list(range(n)), metric="acc",
                                 rel_width=target)
        assert res.converged and res.rel_width <= target
        runs.append(res.n_runs)
        hits += res.estimate.low <= c <= res.estimate.high
        # every run was informative: none at a d whose outcome the seed's earlier runs imply
        seen = {}
        for d, s in zip(res.table["d"], res.table["seed"]):
            lo, hi = seen.get(s, (0, np.inf))
            assert lo < d < hi
            seen[s] = (lo, d) if d >= D[s] else (d, hi)
    assert np.median(runs) <= 0.4 * GRID.size * n, runs
    assert hits >= 7  # coverage is measured in benchmarks/adaptive_threshold.py


def test_reproducible_from_its_seed():
    rng = np.random.default_rng(1401)
    pool = nested_truth(rng, 50, 4, 100.0)

    def run(d, s):  # seed values are large ints drawn from `seed`: map them onto the pool
        return float(d >= pool[s % 50])

    a = adaptive_threshold(run, 0.5, d_range=(4, 2000), seeds=6, metric="acc", rel_width=1.0, seed=7)
    b = adaptive_threshold(run, 0.5, d_range=(4, 2000), seeds=6, metric="acc", rel_width=1.0, seed=7)
    c = adaptive_threshold(run, 0.5, d_range=(4, 2000), seeds=6, metric="acc", rel_width=1.0, seed=8)
    assert a.table.equals(b.table, order=True) and a.estimate.interval == b.estimate.interval
    assert a.history == b.history
    assert set(a.table["seed"].tolist()) != set(c.table["seed"].tolist())


def test_resumes_after_a_kill_without_repeating_a_run(tmp_path):
    rng = np.random.default_rng(1402)
    D = nested_truth(rng, 8, 4, 60.0)
    kwargs = dict(d_range=(2, 1024), seeds=list(range(8)), metric="acc", rel_width=0.6)
    whole = adaptive_threshold(Counting(D), 0.5, **kwargs)
    store = tmp_path / "search"
    dying = Counting(D, die_after=7)
    with pytest.raises(KeyboardInterrupt):
        adaptive_threshold(dying, 0.5, store=store, **kwargs)
    with open(store / "runs.jsonl") as fh:
        assert len(fh.readlines()) == 7  # every completed run is on disk
    again = Counting(D)
    res = adaptive_threshold(again, 0.5, store=store, **kwargs)
    assert res.n_executed == len(again.calls) == whole.n_runs - 7
    assert not set(again.calls) & set(dying.calls)  # no run repeated
    assert res.estimate.interval == whole.estimate.interval and res.n_runs == whole.n_runs
    assert res.table.equals(whole.table, order=True)
    with open(store / "runs.jsonl") as fh:
        keys = [(r["d"], r["seed"]) for r in map(json.loads, fh)]
    assert len(keys) == len(set(keys)) == whole.n_runs
    # run once more: everything comes from the store
    third = Counting(D)
    assert adaptive_threshold(third, 0.5, store=store, **kwargs).n_executed == 0 and not third.calls


def test_independent_design_and_records():
    rng = np.random.default_rng(1403)

    def run(d, s):  # independent runs: P(d) = sigmoid(6 log(d / 30)); returns a record
        u = np.random.default_rng([s, d]).random()
        return {"train_acc": float(u < 1 / (1 + (30 / d) ** 6)), "wall_time": 0.0}

    res = adaptive_threshold(run, 0.5, d_range=(2, 512), seeds=list(range(6)), metric="train_acc",
                             design="independent", rel_width=1.2, max_runs=120)
    assert res.estimate.design == "independent"
    assert res.n_runs <= 120 and res.n_runs == len(res.table)
    assert res.estimate.low <= 30 <= res.estimate.high
    assert set(res.table.columns) >= {"kind", "t", "basis", "d", "seed", "train_acc"}
    del rng


def test_training_runs_through_a_store(tmp_path):
    from landscape.models import MLP
    from landscape.models.datasets import teacher_student

    data = teacher_student(80, 0, n_features=4, n_classes=2, hidden=0, seed=1404)
    run = TrainingRun(MLP([4, 2]), data, steps=30, lr=0.1)
    assert run.key == {"kind": "random", "t": 0, "basis": "orthonormal"} and run.protocol["D"] == 10
    res = adaptive_threshold(run, 0.9, d_range=(1, 10), seeds=3, metric="train_acc", rel_width=0.1,
                             max_runs=6, store=tmp_path / "s", seed=0)
    assert res.n_runs == 6 and not res.converged
    recs = [json.loads(line) for line in open(os.path.join(tmp_path, "s", "runs.jsonl"))]
    assert len(recs) == 6 and all(r["kind"] == "random" and "train_loss" in r for r in recs)
    again = adaptive_threshold(run, 0.9, d_range=(1, 10), seeds=3, metric="train_acc", rel_width=0.1,
                               max_runs=6, store=tmp_path / "s", seed=0)
    assert again.n_executed == 0 and again.table.equals(res.table, order=True)
    with pytest.raises(ValueError, match="another protocol"):
        adaptive_threshold(TrainingRun(MLP([4, 2]), data, steps=31, lr=0.1), 0.9, d_range=(1, 10), seeds=3,
                           metric="train_acc", store=tmp_path / "s", seed=0)


def test_bad_input():
    def run(d, s):
        return 1.0

    with pytest.raises(TypeError, match="run must be callable"):
        adaptive_threshold(3, 0.5, d_range=(1, 10))
    with pytest.raises(ValueError, match="d_range must have low"):
        adaptive_threshold(run, 0.5, d_range=(10, 10), metric="acc")
    with pytest.raises(ValueError, match="d_range entries must be >= 1"):
        adaptive_threshold(run, 0.5, d_range=(0, 10), metric="acc")
    with pytest.raises(TypeError, match="d_range must be a pair"):
        adaptive_threshold(run, 0.5, d_range=5, metric="acc")
    with pytest.raises(ValueError, match="cannot tell whether 'score'"):
        adaptive_threshold(run, 0.5, d_range=(1, 10), metric="score")
    with pytest.raises(ValueError, match="rel_width"):
        adaptive_threshold(run, 0.5, d_range=(1, 10), metric="acc", rel_width=0)
    with pytest.raises(ValueError, match="design must be one of 'nested', 'independent'"):
        adaptive_threshold(run, 0.5, d_range=(1, 10), metric="acc", design="auto")
    with pytest.raises(ValueError, match="seeds must be"):
        adaptive_threshold(run, 0.5, d_range=(1, 10), metric="acc", seeds=[1, 1])
    with pytest.raises(ValueError, match="seed: a search with a store"):
        adaptive_threshold(run, 0.5, d_range=(1, 10), metric="acc", store="/nonexistent/x")
    with pytest.raises(TypeError, match="must return a number or a dict"):
        adaptive_threshold(lambda d, s: "yes", 0.5, d_range=(1, 10), metric="acc", seeds=[0, 1])
    with pytest.raises(ValueError, match="without 'acc'"):
        adaptive_threshold(lambda d, s: {"loss": 1.0}, 0.5, d_range=(1, 10), metric="acc", seeds=[0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = adaptive_threshold(lambda d, s: float("nan"), 0.5, d_range=(1, 10), metric="acc", seeds=[0, 1],
                                 max_runs=10)
    assert res.estimate.censored == "above"  # NaN runs are failures
