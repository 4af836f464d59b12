r"""Numba fast Walsh-Hadamard transform (private; compiled on first use).

The unnormalised Walsh-Hadamard matrix of order :math:`L = 2^m` in Sylvester
ordering (the ordering of :func:`scipy.linalg.hadamard`) is
:math:`H_1 = [1]`, :math:`H_{2n} = \begin{pmatrix} H_n & H_n \\ H_n & -H_n\end{pmatrix}`;
it is symmetric with :math:`H^T H = L\,I`. The butterflies below apply it in
:math:`O(L \log L)` operations.

Memory traffic. The textbook transform makes :math:`\log_2 L` passes over the array, one
per stage (butterflies at distance h = 1, 2, 4, ...): :math:`16 L \log_2 L` bytes read and
written once the array no longer fits in cache. Here the stages are split in two groups
that each cost one pass:

* stages :math:`h < B` act inside blocks of B consecutive entries (``_BLOCK``, 32 KB):
  each block is transformed in cache;
* stages :math:`h \ge B` pair entries B apart: viewing the array as a (L/B) x B matrix
  they are a transform of length L/B down every column. A strip of ``_STRIP`` columns is
  copied to a contiguous buffer (which avoids cache-set conflicts from the power-of-two
  stride), transformed there and copied back.

Every entry goes through exactly the same additions, in the same order, as in the
textbook loop: the result is bitwise identical to it whatever the blocking and the number
of threads (blocks and strips are independent, so they are also the unit of
parallelism within one long transform). Entries known to be zero (``support``) are not
read in the first group.

The fast Fastfood map also needs the permutation step :math:`G\Pi` (and its transpose);
``gather_scale_rows`` and ``scale_scatter_rows`` do it in one parallel pass (numpy's fancy
indexing is several times slower and allocates a temporary).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from geometry.parallel import configure_threading_layer, parallel_call

configure_threading_layer()  # before any parallel kernel compiles: fork-safe layer

__all__ = ["fwht_rows", "gather_scale_rows", "scale_scatter_rows"]

#: below this many entries the serial kernel is used (thread start-up costs more)
_PARALLEL_MIN_SIZE = 1 << 16
#: entries per block of the first group of stages (4096 doubles = 32 KB, in L1/L2)
_BLOCK = 1 << 12
#: columns per strip of the second group of stages (16 doubles = two cache lines per row)
_STRIP = 16


@njit(cache=True)
def _fwht_inplace(x):
    """Textbook in-place unnormalised FWHT of a 1-D float64 array (length a power of two)."""
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
def _radix4(x, base, h, count):
    """Stages h and 2h on ``count`` consecutive groups of 4h entries from x[base].

    The two stages fused: the same additions, in the same order, as two textbook passes.
    (Slices rather than offset indices let LLVM vectorise the loop.)
    """
    for g in range(count):
        i = base + g * 4 * h
        p = x[i:i + h]
        q = x[i + h:i + 2 * h]
        r = x[i + 2 * h:i + 3 * h]
        s = x[i + 3 * h:i + 4 * h]
        for j in range(h):
            a = p[j]
            b = q[j]
            c = r[j]
            d = s[j]
            s0 = a + b
            s1 = a - b
            s2 = c + d
            s3 = c - d
            p[j] = s0 + s2
            q[j] = s1 + s3
            r[j] = s0 - s2
            s[j] = s1 - s3


@njit(cache=True)
def _radix2(x, base, h, count):
    """Stage h on ``count`` consecutive groups of 2h entries from x[base]."""
    for g in range(count):
        i = base + g * 2 * h
        p = x[i:i + h]
        q = x[i + h:i + 2 * h]
        for j in range(h):
            a = p[j]
            b = q[j]
            p[j] = a + b
            q[j] = a - b


@njit(cache=True)
def _block_stages(x, lo, size):
    """Stages h = 1 .. size/2 on x[lo:lo + size]: the first three on groups of 8 entries held
    in registers, then pairs of stages (the textbook additions, in the textbook order)."""
    h = 1
    if size >= 8:
        for i in range(lo, lo + size, 8):
            a0 = x[i] + x[i + 1]
            a1 = x[i] - x[i + 1]
            a2 = x[i + 2] + x[i + 3]
            a3 = x[i + 2] - x[i + 3]
            a4 = x[i + 4] + x[i + 5]
            a5 = x[i + 4] - x[i + 5]
            a6 = x[i + 6] + x[i + 7]
            a7 = x[i + 6] - x[i + 7]
            b0 = a0 + a2
            b1 = a1 + a3
            b2 = a0 - a2
            b3 = a1 - a3
            b4 = a4 + a6
            b5 = a5 + a7
            b6 = a4 - a6
            b7 = a5 - a7
            x[i] = b0 + b4
            x[i + 1] = b1 + b5
            x[i + 2] = b2 + b6
            x[i + 3] = b3 + b7
            x[i + 4] = b0 - b4
            x[i + 5] = b1 - b5
            x[i + 6] = b2 - b6
            x[i + 7] = b3 - b7
        h = 8
    while 4 * h <= size:
        _radix4(x, lo, h, size // (4 * h))
        h *= 4
    if h < size:
        _radix2(x, lo, h, size // (2 * h))


@njit(cache=True)
def _strip_stages(x, block, c0, width, buf):
    """Stages h = block .. L/2 on columns c0 .. c0 + width of x viewed as (L/block, block)."""
    R = x.shape[0] // block
    for r in range(R):
        base = r * block + c0
        for c in range(width):
            buf[r * width + c] = x[base + c]
    # rows are `width` apart in buf: stage h over rows is stage h * width over buf
    h = 1
    while 4 * h <= R:
        _radix4(buf, 0, h * width, R // (4 * h))
        h *= 4
    if h < R:
        _radix2(buf, 0, h * width, R // (2 * h))
    for r in range(R):
        base = r * block + c0
        for c in range(width):
            x[base + c] = buf[r * width + c]


@njit(cache=True)
def _layout(L, support):
    """Block size, number of blocks, blocks holding non-zero input, strip width."""
    block = min(L, _BLOCK)
    n_blocks = L // block
    return block, n_blocks, min(n_blocks, (support + block - 1) // block), min(_STRIP, block)


@njit(cache=True)
def _fwht_blocked(x, support):
    """Serial blocked FWHT of one row; entries from ``support`` on are zero on input."""
    block, n_blocks, used, width = _layout(x.shape[0], support)
    for k in range(used):
        _block_stages(x, k * block, block)
    if n_blocks > 1:
        buf = np.empty(n_blocks * width, dtype=x.dtype)
        for c0 in range(0, block, width):
            _strip_stages(x, block, c0, width, buf)


@njit(cache=True, parallel=True)
def _fwht_one_parallel(x, support):
    """The blocked FWHT of one long row, blocks and strips spread over the threads."""
    block, n_blocks, used, width = _layout(x.shape[0], support)
    for k in prange(used):
        _block_stages(x, k * block, block)
    if n_blocks > 1:
        for s in prange(block // width):
            _strip_stages(x, block, s * width, width, np.empty(n_blocks * width, dtype=x.dtype))


@njit(cache=True)
def _fwht_rows_serial(X, support=-1):
    sup = X.shape[1] if support < 0 else support
    for r in range(X.shape[0]):
        _fwht_blocked(X[r], sup)


@njit(cache=True, parallel=True)
def _fwht_rows_parallel(X, support=-1):
    # rows are independent transforms: the result does not depend on the thread count
    sup = X.shape[1] if support < 0 else support
    for r in prange(X.shape[0]):
        _fwht_blocked(X[r], sup)


def fwht_rows(X, support=None):
    r"""Unnormalised Walsh-Hadamard transform of each row, in place: ``X <- X @ H_L``.

    Parameters
    ----------
    X : ndarray of shape (m, L), float64 or float32, C-contiguous, L a power of two
        Overwritten with the transform (H is symmetric, so ``X @ H == (H @ X.T).T``).
    support : int, optional
        Promise that ``X[:, support:]`` is zero on input (those blocks are skipped in the
        first stages; the result is the same).

    Returns
    -------
    X : the same array

    Examples
    --------
    >>> import numpy as np
    >>> from landscape.subspaces._fwht import fwht_rows
    >>> fwht_rows(np.array([[1.0, 0.0, 0.0, 0.0]]))
    array([[1., 1., 1., 1.]])
    """
    if not (isinstance(X, np.ndarray) and X.dtype in (np.float32, np.float64) and X.ndim == 2
            and X.flags.c_contiguous and X.flags.writeable):
        raise TypeError("X must be a writeable C-contiguous 2-D float64 or float32 array")
    L = X.shape[1]
    if L < 1 or L & (L - 1):
        raise ValueError(f"the transform length must be a power of two, got {L}")
    support = L if support is None else min(max(int(support), 0), L)
    if X.size < _PARALLEL_MIN_SIZE:
        _fwht_rows_serial(X, support)
    elif X.shape[0] >= 2:
        parallel_call(_fwht_rows_parallel, X, support)
    else:
        parallel_call(_fwht_one_parallel, X[0], support)
    return X


@njit(cache=True, parallel=True)
def _gather_scale(Y, perm, scale, out):
    for r in range(Y.shape[0]):
        y = Y[r]
        o = out[r]
        for k in prange(o.shape[0]):
            o[k] = y[perm[k]] * scale[k]


@njit(cache=True, parallel=True)
def _scale_scatter(Y, perm, scale, out):
    for r in range(Y.shape[0]):
        y = Y[r]
        o = out[r]
        for k in prange(y.shape[0]):
            o[perm[k]] = y[k] * scale[k]


def _check_permutation_args(Y, perm, scale):
    L = Y.shape[1]
    if not (Y.ndim == 2 and Y.dtype in (np.float32, np.float64) and Y.flags.c_contiguous):
        raise TypeError("Y must be a C-contiguous 2-D float64 or float32 array")
    if perm.shape != (L,) or scale.shape != (L,) or perm.dtype.kind not in "iu" or scale.dtype != Y.dtype:
        raise ValueError(f"perm and scale must be an integer array and an array of Y's dtype, of shape ({L},)")


def gather_scale_rows(Y, perm, scale):
    r"""``Y[:, perm] * scale`` (entry k of each row is :math:`y_{\pi(k)} s_k`), in one parallel pass.

    Parameters
    ----------
    Y : ndarray of shape (m, L), float64 or float32, C-contiguous
    perm : ndarray of int, shape (L,), a permutation of range(L)
    scale : ndarray of shape (L,), of the dtype of Y

    Returns
    -------
    ndarray of shape (m, L)
    """
    _check_permutation_args(Y, perm, scale)
    out = np.empty_like(Y)
    parallel_call(_gather_scale, Y, perm, scale, out)
    return out


def scale_scatter_rows(Y, perm, scale):
    r"""The transpose of :func:`gather_scale_rows`: ``out[:, perm] = Y * scale``.

    Parameters and shapes as in :func:`gather_scale_rows`.
    """
    _check_permutation_args(Y, perm, scale)
    out = np.empty_like(Y)
    parallel_call(_scale_scatter, Y, perm, scale, out)
    return out
