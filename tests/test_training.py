"""Optimizers and subspace training (random, burn-in, lottery) against exact references."""
import numpy as np
import pytest

from landscape.experiments.optim import SGD, Adam, make_optimizer
from landscape.experiments.training import (
    METRICS,
    run_seed_sequence,
    train_full,
    train_in_subspace,
)
from landscape.models import MLP
from landscape.models.datasets import Dataset, teacher_student


# ---------------------------------------------------------------------- references
def naive_adam(grads, x0, lr, b1, b2, eps):
    """Adam written out coordinate by coordinate (Kingma & Ba, Algorithm 1)."""
    x = list(x0)
    m = [0.0] * len(x)
    v = [0.0] * len(x)
    for t, g in enumerate(grads, start=1):
        for i in range(len(x)):
            m[i] = b1 * m[i] + (1 - b1) * g[i]
            v[i] = b2 * v[i] + (1 - b2) * g[i] ** 2
            mh = m[i] / (1 - b1 ** t)
            vh = v[i] / (1 - b2 ** t)
            x[i] -= lr * mh / (vh ** 0.5 + eps)
    return np.array(x)


@pytest.fixture(scope="module")
def small():
    data = teacher_student(120, 40, n_features=5, n_classes=3, hidden=6, seed=1000)
    return MLP([5, 8, 3]), data


# ---------------------------------------------------------------------- optimizers
def test_adam_first_step_has_size_lr_in_every_coordinate():
    opt = Adam(0.1, eps=1e-12)
    x = np.zeros(4)
    state = opt.init(4)
    g = np.array([3.0, -1e-3, 250.0, -7.0])
    opt.step(x, g, state)
    # m_hat = g and v_hat = g^2 exactly after one step
    np.testing.assert_allclose(x, -0.1 * g / (np.abs(g) + 1e-12), rtol=1e-15)
    np.testing.assert_allclose(x, -0.1 * np.sign(g), rtol=1e-8)


def test_adam_matches_the_algorithm_and_differs_from_constant_correction():
    rng = np.random.default_rng(1000)
    grads = rng.standard_normal((30, 5))
    x0 = rng.standard_normal(5)
    opt = Adam(0.01, beta1=0.8, beta2=0.99, eps=1e-6)
    x = x0.copy()
    state = opt.init(5)
    for g in grads:
        opt.step(x, g, state)
    np.testing.assert_allclose(x, naive_adam(grads, x0, 0.01, 0.8, 0.99, 1e-6), rtol=1e-13, atol=1e-15)
    # the paper's code divided by (1 - beta) instead of (1 - beta^t): a different algorithm
    m = v = np.zeros(5)
    y = x0.copy()
    for g in grads:
        m = 0.8 * m + 0.2 * g
        v = 0.99 * v + 0.01 * g * g
        y -= 0.01 * (m / 0.2) / (np.sqrt(v / 0.01) + 1e-6)
    assert np.abs(x - y).max() > 1e-3


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_on_a_quadratic_matches_the_linear_recurrence(nesterov):
    c, lr, mu, x0, K = 2.0, 0.1, 0.9, 1.5, 40
    if nesterov:
        M = np.array([[1 - lr * c * (1 + mu), -lr * mu * mu], [c, mu]])
    else:
        M = np.array([[1 - lr * c, -lr * mu], [c, mu]])
    expected = (np.linalg.matrix_power(M, K) @ np.array([x0, 0.0]))[0]
    opt = SGD(lr, momentum=mu, nesterov=nesterov)
    x = np.array([x0])
    state = opt.init(1)
    for _ in range(K):
        opt.step(x, c * x, state)
    assert x[0] == pytest.approx(expected, rel=1e-12)
    # plain gradient descent: x_K = (1 - lr c)^K x0
    x = np.array([x0])
    sgd = SGD(lr)
    st = sgd.init(1)
    for _ in range(K):
        sgd.step(x, c * x, st)
    assert x[0] == pytest.approx((1 - lr * c) ** K * x0, rel=1e-12)


def test_make_optimizer():
    assert isinstance(make_optimizer("adam", 0.1), Adam)
    m = make_optimizer("momentum", 0.1)
    assert isinstance(m, SGD) and m.momentum == 0.9
    assert make_optimizer(m.spec()).spec() == m.spec()
    assert make_optimizer({"name": "adam", "beta1": 0.5}, lr=0.2).spec()["beta1"] == 0.5
    with pytest.raises(ValueError, match="optimizer must be one of"):
        make_optimizer("rmsprop", 0.1)
    with pytest.raises(ValueError, match="lr is required"):
        make_optimizer("sgd")
    with pytest.raises(ValueError, match="lr must be > 0"):
        make_optimizer("sgd", 0.0)
    with pytest.raises(ValueError, match="momentum must lie"):
        SGD(0.1, momentum=1.0)
    with pytest.raises(ValueError, match="nesterov"):
        SGD(0.1, nesterov=True)
    with pytest.raises(ValueError, match="beta2"):
        Adam(0.1, beta2=-0.1)
    with pytest.raises(TypeError, match="unknown option"):
        make_optimizer("adam", 0.1, momentum=0.9)
    with pytest.raises(TypeError, match="optimizer must be"):
        make_optimizer(3, 0.1)


# ---------------------------------------------------------------------- training
def test_full_training_reduces_the_loss_and_records_the_protocol(small):
    model, data = small
    res = train_full(model, data, optimizer="adam", lr=0.05, steps=60, batch_size=32, seed=3, eval_every=20)
    m, p = res.metrics, res.protocol
    assert m["status"] == "ok" and m["train_loss"] < 0.5 * m["initial_train_loss"]
    assert set(METRICS) <= set(m)
    assert p["kind"] == "full" and p["d"] == p["D"] == model.n_params and p["seed"] == 3
    assert p["optimizer"].startswith("adam(") and p["lr"] == 0.05 and p["batch_size"] == 32
    assert p["steps"] == 60 and p["dataset"].startswith(data.name)
    np.testing.assert_array_equal(res.history["step"], [20, 40, 60])
    assert m["best_train_loss"] == res.history["train_loss"].min() <= m["train_loss"]
    # theta0 is stream 0 of the seed
    theta0 = model.init_params(np.random.default_rng(run_seed_sequence(3, 0)))
    np.testing.assert_allclose(res.theta - res.phi, theta0, rtol=0, atol=1e-14)


def test_same_seed_same_run_other_seed_other_run(small):
    model, data = small
    kw = dict(lr=0.05, steps=30, batch_size=16, basis="orthonormal")
    a = train_in_subspace(model, data, 7, seed=11, **kw)
    b = train_in_subspace(model, data, 7, seed=11, **kw)
    c = train_in_subspace(model, data, 7, seed=12, **kw)
    ra, rb = a.record(), b.record()
    ra.pop("wall_time"), rb.pop("wall_time")
    assert ra == rb
    np.testing.assert_array_equal(a.theta, b.theta)
    assert a.metrics["train_loss"] != c.metrics["train_loss"]


@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
def test_training_in_a_full_dimensional_orthonormal_subspace_is_full_space_training(small, optimizer):
    """A square orthonormal A: A A^T = I, so (momentum) SGD on phi is SGD on theta."""
    model, data = small
    kw = dict(optimizer=optimizer, lr=0.1, steps=25, batch_size=32, seed=5)
    full = train_full(model, data, **kw)
    sub = train_in_subspace(model, data, model.n_params, kind="random", basis="orthonormal", **kw)
    np.testing.assert_allclose(sub.theta, full.theta, atol=1e-10)
    assert sub.metrics["train_loss"] == pytest.approx(full.metrics["train_loss"], rel=1e-9)


def test_random_subspace_training_moves_within_the_subspace(small):
    model, data = small
    res = train_in_subspace(model, data, 6, lr=0.05, steps=40, seed=2)
    theta0 = model.init_params(np.random.default_rng(run_seed_sequence(2, 0)))
    assert res.phi.shape == (6,)
    # orthonormal columns: |theta - theta0| = |phi|
    assert np.linalg.norm(res.theta - theta0) == pytest.approx(np.linalg.norm(res.phi), rel=1e-12)
    assert res.metrics["phi_norm"] == pytest.approx(np.linalg.norm(res.phi), rel=1e-15)
    # other bases train too
    for basis in ("gaussian", "sparse", "fastfood"):
        r = train_in_subspace(model, data, 6, basis=basis, lr=0.05, steps=40, seed=2)
        assert r.protocol["basis"] == basis and r.metrics["train_loss"] < r.metrics["initial_train_loss"]


def test_burn_in_subspace_starts_at_theta_t(small):
    model, data = small
    kw = dict(optimizer="momentum", batch_size=32, seed=4)
    t = 7
    burned = train_full(model, data, lr=0.02, steps=t, **kw)
    res = train_in_subspace(model, data, 3, burn_in=t, lr=0.1, full_lr=0.02, steps=20, **kw)
    assert res.metrics["initial_train_loss"] == burned.metrics["train_loss"]
    assert res.protocol["t"] == t and res.protocol["full_lr"] == 0.02 and res.protocol["lr"] == 0.1
    start = train_in_subspace(model, data, 3, burn_in=0, lr=0.1, steps=20, **kw)
    assert start.metrics["initial_train_loss"] == train_full(model, data, lr=0.1, steps=1, **kw).metrics[
        "initial_train_loss"]


def test_lottery_subspace_of_full_rank_reproduces_the_trajectory(small):
    """The lottery subspace of d = T spans every step of the T-step run, so (momentum) SGD
    in it from theta0 retraces the full-space run exactly."""
    model, data = small
    T = 12
    kw = dict(optimizer="momentum", lr=0.05, steps=T, batch_size=32, seed=6)
    full = train_full(model, data, **kw)
    lot = train_in_subspace(model, data, T, kind="lottery", **kw)
    np.testing.assert_allclose(lot.theta, full.theta, atol=1e-9)
    assert lot.protocol["kind"] == "lottery" and lot.protocol["basis"] == "none"
    # a smaller lottery subspace does better than a random one of the same dimension
    lot2 = train_in_subspace(model, data, 2, kind="lottery", optimizer="momentum", lr=0.05, steps=60, seed=6)
    rnd2 = train_in_subspace(model, data, 2, kind="random", optimizer="momentum", lr=0.05, steps=60, seed=6)
    assert lot2.metrics["train_loss"] < rnd2.metrics["train_loss"]
    # d above the rank of the trajectory: completed with random directions, still runs
    big = train_in_subspace(model, data, 20, kind="lottery", optimizer="momentum", lr=0.05, steps=T, seed=6)
    assert big.metrics["status"] == "ok"


def test_divergence_is_recorded_as_a_failure_not_a_crash():
    data = teacher_student(50, 10, n_features=4, n_classes=3, hidden=0, seed=1001)
    model = MLP([4, 16, 3], "relu")
    res = train_in_subspace(model, data, 10, optimizer="sgd", lr=1e6, steps=50, seed=0)
    m = res.metrics
    assert res.diverged and m["status"] == "diverged" and m["diverged_step"] >= 1
    for k in ("train_loss", "train_acc", "test_loss", "test_acc"):
        assert np.isnan(m[k])
    full = train_full(model, data, optimizer="sgd", lr=1e6, steps=50, seed=0)
    assert full.diverged


def test_no_test_set_gives_nan_test_metrics():
    data = teacher_student(30, 0, n_features=3, n_classes=2, seed=1002)
    res = train_in_subspace(MLP([3, 2]), data, 2, steps=5, seed=0)
    assert np.isnan(res.metrics["test_loss"]) and res.metrics["status"] == "ok"


def test_bad_input(small):
    model, data = small
    D = model.n_params
    with pytest.raises(ValueError, match=f"d must be <= D = {D}"):
        train_in_subspace(model, data, D + 1)
    with pytest.raises(ValueError, match="d must be >= 1"):
        train_in_subspace(model, data, 0)
    with pytest.raises(ValueError, match="kind"):
        train_in_subspace(model, data, 2, kind="burn")
    with pytest.raises(ValueError, match="basis"):
        train_in_subspace(model, data, 2, basis="hadamard")
    with pytest.raises(ValueError, match="burn_in"):
        train_in_subspace(model, data, 2, burn_in=-1)
    with pytest.raises(ValueError, match="steps"):
        train_in_subspace(model, data, 2, steps=0)
    with pytest.raises(ValueError, match="batch_size"):
        train_in_subspace(model, data, 2, batch_size=0)
    with pytest.raises(ValueError, match="seed"):
        train_in_subspace(model, data, 2, seed=-3)
    with pytest.raises(TypeError, match="Dataset"):
        train_in_subspace(model, (data.X_train, data.y_train), 2)
    with pytest.raises(ValueError, match="inputs"):
        train_in_subspace(MLP([4, 3]), data, 2)
    with pytest.raises(ValueError, match="classes"):
        train_in_subspace(MLP([5, 2]), data, 2)
    with pytest.raises(TypeError, match="model must have"):
        train_full(object(), data)
    with pytest.raises(ValueError, match="lr"):
        train_full(model, data, lr=-1.0)
    # a seed given as a Generator is drawn into an int and recorded
    res = train_in_subspace(model, Dataset(data.X_train, data.y_train), 2, steps=2,
                            seed=np.random.default_rng(0))
    assert isinstance(res.protocol["seed"], int)
