"""Tests of landscape.torch: the PyTorch adapter and subspace training.

References: a hand-written numpy CNN (loss, finite-difference gradients), plain module
autograd, torch.autograd.functional.hessian of a hand-written flat-parameter loss, finite
differences of the gradient, and full-space training (which subspace SGD with an
orthonormal d = D basis must reproduce exactly). All models are tiny and float64.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from landscape.torch import (  # noqa: E402
    TorchModel,
    TorchSubspaceModel,
    torch_projection,
    torch_seed,
    train_full,
)

N_CLASSES = 3

# torch.func imports decompositions that still use torch.jit.script (torch's own warning)
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models: one intra-op thread is much faster than several on a busy 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --------------------------------------------------------------------------- fixtures
def make_images(n, seed):
    """Tiny 8x8 one-channel images of three classes: a horizontal bar, a vertical bar, a diagonal."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, N_CLASSES, n)
    X = 0.3 * rng.standard_normal((n, 1, 8, 8))
    pos = rng.integers(1, 7, n)
    for i in range(n):
        if y[i] == 0:
            X[i, 0, pos[i], :] += 1.0
        elif y[i] == 1:
            X[i, 0, :, pos[i]] += 1.0
        else:
            X[i, 0] += np.eye(8)
    return X, y


def make_cnn():
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3), torch.nn.Tanh(), torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, N_CLASSES)
    ).double()


@pytest.fixture(scope="module")
def cnn():
    return TorchModel(make_cnn(), input_shape=(1, 8, 8))


@pytest.fixture(scope="module")
def images():
    return make_images(48, 1000)


def naive_cnn_loss(theta, X, y):
    """The CNN's mean cross-entropy written out in numpy (valid 3x3 cross-correlation)."""
    W = theta[:36].reshape(4, 1, 3, 3)
    b = theta[36:40]
    Wl = theta[40:40 + 3 * 144].reshape(3, 144)
    bl = theta[40 + 3 * 144:]
    n = X.shape[0]
    conv = np.zeros((n, 4, 6, 6))
    for c in range(4):
        for k in range(3):
            for m in range(3):
                conv[:, c] += W[c, 0, k, m] * X[:, 0, k:k + 6, m:m + 6]
        conv[:, c] += b[c]
    h = np.tanh(conv).reshape(n, -1)
    z = h @ Wl.T + bl
    zmax = z.max(axis=1, keepdims=True)
    logp = z - zmax - np.log(np.exp(z - zmax).sum(axis=1, keepdims=True))
    return -logp[np.arange(n), y].mean(), z


# --------------------------------------------------------------------------- model interface
def test_loss_and_grad_match_manual_computation(cnn, images):
    X, y = images
    theta = cnn.init_params(seed=0)
    assert cnn.n_params == 36 + 4 + 432 + 3 == theta.shape[0]
    loss, grad = cnn.loss_and_grad(theta, X, y)
    ref, logits = naive_cnn_loss(theta, X, y)
    np.testing.assert_allclose(loss, ref, rtol=1e-12)
    np.testing.assert_allclose(cnn.loss(theta, X, y), ref, rtol=1e-12)
    np.testing.assert_allclose(cnn.logits(theta, X), logits, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(cnn.accuracy(theta, X, y), np.mean(logits.argmax(1) == y))
    # directional derivatives of the numpy loss by central differences
    rng = np.random.default_rng(1001)
    h = 1e-5
    for _ in range(3):
        u = rng.standard_normal(theta.shape)
        fd = (naive_cnn_loss(theta + h * u, X, y)[0] - naive_cnn_loss(theta - h * u, X, y)[0]) / (2 * h)
        np.testing.assert_allclose(grad @ u, fd, rtol=1e-7, atol=1e-9)
    # the module's own autograd (parameters loaded in place, loss.backward)
    net = make_cnn()
    torch.nn.utils.vector_to_parameters(torch.from_numpy(theta), net.parameters())
    out = torch.nn.functional.cross_entropy(net(torch.from_numpy(X)), torch.from_numpy(y))
    out.backward()
    ref_grad = torch.nn.utils.parameters_to_vector([p.grad for p in net.parameters()]).numpy()
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-15)


def test_flattened_inputs_and_chunked_evaluation(cnn, images):
    X, y = images
    theta = cnn.init_params(seed=1)
    assert cnn.n_inputs == 64 and cnn.n_classes == N_CLASSES
    np.testing.assert_allclose(cnn.loss(theta, X.reshape(48, 64), y), cnn.loss(theta, X, y), rtol=1e-14)
    chunked = TorchModel(make_cnn(), input_shape=(1, 8, 8), eval_batch_size=10)
    l1, g1 = chunked.loss_and_grad(theta, X, y)
    l2, g2 = cnn.loss_and_grad(theta, X, y)
    np.testing.assert_allclose(l1, l2, rtol=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(chunked.accuracy(theta, X, y), cnn.accuracy(theta, X, y))


def test_hvp_matches_finite_differences_of_the_gradient(cnn, images):
    X, y = images
    theta = cnn.init_params(seed=2)
    rng = np.random.default_rng(1002)
    V = rng.standard_normal((cnn.n_params, 2))
    Hv = cnn.hvp(theta, X, y, V)
    Hv_db = cnn.hvp(theta, X, y, V, method="double-backward")
    np.testing.assert_allclose(Hv, Hv_db, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(cnn.hvp(theta, X, y, V[:, 0]), Hv[:, 0], rtol=1e-12, atol=1e-14)
    h = 1e-5
    for j in range(2):
        fd = (cnn.loss_and_grad(theta + h * V[:, j], X, y)[1]
              - cnn.loss_and_grad(theta - h * V[:, j], X, y)[1]) / (2 * h)
        np.testing.assert_allclose(Hv[:, j], fd, rtol=1e-5, atol=1e-7 * np.abs(Hv[:, j]).max())


def tiny_flat_loss(t, X, y):
    """Linear(3, 4) - tanh - Linear(4, 2) with hand-sliced flat parameters (torch's layout)."""
    W1, b1 = t[:12].view(4, 3), t[12:16]
    W2, b2 = t[16:24].view(2, 4), t[24:26]
    return torch.nn.functional.cross_entropy(torch.tanh(X @ W1.T + b1) @ W2.T + b2, y)


def test_hvp_equals_full_autograd_hessian_on_tiny_model():
    from landscape.theory.hessian import top_eigenpairs
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).double()
    model = TorchModel(net, input_shape=(3,))
    rng = np.random.default_rng(1003)
    X, y = rng.standard_normal((20, 3)), rng.integers(0, 2, 20)
    theta = model.init_params(seed=3)
    D = model.n_params
    assert D == 26
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    H = torch.autograd.functional.hessian(lambda t: tiny_flat_loss(t, Xt, yt), torch.from_numpy(theta)).numpy()
    np.testing.assert_allclose(model.loss(theta, X, y), float(tiny_flat_loss(torch.from_numpy(theta), Xt, yt)),
                               rtol=1e-13)
    for method in ("forward-over-reverse", "double-backward"):
        np.testing.assert_allclose(model.hvp(theta, X, y, np.eye(D), method=method), H, rtol=1e-10, atol=1e-12)
    # the Hessian code runs on the model's hvp
    top = top_eigenpairs(model.hvp_function(theta, X, y), D, 3, seed=0)
    np.testing.assert_allclose(top.eigenvalues, np.linalg.eigvalsh(H)[::-1][:3], atol=1e-9)


def test_init_params_reproducible_and_leaves_global_rng_alone(cnn):
    state = torch.get_rng_state()
    a = cnn.init_params(seed=5)
    b = cnn.init_params(seed=5)
    c = cnn.init_params(seed=6)
    assert torch.equal(state, torch.get_rng_state())
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # a Generator seed works and advances the generator
    g = np.random.default_rng(7)
    np.testing.assert_array_equal(cnn.init_params(g), cnn.init_params(np.random.default_rng(7)))
    assert torch_seed(np.random.default_rng(7)) != torch_seed(g)
    # torch's default initialisation: conv weights are U(-1/sqrt(9), 1/sqrt(9))
    assert np.abs(a[:36]).max() <= 1 / 3 and np.abs(a[:36]).max() > 0.2
    # the wrapped module itself is untouched
    np.testing.assert_array_equal(cnn.get_params(), cnn.get_params())


def test_mse_loss_and_custom_loss():
    net = torch.nn.Linear(3, 2).double()
    model = TorchModel(net, loss="mse", input_shape=(3,))
    rng = np.random.default_rng(1004)
    X, Y = rng.standard_normal((10, 3)), rng.standard_normal((10, 2))
    theta = model.init_params(seed=0)
    W, b = theta[:6].reshape(2, 3), theta[6:]
    np.testing.assert_allclose(model.loss(theta, X, Y), np.mean((X @ W.T + b - Y) ** 2), rtol=1e-13)
    # for a linear model and squared error, H = 2/(n m) * blockdiag(X~^T X~) exactly
    Xa = np.hstack([X, np.ones((10, 1))])
    v = rng.standard_normal(8)
    Vw, vb = v[:6].reshape(2, 3), v[6:]
    dZ = X @ Vw.T + vb  # directional derivative of the outputs
    Hv_ref = (2.0 / 20) * np.concatenate([(dZ.T @ X).ravel(), dZ.sum(axis=0)])
    np.testing.assert_allclose(model.hvp(theta, X, Y, v), Hv_ref, rtol=1e-12, atol=1e-14)
    with pytest.raises(RuntimeError, match="double-backward"):  # a torch limitation, made clear
        model.hvp(theta, X, Y, v, method="forward-over-reverse")
    with pytest.raises(ValueError, match="accuracy is defined for classifiers"):
        model.accuracy(theta, X, Y)
    l1 = TorchModel(torch.nn.Linear(3, 2).double(), loss=lambda out, t: (out - t).abs().mean())
    np.testing.assert_allclose(l1.loss(theta, X, Y), np.mean(np.abs(X @ W.T + b - Y)), rtol=1e-13)
    assert Xa.shape == (10, 4)


# --------------------------------------------------------------------------- subspace training
def test_subspace_sgd_with_d_equal_D_reproduces_full_space_training(cnn, images):
    X, y = images
    theta0 = cnn.init_params(seed=8)
    D = cnn.n_params
    kwargs = dict(optimizer="sgd", lr=0.1, momentum=0.9, steps=60, batch_size=16, seed=9)
    sub = TorchSubspaceModel(cnn, D, theta0=theta0, subspace_seed=10)
    res_sub = sub.train(X, y, **kwargs)
    res_full = train_full(cnn, X, y, theta0=theta0, **kwargs)
    # orthonormal A, D x D: theta follows exactly the full-space trajectory
    np.testing.assert_allclose(res_sub.theta, res_full.theta, atol=1e-10)
    np.testing.assert_allclose(res_sub.final_loss, res_full.final_loss, rtol=1e-9)
    np.testing.assert_allclose(res_sub.loss_history, res_full.loss_history, rtol=1e-9)
    assert res_full.final_loss < 0.5 * cnn.loss(theta0, X, y)
    assert res_sub.protocol["d"] == D == res_sub.protocol["D"]
    assert res_sub.protocol["kind"] == "orthonormal" and res_full.protocol["kind"] == "full"
    assert res_sub.phi.shape == (D,) and res_full.phi is None
    np.testing.assert_allclose(sub.theta(res_sub.phi), res_sub.theta, atol=1e-12)


def test_training_decreases_loss_and_is_reproducible(cnn, images):
    X, y = images
    theta0 = cnn.init_params(seed=11)
    sub = TorchSubspaceModel(cnn, 40, theta0=theta0, subspace_seed=12)
    a = sub.train(X, y, optimizer="adam", lr=0.05, steps=40, batch_size=12, seed=13)
    b = sub.train(X, y, optimizer="adam", lr=0.05, steps=40, batch_size=12, seed=13)
    c = sub.train(X, y, optimizer="adam", lr=0.05, steps=40, batch_size=12, seed=14)
    initial = cnn.loss(theta0, X, y)
    assert a.final_loss < 0.7 * initial, (a.final_loss, initial)
    assert not a.diverged and a.loss_history.shape == (40,)
    np.testing.assert_array_equal(a.theta, b.theta)
    assert a.final_loss == b.final_loss
    assert not np.array_equal(a.theta, c.theta)  # another minibatch order
    np.testing.assert_allclose(a.final_loss, cnn.loss(a.theta, X, y), rtol=1e-12)
    np.testing.assert_allclose(a.final_accuracy, cnn.accuracy(a.theta, X, y))
    rec = a.as_dict()
    for key in ("optimizer", "lr", "steps", "batch_size", "seed", "D", "d", "kind", "subspace_seed"):
        assert key in rec
    assert rec["d"] == 40 and rec["D"] == cnn.n_params and rec["optimizer"] == "adam"
    import json

    json.dumps(rec)
    # same subspace seed -> same subspace
    again = TorchSubspaceModel(cnn, 40, theta0=theta0, subspace_seed=12)
    np.testing.assert_array_equal(again.projection.dense.numpy(), sub.projection.dense.numpy())


def test_thread_count_does_not_change_the_result(cnn, images):
    X, y = images
    theta0 = cnn.init_params(seed=15)
    sub = TorchSubspaceModel(cnn, 30, theta0=theta0, subspace_seed=16)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        a = sub.train(X, y, optimizer="momentum", lr=0.05, steps=15, batch_size=16, seed=17)
        torch.set_num_threads(2)
        b = sub.train(X, y, optimizer="momentum", lr=0.05, steps=15, batch_size=16, seed=17)
    finally:
        torch.set_num_threads(before)
    np.testing.assert_allclose(a.theta, b.theta, rtol=0, atol=1e-12)
    assert a.protocol["momentum"] == 0.9


def test_numpy_map_path_matches_dense_path(cnn, images):
    """A SubspaceMap applied through its own matvec / rmatvec (Fastfood stays matrix-free)."""
    from landscape.subspaces import random_subspace

    X, y = images
    theta0 = cnn.init_params(seed=18)
    A = random_subspace(cnn.n_params, 25, kind="fastfood", seed=19)
    dense = TorchSubspaceModel(cnn, A, theta0=theta0)
    free = TorchSubspaceModel(cnn, A, theta0=theta0, max_dense_entries=1)
    assert dense.projection.dense is not None and free.projection.dense is None
    assert free.kind == "fastfood"
    phi = np.random.default_rng(1005).standard_normal(25) * 0.1
    l1, g1 = dense.loss_and_grad(phi, X, y)
    l2, g2 = free.loss_and_grad(phi, X, y)
    np.testing.assert_allclose(l1, l2, rtol=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=1e-10, atol=1e-14)
    # gradient in the subspace is A^T grad L
    _, g = cnn.loss_and_grad(theta0 + A.matvec(phi), X, y)
    np.testing.assert_allclose(g1, A.rmatvec(g), rtol=1e-10, atol=1e-14)
    r1 = dense.train(X, y, optimizer="sgd", lr=0.1, steps=10, seed=20)
    r2 = free.train(X, y, optimizer="sgd", lr=0.1, steps=10, seed=20)
    np.testing.assert_allclose(r1.theta, r2.theta, atol=1e-10)
    # subspace Hessian A^T H A v
    v = np.random.default_rng(1006).standard_normal(25)
    ref = A.rmatvec(cnn.hvp(theta0 + A.matvec(phi), X, y, A.matvec(v)))
    np.testing.assert_allclose(free.hvp(phi, X, y, v), ref, rtol=1e-10, atol=1e-13)


def test_data_loader_matches_tensors(cnn, images):
    X, y = images
    theta0 = cnn.init_params(seed=21)
    sub = TorchSubspaceModel(cnn, 20, theta0=theta0, subspace_seed=22)
    ds = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    loader = torch.utils.data.DataLoader(ds, batch_size=16, shuffle=False)
    r_loader = sub.train(loader, optimizer="sgd", lr=0.1, steps=6, seed=23)
    # the same fixed batch order, by hand
    theta_ref = torch.from_numpy(theta0)
    A = sub.projection.dense
    phi = torch.zeros(20, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([phi], lr=0.1)
    for k in range(6):
        i = (k % 3) * 16
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(
            cnn.forward(theta_ref + A @ phi, torch.from_numpy(X[i:i + 16])), torch.from_numpy(y[i:i + 16]))
        loss.backward()
        opt.step()
    np.testing.assert_allclose(r_loader.phi, phi.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(r_loader.final_loss, cnn.loss(r_loader.theta, X, y), rtol=1e-12)


def test_divergence_is_recorded_not_raised():
    model = TorchModel(torch.nn.Linear(3, 2).double(), loss="mse", input_shape=(3,))
    rng = np.random.default_rng(1008)
    X, Y = rng.standard_normal((10, 3)), rng.standard_normal((10, 2))
    sub = TorchSubspaceModel(model, 4, theta0=model.init_params(seed=24), subspace_seed=25)
    res = sub.train(X, Y, optimizer="sgd", lr=1e4, steps=200, seed=26)
    assert res.diverged and res.final_loss == np.inf and res.final_accuracy is None
    assert res.loss_history.shape[0] < 200


def test_works_with_the_numpy_training_code():
    """The numpy model interface: landscape.experiments.training trains a torch MLP like its own MLP."""
    from landscape.experiments.training import train_in_subspace
    from landscape.models import MLP
    from landscape.models.datasets import teacher_student
    data = teacher_student(64, 0, n_features=4, n_classes=3, hidden=0, seed=1007)
    net = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3)).double()
    model = TorchModel(net, input_shape=(4,))
    # same function as landscape.models.MLP([4, 5, 3]) at the re-laid-out parameters
    theta = model.init_params(seed=0)
    W1, b1, W2, b2 = theta[:20].reshape(5, 4), theta[20:25], theta[25:40].reshape(3, 5), theta[40:]
    theta_mlp = np.concatenate([W1.T.ravel(), b1, W2.T.ravel(), b2])
    mlp = MLP([4, 5, 3])
    np.testing.assert_allclose(model.loss(theta, data.X_train, data.y_train),
                               mlp.loss(theta_mlp, data.X_train, data.y_train), rtol=1e-12)
    res = train_in_subspace(model, data, d=10, optimizer="adam", lr=0.05, steps=30, seed=0)
    assert res.metrics["status"] == "ok"
    assert res.metrics["train_loss"] < res.metrics["initial_train_loss"]
    assert res.protocol["D"] == model.n_params == 43


# --------------------------------------------------------------------------- bad input
def test_bad_input_raises_clear_errors(cnn, images):
    X, y = images
    theta = cnn.init_params(seed=0)
    with pytest.raises(ValueError, match=r"X must have shape \(n, 1, 8, 8\)"):
        cnn.loss(theta, X[:, :, :7, :], y)
    free = TorchModel(make_cnn())  # no input_shape: the module's own error, made clear
    with pytest.raises(ValueError, match="does not fit the module"):
        free.loss(theta, X[:, :, :5, :5], y)
    with pytest.raises(ValueError, match="theta must have shape"):
        cnn.loss(theta[:-1], X, y)
    with pytest.raises(ValueError, match="theta contains NaN"):
        cnn.loss(np.full_like(theta, np.nan), X, y)
    with pytest.raises(ValueError, match="y must have 48 labels"):
        cnn.loss(theta, X, y[:-1])
    with pytest.raises(ValueError, match=r"labels in \[0, 3\)"):
        cnn.loss(theta, X, y + 3)
    with pytest.raises(ValueError, match="v must have"):
        cnn.hvp(theta, X, y, np.ones(5))
    with pytest.raises(ValueError, match="method"):
        cnn.hvp(theta, X, y, np.ones(cnn.n_params), method="fd")
    with pytest.raises(TypeError, match="torch.nn.Module"):
        TorchModel(lambda x: x)
    with pytest.raises(ValueError, match="loss must be"):
        TorchModel(make_cnn(), loss="hinge")
    with pytest.raises(ValueError, match="no parameters"):
        TorchModel(torch.nn.Tanh())
    with pytest.raises(ValueError, match="'meta' device"):
        TorchModel(torch.nn.Linear(3, 2, device="meta"))
    mixed = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 2, device="meta"))
    with pytest.raises(ValueError, match="all be on one device"):
        TorchModel(mixed)
    with pytest.raises(ValueError, match="input_shape entries"):
        TorchModel(make_cnn(), input_shape=(1, 0, 8))
    with pytest.raises(ValueError, match=r"y must have the shape of the module's output \(n, 2\)"):
        TorchModel(torch.nn.Linear(3, 2).double(), loss="mse").loss(np.zeros(8), np.ones((4, 3)), np.ones(4))
    sub = TorchSubspaceModel(cnn, 5, theta0=theta, subspace_seed=0)
    with pytest.raises(ValueError, match="optimizer"):
        sub.train(X, y, optimizer="lbfgs")
    with pytest.raises(ValueError, match="lr"):
        sub.train(X, y, lr=0.0)
    with pytest.raises(ValueError, match="steps"):
        sub.train(X, y, steps=-1)
    with pytest.raises(ValueError, match="batch_size"):
        sub.train(X, y, batch_size=0)
    with pytest.raises(ValueError, match="momentum"):
        sub.train(X, y, momentum=1.5)
    with pytest.raises(ValueError, match="y is required"):
        sub.train(X)
    with pytest.raises(ValueError, match="phi must have shape"):
        sub.loss(np.zeros(6), X, y)
    with pytest.raises(ValueError, match="subspace must have D = 475 rows"):
        TorchSubspaceModel(cnn, np.eye(10)[:, :3], theta0=theta)
    with pytest.raises(ValueError, match=r"subspace \(d\) must be <= 475"):
        TorchSubspaceModel(cnn, 476, theta0=theta)
    with pytest.raises(ValueError, match="theta0 must have shape"):
        TorchSubspaceModel(cnn, 5, theta0=theta[:3])
    with pytest.raises(TypeError, match="subspace must be"):
        torch_projection("A")
    with pytest.raises(TypeError, match="model must be"):
        TorchSubspaceModel("net", 5)
