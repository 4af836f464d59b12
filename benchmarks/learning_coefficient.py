"""The local learning coefficient by SGLD: speed on the digits MLP, accuracy where it is known.

Usage::

    python benchmarks/learning_coefficient.py           # about 5 minutes on 2 cores
    python benchmarks/learning_coefficient.py --quick   # smoke run (< 1 min), prints only

Writes its section of ``benchmarks/RESULTS.md`` (between ``<!-- begin: learning_coefficient -->``
and ``<!-- end: learning_coefficient -->``, which ``benchmarks/run.py`` keeps) and the numbers as
JSON (``benchmarks/learning_coefficient.json``).

1. **Speed.** :func:`landscape.learning_coefficient` on the digits MLP (the demo's network,
   D = 1210, 1348 training rows) with 4 chains of 500 steps, full batch, against a
   same-process baseline: the same number of plain gradient steps (``loss_and_grad`` on the
   whole training set and an SGD update), interleaved, best of several repeats; the thread
   count chosen automatically (one thread: a small step) and forced to 2; the cost per step
   as D grows.
2. **Coverage on quadratic wells.** 4 (and 8) chains per estimate, 400 independent estimates
   per well (full rank and rank deficient): how often the 95% Student-t interval of
   :meth:`LearningCoefficient.ci` (and the normal interval of ``estimate.ci``) covers the exact
   expectation of the SGLD estimator (:func:`quadratic_learning_coefficient` with the step size
   and burn-in), and the bias against the exact :math:`\\lambda`.
3. **The singular toy** :math:`f(x) = abx` at :math:`(0, 0)`: the estimate as n grows, beside
   the exact localised value (:func:`product_learning_coefficient`) and :math:`\\lambda = 1/2`.
4. **Sensitivity on the digits MLP**: :math:`2\\hat\\lambda` against the localisation
   :math:`\\gamma` and against the step size.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for p in (HERE, ROOT):
    if p not in sys.path:
        sys.path.insert(0, p)

from harness import (fmt_seconds, interleaved, machine_description, ratio_stats, table,  # noqa: E402
                     write_marked_section)

MARK = "learning_coefficient"


def _log(msg, t0=[time.perf_counter()]):
    print(f"[{time.perf_counter() - t0[0]:7.1f} s] {msg}", file=sys.stderr, flush=True)


def _digits(hidden=(16,)):
    from landscape.experiments.training import train_full
    from landscape.models.datasets import load_digits
    from landscape.models.mlp import MLP

    data = load_digits(seed=0)
    model = MLP([data.n_features, *hidden, data.n_classes])
    full = train_full(model, data, seed=0, optimizer="momentum", lr=0.3, steps=300, batch_size=128)
    return model, data, full.theta


def _plain_steps(model, data, theta, n):
    """The baseline: n plain full-batch gradient steps (loss_and_grad and an SGD update)."""
    X, y = data.X_train, data.y_train
    grad = getattr(model, "_loss_and_grad", None) or model.loss_and_grad
    w = theta.copy()
    for _ in range(n):
        _, g = grad(w, X, y)
        w -= 1e-4 * g
    return w


# ----------------------------------------------------------------------------- 1. speed
def speed_section(quick):
    from threadpoolctl import threadpool_limits

    from landscape import learning_coefficient

    chains, steps = (2, 40) if quick else (4, 500)
    repeats = 1 if quick else 3
    model, data, theta = _digits()
    rows, out = [], {}
    # interleaved: baseline, LLC (automatic threads), LLC (2 threads), repeated; best of each
    times = {"plain": [], "auto": [], "two": []}
    result = None
    for _ in range(repeats):
        with threadpool_limits(1, user_api="blas"):
            t0 = time.perf_counter()
            _plain_steps(model, data, theta, chains * steps)
            times["plain"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        result = learning_coefficient(model, theta, data=data, n_chains=chains, n_steps=steps, n_burnin=steps // 5,
                                      seed=0, progress=False)
        times["auto"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        learning_coefficient(model, theta, data=data, n_chains=chains, n_steps=steps, n_burnin=steps // 5,
                             seed=0, progress=False, threads=2)
        times["two"].append(time.perf_counter() - t0)
    best = {k: min(v) for k, v in times.items()}
    r_auto, r_two = ratio_stats(times["auto"], times["plain"]), ratio_stats(times["two"], times["plain"])
    rows.append([f"{chains * steps} plain gradient steps (baseline, 1 BLAS thread)", fmt_seconds(best["plain"]),
                 "1.00x", "-"])  # ratios: median over the interleaved rounds (range)
    rows.append([f"learning_coefficient: {chains} chains x {steps} steps, threads automatic (1)",
                 fmt_seconds(best["auto"]), f"{r_auto[0]:.2f}x ({r_auto[1]:.2f}-{r_auto[2]:.2f})",
                 f"2 lambda = {result.dimension:.2f} ± {2 * result.stderr:.2f}, R-hat {result.rhat:.3f}"])
    rows.append([f"learning_coefficient: {chains} chains x {steps} steps, threads=2", fmt_seconds(best["two"]),
                 f"{r_two[0]:.2f}x ({r_two[1]:.2f}-{r_two[2]:.2f})", "same numbers"])
    out["digits"] = {"D": model.n_params, "n_chains": chains, "n_steps": steps, **{k: v for k, v in best.items()},
                     "ratio_auto": r_auto[0], "ratio_two": r_two[0],
                     "two_llc": result.dimension, "two_llc_stderr": 2 * result.stderr, "rhat": result.rhat,
                     "step_size": result.step_size, "seconds_in_call": result.extra["seconds"]}
    md = [f"The digits MLP (D = {model.n_params}, {data.n_train} training rows, the demo's network trained "
          f"to theta*), gamma = 100, n*beta = n / log n = {result.nbeta:.1f}, automatic step "
          f"{result.step_size:.3g}, full batch; best of {repeats} interleaved repeats. The automatic step "
          "includes one Lanczos run for the top Hessian eigenvalue.", "",
          table(["what", "time", "vs baseline", "result"], rows), ""]
    target = 60.0
    verdict = "met" if best["auto"] < target else "not met"
    md.append(f"Target: under {target:.0f} s on 2 cores: {fmt_seconds(best['auto'])}, {verdict}. SGLD costs "
              f"{r_auto[0]:.2f}x the plain gradient steps (median over the rounds; the noise draws, the update, "
              "the bookkeeping and the Lanczos run of the automatic step). Two threads on steps this small "
              "cost more than they give on a shared 2-core machine: the automatic choice is one thread.")

    # cost per step as D grows, against the same-process baseline, interleaved round by round
    scal = []
    hiddens = ((8,), (16,)) if quick else ((16,), (64,), (256,))
    for hidden in hiddens:
        m, d, th = _digits(hidden)
        n = chains * (steps // 4)

        def plain():
            with threadpool_limits(1, user_api="blas"):
                _plain_steps(m, d, th, n)

        def sgld():
            with warnings.catch_warnings():   # timing only: short chains do not mix, and need not
                warnings.simplefilter("ignore")
                learning_coefficient(m, th, data=d, n_chains=chains, n_steps=steps // 4, step_size=1e-4, seed=0,
                                     progress=False, grad_tol=1e9)

        t = interleaved({"plain": plain, "sgld": sgld}, repeats=1 if quick else 3, warmup=0)
        med, lo, hi = ratio_stats(t["sgld"], t["plain"])
        scal.append([m.n_params, fmt_seconds(min(t["plain"]) / n), fmt_seconds(min(t["sgld"]) / n),
                     f"{med:.2f}x ({lo:.2f}-{hi:.2f})"])
        out.setdefault("scaling", []).append({"D": m.n_params, "plain_per_step": min(t["plain"]) / n,
                                              "llc_per_step": min(t["sgld"]) / n, "ratio_median": med})
    md += ["", "Cost per chain step as D grows (hidden width 16, 64, 256; fixed step size, no Lanczos; best of 3 "
           "interleaved rounds, ratio: median of the rounds' ratios with their range):", "",
           table(["D", "plain step", "SGLD step", "SGLD / plain"], scal), ""]
    return "\n".join(md), out


# ----------------------------------------------------------------------------- 2. coverage
def coverage_section(quick):
    from scipy.stats import t as student

    from landscape import QuadraticWell, learning_coefficient, quadratic_learning_coefficient

    reps = 5 if quick else 400
    D, n, gamma = 12, 2000, 1.0
    nbeta = n / math.log(n)
    wells = {"full rank, h in [0.5, 2]": np.linspace(0.5, 2.0, D),
             "rank 6 of 12": np.concatenate([np.linspace(0.5, 2.0, 6), np.zeros(6)])}
    rows, out = [], []
    if quick:
        wells = dict(list(wells.items())[:1])
    for name, h in wells.items():
        well = QuadraticWell(h)
        a_max, a_min = nbeta * h.max() + gamma, nbeta * h[h > 0].min() + gamma
        for frac in ((0.2,) if quick else (0.02, 0.2)):
            step = frac / a_max
            settle = int(5 / (step * a_min))
            T, B = 6 * settle, settle
            exact = quadratic_learning_coefficient(h, nbeta, gamma)
            target = quadratic_learning_coefficient(h, nbeta, gamma, step_size=step, n_steps=T, n_burnin=B)
            for c in (4, 8):
                res = learning_coefficient(well, np.zeros(D), nbeta=nbeta, gamma=gamma, step_size=step,
                                           n_chains=reps * c, n_steps=T, n_burnin=B, seed=17, progress=False)
                v = res.chain_values.reshape(reps, c)
                mean, se = v.mean(axis=1), v.std(axis=1, ddof=1) / np.sqrt(c)
                half_t = student.ppf(0.975, c - 1) * se
                cov_t = float(np.mean(np.abs(mean - target) <= half_t))
                cov_n = float(np.mean(np.abs(mean - target) <= 1.959964 * se))
                bias = float(mean.mean() / exact - 1)
                rows.append([name, f"{step * a_max:g}", T, c, f"{2 * exact:.3f}", f"{2 * target:.3f}",
                             f"{2 * mean.mean():.3f}", f"{100 * bias:+.2f}%", f"{cov_t:.3f}", f"{cov_n:.3f}"])
                out.append({"well": name, "step_times_a_max": step * a_max, "n_steps": T, "n_burnin": B,
                            "chains": c, "two_lambda_exact": 2 * exact, "two_lambda_sgld_exact": 2 * target,
                            "two_lambda_mean_estimate": 2 * float(mean.mean()), "bias_vs_exact": bias,
                            "coverage_t": cov_t, "coverage_normal": cov_n, "replications": reps})
    md = [f"Quadratic wells in D = {D}, n*beta = {nbeta:.1f}, gamma = {gamma:g}; {reps} independent estimates "
          "per row (each from its own chains). 'SGLD exact' is the exact expectation of the estimator at this "
          "step size and burn-in (`quadratic_learning_coefficient(..., step_size, n_steps, n_burnin)`), the "
          "quantity the interval is for; 'bias' compares the mean estimate with the exact 2 lambda. Coverage "
          "of nominal 95% intervals; with 400 replications its Monte Carlo standard error is about 0.011.", "",
          table(["well", "step x a_max", "steps", "chains", "2 lambda exact", "SGLD exact", "mean estimate",
                 "bias", "coverage (t)", "coverage (normal)"], rows), ""]
    return "\n".join(md), out


# ----------------------------------------------------------------------------- 3. singular toy
def toy_section(quick):
    from landscape import ProductRegression, learning_coefficient, product_learning_coefficient

    model = ProductRegression()
    gamma = 2.0
    ns = (20, 200) if quick else (20, 200, 2000, 20000)
    chains = 8 if quick else 32
    rows, out = [], []
    for n in ns:
        X, y = model.sample(n, seed=1000 + n)
        s = float(X[:, 0] @ X[:, 0]) / n
        nbeta = n / math.log(n)
        r = nbeta * s / gamma ** 2
        step = 0.1 / (gamma * (9 * r + 1))
        T = int(min((2 if quick else 8) / (step * gamma), 250000))   # 1 / (step gamma): the time unit
        exact = product_learning_coefficient(nbeta, gamma, s)
        t0 = time.perf_counter()
        res = learning_coefficient(model, np.zeros(2), data=(X, y), gamma=gamma, step_size=step, n_chains=chains,
                                   n_steps=T, n_burnin=T // 8, seed=3, progress=False)
        wall = time.perf_counter() - t0
        z = (res.value - exact) / res.stderr
        rows.append([n, f"{nbeta:.1f}", f"{r:.3g}", T, f"{exact:.4f}", f"{res.value:.4f} ± {res.stderr:.4f}",
                     f"{z:+.2f}", f"{0.5 - exact:.4f}", f"{res.rhat:.3f}", fmt_seconds(wall)])
        out.append({"n": n, "nbeta": nbeta, "r": r, "n_steps": T, "exact": exact, "estimate": res.value,
                    "stderr": res.stderr, "rhat": res.rhat, "seconds": wall})
    far = [(m, product_learning_coefficient(m / math.log(m), gamma)) for m in (1e6, 1e9, 1e12)]
    md = [f"f(x) = abx at (a, b) = 0, data with sum x_i y_i = 0 (the origin an exact minimum), gamma = {gamma:g}, "
          f"n*beta = n / log n, {chains} chains, step 0.1 / (gamma (9 r + 1)) with r = n*beta*s/gamma^2 "
          "(the curvature the chains meet along the axes). lambda = 1/2 (multiplicity 2); the localised value "
          "at finite n approaches it from below like 1/2 - 1/log r.", "",
          table(["n", "n*beta", "r", "steps", "exact (localised)", "SGLD", "z", "1/2 - exact", "R-hat", "time"],
                rows), "",
          "Exact localised values further out: " + ", ".join(f"n = {m:.0e}: {v:.4f}" for m, v in far) + "."]
    return "\n".join(md), out


# ----------------------------------------------------------------------------- 4. sensitivity
def sensitivity_section(quick):
    from landscape import learning_coefficient
    from landscape.theory.spectral_model import SpectralModel

    model, data, theta = _digits()
    X, y = data.X_train, data.y_train
    spec = SpectralModel.from_model(model, theta, theta, X, y, k=5 if quick else 20, n_probes=4 if quick else 8,
                                    n_steps=30 if quick else 60, seed=0)
    n = data.n_train
    nbeta = n / math.log(n)
    h_max = float(spec.eigenvalues.max())
    rows, out = [], []
    gammas = (100.0, 10.0) if quick else (300.0, 100.0, 30.0, 10.0, 3.0, 1.0)
    for g in gammas:
        step = 0.1 / (nbeta * h_max + g)
        settle = int(3 / (step * g))
        T = max(200 if quick else 500, (2 if quick else 8) * settle)
        res = learning_coefficient(model, theta, data=data, gamma=g, step_size=step, n_chains=4, n_steps=T,
                                   n_burnin=settle, seed=0, progress=False, grad_tol=1e9)
        stiff = int(spec.multiplicities[nbeta * spec.eigenvalues > g].sum())
        soft = float(np.sum(spec.multiplicities * nbeta * spec.eigenvalues / (nbeta * spec.eigenvalues + g)))
        rows.append([f"{g:g}", f"{step:.3g}", T, f"{res.dimension:.1f} ± {2 * res.stderr:.1f}", f"{soft:.1f}",
                     stiff, f"{res.rhat:.3f}"])
        out.append({"gamma": g, "step_size": step, "n_steps": T, "two_llc": res.dimension,
                    "two_llc_stderr": 2 * res.stderr, "quadratic_two_lambda": soft, "stiff": stiff, "rhat": res.rhat})
    md = [f"The digits MLP at theta* (D = {model.n_params}), n*beta = {nbeta:.1f}, 4 chains, step "
          "0.1 / (n*beta*h_max + gamma), burn-in 3 / (step gamma) steps (the time flat directions need to forget "
          "the start). 'quadratic' is sum_i n*beta*h_i / (n*beta*h_i + gamma) over the Lanczos + SLQ spectrum "
          "(the value if the loss were its quadratic model at theta*).", "",
          table(["gamma", "step", "steps", "2 lambda (SGLD)", "quadratic", "eigenvalues n*beta*h > gamma", "R-hat"],
                rows), ""]
    # step-size sensitivity at gamma = 100
    srows = []
    base = 0.1 / (nbeta * h_max + 100.0)
    for f in ((0.5, 1.0) if quick else (0.25, 0.5, 1.0, 2.0, 4.0)):
        step = f * base
        T = max(300, int(4 * 3 / (step * 100.0)))
        res = learning_coefficient(model, theta, data=data, gamma=100.0, step_size=step, n_chains=4, n_steps=T,
                                   n_burnin=T // 4, seed=0, progress=False, grad_tol=1e9)
        srows.append([f"{f:g} x automatic = {step:.3g}", T, f"{res.dimension:.2f} ± {2 * res.stderr:.2f}",
                      f"{res.rhat:.3f}"])
        out.append({"gamma": 100.0, "step_factor": f, "step_size": step, "n_steps": T, "two_llc": res.dimension,
                    "two_llc_stderr": 2 * res.stderr, "rhat": res.rhat})
    md += ["Step size at gamma = 100 (steps scaled so that every run covers the same SGLD time):", "",
           table(["step", "steps", "2 lambda", "R-hat"], srows), ""]
    return "\n".join(md), out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke sizes; print only")
    ap.add_argument("--output", default=None, help="RESULTS.md to update (default benchmarks/RESULTS.md; "
                                                   "none with --quick)")
    args = ap.parse_args(argv)
    output = args.output or (None if args.quick else os.path.join(HERE, "RESULTS.md"))
    t_all = time.perf_counter()
    machine = machine_description()
    parts = ["## Local learning coefficient by SGLD (benchmarks/learning_coefficient.py)", "",
             f"Generated on {datetime.date.today().isoformat()} by `python benchmarks/learning_coefficient.py`; "
             f"{machine.get('cpu', '?')}, {machine.get('nproc', '?')} cores, load average at start "
             f"{machine.get('load average at start', '?')} (a shared machine: read the ratios first)."]
    data = {}
    sections = (("Speed", speed_section), ("Coverage and bias on quadratic wells", coverage_section),
                ("The singular toy f(x) = abx as n grows", toy_section),
                ("Sensitivity on the digits MLP: localisation and step size", sensitivity_section))
    for title, fn in sections:
        _log(title)
        md, data[fn.__name__] = fn(args.quick)
        parts += [f"### {title}", "", md, ""]
    parts.insert(3, f"The whole run took {time.perf_counter() - t_all:.0f} s.\n")
    report = "\n".join(parts)
    print(report)
    if output:
        write_marked_section(output, MARK, report)
        with open(os.path.join(HERE, "learning_coefficient.json"), "w") as fh:
            json.dump(data, fh, indent=1, default=float)
        _log(f"wrote {output} and benchmarks/learning_coefficient.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
