r"""Sweeps of subspace training over d, seeds, burn-in t and subspace kind.

:func:`sweep` runs :func:`landscape.experiments.training.train_in_subspace` (and the full-space
baseline) for every combination, through any :class:`concurrent.futures.Executor`, and
writes each completed run to a results store (:class:`landscape.experiments.result_store.ResultStore`) as soon
as it finishes. A killed sweep loses at most the runs in flight; running it again executes
only the missing runs.

Executors
---------
* default: a :class:`concurrent.futures.ProcessPoolExecutor` with the ``spawn`` start
  method and one worker per CPU (model and data are sent once per worker);
* ``executor="serial"`` (or :class:`SerialExecutor`): in this process, one run at a time;
* any other Executor, e.g. a Dask cluster: ``distributed.Client(...).get_executor()``
  (Dask is an optional extra, ``pip install 'dof-geometry[dask]'``). Model and data are
  then sent with every task; pass ``data`` as a picklable zero-argument callable
  (``functools.partial(load_fashion_mnist, n_train=10000)``) to load it on the workers
  instead (cached per worker process).

Reproducibility: a run's randomness comes only from its seed (see
:mod:`landscape.experiments.training`), and each run computes with a single BLAS thread (through
``threadpoolctl`` when installed: it comes with scikit-learn; without it, set
``OMP_NUM_THREADS=1`` for bitwise equality across executors), so the results for a
given seed are identical whatever the executor and the number of workers.
"""
from __future__ import annotations

import collections
import concurrent.futures as cf
import os

import numpy as np

from geometry.validation import check_bool, check_choice, check_int, check_memory, check_positive

from .._progress import progress_bar
from ..models.datasets import Dataset
from ..subspaces.masks import prunable_parameters
from ._executors import SerialExecutor, check_executor, executor_guard, start_executor
from .lottery_tickets import TicketProtocol, train_ticket
from .run_table import KEY_COLUMNS, RunTable
from .result_store import ResultStore, run_id, run_key
from .training import (SUBSPACE_TRAINING_KINDS, _BASIS_CODES, _check_common, as_training_data, train_full,
                       train_in_subspace)

__all__ = ["sweep", "SerialExecutor", "sweep_protocol", "SWEEP_KINDS"]

#: kinds of runs a sweep makes besides the full-space baseline
SWEEP_KINDS = SUBSPACE_TRAINING_KINDS + ("ticket",)


# ---------------------------------------------------------------------- worker side
_WORKER = {}
_DATA_CACHE = {}


def _init_worker(model, data):
    """ProcessPoolExecutor initializer: keep model and data for the tasks of this worker."""
    _WORKER["model"] = model
    _WORKER["data"] = data


def _resolve_data(data):
    if isinstance(data, Dataset):
        return data
    import pickle

    key = pickle.dumps(data)
    hit = _DATA_CACHE.get(key)
    if hit is None:
        hit = data()
        if not isinstance(hit, Dataset):
            raise TypeError(f"the data callable must return a Dataset, got {type(hit).__name__}")
        _DATA_CACHE.clear()
        _DATA_CACHE[key] = hit
    return hit


def _single_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1)


def _run_task(task):
    """Run one sweep task (top-level so that every executor can pickle it).

    ``task = (model, data, key, options)``; model and data are None when the worker
    holds them (process pool initializer). Returns ``(record, history)``.
    """
    model, data, key, options = task
    if model is None:
        model, data = _WORKER["model"], _WORKER["data"]
    data = _resolve_data(data)
    kind, t, basis, d, seed = key
    options = dict(options)
    ticket = options.pop("ticket", None)
    with _single_thread():
        if kind == "ticket":
            res = train_ticket(model, data, d=d, rewind=t, protocol=ticket, steps=options["steps"],
                               batch_size=options["batch_size"], eval_every=options["eval_every"], seed=seed)
        elif kind == "full":
            opts = dict(options)
            full_lr = opts.pop("full_lr")
            if full_lr is not None:
                opts["lr"] = full_lr
            res = train_full(model, data, seed=seed, progress=False, **opts)
        else:
            res = train_in_subspace(model, data, d, kind=kind, burn_in=t,
                                    basis=basis if kind == "random" else "orthonormal", seed=seed,
                                    progress=False, **options)
    record = res.record()
    if run_key(record) != tuple(key):  # pragma: no cover - internal consistency
        raise RuntimeError(f"run key mismatch: {run_key(record)} != {key}")
    return record, res.history


# ---------------------------------------------------------------------- the sweep
def _as_list(x, name, *, minimum=0):
    if isinstance(x, (str, bytes)) or not hasattr(x, "__iter__"):
        x = [x]
    out = []
    for v in x:
        v = check_int(v, f"{name} entries", minimum=minimum)
        if v not in out:
            out.append(v)
    if not out:
        raise ValueError(f"{name} must not be empty (an empty sweep has nothing to run)")
    return out


def sweep_protocol(model, data, *, optimizer="adam", lr=1e-2, steps=300, batch_size=None,
                   eval_every=None, full_lr=None, ticket=None):
    """The protocol dict of a sweep (what must match for results to share a store).

    ``ticket`` (a :class:`~landscape.experiments.lottery_tickets.TicketProtocol`, for sweeps
    with lottery tickets) adds a ``"ticket"`` section; a store takes such a section on when
    it first needs it (see :class:`~landscape.experiments.result_store.ResultStore`).
    """
    opt, steps, batch_size, eval_every = _check_common(model, data, optimizer, lr, steps, batch_size, eval_every)
    if full_lr is not None:
        full_lr = check_positive(full_lr, "full_lr")
    spec = model.spec() if hasattr(model, "spec") else repr(model)
    out = {
        "model": spec, "model_repr": repr(model), "D": int(model.n_params),
        "dataset": data.spec(), "optimizer": opt.spec(), "steps": int(steps),
        "batch_size": int(batch_size or 0), "eval_every": int(eval_every or 0),
        "full_lr": full_lr,
        "format": 1,
    }
    if ticket is not None:
        out["ticket"] = TicketProtocol.from_spec(ticket).spec()
    return out


def sweep(model, data, ds, seeds=5, *, kinds=("random",), burn_in=(0,), basis="orthonormal",
          optimizer="adam", lr=1e-2, steps=300, batch_size=None, eval_every=None, full_lr=None,
          include_full=True, store=None, executor=None, max_workers=None, progress=None,
          save_history=False, ticket=None, rewind=(0,)):
    r"""Train in subspaces (and lottery tickets) for every (kind, t, d, seed), in parallel, resumably.

    Parameters
    ----------
    model : model object
        See :func:`landscape.experiments.training.train_full`; must be picklable for process executors.
    data : Dataset, callable, or batches
        The dataset, or a picklable zero-argument callable returning it (loaded once here
        for the protocol, and on the workers), or batches (a ``torch.utils.data.DataLoader``,
        a list of ``(X, y)``), collected into one Dataset
        (:meth:`~landscape.models.datasets.Dataset.from_batches`): the runs, their minibatches
        (drawn from each run's seed) and their losses over the whole set are then exactly
        those of the same data given as arrays.
    ds : int or sequence of int
        Training dimensions, each in [1, D].
    seeds : int or sequence of int
        ``n`` means seeds ``0, ..., n-1``. Runs with one seed share :math:`\theta_0`.
    kinds : sequence of {"random", "lottery", "ticket"}
        ``"ticket"``: lottery tickets (:func:`landscape.experiments.lottery_tickets.train_ticket`),
        with d the number of free parameters (nnz of the mask) and t the rewind step. Only
        the d of ``ds`` that a mask can have run: d > the number of parameters that are not
        prunable (the biases, by default).
    burn_in : int or sequence of int
        Burn-in steps t (0: subspaces through :math:`\theta_0`).
    basis : {"orthonormal", "gaussian", "sparse", "fastfood"}
        Random map of ``kind="random"``.
    optimizer, lr, steps, batch_size, eval_every
        Training protocol (see :func:`landscape.experiments.training.train_in_subspace`).
    full_lr : float, optional
        Learning rate of full-space training: the baseline, burn-in and the lottery
        trajectory (default ``lr``).
    include_full : bool
        Add one full-space run per seed (``kind="full"``, ``d=D``), the baseline.
    store : str, os.PathLike or ResultStore, optional
        Results directory. Completed runs are appended as they finish; runs already there
        are not run again. Its protocol must match this sweep's.
    executor : Executor, "serial" or None
        None: a process pool (``spawn``) of ``max_workers`` workers (default: CPU count),
        shut down at the end. A given Executor is used and left running.
    max_workers : int, optional
    progress : bool or None
        Progress bar over the runs on stderr (tqdm): None (default) shows it when a person
        is watching (a terminal or a notebook), False never, True always.
    save_history : bool
        Also store each run's evaluation history in ``arrays/<run>.npz`` (needs ``store``).
    ticket : TicketProtocol or dict, optional
        The lottery-ticket protocol (pre-training, prunable parameters, weight decay,
        retraining schedule); default ``TicketProtocol()``. Recorded in the store's
        protocol and in every ticket run. Tickets retrain for ``steps`` steps of batch
        ``batch_size``, like the other runs; ``optimizer`` and ``lr`` do not apply to them.
    rewind : int or sequence of int
        Rewind steps t of the tickets (0: rewind to :math:`\theta_0`).

    Returns
    -------
    RunTable
        The runs of this sweep's grid (from the store, including those done earlier),
        sorted by kind, t, basis, d, seed. Columns: the protocol (``kind``, ``d``, ``D``,
        ``t``, ``basis``, ``seed``, ``optimizer``, ``lr``, ``steps``, ``batch_size``, ...)
        and the metrics of :class:`landscape.experiments.training.TrainingResult`.

    Raises
    ------
    ValueError
        Empty ``ds`` / ``seeds`` / ``kinds`` / ``burn_in``, d outside [1, D], a store of
        another protocol, no d of ``ds`` possible for a ticket, a rewind step beyond
        pre-training.
    RuntimeError
        When a run raises: the runs completed so far are stored, the others cancelled.

    Examples
    --------
    >>> from landscape.models import MLP
    >>> from landscape.models.datasets import teacher_student
    >>> data = teacher_student(60, 0, n_features=3, n_classes=2, hidden=0, seed=1000)
    >>> table = sweep(MLP([3, 2]), data, ds=[1, 4], seeds=2, steps=20, executor="serial",
    ...               progress=False)
    >>> len(table), table.unique("kind")
    (6, ['full', 'random'])
    """
    data = as_training_data(data)  # batches (a DataLoader) -> one Dataset, shipped to the workers
    data_obj = data if isinstance(data, Dataset) else None
    if data_obj is None:
        if not callable(data):
            raise TypeError(f"data must be a Dataset or a zero-argument callable returning one, "
                            f"got {type(data).__name__}")
        data_obj = _resolve_data(data)
    if not hasattr(model, "n_params"):
        raise TypeError(f"model must have n_params (the model interface), got {type(model).__name__}")
    D = int(model.n_params)
    ds = _as_list(ds, "ds", minimum=1)
    too_big = [d for d in ds if d > D]
    if too_big:
        raise ValueError(f"ds must be <= D = {D} (the number of parameters), got {too_big}")
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        seeds = check_int(seeds, "seeds", minimum=1)
        check_memory(256 * seeds * len(ds), "seeds")  # one key and record per run
        seeds = range(seeds)
    seeds = _as_list(seeds, "seeds", minimum=0)
    burn_in = _as_list(burn_in, "burn_in", minimum=0)
    if isinstance(kinds, str):
        kinds = [kinds]
    try:
        kinds = list(dict.fromkeys(kinds))
    except TypeError:
        raise TypeError(f"kinds must be a list of names among {SWEEP_KINDS}, got {kinds!r:.80}") from None
    if not kinds:
        raise ValueError("kinds must not be empty")
    for k in kinds:
        try:
            check_choice(k, "kinds", SWEEP_KINDS)
        except (TypeError, ValueError):
            raise ValueError(f"kinds must be among {SWEEP_KINDS}, got {k!r:.80}") from None
    if "random" in kinds:
        check_choice(basis, "basis", tuple(_BASIS_CODES))
    if not (store is None or isinstance(store, (ResultStore, str, os.PathLike))):
        raise TypeError(f"store must be a ResultStore, a directory name or None, got {type(store).__name__}")
    include_full = check_bool(include_full, "include_full")
    if check_bool(save_history, "save_history") and store is None:
        raise ValueError("save_history=True needs a store")
    check_executor(executor)
    if max_workers is not None:
        max_workers = check_int(max_workers, "max_workers", minimum=1)
    # validate the protocol (optimizer, steps, batch size, ...) before anything runs or is written
    _, steps, batch_size, eval_every = _check_common(model, data_obj, optimizer, lr, steps, batch_size,
                                                     eval_every)
    if full_lr is not None:
        full_lr = check_positive(full_lr, "full_lr")
    ticket_ds = None
    if "ticket" in kinds:
        ticket, rewind, ticket_ds = _ticket_plan(model, data_obj, ds, ticket, rewind, batch_size)
    elif ticket is not None:
        raise ValueError("ticket options were given but kinds has no 'ticket'")
    protocol = sweep_protocol(model, data_obj, optimizer=optimizer, lr=lr, steps=steps,
                              batch_size=batch_size, eval_every=eval_every, full_lr=full_lr,
                              ticket=ticket if "ticket" in kinds else None)
    opt_spec = dict(protocol["optimizer"])
    options = dict(optimizer=opt_spec, lr=opt_spec.pop("lr"), steps=steps, batch_size=batch_size,
                   eval_every=eval_every, full_lr=full_lr)
    if "ticket" in kinds:
        options["ticket"] = protocol["ticket"]

    keys = []
    if include_full:
        keys += [("full", 0, "none", D, s) for s in seeds]
    for kind in kinds:
        if kind == "ticket":
            keys += [("ticket", t, "magnitude", d, s) for t in rewind for d in ticket_ds for s in seeds]
            continue
        b = basis if kind == "random" else "none"
        keys += [(kind, t, b, d, s) for t in burn_in for d in ds for s in seeds]

    if store is not None:
        # a mismatching protocol raises here, before anything runs
        store = ResultStore(store.path if isinstance(store, ResultStore) else store, protocol=protocol)
    done = {}
    if store is not None:  # reading needs no lock: a complete store resumes on a read-only disk
        done = {run_key(rec): rec for rec in store.records()}
    todo = [k for k in keys if k not in done]
    results = {}
    if todo:
        if store is not None:
            store.lock()
        try:
            if store is not None:  # another process may have added runs before we held the lock
                done = {run_key(rec): rec for rec in store.records()}
                todo = [k for k in keys if k not in done]
            results = _execute(model, data, todo, options, store, executor, max_workers, progress,
                               save_history)
        finally:
            if store is not None:
                store.unlock()
    done.update(results)
    return RunTable([done[k] for k in keys]).sort()


def _ticket_plan(model, data, ds, ticket, rewind, batch_size):
    """Validated ticket protocol, rewind steps and the d of ``ds`` that a mask can have."""
    ticket = TicketProtocol.from_spec(ticket)
    rewind = _as_list(rewind, "rewind", minimum=0)
    T = ticket.n_pretrain_steps(data.n_train, batch_size)
    late = [t for t in rewind if t > T]
    if late:
        raise ValueError(f"rewind steps must be <= {T} (the pre-training steps), got {late}")
    prunable = prunable_parameters(model, ticket.prunable)
    fixed = int(prunable.size - prunable.sum())
    ticket_ds = [d for d in ds if d > fixed]
    if not ticket_ds:
        raise ValueError(f"no d in ds can be a ticket's number of free parameters: {fixed} parameters are not "
                         f"prunable ({ticket.prunable!r}), so d must exceed {fixed}; got ds={ds}")
    return ticket, rewind, ticket_ds


def _cost(key, D):
    kind, t, basis, d, seed = key
    return D if kind in ("full", "ticket") else d


def _execute(model, data, todo, options, store, executor, max_workers, progress, save_history):
    results = {}
    if not todo:
        return results
    D = int(model.n_params)
    # expensive runs first: better load balance; the order does not change any result
    todo = sorted(todo, key=lambda k: -_cost(k, D))
    executor, own, ship = start_executor(executor, max_workers, len(todo), _init_worker, (model, data))
    bar = progress_bar(len(todo), "sweep", progress=progress, unit="run")
    futures = {}
    finished = collections.deque()  # filled by done-callbacks, from any thread
    handled = set()

    def handle(fut):
        handled.add(fut)
        key = futures[fut]
        try:
            record, history = fut.result()
        except Exception as exc:
            raise RuntimeError(f"run {dict(zip(KEY_COLUMNS, key))} failed: {type(exc).__name__}: {exc}; "
                               f"{len(results)} runs completed and stored") from exc
        if store is not None:
            if save_history:
                store.save_arrays(run_id(record), **history)
            store.append(record)
        results[key] = record
        bar.update()

    with executor_guard(executor, own, futures, bar):
        for key in todo:
            task = (model, data, key, options) if ship else (None, None, key, options)
            fut = executor.submit(_run_task, task)
            futures[fut] = key
            fut.add_done_callback(finished.append)
            # store what has finished already (every run, with a serial executor)
            while finished:
                handle(finished.popleft())
        for fut in cf.as_completed(list(futures)):
            if fut not in handled:
                handle(fut)
    return results
