"""Data given as batches (a DataLoader, a list of (X, y)) wherever data is taken.

Reference: the same computation on the whole arrays. Means over examples accumulated over
batches (weights n_b / n) must agree with it to 1e-10 (relative), for the loss, the
gradient, Hessian-vector products, spectral models, training and sweeps.
"""
import numpy as np
import pytest

from landscape.models import MLP, Dataset
from landscape.models.batches import batch_mean, check_batches, collect_batches, is_batches
from landscape.models.datasets import teacher_student
from landscape.theory.hessian import model_hvp, model_loss
from landscape.theory.spectral_model import SpectralModel


@pytest.fixture(scope="module")
def problem():
    data = teacher_student(53, 0, n_features=5, n_classes=3, hidden=0, seed=1000)
    model = MLP([5, 6, 3])
    theta = model.init_params(seed=1)
    # uneven batches: a plain mean of batch means would be wrong
    cuts = [0, 16, 32, 48, 53]
    batches = [(data.X_train[a:b], data.y_train[a:b]) for a, b in zip(cuts[:-1], cuts[1:])]
    return data, model, theta, batches


def close(a, b, rtol=1e-10):
    a, b = np.asarray(a, float), np.asarray(b, float)
    assert np.max(np.abs(a - b)) <= rtol * max(np.max(np.abs(b)), 1e-300)


def test_recognising_batches():
    X = np.zeros((4, 2))
    assert not is_batches(X) and not is_batches([[1.0, 2.0], [3.0, 4.0]]) and not is_batches("ab")
    assert is_batches([(X, np.zeros(4))]) and not is_batches(Dataset(X, [0, 1, 0, 1]))
    with pytest.raises(TypeError, match="one-shot iterator"):
        check_batches(iter([(X, np.zeros(4))]))
    with pytest.raises(ValueError, match="no .*batches"):
        batch_mean(lambda a, b: 0.0, [(X[:0], np.zeros(0))])
    with pytest.raises(ValueError, match="4 rows of X but 3 labels"):
        collect_batches([(X, np.zeros(3))])


def test_mlp_loss_gradient_and_hvp_over_batches(problem):
    data, model, theta, batches = problem
    X, y = data.X_train, data.y_train
    close(model.loss(theta, batches), model.loss(theta, X, y))
    lb, gb = model.loss_and_grad(theta, batches)
    la, ga = model.loss_and_grad(theta, X, y)
    close(lb, la)
    close(gb, ga)
    assert model.accuracy(theta, batches) == pytest.approx(model.accuracy(theta, X, y), abs=1e-14)
    V = np.random.default_rng(5).standard_normal((model.n_params, 3))
    close(model.hvp(theta, batches, None, V), model.hvp(theta, X, y, V))
    close(model_hvp(model, theta, batches)(V[:, 0]), model_hvp(model, theta, X, y)(V[:, 0]))
    assert model_loss(model, theta, batches) == pytest.approx(model_loss(model, theta, X, y), rel=1e-10)


def test_spectral_model_from_batches_equals_the_array_path(problem):
    data, model, theta, batches = problem
    theta0 = model.init_params(seed=2)
    opts = dict(k=4, n_probes=3, n_steps=12, seed=7)
    a = SpectralModel.from_model(model, theta, theta0, data.X_train, data.y_train, **opts)
    b = SpectralModel.from_model(model, theta, theta0, batches, **opts)
    assert a.min_loss == pytest.approx(b.min_loss, rel=1e-10)
    np.testing.assert_array_equal(a.multiplicities, b.multiplicities)
    close(b.eigenvalues, a.eigenvalues)
    close(b.offsets, a.offsets)


def test_training_and_sweeps_take_batches(problem):
    from landscape.experiments.sweeps import sweep
    from landscape.experiments.training import train_in_subspace

    data, model, theta, batches = problem
    a = train_in_subspace(model, data, 6, steps=15, lr=0.05, batch_size=8, seed=3)
    b = train_in_subspace(model, batches, 6, steps=15, lr=0.05, batch_size=8, seed=3)
    close(b.theta, a.theta)
    assert b.metrics["train_loss"] == pytest.approx(a.metrics["train_loss"], rel=1e-10)
    opts = dict(ds=[2, 8], seeds=2, steps=10, lr=0.05, executor="serial", progress=False)
    ta, tb = sweep(model, data, **opts), sweep(model, batches, **opts)
    close(tb["train_loss"], ta["train_loss"])


def test_torch_data_loader_into_spectral_model_and_sweep(torch_one_thread):
    import torch
    from landscape.torch import TorchModel

    data = teacher_student(40, 0, n_features=4, n_classes=3, hidden=0, seed=1001)
    net = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.BatchNorm1d(5), torch.nn.Tanh(),
                              torch.nn.Linear(5, 3)).double()
    model = TorchModel(net, input_shape=(4,))
    ds = torch.utils.data.TensorDataset(torch.from_numpy(data.X_train), torch.from_numpy(data.y_train))
    loader = torch.utils.data.DataLoader(ds, batch_size=16)          # 16, 16, 8
    theta, theta0 = model.init_params(1), model.init_params(2)
    opts = dict(k=3, n_probes=2, n_steps=10, seed=4)
    a = SpectralModel.from_model(model, theta, theta0, data.X_train, data.y_train, **opts)
    b = SpectralModel.from_model(model, theta, theta0, loader, **opts)
    assert b.min_loss == pytest.approx(a.min_loss, rel=1e-10)
    close(b.eigenvalues, a.eigenvalues)
    from landscape.experiments.sweeps import sweep

    sopts = dict(ds=[3], seeds=1, steps=5, lr=0.05, executor="serial", progress=False, include_full=False)
    close(sweep(model, loader, **sopts)["train_loss"], sweep(model, data, **sopts)["train_loss"])
