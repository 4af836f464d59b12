r"""The main job: theory against experiment, end to end, written to a directory.

Four parts:

1. **Quadratic well** (exact, no training noise). A well with a power-law spectrum in
   D = 400 dimensions; for three loss levels, the success probability of random
   subspaces is decided exactly by least squares and set beside the curve predicted by
   the kinematic formula (conic intrinsic volumes of the cone of directions into the
   sub-level set), the kinematic threshold :math:`D - \delta` and Gordon's bound.
2. **Digits MLP** (real training). An MLP on scikit-learn's digits is trained in full
   space to :math:`\theta^*`; its Hessian there (top eigenpairs by Lanczos, the bulk by
   stochastic Lanczos quadrature) gives a quadratic model of the sub-level sets, whose
   geometry predicts :math:`d^*(\epsilon)` for random subspaces through :math:`\theta_0`
   and through a burn-in point :math:`\theta_t`. A sweep of subspace training measures
   :math:`d^*(\epsilon)`, and the two are compared.
3. **Four methods** on the same MLP: random, burn-in and lottery subspaces and lottery
   tickets (:func:`landscape.experiments.lottery_tickets.train_ticket`), each threshold in
   trainable degrees of freedom at the same level, in one figure
   (:func:`landscape.plots.plot_methods`).
4. **Five answers** to "how many parameters matter?" for the same MLP: measured
   :math:`d^*`, :math:`D - \delta`, :math:`D - w^2`, twice the local learning coefficient
   and the Hessian's effective ranks (:func:`landscape.theory.dimensions.effective_dimensions`,
   :func:`landscape.plots.plot_effective_dimensions`).

:func:`run_demo` writes figures (PNG), tables (CSV and JSON) and ``report.md``.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

import numpy as np

__all__ = ["DemoSettings", "run_demo", "digits_network"]


@dataclass(frozen=True)
class DemoSettings:
    """Sizes of the demo. ``DemoSettings.full()`` is the default; ``small()`` is for tests."""

    well_dim: int = 400
    well_alpha: float = 1.0
    well_distance: float = 3.0
    well_levels: tuple = (0.2, 0.35, 0.5)
    well_trials: int = 200
    well_samples: int = 2000
    hidden: tuple = (16,)
    steps: int = 300
    lr: float = 0.3
    batch_size: int = 128
    seeds: int = 4
    ds: tuple = (4, 6, 8, 11, 16, 23, 32, 45, 64, 91, 128, 181, 256, 362, 512, 724, 1024)
    burn_in: int = 5
    level_fractions: tuple = (0.05, 0.1, 0.2)
    lanczos_k: int = 20
    slq_probes: int = 8
    slq_steps: int = 60
    net_samples: int = 2000
    width_samples: int = 12
    llc_gammas: tuple = (100.0, 10.0, 1.0)
    llc_chains: int = 4
    llc_steps: int = 500
    llc_burnin: int = 100

    @classmethod
    def full(cls):
        return cls()

    @classmethod
    def small(cls):
        """A reduced size for tests (well D = 120, MLP D = 610, a few seeds)."""
        return cls(well_dim=120, well_levels=(0.2, 0.5), well_trials=60, well_samples=600,
                   hidden=(8,), steps=100, seeds=2, ds=(8, 32, 128, 512), burn_in=5,
                   level_fractions=(0.1, 0.2), lanczos_k=8, slq_probes=4, slq_steps=30,
                   net_samples=400, width_samples=3, llc_gammas=(100.0, 1.0), llc_steps=120, llc_burnin=20)


class _Log:
    """Progress lines on stderr with elapsed time."""

    def __init__(self, enabled):
        self.enabled = enabled
        self.t0 = time.perf_counter()

    def __call__(self, msg):
        if self.enabled:
            import sys

            print(f"[{time.perf_counter() - self.t0:6.1f} s] {msg}", file=sys.stderr, flush=True)


def _savefig(ax, path, *, tight=True):
    fig = ax.figure
    if tight:
        fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)


def _write_json(path, obj):
    def clean(v):
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if isinstance(v, (np.floating, float)):
            v = float(v)
            return v if np.isfinite(v) else None
        if isinstance(v, np.integer):
            return int(v)
        return v

    tmp = f"{path}.tmp"
    with open(tmp, "w") as fh:
        json.dump(clean(obj), fh, indent=1)
    os.replace(tmp, path)


def _write_csv(path, rows):
    import csv

    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


# ------------------------------------------------------------------------ part 1: well
def _quadratic_part(s, out, seed, log, progress=None):
    import matplotlib.pyplot as plt

    from .thresholds.ground_truth import empirical_success_probability
    from .thresholds.measured import threshold_dimension
    from .plots import plot_success_curve, plot_threshold_vs_eps
    from .theory.predict import predicted_success_curve
    from .models.quadratic import QuadraticWell
    from .models.spectra import power_law_spectrum

    D = s.well_dim
    well = QuadraticWell(power_law_spectrum(D, s.well_alpha))
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    theta0 = rng.standard_normal(D)
    theta0 *= s.well_distance / np.linalg.norm(theta0)
    L0 = float(well.loss(theta0))
    levels = [f * L0 for f in s.well_levels]
    ds = np.unique(np.linspace(1, D, 41).round().astype(int))
    fig, axes = plt.subplots(1, len(levels), figsize=(4.2 * len(levels), 3.9), sharey=True, squeeze=False)
    axes = axes[0]
    rows, curves = [], {}
    for i, (frac, eps) in enumerate(zip(s.well_levels, levels)):
        log(f"quadratic well D={D}: eps = {frac:g} L(theta0): predicting the curve")
        pred = predicted_success_curve(well, theta0, eps, ds=np.concatenate([[0], ds]),
                                       n_samples=s.well_samples, seed=np.random.SeedSequence([seed, 2, i]))
        log(f"quadratic well D={D}: eps = {frac:g} L(theta0): {s.well_trials} exact subspace tests per d")
        emp = empirical_success_probability(well, theta0, eps, ds, s.well_trials,
                                            seed=np.random.SeedSequence([seed, 3, i]), progress=progress)
        # the exact outcomes as runs (trial i = seed i, nested in d): d* with the interval of threshold_dimension
        thr = threshold_dimension(emp.runs(), "min_loss", eps, direction="min")
        pgrid = np.interp(ds, pred.ds, pred.probability)
        max_gap = float(np.max(np.abs(pgrid - emp.rates)))
        t = pred.threshold
        rows.append({
            "eps": eps, "eps_fraction_of_L0": frac, "D": D, "delta": float(t.statistical_dimension.value),
            "delta_stderr": float(t.statistical_dimension.stderr), "predicted": t.kinematic,
            "almt_low": t.kinematic_window[0], "almt_high": t.kinematic_window[1], "gordon": t.gordon,
            "measured": float(thr.value), "measured_low": float(thr.low), "measured_high": float(thr.high),
            "measured_summary": thr.summary(), "resolved": bool(thr.resolved),
            "max_curve_gap": max_gap, "n_trials": s.well_trials,
        })
        curves[f"{eps:.6g}"] = {"d": ds.tolist(), "measured": emp.rates.tolist(), "predicted": pgrid.tolist()}
        plot_success_curve(ds, emp.successes, s.well_trials, prediction=pred, ax=axes[i], legend=False,
                           label="measured (exact least squares)")
        axes[i].set_title(rf"$\epsilon$ = {frac:g} L($\theta_0$): $D-\delta$ = {pred.threshold.kinematic:.1f}",
                          fontsize="medium")
        if i:
            axes[i].set_ylabel("")
    handles, labels = axes[0].get_legend_handles_labels()
    keep = [k for k, lab in enumerate(labels) if not lab.startswith("$D")]   # D - delta is in each title
    fig.legend([handles[k] for k in keep], [labels[k] for k in keep], loc="lower center", ncol=4,
               fontsize="small", frameon=False)
    fig.suptitle(f"Quadratic well, D = {D}, power-law spectrum: exact least-squares tests vs kinematic formula",
                 fontsize="medium")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    _savefig(axes[0], os.path.join(out, "quadratic_success_curves.png"), tight=False)
    _write_csv(os.path.join(out, "quadratic_thresholds.csv"), rows)
    _write_json(os.path.join(out, "quadratic_thresholds.json"), {"rows": rows, "curves": curves})
    ax = plot_threshold_vs_eps([r["eps"] for r in rows], [r["predicted"] for r in rows],
                               [r["delta_stderr"] for r in rows], [r["measured"] for r in rows],
                               np.array([[r["measured_low"], r["measured_high"]] for r in rows]),
                               gordon=[r["gordon"] for r in rows], measured_resolved=[r["resolved"] for r in rows])
    ax.set_title(f"Quadratic well, D = {D}")
    _savefig(ax, os.path.join(out, "quadratic_threshold_vs_eps.png"))
    return {"D": D, "L0": L0, "rows": rows}


# ------------------------------------------------------------------------ part 2: MLP
def digits_network(settings=None):
    """The demo's network: ``(model, data, protocol)`` (digits MLP, training options), nothing trained yet."""
    from .models.datasets import load_digits
    from .models.mlp import MLP

    s = settings or DemoSettings.full()
    data = load_digits(seed=0)
    model = MLP([data.n_features, *s.hidden, data.n_classes])
    proto = dict(optimizer="momentum", lr=s.lr, steps=s.steps, batch_size=s.batch_size)
    return model, data, proto


def _check_out(out, s, seed):
    """Check an existing output directory before any work: its demo (settings, seed) and run store.

    ``demo.json`` records the settings and seed of the demo that writes into ``out``; the run
    store (``runs/``) and the direct-width stores (``widths/``) are resumed only by the same
    demo. Another one fails here, in a second, not after minutes of computing.
    """
    import dataclasses

    from .experiments.result_store import ResultStore
    from .experiments.sweeps import sweep_protocol

    record = {"settings": json.loads(json.dumps(dataclasses.asdict(s))), "seed": int(seed)}
    path = os.path.join(out, "demo.json")
    hint = "choose another --out directory or remove it"
    if os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as fh:
                stored = json.load(fh)
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: unreadable ({str(exc)[:200]}); {hint}") from None
        if stored != record:
            diff = sorted(k for k in set(stored.get("settings", {})) | set(record["settings"])
                          if stored.get("settings", {}).get(k) != record["settings"].get(k))
            what = ", ".join(diff + (["seed"] if stored.get("seed") != record["seed"] else []))
            raise ValueError(f"{out} holds the output of another demo protocol (differs in: {what or 'format'}); "
                             f"{hint}")
    model, data, proto = digits_network(s)
    try:
        ResultStore(os.path.join(out, "runs"), protocol=sweep_protocol(model, data, **proto))
    except ValueError as exc:
        raise ValueError(f"{out} holds the runs of another demo protocol (other settings?); choose another "
                         f"--out directory or remove {os.path.join(out, 'runs')} ({str(exc)[:300]})") from None
    if not os.path.exists(path):
        _write_json(path, record)


def _network_part(s, out, seed, log, progress, max_workers):
    import matplotlib.pyplot as plt

    from .theory.comparison import Comparison, calibrated_levels, compare, prediction_table
    from .plots import plot_spectrum, plot_success_curve
    from .theory.spectral_model import SpectralModel
    from .experiments.sweeps import sweep
    from .thresholds.measured import success_probability
    from .experiments.training import train_full

    model, data, proto = digits_network(s)
    D = int(model.n_params)
    log(f"digits MLP {model.sizes if hasattr(model, 'sizes') else ''} D={D}: full-space training to theta*")
    full = train_full(model, data, seed=0, progress=progress, **proto)
    theta_star = full.theta
    theta0 = full.theta - full.phi
    burn = train_full(model, data, seed=0, **{**proto, "steps": s.burn_in})
    theta_t = burn.theta
    X, y = data.X_train, data.y_train
    L_star = float(model.loss(theta_star, X, y))
    L0 = float(model.loss(theta0, X, y))
    Lt = float(model.loss(theta_t, X, y))
    levels = np.array([L_star + f * (L0 - L_star) for f in s.level_fractions])
    log(f"Hessian at theta* (Lanczos k={s.lanczos_k}, SLQ {s.slq_probes} probes x {s.slq_steps} steps)")
    opts = dict(k=s.lanczos_k, n_probes=s.slq_probes, n_steps=s.slq_steps, seed=seed, progress=progress)
    spec0 = SpectralModel.from_model(model, theta_star, theta0, X, y, **opts)
    spect = spec0.with_theta0(theta_t)  # the same Hessian at theta*, seen from the burn-in point
    log("predicting d*(eps) from the spectral model")
    ds = np.array([d for d in s.ds if d <= D])
    # the quadratic model gets L(theta0) wrong; calibrate it at the starting point (see
    # landscape.theory.comparison.calibrated_levels) and also record the uncalibrated prediction
    q0 = calibrated_levels(spec0, levels, L0)
    # the whole predicted curve P_s(d) on a log grid of d (the thresholds do not depend on it:
    # each level's draws come from (seed, level))
    curve_ds = np.unique(np.round(np.geomspace(1, D, 48)).astype(int))
    pred0 = prediction_table(spec0, q0, ds=curve_ds, n_samples=s.net_samples, seed=seed, label="random, t=0",
                             progress=progress)
    # levels at or above L(theta_t) are reached with d = 0 after burn-in: nothing to predict
    below_t = levels < Lt
    predt = None
    if below_t.any():
        qt = calibrated_levels(spect, levels[below_t], Lt)
        predt = prediction_table(spect, qt, ds=curve_ds, n_samples=s.net_samples, seed=seed,
                                 label=f"burn-in, t={s.burn_in}", progress=progress)
    raw_ok = levels > spec0.min_loss
    raw0 = prediction_table(spec0, levels[raw_ok], n_samples=s.net_samples, seed=seed,
                             label="random, t=0, uncalibrated")
    log(f"sweep: {len(ds)} values of d x {s.seeds} seeds x (t=0, t={s.burn_in})")
    table = sweep(model, data, ds, s.seeds, burn_in=(0, s.burn_in), store=os.path.join(out, "runs"),
                  progress=progress, max_workers=max_workers, **proto)
    table.to_csv(os.path.join(out, "network_runs.csv"))
    parts = [compare(pred0, table, levels=levels, kind="random", t=0, label="random, t=0")]
    if predt is not None:
        parts.append(compare(predt, table, levels=levels[below_t], kind="random", t=s.burn_in,
                             label=f"burn-in, t={s.burn_in}"))
    comp = Comparison.concat(parts)
    raw = compare(raw0, table, kind="random", t=0, label="random, t=0, uncalibrated model")
    widths = _direct_widths(s, model, data, proto, {0: theta0, s.burn_in: theta_t}, levels, comp, out, seed,
                            log, progress, max_workers)
    comp.to_csv(os.path.join(out, "network_comparison.csv"))
    comp.to_json(os.path.join(out, "network_comparison.json"))
    _write_json(os.path.join(out, "network_predictions.json"),
                {"t=0": pred0.rows(), f"t={s.burn_in}": predt.rows() if predt is not None else [],
                 "t=0 uncalibrated": raw0.rows(),
                 "curves": {p.label: [{"eps": float(e), "d": c.ds.tolist(), "P_s": c.probability.tolist()}
                                      for e, c in zip(lv, p.curves)]
                            for p, lv in ((pred0, levels), (predt, levels[below_t])) if p is not None},
                 "direct_widths": widths,
                 "measured_levels": levels.tolist(), "model_loss_at_theta0": spec0.loss_at_theta0,
                 "model_loss_at_theta_t": spect.loss_at_theta0,
                 "spectral_model": {"D": D, "n_groups": spec0.n_groups, "n_clipped": spec0.n_clipped,
                                    "most_negative": spec0.most_negative, "min_loss": L_star}})

    # figures: measured success rates (points) and predicted curves (lines), per level
    fig, axes = plt.subplots(1, len(levels), figsize=(4.2 * len(levels), 4.2), sharey=True, squeeze=False)
    axes = axes[0]
    for i, eps in enumerate(levels):
        ax = axes[i]
        for t, pred, lv, color in ((0, pred0, levels, "tab:blue"), (s.burn_in, predt, levels[below_t], "tab:orange")):
            cur = success_probability(table, "train_loss", float(eps), kind="random", t=t)
            shift = 1.0 if t == 0 else 1.06   # side by side, not on top of each other
            j = np.flatnonzero(np.abs(lv - eps) < 1e-12) if pred is not None else []
            plot_success_curve(cur.ds * shift, cur.successes, cur.n_trials, log_d=True, ax=ax, color=color,
                               label=f"measured, t={t}", prediction=pred.curves[j[0]] if len(j) else None,
                               prediction_label=f"predicted (calibrated model), t={t}", details=False,
                               legend=False)
        ax.set_title(rf"$L \leq$ {eps:.3f} ($L^*$ = {L_star:.3f})", fontsize="medium")
        if i:
            ax.set_ylabel("")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize="small", frameon=False)
    fig.suptitle(f"Digits MLP, D = {D}: subspace training ({s.seeds} seeds per d) against the predicted "
                 "P_s(d)", fontsize="medium")
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    _savefig(axes[0], os.path.join(out, "network_success_curves.png"), tight=False)
    _savefig(comp.plot(), os.path.join(out, "network_predicted_vs_measured.png"))

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.5, 3.8))
    top = spec0.raw_eigenvalues[: s.lanczos_k]
    plot_spectrum(top, ax=a1, label=f"top {s.lanczos_k} (Lanczos)")
    a1.set_title(r"Hessian at $\theta^*$: top eigenvalues")
    # every eigenvalue, the negative ones too (the model clips them to 0; a symmetric-log axis shows them)
    plot_spectrum(spec0.raw_eigenvalues, weights=spec0.multiplicities, ax=a2, label="Lanczos + SLQ groups")
    a2.set_title(f"whole spectrum ({spec0.n_groups} groups)")
    _savefig(a1, os.path.join(out, "network_hessian_spectrum.png"))
    return {"D": D, "L_star": L_star, "L0": L0, "Lt": Lt, "levels": levels.tolist(), "comparison": comp,
            "raw": raw, "model_L0": spec0.loss_at_theta0, "model_Lt": spect.loss_at_theta0,
            "spectral": spec0, "n_runs": len(table), "full_train_acc": float(full.metrics["train_acc"]),
            "model": model, "data": data, "theta0": theta0, "theta_star": theta_star, "runs": table,
            "pred0": pred0, "widths": widths}


def _direct_widths(s, model, data, proto, starts, levels, comp, out, seed, log, progress, max_workers):
    """D - w^2 from the direct width of the real sub-level set (no model, no calibration), into
    the comparison rows (``direct``, ``direct_stderr``, ``direct_ratio`` = measured / direct)."""
    import concurrent.futures as cf
    import multiprocessing

    from .theory.sublevel_widths import sublevel_width

    X, y = data.X_train, data.y_train
    cone_proto = dict(optimizer=proto["optimizer"], lr=proto["lr"], batch_size=proto["batch_size"],
                      steps=proto["steps"])
    found = {}
    n = max(1, min(max_workers or os.cpu_count() or 1, s.width_samples))
    with cf.ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn")) as ex:
        for t, theta_s in starts.items():
            L_s = float(model.loss(theta_s, X, y))
            for i, eps in enumerate(levels):
                if eps >= L_s:
                    continue
                log(f"direct width of S(eps = {eps:.4g}) from theta_{t}: {s.width_samples} directions")
                found[(t, float(eps))] = sublevel_width(
                    model, float(eps), theta_s, data=data, n_samples=s.width_samples, seed=seed, executor=ex,
                    progress=progress, store=os.path.join(out, "widths", f"t{t}-level{i}"), **cone_proto)
    for r in comp.rows:
        t = 0 if r["label"].startswith("random") else s.burn_in
        res = next((v for (tt, e), v in found.items() if tt == t and abs(e - r["eps"]) <= 1e-12 * abs(e)), None)
        r["direct"] = None if res is None else float(res.threshold.value)
        r["direct_stderr"] = None if res is None else float(res.threshold.stderr)
        r["direct_ratio"] = (None if res is None or not res.threshold.value > 0
                             else float(r["measured"] / res.threshold.value))
    return [{"t": t, **res.as_dict()} for (t, _), res in found.items()]


def _direct_reading(comp):
    """One sentence on measured / direct."""
    ratios = [r["direct_ratio"] for r in comp.rows if r.get("direct_ratio") is not None
              and np.isfinite(r["direct_ratio"])]
    if not ratios:
        return "(no direct width: every level lies above the loss at the starting point)"
    lo, hi = min(ratios), max(ratios)
    side = "above" if lo > 1 else "below" if hi < 1 else "on both sides of"
    return (f"Direct width: measured d* / (D - w^2) ranges from {lo:.2f} to {hi:.2f}; the measured thresholds "
            f"lie {side} Gordon's D - w^2 of the real sub-level set.")


# ------------------------------------------------------------------------ part 4: five answers
def _dimensions_part(s, out, seed, log, progress, net):
    """Part 4: the five effective dimensions of the digits MLP, reusing part 2's runs, spectral
    model, predictions and direct widths; the LLC at each gamma of ``s.llc_gammas``."""
    from .plots import plot_effective_dimensions
    from .theory.dimensions import effective_dimensions
    from .theory.local_learning_coefficient import learning_coefficient

    t0 = time.perf_counter()
    model, data, spec = net["model"], net["data"], net["spectral"]
    n = data.n_train
    nbeta = n / np.log(n)
    h_max = float(spec.eigenvalues.max())
    llcs = []
    for g in s.llc_gammas:
        log(f"local learning coefficient at theta* (gamma = {g:g}): {s.llc_chains} SGLD chains x {s.llc_steps} steps")
        llcs.append(learning_coefficient(model, net["theta_star"], data=data, gamma=g,
                                         step_size=0.1 / (nbeta * h_max + g), n_chains=s.llc_chains,
                                         n_steps=s.llc_steps, n_burnin=s.llc_burnin, seed=seed, progress=progress))
    levels = net["levels"]
    widths = [next((w for w in net["widths"] if w["t"] == 0 and abs(w["eps"] - e) <= 1e-12 * abs(e)), None)
              for e in levels]
    dims = effective_dimensions(model, net["theta0"], net["theta_star"], levels, data=data, runs=net["runs"],
                                spectral=spec, predictions=net["pred0"], widths=widths, llc=llcs[0], seed=seed,
                                progress=progress, label="digits MLP, random subspaces through theta0")
    dims.to_csv(os.path.join(out, "effective_dimensions.csv"))
    dims.to_json(os.path.join(out, "effective_dimensions.json"))
    _write_json(os.path.join(out, "learning_coefficients.json"), [r.as_dict() for r in llcs])
    ax = plot_effective_dimensions(dims)
    ax.set_title(f"Digits MLP, D = {dims.D}: five answers to 'how many parameters matter?'", fontsize="medium")
    _savefig(ax, os.path.join(out, "effective_dimensions.png"))
    stiff = {g: int(spec.multiplicities[nbeta * spec.eigenvalues > g].sum()) for g in s.llc_gammas}
    # what 2 lambda would be if the loss were its quadratic model at theta*
    quad = {g: float(np.sum(spec.multiplicities * nbeta * spec.eigenvalues / (nbeta * spec.eigenvalues + g)))
            for g in s.llc_gammas}
    return {"table": dims, "llcs": llcs, "nbeta": nbeta, "stiff": stiff, "quadratic": quad,
            "seconds": time.perf_counter() - t0}


def _dimensions_lines(s, dims):
    """Report section 4."""
    table, llcs = dims["table"], dims["llcs"]
    r0 = table.rows[0]
    lines = ["## 4. Five answers to \"how many parameters matter?\"", "",
             f"The same digits MLP (D = {table.D}), the same runs, Hessian and direct widths as part 2 "
             "(random subspaces through theta0, the calibrated quadratic model), and the local learning "
             f"coefficient at theta* by SGLD (`landscape.learning_coefficient`: n*beta = n/log n = "
             f"{dims['nbeta']:.1f}, {s.llc_chains} chains x {s.llc_steps} steps, burn-in {s.llc_burnin}, step "
             "0.1/(n*beta*h_max + gamma)); effective ranks of the Lanczos + SLQ spectrum "
             f"(`landscape.effective_ranks`). Part 4 took {dims['seconds']:.0f} s.", "",
             table.to_markdown(), "",
             "2 lambda depends on the localisation gamma (the estimate above uses the first):", "",
             "| gamma | 2 lambda (± se) | quadratic model: sum n*beta*h / (n*beta*h + gamma) | "
             "eigenvalues with n*beta*h > gamma | SGLD step | R-hat |", "|---|---|---|---|---|---|"]
    for r in llcs:
        lines.append(f"| {r.gamma:g} | {r.dimension:.1f} ± {2 * r.stderr:.1f} | {dims['quadratic'][r.gamma]:.1f} | "
                     f"{dims['stiff'][r.gamma]} | {r.step_size:.3g} | {r.rhat:.3f} |")
    ds = table.column("d_star")
    reading = [f"Reading: the measured d* runs from {ds.max():.0f} to {ds.min():.0f} as eps rises, and so do "
               "D - delta and D - w^2: they measure how large the set of good parameters looks from theta0. "
               f"2 lambda ({r0['two_llc']:.1f} at gamma = {r0['llc_gamma']:g}) and the Hessian's effective ranks "
               f"(count above {r0['rank_fraction']:g} of the top eigenvalue {r0['rank_threshold']:.0f}, participation "
               f"ratio {r0['participation_ratio']:.0f}, entropy rank {r0['entropy_rank']:.0f}) depend on theta* "
               "alone: they count the directions in which the loss rises around the minimum, not how many a "
               "random subspace needs to reach a level from far away."]
    two = [r.dimension for r in llcs]
    if len(two) > 1 and max(two) > 1.5 * min(two):
        reading.append(f"At this temperature the LLC is set by the localisation: 2 lambda goes from {two[0]:.1f} "
                       f"to {two[-1]:.1f} as gamma goes from {llcs[0].gamma:g} to {llcs[-1].gamma:g}; the posterior "
                       "sees only the directions whose curvature n*beta*h_i exceeds gamma (each contributes about 1, "
                       "a flatter one about n*beta*h_i/gamma on a quadratic), and at L* near 0 the Hessian of "
                       "the cross-entropy is small.")
    ratio = [r.dimension / dims["quadratic"][r.gamma] for r in llcs if dims["quadratic"][r.gamma] > 0]
    if ratio:
        reading.append(f"The SGLD value is {min(ratio):.1f} to {max(ratio):.1f} times what the quadratic model at "
                       "theta* gives: the chains reach parameters where the loss rises faster than the Hessian at "
                       "theta* says.")
    lines += ["", " ".join(reading), "", "![effective dimensions](effective_dimensions.png)", ""]
    return lines


# ------------------------------------------------------------------------ part 3: methods
def _methods_part(s, out, log, progress, max_workers, net):
    """Random, burn-in and lottery subspaces and lottery tickets of the digits MLP, in one unit (d)."""
    import matplotlib.pyplot as plt

    from .experiments.result_store import ResultStore
    from .experiments.sweeps import sweep
    from .plots import plot_methods
    from .thresholds.methods import method_thresholds

    import concurrent.futures as cf
    import multiprocessing

    model, data, proto = digits_network(s)
    D = int(model.n_params)
    ds = [d for d in s.ds if d <= D]
    # lottery subspaces succeed at the smallest d already; above 256 they only cost time
    lottery_ds = [d for d in ds if d <= 256]
    t0 = time.perf_counter()
    log(f"method comparison: lottery subspaces ({len(lottery_ds)} values of d) and lottery tickets "
        f"({len(ds)} values of d) x {s.seeds} seeds")
    store = os.path.join(out, "runs")
    n = max(1, min(max_workers or os.cpu_count() or 1, 8))
    with cf.ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn")) as ex:
        for kind, kind_ds in (("lottery", lottery_ds), ("ticket", ds)):
            sweep(model, data, kind_ds, s.seeds, kinds=(kind,), include_full=False, store=store, executor=ex,
                  progress=progress, **proto)
    table = ResultStore(store).table()
    eps = float(net["levels"][len(net["levels"]) // 2])
    ests = method_thresholds(table, "train_loss", eps, seed=0)
    rows = [{"method": label, "eps": eps, "d_star": e.value, "ci_low": e.ci[0], "ci_high": e.ci[1],
             "bracket_low": e.bracket[0], "bracket_high": e.bracket[1], "censored": e.censored or ""}
            for label, e in ests.items()]
    _write_csv(os.path.join(out, "methods_thresholds.csv"), rows)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.4))
    plot_methods(table, eps, ax=a1, metric="train_loss")
    plot_methods(table, eps, ax=a2, metric="train_loss", y="metric")
    a2.set_yscale("log")
    fig.suptitle(f"Digits MLP, D = {D}: four ways of cutting the degrees of freedom ({s.seeds} seeds per d)",
                 fontsize="medium")
    _savefig(a1, os.path.join(out, "methods_comparison.png"))
    return {"eps": eps, "thresholds": ests, "n_runs": len(table.select(kind=["lottery", "ticket"])),
            "seconds": time.perf_counter() - t0}


def _methods_lines(s, methods):
    ests, eps = methods["thresholds"], methods["eps"]
    lines = ["## 3. Four ways of cutting the degrees of freedom", "",
             "Random subspaces through theta0, burn-in subspaces through theta_t, lottery subspaces (top singular "
             "directions of a full training run) and lottery tickets (2 epochs of pre-training, global magnitude "
             "pruning of the weight matrices, rewind to theta0, masked retraining with momentum SGD and the "
             "reference code's learning-rate schedule; the biases stay free) on the same MLP, seeds and budget of "
             f"steps. d counts trainable degrees of freedom for all four: the subspace dimension, or a ticket's "
             f"number of free parameters. Success: final train loss <= eps = {eps:.4f}; d* by interpolation with "
             f"the 95% interval of `threshold_dimension` ({methods['n_runs']} lottery-subspace and ticket runs, "
             f"{methods['seconds']:.0f} s).", "",
             "| method | d* | 95% interval | between tested d |", "|---|---|---|---|"]
    for label, e in ests.items():
        value = {"below": f"< {e.bracket[1]:.0f}", "above": f"> {e.bracket[0]:.0f}"}.get(e.censored, f"{e.value:.1f}")
        lines.append(f"| {label} | {value} | [{e.ci[0]:.1f}, {e.ci[1]:.1f}] | {e.bracket} |")
    rnd, lot = ests.get("random subspace"), ests.get("lottery subspace")
    if rnd is not None and lot is not None:
        lo_r = rnd.bracket[0] if rnd.censored != "below" else 0.0
        hi_l = lot.bracket[1]
        if lo_r > 0 and np.isfinite(hi_l) and hi_l > 0:
            lines += ["", f"Reading: lottery subspaces reach the level with at least {lo_r / hi_l:.0f} times fewer "
                          f"dimensions than random ones (d* of random subspaces above {lo_r:.0f}, of lottery "
                          f"subspaces at most {hi_l:.0f}): the directions a full training run moves along are "
                          "the ones that matter, the known result of Larsen et al."]
    lines += ["", "![methods](methods_comparison.png)", ""]
    return lines


# ------------------------------------------------------------------------ report
def _report(out, s, quad, net, seconds, methods=None, dims=None):
    lines = ["# dof-geometry demo report", "",
             f"Written by `python -m landscape demo` in {seconds:.0f} s.", ""]
    lines += ["## 1. Quadratic well: prediction vs exact experiment", "",
              f"L(theta) = 1/2 sum_i lambda_i theta_i^2 with lambda_i = i^-{s.well_alpha:g}, D = {quad['D']}, "
              f"theta0 at distance {s.well_distance:g} from the minimum (L(theta0) = {quad['L0']:.4g}). "
              f"Success of a random subspace is decided exactly by least squares ({s.well_trials} subspaces "
              "per d); the prediction is the kinematic formula with conic intrinsic volumes estimated "
              "from projections onto the cone of directions into the sub-level set.", "",
              "![success curves](quadratic_success_curves.png)", "",
              "Measured d* [95% interval]: `threshold_dimension` on the exact outcomes (one seed per subspace "
              "family, nested in d); the interval covers the binomial noise and the spacing of the tested d.", "",
              "| eps | D - delta (predicted) | ALMT window (eta = 0.1) | Gordon: fails for d <= | measured d* [95% interval] | max abs gap of P_s curves |",
              "|---|---|---|---|---|---|"]
    for r in quad["rows"]:
        lines.append(f"| {r['eps']:.4g} | {r['predicted']:.1f} ± {r['delta_stderr']:.1f} | "
                     f"[{r['almt_low']:.0f}, {r['almt_high']:.0f}] | {r['gordon']} | "
                     f"{r['measured_summary']} | {r['max_curve_gap']:.3f} |")
    worst = max((abs(r["measured"] - r["predicted"]) for r in quad["rows"] if np.isfinite(r["measured"])), default=np.nan)
    lines += ["", f"Reading: the measured thresholds lie within {worst:.1f} of D - delta "
              f"(sqrt(D) = {np.sqrt(quad['D']):.1f}), and the whole predicted curve follows the measured "
              f"one to within {max(r['max_curve_gap'] for r in quad['rows']):.3f} in probability. Gordon's "
              "bound is one-sided and conservative: at confidence 0.9 it guarantees failure only for d <= "
              f"{max(r['gordon'] for r in quad['rows'])} at the lowest level (0 means it guarantees nothing "
              "beyond d = 0: w^2 is close to D when the cone is wide).", "",
              "![threshold vs eps](quadratic_threshold_vs_eps.png)", ""]
    comp = net["comparison"]
    lines += ["## 2. Digits MLP: prediction from the Hessian vs measured subspace training", "",
              f"MLP with hidden layers {list(s.hidden)} on scikit-learn's digits, D = {net['D']} parameters; "
              f"SGD with momentum, lr {s.lr}, {s.steps} steps, batch {s.batch_size}. Full-space training reaches "
              f"L* = {net['L_star']:.4f} (train accuracy {net['full_train_acc']:.3f}) from L(theta0) = {net['L0']:.3f}; "
              f"after t = {s.burn_in} burn-in steps L(theta_t) = {net['Lt']:.3f}. Levels eps = L* + f (L(theta0) - L*) "
              f"for f in {list(s.level_fractions)}; a run succeeds when its final train loss is <= eps. "
              f"{net['n_runs']} runs. The Hessian at theta* is modelled by its top {s.lanczos_k} eigenpairs and "
              f"an SLQ bulk ({net['spectral'].n_groups} eigenvalue groups; {net['spectral'].n_clipped} negative "
              "eigenvalues clipped to 0).", "",
              f"The quadratic model puts the loss at theta0 at {net['model_L0']:.3g} instead of the measured "
              f"{net['L0']:.3g} (and at theta_t {net['model_Lt']:.3g} instead of {net['Lt']:.3g}). The predictions "
              "below use the model calibrated at the starting point (Hessian rescaled so that the model "
              "reproduces the measured loss there; `landscape.theory.comparison.calibrated_levels`): a level eps is "
              "predicted at the same fraction of the loss drop under the model. Column eps is the measured level. "
              "Column 'direct D - w^2' needs no model and no calibration: the Gaussian width w of the directions "
              "from the starting point into the network's own sub-level set, measured by training inside "
              f"circular cones (`landscape.sublevel_width`, {s.width_samples} Gaussian directions, each cone test "
              "with the sweep's optimizer and budget; each value a certified lower bound on w, so D - w^2 errs "
              "high). Gordon's theorem makes D - w^2 a lower bound on d*, tight for convex sets.", "",
              "Measured d* [95% interval] from `threshold_dimension`: the interval covers the binomial noise of "
              f"the {s.seeds} seeds and the spacing of the tested d ('between a and b' when no tested d lies "
              "inside the transition, drawn as a bracket in the figure; '< d' or '> d' outside the tested range).", "",
              comp.to_markdown(), "",
              _direct_reading(comp), "",
              "Without calibration (the raw quadratic model at the same absolute levels):", "",
              net["raw"].to_markdown() if len(net["raw"]) else "(every level lies above the model's loss at theta0)", "",
              "![success curves](network_success_curves.png)", "",
              "![predicted vs measured](network_predicted_vs_measured.png)", "",
              "![spectrum](network_hessian_spectrum.png)", ""]
    ratios = [r["ratio"] for r in comp.rows if np.isfinite(r["ratio"])]
    if ratios:
        text = [f"Reading: measured/predicted ratios range from {min(ratios):.2g} to {max(ratios):.2g}."]
        if max(ratios) < 1:
            text.append("Every measured threshold is below the prediction: the quadratic model sees only the "
                        "ellipsoidal basin of theta*, while the real sub-level set of a network is much larger "
                        "(many minima and connected low-loss valleys), so more subspaces reach it.")
        elif min(ratios) > 1:
            text.append("Every measured threshold is above the prediction: with a finite training budget a "
                        "subspace that meets the sub-level set may still not reach it in the allotted steps.")
        else:
            text.append("The prediction errs both ways: the quadratic model misses low-loss regions away from "
                        "theta* (which lowers the measured d*), and the finite training budget raises it.")
        text.append("Behind this is a landscape between theta0 and theta* that is far from quadratic "
                    "(see the model's loss at theta0 above).")
        by = {(r["label"].split(",")[0], r["eps"]): r for r in comp.rows}
        pairs = [(by[k], by[("burn-in", k[1])]) for k in by if k[0] == "random" and ("burn-in", k[1]) in by]
        if pairs:
            down_pred = sum(b["predicted"] < a["predicted"] for a, b in pairs)
            down_meas = sum(b["measured"] <= a["measured"] for a, b in pairs)
            text.append(f"Burn-in ({s.burn_in} full-space steps) lowers the predicted d* at {down_pred} of "
                        f"{len(pairs)} levels and the measured d* is lower or equal at {down_meas} of {len(pairs)}.")
        lines += [" ".join(text), ""]
    if methods is not None:
        lines += _methods_lines(s, methods)
    if dims is not None:
        lines += _dimensions_lines(s, dims)
    with open(os.path.join(out, "report.md"), "w") as fh:
        fh.write("\n".join(lines))


def run_demo(out, *, settings=None, seed=0, progress=None, max_workers=None):
    """Run the demo and write figures, tables and ``report.md`` into ``out``.

    Parameters
    ----------
    out : str or os.PathLike
        Output directory (created if needed).
    settings : DemoSettings, optional
        Default :meth:`DemoSettings.full` (about 2 minutes on 2 idle cores: 128 s of CPU
        time measured; longer on a loaded machine).
    seed : int
    progress : bool or None
        Progress lines (one per step, with the elapsed time) unless False, and tqdm bars
        on the long steps (training, Hessian, sweep) when a person is watching (None, the
        default: a terminal or a notebook) or always (True).
    max_workers : int, optional
        Worker processes of the sweep (default: CPU count).

    Returns
    -------
    dict
        Paths of the files written.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    s = settings or DemoSettings.full()
    os.makedirs(out, exist_ok=True)
    _check_out(out, s, seed)
    log = _Log(progress is not False)
    t0 = time.perf_counter()
    quad = _quadratic_part(s, out, seed, log, progress)
    net = _network_part(s, out, seed, log, progress, max_workers)
    methods = _methods_part(s, out, log, progress, max_workers, net)
    dims = _dimensions_part(s, out, seed, log, progress, net)
    _report(out, s, quad, net, time.perf_counter() - t0, methods, dims)
    log(f"done: {os.path.join(out, 'report.md')}")
    return {name: os.path.join(out, name) for name in sorted(os.listdir(out))}
