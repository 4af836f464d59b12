"""Sweeps on a Dask cluster give exactly the table of the default local executor.

``landscape.experiments.sweeps.sweep`` takes any ``concurrent.futures.Executor``; a Dask
``Client(cluster).get_executor()`` is one. Every run's randomness comes from its seed and
runs compute single-threaded, so the tables must agree bit for bit (wall times aside).
The cluster listens on 127.0.0.1 only, with no dashboard.
"""
import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from landscape.experiments.sweeps import sweep  # noqa: E402
from landscape.models import MLP  # noqa: E402
from landscape.models.datasets import teacher_student  # noqa: E402

SWEEP = dict(ds=[1, 3, 8], seeds=2, steps=25, lr=0.05, batch_size=16, progress=False)


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture(scope="module")
def problem():
    data = teacher_student(64, 32, n_features=4, n_classes=3, hidden=8, seed=1000)
    return MLP([4, 6, 3]), data


def test_dask_executor_gives_the_same_table_as_the_default_executor(client, problem):
    model, data = problem
    local = sweep(model, data, max_workers=2, **SWEEP)  # default: spawn process pool
    on_dask = sweep(model, data, executor=client.get_executor(), **SWEEP)
    assert len(local) == len(on_dask) == 2 + 3 * 2
    assert local.equals(on_dask)
    # a real comparison: the runs differ from each other and trained
    loss = local["train_loss"]
    assert np.all(np.isfinite(loss)) and np.unique(loss).size == len(local)
    assert np.all(local["status"] == "ok")
    assert np.all(loss < local["initial_train_loss"])
    # and the serial executor agrees too
    assert sweep(model, data, executor="serial", **SWEEP).equals(on_dask)


def test_dask_sweep_with_a_store_resumes(client, problem, tmp_path):
    model, data = problem
    store = tmp_path / "runs"
    first = sweep(model, data, store=store, executor=client.get_executor(), **{**SWEEP, "ds": [1, 3]})
    full = sweep(model, data, store=store, executor=client.get_executor(), **SWEEP)
    assert len(first) == 2 + 2 * 2 and len(full) == 2 + 3 * 2
    # the runs of the first sweep were read back, not recomputed
    again = sweep(model, data, executor="serial", **SWEEP)
    assert full.equals(again)


def test_torch_model_on_dask(client):
    """A TorchModel (the numpy model interface) is picklable and sweeps on Dask workers."""
    torch = pytest.importorskip("torch")
    from landscape.torch import TorchModel

    data = teacher_student(48, 0, n_features=4, n_classes=3, hidden=0, seed=1001)
    net = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3)).double()
    model = TorchModel(net, input_shape=(4,))
    kw = dict(ds=[2, 10], seeds=[0, 1], steps=15, lr=0.05, progress=False, include_full=False)
    on_dask = sweep(model, data, executor=client.get_executor(), **kw)
    serial = sweep(model, data, executor="serial", **kw)
    assert len(on_dask) == 4
    # torch's own reductions may depend on its thread count: equal to rounding
    for col in ("train_loss", "train_acc", "initial_train_loss", "phi_norm"):
        np.testing.assert_allclose(on_dask.sort()[col], serial.sort()[col], rtol=1e-10)
    assert np.all(on_dask["train_loss"] < on_dask["initial_train_loss"])
