"""The local learning coefficient by SGLD against exact values.

* Quadratic losses: 2 lambda = sum_i nbeta h_i / (nbeta h_i + gamma) (the localised posterior is
  Gaussian), and the exact expectation of the SGLD estimator at a finite step size
  (an AR(1) recursion per eigen-direction, checked here against its own iteration).
* The singular toy f(x) = a b x at a = b = 0: the localised value is a 1-D integral,
  checked against 2-D quadrature, its small-r limit r/2 and its approach to 1/2.
* The numpy MLP and a TorchModel: reproducibility (same seed, same numbers, 1 or 2
  threads), chains independent of each other, diagnostics, bad input.

Data seeds >= 1000, estimator seeds small.
"""
import math
import warnings

import numpy as np
import pytest
from scipy import integrate

from landscape import MLP, ProductRegression, QuadraticWell, random_basis, teacher_student
from landscape.theory import (
    ChainDivergenceError,
    ChainDivergenceWarning,
    ChainMixingWarning,
    LearningCoefficient,
    NotAtMinimumWarning,
    learning_coefficient,
    product_learning_coefficient,
    quadratic_learning_coefficient,
)


def naive_sgld_variance(a, step, T):
    """Variance of x_t for x_{t+1} = (1 - step a / 2) x_t + sqrt(step) xi, x_0 = 0: by iteration."""
    v, out = 0.0, []
    rho = 1.0 - 0.5 * step * a
    for _ in range(T):
        out.append(v)
        v = rho * rho * v + step
    return np.array(out)


def naive_product_llc(nbeta, gamma, s):
    """nbeta E[L - L*] for L - L* = s (ab)^2 / 2 by 2-D quadrature of the localised posterior."""
    t = nbeta * s

    def dens(a, b):
        return math.exp(-0.5 * t * (a * b) ** 2 - 0.5 * gamma * (a * a + b * b))

    lim = 12.0 / math.sqrt(gamma)       # the density is even in a and in b: one quadrant
    opts = dict(limit=400, epsabs=0, epsrel=1e-10)
    Z = integrate.nquad(dens, [[0, lim], [0, lim]], opts=[opts, opts])[0]
    N = integrate.nquad(lambda a, b: 0.5 * t * (a * b) ** 2 * dens(a, b), [[0, lim], [0, lim]],
                        opts=[opts, opts])[0]
    return N / Z


# --------------------------------------------------------------------------- closed forms
def test_quadratic_exact_value():
    h = np.array([3.0, 1.0, 0.0, 0.0])
    got = quadratic_learning_coefficient(h, nbeta=10.0, gamma=2.0)
    assert got == pytest.approx(0.5 * (30 / 32 + 10 / 12))
    # gamma -> 0: lambda -> rank / 2
    assert quadratic_learning_coefficient(h, 1e6, 1e-6) == pytest.approx(1.0, rel=1e-9)


def test_quadratic_finite_step_matches_the_recursion():
    h = np.array([0.5, 2.0, 0.0])
    nbeta, gamma, step, T, B = 50.0, 1.0, 0.01, 300, 40
    a = nbeta * h + gamma
    v = np.stack([naive_sgld_variance(ai, step, T) for ai in a])       # (D, T)
    expected = 0.5 * nbeta * (h[:, None] * v[:, B:]).sum(axis=0).mean()
    got = quadratic_learning_coefficient(h, nbeta, gamma, step_size=step, n_steps=T, n_burnin=B)
    assert got == pytest.approx(expected, rel=1e-12)
    # stationary: 1 / (a (1 - step a / 4)) per direction
    stat = quadratic_learning_coefficient(h, nbeta, gamma, step_size=step)
    assert stat == pytest.approx(0.5 * nbeta * np.sum(h / (a * (1 - step * a / 4))), rel=1e-12)
    assert stat > quadratic_learning_coefficient(h, nbeta, gamma)
    with pytest.raises(ValueError, match="diverge"):
        quadratic_learning_coefficient(h, nbeta, gamma, step_size=4.0 / a.max())


def test_product_llc_against_2d_quadrature_and_limits():
    for nbeta, gamma, s in ((5.0, 1.0, 1.0), (40.0, 2.0, 0.7), (300.0, 3.0, 1.3)):
        assert product_learning_coefficient(nbeta, gamma, s) == pytest.approx(
            naive_product_llc(nbeta, gamma, s), rel=1e-8)
    # small r = nbeta s / gamma^2: lambda = r/2 + O(r^2); it depends on r alone
    assert product_learning_coefficient(1e-7, 1.0) == pytest.approx(0.5e-7, rel=1e-5)
    assert product_learning_coefficient(400.0, 2.0) == pytest.approx(product_learning_coefficient(100.0, 1.0),
                                                                     rel=1e-10)
    # large r: increases to 1/2 from below, 1/2 - lambda ~ 1/log r (multiplicity 2)
    rs = 10.0 ** np.arange(1, 101, 11)
    lam = np.array([product_learning_coefficient(r, 1.0) for r in rs])
    assert np.all(np.diff(lam) > 0) and np.all(lam < 0.5)
    assert (0.5 - lam[-1]) * math.log(rs[-1]) == pytest.approx(1.0, abs=0.01)


# --------------------------------------------------------------------------- (a) quadratic wells
@pytest.mark.parametrize("case", ["full rank", "rank deficient"])
def test_quadratic_well_matches_exact(case):
    D = 12
    if case == "full rank":
        h = np.linspace(0.5, 2.0, D)
        basis = None
    else:
        h = np.concatenate([np.linspace(0.5, 2.0, 6), np.zeros(6)])
        basis = random_basis(D, seed=1001)
    rng = np.random.default_rng(1002)
    theta_star = rng.standard_normal(D)
    well = QuadraticWell(h, minimum=theta_star, basis=basis)
    n, gamma = 2000, 1.0
    nbeta = n / math.log(n)
    a_max = nbeta * h.max() + gamma
    step, T, B = 0.008 / a_max, 12000, 2500
    exact = quadratic_learning_coefficient(h, nbeta, gamma)
    # the step size and burn-in are chosen so that SGLD's own bias is below 0.5%:
    sgld = quadratic_learning_coefficient(h, nbeta, gamma, step_size=step, n_steps=T, n_burnin=B)
    assert abs(sgld / exact - 1) < 0.005
    res = learning_coefficient(well, theta_star, n=n, gamma=gamma, step_size=step, n_chains=8,
                               n_steps=T, n_burnin=B, seed=3, progress=False)
    assert isinstance(res, LearningCoefficient)
    assert res.nbeta == pytest.approx(nbeta)
    assert abs(res.value - exact) <= 0.05 * exact + 3 * res.stderr
    assert res.stderr < 0.05 * exact          # the test has teeth
    assert 2 * exact == pytest.approx(np.count_nonzero(h), rel=0.02)
    assert res.rhat < 1.05 and not res.diverged.any()
    assert res.loss_traces.shape == (8, T) and res.loss_traces[0, 0] == pytest.approx(well.min_loss)


def test_quadratic_well_finite_step_bias_is_the_predicted_one():
    """A large step: the estimate follows the finite-step formula, not the exact value."""
    h = np.linspace(0.5, 2.0, 10)
    well = QuadraticWell(h)
    nbeta, gamma = 200.0, 1.0
    a = nbeta * h + gamma
    step, T, B = 1.2 / a.max(), 3000, 300
    exact = quadratic_learning_coefficient(h, nbeta, gamma)
    sgld = quadratic_learning_coefficient(h, nbeta, gamma, step_size=step, n_steps=T, n_burnin=B)
    res = learning_coefficient(well, np.zeros(10), nbeta=nbeta, gamma=gamma, step_size=step, n_chains=8,
                               n_steps=T, n_burnin=B, seed=4, progress=False)
    assert abs(res.value - sgld) < 3.5 * res.stderr
    assert abs(res.value - exact) > 5 * res.stderr     # the bias is real and resolved


# --------------------------------------------------------------------------- (b) singular toy
def test_singular_product_regression_approaches_one_half():
    """lambda = 1/2 for f(x) = abx at 0; at finite n the localised value is smaller and grows with n."""
    model = ProductRegression()
    gamma = 2.0
    values = []
    for n in (20, 200, 2000):
        X, y = model.sample(n, seed=1000 + n)
        s = float(X[:, 0] @ X[:, 0]) / n
        nbeta = n / math.log(n)
        exact = product_learning_coefficient(nbeta, gamma, s)
        r = nbeta * s / gamma ** 2
        step = 0.1 / (gamma * (9 * r + 1))      # resolves the curvature t b^2 + gamma met by the chains
        T = int(6 / (step * gamma))
        res = learning_coefficient(model, np.zeros(2), data=(X, y), gamma=gamma, step_size=step, n_chains=32,
                                   n_steps=T, n_burnin=T // 6, seed=5, progress=False)
        assert abs(res.value - exact) <= 0.05 * exact + 3 * res.stderr, (n, res, exact)
        values.append((res.value, res.stderr, exact))
    est = np.array(values)
    assert np.all(np.diff(est[:, 2]) > 0) and np.all(est[:, 2] < 0.5)
    # the estimates grow with n too (resolved: more than 3 combined standard errors)
    assert est[2, 0] - est[0, 0] > 3 * math.hypot(est[2, 1], est[0, 1])


# --------------------------------------------------------------------------- networks
@pytest.fixture(scope="module")
def trained_mlp():
    from landscape import train_full

    data = teacher_student(300, 0, n_features=5, n_classes=3, hidden=8, seed=1010)
    model = MLP([5, 6, 3])
    full = train_full(model, data, optimizer="adam", lr=0.05, steps=400, seed=0)
    return model, data, full.theta


def test_mlp_reproducible_and_chains_independent(trained_mlp):
    model, data, theta = trained_mlp
    opts = dict(data=data, gamma=100.0, step_size=2e-4, n_steps=150, n_burnin=30, progress=False,
                grad_tol=1e6)
    a = learning_coefficient(model, theta, n_chains=3, seed=7, **opts)
    b = learning_coefficient(model, theta, n_chains=3, seed=7, **opts)
    c = learning_coefficient(model, theta, n_chains=2, seed=7, **opts)
    d = learning_coefficient(model, theta, n_chains=3, seed=8, **opts)
    np.testing.assert_array_equal(a.loss_traces, b.loss_traces)
    np.testing.assert_array_equal(a.loss_traces[:2], c.loss_traces)   # chain c is its own stream
    assert not np.array_equal(a.loss_traces, d.loss_traces)
    assert np.all(np.isfinite(a.loss_traces)) and a.value > 0
    assert a.estimate.n_samples == 3 and a.estimate.samples.shape == (3,)
    assert a.value == pytest.approx(np.mean(a.chain_values))
    lo, hi = a.ci(0.95)
    assert lo < a.value < hi and (hi - lo) > (a.estimate.ci(0.95)[1] - a.estimate.ci(0.95)[0])  # t > normal


def test_mlp_same_numbers_on_one_or_two_threads(trained_mlp):
    model, data, theta = trained_mlp
    opts = dict(data=data, gamma=100.0, step_size=2e-4, n_chains=2, n_steps=80, seed=9, progress=False,
                grad_tol=1e6)
    one = learning_coefficient(model, theta, threads=1, **opts)
    two = learning_coefficient(model, theta, threads=2, **opts)
    auto = learning_coefficient(model, theta, **opts)
    np.testing.assert_allclose(one.loss_traces, two.loss_traces, rtol=1e-12, atol=0)
    np.testing.assert_allclose(auto.loss_traces, two.loss_traces, rtol=1e-12, atol=0)
    assert one.value == pytest.approx(two.value, rel=1e-10)


def test_mlp_minibatch_and_auto_step(trained_mlp):
    model, data, theta = trained_mlp
    res = learning_coefficient(model, theta, data=data, gamma=100.0, n_chains=2, n_steps=100, batch_size=64,
                               seed=1, progress=False, grad_tol=1e6)
    assert res.batch_size == 64 and np.all(np.isfinite(res.loss_traces))
    from landscape.theory import top_eigenpairs

    top = top_eigenpairs(lambda v: model.hvp(theta, data.X_train, data.y_train, v), model.n_params, 1, seed=0)
    assert res.step_size == pytest.approx(0.1 / (res.nbeta * top.eigenvalues[0] + 100.0), rel=1e-3)


def test_torch_model_on_a_quadratic_matches_exact():
    """Linear regression with torch's MSE is a quadratic: the exact value holds for a TorchModel too."""
    torch = pytest.importorskip("torch")
    from landscape.torch import TorchModel

    rng = np.random.default_rng(1020)
    n, p = 400, 4
    X = rng.standard_normal((n, p)) * np.array([1.0, 0.9, 0.8, 0.7])
    y = (X @ rng.standard_normal(p) + 0.3 * rng.standard_normal(n))[:, None]
    torch.manual_seed(0)
    model = TorchModel(torch.nn.Linear(p, 1).double(), loss="mse", input_shape=(p,))
    Z = np.column_stack([X, np.ones(n)])
    coef = np.linalg.lstsq(Z, y[:, 0], rcond=None)[0]
    theta_star = np.concatenate([coef[:p], coef[p:]])        # weight (1, p), then bias
    h = np.linalg.eigvalsh(2.0 * Z.T @ Z / n)                  # Hessian of the mean squared error
    nbeta, gamma = n / math.log(n), 1.0
    exact = quadratic_learning_coefficient(h, nbeta, gamma)
    step, T, B = 0.08 / (nbeta * h.max() + gamma), 800, 200
    sgld = quadratic_learning_coefficient(h, nbeta, gamma, step_size=step, n_steps=T, n_burnin=B)
    assert abs(sgld / exact - 1) < 0.03
    opts = dict(data=(X, y), gamma=gamma, step_size=step, seed=2, progress=False)
    res = learning_coefficient(model, theta_star, n_chains=4, n_steps=T, n_burnin=B, **opts)
    one = learning_coefficient(model, theta_star, n_chains=2, n_steps=10, threads=1, **opts)
    two = learning_coefficient(model, theta_star, n_chains=2, n_steps=10, threads=2, **opts)
    assert abs(res.value - exact) <= 0.05 * exact + 3 * res.stderr
    assert abs(res.value - sgld) <= 3.5 * res.stderr
    assert res.stderr < 0.1 * exact
    np.testing.assert_allclose(one.loss_traces, two.loss_traces, rtol=1e-12, atol=0)


# --------------------------------------------------------------------------- bad input
def test_bad_input_names_the_argument():
    well = QuadraticWell(np.ones(3))
    th = np.zeros(3)
    with pytest.raises(ValueError, match="nbeta"):
        learning_coefficient(well, th, nbeta=0.0, step_size=1e-3, progress=False)
    with pytest.raises(ValueError, match="nbeta"):
        learning_coefficient(well, th, nbeta=-5.0, step_size=1e-3, progress=False)
    with pytest.raises(ValueError, match="gamma"):
        learning_coefficient(well, th, n=100, gamma=0.0, step_size=1e-3, progress=False)
    with pytest.raises(ValueError, match="gamma"):
        quadratic_learning_coefficient([1.0], 10.0, -1.0)
    with pytest.raises(ValueError, match="step_size"):
        learning_coefficient(well, th, n=100, step_size=0.0, progress=False)
    with pytest.raises(ValueError, match="needs n"):
        learning_coefficient(well, th, step_size=1e-3, progress=False)
    with pytest.raises(ValueError, match="data must be None"):
        learning_coefficient(well, th, n=100, data=(np.ones((2, 1)), np.ones(2)), step_size=1e-3, progress=False)
    with pytest.raises(ValueError, match="theta_star"):
        learning_coefficient(well, np.zeros(4), n=100, step_size=1e-3, progress=False)
    with pytest.raises(ValueError, match="n_burnin"):
        learning_coefficient(well, th, n=100, step_size=1e-3, n_steps=10, n_burnin=10, progress=False)
    with pytest.raises(ValueError, match="n_chains"):
        learning_coefficient(well, th, n=100, step_size=1e-3, n_chains=1, progress=False)
    with pytest.raises(ValueError, match="data"):
        learning_coefficient(MLP([2, 2]), np.zeros(6), step_size=1e-3, progress=False)
    with pytest.raises(TypeError, match="model"):
        learning_coefficient(object(), th, data=(np.ones((2, 1)), np.ones(2)), step_size=1e-3, progress=False)


def test_diverging_step_is_reported_not_averaged():
    well = QuadraticWell(np.array([1.0, 2.0]))
    nbeta, gamma = 100.0, 1.0
    step = 5.0 / (nbeta * 2.0 + gamma)      # step * a_max > 4: every chain diverges
    with pytest.raises(ChainDivergenceError, match="diverged") as info:
        learning_coefficient(well, np.zeros(2), nbeta=nbeta, gamma=gamma, step_size=step, n_chains=3,
                             n_steps=2000, seed=0, progress=False)
    res = info.value.result
    assert res.diverged.all() and np.all(res.diverged_step > 0)
    assert np.isnan(res.chain_values).all()


class _Cliff:
    """A 1-D quadratic whose loss is NaN beyond w = 0.9: chains that wander there diverge."""

    n_params = 1

    def loss_and_grad(self, theta, X, y):
        w = float(theta[0])
        if w > 0.9:
            return float("nan"), np.array([np.nan])
        return 0.5 * w * w, np.array([w])


def test_some_chains_diverge_the_rest_give_the_estimate():
    data = (np.zeros((100, 1)), np.zeros(100))
    with pytest.warns(ChainDivergenceWarning, match="excluded"):
        res = learning_coefficient(_Cliff(), np.zeros(1), data=data, nbeta=10.0, gamma=1.0, step_size=0.05,
                                   n_chains=8, n_steps=400, seed=0, progress=False)
    assert 0 < res.diverged.sum() < 8
    assert np.isfinite(res.value) and res.estimate.n_samples == res.n_finite
    assert res.value == pytest.approx(np.mean(res.chain_values[~res.diverged]))
    assert np.isnan(res.chain_values[res.diverged]).all()
    c = int(np.flatnonzero(res.diverged)[0])
    assert np.isnan(res.loss_traces[c, res.diverged_step[c]:]).all()


def test_not_at_a_minimum_warns_with_the_gradient_norm():
    well = QuadraticWell(np.ones(4))
    off = np.full(4, 0.5)                  # |grad| = 1
    with pytest.warns(NotAtMinimumWarning, match=r"\|grad L_n\(theta_star\)\| = 1"):
        learning_coefficient(well, off, n=100, gamma=10.0, step_size=1e-3, n_steps=50, seed=0, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NotAtMinimumWarning)
        learning_coefficient(well, np.zeros(4), n=100, gamma=10.0, step_size=1e-3, n_steps=50, seed=0,
                             progress=False)


def test_chains_that_have_not_mixed_warn():
    """Chains far shorter than the 1 / (step (nbeta h + gamma)) ~ 1000 steps they need: R-hat says so
    (the loss still rises through the whole run), and the estimate is low."""
    well = QuadraticWell(np.full(4, 0.01))
    with pytest.warns(ChainMixingWarning, match="R-hat"):
        res = learning_coefficient(well, np.zeros(4), nbeta=100.0, gamma=0.01, step_size=1e-3, n_chains=4,
                                   n_steps=400, seed=0, progress=False)
    assert res.rhat > 1.1
    assert res.value < 0.5 * quadratic_learning_coefficient(well.eigenvalues, 100.0, 0.01)


def test_progress_bar_and_repr(capsys):
    well = QuadraticWell(np.ones(2))
    res = learning_coefficient(well, np.zeros(2), n=50, gamma=1.0, step_size=1e-2, n_steps=30, seed=0,
                               progress=True)
    assert "SGLD" in capsys.readouterr().err
    assert "2*lambda" in repr(res) and "R-hat" in repr(res)
    assert set(res.as_dict()) >= {"llc", "llc_stderr", "two_llc", "rhat", "nbeta", "gamma"}


# --------------------------------------------------------------------------- (c) devinterp
def _devinterp_llc(net, X, y, *, nbeta, gamma, step, n_chains, n_draws, n_burnin):
    """devinterp's estimate (mean and std over chains) on full batches, whatever its version's API."""
    import inspect

    import torch
    from devinterp.optim import SGLD
    from devinterp.slt.sampler import estimate_learning_coeff_with_summary as estimate

    params = inspect.signature(estimate).parameters
    sgld = inspect.signature(SGLD.__init__).parameters
    n = X.shape[0]
    if "nbeta" in sgld and "localization" in sgld:
        opt = dict(lr=step, localization=gamma, nbeta=nbeta)
    elif "temperature" in sgld and "elasticity" in sgld and "num_samples" in sgld:
        opt = dict(lr=step, elasticity=gamma, num_samples=n, temperature=n / nbeta)
    else:
        pytest.skip("unknown devinterp SGLD signature")
    data = torch.utils.data.TensorDataset(torch.tensor(X), torch.tensor(y))
    kw = dict(loader=torch.utils.data.DataLoader(data, batch_size=n, shuffle=True), num_chains=n_chains,
              num_draws=n_draws, num_burnin_steps=n_burnin, sampling_method=SGLD, device="cpu", verbose=False)
    kw["sampling_method_kwargs" if "sampling_method_kwargs" in params else "optimizer_kwargs"] = opt
    if "criterion" in params:
        kw["criterion"] = torch.nn.functional.mse_loss
    elif "evaluate" in params:
        def evaluate(model, batch):
            xb, yb = batch
            return torch.nn.functional.mse_loss(model(xb), yb)
        kw["evaluate"] = evaluate
    else:
        pytest.skip("unknown devinterp estimate_learning_coeff_with_summary signature")
    if "online" in params:
        kw["online"] = False
    out = estimate(net, **kw)
    for mean_key, std_key in (("llc/mean", "llc/std"), ("llc_average_mean", "llc_average_std")):
        if mean_key in out:
            return float(np.mean(out[mean_key])), float(np.mean(out[std_key]))
    if "llc/trace" in out:               # per chain and draw: the chain values are the draw means
        per_chain = np.asarray(out["llc/trace"]).reshape(n_chains, -1).mean(axis=1)
        return float(per_chain.mean()), float(per_chain.std(ddof=1))
    pytest.skip(f"unknown devinterp result keys {sorted(out)}")


def test_against_devinterp_on_a_small_torch_model():
    """Optional: devinterp's estimator (not a dependency) on the same model, data and settings.

    A linear model with squared error is a quadratic, so both must also agree with
    :func:`quadratic_learning_coefficient` at the step size used."""
    pytest.importorskip("devinterp")
    torch = pytest.importorskip("torch")
    from landscape.torch import TorchModel

    rng = np.random.default_rng(1030)
    n = 256
    X = rng.standard_normal((n, 3))
    y = (X @ np.array([1.0, -0.5, 0.2]))[:, None] + 0.1 * rng.standard_normal((n, 1))
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 1).double()
    Z = np.column_stack([X, np.ones(n)])
    coef = np.linalg.lstsq(Z, y[:, 0], rcond=None)[0]
    with torch.no_grad():
        net.weight.copy_(torch.tensor(coef[None, :3]))
        net.bias.copy_(torch.tensor(coef[3:]))
    model = TorchModel(net, loss="mse", input_shape=(3,))
    h = np.linalg.eigvalsh(2.0 * Z.T @ Z / n)
    nbeta, gamma, B, T = n / math.log(n), 10.0, 200, 1200
    step = 0.05 / (nbeta * h.max() + gamma)
    ours = learning_coefficient(model, model.get_params(), data=(X, y), nbeta=nbeta, gamma=gamma, step_size=step,
                                n_chains=4, n_steps=T, n_burnin=B, seed=0, progress=False)
    theirs, spread = _devinterp_llc(net, X, y, nbeta=nbeta, gamma=gamma, step=step, n_chains=4, n_draws=T - B,
                                    n_burnin=B)
    exact = quadratic_learning_coefficient(h, nbeta, gamma, step_size=step, n_steps=T, n_burnin=B)
    assert abs(ours.value - theirs) < 4 * math.hypot(ours.stderr, spread / 2)
    assert abs(theirs - exact) < 4 * spread / 2 + 0.05 * exact
