r"""Predicted threshold training dimensions from the geometry of a sub-level set.

For a loss L, an initialisation :math:`\theta_0` and a level :math:`\epsilon`, training in a
random d-dimensional affine subspace :math:`\theta_0 + L_d` succeeds exactly when
:math:`L_d` meets the cone :math:`K = \operatorname{cone}(S(\epsilon) - \theta_0)` of directions
into the sub-level set. With :math:`D` parameters:

* Gordon's escape theorem (any set): :math:`d^* \gtrsim D - w(K\cap S^{D-1})^2`, a one-sided
  bound; :func:`geometry.gordon_threshold` gives the largest d whose failure is
  guaranteed at a stated confidence.
* The ALMT kinematic formula (convex cones): :math:`d^* \approx D - \delta(K)`, with a
  transition window of width :math:`O(\sqrt D)`; the whole curve is
  :math:`P_s(d) = 2\sum_{j\ \mathrm{odd}} \nu_{D-d+j}(K)` with the conic intrinsic volumes
  :math:`\nu_j`.

The functions take any object with a ``cone(theta0, eps)`` method (a
:class:`landscape.models.quadratic.QuadraticWell`) or a ``cone(eps)`` method (a spectral model
of a trained network), or a geometry cone directly.
"""
from __future__ import annotations

import inspect
import numbers
from dataclasses import dataclass, field

import numpy as np

from geometry import (
    Estimate,
    gaussian_width,
    gordon_threshold,
    intrinsic_volumes,
    kinematic_interval,
    statistical_dimension,
)
from geometry.validation import (
    as_float_array,
    as_int_array,
    check_choice,
    check_int,
    check_memory,
    check_probability,
    check_rng,
)

__all__ = [
    "ThresholdPrediction",
    "SuccessCurvePrediction",
    "predicted_threshold",
    "predicted_success_curve",
    "cone_of",
    "level_streams",
]


def cone_of(source, theta0=None, eps=None):
    """The cone of directions into the sub-level set, from a well, a spectral model or a cone.

    Parameters
    ----------
    source : QuadraticWell, spectral model, or geometry.ConvexCone
        Anything with ``cone(theta0, eps)`` (needs both), ``cone(eps)`` (needs ``eps``),
        or a cone itself (``theta0`` and ``eps`` must then be None).
    """
    from geometry import ConvexCone

    if isinstance(source, ConvexCone):
        if theta0 is not None or eps is not None:
            raise ValueError("theta0 and eps must be None when source is already a cone")
        return source
    if not hasattr(source, "cone"):
        raise TypeError(
            "source must be a geometry.ConvexCone or have a cone(theta0, eps) / cone(eps) method, "
            f"got {type(source).__name__}"
        )
    if eps is None:
        raise ValueError("eps is required to build the sub-level set")
    try:
        n_args = len([p for p in inspect.signature(source.cone).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)])
    except (TypeError, ValueError):  # pragma: no cover - a builtin without a signature
        n_args = 2 if theta0 is not None else 1
    if theta0 is None:
        if n_args >= 2:
            raise TypeError(f"theta0 is required for a {type(source).__name__} source (the starting point "
                            "of the directions: cone(theta0, eps))")
        return source.cone(eps)
    if n_args < 2:
        raise TypeError(f"theta0 must be None for a {type(source).__name__} source (its sub-level sets are "
                        "relative to its own starting point: cone(eps))")
    return source.cone(theta0, eps)


@dataclass(frozen=True, repr=False)
class ThresholdPrediction:
    r"""Predicted threshold training dimension for one sub-level set.

    Attributes
    ----------
    D : int
        Number of parameters.
    eps : float or None
        The loss level.
    statistical_dimension : Estimate
        :math:`\delta(K)`.
    width : Estimate
        :math:`w(K \cap S^{D-1})`.
    kinematic : float
        :math:`D - \delta`, the kinematic prediction of :math:`d^*`.
    kinematic_stderr : float
        Its Monte Carlo standard error (that of :math:`\delta`).
    kinematic_window : (float, float)
        ALMT window: below the first value success has probability <= eta, above the
        second >= 1 - eta.
    gordon : int
        Largest d whose failure Gordon's theorem guarantees with probability >= ``confidence``,
        computed from the upper end of the width's confidence interval (so it stays valid).
    confidence : float
    eta : float
    """

    D: int
    eps: float | None
    statistical_dimension: Estimate
    width: Estimate
    kinematic: float
    kinematic_stderr: float
    kinematic_window: tuple
    gordon: int
    confidence: float
    eta: float
    extra: dict = field(default_factory=dict)

    def ci(self, level=0.95):
        r"""Normal confidence interval of the kinematic prediction :math:`D - \delta`."""
        lo, hi = self.statistical_dimension.ci(level)
        return (self.D - hi, self.D - lo)

    def as_dict(self):
        """A flat dict (for tables and JSON)."""
        return {
            "D": self.D,
            "eps": self.eps,
            "delta": float(self.statistical_dimension.value),
            "delta_stderr": float(self.statistical_dimension.stderr),
            "width": float(self.width.value),
            "width_stderr": float(self.width.stderr),
            "kinematic_threshold": self.kinematic,
            "kinematic_stderr": self.kinematic_stderr,
            "almt_low": self.kinematic_window[0],
            "almt_high": self.kinematic_window[1],
            "gordon_threshold": self.gordon,
            "confidence": self.confidence,
            "eta": self.eta,
        }

    def __repr__(self):
        eps = "" if self.eps is None else f"eps={self.eps:g}, "
        return (
            f"ThresholdPrediction({eps}D={self.D}, kinematic d*={self.kinematic:.1f} ± "
            f"{self.kinematic_stderr:.2g}, ALMT window=[{self.kinematic_window[0]:.1f}, "
            f"{self.kinematic_window[1]:.1f}] (eta={self.eta:g}), Gordon d* >= {self.gordon} "
            f"(confidence {self.confidence:g}))"
        )


def _seed_sequence(seed):
    """The SeedSequence behind ``seed`` (int, SeedSequence, Generator: one draw, or None: fresh entropy)."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(seed.integers(2 ** 63)))
    check_rng(seed)  # the usual errors for bad seeds
    return np.random.SeedSequence(None if seed is None else int(seed))


def _child(ss, *key):
    """A child stream of ``ss`` at a fixed key (unlike ``SeedSequence.spawn``, calling twice gives the same one)."""
    return np.random.SeedSequence(ss.entropy, spawn_key=tuple(ss.spawn_key) + tuple(int(k) for k in key),
                                  pool_size=ss.pool_size)


def level_streams(seed, eps=None):
    r"""The random streams of one prediction: (threshold, intrinsic volumes) Generators from (seed, level).

    Each level's draws depend only on ``seed`` and the level's value (its float64 bits),
    never on the other levels requested or on whether a success curve is asked for:
    :func:`predicted_threshold` uses the first stream, :func:`predicted_success_curve` the
    first for its threshold (so both give the same :math:`D - \delta`) and the second for the
    intrinsic volumes.

    Parameters
    ----------
    seed : int, SeedSequence, Generator or None
    eps : float, optional
        The level (None when the cone is given directly).

    Returns
    -------
    (numpy.random.Generator, numpy.random.Generator)
    """
    ss = _seed_sequence(seed)
    if eps is not None:
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not np.isfinite(eps):
            raise TypeError(f"eps must be a finite real number (a loss level), got {eps!r:.80}")
        ss = _child(ss, int(np.float64(eps).view(np.uint64)))
    return np.random.default_rng(_child(ss, 0)), np.random.default_rng(_child(ss, 1))


def _one_prediction(K, eps, n_samples, rng, confidence, eta):
    delta = statistical_dimension(K, n_samples, seed=rng)
    width = gaussian_width(K, n_samples, seed=rng)
    D = K.dim
    # delta(K) lies in [0, D]; a Monte Carlo mean of ||Pi_K(g)||^2 can land just above D by
    # noise when the cone is nearly the whole space (or below 0 never: each term is >= 0).
    # The prediction uses the estimate clipped into [0, D]; its stderr is kept.
    delta_value = float(min(delta.value, D))
    window = kinematic_interval(delta_value, D, eta)
    w_upper = width.ci(confidence)[1] if not width.is_exact else float(width)
    return ThresholdPrediction(
        D=D,
        eps=None if eps is None else float(eps),
        statistical_dimension=delta,
        width=width,
        kinematic=float(D - delta_value),
        kinematic_stderr=float(delta.stderr),
        kinematic_window=(float(window[0]), float(window[1])),
        gordon=int(gordon_threshold(w_upper, D, confidence=confidence)),
        confidence=confidence,
        eta=eta,
    )


def predicted_threshold(source, theta0=None, eps=None, *, n_samples=2000, seed=None,
                        confidence=0.9, eta=0.1):
    r"""Predict the threshold training dimension :math:`d^*(\epsilon)` from geometry.

    .. math::

        d^*_{\mathrm{kin}} = D - \delta(K), \qquad
        d^*_{\mathrm{Gordon}} = \max\{d : P(\theta_0 + L_d \text{ misses } S) \ge
        \text{confidence}\},

    with :math:`K` the cone of directions from :math:`\theta_0` into :math:`S(\epsilon)`.

    Parameters
    ----------
    source : QuadraticWell, spectral model or geometry cone
        See :func:`cone_of`.
    theta0 : array_like of shape (D,), optional
        Initialisation (for a well).
    eps : float or array_like of floats
        Loss level(s); an array gives one prediction per level.
    n_samples : int
        Monte Carlo samples for each of delta and w.
    seed : int, SeedSequence, Generator or None
        Each level's draws come from (seed, level) (:func:`level_streams`): a level's
        prediction does not depend on the other levels asked for.
    confidence : float in (0, 1)
        Confidence of Gordon's guarantee; the width's upper confidence bound at this
        level is used, which keeps the bound valid.
    eta : float in (0, 1)
        Failure probability defining the ALMT window.

    Returns
    -------
    ThresholdPrediction, or a list of them when ``eps`` is an array.

    Examples
    --------
    >>> import numpy as np
    >>> from landscape import QuadraticWell, predicted_threshold
    >>> well = QuadraticWell(np.ones(50))
    >>> pred = predicted_threshold(well, np.full(50, 0.5), eps=0.5, n_samples=200, seed=0)
    >>> 0 <= pred.kinematic <= 50
    True
    """
    n_samples = check_int(n_samples, "n_samples", minimum=2)
    confidence = check_probability(confidence, "confidence")
    eta = check_probability(eta, "eta")
    ss = _seed_sequence(seed)
    one_level = eps is None or isinstance(eps, numbers.Real) or (isinstance(eps, np.ndarray) and eps.ndim == 0)
    if not one_level:
        levels = as_float_array(eps, "eps", ndim=1)
        return [_one_prediction(cone_of(source, theta0, e), e, n_samples, level_streams(ss, e)[0], confidence,
                                eta) for e in levels]
    K = cone_of(source, theta0, eps)
    return _one_prediction(K, eps, n_samples, level_streams(ss, eps)[0], confidence, eta)


@dataclass(frozen=True, repr=False)
class SuccessCurvePrediction:
    r"""Predicted success probability :math:`P_s(d)` over a grid of d.

    Attributes
    ----------
    ds : ndarray of int
    probability : ndarray
        :math:`2\sum_{j\ \mathrm{odd}}\hat\nu_{D-d+j}` from the estimated intrinsic volumes.
    band : (ndarray, ndarray)
        Pointwise 5%-95% band over bootstrap refits on resamples of the projection
        samples (Monte Carlo uncertainty of the volumes, not the smoothing bias).
    threshold : ThresholdPrediction
    volumes : ndarray of shape (D + 1,)
    """

    ds: np.ndarray
    probability: np.ndarray
    band: tuple
    threshold: ThresholdPrediction
    volumes: np.ndarray
    method: str

    def __repr__(self):
        return (f"SuccessCurvePrediction(D={self.threshold.D}, {len(self.ds)} values of d, "
                f"kinematic d*={self.threshold.kinematic:.1f}, method={self.method!r})")


def predicted_success_curve(source, theta0=None, eps=None, ds=None, *, n_samples=2000, seed=None,
                            method="auto", n_bootstrap=20, confidence=0.9, eta=0.1):
    r"""Predict the whole curve :math:`P_s(d)` from the kinematic formula.

    The conic intrinsic volumes :math:`\nu_j(K)` are estimated from samples of
    :math:`(\|\Pi_K g\|^2, \|\Pi_{K^\circ} g\|^2) \sim \sum_j \nu_j\, \chi^2_j \otimes
    \chi^2_{D-j}` (:func:`geometry.intrinsic_volumes`), then

    .. math:: P_s(d) = P(K \cap L_d \ne \{0\}) = 2 \sum_{j = 1, 3, 5, \dots} \nu_{D-d+j}(K).

    Parameters
    ----------
    source, theta0, eps
        See :func:`predicted_threshold` (``eps`` a scalar here).
    ds : array_like of int in [0, D]
        Subspace dimensions; default a grid of 50 values.
    n_samples : int
    seed : int, SeedSequence, Generator or None
        The threshold uses the same stream as :func:`predicted_threshold` with this seed
        (equal results); the intrinsic volumes a second one (:func:`level_streams`).
    method : {"auto", "em", "nnls"}
        Estimator of the intrinsic volumes (``"auto"``: exact where known, else ``"nnls"``).
    n_bootstrap : int
        Number of bootstrap refits for the band (0 or 1 to skip).

    Returns
    -------
    SuccessCurvePrediction
    """
    if eps is not None and not (isinstance(eps, numbers.Real) or (isinstance(eps, np.ndarray) and eps.ndim == 0)):
        raise TypeError("eps must be one number for predicted_success_curve (one curve per level)")
    n_samples = check_int(n_samples, "n_samples", minimum=2)
    n_bootstrap = check_int(n_bootstrap, "n_bootstrap", minimum=0)
    check_memory(64 * n_bootstrap, "n_bootstrap")  # the replicates
    thr_rng, rng = level_streams(seed, eps)
    K = cone_of(source, theta0, eps)
    D = K.dim
    if ds is None:
        ds = np.unique(np.linspace(0, D, 50).round().astype(int))
    ds = as_int_array(ds, "ds", ndim=1)
    if ds.min() < 0 or ds.max() > D:
        raise ValueError(f"ds must lie in [0, D] = [0, {D}], got range [{ds.min()}, {ds.max()}]")
    method = check_choice(method, "method", ("auto", "exact", "em", "nnls"))
    if method == "auto":
        # exact volumes where geometry knows them; otherwise penalised NNLS, which measured
        # both more accurate and several times faster than EM on ellipsoidal cones (D = 400)
        try:
            vol = intrinsic_volumes(K, method="exact")
        except ValueError:
            vol = intrinsic_volumes(K, n_samples, seed=rng, method="nnls")
    else:
        vol = intrinsic_volumes(K, n_samples, seed=rng, method=method)
    prob = np.asarray(vol.success_probability(ds), dtype=float)
    if n_bootstrap >= 2:
        band = vol.success_band(ds, n_bootstrap=n_bootstrap, level=0.9, seed=rng)
    else:
        band = (prob.copy(), prob.copy())
    thr = _one_prediction(K, eps, n_samples, thr_rng, check_probability(confidence, "confidence"),
                          check_probability(eta, "eta"))
    return SuccessCurvePrediction(ds=ds, probability=prob, band=band, threshold=thr,
                                  volumes=np.asarray(vol.volumes), method=vol.method)
