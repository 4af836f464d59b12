r"""Small numpy models with a flat parameter vector.

The model interface shared by training, sweeps, the PyTorch adapter and the Hessian code:

* ``n_params`` -- the number D of parameters;
* ``init_params(seed) -> (D,)`` -- a random initialization :math:`\theta_0`;
* ``loss(theta, X, y)``, ``loss_and_grad(theta, X, y) -> (float, (D,))``,
  ``accuracy(theta, X, y)``;
* ``hvp(theta, X, y, v)`` -- the exact Hessian-vector product :math:`\nabla^2 L(\theta)\, v`.

:class:`MLP` is a multilayer perceptron with softmax cross-entropy, written in plain numpy
(each layer is one BLAS matrix product, which numba would not beat at these sizes). Its
Hessian-vector product is Pearlmutter's R-operator (forward-over-reverse differentiation),
written out by hand.
"""
from __future__ import annotations


import numpy as np

from geometry.validation import as_float_array, check_choice, check_int, check_memory, check_rng
from .batches import batch_mean, is_batches

__all__ = ["MLP", "check_labels"]

_ACTIVATIONS = ("tanh", "relu")


def check_labels(y, n, n_classes, name="y"):
    """Return class labels as an int64 array of shape (n,), each in [0, n_classes).

    Float labels are accepted when they are whole numbers; anything else raises.
    """
    if isinstance(y, (str, bytes)) or y is None:
        raise TypeError(f"{name} must be an array of integer class labels, got {type(y).__name__}")
    arr = np.asarray(y)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.integer)
                                   or np.issubdtype(arr.dtype, np.floating)
                                   or arr.dtype == np.bool_):
        raise TypeError(f"{name} must be an array of integer class labels, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"{name} must have {n} labels (one per row of X), got {arr.shape[0]}")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError(f"{name} must contain whole-number class labels")
    if arr.size and np.issubdtype(arr.dtype, np.floating) and np.abs(arr).max() > 2 ** 53:
        raise ValueError(f"{name} must contain class labels below 2**53, got {np.abs(arr).max():g}")
    arr = arr.astype(np.int64)
    n_classes = check_int(n_classes, "n_classes", minimum=1)
    if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
        raise ValueError(f"{name} must contain labels in [0, {n_classes}), got range "
                         f"[{arr.min()}, {arr.max()}]")
    return arr


class MLP:
    r"""Multilayer perceptron with softmax cross-entropy loss and a flat parameter vector.

    Layer :math:`l` computes :math:`z_l = a_{l-1} W_l + b_l`, :math:`a_l = \sigma(z_l)`
    (:math:`a_0 = X`, no activation on the last layer), and the loss is the mean
    cross-entropy of the softmax of the logits :math:`z_L`:

    .. math:: L(\theta) = \frac1n \sum_{i=1}^n \Big(\log\sum_c e^{z_{L,ic}} - z_{L,i y_i}\Big).

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(n_inputs, hidden_1, ..., n_classes)``, at least two entries, ``n_classes >= 2``.
    activation : {"tanh", "relu"}
        Hidden-layer nonlinearity. ``tanh`` is smooth, so the Hessian is exact everywhere;
        for ``relu`` the Hessian-vector product is exact wherever no pre-activation is 0.

    Attributes
    ----------
    n_params : int
        D, the number of parameters: :math:`\sum_l (n_{l-1} + 1) n_l`.
    n_inputs, n_classes : int
    names, shapes : tuple
        The parameter arrays in flat-vector order, ``("W1", "b1", "W2", ...)``, and their
        shapes (as for :class:`landscape.torch.TorchModel`).

    Notes
    -----
    The flat vector stores, layer after layer, :math:`W_l` (shape ``(n_{l-1}, n_l)``, row-major)
    then :math:`b_l`. Initialization: :math:`W_l \sim N(0, g / n_{l-1})` with gain
    :math:`g = 1` for tanh (LeCun) and 2 for relu (He), :math:`b_l = 0`.

    Examples
    --------
    >>> import numpy as np
    >>> from landscape.models import MLP
    >>> model = MLP([4, 8, 3])
    >>> model.n_params
    67
    >>> theta = model.init_params(seed=0)
    >>> X = np.ones((5, 4)); y = np.array([0, 1, 2, 0, 1])
    >>> loss, grad = model.loss_and_grad(theta, X, y)
    >>> grad.shape
    (67,)
    """

    #: axis of a weight matrix (n_in, n_out) that indexes output units: the "filters" of loss-landscape views
    filter_axis = 1

    def __init__(self, layer_sizes, activation="tanh"):
        if isinstance(layer_sizes, (str, bytes)) or not hasattr(layer_sizes, "__len__"):
            raise TypeError(f"layer_sizes must be a sequence of ints, got {layer_sizes!r}")
        sizes = tuple(check_int(s, "layer_sizes entries", minimum=1) for s in layer_sizes)
        if len(sizes) < 2:
            raise ValueError(f"layer_sizes must have at least 2 entries (inputs, classes), got {sizes}")
        if sizes[-1] < 2:
            raise ValueError(f"the last layer size (number of classes) must be >= 2, got {sizes[-1]}")
        activation = check_choice(activation, "activation", _ACTIVATIONS)
        self.layer_sizes = sizes
        self.activation = activation
        self._slices = []
        names, shapes = [], []
        offset = 0
        for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            w = slice(offset, offset + n_in * n_out)
            offset += n_in * n_out
            b = slice(offset, offset + n_out)
            offset += n_out
            self._slices.append((w, (n_in, n_out), b))
            names += [f"W{l}", f"b{l}"]
            shapes += [(n_in, n_out), (n_out,)]
        check_memory(8 * offset, "layer_sizes")  # theta alone: 8 bytes per parameter
        self.n_params = offset
        self.names, self.shapes = tuple(names), tuple(shapes)

    # ------------------------------------------------------------------ description
    @property
    def n_inputs(self):
        return self.layer_sizes[0]

    @property
    def n_classes(self):
        return self.layer_sizes[-1]

    def spec(self):
        """A JSON-serialisable description (recorded in every run's protocol)."""
        return {"name": "MLP", "layer_sizes": list(self.layer_sizes), "activation": self.activation}

    def __repr__(self):
        return (f"MLP({'-'.join(map(str, self.layer_sizes))}, activation={self.activation!r}, "
                f"n_params={self.n_params})")

    def __eq__(self, other):
        return isinstance(other, MLP) and self.spec() == other.spec()

    def __hash__(self):
        return hash((self.layer_sizes, self.activation))

    # ------------------------------------------------------------------ parameters
    def init_params(self, seed=None):
        r"""A random initialization :math:`\theta_0` of shape (D,) (see Notes of the class)."""
        rng = check_rng(seed)
        gain = 1.0 if self.activation == "tanh" else 2.0
        theta = np.zeros(self.n_params)
        for w, (n_in, n_out), _ in self._slices:
            theta[w] = rng.standard_normal(n_in * n_out) * np.sqrt(gain / n_in)
        return theta

    def unflatten(self, theta):
        """List of ``(W, b)`` views into ``theta`` (no copy)."""
        theta = self._check_theta(theta)
        return self._layers(theta)

    def _layers(self, theta):
        return [(theta[w].reshape(shape), theta[b]) for w, shape, b in self._slices]

    # ------------------------------------------------------------------ validation
    def _check_theta(self, theta, name="theta"):
        return as_float_array(theta, name, shape=(self.n_params,), allow_inf=True)

    def _check_data(self, X, y):
        X = as_float_array(X, "X", ndim=2)
        if X.shape[1] != self.n_inputs:
            raise ValueError(f"X must have {self.n_inputs} columns (the model's inputs), got shape {X.shape}")
        y = check_labels(y, X.shape[0], self.n_classes)
        return X, y

    # ------------------------------------------------------------------ public API
    def logits(self, theta, X):
        """Logits :math:`z_L` of shape (n, n_classes)."""
        theta = self._check_theta(theta)
        X = as_float_array(X, "X", ndim=2)
        if X.shape[1] != self.n_inputs:
            raise ValueError(f"X must have {self.n_inputs} columns (the model's inputs), got shape {X.shape}")
        with np.errstate(all="ignore"):
            return self._forward(theta, X)[0][-1]

    def loss(self, theta, X, y=None):
        """Mean softmax cross-entropy (a float; ``nan`` or ``inf`` if theta has diverged).

        ``X`` may also be batches (a DataLoader or a list of ``(X, y)``; ``y`` None): the
        mean over all their examples (:mod:`landscape.models.batches`).
        """
        if y is None and is_batches(X):
            return batch_mean(lambda Xb, yb: self.loss(theta, Xb, yb), X, "X")
        theta = self._check_theta(theta)
        X, y = self._check_data(X, y)
        return self._loss(theta, X, y)

    def loss_and_grad(self, theta, X, y=None):
        r"""Loss and its gradient :math:`\nabla L(\theta)` of shape (D,) (backpropagation; ``X`` may be batches)."""
        if y is None and is_batches(X):
            return batch_mean(lambda Xb, yb: self.loss_and_grad(theta, Xb, yb), X, "X")
        theta = self._check_theta(theta)
        X, y = self._check_data(X, y)
        return self._loss_and_grad(theta, X, y)

    def accuracy(self, theta, X, y=None):
        """Fraction of rows whose largest logit is the label (``X`` may be batches)."""
        if y is None and is_batches(X):
            return batch_mean(lambda Xb, yb: self.accuracy(theta, Xb, yb), X, "X")
        theta = self._check_theta(theta)
        X, y = self._check_data(X, y)
        return self._accuracy(theta, X, y)

    def hvp(self, theta, X, y, v):
        r"""Exact Hessian-vector product :math:`\nabla^2 L(\theta)\, v` (R-operator).

        With ``X`` batches and ``y`` None, the product of the Hessian of the mean loss over
        all their examples, accumulated batch by batch.

        Parameters
        ----------
        theta : array_like of shape (D,)
        X : array_like of shape (n, n_inputs)
        y : array_like of int, shape (n,)
        v : array_like of shape (D,) or (D, k)
            One direction, or k directions as columns.

        Returns
        -------
        Hv : ndarray of the shape of ``v``
        """
        if y is None and is_batches(X):
            return batch_mean(lambda Xb, yb: self.hvp(theta, Xb, yb, v), X, "X")
        theta = self._check_theta(theta)
        X, y = self._check_data(X, y)
        v = as_float_array(v, "v", ndim=(1, 2))
        if v.shape[0] != self.n_params:
            raise ValueError(f"v must have {self.n_params} rows (the number of parameters), got shape {v.shape}")
        if v.ndim == 1:
            return self._hvp(theta, X, y, v)
        return np.stack([self._hvp(theta, X, y, v[:, j]) for j in range(v.shape[1])], axis=1)

    # ------------------------------------------------------------------ kernels (no validation)
    def _act(self, z):
        if self.activation == "tanh":
            a = np.tanh(z)
            return a, 1.0 - a * a
        return np.maximum(z, 0.0), (z > 0).astype(np.float64)

    def _forward(self, theta, X):
        """Activations a_0..a_{L-1}, logits, and derivatives sigma'(z_l) of the hidden layers."""
        layers = self._layers(theta)
        acts = [X]
        derivs = []
        a = X
        for i, (W, b) in enumerate(layers):
            z = a @ W + b
            if i < len(layers) - 1:
                a, da = self._act(z)
                acts.append(a)
                derivs.append(da)
            else:
                acts.append(z)
        return acts, derivs

    @staticmethod
    def _softmax_ce(z, y):
        m = z.max(axis=1, keepdims=True)
        e = np.exp(z - m)
        s = e.sum(axis=1, keepdims=True)
        logp_y = (z[np.arange(z.shape[0]), y] - m[:, 0]) - np.log(s[:, 0])
        return -logp_y.mean(), e / s

    def _loss(self, theta, X, y):
        with np.errstate(all="ignore"):
            acts, _ = self._forward(theta, X)
            return float(self._softmax_ce(acts[-1], y)[0])

    def _accuracy(self, theta, X, y):
        with np.errstate(all="ignore"):
            z = self._forward(theta, X)[0][-1]
        return float(np.mean(np.argmax(z, axis=1) == y))

    def _loss_and_grad(self, theta, X, y):
        with np.errstate(all="ignore"):
            acts, derivs = self._forward(theta, X)
            loss, p = self._softmax_ce(acts[-1], y)
            n = X.shape[0]
            delta = p
            delta[np.arange(n), y] -= 1.0
            delta /= n
            grad = np.empty(self.n_params)
            layers = self._layers(theta)
            for l in range(len(layers) - 1, -1, -1):
                w, shape, b = self._slices[l]
                grad[w] = (acts[l].T @ delta).ravel()
                grad[b] = delta.sum(axis=0)
                if l > 0:
                    delta = (delta @ layers[l][0].T) * derivs[l - 1]
        return float(loss), grad

    def _hvp(self, theta, X, y, v):
        r"""Pearlmutter's R-operator: forward pass of directional derivatives, then the
        backward pass differentiated along v."""
        with np.errstate(all="ignore"):
            layers = self._layers(theta)
            vlayers = self._layers(v)
            L = len(layers)
            # forward: a_l, z_l and their R-derivatives
            a = X
            Ra = np.zeros_like(X)
            acts, Racts, derivs, Rzs, zs = [X], [Ra], [], [], []
            for l, ((W, b), (VW, Vb)) in enumerate(zip(layers, vlayers)):
                z = a @ W + b
                Rz = Ra @ W + a @ VW + Vb
                if l < L - 1:
                    a, da = self._act(z)
                    Ra = da * Rz
                    acts.append(a)
                    Racts.append(Ra)
                    derivs.append(da)
                    zs.append(z)
                    Rzs.append(Rz)
                else:
                    logits, Rlogits = z, Rz
            n = X.shape[0]
            _, p = self._softmax_ce(logits, y)
            Rp = p * (Rlogits - np.sum(p * Rlogits, axis=1, keepdims=True))
            delta = p
            delta[np.arange(n), y] -= 1.0
            delta /= n
            Rdelta = Rp / n
            out = np.empty(self.n_params)
            for l in range(L - 1, -1, -1):
                w, shape, b = self._slices[l]
                out[w] = (Racts[l].T @ delta + acts[l].T @ Rdelta).ravel()
                out[b] = Rdelta.sum(axis=0)
                if l > 0:
                    W, VW = layers[l][0], vlayers[l][0]
                    back = delta @ W.T
                    Rback = Rdelta @ W.T + delta @ VW.T
                    da = derivs[l - 1]
                    if self.activation == "tanh":
                        # sigma'' = -2 a sigma'
                        Rda = -2.0 * acts[l] * da * Rzs[l - 1]
                    else:
                        Rda = 0.0
                    delta = back * da
                    Rdelta = Rback * da + back * Rda
        return out
