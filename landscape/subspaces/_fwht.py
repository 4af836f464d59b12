r"""Numba fast Walsh-Hadamard transform (private; compiled on first use).

The unnormalised Walsh-Hadamard matrix of order :math:`L = 2^m` in Sylvester
ordering (the ordering of :func:`scipy.linalg.hadamard`) is
:math:`H_1 = [1]`, :math:`H_{2n} = \begin{pmatrix} H_n & H_n \\ H_n & -H_n\end{pmatrix}`;
it is symmetric with :math:`H^T H = L\,I`. The butterflies below apply it in
:math:`O(L \log L)` operations.

Memory traffic and order. The textbook transform makes :math:`\log_2 L` passes over the
array, one per stage (butterflies at distance h = 1, 2, 4, ...): :math:`16 L \log_2 L`
bytes read and written once the array no longer fits in cache. Here the transform is
depth-first, as in FFHT (Andoni et al.): a length n > B (``_BLOCK``, 4096 entries, 32 KB)
is transformed as 8 (or 4, or 2) independent halves' halves of length n/8 ... followed by
one radix-8 (4, 2) pass that fuses the remaining stages; a block of B entries is
transformed in cache (the first three stages on groups of 8 entries held in registers,
then radix-8 passes). Every pass is over contiguous vectors that the compiler
vectorises, and the sub-transforms stay in cache while they run, so the array is
streamed about :math:`\log_8(L/B) + 1` times.

Every entry goes through exactly the same additions, in the same order, as in the
textbook loop (the stages of one entry still run in increasing h): the result is bitwise
identical to it -- and to FFHT -- whatever the blocking and the number of threads (the
sub-transforms are independent, and the passes split into independent ranges, so they are
also the unit of parallelism within one long transform). Sub-transforms of entries known
to be zero (``support``) are skipped.

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
#: length of the transforms done in cache (4096 doubles = 32 KB, in L1/L2)
_BLOCK = 1 << 12


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
def _radix8(x, base, h, count):
    """Stages h, 2h and 4h on ``count`` consecutive groups of 8h entries from x[base]."""
    for g in range(count):
        _radix8_part(x, base + g * 8 * h, h, 0, h)


@njit(cache=True)
def _radix8_part(x, i, h, j0, j1):
    """Stages h, 2h, 4h of the group of 8h entries from x[i], at the offsets j0 .. j1 of its eighths.

    The same additions, in the same order, as three textbook passes. (Slices rather than
    offset indices let LLVM vectorise the loop.)
    """
    n = j1 - j0
    p0 = x[i + j0:i + j0 + n]
    p1 = x[i + h + j0:i + h + j0 + n]
    p2 = x[i + 2 * h + j0:i + 2 * h + j0 + n]
    p3 = x[i + 3 * h + j0:i + 3 * h + j0 + n]
    p4 = x[i + 4 * h + j0:i + 4 * h + j0 + n]
    p5 = x[i + 5 * h + j0:i + 5 * h + j0 + n]
    p6 = x[i + 6 * h + j0:i + 6 * h + j0 + n]
    p7 = x[i + 7 * h + j0:i + 7 * h + j0 + n]
    for j in range(n):
        a0 = p0[j]
        a1 = p1[j]
        a2 = p2[j]
        a3 = p3[j]
        a4 = p4[j]
        a5 = p5[j]
        a6 = p6[j]
        a7 = p7[j]
        b0 = a0 + a1
        b1 = a0 - a1
        b2 = a2 + a3
        b3 = a2 - a3
        b4 = a4 + a5
        b5 = a4 - a5
        b6 = a6 + a7
        b7 = a6 - a7
        c0 = b0 + b2
        c1 = b1 + b3
        c2 = b0 - b2
        c3 = b1 - b3
        c4 = b4 + b6
        c5 = b5 + b7
        c6 = b4 - b6
        c7 = b5 - b7
        p0[j] = c0 + c4
        p1[j] = c1 + c5
        p2[j] = c2 + c6
        p3[j] = c3 + c7
        p4[j] = c0 - c4
        p5[j] = c1 - c5
        p6[j] = c2 - c6
        p7[j] = c3 - c7


@njit(cache=True)
def _radix4_part(x, i, h, j0, j1):
    """Stages h and 2h of the group of 4h entries from x[i], at the offsets j0 .. j1 of its quarters."""
    n = j1 - j0
    p = x[i + j0:i + j0 + n]
    q = x[i + h + j0:i + h + j0 + n]
    r = x[i + 2 * h + j0:i + 2 * h + j0 + n]
    s = x[i + 3 * h + j0:i + 3 * h + j0 + n]
    for j in range(n):
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
def _radix4(x, base, h, count):
    """Stages h and 2h on ``count`` consecutive groups of 4h entries from x[base]."""
    for g in range(count):
        _radix4_part(x, base + g * 4 * h, h, 0, h)


@njit(cache=True)
def _radix2_part(x, i, h, j0, j1):
    """Stage h of the group of 2h entries from x[i], at the offsets j0 .. j1 of its halves."""
    n = j1 - j0
    p = x[i + j0:i + j0 + n]
    q = x[i + h + j0:i + h + j0 + n]
    for j in range(n):
        a = p[j]
        b = q[j]
        p[j] = a + b
        q[j] = a - b


@njit(cache=True)
def _block_stages(x, lo, size):
    """All the stages of the transform of x[lo:lo + size] (size <= _BLOCK: in cache): the first
    three on groups of 8 entries held in registers, then radix-8 (4, 2) passes."""
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
    while 8 * h <= size:
        _radix8(x, lo, h, size // (8 * h))
        h *= 8
    if 4 * h <= size:
        _radix4(x, lo, h, size // (4 * h))
        h *= 4
    if 2 * h <= size:
        for g in range(size // (2 * h)):
            _radix2_part(x, lo + g * 2 * h, h, 0, h)


@njit(cache=True)
def _split(n):
    """Number of sub-transforms (8, 4 or 2) a transform of length n > _BLOCK is split into."""
    if n >= 8 * _BLOCK:
        return 8
    if n >= 4 * _BLOCK:
        return 4
    return 2


@njit(cache=True)
def _join(x, lo, m, k, j0, j1):
    """The stages m .. k m / 2 that join k transforms of length m from x[lo], offsets j0 .. j1."""
    if k == 8:
        _radix8_part(x, lo, m, j0, j1)
    elif k == 4:
        _radix4_part(x, lo, m, j0, j1)
    else:
        _radix2_part(x, lo, m, j0, j1)


@njit(cache=True)
def _fwht_depth_first(x, lo, n, support):
    """Serial FWHT of x[lo:lo + n] (n a power of two); entries from ``support`` on are zero.

    Depth-first: n is split into k = 8 (4, 2) parts, each part likewise, down to blocks of
    _BLOCK entries; every part is transformed completely before the pass that joins the k
    parts. Written as a loop over the blocks (a post-order walk of that tree: numba does not
    cache recursive functions), joining each group as soon as its last block is done.
    """
    if n <= _BLOCK:
        if lo < support:
            _block_stages(x, lo, n)
        return
    # the split factors, top-down, and the group sizes bottom-up (in blocks)
    factors = np.empty(32, dtype=np.int64)
    levels = 0
    size = n
    while size > _BLOCK:
        k = _split(size)
        factors[levels] = k
        levels += 1
        size //= k
    groups = np.empty(levels + 1, dtype=np.int64)  # groups[l]: blocks per group of level l
    groups[0] = 1
    for l in range(1, levels + 1):
        groups[l] = groups[l - 1] * factors[levels - l]
    for blk in range(n // _BLOCK):
        start = lo + blk * _BLOCK
        if start < support:
            _block_stages(x, start, _BLOCK)
        for l in range(1, levels + 1):
            if (blk + 1) % groups[l] != 0:
                break
            first = lo + (blk + 1 - groups[l]) * _BLOCK  # the group's first entry
            if first < support:
                m = groups[l - 1] * _BLOCK
                _join(x, first, m, factors[levels - l], 0, m)


@njit(cache=True, parallel=True)
def _fwht_one_parallel(x, support):
    """The FWHT of one long row: the top-level sub-transforms, then the joining pass, split
    over the threads (independent ranges: the result does not depend on the thread count)."""
    n = x.shape[0]
    if n <= _BLOCK:
        _block_stages(x, 0, n)
        return
    k = _split(n)
    m = n // k
    for part in prange(k):
        _fwht_depth_first(x, part * m, m, support)
    chunk = max(1, min(m, _BLOCK // 8))
    for c in prange((m + chunk - 1) // chunk):
        j0 = c * chunk
        _join(x, 0, m, k, j0, min(m, j0 + chunk))


@njit(cache=True)
def _fwht_rows_serial(X, support=-1):
    sup = X.shape[1] if support < 0 else support
    for r in range(X.shape[0]):
        _fwht_depth_first(X[r], 0, X.shape[1], sup)


@njit(cache=True, parallel=True)
def _fwht_rows_parallel(X, support=-1):
    # rows are independent transforms: the result does not depend on the thread count
    sup = X.shape[1] if support < 0 else support
    for r in prange(X.shape[0]):
        _fwht_depth_first(X[r], 0, X.shape[1], sup)


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
