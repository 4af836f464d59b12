r"""The ellipsoidal cone: the directions from a point into an ellipsoid that does not contain it.

For an ellipsoid :math:`E = \{c + U\operatorname{diag}(r)u : \|u\| \le 1\}` and an origin
:math:`o \notin E`, the cone :math:`K = \operatorname{cone}(E - o)` has support function
:math:`h(v) = \langle c - o, v\rangle + \|\operatorname{diag}(r) U^T v\|` on E - o, hence the
polar cone

.. math:: K^\circ = \{v : \|\operatorname{diag}(r)\, U^T v\| \le \langle o - c, v\rangle\}.

This is the cone of a quadratic well's sub-level set seen from the initialization (theory
notes, section 4); its statistical dimension predicts the threshold training dimension.
Projections and the sphere support function are computed per sample by a scalar root-find
in eigen-coordinates (:mod:`geometry._kernels`), O(number of distinct radii) per sample.
"""
from __future__ import annotations


import numpy as np

from .validation import as_float_array, check_orthonormal, check_positive, check_rng
from .cones import ConvexCone
from .sets import Ellipsoid

__all__ = ["EllipsoidalCone"]

#: the origin counts as inside the ellipsoid when sum_i b_i^2 / r_i^2 <= 1 + this
_INSIDE_RTOL = 1e-9
#: a component of the offset outside range(axes) below this (relative) is roundoff
_OFFSET_RTOL = 1e-12
#: entries drawn per chunk by the sampling hooks (samples x groups)...
_CHUNK_ENTRIES = 2 ** 20
#: ... but at least this many samples, so that every thread has work whatever the number
#: of groups (fixed: the random stream must not depend on the number of threads)
_MIN_CHUNK_SAMPLES = 16


class OriginInsideError(ValueError):
    """The origin lies in the ellipsoid: its directions are the whole sphere, not a cone."""


def _origin_inside_message(quotient):
    return (
        "the origin lies inside the ellipsoid or on its boundary (sum of squared offsets over "
        f"squared radii = {quotient:.6g} <= 1): every direction leads into it, so the set of "
        "directions is the whole sphere, not an ellipsoidal cone; use geometry.directions_from, "
        "which returns Sphere(dim) in that case"
    )


def _check_multiplicities(multiplicities, k):
    m = np.asarray(multiplicities)
    if m.ndim != 1 or m.shape[0] != k:
        raise ValueError(f"multiplicities must have shape ({k},) (one per radius), got {m.shape}")
    if m.dtype.kind not in "iu":
        if m.dtype.kind != "f" or not np.all(np.isfinite(m)) or np.any(m != np.round(m)):
            raise TypeError(f"multiplicities must be integers, got {multiplicities!r}")
    m = m.astype(np.int64)
    if np.any(m < 1):
        raise ValueError(f"multiplicities must be >= 1, got minimum {m.min()}")
    return m


def _solve_pole(rho, b):
    r"""t_p > 0 with :math:`\sum_i b_i^2 t/(1 + t\rho_i) = 1` (concave increasing in t)."""
    b2 = b * b

    def phi(t):
        return float(np.sum(b2 * (t / (1.0 + t * rho)))) - 1.0

    lo, hi = 0.0, 1.0 / float(b2.sum())
    while phi(hi) <= 0.0:
        lo, hi = hi, 2.0 * hi
    # Newton from the left is monotone for a concave increasing function; bisection guards it
    for _ in range(200):
        t = lo - phi(lo) / float(np.sum(b2 / (1.0 + lo * rho) ** 2))
        if not lo < t < hi:
            t = 0.5 * (lo + hi)
            if not lo < t < hi:
                break
        if phi(t) <= 0.0:
            lo = t
        else:
            hi = t
        if hi - lo <= 2.0 * np.finfo(float).eps * hi:
            break
    return lo if abs(phi(lo)) <= abs(phi(hi)) else hi


def _solve_negative_pole(rho, b, lo, hi):
    r"""Root of :math:`\psi(\tau) = 1 + \tau\sum_i b_i^2/(1 - \tau\rho_i)` in (lo, hi), increasing there."""
    def psi(t):
        return 1.0 + t * float(np.sum(b * b / (1.0 - t * rho)))

    if not np.isfinite(hi):
        hi = 2.0 * lo
        while psi(hi) <= 0.0:
            if hi > 1e300:
                return np.inf
            hi *= 2.0
    for _ in range(2000):
        mid = 0.5 * (lo + hi)
        if not lo < mid < hi:
            break
        if psi(mid) < 0.0:
            lo = mid
        else:
            hi = mid
    return hi


class _Secular:
    """Constants of the scalar root-finds that depend on the cone only (see geometry._kernels)."""

    def __init__(self, rho, b, mult):
        self.tp = _solve_pole(rho, b)
        self.wp = 1.0 / (1.0 + self.tp * rho)
        self.consts = None  # the projection kernel's cone constants, made on first use
        self.bzpos = bool(np.any((rho == 0) & (b != 0)))
        pos = rho > 0
        carrying = pos & (b != 0)
        self.k = int(np.flatnonzero(carrying)[np.argmax(rho[carrying])]) if carrying.any() else -1
        # most negative eigenvalue of M = b b^T - diag(rho): a pole of an offset-free
        # coordinate, or the root of the secular equation beyond 1/rho_k
        free = pos & ((b == 0) | (mult >= 2))
        tau_c = 1.0 / rho[free].max() if free.any() else np.inf
        tau_s = np.inf
        if self.k >= 0:
            others = carrying.copy()
            others[self.k] = False
            hi = 1.0 / rho[others].max() if others.any() else np.inf
            nz = b != 0
            tau_s = _solve_negative_pole(rho[nz], b[nz], 1.0 / rho[self.k], hi)
        self.tau1 = min(tau_c, tau_s)
        self.pole_kind = 0 if tau_c <= tau_s else 1
        if np.isfinite(self.tau1):
            self.c1 = 1.0 - self.tau1 * rho
            if self.pole_kind == 0:
                self.c1[free & (rho == rho[free].max())] = 0.0
            self.halfspace = 0
        else:
            # K° is a half-space of the non-flat coordinates: normal b (all rho = 0) or e_k
            self.c1 = np.ones_like(rho)
            self.halfspace = 1 if not pos.any() else 2
            self.tau1 = 0.0
        self.bnorm = float(np.linalg.norm(b))


class _Layout:
    """The eigen-coordinates of ambient vectors (columns of ``EllipsoidalCone._eigen``) and their groups."""

    def __init__(self, cone):
        unit_rho, unit_b, unit_group, flat_units = cone._units
        if cone.multiplicities is not None:
            mult = cone.multiplicities
            c_unit = np.repeat(np.arange(mult.size), mult)
            first = np.zeros(cone.dim, dtype=bool)
            first[np.concatenate([[0], np.cumsum(mult)[:-1]])] = True
            c_b = np.where(first, unit_b[c_unit], 0.0)
        else:
            c_unit = np.arange(unit_rho.size)
            c_b = unit_b
        self.rho = np.where(flat_units[c_unit], np.inf, unit_rho[c_unit])
        self.b = np.asarray(c_b, dtype=np.float64)
        self.flat = flat_units[c_unit]
        c_group = unit_group[c_unit]
        order = np.flatnonzero(c_group >= 0)
        self.order = order[np.argsort(c_group[order], kind="stable")]
        self.order_group = c_group[self.order]
        self.starts = np.flatnonzero(np.r_[True, np.diff(self.order_group) != 0])
        bg = cone._b[self.order_group]
        self.order_bhat = np.divide(self.b[self.order], bg, out=np.zeros_like(bg), where=bg > 0)
        self.z_group = int(unit_group[-1]) if cone._bc is not None else -1


class EllipsoidalCone(ConvexCone):
    r"""The cone of directions from an origin into an ellipsoid that does not contain it.

    :math:`K = \operatorname{cone}(E - o)` for :math:`E = \{c + U\operatorname{diag}(r)u :
    \|u\|\le 1\}`, given by the radii, the offset :math:`c - o` and the axes U. Its polar is

    .. math:: K^\circ = \{v : \|\operatorname{diag}(r)\, U^T v\| \le \langle o - c, v\rangle\}.

    As a :class:`~geometry.Set` it stands for the unit directions :math:`K \cap S^{D-1}`
    (the projection of E onto the unit sphere around o).

    Parameters
    ----------
    radii : array_like of shape (k,), >= 0, may contain ``inf``
        Semi-axes. ``inf`` is a flat direction (the cone contains that line), 0 a
        degenerate axis.
    offset : array_like
        :math:`c - o`, the centre of the ellipsoid seen from the origin: shape (D,), or
        shape (k,) with ``multiplicities`` (then ``offset[i]`` is the length of the offset's
        component in the i-th eigenspace; only its norm matters, by rotation invariance).
    axes : array_like of shape (D, k), optional
        Orthonormal columns U (default: the identity, D = k). With k < D the ellipsoid is
        flat (radius 0) in the orthogonal complement of range(U).
    multiplicities : array_like of int, shape (k,), optional
        Radius i is shared by an eigenspace of dimension ``multiplicities[i]``
        (D = sum of multiplicities; cannot be combined with ``axes``). The ambient
        coordinates are then blocks of that size, with the offset on the first coordinate
        of each block. Sampling costs O(k) per sample, independent of D.

    Raises
    ------
    ValueError
        When the origin lies in the ellipsoid (use :func:`geometry.directions_from`,
        which returns ``Sphere(D)`` then), or for bad shapes or values.

    Notes
    -----
    In the eigenbasis :math:`V = [U, U_\perp]` with :math:`b = V^T(o - c)` and
    :math:`\rho_i = r_i^2`, the Gaussian :math:`V^T g` is again standard (rotation
    invariance), so Monte Carlo can draw the eigen-coordinates directly: per group of equal
    :math:`\rho`, one N(0,1) along the group's offset and a :math:`\chi^2_{m-1}` for the
    squared norm of the rest, which the projection only rescales. The sampling hooks
    ``_sample_squared_projection_norms``, ``_sample_projection_pairs`` and
    ``_sample_sphere_support`` do exactly that; each sample costs one scalar root-find of
    O(number of groups) per step (see :mod:`geometry._kernels`).

    Examples
    --------
    >>> import numpy as np
    >>> from geometry import EllipsoidalCone
    >>> K = EllipsoidalCone([1.0, 1.0], [2.0, 0.0])  # unit disc at distance 2: half-angle 30 deg
    >>> K.project([0.0, 1.0]).round(6).tolist()  # onto the boundary ray at 30 degrees
    [0.433013, 0.25]
    >>> float(K.support([-1.0, 0.0]))  # g in the polar cone: -dist(g, boundary) = -cos(30 deg)
    -0.8660254037844386
    """

    def __init__(self, radii, offset, axes=None, multiplicities=None):
        radii = as_float_array(radii, "radii", ndim=1, allow_inf=True, nonnegative=True)
        k = radii.shape[0]
        self.radii = radii
        self.axes = None
        self.multiplicities = None
        if multiplicities is not None:
            if axes is not None:
                raise ValueError("multiplicities cannot be combined with axes: give one radius per "
                                 "eigenvector with axes, or grouped radii with multiplicities")
            mult = _check_multiplicities(multiplicities, k)
            self.multiplicities = mult
            self.offset = as_float_array(offset, "offset", shape=(k,))
            self.dim = int(mult.sum())
            unit_b = -self.offset
            unit_m = mult
        elif axes is not None:
            U = check_orthonormal(axes, "axes")
            if U.shape[1] != k:
                raise ValueError(f"axes must have one column per radius: radii has {k} entries, "
                                 f"axes has shape {U.shape}")
            self.axes = U
            self.dim = U.shape[0]
            self.offset = as_float_array(offset, "offset", shape=(self.dim,))
            unit_b = -(U.T @ self.offset)
            unit_m = np.ones(k, dtype=np.int64)
        else:
            self.dim = k
            self.offset = as_float_array(offset, "offset", shape=(k,))
            unit_b = -self.offset
            unit_m = np.ones(k, dtype=np.int64)
        with np.errstate(over="ignore"):
            unit_rho = radii * radii
        n_units = k
        # complement of range(axes): radius 0, offset b_c (one more eigen-coordinate)
        self._bc = None
        if self.axes is not None and self.dim > k:
            bc = -(self.offset - self.axes @ (self.axes.T @ self.offset))
            if np.linalg.norm(bc) <= _OFFSET_RTOL * np.linalg.norm(self.offset):
                bc = np.zeros(self.dim)
            self._bc = bc
            unit_rho = np.append(unit_rho, 0.0)
            unit_b = np.append(unit_b, np.linalg.norm(bc))
            unit_m = np.append(unit_m, self.dim - k)
            n_units = k + 1
        flat_units = ~np.isfinite(unit_rho)
        self.flat_dim = int(unit_m[flat_units].sum())
        # groups of equal rho among the non-flat eigen-coordinates
        live_units = np.flatnonzero(~flat_units)
        rho_g, inverse = np.unique(unit_rho[live_units], return_inverse=True)
        unit_group = np.full(n_units, -1, dtype=np.int64)
        unit_group[live_units] = inverse
        self._rho = np.ascontiguousarray(rho_g, dtype=np.float64)
        self._b = np.sqrt(np.bincount(inverse, weights=unit_b[live_units] ** 2, minlength=rho_g.size))
        self._mult = np.bincount(inverse, weights=unit_m[live_units], minlength=rho_g.size).astype(np.int64)
        self._check_origin_outside()
        self._secular_cache = None
        self._units = (unit_rho, unit_b, unit_group, flat_units)
        self._layout_cache = None

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_ellipsoid(cls, ellipsoid, origin):
        r"""The cone :math:`\operatorname{cone}(E - o)` of an :class:`~geometry.Ellipsoid` seen from ``origin``.

        Examples
        --------
        >>> from geometry import Ellipsoid, EllipsoidalCone
        >>> K = EllipsoidalCone.from_ellipsoid(Ellipsoid([1.0, 1.0], center=[3.0, 0.0]), [1.0, 0.0])
        >>> K.dim
        2
        """
        if not isinstance(ellipsoid, Ellipsoid):
            raise TypeError(f"ellipsoid must be a geometry.Ellipsoid, got {type(ellipsoid).__name__}")
        origin = as_float_array(origin, "origin", shape=(ellipsoid.dim,))
        return cls(ellipsoid.radii, ellipsoid.center - origin, axes=ellipsoid.axes)

    @classmethod
    def from_quadratic(cls, eigenvalues, offset, level, axes=None, multiplicities=None):
        r"""The cone of :math:`\{x : \tfrac12 (x-c)^T H (x-c) \le \text{level}\}` seen from o.

        Radii :math:`r_i = \sqrt{2\,\text{level}/\lambda_i}` (``inf`` for :math:`\lambda_i = 0`);
        ``offset`` is :math:`c - o` (:math:`\theta^* - \theta_0` for a quadratic well), one
        entry per eigenspace with ``multiplicities``.

        Examples
        --------
        >>> from geometry import EllipsoidalCone
        >>> K = EllipsoidalCone.from_quadratic([1.0, 0.5], [0.0, 3.0], 0.5, multiplicities=[10, 5])
        >>> K.dim, K.n_groups
        (15, 2)
        """
        lam = as_float_array(eigenvalues, "eigenvalues", ndim=1, nonnegative=True)
        level = check_positive(level, "level")
        with np.errstate(divide="ignore"):
            radii = np.sqrt(2.0 * level / lam)
        return cls(radii, offset, axes=axes, multiplicities=multiplicities)

    def _check_origin_outside(self):
        rho, b = self._rho, self._b
        if np.any((rho == 0) & (b > 0)):
            return
        pos = rho > 0
        with np.errstate(over="ignore"):
            quotient = float(np.sum(b[pos] ** 2 / rho[pos]))
        if not quotient > 1.0 + _INSIDE_RTOL:
            raise OriginInsideError(_origin_inside_message(quotient))

    @property
    def _secular(self):
        if self._secular_cache is None:
            self._secular_cache = _Secular(self._rho, self._b, self._mult)
        return self._secular_cache

    @property
    def n_groups(self):
        """Number of distinct finite squared radii: the cost of one sample, per root-find step."""
        return int(self._rho.size)

    @property
    def _layout(self):
        """Per eigen-coordinate of ambient vectors (O(D) memory: built on first use)."""
        if self._layout_cache is None:
            self._layout_cache = _Layout(self)
        return self._layout_cache

    # ------------------------------------------------------------------ reduction to groups
    def _eigen(self, G):
        """Eigen-coordinates (m, n_coords) of ambient rows, and the offset-free squared norm of
        the complement of range(axes) (None without one)."""
        if self.axes is None:
            return G, None
        E = G @ self.axes
        if self._bc is None:
            return E, None
        Gc = G - E @ self.axes.T
        bn = self._units[1][-1]
        if bn > 0:
            ec = Gc @ (self._bc / bn)
            R = Gc - np.outer(ec, self._bc / bn)
        else:
            ec = np.zeros(G.shape[0])
            R = Gc
        return np.column_stack([E, ec]), np.einsum("ij,ij->i", R, R)

    def _reduce(self, E, extra_h=None):
        """Grouped sample (Gp, H, flat2) from eigen-coordinates.

        Per group: the component along the group's offset direction, the squared norm of
        the rest, and the squared norm along flat directions.
        """
        lay = self._layout
        El = E[:, lay.order]
        Gp = np.add.reduceat(El * lay.order_bhat, lay.starts, axis=1)
        R = El - Gp[:, lay.order_group] * lay.order_bhat
        H = np.add.reduceat(R * R, lay.starts, axis=1)
        if extra_h is not None:
            H[:, lay.z_group] += extra_h
        if self.flat_dim:
            Ef = E[:, lay.flat]
            flat2 = np.einsum("ij,ij->i", Ef, Ef)
        else:
            flat2 = np.zeros(E.shape[0])
        return np.ascontiguousarray(Gp), np.ascontiguousarray(H), flat2

    def _batch(self, Gp, H, flat2, want_support=False):
        """Kernel output (n, 7): form, x, mu, ||Pi_K g||^2, ||Pi_K° g||^2, sphere support,
        passes over the groups made by the projection."""
        from ._kernels import polar_batch, polar_constants
        from .parallel import parallel_call

        sec = self._secular
        if sec.consts is None:
            sec.consts = polar_constants(self._rho, self._b, sec.wp, sec.tp, sec.bzpos)
        out = parallel_call(polar_batch, np.ascontiguousarray(Gp, dtype=np.float64),
                            np.ascontiguousarray(H, dtype=np.float64),
                            np.ascontiguousarray(flat2, dtype=np.float64), self._rho, self._b, sec.wp, sec.tp,
                            sec.bzpos, sec.consts, want_support, self.flat_dim > 0, sec.k, sec.c1, sec.tau1,
                            sec.pole_kind, sec.halfspace, sec.bnorm)
        check = out if want_support else out[:, :5]
        if not np.all(np.isfinite(check)):  # pragma: no cover - a bug, not bad input
            raise RuntimeError(f"{self!r}: the projection kernel returned non-finite values; please report "
                               "this cone (radii, offset) as a bug")
        return out

    def _apply(self, G, polar):
        """Pi_K° (``polar``) or Pi_K of ambient rows, from the per-sample solutions."""
        from ._kernels import polar_weights

        E, extra = self._eigen(G)
        out = self._batch(*self._reduce(E, extra))
        form, x, mu = out[:, 0].astype(np.int64), out[:, 1], out[:, 2]
        k = self.radii.shape[0] if self.axes is not None else E.shape[1]
        Ek = E[:, :k]
        lay = self._layout
        W, OMW = polar_weights(form, x, lay.rho[:k])
        mb = mu[:, None] * lay.b[:k]
        res = W * (Ek + mb) if polar else OMW * Ek - W * mb
        if self.axes is None:
            return res
        res = res @ self.axes.T
        if self._bc is not None:
            Gc = G - Ek @ self.axes.T
            res += (Gc + np.outer(mu, self._bc)) if polar else -np.outer(mu, self._bc)
        return res

    def _project(self, G):
        return self._apply(G, polar=False)

    def _project_polar(self, G):
        return self._apply(G, polar=True)

    def squared_projection_norms(self, G):
        r""":math:`\|\Pi_K(g_j)\|^2` for each row of ``G`` (shape (m, D) or (D,))."""
        from .validation import as_directions

        G, _ = as_directions(G, self.dim)
        return self._from_draws(*self._reduce(*self._eigen(G)), what="norms")

    def _support(self, G):
        return self._from_draws(*self._reduce(*self._eigen(G)), what="support")

    def _support_in_polar(self, G):
        r""":math:`-\operatorname{dist}(g, \partial K^\circ)` for rows in the polar cone
        (rows outside it get :math:`\|\Pi_K g\|`)."""
        return self._support(G)

    # ------------------------------------------------------------------ sampling hooks
    def _from_draws(self, Gp, H, flat2, what):
        """Per-sample values from grouped draws (see ``_draw``): ``"norms"`` (||Pi_K g||^2),
        ``"pairs"`` (||Pi_K g||^2, ||Pi_K° g||^2) or ``"support"`` (the sphere support function)."""
        out = self._batch(Gp, H, flat2, want_support=what == "support")
        if what == "support":
            return out[:, 5]
        return (out[:, 3], out[:, 4]) if what == "pairs" else out[:, 3]

    def _draw(self, n, rng):
        """Grouped standard Gaussian draws for n samples, in the order: the (n, n_groups)
        offset components, the chi-square norms of the offset-free parts (groups of
        multiplicity > 1; a single shared row of zeros when there are none), the
        chi-square norm along flat directions."""
        Gp = rng.standard_normal((n, self._rho.size))
        multi = np.flatnonzero(self._mult > 1)
        H = np.zeros((n if multi.size else 1, self._rho.size))
        if multi.size:
            H[:, multi] = rng.chisquare(self._mult[multi] - 1, size=(n, multi.size))
        flat2 = rng.chisquare(self.flat_dim, size=n) if self.flat_dim else np.zeros(n)
        return Gp, H, flat2

    def _sample(self, n, rng, what):
        rng = check_rng(rng, "rng")
        chunk = max(_MIN_CHUNK_SAMPLES, _CHUNK_ENTRIES // max(self._rho.size, 1))
        parts = [self._from_draws(*self._draw(min(chunk, n - s), rng), what=what) for s in range(0, n, chunk)]
        if what == "pairs":
            return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        return np.concatenate(parts)

    def _sample_squared_projection_norms(self, n, rng):
        r"""n samples of :math:`\|\Pi_K g\|^2`, drawn in eigen-coordinates (O(n_groups) each)."""
        return self._sample(n, rng, "norms")

    def _sample_projection_pairs(self, n, rng):
        r"""n samples of :math:`(\|\Pi_K g\|^2, \|\Pi_{K^\circ} g\|^2)`, drawn in eigen-coordinates."""
        return self._sample(n, rng, "pairs")

    def _sample_sphere_support(self, n, rng):
        r"""n samples of :math:`\sup_{x\in K\cap S^{D-1}}\langle g, x\rangle`, drawn in eigen-coordinates."""
        return self._sample(n, rng, "support")

    def __repr__(self):
        return (f"EllipsoidalCone(dim={self.dim}, n_groups={self.n_groups}, flat_dim={self.flat_dim})")
