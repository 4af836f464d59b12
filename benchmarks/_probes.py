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


@njit(cache=True, parallel=True)
def one_pass(Gp, H, rho, b, wp):
    """One pass over each sample's groups reading what the projection kernel reads (g, h,
    rho, b, w_p) and computing three sums (P, R2, beta): the unit the kernel's cost is
    counted in, on the same data and threads."""
    n = Gp.shape[0]
    shared = H.shape[0] != n
    out = np.empty((n, 3))
    for j in prange(n):
        g = Gp[j]
        h = H[0] if shared else H[j]
        P = 0.0
        R2 = 0.0
        beta = 0.0
        for i in range(rho.shape[0]):
            bg = b[i] * g[i]
            P += bg
            R2 += rho[i] * (g[i] * g[i] + h[i])
            beta += bg * wp[i]
        out[j, 0] = P
        out[j, 1] = R2
        out[j, 2] = beta
    return out
