r"""Gordon's escape bound and the ALMT kinematic formula, as functions of widths and dimensions.

Notation: :math:`D` the ambient dimension, :math:`L_d` a uniformly random (Haar)
d-dimensional subspace, :math:`k = D - d` its codimension, :math:`T` a closed subset of the
unit sphere (for the loss landscape: the directions from :math:`\theta_0` into a sub-level
set), :math:`K` a closed convex cone, :math:`w` a Gaussian width, :math:`\delta` a
statistical dimension and :math:`\nu_j` the conic intrinsic volumes.

References
----------
.. [1] Y. Gordon, "On Milman's inequality and random subspaces which escape through a mesh
   in R^n", GAFA Seminar 1986-87, LNM 1317 (1988).
.. [2] D. Amelunxen, M. Lotz, M. B. McCoy, J. A. Tropp, "Living on the edge: phase
   transitions in convex programs with random data", Inf. Inference 3 (2014).
.. [3] B. W. Larsen, S. Fort, N. Becker, S. Ganguli, "How many degrees of freedom do we
   need to train deep networks: a loss landscape perspective", ICLR 2022.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import gamma

from .validation import as_float_array, check_choice, check_int, check_probability
from .estimate import Estimate

__all__ = [
    "expected_norm",
    "gordon_escape_probability",
    "gordon_threshold",
    "kinematic_threshold",
    "kinematic_interval",
    "KinematicInterval",
    "kinematic_success_probability",
]

#: the constants (c, s) of the bound 1 - c exp(-(a_k - w)^2 / s) for each form
_GORDON_FORMS = {"gordon1988": (3.5, 18.0), "concentration": (1.0, 2.0)}

#: from this k on, a_k comes from its asymptotic series (relative error < 5e-16), below it
#: from the ratio of gamma functions (exact to 1e-15, no overflow below k = 340); a difference
#: of log-gammas would lose about k * 1e-16 relative precision (1e-13 at k = 200, 1e-6 at 1e9)
_SERIES_FROM = 200


def _as_int_array(k, name, *, minimum=0):
    """Integer-valued array (or scalar) ``k >= minimum``; returns (float array, is_scalar)."""
    if isinstance(k, bool) or isinstance(k, np.bool_):
        raise TypeError(f"{name} must be an integer or an array of integers, got {k!r}")
    arr = as_float_array(k, name)
    if np.any(arr != np.round(arr)):
        raise ValueError(f"{name} must be integer-valued, got {k!r}")
    if np.any(arr < minimum):
        raise ValueError(f"{name} must be >= {minimum}, got minimum {arr.min():g}")
    return arr, arr.ndim == 0


def _expected_norm(k):
    """a_k for a float array of non-negative integers (validated)."""
    k = np.asarray(k, dtype=np.float64)
    out = np.zeros_like(k)
    small = (k > 0) & (k < _SERIES_FROM)
    ks = k[small]
    out[small] = np.sqrt(2.0) * gamma((ks + 1.0) / 2.0) / gamma(ks / 2.0)
    big = k >= _SERIES_FROM
    kb = k[big]
    x = 1.0 / kb
    # Gamma(x + 1/2) / Gamma(x) = sqrt(x) (1 - 1/(8x) + 1/(128x^2) + 5/(1024x^3) - ...), x = k/2
    series = 1.0 + x * (-1.0 / 4 + x * (1.0 / 32 + x * (5.0 / 128 + x * (-21.0 / 2048 + x * (-399.0 / 8192)))))
    out[big] = np.sqrt(kb) * series
    return out


def expected_norm(k):
    r"""Expected norm of a standard Gaussian vector in :math:`\mathbb{R}^k`.

    .. math::

        a_k = E\|g_k\| = \sqrt2\,\frac{\Gamma(\frac{k+1}{2})}{\Gamma(\frac k2)},
        \qquad \frac{k}{\sqrt{k+1}} < a_k < \sqrt k,

    with :math:`a_0 = 0`. Computed from the gamma ratio for :math:`k < 200` and from the
    asymptotic series :math:`a_k = \sqrt k\,(1 - \frac1{4k} + \frac1{32k^2} +
    \frac5{128k^3} - \frac{21}{2048k^4} - \frac{399}{8192k^5} + O(k^{-6}))` beyond, so it
    keeps full double precision (relative error below 1e-15) for every k, 1e9 and more
    (a difference of log-gammas loses about :math:`k \cdot 10^{-16}` relative precision).

    Parameters
    ----------
    k : int or array_like of int, >= 0

    Returns
    -------
    float, or ndarray of the shape of ``k``

    Examples
    --------
    >>> from geometry import expected_norm
    >>> round(expected_norm(2), 6)  # sqrt(pi / 2)
    1.253314
    """
    arr, scalar = _as_int_array(k, "k")
    out = _expected_norm(arr)
    return float(out) if scalar else out


def _check_form(form):
    return _GORDON_FORMS[check_choice(form, "form", sorted(_GORDON_FORMS))]


def _escape_bound(width, a_k, form_constants):
    c, s = form_constants
    with np.errstate(over="ignore"):
        p = 1.0 - c * np.exp(-((a_k - width) ** 2) / s)
    return np.clip(np.where(width < a_k, p, 0.0), 0.0, 1.0)


def _width_value(width, name="width"):
    """A finite width >= 0 (float or array); an Estimate gives its value."""
    if isinstance(width, Estimate):
        width = width.value
    return as_float_array(width, name, nonnegative=True)


def gordon_escape_probability(width, codim, form="gordon1988"):
    r"""Lower bound on the probability that a random subspace of codimension k misses T.

    Gordon's escape through the mesh [1]_: for a closed :math:`T \subset S^{D-1}` and a
    uniformly random subspace :math:`Y` of codimension :math:`k`, if :math:`w(T) < a_k`,

    .. math::

        P(Y \cap T = \emptyset) \ge 1 - 3.5\, e^{-(a_k - w(T))^2 / 18}
        \quad (\text{form}=\texttt{"gordon1988"}),

    and with Gaussian concentration (the modern form, e.g. [2]_)
    :math:`1 - e^{-(a_k - w(T))^2/2}` (``form="concentration"``). The bound is 0 when
    :math:`w \ge a_k` and is clipped to [0, 1]. Any upper bound of :math:`w(T)` keeps it
    valid. It does not depend on D (only on the codimension).

    Parameters
    ----------
    width : float, array_like or Estimate, >= 0
        :math:`w(T)`; for an :class:`Estimate`, its value (pass ``est.ci()[1]`` for a bound
        that stays valid under Monte Carlo error).
    codim : int or array_like of int, >= 0
        :math:`k = D - d`. Broadcast against ``width``.
    form : {"gordon1988", "concentration"}

    Returns
    -------
    float, or ndarray of the broadcast shape

    Examples
    --------
    >>> from geometry import gordon_escape_probability
    >>> round(gordon_escape_probability(5.0, 100), 4)   # a_100 = 9.975
    0.1151
    >>> round(gordon_escape_probability(5.0, 100, form="concentration"), 6)
    0.999996
    >>> gordon_escape_probability(5.0, 10)
    0.0
    """
    constants = _check_form(form)
    w = _width_value(width)
    k, _ = _as_int_array(codim, "codim")
    out = _escape_bound(w, _expected_norm(k), constants)
    return float(out) if out.ndim == 0 else out


def gordon_threshold(width, D, confidence=0.9, form="gordon1988", *, width_level=0.95):
    r"""Largest d whose failure Gordon's theorem guarantees with probability >= ``confidence``.

    Training in a random d-dimensional subspace through :math:`\theta_0` fails exactly
    when the subspace misses :math:`T = P(S)`, the directions into the sub-level set. With
    :math:`k = D - d`, Gordon's bound (see :func:`gordon_escape_probability`) guarantees
    failure with probability at least ``confidence`` when

    .. math:: a_{D-d} \ge w(T) + \sqrt{s \log(c / (1 - \text{confidence}))},

    with :math:`(c, s) = (3.5, 18)` or :math:`(1, 2)`. Since :math:`a_k` increases with k,
    the guaranteed d form a range :math:`\{0, \dots, d_G\}` and :math:`d^* > d_G` with that
    probability: a one-sided lower bound on the threshold, valid for non-convex sets too.
    Roughly :math:`d_G \approx D - (w + \sqrt{s\log(c/(1-\text{confidence}))})^2`.

    Convention: d = 0 always fails (the subspace {0} meets no unit vector), so the result
    is 0 when the theorem guarantees nothing more; it is an int in [0, D - 1].

    Parameters
    ----------
    width : float or Estimate, >= 0
        :math:`w(T)`, or any upper bound of it. For a Monte Carlo :class:`Estimate`
        the upper end of its ``width_level`` normal confidence interval is used, so
        that the guarantee holds jointly with the estimate's own coverage
        (an exact Estimate gives its value).
    D : int >= 1
        Ambient dimension.
    confidence : float in (0, 1)
    form : {"gordon1988", "concentration"}
    width_level : float in (0, 1)
        Coverage of the width's interval when ``width`` is a Monte Carlo Estimate.

    Returns
    -------
    int

    Examples
    --------
    >>> from geometry import gordon_threshold
    >>> gordon_threshold(5.0, 1000, confidence=0.9, form="concentration")  # a_52 >= 5 + 2.146
    948
    """
    constants = _check_form(form)
    D = check_int(D, "D", minimum=1)
    confidence = check_probability(confidence, "confidence")
    width_level = check_probability(width_level, "width_level")
    if isinstance(width, Estimate):
        width = width.ci(width_level)[1]
    w = float(_width_value(width))
    if np.ndim(w) != 0:
        raise ValueError("width must be a scalar")

    def guaranteed(k):
        return float(_escape_bound(w, _expected_norm(np.array(float(k))), constants)) >= confidence

    if not guaranteed(D):
        return 0
    # smallest codimension k in [1, D] with a guarantee; monotone in k (a_k increasing)
    lo, hi = 0, D  # guaranteed(lo) is False (a_0 = 0 <= w), guaranteed(hi) is True
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if guaranteed(mid):
            hi = mid
        else:
            lo = mid
    return D - hi


def _delta_value(delta, D):
    if isinstance(delta, Estimate):
        delta = delta.value
    arr = as_float_array(delta, "delta", nonnegative=True)
    if np.any(arr > D):
        raise ValueError(f"delta must lie in [0, D] = [0, {D}], got maximum {arr.max():g}")
    return arr


def kinematic_threshold(delta, D):
    r"""Kinematic prediction of the threshold dimension, :math:`d^* \approx D - \delta(K)`.

    From the ALMT approximate kinematic formula [2]_ (see :func:`kinematic_interval`): a
    random d-dimensional subspace meets the convex cone :math:`K` with probability close
    to 0 for :math:`d + \delta(K) \ll D` and close to 1 for :math:`d + \delta(K) \gg D`.

    Parameters
    ----------
    delta : float, array_like or Estimate, in [0, D]
        Statistical dimension :math:`\delta(K)`.
    D : int >= 1

    Returns
    -------
    float, or ndarray of the shape of ``delta``

    Examples
    --------
    >>> from geometry import kinematic_threshold
    >>> kinematic_threshold(30.0, 100)
    70.0
    """
    D = check_int(D, "D", minimum=1)
    out = D - _delta_value(delta, D)
    return float(out) if out.ndim == 0 else out


class KinematicInterval(NamedTuple):
    """The ALMT window of subspace dimensions (``low``, ``high``); see :func:`kinematic_interval`."""

    low: float
    high: float


def kinematic_interval(delta, D, eta=0.1):
    r"""ALMT window around the kinematic threshold, outside which the outcome is nearly certain.

    Approximate kinematic formula (ALMT [2]_, Theorem I, with one cone a d-dimensional
    subspace, :math:`\delta(L_d) = d`): with :math:`a_\eta = \sqrt{8\log(4/\eta)}`,

    .. math::

        d \le D - \delta - a_\eta\sqrt D &\implies P(K \cap L_d \ne \{0\}) \le \eta, \\
        d \ge D - \delta + a_\eta\sqrt D &\implies P(K \cap L_d \ne \{0\}) \ge 1 - \eta.

    Both ends are clipped to [0, D] (the window is often the whole range: the constant
    is not sharp).

    Parameters
    ----------
    delta : float or Estimate, in [0, D]
    D : int >= 1
    eta : float in (0, 1)

    Returns
    -------
    KinematicInterval
        Named tuple ``(low, high)`` of floats.

    Examples
    --------
    >>> from geometry import kinematic_interval
    >>> lo, hi = kinematic_interval(5000.0, 10000, eta=0.1)
    >>> round(lo, 1), round(hi, 1)
    (4456.8, 5543.2)
    """
    D = check_int(D, "D", minimum=1)
    delta = float(_delta_value(delta, D))
    eta = check_probability(eta, "eta")
    half = np.sqrt(8.0 * np.log(4.0 / eta)) * np.sqrt(D)
    centre = D - delta
    return KinematicInterval(float(np.clip(centre - half, 0, D)), float(np.clip(centre + half, 0, D)))


def _check_volumes(volumes, name="intrinsic_volumes", atol=1e-6):
    vol = getattr(volumes, "volumes", volumes)
    vol = as_float_array(vol, name, ndim=1, nonnegative=True)
    if vol.shape[0] < 2:
        raise ValueError(f"{name} must have length D + 1 >= 2, got {vol.shape[0]}")
    total = vol.sum()
    if abs(total - 1.0) > atol:
        raise ValueError(f"{name} must be a probability vector (sum 1), got sum {total!r}")
    return vol


def kinematic_success_probability(intrinsic_volumes, d):
    r"""Probability that a convex cone meets a random d-dimensional subspace non-trivially.

    Exact Crofton / kinematic formula for a closed convex cone :math:`K \subset
    \mathbb{R}^D` that is not a linear subspace (ALMT [2]_, Fact 2.1 and Sec. 5):

    .. math::

        P(K \cap L_d \ne \{0\}) = 2 \sum_{j = 1, 3, 5, \dots} \nu_{D-d+j}(K),

    with :math:`\nu_i = 0` for :math:`i > D`. When the volumes are a point mass
    :math:`\nu_k = 1` (``K`` a k-dimensional subspace, including {0} and
    :math:`\mathbb{R}^D`) the answer is :math:`1\{k + d > D\}` instead. The result is
    clipped to [0, 1] (estimated volumes need not satisfy the parity identity
    :math:`\sum_{\mathrm{even}}\nu = \sum_{\mathrm{odd}}\nu = 1/2` exactly).

    Parameters
    ----------
    intrinsic_volumes : array_like of shape (D + 1,), or IntrinsicVolumes
        :math:`\nu_0, \dots, \nu_D`: non-negative, summing to 1 (within 1e-6).
    d : int or array_like of int, in [0, D]

    Returns
    -------
    float, or ndarray of the shape of ``d``

    Examples
    --------
    >>> from math import comb
    >>> from geometry import kinematic_success_probability
    >>> nu = [comb(2, j) / 4 for j in range(3)]   # the orthant of R^2
    >>> kinematic_success_probability(nu, 1)        # a random line meets it half the time
    0.5
    """
    vol = _check_volumes(intrinsic_volumes)
    D = vol.shape[0] - 1
    d_arr, scalar = _as_int_array(d, "d")
    if np.any(d_arr > D):
        raise ValueError(f"d must lie in [0, D] = [0, {D}], got maximum {d_arr.max():g}")
    d_int = d_arr.astype(np.int64)
    point_mass = np.flatnonzero(vol >= 1.0 - 1e-12)
    if point_mass.size:
        out = (point_mass[0] + d_int > D).astype(np.float64)
    else:
        # tail[i] = nu_i + nu_{i+2} + nu_{i+4} + ... (zero beyond D); P = 2 * tail[D - d + 1]
        padded = np.concatenate([vol, [0.0, 0.0]])
        tail = np.empty_like(padded)
        for parity in (0, 1):
            tail[parity::2] = np.cumsum(padded[parity::2][::-1])[::-1]
        out = np.clip(2.0 * tail[D - d_int + 1], 0.0, 1.0)
    return float(out) if scalar else out
