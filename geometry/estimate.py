"""The result object of every estimator: a value with its uncertainty."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from statistics import NormalDist

from .validation import check_probability

__all__ = ["Estimate"]


@dataclass(frozen=True, repr=False)
class Estimate:
    r"""A Monte Carlo (or exact) estimate with its standard error.

    Attributes
    ----------
    value : float
        The estimate, e.g. :math:`\hat w = \frac1n \sum_i \sup_{x\in T}\langle g_i, x\rangle`.
    stderr : float
        Standard error of ``value`` (sample standard deviation / sqrt(n)); 0 for exact values.
    n_samples : int
        Number of Monte Carlo samples; 0 for a closed form.
    method : str
        How the value was obtained, e.g. ``"exact: a_D"`` or ``"monte-carlo: numba ellipsoid"``.
    samples : ndarray of shape (n_samples,), optional
        The per-sample values, when the estimator was asked to keep them.
    lipschitz : float, optional
        A constant sigma such that each sample is a sigma-Lipschitz function of a
        standard Gaussian vector (the radius of the set for a width). It enables the
        non-asymptotic interval of :meth:`ci` with ``kind="concentration"``.
    extra : dict
        Other named quantities reported with the estimate (for cones:
        ``"mean_projection_norm"``, the estimate of :math:`E\|\Pi_K(g)\|`).

    Examples
    --------
    >>> from geometry import Estimate
    >>> est = Estimate(2.0, 0.1, 100, "monte-carlo")
    >>> est.ci(0.95)  # doctest: +ELLIPSIS
    (1.80..., 2.19...)
    >>> float(est)
    2.0
    """

    value: float
    stderr: float
    n_samples: int
    method: str
    samples: Optional[np.ndarray] = None
    lipschitz: Optional[float] = None
    extra: dict = field(default_factory=dict)

    @property
    def is_exact(self) -> bool:
        """True when the value is a closed form (no sampling error)."""
        return self.n_samples == 0

    def ci(self, level: float = 0.95, kind: str = "normal"):
        r"""Confidence interval for the estimated quantity.

        Parameters
        ----------
        level : float in (0, 1)
            Coverage.
        kind : {"normal", "concentration"}
            ``"normal"``: value -/+ z_{(1+level)/2} * stderr (asymptotic).
            ``"concentration"``: non-asymptotic, from Gaussian concentration. The mean of
            n samples of a sigma-Lipschitz function f of a standard Gaussian vector is a
            (sigma / sqrt(n))-Lipschitz function of all the Gaussians, so

            .. math:: P(|\hat f - E f| \ge t) \le 2 \exp(-n t^2 / (2\sigma^2)),

            giving half-width :math:`t = \sigma \sqrt{2 \log(2/(1-\mathrm{level})) / n}`.
            Requires ``lipschitz``.

        Returns
        -------
        (low, high) : tuple of float
        """
        level = check_probability(level, "level")
        if self.is_exact:
            return (self.value, self.value)
        if kind == "normal":
            half = NormalDist().inv_cdf(0.5 + level / 2) * self.stderr
        elif kind == "concentration":
            if self.lipschitz is None:
                raise ValueError(
                    "kind='concentration' needs a Lipschitz constant, and this estimate has none "
                    f"(method {self.method!r}); use kind='normal'"
                )
            half = self.lipschitz * np.sqrt(2.0 * np.log(2.0 / (1.0 - level)) / self.n_samples)
        else:
            raise ValueError(f"kind must be 'normal' or 'concentration', got {kind!r}")
        return (self.value - half, self.value + half)

    def __float__(self):
        return float(self.value)

    def __repr__(self):
        if self.is_exact:
            return f"Estimate({self.value:.6g}, exact, method={self.method!r})"
        lo, hi = self.ci()
        extra = "".join(f", {k}={v:.6g}" for k, v in self.extra.items() if isinstance(v, (int, float)))
        return (f"Estimate({self.value:.6g} ± {self.stderr:.2g}, 95% CI [{lo:.6g}, {hi:.6g}], "
                f"n_samples={self.n_samples}, method={self.method!r}{extra})")

    @classmethod
    def exact(cls, value, method, **extra):
        """An exact value (stderr 0, n_samples 0)."""
        return cls(float(value), 0.0, 0, method, extra=dict(extra))

    @classmethod
    def from_samples(cls, samples, method, *, keep_samples=False, lipschitz=None, **extra):
        """Mean and standard error of i.i.d. samples (n >= 2)."""
        samples = np.asarray(samples, dtype=np.float64)
        n = samples.shape[0]
        if n < 2:
            raise ValueError(f"n_samples must be >= 2 for a standard error, got {n}")
        if not np.all(np.isfinite(samples)):
            raise ValueError(f"{method}: non-finite sample values (the set may be unbounded)")
        value = float(samples.mean())
        stderr = float(samples.std(ddof=1) / np.sqrt(n))
        return cls(value, stderr, n, method, samples if keep_samples else None, lipschitz, dict(extra))
