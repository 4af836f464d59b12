r"""Training in random, burn-in and lottery subspaces, and the full-space baseline.

Subspace training trains :math:`\phi \in \mathbb{R}^d` from 0 with
:math:`\theta = \theta_s + A\phi`, where the gradient with respect to :math:`\phi` is
:math:`A^T \nabla L(\theta)`:

* ``kind="random"``: A is a random map (:func:`landscape.subspaces.random_subspace`, kind
  ``basis``) and :math:`\theta_s = \theta_0`; with ``burn_in=t > 0`` the subspace goes
  through :math:`\theta_t`, the point after t full-space steps (a *burn-in subspace*).
* ``kind="lottery"``: A spans the top-d left singular vectors of the steps
  :math:`\theta_{k+1} - \theta_k` of a full-space run from the same :math:`\theta_0`
  (:func:`landscape.subspaces.trajectory.lottery_subspace`), through :math:`\theta_t`
  (:math:`\theta_0` by default).

Every run is deterministic given its ``seed``: the initialization, the minibatch order and
the random map come from ``numpy.random.SeedSequence([seed, stream, ...])``, so results do
not depend on scheduling or on which process runs them. The protocol (optimizer, learning
rate, steps, batch size, seed, D, d, kind, burn-in, basis, model, dataset) is recorded next
to every result.

A run whose loss or gradient becomes NaN or infinite stops there and is recorded with
``status="diverged"`` and NaN final metrics: a failure, not a crash.
"""
from __future__ import annotations

import json
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from geometry.validation import check_choice, check_int, check_memory, check_positive, check_rng

from ..models.datasets import Dataset
from .optim import make_optimizer

__all__ = [
    "TrainingResult",
    "train_full",
    "train_in_subspace",
    "run_seed_sequence",
    "SUBSPACE_TRAINING_KINDS",
    "METRICS",
    "as_training_data",
]

SUBSPACE_TRAINING_KINDS = ("random", "lottery")

#: metrics recorded for every run (``best_*`` over the evaluation points after step 0)
METRICS = ("train_loss", "train_acc", "test_loss", "test_acc", "best_train_loss",
           "best_train_acc", "initial_train_loss", "initial_train_acc", "phi_norm")

# random streams derived from a run's seed
_STREAM_INIT, _STREAM_BATCHES, _STREAM_SUBSPACE, _STREAM_LOTTERY = 0, 1, 2, 3
_BASIS_CODES = {"orthonormal": 0, "gaussian": 1, "sparse": 2, "fastfood": 3}


def run_seed_sequence(seed, stream, *extra):
    """The SeedSequence of one random stream of a run: ``SeedSequence([seed, stream, *extra])``."""
    return np.random.SeedSequence([int(seed), int(stream), *[int(e) for e in extra]])


def _check_seed(seed):
    """Runs need an int seed (streams are derived from it); a Generator or None draws one."""
    if isinstance(seed, np.random.Generator) or seed is None:
        return int(check_rng(seed).integers(2 ** 63))
    check_rng(seed)  # raises clear errors for bad types / negative ints
    return int(seed)


def _describe(obj):
    """A string describing a model or dataset for the protocol."""
    if isinstance(obj, Dataset):
        return f"{obj.name}:{obj.fingerprint}"
    return repr(obj)


@dataclass(repr=False)
class TrainingResult:
    r"""The outcome of one training run.

    Attributes
    ----------
    metrics : dict
        ``train_loss``, ``train_acc`` (on the whole training set at the end), ``test_loss``,
        ``test_acc``, ``best_train_loss``, ``best_train_acc`` (best over the evaluation
        points), ``initial_train_loss``, ``initial_train_acc`` (at the starting point
        :math:`\theta_s`), ``phi_norm`` (:math:`\|\phi\|`; :math:`\|\theta - \theta_0\|` for a
        full-space run), ``status`` (``"ok"`` or ``"diverged"``), ``diverged_step``
        (-1 when not diverged), ``wall_time`` (seconds).
    protocol : dict
        ``kind``, ``d``, ``D``, ``t``, ``basis``, ``seed``, ``optimizer``, ``lr``, ``full_lr``
        (learning rate of the full-space runs), ``steps``,
        ``batch_size`` (0: full batch), ``eval_every``, ``model``, ``dataset``.
    theta : ndarray of shape (D,)
        Final parameters.
    phi : ndarray of shape (d,)
        Final subspace coordinates (for a full-space run, :math:`\theta - \theta_0`).
    history : dict of ndarray
        ``step``, ``train_loss``, ``train_acc`` at the evaluation points.
    trajectory : ndarray of shape (m, D), optional
        Recorded iterates of a full-space run (``record_every``).
    """

    metrics: dict
    protocol: dict
    theta: np.ndarray
    phi: np.ndarray
    history: dict = field(default_factory=dict)
    trajectory: np.ndarray | None = None

    @property
    def diverged(self):
        return self.metrics["status"] == "diverged"

    def record(self):
        """One flat, JSON-serialisable dict: protocol then metrics (a row of a RunTable)."""
        rec = dict(self.protocol)
        rec.update(self.metrics)
        return rec

    def __repr__(self):
        p, m = self.protocol, self.metrics
        return (f"TrainingResult(kind={p['kind']!r}, d={p['d']}, D={p['D']}, t={p['t']}, seed={p['seed']}, "
                f"train_loss={m['train_loss']:.4g}, train_acc={m['train_acc']:.4g}, status={m['status']!r})")


def _batches(n, batch_size, rng):
    """Index arrays of minibatches: a fresh permutation every epoch (None: full batch)."""
    if batch_size is None or batch_size >= n:
        while True:
            yield None
    while True:
        perm = rng.permutation(n)
        for start in range(0, n, batch_size):
            yield perm[start:start + batch_size]


def _evaluator(model):
    """(loss, accuracy) on validated data, using the model's unchecked kernels when it has them."""
    loss = getattr(model, "_loss", None) or model.loss
    acc = getattr(model, "_accuracy", None) or model.accuracy
    return loss, acc


def _train_loop(model, data, theta_start, A, opt, steps, batch_size, batch_rng, eval_every,
                record_every=None, progress=False, desc="training"):
    """Core loop shared by full-space (A None) and subspace training (a progress bar over the steps)."""
    from .._progress import progress_bar

    with progress_bar(steps, desc, progress=progress, unit="step", delay=_BAR_DELAY, leave=False) as bar:
        return _train_steps(model, data, theta_start, A, opt, steps, batch_size, batch_rng, eval_every,
                            record_every, bar)


#: seconds before a training bar appears (short runs, e.g. inside sweeps, never show one)
_BAR_DELAY = 1.0


def _train_steps(model, data, theta_start, A, opt, steps, batch_size, batch_rng, eval_every, record_every, bar):
    grad_fn = getattr(model, "_loss_and_grad", None) or model.loss_and_grad
    loss_fn, acc_fn = _evaluator(model)
    X, y = data.X_train, data.y_train
    dim = model.n_params if A is None else A.shape[1]
    x = theta_start.copy() if A is None else np.zeros(dim)
    state = opt.init(dim)
    theta = x if A is None else theta_start.copy()
    batches = _batches(X.shape[0], batch_size, batch_rng)
    hist_step, hist_loss, hist_acc = [], [], []
    traj = [theta.copy()] if record_every else None
    diverged_step = -1
    with np.errstate(all="ignore"):
        init_loss, init_acc = loss_fn(theta, X, y), acc_fn(theta, X, y)
        for k in range(1, steps + 1):
            idx = next(batches)
            Xb, yb = (X, y) if idx is None else (X[idx], y[idx])
            loss, g = grad_fn(theta, Xb, yb)
            if not (np.isfinite(loss) and np.all(np.isfinite(g))):
                diverged_step = k
                break
            opt.step(x, g if A is None else A.rmatvec(g), state)
            if not np.all(np.isfinite(x)):
                diverged_step = k
                break
            if A is not None:
                theta = theta_start + A.matvec(x)
            if record_every and k % record_every == 0:
                traj.append(theta.copy())
            bar.update()
            if (eval_every and k % eval_every == 0) or k == steps:
                hist_step.append(k)
                hist_loss.append(loss_fn(theta, X, y))
                hist_acc.append(acc_fn(theta, X, y))
        if diverged_step < 0:
            train_loss, train_acc = hist_loss[-1], hist_acc[-1]
            if not np.isfinite(train_loss):
                diverged_step = steps
        if diverged_step >= 0:
            train_loss = train_acc = test_loss = test_acc = float("nan")
            phi_norm = float("nan")
        else:
            if data.n_test:
                test_loss, test_acc = loss_fn(theta, data.X_test, data.y_test), acc_fn(theta, data.X_test, data.y_test)
            else:
                test_loss = test_acc = float("nan")
            phi_norm = float(np.linalg.norm(x if A is not None else theta - theta_start))
    finite_losses = [v for v in hist_loss if np.isfinite(v)]
    metrics = {
        "train_loss": float(train_loss),
        "train_acc": float(train_acc),
        "test_loss": float(test_loss),
        "test_acc": float(test_acc),
        "best_train_loss": float(min(finite_losses)) if finite_losses else float("nan"),
        "best_train_acc": float(max(a for v, a in zip(hist_loss, hist_acc) if np.isfinite(v)))
        if finite_losses else float("nan"),
        "initial_train_loss": float(init_loss),
        "initial_train_acc": float(init_acc),
        "phi_norm": phi_norm,
        "status": "diverged" if diverged_step >= 0 else "ok",
        "diverged_step": int(diverged_step),
    }
    history = {"step": np.asarray(hist_step, dtype=np.int64),
               "train_loss": np.asarray(hist_loss, dtype=np.float64),
               "train_acc": np.asarray(hist_acc, dtype=np.float64)}
    trajectory = np.asarray(traj) if traj is not None else None
    return metrics, theta, x, history, trajectory


def as_training_data(data):
    """A Dataset as it is; batches (a ``torch.utils.data.DataLoader``, a list of ``(X, y)``) collected
    into one (:meth:`landscape.models.datasets.Dataset.from_batches`); anything else unchanged."""
    from ..models.batches import is_batches

    if not isinstance(data, Dataset) and is_batches(data):
        return Dataset.from_batches(data)
    return data


def _check_common(model, data, optimizer, lr, steps, batch_size, eval_every):
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a landscape.models.datasets.Dataset, got {type(data).__name__}")
    for attr in ("n_params", "init_params", "loss_and_grad", "loss", "accuracy"):
        if not hasattr(model, attr):
            raise TypeError(f"model must have n_params, init_params, loss, loss_and_grad and accuracy; "
                            f"{type(model).__name__} has no {attr!r}")
    if getattr(model, "n_inputs", data.n_features) != data.n_features:
        raise ValueError(f"the model takes {model.n_inputs} inputs but the data have {data.n_features} features")
    if getattr(model, "n_classes", data.n_classes) < data.n_classes:
        raise ValueError(f"the model has {model.n_classes} outputs but the data have {data.n_classes} classes")
    opt = make_optimizer(optimizer, lr) if not hasattr(optimizer, "step") else make_optimizer(optimizer)
    steps = check_int(steps, "steps", minimum=1)
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", minimum=1)
    if eval_every is not None:
        eval_every = check_int(eval_every, "eval_every", minimum=1)
        check_memory(32 * (steps // eval_every + 2), "steps")  # the evaluation history
    return opt, steps, batch_size, eval_every


def _protocol(model, data, opt, steps, batch_size, eval_every, *, kind, d, t, basis, seed, full_lr):
    spec = opt.spec()
    extra = ",".join(f"{k}={v}" for k, v in spec.items() if k not in ("name", "lr"))
    return {
        "kind": kind, "d": int(d), "D": int(model.n_params), "t": int(t), "basis": basis,
        "seed": int(seed), "optimizer": f"{spec['name']}({extra})", "lr": float(spec["lr"]),
        "full_lr": float(full_lr),
        "steps": int(steps), "batch_size": int(batch_size or 0),
        "eval_every": int(eval_every or 0),
        "model": _describe(model), "dataset": _describe(data),
    }


# ---------------------------------------------------------------------- full-space runs
_CACHE = OrderedDict()
_CACHE_BYTES = 256 * 2 ** 20


def _nbytes(value):
    return sum(a.nbytes for a in value if isinstance(a, np.ndarray))


def _full_run(model, data, opt, steps, batch_size, seed, record_every=None):
    """(theta0, final theta, trajectory or None, metrics, history) of a full-space run, cached
    per process (results are deterministic, so the cache only saves time)."""
    key = None
    if hasattr(model, "spec"):
        key = (json.dumps(model.spec(), sort_keys=True), data.fingerprint,
               json.dumps(opt.spec(), sort_keys=True), int(steps), batch_size, int(seed), record_every)
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
    theta0 = np.asarray(model.init_params(np.random.default_rng(run_seed_sequence(seed, _STREAM_INIT))),
                        dtype=np.float64)
    batch_rng = np.random.default_rng(run_seed_sequence(seed, _STREAM_BATCHES))
    out = _train_loop(model, data, theta0, None, make_optimizer(opt.spec()), steps, batch_size,
                      batch_rng, None, record_every)
    value = (theta0,) + out
    if key is not None:
        _CACHE[key] = value
        while len(_CACHE) > 1 and sum(_nbytes(v) for v in _CACHE.values()) > _CACHE_BYTES:
            _CACHE.popitem(last=False)
    return value


def _initial_point(model, seed):
    return np.asarray(model.init_params(np.random.default_rng(run_seed_sequence(seed, _STREAM_INIT))),
                      dtype=np.float64)


def train_full(model, data, *, optimizer="adam", lr=1e-3, steps=300, batch_size=None, seed=0,
               eval_every=None, record_every=None, progress=None):
    r"""Full-space training from :math:`\theta_0` (the baseline of every sweep).

    Parameters
    ----------
    model : model object
        ``n_params``, ``init_params(seed)``, ``loss``, ``loss_and_grad``, ``accuracy``
        (e.g. :class:`landscape.models.MLP`).
    data : Dataset, or batches (a ``torch.utils.data.DataLoader``, a list of ``(X, y)``)
        Batches are collected into a Dataset (:meth:`~landscape.models.datasets.Dataset.from_batches`);
        minibatches are drawn from ``seed`` as for arrays.
    optimizer : {"adam", "sgd", "momentum"}, dict or optimizer object
    lr : float
        Learning rate (ignored when ``optimizer`` is an object).
    steps : int
        Fixed budget of optimizer steps.
    batch_size : int, optional
        Minibatch size (a fresh permutation each epoch); None: full batch.
    seed : int, Generator or None
        Seeds :math:`\theta_0` (stream 0) and the batch order (stream 1).
    eval_every : int, optional
        Evaluate on the whole training set every ``eval_every`` steps (for ``best_*`` and
        ``history``); always at the end.
    record_every : int, optional
        Record the iterates :math:`\theta_0, \theta_k, \theta_{2k}, \ldots` in
        ``result.trajectory``.
    progress : bool or None
        A progress bar over the steps (tqdm, on stderr) for runs longer than a second:
        None shows it when a person is watching (terminal, notebook), False never.

    Returns
    -------
    TrainingResult
        With ``protocol["kind"] == "full"`` and ``d == D``.
    """
    data = as_training_data(data)
    data = as_training_data(data)
    opt, steps, batch_size, eval_every = _check_common(model, data, optimizer, lr, steps, batch_size, eval_every)
    if record_every is not None:
        record_every = check_int(record_every, "record_every", minimum=1)
        check_memory(8 * int(model.n_params) * (steps // record_every + 2), "steps")  # the iterates kept
    seed = _check_seed(seed)
    t0 = time.perf_counter()
    theta0 = _initial_point(model, seed)
    batch_rng = np.random.default_rng(run_seed_sequence(seed, _STREAM_BATCHES))
    metrics, theta, _, history, traj = _train_loop(model, data, theta0, None, opt, steps, batch_size,
                                                   batch_rng, eval_every, record_every, progress=progress,
                                                   desc="full-space training")
    metrics["wall_time"] = time.perf_counter() - t0
    protocol = _protocol(model, data, opt, steps, batch_size, eval_every, kind="full",
                         d=model.n_params, t=0, basis="none", seed=seed, full_lr=opt.lr)
    return TrainingResult(metrics, protocol, theta, theta - theta0, history, traj)


def _lottery_map(trajectory, d, seed, t):
    from ..subspaces.trajectory import lottery_subspace

    return lottery_subspace(trajectory, d, complete=True,
                            seed=np.random.default_rng(run_seed_sequence(seed, _STREAM_LOTTERY, t)))


def train_in_subspace(model, data, d, *, kind="random", burn_in=0, basis="orthonormal",
                      optimizer="adam", lr=1e-2, steps=300, batch_size=None, seed=0,
                      eval_every=None, full_lr=None, progress=None):
    r"""Train :math:`\phi \in \mathbb{R}^d` with :math:`\theta = \theta_s + A\phi` for a fixed budget.

    .. math:: \phi_{k+1} = \mathrm{opt}\big(\phi_k,\; A^T \nabla L(\theta_s + A\phi_k)\big), \qquad \phi_0 = 0.

    Parameters
    ----------
    model : model object
        See :func:`train_full`.
    data : Dataset, or batches (a ``torch.utils.data.DataLoader``, a list of ``(X, y)``)
        Batches are collected into a Dataset (:meth:`~landscape.models.datasets.Dataset.from_batches`);
        minibatches are drawn from ``seed`` as for arrays.
    d : int in [1, D]
        Training dimension.
    kind : {"random", "lottery"}
        ``"random"``: A from :func:`landscape.subspaces.random_subspace` (kind ``basis``,
        seeded by stream 2 of ``seed``; the maps of one seed are nested in d).
        ``"lottery"``: A spans the top-d directions of the steps of the full-space run of
        the same protocol and seed (``steps`` steps from :math:`\theta_0`). When d exceeds
        the numerical rank r of those steps (at most ``steps``; less for full-batch runs),
        the frame is completed with d - r Haar-random orthonormal directions of the
        orthogonal complement (stream 3 of the seed).
    burn_in : int >= 0
        t: the subspace goes through :math:`\theta_t`, the point after t full-space steps
        (same optimizer, learning rate ``full_lr`` or ``lr``, batch order of the seed).
        0: through :math:`\theta_0`.
    basis : {"orthonormal", "gaussian", "sparse", "fastfood"}
        Construction of the random map (``kind="random"`` only).
    optimizer, lr, steps, batch_size, eval_every
        Training protocol (see :func:`train_full`); the optimizer acts on :math:`\phi`.
    seed : int, Generator or None
        Seeds :math:`\theta_0`, the batch order and the subspace. Runs with the same seed
        share :math:`\theta_0`.
    full_lr : float, optional
        Learning rate of the full-space runs: burn-in and the lottery trajectory
        (default ``lr``).
    progress : bool or None
        See :func:`train_full`.

    Returns
    -------
    TrainingResult

    Raises
    ------
    ValueError
        ``d`` outside [1, D], unknown ``kind`` or ``basis``, ``burn_in < 0``.

    Examples
    --------
    >>> from landscape.models import MLP
    >>> from landscape.models.datasets import teacher_student
    >>> data = teacher_student(100, 0, n_features=4, n_classes=2, hidden=0, seed=1000)
    >>> res = train_in_subspace(MLP([4, 2]), data, d=5, steps=50, lr=0.05, seed=0)
    >>> res.protocol["d"], res.protocol["D"], res.metrics["status"]
    (5, 10, 'ok')
    """
    data = as_training_data(data)
    opt, steps, batch_size, eval_every = _check_common(model, data, optimizer, lr, steps, batch_size, eval_every)
    D = int(model.n_params)
    d = check_int(d, "d", minimum=1)
    if d > D:
        raise ValueError(f"d must be <= D = {D} (the number of parameters), got d={d}")
    kind = check_choice(kind, "kind", SUBSPACE_TRAINING_KINDS)
    t = check_int(burn_in, "burn_in", minimum=0)
    if kind == "random":
        basis = check_choice(basis, "basis", _BASIS_CODES)
    else:
        basis = "none"
    if kind == "lottery":  # the full-space run keeps every iterate
        check_memory(8 * D * (steps + 2), "steps")
    if full_lr is not None:
        full_lr = check_positive(full_lr, "full_lr")
    full_opt = opt if full_lr is None else make_optimizer({**opt.spec(), "lr": full_lr})
    seed = _check_seed(seed)
    t0 = time.perf_counter()

    theta0 = _initial_point(model, seed)
    theta_start = theta0
    if t > 0:
        theta_start = _full_run(model, data, full_opt, t, batch_size, seed)[2]
    if kind == "random":
        from ..subspaces.maps import random_subspace

        A = random_subspace(D, d, kind=basis,
                            seed=run_seed_sequence(seed, _STREAM_SUBSPACE, t, _BASIS_CODES[basis]))
    else:
        trajectory = _full_run(model, data, full_opt, steps, batch_size, seed, record_every=1)[5]
        A = _lottery_map(trajectory, d, seed, t)
    batch_rng = np.random.default_rng(run_seed_sequence(seed, _STREAM_BATCHES))
    metrics, theta, phi, history, _ = _train_loop(model, data, theta_start, A, opt, steps, batch_size,
                                                  batch_rng, eval_every, progress=progress,
                                                  desc=f"training in d = {d}")
    metrics["wall_time"] = time.perf_counter() - t0
    protocol = _protocol(model, data, opt, steps, batch_size, eval_every, kind=kind, d=d, t=t,
                         basis=basis, seed=seed, full_lr=full_opt.lr)
    return TrainingResult(metrics, protocol, theta, phi, history)
