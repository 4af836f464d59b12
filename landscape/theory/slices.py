r"""Loss-landscape views: the loss along lines and planes through parameter space.

One-dimensional and two-dimensional slices of the loss around a point :math:`\theta`,

.. math::

    f(\alpha) = L(\theta + \alpha\, d), \qquad
    f(\alpha, \beta) = L(\theta + \alpha\, d_1 + \beta\, d_2),

along random directions normalised filter by filter as in Li, Xu, Taylor, Studer &
Goldstein (2018) -- the views of their ``loss-landscape`` tool -- and the line from
:math:`\theta_0` to :math:`\theta^*` (Goodfellow, Vinyals & Saxe 2015),
:math:`L((1 - \alpha)\theta_0 + \alpha\theta^*)`. The sub-level set
:math:`\{L \le \epsilon\}` whose geometry predicts the threshold dimension is the region
below the level :math:`\epsilon` on these slices (:func:`landscape.plots.plot_loss_slice`).

**Filter normalisation.** A Gaussian direction :math:`d` is rescaled, filter by filter,
to the norms of :math:`\theta`'s filters,

.. math:: d_{i,j} \leftarrow \frac{d_{i,j}}{\|d_{i,j}\|}\, \|\theta_{i,j}\|,

with :math:`i` a parameter tensor and :math:`j` one of its filters (an output channel of a
convolution, an output unit of a linear layer). This removes the scale invariance of
networks with normalisation or ReLUs, so that slices of different networks compare.
Directions in one-dimensional parameters (biases, BatchNorm) are set to 0, as in the
paper (``ignore_bias=False`` normalises them as whole tensors instead).

Evaluation: the grid is cut into chunks of points; each chunk is one task, run in this
process or on any :class:`concurrent.futures.Executor` (a process pool, Dask), and a
quadratic well evaluates a whole chunk in one vectorised call. The result does not depend
on the executor or the chunk size.

References
----------
1. H. Li, Z. Xu, G. Taylor, C. Studer, T. Goldstein, "Visualizing the loss landscape of
   neural nets", NeurIPS 2018.
2. I. Goodfellow, O. Vinyals, A. Saxe, "Qualitatively characterizing neural network
   optimization problems", ICLR 2015.
"""
from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np

from geometry.validation import as_float_array, check_bool, check_choice, check_int, check_rng

__all__ = [
    "LossSlice",
    "random_direction",
    "loss_slice",
    "loss_slice_1d",
    "loss_slice_2d",
    "interpolation_slice",
]

_NORMALIZATIONS = ("filter", "layer", "unit")


@dataclass(frozen=True, repr=False)
class LossSlice:
    r"""The loss on a line or a plane through parameter space.

    Attributes
    ----------
    center : ndarray of shape (D,)
        :math:`\theta`, the point at coordinates 0.
    directions : ndarray of shape (k, D)
        :math:`d_1` (and :math:`d_2`), k = 1 or 2.
    coords : tuple of k ndarrays
        :math:`\alpha` (and :math:`\beta`) values of the grid.
    losses : ndarray
        Shape (len(alpha),) for a line; (len(beta), len(alpha)) for a plane (rows: beta),
        the layout of :func:`matplotlib.pyplot.contour`.
    labels : tuple of str
        Axis labels.
    marks : dict
        Named points in slice coordinates (e.g. ``{"theta*": (1.0,)}``), drawn by
        :func:`landscape.plots.plot_loss_slice`, which draws the slice.
    kind : str
        ``"random"``, ``"interpolation"`` or ``"given"``.
    """

    center: np.ndarray
    directions: np.ndarray
    coords: tuple
    losses: np.ndarray
    labels: tuple
    marks: dict = field(default_factory=dict)
    kind: str = "given"

    @property
    def ndim(self):
        """1 for a line, 2 for a plane."""
        return len(self.coords)

    def points(self, *coords):
        r"""Parameters :math:`\theta + \sum_k c_k d_k` at slice coordinates (arrays broadcast)."""
        if len(coords) != self.ndim:
            raise ValueError(f"give {self.ndim} coordinate(s), got {len(coords)}")
        c = np.stack(np.broadcast_arrays(*[np.asarray(x, float) for x in coords]), axis=-1)
        return self.center + c @ self.directions

    def sublevel_fraction(self, eps):
        r"""Fraction of the grid points in the sub-level set :math:`\{L \le \epsilon\}`."""
        return float(np.mean(self.losses <= float(eps)))

    def __repr__(self):
        shape = "x".join(str(len(c)) for c in self.coords)
        finite = self.losses[np.isfinite(self.losses)]
        rng = f"[{finite.min():.4g}, {finite.max():.4g}]" if finite.size else "[no finite value]"
        return (f"LossSlice({self.kind}, {self.ndim}-D, grid {shape}, D={self.center.shape[0]}, "
                f"loss in {rng})")


# ---------------------------------------------------------------------- directions
def _blocks(model, D):
    """(start, shape, filter_axis) of each parameter tensor, or None when the model has no structure."""
    shapes = getattr(model, "shapes", None)
    if not shapes:
        return None
    axis = int(getattr(model, "filter_axis", 0))
    out, start = [], 0
    for shape in shapes:
        shape = tuple(int(s) for s in shape)
        out.append((start, shape, axis))
        start += int(np.prod(shape)) if shape else 1
    if start != D:
        raise ValueError(f"the model's parameter shapes cover {start} entries, but theta has D = {D}")
    return out


def random_direction(model, theta, *, normalization="filter", ignore_bias=True, seed=None):
    r"""A random direction for a loss slice at ``theta``, normalised filter by filter (Li et al. 2018).

    Parameters
    ----------
    model : model object or None
        Its ``shapes`` (the parameter tensors in flat-vector order, as
        :class:`landscape.torch.TorchModel` and :class:`landscape.models.MLP` have them) and
        ``filter_axis`` (the axis of a weight tensor that indexes filters: 0 for torch,
        1 for the numpy MLP's (n_in, n_out) matrices) define the filters. A model without
        ``shapes`` (a quadratic well, a loss function) gets ``"unit"`` normalisation.
    theta : array_like of shape (D,)
        The point the slice goes through (usually the trained :math:`\theta^*`).
    normalization : {"filter", "layer", "unit"}
        ``"filter"``: each filter of d gets the norm of the same filter of theta;
        ``"layer"``: each parameter tensor; ``"unit"``: :math:`\|d\| = 1`.
    ignore_bias : bool
        Zero the direction in one-dimensional tensors (biases, BatchNorm), as the paper
        does; False normalises each as one filter.
    seed : int, Generator or None

    Returns
    -------
    ndarray of shape (D,)

    Examples
    --------
    >>> import numpy as np
    >>> from landscape.models import MLP
    >>> from landscape.theory.slices import random_direction
    >>> model = MLP([3, 4, 2]); theta = model.init_params(0)
    >>> d = random_direction(model, theta, seed=1)
    >>> W, b = model.unflatten(d)[0]; W0, _ = model.unflatten(theta)[0]
    >>> bool(np.allclose(np.linalg.norm(W, axis=0), np.linalg.norm(W0, axis=0))), bool((b == 0).all())
    (True, True)
    """
    theta = as_float_array(theta, "theta", ndim=1)
    D = theta.shape[0]
    normalization = check_choice(normalization, "normalization", _NORMALIZATIONS)
    ignore_bias = check_bool(ignore_bias, "ignore_bias")
    d = check_rng(seed).standard_normal(D)
    blocks = _blocks(model, D) if normalization != "unit" else None
    if blocks is None:
        return d / np.linalg.norm(d)
    for start, shape, axis in blocks:
        size = int(np.prod(shape)) if shape else 1
        seg, ref = d[start:start + size], theta[start:start + size]
        if len(shape) <= 1:
            if ignore_bias:
                seg[:] = 0.0
                continue
            norm = np.linalg.norm(seg)
            seg *= np.linalg.norm(ref) / norm if norm > 0 else 0.0
            continue
        if normalization == "layer":
            norm = np.linalg.norm(seg)
            seg *= np.linalg.norm(ref) / norm if norm > 0 else 0.0
            continue
        a = axis % len(shape)
        S = np.moveaxis(seg.reshape(shape), a, 0).reshape(shape[a], -1)      # views: rows = filters
        R = np.moveaxis(ref.reshape(shape), a, 0).reshape(shape[a], -1)
        norms = np.linalg.norm(S, axis=1)
        scale = np.divide(np.linalg.norm(R, axis=1), norms, out=np.zeros_like(norms), where=norms > 0)
        filt = S * scale[:, None]
        seg[:] = np.moveaxis(filt.reshape((shape[a],) + tuple(np.delete(shape, a))), 0, a).reshape(-1)
    return d


# ---------------------------------------------------------------------- evaluation
def _chunk_losses(model, center, directions, coords, X, y):
    """Losses at center + coords @ directions (one task; top-level so that executors can pickle it)."""
    thetas = center + coords @ directions
    if X is None and y is None:
        if callable(model) and not hasattr(model, "loss"):
            return np.array([float(model(t)) for t in thetas])
        out = model.loss(thetas) if thetas.shape[0] > 1 else model.loss(thetas[0])
        return np.atleast_1d(np.asarray(out, dtype=np.float64))
    from .hessian import model_loss

    return np.array([model_loss(model, t, X, y) for t in thetas])


def loss_slice(model, center, directions, grid, X=None, y=None, *, executor=None, chunk_size=64,
               progress=None, labels=None, marks=None, kind="given"):
    r"""The loss on the grid :math:`\theta + \alpha d_1 (+ \beta d_2)` for given directions.

    Parameters
    ----------
    model : model object or callable
        With ``loss(theta, X, y)`` (a network: :class:`landscape.models.MLP`,
        :class:`landscape.torch.TorchModel`), ``loss(theta)`` (a
        :class:`landscape.models.QuadraticWell`, evaluated a chunk at a time), or a
        function ``theta -> loss``.
    center : array_like of shape (D,)
    directions : array_like of shape (D,), (1, D) or (2, D)
    grid : array_like, or a pair of them
        The values of alpha (a line), or (alphas, betas) (a plane).
    X, y : data for a network: arrays, or ``X`` batches (a DataLoader) and ``y`` None.
    executor : Executor, "serial" or None
        Where the chunks run (None: here, one after the other). The model and data are
        sent with every chunk to another process.
    chunk_size : int
        Grid points per task.
    progress : bool or None
        A bar over the chunks for slices that take more than a second (None: when a
        person is watching; False: never).
    labels, marks, kind
        Stored in the :class:`LossSlice` for the plots.

    Returns
    -------
    LossSlice
    """
    from .._progress import progress_bar

    center = as_float_array(center, "center", ndim=1)
    D = center.shape[0]
    dirs = as_float_array(directions, "directions", ndim=(1, 2))
    dirs = dirs[None, :] if dirs.ndim == 1 else dirs
    if dirs.shape[0] not in (1, 2) or dirs.shape[1] != D:
        raise ValueError(f"directions must have shape ({D},), (1, {D}) or (2, {D}), got {dirs.shape}")
    k = dirs.shape[0]
    if k == 1:
        coords = (as_float_array(grid, "grid", ndim=1),)
    else:
        if not isinstance(grid, (tuple, list)) or len(grid) != 2 or np.ndim(grid[0]) != 1 or np.ndim(grid[1]) != 1:
            raise TypeError("grid must be a pair (alphas, betas) of 1-D arrays for a plane (two directions)")
        coords = (as_float_array(grid[0], "grid[0] (alphas)", ndim=1),
                  as_float_array(grid[1], "grid[1] (betas)", ndim=1))
    chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
    if not (executor is None or isinstance(executor, Executor)
            or (isinstance(executor, str) and executor == "serial")):
        raise TypeError(f"executor must be a concurrent.futures.Executor, 'serial' or None, got {executor!r:.80}")
    if labels is not None and (isinstance(labels, (str, bytes)) or not hasattr(labels, "__len__")
                               or len(labels) != k or not all(isinstance(t, str) for t in labels)):
        raise TypeError(f"labels must be {k} axis label(s) (str), got {labels!r:.80}")
    if marks is not None and not isinstance(marks, dict):
        raise TypeError(f"marks must be a dict name -> coordinates, got {type(marks).__name__}")
    if not isinstance(kind, str):
        raise TypeError(f"kind must be a str, got {type(kind).__name__}")
    if X is None and y is None and not (hasattr(model, "loss") or callable(model)):
        raise TypeError(f"model must have a loss method or be a function theta -> loss, got {type(model).__name__}")
    if k == 1:
        points = coords[0][:, None]
        shape = (coords[0].size,)
    else:
        A, B = np.meshgrid(coords[0], coords[1])       # rows: beta, columns: alpha
        points = np.column_stack([A.ravel(), B.ravel()])
        shape = A.shape
    chunks = [points[i:i + chunk_size] for i in range(0, points.shape[0], chunk_size)]
    losses = []
    with progress_bar(len(chunks), "loss slice", progress=progress, unit="chunk", delay=1.0) as bar:
        if executor is None or executor == "serial":
            for c in chunks:
                losses.append(_chunk_losses(model, center, dirs, c, X, y))
                bar.update()
        else:
            futures = [executor.submit(_chunk_losses, model, center, dirs, c, X, y) for c in chunks]
            for f in futures:
                losses.append(f.result())
                bar.update()
    values = np.concatenate(losses).reshape(shape)
    if labels is None:
        labels = (r"$\alpha$",) if k == 1 else (r"$\alpha$", r"$\beta$")
    return LossSlice(center=center, directions=dirs, coords=coords, losses=values, labels=tuple(labels),
                     marks=dict(marks or {}), kind=kind)


def loss_slice_1d(model, center, X=None, y=None, *, direction=None, alphas=None, normalization="filter",
                  ignore_bias=True, seed=None, **options):
    r"""The loss along a line :math:`L(\theta + \alpha d)` through ``center``, a random filter-normalised d by default.

    Parameters
    ----------
    model, X, y
        See :func:`loss_slice`.
    center : array_like of shape (D,)
    direction : array_like of shape (D,), optional
        Default: :func:`random_direction` (``normalization``, ``ignore_bias``, ``seed``).
    alphas : array_like, optional
        Default: 51 points in [-1, 1].
    **options
        ``executor``, ``chunk_size``, ``progress`` of :func:`loss_slice`.

    Returns
    -------
    LossSlice

    Examples
    --------
    >>> import numpy as np
    >>> from landscape.models import QuadraticWell
    >>> from landscape.theory.slices import loss_slice_1d
    >>> well = QuadraticWell([2.0, 1.0])            # L = theta_1^2 + theta_2^2 / 2
    >>> line = loss_slice_1d(well, np.zeros(2), direction=[1.0, 0.0], alphas=[-1, 0, 2])
    >>> line.losses
    array([1., 0., 4.])
    """
    center = as_float_array(center, "center", ndim=1)
    if direction is None:
        direction = random_direction(model, center, normalization=normalization, ignore_bias=ignore_bias,
                                     seed=seed)
        kind = "random"
    else:
        kind = "given"
    alphas = np.linspace(-1.0, 1.0, 51) if alphas is None else as_float_array(alphas, "alphas", ndim=1)
    return loss_slice(model, center, direction, alphas, X, y, kind=kind, marks={"center": (0.0,)}, **options)


def loss_slice_2d(model, center, X=None, y=None, *, directions=None, alphas=None, betas=None,
                  normalization="filter", ignore_bias=True, seed=None, **options):
    r"""The loss on a plane :math:`L(\theta + \alpha d_1 + \beta d_2)` through ``center``.

    Two independent random filter-normalised directions by default (in high dimension they
    are nearly orthogonal, as Li et al. note).

    Parameters
    ----------
    model, X, y
        See :func:`loss_slice`.
    center : array_like of shape (D,)
    directions : array_like of shape (2, D), optional
        Default: two :func:`random_direction` draws from ``seed``.
    alphas, betas : array_like, optional
        Default: 31 points in [-1, 1] each.
    **options
        ``executor``, ``chunk_size``, ``progress`` of :func:`loss_slice`.

    Returns
    -------
    LossSlice
    """
    center = as_float_array(center, "center", ndim=1)
    if directions is None:
        rng = check_rng(seed)
        directions = np.stack([random_direction(model, center, normalization=normalization,
                                                ignore_bias=ignore_bias, seed=rng) for _ in range(2)])
        kind = "random"
    else:
        kind = "given"
    alphas = np.linspace(-1.0, 1.0, 31) if alphas is None else as_float_array(alphas, "alphas", ndim=1)
    betas = np.linspace(-1.0, 1.0, 31) if betas is None else as_float_array(betas, "betas", ndim=1)
    return loss_slice(model, center, directions, (alphas, betas), X, y, kind=kind,
                      marks={"center": (0.0, 0.0)}, **options)


def interpolation_slice(model, theta0, theta_star, X=None, y=None, *, alphas=None, direction=None,
                        betas=None, **options):
    r"""The loss on the line from :math:`\theta_0` to :math:`\theta^*`, :math:`L((1-\alpha)\theta_0 + \alpha\theta^*)`.

    With a second ``direction`` (e.g. :func:`random_direction` at :math:`\theta^*`), the plane
    :math:`\theta_0 + \alpha(\theta^* - \theta_0) + \beta d` instead: the sub-level set seen
    from :math:`\theta_0` across the whole path to the minimum.

    Parameters
    ----------
    model, X, y
        See :func:`loss_slice`.
    theta0, theta_star : array_like of shape (D,)
    alphas : array_like, optional
        Default: 81 points in [-0.5, 1.5] (0 is :math:`\theta_0`, 1 is :math:`\theta^*`).
    direction : array_like of shape (D,), optional
        The second direction of a plane.
    betas : array_like, optional
        Its coordinates (default: 41 points in [-1, 1]).
    **options
        ``executor``, ``chunk_size``, ``progress`` of :func:`loss_slice`.

    Returns
    -------
    LossSlice (marks ``theta0`` at alpha = 0 and ``theta*`` at alpha = 1)

    Examples
    --------
    >>> import numpy as np
    >>> from landscape.models import QuadraticWell
    >>> from landscape.theory.slices import interpolation_slice
    >>> well = QuadraticWell(np.ones(3))                  # minimum at 0
    >>> path = interpolation_slice(well, np.ones(3), np.zeros(3), alphas=[0.0, 0.5, 1.0])
    >>> path.losses                                       # (1 - alpha)^2 L(theta0)
    array([1.5  , 0.375, 0.   ])
    """
    theta0 = as_float_array(theta0, "theta0", ndim=1)
    theta_star = as_float_array(theta_star, "theta_star", shape=theta0.shape)
    alphas = np.linspace(-0.5, 1.5, 81) if alphas is None else as_float_array(alphas, "alphas", ndim=1)
    if betas is not None:
        betas = as_float_array(betas, "betas", ndim=1)
    path = theta_star - theta0
    if direction is None:
        return loss_slice(model, theta0, path, alphas, X, y, kind="interpolation",
                          labels=(r"$\alpha$ ($\theta_0$ at 0, $\theta^*$ at 1)",),
                          marks={r"$\theta_0$": (0.0,), r"$\theta^*$": (1.0,)}, **options)
    direction = as_float_array(direction, "direction", shape=theta0.shape)
    betas = np.linspace(-1.0, 1.0, 41) if betas is None else betas
    return loss_slice(model, theta0, np.stack([path, direction]), (alphas, betas), X, y, kind="interpolation",
                      labels=(r"$\alpha$ ($\theta_0$ at 0, $\theta^*$ at 1)", r"$\beta$"),
                      marks={r"$\theta_0$": (0.0, 0.0), r"$\theta^*$": (1.0, 0.0)}, **options)
