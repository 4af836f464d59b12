r"""Executors for the toolkit's parallel loops (subspace sweeps, sub-level widths); internal.

Every loop that fans runs out to workers takes ``executor`` as one of

* ``None``: a process pool of up to ``max_workers`` spawned workers (started with an
  initializer that keeps the model and data, so tasks do not ship them), shut down at the end;
* ``"serial"`` or :class:`SerialExecutor`: in this process, one task at a time;
* any :class:`concurrent.futures.Executor` (e.g. a Dask client's ``get_executor()``): used
  as given, each task carrying what it needs, and left running.

Results never depend on the choice: every task draws from its own seeded stream.
"""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os

__all__ = ["SerialExecutor", "check_executor", "start_executor", "executor_guard"]


class SerialExecutor(cf.Executor):
    """An Executor that runs each task in the calling process when it is submitted."""

    def submit(self, fn, /, *args, **kwargs):
        future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
            if isinstance(exc, KeyboardInterrupt):
                raise
            future.set_exception(exc)
        return future


def check_executor(executor):
    """``executor`` unchanged if it is None, ``"serial"`` or an Executor; else a TypeError naming it."""
    if not (executor is None or isinstance(executor, cf.Executor)
            or (isinstance(executor, str) and executor == "serial")):
        raise TypeError(f"executor must be a concurrent.futures.Executor, 'serial' or None, got {executor!r:.80}")
    return executor


def start_executor(executor, max_workers, n_tasks, initializer, initargs):
    """The executor to submit to: ``(executor, own, ship)``.

    ``own``: the executor was started here (a process pool) and is to be shut down by
    :func:`executor_guard`. ``ship``: tasks must carry the model and data themselves (False
    only for the pool started here, whose workers got them from ``initializer(*initargs)``).
    """
    if executor is None:
        n = max(1, min(max_workers or os.cpu_count() or 1, n_tasks))
        pool = cf.ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"),
                                      initializer=initializer, initargs=initargs)
        return pool, True, False
    if isinstance(executor, str) and executor == "serial":
        return SerialExecutor(), False, True
    return executor, False, True


@contextlib.contextmanager
def executor_guard(executor, own, futures, bar):
    """Close the progress ``bar`` at the end; on any error (KeyboardInterrupt included) cancel the
    pending ``futures`` (a dict or list, filled inside the block) and, if ``own``, shut the pool
    down without waiting for queued tasks; on success shut an owned pool down normally."""
    try:
        yield
    except BaseException:
        for f in list(futures):
            f.cancel()
        if own:
            executor.shutdown(wait=True, cancel_futures=True)
        raise
    else:
        if own:
            executor.shutdown(wait=True)
    finally:
        bar.close()
