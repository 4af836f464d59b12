"""Progress bars on long work (sweeps, training, exact subspace tests, predictions, Lanczos, SLQ):
tqdm's, off when nobody watches (stderr not a terminal, no notebook) and with progress=False,
on with progress=True; workers of a sweep never draw their own."""
import io
import sys

import numpy as np
import pytest

import landscape.experiments.sweeps as sweeps_module
from landscape.experiments.sweeps import sweep
from landscape.experiments.training import train_full
from landscape.models import MLP, QuadraticWell
from landscape.models.datasets import teacher_student
from landscape.theory.comparison import prediction_table
from landscape.theory.hessian import hessian_operator, slq_spectrum, top_eigenpairs
from landscape.thresholds.ground_truth import empirical_success_probability

LAM = np.linspace(0.1, 3.0, 60)


def long_work(progress):
    """One call of each kind that draws a bar."""
    data = teacher_student(40, 0, n_features=3, n_classes=2, hidden=0, seed=1000)
    sweep(MLP([3, 2]), data, ds=[1, 4], seeds=1, steps=5, executor="serial", progress=progress)
    train_full(MLP([3, 2]), data, steps=5, progress=progress)
    top_eigenpairs(lambda v: LAM * v, 60, 2, seed=0, progress=progress)
    slq_spectrum(lambda v: LAM * v, 60, n_probes=2, n_steps=5, seed=0, progress=progress)
    well = QuadraticWell(np.ones(10))
    empirical_success_probability(well, np.ones(10), 2.0, [2, 5], 3, seed=0, progress=progress)
    prediction_table(_model(), [0.5], n_samples=20, seed=0, progress=progress)


def _model():
    from landscape.theory.spectral_model import SpectralModel

    return SpectralModel([1.0], [10], [2.0])


def test_no_bar_when_not_interactive(capsys):
    assert not sys.stderr.isatty()
    long_work(None)                  # the default everywhere
    long_work(False)
    assert capsys.readouterr().err == ""


def test_bars_when_asked_and_none_from_sweep_workers(monkeypatch):
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buf)
    long_work(True)
    err = buf.getvalue()
    for desc in ("sweep", "full-space training", "Lanczos, top 2", "SLQ", "exact subspace tests",
                 "predictions"):
        assert desc + ":" in err, desc
    assert "10/10" in err                                    # SLQ: 2 probes x 5 products
    assert "training in d" not in err                        # runs inside the sweep draw no bar


def test_automatic_bars_wait_before_showing(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    buf = Tty()
    monkeypatch.setattr(sys, "stderr", buf)
    H = hessian_operator(lambda v: LAM * v, 60)
    slq_spectrum(H, 60, n_probes=2, n_steps=5, seed=0)       # interactive, quick: no bar yet
    assert "SLQ" not in buf.getvalue() and H._bar is None


def test_hand_written_bar_is_gone():
    assert not hasattr(sweeps_module, "_Progress")


def test_torch_training_bars(monkeypatch, capsys):
    torch = pytest.importorskip("torch")
    from landscape.torch import TorchModel, TorchSubspaceModel
    from landscape.torch import train_full as torch_train_full

    model = TorchModel(torch.nn.Sequential(torch.nn.Linear(3, 2)).double(), input_shape=(3,))
    rng = np.random.default_rng(1001)
    X, y = rng.standard_normal((20, 3)), rng.integers(0, 2, 20)
    TorchSubspaceModel(model, 2, subspace_seed=0).train(X, y, steps=3)          # not interactive: no bar
    torch_train_full(model, X, y, theta0=model.init_params(0), steps=3)
    assert capsys.readouterr().err == ""
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buf)
    TorchSubspaceModel(model, 2, subspace_seed=0).train(X, y, steps=3, progress=True)
    torch_train_full(model, X, y, theta0=model.init_params(0), steps=3, progress=True)
    assert "torch training in d = 2" in buf.getvalue() and "torch full-space training" in buf.getvalue()
