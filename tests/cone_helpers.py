"""Small cones shared by tests/test_width.py and tests/test_intrinsic_volumes.py.

Written independently of the library's own closed forms, so the estimators can be checked
on cones the code knows nothing special about, and on the fast sampling hooks.
"""
import numpy as np

from geometry import CircularCone, ConvexCone


class HalfSpace(ConvexCone):
    """{x : x_1 >= 0}. By hand: delta = D - 1/2, nu_{D-1} = nu_D = 1/2; no closed form in the code."""

    def __init__(self, dim):
        self.dim = dim

    def _project(self, G):
        P = G.copy()
        P[:, 0] = np.maximum(P[:, 0], 0.0)
        return P

    def _support_in_polar(self, G):
        return np.zeros(G.shape[0])  # the polar is the ray -e_1; e_2 is a unit vector of K


class HookedCircularCone(CircularCone):
    """Circular cone with the three sampling hooks, computed from (g_1, ||g_perp||) only.

    g is rotation invariant, so g_1 ~ N(0, 1) and ||g_perp||^2 ~ chi^2_{D-1} describe it
    fully: O(1) work per sample. ``calls`` counts the hook calls.
    """

    calls = 0

    def _reduced(self, n, rng):
        type(self).calls += 1
        along = rng.standard_normal(n)
        perp2 = rng.chisquare(self.dim - 1, n)
        excess = np.arctan2(np.sqrt(perp2), along) - self.angle  # theta - angle
        return along ** 2 + perp2, excess

    def _sample_sphere_support(self, n, rng):
        sq, excess = self._reduced(n, rng)
        return np.sqrt(sq) * np.cos(np.maximum(excess, 0.0))

    def _sample_squared_projection_norms(self, n, rng):
        return self._sample_projection_pairs(n, rng)[0]

    def _sample_projection_pairs(self, n, rng):
        sq, excess = self._reduced(n, rng)
        f = np.where(excess <= 0, 1.0, np.where(excess < np.pi / 2, np.cos(excess) ** 2, 0.0))
        return sq * f, sq * (1.0 - f)
