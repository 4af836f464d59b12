r"""Intervals for binomial proportions: the success fraction of k runs out of n at one d.

Used by success curves measured from runs (:mod:`landscape.thresholds.measured`) and from
exact outcomes (:mod:`landscape.thresholds.ground_truth`), and by the plots.
"""
from __future__ import annotations

import numpy as np

from geometry.validation import as_float_array, check_probability

__all__ = ["wilson_interval"]


def wilson_interval(successes, n_trials, level=0.95):
    r"""Wilson score interval for binomial proportions, by ``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")``.

    .. math::

        \frac{\hat p + \frac{z^2}{2n} \pm z\sqrt{\frac{\hat p(1-\hat p)}{n} + \frac{z^2}{4n^2}}}
             {1 + z^2/n}, \qquad z = \Phi^{-1}\!\left(\tfrac{1+\text{level}}{2}\right).

    Parameters
    ----------
    successes : array_like of int
    n_trials : int or array_like of int (>= 1, >= successes)
    level : float in (0, 1)

    Returns
    -------
    (low, high) : ndarrays of the shape of ``successes``
    """
    from scipy.stats import binomtest

    level = check_probability(level, "level")
    k = _whole_numbers(successes, "successes")
    try:
        n = np.broadcast_to(_whole_numbers(n_trials, "n_trials"), k.shape)
    except ValueError as exc:
        if "broadcast" not in str(exc):
            raise
        raise ValueError(f"n_trials must be one count or one per entry of successes (shape {k.shape})") from None
    if np.any(n < 1) or np.any(k < 0) or np.any(k > n):
        raise ValueError("need n_trials >= 1 and 0 <= successes <= n_trials")
    low, high = np.empty(k.shape), np.empty(k.shape)
    for idx in np.ndindex(k.shape):
        ci = binomtest(int(k[idx]), int(n[idx])).proportion_ci(confidence_level=level, method="wilson")
        low[idx], high[idx] = ci.low, ci.high
    return low, high


def _whole_numbers(x, name):
    """``x`` as a float array of finite whole numbers, or a TypeError / ValueError naming ``name``."""
    if x is None or isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be whole numbers, got {type(x).__name__}")
    arr = as_float_array(x, name, allow_empty=True)
    if np.any(arr != np.round(arr)):
        raise ValueError(f"{name} must be whole numbers (counts), got {arr[arr != np.round(arr)][:3].tolist()}")
    return arr
