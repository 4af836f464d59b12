r"""Thread counts for training steps: one thread pool busy at a time, no oversubscription.

A subspace training step on the CPU can use three thread pools: torch's (the network and
dense or sparse maps), numba's (the Fastfood transforms) and numpy's BLAS. They run one
after the other within a step, but a pool that has just finished keeps its workers
spinning for a while, and on a machine with few cores (or shared with other jobs) three
pools of all the cores each stalled steps for seconds. The rule (:func:`step_threads`):

* ``threads`` given: torch and numba use that many threads, BLAS one.
* otherwise (automatic): a step whose largest operand (the dense map, the Fastfood
  work vectors, the parameter vector) is below :data:`SMALL_STEP_BYTES` runs on one
  thread in every pool: its operations are too short for threads to pay. A larger step
  gives torch and numba all the cores this process may use (``os.sched_getaffinity``),
  but never more than ``torch.get_num_threads()`` at the call (so a global
  ``torch.set_num_threads(k)`` stays a ceiling), and BLAS (numpy's, not used by the torch
  step) one thread, so that its idle workers never compete with the active pool.

:func:`thread_budget` applies the counts for the duration of a ``with`` block and restores
the previous ones.
"""
from __future__ import annotations

import contextlib
import os
import sys

__all__ = ["SMALL_STEP_BYTES", "step_threads", "thread_budget"]

#: steps whose largest operand has fewer bytes run on one thread (measured in
#: benchmarks/RESULTS.md: below about 8 MiB one thread is as fast or faster on 2 cores)
SMALL_STEP_BYTES = 8 * 2 ** 20


def available_cores():
    """CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def step_threads(step_bytes, threads=None):
    """Threads for torch and numba in a step whose largest operand has ``step_bytes`` bytes.

    ``threads`` (an int >= 1) overrides the automatic choice (see the module docstring).
    """
    if threads is not None:
        return int(threads)
    if step_bytes < SMALL_STEP_BYTES:
        return 1
    ceiling = available_cores()
    torch = sys.modules.get("torch")
    if torch is not None:
        ceiling = min(ceiling, torch.get_num_threads())
    return max(1, ceiling)


@contextlib.contextmanager
def thread_budget(n):
    """Run the block with ``n`` torch and numba threads and one BLAS thread; restore the counts after.

    numba's count is set only when numba is already imported (it is per calling thread),
    and capped by the size of its pool.
    """
    n = max(1, int(n))
    stack = contextlib.ExitStack()
    with stack:
        torch = sys.modules.get("torch")
        if torch is not None:
            before = torch.get_num_threads()
            if before != n:
                torch.set_num_threads(n)
                stack.callback(torch.set_num_threads, before)
        numba = sys.modules.get("numba")
        if numba is not None:
            nb_before = numba.get_num_threads()
            nb = min(n, numba.config.NUMBA_NUM_THREADS)
            if nb != nb_before:
                numba.set_num_threads(nb)
                stack.callback(numba.set_num_threads, nb_before)
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - a runtime dependency
            pass
        else:
            stack.enter_context(threadpool_limits(limits=1, user_api="blas"))
        yield n
