r"""Hessian spectra for model quadratic wells.

Each function returns the eigenvalues :math:`\lambda_1 \ge \dots \ge \lambda_D \ge 0`
of a Hessian :math:`H = V \operatorname{diag}(\lambda) V^T`, to pass to
:class:`landscape.models.quadratic.QuadraticWell`. The shape of the spectrum sets the
geometry of the sub-level sets (semi-axes :math:`r_i = \sqrt{2(\epsilon - L^*)/\lambda_i}`):
many small eigenvalues mean long axes, a large statistical dimension of the cone of
descent directions, hence a small threshold training dimension.
"""
from __future__ import annotations

import numpy as np

from geometry.validation import check_int, check_memory, check_positive

__all__ = ["flat_spectrum", "power_law_spectrum", "two_level_spectrum"]


def flat_spectrum(D, value=1.0):
    r"""Isotropic spectrum :math:`\lambda_i = c` for all i (a round well; sub-level sets are balls).

    Parameters
    ----------
    D : int >= 1
        Number of parameters.
    value : float > 0
        The common eigenvalue c.

    Returns
    -------
    ndarray of shape (D,)

    Examples
    --------
    >>> from landscape.models.spectra import flat_spectrum
    >>> flat_spectrum(3, 2.0)
    array([2., 2., 2.])
    """
    D = check_int(D, "D", minimum=1)
    check_memory(8 * D, "D")
    value = check_positive(value, "value")
    return np.full(D, value)


def power_law_spectrum(D, alpha, scale=1.0):
    r"""Power-law spectrum :math:`\lambda_i = \text{scale}\cdot i^{-\alpha}`, i = 1..D (descending).

    Trained networks show Hessian spectra with a few large outliers and a bulk that
    decays roughly like a power law; ``alpha = 0`` is the flat spectrum.

    Parameters
    ----------
    D : int >= 1
    alpha : float >= 0
        Decay exponent.
    scale : float > 0
        The largest eigenvalue :math:`\lambda_1`.

    Returns
    -------
    ndarray of shape (D,)

    Examples
    --------
    >>> from landscape.models.spectra import power_law_spectrum
    >>> power_law_spectrum(4, 1.0)
    array([1.        , 0.5       , 0.33333333, 0.25      ])
    """
    D = check_int(D, "D", minimum=1)
    check_memory(8 * D, "D")
    alpha = check_positive(alpha, "alpha", strict=False)
    scale = check_positive(scale, "scale")
    i = np.arange(1, D + 1, dtype=np.float64)
    return scale * i ** (-alpha)


def two_level_spectrum(D, n_stiff, stiff=1.0, soft=1e-3):
    r"""Two-level spectrum: ``n_stiff`` eigenvalues equal to ``stiff``, the other D - n_stiff to ``soft``.

    A caricature of a trained network's Hessian (a few stiff directions, a large
    nearly flat bulk). ``soft = 0`` gives exactly flat directions (infinite semi-axes).

    Parameters
    ----------
    D : int >= 1
    n_stiff : int in [0, D]
    stiff : float > 0
    soft : float in [0, stiff]

    Returns
    -------
    ndarray of shape (D,), descending

    Examples
    --------
    >>> from landscape.models.spectra import two_level_spectrum
    >>> two_level_spectrum(4, 1, stiff=2.0, soft=0.5)
    array([2. , 0.5, 0.5, 0.5])
    """
    D = check_int(D, "D", minimum=1)
    check_memory(8 * D, "D")
    n_stiff = check_int(n_stiff, "n_stiff", minimum=0, maximum=D)
    stiff = check_positive(stiff, "stiff")
    soft = check_positive(soft, "soft", strict=False)
    if soft > stiff:
        raise ValueError(f"soft must be <= stiff, got soft={soft} > stiff={stiff}")
    lam = np.full(D, soft)
    lam[:n_stiff] = stiff
    return lam
