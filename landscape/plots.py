r"""Matplotlib plots of success curves, thresholds, sub-level sets and spectra.

Every function takes ``ax=None`` (draws on a new Axes when None), returns the Axes,
never calls ``plt.show()`` and never changes global rcParams.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "plot_success_curve",
    "plot_threshold_vs_eps",
    "plot_sublevel_set_2d",
    "plot_spectrum",
    "plot_predicted_vs_measured",
    "plot_threshold_vs_burn_in",
]


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
    return ax


def _rate_and_ci(successes, n_trials):
    """Success rates and 95% Wilson intervals (clipped so that they contain the rate)."""
    from .thresholds.ground_truth import wilson_interval

    k = np.asarray(successes, float)
    n = np.broadcast_to(np.asarray(n_trials, float), k.shape)
    p = k / n
    lo, hi = wilson_interval(k, n)
    return p, np.minimum(lo, p), np.maximum(hi, p)


def _errors_from_ci(values, ci):
    """Asymmetric error bars [values - low, high - values] from an (n, 2) interval array (None passes)."""
    if ci is None:
        return None
    c = np.asarray(ci, float)
    return [values - c[:, 0], c[:, 1] - values]


def plot_success_curve(ds, successes=None, n_trials=None, *, prediction=None, gordon=None,
                       almt_window=None, log_d=False, label="measured", ax=None, color=None):
    r"""Success probability :math:`P_s(d)` against the training dimension d.

    Parameters
    ----------
    ds : array_like of int
        Training dimensions of the measured points.
    successes, n_trials : array_like, optional
        Successful runs and runs per d (error bars: 95% Wilson intervals).
    prediction : SuccessCurvePrediction, optional
        Predicted curve (line) with its bootstrap band; its kinematic :math:`D - \delta`
        and ALMT window are drawn too unless given explicitly.
    gordon : int, optional
        Gordon lower bound: failure guaranteed for d <= gordon (hatched region).
    almt_window : (float, float), optional
    log_d : bool
        Logarithmic d axis (for network sweeps over powers of two).
    ax : matplotlib Axes, optional

    Returns
    -------
    ax : matplotlib Axes
    """
    ax = _axes(ax)
    if prediction is not None:
        line, = ax.plot(prediction.ds, prediction.probability, "-", color=color,
                        label=r"predicted (kinematic formula)")
        lo, hi = prediction.band
        ax.fill_between(prediction.ds, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
        thr = prediction.threshold
        ax.axvline(thr.kinematic, color=line.get_color(), ls="--", lw=1,
                   label=rf"$D-\delta$ = {thr.kinematic:.0f}")
        if gordon is None:
            gordon = thr.gordon
        if almt_window is None:
            almt_window = thr.kinematic_window
        color = line.get_color()
    if almt_window is not None:
        ax.axvspan(almt_window[0], almt_window[1], color="0.85", zorder=0, label="ALMT window")
    if gordon is not None and gordon > 0:
        ax.axvspan(0 if not log_d else max(min(np.min(ds), 1), 1e-9), gordon, hatch="//",
                   fill=False, ec="0.5", lw=0, label=f"Gordon: fails for d ≤ {gordon}")
    if successes is not None:
        if n_trials is None:
            raise ValueError("n_trials is required with successes")
        p, lo, hi = _rate_and_ci(successes, n_trials)
        ax.errorbar(ds, p, yerr=[p - lo, hi - p], fmt="o", ms=4, capsize=2, color=color, label=label)
    if log_d:
        ax.set_xscale("log", base=2)
    ax.set_xlabel("training dimension d")
    ax.set_ylabel(r"success probability $P_s(d)$")
    ax.set_ylim(-0.03, 1.03)
    ax.legend(fontsize="small")
    return ax


def plot_threshold_vs_eps(eps, predicted=None, predicted_err=None, measured=None, measured_ci=None,
                          gordon=None, ax=None):
    r"""Threshold training dimension :math:`d^*` against the loss level :math:`\epsilon`.

    Parameters
    ----------
    eps : array_like
    predicted, predicted_err : array_like, optional
        Kinematic :math:`D - \delta` and its standard error (band of 2 standard errors).
    measured : array_like, optional
        Empirical :math:`d^*`; ``measured_ci`` an (n, 2) array of intervals.
    gordon : array_like, optional
        Gordon lower bounds.
    """
    ax = _axes(ax)
    eps = np.asarray(eps, float)
    if predicted is not None:
        predicted = np.asarray(predicted, float)
        ax.plot(eps, predicted, "-", label=r"predicted $D-\delta$")
        if predicted_err is not None:
            err = 2 * np.asarray(predicted_err, float)
            ax.fill_between(eps, predicted - err, predicted + err, alpha=0.2, lw=0)
    if gordon is not None:
        ax.plot(eps, gordon, ":", color="0.3", label="Gordon lower bound")
    if measured is not None:
        measured = np.asarray(measured, float)
        ax.errorbar(eps, measured, yerr=_errors_from_ci(measured, measured_ci), fmt="o", capsize=2,
                    label=r"measured $d^*$")
    ax.set_xlabel(r"loss level $\epsilon$")
    ax.set_ylabel(r"threshold dimension $d^*$")
    ax.legend(fontsize="small")
    return ax


def plot_sublevel_set_2d(well, theta0, eps, *, direction=None, levels=None, extent=None, ax=None):
    r"""Two-dimensional picture: loss contours, the sub-level set :math:`S(\epsilon)`,
    :math:`\theta_0` and a line through it.

    Parameters
    ----------
    well : QuadraticWell of dimension 2
    theta0 : array_like of shape (2,)
    eps : float
    direction : array_like of shape (2,), optional
        Direction of the one-dimensional subspace through theta0 (default: random, seed 0).
    """
    ax = _axes(ax)
    theta0 = np.asarray(theta0, float)
    if well.dim != 2 or theta0.shape != (2,):
        raise ValueError("plot_sublevel_set_2d needs a well of dimension 2 and theta0 of shape (2,)")
    centre = np.asarray(well.minimum, float)
    if extent is None:
        span = 1.5 * max(np.linalg.norm(theta0 - centre), 1e-3)
        extent = (centre[0] - span, centre[0] + span, centre[1] - span, centre[1] + span)
    xs = np.linspace(extent[0], extent[1], 200)
    ys = np.linspace(extent[2], extent[3], 200)
    X, Y = np.meshgrid(xs, ys)
    Z = well.loss(np.column_stack([X.ravel(), Y.ravel()])).reshape(X.shape)
    ax.contour(X, Y, Z, levels=levels or 12, colors="0.75", linewidths=0.6)
    ax.contourf(X, Y, Z, levels=[-np.inf, eps], colors=["tab:green"], alpha=0.35)
    ax.contour(X, Y, Z, levels=[eps], colors=["tab:green"])
    if direction is None:
        direction = np.random.default_rng(0).standard_normal(2)
    u = np.asarray(direction, float)
    u = u / np.linalg.norm(u)
    t = np.linspace(-3, 3, 2) * max(extent[1] - extent[0], extent[3] - extent[2])
    ax.plot(theta0[0] + t * u[0], theta0[1] + t * u[1], "-", color="tab:blue", label="random line (d = 1)")
    ax.plot(*theta0, "o", color="tab:red", label=r"$\theta_0$")
    ax.plot(*centre, "*", color="k", label=r"$\theta^*$")
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("equal")
    ax.set_xlabel(r"$\theta_1$")
    ax.set_ylabel(r"$\theta_2$")
    ax.set_title(rf"sub-level set $L \leq {eps:g}$")
    ax.legend(fontsize="small", loc="upper right")
    return ax


def plot_spectrum(eigenvalues=None, *, weights=None, density=None, ax=None, label=None):
    r"""Hessian spectrum: sorted eigenvalues (log scale), or a density (grid, values).

    Parameters
    ----------
    eigenvalues : array_like, optional
        Eigenvalues (top ones, or all), drawn against their rank.
    weights : array_like, optional
        Multiplicities of grouped eigenvalues (drawn as a weighted rank plot).
    density : (grid, values), optional
        A smoothed spectral density, e.g. from stochastic Lanczos quadrature.
    """
    ax = _axes(ax)
    if density is not None:
        grid, values = density
        ax.plot(grid, values, label=label or "spectral density")
        ax.set_xlabel(r"eigenvalue $\lambda$")
        ax.set_ylabel("density")
        ax.set_yscale("log")
    elif eigenvalues is not None:
        lam = np.sort(np.asarray(eigenvalues, float))[::-1]
        if weights is None:
            rank = np.arange(1, lam.size + 1)
        else:
            w = np.asarray(weights, float)[np.argsort(np.asarray(eigenvalues, float))[::-1]]
            rank = np.cumsum(w)
        pos = lam > 0
        ax.loglog(rank[pos], lam[pos], ".", label=label or "eigenvalues")
        ax.set_xlabel("rank i")
        ax.set_ylabel(r"eigenvalue $\lambda_i$")
    else:
        raise ValueError("give eigenvalues or density")
    ax.legend(fontsize="small")
    return ax


def plot_predicted_vs_measured(predicted, measured, *, predicted_err=None, measured_ci=None,
                               labels=None, ax=None):
    r"""Scatter of predicted against measured :math:`d^*` with the diagonal."""
    ax = _axes(ax)
    predicted = np.asarray(predicted, float)
    measured = np.asarray(measured, float)
    xerr = _errors_from_ci(measured, measured_ci)
    yerr = None if predicted_err is None else 2 * np.asarray(predicted_err, float)
    ax.errorbar(measured, predicted, xerr=xerr, yerr=yerr, fmt="o", capsize=2)
    if labels is not None:
        for x, y, s in zip(measured, predicted, labels):
            ax.annotate(str(s), (x, y), textcoords="offset points", xytext=(4, 4), fontsize="small")
    finite = np.concatenate([predicted[np.isfinite(predicted)], measured[np.isfinite(measured)]])
    if finite.size:
        lo, hi = max(finite.min() * 0.8, 1e-9), finite.max() * 1.25
        ax.plot([lo, hi], [lo, hi], "--", color="0.5", label="predicted = measured")
        if lo > 0 and hi / lo > 20:
            ax.set_xscale("log")
            ax.set_yscale("log")
    ax.set_xlabel(r"measured $d^*$")
    ax.set_ylabel(r"predicted $d^*$")
    ax.legend(fontsize="small")
    return ax


def plot_threshold_vs_burn_in(burn_in_steps, thresholds, *, ci=None, predicted=None, ax=None):
    r"""Threshold :math:`d^*` against the number of burn-in steps t."""
    ax = _axes(ax)
    t = np.asarray(burn_in_steps, float)
    y = np.asarray(thresholds, float)
    ax.errorbar(t, y, yerr=_errors_from_ci(y, ci), fmt="o-", capsize=2, label=r"measured $d^*$")
    if predicted is not None:
        ax.plot(t, predicted, "s--", label=r"predicted $D-\delta$")
    ax.set_xlabel("burn-in steps t")
    ax.set_ylabel(r"threshold dimension $d^*$")
    ax.legend(fontsize="small")
    return ax
