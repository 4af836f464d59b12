"""landscape.models.MLP: loss, gradient and Hessian-vector product against independent references."""
import numpy as np
import pytest

from landscape.models import MLP, check_labels


# ---------------------------------------------------------------------- naive references
def naive_loss(model, theta, X, y):
    """Per-sample loops, explicit weights: mean softmax cross-entropy."""
    layers = []
    offset = 0
    for n_in, n_out in zip(model.layer_sizes[:-1], model.layer_sizes[1:]):
        W = theta[offset:offset + n_in * n_out].reshape(n_in, n_out)
        offset += n_in * n_out
        b = theta[offset:offset + n_out]
        offset += n_out
        layers.append((W, b))
    total = 0.0
    for x, label in zip(X, y):
        a = x
        for i, (W, b) in enumerate(layers):
            z = np.array([sum(a[r] * W[r, c] for r in range(len(a))) + b[c] for c in range(W.shape[1])])
            if i < len(layers) - 1:
                a = np.tanh(z) if model.activation == "tanh" else np.maximum(z, 0)
            else:
                a = z
        total += np.log(np.sum(np.exp(a))) - a[label]
    return total / len(X)


def fd_grad(f, theta, h=1e-6):
    g = np.zeros_like(theta)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h
        g[i] = (f(theta + e) - f(theta - e)) / (2 * h)
    return g


def problem(sizes=(5, 7, 6, 3), activation="tanh", n=11, seed=1000):
    rng = np.random.default_rng(seed)
    model = MLP(sizes, activation)
    X = rng.standard_normal((n, sizes[0]))
    y = rng.integers(0, sizes[-1], n)
    theta = model.init_params(seed=1) + 0.1 * rng.standard_normal(model.n_params)
    return model, theta, X, y


# ---------------------------------------------------------------------- exact values
def test_n_params_and_layout():
    model = MLP([4, 8, 3])
    assert model.n_params == 4 * 8 + 8 + 8 * 3 + 3 == 67
    theta = np.arange(67.0)
    (W1, b1), (W2, b2) = model.unflatten(theta)
    assert W1.shape == (4, 8) and b1.shape == (8,) and W2.shape == (8, 3) and b2.shape == (3,)
    np.testing.assert_array_equal(W1.ravel(), np.arange(32.0))
    np.testing.assert_array_equal(b2, [64.0, 65.0, 66.0])
    assert np.shares_memory(W1, theta)


def test_zero_parameters_give_log_n_classes():
    model = MLP([3, 4, 5])
    X = np.random.default_rng(1000).standard_normal((7, 3))
    y = np.arange(7) % 5
    assert model.loss(np.zeros(model.n_params), X, y) == pytest.approx(np.log(5), rel=1e-15)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_loss_matches_naive_loops(activation):
    model, theta, X, y = problem(activation=activation)
    assert model.loss(theta, X, y) == pytest.approx(naive_loss(model, theta, X, y), rel=1e-12)


def test_accuracy_by_hand():
    model = MLP([2, 2])  # logits = X W + b
    theta = np.array([1.0, 0.0, 0.0, 1.0, 0.0, 0.0])  # W = I
    X = np.array([[2.0, 1.0], [0.0, 3.0], [5.0, 4.0], [1.0, 2.0]])
    assert model.accuracy(theta, X, [0, 1, 1, 1]) == 0.75
    np.testing.assert_array_equal(model.logits(theta, X), X)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_gradient_matches_finite_differences(activation):
    model, theta, X, y = problem(activation=activation)
    loss, grad = model.loss_and_grad(theta, X, y)
    assert loss == pytest.approx(model.loss(theta, X, y), rel=1e-14)
    ref = fd_grad(lambda t: model.loss(t, X, y), theta)
    np.testing.assert_allclose(grad, ref, atol=1e-8)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_hvp_matches_finite_differences_of_the_gradient(activation):
    model, theta, X, y = problem(activation=activation)
    v = np.random.default_rng(1001).standard_normal(model.n_params)
    hv = model.hvp(theta, X, y, v)
    h = 1e-5
    ref = (model.loss_and_grad(theta + h * v, X, y)[1] - model.loss_and_grad(theta - h * v, X, y)[1]) / (2 * h)
    np.testing.assert_allclose(hv, ref, atol=1e-7 * max(1.0, np.abs(ref).max()))


def test_hessian_from_hvp_is_symmetric_and_matches_fd_hessian():
    model, theta, X, y = problem(sizes=(3, 4, 3), n=6)
    D = model.n_params
    H = model.hvp(theta, X, y, np.eye(D))  # (D, D): columns H e_j
    assert H.shape == (D, D)
    np.testing.assert_allclose(H, H.T, atol=1e-12)
    H_fd = np.column_stack([fd_grad(lambda t: model.loss_and_grad(t, X, y)[1][j], theta, h=1e-5) for j in range(D)])
    np.testing.assert_allclose(H, H_fd, atol=1e-7)
    # cross-entropy of a softmax is convex in the logits: for a linear model H is PSD
    lin = MLP([3, 3])
    th = lin.init_params(seed=2)
    H_lin = lin.hvp(th, X, y, np.eye(lin.n_params))
    assert np.linalg.eigvalsh(H_lin).min() > -1e-12


def test_init_params_statistics_and_reproducibility():
    model = MLP([200, 100, 10], "relu")
    a, b = model.init_params(seed=0), model.init_params(seed=0)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, model.init_params(seed=1))
    (W1, b1), (W2, b2) = model.unflatten(a)
    assert np.all(b1 == 0) and np.all(b2 == 0)
    # He initialisation: Var W1 = 2 / 200; sample variance of 20000 normals: relative SE ~ 1%
    assert W1.var() == pytest.approx(2 / 200, rel=0.05)
    assert W2.var() == pytest.approx(2 / 100, rel=0.1)


def test_diverged_parameters_give_nan_not_a_crash():
    model, theta, X, y = problem(activation="relu")
    huge = theta * 1e200  # relu(1e200 * ...) squared overflows to inf, then inf - inf = nan
    loss, grad = model.loss_and_grad(huge, X, y)
    assert not (np.isfinite(loss) and np.all(np.isfinite(grad)))
    assert np.isnan(model.loss(np.full(model.n_params, np.inf), X, y))


def test_spec_equality_and_pickle():
    import pickle

    m = MLP([4, 5, 2], "relu")
    assert m == MLP((4, 5, 2), "relu") and m != MLP([4, 5, 2])
    assert pickle.loads(pickle.dumps(m)) == m
    assert m.spec() == {"name": "MLP", "layer_sizes": [4, 5, 2], "activation": "relu"}
    assert "n_params=37" in repr(m)


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize("sizes, activation, exc, match", [
    ([4], "tanh", ValueError, "at least 2"),
    ([4, 1], "tanh", ValueError, "classes"),
    ([4, 0, 2], "tanh", ValueError, "layer_sizes"),
    ([4, 2.5, 2], "tanh", TypeError, "layer_sizes"),
    ("42", "tanh", TypeError, "layer_sizes"),
    (5, "tanh", TypeError, "layer_sizes"),
    ([4, 2], "sigmoid", ValueError, "activation"),
])
def test_bad_constructor_arguments(sizes, activation, exc, match):
    with pytest.raises(exc, match=match):
        MLP(sizes, activation)


def test_bad_call_arguments():
    model, theta, X, y = problem()
    with pytest.raises(ValueError, match="theta"):
        model.loss(theta[:-1], X, y)
    with pytest.raises(ValueError, match="X must have 5 columns"):
        model.loss(theta, X[:, :4], y)
    with pytest.raises(ValueError, match="X contains NaN"):
        model.loss(theta, np.full_like(X, np.nan), y)
    with pytest.raises(ValueError, match="labels in"):
        model.loss(theta, X, np.full(len(y), 3))
    with pytest.raises(ValueError, match="labels in"):
        model.loss(theta, X, np.full(len(y), -1))
    with pytest.raises(ValueError, match="whole-number"):
        model.loss(theta, X, y + 0.5)
    with pytest.raises(ValueError, match="11 labels"):
        model.loss(theta, X, y[:-1])
    with pytest.raises(TypeError, match="integer class labels"):
        model.loss(theta, X, ["a"] * len(y))
    with pytest.raises(ValueError, match="v must have"):
        model.hvp(theta, X, y, np.ones(3))
    with pytest.raises(ValueError, match="1-D"):
        check_labels(np.zeros((2, 2)), 2, 3)
    # float labels that are whole numbers are fine
    assert model.loss(theta, X, y.astype(float)) == model.loss(theta, X, y)
