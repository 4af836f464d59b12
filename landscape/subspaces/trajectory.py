r"""Full-space gradient descent, burn-in subspaces and lottery subspaces.

* **Burn-in** (Larsen et al. 2022, sec. 5): train in full space for t steps, then train in a
  random subspace through :math:`\theta_t` instead of :math:`\theta_0`. A point closer to
  the minimum sees the sub-level set under a wider angle, so the threshold dimension falls.
* **Lottery subspaces**: the span of the top-d left singular vectors of the matrix of
  steps :math:`(\theta_{k+1} - \theta_k)_k` of a full-space run, through :math:`\theta_0`.
  They contain the directions training actually used, and succeed at far smaller d
  than random subspaces.

Any loss works: the functions take ``grad(theta) -> (D,)`` (or an object with a
``gradient`` method, such as :class:`landscape.QuadraticWell`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geometry.validation import as_float_array, check_int, check_memory, check_positive, check_rng

from .maps import LotterySubspace, haar_frame, random_subspace

__all__ = [
    "Trajectory",
    "full_space_trajectory",
    "burn_in_point",
    "burn_in_subspace",
    "lottery_subspace",
]


@dataclass(frozen=True, repr=False)
class Trajectory:
    r"""Recorded iterates of full-space gradient descent.

    Attributes
    ----------
    iterates : ndarray of shape (n + 1, D)
        :math:`\theta_0, \theta_r, \theta_{2r}, \dots` (r = ``record_every``), always
        ending with the last iterate.
    lr : float
    n_steps : int
        Gradient steps taken.
    record_every : int
    losses : ndarray of shape (n + 1,), optional
        The loss at each recorded iterate, when a loss function was given.
    """

    iterates: np.ndarray
    lr: float
    n_steps: int
    record_every: int
    losses: np.ndarray | None = None

    @property
    def origin(self):
        r""":math:`\theta_0`."""
        return self.iterates[0]

    @property
    def final(self):
        """The last iterate."""
        return self.iterates[-1]

    def steps(self):
        r"""The steps between recorded iterates, :math:`(\theta_{k+1} - \theta_k)`, shape (n, D)."""
        return np.diff(self.iterates, axis=0)

    def __repr__(self):
        last = "" if self.losses is None else f", final loss={self.losses[-1]:.4g}"
        return (f"Trajectory(D={self.iterates.shape[1]}, n_steps={self.n_steps}, lr={self.lr:g}, "
                f"recorded={self.iterates.shape[0]}{last})")


def _gradient_function(grad):
    if callable(grad):
        return grad
    if callable(getattr(grad, "gradient", None)):
        return grad.gradient
    raise TypeError(f"grad must be a callable grad(theta) -> (D,) or have a gradient method, "
                    f"got {type(grad).__name__}")


def _descend(grad, theta0, lr, steps, record_every=None, loss=None):
    """Run gradient descent; return the last iterate and the recorded ones (or None)."""
    grad = _gradient_function(grad)
    theta = as_float_array(theta0, "theta0", ndim=1).copy()
    lr = check_positive(lr, "lr")
    steps = check_int(steps, "steps", minimum=0)
    if record_every is not None:  # the recorded iterates are kept
        check_memory(8 * theta.size * (steps // record_every + 2), "steps")
    if loss is not None and not callable(loss):
        raise TypeError(f"loss must be callable or None, got {type(loss).__name__}")
    recorded, losses = [], []

    def record(th):
        recorded.append(th.copy())
        if loss is not None:
            losses.append(float(loss(th)))

    if record_every is not None:
        record(theta)
    for k in range(steps):
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported below
            g = np.asarray(grad(theta), dtype=np.float64)
            if g.shape != theta.shape:
                raise ValueError(f"grad(theta) must return an array of shape {theta.shape}, got {g.shape}")
            theta = theta - lr * g
        if not np.all(np.isfinite(theta)):
            raise ValueError(f"gradient descent diverged at step {k + 1} (non-finite parameters); "
                             f"reduce lr (got {lr:g})")
        if record_every is not None and ((k + 1) % record_every == 0 or k + 1 == steps):
            record(theta)
    return theta, recorded, losses


def full_space_trajectory(grad, theta0, lr, steps, *, record_every=1, loss=None):
    r"""Gradient descent :math:`\theta_{k+1} = \theta_k - \eta\,\nabla L(\theta_k)` in full space, recorded.

    Parameters
    ----------
    grad : callable ``grad(theta) -> (D,)``, or an object with a ``gradient`` method
    theta0 : array_like of shape (D,)
    lr : float > 0
        Step size :math:`\eta` (for a quadratic well, stable below :math:`2/\lambda_{max}`).
    steps : int >= 0
    record_every : int >= 1
        Keep every r-th iterate (and the last); memory (steps / r + 1) x D.
    loss : callable, optional
        ``loss(theta) -> float``, evaluated at each recorded iterate.

    Returns
    -------
    Trajectory

    Examples
    --------
    >>> import numpy as np
    >>> from landscape import QuadraticWell, full_space_trajectory
    >>> well = QuadraticWell([1.0, 0.1])
    >>> traj = full_space_trajectory(well, [1.0, 1.0], lr=0.5, steps=3, loss=well.loss)
    >>> traj.iterates.shape
    (4, 2)
    >>> traj.final
    array([0.125   , 0.857375])
    """
    record_every = check_int(record_every, "record_every", minimum=1)
    _, recorded, losses = _descend(grad, theta0, lr, steps, record_every, loss)
    return Trajectory(iterates=np.array(recorded), lr=float(lr), n_steps=int(steps),
                      record_every=record_every, losses=np.array(losses) if loss is not None else None)


def burn_in_point(grad, theta0, t, lr):
    r"""The point :math:`\theta_t` after t full-space gradient steps (memory O(D)).

    Parameters
    ----------
    grad : callable or object with a ``gradient`` method
    theta0 : array_like of shape (D,)
    t : int >= 0
        Burn-in steps (0 returns a copy of ``theta0``).
    lr : float > 0

    Returns
    -------
    ndarray of shape (D,)
    """
    check_int(t, "t", minimum=0)
    return _descend(grad, theta0, lr, t)[0]


def burn_in_subspace(grad, theta0, t, lr, d, kind="orthonormal", seed=None):
    r"""A random d-dimensional affine subspace through the burn-in point :math:`\theta_t`.

    Parameters
    ----------
    grad, theta0, t, lr
        See :func:`burn_in_point`.
    d : int in [1, D]
    kind : str
        Subspace kind (:func:`landscape.random_subspace`).
    seed : int, SeedSequence, Generator or None

    Returns
    -------
    origin : ndarray of shape (D,)
        :math:`\theta_t`, the new origin: train :math:`\theta = \theta_t + A\phi`.
    A : SubspaceMap
    """
    origin = burn_in_point(grad, theta0, t, lr)
    return origin, random_subspace(origin.shape[0], d, kind=kind, seed=seed)


def lottery_subspace(trajectory, d, *, complete=False, seed=None, rtol=1e-10):
    r"""Lottery subspace: the top-d left singular vectors of the trajectory's steps.

    With :math:`\Delta = [\theta_1-\theta_0, \dots, \theta_n-\theta_{n-1}] \in \mathbb{R}^{D\times n}`
    and :math:`\Delta = U\Sigma W^T`, the map is :math:`A = U_{:, :d}`; train
    :math:`\theta = \theta_0 + A\phi` from the trajectory's origin :math:`\theta_0`.
    Cost :math:`O(D n \min(D, n))`.

    Parameters
    ----------
    trajectory : Trajectory or array_like of shape (n + 1, D)
        A full-space run (its recorded iterates).
    d : int in [1, D]
    complete : bool
        The steps span at most rank(:math:`\Delta`) directions (singular values above
        ``rtol`` times the largest). With d larger than that rank, ``False`` raises a
        ValueError; ``True`` completes the frame with a Haar random orthonormal set in the
        orthogonal complement (drawn from ``seed``), with singular value NaN.
    seed : int, Generator or None
        Only used for the completion.
    rtol : float > 0
        Relative threshold of the numerical rank.

    Returns
    -------
    LotterySubspace
        ``kind == "lottery"``, orthonormal columns, ``singular_values`` of shape (d,).
    """
    if isinstance(trajectory, Trajectory):
        iterates = trajectory.iterates
    else:
        iterates = as_float_array(trajectory, "trajectory", ndim=2)
    if iterates.shape[0] < 2:
        raise ValueError(f"trajectory must hold at least 2 iterates (one step), got {iterates.shape[0]}")
    D = iterates.shape[1]
    d = check_int(d, "d", minimum=1, maximum=D)
    rtol = check_positive(rtol, "rtol")
    if rtol >= 1:
        raise ValueError(f"rtol must be < 1 (relative to the largest singular value), got {rtol}")
    U, s, _ = np.linalg.svd(np.diff(iterates, axis=0).T, full_matrices=False)
    rank = int(np.sum(s > rtol * s[0])) if s[0] > 0 else 0
    if d <= rank:
        return LotterySubspace(U[:, :d], s[:d])
    if not complete:
        raise ValueError(f"d={d} exceeds the rank of the trajectory's steps ({rank}); pass complete=True "
                         "to add random orthonormal directions, or use a longer trajectory")
    U = U[:, :rank]
    extra = haar_frame(D, d - rank, check_rng(seed))
    extra -= U @ (U.T @ extra)
    extra, _ = np.linalg.qr(extra)
    basis = np.hstack([U, extra])
    values = np.concatenate([s[:rank], np.full(d - rank, np.nan)])
    return LotterySubspace(basis, values)
