r"""geometry: Gaussian widths, statistical dimensions and the bounds built on them.

Pure mathematics: sets and cones -> widths and dimensions -> bounds. Nothing here
imports :mod:`landscape`.

Main entry points
-----------------
Sets            : Ball, Sphere, Ellipsoid, PointCloud, L1Ball, Box
Cones           : Orthant, Subspace, CircularCone, EllipsoidalCone, directions_from
Estimators      : gaussian_width, statistical_dimension, intrinsic_volumes -> Estimate
Bounds          : expected_norm, gordon_escape_probability, gordon_threshold,
                  kinematic_threshold, kinematic_interval, kinematic_success_probability

Submodules not imported by default: ``geometry.convex`` (cvxpy reference for any
convex set or cone; importing cvxpy takes a second or two) and ``geometry._kernels``
(numba kernels, compiled on first use). Public names are resolved lazily, so
``import geometry`` stays fast.
"""
from importlib import import_module

__version__ = "0.2.0"

_EXPORTS = {
    "Estimate": "estimate",
    "Set": "sets",
    "Ball": "sets",
    "Ellipsoid": "sets",
    "PointCloud": "sets",
    "L1Ball": "sets",
    "Box": "sets",
    "ConvexCone": "cones",
    "Sphere": "cones",
    "Orthant": "cones",
    "Subspace": "cones",
    "CircularCone": "cones",
    "EllipsoidalCone": "ellipsoidal_cone",
    "directions_from": "directions",
    "gaussian_width": "width",
    "statistical_dimension": "width",
    # module name differs from the function's: importing geometry.intrinsic_volumes would
    # bind the package attribute to the module and shadow the function
    "intrinsic_volumes": "conic_volumes",
    "IntrinsicVolumes": "conic_volumes",
    "expected_norm": "bounds",
    "gordon_escape_probability": "bounds",
    "gordon_threshold": "bounds",
    "kinematic_threshold": "bounds",
    "kinematic_interval": "bounds",
    "kinematic_success_probability": "bounds",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'geometry' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
