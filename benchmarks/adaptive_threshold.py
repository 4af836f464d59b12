"""Adaptive threshold search against the powers-of-two grid: runs needed for the same interval width.

Usage::

    python benchmarks/adaptive_threshold.py            # about 20 minutes on 2 cores; writes its
                                                       # section of benchmarks/RESULTS.md
    python benchmarks/adaptive_threshold.py --quick    # a few replications, no digits MLP, prints only

Three truths:

1. Synthetic nested runs: seed s succeeds exactly at d >= D_s, log D_s logistic around
   log 45.25 with slope b. Grid: d = 2, 4, ..., 1024, every seed at every d.
2. The exact quadratic-well oracle (no training): D = 200, power-law spectrum, success of the
   random subspace of dimension d of seed s decided by least squares
   (``landscape.models.quadratic.subspace_min_loss_path`` on that seed's nested map). The true
   d* is the crossing of 1/2 by the success curve of 2000 other subspace families (their exact
   thresholds), interpolated in log d. Grid: d = 2, 4, ..., 128.
3. The digits MLP (``landscape.experiments.training.train_in_subspace``, D = 2410): one
   replication, grid d = 2, 4, ..., 2048 with 5 seeds.

For each replication the grid's interval is computed first (``threshold_dimension``), then
``adaptive_threshold`` runs on the same seeds (the same truth) until its relative width is at
most the grid's. Reported: runs (median over replications), their ratio to the
grid's, the widths reached, and the coverage of both intervals where the truth is known.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing
import os
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for path in (HERE, ROOT):
    if path not in sys.path:
        sys.path.insert(0, path)

from harness import table, write_marked_section  # noqa: E402

MARK = "adaptive_threshold"


def _grid_estimate(grid, seeds, run, metric, level, direction):
    from landscape.experiments.run_table import RunTable
    from landscape.thresholds import threshold_dimension

    recs = [{"d": int(d), "seed": int(s), metric: run(int(d), int(s))} for s in seeds for d in grid]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return threshold_dimension(RunTable(recs), metric, level, direction=direction)


# ---------------------------------------------------------------------- 1. synthetic
def synthetic_cell(task):
    from landscape.thresholds.adaptive import adaptive_threshold, relative_width

    b, n, reps, entropy = task
    rng = np.random.default_rng(entropy)
    c, grid = 64 / np.sqrt(2), 2 ** np.arange(1, 11)
    g_w, g_hit, runs, a_w, a_hit, conv = [], 0, [], [], 0, 0
    for _ in range(reps):
        D = c * np.exp(rng.logistic(size=n) / b)

        def run(d, s, D=D):
            return float(d >= D[s])

        est = _grid_estimate(grid, range(n), run, "acc", 0.5, "max")
        target = relative_width(est.low, est.high)
        g_w.append(target)
        g_hit += est.low <= c <= est.high
        res = adaptive_threshold(run, 0.5, d_range=(2, 1024), seeds=list(range(n)), metric="acc",
                                 rel_width=target * (1 + 1e-9), max_runs=grid.size * n)
        runs.append(res.n_runs)
        a_w.append(res.rel_width)
        a_hit += res.estimate.low <= c <= res.estimate.high
        conv += res.converged
    return {"grid_runs": grid.size * n, "grid_width": float(np.median(g_w)), "grid_cov": g_hit / reps,
            "runs": float(np.median(runs)), "runs_max": int(max(runs)), "width": float(np.median(a_w)),
            "cov": a_hit / reps, "converged": conv / reps}


# ---------------------------------------------------------------------- 2. quadratic oracle
def _well():
    from landscape.models.quadratic import QuadraticWell
    from landscape.models.spectra import power_law_spectrum

    D = 200
    well = QuadraticWell(power_law_spectrum(D, 1.0))
    theta0 = np.random.default_rng(1015).standard_normal(D)
    return well, theta0, 1.0


def _paths(entropy, n):
    """Exact minimum losses over the nested subspaces of n seeds (path[k] for k = 0..D)."""
    from landscape.models.quadratic import subspace_min_loss_path
    from landscape.subspaces.maps import random_subspace

    well, theta0, _ = _well()
    children = np.random.SeedSequence(entropy).spawn(n)
    # the "gaussian" map's first k columns span the same subspace as the orthonormal map's
    return [subspace_min_loss_path(well, theta0, random_subspace(well.dim, well.dim, "gaussian", seed=ch))
            for ch in children]


def quadratic_truth(n_trials=2000):
    from landscape.thresholds.ground_truth import empirical_success_probability

    well, theta0, eps = _well()
    emp = empirical_success_probability(well, theta0, eps, [0, well.dim], n_trials, seed=20261126)
    T = np.sort(emp.trial_thresholds)
    d = np.arange(1, well.dim + 1)
    P = np.searchsorted(T, d, side="right") / T.size
    j = int(np.argmax(P >= 0.5))
    x0, x1 = np.log(d[j - 1]), np.log(d[j])
    return float(np.exp(x0 + (0.5 - P[j - 1]) / (P[j] - P[j - 1]) * (x1 - x0)))


def quadratic_rep(task):
    """Grid and adaptive search on the same subspace families (the adaptive one aims at the grid's width)."""
    from landscape.thresholds.adaptive import adaptive_threshold, relative_width

    n, entropy = task
    _, _, eps = _well()
    paths = _paths(entropy, n)
    grid = 2 ** np.arange(1, 8)

    def run(d, s):
        return float(paths[s][d])

    est = _grid_estimate(grid, range(n), run, "min_loss", eps, "min")
    target = relative_width(est.low, est.high)
    res = adaptive_threshold(run, eps, d_range=(2, 128), seeds=list(range(n)), metric="min_loss",
                             direction="min", rel_width=target * (1 + 1e-9), max_runs=grid.size * n)
    return (est.low, est.high, target, res.estimate.low, res.estimate.high, res.rel_width, res.n_runs,
            res.converged)


# ---------------------------------------------------------------------- 3. digits MLP
def digits_comparison(n_seeds=5):
    from landscape.models import MLP
    from landscape.models.datasets import load_digits
    from landscape.thresholds.adaptive import TrainingRun, adaptive_threshold, relative_width

    data = load_digits(seed=0)
    model = MLP([data.n_features, 32, data.n_classes])
    run = TrainingRun(model, data, optimizer="momentum", lr=0.3, steps=300, batch_size=128)
    D = model.n_params
    grid = [2 ** k for k in range(1, int(np.log2(D)) + 1)]
    cache, calls = {}, {"grid": 0, "adaptive": 0}

    def counted(who):
        def f(d, s):
            calls[who] += 1
            if (d, s) not in cache:
                cache[(d, s)] = run(d, s)["train_acc"]
            return cache[(d, s)]
        return f

    level = 0.95
    t0 = time.perf_counter()
    est = _grid_estimate(grid, range(n_seeds), counted("grid"), "train_acc", level, "max")
    t_grid = time.perf_counter() - t0
    w = relative_width(est.low, est.high)
    t0 = time.perf_counter()
    res = adaptive_threshold(counted("adaptive"), level, d_range=(2, grid[-1]), seeds=list(range(n_seeds)),
                             metric="train_acc", rel_width=w, max_runs=len(grid) * n_seeds)
    t_ad = time.perf_counter() - t0
    return {"D": D, "level": level, "grid": grid, "grid_runs": calls["grid"], "grid_est": str(est), "grid_width": w,
            "runs": res.n_runs, "est": str(res.estimate), "width": res.rel_width, "converged": res.converged,
            "t_grid": t_grid, "t_adaptive": t_ad}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--output", default=os.path.join(HERE, "RESULTS.md"))
    args = parser.parse_args(argv)
    reps = 6 if args.quick else 40
    t_start = time.perf_counter()
    root = np.random.SeedSequence(20261127)
    cells = [(2, 10), (4, 10), (8, 10), (16, 10), (4, 5), (4, 20)]
    kids = root.spawn(len(cells) + reps)
    ctx = multiprocessing.get_context("spawn")
    n_q = 10
    with cf.ProcessPoolExecutor(args.workers, mp_context=ctx) as ex:
        truth_f = ex.submit(quadratic_truth)
        syn = list(ex.map(synthetic_cell, [(b, n, reps, kids[i]) for i, (b, n) in enumerate(cells)]))
        q_ent = [int(k.generate_state(1)[0]) for k in kids[len(cells):]]
        quad = list(ex.map(quadratic_rep, [(n_q, e) for e in q_ent]))
        truth = truth_f.result()
    digits = None if args.quick else digits_comparison()
    elapsed = time.perf_counter() - t_start

    lines = ["## Adaptive threshold search vs the powers-of-two grid (`benchmarks/adaptive_threshold.py`)", "",
             f"{elapsed:.0f} s in all. For each truth, the grid's 95% interval (`threshold_dimension`, nested "
             "design) is computed first; `adaptive_threshold` (nested design, the same number of seeds) then "
             "runs on the same seeds until its interval's relative width (high - low)/sqrt(high low) is at most "
             "the grid's (or the grid's number of runs is spent: 'converged' says how often it got there first). "
             "'runs' is the median over replications (max in brackets); target: at most 40% of the grid's "
             "runs.", "",
             f"### Synthetic nested runs (crossing 45.25, grid 2..1024, {reps} replications per row)", ""]
    rows = []
    for (b, n), r in zip(cells, syn):
        rows.append([str(b), str(n), str(r["grid_runs"]), f"{r['grid_width']:.2f}", f"{r['grid_cov']:.3f}",
                     f"{r['runs']:.0f} ({r['runs_max']})", f"{r['runs'] / r['grid_runs']:.2f}", f"{r['width']:.2f}",
                     f"{r['cov']:.3f}", f"{r['converged']:.2f}"])
    lines += [table(["b", "seeds", "grid runs", "grid width", "grid coverage", "adaptive runs", "ratio",
                     "adaptive width", "adaptive coverage", "converged"], rows), ""]
    g_lo, g_hi, g_w, a_lo, a_hi, a_w, a_n, a_c = (np.array(x) for x in zip(*quad))
    g_cov = float(np.mean((g_lo <= truth) & (truth <= g_hi)))
    a_cov = float(np.mean((a_lo <= truth) & (truth <= a_hi)))
    lines += [f"### Exact quadratic-well oracle (D = 200, power-law spectrum, eps = 1; {n_q} seeds, {reps} "
              "replications)", "",
              f"True d* = {truth:.2f} (2000 exact subspace families). Grid d = 2, 4, ..., 128.", "",
              table(["", "runs", "median relative width", "coverage of the 95% interval"],
                    [["grid", f"{7 * n_q}", f"{np.median(g_w):.2f}", f"{g_cov:.3f}"],
                     ["adaptive", f"{np.median(a_n):.0f} (max {a_n.max()}; ratio {np.median(a_n) / (7 * n_q):.2f})",
                      f"{np.median(a_w):.2f} (converged {a_c.mean():.2f})", f"{a_cov:.3f}"]]), ""]
    if digits is not None:
        lines += ["### Digits MLP (one replication)", "",
                  f"MLP [64, 32, 10] (D = {digits['D']}) on scikit-learn's digits, SGD with momentum, lr 0.3, 300 "
                  f"steps, batch 128; success: train accuracy >= {digits['level']}; 5 seeds.", "",
                  table(["", "runs", "d*", "relative width", "time"],
                        [["grid 2..2048", str(digits["grid_runs"]), digits["grid_est"], f"{digits['grid_width']:.2f}",
                          f"{digits['t_grid']:.0f} s"],
                         ["adaptive", f"{digits['runs']} (ratio {digits['runs'] / digits['grid_runs']:.2f})",
                          digits["est"], f"{digits['width']:.2f}", f"{digits['t_adaptive']:.0f} s (runs on the "
                          "grid's d reused, not re-trained)"]]), ""]
    report = "\n".join(lines)
    print(report)
    if not args.quick:
        write_marked_section(args.output, MARK, report)
        print(f"wrote its section of {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
