r"""Lottery tickets: one-shot global magnitude pruning, rewinding, and masked retraining.

The fourth way of cutting the degrees of freedom compared by Larsen et al. (2022), beside
random, burn-in and lottery subspaces. A run of :func:`train_ticket`:

1. **Pre-train** all D parameters from :math:`\theta_0` for T steps (2 epochs) of SGD with
   momentum (lr 0.05, momentum 0.9), with an L2 penalty
   :math:`\tfrac{\lambda}{2}\sum_i \theta_i^2` (:math:`\lambda = 10^{-4}`) on the
   parameter arrays with ndim > 2 only (convolution kernels), to :math:`\theta_T`.
2. **Mask**: keep the k prunable coordinates of largest :math:`|\theta_{T,i}|`
   (:func:`landscape.subspaces.masks.magnitude_mask`; the weights by default, biases stay
   free). The number of free parameters :math:`\mathrm{nnz}(m) = k + (D - |\mathcal P|)`
   plays the part of the training dimension d.
3. **Rewind** to :math:`\theta_0` (or to the point :math:`\theta_t` after t of the T
   pre-training steps; t = T continues from the pre-trained point without rewinding).
4. **Retrain** with the mask in the forward pass, :math:`L(m \odot \theta)`
   (:class:`landscape.subspaces.masks.MaskedModel`), for the run's budget of steps with
   SGD + momentum 0.9 and a piecewise-constant learning rate: 0.1 for updates < 400,
   0.03 < 800, 0.01 < 1200, 0.003 after. The result is the pruned network
   :math:`m \odot \theta`, with its train and test loss and accuracy and the
   compression :math:`D / \mathrm{nnz}(m)` (:math:`= 1/f` when every parameter is prunable).

This is the protocol of the reference code (ganguli-lab/degrees-of-freedom,
``lottery_ticket.py``) with these documented differences: the mask keeps exactly
:math:`\lceil f n\rceil` coordinates (ties by position) where the reference keeps one more
plus all ties; the prunable parameters are the weights by default (the reference prunes
biases too: ``TicketProtocol(prunable="all")``); minibatches are epochs of a seeded
permutation (the reference draws each batch independently); the momentum buffer holds
gradients and the learning rate multiplies it (the PyTorch convention; the reference's
retraining loop folds the rate into the buffer, which differs only in the ~10 steps after
each rate drop); and there is no early stop when the loss repeats.

Every knob is in :class:`TicketProtocol` and recorded with each run. Randomness comes from
the run's seed only: :math:`\theta_0` (stream 0, shared with the subspace runs of the same
seed) and the minibatch order (stream 1, for pre-training and retraining alike).
"""
from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass

import numpy as np

from geometry.validation import check_choice, check_int, check_positive

from ..subspaces.masks import PRUNABLE, MaskedModel, kept_count, magnitude_mask, prunable_parameters
from .optim import SGD, _check_fraction, check_schedule
from .training import (
    TrainingResult,
    _STREAM_BATCHES,
    _check_common,
    _check_seed,
    _full_run,
    _initial_point,
    _protocol,
    _train_loop,
    run_seed_sequence,
)

__all__ = ["TicketProtocol", "TicketResult", "train_ticket", "ticket_dimensions", "REFERENCE_KEEP_FRACTIONS"]

#: the keep fractions of the reference code
REFERENCE_KEEP_FRACTIONS = (1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


@dataclass(frozen=True)
class TicketProtocol:
    r"""The knobs of a lottery-ticket run (defaults: the reference code's protocol).

    Parameters
    ----------
    pretrain_epochs : float > 0
        Length of pre-training in epochs: :math:`T = \lceil e \cdot \lceil n / b\rceil\rceil`
        steps for n training examples and batch size b (an epoch is one step in full batch).
    pretrain_steps : int, optional
        Or T directly (overrides ``pretrain_epochs``).
    pretrain_lr, pretrain_momentum : float
        SGD with momentum for pre-training.
    weight_decay : float >= 0
        :math:`\lambda` of the L2 penalty during pre-training.
    decay_min_ndim : int
        The penalty applies to parameter arrays with at least this many dimensions
        (3: ndim > 2, the convolution kernels, as in the reference; the numpy MLP has none).
    prunable : {"weights", "all"}
        See :func:`landscape.subspaces.masks.prunable_parameters`.
    lr, momentum : float
        Retraining: SGD with momentum, learning rate ``lr`` for the first updates...
    schedule : sequence of (step, lr)
        ...then the piecewise-constant schedule (see
        :func:`landscape.experiments.optim.check_schedule`). Empty: constant ``lr``.
    """

    pretrain_epochs: float = 2.0
    pretrain_steps: int | None = None
    pretrain_lr: float = 0.05
    pretrain_momentum: float = 0.9
    weight_decay: float = 1e-4
    decay_min_ndim: int = 3
    prunable: str = "weights"
    lr: float = 0.1
    momentum: float = 0.9
    schedule: tuple = ((400, 0.03), (800, 0.01), (1200, 0.003))

    def __post_init__(self):
        if isinstance(self.pretrain_epochs, bool) or not isinstance(self.pretrain_epochs, numbers.Real) \
                or not (math.isfinite(self.pretrain_epochs) and self.pretrain_epochs > 0):
            raise ValueError(f"pretrain_epochs must be a positive number, got {self.pretrain_epochs!r}")
        object.__setattr__(self, "pretrain_epochs", float(self.pretrain_epochs))
        if self.pretrain_steps is not None:
            object.__setattr__(self, "pretrain_steps", check_int(self.pretrain_steps, "pretrain_steps", minimum=1))
        object.__setattr__(self, "pretrain_lr", check_positive(self.pretrain_lr, "pretrain_lr"))
        object.__setattr__(self, "pretrain_momentum", _check_fraction(self.pretrain_momentum, "pretrain_momentum"))
        wd = self.weight_decay
        if isinstance(wd, bool) or not isinstance(wd, numbers.Real) or not (math.isfinite(wd) and wd >= 0):
            raise ValueError(f"weight_decay must be a number >= 0, got {wd!r}")
        object.__setattr__(self, "weight_decay", float(wd))
        object.__setattr__(self, "decay_min_ndim", check_int(self.decay_min_ndim, "decay_min_ndim", minimum=0))
        check_choice(self.prunable, "prunable", PRUNABLE)
        object.__setattr__(self, "lr", check_positive(self.lr, "lr"))
        object.__setattr__(self, "momentum", _check_fraction(self.momentum, "momentum"))
        object.__setattr__(self, "schedule", check_schedule(self.schedule))

    @classmethod
    def from_spec(cls, spec):
        """Rebuild from :meth:`spec` (or any dict of the fields)."""
        if isinstance(spec, cls):
            return spec
        if spec is None:
            return cls()
        if not isinstance(spec, dict):
            raise TypeError(f"a ticket protocol must be a TicketProtocol or a dict of its fields, got "
                            f"{type(spec).__name__}")
        unknown = set(spec) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown ticket protocol fields {sorted(unknown)}; known: "
                             f"{sorted(cls.__dataclass_fields__)}")
        return cls(**spec)

    def spec(self):
        """A JSON-serialisable dict of every field (recorded in stores and runs)."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["schedule"] = [list(p) for p in self.schedule]
        return out

    def n_pretrain_steps(self, n_train, batch_size=None):
        """T for a data set of ``n_train`` examples and the given batch size (None: full batch)."""
        if self.pretrain_steps is not None:
            return self.pretrain_steps
        per_epoch = 1 if batch_size is None or batch_size >= n_train else math.ceil(n_train / batch_size)
        return max(1, math.ceil(self.pretrain_epochs * per_epoch - 1e-9))

    def pretrain_optimizer(self):
        return SGD(self.pretrain_lr, momentum=self.pretrain_momentum)

    def retrain_optimizer(self):
        return SGD(self.lr, momentum=self.momentum, schedule=self.schedule)


@dataclass(repr=False)
class TicketResult(TrainingResult):
    r"""A :class:`~landscape.experiments.training.TrainingResult` of a lottery-ticket run.

    ``theta`` is the pruned network :math:`m \odot \theta` (pruned entries exactly 0) and
    ``phi`` the displacement of the kept coordinates from the rewind point, of length
    :math:`\mathrm{nnz}(m)`.

    Attributes
    ----------
    mask : ndarray of bool, shape (D,)
    start : ndarray of shape (D,)
        The rewind point the retraining started from (:math:`\theta_0` or :math:`\theta_t`).
    pretrained : ndarray of shape (D,)
        :math:`\theta_T`, whose magnitudes made the mask.
    """

    mask: np.ndarray | None = None
    start: np.ndarray | None = None
    pretrained: np.ndarray | None = None


class _Decayed:
    r"""A model whose training gradient carries an L2 penalty on some coordinates:
    :math:`L(\theta) + \tfrac12 \sum_i \lambda_i \theta_i^2` (losses and accuracies reported
    without the penalty)."""

    def __init__(self, model, decay):
        self.model = model
        self.decay = decay
        self.n_params = model.n_params
        self._grad = getattr(model, "_loss_and_grad", None) or model.loss_and_grad
        self._loss = getattr(model, "_loss", None) or model.loss
        self._accuracy = getattr(model, "_accuracy", None) or model.accuracy

    def spec(self):
        base = self.model.spec() if hasattr(self.model, "spec") else repr(self.model)
        nz = self.decay[self.decay > 0]
        return {"name": "l2", "model": base, "weight_decay": float(nz[0]) if nz.size else 0.0,
                "n_decayed": int(nz.size)}

    def init_params(self, seed=None):
        return self.model.init_params(seed)

    def loss(self, theta, X, y):
        return self._loss(theta, X, y)

    def accuracy(self, theta, X, y):
        return self._accuracy(theta, X, y)

    def _loss_and_grad(self, theta, X, y):
        value, g = self._grad(theta, X, y)
        return value + 0.5 * float(np.dot(self.decay, theta * theta)), g + self.decay * theta

    loss_and_grad = _loss_and_grad


def _decay_vector(model, protocol):
    """Per-coordinate L2 strength: ``weight_decay`` on arrays with ndim >= decay_min_ndim, else 0."""
    D = int(model.n_params)
    if protocol.weight_decay == 0.0:
        return None
    shapes = getattr(model, "shapes", None)
    if shapes is None:
        raise TypeError(f"weight_decay > 0 applies to parameter arrays with ndim >= {protocol.decay_min_ndim}, "
                        f"but {type(model).__name__} has no 'shapes'; set weight_decay=0")
    out = np.zeros(D)
    offset = 0
    for shape in shapes:
        size = int(np.prod(shape, dtype=np.int64))
        if len(shape) >= protocol.decay_min_ndim:
            out[offset:offset + size] = protocol.weight_decay
        offset += size
    return out if out.any() else None


def ticket_dimensions(model, keeps=REFERENCE_KEEP_FRACTIONS, *, prunable="weights"):
    r"""The numbers of free parameters :math:`\mathrm{nnz}(m) = \lceil f n\rceil + D - n` of keep fractions f.

    Parameters
    ----------
    model : model object
    keeps : sequence of float in (0, 1]
    prunable : {"weights", "all"} or array of bool
        See :func:`landscape.subspaces.masks.prunable_parameters`.

    Returns
    -------
    list of int
        Distinct values, increasing (for the ``ds`` of a sweep).
    """
    mask = prunable_parameters(model, prunable)
    n, fixed = int(mask.sum()), int(mask.size - mask.sum())
    if isinstance(keeps, (str, bytes, dict)) or not hasattr(keeps, "__iter__"):
        raise TypeError(f"keeps must be a sequence of fractions in (0, 1], got {type(keeps).__name__}")
    out = set()
    for f in keeps:
        try:
            out.add(kept_count(f, n) + fixed)
        except ValueError as exc:
            raise ValueError(f"keeps: {exc}") from None
    if not out:
        raise ValueError("keeps must not be empty")
    return sorted(out)


def train_ticket(model, data, keep=None, *, d=None, rewind=0, protocol=None, steps=300, batch_size=None,
                 seed=0, eval_every=None):
    r"""A lottery ticket: pre-train, prune by global magnitude, rewind, retrain with the mask.

    See the module docstring for the four steps and :class:`TicketProtocol` for the knobs.

    Parameters
    ----------
    model : model object
        The model interface (:class:`landscape.models.MLP`, :class:`landscape.torch.TorchModel`);
        ``shapes`` is needed for ``prunable="weights"`` and for a weight decay.
    data : Dataset
    keep : float in (0, 1], optional
        Fraction f of the prunable parameters to keep (:math:`k = \lceil f n\rceil`).
    d : int, optional
        Or the number of free parameters :math:`\mathrm{nnz}(m)` (exactly one of ``keep``
        and ``d``), in :math:`[D - n + 1, D]`.
    rewind : int in [0, T]
        Retrain from :math:`\theta_t`, the point after t pre-training steps (0:
        :math:`\theta_0`; T: the pre-trained point, no rewinding).
    protocol : TicketProtocol or dict, optional
        Default ``TicketProtocol()``.
    steps : int
        Retraining budget (optimizer steps).
    batch_size : int, optional
        Minibatch size of pre-training and retraining (None: full batch).
    seed : int, Generator or None
    eval_every : int, optional
        Evaluate on the whole training set every ``eval_every`` retraining steps (history).

    Returns
    -------
    TicketResult
        ``protocol`` has ``kind="ticket"``, ``d`` = nnz of the mask, ``t`` = rewind step,
        ``basis="magnitude"``, and the knobs: ``keep`` (k / n), ``n_prunable``,
        ``prunable``, ``pretrain_steps``, ``pretrain_lr``, ``weight_decay``,
        ``compression`` (D / nnz), the retraining optimizer with its schedule;
        ``metrics`` add ``pretrain_train_acc`` and ``pretrain_test_acc`` (of the dense
        pre-trained network).

    Raises
    ------
    ValueError
        ``keep`` outside (0, 1], ``d`` out of range, ``rewind`` outside [0, T], nothing
        prunable, and bad training options.

    Examples
    --------
    >>> from landscape.models import MLP
    >>> from landscape.models.datasets import teacher_student
    >>> data = teacher_student(64, 0, n_features=4, n_classes=2, hidden=0, seed=1000)
    >>> res = train_ticket(MLP([4, 8, 2]), data, keep=0.25, steps=30, batch_size=16, seed=0)
    >>> res.protocol["d"], res.protocol["n_prunable"], int(res.mask.sum())   # 12 of 48 weights + 10 biases
    (22, 48, 22)
    """
    protocol = TicketProtocol.from_spec(protocol)
    opt = protocol.retrain_optimizer()
    opt, steps, batch_size, eval_every = _check_common(model, data, opt, None, steps, batch_size, eval_every)
    D = int(model.n_params)
    prunable = prunable_parameters(model, protocol.prunable)
    n_prunable = int(prunable.sum())
    fixed = D - n_prunable
    if (keep is None) == (d is None):
        raise ValueError("give exactly one of keep (a fraction in (0, 1]) and d (the number of free parameters)")
    if keep is not None:
        k = kept_count(keep, n_prunable)
    else:
        d = check_int(d, "d", minimum=1)
        if not fixed < d <= D:
            raise ValueError(f"d (free parameters) must lie in [{fixed + 1}, {D}] for this model: "
                             f"{fixed} parameters are not prunable ({protocol.prunable!r}), {n_prunable} are; "
                             f"got d={d}")
        k = d - fixed
    seed = _check_seed(seed)
    T = protocol.n_pretrain_steps(data.n_train, batch_size)
    t = check_int(rewind, "rewind", minimum=0)
    if t > T:
        raise ValueError(f"rewind must lie in [0, {T}] (the pre-training steps), got {t}")
    t0 = time.perf_counter()

    decay = _decay_vector(model, protocol)
    pre_model = model if decay is None else _Decayed(model, decay)
    pre_opt = protocol.pretrain_optimizer()
    theta0 = _initial_point(model, seed)
    pre = _full_run(pre_model, data, pre_opt, T, batch_size, seed)
    pretrained, pre_metrics = pre[2], pre[1]
    if t == 0:
        start = theta0
    elif t == T:
        start = pretrained
    else:
        start = _full_run(pre_model, data, pre_opt, t, batch_size, seed)[2]
    mask = magnitude_mask(pretrained, n_keep=k, prunable=prunable)
    masked = MaskedModel(model, mask)
    batch_rng = np.random.default_rng(run_seed_sequence(seed, _STREAM_BATCHES))
    metrics, theta, _, history, _ = _train_loop(masked, data, start, None, opt, steps, batch_size, batch_rng,
                                                eval_every)
    metrics["pretrain_train_acc"] = float(pre_metrics["train_acc"])
    metrics["pretrain_test_acc"] = float(pre_metrics["test_acc"])
    metrics["wall_time"] = time.perf_counter() - t0
    nnz = int(mask.sum())
    record = _protocol(model, data, opt, steps, batch_size, eval_every, kind="ticket", d=nnz, t=t,
                       basis="magnitude", seed=seed, full_lr=pre_opt.lr)
    record.update({
        "keep": k / n_prunable, "n_prunable": n_prunable, "prunable": protocol.prunable,
        "compression": D / nnz, "pretrain_steps": int(T), "pretrain_lr": pre_opt.lr,
        "pretrain_momentum": pre_opt.momentum, "weight_decay": protocol.weight_decay,
        "decay_min_ndim": protocol.decay_min_ndim,
    })
    return TicketResult(metrics, record, masked.apply(theta), (theta - start)[mask], history,
                        mask=mask, start=start.copy(), pretrained=pretrained.copy())
