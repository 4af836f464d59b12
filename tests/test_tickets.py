"""Lottery tickets: masks (landscape.subspaces.masks), masked retraining with rewinding
(landscape.experiments.lottery_tickets), ticket runs in sweeps and the result store.

References: a brute-force ranking of (-|w|, position) tuples and exact decimal arithmetic for
the masks; the model evaluated with pruned coordinates perturbed (even NaN) for "no
effect"; the recorded full-space trajectory and a hand-written pre-training loop (L2 on
the convolution kernel only) for rewinding; full-space training for keep fraction 1; a
hand-written momentum loop for the learning-rate schedule.
"""
import json
import math
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import numpy as np
import pytest

from landscape.experiments.lottery_tickets import (
    REFERENCE_KEEP_FRACTIONS,
    TicketProtocol,
    ticket_dimensions,
    train_ticket,
)
from landscape.experiments.optim import SGD, make_optimizer
from landscape.experiments.result_store import ResultStore
from landscape.experiments.sweeps import sweep
from landscape.experiments.training import run_seed_sequence, train_full
from landscape.models import MLP
from landscape.models.datasets import Dataset, teacher_student
from landscape.subspaces.masks import MaskedModel, kept_count, magnitude_mask, prunable_parameters
from test_sweep import CountingExecutor


@pytest.fixture(scope="module")
def problem():
    data = teacher_student(96, 48, n_features=5, n_classes=3, hidden=8, seed=1000)
    return MLP([5, 7, 3]), data


RUN = dict(steps=25, batch_size=16)


# ------------------------------------------------------------------------------ masks
def naive_mask(theta, k, prunable):
    """Brute force: rank the prunable coordinates by (-|w|, position), keep the first k."""
    ranked = sorted((-abs(float(theta[i])), i) for i in range(theta.size) if prunable[i])
    keep = {i for _, i in ranked[:k]}
    return np.array([(not prunable[i]) or (i in keep) for i in range(theta.size)])


def test_kept_count_is_the_exact_ceiling_of_the_decimal_fraction():
    for n in (1, 7, 10, 100, 1000, 4096, 20490, 10 ** 6):
        for f in REFERENCE_KEEP_FRACTIONS + (0.1, 0.2, 0.3, 0.7, 1 / 3, 0.999):
            want = max(1, math.ceil(Decimal(repr(f)) * n))
            assert kept_count(f, n) == want, (f, n)


def test_mask_keeps_exactly_the_top_fraction_ties_by_position():
    rng = np.random.default_rng(1001)
    for trial in range(30):
        D = int(rng.integers(5, 200))
        # few distinct magnitudes and both signs: many ties
        theta = rng.integers(-4, 5, D) * 0.25
        prunable = rng.random(D) < 0.7
        prunable[rng.integers(D)] = True
        n = int(prunable.sum())
        for f in (1e-4, 0.05, 0.1, 0.25, 0.5, 0.9, 1.0):
            mask = magnitude_mask(theta, keep=f, prunable=prunable)
            k = kept_count(f, n)
            assert mask.dtype == bool and int(mask[prunable].sum()) == k and mask[~prunable].all()
            np.testing.assert_array_equal(mask, naive_mask(theta, k, prunable))
            # every kept prunable magnitude is >= every pruned one
            kept, pruned = np.abs(theta[mask & prunable]), np.abs(theta[~mask & prunable])
            if pruned.size:
                assert kept.min() >= pruned.max()
    assert np.array_equal(magnitude_mask(np.array([1.0, -1.0, 1.0, 0.2]), n_keep=2), [True, True, False, False])


def test_prunable_parameters_are_the_weight_matrices_by_default():
    model = MLP([5, 7, 3])
    p = prunable_parameters(model)
    want = np.zeros(model.n_params, dtype=bool)
    want[0:35] = True        # W1 (5 x 7)
    want[42:63] = True       # W2 (7 x 3), after b1 (7)
    np.testing.assert_array_equal(p, want)
    assert prunable_parameters(model, "all").all()
    assert model.names == ("W1", "b1", "W2", "b2") and model.shapes == ((5, 7), (7,), (7, 3), (3,))
    # the flat layout the shapes describe is the one unflatten uses
    theta = np.arange(model.n_params, dtype=float)
    (W1, b1), (W2, b2) = model.unflatten(theta)
    assert W1[0, 0] == 0 and b1[0] == 35 and W2[0, 0] == 42 and b2[0] == 63
    assert ticket_dimensions(model, (0.01, 1.0)) == [1 + 10, 56 + 10]


# ------------------------------------------------------------------------------ masked model
def test_pruned_parameters_have_no_effect_on_the_output(problem):
    model, data = problem
    X, y = data.X_train, data.y_train
    theta = model.init_params(seed=0)
    mask = magnitude_mask(theta, keep=0.3, prunable=prunable_parameters(model))
    masked = MaskedModel(model, mask)
    other = theta.copy()
    other[~mask] = np.random.default_rng(1002).standard_normal(int((~mask).sum())) * 100
    nan = theta.copy()
    nan[~mask] = np.nan
    ref = model.logits(np.where(mask, theta, 0.0), X)
    for th in (theta, other, nan):
        np.testing.assert_array_equal(masked.logits(th, X), ref)
        assert masked.loss(th, X, y) == model.loss(np.where(mask, theta, 0.0), X, y)
        value, g = masked.loss_and_grad(th, X, y)
        assert np.all(g[~mask] == 0.0)
        np.testing.assert_array_equal(g[mask], model.loss_and_grad(np.where(mask, theta, 0.0), X, y)[1][mask])
    assert masked.nnz == int(mask.sum()) < model.n_params


class ShiftedInit(MLP):
    """The same MLP, but its initial point has other values in the coordinates ``where``."""

    def __init__(self, sizes, where):
        super().__init__(sizes)
        self.where = where

    def init_params(self, seed=None):
        theta = super().init_params(seed)
        theta[self.where] = 7.0
        return theta


def test_masked_training_never_feels_or_moves_the_pruned_parameters(problem):
    model, data = problem
    mask = magnitude_mask(model.init_params(seed=3), keep=0.2, prunable=prunable_parameters(model))
    shifted = ShiftedInit(model.layer_sizes, ~mask)
    opt = TicketProtocol().retrain_optimizer()
    a = train_full(MaskedModel(model, mask), data, optimizer=opt, seed=3, **RUN)
    b = train_full(MaskedModel(shifted, mask), data, optimizer=opt, seed=3, **RUN)
    np.testing.assert_array_equal(np.where(mask, a.theta, 0.0), np.where(mask, b.theta, 0.0))
    assert a.metrics["train_loss"] == b.metrics["train_loss"] < a.metrics["initial_train_loss"]
    # pruned coordinates stay where they started
    np.testing.assert_array_equal(b.theta[~mask], 7.0)


# ------------------------------------------------------------------------------ tickets
def test_rewinding_is_exact(problem):
    model, data = problem
    proto = TicketProtocol()
    T = proto.n_pretrain_steps(data.n_train, RUN["batch_size"])
    assert T == 12  # 2 epochs of ceil(96 / 16) = 6 batches
    traj = train_full(model, data, optimizer=proto.pretrain_optimizer(), steps=T, seed=4, record_every=1,
                      batch_size=RUN["batch_size"]).trajectory
    theta0 = model.init_params(np.random.default_rng(run_seed_sequence(4, 0)))
    for t, want in ((0, theta0), (5, traj[5]), (T, traj[T])):
        res = train_ticket(model, data, keep=0.25, rewind=t, seed=4, **RUN)
        np.testing.assert_array_equal(res.start, want)
        np.testing.assert_array_equal(res.pretrained, traj[T])
        np.testing.assert_array_equal(res.mask, magnitude_mask(traj[T], keep=0.25, prunable=prunable_parameters(model)))
        assert res.protocol["t"] == t and res.protocol["pretrain_steps"] == T
        # the result is the pruned network, retrained from the rewind point
        assert np.all(res.theta[~res.mask] == 0.0)
        np.testing.assert_allclose(res.theta[res.mask], res.start[res.mask] + res.phi, rtol=0, atol=1e-15)
        assert res.metrics["train_loss"] == model.loss(res.theta, data.X_train, data.y_train)
        assert res.metrics["initial_train_loss"] == model.loss(np.where(res.mask, want, 0.0), data.X_train,
                                                               data.y_train)


def test_keep_fraction_one_equals_full_training_bitwise(problem):
    model, data = problem
    proto = TicketProtocol(schedule=((10, 0.03), (20, 0.01)))
    res = train_ticket(model, data, keep=1.0, protocol=proto, seed=5, **RUN)
    full = train_full(model, data, optimizer=proto.retrain_optimizer(), seed=5, **RUN)
    assert res.mask.all() and res.protocol["d"] == model.n_params and res.protocol["compression"] == 1.0
    np.testing.assert_array_equal(res.theta, full.theta)
    for k, v in full.metrics.items():
        if k != "wall_time":
            assert res.metrics[k] == v or (v != v and res.metrics[k] != res.metrics[k]), k


def test_learning_rate_schedule_against_a_hand_written_momentum_loop():
    rng = np.random.default_rng(1003)
    grads = rng.standard_normal((12, 3))
    opt = SGD(0.1, momentum=0.9, schedule=[(4, 0.03), (8, 0.01)])
    assert [opt.rate(k) for k in (0, 3, 4, 7, 8, 100)] == [0.1, 0.1, 0.03, 0.03, 0.01, 0.01]
    x, state = np.zeros(3), opt.init(3)
    want, buf = np.zeros(3), np.zeros(3)
    for k, g in enumerate(grads):
        opt.step(x, g, state)
        buf = 0.9 * buf + g
        want = want - (0.1 if k < 4 else 0.03 if k < 8 else 0.01) * buf
    np.testing.assert_allclose(x, want, rtol=1e-14)
    # the spec round-trips, and an unscheduled SGD's spec (stored protocols) is unchanged
    assert make_optimizer(json.loads(json.dumps(opt.spec()))).schedule == opt.schedule
    assert SGD(0.1, momentum=0.9).spec() == {"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": False}


def test_tickets_learn_and_fewer_free_parameters_cost_accuracy():
    """A real run on digits-sized data: dense tickets reach the full network's accuracy, the
    sparsest ones lose it (a trend that holds for every seed, not a single number)."""
    pytest.importorskip("sklearn")
    from landscape.models.datasets import load_digits

    data = load_digits(seed=0)
    model = MLP([64, 16, 10])
    for seed in (0, 1):
        dense = train_ticket(model, data, keep=1.0, steps=150, batch_size=128, seed=seed)
        half = train_ticket(model, data, keep=0.5, steps=150, batch_size=128, seed=seed)
        sparse = train_ticket(model, data, keep=0.005, steps=150, batch_size=128, seed=seed)
        assert dense.metrics["train_acc"] > 0.95 and half.metrics["train_acc"] > 0.9
        assert sparse.metrics["train_acc"] < dense.metrics["train_acc"] - 0.3
        assert sparse.protocol["d"] < half.protocol["d"] < dense.protocol["d"]


# ------------------------------------------------------------------------------ sweeps and store
SWEEP = dict(steps=20, lr=0.05, batch_size=16, progress=False)


def test_same_seed_same_tickets_on_any_executor(problem):
    model, data = problem
    ds = ticket_dimensions(model, (0.1, 0.5, 1.0))
    kw = dict(SWEEP, kinds=("ticket", "random"), rewind=(0, 3), include_full=False)
    serial = sweep(model, data, ds, 2, executor="serial", **kw)
    pool = sweep(model, data, ds, 2, max_workers=2, **kw)
    with ThreadPoolExecutor(2) as ex:
        threads = sweep(model, data, ds, 2, executor=ex, **kw)
    assert serial.equals(pool) and serial.equals(threads)
    tickets = serial.select(kind="ticket")
    assert len(tickets) == 3 * 2 * 2 and tickets.unique("t") == [0, 3] and tickets.unique("d") == ds
    assert tickets.unique("basis") == ["magnitude"] and tickets.unique("prunable") == ["weights"]
    for col in ("keep", "compression", "n_prunable", "pretrain_steps", "weight_decay", "optimizer"):
        assert col in tickets
    assert "schedule=[[400, 0.03]" in tickets["optimizer"][0]
    # a ticket run of the sweep is train_ticket's run
    one = train_ticket(model, data, d=ds[0], rewind=3, seed=1, steps=20, batch_size=16)
    row = tickets.select(d=ds[0], t=3, seed=1)
    assert row["train_loss"][0] == one.metrics["train_loss"]


def test_ticket_runs_join_an_existing_store_and_resume(problem, tmp_path):
    model, data = problem
    store = tmp_path / "runs"
    first = sweep(model, data, [2, 30], 2, executor="serial", store=store, **SWEEP)
    before = json.loads((store / "protocol.json").read_text())
    assert "ticket" not in before
    ex = CountingExecutor()
    both = sweep(model, data, [2, 30], 2, kinds=("random", "ticket"), executor=ex, store=store, **SWEEP)
    assert ex.n == 2  # only the tickets ran (d = 2 is below the 10 biases: no ticket there)
    after = json.loads((store / "protocol.json").read_text())
    assert after["ticket"] == TicketProtocol().spec() and {k: after[k] for k in before} == before
    extra = set(both.columns) - set(first.columns)  # the tickets' own columns
    assert both.select(kind=["full", "random"]).drop(*extra).equals(first)
    ex = CountingExecutor()
    again = sweep(model, data, [2, 30], 2, kinds=("random", "ticket"), executor=ex, store=store, **SWEEP)
    assert ex.n == 0 and again.equals(both)
    # a sweep without tickets still opens the store; a different ticket protocol does not
    sweep(model, data, [2, 30], 2, executor=CountingExecutor(), store=store, **SWEEP)
    with pytest.raises(ValueError, match="another protocol.*ticket"):
        sweep(model, data, [30], 2, kinds=("ticket",), ticket=TicketProtocol(pretrain_epochs=1), store=store,
              executor="serial", **SWEEP)
    assert len(ResultStore(store)) == len(both)


# ------------------------------------------------------------------------------ bad input
def test_bad_input_gives_named_errors(problem):
    model, data = problem
    theta = model.init_params(seed=0)
    for keep in (0, 0.0, -0.1, 1.5, float("nan"), True, "half"):
        with pytest.raises(ValueError, match="keep must be a fraction in"):
            train_ticket(model, data, keep=keep, **RUN)
        with pytest.raises(ValueError, match="keep must be a fraction in"):
            magnitude_mask(theta, keep=keep)
    with pytest.raises(ValueError, match="exactly one of keep"):
        train_ticket(model, data, **RUN)
    with pytest.raises(ValueError, match=r"d \(free parameters\) must lie in \[11, 66\]"):
        train_ticket(model, data, d=10, **RUN)
    with pytest.raises(ValueError, match="rewind must lie in"):
        train_ticket(model, data, keep=0.5, rewind=13, **RUN)
    # masks of the wrong length
    with pytest.raises(ValueError, match=r"mask must have shape \(66,\)"):
        MaskedModel(model, np.ones(65, dtype=bool))
    with pytest.raises(ValueError, match=r"prunable must have shape \(66,\)"):
        magnitude_mask(theta, keep=0.5, prunable=np.ones(67, dtype=bool))
    with pytest.raises(ValueError, match=r"prunable must have shape \(66,\)"):
        prunable_parameters(model, np.ones((66, 1), dtype=bool))
    with pytest.raises(TypeError, match="mask must be a boolean array"):
        MaskedModel(model, np.full(66, 0.5))
    with pytest.raises(ValueError, match="at least one parameter"):
        MaskedModel(model, np.zeros(66, dtype=bool))
    # nothing prunable
    with pytest.raises(ValueError, match="nothing to prune"):
        prunable_parameters(model, np.zeros(66, dtype=bool))
    with pytest.raises(ValueError, match="nothing to prune"):
        magnitude_mask(theta, keep=0.5, prunable=np.zeros(66, dtype=bool))
    with pytest.raises(ValueError, match="prunable must be one of"):
        TicketProtocol(prunable="biases")
    with pytest.raises(ValueError, match="no d in ds can be a ticket"):
        sweep(model, data, [2, 10], 1, kinds=("ticket",), executor="serial", **SWEEP)
    with pytest.raises(ValueError, match="rewind steps must be <= 12"):
        sweep(model, data, [30], 1, kinds=("ticket",), rewind=(0, 40), executor="serial", **SWEEP)
    with pytest.raises(ValueError, match="unknown ticket protocol fields"):
        TicketProtocol.from_spec({"pretrain_epoch": 2})
    with pytest.raises(ValueError, match="schedule steps must increase"):
        TicketProtocol(schedule=((400, 0.03), (300, 0.01)))
    with pytest.raises(ValueError, match="weight_decay"):
        TicketProtocol(weight_decay=-1)


# ------------------------------------------------------------------------------ torch
def test_torch_conv_tickets_prune_kernels_and_weights_with_l2_on_the_kernels_only():
    torch = pytest.importorskip("torch")
    from landscape.torch import TorchModel

    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(3 * 4 * 4, 3)).double()
    model = TorchModel(net, input_shape=(1, 6, 6))
    rng = np.random.default_rng(1004)
    X = rng.standard_normal((40, 36))
    y = (X[:, :12].sum(1) > 0).astype(int) + (X[:, 24:].sum(1) > 1)
    data = Dataset(X, y, X[:10], y[:10], n_classes=3, name="tiny-images")
    p = prunable_parameters(model)
    # conv kernel (27) and linear weight (144) prunable; the two biases (3 + 3) not
    assert p.sum() == 27 + 144 and not p[27:30].any() and not p[-3:].any()
    proto = TicketProtocol(weight_decay=0.05, pretrain_steps=6)
    res = train_ticket(model, data, keep=0.2, rewind=6, protocol=proto, steps=10, batch_size=8, seed=2)
    # independent pre-training loop: momentum SGD on loss + 0.05/2 |kernel|^2, same batches
    theta = model.init_params(np.random.default_rng(run_seed_sequence(2, 0)))
    batch_rng = np.random.default_rng(run_seed_sequence(2, 1))
    buf = np.zeros_like(theta)
    decay = np.zeros_like(theta)
    decay[:27] = 0.05
    steps, perm = 0, None
    while steps < 6:
        perm = batch_rng.permutation(40)
        for start in range(0, 40, 8):
            if steps == 6:
                break
            idx = perm[start:start + 8]
            g = model.loss_and_grad(theta, X[idx], y[idx])[1] + decay * theta
            buf = 0.9 * buf + g
            theta = theta - 0.05 * buf
            steps += 1
    np.testing.assert_allclose(res.pretrained, theta, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(res.start, res.pretrained)
    assert res.protocol["d"] == kept_count(0.2, 171) + 6 and np.all(res.theta[~res.mask] == 0.0)
    assert res.metrics["status"] == "ok"
    # keep 1 with a torch model: full training, bitwise
    one = train_ticket(model, data, keep=1.0, protocol=TicketProtocol(weight_decay=0.0), steps=10, batch_size=8,
                       seed=2)
    full = train_full(model, data, optimizer=TicketProtocol().retrain_optimizer(), steps=10, batch_size=8, seed=2)
    np.testing.assert_array_equal(one.theta, full.theta)
    # a module with nothing of ndim >= 2 has nothing to prune
    class OnlyBias(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.b = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))

        def forward(self, x):
            return x[:, :3] + self.b

    with pytest.raises(ValueError, match="nothing to prune"):
        train_ticket(TorchModel(OnlyBias(), input_shape=(36,)), data, keep=0.5, steps=2)
