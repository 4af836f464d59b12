"""Shared test configuration.

Seeds: data drawn for a test uses seeds >= 1000, estimators use small seeds, so the
two random streams never coincide (style.md).
"""
import os

import matplotlib
import pytest

matplotlib.use("Agg")

# Small matrix products run much slower with several BLAS threads on a 2-core machine
# shared with numba's threads; results do not depend on it (the kernels' own thread-count
# independence is tested explicitly).
try:
    from threadpoolctl import threadpool_limits

    _BLAS_LIMIT = threadpool_limits(limits=1, user_api="blas")
except ImportError:  # pragma: no cover
    _BLAS_LIMIT = None

try:
    from hypothesis import settings

    settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
except ImportError:  # pragma: no cover
    pass


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture(scope="module")
def torch_one_thread():
    """Tiny torch models: one intra-op thread is much faster than several on a busy 2-core machine."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
