"""Figures a paper would accept: each fix of the plots checked on the Axes it draws.

Zero predictions stay on the predicted-vs-measured axes; every measured point has an x
error bar; predictions and measurements never share a colour and the legend sits outside
the curves; negative Hessian eigenvalues are drawn; the Gordon line says why it is 0;
d* = 0 after burn-in is not dropped from a log axis.
"""
import numpy as np
import pytest
from matplotlib.container import ErrorbarContainer
from matplotlib.colors import to_rgb

from landscape.plots import (plot_predicted_vs_measured, plot_spectrum, plot_success_curve,
                             plot_threshold_vs_burn_in, plot_threshold_vs_eps)
from landscape.theory.comparison import Comparison


def _errorbar(ax):
    return next(c for c in ax.containers if isinstance(c, ErrorbarContainer))


def _in_view(ax, x, y):
    x0, x1 = sorted(ax.get_xlim())
    y0, y1 = sorted(ax.get_ylim())
    return x0 <= x <= x1 and y0 <= y <= y1


def _row(predicted, measured, ci, bracket, label="random, t=0", eps=0.5):
    return {"label": label, "eps": eps, "predicted": predicted, "predicted_stderr": 1.0, "gordon": 0,
            "measured": measured, "measured_low": ci[0], "measured_high": ci[1], "bracket_low": bracket[0],
            "bracket_high": bracket[1], "censored": "", "ratio": measured / predicted if predicted else np.inf}


def test_a_zero_prediction_stays_on_the_axes():
    comp = Comparison([_row(0.0, 3.0, (2.0, 4.0), (2, 4)), _row(600.0, 300.0, (256, 362), (256, 362), eps=0.2),
                       _row(40.0, 64.0, (45, 91), (45, 91), eps=0.3)])
    ax = comp.plot()
    assert ax.get_xscale() == ax.get_yscale() == "symlog"          # not log: 0 is on a symlog axis
    for x, y in zip(comp.column("measured"), comp.column("predicted")):
        assert _in_view(ax, x, y)
    assert min(ax.get_ylim()) <= 0.0
    # all positive and spread: plain log axes
    ax = plot_predicted_vs_measured([5.0, 600.0], [3.0, 300.0])
    assert ax.get_xscale() == "log"


def test_every_measured_point_has_an_x_error_bar():
    # the bootstrap interval collapses to the point when all seeds cross between the same tested d;
    # the bar then shows that bracket
    rows = [_row(628, 304, (304, 304), (256, 362)), _row(492, 215, (215, 215), (181, 256), eps=0.2),
            _row(140, 128, (110, 128), (91, 128), eps=0.1), _row(345, 152, (152, 152), (128, 181), eps=0.3),
            _row(345, 900, (900, 900), (724, np.inf), eps=0.4)]
    ax = Comparison(rows).plot()
    bars = _errorbar(ax)
    assert bars.has_xerr and bars.has_yerr
    xbars = bars.lines[2][0]                                      # the LineCollection of x error bars
    widths = [abs(seg[1][0] - seg[0][0]) for seg in xbars.get_segments()]
    assert len(widths) == len(rows) and all(w > 0 for w in widths)
    lo, hi = [], []
    for seg in xbars.get_segments():
        lo.append(min(seg[0][0], seg[1][0]))
        hi.append(max(seg[0][0], seg[1][0]))
    assert lo[0] == 256 and hi[0] == 362 and hi[-1] == 900        # open end: no bar to infinity


def test_prediction_and_measurement_do_not_share_a_colour_and_the_legend_is_outside():
    from landscape.theory.predict import predicted_success_curve
    from landscape.models import QuadraticWell

    well = QuadraticWell(np.ones(30))
    pred = predicted_success_curve(well, np.full(30, 0.4), 1.0, ds=np.arange(0, 31, 3), n_samples=200, seed=0)
    ax = plot_success_curve(np.arange(3, 31, 3), np.full(10, 5), 10, prediction=pred, color="tab:blue")
    curve = next(line for line in ax.lines if line.get_label().startswith("predicted"))
    points = _errorbar(ax)
    assert to_rgb(curve.get_color()) != to_rgb(points.lines[0].get_color())
    ax.figure.canvas.draw()
    legend_box = ax.get_legend().get_window_extent()
    axes_box = ax.get_window_extent()
    assert legend_box.x0 >= axes_box.x1                           # to the right: it hides no point
    # several predicted curves on one Axes: only the curve and its band
    ax = plot_success_curve(np.arange(3, 31, 3), np.full(10, 5), 10, prediction=pred, details=False, legend=False)
    assert not any(line.get_label().startswith("$D") for line in ax.lines) and ax.get_legend() is None


def test_negative_eigenvalues_are_drawn():
    lam = np.concatenate([np.geomspace(1.0, 1e-4, 30), -np.geomspace(1e-3, 1e-5, 8), [0.0]])
    ax = plot_spectrum(lam, weights=np.arange(1, 40))
    assert ax.get_yscale() == "symlog"
    y = ax.lines[0].get_ydata()
    assert len(y) == lam.size and (y < 0).sum() == 8
    assert "negative" in ax.get_legend().get_texts()[0].get_text()
    assert plot_spectrum(np.geomspace(1, 1e-3, 10)).get_yscale() == "log"


def test_the_gordon_line_says_why_it_is_zero():
    ax = plot_threshold_vs_eps([0.1, 0.2], [50, 30], [1, 1], gordon=[0, 0])
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("guarantees nothing" in t for t in texts)
    ax = plot_threshold_vs_eps([0.1, 0.2], [50, 30], [1, 1], gordon=[12, 3])
    assert "Gordon lower bound" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_burn_in_zero_is_kept_on_a_log_axis():
    ts, d = [0, 5, 10, 20], [181.0, 64.0, 16.0, 0.0]
    ax = plot_threshold_vs_burn_in(ts, d, log=True)
    assert ax.get_yscale() == "symlog"
    for t, v in zip(ts, d):
        assert _in_view(ax, t, v)
    assert any("d^* = 0" in t.get_text() for t in ax.get_legend().get_texts())
    line = _errorbar(ax).lines[0]
    assert list(line.get_ydata()) == d                            # the point at t = 20 is drawn


def test_demo_network_figure_draws_predicted_curves(tmp_path):
    pytest.importorskip("sklearn")
    import json

    from landscape.demo import DemoSettings, run_demo

    s = DemoSettings(well_dim=40, well_levels=(0.3,), well_trials=10, well_samples=200, hidden=(4,), steps=30,
                     seeds=1, ds=(16, 128), burn_in=3, level_fractions=(0.2,), lanczos_k=4, slq_probes=2,
                     slq_steps=10, net_samples=200)
    run_demo(tmp_path, settings=s, progress=False, max_workers=1)
    curves = json.loads((tmp_path / "network_predictions.json").read_text())["curves"]
    assert curves["random, t=0"] and len(curves["random, t=0"][0]["d"]) == len(curves["random, t=0"][0]["P_s"]) > 10
