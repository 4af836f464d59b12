r"""The directions from a point into a set: its projection onto the unit sphere around the point.

.. math:: P(S) = \{(x - o)/\|x - o\| : x \in S\}.

A random subspace through o meets S exactly when it meets P(S) (theory notes, section 2),
so the Gaussian width of P(S) (Gordon) and, for convex S, the statistical dimension of
:math:`\operatorname{cone}(S - o)` (kinematic formula) predict the threshold training
dimension.
"""
from __future__ import annotations

import numpy as np

from .validation import as_float_array
from .cones import Sphere
from .ellipsoidal_cone import EllipsoidalCone, OriginInsideError
from .sets import Ball, Ellipsoid, PointCloud, Set

__all__ = ["directions_from"]


def directions_from(S, origin):
    r"""The set of unit directions from ``origin`` into ``S``.

    Parameters
    ----------
    S : Ellipsoid, Ball or PointCloud
    origin : array_like of shape (S.dim,)

    Returns
    -------
    Set
        * ``Sphere(D)`` when the origin lies in S (or on its boundary, up to a relative
          1e-9 for ellipsoids and balls; or is one of the points of a point cloud):
          every direction leads into S, so every subspace meets it;
        * an :class:`~geometry.EllipsoidalCone` for an ellipsoid or ball not containing
          the origin (:math:`\operatorname{cone}(S - o)`, whose unit directions are P(S));
        * a :class:`~geometry.PointCloud` of the normalised directions
          :math:`(x_j - o)/\|x_j - o\|` for a point cloud.

    Raises
    ------
    TypeError
        For another kind of set.
    ValueError
        When ``origin`` has the wrong shape or is not finite.

    Examples
    --------
    >>> import numpy as np
    >>> from geometry import Ball, directions_from
    >>> directions_from(Ball(3, 1.0, center=[3.0, 0.0, 0.0]), np.zeros(3))
    EllipsoidalCone(dim=3, n_groups=1, flat_dim=0)
    >>> directions_from(Ball(3, 1.0), np.zeros(3))
    Sphere(dim=3)
    """
    if not isinstance(S, Set):
        raise TypeError(f"S must be a geometry.Set (Ellipsoid, Ball or PointCloud), got {type(S).__name__}")
    origin = as_float_array(origin, "origin", ndim=1)
    if origin.shape[0] != S.dim:
        raise ValueError(f"origin must have shape ({S.dim},) (the dimension of S), got {origin.shape}")
    if isinstance(S, (Ellipsoid, Ball)):
        if isinstance(S, Ball):
            radii, center, axes = np.full(S.dim, S.radius_), S.center, None
        else:
            radii, center, axes = S.radii, S.center, S.axes
        try:
            return EllipsoidalCone(radii, center - origin, axes=axes)
        except OriginInsideError:
            return Sphere(S.dim)
    if isinstance(S, PointCloud):
        diffs = S.points - origin
        norms = np.linalg.norm(diffs, axis=1)
        if np.any(norms == 0):
            return Sphere(S.dim)
        return PointCloud(diffs / norms[:, None])
    raise TypeError(
        f"directions_from supports Ellipsoid, Ball and PointCloud, got {type(S).__name__}; "
        "for another convex set, build its cone with geometry.convex.CvxpyCone"
    )
