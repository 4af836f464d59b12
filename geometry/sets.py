r"""Sets of :math:`\mathbb{R}^D` described by their support function.

Every set has ``support(G)``: for a batch of directions ``G`` of shape (m, D) it
returns :math:`h_T(g_j) = \sup_{x \in T} \langle g_j, x\rangle` for each row, which is
all a Gaussian width needs: :math:`w(T) = E\, h_T(g)`, :math:`g \sim N(0, I_D)`.
Cones live in :mod:`geometry.cones`.
"""
from __future__ import annotations

import numpy as np

from .validation import (
    as_directions,
    as_float_array,
    check_int,
    check_memory,
    check_orthonormal,
    check_positive,
)

__all__ = ["Set", "Ball", "Ellipsoid", "PointCloud", "L1Ball", "Box"]


class Set:
    r"""Base class: a closed set :math:`T \subset \mathbb{R}^D` known through its support function.

    Subclasses implement ``_support(G)`` on validated input, and set ``dim``.
    ``reference_point`` (a point near the middle of the set) and ``radius``
    (:math:`\sup_{x\in T}\|x - \text{reference\_point}\|`) let the width estimator
    subtract the zero-mean term :math:`\langle g, c\rangle` and state a Lipschitz constant.
    """

    dim: int
    is_convex: bool = True

    def support(self, G):
        r"""Support function :math:`h_T(g) = \sup_{x\in T}\langle g, x\rangle` for each row of ``G``.

        Parameters
        ----------
        G : array_like of shape (m, D) or (D,)

        Returns
        -------
        h : ndarray of shape (m,), or float for a single direction (may be ``inf``
            for an unbounded set)
        """
        G, squeeze = as_directions(G, self.dim)
        out = np.asarray(self._support(G), dtype=np.float64)
        return float(out[0]) if squeeze else out

    def _support(self, G):  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def reference_point(self):
        """A point of (or near) the set; the width estimator centres the samples on it.

        The set's ``center`` when it has one, else the origin.
        """
        center = getattr(self, "center", None)
        return np.zeros(self.dim) if center is None else center

    @property
    def radius(self):
        r""":math:`\sup_{x\in T}\|x - \text{reference\_point}\|` (``inf`` if unbounded)."""
        return np.inf

    def __repr__(self):
        return f"{type(self).__name__}(dim={self.dim})"


def _check_dim(dim):
    dim = check_int(dim, "dim", minimum=1)
    check_memory(8 * dim, "dim")
    return dim


def _check_center(center, dim):
    if center is None:
        return np.zeros(dim)
    return as_float_array(center, "center", shape=(dim,))


class Ball(Set):
    r"""Euclidean ball :math:`\{x : \|x - c\| \le r\}`.

    Support function :math:`h(g) = \langle g, c\rangle + r\|g\|`; Gaussian width
    :math:`r\, a_D` with :math:`a_D = E\|g\|`.

    Parameters
    ----------
    dim : int
    radius : float > 0
    center : array_like of shape (dim,), optional (default 0)
    """

    def __init__(self, dim, radius=1.0, center=None):
        self.dim = _check_dim(dim)
        self.radius_ = check_positive(radius, "radius")
        self.center = _check_center(center, self.dim)

    def _support(self, G):
        return G @ self.center + self.radius_ * np.linalg.norm(G, axis=1)

    @property
    def radius(self):
        return self.radius_

    def contains(self, x, tol=1e-12):
        return bool(np.linalg.norm(np.asarray(x, float) - self.center) <= self.radius_ * (1 + tol))

    def __repr__(self):
        return f"Ball(dim={self.dim}, radius={self.radius_:g})"


class Ellipsoid(Set):
    r"""Ellipsoid :math:`\{c + U \operatorname{diag}(r) u : \|u\| \le 1\}`.

    ``U`` (``axes``) is D x k with orthonormal columns; with ``axes=None`` it is the
    identity and D = k. Radii may be ``inf`` (unbounded, flat directions) or 0.
    The set is flat (zero extent) in the orthogonal complement of ``range(U)``.

    Support function

    .. math:: h(g) = \langle g, c\rangle + \|\operatorname{diag}(r)\, U^T g\|,

    infinite when :math:`(U^T g)_i \ne 0` along an axis with :math:`r_i = \infty`.

    Parameters
    ----------
    radii : array_like of shape (k,), >= 0, may contain inf
    center : array_like of shape (D,), optional
    axes : array_like of shape (D, k), optional, orthonormal columns

    Examples
    --------
    >>> import numpy as np
    >>> from geometry import Ellipsoid
    >>> E = Ellipsoid([3.0, 1.0])
    >>> float(E.support(np.array([1.0, 0.0])))
    3.0
    """

    def __init__(self, radii, center=None, axes=None):
        radii = as_float_array(radii, "radii", ndim=1, allow_inf=True, nonnegative=True)
        if axes is None:
            self.axes = None
            self.dim = radii.shape[0]
        else:
            self.axes = check_orthonormal(axes, "axes")
            if self.axes.shape[1] != radii.shape[0]:
                raise ValueError(
                    f"axes must have one column per radius: radii has {radii.shape[0]} entries, "
                    f"axes has shape {self.axes.shape}"
                )
            self.dim = self.axes.shape[0]
        self.radii = radii
        self.center = _check_center(center, self.dim)

    @classmethod
    def from_quadratic(cls, eigenvalues, level, center=None, axes=None):
        r"""The sub-level set :math:`\{x : \tfrac12 (x-c)^T H (x-c) \le \text{level}\}`.

        With :math:`H = U \operatorname{diag}(\lambda) U^T`, the radii are
        :math:`r_i = \sqrt{2\,\text{level}/\lambda_i}` (``inf`` where :math:`\lambda_i = 0`).
        """
        lam = as_float_array(eigenvalues, "eigenvalues", ndim=1, nonnegative=True)
        level = check_positive(level, "level")
        with np.errstate(divide="ignore"):
            radii = np.sqrt(2.0 * level / lam)
        return cls(radii, center=center, axes=axes)

    def _coords(self, G):
        return G if self.axes is None else G @ self.axes

    def _support(self, G):
        from ._kernels import ellipsoid_support  # numba, compiled on first use
        from .parallel import parallel_call

        C = np.ascontiguousarray(self._coords(G))
        return G @ self.center + parallel_call(ellipsoid_support, C, self.radii)

    @property
    def radius(self):
        return float(self.radii.max())

    def contains(self, x, tol=1e-12):
        """Whether ``x`` lies in the ellipsoid (up to a relative tolerance)."""
        x = as_float_array(x, "x", shape=(self.dim,))
        d = x - self.center
        C = d if self.axes is None else self.axes.T @ d
        # flat directions (outside range(U), or radius 0) up to round-off
        flat_tol = 1e-9 * max(1.0, np.linalg.norm(d))
        if self.axes is not None and np.linalg.norm(d - self.axes @ C) > flat_tol:
            return False
        r = self.radii
        if np.any(np.abs(C[r == 0]) > flat_tol):
            return False
        axis = (r > 0) & np.isfinite(r)
        return bool(((C[axis] / r[axis]) ** 2).sum() <= 1 + tol)

    def __repr__(self):
        k = self.radii.shape[0]
        return f"Ellipsoid(dim={self.dim}, n_axes={k}, max_radius={self.radii.max():.4g})"


class PointCloud(Set):
    r"""A finite set of points :math:`\{x_1, \dots, x_n\}` (rows of ``points``).

    Support function :math:`h(g) = \max_j \langle g, x_j\rangle`; its width equals the
    width of the convex hull. Evaluated in blocks by BLAS, never forming the full m x n
    matrix of inner products.

    When there are fewer points than dimensions, the inner products can be sampled without
    drawing g at all: :math:`(\langle g, x_j - c\rangle)_j` and :math:`\langle g, c\rangle`
    are jointly Gaussian with the Gram matrix of :math:`x_1 - c, \dots, x_n - c, c` as
    covariance, so they have the law of :math:`F z`, :math:`z \sim N(0, I_r)`, for any
    factor :math:`F F^T` of that matrix (``gaussian_width(..., method="gram")``). That costs
    :math:`O(n^2 D)` once and :math:`O(n r)` per sample instead of :math:`O(n D)`.

    Parameters
    ----------
    points : array_like of shape (n, D), n >= 1, finite
    """

    is_convex = False

    def __init__(self, points):
        pts = as_float_array(points, "points", ndim=2)
        if pts.shape[0] < 1:
            raise ValueError("points must contain at least one point")
        self.points = pts
        self.dim = pts.shape[1]
        self._centroid = pts.mean(axis=0)
        self._gram_factor_cache = None
        self._radius_cache = None

    def _support(self, G):
        from ._kernels import point_cloud_support  # compiled on first use

        return point_cloud_support(G, self.points)

    @property
    def reference_point(self):
        return self._centroid

    @property
    def radius(self):
        if self._radius_cache is None:  # row chunks: no n x D temporary
            step = max(1, _GRAM_CHUNK_ENTRIES // self.dim)
            self._radius_cache = max(
                float(np.linalg.norm(self.points[i:i + step] - self._centroid, axis=1).max())
                for i in range(0, self.points.shape[0], step))
        return self._radius_cache

    def gram_factor(self):
        r"""A factor F of shape (n + 1, r) of the Gram matrix of the centred points and the centroid.

        :math:`F F^T = A A^T` with :math:`A = [x_1 - c; \dots; x_n - c; c]` (rows), r its
        numerical rank (pivoted Cholesky, LAPACK ``dpstrf``, which also handles the rank
        deficiency that centring always creates). :math:`A A^T` is accumulated over column
        chunks, so the extra memory is :math:`O(n^2)` plus one chunk, not :math:`O(nD)`.
        Computed once and cached.
        """
        if self._gram_factor_cache is None:
            from scipy.linalg import lapack

            n, D = self.points.shape
            c = self._centroid
            gram = np.zeros((n + 1, n + 1))
            step = max(256, _GRAM_CHUNK_ENTRIES // (n + 1))
            for k0 in range(0, D, step):
                A = np.empty((n + 1, min(step, D - k0)))
                np.subtract(self.points[:, k0:k0 + step], c[k0:k0 + step], out=A[:n])
                A[n] = c[k0:k0 + step]
                gram += A @ A.T  # symmetric rank-k update (BLAS syrk)
            low, piv, rank, info = lapack.dpstrf(gram, lower=1)
            if info < 0:  # pragma: no cover - LAPACK argument error
                raise RuntimeError(f"dpstrf failed with info={info}")
            F = np.zeros((n + 1, max(int(rank), 1)))
            F[piv - 1, :rank] = np.tril(low)[:, :rank]
            self._gram_factor_cache = F
        return self._gram_factor_cache

    def _sample_gram(self, n_samples, rng, centre, batch_size=None):
        r"""Samples of :math:`\max_j\langle g, x_j\rangle` (minus :math:`\langle g, c\rangle` when
        ``centre``) drawn through :meth:`gram_factor`: same law as evaluating the support
        function on Gaussian directions, a different random stream."""
        F = self.gram_factor()
        n = self.points.shape[0]
        rows = batch_size or max(1, _GRAM_BATCH_ENTRIES // F.shape[0])
        out = np.empty(n_samples)
        for s in range(0, n_samples, rows):
            Y = rng.standard_normal((min(rows, n_samples - s), F.shape[1])) @ F.T
            h = Y[:, :n].max(axis=1)
            out[s:s + Y.shape[0]] = h if centre else h + Y[:, n]
        return out

    def __repr__(self):
        return f"PointCloud(n_points={self.points.shape[0]}, dim={self.dim})"


#: entries of one column chunk of the points while accumulating their Gram matrix (32 MB)
_GRAM_CHUNK_ENTRIES = 2 ** 22
#: entries of one batch of Gaussian rows (and of inner products) in the Gram sampler
_GRAM_BATCH_ENTRIES = 2 ** 22


class L1Ball(Set):
    r"""Cross-polytope :math:`\{x : \|x - c\|_1 \le r\}`; :math:`h(g) = \langle g,c\rangle + r\|g\|_\infty`.

    Its Gaussian width is :math:`r\, E\max_i |g_i| \approx r\sqrt{2\log D}`.
    """

    def __init__(self, dim, radius=1.0, center=None):
        self.dim = _check_dim(dim)
        self.radius_ = check_positive(radius, "radius")
        self.center = _check_center(center, self.dim)

    def _support(self, G):
        return G @ self.center + self.radius_ * np.abs(G).max(axis=1)

    @property
    def radius(self):
        return self.radius_

    def __repr__(self):
        return f"L1Ball(dim={self.dim}, radius={self.radius_:g})"


class Box(Set):
    r"""Axis-aligned box :math:`\{x : |x_i - c_i| \le s_i\}` (a cube when all half-widths agree).

    :math:`h(g) = \langle g, c\rangle + \sum_i s_i |g_i|`, so :math:`w = \sqrt{2/\pi}\sum_i s_i`;
    the cube :math:`[-1, 1]^D` has width :math:`D\sqrt{2/\pi}`.

    Parameters
    ----------
    half_widths : float or array_like of shape (dim,), > 0
    dim : int, optional (needed when ``half_widths`` is a scalar)
    center : array_like of shape (dim,), optional
    """

    def __init__(self, half_widths=1.0, dim=None, center=None):
        hw = as_float_array(half_widths, "half_widths", ndim=(0, 1))
        if hw.ndim == 0:
            if dim is None:
                raise ValueError("dim is required when half_widths is a scalar")
            self.dim = _check_dim(dim)
            hw = np.full(self.dim, check_positive(float(hw), "half_widths"))
        else:
            if dim is not None and _check_dim(dim) != hw.shape[0]:
                raise ValueError(f"half_widths has {hw.shape[0]} entries but dim={dim}")
            if not (hw > 0).all():
                raise ValueError("half_widths must be > 0")
            self.dim = hw.shape[0]
        self.half_widths = hw
        self.center = _check_center(center, self.dim)

    def _support(self, G):
        return G @ self.center + np.abs(G) @ self.half_widths

    @property
    def radius(self):
        return float(np.linalg.norm(self.half_widths))

    def __repr__(self):
        return f"Box(dim={self.dim})"
