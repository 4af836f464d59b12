"""Loss-landscape slices: closed forms on quadratic wells, filter normalisation, executors, sub-level plots.

On a well :math:`L(\\theta) = L^* + \\tfrac12(\\theta-\\theta^*)^T H(\\theta-\\theta^*)` every slice is
a quadratic in its coordinates with known coefficients:
:math:`L(\\theta + \\alpha d) = L(\\theta) + \\alpha\\, g^T d + \\tfrac12\\alpha^2 d^T H d`, and the path
from :math:`\\theta_0` to :math:`\\theta^*` is :math:`L^* + (1-\\alpha)^2 (L(\\theta_0) - L^*)`.
"""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from landscape.models import MLP, QuadraticWell, random_basis
from landscape.models.datasets import teacher_student
from landscape.plots import plot_loss_slice, plot_sublevel_set_2d
from landscape.theory.slices import (LossSlice, interpolation_slice, loss_slice, loss_slice_1d, loss_slice_2d,
                                     random_direction)


@pytest.fixture(scope="module")
def well():
    rng = np.random.default_rng(1000)
    D = 12
    return QuadraticWell(np.linspace(0.2, 3.0, D), minimum=rng.standard_normal(D), basis=random_basis(D, 1001),
                         min_loss=0.3)


def test_line_matches_the_closed_form(well):
    rng = np.random.default_rng(1002)
    theta, d = rng.standard_normal(12), rng.standard_normal(12)
    alphas = np.linspace(-2, 2, 17)
    line = loss_slice_1d(well, theta, direction=d, alphas=alphas)
    expected = well.loss(theta) + alphas * (well.gradient(theta) @ d) + 0.5 * alphas ** 2 * (d @ well.hvp(d))
    np.testing.assert_allclose(line.losses, expected, rtol=1e-12)
    assert line.ndim == 1 and line.kind == "given"


def test_plane_matches_the_closed_form(well):
    rng = np.random.default_rng(1003)
    theta, D1, D2 = rng.standard_normal(12), rng.standard_normal(12), rng.standard_normal(12)
    a, b = np.linspace(-1, 1, 7), np.linspace(-0.5, 1.5, 5)
    plane = loss_slice_2d(well, theta, directions=np.stack([D1, D2]), alphas=a, betas=b)
    A, B = np.meshgrid(a, b)
    g = well.gradient(theta)
    expected = (well.loss(theta) + A * (g @ D1) + B * (g @ D2)
                + 0.5 * (A ** 2 * (D1 @ well.hvp(D1)) + 2 * A * B * (D1 @ well.hvp(D2)) + B ** 2 * (D2 @ well.hvp(D2))))
    assert plane.losses.shape == (5, 7)
    np.testing.assert_allclose(plane.losses, expected, rtol=1e-12)
    np.testing.assert_allclose(plane.points(a[2], b[3]), theta + a[2] * D1 + b[3] * D2)


def test_path_from_theta0_to_the_minimum(well):
    theta0 = np.random.default_rng(1004).standard_normal(12)
    alphas = np.linspace(-0.5, 1.5, 9)
    path = interpolation_slice(well, theta0, well.minimum, alphas=alphas)
    expected = well.min_loss + (1 - alphas) ** 2 * (well.loss(theta0) - well.min_loss)
    np.testing.assert_allclose(path.losses, expected, rtol=1e-12)
    assert set(path.marks.values()) == {(0.0,), (1.0,)}


def test_executors_and_chunks_do_not_change_the_result(well):
    data = teacher_student(30, 0, n_features=3, n_classes=2, hidden=0, seed=1005)
    model = MLP([3, 4, 2])
    theta = model.init_params(0)
    serial = loss_slice_2d(model, theta, data.X_train, data.y_train, seed=3, alphas=np.linspace(-1, 1, 5),
                           betas=np.linspace(-1, 1, 5))
    with ThreadPoolExecutor(2) as ex:
        pooled = loss_slice_2d(model, theta, data.X_train, data.y_train, seed=3, alphas=np.linspace(-1, 1, 5),
                               betas=np.linspace(-1, 1, 5), executor=ex, chunk_size=3)
    np.testing.assert_array_equal(serial.losses, pooled.losses)
    assert serial.losses[2, 2] == pytest.approx(model.loss(theta, data.X_train, data.y_train), rel=1e-14)
    # data as batches: the same slice
    batches = [(data.X_train[:13], data.y_train[:13]), (data.X_train[13:], data.y_train[13:])]
    batched = loss_slice_2d(model, theta, batches, seed=3, alphas=np.linspace(-1, 1, 5), betas=np.linspace(-1, 1, 5))
    np.testing.assert_allclose(batched.losses, serial.losses, rtol=1e-12)


def test_filter_normalisation_mlp():
    model = MLP([3, 5, 4])
    theta = model.init_params(0)
    theta[model.n_params - 4:] = 0.7                                   # biases of the last layer
    d = random_direction(model, theta, seed=2)
    for (W, b), (W0, b0) in zip(model.unflatten(d), model.unflatten(theta)):
        np.testing.assert_allclose(np.linalg.norm(W, axis=0), np.linalg.norm(W0, axis=0), rtol=1e-12)
        assert np.all(b == 0)
    d_bias = random_direction(model, theta, seed=2, ignore_bias=False)
    b_last = model.unflatten(d_bias)[-1][1]
    assert np.linalg.norm(b_last) == pytest.approx(np.linalg.norm([0.7] * 4), rel=1e-12)
    layer = random_direction(model, theta, seed=2, normalization="layer")
    W, _ = model.unflatten(layer)[0]
    assert np.linalg.norm(W) == pytest.approx(np.linalg.norm(model.unflatten(theta)[0][0]), rel=1e-12)
    unit = random_direction(None, theta, seed=2)
    assert np.linalg.norm(unit) == pytest.approx(1.0)
    np.testing.assert_array_equal(random_direction(model, theta, seed=2), d)   # same seed, same direction
    with pytest.raises(ValueError, match="normalization"):
        random_direction(model, theta, normalization="batch")


def test_filter_normalisation_torch_convolution(torch_one_thread):
    import torch

    from landscape.torch import TorchModel

    net = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 2)).double()
    model = TorchModel(net, input_shape=(2, 6, 6))
    theta = model.get_params()
    d = random_direction(model, theta, seed=0)
    parts = model.unflatten(torch.from_numpy(d))
    ref = model.unflatten(torch.from_numpy(theta))
    conv, conv0 = parts["0.weight"].numpy(), ref["0.weight"].numpy()
    np.testing.assert_allclose(np.linalg.norm(conv.reshape(3, -1), axis=1),
                               np.linalg.norm(conv0.reshape(3, -1), axis=1), rtol=1e-12)   # one filter per output channel
    lin, lin0 = parts["2.weight"].numpy(), ref["2.weight"].numpy()
    np.testing.assert_allclose(np.linalg.norm(lin, axis=1), np.linalg.norm(lin0, axis=1), rtol=1e-12)
    assert np.all(parts["0.bias"].numpy() == 0) and np.all(parts["2.bias"].numpy() == 0)


def _filled_area(ax):
    """Area of the filled sub-level region (the contourf paths), by the shoelace formula."""
    from matplotlib.collections import Collection

    total = 0.0
    for coll in ax.collections:
        if isinstance(coll, Collection) and coll.get_alpha() == 0.35:
            for path in coll.get_paths():
                for poly in path.to_polygons():
                    x, y = poly[:, 0], poly[:, 1]
                    total += 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))
    return total


def test_sublevel_set_on_a_plane_is_the_ellipse():
    # L = 1/2 (2 a^2 + b^2 / 2): {L <= eps} is the ellipse with semi-axes sqrt(eps), 2 sqrt(eps)
    well = QuadraticWell([2.0, 0.5, 1.0])
    eps = 0.36
    plane = loss_slice_2d(well, np.zeros(3), directions=np.eye(3)[:2], alphas=np.linspace(-2, 2, 201),
                          betas=np.linspace(-2, 2, 201))
    ax = plot_sublevel_set_2d(plane, eps=eps)
    assert _filled_area(ax) == pytest.approx(np.pi * np.sqrt(eps) * 2 * np.sqrt(eps), rel=5e-3)
    assert plane.sublevel_fraction(eps) == pytest.approx(np.pi * 2 * eps / 16, rel=0.02)


def test_sublevel_plots_for_any_model(well):
    theta0 = np.random.default_rng(1006).standard_normal(12)
    ax = plot_sublevel_set_2d(well, theta0, eps=well.min_loss + 0.5)       # a well of dimension 12
    assert _filled_area(ax) > 0 and ax.get_title().startswith("sub-level set")
    data = teacher_student(30, 0, n_features=3, n_classes=2, hidden=0, seed=1007)
    model = MLP([3, 4, 2])
    line = loss_slice_1d(model, model.init_params(0), data.X_train, data.y_train, seed=1, alphas=np.linspace(-1, 1, 9))
    eps = float(np.median(line.losses))
    ax = plot_loss_slice(line, eps=eps)
    assert len(ax.lines) >= 2 and any(c.get_label() == r"$L \leq \epsilon$" for c in ax.collections)
    with pytest.raises(TypeError, match="quadratic well or a 2-D LossSlice"):
        plot_sublevel_set_2d(model, np.zeros(model.n_params), eps=0.5)
    with pytest.raises(TypeError, match="LossSlice"):
        plot_loss_slice(line.losses)


def test_bad_input():
    well = QuadraticWell([1.0, 2.0])
    with pytest.raises(ValueError, match="directions must have shape"):
        loss_slice(well, np.zeros(2), np.ones((3, 2)), [0.0, 1.0])
    with pytest.raises(TypeError, match="pair"):
        loss_slice(well, np.zeros(2), np.eye(2), [0.0, 1.0])
    with pytest.raises(TypeError, match="executor"):
        loss_slice(well, np.zeros(2), np.ones(2), [0.0], executor="threads")
    assert isinstance(loss_slice(lambda t: float(t @ t), np.zeros(2), np.ones(2), [1.0, 2.0]), LossSlice)
