"""The effective-dimension table: five answers side by side, checked where they are known.

On a quadratic well every column has a reference: the exact LLC formula, the closed-form
effective ranks, the kinematic formula against exact least-squares tests (ALMT window).
On a small MLP the table is assembled from a sweep, Lanczos/SLQ, SGLD and cone training.
Data seeds >= 1000, estimator seeds small.
"""
import math

import numpy as np
import pytest

from landscape import (
    MLP,
    QuadraticWell,
    effective_dimensions,
    quadratic_learning_coefficient,
    random_basis,
    teacher_student,
)
from landscape.plots import plot_effective_dimensions
from landscape.theory.dimensions import COLUMNS, EffectiveDimensions


@pytest.fixture(scope="module")
def well_table():
    D, k = 60, 15
    lam = np.concatenate([np.full(k, 1.0), np.full(D - k, 0.02)])
    well = QuadraticWell(lam, basis=random_basis(D, seed=1000))
    rng = np.random.default_rng(1001)
    theta0 = rng.standard_normal(D)
    theta0 *= 3.0 / np.linalg.norm(theta0)
    L0 = well.loss(theta0)
    levels = [0.15 * L0, 0.3 * L0, 1.5 * L0]           # the last one: theta0 already inside
    n, gamma = 5000, 1.0
    nbeta = n / math.log(n)
    table = effective_dimensions(well, theta0, well.minimum, levels, n=n, n_trials=60, width_samples=6,
                                 llc_options=dict(gamma=gamma, n_chains=6, n_steps=4000, n_burnin=1000),
                                 n_samples=600, seed=1, progress=False, label="well")
    return well, theta0, levels, table, nbeta, gamma, lam


def test_well_table_columns_and_conversions(well_table):
    well, theta0, levels, table, *_ = well_table
    assert isinstance(table, EffectiveDimensions) and len(table) == 3
    df = table.to_dataframe()
    assert list(df.columns) == list(COLUMNS) and df.shape == (3, len(COLUMNS))
    np.testing.assert_allclose(df["eps"], levels)
    md = table.to_markdown()
    assert md.count("\n") == 2 + 3 - 1 and "2 lambda" in md
    assert "gamma = 1" in table.describe()


def test_well_table_llc_and_ranks_match_closed_forms(well_table):
    well, theta0, levels, table, nbeta, gamma, lam = well_table
    exact = 2 * quadratic_learning_coefficient(lam, nbeta, gamma)
    two, se = table["two_llc"][0], table["two_llc_stderr"][0]
    assert abs(two - exact) <= 0.05 * exact + 3 * se
    assert np.all(table["two_llc"] == two)                      # theta* alone: the same at every level
    # 15 eigenvalues 1 and 45 at 0.02: closed forms
    pr = (15 + 45 * 0.02) ** 2 / (15 + 45 * 0.02 ** 2)
    p1, p2 = 1 / (15 + 45 * 0.02), 0.02 / (15 + 45 * 0.02)
    er = math.exp(-(15 * p1 * math.log(p1) + 45 * p2 * math.log(p2)))
    assert table["rank_threshold"][0] == 60                     # 0.02 > 0.01 * 1
    assert table["participation_ratio"][0] == pytest.approx(pr, rel=1e-12)
    assert table["entropy_rank"][0] == pytest.approx(er, rel=1e-12)


def test_well_table_geometry_columns(well_table):
    well, theta0, levels, table, *_ = well_table
    D = well.dim
    # the kinematic formula against exact tests, inside the ALMT window a_eta sqrt(D)
    window = math.sqrt(8 * math.log(4 / 0.1)) * math.sqrt(D)
    for r in table.rows[:2]:
        assert abs(r["d_star"] - r["D_minus_delta"]) < window
        assert r["d_star_low"] <= r["d_star"] <= r["d_star_high"]
        assert np.isfinite(r["D_minus_w2"]) and r["D_minus_w2"] <= D
    # d* falls as eps grows; the direct width agrees with the quadratic model on a well
    assert table.rows[0]["d_star"] > table.rows[1]["d_star"]
    for r in table.rows[:2]:
        assert abs(r["D_minus_w2"] - r["D_minus_delta"]) < 4 * r["D_minus_w2_stderr"] + window
    # theta0 inside S(eps): every subspace succeeds
    last = table.rows[2]
    assert last["D_minus_delta"] == 0 and last["d_star"] <= 1 and last["D_minus_w2"] < 1
    assert table.widths[2].inside


def test_plot_returns_the_axes(well_table):
    table = well_table[3]
    ax = plot_effective_dimensions(table)
    assert ax.get_yscale() == "log" and len(ax.get_legend().get_texts()) >= 7
    import matplotlib.pyplot as plt

    _, ax2 = plt.subplots()
    assert plot_effective_dimensions(table.to_dataframe(), ax=ax2) is ax2
    assert table.plot() is not None


def test_bad_input(well_table):
    well, theta0, levels, table, *_ = well_table
    with pytest.raises(ValueError, match="eps must be >"):
        effective_dimensions(well, theta0, well.minimum, [0.0], n=100, progress=False)
    with pytest.raises(ValueError, match="data must be None"):
        effective_dimensions(well, theta0, well.minimum, [0.1], data=object(), n=100, progress=False)
    with pytest.raises(ValueError, match="widths"):
        effective_dimensions(well, theta0, well.minimum, [0.1, 0.2], widths=[None], n=100, progress=False)
    with pytest.raises(TypeError, match="data must be a landscape Dataset"):
        effective_dimensions(MLP([2, 2]), np.zeros(6), np.zeros(6), [0.5], data=(np.ones((2, 2)), [0, 1]))
    with pytest.raises(ValueError, match="theta0"):
        effective_dimensions(well, np.zeros(3), well.minimum, [0.1], n=100, progress=False)


def test_network_table_from_a_sweep(tmp_path):
    from landscape import train_full

    data = teacher_student(200, 50, n_features=4, n_classes=3, hidden=6, seed=1010)
    model = MLP([4, 6, 3])
    proto = dict(optimizer="adam", lr=0.05, steps=120, batch_size=None)
    full = train_full(model, data, seed=0, **proto)
    theta_star, theta0 = full.theta, full.theta - full.phi
    L_star, L0 = model.loss(theta_star, data.X_train, data.y_train), model.loss(theta0, data.X_train,
                                                                                  data.y_train)
    levels = [L_star + f * (L0 - L_star) for f in (0.2, 0.5)]
    table = effective_dimensions(model, theta0, theta_star, levels, data=data, ds=[2, 4, 8, 16, 32, 51],
                                 seeds=3, train=proto, sweep_options=dict(executor="serial"),
                                 hessian=dict(k=5, n_probes=3, n_steps=20), width_samples=2,
                                 width_options=dict(steps=100, tol=0.05),
                                 llc_options=dict(n_steps=200, n_burnin=50, grad_tol=1e3),
                                 n_samples=300, seed=0, progress=False)
    df = table.to_dataframe()
    assert df.shape == (2, len(COLUMNS))
    for r in table.rows:
        assert 0 <= r["d_star"] <= model.n_params or r["d_star_censored"]
        assert np.isfinite(r["d_star_bracket_low"])
        assert 0 <= r["D_minus_delta"] <= model.n_params
        assert np.isfinite(r["D_minus_w2"]) and r["D_minus_w2"] <= model.n_params
        assert 0 < r["two_llc"] < model.n_params
        assert 1 <= r["participation_ratio"] <= r["entropy_rank"] <= model.n_params
    assert table.llc.n_chains == 4 and table.llc.loss_traces.shape == (4, 200)
    # measured from the same runs, and the precomputed pieces are used as given
    again = effective_dimensions(model, theta0, theta_star, levels, data=data, runs=None,
                                 ds=[2, 4, 8, 16, 32, 51], seeds=3, train=proto,
                                 sweep_options=dict(executor="serial"), spectral=table.spectral,
                                 predictions=table.predictions, widths=table.widths, llc=table.llc,
                                 progress=False)
    np.testing.assert_array_equal(again["d_star"], table["d_star"])
    np.testing.assert_array_equal(again["D_minus_delta"], table["D_minus_delta"])
    np.testing.assert_array_equal(again["two_llc"], table["two_llc"])
    path = tmp_path / "t.csv"
    table.to_csv(path)
    table.to_json(tmp_path / "t.json")
    assert path.read_text().splitlines()[0].split(",") == list(COLUMNS)
