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
