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
full relative precision.

The root-find makes few passes over a sample (the cost: each pass reads the sample's
groups once). One pass gathers the sums of the secular function, its first and second
derivatives at once (:func:`_sums`): with :math:`Q = \Delta^2U + 2\Delta TV + T^2W` (the
squared ellipsoidal norm of the scaled solution, expanded in sums U, V, W over the
groups) the gap is :math:`\tilde f = B^2 - Q`, and the steps are Halley steps on
:math:`F = \sigma B - \sqrt Q`, which has the same root and sign and is far closer to
linear (:math:`\tilde f` grows like :math:`Q`, F like its square root). The first pass,
which decides the branch, also gives F and its slope at the branch's far end and F at
the pole, and the iteration starts at the root of a hyperbola through them. Steps that
leave the sign-changing bracket, or do not shrink, give way to (geometric) bisection; the
iteration stops when the gap is within its rounding noise, or when a step is below
1e-8 relative (taken without another pass: the next error is below rounding). On the
benchmark cone (1/i spectrum) this is about 3 evaluations, 5 passes per sample in all,
against about 16 evaluations of two passes each for the Brent's method used before; the
results agree with it to about 1e-13 relative (tests/test_kernels.py, stored instances).

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

__all__ = ["point_cloud_support", "ellipsoid_support", "polar_batch", "polar_constants", "polar_weights"]

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


# ----------------------------------------------------------------------------- Brent's method (distance to the boundary of K° from inside)

_EPS = np.finfo(np.float64).eps
_RTOL = 4.0 * _EPS
_XTOL = 1e-300
_MAXITER = 200
#: Brent's bisection steps are geometric while the bracket spans more than this factor
_GEOMETRIC_RATIO = 4.0


@njit(cache=True, error_model="numpy")
def _evaluate(kind, mode, x, g, h, rho, b, wp, tp, itp, beta, bzpos, k, c1, tau1, scale):
    # kind 3: the distance to the boundary of K° from inside (the projection has its own
    # derivative-based root-find, _solve)
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

#: a Halley/Newton step shorter than this, relative to the root, ends the iteration: the
#: next error would be below rounding (cubic / quadratic convergence), so the step is
#: taken without another pass, and S, B follow by their Taylor series to second order
#: (looser thresholds moved the outputs of near-pole samples by 1e-12)
_ACCEPT_STEP = 1e-8
_MAX_EVALS = 100


@njit(cache=True, error_model="numpy")
def _from_ends(mode, x, end):
    """(y, end - y) for a variable y in (0, end) given by its distance x to 0 (mode 0) or to end."""
    if mode == 0:
        return x, end - x
    return end - x, x


#: the sums of one pass may be reassociated (vectorised): each is a sum of many terms whose
#: order only moves its last bits, well below the root-find's tolerance
_SUMS_FLAGS = {"reassoc", "contract"}


@njit(cache=True, error_model="numpy", fastmath=_SUMS_FLAGS)
def _sums_t(u, g, h, rho, b, wp, acc):
    r"""Branch 1 (:math:`w_i = 1/(1 + t\rho_i)`): the 16 sums of :func:`_sums` at t = u, in one loop."""
    S = S1 = S2 = B = Bd = B1 = B2 = 0.0
    U = U1 = U2 = V = V1 = V2 = W = W1 = W2 = 0.0
    for i in range(rho.shape[0]):
        r = rho[i]
        bb = b[i] * b[i]
        bg = b[i] * g[i]
        q = g[i] * g[i] + h[i]
        bw = bb * wp[i]
        w = 1.0 / (1.0 + u * r)
        z = r * w
        om1 = -z * w
        om2 = -2.0 * z * om1
        k0 = z * w
        k1 = -2.0 * k0 * z
        k2 = -3.0 * k1 * z
        S += bw * w
        S1 += bw * om1
        S2 += bw * om2
        B += bg * w
        Bd += bg * z * wp[i]
        B1 += bg * om1
        B2 += bg * om2
        U += k0 * q
        U1 += k1 * q
        U2 += k2 * q
        V += k0 * bg
        V1 += k1 * bg
        V2 += k2 * bg
        W += k0 * bb
        W1 += k1 * bb
        W2 += k2 * bb
    _store(acc, S, S1, S2, B, Bd, B1, B2, U, U1, U2, V, V1, V2, W, W1, W2)


@njit(cache=True, error_model="numpy", fastmath=_SUMS_FLAGS)
def _sums_tq(u, g, h, rho, b, wp, bzpos, acc):
    r"""Branch 2 (:math:`w_i = 1/(t' + \rho_i)`, weights :math:`\omega_i = t'w_i` with ``bzpos``, else
    :math:`w_i`; U, V, W over :math:`\rho_i > 0`): the 16 sums of :func:`_sums` at t' = u."""
    S = S1 = S2 = B = Bd = B1 = B2 = 0.0
    U = U1 = U2 = V = V1 = V2 = W = W1 = W2 = 0.0
    sel = 1.0 if bzpos else 0.0
    for i in range(rho.shape[0]):
        r = rho[i]
        bb = b[i] * b[i]
        bg = b[i] * g[i]
        q = g[i] * g[i] + h[i]
        bw = bb * wp[i]
        den = u + r
        w = 1.0 / den if den > 0.0 else 0.0
        z = r * w
        ww = w * w
        # bzpos: omega = t' w = 1 - r w (1 also where rho = 0), omega' = r w^2, omega'' = -2 r w^3;
        # otherwise omega = w, -w^2, 2 w^3 (b = 0 where rho = 0, so nothing is added there)
        om = sel * (1.0 - z) + (1.0 - sel) * w
        om1 = sel * (z * w) - (1.0 - sel) * ww
        om2 = -2.0 * w * (sel * (z * w) - (1.0 - sel) * ww)
        k0 = z * w
        k1 = -2.0 * k0 * w
        k2 = -3.0 * k1 * w
        S += bw * om
        S1 += bw * om1
        S2 += bw * om2
        B += bg * om
        Bd += bg * z * wp[i]
        B1 += bg * om1
        B2 += bg * om2
        U += k0 * q
        U1 += k1 * q
        U2 += k2 * q
        V += k0 * bg
        V1 += k1 * bg
        V2 += k2 * bg
        W += k0 * bb
        W1 += k1 * bb
        W2 += k2 * bb
    _store(acc, S, S1, S2, B, Bd, B1, B2, U, U1, U2, V, V1, V2, W, W1, W2)


@njit(cache=True, error_model="numpy")
def _store(acc, S, S1, S2, B, Bd, B1, B2, U, U1, U2, V, V1, V2, W, W1, W2):
    acc[0] = S
    acc[1] = S1
    acc[2] = S2
    acc[3] = B
    acc[4] = Bd
    acc[5] = B1
    acc[6] = B2
    acc[7] = U
    acc[8] = U1
    acc[9] = U2
    acc[10] = V
    acc[11] = V1
    acc[12] = V2
    acc[13] = W
    acc[14] = W1
    acc[15] = W2


@njit(cache=True, error_model="numpy")
def _sums(branch, mode, x, g, h, rho, b, wp, tp, itp, beta, bzpos, out):
    r"""One pass over the groups: the sums of the secular function and their first two
    derivatives in the branch's variable u (t on branch 1, t' = 1/t on branch 2).

    ``out`` receives u, d (the distance to the pole), S, S', S'', B, B', B'', U, U', U'',
    V, V', V'', W, W', W'' with (branch 1, :math:`w_i = 1/(1 + t\rho_i)`)
    :math:`S = \sum b_i^2 w_{p,i} w_i`, :math:`B = \sum b_i g_i w_i`,
    :math:`U = \sum \rho_i w_i^2 (g_i^2 + h_i)`, :math:`V = \sum \rho_i w_i^2 b_i g_i`,
    :math:`W = \sum \rho_i w_i^2 b_i^2`; on branch 2 the weights of S and B are
    :math:`\omega_i = t' w_i` (``bzpos``) or :math:`w_i`, :math:`w_i = 1/(t' + \rho_i)`, and
    U, V, W run over :math:`\rho_i > 0`. Near the pole (mode 1) B is computed from
    :math:`\beta = B(t_p)` plus d times a sum, so that it keeps its relative precision.
    The loops (:func:`_sums_t`, :func:`_sums_tq`) are branch-free and vectorised.
    """
    acc = out[1:]
    if branch == 1:
        u, d = _from_ends(mode, x, tp)
        _sums_t(u, g, h, rho, b, wp, acc)
    else:
        u, d = _from_ends(mode, x, itp)
        _sums_tq(u, g, h, rho, b, wp, bzpos, acc)
    S, S1, S2, B, Bd, B1, B2 = acc[0], acc[1], acc[2], acc[3], acc[4], acc[5], acc[6]
    if mode != 0:
        if branch == 1:
            B = beta + d * Bd
        else:
            B = beta - tp * d * Bd
            if not bzpos:
                B /= u
    U, U1, U2, V, V1, V2, W, W1, W2 = acc[7], acc[8], acc[9], acc[10], acc[11], acc[12], acc[13], acc[14], acc[15]
    out[0] = u
    out[1] = d
    out[2] = S
    out[3] = S1
    out[4] = S2
    out[5] = B
    out[6] = B1
    out[7] = B2
    out[8] = U
    out[9] = U1
    out[10] = U2
    out[11] = V
    out[12] = V1
    out[13] = V2
    out[14] = W
    out[15] = W1
    out[16] = W2


@njit(cache=True, error_model="numpy")
def _gap(branch, mode, tp, s, res):
    r"""The secular function from the sums ``s`` of :func:`_sums`, with derivatives in the mode's variable.

    With :math:`(\Delta, T) = ((t_p - t)S,\ tB)` on branch 1 and :math:`(t_p(1/t_p - t')S,\ -B)`
    on branch 2, :math:`Q = \Delta^2 U + 2\Delta T V + T^2 W` (the squared ellipsoidal norm of
    the scaled solution) and the gap is :math:`\tilde f = B^2 - Q`, the pole-free form of
    :math:`s^2 - \|\operatorname{diag}(r)v\|^2`. Its root is also the root of
    :math:`F = \sigma B - \sqrt Q` (:math:`\sigma = \pm1` the sign of B at the root, + on
    branch 1, - on branch 2), much closer to linear, on which the Halley steps are taken.

    ``res`` receives f, f_x, F, F_x, F_xx, the rounding noise of f, and
    S, S_x, B, B_x, S_xx, B_xx (x the mode's variable).
    """
    u, d = s[0], s[1]
    S, S1, S2, B, B1, B2 = s[2], s[3], s[4], s[5], s[6], s[7]
    U, U1, U2, V, V1, V2, W, W1, W2 = s[8], s[9], s[10], s[11], s[12], s[13], s[14], s[15], s[16]
    if branch == 1:
        D = d * S
        D1 = -S + d * S1
        D2 = -2.0 * S1 + d * S2
        T = u * B
        T1 = B + u * B1
        T2 = 2.0 * B1 + u * B2
        sigma = 1.0
    else:
        D = tp * d * S
        D1 = tp * (-S + d * S1)
        D2 = tp * (-2.0 * S1 + d * S2)
        T = -B
        T1 = -B1
        T2 = -B2
        sigma = -1.0
    Q = D * D * U + 2.0 * D * T * V + T * T * W
    Qabs = D * D * U + 2.0 * abs(D * T * V) + T * T * W
    Q1 = (2.0 * D * D1 * U + D * D * U1 + 2.0 * (D1 * T * V + D * T1 * V + D * T * V1)
          + 2.0 * T * T1 * W + T * T * W1)
    Q2 = (2.0 * (D1 * D1 + D * D2) * U + 4.0 * D * D1 * U1 + D * D * U2
          + 2.0 * (D2 * T * V + D * T2 * V + D * T * V2 + 2.0 * (D1 * T1 * V + D1 * T * V1 + D * T1 * V1))
          + 2.0 * (T1 * T1 + T * T2) * W + 4.0 * T * T1 * W1 + T * T * W2)
    f = B * B - Q
    f1 = 2.0 * B * B1 - Q1
    if Q < 0.0:
        Q = 0.0
    sq = np.sqrt(Q)
    if sq > 0.0:
        F = sigma * B - sq
        F1 = sigma * B1 - 0.5 * Q1 / sq
        F2 = sigma * B2 - 0.5 * Q2 / sq + 0.25 * Q1 * Q1 / (Q * sq)
    else:
        F, F1, F2 = f, f1, 0.0
    sgn = 1.0 if mode == 0 else -1.0  # d/dx = sgn d/du
    res[0] = f
    res[1] = sgn * f1
    res[2] = F
    res[3] = sgn * F1
    res[4] = F2
    res[5] = 8.0 * _EPS * (B * B + Qabs)
    res[6] = S
    res[7] = sgn * S1
    res[8] = B
    res[9] = sgn * B1
    res[10] = S2
    res[11] = B2
    return sigma * B > 0.0 and sq > 0.0


@njit(cache=True, error_model="numpy")
def _end_guess(F0, m0, FL, L):
    r"""Root in (0, L) of the hyperbola :math:`F(u) = \alpha - \gamma/(u + \delta)` through
    F(0) = F0 < 0 (slope m0) and F(L) = FL > 0, or of the secant when the data are not
    concave (the secular functions met here are concave increasing in u)."""
    dl = FL - F0
    den = m0 * L - dl
    if den > 0.0 and dl > 0.0:
        delta = dl * L / den
        alpha = F0 + m0 * delta
        if alpha > 0.0:
            u = m0 * delta * delta / alpha - delta
            if 0.0 < u < L:
                return u
    return L * (-F0) / dl


@njit(cache=True, error_model="numpy")
def _solve(branch, mode, xa, xb, x, g, h, rho, b, wp, tp, itp, beta, bzpos, sums, res):
    r"""Root of the secular function of ``branch`` in the mode's variable x, from the guess x.

    The bracket [xa, xb] has f(xa) < 0 < f(xb). Each iteration is one pass over the groups
    (:func:`_sums`, value and derivatives fused): a Halley step on F (Newton on f where B
    has the wrong sign, next to the pole of near-degenerate samples), kept when it stays
    in the bracket and shorter than half the step before the last; otherwise a bisection,
    geometric (with a floor of 1e-300 times the upper end) while the bracket spans more
    than a factor 16, as roots met here range over many orders of magnitude. Stops when f
    is within its rounding noise, when the bracket is a few units of rounding wide, or when
    a step is below ``_ACCEPT_STEP`` relative (the step is then taken without another
    pass, and S, B moved to second order).

    Returns (x, S, B, passes).
    """
    passes = 0
    step1 = np.inf  # the last two steps: a step must be under half the one before the last
    step2 = np.inf
    for _ in range(_MAX_EVALS):
        _sums(branch, mode, x, g, h, rho, b, wp, tp, itp, beta, bzpos, sums)
        passes += 1
        use_F = _gap(branch, mode, tp, sums, res)
        f = res[0]
        S, B = res[6], res[8]
        if f == 0.0 or abs(f) <= res[5]:
            return x, S, B, passes
        if f < 0.0:
            xa = x
        else:
            xb = x
        lo = min(xa, xb)
        hi = max(xa, xb)
        width = hi - lo
        if width <= 4.0 * _EPS * hi:
            return x, S, B, passes
        if use_F:
            F, F1, F2 = res[2], res[3], res[4]
            den = 2.0 * F1 * F1 - F * F2
            step = -2.0 * F * F1 / den if den != 0.0 else -F / F1
            if not (lo < x + step < hi) and F1 != 0.0:
                step = -F / F1  # Halley can overshoot where Newton does not
        else:
            step = -f / res[1] if res[1] != 0.0 else np.inf
        xn = x + step
        if lo < xn < hi and abs(step) <= 0.5 * step2:
            if abs(step) <= _ACCEPT_STEP * abs(xn):
                half = 0.5 * step * step
                return xn, S + res[7] * step + res[10] * half, B + res[9] * step + res[11] * half, passes
        else:
            floor = max(lo, 1e-300 * hi)
            xn = np.sqrt(floor * hi) if hi > 16.0 * floor else 0.5 * (lo + hi)
            step = np.inf  # the next model step is judged afresh
        step2 = step1
        step1 = abs(step)
        x = xn
    return x, S, B, passes


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


@njit(cache=True, error_model="numpy", fastmath=_SUMS_FLAGS)
def _first_pass(g, h, rho, b, wp, out):
    """The first pass over a sample (branch-free, vectorised): P = <b, g>, R2, beta and the sums
    of the ends of both branches (see :func:`_project_one`)."""
    P = R2 = beta = A1 = A2 = Z0 = Y1 = Y2 = X1 = X2 = 0.0
    for i in range(rho.shape[0]):
        r = rho[i]
        bg = b[i] * g[i]
        q = g[i] * g[i] + h[i]
        P += bg
        R2 += r * q
        beta += bg * wp[i]
        A1 += r * bg
        A2 += r * r * q
        ir = 1.0 / r if r > 0.0 else 0.0
        Y1 += bg * ir
        Y2 += bg * ir * ir
        X1 += q * ir
        X2 += q * ir * ir
        Z0 += bg if r == 0.0 else 0.0
    out[0] = P
    out[1] = R2
    out[2] = beta
    out[3] = A1
    out[4] = A2
    out[5] = Z0
    out[6] = Y1
    out[7] = Y2
    out[8] = X1
    out[9] = X2


@njit(cache=True, error_model="numpy")
def _project_one(g, h, rho, b, wp, tp, itp, bzpos, consts, sums, res):
    r"""Projection of one grouped sample onto K°.

    Returns (code, form, x, mu, passes) with v_i = w_i (g_i + mu b_i) (offset-free parts
    scaled by w_i), w_i = 1/(1 + x rho_i) for form 0 and x/(x + rho_i) (x = 1/t) for form 1.
    code: 0 g in K°, 1 branch t < t_p, 2 branch t > t_p, 3 pole, 4 limit t -> inf;
    passes: the passes over the groups made (the first one, one per evaluation of the
    secular function, one more at the pole), not counting the final norms.

    The first pass gathers, besides P = <b, g>, R2 and beta, the sums that give the secular
    function and its slope at the branch's far end (t = 0, or t' = 0 on branch 2) and its
    value at the pole (cone constants ``consts``: C1 = sum b^2 w_p rho, W_p = sum rho w_p^2
    b^2, and for branch 2 at t' = 0 the sums S, S', W, W' of the cone); the root-find starts
    at the root of a hyperbola through those data.
    """
    n = rho.shape[0]
    first = res  # scratch: the first pass's ten sums
    _first_pass(g, h, rho, b, wp, first)
    P, R2, beta, A1, A2, Z0, Y1, Y2, X1, X2 = (first[0], first[1], first[2], first[3], first[4], first[5],
                                               first[6], first[7], first[8], first[9])
    f0 = P * P - R2
    # run-time integers and flags (literal constants would make numba compile one
    # specialization of every callee per constant)
    m0 = n * 0
    m1, m2, m3, m4 = m0 + 1, m0 + 2, m0 + 3, m0 + 4
    passes = m1
    if P >= 0.0 and f0 >= 0.0:
        return m0, m0, 0.0, 0.0, passes
    C1, Wp = consts[0], consts[1]
    pole_gap = 1.0 - tp * np.sqrt(Wp)  # F at the pole is |B(t_p)| times this (> 0)
    if beta > 0.0 and f0 < 0.0:
        # branch 1 on u = t in (0, t_p): F(0) = P - sqrt(R2) < 0, F(t_p) = beta pole_gap > 0
        sq = np.sqrt(R2)
        D1 = -itp - tp * C1
        Q1 = 2.0 * D1 * R2 - 2.0 * A2 + 2.0 * P * A1
        F0 = P - sq
        u0 = _end_guess(F0, -A1 - 0.5 * Q1 / sq, beta * pole_gap, tp)
        if u0 <= 0.5 * tp:
            x, S, B, it = _solve(m1, m0, 0.0, tp, u0, g, h, rho, b, wp, tp, itp, beta, bzpos, sums, res)
            mode = m0
        else:
            x, S, B, it = _solve(m1, m1, tp, 0.0, tp - u0, g, h, rho, b, wp, tp, itp, beta, bzpos, sums, res)
            mode = m1
        passes += it
        t, d = _from_ends(mode, x, tp)
        D = d * S
        if D > 0.0:
            return m1, m0, t, t * B / D, passes
    elif beta < 0.0:
        # branch 2 on u = t' = 1/t in (0, 1/t_p); its far end t' = 0 (t = inf) from the first pass
        Sinf, S1inf, Winf, W1inf = consts[2], consts[3], consts[4], consts[5]
        if bzpos:
            Binf, B1inf = Z0, Y1
        else:
            Binf, B1inf = Y1, -Y2
        Uinf, U1inf, Vinf, V1inf = X1, -2.0 * X2, Y1, -2.0 * Y2
        D = Sinf
        D1 = -tp * Sinf + S1inf
        T, T1 = -Binf, -B1inf
        Q = D * D * Uinf + 2.0 * D * T * Vinf + T * T * Winf
        f_inf = Binf * Binf - Q
        if f_inf >= 0.0 and D > 0.0:
            return m4, m1, 0.0, -Binf / D, passes
        Q1 = (2.0 * D * D1 * Uinf + D * D * U1inf + 2.0 * (D1 * T * Vinf + D * T1 * Vinf + D * T * V1inf)
              + 2.0 * T * T1 * Winf + T * T * W1inf)
        Qp = max(Q, 0.0)
        sq = np.sqrt(Qp)
        F0 = -Binf - sq
        FL = -(beta if bzpos else beta * tp) * pole_gap
        if F0 < 0.0 and sq > 0.0:
            u0 = _end_guess(F0, -B1inf - 0.5 * Q1 / sq, FL, itp)
        else:
            u0 = 0.5 * itp
        if u0 <= 0.5 * itp:
            x, S, B, it = _solve(m2, m0, 0.0, itp, u0, g, h, rho, b, wp, tp, itp, beta, bzpos, sums, res)
            mode = m0
        else:
            x, S, B, it = _solve(m2, m1, itp, 0.0, itp - u0, g, h, rho, b, wp, tp, itp, beta, bzpos, sums, res)
            mode = m1
        passes += it
        tq, d = _from_ends(mode, x, itp)
        E = tp * d * S
        if E > 0.0 and tq > 0.0:
            return m2, m1, tq, -B / E, passes
    s = _pole_solution(g, h, rho, b, wp, tp)
    return m3, m0, tp, tp * s, passes + 1


def polar_constants(rho, b, wp, tp, bzpos):
    """The cone constants of :func:`_project_one` (float64 array of 6), from the groups."""
    rho = np.asarray(rho, dtype=np.float64)
    b2 = np.asarray(b, dtype=np.float64) ** 2
    pos = rho > 0
    C1 = float(np.sum(b2 * wp * rho))
    Wp = float(np.sum(rho * wp * wp * b2))
    inv = np.zeros_like(rho)
    inv[pos] = 1.0 / rho[pos]
    if bzpos:
        Sinf = float(np.sum(b2[~pos] * wp[~pos]))
        S1inf = float(np.sum(b2 * wp * inv))
    else:
        Sinf = float(np.sum(b2 * wp * inv))
        S1inf = -float(np.sum(b2 * wp * inv * inv))
    Winf = float(np.sum(b2 * inv))
    W1inf = -2.0 * float(np.sum(b2 * inv * inv))
    return np.array([C1, Wp, Sinf, S1inf, Winf, W1inf])


@njit(cache=True, error_model="numpy", fastmath=_SUMS_FLAGS)
def _norms_one(g, h, rho, b, form, x, mu):
    """(||Pi_K g||^2, ||Pi_K° g||^2) over the groups, from a solution (form, x, mu).

    The weights (w, 1 - w) without cancellation (form 0: 1/(1 + x rho), x rho/(1 + x rho);
    form 1: x/(x + rho), rho/(x + rho), and (1, 0) where rho = 0), in a branch-free,
    vectorised loop per form.
    """
    nK = 0.0
    nP = 0.0
    if form == 0:
        for i in range(rho.shape[0]):
            xr = x * rho[i]
            w = 1.0 / (1.0 + xr)
            omw = xr * w
            v = w * (g[i] + mu * b[i])
            y = omw * g[i] - w * mu * b[i]
            nP += v * v + w * w * h[i]
            nK += y * y + omw * omw * h[i]
    else:
        for i in range(rho.shape[0]):
            r = rho[i]
            den = x + r
            zero = r == 0.0
            w = 1.0 if zero else x / den
            omw = 0.0 if zero else r / den
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
def polar_batch(Gp, H, flat2, rho, b, wp, tp, bzpos, consts, want_support, has_flat,
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
    consts : (6,)
        Cone constants of the root-find's starting point (:func:`polar_constants`).
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
        directions), and the number of passes over the sample's groups that the projection
        made: the first one, one per evaluation of the secular function (value and
        derivatives fused), one at the pole, and the final norms (a cost diagnostic; the
        sphere support's own root-find is not counted).
    """
    n = Gp.shape[0]
    out = np.empty((n, 7))
    itp = 1.0 / tp
    shared = H.shape[0] != n
    for j in prange(n):
        h = H[0] if shared else H[j]
        sums = np.empty(17)
        res = np.empty(12)
        code, f, x, mu, passes = _project_one(Gp[j], h, rho, b, wp, tp, itp, bzpos, consts, sums, res)
        nK, nP = _norms_one(Gp[j], h, rho, b, f, x, mu)
        nK += flat2[j]
        out[j, 0] = f
        out[j, 1] = x
        out[j, 2] = mu
        out[j, 3] = nK
        out[j, 4] = nP
        out[j, 6] = passes + 1
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
