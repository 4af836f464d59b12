r"""PyTorch adapter: any ``torch.nn.Module`` as a model with a flat parameter vector, and subspace training.

Optional: needs ``torch`` (extra ``[torch]``); :mod:`landscape` never imports this module by
itself. Parameters are handled as one flat vector :math:`\theta \in \mathbb{R}^D` and fed
to the module through :func:`torch.func.functional_call`, so the module itself is never
modified: neither its parameters nor its buffers (BatchNorm running statistics,
``num_batches_tracked``), nor, after a call, its train/eval mode.

Stateful modules (BatchNorm, Dropout): by default (``mode="eval"``) every call evaluates the
module in evaluation mode, so BatchNorm normalises with its stored running statistics and
Dropout is off. The loss is then a deterministic function of :math:`\theta`, a mean over
examples: a single example can be probed, and losses, gradients and Hessian-vector
products accumulate exactly over batches. ``mode="train"`` uses training-mode behaviour
(BatchNorm normalises with each batch's own statistics); the running statistics are still
never updated (the buffers are copied for every call).

Data: every method that takes ``(X, y)`` also takes batches, ``X`` a
:class:`torch.utils.data.DataLoader` (or a list of ``(X, y)``) and ``y`` None; means over
examples are accumulated batch by batch (:mod:`landscape.models.batches`).

* :class:`TorchModel` gives a module the numpy model interface of :mod:`landscape.models`
  (``n_params``, ``init_params(seed)``, ``loss``, ``loss_and_grad``, ``accuracy``,
  ``hvp(theta, X, y, v)``, ``spec()``), so training, sweeps, Hessian spectra and
  predictions work with torch models too.
* :class:`TorchSubspaceModel` trains in a random affine subspace,
  :math:`\theta = \theta_0 + A\phi` with :math:`\phi \in \mathbb{R}^d` from 0, with torch
  optimizers (SGD, momentum, Adam) for a fixed budget of steps, and returns a
  :class:`TorchTrainResult` with the protocol. ``A`` can be a
  :class:`landscape.subspaces.SubspaceMap`, a dense (D, d) matrix, or an int d (a fresh
  random subspace); :func:`torch_projection` turns a map into a differentiable torch
  function.

Hessian-vector products are exact: double backward (the default), or forward-over-reverse
differentiation (:func:`torch.func.jvp` of :func:`torch.func.grad`).

Speed and devices: the subspace map is drawn in the model's dtype and applied on the
model's device as torch operations (a dense map is one ``torch.addmv``, the plain-torch
step; sparse maps are CSR tensors; Fastfood runs the numba FWHT on the tensors' memory on
the CPU, a torch FWHT elsewhere), so a step never leaves torch. Modules on a GPU work the
same way (numpy results are copied back). Threads: training picks the thread counts of
torch, numba and BLAS from the size of the step (one thread for small steps, where torch's
intra-op threads cost more than they give: a 26-parameter gradient took 80 ms with 2
threads under load, 1 ms with one; all cores, one pool busy at a time, for large ones; see
:mod:`landscape._threads`); ``train(..., threads=k)`` overrides it.

Reproducibility: initializations and minibatch orders come from ``seed`` through private
:class:`torch.Generator` objects and :func:`torch.random.fork_rng`, never the global state.
Same seed, same thread count -> bitwise the same result; a different number of torch
threads may change the last bits of float sums.
"""
from __future__ import annotations

import contextlib
import copy
import hashlib
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.func import functional_call

from geometry.validation import as_float_array, check_choice, check_int, check_memory, check_positive, check_rng

from .batches import batch_mean, check_batches, is_batches, iter_batches

__all__ = [
    "TorchModel",
    "TorchSubspaceModel",
    "TorchTrainResult",
    "torch_projection",
    "torch_seed",
    "train_full",
]

_LOSSES = ("cross_entropy", "mse")
_MODES = ("eval", "train")


def torch_seed(seed):
    """An int seed for torch from ``seed`` (int, Generator, SeedSequence or None) via numpy.

    An int seed maps to itself; a Generator is advanced by one draw.
    """
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0:
        return int(seed)
    rng = check_rng(seed)
    return int(rng.integers(2 ** 62))


def _to_tensor(x, dtype, device=None):
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64)).to(device=device, dtype=dtype)


def _to_numpy(t):
    """A float64 numpy copy of a tensor on any device."""
    return t.detach().to(device="cpu", dtype=torch.float64).numpy().copy()


@contextlib.contextmanager
def _module_mode(module, training):
    """Run with every submodule in train (True) or eval (False) mode; restore each one's own mode after."""
    saved = [(m, m.training) for m in module.modules()]
    if all(flag == training for _, flag in saved):
        yield
        return
    try:
        module.train(training)
        yield
    finally:
        for m, flag in saved:
            m.training = flag


class TorchModel:
    r"""A ``torch.nn.Module`` with a flat parameter vector and the numpy model interface.

    The loss is the mean over examples of ``loss(module(X), y)``:

    .. math:: L(\theta) = \frac1n\sum_{i=1}^n \ell(f_\theta(x_i), y_i),

    with :math:`\ell` the softmax cross-entropy (``loss="cross_entropy"``, integer labels)
    or the squared error :math:`\|f_\theta(x) - y\|^2` averaged over output entries
    (``loss="mse"``, :func:`torch.nn.functional.mse_loss`), or any callable
    ``loss(output, target) -> scalar tensor`` that averages over the batch.

    Parameters
    ----------
    module : torch.nn.Module
        Its parameters, in ``named_parameters()`` order, make up :math:`\theta`; buffers
        are used as they are. The module's train/eval mode is left as it is.
    loss : {"cross_entropy", "mse"} or callable
    input_shape : tuple of int, optional
        Shape of one example (e.g. ``(1, 8, 8)`` for 8x8 one-channel images). When given,
        ``X`` may also come flattened, of shape (n, prod(input_shape)) (the 2-D data of
        :class:`landscape.models.datasets.Dataset`), ``n_inputs`` and ``n_classes`` are defined, and
        ``X`` of any other shape raises a ValueError before the module is called.
    dtype : torch.dtype, optional
        Computation dtype (default: that of the module's parameters). numpy inputs and
        outputs are always float64.

    The module may live on any device (all its parameters on one): data and parameters
    are moved there once per call, and numpy results are copied back (``device``
    attribute).
    eval_batch_size : int, optional
        Evaluate losses over X in chunks of this many rows (memory bound); default one pass.
    mode : {"eval", "train"}
        How stateful submodules behave in every call. ``"eval"`` (default): evaluation
        mode (BatchNorm uses its running statistics, Dropout is off); the loss is a mean
        over examples. ``"train"``: training mode (BatchNorm uses batch statistics; Dropout
        draws from torch's global random state). In both, the module's parameters,
        buffers and own mode are left untouched.

    Attributes
    ----------
    n_params : int
        D.
    names, shapes : tuple
        The parameters' names and shapes, in flat-vector order.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from landscape.torch import TorchModel
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 3)).double()
    >>> model = TorchModel(net, input_shape=(4,))
    >>> model.n_params
    15
    >>> theta = model.init_params(seed=0)
    >>> X = np.ones((5, 4)); y = np.array([0, 1, 2, 0, 1])
    >>> loss, grad = model.loss_and_grad(theta, X, y)
    >>> grad.shape
    (15,)
    """

    def __init__(self, module, loss="cross_entropy", *, input_shape=None, dtype=None, eval_batch_size=None,
                 mode="eval"):
        if not isinstance(module, torch.nn.Module):
            raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
        params = list(module.named_parameters())
        if not params:
            raise ValueError("module has no parameters")
        devices = {p.device for _, p in params}
        if len(devices) != 1:
            raise ValueError(f"module parameters must all be on one device, got devices {sorted(map(str, devices))}")
        if next(iter(devices)).type == "meta":
            raise ValueError("module parameters are on the 'meta' device (shapes without data): move the module "
                             "to the CPU or a GPU first")
        if isinstance(loss, str):
            if loss not in _LOSSES:
                raise ValueError(f"loss must be one of {_LOSSES} or a callable, got {loss!r}")
        elif not callable(loss):
            raise TypeError(f"loss must be one of {_LOSSES} or a callable, got {type(loss).__name__}")
        if dtype is None:
            dtype = params[0][1].dtype
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
        if input_shape is not None:
            if isinstance(input_shape, (int, np.integer)):
                input_shape = (input_shape,)
            if isinstance(input_shape, (str, bytes)) or not hasattr(input_shape, "__iter__"):
                raise TypeError(f"input_shape must be a tuple of ints, got {input_shape!r:.80}")
            input_shape = tuple(check_int(s, "input_shape entries", minimum=1) for s in input_shape)
        if eval_batch_size is not None:
            eval_batch_size = check_int(eval_batch_size, "eval_batch_size", minimum=1)
        mode = check_choice(mode, "mode", _MODES)
        self.mode = mode
        self.module = module
        self.loss_name = loss if isinstance(loss, str) else getattr(loss, "__name__", "custom")
        self._loss_fn = loss
        self.input_shape = input_shape
        self.dtype = dtype
        self.eval_batch_size = eval_batch_size
        self.names = tuple(n for n, _ in params)
        self.shapes = tuple(tuple(p.shape) for _, p in params)
        self.numels = tuple(int(p.numel()) for _, p in params)
        self.n_params = int(sum(self.numels))
        self.device = next(iter(devices))
        self._n_classes = None

    # ------------------------------------------------------------------ description
    @property
    def is_classifier(self):
        return self._loss_fn == "cross_entropy"

    @property
    def n_inputs(self):
        """Number of input features of one (flattened) example; needs ``input_shape``."""
        if self.input_shape is None:
            raise AttributeError("n_inputs is known only when the model was given input_shape")
        return int(np.prod(self.input_shape))

    @property
    def n_classes(self):
        """Number of classes (outputs) of a classifier; needs ``input_shape`` (one forward pass)."""
        if self.input_shape is None or not self.is_classifier:
            raise AttributeError("n_classes is known only for a classifier given input_shape")
        if self._n_classes is None:
            with torch.no_grad():
                out = self.forward(_to_tensor(self.get_params(), self.dtype, self.device),
                                   torch.zeros((1,) + self.input_shape, dtype=self.dtype, device=self.device),
                                   mode="eval")
            self._n_classes = int(out.shape[-1])
        return self._n_classes

    def spec(self):
        """A JSON-serialisable description (recorded in every run's protocol)."""
        return {
            "name": "torch",
            "module": type(self.module).__name__,
            "architecture": repr(self.module),
            "n_params": self.n_params,
            "loss": self.loss_name,
            "input_shape": None if self.input_shape is None else list(self.input_shape),
            "dtype": str(self.dtype),
            # the current parameters (those of submodules without reset_parameters survive
            # init_params) and buffers (running statistics): equal specs give equal runs
            "fingerprint": self._fingerprint(),
            **({"mode": self.mode} if self.mode != "eval" else {}),
        }

    def _fingerprint(self):
        h = hashlib.sha1(self.get_params().tobytes())
        for name, buf in self.module.named_buffers():  # none for modules without state
            h.update(name.encode())
            h.update(buf.detach().cpu().contiguous().reshape(-1).to(torch.float64).numpy().tobytes())
        return h.hexdigest()[:16]

    def __repr__(self):
        mode = f", mode={self.mode!r}" if self.mode != "eval" else ""
        return f"TorchModel({type(self.module).__name__}, n_params={self.n_params}, loss={self.loss_name!r}{mode})"

    # ------------------------------------------------------------------ flat parameters
    def get_params(self):
        """The module's current parameters as a flat float64 vector of shape (D,)."""
        with torch.no_grad():
            flat = torch.cat([p.detach().reshape(-1).to(torch.float64) for p in self.module.parameters()])
        return flat.cpu().numpy().copy()

    def unflatten(self, theta):
        """Dict ``name -> tensor`` of views into the flat torch tensor ``theta`` (shape (D,))."""
        if theta.shape != (self.n_params,):
            raise ValueError(f"theta must have shape ({self.n_params},), got {tuple(theta.shape)}")
        return {n: t.view(s) for n, t, s in zip(self.names, torch.split(theta, self.numels), self.shapes)}

    def init_params(self, seed=None):
        r"""A random initialization :math:`\theta_0` of shape (D,), reproducible from ``seed``.

        Every submodule with a ``reset_parameters`` method (the built-in layers) is
        re-initialised, on a copy of the module, with torch's default initialisation under
        the CPU generator seeded with ``torch_seed(seed)`` inside :func:`torch.random.fork_rng`
        (the global random state is left untouched). Parameters of other submodules
        keep their current values. The copy is made on the CPU, whatever the module's
        device, so one seed gives the same :math:`\theta_0` on a CPU and on a GPU.
        """
        s = torch_seed(seed)
        clone = copy.deepcopy(self.module).to("cpu")
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(s)  # the CPU generator only: GPU states untouched
            for sub in clone.modules():
                reset = getattr(sub, "reset_parameters", None)
                if callable(reset):
                    reset()
        with torch.no_grad():
            flat = torch.cat([p.detach().reshape(-1).to(torch.float64) for p in clone.parameters()])
        return _to_numpy(flat)

    # ------------------------------------------------------------------ torch-level functions
    def forward(self, theta, X, *, mode=None):
        """Module output at the flat parameters ``theta`` (torch tensors, differentiable).

        The module runs in ``mode`` (default ``self.mode``) with copies of its buffers, and its
        own mode is restored afterwards: the module is left exactly as it was.
        """
        mode = self.mode if mode is None else mode
        params = self.unflatten(theta.to(self.dtype))
        buffers = {n: b.clone() for n, b in self.module.named_buffers()}
        with _module_mode(self.module, training=mode == "train"):
            return functional_call(self.module, (params, buffers), (X,))

    def _criterion(self, out, y):
        if self._loss_fn == "cross_entropy":
            return torch.nn.functional.cross_entropy(out, y)
        if self._loss_fn == "mse":
            return torch.nn.functional.mse_loss(out, y)
        return self._loss_fn(out, y)

    def torch_loss(self, theta, X, y):
        r"""Mean loss :math:`L(\theta)` on a batch, as a differentiable torch scalar."""
        if self.eval_batch_size is None or X.shape[0] <= self.eval_batch_size:
            return self._criterion(self.forward(theta, X), y)
        n = X.shape[0]
        total = 0.0
        for i in range(0, n, self.eval_batch_size):
            sl = slice(i, i + self.eval_batch_size)
            total = total + self._criterion(self.forward(theta, X[sl]), y[sl]) * (X[sl].shape[0] / n)
        return total

    # ------------------------------------------------------------------ validation
    def _check_theta(self, theta, name="theta"):
        return as_float_array(theta, name, shape=(self.n_params,), allow_inf=True)

    def _check_X(self, X):
        if isinstance(X, torch.Tensor):
            X = X.detach().cpu().numpy()
        X = as_float_array(X, "X", ndim=None)
        if X.ndim < 1:
            raise ValueError("X must have one row per example, got a scalar")
        if self.input_shape is not None and tuple(X.shape[1:]) != self.input_shape:
            if X.ndim == 2 and X.shape[1] == self.n_inputs:
                return X.reshape((X.shape[0],) + self.input_shape)  # flattened examples
            raise ValueError(
                f"X must have shape (n, {', '.join(map(str, self.input_shape))}) (n examples of the "
                f"model's input shape {self.input_shape}) or (n, {self.n_inputs}) (flattened), got {X.shape}"
            )
        return X

    def _check_y(self, y, n, out):
        if isinstance(y, torch.Tensor):
            y = y.detach().cpu().numpy()
        if self._loss_fn == "cross_entropy":
            from .mlp import check_labels

            if out.ndim != 2:
                raise ValueError(f"cross-entropy needs module outputs of shape (n, n_classes), got {tuple(out.shape)}")
            return torch.from_numpy(check_labels(y, n, int(out.shape[1]))).to(self.device)
        y = as_float_array(y, "y", ndim=None)
        if y.shape[:1] != (n,):
            raise ValueError(f"y must have {n} rows (one per row of X), got shape {y.shape}")
        if self._loss_fn == "mse" and tuple(y.shape[1:]) != tuple(out.shape[1:]):
            want = ", ".join(["n"] + [str(k) for k in out.shape[1:]])
            raise ValueError(f"y must have the shape of the module's output ({want}), got {y.shape}")
        return _to_tensor(y, self.dtype, self.device)

    def _prepare(self, theta, X, y):
        """Validated torch tensors (theta, X, y)."""
        theta = _to_tensor(self._check_theta(theta), self.dtype, self.device)
        X = _to_tensor(self._check_X(X), self.dtype, self.device)
        with torch.no_grad():
            try:
                out = self.forward(theta, X[:1], mode="eval")  # a shape probe: one example, no batch statistics
            except RuntimeError as exc:
                raise ValueError(f"X of shape {tuple(X.shape)} does not fit the module: {exc}") from None
        return theta, X, self._check_y(y, X.shape[0], out)

    def prepare_data(self, X, y):
        """Validate and convert a data set once: returns torch tensors (X, y) for :meth:`torch_loss`."""
        return self._prepare(np.zeros(self.n_params), X, y)[1:]

    # ------------------------------------------------------------------ numpy interface
    def logits(self, theta, X):
        """Module outputs at ``theta``, as a float64 array (n, ...) (``X`` may be batches: rows in their order)."""
        if is_batches(X):
            return np.concatenate([self.logits(theta, Xb) for Xb, _, _ in iter_batches(X, "X")], axis=0)
        theta_t = _to_tensor(self._check_theta(theta), self.dtype, self.device)
        X_t = _to_tensor(self._check_X(X), self.dtype, self.device)
        with torch.no_grad():
            try:
                out = self.forward(theta_t, X_t)
            except RuntimeError as exc:
                raise ValueError(f"X of shape {tuple(X_t.shape)} does not fit the module: {exc}") from None
        return _to_numpy(out)

    def loss(self, theta, X, y=None):
        """Mean loss at ``theta`` (a float); over all examples of ``X`` when it is batches (``y`` None)."""
        if y is None and is_batches(X):
            return batch_mean(lambda Xb, yb: self.loss(theta, Xb, yb), X, "X")
        theta, X, y = self._prepare(theta, X, y)
        with torch.no_grad():
            return float(self.torch_loss(theta, X, y))

    def loss_and_grad(self, theta, X, y=None):
        r"""Loss and gradient :math:`\nabla L(\theta)` of shape (D,) (reverse-mode autograd).

        With ``X`` batches (``y`` None): :math:`\sum_b n_b (L_b, \nabla L_b) / \sum_b n_b`.
        """
        if y is None and is_batches(X):
            return batch_mean(lambda Xb, yb: self.loss_and_grad(theta, Xb, yb), X, "X")
        theta, X, y = self._prepare(theta, X, y)
        theta.requires_grad_(True)
        value = self.torch_loss(theta, X, y)
        (grad,) = torch.autograd.grad(value, theta)
        return float(value.detach()), _to_numpy(grad)

    def accuracy(self, theta, X, y=None):
        """Fraction of rows whose largest output is the label (cross-entropy models only; ``X`` may be batches)."""
        if not self.is_classifier:
            raise ValueError(f"accuracy is defined for classifiers (loss='cross_entropy'), not loss={self.loss_name!r}")
        if y is None and is_batches(X):
            return batch_mean(lambda Xb, yb: self.accuracy(theta, Xb, yb), X, "X")
        theta, X, y = self._prepare(theta, X, y)
        with torch.no_grad():
            correct = 0
            step = self.eval_batch_size or X.shape[0]
            for i in range(0, X.shape[0], step):
                correct += int((self.forward(theta, X[i:i + step]).argmax(dim=1) == y[i:i + step]).sum())
        return correct / X.shape[0]

    def hvp_function(self, theta, X, y=None, *, method="double-backward"):
        r"""A function ``v -> H v`` (numpy, shape (D,)) at fixed ``theta`` and data, for :mod:`landscape.theory.hessian`.

        The data are validated and converted once. With ``X`` batches (a DataLoader, ``y``
        None), each product passes over the batches and returns
        :math:`\sum_b n_b H_b v / \sum_b n_b`, the Hessian of the mean loss over all examples
        (one batch in memory at a time, as PyHessian does).

        Parameters
        ----------
        method : {"double-backward", "forward-over-reverse"}
            The gradient of :math:`\langle\nabla L, v\rangle` through the graph of the
            gradient, built once with ``create_graph=True`` (default: fastest on CPU for small
            models, and supported by every op), or :func:`torch.func.jvp` of
            :func:`torch.func.grad` (forward mode through the backward pass; some ops, e.g.
            ``mse_loss`` in torch 2.13, do not support it).
        """
        method = check_choice(method, "method", ("forward-over-reverse", "double-backward"))
        D = self.n_params
        if y is None and is_batches(X):
            theta = self._check_theta(theta)
            batches = X

            def batched(v):
                v = as_float_array(v, "v", ndim=1)
                if v.shape[0] != D:
                    raise ValueError(f"v must have {D} entries (the number of parameters), got shape {v.shape}")
                return batch_mean(lambda Xb, yb: self.hvp_function(theta, Xb, yb, method=method)(v), batches, "X")

            check_batches(batches, "X")
            return batched
        theta, X, y = self._prepare(theta, X, y)

        def f(t):
            return self.torch_loss(t, X, y)

        if method == "forward-over-reverse":
            grad_f = torch.func.grad(f)

            def hvp(v):
                v_t = _to_tensor(v, self.dtype, self.device)
                try:
                    out = torch.func.jvp(grad_f, (theta,), (v_t,))[1]
                except RuntimeError as exc:
                    raise RuntimeError(f"forward-over-reverse differentiation failed in torch ({exc}); "
                                       "use method='double-backward'") from None
                return _to_numpy(out)
        else:
            t = theta.clone().requires_grad_(True)
            (g,) = torch.autograd.grad(f(t), t, create_graph=True)

            def hvp(v):
                v_t = _to_tensor(v, self.dtype, self.device)
                (hv,) = torch.autograd.grad(g, t, grad_outputs=v_t, retain_graph=True)
                return _to_numpy(hv)

        def checked(v):
            v = as_float_array(v, "v", ndim=1)
            if v.shape[0] != D:
                raise ValueError(f"v must have {D} entries (the number of parameters), got shape {v.shape}")
            return hvp(v)

        return checked

    def hvp(self, theta, X, y=None, v=None, *, method="double-backward"):
        r"""Exact Hessian-vector product :math:`\nabla^2 L(\theta)\, v`.

        Parameters
        ----------
        theta : array_like of shape (D,)
        X, y : the data
        v : array_like of shape (D,) or (D, k)
            One direction, or k directions as columns.
        method : {"double-backward", "forward-over-reverse"}
            See :meth:`hvp_function`.

        Returns
        -------
        Hv : ndarray of the shape of ``v``
        """
        if v is None:
            raise TypeError("hvp needs v (the direction(s)); with batches call hvp(theta, loader, None, v)")
        v = as_float_array(v, "v", ndim=(1, 2))
        if v.shape[0] != self.n_params:
            raise ValueError(f"v must have {self.n_params} rows (the number of parameters), got shape {v.shape}")
        f = self.hvp_function(theta, X, y, method=method)
        if v.ndim == 1:
            return f(v)
        return np.stack([f(v[:, j]) for j in range(v.shape[1])], axis=1)


class _NumpyMatvec(torch.autograd.Function):
    """phi -> A phi through a numpy map's matvec, with A^T (rmatvec) in the backward pass.

    The fallback for maps that are not one of the subspace kinds (anything with ``shape``,
    ``matvec`` and ``rmatvec``): it crosses to numpy float64 and back on every call.
    """

    @staticmethod
    def forward(ctx, phi, amap):
        ctx.amap = amap
        out = amap.matvec(_to_numpy(phi))
        return torch.from_numpy(np.ascontiguousarray(out, dtype=np.float64)).to(device=phi.device, dtype=phi.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        g = ctx.amap.rmatvec(_to_numpy(grad_out))
        return torch.from_numpy(np.ascontiguousarray(g, dtype=np.float64)).to(
            device=grad_out.device, dtype=grad_out.dtype), None


class _NumpyOperator:
    """A generic map (``shape``, ``matvec``, ``rmatvec``) behind :class:`_NumpyMatvec`."""

    kind = "numpy"
    matrix = None

    def __init__(self, amap, dtype, device):
        self.amap = amap
        self.shape = tuple(int(s) for s in amap.shape)
        self.dtype = dtype
        self.device = torch.device(device)

    def apply(self, phi):
        return _NumpyMatvec.apply(phi, self.amap)

    def affine(self, theta0, phi):
        return theta0 + self.apply(phi)

    def apply_transpose(self, v):
        out = self.amap.rmatvec(_to_numpy(v))
        return torch.from_numpy(np.ascontiguousarray(out, dtype=np.float64)).to(device=v.device, dtype=v.dtype)


class _TorchProjection:
    """Callable phi -> A phi (torch, differentiable) with ``shape``, ``kind``, ``seed``, ``dense``,
    ``operator`` (the torch operator), ``affine(theta0, phi)`` and numpy ``matvec`` / ``rmatvec``."""

    def __init__(self, shape, kind, seed, operator):
        self.shape = shape
        self.kind = kind
        self.seed = seed
        self.operator = operator
        self.dtype = operator.dtype
        self.device = operator.device

    @property
    def dense(self):
        """The (D, d) matrix as a tensor when the map is applied as a dense product, else None."""
        return self.operator.matrix

    def __call__(self, phi):
        return self.operator.apply(phi)

    def affine(self, theta0, phi):
        r""":math:`\theta_0 + A\phi` in one operation where the map allows it (``torch.addmv``)."""
        return self.operator.affine(theta0, phi)

    def matvec(self, phi):
        """numpy (d,) -> (D,), float64 (computed in the projection's dtype, on its device)."""
        with torch.no_grad():
            return _to_numpy(self.operator.apply(_to_tensor(phi, self.dtype, self.device)))

    def rmatvec(self, v):
        """numpy (D,) -> (d,), float64."""
        with torch.no_grad():
            return _to_numpy(self.operator.apply_transpose(_to_tensor(v, self.dtype, self.device)))


def _torch_dtype(dtype, name="dtype"):
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"{name} must be a floating torch.dtype, got {dtype!r}")
    return dtype


def _torch_device(device, name="device"):
    try:
        return torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a torch device or its name (e.g. 'cpu', 'cuda:0'), got "
                         f"{device!r:.80} ({str(exc)[:80]})") from None


def torch_projection(subspace, *, D=None, dtype=torch.float64, device=None, max_dense_entries=2 ** 24,
                     fastfood_backend=None):
    r"""A differentiable torch function :math:`\phi \mapsto A\phi` from a subspace description.

    The map becomes torch operations on ``device`` in ``dtype`` (nothing crosses to numpy
    during training):

    * a dense map (``"orthonormal"``, ``"gaussian"``, ``"lottery"``, any
      :class:`~landscape.subspaces.DenseSubspace`), a (D, d) array or a tensor: the matrix
      as a tensor, and :math:`\theta_0 + A\phi` is one ``torch.addmv``. A CPU map already
      in ``dtype`` is shared, not copied (build it with ``random_subspace(...,
      dtype=...)`` in the model's dtype);
    * ``"sparse"``: torch CSR tensors of A and :math:`A^T`;
    * ``"fastfood"``: the transform in O(D) memory, by the numba FWHT on numpy views of
      the tensors on the CPU, or a torch FWHT on other devices (``fastfood_backend``
      "numba" / "torch" to choose);
    * any other object with ``shape``, ``matvec`` and ``rmatvec``: through those, in numpy
      float64 (a custom autograd function; the only path that crosses to numpy).

    Sparse and Fastfood maps with at most ``max_dense_entries`` entries are made dense
    (one product per step is faster for small maps).

    Parameters
    ----------
    subspace : SubspaceMap, ndarray or torch.Tensor of shape (D, d)
    D : int, optional
        Expected number of rows (checked).
    dtype : torch.dtype
    device : torch.device or str, optional
        Default: the tensor's device for a tensor, else the CPU.
    max_dense_entries : int
    fastfood_backend : {None, "numba", "torch"}

    Returns
    -------
    callable with attributes ``shape``, ``kind``, ``seed``, ``dense`` (the matrix or None),
    ``operator``, ``affine(theta0, phi)``, and numpy ``matvec`` / ``rmatvec``.
    """
    from ..subspaces._torch_ops import DenseOperator, torch_operator

    if D is not None:
        D = check_int(D, "D", minimum=1)
    max_dense_entries = check_int(max_dense_entries, "max_dense_entries", minimum=1)
    dtype = _torch_dtype(dtype)
    if device is not None:
        device = _torch_device(device)
    if isinstance(subspace, torch.Tensor):
        device = subspace.device if device is None else torch.device(device)
        if subspace.dim() != 2:
            raise ValueError(f"subspace must be 2-D (D, d), got shape {tuple(subspace.shape)}")
        A = subspace.detach().to(device=device, dtype=dtype)
        if not bool(torch.isfinite(A).all()):
            raise ValueError("subspace contains NaN or inf")
        proj = _TorchProjection(tuple(A.shape), "dense", None, DenseOperator(A))
    elif isinstance(subspace, np.ndarray):
        device = torch.device("cpu") if device is None else torch.device(device)
        A = as_float_array(subspace, "subspace", ndim=2)
        proj = _TorchProjection(A.shape, "dense", None, DenseOperator(_to_tensor(A, dtype, device)))
    elif hasattr(subspace, "matvec") and hasattr(subspace, "rmatvec") and hasattr(subspace, "shape"):
        device = torch.device("cpu") if device is None else torch.device(device)
        shape = tuple(int(s) for s in subspace.shape)
        kind = getattr(subspace, "kind", type(subspace).__name__)
        seed = getattr(subspace, "seed", None)
        small = shape[0] * shape[1] <= max_dense_entries
        op = None
        if not (small and kind in ("sparse", "fastfood")):
            op = torch_operator(subspace, dtype, device, fastfood_backend=fastfood_backend)
        if op is None and small and hasattr(subspace, "to_dense"):
            op = DenseOperator(torch.from_numpy(np.asarray(subspace.to_dense(max_entries=max_dense_entries)))
                               .to(device=device, dtype=dtype))
        if op is None:
            op = _NumpyOperator(subspace, dtype, device)
        proj = _TorchProjection(shape, kind, seed, op)
    else:
        raise TypeError(
            "subspace must be a SubspaceMap (shape, matvec, rmatvec), a (D, d) array or a torch "
            f"tensor, got {type(subspace).__name__}"
        )
    if D is not None and proj.shape[0] != D:
        raise ValueError(f"subspace must have D = {D} rows (the model's parameters), got shape {proj.shape}")
    return proj


@dataclass(frozen=True, repr=False)
class TorchTrainResult:
    r"""Outcome of one training run (in a subspace or in the full space).

    Attributes
    ----------
    final_loss : float
        Training loss :math:`L(\theta_T)` over the whole training set after the last step
        (``inf`` when the run diverged).
    final_accuracy : float or None
        Training accuracy (classifiers), None otherwise.
    theta : ndarray of shape (D,)
        Final parameters :math:`\theta_0 + A\phi_T`.
    phi : ndarray of shape (d,) or None
        Final subspace coordinates (None for full-space training).
    loss_history : ndarray of shape (steps_done,)
        Minibatch loss at each step (before the update).
    diverged : bool
        Whether a non-finite loss stopped the run early.
    protocol : dict
        How the run was made: optimizer, lr, momentum, steps, batch_size, seed, D, d,
        kind, subspace_seed, model spec, torch version.
    """

    final_loss: float
    final_accuracy: float | None
    theta: np.ndarray
    phi: np.ndarray | None
    loss_history: np.ndarray
    diverged: bool
    protocol: dict = field(default_factory=dict)

    def as_dict(self):
        """A flat, JSON-serialisable dict (without the parameter vectors)."""
        out = {"final_loss": self.final_loss, "final_accuracy": self.final_accuracy, "diverged": self.diverged,
               "steps_done": int(self.loss_history.shape[0])}
        out.update({k: v for k, v in self.protocol.items() if k != "model"})
        return out

    def __repr__(self):
        acc = "" if self.final_accuracy is None else f", accuracy={self.final_accuracy:.4g}"
        p = self.protocol
        return (f"TorchTrainResult(loss={self.final_loss:.6g}{acc}, D={p.get('D')}, d={p.get('d')}, "
                f"optimizer={p.get('optimizer')!r}, steps={p.get('steps')}, diverged={self.diverged})")


_OPTIMIZERS = ("sgd", "momentum", "adam")


def _make_optimizer(name, params, lr, momentum):
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9 if momentum is None else momentum)
    return torch.optim.Adam(params, lr=lr)


def _iterate_batches(data, n_batches_needed, batch_size, generator):
    """Yield (X, y) minibatches: from tensors by reshuffling each epoch, or by cycling a loader."""
    if isinstance(data, tuple):
        X, y = data
        n = X.shape[0]
        b = n if batch_size is None else min(batch_size, n)
        done = 0
        while done < n_batches_needed:
            if b == n:  # full batch: no reshuffle, no copy
                yield X, y
                done += 1
                continue
            perm = torch.randperm(n, generator=generator).to(X.device)
            for i in range(0, n - b + 1, b):
                idx = perm[i:i + b]
                yield X[idx], y[idx]
                done += 1
                if done >= n_batches_needed:
                    return
    else:
        done = 0
        while done < n_batches_needed:
            empty = True
            for batch in data:
                empty = False
                yield batch
                done += 1
                if done >= n_batches_needed:
                    return
            if empty:
                raise ValueError("the data loader yielded no batches")


class TorchSubspaceModel:
    r"""Training in a random affine subspace :math:`\theta = \theta_0 + A\phi` of a torch model.

    :math:`\phi \in \mathbb{R}^d` starts at 0 and is trained with a torch optimizer on
    :math:`\ell(\phi) = L(\theta_0 + A\phi)`, whose gradient is :math:`A^T\nabla L`.
    With orthonormal A and plain SGD or momentum, the trajectory of :math:`\theta` is that of
    full-space training projected onto range(A); for d = D it is full-space training.

    The object is itself a model with the numpy interface in the d coordinates
    (``n_params == d``, ``loss(phi, X, y)``, ``loss_and_grad``, ``accuracy``,
    ``hvp(phi, X, y, v)`` = :math:`A^T H A v`), so it can be handed to the Hessian code.

    Parameters
    ----------
    model : TorchModel or torch.nn.Module
        A module is wrapped as ``TorchModel(module)`` (cross-entropy).
    subspace : int, SubspaceMap, ndarray or torch.Tensor of shape (D, d)
        An int d draws ``landscape.subspaces.random_subspace(D, d, kind, seed=subspace_seed)``.
    theta0 : array_like of shape (D,), optional
        The point the subspace goes through (default: the module's current parameters).
    kind : str
        Kind of random subspace when ``subspace`` is an int.
    subspace_seed : int, Generator or None
        Seed of that random subspace.
    max_dense_entries, fastfood_backend
        See :func:`torch_projection`.

    The map is drawn and held in the model's dtype (float32 for a float32 model: half the
    memory of float64, and the same subspace up to rounding) and applied on the model's
    device as torch operations (:func:`torch_projection`).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from landscape.torch import TorchModel, TorchSubspaceModel
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    >>> model = TorchModel(net, input_shape=(4,))
    >>> rng = np.random.default_rng(1000)
    >>> X = rng.standard_normal((32, 4)); y = rng.integers(0, 3, 32)
    >>> sub = TorchSubspaceModel(model, 10, theta0=model.init_params(0), subspace_seed=1)
    >>> res = sub.train(X, y, optimizer="adam", lr=0.05, steps=50, seed=2)
    >>> res.final_loss < model.loss(model.init_params(0), X, y)
    True
    """

    def __init__(self, model, subspace, *, theta0=None, kind="orthonormal", subspace_seed=None,
                 max_dense_entries=2 ** 24, fastfood_backend=None):
        if isinstance(model, torch.nn.Module):
            model = TorchModel(model)
        if not isinstance(model, TorchModel):
            raise TypeError(f"model must be a TorchModel or a torch.nn.Module, got {type(model).__name__}")
        self.model = model
        D = model.n_params
        if theta0 is None:
            theta0 = model.get_params()
        self.theta0 = as_float_array(theta0, "theta0", shape=(D,))
        if isinstance(subspace, (int, np.integer)) and not isinstance(subspace, bool):
            from ..subspaces.maps import random_subspace

            d = check_int(subspace, "subspace (d)", minimum=1, maximum=D)
            if subspace_seed is not None and not isinstance(subspace_seed, np.random.SeedSequence):
                check_rng(subspace_seed, "subspace_seed")
            map_dtype = "float32" if model.dtype == torch.float32 else "float64"
            subspace = random_subspace(D, d, kind=kind, seed=subspace_seed, dtype=map_dtype)
        self.projection = torch_projection(subspace, D=D, dtype=model.dtype, device=model.device,
                                           max_dense_entries=max_dense_entries, fastfood_backend=fastfood_backend)
        self.D, self.d = self.projection.shape
        self.n_params = self.d
        self._theta0_t = _to_tensor(self.theta0, model.dtype, model.device)

    @property
    def kind(self):
        return self.projection.kind

    def spec(self):
        return {"name": "torch-subspace", "model": self.model.spec(), "D": self.D, "d": self.d,
                "kind": self.kind, "subspace_seed": _jsonable_seed(self.projection.seed)}

    def __repr__(self):
        return f"TorchSubspaceModel(D={self.D}, d={self.d}, kind={self.kind!r})"

    def init_params(self, seed=None):
        """phi = 0 (training starts at theta0); ``seed`` is ignored."""
        return np.zeros(self.d)

    def theta(self, phi):
        r"""Parameters :math:`\theta_0 + A\phi` (numpy (d,) -> (D,))."""
        phi = self._check_phi(phi)
        return self.theta0 + self.projection.matvec(phi)

    def _theta_t(self, phi_t):
        return self.projection.affine(self._theta0_t, phi_t)

    def _step_bytes(self):
        """Bytes of the step's largest operand (for the automatic thread count)."""
        op = self.projection.operator
        item = torch.finfo(self.model.dtype).bits // 8
        if op.matrix is not None:
            size = op.matrix.numel()
        elif getattr(op, "kind", None) == "fastfood":
            size = 2 * op.L
        else:
            size = 0
        return max(size, self.D) * item

    def _check_phi(self, phi, name="phi"):
        return as_float_array(phi, name, shape=(self.d,), allow_inf=True)

    def loss(self, phi, X, y):
        return self.model.loss(self.theta(phi), X, y)

    def accuracy(self, phi, X, y):
        return self.model.accuracy(self.theta(phi), X, y)

    def loss_and_grad(self, phi, X, y):
        r"""Loss and gradient :math:`A^T\nabla L(\theta_0 + A\phi)` of shape (d,)."""
        value, g = self.model.loss_and_grad(self.theta(phi), X, y)
        return value, self.projection.rmatvec(g)

    def hvp(self, phi, X, y, v):
        r"""Hessian-vector product in the subspace, :math:`A^T \nabla^2 L(\theta)\, A v`."""
        v = as_float_array(v, "v", ndim=(1, 2))
        if v.shape[0] != self.d:
            raise ValueError(f"v must have {self.d} rows (the subspace dimension), got shape {v.shape}")
        f = self.model.hvp_function(self.theta(phi), X, y)
        cols = v[:, None] if v.ndim == 1 else v
        out = np.stack([self.projection.rmatvec(f(self.projection.matvec(cols[:, j])))
                        for j in range(cols.shape[1])], axis=1)
        return out[:, 0] if v.ndim == 1 else out

    def train(self, X, y=None, *, optimizer="sgd", lr=0.1, momentum=0.0, steps=100, batch_size=None,
              seed=None, threads=None, progress=None):
        r"""Train :math:`\phi` from 0 for a fixed number of steps.

        Parameters
        ----------
        X, y : arrays or tensors
            The training set; or ``X`` a :class:`torch.utils.data.DataLoader` (any iterable
            of ``(X, y)`` batches, cycled) and ``y`` None.
        optimizer : {"sgd", "momentum", "adam"}
            ``torch.optim.SGD`` (with ``momentum``; "momentum" defaults it to 0.9) or
            ``torch.optim.Adam``.
        lr : float > 0
        momentum : float in [0, 1)
        steps : int >= 0
            Optimizer steps (the budget).
        batch_size : int, optional
            Minibatch size, drawn without replacement, reshuffled each epoch with a
            ``torch.Generator`` seeded from ``seed``; None means full batch.
        seed : int, Generator or None
        threads : int, optional
            Threads of torch and numba during training (BLAS gets one). Default: chosen
            from the size of the step by the rule of :mod:`landscape._threads` (one thread
            for steps whose map and parameter vector are below 8 MiB, all cores above,
            never more than ``torch.get_num_threads()``); the previous counts are restored
            afterwards. The result does not depend on it beyond the last bits of float sums.
        progress : bool or None
            A bar over the steps (tqdm) for runs longer than a second: None shows it when a
            person is watching (terminal, notebook), False never, True always.

        Returns
        -------
        TorchTrainResult
        """
        return _train(self.model, self._theta_t,
                      torch.zeros(self.d, dtype=self.model.dtype, device=self.model.device), X, y,
                      optimizer=optimizer, lr=lr, momentum=momentum, steps=steps, batch_size=batch_size,
                      seed=seed, extra={"D": self.D, "d": self.d, "kind": self.kind,
                                        "subspace_seed": _jsonable_seed(self.projection.seed)},
                      subspace=True, threads=threads, step_bytes=self._step_bytes(), progress=progress)


def _jsonable_seed(seed):
    if seed is None or isinstance(seed, (int, np.integer)):
        return None if seed is None else int(seed)
    return repr(seed)


def train_full(model, X, y=None, *, theta0, optimizer="sgd", lr=0.1, momentum=0.0, steps=100,
               batch_size=None, seed=None, threads=None, progress=None):
    r"""Train all D parameters of a :class:`TorchModel` from ``theta0`` (see :meth:`TorchSubspaceModel.train`).

    Returns
    -------
    TorchTrainResult (``phi`` None, ``protocol["d"] == D``, ``kind == "full"``)
    """
    if isinstance(model, torch.nn.Module):
        model = TorchModel(model)
    if not isinstance(model, TorchModel):
        raise TypeError(f"model must be a TorchModel or a torch.nn.Module, got {type(model).__name__}")
    theta0 = as_float_array(theta0, "theta0", shape=(model.n_params,))
    D = model.n_params
    return _train(model, lambda t: t, _to_tensor(theta0, model.dtype, model.device), X, y, optimizer=optimizer,
                  lr=lr, momentum=momentum, steps=steps, batch_size=batch_size, seed=seed,
                  extra={"D": D, "d": D, "kind": "full", "subspace_seed": None}, subspace=False,
                  threads=threads, step_bytes=D * (torch.finfo(model.dtype).bits // 8), progress=progress)



def _train(model, to_theta, x0, X, y, *, optimizer, lr, momentum, steps, batch_size, seed, extra, subspace,
           threads=None, step_bytes=0, progress=None):
    from .._threads import step_threads, thread_budget

    if threads is not None:
        threads = check_int(threads, "threads", minimum=1, maximum=4096)
    with thread_budget(step_threads(step_bytes, threads)):
        return _train_loop(model, to_theta, x0, X, y, optimizer=optimizer, lr=lr, momentum=momentum, steps=steps,
                           batch_size=batch_size, seed=seed, extra=extra, subspace=subspace, progress=progress)


def _train_loop(model, to_theta, x0, X, y, *, optimizer, lr, momentum, steps, batch_size, seed, extra, subspace,
                progress=None):
    from .._progress import progress_bar

    desc = f"torch training in d = {extra.get('d')}" if subspace else "torch full-space training"
    with progress_bar(steps, desc, progress=progress, unit="step", delay=1.0, leave=False) as bar:
        return _train_steps(model, to_theta, x0, X, y, optimizer=optimizer, lr=lr, momentum=momentum, steps=steps,
                            batch_size=batch_size, seed=seed, extra=extra, subspace=subspace, bar=bar)


def _train_steps(model, to_theta, x0, X, y, *, optimizer, lr, momentum, steps, batch_size, seed, extra, subspace,
                 bar):
    if not isinstance(optimizer, str) or optimizer.lower() not in _OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {_OPTIMIZERS}, got {optimizer!r}")
    optimizer = optimizer.lower()
    lr = check_positive(lr, "lr")
    if momentum is not None:
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float, np.floating)) \
                or not 0.0 <= float(momentum) < 1.0:
            raise ValueError(f"momentum must lie in [0, 1), got {momentum!r}")
        momentum = float(momentum)
    if optimizer == "momentum" and momentum == 0.0:
        momentum = None  # the default 0.9
    if optimizer == "adam" and momentum not in (0.0, None):
        raise ValueError("momentum is an SGD option; Adam uses its default betas")
    steps = check_int(steps, "steps", minimum=0)
    check_memory(8 * (steps + 1), "steps")  # the loss history
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", minimum=1)
    s = torch_seed(seed)
    generator = torch.Generator().manual_seed(s)
    if y is None:
        if isinstance(X, (np.ndarray, torch.Tensor)):
            raise ValueError("y is required when X is an array (give y, or a data loader of (X, y) batches)")
        data = X
        loader = True
    else:
        data = model.prepare_data(X, y)
        loader = False

    x = x0.clone().requires_grad_(True)
    opt = _make_optimizer(optimizer, [x], lr, momentum)
    history = []
    diverged = False
    for Xb, yb in _iterate_batches(data, steps, batch_size, generator):
        if loader:
            Xb, yb = model.prepare_data(Xb, yb)
        opt.zero_grad(set_to_none=True)
        value = model.torch_loss(to_theta(x), Xb, yb)
        v = float(value.detach())  # the step's one synchronisation with the device
        if not math.isfinite(v):
            diverged = True
            break
        value.backward()
        opt.step()
        history.append(v)
        bar.update()
    with torch.no_grad():
        theta = to_theta(x.detach())
        finite = bool(torch.isfinite(theta).all())
    theta_np = _to_numpy(theta)
    if diverged or not finite:
        diverged = True
        final_loss, final_acc = math.inf, (0.0 if model.is_classifier else None)
    else:
        final_loss, final_acc = _evaluate(model, theta_np, data, loader)
        if not math.isfinite(final_loss):
            diverged, final_loss = True, math.inf
    protocol = {
        "optimizer": optimizer,
        "lr": lr,
        "momentum": (0.9 if momentum is None else momentum) if optimizer != "adam" else None,
        "steps": steps,
        "batch_size": batch_size,
        "seed": _jsonable_seed(seed if not isinstance(seed, np.random.Generator) else None),
        "torch_seed": s,
        **extra,
        "model": model.spec(),
        "torch_version": torch.__version__,
    }
    return TorchTrainResult(
        final_loss=final_loss,
        final_accuracy=final_acc,
        theta=theta_np,
        phi=_to_numpy(x) if subspace else None,
        loss_history=np.asarray(history, dtype=np.float64),
        diverged=diverged,
        protocol=protocol,
    )


def _evaluate(model, theta, data, loader):
    """Training loss (and accuracy) over the whole data set at theta."""
    theta_t = _to_tensor(theta, model.dtype, model.device)
    with torch.no_grad():
        if not loader:
            X, y = data
            loss = float(model.torch_loss(theta_t, X, y))
            acc = None
            if model.is_classifier:
                acc = float((model.forward(theta_t, X).argmax(dim=1) == y).double().mean())
            return loss, acc
        total, correct, n = 0.0, 0, 0
        for Xb, yb in data:
            Xb, yb = model.prepare_data(Xb, yb)
            m = Xb.shape[0]
            total += float(model.torch_loss(theta_t, Xb, yb)) * m
            if model.is_classifier:
                correct += int((model.forward(theta_t, Xb).argmax(dim=1) == yb).sum())
            n += m
        return total / n, (correct / n if model.is_classifier else None)
