r"""Command line: ``python -m landscape {demo, predict, thresholds, compare}``.

User errors (bad arguments, missing or malformed files, mismatched models) print one
line ``error: ...`` on stderr and exit with status 2; no traceback.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

__all__ = ["main", "load_spectral_model", "save_spectral_model"]


class UserError(Exception):
    """An error caused by the user's input: reported in one line."""


def load_spectral_model(path):
    r"""Read a spectral model from an ``.npz`` file (``allow_pickle=False``).

    Keys: ``eigenvalues`` (G,), ``offsets`` (G,) (:math:`b_g = \|P_g(\theta_0-\theta^*)\|`),
    optional ``multiplicities`` (G,) (default 1 each) and ``min_loss`` (scalar, default 0).
    """
    from .theory.spectral_model import SpectralModel

    try:
        with np.load(path, allow_pickle=False) as f:
            keys = set(f.files)
            missing = {"eigenvalues", "offsets"} - keys
            if missing:
                raise UserError(f"{path}: missing arrays {sorted(missing)} (need eigenvalues, offsets; "
                                "optional multiplicities, min_loss)")
            lam = f["eigenvalues"]
            b = f["offsets"]
            m = f["multiplicities"] if "multiplicities" in keys else np.ones(lam.shape, dtype=np.int64)
            min_loss = float(f["min_loss"]) if "min_loss" in keys else 0.0
    except UserError:
        raise
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: not a readable .npz spectral model ({exc})") from None
    return SpectralModel(lam, m, b, min_loss=min_loss, source=f"file {path}")


def save_spectral_model(path, model):
    """Write a :class:`SpectralModel` as ``.npz`` (readable by :func:`load_spectral_model`)."""
    tmp = f"{path}.tmp.npz"
    np.savez(tmp, eigenvalues=model.eigenvalues, multiplicities=model.multiplicities,
             offsets=model.offsets, min_loss=np.float64(model.min_loss))
    os.replace(tmp, path)


def _well_model(args):
    from .models.quadratic import QuadraticWell
    from .models.spectra import flat_spectrum, power_law_spectrum, two_level_spectrum
    from .theory.spectral_model import SpectralModel

    D = args.dim
    if args.well == "flat":
        lam = flat_spectrum(D)
    elif args.well == "power":
        lam = power_law_spectrum(D, args.alpha)
    else:
        lam = two_level_spectrum(D, max(1, D // 20))
    rng = np.random.default_rng(args.seed + 1000)
    theta0 = rng.standard_normal(D)
    theta0 *= args.distance / np.linalg.norm(theta0)
    well = QuadraticWell(lam)
    print(f"quadratic well ({args.well}, D={D}), L(theta0) = {float(well.loss(theta0)):.6g}")
    return SpectralModel.from_spectrum(lam, well.eigen_offset(theta0))


def _cmd_predict(args):
    from .theory.comparison import prediction_table

    if args.spectrum is not None:
        model = load_spectral_model(args.spectrum)
    else:
        model = _well_model(args)
    ds = None if args.ds is None else np.array(args.ds, dtype=int)
    table = prediction_table(model, np.array(args.eps), ds=ds, n_samples=args.n_samples, seed=args.seed,
                              confidence=args.confidence)
    print(f"D = {model.D}, min loss = {model.min_loss:g}")
    print("eps            D-delta (kinematic)    ALMT window (eta=0.1)   Gordon: fails for d <=")
    for p in table.predictions:
        print(f"{p.eps:<14.6g} {p.kinematic:10.1f} ± {p.kinematic_stderr:<8.2g} "
              f"[{p.kinematic_window[0]:8.1f}, {p.kinematic_window[1]:8.1f}]   {p.gordon}")
    if table.curves:
        for c in table.curves:
            print(f"P_s(d) at eps={c.threshold.eps:g}: " +
                  ", ".join(f"{d}:{pr:.3f}" for d, pr in zip(c.ds, c.probability)))
    if args.out:
        _write_rows(args.out, table.rows())


def _write_rows(path, rows):
    import csv
    import json

    if path.endswith(".json"):
        with open(path, "w") as fh:
            json.dump(rows, fh, indent=1)
    else:
        with open(path, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    print(f"wrote {path}")


def _load_table(path):
    from .experiments.run_files import load_runs

    if not os.path.exists(path):
        raise UserError(f"{path}: no such file or directory")
    return load_runs(path)


def _groups(table):
    keys = [k for k in ("kind", "t", "basis") if k in table]
    if not keys:
        return [({}, table)]
    combos = sorted({tuple(r[k] for k in keys) for r in table.to_records()}, key=str)
    return [(dict(zip(keys, c)), table.select(**dict(zip(keys, c)))) for c in combos]


def _cmd_thresholds(args):
    from .thresholds.measured import threshold_dimension

    table = _load_table(args.results)
    if args.metric not in table:
        raise UserError(f"{args.results}: no column {args.metric!r}; columns: {', '.join(table.columns)}")
    sel = {k: v for k, v in (("kind", args.kind), ("t", args.t)) if v is not None}
    rows = []
    for cond, sub in _groups(table.select(**sel) if sel else table):
        if "kind" in cond and cond["kind"] == "full":
            continue
        est = threshold_dimension(sub, args.metric, args.level, p=args.p, method=args.method,
                                  n_bootstrap=args.n_bootstrap, seed=args.seed)
        name = ", ".join(f"{k}={v}" for k, v in cond.items()) or "all runs"
        rows.append({**cond, "metric": args.metric, "level": args.level, "d_star": est.value,
                     "ci_low": est.ci[0], "ci_high": est.ci[1], "n_seeds": est.n_seeds,
                     "censored": est.censored or ""})
        cens = f"  ({est.censored} the tested range)" if est.censored else ""
        print(f"{name:<40} d* = {est.value:9.1f}   95% CI [{est.ci[0]:.1f}, {est.ci[1]:.1f}]   "
              f"seeds {est.n_seeds}{cens}")
    if not rows:
        raise UserError("no subspace runs to estimate a threshold from (after the selection)")
    if args.out:
        _write_rows(args.out, rows)


def _cmd_compare(args):
    from .theory.comparison import compare, prediction_table

    model = load_spectral_model(args.spectrum)
    table = _load_table(args.runs)
    if "D" in table and len(table) and int(np.unique(table["D"])[0]) != model.D:
        raise UserError(f"{args.runs} holds runs of a model with D = {int(np.unique(table['D'])[0])} "
                        f"parameters, but {args.spectrum} describes D = {model.D}: results from another model?")
    preds = prediction_table(model, np.array(args.eps), n_samples=args.n_samples, seed=args.seed)
    sel = {k: v for k, v in (("kind", args.kind), ("t", args.t)) if v is not None}
    comp = compare(preds, table, metric=args.metric, **sel)
    print(comp.to_markdown())
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        comp.to_csv(os.path.join(args.out, "comparison.csv"))
        comp.to_json(os.path.join(args.out, "comparison.json"))
        ax = comp.plot()
        ax.figure.savefig(os.path.join(args.out, "comparison.png"), dpi=110)
        print(f"wrote {args.out}/comparison.{{csv,json,png}}")


def _cmd_demo(args):
    from .demo import DemoSettings, run_demo

    settings = DemoSettings.small() if args.small else DemoSettings.full()
    files = run_demo(args.out, settings=settings, seed=args.seed, progress=not args.quiet,
                     max_workers=args.workers)
    print(f"wrote {len(files)} files to {args.out}; open {os.path.join(args.out, 'report.md')}")


def _positive_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


def build_parser():
    p = argparse.ArgumentParser(
        prog="python -m landscape",
        description="Degrees of freedom of training: predicted (Gaussian width, statistical dimension) "
                    "and measured (random-subspace training) threshold dimensions.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("demo", help="run the end-to-end demo (quadratic well + digits MLP) and write a report",
                       description="Quadratic well (prediction vs exact experiment) and digits MLP (prediction "
                                   "from its Hessian vs measured subspace-training thresholds). Writes figures "
                                   "(PNG), tables (CSV/JSON) and report.md into OUT. About 3-5 minutes on 2 cores.")
    d.add_argument("--out", required=True, help="output directory (created if needed)")
    d.add_argument("--small", action="store_true", help="reduced sizes (under a minute; for tests)")
    d.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    d.add_argument("--workers", type=_positive_int, default=None, help="sweep worker processes (default: CPU count)")
    d.add_argument("--quiet", action="store_true", help="no progress output")
    d.set_defaults(func=_cmd_demo)

    q = sub.add_parser("predict", help="predicted d*(eps) from a spectral model file or a quadratic well",
                       description="Kinematic (D - delta) and Gordon predictions of the threshold dimension.")
    src = q.add_mutually_exclusive_group(required=True)
    src.add_argument("--spectrum", help=".npz with eigenvalues, offsets [, multiplicities, min_loss]")
    src.add_argument("--well", choices=["flat", "power", "two-level"], help="a built-in quadratic well")
    q.add_argument("--dim", type=_positive_int, default=400, help="D of the built-in well (default 400)")
    q.add_argument("--alpha", type=float, default=1.0, help="power-law exponent of the built-in well")
    q.add_argument("--distance", type=float, default=3.0, help="|theta0 - theta*| of the built-in well")
    q.add_argument("--eps", type=float, nargs="+", required=True, help="loss level(s) (absolute)")
    q.add_argument("--ds", type=int, nargs="+", help="also print the predicted P_s(d) at these d")
    q.add_argument("--n-samples", type=_positive_int, default=2000, help="Monte Carlo samples (default 2000)")
    q.add_argument("--confidence", type=float, default=0.9, help="confidence of Gordon's bound (default 0.9)")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--out", help="write the table (.csv or .json)")
    q.set_defaults(func=_cmd_predict)

    t = sub.add_parser("thresholds", help="empirical d* from a results store or file",
                       description="Threshold training dimension d* (where the success rate crosses p) with a "
                                   "bootstrap interval over seeds, for each (kind, t, basis) in RESULTS: a store "
                                   "directory, CSV, JSON / JSON lines, or a pickle of the paper's reference code "
                                   "(read with a restricted unpickler).")
    t.add_argument("results")
    t.add_argument("--metric", default="train_acc", help="column judged (default train_acc)")
    t.add_argument("--level", type=float, required=True, help="success level (>= for accuracies, <= for losses)")
    t.add_argument("--p", type=float, default=0.5, help="success probability defining d* (default 0.5)")
    t.add_argument("--method", choices=["interpolate", "logistic"], default="interpolate")
    t.add_argument("--kind", help="only runs of this kind (random, lottery)")
    t.add_argument("--t", type=int, help="only runs with this burn-in t")
    t.add_argument("--n-bootstrap", type=int, default=1000)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", help="write the table (.csv or .json)")
    t.set_defaults(func=_cmd_thresholds)

    c = sub.add_parser("compare", help="predicted vs measured d*(eps)",
                       description="Predict d*(eps) from a spectral model file and compare with the thresholds "
                                   "measured in a results store or file.")
    c.add_argument("--spectrum", required=True, help=".npz spectral model (see predict)")
    c.add_argument("--runs", required=True, help="results store directory or file")
    c.add_argument("--eps", type=float, nargs="+", required=True, help="loss level(s) (absolute)")
    c.add_argument("--metric", default="train_loss")
    c.add_argument("--kind", default="random")
    c.add_argument("--t", type=int, default=0)
    c.add_argument("--n-samples", type=_positive_int, default=2000)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--out", help="directory for comparison.csv/json/png")
    c.set_defaults(func=_cmd_compare)
    return p


def main(argv=None):
    """Entry point; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except (UserError, ValueError, TypeError, OSError, KeyError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
