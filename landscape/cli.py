r"""Command line: ``python -m landscape {demo, spectrum, predict, thresholds, compare}``.

From a trained model to a comparison: ``spectrum`` writes the spectral model ``.npz`` of a
built-in model or of a torch checkpoint, ``predict --spectrum`` predicts d*(eps) from it,
``thresholds`` measures d* in a run file, and ``compare`` sets the two side by side.
Success is judged on ``train_loss`` (``<= level``) by default in every subcommand.

User errors (bad arguments, missing or malformed files, mismatched models) print one
line ``error: ...`` on stderr and exit with status 2; no traceback.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

__all__ = ["main", "build_parser"]


#: the run column judged by thresholds and compare unless --metric says otherwise
DEFAULT_METRIC = "train_loss"
#: measured (see the README): 128 s of CPU time; the wall time grows with the machine's load
_DEMO_RUNTIME = "About 2 minutes on 2 idle cores, longer on a loaded machine."


class UserError(ValueError):
    """An error caused by the user's input: reported in one line."""


def load_spectral_model(path):
    """Deprecated alias of :meth:`landscape.theory.spectral_model.SpectralModel.load`."""
    import warnings

    warnings.warn("landscape.cli.load_spectral_model is deprecated and will be removed in the next release; "
                  "use SpectralModel.load", DeprecationWarning, stacklevel=2)
    return _load_spectrum(path)


def save_spectral_model(path, model):
    """Deprecated alias of :meth:`landscape.theory.spectral_model.SpectralModel.save`."""
    import warnings

    warnings.warn("landscape.cli.save_spectral_model is deprecated and will be removed in the next release; "
                  "use SpectralModel.save", DeprecationWarning, stacklevel=2)
    model.save(path)


def _load_spectrum(path):
    from .theory.spectral_model import SpectralModel

    try:
        return SpectralModel.load(path)
    except ValueError as exc:
        raise UserError(str(exc)) from None


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
        model = _load_spectrum(args.spectrum)
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
    table = load_runs(path)
    if len(table) == 0:
        raise UserError(f"{path}: holds no runs")
    return table


def _groups(table):
    keys = [k for k in ("kind", "t", "basis") if k in table]
    if not keys:
        return [({}, table)]
    combos = sorted({tuple(r[k] for k in keys) for r in table.to_records()}, key=str)
    return [(dict(zip(keys, c)), table.select(**dict(zip(keys, c)))) for c in combos]


def _selection(table, kind, t, path):
    """Runs to compare: kind (default random) and t (default 0), on the columns the table has.

    A table without a ``kind`` (or ``t``) column holds random subspaces (at t = 0): the
    minimal file ``d, seed, train_loss`` is accepted.
    """
    sel = {}
    for col, given, default in (("kind", kind, "random"), ("t", t, 0)):
        if col in table:
            sel[col] = default if given is None else given
        elif given is not None and given != default:
            raise UserError(f"{path}: no column {col!r}, so every run counts as {col} = {default!r}; "
                            f"cannot select {col} = {given!r}")
    return sel


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
        li = args.criterion == "li"  # the baseline comes from the table's full runs
        est = threshold_dimension(table if li else sub, args.metric, args.level, p=args.p, method=args.method,
                                  criterion=args.criterion, baseline=args.baseline, design=args.design,
                                  n_bootstrap=args.n_bootstrap, **(cond if li else {}))
        name = ", ".join(f"{k}={v}" for k, v in cond.items()) or "all runs"
        rows.append({**cond, "metric": args.metric, "level": args.level, "criterion": args.criterion,
                     "d_star": est.value, "ci_low": est.low, "ci_high": est.high, "bracket_low": est.bracket[0],
                     "bracket_high": est.bracket[1], "n_seeds": est.n_seeds, "censored": est.censored or "",
                     "resolved": est.resolved})
        print(f"{name:<40} {est}   seeds {est.n_seeds}")
    if not rows:
        raise UserError("no subspace runs to estimate a threshold from (after the selection)")
    if args.out:
        _write_rows(args.out, rows)


def _cmd_compare(args):
    from .theory.comparison import compare, prediction_table

    model = _load_spectrum(args.spectrum)
    table = _load_table(args.runs)
    if "D" in table and len(table) and int(np.unique(table["D"])[0]) != model.D:
        raise UserError(f"{args.runs} holds runs of a model with D = {int(np.unique(table['D'])[0])} "
                        f"parameters, but {args.spectrum} describes D = {model.D}: results from another model?")
    if args.metric not in table:
        raise UserError(f"{args.runs}: no column {args.metric!r}; columns: {', '.join(table.columns)}")
    preds = prediction_table(model, np.array(args.eps), n_samples=args.n_samples, seed=args.seed)
    comp = compare(preds, table, metric=args.metric, **_selection(table, args.kind, args.t, args.runs))
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
    files = run_demo(args.out, settings=settings, seed=args.seed, progress=False if args.quiet else None,
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


def _import_module_factory(spec):
    """The torch module named by ``pkg.mod:name`` or ``path/to/file.py:name`` (a Module, or a callable making one)."""
    import importlib
    import importlib.util

    import torch

    if ":" not in spec:
        raise UserError(f"--module must be 'package.module:name' or 'file.py:name', got {spec!r}")
    where, _, name = spec.rpartition(":")
    try:
        if where.endswith(".py"):
            if not os.path.isfile(where):
                raise UserError(f"--module {spec}: no such file {where}")
            loader_spec = importlib.util.spec_from_file_location("_landscape_user_module", where)
            mod = importlib.util.module_from_spec(loader_spec)
            loader_spec.loader.exec_module(mod)
        else:
            mod = importlib.import_module(where)
        obj = getattr(mod, name)
    except ImportError as exc:
        raise UserError(f"--module {spec}: cannot import {where} ({exc})") from None
    except AttributeError:
        raise UserError(f"--module {spec}: {where} has no attribute {name!r}") from None
    module = obj if isinstance(obj, torch.nn.Module) else obj() if callable(obj) else None
    if not isinstance(module, torch.nn.Module):
        raise UserError(f"--module {spec}: expected a torch.nn.Module or a function returning one, "
                        f"got {type(module if module is not None else obj).__name__}")
    return module


def _training_data(args):
    """(X, y) arrays of --data: a built-in data set or an .npz with arrays X and y."""
    if args.data == "digits":
        from .models.datasets import load_digits

        data = load_digits(seed=0)
        X, y = data.X_train, data.y_train
    elif args.data == "fashion-mnist":
        from .models.datasets import load_fashion_mnist

        data = load_fashion_mnist()
        X, y = data.X_train, data.y_train
    else:
        if not os.path.isfile(args.data):
            raise UserError(f"--data {args.data}: no such file (give digits, fashion-mnist or an .npz "
                            "with arrays X and y)")
        from ._limits import read_npz

        arrays = read_npz(args.data)  # no pickles, within a memory budget
        if not {"X", "y"} <= set(arrays):
            raise UserError(f"{args.data}: needs arrays X and y, has {sorted(arrays)}")
        X, y = arrays["X"], arrays["y"]
    if args.n_train is not None:
        X, y = X[:args.n_train], y[:args.n_train]
    return X, y


def _checkpoint_spectrum(args, opts):
    try:
        import torch  # noqa: F401
    except ImportError:
        raise UserError("--checkpoint needs PyTorch (pip install torch; see the README for the CPU-only build)") \
            from None
    from .models.checkpoints import load_checkpoint, params_from_state_dict
    from .theory.spectral_model import SpectralModel

    if args.module is None or args.data is None:
        raise UserError("--checkpoint needs --module (the architecture) and --data (the training data)")
    module = _import_module_factory(args.module)
    if args.dtype == "float64":
        module = module.double()
    model, theta_star = load_checkpoint(args.checkpoint, module, loss=args.loss,
                                        input_shape=tuple(args.input_shape) if args.input_shape else None)
    theta0 = params_from_state_dict(model, args.init) if args.init else model.init_params(args.init_seed)
    X, y = _training_data(args)
    data = (X, y) if args.batch_size is None else \
        ([(X[i:i + args.batch_size], y[i:i + args.batch_size]) for i in range(0, len(X), args.batch_size)], None)
    print(f"{args.checkpoint}: {model!r}, {len(X)} training examples; L(theta0) = "
          f"{model.loss(theta0, *data):.6g}")
    return SpectralModel.from_model(model, theta_star, theta0, *data, **opts)


def _mlp_spectrum(args, opts):
    from .demo import DemoSettings, digits_network
    from .experiments.training import train_full
    from .theory.spectral_model import SpectralModel

    model, data, proto = digits_network(DemoSettings.full())
    print(f"{model!r}, D = {model.n_params}: training to theta* ({proto})")
    full = train_full(model, data, seed=args.train_seed, **proto)
    theta0 = full.theta - full.phi
    return SpectralModel.from_model(model, full.theta, theta0, data.X_train, data.y_train, **opts)


def _cmd_spectrum(args):
    opts = dict(k=args.k, n_probes=args.probes, n_steps=args.lanczos_steps, seed=args.seed)
    if args.well is not None:
        model = _well_model(args)
    elif args.mlp is not None:
        model = _mlp_spectrum(args, opts)
    else:
        model = _checkpoint_spectrum(args, opts)
    model.save(args.out)
    print(f"{model!r}\nL(theta0) under the model = {model.loss_at_theta0:.6g}; wrote {args.out}")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows every default that is a value (not those of flags, required options or 'None: ...' wording)."""

    def _get_help_string(self, action):
        if action.default is None or action.required or isinstance(action.default, bool) \
                or action.default is argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)


def _well_options(parser):
    parser.add_argument("--dim", type=_positive_int, default=400, help="D of the built-in well")
    parser.add_argument("--alpha", type=float, default=1.0, help="power-law exponent of the built-in well")
    parser.add_argument("--distance", type=float, default=3.0, help="|theta0 - theta*| of the built-in well")


def build_parser():
    from . import __version__

    p = argparse.ArgumentParser(
        prog="python -m landscape", formatter_class=_HelpFormatter,
        description="Degrees of freedom of training: predicted (Gaussian width, statistical dimension) "
                    "and measured (random-subspace training) threshold dimensions.")
    p.add_argument("--version", action="version", version=f"%(prog)s (dof-geometry) {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, **kwargs):
        return sub.add_parser(name, formatter_class=_HelpFormatter, **kwargs)

    d = command("demo", help="run the end-to-end demo (quadratic well + digits MLP) and write a report",
                description="Quadratic well (prediction vs exact experiment) and digits MLP (prediction "
                            "from its Hessian vs measured subspace-training thresholds). Writes figures "
                            f"(PNG), tables (CSV/JSON) and report.md into OUT. {_DEMO_RUNTIME}")
    d.add_argument("--out", required=True, help="output directory (created if needed)")
    d.add_argument("--small", action="store_true", help="reduced sizes (under a minute; for tests)")
    d.add_argument("--seed", type=int, default=0, help="random seed")
    d.add_argument("--workers", type=_positive_int, default=None,
                   help="sweep worker processes (default: the CPU count)")
    d.add_argument("--quiet", action="store_true", help="no progress output")
    d.set_defaults(func=_cmd_demo)

    sp = command("spectrum", help="write the spectral model (.npz) of a built-in model or a torch checkpoint",
                 description="The quadratic model of the sub-level sets around a trained theta* (Hessian "
                             "eigenvalue groups and the offset of theta0), as an .npz for predict --spectrum "
                             "and compare. Built-in wells are exact; networks use Lanczos (top k) and "
                             "stochastic Lanczos quadrature (bulk) on exact Hessian-vector products.")
    src = sp.add_mutually_exclusive_group(required=True)
    src.add_argument("--well", choices=["flat", "power", "two-level"], help="a built-in quadratic well")
    src.add_argument("--mlp", choices=["digits"], help="the demo's digits MLP, trained here to theta*")
    src.add_argument("--checkpoint", help="a torch state_dict file (.pt / .pth, or .safetensors): theta*")
    sp.add_argument("--out", required=True, help="the .npz file to write")
    _well_options(sp)
    sp.add_argument("--module", help="with --checkpoint: the architecture, 'package.module:name' or "
                                     "'file.py:name' (a torch.nn.Module or a function returning one)")
    sp.add_argument("--data", help="with --checkpoint: training data, 'digits', 'fashion-mnist' or an .npz "
                                   "with arrays X and y")
    sp.add_argument("--n-train", type=_positive_int, help="use only the first N training examples")
    sp.add_argument("--init", help="with --checkpoint: a state_dict file holding theta0 (default: a fresh "
                                   "initialisation from --init-seed)")
    sp.add_argument("--init-seed", type=int, default=0, help="seed of theta0 when --init is not given")
    sp.add_argument("--loss", choices=["cross_entropy", "mse"], default="cross_entropy",
                    help="with --checkpoint: the training loss")
    sp.add_argument("--input-shape", type=_positive_int, nargs="+",
                    help="with --checkpoint: shape of one example (e.g. 1 28 28) when the data are flat")
    sp.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                    help="with --checkpoint: precision of the Hessian-vector products")
    sp.add_argument("--batch-size", type=_positive_int,
                    help="accumulate the loss and Hessian-vector products over batches of this size "
                         "(memory bound; default: the whole data set at once)")
    sp.add_argument("--train-seed", type=int, default=0, help="with --mlp: seed of theta0 and of training")
    sp.add_argument("--k", type=int, default=20, help="top eigenpairs by Lanczos (networks)")
    sp.add_argument("--probes", type=_positive_int, default=8, help="SLQ probes for the bulk (networks)")
    sp.add_argument("--lanczos-steps", type=_positive_int, default=60, help="SLQ Lanczos steps per probe")
    sp.add_argument("--seed", type=int, default=0,
                    help="seed of the Lanczos start vector and SLQ probes (wells: of theta0)")
    sp.set_defaults(func=_cmd_spectrum)

    q = command("predict", help="predicted d*(eps) from a spectral model file or a quadratic well",
                description="Kinematic (D - delta) and Gordon predictions of the threshold dimension. "
                            "Each level's Monte Carlo draws come from (seed, level): the same seed gives "
                            "the same prediction for a level whatever else is requested.")
    src = q.add_mutually_exclusive_group(required=True)
    src.add_argument("--spectrum", help=".npz with eigenvalues, offsets [, multiplicities, min_loss] "
                                        "(written by the spectrum subcommand)")
    src.add_argument("--well", choices=["flat", "power", "two-level"], help="a built-in quadratic well")
    _well_options(q)
    q.add_argument("--eps", type=float, nargs="+", required=True, help="loss level(s) (absolute)")
    q.add_argument("--ds", type=int, nargs="+", help="also print the predicted P_s(d) at these d")
    q.add_argument("--n-samples", type=_positive_int, default=2000, help="Monte Carlo samples")
    q.add_argument("--confidence", type=float, default=0.9, help="confidence of Gordon's bound")
    q.add_argument("--seed", type=int, default=0, help="random seed (wells: also of theta0)")
    q.add_argument("--out", help="write the table (.csv or .json)")
    q.set_defaults(func=_cmd_predict)

    t = command("thresholds", help="empirical d* from a results store or file",
                description="Threshold training dimension d* with its 95% interval, for each (kind, t, basis) in "
                            "RESULTS: a store directory, CSV, JSON / JSON lines, or a pickle of the paper's "
                            "reference code (read with a restricted unpickler). Criterion 'larsen' (default): "
                            "where the fraction of runs reaching LEVEL (<= for losses, >= for accuracies) "
                            "crosses p. Criterion 'li' (Li et al.'s d_int90): where the mean metric reaches "
                            "LEVEL times the baseline (the kind=full runs' mean, or --baseline).")
    t.add_argument("results", help="results store directory or run file")
    t.add_argument("--metric", default=DEFAULT_METRIC, help="column judged")
    t.add_argument("--level", type=float, required=True,
                   help="larsen: success level (<= for losses, >= for accuracies); li: fraction of the baseline")
    t.add_argument("--criterion", choices=["larsen", "li"], default="larsen",
                   help="larsen: success-rate crossing (default); li: mean metric reaching LEVEL x baseline")
    t.add_argument("--baseline", type=float, help="li: the full model's metric (default: mean of the kind=full runs)")
    t.add_argument("--design", choices=["auto", "nested", "independent"], default="auto",
                   help="larsen: the runs of a seed are nested (auto: when there is a seed column) or independent")
    t.add_argument("--p", type=float, default=0.5, help="success probability defining d*")
    t.add_argument("--method", choices=["interpolate", "logistic", "posterior"], default="interpolate",
                   help="how the point d* is read off the success curve (the interval does not depend on it)")
    t.add_argument("--kind", help="only runs of this kind (random, lottery; default: each kind apart)")
    t.add_argument("--t", type=int, help="only runs with this burn-in t (default: each t apart)")
    t.add_argument("--n-bootstrap", type=int, default=None, help="deprecated and ignored")
    t.add_argument("--seed", type=int, default=0, help="unused (the intervals are deterministic)")
    t.add_argument("--out", help="write the table (.csv or .json)")
    t.set_defaults(func=_cmd_thresholds)

    c = command("compare", help="predicted vs measured d*(eps)",
                description="Predict d*(eps) from a spectral model file and compare with the thresholds "
                            "measured in a results store or file. A run file may be as small as the "
                            "columns d, seed, train_loss: without kind / t columns every run counts as a "
                            "random subspace at t = 0.")
    c.add_argument("--spectrum", required=True, help=".npz spectral model (see the spectrum subcommand)")
    c.add_argument("--runs", required=True, help="results store directory or file")
    c.add_argument("--eps", type=float, nargs="+", required=True, help="loss level(s) (absolute)")
    c.add_argument("--metric", default=DEFAULT_METRIC, help="the loss column the levels apply to")
    c.add_argument("--kind", help="subspace kind of the runs compared (default: random)")
    c.add_argument("--t", type=int, help="burn-in t of the runs compared (default: 0)")
    c.add_argument("--n-samples", type=_positive_int, default=2000, help="Monte Carlo samples")
    c.add_argument("--seed", type=int, default=0, help="random seed of the prediction")
    c.add_argument("--out", help="directory for comparison.csv/json/png")
    c.set_defaults(func=_cmd_compare)
    return p


#: errors that report a problem with the user's input or files (one line, exit status 2)
_USER_ERRORS = (ValueError, TypeError, OSError, KeyError, EOFError, OverflowError, MemoryError, RecursionError)


def _one_line(exc):
    """The first line of an exception's message, at most 500 characters, never empty."""
    import pickle

    text = str(exc).strip()
    if isinstance(exc, MemoryError):
        text = "out of memory" + (f" ({text})" if text else "") + \
            ": the input is too large (for a trusted file, raise the loader's max_bytes)"
    elif isinstance(exc, RecursionError):
        text = "the input is nested too deeply"
    elif isinstance(exc, pickle.UnpicklingError) and not text.startswith("refusing"):
        text = f"corrupt pickle ({text})"
    elif isinstance(exc, KeyError) and len(exc.args) == 1 and isinstance(exc.args[0], str):
        text = exc.args[0]
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if len(line) <= 500 else line[:240] + " ... " + line[-240:]


def main(argv=None):
    """Entry point; returns the exit status.

    Any error caused by the input (bad values, missing, refused or malformed files,
    files too large to load, ...) prints one line ``error: ...`` on stderr and returns 2.
    """
    import pickle

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (*_USER_ERRORS, pickle.UnpicklingError) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    return 0
