"""Acceptance of the quadratic-well issue: predictions from geometry against exact experiments.

For a quadratic well the success of a random subspace is decided exactly by least squares
(landscape.thresholds.ground_truth), so the predicted curve P_s(d) (kinematic formula with estimated
conic intrinsic volumes), the kinematic threshold D - delta and Gordon's bound can be
checked against measurement with no training noise.

Tolerances: with n = 600 Haar subspaces per d, the empirical rate has standard error at
most 0.5 / sqrt(600) = 0.020; the predicted curve (penalised NNLS on 5000 projection
samples) has a Monte Carlo standard deviation of about 0.015 at the steepest point of a
sharp transition (measured over 8 seeds on the flat well at eps = 2.25, where the exact
curve is known: the cone is circular). The required agreement of 0.1 is 4 standard
deviations of the difference. (With the issue's minimum of 100 subspaces per d the
empirical standard error alone is 0.05, and a 0.1 bound at a transition point would fail
by chance in about 5% of comparisons, which is why more subspaces are used.) The threshold must lie within sqrt(D) = 20 of D - delta
(the ALMT transition width is O(sqrt(D))).
"""
import numpy as np
import pytest

from geometry import gordon_escape_probability
from landscape.models.quadratic import QuadraticWell
from landscape.models.spectra import (
    flat_spectrum,
    power_law_spectrum,
    two_level_spectrum,
)
from landscape.theory.predict import predicted_success_curve, predicted_threshold
from landscape.thresholds.ground_truth import (
    empirical_success_probability,
    empirical_threshold,
)

D = 400
N_TRIALS = 600
DS = np.unique(np.r_[np.arange(0, 40, 4), np.arange(40, D + 1, 20)])  # finer where thresholds are small
SPECTRA = {
    "flat": flat_spectrum(D),
    "power-law": power_law_spectrum(D, 1.0),
    "two-level": two_level_spectrum(D, 20, stiff=1.0, soft=1e-2),
}


def _theta0(distance):
    v = np.random.default_rng(1000).standard_normal(D)  # data seed, distinct from estimator seeds
    return v * (distance / np.linalg.norm(v))


def _run(well, theta0, eps, seed):
    pred = predicted_success_curve(well, theta0, eps, ds=DS, n_samples=5000, seed=seed, n_bootstrap=0)
    emp = empirical_success_probability(well, theta0, eps, DS[1:], N_TRIALS, seed=seed + 100)
    return pred, emp


@pytest.mark.parametrize("name", list(SPECTRA))
def test_predicted_curve_and_threshold_match_exact_experiment(name):
    well = QuadraticWell(SPECTRA[name])
    L0 = float(well.loss(_theta0(3.0)))
    thresholds = {}
    for i, frac in enumerate((0.2, 0.5)):          # two loss levels (absolute, fixed per spectrum)
        eps = frac * L0
        for j, distance in enumerate((3.0, 2.4)):   # two distances of theta0 from the minimum
            theta0 = _theta0(distance)
            pred, emp = _run(well, theta0, eps, seed=10 * i + j)
            p_grid = pred.probability[1:]
            gap = np.abs(p_grid - emp.rates)
            assert gap.max() <= 0.1, (name, eps, distance, gap.max(), DS[1:][gap.argmax()])
            measured = empirical_threshold(emp, interval=False).value
            assert abs(measured - pred.threshold.kinematic) <= np.sqrt(D), (name, eps, distance, measured,
                                                                            pred.threshold.kinematic)
            thresholds[frac, distance] = (measured, pred.threshold.kinematic)

            # Gordon is never contradicted: where it guarantees failure with probability >= 1 - q,
            # the measured success rate is <= q plus 3 binomial standard errors.
            width_upper = pred.threshold.width.ci(0.99)[1]
            bound = gordon_escape_probability(width_upper, D - DS[1:])   # P(miss) >= bound
            q = 1.0 - bound
            se = np.sqrt(np.maximum(q * (1 - q), 1e-4) / N_TRIALS)
            assert np.all(emp.rates <= q + 3 * se + 1e-12)
    # monotone trends, measured and predicted: larger eps -> smaller d*; closer theta0 -> smaller d*
    for distance in (3.0, 2.4):
        for k in (0, 1):
            assert thresholds[0.5, distance][k] < thresholds[0.2, distance][k]
    for frac in (0.2, 0.5):
        for k in (0, 1):
            assert thresholds[frac, 2.4][k] < thresholds[frac, 3.0][k]


def test_theta0_inside_sublevel_set_gives_zero_threshold():
    well = QuadraticWell(SPECTRA["power-law"])
    theta0 = _theta0(1.0)
    eps = 2.0 * float(well.loss(theta0))
    pred = predicted_threshold(well, theta0, eps, n_samples=200, seed=0)
    assert pred.kinematic == 0.0 and pred.gordon == 0
    emp = empirical_success_probability(well, theta0, eps, [0, 1, 5], 20, seed=1)
    assert np.all(emp.rates == 1.0)


def test_gordon_bound_is_a_lower_bound_on_the_kinematic_threshold():
    # Gordon's guarantee (one-sided) never exceeds the two-sided kinematic prediction
    for lam in SPECTRA.values():
        well = QuadraticWell(lam)
        theta0 = _theta0(3.0)
        for frac in (0.1, 0.3, 0.6):
            p = predicted_threshold(well, theta0, frac * float(well.loss(theta0)), n_samples=500, seed=3)
            assert p.gordon <= p.kinematic + 3 * p.kinematic_stderr
            assert p.kinematic_window[0] <= p.kinematic <= p.kinematic_window[1]
