"""Build the notebooks from the cell sources below, execute them and keep their outputs.

Run ``python notebooks/_make_notebooks.py [NAME ...] [--no-execute]`` from the repository
root (names like ``01``; default: all). Each notebook is executed in a fresh kernel
(nbclient) and written with its outputs, so that it reads as a tutorial on GitHub; the test
suite executes them again (nbmake).
"""
import os
import sys

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = os.path.dirname(os.path.abspath(__file__))


def build(name, cells, execute=True):
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [new_markdown_cell(src.strip()) if kind == "md" else new_code_cell(src.strip())
                for kind, src in cells]
    if execute:
        from nbclient import NotebookClient

        os.environ["TQDM_DISABLE"] = "1"  # the kept outputs show results, not progress bars

        NotebookClient(nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": HERE}}).execute()
    nbformat.write(nb, os.path.join(HERE, name))


QUADRATIC = [
    ("md", """
# 01 Quadratic wells: exact phase transitions of random-subspace training

A quadratic well $L(\\theta) = L^* + \\tfrac12(\\theta-\\theta^*)^T H(\\theta-\\theta^*)$ is where the
theory can be checked with no training noise: whether the affine subspace $\\theta_0 + \\mathrm{range}(A)$
reaches the sub-level set $S(\\epsilon)=\\{L\\le\\epsilon\\}$ is a least-squares problem, solved exactly.
The geometry predicts the threshold $d^* \\approx D - \\delta(K)$, with $K$ the cone of directions from
$\\theta_0$ into $S(\\epsilon)$ and $\\delta$ its statistical dimension (the kinematic formula of Amelunxen,
Lotz, McCoy & Tropp), and Gordon's escape theorem guarantees failure for $d \\lesssim D - w^2$
($w$ the Gaussian width of $K \\cap S^{D-1}$).

This notebook walks through one well: the picture in two dimensions, one predicted curve against the
exact experiment, how the threshold moves with the level and the starting point, how it depends on the
spectrum, and the same numbers straight from `geometry`. Sizes are small so that the notebook runs in
the test suite in seconds; raise `D` and `n_trials` for sharper pictures.
"""),
    ("code", """
import numpy as np
import matplotlib.pyplot as plt

import geometry as g
from landscape import QuadraticWell, predicted_threshold, predicted_success_curve
from landscape.models.spectra import flat_spectrum, power_law_spectrum, two_level_spectrum
from landscape.thresholds import threshold_dimension
from landscape.thresholds.ground_truth import empirical_success_probability
from landscape.plots import plot_success_curve, plot_sublevel_set_2d, plot_threshold_vs_eps, plot_loss_slice
from landscape.theory.slices import interpolation_slice
"""),
    ("md", """
## The picture in two dimensions

The well $L = \\tfrac12(\\theta_1^2 + 0.05\\,\\theta_2^2)$ has a long, thin sub-level set (green: $L \\le 0.04$,
an ellipse $\\sqrt{20} \\approx 4.5$ times longer along $\\theta_2$). Training in a random line through
$\\theta_0$ (a subspace of dimension $d = 1$) succeeds exactly when the line meets the green set; the
fraction of directions that do is $P_s(1)$. The cone $K$ of the theory is the set of those directions.
"""),
    ("code", """
well2 = QuadraticWell([1.0, 0.05])
ax = plot_sublevel_set_2d(well2, theta0=np.array([1.5, 1.0]), eps=0.04)
"""),
    ("md", """
## One well, one level: predicted curve vs exact experiment

Now $D = 200$ with a power-law spectrum $\\lambda_i = 1/i$, $\\theta_0$ at distance 3 from the minimum and
the level $\\epsilon = 0.35\\,L(\\theta_0)$. `predicted_success_curve` estimates the conic intrinsic volumes
of $K$ from Monte Carlo projections and turns them into the whole curve $P_s(d)$ (line, with a bootstrap
band); `empirical_success_probability` draws 100 random subspaces per $d$ and decides each one exactly
(points, with 95% Wilson intervals).
"""),
    ("code", """
D = 200
well = QuadraticWell(power_law_spectrum(D, alpha=1.0))
rng = np.random.default_rng(1000)
theta0 = rng.standard_normal(D)
theta0 *= 3.0 / np.linalg.norm(theta0)
eps = 0.35 * well.loss(theta0)
ds = np.arange(0, D + 1, 10)

pred = predicted_success_curve(well, theta0, eps, ds=ds, n_samples=1000, seed=0)
emp = empirical_success_probability(well, theta0, eps, ds[1:], n_trials=100, seed=1)
measured = threshold_dimension(emp.runs(), "min_loss", eps, direction="min")  # d* of the exact outcomes
print(pred.threshold)
print("measured d*:", measured)
gap = measured.value - pred.threshold.kinematic
print(f"measured - predicted = {gap:.1f} (the transition window is O(sqrt(D)) = {np.sqrt(D):.1f} wide); "
      f"largest gap between the curves: {np.max(np.abs(np.interp(ds[1:], pred.ds, pred.probability) - emp.rates)):.3f}")
ax = plot_success_curve(ds[1:], emp.successes, 100, prediction=pred)
"""),
    ("md", """
**Reading.** The measured threshold agrees with $D - \\delta$ to within a few dimensions, far inside the
ALMT window (grey), and the predicted curve follows the exact points across the whole transition: for a
convex sub-level set the kinematic formula is not a bound but the answer. Gordon's bound (hatched, when
it is above 0) is one-sided: it certifies failure below some $d$ but says nothing about where success
starts.

## Thresholds fall as the level rises, and as $\\theta_0$ approaches the minimum

A higher level means a larger sub-level set, so fewer dimensions suffice. Moving $\\theta_0$ towards
$\\theta^*$ (what burn-in does for a network) widens the cone of directions in the same way.
"""),
    ("code", """
levels = np.array([0.2, 0.35, 0.5, 0.7]) * well.loss(theta0)
preds = predicted_threshold(well, theta0, eps=levels, n_samples=1000, seed=0)
measured = [threshold_dimension(empirical_success_probability(well, theta0, e, ds[1:], 60, seed=2).runs(),
                                "min_loss", e, direction="min") for e in levels]
for e, p, m in zip(levels, preds, measured):
    print(f"eps = {e:.4f}: D - delta = {p.kinematic:6.1f} ± {p.kinematic_stderr:.1f}, measured {m}, "
          f"Gordon: fails for d <= {p.gordon}")
ax = plot_threshold_vs_eps(levels, [p.kinematic for p in preds], [p.kinematic_stderr for p in preds],
                           [m.value for m in measured], np.array([m.interval for m in measured]),
                           gordon=[p.gordon for p in preds], measured_resolved=[m.resolved for m in measured])

for scale in (1.0, 0.8, 0.6):
    p = predicted_threshold(well, scale * theta0, eps=levels[1], n_samples=1000, seed=0)
    print(f"theta0 scaled by {scale}: D - delta = {p.kinematic:.1f}")
"""),
    ("md", """
**Reading.** Each prediction sits on its measurement (within about one dimension at every level).
Gordon's bound is 0 at every level here: the cones are wide ($w^2$ is close to $D$), so it guarantees
nothing beyond $d = 0$; the legend of the figure says so instead of leaving an unexplained flat line.
Moving $\\theta_0$ towards the minimum is powerful: scaling it by 0.6 takes $D - \\delta$ from 60.7 to 2.0,
more than doubling the level does (60.7 to 15.4 at $0.7\\,L(\\theta_0)$).

## Spectra: flat, power law, two-level

The same distance and relative level with three spectra: more small eigenvalues mean wider sub-level
sets (long axes $\\sqrt{2\\epsilon/\\lambda_i}$) and smaller thresholds.
"""),
    ("code", """
spectra = {"flat": flat_spectrum(D), "power law": power_law_spectrum(D, 1.0),
           "two-level": two_level_spectrum(D, 10, stiff=1.0, soft=1e-2)}
for name, lam in spectra.items():
    w = QuadraticWell(lam)
    e = 0.35 * w.loss(theta0)
    p = predicted_threshold(w, theta0, eps=e, n_samples=1000, seed=0)
    print(f"{name:>10}: D - delta = {p.kinematic:6.1f}, Gordon: fails for d <= {p.gordon}")
"""),
    ("md", """
**Reading.** The flat well (all $\\lambda_i = 1$, a ball) needs the most dimensions, 130 of 200; the
power law 61; the two-level spectrum, with 190 soft directions a hundred times flatter than the 10 stiff
ones, only 12: a handful of stiff directions is all a subspace has to fix.

## The sub-level set of a 200-dimensional well, seen in a plane

`plot_sublevel_set_2d` works in any dimension: it slices the loss in the plane through $\\theta_0$ and
$\\theta^*$ spanned by $\\theta^* - \\theta_0$ and a random direction (`landscape.theory.slices`), and
draws $\\{L \\le \\epsilon\\}$ there. On the line from $\\theta_0$ ($\\alpha = 0$) to $\\theta^*$
($\\alpha = 1$) a quadratic loss is the parabola $L^* + (1-\\alpha)^2 (L(\\theta_0) - L^*)$; a network's
is not (notebook 03).
"""),
    ("code", """
fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
plot_sublevel_set_2d(well, theta0, eps=eps, ax=a1)
a1.set_title("S(eps) in the plane of theta0, theta* and a random direction", fontsize="medium")
path = interpolation_slice(well, theta0, well.minimum)
plot_loss_slice(path, eps=eps, ax=a2)
a2.set_title("the line from theta0 to theta*", fontsize="medium")
alpha = path.coords[0]
print("largest deviation from the parabola:",
      np.max(np.abs(path.losses - (1 - alpha) ** 2 * well.loss(theta0))))
"""),
    ("md", """
## Geometry directly

The same quantities from `geometry`, for a ball of radius 1 seen from distance 2 (a circular cone of
half-angle $\\arcsin(1/2)$): a Monte Carlo estimate from `directions_from`, and the exact value of the
circular cone, one-dimensional integral. Estimates are result objects with a standard error and `ci()`.
"""),
    ("code", """
K = g.directions_from(g.Ball(D, radius=1.0, center=np.r_[2.0, np.zeros(D - 1)]), np.zeros(D))
est = g.statistical_dimension(K, 2000, seed=0)
exact = g.statistical_dimension(g.CircularCone(D, np.arcsin(0.5)))
print(est)
print(exact)
print(f"estimate - exact = {est.value - float(exact):.3f} = {(est.value - float(exact)) / est.stderr:.2f} standard errors")
print(g.gaussian_width(K, 2000, seed=0))
"""),
]

NETWORKS = [
    ("md", """
# 02 Networks: subspace training, thresholds, burn-in and lottery subspaces

A small MLP on scikit-learn's digits is trained only inside d-dimensional affine subspaces
$\\theta = \\theta_s + A\\phi$, $\\phi \\in \\mathbb{R}^d$ from 0:

* random subspaces through the initialisation $\\theta_0$ (`kind="random"`, `t=0`);
* random subspaces through a burn-in point $\\theta_t$, reached by t full-space steps first (`t=10`);
* lottery subspaces, spanned by the top singular directions of a full training trajectory (`kind="lottery"`).

For each kind the success probability jumps from 0 to 1 at a threshold $d^*$, estimated with an interval
that accounts for the binomial noise of the few seeds and for the spacing of the tested d
(`threshold_dimension`). Sizes are small so that the notebook runs in the test suite in about a minute
(`landscape.digits_experiment` has the full-size defaults: D = 2410, 5 seeds, all powers of two).
"""),
    ("code", """
import numpy as np
import matplotlib.pyplot as plt

from landscape.models.datasets import load_digits
from landscape.models import MLP
from landscape.experiments.sweeps import sweep
from landscape.thresholds import success_probability, threshold_dimension
from landscape.plots import plot_success_curve, plot_threshold_vs_burn_in

data = load_digits(seed=0)
model = MLP([data.n_features, 8, data.n_classes])
print("D =", model.n_params)
protocol = dict(optimizer="momentum", lr=0.3, steps=100, batch_size=128)
ds = [4, 16, 64, 256]
table = sweep(model, data, ds, seeds=3, kinds=("random", "lottery"), burn_in=(0, 10),
              progress=False, **protocol)
print(table)
"""),
    ("md", """
`sweep` ran every (kind, t, d, seed) plus one full-space baseline per seed (`kind="full"`, d = D), in
parallel worker processes; each run's randomness comes only from its seed, so the table is the same on
any executor. Given a `store=` directory it would also be written run by run and resumed after a kill.

## Success probability against d (log axis), per kind of subspace

Success here is a final training accuracy of at least 80%.
"""),
    ("code", """
level = 0.8
fig, ax = plt.subplots(figsize=(7, 4))
for (kind, t), color in zip([("random", 0), ("random", 10), ("lottery", 0)], ["C0", "C1", "C2"]):
    cur = success_probability(table, "train_acc", level, kind=kind, t=t)
    plot_success_curve(cur.ds, cur.successes, cur.n_trials, log_d=True, ax=ax, color=color,
                       label=f"{kind}, t={t}")
"""),
    ("md", """
## Thresholds with their 95% intervals

`threshold_dimension` models the success probability as a logistic transition in log d (slope unknown),
takes the runs of one seed as nested in d (they share $\\theta_0$ and nested maps), and widens the interval
to the tested dimensions around the crossing: with 3 seeds and d in powers of four the interval is wide,
and when no tested d lies inside the transition it is the bracket ("d* between 64 and 256"). A threshold
outside the tested range is reported as such ("d* < 4"), not as a number. Li et al.'s $d_{\\mathrm{int}90}$
(the mean accuracy reaching 90% of the full model's, here the `kind="full"` runs) is `criterion="li"`.
"""),
    ("code", """
for kind, t in [("random", 0), ("random", 10), ("lottery", 0)]:
    est = threshold_dimension(table, "train_acc", level, kind=kind, t=t)
    li = threshold_dimension(table, "train_acc", 0.9, criterion="li", kind=kind, t=t)
    print(f"{kind:>8}, t={t:>2}: {est}")
    print(f"{'':>15}d_int90 (Li et al.): {li}")
"""),
    ("md", """
**Reading.** Ten burn-in steps lower the threshold of random subspaces, and lottery subspaces (the
directions training actually used) succeed at every tested d, even d = 4 (so their $d^*$ is reported as
below the grid, "d* < 4"): the ordering Larsen et al. report, random > burn-in > lottery. With 3 seeds and
a grid in powers of four the intervals are wide: more seeds, or `adaptive_threshold` (which chooses the
next d to test), narrow them.

## Burn-in: the threshold against the number of full-space steps t

The subspace goes through $\\theta_t$; more burn-in, smaller $d^*$. Intervals are drawn as error bars, and
a threshold that is not resolved (below the grid, or no tested d inside the transition) as a bracket with
an arrow at an open end.
"""),
    ("code", """
ts = [0, 5, 10, 20]
burn = sweep(model, data, ds, seeds=3, burn_in=ts, include_full=False, progress=False, **protocol)
ests = [threshold_dimension(burn, "train_acc", level, kind="random", t=t) for t in ts]
for t, e in zip(ts, ests):
    print(f"t = {t:>2}: {e}")
ax = plot_threshold_vs_burn_in(ts, ests, log=True)
"""),
    ("md", """
**Reading.** Burn-in moves the crossing down; after twenty steps subspaces of dimension 4 already
succeed for every seed, and the threshold is reported as below the grid.
"""),
]

THEORY = [
    ("md", """
# 03 Theory vs experiment: from the Hessian to a predicted $d^*$

The pipeline of the demo, at a size that runs in the test suite:

1. train the digits MLP in full space from $\\theta_0$ to $\\theta^*$;
2. model the loss near $\\theta^*$ by its Hessian: top eigenpairs by Lanczos, the bulk by stochastic
   Lanczos quadrature, grouped into eigenvalue groups (`SpectralModel`);
3. predict the threshold dimension of random subspaces through $\\theta_0$ from the geometry of the
   model's sub-level sets: $d^* \\approx D - \\delta$ (kinematic formula) and Gordon's lower bound;
4. measure $d^*$ by subspace training and compare.

The quadratic model ignores that the landscape between $\\theta_0$ and $\\theta^*$ is not quadratic, and
training has a finite budget; this notebook shows both effects in numbers.
"""),
    ("code", """
import numpy as np
import matplotlib.pyplot as plt

from landscape.models.datasets import load_digits
from landscape.models import MLP
from landscape.experiments.training import train_full
from landscape.theory.spectral_model import SpectralModel
from landscape.theory.slices import interpolation_slice
from landscape.experiments.sweeps import sweep
from landscape import prediction_table, compare
from landscape.plots import plot_spectrum, plot_loss_slice

data = load_digits(seed=0)
model = MLP([data.n_features, 8, data.n_classes])
protocol = dict(optimizer="momentum", lr=0.3, steps=100, batch_size=128)
full = train_full(model, data, seed=0, progress=False, **protocol)
theta_star, theta0 = full.theta, full.theta - full.phi
X, y = data.X_train, data.y_train
L_star, L0 = model.loss(theta_star, X, y), model.loss(theta0, X, y)
print(f"D = {model.n_params}, L(theta0) = {L0:.3f}, L* = {L_star:.4f}, train accuracy {full.metrics['train_acc']:.3f}")
"""),
    ("md", """
## Hessian spectrum at $\\theta^*$

Eight eigenpairs by Lanczos and a bulk from 4 SLQ probes of 30 steps: a few hundred Hessian-vector
products, never a $D \\times D$ matrix. The figure shows every eigenvalue, on a symmetric-log axis so
that the negative ones are visible: after 100 steps $\\theta^*$ is not an exact minimum. The spectral
model clips them to 0 (its sub-level sets are then ellipsoids, unbounded along flat directions) and
says how many it clipped.
"""),
    ("code", """
spec = SpectralModel.from_model(model, theta_star, theta0, X, y, k=8, n_probes=4, n_steps=30, seed=0,
                                progress=False)
print(spec)
ax = plot_spectrum(spec.raw_eigenvalues, weights=spec.multiplicities, label="Lanczos + SLQ groups")
"""),
    ("md", """
## Predicted and measured thresholds

Two levels, at 20% and 40% of the way from $L^*$ up to $L(\\theta_0)$. Each prediction draws its Monte
Carlo samples from (seed, level), so it does not change when other levels are added. The sweep measures
$d^*$ for random subspaces through the same $\\theta_0$ (seed 0 of the sweep is the $\\theta_0$ above),
on a grid of d spaced by $\\sqrt 2$ with 3 seeds.
"""),
    ("code", """
levels = L_star + np.array([0.2, 0.4]) * (L0 - L_star)
pred = prediction_table(spec, levels, n_samples=500, seed=0, label="random, t=0")
print(pred)
table = sweep(model, data, [16, 32, 64, 91, 128, 181, 256, 362, 512], seeds=3, progress=False, **protocol)
comparison = compare(pred, table, kind="random", t=0)
print(comparison.to_markdown())
ax = comparison.plot()
"""),
    ("md", """
**Reading.** The raw quadratic model predicts almost nothing: it puts $L(\\theta_0)$ far below the
measured value (next cell), so at these levels $\\theta_0$ is already inside, or nearly inside, the
model's sub-level set and $D - \\delta$ is tiny or 0 (a 0 stays on the figure: its axes are
symmetric-logarithmic). The measured thresholds are in the hundreds.

## Why: the loss on the line from $\\theta_0$ to $\\theta^*$

`interpolation_slice` evaluates the loss on $(1-\\alpha)\\theta_0 + \\alpha\\theta^*$. The quadratic
model's loss on the same line is the parabola $L^* + (1-\\alpha)^2 (L_q(\\theta_0) - L^*)$.
"""),
    ("code", """
path = interpolation_slice(model, theta0, theta_star, X, y, alphas=np.linspace(-0.25, 1.25, 61), progress=False)
alpha = path.coords[0]
ax = plot_loss_slice(path, eps=levels[1], label="network")
ax.plot(alpha, L_star + (1 - alpha) ** 2 * (spec.loss_at_theta0 - L_star), "--", color="0.4",
        label="quadratic model at theta*")
ax.legend(fontsize="small")
print(f"model L(theta0) = {spec.loss_at_theta0:.3f}, measured L(theta0) = {L0:.3f}")
"""),
    ("md", """
The network's loss falls steeply over the first quarter of the way and is nearly flat over the rest:
the curvature at $\\theta^*$ (the parabola) is far too small to account for the loss at $\\theta_0$
(0.70 under the model against 2.45 measured). The raw model's parabola stays below the higher level
$\\epsilon = 1.017$ all the way back to $\\theta_0$: it puts $\\theta_0$ inside that sub-level set, which is
why its raw prediction there was 0. `calibrated_levels` rescales the Hessian so that the model
reproduces the measured loss at $\\theta_0$, and predicts each level at the same fraction of the loss
drop.
"""),
    ("code", """
from landscape.theory.comparison import calibrated_levels
from landscape.plots import plot_threshold_vs_eps

calibrated = prediction_table(spec, calibrated_levels(spec, levels, L0), n_samples=500, seed=0)
comp_cal = compare(calibrated, table, levels=levels, kind="random", t=0, label="calibrated")
print(comp_cal.to_markdown())
for r in comp_cal.rows:
    side = "below" if r["measured"] < r["predicted"] else "above"
    inside = r["bracket_low"] <= r["predicted"] <= r["bracket_high"]
    print(f"eps = {r['eps']:.4f}: measured d* {r['measured']:.0f} is {side} the calibrated prediction "
          f"{r['predicted']:.0f} (ratio {r['ratio']:.2f}); the crossing lies between the tested d = "
          f"{r['bracket_low']:g} and {r['bracket_high']:g}, "
          + ("so the data cannot tell the two apart" if inside else "so the difference is resolved"))
ax = plot_threshold_vs_eps(levels, comp_cal.column("predicted"), comp_cal.column("predicted_stderr"),
                           comp_cal.column("measured"),
                           np.column_stack([comp_cal.column("measured_low"), comp_cal.column("measured_high")]),
                           gordon=comp_cal.column("gordon"))
"""),
    ("md", """
**Reading.** Calibrated, the model lands within about 25% of the measurements here, and errs both
ways: at the lower level the measured $d^*$ is above the prediction (ratio 1.24), at the higher one below
(0.83). Two effects pull in opposite directions. The quadratic model sees only the ellipsoidal basin of
$\\theta^*$, while the network's real sub-level set is larger (other minima, connected low-loss valleys),
so more subspaces reach it: this lowers the measured $d^*$. Training has a finite budget (100 steps here),
so a subspace that meets the sub-level set may not get there in time: this raises it, most at the lower,
harder level. In the demo (a hidden layer of 16, 300 steps, the README's table) the first effect wins at
every level and the measured thresholds are about half the calibrated predictions. The ratio is a check
of the model under one protocol, not a constant: compare predictions with measurements made with the same
budget.
"""),
]

DIRECT = [
    ("md", """
# 04 The width of the real sub-level set, measured directly

Notebook 03 predicts $d^*$ from a quadratic model of the loss around $\\theta^*$. Here the Gaussian
width of the network's *own* sub-level set $S(\\epsilon) = \\{L \\le \\epsilon\\}$, seen from $\\theta_0$, is
measured, and Gordon's $d^* \\gtrsim D - w^2$ is set beside the quadratic model and the measurement.

**Method** (`landscape.sublevel_width`). For a Gaussian direction $g$,
$\\sup_{\\theta\\in S}\\langle g, (\\theta-\\theta_0)/\\|\\theta-\\theta_0\\|\\rangle \\ge \\|g\\|\\cos\\alpha$ exactly when the
circular cone of half-angle $\\alpha$ around $g$, with apex $\\theta_0$, meets $S(\\epsilon)$. Whether it does
is a training problem, like subspace training with the subspace replaced by a cone: minimise $L$ over
$\\theta_0 + C(g, \\alpha)$ by projected gradient steps (the projection onto a circular cone has a closed
form). Bisection on $\\cos\\alpha$ gives the smallest angle per direction, to a tolerance of $10^{-3}$.
Since $\\|g\\|$ and $g/\\|g\\|$ are independent, $w = a_D\\,E\\cos\\alpha^*$ with $a_D = E\\|g\\|$.

**A lower bound.** A success is certified by a point of $S(\\epsilon)$; a failure may be the optimiser's.
So each value is a lower bound on the true supremum, and $D - w^2$ errs high. Subspace training, which
measures $d^*$, is biased the same way.
"""),
    ("md", "## Check on a quadratic well: the exact width of the projected ellipsoid\nSame Gaussian directions for both: sample by sample, the cone-training values sit just below the exact ones (within the bisection tolerance)."),
    ("code", """
import numpy as np
import matplotlib.pyplot as plt

from geometry import expected_norm
from landscape import QuadraticWell, sublevel_width
from landscape.models.spectra import power_law_spectrum

D = 200
well = QuadraticWell(power_law_spectrum(D, 1.0))
theta0 = np.random.default_rng(1000).standard_normal(D)
theta0 *= 3.0 / np.linalg.norm(theta0)
eps = 0.3 * well.loss(theta0)
G = np.random.default_rng(1001).standard_normal((16, D))
res = sublevel_width(well, eps, theta0, G=G, seed=0, executor="serial", progress=False)
exact = well.cone(theta0, eps).support(G)          # geometry: sup over the projected ellipsoid
exact_cos = exact / np.linalg.norm(G, axis=1)      # cos of the smallest angle, per direction
print(res)
print("largest gap in cos(alpha), exact - cone training:", float(np.max(exact_cos - res.cos_brackets[:, 0])))
print(f"width a_D E cos(alpha) on these directions: exact {expected_norm(D) * exact_cos.mean():.3f}, "
      f"cone training {res.width.value:.3f} ± {res.width.stderr:.3f}")
"""),
    ("md", "## The digits MLP: three predictions and the measurement, for each level"),
    ("code", """
from landscape.models.datasets import load_digits
from landscape.models import MLP
from landscape.experiments.training import train_full
from landscape.experiments.sweeps import sweep
from landscape.theory.spectral_model import SpectralModel
from landscape.theory.comparison import calibrated_levels, prediction_table
from landscape.thresholds import threshold_dimension
from landscape.plots import plot_threshold_predictions

data = load_digits(seed=0)
model = MLP([data.n_features, 8, data.n_classes])
D = model.n_params
protocol = dict(optimizer="momentum", lr=0.3, steps=100, batch_size=128)
full = train_full(model, data, seed=0, **protocol)
theta_star, theta0 = full.theta, full.theta - full.phi
X, y = data.X_train, data.y_train
L_star, L0 = model.loss(theta_star, X, y), model.loss(theta0, X, y)
levels = L_star + np.array([0.1, 0.2, 0.4]) * (L0 - L_star)

spec = SpectralModel.from_model(model, theta_star, theta0, X, y, k=8, n_probes=4, n_steps=30, seed=0)
raw = prediction_table(spec, levels, n_samples=500, seed=0)
calibrated = prediction_table(spec, calibrated_levels(spec, levels, L0), n_samples=500, seed=0)
direct = [sublevel_width(model, e, theta0, data=data, n_samples=6, seed=0, executor="serial", progress=False,
                         **protocol) for e in levels]
runs = sweep(model, data, [8, 16, 32, 64, 128, 256, 512], seeds=2, progress=False, **protocol)
measured = [threshold_dimension(runs, "train_loss", e, kind="random", t=0, seed=0) for e in levels]
print(f"D = {D}; model L(theta0) = {spec.loss_at_theta0:.3f}, measured L(theta0) = {L0:.3f}")
for e, r, c, w, m in zip(levels, raw.predictions, calibrated.predictions, direct, measured):
    print(f"eps = {e:.3f}: raw D-delta {r.kinematic:6.1f}, calibrated {c.kinematic:6.1f}, "
          f"direct D-w^2 {w.threshold.value:6.1f} ± {w.threshold.stderr:4.1f}, measured d* {m.value:6.1f} "
          f"[{m.ci[0]:.1f}, {m.ci[1]:.1f}], measured / direct {m.value / w.threshold.value:.2f}")
"""),
    ("code", """
ax = plot_threshold_predictions(
    levels,
    {r"quadratic model, raw $D-\\delta$": (raw.kinematic, [p.kinematic_stderr for p in raw.predictions]),
     r"quadratic model, calibrated $D-\\delta$": (calibrated.kinematic,
                                                  [p.kinematic_stderr for p in calibrated.predictions]),
     r"direct $D-w^2$ (real sub-level set)": ([w.threshold.value for w in direct],
                                              [w.threshold.stderr for w in direct])},
    measured=[m.value for m in measured], measured_ci=np.array([m.ci for m in measured]), D=D)
ax.set_title(f"digits MLP, D = {D}")
"""),
    ("md", """
Reading: Gordon's theorem makes $D - w^2$ a lower bound on $d^*$ for any set, tight for a convex one.
The direct estimate needs no model of the landscape and no calibration. Where the measured $d^*$ lies
above it, the real sub-level set is wide (its directions fill much of the sphere) but hard to hit with a
random subspace: it is far from convex. `benchmarks/RESULTS.md` has the full-size table (more directions,
burn-in points, a stronger optimiser for the cone tests).
"""),
]

METHODS = [
    ("md", """
# 06 Four ways of cutting the degrees of freedom: subspaces and lottery tickets

Larsen et al. (2022) compare the threshold training dimension of random subspaces with two more
elaborate ways of training fewer parameters:

* **random subspaces** $\\theta = \\theta_0 + A\\phi$, $A$ a random $D \\times d$ frame, and **burn-in subspaces**
  through $\\theta_t$, the point after $t$ full-space steps;
* **lottery subspaces**: $A$ spans the top-$d$ singular directions of the steps of a full training run;
* **lottery tickets**: pre-train, keep the $k$ weights of largest magnitude (global magnitude pruning),
  rewind the kept weights to $\\theta_0$ and retrain them with the others fixed at 0.

A mask $m$ is also a way of restricting training to a subspace: $m \\odot \\theta = m \\odot \\theta_0 + P\\phi$, with
$P$ selecting the kept coordinates, an axis-aligned subspace of dimension $\\mathrm{nnz}(m)$. So all four
methods are measured in one unit, the number $d$ of trainable degrees of freedom, and their thresholds
$d^*$ at a level $\\epsilon$ compare directly. The known result: lottery subspaces beat random ones by
a wide margin, because the directions a full run moves along are the ones that matter.

Sizes are small so that the notebook runs in the test suite (`benchmarks/methods_fashion_mnist.py`
runs Conv-2 on Fashion-MNIST at the paper's protocol).
"""),
    ("code", """
import numpy as np
import matplotlib.pyplot as plt

from landscape.models.datasets import load_digits
from landscape.models import MLP
from landscape.experiments.run_table import RunTable
from landscape.experiments.sweeps import sweep
from landscape.experiments.lottery_tickets import TicketProtocol, train_ticket, ticket_dimensions
from landscape.subspaces.masks import magnitude_mask, prunable_parameters
from landscape.thresholds.methods import method_thresholds
from landscape.plots import plot_methods

data = load_digits(seed=0)
model = MLP([data.n_features, 8, data.n_classes])
D = model.n_params
print("D =", D, "| prunable weights:", prunable_parameters(model).sum(), "| biases (always free):",
      D - prunable_parameters(model).sum())
"""),
    ("md", """
## The mask: exactly the top fraction by magnitude

`magnitude_mask` keeps exactly $k = \\lceil f\\,n \\rceil$ of the $n$ prunable coordinates, those of largest
$|\\theta_i|$; equal magnitudes are ranked by position (lower index first), so the mask is unique.
"""),
    ("code", """
theta = np.array([0.5, -3.0, 0.1, 2.0, -2.0, 0.0])
print(magnitude_mask(theta, keep=0.5))   # 3 of 6: -3.0, 2.0 and -2.0
print(magnitude_mask(theta, n_keep=2))   # -3.0, then the tie |2.0| = |-2.0| goes to the lower index
print("free parameters of the reference keep fractions:", ticket_dimensions(model))
"""),
    ("md", """
## One lottery ticket

The defaults follow the reference code: 2 epochs of momentum SGD (lr 0.05) before pruning, L2 $10^{-4}$
on parameter arrays with ndim > 2 (none in an MLP), rewind to $\\theta_0$, retraining with momentum 0.9 and
the learning rate 0.1 / 0.03 / 0.01 / 0.003 at steps 400 / 800 / 1200. Every knob is recorded with the run.
"""),
    ("code", """
protocol = dict(optimizer="momentum", lr=0.3, steps=100, batch_size=128)
ticket = train_ticket(model, data, keep=0.25, steps=100, batch_size=128, seed=0)
print(ticket)
p = ticket.protocol
print(f"free parameters d = {p['d']} of D = {p['D']} (compression {p['compression']:.2f}), keep = {p['keep']:.3f} "
      f"of {p['n_prunable']} weights, pre-training {p['pretrain_steps']} steps, optimizer {p['optimizer']}")
print(f"train acc {ticket.metrics['train_acc']:.3f}, test acc {ticket.metrics['test_acc']:.3f}; "
      f"dense pre-trained net: {ticket.metrics['pretrain_train_acc']:.3f}")
"""),
    ("md", "## The four methods on one grid of d"),
    ("code", """
ds = [4, 8, 16, 32, 64, 128, 256]
subspaces = sweep(model, data, ds, seeds=3, kinds=("random",), burn_in=(0, 10), progress=False, **protocol)
others = sweep(model, data, ds, seeds=3, kinds=("lottery", "ticket"), include_full=False, progress=False,
               **protocol)
table = RunTable.concat([subspaces, others])
print(table)
"""),
    ("code", """
level = 0.8   # success: final training accuracy >= 80%
fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.4))
plot_methods(table, level, ax=a1)
plot_methods(table, level, ax=a2, y="metric")
ests = method_thresholds(table, "train_acc", level)
for label, est in ests.items():
    print(f"{label:>24}: {est}")
"""),
    ("md", """
Reading the figure: lottery subspaces reach the level at the smallest $d$ tested, far below random
subspaces (the known result). Burn-in moves random subspaces towards them. Lottery tickets, at this
small budget, need about as many free parameters as random subspaces need dimensions: their $d$ starts
at the number of biases, which stay free (`TicketProtocol(prunable="all")` prunes them too, as the
reference code does), and their subspace is axis-aligned and chosen from magnitudes alone.
"""),
    ("code", """
rnd, lot = ests["random subspace"], ests["lottery subspace"]
print(f"random subspaces need d* in {rnd.bracket}, lottery subspaces d* in {lot.bracket}")
assert lot.bracket[1] <= rnd.bracket[0] / 4   # a wide margin, at these small settings too
"""),
]

EFFDIM = [
    ("md", """
# 05 Five answers to "how many parameters matter?"

For one trained model with $D$ parameters, five numbers, each a defensible answer:

| measure | what it counts | depends on |
|---|---|---|
| measured $d^*(\\epsilon)$ | dimensions a random subspace through $\\theta_0$ needs to reach loss $\\epsilon$ | $\\epsilon$, $\\theta_0$, the optimiser |
| $D - \\delta(K_\\epsilon)$ | the same, predicted by the kinematic formula for the quadratic model around $\\theta^*$ | $\\epsilon$, $\\theta_0$, $H$ |
| $D - w^2$ | Gordon's bound from the width of the model's own sub-level set | $\\epsilon$, $\\theta_0$ |
| $2\\hat\\lambda$ | twice the local learning coefficient: the effective parameter count of Bayesian free energy | $\\theta^*$, $n\\beta$, $\\gamma$ |
| effective ranks of $H$ | directions in which the loss curves at $\\theta^*$ | $\\theta^*$ (and a cut-off) |

The first three ask *how large the set of good parameters looks from the starting point*; the last two
ask *how many directions are constrained at the minimum*. `landscape.effective_dimensions` computes all
of them for one model (`landscape.plots.plot_effective_dimensions` draws them). Sizes are small so that
the notebook runs in the test suite.
"""),
    ("code", """
import math
import numpy as np
import matplotlib.pyplot as plt

from landscape import (QuadraticWell, ProductRegression, effective_dimensions, effective_ranks,
                       learning_coefficient, quadratic_learning_coefficient, product_learning_coefficient)
from landscape.models.spectra import two_level_spectrum
"""),
    ("md", """
## A quadratic well, where every answer is known

$D = 60$: 15 stiff directions (curvature 1) and 45 soft ones (0.01). For a quadratic loss the localised
tempered posterior is Gaussian and the learning coefficient is exact:
$2\\lambda = \\sum_i n\\beta h_i / (n\\beta h_i + \\gamma)$, a *soft rank*: a direction counts fully when its
curvature $n\\beta h_i$ beats the localisation $\\gamma$, and by $n\\beta h_i/\\gamma$ when it does not.
"""),
    ("code", """
D = 60
lam = two_level_spectrum(D, 15, stiff=1.0, soft=0.01)
well = QuadraticWell(lam)
rng = np.random.default_rng(1000)
theta0 = rng.standard_normal(D)
theta0 *= 3.0 / np.linalg.norm(theta0)
L0 = well.loss(theta0)
levels = [0.1 * L0, 0.2 * L0, 0.4 * L0]
n = 2000
# the flattest direction (curvature n*beta*0.01 + gamma) needs ~ 3 / (step * 3.6) steps to equilibrate:
# 12000 steps with a 4000-step burn-in at the automatic step 0.1 / (n*beta*h_max + gamma)
table = effective_dimensions(well, theta0, well.minimum, levels, n=n, n_trials=60, width_samples=6,
                             llc_options=dict(gamma=1.0, n_chains=6, n_steps=12000, n_burnin=4000),
                             n_samples=600, seed=0, progress=False, label="two-level well")
nbeta = n / math.log(n)
llc = table.llc
print(table.describe())
print(f"2 lambda: SGLD {llc.dimension:.2f} ± {2 * llc.stderr:.2f}, exact {2 * quadratic_learning_coefficient(lam, nbeta, 1.0):.2f}, "
      f"exact for SGLD at this step and burn-in "
      f"{2 * quadratic_learning_coefficient(lam, nbeta, 1.0, step_size=llc.step_size, n_steps=12000, n_burnin=4000):.2f}")
table.to_dataframe()[["eps", "d_star", "D_minus_delta", "D_minus_w2", "two_llc", "rank_threshold",
                      "participation_ratio", "entropy_rank"]].round(2)
"""),
    ("code", """
ax = table.plot()
ax.set_title("two-level well, D = 60")
"""),
    ("md", """
The measured $d^*$ falls as $\\epsilon$ grows, and $D - \\delta$ and $D - w^2$ follow it: on a well the sub-level
set is an ellipsoid, convex, and both predictions are exact up to $O(\\sqrt D)$. $2\\hat\\lambda$ and the ranks
are flat lines: they do not know $\\epsilon$. The threshold count (eigenvalues above 1% of the largest) is 60,
since 0.01 is exactly at the cut-off; the participation ratio and entropy rank weigh the 45 soft
directions less. Nothing forces these numbers to agree with $d^*$: they answer another question.

## $d^*$ depends on where training starts; $\\lambda$ does not

Move $\\theta_0$ halfway to the minimum (what burn-in does) and ask for the same loss levels: the
thresholds fall, while the learning coefficient and the ranks, properties of $\\theta^*$, cannot move.
"""),
    ("code", """
near = effective_dimensions(well, 0.5 * theta0, well.minimum, levels[:2], n=n, n_trials=60, width_samples=0,
                            llc=table.llc, n_samples=600, seed=0, progress=False)
for far_row, near_row in zip(table.rows, near.rows):
    print(f"eps = {far_row['eps']:.3f}: d* = {far_row['d_star']:5.1f} from distance 3, "
          f"{near_row['d_star']:5.1f} from distance 1.5 (D - delta {far_row['D_minus_delta']:.1f} and "
          f"{near_row['D_minus_delta']:.1f}); 2 lambda {far_row['two_llc']:.1f} and {near_row['two_llc']:.1f}")
"""),
    ("md", """
## $\\lambda$ depends on the temperature and the localisation

At a fixed $\\theta^*$ the LLC still moves with $n\\beta$ and $\\gamma$: with weak localisation (or many samples)
every direction of positive curvature counts and $2\\lambda \\to \\mathrm{rank}(H) = 60$; with strong
localisation only the stiff directions count. SGLD estimates (points, 95% intervals) against the exact curve
(the step size 0.1 / (n*beta*h_max + gamma) biases them up by at most 2.6%).
"""),
    ("code", """
gammas = np.geomspace(1e-2, 1e3, 60)
fig, ax = plt.subplots(figsize=(6, 3.8))
ax.semilogx(gammas, [2 * quadratic_learning_coefficient(lam, nbeta, g) for g in gammas], label=r"exact $2\\lambda$")
for g in (1.0, 10.0, 100.0):
    step = 0.1 / (nbeta * lam.max() + g)
    settle = int(3 / (step * (nbeta * lam.min() + g)))     # steps to forget the start along the flattest axis
    res = learning_coefficient(well, well.minimum, n=n, gamma=g, step_size=step, n_chains=6,
                               n_steps=max(2000, 8 * settle), n_burnin=settle, seed=1, progress=False)
    lo, hi = res.ci()
    ax.errorbar([g], [res.dimension], yerr=[[res.dimension - 2 * lo], [2 * hi - res.dimension]], fmt="o",
                color="k", capsize=3)
ax.axhline(15, ls="--", color="0.5", label="15 stiff directions")
ax.set_xlabel(r"localisation $\\gamma$")
ax.set_ylabel(r"$2\\lambda$")
ax.legend(fontsize="small")
"""),
    ("md", """
## Where the Hessian sees nothing: a singular model

$f(x) = abx$ with true product 0 has two parameters, a zero Hessian at $(0, 0)$ (every effective rank is 0)
and learning coefficient $\\lambda = 1/2$: one effective parameter, not two and not zero. At finite $n$ the
localised value approaches $1/2$ slowly from below, $1/2 - \\lambda \\approx 1/\\log(n\\beta/\\gamma^2)$, the
signature of a singularity with multiplicity 2 (`product_learning_coefficient` is the exact integral).
"""),
    ("code", """
model = ProductRegression()
gamma = 2.0
rows = []
for n_toy in (20, 200, 2000):
    X, y = model.sample(n_toy, seed=1000 + n_toy)
    s = float(X[:, 0] @ X[:, 0]) / n_toy
    nb = n_toy / math.log(n_toy)
    r = nb * s / gamma ** 2
    step = 0.1 / (gamma * (9 * r + 1))
    res = learning_coefficient(model, np.zeros(2), data=(X, y), gamma=gamma, step_size=step, n_chains=32,
                               n_steps=int(6 / (step * gamma)), n_burnin=int(1 / (step * gamma)), seed=0,
                               progress=False)
    rows.append((n_toy, product_learning_coefficient(nb, gamma, s), res.value, res.stderr))
    print(f"n = {n_toy:5d}: exact localised lambda = {rows[-1][1]:.3f}, SGLD {res.value:.3f} ± {res.stderr:.3f}")
H = np.array([model.hvp(np.zeros(2), X, y, v) for v in np.eye(2)])
print("Hessian at 0:", H.tolist())
ns = np.geomspace(10, 1e12, 50)
fig, ax = plt.subplots(figsize=(6, 3.6))
ax.semilogx(ns, [product_learning_coefficient(m / math.log(m), gamma) for m in ns], label="exact (localised)")
ax.errorbar([r[0] for r in rows], [r[2] for r in rows], yerr=[2 * r[3] for r in rows], fmt="o", color="k",
            label="SGLD")
ax.axhline(0.5, ls="--", color="0.5", label=r"$\\lambda = 1/2$")
ax.set_xlabel("n")
ax.set_ylabel(r"$\\hat\\lambda$")
ax.legend(fontsize="small")
"""),
    ("md", """
## A small network

An MLP on scikit-learn's digits, trained in full space; a short sweep of subspace training measures $d^*$.
The ranks come from Lanczos and stochastic Lanczos quadrature on the Hessian at $\\theta^*$, the LLC from
four SGLD chains.
"""),
    ("code", """
from landscape import MLP, load_digits, train_full

data = load_digits(seed=0)
net = MLP([data.n_features, 8, data.n_classes])
proto = dict(optimizer="momentum", lr=0.3, steps=300, batch_size=128)
full = train_full(net, data, seed=0, **proto)
theta_star, theta_0 = full.theta, full.theta - full.phi
L_star = net.loss(theta_star, data.X_train, data.y_train)
L_0 = net.loss(theta_0, data.X_train, data.y_train)
net_levels = [L_star + f * (L_0 - L_star) for f in (0.1, 0.3)]
dims = effective_dimensions(net, theta_0, theta_star, net_levels, data=data, ds=[8, 16, 32, 64, 128, 256, 512],
                            seeds=2, train=proto, sweep_options=dict(executor="serial"),
                            hessian=dict(k=10, n_probes=4, n_steps=30), width_samples=3,
                            llc_options=dict(n_steps=600, n_burnin=200), n_samples=500, seed=0, progress=False)
print(dims.describe())
print(dims.to_markdown())
ax = dims.plot()
ax.set_title(f"digits MLP, D = {dims.D}")
"""),
    ("code", """
n_train = data.n_train
nbeta_net = n_train / math.log(n_train)
h_max = float(dims.spectral.eigenvalues.max())
for g in (100.0, 30.0, 10.0):
    step = 0.1 / (nbeta_net * h_max + g)
    settle = int(3 / (step * g))                          # flat directions forget the start in ~ 3 / (step gamma)
    r = learning_coefficient(net, theta_star, data=data, gamma=g, step_size=step, n_steps=max(600, 8 * settle),
                             n_burnin=settle, seed=0, progress=False)
    stiff = int(dims.spectral.multiplicities[nbeta_net * dims.spectral.eigenvalues > g].sum())
    print(f"gamma = {g:5g}: 2 lambda = {r.dimension:6.1f} ± {2 * r.stderr:.1f}  (R-hat {r.rhat:.3f}, "
          f"{r.loss_traces.shape[1]} steps); eigenvalues with n*beta*h > gamma: {stiff}")
"""),
    ("md", """
Reading: at a trained network the loss is nearly flat (the cross-entropy's Hessian shrinks as the fit
improves), so at the default temperature $n\\beta = n/\\log n$ few directions have curvature $n\\beta h_i$ above
$\\gamma$, and $2\\hat\\lambda$ is set by the localisation: it grows as $\\gamma$ falls. With weaker
localisation the chains wander further from $\\theta^*$, into a landscape that is no longer quadratic, and
mix more slowly (the split $\\hat R$ above 1.1 at $\\gamma = 10$ says so: longer chains would be needed). The Hessian's ranks count
directions by their curvature relative to the largest one, whatever its size. $d^*$, $D - \\delta$ and
$D - w^2$ count something else again: the dimensions a random subspace needs to reach a loss level from
$\\theta_0$, which depends on how far $\\theta_0$ is and how wide the low-loss region is. The demo
(`python -m landscape demo`, part 4) has the full-size table.
"""),
]

NOTEBOOKS = {
    "01": ("01_quadratic_wells.ipynb", QUADRATIC),
    "02": ("02_network_thresholds.ipynb", NETWORKS),
    "03": ("03_theory_vs_experiment.ipynb", THEORY),
    "04": ("04_direct_widths.ipynb", DIRECT),
    "05": ("05_effective_dimensions.ipynb", EFFDIM),
    "06": ("06_method_comparison.ipynb", METHODS),
}

if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    for key in args or sorted(NOTEBOOKS):
        name, cells = NOTEBOOKS[key]
        print(f"building {name}", flush=True)
        build(name, cells, execute="--no-execute" not in sys.argv)
