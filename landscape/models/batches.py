r"""Data given as batches: a ``torch.utils.data.DataLoader``, or any re-iterable of ``(X, y)`` pairs.

Wherever the toolkit takes data (a model's loss, gradient and Hessian-vector products,
:meth:`landscape.theory.spectral_model.SpectralModel.from_model`, sweeps and training), it
also takes batches. Quantities that are means over examples are accumulated over the
batches exactly, each batch weighted by its number of rows:

.. math::

    L(\theta) = \frac1n \sum_{i=1}^n \ell_i(\theta)
              = \sum_b \frac{n_b}{n}\, L_b(\theta), \qquad
    \nabla L = \sum_b \frac{n_b}{n}\nabla L_b, \qquad
    H v = \sum_b \frac{n_b}{n} H_b v,

with :math:`L_b` the mean loss of batch b (:math:`n_b` rows, :math:`n = \sum_b n_b`). This is
what PyHessian users expect: the Hessian of the loss over the whole data set, one batch
in memory at a time. It equals the array path up to floating-point rounding.

Batches must be re-iterable (a DataLoader, a list, a tuple): Hessian-vector products
pass over the data once per product. A one-shot iterator (a generator) is refused with a
TypeError; wrap it in ``list(...)``.
"""
from __future__ import annotations

import numpy as np

__all__ = ["is_batches", "check_batches", "iter_batches", "batch_mean", "collect_batches"]


def _is_array(x):
    if isinstance(x, np.ndarray):
        return True
    mod = type(x).__module__ or ""
    return mod.startswith("torch") and type(x).__name__ in ("Tensor", "Parameter")


def is_batches(data):
    """Whether ``data`` is batches (an iterable that is not an array, a tensor, a string or a Dataset)."""
    # a Dataset (duck-typed: this module imports nothing from the others of its stage)
    if data is None or isinstance(data, (str, bytes, dict)) or _is_array(data) or hasattr(data, "X_train"):
        return False
    if isinstance(data, (list, tuple)):
        # a list of (X, y) pairs, not a nested list of numbers (an array written as a list)
        return len(data) > 0 and all(isinstance(b, (list, tuple)) and len(b) == 2
                                     and not np.isscalar(b[0]) for b in data)
    return hasattr(data, "__iter__")


def check_batches(data, name="data"):
    """Return ``data`` if it is a re-iterable of batches, else raise a TypeError naming ``name``."""
    if not is_batches(data):
        raise TypeError(f"{name} must be arrays or a re-iterable of (X, y) batches (a DataLoader, a list), "
                        f"got {type(data).__name__}")
    if iter(data) is data:
        raise TypeError(f"{name} is a one-shot iterator ({type(data).__name__}); batches are read several "
                        "times (once per Hessian-vector product): pass a DataLoader or list(...) of batches")
    return data


def _to_numpy(x):
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor
        return x.detach().cpu().numpy()
    return np.asarray(x)


def iter_batches(data, name="data"):
    """Yield ``(X, y, n_rows)`` for each batch of ``data`` (X and y as given: arrays or tensors).

    Raises a ValueError when a batch is not an ``(X, y)`` pair with as many labels as rows,
    or when there is no batch at all.
    """
    check_batches(data, name)
    count = 0
    for i, batch in enumerate(data):
        if isinstance(batch, dict):
            raise TypeError(f"{name}: batch {i} is a dict; give (X, y) pairs (e.g. a collate_fn returning a tuple)")
        try:
            Xb, yb = batch
        except (TypeError, ValueError):
            raise ValueError(f"{name}: batch {i} must be an (X, y) pair, got {type(batch).__name__}") from None
        n = len(Xb)
        if len(yb) != n:
            raise ValueError(f"{name}: batch {i} has {n} rows of X but {len(yb)} labels")
        if n == 0:
            continue
        count += 1
        yield Xb, yb, n
    if count == 0:
        raise ValueError(f"{name} yielded no (non-empty) batches")


def batch_mean(fn, data, name="data"):
    r"""The mean over all examples of a per-batch mean: :math:`\sum_b n_b\, f(X_b, y_b) / \sum_b n_b`.

    Parameters
    ----------
    fn : callable ``(X, y) -> float, ndarray, or a tuple of them``
        The mean of a quantity over one batch (a loss, a gradient, a Hessian-vector
        product); each entry of a tuple (e.g. ``(loss, gradient)``) is averaged.
    data : re-iterable of (X, y)

    Returns
    -------
    float, ndarray, or a tuple of them (as ``fn`` returns)

    Examples
    --------
    >>> import numpy as np
    >>> from landscape.models.batches import batch_mean
    >>> X = np.arange(10.0)[:, None]; y = np.zeros(10)
    >>> batches = [(X[:3], y[:3]), (X[3:], y[3:])]
    >>> batch_mean(lambda Xb, yb: Xb.mean(), batches), float(X.mean())
    (4.5, 4.5)
    """
    total, n = None, 0
    for Xb, yb, m in iter_batches(data, name):
        value = fn(Xb, yb)
        parts = value if isinstance(value, tuple) else (value,)
        parts = [p * m if isinstance(p, np.ndarray) else float(p) * m for p in parts]
        total = parts if total is None else [t + p for t, p in zip(total, parts)]
        n += m
    out = tuple(t / n for t in total)
    return out if isinstance(value, tuple) else out[0]


def collect_batches(data, name="data"):
    """All batches concatenated: ``(X, y)`` numpy arrays (rows in the order the batches came)."""
    Xs, ys = [], []
    for Xb, yb, _ in iter_batches(data, name):
        Xs.append(_to_numpy(Xb))
        ys.append(_to_numpy(yb))
    return np.concatenate(Xs, axis=0), np.concatenate(ys, axis=0)
