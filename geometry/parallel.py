r"""numba's threading layer for the parallel kernels of :mod:`geometry` and :mod:`landscape`:
safe under ``fork`` and under threads.

numba runs ``parallel=True`` kernels on a *threading layer*. On Linux without Intel TBB it
picks GNU OpenMP, which does not survive ``fork``: once any parallel kernel has run, every
process forked from the parent (the default start method of :mod:`multiprocessing` on
Linux, e.g. a plain ``ProcessPoolExecutor()``) is terminated with "fork() called from a
process already using GNU OpenMP" and the pool breaks (``BrokenProcessPool``).

:func:`configure_threading_layer` runs before the first parallel kernel of either package
compiles (their kernel modules call it on import) and chooses

* ``tbb`` when numba can load Intel TBB: safe under fork and under threads;
* otherwise numba's own ``workqueue``: safe under fork, but it aborts the process when two
  threads launch parallel kernels at the same time. :func:`parallel_call` therefore
  serialises launches with one process-wide lock while ``workqueue`` is active (each
  launch uses every numba thread anyway, so little is lost).

A layer chosen by the user -- the ``NUMBA_THREADING_LAYER`` environment variable, or
``numba.config.THREADING_LAYER`` set before the first parallel kernel -- is kept. When
another library has already started GNU OpenMP before this module could choose, a
``RuntimeWarning`` says that forked children will be terminated and what to do (start
processes with ``multiprocessing.get_context("spawn")`` or ``"forkserver"``, or set
``NUMBA_THREADING_LAYER=workqueue``). Results do not depend on the layer.
"""
from __future__ import annotations

import os
import threading
import warnings

__all__ = ["configure_threading_layer", "parallel_call", "threading_layer"]

_LAUNCH = threading.RLock()
_CHOSEN = None   # the layer this module asked for, once decided
_warned = False


def _numba_started():
    try:
        from numba.np.ufunc import parallel
    except ImportError:  # pragma: no cover - numba layout changed
        return False
    return bool(getattr(parallel, "_is_initialized", False))


def _tbb_loadable():
    try:
        from numba.np.ufunc import tbbpool  # noqa: F401 - loads libtbb, as numba itself would
    except ImportError:
        return False
    return True


def configure_threading_layer():
    """Choose numba's threading layer for fork and thread safety (see the module docstring).

    Idempotent and cheap; returns the layer asked for (``"tbb"``, ``"workqueue"``), or the
    user's choice, or None when numba's layer had already started before.
    """
    global _CHOSEN, _warned
    if _CHOSEN is not None:
        return _CHOSEN
    import numba

    if _numba_started():
        _CHOSEN = numba.threading_layer()
        if _CHOSEN == "omp" and not _warned and os.name == "posix":
            _warned = True
            warnings.warn(
                "numba's threading layer was started as GNU OpenMP before geometry/landscape could choose "
                "a fork-safe one: processes forked from now on will be terminated. Start process pools "
                "with multiprocessing.get_context('spawn') (or 'forkserver'), or set "
                "NUMBA_THREADING_LAYER=workqueue (or install Intel TBB) before running parallel code.",
                RuntimeWarning, stacklevel=3)
        return _CHOSEN
    user = os.environ.get("NUMBA_THREADING_LAYER") or numba.config.THREADING_LAYER
    if user and user != "default":
        _CHOSEN = user
    else:
        _CHOSEN = "tbb" if _tbb_loadable() else "workqueue"
        numba.config.THREADING_LAYER = _CHOSEN
    return _CHOSEN


def threading_layer():
    """The threading layer numba uses (or will use), e.g. ``"workqueue"``."""
    import numba

    if _numba_started():
        return numba.threading_layer()
    return configure_threading_layer()


def _needs_lock():
    layer = _CHOSEN if _CHOSEN is not None else configure_threading_layer()
    return layer not in ("tbb", "omp", "safe", "threadsafe")


def parallel_call(kernel, *args):
    """``kernel(*args)`` for a numba ``parallel=True`` kernel, safe when called from several threads.

    Serialises launches with a process-wide lock unless the threading layer is itself
    thread-safe (``tbb``, GNU OpenMP).
    """
    if _needs_lock():
        with _LAUNCH:
            return kernel(*args)
    return kernel(*args)
