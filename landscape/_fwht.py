r"""Numba fast Walsh-Hadamard transform (private; compiled on first use).

The unnormalised Walsh-Hadamard matrix of order :math:`L = 2^m` in Sylvester
ordering (the ordering of :func:`scipy.linalg.hadamard`) is
:math:`H_1 = [1]`, :math:`H_{2n} = \begin{pmatrix} H_n & H_n \\ H_n & -H_n\end{pmatrix}`;
it is symmetric with :math:`H^T H = L\,I`. The butterfly below applies it in
:math:`O(L \log L)` operations and O(1) extra memory.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["fwht_rows"]

#: below this many entries the serial kernel is used (thread start-up costs more)
_PARALLEL_MIN_SIZE = 1 << 16


@njit(cache=True)
def _fwht_inplace(x):
    """In-place unnormalised FWHT of a 1-D float64 array whose length is a power of two."""
    n = x.shape[0]
    h = 1
    while h < n:
        for i in range(0, n, 2 * h):
            for j in range(i, i + h):
                a = x[j]
                b = x[j + h]
                x[j] = a + b
                x[j + h] = a - b
        h *= 2


@njit(cache=True)
def _fwht_rows_serial(X):
    for r in range(X.shape[0]):
        _fwht_inplace(X[r])


@njit(cache=True, parallel=True)
def _fwht_rows_parallel(X):
    # rows are independent transforms: the result does not depend on the thread count
    for r in prange(X.shape[0]):
        _fwht_inplace(X[r])


def fwht_rows(X):
    r"""Unnormalised Walsh-Hadamard transform of each row, in place: ``X <- X @ H_L``.

    Parameters
    ----------
    X : ndarray of shape (m, L), float64, C-contiguous, L a power of two
        Overwritten with the transform (H is symmetric, so ``X @ H == (H @ X.T).T``).

    Returns
    -------
    X : the same array
    """
    if not (isinstance(X, np.ndarray) and X.dtype == np.float64 and X.ndim == 2
            and X.flags.c_contiguous and X.flags.writeable):
        raise TypeError("X must be a writeable C-contiguous 2-D float64 array")
    L = X.shape[1]
    if L < 1 or L & (L - 1):
        raise ValueError(f"the transform length must be a power of two, got {L}")
    if X.shape[0] > 1 and X.size >= _PARALLEL_MIN_SIZE:
        _fwht_rows_parallel(X)
    else:
        _fwht_rows_serial(X)
    return X
