"""Firth-penalised logistic regression (private kernel of the logistic point estimate)."""
import numpy as np


def firth_logistic(k, n, x, iters=100, tol=1e-10):
    """Firth-penalised logistic regression of k/n on x, row by row; returns (a, b), each (B,)."""
    B = k.shape[0]
    a = np.zeros(B)
    b = np.zeros(B)
    for _ in range(iters):
        eta = a[:, None] + b[:, None] * x
        pr = 1.0 / (1.0 + np.exp(-eta))
        w = n * pr * (1.0 - pr)
        s0, s1, s2 = w.sum(1), (w * x).sum(1), (w * x * x).sum(1)
        det = s0 * s2 - s1 * s1
        det = np.where(det > 1e-300, det, 1e-300)
        # diagonal of the hat matrix W^1/2 X (X^T W X)^-1 X^T W^1/2
        h = w * (s2[:, None] - 2 * s1[:, None] * x + s0[:, None] * x * x) / det[:, None]
        r = k - n * pr + h * (0.5 - pr)
        u0, u1 = r.sum(1), (r * x).sum(1)
        da = (s2 * u0 - s1 * u1) / det
        db = (s0 * u1 - s1 * u0) / det
        step = np.maximum(np.abs(da), np.abs(db))
        scale = np.minimum(1.0, 2.0 / np.maximum(step, 1e-300))
        a += scale * da
        b += scale * db
        if np.all(step < tol):
            break
    return a, b


