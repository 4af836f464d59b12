r"""First-order optimizers on flat parameter vectors: SGD (with momentum) and Adam.

Each optimizer is a small object: ``state = opt.init(n)`` creates its state for n
coordinates, ``opt.step(x, grad, state)`` updates ``x`` in place, and ``opt.spec()`` is the
JSON-serialisable description recorded in every run's protocol. The same object is used
for full-space training (x = theta) and for subspace training (x = phi).

Examples
--------
>>> import numpy as np
>>> from landscape.experiments.optim import make_optimizer
>>> opt = make_optimizer("adam", lr=0.1)
>>> x = np.array([1.0, -2.0]); state = opt.init(2)
>>> opt.step(x, np.array([3.0, -0.5]), state)   # first Adam step moves each coordinate by ~lr
>>> np.round(x, 6)
array([ 0.9, -1.9])
"""
from __future__ import annotations

import numbers

import numpy as np

from geometry.validation import check_positive

__all__ = ["SGD", "Adam", "make_optimizer", "OPTIMIZERS", "check_schedule"]


def _check_fraction(x, name, *, allow_zero=True):
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a real number in [0, 1), got {x!r}")
    x = float(x)
    if not (0.0 <= x < 1.0) or (not allow_zero and x == 0.0):
        raise ValueError(f"{name} must lie in {'[0, 1)' if allow_zero else '(0, 1)'}, got {x}")
    return x


def check_schedule(schedule, name="schedule"):
    """A piecewise-constant learning-rate schedule as a tuple of ``(step, lr)`` pairs.

    ``((400, 0.03), (800, 0.01))`` means: from update 400 on (counting updates from 0) the
    learning rate is 0.03, from update 800 on 0.01. Steps must be positive integers in
    increasing order, rates positive. None or an empty sequence means no schedule.
    """
    if schedule is None:
        return ()
    if isinstance(schedule, (str, bytes, dict)) or not hasattr(schedule, "__iter__"):
        raise TypeError(f"{name} must be a sequence of (step, lr) pairs, got {schedule!r}")
    out = []
    for pair in schedule:
        if isinstance(pair, (str, bytes)) or not hasattr(pair, "__len__") or len(pair) != 2:
            raise ValueError(f"{name} must hold (step, lr) pairs, got {pair!r}")
        step, rate = pair
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 1:
            raise ValueError(f"{name} steps must be integers >= 1, got {step!r}")
        if out and step <= out[-1][0]:
            raise ValueError(f"{name} steps must increase, got {step} after {out[-1][0]}")
        out.append((int(step), check_positive(rate, f"{name} learning rates")))
    return tuple(out)


class SGD:
    r"""Stochastic gradient descent with optional (heavy-ball or Nesterov) momentum.

    .. math:: b_k = \mu\, b_{k-1} + g_k, \qquad x_{k} = x_{k-1} - \eta_k\, b_k

    (Nesterov: :math:`x_k = x_{k-1} - \eta_k (g_k + \mu b_k)`); the PyTorch convention.
    With :math:`\mu = 0` this is plain gradient descent.

    Parameters
    ----------
    lr : float > 0
        Step size :math:`\eta` (of the first updates when there is a schedule).
    momentum : float in [0, 1)
    nesterov : bool
    schedule : sequence of (step, lr) pairs, optional
        Piecewise-constant learning rate :math:`\eta_k` (see :func:`check_schedule`):
        ``((400, 0.03), (800, 0.01))`` uses ``lr`` for updates 0-399, 0.03 for 400-799 and
        0.01 from then on (updates counted from 0, as in ``torch.optim.lr_scheduler.MultiStepLR``
        stepped once per update). The rate multiplies the whole momentum buffer from the
        update where it changes on.
    """

    name = "sgd"

    def __init__(self, lr, momentum=0.0, nesterov=False, schedule=None):
        self.lr = check_positive(lr, "lr")
        self.momentum = _check_fraction(momentum, "momentum")
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(f"nesterov must be a bool, got {nesterov!r}")
        if nesterov and self.momentum == 0.0:
            raise ValueError("nesterov=True needs momentum > 0")
        self.nesterov = bool(nesterov)
        self.schedule = check_schedule(schedule)

    def spec(self):
        spec = {"name": "sgd", "lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov}
        if self.schedule:  # only then: the specs (and stored protocols) of unscheduled runs are unchanged
            spec["schedule"] = [list(p) for p in self.schedule]
        return spec

    def rate(self, k):
        """The learning rate of update k (counted from 0)."""
        lr = self.lr
        for step, value in self.schedule:
            if k < step:
                break
            lr = value
        return lr

    def init(self, n):
        return {"buf": np.zeros(n), "t": 0}

    def step(self, x, grad, state):
        """Update ``x`` in place with the gradient ``grad``."""
        lr = self.rate(state["t"]) if self.schedule else self.lr
        state["t"] += 1
        if self.momentum == 0.0:
            x -= lr * grad
            return
        buf = state["buf"]
        buf *= self.momentum
        buf += grad
        if self.nesterov:
            x -= lr * (grad + self.momentum * buf)
        else:
            x -= lr * buf

    def __repr__(self):
        sched = f", schedule={list(self.schedule)}" if self.schedule else ""
        return f"SGD(lr={self.lr}, momentum={self.momentum}, nesterov={self.nesterov}{sched})"


class Adam:
    r"""Adam (Kingma & Ba 2015) with the exact bias correction.

    .. math::
        m_k = \beta_1 m_{k-1} + (1-\beta_1) g_k, \quad
        v_k = \beta_2 v_{k-1} + (1-\beta_2) g_k^2, \\
        x_k = x_{k-1} - \eta\, \frac{m_k / (1-\beta_1^k)}{\sqrt{v_k / (1-\beta_2^k)} + \epsilon}.

    The correction divides by :math:`1-\beta^k` (k the step number), so the first step has
    size :math:`\eta\, |g| / (|g| + \epsilon) \approx \eta` in every coordinate. (The paper's
    reference code divided by the constant :math:`1-\beta`, which is not Adam.)

    Parameters
    ----------
    lr : float > 0
    beta1, beta2 : float in [0, 1)
    eps : float > 0
    """

    name = "adam"

    def __init__(self, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr = check_positive(lr, "lr")
        self.beta1 = _check_fraction(beta1, "beta1")
        self.beta2 = _check_fraction(beta2, "beta2")
        self.eps = check_positive(eps, "eps")

    def spec(self):
        return {"name": "adam", "lr": self.lr, "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}

    def init(self, n):
        return {"m": np.zeros(n), "v": np.zeros(n), "t": 0}

    def step(self, x, grad, state):
        """Update ``x`` in place with the gradient ``grad``."""
        state["t"] += 1
        t = state["t"]
        m, v = state["m"], state["v"]
        m *= self.beta1
        m += (1.0 - self.beta1) * grad
        v *= self.beta2
        v += (1.0 - self.beta2) * grad * grad
        m_hat = m / (1.0 - self.beta1 ** t)
        v_hat = v / (1.0 - self.beta2 ** t)
        x -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)

    def __repr__(self):
        return f"Adam(lr={self.lr}, beta1={self.beta1}, beta2={self.beta2}, eps={self.eps})"


OPTIMIZERS = {"sgd": SGD, "momentum": SGD, "adam": Adam}


def make_optimizer(optimizer="adam", lr=None, **options):
    """Build an optimizer from a name (``"sgd"``, ``"momentum"``, ``"adam"``), a spec dict, or
    return an existing :class:`SGD` / :class:`Adam` unchanged.

    ``"momentum"`` is SGD with ``momentum=0.9`` unless given. ``lr`` is required with a name.
    """
    if isinstance(optimizer, (SGD, Adam)):
        if lr is not None or options:
            raise ValueError("lr and options must not be given with an optimizer object")
        return optimizer
    if isinstance(optimizer, dict):
        spec = dict(optimizer)
        name = spec.pop("name", None)
        if lr is not None:
            spec["lr"] = lr
        spec.update(options)
        return make_optimizer(name, **spec)
    if not isinstance(optimizer, str):
        raise TypeError(f"optimizer must be a name {sorted(OPTIMIZERS)}, a spec dict or an optimizer "
                        f"object, got {optimizer!r}")
    key = optimizer.lower()
    if key not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {optimizer!r}")
    if lr is None:
        raise ValueError("lr is required")
    if key == "momentum":
        options.setdefault("momentum", 0.9)
    try:
        return OPTIMIZERS[key](lr, **options)
    except TypeError as exc:
        if "unexpected keyword" in str(exc):
            raise TypeError(f"unknown option for optimizer {optimizer!r}: {exc}") from None
        raise
