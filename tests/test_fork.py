"""Fork after numba (issue 9, section 5): a fork-based process pool works after parallel
kernels of both packages ran in the parent, and parallel kernels may be launched from
several threads at once. Each scenario runs in its own interpreter, so the test process's
threading layer is not involved."""
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = textwrap.dedent("""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    import numba
    import numpy as np

    from geometry import Ellipsoid
    from geometry.parallel import threading_layer
    from landscape.subspaces._fwht import fwht_rows

    def transform(k):
        X = np.zeros((4, 1 << 15))  # above the size where fwht_rows goes parallel
        X[:, 0] = k
        fwht_rows(X)  # a parallel kernel (rows spread over the threads)
        return float(X.sum())

    def support(k):
        E = Ellipsoid(np.zeros(3), [1.0, 2.0, 3.0])
        return float(E.support(np.full((4000, 3), float(k))).sum())

    # parallel kernels of both packages run in the parent first
    expected = [transform(k) for k in range(6)]
    expected_support = [support(k) for k in range(6)]
    with ProcessPoolExecutor(2, mp_context=mp.get_context("fork")) as ex:
        assert list(ex.map(transform, range(6))) == expected
        assert list(ex.map(support, range(6))) == expected_support
    with ThreadPoolExecutor(4) as ex:  # concurrent launches from several threads
        assert list(ex.map(transform, list(range(6)) * 4)) == expected * 4
        assert list(ex.map(support, list(range(6)) * 4)) == expected_support * 4
    print("layer", threading_layer(), numba.threading_layer())
""")


def _run(env_extra):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_THREADING_LAYER"}
    env.update(PYTHONPATH=ROOT, NUMBA_NUM_THREADS="2", **env_extra)
    return subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600, env=env)


def test_fork_pool_and_threads_after_parallel_kernels():
    res = _run({})
    assert res.returncode == 0, res.stderr[-3000:]
    layer = res.stdout.split()[-1]
    assert layer in ("workqueue", "tbb")


def test_gnu_openmp_would_break_the_fork_pool():
    """The scenario above does fail with GNU OpenMP (so the test above can fail)."""
    res = _run({"NUMBA_THREADING_LAYER": "omp"})
    if "No threading layer could be loaded" in res.stderr:
        pytest.skip("no OpenMP threading layer on this machine")
    assert res.returncode != 0 and ("fork() called from a process already using GNU OpenMP" in res.stderr
                                    or "BrokenProcessPool" in res.stderr)


def test_a_layer_started_before_us_is_reported():
    code = textwrap.dedent("""
        import warnings
        import numba
        import numpy as np
        numba.config.THREADING_LAYER = "omp"

        @numba.njit(parallel=True)
        def total(x):
            s = 0.0
            for i in numba.prange(x.size):
                s += x[i]
            return s

        total(np.ones(1000))  # another library starts GNU OpenMP first
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            from landscape.subspaces import _fwht  # noqa: F401
        print([str(w.message) for w in caught])
    """)
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("NUMBA_THREADING_LAYER", None)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env)
    if "No threading layer could be loaded" in res.stderr:
        pytest.skip("no OpenMP threading layer on this machine")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "GNU OpenMP" in res.stdout and "spawn" in res.stdout
