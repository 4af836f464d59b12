r"""A reference for any convex set or cone given by cvxpy constraints (slow, exact up to the solver).

Every fast kernel of the toolkit is checked against these second-order cone programs,
solved by Clarabel through cvxpy. Importing this module imports cvxpy (a second or two);
:mod:`geometry` does not import it by default.

* :class:`CvxpySet`: :math:`h_T(g) = \max\{\langle g, x\rangle : x \in T\}`, one conic
  program per direction.
* :class:`CvxpyCone`: :math:`\Pi_K(g) = \arg\min\{\|x - g\|^2 : x \in K\}`; the polar
  projection follows from Moreau's decomposition.
* :func:`ellipsoid_reference`, :func:`ellipsoidal_cone_reference`: the two sets of the
  quadratic-well model written as constraints.
* :func:`polish_polar_projection`: Clarabel is only accurate to about 1e-5 relative
  (theory notes, section 4). This refines a projection onto an ellipsoidal polar cone
  by Newton's method on its KKT system, written independently of the kernels'
  root-find, so that comparisons can be made at 1e-6 and below.

Examples
--------
>>> import numpy as np
>>> from geometry.convex import ellipsoid_reference
>>> E = ellipsoid_reference([2.0, 1.0])
>>> round(float(E.support(np.array([1.0, 0.0]))), 5)
2.0
"""
from __future__ import annotations

import cvxpy as cp
import numpy as np

from .validation import as_float_array, check_int, check_orthonormal
from .cones import ConvexCone
from .sets import Set

__all__ = [
    "CvxpySet",
    "CvxpyCone",
    "ellipsoid_reference",
    "ellipsoidal_cone_reference",
    "polish_polar_projection",
]

_SOLVER = "CLARABEL"


def _check_constraints_fn(constraints_fn):
    if not callable(constraints_fn):
        raise TypeError(f"constraints_fn must be callable (x -> list of cvxpy constraints), got {constraints_fn!r}")
    return constraints_fn


class _Conic:
    """Shared part of the references: constraints, and one parametrized problem re-solved per row."""

    def __init__(self, dim, constraints_fn, solver=_SOLVER):
        self.dim = check_int(dim, "dim", minimum=1)
        self.constraints_fn = _check_constraints_fn(constraints_fn)
        self.solver = solver
        self._problem = None

    def _solve_rows(self, G, objective, accept):
        """For each row g: solve with parameter value g; ``accept(problem, x, i)`` reads the answer."""
        if self._problem is None:
            x, g = cp.Variable(self.dim), cp.Parameter(self.dim)
            self._problem = cp.Problem(objective(x, g), list(self.constraints_fn(x))), g, x
        prob, g, x = self._problem
        out = []
        for i, row in enumerate(G):
            g.value = row
            prob.solve(solver=self.solver)
            out.append(accept(prob, x, i))
        return np.array(out)

    def _failed(self, prob, i):
        return RuntimeError(f"solver {self.solver} failed on row {i}: status {prob.status}")


class CvxpySet(_Conic, Set):
    r"""A convex set :math:`T = \{x : \text{constraints}(x)\}` known through a conic solver.

    Parameters
    ----------
    dim : int
    constraints_fn : callable
        ``constraints_fn(x)`` returns a list of cvxpy constraints on the cvxpy Variable x
        (it may create auxiliary variables).
    solver : str
        A cvxpy solver name (default Clarabel).

    Examples
    --------
    >>> import cvxpy as cp, numpy as np
    >>> from geometry.convex import CvxpySet
    >>> T = CvxpySet(3, lambda x: [cp.norm(x, 1) <= 1])
    >>> round(float(T.support(np.array([1.0, -3.0, 2.0]))), 5)
    3.0
    """

    def _support(self, G):
        def accept(prob, x, i):
            if prob.status in (cp.UNBOUNDED, cp.UNBOUNDED_INACCURATE):
                return np.inf
            if prob.status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
                return prob.value
            raise self._failed(prob, i)

        return self._solve_rows(G, lambda x, g: cp.Maximize(g @ x), accept)

    def __repr__(self):
        return f"CvxpySet(dim={self.dim})"


class CvxpyCone(_Conic, ConvexCone):
    r"""A closed convex cone :math:`K = \{x : \text{constraints}(x)\}`, projected by a conic solver.

    :math:`\Pi_K(g) = \arg\min_{x\in K}\|x - g\|^2`, one second-order cone program per row;
    ``project_polar`` is :math:`g - \Pi_K(g)` (Moreau). The sphere support function
    inside the polar cone (a non-convex problem) is not available.

    Parameters
    ----------
    dim : int
    constraints_fn : callable
        ``constraints_fn(x)`` returns a list of cvxpy constraints describing a cone.
    solver : str

    Examples
    --------
    >>> import cvxpy as cp, numpy as np
    >>> from geometry.convex import CvxpyCone
    >>> K = CvxpyCone(2, lambda x: [x >= 0])
    >>> np.round(K.project(np.array([1.0, -2.0])), 5) + 0.0
    array([1., 0.])
    """

    def _project(self, G):
        def accept(prob, x, i):
            if prob.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
                raise self._failed(prob, i)
            return x.value

        return self._solve_rows(G, lambda x, g: cp.Minimize(cp.sum_squares(x - g)), accept)

    def __repr__(self):
        return f"CvxpyCone(dim={self.dim})"


def _ellipsoid_parts(radii, axes):
    radii = as_float_array(radii, "radii", ndim=1, allow_inf=True, nonnegative=True)
    k = radii.shape[0]
    if axes is None:
        U = np.eye(k)
    else:
        U = check_orthonormal(axes, "axes")
        if U.shape[1] != k:
            raise ValueError(f"axes must have one column per radius: radii has {k} entries, axes has shape {U.shape}")
    return radii, U


def _ellipsoid_constraints(z, scale, radii):
    """||diag(1/r) z|| <= scale on finite positive radii, z_i = 0 on zero radii (inf: free)."""
    fin = np.flatnonzero(np.isfinite(radii) & (radii > 0))
    zero = np.flatnonzero(radii == 0)
    cons = []
    if fin.size:
        cons.append(cp.norm(cp.multiply(1.0 / radii[fin], z[fin])) <= scale)
    if zero.size:
        cons.append(z[zero] == 0)
    return cons


def ellipsoid_reference(radii, center=None, axes=None):
    r"""The ellipsoid :math:`\{c + U z : \|\operatorname{diag}(1/r) z\| \le 1\}` as a :class:`CvxpySet`.

    Radii may be 0 (that coordinate of z is 0) or ``inf`` (free); with axes of shape
    (D, k), k < D, the set is flat in the complement of range(U).

    Parameters
    ----------
    radii : array_like of shape (k,)
    center : array_like of shape (D,), optional
    axes : array_like of shape (D, k), optional (identity)
    """
    radii, U = _ellipsoid_parts(radii, axes)
    D = U.shape[0]
    c = np.zeros(D) if center is None else as_float_array(center, "center", shape=(D,))

    def constraints(x):
        z = cp.Variable(radii.shape[0])
        return [x == c + U @ z] + _ellipsoid_constraints(z, 1.0, radii)

    return CvxpySet(D, constraints)


def ellipsoidal_cone_reference(radii, offset, axes=None):
    r"""The cone :math:`\operatorname{cone}(E - o)` as a :class:`CvxpyCone` (offset :math:`a = c - o`).

    Written as the perspective of the ellipsoid: :math:`x = \lambda a + U z`,
    :math:`\lambda \ge 0`, :math:`\|\operatorname{diag}(1/r) z\| \le \lambda` (zero radii:
    :math:`z_i = 0`; infinite radii: :math:`z_i` free), which is closed when o is not in E.
    This is the primal description; the kernels work with the polar cone, so the two
    are independent.
    """
    radii, U = _ellipsoid_parts(radii, axes)
    D = U.shape[0]
    a = as_float_array(offset, "offset", shape=(D,))

    def constraints(x):
        z = cp.Variable(radii.shape[0])
        lam = cp.Variable(nonneg=True)
        return [x == lam * a + U @ z] + _ellipsoid_constraints(z, lam, radii)

    return CvxpyCone(D, constraints)


def _complete_basis(U):
    """[U, U_perp]: an orthonormal basis of R^D extending the columns of U."""
    D, k = U.shape
    if k == D:
        return U
    Q, _ = np.linalg.qr(np.column_stack([U, np.eye(D)]))
    perp = Q[:, k:D]
    perp -= U @ (U.T @ perp)
    perp, _ = np.linalg.qr(perp)
    return np.column_stack([U, perp])


def polish_polar_projection(g, v, radii, offset, axes=None, *, max_iter=50):
    r"""Refine an approximate projection v of g onto the ellipsoidal polar cone by Newton's method.

    The polar cone of :func:`ellipsoidal_cone_reference` is
    :math:`K^\circ = \{v : \|\operatorname{diag}(r) U^T v\| \le \langle -a, v\rangle\}`. In the
    eigenbasis :math:`V = [U, U_\perp]` (radius 0 on :math:`U_\perp`), with
    :math:`b = -V^T a`, a boundary projection satisfies
    :math:`v_i = (g_i + \mu b_i)/(1 + t r_i^2)` (:math:`v_i = 0` for infinite radii) with
    :math:`\langle b, v\rangle = \|\operatorname{diag}(r)v\| = \mu / t`. Newton's method is
    run on these two equations in :math:`(\log t, \mu)`, started from t read off v and
    from a logarithmic grid of t; interior cases (g without its flat part lies in the polar cone, or v lies in its
    lineality space) are returned exactly. Independent of :mod:`geometry._kernels`, which solves a scalar secular
    equation instead.

    Parameters
    ----------
    g, v : array_like of shape (D,)
        The point and an approximate projection of it (e.g. from cvxpy, accurate to ~1e-5).
    radii, offset, axes
        As in :func:`ellipsoidal_cone_reference`.

    Returns
    -------
    v : ndarray of shape (D,)
        The polished projection (the input when Newton's method does not improve the
        KKT residual).
    """
    radii, U = _ellipsoid_parts(radii, axes)
    D = U.shape[0]
    g = as_float_array(g, "g", shape=(D,))
    v = as_float_array(v, "v", shape=(D,))
    a = as_float_array(offset, "offset", shape=(D,))
    V = _complete_basis(U)
    k = radii.shape[0]
    r = np.concatenate([radii, np.zeros(D - k)])
    flat = np.isinf(r)
    rho = np.where(flat, 0.0, r * r)
    b = -(V.T @ a)
    ge, ve = V.T @ g, V.T @ v
    scale = max(np.linalg.norm(g), 1e-300)
    live = ~flat
    zero = live & (rho == 0)
    # g without its flat part in K° (which lies in the non-flat subspace): that is the projection
    gl = np.where(flat, 0.0, ge)
    if np.sqrt(rho @ gl ** 2) <= b @ gl:
        return V @ gl
    zero = live & (rho == 0)
    bz = np.where(zero, b, 0.0)
    lin = np.where(zero, ge, 0.0)
    if bz @ bz > 0:
        lin = lin - (bz @ lin) / (bz @ bz) * bz
    if not zero.any():
        # g in K = {x : A = sum q x b < 0, A^2 >= kappa sum q x^2} (kappa = sum q b^2 - 1, q = 1/r^2
        # on non-flat coordinates): the projection onto K° is 0
        pos = live & (rho > 0)
        q = 1.0 / rho[pos]
        A, kappa = q @ (ge[pos] * b[pos]), q @ b[pos] ** 2 - 1.0
        if A < 0 and A * A >= kappa * (q @ ge[pos] ** 2):
            return np.zeros(D)
    bscale = max(np.linalg.norm(b[live]), 1e-300) * scale

    def evaluate(lt, mu):
        t = np.exp(lt)
        den = 1.0 + t * rho
        ve_ = np.where(live, (ge + mu * b) / den, 0.0)
        s = mu / t
        Rv = np.sqrt(rho @ ve_ ** 2)
        F = np.array([b @ ve_ - s, Rv - s]) / bscale
        dl = np.where(live, -ve_ * t * rho / den, 0.0)
        dm = np.where(live, b / den, 0.0)
        dR = (rho * ve_) / max(Rv, 1e-300)
        J = np.array([[b @ dl + s, b @ dm - 1.0 / t], [dR @ dl + s, dR @ dm - 1.0 / t]]) / bscale
        return F, J, ve_, s

    def newton(lt):
        t = np.exp(lt)
        den = 1.0 + t * rho
        # mu from the consistency equation <b, v> = mu / t at this t (linear in mu)
        denom = 1.0 / t - np.sum(np.where(live, b * b / den, 0.0))
        mu = np.sum(np.where(live, b * ge / den, 0.0)) / denom if denom != 0 else 0.0
        F, J, ve_, s = evaluate(lt, mu)
        norm = np.abs(F).max()
        for _ in range(max_iter):
            if not np.isfinite(norm) or norm <= 1e-16:
                break
            try:
                step = np.linalg.solve(J, -F)
            except np.linalg.LinAlgError:
                break
            lam = 1.0
            while lam > 1e-6:
                F2_, J2_, ve2, s2 = evaluate(lt + lam * step[0], mu + lam * step[1])
                n2 = np.abs(F2_).max()
                if np.isfinite(n2) and n2 < norm:
                    break
                lam *= 0.5
            else:
                break
            lt, mu = lt + lam * step[0], mu + lam * step[1]
            F, J, ve_, s, norm = F2_, J2_, ve2, s2, n2
        return norm, ve_, s

    c = np.where(live, ge - ve, 0.0)
    s0 = b[live] @ ve[live]
    d = np.where(live, rho * ve - s0 * b, 0.0)
    t0 = (c @ d) / (d @ d) if d @ d > 0 else 1.0
    # t read off v is poor when g - v is tiny (Clarabel's error dominates): add a log grid
    starts = ([np.log(t0)] if t0 > 0 else []) + list(np.log(10.0) * np.arange(-16.0, 17.0))
    best, best_res = v.copy(), np.inf
    for lt in starts:
        with np.errstate(all="ignore"):  # far starting points overflow; they are discarded
            res, vn, s = newton(lt)
        if not (np.all(np.isfinite(vn)) and s > 0):
            continue
        if res < best_res and np.linalg.norm(V @ vn - v) <= 1e-3 * scale:
            best, best_res = V @ vn, res
        if best_res <= 1e-15:
            break
    if best_res <= 1e-12:
        return best
    # no boundary solution near v: v in the lineality space {v_flat = 0, rho v = 0, <b, v> = 0}
    # (g in K, up to that space); the projection is then the projection of g onto it
    cand = V @ lin
    if np.linalg.norm(cand - v) <= 1e-3 * scale:
        return cand
    return best
