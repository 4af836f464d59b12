r"""Numerical kernels of :mod:`geometry` (numba, compiled on first use, cached on disk).

Private module: the public classes validate their input once and call these on clean
float64 arrays. Importing this module imports numba, so :mod:`geometry` imports it only
inside the functions that need it.

Contents
--------
``point_cloud_support``
    :math:`\max_j \langle g_i, x_j\rangle` for every row of G, in blocks (BLAS per block).
``ellipsoid_support``
    :math:`\|\operatorname{diag}(r) c_i\|` for every row of the axis coordinates C.
``polar_batch``, ``polar_weights``
    Projection onto the ellipsoidal polar cone and the sphere support function of the
    ellipsoidal cone, per sample, in grouped eigen-coordinates (theory notes, section 4).

The ellipsoidal cone in grouped eigen-coordinates
-------------------------------------------------
An ellipsoid :math:`E = \{c + V\operatorname{diag}(r)u : \|u\|\le 1\}` seen from an
origin :math:`o \notin E` spans the cone :math:`K = \operatorname{cone}(E - o)`, with polar

.. math:: K^\circ = \{v : \|\operatorname{diag}(r)\, v\| \le \langle b, v\rangle\},
          \qquad b = V^T (o - c)

in eigen-coordinates. Coordinates with :math:`r_i = \infty` (flat directions) force
:math:`v_i = 0`; the caller removes them (their part of g lies entirely in
:math:`\Pi_K g`). The kernels see the remaining coordinates as *groups*
:math:`i = 1..n`: a value :math:`\rho_i = r_i^2 \in [0, \infty)` (distinct across
groups), a coordinate carrying the offset, :math:`b_i`, and :math:`m_i - 1` more
coordinates with the same :math:`\rho_i` and no offset. A sample is
:math:`(g_i, h_i)`: the Gaussian along the offset coordinate and the squared norm of
the Gaussian on the others (a :math:`\chi^2_{m_i-1}` draw), so one sample costs
O(n), whatever the dimension.

Projection onto the polar cone. The KKT conditions give, for a scalar :math:`t \ge 0`
and :math:`s = \langle b, v\rangle = \|\operatorname{diag}(r) v\|`,

.. math:: v_i = w_i (g_i + t s b_i), \quad w_i = \frac{1}{1 + t\rho_i},\quad
          s(t) = \frac{B(t)}{1 - t\,\sum_i b_i^2 w_i}, \quad B(t) = \sum_i b_i g_i w_i,

and the offset-free coordinates are scaled by :math:`w_i`. Equivalently
:math:`v = (I - tM)^{-1} g` with :math:`M = bb^T - \operatorname{diag}(\rho)`, which has a
single positive eigenvalue :math:`1/t_p`, with eigenvector :math:`u \propto w(t_p)\odot b`;
:math:`t_p` (the pole of :math:`s`) solves :math:`t\sum_i b_i^2 w_i(t) = 1` and depends on
the cone only. The sign of :math:`\beta = \langle u, g\rangle \propto \sum_i b_i g_i
w_i(t_p)` decides the branch:

* :math:`\beta > 0`: the root lies in :math:`(0, t_p)`, where
  :math:`f(t) = s^2 - \|\operatorname{diag}(r)v\|^2` increases from :math:`f(0) < 0` to
  :math:`+\infty`;
* :math:`\beta < 0`: the root lies in :math:`(t_p, \infty)`. There :math:`t' = 1/t` is
  the multiplier of the projection onto K itself (:math:`\Pi_K g = (I - t'M^{-1})^{-1}g`)
  and :math:`t^2 f` increases in :math:`t'` from its value at :math:`t' = 0` to
  :math:`+\infty`; if that value is :math:`\ge 0`, g lies in K (up to the lineality of
  :math:`K^\circ`) and the projection is the limit :math:`t \to \infty`;
* :math:`\beta = 0`: the solution sits at the pole, with s from the cone equation.

The pole is removed by multiplying by :math:`D(t)^2`, :math:`D = 1 - t\sum b_i^2 w_i`,
written without cancellation as :math:`D = (t_p - t)\sum_i b_i^2 w_i(t) w_i(t_p)`; each
branch is solved in the variable measured from its nearer end (:math:`t` or
:math:`t_p - t`; :math:`t'` or :math:`1/t_p - t'`) so that roots close to either end keep
full relative precision. The scalar root-find is Brent's method (bisection-safeguarded
secant / inverse quadratic interpolation) on a sign-changing bracket.

Sphere support inside the polar cone. For :math:`g \in K^\circ`,
:math:`\sup_{x\in K, \|x\|=1}\langle g, x\rangle = -\operatorname{dist}(g, \partial K^\circ)`.
The nearest boundary point solves the same stationarity conditions with a multiplier of
the opposite sign, :math:`v = (I + \tau M)^{-1} g`, :math:`\tau \ge 0`, on
:math:`(0, \tau_1)` where :math:`-1/\tau_1` is the most negative eigenvalue of M (a
pole of an offset-free coordinate, :math:`\tau_1 = 1/\rho_j`, or a root
:math:`\tau_s` of :math:`1 + \tau\sum_i b_i^2/(1 - \tau\rho_i) = 0`); on that interval
:math:`f(\tau) = v^T M v` decreases from :math:`f(0) > 0`. The coordinate k with the
largest :math:`\rho` among those carrying an offset has a removable singularity at
:math:`\tau = 1/\rho_k < \tau_s`; it is eliminated through
:math:`s = (b_k g_k + c_k B')/(c_k(1 + \tau B_b') + \tau b_k^2)`, :math:`c_i = 1 - \tau\rho_i`
(primes: sums over :math:`i \ne k`). When g has no component along the eigenvector of
the pole and :math:`f(\tau_1) \ge 0`, the nearest point is the limit at :math:`\tau_1`
plus a component along that eigenvector: :math:`\operatorname{dist}^2 =
\|v(\tau_1) - g\|^2 + \tau_1 f(\tau_1)`.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .parallel import configure_threading_layer

configure_threading_layer()  # before any parallel kernel compiles: fork-safe layer

__all__ = ["point_cloud_support", "ellipsoid_support", "polar_batch", "polar_weights"]

#: entries of one block of inner products in ``point_cloud_support`` (2**22 doubles = 32 MB)
_BLOCK_ENTRIES = 2 ** 22


# ----------------------------------------------------------------------------- point clouds

def point_cloud_support(G, X, block=None):
    r"""Support function of a finite point set, :math:`h(g_i) = \max_j \langle g_i, x_j\rangle`.

    Computed block by block: a block of rows of G times a block of points by BLAS (the
    points are passed transposed, without a copy), then a running maximum, so the extra
    memory is one block of inner products (at most ``_BLOCK_ENTRIES`` doubles), never the
    full m x n matrix. Measured on 2 cores this runs within a few percent of the bare
    matrix product ``G @ X.T`` (benchmarks/RESULTS.md).

    Parameters
    ----------
    G : ndarray of shape (m, D), float64
    X : ndarray of shape (n, D), float64, n >= 1
    block : int, optional
        Rows of G per block (default: as many as fit in ``_BLOCK_ENTRIES`` with all points).

    Returns
    -------
    ndarray of shape (m,)

    Examples
    --------
    >>> import numpy as np
    >>> from geometry._kernels import point_cloud_support
    >>> point_cloud_support(np.eye(2), np.array([[1.0, 2.0], [3.0, -1.0]]))
    array([3., 2.])
    """
    G = np.ascontiguousarray(G, dtype=np.float64)
    X = np.ascontiguousarray(X, dtype=np.float64)
    m, n = G.shape[0], X.shape[0]
    rows = max(1, min(m, _BLOCK_ENTRIES // n)) if block is None else max(1, int(block))
    cols = max(1, _BLOCK_ENTRIES // rows)
    out = np.full(m, -np.inf)
    for r0 in range(0, m, rows):
        Gb = G[r0:r0 + rows]
        best = out[r0:r0 + rows]
        for c0 in range(0, n, cols):
            np.maximum(best, (Gb @ X[c0:c0 + cols].T).max(axis=1), out=best)
    return out


@njit(cache=True, parallel=True, error_model="numpy")
def ellipsoid_support(C, radii):
    r"""Support part :math:`\|\operatorname{diag}(r) c_i\|` of an ellipsoid, for each row of C.

    C holds the coordinates of the directions along the axes (``G`` or ``G @ U``); the
    result is ``inf`` for a row with a non-zero coordinate along an infinite radius. About
    5-15 times faster than the numpy expression (no temporaries) on 2 cores.

    Parameters
    ----------
    C : ndarray of shape (m, k), float64
    radii : ndarray of shape (k,), float64, >= 0, may contain inf

    Returns
    -------
    ndarray of shape (m,)
    """
    m, k = C.shape
    out = np.empty(m)
    for i in prange(m):
        acc = 0.0
        hit = False
        for j in range(k):
            r = radii[j]
            if r == np.inf:
                if C[i, j] != 0.0:
                    hit = True
            else:
                y = C[i, j] * r
                acc += y * y
        out[i] = np.inf if hit else np.sqrt(acc)
    return out


# ----------------------------------------------------------------------------- Brent's method

_EPS = np.finfo(np.float64).eps
_RTOL = 4.0 * _EPS
_XTOL = 1e-300
_MAXITER = 200
#: Brent's bisection steps are geometric while the bracket spans more than this factor
_GEOMETRIC_RATIO = 4.0


@njit(cache=True, error_model="numpy")
def _evaluate(kind, mode, x, g, h, rho, b, wp, tp, itp, beta, bzpos, k, c1, tau1, scale):
    if kind == 1:
        return _branch1(mode, x, g, h, rho, b, wp, tp, beta)
    if kind == 2:
        return _branch2(mode, x, g, h, rho, b, wp, tp, itp, beta, bzpos)
    return _interior(mode, x, g, h, rho, b, k, c1, tau1, scale)


@njit(cache=True, error_model="numpy")
def _brent(kind, mode, xa, xb, fa, fb, g, h, rho, b, wp, tp, itp, beta, bzpos, k, c1, tau1, scale):
    """Root of the function ``_evaluate(kind, mode, .)`` in [xa, xb], f(xa) f(xb) <= 0, and the
    number of evaluations made.

    Brent's method as in scipy's ``brentq``: inverse quadratic interpolation or secant
    steps, replaced by bisection whenever they would not shrink the bracket fast enough.
    The bisection is geometric (the bracket's geometric mean) while both ends are positive
    and more than a factor ``_GEOMETRIC_RATIO`` apart: the roots met here range over many
    orders of magnitude, and halving the bracket in log scale finds their scale in a few
    steps (about a quarter fewer evaluations than arithmetic bisection).
    """
    xpre, xcur, fpre, fcur = xa, xb, fa, fb
    if fpre == 0.0:
        return xpre, 0
    if fcur == 0.0:
        return xcur, 0
    xblk, fblk, spre, scur = 0.0, 0.0, 0.0, 0.0
    evals = 0
    for _ in range(_MAXITER):
        if fpre != 0.0 and fcur != 0.0 and (fpre < 0.0) != (fcur < 0.0):
            xblk, fblk = xpre, fpre
            spre = scur = xcur - xpre
        if abs(fblk) < abs(fcur):
            xpre, xcur, xblk = xcur, xblk, xcur
            fpre, fcur, fblk = fcur, fblk, fcur
        delta = 0.5 * (_XTOL + _RTOL * abs(xcur))
        sbis = 0.5 * (xblk - xcur)
        if fcur == 0.0 or abs(sbis) < delta:
            return xcur, evals
        lo = min(xcur, xblk)
        hi = max(xcur, xblk)
        sfall = np.sqrt(lo * hi) - xcur if lo > 0.0 and hi > _GEOMETRIC_RATIO * lo else sbis
        if abs(spre) > delta and abs(fcur) < abs(fpre):
            if xpre == xblk:
                stry = -fcur * (xcur - xpre) / (fcur - fpre)
            else:
                dpre = (fpre - fcur) / (xpre - xcur)
                dblk = (fblk - fcur) / (xblk - xcur)
                stry = -fcur * (fblk * dblk - fpre * dpre) / (dblk * dpre * (fblk - fpre))
            if 2.0 * abs(stry) < min(abs(spre), 3.0 * abs(sbis) - delta):
                spre, scur = scur, stry
            else:
                spre, scur = sfall, sfall
        else:
            spre, scur = sfall, sfall
        xpre, fpre = xcur, fcur
        if abs(scur) > delta:
            xcur += scur
        else:
            xcur += delta if sbis > 0 else -delta
        fcur = _evaluate(kind, mode, xcur, g, h, rho, b, wp, tp, itp, beta, bzpos, k, c1, tau1, scale)
        evals += 1
    return xcur, evals


# ----------------------------------------------------------------------------- projection onto K°

@njit(cache=True, error_model="numpy")
def _from_ends(mode, x, end):
    """(y, end - y) for a variable y in (0, end) given by its distance x to 0 (mode 0) or to end."""
    if mode == 0:
        return x, end - x
    return end - x, x


@njit(cache=True, error_model="numpy")
def _branch1_terms(mode, x, rho, b, g, wp, tp, beta):
    """t, t_p - t, S = sum b^2 w w_p, B = sum b g w on the branch t in (0, t_p).

    Near the pole (mode 1) B = beta + (t_p - t) sum b g rho w w_p, with beta = B(t_p):
    B is then small and must not be the difference of two sums of order one.
    """
    t, d = _from_ends(mode, x, tp)
    S = 0.0
    B = 0.0
    for i in range(rho.shape[0]):
        w = 1.0 / (1.0 + t * rho[i])
        S += b[i] * b[i] * wp[i] * w
        if mode == 0:
            B += b[i] * g[i] * w
        else:
            B += b[i] * g[i] * rho[i] * w * wp[i]
    if mode != 0:
        B = beta + d * B
    return t, d, S, B


@njit(cache=True, error_model="numpy")
def _cone_gap(B, cg, cb, p, q, g, h, rho, b):
    r""":math:`B^2 - \sum_i \rho_i [(c_g g_i + c_b b_i)^2 + c_g^2 h_i] / (p + q\rho_i)^2`.

    The gap :math:`s^2 - \|\operatorname{diag}(r) v\|^2` of the cone equation, times a positive
    factor that removes the pole of s.
    """
    N = B * B
    for i in range(rho.shape[0]):
        r = rho[i]
        if r > 0.0:
            w = 1.0 / (p + q * r)
            y = cg * g[i] + cb * b[i]
            N -= r * w * w * (y * y + cg * cg * h[i])
    return N


@njit(cache=True, error_model="numpy")
def _branch1(mode, x, g, h, rho, b, wp, tp, beta):
    """D(t)^2 f(t) on the branch t < t_p, v_i = w_i (D g_i + t B b_i) / D (no pole; same sign as f)."""
    t, d, S, B = _branch1_terms(mode, x, rho, b, g, wp, tp, beta)
    D = d * S
    return _cone_gap(B, D, t * B, 1.0, t, g, h, rho, b)


@njit(cache=True, error_model="numpy")
def _branch2_terms(mode, x, rho, b, g, wp, tp, itp, beta, bzpos):
    """t' = 1/t, 1/t_p - t', and B, S scaled by a common positive factor on the branch t > t_p.

    The factor is 1 when some zero radius carries an offset (bzpos), t = 1/t' otherwise.
    Near the pole (mode 1) B is computed as beta - t_p (1/t_p - t') sum b g rho w_p / (t' + rho),
    times that factor (beta = B(t_p)), to keep its relative precision.
    """
    tq, d = _from_ends(mode, x, itp)
    S = 0.0
    B = 0.0
    for i in range(rho.shape[0]):
        r = rho[i]
        if r > 0.0:
            om = tq / (tq + r) if bzpos else 1.0 / (tq + r)
            if mode != 0:
                B += b[i] * g[i] * r * wp[i] / (tq + r)
        else:
            om = 1.0 if bzpos else 0.0
        S += b[i] * b[i] * wp[i] * om
        if mode == 0:
            B += b[i] * g[i] * om
    if mode != 0:
        B = beta - tp * d * B
        if not bzpos:
            B /= tq
    return tq, d, S, B


@njit(cache=True, error_model="numpy")
def _branch2(mode, x, g, h, rho, b, wp, tp, itp, beta, bzpos):
    """(t_p (1/t_p - t') S)^2 t^2 f(t) on the branch t > t_p, in t' = 1/t (no pole)."""
    tq, d, S, B = _branch2_terms(mode, x, rho, b, g, wp, tp, itp, beta, bzpos)
    E = tp * d * S
    return _cone_gap(B, E, -B, tq, 1.0, g, h, rho, b)


@njit(cache=True, error_model="numpy")
def _pole_solution(g, h, rho, b, wp, tp):
    """s at t = t_p when <u, g> = 0: the positive root of the cone equation, a quadratic in s."""
    a2 = 0.0
    a1 = 0.0
    a0 = 0.0
    for i in range(rho.shape[0]):
        a2 += b[i] * b[i] * wp[i] * wp[i]
        r = rho[i]
        if r > 0.0:
            q = r * wp[i] * wp[i]
            a1 += q * g[i] * b[i]
            a0 += q * (g[i] * g[i] + h[i])
    a2 *= tp
    a1 *= tp
    root = np.sqrt(a1 * a1 + a2 * a0)
    if a1 >= 0.0:
        s = (a1 + root) / a2
    else:
        s = a0 / (root - a1) if root - a1 > 0.0 else 0.0
    return s


@njit(cache=True, error_model="numpy")
def _project_one(g, h, rho, b, wp, tp, itp, bzpos):
    """Projection of one grouped sample onto K°.

    Returns (code, form, x, mu, evals) with v_i = w_i (g_i + mu b_i) (offset-free parts scaled
    by w_i), w_i = 1/(1 + x rho_i) for form 0 and x/(x + rho_i) (x = 1/t) for form 1.
    code: 0 g in K°, 1 branch t < t_p, 2 branch t > t_p, 3 pole, 4 limit t -> inf;
    evals: the number of evaluations of the secular function (passes over the groups).
    """
    n = rho.shape[0]
    P = 0.0
    R2 = 0.0
    beta = 0.0
    for i in range(n):
        P += b[i] * g[i]
        R2 += rho[i] * (g[i] * g[i] + h[i])
        beta += b[i] * g[i] * wp[i]
    f0 = P * P - R2
    # run-time integers and flags (literal constants would make numba compile one
    # specialization of every callee per constant)
    m0 = n * 0
    m1, m2, m3, m4, no = m0 + 1, m0 + 2, m0 + 3, m0 + 4, n < 0
    if P >= 0.0 and f0 >= 0.0:
        return m0, m0, 0.0, 0.0, m0
    dummy = np.empty(0)
    evals = m0
    if beta > 0.0 and f0 < 0.0:
        half = 0.5 * tp
        fmid = _branch1(m0, half, g, h, rho, b, wp, tp, beta)
        if fmid > 0.0:
            f_lo = _branch1(m0, 0.0, g, h, rho, b, wp, tp, beta)
            mode = m0
            x, it = _brent(m1, m0, 0.0, half, f_lo, fmid, g, h, rho, b, wp, tp, itp, beta, bzpos, -m1, dummy, 0.0, no)
        else:
            f_pole = _branch1(m1, 0.0, g, h, rho, b, wp, tp, beta)
            mode = m1
            x, it = _brent(m1, m1, 0.0, half, f_pole, fmid, g, h, rho, b, wp, tp, itp, beta, bzpos, -m1, dummy, 0.0, no)
        evals += 2 + it
        t, d, S, B = _branch1_terms(mode, x, rho, b, g, wp, tp, beta)
        D = d * S
        if D > 0.0:
            return m1, m0, t, t * B / D, evals
    elif beta < 0.0:
        f_inf = _branch2(m0, 0.0, g, h, rho, b, wp, tp, itp, beta, bzpos)
        evals += 1
        if f_inf >= 0.0:
            tq, d, S, B = _branch2_terms(m0, 0.0, rho, b, g, wp, tp, itp, beta, bzpos)
            return m4, m1, 0.0, -B / (tp * d * S), evals
        half = 0.5 * itp
        fmid = _branch2(m0, half, g, h, rho, b, wp, tp, itp, beta, bzpos)
        if fmid > 0.0:
            mode = m0
            x, it = _brent(m2, m0, 0.0, half, f_inf, fmid, g, h, rho, b, wp, tp, itp, beta, bzpos, -m1, dummy, 0.0, no)
            evals += 1 + it
        else:
            f_pole = _branch2(m1, 0.0, g, h, rho, b, wp, tp, itp, beta, bzpos)
            mode = m1
            x, it = _brent(m2, m1, 0.0, half, f_pole, fmid, g, h, rho, b, wp, tp, itp, beta, bzpos, -m1, dummy, 0.0, no)
            evals += 2 + it
        tq, d, S, B = _branch2_terms(mode, x, rho, b, g, wp, tp, itp, beta, bzpos)
        E = tp * d * S
        if E > 0.0 and tq > 0.0:
            return m2, m1, tq, -B / E, evals
    s = _pole_solution(g, h, rho, b, wp, tp)
    return m3, m0, tp, tp * s, evals


@njit(cache=True, error_model="numpy")
def _weights(form, x, r):
    """(w, 1 - w) for one coordinate, without cancellation."""
    if form == 0:
        w = 1.0 / (1.0 + x * r)
        return w, x * r * w
    if r == 0.0:
        return 1.0, 0.0
    return x / (x + r), r / (x + r)


@njit(cache=True, error_model="numpy")
def _norms_one(g, h, rho, b, form, x, mu):
    """(||Pi_K g||^2, ||Pi_K° g||^2) over the groups, from a solution (form, x, mu)."""
    nK = 0.0
    nP = 0.0
    for i in range(rho.shape[0]):
        w, omw = _weights(form, x, rho[i])
        v = w * (g[i] + mu * b[i])
        y = omw * g[i] - w * mu * b[i]
        nP += v * v + w * w * h[i]
        nK += y * y + omw * omw * h[i]
    return nK, nP


def polar_weights(form, x, rho):
    """Weights (w, 1 - w) of the solutions (form, x) for coordinates rho, shape (m, n), in numpy.

    ``rho`` may contain ``inf`` (flat coordinates: w = 0).
    """
    form = np.asarray(form)[:, None]
    x = np.asarray(x, dtype=np.float64)[:, None]
    rho = np.asarray(rho, dtype=np.float64)[None, :]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        xr = x * rho
        w0, omw0 = 1.0 / (1.0 + xr), xr / (1.0 + xr)
        w1, omw1 = x / (x + rho), rho / (x + rho)
    w = np.where(form == 0, w0, w1)
    omw = np.where(form == 0, omw0, omw1)
    zero = rho == 0
    w = np.where(zero, 1.0, w)
    omw = np.where(zero, 0.0, omw)
    flat = np.isinf(rho)
    w = np.where(flat, 0.0, w)
    omw = np.where(flat, 1.0, omw)
    return w, omw


# ----------------------------------------------------------------------------- distance to the boundary of K° (inside)

@njit(cache=True, error_model="numpy")
def _interior_state(mode, x, g, rho, b, k, c1, tau1):
    """tau, s and the sums B', B_b' (|.| versions too) at a point of (0, tau1)."""
    if mode == 0:
        tau = x
    else:
        tau = tau1 - x
    Bp = 0.0
    Bbp = 0.0
    aBp = 0.0
    aBbp = 0.0
    for i in range(rho.shape[0]):
        if i == k or b[i] == 0.0:
            continue
        c = 1.0 - tau * rho[i] if mode == 0 else c1[i] + x * rho[i]
        Bp += b[i] * g[i] / c
        Bbp += b[i] * b[i] / c
        aBp += abs(b[i] * g[i] / c)
        aBbp += abs(b[i] * b[i] / c)
    if k >= 0:
        ck = 1.0 - tau * rho[k] if mode == 0 else c1[k] + x * rho[k]
        s = (b[k] * g[k] + ck * Bp) / (ck * (1.0 + tau * Bbp) + tau * b[k] * b[k])
    else:
        s = Bp / (1.0 + tau * Bbp)
    return tau, s, Bp, Bbp, aBp, aBbp


@njit(cache=True, error_model="numpy")
def _interior_vk(tau, s, ck, gk, bk, rk, Bp, Bbp, aBp, aBbp):
    """v_k - g_k for the eliminated coordinate, by the better conditioned of two formulas."""
    num_b = s * (1.0 + tau * Bbp) - Bp
    err_b = (abs(s) * (1.0 + tau * aBbp) + aBp) / abs(bk)
    if ck != 0.0:
        err_a = (abs(gk) + abs(tau * s * bk)) / abs(ck)
        if err_a <= err_b:
            return tau * (rk * gk - s * bk) / ck
    return (num_b - bk * gk) / bk


@njit(cache=True, error_model="numpy")
def _interior(mode, x, g, h, rho, b, k, c1, tau1, scale):
    r"""f(tau) = v^T M v at v = (I + tau M)^{-1} g (times (tau1 - tau)^2 when ``scale``)."""
    tau, s, Bp, Bbp, aBp, aBbp = _interior_state(mode, x, g, rho, b, k, c1, tau1)
    f = s * s
    for i in range(rho.shape[0]):
        r = rho[i]
        if r == 0.0:
            continue
        c = 1.0 - tau * r if mode == 0 else c1[i] + x * r
        if i == k:
            v = g[i] + _interior_vk(tau, s, c, g[i], b[i], r, Bp, Bbp, aBp, aBbp)
        elif c == 0.0:
            continue  # a pole carrying no mass (checked by the caller)
        else:
            v = (g[i] - tau * s * b[i]) / c
        f -= r * v * v
        if h[i] > 0.0:
            f -= r * h[i] / (c * c)
    if scale:
        f *= x * x
    return f


@njit(cache=True, error_model="numpy")
def _interior_dist2(mode, x, g, h, rho, b, k, c1, tau1):
    """||v - g||^2 at a point of (0, tau1]."""
    tau, s, Bp, Bbp, aBp, aBbp = _interior_state(mode, x, g, rho, b, k, c1, tau1)
    out = 0.0
    for i in range(rho.shape[0]):
        r = rho[i]
        c = 1.0 - tau * r if mode == 0 else c1[i] + x * r
        if i == k:
            dv = _interior_vk(tau, s, c, g[i], b[i], r, Bp, Bbp, aBp, aBbp)
        elif c == 0.0:
            continue
        else:
            dv = tau * (r * g[i] - s * b[i]) / c
        out += dv * dv
        if h[i] > 0.0:
            e = tau * r / c
            out += h[i] * e * e
    return out


@njit(cache=True, error_model="numpy")
def _interior_distance(g, h, rho, b, k, c1, tau1, pole_kind, halfspace, bnorm):
    r"""dist(g, boundary of K°) for g in K° (grouped coordinates, no flat directions)."""
    n = rho.shape[0]
    P = 0.0
    R2 = 0.0
    for i in range(n):
        P += b[i] * g[i]
        R2 += rho[i] * (g[i] * g[i] + h[i])
    if halfspace == 1:
        return max(P / bnorm, 0.0)
    if halfspace == 2:
        return max(g[k], 0.0)
    f0 = P * P - R2
    if f0 <= 0.0:
        return 0.0
    m0 = n * 0
    m1, m3, no, yes = m0 + 1, m0 + 3, n < 0, n >= 0
    # mass of g along the eigenvector of the pole tau1
    if pole_kind == 0:
        mass = 0.0
        rpole = 0.0
        for i in range(n):
            if c1[i] == 0.0:
                rpole = rho[i]
                mass += h[i]
                if b[i] == 0.0:
                    mass += g[i] * g[i]
        f_pole = -mass / rpole
    else:
        un = 0.0
        ug = 0.0
        for i in range(n):
            if b[i] != 0.0:
                u = b[i] / c1[i]
                un += u * u
                ug += u * g[i]
        mass = ug * ug / un
        f_pole = -tau1 * mass
    half = 0.5 * tau1
    fmid = _interior(m0, half, g, h, rho, b, k, c1, tau1, no)
    if fmid <= 0.0:
        x = _brent(m3, m0, 0.0, half, f0, fmid, g, h, rho, b, b, 0.0, 0.0, 0.0, no, k, c1, tau1, no)[0]
        return np.sqrt(_interior_dist2(m0, x, g, h, rho, b, k, c1, tau1))
    if mass > 0.0:
        x = _brent(m3, m1, 0.0, half, f_pole, fmid * half * half, g, h, rho, b, b, 0.0, 0.0, 0.0, no,
                   k, c1, tau1, yes)[0]
        x = max(x, 1e-300)
        return np.sqrt(_interior_dist2(m1, x, g, h, rho, b, k, c1, tau1))
    # no mass on the pole's eigenvector: f stays finite up to tau1
    x_end = 0.0 if pole_kind == 0 else 1e-7 * tau1
    f_end = _interior(m1, x_end, g, h, rho, b, k, c1, tau1, no)
    if f_end >= 0.0:
        return np.sqrt(_interior_dist2(m1, x_end, g, h, rho, b, k, c1, tau1) + tau1 * f_end)
    x = _brent(m3, m1, x_end, half, f_end, fmid, g, h, rho, b, b, 0.0, 0.0, 0.0, no, k, c1, tau1, no)[0]
    return np.sqrt(_interior_dist2(m1, x, g, h, rho, b, k, c1, tau1))


@njit(cache=True, parallel=True, error_model="numpy")
def polar_batch(Gp, H, flat2, rho, b, wp, tp, bzpos, want_support, has_flat,
                k, c1, tau1, pole_kind, halfspace, bnorm):
    r"""Per-sample projection onto :math:`K^\circ` and, optionally, the sphere support function.

    Parameters
    ----------
    Gp : (n, n_groups)
        Offset-coordinate Gaussians of the groups.
    H : (n, n_groups) or (1, n_groups)
        Offset-free squared norms of the groups; one row shared by every sample (zeros,
        when no group has multiplicity above one) saves drawing and storing n rows.
    flat2 : (n,)
        Squared norm of g along the flat directions (r = inf).
    rho, b, wp, tp, bzpos
        Groups and the constants of the pole :math:`t_p` (see the module docstring).
    want_support : bool
        Also compute the sphere support function (column 5; NaN otherwise).
    has_flat, k, c1, tau1, pole_kind, halfspace, bnorm
        Constants of the distance to the boundary of :math:`K^\circ` from inside.

    Returns
    -------
    out : (n, 7)
        Columns: form, x, mu (the solution: :math:`v_i = w_i(g_i + \mu b_i)` with
        :math:`w_i = 1/(1 + x\rho_i)` for form 0 and :math:`x/(x + \rho_i)` for form 1),
        :math:`\|\Pi_K g\|^2` (flat part included), :math:`\|\Pi_{K^\circ} g\|^2`, and
        :math:`\sup_{x\in K,\|x\|=1}\langle g, x\rangle`: :math:`\|\Pi_K g\|` when g is not in
        :math:`K^\circ`, else :math:`-\operatorname{dist}(g, \partial K^\circ)` (0 when K has flat
        directions), and the number of evaluations of the secular function spent on the
        projection (each one or two passes over the groups; a cost diagnostic).
    """
    n = Gp.shape[0]
    out = np.empty((n, 7))
    itp = 1.0 / tp
    shared = H.shape[0] != n
    for j in prange(n):
        h = H[0] if shared else H[j]
        code, f, x, mu, evals = _project_one(Gp[j], h, rho, b, wp, tp, itp, bzpos)
        nK, nP = _norms_one(Gp[j], h, rho, b, f, x, mu)
        nK += flat2[j]
        out[j, 0] = f
        out[j, 1] = x
        out[j, 2] = mu
        out[j, 3] = nK
        out[j, 4] = nP
        out[j, 6] = evals
        if not want_support:
            out[j, 5] = np.nan
        elif code == 0 and flat2[j] == 0.0:
            if has_flat:
                out[j, 5] = 0.0
            else:
                out[j, 5] = 0.0 - _interior_distance(Gp[j], h, rho, b, k, c1, tau1, pole_kind,
                                                     halfspace, bnorm)
        else:
            out[j, 5] = np.sqrt(nK)
    return out
