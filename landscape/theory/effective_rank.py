r"""Effective ranks of a Hessian spectrum: three ways to count the directions that matter.

For eigenvalues :math:`\lambda_1 \ge \lambda_2 \ge \dots \ge \lambda_D` of the Hessian at a
trained point (the top ones by Lanczos and the bulk by stochastic Lanczos quadrature, see
:mod:`landscape.theory.hessian` and :class:`landscape.theory.spectral_model.SpectralModel`),
with the positive part :math:`\lambda^+_i = \max(\lambda_i, 0)`:

* **threshold count** :math:`\#\{i : \lambda_i > f\,\lambda_1\}`, the eigenvalues above a
  stated fraction f of the largest;
* **participation ratio** :math:`\mathrm{PR} = (\sum_i \lambda^+_i)^2 / \sum_i (\lambda^+_i)^2`,
  which is k for k equal eigenvalues and the rest 0, and between 1 and the number of
  positive eigenvalues otherwise;
* **entropy effective rank** (Roy and Vetterli 2007)
  :math:`\exp(-\sum_i p_i \log p_i)` with :math:`p_i = \lambda^+_i / \sum_j \lambda^+_j`, the
  exponential of the Shannon entropy of the normalised spectrum; also k for k equal
  eigenvalues, and :math:`\ge \mathrm{PR}` always (Renyi entropies decrease with the order).

Negative eigenvalues (the point is not exactly a minimum) are left out of all three and
reported.

References
----------
1. O. Roy, M. Vetterli, "The effective rank: a measure of effective dimensionality",
   EUSIPCO 2007.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geometry.validation import as_float_array, check_probability

__all__ = ["EffectiveRanks", "effective_ranks"]


@dataclass(frozen=True, repr=False)
class EffectiveRanks:
    r"""Three effective ranks of one spectrum (definitions in :mod:`landscape.theory.effective_rank`).

    Attributes
    ----------
    threshold_count : float
        :math:`\#\{i : \lambda_i > f\lambda_{\max}\}` (counted with multiplicity; a float
        because SLQ multiplicities may be fractional).
    participation_ratio : float
        :math:`(\sum\lambda^+)^2 / \sum(\lambda^+)^2`.
    entropy_rank : float
        :math:`\exp(H(p))`, :math:`p = \lambda^+/\sum\lambda^+`.
    fraction : float
        f.
    D : float
        The number of eigenvalues described (sum of multiplicities).
    n_positive : float
        Number of positive eigenvalues.
    n_negative : float
        Number of negative eigenvalues (left out).
    largest, most_negative : float
    source : str
    """

    threshold_count: float
    participation_ratio: float
    entropy_rank: float
    fraction: float
    D: float
    n_positive: float
    n_negative: float
    largest: float
    most_negative: float
    source: str

    def as_dict(self):
        return {"rank_threshold": self.threshold_count, "rank_fraction": self.fraction,
                "participation_ratio": self.participation_ratio, "entropy_rank": self.entropy_rank,
                "n_negative_eigenvalues": self.n_negative}

    def __repr__(self):
        neg = f", {self.n_negative:g} negative left out" if self.n_negative else ""
        return (f"EffectiveRanks(count > {self.fraction:g} max = {self.threshold_count:.4g}, "
                f"participation ratio = {self.participation_ratio:.4g}, entropy rank = {self.entropy_rank:.4g}, "
                f"D = {self.D:g}{neg}, source={self.source!r})")


def _spectrum(spectrum, multiplicities):
    """(values, multiplicities, source) from any of the accepted spectrum forms."""
    from .hessian import Eigenpairs, SpectralDensity
    from .spectral_model import SpectralModel

    if isinstance(spectrum, SpectralModel):
        if multiplicities is not None:
            raise ValueError("multiplicities must be None for a SpectralModel (it has its own)")
        lam = spectrum.eigenvalues.astype(np.float64)
        m = spectrum.multiplicities.astype(np.float64)
        if spectrum.n_clipped:  # the model clipped negative eigenvalues to 0: report them
            return lam, m, f"SpectralModel ({spectrum.source})", spectrum.n_clipped, spectrum.most_negative
        return lam, m, f"SpectralModel ({spectrum.source})", 0.0, 0.0
    if isinstance(spectrum, SpectralDensity):
        if multiplicities is not None:
            raise ValueError("multiplicities must be None for a SpectralDensity (its weights give them)")
        return spectrum.nodes, spectrum.weights * spectrum.dim, "SLQ density", None, None
    if isinstance(spectrum, Eigenpairs):
        raise TypeError("an Eigenpairs holds only the top k eigenvalues; pass the whole spectrum "
                        "(e.g. SpectralModel.from_hvp: top k by Lanczos, the bulk by SLQ), or "
                        "Eigenpairs.eigenvalues explicitly if the rest are known to be 0")
    lam = as_float_array(spectrum, "spectrum", ndim=1)
    if multiplicities is None:
        m = np.ones_like(lam)
    else:
        m = as_float_array(multiplicities, "multiplicities", shape=lam.shape, nonnegative=True)
    return lam, m, "eigenvalues", None, None


def effective_ranks(spectrum, multiplicities=None, *, fraction=0.01):
    r"""Threshold count, participation ratio and entropy effective rank of a spectrum.

    .. math::

        r_f = \#\{i : \lambda_i > f \lambda_{\max}\}, \qquad
        \mathrm{PR} = \frac{(\sum_i \lambda_i^+)^2}{\sum_i (\lambda_i^+)^2}, \qquad
        r_H = \exp\Big(-\sum_i p_i \log p_i\Big),\ p_i = \frac{\lambda_i^+}{\sum_j \lambda_j^+}.

    Each eigenvalue counts with its multiplicity.

    Parameters
    ----------
    spectrum : array_like of shape (G,), SpectralModel or SpectralDensity
        Eigenvalues (with ``multiplicities``), a grouped spectrum
        (:class:`landscape.theory.spectral_model.SpectralModel`: top eigenvalues by Lanczos
        and the SLQ bulk), or an SLQ density (weights times ``dim`` as multiplicities).
    multiplicities : array_like of shape (G,), >= 0, optional
        For an array of eigenvalues (default all 1).
    fraction : float in (0, 1)
        f of the threshold count.

    Returns
    -------
    EffectiveRanks

    Raises
    ------
    ValueError
        No positive eigenvalue.

    Examples
    --------
    >>> from landscape.theory.effective_rank import effective_ranks
    >>> r = effective_ranks([2.0, 2.0, 2.0, 0.0])
    >>> r.threshold_count, r.participation_ratio, round(r.entropy_rank, 12)
    (3.0, 3.0, 3.0)
    """
    fraction = check_probability(fraction, "fraction")
    lam, m, source, n_neg, most_neg = _spectrum(spectrum, multiplicities)
    keep = m > 0
    lam, m = lam[keep], m[keep]
    scale = float(np.abs(lam).max()) if lam.size else 0.0
    negative = lam < -1e-10 * max(scale, 1e-300)
    if n_neg is None:
        n_neg = float(m[negative].sum())
        most_neg = float(lam[negative].min()) if negative.any() else 0.0
    pos = np.maximum(lam, 0.0)
    total = float(m @ pos)
    if not total > 0:
        raise ValueError("the spectrum has no positive eigenvalue: every effective rank is 0")
    top = float(pos.max())
    count = float(m[pos > fraction * top].sum())
    pr = total ** 2 / float(m @ (pos * pos))
    p = pos / total
    nz = p > 0
    entropy = -float(np.sum(m[nz] * p[nz] * np.log(p[nz])))
    return EffectiveRanks(threshold_count=count, participation_ratio=pr, entropy_rank=float(np.exp(entropy)),
                          fraction=fraction, D=float(m.sum()), n_positive=float(m[pos > 0].sum()),
                          n_negative=float(n_neg), largest=top, most_negative=float(most_neg), source=source)
