r"""Five answers to "how many parameters matter?", for one trained model, side by side.

For a model with D parameters, an initialisation :math:`\theta_0`, a trained point
:math:`\theta^*` and loss levels :math:`\epsilon`, :func:`effective_dimensions` puts in one
table:

1. **measured** :math:`d^*(\epsilon)`: the threshold training dimension of random
   subspaces through :math:`\theta_0`, with its interval
   (:func:`landscape.thresholds.threshold_dimension` on a run table or a fresh sweep; for a
   quadratic well, exact least-squares tests, :func:`landscape.thresholds.empirical_threshold`);
2. :math:`D - \delta(K_\epsilon)`: the kinematic prediction from the quadratic model of the
   loss around :math:`\theta^*` (:class:`landscape.theory.spectral_model.SpectralModel`,
   :func:`landscape.theory.comparison.prediction_table`);
3. :math:`D - w^2`: Gordon's prediction from the Gaussian width of the model's own
   sub-level set, measured directly (:func:`landscape.theory.sublevel_widths.sublevel_width`);
4. :math:`2\hat\lambda`: twice the local learning coefficient at :math:`\theta^*`
   (:func:`landscape.theory.local_learning_coefficient.learning_coefficient`), the effective
   parameter count of singular learning theory;
5. the Hessian's **effective ranks** at :math:`\theta^*`
   (:func:`landscape.theory.effective_rank.effective_ranks`).

They count different things. The first three depend on :math:`\epsilon` and on
:math:`\theta_0`: they measure how large the set of good parameters looks from the
starting point. The last two depend on :math:`\theta^*` alone (and on the temperature
:math:`n\beta` and localisation :math:`\gamma` for :math:`\lambda`, on the cut-off for the
threshold rank): they count the directions in which the loss rises around the minimum.
"""
from __future__ import annotations

import csv
import json
import math

import numpy as np

from geometry.validation import as_float_array, check_int, check_probability

__all__ = ["EffectiveDimensions", "effective_dimensions"]

#: the table's columns, in order
COLUMNS = (
    "eps", "eps_above_min", "D",
    "d_star", "d_star_low", "d_star_high", "d_star_bracket_low", "d_star_bracket_high", "d_star_censored",
    "D_minus_delta", "D_minus_delta_stderr", "model_eps",
    "D_minus_w2", "D_minus_w2_stderr",
    "two_llc", "two_llc_stderr", "llc_gamma", "llc_nbeta",
    "rank_threshold", "participation_ratio", "entropy_rank", "rank_fraction",
)


class EffectiveDimensions:
    r"""The five effective dimensions of one model, one row per loss level.

    Attributes
    ----------
    rows : list of dict
        One per level, with the keys of :data:`COLUMNS`: ``eps``, ``eps_above_min``, ``D``;
        the measured ``d_star`` with ``d_star_low``, ``d_star_high`` (its confidence interval)
        and ``d_star_censored``; ``d_star_bracket_low``, ``d_star_bracket_high``: the tested
        dimensions around the crossing (NaN for exact tests on a well), which is what the data
        resolve when the interval collapses; ``D_minus_delta`` (± ``D_minus_delta_stderr``; the quadratic
        model's level ``model_eps``); ``D_minus_w2`` (± ``D_minus_w2_stderr``; NaN when not
        measured); ``two_llc`` (± ``two_llc_stderr``, at ``llc_gamma`` and ``llc_nbeta``);
        ``rank_threshold`` (eigenvalues above ``rank_fraction`` of the largest),
        ``participation_ratio``, ``entropy_rank``.
    D : int
    label : str
    llc : LearningCoefficient
    ranks : EffectiveRanks
    spectral : SpectralModel
    thresholds, predictions, widths : list
        The underlying results, one per level (``widths`` entries None when not measured).
    min_loss, loss_at_theta0 : float
    """

    def __init__(self, rows, *, D, label="", llc=None, ranks=None, spectral=None, thresholds=None,
                 predictions=None, widths=None, min_loss=float("nan"), loss_at_theta0=float("nan")):
        self.rows = [dict(r) for r in rows]
        self.D = int(D)
        self.label = label
        self.llc, self.ranks, self.spectral = llc, ranks, spectral
        self.thresholds = list(thresholds or [])
        self.predictions = list(predictions or [])
        self.widths = list(widths or [])
        self.min_loss, self.loss_at_theta0 = float(min_loss), float(loss_at_theta0)

    def __len__(self):
        return len(self.rows)

    def column(self, name):
        """One column as an array."""
        if self.rows and name not in self.rows[0]:
            raise KeyError(f"no column {name!r}; columns: {list(self.rows[0])}")
        return np.array([r[name] for r in self.rows])

    def __getitem__(self, name):
        return self.column(name)

    def to_dataframe(self):
        """The table as a :class:`pandas.DataFrame` (one row per level)."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=list(COLUMNS))

    def to_csv(self, path):
        """Write the rows as CSV."""
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(COLUMNS))
            writer.writeheader()
            for r in self.rows:
                writer.writerow({k: ("" if r[k] is None else r[k]) for k in COLUMNS})

    def to_json(self, path):
        """Write the rows as a JSON list (non-finite numbers as null)."""
        def clean(v):
            if isinstance(v, (float, np.floating)):
                return float(v) if math.isfinite(v) else None
            if isinstance(v, np.integer):
                return int(v)
            return v

        with open(path, "w") as fh:
            json.dump([{k: clean(v) for k, v in r.items()} for r in self.rows], fh, indent=1)

    def to_markdown(self):
        """A Markdown table, one row per level."""
        def pm(v, s, digits=1):
            if v is None or not np.isfinite(v):
                return "-"
            return f"{v:.{digits}f} ± {s:.{digits}f}" if np.isfinite(s) and s > 0 else f"{v:.{digits}f}"

        head = ("| eps | measured d* (95% CI) | D - delta (quadratic model) | D - w^2 (direct width) | "
                "2 lambda (LLC) | Hessian rank: count / PR / entropy |")
        lines = [head, "|---|---|---|---|---|---|"]
        for r in self.rows:
            meas = f"{r['d_star']:.1f} [{r['d_star_low']:.1f}, {r['d_star_high']:.1f}]"
            if np.isfinite(r["d_star_bracket_low"]):
                meas += f", between tested d {r['d_star_bracket_low']:g} and {r['d_star_bracket_high']:g}"
            if r["d_star_censored"]:
                meas += f" ({r['d_star_censored']} the tested range)"
            lines.append(
                f"| {r['eps']:.4g} | {meas} | {pm(r['D_minus_delta'], r['D_minus_delta_stderr'])} | "
                f"{pm(r['D_minus_w2'], r['D_minus_w2_stderr'])} | {pm(r['two_llc'], r['two_llc_stderr'], 2)} | "
                f"{r['rank_threshold']:.0f} / {r['participation_ratio']:.1f} / {r['entropy_rank']:.1f} |")
        return "\n".join(lines)

    def describe(self):
        """The settings behind the level-free columns, in words."""
        parts = [f"D = {self.D}"]
        if self.llc is not None:
            parts.append(f"LLC: n*beta = {self.llc.nbeta:.4g}, gamma = {self.llc.gamma:g}, "
                         f"{self.llc.n_chains} SGLD chains x {self.llc.loss_traces.shape[1]} steps "
                         f"(step {self.llc.step_size:.3g}, burn-in {self.llc.n_burnin}, R-hat {self.llc.rhat:.3f})")
        if self.ranks is not None:
            parts.append(f"ranks from {self.ranks.source}; threshold count above {self.ranks.fraction:g} "
                         f"of the largest eigenvalue {self.ranks.largest:.3g}")
        return "; ".join(parts)

    def plot(self, ax=None):
        """See :func:`landscape.plots.plot_effective_dimensions`."""
        from ..plots import plot_effective_dimensions

        return plot_effective_dimensions(self, ax=ax)

    def __repr__(self):
        return f"EffectiveDimensions({self.label!r}, {self.describe()}:\n{self.to_markdown()}\n)"


# ------------------------------------------------------------------------ pieces
def _is_well(model):
    from ..models.quadratic import QuadraticWell

    return isinstance(model, QuadraticWell)


def _measured_thresholds(model, theta0, levels, data, runs, where, metric, ds, seeds, n_trials, train,
                         confidence, seed, progress, sweep_options):
    """(value, low, high, bracket low, bracket high, censored, raw result) per level."""
    from ..thresholds.measured import threshold_dimension

    out = []
    if runs is None and _is_well(model):
        from ..thresholds.ground_truth import empirical_success_probability, empirical_threshold

        D = model.dim
        grid = np.unique(np.linspace(1, D, 41).round().astype(int)) if ds is None else ds
        for i, eps in enumerate(levels):
            emp = empirical_success_probability(model, theta0, float(eps), grid, n_trials,
                                                seed=np.random.SeedSequence([seed, 11, i]), progress=progress)
            thr = empirical_threshold(emp, confidence=confidence, seed=seed)
            out.append((float(thr.value), float(thr.ci[0]), float(thr.ci[1]), float("nan"), float("nan"),
                        thr.censored or "", thr))
        return out
    if runs is None:
        from ..experiments.sweeps import sweep

        D = int(model.n_params)
        grid = [d for d in (ds if ds is not None else _default_ds(D)) if d <= D]
        runs = sweep(model, data, grid, seeds, **{**train, **sweep_options}, progress=progress)
    if where is None:
        where = {c: v for c, v in (("kind", "random"), ("t", 0)) if c in runs}
    for eps in levels:
        est = threshold_dimension(runs, metric, float(eps), confidence=confidence, seed=seed, **where)
        out.append((float(est.value), float(est.ci[0]), float(est.ci[1]), float(est.bracket[0]),
                    float(est.bracket[1]), est.censored or "", est))
    return out


def _width_threshold(w):
    """(D - w^2, its stderr) from a SublevelWidth, its ``as_dict()``, or None (NaN, NaN)."""
    if w is None:
        return float("nan"), float("nan")
    if isinstance(w, dict):
        value, se = w.get("D_minus_w2"), w.get("D_minus_w2_stderr")
    elif hasattr(w, "threshold"):
        value, se = (None, None) if w.threshold is None else (w.threshold.value, w.threshold.stderr)
    else:
        raise TypeError(f"widths entries must be SublevelWidth results, their as_dict(), or None; got "
                        f"{type(w).__name__}")
    return (float("nan") if value is None else float(value)), (float("nan") if se is None else float(se))


def _default_ds(D):
    """About four tested d per doubling, from 2 to D."""
    ds = np.unique(np.round(2.0 ** np.arange(1.0, math.log2(D) + 0.25, 0.5)).astype(int))
    return [int(d) for d in ds if d <= D]


# ------------------------------------------------------------------------ the table
def effective_dimensions(model, theta0, theta_star, eps, *, data=None, n=None, runs=None, where=None,
                         metric="train_loss", ds=None, seeds=4, n_trials=100, train=None, sweep_options=None,
                         spectral=None, hessian=None, calibrate=True, n_samples=2000, predictions=None,
                         widths=None, width_samples=16, width_options=None,
                         llc=None, llc_options=None, rank_fraction=0.01, confidence=0.95, seed=0,
                         progress=None, label=""):
    r"""Five answers to "how many parameters matter?" for one model, one row per loss level.

    For each level :math:`\epsilon`:

    .. math::

        d^*(\epsilon)\ \text{(measured)},\quad D - \delta(K_\epsilon),\quad D - w(P(S_\epsilon))^2,\quad
        2\hat\lambda(\theta^*),\quad r_f(H),\ \mathrm{PR}(H),\ r_H(H),

    with :math:`K_\epsilon` the cone of directions from :math:`\theta_0` into the sub-level set
    of the quadratic model around :math:`\theta^*`, :math:`P(S_\epsilon)` the directions into
    the model's own sub-level set, :math:`\hat\lambda` the local learning coefficient and
    :math:`r_f, \mathrm{PR}, r_H` the effective ranks of the Hessian H at :math:`\theta^*`
    (see :mod:`landscape.theory.dimensions` for what each counts).

    Parameters
    ----------
    model : QuadraticWell, MLP, TorchModel or model object
        A well (no data; d* from exact least-squares tests, the quadratic model is the well
        itself), or a network with ``n_params``, ``loss``, ``loss_and_grad``, ``hvp``.
    theta0 : array_like of shape (D,)
        The initialisation the subspaces go through (and the apex of the widths).
    theta_star : array_like of shape (D,)
        The trained point (Hessian, LLC).
    eps : float or array_like
        Loss levels (absolute, > :math:`L(\theta^*)`).
    data : Dataset, optional
        The training set (networks).
    n : int, optional
        Number of samples behind the loss, for the LLC's :math:`n\beta = n/\log n`
        (default: the training rows; required for a well unless ``llc_options`` has ``nbeta``).
    runs : RunTable, optional
        Subspace-training runs to measure d* from (selected by ``where``, default
        ``kind="random", t=0`` where those columns exist). Without it: for a network a sweep
        is run (``ds``, ``seeds``, protocol ``train``), for a well exact tests (``ds``,
        ``n_trials``). Sweeps draw one :math:`\theta_0` per seed from the model's
        initialisation, like ``theta0``.
    where : dict, optional
    metric : str
        Run column the levels apply to.
    ds : sequence of int, optional
        Tested dimensions (default: about four per doubling up to D; 41 for a well).
    seeds : int or sequence of int
        Seeds of the sweep.
    n_trials : int
        Random subspaces per d for a well.
    train : dict, optional
        Training protocol of the sweep and of the cone tests of the widths: ``optimizer``,
        ``lr``, ``steps``, ``batch_size`` (default ``momentum``, 0.3, 300, 128).
    sweep_options : dict, optional
        Other arguments of :func:`landscape.experiments.sweeps.sweep` (``store``,
        ``executor``, ``max_workers``).
    spectral : SpectralModel, optional
        The quadratic model (default: exact for a well; for a network
        :meth:`SpectralModel.from_model` with ``hessian`` options).
    hessian : dict, optional
        ``k``, ``n_probes``, ``n_steps`` of Lanczos and SLQ (default 20, 8, 60).
    calibrate : bool
        Predict D - delta at :func:`landscape.theory.comparison.calibrated_levels` (the model
        rescaled to the measured :math:`L(\theta_0)`; a no-op for a well).
    n_samples : int
        Monte Carlo samples of the statistical dimension.
    predictions : PredictionTable or sequence of ThresholdPrediction, optional
        D - delta already predicted from ``spectral``, one per level (entries None for
        levels at or above :math:`L(\theta_0)`); their own levels are the model levels.
    widths : sequence of SublevelWidth, dict or None, optional
        Direct widths already measured from ``theta0``, one per level: results of
        ``sublevel_width``, or their ``as_dict()`` (entries None are left out).
    width_samples : int
        Gaussian directions per level for :func:`landscape.theory.sublevel_widths.sublevel_width`
        when ``widths`` is not given (0: no direct width, the column is NaN).
    width_options : dict, optional
        Other arguments of ``sublevel_width`` (default for a network: the ``train`` protocol).
    llc : LearningCoefficient, optional
        An LLC already estimated at ``theta_star``.
    llc_options : dict, optional
        Arguments of :func:`landscape.theory.local_learning_coefficient.learning_coefficient`
        (default ``gamma=100``, 4 chains of 500 steps, burn-in 100, step
        :math:`0.1/(n\beta h_{\max} + \gamma)` with :math:`h_{\max}` from the spectral model).
    rank_fraction : float in (0, 1)
        Cut-off of the threshold rank.
    confidence : float in (0, 1)
        Of the measured d*'s interval.
    seed : int
    progress : bool or None
    label : str

    Returns
    -------
    EffectiveDimensions
        Convertible with ``to_dataframe()``; ``plot()`` draws
        :func:`landscape.plots.plot_effective_dimensions`.

    Examples
    --------
    >>> import numpy as np
    >>> from landscape import QuadraticWell, effective_dimensions
    >>> well = QuadraticWell(np.r_[np.ones(10), np.zeros(30)])
    >>> theta0 = np.full(40, 0.5)
    >>> table = effective_dimensions(well, theta0, np.zeros(40), [0.3, 0.6], n=1000, n_trials=20,
    ...                              width_samples=0, llc_options=dict(gamma=1.0, n_steps=600, n_burnin=200),
    ...                              n_samples=200, progress=False)
    >>> table.to_dataframe().shape
    (2, 22)
    >>> round(float(table["rank_threshold"][0]))
    10
    """
    from ..models.datasets import Dataset
    from .comparison import calibrated_levels, prediction_table
    from .effective_rank import effective_ranks
    from .local_learning_coefficient import learning_coefficient
    from .spectral_model import SpectralModel

    well = _is_well(model)
    levels = np.atleast_1d(as_float_array(eps, "eps", ndim=(0, 1)))
    seed = check_int(seed, "seed", minimum=0)
    rank_fraction = check_probability(rank_fraction, "rank_fraction")
    confidence = check_probability(confidence, "confidence")
    width_samples = check_int(width_samples, "width_samples", minimum=0)
    n_trials = check_int(n_trials, "n_trials", minimum=1)
    train = {"optimizer": "momentum", "lr": 0.3, "steps": 300, "batch_size": 128, **(train or {})}
    if well:
        if data is not None:
            raise ValueError("data must be None for a QuadraticWell")
        D = model.dim
    else:
        if not isinstance(data, Dataset):
            raise TypeError(f"data must be a landscape Dataset for {type(model).__name__}, got {type(data).__name__}")
        D = check_int(getattr(model, "n_params", None), "model.n_params", minimum=2)
    theta0 = as_float_array(theta0, "theta0", shape=(D,))
    theta_star = as_float_array(theta_star, "theta_star", shape=(D,))
    if well:
        L_star, L0 = float(model.loss(theta_star)), float(model.loss(theta0))
    else:
        X, y = data.X_train, data.y_train
        L_star, L0 = float(model.loss(theta_star, X, y)), float(model.loss(theta0, X, y))
    if np.any(levels <= L_star):
        raise ValueError(f"eps must be > L(theta_star) = {L_star:.6g} (the sub-level set is otherwise empty or "
                         f"a point), got minimum {levels.min():.6g}")
    if widths is not None:
        widths = list(widths)
        if len(widths) != levels.size:
            raise ValueError(f"widths must have one entry per level ({levels.size}), got {len(widths)}")

    # 1. the quadratic model and the Hessian's ranks
    if spectral is None:
        if well:
            spectral = SpectralModel.from_spectrum(model.eigenvalues, model.eigen_offset(theta0),
                                                   min_loss=L_star, merge=True)
        else:
            h = {"k": 20, "n_probes": 8, "n_steps": 60, **(hessian or {})}
            spectral = SpectralModel.from_model(model, theta_star, theta0, X, y, seed=seed, progress=progress, **h)
    elif not isinstance(spectral, SpectralModel):
        raise TypeError(f"spectral must be a SpectralModel, got {type(spectral).__name__}")
    elif spectral.D != D:
        raise ValueError(f"spectral describes D = {spectral.D} parameters, the model has {D}")
    ranks = effective_ranks(model.eigenvalues if well else spectral, fraction=rank_fraction)

    # 2. D - delta of the quadratic model, at each level (calibrated at theta0)
    inside = levels >= L0
    model_levels = calibrated_levels(spectral, levels, L0) if (calibrate and not well) else levels.copy()
    preds = [None] * levels.size
    if predictions is not None:
        preds = list(getattr(predictions, "predictions", predictions))
        if len(preds) != levels.size:
            raise ValueError(f"predictions must have one entry per level ({levels.size}), got {len(preds)}")
        for i, p in enumerate(preds):
            if p is not None:
                if p.D != D:
                    raise ValueError(f"predictions[{i}] is for D = {p.D}, the model has {D} parameters")
                model_levels[i] = p.eps
    elif (~inside).any():
        table = prediction_table(spectral, model_levels[~inside], n_samples=n_samples,
                                 seed=np.random.SeedSequence([seed, 12]), label=label, progress=progress)
        for i, p in zip(np.flatnonzero(~inside), table.predictions):
            preds[i] = p

    # 3. the LLC at theta_star
    if llc is None:
        opts = {"gamma": 100.0, "n_chains": 4, "n_steps": 500, "n_burnin": 100, "seed": seed,
                "progress": progress, **(llc_options or {})}
        if "step_size" not in opts:
            n_eff = n if n is not None else (None if well else X.shape[0])
            nbeta = opts.get("nbeta") or (n_eff / math.log(n_eff) if n_eff else None)
            if nbeta is not None:
                opts["step_size"] = 0.1 / (nbeta * float(spectral.eigenvalues.max()) + opts["gamma"])
        llc = learning_coefficient(model, theta_star, data=None if well else data, n=n, **opts)

    # 4. measured d*
    measured = _measured_thresholds(model, theta0, levels, data, runs, where, metric, ds, seeds, n_trials,
                                    train, confidence, seed, progress, dict(sweep_options or {}))

    # 5. direct widths
    if widths is None:
        widths = [None] * levels.size
        if width_samples:
            from .sublevel_widths import sublevel_width

            wopts = dict(width_options or {})
            if not well:
                wopts = {**{k: train[k] for k in ("optimizer", "lr", "steps", "batch_size")}, **wopts}
            wopts.setdefault("executor", "serial")
            for i, e in enumerate(levels):
                widths[i] = sublevel_width(model, float(e), theta0, data=None if well else data,
                                           n_samples=width_samples, seed=np.random.SeedSequence([seed, 13, i]),
                                           progress=progress, **wopts)

    rows = []
    for i, e in enumerate(levels):
        value, low, high, b_low, b_high, censored, _ = measured[i]
        p = preds[i]
        w_value, w_stderr = _width_threshold(widths[i])
        rows.append({
            "eps": float(e), "eps_above_min": float(e - L_star), "D": D,
            "d_star": value, "d_star_low": low, "d_star_high": high, "d_star_bracket_low": b_low,
            "d_star_bracket_high": b_high, "d_star_censored": censored,
            "D_minus_delta": 0.0 if p is None else float(p.kinematic),
            "D_minus_delta_stderr": 0.0 if p is None else float(p.kinematic_stderr),
            "model_eps": float(model_levels[i]),
            "D_minus_w2": w_value, "D_minus_w2_stderr": w_stderr,
            "two_llc": float(llc.dimension), "two_llc_stderr": 2.0 * float(llc.stderr),
            "llc_gamma": float(llc.gamma), "llc_nbeta": float(llc.nbeta),
            "rank_threshold": ranks.threshold_count, "participation_ratio": ranks.participation_ratio,
            "entropy_rank": ranks.entropy_rank, "rank_fraction": ranks.fraction,
        })
    return EffectiveDimensions(rows, D=D, label=label, llc=llc, ranks=ranks, spectral=spectral,
                               thresholds=[m[-1] for m in measured], predictions=preds, widths=widths,
                               min_loss=L_star, loss_at_theta0=L0)
