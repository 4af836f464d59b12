"""Direct Gaussian widths of networks' sub-level sets, beside the quadratic model and measured d*.

Usage::

    python benchmarks/sublevel_widths.py              # speed + digits MLP (about 30 min on 2 cores)
    python benchmarks/sublevel_widths.py --fashion    # + Fashion-MNIST Conv-2 (hours on 2 cores)
    python benchmarks/sublevel_widths.py --only fashion   # one part; the others from the last JSON
    python benchmarks/sublevel_widths.py --quick      # smoke run (< 1 min), prints only

Writes its section of ``benchmarks/RESULTS.md`` (between the markers
``<!-- begin: sublevel_widths -->`` and ``<!-- end: sublevel_widths -->``, which
``benchmarks/run.py`` keeps when it rewrites the file) and the numbers as JSON
(``benchmarks/sublevel_widths.json``).

Two parts:

1. **Speed.** One width estimate on the digits MLP (D = 1210) with 32 samples on 2 worker
   processes; training steps per sample; the cost per sample as D grows (hidden widths 16,
   32, 64), against a same-process baseline: the same number of plain (unprojected)
   optimizer steps, interleaved.
2. **The network table.** For the digits MLP (the demo's protocol) and, with ``--fashion``,
   the Fashion-MNIST Conv-2 (conv 16, conv 32, dense; D = 20,490): for random subspaces
   through theta_t, t in {0, a few, many} burn-in steps, and loss levels
   eps = L* + f (L(theta0) - L*):
   D - w^2 from the direct width (:func:`landscape.sublevel_width`, no calibration), with
   the sweep's own optimizer and budget per cone test and with a stronger optimizer; the
   quadratic-model prediction D - delta raw and calibrated
   (:func:`landscape.theory.comparison.prediction_table`, ``calibrated_levels``,
   ``SpectralModel.from_model``); the measured d* with its interval
   (:func:`landscape.thresholds.threshold_dimension`); and the ratios measured / predicted.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime
import json
import multiprocessing
import os
import sys
import tempfile
import time

# one thread per process (torch's intra-op pool included): the work is spread over worker processes
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for p in (HERE, ROOT):
    if p not in sys.path:
        sys.path.insert(0, p)

from harness import fmt_seconds, table  # noqa: E402

MARK = "sublevel_widths"


def _log(msg, t0=[time.perf_counter()]):
    print(f"[{time.perf_counter() - t0[0]:7.1f} s] {msg}", file=sys.stderr, flush=True)


def _pool(workers):
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


# ----------------------------------------------------------------------------- models
def digits_setup(hidden=(16,)):
    from landscape.models.datasets import load_digits
    from landscape.models.mlp import MLP

    data = load_digits(seed=0)
    model = MLP([data.n_features, *hidden, data.n_classes])
    return model, data


class _Conv2(object):
    """Factory of the Fashion-MNIST Conv-2 (the TinyCNN of the paper's code)."""

    @staticmethod
    def build():
        import torch

        from landscape.torch import TorchModel

        # built under a fixed seed: the model's spec (a sweep store's protocol) fingerprints its
        # current parameters, so a re-run must build the same ones to resume its stores
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            net = torch.nn.Sequential(
                torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                torch.nn.Flatten(), torch.nn.Linear(32 * 7 * 7, 10))
        return TorchModel(net.float(), input_shape=(1, 28, 28), dtype=torch.float32)


def fashion_setup(n_train):
    from landscape.models.datasets import load_fashion_mnist

    data = load_fashion_mnist(n_train=n_train, n_test=1000, seed=0)
    return _Conv2.build(), data


# ----------------------------------------------------------------------------- part 1: speed
def speed_section(quick, workers):
    from landscape import sublevel_width
    from landscape.experiments.optim import make_optimizer
    from landscape.experiments.training import train_full
    from threadpoolctl import threadpool_limits

    protocol = dict(optimizer="momentum", lr=0.3, batch_size=128)
    rows, out = [], {}
    n_main = 4 if quick else 32
    model, data = digits_setup((16,))
    full = train_full(model, data, seed=0, steps=300, **protocol)
    theta0 = full.theta - full.phi
    X, y = data.X_train, data.y_train
    Ls, L0 = model.loss(full.theta, X, y), model.loss(theta0, X, y)
    eps = Ls + 0.1 * (L0 - Ls)
    configs = {"sweep protocol (momentum, batch 128, 300 steps per test)": dict(steps=300, **protocol),
               "stronger (APG full batch, lr 0.5, 1000 steps per test)": dict(optimizer="apg", lr=0.5,
                                                                              steps=1000, check_every=5)}
    for name, kw in configs.items():
        if quick and kw.get("optimizer") == "apg":
            continue
        _log(f"speed: {name}, {n_main} samples, {workers} workers")
        with _pool(workers) as ex:
            t0 = time.perf_counter()
            res = sublevel_width(model, eps, theta0, data=data, n_samples=n_main, seed=1, executor=ex,
                                 progress=False, **kw)
            wall = time.perf_counter() - t0
        rows.append([name, model.n_params, n_main, f"{wall:.1f} s", f"{res.steps.mean():.0f}",
                     f"{res.n_tests.mean():.1f}", f"{res.width.value:.3f} ± {res.width.stderr:.3f}",
                     f"{res.threshold.value:.1f} ± {res.threshold.stderr:.1f}"])
        out[name] = {"D": model.n_params, "n_samples": n_main, "wall_time": wall,
                     "steps_per_sample": float(res.steps.mean()), "tests_per_sample": float(res.n_tests.mean()),
                     "width": res.width.value, "width_stderr": res.width.stderr,
                     "D_minus_w2": res.threshold.value, "D_minus_w2_stderr": res.threshold.stderr}
    md = [f"One width estimate on the digits MLP (D = {model.n_params}, eps = L* + 0.1 (L(theta0) - L*) = "
          f"{eps:.3f}), {workers} worker processes, wall time of the whole call (full-space run included).", "",
          table(["protocol", "D", "samples", "wall time", "steps / sample", "tests / sample", "w",
                 "D - w^2"], rows), ""]

    # cost against D, per sample, against a same-process baseline of plain optimizer steps
    _log("speed: cost against D")
    scal_rows, per_step, Ds = [], [], []
    hiddens = ((8,), (16,)) if quick else ((16,), (32,), (64,))
    n_scal = 1 if quick else 6
    for hidden in hiddens:
        model, data = digits_setup(hidden)
        full = train_full(model, data, seed=0, steps=300, **protocol)
        theta0 = full.theta - full.phi
        X, y = data.X_train, data.y_train
        Ls, L0 = model.loss(full.theta, X, y), model.loss(theta0, X, y)
        eps = Ls + 0.1 * (L0 - Ls)
        times, steps = [], []
        base = []
        for rep in range(n_scal):
            t0 = time.perf_counter()
            res = sublevel_width(model, eps, theta0, data=data, G=None, n_samples=2, seed=100 + rep,
                                 executor="serial", progress=False, steps=300, **protocol)
            times.append(time.perf_counter() - t0)
            n_steps = int(res.total_steps)
            steps.append(n_steps)
            # baseline, interleaved: the same number of plain minibatch momentum steps and
            # one full-data loss per 10 steps (the checks), no projection
            opt = make_optimizer("momentum", 0.3)
            state = opt.init(model.n_params)
            x = theta0.copy()
            rng = np.random.default_rng(rep)
            with threadpool_limits(1):  # as the estimator's samples run
                t0 = time.perf_counter()
                for k in range(n_steps):
                    idx = rng.permutation(X.shape[0])[:128]
                    _, g = model._loss_and_grad(x, X[idx], y[idx])
                    opt.step(x, g, state)
                    if k % 10 == 0:
                        model._loss(x, X, y)
                base.append(time.perf_counter() - t0)
        t_step = np.sum(times) / np.sum(steps)
        b_step = np.sum(base) / np.sum(steps)
        per_step.append(t_step)
        Ds.append(model.n_params)
        scal_rows.append([model.n_params, f"{np.sum(steps) / (2 * n_scal):.0f}", fmt_seconds(np.sum(times) / (2 * n_scal)),
                          fmt_seconds(t_step), fmt_seconds(b_step), f"{t_step / b_step:.2f}x"])
    k = float(np.polyfit(np.log(Ds), np.log(per_step), 1)[0])
    out["scaling"] = {"D": Ds, "seconds_per_step": per_step, "exponent": k}
    md += [f"Cost against D (hidden widths {', '.join(str(h[0]) for h in hiddens)}; sweep protocol, one "
           f"worker, {2 * n_scal} samples each). Baseline: the same number of plain momentum steps on "
           "minibatches of 128 with a full-data loss every 10 steps, no projection, one BLAS thread as in "
           "the estimator, measured right after each estimate in the same process.", "",
           table(["D", "steps / sample", "time / sample", "time / step", "baseline / step",
                  "ratio to baseline"], scal_rows), "",
           f"Time per step grows like D^{k:.2f} here (a step is a forward and backward pass of the MLP, "
           "O(D) per example, plus an O(D) projection); the steps per sample depend on the geometry "
           "and the tolerance (about log2(1/tol) tests), not on D directly.", ""]
    return "\n".join(md), out


# ----------------------------------------------------------------------------- part 2: the table
def network_rows(label, model, data, *, protocol, ts, fractions, ds, seeds, strong, n_samples,
                 n_samples_strong, spectral_opts, workers, store_dir, net_samples, basis="orthonormal",
                 check_every=None):
    """Rows of the comparison for one network; returns (rows, meta)."""
    from landscape import sublevel_width
    from landscape.experiments.sweeps import sweep
    from landscape.experiments.training import train_full
    from landscape.theory.comparison import calibrated_levels, prediction_table
    from landscape.theory.spectral_model import SpectralModel
    from landscape.thresholds.measured import threshold_dimension

    X, y = data.X_train, data.y_train
    D = int(model.n_params)
    _log(f"{label}: full-space training (D = {D})")
    full = train_full(model, data, seed=0, **protocol)
    theta_star = full.theta
    theta0 = full.theta - full.phi
    L_star, L0 = float(model.loss(theta_star, X, y)), float(model.loss(theta0, X, y))
    levels = [L_star + f * (L0 - L_star) for f in fractions]
    starts = {0: theta0}
    for t in ts:
        if t:
            starts[t] = train_full(model, data, seed=0, **{**protocol, "steps": t}).theta
    _log(f"{label}: sweep over {len(ds)} d x {seeds} seeds x t in {list(ts)}")
    runs = sweep(model, data, ds, seeds, burn_in=tuple(ts), store=os.path.join(store_dir, f"{label}-runs"),
                 progress=False, max_workers=workers, basis=basis, **protocol)
    rows = []
    cone_proto = dict(optimizer=protocol["optimizer"], lr=protocol["lr"], batch_size=protocol.get("batch_size"),
                      steps=protocol["steps"], check_every=check_every)
    with _pool(workers) as ex:
        for t in ts:
            theta_t = starts[t]
            L_t = float(model.loss(theta_t, X, y))
            _log(f"{label}: Hessian model at theta* seen from theta_{t}")
            spec = SpectralModel.from_model(model, theta_star, theta_t, X, y, **spectral_opts)
            for f, eps in zip(fractions, levels):
                row = {"network": label, "D": D, "t": t, "f": f, "eps": eps, "L_t": L_t, "L_star": L_star,
                       "model_L_t": spec.loss_at_theta0}
                meas = threshold_dimension(runs, "train_loss", eps, seed=0, kind="random", t=t)
                row.update(measured=float(meas.value), measured_low=float(meas.ci[0]),
                           measured_high=float(meas.ci[1]), censored=meas.censored or "")
                if eps >= L_t:
                    row.update(inside=True)
                    rows.append(row)
                    continue
                _log(f"{label}: t={t}, eps={eps:.4g}: predictions and direct widths")
                raw = prediction_table(spec, [eps], n_samples=net_samples, seed=0).predictions[0]
                cal = prediction_table(spec, calibrated_levels(spec, [eps], L_t), n_samples=net_samples,
                                       seed=0).predictions[0]
                row.update(raw=raw.kinematic, raw_stderr=raw.kinematic_stderr, calibrated=cal.kinematic,
                           calibrated_stderr=cal.kinematic_stderr, inside=False)
                direct = sublevel_width(model, eps, theta_t, data=data, n_samples=n_samples, seed=1,
                                        executor=ex, progress=False,
                                        store=os.path.join(store_dir, f"{label}-width-t{t}-f{f}"), **cone_proto)
                row.update(direct=direct.threshold.value, direct_stderr=direct.threshold.stderr,
                           direct_w=direct.width.value, direct_steps=float(direct.steps.mean()),
                           direct_gordon=direct.gordon)
                if strong is not None:
                    sd = sublevel_width(model, eps, theta_t, data=data, n_samples=n_samples_strong, seed=1,
                                        executor=ex, progress=False,
                                        store=os.path.join(store_dir, f"{label}-strong-t{t}-f{f}"), **strong)
                    row.update(strong=sd.threshold.value, strong_stderr=sd.threshold.stderr,
                               strong_steps=float(sd.steps.mean()))
                rows.append(row)
    meta = {"network": label, "D": D, "L_star": L_star, "L0": L0, "levels": levels, "ts": list(ts),
            "protocol": {k: v for k, v in protocol.items()}, "seeds": seeds, "ds": list(ds), "basis": basis,
            "n_train": int(data.n_train),
            "n_samples": n_samples, "n_samples_strong": n_samples_strong, "strong": strong,
            "train_acc": float(full.metrics["train_acc"])}
    return rows, meta


def _fmt(v, se=None, digits=0):
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "-"
    s = f"{v:.{digits}f}"
    return s + (f" ± {se:.{digits}f}" if se is not None else "")


def _ratio(meas, pred):
    if pred is None or not np.isfinite(meas) or pred <= 0:
        return "-"
    return f"{meas / pred:.2f}"


def table_markdown(rows, strong=True):
    head = ["t", "eps", "direct D - w^2"] + (["direct, stronger optimizer"] if strong else []) + \
        ["quadratic raw D - delta", "quadratic calibrated", "measured d* (95% CI)",
         "measured / direct"] + (["measured / stronger"] if strong else []) + ["measured / raw",
                                                                                "measured / calibrated"]
    out = []
    for r in rows:
        meas = f"{r['measured']:.0f} [{r['measured_low']:.0f}, {r['measured_high']:.0f}]"
        if r["censored"]:
            meas += f" ({r['censored']})"
        if r.get("inside"):
            cells = [r["t"], f"{r['eps']:.3f}", "0 (theta_t in S)"] + (["0"] if strong else []) + \
                ["0", "0", meas, "-"] + (["-"] if strong else []) + ["-", "-"]
        else:
            cells = [r["t"], f"{r['eps']:.3f}", _fmt(r["direct"], r["direct_stderr"])]
            if strong:
                cells.append(_fmt(r.get("strong"), r.get("strong_stderr")))
            raw = ("0 (model: theta_t in S)" if r["raw"] == 0 and r["model_L_t"] <= r["eps"]
                   else _fmt(r["raw"], r["raw_stderr"]))
            cells += [raw, _fmt(r["calibrated"], r["calibrated_stderr"]), meas,
                      _ratio(r["measured"], r["direct"])]
            if strong:
                cells.append(_ratio(r["measured"], r.get("strong")))
            cells += [_ratio(r["measured"], r["raw"]), _ratio(r["measured"], r["calibrated"])]
        out.append(cells)
    return table(head, out)


def _ratio_range(rows, key):
    vals = [r["measured"] / r[key] for r in rows if not r.get("inside") and r.get(key) and r[key] > 0
            and np.isfinite(r["measured"])]
    return (min(vals), max(vals)) if vals else (float("nan"), float("nan"))


def table_section(results):
    md = []
    for res in results:
        meta, rows = res["meta"], res["rows"]
        p = meta["protocol"]
        strong = meta["strong"] is not None
        md += [f"### {meta['network']}, D = {meta['D']}", "",
               f"Training set: {meta.get('n_train')} examples. Training: {p['optimizer']}, lr {p['lr']}, {p['steps']} steps, batch {p.get('batch_size')}; "
               f"L* = {meta['L_star']:.4f} (train accuracy {meta['train_acc']:.3f}), L(theta0) = {meta['L0']:.3f}. "
               f"Measured d*: random subspaces through theta_t, {len(meta['ds'])} values of d from {min(meta['ds'])} "
               f"to {max(meta['ds'])} ({meta.get('basis', 'orthonormal')} maps), {meta['seeds']} seeds, success = final train loss <= eps, interpolated "
               "crossing of 1/2 with the 95% interval of `threshold_dimension` (binomial noise of the seeds and the spacing of the tested d). Direct: D - w^2 from "
               f"`sublevel_width` with {meta['n_samples']} Gaussian directions and the sweep's own optimizer and "
               "budget in every cone test (a cone test is a training run like a subspace run)"
               + (f"; 'stronger': {meta['n_samples_strong']} directions, "
                  f"{meta['strong'].get('optimizer')} lr {meta['strong'].get('lr')}, "
                  f"{meta['strong'].get('steps')} full-batch steps per test" if strong else "")
               + ". No calibration of the direct estimate. Quadratic: D - delta of the Hessian model "
               "at theta* (raw), and with the Hessian rescaled to reproduce L(theta_t) (calibrated).", "",
               table_markdown(rows, strong), ""]
        lo, hi = _ratio_range(rows, "direct")
        rlo, rhi = _ratio_range(rows, "raw")
        clo, chi = _ratio_range(rows, "calibrated")
        raw_text = (f"measured / raw quadratic: {rlo:.2f} to {rhi:.2f}" if np.isfinite(rlo) else
                    "the raw quadratic model puts L(theta_t) below every level (model L(theta_0) = "
                    f"{rows[0]['model_L_t']:.3g} against the measured {meta['L0']:.3g}), so it predicts d* = 0 "
                    "throughout")
        text = (f"Measured / direct D - w^2: {lo:.2f} to {hi:.2f}; {raw_text}; measured / calibrated "
                f"quadratic: {clo:.2f} to {chi:.2f}.")
        if strong:
            slo, shi = _ratio_range(rows, "strong")
            text += f" Measured / direct with the stronger optimizer: {slo:.2f} to {shi:.2f}."
        md += [text, ""]
    return "\n".join(md)


def _reading(results):
    lines = []
    for res in results:
        lo, hi = _ratio_range(res["rows"], "direct")
        if not np.isfinite(lo):
            continue
        side = ("above" if lo > 1 else "below" if hi < 1 else "on both sides of")
        gordon = sorted({r.get("direct_gordon") for r in res["rows"] if r.get("direct_gordon") is not None})
        lines.append(f"{res['meta']['network']}: the measured d* lies {side} the direct D - w^2 "
                     f"(ratio {lo:.2f} to {hi:.2f}); Gordon's guarantee at confidence 0.9 from the same widths "
                     f"is d* > {', '.join(str(g) for g in gordon)}.")
    lines.append("D - w^2 locates Gordon's escape threshold only to within about 2 w (the bound needs "
                 "a_{D-d} to exceed w by a few units, and w is within a few units of a_D here, so the rigorous "
                 "guarantee is empty); for a convex set w^2 ~ delta and d* ~ D - delta, so a ratio near 1 is what "
                 "a convex set would give. A ratio well above 1 says the real sub-level set is wide (its "
                 "directions fill most of the sphere: w^2 close to D) yet harder for a random subspace to hit "
                 "than a convex set of that width. The direct widths are lower bounds (the optimiser can only "
                 "fail to find points), so D - w^2 errs high: the stronger optimizer, where run, moves it down.")
    return " ".join(lines)


# ----------------------------------------------------------------------------- driver
def write_section(path, text):
    """Replace (or append) this script's marked section of RESULTS.md."""
    from harness import write_marked_section

    write_marked_section(path, MARK, text)


DIGITS = "digits MLP"
FASHION = "Fashion-MNIST Conv-2"


def _digits_table(quick, workers, store_dir):
    model, data = digits_setup((16,))
    protocol = dict(optimizer="momentum", lr=0.3, steps=300, batch_size=128)
    if quick:
        kw = dict(ts=(0,), fractions=(0.2,), ds=(16, 256), seeds=2, strong=None, n_samples=3,
                  n_samples_strong=0, spectral_opts=dict(k=6, n_probes=2, n_steps=20, seed=0), net_samples=200)
    else:
        # t = 15: the loss has dropped from 2.33 to 0.31, below two of the three levels' starts
        kw = dict(ts=(0, 5, 15), fractions=(0.05, 0.1, 0.2),
                  ds=(4, 6, 8, 11, 16, 23, 32, 45, 64, 91, 128, 181, 256, 362, 512, 724, 1024), seeds=8,
                  strong=dict(optimizer="apg", lr=0.5, steps=1000, check_every=5), n_samples=32,
                  n_samples_strong=16, spectral_opts=dict(k=20, n_probes=8, n_steps=60, seed=0),
                  net_samples=2000)
    return network_rows(DIGITS, model, data, protocol=protocol, workers=workers, store_dir=store_dir, **kw)


def _fashion_table(quick, workers, store_dir):
    model, data = fashion_setup(500 if quick else 2000)
    protocol = dict(optimizer="momentum", lr=0.1, steps=300, batch_size=128)
    if quick:
        kw = dict(ts=(0,), fractions=(0.3,), ds=(256, 4096), seeds=1, n_samples=2,
                  spectral_opts=dict(k=4, n_probes=2, n_steps=10, seed=0), net_samples=200)
    else:
        kw = dict(ts=(0, 10, 40), fractions=(0.1, 0.2), ds=(256, 512, 1024, 2048, 4096),
                  seeds=3, n_samples=4, spectral_opts=dict(k=10, n_probes=3, n_steps=25, seed=0),
                  net_samples=1000)
    return network_rows(FASHION, model, data, protocol=protocol, workers=workers, store_dir=store_dir,
                        strong=None, n_samples_strong=0, basis="fastfood", check_every=25, **kw)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke sizes; print only")
    ap.add_argument("--fashion", action="store_true", help="also the Fashion-MNIST Conv-2 (hours)")
    ap.add_argument("--only", choices=("speed", "digits", "fashion"), action="append",
                    help="compute only these parts; the others are taken from the previous "
                         "benchmarks/sublevel_widths.json (when there is one)")
    ap.add_argument("--report-only", action="store_true",
                    help="compute nothing: rewrite the section from benchmarks/sublevel_widths.json")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--output", default=None, help="RESULTS.md to update (default benchmarks/RESULTS.md; "
                                                   "none with --quick)")
    ap.add_argument("--store", default=None, help="directory for resumable stores (default: a temporary one)")
    args = ap.parse_args(argv)
    output = args.output or (None if args.quick else os.path.join(HERE, "RESULTS.md"))
    json_path = os.path.join(HERE, "sublevel_widths.json")
    store_dir = args.store or tempfile.mkdtemp(prefix="sublevel-widths-")
    todo = set(args.only or ["speed", "digits"] + (["fashion"] if args.fashion else []))
    if args.report_only:
        todo = set()
    previous = {}
    if (output or args.report_only) and os.path.exists(json_path):
        with open(json_path) as fh:
            previous = json.load(fh)
    t_all = time.perf_counter()
    data_out = {"speed": previous.get("speed"), "speed_md": previous.get("speed_md", ""),
                "tables": dict(previous.get("tables", {})), "seconds": dict(previous.get("seconds", {}))}
    if "speed" in todo:
        t0 = time.perf_counter()
        data_out["speed_md"], data_out["speed"] = speed_section(args.quick, args.workers)
        data_out["seconds"]["speed"] = time.perf_counter() - t0
    for name, part, build in (("digits", DIGITS, _digits_table), ("fashion", FASHION, _fashion_table)):
        if name in todo:
            t0 = time.perf_counter()
            rows, meta = build(args.quick, args.workers, store_dir)
            data_out["tables"][part] = {"rows": rows, "meta": meta}
            data_out["seconds"][name] = time.perf_counter() - t0
    results = [data_out["tables"][k] for k in (DIGITS, FASHION) if k in data_out["tables"]]
    took = ", ".join(f"{k} {v:.0f} s" for k, v in data_out["seconds"].items())
    parts = ["## Direct widths of networks' sub-level sets (benchmarks/sublevel_widths.py)", "",
             f"Generated on {datetime.date.today().isoformat()} by `python benchmarks/sublevel_widths.py"
             f"{' --fashion' if FASHION in data_out['tables'] else ''}` on the shared 2-core machine "
             f"(parts: {took}; other jobs ran at the same time, so wall times are inflated, ratios less so).",
             ""]
    if data_out["speed_md"]:
        parts += ["### Speed", "", data_out["speed_md"]]
    parts += [table_section(results), "Reading: " + _reading(results), ""]
    report = "\n".join(parts)
    print(report)
    _log(f"done in {time.perf_counter() - t_all:.0f} s")
    if output:
        write_section(output, report)
        with open(json_path, "w") as fh:
            json.dump(data_out, fh, indent=1, default=float)
        _log(f"wrote {output} and {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
