"""Small numba probes of the machine (compiled on first use; not part of the toolkit)."""
from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True, fastmath=True)
def parallel_sum(a):
    """Sum of a 1-D array in two independent halves, one per thread: a read-bandwidth probe.

    (fastmath lets LLVM vectorise the reduction, so the loop is limited by memory, not by
    the latency of one addition chain.)
    """
    n = a.shape[0]
    half = n // 2
    parts = np.zeros(2)
    for k in prange(2):
        lo = k * half
        hi = n if k == 1 else half
        acc = 0.0
        for i in range(lo, hi):
            acc += a[i]
        parts[k] = acc
    return parts[0] + parts[1]
