r"""Private kernels of the threshold intervals: the likelihood of a logistic-in-log-d transition
on a grid of (crossing, slope), and the credible sets read off it.

Model: :math:`P(d) = \sigma\big(b(\log d - u) + \operatorname{logit} p\big)`, so that
:math:`P(e^u) = p`; u is the crossing in log d, b > 0 the slope. Everything here works on
arrays of shape ``(n_slopes, n_crossings)`` and knows nothing about run tables.
"""
from __future__ import annotations

import numpy as np
from scipy.special import log_expit

#: marginal-likelihood ratio above which a slope counts as plausible:
#: :math:`\exp(-\chi^2_{1, 0.90}/2)`, the 90% likelihood set of the slope
PLAUSIBLE_RATIO = float(np.exp(-2.705543454095404 / 2))
N_CROSSINGS = 801
N_SLOPES = 48
#: the 10%-90% width of a transition is :math:`2\log 9/b`; the flattest slope allowed makes
#: it about twice the tested span (``2 / span``)
FLATTEST = 2.0
#: the steepest slope: a 10%-90% rise within 1/3 of the finest spacing (or b = 20)
STEEPEST = 14.0


def crossing_grid(logd, n=N_CROSSINGS):
    """Grid of u over the tested range widened by one grid spacing at each end."""
    lo = logd[0] - (logd[1] - logd[0])
    hi = logd[-1] + (logd[-1] - logd[-2])
    return np.linspace(lo, hi, n)


def slope_grid(logd, n=N_SLOPES, span=None):
    """Log-spaced slopes from ``FLATTEST / span`` to ``max(20, STEEPEST / finest spacing)``."""
    span = float(logd[-1] - logd[0]) if span is None else float(span)
    finest = float(np.min(np.diff(logd)))
    lo = FLATTEST / span
    hi = max(20.0, STEEPEST / finest, 2 * lo)
    return np.exp(np.linspace(np.log(lo), np.log(hi), n))


def loglik_independent(u, b, logd, k, n, logit_p):
    r""":math:`\sum_j k_j\log P(d_j) + (n_j - k_j)\log(1 - P(d_j))`, shape (len(b), len(u))."""
    ll = np.zeros((b.size, u.size))
    for xj, kj, nj in zip(logd, k, n):
        if nj == 0:
            continue
        z = b[:, None] * (xj - u[None, :]) + logit_p
        if kj:
            ll += kj * log_expit(z)
        if nj - kj:
            ll += (nj - kj) * log_expit(-z)
    return ll


def loglik_censored(u, b, lower, upper, weight, logit_p):
    r""":math:`\sum_s w_s \log\big(F(\text{upper}_s) - F(\text{lower}_s)\big)`, F = P: each seed's
    own threshold lies in (lower, upper] (log d; -inf / +inf for unbounded ends)."""
    ll = np.zeros((b.size, u.size))
    for lo, hi, w in zip(lower, upper, weight):
        if np.isinf(hi):
            ll += w * log_expit(-(b[:, None] * (lo - u[None, :]) + logit_p))
        elif np.isinf(lo):
            ll += w * log_expit(b[:, None] * (hi - u[None, :]) + logit_p)
        else:
            zh = b[:, None] * (hi - u[None, :]) + logit_p
            zl = b[:, None] * (lo - u[None, :]) + logit_p
            # log(sigma(zh) - sigma(zl)) = log sigma(zh) + log sigma(-zl) + log(1 - e^(zl - zh))
            ll += w * (log_expit(zh) + log_expit(-zl) + np.log(-np.expm1(zl - zh)))
    return ll


def _cumulative(L, u):
    """Cumulative trapezoid integrals along the last axis, starting at 0."""
    du = np.diff(u)
    steps = (L[..., 1:] + L[..., :-1]) * (du / 2)
    return np.concatenate([np.zeros(L.shape[:-1] + (1,)), np.cumsum(steps, axis=-1)], axis=-1)


def _quantile(cdf, u, q):
    """The q-quantile of each row of a normalised cumulative (linear between grid points)."""
    cdf = np.atleast_2d(cdf)
    j = np.argmax(cdf >= q, axis=1)
    j = np.maximum(j, 1)
    c0, c1 = cdf[np.arange(cdf.shape[0]), j - 1], cdf[np.arange(cdf.shape[0]), j]
    frac = np.where(c1 > c0, (q - c0) / np.where(c1 > c0, c1 - c0, 1.0), 1.0)
    return u[j - 1] + np.clip(frac, 0.0, 1.0) * (u[j] - u[j - 1])


def credible_set(ll, u, confidence, plausible=PLAUSIBLE_RATIO):
    r"""Interval for the crossing u from the log-likelihood on the (slope, crossing) grid.

    With a flat prior on u and a log-uniform prior on b (the rows are log-spaced), the
    posterior of u given b is :math:`\propto L(u, b)` along a row, and the marginal
    likelihood of b is the row's integral :math:`m(b)`. The set returned is the union of
    the equal-tailed ``confidence`` intervals of u

    * under the marginal posterior (b integrated out), and
    * given each plausible slope, :math:`m(b) \ge` ``plausible`` :math:`\cdot \max m`,

    so that a slope the data cannot rule out (with few seeds, a shallow one) widens it.

    Returns
    -------
    (low, high, median) : floats, in log d; ``median`` of the marginal posterior
    """
    L = np.exp(ll - ll.max())
    cum = _cumulative(L, u)
    mass = cum[:, -1]
    keep = mass >= plausible * mass.max()
    marginal = cum.sum(axis=0)
    marginal = marginal / marginal[-1]
    a = (1.0 - confidence) / 2.0
    lo, hi = _quantile(marginal, u, a)[0], _quantile(marginal, u, 1 - a)[0]
    if keep.any():
        rows = cum[keep] / mass[keep, None]
        lo = min(lo, _quantile(rows, u, a).min())
        hi = max(hi, _quantile(rows, u, 1 - a).max())
    median = float(_quantile(marginal, u, 0.5)[0])
    return float(lo), float(hi), median


def isotonic(y, w):
    """Weighted least-squares non-decreasing fit (pool adjacent violators)."""
    values, weights, counts = [], [], []
    for yi, wi in zip(y, w):
        values.append(float(yi))
        weights.append(float(wi))
        counts.append(1)
        while len(values) > 1 and values[-2] > values[-1]:
            wsum = weights[-2] + weights[-1]
            merged = (values[-2] * weights[-2] + values[-1] * weights[-1]) / wsum if wsum > 0 else \
                (values[-2] + values[-1]) / 2
            counts[-2] += counts[-1]
            values[-2], weights[-2] = merged, wsum
            del values[-1], weights[-1], counts[-1]
    return np.repeat(values, counts)


def first_crossing(logd, y, level):
    """First crossing of ``level`` by the piecewise-linear curve through (logd, y).

    Returns log d, ``-inf`` when ``y[0] >= level`` (below the range), ``+inf`` when no
    point reaches it (above the range)."""
    above = np.flatnonzero(y >= level)
    if above.size == 0:
        return np.inf
    j = above[0]
    if j == 0:
        return -np.inf
    y0, y1 = y[j - 1], y[j]
    return float(logd[j - 1] + (level - y0) / (y1 - y0) * (logd[j] - logd[j - 1]))


def hull_bracket(ds, P, level):
    """Tested d around every crossing of ``level`` by the observed curve P (increasing).

    From the tested d just below the first d with ``P >= level`` to the tested d just
    above the last d with ``P < level``; ``-inf`` / ``+inf`` (as 0 / inf d) at the ends.
    """
    above = np.flatnonzero(P >= level)
    below = np.flatnonzero(P < level)
    if above.size == 0:
        return float(ds[-1]), float("inf")
    if below.size == 0:
        return 0.0, float(ds[0])
    lo = float(ds[above[0] - 1]) if above[0] > 0 else 0.0
    hi = float(ds[below[-1] + 1]) if below[-1] + 1 < len(ds) else float("inf")
    return lo, hi
