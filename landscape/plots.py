r"""Matplotlib plots of success curves, thresholds, sub-level sets and spectra.

Every function takes ``ax=None`` (draws on a new Axes when None), returns the Axes,
never calls ``plt.show()`` and never changes global rcParams.
"""
from __future__ import annotations

import numbers

import numpy as np

from geometry.validation import as_float_array, check_bool, check_int, check_rng

__all__ = [
    "plot_loss_slice",
    "plot_success_curve",
    "plot_threshold_vs_eps",
    "plot_sublevel_set_2d",
    "plot_spectrum",
    "plot_predicted_vs_measured",
    "plot_threshold_vs_burn_in",
    "plot_threshold_predictions",
    "plot_methods",
    "plot_effective_dimensions",
]


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
        return ax
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
    return ax


def _vector(x, name, *, n=None, like=None, allow_nan=False, allow_inf=False, minimum=None):
    """A 1-D float array of what a plot draws: finite (NaN only where ``allow_nan``: a value
    that is missing and not drawn; infinities only where ``allow_inf``: an open end), of
    length ``n`` when given, each >= ``minimum``."""
    if allow_nan:
        if isinstance(x, (str, bytes)) or x is None:
            raise TypeError(f"{name} must be an array of numbers, got {type(x).__name__}")
        try:
            arr = np.asarray(x)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be an array of numbers ({exc})") from None
        if arr.dtype.kind not in "iuf":
            raise TypeError(f"{name} must be an array of real numbers, got dtype {arr.dtype}")
        arr = np.atleast_1d(arr.astype(np.float64))
        if arr.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
        if np.isinf(arr).any() and not allow_inf:
            raise ValueError(f"{name} must be finite or NaN (missing), got an infinity")
    else:
        arr = np.atleast_1d(as_float_array(x, name, ndim=(0, 1)))
    if n is not None and arr.shape[0] != n:
        per = f"as many as {like}" if like else "one per point"
        raise ValueError(f"{name} must have {n} values ({per}), got {arr.shape[0]}")
    if minimum is not None and np.any(arr[~np.isnan(arr)] < minimum):
        raise ValueError(f"{name} must be >= {minimum}, got minimum {np.nanmin(arr):g}")
    return arr


def _intervals(ci, name, n, allow_inf=False):
    """An (n, 2) array of intervals [low, high] (NaN: no interval for that point; infinite
    ends where ``allow_inf``)."""
    if ci is None:
        return None
    try:
        raw = np.ravel(ci) if isinstance(ci, (list, tuple, np.ndarray)) else ci
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an (n, 2) array of intervals") from None
    flat = _vector(raw, name, allow_nan=True, allow_inf=allow_inf)
    if flat.size != 2 * n:
        raise ValueError(f"{name} must have shape ({n}, 2) (one interval per point), got {np.shape(ci)}")
    c = flat.reshape(n, 2)
    if np.any(c[:, 0] > c[:, 1]):
        raise ValueError(f"{name} must hold intervals [low, high] with low <= high")
    return c


def _flags(x, name, n, like):
    """A boolean vector of length n (one flag per point)."""
    arr = np.asarray(x) if not isinstance(x, (str, bytes)) else np.asarray(None)
    if arr.dtype != bool or arr.shape != (n,):
        raise TypeError(f"{name} must be {n} booleans (one per point, as many as {like}), got {x!r:.80}")
    return arr


def _rate_and_ci(successes, n_trials):
    """Success rates and 95% Wilson intervals (clipped so that they contain the rate)."""
    from .thresholds.binomial import wilson_interval

    lo, hi = wilson_interval(successes, n_trials)
    k = np.asarray(successes, float)
    n = np.broadcast_to(np.asarray(n_trials, float), k.shape)
    p = k / n
    return p, np.minimum(lo, p), np.maximum(hi, p)


def _errors_from_ci(values, ci):
    """Asymmetric error bars [values - low, high - values] from an (n, 2) interval array (None passes)."""
    if ci is None:
        return None
    c = np.asarray(ci, float)
    return [values - c[:, 0], c[:, 1] - values]


def _measured_points(ax, other, values, ci, resolved, axis, label=None, other_err=None, **kw):
    r"""Measured :math:`d^*` along ``axis`` ("x" or "y") at positions ``other`` on the other axis:
    a point with its interval as error bars where resolved (an open end gets no bar, an arrow
    instead), and the interval alone, drawn as a bracket (caps, no point; an arrow where it is
    unbounded), where not (``resolved`` False: censored, or no tested d inside the
    transition). ``other_err``: symmetric error bars along the other axis."""
    values = np.asarray(values, float)
    other = np.asarray(other, float)
    n = values.size
    ci = np.column_stack([values, values]) if ci is None else np.asarray(ci, float).reshape(n, 2)
    resolved = np.isfinite(values) if resolved is None else (np.asarray(resolved, bool) & np.isfinite(values))
    oerr = None if other_err is None else np.broadcast_to(np.asarray(other_err, float), (n,))
    color = kw.pop("color", None)
    if resolved.any():
        v, c = values[resolved], ci[resolved]
        open_hi = ~np.isfinite(c[:, 1])
        c = np.where(np.isfinite(c), c, v[:, None])
        err = _errors_from_ci(v, c)
        xy = (v, other[resolved]) if axis == "x" else (other[resolved], v)
        errs = {("xerr" if axis == "x" else "yerr"): err}
        if oerr is not None:
            errs["yerr" if axis == "x" else "xerr"] = oerr[resolved]
        bars = ax.errorbar(*xy, **errs, fmt="o", capsize=2, color=color, label=label, **kw)
        color = bars[0].get_color()
        label = None
        for x, o in zip(v[open_hi], other[resolved][open_hi]):
            ax.plot(*((x * 1.15, o) if axis == "x" else (o, x * 1.15)), marker=">" if axis == "x" else "^",
                    ms=6, color=color, ls="none")
    if oerr is not None and (~resolved).any():
        mid = np.where(np.isfinite(ci[:, 0]) & np.isfinite(ci[:, 1]) & (ci[:, 0] > 0),
                       np.sqrt(np.abs(ci[:, 0] * ci[:, 1])), np.where(np.isfinite(ci[:, 1]), ci[:, 1], ci[:, 0]))
        sel = ~resolved & np.isfinite(mid)
        xy = (mid[sel], other[sel]) if axis == "x" else (other[sel], mid[sel])
        ax.errorbar(*xy, **{("yerr" if axis == "x" else "xerr"): oerr[sel]}, fmt="none", capsize=2,
                    color="0.6", lw=0.8)
    for i in np.flatnonzero(~resolved):
        lo, hi = ci[i]
        finite = [v for v in (lo, hi) if np.isfinite(v) and v > 0]
        if not finite:
            continue
        lo_d = lo if (np.isfinite(lo) and lo > 0) else min(finite) / 2
        hi_d = hi if np.isfinite(hi) else max(finite) * 2
        seg = ([lo_d, hi_d], [other[i]] * 2) if axis == "x" else ([other[i]] * 2, [lo_d, hi_d])
        line, = ax.plot(*seg, "-", color=color, lw=1.5, label=label)
        color = line.get_color()
        label = None
        for end, bounded, mark in ((lo_d, lo == lo_d, "<" if axis == "x" else "v"),
                                   (hi_d, hi == hi_d, ">" if axis == "x" else "^")):
            pt = (end, other[i]) if axis == "x" else (other[i], end)
            cap = "|" if axis == "x" else "_"
            ax.plot(*pt, marker=cap if bounded else mark, ms=9 if bounded else 6, color=color, ls="none")
    return ax


def plot_success_curve(ds, successes=None, n_trials=None, *, prediction=None, gordon=None,
                       almt_window=None, log_d=False, label="measured", ax=None, color=None,
                       prediction_label="predicted (kinematic formula)", prediction_color=None,
                       details=True, legend=True):
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
    color : color, optional
        Of the measured points.
    prediction_label, prediction_color : optional
        Label and colour of the predicted curve (default: a colour of its own, so that
        prediction and measurement never share one).
    details : bool
        Also draw the prediction's :math:`D - \delta` line, ALMT window and Gordon region
        (False: the curve and its band only, e.g. for several curves on one Axes).
    legend : bool
        Draw a legend (outside the Axes, to the right, so it never hides the curves).

    Returns
    -------
    ax : matplotlib Axes
    """
    ax = _axes(ax)
    ds = _vector(ds, "ds", minimum=0)
    log_d = check_bool(log_d, "log_d")
    details = check_bool(details, "details")
    legend = check_bool(legend, "legend")
    if not isinstance(label, str):
        raise TypeError(f"label must be a str, got {type(label).__name__}")
    if prediction is not None and not all(hasattr(prediction, a) for a in ("ds", "probability", "band",
                                                                              "threshold")):
        raise TypeError(f"prediction must be a SuccessCurvePrediction, got {type(prediction).__name__}")
    if gordon is not None:
        gordon = check_int(gordon, "gordon", minimum=0)
    if almt_window is not None:
        almt_window = _vector(almt_window, "almt_window", n=2)
        if almt_window[0] > almt_window[1]:
            raise ValueError(f"almt_window must be (low, high) with low <= high, got {tuple(almt_window)}")
    if successes is not None:
        if n_trials is None:
            raise ValueError("n_trials is required with successes")
        _vector(successes, "successes", n=ds.size, like="ds")
    if prediction is not None:
        if prediction_color is None:
            prediction_color = "0.15" if color is None else _darker(color)
        line, = ax.plot(prediction.ds, prediction.probability, "-", color=prediction_color,
                        label=prediction_label)
        lo, hi = prediction.band
        ax.fill_between(prediction.ds, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
        thr = prediction.threshold
        if details:
            ax.axvline(thr.kinematic, color=line.get_color(), ls="--", lw=1,
                       label=rf"$D-\delta$ = {thr.kinematic:.0f}")
            if gordon is None:
                gordon = thr.gordon
            if almt_window is None:
                almt_window = thr.kinematic_window
    if almt_window is not None:
        ax.axvspan(almt_window[0], almt_window[1], color="0.85", zorder=0, label="ALMT window")
    if gordon is not None and gordon > 0:
        ax.axvspan(0 if not log_d else max(min(np.min(ds), 1), 1e-9), gordon, hatch="//",
                   fill=False, ec="0.5", lw=0, label=f"Gordon: fails for d ≤ {gordon}")
    if successes is not None:
        p, lo, hi = _rate_and_ci(successes, n_trials)
        ax.errorbar(ds, p, yerr=[p - lo, hi - p], fmt="o", ms=4, capsize=2, color=color, label=label,
                    zorder=3)
    if log_d:
        ax.set_xscale("log", base=2)
    ax.set_xlabel("training dimension d")
    ax.set_ylabel(r"success probability $P_s(d)$")
    ax.set_ylim(-0.03, 1.03)
    if legend:
        _outside_legend(ax)
    return ax


def _darker(color):
    """A darker shade of ``color`` (the prediction beside measured points of that colour)."""
    from matplotlib.colors import to_rgb

    r, g, b = to_rgb(color)
    return (0.55 * r, 0.55 * g, 0.55 * b)


def _outside_legend(ax, **kwargs):
    """The legend to the right of the Axes, where it cannot hide data."""
    return ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                     **kwargs)


def plot_threshold_vs_eps(eps, predicted=None, predicted_err=None, measured=None, measured_ci=None,
                          gordon=None, ax=None, *, measured_resolved=None):
    r"""Threshold training dimension :math:`d^*` against the loss level :math:`\epsilon`.

    Parameters
    ----------
    eps : array_like
    predicted, predicted_err : array_like, optional
        Kinematic :math:`D - \delta` and its standard error (band of 2 standard errors).
    measured : array_like, optional
        Empirical :math:`d^*`; ``measured_ci`` an (n, 2) array of intervals (error bars).
    gordon : array_like, optional
        Gordon lower bounds.
    measured_resolved : array_like of bool, optional
        False where a measured threshold is not resolved (``ThresholdEstimate.resolved``):
        its interval is drawn as a bracket, without a point.
    """
    ax = _axes(ax)
    eps = _vector(eps, "eps")
    n = eps.size
    if predicted is not None:
        predicted = _vector(predicted, "predicted", n=n, like="eps")
        ax.plot(eps, predicted, "-", label=r"predicted $D-\delta$")
        if predicted_err is not None:
            err = 2 * _vector(predicted_err, "predicted_err", n=n, like="eps", minimum=0)
            ax.fill_between(eps, predicted - err, predicted + err, alpha=0.2, lw=0)
    elif predicted_err is not None:
        raise ValueError("predicted_err needs predicted")
    if gordon is not None:
        gordon = _vector(gordon, "gordon", n=n, like="eps", minimum=0)
        label = "Gordon lower bound"
        if np.all(gordon == 0):
            # not a missing line: the bound is 0 at every level (w^2 close to D, wide cones)
            label = "Gordon lower bound: 0 at every level\n(it guarantees nothing here: $w^2 \\approx D$)"
        ax.plot(eps, gordon, ":", color="0.3", label=label)
    if measured is not None:
        measured = _vector(measured, "measured", n=n, like="eps", allow_nan=True, allow_inf=True)
        measured_ci = _intervals(measured_ci, "measured_ci", n, allow_inf=True)
        if measured_resolved is not None:
            measured_resolved = _flags(measured_resolved, "measured_resolved", n, "eps")
        _measured_points(ax, eps, measured, measured_ci, measured_resolved, "y", label=r"measured $d^*$")
    elif measured_ci is not None:
        raise ValueError("measured_ci needs measured")
    ax.set_xlabel(r"loss level $\epsilon$")
    ax.set_ylabel(r"threshold dimension $d^*$")
    ax.legend(fontsize="small")
    return ax


def plot_loss_slice(loss_slice, eps=None, *, levels=12, log=False, ax=None, color=None, label=None):
    r"""A loss slice (:mod:`landscape.theory.slices`) with the sub-level set :math:`\{L \le \epsilon\}` on it.

    A line: the loss against :math:`\alpha`, the level :math:`\epsilon` dashed and the
    part of the line inside the sub-level set shaded. A plane: loss contours, the sub-level
    set filled and outlined at :math:`\epsilon`. The slice's marks (the centre,
    :math:`\theta_0`, :math:`\theta^*`) are drawn as points.

    Parameters
    ----------
    loss_slice : LossSlice
    eps : float, optional
        The level of the sub-level set.
    levels : int or array_like
        Contour levels of a plane (a number, or the values).
    log : bool
        Logarithmic loss axis (a line) or logarithmically spaced contour levels (a plane).
    ax : matplotlib Axes, optional
    color, label : optional
        Of a line's curve.

    Returns
    -------
    ax : matplotlib Axes
    """
    from .theory.slices import LossSlice

    if not isinstance(loss_slice, LossSlice):
        raise TypeError(f"loss_slice must be a LossSlice (landscape.theory.slices), got {type(loss_slice).__name__}")
    if eps is not None and (isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not np.isfinite(eps)):
        raise TypeError(f"eps must be a finite loss level or None, got {eps!r:.80}")
    log = check_bool(log, "log")
    if label is not None and not isinstance(label, str):
        raise TypeError(f"label must be a str or None, got {type(label).__name__}")
    if levels is None:
        levels = 12
    if isinstance(levels, (int, np.integer)) and not isinstance(levels, bool):
        levels = check_int(levels, "levels", minimum=1, maximum=1000)
    else:
        levels = _vector(levels, "levels")
    ax = _axes(ax)
    Z = loss_slice.losses
    if loss_slice.ndim == 1:
        a = loss_slice.coords[0]
        line, = ax.plot(a, Z, "-", color=color, label=label or "loss")
        if eps is not None:
            ax.axhline(eps, ls="--", color="tab:green", lw=1, label=rf"$\epsilon$ = {eps:.4g}")
            inside = Z <= eps
            if inside.any():
                ax.fill_between(a, np.nanmin(Z[np.isfinite(Z)]), Z, where=inside, color="tab:green", alpha=0.3,
                                lw=0, label=r"$L \leq \epsilon$")
        for name, (x,) in loss_slice.marks.items():
            y = float(np.interp(x, a, Z))
            ax.plot([x], [y], "o", color="k", ms=5)
            ax.annotate("centre" if name == "center" else name, (x, y), textcoords="offset points",
                        xytext=(4, 6), fontsize="small")
        if log:
            ax.set_yscale("log")
        ax.set_xlabel(loss_slice.labels[0])
        ax.set_ylabel(r"loss $L$")
        ax.legend(fontsize="small")
        return ax
    A, B = np.meshgrid(*loss_slice.coords)
    finite = Z[np.isfinite(Z)]
    if np.ndim(levels) == 0:
        n = int(levels)
        if log and finite.size and finite.min() > 0:
            levels = np.geomspace(finite.min(), finite.max(), n)
        else:
            levels = np.linspace(finite.min(), finite.max(), n) if finite.size else n
    ax.contour(A, B, Z, levels=levels, colors="0.7", linewidths=0.6)
    if eps is not None:
        ax.contourf(A, B, Z, levels=[-np.inf, eps], colors=["tab:green"], alpha=0.35)
        ax.contour(A, B, Z, levels=[eps], colors=["tab:green"], linewidths=1.5)
        ax.plot([], [], "s", color="tab:green", alpha=0.5, label=rf"$L \leq {eps:.4g}$")
    for name, (x, y) in loss_slice.marks.items():
        ax.plot([x], [y], "*" if "*" in name else "o", color="k", ms=7,
                label="centre" if name == "center" else name)
    ax.set_xlabel(loss_slice.labels[0])
    ax.set_ylabel(loss_slice.labels[1])
    ax.legend(fontsize="small", loc="upper right")
    return ax


def plot_sublevel_set_2d(source, theta0=None, eps=None, *, direction=None, levels=None, extent=None, ax=None,
                         seed=0):
    r"""The sub-level set :math:`S(\epsilon) = \{L \le \epsilon\}` in a plane, for any model.

    * ``source`` a quadratic well of dimension 2: the plane itself, with loss contours,
      :math:`S(\epsilon)`, :math:`\theta_0`, :math:`\theta^*` and a random line through
      :math:`\theta_0` (a subspace of dimension d = 1).
    * a quadratic well of any dimension: the plane through :math:`\theta_0` and
      :math:`\theta^*` spanned by :math:`\theta^* - \theta_0` and a random direction
      orthogonal to it, of the same length
      (:func:`landscape.theory.slices.interpolation_slice`).
    * a 2-D :class:`landscape.theory.slices.LossSlice` of any model (a network's plane from
      ``loss_slice_2d`` or ``interpolation_slice(..., direction=...)``): drawn as it is.

    Parameters
    ----------
    source : QuadraticWell or LossSlice
    theta0 : array_like of shape (D,), optional
        The starting point (wells).
    eps : float
        The level.
    direction : array_like, optional
        The random line's direction (2-D well) or the plane's second direction (a well of
        higher dimension); default: random from ``seed``.
    levels : int or array_like, optional
        Loss contours.
    extent : (xmin, xmax, ymin, ymax), optional
        Of a 2-D well's picture.
    ax : matplotlib Axes, optional
    seed : int
        Of the random direction.

    Returns
    -------
    ax : matplotlib Axes
    """
    from .theory.slices import LossSlice, interpolation_slice

    if eps is None:
        raise TypeError("plot_sublevel_set_2d needs eps (the level of the sub-level set)")
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not np.isfinite(eps):
        raise TypeError(f"eps must be a finite loss level, got {eps!r:.80}")
    check_rng(seed)
    if isinstance(levels, (int, np.integer)) and not isinstance(levels, bool):
        levels = check_int(levels, "levels", minimum=1, maximum=1000)
    elif levels is not None:
        levels = _vector(levels, "levels")
        if np.any(np.diff(levels) <= 0):
            raise ValueError("levels must be increasing (or a number of contour levels)")
    if isinstance(source, LossSlice):
        if source.ndim != 2:
            raise ValueError("plot_sublevel_set_2d needs a 2-D LossSlice (loss_slice_2d or interpolation_slice "
                             "with a direction)")
        ax = plot_loss_slice(source, eps=eps, levels=12 if levels is None else levels, ax=ax)
        ax.set_title(rf"sub-level set $L \leq {eps:g}$")
        return ax
    if not (hasattr(source, "minimum") and hasattr(source, "loss") and hasattr(source, "dim")):
        raise TypeError("source must be a quadratic well or a 2-D LossSlice (for a network: "
                        f"landscape.theory.slices.loss_slice_2d), got {type(source).__name__}")
    well = source
    theta0 = as_float_array(theta0, "theta0", shape=(well.dim,))
    if eps <= getattr(well, "min_loss", -np.inf):
        raise ValueError(f"eps must be > the well's minimum loss {well.min_loss:g}, got {eps}")
    if direction is not None:
        direction = as_float_array(direction, "direction", shape=(well.dim,))
        if not np.linalg.norm(direction) > 0:
            raise ValueError("direction must be a non-zero vector")
    if well.dim > 2:
        path = np.asarray(well.minimum, float) - theta0
        u = np.random.default_rng(seed).standard_normal(well.dim) if direction is None \
            else np.asarray(direction, float).copy()
        u -= (u @ path) / max(path @ path, 1e-300) * path
        u *= np.linalg.norm(path) / max(np.linalg.norm(u), 1e-300)
        plane = interpolation_slice(well, theta0, well.minimum, alphas=np.linspace(-0.5, 1.5, 121),
                                    direction=u, betas=np.linspace(-1.0, 1.0, 121), progress=False)
        ax = plot_loss_slice(plane, eps=eps, levels=12 if levels is None else levels, ax=ax)
        ax.set_title(rf"sub-level set $L \leq {eps:g}$ in the plane of $\theta_0$, $\theta^*$ and a random direction",
                     fontsize="medium")
        return ax
    ax = _axes(ax)
    centre = np.asarray(well.minimum, float)
    if extent is None:
        span = 1.5 * max(np.linalg.norm(theta0 - centre), 1e-3)
        extent = (centre[0] - span, centre[0] + span, centre[1] - span, centre[1] + span)
    extent = _vector(extent, "extent", n=4)
    if not (extent[0] < extent[1] and extent[2] < extent[3]):
        raise ValueError(f"extent must be (x0, x1, y0, y1) with x0 < x1 and y0 < y1, got {tuple(extent)}")
    xs = np.linspace(extent[0], extent[1], 200)
    ys = np.linspace(extent[2], extent[3], 200)
    X, Y = np.meshgrid(xs, ys)
    Z = well.loss(np.column_stack([X.ravel(), Y.ravel()])).reshape(X.shape)
    ax.contour(X, Y, Z, levels=12 if levels is None else levels, colors="0.75", linewidths=0.6)
    ax.contourf(X, Y, Z, levels=[-np.inf, eps], colors=["tab:green"], alpha=0.35)
    ax.contour(X, Y, Z, levels=[eps], colors=["tab:green"])
    if direction is None:
        direction = np.random.default_rng(seed).standard_normal(2)
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


def plot_spectrum(eigenvalues=None, *, weights=None, density=None, ax=None, label=None, linthresh=None):
    r"""Hessian spectrum: sorted eigenvalues against their rank, or a density (grid, values).

    Every eigenvalue is drawn: with only positive ones the axes are logarithmic; when some
    are zero or negative (a trained :math:`\theta^*` is rarely an exact minimum) the
    eigenvalue axis is symmetric-logarithmic (linear within ``linthresh`` of 0) so the
    negative ones show, and the legend counts them.

    Parameters
    ----------
    eigenvalues : array_like, optional
        Eigenvalues (top ones, or all), drawn against their rank.
    weights : array_like, optional
        Multiplicities of grouped eigenvalues (drawn as a weighted rank plot).
    density : (grid, values), optional
        A smoothed spectral density, e.g. from stochastic Lanczos quadrature.
    linthresh : float, optional
        Linear range of the symmetric-log axis (default: the smallest nonzero |eigenvalue|,
        at least 1e-6 of the largest).
    """
    ax = _axes(ax)
    if label is not None and not isinstance(label, str):
        raise TypeError(f"label must be a str or None, got {type(label).__name__}")
    if linthresh is not None:
        if isinstance(linthresh, bool) or not isinstance(linthresh, numbers.Real) or not (
                np.isfinite(linthresh) and linthresh > 0):
            raise ValueError(f"linthresh must be a positive number, got {linthresh!r:.80}")
    if density is not None:
        if isinstance(density, (str, bytes)) or not hasattr(density, "__len__") or len(density) != 2:
            raise TypeError("density must be a pair (grid, values) of equal-length arrays")
        grid = _vector(density[0], "density (grid)")
        values = _vector(density[1], "density (values)", n=grid.size, like="the grid", minimum=0)
        ax.plot(grid, values, label=label or "spectral density")
        ax.set_xlabel(r"eigenvalue $\lambda$")
        ax.set_ylabel("density")
        ax.set_yscale("log")
    elif eigenvalues is not None:
        raw = _vector(eigenvalues, "eigenvalues")
        order = np.argsort(raw, kind="stable")[::-1]
        lam = raw[order]
        w = np.ones(lam.size) if weights is None else \
            _vector(weights, "weights", n=raw.size, like="eigenvalues", minimum=0)[order]
        rank = np.cumsum(w)
        n_neg = int(w[lam < 0].sum())
        text = label or "eigenvalues"
        if n_neg:
            text += f" ({n_neg:g} of {w.sum():g} negative)"
        ax.plot(rank, lam, ".", label=text)
        ax.set_xscale("log")
        if np.all(lam > 0):
            ax.set_yscale("log")
        else:
            nz = np.abs(lam[lam != 0])
            top = float(np.abs(lam).max()) if lam.size else 1.0
            if linthresh is None:
                linthresh = max(float(nz.min()) if nz.size else top, 1e-6 * top, 1e-300)
            ax.set_yscale("symlog", linthresh=linthresh)
            ax.axhline(0.0, color="0.6", lw=0.8)
        ax.set_xlabel("rank i")
        ax.set_ylabel(r"eigenvalue $\lambda_i$")
    else:
        raise ValueError("give eigenvalues or density")
    ax.legend(fontsize="small")
    return ax


def plot_predicted_vs_measured(predicted, measured, *, predicted_err=None, measured_ci=None,
                               labels=None, ax=None, measured_resolved=None):
    r"""Scatter of predicted against measured :math:`d^*` with the diagonal.

    x error bars: the measured intervals (``measured_ci``, an (n, 2) array; e.g.
    ``ThresholdEstimate.interval``); where ``measured_resolved`` is False (censored, or no
    tested d inside the transition) the interval is drawn as a bracket without a point, with
    an arrow at an open end. y error bars: two standard errors of the prediction. Over a
    wide range the axes are logarithmic; when a value is 0 (a prediction that every
    subspace succeeds) they are symmetric-logarithmic, linear below 1, so the point stays on
    the figure.
    """
    ax = _axes(ax)
    predicted = _vector(predicted, "predicted", allow_nan=True, allow_inf=True)
    n = predicted.size
    measured = _vector(measured, "measured", n=n, like="predicted", allow_nan=True, allow_inf=True)
    measured_ci = _intervals(measured_ci, "measured_ci", n, allow_inf=True)
    if predicted_err is not None:
        predicted_err = _vector(predicted_err, "predicted_err", n=n, like="predicted", allow_nan=True, minimum=0)
    if measured_resolved is not None:
        measured_resolved = _flags(measured_resolved, "measured_resolved", n, "predicted")
    if labels is not None and (isinstance(labels, (str, bytes)) or not hasattr(labels, "__len__")
                               or len(labels) != n):
        raise ValueError(f"labels must be a sequence of {n} labels (one per point, as many as predicted)")
    shown = np.isfinite(predicted)   # a prediction that failed has no place
    if not shown.all():
        predicted, measured = predicted[shown], measured[shown]
        measured_ci = None if measured_ci is None else np.asarray(measured_ci, float)[shown]
        predicted_err = None if predicted_err is None else np.asarray(predicted_err, float)[shown]
        measured_resolved = None if measured_resolved is None else np.asarray(measured_resolved, bool)[shown]
        labels = None if labels is None else [lab for lab, k in zip(labels, shown) if k]
    ci = None if measured_ci is None else np.asarray(measured_ci, float).reshape(-1, 2)
    yerr = None if predicted_err is None else 2 * np.asarray(predicted_err, float)
    _measured_points(ax, predicted, measured, ci, measured_resolved, "x", label=r"$d^*$ (bars: 95%)",
                     other_err=yerr)
    if labels is not None:
        where = measured.copy()
        if ci is not None:  # an unresolved one is labelled at the finite end of its bracket
            bad = ~np.isfinite(where)
            where[bad] = np.where(np.isfinite(ci[bad, 0]) & (ci[bad, 0] > 0), ci[bad, 0], ci[bad, 1])
        for x, y, s in zip(where, predicted, labels):
            if np.isfinite(x):
                ax.annotate(str(s), (x, y), textcoords="offset points", xytext=(4, 4), fontsize="small")
    values = np.concatenate([predicted, measured] + ([] if ci is None else [ci[:, 0][ci[:, 0] > 0], ci[:, 1]]))
    finite = values[np.isfinite(values)]
    if finite.size:
        positive = finite[finite > 0]
        hi = finite.max() * 1.25
        wide = positive.size and hi / positive.min() > 20
        if wide and np.all(finite > 0):
            lo = positive.min() * 0.8
            ax.set_xscale("log")
            ax.set_yscale("log")
        elif wide:
            lo = 0.0
            ax.set_xscale("symlog", linthresh=1.0)
            ax.set_yscale("symlog", linthresh=1.0)
        else:
            lo = max(min(finite.min() * 0.8, finite.min() - 1.0), 0.0)
        ax.plot([lo, hi], [lo, hi], "--", color="0.5", label="predicted = measured")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
    ax.set_xlabel(r"measured $d^*$")
    ax.set_ylabel(r"predicted $d^*$")
    ax.legend(fontsize="small")
    return ax


def plot_threshold_vs_burn_in(burn_in_steps, thresholds, *, ci=None, predicted=None, log=False, ax=None,
                              resolved=None):
    r"""Threshold :math:`d^*` against the number of burn-in steps t.

    Parameters
    ----------
    thresholds : array_like, or list of ThresholdEstimate
        With estimates, ``ci`` and ``resolved`` come from them: intervals as error bars,
        unresolved thresholds (censored, or no tested d inside the transition) as brackets.
    log : bool
        Logarithmic d* axis (base 2). It is symmetric-logarithmic, linear below 1, so that
        :math:`d^* = 0` (the burn-in point is already in the sub-level set) stays on the
        figure, marked and labelled, instead of being dropped.
    """
    ax = _axes(ax)
    log = check_bool(log, "log")
    t = _vector(burn_in_steps, "burn_in_steps", minimum=0)
    if isinstance(thresholds, (list, tuple)) and len(thresholds) and hasattr(thresholds[0], "interval"):
        ci = np.array([e.interval for e in thresholds], float)
        resolved = [e.resolved for e in thresholds]
        thresholds = [e.value for e in thresholds]
    y = _vector(thresholds, "thresholds", n=t.size, like="burn_in_steps", allow_nan=True, allow_inf=True)
    ci = _intervals(ci, "ci", t.size, allow_inf=True)
    if resolved is not None:
        resolved = _flags(resolved, "resolved", t.size, "burn_in_steps")
    if predicted is not None:
        predicted = _vector(predicted, "predicted", n=t.size, like="burn_in_steps", allow_nan=True)
    ok = np.isfinite(y) if resolved is None else (np.asarray(resolved, bool) & np.isfinite(y))
    line, = ax.plot(t[ok], y[ok], "-", lw=1)
    _measured_points(ax, t, y, ci, resolved, "y", label=r"measured $d^*$", color=line.get_color())
    zero = y == 0
    if zero.any():
        ax.plot(t[zero], y[zero], "v", ms=9, mfc="none", color="tab:red",
                label=r"$d^* = 0$: every tested d succeeds")
    if predicted is not None:
        ax.plot(t, predicted, "s--", label=r"predicted $D-\delta$")
    if log:
        ax.set_yscale("symlog", base=2, linthresh=1.0)
        ax.set_ylim(bottom=-0.1 if zero.any() else None)
    ax.set_xlabel("burn-in steps t")
    ax.set_ylabel(r"threshold dimension $d^*$")
    ax.legend(fontsize="small")
    return ax


def plot_threshold_predictions(eps, predictions, measured=None, measured_ci=None, *, D=None, ax=None):
    r"""Several predictions of :math:`d^*(\epsilon)` and the measured one, against the level.

    For a network: the quadratic model's :math:`D - \delta` (raw and calibrated) and the
    direct :math:`D - w^2` of the real sub-level set (:func:`landscape.sublevel_width`), beside
    the :math:`d^*` measured by subspace training.

    Parameters
    ----------
    eps : array_like of shape (n,)
        Loss levels.
    predictions : dict
        ``label -> values`` or ``label -> (values, stderr)``, each of shape (n,); NaN hides a
        point. A band of 2 standard errors is drawn around each line that has them.
    measured : array_like of shape (n,), optional
        Measured :math:`d^*`, with ``measured_ci`` an (n, 2) array of intervals (an infinite
        end is an open interval, drawn as an arrow; a NaN :math:`d^*` with an interval is drawn
        as a bracket).
    D : int, optional
        Draw the number of parameters as a horizontal line.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    eps = _vector(eps, "eps")
    n = eps.size
    if not isinstance(predictions, dict):
        raise TypeError(f"predictions must be a dict label -> values (or (values, stderr)), got "
                        f"{type(predictions).__name__}")
    markers = "sDv^<>"
    for i, (label, pred) in enumerate(predictions.items()):
        values, err = (pred if isinstance(pred, tuple) else (pred, None))
        values = _vector(values, f"predictions[{label!r:.40}]", n=n, like="eps", allow_nan=True)
        line, = ax.plot(eps, values, markers[i % len(markers)] + "--", lw=1, label=str(label))
        if err is not None:
            e = 2 * _vector(err, f"predictions[{label!r:.40}] (stderr)", n=n, like="eps", allow_nan=True, minimum=0)
            ax.fill_between(eps, values - e, values + e, alpha=0.2, lw=0, color=line.get_color())
    if measured is not None:
        measured = _vector(measured, "measured", n=n, like="eps", allow_nan=True)
        measured_ci = _intervals(measured_ci, "measured_ci", n, allow_inf=True)
        _measured_points(ax, eps, measured, measured_ci, None, "y", label=r"measured $d^*$", color="k")
    elif measured_ci is not None:
        raise ValueError("measured_ci needs measured")
    if D is not None:
        D = check_int(D, "D", minimum=1)
        ax.axhline(D, color="0.6", lw=0.8, ls=":", label=f"D = {D}")
    ax.set_xlabel(r"loss level $\epsilon$")
    ax.set_ylabel(r"threshold dimension $d^*$")
    ax.legend(fontsize="small")
    return ax


_METHOD_STYLE = {"random": ("o", "-"), "lottery": ("s", "-"), "ticket": ("D", "--")}


def plot_methods(table, level, ax=None, *, metric="train_acc", y="success", direction=None, p=0.5,
                 confidence=0.95, n_bootstrap=None, seed=0, thresholds=True):
    r"""Random, burn-in and lottery subspaces and lottery tickets against the trainable degrees of freedom.

    For every method in ``table`` (see :func:`landscape.thresholds.methods.method_groups`):
    the success probability :math:`P_s(d)` of ``metric`` reaching ``level`` with 95% Wilson
    intervals (``y="success"``), or the metric of every run and its mean per d
    (``y="metric"``), against d on a log axis: the subspace dimension, or a ticket's number
    of free parameters (the methods are drawn a few percent apart along d so that their
    points do not hide each other). The threshold :math:`d^*` of each method (where :math:`P_s` crosses
    ``p``) is drawn with its interval (at height ``p``, or at the level; as a bracket without
    a point when it is not resolved), and its value is in the legend (``>`` or ``<`` when it
    lies beyond the tested d).
    A full-space baseline in the table is drawn at d = D.

    Parameters
    ----------
    table : RunTable
        Runs of one protocol (e.g. a sweep with ``kinds=("random", "lottery", "ticket")``
        and several burn-in t).
    level : float
        Success level of ``metric``.
    ax : matplotlib Axes, optional
    metric : str
        ``"train_acc"`` (default), ``"test_acc"``, ``"train_loss"``, ...
    y : {"success", "metric"}
    direction : {"min", "max"}, optional
        As for :func:`landscape.thresholds.measured.success_probability`.
    p, confidence, n_bootstrap, seed
        Threshold definition and its interval (:func:`landscape.thresholds.methods.method_thresholds`;
        ``n_bootstrap`` is deprecated and ignored).
    thresholds : bool
        Draw the thresholds.

    Returns
    -------
    ax : matplotlib Axes
    """
    thresholds = check_bool(thresholds, "thresholds")
    from .thresholds.measured import success_probability
    from .thresholds.methods import method_groups, method_thresholds

    if y not in ("success", "metric"):
        raise ValueError(f"y must be 'success' or 'metric', got {y!r}")
    groups = method_groups(table)
    if not groups:
        raise ValueError("table has no runs of any method (only full-space runs?)")
    ax = _axes(ax)
    ests = method_thresholds(table, metric, level, p, direction=direction, n_bootstrap=n_bootstrap,
                             confidence=confidence, seed=seed) if thresholds else {}
    ds_all = table["d"][table["kind"] != "full"]
    lo_d, hi_d = float(ds_all.min()), float(ds_all.max())
    burn = 0
    for i, (label, where) in enumerate(groups):
        # methods side by side (a few percent apart on the log axis), not on top of each other
        dodge = 2.0 ** (0.05 * (i - (len(groups) - 1) / 2))
        kind = where["kind"]
        marker, ls = _METHOD_STYLE.get(kind, ("^", ":"))
        if kind == "random" and where.get("t", 0) > 0:
            marker, ls = "v^<>"[burn % 4], "-."
            burn += 1
        color = f"C{i % 10}"
        est = ests.get(label)
        text = label
        if est is not None:
            if est.censored == "above":
                text += f": d* > {hi_d:.0f}"
            elif est.censored == "below":
                text += f": d* < {lo_d:.0f}"
            else:
                text += f": d* = {est.value:.3g}"
        sub = table.select(**where)
        if y == "success":
            cur = success_probability(sub, metric, level, direction=direction)
            rate, low, high = _rate_and_ci(cur.successes, cur.n_trials)
            ax.errorbar(cur.ds * dodge, rate, yerr=[rate - low, high - rate], fmt=marker, ls=ls, ms=4, capsize=2,
                        elinewidth=0.7, color=color, label=text)
            at = p
        else:
            d = sub["d"].astype(float)
            v = sub[metric].astype(float)
            ax.plot(d * dodge, v, marker, ms=3, alpha=0.35, color=color)
            ud = np.unique(d)
            mean = [np.nanmean(v[d == u]) if np.isfinite(v[d == u]).any() else np.nan for u in ud]
            ax.plot(ud * dodge, mean, ls=ls, marker=marker, ms=4, color=color, label=text)
            at = level
        if est is not None:
            _measured_points(ax, [at], [est.value], [est.interval], [est.resolved], "x", color=color)
    if "D" in table and (table["kind"] == "full").any():
        D = int(table.select(kind="full")["D"][0])
        ax.axvline(D, color="0.4", ls=":", lw=1, label=f"full space, D = {D}")
        if y == "metric":
            full = table.select(kind="full")[metric].astype(float)
            if np.isfinite(full).any():
                ax.axhline(np.nanmean(full), color="0.4", ls=":", lw=1)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("trainable degrees of freedom d")
    if y == "success":
        op = r"\leq" if cur.direction == "min" else r"\geq"
        ax.set_ylabel(rf"$P_s$: {metric} ${op}$ {level:g}")
        ax.set_ylim(-0.03, 1.03)
    else:
        ax.axhline(level, color="k", lw=0.8, ls="--")
        ax.set_ylabel(metric)
    ax.legend(fontsize="x-small")
    return ax


def plot_effective_dimensions(table, ax=None):
    r"""The five effective dimensions of one model against the loss level :math:`\epsilon`.

    Measured :math:`d^*` (points; bars: the confidence interval widened to the tested
    dimensions around the crossing, an arrow when it lies above them), :math:`D - \delta` of the
    quadratic model and :math:`D - w^2` of the direct width (lines with bands of 2 standard
    errors), :math:`2\hat\lambda` (horizontal line with its band) and the Hessian's effective
    ranks (dashed horizontal lines), with D for scale. The last two do not depend on
    :math:`\epsilon`. Logarithmic dimension axis.

    Parameters
    ----------
    table : EffectiveDimensions or pandas.DataFrame
        From :func:`landscape.theory.dimensions.effective_dimensions` (or its ``to_dataframe()``).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)

    def col(name):
        return np.asarray(table[name], dtype=float)

    eps = col("eps")
    order = np.argsort(eps)
    eps = eps[order]

    def c(name):
        return col(name)[order]

    D = float(c("D")[0])
    floor = 0.5
    d = c("d_star")
    ci = np.column_stack([c("d_star_low"), c("d_star_high")])
    bracket = np.column_stack([c("d_star_bracket_low"), c("d_star_bracket_high")])
    # the interval widened to the tested dimensions around the crossing, where the data end
    ci = np.column_stack([np.fmin(ci[:, 0], np.where(np.isfinite(bracket[:, 0]), bracket[:, 0], np.inf)),
                          np.fmax(ci[:, 1], np.where(np.isfinite(bracket[:, 1]), bracket[:, 1], -np.inf))])
    ok = np.isfinite(d) & np.all(np.isfinite(ci), axis=1)
    shown = np.maximum(d[ok], floor)
    err = np.clip(np.asarray(_errors_from_ci(shown, np.maximum(ci[ok], floor))), 0, None)
    ax.errorbar(eps[ok], shown, yerr=err, fmt="o", color="black", capsize=3, zorder=5,
                label=r"measured $d^*$ (95% CI and tested bracket)")
    if (~ok).any():  # above the tested range: an arrow up from the largest tested d
        lows = c("d_star_bracket_low")[~ok]
        lows = np.where(np.isfinite(lows), lows, D)
        ax.plot(eps[~ok], np.maximum(lows, floor), "^", color="black", ms=8, zorder=5,
                label=r"measured $d^*$ above the tested range")
    for name, label, color in (("D_minus_delta", r"$D-\delta$ (quadratic model)", "tab:blue"),
                               ("D_minus_w2", r"$D-w^2$ (direct width)", "tab:orange")):
        v, s = c(name), c(name + "_stderr")
        ok = np.isfinite(v)
        if ok.any():
            ax.plot(eps[ok], np.maximum(v[ok], floor), "-s", color=color, ms=4, label=label)
            ax.fill_between(eps[ok], np.maximum(v[ok] - 2 * s[ok], floor), np.maximum(v[ok] + 2 * s[ok], floor),
                            color=color, alpha=0.15, lw=0)
    lam, lam_se = float(c("two_llc")[0]), float(c("two_llc_stderr")[0])
    lo, hi = eps.min(), eps.max()
    if hi == lo:
        lo, hi = lo * 0.9, hi * 1.1
    ax.axhline(max(lam, floor), color="tab:green", lw=1.5,
               label=rf"$2\hat\lambda$ (LLC, $\gamma$={float(c('llc_gamma')[0]):g})")
    ax.axhspan(max(lam - 2 * lam_se, floor), max(lam + 2 * lam_se, floor), color="tab:green", alpha=0.15, lw=0)
    frac = float(c("rank_fraction")[0])
    for name, label, shade in (("rank_threshold", rf"rank: #$\lambda_i > {frac:g}\,\lambda_{{max}}$", "0.15"),
                               ("participation_ratio", "rank: participation ratio", "0.4"),
                               ("entropy_rank", "rank: entropy", "0.6")):
        ax.axhline(max(float(c(name)[0]), floor), color=shade, ls="--", lw=1, label=label)
    ax.axhline(D, color="0.5", ls=":", lw=1, label=f"D = {D:g}")
    ax.set_yscale("log")
    ax.set_xlabel(r"loss level $\epsilon$")
    ax.set_ylabel("dimension")
    ax.legend(fontsize="x-small", loc="best")
    return ax
