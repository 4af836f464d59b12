"""Build the notebooks from the cell sources below (run: python notebooks/_make_notebooks.py).

The .ipynb files are committed without outputs; the test suite executes them (nbmake).
"""
import os

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = os.path.dirname(os.path.abspath(__file__))


def build(name, cells):
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [new_markdown_cell(src.strip()) if kind == "md" else new_code_cell(src.strip())
                for kind, src in cells]
    nbformat.write(nb, os.path.join(HERE, name))


QUADRATIC = [
    ("md", """
# 01 Quadratic wells: exact phase transitions of random-subspace training

A quadratic well $L(\\theta) = L^* + \\tfrac12(\\theta-\\theta^*)^T H(\\theta-\\theta^*)$ is where the
theory can be checked with no training noise: whether the affine subspace $\\theta_0 + \\mathrm{range}(A)$
reaches the sub-level set $S(\\epsilon)=\\{L\\le\\epsilon\\}$ is a least-squares problem. The geometry predicts
the threshold $d^* \\approx D - \\delta(K)$, with $K$ the cone of directions from $\\theta_0$ into $S(\\epsilon)$
(kinematic formula), and Gordon's theorem guarantees failure for $d \\lesssim D - w^2$.

Sizes are small so that the notebook runs in the test suite; raise `D` and `n_trials` for sharper pictures.
"""),
    ("code", """
import numpy as np
import matplotlib.pyplot as plt

import geometry as g
from landscape import QuadraticWell, predicted_threshold, predicted_success_curve
from landscape.models.spectra import flat_spectrum, power_law_spectrum, two_level_spectrum
from landscape.thresholds.ground_truth import empirical_success_probability, empirical_threshold
from landscape.plots import plot_success_curve, plot_sublevel_set_2d, plot_threshold_vs_eps
"""),
    ("md", "## The picture in two dimensions\nA random line through $\\theta_0$ either meets the green sub-level set or misses it."),
    ("code", """
well2 = QuadraticWell([1.0, 0.05])
ax = plot_sublevel_set_2d(well2, theta0=np.array([1.5, 1.0]), eps=0.04)
"""),
    ("md", "## One well, one level: predicted curve vs exact experiment"),
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
print(pred.threshold)
print("measured d*:", empirical_threshold(emp, seed=0))
ax = plot_success_curve(ds[1:], emp.successes, 100, prediction=pred)
"""),
    ("md", "## Thresholds fall as the level rises, and as $\\theta_0$ approaches the minimum (burn-in)"),
    ("code", """
levels = np.array([0.2, 0.35, 0.5, 0.7]) * well.loss(theta0)
preds = predicted_threshold(well, theta0, eps=levels, n_samples=1000, seed=0)
measured = [empirical_threshold(empirical_success_probability(well, theta0, e, ds[1:], 60, seed=2), seed=0)
            for e in levels]
ax = plot_threshold_vs_eps(levels, [p.kinematic for p in preds], [p.kinematic_stderr for p in preds],
                           [m.value for m in measured], np.array([m.ci for m in measured]),
                           gordon=[p.gordon for p in preds])

for scale in (1.0, 0.8, 0.6):
    p = predicted_threshold(well, scale * theta0, eps=levels[1], n_samples=1000, seed=0)
    print(f"theta0 scaled by {scale}: D - delta = {p.kinematic:.1f}")
"""),
    ("md", "## Spectra: flat, power law, two-level\nMore small eigenvalues mean wider sub-level sets and smaller thresholds."),
    ("code", """
spectra = {"flat": flat_spectrum(D), "power law": power_law_spectrum(D, 1.0),
           "two-level": two_level_spectrum(D, 10, stiff=1.0, soft=1e-2)}
for name, lam in spectra.items():
    w = QuadraticWell(lam)
    e = 0.35 * w.loss(theta0)
    p = predicted_threshold(w, theta0, eps=e, n_samples=1000, seed=0)
    print(f"{name:>10}: D - delta = {p.kinematic:6.1f}, Gordon: fails for d <= {p.gordon}")
"""),
    ("md", "## Geometry directly\nThe same numbers from `geometry`, for a ball seen from outside (a circular cone) and the estimators' result objects."),
    ("code", """
K = g.directions_from(g.Ball(D, radius=1.0, center=np.r_[2.0, np.zeros(D - 1)]), np.zeros(D))
print(g.statistical_dimension(K, 2000, seed=0))
print(g.statistical_dimension(g.CircularCone(D, np.arcsin(0.5))))
print(g.gaussian_width(K, 2000, seed=0))
"""),
]

NETWORKS = [
    ("md", """
# 02 Networks: subspace training, thresholds, burn-in and lottery subspaces

A small MLP on scikit-learn's digits is trained only inside d-dimensional affine subspaces
$\\theta = \\theta_s + A\\phi$: random subspaces through the initialisation $\\theta_0$, random subspaces
through a burn-in point $\\theta_t$ (t full-space steps first), and lottery subspaces (spanned by the
top singular directions of a full training trajectory). The success probability jumps from 0 to 1
at a threshold $d^*$, estimated with a bootstrap interval over seeds.

Sizes are small so that the notebook runs in the test suite (`landscape.digits_experiment` has the
full-size defaults).
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
    ("md", "## Success probability against d (log axis), per kind of subspace"),
    ("code", """
level = 0.8   # success: final training accuracy >= 80%
fig, ax = plt.subplots()
for (kind, t), color in zip([("random", 0), ("random", 10), ("lottery", 0)], ["C0", "C1", "C2"]):
    cur = success_probability(table, "train_acc", level, kind=kind, t=t)
    plot_success_curve(cur.ds, cur.successes, cur.n_trials, log_d=True, ax=ax, color=color,
                       label=f"{kind}, t={t}")
"""),
    ("md", "## Thresholds with bootstrap intervals over seeds"),
    ("code", """
for kind, t in [("random", 0), ("random", 10), ("lottery", 0)]:
    est = threshold_dimension(table, "train_acc", level, kind=kind, t=t, seed=0)
    print(f"{kind:>8}, t={t:>2}: d* = {est.value:7.1f}  95% CI [{est.ci[0]:.1f}, {est.ci[1]:.1f}]  bracket {est.bracket}")
"""),
    ("md", "## Burn-in: the threshold against the number of full-space steps t\nThe subspace goes through $\\theta_t$; more burn-in, smaller $d^*$."),
    ("code", """
ts = [0, 5, 10, 20]
burn = sweep(model, data, ds, seeds=3, burn_in=ts, include_full=False, progress=False, **protocol)
ests = [threshold_dimension(burn, "train_acc", level, kind="random", t=t, seed=0) for t in ts]
ax = plot_threshold_vs_burn_in(ts, [e.value for e in ests], ci=np.array([e.ci for e in ests]))
ax.set_yscale("log", base=2)
"""),
]

THEORY = [
    ("md", """
# 03 Theory vs experiment: from the Hessian to a predicted $d^*$

Train the digits MLP to $\\theta^*$, model the loss there by its Hessian (top eigenpairs by Lanczos,
the bulk by stochastic Lanczos quadrature, grouped into eigenvalue groups), and predict the threshold
dimension of random subspaces through $\\theta_0$ from the geometry of the model's sub-level sets:
$d^* \\approx D - \\delta$ (kinematic formula) and Gordon's lower bound. Then measure $d^*$ by subspace
training and compare. The quadratic model ignores that the landscape between $\\theta_0$ and
$\\theta^*$ is not quadratic, and training has a finite budget: the report says how far apart they are.
"""),
    ("code", """
import numpy as np
import matplotlib.pyplot as plt

from landscape.models.datasets import load_digits
from landscape.models import MLP
from landscape.experiments.training import train_full
from landscape.theory.spectral_model import SpectralModel
from landscape.experiments.sweeps import sweep
from landscape import prediction_table, compare
from landscape.plots import plot_spectrum

data = load_digits(seed=0)
model = MLP([data.n_features, 8, data.n_classes])
protocol = dict(optimizer="momentum", lr=0.3, steps=100, batch_size=128)
full = train_full(model, data, seed=0, **protocol)
theta_star, theta0 = full.theta, full.theta - full.phi
X, y = data.X_train, data.y_train
L_star, L0 = model.loss(theta_star, X, y), model.loss(theta0, X, y)
print(f"D = {model.n_params}, L(theta0) = {L0:.3f}, L* = {L_star:.4f}")
"""),
    ("md", "## Hessian spectrum at $\\theta^*$"),
    ("code", """
spec = SpectralModel.from_model(model, theta_star, theta0, X, y, k=8, n_probes=4, n_steps=30, seed=0)
print(spec)
ax = plot_spectrum(spec.eigenvalues, weights=spec.multiplicities, label="Lanczos + SLQ groups")
"""),
    ("md", "## Predicted and measured thresholds"),
    ("code", """
levels = L_star + np.array([0.2, 0.4]) * (L0 - L_star)
pred = prediction_table(spec, levels, n_samples=500, seed=0, label="random, t=0")
print(pred)
table = sweep(model, data, [8, 32, 128, 512], seeds=2, progress=False, **protocol)
comparison = compare(pred, table, kind="random", t=0)
print(comparison.to_markdown())
ax = comparison.plot()
"""),
    ("md", """
The raw quadratic model gets the loss at $\\theta_0$ wrong (compare `spec.loss_at_theta0` with `L0`);
`calibrated_levels` rescales the Hessian so that the model reproduces the measured loss there, and
predicts each level at the same fraction of the loss drop.
"""),
    ("code", """
from landscape.theory.comparison import calibrated_levels
from landscape.plots import plot_threshold_vs_eps

print(f"model L(theta0) = {spec.loss_at_theta0:.3f}, measured L(theta0) = {L0:.3f}")
calibrated = prediction_table(spec, calibrated_levels(spec, levels, L0), n_samples=500, seed=0)
comp_cal = compare(calibrated, table, levels=levels, kind="random", t=0, label="calibrated")
print(comp_cal.to_markdown())
ax = plot_threshold_vs_eps(levels, comp_cal.column("predicted"), comp_cal.column("predicted_stderr"),
                           comp_cal.column("measured"),
                           np.column_stack([comp_cal.column("measured_low"), comp_cal.column("measured_high")]),
                           gordon=comp_cal.column("gordon"))
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
ests = method_thresholds(table, "train_acc", level, seed=0)
for label, est in ests.items():
    print(f"{label:>24}: d* = {est.value:7.1f}  95% CI [{est.ci[0]:.1f}, {est.ci[1]:.1f}]  between tested d {est.bracket}")
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

if __name__ == "__main__":
    build("01_quadratic_wells.ipynb", QUADRATIC)
    build("02_network_thresholds.ipynb", NETWORKS)
    build("03_theory_vs_experiment.ipynb", THEORY)
    build("04_direct_widths.ipynb", DIRECT)
    build("06_method_comparison.ipynb", METHODS)
