r"""Closed convex cones.

A cone :math:`K` is represented, for widths, by the set of its unit directions
:math:`K \cap S^{D-1}`: ``support(g)`` is :math:`\sup_{x \in K,\ \|x\|=1}\langle g, x\rangle`.
Every cone also has ``project`` (Euclidean projection :math:`\Pi_K`) and
``project_polar`` (:math:`\Pi_{K^\circ}`), related by Moreau's decomposition
:math:`g = \Pi_K(g) + \Pi_{K^\circ}(g)`; the statistical dimension is
:math:`\delta(K) = E\|\Pi_K(g)\|^2`.

The sphere support function follows from the projection: when :math:`\Pi_K(g) \ne 0`,
:math:`\sup_{K\cap S}\langle g,x\rangle = \|\Pi_K(g)\|`; when :math:`g \in K^\circ` it is
:math:`-\operatorname{dist}(g, \partial K^\circ) \le 0` (the largest ball around
:math:`-g` inside the dual cone), supplied by each subclass in ``_support_in_polar``.
"""
from __future__ import annotations

import numpy as np

from .validation import as_directions, as_float_array, check_int, check_memory, check_positive
from .sets import Set

__all__ = ["ConvexCone", "Sphere", "Orthant", "Subspace", "CircularCone"]


class ConvexCone(Set):
    """Base class of closed convex cones; subclasses implement ``_project`` (validated input)."""

    #: relative tolerance below which ||Pi_K(g)|| counts as zero (g in the polar cone)
    polar_tol = 1e-12

    def project(self, G):
        r"""Euclidean projection :math:`\Pi_K(g)` of each row of ``G`` onto the cone.

        Parameters
        ----------
        G : array_like of shape (m, D) or (D,)

        Returns
        -------
        ndarray of the same shape as ``G``
        """
        G, squeeze = as_directions(G, self.dim)
        P = self._project(G)
        return P[0] if squeeze else P

    def project_polar(self, G):
        r"""Projection onto the polar cone :math:`K^\circ = \{y : \langle y, x\rangle \le 0\ \forall x\in K\}`.

        By Moreau, :math:`\Pi_{K^\circ}(g) = g - \Pi_K(g)`.
        """
        G, squeeze = as_directions(G, self.dim)
        P = self._project_polar(G)
        return P[0] if squeeze else P

    def _project(self, G):  # pragma: no cover - abstract
        raise NotImplementedError

    def _project_polar(self, G):
        return G - self._project(G)

    def _support(self, G):
        norms = np.linalg.norm(self._project(G), axis=1)
        scale = np.linalg.norm(G, axis=1)
        polar = norms <= self.polar_tol * np.maximum(scale, 1e-300)
        out = norms.copy()
        if polar.any():
            out[polar] = self._support_in_polar(G[polar])
        return out

    def _support_in_polar(self, G):
        r"""Sphere support for rows in the polar cone: :math:`-\operatorname{dist}(g, \partial K^\circ)`."""
        raise NotImplementedError(
            f"{type(self).__name__} does not implement the sphere support function inside its polar cone"
        )

    def squared_projection_norms(self, G):
        r""":math:`\|\Pi_K(g_j)\|^2` for each row (the samples of the statistical dimension)."""
        G, _ = as_directions(G, self.dim)
        P = self._project(G)
        return np.einsum("ij,ij->i", P, P)

    @property
    def radius(self):
        return 1.0

    def contains(self, x, tol=1e-9):
        """Whether ``x`` lies in the cone (distance to it below ``tol * ||x||``)."""
        x = as_float_array(x, "x", shape=(self.dim,))
        return bool(np.linalg.norm(x - self._project(x[None])[0]) <= tol * max(np.linalg.norm(x), 1e-300))


class Sphere(ConvexCone):
    r"""The unit sphere :math:`S^{D-1}`, i.e. the directions of the cone :math:`K = \mathbb{R}^D`.

    Width :math:`w(S^{D-1}) = a_D = E\|g\|`; as a cone, :math:`\delta = D`.
    ``directions_from`` returns it when the origin lies inside the set (every
    direction leads into the set).
    """

    def __init__(self, dim):
        self.dim = check_int(dim, "dim", minimum=1)
        check_memory(8 * self.dim, "dim")

    def _project(self, G):
        return G.copy()

    def _support(self, G):
        return np.linalg.norm(G, axis=1)


class Orthant(ConvexCone):
    r"""The non-negative orthant :math:`\mathbb{R}^D_+`: :math:`\Pi(g) = \max(g, 0)`, :math:`\delta = D/2`."""

    def __init__(self, dim):
        self.dim = check_int(dim, "dim", minimum=1)
        check_memory(8 * self.dim, "dim")

    def _project(self, G):
        return np.maximum(G, 0.0)

    def _support_in_polar(self, G):
        # all coordinates <= 0: the best unit vector of the orthant is the best coordinate axis
        return G.max(axis=1)


class Subspace(ConvexCone):
    r"""A linear subspace :math:`L = \operatorname{range}(B)`, as a cone; :math:`\delta(L) = k`.

    Parameters
    ----------
    basis : array_like of shape (D, k), full column rank (orthonormalised internally)
    """

    def __init__(self, basis):
        B = as_float_array(basis, "basis", ndim=2)
        D, k = B.shape
        if k > D:
            raise ValueError(f"basis must be D x k with k <= D, got shape {B.shape}")
        Q, R = np.linalg.qr(B)
        diag = np.abs(np.diag(R))
        if diag.min() <= 1e-10 * max(diag.max(), 1e-300):
            raise ValueError("basis must have linearly independent columns (full column rank)")
        self.basis = Q
        self.dim = D
        self.subspace_dim = k

    def _project(self, G):
        return (G @ self.basis) @ self.basis.T

    def _support(self, G):
        return np.linalg.norm(G @ self.basis, axis=1)

    def __repr__(self):
        return f"Subspace(dim={self.dim}, subspace_dim={self.subspace_dim})"


class CircularCone(ConvexCone):
    r"""Circular (ice-cream) cone :math:`\{x : \langle x, u\rangle \ge \|x\|\cos\alpha\}`.

    Parameters
    ----------
    dim : int >= 2
    angle : float in (0, pi/2)
        Half-angle :math:`\alpha`.
    axis : array_like of shape (dim,), optional
        The axis :math:`u` (normalised); default :math:`e_1`.

    Notes
    -----
    With :math:`\theta` the angle between g and u, :math:`\|\Pi_K g\| = \|g\|` for
    :math:`\theta \le \alpha`, :math:`\|g\|\cos(\theta - \alpha)` for
    :math:`\alpha < \theta < \alpha + \pi/2` and 0 beyond; the polar cone is the circular
    cone of half-angle :math:`\pi/2 - \alpha` around :math:`-u`. For large D,
    :math:`\delta \approx D\sin^2\alpha + \cos 2\alpha`.
    """

    def __init__(self, dim, angle, axis=None):
        self.dim = check_int(dim, "dim", minimum=2)
        check_memory(8 * self.dim, "dim")
        angle = check_positive(angle, "angle")
        if not angle < np.pi / 2:
            raise ValueError(f"angle must lie in (0, pi/2), got {angle}")
        self.angle = angle
        if axis is None:
            u = np.zeros(self.dim)
            u[0] = 1.0
        else:
            u = as_float_array(axis, "axis", shape=(self.dim,))
            n = np.linalg.norm(u)
            if n == 0:
                raise ValueError("axis must be a non-zero vector")
            u = u / n
        self.axis = u

    def _angles(self, G):
        norms = np.linalg.norm(G, axis=1)
        along = G @ self.axis
        perp = np.sqrt(np.maximum(norms ** 2 - along ** 2, 0.0))
        return norms, along, perp, np.arctan2(perp, along)

    def _project(self, G):
        norms, along, perp, theta = self._angles(G)
        a = self.angle
        out = np.zeros_like(G)
        inside = theta <= a
        out[inside] = G[inside]
        mid = (~inside) & (theta < a + np.pi / 2)
        if mid.any():
            # unit vector of g's component orthogonal to the axis
            Gm = G[mid]
            w = Gm - np.outer(along[mid], self.axis)
            w /= perp[mid][:, None]
            boundary = np.cos(a) * self.axis[None, :] + np.sin(a) * w
            out[mid] = (norms[mid] * np.cos(theta[mid] - a))[:, None] * boundary
        return out

    def _support(self, G):
        norms, _, _, theta = self._angles(G)
        return norms * np.cos(np.maximum(theta - self.angle, 0.0))

    def __repr__(self):
        return f"CircularCone(dim={self.dim}, angle={self.angle:.6g})"
