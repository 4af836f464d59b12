r"""Stage 4, thresholds: the measured threshold training dimension d*.

In: run tables (:mod:`landscape.experiments`), or a quadratic well whose subspace minimum is
known exactly.
Out: success curves :math:`P_s(d)` and thresholds :math:`d^*` with confidence intervals.
Asks: experiments for run tables; models and subspaces for the exact ground truth.

Modules: ``measured`` (d* from runs of any model: Larsen et al.'s success-fraction crossing),
``intrinsic`` (Li et al.'s d_int90: the mean metric reaching a fraction of a baseline), ``adaptive``
(an adaptive search that chooses the next d to test), ``methods`` (d* of
every method of a sweep -- random, burn-in and lottery subspaces, lottery tickets -- in one unit), ``ground_truth`` (exact success of random
subspaces on a quadratic well, decided by least squares, no training).
"""
from .._lazy import attach

_EXPORTS = {
    "SuccessCurve": "measured",
    "ThresholdEstimate": "measured",
    "success_probability": "measured",
    "success_matrix": "measured",
    "threshold_dimension": "measured",
    "method_thresholds": "methods",
    "method_groups": "methods",
    "method_label": "methods",
    "METHOD_ORDER": "methods",
    "intrinsic_dimension": "intrinsic",
    "MeanMetricCurve": "intrinsic",
    "adaptive_threshold": "adaptive",
    "AdaptiveSearch": "adaptive",
    "TrainingRun": "adaptive",
    "empirical_success_probability": "ground_truth",
    "empirical_threshold": "ground_truth",
    "wilson_interval": "binomial",
    "EmpiricalSuccess": "ground_truth",
    "EmpiricalThreshold": "ground_truth",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
