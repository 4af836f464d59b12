"""Stored instances of the polar-cone projection kernel: cones, grouped Gaussian draws, and the
kernel's outputs recorded before its root-find was rewritten.

``python tests/polar_instances.py`` wrote ``tests/data/polar_reference.npz`` with the
Brent-method kernel of commit 5df077e (``geometry._kernels.polar_batch``, 16 secular
evaluations of two passes each per sample); ``test_kernels.py`` checks that the kernel
still gives the same numbers to 1e-12 relative. The draws are regenerated here from fixed
seeds with plain numpy calls (not the library's sampling code), so only outputs are stored.
"""
import os

import numpy as np

from geometry import EllipsoidalCone

REFERENCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "polar_reference.npz")


def _random_cone(rng, D, flat=False, zero=False, spread=1.5, offset_scale=(1.0, 8.0)):
    radii = np.exp(rng.uniform(-spread, spread, D))
    if flat:
        radii[rng.permutation(D)[: max(1, D // 4)]] = np.inf
    if zero:
        radii[rng.permutation(D)[: max(1, D // 4)]] = 0.0
    while True:
        offset = rng.standard_normal(D) * rng.uniform(*offset_scale)
        try:
            return EllipsoidalCone(radii, offset)
        except ValueError:
            continue


def instances():
    """(name, cone, n samples, draw seed): every branch of the kernel (codes 0-4) is met."""
    rng = np.random.default_rng(3000)
    out = []
    for k, (D, flat, zero) in enumerate([(1, False, False), (2, False, False), (7, False, False),
                                         (40, False, False), (40, True, False), (40, False, True),
                                         (40, True, True), (300, False, False)]):
        out.append((f"random D={D} flat={flat} zero={zero}", _random_cone(rng, D, flat, zero), 120, 3100 + k))
    # wide cones (origin just outside a large ellipsoid): many samples inside K (code 4)
    out.append(("wide", _random_cone(rng, 30, offset_scale=(0.3, 0.5)), 200, 3120))
    # narrow cones (far origin): many samples in the polar (code 0)
    out.append(("narrow", _random_cone(rng, 30, offset_scale=(20.0, 40.0)), 200, 3121))
    # power-law quadratic wells with multiplicities (grouped)
    lam = np.arange(1, 201, dtype=float) ** -1.2
    mult = rng.integers(1, 40, 200)
    offset = rng.standard_normal(200) * 0.3
    out.append(("power law, grouped", EllipsoidalCone.from_quadratic(lam, offset, 0.05, multiplicities=mult),
                150, 3122))
    # the benchmark's cone at a smaller size: lambda_i = 1/i, unit offset, delta/D ~ 0.7
    D = 20000
    lam = 1.0 / np.arange(1, D + 1)
    off = np.zeros(D)
    off[0] = 1.0
    out.append(("1/i spectrum D=20000", EllipsoidalCone.from_quadratic(lam, off, 2.0e-5), 40, 3123))
    # a circular cone (one group) and a wide spread of radii
    out.append(("ball", EllipsoidalCone(np.ones(10), np.r_[3.0, np.zeros(9)]), 100, 3124))
    out.append(("spread 1e-6..1e6", _random_cone(rng, 60, spread=14.0), 150, 3125))
    return out


def draws(cone, n, seed):
    """Grouped draws (Gp, H, flat2) from plain numpy calls with a fixed seed; some samples are
    placed exactly on, or near, the pole's eigenvector (beta = 0) and the boundary of K°."""
    rng = np.random.default_rng(seed)
    groups = cone._rho.size
    Gp = rng.standard_normal((n, groups))
    multi = np.flatnonzero(cone._mult > 1)
    H = np.zeros((n, groups))
    if multi.size:
        H[:, multi] = rng.chisquare(cone._mult[multi] - 1, size=(n, multi.size))
    flat2 = rng.chisquare(cone.flat_dim, size=n) if cone.flat_dim else np.zeros(n)
    sec = cone._secular
    u = cone._b * sec.wp  # the pole's eigenvector (offset coordinates)
    if np.linalg.norm(u) > 0 and n >= 8:
        un = u / np.linalg.norm(u)
        for j in range(4):  # beta = <u, g> exactly 0, and tiny
            g = Gp[j] - (Gp[j] @ un) * un
            Gp[j] = g + (0.0 if j < 2 else 10.0 ** (-8 - 3 * j)) * un
    return Gp, H, flat2


def outputs(cone, n, seed):
    return cone._batch(*draws(cone, n, seed), want_support=True)


if __name__ == "__main__":  # pragma: no cover - writes the reference file
    data = {}
    for k, (name, cone, n, seed) in enumerate(instances()):
        out = outputs(cone, n, seed)
        data[f"out{k}"] = out[:, :6]
        print(name, np.bincount(out[:, 0].astype(int), minlength=2), "evals", out[:, 6].mean())
    np.savez_compressed(REFERENCE, **data)
    print("wrote", REFERENCE)
