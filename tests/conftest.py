"""Shared test configuration.

Seeds: data drawn for a test uses seeds >= 1000, estimators use small seeds, so the
two random streams never coincide (style.md).
"""
import os

import matplotlib
import pytest

matplotlib.use("Agg")

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
