r"""Theory meets experiment: predicted thresholds for trained models beside measured ones.

:func:`prediction_table` turns a :class:`landscape.theory.spectral_model.SpectralModel` (the
quadratic model of the loss around a trained :math:`\theta^*`, seen from :math:`\theta_0`)
into predicted thresholds :math:`d^*(\epsilon)` for several loss levels at once.
:func:`compare` sets them beside the thresholds measured by subspace-training sweeps
(:func:`landscape.thresholds.threshold_dimension`), for random and burn-in subspaces
(burn-in moves :math:`\theta_0` to :math:`\theta_t`, so it needs its own prediction).
"""
from __future__ import annotations

import csv
import json
import math
import numbers

import numpy as np

from geometry.validation import as_float_array

from .predict import SuccessCurvePrediction, ThresholdPrediction, predicted_success_curve, predicted_threshold

__all__ = ["PredictionTable", "prediction_table", "calibrated_levels", "Comparison", "compare"]



def _list_of(items, name, kind):
    """``items`` as a list, each an instance of ``kind``; else a TypeError naming the argument."""
    if isinstance(items, (str, bytes, dict)) or not hasattr(items, "__iter__"):
        raise TypeError(f"{name} must be a list of {kind.__name__}, got {type(items).__name__}")
    out = list(items)
    bad = [type(x).__name__ for x in out if not isinstance(x, kind)]
    if bad:
        raise TypeError(f"{name} must be a list of {kind.__name__}, got an item of type {bad[0]}")
    return out

class PredictionTable:
    r"""Predicted thresholds for several loss levels (one :class:`ThresholdPrediction` each).

    Attributes
    ----------
    predictions : list of ThresholdPrediction
    curves : list of SuccessCurvePrediction or None
        Predicted :math:`P_s(d)` curves, when requested.
    min_loss : float
        :math:`L(\theta^*)`.
    label : str
        What the predictions are for (e.g. ``"random, t=0"``).
    """

    def __init__(self, predictions, curves=None, *, min_loss=0.0, label=""):
        self.predictions = _list_of(predictions, "predictions", ThresholdPrediction)
        self.curves = None if curves is None else _list_of(curves, "curves", SuccessCurvePrediction)
        if isinstance(min_loss, bool) or not isinstance(min_loss, numbers.Real) or not math.isfinite(min_loss):
            raise TypeError(f"min_loss must be a finite real number, got {min_loss!r:.80}")
        self.min_loss = float(min_loss)
        if not isinstance(label, str):
            raise TypeError(f"label must be a str, got {type(label).__name__}")
        self.label = label

    @property
    def eps(self):
        """The loss levels, an array."""
        return np.array([p.eps for p in self.predictions], dtype=float)

    @property
    def kinematic(self):
        r""":math:`D - \delta` for each level."""
        return np.array([p.kinematic for p in self.predictions])

    @property
    def gordon(self):
        """Gordon lower bounds for each level."""
        return np.array([p.gordon for p in self.predictions])

    def rows(self):
        """One flat dict per level."""
        out = []
        for p in self.predictions:
            row = {"label": self.label, "min_loss": self.min_loss, **p.as_dict()}
            row["eps_above_min"] = p.eps - self.min_loss
            out.append(row)
        return out

    def __len__(self):
        return len(self.predictions)

    def __repr__(self):
        body = "; ".join(f"eps={p.eps:.4g}: D-delta={p.kinematic:.1f}±{p.kinematic_stderr:.1g}, "
                         f"Gordon>={p.gordon}" for p in self.predictions)
        return f"PredictionTable({self.label!r}: {body})"


def prediction_table(model, eps, *, ds=None, n_samples=2000, seed=None, confidence=0.9, eta=0.1,
                     label="", progress=None):
    r"""Predicted threshold training dimensions of a trained model for several loss levels.

    For each level :math:`\epsilon` (absolute, above :math:`L^* = L(\theta^*)`) the
    sub-level set of the quadratic model is an ellipsoid with semi-axes
    :math:`r_g = \sqrt{2(\epsilon - L^*)/\lambda_g}`; from :math:`\theta_0` its cone of
    directions gives

    .. math:: d^*_{\mathrm{kin}} = D - \delta(K_\epsilon), \qquad
              d^*_{\mathrm{Gordon}} \text{ from } w(K_\epsilon \cap S^{D-1}),

    and, with ``ds``, the whole curve :math:`P_s(d)` from the kinematic formula. Eigenvalue
    groups make the cost independent of D.

    Parameters
    ----------
    model : SpectralModel or QuadraticWell-like
        Anything :func:`landscape.theory.predict.predicted_threshold` accepts with ``cone(eps)``.
    eps : float or array_like
        Loss levels, each > ``model.min_loss``.
    ds : array_like of int, optional
        Also predict the success curves on these d.
    n_samples : int
    seed : int, SeedSequence, Generator or None
        Each level's Monte Carlo draws come from (seed, level)
        (:func:`landscape.theory.predict.level_streams`): the same seed gives the same
        prediction for a level whatever other levels are requested and with or without ``ds``.
    confidence, eta : float
        See :func:`landscape.theory.predict.predicted_threshold`.
    label : str
    progress : bool or None
        A bar over the levels when they take more than a second (None: when a person is
        watching, a terminal or a notebook; False: never).

    Returns
    -------
    PredictionTable
    """
    from .._progress import progress_bar
    from .predict import _seed_sequence

    from geometry import ConvexCone

    if not (isinstance(model, ConvexCone) or callable(getattr(model, "cone", None))):
        raise TypeError(f"model must be a SpectralModel, a QuadraticWell (anything with a cone(...) method) "
                        f"or a geometry.ConvexCone, got {type(model).__name__}")
    levels = np.atleast_1d(as_float_array(eps, "eps", ndim=(0, 1)))
    ss = _seed_sequence(seed)  # each level's streams come from (seed, level): see level_streams
    preds, curves = [], []
    with progress_bar(len(levels), "predictions", progress=progress, unit="level", delay=1.0) as bar:
        for e in levels:
            _predict_level(model, float(e), ds, n_samples, ss, confidence, eta, preds, curves)
            bar.update()
    return PredictionTable(preds, curves if ds is not None else None,
                           min_loss=getattr(model, "min_loss", 0.0), label=label)


def _predict_level(model, e, ds, n_samples, ss, confidence, eta, preds, curves):
    """One level of :func:`prediction_table` (its streams from (seed, level)), appended to the lists."""
    if ds is None:
        preds.append(predicted_threshold(model, eps=e, n_samples=n_samples, seed=ss, confidence=confidence,
                                         eta=eta))
        return
    curve = predicted_success_curve(model, eps=e, ds=ds, n_samples=n_samples, seed=ss, confidence=confidence,
                                    eta=eta)
    curves.append(curve)
    preds.append(curve.threshold)


def calibrated_levels(model, eps, loss_at_start):
    r"""Loss levels of a quadratic model calibrated to the measured loss at the starting point.

    A quadratic model around :math:`\theta^*` usually gets the loss at the far-away
    starting point :math:`\theta_s` (:math:`\theta_0`, or :math:`\theta_t` after burn-in)
    wrong: :math:`L_q(\theta_s) = L^* + \tfrac12\sum_g \lambda_g b_g^2 \ne L(\theta_s)`. Scaling
    the Hessian by :math:`c = (L(\theta_s) - L^*) / (L_q(\theta_s) - L^*)` makes the model exact
    at both ends; its sub-level set at level :math:`\epsilon` is the uncalibrated model's at

    .. math:: \epsilon_q = L^* + (\epsilon - L^*)\,\frac{L_q(\theta_s) - L^*}{L(\theta_s) - L^*},

    i.e. the same fraction of the loss drop from the start to the minimum.

    Parameters
    ----------
    model : SpectralModel
        With ``min_loss`` and ``loss_at_theta0`` (the model's loss at its starting point).
    eps : float or array_like
        Measured loss levels, each > ``model.min_loss``.
    loss_at_start : float
        The measured loss at the starting point, > ``model.min_loss``.

    Returns
    -------
    ndarray
        The model's levels :math:`\epsilon_q`.
    """
    if not (hasattr(model, "min_loss") and hasattr(model, "loss_at_theta0")):
        raise TypeError(f"model must be a SpectralModel (with min_loss and loss_at_theta0), got "
                        f"{type(model).__name__}")
    L_star = float(model.min_loss)
    eps = as_float_array(eps, "eps", ndim=(0, 1))
    if np.any(eps <= L_star):
        raise ValueError(f"eps must be > the minimum loss {L_star:g}, got minimum {eps.min():g}")
    if isinstance(loss_at_start, bool) or not isinstance(loss_at_start, numbers.Real):
        raise TypeError(f"loss_at_start must be a real number, got {loss_at_start!r:.80}")
    if not (np.isfinite(loss_at_start) and loss_at_start > L_star):
        raise ValueError(f"loss_at_start must be finite and > the minimum loss {L_star:g}, got {loss_at_start!r}")
    ratio = (float(model.loss_at_theta0) - L_star) / (float(loss_at_start) - L_star)
    return L_star + (eps - L_star) * ratio


class Comparison:
    r"""Predicted and measured :math:`d^*(\epsilon)` side by side.

    ``rows`` holds one dict per (condition, level): ``label``, ``eps``, ``predicted``
    (:math:`D - \delta`), ``predicted_stderr``, ``gordon``, ``almt_low``, ``almt_high``,
    ``measured`` (NaN when censored), ``measured_low``, ``measured_high`` (the interval of
    :func:`landscape.thresholds.threshold_dimension`), ``bracket_low``, ``bracket_high``
    (tested d around the crossing), ``censored``, ``resolved``, ``measured_summary`` (e.g.
    "45.25 [32, 64]", "< 2 [1, 2]") and ``ratio`` = measured / predicted.
    """

    def __init__(self, rows):
        self.rows = _list_of(rows, "rows", dict)

    @classmethod
    def concat(cls, comparisons):
        return cls([r for c in comparisons for r in c.rows])

    def column(self, name):
        return np.array([r[name] for r in self.rows])

    def to_csv(self, path):
        """Write the rows as CSV."""
        if not self.rows:
            raise ValueError("nothing to write: the comparison is empty")
        names = list(self.rows[0])
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=names)
            writer.writeheader()
            for r in self.rows:
                writer.writerow({k: ("" if v is None else v) for k, v in r.items()})

    def to_json(self, path):
        """Write the rows as a JSON list (non-finite numbers as null)."""
        def clean(v):
            if isinstance(v, float) and not math.isfinite(v):
                return None
            return v
        with open(path, "w") as fh:
            json.dump([{k: clean(v) for k, v in r.items()} for r in self.rows], fh, indent=1)

    def to_markdown(self):
        """A Markdown table (with the direct prediction :math:`D - w^2` and its ratio when the rows
        carry ``direct``, ``direct_stderr`` and ``direct_ratio``)."""
        direct = any(r.get("direct") is not None for r in self.rows)
        head = ("| subspaces | eps | predicted D-delta | Gordon bound | measured d* [95% interval] | "
                "crossing between tested d | measured/predicted |")
        rule = "|---|---|---|---|---|---|---|"
        if direct:
            head += " direct D - w^2 | measured/direct |"
            rule += "---|---|"
        lines = [head, rule]
        for r in self.rows:
            meas = r.get("measured_summary") or \
                f"{r['measured']:.1f} [{r['measured_low']:.1f}, {r['measured_high']:.1f}]"
            if r["censored"]:
                meas += f" ({r['censored']} tested range)"
            line = (f"| {r['label']} | {r['eps']:.4g} | {r['predicted']:.1f} ± {r['predicted_stderr']:.1f} | "
                    f"{r['gordon']} | {meas} | {r['bracket_low']:g} - {r['bracket_high']:g} | {r['ratio']:.3g} |")
            if direct:
                d, ratio = r.get("direct"), r.get("direct_ratio")
                line += (" - | - |" if d is None else
                         f" {d:.1f} ± {r['direct_stderr']:.1f} | {'-' if ratio is None else f'{ratio:.3g}'} |")
            lines.append(line)
        return "\n".join(lines)

    def plot(self, ax=None):
        """Measured against predicted :math:`d^*` (see :func:`landscape.plots.plot_predicted_vs_measured`).

        The x error bar of a measured :math:`d^*` is its interval (which contains the tested
        dimensions around the crossing, ``bracket_low``, ``bracket_high``); a threshold that
        is not resolved (censored, or no tested d inside the transition) is drawn as a
        bracket without a point.
        """
        from ..plots import plot_predicted_vs_measured

        low = np.fmin(self.column("measured_low"), self.column("bracket_low"))
        high = np.fmax(self.column("measured_high"), self.column("bracket_high"))
        ci = np.column_stack([low, high])
        labels = [f"{r['label']}, ε={r['eps']:.3g}" for r in self.rows]
        return plot_predicted_vs_measured(self.column("predicted"), self.column("measured"),
                                          predicted_err=self.column("predicted_stderr"),
                                          measured_ci=ci, labels=labels, ax=ax,
                                          measured_resolved=[r.get("resolved", np.isfinite(r["measured"]))
                                                             for r in self.rows])

    def __len__(self):
        return len(self.rows)

    def __repr__(self):
        return "Comparison(\n" + self.to_markdown() + "\n)"


def compare(predictions, runs, *, metric="train_loss", levels=None, p=0.5, n_bootstrap=None, seed=0,
            label=None, design="auto", **where):
    r"""Set predicted thresholds beside the thresholds measured in a table of runs.

    For each level :math:`\epsilon` of ``predictions`` the measured :math:`d^*` is where the
    fraction of runs with ``metric <= eps`` (a loss; ``>=`` for an accuracy) crosses ``p``,
    from :func:`landscape.thresholds.threshold_dimension`, with its interval (binomial noise
    and grid resolution; censored thresholds are reported as such).

    Parameters
    ----------
    predictions : PredictionTable
        From :func:`prediction_table`, made from the same :math:`\theta_0` (or
        :math:`\theta_t` for burn-in runs) as the runs selected by ``where``.
    runs : RunTable or pandas.DataFrame
        Subspace-training runs (:func:`landscape.experiments.sweeps.sweep` or :func:`landscape.experiments.run_files.load_runs`).
    metric : str
        The run column the levels apply to (default the final training loss).
    levels : array_like, optional
        The measured level of each prediction, when it differs from the prediction's own
        level (e.g. predictions made at :func:`calibrated_levels`); default the
        predictions' levels.
    p : float
    n_bootstrap : int, optional
        Deprecated and ignored (the interval is no longer a bootstrap).
    seed : int
        Unused (kept for the signature of 0.1).
    label : str, optional
        Name of the condition (default from ``where``).
    design : {"auto", "nested", "independent"}
        Likelihood of the runs (see :func:`landscape.thresholds.threshold_dimension`).
    **where
        Run selection, e.g. ``kind="random", t=0``.

    Returns
    -------
    Comparison
    """
    from ..experiments.run_table import as_run_table
    from ..thresholds.measured import threshold_dimension

    if not isinstance(predictions, PredictionTable):
        raise TypeError(f"predictions must be a PredictionTable (from prediction_table), got "
                        f"{type(predictions).__name__}")
    runs = as_run_table(runs, "runs")
    if n_bootstrap is not None:
        import warnings

        warnings.warn("n_bootstrap is deprecated and ignored: the interval is no longer a bootstrap",
                      FutureWarning, stacklevel=2)
    if "D" in runs and len(runs):
        Ds = set(np.unique(runs["D"]).tolist())
        D_pred = {p_.D for p_ in predictions.predictions}
        if not Ds <= D_pred:
            raise ValueError(f"the runs are for a model with D = {sorted(Ds)} parameters but the "
                             f"predictions are for D = {sorted(D_pred)}: results from another model?")
    if label is None:
        label = predictions.label or ", ".join(f"{k}={v}" for k, v in where.items()) or "all runs"
    if levels is None:
        levels = [pred.eps for pred in predictions.predictions]
    levels = np.atleast_1d(as_float_array(levels, "levels", ndim=(0, 1)))
    if levels.shape[0] != len(predictions):
        raise ValueError(f"levels must have one entry per prediction ({len(predictions)}), got {levels.shape[0]}")
    rows = []
    for pred, level in zip(predictions.predictions, levels):
        est = threshold_dimension(runs, metric, float(level), p=p, design=design, **where)
        predicted = pred.kinematic
        ratio = est.value / predicted if predicted > 0 else float("inf")
        rows.append({
            "label": label, "eps": float(level), "model_eps": pred.eps, "D": pred.D,
            "predicted": predicted, "predicted_stderr": pred.kinematic_stderr,
            "gordon": pred.gordon, "almt_low": pred.kinematic_window[0], "almt_high": pred.kinematic_window[1],
            "measured": float(est.value), "measured_low": float(est.ci[0]), "measured_high": float(est.ci[1]),
            "bracket_low": float(est.bracket[0]), "bracket_high": float(est.bracket[1]),
            "censored": est.censored or "", "resolved": bool(est.resolved), "measured_summary": est.summary(),
            "n_seeds": est.n_seeds, "ratio": float(ratio),
        })
    return Comparison(rows)


def predict_threshold(*args, **kwargs):
    """Deprecated alias of :func:`prediction_table` (renamed: it returns a table over levels,
    where :func:`landscape.theory.predict.predicted_threshold` predicts one level)."""
    import warnings

    warnings.warn("landscape.predict_threshold is deprecated and will be removed in the next release; "
                  "use landscape.prediction_table", DeprecationWarning, stacklevel=2)
    return prediction_table(*args, **kwargs)
