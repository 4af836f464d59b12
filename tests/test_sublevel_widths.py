"""The direct width of a sub-level set (landscape.theory.sublevel_widths).

References first: the circular-cone projection against geometry's CircularCone (convex
half-angles) and against a brute-force nearest point (non-convex half-angles); then the
estimator against geometry's exact width of the ellipsoidal cone of quadratic wells, sample
by sample on the same Gaussian draws and on the mean within 3 combined standard errors.
"""
import concurrent.futures as cf

import numpy as np
import pytest

from geometry import CircularCone, expected_norm, gaussian_width, gordon_threshold
from landscape import QuadraticWell, sublevel_width
from landscape.experiments.result_store import ResultStore
from landscape.models.spectra import flat_spectrum, power_law_spectrum, two_level_spectrum
from landscape.theory._cone_training import project_circular_cone
from test_sweep import CountingExecutor


def naive_projection(x, u, alpha, n_grid=20001):
    """Nearest point of C(u, alpha) to x by a grid over the boundary rays in the plane of u and x."""
    a = x @ u
    if a >= np.linalg.norm(x) * np.cos(alpha):
        return x.copy()
    perp = x - a * u
    w = perp / np.linalg.norm(perp)
    best, best_d = np.zeros_like(x), np.linalg.norm(x)
    # the nearest point lies in the plane of u and x, on a boundary ray at angle +-alpha
    for sign in (1.0, -1.0):
        b = np.cos(alpha) * u + sign * np.sin(alpha) * w
        t = max(x @ b, 0.0)
        d = np.linalg.norm(x - t * b)
        if d < best_d:
            best, best_d = t * b, d
    return best


# ---------------------------------------------------------------------- projection
@pytest.mark.parametrize("alpha", [0.1, 0.7, 1.2, 1.5])
def test_projection_matches_geometry_circular_cone(alpha):
    rng = np.random.default_rng(1000)
    D = 30
    u = rng.standard_normal(D)
    u /= np.linalg.norm(u)
    K = CircularCone(D, alpha, axis=u)
    X = rng.standard_normal((40, D))
    X[:10] += 3.0 * u          # some inside
    X[10:20] -= 3.0 * u        # some in the polar cone
    ref = K.project(X)
    ours = np.array([project_circular_cone(x, u, np.cos(alpha), np.sin(alpha)) for x in X])
    np.testing.assert_allclose(ours, ref, atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("alpha", [1.7, 2.3, 3.0])
def test_projection_nonconvex_cone_is_nearest_point(alpha):
    """For alpha > pi/2 the cone is the closed complement of an open convex cone."""
    rng = np.random.default_rng(1001)
    D = 12
    u = rng.standard_normal(D)
    u /= np.linalg.norm(u)
    c, s = np.cos(alpha), np.sin(alpha)
    for _ in range(50):
        x = rng.standard_normal(D) - 2.0 * rng.random() * u
        p = project_circular_cone(x, u, c, s)
        assert p @ u >= np.linalg.norm(p) * c - 1e-12           # feasible
        np.testing.assert_allclose(p, naive_projection(x, u, alpha), atol=1e-12)
        # no random feasible point near x is closer
        Y = x + 0.5 * rng.standard_normal((400, D))
        ok = Y @ u >= np.linalg.norm(Y, axis=1) * c
        assert np.all(np.linalg.norm(Y[ok] - x, axis=1) >= np.linalg.norm(p - x) - 1e-12)
    # a point on the axis behind the apex: one of the nearest points, at the right distance
    x = -2.0 * u
    p = project_circular_cone(x, u, c, s)
    assert p @ u >= np.linalg.norm(p) * c - 1e-12
    assert np.linalg.norm(x - p) == pytest.approx(2.0 * np.sin(np.pi - alpha), rel=1e-12)


def test_projection_extreme_angles():
    u = np.array([1.0, 0.0, 0.0])
    x = np.array([1.0, 2.0, 0.0])
    np.testing.assert_allclose(project_circular_cone(x, u, 1.0, 0.0), [1.0, 0.0, 0.0])    # a ray
    np.testing.assert_allclose(project_circular_cone(-x, u, 1.0, 0.0), 0.0)
    np.testing.assert_allclose(project_circular_cone(-x, u, -1.0, 0.0), -x)                 # everything


# ---------------------------------------------------------------------- exact checks on wells
def _well_case(spectrum, distance, eps, D):
    lam = {"flat": lambda: flat_spectrum(D),
           "power": lambda: power_law_spectrum(D, 1.0),
           "two-level": lambda: two_level_spectrum(D, max(1, D // 10), 1.0, 1e-2)}[spectrum]()
    well = QuadraticWell(lam)
    theta0 = np.random.default_rng(1002).standard_normal(D)
    theta0 *= distance / np.linalg.norm(theta0)
    return well, theta0


# (spectrum, two distances, two absolute levels), D = 80: convex cones (alpha < pi/2) for
# near/high, non-convex ones (alpha > pi/2, negative supports) for some far/low samples
WELL_CASES = [(sp, dist, eps) for sp, levels in (("flat", (0.02, 0.3)), ("power", (0.002, 0.02)),
                                                 ("two-level", (0.005, 0.05)))
              for dist in (1.5, 6.0) for eps in levels]


def _paired_check(well, theta0, eps, G, res):
    D = well.dim
    K = well.cone(theta0, eps)
    exact = K.support(G)                              # sup over the unit directions, per sample
    gnorm = np.linalg.norm(G, axis=1)
    # sample by sample: certified (never above the exact value), and within the bisection tolerance
    gap = exact - res.supports
    assert np.all(gap >= -1e-9 * gnorm), gap.min()
    assert np.all(gap <= res.tol * gnorm + 1e-6), (gap / gnorm).max()
    np.testing.assert_allclose(res.supports, gnorm * res.cos_brackets[:, 0], rtol=1e-12)
    # the means, within 3 combined standard errors (the paired Monte Carlo estimate of geometry)
    ref = gaussian_width(K, G=G, center=False)
    combined = np.hypot(ref.stderr, res.width.stderr)
    assert abs(res.width.value - ref.value) <= 3 * combined
    assert res.width.value == pytest.approx(expected_norm(D) * res.cos_brackets[:, 0].mean(), rel=1e-12)
    return exact


@pytest.mark.parametrize("spectrum,distance,eps", WELL_CASES)
def test_well_width_matches_geometry(spectrum, distance, eps):
    D = 80
    well, theta0 = _well_case(spectrum, distance, eps, D)
    assert well.loss(theta0) > eps
    G = np.random.default_rng(1003).standard_normal((8, D))
    res = sublevel_width(well, eps, theta0, G=G, seed=0, executor="serial", progress=False)
    assert not res.inside and not res.unreachable
    assert res.n_diverged.sum() == 0
    _paired_check(well, theta0, eps, G, res)
    assert res.threshold.value == pytest.approx(D - res.width.value ** 2)


def test_cos_guess_same_values_fewer_tests():
    """Starting from a guessed bracket of the angles certifies the same values (within the tolerance)."""
    D = 2000
    well, theta0 = _well_case("flat", 3.0, None, D)
    eps = 0.3 * well.loss(theta0)
    G = np.random.default_rng(1011).standard_normal((6, D))
    exact = well.cone(theta0, eps).support(G) / np.linalg.norm(G, axis=1)
    plain = sublevel_width(well, eps, theta0, G=G, seed=0, executor="serial")
    pair = sublevel_width(well, eps, theta0, G=G, seed=0, executor="serial",
                          cos_guess=(exact.min() - 0.002, exact.max() + 0.002))
    point = sublevel_width(well, eps, theta0, G=G, seed=0, executor="serial", cos_guess=float(exact.mean()))
    far = sublevel_width(well, eps, theta0, G=G, seed=0, executor="serial", cos_guess=(0.05, 0.06))
    for res in (plain, pair, point, far):
        gap = exact - res.cos_brackets[:, 0]
        assert np.all(gap >= -1e-9) and np.all(gap <= res.tol + 1e-6)
    assert pair.n_tests.sum() < plain.n_tests.sum()
    for bad in (1.5, (0.5, 0.4), (0.1, 0.2, 0.3)):
        with pytest.raises(ValueError, match="cos_guess"):
            sublevel_width(well, eps, theta0, G=G, seed=0, executor="serial", cos_guess=bad)


def test_well_cases_cover_nonconvex_cones():
    """Some samples of the far, low cases need alpha > pi/2 (negative supremum)."""
    well, theta0 = _well_case("flat", 6.0, 0.02, 80)
    G = np.random.default_rng(1003).standard_normal((8, 80))
    assert np.any(well.cone(theta0, 0.02).support(G) < 0)


@pytest.mark.parametrize("spectrum,D,eps_fraction", [("power", 1000, 0.3), ("two-level", 1500, 0.2)])
def test_well_width_large_dimension(spectrum, D, eps_fraction):
    well, theta0 = _well_case(spectrum, 3.0, None, D)
    eps = eps_fraction * well.loss(theta0)
    G = np.random.default_rng(1004).standard_normal((8, D))
    res = sublevel_width(well, eps, theta0, G=G, seed=0, executor="serial", progress=False)
    _paired_check(well, theta0, eps, G, res)


def test_well_width_own_draws_against_independent_geometry_estimate():
    """Unpaired: the estimator's own Gaussian stream against geometry's Monte Carlo (another seed)."""
    D = 1000
    well, theta0 = _well_case("power", 3.0, None, D)
    eps = 0.3 * well.loss(theta0)
    res = sublevel_width(well, eps, theta0, n_samples=12, seed=3, executor="serial", progress=False)
    ref = gaussian_width(well.cone(theta0, eps), 4000, seed=1005)
    assert abs(res.width.value - ref.value) <= 3 * np.hypot(ref.stderr, res.width.stderr)
    # D - w^2 agrees with the exact width's within its standard error budget
    assert abs(res.threshold.value - (D - ref.value ** 2)) <= 3 * np.hypot(res.threshold.stderr,
                                                                           2 * ref.value * ref.stderr)


# ---------------------------------------------------------------------- flags and failures
def test_theta0_inside_the_set():
    well = QuadraticWell(np.ones(10))
    theta0 = np.full(10, 0.1)
    res = sublevel_width(well, 1.0, theta0, n_samples=4, seed=0, executor="serial")
    assert res.inside and not res.unreachable
    assert res.width.is_exact and res.width.value == pytest.approx(expected_norm(10))
    assert res.total_steps == 0 and res.n_samples == 0
    assert "whole sphere" in res.message and "whole sphere" in repr(res)


def test_unreachable_level_gives_no_number():
    well = QuadraticWell(np.ones(10), min_loss=1.0)
    theta0 = np.full(10, 1.0)
    res = sublevel_width(well, 0.5, theta0, n_samples=4, seed=0, executor="serial", steps=200)
    assert res.unreachable and not res.inside
    assert res.width is None and res.threshold is None and res.gordon is None
    assert "unreachable" in res.message and "alpha = pi/2" in res.message
    with pytest.raises(ValueError, match="no width"):
        res.ci()


class _HoleyWell(QuadraticWell):
    """A quadratic well whose loss is NaN on a slab {theta_1 < -0.5}: cone runs that enter it
    diverge, which must count as failures, not crash."""

    def loss(self, theta):
        out = super().loss(theta)
        t = np.asarray(theta)
        return np.where(t[..., 0] < -0.5, np.nan, out) if np.ndim(out) else (np.nan if t[0] < -0.5 else out)

    def gradient(self, theta):
        g = super().gradient(theta)
        return g * np.nan if np.asarray(theta)[0] < -0.5 else g


def test_nan_losses_are_recorded_failures():
    D = 20
    well = _HoleyWell(np.ones(D), minimum=np.r_[-1.0, np.zeros(D - 1)])
    theta0 = np.r_[2.0, np.zeros(D - 1)]
    res = sublevel_width(well, 0.5, theta0, n_samples=6, seed=0, executor="serial", steps=300)
    assert res.unreachable           # the minimum sits in the hole: the full-space run diverges
    assert "diverged" in res.message and res.n_diverged.sum() == 1
    # the set is reachable, but narrow cones around directions into the hole cross it
    well = _HoleyWell(np.ones(D))
    theta0 = np.r_[0.3, 2.0, np.zeros(D - 2)]
    G = np.full((3, D), 0.1)
    G[:, :2] = [[-1.0, -1.0], [-2.0, -1.0], [0.0, -1.0]]
    res = sublevel_width(well, 0.02, theta0, G=G, seed=0, executor="serial", steps=300)
    assert res.n_diverged.sum() > 0 and "diverged" in res.message
    assert np.all(np.isfinite(res.width.samples))
    # the diverged tests were failures: the values stay certified lower bounds
    exact = QuadraticWell(np.ones(D)).cone(theta0, 0.02).support(G) / np.linalg.norm(G, axis=1)
    assert np.all(res.cos_brackets[:, 0] <= exact + 1e-12)


# ---------------------------------------------------------------------- reproducibility, store
def _small_problem():
    well = QuadraticWell(power_law_spectrum(40, 1.0))
    theta0 = np.random.default_rng(1006).standard_normal(40)
    return well, 0.3 * well.loss(theta0), theta0


def test_same_seed_same_result_on_any_executor():
    well, eps, theta0 = _small_problem()
    a = sublevel_width(well, eps, theta0, n_samples=5, seed=7, executor="serial")
    with cf.ThreadPoolExecutor(3) as ex:
        b = sublevel_width(well, eps, theta0, n_samples=5, seed=7, executor=ex)
    c = sublevel_width(well, eps, theta0, n_samples=5, seed=7, max_workers=2)     # process pool
    for other in (b, c):
        np.testing.assert_array_equal(a.cos_brackets, other.cos_brackets)
        np.testing.assert_array_equal(a.steps, other.steps)
    d = sublevel_width(well, eps, theta0, n_samples=5, seed=8, executor="serial")
    assert not np.array_equal(a.cos_brackets, d.cos_brackets)
    # the first samples do not depend on how many are drawn
    e = sublevel_width(well, eps, theta0, n_samples=3, seed=7, executor="serial")
    np.testing.assert_array_equal(e.cos_brackets, a.cos_brackets[:3])


def test_store_resumes_and_skips_stored_samples(tmp_path):
    well, eps, theta0 = _small_problem()
    path = tmp_path / "widths"
    ref = sublevel_width(well, eps, theta0, n_samples=5, seed=2, executor="serial")
    sublevel_width(well, eps, theta0, n_samples=3, seed=2, executor="serial", store=path)
    assert len(ResultStore(path)) == 3
    ex = CountingExecutor()
    res = sublevel_width(well, eps, theta0, n_samples=5, seed=2, executor=ex, store=path)
    assert ex.n == 2                     # only the two missing samples ran
    np.testing.assert_array_equal(res.cos_brackets, ref.cos_brackets)
    # a record lost in a kill is recomputed, the others are kept
    runs = path / "runs.jsonl"
    lines = runs.read_text().splitlines(keepends=True)
    runs.write_text("".join(lines[:-1]) + lines[-1][:20])
    ex = CountingExecutor()
    with pytest.warns(RuntimeWarning):
        res = sublevel_width(well, eps, theta0, n_samples=5, seed=2, executor=ex, store=path)
    assert ex.n == 1
    np.testing.assert_array_equal(res.cos_brackets, ref.cos_brackets)
    # another protocol is refused
    with pytest.raises(ValueError, match="another protocol"):
        sublevel_width(well, 0.9 * eps, theta0, n_samples=5, seed=2, executor="serial", store=path)


# ---------------------------------------------------------------------- networks
def test_mlp_with_data_certificates(tmp_path):
    from landscape.experiments.training import train_full
    from landscape.models import MLP
    from landscape.models.datasets import teacher_student

    data = teacher_student(200, 0, n_features=6, n_classes=3, hidden=0, seed=1007)
    model = MLP([6, 8, 3])
    proto = dict(optimizer="momentum", lr=0.2, batch_size=50)
    full = train_full(model, data, seed=0, steps=200, **proto)
    theta0 = full.theta - full.phi
    X, y = data.X_train, data.y_train
    L0, Ls = model.loss(theta0, X, y), model.loss(full.theta, X, y)
    eps = Ls + 0.3 * (L0 - Ls)
    G = np.random.default_rng(1008).standard_normal((4, model.n_params))
    res = sublevel_width(model, eps, theta0, data=data, G=G, seed=0, executor="serial", steps=200,
                         keep_points=True, **proto)
    assert not res.unreachable and not res.inside
    for g, theta, c in zip(G, res.points, res.cos_brackets[:, 0]):
        assert model.loss(theta, X, y) <= eps
        x = theta - theta0
        assert x @ g / (np.linalg.norm(x) * np.linalg.norm(g)) == pytest.approx(c, abs=1e-12)
    assert np.all(res.cos_brackets[:, 1] - res.cos_brackets[:, 0] <= res.tol + 1e-12)
    # from a burn-in point too
    theta_t = train_full(model, data, seed=0, steps=5, **proto).theta
    res_t = sublevel_width(model, eps, theta_t, data=data, n_samples=3, seed=0, executor="serial",
                           steps=200, **proto)
    assert res_t.width is not None and res_t.loss_at_theta0 < L0
    d = res.as_dict()
    assert d["D"] == model.n_params and d["width"] == res.width.value


def test_torch_model_with_data():
    torch = pytest.importorskip("torch")
    from landscape.models.datasets import teacher_student
    from landscape.torch import TorchModel

    data = teacher_student(120, 0, n_features=5, n_classes=3, hidden=0, seed=1009)
    net = torch.nn.Sequential(torch.nn.Linear(5, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3)).double()
    model = TorchModel(net, input_shape=(5,))
    theta0 = model.init_params(seed=0)
    L0 = model.loss(theta0, data.X_train, data.y_train)
    res = sublevel_width(model, 0.6 * L0, theta0, data=data, n_samples=3, seed=0, executor="serial",
                         optimizer="apg", lr=0.5, steps=300, keep_points=True)
    assert res.width is not None and not res.unreachable
    for theta in res.points:
        assert model.loss(theta, data.X_train, data.y_train) <= 0.6 * L0


# ---------------------------------------------------------------------- validation
def test_bad_arguments_are_named():
    well, eps, theta0 = _small_problem()
    kw = dict(n_samples=3, seed=0, executor="serial")
    with pytest.raises(ValueError, match="theta0"):
        sublevel_width(well, eps, theta0[:-1], **kw)
    with pytest.raises(TypeError, match="eps"):
        sublevel_width(well, "low", theta0, **kw)
    with pytest.raises(ValueError, match="eps"):
        sublevel_width(well, np.nan, theta0, **kw)
    with pytest.raises(ValueError, match="n_samples"):
        sublevel_width(well, eps, theta0, n_samples=1, seed=0)
    with pytest.raises(ValueError, match="tol"):
        sublevel_width(well, eps, theta0, tol=0.0, **kw)
    with pytest.raises(ValueError, match="G must have shape"):
        sublevel_width(well, eps, theta0, G=np.ones((3, 5)), **kw)
    with pytest.raises(ValueError, match="store needs a reproducible seed"):
        sublevel_width(well, eps, theta0, n_samples=3, store="/tmp/never-created-widths")
    with pytest.raises(TypeError, match="executor"):
        sublevel_width(well, eps, theta0, n_samples=3, executor="threads")
    with pytest.raises(TypeError, match="model"):
        sublevel_width(object(), eps, theta0, **kw)
    with pytest.raises(ValueError, match="batch_size needs data"):
        sublevel_width(well, eps, theta0, batch_size=10, **kw)
    with pytest.raises(TypeError, match="early_stop"):
        sublevel_width(well, eps, theta0, early_stop="yes", **kw)
    with pytest.raises(ValueError, match="form"):
        sublevel_width(well, eps, theta0, form="gordon", **kw)

    from landscape.models import MLP
    from landscape.models.datasets import teacher_student

    data = teacher_student(30, 0, n_features=3, n_classes=2, hidden=0, seed=1010)
    model = MLP([3, 2])
    with pytest.raises(ValueError, match="lr is required"):
        sublevel_width(model, 0.1, model.init_params(0), data=data, **kw)
    with pytest.raises(TypeError, match="data must be"):
        sublevel_width(model, 0.1, model.init_params(0), data=(data.X_train, data.y_train), **kw)


def test_gordon_uses_geometry_bound_with_the_upper_interval_end():
    well, eps, theta0 = _small_problem()
    res = sublevel_width(well, eps, theta0, n_samples=6, seed=0, executor="serial", confidence=0.8,
                         form="concentration")
    assert res.gordon == gordon_threshold(res.width.ci(0.95)[1], 40, 0.8, "concentration")
    assert "D - w^2" in repr(res) and "lower bound" in repr(res)


def test_plot_threshold_predictions():
    import matplotlib.pyplot as plt

    from landscape.plots import plot_threshold_predictions

    _, ax = plt.subplots()
    out = plot_threshold_predictions([0.1, 0.2], {"raw": [5.0, 3.0], "direct": ([8.0, 6.0], [1.0, 0.5])},
                                     measured=[9.0, 7.0], measured_ci=np.array([[8.0, 10.0], [6.0, 8.0]]),
                                     D=20, ax=ax)
    assert out is ax
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"raw", "direct", "D = 20"} <= set(labels) and any("measured" in s for s in labels)
    assert len(ax.collections) >= 1            # the band of the direct prediction
