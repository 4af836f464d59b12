r"""Masks: cutting the degrees of freedom by fixing coordinates, the lottery tickets' way.

A mask :math:`m \in \{0, 1\}^D` keeps some parameters and prunes the others: the network
computed at :math:`\theta` is the one at :math:`m \odot \theta`. Training with a mask is
training in the coordinate subspace spanned by the kept coordinates, through the point
:math:`m \odot \theta_s`:

.. math:: m \odot \theta = m \odot \theta_s + P\phi, \qquad \phi \in \mathbb{R}^{\mathrm{nnz}(m)},

with :math:`P` the :math:`D \times \mathrm{nnz}(m)` selection of the kept coordinates, so
:math:`\mathrm{nnz}(m)` plays the part of the training dimension d of a random subspace.
Unlike a random subspace, the coordinate subspace is chosen from the data (the magnitudes of
a pre-trained point), and it is axis-aligned.

* :func:`prunable_parameters`: which coordinates may be pruned (by default the weights:
  parameter arrays with two or more dimensions, so biases stay free);
* :func:`magnitude_mask`: one-shot global magnitude pruning, keeping exactly the top
  fraction of the prunable coordinates by :math:`|\theta_i|`;
* :class:`MaskedModel`: any model of the :mod:`landscape.models` interface evaluated at
  :math:`m \odot \theta`, with gradient :math:`m \odot \nabla L(m \odot \theta)`, so pruned
  parameters have no effect on the output and never move under gradient training.
"""
from __future__ import annotations

import hashlib
import math
import numbers
from fractions import Fraction

import numpy as np

from geometry.validation import as_float_array, check_int

__all__ = ["PRUNABLE", "prunable_parameters", "kept_count", "magnitude_mask", "MaskedModel", "check_mask"]

#: named choices of prunable parameters
PRUNABLE = ("weights", "all")


def prunable_parameters(model, which="weights"):
    r"""The coordinates of the flat parameter vector that pruning may remove.

    Parameters
    ----------
    model : model object
        ``n_params``; for ``which="weights"`` also ``shapes`` (the parameter arrays in
        flat-vector order, as :class:`landscape.models.MLP` and
        :class:`landscape.torch.TorchModel` have).
    which : {"weights", "all"} or array_like of bool, shape (D,)
        ``"weights"``: every parameter array with ``ndim >= 2`` (the weight matrices of the
        MLP, the weights and convolution kernels of a torch module; biases and other
        vectors stay free). ``"all"``: every parameter, as in the reference code of Larsen
        et al. (its default, ``ignore_biases_bool = False``). A boolean vector: exactly those.

    Returns
    -------
    ndarray of bool, shape (D,)

    Raises
    ------
    ValueError
        Nothing is prunable, a boolean vector of the wrong length, an unknown name.
    TypeError
        ``which="weights"`` for a model without ``shapes``.
    """
    D = _n_params(model)
    if isinstance(which, str):
        if which == "all":
            return np.ones(D, dtype=bool)
        if which != "weights":
            raise ValueError(f"prunable must be one of {PRUNABLE} or a boolean array of length D (argument "
                             f"which), got {which!r:.80}")
        shapes = getattr(model, "shapes", None)
        if shapes is None:
            raise TypeError(f"prunable='weights' needs the model's parameter shapes ({type(model).__name__} has no "
                            "'shapes'); pass prunable='all' or a boolean array of length D")
        out = np.zeros(D, dtype=bool)
        offset = 0
        for shape in shapes:
            size = int(np.prod(shape, dtype=np.int64))
            out[offset:offset + size] = len(shape) >= 2
            offset += size
        if offset != D:
            raise ValueError(f"the model's parameter shapes hold {offset} entries, not n_params = {D}")
        if not out.any():
            raise ValueError(f"nothing to prune: {type(model).__name__} has no parameter array with ndim >= 2 "
                             "(pass prunable='all' or a boolean array)")
        return out
    try:
        out = check_mask(which, D, "prunable")
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{exc} (argument which)") from None
    if not out.any():
        raise ValueError("nothing to prune: the prunable array (argument which) is all False")
    return out


def _n_params(model):
    n = getattr(model, "n_params", None)
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise TypeError(f"model must have a positive integer n_params (the model interface), got "
                        f"{type(model).__name__}")
    return int(n)


def check_mask(mask, D, name="mask"):
    """A boolean vector of length D (0/1 integers accepted), else a named ValueError / TypeError."""
    D = check_int(D, "D", minimum=0)
    arr = np.asarray(mask) if not isinstance(mask, (str, bytes)) else np.asarray(None)
    if arr.dtype != bool:
        if arr.dtype.kind not in "iuf" or not np.all(np.isin(arr, (0, 1))):
            raise TypeError(f"{name} must be a boolean array (or of 0 and 1), got dtype {arr.dtype}")
        arr = arr.astype(bool)
    if arr.ndim != 1 or arr.shape[0] != D:
        raise ValueError(f"{name} must have shape ({D},) (D = {D}, one entry per parameter), got shape {arr.shape}")
    return arr.copy()


def kept_count(keep, n_prunable):
    r"""The number of prunable coordinates a keep fraction keeps: :math:`k = \lceil f\, n \rceil`.

    The product is taken exactly, less a tolerance of :math:`n\,2^{-40}` for the rounding of
    the float ``keep`` (0.1 is stored a hair above 1/10, and 0.1 of 10 coordinates keeps 1,
    not 2). At least one coordinate is kept.

    Raises
    ------
    ValueError
        ``keep`` outside (0, 1].
    """
    if isinstance(keep, bool) or not isinstance(keep, numbers.Real) or not math.isfinite(float(keep)):
        raise ValueError(f"keep must be a fraction in (0, 1], got {keep!r}")
    keep = float(keep)
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"keep must be a fraction in (0, 1], got {keep}")
    n = check_int(n_prunable, "n_prunable", minimum=0)
    k = math.ceil(Fraction(keep) * n - Fraction(n, 2 ** 40))
    return max(1, min(n, k))


def magnitude_mask(theta, keep=None, *, n_keep=None, prunable=None):
    r"""One-shot global magnitude pruning: keep the k prunable coordinates of largest :math:`|\theta_i|`.

    .. math:: m_i = 1 \iff i \notin \mathcal{P} \ \text{ or } \
              \big|\{j \in \mathcal{P} : |\theta_j| > |\theta_i|\}\big| + \big|\{j \in \mathcal{P} : j < i,\
              |\theta_j| = |\theta_i|\}\big| < k

    with :math:`\mathcal{P}` the prunable coordinates and :math:`k = \lceil f\,|\mathcal{P}|\rceil`
    (:func:`kept_count`). Exactly k prunable coordinates are kept; the others (biases, by
    default) always are, so :math:`\mathrm{nnz}(m) = k + D - |\mathcal{P}|`.

    Ties: coordinates of equal magnitude are ranked by their position in the flat vector
    (lower index first), so the mask is unique and keeps exactly k. (The reference code of
    Larsen et al. keeps every :math:`|\theta_i| \ge` the value at rank :math:`\lceil f n\rceil`
    counted from 0, i.e. :math:`\lceil f n\rceil + 1` coordinates plus all ties.)

    Parameters
    ----------
    theta : array_like of shape (D,)
        The point whose magnitudes decide (a pre-trained point, for lottery tickets).
    keep : float in (0, 1], optional
        Fraction f of the prunable coordinates to keep.
    n_keep : int, optional
        Or the number k to keep directly (exactly one of ``keep`` and ``n_keep``).
    prunable : array_like of bool, shape (D,), optional
        Default: every coordinate (see :func:`prunable_parameters`).

    Returns
    -------
    ndarray of bool, shape (D,)

    Examples
    --------
    >>> import numpy as np
    >>> magnitude_mask(np.array([0.5, -3.0, 0.1, 2.0]), keep=0.5)
    array([False,  True, False,  True])
    >>> magnitude_mask(np.array([1.0, -1.0, 1.0, 0.2]), n_keep=2)   # ties: lower index first
    array([ True,  True, False, False])
    """
    theta = as_float_array(theta, "theta", ndim=1)
    D = theta.shape[0]
    prunable = np.ones(D, dtype=bool) if prunable is None else check_mask(prunable, D, "prunable")
    idx = np.flatnonzero(prunable)
    if idx.size == 0:
        raise ValueError("nothing to prune: the prunable array is all False")
    if (keep is None) == (n_keep is None):
        raise ValueError("give exactly one of keep (a fraction in (0, 1]) and n_keep (a count)")
    if keep is not None:
        k = kept_count(keep, idx.size)
    else:
        if isinstance(n_keep, bool) or not isinstance(n_keep, numbers.Integral) or not 1 <= n_keep <= idx.size:
            raise ValueError(f"n_keep must be an integer in [1, {idx.size}] (the prunable coordinates), "
                             f"got {n_keep!r}")
        k = int(n_keep)
    order = np.argsort(-np.abs(theta[idx]), kind="stable")  # largest first, ties by position
    mask = ~prunable
    mask[idx[order[:k]]] = True
    return mask


class MaskedModel:
    r"""A model evaluated at :math:`m \odot \theta`: the pruned network of a mask.

    .. math:: L_m(\theta) = L(m \odot \theta), \qquad \nabla L_m(\theta) = m \odot \nabla L(m \odot \theta).

    Pruned coordinates have no effect on the loss, the outputs or the accuracy (their
    values are replaced by exact zeros, so even NaN there changes nothing), and their
    gradient is exactly 0, so gradient training never moves them. Kept coordinates pass
    through unchanged (bitwise): with a mask of ones this is the model itself.

    Parameters
    ----------
    model : model object
        The model interface of :mod:`landscape.models` (``n_params``, ``init_params``,
        ``loss``, ``loss_and_grad``, ``accuracy``; also ``logits`` and ``hvp`` when it has them).
    mask : array_like of bool, shape (D,)

    Attributes
    ----------
    nnz : int
        The number of kept (free) parameters.
    """

    def __init__(self, model, mask):
        self.model = model
        self.n_params = _n_params(model)
        self.mask = check_mask(mask, self.n_params)
        self.mask.setflags(write=False)
        self.nnz = int(self.mask.sum())
        if self.nnz == 0:
            raise ValueError("mask must keep at least one parameter")

    # the data interface of the wrapped model (n_inputs, n_classes, names, shapes, ...)
    def __getattr__(self, name):
        if name.startswith("_") or name == "model":
            raise AttributeError(name)
        if name in ("n_inputs", "n_classes", "names", "shapes", "is_classifier", "input_shape"):
            return getattr(self.model, name)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def spec(self):
        """The wrapped model's spec and a digest of the mask."""
        base = self.model.spec() if hasattr(self.model, "spec") else repr(self.model)
        digest = hashlib.sha1(np.packbits(self.mask).tobytes()).hexdigest()[:16]
        return {"name": "masked", "model": base, "nnz": self.nnz, "mask": digest}

    def __repr__(self):
        return f"MaskedModel({self.model!r}, nnz={self.nnz} of {self.n_params})"

    def apply(self, theta):
        r""":math:`m \odot \theta` (a new array; pruned entries exactly 0)."""
        return np.where(self.mask, theta, 0.0)

    def init_params(self, seed=None):
        return self.model.init_params(seed)

    def loss(self, theta, X, y):
        return self.model.loss(self.apply(self._shape(theta)), X, y)

    def accuracy(self, theta, X, y):
        return self.model.accuracy(self.apply(self._shape(theta)), X, y)

    def logits(self, theta, X):
        return self.model.logits(self.apply(self._shape(theta)), X)

    def loss_and_grad(self, theta, X, y):
        value, g = self.model.loss_and_grad(self.apply(self._shape(theta)), X, y)
        return value, np.where(self.mask, g, 0.0)

    def hvp(self, theta, X, y, v):
        r""":math:`M \nabla^2 L(m \odot \theta) M v` with :math:`M = \mathrm{diag}(m)`."""
        v = np.asarray(v, dtype=np.float64)
        m = self.mask if v.ndim == 1 else self.mask[:, None]
        out = self.model.hvp(self.apply(self._shape(theta)), X, y, np.where(m, v, 0.0))
        return np.where(m, out, 0.0)

    def _shape(self, theta):
        arr = np.asarray(theta)
        if arr.shape != (self.n_params,):
            raise ValueError(f"theta must have shape ({self.n_params},), got {arr.shape}")
        return arr

    # unchecked kernels of the wrapped model, when it has them (the training loop uses these)
    def _kernel(self, name):
        inner = getattr(self.model, name, None)
        if inner is None:
            raise AttributeError(name)
        return inner

    @property
    def _loss(self):
        inner = self._kernel("_loss")
        return lambda theta, X, y: inner(self.apply(theta), X, y)

    @property
    def _accuracy(self):
        inner = self._kernel("_accuracy")
        return lambda theta, X, y: inner(self.apply(theta), X, y)

    @property
    def _loss_and_grad(self):
        inner = self._kernel("_loss_and_grad")

        def f(theta, X, y):
            value, g = inner(self.apply(theta), X, y)
            return value, np.where(self.mask, g, 0.0)

        return f
